"""The public API: grad, value_and_grad, vjp, check_grad and the objects they return."""

from __future__ import annotations

import inspect
import io
import linecache
import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_grad_matches_fd
from rich.console import Console

import adcompile as ad
import adcompile.api
from adcompile import AdCompileError

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)


def rand(*shape, dtype=float):
    return RNG.uniform(0.1, 0.9, size=shape).astype(dtype)


def three(x, y, z):
    return np.sum(x * y + np.tanh(z) * x)


def two(x, y):
    return np.sum(x + y)


def defaults(x, y, scale=2.0, shift=0.5):
    return np.sum((x * y + shift) * scale)


def square(x):
    return np.sum(x * x)


def vector_valued(x, y):
    return np.tanh(x) * y + x


X, Y, Z = rand(3, 4), rand(4), rand(3, 4)


def expected_three(x, y, z):
    """Hand-written gradients of ``three``."""
    return (
        np.broadcast_to(y, x.shape) + np.tanh(z),
        np.sum(x, axis=0),
        x * (1 - np.tanh(z) ** 2),
    )


# ------------------------------------------------------------------------------ wrt


@pytest.mark.parametrize(
    ("wrt", "which"),
    [
        (0, 0),
        (1, 1),
        (2, 2),
        (-1, 2),
        (-3, 0),
        ("x", 0),
        ("y", 1),
        ("z", 2),
    ],
)
def test_wrt_single_gives_one_gradient(wrt, which):
    g = ad.grad(three, wrt=wrt)(X, Y, Z)
    assert isinstance(g, np.ndarray)
    np.testing.assert_allclose(g, expected_three(X, Y, Z)[which], rtol=1e-12)


@pytest.mark.parametrize(
    ("wrt", "which"),
    [
        ((0, 1, 2), (0, 1, 2)),
        ((2, "x"), (2, 0)),
        (("y", -1), (1, 2)),
        ([1, 0], (1, 0)),
        (("z",), (2,)),
        ((1,), (1,)),
    ],
)
def test_wrt_tuple_gives_tuple_in_that_order(wrt, which):
    g = ad.grad(three, wrt=wrt)(X, Y, Z)
    assert isinstance(g, tuple)
    assert len(g) == len(which)
    expected = expected_three(X, Y, Z)
    for gi, i in zip(g, which, strict=True):
        np.testing.assert_allclose(gi, expected[i], rtol=1e-12)


def test_wrt_integer_like_positions():
    g = ad.grad(three, wrt=np.int64(1))(X, Y, Z)
    np.testing.assert_allclose(g, expected_three(X, Y, Z)[1], rtol=1e-12)


@pytest.mark.parametrize(
    ("wrt", "words"),
    [
        (3, ["out of range", "x, y, z"]),
        (-4, ["out of range"]),
        ("w", ["not a parameter", "x, y, z"]),
        ((), ["empty"]),
        ((0, "x"), ["twice"]),
        (1.5, ["1.5"]),
        (None, ["None"]),
        (True, ["True"]),
        ({0}, ["{0}"]),
        ((0, None), ["None"]),
    ],
)
def test_bad_wrt_is_a_clear_error(wrt, words):
    with pytest.raises(AdCompileError) as info:
        ad.grad(three, wrt=wrt)(X, Y, Z)
    err = info.value
    for word in words:
        assert word in str(err)
    assert err.hint
    assert err.lineno == inspect.getsourcelines(three)[1]


# ------------------------------------------------------------------------ decorators


def test_decorator_forms():
    @ad.grad
    def plain(x, y):
        return np.sum(x * y)

    @ad.grad()
    def called(x, y):
        return np.sum(x * y)

    @ad.grad(wrt=(0, 1))
    def both(x, y):
        return np.sum(x * y)

    @ad.grad(wrt="y")
    def by_name(x, y):
        return np.sum(x * y)

    @ad.grad(1)
    def positional(x, y):
        return np.sum(x * y)

    @ad.value_and_grad(wrt=("x", "y"))
    def vg(x, y):
        return np.sum(x * y)

    @ad.vjp(wrt=1)
    def pullback(x, y):
        return x * y

    x, y = rand(3), rand(3)
    np.testing.assert_allclose(plain(x, y), y)
    np.testing.assert_allclose(called(x, y), y)
    gx, gy = both(x, y)
    np.testing.assert_allclose(gx, y)
    np.testing.assert_allclose(gy, x)
    np.testing.assert_allclose(by_name(x, y), x)
    np.testing.assert_allclose(positional(x, y), x)
    value, (gx, gy) = vg(x, y)
    assert value == pytest.approx(np.sum(x * y))
    np.testing.assert_allclose(pullback(x, y, np.ones(3)), x)
    for f in (plain, both, by_name, vg, pullback):
        assert isinstance(f, ad.GradientFunction)
        assert f.source.startswith("def ")


