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
import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .analysis import Activity, activity, written_chain
from .errors import AdCompileError
from .generated import Namespace, assign, call, carry, loop_statement, name, note_line, store
from .ir import (
    Assign,
    CallPrim,
    Function,
    If,
    Loop,
    OdeintPrim,
    Return,
    Stmt,
    all_defs,
    function_def,
    names_in,
    transform,
    walk,
    write_statements,
)
from .normalize.unassigned import Unassigned
from .optimize import is_fresh, simplify
from .reverse.peephole import trim_defaults
from .rules import containers
from .rules.containers import ContainerPrim
from .rules.record import BROADCAST, UNKNOWN
from .rules.registry import PRIMITIVES, lookup, primitive_name
from .rules.runtime_rules import TAKES_CONTAINERS
from .rules.tangents import instantiate, tangent_rule
from .rules.template import substituted

MODES = ("jvp",)


@dataclass
class GeneratedJvp:
    """A generated jvp function (and the jvps of the helpers it calls), before text."""

    node: ast.FunctionDef
    namespace: dict[str, object]
    wrt: list[str]
    helpers: list[GeneratedJvp] = field(default_factory=list)
    text: str = ""
    tree: ast.Module | None = None  # the finished trees of it and its helpers (pipeline.py)
    header: str = ""  # the comment lines that open .source (see export.source_header)
    updates: dict = field(default_factory=dict)  # Function.updates (see dispatch._check_apart)
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
        jvp, i = base, 1
        while jvp in self.taken:
            i += 1
            jvp = f"{base}_{i}"
        self.taken.add(jvp)
        self.names[key] = jvp
        fn = self.front(prim.source, prim.kinds, self.link)
        self.generated.append(_Forward(fn, active, self, jvp).run())
        return jvp


