"""Gradients of functions of dask arrays: the generated code and the runtime helpers
run on them as they are (numpy's ``__array_function__``/``__array_ufunc__`` dispatch),
and the gradients come back lazy, computed by whichever scheduler is active, equal to
the numpy gradient. Skipped without dask (``pip install -e '.[dask]'``)."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import adcompile as ad  # noqa: E402


def logistic_loss(w, b, X, y):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def mlp_loss(W1, b1, W2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2
    return np.mean((out[:, 0] - y) ** 2)


def _no_compute(dsk, keys, **kwargs):
    raise AssertionError("the gradient call computed a dask array in this process")


def _data(n=400, d=16, chunks=8, seed=0):
    rng = np.random.default_rng(seed)
    Xn = rng.normal(size=(n, d))
    yn = (rng.random(n) > 0.5).astype(float)
    X = da.from_array(Xn, chunks=(n // chunks, d))
    y = da.from_array(yn, chunks=n // chunks)
    return rng, Xn, yn, X, y


def _check(f, params, Xn, yn, X, y, wrt):
    gf = ad.grad(f, wrt=wrt)
    expected = gf(*params, Xn, yn)
    for _ in range(2):  # the first call compiles, the second goes through the dispatcher
        with dask.config.set(scheduler=_no_compute):
            lazy = gf(*params, X, y)
        assert all(isinstance(g, da.Array) for g in lazy)
        computed = dask.compute(*lazy)
        for g, e, p in zip(computed, expected, list(params) + [Xn, yn], strict=False):
            assert np.shape(g) == np.shape(e) == np.shape(p)
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("wrt", [(0, 1), (0, 1, 2)])
def test_logistic_regression_gradient_is_lazy_and_equals_numpys(wrt):
    rng, Xn, yn, X, y = _data()
    params = (rng.normal(size=16) * 0.1, 0.1)
    _check(logistic_loss, params, Xn, yn, X, y, wrt)


@pytest.mark.parametrize("wrt", [(0, 1, 2), (0, 1, 2, 3)])
def test_mlp_gradient_is_lazy_and_equals_numpys(wrt):
    rng, Xn, yn, X, y = _data()
    params = (rng.normal(size=(16, 8)) * 0.3, np.zeros(8), rng.normal(size=(8, 1)) * 0.3)
    _check(mlp_loss, params, Xn, yn, X, y, wrt)


def test_numpy_checked_against_finite_differences():
    from helpers import assert_grad_matches_fd

    rng, Xn, yn, _, _ = _data(n=40, chunks=4)
    assert_grad_matches_fd(logistic_loss, rng.normal(size=16) * 0.1, 0.1, Xn, yn, wrt=(0, 1))


@pytest.mark.parametrize("schedule", ["sqrt", 3])
def test_checkpointed_loop_on_dask_arrays(schedule):
    def rnn(W, xs):
        h = xs[0]
        for t in range(xs.shape[0]):
            h = np.tanh(h @ W + xs[t])
        return np.sum(h * h)

    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 4)) * 0.4
    xsn = rng.normal(size=(9, 6, 4))
    xs = da.from_array(xsn, chunks=(1, 3, 4))
    gf = ad.grad(rnn, wrt=(0, 1), checkpoint=schedule)
    with dask.config.set(scheduler=_no_compute):
        lazy = gf(W, xs)
    for g, e in zip(dask.compute(*lazy), ad.grad(rnn, wrt=(0, 1))(W, xsn), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-15)


def take_rows(x, idx):
    return np.sum(np.sin(x[idx]) ** 2)


def take_twice(x, i, j):
    return np.sum(np.sin(x[i, 1:]) * np.sum(x[j]))


@pytest.mark.parametrize(
    "f, indices",
    [
        (take_rows, ([0, 3, 3, 1, 3],)),  # repeated rows: their adjoints add up
        (take_rows, ([2, 0],)),  # no repeats
        (take_twice, ([1, 1, 0], [3, 0, 0, 0])),  # with a slice; added into an adjoint
    ],
)
def test_array_index_into_a_dask_array(f, indices):
    xn = np.arange(12.0).reshape(4, 3) / 7
    x = da.from_array(xn, chunks=2)
    indices = tuple(np.array(i) for i in indices)
    with dask.config.set(scheduler=_no_compute):
        lazy = ad.grad(f)(x, *indices)
    assert isinstance(lazy, da.Array)
    (g,) = dask.compute(lazy)
    np.testing.assert_allclose(g, ad.grad(f)(xn, *indices), rtol=1e-12)


def test_an_index_not_computed_yet_or_a_mask_of_a_dask_array_is_a_clear_error():
    xn = np.arange(12.0).reshape(4, 3) / 7
    x = da.from_array(xn, chunks=2)
    idx = da.from_array(np.array([0, 3, 3]), chunks=2)
    with pytest.raises(TypeError, match="compute the index first"):
        ad.grad(take_rows)(x, idx)

    def masked(x):
        return np.sum(x[x > 0.5] ** 2)

    with pytest.raises(TypeError, match=r"np.where\(mask, x, 0\) instead of x\[mask\]"):
        ad.grad(masked)(x)


def test_distributed_cluster():
    distributed = pytest.importorskip("distributed")
    # 400,000 x 16 in 8 chunks, generated on the workers (not shipped in the graph)
    lazy_rng = da.random.default_rng(0)
    X = lazy_rng.normal(size=(400_000, 16), chunks=(50_000, 16))
    y = (lazy_rng.random(400_000, chunks=50_000) > 0.5).astype(float)
    Xn, yn = dask.compute(X, y)
    rng = np.random.default_rng(0)
    w = rng.normal(size=16) * 0.1
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        for f, params in [
            (logistic_loss, (w, 0.1)),
            (mlp_loss, (rng.normal(size=(16, 8)) * 0.3, np.zeros(8), rng.normal(size=(8, 1)))),
        ]:
            wrt = tuple(range(len(params)))
            lazy = ad.grad(f, wrt=wrt)(*params, X, y)
            assert all(isinstance(g, da.Array) for g in lazy)
            computed = client.compute(list(lazy), sync=True)
            expected = ad.grad(f, wrt=wrt)(*params, Xn, yn)
            for g, e in zip(computed, expected, strict=True):
                np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-15)


def test_distributed_training_example_lowers_the_loss():
    pytest.importorskip("distributed")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "distributed_training.py"
    spec = importlib.util.spec_from_file_location("distributed_training", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    args = ["--rows", "20000", "--chunk-rows", "5000", "--features", "4", "--steps", "4"]
    losses = example.main(args)
    assert len(losses) == 4 and losses[-1] < losses[0]
    # the loss the example trains is the one adcompile differentiates: check it
    from helpers import assert_grad_matches_fd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = (rng.random(50) > 0.5).astype(float)
    assert_grad_matches_fd(example.loss, rng.normal(size=4), 0.3, X, y, wrt=(0, 1))
