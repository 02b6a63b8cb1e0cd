"""The few helpers that generated code may call.

Everything here is plain numpy, so a generated gradient can be pasted into a
file together with the helpers it names and run with nothing but numpy.
"""

from __future__ import annotations

import numpy as np

# Scalars of these types have the shape (): see the fast paths of unbroadcast, zero_like.
_SCALAR_TYPES = frozenset(
    {float, int, complex, np.float16, np.float32, np.float64, np.complex64, np.complex128}
)


def unbroadcast(g, x):
    """Sum the cotangent ``g`` back to the shape of ``x``, which numpy broadcast."""
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
        return g
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


def unreduce(g, x, axis=None, keepdims=False):
    """Spread the cotangent of a reduction of ``x`` over ``axis`` back to ``x``'s shape."""
    if isinstance(g, int | float):  # the seed 1.0: give it x's precision, not float64
        g = np.asarray(g, dtype=np.result_type(x, 0.0))
    if axis is None and np.asarray(g).ndim == 0:
        # fast path for a full reduction: the same read-only, zero-stride view that
        # np.broadcast_to makes, at a third of its cost
        g = np.asarray(g)
        xs = np.shape(x)
        view = np.ndarray(xs, g.dtype, g, 0, (0,) * len(xs))
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
    return np.true_divide(at, at.sum(axis=axis, keepdims=True), dtype=np.result_type(x, 0.0))


def tie_share(x, y):
    """Share of the cotangent of ``maximum(x, y)``/``minimum(x, y)`` that goes to ``x``."""
    return np.where(x == y, 0.5, 1.0).astype(np.result_type(x, y, 0.0), copy=False)


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


def fill_adjoint(g, y, fill_value):
    """Adjoint of ``np.full(shape, fill_value)``/``np.full_like(a, fill_value)`` with
    respect to the fill value: the cotangent summed back to its shape. Zero when the
    result has an integer or boolean dtype (the value was truncated: a step function)."""
    if not np.issubdtype(np.result_type(y), np.inexact):
        return zero_like(fill_value)
    return unbroadcast(g, fill_value)


def _linspace_weights(num, endpoint, ndim, axis):
    """t[i] = i / (num - 1) (or i / num without the endpoint), shaped to broadcast
    along ``axis`` of a result with ``ndim`` dimensions."""
    div = num - 1 if endpoint else num
    t = np.arange(num, dtype=float) / div if div > 0 else np.zeros(num)
    shape = [1] * ndim
    shape[axis] = num
    return t.reshape(shape)


def linspace_adjoint(g, y, bound, num, endpoint, axis, upper):
    """Adjoint of ``np.linspace(start, stop, num, endpoint, axis=axis)`` with respect
    to ``start`` (``upper`` False) or ``stop``: its samples are
    ``start * (1 - t) + stop * t``, so each gets the cotangent weighted by its share."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.inexact):
        return zero_like(bound)
    axis = axis % y.ndim
    t = _linspace_weights(int(num), endpoint, y.ndim, axis)
    weighted = np.sum(g * (t if upper else 1.0 - t), axis=axis)
    return unbroadcast(weighted, bound)


def arange_adjoint(g, y, start, stop, step, of_step):
    """Adjoint of ``np.arange(start, stop, step)`` (its samples are ``start + i * step``
    for a length that is piecewise constant) with respect to ``start``
    (``of_step`` False) or ``step``. With one argument, ``np.arange(stop)``, the
    argument is the stop: no derivative."""
    like = step if of_step else start
    y = np.asarray(y)
    if stop is None or not np.issubdtype(y.dtype, np.inexact):
        return zero_like(like)
    total = np.sum(g * np.arange(y.size)) if of_step else np.sum(g)
    return float(total) if type(like) is float else total


def real_cotangent(g, x, name="np.real"):
    """The cotangent ``g`` of ``np.real(x)`` (and ``conj``, ``imag``, ``angle``) for a real
    ``x``; a complex ``x`` is refused, since its adjoint needs a convention for complex
    derivatives that adcompile does not implement."""
    if np.iscomplexobj(x):
        raise TypeError(
            f"{name} of a complex value cannot be differentiated: adcompile differentiates "
            "real-valued computations only"
        )
    return g


def prod_adjoint(g, x, axis=None, keepdims=False):
    """Adjoint of ``np.prod``, exact also where ``x`` has zeros."""
    x = np.asarray(x)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    if axis is None:
        flat = x.reshape(-1)
        return (g * _prod_others(flat, 0)).reshape(x.shape)
    if isinstance(axis, tuple):
        axes = tuple(a % x.ndim for a in axis)
        rest = [a for a in range(x.ndim) if a not in axes]
        moved = np.transpose(x, rest + list(axes))
        lead = moved.shape[: len(rest)]
        flat = moved.reshape(lead + (-1,))
        others = _prod_others(flat, -1).reshape(moved.shape)
        inverse = np.argsort(rest + list(axes))
        return g * np.transpose(others, inverse)
    return g * _prod_others(x, axis)


def _prod_others(x, axis):
    """Product of all other elements along ``axis``, without dividing."""
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    ones = np.ones(ones_shape, dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, x], axis=axis), axis=axis)
    left = np.take(left, range(x.shape[axis]), axis=axis)
    flipped = np.flip(x, axis=axis)
    right = np.cumprod(np.concatenate([ones, flipped], axis=axis), axis=axis)
    right = np.flip(np.take(right, range(x.shape[axis]), axis=axis), axis=axis)
    return left * right


def unindex(g, x, index):
    """Adjoint of ``x[index]``: ``g`` scattered into zeros shaped like ``x``."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, x, 0.0))
    np.add.at(out, index, g)
    return out


def unstack(g, n, axis=0):
    """Adjoint of ``np.stack`` of ``n`` arrays: the ``n`` slices of ``g`` along ``axis``."""
    return tuple(np.take(g, i, axis=axis) for i in range(n))