class _Forward:
    def __init__(
        self,
        fn: Function,
        wrt: list[str],
        session: JvpSession,
        fname: str,
        elements: dict | None = None,
    ) -> None:
        self.fn = fn
        self.wrt = wrt
        self.session = session
        self.fname = fname
        self.names = fn.names
        self.act: Activity = activity(fn, wrt, elements)
        self.ns = Namespace(fn.names, fn.globals, set(fn.params) | all_defs(fn.body))
        self.tan: dict[str, str] = {}
        self.facts: dict[str, object] = {}  # known shapes of names (see tangent())
        # the loops' variables: ints (loops run over ranges)
        self.counters = {s.target for s in walk(fn.body) if isinstance(s, Loop) and s.target}
        self.last_loc = None  # the line the last comment named
        # values whose tangent variable holds an array this jvp made and no other
        # tangent refers to: an element assignment writes into it in place
        self.owned: set[str] = set()

    # ------------------------------------------------------------ names

    def active(self, x: str) -> bool:
        return self.act.active(x)

    def tangent_name(self, x: str) -> str:
        if x not in self.tan:
            self.tan[x] = self.names.fresh("d" + x)
        return self.tan[x]

    def tangent_of(self, atom: ast.expr) -> ast.expr | None:
        """The tangent of an operand, None when it has none (it is inactive)."""
        if isinstance(atom, ast.Name) and self.active(atom.id):
            return name(self.tangent_name(atom.id))
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
            return name(atom.id)  # a variable only a loop assigns: its tangent is as unset
        return call(self.ns.helper("zeros_tangent"), atom)

    def tangent_or_zeros(self, atom: ast.expr) -> ast.expr:
        t = self.tangent_of(atom)
        return t if t is not None else self.zeros(atom)

    def trimmed(self, node: ast.Call) -> ast.expr:
        """A call of a numpy function (``np.transpose(dx, None)``) without the trailing
        positional arguments that equal its defaults (``np.transpose(dx)``)."""
        func = node.func
        if (
            node.args
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and self.ns.namespace.get(func.value.id) is np
        ):
            fn = getattr(np, func.attr, None)
            if callable(fn) and not inspect.isclass(fn):
                try:
                    trim_defaults(node, fn)
                except (TypeError, ValueError):  # (no signature to read)
                    pass
        return node

    def element_tangent(self, atom: ast.expr) -> ast.expr:
        """The tangent of an element of a list or tuple being built: a number without one
        (a loop's counter, a count) has the zero ``0.0``, not a call making a zero."""
        t = self.tangent_of(atom)
        if t is not None:
            return t
        if isinstance(atom, ast.Name) and (
            atom.id in self.counters
            or (
                self.fn.is_scalar(atom) and not isinstance(self.fn.globals.get(atom.id), Unassigned)
            )
        ):
            return ast.Constant(0.0)
        return self.zeros(atom)

    def full_shaped(self, target: str, trule, bindings: dict, active: set[str]) -> bool:
        """Whether an elementwise result's tangent has the result's shape already: an
        active operand's known shape is the result's (so no broadcast can widen it)."""
        known = self.facts.get(target)
        if not isinstance(known, tuple):
            return False
        for p in trule.tangents:
            operand = bindings.get(p)
            if p in active and isinstance(operand, ast.Name):
                if self.facts.get(operand.id) == known:
                    return True
        return False

    def comment(self, loc, out: list) -> None:
        self.last_loc = note_line(loc, self.last_loc, out)

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
        forward_negations(node, set(self.tan.values()))
        return GeneratedJvp(node=node, namespace=self.ns.namespace, wrt=list(self.wrt))

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
                code.append(assign(join[0], join[side]))
                if self.active(join[0]):
                    code.append(
                        assign(self.tangent_name(join[0]), self.tangent_or_zeros(join[side]))
                    )
                    self.shared(code[-1:])
            sides.append(code)
        return ast.If(test=stmt.test, body=sides[0] or [ast.Pass()], orelse=sides[1])

    def loop(self, stmt: Loop) -> list:
        buffers = self.buffers(stmt)
        owned = set(self.owned)
        code, body = self.loop_parts(stmt, buffers)
        # each iteration must end with the written array's tangent its own (the carry
        # then takes that variable's array, still owned by nothing else)
        kept = {
            c
            for c, _, end in stmt.carried
            if c in buffers and isinstance(end, ast.Name) and end.id in self.owned
        }
        if kept != buffers:
            # an iteration did not keep a written array's tangent to itself: write
            # into copies instead
            self.owned = owned
            code, body = self.loop_parts(stmt, set())
            kept = set()
        self.owned -= {c for c, _, _ in stmt.carried} | all_targets(stmt.body)
        self.owned |= kept  # after the loop too
        code.append(loop_statement(stmt, body, stops=stmt.exit is not None))
        return code

    def buffers(self, stmt: Loop) -> set[str]:
        """The active carried arrays that the body only writes into (as in reverse
        mode's ``Sweep.buffers``): their tangent is one array, written in place."""
        return {
            c for c, _, end in stmt.carried if self.active(c) and written_chain(stmt.body, end, c)
        }

    def loop_parts(self, stmt: Loop, buffers: set[str]) -> tuple[list, list]:
        """The code before the loop and its body, the tangents of the carried arrays in
        ``buffers`` copied once before it and written in place by every iteration."""
        code: list = []
        carried = []  # (target, value at the end of the body)
        for c, before, end in stmt.carried:
            code.append(assign(c, before))
            carried.append((c, end))
            if self.active(c):
                start = self.tangent_or_zeros(before)
                owned_before = isinstance(before, ast.Name) and before.id in self.owned
                if c in buffers and not owned_before:
                    start = call(self.ns.helper("writable_adjoint"), start, name(c))
                code.append(assign(self.tangent_name(c), start))
                self.shared(code[-1:])
        self.owned |= buffers
        body = self.block(stmt.body)
        for c, _, end in stmt.carried:
            if self.active(c):
                carried.append((self.tangent_name(c), self.tangent_or_zeros(end)))
        return code, body + carry(carried)

    def assign(self, stmt: Assign) -> list:
        if stmt.effect in ("call", "raise"):  # print(...), raise ...: run once, no tangent
            if stmt.effect == "raise":
                return [ast.Raise(exc=stmt.value, cause=None)]
            return [ast.Expr(value=stmt.value)]
        if stmt.prim is containers.SETITEM:
            return self.write(stmt)
        code: list = [assign(stmt.target, stmt.value)]
        if not self.active(stmt.target):
            return code
        code = self.active_assign(stmt, code)
        self.shared(code)
        return code

    def shared(self, code: list) -> None:
        """Tangent statements whose value may refer to the tangents they read (``dy = dx``,
        a view ``dx[1:]``) leave those tangents owned no longer."""
        for node in code:
            if isinstance(node, ast.Assign) and not is_fresh(node.value):
                read = names_in(node.value)
                self.owned -= {x for x in self.owned if self.tan.get(x) in read}

    def write(self, stmt: Assign) -> list:
        """``x_2 = setitem(x_1, index, v)`` and ``dx_2 = dx_1`` with ``dx_2[index] = dv``:
        into ``dx_1`` in place when this jvp owns it, else into a copy it then owns."""
        code = write_statements(stmt, copy=False)
        if not self.active(stmt.target):
            return code
        x, index, v = stmt.operands["x"], stmt.operands["index"], stmt.operands["v"]
        dv = self.tangent_of(v)
        if self.active(x.id) and x.id in self.owned:
            self.tan[stmt.target] = self.tan[x.id]
            self.owned.discard(x.id)
        else:
            dx = self.tangent_of(x)
            start = dx if dx is not None else ast.Constant(0.0)
            fresh = call(self.ns.helper("writable_adjoint"), start, name(stmt.target))
            code.append(assign(self.tangent_name(stmt.target), fresh))
        self.owned.add(stmt.target)
        into = name(self.tan[stmt.target])
        element = ast.Subscript(value=into, slice=copy.deepcopy(index), ctx=ast.Store())
        value = dv if dv is not None else ast.Constant(0.0)
        code.append(ast.Assign(targets=[element], value=value))
        self.shared(code[-1:])
        return code

    def active_assign(self, stmt: Assign, code: list) -> list:
        prim = stmt.prim
        dy = self.tangent_name(stmt.target)
        if isinstance(prim, ContainerPrim):
            code.append(assign(dy, self.container(stmt)))
        elif isinstance(prim, OdeintPrim):
            raise AdCompileError(
                "scipy.integrate.odeint is differentiated in reverse mode only (by the adjoint "
                "method): forward mode (jvp, jacobian, hvp) cannot differentiate it",
                stmt.loc,
                hint="use grad, value_and_grad or vjp for a function that solves an ODE",
            )
        elif isinstance(prim, CallPrim):
            active = [p for p in prim.params if self.tangent_of(stmt.operands[p]) is not None]
            jvp = self.session.helper(prim, active)
            self.ns.namespace.setdefault(jvp, None)  # linked after compiling (see api.py)
            args = [stmt.operands[p] for p in prim.params]
            args += [self.tangent_of(stmt.operands[p]) for p in active]
            target = ast.Tuple(elts=[store(stmt.target), store(dy)], ctx=ast.Store())
            code = [assign(target, call(name(jvp), *args))]
        else:
            code.extend(self.rule(stmt, dy))
        return code

    def container(self, stmt: Assign) -> ast.expr:
        prim, ops = stmt.prim, stmt.operands
        if prim is containers.GET:
            index = ops["index"]
            return ast.Subscript(value=self.tangent_or_zeros(ops["c"]), slice=index, ctx=ast.Load())
        if prim in (containers.BUILD_LIST, containers.BUILD_TUPLE):
            elts = [self.element_tangent(ops[k]) for k in sorted(ops, key=lambda k: int(k[1:]))]
            if prim is containers.BUILD_LIST:
                return ast.List(elts=elts, ctx=ast.Load())
            return ast.Tuple(elts=elts, ctx=ast.Load())
        if isinstance(prim, containers.BuildDict):
            elts = [self.tangent_or_zeros(ops[f"e{i}"]) for i in range(len(prim.keys))]
            return ast.Dict(keys=[ast.Constant(k) for k in prim.keys], values=elts)
        if prim is containers.APPEND:
            appended = ast.List(elts=[self.tangent_or_zeros(ops["x"])], ctx=ast.Load())
            return ast.BinOp(left=self.tangent_or_zeros(ops["c"]), op=ast.Add(), right=appended)
        if prim is containers.SUM:
            parts = [self.tangent_or_zeros(ops["c"])]
            if "start" in ops:  # sum(c, start)
                parts.append(self.tangent_or_zeros(ops["start"]))
            return call(name(self.ns.free_name("sum", sum)), *parts)
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
        bindings: dict[str, ast.expr] = {trule.output: name(stmt.target)}
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
        objects = {}
        for ident, obj in trule.free.items():
            new = self.ns.free_name(ident, obj)
            objects[new] = obj
            if new != ident:
                bindings[ident] = name(new)
        zero = call(self.ns.helper("zero_like"), name(stmt.target))
        stmts, expr, folded = instantiate(trule, bindings, active, zero, self.names.fresh)
        expr = simplify(_drop_defaults(expr, trule.defaults, objects))
        expr = transform(expr, {ast.Call: self.trimmed, ast.BinOp: _doubled})
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
        if stmt.target in present or id(prim) in TAKES_CONTAINERS:
            widening = []  # (a container of adjoints, add_at's, is never broadcast)
        if widening and not stmt.scalar and shape in (BROADCAST, UNKNOWN, None):
            if not (shape == BROADCAST and self.full_shaped(stmt.target, trule, bindings, active)):
                expr = call(self.ns.helper("broadcast_like"), expr, name(stmt.target))
        return [*stmts, assign(dy, expr)]


