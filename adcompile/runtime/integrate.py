"""The adjoint of ``scipy.integrate.odeint``: the adjoint equations solved backwards in
time by ``odeint`` itself, whose right-hand side calls the generated pullback pair of
the user's ODE function."""

from __future__ import annotations

import numpy as np


def odeint_adjoint(fwd, bwd, ys, dys, y0, t, args, wrt=(), times=False, tfirst=False, **options):
    """``(dy0, dt, *dargs)`` for ``ys = odeint(f, y0, t, args=args, **options)``, given the
    cotangent ``dys`` of ``ys``; ``fwd``/``bwd`` are ``f``'s pullback pair, which
    differentiates ``y`` and the elements of ``args`` at the positions ``wrt`` (whose
    gradients come back, in that order); ``dt`` is None unless ``times``.

    From the last time to the first, the state ``[y, a, g]`` is solved backwards from
    ``[ys[i], a, g]``: ``y' = f(y, t)``, ``a' = -a^T df/dy`` and ``g' = -a^T df/dargs``,
    so that ``a`` is dL/dy(t) and ``g`` the integral of ``a^T df/dargs`` from ``t``;
    ``dys[i]`` is added to ``a`` at each time. The gradient of ``t[i]`` is
    ``dys[i] . f(ys[i], t[i])`` for the later times, and ``-a . f(y0, t[0])`` for the
    first (``a`` before ``dys[0]`` is added)."""
    from scipy.integrate import odeint

    n = ys.shape[1]
    t = np.asarray(t, dtype=float)
    dys = np.broadcast_to(dys, ys.shape)
    params = [args[i] for i in wrt]
    offsets = np.cumsum([2 * n, *(_size(p) for p in params)])

    def rhs(y, time):
        first = (time, y) if tfirst else (y, time)
        return fwd(*first, *args)

    def dynamics(state, time):
        y, a = state[:n], state[n : 2 * n]
        f, saved = rhs(y, time)
        grads = bwd(saved, _like(f, -a))
        if not wrt:
            grads = (grads,)
        pieces = [np.ravel(f), _flat(grads[0], y)]
        pieces += [_flat(g, p) for g, p in zip(grads[1:], params, strict=True)]
        return np.concatenate(pieces)

    if tfirst:
        dynamics = _swapped(dynamics)
    tol = {k: _extended(v, n, offsets[-1]) for k, v in options.items() if k in ("rtol", "atol")}
    options = {**options, **tol}
    a = np.array(dys[-1], dtype=float)
    g = np.zeros(offsets[-1] - 2 * n)
    dt = np.zeros(t.shape) if times else None
    for i in range(len(t) - 1, 0, -1):
        if times:
            dt[i] = np.dot(dys[i], np.ravel(rhs(ys[i], t[i])[0]))
        if t[i] != t[i - 1]:
            state = np.concatenate([ys[i], a, g])
            end = odeint(dynamics, state, t[[i, i - 1]], tfirst=tfirst, **options)[1]
            a, g = end[n : 2 * n], end[2 * n :]
        a = a + dys[i - 1]
    if times:
        dt[0] = -np.dot(a - dys[0], np.ravel(rhs(ys[0], t[0])[0]))
    dy0 = np.reshape(a, np.shape(y0))
    if isinstance(y0, float):
        dy0 = float(dy0)
    dargs = [
        _unflat(g[start - 2 * n : stop - 2 * n], p)
        for start, stop, p in zip(offsets[:-1], offsets[1:], params, strict=True)
    ]
    return (dy0, dt, *dargs)


def _swapped(dynamics):
    """``dynamics(y, t)`` as odeint calls it with ``tfirst=True``: ``(t, y)``."""
    return lambda time, state: dynamics(state, time)


def _like(f, a: np.ndarray):
    """``a`` (a flat array) as a cotangent of ``f``: an array of its shape, or a list of
    its elements where ``f`` is a list or tuple of numbers."""
    if isinstance(f, list | tuple):
        return [a[i] for i in range(len(f))]
    return np.reshape(a, np.shape(f))


def _flat(g, like) -> np.ndarray:
    """A gradient of ``like`` (an array, a number, or a tuple or list of them) as one
    flat array, zeros where it is None."""
    if g is None:
        return np.zeros(_size(like))
    if isinstance(like, list | tuple):
        parts = [_flat(e, x) for e, x in zip(g, like, strict=True)]
        return np.concatenate([np.zeros(0), *parts])
    return np.ravel(g)


def _size(like) -> int:
    if isinstance(like, list | tuple):
        return sum(_size(e) for e in like)
    return np.size(like)


def _unflat(flat: np.ndarray, like):
    """``flat`` in the structure and shapes of ``like`` (an array, a number, or a tuple
    or list of them)."""
    if isinstance(like, list | tuple):
        out, start = [], 0
        for e in like:
            out.append(_unflat(flat[start : start + _size(e)], e))
            start += _size(e)
        return type(like)(out)
    if isinstance(like, float):
        return float(flat[0])
    return np.reshape(flat, np.shape(like))


def _extended(tolerance, n: int, total: int):
    """A tolerance of odeint (a number, or one per component of ``y``) for the
    ``total`` components of the backward solve: each of ``y``'s own, and the smallest
    for the adjoint components."""
    if np.ndim(tolerance) == 0:
        return tolerance
    tolerance = np.ravel(tolerance)
    return np.concatenate([np.broadcast_to(tolerance, (n,)), np.full(total - n, tolerance.min())])
