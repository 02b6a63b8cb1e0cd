"""Adjoints of Python's ``math`` functions, which work on Python floats.

Their derivatives are written with ``math`` too, so a scalar computation stays in
Python floats (a ``math`` call costs a fraction of a numpy call on a float, and
its result keeps later arithmetic on plain floats).
"""

import math

from .registry import adjoint


@adjoint(math.exp)
def exp(dy, y, x):
    return dy * y


@adjoint(math.expm1)
def expm1(dy, y, x):
    return dy * (y + 1.0)


@adjoint(math.log)
def log(dy, y, x):
    return dy / x


@adjoint(math.log1p)
def log1p(dy, y, x):
    return dy / (1.0 + x)


@adjoint(math.sqrt)
def sqrt(dy, y, x):
    return dy / (2.0 * y)


@adjoint(math.sin)
def sin(dy, y, x):
    return dy * math.cos(x)


@adjoint(math.cos)
def cos(dy, y, x):
    return -dy * math.sin(x)


@adjoint(math.tan)
def tan(dy, y, x):
    return dy * (1.0 + y * y)


@adjoint(math.tanh)
def tanh(dy, y, x):
    return dy * (1.0 - y * y)


@adjoint(math.atan)
def atan(dy, y, x):
    return dy / (1.0 + x * x)


@adjoint(math.sinh)
def sinh(dy, y, x):
    return dy * math.cosh(x)


@adjoint(math.cosh)
def cosh(dy, y, x):
    return dy * math.sinh(x)
