"""Adjoints of functions that pick elements of their operands: ``np.take``,
``np.take_along_axis``, ``np.append``, ``np.insert``, the order statistics of
``np.quantile``, ``np.percentile`` and ``np.median``, and ``np.interp``.

Each result element is an operand's element (or, for the quantiles and np.interp, a
weighted sum of two), at a flat position the ``*_positions`` helpers of
``runtime/selecting.py`` compute; ``placed`` gathers along those positions (the
tangent) and ``unplaced`` adds a cotangent back (the adjoint). Which elements a
quantile picks is piecewise constant in the operand: the gradient flows to the two
order statistics numpy's default ``method="linear"`` interpolates between (at ties,
to the one the stable sort puts first); docs/numerics.md states the conventions.
"""

import numpy as np

from ..runtime import (
    append_positions,
    inexact_result,
    insert_positions,
    interp_inverse_width,
    interp_positions,
    interp_weight,
    placed,
    quantile_fraction,
    quantile_positions,
    take_along_axis_positions,
    take_positions,
    unplaced,
)
from .record import UNKNOWN
from .registry import adjoint
from .tangents import tangent


@adjoint(np.take, shape=UNKNOWN, fresh=True)
def take(dy, y, a, indices, axis=None, out=None, mode="raise"):
    return unplaced(dy, take_positions(a, indices, axis, mode), 0, a)


@tangent(np.take)
def take_tangent(da, y, a, indices, axis=None, out=None, mode="raise"):
    return np.take(da, indices, axis, None, mode)


@adjoint(np.take_along_axis, shape=UNKNOWN, fresh=True)
def take_along_axis(dy, y, arr, indices, axis):
    return unplaced(dy, take_along_axis_positions(arr, indices, axis), 0, arr)


@tangent(np.take_along_axis)
def take_along_axis_tangent(darr, y, arr, indices, axis):
    return np.take_along_axis(darr, indices, axis)


@adjoint(np.append, shape=UNKNOWN, fresh=True)
def append(dy, y, arr, values, axis=None):
    where = append_positions(arr, values, axis)
    return unplaced(dy, where, 0, arr), unplaced(dy, where, np.size(arr), values)


@tangent(np.append)
def append_tangent(darr, dvalues, y, arr, values, axis=None):
    where = append_positions(arr, values, axis)
    return placed(darr, where, 0) + placed(dvalues, where, np.size(arr))


# (values inserted into an array of integers are truncated: no derivative there)


@adjoint(np.insert, shape=UNKNOWN, fresh=True)
def insert(dy, y, arr, obj, values, axis=None):
    where = insert_positions(arr, obj, values, axis)
    inserted = unplaced(dy, where, np.size(arr), values) * inexact_result(y)
    return unplaced(dy, where, 0, arr), None, inserted


@tangent(np.insert)
def insert_tangent(darr, dvalues, y, arr, obj, values, axis=None):
    where = insert_positions(arr, obj, values, axis)
    return placed(darr, where, 0) + placed(dvalues, where, np.size(arr)) * inexact_result(y)


# The quantiles: the result is (1 - t) * lower + t * upper order statistic. The rank q
# has a derivative too (the slope between the two statistics), which these rules do not
# give: differentiating through q is refused (constant=).


@adjoint(np.quantile, shape=UNKNOWN, fresh=True, constant=("q",))
def quantile(
    dy, y, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False
):
    t = quantile_fraction(a, q, axis, method, keepdims)
    lower = quantile_positions(a, q, axis, method, keepdims, False)
    upper = quantile_positions(a, q, axis, method, keepdims, True)
    return unplaced(dy * (1 - t), lower, 0, a) + unplaced(dy * t, upper, 0, a), None


@tangent(np.quantile)
def quantile_tangent(
    da, y, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False
):
    t = quantile_fraction(a, q, axis, method, keepdims)
    lower = quantile_positions(a, q, axis, method, keepdims, False)
    upper = quantile_positions(a, q, axis, method, keepdims, True)
    return placed(da, lower, 0) * (1 - t) + placed(da, upper, 0) * t


