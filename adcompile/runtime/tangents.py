"""Forward mode (adcompile/tangent.py): helpers the generated jvp code calls."""

from __future__ import annotations

import numpy as np

from .arrays import _linspace_weights, prod_adjoint
from .containers import zero_like


def zeros_tangent(x):
    """The zero tangent of the value ``x``: zeros of its shape, a container of them."""
    if isinstance(x, list):
        return [zeros_tangent(v) for v in x]
    if isinstance(x, tuple):
        return tuple(zeros_tangent(v) for v in x)
    if isinstance(x, dict):
        return {k: zeros_tangent(v) for k, v in x.items()}
    return zero_like(x)


def broadcast_like(t, y):
    """The tangent ``t`` broadcast to the shape of the value ``y`` it is the tangent of
    (a term of an inactive operand that broadcast the result was folded away)."""
    shape = np.shape(y)
    if np.shape(t) == shape:
        return t
    return np.array(np.broadcast_to(t, shape), dtype=np.result_type(t, y, 0.0))


def fill_tangent(dfill, y):
    """Tangent of ``np.full(shape, fill)``/``np.full_like(a, fill)``: the fill's tangent
    in every element; zero when the result is integer-valued (a step function)."""
    if not np.issubdtype(np.result_type(y), np.inexact):
        return np.zeros(np.shape(y))
    return np.array(np.broadcast_to(dfill, np.shape(y)), dtype=np.result_type(y))


def linspace_tangent(dstart, dstop, y, num, endpoint, axis):
    """Tangent of ``np.linspace(start, stop, num, endpoint, axis=axis)``, whose samples
    are ``start * (1 - t) + stop * t``."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.inexact):
        return np.zeros(y.shape)
    axis = axis % y.ndim
    t = _linspace_weights(int(num), endpoint, y.ndim, axis)
    lo = np.expand_dims(dstart, axis) if np.ndim(dstart) else dstart
    hi = np.expand_dims(dstop, axis) if np.ndim(dstop) else dstop
    return np.array(np.broadcast_to(lo * (1.0 - t) + hi * t, y.shape), dtype=y.dtype)


def arange_tangent(dstart, dstep, y, stop):
    """Tangent of ``np.arange(start, stop, step)``: ``dstart + i * dstep``. With one
    argument, ``np.arange(stop)``, the argument is the stop: no derivative."""
    y = np.asarray(y)
    if stop is None or not np.issubdtype(y.dtype, np.inexact):
        return np.zeros(y.shape)
    return dstart + np.arange(y.size) * dstep


def prod_tangent(da, a, axis=None, keepdims=False):
    """Tangent of ``np.prod``: each element's tangent times the product of the others
    (exact also where ``a`` has zeros)."""
    y = np.prod(a, axis=axis, keepdims=keepdims)
    others = prod_adjoint(np.ones_like(y, dtype=np.result_type(y, 0.0)), a, axis, keepdims)
    return np.sum(da * others, axis=axis, keepdims=keepdims)
