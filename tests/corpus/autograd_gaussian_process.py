"""Gaussian process regression, after HIPS/autograd's examples/gaussian_process.py (MIT).

Ported by hand: numpy and scipy instead of autograd's wrappers. The original
builds its functions as closures of ``make_gp_funs``; here they are module
level and take the covariance parameters' count as fixed (one input dimension).
"""

import numpy as np
from numpy.linalg import solve
from scipy.stats import multivariate_normal as mvn


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs**2, axis=2))


def unpack_kernel_params(params):
    mean = params[0]
    cov_params = params[2:]
    noise_scale = np.exp(params[1]) + 0.0001
    return mean, cov_params, noise_scale


def predict(params, x, y, xstar):
    """Returns the predictive mean and covariance at locations xstar,
    of the latent function value f (without observation noise)."""
    mean, cov_params, noise_scale = unpack_kernel_params(params)
    cov_f_f = rbf_covariance(cov_params, xstar, xstar)
    cov_y_f = rbf_covariance(cov_params, x, xstar)
    cov_y_y = rbf_covariance(cov_params, x, x) + noise_scale * np.eye(len(y))
    pred_mean = mean + np.dot(solve(cov_y_y, cov_y_f).T, y - mean)
    pred_cov = cov_f_f - np.dot(solve(cov_y_y, cov_y_f).T, cov_y_f)
    return pred_mean, pred_cov


def log_marginal_likelihood(params, x, y):
    mean, cov_params, noise_scale = unpack_kernel_params(params)
    cov_y_y = rbf_covariance(cov_params, x, x) + noise_scale * np.eye(len(y))
    prior_mean = mean * np.ones(len(y))
    return mvn.logpdf(y, prior_mean, cov_y_y)
