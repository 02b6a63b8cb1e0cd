"""Second derivatives of functions that index, stack, concatenate and rearrange arrays:
the gradient's code calls runtime helpers (unindex, unstack, unconcatenate, uncumsum,
...) whose own rules differentiate it again. hvp and hessian use their tangent rules,
grad(grad(f)) and gradient penalties their adjoint rules; each is checked against
autograd and against central differences of the compiled gradient."""

import sys
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import assert_gradient_penalty_matches_autograd

import adcompile as ad

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzzcheck  # noqa: E402

PICKS = np.array([0, 2, 2, 4])  # an integer array index, with a repeat
FEATURES = np.random.default_rng(11).normal(size=(4, 3))
LABELS = np.array([0, 2, 1, 2])


def programs(np):
    """The same functions over numpy, or over autograd's numpy (the oracle)."""

    def by_int_and_slice(x):
        return np.sum(np.tanh(x[1:]) * x[0])

    def by_slices(x):
        return np.sum(np.sin(x[1:4]) ** 2) + x[-1] * x[2] + np.sum(x[::2] ** 3)

    def by_tuple_of_slices(x):
        return np.sum(np.tanh(x[1:, :2]) * x[0, 1:3]) + np.sum(x[:, 0] ** 3) + x[1, 2] ** 2

    def by_integer_array(x):
        return np.sum(np.tanh(x[PICKS]) ** 2 * x[1])

    def by_boolean_mask(x):
        return np.sum(np.sin(x[x > 0]) * x[x > 0])

    def by_new_axis(x):
        return np.sum(np.tanh(x[None, :] * x[:, None]))

    def rnn(xs, W):
        h = np.zeros(3)
        for t in range(xs.shape[0]):
            h = np.tanh(W @ h + xs[t])
        return np.sum(h**2)

    def pooled_mlp(x, W):
        h = np.tanh(W @ x)
        pooled = np.max(h.reshape(2, 2), axis=1)
        return np.sum(pooled**2) + np.max(h) * h[0]

    def joined(x):
        a = np.concatenate([np.tanh(x), x**2])
        b = np.stack([x, x**3]).ravel()
        return np.sum(a * b) + np.sum(np.stack([np.sin(x), x], axis=1) ** 2)

    def cross_entropy(W):
        z = FEATURES @ W
        z = z - np.max(z, axis=1, keepdims=True)
        logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return -np.mean(logp[np.arange(4), LABELS])

    def attention(W):
        q = FEATURES @ W
        s = q @ q.T
        a = np.exp(s - np.max(s, axis=-1, keepdims=True))
        a = a / np.sum(a, axis=-1, keepdims=True)
        return np.sum((a @ q)[:, 0] ** 2) + np.sum(q.T[1:] ** 3)

    def from_elements(x):
        a = np.array([x[0], x[1] ** 2, np.tanh(x[2])])
        return np.sum(a**2) * x[1] + np.sum(np.array(x) ** 3)

    def from_a_list(x):
        xs = [x, np.sin(x)]
        return np.sum(np.tanh(np.array(xs)) ** 2)

    return {
        "from_elements": (from_elements, [(3,)]),
        "from_a_list": (from_a_list, [(3,)]),
        "cross_entropy": (cross_entropy, [(3, 3)]),
        "attention": (attention, [(3, 3)]),
        "by_int_and_slice": (by_int_and_slice, [(5,)]),
        "by_slices": (by_slices, [(5,)]),
        "by_tuple_of_slices": (by_tuple_of_slices, [(3, 4)]),
        "by_integer_array": (by_integer_array, [(5,)]),
        "by_boolean_mask": (by_boolean_mask, [(6,)]),
        "by_new_axis": (by_new_axis, [(4,)]),
        "rnn": (rnn, [(4, 3), (3, 3)]),
        "pooled_mlp": (pooled_mlp, [(3,), (4, 3)]),
        "joined": (joined, [(4,)]),
    }


NUMPY, AUTOGRAD = programs(np), programs(anp)


def arguments(name, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) * 0.7 for shape in NUMPY[name][1]]


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_hvp_and_hessian_against_autograd(name):
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name)
    v = np.random.default_rng(1).normal(size=args[0].shape)
    expected = autograd.hessian_vector_product(g)(*args, v)
    np.testing.assert_allclose(ad.hvp(f)(*args, v), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ad.hessian(f)(*args), autograd.hessian(g)(*args), atol=1e-12)


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_hvp_against_differences_of_the_gradient(name):
    f = NUMPY[name][0]
    wrt = tuple(range(len(NUMPY[name][1])))
    assert fuzzcheck.check_hvp(f, arguments(name, seed=3), wrt) == "hvp"


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_gradient_penalty_against_autograd(name):
    # reverse over reverse: the adjoint rules of the helpers
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name, seed=5)
    df = ad.grad(f)
    if name == "from_a_list":  # (the adjoint of a list, reverse over reverse: refused)

        def summed(x):
            return np.sum(df(x))

        with pytest.raises(ad.AdCompileError, match="as_list"):
            ad.grad(summed)(*args)
        return
    assert_gradient_penalty_matches_autograd(f, g, args, rtol=1e-9, atol=1e-12)


def scaled(a, x):
    return np.sum(np.tanh(a * x[1:]) * x[0]) + a * np.sum(np.stack([x[:2], x[2:4]]) ** 2)


