"""Programs that random testing (tests/test_fuzz.py) found wrong, shrunk and kept.

Each test is a whole module as the fuzzer wrote it (after ``import math`` and
``import numpy as np``), the arguments, and which of them to differentiate;
``check`` runs every oracle of ``fuzzcheck.check_program`` on it. Bugs in the
compiler core that are not fixed yet are strict xfails: they start failing
(XPASS) the day the bug is fixed, and then the mark goes, together with the
matching entry of ``fuzzgen.AVOID``.
"""

from __future__ import annotations

import fuzzcheck
import numpy as np
import pytest
from fuzzgen import module_text

import adcompile as ad


def check(
    tmp_path,
    source: str,
    args: list,
    wrt: tuple,
    mutates: bool = False,
    specialise: bool = True,
    same: tuple = (),
    rebind: str = "",
    names: tuple | None = None,
    keywords: tuple[str, ...] = (),
) -> str:
    """Check the program ``source`` with every oracle, in every mode; ``mutates`` says
    that it writes through shared memory, which adcompile may refuse (the result is then
    "refused"); ``specialise=False`` checks the code compiled without the arguments'
    shapes; ``same``, ``rebind``, ``names`` and ``keywords`` are
    fuzzcheck.check_program's."""
    autograd_text = None if mutates else module_text(source, "autograd.numpy")
    verdict = fuzzcheck.check_program(
        tmp_path,
        module_text(source),
        args,
        wrt,
        autograd_text,
        mutates,
        specialise,
        same=same,
        rebind=rebind,
        names=names,
        keywords=keywords,
    )
    assert verdict
    return verdict


def test_helper_parameter_that_does_not_reach_the_result(tmp_path):
    source = """\
def h(a0, a1):
    return a0 * 2.0


def f(x0):
    return np.sum(h(x0, x0 * 3.0))
"""
    check(tmp_path, source, [np.array([0.5, -1.0])], wrt=(0,))


def test_helper_returning_a_constant(tmp_path):
    source = """\
def h(a0):
    return 2.0


def f(x0):
    return h(x0) * np.sum(x0)
"""
    check(tmp_path, source, [np.array([0.5, -1.0])], wrt=(0,))


# Fixed in 5f516db: np.positive(x), +x and float(x) make new values, but the in-place
# check counted them as views of x, so `v += ...` with x read later was refused.
@pytest.mark.parametrize("copy", ["np.positive(x0)", "+x0", "float(x0)"])
def test_in_place_update_of_a_copy(tmp_path, copy):
    source = f"""\
def f(x0):
    v = {copy}
    v += 1.0
    return np.sum(v * x0)
"""
    check(tmp_path, source, [np.array(0.5)], wrt=(0,))


# np.asarray of a list written in the call copies it into a new array, and np.asarray
# of a new array is that array: both the function's own (the record says converts=True);
# `v += ...` on them was refused as if v shared memory with what np.asarray returned.
@pytest.mark.parametrize(
    "made", ["np.asarray([x0 * 2.0, np.sin(x0)])", "np.asarray(x0 * 2.0)", "np.atleast_2d(-x0)"]
)
def test_in_place_update_of_a_converted_array(tmp_path, made):
    source = f"""\
def f(x0, x1):
    v1 = {made}
    v1 += x1
    return np.sum(v1 ** 2) + np.sum(x0)
"""
    assert "refused" not in check(tmp_path, source, [np.array([0.5, -1.0]), 0.3], wrt=(0, 1))


# np.real of a real array returns that array: the function's own when its operand is
# (eig's eigenvalues here), so v1 += x0 writes where Python writes; it was refused as
# sharing memory with what np.real returned
def test_in_place_update_of_the_real_part_of_a_new_array(tmp_path):
    source = """\
def f(x0):
    a = 0.2 * np.tanh(np.broadcast_to(x0, (2, 2))) + np.eye(2) * np.arange(3.0, 5.0)
    v1 = np.real(np.linalg.eig(a)[0])
    v1 += x0
    return np.sum(v1 * v1)
"""
    assert "refused" not in check(tmp_path, source, [np.array([0.32870805])], wrt=(0,))


def test_in_place_update_of_the_real_part_of_an_argument_writes_into_it(tmp_path):
    # np.real(x1) is x1: Python's += changes the caller's x1, and adcompile must too
    # (or refuse); check compares values, gradients and the arguments after the call
    source = """\
def f(x0, x1):
    v1 = np.real(x1)
    v1 += x0
    return np.sum(v1 * v1)
"""
    args = [np.array([0.5, -1.0]), np.array([0.3, 0.2])]
    check(tmp_path, source, args, wrt=(0,), mutates=True)


