"""Dicts of parameters iterated over as model code does (``params.items()``,
``.values()``, ``.keys()``, ``sorted(params)``, ``d.get``, dict comprehensions),
``sum`` over lists and ``slice`` objects: each program is checked in every reverse
mode against plain Python (its value), central finite differences and autograd
(tests/fuzzcheck.py), in forward mode against the reverse gradient and for its
Hessian-vector product against differences of the gradient; then the refusals of
what stays outside the language, each located and with a hint."""

from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad
from adcompile.errors import AdCompileError
from tests import fuzzcheck

RNG = np.random.default_rng(11)


def params() -> dict:
    # insertion order differs from sorted order, so that an order mix-up shows
    return {
        "W": RNG.normal(size=(3, 3)) * 0.5,
        "b": RNG.normal(size=3),
        "a": RNG.normal(size=3),
    }


X = RNG.normal(size=3)

# name -> (body of f after `import numpy as np`, arguments, wrt)
PROGRAMS = {
    "for k, v in params.items()": (
        """
def f(params, x):
    s = 0.0
    for k, v in params.items():
        s = s + np.sum(np.tanh(v @ x if k == "W" else v * x))
    return s
""",
        [params(), X],
        (0, 1),
    ),
    "generator over params.values() in sum": (
        """
def f(params, x):
    return sum(np.sum(w ** 2) for w in params.values()) + np.sum(x * params["b"])
""",
        [params(), X],
        (0, 1),
    ),
    "dict comprehension: a gradient step": (
        """
def f(params, grads, x):
    new = {k: v - 0.1 * grads[k] for k, v in params.items()}
    return np.sum(np.tanh(new["W"] @ x + new["b"]) * new["a"])
""",
        [params(), params(), X],
        (0, 1, 2),
    ),
    "dict comprehension with a filter on the key": (
        """
def f(params, x):
    scaled = {k: v * x for k, v in params.items() if k != "W"}
    return np.sum(scaled["a"] * scaled["b"]) + len(scaled) * np.sum(x)
""",
        [params(), X],
        (0, 1),
    ),
    "list(d.values()) and zip(d.keys(), d.values())": (
        """
def f(params, grads, x):
    values = list(params.values())
    s = np.sum(values[1] * x) * np.sum(values[-1])
    for k, v in zip(params.keys(), grads.values()):
        s = s + np.sum(np.sin(params[k]) * v)
    return s
""",
        [params(), params(), X],
        (0, 1, 2),
    ),
    "for k in params and params.keys()": (
        """
def f(params, x):
    s = 0.0
    for k in params:
        s = s + np.sum(params[k] * x)
    for k in params.keys():
        s = s * 0.5 + np.sum(np.cos(params[k]))
    return s
""",
        [params(), X],
        (0, 1),
    ),
    "enumerate(sorted(params.items()))": (
        """
def f(params, x):
    s = 0.0
    for i, (k, v) in enumerate(sorted(params.items())):
        s = s + (i + 1.0) * np.sum(np.sin(v) * x[i])
    return s
""",
        [params(), X],
        (0, 1),
    ),
    "sorted keys, reversed, by item key and of constants": (
        """
import operator

def f(params, x):
    s = 0.0
    for j, k in enumerate(sorted(params, reverse=True)):
        s = s + (j + 1.0) * np.sum(params[k] * x)
    for k, v in sorted(params.items(), key=operator.itemgetter(0)):
        s = s * 0.9 + np.sum(v)
    for k in sorted(["b", "a"]):
        s = s * 0.8 + np.sum(np.exp(params[k]) * x)
    keys = sorted(params)
    return s + np.sum(params[keys[0]] ** 2)
""",
        [params(), X],
        (0, 1),
    ),
    "zip of a view with a shorter tuple, enumerated from 1": (
        """
def f(params, pair, x):
    s = 0.0
    for i, (v, w) in enumerate(zip(params.values(), pair), 1):
        s = s + i * np.sum(np.sin(v * x) * w)
    return s
""",
        [params(), (RNG.normal(size=3), RNG.normal(size=3)), X],
        (0, 1, 2),
    ),
    "a dict with int keys, sorted": (
        """
def f(layers, x):
    h = x
    for i in sorted(layers):
        h = np.tanh(layers[i] @ h) * (i + 1)
    return np.sum(h) + sum(np.sum(W) for W in layers.values())
""",
        [{2: RNG.normal(size=(3, 3)) * 0.5, 0: RNG.normal(size=(3, 3)) * 0.5}, X],
        (0, 1),
    ),
    "reversed(params.items()) and a break": (
        """
def f(params, x):
    s = 0.0
    for k, v in reversed(params.items()):
        if np.sum(v) > 100.0:
            break
        s = s + np.sum(v * x)
    return s
""",
        [params(), X],
        (0, 1),
    ),
    "values of different structures": (
        """
def f(params, x):
    s = 0.0
    for k, v in params.items():
        if k == "layers":
            s = s + sum(np.sum(np.tanh(u @ x)) for u in v)
        else:
            s = s + np.sum(v * x)
    return s
""",
        [{"b": RNG.normal(size=3), "layers": [RNG.normal(size=(3, 3)) for _ in range(2)]}, X],
        (0, 1),
    ),
    "d.get with a key present and absent": (
        """
def f(d, x):
    return np.sum(d.get("W", x) * x) + np.sum(d.get("zz", x) ** 2) + d.get("n", 2.0)
""",
        [{"W": RNG.normal(size=3), "n": 1.5}, X],
        (0, 1),
    ),
    "dict union": (
        """
def f(p, q, x):
    both = p | q | {"c": x * 2.0}
    return sum(np.sum(np.sin(v) * x) for v in both.values())
""",
        [{"a": RNG.normal(size=3), "b": RNG.normal(size=3)}, {"b": RNG.normal(size=3)}, X],
        (0, 1, 2),
    ),
    "sum over a list display, a list and with a start": (
        """
def f(xs, a, b):
    s = sum([a, b, a * b])
    t = sum(xs, np.tanh(a))
    u = sum([np.sum(x ** 2) for x in xs], 1.5)
    return np.sum(s * t) + u * np.sum(sum(xs))
""",
        [[RNG.normal(size=3) for _ in range(3)], X, RNG.normal(size=3)],
        (0, 1, 2),
    ),
    "slice objects": (
        """
def f(x, xs):
    s = slice(1, 3)
    first = slice(2)
    pieces = [slice(0, 2), slice(2, 4), slice(None, None, -1)]
    t = 0.0
    for p in pieces:
        t = t + np.sum(np.sin(x[p]) * x[p][0])
    return t + np.sum(xs[s][0] * xs[pieces[1]][0]) + np.sum(x[first] * x[s])
""",
        [RNG.normal(size=4), [RNG.normal(size=2) for _ in range(4)]],
        (0, 1),
    ),
    "a slice object in an element assignment": (
        """
def f(x):
    s = slice(1, 3)
    y = np.zeros(4)
    y[s] = x[s] ** 2
    for p in [slice(0, 1), slice(3, 4)]:
        y[p] = np.sin(x[p])
    return np.sum(y * x)
""",
        [RNG.normal(size=4)],
        (0,),
    ),
}
# autograd refuses assignment into an array element: finite differences judge alone
NO_AUTOGRAD = {"a slice object in an element assignment"}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_against_python_finite_differences_and_autograd(name, tmp_path):
    body, args, wrt = PROGRAMS[name]
    text = "import numpy as np\n" + body
    verdict = fuzzcheck.check_program(
        tmp_path, text, args, wrt, autograd_text=text.replace("numpy", "autograd.numpy", 1)
    )
    assert "fd" in verdict and ("autograd" in verdict or name in NO_AUTOGRAD), verdict


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_forward_mode_agrees_with_reverse(name, tmp_path):
    body, args, wrt = PROGRAMS[name]
    module, path = fuzzcheck.load(tmp_path, "import numpy as np\n" + body)
    try:
        f = module.f
        for w in wrt:
            trees = [args[w]]
            direction = fuzzcheck.unflat(trees, RNG.normal(size=fuzzcheck.flat(trees).size))[0]
            value, tangent = ad.jvp(f, wrt=w)(*args, direction)
            assert value == pytest.approx(f(*args), rel=1e-12)
            g = ad.grad(f, wrt=w)(*args)
            expected = np.dot(fuzzcheck.flat([g]), fuzzcheck.flat([direction]))
            assert tangent == pytest.approx(expected, rel=1e-9, abs=1e-12)
    finally:
        fuzzcheck.forget(module, path)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_hessian_vector_product(name, tmp_path):
    body, args, wrt = PROGRAMS[name]
    module, path = fuzzcheck.load(tmp_path, "import numpy as np\n" + body)
    try:
        assert fuzzcheck.check_hvp(module.f, args, wrt) == "hvp"
    finally:
        fuzzcheck.forget(module, path)


