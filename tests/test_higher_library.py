"""Second derivatives of functions that call numpy's norms, einsum, linear algebra,
fft and split: the gradient's code calls runtime helpers (norm_adjoint,
einsum_adjoint, solve_transposed, cholesky_adjoint, fit_axes, unsplit, ...) that are
differentiated again through their definitions in the accepted language
(rules/bodies.py) or their own rules. hvp is checked against autograd's
hessian_vector_product and against central differences of the compiled gradient;
grad(grad(f)) through a gradient penalty against autograd; jvp of the same functions
against autograd's forward derivative."""

import sys
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import adcompile as ad

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzzcheck  # noqa: E402

SPD = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.8]])
B = np.random.default_rng(7).normal(size=(3, 2))


def programs(np):
    """The same functions over numpy, or over autograd's numpy (the oracle)."""

    def norm_all(x):
        return np.linalg.norm(x) * np.sum(x**2) + np.linalg.norm(x * x[0])

    def norm_rows(x):  # (3, 4): one norm per row, broadcast against a column
        n = np.linalg.norm(x, axis=1)[:, None]
        return np.sum(np.tanh(x / n) * x) + np.sum(np.linalg.norm(x, axis=0) ** 3)

    def norm_keepdims(x):  # (3, 4) (autograd's rule fails on keepdims in second order)
        m = np.linalg.norm(x, axis=0, keepdims=True)
        return np.sum(np.sin(x / m) * x) + np.sum(np.linalg.norm(x, ord=np.inf, axis=1, keepdims=True) * x)

    def norm_orders(x):
        return (
            np.linalg.norm(x, ord=3) * x[0]
            + np.linalg.norm(x, ord=2) ** 2
            + np.linalg.norm(np.tanh(x), ord=1.5)
        )

    def norm_matrix(x):  # (3, 4)
        return np.linalg.norm(x, "fro") * np.sum(x) + np.linalg.norm(x * x, ord="fro")

    def einsum_matmul(x, W):  # (3, 4), (4, 2)
        return np.sum(np.tanh(np.einsum("ij,jk->ik", x, W)) ** 2)

    def einsum_broadcast(x, W):  # (3, 4), (4, 2): an ellipsis, a summed label
        y = np.einsum("...j,jk->...k", x, W)
        t = np.einsum("ij,ij->i", x, x)
        return np.sum(np.sin(y)) + np.sum(t * np.einsum("ij->j", x) [0])

    def einsum_three(x, W):
        return np.einsum("ij,jk,ik->", x, W, np.tanh(x @ W)) + np.sum(np.einsum("ij,kj->ik", x, x) ** 2)

    def einsum_diagonal(x):  # (3, 3): a repeated label (autograd's own rule fails on it)
        return np.einsum("ii->", np.tanh(x) * x) + np.sum(np.einsum("iij->ij", x[None] * x[:, None]) ** 2)

    def solve_vector(a, x):  # (3, 3), (3,)
        return np.sum(np.linalg.solve(a + 3 * np.eye(3), np.tanh(x)) ** 2)

    def solve_matrix(a, b):  # (3, 3), (3, 2)
        return np.sum(np.sin(np.linalg.solve(a + 3 * np.eye(3), b)))

    def inverse(a):
        return np.sum(np.linalg.inv(a + 3 * np.eye(3)) ** 2) + np.trace(np.linalg.inv(SPD @ a + 4 * np.eye(3)))

    def determinant(a):
        return np.linalg.det(a + 2 * np.eye(3)) ** 2 + np.linalg.det(a * a + np.eye(3))

    def log_determinant(a):
        sign, logdet = np.linalg.slogdet(a + 3 * np.eye(3))
        return logdet * sign + np.sum(a**2)

    def cholesky_factor(a):
        s = a @ a.T + SPD
        return np.sum(np.tanh(np.linalg.cholesky(s))) + np.sum(np.linalg.cholesky(s) ** 2)

    def symmetric_eigen(a):
        w, v = np.linalg.eigh(a + a.T + np.diag(np.arange(3.0) * 3))
        return np.sum(w**3) + np.sum(v[:, 0] * v[:, 1] * v[:, 2])

    def fourier(x):  # (8,)
        f = np.fft.fft(x * x[0])
        return np.sum(np.abs(f) ** 2) * 0.1 + np.sum(np.real(np.fft.ifft(f * f)))

    def real_fourier(x):  # (8,)
        h = np.fft.rfft(np.tanh(x))
        return np.sum(np.abs(h) ** 3) * 0.1 + np.sum(np.fft.irfft(h * h, 8) * x)

    def fourier_2d(x):  # (4, 4)
        f = np.fft.fft2(np.sin(x))
        return np.sum(np.real(f * np.conj(f))) * 0.01 + np.sum(np.real(np.fft.rfft2(x)) ** 2) * 0.01

    def split(x):  # (6,)
        a, b, c = np.split(x, 3)
        return np.sum(a * b**2) + np.sum(np.tanh(c) * a)

    def split_rows(x):  # (4, 3)
        top, bottom = np.split(x, [1], axis=0)
        return np.sum(np.tanh(top) * bottom) + np.sum(top**3)

    return {
        "norm_all": (norm_all, [(4,)]),
        "norm_rows": (norm_rows, [(3, 4)]),
        "norm_keepdims": (norm_keepdims, [(3, 4)]),
        "norm_orders": (norm_orders, [(4,)]),
        "norm_matrix": (norm_matrix, [(3, 4)]),
        "einsum_matmul": (einsum_matmul, [(3, 4), (4, 2)]),
        "einsum_broadcast": (einsum_broadcast, [(3, 4), (4, 2)]),
        "einsum_three": (einsum_three, [(3, 4), (4, 2)]),
        "einsum_diagonal": (einsum_diagonal, [(3, 3)]),
        "solve_vector": (solve_vector, [(3, 3), (3,)]),
        "solve_matrix": (solve_matrix, [(3, 3), (3, 2)]),
        "inverse": (inverse, [(3, 3)]),
        "determinant": (determinant, [(3, 3)]),
        "log_determinant": (log_determinant, [(3, 3)]),
        "cholesky_factor": (cholesky_factor, [(3, 3)]),
        "symmetric_eigen": (symmetric_eigen, [(3, 3)]),
        "fourier": (fourier, [(8,)]),
        "real_fourier": (real_fourier, [(8,)]),
        "fourier_2d": (fourier_2d, [(4, 4)]),
        "split": (split, [(6,)]),
        "split_rows": (split_rows, [(4, 3)]),
    }


