"""@adcompile.adjoint as docs/custom-rules.md describes it.

Each test registers rules into the global registry; a fixture puts the registry
back as it was afterwards, so other tests still see np.nancumsum without a rule.
"""

from __future__ import annotations

import ast
import inspect
import math
import warnings

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile.rules import registry
from adcompile.rules.tangents import tangent_rule


@pytest.fixture(autouse=True)
def fresh_registry():
    saved = registry.snapshot()
    yield
    registry.restore(saved)


def cube(x):
    return x * x * x


def cube_loss(x):
    return np.sum(cube(x))


def test_a_rule_for_a_users_function_replaces_its_pullback():
    @ad.adjoint(cube)
    def cube_adjoint(dy, y, x):
        return dy * 3 * x * x

    g = ad.grad(cube_loss)
    x = np.array([1.0, -2.0, 0.5])
    assert np.allclose(g(x), 3 * x * x)
    assert "fwd_cube" not in g.source and "3 * x * x" in g.source
    assert ad.check_grad(cube_loss, x) < 1e-6


def running(x):
    return np.sum(np.nancumsum(x, axis=0) ** 2)


def test_a_rule_for_a_library_function_takes_its_keywords():
    with pytest.raises(ad.AdCompileError, match="has no adjoint rule"):
        ad.grad(running)(np.ones(3))

    @ad.adjoint(np.nancumsum)
    def nancumsum(dy, y, a, axis=None):
        return np.reshape(np.flip(np.cumsum(np.flip(dy, axis), axis), axis), np.shape(a))

    def running2(x):
        return np.sum(np.nancumsum(x, axis=1) ** 2) + np.sum(np.nancumsum(x) ** 3)

    x = np.arange(6.0).reshape(2, 3) / 3
    assert ad.check_grad(running2, x) < 1e-6


def remainder_total(x, y):
    return np.sum(np.fmod(x, y))


def test_broadcasts_sums_contributions_back_to_each_operand():
    @ad.adjoint(np.fmod, broadcasts=True)
    def fmod(dz, z, x1, x2):
        return dz, -dz * np.trunc(x1 / x2)

    # (x / y is nowhere a whole number: away from fmod's jumps)
    x, y = np.arange(1.0, 4.0).reshape(3, 1) + 0.25, np.arange(1.0, 5.0) * 1.1
    dx, dy = ad.grad(remainder_total, wrt=(0, 1))(x, y)
    assert dx.shape == (3, 1) and dy.shape == (4,)
    assert ad.check_grad(remainder_total, x, y, wrt=(0, 1)) < 1e-6


def vector_running(x):
    return np.sum(np.nancumsum(x) ** 2)


def test_when_rules_apply_with_known_shapes_only():
    @ad.adjoint(np.nancumsum)
    def nancumsum(dy, y, a, axis=None):
        return np.reshape(np.flip(np.cumsum(np.flip(dy, axis), axis), axis), np.shape(a))

    @ad.adjoint(np.nancumsum, when=lambda a: len(a) == 1)
    def nancumsum_vector(dy, y, a, axis=None):
        return np.cumsum(dy[::-1])[::-1]

    g = ad.grad(vector_running)
    assert "np.flip" in g.source  # before a call: the general code
    g(np.arange(4.0))
    assert "[::-1]" in g.source and "np.flip" not in g.source
    assert ad.check_grad(vector_running, np.arange(4.0)) < 1e-6


def test_a_failing_when_condition_is_a_located_error_naming_the_rule():
    @ad.adjoint(np.nancumsum)
    def nancumsum(dy, y, a, axis=None):
        return np.reshape(np.flip(np.cumsum(np.flip(dy, axis), axis), axis), np.shape(a))

    @ad.adjoint(np.nancumsum, when=lambda a: a[1] == 4)  # a vector's shape has no a[1]
    def nancumsum_matrix(dy, y, a, axis=None):
        return np.cumsum(dy[::-1])[::-1]

    g = ad.grad(vector_running)
    with pytest.raises(ad.AdCompileError, match="when= condition of the special-case rule"):
        g(np.arange(4.0))


