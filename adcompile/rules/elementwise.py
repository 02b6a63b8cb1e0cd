"""Adjoints of elementwise numpy functions: one function, one line of calculus.

Conventions at kinks (documented in docs/language.md): ``abs`` has derivative
``sign(x)`` (0 at 0); ``maximum``/``minimum`` split the cotangent equally on
ties; ``clip`` passes the cotangent through at its bounds.
"""

import math

import numpy as np

from ..runtime import tie_share
from .registry import adjoint, register_nondiff


@adjoint(np.exp)
def exp(dy, y, x):
    return dy * y


@adjoint(np.expm1)
def expm1(dy, y, x):
    return dy * (y + 1)


@adjoint(np.log)
def log(dy, y, x):
    return dy / x


@adjoint(np.log1p)
def log1p(dy, y, x):
    return dy / (1 + x)


@adjoint(np.log2)
def log2(dy, y, x):
    return dy / (x * math.log(2))


@adjoint(np.log10)
def log10(dy, y, x):
    return dy / (x * math.log(10))


@adjoint(np.sqrt)
def sqrt(dy, y, x):
    return dy / (2 * y)


@adjoint(np.square)
def square(dy, y, x):
    return dy * 2 * x


@adjoint(np.reciprocal)
def reciprocal(dy, y, x):
    return -dy * y * y


@adjoint(np.sin)
def sin(dy, y, x):
    return dy * np.cos(x)


@adjoint(np.cos)
def cos(dy, y, x):
    return -dy * np.sin(x)


@adjoint(np.tan)
def tan(dy, y, x):
    return dy * (1 + y * y)


@adjoint(np.arcsin)
def arcsin(dy, y, x):
    return dy / np.sqrt(1 - x * x)


@adjoint(np.arccos)
def arccos(dy, y, x):
    return -dy / np.sqrt(1 - x * x)


@adjoint(np.arctan)
def arctan(dy, y, x):
    return dy / (1 + x * x)


@adjoint(np.sinh)
def sinh(dy, y, x):
    return dy * np.cosh(x)


@adjoint(np.cosh)
def cosh(dy, y, x):
    return dy * np.sinh(x)


@adjoint(np.tanh)
def tanh(dy, y, x):
    return dy * (1 - y * y)


@adjoint(np.abs)
def absolute(dy, y, x):
    return dy * np.sign(x)


@adjoint(np.arctan2, broadcasts=True)
def arctan2(dz, z, x1, x2):
    return dz * x2 / (x1 * x1 + x2 * x2), -dz * x1 / (x1 * x1 + x2 * x2)


@adjoint(np.maximum, broadcasts=True)
def maximum(dz, z, x, y):
    share = tie_share(x, y)
    return dz * share * (x >= y), dz * share * (y >= x)


@adjoint(np.minimum, broadcasts=True)
def minimum(dz, z, x, y):
    share = tie_share(x, y)
    return dz * share * (x <= y), dz * share * (y <= x)


@adjoint(np.logaddexp, broadcasts=True)
def logaddexp(dz, z, x, y):
    return dz * np.exp(x - z), dz * np.exp(y - z)


@adjoint(np.where, broadcasts=True)
def where(dz, z, condition, x, y):
    return None, np.where(condition, dz, 0.0), np.where(condition, 0.0, dz)


@adjoint(np.clip, broadcasts=True)
def clip(dz, z, a, a_min=None, a_max=None):
    # ``a`` keeps the cotangent wherever clip let it through (bounds included);
    # a bound may be None, so the first contribution must not compare with it.
    return dz * (z == a), dz * (a < a_min), dz * (a > a_max)


register_nondiff(
    np.sign,
    np.floor,
    np.ceil,
    np.round,
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
)
