"""The methods of numpy's ufuncs (``np.add.reduce``, ``np.maximum.accumulate``,
``np.multiply.outer``, ``np.add.at``), reductions with ``where=`` and ``initial=``, and
``np.bincount`` with weights: written as the primitives they mean
(normalize/rewrites.py, desugar/ufuncs.py). Values against the function run by plain
Python, gradients in every mode against central finite differences in float64 and
autograd (a twin written with the functions autograd has), forward mode against the
gradient, Hessian-vector products against differences of the gradient."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_hvp_is_checked, assert_jvp_agrees_with_grad

import adcompile as ad
from adcompile import runtime
from adcompile.errors import AdCompileError
from tests import fuzzcheck

RNG = np.random.default_rng(11)
X = RNG.normal(size=5)
M = RNG.normal(size=(3, 4))
P = np.abs(RNG.normal(size=4)) + 0.5

# name -> (body of f after `import numpy as np`, arguments, wrt, autograd twin's body
# or None where autograd has the functions the body calls)
PROGRAMS = {
    "add.reduce": (
        """
def f(x, A):
    return np.add.reduce(x) * 0.5 + np.sum(np.add.reduce(A, axis=1) ** 2) + np.sum(
        np.add.reduce(A) * 2.0) + np.add.reduce(A, axis=None, keepdims=True)[0, 0]
""",
        [X, M],
        (0, 1),
        """
def f(x, A):
    return np.sum(x) * 0.5 + np.sum(np.sum(A, axis=1) ** 2) + np.sum(
        np.sum(A, axis=0) * 2.0) + np.sum(A)
""",
    ),
    "multiply.reduce": (
        """
def f(x, A):
    return np.multiply.reduce(x) + np.sum(np.multiply.reduce(A, 1, keepdims=True) ** 2)
""",
        [X, M],
        (0, 1),
        """
def f(x, A):
    return np.prod(x) + np.sum(np.prod(A, 1, keepdims=True) ** 2)
""",
    ),
    "maximum.reduce and minimum.reduce": (
        """
def f(x, A):
    return np.maximum.reduce(x) * 3.0 + np.sum(np.minimum.reduce(A, axis=1) ** 2)
""",
        [X, M],
        (0, 1),
        """
def f(x, A):
    return np.max(x) * 3.0 + np.sum(np.min(A, axis=1) ** 2)
""",
    ),
    "logaddexp.reduce": (
        """
def f(x, A):
    return np.logaddexp.reduce(x * 300.0) + np.sum(np.logaddexp2.reduce(A, axis=1) ** 2)
""",
        [X, M],
        (0, 1),
        """
from autograd.scipy.special import logsumexp
def f(x, A):
    return logsumexp(x * 300.0) + np.sum((logsumexp(A * np.log(2.0), axis=1) / np.log(2.0)) ** 2)
""",
    ),
    "add.accumulate and multiply.accumulate": (
        """
def f(x, A):
    return np.sum(np.add.accumulate(x) ** 2) + np.sum(np.multiply.accumulate(A, axis=1) * A)
""",
        [X, M],
        (0, 1),
        """
def f(x, A):
    columns = [A[:, 0]]
    for j in range(1, 4):  # (autograd has no derivative of cumprod)
        columns.append(columns[-1] * A[:, j])
    return np.sum(np.cumsum(x) ** 2) + np.sum(np.stack(columns, axis=1) * A)
""",
    ),
    "maximum.accumulate and minimum.accumulate": (
        """
def f(x, A):
    w = np.arange(5.0) - 2.0
    return np.sum(np.maximum.accumulate(x) * w) + np.sum(np.minimum.accumulate(A, 1) ** 2)
""",
        [X, M],
        (0, 1),
        """
def f(x, A):
    w = np.arange(5.0) - 2.0
    top = [x[0]]
    for i in range(1, 5):
        top.append(np.maximum(top[-1], x[i]))
    low = [A[:, 0]]
    for j in range(1, 4):
        low.append(np.minimum(low[-1], A[:, j]))
    return np.sum(np.array(top) * w) + np.sum(np.array(low) ** 2)
""",
    ),
    "outer of binary ufuncs": (
        """
def f(x, p):
    a = np.sum(np.add.outer(x, p) ** 2) + np.sum(np.subtract.outer(p, x) ** 3)
    b = np.sum(np.multiply.outer(x, np.outer(p, p))) + np.sum(np.divide.outer(x, p))
    c = np.sum(np.power.outer(p, x)) + np.sum(np.maximum.outer(x, p) * np.minimum.outer(x, p))
    return a + b + c + np.sum(np.hypot.outer(x, p))
""",
        [X, P],
        (0, 1),
        """
