"""Primitive rules at the edges of their domains.

Each rule must agree with numpy itself there: the value the compiled gradient
returns is the function's own, and the gradient agrees with central finite
differences in float64 wherever the function is differentiable, for arrays that
broadcast, 0-d arrays and Python floats alike. At a kink the gradient is the one
docs/numerics.md documents.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad

# Operands in three forms: a Python float, a 0-d array, an array that broadcasts.
FORMS = {
    "float": lambda v: float(v),
    "0-d": lambda v: np.array(v, dtype=float),
    "row": lambda v: np.full((1, 3), v, dtype=float),
}


def check(f, *args, wrt=0, **tolerances):
    """The value of ``f`` as plain Python computes it, and a gradient that agrees with
    central finite differences."""
    with np.errstate(all="ignore"):
        value, _ = ad.value_and_grad(f, wrt=wrt)(*args)
        expected = f(*args)
    np.testing.assert_array_equal(value, expected)
    return assert_grad_matches_fd(f, *args, wrt=wrt, **tolerances)


# ---------------------------------------------------------------- clip


def clip_weighted(x, lo, hi):
    return np.sum(np.clip(x, lo, hi) * np.arange(1.0, 4.0))


def clip_scalar(x, lo, hi):
    return np.clip(x, lo, hi) * 3.0


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("lo", "hi"),
    [(0.2, 0.9), (0.9, 0.2), (0.5, 0.5)],
    ids=["ordered", "crossed", "equal"],
)
@pytest.mark.parametrize("x", [0.1, 0.6, 1.3])
def test_clip_agrees_with_numpy_with_bounds_in_any_order(form, lo, hi, x):
    args = (FORMS[form](x), FORMS[form](lo), FORMS[form](hi))
    f = clip_weighted if form == "row" else clip_scalar
    if lo == hi:
        # not differentiable in the bounds where they coincide: only the value and x
        check(f, *args, wrt=0)
        return
    check(f, *args, wrt=(0, 1, 2))


def test_clip_with_crossed_bounds_gives_the_whole_gradient_to_the_upper_bound():
    # numpy returns a_max everywhere a_min > a_max, whatever x is
    x = np.array([0.1, 0.6, 0.9, 1.3])
    lo = np.array([0.5, 0.9, 0.5, 2.0])
    hi = np.array([0.2, 0.6, 0.7, 1.0])  # crossed everywhere, x == hi at index 1
    gx, glo, ghi = ad.grad(clip_sum, wrt=(0, 1, 2))(x, lo, hi)
    np.testing.assert_array_equal(gx, [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(glo, [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [1.0, 1.0, 1.0, 1.0])


def clip_sum(x, lo, hi):
    return np.sum(np.clip(x, lo, hi))


def clip_below(x, lo):
    return np.sum(np.clip(x, lo, None) * np.arange(1.0, 4.0))


def clip_above(x, hi):
    return np.sum(x.clip(None, hi) * np.arange(1.0, 4.0))


def test_clip_with_one_bound():
    x = np.array([0.1, 0.6, 1.3])
    check(clip_below, x, 0.4, wrt=(0, 1))
    check(clip_above, x, 0.4, wrt=(0, 1))