def unconcatenate(g, arrays, axis=0):
    """Adjoint of ``np.concatenate(arrays, axis)``: ``g`` split back into the pieces."""
    if axis is None:
        sizes = [np.size(a) for a in arrays]
        g = np.ravel(g)
        bounds = np.cumsum(sizes)[:-1]
        return tuple(
            p.reshape(np.shape(a)) for p, a in zip(np.split(g, bounds), arrays, strict=True)
        )
    sizes = [np.shape(a)[axis] for a in arrays]
    return tuple(np.split(g, np.cumsum(sizes)[:-1], axis=axis))


def untranspose(g, axes=None):
    """Adjoint of ``np.transpose(x, axes)``."""
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort([a % np.ndim(g) for a in axes]))


def matmul_adjoint_lhs(g, x, y):
    """Cotangent of ``x`` in ``x @ y``, for every combination of 1-d and n-d operands."""
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        dx = g @ y.T  # fast path for matrices, the common case
        return dx if np.shape(dx) == x.shape else unbroadcast(dx, x)
    if np.ndim(y) == 1:
        return g * y if np.ndim(x) == 1 else np.expand_dims(g, -1) * y
    if np.ndim(x) == 1:
        return unbroadcast(np.squeeze(y @ np.expand_dims(g, -1), -1), x)
    return unbroadcast(g @ np.swapaxes(y, -1, -2), x)


def matmul_adjoint_rhs(g, x, y):
    """Cotangent of ``y`` in ``x @ y``, for every combination of 1-d and n-d operands."""
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        dy = x.T @ g  # fast path for matrices, the common case
        return dy if np.shape(dy) == y.shape else unbroadcast(dy, y)
    if np.ndim(x) == 1:
        if np.ndim(y) == 1:
            return g * x
        return unbroadcast(np.expand_dims(x, -1) * np.expand_dims(g, -2), y)
    if np.ndim(y) == 1:
        k = np.shape(y)[0]
        return np.reshape(x, (-1, k)).T @ np.reshape(g, -1)
    return unbroadcast(np.swapaxes(x, -1, -2) @ g, y)


def dot_adjoint_lhs(g, x, y):
    """Cotangent of ``x`` in ``np.dot(x, y)``, which for n-d operands is
    ``dot(x, y)[i..., j..., m] = sum_k x[i..., k] * y[j..., k, m]`` (no ``m`` for 1-d ``y``)."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(g * y, x)
    if np.ndim(x) <= 2 and np.ndim(y) <= 2:
        return matmul_adjoint_lhs(g, x, y)
    ny = np.ndim(y)
    # contract g's j... and m with y's j... and m, leaving x's i... and k
    y_axes = [*range(ny - 2), ny - 1] if ny > 1 else []
    return np.tensordot(g, y, axes=(list(range(np.ndim(x) - 1, np.ndim(g))), y_axes))


def dot_adjoint_rhs(g, x, y):
    """Cotangent of ``y`` in ``np.dot(x, y)`` (see :func:`dot_adjoint_lhs`)."""
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return unbroadcast(g * x, y)
    if np.ndim(x) <= 2 and np.ndim(y) <= 2:
        return matmul_adjoint_rhs(g, x, y)
    # contract x's i... with g's i..., leaving k, then y's j... and m
    lead = list(range(np.ndim(x) - 1))
    d = np.tensordot(x, g, axes=(lead, lead))
    return np.moveaxis(d, 0, -2) if np.ndim(y) > 1 else d


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
        out[...] = d
        return out
    if isinstance(x, float):
        return float(d)
    if isinstance(x, complex):
        return complex(d)
    if isinstance(x, np.generic):
        return x.dtype.type(d)
    return d


# --------------------------------------------------------------- containers
# A container's adjoint has its structure, with None for a zero leaf; a tuple's
# adjoint is a list while it is being accumulated.


def zeros_adjoint(c):
    """An all-zero adjoint for the container ``c``, to be filled with :func:`add_at`."""
    if isinstance(c, dict):
        return dict.fromkeys(c)
    return [None] * len(c)


def copy_adjoint(dc):
    """A shallow copy of a container adjoint, so that it can be filled in place."""
    return dict(dc) if isinstance(dc, dict) else list(dc)


def add_adjoint(a, b):
    """``a + b`` for adjoints of any structure; None is zero."""
    if a is None:
        return b
    if b is None:
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
    return np.zeros_like(x, dtype=np.result_type(x, float))


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


# ----------------------------------------------------------- linear algebra
# Adjoints of numpy.linalg, for real arrays; matrices are the last two axes and any
# leading axes are a batch, as in numpy. The cotangent of a tuple result (slogdet,
# eigh, svd, qr, lstsq) is a list with None for an element that gets none.


def mT(x):
    """The transpose of each matrix of ``x`` (its last two axes swapped)."""
    return np.swapaxes(x, -1, -2)


def sum_to(g, x):
    """``g`` summed over the leading axes that a batched linear-algebra call
    broadcast ``x`` over, back to ``x``'s shape."""
    lead = np.ndim(g) - np.ndim(x)
    if lead > 0:
        g = np.sum(g, axis=tuple(range(lead)))
    return unbroadcast(g, x)


def _part(dy, i):
    """Element ``i`` of a tuple result's cotangent (None: zero)."""
    return None if dy is None else dy[i]


def _eye_like(a):
    return np.eye(np.shape(a)[-1], dtype=np.result_type(a, 0.0))


def solve_transposed(a, dx, b):
    """``solve(a^T, dx)``: the cotangent of ``b`` in ``x = solve(a, b)`` before it is
    summed over broadcast axes. ``b`` is a vector when it has one axis (numpy 2's
    rule; otherwise a stack of matrices)."""
    if np.ndim(b) == 1:
        return np.linalg.solve(mT(a), np.asarray(dx)[..., None])[..., 0]
    return np.linalg.solve(mT(a), dx)


def solve_adjoint_lhs(g, x, a, b):
    """Cotangent of ``a`` in ``x = solve(a, b)`` from ``g = solve(a^T, dx)``: ``-g x^T``."""
    if np.ndim(b) == 1:
        return sum_to(-(g[..., :, None] * x[..., None, :]), a)
    return sum_to(-(g @ mT(x)), a)


