"""Adjoints of ``scipy.stats`` functions too big to inline in a rule."""

from __future__ import annotations

import numpy as np


def mvn_logpdf_adjoint(g, x, mean, cov):
    """The contributions ``(dx, dmean, dcov)`` of ``g``, the cotangent of
    ``scipy.stats.multivariate_normal.logpdf(x, mean, cov)`` (x of shape ``(..., d)``,
    mean of ``d`` elements or a number, cov a ``(d, d)`` matrix). scipy reads only the
    lower triangle of ``cov`` (``eigh(lower=True)``), so that is where ``dcov`` is:
    the symmetric gradient's off-diagonal entries doubled below, zero above."""
    x = np.asarray(x)
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
    return dx, dmean, dcov
