"""The adjoint rules of numpy.linalg, checked against central finite differences
and against autograd where it has the function.

Each test function is an ordinary ``def`` of the form ``return np.sum(<linalg call>
* c)`` (random weights ``c``, see tests/test_rules.py), or a sum of such terms for
a function with several results. Symmetric or positive-definite inputs are built
inside the function from a free matrix (``X @ X.T + n I``), so that finite
differences move through valid inputs only; losses of eigenvectors and singular
vectors are invariant to their signs, which numpy does not fix. The functions are
read by ``test_every_rule_is_tested`` in tests/test_rules.py.
"""

import re
import types

import autograd
import autograd.numpy as anp
import fuzzcheck
import numpy as np
import pytest
from helpers import assert_grad_matches_fd
from test_rules import weights

import adcompile as ad
from adcompile.runtime import (
    abs_sign,
    eig_adjoint,
    grad_like,
    norm_adjoint,
    svd_adjoint,
    unbroadcast,
)


def check(f, *args, wrt=0, autograd_too=True, **tol):
    """``f(*args, c)`` against finite differences, and against autograd if asked."""
    c = weights(f, *args)
    g = assert_grad_matches_fd(f, *args, c, wrt=wrt, **{"rtol": 1e-5, "atol": 1e-7, **tol})
    if autograd_too:
        under_autograd = types.FunctionType(f.__code__, {**f.__globals__, "np": anp})
        expected = autograd.grad(under_autograd, wrt)(*args, c)
        pairs = zip(g, expected, strict=True) if isinstance(wrt, tuple) else [(g, expected)]
        for mine, theirs in pairs:
            np.testing.assert_allclose(mine, theirs, rtol=1e-7, atol=1e-9, err_msg="autograd")
    return g


def free(rng, *shape):
    return rng.uniform(-1.0, 1.0, shape)


def well_conditioned(rng, *shape):
    """Matrices near 3 I: invertible, with distinct eigenvalues."""
    n = shape[-1]
    return rng.uniform(-1.0, 1.0, shape) + 3.0 * np.eye(n) + np.diag(np.arange(n) * 0.7)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def spd(x):
    """A positive-definite matrix (or stack of them) made from a free one."""
    return x @ np.swapaxes(x, -1, -2) + 3.0 * np.eye(np.shape(x)[-1])


def sym(x):
    return x + np.swapaxes(x, -1, -2)


# ------------------------------------------------------------ inverse, det, solve


def inv_(a, c):
    return np.sum(np.linalg.inv(a) * c)


def pinv_(a, c):
    return np.sum(np.linalg.pinv(a) * c)


def det_(a, c):
    return np.sum(np.linalg.det(a) * c)


def slogdet_unpacked(a, c):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(logdet * c) + np.sum(sign)


def slogdet_fields(a, c):
    result = np.linalg.slogdet(a)
    return np.sum(result.logabsdet * c) + np.sum(result.sign)


def slogdet_indexed(a, c):
    return np.sum(np.linalg.slogdet(a)[1] * c)


def solve_(a, b, c):
    return np.sum(np.linalg.solve(a, b) * c)


def matrix_power_3(a, c):
    return np.sum(np.linalg.matrix_power(a, 3) * c)


def matrix_power_0(a, c):
    return np.sum(np.linalg.matrix_power(a, 0) * c) + np.sum(a * c)


def matrix_power_negative(a, c):
    return np.sum(np.linalg.matrix_power(a, -2) * c)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (2, 1, 4, 4)])
def test_inverse_and_determinants(rng, shape):
    a = well_conditioned(rng, *shape)
    check(inv_, a)
    check(det_, a)
    check(slogdet_unpacked, a)
    check(slogdet_indexed, a)
    check(slogdet_fields, a, autograd_too=False)  # (autograd's tuples have no names)
    # a negative determinant: the sign is piecewise constant, logdet still differentiable
    flipped = a[..., ::-1, :].copy()
    check(slogdet_unpacked, flipped)
    check(det_, flipped)


SINGULAR = [
    np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),  # rank 2
    np.outer([1.0, 2.0, 3.0], [1.0, 0.0, 2.0]),  # rank 1
]


