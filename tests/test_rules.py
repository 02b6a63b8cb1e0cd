"""Every adjoint rule in the registry, checked against central finite differences.

Each test function below is an ordinary ``def`` (adcompile reads its source) of
the form ``return np.sum(<primitive applied to the inputs> * c)``: the weights
``c`` are random, so the cotangent reaching the rule is not uniform and a rule
that transposes, reorders or misplaces its contribution cannot pass by symmetry.
The shape of ``c`` is found by running the function once with a probe in its
place (see :func:`weights`).

Inputs stay away from kinks and singular points; the conventions at kinks
(``abs'(0) = 0``, ties of ``maximum``/``minimum`` and of ``max``/``min``
reductions, ``clip`` at its bounds) and ``prod`` with zeros have their own
tests with exact expected values. ``test_every_rule_is_tested`` fails when a
rule is registered that no test here exercises.
"""

import ast
import math
import os
import pathlib
import subprocess
import sys
import types

import numpy
import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile import frontend, normalize, pipeline, runtime
from adcompile.rules import RULES, primitives, registry
from adcompile.rules import record as kinds

FLOAT = "float"  # as a shape: a Python float rather than an array

# ------------------------------------------------------------------ inputs


def _any(rng, shape):
    return rng.uniform(-1.0, 1.0, shape)


