"""Adjoints of elementwise numpy functions: one function, one line of calculus.

Each decorator records the primitive (see record.py): ``on_floats`` names its
``math`` spelling, whose rule is this template on Python floats (``np.cos``
becomes ``math.cos``, ``1`` becomes ``1.0``), so a scalar computation written with
``math`` stays in Python floats.

Conventions at kinks (documented in docs/language.md): ``abs`` has derivative
``sign(x)`` (0 at 0); ``maximum``/``minimum`` split the cotangent equally on
ties, the builtins ``max``/``min`` give it to the operand they return; ``clip``
passes the cotangent through at its bounds, and to ``a_max`` alone where the
bounds cross.
"""

import math
import operator

import numpy as np

from ..runtime import (
    abs_sign,
    clip_high,
    clip_low,
    clip_passes,
    mask_like,
    real_cotangent,
    tie_share,
    zero_like,
)
from .record import BROADCAST, UNARY, UNKNOWN
from .registry import adjoint, nondiff
from .tangents import tangent


@adjoint(np.exp, on_floats=math.exp, shape=UNARY)
def exp(dy, y, x):
    return dy * y


@tangent(np.exp)
def exp_tangent(dx, y, x):
    return dx * y


@adjoint(np.expm1, on_floats=math.expm1, shape=UNARY)
def expm1(dy, y, x):
    return dy * (y + 1)


@tangent(np.expm1)
def expm1_tangent(dx, y, x):
    return dx * (y + 1)


@adjoint(np.log, on_floats=math.log, shape=UNARY)
def log(dy, y, x):
    return dy / x


@tangent(np.log)
def log_tangent(dx, y, x):
    return dx / x


@adjoint(np.log1p, on_floats=math.log1p, shape=UNARY)
def log1p(dy, y, x):
    return dy / (1 + x)


@tangent(np.log1p)
def log1p_tangent(dx, y, x):
    return dx / (1 + x)


@adjoint(np.log2, shape=UNARY)
def log2(dy, y, x):
    return dy / (x * math.log(2))


@tangent(np.log2)
def log2_tangent(dx, y, x):
    return dx / (x * math.log(2))


@adjoint(np.log10, shape=UNARY)
def log10(dy, y, x):
    return dy / (x * math.log(10))


@tangent(np.log10)
def log10_tangent(dx, y, x):
    return dx / (x * math.log(10))


@adjoint(np.sqrt, on_floats=math.sqrt, shape=UNARY)
def sqrt(dy, y, x):
    return dy / (2 * y)


@tangent(np.sqrt)
def sqrt_tangent(dx, y, x):
    return dx / (2 * y)


@adjoint(np.square, shape=UNARY)
def square(dy, y, x):
    return dy * 2 * x


@tangent(np.square)
def square_tangent(dx, y, x):
    return 2 * x * dx


@adjoint(np.reciprocal, shape=UNARY)
def reciprocal(dy, y, x):
    return -dy * y * y


@tangent(np.reciprocal)
def reciprocal_tangent(dx, y, x):
    return -dx * y * y


@adjoint(np.sin, on_floats=math.sin, shape=UNARY)
def sin(dy, y, x):
    return dy * np.cos(x)


@tangent(np.sin)
def sin_tangent(dx, y, x):
    return dx * np.cos(x)


@adjoint(np.cos, on_floats=math.cos, shape=UNARY)
def cos(dy, y, x):
    return -dy * np.sin(x)


@tangent(np.cos)
def cos_tangent(dx, y, x):
    return -dx * np.sin(x)


@adjoint(np.tan, on_floats=math.tan, shape=UNARY)
def tan(dy, y, x):
    return dy * (1 + y * y)


@tangent(np.tan)
def tan_tangent(dx, y, x):
    return dx * (1 + y * y)


@adjoint(np.arcsin, shape=UNARY)
def arcsin(dy, y, x):
    return dy / np.sqrt(1 - x * x)


@tangent(np.arcsin)
def arcsin_tangent(dx, y, x):
    return dx / np.sqrt(1 - x * x)


@adjoint(np.arccos, shape=UNARY)
def arccos(dy, y, x):
    return -dy / np.sqrt(1 - x * x)


@tangent(np.arccos)
def arccos_tangent(dx, y, x):
    return -dx / np.sqrt(1 - x * x)


@adjoint(np.arctan, on_floats=math.atan, shape=UNARY)
def arctan(dy, y, x):
    return dy / (1 + x * x)


@tangent(np.arctan)
def arctan_tangent(dx, y, x):
    return dx / (1 + x * x)


@adjoint(np.sinh, on_floats=math.sinh, shape=UNARY)
def sinh(dy, y, x):
    return dy * np.cosh(x)


@tangent(np.sinh)
def sinh_tangent(dx, y, x):
    return dx * np.cosh(x)


