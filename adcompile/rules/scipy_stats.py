"""Adjoints of scipy.stats distributions (loaded once scipy.stats is imported).

A distribution's method is one primitive: ``norm.logpdf`` (with ``from scipy.stats
import norm``, or ``scipy.stats.norm.logpdf``) is the bound method of the object
``scipy.stats.norm``, which the frontend resolves to the registered spelling. The
operands broadcast together; ``z = (x - loc) / scale`` throughout, so the rules of
``loc`` and ``scale`` follow from that of ``x``. A count (poisson's ``k``) gets no
gradient. A density's rules are its log density's, the cotangent and the tangent
times the density (``exponential=True``: d exp(f) = exp(f) df).
"""

import math

import numpy as np
from scipy import special, stats

from ..runtime import mvn_logpdf_adjoint, mvn_logpdf_tangent
from .record import BROADCAST, UNKNOWN
from .registry import adjoint
from .tangents import tangent

# ------------------------------------------------------------------ normal


@adjoint(stats.norm.pdf, shape=BROADCAST, scalar_preserving=True, exponential=True)
@adjoint(stats.norm.logpdf, shape=BROADCAST, scalar_preserving=True)
def norm_logpdf(dy, y, x, loc=0, scale=1):
    z = (x - loc) / scale
    return -dy * z / scale, dy * z / scale, dy * (z * z - 1) / scale


@tangent(stats.norm.pdf, exponential=True)
@tangent(stats.norm.logpdf)
def norm_logpdf_tangent(dx, dloc, dscale, y, x, loc=0, scale=1):
    z = (x - loc) / scale
    return (z * (dloc - dx) + (z * z - 1) * dscale) / scale


@adjoint(stats.norm.cdf, shape=BROADCAST, scalar_preserving=True)
def norm_cdf(dy, y, x, loc=0, scale=1):
    z = (x - loc) / scale
    density = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi)) / scale
    return dy * density, -dy * density, -dy * density * z


@tangent(stats.norm.cdf)
def norm_cdf_tangent(dx, dloc, dscale, y, x, loc=0, scale=1):
    z = (x - loc) / scale
    density = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi)) / scale
    return density * (dx - dloc - z * dscale)


@adjoint(stats.norm.logcdf, shape=BROADCAST, scalar_preserving=True)
def norm_logcdf(dy, y, x, loc=0, scale=1):
    # pdf / cdf as exp(log pdf - log cdf): finite far into the lower tail
    z = (x - loc) / scale
    ratio = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - y) / scale
    return dy * ratio, -dy * ratio, -dy * ratio * z


@tangent(stats.norm.logcdf)
def norm_logcdf_tangent(dx, dloc, dscale, y, x, loc=0, scale=1):
    z = (x - loc) / scale
    ratio = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - y) / scale
    return ratio * (dx - dloc - z * dscale)


# ------------------------------------------------------------------ Student's t


