"""Shapes: what the argument shapes of one call say about every intermediate's shape.

When a gradient is called, its code is specialised to the shapes of the
arguments (one compilation per shape signature, a few at most per function).
This module propagates those shapes through the normalized program, soundly:
a name gets a shape only when every execution with arguments of these shapes
gives it that shape. Each primitive's result follows the shape kind of its
record (``rules/record.py``: unary elementwise, broadcasting, reduction, matmul,
or a function of a :class:`ShapeQuery`). Anything data-dependent, or computed by
a primitive whose kind is unknown, stays unknown (``None``), and the reverse
sweep then emits the generic code (``unbroadcast``, the general matmul adjoints)
for it. Nothing here raises for a shape it cannot tell: each rule checks what it
needs and answers unknown.

What the reverse sweep does with a known shape: it drops ``unbroadcast`` where
an operand has the result's shape, sums exactly the broadcast axes where it
does not (``np.sum(dh, axis=1, keepdims=True)``), and writes matrix products'
adjoints as ``dz @ y.T`` and ``x.T @ dz``.
"""

from __future__ import annotations

import ast
import builtins
import operator
from collections.abc import Callable

import numpy as np

from .ir import Assign, CallPrim, Function, If, Loop, OdeintPrim, Return, Stmt
from .rules import containers
from .rules import record as kinds
from .rules.containers import LEAF, is_function_value
from .rules.registry import lookup, record_of

Shape = tuple[int, ...]
INT = "int"  # the fact for a Python int of unknown value (a loop index)

MAX_CALL_DEPTH = 8  # calls followed inside calls (a recursion on shrinking shapes stops)
MAX_VALUES = 4096  # the most values an int's fact lists (beyond: unknown)
_INT_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}

# what ShapeQuery.const and .index give for an operand that is not a constant
NOT_CONSTANT = object()


def signature_shapes(args: tuple, kinds: tuple | None) -> tuple:
    """The shape facts of one call's arguments, as used for the cache key."""
    return tuple(_shape_of_value(a) for a in args)


def general_signature(sig: tuple) -> tuple | None:
    """What code for arguments of any shapes still knows of a call's shape signature
    ``sig``: which arguments are Python numbers (``float``, ``int``...), which the
    ownership pass reads (``inplace/``: a number is immutable), and which are numpy
    numbers (``np.number``, immutable too); every other entry None. None when no
    argument is a number (the one general code)."""
    general = tuple(s if s in (float, int, bool, complex, np.number) else None for s in sig)
    return general if any(s is not None for s in general) else None


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
    if isinstance(a, np.number):
        # (of shape (), as a 0-d array, but immutable, as a Python number: the ownership
        # pass reads it, so code is compiled for it apart from 0-d arrays)
        return np.number
    if isinstance(a, np.generic):
        return ()
    if is_function_value(a):
        # (a function passed as a value: code is compiled for each one, see kind_of)
        return ("function", a)
    return None


class Facts(dict):
    """The shape fact of every name (a dict), and in ``int_values`` the values each name
    holding a Python int can have, where they are known (see ``ShapeInference``)."""

    int_values: dict[str, frozenset[int]]

    def __init__(self, shapes: dict, int_values: dict[str, frozenset[int]]) -> None:
        super().__init__(shapes)
        self.int_values = int_values


