"""What a loop (or a called function's pullback) saves, and what it recomputes.

Straight-line code needs no saving: normalization gave every intermediate its
own name, so the reverse sweep reads it directly. A loop body overwrites its
names each iteration, so it is a *saving region*: the values its reverse code
reads are appended, as one tuple of references, to a list of the loop's own at
the end of each forward iteration, and the reverse loop walks that list
backwards. Cheap scalar arithmetic whose operands are saved anyway is recomputed
in the reverse sweep instead of saved. A branch inside a loop, and a called
function's pullback, push onto one shared stack and pop from it.

``Saving`` also records the other facts the reverse sweep decides and the
forward sweep must honour: which calls keep a ``saved`` value, which loops have
a reverse loop, which element reads assign their adjoint rather than add to it.
"""

from __future__ import annotations

import ast

import numpy as np

from ..analysis import differentiable_operands
from ..generated import Namespace, assign, call, carry, name, store
from ..ir import Assign, Comment, If, Loop, Stmt, block_defs, names_in, nodes, walk
from ..origin import describe
from ..rules import containers
from ..rules.containers import LEAF
from ..rules.registry import record_of
from ..rules.template import substituted
from .output import Output
from .program import Program, resolve
from .slots import first_slot_reads

_CHEAP = (np.add, np.subtract, np.multiply, np.negative)


