"""Which ``x[index] = v`` the forward sweep may do in ``x``'s own memory.

Normalization gives the array after a write a new name (``x_2 = setitem(x_1, i, v)``),
but the forward sweep does what Python does: it writes into the array, so ``x_1``,
``x_2`` and every view taken of them are one memory. That is exactly the function's
own computation (the ownership pass made sure no name read later sees the write),
and it costs the size of ``v``, not of ``x``. What it can break is the reverse sweep,
which runs after the whole forward sweep and reads values the forward computed: a
value it reads must still hold, then, what it held when the forward computed it.

So, for each value the reverse sweep reads (not only for its shape, which a write
never changes), if a write may have changed its memory after it was computed (a
write later in the function, or anywhere in a loop that computes it again each
iteration), one of two things makes it safe:

* the value is a view computed from the array (``x[i]``, ``x.T``, a reshape): the
  forward sweep takes a copy of it where it is computed (a *snapshot*, the size of
  the view); or
* otherwise (it is one of the array's versions itself), each write that may change it
  copies the array first (``x_2 = x_1.copy(); x_2[i] = v``), and the writes after
  that copy write into the copy.

Which values may share memory is a union of names over every statement that may
hand back its operand's memory (a write, a view, a plain copy of the name, a
join, a loop's carried value); a primitive whose record says it returns a new array
separates. The decision repeats until nothing changes (each round only adds copies).
"""

from __future__ import annotations

import ast

import numpy as np

from .. import runtime
from ..ir import Assign, If, Loop, Stmt, names_in
from ..rules import containers, registry
from ..rules.containers import LEAF

# runtime helpers and numpy functions that read an argument only for its shape and
# dtype: (object, positions of such arguments)
_SHAPE_ONLY_HELPERS = {
    runtime.unindex: (1,),
    runtime.unbroadcast: (1,),
    runtime.unreduce: (1,),
    runtime.zero_like: (0,),
    runtime.writable_adjoint: (1,),
    runtime.assigned_part: (2,),
    runtime.unit_cotangent: (0,),
}
_SHAPE_ONLY_NUMPY = {"zeros_like", "ones_like", "shape", "ndim", "size", "empty_like"}
_SHAPE_ATTRIBUTES = {"shape", "ndim", "size", "dtype"}


def reads_and_writes(code: list, namespace: dict) -> tuple[set[str], set[str], set[str]]:
    """The names ``code`` reads, those it assigns (loop targets and unpacked tuples
    included), and those it reads for their values (not only for their shape): one walk."""
    read: set[str] = set()
    written: set[str] = set()
    value: set[str] = set()

    def visit(node: ast.AST) -> None:
        kind = type(node)
        if kind is ast.Name:
            ctx = type(node.ctx)
            if ctx is ast.Load:
                read.add(node.id)
                value.add(node.id)
            elif ctx is ast.Store:
                written.add(node.id)
            return
        if kind is ast.Attribute and node.attr in _SHAPE_ATTRIBUTES:
            if type(node.value) is ast.Name:
                shape_only(node.value)
                return
        if kind is ast.Call:
            skip = _shape_only(node, namespace)
            visit(node.func)
            for i, a in enumerate(node.args):
                if i in skip and type(a) is ast.Name:
                    shape_only(a)
                else:
                    visit(a)
            for k in node.keywords:
                visit(k.value)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    def shape_only(node: ast.Name) -> None:
        if type(node.ctx) is ast.Load:
            read.add(node.id)

    for stmt in code:
        if isinstance(stmt, ast.AST):
            visit(stmt)
    return read, written, value


def _shape_only(node: ast.Call, namespace: dict) -> tuple[int, ...]:
    func = node.func
    if type(func) is ast.Name:
        for obj, positions in _SHAPE_ONLY_HELPERS.items():
            if namespace.get(func.id) is obj:
                return positions
        if namespace.get(func.id) is len:
            return (0,)
        return ()
    if (
        type(func) is ast.Attribute
        and type(func.value) is ast.Name
        and namespace.get(func.value.id) is np
        and func.attr in _SHAPE_ONLY_NUMPY
    ):
        return (0,)
    return ()


class _Def:
    """Where a value is computed: its place in the function's order, and the loops
    that compute it again each iteration."""

    def __init__(self, pos: int, loops: tuple[int, ...]) -> None:
        self.pos = pos
        self.loops = loops


