"""``map(f, xs)`` as the generator expression it is: ``(f(x) for x in xs)``, and
``map(f, xs, ys)`` as ``(f(x, y) for x, y in zip(xs, ys))``, where ``sum``, ``list``
or another builtin consumes it whole (the comprehension pass then writes it out); any
other ``map`` is left as it is, and refused where it stands.

The function is called on each element in order, as ``map`` calls it. When it is a
``functools.partial`` made in the call (``map(partial(g, params), data)``), each
element's call is the call of ``g`` with the partial's arguments first, which are
names, attributes or constants: read for each element, they have the value the
partial kept. A ``lambda`` gives its parameters to the loop:
``map(lambda z: z ** 2, xs)`` is ``(z ** 2 for z in xs)``. A ``map`` of another
function is left as it is.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
from collections.abc import Callable

from .common import Fresh, located, name
from .comprehensions import CONSUMERS

_PURE = (ast.Name, ast.Attribute, ast.Constant)


class Maps(ast.NodeTransformer):
    """Writes out the ``map(...)`` calls of one function body."""

    def __init__(self, fresh: Fresh, lookup: Callable) -> None:
        self.fresh = fresh
        self.lookup = lookup

    def run(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return [self.visit(copy.deepcopy(stmt)) for stmt in body]

    def resolves_to(self, node: ast.expr, obj: object) -> bool:
        if isinstance(node, ast.Name):
            return self.lookup(node.id) is obj
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = self.lookup(node.value.id)
            return getattr(owner, node.attr, None) is obj
        return False

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in CONSUMERS
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Call)
        ):  # sum(map(f, xs)): consumed whole, as the comprehension pass writes it out
            node.args[0] = self.written_out(node.args[0])
        return node

    def written_out(self, node: ast.Call) -> ast.expr:
        """``map(f, ...)`` as its generator expression, or ``node`` itself."""
        if not (
            isinstance(node.func, ast.Name)
            and node.func.id == "map"
            and self.resolves_to(node.func, builtins.map)
            and len(node.args) >= 2
            and not node.keywords
            and not any(isinstance(a, ast.Starred) for a in node.args)
        ):
            return node
        f, iterables = node.args[0], node.args[1:]
        made = self.element_call(f, len(iterables))
        if made is None:
            return node
        targets, element = made
        target = targets[0] if len(targets) == 1 else ast.Tuple(elts=targets, ctx=ast.Store())
        source = (
            iterables[0]
            if len(iterables) == 1
            else ast.Call(func=name("zip"), args=list(iterables), keywords=[])
        )
        loop = ast.comprehension(target=target, iter=source, ifs=[], is_async=0)
        return located(ast.GeneratorExp(elt=element, generators=[loop]), node)

    def element_call(self, f: ast.expr, n: int) -> tuple[list[ast.Name], ast.expr] | None:
        """(the loop's targets, the expression for one element) of ``map(f, ...)`` over
        ``n`` iterables, or None when ``f`` is not a form written out here."""
        if isinstance(f, ast.Lambda):
            a = f.args
            if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults:
                return None
            if len(a.args) != n:
                return None
            return [name(p.arg, store=True) for p in a.args], f.body
        variables = [self.fresh("item", f) for _ in range(n)]
        given = [name(v) for v in variables]
        if isinstance(f, ast.Call) and self.resolves_to(f.func, functools.partial):
            if not f.args or any(isinstance(a, ast.Starred) for a in f.args):
                return None
            if any(k.arg is None for k in f.keywords):
                return None
            if not all(isinstance(e, _PURE) for e in [*f.args, *(k.value for k in f.keywords)]):
                return None
            call = ast.Call(func=f.args[0], args=[*f.args[1:], *given], keywords=f.keywords)
        elif isinstance(f, ast.Name | ast.Attribute):
            call = ast.Call(func=f, args=given, keywords=[])
        else:
            return None
        return [name(v, store=True) for v in variables], located(call, f)
