"""Benchmark: second order and forward mode, against the gradient and the forward pass.

For the seed network 784-512-10 (batch 256) and a deep tanh MLP (10 layers of 64,
batch 32, its parameters a list of ``(W, b)`` tuples), with respect to every
parameter, it reports:

* hvp time / gradient time for ``adcompile.hvp`` (one forward-over-reverse pass of
  generated code; Griewank's bound for the ratio is about 4), and the same for
  autograd's ``hessian_vector_product`` and, when installed, ``torch.func``'s
  ``jvp(grad)``, each over its own gradient;
* jvp time / forward time for ``adcompile.jvp`` (forward mode; about 3 is the bound).

Every hvp is checked against central differences of the gradient before it is
timed. Times are medians of many calls, on one thread.

    python examples/benchmarks/hvp_bench.py [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads  # noqa: E402

import adcompile as ad  # noqa: E402


def median_time(fn, budget: float) -> float:
    """The median wall time of ``fn()`` over as many calls as fit in ``budget`` seconds
    (at least five), after one warm-up call."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _map(tree, fn, *others):
    if isinstance(tree, list | tuple):
        return type(tree)(_map(t, fn, *(o[i] for o in others)) for i, t in enumerate(tree))
    return fn(tree, *others)


def _flat(tree):
    if isinstance(tree, list | tuple):
        return np.concatenate([_flat(t) for t in tree]) if tree else np.zeros(0)
    return np.ravel(tree)


def cases(quick: bool) -> list[tuple]:
    """(name, loss, args, wrt)."""
    seed = workloads.seed_data(784, 512, 10, 64 if quick else 256)
    mlp = workloads.mlp_data()
    return [
        ("seed 784-512-10", workloads.seed_loss, seed, (0, 1, 2, 3)),
        ("deep MLP 10x64", workloads.mlp_loss, mlp, (0, 1, 2)),
    ]


def check(loss, args, wrt, v, hv) -> float:
    """The largest difference between ``hv`` and central differences of the gradient."""
    g = ad.grad(loss, wrt=wrt)
    eps = 1e-6

    def moved(sign):
        out = list(args)
        for i, vi in zip(wrt, v, strict=True):
            out[i] = _map(args[i], lambda x, d: x + sign * eps * d, vi)
        return out

    fd = (_flat(g(*moved(1.0))) - _flat(g(*moved(-1.0)))) / (2 * eps)
    return float(np.max(np.abs(_flat(hv) - fd)) / max(1.0, np.max(np.abs(fd))))


def autograd_ratio(loss, args, wrt, v, budget) -> tuple[float, float] | None:
    try:
        import autograd
        import autograd.numpy as anp
        from autograd.misc import flatten
    except ImportError:
        return None
    source_module = sys.modules[loss.__module__]
    saved = source_module.np
    source_module.np = anp  # the same function, on autograd's numpy
    try:
        params = tuple(args[i] for i in wrt)
        flat, unflatten = flatten(params)
        rest = [a for i, a in enumerate(args) if i not in wrt]

        def f(p):
            full = list(rest)
            for i, x in zip(wrt, unflatten(p), strict=True):
                full.insert(i, x)
            return loss(*full)

        vflat = flatten(tuple(v))[0]
        grad = autograd.grad(f)
        hvp = autograd.hessian_vector_product(f)
        t_grad = median_time(lambda: grad(flat), budget)
        t_hvp = median_time(lambda: hvp(flat, vflat), budget)
    finally:
        source_module.np = saved
    return t_hvp, t_hvp / t_grad


def torch_ratio(loss_name, args, wrt, v, budget) -> tuple[float, float] | None:
    try:
        import torch
        from torch.func import grad, jvp
    except ImportError:
        return None
    torch.set_num_threads(1)
    if loss_name != "seed 784-512-10":
        return None  # (the MLP's list parameters: only the seed network is ported)
    W1, b1, W2, b2, x, y = (torch.tensor(a) for a in args)

    def f(W1, b1, W2, b2):
        a = torch.sigmoid(W1 @ x + b1)
        yhat = torch.sigmoid(W2 @ a + b2)
        return 0.5 * torch.sum((yhat - y) ** 2)

    params = (W1, b1, W2, b2)
    tangents = tuple(torch.tensor(t) for t in v)
    g = grad(f, argnums=(0, 1, 2, 3))
    t_grad = median_time(lambda: g(*params), budget)
    t_hvp = median_time(lambda: jvp(lambda *p: g(*p), params, tangents), budget)
    return t_hvp, t_hvp / t_grad


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller batch, shorter timing")
    args_ = parser.parse_args(argv)
    budget = 0.3 if args_.quick else 2.0
    rows = []
    for name, loss, args, wrt in cases(args_.quick):
        rng = np.random.default_rng(1)
        v = tuple(_map(args[i], lambda x, r=rng: r.normal(size=np.shape(x))) for i in wrt)
        grad = ad.grad(loss, wrt=wrt)
        hvp = ad.hvp(loss, wrt=wrt)
        jvp = ad.jvp(loss, wrt=wrt)
        error = check(loss, args, wrt, v, hvp(*args, v))
        t_forward = median_time(lambda: loss(*args), budget)  # noqa: B023
        t_grad = median_time(lambda: grad(*args), budget)  # noqa: B023
        t_hvp = median_time(lambda: hvp(*args, v), budget)  # noqa: B023
        t_jvp = median_time(lambda: jvp(*args, v), budget)  # noqa: B023
        row = {
            "workload": name,
            "hvp / grad": t_hvp / t_grad,
            "jvp / forward": t_jvp / t_forward,
            "hvp ms": t_hvp * 1e3,
            "grad ms": t_grad * 1e3,
            "hvp error vs differences": error,
        }
        found = autograd_ratio(loss, args, wrt, v, budget)
        if found is not None:
            row["autograd hvp ms"], row["autograd hvp / its grad"] = found[0] * 1e3, found[1]
        found = torch_ratio(name, args, wrt, v, budget)
        if found is not None:
            row["torch hvp ms"], row["torch hvp / its grad"] = found[0] * 1e3, found[1]
        rows.append(row)
        print(f"\n{name}")
        for k, value in row.items():
            if k != "workload":
                print(f"  {k:28s} {value:10.3g}")
        verdicts = [
            ("hvp / grad <= 4", row["hvp / grad"] <= 4),
            ("jvp / forward <= 3", row["jvp / forward"] <= 3),
        ]
        if "autograd hvp ms" in row:
            verdicts.append(("faster than autograd's hvp", t_hvp * 1e3 < row["autograd hvp ms"]))
        if "torch hvp ms" in row:
            verdicts.append(("faster than torch.func", t_hvp * 1e3 < row["torch hvp ms"]))
        print("  " + "; ".join(f"{k}: {'yes' if ok else 'NO'}" for k, ok in verdicts))
    return rows


if __name__ == "__main__":
    main()
