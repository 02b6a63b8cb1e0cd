"""Rules of the runtime helpers that generated code calls (``adcompile/runtime``).

Generated code is plain Python over numpy and these helpers, so it can be
differentiated again like a user's function: a Hessian-vector product is the
tangent of the generated gradient (forward over reverse), ``grad(grad(f))`` is the
gradient of the generated gradient. For that, each helper is a primitive with its
own records, like a numpy function.

Most helpers are linear in their first operand, the cotangent ``g`` (they move it
back to an operand's shape: ``unbroadcast``, ``unreduce``), so their tangent is
the helper applied to ``g``'s tangent, and their adjoint is the transposed move
(``unbroadcast`` sums, its adjoint broadcasts). The other operands are read for
their shapes only and have no derivative, except in the adjoints of ``@``, which
are bilinear. Masks (``extremum_mask``, ``clip_*``), ``abs_sign`` and zeros are piecewise
constant. Helpers not recorded here are refused by name when generated code that
calls them is differentiated (see the end of this module).
"""

from __future__ import annotations

import numpy as np

from .. import runtime
from ..runtime import (
    abs_complex_adjoint,
    add_adjoint,
    add_at,
    add_at_tangent,
    as_list,
    broadcast_like,
    copy_adjoint,
    dot_adjoint_lhs,
    dot_adjoint_rhs,
    expand_reduced,
    fit_axes,
    irfft_adjoint,
    matmul_adjoint_lhs,
    matmul_adjoint_rhs,
    matrix_part,
    mT,
    part,
    partition_tangent,
    parts,
    placed,
    real_cotangent,
    rearray,
    reconcatenate,
    restack,
    rfft_adjoint,
    running_tangent,
    scalar_divide,
    scalar_mod,
    scalar_power,
    set_at,
    set_at_tangent,
    sort_tangent,
    spread,
    sum_to,
    unarray,
    unbroadcast,
    uncast,
    unconcatenate,
    uncumsum,
    undiag,
    undiagonal,
    undiff,
    ungradient,
    unindex,
    unpad,
    unpartition,
    unplaced,
    unreduce,
    unrepeat,
    unrollaxis,
    unrunning,
    unsort,
    unstack,
    untile,
    untrace,
    untranspose,
    zeros_adjoint,
)
from . import element_writes  # noqa: F401 (their records, before the refusals below)
from .bodies import definition
from .record import BROADCAST, CONSTANT, DROPS, UNKNOWN
from .registry import PRIMITIVES, adjoint, complex_adjoint, complex_values, nondiff, refuse
from .tangents import tangent

# ------------------------------------------------------------ moving a cotangent


@adjoint(unbroadcast, shape=UNKNOWN, fresh=False)
def unbroadcast_rule(dz, z, g, x):
    return broadcast_like(dz, g), None


@tangent(unbroadcast)
def unbroadcast_tangent(dg, z, g, x):
    return unbroadcast(dg, x)


@adjoint(broadcast_like, shape=UNKNOWN, fresh=False)
def broadcast_like_rule(dz, z, t, y):
    return unbroadcast(dz, t), None


@tangent(broadcast_like)
def broadcast_like_tangent(dt, z, t, y):
    return broadcast_like(dt, y)


@adjoint(unreduce, shape=UNKNOWN, fresh=False)
def unreduce_rule(dz, z, g, x, axis=None, keepdims=False):
    return unbroadcast(np.sum(dz, axis=axis, keepdims=keepdims), g), None


@tangent(unreduce)
def unreduce_tangent(dg, z, g, x, axis=None, keepdims=False):
    return unreduce(dg, x, axis, keepdims)


@adjoint(expand_reduced, shape=UNKNOWN, fresh=False)
def expand_reduced_rule(dz, z, g, axis=None, keepdims=False):
    return np.reshape(dz, np.shape(g))


