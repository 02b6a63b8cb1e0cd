"""One-line numpy functions from HIPS/autograd's (MIT) tests/test_numpy.py.

Ported by hand: numpy instead of autograd.numpy. Each test's ``fun`` is named
after its test (``test_max_axis`` -> ``max_axis``). The tests that close over
arrays made in the test keep their closures here, built by a factory at
import with fixed arrays in place of the random ones.
"""

import numpy as np


def dot(x, y):
    return np.dot(x, y)


def outer(x, y):
    return np.outer(x, y)


def max_(x):
    return np.max(x)


def max_axis(x):
    return np.max(x, axis=1)


def max_axis_keepdims(x):
    return np.max(x, axis=1, keepdims=True)


def min_(x):
    return np.min(x)


def min_axis(x):
    return np.min(x, axis=1)


def min_axis_keepdims(x):
    return np.min(x, axis=1, keepdims=True)


def sum_1(x):
    return np.sum(x)


def sum_2(x):
    return np.sum(x, axis=0)


def sum_3(x):
    return np.sum(x, axis=0, keepdims=True)


def sum_with_axis_tuple(x):
    return np.sum(x, axis=(1, 2))


def flipud(x):
    return np.flipud(x)


def cumsum_axis0(x):
    return np.cumsum(x, axis=0)


def non_numpy_sum(x, y):
    return sum([x, y])


def mean_1(x):
    return np.mean(x)


def mean_2(x):
    return np.mean(x, axis=0)


def mean_3(x):
    return np.mean(x, axis=0, keepdims=True)


def index_ints(x):
    return x[3, 0, 1]


def index_slice(x):
    return x[::-1, 2:4, :]


def index_lists(x):
    return x[[0, 1, 2], :, :]


def index_mixed(x):
    return x[3, 2:, [1, 3]]


def vector_slice(x):
    return x[2:4]


def index_slice_fanout(x):
    y = x[::-1, 2:4, :]
    z = x[::-1, 3:5, :]
    return y + z


def index_multiple_slices(x):
    y = x[2:6]
    z = y[1:3]
    return z


def reshape_method(x):
    return x.reshape((5 * 4, 6))


def reshape_call(x):
    return np.reshape(x, (5 * 4, 6))


def reshape_method_nolist(x):
    return x.reshape(5 * 4, 6)


def ravel_method(x):
    return x.ravel()


def ravel_call(x):
    return np.ravel(x)


def flatten_method(x):
    return x.flatten()


def _simple_concatenate():
    A = np.linspace(-1.0, 1.0, 5 * 6 * 4).reshape(5, 6, 4)

    def fun(x):
        return np.concatenate((A, x))

    return fun


simple_concatenate = _simple_concatenate()


def _concatenate_axis_1():
    B = np.linspace(-1.0, 1.0, 5 * 6 * 4).reshape(5, 6, 4)

    def fun(x):
        return np.concatenate((B, x, B), axis=1)

    return fun


concatenate_axis_1 = _concatenate_axis_1()


def _trace():
    offset = 2

    def fun(x):
        return np.trace(x, offset=offset)

    return fun


trace = _trace()


def diag(x):
    return np.diag(x)


def transpose(x):
    return x.T


def roll(x):
    return np.roll(x, 2, axis=1)


def triu(x):
    return np.triu(x, k=2)


def clip(x):
    return np.clip(x, a_min=0.1, a_max=1.1)


def prod_1(x):
    return np.prod(x)


def prod_2(x):
    return np.prod(x, axis=0)


def prod_3(x):
    return np.prod(x, axis=0, keepdims=True)


def array_1d(x):
    return np.array([x, x * 1.0, x + 2.5])


def _where():
    C = np.array([[True, False, True, True, False], [False, False, True, False, True]])

    def fun(x, y):
        b = np.where(C, x, y)
        return b

    return fun


where = _where()


def squeeze_func(x):
    return np.squeeze(x)


def squeeze_method(x):
    return x.squeeze()


def repeat(x):
    return np.repeat(x, 2, axis=1)


def expand_dims(x):
    return np.expand_dims(x, 2)


def tensordot_kwargs_by_position(x):
    return np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2)


def index_dot_slices(x):
    return np.dot(x[:2], x[2:])


def maximum_equal_values(x):
    return np.maximum(x, x)


def max_equal_values(x):
    return np.max(np.array([x, x]))
