"""Element and slice assignment, ``x[index] = v`` and ``x[index] op= v``, on arrays the
function owns: values as plain Python computes them, gradients against central
finite differences (autograd refuses assignment into arrays, so it is no oracle
here), forward mode against the reverse, and the shape of the generated code that
keeps a loop writing one row per step at one row's cost per step."""

from __future__ import annotations

import ast
import copy
import re

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile.checking import numeric_grad

RNG = np.random.default_rng(7)
X = RNG.uniform(0.2, 1.0, size=5)
W = RNG.normal(size=(3, 3)) * 0.5
XS = RNG.normal(size=(6, 3))
A = RNG.normal(size=(3, 3))


def build_rows(x):
    out = np.zeros((3, 2))
    for i in range(3):
        out[i] = np.stack([x[i], x[i + 1] ** 2])
    return np.sum(out**2)


def build_elements(A):
    B = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            B[i, j] = A[i, j] * A[j, i]
    return np.sum(B @ A)


def rnn_rows(W, xs):
    H = np.zeros((xs.shape[0], W.shape[0]))
    h = np.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
        H[t] = h
    return np.sum(H @ W)


def rnn_reads_previous_row(W, xs):
    H = np.zeros((xs.shape[0] + 1, W.shape[0]))
    for t in range(xs.shape[0]):
        H[t + 1] = np.tanh(W @ H[t] + xs[t])
    return np.sum(H**2)


def slices(x):
    y = x * 1.0
    y[:2] = np.sin(x[3:])
    y[2:] += x[:3] ** 2
    y[::2] *= 3.0
    return np.sum(y * x)


def scalar_into_slice(x):
    y = x.copy()
    y[1:4] = np.sum(x)
    return np.sum(y**3)


def ellipsis_and_none(A):
    B = A * 1.0
    B[..., 0] = A[:, 1] ** 2
    B[None, 1] -= A[2]
    return np.sum(B * A)


def mask_index(x):
    y = x.copy()
    y[y > 0.5] = 0.5
    y[x < 0.4] *= 3.0
    return np.sum(y**2)


def repeated_index_assignment(x):
    y = np.zeros(4)
    idx = np.array([0, 2, 0, 3, 2])
    y[idx] = x * np.arange(1.0, 6.0)
    return np.sum(y * np.arange(1.0, 5.0) ** 2)


def repeated_index_update(x):
    y = x[:4] * 1.0
    idx = np.array([1, 1, 3])
    y[idx] += x[1:4] ** 2
    return np.sum(y**2)


def repeated_index_scalar(x):
    y = np.zeros(3)
    y[np.array([1, 1])] = x[0] * x[1]
    return np.sum(y * np.arange(1.0, 4.0))


def update_reads_old_values(x):
    y = x.copy()
    for i in range(4):
        y[i] *= y[i + 1]
    return np.sum(y**2)


def reads_before_write(x):
    y = x * 1.0
    a = np.sum(y * y)
    y[0] = 3.0 * x[1]
    return a + np.sum(y * x)


def view_read_before_write(x):
    y = x * 2.0
    s = np.sum(np.sin(y[1:]))
    y[1] = x[0] ** 2
    return s + np.sum(y**2)


def carried_value_read_each_step(x):
    y = x * 1.0
    s = 0.0
    for i in range(3):
        s = s + np.sum(y * y)
        y[i] = s
    return s + np.sum(y)


def write_in_branch(x):
    y = np.zeros(5)
    for i in range(5):
        if x[i] > 0.5:
            y[i] = x[i] ** 2
        else:
            y[i] = -x[i]
    return np.sum(y * x)


def write_in_while(x):
    y = x * 1.0
    i = 0
    while i < 4:
        y[i + 1] += y[i] * 0.5
        i = i + 1
    return np.sum(y**2)


def fill_helper(v):
    out = np.zeros(3)
    out[0] = v[0] * v[1]
    out[1:] = np.tanh(v[1:3])
    return out


def calls_helper(x):
    return np.sum(fill_helper(x) ** 2) + np.sum(fill_helper(x * 2.0))


def made_by_helper(v):
    out = np.zeros(3)
    out[0] = v[0] * v[1]
    out[1:] = v[1:3]
    s = np.sum(out**2)
    return out * s


