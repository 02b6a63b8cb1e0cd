"""``GradientFunction.memory_report``: what the reverse sweep keeps, measured.

The report is checked against tracemalloc: the memory the generated code has
allocated, and still holds, when its reverse sweep starts.
"""

from __future__ import annotations

import importlib.util
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import adcompile as ad
from adcompile.memory import boundary_line

ROOT = Path(__file__).resolve().parents[1]

RNN = """\
import numpy as np


def rnn(Wh, Wx, xs):
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t])
    return np.sum(h * h)


def act(z):
    return np.tanh(z) * 2.0


def calls(W, x):
    h = act(W @ x)
    return np.sum(h * h)
"""


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rnn_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("memory") / "memory_rnn.py"
    path.write_text(RNN)
    return load(path, "memory_rnn")


class _Stop(Exception):
    pass


def held_at_boundary(grad, args) -> int:
    """Bytes the generated code allocated and still holds when its reverse sweep
    starts, by tracemalloc."""
    grad(*args)
    compiled, gen = grad._latest[0], grad._latest[2]
    marker = boundary_line(gen.text)
    code = compiled.__code__
    found = {}

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno > marker:
            found["held"] = tracemalloc.get_traced_memory()[0] - found["start"]
            raise _Stop
        return local

    def outer(frame, event, arg):
        if frame.f_code is code:
            found["start"] = tracemalloc.get_traced_memory()[0]
            return local
        return None

    tracemalloc.start()
    sys.settrace(outer)
    try:
        compiled(*args)
    except _Stop:
        pass
    finally:
        sys.settrace(None)
        tracemalloc.stop()
    return found["held"]


def test_the_seed_network_784_512_10(tmp_path):
    seed = load(ROOT / "examples" / "seed_network.py", "seed_network_for_memory")
    rng = np.random.default_rng(0)
    shapes = [(512, 784), (512, 1), (10, 512), (10, 1), (784, 64), (10, 64)]
    args = [rng.normal(size=s) * 0.05 for s in shapes]
    grad = ad.grad(seed.loss, wrt=(0, 1, 2, 3))
    report = grad.memory_report(*args)
    held = held_at_boundary(grad, args)
    assert report.total_bytes == pytest.approx(held, rel=0.03)
    # the hidden layer's values are 512x64 float64 arrays, each kept once
    big = [r for r in report.rows if r.shape == "512x64"]
    assert big and all(r.bytes >= 512 * 64 * 8 for r in big)
    assert {r.lineno for r in big} <= {25, 26}  # h = W1 @ x + b1, a = sigmoid(h)
    text = str(report)
    assert "total" in text and f"{report.total_bytes:,}" in text


def test_an_rnn_keeps_each_steps_values(rnn_module):
    rng = np.random.default_rng(1)
    steps, hidden = 40, 256
    args = [rng.normal(size=(hidden, hidden)) * 0.05, rng.normal(size=(hidden, 8))]
    args.append(rng.normal(size=(steps, 8)))
    grad = ad.grad(rnn_module.rnn, wrt=(0, 1))
    report = grad.memory_report(*args)
    held = held_at_boundary(grad, args)
    assert report.total_bytes == pytest.approx(held, rel=0.05)
    per_step = [r for r in report.rows if r.iterations == steps]
    assert per_step, str(report)
    assert all(r.total == r.bytes * steps for r in per_step)
    # tanh's values (h = np.zeros(W.shape[0]) has a known shape, so the specialised
    # code writes each product into its one use instead of keeping it)
    assert sum(r.total for r in per_step) >= steps * hidden * 8


def test_a_called_functions_values_are_counted(rnn_module):
    rng = np.random.default_rng(2)
    args = [rng.normal(size=(200, 100)), rng.normal(size=(100, 50))]
    grad = ad.grad(rnn_module.calls, wrt=0)
    report = grad.memory_report(*args)
    assert report.total_bytes == pytest.approx(held_at_boundary(grad, args), rel=0.05)
    assert any("(in " in r.name for r in report.rows)


def test_the_command_line_prints_the_report(tmp_path):
    import subprocess

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "adcompile",
            "show",
            str(ROOT / "examples" / "seed_network.py") + ":loss",
            "--wrt",
            "W1,b1,W2,b2",
            "--shapes",
            "W1=512x784,b1=512x1,W2=10x512,b2=10x1,x=784x64,y=10x64",
            "--memory",
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "values the reverse sweep of loss keeps" in proc.stdout
    assert "512x64" in proc.stdout and "total:" in proc.stdout


@pytest.mark.parametrize("mode", ["value_and_grad", "vjp"])
def test_every_mode_has_a_report(rnn_module, mode):
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(30, 20)), rng.normal(size=(20, 10))]
    derivative = getattr(ad, mode)(rnn_module.calls, wrt=0)
    extra = [1.0] if mode == "vjp" else []
    report = derivative.memory_report(*args, *extra)
    assert report.total_bytes == pytest.approx(held_at_boundary(derivative, args + extra), rel=0.1)


def test_show_prints_the_text_when_piped(rnn_module):
    import io

    from adcompile.show import make_console

    rng = np.random.default_rng(4)
    report = ad.grad(rnn_module.calls).memory_report(
        rng.normal(size=(30, 20)), rng.normal(size=(20, 10))
    )
    out = io.StringIO()
    report.show(console=make_console(out))
    assert out.getvalue() == str(report)


def test_a_report_that_keeps_nothing_prints_its_header_and_total():
    def update(x, y):
        x += y
        return np.sum(x)

    report = ad.grad(update, wrt=1).memory_report(np.ones(2), np.ones(2))
    text = str(report)
    assert report.total_bytes == sum(r.total_bytes for r in report.rows)
    assert "name" in text.lower()


def test_show_in_a_terminal_is_a_table_of_every_row(rnn_module):
    """In a (colour) terminal, show() prints a table with the columns of the text
    report and a row per kept value: its line, name, shape, dtype and size."""
    import io
    import re

    from rich.console import Console

    rng = np.random.default_rng(5)
    args = [rng.normal(size=(6, 3)), rng.normal(size=(3, 4)).astype(np.float32)]
    report = ad.grad(rnn_module.calls).memory_report(*args)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system="standard")
    report.show(console=console)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert "┃" in shown or "│" in shown  # a table, not the plain text
    assert shown != str(report)
    for column in ("line", "name", "shape", "dtype", "bytes", "iterations", "total"):
        assert column in shown
    assert report.rows
    for r in report.rows:
        row = next(line for line in shown.splitlines() if f" {r.name} " in line)
        assert r.shape in row and r.dtype in row, row
    assert {r.dtype for r in report.rows} >= {"float64"}
    assert f"{report.total_bytes:,} bytes" in shown
