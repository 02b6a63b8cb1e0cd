"""Benchmark: adcompile's compile time grows linearly with the size of the function.

Synthetic functions of 10 to 2,000 statements, each statement one line of numpy
arithmetic on earlier values (``v12 = np.tanh(v11) * w + v9``, ...), every value
reaching the result, are written to a temporary ``.py`` file (adcompile reads source),
imported, and compiled from scratch: cache cleared, ``adcompile.grad`` constructed,
the whole pipeline run (read, normalize, analyze, reverse, optimize, emit) and the
generated module compiled. Two shapes of function:

* ``straight``: the statements one after another;
* ``loop``: the same statements as the body of a ``for`` loop (the loop body becomes a
  saving region, so this exercises the stack and the carried-value machinery).

For each shape it prints the compile time at every size, fits ``time = a + b · n``
(b: the cost per statement), the exponent of a power-law fit ``time ∝ n^k`` (1 means
linear), and the time per statement at the smallest and largest sizes. The target
is 2,000 statements in under 2 s.

    python examples/benchmarks/compile_time.py [--quick] [--json PATH] [--plot PNG]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import adcompile
import adcompile.api

SIZES = [10, 20, 50, 100, 200, 500, 1000, 2000]
QUICK_SIZES = [10, 50, 200, 1000, 2000]
TARGET_N, TARGET_S = 2000, 2.0

# One statement each; {a} is the previous value, {b} one a few statements back.
TEMPLATES = [
    "{t} = np.tanh({a}) * w + {b}",
    "{t} = {a} * {b} - 0.5 * {a}",
    "{t} = np.sin({a}) + np.cos({b})",
    "{t} = {a} / (1.0 + {b} * {b})",
    "{t} = np.exp(-{a} * {a}) + {b}",
    "{t} = {a} @ w + x",
    "{t} = np.sqrt({a} * {a} + 1.0) - {b}",
    "{t} = 0.9 * {a} + 0.1 * np.sum({b}, axis=0, keepdims=True)",
]


def body(n: int, indent: str, first: str) -> list[str]:
    lines = []
    for i in range(n):
        a = first if i == 0 else f"v{i - 1}"
        b = first if i < 3 else f"v{i - 3}"
        lines.append(indent + TEMPLATES[i % len(TEMPLATES)].format(t=f"v{i}", a=a, b=b))
    return lines


def straight_source(n: int) -> str:
    """A function of ``n`` statements (and a return), one after another."""
    lines = [f"def straight_{n}(x, w):"]
    lines += body(n, "    ", "x")
    lines.append(f"    return np.sum(v{n - 1})")
    return "\n".join(lines)


def loop_source(n: int) -> str:
    """The same ``n`` statements as the body of a ``for`` loop that carries ``h``."""
    lines = [f"def loop_{n}(x, w):", "    h = x", "    for _ in range(3):"]
    lines += body(n, "        ", "h")
    lines.append(f"        h = v{n - 1}")
    lines.append("    return np.sum(h)")
    return "\n".join(lines)


SHAPES = {"straight": straight_source, "loop": loop_source}


def write_module(sizes, directory: Path):
    """Write every synthetic function into one module in ``directory`` and import it."""
    parts = ["import numpy as np", ""]
    for n in sizes:
        for make in SHAPES.values():
            parts += [make(n), "", ""]
    path = directory / "adcompile_synthetic.py"
    path.write_text("\n".join(parts))
    spec = importlib.util.spec_from_file_location("adcompile_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Process CPU time by default: compiling is single-threaded CPU work, and CPU time leaves
# out the time this process waits while others run (the machine may be shared).
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


GC_OFF = False  # --gc-off: measure with Python's cyclic garbage collector paused


def compile_once(fn) -> tuple[float, int]:
    """Seconds to compile ``fn``'s gradient from scratch, and its generated lines."""
    adcompile.api._CACHE.clear()
    gc.collect()
    if GC_OFF:
        gc.disable()
    start = clock()
    g = adcompile.grad(fn, wrt=(0, 1))
    source = g.source  # runs the whole pipeline and compiles the generated module
    elapsed = clock() - start
    gc.enable()
    return elapsed, source.count("\n") + 1


