"""Handwritten digits: an MLP trained with mini-batch SGD with momentum, on its compiled gradient.

The data are the 1,797 8x8 images of handwritten digits that scikit-learn ships
inside its package (``sklearn.datasets.load_digits``: nothing is downloaded).
A quarter of them is held out, stratified by digit, and never trained on.

The network is 64 -> 64 -> 64 -> 10 with ReLU hidden layers, its parameters a
list of (W, b) tuples. ``loss`` is the mean softmax cross-entropy of a batch,
written in plain numpy with a stable log-sum-exp. ``ad.value_and_grad(loss)``
compiles it into Python that returns the loss and a gradient with the same
structure as ``params``, a list of (dW, db) tuples, so the update is one zip.

    python -m pip install -e '.[examples]' && python examples/digits.py

It reaches about 97-98% test accuracy in 30 epochs, in a few seconds, and saves
the loss and accuracy curves to docs/images/digits_curves.png (``--out``).
Every run with the same ``--seed`` gives the same numbers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import adcompile as ad

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "images" / "digits_curves.png"
SIZES = (64, 64, 64, 10)


# ---------------------------------------------------------------- the model


def forward(params, X):
    """The logits of a batch: ReLU hidden layers, then a linear output layer.

    ``X`` is (batch, 64), one image per row; ``params`` is a list of (W, b).
    """
    h = X
    for W, b in params[:-1]:
        h = np.maximum(h @ W + b, 0.0)
    W, b = params[-1]
    return h @ W + b


def loss(params, X, Y):
    """Mean softmax cross-entropy of a batch; ``Y`` is one-hot, (batch, 10).

    log softmax(z) = z - log Σ exp(z), and log Σ exp(z) = m + log Σ exp(z - m)
    with m = max(z): no exp of a large logit can overflow. (The gradient that
    flows through m cancels, as it should: the loss does not depend on m.)
    """
    logits = forward(params, X)
    m = np.max(logits, axis=1, keepdims=True)
    log_sum_exp = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    log_probs = logits - log_sum_exp
    return -np.mean(np.sum(Y * log_probs, axis=1))


# The compiled gradient: value_and_grad_loss(params, X, Y) -> (loss, [(dW, db), ...]).
value_and_grad_loss = ad.value_and_grad(loss, wrt=0)


def init_params(rng, sizes=SIZES):
    """He initialisation, W ~ N(0, 2 / fan_in), zero biases: keeps ReLU activations O(1)."""
    return [
        (rng.normal(size=(m, n)) * np.sqrt(2.0 / m), np.zeros(n))
        for m, n in zip(sizes[:-1], sizes[1:])
    ]


def accuracy(params, X, labels):
    """The fraction of rows of ``X`` whose largest logit is the right digit."""
    return float(np.mean(np.argmax(forward(params, X), axis=1) == labels))


# ---------------------------------------------------------------- data


def load_data(seed=0, test_size=0.25):
    """Digits scaled to [0, 1], split stratified into (X_train, y_train, X_test, y_test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data / 16.0  # pixel intensities are 0..16
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=test_size, stratify=digits.target, random_state=seed
    )
    return X_train, y_train, X_test, y_test


def one_hot(labels, n_classes=10):
    return np.eye(n_classes)[labels]


# ---------------------------------------------------------------- training


def train(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    epochs=30,
    batch_size=32,
    lr=0.05,
    momentum=0.9,
    seed=0,
    max_steps=None,
    console=None,
):
    """Mini-batch SGD with momentum on ``loss``; returns (params, history).

    v ← μ v − η ∂L/∂θ,  θ ← θ + v,  for every W and b, on shuffled batches.
    ``history`` holds per-epoch train/test loss and accuracy, and every batch's
    loss. ``max_steps`` stops early (for quick tests). With a ``console`` a rich
    progress bar shows the running loss and the latest accuracies.
    """
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    Y_train, Y_test = one_hot(y_train), one_hot(y_test)
    n = len(X_train)
    steps_per_epoch = -(-n // batch_size)
    total = (
        epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    )
    history = {
        key: [] for key in ("batch_loss", "train_loss", "test_loss", "train_acc", "test_acc")
    }

    progress = Progress(
        TextColumn("[bold]epoch {task.fields[epoch]:>2}"),
        BarColumn(bar_width=20),
        TextColumn("loss [cyan]{task.fields[loss]:.4f}"),
        TextColumn("acc: train [green]{task.fields[train_acc]:6.1%}"),
        TextColumn("test [bold green]{task.fields[test_acc]:6.1%}"),
        TimeElapsedColumn(),
        console=console,
        disable=console is None,
    )
    step = 0
    with progress:
        task = progress.add_task(
            "train", total=total, epoch=1, loss=float("nan"), train_acc=0.0, test_acc=0.0
        )
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n)
            epoch_losses = []
            for start in range(0, n, batch_size):
                if step == total:
                    break
                idx = order[start : start + batch_size]
                value, grads = value_and_grad_loss(params, X_train[idx], Y_train[idx])
                velocity = [
                    (momentum * vW - lr * dW, momentum * vb - lr * db)
                    for (vW, vb), (dW, db) in zip(velocity, grads)
                ]
                params = [(W + vW, b + vb) for (W, b), (vW, vb) in zip(params, velocity)]
                epoch_losses.append(float(value))
                history["batch_loss"].append(float(value))
                step += 1
                progress.update(task, advance=1, epoch=epoch, loss=np.mean(epoch_losses))
            if not epoch_losses:
                break
            history["train_loss"].append(float(loss(params, X_train, Y_train)))
            history["test_loss"].append(float(loss(params, X_test, Y_test)))
            history["train_acc"].append(accuracy(params, X_train, y_train))
            history["test_acc"].append(accuracy(params, X_test, y_test))
            progress.update(
                task, train_acc=history["train_acc"][-1], test_acc=history["test_acc"][-1]
            )
    history["steps_per_epoch"] = steps_per_epoch
    return params, history


