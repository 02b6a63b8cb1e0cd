"""Adjoints of numpy.fft and of the parts of complex values.

The convention is autograd's (docs/numerics.md, "Complex values"): the
cotangent of a complex value ``z = x + iy`` is ``dL/dx - i dL/dy``, so that the
adjoint of a complex-linear map ``A`` is ``A.T`` without a conjugate, and a
holomorphic function's adjoint is its real rule (``dy * f'(z)``). Every
transform is linear with a symmetric matrix, so its adjoint is the same
transform of the cotangent, fitted back to the operand's lengths where ``n`` or
``s`` padded or cut it.
"""

from __future__ import annotations

import numpy as np

# the normalisation whose transform is the conjugate of the inverse's (see irfft_adjoint)
_DUAL_NORM = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def fft_axes(a, s=None, axes=None) -> tuple[int, ...]:
    """The axes an n-dimensional transform of ``a`` runs over, as numpy chooses them."""
    if axes is not None:
        return tuple(ax % np.ndim(a) for ax in axes)
    count = np.ndim(a) if s is None else len(s)
    return tuple(range(np.ndim(a) - count, np.ndim(a)))


def fit_axes(g, a, axes) -> np.ndarray:
    """``g`` cut or padded with zeros to the lengths of ``a`` along ``axes``: the adjoint
    of the padding or cutting that ``n=``/``s=`` did to ``a`` before a transform."""
    for ax in axes:
        want, have = np.shape(a)[ax], np.shape(g)[ax]
        if have > want:
            g = np.take(g, np.arange(want), axis=ax)
        elif have < want:
            width = [(0, 0)] * np.ndim(g)
            width[ax] = (0, want - have)
            g = np.pad(g, width)
    return g


def rfft_adjoint(g, a, n, axes, norm) -> np.ndarray:
    """Cotangent of the real ``a`` in ``rfftn(a, n, axes, norm)`` (``rfft`` and ``rfft2``
    too): the half spectrum's cotangent padded with zeros to the full length ``n`` of
    the last axis, transformed by the full ``fftn``, real part."""
    full = np.fft.fftn(g, s=n, axes=axes, norm=norm)
    return np.real(fit_axes(full, a, axes))


def irfft_adjoint(g, a, n, axes, norm) -> np.ndarray:
    """Cotangent of the half spectrum ``a`` in ``irfftn(a, n, axes, norm)`` (``irfft``
    and ``irfft2`` too), for the real cotangent ``g`` of the result. The inverse reads
    each interior frequency of the last axis twice (as itself and its mirror image),
    the first (and, for an even length, the last) once, and the imaginary parts of
    those never."""
    spectrum = np.conj(np.fft.rfftn(g, axes=axes, norm=_DUAL_NORM[norm]))
    last = axes[-1]
    # (in the spectrum's precision: a float64 factor would make float32's complex128)
    twice = np.full(np.shape(spectrum)[last], 2.0, dtype=np.real(spectrum).dtype)
    twice[0] = 1.0
    if n[-1] % 2 == 0:
        twice[-1] = 1.0
    shape = [1] * np.ndim(spectrum)
    shape[last] = len(twice)
    g = fit_axes(spectrum * np.reshape(twice, shape), a, axes)
    return g if np.iscomplexobj(a) else np.real(g)  # a real spectrum: the real part


def irfft_lengths(a, s, axes) -> tuple[int, ...]:
    """The lengths of ``irfftn(a, s, axes)`` along ``axes``: ``s`` (an int for ``irfft``'s
    ``n``), or ``a``'s with the last one ``2 * (m - 1)``."""
    if s is not None:
        return tuple(np.atleast_1d(s).tolist())
    shape = [np.shape(a)[ax] for ax in axes]
    return (*shape[:-1], 2 * (shape[-1] - 1))


def rfft_lengths(a, s, axes) -> tuple[int, ...]:
    """The lengths ``rfftn(a, s, axes)`` transforms along ``axes`` (``s`` an int for
    ``rfft``'s ``n``)."""
    if s is not None:
        return tuple(np.atleast_1d(s).tolist())
    return tuple(np.shape(a)[ax] for ax in axes)


def abs_complex_adjoint(g, z, y) -> np.ndarray:
    """Cotangent of the complex ``z`` in ``y = np.abs(z)`` for the real cotangent ``g``:
    ``g * conj(z) / |z|``, and 0 where ``z`` is 0 (the kink convention of real ``abs``)."""
    return g * np.conj(z) / np.where(y == 0, np.inf, y)


def angle_complex_adjoint(g, z, deg=False) -> np.ndarray:
    """Cotangent of the complex ``z`` in ``np.angle(z, deg)``: ``g * conj(i z) / |z|**2``,
    0 at the origin (as ``arctan2``'s)."""
    r2 = np.real(z * np.conj(z))
    scale = 180 / np.pi if deg else 1.0
    return g * scale * np.conj(1j * z) / np.where(r2 == 0, np.inf, r2)


def angle_complex_tangent(dz, z, deg=False) -> np.ndarray:
    """Tangent of ``np.angle(z, deg)`` for the complex ``z``: ``Im(conj(z) dz) / |z|**2``,
    0 at the origin."""
    r2 = np.real(z * np.conj(z))
    scale = 180 / np.pi if deg else 1.0
    return np.imag(np.conj(z) * dz) * scale / np.where(r2 == 0, np.inf, r2)