def forward_negations(node: ast.FunctionDef, tangents: set[str]) -> None:
    """Write each tangent statement ``dy = -dx`` into the one statement that reads
    ``dy``, when that is a later assignment of the same block and ``dx`` keeps its
    value until then: the minus sign then goes into a subtraction there
    (``a * b + c * -dx`` is ``a * b - c * dx``, see ``optimize.simplify``), which costs
    no pass over an array of its own. (The tangent rule of ``-x`` is ``-dx``, and the
    generated gradient negates often.)"""
    loads: dict[str, int] = {}
    stores: dict[str, int] = {}
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            table = loads if isinstance(n.ctx, ast.Load) else stores
            table[n.id] = table.get(n.id, 0) + 1
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        for block in (body, getattr(n, "orelse", None)):
            if isinstance(block, list) and block and not isinstance(block[0], ast.expr):
                _forward_in_block(block, tangents, loads, stores)


def _forward_in_block(block: list, tangents: set[str], loads: dict, stores: dict) -> None:
    i = 0
    while i < len(block):
        stmt = block[i]
        negated = _negation(stmt, tangents)
        if negated is None or loads.get(negated[0]) != 1 or stores.get(negated[0]) != 1:
            i += 1
            continue
        target, source = negated
        for j in range(i + 1, len(block)):
            later = block[j]
            if not isinstance(later, ast.AST):
                continue  # (a comment line)
            if target in names_in(later, loads_only=True):
                if isinstance(later, ast.Assign) and target in names_in(later.value):
                    minus = ast.UnaryOp(op=ast.USub(), operand=ast.Name(id=source, ctx=ast.Load()))
                    later.value = simplify(substituted(later.value, {target: minus}))
                    del block[i]
                    i -= 1
                break
            if any(
                isinstance(t, ast.Name) and t.id == source and isinstance(t.ctx, ast.Store)
                for t in ast.walk(later)
            ):
                break  # (dx assigned again before the reader)
        i += 1


