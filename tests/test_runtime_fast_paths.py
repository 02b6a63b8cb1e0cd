"""The runtime helpers' fast paths give exactly what their general paths give.

Each helper has a fast path for plain ndarrays (the common case, where Python-level
overhead dominates on small arrays). Passing a nested list instead of an ndarray
takes the general path, which serves as the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad
from adcompile.runtime import (
    NonScalarResult,
    grad_like,
    matmul_adjoint_lhs,
    matmul_adjoint_rhs,
    unbroadcast,
    unit_cotangent,
    unreduce,
    zero_like,
)

UNBROADCAST_CASES = [
    ((8, 16), (8, 16)),
    ((8, 16), (8, 1)),
    ((8, 16), (1, 16)),
    ((8, 16), (1, 1)),
    ((3, 4, 5), (3, 1, 5)),
    ((3, 4, 5), (1, 4, 1)),
    ((1, 16), (8, 16)),  # a cotangent smaller than its operand is spread over it
    ((8, 1), (8, 16)),
    ((2, 0), (1, 0)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize(("gshape", "xshape"), UNBROADCAST_CASES)
def test_unbroadcast_fast_path_matches_general_path(gshape, xshape, dtype):
    rng = np.random.default_rng(0)
    g = rng.normal(size=gshape).astype(dtype)
    x = np.zeros(xshape, dtype=dtype)
    fast = unbroadcast(g, x)
    general = unbroadcast(g, x.tolist())
    assert type(fast) is np.ndarray
    assert fast.shape == xshape
    assert fast.dtype == general.dtype == dtype
    np.testing.assert_allclose(fast, general, rtol=1e-6)


def test_unbroadcast_fast_path_returns_an_equal_shape_cotangent_itself():
    g = np.ones((3, 2))
    assert unbroadcast(g, np.zeros((3, 2))) is g


def test_unbroadcast_fast_path_result_is_writable_when_spread():
    out = unbroadcast(np.ones((1, 4)), np.zeros((3, 4)))
    assert out.flags.writeable
    np.testing.assert_array_equal(out, np.ones((3, 4)))


@pytest.mark.parametrize(("gshape", "xshape"), [((8, 16), (16,)), ((8, 16), ()), ((4,), (2, 4))])
def test_unbroadcast_other_ranks_still_work(gshape, xshape):
    g = np.arange(np.prod(gshape), dtype=float).reshape(gshape)
    x = np.zeros(xshape)
    expected = unbroadcast(g, x.tolist() if xshape else 0.0)
    np.testing.assert_allclose(unbroadcast(g, x), expected)
    assert np.shape(unbroadcast(g, x)) == xshape


@pytest.mark.parametrize("g", [0.5, np.float64(0.5), np.float32(0.5), np.array(0.5), 2 + 1j])
@pytest.mark.parametrize("xshape", [(1, 16), (3, 4, 5), (), (0, 2)])
def test_unreduce_full_reduction_matches_broadcast_to(g, xshape):
    x = np.zeros(xshape)
    got = unreduce(g, x)
    want = np.broadcast_to(g, xshape)
    assert type(got) is np.ndarray
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert not got.flags.writeable
    np.testing.assert_array_equal(got, want)


def test_unreduce_of_a_python_float_operand():
    got = unreduce(1.5, 3.0)
    assert np.shape(got) == ()
    assert float(got) == 1.5


def test_unreduce_over_an_axis_is_unchanged():
    x = np.zeros((3, 4))
    g = np.arange(3.0)
    np.testing.assert_array_equal(unreduce(g, x, 1), np.broadcast_to(g[:, None], (3, 4)))
    np.testing.assert_array_equal(
        unreduce(g[:, None], x, 1, True), np.broadcast_to(g[:, None], (3, 4))
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("m", "k", "n"), [(8, 4, 16), (1, 8, 16), (1, 1, 1), (5, 3, 1)])
def test_matmul_adjoints_fast_path_matches_general_path(m, k, n, dtype):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(m, k)).astype(dtype)
    y = rng.normal(size=(k, n)).astype(dtype)
    g = rng.normal(size=(m, n)).astype(dtype)
    dx = matmul_adjoint_lhs(g, x, y)
    dy = matmul_adjoint_rhs(g, x, y)
    assert dx.shape == x.shape and dx.dtype == dtype
    assert dy.shape == y.shape and dy.dtype == dtype
    np.testing.assert_allclose(dx, matmul_adjoint_lhs(g, x.tolist(), y.tolist()), rtol=1e-5)
    np.testing.assert_allclose(dy, matmul_adjoint_rhs(g, x.tolist(), y.tolist()), rtol=1e-5)
    np.testing.assert_allclose(dx, g @ y.T, rtol=1e-5)
    np.testing.assert_allclose(dy, x.T @ g, rtol=1e-5)


SCALARS = [1.5, 3, 2 + 1j, np.float64(1.5), np.float32(1.5), np.float16(1.5), np.complex128(1j)]


@pytest.mark.parametrize("g", SCALARS)
@pytest.mark.parametrize("x", SCALARS)
def test_unbroadcast_scalar_fast_path_matches_general_path(g, x):
    if np.iscomplexobj(g) and not np.iscomplexobj(x):
        # a real value's cotangent is real: a complex one with a nonzero imaginary
        # part is refused on either path
        for operand in (x, np.asarray(x)):
            with pytest.raises(TypeError, match="nonzero imaginary part"):
                unbroadcast(g, operand)
        return
    # a 0-d array x takes the general path, which returns g itself: shapes () and ()
    general = unbroadcast(g, np.asarray(x))
    assert general is g
    assert unbroadcast(g, x) is g


@pytest.mark.parametrize("x", [np.float64(1.5), np.array(1.5), 1.5])
def test_unbroadcast_of_an_array_to_a_scalar_still_sums(x):
    g = np.arange(6.0).reshape(2, 3)
    got = unbroadcast(g, x)
    assert np.shape(got) == ()
    assert float(got) == 15.0


def test_zero_like_of_a_python_float_is_a_float_zero():
    z = zero_like(0.7)
    general = np.zeros_like(0.7, dtype=np.result_type(0.7, float))
    assert type(z) is float
    assert z == general and np.result_type(z) == general.dtype
    z += 1.25  # accumulating into it, as generated code does
    assert z == 1.25


@pytest.mark.parametrize(
    "x", [np.float64(0.7), np.float32(0.7), np.array(0.7), 2 + 1j, np.zeros((2, 3), np.float32)]
)
def test_zero_like_of_other_values_is_unchanged(x):
    z = zero_like(x)
    assert type(z) is np.ndarray
    assert z.shape == np.shape(x)
    # floating (and complex) dtypes kept as they are: float32 zeros for a float32 value
    assert z.dtype == np.result_type(x, 0.0)
    assert z.dtype == (np.float32 if np.result_type(x) == np.float32 else np.result_type(x, float))
    assert not np.any(z)


def scalar_chain(y, x):
    for _ in range(5):
        y = np.sin(y * x) + np.cos(y)
    return y


def test_scalar_code_on_python_floats_gives_python_float_gradients():
    dy, dx = ad.grad(scalar_chain, wrt=(0, 1))(0.3, 0.7)
    assert type(dy) is float and type(dx) is float
    eps = 1e-6
    fd_x = (scalar_chain(0.3, 0.7 + eps) - scalar_chain(0.3, 0.7 - eps)) / (2 * eps)
    fd_y = (scalar_chain(0.3 + eps, 0.7) - scalar_chain(0.3 - eps, 0.7)) / (2 * eps)
    assert abs(dx - fd_x) < 1e-8 and abs(dy - fd_y) < 1e-8


LOWER_RANK_CASES = [
    ((8, 32), (32,)),
    ((8, 32), (1,)),
    ((8, 32), ()),
    ((4, 8, 32), (32,)),
    ((4, 8, 32), (8, 1)),
    ((4, 8, 32), (1, 32)),
    ((4, 1, 32), (8, 32)),  # a cotangent smaller than its operand is spread over it
    ((3, 0), (0,)),
    ((2, 3), (1, 1)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize(("gshape", "xshape"), LOWER_RANK_CASES)
def test_unbroadcast_lower_rank_fast_path_matches_general_path(gshape, xshape, dtype):
    rng = np.random.default_rng(2)
    g = rng.normal(size=gshape).astype(dtype)
    x = np.zeros(xshape, dtype=dtype)
    fast = unbroadcast(g, x)
    general = unbroadcast(g, x.tolist() if xshape else np.zeros((), dtype).item())
    assert np.shape(fast) == xshape
    assert fast.dtype == np.asarray(general).dtype == dtype
    # the same sums in the same order: equal to the last bit
    np.testing.assert_array_equal(fast, general)
    if isinstance(fast, np.ndarray):
        assert fast.flags.writeable  # a new array, never a view of g


def test_unit_cotangent_of_scalars_and_its_refusal_of_arrays():
    for y in (0.5, np.float64(0.5), np.float32(0.5), np.array(0.5), 3):
        assert unit_cotangent(y) == 1.0 and type(unit_cotangent(y)) is float
    with pytest.raises(NonScalarResult):
        unit_cotangent(np.zeros(2))


def test_grad_like_returns_an_owned_array_of_the_inputs_shape_and_dtype_itself():
    x = np.zeros((2, 3))
    d = np.ones((2, 3))
    assert grad_like(d, x) is d


@pytest.mark.parametrize(
    "d",
    [
        np.ones((3, 2)).T,  # a view
        np.ones((2, 3), dtype=np.float32),  # another dtype
        np.broadcast_to(np.ones(3), (2, 3)),  # read-only
        np.ones(3),  # another shape, broadcast
        1.0,
        None,
    ],
)
def test_grad_like_copies_everything_else_into_a_new_array_like_the_input(d):
    x = np.zeros((2, 3))
    got = grad_like(d, x)
    assert type(got) is np.ndarray and got is not d
    assert got.shape == x.shape and got.dtype == x.dtype
    assert got.flags.writeable and got.base is None
    np.testing.assert_array_equal(got, np.broadcast_to(0.0 if d is None else d, x.shape))


def test_grad_like_of_lists_and_tuples_keeps_their_structure():
    x = [(np.zeros(2), np.zeros((2, 2))), (np.zeros(2), 1.5)]
    d = [[np.ones(2), None], (np.ones(2, dtype=np.float32), 2)]
    got = grad_like(d, x)
    assert type(got) is list and [type(t) for t in got] == [tuple, tuple]
    assert got[0][0] is d[0][0]
    np.testing.assert_array_equal(got[0][1], np.zeros((2, 2)))
    assert got[1][0].dtype == np.float64
    assert got[1][1] == 2.0 and type(got[1][1]) is float
    assert grad_like(None, x)[0][1].shape == (2, 2)
    with pytest.raises(ValueError):
        grad_like([np.ones(2)], [np.zeros(2), np.zeros(2)])


@pytest.mark.parametrize(
    ("shape", "axis", "keepdims"),
    [((32, 10), 1, True), ((32, 10), 0, False), ((4, 5, 6), (0, 2), True), ((7,), None, False)],
)
def test_extremum_mask_fast_path_matches_general_path(shape, axis, keepdims):
    from adcompile.runtime import extremum_mask

    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=shape))  # whole numbers: ties that share the cotangent
    y = x.max(axis=axis, keepdims=keepdims)
    fast = extremum_mask(x, y, axis, keepdims)
    # a float64 ndarray takes the fast path; a view of it as a subclass, the general one
    general = extremum_mask(x.view(_Sub), np.asarray(y).view(_Sub), axis, keepdims)
    assert type(fast) is np.ndarray and fast.dtype == general.dtype == np.float64
    np.testing.assert_array_equal(fast, np.asarray(general))


class _Sub(np.ndarray):
    """An ndarray subclass: the runtime helpers take their general paths for it."""
