"""Compiled code follows the rebinding of every free name it resolved.

A gradient bakes in what each free name meant when it was compiled: the rule of the
primitive a global held, a called helper's own pullback (which bakes in what the
helper's names meant), a module, a number, an array, a closure variable. When any of
those names is rebound (``m.act = other``, ``m.ACT = np.sin``, ``nonlocal scale``),
the next call must compute what Python computes now: through the slow path, through
the dispatcher of an existing gradient object, and for a new gradient object of the
same function (the compile cache). Each test imports real modules written to a
temporary directory, rebinds, and compares values with the function run by Python and
gradients with central finite differences.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import textwrap

import numpy as np
import pytest

import adcompile as ad
from adcompile.checking import numeric_grad
from adcompile.errors import AdCompileError

X = np.array([0.5, -1.2, 0.3, 2.0])
_COUNTER = itertools.count()


@pytest.fixture
def load(tmp_path, monkeypatch):
    """Write modules to tmp_path and import them: ``load(name=source, ...)`` returns the
    modules in order (module names are made unique; ``{name}`` in a source is replaced
    by the unique name of that module, for imports between them)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded: list[str] = []

    def make(**sources: str):
        n = next(_COUNTER)
        real = {name: f"rebind_{name}_{n}" for name in sources}
        for name, text in sources.items():
            text = textwrap.dedent(text).format(**real)
            (tmp_path / f"{real[name]}.py").write_text(text)
        importlib.invalidate_caches()
        modules = []
        for name in sources:
            modules.append(importlib.import_module(real[name]))
            loaded.append(real[name])
        return modules

    yield make
    for name in loaded:
        sys.modules.pop(name, None)


def check_now(fn, *gradient_functions, x=X):
    """Every gradient function (grad or value_and_grad of ``fn``, wrt 0) and a new
    value_and_grad of ``fn``, each called three times so that the dispatcher runs,
    give Python's value and the finite-difference gradient of ``fn`` as it is now."""
    expected_value = fn(x)
    expected_grad = numeric_grad(fn, [x], 0)
    for g in (*gradient_functions, ad.value_and_grad(fn)):
        for _ in range(3):
            out = g(x)
            if g.mode == "value_and_grad":
                value, out = out
                np.testing.assert_allclose(value, expected_value, rtol=1e-12)
            np.testing.assert_allclose(out, expected_grad, rtol=1e-6, atol=1e-8)


HELPERS = """
    import numpy as np

    def act(x):
        return np.tanh(x)

    def smooth(x):
        return np.sin(x) * x

    def loss(x):
        return np.sum(act(x) ** 2)

    ACT = np.tanh

    def loss2(x):
        return np.sum(ACT(x) ** 2)
"""


def test_rebinding_a_helper_function(load):
    (m,) = load(m=HELPERS)
    vg, g = ad.value_and_grad(m.loss), ad.grad(m.loss)
    check_now(m.loss, vg, g)
    m.act = m.smooth
    check_now(m.loss, vg, g)
    m.act = np.cos  # now a library primitive with a rule
    check_now(m.loss, vg, g)


def test_rebinding_a_global_that_holds_a_library_function(load):
    (m,) = load(m=HELPERS)
    vg, g = ad.value_and_grad(m.loss2), ad.grad(m.loss2)
    check_now(m.loss2, vg, g)
    m.ACT = np.sin
    check_now(m.loss2, vg, g)
    m.ACT = m.smooth  # now a user function: differentiated through its pullback
    check_now(m.loss2, vg, g)
    m.ACT = np.tanh  # and back
    check_now(m.loss2, vg, g)


def test_rebinding_a_helpers_own_global_in_another_module(load):
    # loss calls mid (in another module), which calls act from its own module: the
    # pullback of mid baked in act, so act's rebinding in mid's module counts too
    lib, m = load(
        lib="""
        import numpy as np

        SCALE = 2.0

        def act(x):
            return np.tanh(x)

        def mid(x):
            return act(x) * SCALE
        """,
        m="""
        import numpy as np
        from {lib} import mid

        def loss(x):
            return np.sum(mid(x) ** 2)
        """,
    )
    vg = ad.value_and_grad(m.loss)
    check_now(m.loss, vg)
    lib.act = np.sin
    check_now(m.loss, vg)
    lib.SCALE = 0.5
    check_now(m.loss, vg)


