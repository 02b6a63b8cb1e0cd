"""Exported modules: ``GradientFunction.export()`` and ``adcompile export``.

An exported module defines the generated gradient and everything it reads, and
needs only numpy. Each test runs one and compares it with the gradient adcompile
computes; one runs it in a Python that cannot import adcompile at all.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import adcompile as ad

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed_network.py"

MODEL = """\
import numpy as np

SCALE = 0.5
OFFSET = np.array([[0.1], [-0.2], [0.3]])


def act(z):
    return np.tanh(z) + SCALE * z


def loss(W, b, x):
    h = act(W @ x + b)
    return np.sum((h - OFFSET) ** 2)


def rnn(Wh, Wx, xs):
    h = np.zeros(3)
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t])
    return np.sum(h * h)
"""


def load(path: Path, name: str | None = None):
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_inputs(rng: np.random.Generator) -> list[np.ndarray]:
    shapes = [(8, 4), (8, 1), (1, 8), (1, 1), (4, 16), (1, 16)]
    return [rng.normal(size=s) for s in shapes]


def numpy_only_path(tmp_path: Path, packages: tuple[str, ...] = ("numpy",)) -> Path:
    """A directory holding numpy (linked) and nothing else (or the ``packages`` named):
    with ``-I -S`` and only it on sys.path, a Python can import numpy but not adcompile."""
    only = tmp_path / "numpy_only"
    only.mkdir()
    for package in packages:
        site = Path(__import__(package).__file__).resolve().parents[1]
        for entry in site.iterdir():
            if entry.name == package or entry.name.startswith(f"{package}.libs"):
                (only / entry.name).symlink_to(entry)
    return only


RUNNER = """\
import sys
sys.path[:] = [{only!r}, {here!r}] + [p for p in sys.path if "site-packages" not in p]
try:
    import adcompile
except ImportError:
    pass
else:
    raise SystemExit("adcompile is importable: the test proves nothing")
