"""The values ``jit/emitter.py`` computes with while it writes a kernel's LLVM IR
(arrays as views of buffers, numbers, elementwise expressions not yet computed),
the LLVM types it uses, and the operators and functions it knows."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from llvmlite import ir

DOUBLE = ir.DoubleType()
I64 = ir.IntType(64)
I32 = ir.IntType(32)
I8 = ir.IntType(8)
I8P = I8.as_pointer()
DP = DOUBLE.as_pointer()
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

F8 = np.dtype(np.float64)


class Unsupported(Exception):
    """Code this compiler does not take (numba compiles it)."""


# ------------------------------------------------------------------ values


@dataclass(eq=False)
class Buffer:
    """Memory an array lives in: an argument (``"in"``, its position among the
    kernel's array parameters), a returned array (``"out"``), or a part of the arena
    (``"arena"``, at ``offset`` bytes)."""

    kind: str
    index: int
    size: int  # elements
    dtype: str = "f8"  # "f8" or "b1"


@dataclass(frozen=True, eq=False)
class Arr:
    """An array: a view of a buffer (offset and strides in elements)."""

    buf: Buffer
    offset: int
    shape: tuple
    strides: tuple

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def whole(self) -> bool:
        """Whether this is its buffer, all of it, in C order."""
        whole = self.offset == 0 and self.size == self.buf.size
        return whole and self.strides == c_strides(self.shape)


@dataclass(frozen=True, eq=False)
class Num:
    """A number: a compile-time constant (``const``), or an LLVM value (``value``,
    a double, or an i64 when ``integer``)."""

    const: object = None
    value: object = None
    integer: bool = False


@dataclass(eq=False)
class Ew:
    """An elementwise expression of ``shape`` not yet computed: ``gen(index)`` emits
    the code of one element (a double, or an i1 when ``boolean``) at the LLVM index
    values ``index`` (one per dimension); ``reads`` are the arrays it reads."""

    shape: tuple
    gen: Callable
    reads: list = field(default_factory=list)
    boolean: bool = False


def c_strides(shape: tuple) -> tuple:
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= n
    return tuple(reversed(out))


def broadcast(*shapes: tuple) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise Unsupported(f"shapes {shapes} do not broadcast") from None


# ------------------------------------------------------------------ the compiler

# the elementwise functions fused into loops: numpy's name -> the C library's
LIBM = {
    "sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "log": "log",
    "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "arctan": "atan", "atan": "atan",
    "expm1": "expm1", "log1p": "log1p", "log2": "log2", "log10": "log10", "exp2": "exp2",
    "arcsin": "asin", "asin": "asin", "arccos": "acos", "acos": "acos",
    "arcsinh": "asinh", "asinh": "asinh", "arccosh": "acosh", "acosh": "acosh",
    "arctanh": "atanh", "atanh": "atanh", "erf": "erf", "erfc": "erfc",
}  # fmt: skip
ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
PYOPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "**": operator.pow, "//": operator.floordiv, "%": operator.mod,
}  # fmt: skip
COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
FCMP = {"<": "olt", "<=": "ole", ">": "ogt", ">=": "oge", "==": "oeq", "!=": "une"}
REDUCERS = ("sum", "mean", "max", "min")
