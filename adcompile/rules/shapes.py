"""Adjoints of functions that move elements around without changing them.

A shape rule written as a function gets a query ``q`` on the operands (see
``adcompile/shapes.py``): ``q.numpy(f, "a", ...)`` is the shape of ``f`` applied to
an array of operand ``a``'s shape, with the constant arguments ``q.const(p)`` and
``q.index(p)`` (unknown when any of them is not a constant).
"""

import operator

import numpy as np

from ..runtime import unbroadcast, unconcatenate, unindex, unstack, untranspose
from .record import CONSTANT, UNKNOWN
from .registry import adjoint, nondiff


@adjoint(np.reshape, shape=lambda q: q.numpy(np.reshape, "a", q.const("shape")))
def reshape(dy, y, a, shape):
    return np.reshape(dy, np.shape(a))


@adjoint(np.ravel, shape=UNKNOWN)
def ravel(dy, y, a):
    return np.reshape(dy, np.shape(a))


@adjoint(np.transpose, shape=lambda q: q.numpy(np.transpose, "a", q.const("axes")))
def transpose(dy, y, a, axes=None):
    return untranspose(dy, axes)


@adjoint(np.swapaxes, shape=UNKNOWN)
def swapaxes(dy, y, a, axis1, axis2):
    return np.swapaxes(dy, axis1, axis2)


@adjoint(np.expand_dims, shape=lambda q: q.numpy(np.expand_dims, "a", q.const("axis")))
def expand_dims(dy, y, a, axis):
    return np.reshape(dy, np.shape(a))


@adjoint(np.squeeze, shape=lambda q: q.numpy(np.squeeze, "a", q.const("axis")))
def squeeze(dy, y, a, axis=None):
    return np.reshape(dy, np.shape(a))


@adjoint(np.broadcast_to, shape=UNKNOWN)
def broadcast_to(dy, y, array, shape):
    return unbroadcast(dy, array)


@adjoint(operator.getitem, shape=lambda q: q.numpy(operator.getitem, "a", q.index("index")))
def getitem(dy, y, a, index):
    # ``index`` is bound to the subscript as written (``1:, :2``, ``..., None``), which
    # is only valid syntax inside brackets: np.s_[...] turns it into a value.
    return unindex(dy, a, np.s_[index])


@adjoint(np.concatenate, shape=UNKNOWN, fresh=True)
def concatenate(dy, y, arrays, axis=0):
    return unconcatenate(dy, arrays, axis)


@adjoint(np.stack, shape=UNKNOWN, fresh=True)
def stack(dy, y, arrays, axis=0):
    return unstack(dy, len(arrays), axis)


nondiff(np.shape, np.ndim, np.size, derivative=CONSTANT, fresh=False)
nondiff(
    np.zeros_like,
    np.ones_like,
    np.full_like,
    np.empty_like,
    np.zeros,
    np.ones,
    np.full,
    np.empty,
    np.eye,
    np.identity,
    np.arange,
    np.linspace,
    derivative=CONSTANT,
)