def _negation(stmt: ast.stmt, tangents: set[str]) -> tuple[str, str] | None:
    """(dy, dx) for the tangent statement ``dy = -dx``."""
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and stmt.targets[0].id in tangents
        and isinstance(stmt.value, ast.UnaryOp)
        and isinstance(stmt.value.op, ast.USub)
        and isinstance(stmt.value.operand, ast.Name)
    ):
        return stmt.targets[0].id, stmt.value.operand.id
    return None


def _doubled(node: ast.BinOp) -> ast.expr:
    """``a * b + b * a`` (the product rule of ``x * x``) as ``2.0 * (a * b)``: one
    product fewer, and the same number (``a * b`` is ``b * a``, and doubling is exact)."""
    left, right = node.left, node.right
    if (
        isinstance(node.op, ast.Add)
        and isinstance(left, ast.BinOp)
        and isinstance(right, ast.BinOp)
        and isinstance(left.op, ast.Mult)
        and isinstance(right.op, ast.Mult)
        and ast.dump(left.left) == ast.dump(right.right)
        and ast.dump(left.right) == ast.dump(right.left)
        and not isinstance(left.left, ast.Constant)
        and not isinstance(left.right, ast.Constant)
    ):
        return ast.BinOp(left=ast.Constant(2.0), op=ast.Mult(), right=left)
    return node


