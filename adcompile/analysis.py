"""Analyze: which values are active, i.e. need an adjoint.

A value is *varied* when it depends, through differentiable operands, on a
``wrt`` parameter, and *useful* when it reaches the result through
differentiable operands. Only values that are both (active) get adjoints;
everything else is a constant to the reverse sweep. Loops are analysed to a
fixed point, since a value carried around a loop can become varied (or useful)
only after an iteration.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field

import numpy as np

from . import rules
from .errors import AdCompileError
from .ir import Assign, CallPrim, Function, If, Loop, Return, Stmt, names_in, walk
from .rules import containers
from .rules.containers import ContainerPrim
from .rules.record import DROPS, MAKES
from .rules.runtime_rules import FORWARD_ONLY


@dataclass
class Activity:
    varied: set[str]
    useful: set[str]
    complex: set[str] = field(default_factory=set)  # names that may hold complex values

    def active(self, name: str) -> bool:
        return name in self.varied and name in self.useful

    def active_expr(self, expr: ast.expr) -> bool:
        return any(self.active(n) for n in names_in(expr))


def differentiable_operands(stmt: Assign) -> dict[str, ast.expr]:
    """The operands of ``stmt`` that receive a cotangent contribution."""
    prim = stmt.prim
    if prim is None:
        return {}
    differentiable = getattr(prim, "differentiable", None)
    if differentiable is not None:  # structural primitives and calls
        return {p: e for p, e in stmt.operands.items() if differentiable(p)}
    rule = rules.lookup(prim)
    if rule is None:
        return {}
    return {p: e for p, e in stmt.operands.items() if rule.differentiable(p)}


def _operand_names(body: list[Stmt]) -> dict[int, set[str]]:
    """The names each assignment of ``body`` (by id) reads through its differentiable
    operands: computed once, for every pass of the fixed points below."""
    out: dict[int, set[str]] = {}
    for stmt in walk(body):
        if isinstance(stmt, Assign):
            names: set[str] = set()
            for expr in differentiable_operands(stmt).values():
                names |= names_in(expr)
            out[id(stmt)] = names
    return out


def _varied(
    body: list[Stmt], varied: set[str], reads: dict[int, set[str]], only: dict | None = None
) -> None:
    for stmt in body:
        if isinstance(stmt, Assign):
            if not reads[id(stmt)].isdisjoint(varied) and not (
                only and _unchosen_element(stmt, varied, reads[id(stmt)], only)
            ):
                varied.add(stmt.target)
        elif isinstance(stmt, If):
            _varied(stmt.body, varied, reads, only)
            _varied(stmt.orelse, varied, reads, only)
            for join, a, b in stmt.joins:
                if (names_in(a) | names_in(b)) & varied:
                    varied.add(join)
        elif isinstance(stmt, Loop):
            while True:
                size = len(varied)
                for name, before, end in stmt.carried:
                    if (names_in(before) | names_in(end)) & varied:
                        varied.add(name)
                _varied(stmt.body, varied, reads, only)
                if len(varied) == size:
                    break


def _unchosen_element(stmt: Assign, varied: set[str], reads: set[str], only: dict) -> bool:
    """Whether ``stmt`` reads, at a constant position, an element of a ``wrt`` tuple that
    is differentiated only at other positions (``wrt='args[1]'``), and nothing else
    varied: its result is then a constant. Any other use of such a tuple (passed whole,
    iterated) varies with it."""
    if stmt.prim is containers.GET:
        c, index = stmt.operands.get("c"), stmt.operands.get("index")
    elif stmt.prim is operator.getitem:  # (the general code, which reads it as an array)
        c, index = stmt.operands.get("a"), stmt.operands.get("index")
    else:
        return False
    if not isinstance(c, ast.Name) or c.id not in only or not isinstance(index, ast.Constant):
        return False
    if type(index.value) is not int or (reads & varied) != {c.id}:
        return False
    chosen, length = only[c.id]
    position = index.value + length if index.value < 0 and length is not None else index.value
    return position >= 0 and position not in chosen


def _tuple_length(kind: object) -> int | None:
    if isinstance(kind, tuple) and kind and kind[0] == "tuple":
        return len(kind[1])
    return None


def _useful(body: list[Stmt], useful: set[str], reads: dict[int, set[str]]) -> None:
    for stmt in reversed(body):
        if isinstance(stmt, Return):
            useful |= names_in(stmt.value)
        elif isinstance(stmt, Assign):
            if stmt.target in useful:
                useful |= reads[id(stmt)]
        elif isinstance(stmt, If):
            for join, a, b in stmt.joins:
                if join in useful:
                    useful |= names_in(a) | names_in(b)
            _useful(stmt.body, useful, reads)
            _useful(stmt.orelse, useful, reads)
        elif isinstance(stmt, Loop):
            while True:
                size = len(useful)
                for name, before, end in stmt.carried:
                    if name in useful:
                        useful |= names_in(before) | names_in(end)
                _useful(stmt.body, useful, reads)
                if len(useful) == size:
                    break


def activity(fn: Function, wrt: list[str], elements: dict | None = None) -> Activity:
    """What gets an adjoint when differentiating with respect to the parameters ``wrt``;
    ``elements`` maps a tuple parameter of them to the only positions of it that are
    differentiated (the others are constants)."""
    reads = _operand_names(fn.body)
    varied = set(wrt)
    only = {p: (set(e), _tuple_length(fn.kinds.get(p))) for p, e in (elements or {}).items()}
    _varied(fn.body, varied, reads, only)
    varied -= invariant_shifts(fn)
    useful: set[str] = set()
    _useful(fn.body, useful, reads)
    _check_constant_operands(fn.body, varied, useful)
    complex_names = complex_values(fn)
    if complex_names - set(fn.globals):
        _check_complex(fn, varied, useful, complex_names)
    return Activity(varied=varied, useful=useful, complex=complex_names)


def _is_complex_object(value: object) -> bool:
    return isinstance(value, complex | np.complexfloating) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "c"
    )


def complex_values(fn: Function) -> set[str]:
    """The names that may hold complex values: the results of primitives that make
    them (a Fourier transform), and of any other that is given one, except those
    whose result is real (``np.abs``); complex globals too. Arguments are real (the
    gradient refuses complex ones, api.py)."""
    out = {n for n, v in fn.globals.items() if n not in fn.params and _is_complex_object(v)}
    _complex_block(fn, fn.body, out)
    return out


def _complex_block(fn: Function, body: list[Stmt], out: set[str]) -> None:
    """Add to ``out`` the names of ``body`` that may hold complex values: one pass in
    the order of the statements (a value is made before it is read), to a fixed point
    only around loops, whose carried values come back."""

    def is_complex(expr: ast.expr) -> bool:
        if type(expr) is ast.Constant:
            return isinstance(expr.value, complex)
        return bool(out) and bool(names_in(expr) & out)

    for stmt in body:
        if isinstance(stmt, Assign):
            if stmt.prim is None:  # a constant expression, of several calls maybe
                made = _expression_is_complex(fn, stmt.value, out)
            else:
                record = rules.record_of(stmt.prim)
                kind = record.on_complex if record is not None else None
                made = kind == MAKES or (
                    kind != DROPS and any(is_complex(e) for e in stmt.operands.values())
                )
            if made:
                out.add(stmt.target)
        elif isinstance(stmt, If):
            _complex_block(fn, stmt.body, out)
            _complex_block(fn, stmt.orelse, out)
            for join, a, b in stmt.joins:
                if is_complex(a) or is_complex(b):
                    out.add(join)
        elif isinstance(stmt, Loop):
            while True:
                size = len(out)
                for name, before, end in stmt.carried:
                    if is_complex(before) or is_complex(end):
                        out.add(name)
                _complex_block(fn, stmt.body, out)
                if len(out) == size:
                    break


def _resolve(fn: Function, node: ast.expr) -> object:
    """The object a name or dotted name of ``fn``'s globals means (None if not one)."""
    if isinstance(node, ast.Name):
        return fn.globals.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(fn, node.value)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


