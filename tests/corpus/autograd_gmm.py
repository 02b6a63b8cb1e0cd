"""A Gaussian mixture model's log-likelihood, after HIPS/autograd's examples/gmm.py (MIT).

Ported by hand: numpy and scipy instead of autograd's wrappers. The
``_diag`` versions replace scipy's multivariate normal by the log-density of a
Gaussian with covariance ``L.T @ L`` for a lower-triangular ``L`` with a
positive diagonal, written out, and iterate without ``zip(*...)``.
"""

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal as mvn


def log_normalize(x):
    return x - logsumexp(x)


def unpack_gmm_params(params):
    normalized_log_proportions = log_normalize(params["log proportions"])
    return normalized_log_proportions, params["means"], params["lower triangles"]


def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, cov_sqrt in zip(*unpack_gmm_params(params)):
        cov = np.dot(cov_sqrt.T, cov_sqrt)
        cluster_lls.append(log_proportion + mvn.logpdf(data, mean, cov))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


def own_logsumexp(x, axis=None):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def log_normalize_diag(x):
    return x - own_logsumexp(x)


def diag_gaussian_logpdf(data, mean, log_std):
    z = (data - mean) / np.exp(log_std)
    return -0.5 * np.sum(z**2, axis=1) - np.sum(log_std) - 0.5 * len(mean) * np.log(2 * np.pi)


def gmm_log_likelihood_diag(params, data):
    log_proportions = log_normalize_diag(params["log proportions"])
    means = params["means"]
    log_stds = params["log stds"]
    cluster_lls = []
    for k in range(len(means)):
        cluster_lls.append(log_proportions[k] + diag_gaussian_logpdf(data, means[k], log_stds[k]))
    return np.sum(own_logsumexp(np.stack(cluster_lls), axis=0))
