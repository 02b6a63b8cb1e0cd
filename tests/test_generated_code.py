"""What the generated code does not compute: adjoints nobody reads, statements a scalar
does not need, broadcasts numpy does anyway. Each is checked on the generated source
(a behaviour of the compiler, not a timing) and against finite differences."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
from helpers import assert_grad_matches_fd, assert_tree_grad_matches_fd

import adcompile as ad


def layers_loss(layers, X):
    h = X
    for W, b in layers:
        h = np.tanh(h @ W + b)
    return np.sum(h * h)


def _layers(rng, n):
    return [(rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3) * 0.1) for _ in range(n)]


def _reverse_loop(source: str) -> ast.For:
    fn = ast.parse(source).body[0]
    loops = [s for s in fn.body if isinstance(s, ast.For)]
    assert len(loops) == 2  # the forward loop, then the reverse loop
    return loops[1]


@pytest.mark.parametrize("n", [1, 3])
def test_a_loop_started_from_an_inactive_value_skips_its_adjoint_on_the_first_iteration(n):
    rng = np.random.default_rng(0)
    layers, X = _layers(rng, n), rng.normal(size=(4, 3))
    g = ad.grad(layers_loss, wrt=0)
    reverse = _reverse_loop(g.source)
    # the carried adjoint (dh @ W.T, the product's adjoint) is computed under a test of
    # the iteration's number, which counts down to the first forward iteration, whose
    # input X is not active
    guards = [s for s in reverse.body if isinstance(s, ast.If)]
    assert len(guards) == 1
    assert "matmul_adjoint_lhs" in ast.unparse(guards[0].body[0].value)
    assert ast.unparse(reverse.iter).endswith("- 1, -1, -1)")
    assert_tree_grad_matches_fd(layers_loss, layers, X, wrt=0)


def test_a_loop_started_from_an_active_value_computes_every_carried_adjoint():
    rng = np.random.default_rng(1)
    layers, X = _layers(rng, 3), rng.normal(size=(4, 3))
    g = ad.grad(layers_loss, wrt=(0, 1))
    reverse = _reverse_loop(g.source)
    assert not any(isinstance(s, ast.If) for s in reverse.body)
    assert_grad_matches_fd(layers_loss, layers, X, wrt=1)


def scalar_chain(y, x):
    for _ in range(5):
        y = math.sin(y * x) + math.cos(y)
    return y


def test_a_scalar_adjoint_with_two_contributions_is_one_statement():
    g = ad.grad(scalar_chain, wrt=(0, 1))
    g(0.3, 0.7)  # the code specialised to Python floats
    reverse = _reverse_loop(g.source)
    # y's adjoint gets a contribution from sin(y * x) and one from cos(y): one
    # assignment of their sum, not an assignment, an addition and a copy
    assert not any(
        isinstance(n, ast.AugAssign) and ast.unparse(n.target).startswith("dy")
        for n in reverse.body
    )
    carries = [s for s in reverse.body if isinstance(s, ast.Assign)]
    assert any("math.sin" in ast.unparse(s.value) and "x" in ast.unparse(s.value) for s in carries)
    assert_grad_matches_fd(scalar_chain, 0.3, 0.7, wrt=0)
    assert_grad_matches_fd(scalar_chain, 0.3, 0.7, wrt=1)


def log_softmax_loss(W, X, Y):
    logits = X @ W
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse))


def test_the_max_adjoint_is_not_broadcast_by_hand_when_known_shapes_do_it():
    rng = np.random.default_rng(2)
    W, X = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    Y = np.eye(4)[rng.integers(0, 4, size=5)]
    g = ad.grad(log_softmax_loss)
    g(W, X, Y)  # the code specialised to these shapes
    assert "extremum_mask" in g.source
    assert "broadcast_to" not in g.source
    assert_grad_matches_fd(log_softmax_loss, W, X, Y)
