"""Tangent: forward mode, as a source transformation of the normalized program.

Each statement of the normalized function (see ``ir.py``) is followed by its
tangent statement, the primitive's tangent template (``rules/tangents.py``)
inlined with the program's own names::

    y = np.tanh(x)
    dy = dx * (1 - y * y)

Branches and loops keep their structure: a join or a carried value has a tangent
assigned next to it, and nothing is saved, since nothing runs backwards. Only
*active* values (those depending on a ``wrt`` parameter and reaching the result,
see ``analysis.py``) get tangents; an inactive operand's terms are folded out of
the template while compiling, so the code holds only active terms. A call of
another user function becomes a call of that function's own generated jvp,
``y, dy = jvp_f(a, b, da)``, generated once per argument structure and set of
active parameters (recursion works: the name exists before the body).

The generated function takes the function's parameters, then the tangent of each
``wrt`` parameter, and returns ``(value, tangent of the value)``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from . import runtime
from .analysis import Activity, activity
from .errors import AdCompileError
from .ir import (
    Assign,
    CallPrim,
    Comment,
    Function,
    If,
    Loop,
    Return,
    Stmt,
    function_def,
    names_in,
    walk,
)
from .normalize.unassigned import Unassigned
from .optimize import simplify
from .origin import describe
from .rules import containers
from .rules.containers import ContainerPrim
from .rules.record import BROADCAST, UNKNOWN
from .rules.registry import PRIMITIVES, lookup, primitive_name
from .rules.tangents import instantiate, tangent_rule

MODES = ("jvp",)


@dataclass
class GeneratedJvp:
    """A generated jvp function (and the jvps of the helpers it calls), before text."""

    node: ast.FunctionDef
    namespace: dict[str, object]
    wrt: list[str]
    helpers: list[GeneratedJvp] = field(default_factory=list)
    text: str = ""
    header: str = ""  # the comment lines that open .source (see export.source_header)
    updates: dict = field(default_factory=dict)  # Function.updates (see api._check_apart)
    constant_arrays: list = field(default_factory=list)


class JvpSession:
    """The jvp functions one compilation generates for the user functions it calls."""

    def __init__(self, link_session, front: Callable) -> None:
        self.link = link_session  # for normalizing called functions (their result kinds)
        self.front = front  # (src, kinds, link session) -> a called function's IR
        self.names: dict[tuple, str] = {}
        self.generated: list[GeneratedJvp] = []
        self.taken: set[str] = set()

    def helper(self, prim: CallPrim, active: list[str]) -> str:
        """The name of the jvp of the called function ``prim`` with tangents for the
        parameters ``active``, generated on first request."""
        key = (prim.source.key, prim.kinds, tuple(active))
        if key in self.names:
            return self.names[key]
        base = f"jvp_{prim.source.name}"
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        self.names[key] = name
        fn = self.front(prim.source, prim.kinds, self.link)
        self.generated.append(_Forward(fn, active, self, name).run())
        return name


def _name(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Load())


def _store(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Store())


def _assign(target: str | ast.expr, value: ast.expr) -> ast.Assign:
    t = _store(target) if isinstance(target, str) else target
    return ast.Assign(targets=[t], value=value)


def _call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func=func, args=list(args), keywords=[])


class _Forward:
    def __init__(self, fn: Function, wrt: list[str], session: JvpSession, fname: str) -> None:
        self.fn = fn
        self.wrt = wrt
        self.session = session
        self.fname = fname
        self.names = fn.names
        self.act: Activity = activity(fn, wrt)
        self.namespace: dict[str, object] = dict(fn.globals)
        self.locals = set(fn.params) | {n for s in _walk_assigns(fn.body) for n in (s,)}
        self.renames: dict[str, str] = {}
        self.tan: dict[str, str] = {}
        self.last_loc = None

    # ------------------------------------------------------------ names

    def free_name(self, ident: str, obj: object) -> str:
        """The name under which generated code reaches the helper or module ``obj``."""
        if ident in self.renames and self.namespace.get(self.renames[ident]) is obj:
            return self.renames[ident]
        taken = ident in self.locals or (
            ident in self.namespace and self.namespace[ident] is not obj
        )
        new = self.names.fresh(ident) if taken else ident
        self.namespace[new] = obj
        self.renames[ident] = new
        return new

    def helper(self, ident: str) -> ast.Name:
        return _name(self.free_name(ident, getattr(runtime, ident)))

    def active(self, x: str) -> bool:
        return self.act.active(x)

    def tangent_name(self, x: str) -> str:
        if x not in self.tan:
            self.tan[x] = self.names.fresh("d" + x)
        return self.tan[x]

    def tangent_of(self, atom: ast.expr) -> ast.expr | None:
        """The tangent of an operand, None when it has none (it is inactive)."""
        if isinstance(atom, ast.Name) and self.active(atom.id):
            return _name(self.tangent_name(atom.id))
        if isinstance(atom, ast.Tuple):
            parts = [self.tangent_of(e) for e in atom.elts]
            if all(p is None for p in parts):
                return None
            return ast.Tuple(
                elts=[
                    p if p is not None else self.zeros(e)
                    for p, e in zip(parts, atom.elts, strict=True)
                ],
                ctx=ast.Load(),
            )
        return None

    def zeros(self, atom: ast.expr) -> ast.expr:
        if isinstance(atom, ast.Name) and isinstance(self.fn.globals.get(atom.id), Unassigned):
            return _name(atom.id)  # a variable only a loop assigns: its tangent is as unset
        return _call(self.helper("zeros_tangent"), atom)

    def tangent_or_zeros(self, atom: ast.expr) -> ast.expr:
        t = self.tangent_of(atom)
        return t if t is not None else self.zeros(atom)

    def comment(self, loc, out: list) -> None:
        # (a line of generated code, differentiated again: the user's line it came from)
        text = describe(loc)
        if self.last_loc is None or text != self.last_loc:
            out.append(Comment(text))
            self.last_loc = text

    # ------------------------------------------------------------ the pass

    def run(self) -> GeneratedJvp:
        fn = self.fn
        ret = fn.body[-1]
        if not isinstance(ret, Return):
            raise AdCompileError("internal: the normalized body does not end in a return")
        params = list(fn.params) + [self.tangent_name(p) for p in self.wrt]
        code = self.block(fn.body[:-1])
        result = ret.value
        value = ast.Tuple(elts=[result, self.tangent_or_zeros(result)], ctx=ast.Load())
        code.append(ast.Return(value=value))
        node = function_def(self.fname, params, code)
        return GeneratedJvp(node=node, namespace=self.namespace, wrt=list(self.wrt))

    def block(self, body: list[Stmt]) -> list:
        out: list = []
        self.last_loc = None
        for stmt in body:
            if isinstance(stmt, Assign):
                self.comment(stmt.loc, out)
                out.extend(self.assign(stmt))
            elif isinstance(stmt, If):
                self.comment(stmt.loc, out)
                out.append(self.branch(stmt))
                self.last_loc = None
            elif isinstance(stmt, Loop):
                self.comment(stmt.loc, out)
                out.extend(self.loop(stmt))
                self.last_loc = None
        return out

    def branch(self, stmt: If) -> ast.If:
        sides = []
        for block, side in ((stmt.body, 1), (stmt.orelse, 2)):
            code = self.block(block)
            for join in stmt.joins:
                code.append(_assign(join[0], join[side]))
                if self.active(join[0]):
                    code.append(
                        _assign(self.tangent_name(join[0]), self.tangent_or_zeros(join[side]))
                    )
            sides.append(code)
        return ast.If(test=stmt.test, body=sides[0] or [ast.Pass()], orelse=sides[1])

    def loop(self, stmt: Loop) -> list:
        code: list = []
        carried = []  # (target, value at the end of the body)
        for c, before, end in stmt.carried:
            code.append(_assign(c, before))
            carried.append((c, end))
            if self.active(c):
                code.append(_assign(self.tangent_name(c), self.tangent_or_zeros(before)))
                carried.append((self.tangent_name(c), self.tangent_or_zeros(end)))
        body = self.block(stmt.body)
        if stmt.exit is not None:
            # after a break the remaining iterations would do nothing: stop instead
            body.insert(0, ast.If(test=_name(stmt.exit), body=[ast.Break()], orelse=[]))
        body.extend(_carry(carried))
        body = body or [ast.Pass()]
        if stmt.test is not None:
            code.append(ast.While(test=stmt.test, body=body, orelse=[]))
        else:
            code.append(ast.For(target=_store(stmt.target), iter=stmt.iter, body=body, orelse=[]))
        return code

    def assign(self, stmt: Assign) -> list:
        if stmt.effect is not None:  # print(...), raise ...: run once, no tangent
            if stmt.effect == "raise":
                return [ast.Raise(exc=stmt.value, cause=None)]
            return [ast.Expr(value=stmt.value)]
        code: list = [_assign(stmt.target, stmt.value)]
        if not self.active(stmt.target):
            return code
        prim = stmt.prim
        dy = self.tangent_name(stmt.target)
        if isinstance(prim, ContainerPrim):
            code.append(_assign(dy, self.container(stmt)))
        elif isinstance(prim, CallPrim):
            active = [p for p in prim.params if self.tangent_of(stmt.operands[p]) is not None]
            jvp = self.session.helper(prim, active)
            self.namespace.setdefault(jvp, None)  # linked after compiling (see api.py)
            args = [stmt.operands[p] for p in prim.params]
            args += [self.tangent_of(stmt.operands[p]) for p in active]
            target = ast.Tuple(elts=[_store(stmt.target), _store(dy)], ctx=ast.Store())
            code = [_assign(target, _call(_name(jvp), *args))]
        else:
            code.extend(self.rule(stmt, dy))
        return code

    def container(self, stmt: Assign) -> ast.expr:
        prim, ops = stmt.prim, stmt.operands
        if prim is containers.GET:
            index = ops["index"]
            return ast.Subscript(value=self.tangent_or_zeros(ops["c"]), slice=index, ctx=ast.Load())
        if prim in (containers.BUILD_LIST, containers.BUILD_TUPLE):
            elts = [self.tangent_or_zeros(ops[k]) for k in sorted(ops, key=lambda k: int(k[1:]))]
            if prim is containers.BUILD_LIST:
                return ast.List(elts=elts, ctx=ast.Load())
            return ast.Tuple(elts=elts, ctx=ast.Load())
        if prim is containers.APPEND:
            appended = ast.List(elts=[self.tangent_or_zeros(ops["x"])], ctx=ast.Load())
            return ast.BinOp(left=self.tangent_or_zeros(ops["c"]), op=ast.Add(), right=appended)
        if prim is containers.SUM:
            return _call(_name(self.free_name("sum", sum)), self.tangent_or_zeros(ops["c"]))
        raise AdCompileError(f"internal: no tangent for the container primitive {prim!r}", stmt.loc)

    def rule(self, stmt: Assign, dy: str) -> list:
        prim = stmt.prim
        trule = tangent_rule(prim)
        record = PRIMITIVES.get(id(prim))
        if (
            record is not None
            and record.complex_tangent is not None
            and any(names_in(e) & self.act.complex for e in stmt.operands.values())
        ):
            trule = record.complex_tangent  # (rules/complex_values.py)
        if trule is None:
            label = primitive_name(prim)
            raise AdCompileError(
                f"{label} has an adjoint rule but no tangent rule, so forward mode cannot "
                "differentiate it",
                stmt.loc,
                hint=f"register one with @adcompile.tangent({label}) next to its adjoint, "
                "see docs/custom-rules.md",
            )
        adjoint = lookup(prim)
        # the operands are bound to the adjoint's parameter names: match them by position
        names = adjoint.params if adjoint is not None else trule.params
        bindings: dict[str, ast.expr] = {trule.output: _name(stmt.target)}
        active: set[str] = set()
        for i, p in enumerate(trule.params):
            operand = stmt.operands.get(names[i]) if i < len(names) else None
            if operand is None:
                operand = ast.Constant(value=trule.defaults.get(p))
            bindings[p] = operand
            if p in trule.tangents:
                t = self.tangent_of(operand)
                if t is not None:
                    active.add(p)
                    bindings[trule.tangents[p]] = t
        for ident, obj in trule.free.items():
            new = self.free_name(ident, obj)
            if new != ident:
                bindings[ident] = _name(new)
        zero = _call(self.helper("zero_like"), _name(stmt.target))
        stmts, expr, folded = instantiate(trule, bindings, active, zero, self.names.fresh)
        expr = simplify(_drop_defaults(expr, trule.defaults))
        record = PRIMITIVES.get(id(prim))
        shape = record.shape if record is not None else UNKNOWN
        # an inactive operand that may have broadcast the result, and whose value is not
        # in the tangent's terms either: the tangent is broadcast to the result's shape
        # (not needed where the result itself is in the terms)
        present = names_in(expr)
        widening = [
            bindings[p]
            for p in trule.tangents
            if p not in active
            and not self.fn.is_scalar(bindings[p])
            and not names_in(bindings[p]) <= present
        ]
        if stmt.target in present:
            widening = []
        if widening and not stmt.scalar and shape in (BROADCAST, UNKNOWN, None):
            expr = _call(self.helper("broadcast_like"), expr, _name(stmt.target))
        return [*stmts, _assign(dy, expr)]


def _drop_defaults(expr: ast.expr, defaults: dict[str, object]) -> ast.expr:
    """``expr`` without the keyword arguments that repeat the template's default
    (``np.sum(da, axis=None, keepdims=False)`` is ``np.sum(da)``)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            node.keywords = [
                k
                for k in node.keywords
                if not (
                    k.arg in defaults
                    and isinstance(k.value, ast.Constant)
                    and type(k.value.value) is type(defaults[k.arg])
                    and k.value.value == defaults[k.arg]
                )
            ]
    return expr