@tangent(expand_reduced)
def expand_reduced_tangent(dg, z, g, axis=None, keepdims=False):
    return expand_reduced(dg, axis, keepdims)


@adjoint(untranspose, shape=UNKNOWN, fresh=False)
def untranspose_rule(dz, z, g, axes=None):
    return np.transpose(dz, axes)


@tangent(untranspose)
def untranspose_tangent(dg, z, g, axes=None):
    return untranspose(dg, axes)


# unindex(g, x, np.s_[index]) scatters g into zeros shaped like x: its adjoint gathers
# (dz[index]), its tangent scatters the tangent. ``index`` is bound to the subscript
# as written, as in getitem's rules (normalize reads np.s_[...] as an index operand).


@adjoint(unindex, shape=UNKNOWN, fresh=True)
def unindex_rule(dz, z, g, x, index):
    return unbroadcast(broadcast_like(dz, z)[index], g), None


@tangent(unindex)
def unindex_tangent(dg, z, g, x, index):
    return unindex(broadcast_like(dg, g), x, np.s_[index])


# placed(x, where, start) gathers x's flat values at the positions where points at, and
# unplaced(g, where, start, x) adds g back at them (runtime/selecting.py): each is the
# other's transpose; where and start are integers.


@adjoint(placed, shape=UNKNOWN, fresh=True)
def placed_rule(dz, z, x, where, start=0):
    return unplaced(dz, where, start, x), None, None


@tangent(placed)
def placed_tangent(dx, z, x, where, start=0):
    return placed(dx, where, start)


@adjoint(unplaced, shape=UNKNOWN, fresh=True)
def unplaced_rule(dz, z, g, where, start, x):
    return unbroadcast(placed(dz, where, start), g), None, None, None


@tangent(unplaced)
def unplaced_tangent(dg, z, g, where, start, x):
    return unplaced(dg, where, start, x)


# unstack and unconcatenate split g into pieces (a tuple): their adjoints join the
# pieces' cotangents back (zeros for a piece without one), their tangents split dg.
# unstack's count is a constant in generated code (regenerate.py writes len((a, b))
# as 2); unconcatenate's pieces are a tuple of arrays, read for their shapes only.


@adjoint(unstack, shape=UNKNOWN, fresh=True, results=lambda n: n)
def unstack_rule(dz, z, g, n, axis=0):
    return restack(dz, g, axis)


@tangent(unstack)
def unstack_tangent(dg, z, g, n, axis=0):
    return unstack(broadcast_like(dg, g), n, axis)


@adjoint(unconcatenate, shape=UNKNOWN, fresh=False, results=lambda arrays: len(arrays))
def unconcatenate_rule(dz, z, g, arrays, axis=0, rows=False):
    return reconcatenate(dz, arrays, axis, rows), None


@tangent(unconcatenate)
def unconcatenate_tangent(dg, z, g, arrays, axis=0, rows=False):
    return unconcatenate(broadcast_like(dg, g), arrays, axis, rows)


# The adjoints of numpy's rearranging functions (rules/arrays.py) are linear in g and
# read x for its shape or its order only (the order of np.sort is piecewise constant in
# x): the tangent applies the helper to dg, the adjoint is the function itself (the
# transposed move) applied to dz.


@adjoint(uncumsum, shape=UNKNOWN, fresh=True)
def uncumsum_rule(dz, z, g, x, axis=None):
    return unbroadcast(np.reshape(np.cumsum(broadcast_like(dz, z), axis), np.shape(g)), g), None


@tangent(uncumsum)
def uncumsum_tangent(dg, z, g, x, axis=None):
    return uncumsum(broadcast_like(dg, g), x, axis)


# unrunning and running_tangent (a running max's adjoint and tangent) are linear in
# their first operand and transposes of each other; the running max they read is
# piecewise constant in a.


@adjoint(unrunning, shape=UNKNOWN, fresh=True)
def unrunning_rule(dz, z, g, a, y, axis=0):
    return running_tangent(dz, a, y, axis), None, None


