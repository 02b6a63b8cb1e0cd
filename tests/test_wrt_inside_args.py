"""``wrt`` naming a position inside ``*args`` (``wrt='args[1]'``): the gradient of that
one argument, in the place of its entry, in every mode.

Each function is checked against the function run by plain Python, central finite
differences in float64 and autograd (the same text run with autograd's numpy, whose
``argnum`` counts the call's positional arguments); the arguments of ``*args`` that
are not differentiated may be integers, strings or functions, as Python allows.
"""

from __future__ import annotations

import textwrap

import autograd
import numpy as np
import pytest
from helpers import central_in_argument as central
from helpers import load_with_autograd, normal

import adcompile as ad

SOURCE = textwrap.dedent(
    """
    import numpy as np


    def power_of_sum(w, *args, k=2.0):
        return np.sum(w * args[0]) ** args[2] + k * np.sum(args[1] ** 2)


    def only_args(*xs):
        return np.sum(np.sin(xs[0]) * xs[1]) + xs[2] ** 2


    def mode_and_weights(x, *args):
        a, name = args[0], args[1]
        if name == "square":
            return np.sum((a * x) ** 2)
        return np.sum(a * x)


    def loop_over_args(x, *terms):
        total = 0.0
        for t in terms:
            total = total + np.sum(t * x) ** 2
        return total


    def helper(a, b, c):
        return np.sum(a * np.tanh(b)) * c


    def passes_them_on(x, *args):
        return helper(x, *args)


    def reads_the_last(x, *args):
        return np.sum(x * args[-1]) + np.sum(args[0] ** 3)


    def applies(x, *args):
        f, scale = args[0], args[1]
        return np.sum(f(x * scale))
    """
)


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    return load_with_autograd(tmp_path_factory, SOURCE, "wrt_inside_args")


# (function, arguments, wrt entries, their positions among the call's arguments)
CASES = [
    (
        "power_of_sum",
        lambda: (normal(3), normal(3, seed=1), normal(2, seed=2), 2),
        ("args[1]",),
        (2,),
    ),
    (
        "power_of_sum",
        lambda: (normal(3), normal(3, seed=1), normal(2, seed=2), 3),
        ("w", "args[0]"),
        (0, 1),
    ),
    (
        "power_of_sum",
        lambda: (normal(3), normal(3, seed=1), normal(2, seed=2), 2),
        ("args[1]", "args[0]"),
        (2, 1),
    ),
    ("only_args", lambda: (normal(4), normal(4, seed=1), 0.7), ("xs[2]",), (2,)),
    ("only_args", lambda: (normal(4), normal(4, seed=1), 0.7), ("xs[0]", "xs[2]"), (0, 2)),
    ("mode_and_weights", lambda: (normal(3), normal(3, seed=3), "square"), ("args[0]",), (1,)),
    (
        "mode_and_weights",
        lambda: (normal(3), normal(3, seed=3), "linear"),
        ("x", "args[0]"),
        (0, 1),
    ),
    (
        "loop_over_args",
        lambda: (normal(3), normal(3, seed=4), normal(3, seed=5)),
        ("terms[1]",),
        (2,),
    ),
    ("passes_them_on", lambda: (normal(3), normal(3, seed=6), 1.5), ("args[0]",), (1,)),
    ("passes_them_on", lambda: (normal(3), normal(3, seed=6), 1.5), ("args[1]", "x"), (2, 0)),
    (
        "reads_the_last",
        lambda: (normal(3), normal(2, seed=7), normal(3, seed=8)),
        ("args[1]",),
        (2,),
    ),
    (
        "reads_the_last",
        lambda: (normal(3), normal(2, seed=7), normal(3, seed=8)),
        ("args[0]",),
        (1,),
    ),
    ("applies", lambda: (normal(3), np.sin, 0.8), ("args[1]", "x"), (2, 0)),
]


def ids(case) -> str:
    return f"{case[0]}-{'-'.join(case[2])}"


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_gradient_of_an_argument_inside_args(modules, case):
    plain, auto = modules
    name, make, wrt, positions = case
    f, fa = getattr(plain, name), getattr(auto, name)
    args = make()
    single = len(wrt) == 1
    spelled = wrt[0] if single else wrt
    expected = [central(f, args, p) for p in positions]
    oracle = [np.asarray(autograd.grad(fa, p)(*args)) for p in positions]
    for e, o in zip(expected, oracle, strict=True):
        np.testing.assert_allclose(o, e, rtol=1e-6, atol=1e-8)

    def check(got, factor=1.0, what="grad"):
        got = (got,) if single else got
        assert len(got) == len(wrt), what
        for g, p, o in zip(got, positions, oracle, strict=True):
            assert type(g) is type(args[p]), what  # the argument's own type
            assert np.shape(g) == np.shape(args[p]), what
            np.testing.assert_allclose(g, factor * o, rtol=1e-9, atol=1e-12, err_msg=what)

    for _ in range(2):  # a first call, then the same code again
        check(ad.grad(f, wrt=spelled)(*args))
    value, g = ad.value_and_grad(f, wrt=spelled)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    check(g, what="value_and_grad")
    check(ad.vjp(f, wrt=spelled)(*args, cotangent=0.5), 0.5, "vjp")
    # forward mode: the tangent of the value along one direction per entry
    directions = tuple(normal(*np.shape(args[p]), seed=40 + p) for p in positions)
    directions = tuple(d if d.shape else float(d) for d in directions)
    value, tangent = ad.jvp(f, wrt=spelled)(*args, tangent=directions[0] if single else directions)
    assert value == pytest.approx(f(*args), rel=1e-12)
    expected_tangent = sum(np.sum(o * d) for o, d in zip(oracle, directions, strict=True))
    assert tangent == pytest.approx(expected_tangent, rel=1e-9, abs=1e-12)


