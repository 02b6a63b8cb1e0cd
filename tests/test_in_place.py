"""Augmented assignment: adcompile makes a new array where Python writes in place.

That is the same computation only when the array is the function's own: made by
it (or one of its arguments), and seen by no other name, container, view or
caller. Anything else is refused, with a located error, rather than
differentiated as something it is not (see adcompile/inplace/).
"""

import inspect

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile import AdCompileError

RNG = np.random.default_rng(7)


def alias_read_later(X, W):
    h = X
    h += np.tanh(W @ h)
    return np.sum(h * X)


def view_read_later(x):
    y = x[0:2]
    y *= 2.0
    return np.sum(x)


def loop_alias_read_later(X, W):
    h = X
    for _ in range(2):
        h += np.tanh(W @ h)
    return np.sum(h) + np.sum(X)


@pytest.mark.parametrize(
    ("f", "args", "line"),
    [
        (alias_read_later, (np.ones((3, 2)), np.ones((3, 3))), "h += np.tanh(W @ h)"),
        (view_read_later, (np.ones(3),), "y *= 2.0"),
        (loop_alias_read_later, (np.ones((3, 2)), np.ones((3, 3))), "h += np.tanh(W @ h)"),
    ],
)
def test_in_place_update_of_shared_memory_is_refused(f, args, line):
    with pytest.raises(AdCompileError) as info:
        ad.grad(f)(*args)
    err = info.value
    lines, first = inspect.getsourcelines(f)
    assert err.lineno == first + next(i for i, t in enumerate(lines) if line in t)
    assert "shares its memory" in err.reason
    assert err.hint.startswith("write ")


def fresh_arrays(x):
    y = x * 2.0
    y += x
    y *= x
    return np.sum(y)


def parameter_not_read_again(x):
    x += 1.0
    return np.sum(x * x)


def alias_never_read_again(X, W):
    h = X * 1.0
    for _ in range(2):
        h += np.tanh(W @ h)
    return np.sum(h) + np.sum(X)


@pytest.mark.parametrize(
    ("f", "shapes"),
    [
        (fresh_arrays, [(3,)]),
        (parameter_not_read_again, [(3,)]),
        (alias_never_read_again, [(3, 2), (3, 3)]),
    ],
)
def test_in_place_update_of_unshared_arrays_is_differentiated(f, shapes):
    args = [RNG.normal(size=s) for s in shapes]
    before = [a.copy() for a in args]
    assert_grad_matches_fd(f, *args, wrt=tuple(range(len(args))))
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)  # the gradient never writes into inputs


SCALE = np.array([1.0, 2.0, 3.0])


def keep(a):
    return a


def double(a):
    b = a * 2.0
    return b


def bump(a, b):
    a += b
    return a * b


def element_of_a_list(x, ws):
    v = ws[0]
    v += x
    return np.sum(ws[0] * v)


def loop_variable_over_a_list(x, ws):
    for w in ws:
        w += x
    return np.sum(ws[0])


def conditional_value(x):
    v = x * 2.0
    u = v if np.sum(x) > 0.0 else x
    v += x
    return np.sum(u * v)


def builtin_max(x, y):
    v = max(x, y)
    v += 1.0
    return np.sum(x * v)


def helper_returns_its_argument(x):
    v = keep(x)
    v += 1.0
    return np.sum(x * v)


def helper_updates_its_parameter(x):
    u = x * 1.0
    v = bump(u, x)
    return np.sum(u * v)


def alias_in_one_branch(x, y):
    if np.sum(y) > 0.0:
        x = y
    x += x
    return np.sum(y * y)


def alias_in_a_later_iteration(x, y):
    for _ in range(2):
        x += y
        x = y
    return np.sum(y * y)


def base_of_a_view(x):
    u = x * 1.0
    v = np.reshape(u, (3, 1))
    u *= x
    return np.sum(v * x)


def module_array(x):
    s = SCALE
    s += x
    return np.sum(s * x)


def helper_returns_a_global():
    return SCALE


def global_through_a_helper(x):
    s = helper_returns_a_global()
    s += x
    return np.sum(s * x)


def applied(fn, a):
    return fn(a)  # whatever fn returns: it may keep it


def the_global(a):
    return SCALE


def global_through_a_function_passed_in(x):
    s = applied(the_global, x * 1.0)
    s += 1.0
    return np.sum(s * s)


