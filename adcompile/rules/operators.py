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
from .tangents import tangent


@adjoint(np.add, operator.add, shape=BROADCAST, scalar_preserving=True)
def add(dz, z, x, y):
    return dz, dz


@tangent(np.add)
def add_tangent(dx, dy, z, x, y):
    return dx + dy


@adjoint(np.subtract, operator.sub, shape=BROADCAST, scalar_preserving=True)
def subtract(dz, z, x, y):
    return dz, -dz


@tangent(np.subtract)
def subtract_tangent(dx, dy, z, x, y):
    return dx - dy


@adjoint(np.multiply, operator.mul, shape=BROADCAST, scalar_preserving=True)
def multiply(dz, z, x, y):
    return dz * y, dz * x


@tangent(np.multiply)
def multiply_tangent(dx, dy, z, x, y):
    return dx * y + x * dy


@adjoint(np.true_divide, operator.truediv, shape=BROADCAST, scalar_preserving=True)
def true_divide(dz, z, x, y):
    return dz / y, -dz * z / y


@tangent(np.true_divide)
def true_divide_tangent(dx, dy, z, x, y):
    return (dx - z * dy) / y


@adjoint(np.power, math.pow, shape=BROADCAST, scalar_preserving=True)
def power(dz, z, x, p):
    # d(x ** p)/dx = p * x ** (p - 1), read as 0 where p == 0 (x ** 0 is 1 everywhere,
    # also at x == 0, where 0 * 0 ** -1 would be NaN): the exponent is p - 1 there
    # only where p != 0. d(x ** p)/dp = x ** p * log(x), which is 0 where x == 0
    # (not 0 * -inf).
    return dz * p * x ** (p - (p != 0)), dz * z * np.log(np.where(x == 0, 1.0, x))


@tangent(np.power)
def power_tangent(dx, dp, z, x, p):
    # the same readings at p == 0 and x == 0 as the adjoint's
    return dx * p * x ** (p - (p != 0)) + dp * z * np.log(np.where(x == 0, 1.0, x))


@adjoint(np.negative, operator.neg, shape=UNARY)
def negative(dz, z, x):
    return -dz


@tangent(np.negative)
def negative_tangent(dx, z, x):
    return -dx


@adjoint(np.positive, shape=UNARY)
def positive(dz, z, x):
    return dz


@tangent(np.positive)
def positive_tangent(dx, z, x):
    return dx


@adjoint(np.matmul, operator.matmul, shape=MATMUL)
def matmul(dz, z, x, y):
    return matmul_adjoint_lhs(dz, x, y), matmul_adjoint_rhs(dz, x, y)


@tangent(np.matmul)
def matmul_tangent(dx, dy, z, x, y):
    return dx @ y + x @ dy


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


@tangent(np.mod)
def mod_tangent(dx, dy, z, x, y):
    return dx - dy * np.floor_divide(x, y)
