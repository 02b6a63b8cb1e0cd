"""Nested functions and lambdas as helpers of their own (lambda lifting).

A function defined inside the differentiated one (``def act(z): ...`` or
``act = lambda z: ...``) and only called there becomes a helper like one at
module level: the outer function's variables it reads become extra parameters,
passed by keyword at each call with their values at that moment, which is what
Python's closure reads (a closure sees a variable's value when it runs). It is
then differentiated through its own generated pullback, as any user function.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AdCompileError
from ..frontend import SourceFunction, StaticFunction, Unresolved
from .common import SCOPES, Fresh, located, own_nodes, stored_names

LIFT_HINT = "call it (act(x)), or define it at module level and pass its result"


@dataclass
class LiftedFunction(SourceFunction):
    """A function defined inside another one, lifted out: its node has the outer
    variables it reads as extra parameters (its text is not the file's)."""


class LocalFunction(StaticFunction):
    """A lifted function as a value the generated code can call where nothing of
    it is differentiated (``cond = ok(x)``): its lifted text, compiled on first use
    with its free names bound to what the outer function's names mean."""

    def __call__(self, *args, **kwargs):
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            src = self.source
            scope: dict = {}
            for n in ast.walk(src.node):
                if isinstance(n, ast.Name) and n.id not in scope:
                    obj = src.lookup(n.id)
                    if not isinstance(obj, Unresolved):
                        scope[n.id] = obj
            module = ast.Module(body=[copy.deepcopy(src.node)], type_ignores=[])
            code = compile(ast.fix_missing_locations(module), src.filename, "exec")
            exec(code, scope)
            compiled = self.__dict__["_compiled"] = scope[src.node.name]
        return compiled(*args, **kwargs)


def bound_in(fn: ast.FunctionDef | ast.Lambda) -> set[str]:
    """The names a function binds itself: its parameters and what its body assigns."""
    args = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    body = fn.body if isinstance(fn.body, list) else [ast.Expr(value=fn.body)]
    return args | stored_names(body)


def reads(fn: ast.FunctionDef | ast.Lambda) -> set[str]:
    """The free names of ``fn``: read in it or in its nested scopes and bound by none."""
    own = bound_in(fn)
    out: set[str] = set()
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    for stmt in body:
        for n in own_nodes(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                out.add(n.id)
            elif isinstance(n, ast.FunctionDef | ast.Lambda):
                out |= reads(n)
                defaults = [*n.args.defaults, *(d for d in n.args.kw_defaults if d)]
                out |= {m.id for d in defaults for m in ast.walk(d) if isinstance(m, ast.Name)}
    return out - own


class Lifting:
    """Lifts the nested functions of one function body."""

    def __init__(self, src: SourceFunction, fresh: Fresh, lookup: Callable) -> None:
        self.src = src
        self.fresh = fresh
        self.lookup = lookup
        self.lifted: dict[str, LocalFunction] = {}
        self.extra: dict[str, list[str]] = {}

    def error(self, message: str, node: ast.AST, hint: str | None = None) -> AdCompileError:
        return AdCompileError(message, self.src.loc(node), hint=hint)

    def run(self, body: list[ast.stmt]) -> list[ast.stmt]:
        defs = self.collect(body)
        if not defs:
            self.refuse_lambdas(body)
            return body
        outer = self.src.node
        params = {a.arg for a in ast.walk(outer.args) if isinstance(a, ast.arg)}
        names = set(defs)
        local = (params | stored_names(body)) - names
        free = {n: sorted(reads(d) & local) for n, d in defs.items()}
        calls = {n: reads(d) & names for n, d in defs.items()}
        changed = True
        while changed:  # a nested function calling another needs its variables too
            changed = False
            for n in defs:
                want = set(free[n]).union(*(free[m] for m in calls[n]))
                if want != set(free[n]):
                    free[n] = sorted(want)
                    changed = True
        for n, d in defs.items():
            for m in calls[n]:
                shadowed = set(free[m]) & bound_in(d)
                if shadowed:
                    raise self.error(
                        f"{n}() calls {m}(), which reads the variable "
                        f"{sorted(shadowed)[0]!r} that {n}() has a variable of its own for",
                        d,
                        hint="rename the variable inside " + n + "()",
                    )
        self.extra = free
        body = self.without_defs(body, names)
        self.check_uses(body, names)
        for n, d in defs.items():
            self.lifted[n] = LocalFunction(n, self.lift(n, d, free[n]))
        body = [self.rewrite_calls(s) for s in body]
        return body

    def collect(self, body: list[ast.stmt]) -> dict[str, ast.FunctionDef]:
        """The nested functions (lambdas assigned to a name as defs), by name."""
        defs: dict[str, ast.FunctionDef] = {}
        counts: dict[str, int] = {}
        for stmt in body:
            for n in own_nodes(stmt):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    counts[n.id] = counts.get(n.id, 0) + 1
                elif isinstance(n, ast.FunctionDef | ast.ClassDef):
                    counts[n.name] = counts.get(n.name, 0) + 1
        for stmt in _statements(body):
            if isinstance(stmt, ast.FunctionDef):
                if stmt.decorator_list:
                    raise self.error(
                        "a decorated function inside the differentiated function is not supported",
                        stmt.decorator_list[0],
                        hint="define it at module level",
                    )
                defs[stmt.name] = stmt
            elif (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Lambda)
            ):
                lam = stmt.value
                node = ast.FunctionDef(
                    name=stmt.targets[0].id,
                    args=lam.args,
                    body=[located(ast.Return(value=lam.body), lam.body)],
                    decorator_list=[],
                    returns=None,
                    type_comment=None,
                )
                if hasattr(ast, "TypeAlias"):
                    node.type_params = []
                defs[node.name] = ast.copy_location(node, stmt)
                node.end_lineno, node.end_col_offset = stmt.end_lineno, stmt.end_col_offset
        params = {a.arg for a in ast.walk(self.src.node.args) if isinstance(a, ast.arg)}
        for n, d in defs.items():
            if counts.get(n, 0) > 1 or n in params:
                raise self.error(
                    f"{n!r} is a function defined here and also assigned elsewhere in "
                    f"{self.src.name}",
                    d,
                    hint="give the function a name of its own",
                )
            for default in [*d.args.defaults, *(x for x in d.args.kw_defaults if x)]:
                if not _literal(default):
                    raise self.error(
                        f"the default of a parameter of {n}() must be a number, a string, "
                        "True, False or None here",
                        default,
                        hint="pass the value in at the call instead",
                    )
        return defs

    def refuse_lambdas(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            keys = {  # sorted(..., key=lambda t: t[0]): what it sorts by (normalize/views.py)
                id(k.value)
                for n in own_nodes(stmt, skip=(ast.FunctionDef, ast.ClassDef))
                if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Name)
                and n.func.id == "sorted"
                and self.lookup("sorted") is sorted
                for k in n.keywords
                if k.arg == "key"
            }
            for n in own_nodes(stmt, skip=(ast.FunctionDef, ast.ClassDef)):
                if isinstance(n, ast.Lambda) and id(n) not in keys:
                    raise self.error(
                        "a lambda is supported here only when assigned to a name and called",
                        n,
                        hint="act = lambda z: ...; then act(h)",
                    )

    def without_defs(self, stmts: list[ast.stmt], names: set[str]) -> list[ast.stmt]:
        out = []
        for stmt in stmts:
            if isinstance(stmt, ast.FunctionDef) and stmt.name in names:
                continue
            if (
                isinstance(stmt, ast.Assign)
                and isinstance(stmt.value, ast.Lambda)
                and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id in names
            ):
                continue
            stmt = copy.copy(stmt)
            for field in ("body", "orelse"):
                if isinstance(getattr(stmt, field, None), list) and not isinstance(stmt, SCOPES):
                    kept = self.without_defs(getattr(stmt, field), names)
                    if field == "body" and not kept:
                        kept = [ast.copy_location(ast.Pass(), stmt)]
                    setattr(stmt, field, kept)
            out.append(stmt)
        return out

    def check_uses(self, body: list[ast.stmt], names: set[str]) -> None:
        """A lifted function is only called: passing it as a value is refused."""
        self.refuse_lambdas(body)
        for stmt in body:
            called = set()
            for n in own_nodes(stmt, skip=(ast.ClassDef,)):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
                    called.add(id(n.func))
            for n in own_nodes(stmt, skip=(ast.ClassDef,)):
                if isinstance(n, ast.Name) and n.id in names and id(n) not in called:
                    raise self.error(
                        f"the function {n.id}() defined inside {self.src.name} is used as a "
                        "value here; it is supported only where it is called",
                        n,
                        hint=LIFT_HINT,
                    )

    def lift(self, n: str, d: ast.FunctionDef, extra: list[str]) -> LiftedFunction:
        node = copy.deepcopy(d)
        node.body = [self.rewrite_calls(s) for s in node.body]
        node.args.args = [*node.args.args, *(ast.arg(arg=v) for v in extra)]
        if node.args.defaults:  # the extra ones come by keyword: their defaults are unused
            node.args.defaults = [*node.args.defaults, *(ast.Constant(None) for _ in extra)]
        for a in node.args.args[len(d.args.args) :]:
            ast.copy_location(a, d)
        return LiftedFunction(
            name=n,
            qualname=f"{self.src.qualname}.<locals>.{n}",
            node=node,
            filename=self.src.filename,
            lines=self.src.lines,
            lookup=self.lookup,
            function=None,
            key=(self.src.key, "<locals>", n, d.lineno),
        )

    def rewrite_calls(self, stmt: ast.AST) -> ast.AST:
        """Each call of a lifted function passes the outer variables it reads."""
        lifting = self

        class Calls(ast.NodeTransformer):
            def visit_Call(self, c: ast.Call):
                self.generic_visit(c)
                if isinstance(c.func, ast.Name) and c.func.id in lifting.extra:
                    d = lifting.extra_args(c)
                    c.keywords = [*c.keywords, *d]
                return c

        return Calls().visit(copy.deepcopy(stmt))

    def extra_args(self, c: ast.Call) -> list[ast.keyword]:
        n = c.func.id
        given = {k.arg for k in c.keywords}
        out = []
        for v in self.extra[n]:
            if v in given:
                raise self.error(f"{n}() has no parameter {v!r}", c)
            out.append(located(ast.keyword(arg=v, value=ast.Name(id=v, ctx=ast.Load())), c))
        return out


def _statements(stmts: list[ast.stmt]):
    """Every statement of this scope (into if/for/while bodies, not nested functions)."""
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, SCOPES):
            continue
        for field in ("body", "orelse"):
            yield from _statements(getattr(stmt, field, None) or [])


def _literal(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and not isinstance(node.value, bytes)
