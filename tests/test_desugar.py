"""Comprehensions, nested functions, lambdas, closures, user calls in conditions and
nested zip/enumerate/reversed: each program is checked in every reverse mode against
plain Python (its value), central finite differences and autograd (tests/fuzzcheck.py),
and in forward mode against the reverse gradient; then the refusals of what Python's
meaning cannot be kept for."""

from __future__ import annotations

import logging

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import adcompile as ad
from adcompile.checking import numeric_grad
from adcompile.errors import AdCompileError
from tests import fuzzcheck
from tests.helpers import assert_grad_matches_fd

RNG = np.random.default_rng(7)


def matrices(n: int, size: int = 3) -> list:
    return [RNG.normal(size=(size, size)) * 0.5 for _ in range(n)]


def vectors(n: int, size: int = 3) -> list:
    return [RNG.normal(size=size) for _ in range(n)]


X = RNG.normal(size=3)

# name -> (body of f after `import numpy as np`, arguments, wrt)
PROGRAMS = {
    "list comprehension": (
        """
def f(Ws, x):
    hs = [np.tanh(W @ x) for W in Ws]
    return np.sum(hs[0] * hs[1]) + np.sum(hs[-1])
""",
        [matrices(3), X],
        (0, 1),
    ),
    "generator expression in sum": (
        """
def f(Ws, x):
    return sum(np.sum(W ** 2) for W in Ws) + np.sum(x)
""",
        [matrices(3), X],
        (0, 1),
    ),
    "comprehension with filters and two generators": (
        """
def f(xs, n):
    ys = [x * i for x in xs for i in range(n) if i % 2 == 0 if i > -1]
    zs = [np.sin(y) * z for y in ys for z in ys if np.sum(z) > -100.0]
    return np.sum(sum(zs))
""",
        [vectors(1) + [X], 5],
        (0,),
    ),
    "comprehension variable shadows a variable": (
        """
def f(W, x):
    y = x * 2.0
    parts = [np.tanh(W @ y) for y in [x, x * 3.0]]
    return np.sum(parts[0] * y) + np.sum(parts[1])
""",
        [matrices(1)[0], X],
        (0, 1),
    ),
    "nested comprehension": (
        """
def f(Ws, x):
    rows = [[np.sum(W[i] * x) for i in range(2)] for W in Ws]
    return sum(r[0] * r[1] for r in rows)
""",
        [matrices(2), X],
        (0, 1),
    ),
    "comprehension in a condition": (
        """
def f(x):
    if sum([t for t in x]) > 0.0:
        return np.sum(x * x)
    return np.sum(np.sin(x))
""",
        [X],
        (0,),
    ),
    "comprehension after a continue in a loop": (
        """
def f(x, ws):
    total = 0.0
    for w in reversed(ws):
        if np.sum(w) < -100.0:
            continue
        parts = [w * np.cos(v) for v in ws]
        total = total + np.sum(parts[0] * x)
    return total
""",
        [X, vectors(2)],
        (0, 1),
    ),
    "lambda called twice": (
        """
def f(x, c):
    act = lambda z: np.tanh(z) * c
    return np.sum(act(act(x)))
""",
        [X, 0.7],
        (0, 1),
    ),
    "nested def closing over a differentiated local": (
        """
def f(W, x):
    V = W * 2.0
    def layer(h):
        return np.tanh(V @ h)
    h = layer(x)
    V = W.T
    return np.sum(layer(h))
""",
        [matrices(1)[0], X],
        (0, 1),
    ),
    "nested functions calling each other": (
        """
def f(W, x):
    scale = np.sum(W)
    act = lambda z: np.sin(z) * scale
    def layer(h, k=2.0):
        return act(W @ h) * k
    return np.sum(layer(layer(x), k=0.5))
""",
        [matrices(1)[0], X],
        (0, 1),
    ),
    "nested def in a loop, recursive": (
        """
def f(x, n):
    def power(v, k):
        if k == 0:
            return v * 0.0 + 1.0
        return v * power(v, k - 1)
    total = 0.0
    for i in range(n):
        total = total + np.sum(power(x, i))
    return total
""",
        [X, 3],
        (0,),
    ),
    "user function in if and while conditions": (
        """
def big(v):
    return np.sum(v * v) > 1.0

def f(x):
    def small(v):
        return np.max(np.abs(v)) < 0.25
    if big(x):
        x = x * 0.5
    elif small(x):
        x = x * 2.0
    while big(x):
        x = x * 0.9
    return np.sum(np.sin(x))
""",
        [X * 3.0],
        (0,),
    ),
    "user function in the condition of a conditional expression": (
        """
def energy(v):
    return np.sum(v * v)

def f(x):
    y = np.tanh(x) if energy(x) > 1.0 else x * 2.0
    z = (y if energy(y) < 2.0 else y * 0.5) + (x if np.sum(x) > 0.0 else -x)
    return np.sum(z * y) + (energy(z) if energy(x) > energy(y) else 0.5)
""",
        [X * 3.0],
        (0,),
    ),
    "user function in a while condition, with continue": (
        """
def more(v):
    return np.sum(v * v) > 0.5

def f(x):
    k = 0
    while more(x) and k < 6:
        k += 1
        x = x * 0.8
        if k % 2 == 0:
            continue
        x = x + 0.01 * np.sin(x)
    return np.sum(np.sin(x)) + k
""",
        [X * 3.0],
        (0,),
    ),
    "enumerate of zip with a nested target": (
        """
def f(Ws, bs, x):
    for i, (W, b) in enumerate(zip(Ws, bs)):
        x = np.tanh(W @ x + b) * (i + 1)
    return np.sum(x)
""",
        [matrices(3), vectors(3), X],
        (0, 1, 2),
    ),
    "reversed, zip of reversed, enumerate with a start": (
        """
def f(Ws, bs, x):
    for W in reversed(Ws):
        x = np.tanh(W @ x)
    for k, (W, (j, b)) in enumerate(zip(reversed(Ws), enumerate(bs, 2)), start=1):
        x = np.sin(W @ x + b) * (k + j)
    for row in reversed(Ws[0]):
        x = x + row
    return np.sum(x)
""",
        [matrices(3), vectors(3), X],
        (0, 1, 2),
    ),
    "variable assigned only inside a loop, read after it": (
        """
def f(params, inputs):
    for W, b in params:
        outputs = inputs @ W + b
        inputs = np.tanh(outputs)
    return np.sum(outputs ** 2)
""",
        [list(zip(matrices(3), vectors(3), strict=True)), X],
        (0, 1),
    ),
    "loop-only variable in a while loop and a nested loop": (
        """
def f(x):
    k = 0
    while k < 2:
        for i in range(3):
            last = np.sin(x) * (i + k)
        k = k + 1
    return np.sum(last * x)
""",
        [X],
        (0,),
    ),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_against_python_finite_differences_and_autograd(name, tmp_path):
    body, args, wrt = PROGRAMS[name]
    text = "import numpy as np\n" + body
    verdict = fuzzcheck.check_program(
        tmp_path, text, args, wrt, autograd_text=text.replace("numpy", "autograd.numpy", 1)
    )
    assert verdict != "refused"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_forward_mode_agrees_with_reverse(name, tmp_path):
    body, args, wrt = PROGRAMS[name]
    module, path = fuzzcheck.load(tmp_path, "import numpy as np\n" + body)
    try:
        f = module.f
        w = wrt[0]
        if not isinstance(args[w], np.ndarray):
            pytest.skip("forward mode here takes one array")
        direction = RNG.normal(size=args[w].shape)
        value, tangent = ad.jvp(f, wrt=w)(*args, direction)
        assert value == pytest.approx(f(*args), rel=1e-12)
        g = ad.grad(f, wrt=w)(*args)
        assert tangent == pytest.approx(np.sum(g * direction), rel=1e-9, abs=1e-12)
    finally:
        fuzzcheck.forget(module, path)


def test_generated_code_calls_a_lifted_lambda_through_its_pullback():
    def f(x, c):
        act = lambda z: np.tanh(z) * c  # noqa: E731
        return np.sum(act(x))

    src = ad.grad(f, wrt=(0, 1)).source
    assert "fwd_act(x, c)" in src


def test_a_closure_reads_the_value_at_call_time():
    def f(x):
        c = 1.0
        scaled = lambda z: z * c  # noqa: E731
        a = scaled(x)
        c = 3.0
        return np.sum(a + scaled(x))

    g = ad.grad(f)(X)
    np.testing.assert_allclose(g, np.full(3, 4.0))
    assert ad.value_and_grad(f)(X)[0] == pytest.approx(f(X))


def refused(f, *args) -> AdCompileError:
    with pytest.raises(AdCompileError) as info:
        ad.grad(f)(*args)
    return info.value


def test_refuses_a_nested_function_used_as_a_value():
    def f(x):
        def act(z):
            return np.tanh(z)

        return np.sum(np.apply_along_axis(act, 0, x))

    err = refused(f, X)
    assert "used as a value" in err.reason and "act" in err.reason


def test_refuses_a_lambda_that_is_not_assigned_to_a_name():
    def f(x):
        return np.sum((lambda z: z * 2.0)(x))

    assert "lambda" in refused(f, X).reason


def test_refuses_a_nested_function_assigned_twice():
    def f(x):
        act = lambda z: z  # noqa: E731
        act = lambda z: z * 2.0  # noqa: E731
        return np.sum(act(x))

    assert "assigned elsewhere" in refused(f, X).reason


def test_refuses_a_comprehension_python_evaluates_lazily():
    def f(x):
        y = x if np.sum(x) > 100.0 else np.array([t for t in x])
        return np.sum(y)

    err = refused(f, X)
    assert "conditional expression" in err.reason and "[t for t in x]" in err.line


def test_refuses_a_comprehension_in_a_while_condition():
    def f(x):
        while sum([t for t in x]) > 1.0:
            x = x * 0.5
        return np.sum(x)

    assert "while loop" in refused(f, X).reason


def test_refuses_a_generator_that_numpy_would_consume():
    def f(x):
        return np.sum(np.stack(t for t in x))

    err = refused(f, X)
    assert "generator expression" in err.reason and "list comprehension" in err.hint


def test_a_user_call_in_a_conditional_python_may_not_evaluate_runs_only_on_its_path():
    def small(v):
        assert np.sum(v) < 100.0  # (Python evaluates the inner condition only there)
        return np.max(np.abs(v)) < 0.25

    def f(x):
        y = x if np.sum(x) > 100.0 else (x * 2.0 if small(x) else x)
        return np.sum(y)

    for x in (X, X + 100.0):
        value, g = ad.value_and_grad(f)(x)
        assert value == f(x)
        np.testing.assert_allclose(g, numeric_grad(f, [x], 0), rtol=1e-6, atol=1e-8)


def test_refuses_reversed_of_zip():
    def f(xs, ys):
        s = 0.0
        for a, b in reversed(zip(xs, ys)):
            s = s + a * b
        return s

    assert "reversed() of zip()" in refused(f, X, X).reason


def test_a_message_names_the_comprehension_not_a_generated_variable():
    def f(x):
        return np.sum([t * 3.0 for t in x] ** 2)

    err = refused(f, X)
    assert "items" not in err.reason + (err.hint or "")


def test_a_lambda_defined_in_a_branch(tmp_path):
    text = """import numpy as np

def f(a):
    if np.sum(a) > 0.0:
        g = lambda t: np.sum(a) * t
        a = g(a)
    return np.sum(a * a)
"""
    args = [np.abs(X)]
    autograd_text = text.replace("numpy", "autograd.numpy", 1)
    assert fuzzcheck.check_program(tmp_path, text, args, (0,), autograd_text) != "refused"


def test_a_loop_only_variable_after_zero_iterations_is_a_located_error():
    def f(Ws, x):
        for W in Ws:
            h = np.tanh(W @ x)
        return np.sum(h)

    for make in (ad.grad, ad.value_and_grad):
        with pytest.raises(AdCompileError) as info:
            make(f, wrt=1)([], X)
        assert "'h'" in info.value.reason and "zero times" in info.value.reason
        assert "for W in Ws" in info.value.line
    with pytest.raises(AdCompileError) as info:
        ad.jvp(f, wrt=1)([], X, X)
    assert "zero times" in info.value.reason
    with pytest.raises(UnboundLocalError):
        f([], X)  # (what Python says)


def effects(x, W):
    assert x.ndim == 1, "x must be a vector"
    if W.shape[1] != x.shape[0]:
        raise ValueError("W and x disagree")
    print("x is", x)
    LOG.info("sum %s", np.sum(x))
    with np.errstate(divide="ignore"):
        h = np.log(np.abs(W @ x))
    for i in range(2):
        print("step", i)
        h = np.tanh(h) * x
    return np.sum(h)


def validated(x):
    if np.sum(x) > 0.0:
        return np.sum(x**2)
    raise ValueError("the sum must be positive")


LOG = logging.getLogger("adcompile.tests.effects")


@pytest.mark.parametrize("mode", ["grad", "value_and_grad", "vjp"])
def test_effects_run_once_in_order_and_take_no_part(mode, capsys, caplog):
    W = RNG.normal(size=(3, 3))
    x = RNG.normal(size=3)
    with caplog.at_level(logging.INFO, logger="adcompile.tests.effects"):
        effects(x, W)
        expected_out = capsys.readouterr().out
        expected_log = [r.getMessage() for r in caplog.records]
        caplog.clear()
        fn = getattr(ad, mode)(effects, wrt=(0, 1))
        got = fn(x, W, 1.0) if mode == "vjp" else fn(x, W)
        assert capsys.readouterr().out == expected_out
        assert [r.getMessage() for r in caplog.records] == expected_log
    grads = got[1] if mode == "value_and_grad" else got
    ag = autograd.grad(lambda a, b: _autograd_effects(a, b), argnum=(0, 1))(x, W)
    for g, a in zip(grads, ag, strict=True):
        np.testing.assert_allclose(g, a, rtol=1e-9)
    capsys.readouterr()
    assert_grad_matches_fd(effects, x, W, wrt=(0, 1))


def _autograd_effects(x, W):
    h = anp.log(anp.abs(anp.dot(W, x)))
    for _ in range(2):
        h = anp.tanh(h) * x
    return anp.sum(h)


def test_effects_in_forward_mode(capsys):
    W = RNG.normal(size=(3, 3))
    x = RNG.normal(size=3)
    effects(x, W)
    expected = capsys.readouterr().out
    value, tangent = ad.jvp(effects, wrt=0)(x, W, x)
    assert capsys.readouterr().out == expected
    assert value == pytest.approx(effects(x, W))
    capsys.readouterr()
    assert tangent == pytest.approx(np.sum(ad.grad(effects)(x, W) * x), rel=1e-9)


def test_a_validating_raise_raises_as_python_does():
    x = np.abs(X)
    np.testing.assert_allclose(ad.grad(validated)(x), 2 * x)
    for make in (ad.grad, ad.value_and_grad):
        with pytest.raises(ValueError, match="must be positive"):
            make(validated)(-x)
    with pytest.raises(ValueError, match="must be positive"):
        ad.jvp(validated)(-x, x)
    with pytest.raises(AssertionError, match="must be a vector"):
        ad.grad(effects)(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="disagree"):
        ad.grad(effects)(X, np.eye(2))


def test_hvp_of_a_variable_assigned_only_in_a_loop():
    def f(Ws, x):
        for W in Ws:
            out = np.tanh(W @ x)
            x = out * 2.0
        return np.sum(out**2)

    Ws, v = matrices(2), RNG.normal(size=3)

    def ag(x):
        for W in Ws:
            out = anp.tanh(anp.dot(W, x))
            x = out * 2.0
        return anp.sum(out**2)

    expected = autograd.hessian(ag)(X) @ v
    np.testing.assert_allclose(ad.hvp(f, wrt=1)(Ws, X, v), expected, rtol=1e-9, atol=1e-12)


def test_export_of_a_variable_assigned_only_in_a_loop_runs_with_numpy_only():
    def f(params, inputs):
        for W, b in params:
            outputs = inputs @ W + b
            inputs = np.tanh(outputs)
        return np.sum(outputs)

    g = ad.grad(f, wrt=(0, 1))
    params = list(zip(matrices(2), vectors(2), strict=True))
    g(params, X)  # code for a list of (W, b): an export before any call is for arrays
    text = g.export()
    assert "adcompile" not in text.split("def _generated_grad_f")[1].split("\n", 1)[1]
    scope: dict = {}
    exec(compile(text, "<exported>", "exec"), scope)
    got = scope["grad_f"](params, X)
    want = g(params, X)
    for a, b in zip(fuzzcheck.leaves(got), fuzzcheck.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert "outputs_unassigned" not in g.source.split("def grad_f")[0]
