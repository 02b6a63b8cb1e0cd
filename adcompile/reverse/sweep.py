"""The reverse sweep over statements, branches and loops.

Read ``block`` first: it walks a block's statements backwards, hands each
active assignment to its rule (``rules.py``), and reverses branches and loops
by the two methods below it, which are themselves written like rules:

* ``if_``: each branch is reversed from a copy of the adjoint state, the
  branch's join values taking the join's adjoint first; adjoints the two branches
  leave in different variables are moved into one variable at the end of each.
* ``loop``: the reverse loop runs the iterations backwards. Each carried value
  has a carried adjoint (``dh``), which an iteration's reverse turns into the
  adjoint of the iteration's starting value, the previous iteration's ``dh``;
  values from outside the loop accumulate their adjoint in one owned variable
  across iterations. What the body's reverse reads is saved by the forward
  (``saving.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..analysis import differentiable_operands, written_chain
from ..errors import AdCompileError
from ..generated import Namespace, call, current_is, name, store
from ..ir import Assign, If, Loop, Stmt, all_defs, names_in, walk
from ..names import RANDOM_METHODS
from ..rules.containers import LEAF
from .checkpoint import Plan
from .output import Output
from .program import Program
from .rules import Rules
from .saving import Saving
from .state import Adjoints


@dataclass
class _Carries:
    """A reverse loop's carried adjoints: value -> the variable its adjoint is
    carried in between reverse iterations."""

    carried: list  # the loop's active carried values, (name, before, end)
    names: dict[str, str] = field(default_factory=dict)
    # carried values whose starting value is not active (h = X, then h = f(h)): no
    # adjoint flows out of the last reverse iteration, so the carry there is skipped
    skip_first: set[str] = field(default_factory=set)
    counter: str | None = None  # the forward iteration's number, when a carry is skipped
    # whether each carried written-into array's adjoint stayed in its carry variable
    kept_buffers: bool = True


class Sweep:
    """Writes the reverse sweep of blocks, one statement at a time, through ``Rules``
    and ``Adjoints``; what loops save is left to ``Saving``."""

    def __init__(
        self,
        program: Program,
        ns: Namespace,
        output: Output,
        adjoints: Adjoints,
        rules: Rules,
        saving: Saving,
    ) -> None:
        self.program = program
        self.act = program.act
        self.ns = ns
        self.output = output
        self.adjoints = adjoints
        self.rules = rules
        self.saving = saving
        self.checkpoint: str | int | None = None  # the loops' schedule (checkpoint.py)
        self.depth = 0  # how many loop bodies the statement being reversed is in

    def block(
        self,
        body: list[Stmt],
        saving: bool,
        inputs: set[str] = frozenset(),
        finish=None,
        pop: bool = True,
    ) -> None:
        """Reverse code for ``body`` into the output. A saving block (a loop body, or
        a branch in one) starts by taking back what its forward saved (see
        ``Saving.save_block``); ``inputs`` are the names a loop body receives
        (target, carried values), and ``finish`` emits the code that ends the block."""
        start = len(self.output.out)
        adjoints = self.adjoints
        for stmt in reversed(body):
            if isinstance(stmt, Assign):
                if self.act.active(stmt.target) and stmt.target in adjoints.adj:
                    self.rules.statement(stmt)
            elif isinstance(stmt, If):
                adjoints.flush()
                self.if_(stmt, saving)
            elif isinstance(stmt, Loop):
                adjoints.flush()
                self.loop(stmt)
        if finish is not None:
            finish()
        adjoints.flush()
        if saving:
            self.saving.save_block(body, start, inputs, pop)

    # ----------------------------------------------------------------- if

    def if_(self, stmt: If, in_loop: bool) -> None:
        adjoints = self.adjoints
        before = adjoints.state.copy()
        branches = []
        for block, side in ((stmt.body, 1), (stmt.orelse, 2)):
            adjoints.state = before.copy()
            out: list = []
            with self.output.into(out):
                for join in stmt.joins:
                    j, atom = join[0], join[side]
                    if (
                        j in adjoints.adj
                        and isinstance(atom, ast.Name)
                        and self.act.active(atom.id)
                    ):
                        owned = j in adjoints.owned and isinstance(adjoints.adj[j], ast.Name)
                        adjoints.accumulate(atom.id, adjoints.adj[j])
                        if owned and current_is(adjoints.adj[atom.id], adjoints.adj[j].id):
                            # the join's adjoint is the gradient's own array, and the
                            # branch's value takes it over (the join reads it no more;
                            # its variable is not made the value's own name, which
                            # the other branch may give another value)
                            adjoints.owned.add(atom.id)
                self.block(block, saving=in_loop)
            branches.append((out, adjoints.state))
        adjoints.state = self.merge(stmt, before, branches)
        if not any(isinstance(s, ast.AST) for out, _ in branches for s in out):
            return
        self.output.comment(stmt.loc)
        body = branches[0][0] or [ast.Pass()]
        orelse = branches[1][0]
        self.output.put(ast.If(test=stmt.test, body=body, orelse=orelse))

    def merge(self, stmt: If, before, branches: list):
        """The adjoint state after a reversed ``if``: each adjoint from outside the
        ``if`` that a branch changed is moved into one variable at the end of both
        branches (their code is still open to additions)."""
        adjoints = self.adjoints
        inner = all_defs(stmt.body) | all_defs(stmt.orelse)
        joins = {j for j, _, _ in stmt.joins}
        keys = set()
        for _, st in branches:
            for x in set(st.adj) | set(before.adj):
                if x in inner or x in joins:
                    continue
                if st.adj.get(x) is None or before.adj.get(x) is None:
                    keys.add(x)
                elif ast.dump(st.adj[x]) != ast.dump(before.adj[x]):
                    keys.add(x)
                elif x in before.owned and x not in st.owned:
                    keys.add(x)
        merged = before.copy()
        for x in sorted(keys):
            target = adjoints.adjoint_name(x)
            owned_all = True
            for out, st in branches:
                adjoints.state = st
                # an array the branch owns moves into the variable, still owned
                keep = x in st.owned and isinstance(st.adj.get(x), ast.Name)
                with self.output.into(out):
                    adjoints.materialize(x, target, owned=keep)
                owned_all = owned_all and x in st.owned
            merged.adj[x] = name(target)
            if owned_all:
                merged.owned.add(x)
            else:
                merged.owned.discard(x)
        return merged

    # --------------------------------------------------------------- loops

    def loop(self, stmt: Loop) -> None:
        """The reverse of a loop: a loop over its iterations, last first, each one
        turning the carried adjoints into those of the iteration before."""
        carries = _Carries([(c, b, e) for c, b, e in stmt.carried if self.act.active(c)])
        invariant = self.invariants(stmt, carries.carried)
        if not carries.carried and not invariant:
            return  # no adjoint flows through the loop
        self.saving.has_reverse.add(id(stmt))
        self.output.comment(stmt.loc)
        buffers = self.buffers(stmt, carries.carried)
        self.enter(stmt, carries, invariant, buffers)
        adjoints = self.adjoints
        before = adjoints.state.copy(), dict(adjoints.adj_names), set(adjoints.fresh_containers)
        self.depth += 1
        try:
            body = self.iteration(stmt, carries, invariant, buffers)
            kept = buffers
            if buffers and not carries.kept_buffers:
                kept = set()
                # an iteration's reverse did not leave the written array's adjoint in its
                # own variable: reverse it again without writing into that variable
                state, names, fresh = before
                adjoints.state, adjoints.adj_names, adjoints.fresh_containers = state, names, fresh
                body = self.iteration(stmt, carries, invariant, set())
        finally:
            self.depth -= 1
        plan = self.checkpoint_plan(stmt)
        if plan is None:
            self.output.put(self.reverse_loop(stmt, body, carries.counter))
        else:
            for code in self.checkpointed_loop(stmt, body, carries.counter, plan):
                self.output.put(code)
        # out of the (forward) first iteration: the adjoints of the starting values
        for c, before, _ in carries.carried:
            self.adjoints.adj.pop(c, None)
            if isinstance(before, ast.Name) and self.act.active(before.id):
                carry = carries.names[c]
                self.adjoints.accumulate(before.id, name(carry))
                if c in kept and current_is(self.adjoints.adj[before.id], carry):
                    # the written array's adjoint, which the reverse loop owned, is
                    # the starting value's now
                    self.adjoints.owned.add(before.id)
                    self.adjoints.adj_names.setdefault(before.id, carry)

    def buffers(self, stmt: Loop, carried: list) -> set[str]:
        """The carried arrays the body only writes into (``H[t] = h``, the value at the
        body's end reached from the carried one by element assignments alone): their
        carried adjoint is one array the reverse loop owns and zeroes the written part
        of in place, iteration after iteration (so a loop writing one row per step
        costs one row per step, not the whole array)."""
        out = set()
        for c, _, end in carried:
            if self.program.kind(c) == LEAF and written_chain(stmt.body, end, c):
                out.add(c)
        return out

    def invariants(self, stmt: Loop, carried: list) -> list[str]:
        """The active values from outside the loop that its body differentiates into."""
        body_defs = all_defs(stmt.body) | {c for c, _, _ in stmt.carried}
        if stmt.target:
            body_defs.add(stmt.target)
        invariant: list[str] = []

        def outer(names: set[str]) -> None:
            for n in sorted(names):
                if n not in body_defs and self.act.active(n) and n not in invariant:
                    invariant.append(n)

        for s in walk(stmt.body):
            if isinstance(s, Assign):
                for e in differentiable_operands(s).values():
                    outer(names_in(e))
            elif isinstance(s, If):
                for _, a, b in s.joins:
                    outer(names_in(a) | names_in(b))
            elif isinstance(s, Loop):
                for _, b, e in s.carried:
                    outer(names_in(b) | names_in(e))
        for _, _, end in carried:
            outer(names_in(end))
        return invariant

    def enter(self, stmt: Loop, carries: _Carries, invariant: list[str], buffers: set[str]) -> None:
        """Before the reverse loop: each carried adjoint in its carry variable, each
        outside value's adjoint in an owned variable the iterations add to (or, for a
        container whose elements each iteration assigns, a fresh one)."""
        adjoints = self.adjoints
        for c, before, _ in carries.carried:
            carries.names[c] = self.ns.fresh("d" + c)
            adjoints.materialize(c, carries.names[c], owned=c in buffers)
            if not (isinstance(before, ast.Name) and self.act.active(before.id)):
                carries.skip_first.add(c)
        single = self.saving.single_slot_reads(stmt, invariant)
        for x in invariant:
            zero = x not in adjoints.adj and x in single
            adjoints.materialize(x, adjoints.adjoint_name(x), owned=True)
            if zero:  # each iteration assigns its own element of [None] * n
                self.saving.single_slots.add(single[x])
                adjoints.fresh_containers.add(x)

    def iteration(
        self, stmt: Loop, carries: _Carries, invariant: list[str], buffers: set[str]
    ) -> list:
        """The reverse loop's body: one iteration reversed, from the carried adjoints
        to the next (earlier) iteration's. Leaves the adjoint state as after the loop."""
        adjoints = self.adjoints
        outside = adjoints.state.copy()
        body_state = outside.copy()
        for c, _, _ in carries.carried:
            body_state.adj.pop(c, None)
            body_state.owned.discard(c)
        # inside the body a carried value's adjoint starts afresh, under a new name
        outer_names = {c: adjoints.adj_names.pop(c, None) for c, _, _ in carries.carried}
        adjoints.state = body_state
        out: list = []
        inputs = {c for c, _, _ in stmt.carried} | ({stmt.target} if stmt.target else set())
        with self.output.into(out):
            # the end of an iteration copies each carried value's new value into it
            for c, _, end in carries.carried:
                if isinstance(end, ast.Name) and self.act.active(end.id):
                    adjoints.accumulate(end.id, name(carries.names[c]))
                    if c in buffers:  # the carry variable holds an array of its own
                        adjoints.owned.add(end.id)
                        adjoints.adj_names.setdefault(end.id, carries.names[c])
            self.block(
                stmt.body,
                saving=True,
                inputs=inputs,
                finish=lambda: self.carry_back(carries),
                pop=False,
            )
        for c, old in outer_names.items():
            if old is not None:
                adjoints.adj_names[c] = old
        after = adjoints.state
        # (the array may have moved to another variable, which the carry then takes:
        # still the gradient's own, and that variable is assigned afresh next time)
        carries.kept_buffers = all(
            c in after.owned and isinstance(after.adj.get(c), ast.Name) for c in buffers
        )
        adjoints.state = outside
        for x in invariant:
            adjoints.adj[x] = after.adj[x]
            if x in after.owned:
                adjoints.owned.add(x)
            else:
                adjoints.owned.discard(x)
        return out

    def carry_back(self, carries: _Carries) -> None:
        """End a reverse iteration: the adjoints of its starting values become the
        carried adjoints of the next (earlier) one, assigned together, as they may read
        each other."""
        adjoints = self.adjoints
        # a pending expression reads the carried adjoints as they are now, so any not
        # going into the carry is assigned before the carry reassigns them. (None is
        # expected: the adjoint of a value the body defines was consumed by its
        # statement, and that of a value from outside the loop is a variable, added to
        # in place, never pending; dead if it were left.)
        for x in [x for x in adjoints.pending if x not in carries.names]:
            adjoints.flush(x)
        targets, values = [], []
        for c, _, _ in carries.carried:
            if c in adjoints.pending:  # its expression goes straight into the carry
                adjoints.take_pending(c)
            value = adjoints.adj.get(c) or adjoints.zero(c)
            if not current_is(value, carries.names[c]):
                targets.append(store(carries.names[c]))
                values.append(value)
        if not targets:
            return
        if len(targets) == 1:
            carry: ast.stmt = ast.Assign(targets=targets, value=values[0])
        else:
            carry = ast.Assign(
                targets=[ast.Tuple(elts=targets, ctx=ast.Store())],
                value=ast.Tuple(elts=values, ctx=ast.Load()),
            )
        skipped = {carries.names[c] for c in carries.skip_first}
        if {t.id for t in targets} <= skipped and not all(
            isinstance(v, ast.Name | ast.Constant) for v in values
        ):
            # the first forward iteration (k == 0) passes no adjoint on
            carries.counter = self.ns.fresh("k")
            self.ns.locals.add(carries.counter)
            carry = ast.If(test=name(carries.counter), body=[carry], orelse=[])
        self.output.put(carry)

    def checkpoint_plan(self, stmt: Loop) -> Plan | None:
        """The names of ``stmt``'s checkpointing, when it is checkpointed: a loop not in
        another loop (that one's segments recompute it) that keeps values for its
        reverse, under a schedule."""
        if self.checkpoint is None or self.depth or not self.saving.saved.get(id(stmt.body)):
            return None
        _refuse_draws(stmt)
        fresh = self.ns.fresh
        plan = Plan(
            loop=stmt,
            schedule=self.checkpoint,
            stride=fresh("stride"),
            snapshots=fresh("snapshots"),
            start=fresh("start"),
            snapshot=fresh("snapshot"),
            index=fresh("i"),
            end=fresh("end") if stmt.test is not None else None,
        )
        if isinstance(self.checkpoint, int):  # binomial: see checkpoint.py
            plan.stride = fresh("positions" if stmt.test is None else "stride")
            plan.step, plan.keep, plan.end = fresh("step"), fresh("keep"), None
            self.ns.locals.update((plan.stride, plan.step, plan.keep))
        self.ns.locals.update((plan.stride, plan.snapshots, plan.start, plan.snapshot, plan.index))
        if plan.end is not None:
            self.ns.locals.add(plan.end)
        self.saving.checkpoints[id(stmt)] = plan
        return plan

    def checkpointed_loop(
        self, stmt: Loop, out: list, counter: str | None, plan: Plan
    ) -> list[ast.stmt]:
        """The reverse of a checkpointed loop: over its snapshots, last first, each
        segment recomputed from its snapshot (written by the forward sweep into
        ``plan.at``'s place, see ``Forward.recompute``) and then reversed. A while
        loop's segment ends where the next one starts (``plan.end``), the last one at
        the number of iterations the forward ran."""
        binomial = isinstance(plan.schedule, int)
        inner = self.reverse_loop(stmt, out, counter, offset=plan.step if binomial else plan.start)
        # a stand-in for the recomputation, reading what it will read from outside the
        # loop, so that the forward sweep computes it (and a pullback saves it)
        reads = sorted(_outer_reads(stmt) | {plan.stride})
        plan.at = ast.Expr(value=ast.Tuple(elts=[name(n) for n in reads], ctx=ast.Load()))
        plan.slot = [plan.at, inner]
        if binomial:  # the steps of revolve's schedule, the last iteration first
            steps = [store(plan.start), store(plan.step), store(plan.keep)]
            schedule = call(
                self.ns.helper("revolve"),
                name(plan.snapshots),
                name(plan.index),
                ast.Constant(plan.schedule),
            )
            target = ast.Tuple(elts=steps, ctx=ast.Store())
            return [ast.For(target=target, iter=schedule, body=plan.slot, orelse=[])]
        backwards = call(name(self.ns.free_name("reversed", reversed)), name(plan.snapshots))
        loop = ast.For(target=store(plan.snapshot), iter=backwards, body=plan.slot, orelse=[])
        if plan.end is None:
            return [loop]
        plan.slot.append(ast.Assign(targets=[store(plan.end)], value=name(plan.start)))
        return [ast.Assign(targets=[store(plan.end)], value=name(plan.index)), loop]

    def reverse_loop(
        self, stmt: Loop, out: list, counter: str | None, offset: str | None = None
    ) -> ast.For:
        """The loop running ``out`` once per forward iteration, last first: over the
        loop's list of saved values backwards, or over the iteration numbers counting
        down (``counter``), or just as many times as the forward ran."""
        saving = self.saving
        saved = saving.saved.get(id(stmt.body))
        if saved:
            # the values each iteration saved, on a list of the loop's own: the reverse
            # loop walks it backwards (its length is the number of iterations that ran)
            values = saving.loop_lists[id(stmt)] = self.ns.fresh("saved")
            self.ns.locals.add(values)
            target: ast.expr = (
                store(saved[0])
                if len(saved) == 1
                else ast.Tuple(elts=[store(n) for n in saved], ctx=ast.Store())
            )
            if counter is None:
                backwards = call(name(self.ns.free_name("reversed", reversed)), name(values))
                return ast.For(target=target, iter=backwards, body=out or [ast.Pass()], orelse=[])
        count: ast.expr = name(stmt.count)
        if saved:
            count = call(name(self.ns.free_name("len", len)), name(values))
        if counter is not None:  # the forward iteration's number, counting down
            last = ast.BinOp(left=count, op=ast.Sub(), right=ast.Constant(1))
            args = [last, ast.Constant(-1), ast.Constant(-1)]
            if offset is not None:  # a checkpointed segment's iterations, from its start
                last = ast.BinOp(left=name(offset), op=ast.Add(), right=last)
                before = ast.BinOp(left=name(offset), op=ast.Sub(), right=ast.Constant(1))
                args = [last, before, ast.Constant(-1)]
        else:
            args = [count]
        if saved:
            index: ast.expr = name(counter)
            if offset is not None:
                index = ast.BinOp(left=index, op=ast.Sub(), right=name(offset))
            element = ast.Subscript(value=name(values), slice=index, ctx=ast.Load())
            out.insert(0, ast.Assign(targets=[target], value=element))
        return ast.For(
            target=store(counter or "_"),
            iter=call(name(self.ns.free_name("range", range)), *args),
            body=out or [ast.Pass()],
            orelse=[],
        )


