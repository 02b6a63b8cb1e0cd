"""checkpoint=N: binomial checkpointing (revolve). The schedule reverses every
iteration, holds at most N snapshots, and runs the fewest iterations again that any
schedule with N snapshots can (checked against a brute-force search); the generated
code follows it (iterations counted through a rule), its gradient is the plain one,
and its memory is N snapshots plus one iteration's values."""

from __future__ import annotations

import tracemalloc
from functools import cache

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile.rules import registry
from adcompile.runtime import keep_spaced, revolve, revolve_cost, revolve_snapshots


@cache
def fewest_runs(length: int, snapshots: int) -> int:
    """By exhaustive search: the fewest iterations run (other than each reversed one's
    own run) to reverse ``length`` iterations from a snapshot at the first, holding at
    most ``snapshots``: run m, keep a snapshot, reverse the rest with one fewer, then
    the first m with all of them; with one, run from the first every time."""
    if length <= 1:
        return 0
    if snapshots == 1:
        return length * (length - 1) // 2
    return min(
        m + fewest_runs(length - m, snapshots - 1) + fewest_runs(m, snapshots)
        for m in range(1, length)
    )


def _run_schedule(snapshots: dict, iterations: int, limit: int) -> tuple[int, int, list]:
    """Follow ``revolve`` as the generated code does: the iterations it runs, the most
    snapshots held at once (the forward's last-iteration one aside) and the order in
    which it reverses them."""
    runs, most, order = 0, len(snapshots), []
    last = iterations - 1 if iterations - 1 in snapshots else None
    most = len([i for i in snapshots if i != last])
    for start, step, keep in revolve(snapshots, iterations, limit):
        assert start in snapshots
        for i in range(start, step):
            if i in keep:
                snapshots[i] = i
            runs += 1
        most = max(most, len([i for i in snapshots if i != last]))
        runs += 1  # the reversed iteration's own run
        order.append(step)
    return runs, most, order


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
def test_for_loop_schedule_is_revolves_optimum(n):
    for T in range(1, 70):
        snapshots = {i: i for i in revolve_snapshots(T, n)}
        runs, most, order = _run_schedule(snapshots, T, n)
        assert order == list(range(T - 1, -1, -1))
        assert most <= n
        # the forward ran all T; revolve's first sweep runs T - 1 of its optimum
        assert runs == T + fewest_runs(T, n) - (T - 1)
        assert revolve_cost(T, n) == fewest_runs(T, n)


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_while_loop_schedule_reverses_everything_within_the_budget(n):
    for T in range(0, 90, 7):
        snapshots: dict = {}
        stride = 1
        for i in range(T):
            if i % stride == 0:
                stride = keep_spaced(snapshots, i, i, stride, n)
        assert len(snapshots) <= n
        assert sorted(snapshots) == list(range(0, T, stride))
        runs, most, order = _run_schedule(snapshots, T, n)
        assert order == list(range(T - 1, -1, -1)) and most <= n


# ------------------------------------------------- the generated code follows it

RUNS = [0]


def counted_step(h, W, x):
    RUNS[0] += 1
    return np.tanh(h @ W + x)


def counted_rnn(W, xs):
    h = xs[0] * 0.0
    for t in range(xs.shape[0]):
        h = counted_step(h, W, xs[t])
    return np.sum(h * h)


def plain_rnn(W, xs):
    h = xs[0] * 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
    return np.sum(h * h)


@pytest.fixture
def counted():
    saved = registry.snapshot()

    @ad.adjoint(counted_step)
    def _(dy, y, h, W, x):
        dz = dy * (1 - y * y)
        return dz @ W.T, h.T @ dz, dz

    yield
    registry.restore(saved)


def _data(T, batch=3, hidden=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(hidden, hidden)) * 0.5, rng.normal(size=(T, batch, hidden))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_generated_code_runs_revolves_optimum(counted, n):
    g = ad.grad(counted_rnn, wrt=(0, 1), checkpoint=n)
    plain = ad.grad(plain_rnn, wrt=(0, 1))
    for T in (1, 2, 3, 7, 16, 31):
        W, xs = _data(T)
        RUNS[0] = 0
        dW, dxs = g(W, xs)
        # the forward's T, each reversed iteration's own run, and revolve's recomputation
        assert RUNS[0] == T + T + fewest_runs(T, n) - (T - 1)
        pW, pxs = plain(W, xs)
        np.testing.assert_allclose(dW, pW, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dxs, pxs, rtol=1e-9, atol=1e-12)


