"""The examples' losses against finite differences, and short runs of the examples.

The examples import scikit-learn and matplotlib only inside the functions that
need them, so the gradient checks run with the core install; the runs that load
the digits or draw a plot skip when the ``examples`` extra is not installed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_tree_grad_matches_fd

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


digits = _load("digits")
vanishing = _load("vanishing_gradients")


def _one_hot(rng, batch, classes):
    return np.eye(classes)[rng.integers(0, classes, size=batch)]


# ------------------------------------------------------------------ digits


def test_digits_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    params = digits.init_params(rng, sizes=(5, 4, 3, 3))
    params = [(W, rng.normal(size=b.shape) * 0.1) for W, b in params]  # nonzero biases
    X = rng.normal(size=(6, 5))
    Y = _one_hot(rng, 6, 3)
    g = assert_tree_grad_matches_fd(digits.loss, params, X, Y, wrt=0)
    assert type(g) is list and all(type(t) is tuple and len(t) == 2 for t in g)


def test_digits_value_and_grad_returns_the_loss():
    rng = np.random.default_rng(1)
    params = digits.init_params(rng, sizes=(4, 3, 2))
    X = rng.normal(size=(5, 4))
    Y = _one_hot(rng, 5, 2)
    value, grads = digits.value_and_grad_loss(params, X, Y)
    assert value == pytest.approx(digits.loss(params, X, Y), rel=1e-12)
    assert [(dW.shape, db.shape) for dW, db in grads] == [(W.shape, b.shape) for W, b in params]


def test_digits_loss_is_stable_for_huge_logits():
    """The log-sum-exp subtracts the largest logit: no overflow, and a finite gradient."""
    rng = np.random.default_rng(2)
    params = digits.init_params(rng, sizes=(3, 2))
    X = rng.normal(size=(4, 3)) * 1e4
    Y = _one_hot(rng, 4, 2)
    with np.errstate(over="raise"):
        value, grads = digits.value_and_grad_loss(params, X, Y)
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(dW)) and np.all(np.isfinite(db)) for dW, db in grads)


def test_digits_short_training_lowers_the_loss():
    pytest.importorskip("sklearn")
    X_train, y_train, X_test, y_test = digits.load_data(seed=0)
    assert X_train.shape[1] == 64 and len(X_train) + len(X_test) == 1797
    params, history = digits.train(
        X_train, y_train, X_test, y_test, epochs=2, batch_size=64, max_steps=20, seed=0
    )
    assert len(history["batch_loss"]) == 20
    assert np.mean(history["batch_loss"][-5:]) < 0.5 * history["batch_loss"][0]
    assert history["test_acc"][-1] > 0.5  # from 10% by chance, after 20 steps
    assert [W.shape for W, _ in params] == [(64, 64), (64, 64), (64, 10)]


def test_digits_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    history = {
        "batch_loss": [2.0, 1.0, 0.5, 0.4],
        "train_loss": [1.0, 0.4],
        "test_loss": [1.1, 0.5],
        "train_acc": [0.8, 0.95],
        "test_acc": [0.78, 0.93],
        "steps_per_epoch": 2,
    }
    out = digits.plot_curves(history, tmp_path / "sub" / "curves.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------ vanishing gradients

NETWORKS = [
    vanishing.sigmoid_net,
    vanishing.tanh_net,
    vanishing.relu_net,
    vanishing.residual_net,
    vanishing.batchnorm_net,
]


@pytest.mark.parametrize("net", NETWORKS, ids=lambda f: f.__name__)
def test_vanishing_gradient_networks_match_finite_differences(net):
    rng = np.random.default_rng(3)
    params = vanishing.init_params(rng, vanishing.xavier, depth=3, width=4, n_in=4, n_out=2)
    params = [(W, rng.normal(size=b.shape) * 0.1) for W, b in params]
    X = rng.normal(size=(5, 4))  # as wide as the layers: the residual adds h to its input
    Y = _one_hot(rng, 5, 2)
    # ReLU kinks are measure-zero; with these seeds no pre-activation sits within eps of one.
    assert_tree_grad_matches_fd(net, params, X, Y, wrt=0, rtol=1e-5, atol=1e-7)


def test_vanishing_gradients_measure_shows_the_decay():
    norms = vanishing.measure(seed=0, batch=64)
    assert list(norms) == list(vanishing.NETWORKS)
    assert all(n.shape == (vanishing.DEPTH,) for n in norms.values())
    sig = norms["sigmoid"]
    # shrinks at least ~3x per layer towards the input: σ' ≤ 1/4
    assert sig[-2] / sig[0] > 3.0 ** (vanishing.DEPTH - 2)
    for name in ("tanh", "ReLU", "ReLU + residual", "ReLU + batch norm"):
        n = norms[name]
        assert 1e-2 < n[-1] / n[0] < 1e2, name


def test_vanishing_gradients_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    norms = {name: np.geomspace(1e-6, 1.0, vanishing.DEPTH) for name in vanishing.NETWORKS}
    out = vanishing.plot(norms, tmp_path / "norms.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ the index


def test_every_example_script_is_in_the_examples_readme():
    """examples/README.md's table links every script of examples/ that runs as a
    program, and has a section with the command that runs it."""
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    scripts = sorted(
        p.relative_to(EXAMPLES).as_posix()
        for p in EXAMPLES.rglob("*.py")
        if 'if __name__ == "__main__"' in p.read_text(encoding="utf-8")
    )
    assert len(scripts) >= 7, scripts
    for script in scripts:
        assert f"| [`{script}`]({script}) |" in readme, script
        assert f"## `{script}`" in readme, script
        assert f"python examples/{script}" in readme, script
