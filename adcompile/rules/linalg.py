"""Adjoints of products and linear algebra (``numpy.linalg``).

Matrices are the last two axes of an array, and any leading axes a batch, as in
numpy. The formulas are written with solves rather than explicit inverses where
that is what the calculus asks for (``solve``'s adjoint solves with the
transposed matrix); the bigger ones live in runtime/linalg.py, named after the function
(``eigh_adjoint``). A function returning a tuple (``slogdet``, ``eigh``, ``svd``,
``qr``, ``lstsq``) says so with ``results=``: its cotangent is a list with one
element per result, ``None`` for one that gets no cotangent.

Conventions (documented in docs/linear-algebra.md): ``cholesky`` and ``eigh``
read one triangle of a matrix that is meant to be symmetric, and their gradient
is the symmetric one; the gradient of eigenvectors and singular vectors is
undefined (inf or NaN) at repeated eigenvalues or singular values; norms have
gradient 0 at zero.
"""

import numpy as np

from ..runtime import (
    cholesky_adjoint,
    cholesky_tangent,
    cond_exponent,
    det_adjoint,
    dot_adjoint_lhs,
    dot_adjoint_rhs,
    eig_adjoint,
    eig_tangent,
    eigh_adjoint,
    eigh_tangent,
    eigvals_tangent,
    eigvalsh_tangent,
    extremum_mask,
    lstsq_adjoint,
    lstsq_tangent,
    matrix_power_adjoint,
    matrix_power_tangent,
    mT,
    multi_dot_adjoint,
    multi_dot_tangent,
    norm_adjoint,
    pinv_adjoint,
    pinv_tangent,
    qr_adjoint,
    qr_tangent,
    slogdet_adjoint,
    solve_adjoint_lhs,
    solve_like,
    solve_product,
    solve_transposed,
    sum_to,
    svd_adjoint,
    svd_tangent,
    tensor_matrix_shape,
    tensorsolve_matrix_shape,
    vector_norm_adjoint,
)
from ..shapes import broadcast_shape
from .record import DOT, UNKNOWN
from .registry import adjoint, nondiff
from .tangents import tangent


@adjoint(np.dot, shape=DOT)
def dot(dz, z, a, b):
    return dot_adjoint_lhs(dz, a, b), dot_adjoint_rhs(dz, a, b)


@tangent(np.dot)
def dot_tangent(da, db, z, a, b):
    return np.dot(da, b) + np.dot(a, db)


# Special cases, used when the operands' shapes are known: for matrices and vectors
# np.dot is matmul, and its adjoints are matmul's.


@adjoint(np.dot, when=lambda a, b: len(a) == 2 and len(b) == 2)
def dot_matrices(dz, z, a, b):
    return dz @ b.T, a.T @ dz


@adjoint(np.dot, when=lambda a, b: len(a) == 2 and len(b) == 1)
def dot_matrix_vector(dz, z, a, b):
    return np.outer(dz, b), a.T @ dz


@adjoint(np.dot, when=lambda a, b: len(a) == 1 and len(b) == 2)
def dot_vector_matrix(dz, z, a, b):
    return b @ dz, np.outer(a, dz)


@adjoint(np.outer, shape=UNKNOWN, fresh=True)
def outer(dz, z, a, b):
    return np.reshape(dz @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ dz, np.shape(b))


@tangent(np.outer)
def outer_tangent(da, db, z, a, b):
    return np.outer(da, b) + np.outer(a, db)


def _const(q, param, default):
    """The constant operand ``param`` of a shape query, its default when not given."""
    return q.const(param) if param in q.ops else default


def _norm_shape(q):
    args = (_const(q, "ord", None), _const(q, "axis", None), _const(q, "keepdims", False))
    return q.numpy(np.linalg.norm, "x", *args)


def _square_shape(q):
    return q.leaf("a")


def _batch_shape(q, param="a"):
    a = q.leaf(param)
    return a[:-2] if a is not None and len(a) >= 2 else None


def _solve_shape(q):
    # numpy 2: b is a vector when it has one axis, else a stack of matrices
    a, b = q.leaf("a"), q.leaf("b")
    if a is None or b is None or len(a) < 2 or a[-1] != a[-2] or not b:
        return None
    if len(b) == 1:
        return a[:-1] if b[0] == a[-1] else None
    batch = broadcast_shape([a[:-2], b[:-2]])
    return None if batch is None or b[-2] != a[-1] else batch + b[-2:]