def test_gradient_function_describes_itself():
    g = ad.grad(three, wrt=(0, "z"))
    assert g.__name__ == "grad_three"
    assert g.__doc__ == three.__doc__
    assert "three" in repr(g)
    assert "x, z" in repr(g)


# ----------------------------------------------------------------- value_and_grad, vjp


def test_value_and_grad_returns_value_and_gradients():
    value, g = ad.value_and_grad(three)(X, Y, Z)
    assert value == three(X, Y, Z)
    np.testing.assert_allclose(g, expected_three(X, Y, Z)[0], rtol=1e-12)
    value, gs = ad.value_and_grad(three, wrt=(1, 2))(X, Y, Z)
    assert value == three(X, Y, Z)
    assert isinstance(gs, tuple) and len(gs) == 2
    np.testing.assert_allclose(gs[0], expected_three(X, Y, Z)[1], rtol=1e-12)


def test_value_and_grad_of_a_python_float():
    def f(x):
        return x * x + 1.0

    value, g = ad.value_and_grad(f)(3.0)
    assert value == 10.0
    assert type(g) is float and g == 6.0


def jacobian_fd(f, args, i, eps=1e-6):
    """Jacobian of ``f`` with respect to ``args[i]`` by central differences: out.shape + x.shape."""
    x = np.array(args[i], dtype=float)
    out = np.asarray(f(*args))
    jac = np.zeros(out.shape + x.shape)
    for k in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[k] += eps
        lo[k] -= eps
        a_hi, a_lo = list(args), list(args)
        a_hi[i], a_lo[i] = hi, lo
        jac[(...,) + k] = (np.asarray(f(*a_hi)) - np.asarray(f(*a_lo))) / (2 * eps)
    return jac


@pytest.mark.parametrize(
    ("xshape", "yshape"),
    [((3, 4), (4,)), ((3, 1), (1, 4)), ((2,), (3, 2)), ((), (3,))],
)
def test_vjp_matches_the_finite_difference_jacobian(xshape, yshape):
    x, y = rand(*xshape), rand(*yshape)
    out = vector_valued(x, y)
    ct = RNG.normal(size=out.shape)
    gx, gy = ad.vjp(vector_valued, wrt=(0, 1))(x, y, ct)
    for g, i, arg in ((gx, 0, x), (gy, 1, y)):
        jac = jacobian_fd(vector_valued, [x, y], i)
        expected = np.tensordot(ct, jac, axes=out.ndim)
        assert np.shape(g) == np.shape(arg)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-8)


def test_vjp_takes_the_cotangent_by_keyword():
    f = ad.vjp(vector_valued)
    ct = np.ones((3, 4))
    np.testing.assert_allclose(f(X, Y, cotangent=ct), f(X, Y, ct))
    np.testing.assert_allclose(f(y=Y, x=X, cotangent=ct), f(X, Y, ct))


def test_vjp_cotangent_parameter_does_not_clash_with_user_names():
    def f(cotangent, x):
        return cotangent * x

    g = ad.vjp(f)(X, Y, np.ones((3, 4)))
    np.testing.assert_allclose(g, np.broadcast_to(Y, (3, 4)))


def test_vjp_signature_names_the_cotangent():
    assert str(inspect.signature(ad.vjp(vector_valued))) == "(x, y, cotangent)"


def test_vjp_of_a_function_with_defaults():
    def f(x, scale=2.0):
        return x * scale

    v = ad.vjp(f)
    x, ct = rand(3), rand(3)
    np.testing.assert_allclose(v(x, 2.0, ct), 2.0 * ct)
    np.testing.assert_allclose(v(x, cotangent=ct), 2.0 * ct)
    np.testing.assert_allclose(v(x, scale=3.0, cotangent=ct), 3.0 * ct)
    with pytest.raises(TypeError, match="cotangent"):
        v(x, ct)  # ambiguous: the cotangent goes after every parameter, or by keyword
    assert str(inspect.signature(v)) == "(x, scale=2.0, *, cotangent)"


