"""Adjoints of numpy functions that pick elements of their operands: ``np.take``,
``np.take_along_axis``, ``np.append``, ``np.insert``, and the order statistics that
``np.quantile``, ``np.percentile``, ``np.median`` and ``np.interp`` interpolate between.

Each such function puts, at position ``i`` of its result, element ``P[i]`` of its
operands' flat values laid end to end (the first operand's from 0, the next one's
from the first one's size...). The ``*_positions`` helpers find ``P``: for the
functions that only move elements, by running the function itself on arrays of
flat positions, so that numpy's own rules (negative indices, ``mode=``, the
broadcasting of ``np.insert``'s values) decide. Two linear helpers then move values
along ``P``: :func:`placed` gathers an operand's values (the tangent), and
:func:`unplaced` adds a cotangent back into the operand's shape (the adjoint);
each is the other's transpose, which is all their own rules say
(rules/runtime_rules.py), so higher derivatives follow.
"""

from __future__ import annotations

import numpy as np


def _ids(x, start=0):
    """Flat positions ``start, start + 1, ...`` in the shape of ``x``."""
    return np.arange(start, start + np.size(x)).reshape(np.shape(x))


def placed(x, where, start=0):
    """The elements ``start + k`` of ``where`` taken from ``x``'s flat values (element
    ``k`` of ``x``); zero where ``where`` points at another operand."""
    where = np.asarray(where)
    flat = np.ravel(x)
    if start == 0 and (where.size == 0 or where.max() < flat.size):
        return flat[where]
    inside = (where >= start) & (where < start + flat.size)
    out = np.zeros(where.shape, dtype=np.result_type(x, 0.0))
    out[inside] = flat[where[inside] - start]
    return out


def unplaced(g, where, start, x):
    """Adjoint of :func:`placed`: ``g`` (shaped like ``where``) added into zeros shaped
    like ``x``, each element at the position ``where`` gives it (less ``start``)."""
    where = np.asarray(where)
    g = np.broadcast_to(g, where.shape)
    out = np.zeros(np.size(x), dtype=np.result_type(g, x, 0.0))
    inside = (where >= start) & (where < start + out.size)
    np.add.at(out, where[inside] - start, g[inside])
    return out.reshape(np.shape(x))


# ------------------------------------------------------------ moving elements


def take_positions(a, indices, axis=None, mode="raise"):
    """Where each element of ``np.take(a, indices, axis, mode=mode)`` comes from."""
    return np.take(_ids(a), indices, axis=axis, mode=mode)


def take_along_axis_positions(arr, indices, axis):
    """Where each element of ``np.take_along_axis(arr, indices, axis)`` comes from."""
    return np.take_along_axis(_ids(arr), indices, axis)


def append_positions(arr, values, axis=None):
    """Where each element of ``np.append(arr, values, axis)`` comes from (``values``'
    elements after ``arr``'s)."""
    return np.append(_ids(arr), _ids(values, np.size(arr)), axis)


def insert_positions(arr, obj, values, axis=None):
    """Where each element of ``np.insert(arr, obj, values, axis)`` comes from (``values``'
    elements after ``arr``'s; numpy broadcasts them as it does the values)."""
    return np.insert(_ids(arr), obj, _ids(values, np.size(arr)), axis)


# ------------------------------------------------------------ order statistics


def _virtual_index(q, n):
    """The position between order statistics that numpy's default (``"linear"``)
    method interpolates at, for ``q`` in [0, 1] of ``n`` sorted values: the lower
    statistic, the upper one, and the weight of the upper one."""
    v = np.asarray(q, dtype=float) * (n - 1)
    lo = np.clip(np.floor(v), 0, n - 1).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, v - lo


def _checked(method, axis):
    if method != "linear":
        raise ValueError(
            f"the derivative of np.quantile/np.percentile with method={method!r} is not "
            "implemented: use the default method='linear'"
        )
    if isinstance(axis, tuple | list):
        raise ValueError(
            "the derivative of np.quantile/np.percentile/np.median over several axes is not "
            "implemented: move the axes together and reshape them into one first"
        )


