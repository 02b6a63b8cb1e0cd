"""Forward mode (adcompile/tangent.py): helpers the generated jvp code calls."""

from __future__ import annotations

import numpy as np

from .arrays import _linspace_weights, prod_adjoint
from .containers import add_at, set_at, zero_like, zeros_adjoint
from .linalg import _real_part, _refuse_imaginary, mT
from .stats import mvn_covariance


def zeros_tangent(x):
    """The zero tangent of the value ``x``: zeros of its shape, a container of them.
    A ``None`` (in a gradient's code, an adjoint that is zero) has the tangent ``None``:
    zero too, and read as zero of whatever shape its user needs."""
    if type(x) is np.ndarray and x.dtype.kind == "f":
        return np.zeros(x.shape, dtype=x.dtype)  # (the common case, quickly)
    if x is None:
        return None
    if isinstance(x, list):
        return [zeros_tangent(v) for v in x]
    if isinstance(x, tuple):
        return tuple(zeros_tangent(v) for v in x)
    if isinstance(x, dict):
        return {k: zeros_tangent(v) for k, v in x.items()}
    if callable(x) and not hasattr(x, "__array__"):
        return None  # a function held in a container (layers = [(W, np.tanh)]): no tangent
    return zero_like(x)


def broadcast_like(t, y):
    """The tangent ``t`` broadcast to the shape of the value ``y`` it is the tangent of
    (a term of an inactive operand that broadcast the result was folded away)."""
    shape = np.shape(y)
    if np.shape(t) == shape:
        return t
    return np.array(np.broadcast_to(t, shape), dtype=np.result_type(t, y, 0.0))


def fill_tangent(dfill, y):
    """Tangent of ``np.full(shape, fill)``/``np.full_like(a, fill)``: the fill's tangent
    in every element; zero when the result is integer-valued (a step function)."""
    if not np.issubdtype(np.result_type(y), np.inexact):
        return np.zeros(np.shape(y))
    return np.array(np.broadcast_to(dfill, np.shape(y)), dtype=np.result_type(y))


