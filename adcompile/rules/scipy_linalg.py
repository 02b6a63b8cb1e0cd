"""Adjoints of scipy.linalg functions (loaded once scipy.linalg is imported: see
``load_optional`` in rules/__init__.py).

Where scipy's function computes what a function of ``numpy.linalg`` does, its rule
calls the same helpers (runtime/linalg.py's ``det_adjoint``, ``eigh_adjoint``,
``svd_adjoint``, ``qr_adjoint``, ``cholesky_adjoint``); the solves are differentiated
with scipy's own solvers, called with the flags of the call (``assume_a``,
``lower``, ``trans``), so that the adjoint reads the entries of ``a`` the solve
read and no others, and their derivatives follow from these rules again. A solver
that reads part of ``a`` (a triangle, the diagonal) gives the gradient of that part
(``matrix_part``); a symmetric one (``assume_a="sym"``, ``"pos"``) the symmetric
gradient, as ``cholesky`` and ``eigh`` do (docs/linear-algebra.md).

``expm``'s adjoint is its Fréchet derivative at the transposed matrix, computed as
the upper right block of the exponential of the block matrix ``[[a^T, g], [0, a^T]]``
(Mathias' theorem): an expression of ``expm`` itself, so derivatives of every order
follow from this one rule. ``cho_solve`` reads one triangle of ``cho_factor``'s
factor, and its adjoint only that triangle (the other holds ``a``'s own entries);
LU's packed factorisation (``lu_factor``, ``lu_solve``) and the matrix functions
that solve a Sylvester equation (``logm``, ``sqrtm``) are refused by name with the
function to call instead.
"""

import inspect

import numpy as np
from scipy import linalg

from ..runtime import (
    cholesky_adjoint,
    cholesky_tangent,
    det_adjoint,
    eigh_adjoint,
    eigh_tangent,
    eigvalsh_tangent,
    matrix_part,
    mT,
    qr_adjoint,
    qr_tangent,
    scipy_qr_mode,
    solve_adjoint_lhs,
    solve_product,
    standard_eigh,
    sum_to,
    svd_adjoint,
    svd_tangent,
)
from .linalg import _batch_shape, _solve_shape, _square_shape
from .record import UNKNOWN
from .registry import adjoint, refuse
from .tangents import tangent

# ------------------------------------------------------------------ solves

# solve's own default assume_a: None (a general matrix, or the structure scipy reads off
# it) from scipy 1.15 on, "gen" before, where None is refused. The rules default to the
# installed scipy's, as they pass it on to solve.
_ASSUME_A = inspect.signature(linalg.solve).parameters["assume_a"].default


@adjoint(linalg.solve, shape=_solve_shape, fresh=True)
def solve(
    dx,
    x,
    a,
    b,
    lower=False,
    overwrite_a=False,
    overwrite_b=False,
    check_finite=True,
    assume_a=_ASSUME_A,
    transposed=False,
):
    # one solve with the transposed matrix (the same solver, so the same entries of a)
    gb = linalg.solve(a, dx, lower=lower, assume_a=assume_a, transposed=not transposed)
    ga = solve_adjoint_lhs(gb, x, a, b)
    return matrix_part(mT(ga) if transposed else ga, assume_a, lower), sum_to(gb, b)


@tangent(linalg.solve)
def solve_tangent(
    da,
    db,
    x,
    a,
    b,
    lower=False,
    overwrite_a=False,
    overwrite_b=False,
    check_finite=True,
    assume_a=_ASSUME_A,
    transposed=False,
):
    # (one expression: the terms of an inactive operand fold away)
    return linalg.solve(
        a,
        db - solve_product(matrix_part(da, assume_a, lower, False, transposed), x, b),
        lower=lower,
        assume_a=assume_a,
        transposed=transposed,
    )


# trans is 0 or "N" (a x = b), else 1, "T", 2 or "C" (a^T x = b for a real a)
@adjoint(linalg.solve_triangular, shape=UNKNOWN, fresh=True)
def solve_triangular(
    dx,
    x,
    a,
    b,
    trans=0,
    lower=False,
    unit_diagonal=False,
    overwrite_b=False,
    check_finite=True,
):
    transposes = trans not in (0, "N")
    gb = linalg.solve_triangular(
        a, dx, trans=0 if transposes else 1, lower=lower, unit_diagonal=unit_diagonal
    )
    ga = solve_adjoint_lhs(gb, x, a, b)
    return (
        matrix_part(mT(ga) if transposes else ga, "triangular", lower, unit_diagonal),
        sum_to(gb, b),
    )


