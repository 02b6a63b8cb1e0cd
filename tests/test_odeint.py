"""scipy.integrate.odeint of a user function, differentiated by the adjoint method: the
gradient with respect to the initial value, the extra arguments (parameters) and the
times, against central finite differences of the solve itself (with tight solver
tolerances, so that the solver's error is far below the differences' step), and the
value against odeint called directly."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy")

from helpers import assert_grad_matches_fd  # noqa: E402
from scipy.integrate import odeint  # noqa: E402

import adcompile as ad  # noqa: E402

TOL = 1e-11
RNG = np.random.default_rng(3)
# (the solver's error, about TOL, is divided by the step of the differences)
CLOSE = {"rtol": 1e-5, "atol": 1e-6, "eps": 1e-4}


def linear(y, t, A):
    return A @ y


def linear_loss(y0, A, t):
    ys = odeint(linear, y0, t, args=(A,), rtol=TOL, atol=TOL)
    return np.sum(ys * ys)


def test_linear_ode_gradient_in_initial_value_matrix_and_times():
    A = 0.5 * RNG.normal(size=(3, 3))
    y0 = RNG.normal(size=3)
    t = np.array([0.0, 0.3, 0.7, 1.2])
    assert_grad_matches_fd(linear_loss, y0, A, t, wrt=(0, 1, 2), **CLOSE)


def test_linear_ode_gradient_against_the_exact_solution():
    """y(t) = expm(A t) y0: the adjoint gradient against the closed form's."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    A = np.array([[-0.5, 1.0], [-1.0, -0.2]])
    y0 = np.array([1.0, -0.5])
    t = np.linspace(0.0, 2.0, 5)
    w = RNG.normal(size=(5, 2))

    def loss(y0):
        return np.sum(w * odeint(linear, y0, t, args=(A,), rtol=TOL, atol=TOL))

    # d/dy0 sum_i w_i . expm(A t_i) y0 = sum_i expm(A t_i)^T w_i
    exact = sum(scipy_linalg.expm(A * ti).T @ wi for ti, wi in zip(t, w, strict=True))
    np.testing.assert_allclose(ad.grad(loss)(y0), exact, rtol=1e-8)


def lotka_volterra(z, t, a, b, c, d):
    x = z[0]
    y = z[1]
    return np.array([a * x - b * x * y, -c * y + d * x * y])


def predator_prey(z0, a, b, c, d):
    t = np.linspace(0.0, 3.0, 7)
    ys = odeint(lotka_volterra, z0, t, args=(a, b, c, d), rtol=TOL, atol=TOL)
    return np.sum(np.log(ys[1:]) ** 2)


def test_lotka_volterra_with_a_tuple_of_parameters():
    args = (np.array([1.0, 0.5]), 1.1, 0.4, 0.9, 0.3)
    grads = assert_grad_matches_fd(predator_prey, *args, wrt=(0, 1, 2, 3, 4), **CLOSE)
    assert all(type(g) is float for g in grads[1:])


def test_value_and_grad_gives_odeints_own_value():
    args = (np.array([1.0, 0.5]), 1.1, 0.4, 0.9, 0.3)
    value, _ = ad.value_and_grad(predator_prey, wrt=(0, 2))(*args)
    assert value == predator_prey(*args)


def decay(y, t, k):
    return -k * y


def scalar_decay(y0, k):
    ys = odeint(decay, y0, np.array([0.0, 0.5, 1.0]), args=(k,), rtol=TOL, atol=TOL)
    return np.sum(np.sin(ys))


@pytest.mark.parametrize("y0", [np.array(0.8), 0.8, np.array([0.8])], ids=["0-d", "float", "1-d"])
def test_initial_value_of_any_shape(y0):
    """odeint makes a 0-d y0 and a number one component: each gradient has y0's type."""
    assert_grad_matches_fd(scalar_decay, y0, 1.3, wrt=(0, 1), **CLOSE)


def forced(t, y, omega, damping=0.3):
    return np.array([y[1], -(omega**2) * y[0] - damping * y[1] + np.cos(t)])


def forced_loss(y0, omega, t):
    ys = odeint(forced, y0, t, args=(omega,), tfirst=True, rtol=TOL, atol=TOL)
    return np.sum(ys[-1] ** 2) + np.sum(ys[:, 0])


def test_time_first_right_hand_side_with_a_default_and_time_dependence():
    """tfirst=True; a parameter left to its default; a right-hand side that depends on
    t itself (the gradient of the first time is then not minus the others' sum)."""
    t = np.array([0.2, 0.9, 1.5, 2.0])
    assert_grad_matches_fd(forced_loss, np.array([0.5, -0.2]), 1.4, t, wrt=(0, 1, 2), **CLOSE)