def f(x, p):
    a = np.sum((x[:, None] + p) ** 2) + np.sum((p[:, None] - x) ** 3)
    b = np.sum(x[:, None, None] * np.outer(p, p)) + np.sum(x[:, None] / p)
    c = np.sum(p[:, None] ** x) + np.sum(np.maximum(x[:, None], p) * np.minimum(x[:, None], p))
    return a + b + c + np.sum(np.sqrt(x[:, None] ** 2 + p ** 2))
""",
    ),
    "where= and initial= of reductions": (
        """
def f(x, A):
    a = np.sum(x, where=x > 0) + np.mean(x ** 2, where=x < 0.5)
    b = np.max(x, where=x < 1.0, initial=-10.0)
    b = b + np.min(A, axis=1, where=A > -1.0, initial=5.0).sum()
    c = np.sum(A, axis=0, where=np.eye(3, 4) < 1, keepdims=True).sum()
    c = c + x.sum(where=x < 0.5, initial=2.0)
    d = A.mean(axis=1, where=np.array([True, False, True, True])).sum() + np.sum(x, initial=x[0])
    e = np.add.reduce(x, where=x > 0) + np.maximum.reduce(A, axis=0, initial=0.5).sum()
    return a + b + c + d + e
""",
        [X, M],
        (0, 1),
        """
def f(x, A):
    a = np.sum(np.where(x > 0, x, 0.0)) + np.sum(np.where(x < 0.5, x ** 2, 0.0)) / np.sum(x < 0.5)
    b = np.maximum(np.max(np.where(x < 1.0, x, -10.0)), -10.0) + np.sum(
        np.minimum(np.min(np.where(A > -1.0, A, 5.0), axis=1), 5.0))
    c = np.sum(np.where(np.eye(3, 4) < 1, A, 0.0)) + np.sum(np.where(x < 0.5, x, 0.0)) + 2.0
    m = np.array([True, False, True, True])
    d = np.sum(np.sum(np.where(m, A, 0.0), axis=1) / 3.0) + np.sum(x) + x[0]
    e = np.sum(np.where(x > 0, x, 0.0)) + np.sum(np.maximum(np.max(A, axis=0), 0.5))
    return a + b + c + d + e
""",
    ),
    "bincount with weights": (
        """
def f(x, A):
    bins = np.array([2, 0, 0, 4, 2])
    counts = np.bincount(bins, weights=x ** 2, minlength=7) * (np.arange(7.0) - 3.0)
    listed = np.sum(np.bincount([1, 1, 0], A[0, :3]))
    return np.sum(counts ** 2) + listed * np.sum(np.bincount(bins) * x)
""",
        [X, M],
        (0, 1),
        None,  # (autograd has no bincount)
    ),
    "add.at into an array the function owns": (
        """
def f(x, A):
    a = np.zeros(3)
    np.add.at(a, np.array([0, 1, 1, 2, 0]), x ** 2)
    B = A * 1.0
    np.add.at(B, (np.array([0, 0, 2]), np.array([1, 1, 3])), x[:3])
    np.subtract.at(B, [1, 1], x[3])
    return np.sum(a ** 2) + np.sum(np.sin(B))
""",
        [X, M],
        (0, 1),
        """
def f(x, A):
    a = np.array([x[0] ** 2 + x[4] ** 2, x[1] ** 2 + x[2] ** 2, x[3] ** 2])
    one = np.zeros((3, 4))
    one01 = np.array([[0.0, 1.0, 0.0, 0.0], [0.0] * 4, [0.0] * 4])
    one23 = np.array([[0.0] * 4, [0.0] * 4, [0.0, 0.0, 0.0, 1.0]])
    row1 = np.array([[0.0] * 4, [1.0] * 4, [0.0] * 4])
    B = A + one + one01 * (x[0] + x[1]) + one23 * x[2] - 2.0 * row1 * x[3]
    return np.sum(a ** 2) + np.sum(np.sin(B))
