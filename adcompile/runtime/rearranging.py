"""Adjoints of numpy functions that rearrange or accumulate: cumulative sums and
products, differences, sorting, diagonals, repetition, tiling, padding, casts."""

from __future__ import annotations

import numpy as np


def uncumsum(g, x, axis=None):
    """Adjoint of ``np.cumsum(x, axis)``: the reversed cumulative sum of ``g``."""
    if axis is None:
        return np.flip(np.cumsum(np.flip(np.ravel(g)))).reshape(np.shape(x))
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def uncumprod(g, x, axis=None):
    """Adjoint of ``np.cumprod(x, axis)``, exact also where ``x`` has zeros (no division):
    d y_i / d x_k is the product of x_j over j <= i, j != k."""
    x = np.asarray(x)
    if axis is None:
        return uncumprod(np.ravel(g), np.ravel(x), 0).reshape(x.shape)
    xm = np.moveaxis(x, axis, -1)
    gm = np.moveaxis(np.asarray(g), axis, -1)
    n = xm.shape[-1]
    before = np.cumprod(xm[..., :-1], axis=-1)
    left = np.concatenate([np.ones_like(xm[..., :1]), before], axis=-1)
    out = np.empty(np.broadcast_shapes(xm.shape, gm.shape), dtype=np.result_type(g, x, 0.0))
    for k in range(n):
        after = np.cumprod(xm[..., k + 1 :], axis=-1)
        out[..., k] = left[..., k] * (gm[..., k] + np.sum(gm[..., k + 1 :] * after, axis=-1))
    return np.moveaxis(out, -1, axis)


def undiff(g, n=1, axis=-1):
    """Adjoint of ``np.diff(x, n, axis)``: each difference's adjoint, ``n`` times."""
    for _ in range(n):
        shape = list(np.shape(g))
        shape[axis] = 1
        zero = np.zeros(shape, dtype=np.result_type(g))
        g = np.concatenate([zero, g], axis=axis) - np.concatenate([g, zero], axis=axis)
    return g


def unsort(g, x, axis=-1):
    """Adjoint of ``np.sort(x, axis)``: ``g`` put back where each element came from."""
    if axis is None:
        return unsort(np.ravel(g), np.ravel(x), 0).reshape(np.shape(x))
    order = np.argsort(x, axis=axis, kind="stable")
    out = np.zeros(np.shape(x), dtype=np.result_type(g, x, 0.0))
    np.put_along_axis(out, order, g, axis=axis)
    return out


def unpartition(g, x, kth, axis=-1):
    """Adjoint of ``np.partition(x, kth, axis)`` (through the same selection's argpartition)."""
    if axis is None:
        return unpartition(np.ravel(g), np.ravel(x), kth, 0).reshape(np.shape(x))
    order = np.argpartition(x, kth, axis=axis)
    out = np.zeros(np.shape(x), dtype=np.result_type(g, x, 0.0))
    np.put_along_axis(out, order, g, axis=axis)
    return out


