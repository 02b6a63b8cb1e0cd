"""Adjoints of functions that accumulate, sort, rearrange or repeat array elements.

Each is linear in its array operand (or a permutation of it), so its adjoint puts
the cotangent back where each element came from: reversed cumulative sums, the
inverse permutation, the diagonal written into zeros, the copies summed.
"""

import numpy as np

from ..runtime import (
    cumprod_tangent,
    cumulative_axis,
    gradient_tangent,
    initial_padding,
    outer_shape,
    pad_tangent,
    partition_tangent,
    running_max,
    running_min,
    running_tangent,
    sort_tangent,
    split_count,
    unarray,
    uncast,
    uncumprod,
    uncumsum,
    undiag,
    undiagonal,
    undiff,
    ungradient,
    unpad,
    unpartition,
    unrepeat,
    unrollaxis,
    unrunning,
    unsort,
    unsplit,
    untile,
    untrace,
)
from .record import CONSTANT, UNKNOWN
from .registry import adjoint, nondiff
from .tangents import tangent


def _numpy_shape(fn, *consts):
    """A shape rule: the shape numpy gives ``fn(a, *constants)``."""
    return lambda q: q.numpy(fn, "a", *(q.const(c) for c in consts))


@adjoint(np.cumsum, shape=UNKNOWN, fresh=True)
def cumsum(dy, y, a, axis=None):
    return uncumsum(dy, a, axis)


@tangent(np.cumsum)
def cumsum_tangent(da, y, a, axis=None):
    return np.cumsum(da, axis)


@adjoint(np.cumprod, shape=UNKNOWN, fresh=True)
def cumprod(dy, y, a, axis=None):
    return uncumprod(dy, a, axis)


@tangent(np.cumprod)
def cumprod_tangent_rule(da, y, a, axis=None):
    return cumprod_tangent(da, a, axis)


# the shape of f.outer(a, b)'s first operand, reshaped (normalize/rewrites.py)
nondiff(outer_shape, derivative=CONSTANT)


# np.maximum.accumulate and np.minimum.accumulate (normalize/rewrites.py): each result
# is the extreme of its prefix, its cotangent shared among the elements tied at it


@adjoint(running_max, shape=UNKNOWN, fresh=True)
def running_max_rule(dy, y, a, axis=0):
    return unrunning(dy, a, y, axis)


@tangent(running_max)
def running_max_tangent(da, y, a, axis=0):
    return running_tangent(da, a, y, axis)


@adjoint(running_min, shape=UNKNOWN, fresh=True)
def running_min_rule(dy, y, a, axis=0):
    return unrunning(dy, a, y, axis)


@tangent(running_min)
def running_min_tangent(da, y, a, axis=0):
    return running_tangent(da, a, y, axis)


@adjoint(np.diff, shape=_numpy_shape(np.diff, "n", "axis"), fresh=True)
def diff(dy, y, a, n=1, axis=-1):
    return undiff(dy, n, axis)


@tangent(np.diff)
def diff_tangent(da, y, a, n=1, axis=-1):
    return np.diff(da, n, axis)


@adjoint(np.sort, shape=UNKNOWN, fresh=True)
def sort(dy, y, a, axis=-1):
    return unsort(dy, a, axis)


@tangent(np.sort)
def sort_tangent_rule(da, y, a, axis=-1):
    return sort_tangent(da, a, axis)


@adjoint(np.partition, shape=_numpy_shape(np.partition, "kth", "axis"), fresh=True)
def partition(dy, y, a, kth, axis=-1):
    return unpartition(dy, a, kth, axis)


@tangent(np.partition)
def partition_tangent_rule(da, y, a, kth, axis=-1):
    return partition_tangent(da, a, kth, axis)


@adjoint(np.flip, shape=_numpy_shape(np.flip, "axis"))
def flip(dy, y, a, axis=None):
    return np.flip(dy, axis)


@tangent(np.flip)
def flip_tangent(da, y, a, axis=None):
    return np.flip(da, axis)


@adjoint(np.fliplr, shape=_numpy_shape(np.fliplr))
def fliplr(dy, y, a):
    return np.fliplr(dy)


@tangent(np.fliplr)
def fliplr_tangent(da, y, a):
    return np.fliplr(da)


@adjoint(np.flipud, shape=_numpy_shape(np.flipud))
def flipud(dy, y, a):
    return np.flipud(dy)


@tangent(np.flipud)
def flipud_tangent(da, y, a):
    return np.flipud(da)


@adjoint(np.roll, shape=_numpy_shape(np.roll, "shift", "axis"), fresh=True)
def roll(dy, y, a, shift, axis=None):
    return np.roll(dy, np.negative(shift), axis)


@tangent(np.roll)
def roll_tangent(da, y, a, shift, axis=None):
    return np.roll(da, shift, axis)


@adjoint(np.rot90, shape=_numpy_shape(np.rot90, "k", "axes"))
def rot90(dy, y, a, k=1, axes=(0, 1)):
    return np.rot90(dy, -k, axes)


