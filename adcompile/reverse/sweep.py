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

from ..analysis import differentiable_operands
from ..generated import Namespace, call, current_is, name, store
from ..ir import Assign, If, Loop, Stmt, all_defs, names_in, walk
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
                        adjoints.accumulate(atom.id, adjoints.adj[j])
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
                with self.output.into(out):
                    adjoints.materialize(x, target, owned=False)
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
        self.enter(stmt, carries, invariant)
        body = self.iteration(stmt, carries, invariant)
        self.output.put(self.reverse_loop(stmt, body, carries.counter))
        # out of the (forward) first iteration: the adjoints of the starting values
        for c, before, _ in carries.carried:
            self.adjoints.adj.pop(c, None)
            if isinstance(before, ast.Name) and self.act.active(before.id):
                self.adjoints.accumulate(before.id, name(carries.names[c]))

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

    def enter(self, stmt: Loop, carries: _Carries, invariant: list[str]) -> None:
        """Before the reverse loop: each carried adjoint in its carry variable, each
        outside value's adjoint in an owned variable the iterations add to (or, for a
        container whose elements each iteration assigns, a fresh one)."""
        adjoints = self.adjoints
        for c, before, _ in carries.carried:
            carries.names[c] = self.ns.fresh("d" + c)
            adjoints.materialize(c, carries.names[c], owned=False)
            if not (isinstance(before, ast.Name) and self.act.active(before.id)):
                carries.skip_first.add(c)
        single = self.saving.single_slot_reads(stmt, invariant)
        for x in invariant:
            zero = x not in adjoints.adj and x in single
            adjoints.materialize(x, adjoints.adjoint_name(x), owned=True)
            if zero:  # each iteration assigns its own element of [None] * n
                self.saving.single_slots.add(single[x])
                adjoints.fresh_containers.add(x)

    def iteration(self, stmt: Loop, carries: _Carries, invariant: list[str]) -> list:
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

    def reverse_loop(self, stmt: Loop, out: list, counter: str | None) -> ast.For:
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
        else:
            args = [count]
        if saved:
            element = ast.Subscript(value=name(values), slice=name(counter), ctx=ast.Load())
            out.insert(0, ast.Assign(targets=[target], value=element))
        return ast.For(
            target=store(counter or "_"),
            iter=call(name(self.ns.free_name("range", range)), *args),
            body=out or [ast.Pass()],
            orelse=[],
        )
