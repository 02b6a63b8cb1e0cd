"""Where the reverse sweep's statements go.

``Output`` is the list the reverse sweep is writing into, and the
``# line N:`` comments that name the source line each piece of code comes from.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager

from ..generated import note_line
from ..ir import Comment


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
        self.last_loc = note_line(loc, self.last_loc, out)

    def put(self, node: ast.stmt) -> None:
        """Emit a reverse-sweep statement, after comments naming the lines it comes from."""
        for loc in self.want:
            self.announce(loc, self.out)
        self.want = []
        self.out.append(node)