def test_the_schedule_is_readable_in_the_generated_code():
    src = ad.grad(plain_rnn, checkpoint=8).source
    assert "positions = revolve_snapshots(len(range(n)), 8)" in src
    assert "for start, step, keep in revolve(snapshots, i, 8):" in src
    assert "for i, t in enumerate(range(n)[start:step], start):" in src
    assert "if i in keep:" in src


# -------------------------------------------------------------------- memory


def _peak(fn, *args) -> int:
    fn(*args)  # compile outside the measurement
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("n", [2, 8])
def test_memory_is_n_snapshots_and_one_iteration(n):
    batch, hidden = 64, 64
    plain = ad.grad(plain_rnn, wrt=0)
    binomial = ad.grad(plain_rnn, wrt=0, checkpoint=n)
    one, many = (_peak(plain, *_data(T, batch, hidden)) for T in (1, 21))
    per_iteration = (many - one) / 20  # what the plain reverse keeps of one iteration
    state = batch * hidden * 8  # one snapshot: h
    W, xs = _data(300, batch, hidden)
    np.testing.assert_allclose(binomial(W, xs), plain(W, xs), rtol=1e-9)
    peak = _peak(binomial, W, xs)
    # n snapshots, the last iteration's (reversed first), the state being run forward
    # again, and the values of the one iteration being reversed
    assert peak <= one + (n + 2) * state + per_iteration
    assert peak * 10 < _peak(plain, W, xs)


# ------------------------------------------------------ loops of every kind


def nested(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        for j in range(3):
            h = np.sin(h @ W) + xs[t] * j
    return np.sum(h)


def inner_in_helper(W, h, x):
    for _j in range(4):
        h = np.tanh(h @ W + x)
    return h


def outer_calls_helper(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        h = inner_in_helper(W, h, xs[t])
    return np.sum(h * h)


def while_with_break(W, x):
    h = x
    i = 0
    while i < 30:
        h = np.sin(h @ W) + x
        if np.sum(h) > 8.0:  # after 5 iterations, with _data's W and x
            break
        i = i + 1
    return np.sum(h * h)


def nested_container_state(W, xs):
    s = (xs[0], [xs[1], xs[2]])
    for t in range(xs.shape[0]):
        h, cs = s
        s = (np.tanh(h @ W + cs[0]), [cs[1] * 0.5 + xs[t], np.sin(cs[0]) * h])
    return np.sum(s[0]) + np.sum(s[1][0] ** 2) + np.sum(s[1][1])


LOOPS = [nested, outer_calls_helper, while_with_break, nested_container_state]


@pytest.mark.parametrize("f", LOOPS)
@pytest.mark.parametrize("n", [1, 2, 5])
def test_gradient_is_the_plain_one(f, n):
    W, xs = _data(11)
    args = (W, xs[:, 0]) if f is while_with_break else (W, xs)
    g0 = assert_grad_matches_fd(f, *args, wrt=(0, 1))
    g = ad.grad(f, wrt=(0, 1), checkpoint=n)(*args)
    for a, b in zip(g, g0, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_loop_inside_a_called_function_gets_its_own_schedule():
    src = ad.grad(outer_calls_helper, checkpoint=3).source
    assert src.count("revolve(snapshots") == 2  # the outer loop's, and fwd/bwd's


def test_memory_report_counts_the_snapshots_and_one_iteration():
    W, xs = _data(100, batch=2, hidden=4)
    report = ad.grad(plain_rnn, wrt=0, checkpoint=8).memory_report(W, xs)
    rows = [r for r in report.rows if "(in snapshots)" in r.name]
    assert [r.iterations for r in rows] == [9]  # 8, and the last iteration's state
    assert report.segments and report.segments[0][1] == 1
    assert "one iteration's values at a time" in str(report)
    plain = ad.grad(plain_rnn, wrt=0).memory_report(W, xs)
    assert report.total_bytes * 5 < plain.total_bytes