def linspace_tangent(dstart, dstop, y, num, endpoint, axis):
    """Tangent of ``np.linspace(start, stop, num, endpoint, axis=axis)``, whose samples
    are ``start * (1 - t) + stop * t``."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.inexact):
        return np.zeros(y.shape)
    axis = axis % y.ndim
    t = _linspace_weights(int(num), endpoint, y.ndim, axis)
    lo = np.expand_dims(dstart, axis) if np.ndim(dstart) else dstart
    hi = np.expand_dims(dstop, axis) if np.ndim(dstop) else dstop
    return np.array(np.broadcast_to(lo * (1.0 - t) + hi * t, y.shape), dtype=y.dtype)


def arange_tangent(dstart, dstep, y, stop):
    """Tangent of ``np.arange(start, stop, step)``: ``dstart + i * dstep``. With one
    argument, ``np.arange(stop)``, the argument is the stop: no derivative."""
    y = np.asarray(y)
    if stop is None or not np.issubdtype(y.dtype, np.inexact):
        return np.zeros(y.shape)
    return dstart + np.arange(y.size) * dstep


def prod_tangent(da, a, axis=None, keepdims=False):
    """Tangent of ``np.prod``: each element's tangent times the product of the others
    (exact also where ``a`` has zeros)."""
    y = np.prod(a, axis=axis, keepdims=keepdims)
    others = prod_adjoint(np.ones_like(y, dtype=np.result_type(y, 0.0)), a, axis, keepdims)
    return np.sum(da * others, axis=axis, keepdims=keepdims)


# ------------------------------------------------------------------ rearranging


def cumprod_tangent(da, a, axis=None):
    """Tangent of ``np.cumprod(a, axis)``, exact also where ``a`` has zeros (no
    division): ``dy[i] = dy[i - 1] * a[i] + y[i - 1] * da[i]`` along the axis."""
    a = np.asarray(a)
    da = np.broadcast_to(da, a.shape)
    if axis is None:
        return cumprod_tangent(np.ravel(da), np.ravel(a), 0)
    am, dm = np.moveaxis(a, axis, 0), np.moveaxis(da, axis, 0)
    out = np.empty(am.shape, dtype=np.result_type(a, da, 0.0))
    if am.shape[0] == 0:
        return np.moveaxis(out, 0, axis)
    y, out[0] = am[0], dm[0]
    for i in range(1, am.shape[0]):
        out[i] = out[i - 1] * am[i] + y * dm[i]
        y = y * am[i]
    return np.moveaxis(out, 0, axis)


def sort_tangent(da, a, axis=-1):
    """Tangent of ``np.sort(a, axis)``: ``da`` in the order that sorts ``a`` (the stable
    order, as ``unsort`` reads ties)."""
    da = np.broadcast_to(da, np.shape(a))
    if axis is None:
        return sort_tangent(np.ravel(da), np.ravel(a), 0)
    order = np.argsort(a, axis=axis, kind="stable")
    return np.take_along_axis(da, order, axis=axis).astype(np.result_type(da, 0.0), copy=False)


def partition_tangent(da, a, kth, axis=-1):
    """Tangent of ``np.partition(a, kth, axis)``, through the selection ``unpartition``
    reads (``np.argpartition``)."""
    da = np.broadcast_to(da, np.shape(a))
    if axis is None:
        return partition_tangent(np.ravel(da), np.ravel(a), kth, 0)
    order = np.argpartition(a, kth, axis=axis)
    return np.take_along_axis(da, order, axis=axis).astype(np.result_type(da, 0.0), copy=False)


def pad_tangent(da, a, pad_width, mode="constant"):
    """Tangent of ``np.pad(a, pad_width)`` in constant mode: ``da`` padded with zeros
    (other modes are refused, as ``unpad`` refuses them)."""
    if mode != "constant":
        raise ValueError(
            f"np.pad with mode={mode!r} cannot be differentiated: only mode='constant' is"
        )
    return np.pad(np.broadcast_to(da, np.shape(a)), pad_width).astype(
        np.result_type(da, 0.0), copy=False
    )


def gradient_tangent(df, dspacing, y, f, spacing=1.0, axis=None, edge_order=1):
    """Tangent of ``np.gradient(f, spacing, axis=axis)`` for the cases ``ungradient``
    differentiates (one axis, a scalar spacing): the differences of ``df``, and
    ``-dspacing * y / spacing`` since ``y`` is proportional to ``1 / spacing``."""
    if np.ndim(f) != 1 and axis is None:
        raise ValueError(
            "np.gradient of an array of more than one axis returns a list: pass axis=k "
            "(one axis) to differentiate it"
        )
    if edge_order != 1 or np.ndim(spacing) != 0:
        raise ValueError(
            "np.gradient is differentiated with edge_order=1 and one scalar spacing only"
        )
    df = np.broadcast_to(df, np.shape(f)).astype(np.result_type(df, f, 0.0))
    moved = np.gradient(df, spacing, axis=axis)
    return moved - dspacing * np.asarray(y) / spacing


def einsum_term(k, dk, subscripts, *operands):
    """``np.einsum(subscripts, *operands)`` with operand ``k`` replaced by ``dk`` (the
    absent operands, None, dropped): einsum is linear in each operand."""
    present = [op for op in operands if op is not None]
    present[k] = np.broadcast_to(dk, np.shape(present[k]))
    return np.einsum(subscripts, *present)


# ------------------------------------------------------------------ linear algebra


def _sym(x):
    return 0.5 * (x + np.swapaxes(x, -1, -2))


def _off_diagonal_inverse(w):
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it (inf at repeats)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 1.0 / (w[..., None, :] - w[..., :, None])
    n = w.shape[-1]
    f[..., np.arange(n), np.arange(n)] = 0.0
    return f


def _zeros_or(dx, x):
    """The tangent ``dx`` of ``x`` as an array of ``x``'s shape (a folded-away tangent is 0)."""
    return np.broadcast_to(dx, np.shape(x)).astype(np.result_type(dx, x, 0.0), copy=False)


def solve_product(m, x, b):
    """``m @ x`` for ``x = np.linalg.solve(a, b)``: ``x`` is a stack of vectors when ``b``
    has one axis (numpy 2's rule), whatever the batch axes of ``m``."""
    if np.ndim(b) == 1:
        return (m @ np.asarray(x)[..., None])[..., 0]
    return m @ x


def solve_like(a, r, b):
    """``np.linalg.solve(a, r)`` with ``r`` read as ``b`` is: a stack of vectors when ``b``
    has one axis (then ``r`` may have batch axes that ``b`` did not)."""
    if np.ndim(b) == 1:
        return np.linalg.solve(a, np.asarray(r)[..., None])[..., 0]
    return np.linalg.solve(a, r)


