"""Shapes: what the argument shapes of one call say about every intermediate's shape.

When a gradient is called, its code is specialised to the shapes of the
arguments (one compilation per shape signature, a few at most per function).
This module propagates those shapes through the normalized program, soundly:
a name gets a shape only when every execution with arguments of these shapes
gives it that shape. Anything data-dependent, or computed by a primitive
without a shape rule here, stays unknown (``None``), and the reverse sweep then
emits the generic code (``unbroadcast``, the general matmul adjoints) for it.

What the reverse sweep does with a known shape: it drops ``unbroadcast`` where
an operand has the result's shape, sums exactly the broadcast axes where it
does not (``np.sum(dh, axis=1, keepdims=True)``), and writes matrix products'
adjoints as ``dz @ y.T`` and ``x.T @ dz``.
"""

from __future__ import annotations

import ast
import operator

import numpy as np

from .ir import Assign, Function, If, Loop, Stmt
from .rules import containers
from .rules.containers import LEAF
from .rules.registry import lookup

Shape = tuple[int, ...]
INT = "int"  # the fact for a Python int of unknown value (a loop index)

# Unary elementwise primitives: the result has the operand's shape.
_UNARY = {
    id(f)
    for f in (
        np.negative, np.positive, np.exp, np.expm1, np.log, np.log1p, np.log2, np.log10,
        np.sqrt, np.square, np.reciprocal, np.sin, np.cos, np.tan, np.arcsin, np.arccos,
        np.arctan, np.sinh, np.cosh, np.tanh, np.abs,
    )
}  # fmt: skip
_REDUCTIONS = {id(f) for f in (np.sum, np.mean, np.max, np.min, np.prod, np.var, np.std)}


def signature_shapes(args: tuple, kinds: tuple | None) -> tuple:
    """The shape facts of one call's arguments, as used for the cache key."""
    return tuple(_shape_of_value(a) for a in args)


def _shape_of_value(a: object) -> object:
    t = type(a)
    if t is np.ndarray:
        return a.shape
    if t is float or t is int or t is bool or t is complex:
        return t
    if t is list or t is tuple:
        return (t, tuple(_shape_of_value(v) for v in a))
    if t is dict:
        return (dict, tuple((k, _shape_of_value(v)) for k, v in a.items()))
    if isinstance(a, np.generic):
        return ()
    return None


class ShapeInference:
    def __init__(self, fn: Function, arg_shapes: tuple) -> None:
        self.fn = fn
        self.shapes: dict[str, object] = {}
        for p, s in zip(fn.params, arg_shapes, strict=True):
            self.shapes[p] = _as_fact(s)

    def run(self) -> dict[str, object]:
        self.block(self.fn.body)
        return self.shapes

    def of(self, expr: ast.expr) -> object:
        """The shape fact of an atom: a shape tuple for a leaf, a list/dict of facts for a
        container, None when unknown."""
        if isinstance(expr, ast.Constant):
            v = expr.value
            if isinstance(v, bool | int | float | complex):
                return ()
            return None
        if isinstance(expr, ast.Name):
            if expr.id in self.shapes:
                return self.shapes[expr.id]
            value = self.fn.globals.get(expr.id)
            if value is not None:
                return _as_fact(_shape_of_value(value))
        return None

    def block(self, body: list[Stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, Assign):
                self.shapes[stmt.target] = self.assign(stmt)
            elif isinstance(stmt, If):
                self.block(stmt.body)
                self.block(stmt.orelse)
                for j, a, b in stmt.joins:
                    self.shapes[j] = _join(self.of(a), self.of(b))
            elif isinstance(stmt, Loop):
                for c, before, _ in stmt.carried:
                    self.shapes[c] = self.of(before)
                if stmt.target:
                    self.shapes[stmt.target] = INT  # loops run over ranges
                for _ in range(len(stmt.carried) + 2):
                    self.block(stmt.body)
                    changed = False
                    for c, _, end in stmt.carried:
                        new = _join(self.shapes[c], self.of(end))
                        if new != self.shapes[c]:
                            self.shapes[c] = new
                            changed = True
                    if not changed:
                        break
                else:
                    for c, _, _ in stmt.carried:
                        self.shapes[c] = None
                    self.block(stmt.body)

    def assign(self, stmt: Assign) -> object:
        prim, ops = stmt.prim, stmt.operands
        if prim is None:
            return None
        if prim is containers.GET:
            return self.element(self.of(ops["c"]), ops["index"])
        if prim in (containers.BUILD_LIST, containers.BUILD_TUPLE):
            return [self.of(e) for e in ops.values()]
        if prim is containers.APPEND:
            c = self.of(ops["c"])
            return c + [self.of(ops["x"])] if isinstance(c, list) else None
        if not isinstance(prim, object) or lookup(prim) is None:
            return None
        facts = {p: self.of(e) for p, e in ops.items()}
        try:
            return self.rule_shape(prim, facts, ops)
        except (ValueError, TypeError, IndexError):
            return None

    def element(self, c: object, index: ast.expr) -> object:
        if isinstance(index, ast.Call):  # a slice of a list
            bounds = index.args
            if isinstance(c, list) and all(isinstance(b, ast.Constant) for b in bounds):
                return c[slice(*(b.value for b in bounds))]
            return None
        if not isinstance(index, ast.Constant):
            if isinstance(c, list) and c and all(x == c[0] for x in c):
                return c[0]
            return None
        key = index.value
        if isinstance(c, list) and isinstance(key, int) and -len(c) <= key < len(c):
            return c[key]
        if isinstance(c, dict):
            return c.get(key)
        return None

    def rule_shape(self, prim: object, facts: dict, ops: dict) -> object:
        def leaf(p: str) -> Shape | None:
            s = facts.get(p)
            return s if isinstance(s, tuple) else None

        def const(p: str) -> object:
            e = ops.get(p)
            if isinstance(e, ast.Constant):
                return e.value
            if isinstance(e, ast.Tuple) and all(isinstance(x, ast.Constant) for x in e.elts):
                return tuple(x.value for x in e.elts)
            raise TypeError("not a constant")

        key = id(prim)
        shapes = [leaf(p) for p in facts]
        if key in _UNARY:
            return shapes[0]
        if getattr(prim, "__module__", None) == "math":
            return ()  # math functions take and return Python floats
        rule = lookup(prim)
        if rule.broadcasts:
            if any(s is None for s in shapes):
                return None
            return tuple(np.broadcast_shapes(*shapes))
        if prim is np.matmul or prim is np.dot:
            x, y = leaf(rule.params[0]), leaf(rule.params[1])
            if x is None or y is None:
                return None
            if prim is np.dot and (len(x) > 2 or len(y) > 2):
                return None
            return matmul_shape(x, y)
        if key in _REDUCTIONS:
            a = leaf("a")
            if a is None:
                return None
            return reduced_shape(a, const("axis"), const("keepdims"))
        if prim is np.transpose:
            a = leaf("a")
            return None if a is None else np.transpose(_dummy(a), const("axes")).shape
        if prim is np.reshape:
            a = leaf("a")
            return None if a is None else np.reshape(_dummy(a), const("shape")).shape
        if prim is np.expand_dims:
            a = leaf("a")
            return None if a is None else np.expand_dims(_dummy(a), const("axis")).shape
        if prim is np.squeeze:
            a = leaf("a")
            return None if a is None else np.squeeze(_dummy(a), const("axis")).shape
        if prim is operator.getitem:
            a = leaf("a")
            index = _constant_index(ops["index"], self.shapes)
            return None if a is None or index is None else _dummy(a)[index].shape
        return None


def matmul_shape(x: Shape, y: Shape) -> Shape | None:
    """The shape of ``x @ y`` (None when the operands do not fit)."""
    if not x or not y:
        return None
    if len(x) == 1 and len(y) == 1:
        return () if x == y else None
    if len(x) == 1:
        return y[:-2] + y[-1:] if x[0] == y[-2] else None
    if len(y) == 1:
        return x[:-1] if x[-1] == y[0] else None
    if x[-1] != y[-2]:
        return None
    return tuple(np.broadcast_shapes(x[:-2], y[:-2])) + (x[-2], y[-1])


def reduced_shape(a: Shape, axis: object, keepdims: object) -> Shape:
    """The shape of a reduction of an array of shape ``a`` over ``axis``."""
    if axis is None:
        axes = set(range(len(a)))
    else:
        raw = axis if isinstance(axis, tuple) else (axis,)
        axes = set()
        for ax in raw:
            if not isinstance(ax, int) or not -len(a) <= ax < len(a):
                raise ValueError(axis)
            axes.add(ax % len(a))
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(a))
    return tuple(n for i, n in enumerate(a) if i not in axes)


