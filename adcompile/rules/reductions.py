"""Adjoints of reductions. Each spreads the cotangent back over the reduced axes.

Ties in ``max``/``min`` share the cotangent equally among the tied elements.
"""

import numpy as np

from ..runtime import extremum_mask, prod_adjoint, reduced_count, unreduce
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
