"""Adjoints of numpy's one-dimensional signal and polynomial functions: ``np.convolve``,
``np.correlate``, ``np.polyval``, ``np.trapezoid``.

Each is linear in each operand (``np.polyval`` in its coefficients), so its adjoint is
written in numpy functions that have rules of their own: the adjoint of a convolution
is a correlation of the cotangent (placed back in the full convolution with ``np.pad``),
that of a correlation a convolution's, so higher derivatives follow. The operands are
real: ``np.correlate`` conjugates a complex one, which these rules do not.
"""

import numpy as np

from ..runtime import convolve_padding, polyval_degrees, trapezoid_weights, unreduce
from .record import UNKNOWN
from .registry import adjoint
from .tangents import tangent


@adjoint(np.convolve, shape=UNKNOWN, fresh=True)
def convolve(dy, y, a, v, mode="full"):
    # y[k] = sum_i a[i] v[k - i]: the full convolution's cotangent correlated with the
    # other operand
    full = np.pad(dy, convolve_padding(a, v, mode, False))
    return np.correlate(full, v, "valid"), np.correlate(full, a, "valid")


@tangent(np.convolve)
def convolve_tangent(da, dv, y, a, v, mode="full"):
    return np.convolve(da, v, mode) + np.convolve(a, dv, mode)


@adjoint(np.correlate, shape=UNKNOWN, fresh=True)
def correlate(dy, y, a, v, mode="valid"):
    # the convolution of a with v reversed (v's own cotangent reversed back)
    full = np.pad(dy, convolve_padding(a, v, mode, True))
    return np.convolve(full, v, "valid"), np.flip(np.correlate(full, a, "valid"))


@tangent(np.correlate)
def correlate_tangent(da, dv, y, a, v, mode="valid"):
    return np.correlate(da, v, mode) + np.correlate(a, dv, mode)


@adjoint(np.polyval, shape=UNKNOWN, fresh=True)
def polyval(dy, y, p, x):
    # in p: the powers of x, summed over x's elements; in x: the derivative polynomial
    degrees = polyval_degrees(p)
    powers = np.expand_dims(x, -1) ** degrees
    return (
        np.sum(np.reshape(np.expand_dims(dy, -1) * powers, (-1, np.size(p))), axis=0),
        dy * np.polyval(p[:-1] * degrees[:-1], x),
    )


@tangent(np.polyval)
def polyval_tangent(dp, dx, y, p, x):
    return np.polyval(dp, x) + dx * np.polyval(p[:-1] * polyval_degrees(p)[:-1], x)


# np.trapezoid(y, x, dx, axis): linear in y, with weights from the spacing. The spacing
# (x, dx) has a derivative the rule does not give (constant=). numpy 2.0 renamed np.trapz
# np.trapezoid; where both exist np.trapz is an alias, written as np.trapezoid.
_TRAPEZOID = getattr(np, "trapezoid", None) or np.trapz
_OLD_NAME = (np.trapz,) if getattr(np, "trapz", _TRAPEZOID) is not _TRAPEZOID else ()


@adjoint(_TRAPEZOID, *_OLD_NAME, shape=UNKNOWN, fresh=True, constant=("x", "dx"))
def trapezoid(dz, z, y, x=None, dx=1.0, axis=-1):
    return unreduce(dz, y, axis) * trapezoid_weights(y, x, dx, axis)


@tangent(_TRAPEZOID)
def trapezoid_tangent(dy, z, y, x=None, dx=1.0, axis=-1):
    return np.sum(dy * trapezoid_weights(y, x, dx, axis), axis=axis)