@adjoint(np.cosh, on_floats=math.cosh, shape=UNARY)
def cosh(dy, y, x):
    return dy * np.sinh(x)


@tangent(np.cosh)
def cosh_tangent(dx, y, x):
    return dx * np.sinh(x)


@adjoint(np.tanh, on_floats=math.tanh, shape=UNARY)
def tanh(dy, y, x):
    return dy * (1 - y * y)


@tangent(np.tanh)
def tanh_tangent(dx, y, x):
    return dx * (1 - y * y)


@adjoint(np.abs, abs, shape=UNARY)
def absolute(dy, y, x):
    return dy * abs_sign(x)


@tangent(np.abs)
def absolute_tangent(dx, y, x):
    return dx * abs_sign(x)


@adjoint(np.exp2, shape=UNARY)
def exp2(dy, y, x):
    return dy * y * math.log(2)


@tangent(np.exp2)
def exp2_tangent(dx, y, x):
    return dx * y * math.log(2)


@adjoint(np.arcsinh, on_floats=math.asinh, shape=UNARY)
def arcsinh(dy, y, x):
    return dy / np.sqrt(x * x + 1)


@tangent(np.arcsinh)
def arcsinh_tangent(dx, y, x):
    return dx / np.sqrt(x * x + 1)


@adjoint(np.arccosh, on_floats=math.acosh, shape=UNARY)
def arccosh(dy, y, x):
    return dy / np.sqrt(x * x - 1)


@tangent(np.arccosh)
def arccosh_tangent(dx, y, x):
    return dx / np.sqrt(x * x - 1)


@adjoint(np.arctanh, on_floats=math.atanh, shape=UNARY)
def arctanh(dy, y, x):
    return dy / (1 - x * x)


@tangent(np.arctanh)
def arctanh_tangent(dx, y, x):
    return dx / (1 - x * x)


@adjoint(np.fabs, shape=UNARY)
def fabs(dy, y, x):
    return dy * np.sign(x)


@tangent(np.fabs)
def fabs_tangent(dx, y, x):
    return dx * np.sign(x)


@adjoint(np.sinc, shape=UNARY)
def sinc(dy, y, x):
    # sinc'(x) = (cos(pi x) - sinc(x)) / x, which tends to 0 at x = 0
    nonzero = np.where(x == 0, 1, x)
    return dy * np.where(x == 0, 0, (np.cos(np.pi * x) - y) / nonzero)


@tangent(np.sinc)
def sinc_tangent(dx, y, x):
    nonzero = np.where(x == 0, 1, x)
    return dx * np.where(x == 0, 0, (np.cos(np.pi * x) - y) / nonzero)


@adjoint(np.rad2deg, np.degrees, on_floats=math.degrees, shape=UNARY)
def rad2deg(dy, y, x):
    return dy * (180 / math.pi)


@tangent(np.rad2deg)
def rad2deg_tangent(dx, y, x):
    return dx * (180 / math.pi)


@adjoint(np.deg2rad, np.radians, on_floats=math.radians, shape=UNARY)
def deg2rad(dy, y, x):
    return dy * (math.pi / 180)


@tangent(np.deg2rad)
def deg2rad_tangent(dx, y, x):
    return dx * (math.pi / 180)


@adjoint(np.nan_to_num, shape=UNARY, fresh=False)
def nan_to_num(dy, y, x, copy=True, nan=0.0, posinf=None, neginf=None):
    # the replacement values are differentiable too, where they replace something
    return (
        dy * np.isfinite(x),
        None,
        np.sum(dy * np.isnan(x)),
        np.sum(dy * np.isposinf(x)),
        np.sum(dy * np.isneginf(x)),
    )


@tangent(np.nan_to_num)
def nan_to_num_tangent(
    dx, dnan, dposinf, dneginf, y, x, copy=True, nan=0.0, posinf=None, neginf=None
):
    # (the replacements' tangents may be Python floats: a mask of x's dtype keeps it)
    return (
        dx * np.isfinite(x)
        + dnan * mask_like(np.isnan(x), x)
        + dposinf * mask_like(np.isposinf(x), x)
        + dneginf * mask_like(np.isneginf(x), x)
    )


# Complex parts, on real values only: the adjoints refuse a complex operand at run
# time rather than give a derivative of the wrong convention.


@adjoint(np.real, shape=UNARY, fresh=False, converts=True)
def real(dy, y, val):
    return real_cotangent(dy, val, "np.real")


@tangent(np.real)
def real_tangent(dval, y, val):
    return real_cotangent(dval, val, "np.real")


@adjoint(np.real_if_close, shape=lambda q: q.numpy(np.real_if_close, "a"), fresh=False)
def real_if_close(dy, y, a, tol=100):
    return real_cotangent(dy, a, "np.real_if_close")


