"""A long short-term memory network, after HIPS/autograd's examples/lstm.py (MIT).

Ported by hand: numpy and scipy instead of autograd's wrappers; the helpers it
imports from examples/rnn.py come from this corpus's port of that file. The model's
functions are as written; as for the RNN, the ``_lifted`` versions move the
closures to module level and are kept as a second check.
"""

import numpy as np
from scipy.special import logsumexp

from .autograd_rnn import (
    concat_and_multiply,
    concat_and_multiply1,
    concat_and_multiply2,
    logsumexp_lifted,
    sigmoid,
)


def lstm_predict(params, inputs):
    def update_lstm(input, hiddens, cells):
        change = np.tanh(concat_and_multiply(params["change"], input, hiddens))
        forget = sigmoid(concat_and_multiply(params["forget"], input, hiddens))
        ingate = sigmoid(concat_and_multiply(params["ingate"], input, hiddens))
        outgate = sigmoid(concat_and_multiply(params["outgate"], input, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * np.tanh(cells)
        return hiddens, cells

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)  # Normalize log-probs.

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    cells = np.repeat(params["init cells"], num_sequences, axis=0)

    output = [hiddens_to_output_probs(hiddens)]
    for input in inputs:  # Iterate over time steps.
        hiddens, cells = update_lstm(input, hiddens, cells)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def lstm_log_likelihood(params, inputs, targets):
    logprobs = lstm_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


# ---------------------------------------------------------------- lifted


def update_lstm(params, input, hiddens, cells):
    change = np.tanh(concat_and_multiply2(params["change"], input, hiddens))
    forget = sigmoid(concat_and_multiply2(params["forget"], input, hiddens))
    ingate = sigmoid(concat_and_multiply2(params["ingate"], input, hiddens))
    outgate = sigmoid(concat_and_multiply2(params["outgate"], input, hiddens))
    cells = cells * forget + ingate * change
    hiddens = outgate * np.tanh(cells)
    return hiddens, cells


def lstm_hiddens_to_output_probs(params, hiddens):
    output = concat_and_multiply1(params["predict"], hiddens)
    return output - logsumexp_lifted(output, axis=1, keepdims=True)  # Normalize log-probs.


def lstm_predict_lifted(params, inputs):
    num_sequences = inputs.shape[1]
    hiddens = params["init hiddens"] + np.zeros((num_sequences, 1))
    cells = params["init cells"] + np.zeros((num_sequences, 1))

    output = [lstm_hiddens_to_output_probs(params, hiddens)]
    for input in inputs:  # Iterate over time steps.
        hiddens, cells = update_lstm(params, input, hiddens, cells)
        output.append(lstm_hiddens_to_output_probs(params, hiddens))
    return output


def lstm_log_likelihood_lifted(params, inputs, targets):
    logprobs = lstm_predict_lifted(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)