def test_grad_of_grad_of_a_function_that_indexes():
    x = np.array([0.3, -0.5, 0.8, 0.1, 0.6])

    def ascaled(a):
        return anp.sum(anp.tanh(a * x[1:]) * x[0]) + a * anp.sum(anp.stack([x[:2], x[2:4]]) ** 2)

    for a in (0.4, -1.2):
        assert ad.grad(ad.grad(scaled))(a, x) == pytest.approx(
            autograd.grad(autograd.grad(ascaled))(a), rel=1e-10
        )
    assert ad.grad(ad.grad(ad.grad(scaled)))(0.4, x) == pytest.approx(
        autograd.grad(autograd.grad(autograd.grad(ascaled)))(0.4), rel=1e-9
    )


def rearranged(x):
    m = x.reshape(2, 3)
    return (
        np.sum(np.tanh(np.cumsum(x)) ** 2)
        + np.sum(np.sin(np.cumsum(m, axis=1)))
        + np.sum(np.tanh(np.diff(x)) * np.diff(x, 2).sum())
        + np.sum(np.sort(x) ** 3 * np.arange(6.0))
        + np.sum(np.partition(x, 2) ** 3 * np.arange(6.0))
        + np.sum(np.tanh(np.diag(x)) ** 2)
        + np.sum(np.diagonal(np.outer(x, np.sin(x))) ** 2)
        + np.trace(np.outer(x, x)) ** 2
        + np.sum(np.tanh(np.repeat(x, 2)) * np.repeat(x, 3)[:12])
        + np.sum(np.tanh(np.tile(x, 2)) ** 2 * np.tile(x, 2))
        + np.sum(np.tanh(np.pad(x, 2)) ** 2 * np.pad(x, (1, 3)))
        + np.sum(np.tanh(x.astype(np.float64)) ** 3)
        + np.sum(np.rollaxis(m, 1) ** 3)
        + np.sum(np.real(x) ** 3)
    )


drearranged = ad.grad(rearranged)


def rearranged_penalty(x):
    return np.sum(drearranged(x) ** 2)


def test_hvp_through_rearranging_functions():
    rng = np.random.default_rng(7)
    x = rng.normal(size=6)
    assert fuzzcheck.check_hvp(rearranged, [x], (0,)) == "hvp"

    # reverse over reverse against differences of the (first-order) penalty's values
    g = ad.grad(rearranged_penalty)(x)
    eps = 1e-6
    fd = [
        (rearranged_penalty(x + eps * e) - rearranged_penalty(x - eps * e)) / (2 * eps)
        for e in np.eye(x.size)
    ]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


def test_an_index_written_as_np_s_is_an_index():
    def f(x):
        return np.sum(np.tanh(x[np.s_[1:, 0]]))

    x = np.arange(6.0).reshape(3, 2) / 10
    expected = np.zeros_like(x)
    expected[1:, 0] = 1 - np.tanh(x[1:, 0]) ** 2
    np.testing.assert_allclose(ad.grad(f)(x), expected)


def test_np_s_is_refused_as_another_argument():
    def f(x):
        return np.sum(x, axis=np.s_[1:])

    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(f)(np.ones(3))
    assert "np.s_" in info.value.reason


def split_parts(a):
    return np.sum(a**3), np.concatenate([np.cumsum(a[:1]), np.stack([a[1:], a[1:]])[0]])


def unused_part(x):
    s, c = split_parts(x)
    return s * x[0]


def test_a_part_without_derivative_is_a_zero_of_any_shape():
    # the tangent of the unused part's cotangent is a zero scalar: the helpers that
    # split or rearrange it take it as a zero of their operand's shape
    assert fuzzcheck.check_hvp(unused_part, [np.array([0.3, -0.4, 0.8])], (0,)) == "hvp"


def counted(xs, y):
    return np.sum(np.tanh(y) ** 2) * len(xs)


def test_hvp_of_a_parameter_without_gradient_is_zero():
    # the gradient of xs is zero, which its code returns as None
    xs, y = [np.array([0.2, 0.4])], np.array([0.3, -0.1])
    got = ad.hvp(counted)(xs, y, [np.ones(2)])
    assert isinstance(got, list) and len(got) == 1
    np.testing.assert_array_equal(got[0], np.zeros(2))
    assert fuzzcheck.check_hvp(counted, [xs, y], (0, 1)) == "hvp"


def as_array(x):
    return np.sin(x), np.array(x)


def padded(x):
    return np.sin(x), np.pad(x, (0, 2))


def differenced_zero_times(x):
    return np.sin(x), np.diff(x, 0)


@pytest.mark.parametrize("f", [as_array, padded, differenced_zero_times])
def test_helpers_that_may_return_their_cotangent_are_not_updated_in_place(f):
    # unarray, unpad and undiff can return (a view of) the cotangent they are given: the
    # reverse sweep must not add the other result's share into it in place
    x = np.array([0.5, -1.0, 2.0])
    size = np.size(f(x)[1])
    cotangent = (np.ones(3), np.arange(float(size)))
    kept = [c.copy() for c in cotangent]
    got = ad.vjp(f)(x, cotangent)
    for c, k in zip(cotangent, kept, strict=True):
        np.testing.assert_array_equal(c, k)
    np.testing.assert_allclose(got, np.cos(x) + kept[1][:3])