def _slogdet_shape(q):
    # a tuple result: one fact per element (the sign and the log of |det|)
    batch = _batch_shape(q)
    return None if batch is None else [batch, batch]


EIG = ("eigenvalues", "eigenvectors")  # the fields of eig's and eigh's named tuples


@adjoint(np.linalg.norm, shape=_norm_shape, fresh=True)
def norm(dy, y, x, ord=None, axis=None, keepdims=False):
    return norm_adjoint(dy, y, x, ord, axis, keepdims)


# The norms and det give one number per vector or matrix: a tangent is the inner
# product of the operand's tangent with the partial derivatives, which the adjoint's
# helper gives for a cotangent of ones (norm_adjoint's conventions at zero included).
@tangent(np.linalg.norm)
def norm_tangent(dx, y, x, ord=None, axis=None, keepdims=False):
    partials = norm_adjoint(np.ones_like(y), y, x, ord, axis, keepdims)
    return np.sum(partials * dx, axis=axis, keepdims=keepdims)


@adjoint(np.linalg.vector_norm, shape=UNKNOWN, fresh=True)
def vector_norm(dy, y, x, axis=None, keepdims=False, ord=2):
    return vector_norm_adjoint(dy, y, x, axis, keepdims, ord)


@tangent(np.linalg.vector_norm)
def vector_norm_tangent(dx, y, x, axis=None, keepdims=False, ord=2):
    partials = vector_norm_adjoint(np.ones_like(y), y, x, axis, keepdims, ord)
    return np.sum(partials * dx, axis=axis, keepdims=keepdims)


@adjoint(np.linalg.matrix_norm, shape=UNKNOWN, fresh=True)
def matrix_norm(dy, y, x, keepdims=False, ord="fro"):
    return norm_adjoint(dy, y, x, ord, (-2, -1), keepdims)


@tangent(np.linalg.matrix_norm)
def matrix_norm_tangent(dx, y, x, keepdims=False, ord="fro"):
    partials = norm_adjoint(np.ones_like(y), y, x, ord, (-2, -1), keepdims)
    return np.sum(partials * dx, axis=(-2, -1), keepdims=keepdims)


@adjoint(np.linalg.inv, shape=_square_shape, fresh=True)
def inv(dy, y, a):
    return -(mT(y) @ dy @ mT(y))


@tangent(np.linalg.inv)
def inv_tangent(da, y, a):
    return -(y @ da @ y)


@adjoint(np.linalg.pinv, shape=UNKNOWN, fresh=True)
def pinv(dy, y, a, rcond=None, hermitian=False, rtol=None):
    return pinv_adjoint(dy, y, a)


@tangent(np.linalg.pinv)
def pinv_tangent_rule(da, y, a, rcond=None, hermitian=False, rtol=None):
    return pinv_tangent(da, y, a)


@adjoint(np.linalg.solve, shape=_solve_shape, fresh=True)
def solve(dx, x, a, b):
    gb = solve_transposed(a, dx, b)  # one solve with the transposed matrix, no inverse
    return solve_adjoint_lhs(gb, x, a, b), sum_to(gb, b)


@tangent(np.linalg.solve)
def solve_tangent(da, db, x, a, b):
    # (a b of one axis is a vector, also for a stack of matrices a: then x is a stack)
    return solve_like(a, db - solve_product(da, x, b), b)


@adjoint(np.linalg.det, shape=_batch_shape, fresh=True)
def det(dy, y, a):
    return det_adjoint(dy, y, a)


@tangent(np.linalg.det)
def det_tangent(da, y, a):
    # the cofactors (det_adjoint's, exact for singular matrices too) against da
    return np.sum(det_adjoint(np.ones_like(y), y, a) * da, axis=(-2, -1))


@adjoint(
    np.linalg.slogdet, shape=_slogdet_shape, fresh=True, results=2, fields=("sign", "logabsdet")
)
def slogdet(dy, y, a):
    return slogdet_adjoint(dy, a)


@tangent(np.linalg.slogdet)
def slogdet_tangent(da, y, a):
    # the sign is piecewise constant; d log|det a| = tr(a^-1 da)
    return np.zeros_like(y[0]), np.trace(np.linalg.solve(a, da), axis1=-2, axis2=-1)


@adjoint(np.linalg.cholesky, shape=_square_shape, fresh=True)
def cholesky(dl, l, a, upper=False):
    return cholesky_adjoint(dl, l, upper)


