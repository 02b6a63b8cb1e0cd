"""Checkpointed loops: grad(f, checkpoint="sqrt" | N) gives the gradient without
checkpointing, keeps fewer values, and shows its schedule in the generated code."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile.runtime import checkpoint_stride, keep_snapshot

SCHEDULES = ["sqrt", 1, 2, 3, 7, 1000]


def rnn(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
    return np.sum(h * h)


def nested(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        for j in range(3):
            h = np.sin(h @ W) + xs[t] * j
    return np.sum(h)


def with_break(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
        if np.sum(h) > 0.5:
            break
    return np.sum(h * h)


def with_branch_and_index(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        if t % 2 == 0:
            h = np.tanh(h @ W)
        else:
            h = np.cos(h) * xs[t]
    return np.sum(h)


def step(W, h, x):
    for _j in range(2):
        h = np.tanh(h @ W + x)
    return h


def calls_helper(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        h = step(W, h, xs[t])
    return np.sum(h)


def loop_in_helper(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        h = np.sin(h @ W) * xs[t]
    return h


def outer(W, xs):
    return np.sum(loop_in_helper(W, xs) ** 2)


def container_state(W, xs):
    state = (xs[0], xs[1])
    for t in range(xs.shape[0]):
        a, b = state
        state = (np.tanh(a @ W + b), a * xs[t])
    return np.sum(state[0]) + np.sum(state[1] ** 2)


def list_state(W, xs):
    hs = [xs[0], xs[1]]
    for t in range(xs.shape[0]):
        hs = [np.tanh(hs[0] @ W), hs[0] + hs[1] * xs[t]]
    return np.sum(hs[0] * hs[1])


def scalar_loop(a, n):
    x = a
    for _i in range(n):
        x = np.sin(x) * a + 0.1
    return x


def _data(seed=0, T=9, batch=3, hidden=5):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(hidden, hidden)) * 0.4
    xs = rng.normal(size=(T, batch, hidden)) * 0.5
    return W, xs


CASES = {
    "nested": nested,
    "break": with_break,
    "branch": with_branch_and_index,
    "helper call in loop": calls_helper,
    "loop in helper": outer,
    "tuple state": container_state,
    "list state": list_state,
}


def _assert_same(g, g0):
    g, g0 = (g, g0) if isinstance(g, tuple) else ((g,), (g0,))
    for a, b in zip(g, g0, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_rnn_gradient_is_the_one_without_checkpointing(schedule):
    rng = np.random.default_rng(1)
    W = rng.normal(size=(6, 6)) * 0.3
    U = rng.normal(size=(4, 6))
    xs = rng.normal(size=(17, 3, 4))
    h0 = rng.normal(size=(3, 6))
    g0 = assert_grad_matches_fd(rnn, W, U, xs, h0, wrt=(0, 1, 3))
    g = ad.grad(rnn, wrt=(0, 1, 3), checkpoint=schedule)(W, U, xs, h0)
    _assert_same(g, g0)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_loops_gradient_is_the_one_without_checkpointing(case, schedule):
    f = CASES[case]
    W, xs = _data()
    g0 = assert_grad_matches_fd(f, W, xs, wrt=(0, 1))
    g = ad.grad(f, wrt=(0, 1), checkpoint=schedule)(W, xs)
    _assert_same(g, g0)


@pytest.mark.parametrize("T", [0, 1, 2, 5, 16])
def test_trip_counts_from_none_to_many(T):
    g0 = ad.grad(scalar_loop)(0.7, T)
    for schedule in SCHEDULES:
        assert ad.grad(scalar_loop, checkpoint=schedule)(0.7, T) == pytest.approx(g0, rel=1e-12)


def test_break_in_the_first_segment_and_later():
    W, xs = _data(T=12)
    for shift in (-3.0, 0.0, 0.3, 5.0):  # breaks at different iterations, or never
        xs2 = xs + shift / 10
        g0 = ad.grad(with_break, wrt=(0, 1))(W, xs2)
        for schedule in SCHEDULES:
            _assert_same(ad.grad(with_break, wrt=(0, 1), checkpoint=schedule)(W, xs2), g0)


def test_value_and_grad_and_vjp():
    W, xs = _data()
    v0, g0 = ad.value_and_grad(nested, wrt=(0, 1))(W, xs)
    v, g = ad.value_and_grad(nested, wrt=(0, 1), checkpoint="sqrt")(W, xs)
    assert v == pytest.approx(nested(W, xs), rel=1e-12)
    assert v == v0
    _assert_same(g, g0)
    ct = np.random.default_rng(3).normal(size=xs.shape[1:])
    _assert_same(
        ad.vjp(loop_in_helper, wrt=(0, 1), checkpoint=4)(W, xs, ct),
        ad.vjp(loop_in_helper, wrt=(0, 1))(W, xs, ct),
    )


def test_decorator_form():
    @ad.grad(wrt=0, checkpoint="sqrt")
    def f(a, n):
        return scalar_loop(a, n)

    assert f(0.3, 10) == pytest.approx(ad.grad(scalar_loop)(0.3, 10), rel=1e-12)


def test_generated_code_shows_the_schedule():
    src = ad.grad(rnn, checkpoint="sqrt").source
    assert "checkpointed (sqrt: about √T snapshots" in src
    assert "checkpoint_stride(" in src
    assert "for snapshot in reversed(snapshots):" in src
    assert "[start:start + stride]" in src
    assert "checkpoint_stride(" not in ad.grad(rnn).source
    assert "at most 8 snapshots" in ad.grad(rnn, checkpoint=8).source


def test_export_runs_without_adcompile(tmp_path):
    W, xs = _data()
    gf = ad.grad(nested, wrt=(0, 1), checkpoint=3)
    g0 = gf(W, xs)
    namespace: dict = {}
    exec(compile(gf.export(), "exported.py", "exec"), namespace)
    fn = next(v for k, v in namespace.items() if k.startswith("grad_nested"))
    _assert_same(fn(W, xs), g0)


@pytest.mark.parametrize("T", range(0, 60))
def test_stride_bounds_the_snapshots(T):
    for n in (1, 2, 3, 7, 8, 64):
        stride = checkpoint_stride(T, n)
        assert len(range(0, T, stride)) <= n
    stride = checkpoint_stride(T, "sqrt")
    assert len(range(0, T, stride)) <= int(np.ceil(np.sqrt(T)))
    assert stride <= int(np.ceil(np.sqrt(T))) or T <= 1


def while_loop(W, x, limit):
    h = x
    i = 0
    while np.sum(h * h) > limit and i < 40:
        h = np.sin(h @ W) * 0.9 + x * 0.3
        i = i + 1
    return np.sum(h)


def while_in_for(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        k = 0
        while k < t % 3:
            h = np.tanh(h @ W) + xs[t]
            k = k + 1
    return np.sum(h * h)


@pytest.mark.parametrize("limit", [1e9, 1.5, 0.95, 0.0])  # 0, 2, 5, 40 iterations
def test_while_loop_gradient_is_the_one_without_checkpointing(limit):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, 4)) * 0.5
    x = rng.normal(size=(3, 4))
    g0 = assert_grad_matches_fd(while_loop, W, x, limit, wrt=(0, 1))
    for schedule in SCHEDULES:
        _assert_same(ad.grad(while_loop, wrt=(0, 1), checkpoint=schedule)(W, x, limit), g0)
    assert "keep_snapshot(" in ad.grad(while_loop, checkpoint="sqrt").source
    assert "keep_spaced(" in ad.grad(while_loop, checkpoint=2).source


def test_while_loop_inside_a_checkpointed_for_loop():
    W, xs = _data(T=10)
    g0 = assert_grad_matches_fd(while_in_for, W, xs, wrt=(0, 1))
    for schedule in SCHEDULES:
        _assert_same(ad.grad(while_in_for, wrt=(0, 1), checkpoint=schedule)(W, xs), g0)


@pytest.mark.parametrize("schedule", ["sqrt", 1, 2, 3, 8])
def test_keep_snapshot_bounds_snapshots_and_keeps_them_a_stride_apart(schedule):
    for T in range(0, 300, 7):
        snapshots: list = []
        stride = 1
        for i in range(T):
            if i % stride == 0:
                stride = keep_snapshot(snapshots, (i,), stride, schedule)
        starts = [s[0] for s in snapshots]
        assert starts == list(range(0, T, stride))  # every segment is stride long
        if schedule == "sqrt":
            assert len(starts) <= 2 * np.sqrt(T) + 1 and stride <= 2 * np.sqrt(T) + 1
        else:
            assert len(starts) <= schedule


@pytest.mark.parametrize("bad", [0, -2, "log", 2.5, True])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(ValueError, match="checkpoint must be"):
        ad.grad(rnn, checkpoint=bad)


def _peak(fn, *args) -> int:
    fn(*args)  # compile outside the measurement
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_checkpointing_lowers_peak_memory():
    rng = np.random.default_rng(0)
    T, batch, hidden = 400, 8, 32
    W = rng.normal(size=(hidden, hidden)) / np.sqrt(hidden)
    U = rng.normal(size=(hidden, hidden)) / np.sqrt(hidden)
    xs = rng.normal(size=(T, batch, hidden))
    h0 = np.zeros((batch, hidden))
    plain = ad.grad(rnn, wrt=(0, 1))
    sqrt = ad.grad(rnn, wrt=(0, 1), checkpoint="sqrt")
    _assert_same(sqrt(W, U, xs, h0), plain(W, U, xs, h0))
    assert _peak(sqrt, W, U, xs, h0) * 5 < _peak(plain, W, U, xs, h0)


def test_value_returned_is_the_loops_carried_value():
    def f(a, n):
        x = a
        for _t in range(n):
            x = np.sin(x) * a
        return x

    v0, g0 = ad.value_and_grad(f)(0.4, 7)
    v, g = ad.value_and_grad(f, checkpoint=2)(0.4, 7)
    assert v == pytest.approx(f(0.4, 7), rel=1e-12)
    assert (v, g) == pytest.approx((v0, g0), rel=1e-12)


RNN_FILE = """
import numpy as np


