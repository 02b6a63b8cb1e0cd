"""Tuples concatenated (``args + (x,)``, ``(a, b) + rest``) and dicts displayed
(``{"W": W, "b": b}``, ``dict(W=W)``, the unrolled dict comprehension): containers
whose structure is known when compiling, built element by element; and the static
expressions (shapes, sizes and static tuples, ``x.shape + (1,)``), kept whole."""

from __future__ import annotations

import ast

import numpy as np

from ..names import CONSTANT_ATTRIBUTES
from ..rules import containers
from .common import _copy_atom, _is_int_name


class Displays:
    """A part of ``Normalizer``: tuple concatenation, dict displays and static
    expressions."""

    def is_static(self, node: ast.expr) -> bool:
        """Whether ``node`` has no derivative whatever its inputs: shapes and sizes of
        arrays and arithmetic on them (``x.shape[0] - 1``, ``len(xs)``). Such
        expressions stay whole, as one statement."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, int | bool)
        if isinstance(node, ast.Attribute):
            return node.attr in CONSTANT_ATTRIBUTES and node.attr != "dtype"
        if isinstance(node, ast.Subscript):
            return self.is_static(node.value) and (
                self.is_static(node.slice) or _is_int_name(node.slice, self)
            )
        if isinstance(node, ast.BinOp):  # one frame per operator: long sums are deep
            if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv):
                return False
            left = self.is_static(node.left) or self.static_tuple(node.left)
            if not left and not _is_int_name(node.left, self):
                return False
            right = self.is_static(node.right) or self.static_tuple(node.right)
            return (right or _is_int_name(node.right, self)) and (left or right)
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, ast.USub) and self.is_static(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            is_len = node.func.id not in self.locals and self.resolver.lookup(node.func.id) is len
            if is_len and len(node.args) == 1 and isinstance(node.args[0], ast.Name):
                if node.args[0].id in self.env:  # (a dataclass has no len)
                    self.not_a_dataclass(self.env[node.args[0].id], node.args[0])
            return is_len
        return False

    def index_expression(self, node: ast.expr) -> ast.expr | None:
        """The subscript inside ``np.s_[...]`` (an index written as a value, as generated
        code passes one to ``unindex``), or None for any other expression."""
        if isinstance(node, ast.Subscript) and self.static_object(node.value) is np.s_:
            self.record_globals(node.value)
            return node.slice
        return None

    def static_tuple(self, node: ast.expr) -> bool:
        """A tuple of static values (``(1,)`` in ``x.shape + (1,)``)."""
        return isinstance(node, ast.Tuple) and all(
            self.is_static(e) or _is_int_name(e, self) for e in node.elts
        )

    @staticmethod
    def tuple_operand(node: ast.expr) -> bool:
        return isinstance(node, ast.Tuple) and not any(
            isinstance(e, ast.Starred) for e in node.elts
        )

    def tuple_concatenation(self, node: ast.BinOp, left, right, hint: str):
        """``a + b`` of two tuples (``args + (x,)``, ``(a, b) + rest``): the tuple of
        their elements; None when it is not one. ``left`` is the list of the atoms of a
        tuple display, or an atom."""
        parts = []
        for atom in (left, right):
            if isinstance(atom, list):
                parts.append(atom)
                continue
            kind = self.kind(atom)
            if not (isinstance(atom, ast.Name) and isinstance(kind, tuple) and kind[0] == "tuple"):
                return None
            parts.append(None)
        elts = []
        for side, atom, part in ((node.left, left, parts[0]), (node.right, right, parts[1])):
            if part is None:
                part = [self.element(atom, i, side, hint) for i in range(len(self.kind(atom)[1]))]
            elts += part
        value = ast.Tuple(elts=[_copy_atom(e) for e in elts], ctx=ast.Load())
        return value, containers.BUILD_TUPLE, {f"e{i}": e for i, e in enumerate(elts)}, False

    def list_extension(self, node: ast.BinOp, left, hint: str):
        """``xs + [a, b]`` of a list ``xs``: a new list, ``xs`` with ``a`` and ``b``
        appended (the way generated code writes ``xs.append(a)``, which a derivative
        of generated code reads again); None when it is not one."""
        if not (
            isinstance(node.op, ast.Add)
            and isinstance(left, ast.Name)
            and isinstance(node.right, ast.List)
            and node.right.elts
            and not any(isinstance(e, ast.Starred) for e in node.right.elts)
        ):
            return None
        kind = self.kind(left)
        if (
            not (isinstance(kind, tuple) and kind[0] == "list")
            and self.kinds.get(left.id) != "empty"
        ):
            return None
        atoms = [self.atom(e, hint) for e in node.right.elts]
        c = left
        for x in atoms[:-1]:
            value = ast.BinOp(
                left=_copy_atom(c),
                op=ast.Add(),
                right=ast.List(elts=[_copy_atom(x)], ctx=ast.Load()),
            )
            c = self.computed(value, containers.APPEND, {"c": _copy_atom(c), "x": x}, node, hint)
        x = atoms[-1]
        value = ast.BinOp(
            left=_copy_atom(c), op=ast.Add(), right=ast.List(elts=[_copy_atom(x)], ctx=ast.Load())
        )
        return value, containers.APPEND, {"c": _copy_atom(c), "x": x}, False

    def dict_display(self, keys: list, values: list, node: ast.AST, hint: str):
        """``{"a": x, "b": y}`` (or ``dict(a=x, b=y)``): a dict whose keys are constants
        (or operations on constants, as a dict comprehension's keys may be)."""
        keys = [self.known_key(_folded(k)) for k in keys]
        for k in keys:
            if getattr(node, "comprehension", False) and not isinstance(k, ast.Constant):
                raise self.error(
                    "the keys of this dict comprehension are known only when the function "
                    "runs: adcompile follows a dict's structure when it compiles, so its "
                    "keys must be known then",
                    node,
                    hint="run it over constant keys (a tuple of constants, range(n)) or over "
                    "a dict's keys or items ({k: f(v) for k, v in params.items()}), or "
                    "write the dict out",
                )
            if not isinstance(k, ast.Constant) or isinstance(k.value, bytes):
                text = "**-unpacking" if k is None else self.src.text_of(k)
                raise self.error(
                    f"the key {text} of this dict is not a constant: adcompile follows a "
                    "dict's structure when it compiles, so its keys must be known then",
                    k if k is not None else node,
                    hint="use constant keys ({'W': W, 'b': b}), or a list or tuple",
                )
        atoms = [self.atom(v, hint) for v in values]  # in order, as Python evaluates them
        last = dict(zip((k.value for k in keys), atoms, strict=True))  # a repeated key: the last
        unique, elts = list(last), list(last.values())
        value = ast.Dict(keys=[ast.Constant(k) for k in unique], values=elts)
        prim = containers.build_dict(tuple(unique))
        return value, prim, {f"e{i}": e for i, e in enumerate(elts)}, False

    def known_key(self, key: ast.expr | None) -> ast.expr | None:
        """A key as a constant when a variable holds one known when compiling (a key of
        an unrolled loop over a dict, see views.py), else as written."""
        if isinstance(key, ast.Name) and key.id in self.locals and key.id in self.env:
            atom = self.env[key.id]
            if isinstance(atom, ast.Constant) and not isinstance(atom.value, bytes):
                return ast.copy_location(ast.Constant(value=atom.value), key)
        return key

    def meshgrid(self, node: ast.Call, hint: str):
        """``np.meshgrid(x0, x1, ..., indexing="xy", sparse=False)`` as the tuple of
        broadcasts it is: each input flattened, reshaped to lie along its axis of the
        grid (the first two swapped for ``"xy"``) and broadcast to the grid's shape
        (left as it is with ``sparse=True``), so each is differentiated through those
        steps. A grid written into is refused where it is (a broadcast is a view)."""
        options = {"indexing": "xy", "sparse": False, "copy": True}
        for k in node.keywords:
            if k.arg not in options or not isinstance(k.value, ast.Constant):
                raise self.error(
                    f"np.meshgrid's {k.arg or '**'}= must be written as a constant here",
                    node,
                    hint='np.meshgrid(x, y, indexing="ij", sparse=False)',
                )
            options[k.arg] = k.value.value
        if options["indexing"] not in ("xy", "ij") or any(
            isinstance(a, ast.Starred) for a in node.args
        ):
            raise self.error(
                "np.meshgrid takes its inputs one by one and indexing 'xy' or 'ij' here",
                node,
                hint="np.meshgrid(x, y, indexing='ij')",
            )
        numpy = "np"  # (the module's own name for numpy, when it has one)
        if self.resolver.find(ast.Name(id=numpy, ctx=ast.Load())) is not np:
            numpy = self.names.fresh("numpy")
            self.resolver.found[numpy] = np
        self.globals[numpy] = np

        def np_call(name: str, *args: ast.expr) -> ast.Call:
            func = ast.Attribute(value=ast.Name(id=numpy, ctx=ast.Load()), attr=name)
            return ast.Call(func=func, args=list(args), keywords=[])

        inputs = []
        for a in node.args:  # each evaluated once, in order, as Python does
            held = self.names.fresh("grid_input")
            self.locals.add(held)
            self.env[held] = self.atom(a, hint)
            self.spelling[held] = a
            inputs.append(ast.Name(id=held, ctx=ast.Load()))
        n = len(inputs)
        axes = list(range(n))
        if options["indexing"] == "xy" and n > 1:
            axes[0], axes[1] = 1, 0
        shape = [None] * n
        for i, x in enumerate(inputs):
            shape[axes[i]] = np_call("size", x)
        grids = []
        for i, x in enumerate(inputs):
            along = [ast.Constant(1)] * n
            along[axes[i]] = ast.Constant(-1)
            grid = np_call("reshape", np_call("ravel", x), ast.Tuple(elts=along, ctx=ast.Load()))
            if not options["sparse"]:
                grid = np_call("broadcast_to", grid, ast.Tuple(elts=shape, ctx=ast.Load()))
            grids.append(grid)
        made = ast.Tuple(elts=grids, ctx=ast.Load())
        for n_ in ast.walk(made):
            if "lineno" in n_._attributes:
                ast.copy_location(n_, node)
        return self.primitive(made, hint)


def _folded(node: ast.expr | None) -> ast.expr | None:
    """``node`` as a constant when it is an operation on constants only (``"W" + "_1"``,
    ``2 * 3``), else itself."""
    if node is None or isinstance(node, ast.Constant):
        return node
    if not all(
        isinstance(n, ast.Constant | ast.BinOp | ast.UnaryOp | ast.operator | ast.unaryop)
        for n in ast.walk(node)
    ):
        return node
    try:
        value = eval(compile(ast.Expression(body=node), "<key>", "eval"), {"__builtins__": {}})
    except Exception:  # (the operation fails in Python too: left for the refusal)
        return node
    if not isinstance(value, str | int | float | bool | tuple):
        return node
    return ast.copy_location(ast.Constant(value=value), node)
