"""Benchmark: second order and forward mode, against the gradient and the forward pass.

For the seed network 784-512-10 (batch 256) and a deep tanh MLP (10 layers of 64,
batch 32, its parameters a list of ``(W, b)`` tuples), with respect to every
parameter, it reports:

* hvp time / gradient time for ``adcompile.hvp`` (one forward-over-reverse pass of
  generated code; Griewank's bound for the ratio is about 4), and the same for
  autograd's ``hessian_vector_product`` and, when torch is installed, ``torch.func``'s
  ``jvp(grad)``, each over its own gradient;
* jvp time / forward time for ``adcompile.jvp`` (forward mode; about 3 is the bound).

Every hvp (adcompile's, autograd's, torch's) is checked against central differences
of adcompile's gradient before it is timed. Timing runs on one thread, in
interleaved rounds: each round takes one sample of every contender of a workload
(about a millisecond of calls), in an order that rotates from round to round, so
that a change of the machine's load moves them all; the figures are the medians
over the rounds. The clock is the process's CPU time (``--clock wall`` for wall
time), which on a shared machine leaves out the time other processes take.

    python examples/benchmarks/hvp_bench.py [--quick] [--budget SECONDS] [--clock cpu|wall]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads  # noqa: E402

import adcompile as ad  # noqa: E402

# process CPU time: the work is single-threaded, so on an idle machine it is wall time,
# and on a shared one it leaves out the time other processes take (--clock wall)
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def interleaved(contenders: dict[str, Callable], budget: float) -> dict[str, float]:
    """The median time of one call of each contender, in seconds. Each round takes one
    sample of every contender (back-to-back calls lasting about a millisecond, after
    one untimed call), in an order that rotates from round to round; the garbage
    collector runs between rounds, not inside samples. Rounds repeat until ``budget``
    seconds have passed, and at least seven of them."""
    calls = {}
    for name, fn in contenders.items():
        for _ in range(3):
            fn()  # warm-up (the first call compiles)
        t0 = clock()
        fn()
        calls[name] = max(1, int(1e-3 / max(clock() - t0, 1e-7)))
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    keys = list(contenders)
    start = time.perf_counter()
    rounds = 0
    gc_was = gc.isenabled()
    gc.disable()
    try:
        while rounds < 7 or time.perf_counter() - start < budget:
            k = rounds % len(keys)
            for name in keys[k:] + keys[:k]:
                fn, n = contenders[name], calls[name]
                fn()
                t0 = clock()
                for _ in range(n):
                    fn()
                samples[name].append((clock() - t0) / n)
            gc.collect()
            rounds += 1
    finally:
        if gc_was:
            gc.enable()
    return {name: float(np.median(s)) for name, s in samples.items()}


def _map(tree, fn, *others):
    if isinstance(tree, list | tuple):
        return type(tree)(_map(t, fn, *(o[i] for o in others)) for i, t in enumerate(tree))
    return fn(tree, *others)


def _flat(tree):
    if isinstance(tree, list | tuple):
        return np.concatenate([_flat(t) for t in tree]) if tree else np.zeros(0)
    return np.ravel(np.asarray(tree, dtype=float))


def cases(quick: bool) -> list[tuple]:
    """(name, loss, args, wrt, torch port of the loss or None)."""
    seed = workloads.seed_data(784, 512, 10, 64 if quick else 256)
    mlp = workloads.mlp_data()
    return [
        ("seed 784-512-10", workloads.seed_loss, seed, (0, 1, 2, 3), _torch_seed),
        ("deep MLP 10x64", workloads.mlp_loss, mlp, (0, 1, 2), _torch_mlp),
    ]


def difference_hvp(loss, args, wrt, v) -> np.ndarray:
    """Central differences of adcompile's gradient along ``v``, flattened."""
    g = ad.grad(loss, wrt=wrt)
    eps = 1e-6

    def moved(sign):
        out = list(args)
        for i, vi in zip(wrt, v, strict=True):
            out[i] = _map(args[i], lambda x, d: x + sign * eps * d, vi)
        return out

    return (_flat(g(*moved(1.0))) - _flat(g(*moved(-1.0)))) / (2 * eps)


def error(hv, fd: np.ndarray) -> float:
    """The largest difference between ``hv`` and the differences ``fd``, relative."""
    return float(np.max(np.abs(_flat(hv) - fd)) / max(1.0, np.max(np.abs(fd))))


def autograd_contenders(loss, args, wrt, v, fd) -> dict[str, Callable]:
    """autograd's gradient and ``hessian_vector_product`` of the same function (its
    module's ``np`` set to ``autograd.numpy`` around each call), over flat parameters."""
    try:
        import autograd
        import autograd.numpy as anp
        from autograd.misc import flatten
    except ImportError:
        return {}
    module = sys.modules[loss.__module__]
    params = tuple(args[i] for i in wrt)
    flat, unflatten = flatten(params)
    rest = [a for i, a in enumerate(args) if i not in wrt]

    def f(p):
        full = list(rest)
        for i, x in zip(wrt, unflatten(p), strict=True):
            full.insert(i, x)
        return loss(*full)

    def on_autograd(fn):
        def run(*a):
            saved = module.np
            module.np = anp  # the same function, on autograd's numpy
            try:
                return fn(*a)
            finally:
                module.np = saved

        return run

    vflat = flatten(tuple(v))[0]
    grad = on_autograd(autograd.grad(f))
    hvp = on_autograd(autograd.hessian_vector_product(f))
    found = error(hvp(flat, vflat), fd)
    if found > 1e-5:
        raise SystemExit(f"autograd's hvp differs from differences of the gradient: {found:.2g}")
    return {"autograd grad": lambda: grad(flat), "autograd hvp": lambda: hvp(flat, vflat)}


