"""The ends of a gradient: the seed of the reverse sweep (``unit_cotangent``),
the check of a vjp's cotangent, and ``grad_like``, which gives a gradient the
type, shape and dtype of its input."""

from __future__ import annotations

import numpy as np

from .broadcasting import real_part_of


def check_cotangent(y, dy):
    """A vjp's cotangent must have the shape of the result it belongs to."""
    if np.shape(y) != np.shape(dy):
        raise ValueError(
            f"the cotangent has shape {np.shape(dy)}, but the function's result has shape "
            f"{np.shape(y)}: pass one value per element of the result"
        )


class NonScalarResult(ValueError):
    """Raised by :func:`unit_cotangent` when ``grad`` is asked of a non-scalar result."""


def unit_cotangent(y):
    """The seed of the reverse sweep, 1, after checking that the result is a real scalar."""
    if type(y) is float:  # fast path for scalar code: np.ndim costs ~1 µs
        return 1.0
    if isinstance(y, tuple | list):
        raise NonScalarResult(f"a {type(y).__name__} of {len(y)} values")
    if np.ndim(y) != 0:
        raise NonScalarResult(f"an array of shape {np.shape(y)}")
    if np.iscomplexobj(y):
        raise NonScalarResult("a complex number")
    return 1.0


class GradientShape(ValueError):
    """Raised by :func:`grad_like` when a gradient has more elements than its input can
    hold (an adjoint rule gave a contribution of the result's shape); ``args`` are the
    two shapes, the gradient's first."""


def _scalar(d, x):
    """``d``, the gradient of the number ``x``, which must be a single value."""
    if np.size(d) != 1:
        raise GradientShape(np.shape(d), np.shape(x))
    return d


def _duck(a) -> bool:
    """Whether ``a`` is an array of another library that numpy's functions dispatch to
    (``__array_function__``: a dask or CuPy array), rather than a numpy array."""
    return not isinstance(a, np.ndarray | np.generic) and hasattr(a, "__array_function__")


def _duck_like(d, x):
    """The gradient ``d``, of which ``d`` or the input ``x`` is another library's array,
    with ``x``'s shape and dtype, and kept an array of that library: never converted
    to numpy (which for a dask array would compute it, in this process)."""
    shape = np.shape(x) if not _duck(x) else x.shape
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = np.result_type(x)
    if not _duck(d):  # numpy's gradient of another library's input: an array of its kind
        d = np.zeros_like(x, dtype=dtype) + d
    if d.shape != shape:
        d = np.broadcast_to(d, shape)
    return d if d.dtype == dtype else d.astype(dtype)


def grad_like(d, x):
    """Give the gradient ``d`` the type, shape and dtype of the input ``x`` it belongs to."""
    # fast paths for the common cases, a plain array and a list or tuple of them: exact
    # type tests and a list comprehension, ~10 µs a call less on a list of ten (W, b)
    tx = type(x)
    if tx is np.ndarray:
        if (
            type(d) is np.ndarray
            and d.shape == x.shape
            and d.dtype == x.dtype
            and d.flags.writeable
            and d.base is None
        ):
            return d
    elif tx is list or tx is tuple:
        if d is None:
            d = [None] * len(x)
        return tx([grad_like(g, v) for g, v in zip(d, x, strict=True)])
    if isinstance(x, dict):
        d = d if d is not None else {}
        return {k: grad_like(d.get(k), v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        d = d if d is not None else [None] * len(x)
        return type(x)(grad_like(g, v) for g, v in zip(d, x, strict=True))
    if d is None:
        d = 0.0
    if _duck(d) or _duck(x):
        return _duck_like(d, x)
    if np.iscomplexobj(d) and not np.iscomplexobj(x):
        d = real_part_of(d)
    if isinstance(x, np.ndarray):
        if (
            type(d) is np.ndarray
            and d.shape == x.shape
            and d.dtype == x.dtype
            and d.flags.writeable
            and d.base is None
        ):
            return d
        out = np.empty(x.shape, dtype=x.dtype)
        try:
            out[...] = d
        except ValueError:
            raise GradientShape(np.shape(d), x.shape) from None
        return out
    if isinstance(x, float):
        return float(_scalar(d, x))
    if isinstance(x, complex):
        return complex(_scalar(d, x))
    if isinstance(x, np.generic):
        return x.dtype.type(_scalar(d, x))
    return d
