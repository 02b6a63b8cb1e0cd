"""The seed network: a three-layer perceptron trained with its compiled gradient.

    h = W1 x + b1        a = σ(h)
    o = W2 a + b2        ŷ = σ(o)
    L = ½ ‖ŷ − y‖²

``loss`` below is that network written in plain numpy. ``adcompile.grad`` reads
its source and writes the Python code of its gradient; we print that code, then
train the network with plain gradient descent, W ← W − η ∂L/∂W.

Run it:

    python examples/seed_network.py
"""

import numpy as np

import adcompile as ad

N_IN, N_HIDDEN, N_OUT = 4, 8, 1


def loss(W1, b1, W2, b2, x, y):
    # Columns are samples: x is (4, N), y is (1, N), b1 is (8, 1), b2 is (1, 1).
    h = W1 @ x + b1
    a = 1 / (1 + np.exp(-h))
    o = W2 @ a + b2
    yhat = 1 / (1 + np.exp(-o))
    return 0.5 * np.sum((yhat - y) ** 2)


# The compiled gradient: called like loss, it returns (∂L/∂W1, ∂L/∂b1, ∂L/∂W2, ∂L/∂b2).
dloss = ad.grad(loss, wrt=(0, 1, 2, 3))


def make_data(n=64, seed=0):
    """An XOR-like task: the label is 1 when the first two inputs have the same sign.

    The other two inputs are noise. No linear model can do better than chance here,
    so the hidden layer has to learn something.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_IN, n))
    y = (x[0] * x[1] > 0).astype(float).reshape(1, n)
    return x, y


def init_params(seed=0):
    """Standard normal weights, zero biases."""
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(N_HIDDEN, N_IN))
    b1 = np.zeros((N_HIDDEN, 1))
    W2 = rng.normal(size=(N_OUT, N_HIDDEN))
    b2 = np.zeros((N_OUT, 1))
    return W1, b1, W2, b2


def train(steps=3000, lr=2.0, n=64, seed=0, log_every=0):
    """Plain gradient descent on ``loss``; returns the loss before each step and after the last.

    The loss sums over the ``n`` samples, so the step size is η = ``lr / n``.
    With ``log_every`` > 0 it prints the loss every that many steps.
    """
    x, y = make_data(n, seed)
    W1, b1, W2, b2 = init_params(seed + 1)
    eta = lr / n
    history = []
    for step in range(steps + 1):
        history.append(float(loss(W1, b1, W2, b2, x, y)))
        if log_every and (step % log_every == 0 or step == steps):
            print(f"step {step:5d}   loss {history[-1]:.4f}")
        if step == steps:
            break
        dW1, db1, dW2, db2 = dloss(W1, b1, W2, b2, x, y)
        # W ← W − η ∂L/∂W
        W1 = W1 - eta * dW1
        b1 = b1 - eta * db1
        W2 = W2 - eta * dW2
        b2 = b2 - eta * db2
    if log_every:
        accuracy = np.mean((predict(W1, b1, W2, b2, x) > 0.5) == (y > 0.5))
        print(f"training accuracy {accuracy:.0%}")
    return history


def predict(W1, b1, W2, b2, x):
    """The network's output ŷ for the inputs ``x``."""
    a = 1 / (1 + np.exp(-(W1 @ x + b1)))
    return 1 / (1 + np.exp(-(W2 @ a + b2)))


if __name__ == "__main__":
    print("The gradient adcompile generated for loss (with respect to W1, b1, W2, b2):\n")
    print(dloss.source)
    print("Training the 4-8-1 network on 64 samples of an XOR-like task:\n")
    train(log_every=500)