@tangent(unrunning)
def unrunning_tangent(dg, z, g, a, y, axis=0):
    return unrunning(dg, a, y, axis)


@adjoint(running_tangent, shape=UNKNOWN, fresh=True)
def running_tangent_rule(dz, z, da, a, y, axis=0):
    return unrunning(dz, a, y, axis), None, None


@tangent(running_tangent)
def running_tangent_tangent(dda, z, da, a, y, axis=0):
    return running_tangent(dda, a, y, axis)


@adjoint(undiff, shape=UNKNOWN, fresh=False)
def undiff_rule(dz, z, g, n=1, axis=-1):
    return unbroadcast(np.diff(broadcast_like(dz, z), n, axis), g)


@tangent(undiff)
def undiff_tangent(dg, z, g, n=1, axis=-1):
    return undiff(broadcast_like(dg, g), n, axis)


@adjoint(unsort, shape=UNKNOWN, fresh=True)
def unsort_rule(dz, z, g, x, axis=-1):
    return unbroadcast(sort_tangent(broadcast_like(dz, z), x, axis), g), None


@tangent(unsort)
def unsort_tangent(dg, z, g, x, axis=-1):
    return unsort(broadcast_like(dg, g), x, axis)


@adjoint(unpartition, shape=UNKNOWN, fresh=True)
def unpartition_rule(dz, z, g, x, kth, axis=-1):
    return unbroadcast(partition_tangent(broadcast_like(dz, z), x, kth, axis), g), None


@tangent(unpartition)
def unpartition_tangent(dg, z, g, x, kth, axis=-1):
    return unpartition(broadcast_like(dg, g), x, kth, axis)


@adjoint(unrollaxis, shape=UNKNOWN, fresh=False)
def unrollaxis_rule(dz, z, g, x, axis, start=0):
    return unbroadcast(np.rollaxis(broadcast_like(dz, z), axis, start), g), None


@tangent(unrollaxis)
def unrollaxis_tangent(dg, z, g, x, axis, start=0):
    return unrollaxis(broadcast_like(dg, g), x, axis, start)


@adjoint(undiag, shape=UNKNOWN, fresh=True)
def undiag_rule(dz, z, g, v, k=0):
    return unbroadcast(np.diag(broadcast_like(dz, z), k), g), None


@tangent(undiag)
def undiag_tangent(dg, z, g, v, k=0):
    return undiag(broadcast_like(dg, g), v, k)


@adjoint(undiagonal, shape=UNKNOWN, fresh=True)
def undiagonal_rule(dz, z, g, x, offset=0, axis1=0, axis2=1):
    return unbroadcast(np.diagonal(broadcast_like(dz, z), offset, axis1, axis2), g), None


@tangent(undiagonal)
def undiagonal_tangent(dg, z, g, x, offset=0, axis1=0, axis2=1):
    return undiagonal(broadcast_like(dg, g), x, offset, axis1, axis2)


@adjoint(untrace, shape=UNKNOWN, fresh=True)
def untrace_rule(dz, z, g, x, offset=0, axis1=0, axis2=1):
    return unbroadcast(np.trace(broadcast_like(dz, z), offset, axis1, axis2), g), None


@tangent(untrace)
def untrace_tangent(dg, z, g, x, offset=0, axis1=0, axis2=1):
    return untrace(broadcast_like(dg, g), x, offset, axis1, axis2)


@adjoint(unrepeat, shape=UNKNOWN, fresh=True)
def unrepeat_rule(dz, z, g, x, repeats, axis=None):
    return unbroadcast(np.repeat(broadcast_like(dz, z), repeats, axis), g), None


@tangent(unrepeat)
def unrepeat_tangent(dg, z, g, x, repeats, axis=None):
    return unrepeat(broadcast_like(dg, g), x, repeats, axis)