def test_a_dict_gradient_keeps_the_insertion_order():
    def f(params):
        return sum(np.sum(np.sin(v)) for v in params.values())

    p = params()
    g = ad.grad(f)(p)
    assert list(g) == list(p) == ["W", "b", "a"]
    for k in p:
        np.testing.assert_allclose(g[k], np.cos(p[k]))


def test_generated_code_reads_each_key_once_per_use():
    def f(params, x):
        return sum(np.sum(v * x) for v in params.values())

    p = {"W": X, "b": X}
    fn = ad.grad(f)
    fn(p, X)
    src = fn.source
    assert "params['W']" in src and "params['b']" in src  # unrolled, constant keys
    assert "range(" not in src


def test_the_default_of_get_gets_its_gradient_only_when_used():
    def f(d, x):
        return np.sum(d.get("W", x) * 3.0)

    x = RNG.normal(size=3)
    g_absent = ad.grad(f, wrt=(0, 1))({"b": x}, x)
    np.testing.assert_allclose(g_absent[1], np.full(3, 3.0))
    assert g_absent[0]["b"] is not None
    np.testing.assert_allclose(g_absent[0]["b"], np.zeros(3))
    g_present = ad.grad(f, wrt=(0, 1))({"W": x}, x)
    np.testing.assert_allclose(g_present[0]["W"], np.full(3, 3.0))
    np.testing.assert_allclose(g_present[1], np.zeros(3))


