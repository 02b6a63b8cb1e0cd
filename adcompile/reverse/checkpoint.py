"""Checkpointed loops: ``grad(f, checkpoint="sqrt" | N)``.

Without checkpointing the forward sweep of a loop keeps, for each of its T
iterations, what that iteration's reverse reads (``saving.py``). With it, the
forward sweep keeps only a *snapshot* of the loop's carried state every ``stride``
iterations (about √T snapshots for ``"sqrt"``, at most N for an int N); the
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
there are more than the schedule allows (more than ``stride`` for "sqrt", which
keeps both about √T; more than N for an int). The reverse recomputes each segment
by running its body as many times as the forward did, up to the next snapshot.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..ir import Loop

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
    slot: list = field(default_factory=list)
    at: ast.stmt | None = None
