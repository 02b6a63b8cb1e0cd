"""Adjoints of scipy.special functions (loaded once scipy.special is imported: see
``load_optional`` in rules/__init__.py; adcompile itself does not need scipy).

The forms are the numerically sound ones: softmax and log_softmax read their own
(stable) results instead of exponentiating their inputs, and logsumexp's adjoint
exponentiates its input shifted by the largest element (so that a gradient that does
not need logsumexp's value need not compute it); log_ndtr's
derivative is ``exp(log pdf - log_ndtr)``, finite far into the lower tail where
the pdf and the cdf both underflow. The order of a Bessel function and the ``n``
of polygamma get no gradient: a gradient through them is refused (``constant=``),
since the derivative in a real order is not zero.
"""

import math

import numpy as np
from scipy import special

from ..runtime import exp_minus_logsumexp, expand_reduced, unbroadcast
from .record import BROADCAST, UNARY, UNKNOWN
from .registry import adjoint, nondiff
from .tangents import tangent

# ------------------------------------------------------------------ logistic


@adjoint(special.expit, shape=UNARY)
def expit(dy, y, x):
    return dy * y * (1 - y)


@tangent(special.expit)
def expit_tangent(dx, y, x):
    return dx * y * (1 - y)


@adjoint(special.logit, shape=UNARY)
def logit(dy, y, x):
    return dy / (x * (1 - x))


@tangent(special.logit)
def logit_tangent(dx, y, x):
    return dx / (x * (1 - x))


# ------------------------------------------------------------------ log-sum-exp family


def _reduction_shape(q):
    """logsumexp's result shape, when ``b`` is not given (else unknown)."""
    if "b" in q.ops and q.const("b") is not None:
        return None
    return q.numpy(np.sum, "a", q.const("axis"), None, None, q.const("keepdims"))


@adjoint(special.logsumexp, shape=_reduction_shape, fresh=True)
def logsumexp(dy, y, a, axis=None, b=None, keepdims=False):
    # d/da log(sum(b * exp(a))) = b * exp(a - y), computed from a shifted by its largest
    # element (nothing overflows at large inputs) rather than from y, so that a gradient
    # that does not need the value does not compute it (return_sign= is not a parameter:
    # refused)
    share = expand_reduced(dy, axis, keepdims) * exp_minus_logsumexp(a, axis, b)
    # (without b, the share has a's shape: nothing to sum back)
    return share if b is None else unbroadcast(share * b, a), None, unbroadcast(share, b)


@tangent(special.logsumexp)
def logsumexp_tangent(da, db, y, a, axis=None, b=None, keepdims=False):
    # d log(sum(b * exp(a))) = sum(exp(a - y) * (b * da + db)), y the stable result
    share = np.exp(a - expand_reduced(y, axis, keepdims))
    return np.sum(share * da * (1 if b is None else b) + share * db, axis=axis, keepdims=keepdims)


@adjoint(special.softmax, shape=lambda q: q.leaf("x"), fresh=True)
def softmax(dy, y, x, axis=None):
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


@tangent(special.softmax)
def softmax_tangent(dx, y, x, axis=None):
    return y * (dx - np.sum(dx * y, axis=axis, keepdims=True))


@adjoint(special.log_softmax, shape=lambda q: q.leaf("x"), fresh=True)
def log_softmax(dy, y, x, axis=None):
    return dy - np.exp(y) * np.sum(dy, axis=axis, keepdims=True)


@tangent(special.log_softmax)
def log_softmax_tangent(dx, y, x, axis=None):
    return dx - np.sum(np.exp(y) * dx, axis=axis, keepdims=True)


# ------------------------------------------------------------------ gamma family


@adjoint(special.gammaln, shape=UNARY)
def gammaln(dy, y, x):
    return dy * special.digamma(x)


@tangent(special.gammaln)
def gammaln_tangent(dx, y, x):
    return dx * special.digamma(x)


