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
from adcompile import runtime

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


# ------------------------------------------------- constructors of float values

W6 = np.arange(1.0, 7.0)


def full_sum(v):
    return np.sum(np.full(6, v) * W6)


def full_broadcast(v):
    return np.sum(np.full((2, 3), v) * W6.reshape(2, 3))


def full_like_sum(x, v):
    return np.sum(np.full_like(x, v) * x)


def full_like_int(x, v):
    # full_like of an integer array truncates v: a step function of it
    return np.sum(np.full_like(np.arange(3), v) * x)


def linspace_sum(a, b):
    return np.sum(np.linspace(a, b, 6) * W6)


def linspace_open(a, b):
    return np.sum(np.linspace(a, b, num=6, endpoint=False) * W6)


def linspace_single(a, b):
    return np.sum(np.linspace(a, b, 1) * 3.0)


def linspace_axis(a, b):
    return np.sum(np.linspace(a, b, 3, axis=1) ** 2)


def arange_shifted(x):
    return np.sum(np.arange(x, x + 3.0) * W6[:3])


def arange_stepped(x, s):
    return np.sum(np.arange(x, 10.0, s) ** 2)


def arange_stop_only(x):
    return np.sum(np.arange(x) * 2.0)


@pytest.mark.parametrize("form", ["float", "0-d"])
def test_full_and_linspace_and_arange_differentiate_their_float_arguments(form):
    as_form = FORMS[form]
    check(full_sum, as_form(0.7))
    check(linspace_sum, as_form(0.3), as_form(1.7), wrt=(0, 1))
    check(linspace_open, as_form(0.3), as_form(1.7), wrt=(0, 1))
    check(linspace_single, as_form(0.3), as_form(1.7), wrt=(0, 1))
    check(arange_shifted, as_form(0.3))
    check(arange_stepped, as_form(0.3), as_form(0.7), wrt=(0, 1))
    check(arange_stop_only, as_form(3.3))
    g = check(arange_shifted, as_form(0.3))
    assert g == 6.0  # not the silent 0 of a constant


def test_constructors_with_broadcast_fill_values_and_axes():
    rng = np.random.default_rng(2)
    check(full_broadcast, rng.normal(size=3))
    x = rng.normal(size=(2, 3))
    check(full_like_sum, x, 0.4, wrt=(0, 1))
    check(full_like_sum, x, rng.normal(size=3), wrt=(0, 1))
    check(full_like_int, np.arange(1.0, 4.0), 2.3, wrt=(0, 1))
    check(linspace_axis, rng.normal(size=2), rng.normal(size=2), wrt=(0, 1))
    check(linspace_axis, rng.normal(size=(2, 1)), rng.normal(size=2), wrt=(0, 1))


# ------------------------------- what adcompile treats as having no derivative

RNG = np.random.default_rng(7)


def _vector():
    return RNG.normal(size=5) * 3.0


_HEAVISIDE = np.random.default_rng(11)