@tangent(np.real_if_close)
def real_if_close_tangent(da, y, a, tol=100):
    return real_cotangent(da, a, "np.real_if_close")


@adjoint(np.conj, np.conjugate, shape=UNARY)
def conj(dy, y, x):
    return real_cotangent(dy, x, "np.conj")


@tangent(np.conj)
def conj_tangent(dx, y, x):
    return real_cotangent(dx, x, "np.conj")


# (of a complex array, a view of its memory; of a real one, a new array of zeros that
# cannot be written: never an array the function may update in place)
@adjoint(np.imag, shape=UNARY, fresh=False)
def imag(dy, y, val):
    # the imaginary part of a real value is 0 whatever the value
    return real_cotangent(dy, val, "np.imag") * 0


@tangent(np.imag)
def imag_tangent(dval, y, val):
    return real_cotangent(dval, val, "np.imag") * 0


@adjoint(np.angle, shape=UNARY)
def angle(dy, y, z, deg=False):
    # 0 or pi on real values: piecewise constant
    return real_cotangent(dy, z, "np.angle") * 0


@tangent(np.angle)
def angle_tangent(dz, y, z, deg=False):
    return real_cotangent(dz, z, "np.angle") * 0


@adjoint(np.arctan2, shape=BROADCAST, scalar_preserving=False)
def arctan2(dz, z, x1, x2):
    # at the origin, where numpy gives 0, the derivative is taken as 0 (docs/numerics.md)
    r2 = x1 * x1 + x2 * x2
    r2 = np.where(r2 == 0, np.inf, r2)
    return dz * x2 / r2, -dz * x1 / r2


@tangent(np.arctan2)
def arctan2_tangent(dx1, dx2, z, x1, x2):
    r2 = x1 * x1 + x2 * x2
    return (dx1 * x2 - x1 * dx2) / np.where(r2 == 0, np.inf, r2)


@adjoint(np.maximum, shape=BROADCAST, scalar_preserving=True)
def maximum(dz, z, x, y):
    share = tie_share(x, y)
    return dz * share * (x >= y), dz * share * (y >= x)


@tangent(np.maximum)
def maximum_tangent(dx, dy, z, x, y):
    share = tie_share(x, y)
    return dx * share * (x >= y) + dy * share * (y >= x)


@adjoint(np.minimum, shape=BROADCAST, scalar_preserving=True)
def minimum(dz, z, x, y):
    share = tie_share(x, y)
    return dz * share * (x <= y), dz * share * (y <= x)


@tangent(np.minimum)
def minimum_tangent(dx, dy, z, x, y):
    share = tie_share(x, y)
    return dx * share * (x <= y) + dy * share * (y <= x)


# The builtins max(a, b) and min(a, b) return one of their operands itself: ``b``
# only where ``b > a`` (``b < a`` for min), else ``a``, also on ties and where either
# is NaN (max(1.0, nan) is 1.0). The operand returned gets the whole cotangent.
@adjoint(max, shape=UNKNOWN, fresh=False)
def builtin_max(dz, z, a, b):
    if b > a:
        return zero_like(a), dz
    return dz, zero_like(b)


@tangent(max)
def builtin_max_tangent(da, db, z, a, b):
    if b > a:
        return db
    return da


@adjoint(min, shape=UNKNOWN, fresh=False)
def builtin_min(dz, z, a, b):
    if b < a:
        return zero_like(a), dz
    return dz, zero_like(b)


@tangent(min)
def builtin_min_tangent(da, db, z, a, b):
    if b < a:
        return db
    return da


@adjoint(np.logaddexp, shape=BROADCAST, scalar_preserving=True)
def logaddexp(dz, z, x, y):
    return dz * np.exp(x - z), dz * np.exp(y - z)


@tangent(np.logaddexp)
def logaddexp_tangent(dx, dy, z, x, y):
    return dx * np.exp(x - z) + dy * np.exp(y - z)


@adjoint(np.fmax, shape=BROADCAST, scalar_preserving=True)
def fmax(dz, z, x1, x2):
    # like maximum, except that a NaN loses: the other operand gets the cotangent
    share = tie_share(x1, x2)
    return dz * share * ((x1 >= x2) | np.isnan(x2)), dz * share * ((x2 >= x1) | np.isnan(x1))


@tangent(np.fmax)
def fmax_tangent(dx1, dx2, z, x1, x2):
    share = tie_share(x1, x2)
    return dx1 * share * ((x1 >= x2) | np.isnan(x2)) + dx2 * share * ((x2 >= x1) | np.isnan(x1))


@adjoint(np.fmin, shape=BROADCAST, scalar_preserving=True)
def fmin(dz, z, x1, x2):
    share = tie_share(x1, x2)
    return dz * share * ((x1 <= x2) | np.isnan(x2)), dz * share * ((x2 <= x1) | np.isnan(x1))


