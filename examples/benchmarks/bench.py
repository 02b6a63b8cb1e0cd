"""Benchmark: adcompile's gradients against a hand-written numpy backward, autograd,
PyTorch (eager, CPU), JAX (jit) and tangent-ad, on five workloads.

Workloads (see ``workloads.py``; each also has a hand-written numpy backward, the
reference that every ratio is taken to):

* ``seed-small``, ``seed-large``: the seed network, 4-8-1 with a batch of 16 and
  784-512-10 with a batch of 256;
* ``mlp``: a 10-layer tanh MLP of width 64, batch 32, softmax cross-entropy with a
  stable log-sum-exp, its parameters a list of ``(W, b)`` tuples;
* ``rnn``: a vanilla RNN, 50 steps, hidden 32, input 16, batch 8, a Python ``for`` loop;
* ``chain``: 50 iterations of ``y = sin(y * x) + cos(y)`` on Python floats.

For every workload and system it reports the gradient time (median of many samples,
the systems' samples interleaved so that drifts in machine load hit them alike), its
ratio to the hand-written backward, gradient time over forward time (the forward is
the plain numpy function), and the first-call time: building the gradient function
plus one call, with every cache of the system cleared first. Every system's gradient
is checked against the hand-written one before it is timed. Everything runs on one
thread: the BLAS and XLA thread variables are set before numpy is imported.

Systems other than adcompile and the hand-written backward run only when installed
(``pip install -e '.[bench]'``); PyTorch is not in that extra, because a plain
``pip install torch`` can fetch a multi-gigabyte CUDA build: install a CPU build
yourself (``pip install torch --index-url https://download.pytorch.org/whl/cpu``).

    python examples/benchmarks/bench.py [--quick] [--json PATH] [--plot PNG]
        [--workloads seed-small,mlp] [--systems adcompile,jax]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
    " intra_op_parallelism_threads=1"
).strip()
os.environ.setdefault("TANGENT_DISK_CACHE", "0")  # first calls must really compile
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import adcompile  # noqa: E402
import adcompile.api  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads as W  # noqa: E402

# ------------------------------------------------------------------ the targets

TARGET_RATIO = 1.10  # adcompile / hand-written, every workload
TARGET_OVER_FORWARD = 3.0  # adcompile gradient / forward, every workload
# first call (build + one call); seed-large is left out: one call of its gradient alone
# takes about 20 ms
TARGET_FIRST_CALL = {"seed-small": 0.020, "mlp": 0.100, "rnn": 0.100}
BEAT = ("autograd", "torch", "tangent")  # adcompile must be faster than these

# ------------------------------------------------------------------ workloads


@dataclass
class Workload:
    key: str
    title: str
    fn: object  # the numpy forward, which adcompile differentiates
    hand: object  # the hand-written backward: same arguments, gradients of the wrt ones
    args: tuple
    n_wrt: int  # the leading n_wrt arguments are differentiated
    torch_fn: object = None


def make_workloads(keys=None) -> list[Workload]:
    all_ = [
        Workload(
            "seed-small",
            "seed network 4-8-1, batch 16",
            W.seed_loss,
            W.seed_hand,
            W.seed_data(4, 8, 1, 16),
            4,
            torch_seed,
        ),
        Workload(
            "seed-large",
            "seed network 784-512-10, batch 256",
            W.seed_loss,
            W.seed_hand,
            W.seed_data(784, 512, 10, 256),
            4,
            torch_seed,
        ),
        Workload(
            "mlp",
            "10-layer tanh MLP, width 64, batch 32, softmax cross-entropy",
            W.mlp_loss,
            W.mlp_hand,
            W.mlp_data(),
            3,
            torch_mlp,
        ),
        Workload(
            "rnn",
            "vanilla RNN, 50 steps, hidden 32, input 16, batch 8",
            W.rnn_loss,
            W.rnn_hand,
            W.rnn_data(),
            5,
            torch_rnn,
        ),
        Workload(
            "chain",
            "scalar chain, 50 × y = sin(y·x) + cos(y), Python floats",
            W.chain,
            W.chain_hand,
            W.chain_data(),
            2,
            torch_chain,
        ),
    ]
    if keys:
        unknown = set(keys) - {w.key for w in all_}
        if unknown:
            raise SystemExit(f"unknown workloads: {', '.join(sorted(unknown))}")
        all_ = [w for w in all_ if w.key in keys]
    return all_


# The PyTorch spellings of the workloads (same operations, torch's names).


def torch_seed(W1, b1, W2, b2, x, y):
    import torch

    h = W1 @ x + b1
    a = 1 / (1 + torch.exp(-h))
    o = W2 @ a + b2
    yhat = 1 / (1 + torch.exp(-o))
    return 0.5 * torch.sum((yhat - y) ** 2)


def torch_mlp(layers, Wo, bo, X, Y):
    import torch

    h = X
    for Wl, bl in layers:
        h = torch.tanh(h @ Wl + bl)
    logits = h @ Wo + bo
    m = torch.amax(logits, dim=1, keepdim=True)
    z = logits - m
    lse = torch.log(torch.sum(torch.exp(z), dim=1, keepdim=True))
    return -torch.sum(Y * (z - lse)) / X.shape[0]


def torch_rnn(Wx, Wh, b, Wy, by, xs, h0, y):
    import torch

    h = h0
    for t in range(xs.shape[0]):
        h = torch.tanh(xs[t] @ Wx + h @ Wh + b)
    out = h @ Wy + by
    return 0.5 * torch.sum((out - y) ** 2)


def torch_chain(y, x):
    import torch

    for _ in range(W.STEPS):
        y = torch.sin(y * x) + torch.cos(y)
    return y


# ------------------------------------------------------------------ systems


def flatten(tree) -> list:
    """The leaves of nested tuples/lists/dicts, in order."""
    if isinstance(tree, list | tuple):
        return [leaf for t in tree for leaf in flatten(t)]
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in flatten(tree[k])]
    return [tree]


def rebind(fn, **names):
    """``fn`` with some of its global names bound to other objects (``np`` to
    ``jax.numpy``, say): the same source and code, another numpy."""
    g = dict(fn.__globals__)
    g.update(names)
    new = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__module__ = fn.__module__
    new.__qualname__ = fn.__qualname__
    return new


@dataclass
class Prepared:
    """One system on one workload: ``build()`` makes the gradient function from scratch
    (clearing the system's caches) and returns a zero-argument callable computing the
    gradient; ``to_numpy`` turns its result into a flat list of numpy values."""

    build: object
    to_numpy: object = lambda out: [np.asarray(v) for v in flatten(out)]
    diagnostics: dict = field(default_factory=dict)  # extra callables to time


class System:
    key = ""
    label = ""
    module = None  # import name; None: always there
    install = ""

    def available(self) -> bool:
        return self.module is None or importlib.util.find_spec(self.module) is not None

    def prepare(self, w: Workload) -> Prepared:
        raise NotImplementedError


class Hand(System):
    key, label = "hand", "hand-written"

    def prepare(self, w):
        args = w.args
        return Prepared(lambda: lambda: w.hand(*args))


class AdCompile(System):
    key, label = "adcompile", "adcompile"

    def prepare(self, w):
        args, wrt = w.args, tuple(range(w.n_wrt))

        def build():
            adcompile.api._CACHE.clear()
            g = adcompile.grad(w.fn, wrt=wrt)
            return lambda: g(*args)

        def generated_only():
            # the generated function alone, without the API's per-call work (binding,
            # argument checks, picking the specialisation, giving each gradient its
            # input's type): a diagnostic
            g = adcompile.grad(w.fn, wrt=wrt)
            fn = called_generated(g, args)
            return lambda: fn(*args)

        return Prepared(build, diagnostics={"generated": generated_only})


def called_generated(g, args):
    """The generated function that the call ``g(*args)`` runs, caught as it is entered
    (whatever specialisation the API picks for these arguments)."""
    found = []

    def profile(frame, event, arg):
        code = frame.f_code
        if (
            event == "call"
            and not found
            and code.co_filename.startswith("<adcompile")
            and code.co_name != "<module>"  # compiling runs the generated module first
        ):
            found.append(types.FunctionType(code, frame.f_globals))

    g(*args)  # compile outside the profiled call
    sys.setprofile(profile)
    try:
        g(*args)
    finally:
        sys.setprofile(None)
    if not found:
        raise RuntimeError("no generated function ran")
    return found[0]


class Autograd(System):
    key, label, module = "autograd", "autograd", "autograd"
    install = "pip install autograd"

    def prepare(self, w):
        import autograd
        import autograd.numpy as anp

        f = rebind(w.fn, np=anp, math=types.SimpleNamespace(sin=anp.sin, cos=anp.cos))
        params, rest = w.args[: w.n_wrt], w.args[w.n_wrt :]

        def packed(params, *rest):
            return f(*params, *rest)

        def build():
            g = autograd.grad(packed)
            return lambda: g(params, *rest)

        return Prepared(build)


class Torch(System):
    key, label, module = "torch", "PyTorch eager", "torch"
    install = (
        "pip install torch --index-url https://download.pytorch.org/whl/cpu  "
        "(a CPU build; a plain 'pip install torch' may fetch CUDA)"
    )

    def prepare(self, w):
        import torch

        torch.set_num_threads(1)

        def tensor(a):
            if isinstance(a, list | tuple):
                return type(a)(tensor(v) for v in a)
            if isinstance(a, float):
                return torch.tensor(a, dtype=torch.float64)
            return torch.from_numpy(np.asarray(a))

        params = [tensor(a) for a in w.args[: w.n_wrt]]
        rest = [tensor(a) for a in w.args[w.n_wrt :]]
        leaves = flatten(params)
        for t in leaves:
            t.requires_grad_(True)
        f = w.torch_fn

        def run():
            return torch.autograd.grad(f(*params, *rest), leaves)

        return Prepared(
            lambda: run,
            to_numpy=lambda out: [t.detach().numpy() for t in out],
        )


class Jax(System):
    key, label, module = "jax", "JAX jit", "jax"
    install = "pip install jax jaxlib"

    def prepare(self, w):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        f_np = w.fn
        args = jax.tree_util.tree_map(
            lambda a: a if isinstance(a, float) else jnp.asarray(a), w.args
        )
        argnums = tuple(range(w.n_wrt))

        def build():
            jax.clear_caches()
            f = rebind(f_np, np=jnp, math=types.SimpleNamespace(sin=jnp.sin, cos=jnp.cos))
            g = jax.jit(jax.grad(f, argnums=argnums))
            return lambda: jax.block_until_ready(g(*args))

        return Prepared(build)


class Tangent(System):
    key, label, module = "tangent", "tangent-ad", "tangent"
    install = "pip install tangent-ad"

    def prepare(self, w):
        import tangent

        f = rebind(w.fn, math=types.SimpleNamespace(sin=np.sin, cos=np.cos))
        args, wrt = w.args, tuple(range(w.n_wrt))

        def build():
            tangent.clear_cache()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tangent's generated code warns
                g = tangent.grad(f, wrt=wrt)
            return lambda: g(*args)

        return Prepared(build)


SYSTEMS = [AdCompile(), Hand(), Autograd(), Torch(), Jax(), Tangent()]


# ------------------------------------------------------------------ timing


# The clock every measurement reads: process CPU time by default, which leaves out the
# time this process waits while other processes run (the machine may be shared; the
# work here is single-threaded, so on an idle machine it equals wall time). JAX's
# computation may run on a thread of its own: process time counts it too.
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def calls_per_sample(fn, budget):
    """How many calls one timed sample makes, so that it lasts about ``budget`` seconds."""
    start = clock()
    fn()
    once = clock() - start
    return max(3, min(2000, int(budget / max(once, 1e-9))))


def sample(fn, calls):
    """Seconds per call of ``fn()``, averaged over ``calls`` back-to-back calls (after one
    untimed call: the first call after another function pays for its allocations)."""
    fn()
    start = clock()
    for _ in range(calls):
        fn()
    return (clock() - start) / calls


def time_interleaved(fns: dict, repeats: int, budget: float) -> dict:
    """Median seconds per call of each zero-argument function, samples interleaved; the
    order rotates from round to round so no function always runs first."""
    for fn in fns.values():
        for _ in range(3):
            fn()
    calls = {k: calls_per_sample(fn, budget) for k, fn in fns.items()}
    times: dict = {k: [] for k in fns}
    keys = list(fns)
    gc_was = gc.isenabled()
    gc.disable()  # collections would land on whichever system happens to run
    try:
        for r in range(repeats):
            k = r % len(keys)
            for key in keys[k:] + keys[:k]:
                times[key].append(sample(fns[key], calls[key]))
            gc.collect()
    finally:
        if gc_was:
            gc.enable()
    return {k: statistics.median(t) for k, t in times.items()}


def first_call(prepared: Prepared, repeats: int) -> float:
    """Median seconds to build the gradient function from scratch and call it once."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = clock()
        prepared.build()()
        times.append(clock() - start)
    return statistics.median(times)


def check(values: list, reference: list, rtol=1e-7) -> float:
    """Largest error relative to the reference's scale; raises if the gradients differ."""
    if len(values) != len(reference):
        raise ValueError(f"{len(values)} gradients, the reference has {len(reference)}")
    worst = 0.0
    for v, r in zip(values, reference, strict=True):
        v, r = np.asarray(v, dtype=float), np.asarray(r, dtype=float)
        if v.shape != r.shape:
            raise ValueError(f"a gradient of shape {v.shape}, the reference's is {r.shape}")
        scale = max(float(np.max(np.abs(r), initial=0.0)), 1e-300)
        err = float(np.max(np.abs(v - r), initial=0.0)) / scale
        worst = max(worst, err)
    if worst > rtol:
        raise ValueError(f"gradient differs from the hand-written one by {worst:.2e} (relative)")
    return worst


# ------------------------------------------------------------------ the run


def run(workloads, systems, repeats, first_repeats, budget, console):
    results = []
    for w in workloads:
        console.print(f"[bold]{w.key}[/]: {w.title}")
        reference = [np.asarray(v) for v in flatten(w.hand(*w.args))]
        entries, fns, errors = {}, {}, {}
        args = w.args
        fns["forward"] = lambda args=args, f=w.fn: f(*args)
        for s in systems:
            try:
                prepared = s.prepare(w)
                fc = first_call(prepared, first_repeats)
                fn = prepared.build()
                err = check(prepared.to_numpy(fn()), reference)
            except Exception as exc:  # a system that cannot run a workload says why
                msg = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
                errors[s.key] = msg
                console.print(f"  [yellow]{s.label} skipped on {w.key}: {msg}[/]")
                continue
            entries[s.key] = {"first_call_s": fc, "max_rel_error": err}
            fns[s.key] = fn
            for name, make in prepared.diagnostics.items():
                fns[f"{s.key}:{name}"] = make()
        t = time_interleaved(fns, repeats(w), budget(w))
        hand = t.get("hand")
        fwd = t["forward"]
        for key, e in entries.items():
            e["grad_s"] = t[key]
            e["ratio"] = t[key] / hand if hand else None
            e["over_forward"] = t[key] / fwd
            for name in [k for k in t if k.startswith(key + ":")]:
                diag = name.split(":", 1)[1]
                e[f"{diag}_s"] = t[name]
                e[f"{diag}_ratio"] = t[name] / hand if hand else None
        results.append(
            {
                "workload": w.key,
                "title": w.title,
                "forward_s": fwd,
                "repeats": repeats(w),
                "systems": entries,
                "failed": errors,
            }
        )
        summary = ", ".join(
            f"{k} {_fmt_time(e['grad_s'])}" for k, e in entries.items() if "grad_s" in e
        )
        console.print(f"  forward {_fmt_time(fwd)}; {summary}")
    return results


def targets(results) -> list[dict]:
    """Each of adcompile's performance goals, and whether this run met it."""
    out = []
    by = {r["workload"]: r for r in results}

    def ad(r):
        return r["systems"].get("adcompile")

    rows = [(k, ad(r)) for k, r in by.items() if ad(r)]
    worst = max(rows, key=lambda kv: kv[1]["ratio"] or 0.0, default=None)
    if worst:
        out.append(
            {
                "target": f"adcompile ≤ {TARGET_RATIO:.2f}× hand-written on every workload",
                "met": all(e["ratio"] is not None and e["ratio"] <= TARGET_RATIO for _, e in rows),
                "detail": ", ".join(f"{k} {e['ratio']:.2f}×" for k, e in rows),
            }
        )
    for other in BEAT:
        pairs = [
            (k, ad(r)["grad_s"], r["systems"][other]["grad_s"])
            for k, r in by.items()
            if ad(r) and other in r["systems"]
        ]
        if pairs:
            out.append(
                {
                    "target": f"adcompile faster than {other} on every workload it runs",
                    "met": all(a < o for _, a, o in pairs),
                    "detail": ", ".join(f"{k} {o / a:.1f}× faster" for k, a, o in pairs),
                }
            )
    fc = [(k, ad(by[k])["first_call_s"], lim) for k, lim in TARGET_FIRST_CALL.items() if k in by]
    if fc:
        out.append(
            {
                "target": "first call < 20 ms (seed-small), < 100 ms (MLP, RNN)",
                "met": all(t < lim for _, t, lim in fc),
                "detail": ", ".join(f"{k} {t * 1e3:.1f} ms" for k, t, _ in fc),
            }
        )
    if rows:
        out.append(
            {
                "target": f"adcompile gradient / forward ≤ {TARGET_OVER_FORWARD:g} everywhere",
                "met": all(e["over_forward"] <= TARGET_OVER_FORWARD for _, e in rows),
                "detail": ", ".join(f"{k} {e['over_forward']:.2f}" for k, e in rows),
            }
        )
    return out


# ------------------------------------------------------------------ output


def _fmt_time(seconds):
    if seconds is None:
        return "–"
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:,.2f} ms"
    return f"{seconds:,.2f} s"


