"""Adjoints of array construction, products and rearrangement: ``np.full``,
``np.linspace``, ``np.arange``, ``np.prod``, indexing, stacking, concatenation,
transposition, ``@`` and ``np.dot``."""

from __future__ import annotations

import numpy as np

from .broadcasting import real_part_of, unbroadcast
from .containers import zero_like


def fill_adjoint(g, y, fill_value):
    """Adjoint of ``np.full(shape, fill_value)``/``np.full_like(a, fill_value)`` with
    respect to the fill value: the cotangent summed back to its shape. Zero when the
    result has an integer or boolean dtype (the value was truncated: a step function)."""
    if not np.issubdtype(np.result_type(y), np.inexact):
        return zero_like(fill_value)
    return unbroadcast(g, fill_value)


def _linspace_weights(num, endpoint, ndim, axis):
    """t[i] = i / (num - 1) (or i / num without the endpoint), shaped to broadcast
    along ``axis`` of a result with ``ndim`` dimensions."""
    div = num - 1 if endpoint else num
    t = np.arange(num, dtype=float) / div if div > 0 else np.zeros(num)
    shape = [1] * ndim
    shape[axis] = num
    return t.reshape(shape)


def linspace_adjoint(g, y, bound, num, endpoint, axis, upper):
    """Adjoint of ``np.linspace(start, stop, num, endpoint, axis=axis)`` with respect
    to ``start`` (``upper`` False) or ``stop``: its samples are
    ``start * (1 - t) + stop * t``, so each gets the cotangent weighted by its share."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.inexact):
        return zero_like(bound)
    axis = axis % y.ndim
    t = _linspace_weights(int(num), endpoint, y.ndim, axis)
    weighted = np.sum(g * (t if upper else 1.0 - t), axis=axis)
    return unbroadcast(weighted, bound)


def inexact_result(y) -> bool:
    """Whether the result ``y`` of np.full, np.linspace or np.arange holds floating-point
    numbers (of an integer dtype, the values were truncated: no derivative)."""
    return bool(np.issubdtype(np.result_type(y), np.inexact))


def linspace_plan(y, num, endpoint, axis) -> tuple:
    """For the definition of :func:`linspace_adjoint` (rules/bodies.py): the weights of
    the stop in each sample, shaped to broadcast, and the axis, nonnegative."""
    axis = axis % np.ndim(y)
    return _linspace_weights(int(num), endpoint, np.ndim(y), axis), axis


def arange_adjoint(g, y, start, stop, step, of_step):
    """Adjoint of ``np.arange(start, stop, step)`` (its samples are ``start + i * step``
    for a length that is piecewise constant) with respect to ``start``
    (``of_step`` False) or ``step``. With one argument, ``np.arange(stop)``, the
    argument is the stop: no derivative."""
    like = step if of_step else start
    y = np.asarray(y)
    if stop is None or not np.issubdtype(y.dtype, np.inexact):
        return zero_like(like)
    total = np.sum(g * np.arange(y.size)) if of_step else np.sum(g)
    return float(total) if type(like) is float else total


def prod_adjoint(g, x, axis=None, keepdims=False):
    """Adjoint of ``np.prod``, exact also where ``x`` has zeros."""
    x = np.asarray(x)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    if axis is None:
        flat = x.reshape(-1)
        return (g * _prod_others(flat, 0)).reshape(x.shape)
    if isinstance(axis, tuple):
        axes = tuple(a % x.ndim for a in axis)
        rest = [a for a in range(x.ndim) if a not in axes]
        moved = np.transpose(x, rest + list(axes))
        lead = moved.shape[: len(rest)]
        flat = moved.reshape(lead + (-1,))
        others = _prod_others(flat, -1).reshape(moved.shape)
        inverse = np.argsort(rest + list(axes))
        return g * np.transpose(others, inverse)
    return g * _prod_others(x, axis)


def _prod_others(x, axis):
    """Product of all other elements along ``axis``, without dividing."""
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    ones = np.ones(ones_shape, dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, x], axis=axis), axis=axis)
    left = np.take(left, range(x.shape[axis]), axis=axis)
    flipped = np.flip(x, axis=axis)
    right = np.cumprod(np.concatenate([ones, flipped], axis=axis), axis=axis)
    right = np.flip(np.take(right, range(x.shape[axis]), axis=axis), axis=axis)
    return left * right


def unindex(g, x, index):
    """Adjoint of ``x[index]``: ``g`` scattered into zeros shaped like ``x``.

    Another kind of array (one implementing numpy's ``__array_function__``, such as
    a dask array) gets zeros of its own kind, and ``g`` assigned into them: exact
    for an index of ints and slices, which selects each element at most once."""
    if _numpy(g) and _numpy(x):
        out = np.zeros(np.shape(x), dtype=np.result_type(g, x, 0.0))
        np.add.at(out, index, g)
        return out
    dtype = np.result_type(_dtype_of(g), _dtype_of(x), 0.0)
    if not _basic_index(index):
        return _scatter_add(g, x, index, dtype)
    out = np.zeros_like(x, dtype=dtype)
    out[index] = g
    return out


def _scatter_add(g, x, index, dtype):
    """``unindex`` for another kind of array and an index holding numpy arrays of
    indices (or masks), which may name an element more than once: ``np.add.at`` done
    with the assignments such an array implements. Where each element of ``g`` goes
    (its flat position in ``x``) is worked out in numpy, from the index alone; ``g``
    is then assigned into a flat array of zeros in layers, the first occurrence of
    each position, then the second..., each layer adding to what is there."""
    items = index if isinstance(index, tuple) else (index,)
    if not all(
        i is None or i is Ellipsis or isinstance(i, slice | int | list) or _numpy(i) for i in items
    ):
        raise TypeError(
            f"the adjoint of indexing a {type(x).__name__} with a {type(index).__name__} "
            "index needs the index's values, which are not computed yet: compute the index "
            "first (for dask, idx.compute()) and index with the numpy array"
        )
    shape = np.shape(x)
    grids = [
        np.broadcast_to(
            np.arange(n).reshape([n if d == k else 1 for d in range(len(shape))]), shape
        )
        for k, n in enumerate(shape)
    ]
    where = np.ravel_multi_index(tuple(grid[index] for grid in grids), shape).reshape(-1)
    flat_g = np.reshape(g, (where.size,))
    out = np.zeros_like(np.reshape(x, (int(np.prod(shape)),)), dtype=dtype)
    order = np.argsort(where, kind="stable")
    ranked = where[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # each position's first
    rank = np.arange(where.size) - np.repeat(starts, np.diff(np.r_[starts, where.size]))
    for layer in range(int(rank.max(initial=-1)) + 1):
        chosen = np.sort(order[rank == layer])
        out[where[chosen]] += flat_g[chosen]
    return np.reshape(out, shape)


def _numpy(a) -> bool:
    """Whether ``a`` is a numpy array or a number (not another kind of array)."""
    return isinstance(a, np.ndarray | np.generic | float | int | complex | bool)


def _dtype_of(a):
    """``a``'s dtype, read without converting it (a Python number is its own)."""
    return getattr(a, "dtype", a)