@tangent(np.linalg.cholesky)
def cholesky_tangent_rule(da, l, a, upper=False):
    return cholesky_tangent(da, l, upper)


@adjoint(np.linalg.eigh, shape=UNKNOWN, fresh=True, results=2, fields=EIG)
def eigh(dy, y, a, UPLO="L"):  # noqa: N803 (numpy's name)
    return eigh_adjoint(dy, y)


@tangent(np.linalg.eigh)
def eigh_tangent_rule(da, y, a, UPLO="L"):  # noqa: N803 (numpy's name)
    return eigh_tangent(da, y)


@adjoint(np.linalg.eigvalsh, shape=UNKNOWN, fresh=True)
def eigvalsh(dw, w, a, UPLO="L"):  # noqa: N803 (numpy's name)
    return eigh_adjoint([dw, None], np.linalg.eigh(a, UPLO))


@tangent(np.linalg.eigvalsh)
def eigvalsh_tangent_rule(da, w, a, UPLO="L"):  # noqa: N803 (numpy's name)
    return eigvalsh_tangent(da, a, UPLO)


@adjoint(np.linalg.eigvals, shape=UNKNOWN, fresh=True)
def eigvals(dw, w, a):
    return eig_adjoint([dw, None], np.linalg.eig(a))


@tangent(np.linalg.eigvals)
def eigvals_tangent_rule(da, w, a):
    return eigvals_tangent(da, a)


@adjoint(np.linalg.eig, shape=UNKNOWN, fresh=True, results=2, fields=EIG)
def eig(dy, y, a):
    return eig_adjoint(dy, y)


@tangent(np.linalg.eig)
def eig_tangent_rule(da, y, a):
    return eig_tangent(da, y)


@adjoint(
    np.linalg.svd,
    shape=UNKNOWN,
    fresh=True,
    results=lambda compute_uv=True: 3 if compute_uv else 1,
    fields=("U", "S", "Vh"),
)
def svd(dy, y, a, full_matrices=True, compute_uv=True, hermitian=False):
    return svd_adjoint(dy, y, a, full_matrices, compute_uv)


@tangent(np.linalg.svd)
def svd_tangent_rule(da, y, a, full_matrices=True, compute_uv=True, hermitian=False):
    return svd_tangent(da, y, a, full_matrices, compute_uv)


@adjoint(np.linalg.svdvals, shape=UNKNOWN, fresh=True)
def svdvals(ds, s, x):
    return svd_adjoint(ds, s, x, False, False)


@tangent(np.linalg.svdvals)
def svdvals_tangent(dx, s, x):
    return svd_tangent(dx, s, x, False, False)


@adjoint(
    np.linalg.qr,
    shape=UNKNOWN,
    fresh=True,
    results=lambda mode="reduced": 1 if mode == "r" else 2,
    fields=("Q", "R"),
)
def qr(dy, y, a, mode="reduced"):
    return qr_adjoint(dy, y, a, mode)


@tangent(np.linalg.qr)
def qr_tangent_rule(da, y, a, mode="reduced"):
    return qr_tangent(da, y, a, mode)


@adjoint(np.linalg.matrix_power, shape=_square_shape, fresh=True)
def matrix_power(dy, y, a, n):
    return matrix_power_adjoint(dy, a, n)


@tangent(np.linalg.matrix_power)
def matrix_power_tangent_rule(da, y, a, n):
    return matrix_power_tangent(da, a, n)


@adjoint(np.linalg.lstsq, shape=UNKNOWN, fresh=True, results=4)
def lstsq(dy, y, a, b, rcond=None):
    da_db = lstsq_adjoint(dy, y, a, b)
    return da_db[0], da_db[1]


@tangent(np.linalg.lstsq)
def lstsq_tangent_rule(da, db, y, a, b, rcond=None):
    return lstsq_tangent(da, db, y, a, b)


@adjoint(np.linalg.multi_dot, shape=UNKNOWN, fresh=True)
def multi_dot(dy, y, arrays):
    return multi_dot_adjoint(dy, arrays)


@tangent(np.linalg.multi_dot)
def multi_dot_tangent_rule(darrays, y, arrays):
    return multi_dot_tangent(darrays, arrays)


# The tensor forms of inverse and solve: the matrix ones of the tensor reshaped.


