"""Logistic regression trained by gradient descent on a dask cluster.

The dataset is generated lazily by dask, chunk by chunk on the workers, so it can
be larger than any one worker's memory (the default, 8,000,000 x 32 float64, is
2 GB; each worker gets a 1 GB limit). Each step computes the loss and the
gradient that ``adcompile.value_and_grad`` generated, on the cluster, and only
the weights (33 numbers) and the loss come back.

    pip install -e '.[dask]'
    python examples/distributed_training.py                       # a LocalCluster
    python examples/distributed_training.py --scheduler tcp://host:8786
    python examples/distributed_training.py --rows 200000 --steps 5 --plot loss.png
"""

from __future__ import annotations

import argparse

import numpy as np

import adcompile as ad


def loss(w, b, X, y):
    z = X @ w + b
    # log(1 + exp(-z)) for y = 1 and log(1 + exp(z)) for y = 0, written stably
    return np.mean(np.logaddexp(0.0, z) - y * z)


def dataset(rows: int, features: int, chunk_rows: int, seed: int = 0):
    """A synthetic separable-with-noise problem, made lazily: (X, y, true weights)."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    true_w = np.random.default_rng(seed).normal(size=features)
    X = rng.normal(size=(rows, features), chunks=(chunk_rows, features))
    noise = rng.normal(size=rows, chunks=chunk_rows)
    y = ((X @ true_w + noise) > 0).astype(float)
    return X, y, true_w


def train(client, rows: int, features: int, steps: int, rate: float, chunk_rows: int):
    """Gradient descent; returns (weights, bias, the loss at each step)."""
    import dask
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    X, y, _ = dataset(rows, features, chunk_rows)
    step = ad.value_and_grad(loss, wrt=(0, 1))
    w, b = np.zeros(features), 0.0
    losses: list[float] = []
    columns = (
        TextColumn("[bold]training"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}  loss {task.fields[loss]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("training", total=steps, loss="…")
        for _ in range(steps):
            value, (dw, db) = step(w, b, X, y)  # lazy: a graph over X's chunks
            value, dw, db = dask.compute(value, dw, db)  # on the cluster
            w = w - rate * np.asarray(dw)
            b = b - rate * float(db)
            losses.append(float(value))
            progress.update(task, advance=1, loss=f"{float(value):.4f}")
    return w, b, losses


def plot(losses: list[float], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set_xlabel("step")
    ax.set_ylabel("mean log loss")
    ax.set_title("logistic regression on a dask cluster")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheduler", help="a dask scheduler's address (default: a LocalCluster)")
    parser.add_argument("--rows", type=int, default=8_000_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GB", help="per worker, for a LocalCluster")
    parser.add_argument("--plot", metavar="FILE.png", help="save the loss curve (matplotlib)")
    args = parser.parse_args(argv)
    from dask.distributed import Client, LocalCluster

    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        w, b, losses = train(
            client, args.rows, args.features, args.steps, args.rate, args.chunk_rows
        )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} after {len(losses)} steps")
    if args.plot:
        plot(losses, args.plot)
        print(f"loss curve written to {args.plot}")
    return losses


if __name__ == "__main__":
    main()
