"""An RNN written the way numpy code builds its outputs, ``H[t] = h``, timed against a
hand-written numpy backward in the same run.

The loss reads the whole matrix of hidden states, so it is the pattern whose cost
depends on how element assignment is differentiated: copying ``H`` (or making an
adjoint of ``H``'s size) at each of the T steps is O(T^2 * hidden); adcompile's
generated code writes the row in place forward and zeroes the row of one adjoint
array backward, O(T * hidden) like the hand-written code. The script checks that
both gradients agree, times them, and times the adcompile gradient again at twice
the length (a linear cost doubles, a quadratic one quadruples).

    python examples/benchmarks/rnn_assign.py                # T = 1000
    python examples/benchmarks/rnn_assign.py --quick        # small and fast (the tests)
    python examples/benchmarks/rnn_assign.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import adcompile as ad


def loss(Wx, Wh, b, V, xs, ys):
    H = np.zeros((xs.shape[0], b.shape[0]))
    h = np.zeros_like(b)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        H[t] = h
    out = H @ V
    return 0.5 * np.sum((out - ys) ** 2)


def hand_gradient(Wx, Wh, b, V, xs, ys):
    """The backward a careful person writes: the forward keeps H, the backward walks
    it once, last step first."""
    T, n = xs.shape[0], Wh.shape[0]
    H = np.zeros((T, n))
    h = np.zeros(n)
    for t in range(T):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        H[t] = h
    dout = H @ V - ys
    dV = H.T @ dout
    dH = dout @ V.T
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh = np.zeros(n)
    for t in range(T - 1, -1, -1):
        dz = (dH[t] + dh) * (1.0 - H[t] ** 2)
        prev = H[t - 1] if t > 0 else np.zeros(n)
        dWx += np.outer(xs[t], dz)
        dWh += np.outer(prev, dz)
        db += dz
        dh = dz @ Wh.T
    return dWx, dWh, db, dV


def problem(T: int, n: int, d: int, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(d, n)) * 0.3,
        rng.normal(size=(n, n)) * 0.3 / np.sqrt(n),
        rng.normal(size=n) * 0.1,
        rng.normal(size=(n, 2)) * 0.3,
        rng.normal(size=(T, d)),
        rng.normal(size=(T, 2)),
    )


def best_time(fn, args: tuple, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--T", type=int, default=1000, help="sequence length")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--inputs", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=7, help="timings per system (best kept)")
    parser.add_argument("--quick", action="store_true", help="T = 50, three timings")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    if args.quick:
        args.T, args.repeat = 50, 3
    wrt = (0, 1, 2, 3)
    grad = ad.grad(loss, wrt=wrt)
    data = problem(args.T, args.hidden, args.inputs)
    mine, hand = grad(*data), hand_gradient(*data)
    error = max(
        float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))
        for a, b in zip(mine, hand, strict=True)
    )
    if error > 1e-8:
        raise SystemExit(f"the gradients disagree (relative error {error:.2e}): not timing")
    t_ad = best_time(grad, data, args.repeat)
    t_hand = best_time(hand_gradient, data, args.repeat)
    longer = problem(2 * args.T, args.hidden, args.inputs)
    t_ad_2 = best_time(grad, longer, args.repeat)
    t_hand_2 = best_time(hand_gradient, longer, args.repeat)
    result = {
        "T": args.T,
        "hidden": args.hidden,
        "inputs": args.inputs,
        "max_rel_error": error,
        "adcompile_s": t_ad,
        "hand_s": t_hand,
        "ratio": t_ad / t_hand,
        "adcompile_2T_s": t_ad_2,
        "hand_2T_s": t_hand_2,
        "growth_2T": t_ad_2 / t_ad,
        "hand_growth_2T": t_hand_2 / t_hand,
    }
    print(f"RNN with H[t] = h, T = {args.T}, hidden {args.hidden}, inputs {args.inputs}")
    print(f"  gradients agree: max relative error {error:.1e}")
    print(f"  adcompile {t_ad * 1e3:8.2f} ms   hand-written {t_hand * 1e3:8.2f} ms")
    print(f"  ratio {result['ratio']:.2f} (target <= 1.2)")
    print(
        f"  at 2T: adcompile x{result['growth_2T']:.2f}, hand-written "
        f"x{result['hand_growth_2T']:.2f} (linear: about 2, quadratic: about 4)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
