"""The memory/time trade-off of checkpointed loops, on an RNN.

For N = 2 … √T … T snapshots (and "sqrt"), computes the gradient of an RNN's loss
over T steps with ``adcompile.grad(loss, checkpoint=N)``, checks it against the
gradient without checkpointing (rtol 1e-9), and prints the peak traced memory
(tracemalloc) and the time of one call, relative to no checkpointing, with the
number of loop iterations the reverse sweep runs again (an int N is binomial
checkpointing, revolve: the fewest any schedule with N snapshots can run).

    python examples/benchmarks/checkpoint_bench.py              # T=1000, hidden 128, batch 32
    python examples/benchmarks/checkpoint_bench.py --steps 100 --hidden 16 --batch 4
    python examples/benchmarks/checkpoint_bench.py --plot docs/images/checkpointing.png
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc

import numpy as np

import adcompile as ad
from adcompile.runtime import revolve_cost


def loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
    return np.sum(h * h)


def peak_memory(fn, args) -> tuple[object, int]:
    """(result, peak traced bytes) of ``fn(*args)``, compiled beforehand."""
    result = fn(*args)  # compiles
    tracemalloc.start()
    try:
        fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def best_times(fns: list, args, repeat: int) -> list[float]:
    """The best time of each of ``fns`` over ``repeat`` rounds, the calls interleaved
    (on a shared machine the load drifts: each ratio compares calls made together)."""
    best = [math.inf] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn(*args)
            best[k] = min(best[k], time.perf_counter() - start)
    return best


def schedules(steps: int) -> list[object]:
    """N = 2, 4, 8, … up to T, with √T and T themselves, and "sqrt"."""
    out: list[object] = []
    n = 2
    while n < steps:
        out.append(n)
        n *= 2
    root = math.isqrt(steps)
    out += [root, steps]
    return [None, "sqrt", *sorted(set(out))]


def rerun(schedule: object, steps: int) -> int:
    """How many iterations the reverse sweep runs (each one it reverses, and the ones
    before it, from a snapshot): none without checkpointing, T with "sqrt" (each
    segment once more), and with N snapshots T plus revolve's recomputation less the
    T - 1 iterations of revolve's first sweep, which the forward sweep ran."""
    if schedule is None:
        return 0
    if schedule == "sqrt":
        return steps
    return steps + revolve_cost(steps, int(schedule)) - (steps - 1)


def plot(rows: list[tuple], steps: int, path: str, title: str) -> None:
    """Memory against time, relative to no checkpointing, one point per schedule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ints = [r for r in rows if isinstance(r[0], int)]
    ax.plot(
        [r[2] for r in ints],
        [r[1] for r in ints],
        "o-",
        color="tab:blue",
        label="checkpoint=N (binomial)",
    )
    root = math.isqrt(steps)
    for schedule, memory, seconds in ints:
        label, offset = f"N={schedule}", (6, 4)
        if schedule == root and root * root != steps:  # next to a power of 2: on the left
            label, offset = f"N={schedule} (√T)", (-62, -4)
        ax.annotate(label, (seconds, memory), textcoords="offset points", xytext=offset, fontsize=8)
    for schedule, memory, seconds in rows:
        if schedule == "sqrt":
            ax.plot([seconds], [memory], "s", color="tab:orange", label='checkpoint="sqrt"')
        elif schedule is None:
            ax.plot([seconds], [memory], "D", color="black", label="no checkpointing")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time of one gradient, relative to no checkpointing")
    ax.set_ylabel("peak traced memory, relative")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plot", metavar="PNG", help="write the trade-off curve (matplotlib)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    T, H, B = args.steps, args.hidden, args.batch
    W = rng.normal(size=(H, H)) / math.sqrt(H)
    U = rng.normal(size=(H, H)) / math.sqrt(H)
    xs = rng.normal(size=(T, B, H))
    h0 = np.zeros((B, H))
    print(f"RNN: T={T} steps, hidden {H}, batch {B}; gradient with respect to W and U")
    print(
        f"{'checkpoint':>10}  {'peak memory':>12}  {'vs none':>8}  {'time':>9}  {'vs none':>8}"
        f"  {'rerun':>7}"
    )
    data = (W, U, xs, h0)
    plain = ad.grad(loss, wrt=(0, 1))
    g0, peak0 = peak_memory(plain, data)
    rows = []
    for schedule in schedules(T):
        fn = ad.grad(loss, wrt=(0, 1), checkpoint=schedule)
        g, peak = peak_memory(fn, data)
        for a, b in zip(g, g0, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        if schedule is None:  # the baseline itself
            base = seconds = best_times([plain], data, args.repeat)[0]
        else:
            base, seconds = best_times([plain, fn], data, args.repeat)
        print(
            f"{schedule!s:>10}  {peak / 2**20:>9.1f} MB  {peak / peak0:>7.2f}x"
            f"  {seconds * 1e3:>6.1f} ms  {seconds / base:>7.2f}x  {rerun(schedule, T):>7}",
            flush=True,
        )
        rows.append((schedule, peak / peak0, seconds / base))
    if args.plot:
        plot(rows, T, args.plot, f"Checkpointed RNN: T={T}, hidden {H}, batch {B}")


if __name__ == "__main__":
    main()
