"""The adjoint of ``np.bincount`` in its weights (rules/reductions.py), against
central finite differences; the ufunc methods written as other primitives are tested
in tests/test_ufunc_methods.py."""

import numpy as np
from helpers import assert_grad_matches_fd

RNG = np.random.default_rng(3)


def bincount_weights(w, v):
    sums = np.bincount(np.array([3, 0, 0, 1, 3, 3]), weights=w * v, minlength=6)
    return np.sum(sums**2 * np.arange(1.0, 7.0)) + np.sum(np.bincount([1, 1, 2], w[:3]) * v[0])


def test_bincount_is_differentiated_in_its_weights():
    w, v = RNG.normal(size=6), RNG.normal(size=6)
    assert_grad_matches_fd(bincount_weights, w, v, wrt=(0, 1))
