"""In-place updates the ownership pass (adcompile/inplace/) accepts because it knows
what the code is compiled for, or what a producer returns: a parameter passed a
Python number holds an immutable number, one passed a function is that function, a
loop over a non-empty list the code is compiled for runs at least once,
``np.meshgrid``'s grids are new arrays and ``np.split``'s pieces do not overlap.
Each is checked against the function run by Python (on copies of the arguments, as
it may write into them) and central differences, in the code specialised to the
arguments' shapes and in the general code; and each unsafe neighbour, where another
name does see the array changed, is still refused."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import central_in_argument

import adcompile as ad
import adcompile.api
from adcompile import AdCompileError

RNG = np.random.default_rng(11)


def python(f, args: tuple):
    """``f`` run by Python on copies of ``args`` (it may write into them)."""
    return f(*copy.deepcopy(args))


def general(specialise: bool):
    """Code specialised to the arguments' shapes, or the general code (as after many
    shape signatures)."""
    limit = adcompile.api.MAX_SPECIALISATIONS
    return limit if specialise else 0


def assert_agrees_with_python(f, args: tuple, wrt: tuple, specialise: bool) -> None:
    """value_and_grad's value against Python's, and its gradients and grad's against
    central differences of Python's function."""
    limit = adcompile.api.MAX_SPECIALISATIONS
    adcompile.api.MAX_SPECIALISATIONS = general(specialise)
    try:
        value, grads = ad.value_and_grad(f, wrt=wrt)(*copy.deepcopy(args))
        plain = ad.grad(f, wrt=wrt)(*copy.deepcopy(args))
    finally:
        adcompile.api.MAX_SPECIALISATIONS = limit
    np.testing.assert_allclose(value, python(f, args), rtol=1e-12)
    for i, g, h in zip(wrt, grads, plain, strict=True):
        fd = central_in_argument(lambda *a: python(f, a), args, i)
        np.testing.assert_allclose(np.asarray(g, dtype=float), fd, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(np.asarray(h, dtype=float), fd, rtol=1e-6, atol=1e-8)


def assert_refused(f, args: tuple, wrt: tuple, words: str) -> None:
    with pytest.raises(AdCompileError, match=words):
        ad.grad(f, wrt=wrt)(*copy.deepcopy(args))


# ---------------------------------------------------- a parameter holding a number


def min_of_a_parameter(x0, x1):
    v = x1 + x1
    w = v
    v = min(v, x1)  # (v's number, or x1's)
    v -= min(x0, x1)
    return np.sum(v * v) + np.sum(w)


def max_of_a_parameter_and_an_array(x0, x1):
    v = x0 * 2.0
    v = max(x1, v)  # (x1's number, or v's array: new)
    v *= v
    return np.sum(v) + np.sum(x0)


@pytest.mark.parametrize("specialise", [True, False])
@pytest.mark.parametrize("f", [min_of_a_parameter, max_of_a_parameter_and_an_array])
def test_update_of_what_may_be_a_float_parameter_is_accepted(f, specialise):
    assert_agrees_with_python(f, (np.array(-1.18), -0.47), (0, 1), specialise)
    assert_agrees_with_python(f, (np.array(0.3), 0.9), (0, 1), specialise)


def test_update_of_what_may_be_an_array_parameter_is_refused():
    """With ``x1`` a 0-d array, ``min(v, x1)`` may be ``v``'s array, which ``w`` sees:
    Python's ``v -= ...`` would change ``w`` too."""
    args = (np.array(-1.18), np.array(-0.47))
    assert_refused(min_of_a_parameter, args, (0, 1), "'v' shares its memory with 'w'")


def test_the_general_code_is_compiled_for_float_and_array_arguments_apart():
    """After a call with a float, a call with an array at its place gets code of its own
    (refused here), and a call with a float again the first code."""
    limit = adcompile.api.MAX_SPECIALISATIONS
    adcompile.api.MAX_SPECIALISATIONS = 0
    try:
        g = ad.grad(min_of_a_parameter, wrt=(0, 1))
        g(np.array(-1.18), -0.47)
        with pytest.raises(AdCompileError, match="shares its memory with 'w'"):
            g(np.array(-1.18), np.array(-0.47))
        again = g(np.array(0.3), 0.9)
    finally:
        adcompile.api.MAX_SPECIALISATIONS = limit
    fd = central_in_argument(min_of_a_parameter, (np.array(0.3), 0.9), 1)
    np.testing.assert_allclose(again[1], fd, rtol=1e-6, atol=1e-8)


def aliased_then_scaled(x0, x1):
    v = x1
    w = v
    v *= 2.0  # (a number: v is bound to a new one, w keeps x1's)
    return np.sum(v * w * x0)


def aliased_then_shifted(x0, x1):
    v = min(x1, 2.0)
    w = v
    v += x0
    return np.sum(v * w)


NUMPY_NUMBER_CASES = [
    (min_of_a_parameter, (np.array(-1.18), -0.47)),
    (max_of_a_parameter_and_an_array, (np.array(0.3), 0.9)),
    (aliased_then_scaled, (RNG.normal(size=3), 0.7)),
    (aliased_then_shifted, (RNG.normal(size=3), 0.7)),
]


@pytest.mark.parametrize("specialise", [True, False])
@pytest.mark.parametrize(("f", "args"), NUMPY_NUMBER_CASES)
def test_a_numpy_number_parameter_is_immutable_as_a_python_float(f, args, specialise):
    """``np.float64(0.7)`` has the shape of a 0-d array, but no update writes into it:
    ``v op= ...`` on it binds ``v`` to a new number, as for the Python float 0.7."""
    x0, x1 = args
    assert_agrees_with_python(f, (x0, np.float64(x1)), (0, 1), specialise)


def test_the_code_for_a_numpy_number_is_not_the_code_for_a_0d_array():
    """A call with a 0-d array after one with an np.float64 at its place gets code of its
    own (refused here, as Python's update would change ``w``), specialised or not."""
    for specialise in (True, False):
        limit = adcompile.api.MAX_SPECIALISATIONS
        adcompile.api.MAX_SPECIALISATIONS = general(specialise)
        try:
            g = ad.grad(aliased_then_scaled, wrt=(0, 1))
            x0 = RNG.normal(size=3)
            g(x0, np.float64(0.7))
            with pytest.raises(AdCompileError, match="shares its memory with 'w'"):
                g(x0, np.array(0.7))
            again = g(x0, np.float64(-0.4))
        finally:
            adcompile.api.MAX_SPECIALISATIONS = limit
        assert type(again[1]) is np.float64
        fd = central_in_argument(aliased_then_scaled, (x0, -0.4), 1)
        np.testing.assert_allclose(again[1], fd, rtol=1e-6, atol=1e-8)


# ------------------------------------------------- a parameter holding a function


def fresh_helper(z):
    return np.sin(z) * 2.0


def same_helper(z):
    return z


STORE = RNG.normal(size=3)


def global_helper(z):
    return STORE


def layers_with_a_function(h, Ws, b, act):
    for W in Ws:
        h = act(h @ W)
        h += b
    return np.sum(h * h)


LAYERS = (RNG.normal(size=3), [RNG.normal(size=(3, 3)) for _ in range(2)], RNG.normal(size=3))


@pytest.mark.parametrize("specialise", [True, False])
@pytest.mark.parametrize("act", [np.tanh, fresh_helper, same_helper])
def test_update_of_what_a_function_parameter_returned_is_accepted(act, specialise):
    """The code is compiled for the function passed: ``act(h @ W)`` is its call, which
    returns a new array (``same_helper`` returns ``h @ W``, new too)."""
    args = (*LAYERS, act)
    assert_agrees_with_python(layers_with_a_function, args, (0, 2), specialise)


def test_update_of_a_global_a_function_parameter_returned_is_refused():
    """``global_helper`` hands back the global STORE: Python's ``h += b`` would change it."""
    args = (*LAYERS, global_helper)
    assert_refused(layers_with_a_function, args, (0,), r"what act\(\) returned")


# --------------------------------------------------------- a loop that runs


def after_layers(x, layers):
    v = x
    for L in layers:
        v = np.tanh(v @ L)
    v *= v  # (v is the loop's new array: the loop runs at least once)
    return np.sum(v) + np.sum(x)


def after_enumerated_layers(x, layers):
    v = x
    for i, L in enumerate(layers):
        v = np.tanh(v @ L) * (i + 1.0)
    v *= v
    return np.sum(v) + np.sum(x)


def after_a_constant_range(x, W):
    v = x
    for _ in range(2):
        v = np.tanh(v @ W)
    v += x
    return np.sum(v * v) + np.sum(x)


def after_layers_written_out(x, W, U):
    v = x
    for L in (W, U):
        v = np.sin(v @ L)
    v *= 3.0
    return np.sum(v) + np.sum(x)


def layers_of(n: int) -> list:
    return [RNG.normal(size=(3, 3)) for _ in range(n)]


@pytest.mark.parametrize("specialise", [True, False])
@pytest.mark.parametrize(
    ("f", "args"),
    [
        (after_layers, (RNG.normal(size=3), layers_of(1))),
        (after_layers, (RNG.normal(size=3), layers_of(3))),
        (after_layers, (RNG.normal(size=3), tuple(layers_of(2)))),
        (after_enumerated_layers, (RNG.normal(size=3), layers_of(2))),
        (after_a_constant_range, (RNG.normal(size=3), RNG.normal(size=(3, 3)))),
        (after_layers_written_out, (RNG.normal(size=3), *layers_of(2))),
    ],
)
def test_update_after_a_loop_that_runs_is_accepted(f, args, specialise):
    assert_agrees_with_python(f, args, (0,), specialise)


def after_layers_that_may_be_dropped(x, layers, drop):
    if drop:
        layers = []
    v = x
    for L in layers:
        v = np.tanh(v @ L)
    v *= v
    return np.sum(v) + np.sum(x)


def after_a_while_loop(x, W):
    v = x
    k = 0
    while k < 2:
        v = np.tanh(v @ W)
        k += 1
    v *= v
    return np.sum(v) + np.sum(x)


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (after_layers, (RNG.normal(size=3), [])),  # (v is x: Python changes x)
        (after_layers_that_may_be_dropped, (RNG.normal(size=3), layers_of(2), False)),
        (after_a_while_loop, (RNG.normal(size=3), RNG.normal(size=(3, 3)))),
    ],
)
def test_update_after_a_loop_that_may_not_run_is_refused(f, args):
    assert_refused(f, args, (0,), "'v' shares its memory with 'x'")