# digamma's derivative, polygamma(1, x), is zeta(2, x), which scipy's polygamma computes;
# written as zeta, it keeps a float32 operand float32 (polygamma makes its order an
# int64 array, which promotes)
@adjoint(special.digamma, shape=UNARY)  # (special.psi is the same function)
def digamma(dy, y, x):
    return dy * special.zeta(2.0, x)


@tangent(special.digamma)
def digamma_tangent(dx, y, x):
    return dx * special.zeta(2.0, x)


# Hurwitz's zeta(x, q) = sum over k of (k + q)^-x: d/dq is -x zeta(x + 1, q); the exponent
# x gets no gradient (its derivative is no zeta function). Without q, Riemann's zeta(x)
# has nothing to differentiate.
@adjoint(special.zeta, shape=BROADCAST, scalar_preserving=True, constant=("x",))
def zeta(dy, y, x, q=None):
    return None, dy * -x * special.zeta(x + 1, q)


@tangent(special.zeta)
def zeta_tangent(dq, y, x, q=None):
    return dq * -x * special.zeta(x + 1, q)


@adjoint(special.polygamma, shape=BROADCAST, fresh=True, constant=("n",))
def polygamma(dy, y, n, x):
    return None, dy * special.polygamma(n + 1, x)


@tangent(special.polygamma)
def polygamma_tangent(dx, y, n, x):
    return dx * special.polygamma(n + 1, x)


@adjoint(special.gamma, shape=UNARY)
def gamma(dy, y, x):
    return dy * y * special.digamma(x)


@tangent(special.gamma)
def gamma_tangent(dx, y, x):
    return dx * y * special.digamma(x)


@adjoint(special.rgamma, shape=UNARY)
def rgamma(dy, y, x):
    # (1 / gamma)' = -digamma / gamma; at the poles of gamma (x = 0, -1, -2...), where
    # 1 / gamma is 0, its limit (-1)^n n!
    pole = (y == 0) & (x <= 0)
    return dy * np.where(pole, np.cos(np.pi * x) * special.gamma(1 - x), -y * special.digamma(x))


@adjoint(special.multigammaln, shape=UNKNOWN, fresh=True)
def multigammaln(dy, y, a, d):
    # the log of the multivariate gamma function is a sum of gammaln(a - j / 2)
    return dy * np.sum(special.digamma(np.expand_dims(a, -1) - np.arange(d) / 2), axis=-1), None


@adjoint(special.gammainc, shape=BROADCAST, scalar_preserving=True, constant=("a",))
def gammainc(dz, z, a, x):
    # the integrand of the lower incomplete gamma function, regularised
    # (in the result's precision: some scipy versions compute float32 xlogy in float64)
    return None, dz * np.asarray(
        np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a)), dtype=np.result_type(z)
    )


@adjoint(special.gammaincc, shape=BROADCAST, scalar_preserving=True, constant=("a",))
def gammaincc(dz, z, a, x):
    return None, -dz * np.asarray(
        np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a)), dtype=np.result_type(z)
    )


@adjoint(special.betainc, shape=BROADCAST, scalar_preserving=True, constant=("a", "b"))
def betainc(dz, z, a, b, x):
    # the integrand of the regularised incomplete beta function
    # (in the result's precision: xlogy and xlog1py compute float32 in float64)
    density = special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)
    return None, None, dz * np.asarray(np.exp(density), dtype=np.result_type(z))


@tangent(special.rgamma)
def rgamma_tangent(dx, y, x):
    pole = (y == 0) & (x <= 0)
    return dx * np.where(pole, np.cos(np.pi * x) * special.gamma(1 - x), -y * special.digamma(x))


@tangent(special.multigammaln)
def multigammaln_tangent(da, y, a, d):
    return da * np.sum(special.digamma(np.expand_dims(a, -1) - np.arange(d) / 2), axis=-1)


@tangent(special.gammainc)
def gammainc_tangent(dx, z, a, x):
    return dx * np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a))


@tangent(special.gammaincc)
def gammaincc_tangent(dx, z, a, x):
    return -dx * np.exp(special.xlogy(a - 1, x) - x - special.gammaln(a))


@tangent(special.betainc)
def betainc_tangent(dx, z, a, b, x):
    density = special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)
    return dx * np.exp(density)