def cholesky_tangent(da, l, upper=False):
    """Tangent of ``l = cholesky(a)``: ``l Phi(l^-1 S l^-T)`` with ``S`` the symmetric
    part of ``da`` (``a`` is taken as symmetric, as by ``cholesky_adjoint``) and ``Phi``
    the lower triangle with a halved diagonal; ``upper`` gives its transpose."""
    if upper:
        l = mT(l)
    s = _sym(_zeros_or(da, l))
    inner = np.linalg.solve(l, mT(np.linalg.solve(l, s)))  # l^-1 S l^-T (S symmetric)
    phi = np.tril(inner) - 0.5 * np.tril(np.triu(inner))
    dl = l @ phi
    return mT(dl) if upper else dl


def eigh_tangent(da, y):
    """Tangents of ``w, v = eigh(a)``, ``a`` taken as symmetric: ``dw = diag(v^T S v)``,
    ``dv = v (F * v^T S v)`` with ``F[i, j] = 1 / (w[j] - w[i])``; repeated eigenvalues
    make ``dv`` inf or NaN (the eigenvectors have no derivative there)."""
    w, v = y[0], y[1]
    _refuse_imaginary(v, "np.linalg.eigh")
    m = mT(v) @ _sym(_zeros_or(da, v)) @ v
    dw = np.diagonal(m, axis1=-2, axis2=-1).copy()
    return dw, v @ (_off_diagonal_inverse(w) * m)


def eigvalsh_tangent(da, a, UPLO="L"):  # noqa: N803 (numpy's name)
    """Tangent of ``eigvalsh(a)``: ``diag(v^T S v)``, right also at repeated eigenvalues."""
    v = np.linalg.eigh(a, UPLO)[1]
    return np.sum(v * (_sym(_zeros_or(da, a)) @ v), axis=-2)


def eig_tangent(da, y):
    """Tangents of ``w, v = eig(a)`` for a real matrix with real eigenvalues (as real
    arrays, whatever dtype numpy gives the results; see ``eig_adjoint``):
    with ``P = v^-1 da v``, ``dw = diag(P)`` and ``dv = v (F * P)``, less each column's
    component along itself (numpy's eigenvectors have unit length)."""
    w = _real_part(y[0], "returned complex eigenvalues")
    v = _real_part(y[1], "returned complex eigenvectors")
    p = np.linalg.solve(v, _zeros_or(da, v) @ v)
    dw = np.diagonal(p, axis1=-2, axis2=-1).copy()
    dv = v @ (_off_diagonal_inverse(w) * p)
    return dw, dv - v * np.sum(v * dv, axis=-2, keepdims=True)


def eigvals_tangent(da, a):
    """Tangent of ``eigvals(a)`` (real eigenvalues): ``diag(v^-1 da v)``."""
    w, v = np.linalg.eig(a)
    w = _real_part(w, "returned complex eigenvalues")
    v = _real_part(v, "returned complex eigenvectors")
    p = np.linalg.solve(v, _zeros_or(da, a) @ v)
    return np.diagonal(p, axis1=-2, axis2=-1).copy()


def svd_tangent(da, y, a, full_matrices=True, compute_uv=True):
    """Tangents of ``np.linalg.svd(a, full_matrices, compute_uv)``. With ``P = u^T da v``
    (reduced factors) and ``F[i, j] = 1 / (s[j]^2 - s[i]^2)``: ``ds = diag(P)``,
    ``du = u (F * (P S + S P^T)) + (I - u u^T) da v S^-1``, ``dv`` alike with ``da^T``.
    Repeated singular values make ``du``, ``dv`` inf or NaN; so are the tangents of the
    extra (arbitrary) vectors of ``full_matrices=True`` for a non-square ``a``."""
    _refuse_imaginary(a, "np.linalg.svd")
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.sum(u * (_zeros_or(da, a) @ mT(vh)), axis=-2)
    m, n = np.shape(a)[-2:]
    k = min(m, n)
    u, s, vh = y[0][..., :, :k], y[1], y[2][..., :k, :]
    v = mT(vh)
    da = _zeros_or(da, a)
    p = mT(u) @ da @ v
    ds = np.diagonal(p, axis1=-2, axis2=-1).copy()
    f = _off_diagonal_inverse(s * s)
    ps, sp = p * s[..., None, :], s[..., :, None] * p
    du = u @ (f * (ps + mT(ps)))
    dv = v @ (f * (sp + mT(sp)))
    if m > k:
        du = du + (da @ v - u @ (mT(u) @ da @ v)) / s[..., None, :]
    if n > k:
        dat = mT(da)
        dv = dv + (dat @ u - v @ (mT(v) @ dat @ u)) / s[..., None, :]
    if full_matrices and m != n:
        undefined = np.full(np.shape(y[0])[:-1] + (m - k,), np.nan)
        du = np.concatenate([du, undefined], axis=-1) if m > k else du
        if n > k:
            dv = np.concatenate([dv, np.full(np.shape(v)[:-1] + (n - k,), np.nan)], axis=-1)
    return du, ds, mT(dv)


