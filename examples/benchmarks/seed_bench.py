"""Benchmark: the seed network's compiled gradient against a hand-written backward pass.

For the seed network (see ``examples/seed_network.py``) at two sizes, 4-8-1 with a
batch of 16 and 784-512-10 with a batch of 256, this times in one process:

* the gradient that ``adcompile.grad(loss, wrt=(0, 1, 2, 3))`` generates,
* a hand-written numpy forward + backward pass returning the same four gradients,
* the forward pass alone (``loss`` itself), to report gradient time / forward time,
* compiling the gradient from scratch (cache cleared, construct + compile).

Both gradients are checked to agree before anything is timed. Each measurement is
the median over many repeats; the two systems' repeats are interleaved so that
drifts in machine load hit both alike. numpy runs single-threaded (the BLAS
thread variables are set before numpy is imported), so the ratio measures the
generated code rather than the thread pool.

adcompile's goal: compiled at most 1.3x hand-written at both sizes, and
compiling under 50 ms.

    python examples/benchmarks/seed_bench.py [--json results.json] [--quick]
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import adcompile  # noqa: E402
import adcompile.api  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from seed_network import loss  # noqa: E402

TARGET_RATIO = 1.3
TARGET_COMPILE_MS = 50.0
WRT = (0, 1, 2, 3)

# name, (inputs, hidden, outputs), batch
SIZES = [
    ("small", (4, 8, 1), 16),
    ("large", (784, 512, 10), 256),
]


def hand_grad(W1, b1, W2, b2, x, y):
    """The seed network's forward and backward pass, written by hand."""
    h = W1 @ x + b1
    a = 1 / (1 + np.exp(-h))
    o = W2 @ a + b2
    yhat = 1 / (1 + np.exp(-o))
    do = (yhat - y) * yhat * (1 - yhat)  # ∂L/∂o = (ŷ − y)·σ′(o)
    dW2 = do @ a.T  # ∂L/∂W2 = ∂L/∂o · aᵀ
    db2 = do.sum(axis=1, keepdims=True)
    da = W2.T @ do  # ∂L/∂a = W2ᵀ ∂L/∂o
    dh = da * a * (1 - a)  # ∂L/∂h = ∂L/∂a · σ′(h)
    dW1 = dh @ x.T  # ∂L/∂W1 = ∂L/∂h · xᵀ
    db1 = dh.sum(axis=1, keepdims=True)
    return dW1, db1, dW2, db2


def make_args(shape, batch, seed=0):
    n_in, n_hidden, n_out = shape
    rng = np.random.default_rng(seed)
    W1 = rng.normal(scale=n_in**-0.5, size=(n_hidden, n_in))
    b1 = rng.normal(scale=0.1, size=(n_hidden, 1))
    W2 = rng.normal(scale=n_hidden**-0.5, size=(n_out, n_hidden))
    b2 = rng.normal(scale=0.1, size=(n_out, 1))
    x = rng.normal(size=(n_in, batch))
    y = rng.uniform(size=(n_out, batch))
    return W1, b1, W2, b2, x, y


def calls_per_sample(fn, args, budget=2e-3):
    """How many calls one timed sample makes, so that a sample lasts about ``budget`` s
    (and at least 3 calls)."""
    start = time.perf_counter()
    fn(*args)
    once = time.perf_counter() - start
    return max(3, min(1000, int(budget / max(once, 1e-9))))


def sample(fn, args, calls):
    """Seconds per call of ``fn(*args)``, averaged over ``calls`` back-to-back calls.

    One untimed call comes first: on large arrays the first call after another
    function pays for the allocator growing the heap again (page faults), which
    says more about the previous function than about this one.
    """
    fn(*args)
    start = time.perf_counter()
    for _ in range(calls):
        fn(*args)
    return (time.perf_counter() - start) / calls


def time_interleaved(fns, args, repeats):
    """Median seconds per call of each function, their samples interleaved.

    The order of the functions within a round rotates from round to round, so no
    function always runs first (after a cold cache) or last.
    """
    for fn in fns.values():  # warm up: caches, allocator, branch predictors
        for _ in range(3):
            fn(*args)
    calls = {name: calls_per_sample(fn, args) for name, fn in fns.items()}
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(sample(fns[name], args, calls[name]))
    return {name: statistics.median(t) for name, t in times.items()}


