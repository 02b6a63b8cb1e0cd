"""Functions that produce indices (``np.nonzero``, one-argument ``np.where``,
``np.triu_indices``, ``np.ix_``, ``np.searchsorted``, ...: integer results, no
derivative) used to index differentiable arrays, and the builtins ``pow``, ``max`` and
``min`` of several numbers, ``.item()`` and ``np.float64``. Values against the function
run by plain Python, gradients in every mode against central finite differences in
float64 and autograd, forward mode against the gradient, Hessian-vector products
against differences of the gradient."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_hvp_is_checked, assert_jvp_agrees_with_grad

import adcompile as ad
from adcompile.errors import AdCompileError
from tests import fuzzcheck

RNG = np.random.default_rng(5)
X = RNG.normal(size=5)
Y = RNG.normal(size=4)

# name -> (body of f after `import numpy as np`, arguments, wrt, whether autograd runs
# the same body with autograd.numpy)
PROGRAMS = {
    "nonzero and one-argument where": (
        """
def f(x, y):
    A = np.outer(x, y)
    return np.sum(x[np.nonzero(x > 0)] ** 2) + np.sum(A[np.where(A > 0)] ** 3) + np.sum(
        np.sin(A[np.nonzero(A < 0.1)]))
""",
        [X, Y],
        (0, 1),
        True,
    ),
    "triangle, diagonal and open-mesh indices": (
        """
def f(x, y):
    A = np.outer(x, x) + np.sum(y)
    upper = A[np.triu_indices(5, 1)]
    lower = A[np.tril_indices(5)]
    return np.sum(upper ** 2) + np.sum(np.cos(lower)) + np.sum(A[np.diag_indices(5)] ** 3) + np.sum(
        A[np.ix_([0, 2, 2], [1, 4])] * y[:1])
""",
        [X, Y],
        (0, 1),
        True,
    ),
    "a tuple of index arrays with repeats": (
        """
def f(x, y):
    A = np.outer(x, y)
    rows, cols = np.array([0, 0, 3, 3, 3]), np.array([1, 1, 2, 2, 0])
    idx = (rows, cols)
    return np.sum(A[idx] ** 2) + np.sum(A[rows, cols] * x) + np.sum(np.tanh(A[(rows, cols)]))
""",
        [X, Y],
        (0, 1),
        True,
    ),
    "argwhere, flatnonzero, unravel and ravel indices": (
        """
def f(x, y):
    A = np.outer(x, y)
    where = np.argwhere(A > 0)
    flat = np.flatnonzero(x < 0.5)
    pos = np.unravel_index(np.array([1, 5, 5, 7]), A.shape)
    back = np.ravel_multi_index(pos, A.shape)
    return np.sum(A[where[:, 0], where[:, 1]] ** 2) + np.sum(x[flat] ** 3) + np.sum(
        A[pos] * np.ravel(A)[back])
""",
        [X, Y],
        (0, 1),
        True,
    ),
    "indices, searchsorted and digitize": (
        """
def f(x, y):
    rows, cols = np.indices((5, 4))
    grid = np.outer(x, y) * rows - cols * y
    edges = np.array([-1.0, 0.0, 1.0])
    bins = np.searchsorted(edges, x)
    level = np.digitize(y, edges)
    return np.sum(grid ** 2) + np.sum(x * bins) + np.sum(y ** 2 * level) + np.sum(
        edges[np.searchsorted(edges, y, side="right") - 1] * y)
""",
        [X, Y],
        (0, 1),
        False,  # (autograd has no derivative, not even 0, of digitize and searchsorted)
    ),
    "pow, max and min of several": (
        """
def f(x, y):
    a = pow(x[0], 2) + np.sum(pow(np.abs(y) + 1.0, x[:4])) + pow(2.0, x[1])
    b = max(x[0], x[1], x[2]) * min([y[0], y[1], y[3]]) + max((x[3], y[2])) + min([y[2]])
    return a + b + max(np.sum(x), 0.25, np.sum(y)) + min(x[4], y[3], 10.0, x[1])
""",
        [X, Y],
        (0, 1),
        True,
    ),
    "item, float and np.float64": (
        """
def f(x, y):
    s = np.sum(x * y[0]).item()
    t = x[1:2].item() + np.outer(x, y)[2:3, 1:2].item()
    return s * t + float(np.sum(y)) ** 2 + np.float64(x[3]) * 2.0 + np.sum(np.float64(y) ** 2)
""",
        [X, Y],
        (0, 1),
        False,  # (autograd's arrays have no .item() that keeps the gradient)
    ),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_against_python_finite_differences_and_autograd(name, tmp_path):
    body, args, wrt, twin = PROGRAMS[name]
    text = "import numpy as np\n" + body
    twin_text = text.replace("numpy", "autograd.numpy", 1) if twin else None
    verdict = fuzzcheck.check_program(tmp_path, text, args, wrt, autograd_text=twin_text)
    assert verdict != "refused"
    if twin:
        assert "autograd" in verdict


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_forward_mode_agrees_with_reverse(name, tmp_path):
    body, args, wrt, _ = PROGRAMS[name]
    assert_jvp_agrees_with_grad(tmp_path, body, args, wrt, seed=5)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_hessian_vector_product(name, tmp_path):
    body, args, wrt, _ = PROGRAMS[name]
    assert_hvp_is_checked(tmp_path, body, args, wrt)


def test_max_of_several_gives_a_tie_to_the_first_as_python_returns_it():
    def f(a, b, c):
        return max(a, b, c) * 2.0 + min([c, b, a]) * 3.0

    got = ad.grad(f, wrt=(0, 1, 2))(1.0, 1.0, 1.0)
    assert got == (2.0, 0.0, 3.0)  # max returns a, min returns c: Python's first
    got = ad.grad(f, wrt=(0, 1, 2))(0.5, 2.0, 2.0)
    assert got == (3.0, 2.0, 0.0)  # max: b (the first of b and c), min: a


def test_item_is_a_python_float_whose_gradient_flows():
    def f(x):
        s = np.sum(x**2).item()
        return s * 3.0 if isinstance(s, float) else 0.0

    x = np.array([1.0, -2.0])
    assert ad.grad(f)(x) == pytest.approx(6.0 * x)


def test_refuses_pow_with_a_modulus_and_item_with_an_index():
    def modular(x):
        return pow(x[0], 2, 3)

    def indexed(x):
        return x.item(0)

    with pytest.raises(AdCompileError, match="pow\\(\\) takes two arguments"):
        ad.grad(modular)(np.ones(2))
    with pytest.raises(AdCompileError, match="the method .item\\(\\) is not supported"):
        ad.grad(indexed)(np.ones(2))
