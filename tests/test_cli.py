"""The command line: ``adcompile show FILE.py:FUNC`` and ``python -m adcompile show ...``.

Each test runs the real command in a subprocess, on a file whose top level must
never run: it would leave a marker file behind and exit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import adcompile as ad
from adcompile.cli import main
from adcompile.show import make_console

ROOT = Path(__file__).resolve().parents[1]

FUNCTIONS = """
SCALE = 0.5


def loss(W, b, x):
    h = W @ x + b
    return SCALE * np.sum(tanh(h) ** 2)


def vector(x):
    return x * 2.0
"""

MODEL = (
    '''"""A model file whose top level must never run."""
import pathlib

import numpy as np
import scipy.special
from numpy import tanh

pathlib.Path(__file__).with_name("TOP_LEVEL_RAN").write_text("it ran")
raise SystemExit("the top level of model.py ran")
'''
    + FUNCTIONS
    + """

def needs_scipy(x):
    return np.sum(scipy.special.expit(x))


def calls_vector(x):
    return np.sum(vector(x))


NOT_A_FUNCTION = 3


class Model:
    pass


async def later(x):
    return x


if __name__ == "__main__":
    loss(1.0, 2.0, 3.0)
"""
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "model.py").write_text(MODEL)
    (d / "broken.py").write_text("import numpy as np\n\ndef f(x:\n    return x\n")
    return d


def _env(extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NO_COLOR", None)
    env.update(extra or {})
    return env


def run(workdir, *args, env=None, module=True):
    """Run the CLI in ``workdir``; returns the CompletedProcess."""
    cmd = [sys.executable, "-m", "adcompile"] if module else [shutil.which("adcompile")]
    proc = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, cwd=workdir, env=_env(env), timeout=60
    )
    assert not (workdir / "TOP_LEVEL_RAN").exists(), "the CLI ran the file's top-level code"
    return proc


def run_many(workdir, arglists):
    """Run the CLI once per argument list, all at once; returns CompletedProcesses."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "adcompile", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=workdir,
            env=_env(),
        )
        for args in arglists
    ]
    done = []
    for args, p in zip(arglists, procs, strict=True):
        out, err = p.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(args, p.returncode, out, err))
    assert not (workdir / "TOP_LEVEL_RAN").exists(), "the CLI ran the file's top-level code"
    return done