def check(fn, n_rows=4) -> None:
    """The generated gradient runs and agrees with finite differences on one entry."""
    rng = np.random.default_rng(0)
    x = rng.normal(scale=0.3, size=(n_rows, n_rows))
    w = rng.normal(scale=0.3, size=(n_rows, n_rows))
    dx, _ = adcompile.grad(fn, wrt=(0, 1))(x, w)
    eps = 1e-6
    xp, xm = x.copy(), x.copy()
    xp[0, 0] += eps
    xm[0, 0] -= eps
    fd = (fn(xp, w) - fn(xm, w)) / (2 * eps)
    if not np.isclose(dx[0, 0], fd, rtol=1e-4, atol=1e-6):
        raise SystemExit(f"{fn.__name__}: gradient {dx[0, 0]} but finite differences {fd}")


def fit(ns, ts):
    """Least squares ``t = a + b n``, the power-law exponent ``k`` of ``t ∝ n^k``, and R²."""
    ns, ts = np.asarray(ns, float), np.asarray(ts, float)
    b, a = np.polyfit(ns, ts, 1)
    pred = a + b * ns
    r2 = 1 - np.sum((ts - pred) ** 2) / np.sum((ts - ts.mean()) ** 2)
    k = np.polyfit(np.log(ns), np.log(ts), 1)[0]
    # the exponent over the upper half of the sizes, where fixed costs no longer hide it
    half = ns >= np.median(ns)
    k_large = np.polyfit(np.log(ns[half]), np.log(ts[half]), 1)[0]
    return {"a_s": a, "b_s": b, "r2": r2, "exponent": k, "exponent_large": k_large}


