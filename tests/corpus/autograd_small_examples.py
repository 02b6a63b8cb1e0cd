"""Short examples from HIPS/autograd (MIT): examples/rosenbrock.py, examples/tanh.py
and the Taylor series of examples/sinusoid.py.

Ported by hand: numpy instead of autograd.numpy. ``sin_taylor`` prints each
term in the original; ``sin_taylor_quiet`` is the same loop without the print.
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