@tangent(np.fmin)
def fmin_tangent(dx1, dx2, z, x1, x2):
    share = tie_share(x1, x2)
    return dx1 * share * ((x1 <= x2) | np.isnan(x2)) + dx2 * share * ((x2 <= x1) | np.isnan(x1))


@adjoint(np.hypot, shape=BROADCAST, scalar_preserving=True)
def hypot(dz, z, x1, x2):
    # at the origin hypot has a kink like abs: derivative 0 there
    nonzero = np.where(z == 0, 1, z)
    return dz * x1 / nonzero, dz * x2 / nonzero


@tangent(np.hypot)
def hypot_tangent(dx1, dx2, z, x1, x2):
    nonzero = np.where(z == 0, 1, z)
    return (dx1 * x1 + dx2 * x2) / nonzero


@adjoint(np.logaddexp2, shape=BROADCAST, scalar_preserving=True)
def logaddexp2(dz, z, x1, x2):
    return dz * np.exp2(x1 - z), dz * np.exp2(x2 - z)


@tangent(np.logaddexp2)
def logaddexp2_tangent(dx1, dx2, z, x1, x2):
    return dx1 * np.exp2(x1 - z) + dx2 * np.exp2(x2 - z)


@adjoint(np.where, shape=BROADCAST)
def where(dz, z, condition, x, y):
    return None, np.where(condition, dz, 0.0), np.where(condition, 0.0, dz)


@tangent(np.where)
def where_tangent(dx, dy, z, condition, x, y):
    return np.where(condition, dx, dy)


@adjoint(np.clip, shape=BROADCAST)
def clip(dz, z, a, a_min=None, a_max=None):
    # ``a`` keeps the cotangent wherever clip let it through (bounds included); where
    # the bounds cross (a_min > a_max) numpy returns a_max, which gets it all.
    return (
        dz * clip_passes(a, a_min, a_max),
        dz * clip_low(a, a_min, a_max),
        dz * clip_high(a, a_min, a_max),
    )


@tangent(np.clip)
def clip_tangent(da, da_min, da_max, z, a, a_min=None, a_max=None):
    return (
        da * clip_passes(a, a_min, a_max)
        + da_min * mask_like(clip_low(a, a_min, a_max), a)
        + da_max * mask_like(clip_high(a, a_min, a_max), a)
    )


@adjoint(np.cbrt, shape=UNARY)
def cbrt(dy, y, x):
    # infinite at x == 0, as sqrt's
    return dy / (3 * (y * y))


@tangent(np.cbrt)
def cbrt_tangent(dx, y, x):
    return dx / (3 * (y * y))


@adjoint(np.copysign, shape=BROADCAST, scalar_preserving=True)
def copysign(dy, y, x1, x2):
    # |x1| with the sign of x2: the slope of |x1| (0 at x1 == 0, abs's convention) times
    # that sign; piecewise constant in x2 (its sign), derivative 0 there
    return dy * np.sign(x1) * np.copysign(1, x2), None


@tangent(np.copysign)
def copysign_tangent(dx1, y, x1, x2):
    return dx1 * np.sign(x1) * np.copysign(1, x2)


@adjoint(np.float_power, shape=BROADCAST, scalar_preserving=True)
def float_power(dz, z, x, p):
    # np.power's readings at p == 0 and x == 0, in float64 (what np.float_power computes)
    return (
        dz * p * np.float_power(x, p - (p != 0)),
        dz * z * np.log(np.where(x == 0, 1.0, x)),
    )


@tangent(np.float_power)
def float_power_tangent(dx, dp, z, x, p):
    return dx * p * np.float_power(x, p - (p != 0)) + dp * z * np.log(np.where(x == 0, 1.0, x))


# piecewise constant: derivative 0 wherever it exists
nondiff(
    np.heaviside,
    np.sign,
    np.floor,
    np.ceil,
    (np.round, np.around),
    np.rint,
    np.trunc,
    np.isnan,
    np.isinf,
    np.isfinite,
    np.greater,
    np.greater_equal,
    np.less,
    np.less_equal,
    np.equal,
    np.not_equal,
    np.logical_and,
    np.logical_or,
    np.logical_not,
    np.floor_divide,
    np.fix,
    np.logical_xor,
    np.signbit,
    np.isposinf,
    np.isneginf,
    np.isreal,
    np.iscomplex,
    np.isclose,
    # bitwise operators: on booleans and integers (masks), which have no derivative
    (np.bitwise_and, operator.and_),
    (np.bitwise_or, operator.or_),
    (np.bitwise_xor, operator.xor),
    (np.invert, operator.invert),
    (np.left_shift, operator.lshift),
    (np.right_shift, operator.rshift),
)
