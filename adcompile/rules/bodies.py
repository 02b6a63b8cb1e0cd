"""Runtime helpers differentiated through their definitions, written in the accepted
language.

A second derivative differentiates generated code again (``regenerate.py``); a runtime
helper that code calls needs rules of its own (``runtime_rules.py``), or is read like
a function of the user's: this module defines such helpers again, each in the part of
Python adcompile differentiates and over numpy functions that have rules, so their
derivatives (forward mode for hvp, reverse mode for ``grad(grad(f))``) follow from
those rules. :func:`defines` registers a definition for a helper; generated code that
is read back for differentiation calls the definition instead of the helper (same
values), and the helper's own, faster body keeps running in first-order code.

What a definition cannot compute in that language (einsum's subscripts, axes, shapes,
masks) comes from a helper of ``adcompile.runtime`` without derivative
(``einsum_adjoint_plan``, ``reduction_plan``, ``norm_axes``, ``svd_shapes``...), which
also refuses at run time what the helper refuses. A definition computes the same
values as its helper (tests/test_higher_library.py compares them); it may skip the
helper's checks of complex operands, which differentiated generated code never has.
Helpers small enough to write rules for have records in ``runtime_rules.py`` instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import runtime
from ..runtime import (
    einsum_adjoint_plan,
    inexact_result,
    inner_subscripts,
    kron_plan,
    linspace_plan,
    pinv_adjoint,
    qr_shapes,
    reduction_plan,
    singular_refused,
    sum_to,
    svd_shapes,
    svd_vectors_adjoint,
    tensordot_subscripts,
    three_vectors,
    unbroadcast,
    zero_like,
)
from ..runtime.linalg import (
    matrix_norm_grad,
    norm_gradient,
    qr_square_adjoint,
    vector_norm_grad,
    vector_norm_gradient,
)

# id(helper) -> its definition here
DEFINITIONS: dict[int, Callable] = {}
_RUNTIME_DEFINITIONS: set[int] = set()  # (ids of the runtime's functions among them)
_KEEP: list = []


def defines(helper: Callable) -> Callable[[Callable], Callable]:
    """Register the decorated function as the definition of ``helper`` for
    differentiating generated code again: one of this module, or a function of
    ``adcompile.runtime`` written in the accepted language (which the helper itself may
    call, so that one copy serves both)."""

    def register(fn: Callable) -> Callable:
        DEFINITIONS[id(helper)] = fn
        _KEEP.append(helper)
        if getattr(fn, "__module__", None) != __name__:
            _RUNTIME_DEFINITIONS.add(id(fn))
            _KEEP.append(fn)
        return fn

    return register


def defines_itself(helper: Callable) -> Callable:
    """Register a function of ``adcompile.runtime`` written in the accepted language as
    its own definition: one copy serves first-order code, which calls it, and higher
    derivatives, which read it (a helper with a definition that it calls resolves to
    that definition there, see ``names.Resolver``)."""
    return defines(helper)(helper)


def definition(helper: object) -> Callable | None:
    """The definition of the runtime helper ``helper`` (None: it has none)."""
    return DEFINITIONS.get(id(helper))


def is_definition(fn: object) -> bool:
    """Whether ``fn`` is defined here, or is a runtime function that serves as a
    definition: read like a function of the user's."""
    return getattr(fn, "__module__", None) == __name__ or reads_definitions(fn)


def reads_definitions(fn: object) -> bool:
    """Whether ``fn`` is a function of the runtime that serves as a definition: its
    body is read with each helper it calls replaced by that helper's definition."""
    return id(fn) in _RUNTIME_DEFINITIONS


# ------------------------------------------------------------ linear algebra


@defines(runtime.mT)
def mT(x):  # noqa: N802 (numpy's name)
    return np.swapaxes(x, -1, -2)


@defines(runtime.shared_inverse)
def shared_inverse(a):
    return np.linalg.inv(a)


# (the adjoints given ``inverse``, shared_inverse's, compute the same values from ``a``)
@defines(runtime.solve_transposed)
def solve_transposed(a, dx, b, inverse=None):
    if np.ndim(b) == 1:
        return np.linalg.solve(mT(a), dx[..., None])[..., 0]
    return np.linalg.solve(mT(a), dx)


