"""Lists built in the function, list identity, `and`/`or`, and arguments that are
one object: adcompile differentiates what Python computes, or refuses at the line.

A list grows with ``xs.append(v)``, which adcompile differentiates as
``xs = xs + [v]``: a new list under the one name. That is Python's update in
place only when nothing else can see the list (adcompile/inplace/ tracks the
identity of lists); anything else is refused, naming what shares it.
"""

from __future__ import annotations

import copy
import inspect
import warnings

import numpy as np
import pytest
from helpers import assert_grad_matches_fd, assert_tree_grad_matches_fd

import adcompile as ad
from adcompile import AdCompileError
from adcompile.checking import numeric_grad


def assert_like_python(f, *args, wrt=0):
    """value_and_grad's value is f's; grad agrees with central differences of f (run
    on copies of the arguments: Python's f may write into them, the gradient never
    does); value_and_grad's and vjp's (cotangent 1) gradients are grad's."""
    before = copy.deepcopy(args)
    expected = f(*copy.deepcopy(args))
    value, g_vg = ad.value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    g = ad.grad(f, wrt=wrt)(*args)
    g_vjp = ad.vjp(f, wrt=wrt)(*args, 1.0)
    single = isinstance(wrt, int)
    for k, i in enumerate([wrt] if single else wrt):
        fd = numeric_grad(lambda *a: f(*copy.deepcopy(a)), list(args), i)
        got = [g, g_vg, g_vjp] if single else [g[k], g_vg[k], g_vjp[k]]
        assert type(got[0]) is type(args[i]) and np.shape(got[0]) == np.shape(args[i])
        np.testing.assert_allclose(got[0], fd, rtol=1e-6, atol=1e-8)
        for other in got[1:]:
            np.testing.assert_allclose(other, got[0], rtol=1e-12, atol=1e-12)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)  # the gradient wrote into no argument


def assert_refused_at(f, args, line: str, *words: str, wrt=0):
    """Compiling f's gradient raises a located AdCompileError at the line holding
    ``line`` whose message holds each of ``words``."""
    with pytest.raises(AdCompileError) as info:
        ad.grad(f, wrt=wrt)(*args)
    err = info.value
    assert "internal error" not in err.reason
    assert err.line.strip() == line, (err.line, str(err))
    for w in words:
        assert w in err.reason, str(err)
    assert err.hint
    return err


X = np.array([0.3, -1.2, 0.8])


# ========================================================== lists of tuples


def pairs_indexed(x, y):
    pairs = []
    for i in range(3):
        pairs.append((x * i, y + i))
    t = 0.0
    for p in pairs:
        t = t + np.sum(p[0] * p[1])
    return t


def pairs_unpacked(x, y):
    pairs = []
    for i in range(3):
        pairs.append((x * i, y + i))
    t = 0.0
    for a, b in pairs:
        t = t + np.sum(a * b)
    return t


def pairs_unpacked_in_the_body(x, y):
    pairs = []
    for i in range(3):
        pairs.append((np.tanh(x * i), y * x))
    t = 0.0
    for p in pairs:
        a, b = p
        t = t + np.sum(a * b)
    return t


def pairs_in_a_while_loop(x, y):
    pairs = []
    i = 0
    while i < 3:
        pairs.append((x * i, y))
        i = i + 1
    t = 0.0
    for a, b in pairs:
        t = t + np.sum(a * b)
    return t


def nested_empty_lists(x):
    rows = []
    for i in range(3):
        row = []
        row.append(x * i)
        row.append(x + i)
        rows.append(row)
    t = 0.0
    for r in rows:
        t = t + np.sum(r[0] * r[1])
    return t


