"""Calls of other user functions: each callee differentiated through its own
generated pullback pair (fwd_f/bwd_f), compiled once, recursion included."""

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad

RNG = np.random.default_rng(11)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def layer(W, b, x, act=True):
    h = W @ x + b
    if act:
        return sigmoid(h)
    return h


def two_layers(W1, b1, W2, b2, x):
    a = layer(W1, b1, x)
    o = layer(W2, b2, a, act=False)
    return np.sum(o**2)


def power(x, n):
    if n == 0:
        return x * 0.0 + 1.0
    return x * power(x, n - 1)


def recursive_cube(x):
    return np.sum(power(x, 3))


def sin_cos(x):
    return np.sin(x), np.cos(x)


def uses_a_tuple_result(x):
    s, c = sin_cos(x)
    return np.sum(s * c)


def scaled(x, scale=2.0):
    return x * scale


def keyword_and_default(x, y):
    return np.sum(scaled(x) * scaled(y, scale=0.5) + scaled(scale=3.0, x=y))


def helper_in_a_loop(W, x):
    h = x
    for _ in range(3):
        h = sigmoid(W @ h)
    return np.sum(h)


def test_helper_with_positional_keyword_and_default_arguments():
    x, y = RNG.normal(size=3), RNG.normal(size=3)
    assert_grad_matches_fd(keyword_and_default, x, y, wrt=(0, 1))


def test_layers_with_a_branch_on_a_default_argument():
    args = [RNG.normal(size=s) for s in [(4, 3), (4, 1), (2, 4), (2, 1), (3, 5)]]
    assert_grad_matches_fd(two_layers, *args, wrt=(0, 1, 2, 3, 4))


def test_recursive_helper():
    x = RNG.normal(size=4)
    g = assert_grad_matches_fd(recursive_cube, x)
    np.testing.assert_allclose(g, 3 * x**2)


def test_helper_returning_a_tuple():
    assert_grad_matches_fd(uses_a_tuple_result, RNG.normal(size=3))


def test_helper_called_in_a_loop():
    W, x = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 2))
    assert_grad_matches_fd(helper_in_a_loop, W, x, wrt=(0, 1))


@pytest.mark.parametrize("f", [two_layers, recursive_cube])
def test_source_shows_each_callee_pair_once(f):
    dloss = ad.grad(f)
    source = dloss.source
    callee = "layer" if f is two_layers else "power"
    assert f"def fwd_{callee}(" in source and f"def bwd_{callee}(" in source
    assert source.count(f"def fwd_{callee}(") == 1
