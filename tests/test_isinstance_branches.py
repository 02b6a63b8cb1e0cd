"""``if isinstance(x, list): ...`` on an argument whose structure the code is compiled
for: the branch Python takes is the only one compiled, so the other may do what only
makes sense for another structure (``a * data`` for an array, ``map`` over a list).
Where the structure does not decide (a list of mixed elements and a tuple have one
structure), the test runs when the function runs, as before.

Values against the function run by Python, gradients against central finite
differences in float64.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest

import adcompile as ad
from adcompile.checking import numeric_grad


class Pair(NamedTuple):
    a: np.ndarray
    b: np.ndarray


@dataclasses.dataclass
class Box:
    a: np.ndarray
    b: np.ndarray


def total(data, w):
    if isinstance(data, list):
        return sum(total(d, w) for d in data)
    if isinstance(data, dict):
        return total(data["x"], w) * 2.0
    if isinstance(data, tuple):
        return np.sum(data[0] * w) - np.sum(data[1] * w)
    return np.sum(np.tanh(data * w))


def kinds_of(data, w):
    if isinstance(data, (list, tuple)):
        return np.sum(data[0] * w) + np.sum(data[1])
    return np.sum(data * w)


def mixed(data, w):
    if isinstance(data, list):  # a list of an array and a number: decided when it runs
        return np.sum(data[0] * w) * data[1]
    return np.sum(data[0] * w) + data[1]


W = np.array([0.3, -0.7, 1.1])
ARGS = [
    (total, [np.array([0.2, 0.5, -1.0]), np.array([1.0, 2.0, 3.0])]),
    (total, {"x": np.array([0.1, 0.2, 0.3])}),
    (total, (np.array([0.1, 0.2, 0.3]), np.array([1.0, -1.0, 0.5]))),
    (total, Pair(np.array([0.1, 0.2, 0.3]), np.array([1.0, -1.0, 0.5]))),
    (total, Box(np.array([0.1, 0.2, 0.3]), np.array([1.0, -1.0, 0.5]))),
    (kinds_of, [np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0])]),
    (kinds_of, (np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0]))),
    (kinds_of, np.array([0.1, 0.2, 0.3])),
    (mixed, [np.array([0.1, 0.2, 0.3]), 2.0]),
    (mixed, (np.array([0.1, 0.2, 0.3]), 2.0)),
]


@pytest.mark.parametrize(
    ("f", "data"), ARGS, ids=[f"{f.__name__}-{type(d).__name__}" for f, d in ARGS]
)
def test_the_branch_python_takes(f, data):
    if isinstance(data, Box):
        # a dataclass is no tuple: Python falls through to the array branch, which
        # cannot multiply a Box; adcompile says so where it happens
        with pytest.raises(ad.AdCompileError):
            ad.grad(f, wrt=1)(data, W)
        return
    value, g = ad.value_and_grad(f, wrt=1)(data, W)
    assert value == pytest.approx(f(data, W), rel=1e-12)
    np.testing.assert_allclose(
        g, numeric_grad(lambda w: f(data, w), [W], 0, 1e-6), rtol=1e-6, atol=1e-8
    )


def not_a_list(x, p):
    if not isinstance(p, list):
        s = np.sum(x * p["w"])
    else:
        s = np.sum(np.stack(p[1:] + p[:1]))  # (a list's code, never compiled for a dict)
    return s + np.sum(x**2)


def test_not_isinstance_is_known_when_compiling_too():
    """Found by the fuzzer's signatures extension: ``if not isinstance(p, list):`` was a
    branch decided when the code runs, so the list branch was compiled for a dict
    and refused."""
    x = np.array([0.3, -0.4])
    p = {"w": np.array([1.0, 2.0])}
    value, (gx, gp) = ad.value_and_grad(not_a_list, wrt=(0, 1))(x, p)
    assert value == not_a_list(x, p)
    np.testing.assert_allclose(gx, numeric_grad(not_a_list, [x, p], 0), rtol=1e-6)
    np.testing.assert_allclose(gp["w"], numeric_grad(not_a_list, [x, p], 1)["w"], rtol=1e-6)
