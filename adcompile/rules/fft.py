"""Adjoints of numpy.fft, for real losses of complex intermediate values.

A transform's result is complex (``MAKES``), and the values computed from it are
tracked as complex (analysis.py) until a function with a real result (``np.abs``,
``np.real``, ``np.imag``, ``np.angle``, ``np.fft.irfft``) brings them back. The
convention is autograd's (docs/numerics.md, "Complex values"): the cotangent of
``z = x + iy`` is ``dL/dx - i dL/dy``. Each transform is a linear map with a
symmetric matrix, so its adjoint is the same transform of the cotangent (fitted
back to the operand's lengths where ``n``/``s`` padded or cut it); the real
transforms read (``rfft``) or write (``irfft``) half a spectrum, whose adjoints
are in runtime/fourier.py. The compiler takes the real part of a contribution
to a real operand. ``hfft``/``ihfft`` (Hermitian input) are refused by name.
"""

import numpy as np

from ..runtime import (
    fft_axes,
    fit_axes,
    irfft_adjoint,
    irfft_lengths,
    rfft_adjoint,
    rfft_lengths,
)
from .record import DROPS, MAKES, UNKNOWN
from .registry import adjoint, complex_values, refuse
from .tangents import tangent


@adjoint(np.fft.fft, shape=UNKNOWN, fresh=True)
def fft(dy, y, a, n=None, axis=-1, norm=None, out=None):
    return fit_axes(np.fft.fft(dy, axis=axis, norm=norm), a, (axis,))


@adjoint(np.fft.ifft, shape=UNKNOWN, fresh=True)
def ifft(dy, y, a, n=None, axis=-1, norm=None, out=None):
    return fit_axes(np.fft.ifft(dy, axis=axis, norm=norm), a, (axis,))


@adjoint(np.fft.fft2, shape=UNKNOWN, fresh=True)
def fft2(dy, y, a, s=None, axes=(-2, -1), norm=None, out=None):
    return fit_axes(np.fft.fft2(dy, axes=axes, norm=norm), a, axes)


@adjoint(np.fft.ifft2, shape=UNKNOWN, fresh=True)
def ifft2(dy, y, a, s=None, axes=(-2, -1), norm=None, out=None):
    return fit_axes(np.fft.ifft2(dy, axes=axes, norm=norm), a, axes)


@adjoint(np.fft.fftn, shape=UNKNOWN, fresh=True)
def fftn(dy, y, a, s=None, axes=None, norm=None, out=None):
    over = fft_axes(a, s, axes)
    return fit_axes(np.fft.fftn(dy, axes=over, norm=norm), a, over)


@adjoint(np.fft.ifftn, shape=UNKNOWN, fresh=True)
def ifftn(dy, y, a, s=None, axes=None, norm=None, out=None):
    over = fft_axes(a, s, axes)
    return fit_axes(np.fft.ifftn(dy, axes=over, norm=norm), a, over)


@adjoint(np.fft.rfft, shape=UNKNOWN, fresh=True)
def rfft(dy, y, a, n=None, axis=-1, norm=None, out=None):
    return rfft_adjoint(dy, a, rfft_lengths(a, n, (axis,)), (axis,), norm)


@adjoint(np.fft.rfft2, shape=UNKNOWN, fresh=True)
def rfft2(dy, y, a, s=None, axes=(-2, -1), norm=None, out=None):
    return rfft_adjoint(dy, a, rfft_lengths(a, s, axes), axes, norm)


@adjoint(np.fft.rfftn, shape=UNKNOWN, fresh=True)
def rfftn(dy, y, a, s=None, axes=None, norm=None, out=None):
    over = fft_axes(a, s, axes)
    return rfft_adjoint(dy, a, rfft_lengths(a, s, over), over, norm)


@adjoint(np.fft.irfft, shape=UNKNOWN, fresh=True)
def irfft(dy, y, a, n=None, axis=-1, norm=None, out=None):
    return irfft_adjoint(dy, a, irfft_lengths(a, n, (axis,)), (axis,), norm)


@adjoint(np.fft.irfft2, shape=UNKNOWN, fresh=True)
def irfft2(dy, y, a, s=None, axes=(-2, -1), norm=None, out=None):
    return irfft_adjoint(dy, a, irfft_lengths(a, s, axes), axes, norm)


