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


def log_softmax_loss_and_max(W, X, Y):
    logits = X @ W
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) + np.sum(m * m)  # the result depends on m


def test_the_max_adjoint_is_not_broadcast_by_hand_when_known_shapes_do_it():
    rng = np.random.default_rng(2)
    W, X = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    Y = np.eye(4)[rng.integers(0, 4, size=5)]
    g = ad.grad(log_softmax_loss_and_max)
    g(W, X, Y)  # the code specialised to these shapes
    assert "extremum_mask" in g.source
    assert "broadcast_to" not in g.source
    assert_grad_matches_fd(log_softmax_loss_and_max, W, X, Y)


def normalised_rows(S):
    P = np.exp(S)
    P = P / np.sum(P, axis=1, keepdims=True)
    return np.sum(P * P) + np.sum(np.sum(S, axis=0, keepdims=True) * S)


def test_a_row_sum_adjoint_added_to_its_input_is_spread_by_the_addition():
    """P / np.sum(P, axis=1, keepdims=True) gives P's adjoint two contributions, the
    second the sum's (a broadcast of a column): with known shapes ``dP += column``
    spreads it, and so does ``dS_1 + row`` for a sum over rows added to another."""
    S = np.random.default_rng(3).normal(size=(4, 5))
    g = ad.grad(normalised_rows)
    g(S)
    added = [line for line in g.source.splitlines() if "+=" in line or " + " in line]
    assert len(added) >= 2 and not any("broadcast_to" in line for line in added)
    assert_grad_matches_fd(normalised_rows, S)


def log_softmax_shift_added_back(W, X, Y):
    scores = X @ W
    shift = scores.max(axis=1, keepdims=True)
    logz = shift + np.log(np.exp(scores - shift).sum(axis=1, keepdims=True))
    return -(Y * (scores - logz)).sum()


def shift_summed_over_the_other_axis(W, X, Y):
    logits = X @ W
    m = np.max(logits, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(logits - m), axis=0, keepdims=True))
    return -np.sum(Y * (logits - m - lse))


def shift_read_twice(W, X, Y):
    logits = X @ W
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) + np.sum(z * z)  # z alone still depends on m


@pytest.mark.parametrize("f", [log_softmax_loss, log_softmax_shift_added_back])
def test_the_shift_of_a_stable_log_sum_exp_is_not_differentiated(f):
    # the result does not change with the max subtracted: its derivative through the
    # max is zero in exact arithmetic, and the reverse sweep leaves it out
    rng = np.random.default_rng(2)
    W, X = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    Y = np.eye(4)[rng.integers(0, 4, size=5)]
    for g in (ad.grad(f), ad.grad(f, wrt=(0, 1))):
        g(W, X, Y)
        assert "extremum_mask" not in g.source, g.source
    assert_grad_matches_fd(f, W, X, Y)
    assert_grad_matches_fd(f, W, X, Y, wrt=1)
    # ties in the max (equal scores) change nothing either
    W2 = np.ones((3, 4))
    assert_grad_matches_fd(f, W2, X, Y)


@pytest.mark.parametrize("f", [shift_summed_over_the_other_axis, shift_read_twice])
def test_a_max_the_result_does_depend_on_is_differentiated(f):
    rng = np.random.default_rng(3)
    W, X = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    Y = np.eye(4)[rng.integers(0, 4, size=5)]
    g = ad.grad(f)
    g(W, X, Y)
    assert "extremum_mask" in g.source
    assert_grad_matches_fd(f, W, X, Y)


def slice_plus_row(x, b):
    y = x[1:3] + b
    return np.sum(y)


def row_plus_row(x, b):
    y = x[1] + b
    return np.sum(y)


@pytest.mark.parametrize("f", [slice_plus_row, row_plus_row])
def test_a_constant_slice_has_a_known_shape_in_specialised_code(f):
    """x[1:3] has a known shape, as x[1] has: the specialised gradient sums b's
    contribution exactly and spreads the seed without unbroadcast or unreduce."""
    rng = np.random.default_rng(3)
    x, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    g = ad.grad(f, wrt=(0, 1))
    g(x, b)  # the code specialised to these shapes
    assert "unbroadcast" not in g.source and "unreduce" not in g.source, g.source
    assert_grad_matches_fd(f, x, b, wrt=(0, 1))