def test_grad_of_non_scalar_result_points_to_vjp():
    with pytest.raises(AdCompileError) as info:
        ad.grad(vector_valued)(X, Y)
    err = info.value
    assert "scalar" in str(err) and "vjp" in str(err)
    lines, start = inspect.getsourcelines(vector_valued)
    assert err.lineno == start + 1
    assert err.line.strip() == "return np.tanh(x) * y + x"
    assert "(3, 4)" in str(err)


def test_grad_checks_scalar_result_for_every_call():
    g = ad.grad(vector_valued)
    with pytest.raises(AdCompileError):
        g(X, Y)
    # a 0-d array and a shape-() result are scalars
    assert g(np.array(0.5), np.array(2.0)).shape == ()


# ------------------------------------------------------------------- calling the gradient


def test_keyword_arguments_and_defaults():
    g = ad.grad(defaults, wrt=(0, 1))
    x, y = rand(3), rand(3)
    expected = (2.0 * y, 2.0 * x)
    for got in (g(x, y), g(x, y=y), g(y=y, x=x), g(x, y, 2.0), g(x, y, scale=2.0, shift=9.0)):
        np.testing.assert_allclose(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1])
    gx, _ = g(x, y, scale=3.0)
    np.testing.assert_allclose(gx, 3.0 * y)
    assert ad.grad(defaults, wrt="scale")(x, y) == pytest.approx(np.sum(x * y + 0.5))
    assert ad.grad(defaults, wrt=-1)(x, y, shift=1.0) == pytest.approx(2.0 * x.size)


def test_bad_call_is_a_type_error_naming_the_gradient():
    g = ad.grad(defaults)
    with pytest.raises(TypeError, match="grad_defaults"):
        g(X)
    with pytest.raises(TypeError, match="grad_defaults"):
        g(X, Y, nope=1.0)


@pytest.mark.parametrize(
    "x",
    [
        rand(3, dtype=np.float32),
        rand(2, 3, dtype=np.float64),
        rand(3, dtype=np.float16),
        rand(2, 2).astype(np.longdouble),
        np.array(0.7),
        np.array(0.7, dtype=np.float32),
        np.float64(0.7),
        np.float32(0.7),
        0.7,
    ],
    ids=lambda x: f"{type(x).__name__}-{getattr(x, 'dtype', '')}-{np.shape(x)}",
)
def test_gradient_has_the_type_shape_and_dtype_of_its_input(x):
    g = ad.grad(square)(x)
    assert type(g) is type(x)
    assert np.shape(g) == np.shape(x)
    if hasattr(x, "dtype"):
        assert g.dtype == x.dtype
    np.testing.assert_allclose(np.asarray(g, dtype=float), 2 * np.asarray(x, dtype=float), 1e-3)


def test_python_float_input_gets_a_float_gradient_even_from_arrays():
    def f(s, v):
        return np.sum(s * v)

    gs, gv = ad.grad(f, wrt=(0, 1))(0.5, rand(4))
    assert type(gs) is float
    assert gv.shape == (4,)


def test_zero_d_array_input_keeps_zero_d():
    def f(a, v):
        return np.sum(a * v)

    ga = ad.grad(f)(np.array(2.0), rand(4))
    assert isinstance(ga, np.ndarray) and ga.shape == ()


def test_broadcast_inputs_get_their_own_shapes():
    def f(a, b, c):
        return np.sum(a * b + c)

    a, b, c = rand(3, 1), rand(1, 4), rand(4)
    ga, gb, gc = assert_grad_matches_fd(f, a, b, c, wrt=(0, 1, 2))
    assert (ga.shape, gb.shape, gc.shape) == ((3, 1), (1, 4), (4,))


def test_inactive_parameter_gets_zeros():
    def f(x, y):
        return np.sum(x * 2.0)

    gx, gy = ad.grad(f, wrt=(0, 1))(X, Y)
    np.testing.assert_array_equal(gy, np.zeros_like(Y))
    assert gy.dtype == Y.dtype


# ----------------------------------------------------------------------------- aliasing


def all_results(g):
    return list(g) if isinstance(g, tuple) else [g]


def sum_of_sums(x, y):
    return np.sum(x) + np.sum(y)


