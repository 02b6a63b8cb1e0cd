"""Checkpointed loops: ``grad(f, checkpoint="sqrt" | N)``.

Without checkpointing the forward sweep of a loop keeps, for each of its T
iterations, what that iteration's reverse reads (``saving.py``). With "sqrt", the
forward sweep keeps only a *snapshot* of the loop's carried state every ``stride``
iterations (about √T snapshots); the
reverse loop becomes a loop over the snapshots, last first, which recomputes the
segment of iterations that starts at each one (this time keeping what they
save) and then reverses that segment as usual. Memory: the snapshots plus one
segment's saved values; time: one more forward sweep of the loop.

The schedule is generated code. A loop ``for t in range(T)`` becomes, in the
forward sweep::

    stride = checkpoint_stride(len(range(T)), 'sqrt')
    snapshots = []
    for i, t in enumerate(range(T)):
        if i % stride == 0:
            snapshots.append((i, h))
        ...the body, keeping nothing...

and in the reverse sweep::

    for snapshot in reversed(snapshots):
        start, h = snapshot
        saved = []
        for t in range(T)[start:start + stride]:
            ...the body, keeping its values on saved...
        for ... in reversed(saved):
            ...the body's reverse...

A loop is checkpointed when it is at the top of the function's body (its own, or
a called function's) and keeps values for its reverse: nested loops are
recomputed with the segment that holds them.

A ``while`` loop's trip count is not known when it starts, so its stride starts
at 1 and doubles as it runs: ``keep_snapshot`` keeps every other snapshot once
there are more than ``stride`` (so both stay about √T). The reverse recomputes each
segment by running its body as many times as the forward did, up to the next
snapshot.

An int N is binomial checkpointing instead (below): at most N snapshots, placed
to recompute as few iterations as N snapshots allow, one iteration reversed at a
time.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..generated import assign, call, name, store
from ..ir import Comment, Loop
from .saving import carry_forward

Checkpoint = str | int | None


def check_schedule(checkpoint: object) -> Checkpoint:
    """``checkpoint`` if it is a schedule (None, "sqrt" or a positive int), else a
    ValueError saying what is accepted."""
    if checkpoint is None or checkpoint == "sqrt":
        return checkpoint  # type: ignore[return-value]
    if isinstance(checkpoint, int) and not isinstance(checkpoint, bool) and checkpoint >= 1:
        return int(checkpoint)
    raise ValueError(
        f"checkpoint must be None, 'sqrt' or a positive int (the most snapshots a loop "
        f"keeps), not {checkpoint!r}"
    )


@dataclass
class Plan:
    """One checkpointed loop's names, chosen by the reverse sweep, and the recomputation
    it leaves for the forward sweep to write (``slot``: the reverse statements'
    list, ``at``: the placeholder in it)."""

    loop: Loop
    schedule: str | int
    stride: str
    snapshots: str
    start: str
    snapshot: str
    index: str
    end: str | None = None  # a while loop's: where the segment being reversed ends
    step: str | None = None  # an int N's: the iteration being reversed
    keep: str | None = None  # an int N's: where the run up to it keeps snapshots
    slot: list = field(default_factory=list)
    at: ast.stmt | None = None


# ------------------------------------------------ binomial checkpointing (an int N)
#
# A loop ``for t in range(T)`` checkpointed with checkpoint=N becomes, in the forward
# sweep (the iterations revolve's first sweep keeps, computed when the loop starts)::
#
#     positions = revolve_snapshots(len(range(T)), N)
#     snapshots = {}
#     i = 0
#     for t in range(T):
#         if i in positions:
#             snapshots[i] = h
#         ...the body, keeping nothing...
#         i += 1
#
# and in the reverse sweep (``revolve`` in runtime/checkpointing.py plans each step)::
#
#     for start, step, keep in revolve(snapshots, i, N):
#         h = snapshots[start]
#         for i, t in enumerate(range(T)[start:step], start):
#             if i in keep:
#                 snapshots[i] = h
#             ...the body, keeping nothing...
#         saved = []
#         for t in range(T)[step:step + 1]:
#             ...the body, keeping its values on saved...
#         ...that iteration's reverse...
#
# A while loop cannot place revolve's snapshots (its number of iterations is known
# only when it ends): its forward keeps at most N evenly spaced ones, the spacing
# doubling as it runs (``keep_spaced``); the reverse then knows the count and
# reverses each span between two of them by revolve, with the snapshots the spans
# after it gave back.


def _state(state: list[str], ctx: ast.expr_context) -> ast.expr:
    """The carried state as one value: a name, or a tuple of them."""
    if len(state) == 1:
        return ast.Name(id=state[0], ctx=ctx)
    return ast.Tuple(elts=[ast.Name(id=c, ctx=ctx) for c in state], ctx=ctx)


def _at(table: str, index: str, ctx: ast.expr_context) -> ast.Subscript:
    return ast.Subscript(value=name(table), slice=name(index), ctx=ctx)


def _counted(body: list, index: str) -> list:
    body.append(ast.AugAssign(target=store(index), op=ast.Add(), value=ast.Constant(1)))
    return body


def binomial_forward(fwd, plan: Plan) -> list:
    """The forward sweep of a loop checkpointed with an int N (see above): ``fwd`` is
    the forward sweep's writer (``forward.Forward``)."""
    stmt, ns = plan.loop, fwd.ns
    state = fwd.carried_state(stmt)
    carried = [(c, b, e) for c, b, e in stmt.carried if c in fwd.needed]
    n = ast.Constant(plan.schedule)
    if stmt.test is None:
        length = call(name(ns.free_name("len", len)), stmt.iter)
        what = "the iterations revolve's first sweep picks, and of the last one"
        code: list = [assign(plan.stride, call(ns.helper("revolve_snapshots"), length, n))]
        every: ast.expr = ast.Compare(
            left=name(plan.index), ops=[ast.In()], comparators=[name(plan.stride)]
        )
        keep: ast.stmt = ast.Assign(
            targets=[_at(plan.snapshots, plan.index, ast.Store())], value=_state(state, ast.Load())
        )
    else:
        what = f"every {plan.stride} iterations, {plan.stride} doubling as the loop runs on"
        what += f" (at most {plan.schedule} kept)"
        code = [assign(plan.stride, ast.Constant(1))]
        every = ast.Compare(
            left=ast.BinOp(left=name(plan.index), op=ast.Mod(), right=name(plan.stride)),
            ops=[ast.Eq()],
            comparators=[ast.Constant(0)],
        )
        kept = call(
            ns.helper("keep_spaced"),
            name(plan.snapshots),
            name(plan.index),
            _state(state, ast.Load()),
            name(plan.stride),
            n,
        )
        keep = assign(plan.stride, kept)
    code[:0] = [
        Comment(
            f"checkpointed (binomial, at most {plan.schedule} snapshots): the carried state is "
            "kept at the start"
        ),
        Comment(f"of {what}"),
    ]
    code.append(assign(plan.snapshots, ast.Dict(keys=[], values=[])))
    code.extend(assign(c, before) for c, before, _ in carried)
    code.append(assign(plan.index, ast.Constant(0)))
    body = fwd.iteration(stmt, saving=False)
    at = 1 if body and isinstance(body[0], ast.If) and stmt.exit is not None else 0
    body.insert(at, ast.If(test=every, body=[keep], orelse=[]))
    body.extend(carry_forward(carried))
    _counted(body, plan.index)
    if stmt.test is None:
        code.append(ast.For(target=store(stmt.target), iter=stmt.iter, body=body, orelse=[]))
    else:
        code.append(ast.While(test=stmt.test, body=body, orelse=[]))
    return code


