"""Adjoints of reductions. Each spreads the cotangent back over the reduced axes.

Ties in ``max``/``min`` share the cotangent equally among the tied elements.
"""

import numpy as np

from ..runtime import extremum_mask, prod_adjoint, reduced_count, unreduce
from .record import REDUCTION
from .registry import adjoint, nondiff


@adjoint(np.sum, shape=REDUCTION)
def sum(dy, y, a, axis=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims)


@adjoint(np.mean, shape=REDUCTION)
def mean(dy, y, a, axis=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims) / reduced_count(a, axis)


@adjoint(np.max, np.amax, shape=REDUCTION)
def max(dy, y, a, axis=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims) * extremum_mask(a, y, axis, keepdims)


@adjoint(np.min, np.amin, shape=REDUCTION)
def min(dy, y, a, axis=None, keepdims=False):
    return unreduce(dy, a, axis, keepdims) * extremum_mask(a, y, axis, keepdims)


@adjoint(np.prod, shape=REDUCTION)
def prod(dy, y, a, axis=None, keepdims=False):
    return prod_adjoint(dy, a, axis, keepdims)


@adjoint(np.var, shape=REDUCTION)
def var(dy, y, a, axis=None, ddof=0, keepdims=False):
    centred = a - np.mean(a, axis=axis, keepdims=True)
    return unreduce(dy, a, axis, keepdims) * 2 * centred / (reduced_count(a, axis) - ddof)


@adjoint(np.std, shape=REDUCTION)
def std(dy, y, a, axis=None, ddof=0, keepdims=False):
    # Where the spread is zero (all elements equal) std has a kink: its gradient is 0
    # there, the convention of abs'(0) = 0, instead of 0 / 0.
    centred = a - np.mean(a, axis=axis, keepdims=True)
    # (not named `spread`: rule locals must not shadow runtime helpers, see the
    # regression test of that name in tests/test_fuzz_regressions.py)
    scaled = unreduce(dy / np.where(y == 0, np.inf, y), a, axis, keepdims)
    return scaled * centred / (reduced_count(a, axis) - ddof)


nondiff(np.argmax, np.argmin, np.argsort, np.any, np.all, np.count_nonzero)