class ShapeInference:
    def __init__(
        self, fn: Function, arg_shapes: tuple, helper: Callable | None = None, calls: tuple = ()
    ) -> None:
        self.fn = fn
        self.helper = helper  # CallPrim -> the called function's IR (None: not followed)
        self.calls = calls  # the calls being followed (a recursive one is not followed again)
        self.shapes: dict[str, object] = {}
        # the values a name holding a Python int can have (every execution with
        # arguments of these shapes gives it one of them): sizes ``x.shape[k]``,
        # ``len`` of a container, constants, loop indices over ranges of such bounds,
        # and arithmetic on them
        self.values: dict[str, frozenset[int]] = {}
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
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and self.fn.globals.get(expr.value.id) is np
            and type(getattr(np, expr.attr, None)) is float
        ):
            return ()  # np.pi, np.e, np.inf
        return None

    def block(self, body: list[Stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, Assign):
                ints = self.int_values(stmt.value)
                self.set_values(stmt.target, ints)
                self.shapes[stmt.target] = INT if ints is not None else self.assign(stmt)
            elif isinstance(stmt, If):
                self.block(stmt.body)
                self.block(stmt.orelse)
                for j, a, b in stmt.joins:
                    self.shapes[j] = _join(self.of(a), self.of(b))
                    va, vb = self.int_values(a), self.int_values(b)
                    self.set_values(j, None if va is None or vb is None else va | vb)
            elif isinstance(stmt, Loop):
                for c, before, _ in stmt.carried:
                    self.shapes[c] = self.of(before)
                    self.values.pop(c, None)  # a carried int may change every iteration
                if stmt.target:
                    self.shapes[stmt.target] = INT  # loops run over ranges
                    self.set_values(stmt.target, self.range_values(stmt.iter))
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
            return self.constant(stmt.value)
        if prim is containers.GET:
            return self.element(self.of(ops["c"]), ops["index"])
        if prim in (containers.BUILD_LIST, containers.BUILD_TUPLE):
            return [self.of(e) for e in ops.values()]
        if prim is containers.SETITEM:
            return self.of(ops["x"])
        if isinstance(prim, containers.BuildDict):
            return None
        if prim is containers.APPEND:
            c = self.of(ops["c"])
            return c + [self.of(ops["x"])] if isinstance(c, list) else None
        if isinstance(prim, CallPrim):
            return self.call(prim, ops)
        if isinstance(prim, OdeintPrim):  # a row per time, y0 flattened
            t, y0 = self.of(ops["t"]), self.of(ops["y0"])
            if isinstance(t, tuple) and len(t) == 1 and isinstance(y0, tuple):
                return (t[0], int(np.prod(y0)))
            return None
        record = record_of(prim)
        if record is None or lookup(prim) is None:
            return None
        facts = {p: self.of(e) for p, e in ops.items()}
        return self.rule_shape(prim, record, ShapeQuery(facts, ops, self.shapes))

    def call(self, prim: CallPrim, ops: dict) -> object:
        """The fact of what a called user function returns, by inference over its own
        IR with the facts of the arguments (unknown for a recursive call)."""
        facts = tuple(self.of(ops[p]) for p in prim.params)
        key = (prim.source.key, prim.kinds, freeze(list(facts)))
        if self.helper is None or key in self.calls or len(self.calls) >= MAX_CALL_DEPTH:
            return None
        fn = self.helper(prim)
        end = fn.body[-1] if fn.body else None
        if not isinstance(end, Return) or len(fn.params) != len(facts):
            return None
        inner = ShapeInference(fn, facts, self.helper, (*self.calls, key))
        inner.run()
        return inner.of(end.value)

    def constant(self, value: ast.expr) -> object:
        """The shape of a value with no derivative whose shape is known: the size
        ``x.shape[k]`` of an array of known shape (remembered in ``sizes``), an array
        ``np.zeros((n, m))`` (or ``ones``, ``empty``) of such sizes and int constants,
        and ``np.zeros_like(a)`` (and ``ones_like``, ``empty_like``), without ``shape=``."""
        made = self.made(value)
        if made is not None:
            return made
        if isinstance(value, ast.Compare) and len(value.ops) == 1:
            # a comparison broadcasts its operands (a bool array, or a bool)
            sides = [self.of(value.left), self.of(value.comparators[0])]
            sides = [() if f == INT else f for f in sides]
            if all(isinstance(f, tuple) for f in sides):
                return broadcast_shape(sides)
            return None
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and self.fn.globals.get(value.func.value.id) is np
            and value.func.attr in ("zeros_like", "ones_like", "empty_like")
            and len(value.args) == 1
            and all(k.arg == "dtype" for k in value.keywords)
        ):
            return None
        shape = self.of(value.args[0])
        return shape if isinstance(shape, tuple) else None

    def set_values(self, name: str, values: frozenset[int] | None) -> None:
        if values is None:
            self.values.pop(name, None)
        else:
            self.values[name] = values

    def int_values(self, e: ast.expr) -> frozenset[int] | None:
        """The values the int expression ``e`` can have, when they are known: int
        constants and globals, names of known values, ``x.shape[k]`` of an array of
        known shape, ``len`` of a container or of an array of known shape, and
        ``+ - * // %`` of them. None when unknown (or not an int, or too many)."""
        if isinstance(e, ast.Constant):
            return frozenset((e.value,)) if type(e.value) is int else None
        if isinstance(e, ast.Name):
            if e.id in self.values:
                return self.values[e.id]
            if e.id not in self.shapes and type(self.fn.globals.get(e.id)) is int:
                return frozenset((self.fn.globals[e.id],))
            return None
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
            v = self.int_values(e.operand)
            return None if v is None else frozenset(-x for x in v)
        if isinstance(e, ast.BinOp) and type(e.op) in _INT_OPS:
            a, b = self.int_values(e.left), self.int_values(e.right)
            if a is None or b is None or len(a) * len(b) > MAX_VALUES:
                return None
            op = _INT_OPS[type(e.op)]
            if op in (operator.floordiv, operator.mod) and 0 in b:
                return None
            return frozenset(op(x, y) for x in a for y in b)
        if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute):
            return self.size(e)
        if (
            isinstance(e, ast.Call)
            and isinstance(e.func, ast.Name)
            and self.fn.globals.get(e.func.id, getattr(builtins, e.func.id, None)) is len
            and e.func.id not in self.shapes
            and len(e.args) == 1
            and not e.keywords
        ):
            c = self.of(e.args[0])
            if isinstance(c, list | dict):
                return frozenset((len(c),))
            if isinstance(c, tuple) and c:
                return frozenset((c[0],))
        return None

    def size(self, value: ast.Subscript) -> frozenset[int] | None:
        """The value of ``x.shape[k]`` for an array ``x`` of known shape."""
        if not (value.value.attr == "shape" and isinstance(value.value.value, ast.Name)):
            return None
        k = self.int_values(value.slice)
        shape = self.of(value.value.value)
        if k is None or len(k) != 1 or not isinstance(shape, tuple) or shape == INT:
            return None
        (k,) = k
        if -len(shape) <= k < len(shape):
            return frozenset((shape[k],))
        return None

    def range_values(self, it: ast.expr | None) -> frozenset[int] | None:
        """The values of the index of a loop over ``it``, ``range(...)`` of known bounds."""
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)):
            return None
        if self.fn.globals.get(it.func.id, getattr(builtins, it.func.id, None)) is not range:
            return None
        if it.keywords or not 1 <= len(it.args) <= 3:
            return None
        bounds = [self.int_values(a) for a in it.args]
        if any(b is None or len(b) != 1 for b in bounds):
            return None
        args = [next(iter(b)) for b in bounds]
        if len(args) == 3 and args[2] == 0:
            return None  # (numpy's error at run time)
        r = range(*args)
        return frozenset(r) if len(r) <= MAX_VALUES else None

    def made(self, value: ast.expr) -> tuple | None:
        """The shape of ``np.zeros(shape)`` (``ones``, ``empty``) of known sizes, and of
        ``np.eye(n)`` (``identity``)."""
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and self.fn.globals.get(value.func.value.id) is np
            and value.func.attr in ("zeros", "ones", "empty", "eye", "identity")
            and len(value.args) == 1
            and all(k.arg == "dtype" for k in value.keywords)
        ):
            return None
        arg = value.args[0]
        parts = arg.elts if isinstance(arg, ast.Tuple) else [arg]
        if value.func.attr in ("eye", "identity"):  # np.eye(n): n by n
            if isinstance(arg, ast.Tuple):
                return None
            parts = [arg, arg]
        shape = []
        for p in parts:
            if isinstance(p, ast.Constant) and type(p.value) is int and p.value >= 0:
                shape.append(p.value)
            else:
                v = self.int_values(p)
                if v is None or len(v) != 1 or min(v) < 0:
                    return None
                shape.append(next(iter(v)))
        return tuple(shape)

    def element(self, c: object, index: ast.expr) -> object:
        """The fact of ``c[index]`` for a container fact ``c``: its element at each
        value the index can have, when they all agree."""
        if isinstance(index, ast.Call):  # a slice of a list
            bounds = [self.bound(b) for b in index.args]
            if isinstance(c, list) and all(b is not NOT_CONSTANT for b in bounds):
                if len(bounds) == 3 and bounds[2] == 0:
                    return None  # (numpy's error at run time)
                return c[slice(*bounds)]
            return None
        if isinstance(c, dict):
            return c.get(index.value) if isinstance(index, ast.Constant) else None
        if not isinstance(c, list):
            return None
        keys = self.int_values(index)
        if keys is None:
            return c[0] if c and all(x == c[0] for x in c) else None
        if not keys or any(not -len(c) <= k < len(c) for k in keys):
            return None  # (an IndexError at run time)
        found = [c[k] for k in keys]
        return found[0] if all(x == found[0] for x in found) else None

    def bound(self, b: ast.expr) -> object:
        """A slice bound's value (None for an absent one), or NOT_CONSTANT."""
        if isinstance(b, ast.Constant) and b.value is None:
            return None
        v = self.int_values(b)
        return next(iter(v)) if v is not None and len(v) == 1 else NOT_CONSTANT

    def rule_shape(self, prim: object, record: kinds.Primitive, q: ShapeQuery) -> object:
        """The result's shape by the record's shape kind (see rules/record.py)."""
        if prim in record.on_floats:
            return ()  # math functions take and return Python floats
        kind = record.shape
        if callable(kind):
            return kind(q)
        shapes = [q.leaf(p) for p in q.facts]
        if kind == kinds.UNARY:
            return shapes[0]
        if kind == kinds.BROADCAST:
            if any(s is None for s in shapes):
                return None
            return broadcast_shape(shapes)
        if kind in (kinds.MATMUL, kinds.DOT):
            params = lookup(prim).params
            x, y = q.leaf(params[0]), q.leaf(params[1])
            if x is None or y is None:
                return None
            if kind == kinds.DOT and (len(x) > 2 or len(y) > 2):
                return None
            return matmul_shape(x, y)
        if kind == kinds.REDUCTION:
            a, axis, keepdims = q.leaf("a"), q.const("axis"), q.const("keepdims")
            if a is None or axis is NOT_CONSTANT or keepdims is NOT_CONSTANT:
                return None
            return reduced_shape(a, axis, keepdims)
        return None