def quantile_positions(a, q, axis=None, method="linear", keepdims=False, upper=False):
    """Where the lower (``upper``: the upper) order statistic that
    ``np.quantile(a, q, axis, method=method, keepdims=keepdims)`` interpolates from is
    in ``a``'s flat values, in the result's shape."""
    _checked(method, axis)
    ids = _ids(a)
    if axis is None:
        values, ids = np.ravel(a), np.ravel(ids)
    else:
        values, ids = np.moveaxis(np.asarray(a), axis, -1), np.moveaxis(ids, axis, -1)
    order = np.argsort(values, axis=-1, kind="stable")
    ranked = np.take_along_axis(ids, order, -1)
    lo, hi, _ = _virtual_index(q, np.shape(values)[-1])
    picked = ranked[..., hi if upper else lo]  # the kept axes, then q's
    qn = np.ndim(q)
    picked = np.moveaxis(picked, range(picked.ndim - qn, picked.ndim), range(qn))
    if keepdims:
        kept = (1,) * np.ndim(a) if axis is None else _kept_shape(np.shape(a), axis)
        picked = picked.reshape(np.shape(q) + kept)
    return picked


def _kept_shape(shape, axis):
    axis = axis % len(shape)
    return shape[:axis] + (1,) + shape[axis + 1 :]


def quantile_fraction(a, q, axis=None, method="linear", keepdims=False):
    """The weight of the upper order statistic in ``np.quantile(a, q, ...)``, shaped to
    broadcast against the result (q's axes first), in ``a``'s precision."""
    _checked(method, axis)
    n = np.size(a) if axis is None else np.shape(a)[axis]
    _, _, t = _virtual_index(q, n)
    rest = np.ndim(a) if keepdims else (0 if axis is None else np.ndim(a) - 1)
    return t.reshape(np.shape(q) + (1,) * rest).astype(np.result_type(a, 0.0))


# ------------------------------------------------------------ interpolation


def _interval(x, xp):
    """The interval of ``xp`` each ``x`` falls in (the last one for x at or past the end,
    the first one before the start), as the index of its lower end."""
    j = np.searchsorted(xp, x, side="right") - 1
    return np.clip(j, 0, max(np.size(xp) - 2, 0))


def interp_positions(x, xp, upper=False):
    """Where the lower (``upper``: upper) end of the interval of ``xp`` that ``np.interp``
    interpolates each ``x`` in is, in ``xp`` (and ``fp``)."""
    j = _interval(x, xp)
    return np.minimum(j + 1, np.size(xp) - 1) if upper else j


def interp_weight(x, xp, left=None, right=None, upper=False, period=None):
    """The weight of the lower (``upper``: upper) end of its interval in ``np.interp(x, xp,
    fp, left, right)``: 0 where a value given as ``left`` or ``right`` replaces the
    interpolation."""
    if period is not None:
        raise ValueError(
            "the derivative of np.interp with period= is not implemented: map x into one "
            "period first (np.mod) and pass xp, fp extended by one point on each side"
        )
    x, xp = np.asarray(x), np.asarray(xp)
    j = _interval(x, xp)
    k = np.minimum(j + 1, xp.size - 1)
    width = np.where(k > j, xp[k] - xp[j], 1.0)
    t = np.clip((x - xp[j]) / width, 0.0, 1.0)
    w = t if upper else 1.0 - t
    if left is not None:
        w = np.where(x < xp[0], 0.0, w)
    if right is not None:
        w = np.where(x > xp[-1], 0.0, w)
    return w.astype(np.result_type(x, xp, 0.0))


def interp_inverse_width(x, xp):
    """1 / the width of the interval of ``xp`` each ``x`` is in, 0 outside ``xp``'s range
    (np.interp is constant there): the derivative of the interpolation weight in ``x``.
    At a point of ``xp`` itself (a kink) the interval to its right is used."""
    x, xp = np.asarray(x), np.asarray(xp)
    j = _interval(x, xp)
    k = np.minimum(j + 1, xp.size - 1)
    inside = (x >= xp[0]) & (x < xp[-1]) & (k > j)
    width = np.where(inside, xp[k] - xp[j], 1.0)
    return np.where(inside, 1.0 / width, 0.0).astype(np.result_type(x, xp, 0.0))