@adjoint(np.percentile, shape=UNKNOWN, fresh=True, constant=("q",))
def percentile(
    dy, y, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False
):
    t = quantile_fraction(a, np.true_divide(q, 100), axis, method, keepdims)
    lower = quantile_positions(a, np.true_divide(q, 100), axis, method, keepdims, False)
    upper = quantile_positions(a, np.true_divide(q, 100), axis, method, keepdims, True)
    return unplaced(dy * (1 - t), lower, 0, a) + unplaced(dy * t, upper, 0, a), None


@tangent(np.percentile)
def percentile_tangent(
    da, y, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False
):
    t = quantile_fraction(a, np.true_divide(q, 100), axis, method, keepdims)
    lower = quantile_positions(a, np.true_divide(q, 100), axis, method, keepdims, False)
    upper = quantile_positions(a, np.true_divide(q, 100), axis, method, keepdims, True)
    return placed(da, lower, 0) * (1 - t) + placed(da, upper, 0) * t


@adjoint(np.median, shape=UNKNOWN, fresh=True)
def median(dy, y, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    t = quantile_fraction(a, 0.5, axis, "linear", keepdims)
    lower = quantile_positions(a, 0.5, axis, "linear", keepdims, False)
    upper = quantile_positions(a, 0.5, axis, "linear", keepdims, True)
    return unplaced(dy * (1 - t), lower, 0, a) + unplaced(dy * t, upper, 0, a)


@tangent(np.median)
def median_tangent(da, y, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    t = quantile_fraction(a, 0.5, axis, "linear", keepdims)
    lower = quantile_positions(a, 0.5, axis, "linear", keepdims, False)
    upper = quantile_positions(a, 0.5, axis, "linear", keepdims, True)
    return placed(da, lower, 0) * (1 - t) + placed(da, upper, 0) * t


# np.interp(x, xp, fp): fp[j] + t (fp[j + 1] - fp[j]) in the interval [xp[j], xp[j + 1]]
# that holds x, with t = (x - xp[j]) / (xp[j + 1] - xp[j]). Linear in fp; in x the slope
# of the interval (0 outside xp's range, the right-hand interval's at a point of xp); in
# the ends of the interval, -slope (1 - t) and -slope t. The values left= and right= given
# outside the range have derivatives the rule does not give (constant=).


@adjoint(np.interp, shape=UNKNOWN, fresh=True, constant=("left", "right"))
def interp(dy, y, x, xp, fp, left=None, right=None, period=None):
    lower = interp_positions(x, xp, False)
    upper = interp_positions(x, xp, True)
    slope = (placed(fp, upper, 0) - placed(fp, lower, 0)) * interp_inverse_width(x, xp)
    below = interp_weight(x, xp, left, right, False, period)
    above = interp_weight(x, xp, left, right, True, period)
    return (
        dy * slope,
        -(unplaced(dy * slope * below, lower, 0, xp) + unplaced(dy * slope * above, upper, 0, xp)),
        unplaced(dy * below, lower, 0, fp) + unplaced(dy * above, upper, 0, fp),
    )


@tangent(np.interp)
def interp_tangent(dx, dxp, dfp, y, x, xp, fp, left=None, right=None, period=None):
    lower = interp_positions(x, xp, False)
    upper = interp_positions(x, xp, True)
    slope = (placed(fp, upper, 0) - placed(fp, lower, 0)) * interp_inverse_width(x, xp)
    below = interp_weight(x, xp, left, right, False, period)
    above = interp_weight(x, xp, left, right, True, period)
    return (
        (dx - placed(dxp, lower, 0) * below - placed(dxp, upper, 0) * above) * slope
        + placed(dfp, lower, 0) * below
        + placed(dfp, upper, 0) * above
    )