# ------------------------------------------------------------------ refusals


def refused(f, *args) -> AdCompileError:
    with pytest.raises(AdCompileError) as info:
        ad.grad(f)(*args)
    return info.value


def test_refuses_sorting_differentiable_values():
    def f(params):
        s = 0.0
        for v in sorted(params.values(), key=lambda t: t[0]):
            s = s + np.sum(v)
        return s

    err = refused(f, params())
    assert err.loc.lineno == f.__code__.co_firstlineno + 2
    assert "sorted()" in err.reason and "np.sort" in err.hint


def test_refuses_sorting_a_list_of_numbers_known_only_at_run_time():
    def f(xs):
        return sorted(xs)[0] * 2.0

    err = refused(f, [1.0, 2.0])
    assert "known only when the function runs" in err.reason and "np.sort" in err.hint


def test_refuses_get_with_a_key_known_only_at_run_time():
    def f(d, keys):
        s = 0.0
        for k in keys:
            s = s + d.get(k, 0.0)
        return s

    err = refused(f, {"a": 1.0}, [0, 1])
    assert "of .get() is not a constant" in err.reason and "constant" in err.hint


def test_refuses_zipping_a_view_with_a_list_of_unknown_length():
    def f(d, xs):
        s = 0.0
        for v, x in zip(d.values(), xs):
            s = s + v * x
        return s

    err = refused(f, {"a": 1.0, "b": 2.0}, [1.0, 2.0])
    assert "cannot be zipped" in err.reason and "zip(d.keys()" in err.hint