def test_the_general_code_of_a_loop_over_a_list_is_compiled_for_each_signature():
    """The general code does not know a list's length: a function refused there gets
    code for each shape signature, accepted for a non-empty list, refused for []."""
    limit = adcompile.api.MAX_SPECIALISATIONS
    adcompile.api.MAX_SPECIALISATIONS = 0
    try:
        g = ad.grad(after_layers)
        for n in (2, 1, 2):
            args = (RNG.normal(size=3), layers_of(n))
            fd = central_in_argument(lambda *a: python(after_layers, a), args, 0)
            np.testing.assert_allclose(g(*args), fd, rtol=1e-6, atol=1e-8)
        with pytest.raises(AdCompileError, match="shares its memory with 'x'"):
            g(RNG.normal(size=3), [])
    finally:
        adcompile.api.MAX_SPECIALISATIONS = limit


# ------------------------------------------------------- grids and split pieces


def grid_updated(x, y):
    X, Y = np.meshgrid(x, y)
    X += 1.0
    Y *= X
    return np.sum(X * Y)


def grid_ij_updated(x, y):
    X, Y = np.meshgrid(x, y, indexing="ij")
    X *= Y
    return np.sum(np.sin(X)) + np.sum(Y)


def sparse_grid_updated(x, y):
    X, Y = np.meshgrid(x, y, sparse=True)
    X += 1.0
    Y *= Y
    return np.sum(X * Y) + np.sum(x * y[0])


