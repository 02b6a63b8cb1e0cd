"""Values known when compiling that the normalizer follows through names: the
elements of list and tuple displays and the values of dict displays (``note_built``,
so that ``a | b`` of dicts and loops over keys or slices can use them), ``slice(...)``
objects (an index of one is that slice), and the dict methods and builtins over them
(``d.keys()``, ``d.values()``, ``d.items()``, ``d.get``, ``list(...)``, ``sum(...)``)."""

from __future__ import annotations

import ast

import numpy as np

from ..rules import containers
from ..rules.containers import LEAF
from .common import _copy_atom
from .kinds import _described


class Known:
    """A part of ``Normalizer``: what displays hold, slices, dict methods and ``sum``."""

    def note_built(self, target: str, value: ast.expr, prim, operands: dict) -> None:
        """Remember the element atoms of a list or tuple display (``sequences``, whose
        elements loops may know when compiling) and the value atoms of a dict display
        (``dict_parts``, which ``a | b`` reuses), and the parts of a ``slice(...)``
        (``slices``: an index of it is that slice); a name is assigned once, so what it
        holds stays so."""
        if getattr(value, "dict_view", False):
            self.views.add(target)
        if prim is None and self.is_slice_call(value):
            parts = list(value.args) + [None] * (3 - len(value.args))
            self.slices[target] = ast.Slice(
                *(_copy_atom(p) if p is not None else None for p in parts)
            )
        if prim is containers.BUILD_LIST or prim is containers.BUILD_TUPLE:
            self.sequences[target] = [operands[f"e{i}"] for i in range(len(operands))]
        elif isinstance(prim, containers.BuildDict):
            self.dict_parts[target] = {k: operands[f"e{i}"] for i, k in enumerate(prim.keys)}
        elif prim is containers.APPEND:
            before = self.sequence_of(operands["c"])
            if before is not None:
                self.sequences[target] = [*before, operands["x"]]

    def sequence_of(self, atom: ast.expr) -> list[ast.expr] | None:
        """The element atoms of a list or tuple made by a display (or appends to one), or
        None."""
        if isinstance(atom, ast.Name):
            return self.sequences.get(atom.id)
        return None

    def is_slice_call(self, value: ast.expr) -> bool:
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and self.globals.get(value.func.id) is slice
        )

    def static_element(self, node: ast.expr) -> ast.expr | None:
        """The atom of ``xs[i]`` for a constant ``i`` when ``xs`` is a list or tuple of
        keys or slices known when compiling (``k = keys[0]``, ``s = slices[1]``), which
        stays known; None for any other expression. Reading such a list at a position
        known only when the function runs is refused (the element could be a slice,
        which would change what indexing with it means)."""
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
            return None
        if node.value.id not in self.locals or node.value.id not in self.env:
            return None
        self.not_a_view(self.env[node.value.id], node)
        parts = self.sequence_of(self.env[node.value.id])
        if parts is None or not any(self.static_atom(a) for a in parts):
            return None
        index = node.slice
        if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
            index = (
                ast.Constant(-index.operand.value)
                if isinstance(index.operand, ast.Constant)
                else index
            )
        if isinstance(index, ast.Name) and index.id in self.locals:
            index = self.env.get(index.id, index)
        if isinstance(index, ast.Constant) and type(index.value) is int:
            if -len(parts) <= index.value < len(parts):
                return _copy_atom(parts[index.value])
            return None  # (Python's IndexError, when the code runs)
        if any(isinstance(a, ast.Name) and a.id in self.slices for a in parts):
            raise self.error(
                f"{self.src.text_of(node.value)} holds slices, and this reads one at a "
                "position known only when the function runs",
                node,
                hint=f"iterate over the slices (for s in {self.src.text_of(node.value)}: "
                "... x[s]), or index with a constant",
            )
        return None

    def not_a_view(self, base: ast.expr, node: ast.Subscript) -> None:
        """Refuse indexing a dict view (``d.values()[0]``), as Python does."""
        if isinstance(base, ast.Name) and base.id in self.views:
            text = self.src.text_of(node.value)
            raise self.error(
                f"{text} is a dict's view (.keys(), .values() or .items()), which cannot "
                "be indexed",
                node,
                hint="make a list of it first: list(d.values())[0]",
            )

    def holds_slice(self, atom: ast.expr) -> bool:
        """Whether ``atom`` is a ``slice(...)`` object, or a list, tuple or dict display
        holding one."""
        if not isinstance(atom, ast.Name):
            return False
        if atom.id in self.slices:
            return True
        parts = list(self.sequences.get(atom.id, ())) + list(
            self.dict_parts.get(atom.id, {}).values()
        )
        return any(self.holds_slice(p) for p in parts)

    def one_slice(
        self, atoms: list[ast.expr], node: ast.AST, var: str | None = None, callee: str = ""
    ) -> None:
        """Refuse a value that is one of several slices, chosen when the code runs (an
        if's branches, a loop's iterations), or a slice passed to another function:
        adcompile indexes with a ``slice(...)`` object where it knows which one it is, and
        elsewhere a slice could not be told from an int index (``xs[s]`` is a list for
        a slice and an element for an int)."""
        if not any(self.holds_slice(a) for a in atoms):
            return
        if callee:
            reason = (
                f"a slice(...) object is passed to {callee}(): adcompile indexes with a "
                "slice object only in the function that makes it"
            )
        else:
            reason = (
                f"{repr(var) if var else 'this value'} is one of several slice(...) objects, "
                "chosen when the code runs: adcompile indexes with a slice object only "
                "where it knows which one it is"
            )
        raise self.error(
            reason,
            node,
            hint="write the slice in each index (x[a:b]), or pass its bounds as ints and "
            "make the slice where it is used",
        )

    def slice_call(self, node: ast.Call, hint: str):
        """``slice(a, b, c)`` as a value (``s = slice(1, 3); x[s]``): its bounds are
        ints or None, never differentiated; an index of it is that slice."""
        if node.keywords or not 1 <= len(node.args) <= 3:
            raise self.error("slice() takes one to three bounds", node)
        parts = [self.atom(a, hint) for a in node.args]
        for p, a in zip(parts, node.args, strict=True):
            if isinstance(p, ast.Constant) and (p.value is None or type(p.value) is int):
                continue
            if isinstance(p, ast.Name) and p.id in self.constants:
                continue
            raise self.error(
                f"the bound {self.src.text_of(a)} of slice() must be an int or None",
                a,
                hint="bound slices with ints: constants, sizes (len(xs), x.shape[0]) or "
                "loop counters",
            )
        if len(parts) == 1:
            parts = [ast.Constant(None), parts[0]]
        self.globals["slice"] = slice
        value = ast.Call(func=ast.Name(id="slice", ctx=ast.Load()), args=parts, keywords=[])
        return value, None, {}, False

    def displayed(self, node: ast.expr) -> bool:
        """A variable holding a list, tuple or view made by a display here."""
        return (
            isinstance(node, ast.Name)
            and node.id in self.locals
            and node.id in self.env
            and self.sequence_of(self.env[node.id]) is not None
        )

    def listed(self, node: ast.Call, made: type, hint: str):
        """``list(...)`` or ``tuple(...)`` of elements known when compiling."""
        arg = node.args[0]
        if self.has_static_leaf(arg):
            atoms = [self.atom(e, hint) for e in self.iteration_elements(arg)]
        else:
            atoms = [_copy_atom(a) for a in self.sequence_of(self.name(arg))]
        if made is list:
            value = ast.List(elts=[_copy_atom(a) for a in atoms], ctx=ast.Load())
            prim = containers.BUILD_LIST
        else:
            value = ast.Tuple(elts=[_copy_atom(a) for a in atoms], ctx=ast.Load())
            prim = containers.BUILD_TUPLE
        return value, prim, {f"e{i}": a for i, a in enumerate(atoms)}, False

    # ------------------------------------------------------------ dict methods

    def dict_method(self, node: ast.Call, func: ast.Attribute, hint: str):
        """``d.keys()``, ``d.values()``, ``d.items()`` as values (a tuple of the
        elements, which a loop, ``list``, ``sum`` or ``zip`` reads), and ``d.get``."""
        base = self.atom(func.value, hint)
        if func.attr == "get":
            return self.dict_get(node, base, hint)
        if node.args or node.keywords:
            raise self.error(f".{func.attr}() takes no argument", node)
        atoms = [self.atom(e, hint) for e in self.view_elements(base, func.attr, node)]
        value = ast.Tuple(elts=[_copy_atom(a) for a in atoms], ctx=ast.Load())
        value.dict_view = True  # (a view: not indexable, see not_a_view)
        return value, containers.BUILD_TUPLE, {f"e{i}": a for i, a in enumerate(atoms)}, False

    def dict_get(self, node: ast.Call, base: ast.expr, hint: str):
        """``d.get(key)`` and ``d.get(key, default)`` with a key known when compiling: the
        element, or the default (None without one) when the dict has no such key. The
        default is evaluated either way, as Python evaluates an argument."""
        self.dict_kind(base, node.func.value, "get")
        if node.keywords or len(node.args) not in (1, 2):
            raise self.error(".get() takes a key and a default", node)
        key = self.atom(node.args[0], hint)
        default = self.atom(node.args[1], hint) if len(node.args) == 2 else ast.Constant(None)
        if not isinstance(key, ast.Constant):
            raise self.error(
                f"the key {self.src.text_of(node.args[0])} of .get() is not a constant: "
                "adcompile follows a dict's structure when it compiles, so the key must be "
                "known then",
                node.args[0],
                hint="write the key as a constant (d.get('W', w0)), or loop over the dict's "
                "keys (for k in d: ... d.get(k))",
            )
        kind = self.kind(base)
        if any(k == key.value for k, _ in kind[1]):
            value = ast.Subscript(value=_copy_atom(base), slice=key, ctx=ast.Load())
            return value, containers.GET, {"c": _copy_atom(base), "index": key}, False
        if isinstance(default, ast.Constant):
            return default, None, {}, isinstance(default.value, int | float)
        return default, np.positive, {"x": default}, self.is_scalar(default)

    def not_a_dict_update(self, target: ast.Name, stmt: ast.AugAssign) -> None:
        """Refuse ``d |= ...`` on a dict: Python updates the dict in place, which every
        other name for it (an argument's caller) would see; ``d = d | ...`` is new."""
        atom = self.env.get(target.id) if target.id in self.locals else None
        kind = self.kind(atom) if atom is not None else LEAF
        if kind != LEAF and kind[0] == "dict":
            raise self.error(
                f"`{target.id} {_OPERATORS.get(type(stmt.op), 'op')}= ...` would update the "
                f"dict {target.id!r} in place (for every name bound to it, a caller's "
                "too); adcompile makes new dicts only",
                stmt,
                hint=f"make a new dict instead: {target.id} = {target.id} | {{...}}",
            )

    def dict_union(self, left: ast.expr, right: ast.expr, node: ast.BinOp):
        """``a | b`` of two dicts: ``a``'s keys then ``b``'s new ones, each with ``b``'s
        value where both have it (Python's order), as a dict display."""
        parts = {}
        for atom, side in ((left, node.left), (right, node.right)):
            kind = self.kind(atom)
            if kind == LEAF or kind[0] != "dict":
                raise self.error(
                    f"{self.src.text_of(side)} is {_described(kind, one=True)}: `|` joins "
                    "two dicts here",
                    side,
                    hint="join dicts (a | b), or use np.logical_or for arrays of bools",
                )
            known = self.dict_parts.get(atom.id) if isinstance(atom, ast.Name) else None
            for key, _ in kind[1]:
                if known is not None:
                    parts[key] = known[key]
                    continue
                index = ast.Constant(key)
                value = ast.Subscript(value=_copy_atom(atom), slice=index, ctx=ast.Load())
                parts[key] = self.computed(
                    value, containers.GET, {"c": _copy_atom(atom), "index": index}, side, "value"
                )
        keys = list(parts)
        elts = [_copy_atom(parts[k]) for k in keys]
        value = ast.Dict(keys=[ast.Constant(k) for k in keys], values=elts)
        prim = containers.build_dict(tuple(keys))
        return value, prim, {f"e{i}": e for i, e in enumerate(elts)}, False

    def sum_call(self, node: ast.Call, args: list, keywords: list, hint: str):
        """``sum(xs)`` and ``sum(xs, start)`` of a list, tuple or dict view (a list
        display included): Python's ``start + xs[0] + xs[1] + ...``, start 0."""
        if len(args) not in (1, 2) or any(k != "start" for k, _ in keywords):
            raise self.error("sum() takes a list and a start here", node)
        if len(args) == 2 or keywords:
            start = args[1] if len(args) == 2 else keywords[0][1]
        else:
            start = None
        c = args[0]
        if isinstance(c, ast.Tuple):  # a list display: made first
            c = self.computed(
                ast.List(elts=[_copy_atom(e) for e in c.elts], ctx=ast.Load()),
                containers.BUILD_LIST,
                {f"e{i}": e for i, e in enumerate(c.elts)},
                node.args[0],
                hint,
            )
        kind = self.kind(c)
        if not containers.is_container(kind) or kind[0] == "dict":
            what = _described(kind, one=True)
            raise self.error(
                f"sum() of {what} is not supported",
                node,
                hint="use np.sum(x) for arrays"
                if kind == LEAF
                else "sum the values: sum(d.values())",
            )
        operands = {"c": c}
        call_args = [_copy_atom(c)]
        if start is not None:
            operands["start"] = start
            call_args.append(_copy_atom(start))
        value = ast.Call(func=ast.Name(id="sum", ctx=ast.Load()), args=call_args, keywords=[])
        self.globals["sum"] = sum
        return value, containers.SUM, operands, False


_OPERATORS = {ast.BitOr: "|", ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
