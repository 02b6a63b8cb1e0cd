"""The memory/time trade-off of checkpointed loops, on an RNN.

For N = 2 … √T … T snapshots (and "sqrt"), computes the gradient of an RNN's loss
over T steps with ``adcompile.grad(loss, checkpoint=N)``, checks it against the
gradient without checkpointing (rtol 1e-9), and prints the peak traced memory
(tracemalloc) and the time of one call, relative to no checkpointing.

    python examples/benchmarks/checkpoint_bench.py              # T=1000, hidden 128, batch 32
    python examples/benchmarks/checkpoint_bench.py --steps 100 --hidden 16 --batch 4
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc

import numpy as np

import adcompile as ad


def loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
    return np.sum(h * h)


def measure(fn, args, repeat: int) -> tuple[object, int, float]:
    """(result, peak traced bytes, best time in seconds) of ``fn(*args)``."""
    result = fn(*args)  # compiles
    tracemalloc.start()
    try:
        fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return result, peak, best


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    T, H, B = args.steps, args.hidden, args.batch
    W = rng.normal(size=(H, H)) / math.sqrt(H)
    U = rng.normal(size=(H, H)) / math.sqrt(H)
    xs = rng.normal(size=(T, B, H))
    h0 = np.zeros((B, H))
    print(f"RNN: T={T} steps, hidden {H}, batch {B}; gradient with respect to W and U")
    print(f"{'checkpoint':>10}  {'peak memory':>12}  {'vs none':>8}  {'time':>9}  {'vs none':>8}")
    base = None
    for schedule in schedules(T):
        fn = ad.grad(loss, wrt=(0, 1), checkpoint=schedule)
        g, peak, seconds = measure(fn, (W, U, xs, h0), args.repeat)
        if base is None:
            base = (g, peak, seconds)
        else:
            for a, b in zip(g, base[0], strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        print(
            f"{schedule!s:>10}  {peak / 2**20:>9.1f} MB  {peak / base[1]:>7.2f}x"
            f"  {seconds * 1e3:>6.1f} ms  {seconds / base[2]:>7.2f}x"
        )


if __name__ == "__main__":
    main()
