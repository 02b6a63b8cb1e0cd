"""The helper of checkpointed loops (``grad(f, checkpoint=...)``)."""

from __future__ import annotations

import math


def checkpoint_stride(iterations: int, schedule: str | int) -> int:
    """How many iterations of a loop of ``iterations`` go between two snapshots of its
    carried state: about √T for ``"sqrt"`` (so about √T snapshots, and segments of
    about √T iterations to recompute), and ⌈T/N⌉ for an int N (at most N snapshots)."""
    if iterations <= 0:
        return 1
    if schedule == "sqrt":
        return max(1, math.isqrt(iterations - 1) + 1)  # ceil(sqrt(T))
    return max(1, -(-iterations // schedule))


def keep_snapshot(snapshots: list, snapshot: tuple, stride: int, schedule: str | int) -> int:
    """Keep ``snapshot`` (taken every ``stride`` iterations of a while loop, whose
    number of iterations is not known in advance) and return the stride from now on.
    Once there are more snapshots than the schedule allows (more than ``stride`` for
    "sqrt", more than N for an int N), every other one is dropped and the stride
    doubles: the ones left are still every ``stride`` iterations apart."""
    snapshots.append(snapshot)
    limit = stride if schedule == "sqrt" else schedule
    if len(snapshots) > max(limit, 1):
        del snapshots[1::2]
        stride *= 2
    return stride