def _expression_is_complex(fn: Function, node: ast.AST, complex_names: set[str]) -> bool:
    """Whether an expression of several operations may be complex."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, complex)
    if isinstance(node, ast.Name):
        return node.id in complex_names
    if isinstance(node, ast.Call):
        record = rules.record_of(_resolve(fn, node.func))
        if record is not None and record.on_complex == MAKES:
            return True
        if record is not None and record.on_complex == DROPS:
            return False
    return any(
        _expression_is_complex(fn, child, complex_names) for child in ast.iter_child_nodes(node)
    )


def _sign_of_complex(fn: Function, node: ast.AST, complex_names: set[str]) -> bool:
    """Whether ``node`` takes np.sign of a value that may be complex: z / |z|, which is
    not piecewise constant (the compiler, reading np.sign as such, would take the
    expression for a constant)."""
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and _resolve(fn, call.func) is np.sign:
            if any(_expression_is_complex(fn, a, complex_names) for a in call.args):
                return True
    return False


def _check_complex(
    fn: Function, varied: set[str], useful: set[str], complex_names: set[str]
) -> None:
    """Refuse a differentiated value that may be complex where no rule is right for it:
    an operand of a primitive whose adjoint is for real values only, of a container,
    of a call of a user function, or the result."""

    def complex_operands(stmt: Assign) -> list[str]:
        return [p for p, e in stmt.operands.items() if names_in(e) & complex_names]

    for stmt in walk(fn.body):
        if isinstance(stmt, Return):
            if names_in(stmt.value) & complex_names & varied:
                raise AdCompileError(
                    "the function returns a value that may be complex: adcompile "
                    "differentiates real results of real inputs",
                    stmt.loc,
                    hint="return a real value computed from it: np.abs, np.real or np.imag",
                )
            continue
        if not isinstance(stmt, Assign) or stmt.target not in useful:
            continue
        if stmt.prim is None:
            if names_in(stmt.value) & varied and _sign_of_complex(fn, stmt.value, complex_names):
                raise AdCompileError(
                    "np.sign is given a value that may be complex (computed by a Fourier "
                    "transform): there it is z / |z|, which is not piecewise constant",
                    stmt.loc,
                    hint="write z / np.abs(z) for the complex sign",
                )
            continue
        found = complex_operands(stmt)
        if not found:
            continue
        # a piecewise-constant primitive passes no cotangent, but is it constant?
        relevant = stmt.target in varied or any(names_in(stmt.operands[p]) & varied for p in found)
        if not relevant:
            continue
        if isinstance(stmt.prim, ContainerPrim | CallPrim):
            what = (
                f"the function {stmt.prim.source.name}"
                if isinstance(stmt.prim, CallPrim)
                else "a list, tuple or dict"
            )
            raise AdCompileError(
                f"a value that may be complex is passed to {what}, which adcompile does not "
                "differentiate for complex values",
                stmt.loc,
                hint="pass real values (np.real(z), np.imag(z)) and combine them again "
                "where they are used",
            )
        record = rules.record_of(stmt.prim)
        if record is None or not record.complex_ok:
            name = rules.registry.primitive_name(stmt.prim)
            raise AdCompileError(
                f"{name} is given a value that may be complex (computed by a Fourier "
                "transform), and its adjoint rule is for real values only",
                stmt.loc,
                hint="take np.abs, np.real or np.imag of the complex value first, or "
                "register a rule: docs/numerics.md lists the functions with rules for "
                "complex values",
            )


def _check_constant_operands(body: list[Stmt], varied: set[str], useful: set[str]) -> None:
    """Refuse a gradient that would flow through an operand whose derivative the
    primitive's rule does not give (its record's ``constant``): it is not zero."""
    for stmt in walk(body):
        if not isinstance(stmt, Assign) or stmt.target not in useful:
            continue
        if stmt.effect == "draw" and stmt.reads() & varied:
            raise AdCompileError(
                "this random draw's arguments depend on a differentiated input: the sample "
                "is taken as a constant, but its derivative with respect to them is not zero",
                stmt.loc,
                hint="draw from the standard distribution and transform the sample "
                "(mu + sigma * rng.standard_normal(mu.shape)), which is differentiated",
            )
        record = rules.record_of(stmt.prim) if stmt.prim is not None else None
        for param in record.constant if record is not None else ():
            operand = stmt.operands.get(param)
            if operand is not None and names_in(operand) & varied:
                name = rules.lookup(stmt.prim).name
                raise AdCompileError(
                    f"{name} is not differentiated with respect to its argument {param}, "
                    "which here depends on a differentiated input",
                    stmt.loc,
                    hint=f"pass a {param} that does not depend on the inputs in wrt, or "
                    f"register a rule that differentiates {param}: see docs/custom-rules.md",
                )


def check_reverse(body: list[Stmt], act: Activity) -> None:
    """Refuse, in reverse mode, a varied and useful call of a runtime helper that only
    forward mode differentiates (the helpers that fill containers of adjoints, see
    rules/runtime_rules.py): the gradient of a gradient with container parameters."""
    for stmt in walk(body):
        if (
            isinstance(stmt, Assign)
            and stmt.target in act.useful
            and stmt.target in act.varied
            and id(stmt.prim) in FORWARD_ONLY
        ):
            name = rules.lookup(stmt.prim).name
            raise AdCompileError(
                f"the gradient of this gradient would go through {name}, which fills the "
                "adjoint of a list, tuple or dict parameter: reverse mode does not "
                "differentiate it",
                stmt.loc,
                hint="take the second derivative forward over reverse: ad.hvp(f) or "
                "ad.jvp(ad.grad(f)), which handle container parameters",
            )


def written_chain(body: list[Stmt], end: ast.expr, start: str) -> bool:
    """Whether the value ``end`` at the end of ``body`` is reached from ``start`` by
    element assignments alone (``x_2 = setitem(x_1, ...)``, loops of ``body`` that
    carry the array through such writes, and ifs whose two branches do), with at
    least one write."""
    n = _written_from(body, end)
    return n is not None and n[0] == start and n[1] > 0


def _written_from(body: list[Stmt], end: ast.expr) -> tuple[str, int] | None:
    """(the value ``end`` is reached from by writes alone in ``body``, how many steps),
    or None when something else makes it."""
    if not isinstance(end, ast.Name):
        return None
    defs = {s.target: s for s in body if isinstance(s, Assign)}
    loops = {c: (before, e, s) for s in body if isinstance(s, Loop) for c, before, e in s.carried}
    joins = {j: (a, b, s) for s in body if isinstance(s, If) for j, a, b in s.joins}
    n, steps = end.id, 0
    while True:
        if n in defs and defs[n].prim is containers.SETITEM:
            n = defs[n].operands["x"].id
        elif n in loops and isinstance(loops[n][0], ast.Name):
            before, inner_end, loop = loops[n]
            if not written_chain(loop.body, inner_end, n):
                return None
            n = before.id
        elif n in joins:
            a, b, branch = joins[n]
            ends = [_written_from(branch.body, a), _written_from(branch.orelse, b)]
            if None in ends or ends[0][0] != ends[1][0]:
                return None
            n = ends[0][0]
        else:
            return n, steps
        steps += 1


# ------------------------------------------------------ shifts the result does not see

_EXTREMA = (np.max, np.amax, np.min, np.amin)


def invariant_shifts(fn: Function) -> set[str]:
    """The reductions ``m = x.max(axis=k, keepdims=True)`` (or ``min``) that the
    function's result does not depend on in exact arithmetic, as the shift of a stable
    log-sum-exp: ``m`` reaches the result only through values of the form
    ``b + c * m``, with ``c`` a known integer (``x - m``, their sums and differences,
    ``log(sum(exp(v), axis=k, keepdims=True))`` of one, since ``m`` is constant along
    ``k``), every one of which is read only by such operations until ``c`` is zero:
    ``m + log(sum(exp(x - m)))`` and ``(x - m) - log(sum(exp(x - m)))`` do not
    change with ``m``. The derivative through ``m`` is then zero, so ``m`` is taken as
    a constant (its max's adjoint, zero but for rounding, is not computed).

    Only straight-line statements of the function's own body count; any other read of
    such a value (in a loop, a branch, the return, another operation) keeps ``m``
    differentiated as usual."""
    top = {id(s) for s in fn.body}
    readers: dict[str, list] = {}
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign):
            used = set().union(*(names_in(e) for e in stmt.operands.values()))
        elif isinstance(stmt, If):
            used = names_in(stmt.test) | {
                n for _, a, b in stmt.joins for n in names_in(a) | names_in(b)
            }
        elif isinstance(stmt, Loop):
            used = {n for _, b, e in stmt.carried for n in names_in(b) | names_in(e)}
            used |= names_in(stmt.iter) if stmt.iter is not None else set()
            used |= names_in(stmt.test) if stmt.test is not None else set()
        elif isinstance(stmt, Return):
            used = names_in(stmt.value)
        else:
            continue
        for n in used:
            readers.setdefault(n, []).append(stmt)
    out = set()
    for stmt in fn.body:
        if isinstance(stmt, Assign) and any(stmt.prim is f for f in _EXTREMA):
            ops = stmt.operands
            x, axis, keep = ops.get("a"), ops.get("axis"), ops.get("keepdims")
            if (
                isinstance(x, ast.Name)
                and isinstance(axis, ast.Constant)
                and type(axis.value) is int
                and isinstance(keep, ast.Constant)
                and keep.value is True
                and _shift_cancels(stmt.target, x.id, axis.value, fn.body, readers, top)
            ):
                out.add(stmt.target)
    return out


def _shift_cancels(
    m: str, x: str, axis: int, body: list[Stmt], readers: dict, top: set[int]
) -> bool:
    """Whether every value made from ``m`` is ``b + c * m`` (``("add", c)``) or
    ``b * exp(c * m)`` (``("mul", c)``) and is read only by the operations that keep
    that form, until ``c`` is zero (see :func:`invariant_shifts`). One pass over the
    body in order: straight-line code reads a value after it is made."""
    form: dict[str, tuple[str, int]] = {m: ("add", 1)}
    tracked = {m}  # values with c != 0
    for stmt in body:
        if not isinstance(stmt, Assign) or stmt.target in form:
            continue
        if not set().union(*(names_in(e) for e in stmt.operands.values())) & tracked:
            continue
        made = _form_of(stmt, form, x, axis)
        if made is None:
            return False
        form[stmt.target] = made
        if made[1] != 0:
            tracked.add(stmt.target)
    # every read of a value that still depends on m is one of those operations
    return all(
        id(r) in top and isinstance(r, Assign) and r.target in form
        for v in tracked
        for r in readers.get(v, [])
    )


def _form_of(stmt: Assign, form: dict, x: str, axis: int) -> tuple[str, int] | None:
    prim, ops = stmt.prim, stmt.operands
    if prim is np.add or prim is np.subtract:
        if set(ops) != {"x", "y"}:
            return None
        sides = []
        for key in ("x", "y"):
            e = ops.get(key)
            if isinstance(e, ast.Name) and e.id in form:
                sides.append(form[e.id])
            elif isinstance(e, ast.Name) and e.id == x:
                sides.append(("add", 0))  # x itself: m's shape broadcasts against it
            else:
                return None
        if any(kind != "add" for kind, _ in sides):
            return None
        c = sides[0][1] + sides[1][1] if prim is np.add else sides[0][1] - sides[1][1]
        return ("add", c)
    if prim in (np.exp, np.log) and set(ops) != {"x"}:
        return None
    operand = ops.get("x") if prim in (np.exp, np.log) else ops.get("a")
    if not (isinstance(operand, ast.Name) and operand.id in form):
        return None
    kind, c = form[operand.id]
    if prim is np.exp and kind == "add":
        return ("mul", c)
    if prim is np.log and kind == "mul":
        return ("add", c)
    if prim is np.sum and kind == "mul":
        a, keep = ops.get("axis"), ops.get("keepdims")
        if (
            isinstance(a, ast.Constant)
            and type(a.value) is int
            and a.value == axis
            and isinstance(keep, ast.Constant)
            and keep.value is True
            and set(ops) <= {"a", "axis", "keepdims"}
        ):
            return ("mul", c)
    return None
