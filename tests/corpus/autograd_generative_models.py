"""The networks and objectives of HIPS/autograd's (MIT) examples/variational_autoencoder.py
and examples/generative_adversarial_net.py.

Ported by hand: numpy and scipy instead of autograd's wrappers. Where the
originals draw random numbers from a RandomState, the draws are an argument
here, so the objectives are deterministic functions.
"""

import numpy as np
from scipy.special import expit as sigmoid
from scipy.stats import norm

# ------------------------------------------------ variational_autoencoder.py


def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(norm.logpdf(x, mu, np.exp(log_std)), axis=-1)


def unpack_gaussian_params(params):
    # Params of a diagonal Gaussian.
    D = np.shape(params)[-1] // 2
    mean, log_std = params[:, :D], params[:, D:]
    return mean, log_std


def bernoulli_log_density(targets, unnormalized_logprobs):
    # unnormalized_logprobs are in R
    # Targets must be -1 or 1
    label_probabilities = -np.logaddexp(0, -unnormalized_logprobs * targets)
    return np.sum(label_probabilities, axis=-1)  # Sum across pixels.


def relu(x):
    return np.maximum(0, x)


def batch_normalize(activations):
    mbmean = np.mean(activations, axis=0, keepdims=True)
    return (activations - mbmean) / (np.std(activations, axis=0, keepdims=True) + 1)


def vae_neural_net_predict(params, inputs):
    """Params is a list of (weights, bias) tuples.
    inputs is an (N x D) matrix.
    Applies batch normalization to every layer but the last."""
    for W, b in params[:-1]:
        outputs = batch_normalize(np.dot(inputs, W) + b)  # linear transformation
        inputs = relu(outputs)  # nonlinear transformation
    outW, outb = params[-1]
    outputs = np.dot(inputs, outW) + outb
    return outputs


def nn_predict_gaussian(params, inputs):
    # Returns means and diagonal variances
    return unpack_gaussian_params(vae_neural_net_predict(params, inputs))


def sample_diag_gaussian(mean, log_std, noise):
    return noise * np.exp(log_std) + mean


def p_images_given_latents(gen_params, images, latents):
    preds = vae_neural_net_predict(gen_params, latents)
    return bernoulli_log_density(images, preds)


def vae_lower_bound(gen_params, rec_params, data, noise):
    q_means, q_log_stds = nn_predict_gaussian(rec_params, data)
    latents = sample_diag_gaussian(q_means, q_log_stds, noise)
    q_latents = diag_gaussian_log_density(latents, q_means, q_log_stds)
    p_latents = diag_gaussian_log_density(latents, 0, 0)
    likelihood = p_images_given_latents(gen_params, data, latents)
    return np.mean(p_latents + likelihood - q_latents)


def generate_from_prior(gen_params, latents):
    return sigmoid(vae_neural_net_predict(gen_params, latents))


# ---------------------------------------------- generative_adversarial_net.py


def tanh_sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)


def logsigmoid(x):
    return x - np.logaddexp(0, x)


def gan_neural_net_predict(params, inputs):
    """Params is a list of (weights, bias) tuples.
    inputs is an (N x D) matrix."""
    inpW, inpb = params[0]
    inputs = relu(np.dot(inputs, inpW) + inpb)
    for W, b in params[1:-1]:
        outputs = batch_normalize(np.dot(inputs, W) + b)
        inputs = relu(outputs)
    outW, outb = params[-1]
    outputs = np.dot(inputs, outW) + outb
    return outputs


def generate_from_noise(gen_params, noise):
    samples = gan_neural_net_predict(gen_params, noise)
    return tanh_sigmoid(samples)


def gan_objective(gen_params, dsc_params, real_data, noise):
    fake_data = generate_from_noise(gen_params, noise)
    logprobs_fake = logsigmoid(gan_neural_net_predict(dsc_params, fake_data))
    logprobs_real = logsigmoid(gan_neural_net_predict(dsc_params, real_data))
    return np.mean(logprobs_real) - np.mean(logprobs_fake)
