"""The numba backend's code makes fewer large arrays: ``matmul(a, b) + c`` is one
array (``matmul_add``: filled with ``c``, then gemm adds the product), and
``np.exp(expression)`` overwrites the expression's own fresh array. Each helper gives
numpy's values for every layout, dtype and broadcast ``c``; an array the code may read
again (the user's, a saved one) is never overwritten."""

from __future__ import annotations

import numpy as np
import pytest
import test_numba_backend as nb

import adcompile as ad

needs_numba = nb.needs_numba


cache_dir = nb.cache_dir  # (the compiled modules and numba's cache in this run's folder)


def _addends(rng, product_shape, dtype):
    """Every ``c`` that broadcasts to the product's shape without enlarging it, in
    every layout, and numbers."""
    shapes = [product_shape, product_shape[-1:], (1,)]
    if len(product_shape) == 2:
        m, n = product_shape
        shapes += [(m, 1), (1, n), (1, 1)]
    out = [c for shape in shapes for c in nb._operands(rng, shape, dtype)]
    out.append(np.asarray(1.5, dtype))  # (a 0-d array)
    if dtype == np.float64:  # (a float32 product plus a Python number: numba's float64)
        out += [2.5, 3]
    return out


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "shapes", [((3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 0), (0, 2))]
)
def test_the_matrix_product_plus_helper_is_numpys(shapes, dtype):
    from adcompile.jit.helpers import matmul_add

    rng = np.random.default_rng(21)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for a in nb._operands(rng, shapes[0], dtype):
        for b in nb._operands(rng, shapes[1], dtype):
            for c in _addends(rng, (a @ b).shape, dtype):
                kept = np.copy(c)
                got, want = matmul_add(a, b, c), a @ b + c
                assert got.shape == want.shape and got.dtype == want.dtype
                np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6)
                np.testing.assert_array_equal(c, kept)  # (c is read, not written)


@needs_numba
def test_a_c_that_enlarges_the_product_gives_numpys_sum_or_error():
    from adcompile.jit.helpers import matmul_add

    a, b = np.ones((1, 4)), np.arange(12.0).reshape(4, 3)
    for c in (np.ones((5, 3)), np.ones((2, 5, 3)), np.ones((5, 1))):
        np.testing.assert_array_equal(matmul_add(a, b, c), a @ b + c)
    for c in (np.ones(4), np.ones((2, 4))):
        with pytest.raises(ValueError):
            a @ b + c
        with pytest.raises(ValueError):
            matmul_add(a, b, c)
    with pytest.raises(ValueError):  # (the product's own shapes first)
        matmul_add(np.ones((3, 4)), np.ones((5, 2)), np.ones(2))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_vector_functions_overwrite_only_when_told(dtype):
    from adcompile.jit import helpers
    from adcompile.jit.native import UFUNCS

    rng = np.random.default_rng(22)
    x = rng.uniform(1.1, 1.9, size=(7, 30)).astype(dtype)  # (in every domain but arcsin's)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    for name in UFUNCS:
        fn, ufunc = getattr(helpers, f"numpy_{name}"), getattr(np, name)
        x_ = x - 1.0 if name in ("arcsin", "arccos", "arctanh") else x
        for view in (lambda v: v, np.transpose, lambda v: v[:, ::3], lambda v: v[:2, :3]):
            a = view(x_.copy())  # (C, F, strided, under LOOP_SIZE)
            kept = a.copy()
            want = ufunc(kept)
            np.testing.assert_allclose(fn(a), want, rtol=rtol)
            np.testing.assert_array_equal(a, kept)  # (not told: kept)
            got = fn(a, True)
            assert got.dtype == dtype and got.shape == a.shape
            np.testing.assert_allclose(got, want, rtol=rtol)
            if a.flags.c_contiguous or a.flags.f_contiguous and a.size >= 8:
                assert np.shares_memory(got, a)  # (its own array, no second one)


def dense_layers(W1, b1, W2, b2, x):
    h = np.tanh(W1 @ x + b1)
    z = b2 + np.dot(W2, h)
    e = np.exp(z)  # (z is read again below: never overwritten)
    return np.sum(np.log1p(e * e)) + np.sum(np.exp(-z) * z)


@needs_numba
@pytest.mark.parametrize(
    "bias_shapes", [((6, 1), (3, 1)), ((6, 5), (1, 5)), ((5,), (5,)), ((1,), (3, 5))]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_layers_match_the_numpy_backend_and_keep_their_arguments(bias_shapes, dtype):
    rng = np.random.default_rng(23)
    args = [
        rng.normal(size=(6, 4)) * 0.5,
        rng.normal(size=bias_shapes[0]),
        rng.normal(size=(3, 6)) * 0.5,
        rng.normal(size=bias_shapes[1]),
        rng.normal(size=(4, 5)),
    ]
    args = [a.astype(dtype) for a in args]
    kept = [a.copy() for a in args]
    if dtype == np.float64:
        fast = nb.same_as_numpy(dense_layers, args, (0, 1, 2, 3, 4))
    else:
        fast = ad.grad(dense_layers, wrt=(0, 1, 2, 3, 4), backend="numba")
        want = ad.grad(dense_layers, wrt=(0, 1, 2, 3, 4))(*args)
        for a, b in zip(fast(*args), want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(args, kept, strict=True):
        np.testing.assert_array_equal(a, b)
    assert "matmul_add(W1, x, b1)" in fast.source and "matmul_add(W2, h, b2)" in fast.source
    assert "numpy_exp(z)" in fast.source  # (a variable: read again)
    assert "numpy_exp(-z, overwrite=True)" in fast.source  # (a fresh array)


def exp_of_an_argument(x, y):
    return np.sum(np.exp(x) @ np.tanh(x.T @ y)) + np.sum(np.log1p(np.exp(-x) @ y))


@needs_numba
def test_an_argument_passed_to_a_vector_function_is_never_overwritten():
    rng = np.random.default_rng(24)
    args = (rng.normal(size=(9, 9)), rng.normal(size=(9, 4)))
    kept = [a.copy() for a in args]
    fast = nb.same_as_numpy(exp_of_an_argument, args, (0, 1))
    for a, b in zip(args, kept, strict=True):
        np.testing.assert_array_equal(a, b)
    assert "numpy_exp(x)" in fast.source
    assert "numpy_exp(-x, overwrite=True)" in fast.source
    assert "numpy_tanh(matmul(" in fast.source and "), overwrite=True)" in fast.source
