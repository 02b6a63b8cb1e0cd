"""Calls of user functions in ``if`` and ``while`` conditions, computed first.

``if ok(x): ...`` becomes ``cond = ok(x)`` then ``if cond: ...``, and
``while more(x): ...`` computes its condition before the loop and again at the
end of each iteration (which a ``break`` skips, as Python does), so the call is
an ordinary statement, differentiated through the function's pullback.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable

from ..errors import AdCompileError
from ..names import is_helper
from .common import SCOPES, Fresh, located, name, own_nodes


class Conditions:
    def __init__(self, src, fresh: Fresh, lookup: Callable, local: set[str]) -> None:
        self.src = src
        self.fresh = fresh
        self.lookup = lookup
        self.local = local

    def calls_user_function(self, test: ast.expr) -> bool:
        for n in own_nodes(test):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
                if n.func.id not in self.local and is_helper(self.lookup(n.func.id)):
                    return True
        return False

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            if isinstance(stmt, SCOPES):
                out.append(stmt)
                continue
            stmt = copy.copy(stmt)
            for field in ("body", "orelse"):
                if isinstance(getattr(stmt, field, None), list):
                    setattr(stmt, field, self.block(getattr(stmt, field)))
            if isinstance(stmt, ast.If | ast.While) and self.calls_user_function(stmt.test):
                cond = self.fresh("cond", stmt.test)
                compute = located(
                    ast.Assign(targets=[name(cond, store=True)], value=stmt.test), stmt.test
                )
                if isinstance(stmt, ast.While):
                    if _continues(stmt.body):
                        raise AdCompileError(
                            "a call of a user function in the condition of a while loop "
                            "with continue is not supported",
                            self.src.loc(stmt.test),
                            hint="compute the condition in a variable before the loop and "
                            "again before each continue and at the end of the body",
                        )
                    stmt.body = [*stmt.body, copy.deepcopy(compute)]
                out.append(compute)
                stmt.test = located(name(cond), stmt.test)
            out.append(stmt)
        return out


def _continues(stmts: list[ast.stmt]) -> bool:
    for stmt in stmts:
        if isinstance(stmt, ast.Continue):
            return True
        if isinstance(stmt, ast.If) and _continues(stmt.body + stmt.orelse):
            return True
    return False