@adjoint(untile, shape=UNKNOWN, fresh=True)
def untile_rule(dz, z, g, x, reps):
    return unbroadcast(np.tile(broadcast_like(dz, z), reps), g), None


@tangent(untile)
def untile_tangent(dg, z, g, x, reps):
    return untile(broadcast_like(dg, g), x, reps)


@adjoint(unpad, shape=UNKNOWN, fresh=False)
def unpad_rule(dz, z, g, x, pad_width, mode="constant"):
    return unbroadcast(np.pad(broadcast_like(dz, z), pad_width), g), None


@tangent(unpad)
def unpad_tangent(dg, z, g, x, pad_width, mode="constant"):
    return unpad(broadcast_like(dg, g), x, pad_width, mode)


@adjoint(uncast, shape=UNKNOWN, fresh=False)
def uncast_rule(dz, z, g, x, dtype):
    return unbroadcast(uncast(dz, g, dtype), g), None


@tangent(uncast)
def uncast_tangent(dg, z, g, x, dtype):
    return uncast(dg, x, dtype)


@adjoint(real_cotangent, shape=UNKNOWN, fresh=False)
def real_cotangent_rule(dz, z, g, x, name="np.real"):
    return dz, None


@tangent(real_cotangent)
def real_cotangent_tangent(dg, z, g, x, name="np.real"):
    return real_cotangent(dg, x, name)


@adjoint(sum_to, shape=UNKNOWN, fresh=False)
def sum_to_rule(dz, z, g, x):
    return broadcast_like(dz, g), None


@tangent(sum_to)
def sum_to_tangent(dg, z, g, x):
    return sum_to(dg, x)


# matrix_part(g, ...) keeps the entries of g that a structured solver reads (or g's
# symmetric part), and transposes them with transposed: linear, its tangent is itself,
# and its adjoint the projection (its own transpose) of the transposed cotangent
@adjoint(matrix_part, shape=UNKNOWN, fresh=True)
def matrix_part_rule(dz, z, g, structure=None, lower=False, unit_diagonal=False, transposed=False):
    return matrix_part(mT(dz) if transposed else dz, structure, lower, unit_diagonal)


@tangent(matrix_part)
def matrix_part_tangent(
    dg, z, g, structure=None, lower=False, unit_diagonal=False, transposed=False
):
    return matrix_part(dg, structure, lower, unit_diagonal, transposed)


# unarray(g, arrays) splits g into one cotangent per element of a list or tuple (or
# passes it through for one array): its adjoint puts the elements' back together


def _unarray_results(arrays):
    return len(arrays) if isinstance(arrays, tuple) else 1


@adjoint(unarray, shape=UNKNOWN, fresh=False, results=_unarray_results)
def unarray_rule(dz, z, g, arrays):
    return rearray(dz, g, arrays), None


@tangent(unarray)
def unarray_tangent(dg, z, g, arrays):
    return unarray(broadcast_like(dg, g), arrays)


# ------------------------------------------------------------ the adjoints of products

# matmul_adjoint_lhs(g, x, y) is A^T g for A: x -> x @ y, so <c, A^T g> = <c @ y, g>:
# its adjoint takes c to c @ y for g, and to matmul_adjoint_rhs(g, c, y) for y (the
# derivative of <g, c @ y> in y). x is read for its shape only. Likewise for the rhs.


@adjoint(matmul_adjoint_lhs, shape=UNKNOWN, fresh=True)
def matmul_adjoint_lhs_rule(dz, z, g, x, y):
    return unbroadcast(dz @ y, g), None, matmul_adjoint_rhs(g, dz, y)


@tangent(matmul_adjoint_lhs)
def matmul_adjoint_lhs_tangent(dg, dy, z, g, x, y):
    return matmul_adjoint_lhs(dg, x, y) + matmul_adjoint_lhs(g, x, dy)


