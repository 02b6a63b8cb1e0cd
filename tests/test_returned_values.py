"""The value a gradient function returns is the function's own value.

The reverse of a loop takes the values each iteration saved back into the names
they had, so after it a name the loop carries holds its first iteration's value.
Whatever the generated code returns from the forward sweep (``value_and_grad``'s
value, the shape of a zero gradient) must be what the forward computed, however
the value got there: carried by a for or a while loop, by nested loops, through
a branch inside a loop, from a helper's result in a loop, after an early return,
or read again after the loop. Each case is checked against the function run by
plain Python (value) and against central finite differences (gradient), for
``grad``, ``value_and_grad`` and ``vjp``, in code specialised to the argument
shapes and in the general code, on a first call and through the dispatcher.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import leaves, replace_leaf

import adcompile as ad
import adcompile.api
from adcompile.checking import numeric_grad

# ------------------------------------------------------------------ programs


def tanh_dot(w, x):
    return np.sum(np.tanh(w * x))


def power_by_loop(x):
    y = x
    for _i in range(3):
        y = y * x
    return y


def sum_of_helper_calls(w, xs):
    t = 0.0
    for x in xs:
        t = t + tanh_dot(w, x)
    return t


def product_of_helper_calls(w, xs):
    t = 1.0
    for x in xs:
        t = t * tanh_dot(w, x)
    return t


def carried_through_a_helper(w, x):
    t = w
    for _i in range(3):
        t = tanh_dot(t, x) * t
    return t


def helper_result_carried_inside_it(x):
    y = power_by_loop(x)
    return y


def helper_with_a_loop_called_in_a_loop(x):
    t = 0.5
    for _i in range(2):
        t = t * power_by_loop(x * t + 0.5)
    return t


def while_loop(x):
    y = x
    k = 0
    while k < 3:
        y = y * np.sin(y)
        k = k + 1
    return y


def while_loop_on_the_value(x):
    y = x
    while y < 5.0:
        y = y * 1.5 + x * y
    return y


def nested_loops(x):
    y = x
    for _i in range(2):
        z = y
        for _j in range(2):
            z = z * x
        y = z * y
    return y


def carried_by_the_inner_loop(x):
    y = x
    for _i in range(2):
        for _j in range(2):
            y = y * np.cos(y)
    return y


def branch_inside_the_loop(x):
    y = x
    for _i in range(4):
        if y > 0.5:
            y = y * y
        else:
            y = np.sin(y) * x
    return y


def break_out_of_the_loop(x):
    y = x
    for _i in range(10):
        y = y * np.cos(y) + x
        if y > 2.0:
            break
    return y


def early_return_after_the_loop(x):
    y = x
    for _i in range(3):
        y = y * x
    if x > 0:
        return y
    return y * 2.0


def read_again_after_the_loop(x):
    y = x
    for _i in range(3):
        y = y * x
    z = np.sin(y)
    return z * y


def parameter_carried(x):
    for _i in range(3):
        x = x * np.cos(x)
    return x


def array_carried_and_reduced(x, w):
    y = x
    for _i in range(3):
        y = np.tanh(y * w) * x
    s = np.sum(y * y)
    return s


def two_loops_carrying_one_value(x):
    y = x
    for _i in range(2):
        y = y * x
    for _i in range(2):
        y = y * np.sin(y)
    return y


X = np.array([0.3, -0.5, 0.8])
XS = [np.array([0.1, 0.2, -0.4]), np.array([1.0, -0.3, 0.5]), np.array([0.7, 0.7, 0.1])]

CASES = [
    (power_by_loop, (2.0,), 0),
    (power_by_loop, (np.array(0.7),), 0),
    (sum_of_helper_calls, (X, XS), 0),
    (product_of_helper_calls, (X, XS), 0),
    (carried_through_a_helper, (0.5, np.array([0.3, -0.2])), 0),
    (helper_result_carried_inside_it, (1.2,), 0),
    (helper_with_a_loop_called_in_a_loop, (0.7,), 0),
    (while_loop, (0.9,), 0),
    (while_loop_on_the_value, (0.8,), 0),
    (nested_loops, (1.1,), 0),
    (carried_by_the_inner_loop, (0.8,), 0),
    (branch_inside_the_loop, (0.9,), 0),
    (branch_inside_the_loop, (0.3,), 0),
    (break_out_of_the_loop, (0.4,), 0),
    (early_return_after_the_loop, (1.3,), 0),
    (early_return_after_the_loop, (-1.3,), 0),
    (read_again_after_the_loop, (1.1,), 0),
    (parameter_carried, (0.8,), 0),
    (array_carried_and_reduced, (X, np.array([1.5, -0.5, 0.25])), (0, 1)),
    (two_loops_carrying_one_value, (1.2,), 0),
]
IDS = [f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(CASES)]


@pytest.fixture(params=[True, False], ids=["specialised", "general"])
def specialise(request, monkeypatch):
    """Code specialised to the argument shapes, or the general code (as after many
    shapes)."""
    if not request.param:
        monkeypatch.setattr(adcompile.api, "MAX_SPECIALISATIONS", 0)
    return request.param


def finite_differences(f, args, wrt) -> list:
    items = [wrt] if isinstance(wrt, int) else list(wrt)
    return [numeric_grad(f, list(args), i) for i in items]


def as_list(g, wrt) -> list:
    return [g] if isinstance(wrt, int) else list(g)


def assert_grads_close(got, want, wrt) -> None:
    for g, fd in zip(as_list(got, wrt), want, strict=True):
        np.testing.assert_allclose(np.asarray(g, dtype=float), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("f", "args", "wrt"), CASES, ids=IDS)
def test_value_and_grad_returns_the_function_value(f, args, wrt, specialise):
    want = f(*args)
    fd = finite_differences(f, args, wrt)
    vg = ad.value_and_grad(f, wrt=wrt)
    for _ in range(3):  # the first call, then through the dispatcher
        value, g = vg(*args)
        assert value == want or np.isclose(value, want, rtol=1e-12, atol=0.0), (value, want)
        assert_grads_close(g, fd, wrt)


@pytest.mark.parametrize(("f", "args", "wrt"), CASES, ids=IDS)
def test_grad_and_vjp_agree_with_finite_differences(f, args, wrt, specialise):
    fd = finite_differences(f, args, wrt)
    dg = ad.grad(f, wrt=wrt)
    pullback = ad.vjp(f, wrt=wrt)
    for _ in range(3):
        assert_grads_close(dg(*args), fd, wrt)
        assert_grads_close(pullback(*args, 1.0), fd, wrt)


def test_minimize_sees_the_values_of_the_function():
    """What an optimizer is handed: value and gradient at each point, both of f."""
    vg = ad.value_and_grad(sum_of_helper_calls)
    for scale in (0.5, 1.0, -2.0):
        w = X * scale
        value, g = vg(w, XS)
        assert value == sum_of_helper_calls(w, XS)
        np.testing.assert_allclose(g, numeric_grad(sum_of_helper_calls, [w, XS], 0), rtol=1e-6)


# --------------------------------------------- vjp of container results


def tuple_of_carried(x):
    a = x
    b = x
    for _i in range(3):
        a = a * np.sin(b)
        b = b * a
    return a, b


def list_of_carried(x):
    y = x
    out = []
    for _i in range(3):
        y = np.tanh(y) * x
        out.append(y * y)
    return [out[0], y]


def dict_of_carried(ps, x):
    q = ps[0]
    t = x
    for p in ps:
        t = t * np.cos(p["y"] * t)
        if np.sum(p["y"] * t) > np.sum(q["y"]):
            q = p
    return q


PS = [{"y": X}, {"y": np.array([1.0, 0.3, 0.2])}, {"y": np.array([0.5, -2.0, 0.0])}]


def scalarised(f, cotangent):
    """x -> <cotangent, f(x)>: its gradient is f's vjp with that cotangent."""

    def h(*args):
        return sum(np.sum(c * r) for c, r in zip(leaves(cotangent), leaves(f(*args)), strict=True))

    return h


VJP_CASES = [
    (tuple_of_carried, (X,), lambda: (np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.3, -1.0]))),
    (list_of_carried, (X,), lambda: [np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 0.25])]),
    (dict_of_carried, (PS, 1.0), lambda: {"y": np.array([1.0, -1.0, 2.0])}),
]


@pytest.mark.parametrize(
    ("f", "args", "cotangent"), VJP_CASES, ids=[f.__name__ for f, _, _ in VJP_CASES]
)
def test_vjp_of_a_container_of_loop_carried_values(f, args, cotangent, specialise):
    c = cotangent()
    h = scalarised(f, c)
    tree = args[0]
    fd = []
    for k, x in enumerate(leaves(tree)):

        def at(leaf, k=k):
            return h(replace_leaf(tree, k, leaf), *args[1:])

        fd.append(numeric_grad(at, [x], 0))
    pullback = ad.vjp(f)
    for _ in range(3):
        g = pullback(*args, c)
        assert type(g) is type(tree)
        for got, want in zip(leaves(g), fd, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
