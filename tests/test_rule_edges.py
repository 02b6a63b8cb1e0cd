"""Primitive rules at the edges of their domains.

Each rule must agree with numpy itself there: the value the compiled gradient
returns is the function's own, and the gradient agrees with central finite
differences in float64 wherever the function is differentiable, for arrays that
broadcast, 0-d arrays and Python floats alike. At a kink the gradient is the one
docs/numerics.md documents.
"""

from __future__ import annotations

import math

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


# ---------------------------------------------------------------- powers at zero


def zero_power_int(x):
    return np.sum(x**0)


def zero_power_float(x):
    return np.sum(x**0.0)


def zero_power_np(x):
    return np.sum(np.power(x, 0.0))


def square(x):
    return np.sum(x**2)


def base_and_exponent(x, p):
    return np.sum(x**p)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("f", [zero_power_int, zero_power_float, zero_power_np, square])
def test_powers_at_zero_agree_with_finite_differences(form, f):
    # x ** 0 is 1 everywhere, x ** 2 is smooth: both differentiable at 0
    for v in (0.0, 2.0, -1.5):
        g = check(f, FORMS[form](v))
        assert np.all(np.isfinite(g))


def test_zero_powers_of_an_array_holding_zero():
    x = np.array([0.0, 2.0])
    for f in (zero_power_int, zero_power_float, zero_power_np):
        np.testing.assert_array_equal(check(f, x), [0.0, 0.0])


@pytest.mark.parametrize("form", FORMS)
def test_the_exponent_of_a_zero_base(form):
    # d/dp 0 ** p is 0 for p > 0 (0 ** p is 0 there); d/dx at x = 0 is p * 0 ** (p - 1)
    for p in (2.0, 3.0):
        check(base_and_exponent, FORMS[form](0.0), FORMS[form](p), wrt=(0, 1))
    # 0 ** p is inf for p < 0: at p == 0 only x has a derivative (0)
    check(base_and_exponent, FORMS[form](0.0), FORMS[form](0.0), wrt=0)


# ------------------------------------------- Python floats follow numpy's arithmetic


def root(x):
    return x**0.5


def np_root(x):
    return np.sqrt(x)


def math_root(x):
    return math.sqrt(x)


def zero_power(x):
    return np.power(x, 0.0) * 2.0


def root_over(x, w):
    return math.sqrt(x) / w + x**1.5


ROOTS = [root, np_root, math_root, zero_power]


@pytest.mark.parametrize("f", ROOTS, ids=lambda f: f.__name__)
def test_a_python_float_gets_what_numpy_computes_where_python_would_raise(f):
    # at 0 the derivative of a square root is inf: numpy's 0.5 * 0.0 ** -0.5, where
    # Python's own arithmetic raises ZeroDivisionError
    with np.errstate(divide="ignore"):
        expected = ad.grad(f)(np.array(0.0))
        got = ad.grad(f)(0.0)
    assert type(got) is float
    np.testing.assert_array_equal(got, expected)
    # and away from 0, the derivative
    check(f, 2.0)


def test_python_float_arithmetic_in_a_whole_scalar_chain():
    for x, w in ((0.0, 2.0), (4.0, 0.5)):
        with np.errstate(divide="ignore", invalid="ignore"):
            got = ad.grad(root_over, wrt=(0, 1))(x, w)
            expected = ad.grad(root_over, wrt=(0, 1))(np.array(x), np.array(w))
        assert all(type(g) is float for g in got)
        np.testing.assert_array_equal(got, expected)
    check(root_over, 4.0, 0.5, wrt=(0, 1))


def reciprocal(x):
    return x**-1.0


def divided(x, y):
    return x / y


def logarithm(x):
    return math.log(x)


@pytest.mark.parametrize(
    ("f", "args"),
    [(reciprocal, (0.0,)), (divided, (1.0, 0.0)), (logarithm, (0.0,)), (logarithm, (-1.0,))],
    ids=["0.0 ** -1.0", "1.0 / 0.0", "math.log(0.0)", "math.log(-1.0)"],
)
def test_a_gradient_raises_where_the_function_itself_raises(f, args):
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the function's own exception
        f(*args)
    wrt = tuple(range(len(args)))
    for make in (ad.grad, ad.value_and_grad):
        with pytest.raises(type(raised.value)):
            make(f, wrt=wrt)(*args)
