"""Adjoints of scipy.special functions (loaded once scipy.special is imported: see
``load_optional`` in rules/__init__.py; adcompile itself does not need scipy).

The forms are the numerically sound ones: logsumexp, softmax and log_softmax read
their own (stable) results instead of exponentiating their inputs; log_ndtr's
derivative is ``exp(log pdf - log_ndtr)``, finite far into the lower tail where
the pdf and the cdf both underflow. The order of a Bessel function and the ``n``
of polygamma get no gradient: a gradient through them is refused (``constant=``),
since the derivative in a real order is not zero.
"""

import math

import numpy as np
from scipy import special

from ..runtime import expand_reduced, unbroadcast
from .record import BROADCAST, UNARY
from .registry import adjoint

# ------------------------------------------------------------------ logistic


@adjoint(special.expit, shape=UNARY)
def expit(dy, y, x):
    return dy * y * (1 - y)


@adjoint(special.logit, shape=UNARY)
def logit(dy, y, x):
    return dy / (x * (1 - x))


# ------------------------------------------------------------------ log-sum-exp family


def _reduction_shape(q):
    """logsumexp's result shape, when ``b`` is not given (else unknown)."""
    if "b" in q.ops and q.const("b") is not None:
        return None
    return q.numpy(np.sum, "a", q.const("axis"), None, None, q.const("keepdims"))


@adjoint(special.logsumexp, shape=_reduction_shape, fresh=True)
def logsumexp(dy, y, a, axis=None, b=None, keepdims=False):
    # d/da log(sum(b * exp(a))) = b * exp(a - y): y is the stable result itself, so
    # nothing overflows at large inputs (return_sign= is not a parameter: refused)
    share = expand_reduced(dy, axis, keepdims) * np.exp(a - expand_reduced(y, axis, keepdims))
    return unbroadcast(share if b is None else share * b, a), None, unbroadcast(share, b)


@adjoint(special.softmax, shape=lambda q: q.leaf("x"), fresh=True)
def softmax(dy, y, x, axis=None):
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


@adjoint(special.log_softmax, shape=lambda q: q.leaf("x"), fresh=True)
def log_softmax(dy, y, x, axis=None):
    return dy - np.exp(y) * np.sum(dy, axis=axis, keepdims=True)


# ------------------------------------------------------------------ gamma family


@adjoint(special.gammaln, shape=UNARY)
def gammaln(dy, y, x):
    return dy * special.digamma(x)


@adjoint(special.digamma, shape=UNARY)  # (special.psi is the same function)
def digamma(dy, y, x):
    return dy * special.polygamma(1, x)


@adjoint(special.polygamma, shape=BROADCAST, fresh=True, constant=("n",))
def polygamma(dy, y, n, x):
    return None, dy * special.polygamma(n + 1, x)


@adjoint(special.gamma, shape=UNARY)
def gamma(dy, y, x):
    return dy * y * special.digamma(x)


@adjoint(special.beta, shape=BROADCAST, scalar_preserving=True)
def beta(dz, z, a, b):
    both = special.digamma(a + b)
    return dz * z * (special.digamma(a) - both), dz * z * (special.digamma(b) - both)


@adjoint(special.betaln, shape=BROADCAST, scalar_preserving=True)
def betaln(dz, z, a, b):
    both = special.digamma(a + b)
    return dz * (special.digamma(a) - both), dz * (special.digamma(b) - both)


# ------------------------------------------------------------------ error function, normal


@adjoint(special.erf, shape=UNARY)
def erf(dy, y, x):
    return dy * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


@adjoint(special.erfc, shape=UNARY)
def erfc(dy, y, x):
    return -dy * (2 / math.sqrt(math.pi)) * np.exp(-x * x)


@adjoint(special.erfinv, shape=UNARY)
def erfinv(dy, y, x):
    return dy * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@adjoint(special.erfcinv, shape=UNARY)
def erfcinv(dy, y, x):
    return -dy * (math.sqrt(math.pi) / 2) * np.exp(y * y)


@adjoint(special.ndtr, shape=UNARY)
def ndtr(dy, y, x):
    return dy * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


@adjoint(special.log_ndtr, shape=UNARY)
def log_ndtr(dy, y, x):
    # pdf(x) / ndtr(x), as exp(log pdf - log ndtr): both underflow for x << 0, their
    # ratio (about -x there) does not
    return dy * np.exp(-0.5 * x * x - 0.5 * math.log(2 * math.pi) - y)


@adjoint(special.ndtri, shape=UNARY)
def ndtri(dy, y, x):
    return dy * math.sqrt(2 * math.pi) * np.exp(0.5 * y * y)


# ------------------------------------------------------------------ x log y, entropy


@adjoint(special.xlogy, shape=BROADCAST, scalar_preserving=True)
def xlogy(dz, z, x, y):
    # xlogy(0, y) is 0 for every y: its derivative in y is 0 there, not 0 / 0
    return dz * np.log(y), dz * x / np.where(x == 0, 1, y)


@adjoint(special.xlog1py, shape=BROADCAST, scalar_preserving=True)
def xlog1py(dz, z, x, y):
    return dz * np.log1p(y), dz * x / np.where(x == 0, 1, 1 + y)


@adjoint(special.entr, shape=UNARY)
def entr(dy, y, x):
    return -dy * (np.log(x) + 1)


# ------------------------------------------------------------------ Bessel functions


@adjoint(special.i0, shape=UNARY)
def i0(dy, y, x):
    return dy * special.i1(x)


@adjoint(special.i1, shape=UNARY)
def i1(dy, y, x):
    # I1' = (I0 + I2) / 2, which has no 0 / 0 at x = 0 (unlike I0 - I1 / x)
    return dy * (special.i0(x) + special.iv(2, x)) / 2


@adjoint(special.i0e, shape=UNARY)
def i0e(dy, y, x):
    return dy * (special.i1e(x) - np.sign(x) * y)


@adjoint(special.i1e, shape=UNARY)
def i1e(dy, y, x):
    return dy * ((special.i0e(x) + special.ive(2, x)) / 2 - np.sign(x) * y)


@adjoint(special.j0, shape=UNARY)
def j0(dy, y, x):
    return -dy * special.j1(x)


@adjoint(special.j1, shape=UNARY)
def j1(dy, y, x):
    return dy * (special.j0(x) - special.jv(2, x)) / 2


@adjoint(special.y0, shape=UNARY)
def y0(dy, y, x):
    return -dy * special.y1(x)


@adjoint(special.y1, shape=UNARY)
def y1(dy, y, x):
    return dy * (special.y0(x) - special.yv(2, x)) / 2


@adjoint(special.jv, special.jn, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def jv(dz, z, v, x):
    return None, dz * (special.jv(v - 1, x) - special.jv(v + 1, x)) / 2


@adjoint(special.yv, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def yv(dz, z, v, x):
    return None, dz * (special.yv(v - 1, x) - special.yv(v + 1, x)) / 2


@adjoint(special.yn, shape=BROADCAST, scalar_preserving=True, constant=("n",))
def yn(dz, z, n, x):
    return None, dz * (special.yn(n - 1, x) - special.yn(n + 1, x)) / 2


@adjoint(special.iv, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def iv(dz, z, v, x):
    return None, dz * (special.iv(v - 1, x) + special.iv(v + 1, x)) / 2


@adjoint(special.kv, shape=BROADCAST, scalar_preserving=True, constant=("v",))
def kv(dz, z, v, x):
    return None, -dz * (special.kv(v - 1, x) + special.kv(v + 1, x)) / 2