def _drop_defaults(
    expr: ast.expr, defaults: dict[str, object], objects: dict[str, object]
) -> ast.expr:
    """``expr`` without the keyword arguments that repeat the template's default
    (``np.sum(da, axis=None, keepdims=False)`` is ``np.sum(da)``), unless the function
    called (looked up in ``objects``, the template's globals) has another default for
    that parameter: ``np.sum(t, axis=-1)`` in the rule of a function whose ``axis``
    defaults to -1 keeps its axis."""
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
                    and not _other_default(node.func, k.arg, k.value.value, objects)
                )
            ]
    return expr


def _other_default(func: ast.expr, param: str, value: object, objects: dict) -> bool:
    """Whether the function ``func`` names (``np.sum``) declares a default for ``param``
    other than ``value`` (False where that cannot be told)."""
    path = []
    while isinstance(func, ast.Attribute):
        path.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or func.id not in objects:
        return False
    fn = objects[func.id]
    for attr in reversed(path):
        fn = getattr(fn, attr, None)
    try:
        declared = inspect.signature(fn).parameters.get(param)
    except (TypeError, ValueError):
        return False
    if declared is None or declared.default is inspect.Parameter.empty:
        return False
    default = declared.default
    return type(default) in (int, float, bool, str, type(None)) and not (
        type(default) is type(value) and default == value
    )


def all_targets(body: list[Stmt]) -> set[str]:
    return set(_walk_assigns(body))


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


def tangent(
    fn: Function,
    wrt: list[str],
    link_session,
    front: Callable,
    facts: dict[str, object] | None = None,
    elements: dict | None = None,
) -> GeneratedJvp:
    """The jvp of the normalized ``fn`` with respect to ``wrt``; the jvps of the user
    functions it calls are in ``.helpers``. ``front`` takes a called function through
    the front of the pipeline: ``(src, kinds, link_session) -> ir.Function``;
    ``facts``, the shapes known of ``fn``'s names (``shapes.py``), if any; ``elements``,
    the only positions of a ``wrt`` tuple whose tangents are not zero (``wrt.py``)."""
    session = JvpSession(link_session, front)
    session.taken.add(f"jvp_{fn.name}")  # (a recursive call for other kinds: another name)
    forward = _Forward(fn, wrt, session, f"jvp_{fn.name}", elements)
    forward.facts = facts or {}
    gen = forward.run()
    gen.helpers = session.generated
    return gen


__all__ = ["MODES", "GeneratedJvp", "tangent"]