def base_of_a_diagonal(x):
    a = np.outer(x, x)
    v = np.diag(a)  # a read-only view of a: a's update changes it
    a += 1.0
    return np.sum(v * x)


def scaled_or_global(a, flag):
    return a * 2.0 if flag else SCALE


def global_through_a_helper_given_an_argument(x):
    s = scaled_or_global(x, False)  # SCALE itself: Python's s += ... changes it
    s += 1.0
    return np.sum(s * s)


def array_default(x, c=SCALE):
    c += x
    return np.sum(c * x)


def conversion_of_an_array(x):
    y = x * 2.0
    v = np.asarray(y)  # y itself
    v += x
    return np.sum(v * y)


def conversion_to_a_view(x):
    y = x * 2.0
    v = np.atleast_2d(y)  # a view of y
    v += x
    return np.sum(v * y)


def imaginary_part(x):
    v = np.imag(x)  # a view of a complex x; zeros that cannot be written for a real one
    v += x
    return np.sum(v * x)


def imaginary_part_of_a_new_real_array(x):
    v = np.imag(x * 2.0)  # zeros that cannot be written
    v += x
    return np.sum(v * x)


def imaginary_part_of_a_magnitude(x):
    v = np.imag(np.abs(np.fft.fft(x)))  # np.abs of the transform is real
    v += x
    return np.sum(v * x)


def broadcast_view(x):
    v = np.broadcast_to(x * 2.0, (2, 3))  # a view that cannot be written
    v *= x
    return np.sum(v)


def imaginary_attribute(x):
    v = (x * 2.0).imag  # np.imag: zeros that cannot be written, for a real x
    v += x
    return np.sum(v * x)


def diagonal_of_a_matrix(x):
    a = np.outer(x, x)
    v = np.diag(a)  # a read-only view of a 2-d operand
    v += x
    return np.sum(v * x)


def diagonal_method(x):
    v = np.outer(x, x).diagonal()
    v -= x
    return np.sum(v * x)


def element_of_a_diagonal(x):
    v = np.diag(np.outer(x, x))
    v[0] = 1.0
    return np.sum(v * x)


def row_of_a_broadcast_view(x):
    v = np.broadcast_to(x * 2.0, (2, 3))
    v[0] += x  # v[0] is a read-only view: "output array is read-only"
    return np.sum(v)


def element_of_a_broadcast_view(x):
    v = np.broadcast_to(x * 2.0, (2, 3))
    v[0, 1] += x[0]  # a number, written back: "assignment destination is read-only"
    return np.sum(v)


def read_only_through_a_helper(x):
    v = broadcast_by_a_helper(x)
    v += 1.0
    return np.sum(v * x)


def broadcast_by_a_helper(a):
    return np.broadcast_to(a, (2, 3))


@pytest.mark.parametrize(
    "f",
    [
        imaginary_part_of_a_new_real_array,
        imaginary_part_of_a_magnitude,
        imaginary_attribute,
        diagonal_of_a_matrix,
        element_of_a_diagonal,
        read_only_through_a_helper,
    ],
)
def test_in_place_update_of_a_read_only_array_fails_as_in_python(f):
    """An update of an array that may be read-only (np.diag's view of a matrix, np.imag
    of a real array, what a helper returns) is accepted when nothing else sees the
    array, and checked when the code runs: these arrays cannot be written, and the
    gradient fails where and as Python's call does."""
    x = RNG.normal(size=3)
    with pytest.raises(ValueError) as python:
        f(x.copy())
    for mode in (ad.grad, ad.value_and_grad):
        with pytest.raises(ValueError) as ours:
            mode(f)(x)
        assert type(ours.value) is ValueError and str(ours.value) == str(python.value)
    assert "check_writable(" in ad.grad(f).source


@pytest.mark.parametrize(
    ("f", "line"),
    [
        (broadcast_view, "v *= x"),
        (diagonal_method, "v -= x"),
        (row_of_a_broadcast_view, "v[0] += x"),
        (element_of_a_broadcast_view, "v[0, 1] += x[0]"),
    ],
)
def test_in_place_update_of_a_view_that_is_always_read_only_is_refused(f, line):
    """np.broadcast_to and np.diagonal always return a read-only view: Python's update
    fails on every call, so adcompile refuses it where it is written."""
    x = RNG.normal(size=3)
    with pytest.raises(ValueError, match="read-only"):
        f(x.copy())
    with pytest.raises(AdCompileError) as info:
        ad.grad(f)(x)
    assert info.value.line.strip().startswith(line)
    assert "read-only view" in info.value.reason and "copy()" in info.value.hint