# Fixed in 5f516db: a temporary that only a loop body reads (v1 here, assigned by the
# tuple assignment before the loop) was dropped from the forward sweep: NameError.
def test_value_read_only_inside_a_loop(tmp_path):
    source = """\
def f(x0, x1, n):
    v1, v2 = float(n), x0
    for i4 in range(2):
        x1 = np.tanh(np.where(v1 >= x1, x1, x1) * x0)
    return np.sum(x1 * x1)
"""
    check(tmp_path, source, [np.array(0.5), np.array(-0.3), 2], wrt=(1,))


# In-place updates through memory shared in ways the first in-place check (which
# followed plain aliases only) did not see: Python writes through to the other
# variable, adcompile computed as if it did not and gave a wrong value and
# gradient. Fixed by inplace/ (ownership of arrays): all are refused now.
IN_PLACE_THROUGH = {
    "an element of a list parameter": """\
def f(x0, ws):
    v = ws[0]
    v += x0
    return np.sum(ws[0] * v)
""",
    "an array put into a list": """\
def f(x0, ws):
    v = x0 * 2.0
    acc = [v]
    v += x0
    return np.sum(acc[0] * v)
""",
    "the loop variable over a list": """\
def f(x0, ws):
    for w in ws:
        w += x0
    return np.sum(ws[0] * ws[0])
""",
    "an array unpacked from a tuple": """\
def f(x0, ws):
    t = (x0 * 2.0, x0)
    a, b = t
    a += x0
    return np.sum(t[0] * a)
""",
    "the value of a conditional expression": """\
def f(x0, ws):
    v = x0 * 2.0
    u = v if np.sum(x0) > 0.0 else x0
    v += x0
    return np.sum(u * v)
""",
    "a helper that returns its argument": """\
def ident(a):
    return a


def f(x0, ws):
    v = ident(x0)
    v += 1.0
    return np.sum(x0 * v)
""",
    "a helper's own parameter": """\
def h(a0, a1):
    a0 += a1
    return a0 * a1


def f(x0, ws):
    u = x0 * 1.0
    v = h(u, x0)
    return np.sum(u * v)
""",
    "the base of a view read afterwards": """\
def f(x0, ws):
    u = x0 * 1.0
    v = u[:]
    u += x0
    return np.sum(v * x0)
""",
    "the base of a reshaped view read afterwards": """\
def f(x0, ws):
    u = x0 * 1.0
    v = np.reshape(u, (2, 1))
    u *= x0
    return np.sum(v * x0)
""",
}


@pytest.mark.parametrize("source", IN_PLACE_THROUGH.values(), ids=IN_PLACE_THROUGH.keys())
def test_in_place_update_through_shared_memory(tmp_path, source):
    args = [np.array([0.5, 1.25]), [np.array([0.75, -0.25])]]
    verdict = check(tmp_path, source, args, wrt=(0, 1), mutates=True)
    assert verdict == "refused"


def test_in_place_update_of_builtin_max_of_0d_arrays(tmp_path):
    source = """\
def f(x0, x1):
    v = max(x0, x1)
    v += 1.0
    return x0 * v
"""
    args = [np.array(1.0), np.array(0.5)]
    verdict = check(tmp_path, source, args, wrt=(0, 1), mutates=True)
    assert verdict == "refused"


# Fixed in rules/reductions.py: np.std's rule had a local named `spread`, the name of
# the runtime helper that the adjoint of sum() over a list calls; both in one function
# made the helper a local array ('numpy.ndarray' object is not callable).
def test_std_and_sum_over_a_list_in_one_function(tmp_path):
    source = """\
def f(x0, ws):
    s = sum(ws)
    return np.sum(s * np.std(x0))
"""
    args = [np.array([0.5, 1.0, -0.2]), [np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.1, 0.2])]]
    check(tmp_path, source, args, wrt=(0, 1))


def test_no_rule_local_is_named_like_a_runtime_helper():
    """A rule's local variables are inlined into generated code that also calls the
    runtime helpers by name: one named like a helper would shadow it."""
    from adcompile import runtime
    from adcompile.rules import RULES
    from adcompile.rules.registry import SPECIALIZED

    rules = list(RULES.values()) + [rule for cases in SPECIALIZED.values() for _, rule in cases]
    clashes = {
        rule.name: sorted(set(rule.locals) & set(runtime.HELPERS))
        for rule in rules
        if set(rule.locals) & set(runtime.HELPERS)
    }
    assert not clashes


def test_negative_constant_from_tuple_assignment_under_a_power(tmp_path):
    source = """\
def f(x0):
    v5, v6 = x0, -0.7
    return np.sum(x0 * v6 ** 2)
"""
    check(tmp_path, source, [np.array([0.5, -1.25])], wrt=(0,))