def rnn(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
    return np.sum(h * h)


def jvp_me(x):
    return np.sin(x)
"""


def _cli(tmp_path, *args):
    import contextlib
    import io
    import os

    from adcompile.cli import main

    (tmp_path / "m.py").write_text(RNN_FILE)
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(args))
            except SystemExit as e:
                status = e.code
    finally:
        os.chdir(here)
    return status, out.getvalue(), err.getvalue()


def test_cli_show_prints_the_schedule(tmp_path):
    status, out, _ = _cli(tmp_path, "show", "m.py:rnn", "--wrt", "W", "--checkpoint", "sqrt")
    assert status == 0
    assert "for snapshot in reversed(snapshots):" in out
    status, out, _ = _cli(tmp_path, "show", "m.py:rnn", "--wrt", "W", "--checkpoint", "5")
    assert status == 0 and "revolve_snapshots(len(range(n)), 5)" in out
    assert "for start, step, keep in revolve(snapshots, i, 5):" in out
    status, _, err = _cli(tmp_path, "show", "m.py:rnn", "--checkpoint", "none")
    assert status == 2 and "expected sqrt or a positive integer" in err
    for mode in ("jvp", "hvp"):
        status, _, err = _cli(tmp_path, "show", "m.py:jvp_me", "--mode", mode, "--checkpoint", "2")
        assert (
            status == 2
            and f"--checkpoint applies to grad, value_and_grad and vjp, not to --mode {mode}" in err
        )


def test_memory_report_shows_snapshots_and_segment(tmp_path):
    shapes = "W=4x4,xs=100x2x4"
    args = ("show", "m.py:rnn", "--wrt", "W", "--shapes", shapes, "--memory")
    status, plain, _ = _cli(tmp_path, *args)
    assert status == 0 and "snapshots" not in plain
    status, out, _ = _cli(tmp_path, *args, "--checkpoint", "sqrt")
    assert status == 0
    assert "(in snapshots)" in out and "x 10" in out
    assert "one recomputed segment's values at a time (10 iterations at most)" in out
    W, xs = _data(T=100, batch=2, hidden=4)
    plain_report = ad.grad(rnn_w, checkpoint=None).memory_report(W, xs)
    sqrt_report = ad.grad(rnn_w, checkpoint="sqrt").memory_report(W, xs)
    assert sqrt_report.total_bytes * 3 < plain_report.total_bytes
    assert sqrt_report.segments and not plain_report.segments


def rnn_w(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
    return np.sum(h * h)


def loop_in_branch_and_two_loops(W, xs):
    h = xs[0]
    if np.sum(xs) > -1e9:
        for t in range(1, xs.shape[0], 2):
            h = np.tanh(h @ W) * xs[t]
    for t in range(xs.shape[0] - 1, -1, -3):
        h = np.sin(h + xs[t])
    return np.sum(h * h)


def list_of_arrays(W, xs):
    h = xs[0]
    for x in range(len(xs)):
        h = np.tanh(h @ W + xs[x])
    return np.sum(h)


def test_loop_in_a_branch_stepped_ranges_and_two_loops():
    W, xs = _data(T=11)
    g0 = assert_grad_matches_fd(loop_in_branch_and_two_loops, W, xs, wrt=(0, 1))
    for schedule in SCHEDULES:
        g = ad.grad(loop_in_branch_and_two_loops, wrt=(0, 1), checkpoint=schedule)(W, xs)
        _assert_same(g, g0)


def test_list_argument():
    W, xs = _data(T=6)
    xs = list(xs)
    g0 = ad.grad(list_of_arrays, wrt=(0, 1))(W, xs)
    for schedule in SCHEDULES:
        g = ad.grad(list_of_arrays, wrt=(0, 1), checkpoint=schedule)(W, xs)
        _assert_same(g[0], g0[0])
        for a, b in zip(g[1], g0[1], strict=True):
            _assert_same(a, b)
