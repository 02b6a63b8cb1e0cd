"""The syntax of rule templates, shared by adjoint and tangent rules: which
statements a template may use and how its returns are read (``check_statements``,
``is_plain``, ``branched``), and the copies that inline a template into generated
code (``copy_tree``, ``substituted``), with ``times_output``, the rewrite that makes
a function's adjoint template the rule of its exponential; ``Unread``, a rule of
adcompile's own until its template is first needed.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable

from ..errors import AdCompileError

_READING = threading.RLock()


class Unread:
    """A rule of adcompile's own (``registry.Rule``, ``tangents.TangentRule``) whose
    template is not read yet: reading the source of every template would be most of the
    time ``import adcompile`` takes, and a program uses few of them. ``read`` reads it;
    ``known`` are attributes known without reading (its name). The first lookup of
    another attribute reads the template and makes this object the rule read (its class
    and attributes), keeping the attributes set on it before."""

    def __init__(self, read: Callable[[], object], **known: object) -> None:
        self._read = read
        self.__dict__.update(known)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):  # (a protocol's probe: copy, pickle...)
            raise AttributeError(name)
        with _READING:
            if type(self) is Unread:  # (not read by another thread meanwhile)
                rule = self._read()
                attributes = self.__dict__
                for key, value in vars(rule).items():
                    attributes.setdefault(key, value)
                del attributes["_read"]
                self.__class__ = type(rule)  # (last: until then the lookups come here)
        return getattr(self, name)


def times_output(fn: ast.FunctionDef) -> ast.FunctionDef:
    """The template ``fn`` of a function's rule made the rule of its exponential: each
    read of the cotangent ``dy`` becomes ``dy * y`` (``y`` the exponential's output), a
    negated one ``-dy * y``, so that products read as they would be written by hand."""
    dy, y = fn.args.args[0].arg, fn.args.args[1].arg

    def is_dy(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id == dy and isinstance(node.ctx, ast.Load)

    def scaled(node: ast.expr) -> ast.expr:
        product = ast.BinOp(left=node, op=ast.Mult(), right=ast.Name(id=y, ctx=ast.Load()))
        return ast.copy_location(product, node)

    def rewrite(node: ast.AST) -> ast.AST:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and is_dy(node.operand):
            return scaled(node)
        if is_dy(node):
            return scaled(node)
        for key, value in ast.iter_fields(node):
            if isinstance(value, list):
                setattr(node, key, [rewrite(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, key, rewrite(value))
        return node

    fn.body = [rewrite(s) for s in fn.body]
    ast.fix_missing_locations(fn)
    return fn


ALLOWED_STATEMENTS = (
    ast.Assign,
    ast.AnnAssign,
    ast.Expr,
    ast.Pass,
    ast.If,
    ast.For,
    ast.While,
    ast.Return,
)


def check_statements(stmts: list[ast.stmt], located: Callable, in_loop: bool) -> None:
    """Refuse, at its own line, a statement or expression the inliner cannot paste."""
    for stmt in stmts:
        if isinstance(stmt, ast.Break | ast.Continue) and in_loop:
            continue
        stores = stmt.targets if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, ast.AugAssign) or any(
            isinstance(n, ast.Subscript | ast.Attribute) and isinstance(n.ctx, ast.Store)
            for t in stores
            for n in ast.walk(t)
        ):
            raise AdCompileError(
                "an adjoint rule cannot update a value in place",
                located(stmt),
                hint="the value may be the program's own array (the cotangent, an "
                "operand): write `t = t + ...` instead of `t += ...`",
            )
        if not isinstance(stmt, ALLOWED_STATEMENTS):
            raise AdCompileError(
                f"an adjoint rule cannot use `{type(stmt).__name__.lower()}` statements",
                located(stmt),
                hint="a rule may assign, branch (if/else), loop (for/while) and return",
            )
        if isinstance(stmt, ast.Return) and in_loop:
            raise AdCompileError(
                "an adjoint rule cannot return inside a loop",
                located(stmt),
                hint="assign the result to a variable and return it after the loop",
            )
        if isinstance(stmt, ast.Return) and stmt.value is None:
            raise AdCompileError("an adjoint rule must return its contributions", located(stmt))
        if isinstance(stmt, ast.For | ast.While) and stmt.orelse:
            raise AdCompileError("a loop with an else clause in an adjoint rule", located(stmt))
        for node in ast.walk(stmt):
            if isinstance(node, ast.Lambda | ast.Yield | ast.YieldFrom | ast.Await):
                raise AdCompileError(
                    f"an adjoint rule cannot use `{type(node).__name__.lower()}`",
                    located(node),
                    hint="define a helper function at module level and call it",
                )
        if isinstance(stmt, ast.If):
            check_statements(stmt.body, located, in_loop)
            check_statements(stmt.orelse, located, in_loop)
        elif isinstance(stmt, ast.For | ast.While):
            check_statements(stmt.body, located, True)


def ends_in_return(stmts: list[ast.stmt]) -> bool:
    """Whether every path through ``stmts`` ends in a ``return``."""
    for stmt in stmts:
        if isinstance(stmt, ast.Return):
            return True
        if isinstance(stmt, ast.If) and ends_in_return(stmt.body) and ends_in_return(stmt.orelse):
            return True
    return False


def is_plain(body: list[ast.stmt]) -> bool:
    """Whether the only ``return`` is the last statement (the form of the built-in rules)."""
    return isinstance(body[-1], ast.Return) and not any(
        isinstance(n, ast.Return) for s in body[:-1] for n in ast.walk(s)
    )


def returned(value: ast.expr) -> list[ast.expr | None]:
    elts = value.elts if isinstance(value, ast.Tuple) else [value]
    return [None if isinstance(e, ast.Constant) and e.value is None else e for e in elts]


def branched(
    body: list[ast.stmt], params: list[str], names: list[str], located: Callable
) -> tuple[list[ast.stmt], list[ast.expr | None]]:
    """A rule with several returns, as a prelude that assigns each contribution to a
    variable on every path, and those variables as the contributions: its control
    flow is kept whole in the generated code, as the rule says."""
    from ..restructure import _tail

    body = _tail(body, ast.Return)
    returns = [n for s in body for n in ast.walk(s) if isinstance(n, ast.Return)]
    found = [returned(r.value) for r in returns]
    for r, contributions in zip(returns, found, strict=True):
        if len(contributions) > len(params):
            raise AdCompileError(
                "the rule returns more contributions than it has parameters", located(r)
            )
    width = max(len(c) for c in found)
    given = [any(i < len(c) and c[i] is not None for c in found) for i in range(width)]
    for r, contributions in zip(returns, found, strict=True):
        for i in range(width):
            if given[i] and (i >= len(contributions) or contributions[i] is None):
                raise AdCompileError(
                    f"the rule gives {params[i]!r} no contribution on this path, "
                    "and one on another",
                    located(r),
                    hint=f"return a zero contribution here: np.zeros_like({params[i]})",
                )
    taken = {n.id for s in body for n in ast.walk(s) if isinstance(n, ast.Name)}
    results = []
    for i in range(width):
        result = f"d{params[i]}"
        while result in taken or result in names:
            result += "_"
        taken.add(result)
        results.append(result)

    def assign_results(stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            if isinstance(stmt, ast.Return):
                for i, e in enumerate(returned(stmt.value)):
                    if given[i]:
                        target = ast.Name(id=results[i], ctx=ast.Store())
                        out.append(ast.copy_location(ast.Assign(targets=[target], value=e), stmt))
                continue
            if isinstance(stmt, ast.If):
                stmt = ast.If(
                    test=stmt.test,
                    body=assign_results(stmt.body) or [ast.Pass()],
                    orelse=assign_results(stmt.orelse),
                )
            out.append(stmt)
        return out

    prelude = assign_results(body)
    ast.fix_missing_locations(ast.Module(body=prelude, type_ignores=[]))
    contributions = [
        ast.Name(id=results[i], ctx=ast.Load()) if given[i] else None for i in range(width)
    ]
    return prelude, contributions


def is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def copy_tree(node):
    """A copy of a syntax tree (``copy.deepcopy`` without its memo bookkeeping). Nodes
    without fields (``Load``, ``Add``...) are shared, as the parser shares them."""
    if type(node) is list:
        return [copy_tree(n) for n in node]
    if not isinstance(node, ast.AST):
        return node
    cls = node.__class__
    new = cls.__new__(cls)
    d = new.__dict__
    for key, value in node.__dict__.items():
        if type(value) is list:
            d[key] = [copy_tree(v) for v in value]
        elif isinstance(value, ast.AST) and value._fields:
            d[key] = copy_tree(value)
        else:
            d[key] = value
    return new


def substituted(node, mapping: dict[str, ast.expr], hooks: dict | None = None):
    """A copy of the template tree ``node`` with its names in ``mapping`` replaced by
    copies of their expressions (one pass: copying and substituting together).

    ``hooks`` (node type -> function) rewrite the copied template nodes bottom-up, as
    :func:`..ir.transform` would, but not inside the substituted expressions: those
    are the program's own, already rewritten when they were made."""
    if type(node) is ast.Name:
        new = mapping.get(node.id)
        if new is None:
            return ast.Name(id=node.id, ctx=node.ctx)
        if type(new) is ast.Name:
            return ast.Name(id=new.id, ctx=node.ctx)
        return copy_tree(new)
    if type(node) is list:
        return [substituted(n, mapping, hooks) for n in node]
    if not isinstance(node, ast.AST):
        return node
    cls = node.__class__
    new = cls.__new__(cls)
    d = new.__dict__
    for key, value in node.__dict__.items():
        if type(value) is list:
            d[key] = [substituted(v, mapping, hooks) for v in value]
        elif isinstance(value, ast.AST) and value._fields:
            d[key] = substituted(value, mapping, hooks)
        else:
            d[key] = value
    if hooks is not None:
        hook = hooks.get(cls)
        if hook is not None:
            return hook(new)
    return new


def names_read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