# Found by the long run: np.where with a Python float operand. adcompile's gradient
# of the float is a float; autograd's is an array of the condition's shape (its
# where rule does not sum back to the operand), so the checker skips autograd then.
def test_where_with_a_python_float_operand(tmp_path):
    source = """\
def f(x0, x1, x2):
    v1 = np.where(x0 > x0, x2, x0)
    return np.sum(v1 * v1)
"""
    args = [np.array([0.33, -0.55]), np.array([-1.1, -1.2]), 0.75]
    check(tmp_path, source, args, wrt=(0, 2))


@pytest.mark.parametrize(
    "made",
    ["for i in range(1):\n        x0 = x1", "if np.sum(x1) > 0.0:\n        x0 = x1"],
    ids=["in a loop", "in a branch"],
)
def test_in_place_update_of_an_alias_made_on_some_paths(tmp_path, made):
    source = f"""\
def f(x0, x1):
    {made}
    x0 += x0
    return np.sum(x1 * x1)
"""
    args = [np.array([0.33, -0.55, -1.1]), np.array([-1.16, 0.75, 0.99])]
    verdict = check(tmp_path, source, args, wrt=(1,), mutates=True)
    assert verdict == "refused"


# Fixed in 48e6e22: a loop's carried values were copied one by one at the end of an
# iteration, so after `v1, v2 = v2, v1` both held v2 (the fuzzer writes two
# values reassigned at once since then).
@pytest.mark.parametrize("loop", ["for i in range(3):", "while k < 3:\n        k += 1"])
@pytest.mark.parametrize("update", ["v1, v2 = v2, v1", "v2, v1 = v1 * x0[0], v2"])
def test_two_values_carried_through_a_loop_reassigned_at_once(tmp_path, loop, update):
    source = f"""\
def f(x0):
    v1, v2 = np.sum(x0), np.sum(x0 * 3.0)
    k = 0
    {loop}
        {update}
    return v2 * v2 + v1
"""
    check(tmp_path, source, [np.array([0.5, -1.0])], wrt=(0,))


# Fixed in inplace/: the in-place check bound the targets of `a, b = e1, e2` one
# by one, so when e2 read a it linked b to the new a instead of the old one. Here b
# holds the caller's x and `b += 1.0` writes into it, which the check missed (wrong
# value and gradient, silently); in the second, `v += u` is fine but was refused.
# Every element's value is now resolved before any target is bound.
def test_in_place_update_of_a_value_from_a_tuple_assignment_reading_a_target(tmp_path):
    source = """\
def f(x0):
    a = x0
    a, b = x0 * 2.0, a
    b += 1.0
    return np.sum(b * x0)
"""
    verdict = check(tmp_path, source, [np.array([0.3, -0.2])], wrt=(0,), mutates=True)
    assert verdict == "refused"


def test_in_place_update_of_a_new_value_from_a_tuple_assignment(tmp_path):
    source = """\
def f(x0):
    v = x0 * 1.0
    v, u = x0 + x0, v
    v += u
    return np.sum(v * u)
"""
    check(tmp_path, source, [np.array([0.3, -0.2])], wrt=(0,))


# Found by the final long run: the checker, not the compiler. np.var of three equal
# values is 1.2e-32 at x0 and exactly 0 beside it, so `a % b` with a = x1 * var is
# just below b at x0 and 0 around it: f is 1.01 at the point and 0 at every
# neighbour, a removable jump with no derivative. adcompile gives the derivative of
# the branch the point is on; finite differences see the neighbours. The checker
# now rejects such isolated points instead of reporting a disagreement.
def test_an_isolated_point_of_discontinuity_is_not_judged(tmp_path):
    source = """\
def f(x0, x1, x2):
    v2 = np.var(np.broadcast_to(x0, (3,)), axis=0)
    v4 = (x1 * np.sum(np.broadcast_to(v2, (1,)))) % (np.tanh(x0) * np.tanh(x0) + 0.5)
    return np.sum(v4 * v4)
"""
    args = [0.8904310921454586, np.array(-0.26742055648838736), np.array(-0.4347659627009701)]
    with pytest.raises(fuzzcheck.Rejected, match="isolated"):
        check(tmp_path, source, args, wrt=(0,))


# ------------------------------------------------------------------------------------
# Found by the generator's extensions (fuzzgen.EXTENSIONS) and the checks of every
# mode. Each xfail is a bug of the compiler, named by the tag in fuzzgen.KNOWN_BUGS that
# keeps the generator away from it: when the fix lands, the xfail passes (XPASS fails
# the run) and both go.

# the checker's own new cases, which pass today


def test_value_and_grad_and_vjp_are_checked_against_grad(tmp_path):
    source = """\
def f(x0, x1):
    r = np.sum(x0 * x1)
    for i in range(2):
        r = r * 0.5 + np.sum(np.sin(x0))
    return r
"""
    check(tmp_path, source, [np.array([0.3, -0.5]), 0.7], wrt=(0, 1))


