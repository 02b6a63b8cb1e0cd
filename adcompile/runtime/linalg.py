"""Adjoints of ``numpy.linalg``, for real arrays.

Matrices are the last two axes and any leading axes are a batch, as in numpy. The
cotangent of a tuple result (slogdet, eigh, svd, qr, lstsq) is a list with None for
an element that gets none.
"""

from __future__ import annotations

import numpy as np

from .arrays import _prod_others
from .broadcasting import unbroadcast


def mT(x):
    """The transpose of each matrix of ``x`` (its last two axes swapped)."""
    return np.swapaxes(x, -1, -2)


def sum_to(g, x):
    """``g`` summed over the leading axes that a batched linear-algebra call
    broadcast ``x`` over, back to ``x``'s shape."""
    lead = np.ndim(g) - np.ndim(x)
    if lead > 0:
        g = np.sum(g, axis=tuple(range(lead)))
    return unbroadcast(g, x)


def _refuse_imaginary(x, name):
    """Refuse a complex ``x`` with a nonzero imaginary part as the operand of ``name``,
    a function with a real result whose rule is the calculus of real arrays: of such
    an ``x`` (numpy 2.5 makes one from the square root of a negative eigenvalue), it
    would give the gradient with the wrong sign. A zero imaginary part is a real
    number stored as complex, as numpy 2.5 returns np.linalg.eig's real results."""
    if np.iscomplexobj(x) and np.any(np.imag(x) != 0):
        raise TypeError(
            f"{name} of a complex value cannot be differentiated: adcompile "
            "differentiates real-valued computations only (complex values whose "
            "imaginary parts are all zero included)"
        )


def _part(dy, i):
    """Element ``i`` of a tuple result's cotangent (None: zero)."""
    return None if dy is None else dy[i]


def _eye_like(a):
    return np.eye(np.shape(a)[-1], dtype=np.result_type(a, 0.0))


def shared_inverse(a):
    """``inv(a)``, computed once for the adjoints of several linear-algebra functions of
    the same matrix that need it (``slogdet``, ``det``) or can use it in place of a
    factorisation of their own (``solve``); None when ``a`` is singular, and each
    adjoint then does what it does without it."""
    try:
        return np.linalg.inv(a)
    except (np.linalg.LinAlgError, ValueError, TypeError):
        return None


def solve_transposed(a, dx, b, inverse=None):
    """``solve(a^T, dx)``: the cotangent of ``b`` in ``x = solve(a, b)`` before it is
    summed over broadcast axes. ``b`` is a vector when it has one axis (numpy 2's
    rule; otherwise a stack of matrices). Given ``inverse``, ``inv(a)`` computed for
    another adjoint (see ``shared_inverse``), it is a product with its transpose."""
    vector = np.ndim(b) == 1
    if inverse is not None:
        g = np.asarray(dx)[..., None] if vector else dx
        g = mT(inverse) @ g
        return g[..., 0] if vector else g
    if vector:
        return np.linalg.solve(mT(a), np.asarray(dx)[..., None])[..., 0]
    return np.linalg.solve(mT(a), dx)


def solve_adjoint_lhs(g, x, a, b):
    """Cotangent of ``a`` in ``x = solve(a, b)`` from ``g = solve(a^T, dx)``: ``-g x^T``."""
    if np.ndim(b) == 1:
        return sum_to(-(g[..., :, None] * x[..., None, :]), a)
    return sum_to(-(g @ mT(x)), a)


def det_adjoint(dy, y, a, inverse=None):
    """Cotangent of ``a`` in ``y = det(a)``: ``dy`` times the cofactor matrix, which is
    ``det(a) inv(a)^T`` for an invertible ``a``, and for a singular one (where the
    inverse does not exist but the cofactors do) ``U diag(prod of the other singular
    values) V^T`` times the signs of ``det(U)`` and ``det(V)``."""
    g = np.asarray(dy)[..., None, None]
    if np.all(y != 0):
        inverse = np.linalg.inv(a) if inverse is None else inverse
        return g * np.asarray(y)[..., None, None] * mT(inverse)
    u, s, vh = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return g * np.asarray(sign)[..., None, None] * ((u * _prod_others(s, -1)[..., None, :]) @ vh)


