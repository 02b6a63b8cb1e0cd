"""Every function of autograd's derivative table is differentiated correctly or
refused by name (docs/tools/library_coverage.py has the probes), and
docs/coverage.md is the table of what the probes find today."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import adcompile as ad
from adcompile import runtime

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "tools" / "library_coverage.py"

# differentiated today: a change that loses one fails here (raise it as rules are added)
AT_LEAST = 167


def load_script():
    spec = importlib.util.spec_from_file_location("library_coverage", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def probed():
    script = load_script()
    return script, script.run_all()


def test_no_function_of_the_table_gives_a_wrong_gradient_or_crashes(probed):
    _, rows = probed
    bad = [r for r in rows if r[2] in ("wrong", "crash")]
    assert not bad, "\n".join(" ".join(r) for r in bad)


def test_every_function_not_differentiated_is_refused_by_name(probed):
    _, rows = probed
    for library, name, outcome, detail in rows:
        if outcome == "refused":
            assert name in detail, (library, name, detail)
            assert "library_coverage.py:" in detail  # located at the probe's line


def test_coverage_does_not_go_down(probed):
    _, rows = probed
    assert sum(r[2] == "ok" for r in rows) >= AT_LEAST


def test_every_library_function_of_the_table_has_a_probe(probed):
    script, rows = probed
    assert len(rows) == len({(r[0], r[1]) for r in rows})  # no function probed twice
    assert {r[0] for r in rows} == set(script.LIBRARIES)


def test_coverage_page_is_up_to_date(probed):
    script, rows = probed
    page = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert page == script.render(rows), (
        "docs/coverage.md is out of date: run python docs/tools/library_coverage.py --write"
    )


def _raw_gradient(fn, wrt):
    """The generated gradient run as plain Python, without the API's final cast of each
    gradient to its input's dtype: the dtype the reverse sweep computes in."""
    source = ad.grad(fn, wrt=wrt).source
    namespace = {**fn.__globals__, **runtime.HELPERS, "math": math}
    exec(source, namespace)
    return namespace[ast.parse(source).body[0].name]


def _float32(v: object) -> object:
    return v.astype(np.float32) if isinstance(v, np.ndarray) else v


def test_float32_in_float32_out_for_every_function_of_the_table(probed):
    # where the function itself keeps float32 (scipy's polygamma, yn, gammainc and
    # betainc compute float32 operands in float64: their gradients may too), the
    # reverse sweep computes in float32, not only the API's final cast
    script, _ = probed
    checked = []
    for library, name, fn in script.PROBES:
        if isinstance(fn, str):
            continue
        params = list(inspect.signature(fn).parameters)
        args = script.arguments(params)
        args["w"] = script.weights(fn, args)
        args = {k: _float32(v) for k, v in args.items()}
        wrt = tuple(p for p in params if p != "w" and isinstance(args[p], np.ndarray))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not wrt or np.result_type(fn(**args)) != np.float32:
                continue
            grads = _raw_gradient(fn, wrt)(**args)
        for g in grads if len(wrt) > 1 else (grads,):
            assert np.result_type(g) == np.float32, f"{library}.{name}"
        checked.append(name)
    assert len(checked) >= 150
