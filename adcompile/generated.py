"""The pieces generated code is built of, shared by the stages that write it
(``reverse`` and ``tangent``).

Node constructors (``name``, ``store``, ``call``, ``assign``); ``Namespace``, which
gives generated code its free names (numpy, the runtime helpers, what a rule
template calls) without clashing with the program's own variables; the ``# line
N:`` comments that name the source line code comes from; and the copies that end
a loop's iteration.
"""

from __future__ import annotations

import ast

import numpy as np

from . import runtime
from .ir import Comment, Loop, NameAllocator, names_in
from .origin import describe


def name(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Load())


def store(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Store())


def call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func=func, args=list(args), keywords=[])


def assign(target: str | ast.expr, value: ast.expr) -> ast.Assign:
    """``target = value``; ``target`` a name, or a target node (a tuple to unpack)."""
    return ast.Assign(targets=[store(target) if isinstance(target, str) else target], value=value)


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
        """The name under which generated code reaches a helper or module ``obj``
        (a template's free name ``ident``: two templates may mean different objects
        by one name, and then get two names)."""
        known = self.renames.get(ident)
        if known is not None and self.namespace.get(known) is obj:
            return known
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


def note_line(loc, last: str | None, out: list) -> str:
    """Append the comment naming ``loc``'s source line (``# line N: text``, see
    ``origin.describe``: for generated code differentiated again, the user's line it
    came from) to ``out`` unless ``last``, the previous comment, already says it;
    returns the comment now in force."""
    text = describe(loc)
    if last is None or text != last:
        out.append(Comment(text))
    return text


def carry(copies: list[tuple[str, ast.expr]]) -> list[ast.stmt]:
    """The copies that end a loop's iteration, ``c = end`` for each carried ``(c, end)``.
    They happen at once: an end may be another carried value's current one (``b, a =
    np.cos(a), b`` ends ``a`` with ``b``), which a copy before it would already have
    overwritten, so such copies are one tuple assignment."""
    copies = [(c, end) for c, end in copies if not current_is(end, c)]
    written: set[str] = set()
    for c, end in copies:
        if names_in(end) & written:
            targets = ast.Tuple(elts=[store(c) for c, _ in copies], ctx=ast.Store())
            values = ast.Tuple(elts=[end for _, end in copies], ctx=ast.Load())
            return [ast.Assign(targets=[targets], value=values)]
        written.add(c)
    return [assign(c, end) for c, end in copies]


def loop_statement(stmt: Loop, body: list[ast.stmt], stops: bool) -> ast.stmt:
    """The generated ``for`` or ``while`` of the IR loop ``stmt`` with ``body``; with
    ``stops``, an iteration after the loop's ``break`` (its exit flag set) ends the
    loop instead of doing nothing."""
    if stops:
        body = [ast.If(test=name(stmt.exit), body=[ast.Break()], orelse=[]), *body]
    body = body or [ast.Pass()]
    if stmt.test is not None:
        return ast.While(test=stmt.test, body=body, orelse=[])
    return ast.For(target=store(stmt.target), iter=stmt.iter, body=body, orelse=[])