# ------------------------------------------- what a loop saves, and where it saves it


def test_the_scalar_chain_saves_one_float_per_iteration_on_its_own_list():
    g = ad.grad(scalar_chain, wrt=(0, 1))
    g(0.3, 0.7)
    fn = ast.parse(g.source).body[0]
    forward = next(s for s in fn.body if isinstance(s, ast.For))
    reverse = _reverse_loop(g.source)
    # y * x is recomputed from the saved y rather than saved with it: one float pushed,
    # no tuple, no counter of iterations, and the reverse loop walks the list backwards
    calls = [n for n in ast.walk(forward) if isinstance(n, ast.Call)]
    pushes = [n for n in calls if ast.unparse(n.func).endswith(".append")]
    assert len(pushes) == 1 and isinstance(pushes[0].args[0], ast.Name)
    saved = ast.unparse(pushes[0].func.value)
    assert ast.unparse(reverse.iter) == f"reversed({saved})"
    assert isinstance(reverse.target, ast.Name)
    # ... and, read once, written into its one use, as in the forward sweep
    assert f"math.cos({reverse.target.id} * x)" in ast.unparse(reverse.body[0])
    assert "math.sin(y_1 * x)" in ast.unparse(forward)
    assert "iterations" not in g.source and ".pop()" not in g.source
    assert g(0.3, 0.7) == pytest.approx(
        (ad.grad(scalar_chain, wrt=0)(0.3, 0.7), ad.grad(scalar_chain, wrt=1)(0.3, 0.7))
    )
    assert_grad_matches_fd(scalar_chain, 0.3, 0.7, wrt=0)
    assert_grad_matches_fd(scalar_chain, 0.3, 0.7, wrt=1)


def chain_products(y, x, n):
    # a chain of products, each recomputable from the one before: only y is saved
    for _ in range(n):
        a = y * x
        b = a * y
        c = b - x
        y = math.sin(c) + math.cos(a)
    return y


def chain_break(y, x, n):
    for _ in range(n):
        y = math.sin(y * x) + math.cos(y)
        if y > 1.2:
            break
    return y


def chain_continue(y, x, n):
    for i in range(n):
        if i % 2 == 1:
            y = y * x
            continue
        y = math.sin(y * x) + math.cos(y)
    return y


def chain_branches(y, x, n):
    for _i in range(n):
        a = y * x
        if a > 0.2:
            y = math.sin(a) * y
        else:
            y = math.cos(a - y) + x
    return y


def chain_nested(y, x, n):
    for i in range(n):
        z = y * x
        for _ in range(i):
            z = math.sin(z * y) + x
        y = z + math.cos(y)
    return y


def chain_while(y, x, n):
    k = 0
    while k < n:
        y = math.sin(y * x) + math.cos(y) * y
        k += 1
    return y


def array_loop_break(W, x, n):
    h = x
    for _ in range(n):
        h = np.tanh(W @ h)
        if np.max(np.abs(h)) < 0.05:
            break
    return np.sum(h * h)


@pytest.mark.parametrize(
    "f", [chain_products, chain_break, chain_continue, chain_branches, chain_nested, chain_while]
)
@pytest.mark.parametrize("n", [0, 1, 6])
def test_loops_that_save_on_their_own_lists_and_recompute_products_are_exact(f, n):
    for y, x in ((0.3, 0.7), (0.9, 1.3), (-0.4, 0.5)):
        assert_grad_matches_fd(f, y, x, n, wrt=0)
        assert_grad_matches_fd(f, y, x, n, wrt=1)
    g = ad.grad(f, wrt=(0, 1))
    g(0.3, 0.7, n)
    assert "iterations" not in g.source


def test_a_chain_of_recomputable_products_saves_only_its_start():
    g = ad.grad(chain_products, wrt=(0, 1))
    g(0.3, 0.7, 4)
    forward, reverse = g.source.split("# reverse sweep")
    pushed = [line.strip() for line in forward.splitlines() if ".append(" in line]
    assert pushed == ["saved.append(y_1)"], pushed
    # recomputed before anything reads them; b, read once, inside its one use
    recomputed = [line.strip() for line in reverse.splitlines() if line.strip()[:2] in ("a ", "b ")]
    assert recomputed == ["a = y_1 * x"], recomputed
    assert "math.cos(a * y_1 - x)" in reverse
    for n in (0, 1, 4):
        assert_grad_matches_fd(chain_products, 0.3, 0.7, n, wrt=0)
        assert_grad_matches_fd(chain_products, 0.3, 0.7, n, wrt=1)


