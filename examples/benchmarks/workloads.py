"""The benchmark's workloads: each a plain numpy forward (what adcompile differentiates)
and a hand-written numpy backward (the reference every ratio is taken to).

* ``seed_loss``: the seed network (see ``examples/seed_network.py``), two sigmoid layers
  and a squared error, columns are samples;
* ``mlp_loss``: a deep tanh MLP whose parameters are a list of ``(W, b)`` tuples,
  then a linear layer and softmax cross-entropy with a stable log-sum-exp;
* ``rnn_loss``: a vanilla RNN over time steps written as a Python ``for`` loop, with
  a linear read-out of the last state and a squared error;
* ``chain``: ``y = sin(y * x) + cos(y)`` repeated on Python floats (per-operation cost).

Each ``*_hand`` function returns the loss's gradient with respect to the same
parameters, in the same structure as ``adcompile.grad`` returns it. The data makers
return the arguments of the forward function.
"""

from __future__ import annotations

import math

import numpy as np

# ------------------------------------------------------------------ seed network


def seed_loss(W1, b1, W2, b2, x, y):
    h = W1 @ x + b1
    a = 1 / (1 + np.exp(-h))
    o = W2 @ a + b2
    yhat = 1 / (1 + np.exp(-o))
    return 0.5 * np.sum((yhat - y) ** 2)


def seed_hand(W1, b1, W2, b2, x, y):
    h = W1 @ x + b1
    a = 1 / (1 + np.exp(-h))
    o = W2 @ a + b2
    yhat = 1 / (1 + np.exp(-o))
    do = (yhat - y) * yhat * (1 - yhat)  # ∂L/∂o = (ŷ − y)·σ′(o)
    dW2 = do @ a.T
    db2 = do.sum(axis=1, keepdims=True)
    da = W2.T @ do
    dh = da * a * (1 - a)  # ∂L/∂h = ∂L/∂a · σ′(h)
    dW1 = dh @ x.T
    db1 = dh.sum(axis=1, keepdims=True)
    return dW1, db1, dW2, db2


def seed_data(n_in, n_hidden, n_out, batch, seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(scale=n_in**-0.5, size=(n_hidden, n_in))
    b1 = rng.normal(scale=0.1, size=(n_hidden, 1))
    W2 = rng.normal(scale=n_hidden**-0.5, size=(n_out, n_hidden))
    b2 = rng.normal(scale=0.1, size=(n_out, 1))
    x = rng.normal(size=(n_in, batch))
    y = rng.uniform(size=(n_out, batch))
    return W1, b1, W2, b2, x, y


# ----------------------------------------------------------------- deep tanh MLP


def mlp_loss(layers, Wo, bo, X, Y):
    """Mean softmax cross-entropy of a tanh MLP; ``Y`` holds one-hot labels."""
    h = X
    for W, b in layers:
        h = np.tanh(h @ W + b)
    logits = h @ Wo + bo
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) / X.shape[0]


def mlp_hand(layers, Wo, bo, X, Y):
    hs = [X]
    h = X
    for W, b in layers:
        h = np.tanh(h @ W + b)
        hs.append(h)
    logits = h @ Wo + bo
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    dlogits = (p - Y) / X.shape[0]  # ∂L/∂logits = (softmax − Y) / N
    dWo = h.T @ dlogits
    dbo = dlogits.sum(axis=0)
    dh = dlogits @ Wo.T
    grads = [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        W = layers[i][0]
        h = hs[i + 1]
        dpre = dh * (1 - h * h)  # tanh′ = 1 − tanh²
        grads[i] = (hs[i].T @ dpre, dpre.sum(axis=0))
        if i:
            dh = dpre @ W.T
    return grads, dWo, dbo


def mlp_data(depth=10, width=64, n_in=64, n_classes=10, batch=32, seed=0):
    """``depth`` layers in all: ``depth - 1`` tanh layers of ``width`` units (a list of
    ``(W, b)``) and the linear output layer ``Wo, bo``."""
    rng = np.random.default_rng(seed)
    sizes = [n_in] + [width] * (depth - 1)
    layers = [
        (rng.normal(size=(m, n)) / np.sqrt(m), rng.normal(scale=0.1, size=n))
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    Wo = rng.normal(size=(width, n_classes)) / np.sqrt(width)
    bo = rng.normal(scale=0.1, size=n_classes)
    X = rng.normal(size=(batch, n_in))
    Y = np.eye(n_classes)[rng.integers(n_classes, size=batch)]
    return layers, Wo, bo, X, Y


# ------------------------------------------------------------------- vanilla RNN


def rnn_loss(Wx, Wh, b, Wy, by, xs, h0, y):
    """``xs`` is (steps, batch, inputs); the last state is read out and compared to ``y``."""
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    out = h @ Wy + by
    return 0.5 * np.sum((out - y) ** 2)


def rnn_hand(Wx, Wh, b, Wy, by, xs, h0, y):
    hs = [h0]
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        hs.append(h)
    dout = h @ Wy + by - y
    dWy = h.T @ dout
    dby = dout.sum(axis=0)
    dh = dout @ Wy.T
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    for t in range(xs.shape[0] - 1, -1, -1):
        h = hs[t + 1]
        dpre = dh * (1 - h * h)
        dWx += xs[t].T @ dpre
        dWh += hs[t].T @ dpre
        db += dpre.sum(axis=0)
        dh = dpre @ Wh.T
    return dWx, dWh, db, dWy, dby


def rnn_data(steps=50, hidden=32, n_in=16, batch=8, n_out=4, seed=0):
    rng = np.random.default_rng(seed)
    Wx = rng.normal(size=(n_in, hidden)) / np.sqrt(n_in)
    Wh = rng.normal(size=(hidden, hidden)) / np.sqrt(hidden)
    b = rng.normal(scale=0.1, size=hidden)
    Wy = rng.normal(size=(hidden, n_out)) / np.sqrt(hidden)
    by = rng.normal(scale=0.1, size=n_out)
    xs = rng.normal(size=(steps, batch, n_in))
    h0 = np.zeros((batch, hidden))
    y = rng.normal(size=(batch, n_out))
    return Wx, Wh, b, Wy, by, xs, h0, y


# ------------------------------------------------------------------ scalar chain

STEPS = 50


def chain(y, x):
    for _ in range(STEPS):
        y = math.sin(y * x) + math.cos(y)
    return y


def chain_hand(y, x):
    ys = []
    for _ in range(STEPS):
        ys.append(y)
        y = math.sin(y * x) + math.cos(y)
    dy = 1.0
    dx = 0.0
    for y in reversed(ys):
        c = math.cos(y * x)
        dx += dy * c * y
        dy = dy * (c * x - math.sin(y))
    return dy, dx


def chain_data():
    return 0.3, 0.7