@pytest.mark.parametrize("a", SINGULAR, ids=["rank 2", "rank 1"])
def test_det_of_a_singular_matrix_is_the_cofactor_matrix(rng, a):
    """det is a polynomial: at a singular matrix, where there is no inverse, its
    gradient is still the cofactor matrix (finite differences see it too)."""
    assert np.linalg.det(a) == 0.0
    check(det_, a, autograd_too=False)
    check(det_, np.stack([a, well_conditioned(rng, 3, 3)]), autograd_too=False)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (4, 2), (2, 3, 5)])
def test_pinv(rng, shape):
    a = free(rng, *shape) + np.eye(*shape[-2:])
    check(pinv_, a)


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((3, 3), (3,)),
        ((3, 3), (3, 2)),
        ((2, 3, 3), (2, 3, 4)),
        ((2, 3, 3), (3, 2)),
        ((2, 3, 3), (3,)),
    ],
)
def test_solve(rng, a_shape, b_shape):
    a, b = well_conditioned(rng, *a_shape), free(rng, *b_shape)
    # (autograd's rule does not sum back over broadcast batch axes)
    check(solve_, a, b, wrt=(0, 1), autograd_too=len(a_shape) == len(b_shape))


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (3, 2)), ((3, 3), (2, 3, 2))],
)
def test_solve_tangent_with_batches_and_vectors(rng, a_shape, b_shape):
    # a b of one axis is one vector for every matrix of a batch: x is a stack of vectors
    a, b = well_conditioned(rng, *a_shape), free(rng, *b_shape)
    c = weights(solve_, a, b)
    da, db = free(rng, *a_shape), free(rng, *b_shape)
    _, slope = ad.jvp(solve_, wrt=(0, 1))(a, b, c, (da, db))
    eps = 1e-6
    moved = [solve_(a + s * eps * da, b + s * eps * db, c) for s in (1.0, -1.0)]
    np.testing.assert_allclose(slope, (moved[0] - moved[1]) / (2 * eps), rtol=1e-6)


def test_solve_adjoint_solves_with_the_transpose_and_never_inverts():
    source = ad.grad(solve_, wrt=(0, 1)).source
    assert "solve_transposed" in source and "inv" not in source


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_matrix_power(rng, shape):
    a = well_conditioned(rng, *shape) / 3.0
    check(matrix_power_3, a, autograd_too=False)
    check(matrix_power_0, a, autograd_too=False)
    check(matrix_power_negative, a, autograd_too=False)


# -------------------------------------------------------------- factorisations


def cholesky_(x, c):
    return np.sum(np.linalg.cholesky(spd(x)) * c)


def cholesky_upper(x, c):
    return np.sum(np.linalg.cholesky(spd(x), upper=True) * c)


def eigh_values(x, c):
    return np.sum(np.linalg.eigh(sym(x))[0] * c)


def eigh_both(x, c):
    w, v = np.linalg.eigh(sym(x))
    return np.sum(w * w) + np.sum(v * v * c)


def named_fields(x, c):
    s = sym(x)
    v = np.linalg.eigh(s).eigenvectors
    qr = np.linalg.qr(s)
    usv = np.linalg.svd(s, full_matrices=False)
    return (
        np.sum(np.linalg.eigh(s).eigenvalues * c[0])
        + np.sum(v * v * c)
        + np.sum(qr.R * c)
        + np.sum(usv.S * c[1])
        + np.sum(usv.U * usv.U * c)
    )


def test_named_fields_of_results(rng):
    """numpy's named tuples: np.linalg.eigh(a).eigenvalues is np.linalg.eigh(a)[0]."""
    x = free(rng, 3, 3)
    assert_grad_matches_fd(named_fields, x, rng.uniform(0.5, 1.5, (3, 3)), rtol=1e-5, atol=1e-7)


def eigh_upper(x, c):
    w, v = np.linalg.eigh(sym(x), UPLO="U")
    return np.sum(w) + np.sum(v * v * c)


def eig_(a, c):
    # np.real: numpy 2.5 returns real eigenvalues and eigenvectors as complex arrays
    w, v = np.linalg.eig(a)
    return np.sum(np.real(w * w)) + np.sum(np.real(v * v * c))


def eigvalsh_(x, c):
    return np.sum(np.linalg.eigvalsh(sym(x)) * c)