# ---------------------------------------------------------------- plotting


def plot_curves(history, out):
    """Loss (per batch, and per epoch on train and test) and accuracy per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["train_loss"]) + 1)
    batch_epochs = np.arange(1, len(history["batch_loss"]) + 1) / history["steps_per_epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))

    ax_loss.plot(
        batch_epochs,
        history["batch_loss"],
        color="tab:blue",
        alpha=0.25,
        lw=0.8,
        label="mini-batch loss",
    )
    ax_loss.plot(epochs, history["train_loss"], "o-", color="tab:blue", ms=3, label="train")
    ax_loss.plot(epochs, history["test_loss"], "s-", color="tab:orange", ms=3, label="test")
    ax_loss.set_yscale("log")
    # a few batches reach a tiny loss; keep the axis on the epoch curves
    ax_loss.set_ylim(bottom=min(history["train_loss"]) / 5)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss (log scale)")
    ax_loss.set_title("Loss")
    ax_loss.grid(True, which="both", alpha=0.3)
    ax_loss.legend()

    ax_acc.plot(
        epochs, 100 * np.array(history["train_acc"]), "o-", color="tab:blue", ms=3, label="train"
    )
    ax_acc.plot(
        epochs, 100 * np.array(history["test_acc"]), "s-", color="tab:orange", ms=3, label="test"
    )
    final = 100 * history["test_acc"][-1]
    ax_acc.axhline(95, color="grey", ls="--", lw=0.8, label="95%")
    lowest = 100 * min(history["train_acc"] + history["test_acc"])
    ax_acc.set_ylim(min(90, 5 * np.floor(lowest / 5)), 100.5)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title(f"Accuracy (final test: {final:.1f}%)")
    ax_acc.grid(True, alpha=0.3)
    ax_acc.legend(loc="lower right")

    fig.suptitle("MLP 64-64-64-10 on scikit-learn's digits, trained with adcompile's gradient")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


# ---------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05, help="learning rate η")
    parser.add_argument("--momentum", type=float, default=0.9, help="momentum μ")
    parser.add_argument("--seed", type=int, default=0, help="seeds the split, init and shuffling")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to save the PNG")
    parser.add_argument("--no-plot", action="store_true", help="do not save the curves")
    args = parser.parse_args(argv)

    console = Console()
    X_train, y_train, X_test, y_test = load_data(args.seed)
    console.print(
        f"digits: {len(X_train)} training and {len(X_test)} held-out test images, "
        f"MLP {'-'.join(map(str, SIZES))}, SGD with momentum {args.momentum}, "
        f"η = {args.lr}, batches of {args.batch_size}"
    )
    started = time.perf_counter()
    params, history = train(
        X_train,
        y_train,
        X_test,
        y_test,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        momentum=args.momentum,
        seed=args.seed,
        console=console,
    )
    elapsed = time.perf_counter() - started
    test_acc = history["test_acc"][-1]
    console.print(
        f"[bold]final test accuracy: {test_acc:.2%}[/bold] "
        f"({round(test_acc * len(y_test))}/{len(y_test)} held-out images), "
        f"train accuracy {history['train_acc'][-1]:.2%}, trained in {elapsed:.1f} s"
    )
    if not args.no_plot:
        path = plot_curves(history, args.out)
        console.print(f"saved the loss and accuracy curves to {path}")
    return test_acc


if __name__ == "__main__":
    main()
