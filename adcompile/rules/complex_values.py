"""Which rules are right for complex operands, and the rules of the complex parts.

adcompile differentiates real losses of real inputs; values in between may be
complex (a Fourier transform's). The convention is autograd's (docs/numerics.md,
"Complex values"): the cotangent of ``z = x + iy`` is ``dL/dx - i dL/dy``. In it
the adjoint of a holomorphic function is its real rule read over the complex
numbers (``dy * f'(z)``, with no conjugate), and so is that of a linear map
(its transpose, not its conjugate transpose): those records are listed below as
right for complex operands. The functions that are not holomorphic get a rule of
their own for complex operands (``np.abs``, ``np.real``, ``np.imag``,
``np.conj``, ``np.angle``). A differentiated complex value reaching any other
rule is refused by name (analysis.py), and the contribution of a complex value's
cotangent to a real operand is its real part (reverse/rules.py).
"""

import operator

import numpy as np

from ..runtime import abs_complex_adjoint, angle_complex_adjoint, angle_complex_tangent

# the records marked below (imported first, whatever the order of imports)
from . import arrays, contractions, elementwise, fft, linalg, operators, reductions, shapes  # noqa: F401
from .record import DROPS, PASSES
from .registry import PRIMITIVES, complex_adjoint, complex_values
from .tangents import complex_tangent

complex_values(
    # arithmetic, and the holomorphic elementwise functions
    np.add,
    np.subtract,
    np.multiply,
    np.true_divide,
    np.negative,
    np.positive,
    np.power,
    np.exp,
    np.expm1,
    np.log,
    np.log1p,
    np.log2,
    np.log10,
    np.sqrt,
    np.square,
    np.reciprocal,
    np.sin,
    np.cos,
    np.tan,
    np.sinh,
    np.cosh,
    np.tanh,
    # sums and linear maps
    np.sum,
    np.mean,
    np.cumsum,
    np.diff,
    np.trace,
    np.matmul,
    np.dot,
    np.inner,
    np.outer,
    np.tensordot,
    np.einsum,
    np.kron,
    # moving, copying and selecting elements
    operator.getitem,
    np.reshape,
    np.ravel,
    np.transpose,
    np.squeeze,
    np.expand_dims,
    np.swapaxes,
    np.moveaxis,
    np.broadcast_to,
    np.concatenate,
    np.stack,
    np.array,
    np.asarray,
    np.copy,
    np.roll,
    np.flip,
    np.fliplr,
    np.flipud,
    np.rot90,
    np.tile,
    np.repeat,
    np.pad,
    np.diag,
    np.diagonal,
    np.triu,
    np.tril,
    np.where,
    np.fft.fftshift,
    np.fft.ifftshift,
)  # (and the transforms: rules/fft.py)


@complex_adjoint(np.abs, DROPS)
def absolute(dy, y, x):
    return abs_complex_adjoint(dy, x, y)


@complex_tangent(np.abs)
def absolute_tangent(dx, y, x):
    return np.real(np.conj(x) * dx) / np.where(y == 0, np.inf, y)


@complex_adjoint(np.real, DROPS)
def real(dy, y, val):
    return dy


@complex_tangent(np.real)
def real_tangent(dval, y, val):
    return np.real(dval)


@complex_adjoint(np.imag, DROPS)
def imag(dy, y, val):
    return dy * -1j


@complex_tangent(np.imag)
def imag_tangent(dval, y, val):
    return np.imag(dval)


@complex_adjoint(np.conj, PASSES)
def conj(dy, y, x):
    return np.conj(dy)


@complex_tangent(np.conj)
def conj_tangent(dx, y, x):
    return np.conj(dx)


@complex_adjoint(np.angle, DROPS)
def angle(dy, y, z, deg=False):
    return angle_complex_adjoint(dy, z, deg)


@complex_tangent(np.angle)
def angle_tangent(dz, y, z, deg=False):
    return angle_complex_tangent(dz, z, deg)


# Piecewise-constant functions stay so on complex values (comparisons, rounding,
# tests), except np.sign, which is z / |z| there; their results may be complex.
for _record in list(PRIMITIVES.values()):
    if _record.builtin and not _record.differentiable and _record.canonical is not np.sign:
        complex_values(_record.canonical)