@pytest.mark.parametrize(
    "f",
    [pairs_indexed, pairs_unpacked, pairs_unpacked_in_the_body, pairs_in_a_while_loop],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("args", [(1.5, 2.0), (X, X[::-1] * 2.0)], ids=["floats", "arrays"])
def test_list_of_tuples_built_with_append(f, args):
    assert_like_python(f, *args, wrt=(0, 1))


def test_list_of_lists_each_made_empty_in_the_loop():
    assert_like_python(nested_empty_lists, 1.5)
    assert_like_python(nested_empty_lists, X)


def read_before_the_append_of_the_same_iteration(x, y):
    pairs = []
    t = 0.0
    for i in range(3):
        for a, b in pairs:
            t = t + np.sum(a * b)
        pairs.append((x * i, y * x))
    return t


def appended_in_one_branch(x, y):
    pairs = []
    if np.sum(x) > 0:
        pairs.append((x, y))
    t = 0.0
    for a, b in pairs:
        t = t + np.sum(a * b)
    return t + np.sum(y)


def never_appended(x, y):
    pairs = []
    t = np.sum(x * y)
    for a, b in pairs:
        t = t + np.sum(a * b)
    return t


@pytest.mark.parametrize(
    "f",
    [read_before_the_append_of_the_same_iteration, appended_in_one_branch, never_appended],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_list_of_tuples_whose_structure_an_append_decides(f, sign):
    assert_like_python(f, X * sign, X[::-1] + 0.5, wrt=(0, 1))


def mixed_elements(x):
    xs = [x]
    xs.append((x, x))
    return np.sum(xs[0])


def test_appending_an_element_of_another_structure_is_refused():
    assert_refused_at(mixed_elements, (X,), "xs.append((x, x))", "a tuple of 2", "alike")


def unpack_an_array(x):
    a, b = x * 2.0
    return a * b


def test_unpacking_an_array_says_so():
    assert_refused_at(unpack_an_array, (np.array([1.0, 2.0]),), "a, b = x * 2.0", "an array")


# ============================================================= list identity
# accepted: appends to a list that only one name (read again) can see


def second_name_never_read_again(x):
    a = []
    b = a
    for i in range(3):
        b.append(x * i)
    return np.sum(sum(b))


def element_read_then_appended(x):
    hs = [x]
    for _ in range(3):
        h = hs[-1]
        hs.append(np.tanh(h * 1.5))
    return np.sum(sum(hs))


def appended_in_both_branches(x):
    xs = [x]
    if np.sum(x) > 0:
        xs.append(x * x)
    else:
        xs.append(x * 3.0)
    return np.sum(sum(xs))


def own_list(v):
    out = [v]
    out.append(v * v)
    return sum(out)


def helper_appends_to_its_own_list(x):
    return np.sum(own_list(x * 2.0) + x)


def first_times_two(xs):
    return xs[0] * 2.0


def list_read_by_a_helper_then_appended(x):
    xs = [x]
    t = first_times_two(xs)
    xs.append(t)
    return np.sum(sum(xs))


def pair_of(v):
    return [v, v * 2.0]


def list_made_by_a_helper_then_appended(x):
    xs = pair_of(x)
    xs.append(x * 3.0)
    return np.sum(sum(xs) * x)


@pytest.mark.parametrize(
    "f",
    [
        second_name_never_read_again,
        element_read_then_appended,
        appended_in_both_branches,
        helper_appends_to_its_own_list,
        list_read_by_a_helper_then_appended,
        list_made_by_a_helper_then_appended,
    ],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("x", [1.5, -0.7, X], ids=["float", "negative", "array"])
def test_append_to_a_list_only_one_name_sees(f, x):
    assert_like_python(f, x)


# refused: Python's append would be seen elsewhere


def second_name_read_later(x):
    a = []
    b = a
    for i in range(3):
        b.append(x * i)
    return sum(a)


def second_name_straight_line(x):
    xs = [x]
    ys = xs
    ys.append(x * 3.0)
    return sum(xs)


def appends_to_its_parameter(lst, v):
    lst.append(v)
    return v * 2.0


def helper_appends_to_the_callers_list(x):
    xs = [x]
    t = appends_to_its_parameter(xs, x * 3.0)
    return sum(xs) + t


def held_in_another_list(x):
    inner = [x]
    outer = [inner]
    inner.append(x * 2.0)
    return sum(outer[0])


def held_then_indexed_past_the_end(x):
    inner = [x]
    outer = [inner]
    inner.append(x * 2.0)
    return outer[0][1]


def held_in_a_tuple(x):
    a = [x]
    t = (a, 1.0)
    a.append(x * 2.0)
    return sum(t[0])


def element_of_a_list_of_lists(x):
    inner = [x]
    outer = [inner]
    e = outer[0]
    e.append(x * 2.0)
    return sum(outer[0])


def same_list(xs):
    return xs


def named_again_by_a_helper(x):
    a = [x]
    b = same_list(a)
    b.append(x * 2.0)
    return sum(a)


def one_of_two_lists(x):
    a = [x]
    d = [x * 2.0]
    b = a if x > 0 else d
    b.append(x)
    return sum(a) + sum(d)


def appends_to_its_argument(xs, x):
    xs.append(x)
    return sum(xs)


def appends_to_part_of_its_argument(rows, x):
    row = rows[0]
    row.append(x)
    return sum(row)


def appends_to_its_default(x, acc=[]):  # noqa: B006 - the point of the test
    acc.append(x)
    return sum(acc)


def default_list(acc=[]):  # noqa: B006 - the point of the test
    return acc


def appends_to_a_helpers_default(x):
    xs = default_list()
    xs.append(x)
    return sum(xs)


GLOBAL_LIST = [1.0]


def appends_to_a_global(x):
    GLOBAL_LIST.append(x)
    return x * 2.0


def appends_to_what_it_iterates(x):
    xs = [x]
    for p in xs:
        if len(xs) > 3:
            break
        xs.append(p * 2.0)
    return sum(xs)


def appends_to_elements_while_iterating(x):
    inner = [x]
    groups = [inner, inner]
    t = 0.0
    for e in groups:
        e.append(x * 2.0)
        t = t + e[-1] * len(e)
    return t


def appends_to_an_element(x):
    rows = [[x]]
    rows[0].append(x)
    return sum(rows[0])


def extends(x):
    xs = [x]
    xs.extend([x])
    return sum(xs)


REFUSED_APPENDS = [
    (second_name_read_later, (1.5,), "b.append(x * i)", ["'b' and 'a' are the same list"]),
    (second_name_straight_line, (1.5,), "ys.append(x * 3.0)", ["'ys' and 'xs'"]),
    (
        helper_appends_to_the_callers_list,
        (1.5,),
        "lst.append(v)",
        ["the list the caller passed to appends_to_its_parameter() as 'lst'"],
    ),
    (held_in_another_list, (1.5,), "inner.append(x * 2.0)", ["held in 'outer'"]),
    (held_then_indexed_past_the_end, (1.5,), "inner.append(x * 2.0)", ["held in 'outer'"]),
    (held_in_a_tuple, (1.5,), "a.append(x * 2.0)", ["held in 't'"]),
    (element_of_a_list_of_lists, (1.5,), "e.append(x * 2.0)", ["held in 'outer'"]),
    (named_again_by_a_helper, (1.5,), "b.append(x * 2.0)", ["'b' and 'a'"]),
    (one_of_two_lists, (1.5,), "b.append(x)", ["'b' and 'a'"]),
    (
        appends_to_its_argument,
        ([1.0], 1.5),
        "xs.append(x)",
        ["the list passed as the argument 'xs'"],
    ),
    (
        appends_to_part_of_its_argument,
        ([[1.0]], 1.5),
        "row.append(x)",
        ["part of the list passed as the argument 'rows'"],
    ),
    (appends_to_its_default, (1.5,), "acc.append(x)", ["the default value of 'acc'"]),
    (
        appends_to_a_helpers_default,
        (1.5,),
        "xs.append(x)",
        ["the default value of default_list()'s parameter 'acc'"],
    ),
    (appends_to_a_global, (1.5,), "GLOBAL_LIST.append(x)", ["the global 'GLOBAL_LIST'"]),
    (appends_to_what_it_iterates, (1.5,), "xs.append(p * 2.0)", ["iterates over 'xs'"]),
    (
        appends_to_elements_while_iterating,
        (1.5,),
        "e.append(x * 2.0)",
        ["held in 'groups'"],
    ),
    (appends_to_an_element, (1.5,), "rows[0].append(x)", ["an element of a container"]),
    (extends, (1.5,), "xs.extend([x])", ["xs.extend(...)", "in place"]),
]


@pytest.mark.parametrize(
    ("f", "args", "line", "words"), [pytest.param(*c, id=c[0].__name__) for c in REFUSED_APPENDS]
)
def test_append_seen_elsewhere_is_refused(f, args, line, words):
    wrt = len(args) - 1
    for make in (ad.grad, ad.value_and_grad):
        with pytest.raises(AdCompileError) as info:
            make(f, wrt=wrt)(*args)
        err = info.value
        assert "internal error" not in err.reason
        assert err.line.strip() == line, str(err)
        for w in words:
            assert w in err.reason, str(err)
        assert err.hint
    source_lines, first = inspect.getsourcelines(f)
    if line in "".join(source_lines):  # the helper's line is in the helper
        assert err.lineno == first + next(i for i, t in enumerate(source_lines) if line in t)
    with pytest.raises(AdCompileError):
        ad.vjp(f, wrt=wrt)(*args, cotangent=1.0)


def test_a_refused_append_leaves_the_callers_list_alone():
    xs = [1.0]
    with pytest.raises(AdCompileError):
        ad.grad(appends_to_its_argument, wrt=1)(xs, 1.5)
    assert xs == [1.0]


# ================================================================= and / or
# Python returns one of the operands: `a and b` is `b if a else a`, `a or b` is
# `a if a else b`, so the derivative flows through the operand returned.


def and_value(x, y):
    z = x and y
    return z * 2.0


def or_value(x, y):
    z = x or y
    return z * 2.0


def chained(x, y):
    return (x and y and x * y) * 3.0 + (x or y or x * y)


def and_in_an_expression(x, y):
    return np.sum(np.tanh((x and y) * x) + (y or x) ** 2)


def comparison_and_value(x, y):
    return ((x > 0.5) and y) * 2.0 + ((x > 0.5) or y)


def assert_like_autograd(f, *args, wrt=(0, 1)):
    """Like assert_like_python, with autograd's gradient as the oracle: for points
    where an operand is 0 (falsy), where `and`/`or` jump and finite differences
    cannot judge; Python returns one operand there, and so does the derivative."""
    autograd = pytest.importorskip("autograd")
    expected = f(*copy.deepcopy(args))
    value, g_vg = ad.value_and_grad(f, wrt=wrt)(*args)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    g = ad.grad(f, wrt=wrt)(*args)
    g_vjp = ad.vjp(f, wrt=wrt)(*args, 1.0)
    for k, i in enumerate(wrt):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Output seems independent of input"
            want = autograd.grad(f, i)(*args)
        for got in (g[k], g_vg[k], g_vjp[k]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


TRUTHY = [(1.5, 2.0), (-0.4, 1.1), (np.array(-0.7), np.array(1.3))]
FALSY = [(0.0, 2.0), (1.5, 0.0), (0.0, 0.0), (np.array(0.0), np.array(1.3))]


@pytest.mark.parametrize(
    "f", [and_value, or_value, chained, and_in_an_expression], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("args", TRUTHY, ids=["floats", "negative", "0-d arrays"])
def test_and_or_differentiate_the_operand_python_returns(f, args):
    assert_like_python(f, *args, wrt=(0, 1))


@pytest.mark.parametrize("f", [and_value, or_value, chained], ids=lambda f: f.__name__)
@pytest.mark.parametrize("args", FALSY, ids=["x zero", "y zero", "both zero", "0-d zero"])
def test_and_or_with_a_falsy_operand(f, args):
    assert_like_autograd(f, *args)


@pytest.mark.parametrize("x", [0.2, 0.9])
def test_and_or_with_a_comparison(x):
    assert_like_python(comparison_and_value, x, 1.7, wrt=1)


def and_short_circuits(x, y):
    # y / x is not computed when x is 0: Python short-circuits, and so does the code
    return (x and y / x) * 2.0


def test_and_or_evaluate_the_second_operand_only_when_needed():
    with np.errstate(divide="raise"):
        assert_like_autograd(and_short_circuits, 0.0, 2.0)
        assert_like_python(and_short_circuits, 0.5, 2.0, wrt=(0, 1))


# ================================================ one array for two parameters
# `x += y` on a parameter is differentiated as `x = x + y`: the generated code never
# writes into its arguments. Python writes into the caller's array, which is the
# same computation unless another argument (or a global the function reads) is, or
# shares memory with, that array: such a call is refused.


def update_parameter(x, y):
    x += y
    return np.sum(x * y)


def update_through_another_name(x, y):
    h = x
    h *= 2.0
    return np.sum(h * y)


def update_then_read_list(x, ys):
    x += 1.0
    return np.sum(x * ys[0])


W_GLOBAL = np.array([0.5, -1.5, 2.0])


def update_and_read_a_global(x):
    x += 1.0
    return np.sum(x * W_GLOBAL)


def no_update(x, y):
    return np.sum((x + y) * y)


A = np.array([1.2, 2.3, 3.4])


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (update_parameter, lambda a: (a, a)),
        (update_parameter, lambda a: (a, a[:])),
        (update_parameter, lambda a: (a[::-1], a)),
        (update_through_another_name, lambda a: (a, a)),
        (update_then_read_list, lambda a: (a, [a * 2.0, a])),
        (update_and_read_a_global, lambda a: (W_GLOBAL,)),
    ],
    ids=["same", "view", "reversed view", "alias", "in a list", "global"],
)
@pytest.mark.parametrize("make", [ad.grad, ad.value_and_grad, ad.vjp], ids=lambda m: m.__name__)
def test_arguments_sharing_updated_memory_are_refused(f, args, make):
    a = A.copy()
    call_args = args(a)
    extra = (1.0,) if make is ad.vjp else ()
    gf = make(f)
    # distinct arrays first, twice, so that the fast path (the dispatcher) is built
    apart = tuple(copy.deepcopy(v) if v is not W_GLOBAL else v.copy() for v in call_args)
    for _ in range(3):
        gf(*apart, *extra)
    before = W_GLOBAL.copy()
    for _ in range(2):  # through the dispatcher, then the slow path
        with pytest.raises(AdCompileError) as info:
            gf(*call_args, *extra)
        err = info.value
        assert "op=" not in err.reason and "in this call" in err.reason, str(err)
        assert err.line.strip().split()[1].endswith("="), str(err)  # the x op= ... line
        assert err.hint.startswith("pass separate arrays")
    np.testing.assert_array_equal(a, A)  # nothing was written
    np.testing.assert_array_equal(W_GLOBAL, before)


def test_parameters_updated_in_place_with_separate_arrays():
    for f in (update_parameter, update_through_another_name, no_update):
        assert_like_python(f, A.copy(), A * 0.5 - 1.0, wrt=(0, 1))
    # two halves of one array share no memory
    whole = np.arange(6.0) * 0.3
    assert_like_python(update_parameter, whole[:3], whole[3:], wrt=(0, 1))
    # numbers are never changed in place
    assert_like_python(update_parameter, 1.5, 1.5, wrt=(0, 1))


def test_one_array_for_two_parameters_not_updated_is_fine():
    assert_like_python(no_update, A, A, wrt=(0, 1))
    gf = ad.grad(no_update, wrt=(0, 1))
    for _ in range(3):
        gf(A, A)
    assert "MAY_SHARE" not in gf._fast.source  # no cost where nothing is updated


def test_dispatcher_checks_sharing_only_for_a_function_that_updates_a_parameter():
    gf = ad.grad(update_parameter, wrt=(0, 1))
    for _ in range(3):
        gf(A.copy(), A * 2.0)
    assert "MAY_SHARE" in gf._fast.source


def mean_of_a_list(a, x):
    parts = [x * a, np.sin(x), x**2]
    return np.mean(parts) + np.sum((a, a * a)) + np.max([np.sum(x), a])


def test_a_list_passed_to_a_numpy_function_is_the_array_numpy_makes():
    import autograd
    import autograd.numpy as anp

    def twin(a, x):
        parts = anp.array([x * a, anp.sin(x), x**2])
        return (
            anp.mean(parts) + anp.sum(anp.array((a, a * a))) + anp.max(anp.array([anp.sum(x), a]))
        )

    x = np.array([0.3, -0.8, 1.1])
    value, (da, dx) = ad.value_and_grad(mean_of_a_list, wrt=(0, 1))(0.7, x)
    assert value == mean_of_a_list(0.7, x)
    for g, e in zip((da, dx), autograd.grad(twin, (0, 1))(0.7, x), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    assert_grad_matches_fd(mean_of_a_list, 0.7, x, wrt=(0, 1))


def _unpack_argument(xs):
    a, b = xs
    return np.sum(a * b)


def _unpack_local(x, n):
    ys = [x * (k + 1) for k in range(n)]
    a, b = ys
    return np.sum(a * b)


def test_a_list_unpacks_only_into_as_many_names_as_it_holds():
    # Python's ValueError, not the gradient of the first elements
    x = np.array([0.5, -1.0])
    with pytest.raises(ValueError, match="too many values to unpack"):
        ad.grad(_unpack_argument)([x, x, x])
    with pytest.raises(ValueError, match="not enough values to unpack"):
        ad.grad(_unpack_argument)([x])
    with pytest.raises(ValueError, match="too many values to unpack"):
        ad.grad(_unpack_local)(x, 3)
    assert_tree_grad_matches_fd(_unpack_argument, [x, x * 3.0])
    assert_grad_matches_fd(_unpack_local, x, 2)
