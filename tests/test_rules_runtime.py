"""The rules of the runtime helpers (adcompile/rules/runtime_rules.py), which make
generated code differentiable again: each helper called from a function like any
numpy function, its adjoint and its tangent against central differences.

The helpers that fill containers of adjoints have tangent rules only: reverse mode
refuses them (tested below), forward mode differentiates them.
"""

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile.checking import numeric_grad
from adcompile.runtime import (
    abs_complex_adjoint,
    add_adjoint,
    add_at,
    as_list,
    assigned_part,
    broadcast_like,
    copy_adjoint,
    copy_array,
    dot_adjoint_lhs,
    dot_adjoint_rhs,
    expand_reduced,
    fit_axes,
    irfft_adjoint,
    matmul_adjoint_lhs,
    matmul_adjoint_rhs,
    matrix_part,
    part,
    parts,
    placed,
    real_cotangent,
    rfft_adjoint,
    running_max,
    running_min,
    running_tangent,
    scalar_divide,
    scalar_mod,
    scalar_power,
    set_at,
    set_elements,
    spread,
    sum_to,
    unarray,
    unbroadcast,
    uncast,
    unconcatenate,
    uncumsum,
    undiag,
    undiagonal,
    undiff,
    ungradient,
    unindex,
    unpad,
    unpartition,
    unplaced,
    unreduce,
    unrepeat,
    unrollaxis,
    unrunning,
    unsort,
    unstack,
    untile,
    untrace,
    untranspose,
    writable_adjoint,
)

A = np.array([[0.3, -0.7, 1.1], [0.4, 0.9, -0.2]])
B = np.array([[1.2, 0.5, -0.3]])
V = np.array([0.6, -1.3])
M = np.array([[0.5, -0.2], [0.8, 1.4], [-0.6, 0.3]])
T3 = np.arange(12.0).reshape(2, 3, 2) / 10 - 0.4


def f_unbroadcast(a, b):
    return np.sum(unbroadcast(a * a, b) * b)


def f_broadcast_like(b, a):
    return np.sum(broadcast_like(b * b, a) * a)


def f_unreduce(v, a):
    return np.sum(unreduce(v * v, a, 1) * a) + np.sum(unreduce(np.sum(v), a) * a)


def f_unreduce_keepdims(b, a):
    return np.sum(unreduce(np.sin(b), a, 0, True) * a)


def f_expand_reduced(v, a):
    return np.sum(expand_reduced(v * v, 1) * a)


def f_untranspose(a, m):
    return np.sum(untranspose(a * a) * m)


def f_matmul_adjoint_lhs(a, m):
    g = np.tanh(a @ m)
    return np.sum(matmul_adjoint_lhs(g, a, m) ** 2)


def f_matmul_adjoint_rhs(a, m):
    g = np.tanh(a @ m)
    return np.sum(matmul_adjoint_rhs(g, a, m) ** 2)


def f_matmul_adjoint_vectors(v, m):
    g = np.tanh(m @ v)
    return np.sum(matmul_adjoint_lhs(g, m, v) ** 2) + np.sum(matmul_adjoint_rhs(g, m, v) ** 2)


def f_dot_adjoint_lhs(a, m):
    g = np.tanh(np.dot(a, m))
    return np.sum(dot_adjoint_lhs(g, a, m) ** 2)


def f_dot_adjoint_rhs(t, m):
    g = np.tanh(np.dot(t, m))
    return np.sum(dot_adjoint_rhs(g, t, m) ** 2)


def f_scalars(x, y):
    return scalar_divide(x, y) + scalar_power(x, y) + scalar_mod(x * 3.0, y) * x


W5 = np.array([0.2, -0.5, 0.9, 0.4, -0.8])
A2 = A[:, ::-1] + 0.05  # (distinct values: an order that differences do not change)


def f_unindex(a, v):
    return np.sum(unindex(v * v, a, np.s_[0, 1:]) * a) + np.sum(unindex(v, v, np.s_[::-1]) * v)


WHERE = np.array([[5, 0, 2], [7, 2, 3]])  # flat positions: of a (0-5), of another operand


def f_placed(a, v):
    # a's elements at the positions below 6, v's at those from 6 on
    return np.sum(placed(a * a, WHERE, 0) * placed(v, WHERE, 6)) + np.sum(placed(v, WHERE, 0))


def f_unplaced(a, v):
    return np.sum(unplaced(v[:, None] * a, WHERE, 0, a) * a) + np.sum(unplaced(a, WHERE, 6, v) * v)


def f_unstack(a):
    p, q = unstack(a * a, 2)
    r, s, t = unstack(np.sin(a), 3, 1)
    return np.sum(p * q) + np.sum(r * s * t)


def f_unconcatenate(w, v):
    p, q, r = unconcatenate(w * w, (v, v, v[:1]))
    return np.sum(p * v) + np.sum(q * q) + np.sum(r)


def f_uncumsum(a, b):
    return np.sum(uncumsum(a * a, b, 1) * b) + np.sum(uncumsum(np.ravel(a), b) * b)


