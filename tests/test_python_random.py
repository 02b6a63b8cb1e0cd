"""Draws of Python's ``random`` module (``random.gauss``, ``random.random``,
``random.uniform``, ``from random import gauss``, the methods of a ``random.Random``)
are draws like numpy's: values with no derivative, drawn once where the function draws
them, in order, and read again by the reverse sweep (never a second draw).

Each function's value is checked against the function run by Python from the same
random state, its gradient against autograd's and central finite differences of the
same function with the draws fixed, and the state the call leaves against the state
Python's own call leaves (one draw each, no more).
"""

from __future__ import annotations

import random
from random import gauss

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import adcompile as ad
from adcompile.checking import numeric_grad

X0 = np.array([0.3, -1.2, 0.8])
SHARED = random.Random(5)


def module_functions(x, w):
    e = random.gauss(0.0, 1.0)
    u = random.random()
    v = random.uniform(-1.0, 2.0)
    return np.sum(np.tanh(x * e) * w) + u * np.sum(x**2) - v * w


def module_functions_fixed(x, w, e, u, v):
    return anp.sum(anp.tanh(x * e) * w) + u * anp.sum(x**2) - v * w


def imported_by_name(x, w):
    noise = [gauss(0.0, 0.5) for _ in range(3)]
    return np.sum((x + np.array(noise)) ** 2) * w


def imported_by_name_fixed(x, w, noise):
    return anp.sum((x + anp.array(noise)) ** 2) * w


def generator_argument(x, w, rng):
    total = 0.0
    for _ in range(2):
        total = total + np.sum(np.sin(x * rng.gauss(1.0, 0.2))) * rng.uniform(0.5, 1.5) * w
    return total


def generator_argument_fixed(x, w, draws):
    total = 0.0
    for e, s in draws:
        total = total + anp.sum(anp.sin(x * e)) * s * w
    return total


def global_generator(x, w):
    mask = [SHARED.random() > 0.5 for _ in range(3)]
    return np.sum(np.array(mask) * x**2) * w + SHARED.normalvariate(0.0, 1.0) * w


def global_generator_fixed(x, w, mask, n):
    return anp.sum(anp.array(mask) * x**2) * w + n * w


def check(f, g, expect_value, fixed, fixed_args, args):
    """``g(*args)`` (value_and_grad wrt 0 and 1) against the fixed function's value and
    autograd's and finite differences' gradients."""
    value, (dx, dw) = g(*args)
    assert value == pytest.approx(expect_value, rel=1e-12)
    ex, ew = autograd.grad(fixed, (0, 1))(*fixed_args)
    np.testing.assert_allclose(dx, ex, rtol=1e-10)
    np.testing.assert_allclose(dw, ew, rtol=1e-10)
    fd = numeric_grad(lambda x: fixed(x, *fixed_args[1:]), [fixed_args[0]], 0, 1e-6)
    np.testing.assert_allclose(dx, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["value_and_grad", "grad", "vjp"])
def test_the_module_functions_draw_once_per_call(mode):
    gradient = getattr(ad, mode)(module_functions, wrt=(0, 1))
    w = 0.7
    for seed in (1, 2, 2):
        random.seed(seed)
        out = gradient(X0, w, 1.0) if mode == "vjp" else gradient(X0, w)
        after = random.random()
        random.seed(seed)
        draws = (random.gauss(0.0, 1.0), random.random(), random.uniform(-1.0, 2.0))
        assert after == random.random()  # the state the call left: three draws made
        if mode == "value_and_grad":
            value, out = out
            random.seed(seed)
            assert value == module_functions(X0, w)
        expect = autograd.grad(module_functions_fixed, (0, 1))(X0, w, *draws)
        for a, b in zip(out, expect, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_function_imported_from_random():
    random.seed(11)
    value = imported_by_name(X0, 1.5)
    random.seed(11)
    noise = [gauss(0.0, 0.5) for _ in range(3)]
    random.seed(11)
    g = ad.value_and_grad(imported_by_name, wrt=(0, 1))
    check(imported_by_name, g, value, imported_by_name_fixed, (X0, 1.5, noise), (X0, 1.5))


def test_the_methods_of_a_random_generator_passed_in():
    g = ad.value_and_grad(generator_argument, wrt=(0, 1))
    for seed in (3, 4):
        value = generator_argument(X0, 0.8, random.Random(seed))
        rng = random.Random(seed)
        draws = [(rng.gauss(1.0, 0.2), rng.uniform(0.5, 1.5)) for _ in range(2)]
        rng = random.Random(seed)
        check(
            generator_argument,
            g,
            value,
            generator_argument_fixed,
            (X0, 0.8, draws),
            (X0, 0.8, rng),
        )
        assert rng.random() == _after(random.Random(seed), 4)


def _after(rng: random.Random, draws: int) -> float:
    """The number ``rng`` gives after ``draws`` draws (gauss and uniform alike)."""
    for _ in range(draws // 2):
        rng.gauss(1.0, 0.2)
        rng.uniform(0.5, 1.5)
    return rng.random()


def test_a_module_level_generator():
    global SHARED
    g = ad.value_and_grad(global_generator, wrt=(0, 1))
    for seed in (8, 9):
        SHARED = random.Random(seed)
        value = global_generator(X0, 1.3)
        SHARED = random.Random(seed)
        mask = [SHARED.random() > 0.5 for _ in range(3)]
        n = SHARED.normalvariate(0.0, 1.0)
        SHARED = random.Random(seed)
        check(global_generator, g, value, global_generator_fixed, (X0, 1.3, mask, n), (X0, 1.3))


def shuffles_a_list(x, xs):
    random.shuffle(xs)
    return np.sum(x * xs[0])


def draws_around_x(x):
    return np.sum(x) * random.gauss(float(np.sum(x)), 1.0)


def test_what_would_be_wrong_is_refused():
    with pytest.raises(ad.AdCompileError, match=r"random.shuffle\(...\) writes into") as info:
        ad.grad(shuffles_a_list)(X0, [1.0, 2.0])
    assert "random.shuffle(xs)" in info.value.line
    with pytest.raises(ad.AdCompileError, match="arguments depend on a differentiated") as info:
        ad.grad(draws_around_x)(X0)
    assert "random.gauss" in info.value.line