class Saving:
    """What saving regions save and recompute, and the other facts the reverse
    sweep decides for the forward one."""

    def __init__(self, program: Program, ns: Namespace, output: Output) -> None:
        self.program = program
        self.ns = ns
        self.output = output
        self.call_saved: dict[str, tuple[str, str]] = {}  # call target -> (saved name, fwd)
        self.recomputed: set[str] = set()  # values the reverse sweep computes again itself
        self.saved: dict[int, list[str]] = {}  # saving regions: id(block) -> names it pops
        self.has_reverse: set[int] = set()  # ids of loops with a reverse loop
        self.stack: str | None = None  # the shared stack, once something uses it
        # loops whose saved values go on a list of their own: id(loop) -> the list's name
        self.loop_lists: dict[int, str] = {}
        # reads c[i] of a loop over range(n) whose element i no other read touches, and
        # that no adjoint reached before the loop: the reverse assigns dc[i] = ...
        self.single_slots: set[int] = set()
        # reads c[k] whose element no other read, nor another iteration, reaches (see
        # slots.py): their contribution is the first at k, and is assigned too
        self.first_slots: set[int] = first_slot_reads(program.fn, program.shapes)
        # checkpointed loops: id(loop) -> its checkpoint.Plan
        self.checkpoints: dict[int, object] = {}

    # ------------------------------------------------------- the reverse side

    def save_block(self, body: list[Stmt], start: int, inputs: set[str], pop: bool) -> None:
        """Decide what the reverse code of the saving block ``body`` (emitted from
        ``output.out[start]`` on) reads from its forward, and start that code by
        popping the saved values (not with ``pop=False``: a loop body's reverse loop
        takes them from its own list) and recomputing the cheap ones."""
        out = self.output.out
        read = loads(out[start:])
        defs = block_defs(body) | set(inputs)
        defs |= {
            self.call_saved[s.target][0]
            for s in body
            if isinstance(s, Assign) and s.target in self.call_saved
        }
        defs |= {
            self.loop_lists[id(s)]
            for s in body
            if isinstance(s, Loop) and id(s) in self.loop_lists and id(s) not in self.checkpoints
        }
        for s in body:
            plan = self.checkpoints.get(id(s)) if isinstance(s, Loop) else None
            if plan is not None:
                defs |= {plan.stride, plan.snapshots, plan.index}
        saved = sorted(read & defs, key=_order(body))
        saved, remat = self.rematerialise(body, saved, defs)
        self.saved[id(body)] = saved
        self.recomputed.update(stmt.target for stmt in remat)
        remat = self.inline_recomputed(remat, start)
        head = [self.pop(saved)] if saved and pop else []
        named = None  # the source line last named
        for stmt in remat:
            line = describe(stmt.loc)
            if line != named:
                head.append(Comment(line))
                named = line
            head.append(assign(stmt.target, stmt.value))
        after = out[start] if start < len(out) else None
        if named is not None and isinstance(after, Comment) and after.text == named:
            del out[start]  # the line the recomputation already names
        out[start:start] = head

    def rematerialise(
        self, body: list[Stmt], saved: list[str], defs: set[str]
    ) -> tuple[list[str], list[Assign]]:
        """Which of a saving block's ``saved`` values to recompute in the reverse sweep
        rather than save: a scalar sum, difference, product or negation whose operands
        are saved anyway (or recomputed, or do not change in the block), such as
        ``y_2 = y_1 * x`` when ``y_1`` is saved. On Python floats recomputing costs
        less than a longer tuple to build and unpack, and it is exact: the same
        operation on the same values. Returns the values still saved, and the
        statements to recompute, in the block's order."""
        targets = {s.target: s for s in body if isinstance(s, Assign)}
        keep = list(saved)
        redo: dict[str, Assign] = {}

        def recomputable(n: str, plan: dict[str, Assign]) -> bool:
            """Whether ``n`` can be recomputed from what is kept or planned (adding to
            ``plan`` the cheap values it needs recomputed on the way)."""
            stmt = targets.get(n)
            if stmt is None or n in plan or not self.cheap_scalar(stmt):
                return n in plan
            plan[n] = stmt
            for r in stmt.reads():
                if r in defs and r not in keep and r not in redo and not recomputable(r, plan):
                    return False
            return True

        # only cheap scalar values are ever recomputed: the others are not tried
        # (trying each of thousands of saved arrays made this quadratic)
        cheap = {n for n in keep if n in targets and self.cheap_scalar(targets[n])}
        changed = bool(cheap)
        while changed:
            changed = False
            for i in range(len(keep) - 1, -1, -1):
                n = keep[i]
                if n not in cheap:
                    continue
                plan: dict[str, Assign] = {}
                del keep[i]
                if recomputable(n, plan):
                    redo.update(plan)
                    cheap -= set(plan)
                    changed = True
                    break
                keep.insert(i, n)
        if not redo:
            return saved, []
        order = {s.target: i for i, s in enumerate(body) if isinstance(s, Assign)}
        return keep, sorted(redo.values(), key=lambda s: order[s.target])

    def cheap_scalar(self, stmt: Assign) -> bool:
        """Whether ``stmt`` is a sum, difference, product or negation of atoms, or a
        ``math`` function of one, that provably gives a scalar (an arithmetic
        operator on numbers)."""
        value = stmt.value
        if self.math_call(stmt):
            parts = value.args
        elif not any(stmt.prim is f for f in _CHEAP):
            return False
        elif isinstance(value, ast.BinOp):
            parts = [value.left, value.right]
            if not isinstance(value.op, ast.Add | ast.Sub | ast.Mult):
                return False
        elif isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
            parts = [value.operand]
        else:
            return False
        if not all(isinstance(p, ast.Name | ast.Constant) for p in parts):
            return False
        is_scalar = self.program.is_scalar
        return is_scalar(stmt.target) and all(
            isinstance(p, ast.Constant) or is_scalar(p.id) for p in parts
        )

    def math_call(self, stmt: Assign) -> bool:
        """Whether ``stmt`` calls a function of ``math`` (``math.sin(y)``) on atoms: on
        a Python float, calling it again costs about what saving its result does."""
        value = stmt.value
        if not (isinstance(value, ast.Call) and value.args and not value.keywords):
            return False
        record = record_of(stmt.prim)
        func = resolve(value.func, self.program.fn.globals)
        return record is not None and any(func is f for f in record.on_floats)

    def inline_recomputed(self, remat: list[Assign], start: int) -> list[Assign]:
        """Write a recomputed value read once, by a statement of this block's reverse
        code (not in a loop inside it), into that statement (``math.cos(y_1 * x)``):
        on Python floats a statement costs more than the expression. Returns the
        recomputations still to assign."""
        out = self.output.out
        code = out[start:]
        kept: list[Assign] = []
        for k, stmt in enumerate(remat):
            later = remat[k + 1 :]
            reads = [
                i
                for i, s in enumerate(code)
                if isinstance(s, ast.AST) and stmt.target in names_in(s, loads_only=True)
            ]
            in_later = [r for r in later if stmt.target in names_in(r.value, loads_only=True)]
            top = reads and isinstance(code[reads[0]], ast.Assign | ast.AugAssign)
            if len(reads) == 1 and not in_later and top and _loads_once(code[reads[0]], stmt):
                i = reads[0]
                code[i] = substituted(code[i], {stmt.target: stmt.value})
                out[start + i] = code[i]
            elif len(in_later) == 1 and not reads and _loads_once(in_later[0].value, stmt):
                j = remat.index(in_later[0])
                remat[j] = with_value(
                    in_later[0], substituted(in_later[0].value, {stmt.target: stmt.value})
                )
            else:
                kept.append(stmt)
        return kept

    def pop(self, saved: list[str]) -> ast.stmt:
        """``a, b = stack.pop()``: the reverse side of ``push``."""
        self.stack = self.stack or self.ns.fresh("stack")
        pop = call(ast.Attribute(value=name(self.stack), attr="pop", ctx=ast.Load()))
        if len(saved) == 1:
            return assign(saved[0], pop)
        target = ast.Tuple(elts=[store(s) for s in saved], ctx=ast.Store())
        return ast.Assign(targets=[target], value=pop)

    def single_slot_reads(self, stmt: Loop, invariant: list[str]) -> dict[str, int]:
        """Containers from outside a loop over ``range(n)`` that its body reads only as
        ``c[i]``, ``i`` the loop's own index, once per iteration (not in a nested
        loop): each iteration touches its own element, so the reverse can assign that
        element's adjoint instead of adding to it. Container -> id of the read."""
        it = stmt.iter
        if not (
            stmt.target
            and isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and self.program.fn.globals.get(it.func.id) is range
            and len(it.args) == 1
            and not it.keywords
        ):
            return {}
        candidates = {x for x in invariant if self.program.kind(x) != LEAF}
        reads: dict[str, list[int]] = {x: [] for x in candidates}
        spoiled: set[str] = set()

        def visit(block: list[Stmt]) -> None:
            for s in block:
                if isinstance(s, Assign):
                    ops = differentiable_operands(s)
                    used = set().union(*(names_in(e) for e in ops.values())) if ops else set()
                    for x in used & candidates:
                        c, index = s.operands.get("c"), s.operands.get("index")
                        if (
                            s.prim is containers.GET
                            and isinstance(c, ast.Name)
                            and c.id == x
                            and isinstance(index, ast.Name)
                            and index.id == stmt.target
                        ):
                            reads[x].append(id(s))
                        else:
                            spoiled.add(x)
                elif isinstance(s, If):
                    for _, a, b in s.joins:
                        spoiled.update((names_in(a) | names_in(b)) & candidates)
                    visit(s.body)
                    visit(s.orelse)
                elif isinstance(s, Loop):
                    for inner in walk(s.body):
                        if isinstance(inner, Assign):
                            spoiled.update(inner.reads() & candidates)
                    for _, b, e in s.carried:
                        spoiled.update((names_in(b) | names_in(e)) & candidates)

        visit(stmt.body)
        for _, b, e in stmt.carried:
            spoiled.update((names_in(b) | names_in(e)) & candidates)
        return {x: ids[0] for x, ids in reads.items() if len(ids) == 1 and x not in spoiled}

    # ------------------------------------------------------- the forward side

    def push(self, body: list[Stmt], values: str | None = None) -> list[ast.stmt]:
        """Save what the reverse of ``body`` reads: onto the list ``values`` (a loop's
        own), or onto the shared stack."""
        saved = self.saved.get(id(body))
        if not saved:
            return []
        if values is None:
            self.stack = values = self.stack or self.ns.fresh("stack")
        value: ast.expr = (
            name(saved[0]) if len(saved) == 1 else ast.Tuple(elts=[name(s) for s in saved])
        )
        append = ast.Attribute(value=name(values), attr="append", ctx=ast.Load())
        return [ast.Expr(value=call(append, value))]