def test_a_rule_with_a_statement_before_its_return(tmp_path):
    source = """\
def c0(a):
    return np.exp(-a * a)


@ad.adjoint(c0)
def c0_rule(dy, y, a):
    t = -2.0 * a * y
    return dy * t


def f(x0, x1):
    return np.sum(c0(x0)) + c0(x1)
"""
    check(tmp_path, source, [np.array([0.3, -0.5]), np.array(0.7)], wrt=(0, 1))


def test_a_rebound_global_array_read_in_f(tmp_path):
    source = """\
A0 = np.array([1.0, 2.0])


def f(x0):
    return np.sum(A0 * np.sin(x0))
"""
    check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,), rebind="A0 = np.array([-3.0, 0.5])")


def test_one_array_passed_twice(tmp_path):
    source = """\
def f(x0, x1):
    return np.sum(x0 * np.sin(x1))
"""
    check(tmp_path, source, [np.array([0.3, -0.5])] * 2, wrt=(0, 1), same=(0, 1))


def test_a_tie_and_zeros_at_kinks(tmp_path):
    source = """\
def f(x0):
    return np.max(x0) + np.sum(np.abs(x0)) + np.sum(np.maximum(x0, 0.0))
"""
    check(tmp_path, source, [np.array([0.0, 0.5, 0.5, -0.2])], wrt=(0,))


# programs of the extensions, each found wrong (or failing) on the code before its
# fix; strict xfails for the open bugs (the tag in KNOWN_BUGS as the reason); two are
# refused as outside the language


def test_a_correct_rule_with_an_if_on_ndim(tmp_path):
    # the rule is applied as if it were its last return: np.sum(dy) for arrays
    source = """\
def c0(a):
    return np.sin(a) * 2.0


@ad.adjoint(c0)
def c0_rule(dy, y, a):
    if np.ndim(a) > 0:
        return dy * (2.0 * np.cos(a))
    return np.sum(dy) * (2.0 * np.cos(a))


def f(x0):
    return np.sum(c0(x0) * x0)
"""
    check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,))


def test_value_of_a_result_carried_through_a_loop_that_only_updates_itself(tmp_path):
    source = """\
def f(x0):
    r = np.sum(x0)
    for i in range(3):
        r = np.sin(r)
    return r
"""
    check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,))


@pytest.mark.parametrize("x", [0.0, np.array(0.0)], ids=["float", "0-d array"])
def test_zero_power_at_zero(tmp_path, x):
    source = """\
def f(x0):
    return x0 ** 0 * 3.0 + x0
"""
    check(tmp_path, source, [x], wrt=(0,))


def test_composed_ties_where_the_function_is_constant(tmp_path):
    """Each tie splits its cotangent in two (docs/numerics.md), and the chain rule
    multiplies the halves: 0.25 at x = 0, where f is 0 all around and finite
    differences give 0. autograd splits ties the same way: the checker takes it as
    the judge at such a point."""
    source = """\
def f(x0):
    return np.sum(np.maximum(np.minimum(x0, 0.0), 0.0))
"""
    assert check(tmp_path, source, [np.array([0.0, 0.5])], wrt=(0,)) == "autograd (exact tie)"
    module, path = fuzzcheck.load(tmp_path, module_text(source))
    try:
        x = np.array([0.0, 0.5, -0.5])
        half = 0.5  # np.maximum's and np.minimum's share of a tie
        np.testing.assert_array_equal(ad.grad(module.f)(x), [half * half, 0.0, 0.0])
    finally:
        fuzzcheck.forget(module, path)


def test_a_wrong_gradient_at_an_exact_tie_is_still_caught(tmp_path):
    """At an exact tie the checker does not accept any gradient: a rule that takes the
    whole gradient at a tie (where autograd's np.maximum shares it) is wrong there."""
    source = """\
def relu(a0):
    return np.maximum(a0, 0.0)


@ad.adjoint(relu)
def relu_adjoint(dy, y, a0):
    return dy * (a0 >= 0.0)


def f(x0):
    return np.sum(relu(np.minimum(x0, 0.0)))
"""
    with pytest.raises(AssertionError, match="at an exact tie"):
        check(tmp_path, source, [np.array([0.0, 0.5])], wrt=(0,))


def test_clip_with_crossed_differentiated_bounds(tmp_path):
    source = """\
def f(x0):
    return np.sum(np.clip(x0, x0 + 0.5, x0))
"""
    check(tmp_path, source, [np.array([0.3, -0.7, 0.9])], wrt=(0,))