def eigvals_(a, c):
    return np.sum(np.linalg.eigvals(a).real * c)


def svdvals_(a, c):
    return np.sum(np.linalg.svdvals(a) * c)


def test_eigenvalues_and_singular_values_alone(rng):
    x = free(rng, 2, 3, 3)
    check(eigvalsh_, x, autograd_too=False)
    check(svdvals_, free(rng, 2, 4, 3), autograd_too=False)
    check(
        eigvals_,
        well_conditioned(rng, 2, 3, 3) * 0.3 + np.diag([0.0, 2.0, 4.0]),
        autograd_too=False,
    )


def svd_values(a, c):
    return np.sum(np.linalg.svd(a, compute_uv=False) * c)


def svd_full(a, c):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(u * u * c[0]) + np.sum(s * s) + np.sum(vh * vh * c[1])


def qr_(a, c):
    q, r = np.linalg.qr(a)
    return np.sum(q * c[0]) + np.sum(r * c[1])


def qr_r(a, c):
    return np.sum(np.linalg.qr(a, mode="r") * c)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_cholesky(rng, shape):
    x = free(rng, *shape)
    check(cholesky_, x)
    check(cholesky_upper, x, autograd_too=False)  # autograd has no upper=


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eigh(rng, shape):
    x = free(rng, *shape)
    check(eigh_values, x)
    check(eigh_both, x)
    check(eigh_upper, x, autograd_too=False)  # autograd has no UPLO=


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_eig_with_real_eigenvalues(rng, shape):
    a = well_conditioned(rng, *shape) * 0.3 + np.diag([0.0, 2.0, 4.0])
    assert np.all(np.imag(np.linalg.eig(a)[0]) == 0)  # real, whatever the dtype
    check(eig_, a, autograd_too=False)  # autograd's eig rule is complex-only


def eig_abs(a, c):
    return np.sum(np.abs(np.linalg.eig(a)[0]) * c)


def test_eig_with_complex_eigenvalues_is_refused():
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(TypeError, match="np.abs of a complex value"):
        ad.grad(eig_abs)(rotation, np.ones(2))
    with pytest.raises(ValueError, match="returned complex eigenvalues"):
        ad.grad(eig_)(rotation, np.ones((2, 2)))  # w * w and v * v are real here
    with pytest.raises(TypeError, match="np.real of a complex value"):
        ad.grad(eigvals_)(rotation, np.ones(2))


def eig_complex_dtype(a):
    """np.linalg.eig's results as numpy 2.5 and later return them for a real matrix
    with real eigenvalues: complex arrays with zero imaginary parts."""
    w, v = np.linalg.eig(a)
    return w.astype(complex), v.astype(complex)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_eig_adjoint_is_the_same_for_real_and_complex_results(rng, shape):
    """The adjoint takes eig's results (and cotangents) as real whichever dtype numpy
    returns them in, so the gradient is the same on every numpy version."""
    a = well_conditioned(rng, *shape) * 0.3 + np.diag([0.0, 2.0, 4.0])
    y = np.linalg.eig(a)
    real = (np.real(y[0]), np.real(y[1]))
    dw, dv = free(rng, *shape[:-1]), free(rng, *shape)
    expected = eig_adjoint([dw, dv], real)
    assert expected.dtype == np.float64
    for cotangents in ([dw, dv], [dw.astype(complex), dv.astype(complex)], [None, dv]):
        got = eig_adjoint(cotangents, eig_complex_dtype(a))
        assert got.dtype == np.float64
        want = expected if cotangents[0] is not None else eig_adjoint([None, dv], real)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="complex cotangent for its eigenvalues"):
        eig_adjoint([dw + 1j, dv], eig_complex_dtype(a))


def eigvals_times(a, x):
    w = np.linalg.eigvals(a)
    y = np.sum(np.real(w * x))
    return y + np.sum(x * x)


def eigvals_times_later(a, x):
    y = np.sum(x * x)
    z = np.linalg.eigvals(a) * x + x
    return y + np.sum(z.real) + np.sum(z.imag)


def eigvals_times_scalar(a, s):
    return np.sum(np.real(np.linalg.eigvals(a) * s)) * s


