"""What the reverse stage knows about the function it differentiates.

``Program`` bundles the normalized function with the facts computed about it
once: known shapes (``shapes.py``), activity (``analysis.py``), which names are
Python numbers rather than arrays, and the small questions every other module
asks (is this a scalar, a container, what is its shape).
"""

from __future__ import annotations

import ast

import numpy as np

from .. import runtime
from ..analysis import Activity
from ..ir import Assign, Function, If, Loop, walk
from ..rules.containers import LEAF
from ..shapes import INT


class Program:
    def __init__(
        self, fn: Function, wrt: list[str], arg_shapes, shapes: dict, act: Activity
    ) -> None:
        self.fn = fn
        self.wrt = wrt
        self.shapes = shapes  # shapes.infer's facts, computed by the pipeline
        self.act: Activity = act  # analysis.activity's result, computed by the pipeline
        # parameters passed as Python floats: their adjoints stay Python floats
        self.python_floats = {
            p for p, s in zip(fn.params, arg_shapes or (), strict=False) if s is float
        }
        self.forward_names, self.python_numbers = _python_numbers(fn, arg_shapes, shapes)

    def kind(self, x: str) -> object:
        return self.fn.kinds.get(x, LEAF)

    def is_scalar(self, x: str) -> bool:
        """Whether ``x`` provably holds a scalar (a number, not an array)."""
        return x in self.python_floats or x in self.fn.scalars or self.shapes.get(x) in ((), INT)

    def fact(self, expr: ast.expr) -> object:
        """What is known of an operand's shape (a shape, or a list/dict of facts), or None."""
        if isinstance(expr, ast.Constant):
            return () if isinstance(expr.value, int | float | complex) else None
        if isinstance(expr, ast.Name):
            return self.shapes.get(expr.id)
        return None

    def shape(self, expr: ast.expr) -> tuple | None:
        """The known shape of a leaf operand, or None."""
        if isinstance(expr, ast.Constant):
            return () if isinstance(expr.value, int | float | complex) else None
        if isinstance(expr, ast.Name):
            s = self.shapes.get(expr.id)
            if s == INT:
                return ()  # a Python int
            return s if isinstance(s, tuple) else None
        return None


_PYTHON_VALUED = {float, int, len, abs, round, max, min, sum}


def python_valued_call(func: ast.expr, namespace: dict) -> bool:
    """Whether a call of ``func`` may return a Python number: anything but numpy's
    functions and adcompile's own helpers (which return arrays or numpy scalars),
    except the scalar-arithmetic helpers."""
    if isinstance(func, ast.Name) and func.id.startswith("scalar_"):
        return True
    obj = resolve(func, namespace)
    if obj is None:
        return True
    module = getattr(obj, "__module__", None) or ""
    if any(obj is f for f in _PYTHON_VALUED) or module == "math":
        return True
    if isinstance(obj, np.ufunc) or module.startswith("numpy"):
        return False
    return module != runtime.__name__ and not module.startswith(runtime.__name__ + ".")


# the methods of an array that return Python objects
_PYTHON_METHODS = {"item", "tolist", "__len__", "__int__", "__float__", "__index__"}


def _array_method(func: ast.expr, shapes: dict) -> bool:
    """Whether ``func`` is a method (other than ``item``, ``tolist``) of a name that
    holds an array of known shape with at least one axis."""
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return False
    shape = shapes.get(func.value.id)
    return isinstance(shape, tuple) and len(shape) > 0 and func.attr not in _PYTHON_METHODS


def resolve(func: ast.expr, namespace: dict) -> object | None:
    if isinstance(func, ast.Name):
        return namespace.get(func.id)
    if isinstance(func, ast.Attribute):
        owner = resolve(func.value, namespace)
        return getattr(owner, func.attr, None) if owner is not None else None
    return None


def _python_numbers(fn: Function, arg_shapes, shapes: dict) -> tuple[set[str], set[str]]:
    """The names the forward program assigns, and those of them that may hold a
    Python number (not an array or numpy scalar): parameters passed as Python numbers
    or scalars, and what arithmetic, ``math`` functions and builtins make of them (not
    the methods of an array of known shape, ``a.sum()``, but ``a.item()``)."""
    known = set(fn.params)
    python = {
        p
        for p, s in zip(fn.params, arg_shapes or [None] * len(fn.params), strict=False)
        if s is None or s is float or s is np.number or s == ()
    }
    python |= {n for n, v in fn.globals.items() if isinstance(v, int | float)}
    known |= set(fn.globals)
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign):
            known.add(stmt.target)
        elif isinstance(stmt, If):
            known |= {target for target, _, _ in stmt.joins}
        elif isinstance(stmt, Loop):
            known |= {target for target, _, _ in stmt.carried}
            known |= {t for t in (stmt.target, stmt.count) if t}

    def number(e: ast.expr) -> bool:
        if isinstance(e, ast.Constant):
            return isinstance(e.value, int | float)
        if isinstance(e, ast.Name):
            return e.id in python or e.id not in known
        if isinstance(e, ast.BinOp):
            return number(e.left) and number(e.right)
        if isinstance(e, ast.UnaryOp):
            return number(e.operand)
        if isinstance(e, ast.Call):
            return not _array_method(e.func, shapes) and python_valued_call(e.func, fn.globals)
        if isinstance(e, ast.Attribute):
            return False
        return True

    def block(body: list) -> None:
        for stmt in body:
            if isinstance(stmt, Assign):
                if number(stmt.value):
                    python.add(stmt.target)
            elif isinstance(stmt, If):
                block(stmt.body)
                block(stmt.orelse)
                for target, a, b in stmt.joins:
                    if number(a) or number(b):
                        python.add(target)
            elif isinstance(stmt, Loop):
                python.update(t for t in (stmt.target, stmt.count) if t)
                for target, before, end in stmt.carried:
                    if number(before) or number(end):
                        python.add(target)
                block(stmt.body)

    # values carried round loops and joined after branches: to a fixed point
    size = -1
    while len(python) != size:
        size = len(python)
        block(fn.body)
    return known, python
