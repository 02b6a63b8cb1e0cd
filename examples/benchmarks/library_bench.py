"""Benchmark: gradients through numpy.linalg, np.einsum and scipy.special against
hand-written numpy backward passes, in one process.

Three models a user writes with library functions:

* ``gp``: the negative log marginal likelihood of a Gaussian process (n=200, a
  squared-exponential kernel), differentiated with respect to its three log
  hyperparameters: ``np.linalg.solve`` and ``np.linalg.slogdet``;
* ``attention``: one head of self-attention written with ``np.einsum`` (64 tokens,
  width 64), differentiated with respect to its three projection matrices (the
  hand-written gradient runs the same einsum forward pass, then matrix products);
* ``xent``: softmax cross-entropy with ``scipy.special.logsumexp`` (batch 256, 64
  features, 10 classes), differentiated with respect to the weights and bias.

Each gradient is checked against its hand-written backward, and its slope along a
random direction against central finite differences, before anything is timed;
the functions are then timed in CPU time, alternating in rounds, and the ratio is
the median of the rounds' ratios, so that the machine's load hits both alike (see
the timing section below). numpy runs single-threaded. adcompile's target: at
most 1.2x the hand-written backward.

    python examples/benchmarks/library_bench.py [--quick] [--json results.json]
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

import adcompile  # noqa: E402

TARGET_RATIO = 1.2

# ---------------------------------------------------------------- Gaussian process


def gp_nll(log_ell, log_sf2, log_sn2, D2, y):
    """Negative log marginal likelihood; ``D2`` holds the squared distances."""
    n = y.shape[0]
    K = np.exp(log_sf2 - 0.5 * D2 * np.exp(-2.0 * log_ell)) + np.exp(log_sn2) * np.eye(n)
    alpha = np.linalg.solve(K, y)
    logdet = np.linalg.slogdet(K)[1]
    return 0.5 * (y @ alpha) + 0.5 * logdet + 0.5 * n * np.log(2 * np.pi)


def gp_hand(log_ell, log_sf2, log_sn2, D2, y):
    n = y.shape[0]
    S = np.exp(log_sf2 - 0.5 * D2 * np.exp(-2.0 * log_ell))
    K = S + np.exp(log_sn2) * np.eye(n)
    alpha = np.linalg.solve(K, y)
    # dL/dK = (K^-1 - alpha alpha^T) / 2
    dK = 0.5 * (np.linalg.inv(K) - np.outer(alpha, alpha))
    dS = dK * S
    d_ell = float(np.sum(dS * D2) * np.exp(-2.0 * log_ell))
    d_sf2 = float(np.sum(dS))
    d_sn2 = float(np.trace(dK) * np.exp(log_sn2))
    return d_ell, d_sf2, d_sn2


def gp_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    D2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=n)
    return (0.3, 0.1, -2.0, D2, y)


# ---------------------------------------------------------------- attention


def attention(Wq, Wk, Wv, X):
    Q = np.einsum("td,de->te", X, Wq)
    K = np.einsum("td,de->te", X, Wk)
    V = np.einsum("td,de->te", X, Wv)
    S = np.einsum("te,se->ts", Q, K) / np.sqrt(Q.shape[1])
    S = S - np.max(S, axis=1, keepdims=True)
    P = np.exp(S)
    P = P / np.sum(P, axis=1, keepdims=True)
    O = np.einsum("ts,se->te", P, V)
    return np.sum(O * O)


def attention_hand(Wq, Wk, Wv, X):
    # the forward pass as the model writes it (einsum), then its backward, by hand
    Q = np.einsum("td,de->te", X, Wq)
    K = np.einsum("td,de->te", X, Wk)
    V = np.einsum("td,de->te", X, Wv)
    scale = 1.0 / np.sqrt(Q.shape[1])
    S = np.einsum("te,se->ts", Q, K) * scale
    S = S - np.max(S, axis=1, keepdims=True)
    P = np.exp(S)
    P = P / np.sum(P, axis=1, keepdims=True)
    O = np.einsum("ts,se->te", P, V)
    dO = 2.0 * O
    dP = dO @ V.T
    dV = P.T @ dO
    dS = P * (dP - np.sum(dP * P, axis=1, keepdims=True)) * scale
    dQ = dS @ K
    dK = dS.T @ Q
    return X.T @ dQ, X.T @ dK, X.T @ dV


def attention_data(tokens=64, width=64, seed=0):
    rng = np.random.default_rng(seed)
    w = [rng.normal(size=(width, width)) / np.sqrt(width) for _ in range(3)]
    return (*w, rng.normal(size=(tokens, width)))


# ---------------------------------------------------------------- cross-entropy


def xent(W, b, X, Y):
    Z = X @ W + b
    return np.sum(logsumexp(Z, axis=1)) - np.sum(Z * Y)


def xent_hand(W, b, X, Y):
    Z = X @ W + b
    E = np.exp(Z - np.max(Z, axis=1, keepdims=True))
    dZ = E / np.sum(E, axis=1, keepdims=True) - Y
    return X.T @ dZ, np.sum(dZ, axis=0)


def xent_data(batch=256, features=64, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    Y = np.eye(classes)[rng.integers(0, classes, size=batch)]
    W = rng.normal(size=(features, classes)) * 0.1
    return (W, np.zeros(classes), rng.normal(size=(batch, features)), Y)


WORKLOADS = {
    "gp": (gp_nll, gp_hand, gp_data, (0, 1, 2)),
    "attention": (attention, attention_hand, attention_data, (0, 1, 2)),
    "xent": (xent, xent_hand, xent_data, (0, 1)),
}

# ---------------------------------------------------------------- timing
#
# The machine may be loaded by other processes: each batch of calls is timed in CPU
# time of this process (time.process_time, which does not count the time the process
# waits for a core), the functions are timed in alternation, in rounds, and the ratio
# is the median of the rounds' ratios (each round's batches run close together, so a
# burst of load hits both alike).


def per_call(fn, args, calls):
    start = time.process_time()
    for _ in range(calls):
        fn(*args)
    return (time.process_time() - start) / calls


def calls_for(fn, args, budget=4e-3):
    """How many calls make a batch of about ``budget`` seconds of CPU time."""
    calls, spent = 1, 0.0
    while spent < budget / 4:
        spent = per_call(fn, args, calls) * calls
        calls *= 2
    return max(1, int(budget / max(spent / (calls // 2), 1e-7)))


def time_rounds(fns, args, rounds):
    """Per function, the median CPU time of a call; and per pair of the first function
    with each other one, the median over rounds of their ratio."""
    calls = {name: calls_for(fn, args) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]  # neither always goes first
        for name in order:
            times[name].append(per_call(fns[name], args, calls[name]))
    first = names[0]
    ratios = {
        name: [a / b for a, b in zip(times[first], times[name], strict=True)] for name in names[1:]
    }
    medians = {name: statistics.median(t) for name, t in times.items()}
    return medians, {name: _quartiles(r) for name, r in ratios.items()}


def _quartiles(values):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return q[1], q[0], q[2]


def check(grads, hand):
    worst = 0.0
    for g, h in zip(grads, hand, strict=True):
        scale = max(1.0, float(np.max(np.abs(h))))
        worst = max(worst, float(np.max(np.abs(np.asarray(g) - np.asarray(h)))) / scale)
    return worst


def directional_check(loss, grads, args, wrt, eps=1e-6):
    """Relative error of the gradient's slope along a random direction against central
    finite differences of the loss (two evaluations, whatever the number of inputs)."""
    rng = np.random.default_rng(1)
    directions = {i: rng.normal(size=np.shape(args[i])) for i in wrt}

    def moved(t):
        return [a + t * directions[i] if i in directions else a for i, a in enumerate(args)]

    slope = sum(float(np.sum(g * directions[i])) for g, i in zip(grads, wrt, strict=True))
    numeric = (loss(*moved(eps)) - loss(*moved(-eps))) / (2 * eps)
    return abs(slope - numeric) / max(abs(numeric), 1e-8)


def run(names, rounds):
    rows = []
    for name in names:
        loss, hand, data, wrt = WORKLOADS[name]
        args = data()
        compiled = adcompile.grad(loss, wrt=wrt)
        # each gradient is checked before anything is timed: against the hand-written
        # one, and its slope along a random direction against finite differences
        error = check(compiled(*args), hand(*args))
        if error > 1e-7:
            raise SystemExit(f"{name}: adcompile's gradient differs from the hand-written one")
        slope_error = directional_check(loss, compiled(*args), args, wrt)
        if slope_error > 1e-6:
            raise SystemExit(f"{name}: the gradient disagrees with finite differences")
        t, ratios = time_rounds(
            {"adcompile": compiled, "hand": hand, "forward": loss}, args, rounds
        )
        ratio, low, high = ratios["hand"]
        rows.append(
            {
                "workload": name,
                "adcompile_s": t["adcompile"],
                "hand_s": t["hand"],
                "forward_s": t["forward"],
                "ratio": ratio,
                "ratio_quartiles": [low, high],
                "max_rel_error": error,
                "slope_rel_error": slope_error,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--json", help="write the results to this file")
    opts = parser.parse_args()
    rows = run(opts.workloads.split(","), 3 if opts.quick else 41)
    print("CPU time per call (medians); ratio: median over rounds of adcompile / hand-written")
    print(f"{'workload':10} {'adcompile':>12} {'hand':>12} {'forward':>12} {'ratio':>7}  quartiles")
    for r in rows:
        low, high = r["ratio_quartiles"]
        print(
            f"{r['workload']:10} {r['adcompile_s'] * 1e3:10.3f}ms {r['hand_s'] * 1e3:10.3f}ms "
            f"{r['forward_s'] * 1e3:10.3f}ms {r['ratio']:6.2f}x  {low:.2f}-{high:.2f}"
        )
    missed = [r["workload"] for r in rows if r["ratio"] > TARGET_RATIO]
    print(
        f"target: at most {TARGET_RATIO}x the hand-written backward: "
        + (f"missed by {', '.join(missed)}" if missed else "met by every workload")
    )
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"target_ratio": TARGET_RATIO, "workloads": rows}, f, indent=2)


if __name__ == "__main__":
    main()