def test_arrays_are_saved_not_recomputed():
    rng = np.random.default_rng(5)
    W, x = rng.normal(size=(3, 3)) * 0.4, rng.normal(size=3)
    g = ad.grad(array_loop_break)
    g(W, x, 7)
    reverse = g.source.split("# reverse sweep")[1]
    code = [line for line in reverse.splitlines() if not line.strip().startswith("#")]
    assert not any("tanh(" in line for line in code)  # saved, never recomputed
    for n in (0, 1, 7):
        assert_grad_matches_fd(array_loop_break, W, x, n)
        assert_grad_matches_fd(array_loop_break, W, x, n, wrt=1)


# ------------------------------------- the gradient of a list of (W, b) layers, built once


def _mlp_args(rng, n, width=3):
    layers = _layers(rng, n)
    return layers, rng.normal(size=(4, width))


def test_each_layers_gradient_is_one_tuple_assigned_into_its_own_element():
    rng = np.random.default_rng(7)
    layers, X = _mlp_args(rng, 3)
    g = ad.grad(layers_loss, wrt=0)
    g(layers, X)
    reverse = g.source.split("# reverse sweep")[1]
    # dlayers[i] = [dW, db], as a person writes it: no adjoint built element by element
    assert "add_at" not in reverse and "zeros_adjoint" not in reverse
    assert "dlayers[i_1] = [h.T @ dh_2, dh_2.sum(axis=0)]" in reverse, reverse
    assert_tree_grad_matches_fd(layers_loss, layers, X, wrt=0)


def test_the_dispatcher_skips_alias_tests_for_a_container_of_new_arrays():
    rng = np.random.default_rng(8)
    layers, X = _mlp_args(rng, 3)
    g = ad.grad(layers_loss, wrt=0)
    first = g(layers, X)
    second = g(layers, X)
    assert g._gen.fresh == [True]
    dispatch = g.__call__.source
    assert ".base is not None" not in dispatch and " is a0" not in dispatch
    for (dW1, db1), (dW2, db2), (W, b) in zip(first, second, layers, strict=True):
        assert dW2 is not W and db2 is not b and dW2 is not dW1
        np.testing.assert_array_equal(dW1, dW2)
        np.testing.assert_array_equal(db1, db2)


def layers_weights_only(layers, X):
    h = X
    for W, _b in layers:
        h = np.tanh(h @ W)
    return np.sum(h * h)


def layers_break(layers, X):
    h = X
    for W, b in layers:
        h = np.tanh(h @ W + b)
        if np.sum(h * h) > 2.0:
            break
    return np.sum(h * h)


def layers_read_twice(layers, X, n):
    h = X
    for i in range(n):
        h = np.tanh(h @ layers[i][0] + layers[i][1]) + 0.1 * layers[i][0][0]
    return np.sum(h * h)


def layers_used_after(layers, X):
    h = X
    for W, b in layers:
        h = np.tanh(h @ W + b)
    W, b = layers[-1]
    return np.sum(h * h) + np.sum(W * b)


def layers_nested(layers, X, n):
    h = X
    for i in range(len(layers)):
        for _ in range(n):
            h = np.tanh(h @ layers[i][0] + layers[i][1])
    return np.sum(h * h)


def layers_reversed_index(layers, X):
    h = X
    n = len(layers)
    for i in range(n):
        W, b = layers[n - 1 - i]
        h = np.tanh(h @ W + b)
    return np.sum(h * h)


def layers_branch(layers, X):
    h = X
    for i in range(len(layers)):
        W, b = layers[i]
        if i % 2 == 0:
            h = np.tanh(h @ W + b)
        else:
            h = np.sin(h @ W) * b
    return np.sum(h * h)