@pytest.mark.parametrize(
    "made",
    [
        "np.full((2,), x0) * x0",
        "np.full_like(x1, x0)",
        "np.linspace(x0, 1.0, 3) ** 2",
        "np.arange(x0, x0 + 2.5) ** 2",
    ],
)
def test_arrays_made_from_a_differentiated_value(tmp_path, made):
    source = f"""\\
def f(x0, x1):
    return np.sum({made})
"""
    check(tmp_path, source, [0.7, np.array([0.3, -0.5])], wrt=(0,))


@pytest.mark.parametrize(
    "read",
    [
        "u, w = ps[-1]\n    r = np.sum(u * w)",
        "r = 0.0\n    for u, w in ps:\n        r = r + np.sum(u * w)",
    ],
    ids=["unpacked", "loop"],
)
def test_list_of_tuples_built_by_append(tmp_path, read):
    source = f"""\\
def f(x0):
    ps = []
    for i in range(2):
        ps.append((x0 * float(i + 1), np.sin(x0)))
    {read}
    return r
"""
    check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,))


def test_element_of_a_tuple_appended_in_a_loop_read_by_index(tmp_path):
    source = """\
def f(x0):
    ps = []
    for i in range(2):
        ps.append((x0 * 2.0, np.sum(x0)))
    return np.sum(ps[-1][0])
"""
    check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,))


def test_append_through_a_second_name_of_a_list(tmp_path):
    source = """\
def f(x0):
    xs = [x0]
    ys = xs
    ys.append(x0 * 2.0)
    return np.sum(xs[-1])
"""
    assert check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,)) == "refused"


def test_appends_in_a_loop_through_two_names_of_a_list(tmp_path):
    source = """\
def f(x0):
    xs = [x0]
    ys = xs
    for i in range(3):
        ys.append(x0 * 2.0)
        xs.append(x0 * 3.0)
    return np.sum(ys[-5])
"""
    assert check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,)) == "refused"


@pytest.mark.parametrize("op", ["and", "or"])
def test_and_or_values(tmp_path, op):
    source = f"""\\
def f(x0, x1):
    return (x0 {op} x1) * 2.0
"""
    check(tmp_path, source, [0.7, np.array(0.3)], wrt=(0, 1))


def test_one_array_passed_twice_updated_in_place_through_one_name(tmp_path):
    source = """\
def f(x0, x1):
    x1 += x0
    return np.sum(x0 * x0)
"""
    args = [np.array([0.3, -0.5])] * 2
    verdict = check(tmp_path, source, args, wrt=(0, 1), mutates=True, same=(0, 1))
    assert verdict == "refused"


def test_a_rebound_global_function(tmp_path):
    source = """\
def g0(a):
    return np.sin(a) * 2.0


def g0_other(a):
    return a * a * a


def f(x0):
    return np.sum(g0(x0))
"""
    check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,), rebind="g0 = g0_other")


def test_a_rebound_global_number_read_in_a_helper(tmp_path):
    source = """\
C0 = 0.5


def h(a):
    return np.sin(a) * C0


def f(x0):
    return np.sum(h(x0))
"""
    check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,), rebind="C0 = 3.0")


def test_arctan2_at_the_origin_behind_an_unchosen_min_operand(tmp_path):
    """Found by a long run: arctan2(0, 0) sits on the operand the builtin min does not
    return, so its cotangent is 0; the adjoint's 0 / 0 made that NaN. At the origin,
    where numpy gives 0, arctan2's derivative is taken as 0 (docs/numerics.md)."""
    source = """\
def f(x0, ws1):
    x0 = x0
    s = np.sum(x0, axis=(0, 1))
    v2 = (s if np.sum(s) > 0.0 else s) - s
    v4 = min(ws1[0], np.arctan2(v2, v2))
    return np.sum(v4 * v4)
"""
    args = [np.array([[0.32870804957149025]]), [np.array(-0.5525118869667113)]]
    check(tmp_path, source, args, wrt=(0,))


def test_an_imaginary_part_of_a_transform_returned_by_a_helper_is_its_own(tmp_path):
    # np.imag of np.fft.fftn's new complex result is a view the caller may update in
    # place: the helper's own array, not its argument's
    source = """\
def h0(a0):
    a0 = np.where(a0 >= a0, np.mean(a0), a0)
    return np.imag(np.fft.fftn(np.sum(a0) + np.zeros((3,))))


def f(x0, x1, ws1):
    for i8 in range(1):
        x0 = (x0 - float(i8))[:1, ::-1]
        if np.min(x1) > 1.0:
            v9 = h0(x1)
            v9 *= np.where(x1 > x1, x1, v9)
            v10 = h0(v9)
        else:
            v11 = h0(a0=float(i8) + x1)
    v13 = (x0 - np.einsum("...i,...i", x1, x1)) if np.min(x0) > 1.0 else (x0 - x1)
    return np.sum(ws1[-1]) + np.mean(np.sin(v13))
"""
    args = [
        np.array([[-0.15812810134648325, -0.6920920248851289, 0.9888895660543413]]),
        np.array([1.2651141705417399, 1.13309117098636625, 1.00737111689060832]),
        [np.array([-0.0831069235302712, -0.966304638896426, -0.532246795355170])],
    ]
    check(tmp_path, source, args, wrt=(0, 2))