def f_unrunning(a, b):
    top = running_max(b, 1)
    low = running_min(b, 0)
    return np.sum(unrunning(a * a, b, top, 1) * b) + np.sum(running_tangent(np.sin(a), b, low) ** 2)


def f_undiff(v, w):
    return np.sum(undiff(v * v, 1) ** 2) + np.sum(undiff(w * v[0], 2) * np.arange(7.0))


def f_unsort(a, b):
    return np.sum(unsort(a * a, b, -1) * b) + np.sum(unsort(np.ravel(a), b, None) ** 2)


def f_unpartition(a, b):
    return np.sum(unpartition(a * a, b, 1, -1) * b)


def f_undiag(v):
    m = np.outer(v, v)
    return np.sum(undiag(m * m, v) ** 2) + np.sum(undiag(v * v, m) * m)


def f_undiagonal(v):
    m = np.outer(v, v)
    return np.sum(undiagonal(v * v, m) * m)


def f_untrace(v):
    m = np.outer(v, v)
    return np.sum(untrace(np.sum(v * v), m) * m)


def f_unrepeat(v):
    return np.sum(unrepeat(np.concatenate([v, v]) * v[0], v, 2) ** 2)


def f_untile(v):
    return np.sum(untile(np.concatenate([v, v]) * v[1], v, 2) ** 2)


def f_unpad(v):
    return np.sum(unpad(np.concatenate([v, v]) ** 2, v, 1) * v)


def f_uncast(v):
    return np.sum(uncast(v * v, v, "float64") + uncast(v, v, "int64") * v)


def f_unrollaxis(m, a):
    return np.sum(unrollaxis(m * m, a, 1) * a)


def f_real_cotangent(v):
    return np.sum(real_cotangent(v * v, v) * v)


def f_sum_to(t, m):
    return np.sum(sum_to(t * t, m) * m)


def f_matrix_part(m, a):
    # the symmetric part, a triangle without its diagonal, the three diagonals
    sq = np.sin(np.outer(m[:, 0], m[:, 1]) + a[0, 0] * m[:, :1])
    return (
        np.sum(np.tanh(matrix_part(sq, "pos")) * W5[:3])
        + np.sum(matrix_part(sq * sq, "triangular", True, True) * W5[1:4])
        + np.sum(matrix_part(sq, "tridiagonal") ** 2)
    )


def f_unarray(v):
    p, q = unarray(v * v, (v[0], v[1]))
    return p * q + np.sum(unarray(v, v) * v)


def f_fit_axes(a, m):
    # cut along the last axis, then padded along the first
    return np.sum(np.tanh(fit_axes(a * a, m[:, :1], (1,))) ** 2) + np.sum(
        fit_axes(a, np.zeros((4, 3)), (0,)) * np.sin(np.arange(12.0).reshape(4, 3))
    )


def f_ungradient(v, s):
    return np.sum(ungradient(np.tanh(v), W5, s) ** 2) + np.sum(ungradient(v, W5, s) * W5)


X8 = np.array([0.4, -1.1, 0.7, 0.2, -0.5, 1.3, 0.9, -0.3])


def f_rfft_adjoint(x, w):
    # the transposed rfft of a complex cotangent: real, differentiable in the cotangent
    g = np.fft.rfft(x * x) * w[:5]
    return np.sum(rfft_adjoint(g, x, (8,), (-1,), None) * np.sin(w))


def f_irfft_adjoint(x, w):
    spectrum = np.fft.rfft(w)  # read for its shape and kind only
    return np.sum(np.abs(irfft_adjoint(np.tanh(x) * w, spectrum, (8,), (-1,), None)) ** 2)


def f_abs_complex_adjoint(x, w):
    z = np.fft.fft(x * w)
    y = np.abs(z)
    return np.sum(np.abs(abs_complex_adjoint(np.sin(w) * y, z, y)) ** 2)


# the element writes of a gradient, read back (regenerate.py): on new arrays
def f_set_elements(a, b):
    c = set_elements(a * 1.0, np.s_[1:3], b[:2] * a[0])
    return np.sum(c * c * b)


def f_assigned_part(a, b):
    c = assigned_part(a * b, np.array([0, 2, 0]), b[:3])  # (index 0 written twice)
    return np.sum(c * c)


def f_copy_array(a, b):
    c = copy_array(a * b)
    return np.sum(c * a)


def f_writable_adjoint(a, b):
    c = writable_adjoint(a[:1] * b[0], b)
    return np.sum(c * b)