def test_refuses_a_dict_comprehension_over_a_list_known_only_at_run_time():
    def f(xs):
        d = {i: x for i, x in enumerate(xs)}
        return d[0]

    err = refused(f, [1.0, 2.0])
    assert "keys of this dict comprehension" in err.reason and "params.items()" in err.hint
    assert err.loc.lineno == f.__code__.co_firstlineno + 1


def test_refuses_items_of_an_array():
    def f(x):
        s = 0.0
        for _k, v in x.items():
            s = s + v
        return s

    err = refused(f, np.ones(3))
    assert ".items() is a dict's" in err.reason


def test_refuses_sum_of_a_dict():
    def f(d):
        return sum(d)

    err = refused(f, {"a": 1.0})
    assert "sum() of a dict" in err.reason and "d.values()" in err.hint


def test_refuses_a_slice_bound_that_is_not_an_int():
    def f(x):
        s = slice(0, x[0])
        return np.sum(x[s])

    err = refused(f, np.ones(3))
    assert "must be an int or None" in err.reason


def test_refuses_a_slice_read_from_a_list_at_a_run_time_position():
    def f(x, n):
        pieces = [slice(0, 2), slice(1, 3)]
        s = 0.0
        for i in range(n):
            s = s + np.sum(x[pieces[i]])
        return s

    err = refused(f, np.ones(3), 2)
    assert "holds slices" in err.reason and "for s in" in err.hint


def test_general_code_says_the_keys_come_from_a_call():
    def f(params):
        return sum(np.sum(v) for v in params.values())

    with pytest.raises(AdCompileError) as info:
        _ = ad.grad(f).source
    assert "is not a dict here" in info.value.reason
    assert "before any call" in info.value.hint


def test_refuses_indexing_a_dict_view_as_python_does():
    def f(d):
        v = d.values()
        return v[0]

    err = refused(f, {"a": 1.0})
    assert "cannot be indexed" in err.reason and "list(d.values())" in err.hint


def test_refuses_a_slice_chosen_when_the_code_runs():
    def f(xs, c):
        s = slice(0, 2) if c > 0 else slice(1, 3)
        return xs[s][0]

    err = refused(f, [1.0, 2.0, 3.0], 1.0)
    assert "one of several slice(...) objects" in err.reason and "x[a:b]" in err.hint


def test_refuses_a_slice_passed_to_another_function():
    def first(xs, s):
        return xs[s][0]

    def f(xs):
        return first(xs, slice(1, 3))

    err = refused(f, [1.0, 2.0, 3.0])
    assert "passed to first()" in err.reason


def test_a_view_read_again_after_the_dict_is_rebound_keeps_the_old_values():
    def f(d, x):
        s = 0.0
        for _k, v in d.items():
            d = {"a": x * 10.0, "b": x}
            s = s + np.sum(v * x)
        return s + np.sum(d["a"])

    d = {"a": RNG.normal(size=3), "b": RNG.normal(size=3)}
    g = ad.grad(f, wrt=(0, 1))(d, X)
    assert ad.value_and_grad(f)(d, X)[0] == pytest.approx(f(d, X))
    np.testing.assert_allclose(g[0]["a"], X)
    np.testing.assert_allclose(g[1], d["a"] + d["b"] + 10.0)


def test_refuses_updating_a_dict_in_place():
    def f(p, x):
        p |= {"c": x}
        return np.sum(p["a"] * p["c"])

    err = refused(f, {"a": X}, X)
    assert "in place" in err.reason and "p = p | {...}" in err.hint

    def g(p, x):
        p["c"] = x
        return np.sum(p["a"] * p["c"])

    err = refused(g, {"a": X}, X)
    assert "element of a dict" in err.reason and "p = p | {key: v}" in err.hint