# function -> (arguments, positions of the float arguments). Every entry of the
# table of functions without a derivative must be here, and is checked below.
NONDIFF_CASES = {
    np.sign: lambda: ((_vector(),), [0]),
    np.floor: lambda: ((_vector(),), [0]),
    np.ceil: lambda: ((_vector(),), [0]),
    np.round: lambda: ((_vector(), 1), [0]),
    np.rint: lambda: ((_vector(),), [0]),
    np.trunc: lambda: ((_vector(),), [0]),
    np.isnan: lambda: ((_vector(),), [0]),
    np.isinf: lambda: ((_vector(),), [0]),
    np.isfinite: lambda: ((_vector(),), [0]),
    np.greater: lambda: ((_vector(), _vector()), [0, 1]),
    np.greater_equal: lambda: ((_vector(), _vector()), [0, 1]),
    np.less: lambda: ((_vector(), _vector()), [0, 1]),
    np.less_equal: lambda: ((_vector(), _vector()), [0, 1]),
    np.equal: lambda: ((_vector(), _vector()), [0, 1]),
    np.not_equal: lambda: ((_vector(), _vector()), [0, 1]),
    np.logical_and: lambda: ((_vector(), _vector()), [0, 1]),
    np.logical_or: lambda: ((_vector(), _vector()), [0, 1]),
    np.logical_not: lambda: ((_vector(),), [0]),
    np.floor_divide: lambda: ((_vector(), _vector()), [0, 1]),
    np.fix: lambda: ((_vector(),), [0]),
    np.logical_xor: lambda: ((_vector(), _vector()), [0, 1]),
    np.signbit: lambda: ((_vector(),), [0]),
    # (its own draws: the shared generator's sequence decides the other cases' points)
    np.heaviside: lambda: ((_HEAVISIDE.uniform(-2, 2, 5), _HEAVISIDE.uniform(-2, 2, 5)), [0, 1]),
    np.isposinf: lambda: ((_vector(),), [0]),
    np.isneginf: lambda: ((_vector(),), [0]),
    np.isreal: lambda: ((_vector(),), [0]),
    np.iscomplex: lambda: ((_vector(),), [0]),
    np.isclose: lambda: ((_vector(), _vector()), [0, 1]),
    np.argmax: lambda: ((_vector(),), [0]),
    np.argmin: lambda: ((_vector(),), [0]),
    np.argsort: lambda: ((_vector(),), [0]),
    np.any: lambda: ((_vector(),), [0]),
    np.all: lambda: ((_vector(),), [0]),
    np.count_nonzero: lambda: ((_vector(),), [0]),
    np.shape: lambda: ((_vector(),), [0]),
    np.ndim: lambda: ((_vector(),), [0]),
    np.size: lambda: ((_vector(),), [0]),
    np.zeros_like: lambda: ((_vector(),), [0]),
    np.ones_like: lambda: ((_vector(),), [0]),
    np.empty_like: lambda: ((_vector(),), [0]),
    np.zeros: lambda: (((2, 3),), []),
    np.ones: lambda: (((2, 3),), []),
    np.empty: lambda: (((2, 3),), []),
    np.eye: lambda: ((3, 4, 1), []),
    np.identity: lambda: ((3,), []),
    np.linalg.matrix_rank: lambda: ((np.reshape(_vector()[:4], (2, 2)),), [0]),
    # bitwise operators take booleans and integers only (numpy refuses floats): nothing
    # to move, and no derivative in any mode
    np.bitwise_and: lambda: ((_vector() > 0, _vector() > 1), []),
    np.bitwise_or: lambda: ((_vector() > 0, _vector() > 1), []),
    np.bitwise_xor: lambda: ((_vector() > 0, _vector() > 1), []),
    np.invert: lambda: ((_vector() > 0,), []),
    np.left_shift: lambda: ((np.arange(5), 2), []),
    np.right_shift: lambda: ((np.arange(5), 1), []),
    # index producers: integer positions, used to index differentiated arrays
    np.nonzero: lambda: ((_vector(),), [0]),
    np.argwhere: lambda: ((_vector(),), [0]),
    np.flatnonzero: lambda: ((_vector(),), [0]),
    np.triu_indices: lambda: ((4, 1), []),
    np.tril_indices: lambda: ((4,), []),
    np.diag_indices: lambda: ((3,), []),
    np.ix_: lambda: ((np.array([0, 2]),), []),
    np.unravel_index: lambda: ((np.array([1, 5, 7]), (3, 4)), []),
    np.ravel_multi_index: lambda: (((np.array([0, 2]), np.array([1, 3])), (3, 4)), []),
    np.indices: lambda: (((2, 3),), []),
    np.searchsorted: lambda: ((np.sort(_vector()), _vector()), [0, 1]),
    np.digitize: lambda: ((_vector(), np.sort(_vector())), [0, 1]),
}
try:  # the rules of scipy.special, loaded in the test below
    import scipy.special as _special

    NONDIFF_CASES[_special.gammasgn] = lambda: ((_vector(),), [0])
except ImportError:
    pass
BUILTIN_CASES = {
    len: lambda: ((list(_vector()),), []),
    int: lambda: ((float(_vector()[0]),), [0]),
    bool: lambda: ((float(_vector()[0]),), [0]),
    round: lambda: ((float(_vector()[0]), 2), [0]),
    isinstance: lambda: ((float(_vector()[0]), float), [0]),
    range: lambda: ((3,), []),  # (of integers only: range(1.5) is Python's TypeError)
}