@adjoint(matmul_adjoint_rhs, shape=UNKNOWN, fresh=True)
def matmul_adjoint_rhs_rule(dz, z, g, x, y):
    return unbroadcast(x @ dz, g), matmul_adjoint_lhs(g, x, dz), None


@tangent(matmul_adjoint_rhs)
def matmul_adjoint_rhs_tangent(dg, dx, z, g, x, y):
    return matmul_adjoint_rhs(dg, x, y) + matmul_adjoint_rhs(g, dx, y)


@adjoint(dot_adjoint_lhs, shape=UNKNOWN, fresh=True)
def dot_adjoint_lhs_rule(dz, z, g, x, y):
    return unbroadcast(np.dot(dz, y), g), None, dot_adjoint_rhs(g, dz, y)


@tangent(dot_adjoint_lhs)
def dot_adjoint_lhs_tangent(dg, dy, z, g, x, y):
    return dot_adjoint_lhs(dg, x, y) + dot_adjoint_lhs(g, x, dy)


@adjoint(dot_adjoint_rhs, shape=UNKNOWN, fresh=True)
def dot_adjoint_rhs_rule(dz, z, g, x, y):
    return unbroadcast(np.dot(x, dz), g), dot_adjoint_lhs(g, x, dz), None


@tangent(dot_adjoint_rhs)
def dot_adjoint_rhs_tangent(dg, dx, z, g, x, y):
    return dot_adjoint_rhs(dg, x, y) + dot_adjoint_rhs(g, dx, y)


# ------------------------------------------------------------ Python-number arithmetic


@adjoint(scalar_divide, shape=BROADCAST, scalar_preserving=True, fresh=True)
def scalar_divide_rule(dz, z, a, b):
    return scalar_divide(dz, b), -scalar_divide(dz * z, b)


@tangent(scalar_divide)
def scalar_divide_tangent(da, db, z, a, b):
    return scalar_divide(da - z * db, b)


@adjoint(scalar_power, shape=BROADCAST, scalar_preserving=True, fresh=True)
def scalar_power_rule(dz, z, a, b):
    # the readings of np.power's rule at b == 0 and a == 0
    return (
        dz * b * scalar_power(a, b - (b != 0)),
        dz * z * np.log(np.where(a == 0, 1.0, a)),
    )


@tangent(scalar_power)
def scalar_power_tangent(da, db, z, a, b):
    return da * b * scalar_power(a, b - (b != 0)) + db * z * np.log(np.where(a == 0, 1.0, a))


@adjoint(scalar_mod, shape=BROADCAST, scalar_preserving=True, fresh=True)
def scalar_mod_rule(dz, z, a, b):
    return dz, -dz * np.floor_divide(a, b)


@tangent(scalar_mod)
def scalar_mod_tangent(da, db, z, a, b):
    return da - db * np.floor_divide(a, b)


# ------------------------------------------------------------ containers of adjoints


@adjoint(add_adjoint, shape=UNKNOWN, fresh=False)
def add_adjoint_rule(dz, z, a, b):
    return dz, dz


@tangent(add_adjoint)
def add_adjoint_tangent(da, db, z, a, b):
    return add_adjoint(da, db)


@adjoint(as_list, shape=UNKNOWN, fresh=False)
def as_list_rule(dz, z, gs):
    return tuple(dz)


@tangent(as_list)
def as_list_tangent(dgs, z, gs):
    return as_list(dgs)


@adjoint(copy_adjoint, shape=UNKNOWN, fresh=False)
def copy_adjoint_rule(dz, z, dc):
    return copy_adjoint(dz)


@tangent(copy_adjoint)
def copy_adjoint_tangent(ddc, z, dc):
    return copy_adjoint(ddc)


@adjoint(part, shape=UNKNOWN, fresh=False)
def part_rule(dz, z, dc, key, like):
    return add_at(zeros_adjoint(dc), key, dz)


@tangent(part)
def part_tangent(ddc, z, dc, key, like):
    return part(ddc, key, like)