def _walk_assigns(body: list[Stmt]):
    for s in walk(body):
        if isinstance(s, Assign):
            yield s.target
        elif isinstance(s, If):
            yield from (j[0] for j in s.joins)
        elif isinstance(s, Loop):
            yield from (c[0] for c in s.carried)
            if s.target:
                yield s.target


def _carry(carried: list[tuple[str, ast.expr]]) -> list[ast.stmt]:
    """The copies that end an iteration, all at once when one reads another's target."""
    copies = [(c, e) for c, e in carried if not (isinstance(e, ast.Name) and e.id == c)]
    written: set[str] = set()
    for c, e in copies:
        if names_in(e) & written:
            targets = ast.Tuple(elts=[_store(c) for c, _ in copies], ctx=ast.Store())
            values = ast.Tuple(elts=[e for _, e in copies], ctx=ast.Load())
            return [ast.Assign(targets=[targets], value=values)]
        written.add(c)
    return [_assign(c, e) for c, e in copies]


def tangent(fn: Function, wrt: list[str], link_session, front: Callable) -> GeneratedJvp:
    """The jvp of the normalized ``fn`` with respect to ``wrt``; the jvps of the user
    functions it calls are in ``.helpers``. ``front`` takes a called function through
    the front of the pipeline: ``(src, kinds, link_session) -> ir.Function``."""
    session = JvpSession(link_session, front)
    gen = _Forward(fn, wrt, session, f"jvp_{fn.name}").run()
    gen.helpers = session.generated
    return gen


__all__ = ["MODES", "GeneratedJvp", "tangent"]