def _torch_seed(torch, W1, b1, W2, b2, x, y):
    a = torch.sigmoid(W1 @ x + b1)
    yhat = torch.sigmoid(W2 @ a + b2)
    return 0.5 * torch.sum((yhat - y) ** 2)


def _torch_mlp(torch, layers, Wo, bo, X, Y):
    h = X
    for W, b in layers:
        h = torch.tanh(h @ W + b)
    logits = h @ Wo + bo
    z = logits - torch.amax(logits, dim=1, keepdim=True)
    lse = torch.log(torch.sum(torch.exp(z), dim=1, keepdim=True))
    return -torch.sum(Y * (z - lse)) / X.shape[0]


def torch_contenders(port, args, wrt, v, fd) -> dict[str, Callable]:
    """``torch.func``'s gradient and ``jvp(grad)`` of the loss ported to torch (float64,
    one thread); nothing when torch is not installed."""
    try:
        import torch
        from torch.func import grad, jvp
    except ImportError:
        return {}
    torch.set_num_threads(1)
    targs = [_map(a, torch.tensor) for a in args]
    rest = [a for i, a in enumerate(targs) if i not in wrt]

    def f(*params):
        full = list(rest)
        for i, x in zip(wrt, params, strict=True):
            full.insert(i, x)
        return port(torch, *full)

    params = tuple(targs[i] for i in wrt)
    tangents = tuple(_map(t, torch.tensor) for t in v)
    g = grad(f, argnums=tuple(range(len(wrt))))

    def hvp():
        return jvp(g, params, tangents)[1]

    found = error(_map(hvp(), lambda t: t.numpy()), fd)
    if found > 1e-5:
        raise SystemExit(f"torch's hvp differs from differences of the gradient: {found:.2g}")
    return {"torch grad": lambda: g(*params), "torch hvp": hvp}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller batch, shorter timing")
    parser.add_argument("--budget", type=float, help="seconds of timing per workload")
    parser.add_argument("--no-others", action="store_true", help="time adcompile alone")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu", help="what to time")
    args_ = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args_.clock]
    budget = args_.budget if args_.budget is not None else (2.0 if args_.quick else 20.0)
    rows = []
    for name, loss, args, wrt, port in cases(args_.quick):
        rng = np.random.default_rng(1)
        v = tuple(_map(args[i], lambda x, r=rng: r.normal(size=np.shape(x))) for i in wrt)
        grad = ad.grad(loss, wrt=wrt)
        hvp = ad.hvp(loss, wrt=wrt)
        jvp = ad.jvp(loss, wrt=wrt)
        fd = difference_hvp(loss, args, wrt, v)
        hvp_error = error(hvp(*args, v), fd)
        if hvp_error > 1e-5:
            raise SystemExit(f"{name}: adcompile's hvp differs from differences: {hvp_error:.2g}")
        contenders = {
            "forward": lambda: loss(*args),  # noqa: B023
            "grad": lambda: grad(*args),  # noqa: B023
            "hvp": lambda: hvp(*args, v),  # noqa: B023
            "jvp": lambda: jvp(*args, v),  # noqa: B023
        }
        if not args_.no_others:
            contenders.update(autograd_contenders(loss, args, wrt, v, fd))
            contenders.update(torch_contenders(port, args, wrt, v, fd))
        t = interleaved(contenders, budget)
        row = {
            "workload": name,
            "hvp / grad": t["hvp"] / t["grad"],
            "jvp / forward": t["jvp"] / t["forward"],
            "forward ms": t["forward"] * 1e3,
            "grad ms": t["grad"] * 1e3,
            "hvp ms": t["hvp"] * 1e3,
            "jvp ms": t["jvp"] * 1e3,
            "hvp error vs differences": hvp_error,
        }
        for other in ("autograd", "torch"):
            if f"{other} hvp" in t:
                row[f"{other} hvp ms"] = t[f"{other} hvp"] * 1e3
                row[f"{other} hvp / its grad"] = t[f"{other} hvp"] / t[f"{other} grad"]
        rows.append(row)
        print(f"\n{name}")
        for k, value in row.items():
            if k != "workload":
                print(f"  {k:28s} {value:10.3g}")
        verdicts = [
            ("hvp / grad <= 4", row["hvp / grad"] <= 4),
            ("jvp / forward <= 3", row["jvp / forward"] <= 3),
        ]
        for other, label in (("autograd", "autograd's hvp"), ("torch", "torch.func")):
            if f"{other} hvp ms" in row:
                verdicts.append((f"faster than {label}", row["hvp ms"] < row[f"{other} hvp ms"]))
        if "torch hvp ms" not in row and not args_.no_others:
            verdicts.append(("torch.func", "not installed"))
        print("  " + "; ".join(f"{k}: {_verdict(ok)}" for k, ok in verdicts))
    return rows


def _verdict(ok: bool | str) -> str:
    return ok if isinstance(ok, str) else ("yes" if ok else "NO")


if __name__ == "__main__":
    main()