def test_rebinding_an_attribute_of_a_user_module(load):
    lib, m = load(
        lib="""
        import numpy as np

        def act(x):
            return np.tanh(x)

        def other(x):
            return np.exp(-x * x)
        """,
        m="""
        import numpy as np
        import {lib} as lib

        def loss(x):
            return np.sum(lib.act(x) * x)
        """,
    )
    vg = ad.value_and_grad(m.loss)
    check_now(m.loss, vg)
    lib.act = lib.other
    check_now(m.loss, vg)


def test_rebinding_a_global_that_names_a_module(load):
    a, b, m = load(
        a="""
        import numpy as np

        def act(x):
            return np.tanh(x)
        """,
        b="""
        import numpy as np

        def act(x):
            return x * x * x
        """,
        m="""
        import numpy as np
        import {a} as lib

        def loss(x):
            return np.sum(lib.act(x))
        """,
    )
    vg = ad.value_and_grad(m.loss)
    check_now(m.loss, vg)
    m.lib = b
    check_now(m.loss, vg)


def test_shadowing_a_builtin_at_module_level(load):
    (m,) = load(
        m="""
        import numpy as np

        def loss(x):
            return np.sum(abs(x) * x)

        def cube(x):
            return x * x * x
        """
    )
    vg = ad.value_and_grad(m.loss)
    check_now(m.loss, vg)
    m.abs = m.cube  # a module-level name now hides the builtin
    check_now(m.loss, vg)
    del m.abs
    check_now(m.loss, vg)


def test_rebinding_numbers_and_arrays(load):
    (m,) = load(
        m="""
        import numpy as np

        W = np.array([1.0, 2.0, -1.0, 0.5])
        K = 3.0

        def loss(x):
            return np.sum(np.tanh(W * x) * K)
        """
    )
    vg = ad.value_and_grad(m.loss)
    check_now(m.loss, vg)
    m.W = np.array([-2.0, 0.1, 0.7, 1.0])
    check_now(m.loss, vg)
    m.K = -0.25
    check_now(m.loss, vg)


def test_rebinding_a_closure_variable(load):
    (m,) = load(
        m="""
        import numpy as np

        def make():
            scale = 2.0
            act = np.tanh

            def loss(x):
                return np.sum(act(x) * scale)

            def rebind(new_scale, new_act):
                nonlocal scale, act
                scale, act = new_scale, new_act

            return loss, rebind

        def smooth(x):
            return np.sin(x) * x
        """
    )
    loss, rebind = m.make()
    vg = ad.value_and_grad(loss)
    check_now(loss, vg)
    rebind(-3.0, np.tanh)
    check_now(loss, vg)
    rebind(-3.0, m.smooth)
    check_now(loss, vg)


def test_a_deleted_global_is_a_located_error_not_old_code(load):
    (m,) = load(m=HELPERS)
    vg = ad.value_and_grad(m.loss)
    check_now(m.loss, vg)
    del m.act
    with pytest.raises(AdCompileError, match="'act' is not defined") as info:
        vg(X)
    assert info.value.lineno is not None
    with pytest.raises(NameError):
        m.loss(X)


def test_code_is_reused_while_nothing_is_rebound(load):
    (m,) = load(m=HELPERS)
    vg = ad.value_and_grad(m.loss)
    vg(X)
    vg(X)
    dispatcher, code = vg._fast, vg._latest[0]
    m.UNRELATED = 1.0  # a name the code never read
    vg(X)
    assert vg._fast is dispatcher and vg._latest[0] is code
    other = ad.value_and_grad(m.loss)
    other(X)
    assert other._latest[0] is code  # the compile cache serves a new gradient object


def test_rebinding_a_closure_variable_of_a_helper(load):
    # loss calls a module-level helper that is itself a closure: the helper's pullback
    # baked in its cell, so rebinding the cell recompiles loss's gradient
    (m,) = load(
        m="""
        import numpy as np

        def make_act():
            slope = 0.5
            inner = np.tanh

            def act(x):
                return inner(x) * slope

            def rebind(new_slope, new_inner):
                nonlocal slope, inner
                slope, inner = new_slope, new_inner

            return act, rebind

        act, rebind = make_act()

        def loss(x):
            return np.sum(act(x) ** 2)
        """
    )
    vg = ad.value_and_grad(m.loss)
    check_now(m.loss, vg)
    m.rebind(-2.0, np.tanh)
    check_now(m.loss, vg)
    m.rebind(-2.0, np.sin)
    check_now(m.loss, vg)
