"""Instantiating adjoint rules: the reverse code of one statement.

For a primitive, the rule's template is copied with the program's variables put
for its parameters (``rules.instantiate``), its helper calls tidied and its
arithmetic simplified, and each contribution is summed back to its operand's
shape where numpy may have broadcast the operand, then accumulated. Containers
(``c[k]``, list and tuple displays, append, ``sum``) and calls of user functions
(through their generated pullback pair, see ``link.py``) have structural
adjoints written here directly.
"""

from __future__ import annotations

import ast
import copy
import dataclasses

import numpy as np

from .. import rules
from ..analysis import differentiable_operands
from ..errors import AdCompileError
from ..generated import Namespace, call, name, store
from ..ir import Assign, CallPrim, OdeintPrim, contains, names_in, transform
from ..optimize import SIMPLIFY_HOOKS, drop_unit_factor, simplify
from ..rules import containers
from ..rules.containers import LEAF, ContainerPrim
from ..rules.registry import lookup_specialized, selection
from .output import Output
from .peephole import drop_broadcasts, is_broadcast_to, sum_call, tidy_call
from .program import Program, python_valued_call
from .saving import Saving
from .state import Adjoints


def same_operands(stmt: Assign, wanted: list[str]) -> tuple[Assign, list[str], bool]:
    """Two binary operations differentiated as the unary primitive they compute, whose
    rule is the same number written with fewer operations or fewer kept values:

    * ``x * x`` as ``np.square(x)``: one contribution ``dz * 2 * x`` rather than
      ``dz * x`` added to ``dz * x``, reading the cotangent once (so that a pending
      one is inlined);
    * ``1 / x`` as ``np.reciprocal(x)``: ``-dz * z * z`` reads the result only, so the
      denominator need not be kept (``1 / (1 + np.exp(-h))`` keeps the sigmoid alone).

    The flag says that the result is inexact (a true division's)."""
    ops = stmt.operands
    if stmt.prim is np.multiply and len(wanted) == 2:
        x, y = ops["x"], ops["y"]
        if isinstance(x, ast.Name) and isinstance(y, ast.Name) and x.id == y.id:
            return dataclasses.replace(stmt, prim=np.square, operands={"x": x}), ["x"], False
    if stmt.prim is np.true_divide and wanted == ["y"]:
        x = ops["x"]
        if isinstance(x, ast.Constant) and type(x.value) in (int, float) and x.value == 1:
            one = dataclasses.replace(stmt, prim=np.reciprocal, operands={"x": ops["y"]})
            return one, ["x"], True
    return stmt, wanted, False


def copy_index(index: ast.expr) -> ast.expr:
    return copy.deepcopy(index)


# the operators whose Python-number form raises where numpy's gives inf or NaN
_SCALAR_HELPERS = {
    ast.Div: "scalar_divide",
    ast.Pow: "scalar_power",
    ast.Mod: "scalar_mod",
    ast.FloorDiv: "scalar_floor_divide",
}


