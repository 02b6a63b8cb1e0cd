"""``np.meshgrid`` as the broadcasts it makes: every input flattened, laid along its
axis of the grid (the first two swapped for ``indexing="xy"``) and broadcast to the
grid's shape, or not with ``sparse=True``. Values against numpy's own meshgrid,
gradients against central finite differences in float64 and autograd's meshgrid,
forward mode against the gradient."""

from __future__ import annotations

import types

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import adcompile as ad
from adcompile.checking import numeric_grad


def two(x, y):
    X, Y = np.meshgrid(x, y)
    return np.sum(np.sin(X) * Y**2 + X * Y)


def two_ij(x, y):
    X, Y = np.meshgrid(x, y, indexing="ij")
    return np.sum(np.sin(X) * Y**2 + X * Y)


def three(x, y, z):
    grids = np.meshgrid(x, y, z, indexing="xy")
    return np.sum(grids[0] * grids[1] * np.cos(grids[2]))


def sparse(x, y):
    X, Y = np.meshgrid(x, y, sparse=True)
    return np.sum(np.tanh(X + 2.0 * Y))


def one(x, y):
    (X,) = np.meshgrid(x * y[0])
    return np.sum(X**3)


def of_a_matrix(x, y):
    X, Y = np.meshgrid(x, y)  # (x is flattened, as numpy does)
    return np.sum(X * np.exp(Y))


def autograd_meshgrid(*xs, indexing="xy", sparse=False):
    """meshgrid for autograd (which has no derivative of its own meshgrid): each input
    along its axis, times ones of the grid's shape."""
    xs = [anp.ravel(x) for x in xs]
    axes = list(range(len(xs)))
    if indexing == "xy" and len(xs) > 1:
        axes[0], axes[1] = 1, 0
    grid = [0] * len(xs)
    for i, x in enumerate(xs):
        grid[axes[i]] = x.shape[0]
    out = []
    for i, x in enumerate(xs):
        along = [1] * len(xs)
        along[axes[i]] = -1
        g = anp.reshape(x, along)
        out.append(g if sparse else g * anp.ones(grid))
    return tuple(out)


AUTOGRAD_NP = types.SimpleNamespace(**{n: getattr(anp, n) for n in dir(anp) if n[0] != "_"})
AUTOGRAD_NP.meshgrid = autograd_meshgrid

X = np.array([0.1, -0.4, 0.7])
Y = np.array([1.2, -0.3])
Z = np.array([0.5, 0.9, -1.1, 0.2])
CASES = [
    (two, (X, Y)),
    (two_ij, (X, Y)),
    (three, (X, Y, Z)),
    (sparse, (X, Y)),
    (one, (X, Y)),
    (of_a_matrix, (np.array([[0.1, 0.2], [0.3, -0.5]]), Y)),
]


@pytest.mark.parametrize(("f", "args"), CASES, ids=[f.__name__ for f, _ in CASES])
def test_meshgrid_is_differentiated_through_its_broadcasts(f, args):
    wrt = tuple(range(len(args)))
    value, grads = ad.value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    twin = types.FunctionType(f.__code__, {**f.__globals__, "np": AUTOGRAD_NP})
    for i, g in enumerate(grads):
        assert g.shape == args[i].shape
        np.testing.assert_allclose(g, autograd.grad(twin, i)(*args), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g, numeric_grad(f, list(args), i, 1e-6), rtol=1e-6, atol=1e-8)
    tangents = tuple(np.ones_like(a) for a in args)
    _, t = ad.jvp(f, wrt=wrt)(*args, tangent=tangents)
    assert t == pytest.approx(sum(np.sum(g) for g in grads), rel=1e-10)


def indexing_by_a_variable(x, y, how):
    X, Y = np.meshgrid(x, y, indexing=how)
    return np.sum(X * Y)


def writes_into_a_grid(x, y):
    X, Y = np.meshgrid(x, y)
    X[0, 0] = 1.0
    return np.sum(X * Y)


def test_what_is_not_written_out_is_refused_where_it_is():
    with pytest.raises(ad.AdCompileError, match="indexing= must be written as a constant"):
        ad.grad(indexing_by_a_variable)(X, Y, "ij")
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(writes_into_a_grid)(X, Y)
    assert "X[0, 0] = 1.0" in info.value.line