def _basic_index(index) -> bool:
    """An index of ints, slices, ``...`` and ``None`` only: no element twice."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, slice | int | np.integer) for i in items)


def _repeats_possible(index):
    """Whether ``index`` may name one element twice: it holds an integer index array
    (or a list, which numpy reads as one). Integers, slices, None, Ellipsis and
    boolean masks name each element at most once."""
    parts = index if type(index) is tuple else (index,)
    for p in parts:
        if isinstance(p, list):
            return True
        if isinstance(p, np.ndarray) and p.dtype != np.bool_:
            return True
    return False


def add_into(out, index, g):
    """``out[index] += g`` for the adjoint of ``x[index]`` added into ``out``, the
    adjoint of ``x``, which the gradient owns: in place, O(size of g). Where the
    index repeats an element, each occurrence adds (np.add.at; for another kind of
    array, which may not implement it, the adjoint of ``x`` is added whole)."""
    if not _repeats_possible(index):
        out[index] += g
    elif _numpy(out):
        np.add.at(out, index, g)
    else:  # another kind of array (dask): without np.add.at, see _scatter_add
        out[...] += unindex(g, out, index)


def assigned_part(g, index, v):
    """Adjoint of ``v`` in ``x[index] = v``, given ``g``, the adjoint of the array after
    the write: ``g[index]`` summed back to ``v``'s shape, a new array. Where an index
    array names an element twice, only the write numpy keeps (the one it did last)
    receives that element's adjoint: the positions are written into an array of the
    same shape by the same index, so the same write wins."""
    g = np.asarray(g)
    part = g[index]
    if _repeats_possible(index):
        order = np.arange(np.size(part)).reshape(np.shape(part))
        owner = np.full(g.shape, -1)
        owner[index] = order
        part = np.where(owner[index] == order, part, 0.0)
    else:
        part = np.array(part, copy=True)
    if np.ndim(v) < part.ndim or np.shape(v) != part.shape:
        part = unbroadcast(part, v)
    if type(v) is not np.ndarray and isinstance(part, np.ndarray) and part.ndim == 0:
        return part[()]  # a number's adjoint: a numpy scalar
    return part


def set_elements(x, index, v):
    """``x[index] = v`` as an expression: writes into the array ``x`` in place and returns
    it (a gradient's own element writes, read back for forward mode: regenerate.py)."""
    x[index] = v
    return x


def copy_array(x):
    """A copy of the array ``x`` (a number is returned as it is: it cannot change)."""
    return x.copy() if isinstance(x, np.ndarray) else x


def check_writable(x, message, item=None):
    """Raise the ValueError Python raises where the user's in-place update writes into
    the array ``x`` and ``x`` cannot be written (``np.broadcast_to``'s view, ``np.diag``
    of a 2-d array): ``message`` is Python's for that write. For ``x[i] op= v``,
    ``item`` is ``x[i]``, into which Python writes first when it is a (read-only) view:
    "output array is read-only"."""
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        if isinstance(item, np.ndarray) and not item.flags.writeable:
            message = "output array is read-only"
        raise ValueError(message)


def writable_adjoint(g, x):
    """A copy of the adjoint ``g`` of ``x`` that the gradient owns and may write into:
    a new array of ``x``'s shape."""
    return np.array(np.broadcast_to(g, np.shape(x)), dtype=np.result_type(g, 0.0))


def unstack(g, n, axis=0):
    """Adjoint of ``np.stack`` of ``n`` arrays: the ``n`` slices of ``g`` along ``axis``."""
    return tuple(np.take(g, i, axis=axis) for i in range(n))


def unconcatenate(g, arrays, axis=0, rows=False):
    """Adjoint of ``np.concatenate(arrays, axis)``: ``g`` split back into the pieces. With
    ``rows``, of ``np.vstack(arrays)`` (axis 0), ``np.column_stack`` (1) or ``np.dstack``
    (2): a piece of fewer dimensions is one row, column or layer."""
    if rows:
        # np.vstack (axis 0), np.column_stack (1), np.dstack (2): a piece of fewer than
        # max(axis + 1, 2) dimensions is one slice along axis
        least = max(axis + 1, 2)
        sizes = [np.shape(a)[axis] if np.ndim(a) >= least else 1 for a in arrays]
        parts = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
        return tuple(p.reshape(np.shape(a)) for p, a in zip(parts, arrays, strict=True))
    if axis is None:
        sizes = [np.size(a) for a in arrays]
        g = np.ravel(g)
        bounds = np.cumsum(sizes)[:-1]
        return tuple(
            p.reshape(np.shape(a)) for p, a in zip(np.split(g, bounds), arrays, strict=True)
        )
    sizes = [np.shape(a)[axis] if np.ndim(a) else 1 for a in arrays]
    parts = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    # (a number np.hstack joined is one element of the result: its part is 0-d)
    return tuple(p if np.ndim(a) else p.reshape(()) for p, a in zip(parts, arrays, strict=True))


def restack(dys, g, axis=0):
    """Adjoint of :func:`unstack` (for derivatives of generated code): the cotangents of
    its pieces stacked back along ``axis``, zeros for a piece without one (None)."""
    if dys is None:
        return np.zeros(np.shape(g), dtype=np.result_type(g, 0.0))
    zero = np.zeros_like(np.take(g, 0, axis=axis), dtype=np.result_type(g, 0.0))
    return np.stack([zero if d is None else d + zero for d in dys], axis=axis)


def reconcatenate(dys, arrays, axis=0, rows=False):
    """Adjoint of :func:`unconcatenate` (for derivatives of generated code): the
    cotangents of its pieces joined back, zeros for a piece without one (None)."""
    dys = [None] * len(arrays) if dys is None else dys
    pieces = [
        np.zeros(np.shape(a), dtype=np.result_type(a, 0.0))
        if d is None
        else np.broadcast_to(d, np.shape(a))
        for d, a in zip(dys, arrays, strict=True)
    ]
    if rows:
        return (np.vstack, np.column_stack, np.dstack)[axis](pieces)
    return np.concatenate(pieces, axis=axis)


def untranspose(g, axes=None):
    """Adjoint of ``np.transpose(x, axes)``."""
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort([a % np.ndim(g) for a in axes]))