def test_a_user_rule_for_a_known_primitive_keeps_its_record():
    """Overriding np.tanh's rule changes that rule only: the record's shape kind,
    scalar-preservation and spelling on floats stay."""
    record = registry.record_of(np.tanh)

    @ad.adjoint(np.tanh, override=True)
    def tanh(dy, y, x):
        return dy * (1.0 - y**2)

    new = registry.record_of(np.tanh)
    assert new.shape == record.shape and new.scalar_preserving and new.fresh
    assert registry.lookup(math.tanh) is record.rules[id(math.tanh)]
    assert "(1.0 - tanh_sum_1 ** 2)" in ad.grad(tanh_sum).source


def tanh_sum(x):
    return np.sum(np.tanh(x))


def asinh_twice(x):
    return math.asinh(x) * 2.0


def test_a_rule_with_a_math_spelling_derives_its_rule_on_floats():
    from adcompile.rules.record import UNARY

    @ad.adjoint(np.arcsinh, on_floats=math.asinh, shape=UNARY)
    def arcsinh(dy, y, x):
        return dy / np.sqrt(1 + x * x)

    g = ad.grad(asinh_twice)
    dx = g(0.7)
    assert type(dx) is float
    assert "math.sqrt(1.0 + x * x)" in g.source and "np." not in g.source
    assert ad.check_grad(asinh_twice, 0.7) < 1e-6


def test_a_math_spelling_whose_rule_cannot_be_derived_is_refused_at_the_rule():
    from adcompile.rules.record import UNARY

    with pytest.raises(ad.AdCompileError, match="np.sign in this rule has no Python-float"):

        @ad.adjoint(np.arcsinh, on_floats=math.asinh, shape=UNARY)
        def arcsinh(dy, y, x):
            return dy * np.sign(x) / np.sqrt(1 + x * x)


def test_registering_twice_warns_and_override_does_not():
    def first(dy, y, x):
        return dy * 3 * x * x

    ad.adjoint(cube)(first)
    with pytest.warns(UserWarning, match="already has an adjoint rule; the one from .* replaces"):

        @ad.adjoint(cube)
        def second(dy, y, x):
            return 3 * dy * x * x

    with warnings.catch_warnings():
        warnings.simplefilter("error")

        @ad.adjoint(cube, override=True)
        def third(dy, y, x):
            return dy * (3 * x * x)

    assert ast.unparse(registry.lookup(cube).contributions[0]) == "dy * (3 * x * x)"


@pytest.mark.parametrize(
    ("words", "make"),
    [
        ("end with `return", lambda: _no_return),
        ("undefined name 'nowhere'", lambda: _undefined),
        ("the output cotangent, the output, then", lambda: _too_few),
        ("more contributions than", lambda: _too_many),
        ("plain parameters", lambda: _varargs),
    ],
)
def test_bad_templates_are_refused_where_they_are_defined(words, make):
    with pytest.raises(ad.AdCompileError, match=words) as info:
        ad.adjoint(cube)(make())
    assert info.value.filename.endswith("test_custom_rules.py")


def _no_return(dy, y, x):
    dy * x  # noqa: B018 - the mistake under test


def _undefined(dy, y, x):
    return dy * nowhere  # noqa: F821 - the mistake under test


def _too_few(dy, y):
    return dy


def _too_many(dy, y, x):
    return dy, dy


def _varargs(dy, y, *xs):
    return dy


def square(x):
    return x * x


def square_loss(x):
    return np.sum(square(x))


def test_a_rule_registered_after_compiling_reaches_new_gradients():
    x = np.array([1.0, 2.0])
    assert np.allclose(ad.grad(square_loss)(x), 2 * x)

    @ad.adjoint(square)
    def square_adjoint(dy, y, x):
        return dy * 0.0 * x  # a different rule, to see which one runs

    assert np.allclose(ad.grad(square_loss)(x), 0.0)


