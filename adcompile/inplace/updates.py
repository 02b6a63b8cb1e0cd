"""The checks of the statements that write into an array: ``x op= ...`` and
``x[i] = ...`` (``x[i] op= ...``), a part of the walk (``walk.Ownership``)."""

from __future__ import annotations

import ast

from ..errors import AdCompileError
from .values import NEW, NUMBER, State, is_computed_view, may_be_read_only


class Updates:
    """A part of ``walk.Ownership``: accepts or refuses each in-place update, and notes
    the parameters whose argument one writes into (``updates``) and the updates of
    arrays that may be read-only (``checks``)."""

    def augmented(self, stmt: ast.AugAssign, state: State) -> None:
        target = stmt.target
        if isinstance(target, ast.Subscript):
            self.exprs.value(stmt.value, state)
            self.element_update(stmt, target, state)
            return
        if not isinstance(target, ast.Name):
            return  # refused by the normalizer
        var = target.id
        if var in state.numbers:
            # an immutable number: Python's x op= ... binds x to a new value
            value = self.exprs.value(stmt.value, state)
            state.forget(var)
            state.bound(var, NUMBER if value.number else NEW, None)
            return
        self.never_writable(var, f"`{var} {symbol(stmt.op)}= ...`", stmt, state)
        later = self.reads.after(stmt, self.loop_nodes)
        seen = state.reach(frozenset({var})) - {var}
        unwritable = {m for m in seen if may_be_read_only(m)}
        # (an array Python made new, which the generated code rebinds: x = x op ...)
        seen -= unwritable | {m for m in seen if is_computed_view(m)}
        seen -= state.apart.get(var, frozenset())  # (a piece of one array beside var's)
        for m in seen:
            if m in self.arguments:
                update = (self.src.loc(stmt), symbol(stmt.op), var)
                self.updates.setdefault(self.arguments[m], update)
        seen = {m for m in seen if m not in self.arguments}
        direct = state.sharers(var)
        blocking = sorted(
            (m for m in seen if m not in self.locals or m in later),
            key=lambda m: (m in self.locals, m not in direct, m),
        )
        if blocking:
            op = symbol(stmt.op)
            other = blocking[0] if blocking[0] not in self.locals else repr(blocking[0])
            raise AdCompileError(
                f"{var!r} shares its memory with {other} here, so "
                f"`{var} {op}= ...` would change {other} too",
                self.src.loc(stmt),
                hint=f"write {var} = {var} {op} ... to make a new array",
            )
        self.accepted(var, stmt, bool(unwritable), state)
        value = self.exprs.value(stmt.value, state)
        if value.refers and isinstance(stmt.value, ast.List | ast.Tuple):
            state.hold(var, value, self.locals)  # xs += [a]: xs now holds a

    def element_update(
        self, stmt: ast.Assign | ast.AugAssign, target: ast.Subscript, state: State
    ) -> None:
        """``x[index] = v`` (or ``op=``) writes into ``x``'s memory, as Python does, so
        it is accepted only on an array the function owns: not an argument, a global
        or a caller's array, and shared with no name read later (a view, a container,
        another variable). Unlike ``x op= ...`` on an argument, which is differentiated
        as a new array, a write into an element can only mean the caller's array."""
        base = target.value
        if not isinstance(base, ast.Name):
            return  # refused by the fence
        var = base.id
        text = ast.unparse(target)
        op = "=" if isinstance(stmt, ast.Assign) else f"{symbol(stmt.op)}="
        copy_hint = f"make a copy the function owns first: {var} = {var}.copy()"
        if var not in self.locals:
            raise AdCompileError(
                f"`{text} {op} ...` would change the global {var!r}",
                self.src.loc(stmt),
                hint=f"pass {var} in as an argument and {copy_hint}",
            )
        self.never_writable(var, f"`{text} {op} ...`", stmt, state)
        later = self.reads.after(stmt, self.loop_nodes)
        seen = state.reach(frozenset({var})) - {var}
        unwritable = {m for m in seen if may_be_read_only(m)}
        seen -= unwritable | state.apart.get(var, frozenset())
        views = sorted(m for m in seen if is_computed_view(m))
        if views:
            raise AdCompileError(
                f"{var!r} holds {views[0]} of its inputs (Python's is a new array), "
                f"so adcompile cannot write `{text} {op} ...` into it",
                self.src.loc(stmt),
                hint=copy_hint,
            )
        outside = sorted(m for m in seen if m not in self.locals)
        if outside:
            raise AdCompileError(
                f"{var!r} shares its memory with {outside[0]} here, so "
                f"`{text} {op} ...` would change it too",
                self.src.loc(stmt),
                hint=copy_hint,
            )
        direct = state.sharers(var)
        blocking = sorted((m for m in seen if m in later), key=lambda m: (m not in direct, m))
        if blocking:
            raise AdCompileError(
                f"{var!r} shares its memory with {blocking[0]!r} here, so "
                f"`{text} {op} ...` would change {blocking[0]!r} too",
                self.src.loc(stmt),
                hint=f"{copy_hint}, or {blocking[0]} = {blocking[0]}.copy() where it is made",
            )
        self.accepted(var, stmt, bool(unwritable), state)

    def accepted(self, var: str, stmt: ast.stmt, unwritable: bool, state: State) -> None:
        """After an accepted update of ``var``: its writability checked as it runs where
        it may be read-only (Python's error), and what shared its memory forgotten (none
        of it is read again: from here on ``var`` is as good as new)."""
        if unwritable:
            self.checks.add((stmt.lineno, stmt.col_offset))
        holds = state.holds.get(var, frozenset())
        state.forget(var)
        if holds:
            state.holds[var] = holds

    def never_writable(self, var: str, update: str, stmt: ast.stmt, state: State) -> None:
        """Refuse ``update`` of ``var`` when ``var`` certainly holds a read-only array:
        Python's would fail on every call (where it may be one, the update is checked
        when it runs instead)."""
        what = state.read_only.get(var)
        if what is not None:
            raise AdCompileError(
                f"{var!r} holds the read-only view {what} returns here, so {update} "
                "fails in Python too: numpy cannot write into it",
                self.src.loc(stmt),
                hint=f"make a copy that can be written first: {var} = {var}.copy()",
            )


def symbol(op: ast.operator) -> str:
    """``+`` for ast.Add(), and so on."""
    return ast.unparse(ast.BinOp(ast.Name("a"), op, ast.Name("b"))).split()[1]
