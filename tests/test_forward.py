"""Forward mode: jvp, jacobian, stop_gradient and tangent rules.

Every tangent is checked against central finite differences along a random
direction (and, for the models, against autograd); every primitive record with
a derivative must have a tangent rule that a function of this file exercises.
"""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
import types
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import mlp_args as _mlp_args
from helpers import rnn, rnn_args
from helpers import softmax_mlp as mlp
from scipy import special, stats

import adcompile as ad
from adcompile import frontend, pipeline
from adcompile.ir import walk
from adcompile.rules import load_optional
from adcompile.rules.registry import lookup, primitive_name, primitives, restore, snapshot
from adcompile.rules.tangents import tangent_rule

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))


# ------------------------------------------------------------------ helpers


def _map(f, *trees):
    t = trees[0]
    if isinstance(t, dict):
        return {k: _map(f, *(x[k] for x in trees)) for k in t}
    if isinstance(t, list | tuple):
        return type(t)(_map(f, *parts) for parts in zip(*trees, strict=True))
    return f(*trees)


def _leaves(tree):
    if isinstance(tree, dict):
        return [x for k in tree for x in _leaves(tree[k])]
    if isinstance(tree, list | tuple):
        return [x for v in tree for x in _leaves(v)]
    return [tree]


def _copy(args):
    """Copies of the arguments (a function may update its arguments in place)."""
    return _map(lambda v: np.copy(v) if isinstance(v, np.ndarray) else v, list(args))


def _random_like(x, rng):
    def one(v):
        if isinstance(v, float):
            return float(rng.normal())
        return rng.normal(size=np.shape(v))

    return _map(one, x)


def assert_jvp_matches_fd(f, *args, wrt=0, eps=1e-6, rtol=1e-6, atol=1e-8, seed=0):
    """jvp(f, wrt) at ``args`` along a random direction: the value is f's, the tangent
    central differences' (leaf by leaf, for container results too). Returns the jvp."""
    rng = np.random.default_rng(seed)
    params = list(inspect.signature(f).parameters)
    single = isinstance(wrt, int | str)
    items = [wrt] if single else list(wrt)
    index = [w if isinstance(w, int) else params.index(w) for w in items]
    tangents = [_random_like(args[i], rng) for i in index]
    jf = ad.jvp(f, wrt=wrt)
    value, tangent = jf(*args, tangents[0] if single else tuple(tangents))

    def moved(step):
        a = list(args)
        for i, t in zip(index, tangents, strict=True):
            a[i] = _map(lambda x, d: x + step * d, a[i], t)
        return f(*_copy(a))

    expected = f(*_copy(args))
    for got, want in zip(_leaves(value), _leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg="jvp's value")
    up, down = moved(eps), moved(-eps)
    fd = _map(lambda a, b: (np.asarray(a, float) - np.asarray(b, float)) / (2 * eps), up, down)
    got_leaves, fd_leaves = _leaves(tangent), _leaves(fd)
    assert len(got_leaves) == len(fd_leaves), "the tangent's structure is not the value's"
    for got, want, val in zip(got_leaves, fd_leaves, _leaves(expected), strict=True):
        assert np.shape(got) == np.shape(val), (np.shape(got), np.shape(val))
        np.testing.assert_allclose(
            got, want, rtol=rtol, atol=atol, err_msg="tangent vs finite differences"
        )
    return jf


def _wrts(f):
    """Every parameter alone, and all of them together (terms of inactive operands
    are folded away: each subset is its own generated code)."""
    n = len(inspect.signature(f).parameters)
    return [*range(n), tuple(range(n))] if n > 1 else [0]


# ---------------------------------------------- one function per tangent rule

X = np.array([0.3, 0.55, 0.8])
Y = np.array([0.45, 0.2, 0.7])
M = np.array([[0.3, 0.5, 0.2], [0.9, 0.4, 0.6]])
N = np.array([[0.7, 0.1], [0.2, 0.8], [0.5, 0.3]])


def f_exp(x):
    return np.exp(x)


def f_expm1(x):
    return np.expm1(x)


def f_log(x):
    return np.log(x)


def f_log1p(x):
    return np.log1p(x)


def f_log2(x):
    return np.log2(x)


def f_log10(x):
    return np.log10(x)


def f_sqrt(x):
    return np.sqrt(x)


def f_square(x):
    return np.square(x)


def f_reciprocal(x):
    return np.reciprocal(x)


def f_sin(x):
    return np.sin(x)


def f_cos(x):
    return np.cos(x)


def f_tan(x):
    return np.tan(x)


def f_arcsin(x):
    return np.arcsin(x)


def f_arccos(x):
    return np.arccos(x)


def f_arctan(x):
    return np.arctan(x)


def f_sinh(x):
    return np.sinh(x)


def f_cosh(x):
    return np.cosh(x)


def f_tanh(x):
    return np.tanh(x)


def f_abs(x):
    return np.abs(x - 0.5)


def f_arctan2(x, y):
    return np.arctan2(x, y)


def f_maximum(x, y):
    return np.maximum(x, y)


def f_minimum(x, y):
    return np.minimum(x, y)


def f_logaddexp(x, y):
    return np.logaddexp(x, y)


def f_where(x, y):
    return np.where(x > 0.5, x, y)


def f_clip(x, lo, hi):
    return np.clip(x, lo, hi)


def f_add(x, y):
    return x + y[0]


def f_subtract(x, y):
    return x - y


def f_multiply(x, y):
    return x * y


def f_divide(x, y):
    return x / y


def f_power(x, y):
    return x**y + x**2


def f_negative(x):
    return -x


def f_positive(x):
    return np.positive(x)


def f_matmul(m, n):
    return m @ n


def f_mod(x, y):
    return np.mod(x, y + 1.0)


def f_sum(m):
    return np.sum(m, axis=0)


def f_mean(m):
    return np.mean(m, axis=1, keepdims=True)


def f_max(m):
    return np.max(m, axis=1)


def f_min(m):
    return np.min(m)


def f_prod(m):
    return np.prod(m, axis=0)


def f_var(m):
    return np.var(m, axis=1, ddof=1)


def f_std(m):
    return np.std(m)


def f_reshape(m):
    return np.reshape(m, (3, 2))


def f_ravel(m):
    return np.ravel(m)


def f_transpose(m):
    return np.transpose(m)


def f_swapaxes(m):
    return np.swapaxes(m, 0, 1)


def f_expand_dims(x):
    return np.expand_dims(x, 0)


def f_squeeze(m):
    return np.squeeze(m[:1])


def f_broadcast_to(x):
    return np.broadcast_to(x, (2, 3))


def f_getitem(m):
    return m[1, ::-1]


def f_concatenate(x, y):
    return np.concatenate((x, y, x))


def f_hstack(x, y):
    return np.hstack((x, y, x))


def f_vstack(x, y):
    return np.vstack((x, y, np.outer(y, x)))


def f_stack(x, y):
    return np.stack((x, y), axis=1)


def f_full(s):
    return np.full((2, 3), s)


def f_full_like(x, s):
    return np.full_like(x, s)


def f_linspace(a, b):
    return np.linspace(a, b, 5)


def f_arange(a, step):
    return np.arange(a, 3.0, step)


def f_dot(x, y):
    return np.dot(x, y)


def f_outer(x, y):
    return np.outer(x, y)


def f_inv(a):
    return np.linalg.inv(a)


def f_solve(a, b):
    return np.linalg.solve(a, b)


def f_solve_matrix(a, b):
    return np.linalg.solve(a, b @ b.T)


def f_det(a):
    return np.linalg.det(a)


def f_norms(m):
    return (
        np.linalg.norm(m)
        + np.sum(np.linalg.norm(m, axis=1))
        + np.linalg.norm(m[0], ord=1)
        + np.sum(np.linalg.vector_norm(m, axis=0, keepdims=True))
        + np.linalg.matrix_norm(m)
    )


