"""numpy.fft is refused by name: its transforms compute complex numbers, and the
rules of adcompile are the calculus of real arithmetic (see adcompile/rules/fft.py).
Each function is refused with that reason at the line that calls it, even when
the loss is real (through np.abs or np.real); a user's rule lifts the refusal."""

import numpy as np
import pytest

import adcompile as ad
from adcompile.rules import registry

# numpy.fft's functions as the registry's REFUSED table lists them
PUBLIC = {n: f for n, f in vars(np.fft).items() if not n.startswith("_") and callable(f)}
TRANSFORMS = [f for _, f in sorted(PUBLIC.items()) if registry.refusal(f) is not None]


def test_every_transform_of_numpy_fft_is_in_the_refused_table():
    """What the test below runs over is read from the registry: it covers numpy.fft
    (all of it but the real, constant frequency grids), so it cannot run over nothing."""
    left = {n for n, f in PUBLIC.items() if registry.refusal(f) is None}
    assert left <= {"fftfreq", "rfftfreq", "test"}
    assert np.fft.rfft in TRANSFORMS and np.fft.hfft in TRANSFORMS


def through_abs(x, transform):
    return np.sum(np.abs(transform(x)))


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda f: f.__name__)
def test_fft_functions_are_refused_with_the_reason(transform):
    def loss(x):
        return np.sum(np.abs(transform(x)))

    with pytest.raises(ad.AdCompileError, match="complex numbers") as info:
        ad.grad(loss)(np.ones((4, 4)))
    assert "transform(x)" in str(info.value)  # located at the call
    assert "np.cos and np.sin" in str(info.value)


def rfft_magnitude(x):
    return np.sum(np.abs(np.fft.rfft(x)))


def test_a_users_rule_lifts_the_refusal():
    state = registry.snapshot()
    try:

        @ad.adjoint(np.fft.rfft)
        def rfft(dy, y, a):
            return np.fft.irfft(dy, np.shape(a)[-1]) * 0.0

        assert registry.refusal(np.fft.rfft) is None
        assert "rfft" in ad.grad(rfft_magnitude).source  # compiles: the call has a rule now
    finally:
        registry.restore(state)
    assert registry.refusal(np.fft.rfft) is not None
