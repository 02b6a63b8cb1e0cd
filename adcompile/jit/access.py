"""Attributes and indexing in ``jit/emitter.py``'s code: ``.T``, ``.shape``,
``.size``, ``.ndim``, ``math.pi``..., and views by constant integers and slices
(an index known only when the code runs is outside the kernel's subset)."""

from __future__ import annotations

import ast
import math

import numpy as np

from .values import Arr, Ew, Num, Unsupported


def attribute(em, node: ast.Attribute, env: dict):
    if isinstance(node.value, ast.Name) and node.value.id == "math":
        if node.attr in ("pi", "e", "inf", "tau"):
            return Num(const=getattr(math, node.attr))
        raise Unsupported(f"math.{node.attr}")
    if isinstance(node.value, ast.Name) and node.value.id == "np":
        if node.attr in ("pi", "e", "inf", "nan"):
            return Num(const=float(getattr(np, node.attr)))
        raise Unsupported(f"np.{node.attr}")
    v = em.expr(node.value, env)
    if isinstance(v, Ew):
        v = em.materialise(v)
    if not isinstance(v, Arr):
        raise Unsupported(f".{node.attr} of a number")
    if node.attr == "T":
        return Arr(v.buf, v.offset, v.shape[::-1], v.strides[::-1])
    if node.attr == "shape":
        return tuple(Num(const=n) for n in v.shape)
    if node.attr == "size":
        return Num(const=v.size)
    if node.attr == "ndim":
        return Num(const=v.ndim)
    raise Unsupported(f"the attribute .{node.attr}")


def subscript(em, node: ast.Subscript, env: dict):
    v = em.expr(node.value, env)
    if isinstance(v, tuple | list):
        if isinstance(node.slice, ast.Slice):
            return type(v)(v[_index_part(em, node.slice, env)])
        index = em.expr(node.slice, env)
        if isinstance(index, Num) and type(index.const) is int and -len(v) <= index.const < len(v):
            return v[index.const]
        raise Unsupported("an index of a sequence known only when the code runs")
    if isinstance(v, Ew):
        v = em.materialise(v)
    if not isinstance(v, Arr):
        raise Unsupported("an index of a number")
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    return view_of(v, [_index_part(em, p, env) for p in parts])


def _index_part(em, p: ast.expr, env: dict):
    if isinstance(p, ast.Slice):
        bounds = []
        for b in (p.lower, p.upper, p.step):
            if b is None:
                bounds.append(None)
                continue
            n = em.expr(b, env)
            if not (isinstance(n, Num) and isinstance(n.const, int)):
                raise Unsupported("a slice bound not known when compiling")
            bounds.append(n.const)
        return slice(*bounds)
    n = em.expr(p, env)
    if isinstance(n, Num) and type(n.const) is int:
        return n.const
    raise Unsupported("an index not known when compiling")


def view_of(a: Arr, parts: list) -> Arr:
    """The view of ``a`` that indexing with constant integers and slices gives."""
    if sum(1 for p in parts if p is not None) > a.ndim:
        raise Unsupported("too many indices")
    offset, shape, strides = a.offset, [], []
    d = 0
    for p in parts:
        n, s = a.shape[d], a.strides[d]
        if isinstance(p, int):
            if not -n <= p < n:
                raise Unsupported("an index out of bounds")
            offset += (p % n) * s
        else:
            start, stop, step = p.indices(n)
            count = len(range(start, stop, step))
            offset += start * s if count else 0
            shape.append(count)
            strides.append(s * step)
        d += 1
    shape += a.shape[d:]
    strides += a.strides[d:]
    return Arr(a.buf, offset, tuple(shape), tuple(strides))