def binomial_rerun(fwd, plan: Plan) -> list:
    """The start of one step of a binomially checkpointed loop's reverse: the state
    taken back from its snapshot, the iterations up to the step run again (keeping the
    snapshots the schedule asks for), and the step run once more keeping what its
    reverse reads."""
    stmt, ns = plan.loop, fwd.ns
    state = fwd.carried_state(stmt)
    values = fwd.saving.loop_lists[id(stmt)]
    carried = [(c, b, e) for c, b, e in stmt.carried if c in fwd.needed]
    advance = fwd.iteration(stmt, saving=False)
    keep = ast.Assign(
        targets=[_at(plan.snapshots, plan.index, ast.Store())], value=_state(state, ast.Load())
    )
    member = ast.Compare(left=name(plan.index), ops=[ast.In()], comparators=[name(plan.keep)])
    at = 1 if advance and isinstance(advance[0], ast.If) and stmt.exit is not None else 0
    advance.insert(at, ast.If(test=member, body=[keep], orelse=[]))
    advance.extend(carry_forward(carried))
    taped = fwd.iteration(stmt, saving=True)
    taped.extend(fwd.saving.push(stmt.body, values))
    taped.extend(carry_forward(carried))
    step = name(plan.step)
    if stmt.test is None:
        span = ast.Subscript(
            value=stmt.iter, slice=ast.Slice(lower=name(plan.start), upper=step), ctx=ast.Load()
        )
        enumerate_ = name(ns.free_name("enumerate", enumerate))
        run: ast.stmt = ast.For(
            target=ast.Tuple(elts=[store(plan.index), store(stmt.target)], ctx=ast.Store()),
            iter=call(enumerate_, span, name(plan.start)),
            body=advance,
            orelse=[],
        )
        one = ast.BinOp(left=step, op=ast.Add(), right=ast.Constant(1))
        again: ast.expr = ast.Subscript(
            value=stmt.iter, slice=ast.Slice(lower=step, upper=one), ctx=ast.Load()
        )
        target: ast.expr = store(stmt.target)
    else:  # the condition is not evaluated again: the forward ran these iterations
        range_ = name(ns.free_name("range", range))
        run = ast.For(
            target=store(plan.index),
            iter=call(range_, name(plan.start), step),
            body=advance,
            orelse=[],
        )
        again = call(range_, ast.Constant(1))
        target = store("_")
    code: list = [
        Comment("from the snapshot at iteration start, run again up to iteration step,"),
        Comment("keeping the snapshots the schedule asks for (at the iterations in keep)"),
    ]
    if state:
        back = _at(plan.snapshots, plan.start, ast.Load())
        code.append(ast.Assign(targets=[_state(state, ast.Store())], value=back))
    code += [
        run,
        Comment("iteration step again, keeping what its reverse reads"),
        assign(values, ast.List(elts=[], ctx=ast.Load())),
        ast.For(target=target, iter=again, body=taped, orelse=[]),
        Comment("its reverse"),
    ]
    return code
