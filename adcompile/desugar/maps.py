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

from .common import COMPREHENSIONS, SCOPES, Fresh, located, name
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
            node.args[0] = self.iterated(node.args[0])
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        """``for y in map(f, xs): body`` as ``for x in xs: y = f(x); body``: each call
        made when its iteration starts, as ``map`` makes it (also inside ``enumerate``
        and ``zip``)."""
        self.generic_visit(node)
        made = self.unmapped(node.iter, node.target)
        if made is None:
            return node
        source, target, assigns = made
        loop = copy.copy(node)
        loop.iter, loop.target = source, target
        loop.body = [*(located(a, node.iter) for a in assigns), *node.body]
        return loop

    def unmapped(
        self, source: ast.expr, target: ast.expr
    ) -> tuple[ast.expr, ast.expr, list[ast.stmt]] | None:
        """(the iterable, the loop's target, the assignments that start each iteration)
        of a loop over ``source`` whose ``map(...)`` calls are written out, or None when
        there are none (or ``target`` does not unpack them as they nest)."""
        if not isinstance(source, ast.Call):
            return None
        written = self.written_out(source, renamed=True)
        if written is not source:
            (loop,) = written.generators
            assign = ast.Assign(targets=[target], value=written.elt)
            return loop.iter, loop.target, [assign]
        inner = [
            (i, a)
            for i, a in enumerate(source.args)
            if self.resolves_to(source.func, builtins.zip)
            or (i == 0 and self.resolves_to(source.func, builtins.enumerate))
        ]
        if not inner or source.keywords and not self.resolves_to(source.func, enumerate):
            return None
        width = len(source.args) if self.resolves_to(source.func, builtins.zip) else 2
        if not isinstance(target, ast.Tuple | ast.List) or len(target.elts) != width:
            return None
        if any(isinstance(e, ast.Starred) for e in target.elts):
            return None
        args, elts, assigns = list(source.args), list(target.elts), []
        offset = 1 if self.resolves_to(source.func, builtins.enumerate) else 0
        for i, arg in inner:
            made = self.unmapped(arg, elts[i + offset])
            if made is not None:
                args[i], elts[i + offset], more = made
                assigns += more
        if not assigns:
            return None
        call = ast.Call(func=source.func, args=args, keywords=source.keywords)
        return located(call, source), ast.Tuple(elts=elts, ctx=ast.Store()), assigns

    def iterated(self, node: ast.expr) -> ast.expr:
        """``reversed(xs)``, ``zip(xs, ys)`` or ``enumerate(xs)``, consumed whole
        (``list(reversed(xs))``), as the generator expression of its items."""
        if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args):
            return node
        if self.resolves_to(node.func, builtins.reversed) and len(node.args) == 1:
            width = 1
        elif self.resolves_to(node.func, builtins.zip) and node.args and not node.keywords:
            width = len(node.args)
        elif self.resolves_to(node.func, builtins.enumerate) and node.args:
            width = 2
        else:
            return node
        items = [self.fresh("item", node) for _ in range(width)]
        if width == 1:
            target, element = name(items[0], store=True), name(items[0])
        else:
            target = ast.Tuple(elts=[name(i, store=True) for i in items], ctx=ast.Store())
            element = ast.Tuple(elts=[name(i) for i in items], ctx=ast.Load())
        loop = ast.comprehension(target=target, iter=node, ifs=[], is_async=0)
        return located(ast.GeneratorExp(elt=element, generators=[loop]), node)

    def written_out(self, node: ast.Call, renamed: bool = False) -> ast.expr:
        """``map(f, ...)`` as its generator expression, or ``node`` itself; ``renamed``:
        a lambda's parameters made fresh names (for a loop, whose variables, unlike a
        comprehension's, are the function's)."""
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
        made = self.element_call(f, len(iterables), renamed)
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

    def element_call(
        self, f: ast.expr, n: int, renamed: bool = False
    ) -> tuple[list[ast.Name], ast.expr] | None:
        """(the loop's targets, the expression for one element) of ``map(f, ...)`` over
        ``n`` iterables, or None when ``f`` is not a form written out here."""
        if isinstance(f, ast.Lambda):
            a = f.args
            if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults:
                return None
            if len(a.args) != n:
                return None
            if not renamed:
                return [name(p.arg, store=True) for p in a.args], f.body
            if any(isinstance(m, SCOPES + COMPREHENSIONS) for m in ast.walk(f.body)):
                return None  # (whose own variables could hide the parameters)
            fresh = {p.arg: self.fresh(p.arg, p) for p in a.args}
            body = copy.deepcopy(f.body)
            for m in ast.walk(body):
                if isinstance(m, ast.Name) and m.id in fresh:
                    m.id = fresh[m.id]
            return [name(v, store=True) for v in fresh.values()], body
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