import numpy as np
import {module} as exported
args = list(np.load({inputs!r}).values())
np.savez({outputs!r}, *exported.{function}(*args))
print(exported.__all__)
"""


def run_isolated(
    tmp_path: Path, module: str, function: str, args: list, packages: tuple[str, ...] = ("numpy",)
) -> list[np.ndarray]:
    """Run ``module.function(*args)`` in a Python started with -I -S that has numpy only
    (or the ``packages`` named)."""
    inputs, outputs = tmp_path / "inputs.npz", tmp_path / "outputs.npz"
    np.savez(inputs, *args)
    script = tmp_path / "runner.py"
    only = numpy_only_path(tmp_path, packages)
    script.write_text(
        RUNNER.format(
            only=str(only),
            here=str(tmp_path),
            module=module,
            function=function,
            inputs=str(inputs),
            outputs=str(outputs),
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"[{function!r}]"
    loaded = np.load(outputs)
    return [loaded[f"arr_{i}"] for i in range(len(loaded.files))]


def test_the_seed_networks_export_runs_without_adcompile(tmp_path):
    seed = load(SEED, "seed_network_for_export")
    grad = ad.grad(seed.loss, wrt=(0, 1, 2, 3))
    (tmp_path / "seed_grad.py").write_text(grad.export())
    args = seed_inputs(np.random.default_rng(0))
    got = run_isolated(tmp_path, "seed_grad", "grad_loss", args)
    for g, want in zip(got, grad(*args), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


def test_the_command_line_export_of_the_seed_network(tmp_path):
    out = tmp_path / "grad_loss_cli.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "adcompile", "export", f"{SEED}:loss", "--wrt", "W1,b1,W2,b2"]
        + ["-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "adcompile export examples/seed_network.py:loss --wrt W1,b1,W2,b2 -o OUT.py" in text
    assert not re.search(r"^\s*(import|from)\s+adcompile", text, re.MULTILINE)
    exported = load(out)
    assert exported.__all__ == ["grad_loss"]
    seed = load(SEED, "seed_network_for_cli_export")
    args = seed_inputs(np.random.default_rng(1))
    for g, want in zip(
        exported.grad_loss(*args), ad.grad(seed.loss, wrt=(0, 1, 2, 3))(*args), strict=True
    ):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["grad", "value_and_grad", "vjp"])
def test_helpers_constants_and_arrays_are_exported(tmp_path, mode):
    """The pullback of a helper the function calls, a module-level float and array."""
    path = tmp_path / "model_for_export.py"
    path.write_text(MODEL)
    model = load(path)
    rng = np.random.default_rng(2)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=(3, 1)), rng.normal(size=(4, 5))
    derivative = getattr(ad, mode)(model.loss, wrt=(0, 1))
    text = derivative.export()
    assert "def fwd_act(" in text and "def bwd_act(" in text
    assert "SCALE = 0.5" in text and "OFFSET = np.array(" in text
    out = tmp_path / f"exported_{mode}.py"
    out.write_text(text)
    exported = load(out)
    (name,) = exported.__all__
    args = (W, b, x, 1.0) if mode == "vjp" else (W, b, x)
    got, want = getattr(exported, name)(*args), derivative(*args)
    if mode == "value_and_grad":
        assert got[0] == pytest.approx(want[0], rel=1e-12)
        got, want = got[1], want[1]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_an_rnn_exported_from_the_command_line(tmp_path):
    path = tmp_path / "model_rnn.py"
    path.write_text(MODEL.replace("OFFSET = np.array([[0.1], [-0.2], [0.3]])", "OFFSET = 0.25"))
    out = tmp_path / "rnn_exported.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "adcompile", "export", f"{path}:rnn", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    model, exported = load(path), load(out)
    rng = np.random.default_rng(3)
    args = rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=(6, 2))
    for g, w in zip(
        exported.grad_rnn(*args), ad.grad(model.rnn, wrt=(0, 1, 2))(*args), strict=True
    ):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_source_says_what_it_imports_and_runs_when_pasted_with_it(tmp_path):
    seed = load(SEED, "seed_network_for_paste")
    grad = ad.grad(seed.loss, wrt=(0, 1, 2, 3))
    source = grad.source
    header = [line for line in source.splitlines() if line.startswith("#")][:5]
    assert header[0].startswith("# generated by adcompile from loss")
    imports = [line[len("#     ") :] for line in header if line.startswith("#     ")]
    assert "import numpy as np" in imports
    assert any(line.startswith("from adcompile.runtime import ") for line in imports)
    pasted = tmp_path / "pasted.py"
    pasted.write_text("\n".join(imports) + "\n\n\n" + source)
    args = seed_inputs(np.random.default_rng(4))
    for g, w in zip(load(pasted).grad_loss(*args), grad(*args), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_an_object_a_module_cannot_define_is_refused():
    from fractions import Fraction

    from adcompile import export

    with pytest.raises(ad.AdCompileError) as info:
        export.module_text(
            "def g(x):\n    return x * K\n", [{"K": Fraction(1, 3)}], ["g"], "grad of f", ""
        )
    assert "cannot export grad of f" in info.value.reason and "'K'" in info.value.reason
    assert info.value.hint


@pytest.mark.skipif(
    not os.environ.get("ADCOMPILE_VENV_TESTS"),
    reason="creates a virtual environment and installs numpy: set ADCOMPILE_VENV_TESTS=1",
)
def test_the_export_runs_in_a_virtual_environment_with_only_numpy(tmp_path):
    seed = load(SEED, "seed_network_for_venv")
    grad = ad.grad(seed.loss, wrt=(0, 1, 2, 3))
    (tmp_path / "seed_grad_venv.py").write_text(grad.export())
    venv = tmp_path / "venv"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, env=clean)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "numpy"],
        check=True,
        timeout=600,
        env=clean,
    )
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        env=clean,
    ).stdout
    installed = {line.split("==")[0].lower() for line in listed.split()}
    assert installed <= {"numpy", "pip", "setuptools", "wheel"}, installed
    args = seed_inputs(np.random.default_rng(5))
    np.savez(tmp_path / "inputs.npz", *args)
    script = (
        "import numpy as np, seed_grad_venv as m\n"
        "args = list(np.load('inputs.npz').values())\n"
        "np.savez('outputs.npz', *m.grad_loss(*args))\n"
    )
    subprocess.run(
        [str(python), "-I", "-c", f"import sys; sys.path.insert(0, '.')\n{script}"],
        check=True,
        cwd=tmp_path,
        timeout=120,
    )
    loaded = np.load(tmp_path / "outputs.npz")
    for i, want in enumerate(grad(*args)):
        np.testing.assert_allclose(loaded[f"arr_{i}"], want, rtol=1e-12, atol=1e-12)


def test_notebook_representations_show_the_whole_highlighted_source():
    import html
    import re as regex

    seed = load(SEED, "seed_network_for_notebooks")
    grad = ad.grad(seed.loss, wrt=(0, 1, 2, 3))
    page = grad._repr_html_()
    assert page.startswith("<pre") and "<span style=" in page  # highlighted
    text = html.unescape(regex.sub(r"<[^>]+>", "", page))
    assert text.strip("\n") == grad.source.strip("\n")
    assert "#ffffff" not in page  # no white cell behind light text
    markdown = grad._repr_markdown_()
    assert markdown.startswith("```python\n") and markdown.rstrip().endswith("```")
    assert markdown[len("```python\n") :].rstrip().removesuffix("```").rstrip() == (
        grad.source.rstrip()
    )


def test_export_after_a_call_exports_the_code_that_call_ran(tmp_path):
    seed = load(SEED, "seed_network_for_export_after_call")
    grad = ad.grad(seed.loss, wrt=(0, 1, 2, 3))
    args = seed_inputs(np.random.default_rng(1))
    expected = grad(*args)
    (tmp_path / "seed_grad_called.py").write_text(grad.export())
    got = run_isolated(tmp_path, "seed_grad_called", "grad_loss", args)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=0)


def across_the_runtime(A, s):
    """Calls whose adjoints use helpers of several runtime submodules, some calling each
    other: det's adjoint (linalg) uses _prod_others (arrays), max's mask (broadcasting)."""
    return np.linalg.det(A @ A.T + np.eye(3)) + np.prod(s) * np.max(A) + np.linalg.norm(A)


def test_helpers_calling_helpers_of_other_runtime_modules_are_exported(tmp_path):
    """An exported module holds every runtime helper it needs, whichever submodule of
    adcompile.runtime defines it and whichever submodule the helpers it calls are in."""
    from adcompile import runtime

    grad = ad.grad(across_the_runtime, wrt=(0, 1))
    text = grad.export()
    copied = set(re.findall(r"^def (\w+)\(", text, flags=re.M)) | set(
        re.findall(r"^(_\w+) = ", text, flags=re.M)
    )
    assert {"det_adjoint", "_prod_others", "extremum_mask", "unbroadcast"} <= copied
    modules = {m.__name__ for m in runtime.MODULES for n in copied if n in vars(m)}
    assert len(modules) >= 3
    (tmp_path / "across_grad.py").write_text(text)
    rng = np.random.default_rng(5)
    args = [rng.normal(size=(3, 3)), rng.normal(size=4)]
    got = run_isolated(tmp_path, "across_grad", "grad_across_the_runtime", args)
    for g, want in zip(got, grad(*args), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


def test_a_jvp_using_helpers_of_other_runtime_modules_is_exported(tmp_path):
    """prod's tangent (tangents) calls prod_adjoint (arrays), which calls _prod_others."""
    jvp = ad.jvp(across_the_runtime, wrt=1)
    text = jvp.export()
    assert "def prod_tangent(" in text and "def prod_adjoint(" in text
    (tmp_path / "across_jvp.py").write_text(text)
    rng = np.random.default_rng(6)
    args = [rng.normal(size=(3, 3)), rng.normal(size=4), rng.normal(size=4)]
    (name,) = load(tmp_path / "across_jvp.py").__all__
    got = run_isolated(tmp_path, "across_jvp", name, args)
    for g, want in zip(got, jvp(*args), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


def test_every_runtime_helper_is_listed_and_importable_from_the_package():
    """Generated code, rules and export name a helper as adcompile.runtime.X: each public
    function of a runtime submodule is in HELPERS and is the package's attribute."""
    from adcompile import runtime

    for module in runtime.MODULES:
        for name, obj in vars(module).items():
            if callable(obj) and not name.startswith("_") and obj.__module__ == module.__name__:
                assert runtime.HELPERS[name] is obj
                assert getattr(runtime, name) is obj
    assert set(runtime.HELPERS) == {
        n for m in runtime.MODULES for n, o in vars(m).items() if o is runtime.HELPERS.get(n)
    }


STRUCTURED = """\
import numpy as np


def layers(params, x):
    for W, b in params:
        x = np.tanh(x @ W + b)
    return np.sum(x * x)


def indexed(p, x):
    return np.sum(p[0] * x) + p[1] * 2.0


def scalars(p, x):
    return np.sum(x) * p[0] + p[1]


def keyed(d, x):
    return np.sum(d["w"] * x) * d["s"]


def flagged(x, flag):
    y = x * x
    if flag:
        y = y * 2.0
    return np.sum(y)
"""


def same_structure(got, want) -> None:
    """``got`` has ``want``'s types and structure, and its values to 1e-12."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, list | tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            same_structure(g, w)
    elif isinstance(want, dict):
        assert got.keys() == want.keys()
        for k in want:
            same_structure(got[k], want[k])
    else:
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def structured_cases(rng: np.random.Generator):
    W, b, x = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(4, 3))
    return [
        ("layers", [(W, b), (W * 0.5, b)], x),
        ("indexed", [x, 1.5], x),
        ("scalars", [1.5, 2.0], x),
        ("scalars", (1.5, 2.0), x),
        ("keyed", {"w": x, "s": 2.0}, x),
    ]


@pytest.mark.parametrize("mode", ["grad", "value_and_grad", "vjp"])
def test_an_export_after_a_call_with_lists_tuples_and_dicts_is_what_adcompile_returns(
    tmp_path, mode
):
    """Code generated for the structure of list, tuple and dict arguments, exported and
    run without adcompile, returns what adcompile does: the same values, and gradients
    of the type and structure of their inputs."""
    path = tmp_path / "structured_model.py"
    path.write_text(STRUCTURED)
    model = load(path)
    for i, (name, p, x) in enumerate(structured_cases(np.random.default_rng(7))):
        derivative = getattr(ad, mode)(getattr(model, name), wrt=(0, 1))
        args = (p, x, 1.0) if mode == "vjp" else (p, x)
        want = derivative(*args)
        out = tmp_path / f"structured_{mode}_{i}.py"
        out.write_text(derivative.export())
        exported = load(out)
        got = getattr(exported, exported.__all__[0])(*args)
        same_structure(got, want)


def test_an_export_made_before_any_call_refuses_lists_tuples_and_dicts(tmp_path):
    """Before any call, adcompile generates code for arrays and numbers: exported, it
    refuses a list, tuple or dict argument, saying how to export code for one."""
    path = tmp_path / "structured_early.py"
    path.write_text(STRUCTURED)
    model = load(path)
    for i, (name, p, x) in enumerate(structured_cases(np.random.default_rng(8))):
        out = tmp_path / f"structured_early_{i}.py"
        out.write_text(ad.grad(getattr(model, name)).export())
        exported = load(out)
        with pytest.raises(TypeError) as info:
            getattr(exported, f"grad_{name}")(p, x)
        message = str(info.value)
        assert "exported for arguments that are arrays or numbers" in message, message
        param = {"layers": "params", "keyed": "d"}.get(name, "p")
        assert f"{param} is a {type(p).__name__}" in message, message
        assert "g.export()" in message


def test_an_export_for_a_structure_or_shapes_refuses_others(tmp_path):
    path = tmp_path / "structured_other.py"
    path.write_text(STRUCTURED)
    model = load(path)
    rng = np.random.default_rng(9)
    x = rng.normal(size=(4, 3))
    grad = ad.grad(model.indexed)
    grad([x, 1.5], x)
    out = tmp_path / "structured_other_exported.py"
    out.write_text(grad.export())
    exported = load(out)
    for p, y in [([x, 1.5, 2.0], x), ((x, 1.5), x), ([x[:2], 1.5], x[:2]), ([x, 1.5], x[:, :2])]:
        with pytest.raises(TypeError, match="exported for (p|x) of shape and structure"):
            exported.grad_indexed(p, y)
    same_structure(exported.grad_indexed([x, 1.5], x), grad([x, 1.5], x))


def test_a_general_export_accepts_arrays_of_any_shape(tmp_path):
    path = tmp_path / "model_general.py"
    path.write_text(MODEL)
    model = load(path)
    out = tmp_path / "general_exported.py"
    out.write_text(ad.grad(model.loss, wrt=(0, 1, 2)).export())  # before any call
    exported = load(out)
    rng = np.random.default_rng(10)
    for n in (2, 5):
        args = rng.normal(size=(3, 4)), rng.normal(size=(3, 1)), rng.normal(size=(4, n))
        same_structure(exported.grad_loss(*args), ad.grad(model.loss, wrt=(0, 1, 2))(*args))


WITH_SCIPY = """\
import numpy as np
import scipy
import scipy.special
from scipy.special import expit, gammaln


def loss(x, mean):
    a = np.sum(expit(x) * gammaln(x + 2)) + np.sum(scipy.special.erf(x) * x)
    return a + np.sum(scipy.stats.multivariate_normal.logpdf(x, mean, np.eye(3)))


def plain(x):
    return np.sum(np.tanh(x))
"""


def test_a_gradient_using_scipy_is_exported_with_scipy_imports(tmp_path):
    """scipy's functions are exported as imports of scipy: the module needs numpy and
    scipy (and says so), and runs in a Python that has only those two."""
    pytest.importorskip("scipy")
    import scipy.stats  # noqa: F401 (the model reads scipy.stats through scipy)

    path = tmp_path / "model_with_scipy.py"
    path.write_text(WITH_SCIPY)
    model = load(path)
    grad = ad.grad(model.loss, wrt=(0, 1))
    assert "needs numpy and scipy" in grad.source
    text = grad.export()
    assert "It needs numpy and scipy" in " ".join(text.split())
    assert "from scipy.special import expit" in text and "import scipy.stats" in text
    (tmp_path / "scipy_grad.py").write_text(text)
    rng = np.random.default_rng(11)
    args = [rng.normal(size=(4, 3)), rng.normal(size=3)]
    got = run_isolated(tmp_path, "scipy_grad", "grad_loss", args, ("numpy", "scipy"))
    for g, want in zip(got, grad(*args), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)
    plain = ad.grad(model.plain)
    assert "needs only numpy" in plain.source
    assert "It needs only numpy" in " ".join(plain.export().split())
    assert not re.search(r"^(import|from) scipy", plain.export(), re.MULTILINE)


def test_other_libraries_are_still_refused():
    from adcompile import export

    with pytest.raises(ad.AdCompileError) as info:
        export.module_text(
            "def g(x):\n    return j.sum(x)\n", [{"j": pytest}], ["g"], "grad of f", ""
        )
    assert "numpy and scipy only" in info.value.reason


def test_an_export_takes_any_object_where_its_code_does(tmp_path):
    """An argument that is not an array or a number (None, a string) does not shape
    the generated code: the export takes any object there."""
    path = tmp_path / "structured_flag.py"
    path.write_text(STRUCTURED)
    model = load(path)
    x = np.arange(3.0)
    grad = ad.grad(model.flagged)
    grad(x, None)
    out = tmp_path / "structured_flag_exported.py"
    out.write_text(grad.export())
    exported = load(out)
    for flag in (None, "yes", ""):
        same_structure(exported.grad_flagged(x, flag), ad.grad(model.flagged)(x, flag))
