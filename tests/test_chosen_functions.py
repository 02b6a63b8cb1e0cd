"""A function chosen by a condition (``act = np.tanh if flag else np.sin``, or in the
branches of an ``if``) and then called, or passed to a helper that calls it: the call
is an ``if`` on the same condition, with each function called in its branch. A loop
over a tuple or list of functions (``for act in (np.tanh, np.sin):``, ``for W, act in
layers:``) and an index computed at run time (``acts[k % 3](h)``) choose the same way,
by the index.

Each function is checked against the function run by plain Python, central finite
differences in float64 and autograd (the same text run with autograd's numpy) in
``grad``, ``value_and_grad``, ``vjp`` and ``jvp``, for each value of the condition.
"""

from __future__ import annotations

import textwrap

import autograd
import numpy as np
import pytest
from fuzzcheck import load
from helpers import central_in_argument as central
from helpers import load_with_autograd, normal

import adcompile as ad

SOURCE = textwrap.dedent(
    """
    import numpy as np

    USE_TANH = True


    def softplus(z):
        return np.log1p(np.exp(z))


    def layer(W, x, act):
        return act(W @ x)


    def by_parameter(x, flag):
        act = np.tanh if flag else np.sin
        return np.sum(act(x) ** 2)


    def by_global(x):
        act = np.tanh if USE_TANH else np.sin
        return np.sum(act(x))


    def by_value(x):
        act = np.tanh if np.sum(x) > 0 else np.cos
        return np.sum(act(x) * x)


    def nested_in_a_loop(W, x, flag, deep):
        act = np.tanh if flag else (softplus if deep else np.sin)
        h = x
        for _ in range(2):
            h = layer(W, h, act)
        return np.sum(act(h) ** 2)


    def by_keyword(W, x, flag):
        act = softplus if flag else np.tanh
        return np.sum(layer(W, x, act=act))


    def by_if_statement(x, flag):
        if flag:
            act = np.cos
        else:
            act = np.exp
        return np.sum(act(x) * x)


    def default_or_other(W, x, flag, nonlinearity=np.tanh):
        act = nonlinearity if flag else np.sin
        return np.sum(act(W @ x))


    def loop_over_functions(x, flag):
        h = x
        for act in (np.tanh, np.sin, softplus):
            h = act(h) * 0.9
        return np.sum(h**2) + np.sum(act(x))  # (after the loop: the last one)


    def loop_over_layers(W, x, flag):
        layers = [(W, np.tanh), (W.T, softplus), (W * 0.5, np.sin)]
        h = x
        for i, (M, act) in enumerate(reversed(layers)):
            h = layer(M, h, act) + i * 0.1  # (passed to a helper too)
            if np.sum(h) > 10.0:
                break
        return np.sum(h**2)


    def indexed_at_run_time(x):
        acts = [np.tanh, np.cos, np.sin]
        h = x
        k = 0
        while k < 5:
            h = acts[k % 3](h) + acts[-1 - k % 2](x)
            k += 1
        return np.sum(h) + np.sum(acts[1](x))


    def unpacked_layer(W, x, flag):
        layers = [(W, np.tanh), (W.T, np.sin)]
        M, act = layers[1]
        return np.sum(act(M @ x))


    def functions_as_arguments(x, acts):
        h = x
        for i in range(len(acts)):
            h = acts[i](h) * (i + 1.0)
        return np.sum(h)
    """
)


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    return load_with_autograd(tmp_path_factory, SOURCE, "chosen_functions")


W = normal(3, 3, seed=1) * 0.5
CASES = [
    ("by_parameter", (normal(4), True), (0,)),
    ("by_parameter", (normal(4), False), (0,)),
    ("by_global", (normal(4),), (0,)),
    ("by_value", (np.abs(normal(4)),), (0,)),
    ("by_value", (-np.abs(normal(4)),), (0,)),
    ("nested_in_a_loop", (W, normal(3, seed=2), True, False), (0, 1)),
    ("nested_in_a_loop", (W, normal(3, seed=2), False, True), (0, 1)),
    ("nested_in_a_loop", (W, normal(3, seed=2), False, False), (0, 1)),
    ("by_keyword", (W, normal(3, seed=3), True), (0, 1)),
    ("by_keyword", (W, normal(3, seed=3), False), (0, 1)),
    ("by_if_statement", (normal(4), True), (0,)),
    ("by_if_statement", (normal(4), False), (0,)),
    ("default_or_other", (W, normal(3, seed=4), True), (0, 1)),
    ("default_or_other", (W, normal(3, seed=4), False), (0, 1)),
    # a loop over functions, or an index computed at run time: the choice by the index
    ("loop_over_functions", (normal(4), True), (0,)),
    ("loop_over_layers", (W, normal(3, seed=5), True), (0, 1)),
    ("indexed_at_run_time", (normal(4),), (0,)),
    ("functions_as_arguments", (normal(3), (np.tanh, np.sin)), (0,)),
    # (a list holding functions: the forward mode gives them no tangent)
    ("unpacked_layer", (W, normal(3, seed=6), True), (0, 1)),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c[0]}-{'-'.join(map(str, c[1][2:] or c[1][1:2]))}" for c in CASES]
)
def test_a_chosen_function_is_called_as_python_calls_it(modules, case):
    plain, auto = modules
    name, args, wrt = case
    f, fa = getattr(plain, name), getattr(auto, name)
    oracle = [np.asarray(autograd.grad(fa, i)(*args)) for i in wrt]
    for i, o in zip(wrt, oracle, strict=True):
        np.testing.assert_allclose(o, central(f, args, i), rtol=1e-6, atol=1e-8)
    spelled = wrt[0] if len(wrt) == 1 else wrt

    def check(got, factor=1.0, what="grad"):
        got = (got,) if len(wrt) == 1 else got
        for g, o in zip(got, oracle, strict=True):
            np.testing.assert_allclose(g, factor * o, rtol=1e-9, atol=1e-12, err_msg=what)

    check(ad.grad(f, wrt=spelled)(*args))
    value, g = ad.value_and_grad(f, wrt=spelled)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    check(g, what="value_and_grad")
    check(ad.vjp(f, wrt=spelled)(*args, cotangent=0.5), 0.5, "vjp")
    directions = tuple(normal(*np.shape(args[i]), seed=30 + i) for i in wrt)
    value, tangent = ad.jvp(f, wrt=spelled)(
        *args, tangent=directions[0] if len(wrt) == 1 else directions
    )
    assert value == pytest.approx(f(*args), rel=1e-12)
    expected = sum(np.sum(o * d) for o, d in zip(oracle, directions, strict=True))
    assert tangent == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_rebinding_the_global_condition_recompiles(modules):
    plain = modules[0]
    x = normal(4)
    gradient = ad.grad(plain.by_global)
    np.testing.assert_allclose(gradient(x), 1 - np.tanh(x) ** 2)
    plain.USE_TANH = False
    try:
        np.testing.assert_allclose(gradient(x), np.cos(x))
    finally:
        plain.USE_TANH = True