@tangent(np.rot90)
def rot90_tangent(da, y, a, k=1, axes=(0, 1)):
    return np.rot90(da, k, axes)


@adjoint(np.moveaxis, shape=_numpy_shape(np.moveaxis, "source", "destination"))
def moveaxis(dy, y, a, source, destination):
    return np.moveaxis(dy, destination, source)


@tangent(np.moveaxis)
def moveaxis_tangent(da, y, a, source, destination):
    return np.moveaxis(da, source, destination)


@adjoint(np.rollaxis, shape=_numpy_shape(np.rollaxis, "axis", "start"))
def rollaxis(dy, y, a, axis, start=0):
    return unrollaxis(dy, a, axis, start)


@tangent(np.rollaxis)
def rollaxis_tangent(da, y, a, axis, start=0):
    return np.rollaxis(da, axis, start)


@adjoint(np.diag, shape=_numpy_shape(np.diag, "k"), fresh=False)
def diag(dy, y, a, k=0):
    return undiag(dy, a, k)


@tangent(np.diag)
def diag_tangent(da, y, a, k=0):
    return np.diag(da, k)


@adjoint(np.diagonal, shape=_numpy_shape(np.diagonal, "offset", "axis1", "axis2"))
def diagonal(dy, y, a, offset=0, axis1=0, axis2=1):
    return undiagonal(dy, a, offset, axis1, axis2)


@tangent(np.diagonal)
def diagonal_tangent(da, y, a, offset=0, axis1=0, axis2=1):
    return np.diagonal(da, offset, axis1, axis2)


@adjoint(np.trace, shape=_numpy_shape(np.trace, "offset", "axis1", "axis2"), fresh=True)
def trace(dy, y, a, offset=0, axis1=0, axis2=1):
    return untrace(dy, a, offset, axis1, axis2)


@tangent(np.trace)
def trace_tangent(da, y, a, offset=0, axis1=0, axis2=1):
    return np.trace(da, offset, axis1, axis2)


@adjoint(np.triu, shape=_numpy_shape(np.triu, "k"), fresh=True)
def triu(dy, y, a, k=0):
    return np.triu(dy, k)


@tangent(np.triu)
def triu_tangent(da, y, a, k=0):
    return np.triu(da, k)


@adjoint(np.tril, shape=_numpy_shape(np.tril, "k"), fresh=True)
def tril(dy, y, a, k=0):
    return np.tril(dy, k)


@tangent(np.tril)
def tril_tangent(da, y, a, k=0):
    return np.tril(da, k)


@adjoint(np.repeat, shape=_numpy_shape(np.repeat, "repeats", "axis"), fresh=True)
def repeat(dy, y, a, repeats, axis=None):
    return unrepeat(dy, a, repeats, axis)


@tangent(np.repeat)
def repeat_tangent(da, y, a, repeats, axis=None):
    return np.repeat(da, repeats, axis)


@adjoint(np.tile, shape=_numpy_shape(np.tile, "reps"), fresh=True)
def tile(dy, y, a, reps):
    return untile(dy, a, reps)


@tangent(np.tile)
def tile_tangent(da, y, a, reps):
    return np.tile(da, reps)


# splits: the result is a list of views of ``ary``, as many as ``indices_or_sections``
# says (a constant: an int, or a list of indices)
@adjoint(np.split, shape=UNKNOWN, fresh=False, results=split_count)
def split(dy, y, ary, indices_or_sections, axis=0):
    return unsplit(dy, y, axis), None


@adjoint(np.array_split, shape=UNKNOWN, fresh=False, results=split_count)
def array_split(dy, y, ary, indices_or_sections, axis=0):
    return unsplit(dy, y, axis), None


@adjoint(np.hsplit, shape=UNKNOWN, fresh=False, results=split_count)
def hsplit(dy, y, ary, indices_or_sections):
    # along the second axis, or the first of a vector
    return unsplit(dy, y, int(np.ndim(ary) > 1)), None


@adjoint(np.vsplit, shape=UNKNOWN, fresh=False, results=split_count)
def vsplit(dy, y, ary, indices_or_sections):
    return unsplit(dy, y, 0), None


@adjoint(np.dsplit, shape=UNKNOWN, fresh=False, results=split_count)
def dsplit(dy, y, ary, indices_or_sections):
    return unsplit(dy, y, 2), None


@tangent(np.split)
def split_tangent(dary, y, ary, indices_or_sections, axis=0):
    return tuple(np.split(dary, indices_or_sections, axis))


@tangent(np.array_split)
def array_split_tangent(dary, y, ary, indices_or_sections, axis=0):
    return tuple(np.array_split(dary, indices_or_sections, axis))


@tangent(np.hsplit)
def hsplit_tangent(dary, y, ary, indices_or_sections):
    return tuple(np.hsplit(dary, indices_or_sections))


@tangent(np.vsplit)
def vsplit_tangent(dary, y, ary, indices_or_sections):
    return tuple(np.vsplit(dary, indices_or_sections))


