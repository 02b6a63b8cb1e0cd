"""Restructure control flow so every statement list has one way out.

A source-to-source pre-pass on the user's (fenced) AST, run by ``pipeline.py``
before ``normalize``:

* an early ``return`` inside ``if`` moves the statements after the ``if`` into
  the branch that does not return, so every path ends in a ``return``;
* ``continue`` is handled the same way within a loop body;
* ``break`` becomes a flag: ``broke = True`` ends the iteration, the loop body is
  guarded by ``if not broke`` (``for``) or the test gains ``not broke and``
  (``while``). Iterations after a break then do nothing, which keeps the
  reverse sweep a plain reverse loop.

The result uses only ``if``/``for``/``while`` with no ``break``/``continue``, and
``return`` only at the end of paths.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from dataclasses import dataclass

from .errors import AdCompileError
from .frontend import SourceFunction


def _contains(node: ast.AST | list, kind: type) -> bool:
    """Whether ``node`` holds a ``kind`` statement of its own level: a ``break`` or
    ``continue`` inside a nested loop belongs to that loop and does not count."""
    stack = list(node) if isinstance(node, list) else [node]
    while stack:
        n = stack.pop()
        if isinstance(n, kind):
            return True
        if isinstance(n, ast.For | ast.While) and kind is not ast.Return:
            continue
        stack.extend(_nested(n))
    return False


def _nested(stmt: ast.AST) -> list[ast.stmt]:
    """The statements directly inside ``stmt`` (expressions hold none)."""
    return [*getattr(stmt, "body", ()), *getattr(stmt, "orelse", ())]


def _statements(stmts: list[ast.stmt]):
    """Every statement in ``stmts``, nested ones included."""
    stack = list(stmts)
    while stack:
        stmt = stack.pop()
        yield stmt
        stack.extend(_nested(stmt))


def _tail(stmts: list[ast.stmt], kind: type) -> list[ast.stmt]:
    """Make every path through ``stmts`` end in a ``kind`` statement where one exits
    early, moving the statements that follow an exiting ``if`` into its other branch."""
    out: list[ast.stmt] = []
    for i, stmt in enumerate(stmts):
        if isinstance(stmt, kind):
            out.append(stmt)
            return out
        if isinstance(stmt, ast.If) and _contains(stmt, kind):
            rest = stmts[i + 1 :]
            new = copy.copy(stmt)
            new.body = _tail(list(stmt.body) + _fresh(rest), kind)
            new.orelse = _tail(list(stmt.orelse) + _fresh(rest), kind)
            out.append(new)
            return out
        out.append(stmt)
    return out


def _fresh(stmts: list[ast.stmt]) -> list[ast.stmt]:
    return [copy.deepcopy(s) for s in stmts]


def _strip(stmts: list[ast.stmt], kind: type) -> list[ast.stmt]:
    """Drop ``kind`` statements that end paths (after :func:`_tail`)."""
    out = []
    for stmt in stmts:
        if isinstance(stmt, kind):
            continue
        if isinstance(stmt, ast.If):
            stmt = copy.copy(stmt)
            stmt.body = _strip(stmt.body, kind) or [ast.Pass()]
            stmt.orelse = _strip(stmt.orelse, kind)
        out.append(stmt)
    return out


@dataclass
class Restructured:
    """The function's body with one way out of every statement list, and, for each
    ``for`` loop that had a ``break``, the flag that the break sets (by id of the
    new loop node), so that the generated forward loop can stop there; ``variables``
    are the names it introduced (the flags), the only ones its body assigns that the
    function's text does not."""

    body: list[ast.stmt]
    break_flags: dict[int, str]
    variables: set[str]


def restructure(src: SourceFunction, fresh: Callable[[str], str]) -> Restructured:
    """Restructure the body of the fenced ``src``; ``fresh`` names new variables (flags)."""
    r = Restructurer(src, fresh)
    body = r.function(src.node.body)
    return Restructured(body=body, break_flags=r.break_flags, variables=r.variables)