def diagonal_of_a_vector(x):
    v = np.diag(x)  # a new matrix of a 1-d operand
    v += 1.0
    v[0] = x * 2.0
    w = np.diag(v)  # its diagonal: a read-only view, never written
    return np.sum(v * x) + np.sum(w * x)


def diagonal_matrix_of_a_helper(x):
    v = diagonal_matrix(x)
    v *= x
    return np.sum(v * x) + np.sum(x)


def diagonal_matrix(a):
    return np.diag(a * 2.0)


def imaginary_part_of_a_complex_array(x):
    z = np.fft.fft(x)
    v = np.imag(z if np.sum(x) > 10.0 else z * 1.0)  # complex: a view that can be written
    v += x
    return np.sum(v * x)


@pytest.mark.parametrize(
    "f", [diagonal_of_a_vector, diagonal_matrix_of_a_helper, imaginary_part_of_a_complex_array]
)
def test_in_place_update_of_an_array_that_may_be_read_only_is_checked_when_it_runs(f):
    """np.diag of a 1-d operand is a new array: Python writes into it, and the gradient
    is exact. Only the update of what may be read-only is checked."""
    x = RNG.normal(size=3)
    assert_grad_matches_fd(f, x)
    value, _ = ad.value_and_grad(f)(x)
    np.testing.assert_allclose(value, f(x.copy()), rtol=1e-12)
    source = ad.grad(f).source
    assert source.count("check_writable(") == 1, source  # (then it is known to be writable)


@pytest.mark.parametrize(
    ("f", "shapes", "line", "other"),
    [
        (imaginary_part, [(3,)], "v += x", "'x'"),  # (a view of x, if x is complex)
        (conversion_of_an_array, [(3,)], "v += x", "'y'"),
        (conversion_to_a_view, [(3,)], "v += x", "'y'"),
        (element_of_a_list, [(3,), [(3,)]], "v += x", "'ws'"),
        (loop_variable_over_a_list, [(3,), [(3,)]], "w += x", "'ws'"),
        (conditional_value, [(3,)], "v += x", "'u'"),
        (builtin_max, [(), ()], "v += 1.0", "'x'"),
        (helper_returns_its_argument, [(3,)], "v += 1.0", "'x'"),
        (helper_updates_its_parameter, [(3,)], "a += b", "the array the caller passed"),
        (alias_in_one_branch, [(3,), (3,)], "x += x", "'y'"),
        (alias_in_a_later_iteration, [(3,), (3,)], "x += y", "'y'"),
        (base_of_a_view, [(3,)], "u *= x", "'v'"),
        (module_array, [(3,)], "s += x", "the global 'SCALE'"),
        (global_through_a_helper, [(3,)], "s += x", "what helper_returns_a_global() returned"),
        (base_of_a_diagonal, [(3,)], "a += 1.0", "'v'"),
        (global_through_a_function_passed_in, [(3,)], "s += 1.0", "what applied() returned"),
        (
            global_through_a_helper_given_an_argument,
            [(3,)],
            "s += 1.0",
            "what scaled_or_global() returned",
        ),
        (array_default, [(3,)], "c += x", "the default value of 'c'"),
    ],
)
def test_in_place_update_of_memory_seen_elsewhere_is_refused(f, shapes, line, other):
    args = [
        [RNG.normal(size=t) for t in s] if isinstance(s, list) else RNG.normal(size=s)
        for s in shapes
    ]
    before = SCALE.copy()
    with pytest.raises(AdCompileError) as info:
        ad.grad(f, wrt=0)(*args)
    err = info.value
    assert err.line.strip() == line
    assert f"shares its memory with {other}" in err.reason
    assert err.hint.startswith("write ")
    np.testing.assert_array_equal(SCALE, before)


def made_by_numpy(x):
    v = np.zeros_like(x)
    v += x
    w = np.maximum(x, -1.0)
    w *= x
    t = np.tanh(x)
    t -= 0.5
    return np.sum(v * w * t)


def made_by_a_helper(x):
    v = double(x)
    v += x
    return np.sum(v * x)


def numbers(x):
    n = x.shape[0]
    n += 1
    total = 0.0
    for i in range(n):
        total += np.sum(x * i)
        i += 1
    return total


