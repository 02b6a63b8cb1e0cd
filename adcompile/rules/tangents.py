"""Tangent templates: the forward-mode rule of a primitive, in the chain rule's notation.

A tangent template sits next to the primitive's adjoint, in the same record::

    @tangent(np.tanh)
    def tanh(dx, y, x):
        return dx * (1 - y * y)

    @tangent(np.multiply)
    def multiply(dx, dy, z, x, y):
        return dx * y + x * dy

Its parameters are the tangents of the operands that have one, each named ``d`` and
the operand's name (``dx`` for ``x``), then the output, then the primitive's
parameters (the names need not be those of the adjoint). It returns the output's
tangent. An operand without a ``d`` parameter has no derivative in forward mode
(``axis``, an index, a shape).

The compiler never calls the template: it inlines it. An operand that is not
active (does not depend on a ``wrt`` parameter) has no tangent, and its terms are
folded away while compiling: ``dx * y + x * dy`` with ``dy`` inactive becomes
``dx * y``, so the generated code holds only active terms (see :func:`fold`).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import AdCompileError, Loc
from ..ir import transform
from .registry import (
    METHODS,
    PRIMITIVES,
    _enter,
    _is_bound_method,
    _owned,
    on_floats,
    primitive_name,
    read,
)
from .template import (
    branched,
    check_statements,
    copy_tree,
    ends_in_return,
    is_docstring,
    is_plain,
    names_read,
    substituted,
)

# Stands, while folding, for the tangent of an inactive operand: an exact zero.
ZERO = "__zero__"


@dataclass
class TangentRule:
    """A parsed tangent template."""

    primitive: object
    name: str
    tangents: dict[str, str]  # primitive parameter -> the template's name of its tangent
    output: str
    params: list[str]  # the primitive's parameters, in order
    defaults: dict[str, object]
    prelude: list[ast.stmt]
    result: ast.expr
    template: Callable
    free: dict[str, object] = field(default_factory=dict)
    locals: set[str] = field(default_factory=set)
    loc: Loc | None = None

    def differentiable(self, param: str) -> bool:
        return param in self.tangents


def tangent(
    primitive: object, *, override: bool = False, exponential: bool = False
) -> Callable[[Callable], Callable]:
    """Register the decorated template as the forward-mode (tangent) rule of
    ``primitive``, in the record its adjoint made (see docs/custom-rules.md).

    The template takes the operands' tangents (``dx`` for the parameter ``x``), the
    output, then the primitive's parameters, and returns the output's tangent. With
    ``exponential=True`` the template is the tangent rule of the function whose
    exponential ``primitive`` is (a log density's, for a density): the tangent is the
    output times the template's (``y * (...)``), as for the adjoint (see
    ``registry.adjoint``)."""

    primitive = registered_spelling(primitive)

    def register(template: Callable) -> Callable:
        record = PRIMITIVES.get(id(primitive))
        label = primitive_name(primitive)
        if record is None or not record.differentiable or record.template is None:
            raise AdCompileError(
                f"{label} has no adjoint rule: register its adjoint first, then its tangent",
                _template_loc(template),
                hint=f"@adcompile.adjoint({label}) above @adcompile.tangent({label}), "
                "see docs/custom-rules.md",
            )
        rules = dict(record.tangent or {})
        owned = _owned(template)
        rules[id(primitive)] = read(
            owned, parse_tangent, primitive, template, exponential=exponential
        )
        if primitive is record.canonical:
            for fn in record.on_floats:
                parse = (parse_tangent, fn, template)
                rules[id(fn)] = read(owned, *parse, floats=True, exponential=exponential)
        _enter(replace(record, tangent=rules))
        return template

    return register


def complex_tangent(primitive: object) -> Callable[[Callable], Callable]:
    """Register the decorated template as the tangent rule of the recorded ``primitive``
    where an operand may be complex (rules/complex_values.py)."""

    def register(template: Callable) -> Callable:
        record = PRIMITIVES[id(primitive)]
        record.complex_tangent = read(_owned(template), parse_tangent, primitive, template)
        return template

    return register


def registered_spelling(fn: object) -> object:
    """``fn``, or for a bound method (each ``scipy.stats.norm.logpdf`` is a new object)
    the one its adjoint was registered with."""
    if _is_bound_method(fn):
        return METHODS.get((id(fn.__self__), id(fn.__func__)), fn)
    return fn


def tangent_rule(fn: object) -> TangentRule | None:
    """The tangent rule of the spelling ``fn`` (its record's canonical rule for an alias)."""
    record = PRIMITIVES.get(id(fn))
    if record is None or not record.tangent:
        return None
    if id(fn) in record.tangent:  # (None: an adjoint replaced since, without a tangent)
        return record.tangent[id(fn)]
    return record.tangent.get(id(record.canonical))


def _template_loc(template: Callable) -> Loc | None:
    from ..frontend import _short

    try:
        lines, first = inspect.getsourcelines(template)
    except (OSError, TypeError):
        return None
    return Loc(_short(inspect.getsourcefile(template) or "<unknown>"), first, 0, lines[0].rstrip())


def parse_tangent(
    primitive: object, template: Callable, *, floats: bool = False, exponential: bool = False
) -> TangentRule:
    """Read a tangent template's source into a :class:`TangentRule`; with ``floats``,
    the rule of a Python-float spelling (``math`` in place of ``np``, float constants);
    with ``exponential``, the rule of the exponential of the template's function (the
    output times the template's result)."""
    from ..frontend import _char_col, _short

    try:
        raw = inspect.getsource(template)
        filename = inspect.getsourcefile(template) or "<unknown>"
        first = template.__code__.co_firstlineno
    except (OSError, TypeError) as exc:
        raise AdCompileError(
            f"cannot read the source of the tangent rule {template.__qualname__}",
            hint="define tangent rules in a file, not in an interactive session",
        ) from exc
    fn = ast.parse(textwrap.dedent(raw)).body[0]
    raw_lines = raw.splitlines()
    indent = len(raw_lines[0]) - len(raw_lines[0].lstrip())
    loc = Loc(_short(filename), first, indent, raw_lines[0])
    if not isinstance(fn, ast.FunctionDef):
        raise AdCompileError("a tangent rule must be a function", loc)
    if floats:
        fn = on_floats(fn, template.__globals__, loc)
    args = fn.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        raise AdCompileError(
            "a tangent rule takes plain parameters: (dx..., y, *the primitive's parameters)", loc
        )
    names = [a.arg for a in args.args]
    # the leading d<p> names are tangents of the parameters p that follow the output
    k = 0
    while k < len(names) and names[k].startswith("d") and names[k][1:] in names[k + 1 :]:
        k += 1
    params = names[k + 1 :]
    if k == 0 or not params:
        raise AdCompileError(
            "a tangent rule takes the operands' tangents (dx for x), the output, then the "
            "primitive's parameters",
            loc,
            hint="e.g. def tanh(dx, y, x): return dx * (1 - y * y)",
        )
    tangents = {n[1:]: n for n in names[:k]}
    sig = inspect.signature(template)
    defaults = {
        n: p.default
        for n, p in sig.parameters.items()
        if p.default is not inspect.Parameter.empty and n in params
    }
    body = [s for s in fn.body if not is_docstring(s)]

    def located(node: ast.AST) -> Loc:
        text = raw_lines[node.lineno - 1] if node.lineno <= len(raw_lines) else ""
        col = _char_col(text, node.col_offset + indent)
        return Loc(_short(filename), first + node.lineno - 1, col, text)

    check_statements(body, located, in_loop=False)
    if not body or not ends_in_return(body):
        raise AdCompileError("a tangent rule must end with `return <tangent>` on every path", loc)
    if is_plain(body):
        prelude, result = body[:-1], body[-1].value
    else:
        prelude, results = branched(body, [names[k]], names, located)
        result = results[0]
    if exponential:  # d exp(f) = exp(f) df
        output = ast.Name(id=names[k], ctx=ast.Load())
        result = ast.copy_location(ast.BinOp(left=output, op=ast.Mult(), right=result), result)
        ast.fix_missing_locations(result)
    assigned = {
        n.id
        for s in prelude
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    if assigned & set(names):
        raise AdCompileError(
            f"a tangent rule cannot assign to its parameter {sorted(assigned & set(names))[0]!r}",
            loc,
            hint="assign to a new name instead",
        )
    free = {}
    for name in sorted(set().union(*(names_read(s) for s in fn.body)) - set(names) - assigned):
        if name == "math" and floats:
            free[name] = math
        elif name in template.__globals__:
            free[name] = template.__globals__[name]
        elif not hasattr(builtins, name):
            raise AdCompileError(f"the tangent rule uses an undefined name {name!r}", loc)
    return TangentRule(
        primitive=primitive,
        name=primitive_name(primitive),
        tangents=tangents,
        output=names[k],
        params=params,
        defaults=defaults,
        prelude=prelude,
        result=result,
        template=template,
        free=free,
        locals=assigned,
        loc=loc,
    )


# ------------------------------------------------------------------ folding


def _is_zero(node: ast.AST) -> bool:
    return type(node) is ast.Name and node.id == ZERO


def fold(node: ast.AST, tangent_names: set[str]) -> ast.AST:
    """``node`` (a template tree in which inactive tangents are :data:`ZERO`) with every
    term that is zero folded away: ``0 * a``, ``a @ 0``, ``0 / a`` are zero; ``a + 0``
    and ``a - 0`` are ``a``, ``0 - a`` is ``-a``; a call is zero when every argument that
    holds a tangent is zero (templates call only functions linear in the tangents), else
    its zero arguments become ``0.0``. Rewrites ``node`` in place; returns the result."""

    def binop(n: ast.BinOp) -> ast.expr:
        left, right = _is_zero(n.left), _is_zero(n.right)
        if not (left or right):
            return n
        op = type(n.op)
        if op is ast.Add:
            return n.right if left else n.left
        if op is ast.Sub:
            return n.left if right else ast.UnaryOp(op=ast.USub(), operand=n.right)
        if op in (ast.Mult, ast.MatMult) or (left and op in (ast.Div, ast.FloorDiv, ast.Mod)):
            return ast.Name(id=ZERO, ctx=ast.Load())
        return n

    def unaryop(n: ast.UnaryOp) -> ast.expr:
        if _is_zero(n.operand) and isinstance(n.op, ast.USub | ast.UAdd):
            return n.operand
        return n

    def call(n: ast.Call) -> ast.expr:
        values = [*n.args, *(k.value for k in n.keywords)]
        if not any(_is_zero(v) for v in values):
            return n
        if not any(_holds_tangent(v, tangent_names) for v in values if not _is_zero(v)):
            return ast.Name(id=ZERO, ctx=ast.Load())
        n.args = [_literal_zero() if _is_zero(a) else a for a in n.args]
        for k in n.keywords:
            if _is_zero(k.value):
                k.value = _literal_zero()
        return n

    def subscript(n: ast.Subscript) -> ast.expr:
        return n.value if _is_zero(n.value) else n

    def attribute(n: ast.Attribute) -> ast.expr:
        return n.value if _is_zero(n.value) and n.attr == "T" else n

    hooks = {
        ast.BinOp: binop,
        ast.UnaryOp: unaryop,
        ast.Call: call,
        ast.Subscript: subscript,
        ast.Attribute: attribute,
    }
    return transform(node, hooks)


def _holds_tangent(node: ast.AST, tangent_names: set[str]) -> bool:
    return any(type(n) is ast.Name and n.id in tangent_names for n in ast.walk(node))


def _literal_zero() -> ast.expr:
    return ast.Constant(value=0.0)


def instantiate(
    rule: TangentRule,
    bindings: dict[str, ast.expr],
    active: set[str],
    zero_of_output: ast.expr,
    fresh: Callable[[str], str],
) -> tuple[list[ast.stmt], ast.expr, bool]:
    """Inline ``rule``: ``bindings`` map the template's names (the output, the
    parameters, and the tangents of the ``active`` parameters) to the program's
    expressions. Returns the statements, the tangent expression, and whether a term
    was folded away (the result may then have fewer dimensions than the output, where
    a broadcasting operand was inactive). A zero left standing on its own becomes
    ``zero_of_output``; one left inside an expression, ``0.0``."""

    zeros = {
        t: ast.Name(id=ZERO, ctx=ast.Load()) for p, t in rule.tangents.items() if p not in active
    }
    live = {t for p, t in rule.tangents.items() if p in active}
    prelude = [fold(substituted(s, zeros), live) for s in rule.prelude]
    result = fold(substituted(rule.result, zeros), live)
    folded = bool(zeros)
    mapping = dict(bindings)
    for name in sorted(rule.locals):
        mapping[name] = ast.Name(id=fresh(name), ctx=ast.Load())
    mapping[ZERO] = zero_of_output

    def standalone(stmts: list[ast.stmt]) -> list[ast.stmt]:
        for s in stmts:
            for n in ast.walk(s):
                if isinstance(n, ast.Assign) and _is_zero(n.value):
                    n.value = copy_tree(zero_of_output)
        return stmts

    prelude = standalone(prelude)
    literal = {**mapping, ZERO: _literal_zero()}
    stmts = [substituted(s, literal) for s in prelude]
    expr = substituted(result, mapping if _is_zero(result) else literal)
    return stmts, expr, folded
