"""Short examples from HIPS/autograd (MIT): examples/rosenbrock.py, examples/tanh.py,
the Taylor series of examples/sinusoid.py, and docs/tutorial.md's ``taylor_sine``
and ``example_func`` (with the tutorial's logsumexp, here differentiated through
rather than given a rule).

Ported by hand: numpy instead of autograd.numpy. ``sin_taylor`` prints each
term in the original; ``sin_taylor_quiet`` is the same loop without the print.
``taylor_sine_unchained`` is ``taylor_sine`` with its chained assignment split.
"""

import numpy as np


def rosenbrock(x):
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


def tanh(x):
    return (1.0 - np.exp(-2 * x)) / (1.0 + np.exp(-(2 * x)))


def sin_taylor(x):
    currterm = x
    ans = currterm
    for i in range(1000):
        print(i, end=" ")
        currterm = -currterm * x**2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        if np.abs(currterm) < 0.2:
            break  # (Very generous tolerance!)
    return ans


def sin_taylor_quiet(x):
    currterm = x
    ans = currterm
    for i in range(1000):
        currterm = -currterm * x**2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        if np.abs(currterm) < 0.2:
            break  # (Very generous tolerance!)
    return ans


def taylor_sine(x):  # Taylor approximation to sine function
    ans = currterm = x
    i = 0
    while np.abs(currterm) > 0.001:
        currterm = -currterm * x**2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        i += 1
    return ans


def taylor_sine_unchained(x):
    ans = x
    currterm = x
    i = 0
    while np.abs(currterm) > 0.001:
        currterm = -currterm * x**2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        i += 1
    return ans


def logsumexp(x):
    """Numerically stable log(sum(exp(x)))"""
    max_x = np.max(x)
    return max_x + np.log(np.sum(np.exp(x - max_x)))


def example_func(y):
    z = y**2
    lse = logsumexp(z)
    return np.sum(lse)
