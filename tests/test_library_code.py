"""A function of the standard library or of an installed package is a primitive: it
has an adjoint rule or it is refused by name at the user's call. adcompile never
reads a library's own source as if it were the user's code."""

from __future__ import annotations

import statistics
import sys
import textwrap

import numpy as np
import pytest

import adcompile as ad
from adcompile import frontend


def mean_of(x):
    return statistics.fmean(x)


def test_a_pure_python_function_of_the_standard_library_is_refused_by_name():
    """statistics.fmean is written in Python: it is refused at the user's line, not
    differentiated from the library's source (which adcompile would refuse at a line
    of statistics.py, or differentiate as the user's code)."""
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(mean_of)([1.0, 2.0])
    err = info.value
    assert "statistics.fmean has no adjoint rule" in err.reason
    assert err.filename.endswith("test_library_code.py")
    assert err.line.strip() == "return statistics.fmean(x)"
    assert "@adcompile.adjoint(statistics.fmean)" in err.hint


def test_library_functions_are_told_from_the_users_own(tmp_path, monkeypatch):
    assert frontend.is_library_function(statistics.fmean)
    assert frontend.is_library_function(np.linalg.norm)
    assert frontend.is_library_function(textwrap.dedent)
    assert not frontend.is_library_function(mean_of)
    # a function of the user's own file, wherever the file is
    (tmp_path / "mymodel.py").write_text("def loss(x):\n    return x * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import mymodel

    assert not frontend.is_library_function(mymodel.loss)
    assert ad.grad(mymodel.loss)(3.0) == 6.0
    sys.modules.pop("mymodel", None)


def test_a_registered_rule_makes_a_library_function_usable():
    """The refusal's advice works: a rule for the library function is used."""
    from adcompile.rules import registry

    state = registry.snapshot()
    try:

        @ad.adjoint(statistics.fmean)
        def fmean(dy, y, data):
            return dy * np.ones_like(data) / len(data)

        x = np.array([1.0, 2.0, 4.0])
        np.testing.assert_allclose(ad.grad(mean_of)(x), np.full(3, 1 / 3))
    finally:
        registry.restore(state)