def cli(workdir, *args):
    """Run ``adcompile.cli.main`` in this process, in ``workdir``: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(args))
            except SystemExit as exc:  # argparse's usage errors and --help
                status = exc.code
    finally:
        os.chdir(here)
    assert not (workdir / "TOP_LEVEL_RAN").exists(), "the CLI ran the file's top-level code"
    return status, out.getvalue(), err.getvalue()


def live(workdir, name):
    """The function ``name`` of a clean copy of the model (same lines, nothing run)."""
    path = workdir / "clean_model.py"
    if not path.exists():
        path.write_text("import numpy as np\nfrom numpy import tanh\n" + FUNCTIONS)
    spec = importlib.util.spec_from_file_location("clean_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


ANSI = re.compile(r"\x1b\[")


# ---------------------------------------------------------------------------- success


def test_show_prints_the_generated_code_plain_when_piped(workdir):
    proc = run(workdir, "show", "model.py:loss")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert not ANSI.search(proc.stdout)
    assert proc.stdout.startswith("def grad_loss(W, b, x):\n")
    assert "# forward sweep" in proc.stdout and "# reverse sweep" in proc.stdout
    assert "return dW, db, dx\n" in proc.stdout
    compile(proc.stdout, "<cli output>", "exec")


def test_show_prints_what_grad_generates(workdir):
    status, out, err = cli(workdir, "show", "model.py:loss", "--wrt", "W,b")
    assert status == 0, err
    expected = ad.grad(live(workdir, "loss"), wrt=("W", "b")).source
    # the same code, up to the line numbers in the comments (the clean copy is shorter)
    strip = re.compile(r"# line \d+:")
    got = strip.sub("# line:", out.rstrip("\n"))
    assert got == strip.sub("# line:", expected.rstrip("\n"))


def test_comments_name_the_lines_of_the_file(workdir):
    status, out, _ = cli(workdir, "show", "model.py:loss")
    lines = MODEL.splitlines()
    assert re.findall(r"# line (\d+): (.*)", out)
    for n, text in re.findall(r"# line (\d+): (.*)", out):
        assert lines[int(n) - 1].strip() == text


@pytest.mark.parametrize(
    ("wrt", "returned"),
    [
        ("W", "dW"),
        ("0", "dW"),
        ("W,b", "dW, db"),
        ("0,-1", "dW, dx"),
        ("x,0", "dx, dW"),
        (" b , 2 ", "db, dx"),
    ],
)
def test_wrt_takes_names_and_positions(workdir, wrt, returned):
    status, out, err = cli(workdir, "show", "model.py:loss", "--wrt", wrt)
    assert status == 0, err
    assert f"    return {returned}\n" in out


@pytest.mark.parametrize(
    ("mode", "head"),
    [("vjp", "def vjp_vector(x, dvector):"), ("value_and_grad", "def value_and_grad_vector(x):")],
)
def test_mode(workdir, mode, head):
    status, out, err = cli(workdir, "show", "model.py:vector", "--mode", mode)
    assert status == 0, err
    assert out.startswith(head + "\n")


def test_the_files_own_functions_are_resolved_statically(workdir):
    status, out, err = cli(workdir, "show", "model.py:calls_vector")
    assert status == 0, err
    assert "def fwd_vector(" in out and "def bwd_vector(" in out
    compile(out, "<cli output>", "exec")


def test_no_color_gives_plain_text(workdir):
    proc = run(workdir, "show", "model.py:loss", env={"NO_COLOR": "1", "TERM": "xterm-256color"})
    assert proc.returncode == 0, proc.stderr
    assert not ANSI.search(proc.stdout)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize(("no_color", "colored"), [(None, True), ("1", False)])
def test_colors_only_in_a_terminal_without_no_color(workdir, no_color, colored):
    import pty

    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    if no_color is not None:
        env["NO_COLOR"] = no_color
    proc = subprocess.Popen(
        [sys.executable, "-m", "adcompile", "show", "model.py:vector"],
        stdout=child,
        stderr=subprocess.PIPE,
        cwd=workdir,
        env=env,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    out = b"".join(chunks).decode()
    assert bool(ANSI.search(out)) == colored, repr(out)
    assert "grad_vector" in out


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    ("env", "colored"),
    [({}, True), ({"NO_COLOR": "1"}, False), ({"NO_COLOR": ""}, True), ({"TERM": "dumb"}, False)],
)
def test_console_colors(monkeypatch, env, colored):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    console = make_console(FakeTerminal())
    assert (console.is_terminal and not console.no_color) == colored
    assert not make_console(io.StringIO()).is_terminal


def test_the_seed_network_example(workdir):
    example = ROOT / "examples" / "seed_network.py"
    if not example.exists():
        pytest.skip("no seed network example")
    status, out, err = cli(workdir, "show", f"{example}:loss", "--wrt", "W1,b1,W2,b2")
    assert status == 0, err
    assert out.startswith("def grad_loss(W1, b1, W2, b2, x, y):")
    assert "return dW1, db1, dW2, db2" in out


@pytest.mark.skipif(shutil.which("adcompile") is None, reason="the console script is not installed")
def test_console_script(workdir):
    proc = run(workdir, "show", "model.py:vector", module=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("def grad_vector(x):")


# ------------------------------------------------------------------------------- help


def test_help_explains_the_command(workdir):
    status, out, _ = cli(workdir, "--help")
    assert status == 0
    assert "show" in out and "adcompile show" in out and "--version" in out


def test_show_help_explains_everything(workdir):
    proc = run(workdir, "show", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for words in (
        "FILE.py:FUNC",
        "--wrt",
        "positions",
        "never run",
        "NO_COLOR",
        "plain text when piped",
        "status 2",
        "adcompile.grad",
        "--mode",
    ):
        assert words in text, words


def test_no_command_prints_usage_and_fails(workdir):
    status, out, err = cli(workdir)
    assert status == 2
    assert out == "" and "usage:" in err


# ----------------------------------------------------------------------------- errors

MODEL_LINES = MODEL.splitlines()


def line_of(text, source=MODEL_LINES):
    return next(i for i, line in enumerate(source, 1) if text in line)


ERRORS = [
    # (arguments, the message's first line as a regex, words in the rest)
    (
        ["show", "missing.py:f"],
        r"adcompile: error: no such file: missing\.py$",
        ["hint:"],
    ),
    (
        ["show", "broken.py:f"],
        r"broken\.py:3:\d+: error: syntax error: ",
        ["def f(x:", "^", "hint:"],
    ),
    (
        ["show", "model.py:nope"],
        r"adcompile: error: no function named 'nope' at the top level of model\.py$",
        ["hint:", "loss", "vector"],
    ),
    (
        ["show", "model.py:NOT_A_FUNCTION"],
        rf"model\.py:{line_of('NOT_A_FUNCTION =')}:0: error: 'NOT_A_FUNCTION' .*not a function",
        ["NOT_A_FUNCTION = 3", "hint:"],
    ),
    (
        ["show", "model.py:Model"],
        rf"model\.py:{line_of('class Model')}:0: error: 'Model' .*not a function.*class",
        ["class Model:", "hint:"],
    ),
    (
        ["show", "model.py:later"],
        rf"model\.py:{line_of('async def later')}:0: error: .*async",
        ["hint:"],
    ),
    (
        ["show", "model.py:tanh"],
        rf"model\.py:{line_of('from numpy import tanh')}:0: error: 'tanh' .*imported",
        ["hint:"],
    ),
    (
        ["show", "model.py:needs_scipy"],
        rf"model\.py:{line_of('scipy.special.expit(x)')}:18: error: cannot resolve 'scipy' "
        "without running the file",
        ["import scipy", "return np.sum(scipy.special.expit(x))", "hint:"],
    ),
    (
        ["show", "model.py:loss", "--wrt", "q"],
        rf"model\.py:{line_of('def loss')}:0: error: wrt='q' is not a parameter",
        ["W, b, x", "--wrt"],
    ),
    (
        ["show", "model.py:loss", "--wrt", "7"],
        rf"model\.py:{line_of('def loss')}:0: error: wrt=7 is out of range",
        ["3 parameters"],
    ),
    (
        ["show", "model.py:loss", "--wrt", "W,W"],
        rf"model\.py:{line_of('def loss')}:0: error: wrt names the parameter 'W' twice",
        ["hint:"],
    ),
    (
        ["show", "model.py:loss", "--wrt", "W,,b"],
        r"adcompile: error: bad --wrt 'W,,b'",
        ["hint:"],
    ),
    (
        ["show", "model.py:loss", "--wrt=--1"],
        rf"model\.py:{line_of('def loss')}:0: error: wrt='--1' is not a parameter",
        ["hint:"],
    ),
    (
        ["show", "model.py"],
        r"adcompile: error: bad target 'model\.py': expected FILE\.py:FUNC",
        ["hint:"],
    ),
    (
        ["show", "model.py:not-a-name"],
        r"adcompile: error: bad function name 'not-a-name'",
        ["hint:"],
    ),
    (
        ["show", ".:f"],
        r"adcompile: error: \. is a directory",
        ["hint:"],
    ),
]


def check_error(status, out, err, head, words):
    assert status == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert re.match(head, lines[0]), lines[0]
    for word in words:
        assert word in err, (word, err)
    assert lines[-1].startswith("hint: ")


@pytest.mark.parametrize(("args", "head", "words"), ERRORS, ids=[" ".join(e[0]) for e in ERRORS])
def test_errors_are_located_one_message_and_status_2(workdir, args, head, words):
    check_error(*cli(workdir, *args), head, words)


# The same through the real entry point, in subprocesses run side by side.
THROUGH_PYTHON_M = [0, 1, 3, 8, 13]


def test_errors_through_python_m_have_no_traceback(workdir):
    cases = [ERRORS[i] for i in THROUGH_PYTHON_M]
    runs = run_many(workdir, [c[0] for c in cases])
    for (_, head, words), proc in zip(cases, runs, strict=True):
        check_error(proc.returncode, proc.stdout, proc.stderr, head, words)


def test_bad_option_is_a_usage_error(workdir):
    status, _, err = cli(workdir, "show", "model.py:loss", "--mode", "hessian")
    assert status == 2
    assert "invalid choice" in err


def test_file_with_a_coding_declaration(workdir):
    path = workdir / "latin.py"
    path.write_bytes(
        textwrap.dedent(
            """\
            # -*- coding: latin-1 -*-
            import numpy as np

            def f(x):
                # caf\xe9
                return np.sum(x * x)
            """
        ).encode("latin-1")
    )
    status, out, err = cli(workdir, "show", "latin.py:f")
    assert status == 0, err
    assert out.startswith("def grad_f(x):")


STATIC_FILE = """
import math
import numpy
import numpy as np
from numpy import exp as e
from numpy import *