class Restructurer:
    def __init__(self, src: SourceFunction, fresh: Callable[[str], str]) -> None:
        self.src = src
        self.new_name = fresh
        self.variables: set[str] = set()  # the names it introduces
        # for loops with a break: id of the new loop node -> the flag that break sets,
        # so that the generated forward loop can stop there instead of idling on
        self.break_flags: dict[int, str] = {}

    def fresh(self, base: str) -> str:
        name = self.new_name(base)
        self.variables.add(name)
        return name

    def function(self, body: list[ast.stmt]) -> list[ast.stmt]:
        for node in _statements(body):
            if isinstance(node, ast.With):
                for inner in _statements(node.body):
                    if isinstance(inner, ast.Return | ast.Break | ast.Continue):
                        raise AdCompileError(
                            f"{type(inner).__name__.lower()} inside a with block is not supported",
                            self.src.loc(inner),
                            hint="assign the result to a variable and leave the with block "
                            "at its end",
                        )
            if isinstance(node, ast.For | ast.While):
                for inner in _statements(node.body):
                    if isinstance(inner, ast.Return):
                        raise AdCompileError(
                            "return inside a loop is not supported",
                            self.src.loc(inner),
                            hint="assign the result to a variable, break, and return it "
                            "after the loop",
                        )
                if node.orelse:
                    raise AdCompileError(
                        "a loop with an else clause is not supported",
                        self.src.loc(node),
                        hint="use a flag variable instead of the loop's else",
                    )
        return self.block(_tail(body, ast.Return))

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in stmts:
            if isinstance(stmt, ast.If):
                stmt = copy.copy(stmt)
                stmt.body = self.block(stmt.body)
                stmt.orelse = self.block(stmt.orelse)
            elif isinstance(stmt, ast.For | ast.While):
                stmt = self.loop(stmt)
                if isinstance(stmt, list):
                    out.extend(stmt)
                    continue
            elif isinstance(stmt, ast.With):
                stmt = copy.copy(stmt)
                stmt.body = self.block(stmt.body)
            elif isinstance(stmt, ast.Break | ast.Continue):
                raise AdCompileError(
                    f"{type(stmt).__name__.lower()} outside a loop", self.src.loc(stmt)
                )
            out.append(stmt)
        return out

    def loop(self, loop: ast.For | ast.While) -> ast.stmt | list[ast.stmt]:
        body = list(loop.body)
        prefix: list[ast.stmt] = []
        if _contains(body, ast.Break):
            flag = self.fresh("broke")
            body = self._breaks(body, flag)
            init = ast.Assign(targets=[_name(flag, ast.Store())], value=ast.Constant(False))
            prefix.append(ast.copy_location(init, loop))
            not_broke = ast.UnaryOp(op=ast.Not(), operand=_name(flag))
            if isinstance(loop, ast.While):
                loop = copy.copy(loop)
                loop.test = ast.BoolOp(op=ast.And(), values=[not_broke, loop.test])
                ast.copy_location(loop.test, loop)
            else:
                guard = ast.If(test=not_broke, body=body, orelse=[])
                body = [ast.copy_location(guard, loop)]
        if _contains(body, ast.Continue):
            body = _strip(_tail(body, ast.Continue), ast.Continue)
        new = copy.copy(loop)
        new.body = self.block(body) or [ast.Pass()]
        ast.fix_missing_locations(new)
        if prefix and isinstance(new, ast.For):
            self.break_flags[id(new)] = flag
        return [*prefix, new] if prefix else new

    def _breaks(self, stmts: list[ast.stmt], flag: str) -> list[ast.stmt]:
        """``break`` -> ``flag = True`` followed by the end of the iteration."""

        def replace(stmts: list[ast.stmt]) -> list[ast.stmt]:
            out = []
            for stmt in stmts:
                if isinstance(stmt, ast.Break):
                    set_flag = ast.Assign(
                        targets=[_name(flag, ast.Store())], value=ast.Constant(True)
                    )
                    out.append(ast.copy_location(set_flag, stmt))
                    out.append(ast.copy_location(ast.Continue(), stmt))
                    continue
                if isinstance(stmt, ast.If):
                    stmt = copy.copy(stmt)
                    stmt.body = replace(stmt.body)
                    stmt.orelse = replace(stmt.orelse)
                out.append(stmt)
            return out

        return replace(stmts)


def _name(ident: str, ctx: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(id=ident, ctx=ctx or ast.Load())
