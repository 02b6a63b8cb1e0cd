"""numpy.fft: refused by name.

A discrete Fourier transform computes complex numbers, and every rule of
adcompile is the calculus of real arithmetic: the rules of ``*``, ``/``, ``exp``...
take no complex conjugates, so a gradient through a complex intermediate value
would be wrong without a word (docs/numerics.md, "Real numbers only"). Until the
rules are written for complex values with one conjugate convention, these
functions are refused with that reason. ``fftshift``/``ifftshift`` are real
permutations, but are refused too: they are only useful around a transform.
"""

import numpy as np

from .registry import refuse

refuse(
    np.fft.fft,
    np.fft.ifft,
    np.fft.rfft,
    np.fft.irfft,
    np.fft.fft2,
    np.fft.ifft2,
    np.fft.fftn,
    np.fft.ifftn,
    np.fft.rfft2,
    np.fft.irfft2,
    np.fft.rfftn,
    np.fft.irfftn,
    np.fft.hfft,
    np.fft.ihfft,
    np.fft.fftshift,
    np.fft.ifftshift,
    reason="Fourier transforms compute complex numbers, and adcompile differentiates "
    "real arithmetic only (its rules take no complex conjugates)",
    hint="write the transform as real products with np.cos and np.sin of the "
    "frequencies, or register a rule for the whole computation with @adcompile.adjoint "
    "(see docs/custom-rules.md)",
)