def qr_tangent(da, y, a, mode="reduced"):
    """Tangents of ``q, r = np.linalg.qr(a)`` (reduced). For ``m >= n``, with
    ``C = q^T da r^-1`` and ``L`` its strictly lower triangle: ``q^T dq = L - L^T``,
    ``dr = (C - L + L^T) r``, ``dq = (da - q dr) r^-1``. For ``m < n`` the same on the
    leading square block, and ``dq^T Y + q^T dY`` for the rest of ``r``.
    ``mode="r"`` gives ``dr`` alone."""
    m, n = np.shape(a)[-2:]
    if mode == "r":
        q, r = np.linalg.qr(a)
    elif mode == "reduced" or (mode == "complete" and m <= n):
        q, r = y[0], y[1]
    else:
        raise ValueError(
            f"the gradient of np.linalg.qr(a, mode={mode!r}) is not supported here: "
            "use mode='reduced' (the extra columns of a complete q are arbitrary)"
        )
    da = _zeros_or(da, a)
    if m >= n:
        dq, dr = _qr_square_tangent(da, q, r)
    else:
        dq, dr_x = _qr_square_tangent(da[..., :, :m], q, r[..., :, :m])
        dr_y = mT(dq) @ a[..., :, m:] + mT(q) @ da[..., :, m:]
        dr = np.concatenate([dr_x, dr_y], axis=-1)
    return dr if mode == "r" else (dq, dr)


def _qr_square_tangent(da, q, r):
    def right_solve(b):  # b @ r^-1, as a solve with r^T
        return mT(np.linalg.solve(mT(r), mT(b)))

    c = mT(q) @ right_solve(da)
    low = np.tril(c, -1)
    dr = (c - low + mT(low)) @ r
    return right_solve(da - q @ dr), dr


def pinv_tangent(da, y, a):
    """Tangent of ``y = pinv(a)`` where the rank of ``a`` is locally constant:
    ``-y da y + y y^T da^T (I - a y) + (I - y a) da^T y^T y``."""
    da = _zeros_or(da, a)
    dat = mT(da)
    first = -(y @ da @ y)
    second = y @ (mT(y) @ dat) - ((y @ mT(y)) @ (dat @ a)) @ y
    third = dat @ (mT(y) @ y) - y @ (a @ (dat @ (mT(y) @ y)))
    return first + second + third


def matrix_power_tangent(da, a, n):
    """Tangent of ``np.linalg.matrix_power(a, n)``: the sum over ``k`` of
    ``a^k da a^(n-1-k)``; a negative ``n`` goes through ``inv(a)``, whose tangent is
    ``-inv(a) da inv(a)``."""
    da = _zeros_or(da, a)
    if n < 0:
        b = np.linalg.inv(a)
        return matrix_power_tangent(-(b @ da @ b), b, -n)
    eye = np.eye(np.shape(a)[-1], dtype=np.result_type(a, 0.0))
    powers = [np.broadcast_to(eye, np.shape(a))]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a)
    total = np.zeros(np.shape(a), dtype=np.result_type(a, da, 0.0))
    for k in range(n):
        total = total + powers[k] @ da @ powers[n - 1 - k]
    return total


def lstsq_tangent(da, db, y, a, b):
    """Tangents of ``x, residuals, rank, s = lstsq(a, b)`` for ``a`` of full column rank
    (``x = pinv(a) b``): ``dx = dpinv b + pinv db``; the residuals ``sum((b - a x)**2)``
    move by ``2 sum(r * (db - da x))`` (``a^T r = 0``); the rank not at all; ``s`` as
    ``svdvals``."""
    x, residuals, rank, s = y
    da, db = _zeros_or(da, a), _zeros_or(db, b)
    p = np.linalg.pinv(a)
    dx = pinv_tangent(da, p, a) @ b + p @ db
    vector = np.ndim(b) == 1
    if np.size(residuals) > 0:
        r = b - a @ x
        dres = 2.0 * np.sum(r * (db - da @ x), axis=0)
        dres = np.reshape(dres, np.shape(residuals))
    else:
        dres = np.zeros(np.shape(residuals))
    ds = svd_tangent(da, None, a, compute_uv=False)
    return (dx if not vector else np.reshape(dx, np.shape(x))), dres, 0.0, ds


