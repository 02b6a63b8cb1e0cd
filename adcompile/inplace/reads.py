"""Which names a function may read after a statement: an update that only names
never read again could see is as good as one on a new array."""

from __future__ import annotations

import ast
from collections.abc import Container


class Reads:
    """Where ``function`` reads each name last (``x += ...`` reads ``x``), and, once
    asked, every name each loop reads."""

    def __init__(self, function: ast.FunctionDef) -> None:
        self.last: dict[str, tuple[int, int]] = {}
        updated: set[int] = set()
        for n in ast.walk(function):  # breadth first: an x op= ... before its x
            if type(n) is ast.AugAssign:
                updated.add(id(n.target))
            elif type(n) is ast.Name:
                pos = (n.lineno, n.col_offset)
                reads = type(n.ctx) is ast.Load or id(n) in updated
                if reads and pos > self.last.get(n.id, (0, 0)):
                    self.last[n.id] = pos
        self.in_loop: dict[int, set[str]] = {}

    def after(self, stmt: ast.stmt, loops: list[ast.stmt]) -> Container[str]:
        """Names the function may read after ``stmt``: below it, or anywhere in one of
        the ``loops`` around it (which runs it again). Asked name by name, so that
        each update costs what it asks, not the number of names in the function."""
        end = (stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
        in_loops = [self._loop_reads(loop) for loop in loops]
        return _Later(self.last, end, in_loops)

    def _loop_reads(self, loop: ast.stmt) -> set[str]:
        if id(loop) not in self.in_loop:
            names = set()
            for n in ast.walk(loop):
                if type(n) is ast.Name and type(n.ctx) is not ast.Store:
                    names.add(n.id)
                elif type(n) is ast.AugAssign and type(n.target) is ast.Name:
                    names.add(n.target.id)
            self.in_loop[id(loop)] = names
        return self.in_loop[id(loop)]


class _Later:
    """The names read after a point: last read below ``end``, or read in a loop around it."""

    def __init__(self, last: dict, end: tuple[int, int], in_loops: list[set[str]]) -> None:
        self.last, self.end, self.in_loops = last, end, in_loops

    def __contains__(self, name: object) -> bool:
        return self.last.get(name, (0, 0)) > self.end or any(name in s for s in self.in_loops)