A, B = 2.0, 3.0
C: float = 4.0
D = A

try:
    import numpy as tried
except ImportError:
    tried = None

def uses_many(x):
    return np.sum(e(x) * A * B * C) + numpy.sum(sin(x)) * math.pi


def uses_computed(x):
    return np.sum(x * D)


def uses_tried(x):
    return tried.sum(x * x)


if __name__ == "__main__":
    A = 100.0
"""


def test_static_resolution_of_the_file(workdir):
    (workdir / "static.py").write_text(STATIC_FILE)
    status, out, err = cli(workdir, "show", "static.py:uses_many")
    assert status == 0, err
    compile(out, "<cli output>", "exec")
    status, _, err = cli(workdir, "show", "static.py:uses_computed")
    assert status == 2
    assert "cannot resolve 'D' without running the file" in err
    status, _, err = cli(workdir, "show", "static.py:uses_tried")
    assert status == 2
    assert "cannot resolve 'tried' without running the file" in err
    assert "try" in err


def test_show_includes_the_pullback_pair_of_a_called_function(workdir):
    status, out, err = cli(workdir, "show", "model.py:calls_vector")
    assert status == 0, err
    assert "def grad_calls_vector(x):" in out
    assert "fwd_vector(x)" in out and "bwd_vector(" in out
    assert "def fwd_vector(x):" in out and "def bwd_vector(" in out


def test_reader_closing_the_pipe_early_is_not_an_error(workdir):
    # more output than a pipe buffers, so the writer meets the closed pipe
    body = "".join(f"    y = np.tanh(y) * 1.0001 + x  # step {i} {'.' * 60}\n" for i in range(300))
    (workdir / "long.py").write_text(
        f"import numpy as np\n\n\ndef long(x):\n    y = x\n{body}    return np.sum(y)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "adcompile", "show", "long.py:long"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workdir,
        env=_env(),
    )
    assert proc.stdout.readline() == b"def grad_long(x):\n"
    proc.stdout.close()  # like `| head -1`
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""