def _ratio(x, good=None):
    if x is None:
        return "–"
    text = f"{x:.2f}×" if x < 100 else f"{x:,.0f}×"
    if good is None:
        return text
    return f"[{'green' if good else 'red'}]{text}[/]"


def report(res, console):
    table = Table(
        title="Gradient time: adcompile, hand-written numpy and other systems (1 thread)",
        caption="median per call; ×hand = gradient time / hand-written backward's; "
        "/fwd = gradient time / plain numpy forward's; first call = build + one call, "
        "caches cleared",
    )
    table.add_column("workload")
    table.add_column("system")
    table.add_column("gradient", justify="right")
    table.add_column("× hand", justify="right")
    table.add_column("/ fwd", justify="right")
    table.add_column("first call", justify="right")
    table.add_column("note")
    labels = {s.key: s.label for s in SYSTEMS}
    for i, r in enumerate(res["workloads"]):
        first = True
        for key in [s.key for s in SYSTEMS]:
            e = r["systems"].get(key)
            if e is None:
                continue
            note = ""
            if key == "adcompile":
                ok_ratio = e["ratio"] <= TARGET_RATIO
                ok_fwd = e["over_forward"] <= TARGET_OVER_FORWARD
                lim = TARGET_FIRST_CALL.get(r["workload"])
                ok_first = None if lim is None else e["first_call_s"] < lim
                if "generated_ratio" in e:
                    note = f"generated fn alone {e['generated_ratio']:.2f}× hand"
            else:
                ok_ratio = ok_fwd = ok_first = None
            name = labels[key]
            if key == "adcompile":
                name = f"[bold]{name}[/]"
            first_text = _fmt_time(e["first_call_s"])
            if ok_first is not None:
                first_text = f"[{'green' if ok_first else 'red'}]{first_text}[/]"
            table.add_row(
                f"{r['workload']}\n[dim]fwd {_fmt_time(r['forward_s'])}[/]" if first else "",
                name,
                _fmt_time(e["grad_s"]),
                _ratio(e["ratio"], ok_ratio),
                _ratio(e["over_forward"], ok_fwd),
                first_text,
                note,
            )
            first = False
        for key, msg in r["failed"].items():
            table.add_row("", labels[key], "–", "–", "–", "–", f"[yellow]{msg[:60]}[/]")
        if i < len(res["workloads"]) - 1:
            table.add_section()
    console.print(table)
    if res["skipped"]:
        console.print("[yellow]not installed, skipped:[/]")
        for key, hint in res["skipped"].items():
            console.print(f"  {labels[key]}: {hint}")
    console.print("[bold]adcompile's performance goals[/]")
    for t in res["targets"]:
        mark = "[green]met[/]    " if t["met"] else "[red]not met[/]"
        console.print(f"  {mark}  {t['target']}")
        console.print(f"          [dim]{t['detail']}[/]")
    v = res["versions"]
    console.print(
        "[dim]"
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f"; {res['machine']}; BLAS {res['blas']}; clock: {res['clock']}[/]"
    )


