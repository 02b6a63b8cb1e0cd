"""Adjoints of functions that move elements around without changing them."""

import operator

import numpy as np

from ..runtime import unbroadcast, unconcatenate, unindex, unstack, untranspose
from .registry import adjoint, register_nondiff


@adjoint(np.reshape)
def reshape(dy, y, a, shape):
    return np.reshape(dy, np.shape(a))


@adjoint(np.ravel)
def ravel(dy, y, a):
    return np.reshape(dy, np.shape(a))


@adjoint(np.transpose)
def transpose(dy, y, a, axes=None):
    return untranspose(dy, axes)


@adjoint(np.swapaxes)
def swapaxes(dy, y, a, axis1, axis2):
    return np.swapaxes(dy, axis1, axis2)


@adjoint(np.expand_dims)
def expand_dims(dy, y, a, axis):
    return np.reshape(dy, np.shape(a))


@adjoint(np.squeeze)
def squeeze(dy, y, a, axis=None):
    return np.reshape(dy, np.shape(a))


@adjoint(np.broadcast_to)
def broadcast_to(dy, y, array, shape):
    return unbroadcast(dy, array)


@adjoint(operator.getitem)
def getitem(dy, y, a, index):
    # ``index`` is bound to the subscript as written (``1:, :2``, ``..., None``), which
    # is only valid syntax inside brackets: np.s_[...] turns it into a value.
    return unindex(dy, a, np.s_[index])


@adjoint(np.concatenate)
def concatenate(dy, y, arrays, axis=0):
    return unconcatenate(dy, arrays, axis)


@adjoint(np.stack)
def stack(dy, y, arrays, axis=0):
    return unstack(dy, len(arrays), axis)


register_nondiff(
    np.shape,
    np.ndim,
    np.size,
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
)