def multi_dot_tangent(darrays, arrays):
    """Tangent of ``np.linalg.multi_dot(arrays)``: the sum over ``i`` of the product with
    the ``i``-th array replaced by its tangent (a zero tangent adds nothing)."""
    total = 0.0
    for i, d in enumerate(darrays):
        if np.ndim(d) == 0 and d == 0:
            continue
        parts = list(arrays)
        parts[i] = np.broadcast_to(d, np.shape(arrays[i]))
        total = total + np.linalg.multi_dot(parts)
    return total


# ------------------------------------------------------------------ distributions


def mvn_logpdf_tangent(dx, dmean, dcov, y, x, mean, cov):
    """Tangent of ``scipy.stats.multivariate_normal.logpdf(x, mean, cov)``, one number
    per point: with ``r = x - mean`` and ``s = cov^-1 r``,
    ``-s . (dx - dmean) - tr(cov^-1 dC) / 2 + s^T dC s / 2``, where ``dC`` is the
    symmetric matrix of ``dcov``'s lower triangle (the one scipy reads); a number or a
    vector ``cov`` is a multiple of the identity or a diagonal."""
    x = np.asarray(x)
    dcs = mvn_covariance(mean, np.broadcast_to(dcov, np.shape(cov)))
    cov = mvn_covariance(mean, cov)
    dim = np.shape(cov)[0]
    centred = x.reshape(-1, dim) - (0.0 if mean is None else np.ravel(mean))
    dc = np.reshape(np.broadcast_to(dx, x.shape), (-1, dim))
    if mean is not None:
        dc = dc - np.ravel(np.broadcast_to(dmean, np.shape(mean)))
    precision = np.linalg.inv(cov)
    scaled = centred @ precision
    low = np.tril(dcs)
    dcs = low + low.T - np.diag(np.diag(low))
    out = -np.sum(scaled * dc, axis=1)
    out = out - 0.5 * np.sum(precision * dcs.T) + 0.5 * np.sum((scaled @ dcs) * scaled, axis=1)
    return np.reshape(out, np.shape(y))


def add_at_tangent(ddc, dc, key, dg):
    """Tangent of ``add_at(dc, key, g)`` (higher-order derivatives): ``dg`` added into the
    element ``key`` of the tangent ``ddc``, in place as ``add_at`` does; a zero ``ddc``
    (a container adjoint that started as zeros) starts as zeros of ``dc``'s structure."""
    if not isinstance(ddc, list | dict):
        ddc = zeros_adjoint(dc)
    return add_at(ddc, key, dg)


def set_elements_tangent(dx, x, index, dv):
    """Tangent of ``set_elements(x, index, v)``: the tangent array of ``x`` written the
    same way, in place, so that it keeps mirroring the value (a zero or read-only tangent
    starts as zeros of ``x``'s shape)."""
    if type(dx) is not np.ndarray or not dx.flags.writeable or dx.shape != np.shape(x):
        dx = np.zeros(np.shape(x), dtype=x.dtype if x.dtype.kind in "fc" else np.float64)
    dx[index] = 0.0 if dv is None else dv
    return dx


def set_at_tangent(ddc, dc, key, dg):
    """Tangent of ``set_at(dc, key, g)``: ``ddc`` with the element ``key`` set to ``dg``, in
    place; a zero ``ddc`` starts as zeros of ``dc``'s structure. On an array ``dc`` (the
    gradient's own writes into array elements) the tangent array is written the same
    way, so that it keeps mirroring the value."""
    if isinstance(dc, np.ndarray):
        if type(ddc) is not np.ndarray or not ddc.flags.writeable:
            ddc = np.zeros(dc.shape, dtype=dc.dtype if dc.dtype.kind in "fc" else np.float64)
        ddc[key] = 0.0 if dg is None else dg
        return ddc
    if not isinstance(ddc, list | dict):
        ddc = zeros_adjoint(dc)
    return set_at(ddc, key, dg)
