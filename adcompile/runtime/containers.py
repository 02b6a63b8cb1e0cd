"""Adjoints of lists, tuples and dicts, and the zero adjoint of any value.

A container's adjoint has its structure, with None for a zero leaf; a tuple's
adjoint is a list while it is being accumulated.
"""

from __future__ import annotations

import numpy as np

from .broadcasting import unbroadcast


def check_unpacking(xs, n):
    """Raise Python's error when the list ``xs``, of a length the compiler cannot know
    (``a, b = np.split(x, points)``), does not unpack into ``n`` names."""
    if len(xs) > n:
        raise ValueError(f"too many values to unpack (expected {n})")
    if len(xs) < n:
        raise ValueError(f"not enough values to unpack (expected {n}, got {len(xs)})")


def zeros_adjoint(c):
    """An all-zero adjoint for the container ``c``, to be filled with :func:`add_at`."""
    if isinstance(c, dict):
        return dict.fromkeys(c)
    return [None] * len(c)


def copy_adjoint(dc):
    """A shallow copy of a container adjoint, so that it can be filled in place."""
    return dict(dc) if isinstance(dc, dict) else list(dc)


def add_adjoint(a, b):
    """``a + b`` for adjoints of any structure; None is zero, and so is a number zero
    next to a container (the zero tangent of a container's adjoint, in derivatives of
    generated code)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(b, list | tuple | dict) and type(a) in (float, int) and a == 0:
        return b
    if isinstance(a, list | tuple | dict) and type(b) in (float, int) and b == 0:
        return a
    if isinstance(a, dict):
        return {k: add_adjoint(a[k], b.get(k)) for k in a}
    if isinstance(a, list | tuple):
        return [add_adjoint(x, y) for x, y in zip(a, b, strict=True)]
    return a + b


def add_at(dc, key, g):
    """Add ``g`` into the element ``key`` (or the slice) of the container adjoint ``dc``,
    in place."""
    if isinstance(key, slice):
        dc[key] = [add_adjoint(a, b) for a, b in zip(dc[key], g, strict=True)]
        return dc
    dc[key] = add_adjoint(dc[key], g)
    return dc


def set_at(dc, key, g):
    """Set the element ``key`` of the container adjoint ``dc`` to ``g``, in place; returns
    ``dc`` (``dc[key] = g`` as an expression, for generated code differentiated again)."""
    dc[key] = g
    return dc


def part(dc, key, like):
    """The adjoint of element ``key`` of a container, zero (shaped like ``like``) if unset."""
    if dc is None:
        return zero_like(like)
    try:
        g = dc[key]
    except (TypeError, IndexError, KeyError):
        # only a vjp's cotangent, which the caller passes, can lack the structure
        raise ValueError(
            f"the cotangent must have the structure of the function's result: it has no "
            f"element {key!r} ({type(dc).__name__} {dc!r:.60}); pass a list, tuple or dict "
            "with one cotangent per element of the result"
        ) from None
    return zero_like(like) if g is None else g


def zero_like(x):
    """A zero adjoint for the value ``x`` (an array, a number or a container)."""
    if type(x) is float:
        # fast path for a Python float: a float zero, not a 0-d array, so that the adjoint
        # accumulated from it stays a cheap Python float (the same value and precision)
        return 0.0
    if isinstance(x, list | tuple | dict):
        return zeros_adjoint(x)
    # the dtype read off the array: np.result_type would convert another library's
    # array (a dask array: compute it) to find it; with the number 0.0, not the type
    # float (which is float64), float32 stays float32 and integers become float64
    return np.zeros_like(x, dtype=np.result_type(getattr(x, "dtype", x), 0.0))


def parts(dc, n):
    """The first ``n`` element adjoints of a list adjoint, as a list (None: zero)."""
    if dc is None:
        return [None] * n
    return list(dc[:n])


def spread(g, c):
    """Adjoint of ``sum(c)`` over a list of arrays: each element gets ``g``, unbroadcast."""
    return [unbroadcast(g, x) for x in c]


def as_list(gs):
    """The adjoint of a list built from a tuple of element adjoints."""
    return list(gs)