@adjoint(parts, shape=UNKNOWN, fresh=False)
def parts_rule(dz, z, dc, n):
    return add_at(zeros_adjoint(dc), slice(0, n), dz)


@tangent(parts)
def parts_tangent(ddc, z, dc, n):
    return parts(ddc, n)


@adjoint(add_at, shape=UNKNOWN, fresh=False)
def add_at_rule(dz, z, dc, key, g):
    return dz, None, part(dz, key, g)


@tangent(add_at)
def add_at_tangent_rule(ddc, dg, z, dc, key, g):
    return add_at_tangent(ddc, dc, key, dg)


@adjoint(set_at, shape=UNKNOWN, fresh=False)
def set_at_rule(dz, z, dc, key, g):
    return set_at(copy_adjoint(dz), key, None), None, part(dz, key, g)


@tangent(set_at)
def set_at_tangent_rule(ddc, dg, z, dc, key, g):
    return set_at_tangent(ddc, dc, key, dg)


@adjoint(spread, shape=UNKNOWN, fresh=True)
def spread_rule(dz, z, g, c):
    return broadcast_like(sum(dz), g), None


@tangent(spread)
def spread_tangent(dg, z, g, c):
    return spread(dg, c)


# The helpers whose operands are containers of adjoints (or tangents): normalize takes
# a list, tuple or dict for their operands where it would refuse one for an array's
TAKES_CONTAINERS = frozenset(
    id(fn) for fn in (add_adjoint, add_at, as_list, copy_adjoint, part, parts, set_at, spread)
)


# Their adjoints would be containers of cotangents, which the reverse sweep does not
# accumulate: reverse mode refuses them (analysis.check_reverse), forward mode (hvp,
# jvp of a gradient) differentiates them with their tangent rules
FORWARD_ONLY = TAKES_CONTAINERS


# ------------------------------------------------------------ transforms

# fit_axes(g, a, axes) cuts g, or pads it with zeros, to a's lengths along axes: linear
# in g, and its transpose is the opposite move, back to g's lengths


@adjoint(fit_axes, shape=UNKNOWN, fresh=False)
def fit_axes_rule(dz, z, g, a, axes):
    return fit_axes(dz, g, axes), None


@tangent(fit_axes)
def fit_axes_tangent(dg, z, g, a, axes):
    return fit_axes(dg, a, axes)


# rfft_adjoint is the transpose of rfftn(a, s=n) (docs/numerics.md, "Complex values"),
# linear in g: its own adjoint is that transform; irfft_adjoint likewise for irfftn


@adjoint(rfft_adjoint, shape=UNKNOWN, fresh=True)
def rfft_adjoint_rule(dz, z, g, a, n, axes, norm):
    # (a real g: the real part)
    return np.real(np.fft.rfftn(dz, s=n, axes=axes, norm=norm)), None


@complex_adjoint(rfft_adjoint, DROPS)
def rfft_adjoint_complex_rule(dz, z, g, a, n, axes, norm):
    return np.fft.rfftn(dz, s=n, axes=axes, norm=norm), None


@tangent(rfft_adjoint)
def rfft_adjoint_tangent(dg, z, g, a, n, axes, norm):
    return rfft_adjoint(dg, a, n, axes, norm)


@adjoint(irfft_adjoint, shape=UNKNOWN, fresh=True)
def irfft_adjoint_rule(dz, z, g, a, n, axes, norm):
    return np.fft.irfftn(dz, s=n, axes=axes, norm=norm), None


@tangent(irfft_adjoint)
def irfft_adjoint_tangent(dg, z, g, a, n, axes, norm):
    return irfft_adjoint(dg, a, n, axes, norm)


# The adjoint of np.abs of a complex z: w = g conj(z) / |z| (y is |z|). Its adjoint
# follows the convention of complex cotangents, in which a real-linear map's adjoint
# pairs by Re(sum(c * dz)): conj(z) has the adjoint conj(c).