def compile_time(repeats):
    """Median seconds to build the seed gradient from scratch: cache cleared,
    ``adcompile.grad`` constructed and called once on the small network's arguments.

    The first call is what compiles: it builds the code specialised to the
    arguments' shapes. The one run of that code (some microseconds) is included."""
    _, shape, batch = SIZES[0]
    args = make_args(shape, batch)
    times = []
    for _ in range(repeats):
        adcompile.api._CACHE.clear()
        start = time.perf_counter()
        g = adcompile.grad(loss, wrt=WRT)
        g(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def called_generated(g, args):
    """The generated function that the call ``g(*args)`` runs, caught as it is entered."""
    found = []

    def profile(frame, event, arg):
        code = frame.f_code
        if (
            event == "call"
            and not found
            and code.co_filename.startswith("<adcompile")
            and code.co_name != "<module>"
        ):
            found.append(types.FunctionType(code, frame.f_globals))

    g(*args)  # compile first, outside the profiled call
    sys.setprofile(profile)
    try:
        g(*args)
    finally:
        sys.setprofile(None)
    if not found:
        raise RuntimeError("no generated function ran")
    return found[0]


def check_agreement(compiled, args):
    got = compiled(*args)
    want = hand_grad(*args)
    for name, g, w in zip(("W1", "b1", "W2", "b2"), got, want, strict=True):
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-10, atol=1e-12):
            err = np.max(np.abs(g - w)) if g.shape == w.shape else "shape mismatch"
            raise SystemExit(f"compiled and hand-written gradients of {name} disagree: {err}")


def run(repeats_small, repeats_large, compile_repeats):
    compiled = adcompile.grad(loss, wrt=WRT)
    results = []
    for name, shape, batch in SIZES:
        args = make_args(shape, batch)
        check_agreement(compiled, args)
        # the generated function itself, without the wrapper's per-call work (binding,
        # argument checks, picking the code specialised to these shapes, giving each
        # gradient its input's type): the difference is the API's per-call cost
        generated = called_generated(compiled, args)
        repeats = repeats_small if name == "small" else repeats_large
        t = time_interleaved(
            {"compiled": compiled, "generated": generated, "hand": hand_grad, "forward": loss},
            args,
            repeats,
        )
        results.append(
            {
                "size": name,
                "layers": "-".join(map(str, shape)),
                "batch": batch,
                "repeats": repeats,
                "compiled_s": t["compiled"],
                "generated_s": t["generated"],
                "hand_s": t["hand"],
                "forward_s": t["forward"],
                "ratio": t["compiled"] / t["hand"],
                "generated_ratio": t["generated"] / t["hand"],
                "compiled_over_forward": t["compiled"] / t["forward"],
                "hand_over_forward": t["hand"] / t["forward"],
            }
        )
    compile_s = compile_time(compile_repeats)
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "threads": 1,
        "target_ratio": TARGET_RATIO,
        "target_compile_ms": TARGET_COMPILE_MS,
        "sizes": results,
        "compile_s": compile_s,
        "compile_repeats": compile_repeats,
        "meets_target": all(r["ratio"] <= TARGET_RATIO for r in results)
        and compile_s * 1e3 < TARGET_COMPILE_MS,
    }


def _fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.1f} µs"
    return f"{seconds * 1e3:,.2f} ms"


def report(res, console):
    table = Table(title="Seed network gradient: adcompile vs hand-written numpy (1 thread)")
    table.add_column("size")
    table.add_column("layers, batch")
    table.add_column("compiled", justify="right")
    table.add_column("hand-written", justify="right")
    table.add_column("compiled / hand", justify="right")
    table.add_column("generated fn only / hand", justify="right")
    table.add_column("forward", justify="right")
    table.add_column("compiled / fwd", justify="right")
    table.add_column("hand / fwd", justify="right")
    for r in res["sizes"]:
        ok = r["ratio"] <= TARGET_RATIO
        table.add_row(
            r["size"],
            f"{r['layers']}, {r['batch']}",
            _fmt_time(r["compiled_s"]),
            _fmt_time(r["hand_s"]),
            f"[{'green' if ok else 'red'}]{r['ratio']:.2f}×[/]",
            f"{r['generated_ratio']:.2f}×",
            _fmt_time(r["forward_s"]),
            f"{r['compiled_over_forward']:.2f}×",
            f"{r['hand_over_forward']:.2f}×",
        )
    console.print(table)
    ms = res["compile_s"] * 1e3
    colour = "green" if ms < TARGET_COMPILE_MS else "red"
    console.print(
        f"compile (cache cleared, grad + first call, median of {res['compile_repeats']}): "
        f"[{colour}]{ms:.1f} ms[/]"
    )
    console.print(
        f"target: compiled ≤ {TARGET_RATIO}× hand-written at both sizes, compile < "
        f"{TARGET_COMPILE_MS:.0f} ms: "
        + ("[green]met[/]" if res["meets_target"] else "[red]not met[/]")
    )
    console.print(
        f"[dim]median times per call; Python {res['python']}, numpy {res['numpy']}, "
        f"{res['machine']}[/]"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        res = run(repeats_small=20, repeats_large=5, compile_repeats=3)
    else:
        res = run(repeats_small=300, repeats_large=40, compile_repeats=15)
    console = Console()
    if console.width < 130:
        console = Console(width=130)
    report(res, console)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