""",
    ),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_against_python_finite_differences_and_autograd(name, tmp_path):
    body, args, wrt, twin = PROGRAMS[name]
    text = "import numpy as np\n" + body
    twin_text = "import autograd.numpy as np\n" + (twin if twin is not None else body)
    if twin is None and "bincount" in body:
        twin_text = None
    verdict = fuzzcheck.check_program(tmp_path, text, args, wrt, autograd_text=twin_text)
    assert verdict != "refused"
    if twin_text is not None:
        assert "autograd" in verdict


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_forward_mode_agrees_with_reverse(name, tmp_path):
    body, args, wrt, _ = PROGRAMS[name]
    assert_jvp_agrees_with_grad(tmp_path, body, args, wrt, seed=11)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_hessian_vector_product(name, tmp_path):
    body, args, wrt, _ = PROGRAMS[name]
    assert_hvp_is_checked(tmp_path, body, args, wrt)


def test_generated_code_names_the_primitives_the_methods_mean():
    def f(x):
        return np.add.reduce(x) + np.sum(np.maximum.accumulate(x)) + np.sum(np.add.outer(x, x))

    text = ad.grad(f).source
    assert "from f's module" not in text  # (np.add, not a global of its own)
    assert "np.sum(x, axis=0, keepdims=False)" in text
    assert "running_max(x, axis=0)" in text
    assert "np.reshape(x, outer_shape(x, x))" in text and "= np.add(" in text


# ------------------------------------------------------------ running max: ties


def test_running_max_ties_share_each_result_among_the_elements_holding_it():
    """Each result of ``np.maximum.accumulate`` is the max of its prefix, its gradient
    shared equally among the elements tied at it, as ``np.max`` of that prefix does."""

    def running(x):
        return np.sum(np.maximum.accumulate(x) * np.array([1.0, 2.0, 4.0, 8.0, 16.0]))

    def by_prefixes(x):
        w = [1.0, 2.0, 4.0, 8.0, 16.0]
        return sum(np.max(x[: i + 1]) * w[i] for i in range(5))

    x = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    assert ad.grad(running)(x) == pytest.approx(ad.grad(by_prefixes)(x), abs=1e-15)
    assert ad.grad(running)(-x) == pytest.approx(ad.grad(by_prefixes)(-x), abs=1e-15)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_running_helpers_are_transposes_of_each_other(axis):
    a = np.round(RNG.normal(size=(4, 6)), 0)  # (rounded: ties)
    y = runtime.running_max(a, axis)
    u, v = RNG.normal(size=a.shape), RNG.normal(size=a.shape)
    forward = np.sum(runtime.running_tangent(u, a, y, axis) * v)
    backward = np.sum(u * runtime.unrunning(v, a, y, axis))
    assert forward == pytest.approx(backward, rel=1e-12)
    low = runtime.running_min(a, axis)
    assert np.array_equal(low, np.minimum.accumulate(a, axis=axis))


def test_running_max_of_a_nan_gives_no_gradient_after_it():
    def f(x):
        return np.sum(np.maximum.accumulate(x))

    g = ad.grad(f)(np.array([1.0, np.nan, 2.0]))
    assert g[0] == 1.0 and g[1] == 0.0 and g[2] == 0.0


# ------------------------------------------------------------ add.at: ownership


def test_add_at_on_an_argument_is_an_update_in_place_like_plus_equals():
    def f(x):
        np.add.at(x, [0, 0, 2], x[1])
        return np.sum(x**2)

    x = np.array([0.5, -1.0, 2.0])
    got = ad.grad(f)(x.copy())
    expected = np.array([2 * (0.5 - 2.0), 2 * -1.0 + 2 * 2 * (0.5 - 2.0) + 2 * (2.0 - 1.0), 2.0])
    assert got == pytest.approx(expected)  # (by hand: x0 += 2 x1, x2 += x1)


def test_add_at_refuses_an_array_another_name_sees():
    def f(x):
        a = x * 1.0
        b = a
        np.add.at(a, [0, 0], x[1])
        return np.sum(b**2)

    with pytest.raises(AdCompileError, match="shares its memory"):
        ad.grad(f)(np.ones(3))


def test_refuses_other_ufuncs_at_and_methods_without_a_rule():
    def product(x):
        a = x * 1.0
        np.multiply.at(a, [0], 2.0)
        return np.sum(a)

    def subtract_reduce(x):
        return np.subtract.reduce(x)

    def accumulate_dtype(x):
        return np.sum(np.add.accumulate(x, dtype=np.float32))

    def log_add_masked(x):
        return np.logaddexp.reduce(x, where=x > 0)

    def accumulate_all_axes(x):
        return np.sum(np.add.accumulate(x, axis=None))

    def of_an_expression(x):
        np.add.at(x[1:], [0], 1.0)
        return np.sum(x)

    for f, message in [
        (product, "np.multiply.at is not supported"),
        (subtract_reduce, "np.subtract.reduce has no rule"),
        (accumulate_dtype, "the argument dtype= of np.add.accumulate"),
        (of_an_expression, "must be a variable"),
        (log_add_masked, "with where= or initial= is not supported"),
        (accumulate_all_axes, "takes one axis here"),
    ]:
        with pytest.raises(AdCompileError, match=message):
            ad.grad(f)(np.ones(3))


def test_refuses_max_with_where_and_no_initial():
    def f(x):
        return np.max(x, where=x > 0)

    with pytest.raises(AdCompileError, match="needs initial="):
        ad.grad(f)(np.ones(3))
