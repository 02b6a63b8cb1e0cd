"""Adjoints of scipy.signal's convolutions and correlations (loaded once scipy.signal is
imported: see ``load_optional`` in rules/__init__.py), for real arrays of any number of
axes, in every ``mode``.

A convolution is bilinear: its tangent is the convolution of each operand's tangent
with the other operand. Its adjoint with respect to one operand is the ``"valid"``
correlation of the cotangent with the other operand, once the cotangent of a
``"valid"`` or ``"same"`` result is padded with zeros to the full result's shape
(``convolution_padding`` says where it lies there); a correlation's adjoints are a
convolution and a flipped correlation. They are written with the same scipy.signal
functions (``method`` is left to scipy: it changes the speed, not the value), which
have these rules again, so derivatives of every order follow. The 2-d functions are
differentiated with zero padding (``boundary="fill"``, ``fillvalue=0``) only: other
boundaries are refused when the gradient runs.
"""

import numpy as np
from scipy import signal

from ..runtime import convolution_padding, unbroadcast
from .record import UNKNOWN
from .registry import adjoint
from .tangents import tangent


@adjoint(signal.convolve, shape=UNKNOWN, fresh=True)
def convolve(dz, z, in1, in2, mode="full", method="auto"):
    full = np.pad(dz, convolution_padding(in1, in2, mode))
    return signal.correlate(full, in2, mode="valid"), signal.correlate(full, in1, mode="valid")


@tangent(signal.convolve)
def convolve_tangent(din1, din2, z, in1, in2, mode="full", method="auto"):
    return signal.convolve(din1, in2, mode=mode) + signal.convolve(in1, din2, mode=mode)


@adjoint(signal.correlate, shape=UNKNOWN, fresh=True)
def correlate(dz, z, in1, in2, mode="full", method="auto"):
    # correlate(in1, in2) is convolve(in1, in2 flipped along every axis)
    full = np.pad(dz, convolution_padding(in1, in2, mode))
    return (
        signal.convolve(full, in2, mode="valid"),
        np.flip(signal.correlate(full, in1, mode="valid")),
    )


@tangent(signal.correlate)
def correlate_tangent(din1, din2, z, in1, in2, mode="full", method="auto"):
    return signal.correlate(din1, in2, mode=mode) + signal.correlate(in1, din2, mode=mode)


# along the axes not convolved (axes=), the operands broadcast: their contributions are
# summed back to each operand's shape (oaconvolve computes the same convolution)
@adjoint(signal.fftconvolve, signal.oaconvolve, shape=UNKNOWN, fresh=True)
def fftconvolve(dz, z, in1, in2, mode="full", axes=None):
    full = np.pad(dz, convolution_padding(in1, in2, mode, axes))
    return (
        unbroadcast(signal.fftconvolve(full, np.flip(in2, axes), mode="valid", axes=axes), in1),
        unbroadcast(signal.fftconvolve(full, np.flip(in1, axes), mode="valid", axes=axes), in2),
    )


@tangent(signal.fftconvolve)
def fftconvolve_tangent(din1, din2, z, in1, in2, mode="full", axes=None):
    return signal.fftconvolve(din1, in2, mode=mode, axes=axes) + signal.fftconvolve(
        in1, din2, mode=mode, axes=axes
    )


@adjoint(signal.convolve2d, shape=UNKNOWN, fresh=True)
def convolve2d(dz, z, in1, in2, mode="full", boundary="fill", fillvalue=0):
    full = np.pad(dz, convolution_padding(in1, in2, mode, None, False, boundary, fillvalue))
    return signal.correlate2d(full, in2, mode="valid"), signal.correlate2d(full, in1, mode="valid")


@tangent(signal.convolve2d)
def convolve2d_tangent(din1, din2, z, in1, in2, mode="full", boundary="fill", fillvalue=0):
    convolution_padding(in1, in2, mode, None, False, boundary, fillvalue)  # (refuses)
    return signal.convolve2d(din1, in2, mode=mode) + signal.convolve2d(in1, din2, mode=mode)


@adjoint(signal.correlate2d, shape=UNKNOWN, fresh=True)
def correlate2d(dz, z, in1, in2, mode="full", boundary="fill", fillvalue=0):
    # (correlate2d centres "same" on the other side of an even kernel's middle)
    full = np.pad(dz, convolution_padding(in1, in2, mode, None, True, boundary, fillvalue))
    return (
        signal.convolve2d(full, in2, mode="valid"),
        np.flip(signal.correlate2d(full, in1, mode="valid")),
    )


@tangent(signal.correlate2d)
def correlate2d_tangent(din1, din2, z, in1, in2, mode="full", boundary="fill", fillvalue=0):
    convolution_padding(in1, in2, mode, None, True, boundary, fillvalue)  # (refuses)
    return signal.correlate2d(din1, in2, mode=mode) + signal.correlate2d(in1, din2, mode=mode)
