"""``functools.partial`` made inside the function, as the calls it stands for.

``sharp = functools.partial(softplus, W, k=s)`` keeps the values of ``W`` and ``s``
at that moment and ``sharp(x)`` calls ``softplus(W, x, k=s)`` with them. Written out:
the partial's arguments are assigned to fresh names where the partial is made
(``sharp_arg = W``, ``sharp_k = s``), and each call of ``sharp`` becomes the call of
``softplus`` with those names first (``softplus(sharp_arg, x, k=sharp_k)``; a keyword
given at the call wins over the partial's, as in Python). The variable must be
assigned once and only called; a partial passed on as a value is refused.
"""

from __future__ import annotations

import ast
import copy
import functools
from collections.abc import Callable

from ..errors import AdCompileError
from ..frontend import SourceFunction
from .common import Fresh, located, own_nodes

HINT = (
    "call it where it is needed (sharp(x)), or make the partial outside the function and pass it in"
)


class Partials:
    """Writes out the partials made in one function body."""

    def __init__(self, src: SourceFunction, fresh: Fresh, lookup: Callable) -> None:
        self.src = src
        self.fresh = fresh
        self.lookup = lookup

    def error(self, message: str, node: ast.AST, hint: str | None = None) -> AdCompileError:
        return AdCompileError(message, self.src.loc(node), hint=hint)

    def is_partial(self, func: ast.expr) -> bool:
        # (the name is checked first: each free name is resolved once, by the Resolver,
        # and a lookup here would resolve every called module again)
        if isinstance(func, ast.Name) and func.id == "partial":
            return self.lookup(func.id) is functools.partial
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "partial"
            and isinstance(func.value, ast.Name)
        ):
            return self.lookup(func.value.id) is functools
        return False

    def run(self, body: list[ast.stmt]) -> list[ast.stmt]:
        stores: dict[str, int] = {}
        found = False
        for stmt in body:
            for n in ast.walk(stmt):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    stores[n.id] = stores.get(n.id, 0) + 1
                found = found or isinstance(n, ast.Call) and self.is_partial(n.func)
        if not found:
            return body
        partials: dict[str, ast.Assign] = {}
        for stmt in body:
            for n in own_nodes(stmt):
                if not (isinstance(n, ast.Call) and self.is_partial(n.func)):
                    continue
                target = self.target_of(body, n)
                if target is None:
                    raise self.error(
                        "a functools.partial made here must be assigned to a name", n, hint=HINT
                    )
                if stores.get(target.targets[0].id, 0) != 1:
                    raise self.error(
                        f"{target.targets[0].id!r} holds a functools.partial and is assigned "
                        "more than once",
                        n,
                        hint="give each partial a name of its own",
                    )
                self.check_arguments(n)
                partials[target.targets[0].id] = target
        self.check_uses(body, set(partials))
        writer = _Writer(self, partials)
        out: list[ast.stmt] = []
        for stmt in body:
            new = writer.visit(copy.deepcopy(stmt))
            out += new if isinstance(new, list) else [new]
        return out

    def target_of(self, body: list[ast.stmt], call: ast.Call) -> ast.Assign | None:
        for stmt in body:
            for n in ast.walk(stmt):
                if (
                    isinstance(n, ast.Assign)
                    and n.value is call
                    and len(n.targets) == 1
                    and isinstance(n.targets[0], ast.Name)
                ):
                    return n
        return None

    def check_arguments(self, call: ast.Call) -> None:
        if not call.args:
            raise self.error("functools.partial needs the function it calls", call)
        for a in call.args:
            if isinstance(a, ast.Starred):
                raise self.error(
                    "star-arguments of functools.partial are not supported", a, hint=HINT
                )
        for k in call.keywords:
            if k.arg is None:
                raise self.error(
                    "**-arguments of functools.partial are not supported", k.value, hint=HINT
                )
        f = call.args[0]
        names = f.id if isinstance(f, ast.Name) else None
        if not isinstance(f, ast.Name | ast.Attribute) or names in _assigned_names(self.src):
            raise self.error(
                "the function of a functools.partial made here must be a function defined "
                "with def (or a numpy function), named directly",
                f,
                hint=HINT,
            )

    def check_uses(self, body: list[ast.stmt], names: set[str]) -> None:
        for stmt in body:
            called = {
                id(n.func)
                for n in ast.walk(stmt)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            }
            for n in ast.walk(stmt):
                if (
                    isinstance(n, ast.Name)
                    and n.id in names
                    and isinstance(n.ctx, ast.Load)
                    and id(n) not in called
                ):
                    raise self.error(
                        f"the functools.partial {n.id} made in {self.src.name} is used as a "
                        "value here; it is supported only where it is called",
                        n,
                        hint=HINT,
                    )


def _assigned_names(src: SourceFunction) -> set[str]:
    params = {a.arg for a in ast.walk(src.node.args) if isinstance(a, ast.arg)}
    stored = {
        n.id for n in ast.walk(src.node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    return params | stored


class _Writer(ast.NodeTransformer):
    def __init__(self, partials: Partials, made: dict[str, ast.Assign]) -> None:
        self.p = partials
        self.made = made
        # name -> (the function, the names of its positional arguments, its keywords)
        self.bound: dict[str, tuple[ast.expr, list[str], list[tuple[str, str]]]] = {}

    def visit_Assign(self, node: ast.Assign):
        target = node.targets[0] if len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and self.made.get(target.id) is not None:
            if _same(self.made[target.id], node):
                return self.written_out(target.id, node)
        return self.generic_visit(node)

    def written_out(self, name: str, node: ast.Assign) -> list[ast.stmt]:
        call = node.value
        out: list[ast.stmt] = []
        positional, named = [], []
        for i, a in enumerate(call.args[1:]):
            temp = self.p.fresh(f"{name}_arg{i}", a)
            out.append(_assign(temp, self.visit(a), node))
            positional.append(temp)
        for k in call.keywords:
            temp = self.p.fresh(f"{name}_{k.arg}", k.value)
            out.append(_assign(temp, self.visit(k.value), node))
            named.append((k.arg, temp))
        self.bound[name] = (call.args[0], positional, named)
        return out or [located(ast.Pass(), node)]

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.bound:
            f, positional, named = self.bound[node.func.id]
            given = {k.arg for k in node.keywords}
            args = [ast.Name(id=t, ctx=ast.Load()) for t in positional]
            keywords = [
                ast.keyword(arg=k, value=ast.Name(id=t, ctx=ast.Load()))
                for k, t in named
                if k not in given
            ]
            new = ast.Call(
                func=copy.deepcopy(f),
                args=[*args, *node.args],
                keywords=[*keywords, *node.keywords],
            )
            return ast.fix_missing_locations(ast.copy_location(new, node))
        return node


def _assign(name: str, value: ast.expr, where: ast.AST) -> ast.Assign:
    node = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)
    return ast.fix_missing_locations(ast.copy_location(node, where))


def _same(a: ast.AST, b: ast.AST) -> bool:
    return (a.lineno, a.col_offset) == (b.lineno, b.col_offset)