def _same(a, b, uninitialised: bool) -> bool:
    if uninitialised:  # np.empty: only the shape and dtype are defined
        return np.shape(a) == np.shape(b) and np.result_type(a) == np.result_type(b)
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


RUNTIME_NONDIFF = (
    runtime.outer_shape,
    runtime.zero_like,
    runtime.zeros_tangent,
    runtime.zeros_adjoint,
    runtime.unit_cotangent,
    runtime.check_cotangent,
    runtime.check_unpacking,
    runtime.check_writable,
    runtime.reduced_count,
    runtime.abs_sign,
    runtime.extremum_mask,
    runtime.tie_share,
    runtime.clip_passes,
    runtime.clip_low,
    runtime.clip_high,
    runtime.mask_like,
    runtime.scalar_floor_divide,
    # the axes, lengths, subscripts, shapes and checks the definitions of
    # rules/bodies.py read (constants of the operands' shapes and of constants)
    runtime.fft_axes,
    runtime.rfft_lengths,
    runtime.irfft_lengths,
    runtime.norm_axes,
    runtime.reduction_plan,
    runtime.einsum_adjoint_plan,
    runtime.tensordot_subscripts,
    runtime.inner_subscripts,
    runtime.kron_plan,
    runtime.svd_shapes,
    runtime.qr_shapes,
    runtime.three_vectors,
    runtime.singular_refused,
    runtime.inexact_result,
    runtime.linspace_plan,
    # the flags the rules of scipy.linalg and scipy.signal read (and refuse)
    runtime.standard_eigh,
    runtime.scipy_qr_mode,
    runtime.convolution_padding,
    # the positions, weights, paddings and shapes of the rules of selections.py,
    # signal_like.py and linalg.py (tested with their rules: tests/test_rules_numpy_picks.py)
    runtime.take_positions,
    runtime.take_along_axis_positions,
    runtime.append_positions,
    runtime.insert_positions,
    runtime.quantile_positions,
    runtime.quantile_fraction,
    runtime.interp_positions,
    runtime.interp_weight,
    runtime.interp_inverse_width,
    runtime.average_weights_shape,
    runtime.convolve_padding,
    runtime.polyval_degrees,
    runtime.trapezoid_weights,
    runtime.cumulative_axis,
    runtime.initial_padding,
    runtime.tensor_matrix_shape,
    runtime.tensorsolve_matrix_shape,
    runtime.cond_exponent,
)


def test_runtime_masks_and_zeros_are_locally_constant():
    x = np.array([[0.3, 0.9, -0.2], [0.9, 0.1, 0.4]])
    y = np.max(x, axis=0)
    cases = [
        (runtime.abs_sign, (x,)),
        (runtime.extremum_mask, (x, y, 0)),
        (runtime.tie_share, (x, x[::-1])),
        (runtime.clip_passes, (x, -0.1, 0.5)),
        (runtime.clip_low, (x, -0.1, 0.5)),
        (runtime.clip_high, (x, -0.1, 0.5)),
        (runtime.mask_like, (x > 0.2, x)),
        (runtime.scalar_floor_divide, (0.7, 0.3)),
        (runtime.zero_like, (x,)),
        (runtime.zeros_tangent, (x,)),
        (runtime.reduced_count, (x, 1)),
    ]
    for fn, args in cases:
        base = fn(*args)
        moved = (args[0] * (1 + 1e-7),) + args[1:]
        if fn is runtime.extremum_mask:  # (the extremum moves with its operand)
            moved = (x * (1 + 1e-7), y * (1 + 1e-7), 0)
        if fn is runtime.mask_like:  # (a condition, then the value it is shaped like)
            moved = (args[0], x * (1 + 1e-7))
        assert np.array_equal(np.asarray(fn(*moved)), np.asarray(base)), fn


