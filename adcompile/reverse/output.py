"""Emission bookkeeping: the names generated code uses, and where statements go.

``Namespace`` gives generated code its free names (numpy, the runtime helpers,
the functions a rule template calls) without clashing with the program's own
variables. ``Output`` is the list the reverse sweep is writing into, and the
``# line N:`` comments that name the source line each piece of code comes from.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager

import numpy as np

from .. import runtime
from ..ir import Comment, NameAllocator
from ..origin import describe


def name(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Load())


def store(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Store())


def call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func=func, args=list(args), keywords=[])


def assign(target: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[store(target)], value=value)


def current_is(expr: ast.expr | None, ident: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == ident


class Namespace:
    """The globals of the generated code, and the names it has taken.

    ``locals`` are the function's own variables (its parameters, everything its
    body assigns, and the names the transformation adds, such as saved lists),
    which a helper's name must not shadow."""

    def __init__(
        self, names: NameAllocator, globals_: dict[str, object], locals_: set[str]
    ) -> None:
        self.names = names
        self.namespace: dict[str, object] = dict(globals_)
        self.locals = locals_
        self.renames: dict[str, str] = {}  # template free name -> its name here

    def fresh(self, ident: str) -> str:
        return self.names.fresh(ident)

    def free_name(self, ident: str, obj: object) -> str:
        """The name under which generated code reaches a helper or module ``obj``."""
        if ident in self.renames:
            return self.renames[ident]
        taken = ident in self.locals or (
            ident in self.namespace and self.namespace[ident] is not obj
        )
        new = self.names.fresh(ident) if taken else ident
        self.namespace[new] = obj
        self.renames[ident] = new
        return new

    def helper(self, ident: str) -> ast.Name:
        return name(self.free_name(ident, runtime.HELPERS[ident]))

    def np_attr(self, attr: str) -> ast.expr:
        return ast.Attribute(value=name(self.free_name("np", np)), attr=attr, ctx=ast.Load())


class Output:
    """Where reverse-sweep statements go, each after comments naming its source lines.

    ``want`` holds the lines to name before the next statement: a statement's own
    line, or the lines of the pending adjoint expressions it writes out."""

    def __init__(self) -> None:
        self.out: list[ast.stmt | Comment] = []
        self.last_loc = None  # the line the last comment named
        self.want: list = []

    @contextmanager
    def into(self, out: list):
        """Emit into ``out`` (a branch's or a loop body's code) for a while."""
        saved = self.out, self.last_loc, self.want
        self.out, self.last_loc, self.want = out, None, list(self.want)
        try:
            yield out
        finally:
            self.out, self.last_loc, self.want = saved

    def comment(self, loc, out: list | None = None) -> None:
        """Name the source line of the code that follows: at once into ``out`` (the
        forward sweep), or, in the reverse sweep, before the next statement emitted."""
        if out is None:
            self.want = [loc]
            return
        self.announce(loc, out)

    def announce(self, loc, out: list) -> None:
        text = describe(loc)
        if self.last_loc is None or text != self.last_loc:
            out.append(Comment(text))
            self.last_loc = text  # (the comment, which names the line)

    def put(self, node: ast.stmt) -> None:
        """Emit a reverse-sweep statement, after comments naming the lines it comes from."""
        for loc in self.want:
            self.announce(loc, self.out)
        self.want = []
        self.out.append(node)