# Rules with control flow: inlined with their branches and loops intact.


def ramp(x):
    """x * x where x > 0, -x elsewhere."""
    if np.ndim(x) == 0:
        return x * x if x > 0 else -x
    return np.where(x > 0, x * x, -x)


def ramp_adjoint(dy, y, x):
    if np.ndim(x) == 0:
        if x > 0:
            return dy * 2.0 * x
        return -dy
    return dy * np.where(x > 0, 2.0 * x, -1.0)


def ramp_scaled(x):
    return ramp(x) * 3.0


def ramp_sum(x):
    return np.sum(ramp(x) * x)


def test_a_rule_with_branches_takes_the_branch_its_operands_choose():
    from helpers import assert_grad_matches_fd

    ad.adjoint(ramp)(ramp_adjoint)
    for x in (1.5, -0.5):
        assert_grad_matches_fd(ramp_scaled, x)
        assert_grad_matches_fd(ramp_scaled, np.array(x))
    assert_grad_matches_fd(ramp_sum, np.array([[1.5, -0.5, 2.0]]))
    source = ad.grad(ramp_scaled).source
    assert source.count("if ") == 2 and "else:" in source


def doubled(x):
    return 2.0 * x


def doubled_loss(x):
    return np.sum(doubled(x))


def test_a_rule_is_not_cut_to_its_last_return():
    @ad.adjoint(doubled)
    def doubled_adjoint(dy, y, x):
        if np.ndim(x) == 0:
            return dy * 2.0
        return dy * 999.0  # followed as written: only arrays get this branch

    g = ad.grad(doubled_loss)
    assert g(3.0) == 2.0 and g(np.array(3.0)) == 2.0
    assert list(g(np.ones(2))) == [999.0, 999.0]


def cubed(x, w):
    return x * x * x * w


def cubed_loss(x, w):
    return np.sum(cubed(x, w))


def cubed_adjoint(dy, y, x, w):
    # 3 x^2 by a loop, and the early return of a second parameter's contribution
    square = x * x
    total = 0.0 * square
    for _ in range(3):
        total = total + square
    if np.ndim(w) == 0:
        return dy * total * w, np.sum(dy * x * square)
    return dy * total * w, dy * x * square


def test_a_rule_with_a_loop_and_several_returns_gives_each_parameter_its_own():
    from helpers import assert_grad_matches_fd

    ad.adjoint(cubed, broadcasts=True)(cubed_adjoint)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3))
    for w in (1.5, np.array(-0.7), rng.normal(size=(2, 3))):
        assert_grad_matches_fd(cubed_loss, x, w, wrt=(0, 1))
        assert_grad_matches_fd(cubed_loss, x, w, wrt=0)
        assert_grad_matches_fd(cubed_loss, x, w, wrt=1)


def _try(dy, y, x):
    try:
        return dy * 3 * x * x
    except ValueError:
        return dy


def _nested_def(dy, y, x):
    def helper(t):
        return t

    return helper(dy)


def _lambda(dy, y, x):
    return (lambda t: t)(dy)


def _return_in_loop(dy, y, x):
    for _ in range(2):
        return dy
    return dy


def _none_on_one_path(dy, y, x, w):
    if np.ndim(x) == 0:
        return dy * w, None
    return dy * w, dy * x


def _assigns_a_parameter(dy, y, x):
    x = np.asarray(x)
    return dy * 3 * x * x


def _in_place(dy, y, x):
    t = dy
    t *= 3 * x * x
    return t


def _item_store(dy, y, x):
    t = dy * 1.0
    t[0] = 0.0
    return t


def _falls_off(dy, y, x):
    if np.ndim(x) == 0:
        return dy


