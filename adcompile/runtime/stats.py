"""Adjoints of ``scipy.stats`` functions too big to inline in a rule."""

from __future__ import annotations

import numpy as np


def mvn_covariance(mean, cov):
    """The ``(d, d)`` covariance matrix that scipy's multivariate normal reads from
    ``cov``: a number is that times the identity, a vector the diagonal; ``d`` is the
    size of ``mean`` when it is given (else ``cov``'s, else 1)."""
    cov = np.asarray(cov, dtype=np.result_type(cov, 0.0))
    if cov.ndim == 2:
        return cov
    if cov.ndim == 1:
        return np.diag(cov)
    dim = np.size(mean) if mean is not None else 1
    return cov * np.eye(dim)


def mvn_cov_part(dmatrix, cov):
    """The part of ``dmatrix``, a cotangent of the ``(d, d)`` covariance matrix, that
    reaches ``cov`` as given (a number times the identity, a diagonal, or the matrix)."""
    if np.ndim(cov) == 0:
        return np.trace(dmatrix)
    if np.ndim(cov) == 1:
        return np.diagonal(dmatrix).copy()
    return dmatrix


def mvn_logpdf_adjoint(g, x, mean, cov):
    """The contributions ``(dx, dmean, dcov)`` of ``g``, the cotangent of
    ``scipy.stats.multivariate_normal.logpdf(x, mean, cov)`` (x of shape ``(..., d)``,
    mean of ``d`` elements or a number, cov a ``(d, d)`` matrix, a diagonal or a
    number). scipy reads only the lower triangle of a matrix ``cov``
    (``eigh(lower=True)``), so that is where ``dcov`` is: the symmetric gradient's
    off-diagonal entries doubled below, zero above."""
    x = np.asarray(x)
    given = cov
    cov = mvn_covariance(mean, cov)
    dim = np.shape(cov)[0]
    centred = x.reshape(-1, dim) - (0.0 if mean is None else np.ravel(mean))
    weights = np.broadcast_to(np.asarray(g, dtype=centred.dtype), (centred.shape[0],))
    precision = np.linalg.inv(cov)
    scaled = centred @ precision  # each row: precision @ (x - mean)
    weighted = weights[:, None] * scaled
    dx = (-weighted).reshape(x.shape)
    dmean = np.sum(weighted, axis=0)
    if mean is not None and np.ndim(mean) == 0:
        dmean = np.sum(dmean)
    sym = -0.5 * (np.sum(weights) * precision - scaled.T @ weighted)
    dcov = np.tril(2 * sym) - np.diag(np.diag(sym))
    return dx, dmean, mvn_cov_part(dcov, given)
