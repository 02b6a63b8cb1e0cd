"""Adjoint and tangent rules of numpy functions that real model code calls: picking
elements (np.take, np.take_along_axis, np.append, np.insert, np.column_stack,
np.dstack), order statistics (np.quantile, np.percentile, np.median, np.ptp), the
nan-ignoring reductions, np.average, np.interp, np.polyval, np.convolve,
np.correlate, np.trapezoid, numpy 2.1's cumulative functions, np.vdot, np.cbrt,
np.copysign, np.float_power, and np.linalg's tensorinv, tensorsolve and cond.

Each case is ``return np.sum(<the function of the inputs> * c)`` with random weights
``c``, run on several argument sets (broadcast operands, axes, 0-d arrays, Python
floats), checked against central finite differences in float64 with every
differentiable operand, against autograd where autograd has the function, in float32
(the reverse sweep stays float32), and differentiated twice (hvp against central
differences of the compiled gradient). Forward mode is checked by tests/test_forward.py
(its cases of these functions) and by the adjoint identity here. Functions with kinks
(quantiles, np.ptp, np.interp at its points) are checked away from ties and kinks;
docs/numerics.md states their conventions there.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_grad_matches_fd
from test_rules import FLOAT, _any, _away0, _pos, value, weights
from test_rules_numpy_more import Case, _autograd_version, _float32, raw_gradient

import adcompile as ad

CASES: list[Case] = []


def case(*argsets, wrt=(0,), autograd=False, float32=True, **tol):
    """Register the decorated function with argument sets: each a tuple of
    (shape, domain) pairs, constants, or a function of rng giving the arguments."""

    def make(spec):
        if callable(spec):
            return spec
        return lambda rng: tuple(
            value(rng, a[0], a[1]) if isinstance(a, tuple) and callable(a[-1]) else a for a in spec
        )

    def register(f):
        CASES.append(Case(f, [make(s) for s in argsets], wrt, autograd, float32, tol))
        return f

    return register


def arg(shape, domain=_any):
    return (shape, domain)


def _with_nans(rng, shape):
    x = rng.uniform(-1.0, 1.0, shape)
    x.flat[1] = np.nan
    if x.size > 5:
        x.flat[5] = np.nan
    return x


# ------------------------------------------------------------ picking elements


@case((arg((5,)),), (arg((3, 4)),))
def take_(x, c):
    return np.sum(np.sin(np.take(x, [0, 2, 2, -1])) * c)


@case((arg((3, 4)),), (arg((2, 4, 2)),))
def take_axis_(x, c):
    picked = np.take(x, [[0, 3], [1, 1]], axis=1)
    return np.sum(picked**2 * c) + np.sum(np.take(x, [7, -9], axis=1, mode="wrap") ** 3)


@case((arg((3, 4)),), (arg((4, 2)),))
def take_along_axis_(x, c):
    order = np.argsort(x, axis=0)
    return np.sum(np.take_along_axis(x, order, 0) ** 2 * c + np.take_along_axis(x, order[:1], 0))


@case(
    (arg((3,)), arg((2,))),
    (arg((2, 3)), arg((1, 3))),
    (arg((3,)), arg(FLOAT)),
    (arg(()), arg((2, 2))),
    wrt=(0, 1),
    autograd=True,
)
def append_(x, y, c):
    return np.sum(np.append(x, y) ** 2 * c)


@case((arg((2, 3)), arg((1, 3))), (arg((2, 3)), arg((2, 2))), wrt=(0, 1), autograd=True)
def append_axis_(x, y, c):
    k = 0 if np.shape(y)[0] == 1 else 1
    return np.sum(np.sin(np.append(x, y, axis=k)) * c)


@case((arg((4,)), arg(FLOAT)), (arg((4,)), arg((2,))), (arg((2, 3)), arg(())), wrt=(0, 1))
def insert_(x, y, c):
    return np.sum(np.insert(x, 1, y) ** 2 * c)


@case((arg((2, 3)), arg((2, 2))), (arg((2, 3)), arg((2,))), wrt=(0, 1))
def insert_axis_(x, y, c):
    points = [1, 3] if np.ndim(y) == 2 else [0, 2]
    values = y if np.ndim(y) == 2 else y[:, None]
    return np.sum(np.sin(np.insert(x, points, values, axis=1)) * c)


@case((arg((3,)), arg((3, 2))), (arg((3,)), arg((3,))), wrt=(0, 1), autograd=True)
def column_stack_(x, y, c):
    return np.sum(np.column_stack([x, y * x[0]]) ** 2 * c)


@case(
    (arg((2, 3)), arg((2, 3))),
    (arg((3,)), arg((3,))),
    (arg((2, 3)), arg((2, 3, 2))),
    wrt=(0, 1),
    autograd=True,
)
def dstack_(x, y, c):
    return np.sum(np.dstack((x, y)) ** 2 * c)


# ------------------------------------------------------------ reductions


@case((arg((5,)),), (arg((3, 4)),))
def ptp_(x, c):
    return np.sum(np.ptp(x) * c) + np.sum(np.ptp(x, axis=-1, keepdims=True) ** 2)


@case((arg((5,), _with_nans),), (arg((3, 4), _with_nans),))
def nansum_(x, c):
    return np.sum(np.nansum(x, axis=0) ** 2 * c) + np.nansum(x) ** 3


@case((arg((5,), _with_nans),), (arg((3, 4), _with_nans),))
def nanmean_(x, c):
    return np.sum(np.nanmean(x, axis=-1, keepdims=True) ** 2 * c) + np.nanmean(x) ** 3


@case((arg((5,), _with_nans),), (arg((3, 4), _with_nans),))
def nanmax_nanmin_(x, c):
    return np.sum(np.nanmax(x, axis=0) * c) + np.nanmin(x) ** 2


@case(
    (arg((5,)), arg((5,), _pos)),
    (arg((3, 4)), arg((4,), _pos)),
    (arg((3, 4)), arg((3, 4), _pos)),
    wrt=(0, 1),
)
def average_(x, w, c):
    k = np.ndim(x) - 1
    return np.sum(np.average(x, axis=k, weights=w) ** 2 * c) + np.average(x * x)


@case((arg((3, 4)), arg((3, 1), _pos)), wrt=(0, 1))
def average_keepdims_(x, w, c):
    return np.sum(np.average(np.sin(x), axis=0, weights=w + x * 0.1, keepdims=True) * c)


@case((arg((5,)),), (arg((3, 4)),), (arg((2, 3, 4)),))
def quantile_(x, c):
    return np.sum(np.quantile(x, [0.3, 0.75], axis=-1) ** 2 * c) + np.quantile(x, 0.4)


@case((arg((5,)),), (arg((3, 4)),))
def percentile_(x, c):
    return np.sum(np.percentile(x, 30, axis=0, keepdims=True) ** 2 * c) + np.percentile(x, 100)


@case((arg((5,)),), (arg((4,)),), (arg((3, 4)),))
def median_(x, c):
    return np.sum(np.median(x, axis=-1) ** 2 * c) + np.median(x) * np.sum(
        np.median(x, keepdims=True)
    )


# ------------------------------------------------------------ signals, polynomials


XP = np.array([0.0, 0.5, 1.5, 2.0, 3.5])


def _inside_and_out(rng, shape):
    return rng.uniform(-0.5, 4.0, shape)


# (not in float32: np.interp computes in float64 whatever its operands)
@case(
    (arg((7,), _inside_and_out), arg((5,))),
    (arg((), _inside_and_out), arg((5,))),
    (arg(FLOAT, _inside_and_out), arg((5,))),
    wrt=(0, 1),
    float32=False,
)
def interp_(x, fp, c):
    return np.sum(np.sin(np.interp(x, XP, fp)) * c) + np.sum(np.interp(x, XP, fp, left=0.5))


def _points(rng):
    xp = np.cumsum(rng.uniform(0.3, 1.0, 5)) - 0.5
    return rng.uniform(-0.5, 4.0, 7), xp, rng.uniform(-1.0, 1.0, 5)


@case(_points, wrt=(0, 1, 2), float32=False)
def interp_points_(x, xp, fp, c):
    return np.sum(np.sin(np.interp(x, xp, fp)) * c) + np.sum(np.interp(x, xp, fp, right=0.5))


@case((arg((4,)), arg((3, 2))), (arg((4,)), arg(FLOAT)), (arg((1,)), arg((3,))), wrt=(0, 1))
def polyval_(p, x, c):
    return np.sum(np.sin(np.polyval(p, x)) * c)


CONVOLUTION_SETS = [
    (arg((5,)), arg((3,))),
    (arg((3,)), arg((5,))),
    (arg((4,)), arg((6,))),
    (arg((4,)), arg((1,))),
]


@case(*CONVOLUTION_SETS, wrt=(0, 1))
def convolve_(a, v, c):
    full = np.convolve(a, v)
    return (
        np.sum(np.sin(full) * c)
        + np.sum(np.convolve(a, v, "same") ** 2)
        + np.sum(np.convolve(a, v, mode="valid") ** 3)
    )


@case(*CONVOLUTION_SETS, wrt=(0, 1))
def correlate_(a, v, c):
    return (
        np.sum(np.sin(np.correlate(a, v, "full")) * c)
        + np.sum(np.correlate(a, v, "same") ** 2)
        + np.sum(np.correlate(a, v) ** 3)
    )


@case((arg((5,)),), (arg((3, 4)),))
def trapezoid_(y, c):
    spaced = np.trapezoid(y, np.linspace(0.0, 1.0, np.shape(y)[-1]) ** 2)
    return np.sum(np.trapezoid(y, dx=0.3, axis=0) ** 2 * c) + np.sum(spaced * spaced)


if hasattr(np, "cumulative_sum"):  # numpy 2.1

    @case((arg((5,)),), (arg((3, 4)),))
    def cumulative_sum_(x, c):
        k = np.ndim(x) - 1
        with_zero = np.cumulative_sum(x, axis=k, include_initial=True)
        return np.sum(np.cumulative_sum(x, axis=k) ** 2 * c) + np.sum(with_zero**2)

    @case((arg((5,), _away0),), (arg((3, 4), _away0),))
    def cumulative_prod_(x, c):
        k = np.ndim(x) - 1
        with_one = np.cumulative_prod(x, axis=k, include_initial=True)
        return np.sum(np.cumulative_prod(x, axis=k) * c) + np.sum(with_one**2)


# ------------------------------------------------------------ elementwise, products


@case((arg((2, 3), _away0),), (arg((), _away0),), (arg(FLOAT, _away0),))
def cbrt_(x, c):
    return np.sum(np.cbrt(x) * c)


@case(
    (arg((2, 3), _away0), arg((2, 3), _away0)),
    (arg((3, 1), _away0), arg((4,), _away0)),
    (arg(FLOAT, _away0), arg(FLOAT, _away0)),
    (arg((2, 3), _away0), -1.0),
)
def copysign_(x, y, c):
    return np.sum(np.copysign(x, y) ** 3 * c)


# (not in float32: np.float_power computes in float64 whatever its operands)
@case(
    (arg((2, 3), _pos), arg((2, 3))),
    (arg((3, 1), _pos), arg((4,))),
    (arg((), _pos), arg((2, 3))),
    (arg(FLOAT, _pos), arg(FLOAT)),
    wrt=(0, 1),
    float32=False,
)
def float_power_(x, p, c):
    return np.sum(np.float_power(x, p) * c)


@case((arg((2, 3)), arg((6,))), (arg((3,)), arg((3,))), (arg(()), arg(FLOAT)), wrt=(0, 1))
def vdot_(a, b, c):
    return np.vdot(a, b) * c + np.vdot(a, a) ** 2


def heaviside_(x, c):
    # piecewise constant (derivative 0 away from 0), times x
    return np.sum(np.heaviside(x, 0.5) * x * c)


CASES.append(Case(heaviside_, [lambda rng: (value(rng, (2, 3), _away0),)], (0,), False))


# ------------------------------------------------------------ numpy.linalg


def _well_conditioned(shape, n):
    def make(rng):
        a = np.eye(n) * 2.0 + rng.uniform(-0.4, 0.4, (n, n))
        return (a.reshape(shape),)

    return make


@case(_well_conditioned((2, 3, 6), 6), _well_conditioned((4, 4), 4))
def tensorinv_(a, c):
    ind = np.ndim(a) - 1 if np.ndim(a) == 3 else 1
    return np.sum(np.linalg.tensorinv(a, ind=ind) * c)


def _tensor_system(rng):
    a = (np.eye(6) * 2.0 + rng.uniform(-0.4, 0.4, (6, 6))).reshape(2, 3, 2, 3)
    return a, rng.uniform(-1.0, 1.0, (2, 3))


def _matrix_system(rng):
    return np.eye(4) * 2.0 + rng.uniform(-0.4, 0.4, (4, 4)), rng.uniform(-1.0, 1.0, 4)


@case(_tensor_system, _matrix_system, wrt=(0, 1))
def tensorsolve_(a, b, c):
    return np.sum(np.sin(np.linalg.tensorsolve(a, b)) * c)


def _conditioned(*shape):
    def make(rng):
        n = shape[-1]
        return (np.eye(n) * 2.0 + rng.uniform(-0.5, 0.5, shape),)

    return make


@case((arg((4, 4)),), (arg((3, 5)),), _conditioned(2, 3, 3), rtol=1e-4)
def cond_(a, c):
    return (
        np.sum(np.linalg.cond(a) * c) + np.sum(np.linalg.cond(a, -2)) + np.sum(np.linalg.cond(a, 2))
    )


@case(_conditioned(3, 3), _conditioned(2, 3, 3), rtol=1e-4)
def cond_norms_(a, c):
    # norm(a, p) * norm(inv(a), p) for the orders other than 2 and -2
    by_norms = np.linalg.cond(a, "fro") + np.linalg.cond(a, "nuc") + np.linalg.cond(a, 1)
    by_maxima = np.linalg.cond(a, -1) + np.linalg.cond(a, np.inf) * np.linalg.cond(a, -np.inf)
    return np.sum(by_norms * c) + np.sum(by_maxima**2)


# ------------------------------------------------------------------ the checks


def _argsets(cases):
    return [(c, i) for c in cases for i in range(len(c.argsets))]


def _ids(items):
    return [f"{c.name}-{i}" for c, i in items]


ARGSETS = _argsets(CASES)


def _differentiable(c, args):
    return tuple(k for k in c.wrt if isinstance(args[k], np.ndarray | float))


@pytest.mark.parametrize("c, i", ARGSETS, ids=_ids(ARGSETS))
def test_against_finite_differences(c, i):
    args = c.argsets[i](np.random.default_rng(i))
    w = weights(c.f, *args)
    wrt = _differentiable(c, args)
    assert_grad_matches_fd(c.f, *args, w, wrt=wrt, **{"rtol": 1e-5, **c.tol})


AUTOGRAD = [(c, i) for c, i in ARGSETS if c.autograd]


@pytest.mark.parametrize("c, i", AUTOGRAD, ids=_ids(AUTOGRAD))
def test_against_autograd(c, i):
    import autograd

    args = c.argsets[i](np.random.default_rng(i))
    w = weights(c.f, *args)
    wrt = _differentiable(c, args)
    ours = ad.grad(c.f, wrt=wrt)(*args, w)
    fa = _autograd_version(c.f)
    for k, g in zip(wrt, ours, strict=True):
        expected = autograd.grad(fa, k)(*args, w)
        np.testing.assert_allclose(np.asarray(g, float), np.asarray(expected, float), rtol=1e-7)


FLOAT32 = [(c, i) for c, i in ARGSETS if c.float32]


@pytest.mark.parametrize("c, i", FLOAT32, ids=_ids(FLOAT32))
def test_float32_in_float32_out(c, i):
    args = _float32(c.argsets[i](np.random.default_rng(i)))
    w = np.float32(1.0) * weights(c.f, *args, dtype=np.float32)
    arrays = [k for k in c.wrt if isinstance(args[k], np.ndarray) and args[k].ndim]
    for k in arrays:
        g = ad.grad(c.f, wrt=k)(*args, w)
        assert g.dtype == np.float32
        raw = raw_gradient(c.f, k)(*args, w)
        assert np.result_type(raw) == np.float32, ad.grad(c.f, wrt=k).source


@pytest.mark.parametrize("c, i", ARGSETS, ids=_ids(ARGSETS))
def test_forward_mode_agrees_with_the_adjoint(c, i):
    """<grad, t> == jvp(t) for a random tangent of every differentiable operand."""
    rng = np.random.default_rng(i)
    args = c.argsets[i](rng)
    w = weights(c.f, *args)
    wrt = _differentiable(c, args)
    tangents = tuple(
        rng.normal(size=np.shape(args[k])) if np.ndim(args[k]) else float(rng.normal()) for k in wrt
    )
    value_, tangent = ad.jvp(c.f, wrt=wrt)(*args, w, tangents)
    grads = ad.grad(c.f, wrt=wrt)(*args, w)
    expected = sum(float(np.sum(g * t)) for g, t in zip(grads, tangents, strict=True))
    assert value_ == pytest.approx(c.f(*args, w), rel=1e-12)
    assert tangent == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("c, i", ARGSETS, ids=_ids(ARGSETS))
def test_hvp_matches_finite_differences_of_the_gradient(c, i):
    rng = np.random.default_rng(i)
    args = c.argsets[i](rng)
    w = weights(c.f, *args)
    k = _differentiable(c, args)[0]
    if not isinstance(args[k], np.ndarray):
        return  # (hvp takes array directions)
    v = rng.normal(size=np.shape(args[k]))
    hv = ad.hvp(c.f, wrt=k)(*args, w, v)
    g = ad.grad(c.f, wrt=k)
    eps = 1e-5
    up, down = list(args), list(args)
    up[k], down[k] = args[k] + eps * v, args[k] - eps * v
    fd = (g(*up, w) - g(*down, w)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-4, atol=1e-6 * (1 + np.max(np.abs(fd))))


# ------------------------------------------------------- conventions and refusals


def quantile_nearest(x):
    return np.quantile(x, 0.3, method="nearest")


def quantile_two_axes(x):
    return np.sum(np.quantile(x, 0.3, axis=(0, 1)))


def interp_periodic(fp):
    return np.sum(np.interp(np.array([0.2, 3.1]), XP, fp, period=4.0))


def average_returned(x):
    return np.average(x, weights=x * x, returned=True)[0]


def tensorsolve_axes(a):
    return np.sum(np.linalg.tensorsolve(a, np.ones(4), axes=(0,)))


@pytest.mark.parametrize(
    "f, x, message",
    [
        (quantile_nearest, np.arange(5.0), "method='nearest'"),
        (quantile_two_axes, np.ones((2, 3, 4)), "several axes"),
        (interp_periodic, np.arange(5.0), "period="),
        (average_returned, np.arange(1.0, 4.0), "returned=True"),
        (tensorsolve_axes, np.eye(4) * 2.0, "axes="),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_what_the_rules_do_not_cover_is_refused(f, x, message):
    with pytest.raises(ValueError, match=message):
        ad.grad(f)(x)


def rank_of_a_quantile(x, q):
    return np.quantile(x, q)


def block_of_pieces(x):
    return np.sum(np.block([x, x]))


def test_the_rank_of_a_quantile_and_np_block_are_refused():
    with pytest.raises(ad.AdCompileError, match="q"):
        ad.grad(rank_of_a_quantile, wrt=1)(np.arange(5.0), 0.3)
    with pytest.raises(ad.AdCompileError, match="np.block arranges nested lists"):
        ad.grad(block_of_pieces)(np.arange(3.0))


def median_of_ties(x):
    return np.median(x)


def test_quantile_gradient_at_ties_goes_to_one_element():
    # two equal middle values: the gradient goes to the statistic the stable sort ranks
    # (a subgradient: one-sided derivatives differ), and sums to 1 as the median's does
    g = ad.grad(median_of_ties)(np.array([3.0, 1.0, 1.0, 0.0]))
    assert np.sum(g) == pytest.approx(1.0)
    assert g[0] == 0.0 and g[3] == 0.0


def nan_reductions(x):
    return np.nansum(x) + np.nanmean(x) + np.nanmax(x)


def test_nan_elements_get_zero_gradient():
    g = ad.grad(nan_reductions)(np.array([0.5, np.nan, 2.0]))
    assert g[1] == 0.0 and np.all(np.isfinite(g))


def max_column_and_row_sums(a):
    return np.sum(np.linalg.norm(a, 1, axis=(1, 2)) ** 2) + np.linalg.norm(a[0], np.inf)


def test_the_max_norms_of_matrices_keep_float32():
    # (np.linalg.cond's orders 1 and inf go through them; a full reduction's seed, the
    # Python float 1.0, once made them float64)
    a = np.random.default_rng(3).uniform(-1.0, 1.0, (2, 3, 3)).astype(np.float32)
    assert raw_gradient(max_column_and_row_sums, 0)(a).dtype == np.float32
    assert_grad_matches_fd(max_column_and_row_sums, a.astype(float))


def insert_into_integers(v):
    return np.sum(np.insert(np.arange(3), 1, v) * 2.0) + v


def test_values_inserted_into_integers_are_truncated_no_derivative():
    g = assert_grad_matches_fd(insert_into_integers, 0.7)
    assert g == 1.0
    _, t = ad.jvp(insert_into_integers)(0.7, 1.0)
    assert t == 1.0
