"""Adjoints of broadcasting and reductions: a cotangent summed back to an
operand's shape (``unbroadcast``), spread over the axes a reduction removed
(``unreduce``), and the masks of ``max``/``min``."""

from __future__ import annotations

import numpy as np

# Scalars of these types have the shape (): see the fast paths of unbroadcast, zero_like.
_SCALAR_TYPES = frozenset(
    {float, int, complex, np.float16, np.float32, np.float64, np.complex64, np.complex128}
)
_COMPLEX_SCALAR_TYPES = frozenset({complex, np.complex64, np.complex128})


def real_part_of(g):
    """The cotangent ``g`` of a real value, which came out complex: its real part when
    its imaginary part is zero everywhere. Real numbers stored as complex (newer numpy
    returns np.linalg.eig's real results so) make complex cotangents of the real values
    they meet (``w * x``); a nonzero imaginary part means a complex value with a nonzero
    imaginary part was on the way, which adcompile does not differentiate."""
    if np.any(np.imag(g) != 0):
        raise TypeError(
            "the cotangent of a real value came out complex: a complex value with a "
            "nonzero imaginary part was on the way, and adcompile differentiates "
            "real-valued computations only"
        )
    return np.real(g)


def unbroadcast(g, x):
    """Sum the cotangent ``g`` back to the shape of ``x``, which numpy broadcast."""
    if type(g) is np.ndarray and type(x) is np.ndarray:
        gd, xd = g.dtype, x.dtype
        if gd is not xd and gd.kind == "c" and xd.kind != "c":
            g = real_part_of(g)
    if type(g) is np.ndarray and type(x) is np.ndarray and g.ndim == x.ndim:
        # fast path for arrays of equal rank, the common case: attribute access and the
        # array method instead of np.shape/np.sum save ~2 µs a call, which counts on
        # small arrays (see examples/benchmarks/seed_bench.py)
        xs = x.shape
        if g.shape == xs:
            return g
        axes = tuple(i for i, n in enumerate(xs) if n == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        return g if g.shape == xs else np.broadcast_to(g, xs).copy()
    if type(g) is np.ndarray and type(x) is np.ndarray and g.ndim > x.ndim:
        # fast path for an operand of lower rank, such as the bias b in x @ W + b: the
        # general path's steps with array methods, ~2 µs a call less (the RNN of
        # examples/benchmarks/bench.py makes one such call per time step)
        xs = x.shape
        lead = g.ndim - x.ndim
        g = g.sum(axis=0 if lead == 1 else tuple(range(lead)))
        if 1 in xs:
            gs = g.shape
            axes = tuple(i for i, n in enumerate(xs) if n == 1 and gs[i] != 1)
            if axes:
                g = g.sum(axis=axes, keepdims=True)
        return g if g.shape == xs else np.broadcast_to(g, xs).copy()
    if type(g) in _SCALAR_TYPES and type(x) in _SCALAR_TYPES:
        # fast path for scalar code (Python floats, numpy scalars): both shapes are (),
        # nothing was broadcast; np.shape would cost ~1 µs a call (examples/benchmarks/
        # bench.py, the scalar chain)
        if type(g) in _COMPLEX_SCALAR_TYPES and type(x) not in _COMPLEX_SCALAR_TYPES:
            return real_part_of(g)
        return g
    if isinstance(x, np.ndarray | np.generic | float | int) and not np.iscomplexobj(x):
        if np.iscomplexobj(g):
            g = real_part_of(g)
    xs = np.shape(x)
    gs = np.shape(g)
    if gs == xs:
        return g
    lead = len(gs) - len(xs)
    if lead > 0:
        g = np.sum(g, axis=tuple(range(lead)))
        gs = np.shape(g)
    axes = tuple(i for i, n in enumerate(xs) if n == 1 and gs[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if np.shape(g) != xs:
        g = np.broadcast_to(g, xs).copy()
    return g


def _unknown_shape(x) -> None:
    """A clear error for an array whose shape is not known yet (a dask array selected
    by a boolean mask has nan lengths until its chunks are computed)."""
    if any(not isinstance(n, int | np.integer) for n in np.shape(x)):
        raise TypeError(
            f"the gradient needs the shape of a {type(x).__name__} whose shape is not known "
            f"yet ({np.shape(x)}), such as a dask array selected with a boolean mask: "
            "write np.where(mask, x, 0) instead of x[mask]"
        )


def unreduce(g, x, axis=None, keepdims=False):
    """Spread the cotangent of a reduction of ``x`` over ``axis`` back to ``x``'s shape."""
    if isinstance(g, int | float):  # the seed 1.0: give it x's precision, not float64
        g = np.asarray(g, dtype=np.result_type(x, 0.0))
    if axis is None and np.ndim(g) == 0 and isinstance(g, np.ndarray | np.generic | complex):
        # fast path for a full reduction: the same read-only, zero-stride view that
        # np.broadcast_to makes, at a third of its cost (not for another kind of array,
        # a dask one, which np.asarray would compute)
        g = np.asarray(g)
        xs = np.shape(x)
        try:
            view = np.ndarray(xs, g.dtype, g, 0, (0,) * len(xs))
        except TypeError:
            _unknown_shape(x)
            raise
        view.flags.writeable = False
        return view
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


def expand_reduced(g, axis=None, keepdims=False):
    """A reduction's result (or cotangent) with its reduced axes back as length 1, so
    that it broadcasts against the reduced operand (a full reduction's is a scalar)."""
    if axis is not None and not keepdims:
        return np.expand_dims(g, axis)
    return g


def exp_minus_logsumexp(a, axis=None, b=None):
    """``exp(a - logsumexp(a, axis, b=b))`` with the reduced axes kept as length 1 (the
    softmax of ``a`` when ``b`` is None), computed from ``a`` by numpy alone: shifted by
    the largest element, so that nothing overflows at large inputs. The adjoint of
    ``scipy.special.logsumexp`` uses it rather than the result, so a gradient that does
    not need the value need not call scipy."""
    top = np.max(a, axis=axis, keepdims=True)
    if not np.isfinite(top).all():  # (as scipy: an infinite largest element shifts by 0)
        top = np.where(np.isfinite(top), top, 0)
    e = np.exp(a - top)
    return e / np.sum(e if b is None else e * b, axis=axis, keepdims=True)


def reduced_count(x, axis=None):
    """How many elements of ``x`` each result of a reduction over ``axis`` combines."""
    shape = np.shape(x)
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = axis if isinstance(axis, tuple) else (axis,)
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def extremum_mask(x, y, axis=None, keepdims=False):
    """Where ``x`` attains the reduced extremum ``y``; ties share the cotangent equally."""
    if axis is not None and not keepdims:
        y = np.expand_dims(y, axis)
    at = x == y
    if type(x) is np.ndarray and x.dtype == np.float64:
        # the same numbers, faster: the count in float64 (exact), no casting division
        at = at.astype(np.float64)
        return at / at.sum(axis=axis, keepdims=True)
    return np.true_divide(at, at.sum(axis=axis, keepdims=True), dtype=np.result_type(x, 0.0))


def tie_share(x, y):
    """Share of the cotangent of ``maximum(x, y)``/``minimum(x, y)`` that goes to ``x``."""
    return np.where(x == y, 0.5, 1.0).astype(np.result_type(x, y, 0.0), copy=False)


def average_weights_shape(a, weights, axis=None, returned=False):
    """The shape ``np.average(a, axis, weights)`` gives its weights to broadcast them
    against ``a``: their own, or for 1-d weights along ``axis`` of a bigger ``a``, that
    axis's length with 1 for the others."""
    if returned:
        raise ValueError(
            "the derivative of np.average(..., returned=True) is not implemented: "
            "compute the sum of the weights separately (np.sum)"
        )
    shape = np.shape(weights)
    if shape == np.shape(a) or axis is None or len(shape) != 1:
        return shape
    if isinstance(axis, tuple):
        raise ValueError(
            "the derivative of np.average with 1-d weights over several axes is not "
            "implemented: give the weights a's shape"
        )
    axis = axis % np.ndim(a)
    return tuple(shape[0] if k == axis else 1 for k in range(np.ndim(a)))