def run(sizes, repeats, console):
    tmp = Path(tempfile.mkdtemp(prefix="adcompile-synthetic-"))
    try:
        module = write_module(sizes, tmp)
        results = {}
        for shape in SHAPES:
            rows = []
            check(getattr(module, f"{shape}_{sizes[0]}"))
            for n in sizes:
                fn = getattr(module, f"{shape}_{n}")
                reps = repeats if n <= 500 else max(1, repeats // 2)
                samples = [compile_once(fn) for _ in range(reps)]
                t = statistics.median(s[0] for s in samples)
                rows.append({"statements": n, "compile_s": t, "generated_lines": samples[0][1]})
                console.print(
                    f"  {shape:8s} {n:5d} statements: {t * 1e3:8.1f} ms  "
                    f"({t / n * 1e6:6.1f} µs per statement)"
                )
            ns = [r["statements"] for r in rows]
            ts = [r["compile_s"] for r in rows]
            results[shape] = {"sizes": rows, "fit": fit(ns, ts)}
        return results
    finally:
        sys.modules.pop("adcompile_synthetic", None)
        shutil.rmtree(tmp, ignore_errors=True)


def report(res, console):
    table = Table(title="Compile time vs function size (cache cleared; median)")
    table.add_column("statements", justify="right")
    for shape in res["shapes"]:
        table.add_column(f"{shape}", justify="right")
        table.add_column("per stmt", justify="right")
        table.add_column("gen. lines", justify="right")
    sizes = [r["statements"] for r in next(iter(res["shapes"].values()))["sizes"]]
    for i, n in enumerate(sizes):
        cells = [str(n)]
        for data in res["shapes"].values():
            r = data["sizes"][i]
            t = r["compile_s"]
            colour = "green" if n != TARGET_N or t < TARGET_S else "red"
            cells += [
                f"[{colour}]{t * 1e3:,.1f} ms[/]",
                f"{t / n * 1e6:,.0f} µs",
                f"{r['generated_lines']:,}",
            ]
        table.add_row(*cells)
    console.print(table)
    for shape, data in res["shapes"].items():
        f = data["fit"]
        first, last = data["sizes"][0], data["sizes"][-1]
        per_small = first["compile_s"] / first["statements"] * 1e6
        per_large = last["compile_s"] / last["statements"] * 1e6
        console.print(
            f"[bold]{shape}[/]: time ≈ {f['a_s'] * 1e3:.1f} ms + {f['b_s'] * 1e6:.0f} µs × n "
            f"(R² {f['r2']:.4f}); power-law exponent {f['exponent']:.2f} over all sizes, "
            f"{f['exponent_large']:.2f} over n ≥ {int(np.median(sizes))}; per statement "
            f"{per_small:.0f} µs at n={first['statements']}, {per_large:.0f} µs at "
            f"n={last['statements']}"
        )
    for shape, data in res["shapes"].items():
        last = data["sizes"][-1]
        if last["statements"] == TARGET_N:
            ok = last["compile_s"] < TARGET_S
            console.print(
                f"target {TARGET_N:,} statements < {TARGET_S:g} s ({shape}): "
                + (f"[green]met[/] ({last['compile_s']:.2f} s)" if ok else "[red]not met[/]")
                + ("" if ok else f" ({last['compile_s']:.2f} s)")
            )
    console.print(
        f"[dim]Python {res['python']}, numpy {res['numpy']}, {res['machine']}; "
        f"clock: {res['clock']}" + ("; garbage collector paused" if res["gc_off"] else "") + "[/]"
    )


def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120)
    colours = {"straight": "#1f77b4", "loop": "#d62728"}
    for shape, data in res["shapes"].items():
        ns = np.array([r["statements"] for r in data["sizes"]])
        ts = np.array([r["compile_s"] for r in data["sizes"]])
        f = data["fit"]
        c = colours.get(shape)
        left.plot(ns, ts, "o", color=c, label=f"{shape} (measured)")
        grid = np.linspace(0, ns.max(), 100)
        left.plot(
            grid,
            f["a_s"] + f["b_s"] * grid,
            "-",
            color=c,
            alpha=0.6,
            label=f"{shape} fit: {f['a_s'] * 1e3:.0f} ms + {f['b_s'] * 1e6:.0f} µs·n",
        )
        right.plot(ns, ts / ns * 1e6, "o-", color=c, label=shape)
    left.axhline(TARGET_S, color="black", ls="--", lw=0.8)
    left.text(
        30, TARGET_S, f"target: {TARGET_N:,} statements < {TARGET_S:g} s", va="bottom", fontsize=8
    )
    left.set_xlabel("statements in the function")
    left.set_ylabel("compile time (s)")
    left.set_title("Compile time against function size")
    left.set_ylim(0, max(TARGET_S * 1.15, left.get_ylim()[1]))
    left.legend(fontsize=8, loc="upper left")
    left.grid(alpha=0.3)
    right.set_xscale("log")
    right.set_xlabel("statements in the function (log)")
    right.set_ylabel("compile time per statement (µs)")
    right.set_title("Compile time per statement (flat = linear growth)")
    right.set_ylim(0, right.get_ylim()[1] * 1.1)
    right.legend(fontsize=8)
    right.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="PNG", help="also plot compile time against size")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--sizes", help="comma-separated statement counts (default: 10 to 2000)")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu", help="process CPU time or wall time"
    )
    parser.add_argument(
        "--gc-off",
        action="store_true",
        help="pause Python's cyclic garbage collector while compiling (a diagnostic: how "
        "much of the time its passes over the growing heap of AST nodes take)",
    )
    args = parser.parse_args(argv)
    global clock, GC_OFF
    clock = CLOCKS[args.clock]
    GC_OFF = args.gc_off
    console = Console()
    if console.width < 120:
        console = Console(width=120)
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.sizes:
        sizes = sorted(int(n) for n in args.sizes.split(","))
    shapes = run(sizes, 1 if args.quick else 5, console)
    res = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {platform.system()}",
        "clock": args.clock,
        "gc_off": args.gc_off,
        "target": {"statements": TARGET_N, "seconds": TARGET_S},
        "shapes": shapes,
    }
    report(res, console)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
        console.print(f"results written to {args.json}")
    if args.plot:
        plot(res, args.plot)
        console.print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