@pytest.mark.parametrize(
    "f, extra",
    [
        (layers_loss, ()),
        (layers_weights_only, ()),
        (layers_break, ()),
        (layers_read_twice, (3,)),
        (layers_used_after, ()),
        (layers_nested, (2,)),
        (layers_reversed_index, ()),
        (layers_branch, ()),
    ],
)
def test_layer_gradients_collected_from_element_reads_are_exact(f, extra):
    rng = np.random.default_rng(9)
    layers, X = _mlp_args(rng, 3)
    for _ in range(2):  # the slow path, then the dispatcher
        got = ad.grad(f, wrt=0)(layers, X, *extra)
    assert_tree_grad_matches_fd(f, layers, X, *extra, wrt=0)
    assert_grad_matches_fd(f, layers, X, *extra, wrt=1)
    assert isinstance(got, list) and all(isinstance(t, tuple) for t in got)
    arrays = [a for t in got for a in t]
    assert len({id(a) for a in arrays}) == len(arrays)  # no gradient shares an array
    assert not any(a is p for a in arrays for t in layers for p in t)


def test_an_unused_element_gets_a_zero_gradient():
    rng = np.random.default_rng(10)
    layers, X = _mlp_args(rng, 2)
    g = ad.grad(layers_weights_only, wrt=0)
    g(layers, X)
    assert "dlayers[i_1] = [h.T @ dh_1_1, None]" in g.source, g.source
    for _ in range(2):
        got = g(layers, X)
        assert all(np.all(db == 0) and db.shape == b.shape for (_, db), (_, b) in zip(got, layers))


# ------------------------------- specialised code: no bookkeeping that cannot happen


