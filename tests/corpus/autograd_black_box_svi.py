"""Black-box stochastic variational inference, after HIPS/autograd's
examples/black_box_svi.py (MIT).

Ported by hand: numpy and scipy instead of autograd's wrappers. The original
objective is a closure that draws its noise from a RandomState; here the
standard-normal draws are an argument (``noise``), so the objective is a
deterministic function. ``log_density`` is the example's target (a funnel),
first as written with scipy.stats.norm, then with the normal log-density
written out (``log_density_explicit``).
"""

import numpy as np
from scipy.stats import norm

D = 2


def unpack_params(params):
    # Variational dist is a diagonal Gaussian.
    mean, log_std = params[:D], params[D:]
    return mean, log_std


def gaussian_entropy(log_std):
    return 0.5 * D * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)


def log_density(x, t):
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = norm.logpdf(log_sigma, 0, 1.35)
    mu_density = norm.logpdf(mu, 0, np.exp(log_sigma))
    return sigma_density + mu_density


def norm_logpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)


def log_density_explicit(x, t):
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = norm_logpdf(log_sigma, 0, 1.35)
    mu_density = norm_logpdf(mu, 0, np.exp(log_sigma))
    return sigma_density + mu_density


def variational_objective(params, t, noise):
    """Provides a stochastic estimate of the variational lower bound."""
    mean, log_std = unpack_params(params)
    samples = noise * np.exp(log_std) + mean
    lower_bound = gaussian_entropy(log_std) + np.mean(log_density(samples, t))
    return -lower_bound


def variational_objective_explicit(params, t, noise):
    mean, log_std = unpack_params(params)
    samples = noise * np.exp(log_std) + mean
    lower_bound = gaussian_entropy(log_std) + np.mean(log_density_explicit(samples, t))
    return -lower_bound