nondiff(special.gammasgn)


@adjoint(special.beta, shape=BROADCAST, scalar_preserving=True)
def beta(dz, z, a, b):
    both = special.digamma(a + b)
    return dz * z * (special.digamma(a) - both), dz * z * (special.digamma(b) - both)


@tangent(special.beta)
def beta_tangent(da, db, z, a, b):
    both = special.digamma(a + b)
    return z * (da * (special.digamma(a) - both) + db * (special.digamma(b) - both))


@adjoint(special.betaln, shape=BROADCAST, scalar_preserving=True)
def betaln(dz, z, a, b):
    both = special.digamma(a + b)
    return dz * (special.digamma(a) - both), dz * (special.digamma(b) - both)


@tangent(special.betaln)
def betaln_tangent(da, db, z, a, b):
    both = special.digamma(a + b)
    return da * (special.digamma(a) - both) + db * (special.digamma(b) - both)


# ------------------------------------------------------------------ error function, normal


@adjoint(special.erf, shape=UNARY)
def erf(dy, y, x):
    return dy * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


@tangent(special.erf)
def erf_tangent(dx, y, x):
    return dx * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


@adjoint(special.erfc, shape=UNARY)
def erfc(dy, y, x):
    return -dy * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


@tangent(special.erfc)
def erfc_tangent(dx, y, x):
    return -dx * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


@adjoint(special.erfinv, shape=UNARY)
def erfinv(dy, y, x):
    return dy * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@tangent(special.erfinv)
def erfinv_tangent(dx, y, x):
    return dx * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@adjoint(special.erfcinv, shape=UNARY)
def erfcinv(dy, y, x):
    return -dy * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@tangent(special.erfcinv)
def erfcinv_tangent(dx, y, x):
    return -dx * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@adjoint(special.ndtr, shape=UNARY)
def ndtr(dy, y, x):
    return dy * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@tangent(special.ndtr)
def ndtr_tangent(dx, y, x):
    return dx * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@adjoint(special.log_ndtr, shape=UNARY)
def log_ndtr(dy, y, x):
    # pdf(x) / ndtr(x), as exp(log pdf - log ndtr): both underflow for x << 0, their
    # ratio (about -x there) does not
    return dy * np.exp(-0.5 * x * x - 0.5 * math.log(2 * math.pi) - y)


@tangent(special.log_ndtr)
def log_ndtr_tangent(dx, y, x):
    return dx * np.exp(-0.5 * x * x - 0.5 * math.log(2 * math.pi) - y)


@adjoint(special.ndtri, shape=UNARY)
def ndtri(dy, y, x):
    return dy * math.sqrt(2 * math.pi) * np.exp(0.5 * y * y)


@tangent(special.ndtri)
def ndtri_tangent(dx, y, x):
    return dx * math.sqrt(2 * math.pi) * np.exp(0.5 * y * y)


# ------------------------------------------------------------------ x log y, entropy


@adjoint(special.xlogy, shape=BROADCAST, scalar_preserving=True)
def xlogy(dz, z, x, y):
    # xlogy(0, y) is 0 for every y: its derivative in y is 0 there, not 0 / 0
    return dz * np.log(y), dz * x / np.where(x == 0, 1, y)


@tangent(special.xlogy)
def xlogy_tangent(dx, dy, z, x, y):
    return dx * np.log(y) + dy * x / np.where(x == 0, 1, y)


@adjoint(special.xlog1py, shape=BROADCAST, scalar_preserving=True)
def xlog1py(dz, z, x, y):
    return dz * np.log1p(y), dz * x / np.where(x == 0, 1, 1 + y)


@tangent(special.xlog1py)
def xlog1py_tangent(dx, dy, z, x, y):
    return dx * np.log1p(y) + dy * x / np.where(x == 0, 1, 1 + y)


@adjoint(special.entr, shape=UNARY)
def entr(dy, y, x):
    return -dy * (np.log(x) + 1)


@tangent(special.entr)
def entr_tangent(dx, y, x):
    return -dx * (np.log(x) + 1)