class Rules:
    """Emits the adjoint code of single statements into the accumulation state."""

    def __init__(
        self,
        program: Program,
        ns: Namespace,
        output: Output,
        adjoints: Adjoints,
        saving: Saving,
        session=None,
    ) -> None:
        self.program = program
        self.ns = ns
        self.output = output
        self.adjoints = adjoints
        self.saving = saving
        self.session = session
        self._hooks = {ast.Call: self._tidy_call, **SIMPLIFY_HOOKS}

    def statement(self, stmt: Assign) -> None:
        """The reverse of ``stmt``, whose target's adjoint is known."""
        act = self.program.act
        wanted = [p for p, e in differentiable_operands(stmt).items() if act.active_expr(e)]
        if not wanted:
            return
        adjoints = self.adjoints
        adjoints.current_loc, adjoints.inlined_locs = stmt.loc, []
        self.output.comment(stmt.loc)
        try:
            self.differentiate(stmt, wanted)
        finally:
            adjoints.current_loc, adjoints.inlined_locs, self.output.want = None, [], []

    def differentiate(self, stmt: Assign, wanted: list[str]) -> None:
        if isinstance(stmt.prim, OdeintPrim):
            return self.odeint_statement(stmt, wanted)
        if not isinstance(stmt.prim, ContainerPrim | CallPrim):
            stmt, wanted, inexact = same_operands(stmt, wanted)
            return self.rule_statement(stmt, wanted, inexact)
        # c[k] passes its cotangent on once, so a pending one goes in as it is
        dy = self.adjoints.cotangent(stmt.target, 1 if stmt.prim is containers.GET else 2)
        if isinstance(stmt.prim, ContainerPrim):
            self.container_statement(stmt, wanted, dy)
            return
        self.call_statement(stmt, wanted, dy)

    def rule_statement(self, stmt: Assign, wanted: list[str], inexact: bool = False) -> None:
        """The reverse of a primitive's statement, by its rule; ``inexact`` says that
        the result is a float (or complex) array whatever the operands' dtypes."""
        rule = rules.lookup(stmt.prim)
        if rule is None:
            raise AdCompileError("internal: active value without a rule", stmt.loc)
        # complex values (analysis.py): the rule for complex operands where there is one,
        # and the real part of a contribution to a real operand of a complex result
        complex_names = self.program.act.complex
        real_part = stmt.target in complex_names
        record = rules.record_of(stmt.prim) if complex_names else None
        if (
            record is not None
            and record.complex_rule is not None
            and any(names_in(e) & complex_names for e in stmt.operands.values())
        ):
            rule = record.complex_rule
        else:
            shapes = [self.program.shape(stmt.operands[p]) for p in rule.params]
            rule = lookup_specialized(stmt.prim, shapes) or rule
        uses = selection(rule, tuple(wanted))[2]
        dy = self.adjoints.cotangent(stmt.target, uses)
        bindings: dict[str, ast.expr] = {rule.cotangent: dy, rule.output: name(stmt.target)}
        for p in rule.params:
            bindings[p] = stmt.operands[p]
        for ident, obj in rule.free.items():
            new = self.ns.free_name(ident, obj)
            if new != ident:
                bindings[ident] = name(new)
        # the helper calls tidied and the arithmetic simplified as the template is copied
        prelude, contributions = rules.instantiate(
            rule, bindings, wanted, self.ns.fresh, self._hooks
        )
        if not rule.operators.isdisjoint(_SCALAR_HELPERS):
            # (else there is no operator for it to rewrite: what the template's parameters
            # are bound to are atoms, and cotangents made by rules it rewrote already)
            prelude = [self.numpy_arithmetic(s) for s in prelude]
            contributions = {p: self.numpy_arithmetic(c) for p, c in contributions.items()}
        if inexact:
            # a product with a float result among its factors is a float whatever the
            # others are: 1.0 * a * z is a * z exactly
            if self.program.shapes:
                contributions = {
                    p: self.adjoints.without_broadcasts(c) for p, c in contributions.items()
                }
            contributions = {p: drop_unit_factor(c) for p, c in contributions.items()}
        prelude = [self.without_broadcasts(s) for s in prelude]
        for node in prelude:
            self.output.put(node)
        for p in wanted:
            operand = stmt.operands[p]
            c = contributions[p]
            if isinstance(operand, ast.Tuple):
                self.unpack(operand.elts, c, real_part=real_part)
            elif isinstance(operand, ast.Name):
                if real_part and operand.id not in complex_names:
                    c = call(self.ns.np_attr("real"), c)
                if self.program.kind(operand.id) != LEAF:
                    self.adjoints.accumulate(operand.id, call(self.ns.helper("as_list"), c), True)
                    continue
                if rule.broadcasts and self.may_broadcast(stmt, p):
                    c = self.sum_to(c, stmt, operand)
                elif rule.unsure_shapes and self.may_broadcast(stmt, p, arrays_only=True):
                    c = call(self.ns.helper("unbroadcast"), c, operand)
                self.adjoints.accumulate(operand.id, c, simplified=True)

    def without_broadcasts(self, stmt: ast.stmt) -> ast.stmt:
        """A prelude assignment with the broadcasts numpy's own broadcasting does
        dropped from its products (as an accumulated contribution's are)."""
        if (
            self.program.shapes
            and isinstance(stmt, ast.Assign)
            and contains(stmt.value, is_broadcast_to)
        ):
            known = self.adjoints.factor_shapes()
            stmt.value = simplify(drop_broadcasts(stmt.value, known))
        return stmt

    def _tidy_call(self, node: ast.Call) -> ast.expr:
        return tidy_call(node, self.ns.namespace, self.program.shape, self.ns.np_attr)

    def numpy_arithmetic(self, node: ast.AST) -> ast.AST:
        """``node`` with each ``/``, ``**``, ``%`` and ``//`` between operands that may
        both be Python numbers made a call of the runtime helper that gives numpy's
        result where Python would raise (``0.0 ** -0.5`` is inf, not ZeroDivisionError).
        Operations with an array or numpy scalar on either side already follow numpy
        and are left as they are."""

        def binop(n: ast.BinOp) -> ast.expr:
            if (
                type(n.op) in _SCALAR_HELPERS
                and self.may_be_python_number(n.left)
                and self.may_be_python_number(n.right)
            ):
                return call(self.ns.helper(_SCALAR_HELPERS[type(n.op)]), n.left, n.right)
            return n

        return transform(node, {ast.BinOp: binop})

    def may_be_python_number(self, e: ast.expr) -> bool:
        """Whether ``e`` may evaluate to a Python int or float (rather than an array or a
        numpy scalar), as far as the forward program's data flow tells."""
        if isinstance(e, ast.Constant):
            return isinstance(e.value, int | float)
        if isinstance(e, ast.Name):
            if e.id in self.program.forward_names:
                return e.id in self.program.python_numbers
            # an adjoint has the shape of its value: one of an array is an array
            shape = self.program.shapes.get(self.adjoints.primal_of.get(e.id, ""))
            return not (isinstance(shape, tuple) and shape != ())
        if isinstance(e, ast.BinOp):
            return self.may_be_python_number(e.left) and self.may_be_python_number(e.right)
        if isinstance(e, ast.UnaryOp):
            return self.may_be_python_number(e.operand)
        if isinstance(e, ast.IfExp):
            return self.may_be_python_number(e.body) or self.may_be_python_number(e.orelse)
        if isinstance(e, ast.Call):
            return python_valued_call(e.func, self.ns.namespace)
        return not isinstance(e, ast.Attribute)

    def container_statement(self, stmt: Assign, wanted: list[str], dy: ast.expr) -> None:
        prim, ops = stmt.prim, stmt.operands
        accumulate, helper = self.adjoints.accumulate, self.ns.helper
        if prim is containers.GET:
            single = id(stmt) in self.saving.single_slots or id(stmt) in self.saving.first_slots
            self.adjoints.accumulate_at(ops["c"].id, ops["index"], dy, single)
        elif prim in (containers.BUILD_LIST, containers.BUILD_TUPLE) or isinstance(
            prim, containers.BuildDict
        ):
            keys = prim.keys if isinstance(prim, containers.BuildDict) else range(len(ops))
            for k, key in zip(keys, ops, strict=True):
                if key in wanted and isinstance(ops[key], ast.Name):
                    accumulate(ops[key].id, call(helper("part"), dy, ast.Constant(k), ops[key]))
        elif prim is containers.APPEND:
            if "x" in wanted:
                accumulate(ops["x"].id, call(helper("part"), dy, ast.Constant(-1), ops["x"]))
            if "c" in wanted:
                length = call(name(self.ns.free_name("len", len)), ops["c"])
                accumulate(ops["c"].id, call(helper("parts"), dy, length))
        elif prim is containers.SUM:  # sum(c) or sum(c, start)
            if "c" in wanted:
                accumulate(ops["c"].id, call(helper("spread"), dy, ops["c"]))
            if "start" in wanted and isinstance(ops["start"], ast.Name):
                accumulate(ops["start"].id, call(helper("unbroadcast"), dy, ops["start"]))
        elif prim is containers.SETITEM:
            self.setitem(stmt, wanted, dy)

    def setitem(self, stmt: Assign, wanted: list[str], dy: ast.expr) -> None:
        """The reverse of ``x_2 = setitem(x_1, index, v)``: ``v`` takes the written part
        of ``dx_2`` (of the elements numpy kept, summed back to ``v``'s shape), then
        ``dx_1`` is ``dx_2`` with that part zeroed: in place, when the gradient owns
        ``dx_2`` (so a loop writing one row of ``H`` per step costs one row per step),
        else in a copy it then owns."""
        adjoints, helper = self.adjoints, self.ns.helper
        ops = stmt.operands
        index = ops["index"]
        if "v" in wanted:
            v = ops["v"].id
            if self.plain_row(stmt):
                # dy[i] has v's shape and names each element once: read as it is,
                # added at once (or copied), before the zeroing below
                part = ast.Subscript(value=dy, slice=copy_index(index), ctx=ast.Load())
                if v in adjoints.adj:
                    if v in adjoints.pending:  # (a pending sum would read dy[i] too late)
                        adjoints.flush(v)
                    adjoints.accumulate(v, part)
                else:
                    dv = adjoints.adjoint_name(v)
                    method = ast.Attribute(value=part, attr="copy", ctx=ast.Load())
                    value = ast.Call(func=method, args=[], keywords=[])
                    self.output.put(ast.Assign(targets=[store(dv)], value=value))
                    adjoints.adj[v] = name(dv)
                    adjoints.owned.add(v)
            else:
                part = call(helper("assigned_part"), dy, self.index_value(index), ops["v"])
                # assigned now: the zeroing below changes what dy holds
                if v not in adjoints.adj:
                    dv = adjoints.adjoint_name(v)
                    self.output.put(ast.Assign(targets=[store(dv)], value=part))
                    adjoints.adj[v] = name(dv)
                    adjoints.owned.add(v)
                else:
                    temp = self.ns.fresh("d" + v + "_part")
                    self.output.put(ast.Assign(targets=[store(temp)], value=part))
                    adjoints.accumulate(v, name(temp))
        if "x" not in wanted:
            return
        x = ops["x"].id
        if isinstance(dy, ast.Name) and stmt.target in adjoints.owned:
            buffer = dy.id
        else:
            buffer = adjoints.adjoint_name(x) if x not in adjoints.adj else self.ns.fresh("d" + x)
            copy = call(helper("writable_adjoint"), dy, name(stmt.target))
            self.output.put(ast.Assign(targets=[store(buffer)], value=copy))
        element = ast.Subscript(value=name(buffer), slice=copy_index(index), ctx=ast.Store())
        self.output.put(ast.Assign(targets=[element], value=ast.Constant(0.0)))
        adjoints.owned.discard(stmt.target)
        if x in adjoints.adj:
            adjoints.accumulate(x, name(buffer))
            return
        adjoints.adj[x] = name(buffer)
        adjoints.owned.add(x)
        adjoints.adj_names.setdefault(x, buffer)

    def plain_row(self, stmt: Assign) -> bool:
        """Whether ``x[i] = v`` writes one row with an integer ``i`` (an int constant or a
        loop counter) and ``v`` of the row's known shape, a dy[i] that is v's adjoint."""
        ops = stmt.operands
        index, v, x = ops["index"], ops["v"], ops["x"]
        whole = self.program.shape(x)
        integer = (isinstance(index, ast.Constant) and type(index.value) is int) or (
            isinstance(index, ast.Name) and self.program.shapes.get(index.id) == "int"
        )
        if not (integer and whole):
            return False
        return self.program.shape(v) == whole[1:] and v.id not in self.program.python_floats

    def index_value(self, index: ast.expr) -> ast.expr:
        """A subscript's index as a value (``np.s_[1:, j]``), for a helper's argument."""
        if isinstance(index, ast.Name | ast.Constant) and not (
            isinstance(index, ast.Constant) and index.value is Ellipsis
        ):
            return copy_index(index)
        return ast.Subscript(value=self.ns.np_attr("s_"), slice=copy_index(index), ctx=ast.Load())

    def call_statement(self, stmt: Assign, wanted: list[str], dy: ast.expr) -> None:
        """``bwd_f(y_saved, dy)`` for a call ``y = f(...)``; the forward sweep calls
        ``fwd_f`` and keeps ``y_saved`` (``Saving.call_saved``)."""
        prim: CallPrim = stmt.prim
        if self.session is None:
            raise AdCompileError("internal: a call needs a link session", stmt.loc)
        active = [p for p in prim.params if p in wanted]
        shapes = tuple(self.program.fact(stmt.operands[p]) for p in prim.params)
        pair = self.session.pair(prim.source, prim.kinds, active, shapes)
        saved = self.ns.fresh(stmt.target + "_saved")
        self.saving.call_saved[stmt.target] = (saved, pair.fwd)
        self.ns.namespace.setdefault(pair.fwd, None)
        self.ns.namespace.setdefault(pair.bwd, None)
        self.ns.locals |= {saved}
        value = call(name(pair.bwd), name(saved), dy)
        operands = [stmt.operands[p] for p in active]
        self.unpack(operands, value, tuple_target=len(operands) != 1)

    def odeint_statement(self, stmt: Assign, wanted: list[str]) -> None:
        """``dy0, dt, da = odeint_adjoint(fwd_f, bwd_f, ys, dys, y0, t, args, ...)`` for
        ``ys = odeint(f, y0, t, args=args, ...)``: the adjoint equations solved backwards
        in time with ``f``'s own pullback pair, which differentiates ``y`` and the
        wanted elements of ``args``."""
        prim: OdeintPrim = stmt.prim
        if self.session is None:
            raise AdCompileError("internal: odeint needs a link session", stmt.loc)
        ops = stmt.operands
        extras = [f"arg{i}" for i in range(prim.extras)]
        active = [i for i, p in enumerate(extras) if p in wanted]
        y, t = (1, 0) if prim.tfirst else (0, 1)
        wrt = [prim.params[y]] + [prim.params[2 + i] for i in active]
        y0 = self.program.shape(ops["y0"])
        first = [None, float]
        first[y] = None if y0 is None else (int(np.prod(y0)),)
        shapes = (*first, *(self.program.fact(ops[p]) for p in extras))
        pair = self.session.pair(prim.source, prim.kinds, wrt, shapes)
        self.ns.namespace.setdefault(pair.fwd, None)
        self.ns.namespace.setdefault(pair.bwd, None)
        dy = self.adjoints.cotangent(stmt.target, 2)  # (named: a long call reads it)
        args = ast.Tuple(elts=[ops[p] for p in extras], ctx=ast.Load())
        keywords = [ast.keyword(arg="wrt", value=ast.Tuple(elts=[ast.Constant(i) for i in active]))]
        if "t" in wanted:
            keywords.append(ast.keyword(arg="times", value=ast.Constant(True)))
        if prim.tfirst:
            keywords.append(ast.keyword(arg="tfirst", value=ast.Constant(True)))
        keywords += [ast.keyword(arg=k, value=ops[k]) for k in prim.options]
        value = call(
            self.ns.helper("odeint_adjoint"),
            name(pair.fwd),
            name(pair.bwd),
            name(stmt.target),
            dy,
            ops["y0"],
            ops["t"],
            args,
        )
        value.keywords = keywords
        operands = [ops["y0"], ops["t"], *(ops[extras[i]] for i in active)]
        self.unpack(operands, value)

    def unpack(
        self,
        operands: list[ast.expr],
        contribution: ast.expr,
        tuple_target: bool = True,
        real_part: bool = False,
    ) -> None:
        """``da_part, db_part = contribution``, each part then accumulated into its
        operand's adjoint (``_`` for an operand that is not active); a lone target
        unless ``tuple_target``; with ``real_part``, the real part of each part for a
        real operand."""
        targets = []
        parts = []
        for elt in operands:
            if isinstance(elt, ast.Name) and self.program.act.active(elt.id):
                temp = self.ns.fresh("d" + elt.id + "_part")
                targets.append(store(temp))
                parts.append((elt.id, temp))
            else:
                targets.append(store("_"))
        target = ast.Tuple(elts=targets, ctx=ast.Store()) if tuple_target else targets[0]
        self.output.put(ast.Assign(targets=[target], value=contribution))
        for x, temp in parts:
            if real_part and x not in self.program.act.complex:
                self.adjoints.accumulate(x, call(self.ns.np_attr("real"), name(temp)))
            else:
                self.adjoints.accumulate(x, name(temp))

    def may_broadcast(self, stmt: Assign, param: str, arrays_only: bool = False) -> bool:
        """Whether numpy may have broadcast operand ``param`` of ``stmt`` to a larger shape:
        not when the result is a scalar, nor when every other operand is one, nor when
        the known shapes of the operand and the result agree. With ``arrays_only``, other
        operands that are constants but tuples (None, a string: an option) do not count."""
        if stmt.scalar:
            return False
        mine, result = (
            self.program.shape(stmt.operands[param]),
            self.program.shapes.get(stmt.target),
        )
        if mine is not None and isinstance(result, tuple):
            return mine != result
        fn = self.program.fn
        return any(
            not fn.is_scalar(e)
            and not (arrays_only and type(e) is ast.Constant and type(e.value) is not tuple)
            for p, e in stmt.operands.items()
            if p != param
        )

    def sum_to(self, c: ast.expr, stmt: Assign, operand: ast.Name) -> ast.expr:
        """``c`` summed back to the shape of ``operand``: the exact sum when both shapes
        are known, ``unbroadcast`` otherwise."""
        mine, result = self.program.shape(operand), self.program.shapes.get(stmt.target)
        if mine is None or not isinstance(result, tuple):
            return call(self.ns.helper("unbroadcast"), c, operand)
        if mine == ():
            return call(self.ns.np_attr("sum"), c)
        # the result is a non-scalar array here, so its .sum method is at hand (and
        # cheaper than np.sum's Python-level dispatch)
        lead = len(result) - len(mine)
        kept = tuple(i for i, n in enumerate(mine) if n == 1 and result[lead + i] != 1)
        if lead:
            c = sum_call(c, tuple(range(lead)), keepdims=False)
        if kept:
            c = sum_call(c, kept, keepdims=True)
        return c