NUMPY, AUTOGRAD = programs(np), programs(anp)
WITHOUT_AUTOGRAD = {"einsum_diagonal", "norm_keepdims"}
WITH_AUTOGRAD = sorted(set(NUMPY) - WITHOUT_AUTOGRAD)


def arguments(name, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) * 0.5 for shape in NUMPY[name][1]]


def vectors(args, seed=1):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=np.shape(a)) for a in args)


@pytest.mark.parametrize("name", WITH_AUTOGRAD)
def test_hvp_against_autograd(name):
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name)
    wrt = tuple(range(len(args)))
    vs = vectors(args)
    got = ad.hvp(f, wrt=wrt)(*args, vs)
    got = got if isinstance(got, tuple) else (got,)
    for i in wrt:
        # the i-th block row of H times v: the derivative of grad_i along v
        expected = sum(
            autograd.hessian_vector_product(g, argnum=i)(*args, vs[i])
            if j == i
            else autograd.jacobian(autograd.grad(g, i), j)(*args).reshape(
                np.shape(args[i]) + (-1,)
            )
            @ vs[j].ravel()
            for j in wrt
        )
        np.testing.assert_allclose(got[i], expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_hvp_against_differences_of_the_gradient(name):
    f = NUMPY[name][0]
    args = arguments(name, seed=3)
    assert fuzzcheck.check_hvp(f, args, tuple(range(len(args)))) == "hvp"


@pytest.mark.parametrize("name", WITH_AUTOGRAD)
def test_hessian_against_autograd(name):
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name, seed=4)
    np.testing.assert_allclose(
        ad.hessian(f)(*args), autograd.hessian(g)(*args), rtol=1e-8, atol=1e-10
    )


@pytest.mark.parametrize("name", WITH_AUTOGRAD)
def test_jvp_against_autograd(name):
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name, seed=6)
    v = vectors(args[:1], seed=2)[0]
    value, slope = ad.jvp(f)(*args, v)
    expected = autograd.grad(g)(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    np.testing.assert_allclose(slope, np.sum(expected * v), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", WITH_AUTOGRAD)
def test_gradient_penalty_against_autograd(name):
    # reverse over reverse: the adjoints of the definitions
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name, seed=5)
    df = ad.grad(f)

    if len(args) == 1:

        def penalty(x):
            return np.sum(np.sin(df(x)))

    else:

        def penalty(x, W):
            return np.sum(np.sin(df(x, W)))

    def apenalty(*a):
        return anp.sum(anp.sin(autograd.grad(g)(*a)))

    np.testing.assert_allclose(
        ad.grad(penalty)(*args), autograd.grad(apenalty)(*args), rtol=1e-8, atol=1e-10
    )
