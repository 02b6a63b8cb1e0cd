"""Gradients checked against central finite differences: :func:`check_grad` and
:func:`numeric_grad`, in float64."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .api import Wrt, grad, resolve_wrt


def check_grad(fn: Callable, *args: Any, wrt: Wrt = 0, eps: float = 1e-6) -> float:
    """Largest relative error between the compiled gradient and central differences.

    Each ``wrt`` argument is perturbed element by element in float64. The error
    of one argument is ``max|g - fd| / max(max|g|, max|fd|, 1e-8)``; the result is
    the largest over the arguments. Values around 1e-7 or less mean agreement.
    """
    params = list(inspect.signature(fn).parameters)
    names, single = resolve_wrt(params, wrt)
    g = grad(fn, wrt=wrt)(*args)
    grads = [g] if single else list(g)
    worst = 0.0
    base = list(args)
    for name, gi in zip(names, grads, strict=True):
        i = params.index(name)
        fd = numeric_grad(fn, base, i, eps)
        gi = np.asarray(gi, dtype=float)
        scale = max(float(np.max(np.abs(gi), initial=0.0)), float(np.max(np.abs(fd), initial=0.0)))
        err = float(np.max(np.abs(gi - fd), initial=0.0)) / max(scale, 1e-8)
        worst = max(worst, err)
    return worst


def numeric_grad(fn: Callable, args: list, i: int, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of scalar ``fn`` with respect to ``args[i]``, in float64."""
    x0 = args[i]
    x = np.array(x0, dtype=float, order="C")  # so that x.reshape(-1) is a view of x
    fd = np.zeros_like(x)
    flat = x.reshape(-1)
    out = fd.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        hi = fn(*_with(args, i, _like(x, x0)))
        flat[k] = old - eps
        lo = fn(*_with(args, i, _like(x, x0)))
        flat[k] = old
        out[k] = (float(hi) - float(lo)) / (2 * eps)
    return fd


def _like(x: np.ndarray, x0: object) -> object:
    if isinstance(x0, float):
        return float(x)
    return x.copy()


def _with(args: list, i: int, value: object) -> list:
    new = list(args)
    new[i] = value
    return new


__all__ = ["check_grad", "numeric_grad"]