@pytest.mark.parametrize(
    ("words", "make", "line"),
    [
        ("cannot use `try`", lambda: _try, "try:"),
        ("cannot use `functiondef`", lambda: _nested_def, "def helper(t):"),
        ("cannot use `lambda`", lambda: _lambda, "return (lambda t: t)(dy)"),
        ("cannot return inside a loop", lambda: _return_in_loop, "return dy"),
        ("gives 'w' no contribution on this path", lambda: _none_on_one_path, "None"),
        ("cannot assign to its parameter 'x'", lambda: _assigns_a_parameter, "x = np.asarray"),
        ("on every path", lambda: _falls_off, "def _falls_off"),
        ("cannot update a value in place", lambda: _in_place, "t *= 3 * x * x"),
        ("cannot update a value in place", lambda: _item_store, "t[0] = 0.0"),
    ],
)
def test_rule_statements_the_inliner_cannot_keep_are_refused_at_their_line(words, make, line):
    fn = make()
    with pytest.raises(ad.AdCompileError, match=words) as info:
        ad.adjoint(cube)(fn)
    err = info.value
    assert err.filename.endswith("test_custom_rules.py")
    assert line in err.line
    lines, first = inspect.getsourcelines(fn)
    assert lines[err.lineno - first].strip() == err.line.strip()


def ramp_loop(x, n):
    for _ in range(n):
        x = ramp(x) * 0.5 + 0.1
        if np.sum(x) > 1.0:
            x = ramp(x - 1.0)
    return np.sum(x)


def ramp_helper(x):
    return ramp(x) * 3.0


def ramp_calls(x):
    return np.sum(ramp_helper(x) + ramp_helper(x * 2.0))


def test_a_rule_with_branches_inside_loops_and_called_functions():
    from helpers import assert_grad_matches_fd

    ad.adjoint(ramp)(ramp_adjoint)
    for x in (np.array([0.3, -0.7, 1.2]), 0.3, np.array(-0.4)):
        assert_grad_matches_fd(ramp_loop, x, 4)
        assert_grad_matches_fd(ramp_calls, x)


def test_a_refused_rule_defined_inside_a_function_is_located_at_its_own_column():
    def nested(dy, y, x):
        with np.errstate(all="ignore"):
            return dy * 3 * x * x

    with pytest.raises(ad.AdCompileError, match="cannot use `with`") as info:
        ad.adjoint(cube)(nested)
    err = info.value
    assert err.line.strip() == 'with np.errstate(all="ignore"):'
    assert err.col == err.line.index("with")
    assert err.lineno == inspect.getsourcelines(nested)[1] + 1


def log_bump(x, s):
    return -x * x / s


def bump(x, s):
    return np.exp(-x * x / s)


def bump_loss(x, s):
    return np.sum(bump(x, s) * x)


def test_an_exponential_rule_is_its_logarithms_with_the_cotangent_times_the_output():
    """exponential=True: the template of log_bump's rule, registered for bump, reads
    dy * y where it read dy (d exp(f) = exp(f) df), checked by finite differences."""

    @ad.adjoint(bump, broadcasts=True, exponential=True)
    @ad.adjoint(log_bump, broadcasts=True)
    def log_bump_adjoint(dy, y, x, s):
        return -dy * 2 * x / s, dy * x * x / (s * s)

    rule = registry.lookup(bump)
    assert [ast.unparse(c) for c in rule.contributions] == [
        "-dy * y * 2 * x / s",
        "dy * y * x * x / (s * s)",
    ]
    assert [ast.unparse(c) for c in registry.lookup(log_bump).contributions] == [
        "-dy * 2 * x / s",
        "dy * x * x / (s * s)",
    ]
    g = ad.grad(bump_loss, wrt=(0, 1))
    assert "fwd_bump" not in g.source  # the rule, not the function's own pullback
    x, s = np.array([0.3, -1.2, 0.8]), 1.7
    assert ad.check_grad(bump_loss, x, s, wrt=(0, 1)) < 1e-6


