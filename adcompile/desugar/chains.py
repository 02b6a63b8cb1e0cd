"""Chained assignment, ``a = b = value``, as the assignments it makes: Python evaluates
``value`` once and binds it to each target, left to right, so every target holds the
same object. Written out: ``a = value`` then ``b = a`` when the first target is a
name, else ``t = value`` (a fresh name) then ``a = t``, ``b = t``. The targets alias
one object, as in Python, which the ownership pass sees (``a += 1`` on an array is
refused while ``b`` can see it)."""

from __future__ import annotations

import ast

from .common import Fresh, located, name


def unchained(body: list[ast.stmt], fresh: Fresh) -> list[ast.stmt]:
    """``body`` (and the blocks nested in it) with chained assignments written out."""
    out: list[ast.stmt] = []
    for stmt in body:
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                setattr(stmt, field, unchained(inner, fresh))
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) > 1):
            out.append(stmt)
            continue
        first = stmt.targets[0]
        if isinstance(first, ast.Name):
            held, rest = first.id, stmt.targets[1:]
            out.append(located(ast.Assign(targets=[first], value=stmt.value), stmt))
        else:
            held, rest = fresh("value", stmt.value), stmt.targets
            out.append(located(ast.Assign(targets=[name(held, True)], value=stmt.value), stmt))
        for target in rest:
            out.append(located(ast.Assign(targets=[target], value=name(held)), stmt))
    return out