def carry_forward(carried: list) -> list[ast.stmt]:
    """The copies that end a forward iteration, ``c = end`` for each carried value
    ``(c, before, end)`` (see ``generated.carry``)."""
    return carry([(c, end) for c, _, end in carried])


def with_value(stmt: Assign, value: ast.expr) -> Assign:
    """``stmt`` computing ``value`` instead."""
    return Assign(
        target=stmt.target,
        value=value,
        prim=stmt.prim,
        operands=stmt.operands,
        loc=stmt.loc,
        scalar=stmt.scalar,
    )


def _loads_once(node: ast.AST, stmt: Assign) -> bool:
    """Whether ``node`` reads ``stmt.target`` once and does not assign it."""
    loads = stores = 0
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id == stmt.target:
            if isinstance(n.ctx, ast.Load):
                loads += 1
            else:
                stores += 1
    return loads == 1 and stores == 0


def loads(code: list) -> set[str]:
    """The names that ``code`` reads."""
    return loads_and_stores(code)[0]


def loads_and_stores(code: list) -> tuple[set[str], set[str]]:
    """The names that ``code`` reads, and those it assigns (loop targets and unpacked
    tuples included), in one walk."""
    read: set[str] = set()
    written: set[str] = set()
    for n in nodes(*(s for s in code if isinstance(s, ast.AST))):
        if type(n) is ast.Name:
            if type(n.ctx) is ast.Load:
                read.add(n.id)
            elif type(n.ctx) is ast.Store:
                written.add(n.id)
    return read, written


def _order(body: list[Stmt]):
    """A sort key putting names in the order ``body`` defines them."""
    order: dict[str, int] = {}
    for stmt in body:
        if isinstance(stmt, Assign):
            order.setdefault(stmt.target, len(order))
        elif isinstance(stmt, If):
            for j, _, _ in stmt.joins:
                order.setdefault(j, len(order))
        elif isinstance(stmt, Loop):
            for c, _, _ in stmt.carried:
                order.setdefault(c, len(order))
            order.setdefault(stmt.count, len(order))
    return lambda n: (order.get(n, len(order)), n)