def _nonzero(r):
    return np.where(r == 0, np.inf, r)


@adjoint(abs_complex_adjoint, shape=UNKNOWN, fresh=True)
def abs_complex_adjoint_rule(dw, w, g, z, y):
    s = _nonzero(y)
    return (
        unbroadcast(np.real(dw * np.conj(z)) / s, g),
        unbroadcast(g * np.conj(dw) / s, z),
        unbroadcast(-np.real(dw * w) / s, y),
    )


@tangent(abs_complex_adjoint)
def abs_complex_adjoint_tangent(dg, dz, dy, w, g, z, y):
    s = _nonzero(y)
    return (dg * np.conj(z) + g * np.conj(dz) - w * dy) / s


# ungradient(g, f, spacing) is G^T g / spacing for the differences G of np.gradient:
# linear in g, its adjoint is np.gradient itself


@adjoint(ungradient, shape=UNKNOWN, fresh=True)
def ungradient_rule(dz, z, g, f, spacing=1.0, axis=None, edge_order=1):
    return np.gradient(dz, spacing, axis=axis), None, -np.sum(dz * z) / spacing


@tangent(ungradient)
def ungradient_tangent(dg, dspacing, z, g, f, spacing=1.0, axis=None, edge_order=1):
    return ungradient(dg, f, spacing, axis, edge_order) - z * dspacing / spacing


# the rules above are right for complex cotangents; the helpers that move a cotangent
# (linear maps with real matrices) are too
complex_values(
    unbroadcast,
    broadcast_like,
    unreduce,
    expand_reduced,
    untranspose,
    fit_axes,
    irfft_adjoint,
    abs_complex_adjoint,
)


# ------------------------------------------------------------ no derivative

# zeros, masks, counts and checks: their results do not vary with the operands' values
# (zeros, counts) or are piecewise constant (masks)
nondiff(
    runtime.zero_like,
    runtime.zeros_tangent,
    runtime.zeros_adjoint,
    runtime.unit_cotangent,
    runtime.check_cotangent,
    runtime.check_unpacking,
    runtime.check_writable,
    runtime.reduced_count,
    runtime.average_weights_shape,
    # the positions and weights of the elements a function picks (runtime/selecting.py)
    runtime.take_positions,
    runtime.take_along_axis_positions,
    runtime.append_positions,
    runtime.insert_positions,
    runtime.quantile_positions,
    runtime.quantile_fraction,
    runtime.interp_positions,
    runtime.interp_weight,
    runtime.interp_inverse_width,
    # the shapes, degrees and weights of rules/signal_like.py's adjoints
    runtime.convolve_padding,
    runtime.polyval_degrees,
    runtime.trapezoid_weights,
    runtime.cumulative_axis,
    runtime.initial_padding,
    runtime.tensor_matrix_shape,
    runtime.tensorsolve_matrix_shape,
    runtime.cond_exponent,
    # what the definitions of rules/bodies.py compute from shapes and constants
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
    runtime.inexact_result,
    runtime.linspace_plan,
    runtime.qr_shapes,
    runtime.three_vectors,
    runtime.singular_refused,
    runtime.standard_eigh,
    runtime.convolution_padding,
    runtime.scipy_qr_mode,
    derivative=CONSTANT,
    fresh=True,
)
nondiff(
    runtime.abs_sign,
    runtime.extremum_mask,
    runtime.tie_share,
    runtime.clip_passes,
    runtime.clip_low,
    runtime.clip_high,
    runtime.mask_like,
    runtime.scalar_floor_divide,
)


# ------------------------------------------------------------ the others