def det_adjoint(dy, y, a):
    """Cotangent of ``a`` in ``y = det(a)``: ``dy`` times the cofactor matrix, which is
    ``det(a) inv(a)^T`` for an invertible ``a``, and for a singular one (where the
    inverse does not exist but the cofactors do) ``U diag(prod of the other singular
    values) V^T`` times the signs of ``det(U)`` and ``det(V)``."""
    g = np.asarray(dy)[..., None, None]
    if np.all(y != 0):
        return g * np.asarray(y)[..., None, None] * mT(np.linalg.inv(a))
    u, s, vh = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return g * np.asarray(sign)[..., None, None] * ((u * _prod_others(s, -1)[..., None, :]) @ vh)


def slogdet_adjoint(dy, a):
    """Cotangent of ``a`` in ``(sign, logdet) = slogdet(a)``: the sign is piecewise
    constant, ``logdet``'s gradient is ``inv(a).T``."""
    g = _part(dy, 1)
    if g is None:
        return np.zeros_like(a, dtype=np.result_type(a, 0.0))
    return np.asarray(g)[..., None, None] * mT(np.linalg.inv(a))


def cholesky_adjoint(dl, l, upper=False):
    """Cotangent of ``a`` in ``l = cholesky(a)`` (lower; ``upper`` gives ``l.T``).

    The standard formula with two solves with the triangular factor (numpy has no
    triangular solver, so they are LU solves of a triangular matrix), symmetrised:
    ``a`` is taken as a symmetric matrix (numpy reads one triangle), and the gradient
    is the symmetric matrix that changes both triangles together,
    ``S = l^-T Phi(l^T dl) l^-1`` with
    ``Phi`` the lower triangle with a halved diagonal, then ``(S + S^T) / 2``."""
    if upper:
        l, dl = mT(l), mT(dl)
    p = np.tril(mT(l) @ dl)
    p = p - 0.5 * np.tril(np.triu(p))  # halve the diagonal
    s = np.linalg.solve(mT(l), mT(np.linalg.solve(mT(l), mT(p))))
    return 0.5 * (s + mT(s))


