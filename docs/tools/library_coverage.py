"""Which functions of autograd's derivative table adcompile differentiates.

autograd (the reference for reverse-mode AD of numpy) has derivative rules for
163 public functions of numpy, numpy.linalg, numpy.fft and scipy.special, and for
scipy.integrate.odeint. Each one gets a one-line probe below, ``np.sum(f(...) * w)``
with random weights ``w`` (for a complex result, through ``np.abs``), and the probe's
gradient with respect to every float argument is compared with central finite
differences.
Each function then lands in one of four rows:

- ``ok``: differentiated, and agrees with finite differences to 1e-5;
- ``refused``: a located AdCompileError that names the function, with its reason;
- ``wrong``: a gradient that disagrees (must never happen);
- ``crash``: any other exception (must never happen).

``python docs/tools/library_coverage.py`` prints the table; with ``--write`` it
also rewrites docs/coverage.md, which tests/test_library_coverage.py keeps current.

The arguments follow the parameter names of each probe: ``x``, ``y``, ``z`` are
3x4 arrays in (0.2, 0.8); ``p``, ``q`` are 3x4 arrays in (1.2, 2); ``a`` is a 4x4
well-conditioned matrix, ``s`` a 4x4 symmetric positive definite one, ``m`` a 4x3
matrix of full rank (``s + s.T`` where a function reads one triangle of a symmetric
matrix, so that finite differences see the same function); ``u``, ``v`` are 2x3
arrays (rows of 3-vectors); ``t`` is the float 0.7; ``w`` is made to the shape of
what it multiplies.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.integrate as integrate
import scipy.special as special

import adcompile as ad

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "docs" / "coverage.md"

# ---------------------------------------------------------------- the probes
# (library, autograd's name, probe). A probe of None: the function is not in this numpy.

P = []


def probe(library: str, *names: str):
    def register(fn):
        for name in names:
            P.append((library, name, fn))
        return fn

    return register


def absent(library: str, name: str, why: str) -> None:
    P.append((library, name, why))


# numpy: elementwise
@probe("numpy", "abs")
def p_abs(x, w):
    return np.sum(np.abs(x - 0.5) * w)


@probe("numpy", "absolute")
def p_absolute(x, w):
    return np.sum(np.absolute(x - 0.5) * w)


@probe("numpy", "fabs")
def p_fabs(x, w):
    return np.sum(np.fabs(x - 0.5) * w)


@probe("numpy", "negative")
def p_negative(x, w):
    return np.sum(np.negative(x) * w)


@probe("numpy", "reciprocal")
def p_reciprocal(x, w):
    return np.sum(np.reciprocal(x) * w)


@probe("numpy", "exp")
def p_exp(x, w):
    return np.sum(np.exp(x) * w)


@probe("numpy", "exp2")
def p_exp2(x, w):
    return np.sum(np.exp2(x) * w)


@probe("numpy", "expm1")
def p_expm1(x, w):
    return np.sum(np.expm1(x) * w)


@probe("numpy", "log")
def p_log(x, w):
    return np.sum(np.log(x) * w)


@probe("numpy", "log2")
def p_log2(x, w):
    return np.sum(np.log2(x) * w)


@probe("numpy", "log10")
def p_log10(x, w):
    return np.sum(np.log10(x) * w)


@probe("numpy", "log1p")
def p_log1p(x, w):
    return np.sum(np.log1p(x) * w)


@probe("numpy", "sin")
def p_sin(x, w):
    return np.sum(np.sin(x) * w)


@probe("numpy", "cos")
def p_cos(x, w):
    return np.sum(np.cos(x) * w)


@probe("numpy", "tan")
def p_tan(x, w):
    return np.sum(np.tan(x) * w)


@probe("numpy", "arcsin")
def p_arcsin(x, w):
    return np.sum(np.arcsin(x) * w)


@probe("numpy", "arccos")
def p_arccos(x, w):
    return np.sum(np.arccos(x) * w)


@probe("numpy", "arctan")
def p_arctan(x, w):
    return np.sum(np.arctan(x) * w)


@probe("numpy", "sinh")
def p_sinh(x, w):
    return np.sum(np.sinh(x) * w)


@probe("numpy", "cosh")
def p_cosh(x, w):
    return np.sum(np.cosh(x) * w)


@probe("numpy", "tanh")
def p_tanh(x, w):
    return np.sum(np.tanh(x) * w)


@probe("numpy", "arcsinh")
def p_arcsinh(x, w):
    return np.sum(np.arcsinh(x) * w)


@probe("numpy", "arccosh")
def p_arccosh(p, w):
    return np.sum(np.arccosh(p) * w)


@probe("numpy", "arctanh")
def p_arctanh(x, w):
    return np.sum(np.arctanh(x) * w)


@probe("numpy", "rad2deg")
def p_rad2deg(x, w):
    return np.sum(np.rad2deg(x) * w)


@probe("numpy", "degrees")
def p_degrees(x, w):
    return np.sum(np.degrees(x) * w)


@probe("numpy", "deg2rad")
def p_deg2rad(x, w):
    return np.sum(np.deg2rad(x) * w)


@probe("numpy", "radians")
def p_radians(x, w):
    return np.sum(np.radians(x) * w)


@probe("numpy", "square")
def p_square(x, w):
    return np.sum(np.square(x) * w)


@probe("numpy", "sqrt")
def p_sqrt(x, w):
    return np.sum(np.sqrt(x) * w)


@probe("numpy", "sinc")
def p_sinc(x, w):
    return np.sum(np.sinc(x) * w)


@probe("numpy", "nan_to_num")
def p_nan_to_num(x, w):
    return np.sum(np.nan_to_num(x) * w)


@probe("numpy", "real")
def p_real(x, w):
    return np.sum(np.real(x) * w)


@probe("numpy", "real_if_close")
def p_real_if_close(x, w):
    return np.sum(np.real_if_close(x) * w)


@probe("numpy", "imag")
def p_imag(x, w):
    return np.sum((np.imag(x) + x) * w)


@probe("numpy", "conj")
def p_conj(x, w):
    return np.sum(np.conj(x) * w)


@probe("numpy", "conjugate")
def p_conjugate(x, w):
    return np.sum(np.conjugate(x) * w)


@probe("numpy", "angle")
def p_angle(x, w):
    return np.sum((np.angle(x - 0.5) + x) * w)


@probe("numpy", "clip")
def p_clip(x, w):
    return np.sum(np.clip(x, 0.3, 0.7) * w)


# numpy: binary elementwise
@probe("numpy", "add")
def p_add(x, y, w):
    return np.sum(np.add(x, y) * w)


@probe("numpy", "subtract")
def p_subtract(x, y, w):
    return np.sum(np.subtract(x, y) * w)


@probe("numpy", "multiply")
def p_multiply(x, y, w):
    return np.sum(np.multiply(x, y) * w)


@probe("numpy", "divide")
def p_divide(x, y, w):
    return np.sum(np.divide(x, y) * w)


@probe("numpy", "true_divide")
def p_true_divide(x, y, w):
    return np.sum(np.true_divide(x, y) * w)


@probe("numpy", "power")
def p_power(x, y, w):
    return np.sum(np.power(x, y) * w)


@probe("numpy", "mod")
def p_mod(p, x, w):
    return np.sum(np.mod(p, x) * w)


@probe("numpy", "remainder")
def p_remainder(p, x, w):
    return np.sum(np.remainder(p, x) * w)


@probe("numpy", "maximum")
def p_maximum(x, y, w):
    return np.sum(np.maximum(x, y) * w)


@probe("numpy", "minimum")
def p_minimum(x, y, w):
    return np.sum(np.minimum(x, y) * w)


@probe("numpy", "fmax")
def p_fmax(x, y, w):
    return np.sum(np.fmax(x, y) * w)


@probe("numpy", "fmin")
def p_fmin(x, y, w):
    return np.sum(np.fmin(x, y) * w)


@probe("numpy", "arctan2")
def p_arctan2(x, y, w):
    return np.sum(np.arctan2(x, y) * w)


@probe("numpy", "hypot")
def p_hypot(x, y, w):
    return np.sum(np.hypot(x, y) * w)


@probe("numpy", "logaddexp")
def p_logaddexp(x, y, w):
    return np.sum(np.logaddexp(x, y) * w)


@probe("numpy", "logaddexp2")
def p_logaddexp2(x, y, w):
    return np.sum(np.logaddexp2(x, y) * w)


@probe("numpy", "where")
def p_where(x, y, w):
    return np.sum(np.where(x > 0.5, x, y) * w)


# numpy: reductions and accumulations
@probe("numpy", "sum")
def p_sum(x, w):
    return np.sum(np.sum(x, axis=0) * w)


@probe("numpy", "mean")
def p_mean(x, w):
    return np.sum(np.mean(x, axis=1) * w)


@probe("numpy", "var")
def p_var(x, w):
    return np.sum(np.var(x, axis=1) * w)


@probe("numpy", "std")
def p_std(x, w):
    return np.sum(np.std(x, axis=0) * w)


@probe("numpy", "prod")
def p_prod(x, w):
    return np.sum(np.prod(x, axis=0) * w)


@probe("numpy", "max")
def p_max(x, w):
    return np.sum(np.max(x, axis=1) * w)


@probe("numpy", "min")
def p_min(x, w):
    return np.sum(np.min(x, axis=1) * w)


@probe("numpy", "amax")
def p_amax(x, w):
    return np.sum(np.amax(x, axis=0) * w)


@probe("numpy", "amin")
def p_amin(x, w):
    return np.sum(np.amin(x, axis=0) * w)


@probe("numpy", "cumsum")
def p_cumsum(x, w):
    return np.sum(np.cumsum(x, axis=1) * w)


@probe("numpy", "diff")
def p_diff(x, w):
    return np.sum(np.diff(x, axis=1) * w)


@probe("numpy", "gradient")
def p_gradient(x, w):
    return np.sum(np.gradient(x, axis=1) * w)


@probe("numpy", "sort")
def p_sort(x, w):
    return np.sum(np.sort(x, axis=1) * w)


absent("numpy", "msort", "np.msort was removed in numpy 2.0 (np.sort(a, axis=0) replaces it)")


@probe("numpy", "partition")
def p_partition(x, w):
    return np.sum(np.partition(x, 2, axis=1) * w)


# numpy: shapes and rearrangements
@probe("numpy", "reshape")
def p_reshape(x, w):
    return np.sum(np.reshape(x, (4, 3)) * w)


@probe("numpy", "ravel")
def p_ravel(x, w):
    return np.sum(np.ravel(x) * w)


@probe("numpy", "expand_dims")
def p_expand_dims(x, w):
    return np.sum(np.expand_dims(x, 1) * w)


@probe("numpy", "squeeze")
def p_squeeze(x, w):
    return np.sum(np.squeeze(x[:1]) * w)


@probe("numpy", "transpose")
def p_transpose(x, w):
    return np.sum(np.transpose(x) * w)


@probe("numpy", "swapaxes")
def p_swapaxes(x, w):
    return np.sum(np.swapaxes(x, 0, 1) * w)


@probe("numpy", "moveaxis")
def p_moveaxis(x, w):
    return np.sum(np.moveaxis(x, 0, 1) * w)


@probe("numpy", "rollaxis")
def p_rollaxis(x, w):
    return np.sum(np.rollaxis(x, 1) * w)


@probe("numpy", "broadcast_to")
def p_broadcast_to(x, w):
    return np.sum(np.broadcast_to(x, (2, 3, 4)) * w)


@probe("numpy", "roll")
def p_roll(x, w):
    return np.sum(np.roll(x, 1, axis=1) * w)


@probe("numpy", "flipud")
def p_flipud(x, w):
    return np.sum(np.flipud(x) * w)


@probe("numpy", "fliplr")
def p_fliplr(x, w):
    return np.sum(np.fliplr(x) * w)


@probe("numpy", "rot90")
def p_rot90(x, w):
    return np.sum(np.rot90(x) * w)


@probe("numpy", "diag")
def p_diag(a, w):
    return np.sum(np.diag(a) * w)


@probe("numpy", "diagonal")
def p_diagonal(a, w):
    return np.sum(np.diagonal(a, 1) * w)


@probe("numpy", "trace")
def p_trace(a, w):
    return np.sum(np.trace(a) * w)


@probe("numpy", "triu")
def p_triu(a, w):
    return np.sum(np.triu(a) * w)


@probe("numpy", "tril")
def p_tril(a, w):
    return np.sum(np.tril(a, -1) * w)


@probe("numpy", "repeat")
def p_repeat(x, w):
    return np.sum(np.repeat(x, 2, axis=0) * w)


@probe("numpy", "tile")
def p_tile(x, w):
    return np.sum(np.tile(x, (2, 1)) * w)


@probe("numpy", "pad")
def p_pad(x, w):
    return np.sum(np.pad(x, 1) * w)


@probe("numpy", "atleast_1d")
def p_atleast_1d(t, w):
    return np.sum(np.atleast_1d(t) * w)


@probe("numpy", "atleast_2d")
def p_atleast_2d(x, w):
    return np.sum(np.atleast_2d(x[0]) * w)


@probe("numpy", "atleast_3d")
def p_atleast_3d(x, w):
    return np.sum(np.atleast_3d(x) * w)


@probe("numpy", "split")
def p_split(x, w):
    return np.sum(np.split(x, 2, axis=1)[1] * w) + np.sum(np.split(x, [1, 3], axis=1)[2] * w)


@probe("numpy", "array_split")
def p_array_split(x, w):
    return np.sum(np.array_split(x, 3, axis=1)[0] * w) + np.sum(np.array_split(x, [1], 1)[0])


@probe("numpy", "hsplit")
def p_hsplit(x, w):
    return np.sum(np.hsplit(x, 2)[0] * w)


@probe("numpy", "vsplit")
def p_vsplit(p, w):
    return np.sum(np.vsplit(p, 3)[2] * w)


@probe("numpy", "dsplit")
def p_dsplit(x, w):
    return np.sum(np.dsplit(np.reshape(x, (1, 3, 4)), 2)[1] * w)


@probe("numpy", "concatenate")
def p_concatenate(x, y, w):
    return np.sum(np.concatenate([x, y], axis=1) * w)


@probe("numpy", "array")
def p_array(x, y, w):
    return np.sum(np.array([x, y]) * w)


@probe("numpy", "astype")
def p_astype(x, w):
    return np.sum(x.astype(np.float64) * w)


@probe("numpy", "full")
def p_full(t, w):
    return np.sum(np.full((3, 4), t) * w)


@probe("numpy", "linspace")
def p_linspace(t, w):
    return np.sum(np.linspace(t, 2.5, 5) * w)


# numpy: products
@probe("numpy", "dot")
def p_dot(x, m, w):
    return np.sum(np.dot(x, m) * w)


@probe("numpy", "matmul")
def p_matmul(x, m, w):
    return np.sum(np.matmul(x, m) * w)


@probe("numpy", "inner")
def p_inner(x, y, w):
    return np.sum(np.inner(x, y) * w)


@probe("numpy", "outer")
def p_outer(x, y, w):
    return np.sum(np.outer(x[0], y[1]) * w)


@probe("numpy", "tensordot")
def p_tensordot(x, y, w):
    return np.sum(np.tensordot(x, y, axes=([1], [1])) * w)


@probe("numpy", "einsum")
def p_einsum(x, y, a, w):
    return np.sum(np.einsum("ij,kj,jl->ikl", x, y, a) * w)


@probe("numpy", "kron")
def p_kron(x, a, w):
    return np.sum(np.kron(x, a) * w)


@probe("numpy", "cross")
def p_cross(u, v, w):
    return np.sum(np.cross(u, v) * w)


# numpy.linalg
@probe("numpy.linalg", "det")
def p_det(a, w):
    return np.sum(np.linalg.det(a) * w)


@probe("numpy.linalg", "slogdet")
def p_slogdet(a, w):
    return np.sum(np.linalg.slogdet(a)[1] * w)


@probe("numpy.linalg", "inv")
def p_inv(a, w):
    return np.sum(np.linalg.inv(a) * w)


@probe("numpy.linalg", "pinv")
def p_pinv(m, w):
    return np.sum(np.linalg.pinv(m) * w)


@probe("numpy.linalg", "solve")
def p_solve(a, m, w):
    return np.sum(np.linalg.solve(a, m) * w)


@probe("numpy.linalg", "norm")
def p_norm(x, w):
    return np.sum(np.linalg.norm(x, axis=1) * w)


@probe("numpy.linalg", "eigh")
def p_eigh(s, w):
    return np.sum(np.linalg.eigh(s + s.T)[0] * w)


@probe("numpy.linalg", "eig")
def p_eig(s, w):
    return np.sum(np.linalg.eig(s + s.T)[0] * w)


@probe("numpy.linalg", "cholesky")
def p_cholesky(s, w):
    return np.sum(np.linalg.cholesky(s + s.T) * w)


@probe("numpy.linalg", "svd")
def p_svd(m, w):
    return np.sum(np.linalg.svd(m, compute_uv=False) * w)


# numpy.fft: complex results feed the loss through np.abs
@probe("numpy.fft", "fft")
def p_fft(x, w):
    return np.sum(np.abs(np.fft.fft(x)) * w)


@probe("numpy.fft", "ifft")
def p_ifft(x, w):
    return np.sum(np.abs(np.fft.ifft(x)) * w)


@probe("numpy.fft", "fft2")
def p_fft2(x, w):
    return np.sum(np.abs(np.fft.fft2(x)) * w)


@probe("numpy.fft", "ifft2")
def p_ifft2(x, w):
    return np.sum(np.abs(np.fft.ifft2(x)) * w)


@probe("numpy.fft", "fftn")
def p_fftn(x, w):
    return np.sum(np.abs(np.fft.fftn(x)) * w)


@probe("numpy.fft", "ifftn")
def p_ifftn(x, w):
    return np.sum(np.abs(np.fft.ifftn(x)) * w)


@probe("numpy.fft", "rfft")
def p_rfft(x, w):
    return np.sum(np.abs(np.fft.rfft(x)) * w)


@probe("numpy.fft", "irfft")
def p_irfft(x, w):
    return np.sum(np.fft.irfft(x) * w)


@probe("numpy.fft", "rfft2")
def p_rfft2(x, w):
    return np.sum(np.abs(np.fft.rfft2(x)) * w)


@probe("numpy.fft", "irfft2")
def p_irfft2(x, w):
    return np.sum(np.fft.irfft2(x) * w)


@probe("numpy.fft", "rfftn")
def p_rfftn(x, w):
    return np.sum(np.abs(np.fft.rfftn(x)) * w)


@probe("numpy.fft", "irfftn")
def p_irfftn(x, w):
    return np.sum(np.fft.irfftn(x) * w)


@probe("numpy.fft", "fftshift")
def p_fftshift(x, w):
    return np.sum(np.fft.fftshift(x) * w)


@probe("numpy.fft", "ifftshift")
def p_ifftshift(x, w):
    return np.sum(np.fft.ifftshift(x) * w)


# scipy.special (the arguments autograd differentiates; the others are constants)
@probe("scipy.special", "gamma")
def p_gamma(p, w):
    return np.sum(special.gamma(p) * w)


@probe("scipy.special", "gammaln")
def p_gammaln(p, w):
    return np.sum(special.gammaln(p) * w)


@probe("scipy.special", "gammasgn")
def p_gammasgn(p, w):
    return np.sum((special.gammasgn(p) + p) * w)


@probe("scipy.special", "rgamma")
def p_rgamma(p, w):
    return np.sum(special.rgamma(p) * w)


@probe("scipy.special", "digamma")
def p_digamma(p, w):
    return np.sum(special.digamma(p) * w)


@probe("scipy.special", "psi")
def p_psi(p, w):
    return np.sum(special.psi(p) * w)


@probe("scipy.special", "polygamma")
def p_polygamma(p, w):
    return np.sum(special.polygamma(1, p) * w)


@probe("scipy.special", "multigammaln")
def p_multigammaln(t, w):
    return np.sum(special.multigammaln(t + 2.0, 3) * w)


@probe("scipy.special", "beta")
def p_beta(p, q, w):
    return np.sum(special.beta(p, q) * w)


@probe("scipy.special", "betaln")
def p_betaln(p, q, w):
    return np.sum(special.betaln(p, q) * w)


@probe("scipy.special", "betainc")
def p_betainc(x, w):
    return np.sum(special.betainc(1.5, 2.5, x) * w)


@probe("scipy.special", "gammainc")
def p_gammainc(p, w):
    return np.sum(special.gammainc(1.5, p) * w)


@probe("scipy.special", "gammaincc")
def p_gammaincc(p, w):
    return np.sum(special.gammaincc(1.5, p) * w)


@probe("scipy.special", "erf")
def p_erf(x, w):
    return np.sum(special.erf(x) * w)


@probe("scipy.special", "erfc")
def p_erfc(x, w):
    return np.sum(special.erfc(x) * w)


@probe("scipy.special", "erfinv")
def p_erfinv(x, w):
    return np.sum(special.erfinv(x) * w)


@probe("scipy.special", "erfcinv")
def p_erfcinv(x, w):
    return np.sum(special.erfcinv(x) * w)


@probe("scipy.special", "j0")
def p_j0(p, w):
    return np.sum(special.j0(p) * w)


@probe("scipy.special", "j1")
def p_j1(p, w):
    return np.sum(special.j1(p) * w)


@probe("scipy.special", "y0")
def p_y0(p, w):
    return np.sum(special.y0(p) * w)


@probe("scipy.special", "y1")
def p_y1(p, w):
    return np.sum(special.y1(p) * w)


@probe("scipy.special", "jn")
def p_jn(p, w):
    return np.sum(special.jn(2, p) * w)


@probe("scipy.special", "yn")
def p_yn(p, w):
    return np.sum(special.yn(2, p) * w)


@probe("scipy.special", "i0")
def p_i0(p, w):
    return np.sum(special.i0(p) * w)


@probe("scipy.special", "i1")
def p_i1(p, w):
    return np.sum(special.i1(p) * w)


@probe("scipy.special", "iv")
def p_iv(p, w):
    return np.sum(special.iv(2.0, p) * w)


@probe("scipy.special", "ive")
def p_ive(p, w):
    return np.sum(special.ive(2.0, p) * w)


@probe("scipy.special", "logit")
def p_logit(x, w):
    return np.sum(special.logit(x) * w)


@probe("scipy.special", "expit")
def p_expit(x, w):
    return np.sum(special.expit(x) * w)


@probe("scipy.special", "logsumexp")
def p_logsumexp(x, w):
    return np.sum(special.logsumexp(x, axis=1) * w)


# scipy.integrate: an ODE solve, differentiated by the adjoint method (tight tolerances,
# so that the solver's error stays far below the finite differences' step)
def _decay(y, time, rate):
    return -rate * y + np.sin(time)


@probe("scipy.integrate", "odeint")
def p_odeint(x, t, w):
    times = np.linspace(0.0, 1.0, 3)
    return np.sum(integrate.odeint(_decay, x[0], times, args=(t,), rtol=1e-12, atol=1e-12) * w)


PROBES: list[tuple[str, str, object]] = P
LIBRARIES = ("numpy", "numpy.linalg", "numpy.fft", "scipy.special", "scipy.integrate")


# ---------------------------------------------------------------- running them


def arguments(params: list[str], seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    out: dict[str, object] = {}
    for name in params:
        if name in ("x", "y", "z"):
            out[name] = rng.uniform(0.2, 0.8, (3, 4))
        elif name in ("p", "q"):
            out[name] = rng.uniform(1.2, 2.0, (3, 4))
        elif name == "a":
            out[name] = rng.normal(size=(4, 4)) + 4 * np.eye(4)
        elif name == "s":
            b = rng.normal(size=(4, 4))
            out[name] = b @ b.T + 4 * np.eye(4)
        elif name == "m":
            out[name] = rng.normal(size=(4, 3)) + np.eye(4, 3)
        elif name in ("u", "v"):
            out[name] = rng.normal(size=(2, 3))
        elif name == "t":
            out[name] = 0.7
        elif name != "w":
            raise ValueError(f"no argument convention for a parameter named {name!r}")
    return out


class _ShapeOf:
    """Stands for ``w``: records the shape of what multiplies it."""

    __array_ufunc__ = None

    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = None

    def __rmul__(self, other: object) -> float:
        self.shape = np.shape(other)
        return 0.0

    __mul__ = __rmul__


def weights(fn, args: dict[str, object], seed: int = 1) -> np.ndarray:
    catcher = _ShapeOf()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn(**args, w=catcher)
    return np.random.default_rng(seed).normal(size=catcher.shape)


def central_differences(fn, args: dict[str, object], name: str, eps: float = 1e-6):
    x = args[name]
    if isinstance(x, float):
        return (fn(**{**args, name: x + eps}) - fn(**{**args, name: x - eps})) / (2 * eps)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (fn(**{**args, name: up}) - fn(**{**args, name: down})) / (2 * eps)
    return g


def run_probe(fn) -> tuple[str, str]:
    """Differentiate one probe: (outcome, detail)."""
    params = [p for p in inspect.signature(fn).parameters]
    args = arguments(params)
    wrt = tuple(p for p in params if p != "w")
    args["w"] = weights(fn, args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grads = ad.grad(fn, wrt=wrt)(**args)
    except ad.AdCompileError as e:
        return "refused", str(e).splitlines()[0]
    except Exception as e:  # noqa: BLE001 - reported as a crash
        return "crash", f"{type(e).__name__}: {e}"
    grads = grads if len(wrt) > 1 else (grads,)
    worst = 0.0
    for name, g in zip(wrt, grads, strict=True):
        fd = central_differences(fn, args, name)
        scale = max(1.0, float(np.max(np.abs(fd))))
        worst = max(worst, float(np.max(np.abs(np.asarray(g, dtype=float) - fd))) / scale)
    if worst > 1e-5:
        return "wrong", f"differs from finite differences by {worst:.2e}"
    return "ok", ""


def run_all() -> list[tuple[str, str, str, str]]:
    """(library, name, outcome, detail) for every function of autograd's table."""
    rows = []
    for library, name, fn in PROBES:
        if isinstance(fn, str):
            rows.append((library, name, "absent", fn))
        else:
            rows.append((library, name, *run_probe(fn)))
    return rows