class ShapeQuery:
    """What a shape rule may ask about the operands of one primitive application."""

    def __init__(self, facts: dict, ops: dict, shapes: dict) -> None:
        self.facts, self.ops, self.shapes = facts, ops, shapes

    def leaf(self, param: str) -> Shape | None:
        """The shape of the array operand ``param``, None when unknown (or a container);
        a Python int's (a size ``x.shape[k]``, a loop index) is ``()``."""
        s = self.facts.get(param)
        if s == INT:
            return ()  # a Python int broadcasts as a 0-d array
        return s if isinstance(s, tuple) else None

    def const(self, param: str) -> object:
        """The value of the constant operand ``param`` (a number, None, a tuple of them),
        or NOT_CONSTANT."""
        e = self.ops.get(param)
        if isinstance(e, ast.Constant):
            return e.value
        if isinstance(e, ast.Tuple) and all(isinstance(x, ast.Constant) for x in e.elts):
            return tuple(x.value for x in e.elts)
        return NOT_CONSTANT

    def index(self, param: str) -> object:
        """An index with the same effect on shapes as the subscript ``param``, or
        NOT_CONSTANT (see :func:`index_value`)."""
        return index_value(self.ops[param], self.shapes)

    def numpy(self, fn: object, param: str, *args: object) -> Shape | None:
        """The shape of ``fn(a, *args)`` for an array ``a`` of operand ``param``'s shape;
        None when a shape or an argument is unknown, or when numpy refuses the
        arguments (the program then fails at run time with numpy's error)."""
        a = self.leaf(param)
        if a is None or any(x is NOT_CONSTANT for x in args):
            return None
        try:
            # only numpy's own argument checks can fail here
            return fn(_dummy(a), *args).shape
        except (ValueError, IndexError, TypeError):
            return None


