"""Why reverse mode, measured: backpropagation costs a few forward passes whatever the
number of parameters; finite differences cost two forward passes per parameter.

For tanh MLPs (two hidden layers of width w, ten outputs, a batch of 32, parameters a
list of ``(W, b)``) from tens to about a million parameters, this times

* one forward pass (the plain numpy loss),
* adcompile's gradient of every parameter (one forward and one reverse sweep),
* central finite differences: for each parameter, two forward passes with it nudged
  by ±ε. For nets of up to ``--full-fd`` parameters every parameter is perturbed and the
  whole sweep is timed (and its gradient compared with adcompile's); above that, the
  cost is estimated from a timed sample of perturbations, scaled to all parameters,
  and marked "estimated".

and plots each method's cost in forward passes against the parameter count on log-log
axes: backpropagation stays flat, finite differences grow linearly.

    python examples/backprop_vs_finite_differences.py [--quick] [--plot PNG] [--json PATH]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import adcompile as ad  # noqa: E402

N_IN_OUT = 10
BATCH = 32
WIDTHS = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]
EPS = 1e-6
# process CPU time: single-threaded work, robust when other processes share the machine
clock = time.process_time


def loss(layers, X, Y):
    h = X
    for W, b in layers:
        h = np.tanh(h @ W + b)
    return 0.5 * np.mean((h - Y) ** 2)


dloss = ad.grad(loss, wrt=0)


def make_net(width, seed=0):
    """Two hidden layers of ``width`` units between 10 inputs and 10 outputs."""
    rng = np.random.default_rng(seed)
    sizes = [N_IN_OUT, width, width, N_IN_OUT]
    layers = [
        (rng.normal(size=(m, n)) / np.sqrt(m), rng.normal(scale=0.1, size=n))
        for m, n in zip(sizes[:-1], sizes[1:])
    ]
    X = rng.normal(size=(BATCH, N_IN_OUT))
    Y = rng.normal(scale=0.5, size=(BATCH, N_IN_OUT))
    return layers, X, Y


def n_params(layers):
    return sum(W.size + b.size for W, b in layers)


def per_call(fn, budget=0.05, repeats=7):
    """Median seconds per call of ``fn()`` over ``repeats`` samples of ~``budget`` s each."""
    fn()
    start = clock()
    fn()
    once = max(clock() - start, 1e-7)
    calls = max(1, int(budget / once))
    times = []
    for _ in range(repeats):
        start = clock()
        for _ in range(calls):
            fn()
        times.append((clock() - start) / calls)
    return statistics.median(times)


def fd_sweep(layers, X, Y, entries):
    """Central differences for the given (layer, which, flat index) entries: their
    gradient values, two forward passes each, every array restored afterwards."""
    out = np.empty(len(entries))
    for k, (i, j, idx) in enumerate(entries):
        a = layers[i][j].reshape(-1)  # a view: perturbing it perturbs the parameter
        old = a[idx]
        a[idx] = old + EPS
        hi = loss(layers, X, Y)
        a[idx] = old - EPS
        lo = loss(layers, X, Y)
        a[idx] = old
        out[k] = (hi - lo) / (2 * EPS)
    return out


def all_entries(layers):
    return [(i, j, idx) for i, wb in enumerate(layers) for j in (0, 1) for idx in range(wb[j].size)]


def measure(width, full_fd, sample):
    layers, X, Y = make_net(width)
    P = n_params(layers)
    fwd = per_call(lambda: loss(layers, X, Y))
    dloss(layers, X, Y)  # compile outside the timing
    bp = per_call(lambda: dloss(layers, X, Y))
    row = {"width": width, "params": P, "forward_s": fwd, "backprop_s": bp}
    entries = all_entries(layers)
    if P <= full_fd:
        start = clock()
        fd = fd_sweep(layers, X, Y, entries)
        row["fd_s"] = clock() - start
        row["fd_estimated"] = False
        g = np.concatenate(
            [np.concatenate([dW.ravel(), db.ravel()]) for dW, db in dloss(*(layers, X, Y))]
        )
        row["fd_vs_backprop_max_abs_diff"] = float(np.max(np.abs(fd - g)))
    else:
        rng = np.random.default_rng(1)
        sample = min(sample, len(entries))
        picked = [entries[k] for k in rng.choice(len(entries), size=sample, replace=False)]
        start = clock()
        fd_sweep(layers, X, Y, picked)
        per_param = (clock() - start) / sample
        row["fd_s"] = per_param * P
        row["fd_estimated"] = True
        row["fd_sample"] = sample
    row["backprop_over_forward"] = bp / fwd
    row["fd_over_forward"] = row["fd_s"] / fwd
    row["fd_over_backprop"] = row["fd_s"] / bp
    return row


def fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:,.1f} µs"
    if s < 1:
        return f"{s * 1e3:,.1f} ms"
    if s < 3600:
        return f"{s:,.1f} s"
    return f"{s / 3600:,.1f} h"


def report(res, console):
    table = Table(
        title="Gradient cost in forward passes: backpropagation vs central finite differences",
        caption="* estimated: a timed sample of perturbations scaled to every parameter "
        "(2 forward passes per parameter)",
    )
    for col in (
        "width",
        "parameters",
        "forward",
        "backprop",
        "backprop / fwd",
        "finite diff.",
        "FD / fwd",
        "FD / backprop",
    ):
        table.add_column(col, justify="right")
    for r in res["rows"]:
        star = "*" if r["fd_estimated"] else ""
        table.add_row(
            str(r["width"]),
            f"{r['params']:,}",
            fmt_time(r["forward_s"]),
            fmt_time(r["backprop_s"]),
            f"{r['backprop_over_forward']:.2f}",
            fmt_time(r["fd_s"]) + star,
            f"{r['fd_over_forward']:,.0f}{star}",
            f"{r['fd_over_backprop']:,.0f}{star}",
        )
    console.print(table)
    est = [r for r in res["rows"] if r["fd_estimated"]]
    if est:
        console.print(
            f"finite differences for nets over {res['full_fd']:,} parameters are [bold]estimated"
            f"[/]: {est[0]['fd_sample']} randomly chosen parameters were perturbed (2 forward "
            "passes each), timed, and the time per parameter multiplied by the parameter count"
        )
    checked = [r for r in res["rows"] if "fd_vs_backprop_max_abs_diff" in r]
    if checked:
        worst = max(r["fd_vs_backprop_max_abs_diff"] for r in checked)
        console.print(
            f"on the {len(checked)} nets differenced in full, finite differences and backprop "
            f"agree to {worst:.1e} (largest absolute difference)"
        )
    bp = [r["backprop_over_forward"] for r in res["rows"]]
    console.print(
        f"backprop costs {min(bp):.1f}–{max(bp):.1f} forward passes from "
        f"{res['rows'][0]['params']:,} to {res['rows'][-1]['params']:,} parameters; "
        f"finite differences {res['rows'][0]['fd_over_forward']:,.0f} to "
        f"{res['rows'][-1]['fd_over_forward']:,.0f}"
    )


def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    P = np.array([r["params"] for r in rows], float)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    bp = np.array([r["backprop_over_forward"] for r in rows])
    ax.plot(P, bp, "o-", color="#d62728", label="backpropagation (adcompile)")
    fd = np.array([r["fd_over_forward"] for r in rows])
    est = np.array([r["fd_estimated"] for r in rows])
    ax.plot(P, fd, "-", color="#1f77b4")
    ax.plot(P[~est], fd[~est], "s", color="#1f77b4", label="finite differences (measured)")
    if est.any():
        ax.plot(
            P[est],
            fd[est],
            "s",
            mfc="white",
            color="#1f77b4",
            label="finite differences (estimated from a sample)",
        )
    ax.plot(P, 2 * P, ":", color="grey", label="2 × parameters")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (tanh MLP 10-w-w-10, batch 32)")
    ax.set_ylabel("cost of the gradient / cost of one forward pass")
    ax.set_title("One gradient of every parameter, in forward passes")
    for r, y in zip(rows[:: max(1, len(rows) // 5)], bp[:: max(1, len(rows) // 5)]):
        ax.annotate(
            f"{y:.1f}",
            (r["params"], y),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=8,
            color="#d62728",
        )
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", metavar="PNG", help="plot cost / forward against parameters")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer sizes, smaller samples")
    parser.add_argument(
        "--full-fd",
        type=int,
        default=10_000,
        help="difference every parameter of nets up to this many parameters (default 10,000)",
    )
    parser.add_argument("--widths", help="comma-separated hidden-layer widths (default 2 to 1000)")
    args = parser.parse_args(argv)
    console = Console()
    if console.width < 110:
        console = Console(width=110)
    widths = WIDTHS[::2] + [WIDTHS[-1]] if args.quick else WIDTHS
    if args.widths:
        widths = [int(w) for w in args.widths.split(",")]
    sample = 100 if args.quick else 400
    rows = []
    for w in widths:
        r = measure(w, args.full_fd, sample)
        console.print(
            f"  width {w:4d}: {r['params']:9,} parameters, backprop "
            f"{r['backprop_over_forward']:.2f} forward passes, finite differences "
            f"{r['fd_over_forward']:,.0f}" + (" (estimated)" if r["fd_estimated"] else "")
        )
        rows.append(r)
    res = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {platform.system()}",
        "batch": BATCH,
        "full_fd": args.full_fd,
        "rows": rows,
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