def render(rows: list[tuple[str, str, str, str]]) -> str:
    lines = [
        "# Coverage of autograd's derivative table",
        "",
        "<!-- generated by docs/tools/library_coverage.py: do not edit -->",
        "",
        "autograd has derivative rules for 163 public functions of numpy, numpy.linalg,",
        "numpy.fft and scipy.special, and for scipy.integrate.odeint (with respect to the",
        "initial value and the extra arguments). Each is probed by a one-line loss",
        "`np.sum(f(...) * w)` (through `np.abs` where the result is complex), whose",
        "gradient with respect to every float argument is checked against central finite",
        "differences (the probes are in `docs/tools/library_coverage.py`). A function",
        "is either differentiated correctly (`ok`) or refused by name with the reason",
        "below; no probe may give a wrong gradient or an internal error",
        "(tests/test_library_coverage.py).",
        "",
        "| library | differentiated | refused | not in this numpy | total |",
        "|---|---|---|---|---|",
    ]
    for library in LIBRARIES:
        mine = [r for r in rows if r[0] == library]
        count = {k: sum(r[2] == k for r in mine) for k in ("ok", "refused", "absent")}
        lines.append(
            f"| {library} | {count['ok']} | {count['refused']} | {count['absent']} | {len(mine)} |"
        )
    ok = sum(r[2] == "ok" for r in rows)
    lines += [f"| all | {ok} | | | {len(rows)} |", ""]
    others = [r for r in rows if r[2] != "ok"]
    if others:
        lines += ["## Not differentiated", "", "| function | outcome | reason |", "|---|---|---|"]
        for library, name, outcome, detail in others:
            reason = detail.split(": error: ", 1)[-1].replace("|", "/")
            lines.append(f"| `{library}.{name}` | {outcome} | {reason} |")
        lines.append("")
    lines += ["## Differentiated", ""]
    for library in LIBRARIES:
        names = [r[1] for r in rows if r[0] == library and r[2] == "ok"]
        lines += [f"**{library}**: " + ", ".join(f"`{n}`" for n in names), ""]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    rows = run_all()
    for library, name, outcome, detail in rows:
        print(f"{library + '.' + name:32} {outcome:8} {detail}")
    ok = sum(r[2] == "ok" for r in rows)
    print(f"\n{ok} of {len(rows)} differentiated")
    if "--write" in argv:
        TARGET.write_text(render(rows), encoding="utf-8")
        print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