def versions(systems) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "numpy": np.__version__}
    names = {"autograd": "autograd", "torch": "torch", "jax": "jax", "tangent": "tangent-ad"}
    for s in systems:
        if s.module in names:
            try:
                out[names[s.module]] = version(names[s.module])
            except PackageNotFoundError:
                out[names[s.module]] = "?"
    return out


def blas_info() -> str:
    """The BLAS numpy runs and its kernel, where threadpoolctl can tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "?"
    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            return (
                f"{pool.get('internal_api')} {pool.get('version')} "
                f"{pool.get('architecture', '')}, {pool.get('num_threads')} thread(s)"
            ).strip()
    return "?"


def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [s for s in SYSTEMS if s.key != "hand"]
    colours = {
        "adcompile": "#d62728",
        "autograd": "#7f7f7f",
        "torch": "#ee8b2b",
        "jax": "#1f77b4",
        "tangent": "#2ca02c",
    }
    wl = res["workloads"]
    fig, ax = plt.subplots(figsize=(11.5, 5), dpi=120)
    width = 0.8 / len(order)
    for j, s in enumerate(order):
        xs, ys = [], []
        for i, r in enumerate(wl):
            e = r["systems"].get(s.key)
            if e and e.get("ratio"):
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(e["ratio"])
        if not xs:
            continue
        bars = ax.bar(xs, ys, width, label=s.label, color=colours.get(s.key))
        for bar, y in zip(bars, ys, strict=True):
            ax.annotate(
                f"{y:.2f}×" if y < 10 else f"{y:.0f}×",
                (bar.get_x() + bar.get_width() / 2, y),
                ha="center",
                va="bottom",
                fontsize=6.5,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.axhline(1.0, color="black", lw=1)
    ax.axhline(TARGET_RATIO, color="black", lw=0.8, ls="--", label=f"{TARGET_RATIO:.2f}× target")
    ax.set_yscale("log")
    ax.set_xticks(range(len(wl)))
    ax.set_xticklabels(
        [
            f"{r['workload']}\nhand {_fmt_time(r['systems']['hand']['grad_s'])}"
            if "hand" in r["systems"]
            else r["workload"]
            for r in wl
        ]
    )
    ax.set_ylabel("gradient time / hand-written numpy backward (log)")
    ax.set_title("Gradient time relative to a hand-written numpy backward (lower is better)")
    ax.legend(ncol=len(order) + 1, fontsize=8, loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)
    ymin, ymax = ax.get_ylim()
    ax.set_ylim(min(ymin, 0.5), ymax * 3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="PNG", help="also draw the ratios as a bar chart")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: process CPU time (default; robust on a shared machine), wall: elapsed time",
    )
    parser.add_argument("--workloads", help="comma-separated: seed-small,seed-large,mlp,rnn,chain")
    parser.add_argument(
        "--systems", help="comma-separated: adcompile,hand,autograd,torch,jax,tangent"
    )
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    console = Console()
    if console.width < 120:
        console = Console(width=120)

    wanted = set(args.systems.split(",")) if args.systems else None
    wanted = wanted | {"hand"} if wanted else None  # the reference is always timed
    systems, skipped = [], {}
    for s in SYSTEMS:
        if wanted and s.key not in wanted:
            continue
        if s.available():
            systems.append(s)
        else:
            skipped[s.key] = s.install
    for key, hint in skipped.items():
        console.print(f"[yellow]{key} is not installed, skipped; to include it: {hint}[/]")
    workloads = make_workloads(args.workloads.split(",") if args.workloads else None)

    if args.quick:

        def repeats(w):
            return 5

        first_repeats, budget = 2, (lambda w: 2e-3)
    else:

        def repeats(w):
            return 40 if w.key == "seed-large" else 100

        first_repeats, budget = 5, (lambda w: 1e-2 if w.key == "seed-large" else 4e-3)

    results = run(workloads, systems, repeats, first_repeats, budget, console)
    res = {
        "versions": versions(systems),
        "machine": f"{platform.machine()}, {platform.system()}",
        "threads": 1,
        "clock": args.clock,
        "blas": blas_info(),
        "quick": args.quick,
        "first_call_repeats": first_repeats,
        "workloads": results,
        "skipped": skipped,
    }
    res["targets"] = targets(results)
    report(res, console)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
        console.print(f"results written to {args.json}")
    if args.plot:
        plot(res, args.plot)
        console.print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