def undiagonal(g, x, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.diagonal(x, offset, axis1, axis2)``: ``g`` written on that diagonal
    of zeros shaped like ``x``."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, x, 0.0))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    n = np.shape(g)[-1]
    rows = np.arange(n) + max(-offset, 0)
    cols = np.arange(n) + max(offset, 0)
    view[..., rows, cols] = g
    return out


def undiag(g, v, k=0):
    """Adjoint of ``np.diag(v, k)``: the diagonal of ``g`` for a vector ``v``, ``g`` on
    the diagonal of zeros for a matrix."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    return undiagonal(g, v, k, 0, 1)


def untrace(g, x, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.trace(x, offset, axis1, axis2)``."""
    n = np.diagonal(x, offset, axis1, axis2).shape[-1]
    return undiagonal(np.repeat(np.expand_dims(g, -1), n, axis=-1), x, offset, axis1, axis2)


def unrollaxis(g, x, axis, start=0):
    """Adjoint of ``np.rollaxis(x, axis, start)``: the inverse permutation."""
    n = np.ndim(x)
    axis, start = axis % n, (start + n if start < 0 else start)
    order = list(range(n))
    order.remove(axis)
    order.insert(start - 1 if axis < start else start, axis)
    return np.transpose(g, np.argsort(order))


def unrepeat(g, x, repeats, axis=None):
    """Adjoint of ``np.repeat(x, repeats, axis)``: the copies of each element summed."""
    if axis is None:
        flat = unrepeat(np.ravel(g), np.ravel(x), repeats, 0)
        return flat.reshape(np.shape(x))
    x = np.asarray(x)
    n = x.shape[axis]
    source = np.repeat(np.arange(n), repeats)
    moved = np.moveaxis(np.asarray(g), axis, 0)
    out = np.zeros((n, *moved.shape[1:]), dtype=np.result_type(g, x, 0.0))
    np.add.at(out, source, moved)
    return np.moveaxis(out, 0, axis)


def untile(g, x, reps):
    """Adjoint of ``np.tile(x, reps)``: the tiles summed."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    shape = np.shape(x)
    d = max(len(shape), len(reps))
    shape1 = (1,) * (d - len(shape)) + tuple(shape)
    reps1 = (1,) * (d - len(reps)) + reps
    pairs = [n for r, s in zip(reps1, shape1, strict=True) for n in (r, s)]
    summed = np.reshape(g, pairs).sum(axis=tuple(range(0, 2 * d, 2)))
    return np.reshape(summed, shape)


def unpad(g, x, pad_width, mode="constant"):
    """Adjoint of ``np.pad(x, pad_width)`` in constant mode: the interior of ``g``."""
    if mode != "constant":
        raise ValueError(
            f"np.pad with mode={mode!r} cannot be differentiated: only mode='constant' is"
        )
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (np.ndim(x), 2))
    return g[tuple(slice(lo, np.shape(g)[i] - hi) for i, (lo, hi) in enumerate(widths))]


def unarray(g, arrays):
    """Adjoint of ``np.array(arrays)`` / ``np.asarray``: one slice of ``g`` per element of a
    list or tuple of arrays and numbers, ``g`` itself for an array."""
    if isinstance(arrays, list | tuple):
        return tuple(g[i] for i in range(len(arrays)))
    return g


def rearray(dys, g, arrays):
    """Adjoint of :func:`unarray` (for derivatives of generated code): the cotangents of
    the elements put back together in ``g``'s shape, zeros for one without (None)."""
    dtype = np.result_type(g, 0.0)
    if not isinstance(arrays, list | tuple):
        return np.zeros(np.shape(g), dtype) if dys is None else np.broadcast_to(dys, np.shape(g))
    out = np.zeros(np.shape(g), dtype)
    for i, d in enumerate(dys if dys is not None else ()):
        if d is not None:
            out[i] = d
    return out


def uncast(g, x, dtype):
    """Adjoint of ``x.astype(dtype)``: the cotangent in ``x``'s precision; zero for a cast
    to integers or booleans (a step function of ``x``)."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        raise TypeError(
            "a cast to a complex dtype cannot be differentiated: adcompile differentiates "
            "real-valued computations only"
        )
    precision = np.result_type(x, 0.0)
    if kind in "biu":
        return np.zeros(np.shape(x), dtype=precision)
    return np.asarray(g).astype(precision, copy=False)


def ungradient(g, f, spacing=1.0, axis=None, edge_order=1):
    """Adjoint of ``np.gradient(f, spacing, axis=axis)`` along one axis with a uniform
    scalar spacing: the transpose of its differences (central inside, one-sided at the
    two ends)."""
    if np.ndim(f) != 1 and axis is None:
        raise ValueError(
            "np.gradient of an array of more than one axis returns a list: pass axis=k "
            "(one axis) to differentiate it"
        )
    if edge_order != 1 or np.ndim(spacing) != 0:
        raise ValueError(
            "np.gradient is differentiated with edge_order=1 and one scalar spacing only"
        )
    axis = 0 if axis is None else axis
    gm = np.moveaxis(np.asarray(g), axis, 0) / spacing
    out = np.zeros(gm.shape, dtype=np.result_type(gm, f, 0.0))
    out[2:] += gm[1:-1] / 2
    out[:-2] -= gm[1:-1] / 2
    out[1] += gm[0]
    out[0] -= gm[0]
    out[-1] += gm[-1]
    out[-2] -= gm[-1]
    return np.moveaxis(out, 0, axis)


def split_count(indices_or_sections) -> int:
    """How many arrays ``np.split(a, indices_or_sections)`` (and ``array_split``,
    ``hsplit``...) returns (a constant: the compiler reads it when it compiles)."""
    count = (
        indices_or_sections
        if isinstance(indices_or_sections, int)
        else len(indices_or_sections) + 1
    )
    if count < 2:
        # (a list of one array, which adcompile would take for the array itself)
        raise ValueError(
            "a split into one piece is not differentiated",
            "use the array itself, or split it into two pieces or more",
        )
    return count


def unsplit(g, pieces, axis):
    """Cotangent of ``a`` in ``pieces = np.split(a, ..., axis)``: the pieces' cotangents
    (``g``, a list with None for a piece that gets none) put back together."""
    parts = [
        np.zeros(np.shape(p), dtype=np.result_type(p, 0.0))
        if g is None or g[i] is None
        else np.broadcast_to(g[i], np.shape(p))
        for i, p in enumerate(pieces)
    ]
    return np.concatenate(parts, axis=axis)


def running_max(a, axis=0):
    """``np.maximum.accumulate(a, axis)``: the max of each prefix along ``axis``."""
    return np.maximum.accumulate(a, axis=axis)


def running_min(a, axis=0):
    """``np.minimum.accumulate(a, axis)``: the min of each prefix along ``axis``."""
    return np.minimum.accumulate(a, axis=axis)


def _running_plan(a, y, axis):
    """For a running max or min ``y`` of ``a`` along ``axis``, both moved to the last
    axis and flattened row after row: which elements hold their prefix's extreme
    (``hit``), the run of equal results each position is in (numbered over all rows),
    and how many holders each result has so far in its run (``count``). Each result
    is the max (min) of its prefix, shared equally among the elements that tie at it
    as ``np.max`` does: the holders of the run so far."""
    am = np.moveaxis(np.asarray(a), axis, -1)
    ym = np.moveaxis(np.asarray(y), axis, -1)
    hit = np.ravel(am == ym)
    starts = np.ones(ym.shape, dtype=bool)
    starts[..., 1:] = ym[..., 1:] != ym[..., :-1]  # (a NaN starts a run of its own)
    run = np.cumsum(np.ravel(starts)) - 1
    seen = np.cumsum(hit)
    before = (seen - hit)[np.ravel(starts)]  # holders before each run
    count = seen - before[run]
    return am.shape, hit, run, count


def running_tangent(da, a, y, axis=0):
    """Tangent of ``y = running_max(a, axis)`` (or ``running_min``): each result moves
    with the mean of the tangents of the elements holding it."""
    shape, hit, run, count = _running_plan(a, y, axis)
    d = np.ravel(np.broadcast_to(np.moveaxis(np.asarray(da), axis, -1), shape)) * hit
    total = np.cumsum(d)
    before = (total - d)[np.r_[True, run[1:] != run[:-1]]]
    share = np.where(count > 0, (total - before[run]) / np.where(count > 0, count, 1), 0.0)
    return np.moveaxis(share.reshape(shape), -1, axis)


def unrunning(g, a, y, axis=0):
    """Adjoint of ``y = running_max(a, axis)`` (or ``running_min``), the transpose of
    ``running_tangent``: each result's cotangent split equally among its holders."""
    shape, hit, run, count = _running_plan(a, y, axis)
    g = np.ravel(np.broadcast_to(np.moveaxis(np.asarray(g), axis, -1), shape))
    w = np.where(count > 0, g / np.where(count > 0, count, 1), 0.0)
    rest = np.cumsum(w[::-1])[::-1]  # sum of w from each position to the end
    ends = np.r_[run[1:] != run[:-1], True]
    after = (rest - w)[ends]  # sum of w beyond each run
    out = hit * (rest - after[run])
    return np.moveaxis(out.reshape(shape), -1, axis)


def outer_shape(a, b):
    """The shape ``a`` takes in ``f.outer(a, b)`` (``np.add.outer``): its own, then a
    1 for each axis of ``b``, so that ``f(np.reshape(a, outer_shape(a, b)), b)``
    broadcasts to ``a.shape + b.shape``."""
    return np.shape(a) + (1,) * np.ndim(b)