def shared_adjoint(x, y):
    return np.sum(np.tanh(x + y))  # dx and dy are the same fresh array


def scaled_copies(x, y, z):
    h = np.exp(x * y)
    return np.sum(h + h) + np.sum(z * 0.0)


def identity(x, y):
    return x + y


def transposed(x, y):
    return x.T + y


@pytest.mark.parametrize("f", [two, sum_of_sums, three, shared_adjoint, scaled_copies])
def test_gradients_never_alias_each_other_or_the_inputs(f):
    args = [rand(3, 4), rand(3, 4), rand(3, 4)][: len(inspect.signature(f).parameters)]
    copies = [a.copy() for a in args]
    wrt = tuple(range(len(args)))
    grads = ad.grad(f, wrt=wrt)(*args)
    for a, c in zip(args, copies, strict=True):
        np.testing.assert_array_equal(a, c)
    for i, g in enumerate(grads):
        assert g.flags.writeable
        for other in list(grads[:i]) + list(args):
            assert not np.shares_memory(g, other)
    before = [g.copy() for g in grads]
    grads[0][...] = 123.0
    for g, b in zip(grads[1:], before[1:], strict=True):
        np.testing.assert_array_equal(g, b)


@pytest.mark.parametrize("f", [identity, transposed])
def test_vjp_results_never_alias_the_cotangent(f):
    x, y = rand(4, 4), rand(4, 4)
    ct = rand(4, 4)
    ct_copy = ct.copy()
    gx, gy = ad.vjp(f, wrt=(0, 1))(x, y, ct)
    for g in (gx, gy):
        assert g.flags.writeable
        assert not np.shares_memory(g, ct)
        assert not any(np.shares_memory(g, a) for a in (x, y))
    assert not np.shares_memory(gx, gy)
    gx[...] = 0.0
    np.testing.assert_array_equal(ct, ct_copy)


def test_generated_code_never_mutates_inputs():
    def f(a, b):
        h = a * b
        h = h + a
        h += b
        h *= a
        return np.sum(h * h)

    a, b = rand(3), rand(3)
    ca, cb = a.copy(), b.copy()
    assert_grad_matches_fd(f, a, b, wrt=(0, 1))
    ad.vjp(identity, wrt=(0, 1))(a, b, np.ones(3))
    np.testing.assert_array_equal(a, ca)
    np.testing.assert_array_equal(b, cb)


def test_calling_twice_gives_identical_results():
    g = ad.grad(three, wrt=(0, 1, 2))
    first = g(X, Y, Z)
    second = g(X, Y, Z)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a is not b


# ------------------------------------------------------------------------ source, cache


def test_source_is_deterministic_after_clearing_the_cache():
    first = ad.grad(three, wrt=(0, 1, 2)).source
    adcompile.api._CACHE.clear()
    second = ad.grad(three, wrt=(0, 1, 2)).source
    assert first == second


DETERMINISM_MODULE = """
import numpy as np

def loss(W1, b1, W2, b2, x, y):
    h = W1 @ x + b1
    a = 1 / (1 + np.exp(-h))
    o = W2 @ a + b2
    yhat = 1 / (1 + np.exp(-o))
    return 0.5 * np.sum((yhat - y) ** 2)

def mixed(p, q, r):
    s, t = p * q, q - r
    s += t
    u = np.maximum(s, t) + np.where(p > 0.5, p, q)
    return np.sum(u * u.T) + np.mean(np.stack([p, q]), axis=0).sum()

def helper(a, k):
    return np.tanh(a) * k

def flow(x, y):
    s = 0.0
    for i in range(3):
        s = s + np.sum(helper(x, y) * i)
        if s > 1.0:
            s = s * 0.5
    while s < 10.0:
        s = s * 2.0
    return s + np.sum(helper(y, x))
"""

DETERMINISM_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import adcompile as ad
import mod
cases = ((mod.loss, (0, 1, 2, 3)), (mod.mixed, (0, 1, 2)), (mod.mixed, 2), (mod.flow, (0, 1)))
for f, wrt in cases:
    print(ad.grad(f, wrt=wrt).source)
    print(ad.value_and_grad(f, wrt=wrt).source)