SOURCE_REFUSED = textwrap.dedent(
    """
    import numpy as np


    def returns_it(x, flag):
        act = np.tanh if flag else np.sin
        return act


    def pair(z):
        return z, 2.0 * z


    def different_results(x, flag):
        act = np.tanh if flag else pair
        return np.sum(act(x))


    def kept_in_a_list(x, flag):
        kept = []
        for i in range(2):
            act = np.tanh if i == 0 else np.sin
            kept.append((act, 1.0))
        return np.sum(kept[0][0](x))


    def collected(x, flag):
        fs = [f for f in (np.tanh, np.sin)]
        return np.sum(fs[0](x))
    """
)


@pytest.mark.parametrize(
    ("name", "reason", "line"),
    [
        ("returns_it", "returns_it returns a function, which has no derivative", "return act"),
        (
            "different_results",
            "the functions this call chooses between return values of different structure",
            "act(x)",
        ),
        # (the list outlives the condition of each element, which each iteration
        # computes again: it would call the last iteration's choice)
        ("kept_in_a_list", "cannot be put into a list, tuple or dict", "kept.append((act, 1.0))"),
        ("collected", "cannot be put into a list, tuple or dict", "fs = [f for f in"),
    ],
)
def test_what_cannot_be_chosen_is_refused_where_it_is(tmp_path, name, reason, line):
    module, _ = load(tmp_path, SOURCE_REFUSED, "refused_choices")
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(getattr(module, name))(normal(3), True)
    assert reason in info.value.reason
    assert line in info.value.line
    assert info.value.hint


# ------------------------------------------------ read from a file: the command line

FILE = textwrap.dedent(
    """
    import numpy as np


    def softplus(z):
        return np.log1p(np.exp(z))


    def mlp(W, x, nonlinearity=np.tanh):
        return np.sum(nonlinearity(x @ W) ** 2)


    def mlp_own(W, x, nonlinearity=softplus):
        return np.sum(nonlinearity(x @ W) ** 2)


    def mlp_chosen(W, x, flag=True):
        act = np.tanh if flag else softplus
        return np.sum(act(x @ W) ** 2)
    """
)


@pytest.mark.parametrize("name", ["mlp", "mlp_own", "mlp_chosen"])
def test_the_command_line_compiles_for_a_default_function(tmp_path, name):
    """``adcompile show FILE.py:mlp`` reads ``nonlinearity=np.tanh`` (or a function of the
    file) as the function the code calls; the code it shows computes the gradient."""
    import contextlib
    import io

    from adcompile.api import compile_linked
    from adcompile.cli import main
    from adcompile.static import build_static

    path = tmp_path / "model.py"
    path.write_text(FILE)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["show", f"{path}:{name}", "--wrt", "W"])
    assert status in (0, None), err.getvalue()
    assert f"def grad_{name}(W, x, " in out.getvalue()
    module, _ = load(tmp_path, FILE, "model_live")
    f = getattr(module, name)
    W, x = normal(3, 2, seed=5) * 0.5, normal(3, seed=6)
    _, _, gen, _ = build_static(str(path), name, "W", "grad")
    code = compile_linked(gen, f"<static {name}>")
    third = True if name == "mlp_chosen" else None  # (the code was compiled for the default)
    np.testing.assert_allclose(code(W, x, third), central(f, (W, x), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(code(W, x, third), ad.grad(f)(W, x), rtol=1e-12)


def test_code_for_a_function_argument_is_not_exported(tmp_path, modules):
    """The exported module could not check which function a call passes: refused, in
    Python and on the command line."""
    from adcompile.cli import main

    gradient = ad.grad(modules[0].default_or_other)
    gradient(W, normal(3), True)
    with pytest.raises(ad.AdCompileError, match="cannot export a derivative compiled for"):
        gradient.export()
    path = tmp_path / "model.py"
    path.write_text(FILE)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["export", f"{path}:mlp", "--wrt", "W"])
    assert status != 0
    assert "cannot export a derivative compiled for the function 'nonlinearity'" in err.getvalue()