def own_array_in_both_branches(x):
    v = x * 1.0
    if np.sum(x) > 0.0:
        v = np.sin(x)
    for _ in range(2):
        v += x
    return np.sum(v * x)


def converted_list(x):
    # a list written in the call is copied into a new array, whatever it holds
    y = np.sin(x)
    v = np.asarray([x * 2.0, y])
    v += x
    u = np.asarray((y[0], x[1]))
    u *= x[2]
    return np.sum(v * y) + np.sum(u * x[0]) + np.sum(y)


def converted_new_array(x):
    # np.asarray of a new array is that array, np.atleast_2d a view of it: the
    # function's own
    v = np.asarray(x * 2.0)
    v += x
    w = np.atleast_2d(x * 1.5)
    w *= x[2]
    return np.sum(v * x) + np.sum(w * x[0])


def spectrum_part(a):
    return np.imag(np.fft.fft(a * 1.5))  # a view of the transform's new (complex) result


def transposed(a):
    return (a * 2.0).T  # a view of a new array


def views_of_new_arrays(x):
    v = spectrum_part(x)
    v *= x
    w = transposed(x)
    w += x
    u = np.imag(np.fft.fft(x))
    u -= x
    u += np.imag(2.0 * np.conj(np.fft.fft(x)))  # complex through conj and arithmetic
    return np.sum(v * x) + np.sum(w * x) + np.sum(u * u)


def diagonal_rebound(x):
    a = x * 2.0
    v = np.diag(a)
    s = np.sum(v)
    v = x * 3.0  # no longer a's diagonal: a's update changes nothing read later
    a += 1.0
    return np.sum(v * a) + s


def counter_read_by_a_closure(x):
    k = 0

    def view():
        return np.broadcast_to(x * k, (2, 3))  # read-only, of an array made from k

    total = 0.0
    while k < 3:
        v = view()
        total = total + np.sum(v * x)
        k += 1  # a Python int: rebound, v does not change
    return total + np.sum(v)


def copied_counter(x):
    k = 0
    j = k
    k += 1  # j is another name of the int 0, which no update can change
    t = x.shape[0]
    t *= 2.0
    n = float(j) + len(x) if j < 1 else abs(j)
    n -= 1
    return np.sum(x * x) * k + j + t + n


@pytest.mark.parametrize(
    "f",
    [
        counter_read_by_a_closure,
        copied_counter,
        diagonal_rebound,
        views_of_new_arrays,
        made_by_numpy,
        made_by_a_helper,
        numbers,
        own_array_in_both_branches,
        converted_list,
        converted_new_array,
    ],
)
def test_in_place_update_of_an_array_the_function_owns_is_differentiated(f):
    x = RNG.normal(size=3)
    before = x.copy()
    assert_grad_matches_fd(f, x)
    np.testing.assert_array_equal(x, before)
    value, _ = ad.value_and_grad(f)(x)
    np.testing.assert_allclose(value, f(x.copy()), rtol=1e-12)


def test_the_check_of_a_read_only_update_holds_in_every_mode():
    """The check is a statement of the generated code: forward mode, and generated code
    differentiated again, keep it (Python's ValueError); where the array can be
    written, higher derivatives are exact."""
    x = RNG.normal(size=3)
    vector = RNG.normal(size=3)
    for call in (
        lambda: ad.jvp(read_only_through_a_helper)(x, vector),
        lambda: ad.vjp(read_only_through_a_helper)(x, 1.0),
        lambda: ad.hvp(read_only_through_a_helper)(x, vector),
        lambda: ad.hessian(diagonal_of_a_matrix)(x),
    ):
        with pytest.raises(ValueError, match="output array is read-only"):
            call()
    eps = 1e-6
    rows = [
        (
            ad.grad(diagonal_matrix_of_a_helper)(x + eps * e)
            - ad.grad(diagonal_matrix_of_a_helper)(x - eps * e)
        )
        / (2 * eps)
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(
        ad.hessian(diagonal_matrix_of_a_helper)(x), np.array(rows), rtol=1e-5, atol=1e-7
    )
    _, tangent = ad.jvp(diagonal_matrix_of_a_helper)(x, vector)
    numeric = (
        diagonal_matrix_of_a_helper(x + eps * vector)
        - diagonal_matrix_of_a_helper(x - eps * vector)
    ) / (2 * eps)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-5)
