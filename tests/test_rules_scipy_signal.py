"""The adjoint and tangent rules of scipy.signal's convolutions and correlations: each
against central finite differences in float64 in every mode, for 1-d, 2-d and 3-d
operands and either operand the larger, its jvp against the gradient, its hvp against
differences of the gradient, and float32 in, float32 out."""

from __future__ import annotations

import numpy as np
import pytest

scipy = pytest.importorskip("scipy")

import fuzzcheck  # noqa: E402
import scipy.signal as ss  # noqa: E402
from helpers import assert_grad_matches_fd  # noqa: E402

import adcompile as ad  # noqa: E402
from adcompile import rules  # noqa: E402
from adcompile.rules import registry  # noqa: E402

rules.load_optional(import_libraries=True)

RNG = np.random.default_rng(5)
W = RNG.normal(size=400)
FN = ss.convolve  # the function under test, rebound by each case


def weigh(y):
    return np.sum(np.sin(y) * W[: np.size(y)].reshape(np.shape(y)))


def through_full(a, b):
    return weigh(FN(a, b))


def through_valid(a, b):
    return weigh(FN(a, b, mode="valid"))


def through_same(a, b):
    return weigh(FN(a, b, "same"))


THROUGH = {"full": through_full, "valid": through_valid, "same": through_same}


def check(f, *args, wrt=(0, 1)):
    g = assert_grad_matches_fd(f, *args, wrt=wrt)
    v = tuple(RNG.normal(size=np.shape(args[i])) for i in wrt)
    _, t = ad.jvp(f, wrt=wrt)(*args, v)
    assert t == pytest.approx(sum(np.sum(gi * vi) for gi, vi in zip(g, v)), rel=1e-8, abs=1e-10)
    assert fuzzcheck.check_hvp(f, list(args), wrt) == "hvp"
    g32 = ad.grad(f, wrt=wrt)(*[a.astype(np.float32) for a in args])
    for a, b in zip(g32, g):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3)


N_D = {
    "convolve": ss.convolve,
    "correlate": ss.correlate,
    "fftconvolve": ss.fftconvolve,
    "oaconvolve": ss.oaconvolve,
}
TWO_D = {"convolve2d": ss.convolve2d, "correlate2d": ss.correlate2d}
SHAPES = {
    1: [((7,), (3,)), ((6,), (4,)), ((3,), (6,))],
    2: [((5, 4), (2, 3)), ((4, 4), (3, 2)), ((2, 3), (4, 5))],
    3: [((4, 3, 3), (2, 2, 1))],
}


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("name", sorted(N_D) + sorted(TWO_D))
def test_convolutions(name, mode, monkeypatch):
    monkeypatch.setitem(globals(), "FN", {**N_D, **TWO_D}[name])
    for ndim in (2,) if name in TWO_D else (1, 2, 3):
        for s1, s2 in SHAPES[ndim]:
            check(THROUGH[mode], RNG.normal(size=s1), RNG.normal(size=s2))


def fft_along_axis(a, b):
    # axis 0 is convolved, axis 1 broadcast (b has one column)
    return weigh(ss.fftconvolve(a, b, mode="same", axes=0))


def test_fftconvolve_along_axes_with_broadcasting():
    check(fft_along_axis, RNG.normal(size=(6, 3)), RNG.normal(size=(3, 1)))


def wrapped(a, b):
    return np.sum(ss.convolve2d(a, b, boundary="wrap"))


def test_a_boundary_other_than_zeros_is_refused():
    with pytest.raises(ValueError, match="boundary='fill'"):
        ad.grad(wrapped)(RNG.normal(size=(4, 4)), RNG.normal(size=(2, 2)))


def test_every_scipy_signal_rule_is_tested():
    tested = {id(fn) for fn in [*N_D.values(), *TWO_D.values()]}
    missing = sorted(
        r.name
        for r in registry.primitives()
        if r.template is not None
        and r.template.__module__ == "adcompile.rules.scipy_signal"
        and id(r.canonical) not in tested
    )
    assert not missing, f"scipy.signal rules without a test here: {missing}"