@adjoint(np.linalg.tensorinv, shape=UNKNOWN, fresh=True)
def tensorinv(dy, y, a, ind=2):
    inverse = np.reshape(y, tensor_matrix_shape(y, np.ndim(y) - ind))
    g = np.reshape(dy, np.shape(inverse))
    return np.reshape(-(np.transpose(inverse) @ g @ np.transpose(inverse)), np.shape(a))


@tangent(np.linalg.tensorinv)
def tensorinv_tangent(da, y, a, ind=2):
    inverse = np.reshape(y, tensor_matrix_shape(y, np.ndim(y) - ind))
    return np.reshape(
        -(inverse @ np.reshape(da, tensor_matrix_shape(a, ind)) @ inverse), np.shape(y)
    )


@adjoint(np.linalg.tensorsolve, shape=UNKNOWN, fresh=True)
def tensorsolve(dx, x, a, b, axes=None):
    matrix = np.reshape(a, tensorsolve_matrix_shape(a, b, axes))
    gb = np.linalg.solve(np.transpose(matrix), np.ravel(dx))
    return np.reshape(-np.outer(gb, np.ravel(x)), np.shape(a)), np.reshape(gb, np.shape(b)), None


@tangent(np.linalg.tensorsolve)
def tensorsolve_tangent(da, db, x, a, b, axes=None):
    matrix = np.reshape(a, tensorsolve_matrix_shape(a, b, axes))
    moved = np.ravel(db) - np.reshape(da, np.shape(matrix)) @ np.ravel(x)
    return np.reshape(np.linalg.solve(matrix, moved), np.shape(x))


# np.linalg.cond(x, p): for p = None, 2, -2, (largest / smallest singular value) ** e, so
# d cond = cond e (d s_max / s_max - d s_min / s_min), d s_i = u_i^T dx v_i; ties of the
# largest (or smallest) singular values share the derivative, as np.max's ties do. For
# the other orders, norm(x, p) * norm(inv(x), p) (norm's conventions at its kinks).


@adjoint(np.linalg.cond, shape=lambda q: _batch_shape(q, "x"), fresh=True)
def cond(dy, y, x, p=None):
    exponent = cond_exponent(p)
    if exponent == 0:
        inverse = np.linalg.inv(x)
        size = np.linalg.norm(x, p, (-2, -1))
        size_of_inverse = np.linalg.norm(inverse, p, (-2, -1))
        through_inverse = norm_adjoint(dy * size, size_of_inverse, inverse, p, (-2, -1))
        return norm_adjoint(dy * size_of_inverse, size, x, p, (-2, -1)) - np.swapaxes(
            inverse, -1, -2
        ) @ through_inverse @ np.swapaxes(inverse, -1, -2)
    usv = np.linalg.svd(x, full_matrices=False)
    top = np.max(usv[1], axis=-1, keepdims=True)
    bottom = np.min(usv[1], axis=-1, keepdims=True)
    ds = (
        np.expand_dims(dy * y, -1)
        * exponent
        * (
            extremum_mask(usv[1], top, -1, True) / top
            - extremum_mask(usv[1], bottom, -1, True) / bottom
        )
    )
    return (usv[0] * np.expand_dims(ds, -2)) @ usv[2]


@tangent(np.linalg.cond)
def cond_tangent(dx, y, x, p=None):
    exponent = cond_exponent(p)
    if exponent == 0:
        inverse = np.linalg.inv(x)
        size = np.linalg.norm(x, p, (-2, -1))
        size_of_inverse = np.linalg.norm(inverse, p, (-2, -1))
        ones = np.ones_like(y)
        through_inverse = norm_adjoint(ones * size, size_of_inverse, inverse, p, (-2, -1))
        slope = norm_adjoint(ones * size_of_inverse, size, x, p, (-2, -1)) - np.swapaxes(
            inverse, -1, -2
        ) @ through_inverse @ np.swapaxes(inverse, -1, -2)
        return np.sum(slope * dx, axis=(-2, -1))
    usv = np.linalg.svd(x, full_matrices=False)
    top = np.max(usv[1], axis=-1, keepdims=True)
    bottom = np.min(usv[1], axis=-1, keepdims=True)
    moved = np.sum(usv[0] * (dx @ np.swapaxes(usv[2], -1, -2)), axis=-2)
    share = (
        extremum_mask(usv[1], top, -1, True) / top
        - extremum_mask(usv[1], bottom, -1, True) / bottom
    )
    return y * exponent * np.sum(moved * share, axis=-1)


nondiff(np.linalg.matrix_rank)
