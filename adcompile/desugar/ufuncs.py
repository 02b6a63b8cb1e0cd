"""``np.add.at(a, index, v)`` as the in-place addition it is.

``np.add.at`` adds ``v`` into the elements of ``a`` that ``index`` selects, once for
each time it selects them (where ``a[index] += v`` adds once). That is ``a`` plus
``v`` scattered into zeros shaped like ``a`` (``unindex``, the adjoint of reading
``a[index]``, a primitive with its own rules): the statement becomes
``a += unindex(v, a, index)`` (``-=`` for ``np.subtract.at``), so an update of an array
the function owns, refused on an argument or a view of one as ``a += ...`` is
(``inplace/``).
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable

import numpy as np

from ..errors import AdCompileError
from ..frontend import SourceFunction
from ..runtime import unindex
from .common import SCOPES, Fresh, located

_OPS = {np.add: ast.Add, np.subtract: ast.Sub}


class UfuncAt:
    """Writes out the ``np.add.at`` statements of one function body."""

    def __init__(self, src: SourceFunction, fresh: Fresh, lookup: Callable) -> None:
        self.src = src
        self.fresh = fresh
        self.lookup = lookup
        self.made: dict[str, object] = {}  # the names introduced -> what they mean

    def ufunc_of(self, func: ast.expr) -> object:
        """The ufunc whose ``at`` method ``func`` is, or None."""
        if not (isinstance(func, ast.Attribute) and func.attr == "at"):
            return None
        path, node = [], func.value
        while isinstance(node, ast.Attribute):
            path.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        obj = self.lookup(node.id)
        for attr in reversed(path):
            if not isinstance(obj, types.ModuleType):
                return None
            obj = getattr(obj, attr, None)
        return obj if isinstance(obj, np.ufunc) else None

    def run(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in body:
            if isinstance(stmt, SCOPES):
                out.append(stmt)
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    setattr(stmt, field, self.run(inner))
            for handler in getattr(stmt, "handlers", ()):
                handler.body = self.run(handler.body)
            call = stmt.value if isinstance(stmt, ast.Expr) else None
            ufunc = self.ufunc_of(call.func) if isinstance(call, ast.Call) else None
            out.append(stmt if ufunc is None else self.written_out(stmt, call, ufunc))
        return out

    def written_out(self, stmt: ast.Expr, call: ast.Call, ufunc: np.ufunc) -> ast.stmt:
        label = f"np.{ufunc.__name__}.at"
        if ufunc not in _OPS:
            raise AdCompileError(
                f"{label} is not supported (only np.add.at and np.subtract.at are)",
                self.src.loc(call),
                hint="write the update with a loop over the indices: for i in idx: a[i] = a[i] * v",
            )
        if (
            len(call.args) != 3
            or call.keywords
            or any(isinstance(a, ast.Starred) for a in call.args)
        ):
            raise AdCompileError(
                f"{label} takes the array, the index and the values here",
                self.src.loc(call),
                hint=f"{label}(a, index, values)",
            )
        target, index, values = call.args
        if not isinstance(target, ast.Name):
            raise AdCompileError(
                f"{label} writes into its first argument, which must be a variable here",
                self.src.loc(target),
                hint=f"assign the array to a name first: b = ...; {label}(b, index, values)",
            )
        if isinstance(index, ast.List):  # (a list selects along the first axis)
            held = self.fresh("index_array", index)
            self.made[held] = np.asarray
            index = ast.Call(func=ast.Name(id=held, ctx=ast.Load()), args=[index], keywords=[])
        name = self.fresh("scatter_add", call)
        self.made[name] = unindex
        scatter = ast.Call(
            func=ast.Name(id=name, ctx=ast.Load()),
            args=[values, ast.Name(id=target.id, ctx=ast.Load()), index],
            keywords=[],
        )
        new = ast.AugAssign(
            target=ast.Name(id=target.id, ctx=ast.Store()), op=_OPS[ufunc](), value=scatter
        )
        return located(ast.copy_location(new, stmt), stmt)