def _pos(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def _unit(rng, shape):
    return rng.uniform(-0.8, 0.8, shape)


def _mod_x(rng, shape):
    return rng.uniform(2.7, 2.9, shape)  # x / y between 1.08 and 1.93: floor(x / y) == 1


def _mod_y(rng, shape):
    return rng.uniform(1.5, 2.5, shape)


def _away0(rng, shape):
    return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def value(rng, shape, domain=_any, dtype=np.float64):
    """A random input: ``FLOAT`` gives a Python float, ``()`` a 0-d array."""
    if shape == FLOAT:
        return float(domain(rng, ()))
    return np.asarray(domain(rng, shape), dtype=dtype)


class _ShapeProbe:
    """Stands in for the weights ``c``: records the shape of what it multiplies."""

    __array_ufunc__ = None  # make numpy defer ``array * probe`` to __rmul__
    shape = None

    def __rmul__(self, other):
        self.shape = np.shape(other)
        return 0.0

    __mul__ = __rmul__


def weights(f, *args, dtype=np.float64):
    """Random weights shaped like the array that ``f(*args, c)`` multiplies by ``c``."""
    probe = _ShapeProbe()
    f(*args, probe)
    c = np.random.default_rng(99).uniform(0.5, 1.5, probe.shape).astype(dtype)
    return float(c) if probe.shape == () and dtype == np.float64 else c


def check(f, *args, wrt=0, dtype=np.float64, **tol):
    """``assert_grad_matches_fd`` on ``f(*args, c)`` with random weights ``c``."""
    c = weights(f, *args, dtype=dtype)
    return assert_grad_matches_fd(f, *args, c, wrt=wrt, **tol)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ------------------------------------------------------- elementwise, unary


def exp_(x, c):
    return np.sum(np.exp(x) * c)


def expm1_(x, c):
    return np.sum(np.expm1(x) * c)


def log_(x, c):
    return np.sum(np.log(x) * c)


def log1p_(x, c):
    return np.sum(np.log1p(x) * c)


def log2_(x, c):
    return np.sum(np.log2(x) * c)


def log10_(x, c):
    return np.sum(np.log10(x) * c)


def sqrt_(x, c):
    return np.sum(np.sqrt(x) * c)


def square_(x, c):
    return np.sum(np.square(x) * c)


def reciprocal_(x, c):
    return np.sum(np.reciprocal(x) * c)


def sin_(x, c):
    return np.sum(np.sin(x) * c)


def cos_(x, c):
    return np.sum(np.cos(x) * c)


def tan_(x, c):
    return np.sum(np.tan(x) * c)


def arcsin_(x, c):
    return np.sum(np.arcsin(x) * c)


def arccos_(x, c):
    return np.sum(np.arccos(x) * c)


def arctan_(x, c):
    return np.sum(np.arctan(x) * c)


def sinh_(x, c):
    return np.sum(np.sinh(x) * c)


def cosh_(x, c):
    return np.sum(np.cosh(x) * c)


def tanh_(x, c):
    return np.sum(np.tanh(x) * c)


def abs_(x, c):
    return np.sum(np.abs(x) * c)


def absolute_(x, c):
    return np.sum(np.absolute(x) * c)


def builtin_abs_(x, c):
    return np.sum(abs(x) * c)


def negative_(x, c):
    return np.sum(-x * c)


def positive_(x, c):
    return np.sum((+x + np.positive(x)) * c)


UNARY = [
    (exp_, _any),
    (expm1_, _any),
    (log_, _pos),
    (log1p_, _pos),
    (log2_, _pos),
    (log10_, _pos),
    (sqrt_, _pos),
    (square_, _any),
    (reciprocal_, _away0),
    (sin_, _any),
    (cos_, _any),
    (tan_, _unit),
    (arcsin_, _unit),
    (arccos_, _unit),
    (arctan_, _any),
    (sinh_, _any),
    (cosh_, _any),
    (tanh_, _any),
    (abs_, _away0),
    (absolute_, _away0),
    (builtin_abs_, _away0),
    (negative_, _any),
    (positive_, _any),
]
UNARY_SHAPES = [FLOAT, (), (5,), (2, 3)]


def _name(f):
    return getattr(f, "__name__", str(f)).rstrip("_")


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("f, domain", UNARY, ids=[_name(f) for f, _ in UNARY])
def test_unary(f, domain, shape, rng):
    check(f, value(rng, shape, domain))


def math_aliases_(x, c):
    y = math.exp(x) + math.log(x) + math.log1p(x) + math.expm1(x) + math.sqrt(x)
    z = math.sin(x) * math.cos(x) + math.tan(x) + math.tanh(x) + math.atan(x)
    return (y + z + math.sinh(x) + math.cosh(x) + math.pow(x, 2.5) + float(x)) * c


def test_math_and_builtin_spellings_share_the_rules():
    check(math_aliases_, 0.7)


# ------------------------------------------------------ elementwise, binary


def add_(x, y, c):
    return np.sum((x + y) * c)


def subtract_(x, y, c):
    return np.sum((x - y) * c)


def multiply_(x, y, c):
    return np.sum((x * y) * c)


def divide_(x, y, c):
    return np.sum((x / y) * c)


def power_(x, y, c):
    return np.sum((x**y) * c)


def np_add_(x, y, c):
    return np.sum(np.add(x, y) * c)


def np_subtract_(x, y, c):
    return np.sum(np.subtract(x, y) * c)


def np_multiply_(x, y, c):
    return np.sum(np.multiply(x, y) * c)


def np_divide_(x, y, c):
    return np.sum(np.divide(x, y) * c)


def np_power_(x, y, c):
    return np.sum(np.power(x, y) * c)


def arctan2_(x, y, c):
    return np.sum(np.arctan2(x, y) * c)


def maximum_(x, y, c):
    return np.sum(np.maximum(x, y) * c)


def minimum_(x, y, c):
    return np.sum(np.minimum(x, y) * c)


def logaddexp_(x, y, c):
    return np.sum(np.logaddexp(x, y) * c)


def mod_(x, y, c):
    return np.sum((x % y) * c)


BINARY = [
    (add_, _any, _any),
    (subtract_, _any, _any),
    (multiply_, _any, _any),
    (divide_, _any, _away0),
    (power_, _pos, _any),
    (np_add_, _any, _any),
    (np_subtract_, _any, _any),
    (np_multiply_, _any, _any),
    (np_divide_, _any, _away0),
    (np_power_, _pos, _any),
    (arctan2_, _away0, _away0),
    (maximum_, _any, _any),
    (minimum_, _any, _any),
    (logaddexp_, _any, _any),
    (mod_, _mod_x, _mod_y),
]
# Every operand broadcast, in turn: against each other, against a missing
# leading axis, against a 0-d array and against a Python float.
BROADCAST_PAIRS = [
    ((2, 3), (2, 3)),
    ((3, 1), (1, 4)),
    ((1, 4), (3, 1)),
    ((4,), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 3), (4, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    (FLOAT, (2, 3)),
    ((2, 3), FLOAT),
    (FLOAT, ()),
    ((), ()),
    (FLOAT, FLOAT),
]


def distinct_pair(rng, sx, sy, dx=_any, dy=_any, gap=1e-3):
    """Inputs whose broadcast elements differ by more than ``gap`` (no ties for max/min)."""
    while True:
        x, y = value(rng, sx, dx), value(rng, sy, dy)
        if np.min(np.abs(np.subtract(x, y))) > gap:
            return x, y


@pytest.mark.parametrize("sx, sy", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("f, dx, dy", BINARY, ids=[_name(f) for f, _, _ in BINARY])
def test_binary(f, dx, dy, sx, sy, rng):
    x, y = distinct_pair(rng, sx, sy, dx, dy)
    check(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("sx, sy", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("f, dx, dy", BINARY, ids=[_name(f) for f, _, _ in BINARY])
@pytest.mark.parametrize("wrt", [0, 1])
def test_binary_one_operand(f, dx, dy, sx, sy, wrt, rng):
    """Only one operand active: the rule is inlined for that operand alone."""
    x, y = distinct_pair(rng, sx, sy, dx, dy)
    check(f, x, y, wrt=wrt)


def same_operand_(x, c):
    return np.sum((x * x + x / (x + 3.0) - x**x) * c)


def test_binary_same_operand_both_sides(rng):
    check(same_operand_, value(rng, (2, 3), _pos))


# Constant operands, literal or global, on either side.
G = np.linspace(0.5, 1.5, 12).reshape(3, 4)


def mul_const_(x, c):
    return np.sum((x * 2.0) * c)


def rmul_const_(x, c):
    return np.sum((2.0 * x) * c)


def sub_const_(x, c):
    return np.sum((x - 3.0) * c)


def rsub_const_(x, c):
    return np.sum((3.0 - x) * c)


def div_const_(x, c):
    return np.sum((x / 4.0) * c)


def rdiv_const_(x, c):
    return np.sum((4.0 / x) * c)


def pow_int_(x, c):
    return np.sum(x**3 * c)


def pow_half_(x, c):
    return np.sum(x**0.5 * c)


def rpow_const_(x, c):
    return np.sum(2.0**x * c)


def pow_global_(x, c):
    return np.sum(x**G * c)


def mul_global_(x, c):
    return np.sum((x * G) * c)


def rsub_global_(x, c):
    return np.sum((G - x) * c)


def max_const_(x, c):
    return np.sum(np.maximum(x, 0.1) * c)


def min_const_(x, c):
    return np.sum(np.minimum(0.1, x) * c)


def arctan2_const_(x, c):
    return np.sum((np.arctan2(x, 2.0) + np.arctan2(0.5, x)) * c)


def logaddexp_const_(x, c):
    return np.sum(np.logaddexp(x, 0.3) * c)


def augmented_(x, c):
    y = x * 1.0
    y += x
    y -= 0.5
    y *= x
    y /= 3.0
    return np.sum(y * c)


CONSTANT_OPERAND = [
    mul_const_,
    rmul_const_,
    sub_const_,
    rsub_const_,
    div_const_,
    rdiv_const_,
    pow_int_,
    pow_half_,
    rpow_const_,
    pow_global_,
    mul_global_,
    rsub_global_,
    max_const_,
    min_const_,
    arctan2_const_,
    logaddexp_const_,
    augmented_,
]


@pytest.mark.parametrize("shape", [FLOAT, (), (4,), (3, 4)], ids=str)
@pytest.mark.parametrize("f", CONSTANT_OPERAND, ids=_name)
def test_constant_operand(f, shape, rng):
    check(f, value(rng, shape, _pos))


# ------------------------------------------------------------ where, clip


def where_(m, x, y, c):
    return np.sum(np.where(m > 0, x, y) * c)


def leaky_relu_(x, c):
    return np.sum(np.where(x > 0, x, 0.1 * x) * c)


@pytest.mark.parametrize("shape", [FLOAT, (), (3, 4)], ids=str)
def test_where_on_own_operand(shape, rng):
    check(leaky_relu_, value(rng, shape, _away0))


def where_const_(m, x, y, c):
    return np.sum((np.where(m > 0, x, 0.0) + np.where(m < 0.5, 2.0, y)) * c)


WHERE_SHAPES = [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 4), (4,), (3, 1)),
    ((4,), (3, 4), FLOAT),
    ((3, 1), (), (1, 4)),
    ((2, 3), FLOAT, (2, 3)),
    ((), (3,), ()),
    (FLOAT, FLOAT, FLOAT),
]


@pytest.mark.parametrize("sm, sx, sy", WHERE_SHAPES, ids=str)
@pytest.mark.parametrize("f", [where_, where_const_], ids=_name)
def test_where(f, sm, sx, sy, rng):
    m = value(rng, sm)
    check(f, m, value(rng, sx), value(rng, sy), wrt=(1, 2))


# ----------------------------------------------- constructors of float values


def full_(v, c):
    return np.sum(np.full((2, 3), v) * c)


def full_like_(x, v, c):
    return np.sum(np.full_like(x, v) * x * c)


def linspace_(a, b, c):
    return np.sum(np.linspace(a, b, 5) * c)


def linspace_open_(a, b, c):
    return np.sum(np.linspace(a, b, num=4, endpoint=False, axis=-1) * c)


def arange_(x, s, c):
    return np.sum(np.arange(x, x + 2.5, s) * c)


@pytest.mark.parametrize("shape", [FLOAT, (), (3,), (2, 1)], ids=str)
def test_full(shape, rng):
    check(full_, value(rng, shape))
    check(full_like_, value(rng, (2, 3)), value(rng, shape), wrt=(0, 1))


@pytest.mark.parametrize("sa, sb", [(FLOAT, FLOAT), ((), ()), ((3,), ()), ((2, 1), (3,))], ids=str)
@pytest.mark.parametrize("f", [linspace_, linspace_open_], ids=_name)
def test_linspace(f, sa, sb, rng):
    check(f, value(rng, sa), value(rng, sb), wrt=(0, 1))


@pytest.mark.parametrize("shape", [FLOAT, ()], ids=str)
def test_arange(shape, rng):
    # a step near 0.6: the length, a step function of the step, stays the same
    s = value(rng, shape, lambda r, sh: r.uniform(0.55, 0.65, sh))
    check(arange_, value(rng, shape), s, wrt=(0, 1))


def clip_(x, lo, hi, c):
    return np.sum(np.clip(x, lo, hi) * c)


def clip_const_(x, c):
    return np.sum(np.clip(x, -0.5, 0.5) * c)


def clip_lower_only_(x, c):
    return np.sum(np.clip(x, -0.5, None) * c)


def clip_upper_only_(x, c):
    return np.sum(np.clip(x, None, 0.5) * c)


def clip_method_(x, c):
    return np.sum(x.clip(-0.5, 0.5) * c)


CLIP_SHAPES = [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 4), (4,), (3, 1)),
    ((3, 4), FLOAT, ()),
    ((4,), (3, 1), FLOAT),
    (FLOAT, FLOAT, FLOAT),
    ((), (), ()),
]


def clip_inputs(rng, sx, slo, shi):
    """``x`` spread over (-2, 2), ``lo`` near -0.5 and ``hi`` near 0.5, never within 1e-3."""
    while True:
        x = value(rng, sx, lambda r, s: r.uniform(-2.0, 2.0, s))
        lo = value(rng, slo, lambda r, s: r.uniform(-0.8, -0.2, s))
        hi = value(rng, shi, lambda r, s: r.uniform(0.2, 0.8, s))
        if min(np.min(np.abs(np.subtract(x, lo))), np.min(np.abs(np.subtract(x, hi)))) > 1e-3:
            return x, lo, hi


@pytest.mark.parametrize("sx, slo, shi", CLIP_SHAPES, ids=str)
def test_clip(sx, slo, shi, rng):
    check(clip_, *clip_inputs(rng, sx, slo, shi), wrt=(0, 1, 2))


@pytest.mark.parametrize("shape", [FLOAT, (), (3, 4)], ids=str)
@pytest.mark.parametrize(
    "f", [clip_const_, clip_lower_only_, clip_upper_only_, clip_method_], ids=_name
)
def test_clip_constant_bounds(f, shape, rng):
    if f is clip_method_ and shape == FLOAT:
        pytest.skip("a Python float has no .clip()")
    x, _, _ = clip_inputs(rng, shape, (), ())
    check(f, x)


# --------------------------------------------------------------- reductions


def sum_(x, axis, keepdims, c):
    return np.sum(np.sum(x, axis=axis, keepdims=keepdims) * c)


def mean_(x, axis, keepdims, c):
    return np.sum(np.mean(x, axis=axis, keepdims=keepdims) * c)


def max_(x, axis, keepdims, c):
    return np.sum(np.max(x, axis=axis, keepdims=keepdims) * c)


def min_(x, axis, keepdims, c):
    return np.sum(np.min(x, axis=axis, keepdims=keepdims) * c)


def amax_(x, axis, keepdims, c):
    return np.sum(np.amax(x, axis=axis, keepdims=keepdims) * c)


def prod_(x, axis, keepdims, c):
    return np.sum(np.prod(x, axis=axis, keepdims=keepdims) * c)


def var_(x, axis, keepdims, c):
    return np.sum(np.var(x, axis=axis, keepdims=keepdims) * c)


def std_(x, axis, keepdims, c):
    return np.sum(np.std(x, axis=axis, keepdims=keepdims) * c)


def var_ddof_(x, axis, keepdims, c):
    return np.sum(np.var(x, axis=axis, ddof=1, keepdims=keepdims) * c)


def std_ddof_(x, axis, keepdims, c):
    return np.sum(np.std(x, axis=axis, ddof=1, keepdims=keepdims) * c)


REDUCTIONS = [
    (sum_, _any),
    (mean_, _any),
    (max_, _any),
    (min_, _any),
    (amax_, _any),
    (prod_, _away0),
    (var_, _any),
    (std_, _any),
    (var_ddof_, _any),
    (std_ddof_, _any),
]
AXES = [None, 0, 1, 2, -1, -3, (0, 2), (-1, 0), (0, 1, 2), ()]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("f, domain", REDUCTIONS, ids=[_name(f) for f, _ in REDUCTIONS])
def test_reduction(f, domain, axis, keepdims, rng):
    if axis == () and f in (var_ddof_, std_ddof_):
        pytest.skip("ddof=1 needs two elements in each reduction")
    check(f, value(rng, (2, 3, 4), domain), axis, keepdims)


@pytest.mark.parametrize(
    "shape, axis", [((5,), 0), ((5,), None), ((), None), (FLOAT, None), ((1, 4), 0)], ids=str
)
@pytest.mark.parametrize("f, domain", REDUCTIONS, ids=[_name(f) for f, _ in REDUCTIONS])
def test_reduction_small(f, domain, shape, axis, rng):
    x = value(rng, shape, domain)
    if f in (var_ddof_, std_ddof_) and np.size(x) == np.size(np.sum(x, axis=axis)):
        pytest.skip("ddof=1 needs two elements in each reduction")
    check(f, x, axis, False)


# The axis spelled as a literal, positionally and by keyword, as users write it.
def sum_literal_(x, c):
    return np.sum(np.sum(x, axis=1) * c)


def sum_positional_(x, c):
    return np.sum(np.sum(x, 0) * c)


def mean_tuple_keepdims_(x, c):
    return np.sum(np.mean(x, axis=(0, 2), keepdims=True) * c)


def max_negative_(x, c):
    return np.sum(np.max(x, axis=-1) * c)


def min_positional_(x, c):
    return np.sum(np.min(x, 1) * c)


def prod_literal_(x, c):
    return np.sum(np.prod(x, axis=(1, 2)) * c)


def var_literal_(x, c):
    return np.sum(np.var(x, axis=0, ddof=1) * c)


def std_literal_(x, c):
    return np.sum(np.std(x, axis=-1, keepdims=True) * c)


def full_reductions_(x, c):
    return (np.sum(x) + np.mean(x) + np.max(x) + np.min(x) + np.var(x) + np.std(x)) * c


def prod_full_(x, c):
    return np.prod(x) * c


REDUCTION_LITERALS = [
    sum_literal_,
    sum_positional_,
    mean_tuple_keepdims_,
    max_negative_,
    min_positional_,
    prod_literal_,
    var_literal_,
    std_literal_,
    full_reductions_,
    prod_full_,
]


@pytest.mark.parametrize("f", REDUCTION_LITERALS, ids=_name)
def test_reduction_literal_axis(f, rng):
    check(f, value(rng, (2, 3, 4), _away0))


# ------------------------------------------------------------ array methods


def m_sum_(x, c):
    return (x.sum() + np.sum(x.sum(axis=0) * c[0]) + np.sum(x.sum(1, keepdims=True) * c)) * c[1, 0]


def m_mean_(x, c):
    return np.sum(x.mean(axis=-1) * c) + x.mean()


def m_max_(x, c):
    return np.sum(x.max(axis=0) * c) + x.max()


def m_min_(x, c):
    return np.sum(x.min(1) * c) + x.min()


def m_prod_(x, c):
    return np.sum(x.prod(axis=1) * c) + x.prod()


def m_var_(x, c):
    return np.sum(x.var(axis=0) * c) + x.var()


def m_std_(x, c):
    return np.sum(x.std(axis=1, ddof=1) * c) + x.std()


def m_reshape_varargs_(x, c):
    return np.sum(x.reshape(2, 3) * c)


def m_reshape_tuple_(x, c):
    return np.sum(x.reshape((3, 2)) * c)


def m_reshape_flat_(x, c):
    return np.sum(x.reshape(-1) * c)


def m_dot_(x, c):
    return np.sum(x.dot(G[:2, :3].T) * c)


def m_T_(x, c):
    return np.sum(x.T * c)


def m_transpose_(x, c):
    return np.sum(x.transpose() * c)


def m_ravel_(x, c):
    return np.sum(x.ravel() * c)


def m_flatten_(x, c):
    return np.sum(x.flatten() * c)


def m_squeeze_(x, c):
    return np.sum(x.reshape(1, 2, 1, 3).squeeze() * c)


def m_swapaxes_(x, c):
    return np.sum(x.swapaxes(0, 1) * c)


def m_clip_(x, c):
    return np.sum(x.clip(-0.5, 0.5) * c) + np.sum(x.clip(-0.5) * c) + np.sum(x.clip(None, 0.5))


METHODS = [
    m_sum_,
    m_mean_,
    m_max_,
    m_min_,
    m_prod_,
    m_var_,
    m_std_,
    m_reshape_varargs_,
    m_reshape_tuple_,
    m_reshape_flat_,
    m_dot_,
    m_T_,
    m_transpose_,
    m_ravel_,
    m_flatten_,
    m_squeeze_,
    m_swapaxes_,
    m_clip_,
]


@pytest.mark.parametrize("f", METHODS, ids=_name)
def test_method(f, rng):
    x = value(rng, (2, 3), _away0)
    if f is m_sum_:
        c = rng.uniform(0.5, 1.5, (2, 1))
        assert_grad_matches_fd(f, x, c)
    else:
        check(f, x)


def m_transpose_axes_(x, c):
    return np.sum(x.transpose(1, 2, 0) * c) + np.sum(x.transpose((2, 0, 1)) * c[0, 0, 0])


def test_method_transpose_axes(rng):
    x = value(rng, (2, 3, 4))
    c = rng.uniform(0.5, 1.5, (3, 4, 2))
    assert_grad_matches_fd(m_transpose_axes_, x, c)


# ------------------------------------------------------------ shape changes


def reshape_(x, c):
    return np.sum(np.reshape(x, (3, 2)) * c)


def reshape_infer_(x, c):
    return np.sum(np.reshape(x, (-1, 2)) * c)


def reshape_flat_(x, c):
    return np.sum(np.reshape(x, -1) * c)


def ravel_(x, c):
    return np.sum(np.ravel(x) * c)


def transpose_(x, c):
    return np.sum(np.transpose(x) * c)


def transpose_axes_(x, c):
    return np.sum(np.transpose(x, (1, 2, 0)) * c)


def transpose_negative_axes_(x, c):
    return np.sum(np.transpose(x, (-1, 0, 1)) * c)


def transpose_keyword_(x, c):
    return np.sum(np.transpose(x, axes=(2, 1, 0)) * c)


def swapaxes_(x, c):
    return np.sum(np.swapaxes(x, 0, 2) * c)


def swapaxes_negative_(x, c):
    return np.sum(np.swapaxes(x, -1, 1) * c)


def expand_dims_(x, c):
    return np.sum(np.expand_dims(x, 0) * c)


def expand_dims_negative_(x, c):
    return np.sum(np.expand_dims(x, -1) * c)


def expand_dims_tuple_(x, c):
    return np.sum(np.expand_dims(x, (0, 2)) * c)


def squeeze_(x, c):
    return np.sum(np.squeeze(np.reshape(x, (1, 6, 1))) * c)


def squeeze_axis_(x, c):
    return np.sum(np.squeeze(np.reshape(x, (1, 6, 1)), axis=-1) * c)


def squeeze_tuple_(x, c):
    return np.sum(np.squeeze(np.reshape(x, (1, 6, 1)), (0, 2)) * c)


def broadcast_rows_(x, c):
    return np.sum(np.broadcast_to(x, (4, 6)) * c)


def broadcast_column_(x, c):
    return np.sum(np.broadcast_to(np.reshape(x, (6, 1)), (6, 3)) * c)


SHAPE_OPS = [
    (reshape_, (2, 3)),
    (reshape_, (6,)),
    (reshape_infer_, (3, 2)),
    (reshape_flat_, (2, 3)),
    (reshape_flat_, FLOAT),
    (reshape_flat_, ()),
    (ravel_, (2, 3)),
    (ravel_, (2, 3, 4)),
    (ravel_, ()),
    (ravel_, FLOAT),
    (transpose_, (2, 3)),
    (transpose_, (2, 3, 4)),
    (transpose_, (5,)),
    (transpose_axes_, (2, 3, 4)),
    (transpose_negative_axes_, (2, 3, 4)),
    (transpose_keyword_, (2, 3, 4)),
    (swapaxes_, (2, 3, 4)),
    (swapaxes_negative_, (2, 3, 4)),
    (expand_dims_, (2, 3)),
    (expand_dims_, ()),
    (expand_dims_negative_, (2, 3)),
    (expand_dims_tuple_, (2, 3)),
    (squeeze_, (6,)),
    (squeeze_, (2, 3)),
    (squeeze_axis_, (6,)),
    (squeeze_tuple_, (3, 2)),
    (broadcast_rows_, (6,)),
    (broadcast_column_, (6,)),
    (broadcast_column_, (2, 3)),
]


@pytest.mark.parametrize("f, shape", SHAPE_OPS, ids=[f"{_name(f)}-{s}" for f, s in SHAPE_OPS])
def test_shape_op(f, shape, rng):
    check(f, value(rng, shape))


def broadcast_to_scalar_(x, c):
    return np.sum(np.broadcast_to(x, (2, 3)) * c)


@pytest.mark.parametrize("shape", [FLOAT, (), (3,), (1, 3), (2, 1)], ids=str)
def test_broadcast_to(shape, rng):
    check(broadcast_to_scalar_, value(rng, shape))


# --------------------------------------------------------------- subscripts

IDX = np.array([0, 2, 0, 3, 0])  # repeated indices: their cotangents must add up
IDX2 = np.array([[1, 1], [0, 3]])
MASK = np.array([[True, False, True, True], [False, False, True, False], [True] * 4])


def item_first_(x, c):
    return np.sum(x[0] * c)


def item_last_(x, c):
    return np.sum(x[-1] * c)


def item_element_(x, c):
    return x[1, 2] * c


def slice_block_(x, c):
    return np.sum(x[1:, :2] * c)


def slice_step_(x, c):
    return np.sum(x[::2] * c)


def slice_negative_step_(x, c):
    return np.sum(x[::-1, 1:3] * c)


def new_axis_(x, c):
    return np.sum(x[:, None] * c)


def ellipsis_(x, c):
    return np.sum(x[..., 1] * c)


def int_array_(x, c):
    return np.sum(x[IDX] * c)


def int_array_columns_(x, c):
    return np.sum(x[:, IDX] * c)


def int_array_2d_(x, c):
    return np.sum(x[IDX2] * c)


def int_array_param_(x, idx, c):
    return np.sum(x[idx] * c)


def bool_mask_(x, c):
    return np.sum(x[MASK] * c)


def chained_(x, c):
    return np.sum(x[1:][0][::2] * c)


def overlapping_(x, c):
    return np.sum((x[0] * x[1] + x[:2].sum(axis=0) * x[0]) * c)


SUBSCRIPTS = [
    item_first_,
    item_last_,
    item_element_,
    slice_block_,
    slice_step_,
    slice_negative_step_,
    new_axis_,
    ellipsis_,
    int_array_,
    int_array_columns_,
    int_array_2d_,
    bool_mask_,
    chained_,
    overlapping_,
]


@pytest.mark.parametrize("f", SUBSCRIPTS, ids=_name)
def test_subscript(f, rng):
    x = value(rng, (4, 4)) if f is not bool_mask_ else value(rng, (3, 4))
    check(f, x)


def test_subscript_1d(rng):
    x = value(rng, (5,))
    for f in (item_first_, item_last_, slice_step_, new_axis_, ellipsis_, int_array_):
        check(f, x)


def test_subscript_index_argument(rng):
    check(int_array_param_, value(rng, (6,)), np.array([5, 1, 1, 5, 5]))


def computed_index_(x, c):
    n = x.shape[0]
    return np.sum((x[n - 1] + x[1:-1].sum() + x[n // 2 :: -1].sum()) * c)


def test_subscript_computed_index(rng):
    check(computed_index_, value(rng, (5, 2)))


def np_newaxis_(x, c):
    return np.sum(x[:, np.newaxis] * c)


def test_subscript_np_newaxis(rng):
    check(np_newaxis_, value(rng, (3,)))


# ------------------------------------------------------ concatenate, stack


def concatenate_(x, y, c):
    return np.sum(np.concatenate((x, y)) * c)


def concatenate_axis1_(x, y, c):
    return np.sum(np.concatenate([x, y], axis=1) * c)


def concatenate_negative_(x, y, c):
    return np.sum(np.concatenate((x, y), axis=-1) * c)


def concatenate_none_(x, y, c):
    return np.sum(np.concatenate((x, y), axis=None) * c)


def concatenate_repeat_(x, y, c):
    return np.sum(np.concatenate((x, G[:1, :3], y, x)) * c)


def hstack_(x, y, c):
    return np.sum(np.hstack((x, y)) * c)


def hstack_number_(x, y, c):
    return np.sum(np.hstack((x, 1.5, y, x)) * c)


def vstack_(x, y, c):
    return np.sum(np.vstack((x, y, x)) * c)


def vstack_rows_(x, y, c):
    # 1-d pieces (and numbers) are rows of one
    return np.sum(np.vstack([y, x, y]) * c)


def stack_(x, y, c):
    return np.sum(np.stack((x, y)) * c)


def stack_axis1_(x, y, c):
    return np.sum(np.stack([x, y], axis=1) * c)


def stack_negative_(x, y, c):
    return np.sum(np.stack((x, y), axis=-1) * c)


def stack_repeat_(x, y, c):
    return np.sum(np.stack((y, x, G[0, :3], x)) * c)


JOINS = [
    (concatenate_, (2, 3), (4, 3)),
    (concatenate_, (3,), (2,)),
    (concatenate_axis1_, (2, 3), (2, 1)),
    (concatenate_negative_, (2, 3), (2, 2)),
    (concatenate_none_, (2, 3), (4,)),
    (concatenate_repeat_, (1, 3), (2, 3)),
    (hstack_, (2, 3), (2, 1)),
    (hstack_, (3,), (2,)),
    (hstack_number_, (3,), (2,)),
    (hstack_number_, (3,), ()),
    (vstack_, (2, 3), (1, 3)),
    (vstack_, (2, 3), (3,)),
    (vstack_, (3,), (3,)),
    (vstack_, (), ()),
    (vstack_rows_, (2, 3), (3,)),
    (stack_, (2, 3), (2, 3)),
    (stack_, (3,), (3,)),
    (stack_, (), ()),
    (stack_axis1_, (2, 3), (2, 3)),
    (stack_negative_, (2, 3), (2, 3)),
    (stack_repeat_, (3,), (3,)),
]


@pytest.mark.parametrize("wrt", [(0, 1), 0, 1], ids=str)
@pytest.mark.parametrize("f, sx, sy", JOINS, ids=[f"{_name(f)}-{a}-{b}" for f, a, b in JOINS])
def test_join(f, sx, sy, wrt, rng):
    check(f, value(rng, sx), value(rng, sy), wrt=wrt)


# ------------------------------------------------------ products, linalg


def matmul_(x, y, c):
    return np.sum((x @ y) * c)


def np_matmul_(x, y, c):
    return np.sum(np.matmul(x, y) * c)


def dot_(x, y, c):
    return np.sum(np.dot(x, y) * c)


def outer_(x, y, c):
    return np.sum(np.outer(x, y) * c)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((1, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (1, 3, 4)),
    ((5, 2, 3), (3,)),
    ((3,), (5, 3, 4)),
    ((2, 1, 2, 3), (4, 3, 2)),
]
DOT_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((), (2, 3)),
    ((3,), ()),
    (FLOAT, (2, 3)),
    ((3,), FLOAT),
    (FLOAT, FLOAT),
    ((2, 3, 4), (4,)),
    ((4,), (5, 4, 2)),
    ((2, 4), (3, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (5, 4, 2)),
]
OUTER_SHAPES = [((3,), (4,)), ((2, 2), (3,)), ((3,), (2, 2)), ((), (3,)), (FLOAT, (3,))]
PRODUCTS = (
    [(matmul_, a, b) for a, b in MATMUL_SHAPES]
    + [(np_matmul_, a, b) for a, b in MATMUL_SHAPES[:4]]
    + [(dot_, a, b) for a, b in DOT_SHAPES]
    + [(outer_, a, b) for a, b in OUTER_SHAPES]
)


@pytest.mark.parametrize("f, sx, sy", PRODUCTS, ids=[f"{_name(f)}-{a}-{b}" for f, a, b in PRODUCTS])
@pytest.mark.parametrize("wrt", [(0, 1), 0, 1], ids=str)
def test_product(f, sx, sy, wrt, rng):
    check(f, value(rng, sx), value(rng, sy), wrt=wrt)


def matmul_self_(x, c):
    return np.sum((x @ x.T) * c[0, 0]) + np.sum(x.T @ x)


def test_matmul_same_operand(rng):
    assert_grad_matches_fd(matmul_self_, value(rng, (2, 3)), np.full((1, 1), 0.7))


# ---------------------------------------------------- conventions at kinks


def sum_abs(x):
    return np.sum(np.abs(x))


def sum_builtin_abs(x):
    return abs(x)


def test_abs_at_zero_has_zero_derivative():
    g = ad.grad(sum_abs)(np.array([-1.5, 0.0, 2.0, -0.0]))
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0, 0.0])
    assert ad.grad(sum_abs)(0.0) == 0.0
    assert ad.grad(sum_builtin_abs)(0.0) == 0.0
    assert ad.grad(sum_builtin_abs)(-2.0) == -1.0


def sum_maximum(x, y):
    return np.sum(np.maximum(x, y))


def sum_minimum(x, y):
    return np.sum(np.minimum(x, y))


@pytest.mark.parametrize("f", [sum_maximum, sum_minimum], ids=_name)
def test_maximum_minimum_split_ties(f):
    x = np.array([1.0, 3.0, 2.0, -1.0])
    y = np.array([1.0, 2.0, 3.0, -1.0])
    dx, dy = ad.grad(f, wrt=(0, 1))(x, y)
    above = [1.0, 0.0] if f is sum_maximum else [0.0, 1.0]
    np.testing.assert_array_equal(dx, [0.5, above[0], above[1], 0.5])
    np.testing.assert_array_equal(dy, [0.5, above[1], above[0], 0.5])
    # a broadcast operand collects its halves from every tie
    dx, dy = ad.grad(f, wrt=(0, 1))(np.array([2.0, 2.0, 2.0]), 2.0)
    np.testing.assert_array_equal(dx, [0.5, 0.5, 0.5])
    assert dy == 1.5 and type(dy) is float
    # scalars
    assert ad.grad(f, wrt=(0, 1))(1.0, 1.0) == (0.5, 0.5)


def builtin_max_(a, b, c):
    return max(a, b) * c


def builtin_min_(a, b, c):
    return min(a, b) * c


NAN = float("nan")


@pytest.mark.parametrize("sa, sb", [(FLOAT, FLOAT), ((), ()), (FLOAT, ())], ids=str)
@pytest.mark.parametrize("f", [builtin_max_, builtin_min_], ids=_name)
def test_builtin_max_min(f, sa, sb, rng):
    check(f, value(rng, sa), value(rng, sb), wrt=(0, 1))
    check(f, value(rng, sb), value(rng, sa), wrt=(0, 1))


@pytest.mark.parametrize("f", [builtin_max_, builtin_min_], ids=_name)
@pytest.mark.parametrize("args", [(1.0, NAN), (NAN, 1.0), (np.array(1.0), np.array(NAN))], ids=str)
def test_builtin_max_min_follow_python_at_nan(f, args):
    """max(a, b) is b only where b > a (min: b < a), so a NaN second operand is
    passed over: the first operand's derivative is the finite difference's, not 0
    as np.maximum's rule would give; with a NaN first operand the result is NaN."""
    a, b = args
    ga, gb = ad.grad(f, wrt=(0, 1))(a, b, 2.0)
    if np.isnan(b):
        check(f, a, b, wrt=(0, 1))
    assert (float(ga), float(gb)) == (2.0, 0.0)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")  # autograd, for b
@pytest.mark.parametrize("f", [builtin_max_, builtin_min_], ids=_name)
def test_builtin_max_min_give_a_tie_to_the_operand_they_return(f):
    """On a tie Python returns the first operand, which gets the whole cotangent
    (autograd reads it the same way); np.maximum's rule splits it instead."""
    autograd = pytest.importorskip("autograd")
    for a, b in [(1.0, 1.0), (-0.5, -0.5)]:
        got = ad.grad(f, wrt=(0, 1))(a, b, 3.0)
        want = (autograd.grad(f, 0)(a, b, 3.0), autograd.grad(f, 1)(a, b, 3.0))
        assert got == want == (3.0, 0.0)


def max_all(x):
    return np.max(x)


def min_all(x):
    return np.min(x)


ROW_WEIGHTS = np.array([1.0, 10.0])


def max_rows(x):
    return np.sum(np.max(x, axis=1) * ROW_WEIGHTS)


def min_rows_keepdims(x):
    return np.sum(np.min(x, axis=1, keepdims=True) * ROW_WEIGHTS[:, None])


def test_max_min_reductions_split_ties_equally():
    x = np.array([1.0, 3.0, 3.0, 2.0])
    np.testing.assert_array_equal(ad.grad(max_all)(x), [0, 0.5, 0.5, 0])
    np.testing.assert_array_equal(ad.grad(min_all)(-x), [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(ad.grad(max_all)(np.full(3, 4.0)), [1 / 3] * 3)
    x = np.array([[2.0, 2.0, 0.0], [1.0, 3.0, 3.0]])
    np.testing.assert_array_equal(ad.grad(max_rows)(x), [[0.5, 0.5, 0], [0, 5.0, 5.0]])
    x = np.array([[0.0, 2.0, 0.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(
        ad.grad(min_rows_keepdims)(x), [[0.5, 0, 0.5], [10 / 3, 10 / 3, 10 / 3]]
    )


def sum_clip(x, lo, hi):
    return np.sum(np.clip(x, lo, hi))


def test_clip_passes_gradient_at_bounds():
    x = np.array([-1.0, 0.0, 1.0, 2.0, -2.0])
    dx, dlo, dhi = ad.grad(sum_clip, wrt=(0, 1, 2))(x, -1.0, 1.0)
    np.testing.assert_array_equal(dx, [1, 1, 1, 0, 0])
    assert (dlo, dhi) == (1.0, 1.0)  # only from the elements strictly outside
    dx, dlo, dhi = ad.grad(sum_clip, wrt=(0, 1, 2))(x, np.full(5, -1.0), np.full(5, 1.0))
    np.testing.assert_array_equal(dlo, [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(dhi, [0, 0, 0, 1, 0])


def std_rows(x):
    return np.sum(np.std(x, axis=1) * ROW_WEIGHTS)


def test_std_at_zero_spread_has_zero_gradient(rng):
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    g = ad.grad(std_rows)(x)
    np.testing.assert_array_equal(g[0], 0.0)  # a kink, like abs'(0) = 0, and not nan
    np.testing.assert_allclose(g[1], 10 * (x[1] - x[1].mean()) / (3 * np.std(x[1])))
    assert ad.grad(std_)(5.0, None, False, 1.0) == 0.0  # the spread of one number


def base_power(x, p):
    return np.sum(x**p)


def test_power_exponent_gradient_at_zero_base():
    # d(x ** p)/dp = x ** p log(x) tends to 0 as x -> 0 for p > 0; it must not be nan
    x = np.array([0.0, 0.5, 2.0])
    dx, dp = ad.grad(base_power, wrt=(0, 1))(x, 2.5)
    assert np.isfinite(dp) and np.isfinite(dx).all()
    assert_grad_matches_fd(base_power, x, 2.5, wrt=1)
    assert_grad_matches_fd(base_power, x, np.array([1.5, 2.0, 3.0]), wrt=1)


def prod_all(x):
    return np.prod(x)


def prod_rows(x, c):
    return np.sum(np.prod(x, axis=-1) * c)


@pytest.mark.parametrize(
    "x, expected",
    [
        ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
        ([0.0, 2.0, 0.0], [0.0, 0.0, 0.0]),
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
        ([0.0], [1.0]),
    ],
)
def test_prod_with_zeros(x, expected):
    # prod is multilinear, so central differences are exact at zeros too
    x = np.array(x)
    np.testing.assert_array_equal(ad.grad(prod_all)(x), expected)
    assert_grad_matches_fd(prod_all, x)


def test_prod_with_zeros_along_axis(rng):
    x = value(rng, (3, 4), _away0)
    x[0, 1] = 0.0  # one zero in the first row
    x[1, [0, 2]] = 0.0  # two zeros in the second row
    check(prod_rows, x)
    for axis in (None, 0, (0, 1), -1):
        check(prod_, x, axis, False)


# ------------------------------------------------------ dtypes and zeros

FLOAT32_CASES = (
    [(f, domain, (2, 3)) for f, domain in UNARY]
    + [(f, dx, ((3, 1), (4,))) for f, dx, _ in BINARY if f not in (divide_, np_divide_)]
    + [(divide_, _any, ((3, 1), (4,)))]
)


@pytest.mark.parametrize(
    "f, domain, shape", FLOAT32_CASES, ids=[_name(f) for f, _, _ in FLOAT32_CASES]
)
def test_float32_in_float32_out(f, domain, shape, rng):
    tol = dict(dtype=np.float32, rtol=2e-4, atol=1e-5)
    if isinstance(shape[0], tuple):
        if f is divide_:
            x, y = value(rng, shape[0], dtype=np.float32), value(rng, shape[1], _away0, np.float32)
        else:
            x, y = distinct_pair(rng, shape[0], shape[1], domain, domain, gap=1e-2)
            x, y = x.astype(np.float32), y.astype(np.float32)
        dx, dy = check(f, x, y, wrt=(0, 1), **tol)
        assert dx.dtype == dy.dtype == np.float32
    else:
        g = check(f, value(rng, shape, domain, np.float32), **tol)
        assert g.dtype == np.float32


FLOAT32_STRUCTURAL = [
    (sum_, (1, True)),
    (mean_, ((0, 2), False)),
    (max_, (-1, False)),
    (min_, (None, True)),
    (prod_, (0, False)),
    (var_, (1, False)),
    (std_, (None, False)),
]


@pytest.mark.parametrize(
    "f, extra", FLOAT32_STRUCTURAL, ids=[_name(f) for f, _ in FLOAT32_STRUCTURAL]
)
def test_float32_reductions(f, extra, rng):
    x = value(rng, (2, 3, 4), _away0, np.float32)
    g = check(f, x, *extra, dtype=np.float32, rtol=2e-4, atol=1e-5)
    assert g.dtype == np.float32


@pytest.mark.parametrize("f", [int_array_, new_axis_, slice_block_, transpose_, ravel_], ids=_name)
def test_float32_shapes(f, rng):
    g = check(f, value(rng, (4, 4), dtype=np.float32), dtype=np.float32, rtol=2e-4, atol=1e-5)
    assert g.dtype == np.float32


@pytest.mark.parametrize(
    "f, sx, sy", PRODUCTS[:13], ids=[f"{_name(f)}" for f, _, _ in PRODUCTS[:13]]
)
def test_float32_products(f, sx, sy, rng):
    x, y = value(rng, sx, dtype=np.float32), value(rng, sy, dtype=np.float32)
    dx, dy = check(f, x, y, wrt=(0, 1), dtype=np.float32, rtol=2e-4, atol=1e-5)
    assert dx.dtype == dy.dtype == np.float32


def raw_gradient(f, wrt):
    """The generated gradient run as the plain Python it is, without the API's final cast
    of each gradient to its input's dtype: shows the dtype the reverse sweep computes in."""
    source = ad.grad(f, wrt=wrt).source
    namespace = {**globals(), **runtime.HELPERS}
    exec(source, namespace)
    return namespace[ast.parse(source).body[0].name]


FLOAT32_RAW = (
    [(f, (2, 3), domain, None) for f, domain in UNARY]
    + [(f, (3, 1), dx, (4,)) for f, dx, _ in BINARY if f not in (divide_, np_divide_)]
    + [(f, (2, 3, 4), domain, 1) for f, domain in REDUCTIONS]
    + [(f, shape, _any, None) for f, shape in SHAPE_OPS if shape not in (FLOAT, ())]
    + [(f, (4, 4), _any, None) for f in SUBSCRIPTS if f is not bool_mask_]
    # (np.hstack makes a float64 array of a Python number: numpy's own promotion)
    + [
        (f, sx, _any, sy)
        for f, sx, sy in JOINS
        if f not in (concatenate_repeat_, stack_repeat_, hstack_number_)
    ]
    + [(f, sx, _any, sy) for f, sx, sy in PRODUCTS if FLOAT not in (sx, sy)]
    + [(leaky_relu_, (3, 4), _away0, None), (clip_const_, (3, 4), _any, None)]
)


@pytest.mark.parametrize(
    "f, shape, domain, other",
    FLOAT32_RAW,
    ids=[f"{_name(f)}-{s}-{o}" for f, s, _, o in FLOAT32_RAW],
)
def test_float32_reverse_sweep_stays_float32(f, shape, domain, other, rng):
    """No rule promotes a float32 cotangent to float64 (which would double the cost of
    the rest of the reverse sweep, and is only hidden by the API's final cast)."""
    x = value(rng, shape, domain, np.float32)
    if isinstance(other, tuple):
        args, wrt = (x, value(rng, other, domain, np.float32)), (0, 1)
    else:
        args, wrt = ((x,) if other is None else (x, other, False)), 0
    c = weights(f, *args, dtype=np.float32)
    grads = raw_gradient(f, wrt)(*args, c)
    for g in grads if isinstance(wrt, tuple) else [grads]:
        assert np.result_type(g) == np.float32, ad.grad(f, wrt=wrt).source


def ignores_y(x, y, s):
    t = np.sign(y) + (y > 0) + y.shape[0]
    return np.sum(x * 2.0) + np.sum(t) + s * 0.0 * np.size(y)


def test_non_contributing_wrt_gives_zeros(rng):
    x = value(rng, (2, 3))
    y = value(rng, (4,), dtype=np.float32)
    dx, dy, ds = ad.grad(ignores_y, wrt=(0, 1, 2))(x, y, 3.0)
    np.testing.assert_array_equal(dx, np.full((2, 3), 2.0))
    assert isinstance(dy, np.ndarray) and dy.shape == (4,) and dy.dtype == np.float32
    np.testing.assert_array_equal(dy, 0.0)
    assert type(ds) is float and ds == 0.0


def only_x(x, y):
    return np.sum(x)


def test_unused_wrt_argument_gives_zeros():
    dx, dy = ad.grad(only_x, wrt=(0, 1))(np.ones(3), np.ones((2, 2), dtype=np.float32))
    np.testing.assert_array_equal(dx, 1.0)
    assert dy.shape == (2, 2) and dy.dtype == np.float32 and not dy.any()
    dx, dy = ad.grad(only_x, wrt=(0, 1))(np.ones(3), 2.0)
    assert type(dy) is float and dy == 0.0


def global_transpose_(x, c):
    return np.sum((x @ G.T) * c)


def global_method_(x, c):
    return np.sum(x * G.sum(axis=0) * c)


def test_attribute_of_a_global_array(rng):
    check(global_transpose_, value(rng, (2, 4)))


def test_method_of_a_global_array(rng):
    check(global_method_, value(rng, (3, 4)))


# ------------------------------------------------ names the rules also use

unreduce = np.array([1.0, 2.0, 3.0])  # a global with the name of a runtime helper
tie_share = 3.0


def shadowing_(x, centred, spread, c):
    # user names equal to the rules' helpers, locals (centred, spread, share) and
    # module (np is also a parameter of the next function)
    share = np.maximum(x, centred) * unreduce
    unbroadcast = np.std(share) + np.std(x * spread)
    return (unbroadcast * tie_share + np.sum(np.minimum(x, spread))) * c


def np_parameter_(np, x, c):
    return numpy.sum(numpy.sin(x) * np * c) + numpy.std(x)


def test_user_names_do_not_clash_with_rule_names(rng):
    x, centred, spread = (value(rng, (3,)) for _ in range(3))
    check(shadowing_, x, centred, spread, wrt=(0, 1, 2))
    check(np_parameter_, value(rng, (3,)), value(rng, (3,)), wrt=1)


# ------------------------------------------------------------- math on Python floats


def math_exp_(x):
    return math.exp(x) * 1.5


def math_expm1_(x):
    return math.expm1(x) * 1.5


def math_log_(x):
    return math.log(x) * 1.5


def math_log1p_(x):
    return math.log1p(x) * 1.5


def math_sqrt_(x):
    return math.sqrt(x) * 1.5


def math_sin_(x):
    return math.sin(x) * 1.5


def math_cos_(x):
    return math.cos(x) * 1.5


def math_tan_(x):
    return math.tan(x) * 1.5


def math_tanh_(x):
    return math.tanh(x) * 1.5


def math_atan_(x):
    return math.atan(x) * 1.5


def math_sinh_(x):
    return math.sinh(x) * 1.5


def math_cosh_(x):
    return math.cosh(x) * 1.5


MATH = [
    math_exp_,
    math_expm1_,
    math_log_,
    math_log1p_,
    math_sqrt_,
    math_sin_,
    math_cos_,
    math_tan_,
    math_tanh_,
    math_atan_,
    math_sinh_,
    math_cosh_,
]


@pytest.mark.parametrize("f", MATH, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [0.3, 0.7, 1.3])
def test_math_function_on_a_python_float(f, x):
    g = assert_grad_matches_fd(f, x)
    assert type(g) is float


def math_chain_(x, y):
    for _ in range(3):
        y = math.sin(y * x) + math.cos(y)
    return y


def test_math_functions_keep_a_scalar_loop_in_python_floats():
    dloss = ad.grad(math_chain_, wrt=(0, 1))
    dx, dy = dloss(0.5, 0.3)
    assert type(dx) is float and type(dy) is float
    assert "np." not in dloss.source


# ------------------------------------------------------------- coverage

# Every primitive record (adcompile/rules/) must be complete, and every spelling with a
# rule of its own (the canonical one, and each spelling on Python floats) must be
# used by a test function of this file or of a tests/test_rules_*.py beside it: the
# coverage is read from the test functions themselves, so there is no list here to
# keep in step with the records.


def test_every_record_is_complete():
    problems = {record.name: record.problems() for record in primitives() if record.problems()}
    assert not problems, f"incomplete primitive records: {problems}"


def test_every_template_of_adcompiles_own_reads():
    """adcompile's own templates are read on first use, not at import: each is read
    here, so that a mistake in one fails the suite rather than the first program that
    uses it."""
    for record in primitives():
        rules = [*record.rules.values(), *(rule for _, rule in record.special)]
        rules += [record.complex_rule, record.complex_tangent, *(record.tangent or {}).values()]
        for rule in rules:
            if rule is not None:
                assert rule.params and rule.name and rule.loc is not None, record.name


def test_import_reads_no_template():
    """``import adcompile`` reads no rule template (their sources took longer to read
    than the rest of the import); a rule reads its own, once, when it is first used."""
    code = """if True:
        import inspect
        read = []
        getsource = inspect.getsource
        inspect.getsource = lambda obj: read.append(obj) or getsource(obj)
        import numpy as np
        import adcompile
        from adcompile.rules import registry
        print(len(read))
        rule = registry.lookup(np.tanh)
        rule.params, rule.prelude, rule.contributions
        print(len(read), read[0] is registry.record_of(np.tanh).template)
    """
    root = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["0", "1", "True"]


def test_a_first_gradient_reads_only_the_templates_it_uses(tmp_path):
    """The names generated code must not take (``rules/free_names.py``) are known
    without reading the templates, and are the names the templates read: a first
    gradient reads the templates of its own rules, not all of them."""
    (tmp_path / "model.py").write_text(
        "import numpy as np\n\n\ndef f(x):\n    return np.sum(np.tanh(x) * x)\n"
    )
    code = """if True:
        import importlib.util, inspect
        read = []
        getsource = inspect.getsource
        inspect.getsource = lambda obj: read.append(obj) or getsource(obj)
        import numpy as np
        import adcompile as ad
        from adcompile.rules import free_names
        from model import f
        ad.grad(f)(np.ones(3))
        print(len(read))
        computed = free_names.computed()
        scipy = importlib.util.find_spec("scipy") is not None
        print(computed == free_names.BUILTIN_FREE if scipy else computed <= free_names.BUILTIN_FREE)
    """
    root = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(tmp_path)]))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    read, same = out.stdout.split()
    assert int(read) < 20, read  # (tanh's, the product's, the sum's...)
    assert same == "True", "remake rules/free_names.py (see its docstring)"


def test_every_builtin_record_declares_its_shape_kind():
    undeclared = sorted(r.name for r in primitives() if r.builtin and r.shape is None)
    assert not undeclared, f"records without a shape kind (shape=...): {undeclared}"


def test_every_rule_is_tested():
    used = _primitives_used_by_tests()
    missing = sorted(
        RULES[id(fn)].name
        for record in primitives()
        if record.differentiable and record.builtin and not _of_optional_library(record)
        for fn in (record.canonical, *record.on_floats)
        if id(fn) not in used
    )
    assert not missing, (
        f"adjoint rules without a finite-difference test in {__file__} or "
        f"tests/test_rules_*.py: {missing}"
    )


def _of_optional_library(record):
    """A record of the rules of an optional library (scipy): tests/test_rules_scipy.py
    tests those, and checks that it tests each."""
    from adcompile.rules import OPTIONAL

    module = getattr(record.template, "__module__", "")
    return module in {f"adcompile.rules.{m}" for m in OPTIONAL.values()}


def _builtin_records(*shape_kinds):
    return [r for r in primitives() if r.builtin and r.differentiable and r.shape in shape_kinds]


def _operand(shape, param):
    """A value of ``shape`` for the operand ``param`` (positive: in every domain here)."""
    value = np.full(shape, 0.5) if shape != FLOAT else 0.5
    return value > 0 if param == "condition" else value


@pytest.mark.parametrize(
    "record", _builtin_records(kinds.UNARY, kinds.BROADCAST), ids=lambda r: r.name
)
def test_shape_kinds_and_scalar_preservation_agree_with_numpy(record):
    """What a record says about shapes and scalars is what numpy does: the shape kind
    gives the result's shape, and scalar_preserving means Python floats in give a
    number (not a 0-d array) out; normalize and shapes.py read exactly these."""
    fn = record.canonical
    rule = RULES[id(fn)]
    # (a unary function's further parameters, such as nan_to_num's nan=, keep their defaults)
    rule_params = rule.params[:1] if record.shape == kinds.UNARY else rule.params
    if record.shape == kinds.UNARY:
        shapes_in, expected = [(2, 3)], (2, 3)
    else:
        shapes_in = [(3, 1), (1, 4), *[(3, 4)] * len(rule_params)][: len(rule_params)]
        expected = (3, 4)
    args = [_operand(s, p) for s, p in zip(shapes_in, rule_params, strict=True)]
    with np.errstate(all="ignore"):
        assert np.shape(fn(*args)) == expected
        on_floats = fn(*[_operand(FLOAT, p) for p in rule_params])
    assert (id(fn) in normalize.SCALAR_PRESERVING) == record.scalar_preserving
    if record.scalar_preserving:
        assert not isinstance(on_floats, np.ndarray), f"{record.name} gives a 0-d array"
    assert record.shape != kinds.UNARY or record.scalar_preserving  # as shapes.py assumes
    for spelling in record.on_floats:
        inside = 1.5 if spelling is math.acosh else 0.5  # (in every domain)
        assert type(spelling(inside)) is float


def test_functions_the_in_place_check_lists_have_no_record():
    """inplace.FRESH_OTHERS is for functions without a record: a record says it itself."""
    from adcompile import inplace

    recorded = sorted(f.__name__ for f in inplace.FRESH_OTHERS if registry.record_of(f))
    assert not recorded, f"set fresh= in their records instead: {recorded}"


def test_the_coverage_check_fails_for_an_untested_record(monkeypatch):
    """A new record that no test function uses is reported (the check can fail)."""
    saved = registry.snapshot()
    try:
        # (np.spacing is piecewise constant: the rule is made up, for the check only)
        @ad.adjoint(np.spacing, shape=kinds.UNARY)
        def spacing(dy, y, x):
            return dy * 0.0

        record = registry.record_of(np.spacing)
        monkeypatch.setattr(record, "builtin", True)
        with pytest.raises(AssertionError, match="np.spacing"):
            test_every_rule_is_tested()
        monkeypatch.setattr(record, "shape", None)
        with pytest.raises(AssertionError, match="spacing"):
            test_every_builtin_record_declares_its_shape_kind()
        monkeypatch.setattr(record, "template", None)
        with pytest.raises(AssertionError, match="differentiable but has no adjoint"):
            test_every_record_is_complete()
    finally:
        registry.restore(saved)


def _rule_test_modules():
    """This module and the other rule tests, tests/test_rules_*.py (one per family)."""
    import importlib
    import pathlib
    import sys

    here = pathlib.Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("test_rules_*.py"))
    return [sys.modules[__name__], *(importlib.import_module(n) for n in names)]


def _primitives_used_by_tests():
    used = set()
    for module in _rule_test_modules():
        used |= _primitives_used_in(module)
    return used


def _primitives_used_in(module):
    used = set()
    for name, obj in list(vars(module).items()):
        if name.startswith("test_") or not isinstance(obj, types.FunctionType):
            continue
        if obj.__module__ != module.__name__:
            continue
        try:
            fn = pipeline.front(frontend.from_function(obj))
        except Exception:  # a helper of this file, which adcompile need not accept
            continue
        used |= {id(s.prim) for s in fn.body if getattr(s, "prim", None) is not None}
    return used