@defines(runtime.solve_adjoint_lhs)
def solve_adjoint_lhs(g, x, a, b):
    if np.ndim(b) == 1:
        return sum_to(-(g[..., :, None] * x[..., None, :]), a)
    return sum_to(-(g @ mT(x)), a)


@defines(runtime.det_adjoint)
def det_adjoint(dy, y, a, inverse=None):
    # the cofactors det(a) inv(a)^T; at a singular matrix inv does not exist, and the
    # helper's form there (through the SVD) has no derivative where singular values repeat
    if np.all(y != 0):
        return (
            np.asarray(dy)[..., None, None] * np.asarray(y)[..., None, None] * mT(np.linalg.inv(a))
        )
    return singular_refused("np.linalg.det")


@defines(runtime.slogdet_adjoint)
def slogdet_adjoint(dy, a, inverse=None):
    g = dy[1]
    if g is None:
        return np.zeros_like(a)
    return np.asarray(g)[..., None, None] * mT(np.linalg.inv(a))


@defines(runtime.exp_minus_logsumexp)
def exp_minus_logsumexp(a, axis=None, b=None):
    # (the shift by the largest element changes no value, so no derivative either)
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    if b is None:
        return e / np.sum(e, axis=axis, keepdims=True)
    return e / np.sum(e * b, axis=axis, keepdims=True)


@defines(runtime.cholesky_adjoint)
def cholesky_adjoint(dl, l, upper=False):  # noqa: E741 (the factor's usual name)
    if upper:
        l = mT(l)  # noqa: E741
        dl = mT(dl)
    p = np.tril(mT(l) @ dl)
    p = p - 0.5 * np.tril(np.triu(p))
    s = np.linalg.solve(mT(l), mT(np.linalg.solve(mT(l), mT(p))))
    return 0.5 * (s + mT(s))


def _off_diagonal_inverse(w):
    """1 / (w[j] - w[i]) off the diagonal, 0 on it."""
    eye = np.eye(w.shape[-1])
    return (1.0 - eye) / (w[..., None, :] - w[..., :, None] + eye)


@defines(runtime.eigh_adjoint)
def eigh_adjoint(dy, y):
    w = y[0]
    v = y[1]
    dw = dy[0]
    dv = dy[1]
    if dv is None:
        if dw is None:
            return np.zeros(np.shape(v))
        return (v * np.asarray(dw)[..., None, :]) @ mT(v)
    vtdv = mT(v) @ dv
    inner = _off_diagonal_inverse(w) * 0.5 * (vtdv - mT(vtdv))
    if dw is not None:
        inner = inner + np.asarray(dw)[..., None, :] * np.eye(w.shape[-1])
    return v @ inner @ mT(v)


defines_itself(pinv_adjoint)  # (the runtime's helper itself, in the accepted language)