def packed(y, t, params):
    rate, scale = params
    return scale * np.tanh(rate @ y)


def packed_loss(y0, rate, scale):
    params = (rate, scale)
    ys = odeint(packed, y0, np.linspace(0.0, 1.0, 4), args=(params,), rtol=TOL, atol=TOL)
    return np.sum(ys**2)


def test_parameters_passed_as_one_tuple():
    rate = 0.4 * RNG.normal(size=(2, 2))
    assert_grad_matches_fd(
        packed_loss, np.array([0.3, -0.6]), rate, np.array([1.0, 0.5]), wrt=(0, 1, 2), **CLOSE
    )


def star_params_list_result(z, t, *p):
    a, b = p
    x = z[0]
    y = z[1]
    return [a * x - b * x * y, -y + b * x * y]


def star_loss(z0, a, b):
    rhs = star_params_list_result  # (a variable holding the function)
    ys = odeint(rhs, z0, np.linspace(0.0, 1.0, 4), args=(a, b), rtol=TOL, atol=TOL)
    return np.sum(ys**2)


def test_star_parameters_and_a_list_returned():
    """f(y, t, *p) takes args as one tuple; f returns a list, as scipy allows."""
    assert_grad_matches_fd(star_loss, np.array([1.0, 0.5]), 1.1, 0.4, wrt=(0, 1, 2), **CLOSE)


def test_gradient_through_an_ode_solved_in_a_loop():
    """Two solves chained by a loop, each from the previous end point."""

    def chained(y0, k):
        y = y0
        for _ in range(2):
            y = odeint(decay, y, np.array([0.0, 0.4]), args=(k,), rtol=TOL, atol=TOL)[-1]
        return np.sum(y**2)

    assert_grad_matches_fd(chained, np.array([0.7, -1.2]), 0.8, wrt=(0, 1), **CLOSE)


def test_only_the_parameters_or_only_the_times():
    t = np.array([0.0, 0.4, 1.1])
    A = np.array([[-0.3, 0.8], [-0.8, -0.1]])
    y0 = np.array([1.0, 0.0])
    assert_grad_matches_fd(linear_loss, y0, A, t, wrt=1, **CLOSE)
    assert_grad_matches_fd(linear_loss, y0, A, t, wrt=2, **CLOSE)


def test_the_generated_code_calls_the_adjoint_with_the_pullback_pair():
    source = ad.grad(predator_prey, wrt=(0, 1)).source
    assert "odeint_adjoint(fwd_lotka_volterra, bwd_lotka_volterra" in source
    assert "def bwd_lotka_volterra(" in source


def with_jacobian(y0):
    return np.sum(odeint(decay, y0, np.array([0.0, 1.0]), args=(1.0,), Dfun=jac))


def jac(y, t, k):
    return -k * np.eye(len(y))


def with_full_output(y0):
    ys, info = odeint(decay, y0, np.array([0.0, 1.0]), args=(1.0,), full_output=True)
    return np.sum(ys)


def through_library_function(y0):
    return np.sum(odeint(np.negative, y0, np.array([0.0, 1.0])))


def with_args_not_a_tuple(y0):
    return np.sum(odeint(decay, y0, np.array([0.0, 1.0]), args=[1.0]))


@pytest.mark.parametrize(
    ("f", "reason"),
    [
        (with_jacobian, "odeint's Dfun= is not supported where it is differentiated"),
        (with_full_output, "odeint's full_output= is not supported where it is differentiated"),
        (
            through_library_function,
            "the right-hand side np.negative passed to odeint must be a function defined with "
            "def in your own code",
        ),
        (with_args_not_a_tuple, "odeint's args= must be a tuple"),
    ],
)
def test_what_is_refused_is_refused_where_it_is(f, reason):
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(f)(np.ones(2))
    assert info.value.reason.startswith(reason)
    assert info.value.filename.endswith("test_odeint.py")


def test_forward_mode_is_refused_with_a_located_error():
    with pytest.raises(ad.AdCompileError) as info:
        ad.jvp(scalar_decay, wrt=1)(np.array([0.8]), 1.3, 1.0)
    assert "odeint" in info.value.reason
    assert info.value.filename.endswith("test_odeint.py")


def test_the_exported_gradient_runs_without_adcompile():
    """The exported module defines the right-hand side and its pullback pair (a pair's
    result is a local named after its function, which the module reads as a global)."""
    args = (np.array([1.0, 0.5]), 1.1, 0.4, 0.9, 0.3)
    g = ad.grad(predator_prey, wrt=(0, 2))
    namespace: dict = {}
    exec(compile(g.export(), "exported", "exec"), namespace)
    exported = namespace["grad_predator_prey"](*args)
    for a, b in zip(exported, g(*args), strict=True):
        np.testing.assert_array_equal(a, b)