@tangent(linalg.solve_triangular)
def solve_triangular_tangent(
    da,
    db,
    x,
    a,
    b,
    trans=0,
    lower=False,
    unit_diagonal=False,
    overwrite_b=False,
    check_finite=True,
):
    # (one expression: the terms of an inactive operand fold away)
    return linalg.solve_triangular(
        a,
        db
        - solve_product(
            matrix_part(da, "triangular", lower, unit_diagonal, trans not in (0, "N")), x, b
        ),
        trans=trans,
        lower=lower,
        unit_diagonal=unit_diagonal,
    )


@adjoint(linalg.inv, shape=_square_shape, fresh=True)
def inv(dy, y, a, overwrite_a=False, check_finite=True, assume_a=None, lower=False):
    return matrix_part(-(mT(y) @ dy @ mT(y)), assume_a, lower)


@tangent(linalg.inv)
def inv_tangent(da, y, a, overwrite_a=False, check_finite=True, assume_a=None, lower=False):
    return -(y @ matrix_part(da, assume_a, lower) @ y)


@adjoint(linalg.det, shape=_batch_shape, fresh=True)
def det(dy, y, a, overwrite_a=False, check_finite=True):
    return det_adjoint(dy, y, a)


@tangent(linalg.det)
def det_tangent(da, y, a, overwrite_a=False, check_finite=True):
    return np.sum(det_adjoint(np.ones_like(y), y, a) * da, axis=(-2, -1))


# ------------------------------------------------------------------ factorisations


# scipy's cholesky gives the upper factor unless lower=True (numpy's the lower one)
@adjoint(linalg.cholesky, shape=_square_shape, fresh=True)
def cholesky(dc, c, a, lower=False, overwrite_a=False, check_finite=True):
    return cholesky_adjoint(dc, c, not lower)


@tangent(linalg.cholesky)
def cholesky_tangent_rule(da, c, a, lower=False, overwrite_a=False, check_finite=True):
    return cholesky_tangent(da, c, not lower)


@adjoint(
    linalg.eigh,
    shape=UNKNOWN,
    fresh=True,
    results=lambda eigvals_only=False: 1 if eigvals_only else 2,
)
def eigh(
    dy,
    y,
    a,
    b=None,
    lower=True,
    eigvals_only=False,
    overwrite_a=False,
    overwrite_b=False,
    type=1,  # noqa: A002 (scipy's name)
    check_finite=True,
    subset_by_index=None,
    subset_by_value=None,
    driver=None,
):
    uplo = standard_eigh(lower, b, type, subset_by_index, subset_by_value)
    if eigvals_only:
        return eigh_adjoint([dy, None], np.linalg.eigh(a, uplo))
    return eigh_adjoint(dy, y)


@tangent(linalg.eigh)
def eigh_tangent_rule(
    da,
    y,
    a,
    b=None,
    lower=True,
    eigvals_only=False,
    overwrite_a=False,
    overwrite_b=False,
    type=1,  # noqa: A002 (scipy's name)
    check_finite=True,
    subset_by_index=None,
    subset_by_value=None,
    driver=None,
):
    uplo = standard_eigh(lower, b, type, subset_by_index, subset_by_value)
    if eigvals_only:
        return eigvalsh_tangent(da, a, uplo)
    return eigh_tangent(da, y)


@adjoint(
    linalg.svd,
    shape=UNKNOWN,
    fresh=True,
    results=lambda compute_uv=True: 3 if compute_uv else 1,
)
def svd(
    dy,
    y,
    a,
    full_matrices=True,
    compute_uv=True,
    overwrite_a=False,
    check_finite=True,
    lapack_driver="gesdd",
):
    return svd_adjoint(dy, y, a, full_matrices, compute_uv)


@tangent(linalg.svd)
def svd_tangent_rule(
    da,
    y,
    a,
    full_matrices=True,
    compute_uv=True,
    overwrite_a=False,
    check_finite=True,
    lapack_driver="gesdd",
):
    return svd_tangent(da, y, a, full_matrices, compute_uv)


@adjoint(linalg.svdvals, shape=UNKNOWN, fresh=True)
def svdvals(ds, s, a, overwrite_a=False, check_finite=True):
    return svd_adjoint(ds, s, a, False, False)


@tangent(linalg.svdvals)
def svdvals_tangent(da, s, a, overwrite_a=False, check_finite=True):
    return svd_tangent(da, s, a, False, False)


