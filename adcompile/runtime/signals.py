"""What the adjoints of ``np.convolve``, ``np.correlate``, ``np.polyval``,
``np.trapezoid`` and numpy's ``cumulative_*`` functions compute from shapes and
constants (rules/signal_like.py, rules/arrays.py): where a mode's output lies in the
full convolution, polynomial degrees, the trapezoidal rule's weights, an axis. None
of them has a derivative; the adjoints themselves are numpy functions with rules."""

from __future__ import annotations

import numpy as np


def convolve_padding(a, v, mode="full", correlate=False):
    """(before, after): the zeros that put the output of ``np.convolve(a, v, mode)`` (with
    ``correlate``, of ``np.correlate``) back in its place in the full convolution."""
    n, m = np.size(a), np.size(v)
    full = n + m - 1
    if mode == "full":
        return (0, 0)
    if mode == "valid":
        return (min(n, m) - 1, min(n, m) - 1)
    if mode != "same":
        raise ValueError(f"mode must be 'full', 'same' or 'valid', not {mode!r}")
    before = min(n, m) // 2 if correlate and n < m else (min(n, m) - 1) // 2
    return (before, full - max(n, m) - before)


def polyval_degrees(p):
    """The degree of each coefficient of ``np.polyval(p, x)`` (highest first), as floats
    in ``p``'s precision."""
    n = np.size(p)
    return np.arange(n - 1, -1, -1).astype(np.result_type(p, 0.0))


def trapezoid_weights(y, x=None, dx=1.0, axis=-1):
    """The weight of each element of ``y`` in ``np.trapezoid(y, x, dx, axis)`` (a linear
    function of ``y``), shaped to broadcast against ``y``."""
    nd = np.ndim(y)
    axis = axis % nd
    n = np.shape(y)[axis]
    dtype = np.result_type(y, 0.0)
    if x is None:
        d = np.full(max(n - 1, 0), dx, dtype=dtype)
    elif np.ndim(x) == 1:
        d = np.diff(np.asarray(x)).astype(dtype)
    else:
        d = np.moveaxis(np.diff(np.asarray(x), axis=axis), axis, -1).astype(dtype)
    zero = np.zeros(d.shape[:-1] + (1,), dtype)
    w = (np.concatenate([zero, d], -1) + np.concatenate([d, zero], -1)) / 2
    if w.ndim == 1:
        return w.reshape((n,) + (1,) * (nd - axis - 1))
    return np.moveaxis(w, -1, axis)


def cumulative_axis(x, axis=None):
    """The axis numpy's ``cumulative_sum``/``cumulative_prod`` accumulate along (None:
    a 1-d operand's only one)."""
    return 0 if axis is None else axis


def initial_padding(x, axis=None):
    """The pad widths that put ``include_initial=True``'s first slice in front of a
    cumulative result along ``axis``."""
    k = cumulative_axis(x, axis) % max(np.ndim(x), 1)
    return tuple((1, 0) if i == k else (0, 0) for i in range(max(np.ndim(x), 1)))
