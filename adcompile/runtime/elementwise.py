"""Elementwise helpers: Python-number arithmetic that gives numpy's result
where Python raises (``scalar_*``), and masks: ``np.clip``'s and ``mask_like``."""

from __future__ import annotations

import numpy as np

# Arithmetic of Python numbers raises where numpy's gives inf or NaN (with a
# warning): ``0.0 ** -1.0``, ``1.0 / 0.0``. Reverse-sweep arithmetic between values
# that may both be Python numbers goes through these, so that a derivative is what
# numpy's arithmetic makes of its formula, as it is for arrays, and never an
# exception where the function itself ran. On the common path they are the
# operator; a Python float stays a Python float.


def scalar_divide(a, b):
    """``a / b``, with numpy's result where Python raises (a zero divisor)."""
    try:
        return a / b
    except ZeroDivisionError:
        return float(np.true_divide(float(a), b))


def scalar_power(a, b):
    """``a ** b``, with numpy's result where Python raises (zero to a negative power,
    overflow) or turns complex (a negative number to a fractional power)."""
    try:
        r = a**b
    except (ZeroDivisionError, OverflowError):
        return float(np.power(float(a), b))
    if type(r) is complex:
        return float(np.power(float(a), b))
    return r


def scalar_mod(a, b):
    """``a % b``, with numpy's result where Python raises (a zero divisor)."""
    try:
        return a % b
    except ZeroDivisionError:
        return float(np.remainder(float(a), b))


def scalar_floor_divide(a, b):
    """``a // b``, with numpy's result where Python raises (a zero divisor)."""
    try:
        return a // b
    except ZeroDivisionError:
        return float(np.floor_divide(float(a), b))


def mask_like(where, x):
    """The condition ``where`` as numbers (1 where it holds, 0 elsewhere) of the floating
    dtype of ``x`` (float64 for integers): a tangent times it keeps that dtype, where
    a Python float times a boolean array would be float64. Python numbers give a
    Python float."""
    if isinstance(where, bool | np.bool_) and not isinstance(x, np.ndarray | np.generic):
        return float(where)
    return np.asarray(where, dtype=np.result_type(getattr(x, "dtype", x), 0.0))


def clip_passes(a, a_min, a_max):
    """Where ``np.clip(a, a_min, a_max)`` is ``a`` itself: between the bounds, bounds
    included, and nowhere where ``a_min > a_max`` (numpy then returns ``a_max``). A
    bound that is None does not clip. Python numbers give a Python bool."""
    if a_min is None:
        return a <= a_max
    if a_max is None:
        return a >= a_min
    return (a >= a_min) & (a <= a_max) & (a_min <= a_max)


def clip_low(a, a_min, a_max):
    """Where ``np.clip(a, a_min, a_max)`` is ``a_min``: below it, unless ``a_min > a_max``."""
    if a_max is None:
        return a < a_min
    return (a < a_min) & (a_min <= a_max)


def clip_high(a, a_min, a_max):
    """Where ``np.clip(a, a_min, a_max)`` is ``a_max``: above it, and everywhere where
    ``a_min > a_max``."""
    if a_min is None:
        return a > a_max
    return (a > a_max) | (a_min > a_max)


def abs_sign(x):
    """``np.sign(x)``, the derivative of ``abs(x)``, for a real ``x``, or a complex ``x``
    whose imaginary parts are all zero (newer numpy returns np.linalg.eig's real results
    as complex arrays). Of a complex ``x`` with a nonzero imaginary part, ``abs`` is not
    the real function its rule differentiates: refused."""
    if np.iscomplexobj(x):
        if np.any(np.imag(x) != 0):
            raise TypeError(
                "np.abs of a complex value cannot be differentiated: adcompile "
                "differentiates real-valued computations only (complex values whose "
                "imaginary parts are all zero included)"
            )
        return np.sign(np.real(x))
    return np.sign(x)
