"""A character-level recurrent network, after HIPS/autograd's examples/rnn.py (MIT).

Ported by hand: numpy and scipy instead of autograd's wrappers; the model's
functions (``sigmoid``, ``concat_and_multiply`` with its ``*args``, ``rnn_predict``
with its closures, ``rnn_log_likelihood``) as written. The ``_lifted`` versions
below are the same code as it had to be written before adcompile took closures and
``*args``: the closures moved to module level (taking ``params``), two-argument
concatenation, np.concatenate for np.hstack, broadcasting for np.repeat, and
convnet.py's logsumexp; they stay as a second, independent check.
"""

import numpy as np
from scipy.special import logsumexp


def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)  # Output ranges from 0 to 1.


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def rnn_predict(params, inputs):
    def update_rnn(input, hiddens):
        return np.tanh(concat_and_multiply(params["change"], input, hiddens))

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)  # Normalize log-probs.

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    output = [hiddens_to_output_probs(hiddens)]

    for input in inputs:  # Iterate over time steps.
        hiddens = update_rnn(input, hiddens)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def rnn_log_likelihood(params, inputs, targets):
    logprobs = rnn_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


# ---------------------------------------------------------------- lifted


def logsumexp_lifted(X, axis, keepdims=False):
    max_X = np.max(X)
    return max_X + np.log(np.sum(np.exp(X - max_X), axis=axis, keepdims=keepdims))


def concat_and_multiply1(weights, a):
    cat_state = np.concatenate([a, np.ones((a.shape[0], 1))], axis=1)
    return np.dot(cat_state, weights)


def concat_and_multiply2(weights, a, b):
    cat_state = np.concatenate([a, b, np.ones((a.shape[0], 1))], axis=1)
    return np.dot(cat_state, weights)


def update_rnn(params, input, hiddens):
    return np.tanh(concat_and_multiply2(params["change"], input, hiddens))


def hiddens_to_output_probs(params, hiddens):
    output = concat_and_multiply1(params["predict"], hiddens)
    return output - logsumexp_lifted(output, axis=1, keepdims=True)  # Normalize log-probs.


def rnn_predict_lifted(params, inputs):
    num_sequences = inputs.shape[1]
    hiddens = params["init hiddens"] + np.zeros((num_sequences, 1))
    output = [hiddens_to_output_probs(params, hiddens)]

    for input in inputs:  # Iterate over time steps.
        hiddens = update_rnn(params, input, hiddens)
        output.append(hiddens_to_output_probs(params, hiddens))
    return output


def rnn_log_likelihood_lifted(params, inputs, targets):
    logprobs = rnn_predict_lifted(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)
