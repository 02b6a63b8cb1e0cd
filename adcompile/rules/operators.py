"""Adjoints of Python's arithmetic operators (``+ - * / ** @``, unary ``-``).

The compiler maps each operator to the numpy function that implements it for
arrays (``a * b`` is ``np.multiply``), so one rule serves both spellings.
"""

import math
import operator

import numpy as np

from ..runtime import matmul_adjoint_lhs, matmul_adjoint_rhs
from .record import BROADCAST, MATMUL, UNARY
from .registry import adjoint


@adjoint(np.add, operator.add, shape=BROADCAST, scalar_preserving=True)
def add(dz, z, x, y):
    return dz, dz


@adjoint(np.subtract, operator.sub, shape=BROADCAST, scalar_preserving=True)
def subtract(dz, z, x, y):
    return dz, -dz


@adjoint(np.multiply, operator.mul, shape=BROADCAST, scalar_preserving=True)
def multiply(dz, z, x, y):
    return dz * y, dz * x


@adjoint(np.true_divide, operator.truediv, shape=BROADCAST, scalar_preserving=True)
def true_divide(dz, z, x, y):
    return dz / y, -dz * z / y


@adjoint(np.power, math.pow, shape=BROADCAST, scalar_preserving=True)
def power(dz, z, x, p):
    # d(x ** p)/dx = p * x ** (p - 1), read as 0 where p == 0 (x ** 0 is 1 everywhere,
    # also at x == 0, where 0 * 0 ** -1 would be NaN): the exponent is p - 1 there
    # only where p != 0. d(x ** p)/dp = x ** p * log(x), which is 0 where x == 0
    # (not 0 * -inf).
    return dz * p * x ** (p - (p != 0)), dz * z * np.log(np.where(x == 0, 1.0, x))


@adjoint(np.negative, operator.neg, shape=UNARY)
def negative(dz, z, x):
    return -dz


@adjoint(np.positive, shape=UNARY)
def positive(dz, z, x):
    return dz


@adjoint(np.matmul, operator.matmul, shape=MATMUL)
def matmul(dz, z, x, y):
    return matmul_adjoint_lhs(dz, x, y), matmul_adjoint_rhs(dz, x, y)


# Special cases, used when the operands' shapes are known.


@adjoint(np.matmul, when=lambda x, y: len(x) == 2 and len(y) == 2)
def matmul_matrices(dz, z, x, y):
    return dz @ y.T, x.T @ dz


@adjoint(np.matmul, when=lambda x, y: len(x) == 2 and len(y) == 1)
def matmul_matrix_vector(dz, z, x, y):
    return np.outer(dz, y), x.T @ dz


@adjoint(np.matmul, when=lambda x, y: len(x) == 1 and len(y) == 2)
def matmul_vector_matrix(dz, z, x, y):
    return y @ dz, np.outer(x, dz)


@adjoint(np.mod, shape=BROADCAST)
def mod(dz, z, x, y):
    return dz, -dz * np.floor_divide(x, y)
