"""Adjoints of tensor products and contractions: einsum, tensordot, inner, kron, cross.

Each product is linear in each operand, so the adjoint with respect to one operand
is a product of the cotangent with the others (see ``runtime.einsum_adjoint``).
"""

import numpy as np

from ..runtime import (
    einsum_adjoint,
    einsum_sublists,
    einsum_term,
    inner_adjoint,
    kron_adjoint,
    tensordot_adjoint,
    uncross,
)
from ..runtime.contractions import _einsum_labels
from .record import UNKNOWN
from .registry import adjoint
from .tangents import tangent


def _einsum_result_shape(subscripts: str, shapes: list) -> tuple | None:
    """The shape of ``np.einsum(subscripts, *operands)`` for operands of these shapes,
    or None when numpy would refuse them (it then says why when the program runs)."""
    try:
        labels, output = _einsum_labels(subscripts, shapes)
    except (TypeError, ValueError):
        return None
    size: dict = {}
    for term, shape in zip(labels, shapes, strict=False):
        if len(term) != len(shape):
            return None
        for c, n in zip(term, shape, strict=True):
            if size.get(c, 1) not in (1, n) and n != 1:
                return None
            size[c] = max(size.get(c, 1), n)
    if any(c not in size for c in output):
        return None
    return tuple(size[c] for c in output)


def _einsum_shape(q):
    subscripts = q.const("subscripts")
    shapes = [q.leaf(p) for p in "abcdef" if p in q.ops and q.const(p) is not None]
    if not isinstance(subscripts, str) or None in shapes:
        return None
    return _einsum_result_shape(subscripts, shapes)


# (not fresh: with one operand, numpy returns a view of it where it can, np.einsum("ij->ji", x))
@adjoint(np.einsum, shape=_einsum_shape, fresh=False)
def einsum(dy, y, subscripts, a, b=None, c=None, d=None, e=None, f=None, optimize=False):
    # up to six operands; the subscripts must be a string (an array there is the
    # interleaved form, which einsum_sublists refuses)
    return (
        einsum_sublists(subscripts),
        einsum_adjoint(dy, 0, subscripts, a, b, c, d, e, f),
        einsum_adjoint(dy, 1, subscripts, a, b, c, d, e, f),
        einsum_adjoint(dy, 2, subscripts, a, b, c, d, e, f),
        einsum_adjoint(dy, 3, subscripts, a, b, c, d, e, f),
        einsum_adjoint(dy, 4, subscripts, a, b, c, d, e, f),
        einsum_adjoint(dy, 5, subscripts, a, b, c, d, e, f),
    )


# Each product is linear in each operand: its tangent is the sum of the product with
# one operand replaced by that operand's tangent. An array as the subscripts (the
# interleaved form) is refused, as by the adjoint.
@tangent(np.einsum)
def einsum_tangent(
    dsubscripts,
    da,
    db,
    dc,
    dd,
    de,
    df,
    y,
    subscripts,
    a,
    b=None,
    c=None,
    d=None,
    e=None,
    f=None,
    optimize=False,
):
    return (
        einsum_sublists(dsubscripts)
        + einsum_term(0, da, subscripts, a, b, c, d, e, f)
        + einsum_term(1, db, subscripts, a, b, c, d, e, f)
        + einsum_term(2, dc, subscripts, a, b, c, d, e, f)
        + einsum_term(3, dd, subscripts, a, b, c, d, e, f)
        + einsum_term(4, de, subscripts, a, b, c, d, e, f)
        + einsum_term(5, df, subscripts, a, b, c, d, e, f)
    )


@adjoint(np.tensordot, shape=UNKNOWN, fresh=True)
def tensordot(dy, y, a, b, axes=2):
    return tensordot_adjoint(dy, 0, a, b, axes), tensordot_adjoint(dy, 1, a, b, axes)


@tangent(np.tensordot)
def tensordot_tangent(da, db, y, a, b, axes=2):
    return np.tensordot(da, b, axes) + np.tensordot(a, db, axes)


@adjoint(np.inner, shape=UNKNOWN, fresh=True)
def inner(dy, y, a, b):
    return inner_adjoint(dy, 0, a, b), inner_adjoint(dy, 1, a, b)


@tangent(np.inner)
def inner_tangent(da, db, y, a, b):
    return np.inner(da, b) + np.inner(a, db)


@adjoint(np.kron, shape=UNKNOWN, fresh=True)
def kron(dy, y, a, b):
    return kron_adjoint(dy, 0, a, b), kron_adjoint(dy, 1, a, b)


@tangent(np.kron)
def kron_tangent(da, db, y, a, b):
    return np.kron(da, b) + np.kron(a, db)


@adjoint(np.cross, shape=UNKNOWN, fresh=True)
def cross(dy, y, a, b, axisa=-1, axisb=-1, axisc=-1):
    return uncross(dy, 0, a, b, axisa, axisb, axisc), uncross(dy, 1, a, b, axisa, axisb, axisc)


@tangent(np.cross)
def cross_tangent(da, db, y, a, b, axisa=-1, axisb=-1, axisc=-1):
    return np.cross(da, b, axisa, axisb, axisc) + np.cross(a, db, axisa, axisb, axisc)


@adjoint(np.vdot, shape=lambda q: (), fresh=True)
def vdot(dy, y, a, b):
    # the sum of the flattened operands' products (complex operands, which np.vdot
    # conjugates, are refused: the rule is for real ones)
    return dy * np.reshape(b, np.shape(a)), dy * np.reshape(a, np.shape(b))


@tangent(np.vdot)
def vdot_tangent(da, db, y, a, b):
    return np.vdot(da, b) + np.vdot(a, db)
