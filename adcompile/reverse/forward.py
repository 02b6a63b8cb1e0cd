"""The forward sweep: the normalized statements that the reverse sweep needs.

It is built after the reverse sweep, which is what decides what is needed: a
statement stays when the reverse code, the result or the gradients read its
value, directly or through other kept statements (``needed_names``, a fixed
point over nested blocks); ``math`` calls and Python-number divisions stay
too, so that the gradient raises where the function does. A temporary read once,
by the next statement of its block and never by the reverse sweep, is written
into that statement (``inlinable``). Loops and branches are rebuilt with what
they save (``Saving``) appended to each iteration or branch.
"""

from __future__ import annotations

import ast

from ..generated import Namespace, assign, call, loop_statement, name, store
from ..ir import Assign, Comment, If, Loop, Return, Stmt, names_in, walk, write_statements
from ..rules import containers
from ..rules.template import substituted
from .checkpoint import binomial_forward, binomial_rerun
from .output import Output
from .program import Program, resolve
from .rules import Rules
from .saving import Saving, carry_forward, with_value
from .updates import Updates


class Forward:
    """Builds the forward sweep once the reverse sweep is known (``plan``, then
    ``block``)."""

    def __init__(
        self, program: Program, ns: Namespace, output: Output, saving: Saving, rules: Rules
    ) -> None:
        self.program = program
        self.ns = ns
        self.output = output
        self.saving = saving
        self.rules = rules
        self.needed: set[str] = set()
        self.inline: set[str] = set()  # forward temporaries written into their consumer
        self.updates: Updates | None = None

    def plan(
        self, body: list[Stmt], needed: set[str], reverse_loads: set[str], value_reads: set[str]
    ) -> None:
        """Decide what the forward sweep of ``body`` (the function's body, without
        its return) keeps, given what the rest of the generated code reads (the
        reverse sweep: all its reads, and those for values rather than shapes, see
        ``updates.reads_and_writes``), and which writes into arrays it makes in place
        (``updates.py``)."""
        self.needed = self.needed_names(body, needed)
        self.inline = self.inlinable(self.program.fn.body, reverse_loads)
        self.updates = Updates(
            body, self.program.fn.kinds, value_reads, self.saving.saved, self.saving.call_saved
        )

    # --------------------------------------------------------- what to keep

    def needed_names(self, body: list[Stmt], needed: set[str]) -> set[str]:
        """Close ``needed`` over the forward code: everything a needed value reads."""
        needed = set(needed)
        # arithmetic of Python numbers and math functions may raise: they stay, so that
        # the generated code raises where the function does (math.log(0.0)) instead of
        # returning a derivative at a point where the function has no value
        needed |= {
            s.target
            for s in walk(body)
            if isinstance(s, Assign) and (s.effect is not None or self.may_raise(s.value))
        }
        # latest first: a value's readers come after it, so straight-line code closes
        # in one pass (loops and branches may take another)
        stmts = list(walk(body))
        stmts.reverse()
        reads = {id(s): s.reads() for s in stmts if isinstance(s, Assign)}  # once, not per pass
        while True:
            size = len(needed)
            for stmt in stmts:
                if isinstance(stmt, Assign) and self.is_needed(stmt, needed):
                    needed |= reads[id(stmt)]
                elif isinstance(stmt, If) and self.kept(stmt, needed):
                    needed |= names_in(stmt.test)
                    for j, a, b in stmt.joins:
                        if j in needed:
                            needed |= names_in(a) | names_in(b)
                elif isinstance(stmt, Loop) and self.kept(stmt, needed):
                    if stmt.iter is not None:
                        needed |= names_in(stmt.iter)
                    if stmt.test is not None:
                        needed |= names_in(stmt.test) & self.ns.locals
                    if stmt.exit is not None:
                        needed.add(stmt.exit)
                    for c, b, e in stmt.carried:
                        if c in needed:
                            needed |= names_in(b) | names_in(e)
            if len(needed) == size:
                return needed

    def may_raise(self, value: ast.expr) -> bool:
        """Whether forward code ``value`` may raise where numpy would not: a ``math``
        function, or ``/``, ``**``, ``%``, ``//`` between Python numbers."""
        if isinstance(value, ast.Call):
            module = getattr(resolve(value.func, self.program.fn.globals), "__module__", None)
            return module == "math"
        python = self.rules.may_be_python_number
        return (
            isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Div | ast.Pow | ast.Mod | ast.FloorDiv)
            and python(value.left)
            and python(value.right)
        )

    def is_needed(self, stmt: Assign, needed: set[str]) -> bool:
        if stmt.target in needed:
            return True
        saved = self.saving.call_saved.get(stmt.target)
        return saved is not None and saved[0] in needed

    def kept(self, stmt: If | Loop, needed: set[str]) -> bool:
        has_reverse = self.saving.has_reverse
        if isinstance(stmt, If):
            if any(j in needed for j, _, _ in stmt.joins):
                return True
            inner = stmt.body + stmt.orelse
        else:
            if id(stmt) in has_reverse or any(c in needed for c, _, _ in stmt.carried):
                return True
            inner = stmt.body
        for s in walk(inner):
            if isinstance(s, Assign) and self.is_needed(s, needed):
                return True
            if isinstance(s, Loop) and id(s) in has_reverse:
                return True
            if isinstance(s, If | Loop) and any(
                (j in needed) for j in ([x[0] for x in s.joins] if isinstance(s, If) else [])
            ):
                return True
        return False

    def inlinable(self, body: list[Stmt], reverse_loads: set[str]) -> set[str]:
        """Forward temporaries to write into their one consumer instead of a variable:
        used exactly once, by a later statement of the same block, and never read by
        the reverse sweep. Their arrays are then freed as soon as they are used,
        as in the expression the user wrote (``a_2 = np.exp(-h)``)."""
        uses: dict[str, int] = {}
        site: dict[str, int] = {}

        def count(names: set[str], block: int | None) -> None:
            for n in names:
                uses[n] = uses.get(n, 0) + 1
                site[n] = block if uses[n] == 1 else -1

        def visit(block: list[Stmt]) -> None:
            for stmt in block:
                if isinstance(stmt, Assign):
                    if self.is_needed(stmt, self.needed):
                        count(names_in(stmt.value), id(block))
                elif isinstance(stmt, If):
                    count(names_in(stmt.test), None)
                    for _, a, b in stmt.joins:
                        count(names_in(a) | names_in(b), None)
                    visit(stmt.body)
                    visit(stmt.orelse)
                elif isinstance(stmt, Loop):
                    for e in (stmt.iter, stmt.test):
                        if e is not None:
                            count(names_in(e), None)
                    for _, b, e in stmt.carried:
                        count(names_in(b) | names_in(e), None)
                    visit(stmt.body)
                elif isinstance(stmt, Return):
                    count(names_in(stmt.value), None)

        visit(body)
        defined_in: dict[str, int] = {}

        def blocks(block: list[Stmt]) -> None:
            for stmt in block:
                if isinstance(stmt, Assign):
                    defined_in[stmt.target] = id(block)
                elif isinstance(stmt, If):
                    blocks(stmt.body)
                    blocks(stmt.orelse)
                elif isinstance(stmt, Loop):
                    blocks(stmt.body)

        blocks(body)
        return {
            n
            for n, k in uses.items()
            if k == 1
            and site.get(n) not in (None, -1)
            and defined_in.get(n) == site.get(n)
            and n in self.program.fn.temps
            and (n not in reverse_loads or n in self.saving.recomputed)
            and n not in self.saving.call_saved
        }

    # ------------------------------------------------------------- the code

    def block(self, body: list[Stmt], saving: bool) -> list:
        code: list = []
        output = self.output
        output.last_loc = None
        inline: dict[str, ast.expr] = {}
        for stmt in body:
            if isinstance(stmt, Assign):
                if self.is_needed(stmt, self.needed):
                    output.comment(stmt.loc, code)
                    if inline:
                        stmt = with_value(stmt, _substitute(stmt.value, inline))
                    if stmt.target in self.inline:
                        inline[stmt.target] = stmt.value
                        continue
                    if stmt.prim is containers.SETITEM:
                        code.extend(self.write(stmt))
                        continue
                    if self.updates is not None and stmt.target in self.updates.snapshots:
                        value = call(self.ns.helper("copy_array"), stmt.value)
                        stmt = with_value(stmt, value)
                    code.append(self.assign(stmt))
            elif isinstance(stmt, If):
                if self.kept(stmt, self.needed):
                    output.comment(stmt.loc, code)
                    code.append(self.if_(stmt, saving))
                    output.last_loc = None
            elif isinstance(stmt, Loop):
                if self.kept(stmt, self.needed):
                    output.comment(stmt.loc, code)
                    code.extend(self.loop(stmt))
                    output.last_loc = None
        return code

    def write(self, stmt: Assign) -> list[ast.stmt]:
        """``x_2 = setitem(x_1, index, v)``: ``x_1[index] = v`` into ``x_1``'s memory, then
        ``x_2`` names it; or, where the reverse sweep still reads what it overwrites,
        into a copy (``updates.py``)."""
        return write_statements(stmt, self.updates is None or stmt.target in self.updates.copies)

    def assign(self, stmt: Assign) -> ast.stmt:
        if stmt.effect == "raise":
            return ast.Raise(exc=stmt.value, cause=None)
        if stmt.effect == "call":
            return ast.Expr(value=stmt.value)
        if stmt.target not in self.saving.call_saved:
            return assign(stmt.target, stmt.value)
        saved, fwd = self.saving.call_saved[stmt.target]
        # (the pair takes every parameter positionally: *args as a tuple, **kwargs as a dict)
        value = ast.Call(func=name(fwd), args=stmt.prim.plain_arguments(stmt.value), keywords=[])
        target = ast.Tuple(elts=[store(stmt.target), store(saved)], ctx=ast.Store())
        return ast.Assign(targets=[target], value=value)

    def if_(self, stmt: If, saving: bool) -> ast.If:
        branches = []
        for block, side in ((stmt.body, 1), (stmt.orelse, 2)):
            code = self.block(block, saving)
            code.extend(self.saving.push(block) if saving else [])
            for join in stmt.joins:
                if join[0] in self.needed:
                    code.append(assign(join[0], join[side]))
            branches.append(code)
        return ast.If(test=stmt.test, body=branches[0] or [ast.Pass()], orelse=branches[1])

    def loop(self, stmt: Loop) -> list:
        plan = self.saving.checkpoints.get(id(stmt))
        if plan is not None and isinstance(plan.schedule, int):
            return binomial_forward(self, plan)
        if plan is not None:
            return self.checkpointed(plan)
        code: list = []
        reverse = id(stmt) in self.saving.has_reverse
        values = self.saving.loop_lists.get(id(stmt))
        if values is not None:
            code.append(assign(values, ast.List(elts=[], ctx=ast.Load())))
        elif reverse:
            code.append(assign(stmt.count, ast.Constant(0)))
        carried = [(c, b, e) for c, b, e in stmt.carried if c in self.needed]
        for c, before, _ in carried:
            code.append(assign(c, before))
        body = self.block(stmt.body, saving=True)
        body.extend(self.saving.push(stmt.body, values))
        body.extend(carry_forward(carried))
        if reverse and values is None:
            body.append(
                ast.AugAssign(target=store(stmt.count), op=ast.Add(), value=ast.Constant(1))
            )
        stops = stmt.exit is not None and stmt.exit in self.needed
        code.append(loop_statement(stmt, body, stops))
        return code

    def iteration(self, stmt: Loop, saving: bool) -> list:
        """One iteration of ``stmt``'s body, stopping the loop after a break."""
        body = self.block(stmt.body, saving=saving)
        if stmt.exit is not None and stmt.exit in self.needed:
            # after a break the remaining iterations would do nothing: stop instead
            body.insert(0, ast.If(test=name(stmt.exit), body=[ast.Break()], orelse=[]))
        return body

    # ------------------------------------------------------ checkpointed loops

    def carried_state(self, stmt: Loop) -> list[str]:
        return [c for c, _, _ in stmt.carried if c in self.needed]

    def checkpointed(self, plan) -> list:
        """A checkpointed loop's forward sweep (see ``checkpoint.py``): the body keeps
        nothing, and every ``stride`` iterations the carried state is kept as a
        snapshot, with the number of the iteration it starts. A for loop's stride is
        fixed from its length; a while loop's starts at 1 and grows (``keep_snapshot``),
        and its count of iterations is left in ``plan.index`` for the reverse."""
        stmt, ns = plan.loop, self.ns
        state = self.carried_state(stmt)
        schedule = ast.Constant(plan.schedule)
        snapshot = ast.Tuple(elts=[name(plan.index)] + [name(c) for c in state], ctx=ast.Load())
        if stmt.test is None:
            length = call(name(ns.free_name("len", len)), stmt.iter)
            stride: ast.expr = call(ns.helper("checkpoint_stride"), length, schedule)
            append = ast.Attribute(value=name(plan.snapshots), attr="append", ctx=ast.Load())
            keep: ast.stmt = ast.Expr(value=call(append, snapshot))
            what = f"every {plan.stride} iterations"
        else:
            stride = ast.Constant(1)
            kept = call(
                ns.helper("keep_snapshot"),
                name(plan.snapshots),
                snapshot,
                name(plan.stride),
                schedule,
            )
            keep = assign(plan.stride, kept)
            what = f"every {plan.stride} iterations, {plan.stride} doubling as the loop runs on"
        code: list = [
            Comment(
                f"checkpointed ({_describe(plan.schedule)}): a snapshot of the carried state {what}"
            ),
            assign(plan.stride, stride),
            assign(plan.snapshots, ast.List(elts=[], ctx=ast.Load())),
        ]
        carried = [(c, b, e) for c, b, e in stmt.carried if c in self.needed]
        for c, before, _ in carried:
            code.append(assign(c, before))
        body = self.iteration(stmt, saving=False)
        every = ast.Compare(
            left=ast.BinOp(left=name(plan.index), op=ast.Mod(), right=name(plan.stride)),
            ops=[ast.Eq()],
            comparators=[ast.Constant(0)],
        )
        at = 1 if body and isinstance(body[0], ast.If) and stmt.exit is not None else 0
        body.insert(at, ast.If(test=every, body=[keep], orelse=[]))
        body.extend(carry_forward(carried))
        if stmt.test is None:
            target = ast.Tuple(elts=[store(plan.index), store(stmt.target)], ctx=ast.Store())
            enumerated = call(name(ns.free_name("enumerate", enumerate)), stmt.iter)
            code.append(ast.For(target=target, iter=enumerated, body=body, orelse=[]))
        else:
            code.append(assign(plan.index, ast.Constant(0)))
            body.append(
                ast.AugAssign(target=store(plan.index), op=ast.Add(), value=ast.Constant(1))
            )
            code.append(ast.While(test=stmt.test, body=body, orelse=[]))
        return code

    def recompute(self, plan) -> list:
        """The start of a checkpointed loop's reverse iteration over its snapshots: the
        carried state taken back from the snapshot, and the segment it starts run
        again, keeping what its reverse reads on the loop's list."""
        stmt = plan.loop
        state = self.carried_state(stmt)
        values = self.saving.loop_lists[id(stmt)]
        unpack = ast.Tuple(elts=[store(plan.start)] + [store(c) for c in state], ctx=ast.Store())
        carried = [(c, b, e) for c, b, e in stmt.carried if c in self.needed]
        body = self.iteration(stmt, saving=True)
        body.extend(self.saving.push(stmt.body, values))
        body.extend(carry_forward(carried))
        if stmt.test is None:
            end = ast.BinOp(left=name(plan.start), op=ast.Add(), right=name(plan.stride))
            segment: ast.expr = ast.Subscript(
                value=stmt.iter, slice=ast.Slice(lower=name(plan.start), upper=end), ctx=ast.Load()
            )
            target = store(stmt.target)
        else:  # as many iterations as the forward ran from this snapshot to the next
            count = ast.BinOp(left=name(plan.end), op=ast.Sub(), right=name(plan.start))
            segment = call(name(self.ns.free_name("range", range)), count)
            target = store("_")
        return [
            Comment("the segment from this snapshot, recomputed, keeping what its reverse reads"),
            ast.Assign(targets=[unpack], value=name(plan.snapshot)),
            assign(values, ast.List(elts=[], ctx=ast.Load())),
            ast.For(target=target, iter=segment, body=body, orelse=[]),
            Comment("the segment reversed"),
        ]

    def fill_recomputations(self) -> None:
        """Write each checkpointed loop's recomputation where the reverse sweep left its
        stand-in (once this forward sweep's plan is known)."""
        for plan in self.saving.checkpoints.values():
            at = next(i for i, s in enumerate(plan.slot) if s is plan.at)
            binomial = isinstance(plan.schedule, int)
            plan.slot[at : at + 1] = (binomial_rerun if binomial else Forward.recompute)(self, plan)

    def keep_returned(self, ret_value: ast.expr, stores: set[str], forward: list) -> ast.expr:
        """``ret_value`` reading, in place of each forward value that the reverse sweep
        rebinds, a copy of the reference taken at the end of the forward sweep.

        The reverse of a loop takes the values each iteration saved back into the
        names they had (``for y in reversed(saved)``), so after it such a name holds
        its value of the first iteration, not the forward's result: the value
        returned by ``value_and_grad`` (``y`` carried by a loop) and the shape of a
        zero gradient are read from the copy instead. ``stores``: the names the
        reverse sweep assigns."""
        rebound = sorted(n for n in names_in(ret_value) if n in stores and n in self.ns.locals)
        if not rebound:
            return ret_value
        what = "value" if len(rebound) == 1 else "values"
        forward.append(
            Comment(f"the {what} returned, before the reverse sweep rebinds {', '.join(rebound)}")
        )
        kept: dict[str, ast.expr] = {}
        for n in rebound:
            copy = self.ns.fresh(n + "_value")
            self.ns.locals.add(copy)
            forward.append(assign(copy, name(n)))
            kept[n] = name(copy)
        return substituted(ret_value, kept)


def _describe(schedule: str | int) -> str:
    if schedule == "sqrt":
        return "sqrt: about √T snapshots of T iterations"
    return f"at most {schedule} snapshots"


def _substitute(expr: ast.expr, values: dict[str, ast.expr]) -> ast.expr:
    """``expr`` with the names in ``values`` replaced by (copies of) their expressions.
    Each inlined temporary has one consumer, so the ones used here leave ``values``
    (which would otherwise grow with the block, and be searched at every statement)."""
    used = [n for n in names_in(expr, loads_only=True) if n in values]
    if not used:
        return expr
    return substituted(expr, {n: values.pop(n) for n in used})
