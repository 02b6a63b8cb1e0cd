"""The command line: ``adcompile show FILE.py:FUNC`` and ``python -m adcompile show ...``.

Each test runs the real command in a subprocess, on a file whose top level must
never run: it would leave a marker file behind and exit.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import importlib.util
import inspect
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
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
import statistics
from numpy import tanh

pathlib.Path(__file__).with_name("TOP_LEVEL_RAN").write_text("it ran")
raise SystemExit("the top level of model.py ran")
'''
    + FUNCTIONS
    + """

def needs_import(x):
    return np.sum(statistics.fmean(x))


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
    expected = without_header(ad.grad(live(workdir, "loss"), wrt=("W", "b")).source)
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


def in_terminal(args: list[str], cwd: Path, columns: int = 80) -> str:
    """What ``args`` prints in a pseudo-terminal ``columns`` wide (TERM=xterm-256color),
    without its colours and with the terminal's carriage returns removed."""
    import fcntl
    import pty
    import struct
    import termios

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
    env["COLUMNS"] = str(columns)
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(args, stdout=child, stderr=subprocess.PIPE, cwd=cwd, env=env)
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
    assert ANSI.search(out), "expected colours in a terminal"
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out).replace("\r", "")


SEED_SHOW = ["show", str(ROOT / "examples" / "seed_network.py") + ":loss", "--wrt", "W1,b1,W2,b2"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("extra", [[], ["--side-by-side"], ["--mode", "vjp", "--side-by-side"]])
def test_a_narrow_terminal_shows_every_character_and_pads_nothing(workdir, extra):
    """The seed network's longest generated line is wider than 80 columns: in a
    terminal it is printed whole (the terminal wraps it), with colours, every token
    of the piped output present as often, and no line ends in padding."""
    args = [sys.executable, "-m", "adcompile", *SEED_SHOW, *extra]
    piped = run_piped(args, workdir)
    assert max(len(line) for line in piped.splitlines()) > 80
    shown = in_terminal(args, workdir, columns=80)
    assert collections.Counter(piped.split()) - collections.Counter(shown.split()) == {}
    assert shown == piped  # the same text, only coloured
    assert all(line == line.rstrip() for line in shown.splitlines())


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_show_method_in_a_narrow_terminal_prints_the_whole_source(workdir):
    script = workdir / "show_seed.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'examples')!r})\n"
        "import adcompile as ad\n"
        "from seed_network import loss\n"
        "g = ad.grad(loss, wrt=(0, 1, 2, 3))\n"
        "g.show()\n"
    )
    shown = in_terminal([sys.executable, str(script)], workdir, columns=80)
    spec = importlib.util.spec_from_file_location(
        "seed_network", ROOT / "examples" / "seed_network.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = ad.grad(module.loss, wrt=(0, 1, 2, 3)).source
    assert without_header(shown).rstrip("\n") == without_header(source).rstrip("\n")


def without_header(source: str) -> str:
    """``.source`` without its opening comment lines (``adcompile show`` prints none)."""
    lines = source.split("\n")
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "\n".join(lines)


def run_piped(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


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
        ["show", "model.py:needs_import"],
        rf"model\.py:{line_of('statistics.fmean(x)')}:18: error: cannot resolve 'statistics' "
        "without running the file",
        ["import statistics", "return np.sum(statistics.fmean(x))", "hint:"],
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


# ------------------------------------------------------------------ side by side


def side_columns(out):
    """The two columns of plain side-by-side output, below its two header lines."""
    lefts, rights = [], []
    for line in out.splitlines()[2:]:
        left, sep, right = line.partition(" | ")
        if not sep:  # a row with nothing on the right: rstripped
            left, right = line.removesuffix(" |"), ""
        lefts.append(left)
        rights.append(right)
    return lefts, rights


def test_side_by_side_pairs_each_block_with_its_source_line(workdir):
    status, out, err = cli(workdir, "show", "model.py:loss", "--side-by-side")
    assert status == 0, err
    assert not ANSI.search(out)
    head = out.splitlines()[0]
    assert head.startswith("model.py ") and head.endswith("| generated grad")
    lefts, rights = side_columns(out)
    # the right column is the generated code, without the `# line N:` comments
    _, plain, _ = cli(workdir, "show", "model.py:loss")
    code = [line for line in plain.rstrip("\n").split("\n") if "# line " not in line]
    assert [r for r in rights] == code
    # the left column holds, numbered, the very lines the comments name
    named = [int(n) for n in re.findall(r"# line (\d+):", plain)]
    shown = [int(m.group(1)) for m in map(re.compile(r"^\s*(\d+)  ").match, lefts) if m]
    assert shown == [line_of("def loss"), *named]
    for left in lefts:
        found = re.match(r"^\s*(\d+)  (.*)$", left)
        if found:
            assert MODEL_LINES[int(found.group(1)) - 1].rstrip() == found.group(2).rstrip()
    # the first generated line of each block sits on its source line's row
    first = lefts.index(next(x for x in lefts if "h = W @ x + b" in x))
    assert rights[first].strip() == "h_1 = W @ x"


def test_side_by_side_pairs_a_pullback_with_the_callees_def(workdir):
    status, out, err = cli(workdir, "show", "model.py:calls_vector", "--side-by-side")
    assert status == 0, err
    lefts, rights = side_columns(out)
    for name in ("fwd_vector", "bwd_vector"):
        row = next(i for i, r in enumerate(rights) if r.startswith(f"def {name}("))
        assert lefts[row].strip() == f"{line_of('def vector')}  def vector(x):"


def test_side_by_side_with_shapes_and_mode(workdir):
    status, out, err = cli(
        workdir, "show", "model.py:vector", "--mode", "vjp", "--side-by-side", "--shapes", "x=3"
    )
    assert status == 0, err
    assert out.splitlines()[0].endswith("| generated vjp")
    assert "def vjp_vector(x, dvector):" in out


SLICED = """import numpy as np


def sliced(x, b):
    y = x[1:3] + b
    return np.sum(y)
"""


def test_show_with_shapes_knows_the_shape_of_a_slice(tmp_path):
    (tmp_path / "sliced.py").write_text(SLICED)
    status, out, err = cli(tmp_path, "show", "sliced.py:sliced", "--shapes", "x=4x3,b=3")
    assert status == 0, err
    assert "unbroadcast" not in out and "unreduce" not in out, out
    assert "db = dy.sum(axis=0)" in out


def test_side_by_side_in_a_terminal_is_a_highlighted_table(monkeypatch):
    from adcompile.show import show_side_by_side

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    term = FakeTerminal()
    source = "def f(x):\n    # forward sweep\n    # line 2: y = x * x\n    y = x * x\n"
    show_side_by_side(source, ["def f(x):", "    y = x * x"], console=make_console(term))
    out = term.getvalue()
    assert ANSI.search(out)
    plain = ANSI.sub("", re.sub(r"\x1b\[[0-9;]*m", "", out))
    assert "source" in plain and "generated" in plain and "y = x * x" in plain


def test_side_by_side_no_color_and_piped(workdir):
    proc = run(
        workdir,
        "show",
        "model.py:loss",
        "--side-by-side",
        env={"NO_COLOR": "1", "TERM": "xterm-256color"},
    )
    assert proc.returncode == 0, proc.stderr
    assert not ANSI.search(proc.stdout)
    assert " | def grad_loss(W, b, x):" in proc.stdout


# ------------------------------------------------------------------------- rules


def test_rules_lists_every_rule_and_table():
    from adcompile import fence, normalize
    from adcompile.reference import rule_formula, spelled
    from adcompile.rules import NONDIFF, RULES

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["rules", "--format", "markdown"]) == 0
    text = out.getvalue()
    assert text.startswith("# Language reference\n")
    for rule in RULES.values():
        assert spelled(rule.primitive).replace("|", "\\|") in text or rule.name in text
        for line in rule_formula(rule):
            # (a statement of several lines, such as a rule's `if`, is one cell line)
            assert f"`{line}`".replace("|", "\\|").replace("\n", "<br>") in text, line
    for name in NONDIFF.values():
        assert name in text, name
    for method in normalize.METHODS:
        assert f"`x.{method}(...)`" in text
    for attribute in normalize.CONSTANT_ATTRIBUTES:
        assert f"`.{attribute}`" in text
    for what, instead in fence.REFUSED.values():
        assert what.replace("|", "\\|") in text and instead in text
    assert "`dx += dy * (1 - y * y)`" in text  # np.tanh, as the chain rule
    assert "`y = np.tanh(x)`" in text
    assert "| `x @ y` | `np.matmul` | yes |" in text


def test_every_refused_construct_has_an_example():
    from adcompile import fence
    from adcompile.reference import REFUSED_EXAMPLES

    assert {t.__name__ for t in fence.REFUSED} <= set(REFUSED_EXAMPLES)


def test_rules_text_is_plain(workdir):
    status, out, err = cli(workdir, "rules")
    assert status == 0, err
    assert out.startswith("LANGUAGE REFERENCE\n==================\n")
    assert "`" not in out and "<br>" not in out and "| --- |" not in out
    assert not ANSI.search(out)
    assert "y = np.tanh(x)" in out and "dx += dy * (1 - y * y)" in out


def test_rules_help_names_the_docs_page(workdir):
    status, out, _ = cli(workdir, "rules", "--help")
    assert status == 0
    assert "docs/language.md" in out and "--format" in out


def test_docs_language_md_is_the_output_of_adcompile_rules():
    """docs/language.md is generated; regenerate it with
    `adcompile rules --format markdown > docs/language.md`.

    The page is generated with the newest numpy and scipy. An older one may lack a
    function (its rule registers only where the library has it), still have an old
    name of one (np.trapz before numpy 2.4), or give a parameter another default (a
    rule takes the library's own): those mentions, and only those, are left out of the
    comparison; everything else must be the same."""
    pytest.importorskip("scipy")  # (the page lists the rules of scipy too)
    proc = subprocess.run(
        [sys.executable, "-m", "adcompile", "rules", "--format", "markdown"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    # every built-in rule is under the heading of its family (rules/<family>.py)
    assert "Other rules registered in this process" not in proc.stdout
    page = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    if page == proc.stdout:
        return
    missing = {n for n in _library_names(page) if _library_object(n) is None}
    also = {a.strip("`") for names in ALSO.findall(proc.stdout) for a in names.split(", ")}
    old = {n for n in also if f"`{n}`" not in page and _deprecated(_library_object(n))}
    # (a default that differs from the page's, as the installed function's own does)
    here = dict(_calls(proc.stdout))
    changed = {
        n
        for n, defaults in _calls(page)
        if here.get(n, defaults) != defaults and not _defaults_differ(n, here[n])
    }
    left_out = missing | old | changed
    assert _comparable(proc.stdout, left_out) == _comparable(page, left_out), (
        "docs/language.md is stale: run `adcompile rules --format markdown > docs/language.md`"
        " (left out, as this numpy or scipy lacks them, deprecates them or gives them other"
        f" defaults: {sorted(left_out)})"
    )


LIBRARY_NAME = re.compile(r"(?<![\w.])(?:np|scipy|math)(?:\.\w+)+")
CODE = re.compile(r"`([^`]*)`")
ALSO = re.compile(r"<br>also (`[^`]+`(?:, `[^`]+`)*)")
RULE_CALL = re.compile(r"^\| `(\w+ = (?:np|scipy)\.[\w.]+\(.*?\))`", re.MULTILINE)


def _calls(page: str) -> list[tuple[str, dict[str, object]]]:
    """The function and the defaults of each rule's call on the page (its first cell)."""
    out = []
    for text in RULE_CALL.findall(page):
        call = ast.parse(text).body[0].value
        kwargs = {k.arg: k.value for k in call.keywords}
        defaults = {k: v.value for k, v in kwargs.items() if isinstance(v, ast.Constant)}
        out.append((ast.unparse(call.func), defaults))
    return out


def _defaults_differ(name: str, defaults: dict[str, object]) -> bool:
    """Whether the installed function ``name`` gives one of these parameters another
    default."""
    try:
        params = inspect.signature(_library_object(name)).parameters
    except (TypeError, ValueError):  # (no function here, or one without a signature)
        return False
    for k, v in defaults.items():
        default = params[k].default if k in params else inspect.Parameter.empty
        if default is not inspect.Parameter.empty and default is not np._NoValue:
            if _differ(default, v):
                return True
    return False


def _differ(a: object, b: object) -> bool:
    try:
        return bool(a != b)
    except (TypeError, ValueError):  # (an array's comparison)
        return a is not b


def _library_names(text: str) -> set[str]:
    """The functions of numpy, scipy and math that the code in ``text`` names."""
    return {n for code in CODE.findall(text) for n in LIBRARY_NAME.findall(code)}


def _library_object(name: str) -> object | None:
    """What ``np.linalg.solve``, ``scipy.special.softplus``... is here, or None."""
    parts = ["numpy", *name.split(".")[1:]] if name.startswith("np.") else name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part, None)
        return obj
    return None


def _deprecated(obj: object) -> bool:
    """Whether the library says ``obj`` is deprecated, as numpy's docstrings do."""
    doc = (getattr(obj, "__doc__", None) or "").strip() if obj is not None else ""
    return "deprecated" in doc.split("\n\n")[0].lower()


def _comparable(page: str, names: set[str]) -> list[str]:
    """The page's paragraphs and table rows, without "also" mentions of ``names`` and
    without the paragraphs and rows that name one otherwise."""

    def strip(match: re.Match) -> str:
        kept = [a for a in match.group(1).split(", ") if a.strip("`") not in names]
        return "<br>also " + ", ".join(kept) if kept else ""

    units = []
    for block in page.split("\n\n"):
        for unit in block.split("\n") if block.startswith("|") else [block]:
            unit = ALSO.sub(strip, unit)
            if not _library_names(unit) & names:
                units.append(unit)
    return units


def test_the_docs_check_leaves_out_only_what_the_libraries_change():
    """A page of older libraries (a function less, an old name more, another default)
    compares equal once their names are left out; any other change still shows."""
    page = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    softplus = re.search(r"^\| `y = scipy\.special\.softplus\(x\)`.*\n", page, re.M).group()
    older = (
        page.replace(softplus, "")
        .replace("dx=1.0, axis=-1)`<br>", "dx=1.0, axis=-1)`<br>also `np.trapz`<br>")
        .replace("assume_a=None, transposed=False)", "assume_a='gen', transposed=False)")
    )
    for change in (softplus, "also `np.trapz`", "assume_a='gen'"):
        assert (change in page) != (change in older)
    left_out = {"scipy.special.softplus", "np.trapz", "scipy.linalg.solve"}
    assert _comparable(older, left_out) == _comparable(page, left_out)
    tanh = "`dx += dy * (1 - y * y)`"
    stale = older.replace(tanh, "`dx += dy * (1 - y ** 2)`")
    assert stale != older and _comparable(stale, left_out) != _comparable(page, left_out)
    # what is left out is what the installed libraries make so
    assert _library_object("np.no_such_function") is None
    assert _library_object("np.linalg.solve") is np.linalg.solve
    default = inspect.signature(np.linalg.norm).parameters["ord"].default
    assert not _defaults_differ("np.linalg.norm", {"ord": default})
    assert _defaults_differ("np.linalg.norm", {"ord": "another"})


BUILTINS_CLAIMED = """
import numpy as np


def uses_builtins(x, a):
    m = max(a, 0.5) + min(a, 2.0) + abs(a) + float(a)
    parts = [x, x * a]
    return np.sum(sum(parts)) * m + len(parts)


def uses_print(x):
    print(x)
    return np.sum(x)
"""


def test_the_builtins_the_reference_lists(tmp_path, capsys):
    path = tmp_path / "builtins_claimed.py"
    path.write_text(BUILTINS_CLAIMED)
    spec = importlib.util.spec_from_file_location("builtins_claimed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.arange(3.0) + 1
    assert ad.check_grad(module.uses_builtins, x, 0.7, wrt=(0, 1)) < 1e-6
    capsys.readouterr()
    np.testing.assert_array_equal(ad.grad(module.uses_print)(x), np.ones(3))
    assert capsys.readouterr().out == f"{x}\n"  # (a statement: run once, as Python does)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("def f(x):\n    a, *b = x, x\n    return a", "star-unpacking"),
        ("def f(x):\n    y = x * 1.0\n    y[0][1] = 1.0\n    return y", "assigning into a part"),
    ],
)
def test_the_other_refusals_the_reference_lists(tmp_path, body, words):
    path = tmp_path / "refused_other.py"
    path.write_text("import numpy as np\n\n" + body + "\n")
    from adcompile.static import compile_static

    with pytest.raises(ad.AdCompileError, match=words):
        compile_static(str(path), "f", 0)


# ------------------------------------------------------------------------- check

CHECKED = '''
"""A file whose top level runs under check (it leaves a marker)."""
import pathlib

import numpy as np

import adcompile

pathlib.Path(__file__).with_name("CHECK_TOP_LEVEL_RAN").write_text("it ran")


def loss(W, b, x, steps, scale=0.5):
    h = W @ x + b
    for _ in range(steps):
        h = np.tanh(h)
    return scale * np.sum(h ** 2)


def cube(x):
    return x ** 3


@adcompile.adjoint(cube)
def cube_adjoint(dy, y, x):
    return dy * 3 * x  # wrong on purpose: the derivative is 3 * x ** 2


def wrong(x, s):
    return np.sum(cube(x)) * s


def logs(x):
    return np.sum(np.log(x))


def vector(x):
    return x * 2.0


if __name__ == "__main__":
    raise SystemExit("the main block ran")
'''


@pytest.fixture
def checkdir(tmp_path):
    """A directory with files for check; the rules they register are forgotten after."""
    from adcompile.rules import registry

    saved = registry.snapshot()
    yield _checkdir(tmp_path)
    registry.restore(saved)


def _checkdir(tmp_path):
    (tmp_path / "checked.py").write_text(CHECKED)
    (tmp_path / "raises.py").write_text(
        "import numpy as np\n\nraise RuntimeError('no data here')\n\n\n"
        "def f(x):\n    return np.sum(x)\n"
    )
    return tmp_path


def check(checkdir, *args):
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(checkdir)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(["check", *args])
            except SystemExit as exc:
                status = exc.code
    finally:
        os.chdir(here)
    return status, out.getvalue(), err.getvalue()


def table_rows(out):
    """{argument: [cells]} of check's plain table."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("argument"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def test_check_passes_runs_the_top_level_and_prints_a_table(checkdir):
    status, out, err = check(checkdir, "checked.py:loss", "--args", "W=3x2,b=3x1,x=2x5,steps=int:3")
    assert status == 0, err
    assert (checkdir / "CHECK_TOP_LEVEL_RAN").exists()
    assert not ANSI.search(out)
    rows = table_rows(out)
    assert list(rows) == ["W", "b", "x"]
    assert rows["W"][0] == "3x2" and rows["b"][0] == "3x1"
    for cells in rows.values():
        assert float(cells[-2]) < 1e-6 and cells[-1] == "ok"
    assert out.rstrip().splitlines()[-1].startswith("ok: every gradient agrees")


def test_check_wrt_float_and_seed(checkdir):
    status, out, err = check(
        checkdir,
        "checked.py:loss",
        "--args",
        "W=3x2,b=3x1,x=2x5,steps=int:2,scale=float",
        "--wrt",
        "scale,0",
        "--seed",
        "3",
    )
    assert status == 0, err
    rows = table_rows(out)
    assert list(rows) == ["scale", "W"]
    assert rows["scale"][0] == "float"
    assert "seed 3" in out


def test_check_fails_on_a_wrong_rule(checkdir):
    status, out, err = check(checkdir, "checked.py:wrong", "--args", "x=4,s=float")
    assert status == 1, (out, err)
    rows = table_rows(out)
    assert rows["x"][-1] == "FAIL" and rows["s"][-1] == "ok"
    assert out.rstrip().splitlines()[-1].startswith("FAILED: 1 of 2 gradients")


def test_check_positive_inputs(checkdir):
    status, _, err = check(checkdir, "checked.py:logs", "--args", "x=5")
    assert status == 2
    assert "nan" in err and ":positive" in err
    status, out, err = check(checkdir, "checked.py:logs", "--args", "x=5:positive")
    assert status == 0, err


def test_check_tolerance(checkdir):
    args = ["checked.py:loss", "--args", "W=3x2,b=3x1,x=2x5,steps=int:1"]
    assert check(checkdir, *args, "--tol", "1e-30")[0] == 1
    assert check(checkdir, *args, "--tol", "1e-3")[0] == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["checked.py:loss", "--args", "W=3x2,b=3x1,x=3x5,steps=int:1"],
            ["ValueError", "h = W @ x + b"],
        ),
        (["checked.py:loss", "--args", "W=3x2,b=3x1"], ["no input for 'x', 'steps'"]),
        (["checked.py:loss", "--args", "W=3x2,b=3x1,x=2x5,steps=int:1,q=3"], ["no parameter 'q'"]),
        (["checked.py:loss", "--args", "W=3x2,W=3"], ["twice"]),
        (["checked.py:loss", "--args", "W=3y2"], ["bad dimensions"]),
        (["checked.py:loss", "--args", "n=int:x"], ["bad integer"]),
        (["checked.py:loss", "--args", "x=3:negative"], ["bad option"]),
        (
            ["checked.py:loss", "--args", "W=3x2,b=3x1,x=2x5,steps=int:1", "--wrt", "steps"],
            ["integer"],
        ),
        (["checked.py:vector", "--args", "x=3"], ["scalar result"]),
        (["checked.py:nope", "--args", "x=3"], ["no function named 'nope'"]),
        (["missing.py:f", "--args", "x=3"], ["no such file"]),
        (["raises.py:f", "--args", "x=3"], ["RuntimeError: no data here", "raises.py", "line 3"]),
    ],
)
def test_check_errors_exit_2_with_one_message(checkdir, args, words):
    status, out, err = check(checkdir, *args)
    assert status == 2, (out, err)
    assert "Traceback (most recent call last)" not in err
    for word in words:
        assert word in err, (word, err)
    assert err.rstrip().splitlines()[-1].startswith("hint: ")


def test_check_help_says_it_runs_the_file(workdir):
    proc = run(workdir, "check", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for words in ("IMPORTS FILE.py", "top-level code RUNS", "--args", "int:3", "--tol", "1e-6"):
        assert words in text, words


def test_check_through_python_m_with_no_color(checkdir):
    proc = subprocess.run(
        [sys.executable, "-m", "adcompile", "check", "checked.py:wrong", "--args", "x=3,s=float"],
        capture_output=True,
        text=True,
        cwd=checkdir,
        env=_env({"NO_COLOR": "1", "TERM": "xterm-256color"}),
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert not ANSI.search(proc.stdout)
    assert "FAIL" in proc.stdout


def test_docs_cli_md_covers_every_command_and_option():
    """docs/cli.md has a section for each command (export included) and names each of
    its options (--memory, --side-by-side...)."""
    import argparse

    from adcompile.cli import _parser

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"show", "export", "rules", "check"} <= set(commands.choices)
    for name, command in commands.choices.items():
        assert f"## `adcompile {name}`" in page, name
        section = page.split(f"## `adcompile {name}`", 1)[1].split("\n## ", 1)[0]
        for action in command._actions:
            spellings = [o for o in action.option_strings if o not in ("-h", "--help")]
            if spellings:  # -o or --output
                assert any(o in section for o in spellings), (name, spellings)