@pytest.mark.parametrize("f", [eigvals_times, eigvals_times_later])
def test_eigenvalues_meet_real_arrays(rng, f):
    """Eigenvalues (complex arrays in numpy 2.5) multiplying real parameters: the
    parameters' cotangents are real, in whichever order they are summed."""
    a = well_conditioned(rng, 3, 3) * 0.3 + np.diag([0.0, 2.0, 4.0])
    x = free(rng, 3)
    ga, gx = assert_grad_matches_fd(f, a, x, wrt=(0, 1), rtol=1e-5, atol=1e-7)
    assert ga.dtype == gx.dtype == np.float64
    gs = assert_grad_matches_fd(eigvals_times_scalar, a, 0.7, wrt=1, rtol=1e-5, atol=1e-7)
    assert type(gs) is float


def test_complex_cotangents_of_real_values():
    """unbroadcast and grad_like give a real value the real part of a complex cotangent
    with zero imaginary parts, and refuse one with a nonzero imaginary part."""
    x = np.ones((2, 3))
    g = np.full((4, 2, 3), 1.0 + 0j)
    for out in (unbroadcast(g, x), unbroadcast(g[0], x), unbroadcast(1.0 + 0j, 2.0)):
        assert not np.iscomplexobj(out)
    assert grad_like(np.full((2, 3), 2.0 + 0j), x).dtype == np.float64
    assert grad_like(np.complex128(2.0), 1.0) == 2.0
    with pytest.raises(TypeError, match="nonzero imaginary part"):
        unbroadcast(g + 1j, x)
    with pytest.raises(TypeError, match="nonzero imaginary part"):
        grad_like(np.full((2, 3), 1j), x)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 5), (2, 4, 3)])
def test_svd(rng, shape):
    a = free(rng, *shape)
    check(svd_values, a)
    k = min(shape[-2:])
    c = [
        rng.uniform(0.5, 1.5, shape[:-1] + (k,)),
        rng.uniform(0.5, 1.5, shape[:-2] + (k, shape[-1])),
    ]
    assert_grad_matches_fd(svd_full, a, c, rtol=1e-5, atol=1e-7)
    under_autograd = types.FunctionType(svd_full.__code__, {**svd_full.__globals__, "np": anp})
    np.testing.assert_allclose(
        ad.grad(svd_full)(a, c), autograd.grad(under_autograd)(a, c), rtol=1e-7, atol=1e-9
    )


def test_svd_with_full_matrices_of_a_rectangular_matrix_is_refused(rng):
    c = [np.ones((4, 4)), np.ones((3, 3))]
    with pytest.raises(ValueError, match="full_matrices=False"):
        ad.grad(svd_default)(free(rng, 4, 3), c)


def test_svd_with_full_matrices_and_only_singular_values_used(rng):
    a = free(rng, 4, 3)
    check(svd_values_of_full, a, autograd_too=False)  # autograd refuses full_matrices


def svd_values_of_full(a, c):
    return np.sum(np.linalg.svd(a)[1] * c)


def svd_default(a, c):
    u, s, vh = np.linalg.svd(a)
    return np.sum(u * u * c[0]) + np.sum(vh * vh * c[1])


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 5), (2, 4, 3)])
def test_qr(rng, shape):
    a = free(rng, *shape) + np.eye(*shape[-2:])
    m, n = shape[-2:]
    k = min(m, n)
    c = [rng.uniform(0.5, 1.5, shape[:-1] + (k,)), rng.uniform(0.5, 1.5, shape[:-2] + (k, n))]
    assert_grad_matches_fd(qr_, a, c, rtol=1e-5, atol=1e-7)
    check(qr_r, a, autograd_too=False)


# ------------------------------------------------------------ lstsq, multi_dot


def lstsq_(a, b, c):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return np.sum(x * c)


def lstsq_all(a, b, c):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return np.sum(x * c) + np.sum(residuals) + np.sum(s * s)


def multi_dot_(a, b, d, c):
    return np.sum(np.linalg.multi_dot([a, b, d]) * c)


@pytest.mark.parametrize("b_shape", [(5,), (5, 2)])
def test_lstsq(rng, b_shape):
    a, b = free(rng, 5, 3) + np.eye(5, 3), free(rng, *b_shape)
    check(lstsq_, a, b, wrt=(0, 1), autograd_too=False)
    check(lstsq_all, a, b, wrt=(0, 1), autograd_too=False)


