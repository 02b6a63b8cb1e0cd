"""Augmented assignment: adcompile makes a new array where Python writes in place.

That is the same computation unless the array shares its memory with another
variable that is read afterwards; then the function is refused, with a located
error, rather than differentiated as something it is not.
"""

import inspect

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile import AdCompileError

RNG = np.random.default_rng(7)


def alias_read_later(X, W):
    h = X
    h += np.tanh(W @ h)
    return np.sum(h * X)


def view_read_later(x):
    y = x[0:2]
    y *= 2.0
    return np.sum(x)


def loop_alias_read_later(X, W):
    h = X
    for _ in range(2):
        h += np.tanh(W @ h)
    return np.sum(h) + np.sum(X)


@pytest.mark.parametrize(
    ("f", "args", "line"),
    [
        (alias_read_later, (np.ones((3, 2)), np.ones((3, 3))), "h += np.tanh(W @ h)"),
        (view_read_later, (np.ones(3),), "y *= 2.0"),
        (loop_alias_read_later, (np.ones((3, 2)), np.ones((3, 3))), "h += np.tanh(W @ h)"),
    ],
)
def test_in_place_update_of_shared_memory_is_refused(f, args, line):
    with pytest.raises(AdCompileError) as info:
        ad.grad(f)(*args)
    err = info.value
    lines, first = inspect.getsourcelines(f)
    assert err.lineno == first + next(i for i, t in enumerate(lines) if line in t)
    assert "shares its memory" in err.reason
    assert err.hint.startswith("write ")


def fresh_arrays(x):
    y = x * 2.0
    y += x
    y *= x
    return np.sum(y)


def parameter_not_read_again(x):
    x += 1.0
    return np.sum(x * x)


def alias_never_read_again(X, W):
    h = X * 1.0
    for _ in range(2):
        h += np.tanh(W @ h)
    return np.sum(h) + np.sum(X)


@pytest.mark.parametrize(
    ("f", "shapes"),
    [
        (fresh_arrays, [(3,)]),
        (parameter_not_read_again, [(3,)]),
        (alias_never_read_again, [(3, 2), (3, 3)]),
    ],
)
def test_in_place_update_of_unshared_arrays_is_differentiated(f, shapes):
    args = [RNG.normal(size=s) for s in shapes]
    before = [a.copy() for a in args]
    assert_grad_matches_fd(f, *args, wrt=tuple(range(len(args))))
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)  # the gradient never writes into inputs