def slogdet_adjoint(dy, a, inverse=None):
    """Cotangent of ``a`` in ``(sign, logdet) = slogdet(a)``: the sign is piecewise
    constant, ``logdet``'s gradient is ``inv(a).T`` (``inverse``, when computed for
    another adjoint: see ``shared_inverse``)."""
    _refuse_imaginary(a, "np.linalg.slogdet")
    g = _part(dy, 1)
    if g is None:
        return np.zeros_like(a, dtype=np.result_type(a, 0.0))
    inverse = np.linalg.inv(a) if inverse is None else inverse
    return np.asarray(g)[..., None, None] * mT(inverse)


def cholesky_adjoint(dl, l, upper=False):
    """Cotangent of ``a`` in ``l = cholesky(a)`` (lower; ``upper`` gives ``l.T``).

    The standard formula with two solves with the triangular factor (numpy has no
    triangular solver, so they are LU solves of a triangular matrix), symmetrised:
    ``a`` is taken as a symmetric matrix (numpy reads one triangle), and the gradient
    is the symmetric matrix that changes both triangles together,
    ``S = l^-T Phi(l^T dl) l^-1`` with
    ``Phi`` the lower triangle with a halved diagonal, then ``(S + S^T) / 2``."""
    if upper:
        l, dl = mT(l), mT(dl)
    p = np.tril(mT(l) @ dl)
    p = p - 0.5 * np.tril(np.triu(p))  # halve the diagonal
    s = np.linalg.solve(mT(l), mT(np.linalg.solve(mT(l), mT(p))))
    return 0.5 * (s + mT(s))