@pytest.mark.parametrize(
    "shapes", [((2, 3), (3, 4), (4, 2)), ((3,), (3, 4), (4, 2)), ((2, 3), (3, 4), (4,))]
)
def test_multi_dot(rng, shapes):
    args = [free(rng, *s) for s in shapes]
    check(multi_dot_, *args, wrt=(0, 1, 2), autograd_too=False)


# ---------------------------------------------------------------------- norms


def norm_(x, c):
    return np.sum(np.linalg.norm(x) * c)


def norm_axis(x, c):
    return np.sum(np.linalg.norm(x, axis=-1) * c)


def norm_of(x, ord, axis, keepdims, c):
    return np.sum(np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims) * c)


VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1.5]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", [((5,), None), ((3, 4), 1), ((2, 3, 4), 0), ((3, 4), -2)])
def test_vector_norms(rng, ord, keepdims, shape, axis):
    x = free(rng, *shape)
    check(norm_of, x, ord, axis, keepdims, autograd_too=False)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", [((3, 4), None), ((2, 3, 4), (1, 2)), ((3, 2, 4), (2, 0))])
def test_matrix_norms(rng, ord, keepdims, shape, axis):
    x = free(rng, *shape)
    check(norm_of, x, ord, axis, keepdims, autograd_too=False)


def vector_norm_(x, axis, keepdims, ord, c):
    return np.sum(np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord) * c)


def matrix_norm_(x, keepdims, ord, c):
    return np.sum(np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord) * c)


@pytest.mark.parametrize("ord", [2, 1, np.inf, -np.inf, 0, 3])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 1, (0, 2), (2, 0), -1])
def test_vector_norm(rng, ord, keepdims, axis):
    check(vector_norm_, free(rng, 2, 3, 4), axis, keepdims, ord, autograd_too=False)


@pytest.mark.parametrize("ord", MATRIX_ORDS[1:])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norm(rng, ord, keepdims):
    check(matrix_norm_, free(rng, 2, 3, 4), keepdims, ord, autograd_too=False)


def test_norms_agree_with_autograd(rng):
    x = free(rng, 3, 4)
    check(norm_, x)
    check(norm_axis, x)
    for ord in [None, 2]:  # (the vector orders autograd has)
        check(norm_of, x[0], ord, None, False)
    for ord in [None, "fro", "nuc"]:
        check(norm_of, x, ord, None, False)


def test_norm_of_zero_has_gradient_zero():
    zero = np.zeros((3, 4))
    for ord in [None, 2, 3, 0.5]:
        assert np.all(ad.grad(norm_of)(zero[0], ord, None, False, 1.0) == 0.0)
    for ord in MATRIX_ORDS[:3] + [2, -2]:
        assert np.all(ad.grad(norm_of)(zero, ord, None, False, 1.0) == 0.0)


def test_norm_ties_share_the_cotangent():
    x = np.array([3.0, -3.0, 1.0])
    np.testing.assert_array_equal(ad.grad(norm_of)(x, np.inf, None, False, 1.0), [0.5, -0.5, 0])


# --------------------------------------------------- conventions, precision


def test_eigh_at_a_repeated_eigenvalue():
    """Eigenvalues alone keep a gradient at a repeated eigenvalue; eigenvectors have
    none there, and their gradient is not finite."""
    x = np.eye(3)  # sym(x) = 2 I: one eigenvalue three times
    g = ad.grad(eigh_values)(x, np.ones(3))
    np.testing.assert_allclose(g, 2 * np.eye(3))  # d trace(X + X.T) / dX
    with np.errstate(all="ignore"):
        g = ad.grad(eigh_both)(x, np.arange(9.0).reshape(3, 3))
    assert not np.all(np.isfinite(g))


ONE_MATRIX = [
    inv_,
    pinv_,
    det_,
    slogdet_unpacked,
    matrix_power_3,
    matrix_power_negative,
    cholesky_,
    cholesky_upper,
    eigh_both,
    eig_,
    svd_values,
    qr_r,
    norm_,
    norm_axis,
]


