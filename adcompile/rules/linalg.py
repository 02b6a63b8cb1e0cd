"""Adjoints of products and linear algebra."""

import numpy as np

from ..runtime import dot_adjoint_lhs, dot_adjoint_rhs
from .record import DOT, UNKNOWN
from .registry import adjoint


@adjoint(np.dot, shape=DOT)
def dot(dz, z, a, b):
    return dot_adjoint_lhs(dz, a, b), dot_adjoint_rhs(dz, a, b)


@adjoint(np.outer, shape=UNKNOWN, fresh=True)
def outer(dz, z, a, b):
    return np.reshape(dz @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ dz, np.shape(b))
