"""Which names a function may read after a statement: an update that only names
never read again could see is as good as one on a new array."""

from __future__ import annotations

import ast


class Reads:
    """Where ``function`` reads each name last (``x += ...`` reads ``x``), and, once
    asked, every name each loop reads."""

    def __init__(self, function: ast.FunctionDef) -> None:
        self.last: dict[str, tuple[int, int]] = {}
        updated = {id(n.target) for n in ast.walk(function) if isinstance(n, ast.AugAssign)}
        for n in ast.walk(function):
            if isinstance(n, ast.Name):
                pos = (n.lineno, n.col_offset)
                reads = isinstance(n.ctx, ast.Load) or id(n) in updated
                if reads and pos > self.last.get(n.id, (0, 0)):
                    self.last[n.id] = pos
        self.in_loop: dict[int, set[str]] = {}

    def after(self, stmt: ast.stmt, loops: list[ast.stmt]) -> set[str]:
        """Names the function may read after ``stmt``: below it, or anywhere in one of
        the ``loops`` around it (which runs it again)."""
        end = (stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
        names = {n for n, pos in self.last.items() if pos > end}
        for loop in loops:
            if id(loop) not in self.in_loop:
                self.in_loop[id(loop)] = {
                    n.id
                    for n in ast.walk(loop)
                    if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)
                } | {
                    n.target.id
                    for n in ast.walk(loop)
                    if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)
                }
            names |= self.in_loop[id(loop)]
        return names
