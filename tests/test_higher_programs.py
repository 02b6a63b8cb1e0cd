"""Second order of programs whose generated gradient the second differentiation once
refused: shapes of generated code found by the random programs of test_hvp_fuzz.py.

Each hvp is checked against central differences of the compiled gradient and against
autograd's ``hessian_vector_product`` of the same function (run on autograd's numpy).
"""

from __future__ import annotations

import sys

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import assert_grad_matches_fd
from test_higher import assert_hvp_matches_fd


def _autograd_hvp(f, args, wrt, vectors):
    """autograd's hessian_vector_product of ``f`` (this module's ``np`` set to autograd's
    numpy around the call), with respect to the positions ``wrt``."""
    module = sys.modules[__name__]

    def joint(*params):
        full = list(args)
        for i, p in zip(wrt, params, strict=True):
            full[i] = p
        return f(*full)

    def flat(params):
        return joint(*unpack(params))

    sizes = [np.size(args[i]) for i in wrt]
    shapes = [np.shape(args[i]) for i in wrt]

    def unpack(x):
        out, at = [], 0
        for n, s in zip(sizes, shapes, strict=True):
            out.append(anp.reshape(x[at : at + n], s))
            at += n
        return out

    x0 = np.concatenate([np.ravel(args[i]) for i in wrt])
    v0 = np.concatenate([np.ravel(v) for v in vectors])
    saved = module.np
    module.np = anp
    try:
        hv = autograd.hessian_vector_product(flat)(x0, v0)
    finally:
        module.np = saved
    return unpack(hv)


def check(f, *args, wrt):
    """hvp against differences of the gradient and against autograd."""
    _, vectors, got = assert_hvp_matches_fd(f, *args, wrt=wrt)
    vectors = vectors if isinstance(wrt, tuple) else (vectors,)
    got = got if isinstance(wrt, tuple) else (got,)
    expected = _autograd_hvp(f, args, wrt if isinstance(wrt, tuple) else (wrt,), vectors)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# a helper whose forward sweep keeps a stack, called on one path only: the gradient
# sets the stack's variable to None before the branch (a placeholder on the other path)


def sines_while_positive(a):
    k = 0
    while np.sum(a) > 0.0 and k < 2:
        k += 1
        a = np.sin(a)
    return a * a


def helper_on_one_path(x):
    if np.sum(x) > 0.0:
        return np.sum(np.sin(x) * x)
    y = sines_while_positive(x)
    return np.sum(y * y)


@pytest.mark.parametrize("x", [[-0.3, 0.1], [0.3, 0.1]])
def test_a_helpers_saved_values_kept_on_one_path(x):
    check(helper_on_one_path, np.array(x), wrt=0)


# a loop on one path: the list of the values it saves is made in the branch


def loop_on_one_path(x, y):
    if np.min(y) > 0.5:
        for _ in range(2):
            x = np.tanh(x * y)
    return np.sum(x * x * y)


@pytest.mark.parametrize("y", [[0.7, 0.9], [0.2, 0.9]])
def test_values_saved_by_a_loop_on_one_path(y):
    check(loop_on_one_path, np.array([0.3, -0.2]), np.array(y), wrt=(0, 1))


# the adjoint of a tuple: a list display on one path, a zero adjoint on the other


def sine_and_square(x):
    return np.sin(x), x * x


def tuple_read_on_one_path(x, y):
    pair = sine_and_square(x)
    if np.sum(y) > 0.0:
        z = np.sort(pair[0]) * y
    else:
        z = y
    return np.sum(z * z * x)


@pytest.mark.parametrize("y", [[0.5, 0.2, 0.1], [-0.5, 0.2, 0.1]])
def test_a_tuples_adjoint_made_on_one_path(y):
    check(tuple_read_on_one_path, np.array([0.3, -0.4, 0.8]), np.array(y), wrt=(0, 1))


# masks combined with bitwise operators (fmax's adjoint writes one: `(a >= b) | isnan(b)`)


def masked_cubes(x):
    m = (x > 0.5) | (x < -0.5)
    n = ~(x > 0.8) & m
    return np.sum(x * x * x * n) + np.sum(np.sin(x) * (m ^ n))


def through_fmax(x):
    return np.sum(np.fmax(x * x, np.sum(x)) * x)


def test_bitwise_operators_on_masks_have_no_derivative():
    x = np.array([0.1, 0.6, -0.7, 0.9])
    assert_grad_matches_fd(masked_cubes, x)
    check(masked_cubes, x, wrt=0)


def test_second_order_through_fmax():
    check(through_fmax, np.array([0.3, -0.9, 0.5]), wrt=0)


# a stack that gets tuples of different lengths on the two paths of a branch (in a loop
# of the gradient, in a helper's forward sweep)


def kept_or_cubed(x, c):
    if c > 0:
        acc = [x, np.sin(x)]
    else:
        acc = None  # (read under the same condition only)
    s = 0.0
    k = 0
    while k < 2:
        if c > 0:
            s = s + np.sum(acc[0] * acc[1])
        else:
            s = s + np.sum(x * x * x)
        k += 1
    return s


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_a_stack_of_unlike_tuples_in_a_loop(c):
    x = np.array([0.3, -0.5])
    assert_grad_matches_fd(kept_or_cubed, x, c)
    check(kept_or_cubed, x, c, wrt=0)


def scaled_or_squashed(a):
    if np.max(a) > 0.5:
        a = a * np.max(a)
    else:
        a = np.tanh(a) + np.sum(a * a)
    return a * a


def calls_scaled_or_squashed(x):
    return np.sum(scaled_or_squashed(x) * x)


@pytest.mark.parametrize("x", [[0.3, 0.9], [0.3, -0.2]])
def test_a_helpers_stack_of_unlike_tuples(x):
    check(calls_scaled_or_squashed, np.array(x), wrt=0)


# np.stack of a list built in a loop: the gradient splits the cotangent into as many
# pieces as the list has, a number known at run time (unstack(g, len(rows)))


def stacked_rows(x):
    rows = [np.sum(x, axis=0)]
    for i in range(x.shape[0]):
        rows.append(np.sin(x[i]) * x[i])
    return np.mean(np.sin(np.stack(rows)) ** 2)


def test_a_stacked_list_of_any_length():
    x = np.array([[0.3, -0.4, 0.2], [0.9, 0.1, -0.6]])
    check(stacked_rows, x, wrt=0)