# ------------------------------------------------------------------ Bessel functions


@adjoint(special.i0, shape=UNARY)
def i0(dy, y, x):
    return dy * special.i1(x)


@tangent(special.i0)
def i0_tangent(dx, y, x):
    return dx * special.i1(x)


@adjoint(special.i1, shape=UNARY)
def i1(dy, y, x):
    # I1' = (I0 + I2) / 2, which has no 0 / 0 at x = 0 (unlike I0 - I1 / x)
    return dy * (special.i0(x) + special.iv(2, x)) / 2


@tangent(special.i1)
def i1_tangent(dx, y, x):
    return dx * (special.i0(x) + special.iv(2, x)) / 2


@adjoint(special.i0e, shape=UNARY)
def i0e(dy, y, x):
    return dy * (special.i1e(x) - np.sign(x) * y)


@tangent(special.i0e)
def i0e_tangent(dx, y, x):
    return dx * (special.i1e(x) - np.sign(x) * y)


@adjoint(special.i1e, shape=UNARY)
def i1e(dy, y, x):
    return dy * ((special.i0e(x) + special.ive(2, x)) / 2 - np.sign(x) * y)


@tangent(special.i1e)
def i1e_tangent(dx, y, x):
    return dx * ((special.i0e(x) + special.ive(2, x)) / 2 - np.sign(x) * y)


