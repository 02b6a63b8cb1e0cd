"""Chained assignment, ``a = b = value``: ``value`` evaluated once and bound to each
target, left to right, so the targets hold one object, as in Python. Values against
the function run by Python, gradients against central finite differences in float64
and autograd (the same code under autograd's numpy)."""

from __future__ import annotations

import types

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import adcompile as ad
from adcompile.checking import numeric_grad


def names(x):
    a = b = x * 2.0
    a = a + 1.0
    return np.sum(a * b)


def into_an_element(x):
    y = np.zeros(3)
    y[0] = z = np.sum(np.sin(x))
    return np.sum(y * x) * z


def in_a_loop(x):
    total = term = x
    for k in range(1, 4):
        term = -term * x / k
        total = left = total + term
    return np.sum(total * left)


def three_targets(x):
    p = q = r = np.tanh(x)
    return np.sum(p * q + r)


@pytest.mark.parametrize("f", [names, into_an_element, in_a_loop, three_targets])
def test_chained_assignment_binds_one_value_to_each_target(f):
    x = np.array([0.3, -0.8, 1.2])
    value, g = ad.value_and_grad(f)(x)
    assert value == pytest.approx(f(x), rel=1e-12)
    np.testing.assert_allclose(g, numeric_grad(f, [x], 0, 1e-6), rtol=1e-6, atol=1e-8)
    if f is not into_an_element:  # (autograd cannot assign into an array element)
        twin = types.FunctionType(f.__code__, {**f.__globals__, "np": anp})
        expect = autograd.grad(twin)(x)
        np.testing.assert_allclose(g, expect, rtol=1e-12)


def updates_one_target(x):
    a = b = x * 2.0
    a += 1.0  # Python changes b too: the targets are one array
    return np.sum(a * b)


def test_an_update_of_one_target_is_refused_as_python_would_change_both():
    with pytest.raises(ad.AdCompileError, match="'a' shares its memory with 'b'") as info:
        ad.grad(updates_one_target)(np.ones(3))
    assert "a += 1.0" in info.value.line
