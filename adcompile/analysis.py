"""Analyze: which values are active, i.e. need an adjoint.

A value is *varied* when it depends, through differentiable operands, on a
``wrt`` parameter, and *useful* when it reaches the result through
differentiable operands. Only values that are both (active) get adjoints;
everything else is a constant to the reverse sweep.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from . import rules
from .ir import Assign, Function, Return, names_in


@dataclass
class Activity:
    varied: set[str]
    useful: set[str]

    def active(self, name: str) -> bool:
        return name in self.varied and name in self.useful

    def active_expr(self, expr: ast.expr) -> bool:
        return any(self.active(n) for n in names_in(expr))


def differentiable_operands(stmt: Assign) -> dict[str, ast.expr]:
    """The operands of ``stmt`` whose rule gives them a contribution."""
    if stmt.prim is None:
        return {}
    rule = rules.lookup(stmt.prim)
    if rule is None:
        return {}
    return {p: e for p, e in stmt.operands.items() if rule.differentiable(p)}


def activity(fn: Function, wrt: list[str]) -> Activity:
    varied = set(wrt)
    for stmt in fn.body:
        if isinstance(stmt, Assign):
            for expr in differentiable_operands(stmt).values():
                if names_in(expr) & varied:
                    varied.add(stmt.target)
                    break
    useful: set[str] = set()
    for stmt in reversed(fn.body):
        if isinstance(stmt, Return):
            useful |= names_in(stmt.value)
        elif isinstance(stmt, Assign) and stmt.target in useful:
            for expr in differentiable_operands(stmt).values():
                useful |= names_in(expr)
    return Activity(varied=varied, useful=useful)
