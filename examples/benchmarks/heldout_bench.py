"""Held-out benchmark: adcompile's numpy gradients against hand-written numpy backward
passes on workloads written independently of ``workloads.py`` (the ones the project's
own benchmark, ``bench.py``, times), the way a user would write them.

* ``seed-small``, ``seed-large``: a two-layer sigmoid network with columns as samples,
  4-8-1 with a batch of 16 and 784-512-10 with a batch of 256;
* ``deep-mlp``: a 10-layer tanh MLP of width 64, batch 32, its parameters one flat list
  ``[W0, b0, W1, b1, ...]``, softmax cross-entropy with a stable log-sum-exp;
* ``rnn``: a tanh RNN over 50 steps, hidden 32, batch 8, its input a 3-D array
  ``(steps, inputs, batch)`` read as ``xs[t]``, its state started inside the function
  as ``np.zeros((Wh.shape[0], xs.shape[2]))``;
* ``scalar``: 200 scalar operations (``sin``, ``cos``, ``*``, ``+``) in a loop on a
  Python float.

For every workload it checks adcompile's gradient against the hand-written one, then
reports the median gradient time of both (samples interleaved, in alternating order,
so that drifts in machine load hit both alike), the peak memory that ``tracemalloc``
traces during one gradient call of each, and the ratios. Targets: at most 1.10× the
hand-written time and 1.20× its peak memory.

    python examples/benchmarks/heldout_bench.py [--quick] [--workloads rnn,deep-mlp] [--strict]

``--strict`` makes the exit status 1 when a target is missed.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

import adcompile as ad  # noqa: E402

TARGET_TIME = 1.10
TARGET_MEMORY = 1.20

# ------------------------------------------------------------------ seed network


def sigmoid_net(W1, b1, W2, b2, x, y):
    z1 = np.dot(W1, x) + b1
    a1 = 1.0 / (1.0 + np.exp(-z1))
    z2 = np.dot(W2, a1) + b2
    a2 = 1.0 / (1.0 + np.exp(-z2))
    err = a2 - y
    return 0.5 * np.sum(err * err)


def sigmoid_net_hand(W1, b1, W2, b2, x, y):
    z1 = np.dot(W1, x) + b1
    a1 = 1.0 / (1.0 + np.exp(-z1))
    z2 = np.dot(W2, a1) + b2
    a2 = 1.0 / (1.0 + np.exp(-z2))
    d2 = (a2 - y) * a2 * (1.0 - a2)
    gW2 = np.dot(d2, a1.T)
    gb2 = np.sum(d2, axis=1, keepdims=True)
    d1 = np.dot(W2.T, d2) * a1 * (1.0 - a1)
    gW1 = np.dot(d1, x.T)
    gb1 = np.sum(d1, axis=1, keepdims=True)
    return gW1, gb1, gW2, gb2


def sigmoid_net_data(n_in, n_hid, n_out, batch):
    rng = np.random.default_rng(1)
    return (
        rng.standard_normal((n_hid, n_in)) * 0.1,
        np.zeros((n_hid, 1)) + 0.01,
        rng.standard_normal((n_out, n_hid)) * 0.1,
        np.zeros((n_out, 1)) - 0.01,
        rng.random((n_in, batch)),
        rng.random((n_out, batch)),
    )


# ----------------------------------------------------------------- deep tanh MLP


def deep_mlp(params, X, labels):
    """``params`` is ``[W0, b0, W1, b1, ...]``; the last pair is the linear output layer;
    ``labels`` is one-hot."""
    h = X
    n_layers = len(params) // 2
    for i in range(n_layers - 1):
        h = np.tanh(h @ params[2 * i] + params[2 * i + 1])
    scores = h @ params[-2] + params[-1]
    shift = scores.max(axis=1, keepdims=True)
    logz = shift + np.log(np.exp(scores - shift).sum(axis=1, keepdims=True))
    logp = scores - logz
    return -(labels * logp).sum() / X.shape[0]


def deep_mlp_hand(params, X, labels):
    n_layers = len(params) // 2
    acts = [X]
    h = X
    for i in range(n_layers - 1):
        h = np.tanh(h @ params[2 * i] + params[2 * i + 1])
        acts.append(h)
    scores = h @ params[-2] + params[-1]
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    g = (e / e.sum(axis=1, keepdims=True) - labels) / X.shape[0]
    grads = [None] * len(params)
    grads[-2] = h.T @ g
    grads[-1] = g.sum(axis=0)
    g = g @ params[-2].T
    for i in range(n_layers - 2, -1, -1):
        a = acts[i + 1]
        g = g * (1.0 - a * a)
        grads[2 * i] = acts[i].T @ g
        grads[2 * i + 1] = g.sum(axis=0)
        if i:
            g = g @ params[2 * i].T
    return grads


def deep_mlp_data(depth=10, width=64, batch=32, n_classes=10):
    rng = np.random.default_rng(2)
    params = []
    for k in range(depth):
        n_out = n_classes if k == depth - 1 else width
        params.append(rng.standard_normal((width, n_out)) / math.sqrt(width))
        params.append(rng.standard_normal(n_out) * 0.05)
    X = rng.standard_normal((batch, width))
    labels = np.zeros((batch, n_classes))
    labels[np.arange(batch), rng.integers(0, n_classes, batch)] = 1.0
    return params, X, labels


# ------------------------------------------------------------------- tanh RNN


def tanh_rnn(Wx, Wh, bh, Wo, xs, target):
    """``xs`` is (steps, inputs, batch); states are columns."""
    h = np.zeros((Wh.shape[0], xs.shape[2]))
    for t in range(xs.shape[0]):
        h = np.tanh(Wx @ xs[t] + Wh @ h + bh)
    pred = Wo @ h
    return np.mean((pred - target) ** 2)


def tanh_rnn_hand(Wx, Wh, bh, Wo, xs, target):
    steps = xs.shape[0]
    hs = [np.zeros((Wh.shape[0], xs.shape[2]))]
    for t in range(steps):
        hs.append(np.tanh(Wx @ xs[t] + Wh @ hs[-1] + bh))
    h = hs[-1]
    pred = Wo @ h
    dpred = 2.0 * (pred - target) / pred.size
    gWo = dpred @ h.T
    dh = Wo.T @ dpred
    gWx = np.zeros_like(Wx)
    gWh = np.zeros_like(Wh)
    gbh = np.zeros_like(bh)
    for t in range(steps - 1, -1, -1):
        h = hs[t + 1]
        dz = dh * (1.0 - h * h)
        gWx += dz @ xs[t].T
        gWh += dz @ hs[t].T
        gbh += dz.sum(axis=1, keepdims=True)
        dh = Wh.T @ dz
    return gWx, gWh, gbh, gWo


def tanh_rnn_data(steps=50, hidden=32, n_in=10, batch=8, n_out=3):
    rng = np.random.default_rng(3)
    return (
        rng.standard_normal((hidden, n_in)) * 0.3,
        rng.standard_normal((hidden, hidden)) * 0.15,
        rng.standard_normal((hidden, 1)) * 0.1,
        rng.standard_normal((n_out, hidden)) * 0.3,
        rng.standard_normal((steps, n_in, batch)),
        rng.standard_normal((n_out, batch)),
    )


# ------------------------------------------------------------------ scalar ops

ROUNDS = 50  # four operations each: 200 in all


def scalar_ops(a, b):
    s = a
    for _ in range(ROUNDS):
        s = math.sin(s) * b + math.cos(s)
    return s


def scalar_ops_hand(a, b):
    ss = []
    s = a
    for _ in range(ROUNDS):
        ss.append(s)
        s = math.sin(s) * b + math.cos(s)
    ds = 1.0
    db = 0.0
    for s in reversed(ss):
        db += ds * math.sin(s)
        ds = ds * (math.cos(s) * b - math.sin(s))
    return ds, db


# ------------------------------------------------------------------ measuring

WORKLOADS = {
    "seed-small": (
        sigmoid_net,
        sigmoid_net_hand,
        (0, 1, 2, 3),
        lambda: sigmoid_net_data(4, 8, 1, 16),
    ),
    "seed-large": (
        sigmoid_net,
        sigmoid_net_hand,
        (0, 1, 2, 3),
        lambda: sigmoid_net_data(784, 512, 10, 256),
    ),
    "deep-mlp": (deep_mlp, deep_mlp_hand, 0, deep_mlp_data),
    "rnn": (tanh_rnn, tanh_rnn_hand, (0, 1, 2, 3), tanh_rnn_data),
    "scalar": (scalar_ops, scalar_ops_hand, (0, 1), lambda: (0.4, 0.9)),
}


def leaves(tree) -> list:
    if isinstance(tree, list | tuple):
        return [x for t in tree for x in leaves(t)]
    return [tree]


def check(got, want) -> None:
    g, w = leaves(got), leaves(want)
    assert len(g) == len(w), (len(g), len(w))
    for a, b in zip(g, w, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def calls_per_sample(fn, args, budget: float) -> int:
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn(*args)
        if time.perf_counter() - t > budget:
            return n
        n *= 2


def sample(fn, args, n: int) -> float:
    gc.collect()
    gc.disable()
    try:
        t = time.process_time()
        for _ in range(n):
            fn(*args)
        return (time.process_time() - t) / n
    finally:
        gc.enable()


def peak_memory(fn, args) -> int:
    fn(*args)
    gc.collect()
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(key: str, rounds: int, budget: float) -> dict:
    f, hand, wrt, data = WORKLOADS[key]
    args = data()
    g = ad.grad(f, wrt=wrt)
    check(g(*args), hand(*args))
    fns = {"adcompile": g, "hand": hand}
    n = min(calls_per_sample(fn, args, budget) for fn in fns.values())
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(reversed(fns))
        for k in order:
            times[k].append(sample(fns[k], args, n))
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {k: peak_memory(fn, args) for k, fn in fns.items()}
    return {
        "workload": key,
        "hand_time": med["hand"],
        "ad_time": med["adcompile"],
        "time_ratio": med["adcompile"] / med["hand"],
        "hand_mem": mem["hand"],
        "ad_mem": mem["adcompile"],
        "mem_ratio": mem["adcompile"] / mem["hand"],
    }


def fmt_time(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} µs"


def fmt_mem(b: int) -> str:
    return f"{b / 2**20:.2f} MiB" if b >= 2**20 else f"{b / 2**10:.1f} KiB"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few rounds (a smoke run)")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    a = p.parse_args(argv)
    rounds = a.rounds or (5 if a.quick else 41)
    budget = 0.002 if a.quick else 0.01
    print(
        f"{'workload':<12} {'hand':>10} {'adcompile':>10} {'× time':>7}"
        f" {'hand peak':>10} {'ad peak':>10} {'× mem':>6}"
    )
    ok = True
    for key in a.workloads.split(","):
        r = measure(key, rounds, budget)
        met = r["time_ratio"] <= TARGET_TIME and r["mem_ratio"] <= TARGET_MEMORY
        ok &= met
        print(
            f"{key:<12} {fmt_time(r['hand_time']):>10} {fmt_time(r['ad_time']):>10}"
            f" {r['time_ratio']:>6.2f}× {fmt_mem(r['hand_mem']):>10}"
            f" {fmt_mem(r['ad_mem']):>10} {r['mem_ratio']:>5.2f}×{'' if met else '  (over target)'}"
        )
    print(f"targets: ≤{TARGET_TIME:.2f}× hand-written time, ≤{TARGET_MEMORY:.2f}× its peak memory")
    return 1 if a.strict and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