@pytest.mark.parametrize("f", ONE_MATRIX, ids=lambda f: f.__name__)
def test_float32_in_float32_out(rng, f):
    x = well_conditioned(rng, 2, 3, 3) / 3.0 if f is not eig_ else well_conditioned(rng, 3, 3)
    c = weights(f, x)
    g64 = ad.grad(f)(x, c)
    g32 = ad.grad(f)(x.astype(np.float32), np.asarray(c, dtype=np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("f, b_shape", [(solve_, (3,)), (solve_, (3, 2)), (lstsq_, (3, 2))])
def test_float32_in_float32_out_with_two_operands(rng, f, b_shape):
    a, b = well_conditioned(rng, 3, 3) / 3.0, free(rng, *b_shape)
    c = weights(f, a, b)
    g64 = ad.grad(f, wrt=(0, 1))(a, b, c)
    g32 = ad.grad(f, wrt=(0, 1))(a.astype(np.float32), b.astype(np.float32), c.astype(np.float32))
    for mine, wide in zip(g32, g64, strict=True):
        assert mine.dtype == np.float32
        np.testing.assert_allclose(mine, wide, rtol=2e-3, atol=2e-3)


def test_svd_compute_uv_must_be_a_constant(rng):
    def f(a, uv):
        return np.sum(np.linalg.svd(a, compute_uv=uv)[0])

    with pytest.raises(ad.AdCompileError, match="compute_uv= must be a constant"):
        ad.grad(f)(free(rng, 3, 3), True)


# ------------------------------------------- tuple results through the language


def eigh_of_sum(a):
    return np.linalg.eigh(a + a.T)


def through_a_helper(x, c):
    w, v = eigh_of_sum(x)
    return np.sum(w * c[0])


def in_a_loop(x, c):
    total = 0.0
    for i in range(3):
        sign, logdet = np.linalg.slogdet(x + (i + 3.0) * np.eye(3))
        total = total + logdet * c[i, 0]
    return total


def in_a_branch(x, c):
    if np.sum(x) > 0:
        factors = np.linalg.qr(x)
    else:
        factors = np.linalg.qr(x.T)
    return np.sum(factors[1] * c)


def kept_whole(x, c):
    result = np.linalg.svd(x, full_matrices=False)
    u, s, vh = result
    return np.sum(s * c[0]) + np.sum(result[0] * result[0] * c)


@pytest.mark.parametrize("f", [through_a_helper, in_a_loop, in_a_branch, kept_whole])
def test_tuple_results_through_calls_loops_and_branches(rng, f):
    x = free(rng, 3, 3) + np.eye(3)
    for sign in (1.0, -1.0):  # both branches of in_a_branch
        assert_grad_matches_fd(f, sign * x, rng.uniform(0.5, 1.5, (3, 3)), rtol=1e-5, atol=1e-7)


def test_vjp_of_a_tuple_result(rng):
    """A function that returns eigh's tuple: its vjp takes one cotangent per element."""
    x = free(rng, 3, 3)
    dw, dv = rng.normal(size=3), rng.normal(size=(3, 3))

    def weighted(a):  # <(dw, dv), eigh(a + a.T)> under autograd (the same v as numpy's)
        w, v = anp.linalg.eigh(a + a.T)
        return anp.sum(w * dw) + anp.sum(v * dv)

    g = ad.vjp(eigh_of_sum)(x, (dw, dv))
    np.testing.assert_allclose(g, autograd.grad(weighted)(x), rtol=1e-8, atol=1e-10)


def test_the_linalg_helpers_are_runtime_helpers():
    """runtime.HELPERS lists every public helper (the reverse package and export.py read it),
    the linear-algebra ones at the end of the module included."""
    from adcompile import runtime

    for name in ("eigh_adjoint", "svd_adjoint", "norm_adjoint", "solve_transposed", "mT"):
        assert runtime.HELPERS[name] is getattr(runtime, name)


def abs_of_root_of_eigenvalues(a):
    return np.sum(np.abs(np.sqrt(np.linalg.eigvals(a))))


def test_abs_of_a_complex_value_with_an_imaginary_part_is_refused():
    """numpy 2.5's eigenvalues are complex: the square root of a negative one has an
    imaginary part, where abs is not the real function its rule differentiates (the
    gradient would have the wrong sign); with real eigenvalues (older numpy) it is
    NaN, as is the function's value."""
    np.testing.assert_array_equal(abs_sign(np.array([-2.0 + 0j, 3.0 + 0j])), [-1.0, 1.0])
    assert not np.iscomplexobj(abs_sign(np.array([-2.0 + 0j])))
    with pytest.raises(TypeError, match="np.abs of a complex value"):
        abs_sign(np.array([2j]))
    a = np.diag([-4.0, 1.0, 9.0]) + 0.01 * np.arange(9.0).reshape(3, 3)
    if np.iscomplexobj(np.linalg.eigvals(a)):
        with pytest.raises(TypeError, match="np.abs of a complex value"):
            ad.grad(abs_of_root_of_eigenvalues)(a)
    else:
        with np.errstate(invalid="ignore"):
            assert np.isnan(abs_of_root_of_eigenvalues(a))
            assert np.isnan(ad.grad(abs_of_root_of_eigenvalues)(a)).any()


def norm_of_root_of_eigenvalues(a):
    return np.linalg.norm(np.sqrt(np.linalg.eigvals(a)))


def vector_norm_of_root_of_eigenvalues(a):
    return np.sum(np.linalg.vector_norm(np.sqrt(np.linalg.eigvals(a)), ord=1))


def singular_values_of_root_of_eigenvalues(a):
    m = np.outer(np.sqrt(np.linalg.eigvals(a)), np.ones(2))
    return np.sum(np.linalg.svd(m, compute_uv=False))


@pytest.mark.parametrize(
    ("f", "name"),
    [
        (norm_of_root_of_eigenvalues, "np.linalg.norm"),
        (vector_norm_of_root_of_eigenvalues, "np.linalg.vector_norm"),
        (singular_values_of_root_of_eigenvalues, "np.linalg.svd"),
    ],
)
def test_real_results_of_complex_values_with_imaginary_parts_are_refused(f, name):
    """Norms and singular values are real for complex arrays too, but their rules are
    for real arrays: of a value with an imaginary part (numpy 2.5's square root of a
    negative eigenvalue) they are refused, not given the gradient of the wrong sign."""
    a = np.diag([-4.0, 1.0, 9.0]) + 0.01 * np.arange(9.0).reshape(3, 3)
    if np.iscomplexobj(np.linalg.eigvals(a)):
        with pytest.raises(TypeError, match=f"{re.escape(name)} of a complex value"):
            ad.grad(f)(a)
    else:  # numpy before 2.5: the square root is NaN, and so is the gradient
        with np.errstate(invalid="ignore"):
            try:
                value = f(a)
            except np.linalg.LinAlgError:  # svd of NaN: the gradient fails as f does
                with pytest.raises(np.linalg.LinAlgError):
                    ad.grad(f)(a)
            else:
                assert np.isnan(value) and np.isnan(ad.grad(f)(a)).any()


def test_norm_and_svd_adjoints_refuse_imaginary_parts_on_any_numpy(rng):
    """The adjoints themselves: a complex operand with an imaginary part is refused, one
    whose imaginary parts are zero gets the real operand's cotangent."""
    x = free(rng, 3, 3)
    for adjoint, args in [
        (norm_adjoint, lambda m: (1.0, np.linalg.norm(m), m)),
        (lambda dy, y, m: svd_adjoint(dy, y, m, compute_uv=False), lambda m: (np.ones(3), None, m)),
    ]:
        real = adjoint(*args(x))
        same = adjoint(*args(x + 0j))
        np.testing.assert_allclose(np.real(same), real, rtol=1e-12, atol=1e-12)
        with pytest.raises(TypeError, match="of a complex value"):
            adjoint(*args(x + 1j * np.eye(3)))


def test_eig_jvp_matches_finite_differences_on_every_numpy(rng):
    """Forward mode: the tangents of eig's real results, whatever dtype numpy gives
    them, through np.real; and the tangent helper gives the same for complex-typed
    results with zero imaginary parts as for real ones."""
    from adcompile.runtime.tangents import eig_tangent

    a = well_conditioned(rng, 3, 3) * 0.3 + np.diag([0.0, 2.0, 4.0])
    c = free(rng, 3, 3)
    da = free(rng, 3, 3)
    value, tangent = ad.jvp(eig_, wrt=0)(a, c, da)
    h = 1e-6
    fd = (eig_(a + h * da, c) - eig_(a - h * da, c)) / (2 * h)
    assert value == pytest.approx(eig_(a, c), rel=1e-12)
    assert tangent == pytest.approx(fd, rel=1e-5, abs=1e-7)
    y = np.linalg.eig(a)
    real = eig_tangent(da, (np.real(y[0]), np.real(y[1])))
    for got, want in zip(eig_tangent(da, eig_complex_dtype(a)), real, strict=True):
        assert not np.iscomplexobj(got)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------ one inverse, several adjoints


def _gp_like(a, y):
    k = a @ a.T + np.eye(a.shape[0])
    alpha = np.linalg.solve(k, y)
    return 0.5 * np.sum(y * alpha) + 0.5 * np.linalg.slogdet(k)[1]


def _solve_and_det(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2) + np.sum(np.linalg.det(a) ** 2)


def _two_dets(a):
    return np.linalg.det(a) + np.sum(np.linalg.det(a) ** 3)


def _rng_matrix(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) + 3.0 * np.eye(shape[-1])


@pytest.mark.parametrize(
    "f, args",
    [
        (_gp_like, (np.random.default_rng(1).normal(size=(4, 4)), np.arange(4.0))),
        (_gp_like, (np.random.default_rng(2).normal(size=(3, 3)), np.ones((3, 2)))),
        (_solve_and_det, (_rng_matrix((3, 3)), np.arange(3.0))),
        (_solve_and_det, (_rng_matrix((2, 3, 3)), np.ones((2, 3, 2)))),
        (_two_dets, (_rng_matrix((3, 3)),)),
    ],
)
def test_adjoints_of_one_matrix_share_its_inverse(f, args):
    # solve's adjoint multiplies by the inverse that slogdet's (det's) computes anyway,
    # in place of a second factorisation of the matrix
    g = ad.grad(f, wrt=tuple(range(len(args))))
    g(*args)
    assert g.source.count("shared_inverse(") == 1
    assert_grad_matches_fd(f, *args, wrt=tuple(range(len(args))))


def test_the_shared_inverse_is_freed_after_its_last_use_and_adjoints_add_in_place():
    # as a hand-written backward's temporary inverse: held to the end, it would raise
    # the call's peak memory by a matrix; and the second adjoint of the matrix adds
    # into the first (both new arrays) instead of allocating their sum
    a, y = np.random.default_rng(4).normal(size=(4, 4)), np.arange(4.0)
    g = ad.grad(_gp_like, wrt=(0, 1))
    g(a, y)
    lines = [line.strip() for line in g.source.split("# reverse sweep")[1].splitlines()]
    (inverse,) = [line.split(" = ")[0] for line in lines if "shared_inverse(" in line]
    users = [i for i, line in enumerate(lines) if inverse in line and "shared_inverse(" not in line]
    assert lines[users[-1]] == f"del {inverse}"
    assert any(line.startswith("dk += ") for line in lines)
    assert_grad_matches_fd(_gp_like, a, y, wrt=(0, 1))
    # the generated code differentiated again reads the deletion as a no-op
    assert fuzzcheck.check_hvp(_gp_like, [a, y], (0, 1)) == "hvp"


def test_shared_inverse_of_a_singular_matrix_falls_back_to_each_adjoint():
    # det's gradient at a singular matrix is its cofactor matrix (no inverse exists)
    a = np.array([[1.0, 2.0, 0.5], [2.0, 4.0, 1.0], [0.3, -1.0, 2.0]])
    assert np.linalg.matrix_rank(a) == 2
    g = ad.grad(_two_dets)
    assert "shared_inverse(" in (g(a), g.source)[1]
    assert_grad_matches_fd(_two_dets, a, atol=1e-6)


def test_a_scalar_result_of_known_shape_needs_no_value():
    # the result of a known scalar shape needs no seed check: a value only the result
    # reads (slogdet's here) is not computed by the gradient
    a, y = np.random.default_rng(3).normal(size=(4, 4)), np.arange(4.0)
    g = ad.grad(_gp_like)
    g(a, y)
    assert "slogdet(" not in g.source.split("# reverse sweep")[0]
    assert_grad_matches_fd(_gp_like, a, y)
    value, _ = ad.value_and_grad(_gp_like)(a, y)
    assert value == _gp_like(a, y)
