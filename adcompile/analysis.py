"""Analyze: which values are active, i.e. need an adjoint.

A value is *varied* when it depends, through differentiable operands, on a
``wrt`` parameter, and *useful* when it reaches the result through
differentiable operands. Only values that are both (active) get adjoints;
everything else is a constant to the reverse sweep. Loops are analysed to a
fixed point, since a value carried around a loop can become varied (or useful)
only after an iteration.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from . import rules
from .errors import AdCompileError
from .ir import Assign, Function, If, Loop, Return, Stmt, names_in, walk
from .rules import containers
from .rules.runtime_rules import FORWARD_ONLY


@dataclass
class Activity:
    varied: set[str]
    useful: set[str]

    def active(self, name: str) -> bool:
        return name in self.varied and name in self.useful

    def active_expr(self, expr: ast.expr) -> bool:
        return any(self.active(n) for n in names_in(expr))


def differentiable_operands(stmt: Assign) -> dict[str, ast.expr]:
    """The operands of ``stmt`` that receive a cotangent contribution."""
    prim = stmt.prim
    if prim is None:
        return {}
    differentiable = getattr(prim, "differentiable", None)
    if differentiable is not None:  # structural primitives and calls
        return {p: e for p, e in stmt.operands.items() if differentiable(p)}
    rule = rules.lookup(prim)
    if rule is None:
        return {}
    return {p: e for p, e in stmt.operands.items() if rule.differentiable(p)}


def _varied(body: list[Stmt], varied: set[str]) -> None:
    for stmt in body:
        if isinstance(stmt, Assign):
            for expr in differentiable_operands(stmt).values():
                if names_in(expr) & varied:
                    varied.add(stmt.target)
                    break
        elif isinstance(stmt, If):
            _varied(stmt.body, varied)
            _varied(stmt.orelse, varied)
            for join, a, b in stmt.joins:
                if (names_in(a) | names_in(b)) & varied:
                    varied.add(join)
        elif isinstance(stmt, Loop):
            while True:
                size = len(varied)
                for name, before, end in stmt.carried:
                    if (names_in(before) | names_in(end)) & varied:
                        varied.add(name)
                _varied(stmt.body, varied)
                if len(varied) == size:
                    break


def _useful(body: list[Stmt], useful: set[str]) -> None:
    for stmt in reversed(body):
        if isinstance(stmt, Return):
            useful |= names_in(stmt.value)
        elif isinstance(stmt, Assign):
            if stmt.target in useful:
                for expr in differentiable_operands(stmt).values():
                    useful |= names_in(expr)
        elif isinstance(stmt, If):
            for join, a, b in stmt.joins:
                if join in useful:
                    useful |= names_in(a) | names_in(b)
            _useful(stmt.body, useful)
            _useful(stmt.orelse, useful)
        elif isinstance(stmt, Loop):
            while True:
                size = len(useful)
                for name, before, end in stmt.carried:
                    if name in useful:
                        useful |= names_in(before) | names_in(end)
                _useful(stmt.body, useful)
                if len(useful) == size:
                    break


def activity(fn: Function, wrt: list[str]) -> Activity:
    varied = set(wrt)
    _varied(fn.body, varied)
    useful: set[str] = set()
    _useful(fn.body, useful)
    _check_constant_operands(fn.body, varied, useful)
    return Activity(varied=varied, useful=useful)


def _check_constant_operands(body: list[Stmt], varied: set[str], useful: set[str]) -> None:
    """Refuse a gradient that would flow through an operand whose derivative the
    primitive's rule does not give (its record's ``constant``): it is not zero."""
    for stmt in walk(body):
        if not isinstance(stmt, Assign) or stmt.target not in useful:
            continue
        record = rules.record_of(stmt.prim) if stmt.prim is not None else None
        for param in record.constant if record is not None else ():
            operand = stmt.operands.get(param)
            if operand is not None and names_in(operand) & varied:
                name = rules.lookup(stmt.prim).name
                raise AdCompileError(
                    f"{name} is not differentiated with respect to its argument {param}, "
                    "which here depends on a differentiated input",
                    stmt.loc,
                    hint=f"pass a {param} that does not depend on the inputs in wrt, or "
                    f"register a rule that differentiates {param}: see docs/custom-rules.md",
                )


def check_reverse(body: list[Stmt], act: Activity) -> None:
    """Refuse, in reverse mode, a varied and useful call of a runtime helper that only
    forward mode differentiates (the helpers that fill containers of adjoints, see
    rules/runtime_rules.py): the gradient of a gradient with container parameters."""
    for stmt in walk(body):
        if (
            isinstance(stmt, Assign)
            and stmt.target in act.useful
            and stmt.target in act.varied
            and id(stmt.prim) in FORWARD_ONLY
        ):
            name = rules.lookup(stmt.prim).name
            raise AdCompileError(
                f"the gradient of this gradient would go through {name}, which fills the "
                "adjoint of a list, tuple or dict parameter: reverse mode does not "
                "differentiate it",
                stmt.loc,
                hint="take the second derivative forward over reverse: ad.hvp(f) or "
                "ad.jvp(ad.grad(f)), which handle container parameters",
            )


def written_chain(body: list[Stmt], end: ast.expr, start: str) -> bool:
    """Whether the value ``end`` at the end of ``body`` is reached from ``start`` by
    element assignments alone (``x_2 = setitem(x_1, ...)``, loops of ``body`` that
    carry the array through such writes, and ifs whose two branches do), with at
    least one write."""
    n = _written_from(body, end)
    return n is not None and n[0] == start and n[1] > 0


def _written_from(body: list[Stmt], end: ast.expr) -> tuple[str, int] | None:
    """(the value ``end`` is reached from by writes alone in ``body``, how many steps),
    or None when something else makes it."""
    if not isinstance(end, ast.Name):
        return None
    defs = {s.target: s for s in body if isinstance(s, Assign)}
    loops = {c: (before, e, s) for s in body if isinstance(s, Loop) for c, before, e in s.carried}
    joins = {j: (a, b, s) for s in body if isinstance(s, If) for j, a, b in s.joins}
    n, steps = end.id, 0
    while True:
        if n in defs and defs[n].prim is containers.SETITEM:
            n = defs[n].operands["x"].id
        elif n in loops and isinstance(loops[n][0], ast.Name):
            before, inner_end, loop = loops[n]
            if not written_chain(loop.body, inner_end, n):
                return None
            n = before.id
        elif n in joins:
            a, b, branch = joins[n]
            ends = [_written_from(branch.body, a), _written_from(branch.orelse, b)]
            if None in ends or ends[0][0] != ends[1][0]:
                return None
            n = ends[0][0]
        else:
            return n, steps
        steps += 1
