"""A multi-layer perceptron classifier with a log-softmax output, after
HIPS/autograd's examples/neural_net.py (MIT); the log-sum-exp helper is the one
of examples/convnet.py.

Ported by hand: numpy and scipy instead of autograd's wrappers. ``l2_norm``
used autograd.misc.flatten; here it flattens with np.concatenate. The
``_own_lse`` versions use convnet.py's logsumexp.
"""

import numpy as np
from scipy.special import logsumexp


def neural_net_predict(params, inputs):
    """params is a list of (weights, bias) tuples, inputs an (N x D) matrix;
    returns normalized class log-probabilities."""
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)


def l2_norm(params):
    """The squared l2 norm of params, flattened into a vector."""
    pieces = []
    for W, b in params:
        pieces.append(np.ravel(W))
        pieces.append(np.ravel(b))
    flattened = np.concatenate(pieces)
    return np.dot(flattened, flattened)


def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return log_prior + log_lik


# examples/convnet.py's own log-sum-exp (a global max, then a reduction on an axis)
def convnet_logsumexp(X, axis, keepdims=False):
    max_X = np.max(X)
    return max_X + np.log(np.sum(np.exp(X - max_X), axis=axis, keepdims=keepdims))


def neural_net_predict_own_lse(params, inputs):
    """neural_net_predict with convnet.py's logsumexp in place of scipy's, and
    ``outputs`` given a value before the loop (as if params were empty)."""
    outputs = inputs
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - convnet_logsumexp(outputs, axis=1, keepdims=True)


def log_posterior_own_lse(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(neural_net_predict_own_lse(params, inputs) * targets)
    return log_prior + log_lik
