"""Comprehensions as the loops they are.

``ys = [f(x) for x in xs if c(x)]`` becomes, just before its statement::

    items = []
    for x in xs:
        if c(x):
            items.append(f(x))
    ys = items

so that it is differentiated like any loop that appends. A generator expression
is lowered the same way where it is the one argument of ``sum``, ``list`` and the
other builtins that consume it whole (their value on the list is their value on
the generator). A comprehension variable whose name the function uses elsewhere
is renamed, since Python keeps it inside the comprehension.
"""

from __future__ import annotations

import ast
import builtins
import copy
from collections import Counter
from collections.abc import Callable

from ..errors import AdCompileError
from ..frontend import SourceFunction
from .common import COMPREHENSIONS, SCOPES, Fresh, located, name, own_nodes

# builtins whose value on a generator is their value on the list of its items
CONSUMERS = {"sum", "list", "tuple", "max", "min", "any", "all", "sorted"}
LAZY_HINT = (
    "compute the comprehension in a statement before this expression, or write the loop with an if"
)


class Comprehensions:
    """Lowers the comprehensions of one function body (not of nested functions,
    which are lowered when they are compiled themselves)."""

    def __init__(self, src: SourceFunction, fresh: Fresh, lookup: Callable) -> None:
        self.src = src
        self.fresh = fresh
        self.lookup = lookup
        self.root = src.node

    def error(self, message: str, node: ast.AST, hint: str | None = None) -> AdCompileError:
        return AdCompileError(message, self.src.loc(node), hint=hint)

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            if isinstance(stmt, SCOPES):
                out.append(stmt)
                continue
            stmt = copy.copy(stmt)
            if isinstance(stmt, ast.While):
                self.refuse_inside(stmt.test, "the condition of a while loop")
            for field in ("test", "iter", "value", "targets", "target", "msg", "exc", "items"):
                if field in ("test",) and isinstance(stmt, ast.While):
                    continue
                if hasattr(stmt, field) and getattr(stmt, field) is not None:
                    setattr(stmt, field, self.expression(getattr(stmt, field), out))
            for field in ("body", "orelse"):
                if isinstance(getattr(stmt, field, None), list):
                    setattr(stmt, field, self.block(getattr(stmt, field)))
            out.append(stmt)
        return out

    def refuse_inside(self, node: ast.AST, where: str) -> None:
        for n in own_nodes(node):
            if isinstance(n, COMPREHENSIONS):
                raise self.error(
                    f"a comprehension in {where} is not supported",
                    n,
                    hint="compute it in a statement before the loop and again at the end of "
                    "its body",
                )

    def expression(self, node, out: list[ast.stmt]):
        """``node`` with each comprehension in it replaced by the name of its list,
        the loops computing the lists appended to ``out``."""
        if isinstance(node, list):
            return [self.expression(n, out) for n in node]
        if not isinstance(node, ast.AST) or not any(
            isinstance(n, COMPREHENSIONS) for n in own_nodes(node)
        ):
            return node
        lowering = self

        class Replace(ast.NodeTransformer):
            def generic_visit(self, n):
                if isinstance(n, SCOPES):
                    return n
                return super().generic_visit(n)

            def visit_IfExp(self, n: ast.IfExp):
                for part in (n.body, n.orelse):
                    lowering.refuse_lazy(part, "a branch of a conditional expression")
                n.test = self.visit(n.test)
                return n

            def visit_BoolOp(self, n: ast.BoolOp):
                for part in n.values[1:]:
                    lowering.refuse_lazy(
                        part, f"the right operand of {type(n.op).__name__.lower()}"
                    )
                n.values[0] = self.visit(n.values[0])
                return n

            def visit_Call(self, n: ast.Call):
                if (
                    len(n.args) == 1
                    and not n.keywords
                    and isinstance(n.args[0], ast.GeneratorExp)
                    and lowering.consumer(n.func)
                ):
                    items = lowering.lower(n.args[0], out)
                    if n.func.id == "list":
                        return items
                    n.func = self.visit(n.func)
                    n.args = [items]
                    return n
                return self.generic_visit(n)

            def visit_GeneratorExp(self, n: ast.GeneratorExp):
                raise lowering.error(
                    "a generator expression is supported as the one argument of sum(), "
                    "list() and the builtins that consume it whole",
                    n,
                    hint="write a list comprehension [...] instead",
                )

            def visit_ListComp(self, n: ast.ListComp):
                return lowering.lower(n, out)

            def visit_DictComp(self, n: ast.DictComp):
                if lowering.unrollable(n):
                    return self.visit(lowering.unrolled(n))
                return lowering.lower(n, out)

        return Replace().visit(copy.deepcopy(node))

    def refuse_lazy(self, node: ast.AST, where: str) -> None:
        for n in own_nodes(node):
            if isinstance(n, COMPREHENSIONS):
                raise self.error(
                    f"a comprehension in {where} is not supported (Python computes it only "
                    "when that part is evaluated)",
                    n,
                    hint=LAZY_HINT,
                )

    def consumer(self, func: ast.expr) -> bool:
        if not isinstance(func, ast.Name) or func.id not in CONSUMERS:
            return False
        if func.id in self.local_names():
            return False
        return self.lookup(func.id) is getattr(builtins, func.id)

    def local_names(self) -> set[str]:
        if not hasattr(self, "_locals"):
            fn = self.root
            self._locals = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)} | {
                n.id
                for n in ast.walk(fn)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
        return self._locals

    def lower(
        self, comp: ast.ListComp | ast.GeneratorExp | ast.DictComp, out: list[ast.stmt]
    ) -> ast.Name:
        """Append the loops computing ``comp``'s list (or dict) to ``out``; its name. A
        dict grows by ``items = items | {key: value}``, a new dict each time, whose keys
        normalize must know when compiling (the loop is over a dict's keys or items, or
        other elements it knows, and unrolled)."""
        original = comp
        comp = self.renamed(comp)
        if isinstance(comp, ast.DictComp):
            items = self.fresh("items", original)
            grown = ast.BinOp(
                left=name(items),
                op=ast.BitOr(),
                right=located(ast.Dict(keys=[comp.key], values=[comp.value]), comp),
            )
            grown.right.comprehension = True  # (its keys: see normalize's dict_display)
            inner: list[ast.stmt] = [ast.Assign(targets=[name(items, store=True)], value=grown)]
            empty: ast.expr = ast.Dict(keys=[], values=[])
        else:
            items = self.fresh("items", original)
            inner = [
                ast.Expr(
                    value=ast.Call(
                        func=ast.Attribute(value=name(items), attr="append", ctx=ast.Load()),
                        args=[comp.elt],
                        keywords=[],
                    )
                )
            ]
            empty = ast.List(elts=[], ctx=ast.Load())
        for gen in reversed(comp.generators):
            if gen.is_async:
                raise self.error("an async comprehension is not supported", comp)
            for cond in reversed(gen.ifs):
                inner = [ast.If(test=cond, body=inner, orelse=[])]
            inner = [ast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[])]
        start = ast.Assign(targets=[name(items, store=True)], value=empty)
        for stmt in [start, *inner]:
            located(stmt, comp)
        # the loops may hold comprehensions themselves (nested, or in a filter)
        out.extend(self.block([start, *inner]))
        return located(name(items), comp)

    def unrollable(self, comp: ast.DictComp) -> bool:
        """Whether ``comp`` runs over constant keys written here (see ``unrolled``)."""
        gen = comp.generators[0]
        return (
            len(comp.generators) == 1
            and not gen.ifs
            and not gen.is_async
            and isinstance(gen.target, ast.Name)
            and self.static_keys(comp) is not None
        )

    def unrolled(self, comp: ast.DictComp) -> ast.Dict:
        """``{k: f(k) for k in ("W", "b")}``: the dict display ``{"W": f("W"), "b": f("b")}``.
        A dict's keys are part of its structure, which adcompile follows when it compiles:
        they must be known then, so the comprehension runs over a tuple or list of
        constants (written there, or a module-level one) or a range of constants."""
        keys = self.static_keys(comp) if len(comp.generators) == 1 else None
        gen = comp.generators[0]
        if keys is None or gen.ifs or gen.is_async or not isinstance(gen.target, ast.Name):
            raise self.error(
                "a dict comprehension is supported over constant keys only (a tuple or list "
                "of constants, a module-level one, or range(n)), with one for and no if",
                comp,
                hint="write the dict out ({'W': ..., 'b': ...}), or build it outside the "
                "differentiated function and pass it in",
            )
        var = gen.target.id

        class Bind(ast.NodeTransformer):
            def __init__(self, key: object) -> None:
                self.key = key

            def visit_Name(self, n: ast.Name):
                if n.id == var and isinstance(n.ctx, ast.Load):
                    return ast.copy_location(ast.Constant(value=self.key), n)
                return n

        out_keys = [Bind(k).visit(copy.deepcopy(comp.key)) for k in keys]
        values = [Bind(k).visit(copy.deepcopy(comp.value)) for k in keys]
        return located(ast.Dict(keys=out_keys, values=values), comp)

    def static_keys(self, comp: ast.DictComp) -> list | None:
        it = comp.generators[0].iter
        if isinstance(it, ast.Tuple | ast.List):
            if all(isinstance(e, ast.Constant) for e in it.elts):
                return [e.value for e in it.elts]
            return None
        if isinstance(it, ast.Name) and it.id not in self.local_names():
            value = self.lookup(it.id)
            if isinstance(value, tuple | list) and all(isinstance(v, str | int) for v in value):
                return list(value)
            return None
        if (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "range"
            and it.func.id not in self.local_names()
            and self.lookup("range") is range
            and not it.keywords
            and all(isinstance(a, ast.Constant) and type(a.value) is int for a in it.args)
        ):
            return list(range(*(a.value for a in it.args)))
        return None

    def renamed(self, comp: ast.ListComp | ast.GeneratorExp | ast.DictComp) -> ast.AST:
        """``comp`` with each variable it binds renamed when the function uses the name
        elsewhere (Python keeps a comprehension's variables to itself)."""
        # (comp is a copy: a name is used elsewhere when the function has more of it)
        inside = Counter(n.id for n in ast.walk(comp) if isinstance(n, ast.Name))
        total = Counter(n.id for n in ast.walk(self.root) if isinstance(n, ast.Name))
        elsewhere = {k for k, c in total.items() if c > inside[k]} | {
            a.arg for a in ast.walk(self.root.args) if isinstance(a, ast.arg)
        }
        comp = copy.deepcopy(comp)
        for k, gen in enumerate(comp.generators):
            bound = {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
            for old in sorted(bound & elsewhere):
                new = self.fresh(old)
                # the scope of generator k's variables: its target and filters, the later
                # generators and the element (not its own iterable, evaluated before)
                results = [comp.key, comp.value] if isinstance(comp, ast.DictComp) else [comp.elt]
                parts = [gen.target, *gen.ifs, *comp.generators[k + 1 :], *results]
                for part in parts:
                    for n in ast.walk(part):
                        if isinstance(n, ast.Name) and n.id == old:
                            n.id = new
        return comp
