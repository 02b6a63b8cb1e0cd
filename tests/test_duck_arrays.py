"""Arrays of other libraries, through numpy's dispatch protocols: the generated code and
the runtime helpers run on any array implementing ``__array_function__`` and
``__array_ufunc__``, never converting it to numpy. ``Duck`` is a minimal such array
(a wrapped ndarray) whose conversion to numpy raises, so a helper that assumed
``numpy.ndarray`` fails here instead of silently pulling the data into numpy."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.mixins import NDArrayOperatorsMixin

import adcompile as ad


def _unwrap(x):
    if isinstance(x, Duck):
        return x.data
    if isinstance(x, list | tuple):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return Duck(x)
    if isinstance(x, list | tuple):
        return type(x)(_wrap(v) for v in x)
    return x


class Duck(NDArrayOperatorsMixin):
    def __init__(self, data) -> None:
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("a Duck was converted to a numpy array")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if "out" in kwargs:  # x += y: into x's own data
            out = kwargs["out"]
            if not all(isinstance(o, Duck) for o in out):
                return NotImplemented
            getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
            return out[0] if len(out) == 1 else out
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs)))

    def __array_function__(self, func, types, args, kwargs):
        if not all(issubclass(t, Duck | np.ndarray) for t in types):
            return NotImplemented
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    T = property(lambda self: Duck(self.data.T))

    def __getitem__(self, index):
        return _wrap(self.data[_unwrap(index)])

    def __setitem__(self, index, value):
        self.data[_unwrap(index)] = _unwrap(value)

    def __len__(self) -> int:
        return len(self.data)

    def astype(self, dtype):
        return Duck(self.data.astype(dtype))

    def reshape(self, *shape):
        return Duck(self.data.reshape(*shape))

    def sum(self, *args, **kwargs):
        return _wrap(self.data.sum(*args, **kwargs))


def logistic_loss(w, b, X, y):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def mlp_loss(W1, b1, W2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2
    return np.mean((out[:, 0] - y) ** 2)


def rnn(W, xs):
    h = xs[0]
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t])
    return np.sum(h * h)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 5))
    y = (rng.random(30) > 0.5).astype(float)
    return rng, X, y


@pytest.mark.parametrize(
    "f, make",
    [
        (logistic_loss, lambda rng: (rng.normal(size=5) * 0.1, 0.1)),
        (
            mlp_loss,
            lambda rng: (rng.normal(size=(5, 4)) * 0.3, np.zeros(4), rng.normal(size=(4, 1))),
        ),
    ],
)
def test_gradients_of_duck_arrays_stay_duck_arrays_and_equal_numpys(f, make):
    rng, X, y = _data()
    params = make(rng)
    wrt = tuple(range(len(params) + 1))  # the data X too
    expected = ad.grad(f, wrt=wrt)(*params, X, y)
    gf = ad.grad(f, wrt=wrt)
    for _ in range(2):  # the second call as the first: duck arrays take the slow path
        got = gf(*params, Duck(X), Duck(y))
        for g, e, p in zip(got, expected, [*params, X], strict=True):
            if isinstance(p, np.ndarray):
                assert isinstance(g, Duck)
                assert g.shape == p.shape and g.dtype == p.dtype
                g = g.data
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("checkpoint", [None, "sqrt", 2])
def test_loop_adjoints_accumulate_as_duck_arrays(checkpoint):
    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 4)) * 0.4
    xs = rng.normal(size=(7, 3, 4))
    expected = ad.grad(rnn, wrt=(0, 1))(W, xs)
    got = ad.grad(rnn, wrt=(0, 1), checkpoint=checkpoint)(W, Duck(xs))
    for g, e in zip(got, expected, strict=True):
        assert isinstance(g, Duck)
        np.testing.assert_allclose(g.data, e, rtol=1e-12, atol=1e-15)
