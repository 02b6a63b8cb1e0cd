"""NaN hunting: ``grad(f, debug_nans=True)`` and its value_and_grad and vjp forms.

The first adjoint that is not finite although everything it was computed from is
raises FloatingPointError naming the user's line; everything else runs as without
the option, to the same numbers.
"""

from __future__ import annotations

import importlib.util
import inspect
import warnings

import numpy as np
import pytest

import adcompile as ad
from adcompile.checking import numeric_grad

MODULE = """\
import numpy as np


def root(x):
    r = np.sqrt(x)
    return np.sum(r * 2.0)


def looped(h):
    total = 0.0
    for i in range(3):
        total = total + np.sum(np.sqrt(h * i))
    return total


def safe(z):
    return np.sqrt(z)


def calls(W, x):
    h = safe(W @ x)
    return np.sum(h)


def overflowing(x):
    y = np.exp(x)
    z = y * 0.0
    return np.sum(np.log(z + 1.0) + x)
"""

MODES = ["grad", "value_and_grad", "vjp"]


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    path = tmp_path_factory.mktemp("nans") / "nan_module.py"
    path.write_text(MODULE)
    spec = importlib.util.spec_from_file_location("nan_module", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def line_of(fn, text: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def call(mode: str, fn, args, wrt=0, debug_nans=True):
    d = getattr(ad, mode)(fn, wrt=wrt, debug_nans=debug_nans)
    extra = (1.0,) if mode == "vjp" else ()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return d(*args, *extra)


@pytest.mark.parametrize("mode", MODES)
def test_the_first_non_finite_adjoint_names_its_line(module, mode):
    with pytest.raises(FloatingPointError) as info:
        call(mode, module.root, (np.array([1.0, 0.0, 4.0]),))
    message = str(info.value)
    lineno = line_of(module.root, "r = np.sqrt(x)")
    assert f"nan_module.py:{lineno}: " in message.splitlines()[0]
    assert "r = np.sqrt(x)" in message
    assert "dx" in message and "adjoint of x" in message  # the variable
    assert "r = [1. 0. 2.]" in message  # the forward value it came from
    assert "inf" in message.splitlines()[0]


@pytest.mark.parametrize("mode", MODES)
def test_in_a_loop_and_in_a_called_function(module, mode):
    with pytest.raises(FloatingPointError) as info:
        call(mode, module.looped, (np.zeros(2),))
    assert f":{line_of(module.looped, 'total = total +')}:" in str(info.value).splitlines()[0]
    with pytest.raises(FloatingPointError) as info:
        call(mode, module.calls, (np.array([[1.0, -1.0]]), np.ones(2)))
    assert f":{line_of(module.safe, 'return np.sqrt(z)')}:" in str(info.value).splitlines()[0]


@pytest.mark.parametrize("mode", MODES)
def test_finite_gradients_are_those_without_the_option(module, mode):
    """Same numbers as without debug_nans, which agree with finite differences."""
    x = np.array([0.5, 1.5, 4.0])
    checked = call(mode, module.root, (x,))
    plain = call(mode, module.root, (x,), debug_nans=False)
    if mode == "value_and_grad":
        assert checked[0] == plain[0]
        checked, plain = checked[1], plain[1]
    np.testing.assert_array_equal(checked, plain)
    np.testing.assert_allclose(plain, numeric_grad(module.root, [x], 0), rtol=1e-6)


def test_non_finite_values_from_non_finite_inputs_are_not_blamed(module):
    """exp overflows in the forward sweep: the NaN gradient is computed from an
    infinite value, so no line of the reverse sweep is where it first appeared."""
    got = call("grad", module.overflowing, (np.array([1000.0]),))
    plain = call("grad", module.overflowing, (np.array([1000.0]),), debug_nans=False)
    np.testing.assert_array_equal(got, plain)
    assert np.isnan(got).all()


def test_off_by_default_the_code_has_no_checks(module):
    plain = ad.grad(module.root)
    assert "check_adjoints" not in plain.source
    assert "check_adjoints" in ad.grad(module.root, debug_nans=True).source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isinf(plain(np.array([1.0, 0.0]))).any()  # computed, not raised


def test_a_debug_gradient_is_not_exported(module):
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(module.root, debug_nans=True).export()
    assert "debug_nans" in info.value.reason