def writes_into_a_helpers_result(x):
    y = made_by_helper(x)
    y[1] = 5.0 * x[0]
    return np.sum(y * y)


def writes_after_passing_to_a_helper(x):
    out = x * 1.0
    z = made_by_helper(out)
    out[0] = 2.0
    return np.sum(z) + np.sum(out**2)


def list_index(x):
    y = x * 1.0
    y[[0, 2, 0]] = x[1:4] ** 2
    return np.sum(y**2)


def overlap(x):
    y = x * 1.0
    y[1:] = y[:-1]
    y[:-1] += y[1:] * 2.0
    return np.sum(y**2 * x)


def cond_read(x):
    y = x * 1.0
    while y[0] < 3.0:
        y[0] = y[0] * 2.0 + y[1]
    return np.sum(y**2)


def nested_loops(x):
    M = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            M[i, j] = x[i] * x[j]
        M[i] = np.tanh(M[i])
    return np.sum(M**2)


def int_index_from_value(x):
    y = np.zeros(3)
    k = int(x[0] > 0.5)
    y[k] = x[1] ** 2
    y[k + 1] += x[2]
    return np.sum(y * y)


def written_value_used_later(x):
    y = x[:3] * 1.0
    s = x[0] * x[1]
    y[1] = s
    t = np.sin(s)
    return np.sum(y * x[1:4]) + t


def whole(x):
    y = np.zeros(5)
    y[:] = x**2
    y[...] *= 2.0
    return np.sum(y * x)


def zero_d(x):
    y = np.zeros(())
    y[()] = x[0] * x[1]
    return y * 3.0


def neg_step(x):
    y = x * 1.0
    y[::-1] = np.cumsum(x)
    y[-1] += x[0]
    return np.sum(y**2)


def write_python_float(x):
    y = np.ones(3)
    s = float(x[0]) * 2.0
    y[1] = s
    return np.sum(y * x[:3])


CASES = [
    (build_rows, (X,)),
    (build_elements, (A,)),
    (rnn_rows, (W, XS)),
    (rnn_reads_previous_row, (W, XS)),
    (slices, (X,)),
    (scalar_into_slice, (X,)),
    (ellipsis_and_none, (A,)),
    (mask_index, (X,)),
    (repeated_index_assignment, (X,)),
    (repeated_index_update, (X,)),
    (repeated_index_scalar, (X,)),
    (update_reads_old_values, (X,)),
    (reads_before_write, (X,)),
    (view_read_before_write, (X,)),
    (carried_value_read_each_step, (X,)),
    (write_in_branch, (X,)),
    (write_in_while, (X,)),
    (calls_helper, (X,)),
    (writes_into_a_helpers_result, (X,)),
    (writes_after_passing_to_a_helper, (X,)),
    (write_python_float, (X,)),
    (written_value_used_later, (X,)),
    (whole, (X,)),
    (zero_d, (X,)),
    (neg_step, (X,)),
    (list_index, (X,)),
    (overlap, (X,)),
    (cond_read, (X,)),
    (nested_loops, (X,)),
    (int_index_from_value, (X,)),
]


