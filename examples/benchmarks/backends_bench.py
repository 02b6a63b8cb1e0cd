"""adcompile's backends against the other systems, on the held-out workloads of
``heldout_bench.py`` (imported from there, unchanged): per-step gradient time of the
hand-written numpy backward, adcompile's numpy and numba backends, ``jax.jit``,
autograd and PyTorch, in one process pinned to one core, samples interleaved (the
median of each, and its ratio to the hand-written one); then the first call's time
in a fresh process, imports not counted, each in its own subprocess: adcompile numpy;
adcompile numba with nothing cached ("numba cold": adcompile's own compiler,
jit/kernel.py, for straight-line code, else numba) and with the gradient compiled by
an earlier process ("numba warm"; the compiler used is shown); the same with every
gradient compiled by numba (ADCOMPILE_KERNEL=0: "by numba cold", with adcompile's
shared helpers already in numba's cache, and "by numba warm", numba's exported
machine code run without importing numba); ``jax.jit``.

Every system but numpy and adcompile is optional: a column is left out when its
library is not installed (``pip install 'adcompile[numba]' jax jaxlib torch autograd``).

    python examples/benchmarks/backends_bench.py [--quick] [--workloads rnn,scalar]
        [--no-first-call]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import heldout_bench as hb  # noqa: E402
import numpy as np  # noqa: E402

import adcompile as ad  # noqa: E402


def have(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# ------------------------------------------------------- the workloads in other systems


def user_functions(m, sigmoid, log_softmax_rows, zeros) -> dict:
    """The held-out workloads written with the array library ``m`` (jax.numpy or
    torch), as a user of it would; ``sigmoid``, ``log_softmax_rows`` and ``zeros(shape,
    like)`` are the library's ways of writing them."""

    def sigmoid_net(W1, b1, W2, b2, x, y):
        a1 = sigmoid(W1 @ x + b1)
        a2 = sigmoid(W2 @ a1 + b2)
        err = a2 - y
        return 0.5 * m.sum(err * err)

    def deep_mlp(params, X, labels):
        h = X
        for i in range(len(params) // 2 - 1):
            h = m.tanh(h @ params[2 * i] + params[2 * i + 1])
        scores = h @ params[-2] + params[-1]
        return -(labels * log_softmax_rows(scores)).sum() / X.shape[0]

    def tanh_rnn(Wx, Wh, bh, Wo, xs, target):
        h = zeros((Wh.shape[0], xs.shape[2]), Wx)
        for t in range(xs.shape[0]):
            h = m.tanh(Wx @ xs[t] + Wh @ h + bh)
        return m.mean((Wo @ h - target) ** 2)

    def scalar_ops(a, b):
        s = a
        for _ in range(hb.ROUNDS):
            s = m.sin(s) * b + m.cos(s)
        return s

    return {
        "seed-small": sigmoid_net,
        "seed-large": sigmoid_net,
        "deep-mlp": deep_mlp,
        "rnn": tanh_rnn,
        "scalar": scalar_ops,
    }


def jax_functions() -> dict:
    import jax.numpy as jnp

    def log_softmax_rows(scores):  # (a stable log-sum-exp, as the numpy workload's)
        shift = scores.max(axis=1, keepdims=True)
        return scores - (shift + jnp.log(jnp.exp(scores - shift).sum(axis=1, keepdims=True)))

    return user_functions(
        jnp,
        sigmoid=lambda z: 1.0 / (1.0 + jnp.exp(-z)),
        log_softmax_rows=log_softmax_rows,
        zeros=lambda shape, like: jnp.zeros(shape),
    )


def torch_functions() -> dict:
    import torch

    return user_functions(
        torch,
        sigmoid=torch.sigmoid,
        log_softmax_rows=lambda scores: torch.log_softmax(scores, dim=1),
        zeros=lambda shape, like: torch.zeros(shape, dtype=like.dtype),
    )


def wrt_tuple(wrt) -> tuple:
    return wrt if isinstance(wrt, tuple) else (wrt,)


def jax_step(key: str):
    import jax

    jax.config.update("jax_enable_x64", True)
    f = jax_functions()[key]
    _, _, wrt, _ = hb.WORKLOADS[key]
    g = jax.jit(jax.grad(f, argnums=wrt))

    def step(*args):
        out = g(*args)
        return jax.block_until_ready(out)

    return step


def torch_step(key: str, args: tuple):
    import torch

    torch.set_num_threads(1)
    f = torch_functions()[key]
    _, _, wrt, _ = hb.WORKLOADS[key]
    index = wrt_tuple(wrt)

    def convert(a, grad):
        if isinstance(a, list):
            return [convert(x, grad) for x in a]
        return torch.tensor(a, dtype=torch.float64, requires_grad=grad)

    targs = [convert(a, i in index) for i, a in enumerate(args)]
    leaves = [t for i in index for t in (targs[i] if isinstance(targs[i], list) else [targs[i]])]

    def step(*_ignored):
        return torch.autograd.grad(f(*targs), leaves)

    return step


def autograd_step(key: str):
    import autograd
    import autograd.numpy as anp

    _, _, wrt, _ = hb.WORKLOADS[key]
    # the workloads read np and math from heldout_bench's module: autograd's versions
    # are swapped in while a step runs
    f = hb.WORKLOADS[key][0]
    g = autograd.grad(f, wrt)

    def step(*args):
        hb.np, hb.math = anp, anp
        try:
            return g(*args)
        finally:
            hb.np, hb.math = np, math

    return step


# ------------------------------------------------------------------------ per step


def steps(key: str, args: tuple) -> dict:
    f, hand, wrt, _ = hb.WORKLOADS[key]
    fns = {"hand": hand, "numpy": ad.grad(f, wrt=wrt)}
    makers = {
        "numba": lambda: ad.grad(f, wrt=wrt, backend="numba"),
        "jax.jit": lambda: jax_step(key),
        "autograd": lambda: autograd_step(key),
        "torch": lambda: torch_step(key, args),
    }
    modules = {"numba": "numba", "jax.jit": "jax", "autograd": "autograd", "torch": "torch"}
    want = hand(*args)
    for name, make in makers.items():
        if not have(modules[name]):
            continue
        try:
            fn = make()
            got = fn(*args)
            if name != "torch":
                hb.check([np.asarray(x) for x in hb.leaves(got)], want)
            else:
                hb.check([x.numpy() for x in got], hb.leaves(want))
        except Exception as exc:  # a system that cannot run the workload: no column
            print(f"  ({key}: {name} left out: {type(exc).__name__}: {exc})".splitlines()[0])
            continue
        fns[name] = fn
    return fns


def measure(key: str, rounds: int, budget: float) -> dict:
    args = hb.WORKLOADS[key][3]()
    fns = steps(key, args)
    for fn in fns.values():  # compile, warm up
        fn(*args)
    # calls per sample for each system: the slow ones (autograd) would leave the fast
    # ones a sample of a call or two, too short to time
    n = {k: hb.calls_per_sample(fn, args, budget) for k, fn in fns.items()}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(reversed(fns))
        for k in order:
            times[k].append(hb.sample(fns[k], args, n[k]))
    return {k: statistics.median(v) for k, v in times.items()}


# ------------------------------------------------------------------------ first call

FIRST = """
import os, sys, time
sys.path.insert(0, {here!r})
system = {system!r}
import numpy as np
import heldout_bench as hb
import adcompile as ad
f, _, wrt, data = hb.WORKLOADS[{key!r}]
args = data()
if system == "jax.jit":
    import backends_bench as bb
    import jax
    step = bb.jax_step({key!r})
elif system == "numpy":
    step = ad.grad(f, wrt=wrt)
else:
    if system == "numba" and os.environ["ADCOMPILE_KERNEL"] == "0":
        import numba  # noqa: F401  (imports not counted; a process that runs numba's
        # exported machine code, or adcompile's own, never imports numba)
    step = ad.grad(f, wrt=wrt, backend="numba")
t = time.perf_counter()
step(*args)
seconds = time.perf_counter() - t
code = step._latest[0] if system.startswith("numba") else None
compiler = "" if code is None else "kernel" if code.kernel is not None else "numba"
print(seconds, compiler or "-")
"""


def first_call(
    key: str, system: str, cache: str, numba_cache: str | None = None, numba_only: bool = False
) -> tuple[float, str]:
    """The first call's time in a fresh process, with ``cache`` as adcompile's cache
    and ``numba_cache`` (if given) as numba's, for every function (numba's default is
    a folder next to each source file: adcompile's helpers' next to jit/helpers.py),
    and which compiler made the code ("kernel" or "numba"; "" for other systems)."""
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=cache)
    if numba_cache:
        env["NUMBA_CACHE_DIR"] = numba_cache
    env["ADCOMPILE_KERNEL"] = "0" if numba_only else "1"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent.parent), env.get("PYTHONPATH", "")])
    script = FIRST.format(here=str(HERE), system=system, key=key)
    cpu = sorted(os.sched_getaffinity(0))[0]
    out = subprocess.run(
        ["taskset", "-c", str(cpu), sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    *_, seconds, compiler = out.stdout.split()
    return float(seconds), compiler.strip("-")


def first_calls(key: str) -> dict:
    """First calls in fresh processes: numpy; numba with nothing cached, then with the
    gradient cached by the first; the same with numba compiling every gradient
    (adcompile's helpers compiled into numba's cache first, as after any earlier
    gradient); jax.jit."""
    out = {"numpy": first_call(key, "numpy", tempfile.mkdtemp())}
    if have("numba"):
        numba_cache = tempfile.mkdtemp(prefix="numba-bench-")
        cache = tempfile.mkdtemp(prefix="adcompile-bench-")
        out["numba cold"] = first_call(key, "numba", cache, numba_cache)
        out["numba warm"] = first_call(key, "numba", cache, numba_cache)
        cache = tempfile.mkdtemp(prefix="adcompile-bench-")
        first_call(key, "numba", tempfile.mkdtemp(), numba_cache, numba_only=True)  # (helpers)
        out["by numba cold"] = first_call(key, "numba", cache, numba_cache, numba_only=True)
        out["by numba warm"] = first_call(key, "numba exported", cache, numba_cache, True)
    if have("jax"):
        out["jax.jit"] = first_call(key, "jax.jit", tempfile.mkdtemp())
    return out


# ------------------------------------------------------------------------ report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few rounds (a smoke run)")
    p.add_argument("--workloads", default=",".join(hb.WORKLOADS))
    p.add_argument("--no-first-call", action="store_true", help="skip the first-call times")
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    a = p.parse_args(argv)
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    rounds = 5 if a.quick else 21
    budget = 0.002 if a.quick else 0.01
    keys = a.workloads.split(",")
    results = {}
    print(f"per gradient step, median of {rounds} interleaved samples, one core (cpu {cpu})")
    header = ["hand", "numpy", "numba", "jax.jit", "autograd", "torch"]
    print(f"{'workload':<12}" + "".join(f"{h:>20}" for h in header))
    for key in keys:
        med = measure(key, rounds, budget)
        cells = [
            f"{hb.fmt_time(med[h])} {med[h] / med['hand']:5.2f}×" if h in med else "—"
            for h in header
        ]
        print(f"{key:<12}" + "".join(f"{c:>20}" for c in cells), flush=True)
        results[key] = {"step": med}
    if not a.no_first_call:
        print("\nfirst call in a fresh process (imports not counted)")
        header = None
        for key in keys:
            first = first_calls(key)
            if header is None:
                header = list(first)
                print(f"{'workload':<12}" + "".join(f"{h:>15}" for h in header) + "  compiler")
            cells = "".join(f"{first[h][0]:>14.3f}s" for h in header)
            used = first.get("numba cold", (0, ""))[1]
            print(f"{key:<12}{cells}  {used}", flush=True)
            results[key]["first"] = {h: v[0] for h, v in first.items()}
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
