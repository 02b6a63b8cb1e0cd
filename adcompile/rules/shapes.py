"""Adjoints of functions that move elements around without changing them.

A shape rule written as a function gets a query ``q`` on the operands (see
``adcompile/shapes.py``): ``q.numpy(f, "a", ...)`` is the shape of ``f`` applied to
an array of operand ``a``'s shape, with the constant arguments ``q.const(p)`` and
``q.index(p)`` (unknown when any of them is not a constant).
"""

import operator

import numpy as np

from ..runtime import (
    arange_adjoint,
    arange_tangent,
    fill_adjoint,
    fill_tangent,
    linspace_adjoint,
    linspace_tangent,
    unbroadcast,
    unconcatenate,
    unindex,
    unstack,
    untranspose,
)
from .record import CONSTANT, UNKNOWN
from .registry import adjoint, nondiff, refuse
from .tangents import tangent


@adjoint(np.reshape, shape=lambda q: q.numpy(np.reshape, "a", q.const("shape")))
def reshape(dy, y, a, shape):
    return np.reshape(dy, np.shape(a))


@tangent(np.reshape)
def reshape_tangent(da, y, a, shape):
    return np.reshape(da, shape)


@adjoint(np.ravel, shape=UNKNOWN)
def ravel(dy, y, a):
    return np.reshape(dy, np.shape(a))


@tangent(np.ravel)
def ravel_tangent(da, y, a):
    return np.ravel(da)


@adjoint(np.transpose, shape=lambda q: q.numpy(np.transpose, "a", q.const("axes")))
def transpose(dy, y, a, axes=None):
    return untranspose(dy, axes)


@tangent(np.transpose)
def transpose_tangent(da, y, a, axes=None):
    return np.transpose(da, axes)


@adjoint(np.swapaxes, shape=UNKNOWN)
def swapaxes(dy, y, a, axis1, axis2):
    return np.swapaxes(dy, axis1, axis2)


@tangent(np.swapaxes)
def swapaxes_tangent(da, y, a, axis1, axis2):
    return np.swapaxes(da, axis1, axis2)


@adjoint(np.expand_dims, shape=lambda q: q.numpy(np.expand_dims, "a", q.const("axis")))
def expand_dims(dy, y, a, axis):
    return np.reshape(dy, np.shape(a))


@tangent(np.expand_dims)
def expand_dims_tangent(da, y, a, axis):
    return np.expand_dims(da, axis)


@adjoint(np.squeeze, shape=lambda q: q.numpy(np.squeeze, "a", q.const("axis")))
def squeeze(dy, y, a, axis=None):
    return np.reshape(dy, np.shape(a))


@tangent(np.squeeze)
def squeeze_tangent(da, y, a, axis=None):
    return np.squeeze(da, axis)


@adjoint(np.broadcast_to, shape=UNKNOWN)
def broadcast_to(dy, y, array, shape):
    return unbroadcast(dy, array)


@tangent(np.broadcast_to)
def broadcast_to_tangent(darray, y, array, shape):
    return np.broadcast_to(darray, shape)


@adjoint(operator.getitem, shape=lambda q: q.numpy(operator.getitem, "a", q.index("index")))
def getitem(dy, y, a, index):
    # ``index`` is bound to the subscript as written (``1:, :2``, ``..., None``), which
    # is only valid syntax inside brackets: np.s_[...] turns it into a value.
    return unindex(dy, a, np.s_[index])


@tangent(operator.getitem)
def getitem_tangent(da, y, a, index):
    return da[index]


@adjoint(np.concatenate, shape=UNKNOWN, fresh=True)
def concatenate(dy, y, arrays, axis=0):
    return unconcatenate(dy, arrays, axis)


@tangent(np.concatenate)
def concatenate_tangent(darrays, y, arrays, axis=0):
    return np.concatenate(darrays, axis)


@adjoint(np.hstack, shape=UNKNOWN, fresh=True)
def hstack(dy, y, arrays):
    # np.hstack joins 1-d pieces (and numbers) along axis 0, others along axis 1
    return unconcatenate(dy, arrays, 1 if np.ndim(y) > 1 else 0)


@tangent(np.hstack)
def hstack_tangent(darrays, y, arrays):
    return np.hstack(darrays)