def _singular_values_adjoint(ds, a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (u * np.asarray(ds)[..., None, :]) @ vh


@defines(runtime.svd_adjoint)
def svd_adjoint(dy, y, a, full_matrices=True, compute_uv=True):
    if not compute_uv:
        return _singular_values_adjoint(dy, a)
    u = y[0]
    s = y[1]
    vh = y[2]
    du = dy[0]
    ds = dy[1]
    dvh = dy[2]
    if du is None and dvh is None:
        return _singular_values_adjoint(ds, a)
    m, n, k = svd_shapes(a, full_matrices, True)
    eye = np.eye(k)
    f = (1.0 - eye) / (s[..., None, :] ** 2 - s[..., :, None] ** 2 + eye)
    inner, out = svd_vectors_adjoint(u, s, vh, du, dvh, f)
    if ds is not None:
        inner = inner + np.asarray(ds)[..., None, :] * eye
    return u @ inner @ vh + out


defines_itself(svd_vectors_adjoint)  # (the runtime's, in the accepted language)


@defines(runtime.matrix_power_adjoint)
def matrix_power_adjoint(dy, a, n):
    if n < 0:
        b = np.linalg.inv(a)
        db = matrix_power_adjoint(dy, b, -n)
        return -(mT(b) @ db @ mT(b))
    if n == 0:
        return np.zeros_like(a)
    at = mT(a)
    powers = [np.eye(a.shape[-1])]
    for _ in range(n - 1):
        powers.append(powers[-1] @ at)
    total = powers[0] @ dy @ powers[n - 1]
    for k in range(1, n):
        total = total + powers[k] @ dy @ powers[n - 1 - k]
    return total


defines_itself(qr_square_adjoint)  # (the runtime's, in the accepted language)


@defines(runtime.qr_adjoint)
def qr_adjoint(dy, y, a, mode="reduced"):
    m, n = qr_shapes(a, mode)  # (refuses mode="r")
    q = y[0]
    r = y[1]
    dq = dy[0]
    dr = dy[1]
    if dq is None:
        dq = np.zeros_like(q)
    if dr is None:
        dr = np.zeros_like(r)
    if m >= n:
        return qr_square_adjoint(dq, dr, q, r)
    dr_y = dr[..., :, m:]
    dx = qr_square_adjoint(dq + a[..., :, m:] @ mT(dr_y), dr[..., :, :m], q, r[..., :, :m])
    return np.concatenate([dx, q @ dr_y], axis=-1)


@defines(runtime.lstsq_adjoint)
def lstsq_adjoint(dy, y, a, b):
    # x = pinv(a) b, the residuals sum((b - a x)**2), the singular values of a
    x = y[0]
    dx = dy[0]
    dres = dy[1]
    ds = dy[3]
    da = np.zeros(np.shape(a))
    db = np.zeros(np.shape(b))
    vector = np.ndim(b) == 1
    if vector:
        x2 = x[:, None]
        b2 = b[:, None]
    else:
        x2 = x
        b2 = b
    if dx is not None:
        p = np.linalg.pinv(a)
        if vector:
            dx2 = dx[:, None]
        else:
            dx2 = dx
        db2 = mT(p) @ dx2
        da = da + pinv_adjoint(dx2 @ mT(b2), p, a)
        if vector:
            db = db + db2[:, 0]
        else:
            db = db + db2
    if dres is not None and np.size(y[1]) > 0:
        g = 2.0 * (b2 - a @ x2) * dres
        da = da - g @ mT(x2)
        if vector:
            db = db + g[:, 0]
        else:
            db = db + g
    if ds is not None:
        da = da + _singular_values_adjoint(ds, a)
    return da, db


# ------------------------------------------------------------ norms


# (the runtime's, in the accepted language)
defines_itself(vector_norm_grad)
defines_itself(matrix_norm_grad)


defines(runtime.norm_adjoint)(norm_gradient)
defines(runtime.vector_norm_adjoint)(vector_norm_gradient)
defines_itself(norm_gradient)  # (public runtime functions: their own definitions too)
defines_itself(vector_norm_gradient)


# ------------------------------------------------------------ einsum


def _einsum(spec, p, q, r=None, s=None, t=None, u=None, w=None):
    """np.einsum of the operands that are given (two to seven)."""
    if r is None:
        return np.einsum(spec, p, q)
    if s is None:
        return np.einsum(spec, p, q, r)
    if t is None:
        return np.einsum(spec, p, q, r, s)
    if u is None:
        return np.einsum(spec, p, q, r, s, t)
    if w is None:
        return np.einsum(spec, p, q, r, s, t, u)
    return np.einsum(spec, p, q, r, s, t, u, w)


@defines(runtime.einsum_adjoint)
def einsum_adjoint(g, k, subscripts, a, b=None, c=None, d=None, e=None, f=None):
    # the cotangent contracted with the other operands, a block of ones standing for
    # operand k (einsum is linear in each operand)
    spec, ones_shape, summed, kept, mask = einsum_adjoint_plan(g, k, subscripts, a, b, c, d, e, f)
    one = np.ones(ones_shape)
    r = _einsum(
        spec,
        g,
        one if k == 0 else a,
        one if k == 1 else b,
        one if k == 2 else c,
        one if k == 3 else d,
        one if k == 4 else e,
        one if k == 5 else f,
    )
    r = np.reshape(np.sum(r, axis=summed, keepdims=True), kept)
    if mask is None:
        return r
    return r * mask


@defines(runtime.tensordot_adjoint)
def tensordot_adjoint(g, k, a, b, axes=2):
    return einsum_adjoint(g, k, tensordot_subscripts(a, b, axes), a, b)


@defines(runtime.inner_adjoint)
def inner_adjoint(g, k, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        if k == 0:
            return unbroadcast(g * b, a)
        return unbroadcast(g * a, b)
    return einsum_adjoint(g, k, inner_subscripts(a, b), a, b)


@defines(runtime.kron_adjoint)
def kron_adjoint(g, k, a, b):
    blocks_shape, spread, axes, shape = kron_plan(k, a, b)
    blocks = np.reshape(g, blocks_shape)
    other = np.reshape(b if k == 0 else a, spread)
    return np.reshape(np.sum(blocks * other, axis=axes), shape)


@defines(runtime.uncross)
def uncross(g, k, a, b, axisa=-1, axisb=-1, axisc=-1):
    gm = np.moveaxis(g, axisc, -1)
    am = np.moveaxis(a, axisa, -1)
    bm = np.moveaxis(b, axisb, -1)
    k = three_vectors(am, bm, k)
    if k == 0:
        return np.moveaxis(unbroadcast(np.cross(bm, gm), am), -1, axisa)
    return np.moveaxis(unbroadcast(np.cross(gm, am), bm), -1, axisb)


# ------------------------------------------------------------ products


def _prod_others(x):
    """The product of the other elements along the last axis, without dividing."""
    ones = np.ones_like(x[..., :1])
    left = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
    flipped = np.flip(x, axis=-1)
    right = np.cumprod(np.concatenate([ones, flipped[..., :-1]], axis=-1), axis=-1)
    return left * np.flip(right, axis=-1)


@defines(runtime.prod_adjoint)
def prod_adjoint(g, x, axis=None, keepdims=False):
    axes, trailing, flat_shape, kept_shape, moved_shape = reduction_plan(x, axis)
    flat = np.reshape(np.moveaxis(x, axes, trailing), flat_shape)
    d = np.reshape(g, kept_shape) * _prod_others(flat)
    return np.moveaxis(np.reshape(d, moved_shape), trailing, axes)


@defines(runtime.uncumprod)
def uncumprod(g, x, axis=None):
    # d y_i / d x_k is the product of x_j over j <= i, j != k (no division)
    if axis is None:
        return np.reshape(uncumprod(np.ravel(g), np.ravel(x), 0), np.shape(x))
    xm = np.moveaxis(x, axis, -1)
    gm = np.moveaxis(g, axis, -1)
    left = np.concatenate([np.ones_like(xm[..., :1]), np.cumprod(xm[..., :-1], axis=-1)], axis=-1)
    columns = []
    for k in range(xm.shape[-1]):
        after = np.cumprod(xm[..., k + 1 :], axis=-1)
        columns.append(left[..., k] * (gm[..., k] + np.sum(gm[..., k + 1 :] * after, axis=-1)))
    return np.moveaxis(np.stack(columns, axis=-1), -1, axis)


# ------------------------------------------------------------ arrays built from numbers


@defines(runtime.fill_adjoint)
def fill_adjoint(g, y, fill_value):
    inexact = inexact_result(y)
    if inexact:
        return unbroadcast(g, fill_value)
    return zero_like(fill_value)


@defines(runtime.linspace_adjoint)
def linspace_adjoint(g, y, bound, num, endpoint, axis, upper):
    inexact = inexact_result(y)
    if not inexact:
        return zero_like(bound)
    t, axis = linspace_plan(y, num, endpoint, axis)
    if upper:
        return unbroadcast(np.sum(g * t, axis=axis), bound)
    return unbroadcast(np.sum(g * (1.0 - t), axis=axis), bound)


@defines(runtime.arange_adjoint)
def arange_adjoint(g, y, start, stop, step, of_step):
    # the samples are start + i * step
    inexact = inexact_result(y)
    if stop is None or not inexact:
        if of_step:
            return zero_like(step)
        return zero_like(start)
    if of_step:
        return np.sum(g * np.arange(np.size(y)))
    return np.sum(g)


# ------------------------------------------------------------ split


@defines(runtime.unsplit)
def unsplit(g, pieces, axis):
    parts = [
        np.zeros(np.shape(p)) if gi is None else np.broadcast_to(gi, np.shape(p))
        for gi, p in zip(g, pieces)  # noqa: B905 (the accepted language has no strict=)
    ]
    return np.concatenate(parts, axis=axis)