def grid_updated_then_written(x, y):
    X, Y = np.meshgrid(x, y)
    X += 1.0  # (a new array in the generated code, as good as Python's from here)
    X[0, 1] = 5.0
    return np.sum(X * Y)


def pieces_updated(z):
    a, b = np.split(z, 2)
    a += 1.0  # (changes z, which is not read again, but not b)
    return np.sum(a * b)


def pieces_of_a_new_array_updated(z):
    w = z * 2.0
    a, b, c = np.array_split(w, [1, 3])
    a *= a
    c[0] = 2.0
    return np.sum(a) + np.sum(b * c)


@pytest.mark.parametrize("specialise", [True, False])
@pytest.mark.parametrize(
    ("f", "args", "wrt"),
    [
        (grid_updated, (RNG.normal(size=3), RNG.normal(size=2)), (0, 1)),
        (grid_ij_updated, (RNG.normal(size=3), RNG.normal(size=2)), (0, 1)),
        (sparse_grid_updated, (RNG.normal(size=3), RNG.normal(size=2)), (0, 1)),
        (grid_updated_then_written, (RNG.normal(size=3), RNG.normal(size=2)), (0, 1)),
        (pieces_updated, (RNG.normal(size=4),), (0,)),
        (pieces_of_a_new_array_updated, (RNG.normal(size=5),), (0,)),
    ],
)
def test_update_of_a_grid_or_a_split_piece_is_accepted(f, args, wrt, specialise):
    assert_agrees_with_python(f, args, wrt, specialise)