def f_math(a, b):
    return (
        math.exp(a)
        + math.expm1(b)
        + math.log(a)
        + math.log1p(b)
        + math.sqrt(a)
        + math.sin(a) * math.cos(b)
        + math.tan(a)
        + math.atan(b)
        + math.sinh(a)
        + math.cosh(b)
        + math.tanh(a)
        + math.pow(a, b)
    )


def f_builtin_max_min(a, b):
    return max(a, b) * min(a, 2 * b) + abs(a - b)


SQ4 = np.random.default_rng(4).normal(size=(4, 4))

CASES = [
    (f_exp, (X,)),
    (f_expm1, (X,)),
    (f_log, (X,)),
    (f_log1p, (X,)),
    (f_log2, (X,)),
    (f_log10, (X,)),
    (f_sqrt, (X,)),
    (f_square, (X,)),
    (f_reciprocal, (X,)),
    (f_sin, (X,)),
    (f_cos, (X,)),
    (f_tan, (X,)),
    (f_arcsin, (X,)),
    (f_arccos, (X,)),
    (f_arctan, (X,)),
    (f_sinh, (X,)),
    (f_cosh, (X,)),
    (f_tanh, (X,)),
    (f_abs, (X,)),
    (f_arctan2, (X, Y)),
    (f_maximum, (X, Y)),
    (f_minimum, (X, Y)),
    (f_logaddexp, (X, Y)),
    (f_where, (X, Y)),
    (f_clip, (X, 0.4, 0.7)),
    (f_add, (M, Y)),
    (f_subtract, (M, Y)),
    (f_multiply, (M, Y)),
    (f_divide, (M, Y)),
    (f_power, (X, Y)),
    (f_negative, (X,)),
    (f_positive, (X,)),
    (f_matmul, (M, N)),
    (f_mod, (X, Y)),
    (f_sum, (M,)),
    (f_mean, (M,)),
    (f_max, (M,)),
    (f_min, (M,)),
    (f_prod, (M,)),
    (f_var, (M,)),
    (f_std, (M,)),
    (f_reshape, (M,)),
    (f_ravel, (M,)),
    (f_transpose, (M,)),
    (f_swapaxes, (M,)),
    (f_expand_dims, (X,)),
    (f_squeeze, (M,)),
    (f_broadcast_to, (X,)),
    (f_getitem, (M,)),
    (f_concatenate, (X, Y)),
    (f_hstack, (X, Y)),
    (f_vstack, (X, X)),
    (f_stack, (X, Y)),
    (f_full, (0.7,)),
    (f_full_like, (X, 0.7)),
    (f_linspace, (0.2, 1.3)),
    (f_arange, (0.2, 0.5)),
    (f_dot, (M, N)),
    (f_outer, (X, Y)),
    (f_inv, (np.array([[2.0, 0.5], [0.3, 1.0]]),)),
    (f_inv, (np.array([[[2.0, 0.5], [0.3, 1.0]], [[1.0, -0.4], [0.2, 3.0]]]),)),
    (f_solve, (np.array([[2.0, 0.5], [0.3, 1.0]]), np.array([0.7, -1.2]))),
    (f_solve_matrix, (np.array([[2.0, 0.5], [0.3, 1.0]]), np.array([[0.7, -1.2], [0.4, 0.9]]))),
    (f_det, (np.array([[2.0, 0.5], [0.3, 1.0]]),)),
    (f_det, (np.array([[[2.0, 0.5], [0.3, 1.0]], [[1.0, 2.0], [0.5, 1.0]]]),)),  # singular
    (f_norms, (M,)),
    (f_math, (0.6, 0.3)),
    (f_builtin_max_min, (0.6, 0.35)),
    (f_builtin_max_min, (0.2, 0.7)),
]


# the records added with numpy's other functions, numpy.linalg and scipy

T = np.arange(24.0).reshape(2, 3, 4) / 10 + 0.05
SQ = np.array([[0.9, 0.2, 0.4], [0.1, 1.3, 0.3], [0.5, 0.7, 1.1]])
A2 = np.array([[2.0, 0.5], [0.3, 1.0]])
A2_BATCH = np.array([[[2.0, 0.5], [0.3, 1.0]], [[1.0, -0.4], [0.2, 3.0]]])
WITH_NANS = np.array([0.3, np.nan, 0.8, np.inf, -np.inf])
COUNTS = np.array([1.0, 2.0, 3.0])
ORDERS = np.array([[0.5], [1.5]])
ON_SIMPLEX = np.array([0.2, 0.5, 0.3])
ON_SIMPLEX_2 = np.array([[0.2, 0.6], [0.5, 0.1], [0.3, 0.3]])


def f_exp2(x):
    return np.exp2(x)


def f_inverse_hyperbolic(x):
    return np.arcsinh(x) + np.arccosh(x + 1.5) + np.arctanh(x - 0.2)


def f_fabs(x):
    return np.fabs(x - 0.5)


def f_sinc(x):
    return np.sinc(x - 0.3)  # through 0, where sinc' is 0


def f_degrees(x):
    return np.rad2deg(x) * np.deg2rad(x)


def f_math_inverse_hyperbolic(a, b):
    return (
        math.asinh(a)
        + math.acosh(b + 1.5)
        + math.atanh(a - 0.2)
        + math.degrees(a) * math.radians(b)
    )


def f_nan_to_num(x, fill):
    return np.nan_to_num(x * 2.0, nan=fill, posinf=fill * 3.0, neginf=-fill)


def f_complex_parts(x):
    return np.real(x) + np.real_if_close(x) * 2 + np.conj(x) + np.imag(x) + np.angle(x - 0.5)


def f_fmax_fmin(x, m):
    return np.fmax(x, m) + np.fmin(x, m * 2)


def f_hypot(x, y):
    return np.hypot(x, y[0])


def f_logaddexp2(x, m):
    return np.logaddexp2(x, m)


def f_cumsum(m):
    return np.cumsum(m, axis=1)


def f_cumprod(m):
    return np.cumprod(m), np.cumprod(m - 0.4, axis=0)  # 0.4 - 0.4: through a zero


def f_diff(m):
    return np.diff(m, axis=0), np.diff(m, 2)


def f_sort(m):
    return np.sort(m, axis=0), np.sort(m, axis=None), np.partition(m, 1)


def f_flips(m):
    return np.flip(m) + np.fliplr(m) + np.flipud(m) * 2


def f_roll_rot90(m):
    return np.roll(m, 1, axis=1) + np.rot90(np.rot90(m)), np.rot90(m, -1)


def f_moveaxis(t):
    return np.moveaxis(t, 0, 2), np.rollaxis(t, 2, 1)


def f_diagonals(x, sq):
    return (
        np.diag(x, 1),
        np.diag(sq) * x,
        np.diagonal(sq, 1),
        np.trace(sq) + np.trace(sq, -1),
        np.triu(sq, 1) + np.tril(sq),
    )


def f_repeat_tile(m):
    return np.repeat(m, 2, axis=1), np.repeat(m, 2), np.tile(m, (2, 1))


def f_pad(m):
    return np.pad(m, ((1, 0), (0, 2)))


def f_atleast(s, x):
    return np.atleast_1d(s), np.atleast_2d(x), np.atleast_3d(x)


def f_gradient(m, h):
    return np.gradient(m[0], h), np.gradient(m, h, axis=1)


def f_array(a, b, x):
    return np.array([a, b * 2.0, 1.0]) * np.asarray(x), np.array(x)


def f_copy(x):
    return np.copy(x) * x


def f_astype(x):
    return x.astype(np.float64) * 2 + (x * 4).astype(int)


def f_einsum(m, n, x):
    return np.einsum("ij,jk->ik", m, n) + np.einsum("ij,jk,k->i", m, n, x[:2])[:, None]


def f_tensordot(m, n):
    return np.tensordot(m, n, 1), np.tensordot(m, n.T, axes=2)


def f_inner(x, m):
    return np.inner(m, x)


def f_kron(x, m):
    return np.kron(x, m)


