"""Adjoints of reductions. Each spreads the cotangent back over the reduced axes.

Ties in ``max``/``min`` share the cotangent equally among the tied elements.
"""

import numpy as np

from ..runtime import (
    average_weights_shape,
    expand_reduced,
    extremum_mask,
    prod_adjoint,
    reduced_count,
    unbroadcast,
    unreduce,
)
from ..runtime import prod_tangent as prod_tangent_of
from .record import REDUCTION, UNKNOWN
from .registry import adjoint, nondiff
from .tangents import tangent


@adjoint(np.sum, shape=REDUCTION)
def sum(dy, y, a, axis=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims)


@tangent(np.sum)
def sum_tangent(da, y, a, axis=None, keepdims=False):
    return np.sum(da, axis=axis, keepdims=keepdims)


@adjoint(np.mean, shape=REDUCTION)
def mean(dy, y, a, axis=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims) / reduced_count(a, axis)


@tangent(np.mean)
def mean_tangent(da, y, a, axis=None, keepdims=False):
    return np.mean(da, axis=axis, keepdims=keepdims)


@adjoint(np.max, np.amax, shape=REDUCTION)
def max(dy, y, a, axis=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims) * extremum_mask(a, y, axis, keepdims)


@tangent(np.max)
def max_tangent(da, y, a, axis=None, keepdims=False):
    return np.sum(da * extremum_mask(a, y, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.min, np.amin, shape=REDUCTION)
def min(dy, y, a, axis=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims) * extremum_mask(a, y, axis, keepdims)


@tangent(np.min)
def min_tangent(da, y, a, axis=None, keepdims=False):
    return np.sum(da * extremum_mask(a, y, axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.prod, shape=REDUCTION)
def prod(dy, y, a, axis=None, keepdims=False):
    return prod_adjoint(dy, a, axis, keepdims)


@tangent(np.prod)
def prod_tangent(da, y, a, axis=None, keepdims=False):
    return prod_tangent_of(da, a, axis, keepdims)


@adjoint(np.var, shape=REDUCTION)
def var(dy, y, a, axis=None, ddof=0, keepdims=False):
    centred = a - np.mean(a, axis=axis, keepdims=True)
    return unreduce(dy, a, axis, keepdims) * 2 * centred / (reduced_count(a, axis) - ddof)


@tangent(np.var)
def var_tangent(da, y, a, axis=None, ddof=0, keepdims=False):
    centred = a - np.mean(a, axis=axis, keepdims=True)
    return 2 * np.sum(centred * da, axis=axis, keepdims=keepdims) / (reduced_count(a, axis) - ddof)


@adjoint(np.std, shape=REDUCTION)
def std(dy, y, a, axis=None, ddof=0, keepdims=False):
    # Where the spread is zero (all elements equal) std has a kink: its gradient is 0
    # there, the convention of abs'(0) = 0, instead of 0 / 0.
    centred = a - np.mean(a, axis=axis, keepdims=True)
    # (not named `spread`: rule locals must not shadow runtime helpers, see the
    # regression test of that name in tests/test_fuzz_regressions.py)
    scaled = unreduce(dy / np.where(y == 0, np.inf, y), a, axis, keepdims)
    return scaled * centred / (reduced_count(a, axis) - ddof)


@tangent(np.std)
def std_tangent(da, y, a, axis=None, ddof=0, keepdims=False):
    # 0 where the spread is zero, as the adjoint reads it
    centred = a - np.mean(a, axis=axis, keepdims=True)
    moved = np.sum(centred * da, axis=axis, keepdims=keepdims)
    return moved / ((reduced_count(a, axis) - ddof) * np.where(y == 0, np.inf, y))


@adjoint(np.ptp, shape=REDUCTION)
def ptp(dy, y, a, axis=None, out=None, keepdims=False):
    # max - min: ties share the cotangent as in max and min
    high = extremum_mask(a, np.max(a, axis=axis, keepdims=keepdims), axis, keepdims)
    low = extremum_mask(a, np.min(a, axis=axis, keepdims=keepdims), axis, keepdims)
    return unreduce(dy, a, axis, keepdims) * (high - low)


@tangent(np.ptp)
def ptp_tangent(da, y, a, axis=None, out=None, keepdims=False):
    high = extremum_mask(a, np.max(a, axis=axis, keepdims=keepdims), axis, keepdims)
    low = extremum_mask(a, np.min(a, axis=axis, keepdims=keepdims), axis, keepdims)
    return np.sum(da * (high - low), axis=axis, keepdims=keepdims)


# The nan-ignoring reductions: a NaN element is left out of the result, so its derivative
# is 0 (and a slice of NaNs only, whose result numpy makes NaN or 0, gives NaNs or zeros).


@adjoint(np.nansum, shape=REDUCTION)
def nansum(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return np.where(np.isnan(a), 0, unreduce(dy, a, axis, keepdims))


@tangent(np.nansum)
def nansum_tangent(da, y, a, axis=None, dtype=None, out=None, keepdims=False):
    return np.sum(np.where(np.isnan(a), 0, da), axis=axis, keepdims=keepdims)


@adjoint(np.nanmean, shape=REDUCTION)
def nanmean(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
    count = np.sum(np.where(np.isnan(a), 0, np.ones_like(a)), axis=axis, keepdims=True)
    return np.where(np.isnan(a), 0, unreduce(dy, a, axis, keepdims) / count)


@tangent(np.nanmean)
def nanmean_tangent(da, y, a, axis=None, dtype=None, out=None, keepdims=False):
    count = np.sum(np.where(np.isnan(a), 0, np.ones_like(a)), axis=axis, keepdims=True)
    return np.sum(np.where(np.isnan(a), 0, da / count), axis=axis, keepdims=keepdims)


@adjoint(np.nanmax, shape=REDUCTION)
def nanmax(dy, y, a, axis=None, out=None, keepdims=False):
    # (a NaN never equals the extremum: extremum_mask leaves it out)
    return unreduce(dy, a, axis, keepdims) * extremum_mask(a, y, axis, keepdims)


@tangent(np.nanmax)
def nanmax_tangent(da, y, a, axis=None, out=None, keepdims=False):
    mask = extremum_mask(a, y, axis, keepdims)
    return np.sum(np.where(np.isnan(a), 0, da) * mask, axis=axis, keepdims=keepdims)


@adjoint(np.nanmin, shape=REDUCTION)
def nanmin(dy, y, a, axis=None, out=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims) * extremum_mask(a, y, axis, keepdims)


@tangent(np.nanmin)
def nanmin_tangent(da, y, a, axis=None, out=None, keepdims=False):
    mask = extremum_mask(a, y, axis, keepdims)
    return np.sum(np.where(np.isnan(a), 0, da) * mask, axis=axis, keepdims=keepdims)


# np.average(a, axis, weights) = sum(w a) / sum(w) over axis, with the weights broadcast
# against a (a 1-d array of weights along axis is laid along it: average_weights_shape).


@adjoint(np.average, shape=UNKNOWN, fresh=True)
def average(dy, y, a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        # (weights given no contribution: they are None on this path, never active)
        mean_of_a = unreduce(dy, a, axis, keepdims) / reduced_count(a, axis)
        return mean_of_a, None, np.zeros_like(weights)
    w = np.reshape(weights, average_weights_shape(a, weights, axis, returned))
    spread_w = w + np.zeros_like(a)
    total = np.sum(spread_w, axis=axis, keepdims=True)
    g = unreduce(dy, a, axis, keepdims) / total
    centred = a - expand_reduced(y, axis, keepdims)
    return g * spread_w, None, np.reshape(unbroadcast(g * centred, w), np.shape(weights))


@tangent(np.average)
def average_tangent(da, dweights, y, a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        return np.mean(da, axis=axis, keepdims=keepdims)
    w = np.reshape(weights, average_weights_shape(a, weights, axis, returned))
    spread_w = w + np.zeros_like(a)
    total = np.sum(spread_w, axis=axis, keepdims=keepdims)
    centred = a - expand_reduced(y, axis, keepdims)
    # (the tangents inline, not in a local: an inactive one folds away)
    return (
        np.sum(da * spread_w, axis=axis, keepdims=keepdims)
        + np.sum(
            np.reshape(dweights, average_weights_shape(a, weights, axis, returned)) * centred,
            axis=axis,
            keepdims=keepdims,
        )
    ) / total


nondiff(np.argmax, np.argmin, np.argsort, np.any, np.all, np.count_nonzero)

# index producers: integer positions (or tuples of them), used to index arrays
nondiff(
    np.nonzero,
    np.argwhere,
    np.flatnonzero,
    np.triu_indices,
    np.tril_indices,
    np.diag_indices,
    np.ix_,
    np.unravel_index,
    np.ravel_multi_index,
    np.indices,
    np.searchsorted,
    np.digitize,
)


# np.bincount(x, weights, minlength): sums of the weights by bin, linear in the weights
# (the bins x are integers); without weights, counts (no derivative: x is integer)
@adjoint(np.bincount, shape=UNKNOWN, fresh=True)
def bincount(dy, y, x, weights=None, minlength=0):
    return None, np.broadcast_to(dy, np.shape(y))[np.asarray(x)]


@tangent(np.bincount)
def bincount_tangent(dweights, y, x, weights=None, minlength=0):
    return np.bincount(x, dweights, minlength=np.size(y))
