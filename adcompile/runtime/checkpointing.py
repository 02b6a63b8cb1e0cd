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