def _outer_reads(stmt: Loop) -> set[str]:
    """The names a loop reads from before it: its range, and what its body reads
    that it does not assign."""
    reads = names_in(stmt.iter) if stmt.iter is not None else set()
    for s in walk(stmt.body):
        if isinstance(s, Assign):
            reads |= s.reads()
        elif isinstance(s, If):
            reads |= names_in(s.test)
            for _, a, b in s.joins:
                reads |= names_in(a) | names_in(b)
        elif isinstance(s, Loop):
            for x in (s.iter, s.test):
                if x is not None:
                    reads |= names_in(x)
            for _, b, e in s.carried:
                reads |= names_in(b) | names_in(e)
    for _, _, e in stmt.carried:
        reads |= names_in(e)
    inside = all_defs(stmt.body) | {c for c, _, _ in stmt.carried}
    if stmt.target:
        inside.add(stmt.target)
    return reads - inside


def _refuse_draws(loop: Loop) -> None:
    """A checkpointed loop's segments run again in the reverse sweep: a random draw in
    them (or in a function they call) would draw other numbers than the forward did."""
    for stmt in walk(loop.body):
        if not isinstance(stmt, Assign):
            continue
        source = getattr(stmt.prim, "source", None)  # a call of a user function
        calls = ast.walk(source.node) if source is not None else ()
        if stmt.effect == "draw" or any(
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr in RANDOM_METHODS
            for n in calls
        ):
            raise AdCompileError(
                "a checkpointed loop draws random numbers here: its reverse sweep recomputes "
                "the loop's segments, which would draw other numbers",
                stmt.loc,
                hint="draw the samples before the loop (all iterations' at once) and index "
                "them in it, or differentiate without checkpoint=",
            )