def test_an_imaginary_part_of_a_conjugated_transform_is_written_in_place(tmp_path):
    # complex through np.conj and np.fft.ifftshift: np.imag's view can be written
    source = """\
def h0(a0):
    v2 = np.imag(np.conj(np.fft.ifftshift(np.fft.ifft(a0))))
    v2 += a0 + a0
    return np.sum(a0, axis=0) + np.sum(v2)


def f(x0, x1, x2, t1):
    v3 = h0(a0=x0)
    return np.sum(v3 * v3)
"""
    args = [
        np.array([0.32870804957149025]),
        np.array(-0.5525118869667113),
        np.array(-1.1016635418665814),
        (np.array([-1.1603336727557566]), np.array([0.7518485728425906])),
    ]
    check(tmp_path, source, args, wrt=(0,))


def test_in_place_update_of_what_a_method_of_self_returns(tmp_path):
    """Found by the "methods" extension: ``v = self.forward(x)`` then ``v -= ...`` was
    refused as an update of "the global 'self'"; forward returns a new array, as a
    helper function does, so Python writes into nothing else."""
    source = """\
class Model:
    def __init__(self):
        self.scale = 0.5

    def forward(self, a0):
        return np.sin(a0) * self.scale

    def loss(self, x0):
        v1 = self.forward(x0)
        v1 -= np.sum(x0) * 0.5
        return np.sum(v1 * v1)


model = Model()
f = model.loss
"""
    check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,), rebind="model.scale = 2.0")


def test_in_place_update_of_a_method_result_that_is_self_data_is_refused(tmp_path):
    """A method that returns one of self's arrays: ``v -= ...`` would change it, and is
    refused with a located error."""
    source = """\
class Model:
    def __init__(self):
        self.bias = np.array([0.5, 1.0])

    def forward(self, a0):
        return self.bias

    def loss(self, x0):
        v1 = self.forward(x0)
        v1 -= x0
        return np.sum(v1 * v1)


model = Model()
f = model.loss
"""
    with pytest.raises(ad.AdCompileError, match="shares its memory"):
        check(tmp_path, source, [np.array([0.3, -0.5])], wrt=(0,))


def test_a_helper_called_in_the_condition_of_a_conditional_expression(tmp_path):
    """Found by the "conditions" extension: ``a if np.mean(h(x)) < c else b`` was refused
    ("a call of a user function in a condition"); the condition, which the statement
    always evaluates, is computed in a statement before it."""
    source = """\
def h0(a0, a1):
    return np.sin(a0) * a1


def f(x0, x1):
    v6 = (x0 - np.mean(x0)) if np.mean(h0(x0, a1=x1)) < -0.5 else x0 * x1
    return np.sum(v6 * v6) + np.sum(x1 if np.sum(h0(v6, x1)) > 0.0 else x1 * 2.0)
"""
    args = [np.array([-1.1, 0.4, -0.9]), np.array([0.8, -0.3, 1.0])]
    check(tmp_path, source, args, wrt=(0, 1))


def test_a_helper_called_in_a_while_condition_with_continue(tmp_path):
    """Found by the "conditions" extension: a while loop whose condition calls a helper
    and whose body has continue was refused; the condition is computed again before
    each continue."""
    source = """\
def h0(a0):
    return np.sum(a0 * a0)


def f(x0):
    k1 = 0
    while h0(x0) > 0.3 and k1 < 4:
        k1 += 1
        x0 = x0 * 0.7
        if np.sum(x0) > 0.0:
            continue
        x0 = np.tanh(x0)
    return np.sum(np.sin(x0))
"""
    for x in ([0.9, 0.5], [-0.9, -0.4]):
        check(tmp_path, source, [np.array(x)], wrt=(0,))


def test_a_method_of_self_called_in_conditions(tmp_path):
    """``if np.sum(self.forward(x)) > 0`` and a conditional expression on a method's
    result: the calls are computed first, as a helper function's are."""
    source = """\
class Model:
    def __init__(self):
        self.scale = 0.5

    def forward(self, a0):
        return np.sin(a0) * self.scale

    def loss(self, x0):
        v1 = x0 * 2.0 if np.sum(self.forward(x0)) > 0.0 else x0 * 3.0
        if np.sum(self.forward(v1)) > 0.0:
            v1 = v1 * np.cos(v1)
        return np.sum(v1 * v1)


model = Model()
f = model.loss
"""
    for x in ([0.3, -0.1], [-0.3, 0.1]):
        check(tmp_path, source, [np.array(x)], wrt=(0,), rebind="model.scale = -2.0")