def eigh_adjoint(dy, y):
    """Cotangent of ``a`` in ``w, v = eigh(a)``, symmetric (numpy reads one triangle).

    ``v (diag(dw) + F * (v^T dv)) v^T`` with ``F[i, j] = 1 / (w[j] - w[i])`` off the
    diagonal. Without a cotangent for the vectors only ``v diag(dw) v^T`` is computed,
    which is right also for repeated eigenvalues; with one, repeated eigenvalues make
    ``F`` infinite and the gradient inf or NaN: the eigenvectors of a repeated
    eigenvalue are not unique, and have no derivative."""
    w, v = y[0], y[1]
    dw, dv = _part(dy, 0), _part(dy, 1)
    if dv is None:  # v diag(dw) v^T, symmetric already
        if dw is None:
            return np.zeros(np.shape(v), dtype=np.result_type(v, 0.0))
        return (v * np.asarray(dw)[..., None, :]) @ mT(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 1.0 / (w[..., None, :] - w[..., :, None])
    f[..., np.arange(w.shape[-1]), np.arange(w.shape[-1])] = 0.0
    vtdv = mT(v) @ dv
    inner = f * 0.5 * (vtdv - mT(vtdv))  # symmetric: f is antisymmetric
    if dw is not None:
        inner = inner + np.asarray(dw)[..., None, :] * _eye_like(v)
    return v @ inner @ mT(v)


def eig_adjoint(dy, y):
    """Cotangent of ``a`` in ``w, v = eig(a)`` for a real matrix with real eigenvalues
    (numpy then returns real arrays; eigenvectors have unit length):
    ``v^-T (diag(dw) + F * (v^T dv - v^T v diag(v^T dv))) v^T``,
    ``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal."""
    w, v = y[0], y[1]
    if np.iscomplexobj(w) or np.iscomplexobj(v):
        raise ValueError(
            "np.linalg.eig returned complex eigenvalues: adcompile differentiates real "
            "eigendecompositions only (use np.linalg.eigh for a symmetric matrix)"
        )
    dw, dv = _part(dy, 0), _part(dy, 1)
    inner = np.zeros(np.shape(v), dtype=np.result_type(v, 0.0))
    if dw is not None:
        inner = inner + np.asarray(dw)[..., None, :] * _eye_like(v)
    if dv is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            f = 1.0 / (w[..., None, :] - w[..., :, None])
        f[..., np.arange(w.shape[-1]), np.arange(w.shape[-1])] = 0.0
        vtdv = mT(v) @ dv
        diag = np.diagonal(vtdv, axis1=-2, axis2=-1)
        inner = inner + f * (vtdv - (mT(v) @ v) * diag[..., None, :])
    return np.linalg.solve(mT(v), inner @ mT(v))


def svd_adjoint(dy, y, a, full_matrices=True, compute_uv=True):
    """Cotangent of ``a`` in ``np.linalg.svd(a, full_matrices, compute_uv)``.

    Singular values alone: ``u diag(ds) vh``. With the vectors (``full_matrices=False``,
    or a square ``a``), the formula of the reduced SVD, in which repeated singular
    values make the vectors' gradient inf or NaN, as for ``eigh``."""
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return (u * np.asarray(dy)[..., None, :]) @ vh
    u, s, vh = y[0], y[1], y[2]
    m, n = np.shape(a)[-2:]
    du, ds, dvh = _part(dy, 0), _part(dy, 1), _part(dy, 2)
    if full_matrices and m != n and du is None and dvh is None:
        return svd_adjoint(ds, None, a, compute_uv=False)
    if full_matrices and m != n:
        raise ValueError(
            "the gradient of np.linalg.svd(a, full_matrices=True) of a non-square matrix "
            "is not defined (the extra singular vectors are arbitrary): "
            "pass full_matrices=False"
        )
    k = s.shape[-1]
    eye = np.eye(k, dtype=np.result_type(s, 0.0))
    inner = np.zeros(np.shape(s)[:-1] + (k, k), dtype=eye.dtype)
    if ds is not None:
        inner = inner + np.asarray(ds)[..., None, :] * eye
    out = 0.0
    if du is not None or dvh is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            f = 1.0 / (s[..., None, :] ** 2 - s[..., :, None] ** 2)
        f[..., np.arange(k), np.arange(k)] = 0.0
        v = mT(vh)
        if du is not None:
            utdu = mT(u) @ du
            inner = inner + (f * (utdu - mT(utdu))) * s[..., None, :]
            if m > k:  # the part of du outside the span of u
                out = out + ((du - u @ utdu) / s[..., None, :]) @ vh
        if dvh is not None:
            dv = mT(dvh)
            vtdv = mT(v) @ dv
            inner = inner + s[..., :, None] * (f * (vtdv - mT(vtdv)))
            if n > k:
                out = out + u @ mT((dv - v @ vtdv) / s[..., None, :])
    return u @ inner @ vh + out


def qr_adjoint(dy, y, a, mode="reduced"):
    """Cotangent of ``a`` in ``q, r = np.linalg.qr(a)`` (reduced): for ``m >= n``,
    ``(dq + q copyltu(M)) r^-T`` with ``M = r dr^T - dq^T q`` and ``copyltu`` the
    symmetric matrix with ``M``'s lower triangle; for ``m < n``, the same on the
    leading square block, plus ``q dr`` for the rest. ``mode="r"`` is ``r`` alone."""
    m, n = np.shape(a)[-2:]
    if mode == "r":
        q, r = np.linalg.qr(a)
        dq, dr = None, dy
    elif mode == "reduced" or (mode == "complete" and m <= n):
        q, r = y[0], y[1]
        dq, dr = _part(dy, 0), _part(dy, 1)
    else:
        raise ValueError(
            f"the gradient of np.linalg.qr(a, mode={mode!r}) is not supported here: "
            "use mode='reduced' (the extra columns of a complete q are arbitrary)"
        )
    dq = np.zeros_like(q) if dq is None else np.asarray(dq)
    dr = np.zeros_like(r) if dr is None else np.asarray(dr)
    if m >= n:
        return _qr_square_adjoint(dq, dr, q, r)
    x_r, y_part = r[..., :, :m], a[..., :, m:]
    dr_x, dr_y = dr[..., :, :m], dr[..., :, m:]
    dx = _qr_square_adjoint(dq + y_part @ mT(dr_y), dr_x, q, x_r)
    return np.concatenate([dx, q @ dr_y], axis=-1)


def _qr_square_adjoint(dq, dr, q, r):
    m = r @ mT(dr) - mT(dq) @ q
    copyltu = np.tril(m) + mT(np.tril(m, -1))
    b = dq + q @ copyltu
    # b @ r^-T, as a solve with r: (r^-1 b^T)^T
    return mT(np.linalg.solve(r, mT(b)))


def pinv_adjoint(dy, y, a):
    """Cotangent of ``a`` in ``y = pinv(a)``, where the rank of ``a`` is locally
    constant: ``-y^T dy y^T + (I - a y) dy^T y y^T + y^T y dy^T (I - y a)``."""
    yt = mT(y)
    dyt = mT(dy)
    first = -(yt @ dy @ yt)
    second = (dyt @ y @ yt) - (a @ (y @ (dyt @ y @ yt)))
    third = (yt @ y @ dyt) - ((yt @ y @ dyt) @ y) @ a
    return first + second + third


def matrix_power_adjoint(dy, a, n):
    """Cotangent of ``a`` in ``np.linalg.matrix_power(a, n)``: the sum over
    ``k`` of ``(a^T)^k dy (a^T)^(n-1-k)``; a negative ``n`` goes through ``inv(a)``."""
    if n < 0:
        b = np.linalg.inv(a)
        db = matrix_power_adjoint(dy, b, -n)
        return -(mT(b) @ db @ mT(b))
    if n == 0:
        return np.zeros_like(a, dtype=np.result_type(a, 0.0))
    at = mT(a)
    powers = [_eye_like(a)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ at)
    return sum(powers[k] @ dy @ powers[n - 1 - k] for k in range(n))


def lstsq_adjoint(dy, y, a, b):
    """Cotangents of ``a`` and ``b`` in ``x, residuals, rank, s = lstsq(a, b)``, for
    ``a`` of full column rank: ``x = pinv(a) b``, the residuals are
    ``sum((b - a x)**2)`` (their gradient is ``-2 r x^T`` and ``2 r``), the singular
    values those of ``a``; ``rank`` is an integer."""
    x = y[0]
    dx, dres, ds = _part(dy, 0), _part(dy, 1), _part(dy, 3)
    da = np.zeros(np.shape(a), dtype=np.result_type(a, b, 0.0))
    db = np.zeros(np.shape(b), dtype=np.result_type(a, b, 0.0))
    vector = np.ndim(b) == 1
    x2 = x[:, None] if vector else x
    b2 = b[:, None] if vector else b
    if dx is not None:
        p = np.linalg.pinv(a)
        dx2 = np.asarray(dx)[:, None] if vector else np.asarray(dx)
        db2 = mT(p) @ dx2
        da = da + pinv_adjoint(dx2 @ mT(b2), p, a)
        db = db + (db2[:, 0] if vector else db2)
    if dres is not None and np.size(y[1]) > 0:
        r = b2 - a @ x2
        g = 2.0 * r * np.asarray(dres)
        da = da - g @ mT(x2)
        db = db + (g[:, 0] if vector else g)
    if ds is not None:
        da = da + svd_adjoint(ds, None, a, compute_uv=False)
    return da, db


def multi_dot_adjoint(dy, arrays):
    """Cotangents of each array in ``np.linalg.multi_dot(arrays)``: the cotangent
    times the products of the others (a 1-d first or last array is a row or column)."""
    mats = [np.asarray(m) for m in arrays]
    first_vec, last_vec = mats[0].ndim == 1, mats[-1].ndim == 1
    if first_vec:
        mats[0] = mats[0][None, :]
    if last_vec:
        mats[-1] = mats[-1][:, None]
    g = np.asarray(dy)
    if first_vec:
        g = g[None, ...]
    if last_vec:
        g = g[..., None]
    g = np.reshape(g, (mats[0].shape[0], mats[-1].shape[1]))
    left = [np.eye(mats[0].shape[0], dtype=g.dtype)]
    for m in mats[:-1]:
        left.append(left[-1] @ m)
    right = [np.eye(mats[-1].shape[1], dtype=g.dtype)]
    for m in reversed(mats[1:]):
        right.append(m @ right[-1])
    right.reverse()
    out = [mT(left[i]) @ g @ mT(right[i]) for i in range(len(mats))]
    if first_vec:
        out[0] = out[0][0]
    if last_vec:
        out[-1] = out[-1][:, 0]
    return tuple(out)


def norm_adjoint(dy, y, x, ord=None, axis=None, keepdims=False):
    """Cotangent of ``x`` in ``y = np.linalg.norm(x, ord, axis, keepdims)``, for every
    vector and matrix norm numpy has for real arrays.

    At a zero vector or matrix (a kink) the gradient is 0, as for ``abs``; ties of the
    max/min norms (``inf``, ``-inf``, matrix ``1``, ``-1``) share the cotangent equally;
    ``ord=0`` (a count) is piecewise constant."""
    x = np.asarray(x)
    nd = x.ndim
    if axis is None:
        axes = tuple(range(nd))
        if ord is None:  # the 2-norm of x.ravel(), whatever its shape
            g, yk = np.asarray(dy), np.asarray(y)
            return g * x / np.where(yk == 0, np.inf, yk)
    else:
        axes = axis if isinstance(axis, tuple) else (axis,)
    axes = tuple(int(a) % nd for a in axes)
    g, yk = np.asarray(dy), np.asarray(y)
    if not keepdims:
        g, yk = np.expand_dims(g, axes), np.expand_dims(yk, axes)
    if len(axes) == 1:
        return g * _vector_norm_grad(x, yk, ord, axes[0])
    xm = np.moveaxis(x, axes, (-2, -1))
    ym = np.moveaxis(yk, axes, (-2, -1))
    gm = np.moveaxis(g, axes, (-2, -1))
    return np.moveaxis(gm * _matrix_norm_grad(xm, ym, ord), (-2, -1), axes)


def vector_norm_adjoint(dy, y, x, axis=None, keepdims=False, ord=2):
    """Cotangent of ``x`` in ``np.linalg.vector_norm(x, axis, keepdims, ord)``: the
    vector norm of the elements over ``axis`` (all axes, or several, taken as one
    vector), with the conventions of :func:`norm_adjoint`."""
    x = np.asarray(x)
    nd = x.ndim
    axes = tuple(range(nd)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    axes = tuple(int(a) % nd for a in axes)
    k = len(axes)
    moved = np.moveaxis(x, axes, tuple(range(nd - k, nd)))
    flat = np.reshape(moved, moved.shape[: nd - k] + (-1,))
    g, yk = np.asarray(dy), np.asarray(y)
    if keepdims:
        g = np.reshape(np.moveaxis(g, axes, tuple(range(nd - k, nd))), flat.shape[:-1] + (1,))
        yk = np.reshape(np.moveaxis(yk, axes, tuple(range(nd - k, nd))), flat.shape[:-1] + (1,))
    else:
        g, yk = np.expand_dims(g, -1), np.expand_dims(yk, -1)
    d = g * _vector_norm_grad(flat, yk, ord, -1)
    return np.moveaxis(np.reshape(d, moved.shape), tuple(range(nd - k, nd)), axes)


def _vector_norm_grad(x, y, ord, axis):
    if ord is None or ord == 2:
        return x / np.where(y == 0, np.inf, y)
    if ord == 1:
        return np.sign(x)
    if ord == np.inf or ord == -np.inf:
        at = np.abs(x) == y
        return np.sign(x) * at / np.sum(at, axis=axis, keepdims=True)
    if ord == 0:
        return np.zeros_like(x, dtype=np.result_type(x, 0.0))
    p = ord
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.sign(x) * (np.abs(x) / y) ** (p - 1)
    return np.where((x == 0) | (y == 0), 0, d).astype(np.result_type(x, 0.0), copy=False)


def _matrix_norm_grad(x, y, ord):
    """Gradient of a matrix norm over the last two axes (``y`` with both kept)."""
    if ord is None or ord == "fro":
        return x / np.where(y == 0, np.inf, y)
    if ord in ("nuc", 2, -2):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        if ord == "nuc":
            d = u @ vh
        else:
            i = 0 if ord == 2 else -1
            d = u[..., :, i, None] * vh[..., i, None, :]
        return d * (y != 0)
    if ord in (1, -1):  # max/min over columns of the column sums of |x|
        sums = np.sum(np.abs(x), axis=-2, keepdims=True)
        at = sums == y
        return np.sign(x) * at / np.sum(at, axis=-1, keepdims=True)
    if ord in (np.inf, -np.inf):  # max/min over rows of the row sums
        sums = np.sum(np.abs(x), axis=-1, keepdims=True)
        at = sums == y
        return np.sign(x) * at / np.sum(at, axis=-2, keepdims=True)
    raise ValueError(f"np.linalg.norm: invalid norm order {ord!r} for matrices")


def mvn_logpdf_adjoint(g, x, mean, cov):
    """The contributions ``(dx, dmean, dcov)`` of ``g``, the cotangent of
    ``scipy.stats.multivariate_normal.logpdf(x, mean, cov)`` (x of shape ``(..., d)``,
    mean of ``d`` elements or a number, cov a ``(d, d)`` matrix). scipy reads only the
    lower triangle of ``cov`` (``eigh(lower=True)``), so that is where ``dcov`` is:
    the symmetric gradient's off-diagonal entries doubled below, zero above."""
    x = np.asarray(x)
    dim = np.shape(cov)[0]
    centred = x.reshape(-1, dim) - (0.0 if mean is None else np.ravel(mean))
    weights = np.broadcast_to(np.asarray(g, dtype=centred.dtype), (centred.shape[0],))
    precision = np.linalg.inv(cov)
    scaled = centred @ precision  # each row: precision @ (x - mean)
    weighted = weights[:, None] * scaled
    dx = (-weighted).reshape(x.shape)
    dmean = np.sum(weighted, axis=0)
    if mean is not None and np.ndim(mean) == 0:
        dmean = np.sum(dmean)
    sym = -0.5 * (np.sum(weights) * precision - scaled.T @ weighted)
    dcov = np.tril(2 * sym) - np.diag(np.diag(sym))
    return dx, dmean, dcov


# Forward mode (adcompile/tangent.py): helpers the generated jvp code calls.


def zeros_tangent(x):
    """The zero tangent of the value ``x``: zeros of its shape, a container of them."""
    if isinstance(x, list):
        return [zeros_tangent(v) for v in x]
    if isinstance(x, tuple):
        return tuple(zeros_tangent(v) for v in x)
    if isinstance(x, dict):
        return {k: zeros_tangent(v) for k, v in x.items()}
    return zero_like(x)


def broadcast_like(t, y):
    """The tangent ``t`` broadcast to the shape of the value ``y`` it is the tangent of
    (a term of an inactive operand that broadcast the result was folded away)."""
    shape = np.shape(y)
    if np.shape(t) == shape:
        return t
    return np.array(np.broadcast_to(t, shape), dtype=np.result_type(t, y, 0.0))


def fill_tangent(dfill, y):
    """Tangent of ``np.full(shape, fill)``/``np.full_like(a, fill)``: the fill's tangent
    in every element; zero when the result is integer-valued (a step function)."""
    if not np.issubdtype(np.result_type(y), np.inexact):
        return np.zeros(np.shape(y))
    return np.array(np.broadcast_to(dfill, np.shape(y)), dtype=np.result_type(y))


def linspace_tangent(dstart, dstop, y, num, endpoint, axis):
    """Tangent of ``np.linspace(start, stop, num, endpoint, axis=axis)``, whose samples
    are ``start * (1 - t) + stop * t``."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.inexact):
        return np.zeros(y.shape)
    axis = axis % y.ndim
    t = _linspace_weights(int(num), endpoint, y.ndim, axis)
    lo = np.expand_dims(dstart, axis) if np.ndim(dstart) else dstart
    hi = np.expand_dims(dstop, axis) if np.ndim(dstop) else dstop
    return np.array(np.broadcast_to(lo * (1.0 - t) + hi * t, y.shape), dtype=y.dtype)


def arange_tangent(dstart, dstep, y, stop):
    """Tangent of ``np.arange(start, stop, step)``: ``dstart + i * dstep``. With one
    argument, ``np.arange(stop)``, the argument is the stop: no derivative."""
    y = np.asarray(y)
    if stop is None or not np.issubdtype(y.dtype, np.inexact):
        return np.zeros(y.shape)
    return dstart + np.arange(y.size) * dstep


def prod_tangent(da, a, axis=None, keepdims=False):
    """Tangent of ``np.prod``: each element's tangent times the product of the others
    (exact also where ``a`` has zeros)."""
    y = np.prod(a, axis=axis, keepdims=keepdims)
    others = prod_adjoint(np.ones_like(y, dtype=np.result_type(y, 0.0)), a, axis, keepdims)
    return np.sum(da * others, axis=axis, keepdims=keepdims)


# ------------------------------------------------- rearranging and accumulating


def uncumsum(g, x, axis=None):
    """Adjoint of ``np.cumsum(x, axis)``: the reversed cumulative sum of ``g``."""
    if axis is None:
        return np.flip(np.cumsum(np.flip(np.ravel(g)))).reshape(np.shape(x))
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def uncumprod(g, x, axis=None):
    """Adjoint of ``np.cumprod(x, axis)``, exact also where ``x`` has zeros (no division):
    d y_i / d x_k is the product of x_j over j <= i, j != k."""
    x = np.asarray(x)
    if axis is None:
        return uncumprod(np.ravel(g), np.ravel(x), 0).reshape(x.shape)
    xm = np.moveaxis(x, axis, -1)
    gm = np.moveaxis(np.asarray(g), axis, -1)
    n = xm.shape[-1]
    before = np.cumprod(xm[..., :-1], axis=-1)
    left = np.concatenate([np.ones_like(xm[..., :1]), before], axis=-1)
    out = np.empty(np.broadcast_shapes(xm.shape, gm.shape), dtype=np.result_type(g, x, 0.0))
    for k in range(n):
        after = np.cumprod(xm[..., k + 1 :], axis=-1)
        out[..., k] = left[..., k] * (gm[..., k] + np.sum(gm[..., k + 1 :] * after, axis=-1))
    return np.moveaxis(out, -1, axis)


def undiff(g, n=1, axis=-1):
    """Adjoint of ``np.diff(x, n, axis)``: each difference's adjoint, ``n`` times."""
    for _ in range(n):
        shape = list(np.shape(g))
        shape[axis] = 1
        zero = np.zeros(shape, dtype=np.result_type(g))
        g = np.concatenate([zero, g], axis=axis) - np.concatenate([g, zero], axis=axis)
    return g


def unsort(g, x, axis=-1):
    """Adjoint of ``np.sort(x, axis)``: ``g`` put back where each element came from."""
    if axis is None:
        return unsort(np.ravel(g), np.ravel(x), 0).reshape(np.shape(x))
    order = np.argsort(x, axis=axis, kind="stable")
    out = np.zeros(np.shape(x), dtype=np.result_type(g, x, 0.0))
    np.put_along_axis(out, order, g, axis=axis)
    return out


def unpartition(g, x, kth, axis=-1):
    """Adjoint of ``np.partition(x, kth, axis)`` (through the same selection's argpartition)."""
    if axis is None:
        return unpartition(np.ravel(g), np.ravel(x), kth, 0).reshape(np.shape(x))
    order = np.argpartition(x, kth, axis=axis)
    out = np.zeros(np.shape(x), dtype=np.result_type(g, x, 0.0))
    np.put_along_axis(out, order, g, axis=axis)
    return out


def undiagonal(g, x, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.diagonal(x, offset, axis1, axis2)``: ``g`` written on that diagonal
    of zeros shaped like ``x``."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, x, 0.0))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    n = np.shape(g)[-1]
    rows = np.arange(n) + max(-offset, 0)
    cols = np.arange(n) + max(offset, 0)
    view[..., rows, cols] = g
    return out


def undiag(g, v, k=0):
    """Adjoint of ``np.diag(v, k)``: the diagonal of ``g`` for a vector ``v``, ``g`` on
    the diagonal of zeros for a matrix."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    return undiagonal(g, v, k, 0, 1)


def untrace(g, x, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.trace(x, offset, axis1, axis2)``."""
    n = np.diagonal(x, offset, axis1, axis2).shape[-1]
    return undiagonal(np.repeat(np.expand_dims(g, -1), n, axis=-1), x, offset, axis1, axis2)


def unrollaxis(g, x, axis, start=0):
    """Adjoint of ``np.rollaxis(x, axis, start)``: the inverse permutation."""
    n = np.ndim(x)
    axis, start = axis % n, (start + n if start < 0 else start)
    order = list(range(n))
    order.remove(axis)
    order.insert(start - 1 if axis < start else start, axis)
    return np.transpose(g, np.argsort(order))


def unrepeat(g, x, repeats, axis=None):
    """Adjoint of ``np.repeat(x, repeats, axis)``: the copies of each element summed."""
    if axis is None:
        flat = unrepeat(np.ravel(g), np.ravel(x), repeats, 0)
        return flat.reshape(np.shape(x))
    x = np.asarray(x)
    n = x.shape[axis]
    source = np.repeat(np.arange(n), repeats)
    moved = np.moveaxis(np.asarray(g), axis, 0)
    out = np.zeros((n, *moved.shape[1:]), dtype=np.result_type(g, x, 0.0))
    np.add.at(out, source, moved)
    return np.moveaxis(out, 0, axis)


def untile(g, x, reps):
    """Adjoint of ``np.tile(x, reps)``: the tiles summed."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    shape = np.shape(x)
    d = max(len(shape), len(reps))
    shape1 = (1,) * (d - len(shape)) + tuple(shape)
    reps1 = (1,) * (d - len(reps)) + reps
    pairs = [n for r, s in zip(reps1, shape1, strict=True) for n in (r, s)]
    summed = np.reshape(g, pairs).sum(axis=tuple(range(0, 2 * d, 2)))
    return np.reshape(summed, shape)


def unpad(g, x, pad_width, mode="constant"):
    """Adjoint of ``np.pad(x, pad_width)`` in constant mode: the interior of ``g``."""
    if mode != "constant":
        raise ValueError(
            f"np.pad with mode={mode!r} cannot be differentiated: only mode='constant' is"
        )
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (np.ndim(x), 2))
    return g[tuple(slice(lo, np.shape(g)[i] - hi) for i, (lo, hi) in enumerate(widths))]


def unarray(g, arrays):
    """Adjoint of ``np.array(arrays)`` / ``np.asarray``: one slice of ``g`` per element of a
    list or tuple of arrays and numbers, ``g`` itself for an array."""
    if isinstance(arrays, list | tuple):
        return tuple(g[i] for i in range(len(arrays)))
    return g


def uncast(g, x, dtype):
    """Adjoint of ``x.astype(dtype)``: the cotangent in ``x``'s precision; zero for a cast
    to integers or booleans (a step function of ``x``)."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        raise TypeError(
            "a cast to a complex dtype cannot be differentiated: adcompile differentiates "
            "real-valued computations only"
        )
    precision = np.result_type(x, 0.0)
    if kind in "biu":
        return np.zeros(np.shape(x), dtype=precision)
    return np.asarray(g).astype(precision, copy=False)


def ungradient(g, f, spacing=1.0, axis=None, edge_order=1):
    """Adjoint of ``np.gradient(f, spacing, axis=axis)`` along one axis with a uniform
    scalar spacing: the transpose of its differences (central inside, one-sided at the
    two ends)."""
    if np.ndim(f) != 1 and axis is None:
        raise ValueError(
            "np.gradient of an array of more than one axis returns a list: pass axis=k "
            "(one axis) to differentiate it"
        )
    if edge_order != 1 or np.ndim(spacing) != 0:
        raise ValueError(
            "np.gradient is differentiated with edge_order=1 and one scalar spacing only"
        )
    axis = 0 if axis is None else axis
    gm = np.moveaxis(np.asarray(g), axis, 0) / spacing
    out = np.zeros(gm.shape, dtype=np.result_type(gm, f, 0.0))
    out[2:] += gm[1:-1] / 2
    out[:-2] -= gm[1:-1] / 2
    out[1] += gm[0]
    out[0] -= gm[0]
    out[-1] += gm[-1]
    out[-2] -= gm[-1]
    return np.moveaxis(out, 0, axis)


# ---------------------------------------------------------------- einsum


def _einsum_labels(subscripts, shapes):
    """The operands' labels and the output's, as strings with the ellipsis spelled out
    as letters of its own (right-aligned, as numpy broadcasts it)."""
    if not isinstance(subscripts, str):
        raise TypeError(
            "np.einsum's interleaved form (operands and lists of axes) cannot be "
            "differentiated: write the subscripts as a string"
        )
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    used = set(spec)
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    width = 0
    for term, shape in zip(inputs, shapes, strict=True):
        if "..." in term:
            width = max(width, len(shape) - (len(term) - 3))
    dots = "".join(spare[:width])
    labels = []
    for term, shape in zip(inputs, shapes, strict=True):
        if "..." in term:
            k = len(shape) - (len(term) - 3)
            term = term.replace("...", dots[width - k :] if k else "")
        labels.append(term)
    if arrow:
        output = rhs.replace("...", dots)
    else:
        counts = {}
        for term in labels:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        output = dots + "".join(sorted(c for c in counts if counts[c] == 1 and c not in dots))
    return labels, output


def einsum_adjoint(g, k, subscripts, *operands):
    """Adjoint of ``np.einsum(subscripts, *operands)`` with respect to operand ``k``: an
    einsum of the cotangent with the other operands, summed over what numpy broadcast,
    spread over the labels only operand ``k`` has, and written on its diagonals where
    it repeats a label."""
    operands = [op for op in operands if op is not None]
    shapes = [np.shape(op) for op in operands]
    labels, output = _einsum_labels(subscripts, shapes)
    mine, shape = labels[k], shapes[k]
    size = {}
    for term, s in zip(labels, shapes, strict=True):
        for c, n in zip(term, s, strict=True):
            size[c] = max(size.get(c, 1), n)
    for c, n in zip(output, np.shape(g), strict=True):
        size[c] = max(size.get(c, 1), n)
    unique = "".join(dict.fromkeys(mine))
    elsewhere = set(output).union(*(set(t) for j, t in enumerate(labels) if j != k))
    kept = "".join(c for c in unique if c in elsewhere)
    others = [op for j, op in enumerate(operands) if j != k]
    terms = [output, *(t for j, t in enumerate(labels) if j != k)]
    r = np.einsum(",".join(terms) + "->" + kept, g, *others)
    # the labels only this operand has: the result does not depend on them
    r = np.reshape(r, [size[c] if c in kept else 1 for c in unique])
    own = {c: n for c, n in zip(mine, shape, strict=True)}
    r = np.broadcast_to(r, [size[c] if c in kept else own[c] for c in unique])
    # sum over what numpy broadcast (a label of size 1 here, larger elsewhere)
    ones = tuple(i for i, c in enumerate(unique) if own[c] == 1 and r.shape[i] != 1)
    if ones:
        r = r.sum(axis=ones, keepdims=True)
    dtype = np.result_type(g, *operands, 0.0)
    if len(unique) == len(mine):
        order = [unique.index(c) for c in mine]
        return np.transpose(r, order).astype(dtype, copy=True)
    # a repeated label: the operand's diagonal, written into zeros
    out = np.zeros(shape, dtype=dtype)
    grids = np.indices(r.shape, sparse=True)
    out[tuple(grids[unique.index(c)] for c in mine)] = r
    return out


def einsum_sublists(*args):
    """An array where np.einsum expects its subscripts: the interleaved form."""
    raise TypeError(
        "np.einsum's interleaved form (operands and lists of axes) cannot be "
        "differentiated: write the subscripts as a string"
    )


def _tensordot_subscripts(a, b, axes):
    na, nb = np.ndim(a), np.ndim(b)
    if np.ndim(axes) == 0:
        axes = (list(range(na - axes, na)), list(range(axes)))
    ax_a, ax_b = axes
    ax_a = [ax_a] if np.ndim(ax_a) == 0 else list(ax_a)
    ax_b = [ax_b] if np.ndim(ax_b) == 0 else list(ax_b)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    la = list(letters[:na])
    lb = list(letters[na : na + nb])
    for i, j in zip(ax_a, ax_b, strict=True):
        lb[j % nb] = la[i % na]
    contracted = {la[i % na] for i in ax_a}
    out = [c for c in la if c not in contracted] + [c for c in lb if c not in contracted]
    return "".join(la) + "," + "".join(lb) + "->" + "".join(out)


def tensordot_adjoint(g, k, a, b, axes=2):
    """Adjoint of ``np.tensordot(a, b, axes)`` with respect to operand ``k`` (0 or 1)."""
    return einsum_adjoint(g, k, _tensordot_subscripts(a, b, axes), a, b)


def inner_adjoint(g, k, a, b):
    """Adjoint of ``np.inner(a, b)``: a product over the last axes (scalars multiply)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * (b if k == 0 else a), a if k == 0 else b)
    return tensordot_adjoint(g, k, a, b, ([-1], [-1]))


def kron_adjoint(g, k, a, b):
    """Adjoint of ``np.kron(a, b)``: ``g`` seen as the outer product's blocks."""
    d = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (d - np.ndim(a)) + np.shape(a)
    sb = (1,) * (d - np.ndim(b)) + np.shape(b)
    blocks = np.reshape(g, [n for pair in zip(sa, sb, strict=True) for n in pair])
    other = np.reshape(b if k == 0 else a, sb if k == 0 else sa)
    axes = tuple(range(1 if k == 0 else 0, 2 * d, 2))
    spread = [n for i in range(d) for n in ((1, sb[i]) if k == 0 else (sa[i], 1))]
    r = np.sum(blocks * np.reshape(other, spread), axis=axes)
    return np.reshape(r, np.shape(a if k == 0 else b))


def uncross(g, k, a, b, axisa=-1, axisb=-1, axisc=-1):
    """Adjoint of ``np.cross(a, b, ...)`` (3-vectors) with respect to operand ``k``: the
    cross product is linear in each, c = a x b gives da = b x g and db = g x a."""
    gm = np.moveaxis(g, axisc, -1)
    am = np.moveaxis(a, axisa, -1)
    bm = np.moveaxis(b, axisb, -1)
    if np.shape(am)[-1] != 3 or np.shape(bm)[-1] != 3:
        raise ValueError("np.cross is differentiated for 3-vectors only")
    d = np.cross(bm, gm) if k == 0 else np.cross(gm, am)
    x = a if k == 0 else b
    d = unbroadcast(d, np.moveaxis(x, axisa if k == 0 else axisb, -1))
    return np.moveaxis(d, -1, axisa if k == 0 else axisb)


# Every helper above, by name (defined last, so that it sees them all).
HELPERS = {
    name: obj
    for name, obj in globals().items()
    if callable(obj) and not name.startswith("_") and getattr(obj, "__module__", None) == __name__
}
