"""The helpers of checkpointed loops (``grad(f, checkpoint=...)``): the stride of
``"sqrt"``'s equal segments, and binomial checkpointing's schedule for an int N."""

from __future__ import annotations

import math
from collections.abc import Iterator


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


# ------------------------------------------------------------ binomial checkpointing
#
# Griewank's revolve. To reverse l iterations from a snapshot of the state at the first
# with c snapshots (that one included), run m of them, keep a snapshot there, reverse
# the last l - m with the c - 1 left, drop it, and reverse the first m with all c. The
# best m is binomial: with r the least number with C(c + r, c) >= l (how often the
# costliest iteration is run again), m = max(C(c + r - 2, c), l - C(c - 1 + r, c - 1)),
# and the iterations run again (not counting the reversed one's own run) number
# r*l - C(c + 1 + r - 1, c + 1), the least any schedule with c snapshots can do.


def _binomial(c: int, r: int) -> int:
    """C(c + r, c): how many iterations c snapshots reverse running none more than r times."""
    return math.comb(c + r, c) if r >= 0 else 0


def _repetitions(length: int, snapshots: int) -> int:
    r = 0
    while _binomial(snapshots, r) < length:
        r += 1
    return r


def revolve_cost(length: int, snapshots: int) -> int:
    """The fewest iterations any schedule runs, besides each reversed iteration's own
    run, to reverse ``length`` iterations from the state at the first with at most
    ``snapshots`` snapshots: r·l − C(c + r, c + 1) with r the repetition number."""
    if length <= 1:
        return 0
    r = _repetitions(length, snapshots)
    return r * length - _binomial(snapshots + 1, r - 1)


def _split(length: int, snapshots: int) -> int:
    """How many iterations to run from a snapshot before keeping the next one."""
    r = _repetitions(length, snapshots)
    low = _binomial(snapshots, r - 2) if r >= 2 else 1
    return max(low, length - _binomial(snapshots - 1, r))


def _plan(origin: int, first: int, length: int, snapshots: int, keep: tuple) -> Iterator:
    """The reverse of iterations first … first + length - 1, the state at ``first``
    being a snapshot once the run from ``origin`` has kept the ones in ``keep``."""
    later = []  # the first parts of the splits, reversed after the rest
    while True:
        snapshots = min(snapshots, length)  # more than one per iteration is no use
        kept = list(keep)
        while length > 1 and snapshots > 1:
            m = _split(length, snapshots)
            later.append((first, m, snapshots))
            first, length, snapshots = first + m, length - m, snapshots - 1
            kept.append(first)
        keep = tuple(kept)
        for step in range(first + length - 1, first - 1, -1):
            yield origin, step, keep
            origin, keep = first, ()
        if not later:
            return
        first, length, snapshots = later.pop()
        origin, keep = first, ()


def revolve_snapshots(iterations: int, snapshots: int) -> frozenset:
    """The iterations at whose start the forward sweep of a loop of ``iterations``
    keeps a snapshot of its carried state under binomial checkpointing with at most
    ``snapshots`` of them: revolve's first sweep, and the last iteration, whose
    reverse comes first (revolve keeps that state as its current one)."""
    if iterations <= 0:
        return frozenset()
    _, _, keep = next(_plan(0, 0, iterations, snapshots, ()))
    return frozenset((0, *keep, iterations - 1))


def revolve(snapshots: dict, iterations: int, limit: int) -> Iterator[tuple[int, int, tuple]]:
    """The reverse sweep's schedule of a checkpointed loop that ran ``iterations``
    times and kept ``snapshots`` (iteration -> its carried state at the start of it):
    ``(start, step, keep)``, last step first. For each, the generated code takes the
    state back from ``snapshots[start]``, runs iterations ``start … step - 1`` again,
    keeping the state at the start of those in ``keep`` in ``snapshots``, and then
    runs iteration ``step`` once more keeping what its reverse reads, and reverses it.

    The span between two snapshots the forward kept is reversed by revolve with the
    snapshots the spans after it have given back: at most ``limit`` snapshots are
    held at a time (the forward's last-iteration snapshot aside, which its step
    reverses at once). A snapshot is dropped as soon as the reverse has passed it."""
    kept = sorted(i for i in snapshots if i < iterations)
    for j in range(len(kept) - 1, -1, -1):
        end = kept[j + 1] if j + 1 < len(kept) else iterations
        budget = max(limit - j, 1)
        for start, step, keep in _plan(kept[j], kept[j], end - kept[j], budget, ()):
            for i in [i for i in snapshots if i > step]:
                del snapshots[i]
            yield start, step, keep
    snapshots.clear()


def keep_spaced(snapshots: dict, index: int, state: object, stride: int, limit: int) -> int:
    """Keep ``state`` as the snapshot of iteration ``index`` of a while loop (whose
    number of iterations is not known in advance), taken every ``stride`` iterations,
    and return the stride from now on: once there are more than ``limit``, every other
    one is dropped and the stride doubles, so those left stay ``stride`` apart."""
    snapshots[index] = state
    if len(snapshots) > max(limit, 1):
        for i in list(snapshots)[1::2]:
            del snapshots[i]
        stride *= 2
    return stride