"""


def run_python(code, *args, env=None, cwd=None):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
    )


def test_source_is_byte_identical_across_processes(tmp_path):
    (tmp_path / "mod.py").write_text(DETERMINISM_MODULE)
    outputs = []
    for seed in ("0", "1", "12345"):
        proc = run_python(DETERMINISM_SCRIPT, str(tmp_path), env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert "def grad_loss(W1, b1, W2, b2, x, y):" in outputs[0]
    assert "def grad_flow(x, y):" in outputs[0] and "def bwd_helper" in outputs[0]


def test_cache_compiles_once_per_function_and_wrt():
    def f(x, y):
        return np.sum(x * y)

    a, b = ad.grad(f), ad.grad(f)
    assert a.source is b.source
    assert ad.grad(f, wrt="x").source is a.source
    assert ad.grad(f, wrt=1).source is not a.source
    assert ad.grad(f, wrt=(0,)).source is a.source  # same code; only the packing differs
    assert ad.value_and_grad(f).source is not a.source
    calls = []
    original = adcompile.api.build

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    adcompile.api.build = counting
    try:
        ad.grad(f)(X, X)
        ad.grad(f, wrt=0)(X, X)
        ad.grad(f, wrt=1)(X, X)
        ad.grad(f, wrt=1)(X, X)
    finally:
        adcompile.api.build = original
    # one build per (wrt, shapes of the arguments): code is specialised to shapes
    assert len(calls) == 2
    calls.clear()
    adcompile.api.build = counting
    try:
        ad.grad(f)(X, X)
        ad.grad(f, wrt=1)(X, X)
    finally:
        adcompile.api.build = original
    assert len(calls) == 0


def test_compilation_is_lazy_and_errors_come_at_first_call():
    def f(x):
        return np.sum(np.fft.fft(x).real)

    g = ad.grad(f)  # nothing compiled yet
    with pytest.raises(AdCompileError):
        g(X)
    with pytest.raises(AdCompileError):
        g.source  # noqa: B018


def test_source_comments_name_the_source_lines():
    lines, start = inspect.getsourcelines(three)
    source = ad.grad(three).source
    assert f"# line {start + 1}: return np.sum(x * y + np.tanh(z) * x)" in source
    assert "# forward sweep" in source and "# reverse sweep" in source
    compile(source, "<test>", "exec")


def test_show_prints_the_source_plain_when_not_a_terminal():
    g = ad.grad(three)
    buf = io.StringIO()
    g.show(console=Console(file=buf, force_terminal=False))
    assert buf.getvalue() == g.source


def test_show_highlights_in_a_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    g = ad.grad(three)
    buf = io.StringIO()
    g.show(console=Console(file=buf, force_terminal=True, color_system="truecolor", width=120))
    out = buf.getvalue()
    assert "\x1b[" in out
    assert "forward sweep" in out and "reverse sweep" in out


def test_show_to_stdout(capsys):
    g = ad.grad(three)
    g.show()
    out = capsys.readouterr().out
    assert out == g.source
    assert "\x1b[" not in out


# ------------------------------------------------------------------- linecache and pdb


def test_generated_code_is_in_linecache_and_tracebacks_show_it():
    def f(a, b):
        c = a @ b
        return np.sum(c)

    g = ad.grad(f, wrt=(0, 1))
    with pytest.raises(ValueError) as info:
        g(rand(2, 3), rand(4, 5))
    frames = traceback.extract_tb(info.value.__traceback__)
    generated = [fr for fr in frames if fr.filename.startswith("<adcompile")]
    assert generated, [fr.filename for fr in frames]
    frame = generated[-1]
    assert frame.line == "c = a @ b"
    assert frame.line in g.source.splitlines()[frame.lineno - 1]
    text = "".join(traceback.format_exception(info.value))
    assert "c = a @ b" in text


def test_pdb_can_list_the_generated_code():
    g = ad.grad(three)
    code = g._compile().__code__
    linecache.checkcache()  # what pdb and traceback do; our entry must survive it
    lines = linecache.getlines(code.co_filename)
    assert "".join(lines) == g.source
    assert linecache.getline(code.co_filename, code.co_firstlineno).startswith("def grad_three")


def test_each_gradient_has_its_own_linecache_entry():
    def f(x, y):
        return np.sum(x * y)

    a, b = ad.grad(f, wrt=0), ad.grad(f, wrt=1)
    va = ad.value_and_grad(f)
    files = {g._compile().__code__.co_filename for g in (a, b, va)}
    assert len(files) == 3
    for g in (a, b, va):
        assert "".join(linecache.getlines(g._compile().__code__.co_filename)) == g.source


def test_same_named_functions_keep_their_own_linecache_entries():
    def make(k):
        def f(x):
            return np.sum(x * k)

        return f

    g1 = ad.grad(make(1.0))
    g2 = ad.grad(make(2.0))
    for g in (g1, g2):
        assert "".join(linecache.getlines(g._compile().__code__.co_filename)) == g.source


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (3, ["integer"]),
        (np.arange(3), ["int"]),
        (True, ["bool"]),
        (np.array([True, False]), ["bool"]),
        ("s", ["str"]),
    ],
)
def test_wrt_an_integer_argument_is_refused(value, words):
    def f(x, n):
        return np.sum(x * n)

    with pytest.raises(AdCompileError) as info:
        ad.grad(f, wrt=1)(X, value)
    err = info.value
    assert "'n'" in str(err)
    for word in words:
        assert word in str(err)
    assert err.hint and "float" in err.hint
    lines, start = inspect.getsourcelines(f)
    assert (err.lineno, err.col) == (start, lines[0].index("n)"))  # at the parameter


def test_list_used_where_an_array_is_expected_is_refused_at_the_operation():
    def f(x, n):
        return np.sum(x * n)

    with pytest.raises(AdCompileError) as info:
        ad.grad(f, wrt=1)(X, [0.5, 1.5])
    err = info.value
    assert "'n' is a list" in err.reason
    assert "np.asarray(n)" in err.hint
    assert err.lineno == inspect.getsourcelines(f)[1] + 1


def test_bad_wrt_of_a_decorated_function_points_at_the_def():
    with pytest.raises(AdCompileError) as info:

        @ad.grad(wrt="nope")
        def f(x):
            return np.sum(x)

    lines, start = inspect.getsourcelines(test_bad_wrt_of_a_decorated_function_points_at_the_def)
    def_line = next(i for i, line in enumerate(lines) if "def f(x):" in line)
    assert info.value.line.strip() == "def f(x):"
    assert (info.value.lineno, info.value.col) == (start + def_line, 8)


def test_value_and_grad_of_non_scalar_result_names_itself():
    with pytest.raises(AdCompileError, match="value_and_grad needs a real scalar result"):
        ad.value_and_grad(vector_valued)(X, Y)


def test_integer_argument_outside_wrt_is_fine():
    def f(x, n):
        return np.sum(x * n)

    np.testing.assert_allclose(ad.grad(f)(X, 3), np.full_like(X, 3.0))


# ----------------------------------------------------------------------------- check_grad


def test_check_grad_is_small_for_a_correct_function():
    assert ad.check_grad(three, X, Y, Z, wrt=(0, 1, 2)) < 1e-6
    assert ad.check_grad(square, 0.3) < 1e-6
    assert ad.check_grad(defaults, rand(3), rand(3), wrt="y") < 1e-6


def test_check_grad_sees_a_wrong_gradient(monkeypatch):
    def wrong_grad(f, wrt=0):
        return lambda x: 3.0 * x  # the derivative of sum(x * x) is 2 x

    monkeypatch.setattr(adcompile.api, "grad", wrong_grad)
    assert ad.check_grad(square, rand(3)) > 0.1


def test_nested_function_with_odd_docstring_indentation():
    def f(x):
        """A docstring whose continuation lines
        start at column zero."""
        return np.sum(x * x)

    np.testing.assert_allclose(ad.grad(f)(X), 2 * X)


# --------------------------------------------------- known bugs outside this module's reach

REBOUND = 2.0


def uses_rebound(x):
    return np.sum(x * REBOUND)


def test_rebinding_a_global_after_compiling():
    g = ad.grad(uses_rebound)
    np.testing.assert_allclose(g(X), np.full_like(X, 2.0))
    global REBOUND
    REBOUND = 3.0
    try:
        np.testing.assert_allclose(g(X), np.full_like(X, 3.0))
    finally:
        REBOUND = 2.0


@pytest.mark.parametrize("shape", [(1,), (4,)])
def test_vjp_cotangent_of_the_wrong_shape_is_a_clear_error(shape):
    def f(x):
        return x * 2.0

    with pytest.raises((ValueError, AdCompileError), match="cotangent"):
        ad.vjp(f)(np.ones(3), np.ones(shape))
