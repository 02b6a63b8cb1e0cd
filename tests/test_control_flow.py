"""Control flow and containers (issue 3), pinned by finite differences.

Branches (data-dependent conditions, each arm taken by some test), early and
several returns, conditional expressions, for loops over ranges, lists, array
rows, zip and enumerate, nested loops, break and continue, while loops, lists
built with append, parameters in lists, tuples and dicts, and integer and
boolean values that flow through without adjoints. Also what the generated code
keeps: one push per loop iteration of references, an empty stack at the end,
inputs left untouched, and gradients with the structure of their arguments.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest
from helpers import assert_grad_matches_fd, assert_tree_grad_matches_fd, leaves

import adcompile as ad
from adcompile import AdCompileError

RNG = np.random.default_rng(20240601)
X3 = RNG.normal(size=3)
POS = np.abs(X3) + 0.5  # sum > 0, every element > 0.5
NEG = -np.abs(X3) - 0.5  # sum < 0, every element < -0.5
M43 = RNG.normal(size=(4, 3))
M33 = np.random.default_rng(70).normal(size=(3, 3))


def _vec(seed, n=3):
    return np.random.default_rng(seed).normal(size=n)


# ================================================================ branches


def branch_both_assign(x):
    if np.sum(x) > 0:
        y = np.sin(x) * x
    else:
        y = np.exp(x)
    return np.sum(y * y)


@pytest.mark.parametrize("x", [POS, NEG], ids=["then", "else"])
def test_if_else_on_a_data_dependent_condition(x):
    assert_grad_matches_fd(branch_both_assign, x)


def branch_elif(x, t):
    s = np.sum(x)
    if s > t:
        y = np.exp(x)
    elif s > -t:
        y = x * x * 3.0
    else:
        y = np.sin(x)
    return np.sum(y)


@pytest.mark.parametrize(
    "x, t", [(POS, 0.1), (0.01 * X3, 1.0), (NEG, 0.1)], ids=["if", "elif", "else"]
)
def test_if_elif_else(x, t):
    assert_grad_matches_fd(branch_elif, x, t, wrt=(0, 1))


def branch_one_arm(x, w):
    y = x * w
    if np.max(x) > 0:
        y = y * x
    return np.sum(y)


@pytest.mark.parametrize("x", [POS, NEG], ids=["taken", "skipped"])
def test_branch_assigning_in_one_arm_keeps_the_prior_value_otherwise(x):
    assert_grad_matches_fd(branch_one_arm, x, _vec(1), wrt=(0, 1))


def branch_both_values_used(x, y):
    # each arm reads values computed before the if, and one is used after it
    a = x * y
    b = np.sin(x)
    if np.sum(a) > 0:
        c = a * b
    else:
        c = b - a
    return np.sum(c * a)


@pytest.mark.parametrize("x", [POS, NEG], ids=["then", "else"])
def test_branch_reads_values_from_before_and_after_it(x):
    assert_grad_matches_fd(branch_both_values_used, x, np.abs(_vec(2)) + 0.1, wrt=(0, 1))


def branch_on_float(x, t):
    if t > 0.5:
        y = x * t
    else:
        y = x / t
    return np.sum(y)


@pytest.mark.parametrize("t", [0.8, 0.3])
def test_branch_on_a_python_float(t):
    g = assert_grad_matches_fd(branch_on_float, X3, t, wrt=(0, 1))
    assert type(g[1]) is float


def branch_bool_ops(x):
    s = np.sum(x)
    if (s > 0 and np.max(x) > 0.5) or not -1.0 < s:
        y = x * x
    else:
        y = -x
    return np.sum(y)


@pytest.mark.parametrize("x", [POS, 0.01 * X3, NEG], ids=["and", "neither", "not-chain"])
def test_condition_with_and_or_not_and_a_comparison_chain(x):
    assert_grad_matches_fd(branch_bool_ops, x)


def branch_sequential(x):
    if np.sum(x) > 0:
        y = x * 2.0
    else:
        y = x * -1.0
    if np.sum(y) > 1.0:
        y = y * y
    return np.sum(y)


@pytest.mark.parametrize("x", [POS, NEG, 0.01 * X3], ids=["pos", "neg", "small"])
def test_a_branch_on_a_value_joined_by_an_earlier_branch(x):
    assert_grad_matches_fd(branch_sequential, x)


def branch_swap(a, b):
    if np.sum(a) > np.sum(b):
        a, b = b, a
    return np.sum(a * 2.0 + b * b)


@pytest.mark.parametrize("order", ["swapped", "kept"])
def test_branch_swapping_two_values(order):
    a, b = (POS, NEG) if order == "swapped" else (NEG, POS)
    assert_grad_matches_fd(branch_swap, a, b, wrt=(0, 1))


def branch_alias(x, y):
    if np.sum(x) > 0:
        z = x
    else:
        z = y
    return np.sum(z * x)


@pytest.mark.parametrize("x", [POS, NEG], ids=["then", "else"])
def test_branch_joining_parameters_themselves(x):
    assert_grad_matches_fd(branch_alias, x, _vec(3), wrt=(0, 1))


# ========================================================== early returns


def early_return(x):
    if np.sum(x) > 0:
        return np.sum(x * x)
    y = np.sin(x)
    if np.max(x) < -1.0:
        return np.sum(y)
    return np.sum(y * x)


@pytest.mark.parametrize(
    "x",
    [POS, NEG - 1.0, np.array([-0.5, 0.2, -0.1])],
    ids=["first-return", "second-return", "last-return"],
)
def test_early_return_and_several_returns(x):
    assert_grad_matches_fd(early_return, x)


def nested_returns(x):
    if np.sum(x) > 0:
        if np.max(x) > 1.0:
            return np.sum(x * 3.0)
        else:
            y = x * x
    else:
        y = np.exp(x)
    return np.sum(y)


@pytest.mark.parametrize("x", [POS + 1.0, 0.1 * POS, NEG], ids=["inner", "fall-through", "else"])
def test_return_in_a_nested_branch(x):
    assert_grad_matches_fd(nested_returns, x)


def return_constant_on_one_path(x):
    if np.sum(x) < -100.0:
        return 0.0
    return np.sum(x * x)


def test_a_path_returning_a_constant_gives_a_zero_gradient():
    g = ad.grad(return_constant_on_one_path)(X3 - 200.0)
    np.testing.assert_array_equal(g, np.zeros(3))
    assert_grad_matches_fd(return_constant_on_one_path, X3)


# =================================================== conditional expressions


def conditional_expressions(x):
    y = x * x if np.sum(x) > 0 else np.exp(x)
    return np.sum(y) + (np.sum(x) if x[0] > 0 else 2.0 * np.sum(x))


@pytest.mark.parametrize("x", [POS, NEG, np.array([-1.0, 2.0, 0.5])], ids=["pos", "neg", "mixed"])
def test_conditional_expressions(x):
    assert_grad_matches_fd(conditional_expressions, x)


def conditional_alias(x, y):
    z = x if np.sum(x) > 0 else y
    return np.sum(z * z)


@pytest.mark.parametrize("x", [POS, NEG], ids=["then", "else"])
def test_conditional_expression_choosing_between_parameters(x):
    assert_grad_matches_fd(conditional_alias, x, _vec(4), wrt=(0, 1))


def conditional_in_loop(x):
    y = x
    for i in range(4):
        y = y * x if i % 2 == 0 else np.sin(y)
    return np.sum(y)


def test_conditional_expression_in_a_loop():
    assert_grad_matches_fd(conditional_in_loop, X3)


def conditional_container(a, b, x):
    p = a if np.sum(x) > 0 else b
    return np.sum(p[0] * x)


@pytest.mark.parametrize("x", [POS, NEG], ids=["then", "else"])
def test_conditional_expression_choosing_a_list(x):
    g = assert_tree_grad_matches_fd(conditional_container, [_vec(5)], [_vec(6)], x, wrt=(0, 1))
    chosen, other = (g[0], g[1]) if np.sum(x) > 0 else (g[1], g[0])
    assert np.abs(chosen[0]).max() > 0
    np.testing.assert_array_equal(other[0], np.zeros(3))


# ============================================================ for loops


def range_start_stop_step(x):
    s = x
    for i in range(1, 8, 3):
        s = s * x + i
    return np.sum(s)


def range_negative_step(x):
    s = x
    for i in range(5, 0, -2):
        s = np.sin(s) * i + x
    return np.sum(s)


def range_stop_only(x, n):
    y = x
    for i in range(n):
        y = y * x + i
    return np.sum(y)


def test_for_over_range_with_start_stop_step():
    assert_grad_matches_fd(range_start_stop_step, X3)


def test_for_over_range_with_a_negative_step():
    assert_grad_matches_fd(range_negative_step, X3)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_for_over_range_of_an_argument(n):
    g = assert_grad_matches_fd(range_stop_only, X3, n)
    if n == 0:
        # a loop that never runs leaves y = x: the gradient of sum(x) is ones
        np.testing.assert_array_equal(g, np.ones(3))


def range_of_float(x, n):
    y = x
    for _i in range(int(n)):
        y = y * x
    return np.sum(y)


def test_range_bound_from_int_of_a_float():
    assert_grad_matches_fd(range_of_float, X3, 3.0)


def over_list(xs, w):
    acc = 0.0
    for a in xs:
        acc = acc + np.sum(np.tanh(a * w))
    return acc


def test_for_over_a_list_of_arrays():
    xs = [_vec(7), _vec(8), _vec(9)]
    g = assert_tree_grad_matches_fd(over_list, xs, _vec(10), wrt=(0, 1))
    assert type(g[0]) is list and len(g[0]) == 3


def test_for_over_a_tuple_of_arrays():
    xs = (_vec(7), _vec(8))
    g = assert_tree_grad_matches_fd(over_list, xs, _vec(10), wrt=(0, 1))
    assert type(g[0]) is tuple


def test_for_over_an_empty_list():
    g = ad.grad(over_list, wrt=(0, 1))([], _vec(10))
    assert g[0] == []
    np.testing.assert_array_equal(g[1], np.zeros(3))


def over_rows(X, w):
    acc = 0.0
    for row in X:
        acc = acc + np.sum(row * row * w)
    return acc


def test_for_over_the_rows_of_an_array():
    assert_grad_matches_fd(over_rows, M43, X3, wrt=(0, 1))


def over_rows_unpacked(X):
    acc = 0.0
    for a, b, c in X:
        acc = acc + a * b - c * c
    return acc


def test_for_over_rows_unpacked_into_a_tuple_target():
    assert_grad_matches_fd(over_rows_unpacked, M43)


def over_local_list(x):
    acc = 0.0
    for a in [x, x * 2.0, np.sin(x)]:
        acc = acc + np.sum(a * a)
    return acc


def test_for_over_a_list_literal():
    assert_grad_matches_fd(over_local_list, X3)


def zipped(xs, ys, w):
    acc = 0.0
    for a, b in zip(xs, ys):
        acc = acc + np.sum(a * b * w)
    return acc


def test_zip_of_two_lists():
    xs = [_vec(11), _vec(12)]
    ys = [_vec(13), _vec(14)]
    assert_tree_grad_matches_fd(zipped, xs, ys, _vec(15), wrt=(0, 1, 2))


def test_zip_stops_at_the_shorter_list():
    xs = [_vec(11), _vec(12), _vec(16)]
    ys = [_vec(13), _vec(14)]
    g = assert_tree_grad_matches_fd(zipped, xs, ys, _vec(15), wrt=(0, 1))
    np.testing.assert_array_equal(g[0][2], np.zeros(3))


def zipped3(xs, ys, zs):
    acc = 0.0
    for a, b, c in zip(xs, ys, zs):
        acc = acc + np.sum(a * b * c)
    return acc


def test_zip_of_three_lists():
    xs, ys, zs = ([_vec(17 + 3 * k + j) for j in range(2)] for k in range(3))
    assert_tree_grad_matches_fd(zipped3, xs, ys, zs, wrt=(0, 1, 2))


def enumerated(xs):
    acc = 0.0
    for i, a in enumerate(xs):
        acc = acc + (i + 1) * np.sum(a * a)
    return acc


def test_enumerate():
    xs = [_vec(30), _vec(31), _vec(32)]
    g = assert_tree_grad_matches_fd(enumerated, xs)
    # the index weights each element: (i + 1) * 2 * a
    for i, (gi, a) in enumerate(zip(g, xs, strict=True)):
        np.testing.assert_allclose(gi, 2 * (i + 1) * a)


def enumerate_tuple_target(layers, x):
    h = x
    for i, (W, b) in enumerate(layers):
        h = np.tanh(W @ h + b) * (i + 1)
    return np.sum(h)


def test_enumerate_with_a_nested_tuple_target():
    layers = [(RNG.normal(size=(3, 3)), _vec(33)), (RNG.normal(size=(2, 3)), _vec(34, 2))]
    g = assert_tree_grad_matches_fd(enumerate_tuple_target, layers, _vec(35), wrt=(0, 1))
    assert [type(t) for t in g[0]] == [tuple, tuple]


def tuple_target(pairs):
    acc = 0.0
    for a, b in pairs:
        acc = acc + np.sum(a * np.exp(b))
    return acc


def test_for_with_a_tuple_target_over_a_list_of_pairs():
    pairs = [(_vec(36), _vec(37)), (_vec(38), _vec(39))]
    g = assert_tree_grad_matches_fd(tuple_target, pairs)
    assert type(g) is list and all(type(p) is tuple for p in g)


def nested_loops(X, w):
    acc = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            acc = acc + X[i, j] * w[j] * w[j]
    return acc


def test_nested_loops_over_indices():
    assert_grad_matches_fd(nested_loops, M43, X3, wrt=(0, 1))


def nested_carried(x):
    y = x
    for i in range(4):
        for _j in range(i):
            y = np.sin(y) * x
    return np.sum(y)


def test_nested_loops_with_a_varying_inner_count_carrying_a_value():
    # the inner loop runs 0, 1, 2, 3 times: its count must be saved per outer step
    assert_grad_matches_fd(nested_carried, X3)


def nested_over_lists(L, w):
    acc = 0.0
    for row in L:
        for a in row:
            acc = acc + np.sum(a * w)
    return acc


def test_nested_loops_over_a_list_of_lists():
    L = [[_vec(40), _vec(41)], [_vec(42)]]
    g = assert_tree_grad_matches_fd(nested_over_lists, L, _vec(43), wrt=(0, 1))
    assert type(g[0]) is list and [len(r) for r in g[0]] == [2, 1]


# ===================================================== break and continue


def loop_break(x):
    y = x
    for _i in range(10):
        y = y * 1.5
        if np.sum(y * y) > 20.0:
            break
    return np.sum(y)


@pytest.mark.parametrize("scale", [1.0, 0.01], ids=["breaks", "runs-out"])
def test_break(scale):
    assert_grad_matches_fd(loop_break, X3 * scale)


def test_break_stops_at_the_right_iteration():
    # y = 1.5**k * x, so the gradient tells the number of iterations that ran
    x = np.array([1.0, 1.0, 1.0])
    g = ad.grad(loop_break)(x)
    k = next(k for k in range(1, 11) if 3 * 1.5 ** (2 * k) > 20.0)
    np.testing.assert_allclose(g, np.full(3, 1.5**k))


def loop_continue(xs):
    acc = 0.0
    for a in xs:
        if np.sum(a) < 0:
            continue
        acc = acc + np.sum(a * a)
    return acc


def test_continue_skips_the_rest_of_the_iteration():
    xs = [POS, NEG, POS * 2.0]
    g = assert_tree_grad_matches_fd(loop_continue, xs)
    np.testing.assert_array_equal(g[1], np.zeros(3))


def continue_after_update(x):
    y = x
    for i in range(5):
        y = y * 1.1
        if i % 2 == 0:
            continue
        y = np.sin(y)
    return np.sum(y)


def test_continue_after_updating_a_carried_value():
    assert_grad_matches_fd(continue_after_update, X3)


def nested_break(X):
    acc = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            if j > i:
                break
            acc = acc + X[i, j] ** 2
    return acc


def test_break_in_an_inner_loop_leaves_the_outer_loop_running():
    g = assert_grad_matches_fd(nested_break, M43)
    np.testing.assert_allclose(g, np.tril(2 * M43))


def break_on_convergence(x, max_iter):
    y = x
    for _i in range(max_iter):
        y = np.tanh(y) * 0.5
        if np.max(np.abs(y)) < 1e-3:
            break
    return np.sum(y)


def test_break_on_convergence():
    assert_grad_matches_fd(break_on_convergence, X3, 1000)


def test_a_loop_that_breaks_early_saves_only_the_iterations_it_ran():
    x = np.ones(3)
    ran = 0
    y = x
    for _ in range(1000):
        ran += 1
        y = np.tanh(y) * 0.5
        if np.max(np.abs(y)) < 1e-3:
            break
    assert ran < 20
    _, stack = recorded_run(ad.grad(break_on_convergence), x, 1000)
    # at most two tuples an iteration that ran (the loop body's, and the branch
    # guarding the rest of the body after a break), never one per max_iter
    assert len(stack.pushed) <= 2 * ran + 1


# ============================================================ while loops


def while_counted(x):
    y = x
    n = 0
    while n < 3:
        y = np.sin(y) * x
        n = n + 1
    return np.sum(y)


def test_while_loop_with_a_counter():
    assert_grad_matches_fd(while_counted, X3)


def while_data(x):
    y = x
    while np.sum(y * y) < 10.0:
        y = y * 1.3 + 0.01
    return np.sum(y)


def test_while_loop_on_a_data_dependent_condition():
    assert_grad_matches_fd(while_data, X3)


def while_zero(x, limit):
    y = x * 2.0
    n = 0
    while n < limit:
        y = y * x
        n = n + 1
    return np.sum(y * y)


@pytest.mark.parametrize("limit", [0, 3])
def test_while_loop_running_zero_or_more_times(limit):
    g = assert_grad_matches_fd(while_zero, X3, limit)
    if limit == 0:
        np.testing.assert_allclose(g, 8 * X3)


def while_break(x):
    y = x
    n = 0
    while n < 10:
        y = y * 1.5
        n = n + 1
        if np.sum(y * y) > 20.0:
            break
    return np.sum(y)


@pytest.mark.parametrize("scale", [1.0, 0.01], ids=["breaks", "runs-out"])
def test_while_loop_with_break(scale):
    assert_grad_matches_fd(while_break, X3 * scale)


def while_true_break(x):
    y = x
    while True:
        y = y * 1.5
        if np.sum(y * y) > 20.0:
            break
    return np.sum(y)


def test_while_true_with_break():
    g = assert_grad_matches_fd(while_true_break, np.ones(3))
    k = next(k for k in range(1, 20) if 3 * 1.5 ** (2 * k) > 20.0)
    np.testing.assert_allclose(g, np.full(3, 1.5**k))


def search_with_break(xs):
    found = xs[0]
    for a in xs:
        if np.sum(a) > 1.0:
            found = a
            break
    return np.sum(found * found)


def test_search_loop_keeping_the_element_it_broke_on():
    xs = [np.array([0.1, 0.2]), np.array([1.0, 2.0]), np.array([3.0, 1.0])]
    g = assert_tree_grad_matches_fd(search_with_break, xs)
    np.testing.assert_allclose(g[1], 2 * xs[1])
    np.testing.assert_array_equal(g[2], np.zeros(2))


def while_continue(x):
    y = x
    n = 0
    while n < 5:
        n = n + 1
        if n % 2 == 0:
            continue
        y = np.sin(y) + x
    return np.sum(y)


def test_while_loop_with_continue():
    assert_grad_matches_fd(while_continue, X3)


def while_in_for(x):
    y = x
    for i in range(3):
        while np.sum(y * y) < 10.0 * (i + 1):
            y = y * 1.3
    return np.sum(y)


def test_data_dependent_while_loop_inside_a_for_loop():
    assert_grad_matches_fd(while_in_for, X3)


# ============================================= branches and loops combined


def branch_in_loop(x):
    y = x
    for _i in range(4):
        if np.sum(y) > 0:
            y = y * x - 1.0
        else:
            y = np.exp(y)
    return np.sum(y)


@pytest.mark.parametrize("x", [X3, POS, NEG], ids=["mixed", "pos", "neg"])
def test_branch_inside_a_loop(x):
    assert_grad_matches_fd(branch_in_loop, x)


def branch_in_loop_one_arm(x):
    y = x
    for i in range(4):
        if i % 2 == 0:
            y = y * x
    return np.sum(y)


def test_branch_inside_a_loop_assigning_in_one_arm():
    assert_grad_matches_fd(branch_in_loop_one_arm, X3)


def branch_local_to_loop(x, w):
    acc = 0.0
    for i in range(4):
        if i % 2 == 0:
            t = w
        else:
            t = x * np.sum(w)
        acc = acc + np.sum(t * x)
    return acc


def test_branch_in_a_loop_joining_values_from_outside_the_loop():
    assert_grad_matches_fd(branch_local_to_loop, X3, _vec(44), wrt=(0, 1))


def loop_in_branch(x):
    if np.sum(x) > 0:
        y = x
        for _i in range(3):
            y = y * x
    else:
        y = -x
    return np.sum(y)


@pytest.mark.parametrize("x", [POS, NEG], ids=["loop", "no-loop"])
def test_loop_inside_a_branch(x):
    assert_grad_matches_fd(loop_in_branch, x)


def loop_swap_in_branch(a, b):
    for i in range(3):
        if i % 2 == 0:
            a, b = b, a
        a = a * b
    return np.sum(a + b)


def test_swap_inside_a_branch_inside_a_loop():
    assert_grad_matches_fd(loop_swap_in_branch, X3, _vec(45), wrt=(0, 1))


# =================================== values a loop overwrites and carries


def matrix_power_chain(W, h):
    for _i in range(3):
        h = W @ h
    return np.sum(h * h)


def elementwise_chain(h, w):
    for _i in range(4):
        h = h * w
    return np.sum(h)


def test_values_overwritten_in_a_loop_matmul():
    assert_grad_matches_fd(matrix_power_chain, M43[:3], X3, wrt=(0, 1))


def test_values_overwritten_in_a_loop_elementwise():
    # d/dw sum(h w^4) = 4 h w^3: the reverse needs every intermediate h
    h, w = X3, _vec(46)
    g = assert_grad_matches_fd(elementwise_chain, h, w, wrt=(0, 1))
    np.testing.assert_allclose(g[1], 4 * h * w**3)


def inactive_factor(x):
    s = 1.0
    y = x
    for _i in range(4):
        s = s * 0.5
        y = np.sin(y) * s
    return np.sum(y)


def test_a_non_differentiated_value_changing_per_iteration_is_saved():
    assert_grad_matches_fd(inactive_factor, X3)


def float_carried(a, x):
    s = a
    for _i in range(3):
        s = s * a + np.sum(x)
    return s * 1.0


def test_python_float_carried_through_a_loop():
    g = assert_grad_matches_fd(float_carried, 0.7, X3, wrt=(0, 1))
    assert type(g[0]) is float


def float_accumulator(xs):
    acc = 0.0
    for a in xs:
        acc += np.sum(a * a)
    return acc


def test_augmented_assignment_accumulating_a_float():
    xs = [_vec(47), _vec(48)]
    g = assert_tree_grad_matches_fd(float_accumulator, xs)
    np.testing.assert_allclose(g[0], 2 * xs[0])


def int_carried(x):
    k = 0
    y = x
    for _i in range(3):
        k = k + 1
        y = y * k
    return np.sum(y) * k


def test_an_integer_carried_through_a_loop():
    g = assert_grad_matches_fd(int_carried, X3)
    np.testing.assert_allclose(g, np.full(3, 6.0 * 3))


# The pattern `a, b = b, f(a, b)` (or `prev = h; h = f(h)`) makes a carried
# variable's value at the end of an iteration another carried variable's value
# at its start, or a value from outside the loop.


def fibonacci(x):
    a = x
    b = x * 2.0
    for _i in range(3):
        t = a + b
        a = b
        b = t
    return np.sum(a * b)


def swap_update(a, b):
    for _i in range(3):
        a, b = b, a * b
    return np.sum(a + 2.0 * b)


def previous_state(x):
    h = x
    prev = x
    for _i in range(3):
        prev = h
        h = np.sin(h) + 0.5 * prev
    return np.sum(h * prev)


def reset_to_input(x):
    y = x * 1.0
    for _i in range(3):
        y = x
    return np.sum(y * y)


def while_swap(x):
    a = x
    b = x * 2.0
    n = 0
    while n < 3:
        a, b = b, np.sin(a)
        n = n + 1
    return np.sum(a * b)


@pytest.mark.parametrize(
    "f, wrt",
    [
        (fibonacci, 0),
        (swap_update, (0, 1)),
        (previous_state, 0),
        (reset_to_input, 0),
        (while_swap, 0),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_carried_value_copied_from_another_carried_value(f, wrt):
    args = (X3, _vec(49)) if f is swap_update else (X3,)
    assert_grad_matches_fd(f, *args, wrt=wrt)


def test_carried_value_copied_inside_the_body_is_fine():
    # the same as previous_state with `prev` local to the body: not carried
    assert_grad_matches_fd(residual_steps, X3)


def residual_steps(x):
    h = x
    for _i in range(3):
        skip = h
        h = np.sin(h) + 0.5 * skip
    return np.sum(h * h)


# An iteration's end copies every carried value at once: in `b, a = np.cos(a), b`
# the new `a` is the old `b`, which the copy `b = np.cos(a)` must not overwrite
# first (the forward once copied them one by one, in the order the loop assigns
# them, so `a` got the new `b`; `a, b = b, ...` worked by that order's luck).


def carry_reads_an_overwritten_carry(x, w):
    a = x
    b = w
    for _i in range(3):
        b, a = np.cos(a), b
    return np.sum(a * 2.0 + b * 3.0 * x)


def carry_reads_an_overwritten_carry_floats(x, y):
    b = y
    c = y
    for _i in range(2):
        c, b = (y - x) + c, c
    return c * b + b * y


def rotation_against_the_assignment_order(x, y):
    a = x
    b = y
    c = x * y
    for _i in range(4):
        c, b, a = a * x, c, b
    return np.sum(a + 2.0 * b + 3.0 * c * a)


def swap_against_the_assignment_order(x, y):
    a = x
    b = y
    for _i in range(3):
        b, a = a * 1.5, b
    return np.sum(a * b * x)


def while_carry_reads_an_overwritten_carry(x, y):
    a = x
    b = y
    n = 0
    while n < 3:
        b, a = np.sin(a) + b, b
        n = n + 1
    return np.sum(a * b)


def nested_carry_reads_an_overwritten_carry(x, y):
    a = x
    b = y
    for _i in range(2):
        for _j in range(2):
            b, a = a * y, b
        a, b = b, a + b
    return np.sum(a * 3.0 + b)


def layer_carry_reads_an_overwritten_carry(p, x, y):
    a = x
    b = x
    for i in range(2):
        W, B = p
        b, a = np.cos(W * i) + B, b
    return np.sum(b * y + x * b + a * a)


@pytest.mark.parametrize(
    "f, args, wrt",
    [
        (carry_reads_an_overwritten_carry, (X3, _vec(50)), (0, 1)),
        (carry_reads_an_overwritten_carry_floats, (0.3, -0.8), (0, 1)),
        (rotation_against_the_assignment_order, (X3, _vec(51)), (0, 1)),
        (swap_against_the_assignment_order, (X3, _vec(52)), (0, 1)),
        (while_carry_reads_an_overwritten_carry, (X3, _vec(53)), (0, 1)),
        (nested_carry_reads_an_overwritten_carry, (0.6, -0.4), (0, 1)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_carried_values_are_copied_at_once(f, args, wrt):
    assert_grad_matches_fd(f, *args, wrt=wrt)
    value, _ = ad.value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)


def test_carried_values_are_copied_at_once_reading_a_tuple_parameter():
    args = ((_vec(54), _vec(55)), _vec(56), _vec(57))
    assert_tree_grad_matches_fd(layer_carry_reads_an_overwritten_carry, *args, wrt=(0, 1, 2))


# The reverse of an iteration ends by assigning the carried adjoints for the
# iteration before it, all at once; the adjoints the body left pending (inlined
# expressions) read them first. Carried values that read each other and values
# from outside the loop (leaves, a tuple of parameters, a layer list) pin that.


def carries_reading_each_other(x, y):
    a, b = x, y
    for _i in range(4):
        a, b = b * x, a + x
    return np.sum(a * b)


def float_carries_reading_each_other(x, y):
    a = x
    b = y
    for _i in range(4):
        a, b = a * b + x, a - b * y
    return a * b


def float_sums_and_products_recomputed(x, y):
    a = x
    b = y
    for _i in range(3):
        s = a + b
        p = a * b
        a = s * p
        b = p - s * y
    return a + b


def three_carries_in_a_cycle(x, y):
    a = x
    b = y
    c = x
    for _i in range(3):
        a, b, c = b * c, c * a + y, a * b
    return a + b * 2.0 + c * 3.0


def carries_swapped_in_a_branch(x, y):
    a = x
    b = y
    for i in range(5):
        if i % 2 == 0:
            a, b = b * x, a - y
        else:
            a = a * b
    return np.sum(a + b)


def carries_in_a_while_loop_with_break(x, y):
    a = x
    b = y
    i = 0
    while i < 4:
        a, b = np.sin(b) * x, a * y
        i += 1
        if i == 3:
            break
    return np.sum(a) + np.sum(b * b)


def carries_of_nested_loops_reading_an_outer_value(x, w):
    h = x
    s = x
    for _i in range(3):
        y = h * w
        for _j in range(2):
            h, s = s * w, h + s * y
        s = s * y
    return h * s


def carried_tuple_state(x, y):
    state = (x, y)
    for _i in range(3):
        s0, s1 = state
        state = (s1 * x, s0 + s1 * y)
    return np.sum(state[0] * state[1])


@pytest.mark.parametrize(
    "f, args",
    [
        (carries_reading_each_other, (X3, _vec(60))),
        (float_carries_reading_each_other, (0.7, 0.9)),
        (float_sums_and_products_recomputed, (0.7, 0.3)),
        (three_carries_in_a_cycle, (0.7, 0.9)),
        (carries_swapped_in_a_branch, (X3, _vec(61))),
        (carries_in_a_while_loop_with_break, (X3, _vec(62))),
        (carries_of_nested_loops_reading_an_outer_value, (0.7, 0.9)),
        (carried_tuple_state, (X3, _vec(63))),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_carried_adjoints_feeding_pending_adjoints(f, args):
    assert_grad_matches_fd(f, *args, wrt=(0, 1))


def carries_reading_layers(layers, x):
    h = x
    c = x
    for i in range(len(layers)):
        W, b = layers[i]
        h, c = np.tanh(W @ h + b) + c, h * b
    return np.sum(h * c)


def carries_reading_a_tuple_parameter(params, x):
    W, b = params
    h = x
    c = x
    for _i in range(3):
        h, c = np.tanh(W @ c + b), h + b
    return np.sum(h + c)


def carries_reading_a_list_element(ws, x):
    acc = x
    out = x
    for w in ws:
        acc, out = out * w, acc + out
    return np.sum(acc * out)


@pytest.mark.parametrize(
    "f, args",
    [
        (carries_reading_layers, ([(M33 * 0.5, _vec(64)), (M33 * -0.3, _vec(65))], X3)),
        (carries_reading_a_tuple_parameter, ((M33 * 0.5, _vec(66)), X3)),
        (carries_reading_a_list_element, ([_vec(67), _vec(68), _vec(69)], X3)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_carried_adjoints_feeding_container_element_adjoints(f, args):
    assert_tree_grad_matches_fd(f, *args, wrt=(0, 1))


def test_carried_values_copied_in_order_stay_one_copy_each():
    # a copy reading a value already overwritten makes them one tuple assignment;
    # copies in an order that reads before it writes stay plain
    g = ad.grad(carry_reads_an_overwritten_carry, wrt=(0, 1))
    g(X3, X3)
    assert "        b, a = b_1, b\n" in g.source
    g = ad.grad(swap_update, wrt=(0, 1))
    g(X3, X3)
    assert "        a_1 = b_1\n        b_1 = b_2\n" in g.source


# A for loop's target keeps, after the loop, the last value it took.


def index_reused_after_loop(x):
    i = 10
    for i in range(3):  # noqa: B007 (read after the loop)
        x = x * 2.0
    return np.sum(x) * i


def target_shadows_parameter(xs, x):
    for x in xs:
        x = x * 1.0
    return np.sum(x * x)


def enumerate_index_reused(xs, x):
    k = 5
    for k, a in enumerate(xs):  # noqa: B007 (read after the loop)
        x = x + a
    return np.sum(x) * k


@pytest.mark.parametrize(
    "f, args",
    [
        (index_reused_after_loop, (X3,)),
        (target_shadows_parameter, ([_vec(140), _vec(141)], X3)),
        (enumerate_index_reused, ([_vec(142), _vec(143)], X3)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_loop_target_keeps_its_last_value_after_the_loop(f, args):
    try:
        value, _ = ad.value_and_grad(f)(*args)
    except AdCompileError as exc:  # refusing it, with a location, would be fine too
        assert exc.loc is not None and "internal error" not in str(exc)
        return
    assert value == pytest.approx(f(*args), rel=1e-12)
    assert_tree_grad_matches_fd(f, *args, wrt=tuple(range(len(args))))


# ======================================================= building lists


def build_and_stack(xs):
    out = []
    for a in xs:
        out.append(np.tanh(a))
    return np.sum(np.stack(out) ** 2)


def build_and_concatenate(xs):
    out = []
    for a in xs:
        out.append(a * a)
    return np.sum(np.concatenate(out) ** 2)


def build_and_concatenate_axis1(xs):
    cols = []
    for a in xs:
        cols.append(a * a)
    return np.sum(np.concatenate(cols, axis=1) ** 2)


def build_and_sum(xs):
    out = []
    for a in xs:
        out.append(np.sin(a))
    return np.sum(sum(out) ** 2)


@pytest.mark.parametrize(
    "f", [build_and_stack, build_and_concatenate, build_and_sum], ids=lambda f: f.__name__
)
def test_list_built_with_append_then_combined(f):
    assert_tree_grad_matches_fd(f, [_vec(50), _vec(51), _vec(52)])


def test_list_built_with_append_then_concatenated_along_columns():
    xs = [RNG.normal(size=(3, 2)), RNG.normal(size=(3, 1))]
    assert_tree_grad_matches_fd(build_and_concatenate_axis1, xs)


def states_stacked(x):
    hs = [x]
    h = x
    for _i in range(3):
        h = np.tanh(h * 2.0)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def test_list_starting_with_a_value_and_appended_in_a_loop():
    assert_grad_matches_fd(states_stacked, X3)


def build_then_iterate(x):
    ys = []
    for i in range(3):
        ys.append(x * i)
    acc = 0.0
    for y in ys:
        acc = acc + np.sum(y * y)
    return acc


def build_then_walk_backwards(x):
    hs = []
    for i in range(3):
        hs.append(x * (i + 1.0))
    acc = 0.0
    for i in range(len(hs) - 1, -1, -1):
        acc = acc * 0.5 + np.sum(hs[i] ** 2)
    return acc


def test_list_built_in_one_loop_read_in_another():
    assert_grad_matches_fd(build_then_iterate, X3)
    assert_grad_matches_fd(build_then_walk_backwards, X3)


def sum_with_broadcasting(x, s):
    parts = []
    parts.append(x)
    parts.append(s)
    return np.sum(sum(parts) ** 2)


@pytest.mark.parametrize("s", [np.array([0.5]), np.array(0.5)], ids=["(1,)", "0-d"])
def test_sum_of_a_list_unbroadcasts_each_element(s):
    assert_grad_matches_fd(sum_with_broadcasting, M43, s, wrt=(0, 1))


def sum_of_param_list(xs):
    return np.sum(sum(xs) ** 2)


def test_sum_of_a_list_parameter_with_different_shapes():
    xs = [M43, X3, np.array([[2.0]])]
    g = assert_tree_grad_matches_fd(sum_of_param_list, xs)
    assert [np.shape(gi) for gi in g] == [(4, 3), (3,), (1, 1)]


def append_to_parameter(xs, x):
    xs.append(x * 2.0)
    return np.sum(np.stack(xs) ** 2)


def test_append_to_a_parameter_list_is_refused():
    """Python's function grows the caller's list; the gradient would not: refused."""
    xs = [_vec(53), _vec(54)]
    with pytest.raises(AdCompileError) as info:
        ad.grad(append_to_parameter, wrt=(0, 1))(xs, _vec(55))
    assert "list passed as the argument 'xs'" in info.value.reason
    assert info.value.line.strip() == "xs.append(x * 2.0)"
    assert len(xs) == 2


# ================================================ len() and indexing


def len_and_constant_indices(xs):
    n = len(xs)
    return np.sum(xs[0] * xs[1]) / n + np.sum(xs[-1]) + np.sum(xs[n - 1] ** 2)


@pytest.mark.parametrize("kind", [list, tuple])
def test_len_and_constant_indices(kind):
    xs = kind([_vec(56), _vec(57), _vec(58)])
    g = assert_tree_grad_matches_fd(len_and_constant_indices, xs)
    assert type(g) is kind


def index_with_loop_variable(xs):
    acc = 0.0
    for i in range(len(xs) - 1):
        acc = acc + np.sum(xs[i] * xs[i + 1])
    return acc


def test_indexing_a_list_with_a_loop_variable():
    xs = [_vec(59), _vec(60), _vec(61), _vec(62)]
    g = assert_tree_grad_matches_fd(index_with_loop_variable, xs)
    np.testing.assert_allclose(g[0], xs[1])
    np.testing.assert_allclose(g[3], xs[2])


def branch_on_len(xs):
    if len(xs) > 2:
        y = xs[0] * xs[2]
    else:
        y = xs[0]
    return np.sum(y)


@pytest.mark.parametrize("n", [2, 3])
def test_branch_on_the_length_of_a_list(n):
    assert_tree_grad_matches_fd(branch_on_len, [_vec(63 + k) for k in range(n)])


def unpack_tuple_param(t):
    W, b, s = t
    return np.sum(np.tanh(W @ b) * s)


def test_unpacking_a_tuple_parameter_with_a_float_in_it():
    t = (RNG.normal(size=(2, 3)), _vec(66), 0.5)
    g = assert_tree_grad_matches_fd(unpack_tuple_param, t)
    assert type(g) is tuple and type(g[2]) is float


# ===================================================== dicts of params


def dict_params(p, x):
    h = np.tanh(p["W"] @ x + p["b"])
    return np.sum(h * p["v"]) * p["scale"]


def test_dict_of_parameters_gives_a_dict_with_the_same_keys():
    p = {"W": RNG.normal(size=(4, 3)), "b": _vec(67, 4), "v": _vec(68, 4), "scale": 1.5}
    g = assert_tree_grad_matches_fd(dict_params, p, X3, wrt=(0, 1))
    assert type(g[0]) is dict and list(g[0]) == ["W", "b", "v", "scale"]
    assert type(g[0]["scale"]) is float


def dict_partly_used(p, xs):
    return np.sum(xs[0] * p["a"])


def test_unused_entries_get_zero_gradients():
    p = {"a": _vec(69), "unused": _vec(70)}
    xs = [_vec(71), _vec(72)]
    g = assert_tree_grad_matches_fd(dict_partly_used, p, xs, wrt=(0, 1))
    np.testing.assert_array_equal(g[0]["unused"], np.zeros(3))
    np.testing.assert_array_equal(g[1][1], np.zeros(3))
    assert isinstance(g[0]["unused"], np.ndarray) and isinstance(g[1][1], np.ndarray)


def dict_nested(p, x):
    h = x
    for W, b in p["layers"]:
        h = np.tanh(W @ h + b)
    return np.sum(p["out"] @ h)


def test_dict_holding_a_list_of_layers():
    layers = [(RNG.normal(size=(3, 3)), _vec(73)), (RNG.normal(size=(2, 3)), _vec(74, 2))]
    p = {"layers": layers, "out": RNG.normal(size=(1, 2))}
    g = assert_tree_grad_matches_fd(dict_nested, p, X3)
    assert list(g) == ["layers", "out"] and type(g["layers"]) is list


def dict_key_loop(p, x):
    acc = 0.0
    for k in ["a", "b"]:
        acc = acc + np.sum(p[k] * x)
    return acc


def test_dict_indexed_by_a_loop_variable_over_its_keys():
    assert_tree_grad_matches_fd(dict_key_loop, {"a": _vec(75), "b": _vec(76)}, X3, wrt=(0, 1))


# ============================================ non-differentiable values


def argmax_pick(X, w):
    k = np.argmax(X @ w)
    return np.sum(X[k] * w)


def test_argmax_index_flows_through_without_an_adjoint():
    g = assert_grad_matches_fd(argmax_pick, M43, X3, wrt=(0, 1))
    k = np.argmax(M43 @ X3)
    expected = np.zeros_like(M43)
    expected[k] = X3
    np.testing.assert_allclose(g[0], expected)


def argmax_in_loop(X):
    acc = 0.0
    for row in X:
        k = np.argmax(row)
        acc = acc + row[k] * 2.0
    return acc


def test_argmax_inside_a_loop():
    g = assert_grad_matches_fd(argmax_in_loop, M43)
    assert np.count_nonzero(g) == M43.shape[0]


def masks_and_shapes(x):
    n = x.shape[0]
    m = x > 0
    return np.sum(x * m) * n + np.sum(np.where(x < 0, x * x, 0.0))


def test_comparisons_and_shapes_flow_through():
    assert_grad_matches_fd(masks_and_shapes, X3)


def shape_indexed(X):
    n = X.shape[0]
    m = X.shape[1]
    return np.sum(X.reshape(m, n) @ X)


def shape_unpacked(X):
    n, m = X.shape
    return np.sum(X.reshape(m, n) @ X)


def test_shape_entries_used_as_sizes():
    assert_grad_matches_fd(shape_indexed, M43[:, :2].copy())


def test_unpacking_a_shape():
    assert_grad_matches_fd(shape_unpacked, M43[:, :2].copy())


def integer_index_array(x, idx):
    acc = 0.0
    for row in idx:
        acc = acc + np.sum(x[row] ** 2)
    return acc


def test_integer_array_argument_used_for_indexing_in_a_loop():
    idx = np.array([[0, 1], [2, 2], [1, 0]])
    assert_grad_matches_fd(integer_index_array, X3, idx)


def test_gradient_with_respect_to_an_integer_list_entry_is_an_error():
    with pytest.raises(AdCompileError, match=r"xs\[1\].*integer"):
        ad.grad(over_list)([_vec(77), 3], X3)


# =================================================== limits of the language


def loop_variable_after_loop(x):
    for i in range(3):  # noqa: B007 (i is read after the loop)
        x = x * 2.0
    return np.sum(x) * i


def defined_only_in_loop(xs):
    for a in xs:
        last = a * 2.0
    return np.sum(last)


def dict_iteration(p):
    acc = 0.0
    for k in p:
        acc = acc + np.sum(p[k] ** 2)
    return acc


def enumerate_zip(xs, ws):
    acc = 0.0
    for i, (a, w) in enumerate(zip(xs, ws)):
        acc = acc + np.sum(a * w) * i
    return acc


def return_in_loop(x):
    for _i in range(3):
        if np.sum(x) > 5.0:
            return np.sum(x)
        x = x * 2.0
    return np.sum(x)


@pytest.mark.parametrize(
    "f, args",
    [
        (loop_variable_after_loop, (X3,)),
        (defined_only_in_loop, ([_vec(78), _vec(79)],)),
        (dict_iteration, ({"a": _vec(80), "b": _vec(81)},)),
        (enumerate_zip, ([_vec(82), _vec(83)], [_vec(84), _vec(85)])),
        (return_in_loop, (X3,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_constructs_are_either_differentiated_right_or_refused_with_a_location(f, args):
    try:
        dtree = ad.grad(f)(*args)
    except AdCompileError as exc:
        assert exc.loc is not None and exc.loc.lineno > 0, str(exc)
        assert "internal error" not in str(exc)
        return
    assert dtree is not None
    assert_tree_grad_matches_fd(f, *args)


# ======================================= the stack: what a loop saves


class RecordingStack(list):
    """A list that remembers what was pushed, how many items were read back (popped,
    indexed or walked by ``reversed``), and its peak size."""

    def __init__(self) -> None:
        super().__init__()
        self.pushed: list = []
        self.pops = 0
        self.peak = 0

    def append(self, item) -> None:
        self.pushed.append(item)
        super().append(item)
        self.peak = max(self.peak, len(self))

    def pop(self, *args):
        self.pops += 1
        return super().pop(*args)

    def __getitem__(self, index):
        if isinstance(index, int):
            self.pops += 1
        return super().__getitem__(index)

    def __reversed__(self):
        for item in super().__reversed__():
            self.pops += 1
            yield item


class Recorded:
    """Every list the generated code saved values on (the shared stack, each loop's
    own list), taken together."""

    def __init__(self, made: list[RecordingStack]) -> None:
        self.made = made

    @property
    def pushed(self) -> list:
        return [item for stack in self.made for item in stack.pushed]

    @property
    def pops(self) -> int:
        return sum(stack.pops for stack in self.made)

    @property
    def peak(self) -> int:
        return max((stack.peak for stack in self.made), default=0)


def _stack_name(fn_node: ast.FunctionDef) -> str | None:
    names = _list_names(fn_node)
    return names[0] if names else None


def _list_names(fn_node: ast.FunctionDef) -> list[str]:
    """The names that generated code binds to a new empty list (where it saves values)."""
    return [
        stmt.targets[0].id
        for stmt in ast.walk(fn_node)
        if isinstance(stmt, ast.Assign)
        and isinstance(stmt.value, ast.List)
        and not stmt.value.elts
        and isinstance(stmt.targets[0], ast.Name)
    ]


def recorded_run(dfun: ad.GradientFunction, *args):
    """Call the generated code of ``dfun`` with a :class:`RecordingStack` for every list
    it saves values on.

    Returns (the generated function's result, a :class:`Recorded` of those lists, or
    None if the code has none)."""
    dfun(*args)  # compile for this argument structure
    tree = ast.parse(dfun.source)
    fn_node = tree.body[0]
    made: list[RecordingStack] = []

    def make() -> RecordingStack:
        made.append(RecordingStack())
        return made[-1]

    names = set(_list_names(fn_node))
    for stmt in ast.walk(fn_node):
        if isinstance(stmt, ast.Assign) and getattr(stmt.targets[0], "id", None) in names:
            stmt.value = ast.Call(
                func=ast.Name(id="__recording_stack__", ctx=ast.Load()), args=[], keywords=[]
            )
    namespace = dict(dfun._gen.namespace, __recording_stack__=make)
    exec(compile(ast.fix_missing_locations(tree), "<recorded>", "exec"), namespace)
    result = namespace[fn_node.name](*args)
    return result, (Recorded(made) if names else None)


def rnn_step_loss(W, xs, h0):
    h = h0
    for x in xs:
        h = np.tanh(W @ h + x)
    return np.sum(h)


@pytest.mark.parametrize("steps", [0, 1, 7])
def test_a_loop_pushes_one_tuple_per_iteration_and_pops_them_all(steps):
    W = RNG.normal(size=(3, 3)) * 0.5
    xs = [_vec(86 + t) for t in range(steps)]
    h0 = _vec(99)
    result, stack = recorded_run(ad.grad(rnn_step_loss, wrt=(0, 2)), W, xs, h0)
    assert stack is not None
    assert len(stack.pushed) == steps and stack.pops == steps
    assert stack.peak == steps
    for item in stack.pushed:
        assert isinstance(item, tuple)
    # the same gradient as the compiled function
    for got, want in zip(result, ad.grad(rnn_step_loss, wrt=(0, 2))(W, xs, h0), strict=True):
        np.testing.assert_allclose(got, want)


def test_the_stack_holds_references_not_copies_and_not_loop_invariants():
    W = RNG.normal(size=(3, 3)) * 0.5
    xs = [_vec(100 + t) for t in range(4)]
    h0 = _vec(110)
    _, stack = recorded_run(ad.grad(rnn_step_loss, wrt=(0, 2)), W, xs, h0)
    for t, item in enumerate(stack.pushed):
        # the loop-invariant W is read from its variable, never saved per iteration
        assert not any(v is W for v in item)
        # the state entering the first step is the caller's own h0, by reference
        if t == 0:
            assert any(v is h0 for v in item)


def test_the_stack_grows_linearly_in_nested_loops_and_ends_empty():
    _, stack = recorded_run(ad.grad(nested_carried), X3)
    # outer steps i = 0..3 run the inner loop i times; each saved item is read back once
    assert stack.pops == len(stack.pushed)
    assert len(stack.pushed) <= 4 + (0 + 1 + 2 + 3)


def test_a_while_loop_pushes_once_per_iteration():
    _, stack = recorded_run(ad.grad(while_counted), X3)
    assert len(stack.pushed) == 3 and stack.pops == 3


def test_straight_line_code_has_no_stack():
    source = ad.grad(branch_both_assign).source
    assert _stack_name(ast.parse(source).body[0]) is None
    assert ".append(" not in source and ".pop()" not in source


def accumulate_invariant(w, n):
    acc = 0.0
    for _i in range(n):
        acc = acc + np.sum(w * w)
    return acc


def test_a_loop_whose_reverse_needs_nothing_per_iteration_is_differentiated():
    assert_grad_matches_fd(accumulate_invariant, X3, 5)


def test_a_loop_whose_reverse_needs_nothing_per_iteration_saves_nothing():
    _, stack = recorded_run(ad.grad(accumulate_invariant), X3, 5)
    assert stack is None or not stack.pushed


def test_an_rnn_step_saves_the_states_it_needs():
    W = RNG.normal(size=(3, 3)) * 0.5
    xs = [_vec(120 + t) for t in range(5)]
    h0 = _vec(130)
    _, stack = recorded_run(ad.grad(rnn_step_loss, wrt=(0, 2)), W, xs, h0)
    saved = {id(v) for item in stack.pushed for v in item if isinstance(v, np.ndarray)}
    # the reverse of tanh(W @ h + x) needs h entering each step and tanh's output
    states = [h0]
    for x in xs:
        states.append(np.tanh(W @ states[-1] + x))
    arrays = [v for item in stack.pushed for v in item if isinstance(v, np.ndarray)]
    for want in states:
        assert any(v.shape == want.shape and np.array_equal(v, want) for v in arrays)
    assert len(saved) >= len(states)


def test_an_rnn_step_saves_nothing_but_the_states():
    W = RNG.normal(size=(3, 3)) * 0.5
    xs = [_vec(120 + t) for t in range(5)]
    h0 = _vec(130)
    _, stack = recorded_run(ad.grad(rnn_step_loss, wrt=(0, 2)), W, xs, h0)
    saved = {id(v) for item in stack.pushed for v in item if isinstance(v, np.ndarray)}
    # h0 and one new state per step; W @ h is only read for its shape
    assert len(saved) <= len(xs) + 1


def _loops(node: ast.AST) -> list[ast.For | ast.While]:
    return [n for n in ast.walk(node) if isinstance(n, ast.For | ast.While)]


def _calls_method(node: ast.AST, obj: str, method: str) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == method
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == obj
        for n in ast.walk(node)
    )


def test_generated_loops_save_on_their_own_list_and_walk_it_backwards():
    source = ad.grad(rnn_step_loss, wrt=(0, 2)).source
    fn_node = ast.parse(source).body[0]
    saved = _stack_name(fn_node)
    loops = [s for s in fn_node.body if isinstance(s, ast.For | ast.While)]
    assert len(loops) == 2  # the forward loop, then the reverse loop
    forward, reverse = loops
    assert _calls_method(forward, saved, "append")
    assert not _calls_method(reverse, saved, "append")
    # the reverse loop walks the list backwards: no pops, no counter of iterations
    assert ast.unparse(reverse.iter) == f"reversed({saved})"
    assert ".pop()" not in source and "iterations" not in source
    assert not any(isinstance(n, ast.AugAssign) for n in ast.walk(forward))


# ============================================= inputs, repeats, structures


def mutation_probe(p, xs, t, x):
    h = x
    for W, b in xs:
        h = np.tanh(W @ h + b)
    return np.sum(h * p["v"]) + np.sum(t[0] * h) * p["s"]


def _probe_args():
    rng = np.random.default_rng(111)
    p = {"v": rng.normal(size=3), "s": 0.5}
    xs = [(rng.normal(size=(3, 3)), rng.normal(size=3)) for _ in range(3)]
    t = (rng.normal(size=3), rng.normal(size=2))
    return p, xs, t, rng.normal(size=3)


def _snapshot(tree):
    if isinstance(tree, dict):
        return ("dict", id(tree), [(k, _snapshot(v)) for k, v in tree.items()])
    if isinstance(tree, list | tuple):
        return (type(tree).__name__, id(tree), [_snapshot(v) for v in tree])
    if isinstance(tree, np.ndarray):
        return ("array", id(tree), tree.copy())
    return ("scalar", tree)


def _same_snapshot(a, b):
    assert a[0] == b[0]
    if a[0] == "scalar":
        assert a[1] == b[1]
    elif a[0] == "array":
        assert a[1] == b[1]
        np.testing.assert_array_equal(a[2], b[2])
    elif a[0] == "dict":
        assert a[1] == b[1] and [k for k, _ in a[2]] == [k for k, _ in b[2]]
        for (_, x), (_, y) in zip(a[2], b[2], strict=True):
            _same_snapshot(x, y)
    else:
        assert a[1] == b[1] and len(a[2]) == len(b[2])
        for x, y in zip(a[2], b[2], strict=True):
            _same_snapshot(x, y)


def test_the_gradient_does_not_mutate_its_inputs():
    args = _probe_args()
    before = [_snapshot(a) for a in args]
    dfun = ad.value_and_grad(mutation_probe, wrt=(0, 1, 2, 3))
    dfun(*args)
    dfun(*args)
    for a, b in zip(before, [_snapshot(a) for a in args], strict=True):
        _same_snapshot(a, b)


def test_gradients_have_the_structure_of_their_arguments():
    args = _probe_args()
    g = assert_tree_grad_matches_fd(mutation_probe, *args, wrt=(0, 1, 2))
    dp, dxs, dt = g
    assert type(dp) is dict and list(dp) == ["v", "s"] and type(dp["s"]) is float
    assert type(dxs) is list and len(dxs) == 3 and all(type(L) is tuple for L in dxs)
    assert type(dt) is tuple and len(dt) == 2
    # t[1] is not used: a zero leaf of its shape
    np.testing.assert_array_equal(dt[1], np.zeros(2))


def test_calling_twice_gives_the_same_result():
    args = _probe_args()
    dfun = ad.grad(mutation_probe, wrt=(0, 1, 2, 3))
    first = leaves(dfun(*args))
    second = leaves(dfun(*args))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    for f, fargs in [(while_data, (X3,)), (loop_break, (X3,)), (nested_carried, (X3,))]:
        d = ad.grad(f)
        np.testing.assert_array_equal(d(*fargs), d(*fargs))


def test_value_and_grad_through_loops_and_containers():
    args = _probe_args()
    value, g = ad.value_and_grad(mutation_probe, wrt=1)(*args)
    assert value == pytest.approx(mutation_probe(*args), rel=1e-14)
    for a, b in zip(leaves(g), leaves(ad.grad(mutation_probe, wrt=1)(*args)), strict=True):
        np.testing.assert_array_equal(a, b)


def shared_sum(xs):
    return np.sum((xs[0] + xs[1]) ** 2)


def test_leaves_of_a_container_gradient_do_not_share_memory():
    g = ad.grad(shared_sum)([_vec(112), _vec(113)])
    assert not np.shares_memory(g[0], g[1])


def container_identity(xs):
    return xs[0] + xs[1]


def test_container_vjp_does_not_return_the_callers_cotangent():
    cot = np.ones(3)
    g = ad.vjp(container_identity)([_vec(114), _vec(115)], cot)
    assert not any(np.shares_memory(leaf, cot) for leaf in g)