# mode="full" (scipy's default) is numpy's "complete", "economic" its "reduced"
@adjoint(linalg.qr, shape=UNKNOWN, fresh=True, results=2)
def qr(dy, y, a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    return qr_adjoint(dy, y, a, scipy_qr_mode(mode, pivoting))


@tangent(linalg.qr)
def qr_tangent_rule(
    da, y, a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True
):
    return qr_tangent(da, y, a, scipy_qr_mode(mode, pivoting))


# cho_factor(a) is (c, lower): the factor in the triangle lower names. What the other
# triangle holds depends on scipy: a's own entries (LAPACK leaves them; scipy <= 1.17)
# or zeros (scipy 1.18). Which, is asked once of the installed scipy: a's entries pass
# their gradient through; zeros have none.
_KEEPS_OTHER = bool(linalg.cho_factor(np.array([[2.0, 1.0], [1.0, 2.0]]))[0][1, 0] == 1.0)


@adjoint(linalg.cho_factor, shape=UNKNOWN, fresh=True, results=2)
def cho_factor(dy, y, a, lower=False, overwrite_a=False, check_finite=True):
    used = matrix_part(dy[0], "triangular", lower)
    factor = matrix_part(y[0], "triangular", lower)
    return cholesky_adjoint(used, factor, not lower) + (dy[0] - used) * _KEEPS_OTHER


@tangent(linalg.cho_factor)
def cho_factor_tangent(da, y, a, lower=False, overwrite_a=False, check_finite=True):
    factor = matrix_part(y[0], "triangular", lower)
    other = (da - matrix_part(da, "triangular", lower)) * _KEEPS_OTHER
    return cholesky_tangent(da, factor, not lower) + other, np.zeros(())


# cho_solve((c, lower), b) solves (c c^T) x = b (c^T c for an upper c) with the triangle
# of c that lower names, and reads nothing else of c: the cotangent G = -gb x^T of the
# matrix reaches the factor as (G + G^T) c (c (G + G^T) for an upper one), in that
# triangle. (Its first parameter is the pair, spelled like np.stack's list of arrays.)
@adjoint(linalg.cho_solve, shape=UNKNOWN, fresh=True)
def cho_solve(dx, x, arrays, b, overwrite_b=False, check_finite=True):
    factor = matrix_part(arrays[0], "triangular", arrays[1])
    gb = linalg.cho_solve(arrays, dx)
    g = solve_adjoint_lhs(gb, x, factor, b)
    both = g + mT(g)
    dfactor = matrix_part(both @ factor if arrays[1] else factor @ both, "triangular", arrays[1])
    return [dfactor, None], sum_to(gb, b)


@tangent(linalg.cho_solve)
def cho_solve_tangent(darrays, db, x, arrays, b, overwrite_b=False, check_finite=True):
    # with l the lower factor (c, or c^T for an upper c), d(l l^T) = 2 sym(dl l^T)
    # (one expression: the terms of an inactive operand fold away; l^T is c's triangle
    # transposed unless c is upper)
    return linalg.cho_solve(
        arrays,
        db
        - solve_product(
            2
            * matrix_part(
                matrix_part(darrays[0], "triangular", arrays[1], False, not arrays[1])
                @ matrix_part(arrays[0], "triangular", arrays[1], False, arrays[1]),
                "sym",
            ),
            x,
            b,
        ),
    )


# ------------------------------------------------------------------ matrix functions


@adjoint(linalg.expm, shape=lambda q: q.leaf("A"), fresh=True)
def expm(dy, y, A):  # noqa: N803 (scipy's name)
    # the Frechet derivative of expm at A^T in the direction dy: the upper right block
    # of expm([[A^T, dy], [0, A^T]])
    n = np.shape(A)[-1]
    top = np.concatenate([mT(A), dy], axis=-1)
    bottom = np.concatenate([np.zeros_like(top[..., :n]), mT(A)], axis=-1)
    return linalg.expm(np.concatenate([top, bottom], axis=-2))[..., :n, n:]


@tangent(linalg.expm)
def expm_tangent(dA, y, A):  # noqa: N803 (scipy's name)
    n = np.shape(A)[-1]
    top = np.concatenate([A, dA], axis=-1)
    bottom = np.concatenate([np.zeros_like(top[..., :n]), A], axis=-1)
    return linalg.expm(np.concatenate([top, bottom], axis=-2))[..., :n, n:]


_FACTORS = "makes or reads a factorisation in LAPACK's packed form, which no rule reads"
refuse(
    linalg.lu_factor,
    linalg.lu_solve,
    linalg.lu,
    reason=f"{_FACTORS} (no adjoint rule)",
    hint="solve with scipy.linalg.solve(a, b) (or np.linalg.solve), which is differentiated",
)
refuse(
    linalg.logm,
    linalg.sqrtm,
    linalg.funm,
    reason="has no adjoint rule (its derivative solves a Sylvester equation)",
    hint="for a symmetric matrix, write it through its eigendecomposition: "
    "w, v = scipy.linalg.eigh(a); (v * np.log(w)) @ v.T",
)
