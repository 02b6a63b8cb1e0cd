"""``map(f, xs)`` consumed whole (``sum(map(...))``, ``list(map(...))``): the calls of
``f`` on each element, in order, as the generator expression it is; ``f`` a function,
a ``functools.partial`` made in the call, or a ``lambda``; several iterables zipped.
A loop over a map (``for y in map(f, xs):``, inside ``enumerate`` and ``zip`` too)
makes each call when its iteration starts; ``reversed``, ``zip`` and ``enumerate``
consumed whole (``list(reversed(xs))``) are the lists of their items.

Each function is checked against the function run by plain Python, central finite
differences in float64 and autograd (the same text run with autograd's numpy) in
``grad``, ``value_and_grad`` and ``vjp``.
"""

from __future__ import annotations

import textwrap

import autograd
import numpy as np
import pytest
from fuzzcheck import flat, load, unflat
from helpers import central_in_trees as central
from helpers import load_with_autograd, normal

import adcompile as ad

SOURCE = textwrap.dedent(
    """
    from functools import partial
    import functools

    import numpy as np


    def score(w, x, k=1.0):
        return np.sum(np.tanh(w * x)) * k


    def of_a_function(x, xs):
        return sum(map(np.sin, xs)) * x


    def of_a_partial(w, xs, k):
        return sum(map(partial(score, w, k=k), xs))


    def of_a_module_partial(w, xs):
        total = np.sum(np.stack(list(map(functools.partial(score, w), xs))))
        return total ** 2


    def of_a_lambda(w, xs, ys):
        parts = list(map(lambda a, b: a * b * w, xs, ys))
        return np.sum(np.stack(parts) ** 2)


    def of_two_lists(w, xs):
        return sum(map(score, xs, xs)) * np.sum(w)


    def loop_over_map(w, xs):
        total = 0.0
        for y in map(np.sin, xs):
            total = total + np.sum(w * y)
        return total


    def loop_over_map_of_a_lambda(w, xs, ys):
        z = w * 2.0  # (the lambda's parameter z is not the function's z)
        total = 0.0
        for a, b in map(lambda z, u: (z * w, u), xs, ys):
            total = total + np.sum(a * b) + np.sum(z)
            w = w * 0.5  # (the lambda reads w when each element is made, as map calls it)
        return total


    def loop_over_enumerated_map(w, xs, k):
        total = 0.0
        for i, (y, x) in enumerate(zip(map(partial(score, w, k=k), xs), xs), start=1):
            total = total + y * i + np.sum(x * w)
        return total


    def iterators_consumed_whole(w, xs):
        backwards = list(reversed(xs))
        pairs = list(zip(xs, backwards))
        numbered = list(enumerate(xs, 1))
        total = np.sum(sum(reversed(xs)) * w)
        for a, b in pairs:
            total = total + np.sum(a * b * w)
        return total + np.sum(numbered[-1][1] * numbered[-1][0]) + np.sum(backwards[0] ** 2)


    def recursive(params, data):
        if isinstance(data, list):
            return sum(map(partial(recursive, params), data))
        a, b = params
        return np.sum(np.tanh(a * data + b))
    """
)


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    return load_with_autograd(tmp_path_factory, SOURCE, "maps")


CASES = [
    ("of_a_function", lambda: (0.7, [0.3, -1.1, 2.0]), (0, 1)),
    ("of_a_partial", lambda: (normal(3), [normal(3, seed=1), normal(3, seed=2)], 1.5), (0, 1, 2)),
    ("of_a_module_partial", lambda: (normal(2), [normal(2, seed=3), normal(2, seed=4)]), (0, 1)),
    ("of_a_lambda", lambda: (0.4, [normal(2), normal(2, seed=5)], [normal(2, seed=6)] * 2), (0, 1)),
    ("of_two_lists", lambda: (normal(2), [0.3, -0.2]), (0, 1)),
    ("loop_over_map", lambda: (normal(3), [normal(3, seed=1), normal(3, seed=2)]), (0, 1)),
    (
        "loop_over_map_of_a_lambda",
        lambda: (normal(2), [normal(2, seed=3), normal(2, seed=4)], [normal(2, seed=5)] * 2),
        (0, 1, 2),
    ),
    (
        "loop_over_enumerated_map",
        lambda: (normal(3), [normal(3, seed=6), normal(3, seed=7)], 0.8),
        (0, 1, 2),
    ),
    (
        "iterators_consumed_whole",
        lambda: (normal(2), [normal(2, seed=8), normal(2, seed=9)]),
        (0, 1),
    ),
    ("recursive", lambda: ((0.5, -0.2), normal(4)), (0,)),
    # (autograd boxes a list it differentiates, which isinstance(data, list) then misses)
    ("recursive", lambda: ((0.5, -0.2), [normal(4), normal(2, seed=7)]), (0,)),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{n}" for n, c in enumerate(CASES)])
def test_map_is_the_calls_it_makes(modules, case):
    plain, auto = modules
    name, make, wrt = case
    f, fa = getattr(plain, name), getattr(auto, name)
    args = make()
    fd = central(f, args, wrt)
    oracle = flat([autograd.grad(fa, i)(*args) for i in wrt])
    np.testing.assert_allclose(oracle, fd, rtol=1e-6, atol=1e-8)
    got = ad.grad(f, wrt=wrt)(*args)
    np.testing.assert_allclose(flat(list(got)), oracle, rtol=1e-10, atol=1e-12)
    value, got = ad.value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    np.testing.assert_allclose(flat(list(got)), oracle, rtol=1e-10, atol=1e-12)
    got = ad.vjp(f, wrt=wrt)(*args, 2.0)
    np.testing.assert_allclose(flat(list(got)), 2.0 * oracle, rtol=1e-10, atol=1e-12)
    # forward mode (a recursive call for another structure is a jvp of its own)
    trees = [args[i] for i in wrt]
    direction = np.random.default_rng(3).normal(size=oracle.size)
    value, tangent = ad.jvp(f, wrt=wrt)(*args, tangent=tuple(unflat(trees, direction)))
    assert value == pytest.approx(f(*args), rel=1e-12)
    assert tangent == pytest.approx(float(oracle @ direction), rel=1e-9, abs=1e-12)


REFUSED = textwrap.dedent(
    """
    from functools import partial

    import numpy as np


    def score(w, x):
        return np.sum(w * x)


    def partial_of_a_call(w, xs):
        return sum(map(partial(score, np.exp(w)), xs))


    def kept_for_later(w, xs):
        ys = map(np.sin, xs)
        return np.sum(w) * sum(ys)


    def iterated(w, xs):
        total = 0.0
        for y in map(partial(score, np.exp(w)), xs):
            total = total + np.sum(w * y)
        return total
    """
)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("partial_of_a_call", "return sum(map(partial(score, np.exp(w)), xs))"),
        ("kept_for_later", "ys = map(np.sin, xs)"),
        ("iterated", "for y in map(partial(score, np.exp(w)), xs):"),
    ],
)
def test_a_map_not_written_out_is_refused_where_it_is(tmp_path, name, line):
    module, _ = load(tmp_path, REFUSED, "maps_refused")
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(getattr(module, name))(normal(2), [normal(2, seed=1)])
    assert line in info.value.line
    assert info.value.hint
    assert "internal error" not in info.value.reason