@pytest.mark.parametrize("f,args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_gradient_matches_finite_differences(f, args):
    assert_grad_matches_fd(f, *args, wrt=tuple(range(len(args))) if len(args) > 1 else 0)


@pytest.mark.parametrize("f,args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_value_is_what_python_computes(f, args):
    expected = f(*copy.deepcopy(args))
    value, _ = ad.value_and_grad(f)(*args)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("f,args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_forward_mode_matches_finite_differences(f, args):
    tangent = RNG.normal(size=np.shape(args[0]))
    value, derivative = ad.jvp(f, wrt=0)(*args, tangent)
    assert value == pytest.approx(f(*copy.deepcopy(args)), rel=1e-12, abs=1e-12)
    fd = numeric_grad(f, list(args), 0)
    assert derivative == pytest.approx(float(np.sum(fd * tangent)), rel=1e-6, abs=1e-8)


def test_repeated_indices_keep_numpy_semantics():
    # numpy's x[idx] += v with a repeated index adds once (it is x[idx] = x[idx] + v),
    # and x[idx] = v keeps the last write: the values above must match numpy's own
    y = np.zeros(3)
    y[np.array([1, 1])] += np.array([2.0, 5.0])
    assert y[1] == 5.0
    for f in (repeated_index_assignment, repeated_index_update, repeated_index_scalar):
        assert ad.value_and_grad(f)(X)[0] == f(X.copy())


def test_vjp_leaves_the_cotangent_alone():
    def rows(x):
        out = np.zeros((2, 3))
        out[0] = x[:3] * 2.0
        out[1, 1:] = x[3:]
        return out

    cotangent = RNG.normal(size=(2, 3))
    kept = cotangent.copy()
    g = ad.vjp(rows)(X, cotangent)
    np.testing.assert_array_equal(cotangent, kept)
    expected = np.zeros(5)
    expected[:3] = 2.0 * cotangent[0]
    expected[3:] = cotangent[1, 1:]
    np.testing.assert_allclose(g, expected)


def test_arguments_are_not_changed():
    args = (W.copy(), XS.copy())
    ad.grad(rnn_rows, wrt=(0, 1))(*args)
    ad.jvp(rnn_rows, wrt=0)(*args, np.ones_like(W))
    np.testing.assert_array_equal(args[0], W)
    np.testing.assert_array_equal(args[1], XS)


def _loop_bodies(source: str) -> list[list[str]]:
    """The source of each for loop's body in ``source``."""
    tree = ast.parse(source)
    return [
        [ast.unparse(s) for s in node.body] for node in ast.walk(tree) if isinstance(node, ast.For)
    ]


@pytest.mark.parametrize("f", [rnn_rows, rnn_reads_previous_row, build_rows])
def test_a_loop_writing_rows_costs_a_row_per_step(f):
    """No statement in the forward or reverse loop copies or makes the whole array:
    the forward writes the row in place, and the reverse zeroes the row of the one
    adjoint array it owns (so the loop is O(T * row), not O(T * array)); a row it
    reads before zeroing it is copied (``dH[t].copy()``), the row alone."""
    args = (W, XS) if f is not build_rows else (X,)
    g = ad.grad(f, wrt=0)
    g(*args)
    bodies = _loop_bodies(g.source)
    assert len(bodies) == 2  # the forward loop and the reverse loop
    for body in bodies:
        text = "\n".join(body)
        assert not re.search(r"(?<!\])\.copy\(\)", text), text  # only rows are copied
        for whole in ("writable_adjoint", "unindex(", "zero_like", "np.zeros"):
            assert whole not in text, (whole, text)


@pytest.mark.parametrize("f", [nested_loops, write_in_branch])
def test_loops_writing_one_array_keep_one_adjoint(f):
    """Nested loops, and both branches of an if, writing into one array: the reverse
    loops zero the written parts of one adjoint array, with no copy per iteration."""
    g = ad.grad(f)
    g(X)
    for body in _loop_bodies(g.source):
        text = "\n".join(body)
        assert "writable_adjoint" not in text and "zero_like" not in text, text


def test_forward_mode_loop_writes_the_tangent_in_place():
    j = ad.jvp(rnn_rows, wrt=0)
    j(W, XS, np.ones_like(W))
    (body,) = _loop_bodies(j.source)
    text = "\n".join(body)
    assert "writable_adjoint" not in text and ".copy()" not in text, text


def test_element_reads_add_into_the_gradient_in_place():
    """Reading x[i] in a loop adds the element's adjoint in place, not a zeros array
    of x's size per iteration (which made such loops quadratic)."""

    def squares(x):
        s = 0.0
        for i in range(5):
            s = s + x[i] ** 2
        return s

    g = ad.grad(squares)
    np.testing.assert_allclose(g(X), 2 * X)
    (_, reverse) = _loop_bodies(g.source)
    text = "\n".join(reverse)
    assert "add_into(" in text and "unindex(" not in text, text


def test_a_write_that_would_clobber_a_value_the_reverse_reads_copies_it():
    """The reverse of y * y reads y as it was before the write: the forward writes into
    a copy there (and the gradient is right, see the finite-difference tests)."""
    g = ad.grad(reads_before_write)
    g(X)
    assert ".copy()" in g.source