@tangent(np.dsplit)
def dsplit_tangent(dary, y, ary, indices_or_sections):
    return tuple(np.dsplit(dary, indices_or_sections))


@adjoint(np.pad, shape=UNKNOWN, fresh=True)
def pad(dy, y, a, pad_width, mode="constant"):
    # other modes copy elements into the border: refused by unpad when it runs
    return unpad(dy, a, pad_width, mode)


@tangent(np.pad)
def pad_tangent_rule(da, y, a, pad_width, mode="constant"):
    return pad_tangent(da, a, pad_width, mode)


@adjoint(np.atleast_1d, shape=_numpy_shape(np.atleast_1d), converts=True)
def atleast_1d(dy, y, a):
    return np.reshape(dy, np.shape(a))


@tangent(np.atleast_1d)
def atleast_1d_tangent(da, y, a):
    return np.atleast_1d(da)


@adjoint(np.atleast_2d, shape=_numpy_shape(np.atleast_2d), converts=True)
def atleast_2d(dy, y, a):
    return np.reshape(dy, np.shape(a))


@tangent(np.atleast_2d)
def atleast_2d_tangent(da, y, a):
    return np.atleast_2d(da)


@adjoint(np.atleast_3d, shape=_numpy_shape(np.atleast_3d), converts=True)
def atleast_3d(dy, y, a):
    return np.reshape(dy, np.shape(a))


@tangent(np.atleast_3d)
def atleast_3d_tangent(da, y, a):
    return np.atleast_3d(da)


@adjoint(np.gradient, shape=UNKNOWN, fresh=True)
def gradient(dy, y, f, spacing=1.0, axis=None, edge_order=1):
    # linear in f; y is proportional to 1 / spacing
    return (
        ungradient(dy, f, spacing, axis, edge_order),
        -np.sum(dy * y) / spacing,
    )


@tangent(np.gradient)
def gradient_tangent_rule(df, dspacing, y, f, spacing=1.0, axis=None, edge_order=1):
    return gradient_tangent(df, dspacing, y, f, spacing, axis, edge_order)


# Arrays made of other values, and copies.


@adjoint(np.array, shape=UNKNOWN, fresh=True)
def array(dy, y, arrays):
    # a list or tuple of arrays and numbers, or one array (a nested list is refused)
    return unarray(dy, arrays)


@tangent(np.array)
def array_tangent(darrays, y, arrays):
    # the tangents of the elements, in the result's (floating) precision
    return np.array(darrays, dtype=np.result_type(y, 0.0))


@adjoint(np.asarray, shape=UNKNOWN, fresh=False, converts=True)
def asarray(dy, y, arrays):
    return unarray(dy, arrays)


@tangent(np.asarray)
def asarray_tangent(darrays, y, arrays):
    return np.asarray(darrays, dtype=np.result_type(y, 0.0))


@adjoint(np.copy, shape=lambda q: q.leaf("a"), fresh=True)
def copy(dy, y, a):
    return dy


@tangent(np.copy)
def copy_tangent(da, y, a):
    return np.copy(da)


@adjoint(np.ndarray.astype, shape=lambda q: q.leaf("x"), fresh=True)
def astype(dy, y, x, dtype):
    return uncast(dy, x, dtype)


@tangent(np.ndarray.astype)
def astype_tangent(dx, y, x, dtype):
    # dx in the result's precision; zero for a cast to integers (a step function)
    return uncast(dx, y, dtype)


# numpy 2.1's cumulative_sum and cumulative_prod: cumsum and cumprod, with an optional
# first slice (0, 1) that include_initial=True puts in front (no derivative)
if hasattr(np, "cumulative_sum"):

    @adjoint(np.cumulative_sum, shape=UNKNOWN, fresh=True)
    def cumulative_sum(dy, y, x, axis=None, dtype=None, out=None, include_initial=False):
        if include_initial:
            k = cumulative_axis(x, axis)
            return uncumsum(np.take(dy, np.arange(1, np.shape(dy)[k]), k), x, axis)
        return uncumsum(dy, x, axis)

    @tangent(np.cumulative_sum)
    def cumulative_sum_tangent(dx, y, x, axis=None, dtype=None, out=None, include_initial=False):
        return np.cumulative_sum(dx, axis=axis, include_initial=include_initial)

    @adjoint(np.cumulative_prod, shape=UNKNOWN, fresh=True)
    def cumulative_prod(dy, y, x, axis=None, dtype=None, out=None, include_initial=False):
        if include_initial:
            k = cumulative_axis(x, axis)
            return uncumprod(np.take(dy, np.arange(1, np.shape(dy)[k]), k), x, axis)
        return uncumprod(dy, x, axis)

    @tangent(np.cumulative_prod)
    def cumulative_prod_tangent(dx, y, x, axis=None, dtype=None, out=None, include_initial=False):
        if include_initial:
            return np.pad(cumprod_tangent(dx, x, axis), initial_padding(x, axis))
        return cumprod_tangent(dx, x, axis)
