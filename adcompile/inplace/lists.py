"""The identity of lists, for ``xs.append(v)`` (and ``extend``, ``insert``), which
``normalize`` turns into ``xs = xs + [v]``: a new list under the one name, the same
as Python's update in place only when nothing else can see the list."""

from __future__ import annotations

import ast
from collections.abc import Container

from ..errors import AdCompileError
from ..frontend import SourceFunction
from .values import State, is_site, site


class Lists:
    """The list checks of one function: ``iterating`` holds, per enclosing for loop
    (innermost last), the loop and the objects it iterates over, which the walk keeps
    current."""

    def __init__(self, src: SourceFunction, *, helper: bool) -> None:
        self.src = src
        self.helper = helper
        self.iterating: list[tuple[ast.For, set[str]]] = []

    def check_update(self, var: str, stmt: ast.Expr, state: State, later: Container[str]) -> None:
        """Refuse ``var.append(...)`` unless nothing but ``var`` can see the list
        (``later``: the names the function may read after ``stmt``).

        adcompile differentiates ``xs.append(v)`` as ``xs = xs + [v]``, a new list
        under the one name: the same as Python's update in place only when the list
        is the function's own (not an argument, a default, a global or part of one),
        no other name that is read again is bound to it, no container read again
        holds it, and no loop is iterating over it."""
        objs = state.points.get(var, frozenset())
        method = f"`{var}.{stmt.value.func.attr}(...)`"
        loc = self.src.loc(stmt)
        others = sorted(w for w, o in state.points.items() if w != var and w in later and o & objs)
        if others:
            raise AdCompileError(
                f"{var!r} and {others[0]!r} are the same list here, so {method} would "
                f"change {others[0]!r} too",
                loc,
                hint=f"give the list one name, or build {var} and {others[0]} as two lists",
            )
        holders = _holders(objs, state)
        seen_by = sorted(
            w for w, o in state.points.items() if w != var and w in later and o & holders
        )
        if seen_by:
            raise AdCompileError(
                f"the list {var!r} is held in {seen_by[0]!r} here, so {method} would change "
                f"what {seen_by[0]!r} holds too",
                loc,
                hint=f"finish {var} before putting it into {seen_by[0]}, or append to a new list",
            )
        for loop, iterated in self.iterating:
            if iterated & (objs | holders):
                what = repr(var) if iterated & objs else f"a list holding {var!r}"
                raise AdCompileError(
                    f"the loop at line {self.src.loc(loop).lineno} iterates over {what}, "
                    f"so {method} would change what it iterates over",
                    loc,
                    hint="append to another list in the loop, and combine the two after it",
                )
        outside = sorted(o for o in objs if not is_site(o))
        if outside:
            raise AdCompileError(
                f"{method} would change {outside[0]}; adcompile appends only to lists "
                "that the function makes itself",
                loc,
                hint="append to a list the function makes itself (ys = [] or ys = [a, b]), "
                "copying into it the elements you need"
                + (
                    "; or return the new elements and append them in the caller"
                    if self.helper and "caller passed" in outside[0]
                    else ""
                ),
            )

    def renew(self, stmt: ast.stmt, state: State) -> None:
        """The objects that ``stmt`` makes are new each time it runs: those it made on
        an earlier run (in a loop) become the 'old' objects of their place in the
        source, so that what holds or names them does not see the new ones."""
        if not state.contents:
            return  # nothing made has contents to renew (and no walk of stmt is needed)
        if isinstance(stmt, ast.If | ast.While):
            roots = [stmt.test]
        elif isinstance(stmt, ast.For):
            roots = [stmt.iter]
        else:
            roots = [stmt]
        # every object made so far has its contents recorded (see State.made)
        sites = {site(n) for r in roots for n in ast.walk(r)} & state.contents.keys()
        if not sites:
            return

        def old(objs: frozenset[str]) -> frozenset[str]:
            if objs.isdisjoint(sites):
                return objs
            return frozenset(f"old {o}" if o in sites else o for o in objs)

        state.points = {v: old(o) for v, o in state.points.items()}
        contents: dict[str, frozenset[str]] = {}
        for o, held in state.contents.items():
            key = f"old {o}" if o in sites else o
            contents[key] = contents.get(key, frozenset()) | old(held)
        state.contents = contents
        for _, iterated in self.iterating:
            for o in sites & iterated:
                iterated.discard(o)
                iterated.add(f"old {o}")


def _holders(objs: frozenset[str], state: State) -> set[str]:
    """The objects that hold any of ``objs``, however deep."""
    holders, todo = set(), list(objs)
    while todo:
        o = todo.pop()
        for p, held in state.contents.items():
            if o in held and p not in holders:
                holders.add(p)
                todo.append(p)
    return holders