@adjoint(special.ive, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def ive(dz, z, v, x):
    # ive(v, x) = iv(v, x) exp(-|x|)
    return None, dz * ((special.ive(v - 1, x) + special.ive(v + 1, x)) / 2 - np.sign(x) * z)


@tangent(special.ive)
def ive_tangent(dx, z, v, x):
    return dx * ((special.ive(v - 1, x) + special.ive(v + 1, x)) / 2 - np.sign(x) * z)


@adjoint(special.j0, shape=UNARY)
def j0(dy, y, x):
    return -dy * special.j1(x)


@tangent(special.j0)
def j0_tangent(dx, y, x):
    return -dx * special.j1(x)


@adjoint(special.j1, shape=UNARY)
def j1(dy, y, x):
    return dy * (special.j0(x) - special.jv(2, x)) / 2


@tangent(special.j1)
def j1_tangent(dx, y, x):
    return dx * (special.j0(x) - special.jv(2, x)) / 2


@adjoint(special.y0, shape=UNARY)
def y0(dy, y, x):
    return -dy * special.y1(x)


@tangent(special.y0)
def y0_tangent(dx, y, x):
    return -dx * special.y1(x)


@adjoint(special.y1, shape=UNARY)
def y1(dy, y, x):
    return dy * (special.y0(x) - special.yv(2, x)) / 2


@tangent(special.y1)
def y1_tangent(dx, y, x):
    return dx * (special.y0(x) - special.yv(2, x)) / 2


@adjoint(special.jv, special.jn, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def jv(dz, z, v, x):
    return None, dz * (special.jv(v - 1, x) - special.jv(v + 1, x)) / 2


@tangent(special.jv)
def jv_tangent(dx, y, v, x):
    return dx * (special.jv(v - 1, x) - special.jv(v + 1, x)) / 2


@adjoint(special.yv, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def yv(dz, z, v, x):
    return None, dz * (special.yv(v - 1, x) - special.yv(v + 1, x)) / 2


@tangent(special.yv)
def yv_tangent(dx, y, v, x):
    return dx * (special.yv(v - 1, x) - special.yv(v + 1, x)) / 2


@adjoint(special.yn, shape=BROADCAST, scalar_preserving=True, constant=("n",))
def yn(dz, z, n, x):
    return None, dz * (special.yn(n - 1, x) - special.yn(n + 1, x)) / 2


@tangent(special.yn)
def yn_tangent(dx, y, n, x):
    return dx * (special.yn(n - 1, x) - special.yn(n + 1, x)) / 2


@adjoint(special.iv, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def iv(dz, z, v, x):
    return None, dz * (special.iv(v - 1, x) + special.iv(v + 1, x)) / 2


@tangent(special.iv)
def iv_tangent(dx, y, v, x):
    return dx * (special.iv(v - 1, x) + special.iv(v + 1, x)) / 2


@adjoint(special.kv, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def kv(dz, z, v, x):
    return None, -dz * (special.kv(v - 1, x) + special.kv(v + 1, x)) / 2


@tangent(special.kv)
def kv_tangent(dx, y, v, x):
    return -dx * (special.kv(v - 1, x) + special.kv(v + 1, x)) / 2


# ------------------------------------------------------------------ robust losses, softplus


# huber(delta, r) is r^2 / 2 inside |r| <= delta and delta (|r| - delta / 2) outside: both
# derivatives are continuous across |r| = delta (the inner formulas there); it is inf for
# delta < 0, where the derivatives are 0
@adjoint(special.huber, shape=BROADCAST, scalar_preserving=True)
def huber(dz, z, delta, r):
    inside = np.abs(r) <= delta
    return (
        dz * np.where(inside | (delta < 0), 0, np.abs(r) - delta),
        dz * np.where(inside, r, np.where(delta < 0, 0, delta * np.sign(r))),
    )


@tangent(special.huber)
def huber_tangent(ddelta, dr, z, delta, r):
    inside = np.abs(r) <= delta
    return ddelta * np.where(inside | (delta < 0), 0, np.abs(r) - delta) + dr * np.where(
        inside, r, np.where(delta < 0, 0, delta * np.sign(r))
    )


# pseudo_huber(delta, r) = delta^2 (s - 1), s = sqrt(1 + (r / delta)^2): d/dr = r / s, and
# d/d delta = delta t^4 / (s (s + 1)^2) with t = r / delta (2 delta (s - 1) - r^2 / (delta s)
# without its cancellation); both 0 at delta = 0, where the function is 0
@adjoint(special.pseudo_huber, shape=BROADCAST, scalar_preserving=True)
def pseudo_huber(dz, z, delta, r):
    t = r / np.where(delta == 0, 1, delta)
    s = np.sqrt(1 + t * t)
    return (
        dz * np.where(delta == 0, 0, delta * (t * t / s) * (t / (s + 1)) ** 2),
        dz * np.where(delta == 0, 0, r / s),
    )


@tangent(special.pseudo_huber)
def pseudo_huber_tangent(ddelta, dr, z, delta, r):
    t = r / np.where(delta == 0, 1, delta)
    s = np.sqrt(1 + t * t)
    return ddelta * np.where(delta == 0, 0, delta * (t * t / s) * (t / (s + 1)) ** 2) + dr * (
        np.where(delta == 0, 0, r / s)
    )


@adjoint(special.log_expit, shape=UNARY)
def log_expit(dy, y, x):
    # d log(expit(x)) = 1 - expit(x) = expit(-x), without cancellation for x >> 0
    return dy * special.expit(-x)


@tangent(special.log_expit)
def log_expit_tangent(dx, y, x):
    return dx * special.expit(-x)


if hasattr(special, "softplus"):  # (scipy 1.15 and later)

    @adjoint(special.softplus, shape=UNARY)
    def softplus(dy, y, x):
        return dy * special.expit(x)

    @tangent(special.softplus)
    def softplus_tangent(dx, y, x):
        return dx * special.expit(x)


@adjoint(special.erfcx, shape=UNARY)
def erfcx(dy, y, x):
    # erfcx(x) = exp(x^2) erfc(x): its derivative 2 x erfcx(x) - 2 / sqrt(pi) reads the
    # (scaled, so finite) result
    return dy * (2 * x * y - 2 / math.sqrt(math.pi))


@tangent(special.erfcx)
def erfcx_tangent(dx, y, x):
    return dx * (2 * x * y - 2 / math.sqrt(math.pi))


# ------------------------------------------------------------------ relative entropy


# kl_div(x, y) = x log(x / y) - x + y and rel_entr(x, y) = x log(x / y) (x, y > 0); at x = 0
# they are y and 0, whose derivative in y is 1 and 0 (x / y read as 0, also at y = 0), and
# the derivative in x is log(0) = -inf (the one-sided slope)
@adjoint(special.kl_div, shape=BROADCAST, scalar_preserving=True)
def kl_div(dz, z, x, y):
    return dz * np.log(x / y), dz * (1 - x / np.where(x == 0, 1, y))


@tangent(special.kl_div)
def kl_div_tangent(dx, dy, z, x, y):
    return dx * np.log(x / y) + dy * (1 - x / np.where(x == 0, 1, y))


@adjoint(special.rel_entr, shape=BROADCAST, scalar_preserving=True)
def rel_entr(dz, z, x, y):
    return dz * (np.log(x / y) + 1), -dz * x / np.where(x == 0, 1, y)


@tangent(special.rel_entr)
def rel_entr_tangent(dx, dy, z, x, y):
    return dx * (np.log(x / y) + 1) - dy * x / np.where(x == 0, 1, y)


# ------------------------------------------------------------------ binomial coefficient


# binom(n, k) = gamma(n + 1) / (gamma(k + 1) gamma(n - k + 1)): its derivatives are the
# result times differences of digamma; where a gamma function of the denominator has a
# pole (binom is 0 there, k > n for integers) they are NaN, not a finite wrong number
@adjoint(special.binom, shape=BROADCAST, scalar_preserving=True)
def binom(dz, z, n, k):
    rest = special.digamma(n - k + 1)
    return dz * z * (special.digamma(n + 1) - rest), dz * z * (rest - special.digamma(k + 1))


@tangent(special.binom)
def binom_tangent(dn, dk, z, n, k):
    rest = special.digamma(n - k + 1)
    return z * (dn * (special.digamma(n + 1) - rest) + dk * (rest - special.digamma(k + 1)))


# ------------------------------------------------------------------ Box-Cox transforms


# boxcox(x, lmbda) = (x^lmbda - 1) / lmbda, log(x) at lmbda = 0: d/dx = x^(lmbda - 1), and
# d/d lmbda = (x^lmbda log(x) - y) / lmbda, log(x)^2 / 2 at lmbda = 0 (its limit)
@adjoint(special.boxcox, shape=BROADCAST, scalar_preserving=True)
def boxcox(dz, z, x, lmbda):
    log_x = np.log(x)
    by_lmbda = (np.exp(lmbda * log_x) * log_x - z) / np.where(lmbda == 0, 1, lmbda)
    return dz * x ** (lmbda - 1), dz * np.where(lmbda == 0, log_x * log_x / 2, by_lmbda)


@tangent(special.boxcox)
def boxcox_tangent(dx, dlmbda, z, x, lmbda):
    log_x = np.log(x)
    by_lmbda = (np.exp(lmbda * log_x) * log_x - z) / np.where(lmbda == 0, 1, lmbda)
    return dx * x ** (lmbda - 1) + dlmbda * np.where(lmbda == 0, log_x * log_x / 2, by_lmbda)


@adjoint(special.boxcox1p, shape=BROADCAST, scalar_preserving=True)
def boxcox1p(dz, z, x, lmbda):
    log_x = np.log1p(x)
    by_lmbda = (np.exp(lmbda * log_x) * log_x - z) / np.where(lmbda == 0, 1, lmbda)
    return dz * np.exp((lmbda - 1) * log_x), dz * np.where(lmbda == 0, log_x * log_x / 2, by_lmbda)


@tangent(special.boxcox1p)
def boxcox1p_tangent(dx, dlmbda, z, x, lmbda):
    log_x = np.log1p(x)
    by_lmbda = (np.exp(lmbda * log_x) * log_x - z) / np.where(lmbda == 0, 1, lmbda)
    return dx * np.exp((lmbda - 1) * log_x) + dlmbda * np.where(
        lmbda == 0, log_x * log_x / 2, by_lmbda
    )


# inv_boxcox(y, lmbda) = (1 + lmbda y)^(1 / lmbda), exp(y) at lmbda = 0: with u = 1 + lmbda y,
# d/dy = x / u, and d/d lmbda = x (y / u - log(u) / lmbda) / lmbda, -x y^2 / 2 at lmbda = 0;
# inv_boxcox1p is the same function minus 1
@adjoint(special.inv_boxcox, shape=BROADCAST, scalar_preserving=True)
def inv_boxcox(dx, x, y, lmbda):
    u = 1 + lmbda * y
    safe = np.where(lmbda == 0, 1, lmbda)
    by_lmbda = np.where(lmbda == 0, -y * y / 2, (y / u - np.log1p(lmbda * y) / safe) / safe)
    return dx * x / u, dx * x * by_lmbda


@tangent(special.inv_boxcox)
def inv_boxcox_tangent(dy, dlmbda, x, y, lmbda):
    u = 1 + lmbda * y
    safe = np.where(lmbda == 0, 1, lmbda)
    by_lmbda = np.where(lmbda == 0, -y * y / 2, (y / u - np.log1p(lmbda * y) / safe) / safe)
    return x * (dy / u + dlmbda * by_lmbda)


@adjoint(special.inv_boxcox1p, shape=BROADCAST, scalar_preserving=True)
def inv_boxcox1p(dx, x, y, lmbda):
    u = 1 + lmbda * y
    safe = np.where(lmbda == 0, 1, lmbda)
    by_lmbda = np.where(lmbda == 0, -y * y / 2, (y / u - np.log1p(lmbda * y) / safe) / safe)
    return dx * (x + 1) / u, dx * (x + 1) * by_lmbda


@tangent(special.inv_boxcox1p)
def inv_boxcox1p_tangent(dy, dlmbda, x, y, lmbda):
    u = 1 + lmbda * y
    safe = np.where(lmbda == 0, 1, lmbda)
    by_lmbda = np.where(lmbda == 0, -y * y / 2, (y / u - np.log1p(lmbda * y) / safe) / safe)
    return (x + 1) * (dy / u + dlmbda * by_lmbda)


# ------------------------------------------------------------------ exp - 1, log(1 + x)


@adjoint(special.expm1, shape=UNARY)
def expm1(dy, y, x):
    return dy * (y + 1)


@tangent(special.expm1)
def expm1_tangent(dx, y, x):
    return dx * (y + 1)


@adjoint(special.log1p, shape=UNARY)
def log1p(dy, y, x):
    return dy / (1 + x)


@tangent(special.log1p)
def log1p_tangent(dx, y, x):
    return dx / (1 + x)


@adjoint(special.cosm1, shape=UNARY)
def cosm1(dy, y, x):
    return -dy * np.sin(x)


@tangent(special.cosm1)
def cosm1_tangent(dx, y, x):
    return -dx * np.sin(x)


# exprel(x) = (exp(x) - 1) / x: its derivative (exp(x) - y) / x cancels near 0, where its
# series 1/2 + x/3 + x^2/8 + x^3/30 is used instead (|x| < 1e-3: the next term is 1e-14)
@adjoint(special.exprel, shape=UNARY)
def exprel(dy, y, x):
    near = np.abs(x) < 1e-3
    series = 0.5 + x * (1 / 3 + x * (1 / 8 + x / 30))
    return dy * np.where(near, series, (np.exp(x) - y) / np.where(near, 1, x))


@tangent(special.exprel)
def exprel_tangent(dx, y, x):
    near = np.abs(x) < 1e-3
    series = 0.5 + x * (1 / 3 + x * (1 / 8 + x / 30))
    return dx * np.where(near, series, (np.exp(x) - y) / np.where(near, 1, x))


# powm1(x, y) = x^y - 1: d/dx = y x^(y - 1), d/dy = x^y log(x) (0 at x = 0 like x ** y's)
@adjoint(special.powm1, shape=BROADCAST, scalar_preserving=True)
def powm1(dz, z, x, y):
    return dz * y * x ** (y - 1), dz * (z + 1) * np.log(np.where(x == 0, 1, x))


@tangent(special.powm1)
def powm1_tangent(dx, dy, z, x, y):
    return dx * y * x ** (y - 1) + dy * (z + 1) * np.log(np.where(x == 0, 1, x))