@adjoint(stats.t.pdf, shape=BROADCAST, scalar_preserving=True, exponential=True)
@adjoint(stats.t.logpdf, shape=BROADCAST, scalar_preserving=True)
def t_logpdf(dy, y, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    inner = (df + 1) / (df + z * z)
    d_df = 0.5 * (
        special.digamma((df + 1) / 2)
        - special.digamma(df / 2)
        - 1 / df
        - np.log1p(z * z / df)
        + inner * z * z / df
    )
    return (
        -dy * inner * z / scale,
        dy * d_df,
        dy * inner * z / scale,
        dy * (inner * z * z - 1) / scale,
    )


@tangent(stats.t.pdf, exponential=True)
@tangent(stats.t.logpdf)
def t_logpdf_tangent(dx, ddf, dloc, dscale, y, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    inner = (df + 1) / (df + z * z)
    d_df = 0.5 * (
        special.digamma((df + 1) / 2)
        - special.digamma(df / 2)
        - 1 / df
        - np.log1p(z * z / df)
        + inner * z * z / df
    )
    return (inner * z * (dloc - dx) + (inner * z * z - 1) * dscale) / scale + d_df * ddf


# ------------------------------------------------------------------ gamma, beta


@adjoint(stats.gamma.pdf, shape=BROADCAST, scalar_preserving=True, exponential=True)
@adjoint(stats.gamma.logpdf, shape=BROADCAST, scalar_preserving=True)
def gamma_logpdf(dy, y, x, a, loc=0, scale=1):
    z = (x - loc) / scale
    slope = ((a - 1) / z - 1) / scale
    return dy * slope, dy * (np.log(z) - special.digamma(a)), -dy * slope, dy * (z - a) / scale


@tangent(stats.gamma.pdf, exponential=True)
@tangent(stats.gamma.logpdf)
def gamma_logpdf_tangent(dx, da, dloc, dscale, y, x, a, loc=0, scale=1):
    z = (x - loc) / scale
    slope = ((a - 1) / z - 1) / scale
    return slope * (dx - dloc) + (np.log(z) - special.digamma(a)) * da + (z - a) / scale * dscale


@adjoint(stats.beta.pdf, shape=BROADCAST, scalar_preserving=True, exponential=True)
@adjoint(stats.beta.logpdf, shape=BROADCAST, scalar_preserving=True)
def beta_logpdf(dy, y, x, a, b, loc=0, scale=1):
    z = (x - loc) / scale
    slope = ((a - 1) / z - (b - 1) / (1 - z)) / scale
    both = special.digamma(a + b)
    return (
        dy * slope,
        dy * (np.log(z) - special.digamma(a) + both),
        dy * (np.log1p(-z) - special.digamma(b) + both),
        -dy * slope,
        -dy * (slope * z + 1 / scale),
    )


@tangent(stats.beta.pdf, exponential=True)
@tangent(stats.beta.logpdf)
def beta_logpdf_tangent(dx, da, db, dloc, dscale, y, x, a, b, loc=0, scale=1):
    z = (x - loc) / scale
    slope = ((a - 1) / z - (b - 1) / (1 - z)) / scale
    both = special.digamma(a + b)
    return (
        slope * (dx - dloc)
        + (np.log(z) - special.digamma(a) + both) * da
        + (np.log1p(-z) - special.digamma(b) + both) * db
        - (slope * z + 1 / scale) * dscale
    )


# ------------------------------------------------------------------ Poisson


@adjoint(stats.poisson.pmf, shape=BROADCAST, scalar_preserving=True, exponential=True)
@adjoint(stats.poisson.logpmf, shape=BROADCAST, scalar_preserving=True)
def poisson_logpmf(dy, y, k, mu, loc=0):
    return None, dy * (k / mu - 1)


@tangent(stats.poisson.pmf, exponential=True)
@tangent(stats.poisson.logpmf)
def poisson_logpmf_tangent(dmu, y, k, mu, loc=0):
    return dmu * (k / mu - 1)


# ------------------------------------------------------------------ multivariate normal


@adjoint(stats.multivariate_normal.pdf, shape=UNKNOWN, fresh=True, exponential=True)
@adjoint(stats.multivariate_normal.logpdf, shape=UNKNOWN, fresh=True)
def multivariate_normal_logpdf(dy, y, x, mean=None, cov=1):
    # (allow_singular= is not a parameter: refused; cov must be a (d, d) matrix)
    pieces = mvn_logpdf_adjoint(dy, x, mean, cov)
    return pieces[0], pieces[1], pieces[2]


@tangent(stats.multivariate_normal.pdf, exponential=True)
@tangent(stats.multivariate_normal.logpdf)
def multivariate_normal_logpdf_tangent(dx, dmean, dcov, y, x, mean=None, cov=1):
    return mvn_logpdf_tangent(dx, dmean, dcov, y, x, mean, cov)


# ------------------------------------------------------------------ Dirichlet


# x holds the components along its first axis: (k,) or (k, n) for n points, or one
# component fewer, the last being 1 minus the others' sum (scipy's `full` below). The
# log density is sum((alpha - 1) log x) - log B(alpha), and its gradient in x is that
# of this formula in free x, (alpha - 1) / x (0 where alpha is 1, as scipy's xlogy): x
# must lie on the simplex, so only its part along the simplex (directions whose
# components sum to 0) is defined, and that part is what any x kept on the simplex
# (a softmax, a normalisation) passes on; autograd gives the same. With k - 1
# components x is free, and the last one's term moves with each.
@adjoint(stats.dirichlet.pdf, shape=UNKNOWN, fresh=True, exponential=True)
@adjoint(stats.dirichlet.logpdf, shape=UNKNOWN, fresh=True)
def dirichlet_logpdf(dy, y, x, alpha):
    points = np.reshape(x, (np.shape(x)[0], -1))  # (k or k - 1, n)
    given = np.shape(points)[0]
    last = 1 - np.sum(points, axis=0, keepdims=True)
    full = np.concatenate([points, last])[: np.shape(alpha)[0]]  # (k, n)
    g = np.reshape(dy, (1, -1))
    a = np.reshape(alpha - 1, (-1, 1))
    slope = a / np.where(a == 0, 1.0, full) * g
    dx = np.reshape(slope[:given] - np.sum(slope[given:], axis=0), np.shape(x))
    per_point = special.digamma(np.sum(alpha)) - special.digamma(alpha)
    return dx, np.sum(np.log(full) * g, axis=1) + per_point * np.sum(dy)


@tangent(stats.dirichlet.pdf, exponential=True)
@tangent(stats.dirichlet.logpdf)
def dirichlet_logpdf_tangent(dx, dalpha, y, x, alpha):
    points = np.reshape(x, (np.shape(x)[0], -1))
    given = np.shape(points)[0]
    last = 1 - np.sum(points, axis=0, keepdims=True)
    full = np.concatenate([points, last])[: np.shape(alpha)[0]]
    a = np.reshape(alpha - 1, (-1, 1))
    slope = a / np.where(a == 0, 1.0, full)
    moved_x = np.sum(
        (slope[:given] - np.sum(slope[given:], axis=0)) * np.reshape(dx, (given, -1)), axis=0
    )
    per_point = special.digamma(np.sum(alpha)) - special.digamma(alpha)
    moved = np.tensordot(dalpha, np.log(full), 1)
    return np.reshape(moved_x + moved, np.shape(y)) + np.dot(per_point, dalpha)


# ------------------------------------------------------------------ chi-squared


@adjoint(stats.chi2.pdf, shape=BROADCAST, scalar_preserving=True, exponential=True)
@adjoint(stats.chi2.logpdf, shape=BROADCAST, scalar_preserving=True)
def chi2_logpdf(dy, y, x, df, loc=0, scale=1):
    # the gamma distribution of shape df / 2 and scale 2
    z = (x - loc) / scale
    slope = ((df / 2 - 1) / z - 0.5) / scale
    d_df = 0.5 * (np.log(z) - math.log(2) - special.digamma(df / 2))
    return dy * slope, dy * d_df, -dy * slope, -dy * (slope * z + 1 / scale)


@tangent(stats.chi2.pdf, exponential=True)
@tangent(stats.chi2.logpdf)
def chi2_logpdf_tangent(dx, ddf, dloc, dscale, y, x, df, loc=0, scale=1):
    z = (x - loc) / scale
    slope = ((df / 2 - 1) / z - 0.5) / scale
    d_df = 0.5 * (np.log(z) - math.log(2) - special.digamma(df / 2))
    return slope * (dx - dloc) + d_df * ddf - (slope * z + 1 / scale) * dscale


# ------------------------------------------------------------------ distribution functions

# A cdf's derivative in x is the density, and loc and scale move z = (x - loc) / scale;
# its derivative in a shape parameter (df, a, b) is no closed form: a gradient through
# one is refused (constant=). A logcdf's is the density over the cdf, as
# exp(logpdf - logcdf): finite where both underflow.


@adjoint(stats.t.cdf, shape=BROADCAST, scalar_preserving=True, constant=("df",))
def t_cdf(dy, y, x, df, loc=0, scale=1):
    density = stats.t.pdf(x, df, loc, scale)
    return dy * density, None, -dy * density, -dy * density * (x - loc) / scale


@tangent(stats.t.cdf)
def t_cdf_tangent(dx, dloc, dscale, y, x, df, loc=0, scale=1):
    return stats.t.pdf(x, df, loc, scale) * (dx - dloc - (x - loc) / scale * dscale)


@adjoint(stats.t.logcdf, shape=BROADCAST, scalar_preserving=True, constant=("df",))
def t_logcdf(dy, y, x, df, loc=0, scale=1):
    ratio = np.exp(stats.t.logpdf(x, df, loc, scale) - y)
    return dy * ratio, None, -dy * ratio, -dy * ratio * (x - loc) / scale


@tangent(stats.t.logcdf)
def t_logcdf_tangent(dx, dloc, dscale, y, x, df, loc=0, scale=1):
    ratio = np.exp(stats.t.logpdf(x, df, loc, scale) - y)
    return ratio * (dx - dloc - (x - loc) / scale * dscale)


@adjoint(stats.gamma.cdf, shape=BROADCAST, scalar_preserving=True, constant=("a",))
def gamma_cdf(dy, y, x, a, loc=0, scale=1):
    density = stats.gamma.pdf(x, a, loc, scale)
    return dy * density, None, -dy * density, -dy * density * (x - loc) / scale


@tangent(stats.gamma.cdf)
def gamma_cdf_tangent(dx, dloc, dscale, y, x, a, loc=0, scale=1):
    return stats.gamma.pdf(x, a, loc, scale) * (dx - dloc - (x - loc) / scale * dscale)


@adjoint(stats.beta.cdf, shape=BROADCAST, scalar_preserving=True, constant=("a", "b"))
def beta_cdf(dy, y, x, a, b, loc=0, scale=1):
    density = stats.beta.pdf(x, a, b, loc, scale)
    return dy * density, None, None, -dy * density, -dy * density * (x - loc) / scale


@tangent(stats.beta.cdf)
def beta_cdf_tangent(dx, dloc, dscale, y, x, a, b, loc=0, scale=1):
    return stats.beta.pdf(x, a, b, loc, scale) * (dx - dloc - (x - loc) / scale * dscale)


@adjoint(stats.chi2.cdf, shape=BROADCAST, scalar_preserving=True, constant=("df",))
def chi2_cdf(dy, y, x, df, loc=0, scale=1):
    density = stats.chi2.pdf(x, df, loc, scale)
    return dy * density, None, -dy * density, -dy * density * (x - loc) / scale


@tangent(stats.chi2.cdf)
def chi2_cdf_tangent(dx, dloc, dscale, y, x, df, loc=0, scale=1):
    return stats.chi2.pdf(x, df, loc, scale) * (dx - dloc - (x - loc) / scale * dscale)


# P(X <= m) for m = floor(k - loc) is Q(m + 1, mu), whose derivative in mu is minus the
# probability of m; the count k and the shift loc are piecewise constant (no gradient)
@adjoint(stats.poisson.cdf, shape=BROADCAST, scalar_preserving=True)
def poisson_cdf(dy, y, k, mu, loc=0):
    return None, -dy * stats.poisson.pmf(np.floor(k - loc), mu), None


@tangent(stats.poisson.cdf)
def poisson_cdf_tangent(dmu, y, k, mu, loc=0):
    return -dmu * stats.poisson.pmf(np.floor(k - loc), mu)