def test_every_function_without_a_derivative_is_listed_here():
    import adcompile
    from adcompile import normalize
    from adcompile.rules import load_optional, registry

    load_optional(import_libraries=True)

    # stop_gradient's derivative is zero by declaration, not because it is locally
    # constant: tests/test_forward.py checks it in every mode
    declared = {id(adcompile.stop_gradient)}
    # the runtime helpers' zeros, counts and masks (rules/runtime_rules.py), which only
    # generated code calls: locally constant by construction, tested below
    declared |= {id(f) for f in RUNTIME_NONDIFF}
    assert set(registry.NONDIFF) == {id(f) for f in NONDIFF_CASES} | declared
    assert set(normalize.CONSTANT_BUILTINS) == set(BUILTIN_CASES)


@pytest.mark.parametrize(
    "fn",
    [*NONDIFF_CASES, *BUILTIN_CASES],
    ids=lambda f: getattr(f, "__name__", repr(f)),
)
def test_functions_without_a_derivative_are_locally_constant_at_random_points(fn):
    """Finite differences of each listed function are zero at random points: its
    derivative is zero almost everywhere, so treating it as constant is right."""
    make = {**NONDIFF_CASES, **BUILTIN_CASES}[fn]
    uninitialised = fn in (np.empty, np.empty_like)
    for _ in range(5):
        args, floats = make()
        base = fn(*args)
        for i in floats:
            for h in (1e-7, -1e-7, 1e-5, -1e-5):
                moved = list(args)
                moved[i] = args[i] + h if isinstance(args[i], float) else args[i] * (1 + h)
                assert _same(fn(*moved), base, uninitialised), (fn, i, h)


# -------------------------------------------- other piecewise rules at their kinks


def relu_scaled(x):
    return np.sum(np.maximum(x, 0.0) * 3.0)


def floor_scaled(x):
    return np.sum(np.minimum(0.0, x) * 3.0)


def absolute_scaled(x):
    return np.sum(np.abs(x) * 3.0)


def pair_maximum(x, y):
    return np.sum(np.maximum(x, y) * 3.0)


def column_max(x):
    return np.sum(np.max(x, axis=0, keepdims=True) * np.arange(1.0, 4.0))


def row_min(x):
    return np.sum(np.min(x, axis=1) * np.arange(1.0, 3.0))


@pytest.mark.parametrize("form", FORMS)
def test_maximum_minimum_and_abs_follow_the_documented_convention_at_their_kinks(form):
    zero = FORMS[form](0.0)
    weight = 3.0
    with np.errstate(all="ignore"):
        # docs/numerics.md: a tie shares the gradient equally, abs has sign(x)
        np.testing.assert_array_equal(ad.grad(relu_scaled)(zero), np.full_like(zero, 0.5 * weight))
        np.testing.assert_array_equal(ad.grad(floor_scaled)(zero), np.full_like(zero, 0.5 * weight))
        np.testing.assert_array_equal(ad.grad(absolute_scaled)(zero), np.zeros_like(zero))
        gx, gy = ad.grad(pair_maximum, wrt=(0, 1))(zero, zero)
    np.testing.assert_array_equal(gx + gy, np.full_like(zero, weight))
    np.testing.assert_array_equal(gx, gy)
    # away from the kinks, finite differences
    for v in (-0.7, 0.4):
        for f in (relu_scaled, floor_scaled, absolute_scaled):
            check(f, FORMS[form](v))
        check(pair_maximum, FORMS[form](v), FORMS[form](-v), wrt=(0, 1))


def test_reductions_share_ties_along_an_axis():
    x = np.array([[1.0, 2.0, 0.5], [1.0, -1.0, 0.5]])  # ties in columns 0 and 2
    g = check(column_max, x + np.array([[0.0, 0.0, 0.0], [-0.25, 0.0, 0.3]]))  # no ties
    assert g.shape == x.shape
    np.testing.assert_array_equal(ad.grad(column_max)(x), [[0.5, 2.0, 1.5], [0.5, 0.0, 1.5]])
    y = np.array([[0.0, 0.0, 1.0], [2.0, 3.0, 2.0]])  # ties in both rows
    np.testing.assert_array_equal(ad.grad(row_min)(y), [[0.5, 0.5, 0.0], [1.0, 0.0, 1.0]])
