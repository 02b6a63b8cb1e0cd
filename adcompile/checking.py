"""Gradients checked against central finite differences: :func:`check_grad` and
:func:`numeric_grad`, in float64."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import records
from .api import Wrt, grad, resolve_wrt
from .records import record_fields
from .wrt import split_entry


def check_grad(fn: Callable, *args: Any, wrt: Wrt = 0, eps: float = 1e-6, **kwargs: Any) -> float:
    """Largest relative error between the compiled gradient and central differences.

    Each ``wrt`` argument (an array, a float, or a list, tuple, dict, namedtuple or
    dataclass of them) is perturbed element by element in float64; keyword arguments
    are passed to ``fn`` as they are, and ``wrt`` may name one. The error of one
    argument is ``max|g - fd| / max(max|g|, max|fd|, 1e-8)`` over all its elements;
    the result is the largest over the arguments. Values around 1e-7 or less mean
    agreement.
    """
    signature = inspect.signature(fn)
    star = next((p.name for p in signature.parameters.values() if p.kind is p.VAR_POSITIONAL), None)
    names, single = resolve_wrt(list(signature.parameters), wrt, star=star)
    g = grad(fn, wrt=wrt)(*args, **kwargs)
    grads = [g] if single else list(g)
    worst = 0.0
    for name, gi in zip(names, grads, strict=True):
        fd = _flat(_differences(*_entry(fn, signature, args, kwargs, name), eps))
        got = _flat(gi)
        scale = max(float(np.max(np.abs(got), initial=0.0)), float(np.max(np.abs(fd), initial=0.0)))
        err = float(np.max(np.abs(got - fd), initial=0.0)) / max(scale, 1e-8)
        worst = max(worst, err)
    return worst


def numeric_grad(fn: Callable, args: list, i: int, eps: float = 1e-6) -> Any:
    """Central finite differences of scalar ``fn`` with respect to ``args[i]``, in
    float64: an array (a float for a float), or a tree of the argument's structure
    (lists, tuples, dicts, namedtuples, dataclasses) when ``args[i]`` is one."""

    def moved(value: Any) -> float:
        return float(fn(*args[:i], value, *args[i + 1 :]))

    return _differences(moved, args[i], eps)


def _entry(
    fn: Callable, signature: inspect.Signature, args: tuple, kwargs: dict, entry: str
) -> tuple[Callable[[Any], float], Any]:
    """``fn`` as a function of the ``wrt`` entry (a parameter's name, or ``'args[i]'``
    for a position inside ``*args``), the other arguments fixed; and its value."""
    base, index = split_entry(entry)
    if index is None:
        base = entry

    def call(value: Any) -> float:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if index is None:
            bound.arguments[base] = value
        else:
            items = list(bound.arguments[base])
            items[index] = value
            bound.arguments[base] = tuple(items)
        return float(fn(*bound.args, **bound.kwargs))

    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    value = bound.arguments[base]
    return call, value if index is None else value[index]


def _differences(call: Callable[[Any], float], tree: Any, eps: float) -> Any:
    """Central differences of ``call(tree)`` in every element of ``tree``'s leaves, as
    a tree of ``tree``'s structure."""
    leaves = [np.array(leaf, dtype=float, order="C") for leaf in _leaves(tree)]
    diffs = [np.zeros_like(x) for x in leaves]
    for x, fd in zip(leaves, diffs, strict=True):
        flat = x.reshape(-1)  # a view of x: x is C-contiguous
        out = fd.reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            hi = call(_rebuild(tree, iter(leaves)))
            flat[k] = old - eps
            lo = call(_rebuild(tree, iter(leaves)))
            flat[k] = old
            out[k] = (hi - lo) / (2 * eps)
    return _rebuild(tree, iter(diffs))


def _leaves(tree: Any) -> list:
    names = record_fields(tree)
    if names is not None:
        return [leaf for n in names for leaf in _leaves(getattr(tree, n))]
    if isinstance(tree, list | tuple):
        return [leaf for t in tree for leaf in _leaves(t)]
    if isinstance(tree, dict):
        return [leaf for t in tree.values() for leaf in _leaves(t)]
    return [tree]


def _rebuild(tree: Any, values: Iterator) -> Any:
    """``tree`` with its leaves taken from ``values`` (copies), each a float where the
    leaf is a Python number."""
    names = record_fields(tree)
    if names is not None:
        parts = {n: _rebuild(getattr(tree, n), values) for n in names}
        if isinstance(tree, tuple):
            return type(tree)._make(parts.values())
        return dataclasses.replace(tree, **parts)
    if isinstance(tree, list | tuple):
        return type(tree)(_rebuild(t, values) for t in tree)
    if isinstance(tree, dict):
        return {k: _rebuild(t, values) for k, t in tree.items()}
    x = next(values)
    if isinstance(tree, float | int) and not isinstance(tree, bool):
        return float(x)
    return x.copy()


def _flat(tree: Any) -> np.ndarray:
    parts = [np.ravel(np.asarray(leaf, dtype=float)) for leaf in _leaves(records.plain(tree))]
    return np.concatenate(parts) if parts else np.zeros(0)


__all__ = ["check_grad", "numeric_grad"]
