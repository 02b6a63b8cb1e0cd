"""What the parts of ``desugar`` share: fresh names, scopes, located copies."""

from __future__ import annotations

import ast

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class Fresh:
    """Names no identifier of the function uses (``items``, ``items_2``, ...)."""

    def __init__(self, node: ast.AST) -> None:
        self.used: set[str] = set()
        # each name made -> what the user wrote that it stands for (for messages)
        self.spelled: dict[str, str | ast.AST] = {}
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                self.used.add(n.id)
            elif isinstance(n, ast.arg):
                self.used.add(n.arg)
            elif isinstance(n, ast.FunctionDef):
                self.used.add(n.name)

    def __call__(self, base: str, spelled: str | ast.AST | None = None) -> str:
        name, i = base, 1
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        self.spelled[name] = base if spelled is None else spelled
        return name


def own_nodes(node: ast.AST, *, skip: tuple = SCOPES):
    """The nodes under ``node`` (itself included) that are not inside a nested scope
    of the kinds ``skip`` (a scope's own node is yielded, not its inside)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, skip):
            continue
        stack.extend(ast.iter_child_nodes(n))


def stored_names(stmts: list[ast.stmt]) -> set[str]:
    """The names the statements bind in their own scope (not in nested functions)."""
    out: set[str] = set()
    for stmt in stmts:
        for n in own_nodes(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
                out.add(n.id)
            elif isinstance(n, ast.FunctionDef | ast.ClassDef):
                out.add(n.name)
    return out


def located(new: ast.AST, old: ast.AST) -> ast.AST:
    """``new`` with every node in it placed at ``old`` (for messages)."""
    for n in ast.walk(new):
        if "lineno" in n._attributes:
            for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
                if getattr(n, attr, None) is None:
                    setattr(n, attr, getattr(old, attr, None))
    return new


def name(ident: str, store: bool = False) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Store() if store else ast.Load())