def grid_written(x, y):
    X, Y = np.meshgrid(x, y)
    X[0, 1] = 5.0
    return np.sum(X * Y)


def grid_not_copied(x, y):
    X, Y = np.meshgrid(x, y, copy=False)  # (views of x and y)
    X += 1.0
    return np.sum(X * Y)


def grid_seen_through_a_view(x, y):
    X, Y = np.meshgrid(x, y)
    Z = X.T
    X += 1.0
    return np.sum(Z) + np.sum(X * Y)


def pieces_updated_base_read(z):
    a, b = np.split(z, 2)
    a += 1.0
    return np.sum(a * b) + np.sum(z)


def overlapping_pieces(z):
    w = z * 2.0
    a, b, c = np.split(w, [3, 1])  # (a is w[:3], c is w[1:]: they overlap)
    a += 1.0
    return np.sum(a) + np.sum(c)


def piece_written_into_an_argument(z):
    a, b = np.split(z, 2)
    a[0] = 3.0
    return np.sum(a * b)


@pytest.mark.parametrize(
    ("f", "args", "words"),
    [
        (grid_written, (RNG.normal(size=3), RNG.normal(size=2)), "computes as a view"),
        (grid_not_copied, (RNG.normal(size=3), RNG.normal(size=2)), "shares its memory"),
        (grid_seen_through_a_view, (RNG.normal(size=3), RNG.normal(size=2)), "with 'Z'"),
        (pieces_updated_base_read, (RNG.normal(size=4),), "with 'z'"),
        (overlapping_pieces, (RNG.normal(size=4),), "with 'c'"),
        (piece_written_into_an_argument, (RNG.normal(size=4),), "the argument 'z'"),
    ],
)
def test_update_of_a_grid_or_a_piece_another_name_sees_is_refused(f, args, words):
    assert_refused(f, args, (0,), words)


def test_the_refused_grid_write_says_to_copy_it():
    with pytest.raises(AdCompileError) as info:
        ad.grad(grid_written)(RNG.normal(size=3), RNG.normal(size=2))
    assert info.value.hint == "make a copy the function owns first: X = X.copy()"


# --------------------------------------------------------------- forward mode


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (min_of_a_parameter, (np.array(-1.18), -0.47)),
        (after_layers, (RNG.normal(size=3), layers_of(2))),
        (layers_with_a_function, (*LAYERS, np.tanh)),
        (grid_updated, (RNG.normal(size=3), RNG.normal(size=2))),
    ],
)
def test_forward_mode_accepts_them_too(f, args):
    """jvp's code is compiled for which arguments are Python numbers too, and for the
    shape signature where a list's length decides (value against Python, tangent
    against central differences along the direction)."""
    direction = RNG.normal(size=np.shape(args[0]))
    value, tangent = ad.jvp(f)(*copy.deepcopy(args), direction)
    np.testing.assert_allclose(value, python(f, args), rtol=1e-12)
    fd = central_in_argument(lambda *a: python(f, a), args, 0)
    np.testing.assert_allclose(tangent, np.sum(fd * direction), rtol=1e-6, atol=1e-8)
    with pytest.raises(AdCompileError, match="shares its memory"):
        ad.jvp(after_layers)(RNG.normal(size=3), [], np.ones(3))


def after_a_dict_of_layers(x, params):
    v = x
    for _name, L in params.items():
        v = np.tanh(v @ L)
    v *= v
    return np.sum(v) + np.sum(x)


@pytest.mark.parametrize("specialise", [True, False])
def test_update_after_a_loop_over_a_dict_is_accepted(specialise):
    args = (RNG.normal(size=3), {"a": layers_of(1)[0], "b": layers_of(1)[0]})
    assert_agrees_with_python(after_a_dict_of_layers, args, (0,), specialise)