CASES = [
    (f_set_elements, (X8[:4], X8[::-1][:4] + 0.1)),
    (f_assigned_part, (X8[:4], X8[::-1][:4] + 0.1)),
    (f_copy_array, (V, V[::-1])),
    (f_writable_adjoint, (X8[:4], X8[::-1][:4] + 0.1)),
    (f_rfft_adjoint, (X8, X8[::-1] + 0.1)),
    (f_irfft_adjoint, (X8, X8[::-1] + 0.1)),
    (f_abs_complex_adjoint, (X8, X8[::-1] + 0.1)),
    (f_fit_axes, (A, M)),
    (f_ungradient, (W5, 0.7)),
    (f_unindex, (A, V)),
    (f_placed, (A, V)),
    (f_unplaced, (A, V)),
    (f_unstack, (A,)),
    (f_unconcatenate, (W5, V)),
    (f_uncumsum, (A, A2)),
    (f_unrunning, (A, A2)),
    (f_undiff, (V, W5)),
    (f_unsort, (A, A2)),
    (f_unpartition, (A, A2)),
    (f_undiag, (V,)),
    (f_undiagonal, (V,)),
    (f_untrace, (V,)),
    (f_unrepeat, (V,)),
    (f_untile, (V,)),
    (f_unpad, (V,)),
    (f_uncast, (V,)),
    (f_unrollaxis, (M, A)),
    (f_real_cotangent, (V,)),
    (f_sum_to, (T3, M)),
    (f_matrix_part, (M, A)),
    (f_unarray, (V,)),
    (f_unbroadcast, (A, B)),
    (f_broadcast_like, (B, A)),
    (f_unreduce, (V, A)),
    (f_unreduce_keepdims, (B, A)),
    (f_expand_reduced, (V, A)),
    (f_untranspose, (A, M)),
    (f_matmul_adjoint_lhs, (A, M)),
    (f_matmul_adjoint_rhs, (A, M)),
    (f_matmul_adjoint_vectors, (V, M)),
    (f_dot_adjoint_lhs, (A, M)),
    (f_dot_adjoint_rhs, (T3, M[:2])),
    (f_scalars, (0.7, 1.3)),
]


def f_add_adjoint(a, b):
    c = add_adjoint([a, b], [b * b, a])
    return np.sum(c[0] * c[1])


def f_as_list(a, b):
    c = as_list((a, b * a))
    return np.sum(c[1] * c[0])


def f_copy_adjoint(a, b):
    c = copy_adjoint([a * b, b])
    return np.sum(c[0] * c[1])


def f_part(a, b):
    c = part([a * b, None], 0, a)
    d = part([a * b, None], 1, a)
    return np.sum(c * c) + np.sum(d)


def f_parts(a, b):
    c = parts([a * b, b, a], 2)
    return np.sum(c[0] * c[1])


def f_add_at(a, b):
    c = add_at(copy_adjoint([a, b]), 1, b * a)
    return np.sum(c[0] * c[1])


def f_set_at(a, b):
    c = set_at(copy_adjoint([a, b]), 1, b * a)
    return np.sum(c[0] * c[1])


def f_spread(a, b):
    c = spread(a * 2.0, [b, b[0]])
    return np.sum(c[0] * c[0]) + np.sum(c[1] * b)


CONTAINER_CASES = [
    (f_add_adjoint, (V, V[::-1])),
    (f_as_list, (V, V[::-1])),
    (f_copy_adjoint, (V, V[::-1])),
    (f_part, (V, V[::-1])),
    (f_parts, (V, V[::-1])),
    (f_add_at, (V, V[::-1])),
    (f_set_at, (V, V[::-1])),
    (f_spread, (V, V[::-1])),
]
TANGENT_CASES = CASES + CONTAINER_CASES  # (read by tests/test_forward.py)


@pytest.mark.parametrize(("f", "args"), CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_adjoint_rules_of_runtime_helpers(f, args):
    for w in range(len(args)):
        assert_grad_matches_fd(f, *args, wrt=w, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("f", "args"), TANGENT_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_tangent_rules_of_runtime_helpers(f, args):
    rng = np.random.default_rng(0)
    for w in range(len(args)):
        t = rng.normal(size=np.shape(args[w])) if np.shape(args[w]) else float(rng.normal())
        value, tangent = ad.jvp(f, wrt=w)(*args, t)
        assert value == pytest.approx(f(*args), rel=1e-12)
        expected = float(np.sum(numeric_grad(f, list(args), w, 1e-6) * t))
        assert tangent == pytest.approx(expected, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize(("f", "args"), CONTAINER_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_reverse_mode_refuses_the_helpers_that_fill_container_adjoints(f, args):
    refused = 0
    for w in range(len(args)):
        try:
            assert_grad_matches_fd(f, *args, wrt=w)
        except ad.AdCompileError as exc:
            assert "ad.hvp(f)" in exc.hint
            assert exc.loc is not None and exc.loc.lineno > 0
            refused += 1
    assert refused >= 1  # (a gradient that does not go through one is right)


def test_the_other_helpers_are_refused_by_name():
    from adcompile.runtime import prod_adjoint

    def f(x):
        return np.sum(prod_adjoint(x, x))

    with pytest.raises(ad.AdCompileError, match="prod_adjoint.*higher-order"):
        ad.grad(f)(V)


def abs_times(x):
    return np.sum(np.abs(x) * x * x)


def test_second_derivatives_through_abs():
    """abs's derivative (abs_sign) is piecewise constant: the Hessian-vector product
    of a function with abs is differentiated, and matches differences of the gradient."""
    x = np.array([1.5, -0.7, 2.0])
    v = np.array([0.3, -1.0, 0.5])
    got = ad.hvp(abs_times)(x, v)
    h = 1e-6
    grad = ad.grad(abs_times)
    want = (grad(x + h * v) - grad(x - h * v)) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
