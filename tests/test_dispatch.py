"""The per-call fast path of GradientFunction (dispatch.py, ``_Dispatch``).

From the second call with arguments of one kind (types, container structure, shapes,
dtypes of the differentiated arrays), a call goes through a small generated dispatcher
that checks the arguments and calls the generated code directly. These tests call each
gradient several times, so that the dispatcher exists, and check that it never does
anything the slow path would not: code is still specialised per shape and structure,
recompiled when a captured global is rebound or a rule registered, and the gradients it
returns never share memory with an input or with each other.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import threaded

import adcompile as ad
import adcompile.api
from adcompile.errors import AdCompileError
from adcompile.rules import registry

RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.normal(size=shape)


def repeat(g, *args, **kwargs):
    """``g(*args, **kwargs)`` called three times: the last result, after checking that
    the dispatcher was made and every call gave the same values."""
    results = [g(*args, **kwargs) for _ in range(3)]
    assert g._fast.__name__.startswith("dispatch_"), "no dispatcher was made"
    for r in results[1:]:
        for a, b in zip(_leaves(r), _leaves(results[0]), strict=True):
            np.testing.assert_array_equal(a, b)
    return results[-1]


def _leaves(tree) -> list:
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _leaves(v)]
    if isinstance(tree, list | tuple):
        return [x for v in tree for x in _leaves(v)]
    return [tree]


def assert_owned(grads, inputs) -> None:
    """No gradient array shares memory with an input array or another gradient array;
    each is writeable."""
    outs = [g for g in _leaves(grads) if isinstance(g, np.ndarray)]
    ins = [a for a in _leaves(inputs) if isinstance(a, np.ndarray)]
    for k, g in enumerate(outs):
        assert g.flags.writeable
        for other in ins + outs[:k]:
            assert not np.shares_memory(g, other)


def mlp(layers, x):
    h = x
    for W, b in layers:
        h = np.tanh(h @ W + b)
    return np.sum(h * h)


def test_the_dispatcher_gives_what_the_slow_path_gives():
    layers = [(rand(3, 4), rand(4)), (rand(4, 2), rand(2))]
    x = rand(5, 3)
    g = ad.grad(mlp, wrt=(0, 1))
    first = g(layers, x)  # the slow path
    fast = repeat(g, layers, x)
    assert type(fast[0]) is list and all(type(t) is tuple for t in fast[0])
    for a, b in zip(_leaves(first), _leaves(fast), strict=True):
        np.testing.assert_array_equal(a, b)
    assert_owned(fast, (layers, x))
    assert "def dispatch_grad_mlp" in g._fast.source


def test_a_new_shape_or_structure_goes_to_its_own_code():
    def f(x, w):
        return np.sum(np.tanh(x * w) ** 2)

    g = ad.grad(f, wrt=(0, 1))
    for x, w in [(rand(3), rand(3)), (rand(4, 3), rand(3)), (rand(3), 0.5), (rand(3), rand(3))]:
        dx, dw = repeat(g, x, w)
        t = np.tanh(x * w)
        np.testing.assert_allclose(dx, np.broadcast_to(2 * t * (1 - t * t) * w, x.shape))
        assert np.shape(dw) == np.shape(w) and type(dw) is type(w)

    h = ad.grad(mlp)
    one = [(rand(3, 4), rand(4))]
    two = [(rand(3, 4), rand(4)), (rand(4, 4), rand(4))]
    x = rand(2, 3)
    assert len(repeat(h, one, x)) == 1
    assert len(repeat(h, two, x)) == 2
    assert len(h(one, x)) == 1
    assert len(h(two, x)) == 2
    # a list where a tuple was, a dict with other keys: not the dispatcher's kind
    assert type(h([list(one[0])], x)[0]) is list


def test_a_changed_dtype_gets_a_gradient_of_its_dtype():
    def f(x, y):
        return np.sum(x * y)

    g = ad.grad(f)
    y = rand(3)
    assert repeat(g, rand(3), y).dtype == np.float64
    x32 = rand(3).astype(np.float32)
    assert repeat(g, x32, y).dtype == np.float32
    assert g(rand(3), y).dtype == np.float64
    with pytest.raises(AdCompileError, match="dtype int64"):
        g(np.arange(3), y)


GLOBAL_SCALE = 2.0


def scaled(x):
    return np.sum(x * GLOBAL_SCALE)


def test_a_rebound_global_recompiles_through_the_dispatcher():
    global GLOBAL_SCALE
    x = rand(4)
    g = ad.grad(scaled)
    np.testing.assert_allclose(repeat(g, x), np.full(4, 2.0))
    GLOBAL_SCALE = 3.0
    try:
        np.testing.assert_allclose(repeat(g, x), np.full(4, 3.0))
        # another gradient object of the same function compiles anew too
        np.testing.assert_allclose(ad.grad(scaled)(x), np.full(4, 3.0))
    finally:
        GLOBAL_SCALE = 2.0
    np.testing.assert_allclose(g(x), np.full(4, 2.0))


def test_a_rebound_global_recompiles_the_general_code_too():
    global GLOBAL_SCALE
    g = ad.grad(scaled)
    sizes = range(1, adcompile.api.MAX_SPECIALISATIONS + 3)
    for n in sizes:
        repeat(g, np.ones(n))  # the last ones share the general code
    GLOBAL_SCALE = 5.0
    try:
        for n in sizes:
            np.testing.assert_allclose(g(np.ones(n)), np.full(n, 5.0))
    finally:
        GLOBAL_SCALE = 2.0


def square(x):
    return x * x


def square_loss(x):
    return np.sum(square(x))


@pytest.fixture
def fresh_registry():
    saved = registry.snapshot()
    yield
    registry.restore(saved)
    registry.GENERATION[0] += 1  # code compiled with the test's rule is stale again


def test_a_registered_rule_recompiles_through_the_dispatcher(fresh_registry):
    x = np.array([1.0, 2.0])
    g = ad.grad(square_loss)
    np.testing.assert_allclose(repeat(g, x), 2 * x)

    @ad.adjoint(square)
    def square_adjoint(dy, y, x):
        return dy * 0.0 * x  # a different rule, to see which one runs

    np.testing.assert_allclose(repeat(g, x), 0.0)


@pytest.mark.parametrize("mode", ["grad", "value_and_grad"])
def test_gradients_that_are_inputs_or_each_other_are_copied(mode):
    def add(x, y):
        return np.sum(x + y)

    def product(x, y):
        return np.sum(x * y)

    def pair(ps):
        return np.sum(ps[0] + ps[1])

    x = rand(3)
    for f, args, wrt in [
        (add, (x, x), (0, 1)),
        (product, (x, x), (0, 1)),
        (product, (x, rand(3)), (0, 1)),
        (pair, ([x, x],), 0),
        (pair, ((x, rand(3)),), 0),
    ]:
        g = getattr(ad, mode)(f, wrt=wrt)
        out = repeat(g, *args)
        assert_owned(out[1] if mode == "value_and_grad" else out, args)


def test_vjp_gradients_that_are_the_cotangent_are_copied():
    def ident(x):
        return x

    def both(x, ps):
        return x + ps[0] + ps[1]

    x, c = rand(3), rand(3)
    out = repeat(ad.vjp(ident), x, c)
    assert_owned(out, (x, c))
    np.testing.assert_array_equal(out, c)
    ps = [rand(3), rand(3)]
    out = repeat(ad.vjp(both, wrt=(0, 1)), x, ps, c)
    assert_owned(out, (x, ps, c))
    out = repeat(ad.vjp(both, wrt=(0, 1)), x, ps, cotangent=c)
    assert_owned(out, (x, ps, c))


def test_dicts_keyword_arguments_and_defaults():
    def f(d, scale=2.0):
        return np.sum(d["a"] * d["b"]) * scale

    g = ad.grad(f)
    a, b = rand(3), rand(3)
    out = repeat(g, {"a": a, "b": b})
    assert list(out) == ["a", "b"]
    np.testing.assert_allclose(out["a"], 2 * b)
    out = repeat(g, {"b": b, "a": a}, 3.0)
    assert list(out) == ["b", "a"]
    np.testing.assert_allclose(out["a"], 3 * b)
    np.testing.assert_allclose(g(d={"a": a, "b": b}, scale=1.0)["b"], a)


def test_numpy_scalars_and_floats_keep_their_types():
    def f(s, t, x):
        return np.sum(s * t * x)

    g = ad.grad(f, wrt=(0, 1, 2))
    ds, dt, dx = repeat(g, np.float32(2.0), 3.0, rand(3))
    assert type(ds) is np.float32 and type(dt) is float and type(dx) is np.ndarray


def test_a_non_scalar_result_is_refused_on_every_call():
    def f(x):
        return x * 2.0

    g = ad.grad(f)
    for _ in range(3):
        with pytest.raises(AdCompileError, match="scalar result"):
            g(rand(3))


def product(x, w):
    return np.sum(x * w)


def test_source_is_the_latest_calls_code():
    g = ad.grad(product)
    x = rand(3)
    repeat(g, x, rand(3))
    first = g.source
    repeat(g, x, rand(2, 3))  # x is broadcast: other code
    assert g.source != first
    repeat(g, x, rand(3))
    assert g.source == first


def test_many_threads_alternating_shapes_compile_each_once(monkeypatch):
    calls = []
    original = adcompile.api._compile_entry

    def counting(*args, **kwargs):
        calls.append(args[4])
        return original(*args, **kwargs)

    monkeypatch.setattr(adcompile.api, "_compile_entry", counting)

    def f(x):
        return np.sum(np.sin(x) * x)

    g = ad.grad(f)
    xs = [rand(n) for n in (2, 3, 4)]

    def work(i):
        out = [g(xs[(i + k) % 3]) for k in range(30)]
        return out[-3:]

    for results in threaded(12, work):
        for grad in results:
            x = next(x for x in xs if x.shape == grad.shape)
            np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-12)
    assert sorted(calls) == [((2,),), ((3,),), ((4,),)]  # one shape signature each