@adjoint(np.fft.irfftn, shape=UNKNOWN, fresh=True)
def irfftn(dy, y, a, s=None, axes=None, norm=None, out=None):
    over = fft_axes(a, s, axes)
    return irfft_adjoint(dy, a, irfft_lengths(a, s, over), over, norm)


@adjoint(np.fft.fftshift, shape=UNKNOWN, fresh=False)
def fftshift(dy, y, x, axes=None):
    return np.fft.ifftshift(dy, axes)


@adjoint(np.fft.ifftshift, shape=UNKNOWN, fresh=False)
def ifftshift(dy, y, x, axes=None):
    return np.fft.fftshift(dy, axes)


# Tangents: each transform is linear, so its tangent is the transform of the tangent
# (the real transforms read the real part of theirs, as numpy does).


@tangent(np.fft.fft)
def fft_tangent(da, y, a, n=None, axis=-1, norm=None, out=None):
    return np.fft.fft(da, n, axis, norm)


@tangent(np.fft.ifft)
def ifft_tangent(da, y, a, n=None, axis=-1, norm=None, out=None):
    return np.fft.ifft(da, n, axis, norm)


@tangent(np.fft.fft2)
def fft2_tangent(da, y, a, s=None, axes=(-2, -1), norm=None, out=None):
    return np.fft.fft2(da, s, axes, norm)


@tangent(np.fft.ifft2)
def ifft2_tangent(da, y, a, s=None, axes=(-2, -1), norm=None, out=None):
    return np.fft.ifft2(da, s, axes, norm)


@tangent(np.fft.fftn)
def fftn_tangent(da, y, a, s=None, axes=None, norm=None, out=None):
    return np.fft.fftn(da, s, axes, norm)


@tangent(np.fft.ifftn)
def ifftn_tangent(da, y, a, s=None, axes=None, norm=None, out=None):
    return np.fft.ifftn(da, s, axes, norm)


@tangent(np.fft.rfft)
def rfft_tangent(da, y, a, n=None, axis=-1, norm=None, out=None):
    return np.fft.rfft(np.real(da), n, axis, norm)


@tangent(np.fft.rfft2)
def rfft2_tangent(da, y, a, s=None, axes=(-2, -1), norm=None, out=None):
    return np.fft.rfft2(np.real(da), s, axes, norm)


@tangent(np.fft.rfftn)
def rfftn_tangent(da, y, a, s=None, axes=None, norm=None, out=None):
    return np.fft.rfftn(np.real(da), s, axes, norm)


@tangent(np.fft.irfft)
def irfft_tangent(da, y, a, n=None, axis=-1, norm=None, out=None):
    return np.fft.irfft(da, n, axis, norm)


@tangent(np.fft.irfft2)
def irfft2_tangent(da, y, a, s=None, axes=(-2, -1), norm=None, out=None):
    return np.fft.irfft2(da, s, axes, norm)


@tangent(np.fft.irfftn)
def irfftn_tangent(da, y, a, s=None, axes=None, norm=None, out=None):
    return np.fft.irfftn(da, s, axes, norm)


@tangent(np.fft.fftshift)
def fftshift_tangent(dx, y, x, axes=None):
    return np.fft.fftshift(dx, axes)


@tangent(np.fft.ifftshift)
def ifftshift_tangent(dx, y, x, axes=None):
    return np.fft.ifftshift(dx, axes)


complex_values(
    np.fft.fft,
    np.fft.ifft,
    np.fft.fft2,
    np.fft.ifft2,
    np.fft.fftn,
    np.fft.ifftn,
    np.fft.rfft,
    np.fft.rfft2,
    np.fft.rfftn,
    kind=MAKES,
)
complex_values(np.fft.irfft, np.fft.irfft2, np.fft.irfftn, kind=DROPS)

refuse(
    np.fft.hfft,
    np.fft.ihfft,
    reason="the transforms of Hermitian signals have no adjoint rule",
    hint="write it with np.fft.irfft/np.fft.rfft of the conjugate, which have rules, or "
    "register one with @adcompile.adjoint (see docs/custom-rules.md)",
)
