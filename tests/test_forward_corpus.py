"""Forward mode on the corpus of real numpy code (tests/corpus, see test_corpus.py).

For every function adcompile differentiates, at every argument set, the jvp along
a random tangent ``t`` and the vjp with a random cotangent ``c`` satisfy the
adjoint identity ``<c, jvp(t)> == <vjp(c), t>``; the vjp is checked against
finite differences and autograd in test_corpus.py. The jvp's value is the
function's own.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_corpus import CASES, DIFF, copy, cotangent_like, leaves

import adcompile as ad


def _inner(a, b) -> float:
    return float(
        sum(
            np.sum(np.asarray(x, float) * np.asarray(y, float))
            for x, y in zip(leaves(a), leaves(b), strict=True)
        )
    )


CHECKED = [c for c in CASES if c.expect == DIFF and not c.marks]


@pytest.mark.parametrize("case", CHECKED, ids=[c.id for c in CHECKED])
def test_jvp_and_vjp_are_adjoint(case):
    fn = case.fn
    wrt = case.wrt if len(case.wrt) > 1 else case.wrt[0]
    for k, args in enumerate(case.args()):
        with np.errstate(all="ignore"):
            value = fn(*copy(args))
        tangents = tuple(cotangent_like(args[i], seed=k + 1) for i in case.wrt)
        c = cotangent_like(value, seed=k + 7)
        with np.errstate(all="ignore"):
            got, tangent = ad.jvp(fn, wrt=wrt)(
                *copy(args), tangents if len(case.wrt) > 1 else tangents[0]
            )
            vjp = ad.vjp(fn, wrt=tuple(case.wrt))
            grads = vjp(*copy(args), **{vjp.cotangent: c})
        for a, b in zip(leaves(got), leaves(value), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-300)
        forward = _inner(c, tangent)
        reverse = _inner(grads, tangents)
        scale = abs(forward) + abs(reverse) + 1e-12
        assert abs(forward - reverse) <= 1e-8 * scale, (case.id, forward, reverse)


def test_most_of_the_corpus_is_checked():
    assert len(CHECKED) >= 50