# Every helper of adcompile.runtime that has neither records above nor a definition in
# bodies.py, with the reason (tests/test_higher_library.py checks that each helper is
# in exactly one of these four places). Generated code that calls one of the first
# table's is refused by name when it is differentiated again, at the user's line.
SECOND_ORDER_REFUSED = {
    "angle_complex_adjoint": "the adjoint of np.angle of a complex value",
    "eig_adjoint": "the adjoint of np.linalg.eig (use np.linalg.eigh for a symmetric matrix)",
    "multi_dot_adjoint": "the adjoint of np.linalg.multi_dot (write the product with @)",
    "mvn_logpdf_adjoint": "the adjoint of scipy.stats.multivariate_normal.logpdf",
    "odeint_adjoint": "the adjoint of scipy.integrate.odeint (a solve backwards in time)",
    **dict.fromkeys(
        (
            "checkpoint_stride",
            "keep_snapshot",
            "keep_spaced",
            "revolve",
            "revolve_cost",
            "revolve_snapshots",
        ),
        "a checkpointed loop (adcompile.checkpoint): differentiate the function without "
        "checkpointing",
    ),
    # (element assignment, x[i] = v, is refused before: regenerate.compile_again)
    "add_into": "the adjoint of an element assignment",
}

_FORWARD = "a helper of forward mode's code (jvp), which is not differentiated again"
_THIRD = "called by rules of runtime helpers only: in second-order code, not in a gradient"
# Helpers that no user's gradient calls: nothing differentiates them a second time
NOT_IN_GRADIENTS = {
    **dict.fromkeys(
        (
            "add_at_tangent",
            "angle_complex_tangent",
            "arange_tangent",
            "cholesky_tangent",
            "cumprod_tangent",
            "eig_tangent",
            "eigh_tangent",
            "eigvals_tangent",
            "eigvalsh_tangent",
            "einsum_term",
            "fill_tangent",
            "gradient_tangent",
            "linspace_tangent",
            "lstsq_tangent",
            "matrix_power_tangent",
            "multi_dot_tangent",
            "mvn_logpdf_tangent",
            "pad_tangent",
            "partition_tangent",
            "pinv_tangent",
            "prod_tangent",
            "qr_tangent",
            "set_at_tangent",
            "set_elements_tangent",
            "solve_like",
            "solve_product",
            "sort_tangent",
            "svd_tangent",
        ),
        _FORWARD,
    ),
    **dict.fromkeys(("rearray", "reconcatenate", "restack"), _THIRD),
    "einsum_sublists": "np.einsum's interleaved form: refused when the gradient runs",
    "grad_like": "called by the gradient's caller (api.py), not by generated code",
    "real_part_of": "called by unbroadcast, not by generated code",
    "split_count": "read while compiling (the number of np.split's pieces)",
    "mvn_cov_part": "called by the helpers of scipy.stats.multivariate_normal",
    "mvn_covariance": "called by the helpers of scipy.stats.multivariate_normal",
}


def _refuse_the_others() -> None:
    """Every helper without records: a call of it in a user's function is refused by
    name, rather than read as a user function (the helpers use Python the fence
    refuses). Generated code read back calls a helper's definition in its place
    (regenerate.py), so only the helpers without one are refused there."""
    for name, fn in sorted(runtime.HELPERS.items()):
        if id(fn) in PRIMITIVES or isinstance(fn, type) or definition(fn) is fn:
            continue  # (a helper that is its own definition is read like a user's function)
        if definition(fn) is not None:
            refuse(
                fn,
                reason=f"adcompile.runtime.{name} is a helper of generated code: higher-order "
                "derivatives read its definition (adcompile/rules/bodies.py), not a call of it",
                hint="call the numpy function whose derivative it computes",
            )
            continue
        what = SECOND_ORDER_REFUSED.get(name) or NOT_IN_GRADIENTS.get(name) or "a helper"
        refuse(
            fn,
            reason=f"the generated code calls adcompile.runtime.{name} ({what}), which has "
            "no rules for differentiating generated code again (higher-order derivatives)",
            hint="take the higher-order derivative of a function without this operation, "
            "or compare with finite differences of the gradient (adcompile.check_grad)",
        )


_refuse_the_others()
