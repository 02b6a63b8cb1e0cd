"""Whole models in the language of issue 3, checked against finite differences.

Each model is the kind of forward function real training code has: loops over
layers and time steps, parameters in lists and dicts, a branch on data inside a
loop, a while loop that runs until convergence. Sizes are small where the check
is by finite differences (two forward passes per parameter element); the
50-step RNN at hidden size 32 is checked against a hand-written numpy backward.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_grad_matches_fd, assert_tree_grad_matches_fd, leaves

import adcompile as ad

# ------------------------------------------------------------------ MLP


def mlp_loss(layers, X, Y):
    """A multi-layer perceptron whose layers are a list of (W, b) tuples."""
    h = X
    for W, b in layers:
        h = np.tanh(h @ W + b)
    return 0.5 * np.mean((h - Y) ** 2)


def _mlp_layers(rng, sizes):
    return [
        (rng.normal(size=(m, n)) / np.sqrt(m), rng.normal(size=n) * 0.1)
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def test_mlp_with_a_list_of_layer_tuples():
    rng = np.random.default_rng(0)
    layers = _mlp_layers(rng, [3, 5, 4, 2])
    X = rng.normal(size=(6, 3))
    Y = rng.normal(size=(6, 2))
    g = assert_tree_grad_matches_fd(mlp_loss, layers, X, Y, wrt=0)
    # a list of (dW, db) tuples, each shaped like its parameter
    assert type(g) is list and len(g) == 3
    for (dW, db), (W, b) in zip(g, layers, strict=True):
        assert dW.shape == W.shape and db.shape == b.shape


def test_mlp_gradient_with_respect_to_the_input_too():
    rng = np.random.default_rng(1)
    layers = _mlp_layers(rng, [2, 3, 1])
    X = rng.normal(size=(4, 2))
    Y = rng.normal(size=(4, 1))
    assert_tree_grad_matches_fd(mlp_loss, layers, X, Y, wrt=(0, 1))


def test_mlp_code_is_compiled_per_structure_not_per_depth():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3, 2))
    Y = rng.normal(size=(3, 2))
    dloss = ad.grad(mlp_loss)
    # layers of one shape, so that only the depth differs
    deep = _mlp_layers(rng, [2, 2, 2, 2, 2])
    shallow = _mlp_layers(rng, [2, 2])
    g_deep = dloss(deep, X, Y)
    source = dloss.source
    g_shallow = dloss(shallow, X, Y)
    assert dloss.source == source  # a list of pairs either way: the same code
    assert len(g_deep) == 4 and len(g_shallow) == 1
    assert_tree_grad_matches_fd(mlp_loss, shallow, X, Y, wrt=0)


def test_mlp_training_lowers_the_loss():
    rng = np.random.default_rng(3)
    layers = _mlp_layers(rng, [2, 8, 1])
    X = rng.normal(size=(16, 2))
    Y = np.tanh(X[:, :1] * X[:, 1:])
    dloss = ad.grad(mlp_loss)
    first = mlp_loss(layers, X, Y)
    for _ in range(50):
        g = dloss(layers, X, Y)
        layers = [(W - 0.5 * dW, b - 0.5 * db) for (W, b), (dW, db) in zip(layers, g, strict=True)]
    assert mlp_loss(layers, X, Y) < 0.8 * first


# ------------------------------------------------------------------ RNN


def rnn_loss(Wh, Wx, b, xs, h0, target):
    """A vanilla RNN over the rows of ``xs`` (one per time step)."""
    h = h0
    for x in xs:
        h = np.tanh(Wh @ h + Wx @ x + b)
    return 0.5 * np.sum((h - target) ** 2)


def rnn_sequence_loss(Wh, Wx, b, Wy, xs, ys):
    """An RNN with a loss at every step, the time steps a list of arrays."""
    h = np.zeros(Wh.shape[0])
    total = 0.0
    for x, y in zip(xs, ys):
        h = np.tanh(Wh @ h + Wx @ x + b)
        total = total + np.sum((Wy @ h - y) ** 2)
    return total / len(xs)


def _rnn_args(rng, hidden, n_in, steps):
    Wh = rng.normal(size=(hidden, hidden)) * 0.9 / np.sqrt(hidden)
    Wx = rng.normal(size=(hidden, n_in)) / np.sqrt(n_in)
    b = rng.normal(size=hidden) * 0.1
    xs = rng.normal(size=(steps, n_in))
    h0 = rng.normal(size=hidden) * 0.1
    target = rng.normal(size=hidden) * 0.5
    return Wh, Wx, b, xs, h0, target


def test_rnn_over_50_steps_matches_finite_differences():
    args = _rnn_args(np.random.default_rng(4), hidden=4, n_in=3, steps=50)
    assert_grad_matches_fd(rnn_loss, *args, wrt=(0, 1, 2, 4))


def test_rnn_gradient_with_respect_to_the_inputs():
    args = _rnn_args(np.random.default_rng(5), hidden=3, n_in=2, steps=6)
    assert_grad_matches_fd(rnn_loss, *args, wrt=("xs", "h0", "target"))


def test_rnn_with_a_loss_at_every_step_over_a_list_of_inputs():
    rng = np.random.default_rng(6)
    hidden, n_in, n_out, steps = 3, 2, 2, 8
    Wh = rng.normal(size=(hidden, hidden)) * 0.5
    Wx = rng.normal(size=(hidden, n_in))
    b = rng.normal(size=hidden) * 0.1
    Wy = rng.normal(size=(n_out, hidden))
    xs = [rng.normal(size=n_in) for _ in range(steps)]
    ys = [rng.normal(size=n_out) for _ in range(steps)]
    assert_grad_matches_fd(rnn_sequence_loss, Wh, Wx, b, Wy, xs, ys, wrt=(0, 1, 2, 3))
    assert_tree_grad_matches_fd(rnn_sequence_loss, Wh, Wx, b, Wy, xs, ys, wrt=4)


def _rnn_backward_by_hand(Wh, Wx, b, xs, h0, target):
    """The textbook backpropagation through time for :func:`rnn_loss`."""
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(Wh @ hs[-1] + Wx @ x + b))
    dh = hs[-1] - target
    dWh = np.zeros_like(Wh)
    dWx = np.zeros_like(Wx)
    db = np.zeros_like(b)
    for t in range(len(xs) - 1, -1, -1):
        da = dh * (1 - hs[t + 1] ** 2)
        dWh += np.outer(da, hs[t])
        dWx += np.outer(da, xs[t])
        db += da
        dh = Wh.T @ da
    return dWh, dWx, db, dh


def test_rnn_hidden_32_over_50_steps_matches_a_hand_written_backward():
    args = _rnn_args(np.random.default_rng(7), hidden=32, n_in=8, steps=50)
    got = ad.grad(rnn_loss, wrt=(0, 1, 2, 4))(*args)
    want = _rnn_backward_by_hand(*args)
    for g, w, label in zip(got, want, ("Wh", "Wx", "b", "h0"), strict=True):
        if label != "h0":  # the initial state's gradient vanishes over 50 steps
            assert np.abs(w).max() > 1e-3  # the comparison is not of zeros
        # relative to each element: both sides sum the same terms in the same order
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=0, err_msg=label)


def test_rnn_loop_saves_one_tuple_per_step_and_keeps_parameters_off_the_stack():
    source = ad.grad(rnn_loss, wrt=(0, 1, 2)).source
    forward, reverse = source.split("# reverse sweep")
    # the forward loop pushes once onto a list of its own, which the reverse loop
    # reads back from the end (by index here: it also needs the iteration's number)
    assert forward.count(".append(") == 1 and ".pop()" not in reverse
    assert "saved = []" in forward and reverse.count("saved[k]") == 1
    pushed = next(line for line in forward.splitlines() if ".append(" in line)
    for param in ("Wh", "Wx", "b", "target"):
        assert f"{param}," not in pushed and f"{param})" not in pushed, pushed


# ------------------------------------------------------------- residual net


def resnet_loss(blocks, W_in, W_out, X, Y):
    """Residual blocks h + tanh(h @ A + c) @ B, between an input and output projection."""
    h = X @ W_in
    for A, c, B in blocks:
        skip = h
        h = np.tanh(h @ A + c) @ B
        h = h + skip
    out = h @ W_out
    return np.mean((out - Y) ** 2)


def resnet_inplace_loss(blocks, X):
    h = X
    for A, B in blocks:
        h = h + np.tanh(h @ A) @ B
    return np.sum(h**2) / X.shape[0]


def test_residual_network():
    rng = np.random.default_rng(8)
    width = 3
    blocks = [
        (rng.normal(size=(width, width)), rng.normal(size=width), rng.normal(size=(width, width)))
        for _ in range(3)
    ]
    W_in = rng.normal(size=(2, width))
    W_out = rng.normal(size=(width, 1))
    X = rng.normal(size=(4, 2))
    Y = rng.normal(size=(4, 1))
    g = assert_tree_grad_matches_fd(resnet_loss, blocks, W_in, W_out, X, Y, wrt=(0, 1, 2))
    assert all(type(t) is tuple and len(t) == 3 for t in g[0])


def test_residual_network_with_blocks_in_a_tuple():
    rng = np.random.default_rng(9)
    blocks = tuple((rng.normal(size=(2, 2)), rng.normal(size=(2, 2))) for _ in range(2))
    X = rng.normal(size=(3, 2))
    g = assert_tree_grad_matches_fd(resnet_inplace_loss, blocks, X, wrt=(0, 1))
    assert type(g[0]) is tuple and all(type(t) is tuple for t in g[0])


# -------------------------------------------------------- batch-normalised


def batchnorm_loss(layers, X, Y):
    """Linear -> batch norm (mean/var over the batch axis) -> tanh, per layer."""
    h = X
    for W, gamma, beta in layers:
        z = h @ W
        mu = np.mean(z, axis=0, keepdims=True)
        var = np.var(z, axis=0, keepdims=True)
        zhat = (z - mu) / np.sqrt(var + 1e-5)
        h = np.tanh(gamma * zhat + beta)
    return np.mean((h - Y) ** 2)


def test_batch_normalised_network():
    rng = np.random.default_rng(10)
    layers = [
        (rng.normal(size=(3, 4)), 1.0 + 0.1 * rng.normal(size=4), 0.1 * rng.normal(size=4)),
        (rng.normal(size=(4, 2)), 1.0 + 0.1 * rng.normal(size=2), 0.1 * rng.normal(size=2)),
    ]
    X = rng.normal(size=(5, 3))
    Y = rng.normal(size=(5, 2))
    g = assert_tree_grad_matches_fd(batchnorm_loss, layers, X, Y, wrt=(0, 1))
    assert all(type(t) is tuple and len(t) == 3 for t in g[0])


def test_batch_norm_gradient_is_orthogonal_to_a_shift_of_the_batch():
    # batch norm removes the mean over the batch: shifting every row of z by the
    # same vector changes nothing, so dX sums to zero over the batch for one layer
    rng = np.random.default_rng(11)
    layers = [(np.eye(3), np.ones(3), np.zeros(3))]
    X = rng.normal(size=(6, 3))
    Y = rng.normal(size=(6, 3))
    dX = ad.grad(batchnorm_loss, wrt=1)(layers, X, Y)
    assert np.abs(dX).max() > 1e-3
    np.testing.assert_allclose(dX.sum(axis=0), 0.0, atol=1e-12)


# -------------------------------------------------------- softmax attention


def attention_loss(Wq, Wk, Wv, X, target):
    """Single-head softmax attention with a numerically stable softmax."""
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    scores = Q @ K.T / np.sqrt(Q.shape[1])
    scores = scores - np.max(scores, axis=1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / np.sum(weights, axis=1, keepdims=True)
    out = weights @ V
    return np.sum((out - target) ** 2)


def test_softmax_attention_layer():
    rng = np.random.default_rng(12)
    n, d, k = 4, 3, 2
    Wq, Wk, Wv = (rng.normal(size=(d, k)) for _ in range(3))
    X = rng.normal(size=(n, d))
    target = rng.normal(size=(n, k))
    assert_grad_matches_fd(attention_loss, Wq, Wk, Wv, X, target, wrt=(0, 1, 2, 3))


def test_softmax_attention_with_large_scores_stays_finite():
    # without the max subtraction np.exp would overflow; the gradient of the
    # stable form must be finite and still agree with finite differences
    rng = np.random.default_rng(13)
    n, d, k = 3, 2, 2
    Wq, Wk, Wv = (rng.normal(size=(d, k)) for _ in range(3))
    X = 30.0 * rng.normal(size=(n, d))
    target = rng.normal(size=(n, k))
    g = ad.grad(attention_loss, wrt=(0, 1, 2))(Wq, Wk, Wv, X, target)
    assert all(np.all(np.isfinite(gi)) for gi in g)
    assert_grad_matches_fd(attention_loss, Wq, Wk, Wv, X, target, wrt=2)


# ------------------------------------------------- while-loop fixed point


def fixed_point_loss(W, b, x0, tol):
    """Iterate x <- tanh(W x + b) until the step is below ``tol``."""
    x = x0
    step = 1.0
    while step > tol:
        x_new = np.tanh(W @ x + b)
        step = np.max(np.abs(x_new - x))
        x = x_new
    return np.sum(x**2)


def _fixed_point_args(rng):
    W = rng.normal(size=(3, 3)) * 0.3  # a contraction: the iteration converges
    b = rng.normal(size=3)
    x0 = np.zeros(3)
    return W, b, x0


def _steps(W, b, x0, tol):
    """The step sizes the iteration takes, to check the stopping test has margin."""
    x, steps = x0, []
    while not steps or steps[-1] > tol:
        x_new = np.tanh(W @ x + b)
        steps.append(np.max(np.abs(x_new - x)))
        x = x_new
    return steps


def test_while_loop_fixed_point_iteration():
    W, b, x0 = _fixed_point_args(np.random.default_rng(14))
    tol = 1e-4
    steps = _steps(W, b, x0, tol)
    # finite differences must not change the number of iterations
    assert len(steps) > 3 and steps[-1] < 0.9 * tol and steps[-2] > 1.1 * tol
    assert_grad_matches_fd(fixed_point_loss, W, b, x0, tol, wrt=(0, 1))


def test_fixed_point_gradient_approaches_the_implicit_gradient():
    # at the fixed point x* = tanh(W x* + b), implicit differentiation gives
    # dL/db = D (I - W^T D)^-1 ... with D = diag(1 - x*^2); the unrolled gradient
    # must approach it as the tolerance shrinks
    W, b, x0 = _fixed_point_args(np.random.default_rng(15))
    x = x0
    for _ in range(200):
        x = np.tanh(W @ x + b)
    D = np.diag(1 - x**2)
    lam = np.linalg.solve(np.eye(3) - (D @ W).T, 2 * x)
    db_implicit = D @ lam
    db = ad.grad(fixed_point_loss, wrt=1)(W, b, x0, 1e-12)
    np.testing.assert_allclose(db, db_implicit, rtol=1e-8)


# ------------------------------------------------- a branch inside a loop


def renormalised_rnn_loss(Wh, Wx, xs, max_norm):
    """An RNN whose state is rescaled whenever its norm exceeds ``max_norm``."""
    h = np.zeros(Wh.shape[0])
    for x in xs:
        h = Wh @ h + Wx @ x
        norm = np.sqrt(np.sum(h * h))
        if norm > max_norm:
            h = h * (max_norm / norm)
        else:
            h = np.tanh(h)
    return np.sum(h)


def test_branch_inside_a_loop_takes_both_arms():
    rng = np.random.default_rng(16)
    Wh = rng.normal(size=(3, 3))
    Wx = rng.normal(size=(3, 2))
    xs = rng.normal(size=(8, 2))
    max_norm = 1.5
    # both arms are taken, and no norm sits at the threshold
    h, taken = np.zeros(3), []
    for x in xs:
        h = Wh @ h + Wx @ x
        n = np.sqrt(np.sum(h * h))
        assert abs(n - max_norm) > 1e-3
        taken.append(n > max_norm)
        h = h * (max_norm / n) if n > max_norm else np.tanh(h)
    assert any(taken) and not all(taken)
    assert_grad_matches_fd(renormalised_rnn_loss, Wh, Wx, xs, max_norm, wrt=(0, 1, 2, 3))


# ------------------------------------------------------ dict of parameters


def dict_mlp_loss(params, X, y):
    """A two-layer classifier with its parameters in a dict, softmax cross-entropy."""
    h = np.tanh(X @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(np.sum(logp * y, axis=1)) + params["decay"] * np.sum(params["W1"] ** 2)


def test_dict_of_parameters():
    rng = np.random.default_rng(17)
    params = {
        "W1": rng.normal(size=(3, 4)),
        "b1": rng.normal(size=4),
        "W2": rng.normal(size=(4, 3)),
        "b2": rng.normal(size=3),
        "decay": 0.01,
    }
    X = rng.normal(size=(5, 3))
    y = np.eye(3)[rng.integers(0, 3, size=5)]
    g = assert_tree_grad_matches_fd(dict_mlp_loss, params, X, y, wrt=0)
    assert list(g) == list(params)
    assert type(g["decay"]) is float


def nested_params_loss(params, X):
    h = X
    for W, b in params["hidden"]:
        h = np.tanh(h @ W + b)
    return np.sum((h @ params["head"]["W"] + params["head"]["b"]) ** 2)


def test_dict_holding_a_list_of_layers_and_a_dict():
    rng = np.random.default_rng(18)
    params = {
        "hidden": [(rng.normal(size=(2, 3)), rng.normal(size=3)) for _ in range(1)]
        + [(rng.normal(size=(3, 3)), rng.normal(size=3))],
        "head": {"W": rng.normal(size=(3, 1)), "b": rng.normal(size=1)},
    }
    X = rng.normal(size=(4, 2))
    g = assert_tree_grad_matches_fd(nested_params_loss, params, X, wrt=0)
    assert type(g["hidden"]) is list and type(g["hidden"][0]) is tuple
    assert type(g["head"]) is dict and list(g["head"]) == ["W", "b"]
    assert len(leaves(g)) == 6


@pytest.mark.parametrize("model", ["mlp", "rnn"])
def test_model_gradients_are_the_same_on_a_second_call(model):
    rng = np.random.default_rng(19)
    if model == "mlp":
        args = (_mlp_layers(rng, [2, 3, 2]), rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))
        dloss = ad.grad(mlp_loss)
    else:
        args = _rnn_args(rng, hidden=3, n_in=2, steps=5)
        dloss = ad.grad(rnn_loss, wrt=(0, 1, 2))
    first = leaves(dloss(*args))
    second = leaves(dloss(*args))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