def broadcast_shape(shapes: list[Shape]) -> Shape | None:
    """numpy's broadcast of ``shapes`` (None when they do not broadcast together)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            return None
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


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


def reduced_shape(a: Shape, axis: object, keepdims: object) -> Shape | None:
    """The shape of a reduction of an array of shape ``a`` over ``axis`` (None when
    ``axis`` is not a valid axis of ``a``)."""
    if axis is None:
        axes = set(range(len(a)))
    else:
        raw = axis if isinstance(axis, tuple) else (axis,)
        axes = set()
        for ax in raw:
            if type(ax) is not int or not -len(a) <= ax < len(a) or ax % len(a) in axes:
                return None
            axes.add(ax % len(a))
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(a))
    return tuple(n for i, n in enumerate(a) if i not in axes)


def _dummy(shape: Shape) -> np.ndarray:
    """A zero-cost array of ``shape`` (every element the same memory)."""
    return np.broadcast_to(np.zeros(()), shape)


def index_value(node: ast.expr, shapes: dict) -> object:
    """An index with the same effect on shapes as the subscript ``node``: constants as
    they are, and 0 for a Python int of unknown value (any in-range int selects the
    same shape); NOT_CONSTANT for anything else (an array, a name of unknown value)."""
    if isinstance(node, ast.Name):
        return 0 if shapes.get(node.id) == INT else NOT_CONSTANT
    if isinstance(node, ast.Constant):
        v = node.value
        if v is None or v is Ellipsis or type(v) is int:
            return v
        return NOT_CONSTANT
    if isinstance(node, ast.Slice):
        parts = [
            None if p is None else index_value(p, shapes)
            for p in (node.lower, node.upper, node.step)
        ]
        if any(p is NOT_CONSTANT for p in parts):
            return NOT_CONSTANT
        return slice(*parts)
    if isinstance(node, ast.Tuple):
        parts = [index_value(e, shapes) for e in node.elts]
        return NOT_CONSTANT if any(p is NOT_CONSTANT for p in parts) else tuple(parts)
    return NOT_CONSTANT


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
    if s in (float, int, bool, complex, np.number):
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


def infer(fn: Function, arg_shapes: tuple | None, helper: Callable | None = None) -> Facts:
    """Shape facts for every name of ``fn`` given the argument signature (None: nothing),
    with the values of its Python ints where known; ``helper`` gives the IR of a called
    user function (a ``CallPrim``), to follow the call into it."""
    if arg_shapes is None:
        return Facts({}, {})
    inference = ShapeInference(fn, arg_shapes, helper)
    return Facts(inference.run(), inference.values)


__all__ = ["LEAF", "general_signature", "infer", "signature_shapes"]
