"""Second derivatives of functions that assign into array elements (x[i] = v).

The gradient of such a function writes into arrays it owns in place; hvp and hessian
(forward mode over the gradient's code) write the tangents the same way, beside the
values. Each is checked against central differences of the compiled gradient, which
is itself checked against finite differences elsewhere. Reverse over reverse
(``grad`` of a function calling ``grad(f)``) is refused with a located error.
"""

from __future__ import annotations

import numpy as np
import pytest
from fuzzcheck import load
from helpers import normal

import adcompile as ad

SOURCE = """
import numpy as np


def rnn_rows(Wx, Wh, xs):
    T = xs.shape[0]
    H = np.zeros((T, Wh.shape[0]))
    h = np.zeros(Wh.shape[0])
    for t in range(T):
        h = np.tanh(Wx @ xs[t] + Wh @ h)
        H[t] = h
    return np.sum(H ** 2) / T


def slices_and_pairs(x):
    out = np.zeros((3, 4))
    out[1:3, 0] = np.sin(x[:2])
    out[0, 1:] = x[1:] * 2.0
    out[2, 2] = x[0] * x[3]
    out[:, 3] += np.cos(x[:3])
    return np.sum(np.tanh(out) ** 2)


def repeated_index(x):
    y = np.zeros(4)
    y[np.array([0, 2, 0])] = x[:3] ** 2
    y[1] = np.exp(x[3])
    return np.sum(y * y * x)


def masked(x):
    y = np.sin(x) * x
    y[x > 0.2] = x[x > 0.2] ** 3
    return np.sum(y**2)


def row_by_row(W, x):
    out = np.empty((W.shape[0], x.shape[0]))
    for i in range(W.shape[0]):
        out[i] = np.tanh(W[i] * x)
        if i:
            out[i] += out[i - 1] * 0.5
    return np.sum(out**2)
"""


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    m, _ = load(tmp_path_factory.mktemp("higher_elements"), SOURCE, "higher_elements")
    return m


CASES = {
    "rnn_rows": (lambda: (normal(4, 3), normal(4, 4, seed=1) * 0.3, normal(6, 3, seed=2)), 1),
    "slices_and_pairs": (lambda: (normal(4, seed=3),), 0),
    "repeated_index": (lambda: (normal(4, seed=4),), 0),
    "masked": (lambda: (np.array([0.5, -0.3, 0.9, 0.1, -1.2]),), 0),
    "row_by_row": (lambda: (normal(3, 4, seed=5), normal(4, seed=6)), 0),
}


def gradient_differences(f, args, wrt, v, eps=1e-5):
    g = ad.grad(f, wrt=wrt)

    def at(s):
        moved = list(args)
        moved[wrt] = args[wrt] + s * v
        return g(*moved)

    return (at(eps) - at(-eps)) / (2 * eps)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hvp_of_element_writes_is_the_derivative_of_the_gradient(module, name):
    f = getattr(module, name)
    make, wrt = CASES[name]
    args = make()
    v = normal(*np.shape(args[wrt]), seed=9)
    got = ad.hvp(f, wrt=wrt)(*args, v)
    np.testing.assert_allclose(got, gradient_differences(f, args, wrt, v), rtol=1e-6, atol=1e-8)
    # (the arguments are left as they were)
    for a, b in zip(args, make(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["rnn_rows", "slices_and_pairs"])
def test_hessian_of_element_writes_against_differences(module, name):
    f = getattr(module, name)
    make, wrt = CASES[name]
    args = make()
    H = ad.hessian(f, wrt=wrt)(*args)
    n = np.size(args[wrt])
    shape = np.shape(args[wrt])
    columns = [
        gradient_differences(f, args, wrt, np.eye(n)[k].reshape(shape)).ravel() for k in range(n)
    ]
    np.testing.assert_allclose(H.reshape(n, n), np.array(columns).T, rtol=1e-6, atol=1e-8)


def test_jvp_of_the_gradient_of_element_writes(module):
    args = CASES["rnn_rows"][0]()
    v = normal(4, 4, seed=11)
    _, got = ad.jvp(ad.grad(module.rnn_rows, wrt=1), wrt=1)(*args, v)
    np.testing.assert_allclose(
        got, gradient_differences(module.rnn_rows, args, 1, v), rtol=1e-6, atol=1e-8
    )


def test_gradient_of_a_gradient_with_element_writes_is_refused(module):
    dg = ad.grad(module.slices_and_pairs)

    def penalty(x):
        return np.sum(dg(x) ** 2)

    with pytest.raises(ad.AdCompileError, match="reverse over reverse") as info:
        ad.grad(penalty)(normal(4))
    assert "hvp and hessian" in str(info.value)
