"""The seed network example: its gradient is right, and training with it lowers the loss."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from helpers import assert_grad_matches_fd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import seed_network  # noqa: E402


def _params(rng, n_in=4, n_hidden=8, n_out=1, n=5):
    W1 = rng.normal(size=(n_hidden, n_in))
    b1 = rng.normal(size=(n_hidden, 1))
    W2 = rng.normal(size=(n_out, n_hidden))
    b2 = rng.normal(size=(n_out, 1))
    x = rng.normal(size=(n_in, n))
    y = rng.uniform(size=(n_out, n))
    return W1, b1, W2, b2, x, y


def test_gradient_matches_finite_differences():
    args = _params(np.random.default_rng(0))
    assert_grad_matches_fd(seed_network.loss, *args, wrt=(0, 1, 2, 3))


def test_gradient_matches_finite_differences_wide_output_single_sample():
    args = _params(np.random.default_rng(1), n_in=3, n_hidden=5, n_out=2, n=1)
    assert_grad_matches_fd(seed_network.loss, *args, wrt=("W1", "b1", "W2", "b2"))


def test_gradient_with_respect_to_the_inputs():
    args = _params(np.random.default_rng(2))
    assert_grad_matches_fd(seed_network.loss, *args, wrt=("x", "y"))


def test_short_training_run_lowers_the_loss():
    history = seed_network.train(steps=300)
    assert len(history) == 301
    assert all(np.isfinite(history))
    assert history[-1] < 0.7 * history[0]
    # plain gradient descent with a small step: the loss falls at every step
    assert all(b <= a + 1e-12 for a, b in zip(history, history[1:], strict=False))


def test_full_training_run_fits_the_xor_task():
    history = seed_network.train()
    assert history[-1] < 0.1 * history[0]


def test_example_runs_as_a_script():
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "seed_network.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "def grad_loss(W1, b1, W2, b2, x, y):" in done.stdout
    assert "step     0   loss" in done.stdout
    assert "training accuracy" in done.stdout


def test_how_it_works_shows_the_code_the_cli_prints_today():
    """docs/how-it-works.md pastes the generated code and explains it line by line.

    When the compiler's output changes, paste the new output of the command below into
    the doc and update the explanation that follows it.
    """
    command = "adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2"
    doc = (ROOT / "docs" / "how-it-works.md").read_text(encoding="utf-8")
    start = doc.index(f"$ {command}\n") + len(f"$ {command}\n")
    shown = doc[start : doc.index("```", start)]
    done = subprocess.run(
        [sys.executable, "-m", "adcompile", *command.split()[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert shown == done.stdout, f"docs/how-it-works.md is stale: paste `{command}`"
