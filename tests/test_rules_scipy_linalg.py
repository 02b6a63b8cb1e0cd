"""The adjoint and tangent rules of scipy.linalg: each function against central finite
differences in float64 (batched where scipy is), its jvp against the gradient, its
hvp against differences of the gradient, and float32 in, float32 out where scipy
keeps float32. Symmetric solvers are checked on matrices built symmetric inside the
function (their gradient is the symmetric one, docs/linear-algebra.md), and the
solvers that read one triangle of a matrix are checked with garbage in the other.

Every case of a 2-d matrix runs on any scipy the project supports; the cases that
need a newer scipy (matrices stacked over leading axes, inv(assume_a=)) are marked
so, and skip on an older one, saying why."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

scipy = pytest.importorskip("scipy")

import fuzzcheck  # noqa: E402
import scipy.linalg as sl  # noqa: E402
from helpers import assert_grad_matches_fd  # noqa: E402

import adcompile as ad  # noqa: E402
from adcompile import rules  # noqa: E402
from adcompile.rules import registry  # noqa: E402

rules.load_optional(import_libraries=True)

# solve, solve_triangular, inv and cholesky take a stack of matrices from scipy 1.16 on
# (det and expm before that); older ones refuse an array of more than 2 dimensions
STACKS = pytest.mark.skipif(
    tuple(int(p) for p in scipy.__version__.split(".")[:2]) < (1, 16),
    reason="scipy < 1.16: solve, solve_triangular, inv and cholesky take one 2-d matrix",
)
INV_ASSUME_A = pytest.mark.skipif(
    "assume_a" not in inspect.signature(sl.inv).parameters,
    reason="this scipy's inv has no assume_a (scipy 1.17 added it)",
)
STRUCTURES = pytest.mark.skipif(
    tuple(int(p) for p in scipy.__version__.split(".")[:2]) < (1, 15),
    reason="scipy < 1.15: solve's assume_a is one of gen, sym, her, pos",
)
MATRIX_OR_STACK = [pytest.param((), id="matrix"), pytest.param((2,), id="stack", marks=STACKS)]

RNG = np.random.default_rng(3)
W = RNG.normal(size=64)  # weights of the outputs: every entry matters


def weigh(y):
    return np.sum(np.sin(y) * W[: np.size(y)].reshape(np.shape(y)))


def spd(s):
    """A symmetric positive definite matrix (a stack) from any square ``s``."""
    return s @ np.swapaxes(s, -1, -2) + 3 * np.eye(np.shape(s)[-1])


def well(n, *batch):
    return RNG.normal(size=(*batch, n, n)) * 0.3 + 2 * np.eye(n)


def check(f, *args, wrt=(0,), rtol=1e-6, f32=True, second=True):
    """grad against finite differences, jvp against the gradient, hvp against
    differences of the gradient, float32 gradients of float32 operands."""
    g = assert_grad_matches_fd(f, *args, wrt=wrt, rtol=rtol)
    g = g if isinstance(g, tuple) else (g,)
    v = tuple(RNG.normal(size=np.shape(args[i])) for i in wrt)
    _, t = ad.jvp(f, wrt=wrt)(*args, v)
    assert t == pytest.approx(sum(np.sum(gi * vi) for gi, vi in zip(g, v)), rel=1e-8, abs=1e-10)
    if second:
        assert fuzzcheck.check_hvp(f, list(args), wrt) == "hvp"
    if f32:
        args32 = [a.astype(np.float32) if i in wrt else a for i, a in enumerate(args)]
        g32 = ad.grad(f, wrt=wrt)(*args32)
        g32 = g32 if isinstance(g32, tuple) else (g32,)
        for a, b in zip(g32, g):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3)


# ------------------------------------------------------------------ solve


def solve_general(a, b):
    return weigh(sl.solve(a, b))


def solve_transposed(a, b):
    return weigh(sl.solve(a, b, transposed=True))


def solve_sym_upper(s, b):
    return weigh(sl.solve(spd(s), b, assume_a="sym"))


def solve_pos_lower(s, b):
    return weigh(sl.solve(spd(s), b, assume_a="pos", lower=True))


def solve_lower_triangular(a, b):
    return weigh(sl.solve(a, b, assume_a="lower triangular"))


def solve_diagonal(a, b):
    return weigh(sl.solve(a, b, assume_a="diagonal"))


SOLVES = [solve_general, solve_transposed, solve_sym_upper, solve_pos_lower]


# (the leading axes of a's stack of matrices, the shape of b)
SOLVE_SHAPES = [
    pytest.param((), (3,), id="vector"),
    pytest.param((), (3, 2), id="matrix"),
    pytest.param((2,), (2, 3, 2), id="stack", marks=STACKS),
]


@pytest.mark.parametrize("stack, b_shape", SOLVE_SHAPES)
@pytest.mark.parametrize("f", SOLVES, ids=lambda f: f.__name__)
def test_solve(f, stack, b_shape):
    check(f, well(3, *stack), RNG.normal(size=b_shape), wrt=(0, 1))


@STRUCTURES
@pytest.mark.parametrize("f", [solve_lower_triangular, solve_diagonal], ids=lambda f: f.__name__)
def test_solve_of_a_structured_matrix_reads_its_part(f):
    """The other entries of a (garbage here) get gradient 0, as they change nothing."""
    a, b = well(4) + RNG.normal(size=(4, 4)), RNG.normal(size=(4, 2))
    check(f, a, b, wrt=(0, 1))
    g = ad.grad(f)(a, b)
    unread = np.triu(np.ones((4, 4)), 1) if f is solve_lower_triangular else 1 - np.eye(4)
    assert np.all(g[unread == 1] == 0)


def solve_pos_of(a, b):
    return weigh(sl.solve(a, b, assume_a="pos", lower=True))


def test_a_symmetric_solve_reads_one_triangle():
    """The gradient is the symmetric one, and does not depend on what the unread
    triangle holds."""
    a, b = spd(RNG.normal(size=(3, 3))), RNG.normal(size=3)
    g = ad.grad(solve_pos_of)(a, b)
    garbage = a + np.triu(RNG.normal(size=(3, 3)), 1)
    np.testing.assert_allclose(ad.grad(solve_pos_of)(garbage, b), g, rtol=1e-12)
    np.testing.assert_allclose(g, g.T, rtol=1e-12)


# ------------------------------------------------------------------ solve_triangular


def triangular_lower(a, b):
    return weigh(sl.solve_triangular(a, b, lower=True))


def triangular_upper_transposed(a, b):
    return weigh(sl.solve_triangular(a, b, trans=1))


def triangular_lower_t_unit(a, b):
    return weigh(sl.solve_triangular(a, b, trans="T", lower=True, unit_diagonal=True))


@pytest.mark.parametrize("stack, b_shape", SOLVE_SHAPES)
@pytest.mark.parametrize(
    "f",
    [triangular_lower, triangular_upper_transposed, triangular_lower_t_unit],
    ids=lambda f: f.__name__,
)
def test_solve_triangular(f, stack, b_shape):
    # the unread triangle holds garbage: its gradient is 0, which differences agree with
    a = well(3, *stack) + RNG.normal(size=(*stack, 3, 3)) * 0.5
    check(f, a, RNG.normal(size=b_shape), wrt=(0, 1))


# ------------------------------------------------------------------ inv, det


def inverse(a):
    return weigh(sl.inv(a))


def inverse_pos(s):
    return weigh(sl.inv(spd(s), assume_a="pos"))


def determinant(a):
    return weigh(sl.det(a))


@pytest.mark.parametrize("stack", MATRIX_OR_STACK)
@pytest.mark.parametrize(
    "f", [inverse, pytest.param(inverse_pos, marks=INV_ASSUME_A)], ids=lambda f: f.__name__
)
def test_inv(f, stack):
    check(f, well(3, *stack))


def test_det():
    check(determinant, well(3), f32=False)  # (scipy's det of float32 is float64)
    check(determinant, well(3, 2), f32=False)


# ------------------------------------------------------------------ factorisations


def cholesky_upper(s):
    return weigh(sl.cholesky(spd(s)))


def cholesky_lower(s):
    return weigh(sl.cholesky(spd(s), lower=True))


@pytest.mark.parametrize("stack", MATRIX_OR_STACK)
@pytest.mark.parametrize("f", [cholesky_upper, cholesky_lower], ids=lambda f: f.__name__)
def test_cholesky(f, stack):
    check(f, RNG.normal(size=(*stack, 3, 3)))


def test_cholesky_is_upper_by_default():
    s = spd(RNG.normal(size=(3, 3)))
    assert np.allclose(sl.cholesky(s), np.triu(sl.cholesky(s)))
    g = ad.grad(cholesky_upper)(np.eye(3))
    assert np.isfinite(g).all()


def eigh_vectors(s):
    w, v = sl.eigh(s + s.T)
    return weigh(w) + weigh(v * v)  # (invariant under the vectors' signs)


def eigh_values(s):
    return weigh(sl.eigh(s + s.T, eigvals_only=True))


def eigh_upper(s):
    w, v = sl.eigh(s + s.T, lower=False)
    return weigh(w * w) + np.sum(v[0] ** 2 * W[:3])


@pytest.mark.parametrize("f", [eigh_vectors, eigh_values, eigh_upper], ids=lambda f: f.__name__)
def test_eigh(f):
    check(f, RNG.normal(size=(3, 3)))


def generalized_eigh(a, b):
    return np.sum(sl.eigh(a + a.T, b, eigvals_only=True))


def test_generalized_eigh_is_refused():
    with pytest.raises(ValueError, match="generalized problem"):
        ad.grad(generalized_eigh)(RNG.normal(size=(3, 3)), np.eye(3) * 2)


def svd_thin(a):
    u, s, vh = sl.svd(a, full_matrices=False)
    return weigh(s) + weigh((u * s) @ vh)


def svd_values(a):
    return weigh(sl.svd(a, compute_uv=False))


def singular_values(a):
    return weigh(sl.svdvals(a))


@pytest.mark.parametrize("f", [svd_thin, svd_values, singular_values], ids=lambda f: f.__name__)
def test_svd(f):
    check(f, RNG.normal(size=(4, 3)))
    check(f, RNG.normal(size=(3, 3)))


def qr_full(a):
    q, r = sl.qr(a)
    return weigh(q) + weigh(r)


def qr_economic(a):
    q, r = sl.qr(a, mode="economic")
    return weigh(q) + weigh(r)


def test_qr():
    check(qr_full, RNG.normal(size=(3, 3)))
    check(qr_full, RNG.normal(size=(3, 4)))  # (full q of a wide matrix: square)
    check(qr_economic, RNG.normal(size=(4, 3)))


def qr_pivoting(a):
    q, r, p = sl.qr(a, pivoting=True)
    return np.sum(r)


def test_qr_with_pivoting_is_refused():
    with pytest.raises((ValueError, ad.AdCompileError), match="pivoting|qr"):
        ad.grad(qr_pivoting)(RNG.normal(size=(3, 3)))


def cho_upper(s, b):
    cf = sl.cho_factor(spd(s))
    return weigh(sl.cho_solve(cf, b))


def cho_lower(s, b):
    c, low = sl.cho_factor(spd(s), lower=True)
    return weigh(sl.cho_solve((c, low), b))


def cho_factor_read_whole(s):
    # the other triangle holds a's entries (scipy <= 1.17: their gradient passes to
    # them) or zeros (scipy 1.18: no gradient), as the installed scipy does
    c, low = sl.cho_factor(spd(s))
    return weigh(c)


@pytest.mark.parametrize("f", [cho_upper, cho_lower], ids=lambda f: f.__name__)
def test_cho_factor_and_cho_solve(f):
    check(f, RNG.normal(size=(3, 3)), RNG.normal(size=3), wrt=(0, 1))
    check(f, RNG.normal(size=(3, 3)), RNG.normal(size=(3, 2)), wrt=(0, 1))
    check(cho_factor_read_whole, RNG.normal(size=(3, 3)))


def cho_solve_of(c, b):
    return weigh(sl.cho_solve((c, True), b))


def test_cho_solve_reads_one_triangle_of_the_factor():
    """Garbage in the other triangle gets gradient 0 and changes nothing."""
    c = np.tril(RNG.normal(size=(3, 3))) + 2 * np.eye(3)
    b = RNG.normal(size=3)
    g = ad.grad(cho_solve_of)(c, b)
    assert np.all(np.triu(g, 1) == 0)
    garbage = c + np.triu(RNG.normal(size=(3, 3)), 1)
    np.testing.assert_array_equal(ad.grad(cho_solve_of)(garbage, b), g)
    check(cho_solve_of, garbage, b, wrt=(0, 1))


# ------------------------------------------------------------------ expm


def exponential(a):
    return weigh(sl.expm(a))


def test_expm():
    check(exponential, RNG.normal(size=(3, 3)) * 0.5)
    check(exponential, RNG.normal(size=(2, 3, 3)) * 0.5)
    check(exponential, RNG.normal(size=(1, 1)))


def expm_against(a, g):
    return np.sum(sl.expm(a) * g)


def test_expm_adjoint_is_the_frechet_derivative_at_the_transpose():
    a, g = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 3))
    expected = sl.expm_frechet(a.T, g, compute_expm=False)
    np.testing.assert_allclose(ad.grad(expm_against)(a, g), expected, rtol=1e-10)


# ------------------------------------------------------------------ refused by name


def lu_loss(a, b):
    return np.sum(sl.lu_solve(sl.lu_factor(a), b))


def logm_loss(a):
    return np.sum(sl.logm(a))


@pytest.mark.parametrize(
    "f, hint",
    [(lu_loss, "scipy.linalg.solve"), (logm_loss, "eigh")],
    ids=["lu_solve", "logm"],
)
def test_factorisations_without_rules_are_refused_by_name(f, hint, request):
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(f)(well(3), RNG.normal(size=3)) if f is not logm_loss else ad.grad(f)(well(3))
    assert info.value.reason.startswith(f"sl.{request.node.callspec.id}: ")
    assert hint in info.value.hint


def test_every_scipy_linalg_rule_is_tested():
    tested = {
        id(fn)
        for fn in (sl.solve, sl.solve_triangular, sl.inv, sl.det, sl.cholesky, sl.eigh)
        + (sl.svd, sl.svdvals, sl.qr, sl.expm, sl.cho_factor, sl.cho_solve)
    }
    missing = sorted(
        r.name
        for r in registry.primitives()
        if r.template is not None
        and r.template.__module__ == "adcompile.rules.scipy_linalg"
        and id(r.canonical) not in tested
    )
    assert not missing, f"scipy.linalg rules without a test here: {missing}"
