"""Which calls always return a new array (or an immutable scalar): what a variable
bound to their result owns. ``FRESH_OTHERS`` lists the functions that have no
primitive record; a record says it itself (``fresh=``, see rules/)."""

from __future__ import annotations

import ast
import math
import types
from collections.abc import Callable

import numpy as np

from ..names import METHODS
from ..rules import registry
from ..rules.record import DROPS, MAKES


class _FreshFunctions:
    """The ids of the functions that always return a new array: those whose primitive
    record says so, and ``others`` (functions with no record)."""

    def __init__(self, others: set) -> None:
        self.records = registry.spellings_where(lambda p: p.fresh)
        self.others = {id(f) for f in others}

    def __contains__(self, key: int) -> bool:
        return key in self.others or key in self.records


class _FreshMethods:
    """The names of the array methods that always return a new array."""

    def __init__(self, others: set[str]) -> None:
        self.others = others

    def __contains__(self, name: str) -> bool:
        entry = METHODS.get(name)
        return name in self.others or (entry is not None and id(entry[0]) in FRESH_FUNCTIONS)


# Functions whose result is always a new array (or an immutable scalar): the
# primitives whose record says so (rules/), the functions below that have no record,
# and every ufunc. Any other call may return (a view of) one of its arguments.
FRESH_OTHERS = {
    float,
    int,
    bool,
    len,
    round,
    sum,
    range,
    isinstance,
}
FRESH_FUNCTIONS = _FreshFunctions(FRESH_OTHERS)
# methods of arrays whose result is a new array: those that mean a primitive whose
# record says so (METHODS), and these (x.reshape(...) and the like are views)
FRESH_METHODS = _FreshMethods({"copy", "astype", "flatten"})


def makes_new(obj: object, node: ast.Call) -> bool:
    """Whether the call ``node`` of the function ``obj`` (not a helper) always returns
    a new array or scalar: a fresh function, a ufunc or a function of ``math``, not
    given ``out=``; or a conversion to an array (``np.asarray``) of a list, tuple or
    number written in the call, which is copied into a new array."""
    return (
        id(obj) in FRESH_FUNCTIONS
        or isinstance(obj, np.ufunc)
        or _contracts_several(obj, node)
        or (isinstance(obj, types.BuiltinFunctionType) and obj in vars(math).values())
        or (converted(obj, node) is not None and _written_out(converted(obj, node)))
    ) and not any(k.arg == "out" for k in node.keywords)


def _contracts_several(obj: object, node: ast.Call) -> bool:
    """Whether ``node`` is ``np.einsum`` of two operands or more, which numpy computes
    into a new array (of one operand, it may return a view of it: ``"ij->ji"``)."""
    return (
        obj is np.einsum
        and len(node.args) >= 3
        and not any(isinstance(a, ast.Starred) for a in node.args)
    )


def converted(obj: object, node: ast.Call) -> ast.expr | None:
    """The operand that the call ``node`` of ``obj`` converts to an array, when ``obj``
    is a conversion (its record says ``converts``): the result is that operand itself
    (or a view of it) when it is an array already, and a new array otherwise."""
    record = registry.record_of(obj)
    if record is None or not record.converts:
        return None
    if node.args and not isinstance(node.args[0], ast.Starred):
        return node.args[0]
    return next((k.value for k in node.keywords if k.arg == "a"), None)


def _written_out(node: ast.expr) -> bool:
    """A list, tuple or number written in the source: never an array already."""
    return isinstance(node, ast.List | ast.Tuple | ast.ListComp | ast.Constant)


def read_only(obj: object, operand: ast.expr | None, resolve: Callable) -> bool:
    """Whether a call of ``obj`` whose first operand is ``operand`` may return an
    array that cannot be written, or a view of its operand that can: ``np.imag`` of an
    operand that may be real (a read-only array of zeros). ``np.imag`` of an operand
    known to be complex (computed from a transform's result, see rules/fft.py) is a
    view that can be written."""
    return obj is np.imag and not (operand is not None and is_complex(operand, resolve))


# Functions whose result is a new array or one that cannot be written, never a view
# that writes through to its operand: np.diag (a new array of a 1-d operand, a
# read-only view of a 2-d one), np.diagonal and np.broadcast_to (read-only views).
SEALED = (np.diag, np.diagonal, np.broadcast_to)


def sealed(obj: object) -> bool:
    """Whether a call of ``obj`` returns a new array or a read-only one (``SEALED``)."""
    return any(obj is f for f in SEALED)


def always_read_only(obj: object) -> bool:
    """Whether a call of ``obj`` always returns a read-only view: np.diagonal,
    np.broadcast_to (np.diag makes a new array of a 1-d operand)."""
    return obj is np.diagonal or obj is np.broadcast_to


def is_complex(node: ast.expr, resolve: Callable) -> bool:
    """Whether the expression ``node`` is complex whatever its operands' values are:
    a transform's result (its record ``MAKES`` complex values), or arithmetic and
    the functions recorded as right on complex operands that keep complexness
    (``PASSES``) of one. A variable is not looked into
    (not known to be complex)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, complex)
    if isinstance(node, ast.BinOp):
        return is_complex(node.left, resolve) or is_complex(node.right, resolve)
    if isinstance(node, ast.UnaryOp):
        return is_complex(node.operand, resolve)
    if isinstance(node, ast.Call):
        record = registry.record_of(resolve(node.func))
        if record is not None and record.on_complex == MAKES:
            return True
        if record is None or not record.complex_ok or record.on_complex == DROPS:
            return False  # (only records checked on complex operands pass it on)
        operands = [*node.args, *(k.value for k in node.keywords)]
        return any(is_complex(a, resolve) for a in operands)
    return False