def eigh_adjoint(dy, y):
    """Cotangent of ``a`` in ``w, v = eigh(a)``, symmetric (numpy reads one triangle).

    ``v (diag(dw) + F * (v^T dv)) v^T`` with ``F[i, j] = 1 / (w[j] - w[i])`` off the
    diagonal. Without a cotangent for the vectors only ``v diag(dw) v^T`` is computed,
    which is right also for repeated eigenvalues; with one, repeated eigenvalues make
    ``F`` infinite and the gradient inf or NaN: the eigenvectors of a repeated
    eigenvalue are not unique, and have no derivative."""
    w, v = y[0], y[1]
    _refuse_imaginary(v, "np.linalg.eigh")
    dw, dv = _part(dy, 0), _part(dy, 1)
    if dv is None:  # v diag(dw) v^T, symmetric already
        if dw is None:
            return np.zeros(np.shape(v), dtype=np.result_type(v, 0.0))
        return (v * np.asarray(dw)[..., None, :]) @ mT(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 1.0 / (w[..., None, :] - w[..., :, None])
    f[..., np.arange(w.shape[-1]), np.arange(w.shape[-1])] = 0.0
    vtdv = mT(v) @ dv
    inner = f * 0.5 * (vtdv - mT(vtdv))  # symmetric: f is antisymmetric
    if dw is not None:
        inner = inner + np.asarray(dw)[..., None, :] * _eye_like(v)
    return v @ inner @ mT(v)


def _real_part(x, what):
    """``x`` as a real array: itself if real, else its real part, when its imaginary
    part is zero everywhere (newer numpy returns eig's real results as complex arrays);
    a nonzero imaginary part is refused, naming ``what``."""
    if x is None or not np.iscomplexobj(x):
        return x
    if np.any(np.imag(x) != 0):
        raise ValueError(
            f"np.linalg.eig {what}: adcompile differentiates real eigendecompositions "
            "only (use np.linalg.eigh for a symmetric matrix)"
        )
    return np.real(x)


def eig_adjoint(dy, y):
    """Cotangent of ``a`` in ``w, v = eig(a)`` for a real matrix with real eigenvalues
    (eigenvectors have unit length), whatever dtype numpy gives the results: numpy
    before 2.5 returns real arrays, later versions complex arrays whose imaginary parts
    are zero; both are differentiated as the real arrays. Complex eigenvalues (nonzero
    imaginary parts) are refused, as are cotangents with nonzero imaginary parts (which
    only a computation on complex numbers downstream of eig can make):
    ``v^-T (diag(dw) + F * (v^T dv - v^T v diag(v^T dv))) v^T``,
    ``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal."""
    w = _real_part(y[0], "returned complex eigenvalues")
    v = _real_part(y[1], "returned complex eigenvectors")
    dw = _real_part(_part(dy, 0), "got a complex cotangent for its eigenvalues")
    dv = _real_part(_part(dy, 1), "got a complex cotangent for its eigenvectors")
    inner = np.zeros(np.shape(v), dtype=np.result_type(v, 0.0))
    if dw is not None:
        inner = inner + np.asarray(dw)[..., None, :] * _eye_like(v)
    if dv is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            f = 1.0 / (w[..., None, :] - w[..., :, None])
        f[..., np.arange(w.shape[-1]), np.arange(w.shape[-1])] = 0.0
        vtdv = mT(v) @ dv
        diag = np.diagonal(vtdv, axis1=-2, axis2=-1)
        inner = inner + f * (vtdv - (mT(v) @ v) * diag[..., None, :])
    return np.linalg.solve(mT(v), inner @ mT(v))


def svd_adjoint(dy, y, a, full_matrices=True, compute_uv=True):
    """Cotangent of ``a`` in ``np.linalg.svd(a, full_matrices, compute_uv)``.

    Singular values alone: ``u diag(ds) vh``. With the vectors (``full_matrices=False``,
    or a square ``a``), the formula of the reduced SVD, in which repeated singular
    values make the vectors' gradient inf or NaN, as for ``eigh``."""
    _refuse_imaginary(a, "np.linalg.svd")
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return (u * np.asarray(dy)[..., None, :]) @ vh
    u, s, vh = y[0], y[1], y[2]
    m, n = np.shape(a)[-2:]
    du, ds, dvh = _part(dy, 0), _part(dy, 1), _part(dy, 2)
    if full_matrices and m != n and du is None and dvh is None:
        return svd_adjoint(ds, None, a, compute_uv=False)
    if full_matrices and m != n:
        raise ValueError(
            "the gradient of np.linalg.svd(a, full_matrices=True) of a non-square matrix "
            "is not defined (the extra singular vectors are arbitrary): "
            "pass full_matrices=False"
        )
    k = s.shape[-1]
    eye = np.eye(k, dtype=np.result_type(s, 0.0))
    inner = np.zeros(np.shape(s)[:-1] + (k, k), dtype=eye.dtype)
    if ds is not None:
        inner = inner + np.asarray(ds)[..., None, :] * eye
    out = 0.0
    if du is not None or dvh is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            f = 1.0 / (s[..., None, :] ** 2 - s[..., :, None] ** 2)
        f[..., np.arange(k), np.arange(k)] = 0.0
        vectors, out = svd_vectors_adjoint(u, s, vh, du, dvh, f)
        inner = inner + vectors
    return u @ inner @ vh + out


def svd_vectors_adjoint(u, s, vh, du, dvh, f):
    """The part of :func:`svd_adjoint` that the cotangents ``du``, ``dvh`` of the
    singular vectors give (None: zero): the ``(k, k)`` term between ``u`` and ``vh``,
    and the part outside their spans (for a non-square reduced SVD). ``f`` is
    ``1 / (s[j]**2 - s[i]**2)`` off the diagonal and 0 on it. Written in the accepted
    language: it is its own definition for higher derivatives (rules/bodies.py)."""
    m = np.shape(u)[-2]
    n = np.shape(vh)[-1]
    k = np.shape(s)[-1]
    inner = 0.0
    out = 0.0
    if du is not None:
        utdu = mT(u) @ du
        inner = inner + (f * (utdu - mT(utdu))) * s[..., None, :]
        if m > k:  # the part of du outside the span of u
            out = out + ((du - u @ utdu) / s[..., None, :]) @ vh
    if dvh is not None:
        v = mT(vh)
        dv = mT(dvh)
        vtdv = mT(v) @ dv
        inner = inner + s[..., :, None] * (f * (vtdv - mT(vtdv)))
        if n > k:
            out = out + u @ mT((dv - v @ vtdv) / s[..., None, :])
    return inner, out


def qr_adjoint(dy, y, a, mode="reduced"):
    """Cotangent of ``a`` in ``q, r = np.linalg.qr(a)`` (reduced): for ``m >= n``,
    ``(dq + q copyltu(M)) r^-T`` with ``M = r dr^T - dq^T q`` and ``copyltu`` the
    symmetric matrix with ``M``'s lower triangle; for ``m < n``, the same on the
    leading square block, plus ``q dr`` for the rest. ``mode="r"`` is ``r`` alone."""
    m, n = np.shape(a)[-2:]
    if mode == "r":
        q, r = np.linalg.qr(a)
        dq, dr = None, dy
    elif mode == "reduced" or (mode == "complete" and m <= n):
        q, r = y[0], y[1]
        dq, dr = _part(dy, 0), _part(dy, 1)
    else:
        raise ValueError(
            f"the gradient of np.linalg.qr(a, mode={mode!r}) is not supported here: "
            "use mode='reduced' (the extra columns of a complete q are arbitrary)"
        )
    dq = np.zeros_like(q) if dq is None else np.asarray(dq)
    dr = np.zeros_like(r) if dr is None else np.asarray(dr)
    if m >= n:
        return qr_square_adjoint(dq, dr, q, r)
    x_r, y_part = r[..., :, :m], a[..., :, m:]
    dr_x, dr_y = dr[..., :, :m], dr[..., :, m:]
    dx = qr_square_adjoint(dq + y_part @ mT(dr_y), dr_x, q, x_r)
    return np.concatenate([dx, q @ dr_y], axis=-1)


def qr_square_adjoint(dq, dr, q, r):
    m = r @ mT(dr) - mT(dq) @ q
    copyltu = np.tril(m) + mT(np.tril(m, -1))
    b = dq + q @ copyltu
    # b @ r^-T, as a solve with r: (r^-1 b^T)^T
    return mT(np.linalg.solve(r, mT(b)))


def pinv_adjoint(dy, y, a):
    """Cotangent of ``a`` in ``y = pinv(a)``, where the rank of ``a`` is locally
    constant: ``-y^T dy y^T + (I - a y) dy^T y y^T + y^T y dy^T (I - y a)``."""
    yt = mT(y)
    dyt = mT(dy)
    first = -(yt @ dy @ yt)
    second = (dyt @ y @ yt) - (a @ (y @ (dyt @ y @ yt)))
    third = (yt @ y @ dyt) - ((yt @ y @ dyt) @ y) @ a
    return first + second + third


def matrix_power_adjoint(dy, a, n):
    """Cotangent of ``a`` in ``np.linalg.matrix_power(a, n)``: the sum over
    ``k`` of ``(a^T)^k dy (a^T)^(n-1-k)``; a negative ``n`` goes through ``inv(a)``."""
    if n < 0:
        b = np.linalg.inv(a)
        db = matrix_power_adjoint(dy, b, -n)
        return -(mT(b) @ db @ mT(b))
    if n == 0:
        return np.zeros_like(a, dtype=np.result_type(a, 0.0))
    at = mT(a)
    powers = [_eye_like(a)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ at)
    return sum(powers[k] @ dy @ powers[n - 1 - k] for k in range(n))


def lstsq_adjoint(dy, y, a, b):
    """Cotangents of ``a`` and ``b`` in ``x, residuals, rank, s = lstsq(a, b)``, for
    ``a`` of full column rank: ``x = pinv(a) b``, the residuals are
    ``sum((b - a x)**2)`` (their gradient is ``-2 r x^T`` and ``2 r``), the singular
    values those of ``a``; ``rank`` is an integer."""
    x = y[0]
    dx, dres, ds = _part(dy, 0), _part(dy, 1), _part(dy, 3)
    da = np.zeros(np.shape(a), dtype=np.result_type(a, b, 0.0))
    db = np.zeros(np.shape(b), dtype=np.result_type(a, b, 0.0))
    vector = np.ndim(b) == 1
    x2 = x[:, None] if vector else x
    b2 = b[:, None] if vector else b
    if dx is not None:
        p = np.linalg.pinv(a)
        dx2 = np.asarray(dx)[:, None] if vector else np.asarray(dx)
        db2 = mT(p) @ dx2
        da = da + pinv_adjoint(dx2 @ mT(b2), p, a)
        db = db + (db2[:, 0] if vector else db2)
    if dres is not None and np.size(y[1]) > 0:
        r = b2 - a @ x2
        g = 2.0 * r * np.asarray(dres)
        da = da - g @ mT(x2)
        db = db + (g[:, 0] if vector else g)
    if ds is not None:
        da = da + svd_adjoint(ds, None, a, compute_uv=False)
    return da, db


def multi_dot_adjoint(dy, arrays):
    """Cotangents of each array in ``np.linalg.multi_dot(arrays)``: the cotangent
    times the products of the others (a 1-d first or last array is a row or column)."""
    mats = [np.asarray(m) for m in arrays]
    first_vec, last_vec = mats[0].ndim == 1, mats[-1].ndim == 1
    if first_vec:
        mats[0] = mats[0][None, :]
    if last_vec:
        mats[-1] = mats[-1][:, None]
    g = np.asarray(dy)
    if first_vec:
        g = g[None, ...]
    if last_vec:
        g = g[..., None]
    g = np.reshape(g, (mats[0].shape[0], mats[-1].shape[1]))
    left = [np.eye(mats[0].shape[0], dtype=g.dtype)]
    for m in mats[:-1]:
        left.append(left[-1] @ m)
    right = [np.eye(mats[-1].shape[1], dtype=g.dtype)]
    for m in reversed(mats[1:]):
        right.append(m @ right[-1])
    right.reverse()
    out = [mT(left[i]) @ g @ mT(right[i]) for i in range(len(mats))]
    if first_vec:
        out[0] = out[0][0]
    if last_vec:
        out[-1] = out[-1][:, 0]
    return tuple(out)


def norm_adjoint(dy, y, x, ord=None, axis=None, keepdims=False):
    """Cotangent of ``x`` in ``y = np.linalg.norm(x, ord, axis, keepdims)``, for every
    vector and matrix norm numpy has for real arrays.

    At a zero vector or matrix (a kink) the gradient is 0, as for ``abs``; ties of the
    max/min norms (``inf``, ``-inf``, matrix ``1``, ``-1``) share the cotangent equally;
    ``ord=0`` (a count) is piecewise constant."""
    x = np.asarray(x)
    _refuse_imaginary(x, "np.linalg.norm")
    # (a Python float's cotangent, the seed, in x's precision)
    g = np.asarray(dy, dtype=np.result_type(dy, x, 0.0))
    return norm_gradient(g, np.asarray(y), x, ord, axis, keepdims)


def norm_gradient(dy, y, x, ord=None, axis=None, keepdims=False):
    """:func:`norm_adjoint` of a real array, in the accepted language: its definition
    for higher derivatives (rules/bodies.py)."""
    if axis is None and ord is None:  # the 2-norm of x.ravel(), whatever its shape
        return dy * x / np.where(y == 0, np.inf, y)
    axes = norm_axes(x, ord, axis)
    g = dy
    yk = y
    if not keepdims:
        g = np.expand_dims(dy, axes)
        yk = np.expand_dims(y, axes)
    if len(axes) == 1:
        return g * vector_norm_grad(x, yk, ord, axes[0])
    xm = np.moveaxis(x, axes, (-2, -1))
    ym = np.moveaxis(yk, axes, (-2, -1))
    gm = np.moveaxis(g, axes, (-2, -1))
    return np.moveaxis(gm * matrix_norm_grad(xm, ym, ord), (-2, -1), axes)


def vector_norm_adjoint(dy, y, x, axis=None, keepdims=False, ord=2):
    """Cotangent of ``x`` in ``np.linalg.vector_norm(x, axis, keepdims, ord)``: the
    vector norm of the elements over ``axis`` (all axes, or several, taken as one
    vector), with the conventions of :func:`norm_adjoint`."""
    x = np.asarray(x)
    _refuse_imaginary(x, "np.linalg.vector_norm")
    return vector_norm_gradient(dy, y, x, axis, keepdims, ord)


def vector_norm_gradient(dy, y, x, axis=None, keepdims=False, ord=2):
    """:func:`vector_norm_adjoint` of a real array, in the accepted language: its
    definition for higher derivatives (rules/bodies.py)."""
    axes, trailing, flat_shape, kept_shape, moved_shape = reduction_plan(x, axis)
    flat = np.reshape(np.moveaxis(x, axes, trailing), flat_shape)
    d = np.reshape(dy, kept_shape) * vector_norm_grad(flat, np.reshape(y, kept_shape), ord, -1)
    return np.moveaxis(np.reshape(d, moved_shape), trailing, axes)


def vector_norm_grad(x, y, ord, axis):
    """The gradient of a vector norm of ``x`` along ``axis`` (``y`` the norm, the axis
    kept), with the conventions of :func:`norm_adjoint`. Written in the accepted
    language: it is its own definition for higher derivatives (rules/bodies.py)."""
    if ord is None or ord == 2:
        return x / np.where(y == 0, np.inf, y)
    if ord == 1:
        return np.sign(x)
    if ord == np.inf or ord == -np.inf:
        at = np.abs(x) == y
        return np.sign(x) * at / np.sum(at, axis=axis, keepdims=True)
    if ord == 0:
        return np.zeros_like(x)
    # sign(x) (|x| / y) ** (p - 1), 0 where x or y is 0 (a base of 1 there keeps its
    # derivative finite)
    base = np.where(x == 0, 1.0, np.abs(x)) / np.where(y == 0, 1.0, y)
    return np.where(y == 0, 0.0, np.where(x == 0, 0.0, np.sign(x) * base ** (ord - 1)))


def matrix_norm_grad(x, y, ord):
    """The gradient of a matrix norm over the last two axes (``y`` with both kept);
    like :func:`vector_norm_grad`, its own definition for higher derivatives."""
    if ord is None or ord == "fro":
        return x / np.where(y == 0, np.inf, y)
    if ord == "nuc":
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        return (u @ vh) * (y != 0)
    if ord == 2:
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        return u[..., :, 0:1] * vh[..., 0:1, :] * (y != 0)
    if ord == -2:
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        return u[..., :, -1:] * vh[..., -1:, :] * (y != 0)
    if ord == 1 or ord == -1:  # max/min over columns of the column sums of |x|
        # (the mask in x's precision: a count of booleans would make it float64)
        at = np.where(np.sum(np.abs(x), axis=-2, keepdims=True) == y, np.ones_like(x), 0.0)
        return np.sign(x) * at / np.sum(at, axis=-1, keepdims=True)
    # inf or -inf (np.linalg.norm refuses any other order): over rows of the row sums
    at = np.where(np.sum(np.abs(x), axis=-1, keepdims=True) == y, np.ones_like(x), 0.0)
    return np.sign(x) * at / np.sum(at, axis=-2, keepdims=True)


# ------------------------------------------------------------ plans of the definitions
# (rules/bodies.py defines the adjoints above again in the accepted language, for
# second derivatives; these compute what those definitions cannot: axes, shapes)


def norm_axes(x, ord=None, axis=None) -> tuple[int, ...]:
    """The axes ``np.linalg.norm(x, ord, axis)`` reduces, nonnegative: one for a
    vector norm, two for a matrix norm."""
    nd = np.ndim(x)
    if axis is None:
        return tuple(range(nd))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(int(a) % nd for a in axes)


def reduction_plan(x, axis=None) -> tuple:
    """For a reduction of ``x`` over ``axis`` (None: all; an int; a tuple), such as
    ``np.linalg.vector_norm`` or ``np.prod``: the axes it reduces, where they go when
    moved last, the shape of ``x`` with them moved last and then flattened into one, that
    shape with a 1 for the flattened axes, and the shape with them moved last."""
    nd = np.ndim(x)
    axes = tuple(range(nd)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    axes = tuple(int(a) % nd for a in axes)
    k = len(axes)
    trailing = tuple(range(nd - k, nd))
    moved = np.shape(np.moveaxis(np.empty(np.shape(x), dtype=bool), axes, trailing))
    return axes, trailing, moved[: nd - k] + (-1,), moved[: nd - k] + (1,), moved


def singular_refused(name: str):
    """Raise: the second derivative of ``name`` at a singular matrix."""
    raise ValueError(
        f"the second derivative of {name} at a singular matrix is not supported: "
        "differentiate at an invertible matrix, or use finite differences of the gradient"
    )


def svd_shapes(a, full_matrices, vectors) -> tuple[int, int, int]:
    """``m, n, k`` of ``np.linalg.svd(a)`` (``k`` singular values); refused as by
    :func:`svd_adjoint` where the singular vectors of a non-square ``a`` with
    ``full_matrices`` get a cotangent."""
    m, n = np.shape(a)[-2:]
    if full_matrices and m != n and vectors:
        raise ValueError(
            "the gradient of np.linalg.svd(a, full_matrices=True) of a non-square matrix "
            "is not defined (the extra singular vectors are arbitrary): "
            "pass full_matrices=False"
        )
    return m, n, min(m, n)


def qr_shapes(a, mode="reduced") -> tuple[int, int]:
    """``m, n`` of ``np.linalg.qr(a, mode)``; refused as by :func:`qr_adjoint` for a
    complete ``q`` with extra columns, and for ``mode="r"`` (whose cotangent is an array,
    not a pair: the definition of rules/bodies.py reads a pair)."""
    m, n = np.shape(a)[-2:]
    if mode == "r":
        raise ValueError(
            "the second derivative of np.linalg.qr(a, mode='r') is not supported: "
            "use r = np.linalg.qr(a)[1]"
        )
    if mode not in ("r", "reduced") and not (mode == "complete" and m <= n):
        raise ValueError(
            f"the gradient of np.linalg.qr(a, mode={mode!r}) is not supported here: "
            "use mode='reduced' (the extra columns of a complete q are arbitrary)"
        )
    return m, n


def matrix_part(g, structure=None, lower=False, unit_diagonal=False, transposed=False):
    """The part of ``g``, a cotangent (or tangent) of a square matrix, that reaches the
    entries a solver of ``structure`` reads (scipy.linalg's ``assume_a`` names, and
    ``"triangular"`` for ``solve_triangular``): all of ``g`` for a general matrix, its
    symmetric part for a symmetric one (the convention of ``cholesky`` and ``eigh``:
    the derivative for a perturbation that keeps the matrix symmetric), the triangle
    ``lower`` chooses (without the diagonal for ``unit_diagonal``), the diagonal, or
    the three diagonals of a tridiagonal one; then transposed, with ``transposed`` (the
    tangent of a solve with the transposed matrix). Without ``transposed``, a
    projection: its own adjoint."""
    if transposed:
        return mT(matrix_part(g, structure, lower, unit_diagonal))
    if structure in (None, "gen", "general", "banded"):
        return g
    if structure in ("sym", "symmetric", "pos", "positive definite", "her", "hermitian"):
        return (g + mT(g)) / 2
    n = np.shape(g)[-1]
    rows, cols = np.arange(n)[:, None], np.arange(n)[None, :]
    if structure in ("triangular", "lower triangular", "upper triangular"):
        below = lower if structure == "triangular" else structure == "lower triangular"
        keep = rows >= cols if below else rows <= cols
        if unit_diagonal:
            keep = keep & (rows != cols)
    elif structure == "diagonal":
        keep = rows == cols
    elif structure == "tridiagonal":
        keep = np.abs(rows - cols) <= 1
    else:
        raise ValueError(f"the gradient of a solve with assume_a={structure!r} is not supported")
    return np.where(keep, g, 0)


def standard_eigh(lower=True, b=None, type=1, subset_by_index=None, subset_by_value=None):  # noqa: A002
    """The ``UPLO`` of ``np.linalg.eigh`` that reads the triangle scipy.linalg.eigh's
    ``lower`` reads; refused for the generalized problem (``b``) and for a subset of
    the eigenvalues, which the gradient does not cover."""
    if b is not None or type != 1:
        raise ValueError(
            "the gradient of scipy.linalg.eigh(a, b) (the generalized problem) is not "
            "supported: whiten with a Cholesky factor of b and call eigh(c)"
        )
    if subset_by_index is not None or subset_by_value is not None:
        raise ValueError(
            "the gradient of scipy.linalg.eigh with subset_by_index or subset_by_value is "
            "not supported: compute every eigenvalue and index the result"
        )
    return "L" if lower else "U"


def scipy_qr_mode(mode="full", pivoting=False) -> str:
    """``np.linalg.qr``'s mode for scipy.linalg.qr's ``mode`` (``"economic"`` is
    numpy's ``"reduced"``, ``"full"`` its ``"complete"``); refused for pivoting and the
    modes whose results are not ``(q, r)``."""
    if pivoting or mode not in ("full", "economic"):
        raise ValueError(
            "the gradient of scipy.linalg.qr is supported for mode='full' and "
            "mode='economic' without pivoting: for r alone, take qr(a, mode='economic')[1]"
        )
    return "reduced" if mode == "economic" else "complete"


def tensor_matrix_shape(a, ind) -> tuple[int, int]:
    """The matrix ``np.linalg.tensorinv(a, ind)`` inverts: ``a``'s first ``ind`` axes as
    rows, the others as columns."""
    shape = np.shape(a)
    return (int(np.prod(shape[:ind], dtype=np.int64)), int(np.prod(shape[ind:], dtype=np.int64)))


def tensorsolve_matrix_shape(a, b, axes=None) -> tuple[int, int]:
    """The matrix ``np.linalg.tensorsolve(a, b)`` solves with: ``b``'s axes of ``a`` as
    rows, the others as columns."""
    if axes is not None:
        raise ValueError(
            "the derivative of np.linalg.tensorsolve with axes= is not implemented: move "
            "the axes to the end first (np.moveaxis) and call it without axes"
        )
    return tensor_matrix_shape(a, np.ndim(b))


def cond_exponent(p=None) -> int:
    """np.linalg.cond(x, p) is (largest / smallest singular value) ** this for p None, 2
    and -2; 0 for the other orders, where it is norm(x, p) * norm(inv(x), p)."""
    if p is None or p == 2:
        return 1
    if p == -2:
        return -1
    if p in ("fro", "nuc", 1, -1, np.inf, -np.inf):
        return 0
    raise ValueError(f"np.linalg.cond: invalid norm order {p!r}")