def _dummy(shape: Shape) -> np.ndarray:
    """A zero-cost array of ``shape`` (every element the same memory)."""
    return np.broadcast_to(np.zeros(()), shape)


def _constant_index(node: ast.expr, shapes: dict) -> object:
    """An index with the same effect on shapes as ``node``: constants as they are, and
    0 for a Python int of unknown value (any in-range int selects the same shape)."""
    try:
        return _index_value(node, shapes)
    except TypeError:
        return None


def _index_value(node: ast.expr, shapes: dict) -> object:
    if isinstance(node, ast.Name) and shapes.get(node.id) == INT:
        return 0
    if isinstance(node, ast.Constant):
        if (
            isinstance(node.value, bool)
            or not isinstance(node.value, int | type(None))
            and (node.value is not Ellipsis)
        ):
            raise TypeError
        return node.value
    if isinstance(node, ast.Slice):
        parts = [
            None if p is None else _index_value(p) for p in (node.lower, node.upper, node.step)
        ]
        return slice(*parts)
    if isinstance(node, ast.Tuple):
        return tuple(_index_value(e, shapes) for e in node.elts)
    raise TypeError


def _as_fact(s: object) -> object:
    """A signature entry as a shape fact (facts themselves pass through)."""
    if isinstance(s, list):
        return [_as_fact(v) for v in s]
    if isinstance(s, dict):
        return {k: _as_fact(v) for k, v in s.items()}
    if s == INT:
        return INT
    if isinstance(s, tuple) and all(isinstance(n, int) for n in s):
        return s
    if s in (float, int, bool, complex):
        return ()
    if isinstance(s, tuple) and len(s) == 2 and s[0] in (list, tuple):
        return [_as_fact(v) for v in s[1]]
    if isinstance(s, tuple) and len(s) == 2 and s[0] is dict:
        return {k: _as_fact(v) for k, v in s[1]}
    return None


def _join(a: object, b: object) -> object:
    return a if a == b else None


def freeze(fact: object) -> object:
    """A hashable form of a shape fact (for cache keys)."""
    if isinstance(fact, list):
        return (list, tuple(freeze(v) for v in fact))
    if isinstance(fact, dict):
        return (dict, tuple((k, freeze(v)) for k, v in fact.items()))
    return fact


def infer(fn: Function, arg_shapes: tuple | None) -> dict[str, object]:
    """Shape facts for every name of ``fn`` given the argument signature (None: nothing)."""
    if arg_shapes is None:
        return {}
    return ShapeInference(fn, arg_shapes).run()


__all__ = ["LEAF", "infer", "signature_shapes"]