def matmul_adjoint_lhs(g, x, y):
    """Cotangent of ``x`` in ``x @ y``, for every combination of 1-d and n-d operands."""
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        dx = g @ y.T  # fast path for matrices, the common case
        return dx if np.shape(dx) == x.shape else unbroadcast(dx, x)
    if np.ndim(y) == 1:
        return g * y if np.ndim(x) == 1 else np.expand_dims(g, -1) * y
    if np.ndim(x) == 1:
        return unbroadcast(np.squeeze(y @ np.expand_dims(g, -1), -1), x)
    return unbroadcast(g @ np.swapaxes(y, -1, -2), x)


def matmul_adjoint_rhs(g, x, y):
    """Cotangent of ``y`` in ``x @ y``, for every combination of 1-d and n-d operands."""
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        dy = x.T @ g  # fast path for matrices, the common case
        return dy if np.shape(dy) == y.shape else unbroadcast(dy, y)
    if np.ndim(x) == 1:
        if np.ndim(y) == 1:
            return g * x
        return unbroadcast(np.expand_dims(x, -1) * np.expand_dims(g, -2), y)
    if np.ndim(y) == 1:
        k = np.shape(y)[0]
        return np.reshape(x, (-1, k)).T @ np.reshape(g, (-1,))
    return unbroadcast(np.swapaxes(x, -1, -2) @ g, y)