@adjoint(np.vstack, shape=UNKNOWN, fresh=True)
def vstack(dy, y, arrays):
    # np.vstack joins along axis 0, a piece of fewer than two dimensions as one row
    return unconcatenate(dy, arrays, 0, True)


@tangent(np.vstack)
def vstack_tangent(darrays, y, arrays):
    return np.vstack(darrays)


@adjoint(np.column_stack, shape=UNKNOWN, fresh=True)
def column_stack(dy, y, arrays):
    # joins along axis 1, a piece of fewer than two dimensions as one column (numpy
    # names the parameter tup; `arrays` is the name of a parameter that takes a sequence)
    return unconcatenate(dy, arrays, 1, True)


@tangent(np.column_stack)
def column_stack_tangent(darrays, y, arrays):
    return np.column_stack(darrays)


@adjoint(np.dstack, shape=UNKNOWN, fresh=True)
def dstack(dy, y, arrays):
    # joins along axis 2, a piece of fewer than three dimensions as one layer
    return unconcatenate(dy, arrays, 2, True)


@tangent(np.dstack)
def dstack_tangent(darrays, y, arrays):
    return np.dstack(darrays)


@adjoint(np.stack, shape=UNKNOWN, fresh=True)
def stack(dy, y, arrays, axis=0):
    return unstack(dy, len(arrays), axis)


@tangent(np.stack)
def stack_tangent(darrays, y, arrays, axis=0):
    return np.stack(darrays, axis)


# Constructors whose values depend on a float argument.


def _constructed(shape: object) -> tuple[int, ...] | None:
    """The shape of an array constructed with the constant ``shape`` argument (an int
    or a tuple of ints), None when it is not one."""
    if type(shape) is int and shape >= 0:
        return (shape,)
    if isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape):
        return shape
    return None


@adjoint(np.full, shape=lambda q: _constructed(q.const("shape")), fresh=True)
def full(dy, y, shape, fill_value, dtype=None):
    return None, fill_adjoint(dy, y, fill_value)


@tangent(np.full)
def full_tangent(dfill_value, y, shape, fill_value, dtype=None):
    return fill_tangent(dfill_value, y)


@adjoint(np.full_like, shape=lambda q: q.leaf("a"), fresh=True)
def full_like(dy, y, a, fill_value, dtype=None):
    return None, fill_adjoint(dy, y, fill_value)


@tangent(np.full_like)
def full_like_tangent(dfill_value, y, a, fill_value, dtype=None):
    return fill_tangent(dfill_value, y)


@adjoint(np.linspace, shape=UNKNOWN, fresh=True)
def linspace(dy, y, start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return (
        linspace_adjoint(dy, y, start, num, endpoint, axis, False),
        linspace_adjoint(dy, y, stop, num, endpoint, axis, True),
    )


@tangent(np.linspace)
def linspace_tangent_rule(dstart, dstop, y, start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return linspace_tangent(dstart, dstop, y, num, endpoint, axis)


@adjoint(np.arange, shape=UNKNOWN, fresh=True)
def arange(dy, y, start, stop=None, step=None, dtype=None):
    # the stop only decides the length (a step function of it): no contribution
    return (
        arange_adjoint(dy, y, start, stop, step, False),
        None,
        arange_adjoint(dy, y, start, stop, step, True),
    )


@tangent(np.arange)
def arange_tangent_rule(dstart, dstep, y, start, stop=None, step=None, dtype=None):
    return arange_tangent(dstart, dstep, y, stop)


nondiff(np.shape, np.ndim, np.size, derivative=CONSTANT, fresh=False)
nondiff(
    np.zeros_like,
    np.ones_like,
    np.empty_like,
    np.zeros,
    np.ones,
    np.empty,
    np.eye,
    np.identity,
    derivative=CONSTANT,
)

# np.block arranges nested lists of blocks, and takes nothing but lists: a list of the
# program's is a tuple (or an array) in generated code
refuse(
    np.block,
    reason="np.block arranges nested lists of blocks, which adcompile does not pass through "
    "as lists",
    hint="join the blocks with np.concatenate(..., axis=-1) for one row of blocks, and "
    "the rows with np.concatenate(..., axis=-2) (or np.hstack/np.vstack)",
)