def flat_mlp(params, X, labels):
    h = X
    for i in range(len(params) // 2 - 1):
        h = np.tanh(h @ params[2 * i] + params[2 * i + 1])
    scores = h @ params[-2] + params[-1]
    shift = scores.max(axis=1, keepdims=True)
    logz = shift + np.log(np.exp(scores - shift).sum(axis=1, keepdims=True))
    return -(labels * (scores - logz)).sum() / X.shape[0]


def columns_rnn(Wx, Wh, bh, Wo, xs, target):
    h = np.zeros((Wh.shape[0], xs.shape[2]))
    for t in range(xs.shape[0]):
        h = np.tanh(np.dot(Wx, xs[t]) + Wh @ h + bh)
    return np.mean((Wo @ h - target) ** 2)


GENERAL_HELPERS = ("unbroadcast", "unreduce", "matmul_adjoint", "dot_adjoint")


def test_a_flat_parameter_list_read_at_loop_indices_gets_specialised_code():
    rng = np.random.default_rng(4)
    params = []
    for n_out in (5, 5, 5, 3):
        params += [rng.normal(size=(5, n_out)) * 0.5, rng.normal(size=n_out) * 0.1]
    X, labels = rng.normal(size=(6, 5)), np.eye(3)[rng.integers(0, 3, 6)]
    g = ad.grad(flat_mlp)
    g(params, X, labels)
    assert not any(h in g.source for h in GENERAL_HELPERS), g.source
    # a pre-activation is not kept for its shape alone
    assert "h @ h_1 + " in g.source, g.source
    assert_tree_grad_matches_fd(flat_mlp, params, X, labels)


def test_an_rnn_whose_state_is_made_from_sizes_gets_specialised_code():
    rng = np.random.default_rng(5)
    Wx, Wh = rng.normal(size=(4, 3)) * 0.5, rng.normal(size=(4, 4)) * 0.4
    bh, Wo = rng.normal(size=(4, 1)), rng.normal(size=(2, 4))
    xs, target = rng.normal(size=(5, 3, 2)), rng.normal(size=(2, 2))
    g = ad.grad(columns_rnn, wrt=(0, 1, 2, 3))
    g(Wx, Wh, bh, Wo, xs, target)
    assert not any(h in g.source for h in GENERAL_HELPERS), g.source
    assert_grad_matches_fd(columns_rnn, Wx, Wh, bh, Wo, xs, target, wrt=(0, 1, 2, 3))


def sin_cos_chain(s, b, n):
    for _ in range(n):
        s = math.sin(s) * b + math.cos(s)
    return s


def sin_of_sin(s, b, n):
    for _ in range(n):
        u = math.sin(s)
        s = math.sin(u) * b + u * s
    return s


@pytest.mark.parametrize("f", [sin_cos_chain, sin_of_sin])
def test_a_math_function_of_a_saved_float_is_recomputed_not_saved(f):
    g = ad.grad(f, wrt=(0, 1))
    g(0.4, 0.9, 3)
    forward = g.source.split("# reverse sweep")[0]
    pushed = [line.strip() for line in forward.splitlines() if ".append(" in line]
    assert len(pushed) == 1 and "(" not in pushed[0].split(".append(")[1][:-1], pushed
    for n in (0, 1, 5):
        assert_grad_matches_fd(f, 0.4, 0.9, n, wrt=0)
        assert_grad_matches_fd(f, 0.4, 0.9, n, wrt=1)


def tanh_layer(W, b, h):
    return np.tanh(h @ W + b)


def two_layers(W1, b1, W2, b2, x):
    h = tanh_layer(W1, b1, x)
    o = tanh_layer(W2, b2, h)
    return np.sum(o * o)


def test_the_shape_of_what_a_called_function_returns_is_known():
    rng = np.random.default_rng(6)
    args = [rng.normal(size=s) for s in [(3, 4), (4,), (4, 2), (2,), (5, 3)]]
    g = ad.grad(two_layers, wrt=(0, 1, 2, 3))
    g(*args)
    # o's shape is known: the sum's cotangent spreads by broadcasting, without unreduce
    main = g.source.split("def fwd_")[0]
    assert not any(h in main for h in GENERAL_HELPERS), main
    assert_grad_matches_fd(two_layers, *args, wrt=(0, 1, 2, 3))


def test_a_flat_parameter_list_filled_at_computed_indices_is_a_container_of_new_arrays():
    rng = np.random.default_rng(9)
    params = []
    for n_out in (4, 4, 3):
        params += [rng.normal(size=(4, n_out)) * 0.5, rng.normal(size=n_out) * 0.1]
    X, labels = rng.normal(size=(5, 4)), np.eye(3)[rng.integers(0, 3, 5)]
    g = ad.grad(flat_mlp)
    first = g(params, X, labels)
    second = g(params, X, labels)
    assert g._gen.fresh == [True]
    assert ".base is not None" not in g.__call__.source
    for a, b, p in zip(first, second, params, strict=True):
        assert a is not b and a is not p
        np.testing.assert_array_equal(a, b)
    assert_tree_grad_matches_fd(flat_mlp, params, X, labels)


# ------------------------------- large cheap arrays computed again rather than held


def kernel_nll(log_ell, log_sn2, D2, y):
    n = y.shape[0]
    K = np.exp(-0.5 * D2 * np.exp(-2.0 * log_ell)) + np.exp(log_sn2) * np.eye(n)
    return 0.5 * (y @ np.linalg.solve(K, y)) + 0.5 * np.linalg.slogdet(K)[1]


def kernel_nll_scaled_in_place(log_ell, log_sn2, D2, y):
    n = y.shape[0]
    S = -0.5 * D2
    D2 *= 2.0  # the parameter changes after S is computed: S cannot be computed again
    K = np.exp(S * np.exp(-2.0 * log_ell)) + np.exp(log_sn2) * np.eye(n) + 0.0 * D2
    return 0.5 * (y @ np.linalg.solve(K, y)) + 0.5 * np.linalg.slogdet(K)[1]


def _kernel_args(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    D2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    return 0.2, -1.0, D2, np.sin(X[:, 0])


def _forward_lines(g) -> list[str]:
    forward = g.source.split("# reverse sweep")[0].split("# forward sweep")[1]
    return [line.strip() for line in forward.splitlines() if not line.strip().startswith("#")]


def test_a_large_array_cheap_to_make_from_parameters_is_computed_again_not_held():
    # -0.5 * D2 and np.eye(n) (n = 160: 25,600 elements each) are made again where the
    # reverse sweep reads them: holding them raised the peak memory of every call
    args = _kernel_args(160)
    g = ad.grad(kernel_nll, wrt=(0, 1))
    g(*args)
    reverse = g.source.split("# reverse sweep")[1]
    assert "(-0.5 * D2)" in reverse and "np.eye(n)" in reverse
    assert not any(line.endswith(("= -0.5 * D2", "= np.eye(n)")) for line in _forward_lines(g))
    assert_grad_matches_fd(kernel_nll, *args, wrt=(0, 1))


def test_a_small_array_or_a_parameter_written_in_place_is_held():
    # below the size, holding costs nothing worth a second computation
    args = _kernel_args(8)
    g = ad.grad(kernel_nll, wrt=(0, 1))
    g(*args)
    assert "(-0.5 * D2)" not in g.source.split("# reverse sweep")[1]
    assert_grad_matches_fd(kernel_nll, *args, wrt=(0, 1))
    # a parameter the function writes into no longer holds what it held
    args = _kernel_args(160)
    g = ad.grad(kernel_nll_scaled_in_place, wrt=(0, 1))
    got = g(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    assert "(-0.5 * D2)" not in g.source.split("# reverse sweep")[1]

    def fresh(log_ell, log_sn2):
        return kernel_nll_scaled_in_place(log_ell, log_sn2, args[2].copy(), args[3])

    for i in range(2):
        h = 1e-6
        up = [args[0], args[1]]
        down = list(up)
        up[i] += h
        down[i] -= h
        assert got[i] == pytest.approx((fresh(*up) - fresh(*down)) / (2 * h), rel=1e-6)


# ------------------------------------- a flat list of parameters read at computed indices


def test_reads_of_distinct_elements_at_computed_indices_assign_their_adjoints():
    # flat_mlp reads params[2 * i] and params[2 * i + 1] in a loop, params[-2] and
    # params[-1] after it: no element twice
    rng = np.random.default_rng(11)
    params = []
    for n_out in (4, 4, 4, 3):
        params += [rng.normal(size=(4, n_out)) * 0.5, rng.normal(size=n_out) * 0.1]
    X, labels = rng.normal(size=(5, 4)), np.eye(3)[rng.integers(0, 3, 5)]
    g = ad.grad(flat_mlp)
    g(params, X, labels)
    reverse = g.source.split("# reverse sweep")[1]
    # each contribution is its element's whole gradient: assigned, as by hand
    assert "add_at" not in reverse, reverse
    assert "dparams[-1] = " in reverse and "dparams[h_index] = " in reverse, reverse
    assert_tree_grad_matches_fd(flat_mlp, params, X, labels)


def overlapping_reads(params, x):
    s = 0.0
    for i in range(len(params) - 1):
        s = s + np.sum(params[i] * params[i + 1] * x)  # params[1] is read twice
    return s + np.sum(params[0] * x)


def same_element_each_iteration(params, x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.sin(params[0] * x) * params[i + 1])
    return s


def even_odd(params, x):
    s = 0.0
    for i in range(len(params)):
        s = s + np.sum(params[i % 2] * x) * (i + 1)
    return s


@pytest.mark.parametrize("f", [overlapping_reads, same_element_each_iteration, even_odd])
def test_reads_that_may_reach_one_element_twice_still_add_their_contributions(f):
    rng = np.random.default_rng(12)
    params = [rng.normal(size=3) for _ in range(4)]
    x = rng.normal(size=3)
    g = ad.grad(f, wrt=0)
    g(params, x)
    assert "add_at" in g.source.split("# reverse sweep")[1]
    assert_tree_grad_matches_fd(f, params, x, wrt=0)


# ------------------------------------- a pure call two adjoints recompute, computed once


ROUNDS = 7


def sin_cos_chain(a, b):
    s = a
    for _ in range(ROUNDS):
        s = math.sin(s) * b + math.cos(s)
    return s


def test_a_math_call_two_adjoints_compute_is_computed_once():
    g = ad.grad(sin_cos_chain, wrt=(0, 1))
    g(0.4, 0.9)
    reverse = g.source.split("# reverse sweep")[1]
    # sin(s) is b's adjoint's factor and in cos's rule: one call an iteration
    code = [line for line in reverse.splitlines() if not line.strip().startswith("#")]
    assert sum(line.count("math.sin(s)") for line in code) == 1, reverse
    assert "sin_s = math.sin(s)" in reverse, reverse
    for a, b in ((0.4, 0.9), (-1.3, 2.0)):
        assert_grad_matches_fd(sin_cos_chain, a, b, wrt=0)
        assert_grad_matches_fd(sin_cos_chain, a, b, wrt=1)


def log_softmax_rows(x):
    m = np.max(x, axis=-1, keepdims=True)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def test_a_log_softmax_result_is_invariant_elementwise_so_its_vjp_drops_the_shift_too():
    rng = np.random.default_rng(4)
    x, ct = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    v = ad.vjp(log_softmax_rows)
    got = v(x, ct)
    assert "extremum_mask" not in v.source
    eps, fd = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        fd[i] = np.sum(ct * (log_softmax_rows(x + d) - log_softmax_rows(x - d))) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)