def dot_adjoint_lhs(g, x, y):
    """Cotangent of ``x`` in ``np.dot(x, y)``, which for n-d operands is
    ``dot(x, y)[i..., j..., m] = sum_k x[i..., k] * y[j..., k, m]`` (no ``m`` for 1-d ``y``)."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(g * y, x)
    if np.ndim(x) <= 2 and np.ndim(y) <= 2:
        return matmul_adjoint_lhs(g, x, y)
    ny = np.ndim(y)
    # contract g's j... and m with y's j... and m, leaving x's i... and k
    y_axes = [*range(ny - 2), ny - 1] if ny > 1 else []
    return np.tensordot(g, y, axes=(list(range(np.ndim(x) - 1, np.ndim(g))), y_axes))


def dot_adjoint_rhs(g, x, y):
    """Cotangent of ``y`` in ``np.dot(x, y)`` (see :func:`dot_adjoint_lhs`)."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(g * x, y)
    if np.ndim(x) <= 2 and np.ndim(y) <= 2:
        return matmul_adjoint_rhs(g, x, y)
    # contract x's i... with g's i..., leaving k, then y's j... and m
    lead = list(range(np.ndim(x) - 1))
    d = np.tensordot(x, g, axes=(lead, lead))
    return np.moveaxis(d, 0, -2) if np.ndim(y) > 1 else d


def real_cotangent(g, x, name="np.real"):
    """The cotangent ``g`` of ``np.real(x)`` (and ``conj``, ``imag``, ``angle``) for a real
    ``x``, or a complex ``x`` whose imaginary part is zero everywhere: a real number
    stored as complex, as newer numpy returns np.linalg.eig's real results. A complex
    ``x`` with a nonzero imaginary part is refused, since its adjoint needs a convention
    for complex derivatives that adcompile does not implement."""
    if np.iscomplexobj(x) and np.any(np.imag(x) != 0):
        raise TypeError(
            f"{name} of a complex value cannot be differentiated: adcompile differentiates "
            "real-valued computations only (complex values whose imaginary parts are all "
            "zero included)"
        )
    if np.iscomplexobj(g):  # a tangent (forward mode) of such a value: its real part
        g = real_part_of(g)
    return g