def test_in_place_update_after_a_helper_returned_another_argument_in_a_loop(tmp_path):
    """Found by the "closures" extension (a nested function returning a value it closes
    over is lifted to a helper that returns that parameter): ``v8 += ...`` is refused
    as changing ``v7``, a view of ``x0``, though ``h`` returned ``v8``, not ``x0``. A
    false refusal (what Python computes is what adcompile would), not a wrong number;
    the generator marks every array a call mentions as shared, so it does not write it
    without the "inplace" feature, whose programs may be refused."""
    source = """\
def h(t, u):
    return u


def f(x0):
    v8 = x0 * x0
    v7 = x0[0]
    for k in range(2):
        v12 = h(x0, v8)
        v8 += v7 + v7
    return np.sum(v8)
"""
    check(tmp_path, source, [np.array([0.1, 0.2])], wrt=(0,))


def test_in_place_update_of_a_diagonal_matrix_a_helper_returned(tmp_path):
    """Found by the long run of the helper-call suite: ``v4 += x0`` on what a helper
    returned as ``np.diag(np.broadcast_to(a0, (1,)))`` (a new 1x1 array) was refused as
    changing ``x0``. np.diag returns a new array or a read-only one: the update is
    accepted and its writability checked when it runs (tests/test_in_place.py)."""
    source = """\
def h1(a0):
    return np.diag(np.broadcast_to(a0, (1,)))


def f(x0, x1):
    v4 = h1(a0=x0)
    v4 += x0
    return np.sum(v4 * v4) + np.sum(x0 * x0)
"""
    args = [np.array(0.32870804957149025), np.array(-0.5525118869667113)]
    check(tmp_path, source, args, wrt=(0,))


def test_in_place_update_of_what_a_function_chosen_by_a_condition_returned(tmp_path):
    """Found by the "idioms" extension: ``v3 = act(x0)`` with ``act = np.tanh if ...
    else np.sin`` is a new array, but ``v3 += x0`` was refused as changing ``x0`` (read
    later). The same with ``act = np.tanh``, and with helpers of the user as the
    choices (each returns a new array)."""
    source = """\
def f(x0):
    act = np.tanh if np.sum(x0) > 0.0 else np.sin
    v3 = act(x0)
    v3 += x0
    v4 = x0
    return np.sum(v4 * v4 + v3)
"""
    for x in ([0.3287, 0.1], [-0.3287, 0.1]):
        check(tmp_path, source, [np.array(x)], wrt=(0,))
    source = """\
def h0(a0):
    return np.sin(a0) * 2.0


def h1(a0):
    return a0 * a0


def f(x0, x1):
    act = h0 if x1 > 0.0 else h1
    one = np.tanh
    v3 = act(x0)
    v3 += x0
    if np.sum(x0) > 0.0:
        one = act
    v5 = one(x0)
    v5 *= x0
    return np.sum(x0 * v3) + np.sum(v5 * x0)
"""
    for x, c in (([0.3287, 0.1], 0.5), ([-0.3287, 0.1], -0.5)):
        check(tmp_path, source, [np.array(x), c], wrt=(0,))


@pytest.mark.parametrize("x", [[-0.3, -0.2], [0.4, 0.5], [-0.3, 0.2]])
def test_user_call_in_the_condition_of_a_conditional_inside_a_conditional(tmp_path, x):
    """Found by the "methods" extension: ``a if c else np.fmin(b if np.mean(h0(...)) >
    0.5 else b, ...)`` was refused ("a call of a user function in a condition"). The
    inner condition is evaluated only on the outer's else path: the outer conditional
    becomes an if statement, and the inner one's condition is computed in its branch."""
    source = """\
def h0(a0):
    assert np.all(a0 > -1.0)
    return a0 * 2.0


def f(x0):
    v1 = x0 * 3.0 if np.sum(x0) < -0.4 else np.sin(x0 if np.mean(h0(x0)) > 0.5 else -x0)
    for i2 in range(2):
        x0, v1 = v1, v1 if np.max(v1) > 5.0 else np.fmin(x0 if np.mean(h0(x0)) > 0.5 else x0, v1)
    return np.sum(v1**2) + np.sum(x0)
"""
    check(tmp_path, source, [np.array(x)], wrt=(0,))