class Updates:
    """The decision for one function: ``copies`` (the targets of writes that copy the
    array first) and ``snapshots`` (views the forward sweep copies where it makes
    them). ``saved`` is ``Saving.saved`` (what each loop body's reverse reads), ``calls``
    ``Saving.call_saved`` (the saved values of calls)."""

    def __init__(
        self, body: list[Stmt], kinds: dict, reads: set[str], saved: dict, calls: dict
    ) -> None:
        self.copies: set[str] = set()
        self.snapshots: set[str] = set()
        self.writes: list[tuple[Assign, int, tuple[int, ...]]] = []
        self.defs: dict[str, _Def] = {}
        self.stmts: dict[str, Assign] = {}
        self.joins: list[tuple[str, ast.expr]] = []
        self.kinds = kinds
        self.saved = saved
        # a call's saved values (``y, y_saved = fwd_f(a)``) hold references to what the
        # called function made and was given, its result included
        self.calls = {target: entry[0] for target, entry in calls.items()}
        self.counter = 0
        self.scan(body, ())
        if not self.writes:
            return
        self.written = {s.operands["x"].id for s, _, _ in self.writes}
        self.decide(reads)

    # ------------------------------------------------------------ the facts

    def scan(self, body: list[Stmt], loops: tuple[int, ...]) -> None:
        for stmt in body:
            self.counter += 1
            if isinstance(stmt, Assign):
                self.defs[stmt.target] = _Def(self.counter, loops)
                self.stmts[stmt.target] = stmt
                saved = self.calls.get(stmt.target)
                if saved is not None:
                    self.defs[saved] = _Def(self.counter, loops)
                    self.joins.append((saved, ast.Name(id=stmt.target, ctx=ast.Load())))
                    self.joins += [(saved, e) for e in stmt.operands.values()]
                if stmt.prim is containers.SETITEM:
                    self.writes.append((stmt, self.counter, loops))
            elif isinstance(stmt, If):
                self.scan(stmt.body, loops)
                self.scan(stmt.orelse, loops)
                self.counter += 1
                for j, a, b in stmt.joins:
                    self.defs[j] = _Def(self.counter, loops)
                    self.joins += [(j, a), (j, b)]
            elif isinstance(stmt, Loop):
                inner = (*loops, id(stmt))
                # (a loop's target is an int: loops run over ranges)
                self.scan(stmt.body, inner)
                self.counter += 1
                per_iteration = set(self.saved.get(id(stmt.body), ()))
                for c, before, end in stmt.carried:
                    self.defs[c] = _Def(self.counter, inner if c in per_iteration else loops)
                    self.joins += [(c, before), (c, end)]

    def classes(self) -> dict[str, str]:
        """Each name's representative: names that may share memory have the same."""
        parent: dict[str, str] = {}

        def find(n: str) -> str:
            parent.setdefault(n, n)
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        def union(a: str, b: str) -> None:
            parent[find(a)] = find(b)

        for target, stmt in self.stmts.items():
            if stmt.prim is None or target in self.snapshots:
                continue
            if stmt.prim is containers.SETITEM:
                if target not in self.copies:
                    union(target, stmt.operands["x"].id)
                continue
            if not isinstance(stmt.value, ast.Name) and _fresh(stmt.prim):
                continue
            if isinstance(stmt.value, ast.Name):
                union(target, stmt.value.id)
                continue
            for p, operand in stmt.operands.items():
                if p != "index":  # an index array is read, never part of the result
                    for n in names_in(operand):
                        union(target, n)
        for j, atom in self.joins:
            for n in names_in(atom):
                union(j, n)
        return {n: find(n) for n in list(parent)}

    # ---------------------------------------------------------- the decision

    def decide(self, reads: set[str]) -> None:
        while True:
            cls = self.classes()
            changed = False
            for stmt, pos, loops in self.writes:
                if stmt.target in self.copies:
                    continue
                home = cls.get(stmt.operands["x"].id)
                for n in sorted(reads):
                    if cls.get(n) != home or n not in self.defs:
                        continue
                    d = self.defs[n]
                    if not (pos > d.pos or any(loop in loops for loop in d.loops)):
                        continue  # computed after this write, never again before it
                    if n not in self.snapshots and self.snapshottable(n):
                        self.snapshots.add(n)
                    else:
                        self.copies.add(stmt.target)
                    changed = True
                    break
                if changed:
                    break
            if not changed:
                return

    def snapshottable(self, n: str) -> bool:
        """Whether ``n`` is a view computed by a primitive, which a copy can replace
        (not an array that is itself written into)."""
        stmt = self.stmts.get(n)
        return (
            stmt is not None
            and n not in self.written
            and registry.record_of(stmt.prim) is not None  # a primitive, not a call
            and not _fresh(stmt.prim)
            and stmt.prim is not containers.SETITEM
            and not isinstance(stmt.prim, containers.ContainerPrim)
            and not isinstance(stmt.value, ast.Name)
            and self.kinds.get(n, LEAF) == LEAF
        )


def _fresh(prim: object) -> bool:
    record = registry.record_of(prim)
    return record is not None and bool(record.fresh)