def test_only_the_named_argument_is_differentiated(modules):
    """The other arguments of *args are constants of the code: an integer exponent gets
    no adjoint (whose log of a negative base would warn), and the code computes nothing
    for it."""
    f = modules[0].power_of_sum
    args = (np.ones(3), -np.arange(1.0, 4.0), np.array([1.0, 2.0]), 2)
    gradient = ad.grad(f, wrt="args[1]")
    with np.errstate(all="raise"):
        g = gradient(*args)
    np.testing.assert_allclose(g, 2 * 2.0 * args[2])
    assert "log" not in gradient.source
    code = [line for line in gradient.source.splitlines() if not line.lstrip().startswith("#")]
    assert not any("args[0]" in line for line in code), gradient.source


@pytest.mark.parametrize(
    ("wrt", "reason", "hint"),
    [
        ("args[-1]", "counts from the end of *args", "wrt='args[0]'"),
        ("w[0]", "not the function's *args", "wrt='w'"),
        (("args", "args[1]"), "and the whole parameter 'args'", "not both"),
        (("args[1]", "args[1]"), "wrt names 'args[1]' twice", "once"),
        ("rest[0]", "is not a parameter", "'args[0]'"),
    ],
)
def test_bad_positions_are_refused_where_the_function_is(modules, wrt, reason, hint):
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(modules[0].power_of_sum, wrt=wrt)
    assert reason in info.value.reason
    assert hint in info.value.hint
    assert info.value.filename == modules[0].__file__
    assert "def power_of_sum(" in info.value.line


def test_a_position_the_call_does_not_fill_is_refused(modules):
    f = modules[0].power_of_sum
    args = (np.ones(3), np.ones(3), np.ones(2), 2)
    with pytest.raises(ad.AdCompileError, match=r"'args\[3\]', but the call passes 3"):
        ad.grad(f, wrt="args[3]")(*args)
    with pytest.raises(ad.AdCompileError, match=r"'args\[3\]', but the call passes 3"):
        ad.vjp(f, wrt="args[3]")(*args, cotangent=1.0)
    with pytest.raises(ad.AdCompileError, match=r"'args\[3\]', but the call passes 3"):
        ad.jvp(f, wrt="args[3]")(np.ones(3), np.ones(3), np.ones(2), 2, tangent=np.ones(2))


def test_the_named_argument_must_be_floating_point(modules):
    f = modules[0].power_of_sum
    with pytest.raises(ad.AdCompileError, match=r"'args\[2\]': it is an integer"):
        ad.grad(f, wrt="args[2]")(np.ones(3), np.ones(3), np.ones(2), 2)


def test_second_order_and_export_take_whole_parameters(modules):
    f = modules[0].power_of_sum
    args = (np.ones(3), np.ones(3), np.array([1.0, 2.0]), 2.0)
    for make in (ad.hvp, ad.hessian):
        with pytest.raises(ad.AdCompileError, match="take whole parameters") as info:
            make(f, wrt="args[1]")
        assert "wrt='args'" in info.value.hint
    gradient = ad.grad(f, wrt="args[1]")
    gradient(*args)
    with pytest.raises(ad.AdCompileError, match="cannot export"):
        gradient.export()
    # the whole tuple still works for them
    hv = ad.hvp(f, wrt="args")(*args, (np.zeros(3), np.array([1.0, 0.0]), 0.0))
    np.testing.assert_allclose(hv[1], [2 * 2.0, 0.0])


def test_a_gradient_of_such_a_gradient(modules):
    """grad(f, wrt='args[1]') differentiated again: its result is that one gradient."""
    f = modules[0].power_of_sum
    args = (normal(3), normal(3, seed=1), normal(2, seed=2), 2.0)
    inner = ad.grad(f, wrt="args[1]")
    value, tangent = ad.jvp(inner, wrt="w")(*args, tangent=np.ones(3))
    np.testing.assert_allclose(value, inner(*args))
    np.testing.assert_allclose(tangent, np.zeros(2))  # k * 2 * args[1] does not move with w