def test_an_untaken_arm_of_a_conditional_does_not_call_the_user_function(tmp_path):
    # (h0 asserts its argument positive: called on the untaken arm, Python would raise)
    source = """\
def h0(a0):
    assert np.all(a0 > 0.0)
    return a0


def f(x0):
    v1 = x0 * 3.0 if np.sum(x0) < 0.0 else np.sin(x0 if np.mean(h0(x0)) > 0.5 else -x0)
    return np.sum(v1**2)
"""
    check(tmp_path, source, [np.array([-0.3, -0.2])], wrt=(0,))


@pytest.mark.parametrize("x", [[0.1, -0.2], [0.5, -0.2], [60.0, 50.0]])
def test_user_call_in_a_conditional_inside_the_second_operand_of_or(tmp_path, x):
    # (a or b: b, and the condition inside it, only when a is false)
    source = """\
def h0(a0):
    return np.max(np.abs(a0)) < 0.25


def f(x0):
    v1 = np.sum(x0) > 100.0 or np.sum(x0 if h0(x0) else -x0) > 0.0
    v2 = np.sum(x0) > 0.0 and np.sum(x0 * 2.0 if h0(x0) else x0) < 1.0
    return np.sum(x0) * (2.0 if v1 else 1.0) + np.sum(x0**2) * (3.0 if v2 else 1.0)
"""
    check(tmp_path, source, [np.array(x)], wrt=(0,))


def test_a_reversed_list_made_a_list(tmp_path):
    """Found by the "iteration" extension: ``list(reversed(xs))`` (and ``sum``, ``zip``
    and ``enumerate`` consumed whole) was refused as "the builtin reversed() is not
    supported here", though a loop over ``reversed(xs)`` was differentiated."""
    source = """\
def f(x0, ws2):
    c10 = list(reversed(ws2))
    pairs = list(zip(ws2, c10))
    numbered = list(enumerate(c10, 1))
    v = np.sum(sum(reversed(ws2)) * x0)
    return v + np.sum(c10[0] * x0) + np.sum(pairs[1][0] * numbered[0][1]) * numbered[1][0]
"""
    args = [
        np.array([0.8596, -0.5399, -0.1753]),
        [np.array([-0.0207, 0.7948, 0.7223]), np.array([0.6910, 0.0241, -0.7680])],
    ]
    check(tmp_path, source, args, wrt=(0, 1))


def test_a_function_argument_with_a_default_and_a_positional_cotangent(tmp_path):
    """Found by the "signatures" extension (in the checks, not in adcompile): vjp's
    cotangent after the arguments of an f whose last parameter has a default
    (``act=np.tanh``) would fill that parameter; the checks pass it by keyword. The
    program forwards f's function parameter to a helper, as model code does."""
    source = """\
def h1(a0, a1, act=np.sin):
    return act(a0 * a1) + a0


def f(x0, x1, act=np.tanh):
    v = act(x0) * 2.0
    return np.sum(h1(v, x1, act=act)) + np.sum(h1(x1, a1=x0))
"""
    args = [np.array([0.3287, -0.55]), np.array([0.7, 0.1])]
    check(tmp_path, source, args, wrt=(0, 1))


@pytest.mark.xfail(
    strict=True,
    raises=ad.AdCompileError,
    reason="sig-function-local: a function made inside f (a lambda, a nested def) is "
    "supported only where it is called, not passed as a value to another function",
)
def test_a_lambda_passed_to_a_helper_as_its_function_parameter(tmp_path):
    """Found by the "signatures" extension: ``h(x, act=lambda z: z * 0.5)`` (and a
    nested ``def`` passed the same way, or bound by ``functools.partial``) is refused;
    the functions a call may pass are module-level ones and numpy's. A refusal, not a
    wrong number."""
    source = """\
def h1(a0, act=np.tanh):
    return act(a0) * 2.0


def f(x0, x1):
    return np.sum(h1(x0 - x1, act=lambda z: z * x1))
"""
    args = [np.array([0.3287, -0.55]), np.array([0.7, 0.1])]
    check(tmp_path, source, args, wrt=(0, 1), names=("x0", 1))


@pytest.mark.parametrize("specialise", [True, False])
def test_update_of_the_builtin_min_of_a_float_parameter(tmp_path, specialise):
    """Found by the "edges" extension: ``min(v, x1)`` may be ``x1`` itself; with ``x1`` a
    Python float, ``v -= ...`` rebinds ``v`` and changes nothing else. The in-place check
    refused it as changing ``x1`` (right for an array argument); it now reads that the
    code is compiled for a float ``x1``, in the general code (for any shapes) too."""
    source = """\
def f(x0, x1):
    v11 = x1 + x1
    v12 = v11
    v11 = min(v11, x1)
    v11 -= min(x0, x1)
    return np.sum(v11 * v11) + np.sum(v12)
"""
    check(tmp_path, source, [np.array(-1.18), -0.47], wrt=(0, 1), specialise=specialise)