def f_cross(x, y):
    return np.cross(x, y) + np.cross(M, y)


def f_pinv(m):
    return np.linalg.pinv(m)


def f_slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet


def f_cholesky(a):
    return np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + 1.0)


def f_cholesky_upper(a):
    # numpy reads one triangle: the tangent is that of the symmetric matrix
    return np.linalg.cholesky(a + a.T + 3.0, upper=True)


def f_eigh(a):
    w, v = np.linalg.eigh(a + np.swapaxes(a, -1, -2))
    return w, v * v[0]  # each product is the same for either sign of an eigenvector


def f_eigvalsh(a):
    return np.linalg.eigvalsh(a @ a.T)


def f_eig(a):
    w, v = np.linalg.eig(a)
    return w, v * v[0]


def f_eigvals(a):
    return np.linalg.eigvals(a)


def f_svd(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return s, u * u[0], vh * vh[:, :1]


def f_svd_values(m):
    return np.linalg.svd(m)[1] + np.linalg.svd(m, compute_uv=False) + np.linalg.svdvals(m)


def f_qr(a):
    q, r = np.linalg.qr(a)
    return q, r, np.linalg.qr(a, mode="r")


def f_matrix_power(a):
    return np.linalg.matrix_power(a, 3) + np.linalg.matrix_power(a, -2)


def f_lstsq(a, b):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return x, residuals, s


def f_multi_dot(m, n, a):
    return np.linalg.multi_dot([m, n, a]), np.linalg.multi_dot([m[0], n, a, a[0]])


def f_logistic(x):
    return special.expit(x) + special.logit(x)


def f_logsumexp(m, b):
    return (
        special.logsumexp(m, axis=1),
        special.logsumexp(m, b=b),
        special.logsumexp(m, axis=0, b=b, keepdims=True),
    )


def f_softmax(m):
    return special.softmax(m, axis=1) + special.log_softmax(m, axis=0)


def f_gamma_family(x):
    return special.gammaln(x) + special.digamma(x) + special.polygamma(2, x) + special.gamma(x)


def f_beta_functions(a, b):
    return special.beta(a, b) + special.betaln(a, b)


def f_error_functions(x):
    return (
        special.erf(x)
        + special.erfc(x)
        + special.erfinv(x - 0.2)
        + special.erfcinv(x + 0.1)
        + special.ndtr(x)
        + special.log_ndtr(x)
        + special.ndtri(x)
    )


def f_xlogy(x, m):
    return special.xlogy(x, m) + special.xlog1py(x, m) + special.entr(x)


def f_bessel(x):
    return (
        special.i0(x)
        + special.i0e(x)
        + special.i1(x)
        + special.i1e(x)
        + special.j0(x)
        + special.j1(x)
        + special.y0(x)
        + special.y1(x)
        + special.jv(1.5, x)
        + special.yv(0.5, x)
        + special.yn(2, x)
        + special.iv(1.5, x)
        + special.kv(0.5, x)
        + np.sum(special.jv(ORDERS, x), axis=0)
    )


def f_normal(x, loc, scale):
    return (
        stats.norm.logpdf(x, loc, scale)
        + stats.norm.pdf(x, loc, scale)
        + stats.norm.cdf(x, loc, scale)
        + stats.norm.logcdf(x, loc, scale)
    )


def f_student_t(x, df, loc, scale):
    return stats.t.logpdf(x, df, loc, scale) + stats.t.pdf(x, df, loc, scale)


def f_gamma_distribution(x, a, loc, scale):
    return stats.gamma.logpdf(x, a, loc, scale) + stats.gamma.pdf(x, a, loc, scale)


def f_beta_distribution(x, a, b, loc, scale):
    return stats.beta.logpdf(x, a, b, loc, scale) + stats.beta.pdf(x, a, b, loc, scale)


def f_poisson(mu):
    return stats.poisson.logpmf(COUNTS, mu) + stats.poisson.pmf(COUNTS, mu)


def f_multivariate_normal(x, mean, cov):
    return (
        stats.multivariate_normal.logpdf(x, mean, cov),
        stats.multivariate_normal.pdf(x[0], mean, cov),
    )


def f_multivariate_normal_cov_forms(x, mean, scale, diagonal):
    # cov as a number (times the identity), as the diagonal, and by default (1)
    return (
        stats.multivariate_normal.logpdf(x, mean)
        + stats.multivariate_normal.logpdf(x, mean, scale)
        + stats.multivariate_normal.pdf(x, mean, diagonal)
    )


def f_dirichlet(alpha):
    return (
        stats.dirichlet.logpdf(ON_SIMPLEX, alpha),
        stats.dirichlet.pdf(ON_SIMPLEX_2, alpha),
    )


def f_dirichlet_in_x(x, alpha):
    # x of k - 1 components (the last is 1 minus their sum): free, for finite differences
    return stats.dirichlet.logpdf(x, alpha) + stats.dirichlet.pdf(x[:, 0], alpha)


def f_distribution_functions(x, loc, scale):
    # the shape parameters of a cdf are constants (no closed-form derivative)
    return (
        stats.t.cdf(x, 3.5, loc, scale)
        + stats.t.logcdf(x, 2.5, loc, scale)
        + stats.gamma.cdf(x + 1.0, 2.5, loc, scale)
        + stats.beta.cdf(x * 0.8, 2.5, 1.7, loc * 0.1, scale)
        + stats.chi2.cdf(x + 1.0, 3.0, loc, scale)
    )


def f_chi2(x, df, loc, scale):
    return stats.chi2.logpdf(x, df, loc, scale) + stats.chi2.pdf(x, df, loc, scale)


def f_poisson_cdf(mu):
    return stats.poisson.cdf(COUNTS, mu) + stats.poisson.cdf(COUNTS, mu, 0.5)


EXPONENTS = np.array([[2.0], [3.5]])


def f_zeta(q):
    return special.zeta(2.5, q) + special.zeta(EXPONENTS, q)


MORE_CASES = [
    (f_exp2, (X,)),
    (f_inverse_hyperbolic, (X,)),
    (f_fabs, (X,)),
    (f_sinc, (X,)),
    (f_degrees, (X,)),
    (f_math_inverse_hyperbolic, (0.6, 0.3)),
    (f_nan_to_num, (WITH_NANS, 0.7)),
    (f_complex_parts, (X,)),
    (f_fmax_fmin, (X, M)),
    (f_hypot, (X, Y)),
    (f_logaddexp2, (X, M)),
    (f_cumsum, (M,)),
    (f_cumprod, (M,)),
    (f_diff, (M,)),
    (f_sort, (M,)),
    (f_flips, (M,)),
    (f_roll_rot90, (M,)),
    (f_moveaxis, (T,)),
    (f_diagonals, (X, SQ)),
    (f_repeat_tile, (M,)),
    (f_pad, (M,)),
    (f_atleast, (0.7, X)),
    (f_gradient, (M, 0.5)),
    (f_array, (0.3, 0.6, X)),
    (f_copy, (X,)),
    (f_astype, (X,)),
    (f_einsum, (M, N, X)),
    (f_tensordot, (M, N)),
    (f_inner, (X, M)),
    (f_kron, (X, M)),
    (f_cross, (X, Y)),
    (f_pinv, (M,)),
    (f_pinv, (N,)),
    (f_slogdet, (A2,)),
    (f_slogdet, (A2_BATCH,)),
    (f_cholesky, (A2,)),
    (f_cholesky, (A2_BATCH,)),
    (f_cholesky_upper, (A2,)),
    (f_eigh, (A2,)),
    (f_eigh, (A2_BATCH,)),
    (f_eigvalsh, (SQ,)),
    (f_eig, (A2,)),
    (f_eig, (SQ,)),
    (f_eigvals, (A2_BATCH,)),
    (f_svd, (M,)),
    (f_svd, (N,)),
    (f_svd, (A2_BATCH,)),
    (f_svd_values, (M,)),
    (f_qr, (N,)),
    (f_qr, (M,)),
    (f_qr, (A2_BATCH,)),
    (f_matrix_power, (A2,)),
    (f_lstsq, (N, X)),
    (f_lstsq, (N, SQ[:, :2])),
    (f_multi_dot, (M, N, A2)),
    (f_logistic, (X,)),
    (f_logsumexp, (M, Y)),
    (f_softmax, (M,)),
    (f_gamma_family, (X + 0.5,)),
    (f_beta_functions, (X + 0.5, M + 1.0)),
    (f_error_functions, (X,)),
    (f_xlogy, (X, M + 0.1)),
    (f_bessel, (X + 0.5,)),
    (f_normal, (M, Y, 1.3)),
    (f_student_t, (M, 3.5, Y, 1.3)),
    (f_gamma_distribution, (M + 0.5, 2.5, 0.1, 1.3)),
    (f_beta_distribution, (M * 0.8, 2.5, 1.7, -0.05, 1.2)),
    (f_poisson, (Y + 1.0,)),
    (f_distribution_functions, (M, 0.1, 1.3)),
    (f_chi2, (M + 0.5, 3.5, 0.1, 1.3)),
    (f_poisson_cdf, (Y + 1.0,)),
    (f_zeta, (X + 0.5,)),
    (f_multivariate_normal, (N, Y[:2], A2 @ A2.T)),
    (f_multivariate_normal_cov_forms, (M, Y, 1.7, X + 0.5)),
    (f_dirichlet, (X + 1.0,)),
    (f_dirichlet_in_x, (ON_SIMPLEX_2[:2], np.array([1.5, 2.0, 3.0]))),
]
CASES += MORE_CASES


def f_fourier(x):
    # complex values in between (docs/numerics.md): their tangents are complex
    z = np.fft.fft(x, axis=-1) * x
    w = np.fft.ifft2(x) + np.fft.fftn(x) * 0.5 - np.fft.ifftn(x)
    r = np.fft.rfft2(x) * np.conj(np.fft.rfftn(x)) + np.fft.fft2(x)[:, :3]
    back = np.fft.irfft2(r, x.shape) + np.fft.irfftn(r, x.shape, axes=(0, 1))
    return (
        np.abs(z)
        + np.angle(z + 2.0)
        + np.real(w)
        + np.imag(np.fft.fftshift(np.fft.ifftshift(w)))
        + back
        + np.fft.irfft(np.fft.rfft(x), x.shape[-1])
        + np.real(np.fft.ifft(x))
    )


def f_splits(x):
    a, b = np.split(x, 2, axis=-1)
    c, d = np.array_split(x, 2)
    e, g = np.hsplit(x, 2)
    h, k = np.vsplit(x, 2)
    m, _ = np.dsplit(np.reshape(x, (1, 4, 4)), 2)  # (1, 4, 2)
    return a * b + np.transpose(c) * np.sum(d) + e - g + np.transpose(h * k) + m[0]


def f_more_special(x):
    return (
        special.rgamma(x)
        + special.multigammaln(x + 2.0, 2)
        + special.gammainc(1.5, x)
        + special.gammaincc(2.5, x)
        + special.betainc(1.5, 2.0, x * 0.3)
        + special.ive(1.5, x)
    )


def f_split_points(x):
    i = 1
    a, b, c = np.split(x, [i, 3], axis=-1)
    points = (2,)
    d, e = np.array_split(x, points)
    return np.sum(a * b[:, :1] * c) + np.sum(d**2) * e


COLUMNS = np.array([[1], [0], [1]])


def f_picks(x, y):
    # (3,), (3,): elements picked, appended, inserted, stacked
    m = np.column_stack([x, y])
    return (
        np.take(x, [2, 0, 0])
        + np.take_along_axis(m, COLUMNS, 1)[:, 0]
        + np.append(x, y)[1:4] * np.insert(y, 1, x[0])[:3]
        + np.dstack([x, y])[0, :, 1]
    )


def f_order_statistics(x, y):
    # distinct values: away from the ties where the picked statistic changes
    m = np.stack([x, y * 2.0])
    return (
        np.quantile(x, [0.3, 0.7])
        + np.percentile(m, 40, axis=1)
        + np.median(m, axis=0)[:2]
        + np.ptp(m)
    )


def f_nan_reductions(x, y):
    z = np.where(x > x[1] + 0.1, np.nan, x)  # (x[2] is NaN; no slice of NaNs only)
    return np.nansum(z) * y + np.nanmean(z) + np.nanmax(z) * np.nanmin(z)


def f_average(x, y):
    return np.average(x, weights=y) * y + np.average(np.outer(x, y), axis=0, weights=y + 1.0)


def f_signals(x, y):
    return (
        np.convolve(x, y, "same")
        + np.correlate(x, y * y, "same")
        + np.polyval(y, x)
        + np.interp(x * 4.0, np.arange(4.0), np.append(y, x[0]))
        + np.trapezoid(np.outer(x, y), axis=0)
    )


def f_elementwise_more(x, y):
    return np.cbrt(x) + np.copysign(x, y - 0.5) + np.float_power(x, y) + np.vdot(x, y)


def f_tensor_linalg(a, b):
    t = np.linalg.tensorinv(np.reshape(a, (2, 2, 4)), ind=2)
    return (
        np.ravel(np.sum(t, axis=0))
        + np.linalg.tensorsolve(np.reshape(a, (2, 2, 4)), b)
        + np.linalg.cond(np.reshape(a, (4, 4)))
    )


SQ16 = np.eye(4) * 2.0 + np.random.default_rng(16).uniform(-0.3, 0.3, (4, 4))
CASES += [
    (f_picks, (X, Y)),
    (f_order_statistics, (X, Y)),
    (f_nan_reductions, (X, Y)),
    (f_average, (X, Y)),
    (f_signals, (X, Y)),
    (f_elementwise_more, (X, Y)),
    (f_tensor_linalg, (SQ16, np.array([[0.3, -0.2], [0.5, 0.1]]))),
]
if hasattr(np, "cumulative_sum"):  # numpy 2.1

    def f_cumulative(x):
        return np.cumulative_sum(x, include_initial=True)[1:] * np.cumulative_prod(x)

    CASES += [(f_cumulative, (X,))]


def f_ufunc_methods(x):
    bins = np.bincount(np.array([0, 2, 2, 3]), weights=x[0] ** 2, minlength=5)
    top = np.maximum.accumulate(x, axis=1)
    return np.sum(bins * np.arange(5.0)) + np.sum(top**2) + np.sum(np.minimum.accumulate(x) * x)


CASES += [
    (f_ufunc_methods, (SQ4,)),
    (f_fourier, (SQ4,)),
    (f_splits, (SQ4,)),
    (f_split_points, (SQ4,)),
    (f_more_special, (X + 0.5,)),
]


# scipy.special's robust losses and transforms, scipy.linalg, scipy.signal
from scipy import linalg as scipy_linalg  # noqa: E402
from scipy import signal  # noqa: E402


def f_robust_losses(x, m):
    return (
        special.huber(0.5, x - 0.4)
        + special.huber(m + 0.5, x * 2)
        + special.pseudo_huber(m + 0.3, x - 0.2)
        + special.log_expit(x * 3)
        + special.erfcx(x)
        + special.exprel(x - 0.5)
        + special.cosm1(x)
        + special.expm1(x)
        + special.log1p(x)
    )


def f_softplus(x):
    return special.softplus(x * 2 - 1)


def f_entropies_binom(x, m):
    return (
        special.kl_div(x, m + 0.1)
        + special.rel_entr(x, m + 0.2)
        + special.binom(m + 3.0, x + 0.5)
        + special.powm1(x + 0.5, m)
    )


def f_box_cox(x, m):
    return (
        special.boxcox(x + 0.5, m - 0.4)
        + special.boxcox1p(x, m)
        + special.inv_boxcox(x, m - 0.3)
        + special.inv_boxcox1p(x, m)
    )


def f_scipy_solves(a, b):
    s = a @ a.T + np.eye(3)
    return (
        scipy_linalg.solve(a + 2 * np.eye(3), b)
        + scipy_linalg.solve(s, b, assume_a="pos", lower=True)
        + scipy_linalg.solve_triangular(a + 2 * np.eye(3), b, trans="T")
        + scipy_linalg.cho_solve(scipy_linalg.cho_factor(s), b)
    )


def f_scipy_matrices(a):
    s = a @ a.T + np.eye(3)
    w, v = scipy_linalg.eigh(s)
    u, sv, vh = scipy_linalg.svd(a)
    q, r = scipy_linalg.qr(a)
    return (
        scipy_linalg.inv(a + 2 * np.eye(3))
        + scipy_linalg.det(a)
        + scipy_linalg.cholesky(s)
        + scipy_linalg.expm(a * 0.3)
        + w * v**2
        + (u * sv) @ vh
        + np.sum(scipy_linalg.svdvals(a))
        + q @ r
    )


def f_convolutions(x, m):
    return (
        np.sum(signal.convolve(x, m[0], mode="same"))
        + signal.correlate(m, N.T, mode="valid")
        + np.sum(signal.fftconvolve(m, N.T))
        + np.sum(signal.convolve2d(m, N.T, mode="same") * signal.correlate2d(m, N.T, "same"))
    )


CASES += [
    (f_robust_losses, (X, M)),
    (f_softplus, (X,)),
    (f_entropies_binom, (X, M)),
    (f_box_cox, (X, M)),
    (f_scipy_solves, (SQ, Y)),
    (f_scipy_matrices, (SQ,)),
    (f_convolutions, (X, M)),
]


@pytest.mark.parametrize(
    ("f", "args", "wrt"),
    [(f, args, w) for f, args in CASES for w in _wrts(f)],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_tangent_rule_matches_finite_differences(f, args, wrt):
    assert_jvp_matches_fd(f, *args, wrt=wrt)


def _inner(a, b) -> float:
    return float(
        sum(
            np.sum(np.asarray(x, float) * np.asarray(y, float))
            for x, y in zip(_leaves(a), _leaves(b), strict=True)
        )
    )


def _all(f):
    return tuple(range(len(inspect.signature(f).parameters)))


@pytest.mark.parametrize(
    ("f", "args"), CASES, ids=lambda v: getattr(v, "__name__", None) if callable(v) else None
)
def test_tangent_rule_agrees_with_the_adjoint(f, args):
    """``<c, jvp(t)> == <vjp(c), t>`` for a random tangent ``t`` and cotangent ``c``,
    every operand active: the tangent rule and the adjoint are the same derivative
    (for tuple results too, where a Jacobian does not apply)."""
    rng = np.random.default_rng(1)
    wrt = _all(f)
    tangents = tuple(_random_like(args[i], rng) for i in wrt)
    value, tangent = ad.jvp(f, wrt=wrt)(*_copy(args), tangents)
    cotangent = _random_like(value, rng)
    vjp = ad.vjp(f, wrt=wrt)
    grads = vjp(*_copy(args), **{vjp.cotangent: cotangent})
    forward, reverse = _inner(cotangent, tangent), _inner(grads, tangents)
    assert abs(forward - reverse) <= 1e-10 * (abs(forward) + abs(reverse) + 1e-12)


def _returns_one_array(f, args) -> bool:
    with np.errstate(all="ignore"):
        return not isinstance(f(*_copy(args)), tuple | list | dict)


@pytest.mark.parametrize(
    ("f", "args"),
    [(f, args) for f, args in CASES if _returns_one_array(f, args)],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_forward_and_reverse_jacobians_agree(f, args):
    wrt = _all(f)
    forward = ad.jacobian(f, wrt=wrt, mode="forward")(*_copy(args))
    reverse = ad.jacobian(f, wrt=wrt, mode="reverse")(*_copy(args))
    for a, b in zip(forward, reverse, strict=True):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def padded_at_edges(x):
    return np.sum(np.pad(x, 1, mode="edge"))


def eigenvalues_of_a_rotation(a):
    return np.sum(np.linalg.eigvals(a))


def complete_qr(a):
    q, r = np.linalg.qr(a, mode="complete")
    return np.sum(q)


@pytest.mark.parametrize(
    ("f", "arg", "message"),
    [
        (padded_at_edges, X, "mode='edge' cannot be differentiated"),
        (eigenvalues_of_a_rotation, np.array([[0.0, -1.0], [1.0, 0.0]]), "complex eigenvalues"),
        (complete_qr, N, "mode='complete'"),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_forward_mode_refuses_what_reverse_mode_refuses(f, arg, message):
    with pytest.raises(ValueError, match=message):
        ad.grad(f)(arg)
    with pytest.raises(ValueError, match=message):
        ad.jvp(f)(arg, np.ones_like(arg))


def full_svd_vectors(m):
    u, s, vh = np.linalg.svd(m)
    return u, s


def full_svd_values(m):
    return np.linalg.svd(m)[1]


def full_svd_left_sum(m):
    return np.sum(np.linalg.svd(m)[0])


def test_extra_singular_vectors_of_a_full_svd_have_no_tangent():
    """The extra columns of u in a full SVD of a non-square matrix are arbitrary: their
    tangent is NaN (reverse mode refuses a cotangent for u there); the others' is right."""
    _, (du, ds) = ad.jvp(full_svd_vectors)(N, np.ones_like(N))
    assert np.all(np.isnan(du[:, 2:])) and np.all(np.isfinite(du[:, :2]))
    assert_jvp_matches_fd(full_svd_values, N)
    with pytest.raises(ValueError, match="full_matrices=False"):
        ad.grad(full_svd_left_sum)(N)


def _single(v):
    """``v`` in single precision: float64 arrays as float32; Python floats stay Python
    floats, whose tangents are Python floats too (numpy lets them keep float32 float32)."""
    if isinstance(v, np.ndarray) and v.dtype == np.float64:
        return v.astype(np.float32)
    return v


@pytest.mark.parametrize(
    ("f", "args", "wrt"),
    [
        (f, args, w)
        for f, args in CASES
        if all(isinstance(a, np.ndarray | float) for a in args)
        for w in _wrts(f)
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_tangent_keeps_float32(f, args, wrt):
    """A float32 computation has float32 tangents, whichever operands are active and
    with Python floats among them (a rule's mask or helper does not upcast)."""
    single = tuple(_single(a) for a in args)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    tangents = tuple(
        np.ones_like(single[i]) if isinstance(single[i], np.ndarray) else 1.0 for i in positions
    )
    with np.errstate(all="ignore"):
        value, tangent = ad.jvp(f, wrt=wrt)(
            *single, tangents if isinstance(wrt, tuple) else tangents[0]
        )
    for v, t in zip(_leaves(value), _leaves(tangent), strict=True):
        if np.result_type(v) == np.float32:
            assert np.result_type(t) == np.float32, (np.result_type(t), wrt)


def _used_primitives():
    from test_rules_runtime import TANGENT_CASES  # the rules of the runtime helpers

    used = set()
    for f, _ in CASES + TANGENT_CASES:
        fn = pipeline.front(frontend.from_function(f))
        used |= {id(s.prim) for s in walk(fn.body) if getattr(s, "prim", None) is not None}
    return used


def test_every_differentiable_record_has_a_tested_tangent_rule():
    load_optional(import_libraries=True)
    records = [r for r in primitives() if r.differentiable and r.builtin]
    without = sorted(primitive_name(r.canonical) for r in records if r.missing_tangent)
    assert not without, f"records without a tangent rule: {without}"
    # an operand the adjoint gives a cotangent (or a refusal) has a tangent, and only those
    for r in records:
        for fn in (r.canonical, *r.on_floats):
            adjoint, rule = lookup(fn), tangent_rule(fn)
            by_adjoint = {p for p in adjoint.params if adjoint.differentiable(p)}
            by_tangent = {adjoint.params[rule.params.index(p)] for p in rule.tangents}
            assert by_adjoint == by_tangent, (primitive_name(fn), by_adjoint, by_tangent)
    used = _used_primitives()
    untested = sorted(
        primitive_name(fn)
        for r in records
        if not r.missing_tangent
        for fn in (r.canonical, *r.on_floats)
        if id(fn) not in used
    )
    assert not untested, f"tangent rules no function of {__file__} exercises: {untested}"


# --------------------------------------------------------------- the models


def test_seed_network_jvp_against_autograd_and_grad():
    from seed_network import init_params, loss, make_data

    W1, b1, W2, b2 = init_params(seed=3)
    b1 = b1 + 0.1
    x, y = make_data(16)
    args = (W1, b1, W2, b2, x, y)
    jf = assert_jvp_matches_fd(loss, *args, wrt=(0, 1, 2, 3))
    rng = np.random.default_rng(5)
    tangents = tuple(rng.normal(size=p.shape) for p in args[:4])
    value, tangent = jf(*args, tangents)

    def aloss(W1, b1, W2, b2):
        h = W1 @ x + b1
        a = 1 / (1 + anp.exp(-h))
        o = W2 @ a + b2
        yhat = 1 / (1 + anp.exp(-o))
        return 0.5 * anp.sum((yhat - y) ** 2)

    # autograd's jvp along each parameter's direction, summed
    expected = sum(autograd.make_jvp(aloss, i)(*args[:4])(tangents[i])[1] for i in range(4))
    np.testing.assert_allclose(tangent, expected, rtol=1e-10)
    grads = ad.grad(loss, wrt=(0, 1, 2, 3))(*args)
    np.testing.assert_allclose(
        tangent, sum(np.sum(g * t) for g, t in zip(grads, tangents, strict=True)), rtol=1e-10
    )
    assert "dW1 @ x" in jf.source


def test_mlp_with_list_parameters():
    params, x, labels = _mlp_args()
    jf = assert_jvp_matches_fd(mlp, params, x, labels, wrt=0)
    rng = np.random.default_rng(2)
    t = _random_like(params, rng)
    _, tangent = jf(params, x, labels, t)
    grads = ad.grad(mlp, wrt=0)(params, x, labels)
    dot = sum(np.sum(g * d) for g, d in zip(_leaves(grads), _leaves(t), strict=True))
    np.testing.assert_allclose(tangent, dot, rtol=1e-10)


def test_rnn_loop():
    h0, W, U, xs = rnn_args(seed=4)
    for wrt in (0, 1, (1, 2), (0, 1, 2, 3)):
        assert_jvp_matches_fd(rnn, h0, W, U, xs, wrt=wrt)

    def arnn(W):
        h = h0
        total = 0.0
        for t in range(xs.shape[0]):
            h = anp.tanh(W @ h + U @ xs[t])
            total = total + anp.sum(h * h)
        return total

    d = np.random.default_rng(5).normal(size=W.shape)
    _, expected = autograd.make_jvp(arnn)(W)(d)
    _, got = ad.jvp(rnn, wrt=1)(h0, W, U, xs, d)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    src = ad.jvp(rnn, wrt=1).source
    assert "for t in range" in src and "stack" not in src  # nothing is saved


def branchy(x, y):
    s = 0.0
    if np.sum(x) > 1.0:
        z = x * y
        s = np.sum(z)
    else:
        z = np.sin(x)
    while s < 5.0:
        s = s + np.sum(z * z) + 1.0
    return s * np.max(z)


def test_branches_and_while():
    assert_jvp_matches_fd(branchy, X, Y, wrt=(0, 1))
    assert_jvp_matches_fd(branchy, X * 0.1, Y, wrt=0)
    assert_jvp_matches_fd(branchy, X * 0.1, Y, wrt=1)  # the tangent is zero there


def inner(a, b):
    return np.tanh(a) * b


def recursive(x, n):
    if n <= 0:
        return x
    return recursive(np.sin(x), n - 1) * 2.0


def outer_fn(x, y):
    u = inner(x, y)
    v = inner(y, 3.0)
    return np.sum(u * v) + np.sum(recursive(x, 3))


def test_helper_calls_get_their_own_jvp():
    for wrt in (0, 1, (0, 1)):
        jf = assert_jvp_matches_fd(outer_fn, X, Y, wrt=wrt)
    assert "def jvp_inner" in jf.source and "def jvp_recursive" in jf.source

    def aouter(x):
        def ainner(a, b):
            return anp.tanh(a) * b

        def arec(x, n):
            return x if n <= 0 else arec(anp.sin(x), n - 1) * 2.0

        return anp.sum(ainner(x, Y) * ainner(Y, 3.0)) + anp.sum(arec(x, 3))

    d = np.array([0.3, -1.0, 0.5])
    np.testing.assert_allclose(
        ad.jvp(outer_fn)(X, Y, d)[1], autograd.make_jvp(aouter)(X)(d)[1], rtol=1e-10
    )


def containers_fn(p, x):
    a = p["w"] * x
    pair = (a, np.sum(p["b"]))
    out = [pair[0] + 1.0, pair[1] * x, p["b"]]
    return p, out, pair


def test_container_parameters_and_results():
    p = {"w": np.array([0.5, 1.5, -0.3]), "b": np.array([0.2, 0.4])}
    for wrt in ((0, 1), 0, 1):
        assert_jvp_matches_fd(containers_fn, p, X, wrt=wrt)
    _, (dp, _, _) = ad.jvp(containers_fn, wrt=1)(p, X, X)
    assert isinstance(dp, dict) and not np.any(dp["w"]) and not np.any(dp["b"])


def list_result(p, x):
    out = []
    for i in range(len(p)):
        out.append(p[i] * x)
    return out, (p[0], x[0])


def test_list_parameter_and_list_tuple_result():
    p = [np.array([0.5, 1.5, -0.3]), np.array([0.2, 0.4, 0.1])]
    assert_jvp_matches_fd(list_result, p, X, wrt=(0, 1))
    assert_jvp_matches_fd(list_result, p, X, wrt=0)
    assert_jvp_matches_fd(list_result, p, X, wrt=1)


def dict_param(p, x):
    return p["a"] * np.sin(x) + p["b"]


def test_dict_parameter():
    p = {"a": np.array([0.5, 1.5, -0.3]), "b": 0.7}
    assert_jvp_matches_fd(dict_param, p, X, wrt=(0, 1))


def inactive_result(x, y):
    return y * 2.0


def test_tangent_of_an_inactive_result_is_zero():
    value, t = ad.jvp(inactive_result, wrt=0)(X, Y, X)
    np.testing.assert_array_equal(t, np.zeros_like(Y))


# ------------------------------------------------------------ stop_gradient


def stopped(x, y):
    return np.sum(ad.stop_gradient(x * y) * x)


def test_stop_gradient_in_every_mode():
    assert ad.stop_gradient(X) is X
    expected = ad.stop_gradient(X * Y)  # the derivative sees it as a constant
    np.testing.assert_allclose(ad.grad(stopped)(X, Y), expected)
    np.testing.assert_allclose(ad.grad(stopped, wrt=1)(X, Y), np.zeros(3))
    d = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(ad.jvp(stopped)(X, Y, d)[1], np.sum(expected * d))
    np.testing.assert_allclose(ad.jacobian(stopped, mode="forward")(X, Y), expected)
    np.testing.assert_allclose(ad.jacobian(stopped, mode="reverse")(X, Y), expected)


# ----------------------------------------------------------------- jacobian


def vector_fn(x, W):
    return np.tanh(W @ x) * x[0]


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_matches_autograd(mode):
    rng = np.random.default_rng(7)
    x = rng.normal(size=3)
    W = rng.normal(size=(4, 3))
    J = ad.jacobian(vector_fn, wrt=(0, 1), mode=mode)
    Jx, JW = J(x, W)
    assert Jx.shape == (4, 3) and JW.shape == (4, 4, 3)

    def af(x, W):
        return anp.tanh(W @ x) * x[0]

    np.testing.assert_allclose(Jx, autograd.jacobian(af, 0)(x, W), rtol=1e-10)
    np.testing.assert_allclose(JW, autograd.jacobian(af, 1)(x, W), rtol=1e-10)
    single = ad.jacobian(vector_fn, wrt=0, mode=mode)(x, W)
    np.testing.assert_allclose(single, Jx, rtol=1e-12)


def test_jacobian_auto_takes_fewer_passes():
    rng = np.random.default_rng(8)
    x = rng.normal(size=3)
    W = rng.normal(size=(4, 3))
    J = ad.jacobian(vector_fn, wrt=0)  # 3 inputs, 4 outputs: forward
    J(x, W)
    assert J.last_mode == "forward"
    J = ad.jacobian(vector_fn, wrt=1)  # 12 inputs, 4 outputs: reverse
    J(x, W)
    assert J.last_mode == "reverse"
    np.testing.assert_allclose(
        ad.jacobian(vector_fn, wrt=1, mode="forward")(x, W), J(x, W), rtol=1e-12
    )


def test_jacobian_of_scalar_function_is_its_gradient():
    from seed_network import init_params, loss, make_data

    W1, b1, W2, b2 = init_params(seed=1)
    x, y = make_data(8)
    J = ad.jacobian(loss, wrt=(0, 1), mode="forward")(W1, b1, W2, b2, x, y)
    G = ad.grad(loss, wrt=(0, 1))(W1, b1, W2, b2, x, y)
    for j, g in zip(J, G, strict=True):
        assert j.shape == g.shape
        np.testing.assert_allclose(j, g, rtol=1e-10, atol=1e-14)


def test_jacobian_mode_is_checked():
    with pytest.raises(ad.AdCompileError, match="mode"):
        ad.jacobian(vector_fn, mode="sideways")


# ------------------------------------------------------------ custom rules


def my_softplus(x):
    return np.log1p(np.exp(x))


def uses_softplus(x):
    return np.sum(my_softplus(x) * x)


def test_custom_tangent_rule_and_refusal_without_one():
    state = snapshot()
    try:

        @ad.adjoint(my_softplus, shape="unary elementwise")
        def softplus_adjoint(dy, y, x):
            return dy / (1 + np.exp(-x))

        assert np.allclose(
            ad.grad(uses_softplus)(X),
            my_softplus(X) + X / (1 + np.exp(-X)),
        )
        with pytest.raises(ad.AdCompileError) as info:
            ad.jvp(uses_softplus)(X, X)
        message = str(info.value)
        assert "no tangent rule" in message and "@adcompile.tangent(" in message
        assert "test_forward.py" in message and "my_softplus(x)" in message

        @ad.tangent(my_softplus)
        def softplus_tangent(dx, y, x):
            return dx / (1 + np.exp(-x))

        assert_jvp_matches_fd(uses_softplus, X)
        assert "dx" not in ad.jvp(uses_softplus).source.split("def ")[1].split("(")[0]
    finally:
        restore(state)


def running_rows(x):
    return np.sum(np.nancumsum(x, -1) ** 2)


def test_a_keyword_the_called_function_defaults_otherwise_is_kept():
    """A tangent template's keyword argument equal to the template's own default is
    left out of the code only where the function it calls has that default too:
    np.cumsum(da, axis=-1) keeps its axis (np.cumsum's default is None)."""
    state = snapshot()
    try:

        @ad.adjoint(np.nancumsum, shape="unknown")
        def nancumsum_adjoint(dy, y, a, axis=-1):
            return np.flip(np.cumsum(np.flip(dy, axis), axis=axis), axis)

        @ad.tangent(np.nancumsum)
        def nancumsum_tangent(da, y, a, axis=-1):
            return np.cumsum(da, axis=axis)

        assert_jvp_matches_fd(running_rows, M)
        assert "axis=-1" in ad.jvp(running_rows).source
    finally:
        restore(state)


def test_tangent_without_adjoint_is_refused():
    def lonely(x):
        return x

    with pytest.raises(ad.AdCompileError, match="no adjoint rule"):

        @ad.tangent(lonely)
        def lonely_tangent(dx, y, x):
            return dx


def test_tangent_template_signature_is_checked():
    state = snapshot()
    try:
        with pytest.raises(ad.AdCompileError, match="tangents"):

            @ad.tangent(np.tanh, override=True)
            def bad(y, x):
                return y
    finally:
        restore(state)


# ------------------------------------------------------- generated code, CLI


def test_generated_code_holds_only_active_terms():
    src = ad.jvp(f_multiply, wrt=0).source
    assert "dx * y" in src and "dy" not in src.replace("def jvp", "")
    src = ad.jvp(f_multiply, wrt=(0, 1)).source
    assert "dx * y + x * dy" in src
    assert "broadcast_like" not in ad.jvp(f_exp).source


def square_of_tanh(x, w):
    t = np.tanh(x)
    u = t * t
    e = np.exp(-x)
    return np.sum(u * w) + np.sum(e * w) + np.sum(np.transpose(x) @ w)


def square_of_tanh_autograd(x, w):
    t = anp.tanh(x)
    return anp.sum(t * t * w) + anp.sum(anp.exp(-x) * w) + anp.sum(anp.transpose(x) @ w)


def test_tangent_code_without_redundant_work_is_exact():
    rng = np.random.default_rng(5)
    x, w, dx = rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    jf = assert_jvp_matches_fd(square_of_tanh, x, w, wrt=0)
    src = jf.source
    # the product rule of t * t is one doubled product, not dt * t + t * dt
    assert "2.0 * (dt * t)" in src
    # -x's tangent goes into the one statement that reads it (as a sign)
    assert not any(line.strip().startswith("de_1 = -") for line in src.splitlines())
    # np.transpose(dx, None) is np.transpose(dx)
    assert "np.transpose(dx)" in src and "None" not in src
    _, tangent = jf(x, w, dx)
    expected = autograd.make_jvp(square_of_tanh_autograd)(x, w)(dx)[1]
    np.testing.assert_allclose(tangent, expected, rtol=1e-13)
    # the hvp goes through the same tangent code: against differences of the gradient
    g = ad.grad(square_of_tanh)
    eps = 1e-6
    fd = (g(x + eps * dx, w) - g(x - eps * dx, w)) / (2 * eps)
    np.testing.assert_allclose(ad.hvp(square_of_tanh)(x, w, dx), fd, rtol=1e-6, atol=1e-8)


def test_show_and_source():
    jf = ad.jvp(f_tanh)
    assert "def jvp_f_tanh(x, dx)" in jf.source
    assert "dx * (1 - y * y)" in jf.source.replace("f_tanh", "y").replace("x_1", "x") or (
        "(1 - " in jf.source
    )
    import io

    from rich.console import Console

    buf = io.StringIO()
    jf.show(console=Console(file=buf, force_terminal=False))
    assert buf.getvalue().strip() == jf.source.strip()


def test_cli_show_mode_jvp():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "adcompile",
            "show",
            "examples/seed_network.py:loss",
            "--wrt",
            "W1",
            "--mode",
            "jvp",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "def jvp_loss(W1, b1, W2, b2, x, y, dW1):" in out
    assert "dh_1 = dW1 @ x" in out


def test_module_names_are_project_only():
    # the public names of the forward API
    for name in ("jvp", "jacobian", "stop_gradient", "tangent", "JvpFunction"):
        assert hasattr(ad, name)
    assert isinstance(ad.stop_gradient, types.FunctionType)


def test_tangent_of_another_shape_or_structure_is_refused():
    with pytest.raises(ad.AdCompileError, match=r"tangent of x is shape \(2,\)"):
        ad.jvp(f_exp)(X, np.ones(2))
    p = [np.array([0.5, 1.5, -0.3]), np.array([0.2, 0.4, 0.1])]
    with pytest.raises(ad.AdCompileError, match=r"tangent of p is a list.*a list of 2"):
        ad.jvp(list_result)(p, X, [np.ones(3)])
    with pytest.raises(ad.AdCompileError, match=r"needs 2 tangents"):
        ad.jvp(f_multiply, wrt=(0, 1))(X, Y, X)
    with pytest.raises(ad.AdCompileError, match=r"tangent of p\['b'\]"):
        ad.jvp(dict_param)({"a": X, "b": 0.7}, X, {"a": X, "b": "zero"})
    # a Python float parameter takes a float (or 0-d) tangent
    assert ad.jvp(f_full)(0.7, 1.0)[1].shape == (2, 3)


SCALE = 2.0


def scaled_by_global(x):
    return np.sum(SCALE * x * x)


def test_a_rebound_global_recompiles():
    global SCALE
    jf = ad.jvp(scaled_by_global)
    d = np.ones(3)
    first = jf(X, d)[1]
    SCALE = 3.0
    try:
        np.testing.assert_allclose(jf(X, d)[1], 1.5 * first)
    finally:
        SCALE = 2.0


def counts(x, n):
    return np.sum(x) * n


def accumulate(x, y):
    x += y
    return np.sum(x * y)


def test_arguments_are_checked_as_for_grad():
    with pytest.raises(ad.AdCompileError, match="it is an integer"):
        ad.jvp(counts, wrt=1)(X, 3, 1)
    # x += y in the function: x and y must not be the same array
    a = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ad.AdCompileError, match="same array"):
        ad.jvp(accumulate, wrt=(0, 1))(a, a, (X, X))
    assert_jvp_matches_fd(accumulate, X.copy(), Y.copy(), wrt=(0, 1))
    a, b = X.copy(), Y.copy()
    ad.jvp(accumulate, wrt=(0, 1))(a, b, (Y, X))
    np.testing.assert_array_equal(a, X)  # the generated code writes into no argument


def early_exit(x, y):
    total = 0.0
    for i in range(10):
        if total > 2.0:
            break
        total = total + np.sum(x * y) * (i + 1)
    if total > 100.0:
        return total
    k = 0
    while k < 3:
        k = k + 1
        if k == 2:
            continue
        total = total * np.tanh(np.sum(x))
    return total


def pair_helper(a, b):
    return a * b, [a + b, np.sin(a)]


def uses_pair(x, y, unused):
    p, rest = pair_helper(x, y)
    q, _ = pair_helper(y, 2.0)  # inactive for wrt x alone
    return np.sum(p * q) + np.sum(rest[1]) + np.sum(rest[0] ** 2)


def test_break_continue_early_return():
    for wrt in (0, 1, (0, 1)):
        assert_jvp_matches_fd(early_exit, X, Y, wrt=wrt)
        assert_jvp_matches_fd(early_exit, X * 5, Y * 5, wrt=wrt)


def test_helper_returning_containers_and_an_unused_parameter():
    for wrt in (0, 1, 2, (0, 1, 2)):
        assert_jvp_matches_fd(uses_pair, X, Y, 0.5, wrt=wrt)
    _, t = ad.jvp(uses_pair, wrt=2)(X, Y, 0.5, 1.0)
    assert t == 0.0


def float_params(a, b):
    c = a * b + math.sin(a)
    for _ in range(3):
        c = c * 0.5 + math.exp(-c)
    return c


def test_python_floats_stay_floats():
    value, t = ad.jvp(float_params, wrt=(0, 1))(0.3, 0.7, (1.0, 0.5))
    assert type(value) is float and type(t) is float
    assert_jvp_matches_fd(float_params, 0.3, 0.7, wrt=(0, 1))


def test_jacobian_of_floats_and_containers():
    for mode in ("forward", "reverse", "auto"):
        J = ad.jacobian(float_params, wrt=(0, 1), mode=mode)(0.3, 0.7)
        e = 1e-6
        ja = (float_params(0.3 + e, 0.7) - float_params(0.3 - e, 0.7)) / (2 * e)
        jb = (float_params(0.3, 0.7 + e) - float_params(0.3, 0.7 - e)) / (2 * e)
        assert np.shape(J[0]) == () and np.shape(J[1]) == ()
        np.testing.assert_allclose([J[0], J[1]], [ja, jb], rtol=1e-6, atol=1e-10)
    with pytest.raises(ad.AdCompileError, match="jacobian: the parameter 'p' is a list"):
        ad.jacobian(list_result)([X, Y], X)
    with pytest.raises(ad.AdCompileError, match="returns a tuple"):
        ad.jacobian(list_result, wrt=1)([X, Y], X)
    J = ad.jacobian(f_tanh, mode="forward")
    J(X)
    assert "def jvp_f_tanh" in J.source


def test_cli_refuses_shapes_with_jvp():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "adcompile",
            "show",
            "examples/seed_network.py:loss",
            "--mode",
            "jvp",
            "--shapes",
            "W1=8x4,b1=8x1,W2=1x8,b2=1x1,x=4x16,y=1x16",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "forward-mode code is not specialised" in proc.stderr


def straight_through(x):
    return np.sum(np.tanh(x) * x)


def test_replacing_a_builtin_adjoint_drops_its_tangent_rule():
    """A user's adjoint for np.tanh (a straight-through estimator, say) is a derivative
    the built-in tangent rule does not know: forward mode refuses until a tangent rule
    agreeing with it is registered."""
    state = snapshot()
    try:

        @ad.adjoint(np.tanh, override=True)
        def identity_adjoint(dy, y, x):
            return dy

        with pytest.raises(ad.AdCompileError, match=r"@adcompile.tangent\(np.tanh\)"):
            ad.jvp(straight_through)(X, X)

        @ad.tangent(np.tanh)
        def identity_tangent(dx, y, x):
            return dx

        d = np.array([1.0, -1.0, 0.5])
        g = ad.grad(straight_through)(X)
        np.testing.assert_allclose(ad.jvp(straight_through)(X, d)[1], np.sum(g * d))
    finally:
        restore(state)
    assert_jvp_matches_fd(straight_through, X)  # the built-in rules again


def test_notebook_display_is_the_source():
    jf = ad.jvp(f_tanh)
    assert "jvp_f_tanh" in jf._repr_html_() and jf.source in jf._repr_markdown_()


def test_export_is_a_module_that_needs_only_numpy(tmp_path):
    text = ad.jvp(outer_fn, wrt=(0, 1)).export()
    scope: dict = {}
    exec(compile(text, str(tmp_path / "exported.py"), "exec"), scope)
    got = scope["jvp_outer_fn"](X, Y, Y, X)
    want = ad.jvp(outer_fn, wrt=(0, 1))(X, Y, (Y, X))
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert "from adcompile" not in text.split('"""', 2)[2]  # needs only numpy
    assert ad.jvp(outer_fn).source.startswith("# generated by adcompile from outer_fn")


def test_cli_export_mode_jvp(tmp_path):
    out = tmp_path / "jvp_loss.py"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "adcompile",
            "export",
            "examples/seed_network.py:loss",
            "--wrt",
            "W1",
            "--mode",
            "jvp",
            "-o",
            str(out),
        ],
        cwd=ROOT,
        check=True,
    )
    scope: dict = {}
    exec(compile(out.read_text(), str(out), "exec"), scope)
    from seed_network import init_params, loss, make_data

    W1, b1, W2, b2 = init_params()
    x, y = make_data(8)
    d = np.ones_like(W1)
    np.testing.assert_allclose(
        scope["jvp_loss"](W1, b1, W2, b2, x, y, d)[1],
        ad.jvp(loss)(W1, b1, W2, b2, x, y, d)[1],
        rtol=1e-12,
    )


def test_cli_memory_is_for_reverse_mode():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "adcompile",
            "show",
            "examples/seed_network.py:loss",
            "--mode",
            "jvp",
            "--memory",
            "--shapes",
            "W1=8x4,b1=8x1,W2=1x8,b2=1x1,x=4x16,y=1x16",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "a grad or value_and_grad" in proc.stderr