def test_an_exponential_tangent_rule_is_the_output_times_its_logarithms():
    """tangent(..., exponential=True): y * (the log function's tangent), against
    central differences along a direction."""

    @ad.adjoint(bump, broadcasts=True, exponential=True)
    @ad.adjoint(log_bump, broadcasts=True)
    def log_bump_adjoint(dy, y, x, s):
        return -dy * 2 * x / s, dy * x * x / (s * s)

    @ad.tangent(bump, exponential=True)
    @ad.tangent(log_bump)
    def log_bump_tangent(dx, ds, y, x, s):
        return -2 * x * dx / s + x * x * ds / (s * s)

    assert ast.unparse(tangent_rule(bump).result) == "y * (-2 * x * dx / s + x * x * ds / (s * s))"
    x, s = np.array([0.3, -1.2, 0.8]), 1.7
    dx, ds = np.array([0.5, 0.1, -0.7]), 0.3
    _, got = ad.jvp(bump_loss, wrt=(0, 1))(x, s, (dx, ds))
    eps = 1e-6
    want = (bump_loss(x + eps * dx, s + eps * ds) - bump_loss(x - eps * dx, s - eps * ds)) / (
        2 * eps
    )
    assert abs(got - want) < 1e-8 * max(1.0, abs(want))


def scaled(a, b):
    return a * b


def scaled_by_parameter(x, s):
    return np.sum(scaled(x, s) ** 2)


def scaled_by_a_row(x, w):
    return np.sum(np.sin(scaled(x, w)))


def scaled_by_a_total(w):
    # the operand numpy broadcasts is made inside the function: a contribution of the
    # result's shape used as it is would give every element of w a wrong gradient
    s = np.sum(w)
    return np.sum(scaled(np.array([1.0, 2.0, 3.0]), s) * np.array([0.5, -1.0, 2.0]))


@pytest.mark.parametrize(
    "f, args",
    [
        (scaled_by_parameter, (np.arange(1.0, 4.0), 2.0)),
        (scaled_by_parameter, (np.arange(1.0, 4.0), np.array(0.5))),
        (scaled_by_a_row, (np.ones((2, 3)) * 0.3, np.arange(1.0, 4.0))),
        (scaled_by_a_row, (np.arange(1.0, 4.0), np.ones((2, 3)) * 0.3)),
        (scaled_by_a_total, (np.array([0.5, 0.1, 0.2]),)),
    ],
)
def test_a_rule_registered_without_broadcasts_for_a_broadcasting_function(f, args):
    """A user's rule that does not say broadcasts=True, for a function that does
    broadcast: each contribution is summed back to its operand's shape at run time."""

    @ad.adjoint(scaled, override=True)
    def scaled_adjoint(dy, y, a, b):
        return dy * b, dy * a

    wrt = tuple(range(len(args)))
    assert_grad_matches_fd(f, *args, wrt=wrt if len(wrt) > 1 else 0)


def spread(x):
    return x + np.zeros((2, 3))


def spread_loss(x):
    return np.sum(spread(x) * np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("x", [np.ones(3), 2.0, np.float32(2.0)])
def test_a_rule_giving_a_gradient_larger_than_its_operand_is_a_located_error(x):
    """A one-operand function that broadcasts against a constant, whose rule returns the
    result's cotangent as it is: the gradient cannot fit the parameter, which is said
    at the parameter (not a raw TypeError or ValueError from the runtime)."""

    @ad.adjoint(spread)
    def spread_adjoint(dy, y, x):
        return dy

    g = ad.grad(spread_loss)
    for _ in range(2):  # the slow path, then the dispatcher's
        with pytest.raises(ad.AdCompileError, match="broadcasts=True") as info:
            g(x)
        assert info.value.loc.lineno == inspect.getsourcelines(spread_loss)[1]
        assert "shape (2, 3)" in str(info.value)
