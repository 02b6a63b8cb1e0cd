"""What the parts of the normalizer share: the key of the result in the
environment, small predicates and copies of atoms, tables read from the primitive
records."""

from __future__ import annotations

import ast
import builtins
import types

from .. import rules
from ..names import (
    ALIASES,
)
from ..rules import record, registry
from ..rules.free_names import BUILTIN_FREE
from ..rules.template import Unread

# Reductions whose result is a scalar when taken over all axes without keepdims,
# and elementwise primitives that keep a scalar a scalar (from the primitive records).
FULL_REDUCTIONS = registry.spellings_where(lambda p: p.shape == record.REDUCTION)


SCALAR_PRESERVING = registry.spellings_where(lambda p: p.scalar_preserving, on_floats=False)


RESULT = "<result>"  # the env key of the function's result


SAME_STRUCTURE_HINT = (
    "give it values of one structure on both paths: arrays or numbers on both, or "
    "lists, tuples or dicts of the same length and keys"
)


def _canonical(obj: object) -> object:
    if type(obj) is types.MethodType:  # a bound method made anew (d = norm.logpdf)
        obj = registry.METHODS.get((id(obj.__self__), id(obj.__func__)), obj)
    return ALIASES.get(id(obj), obj)


def _is_int_name(node: ast.expr, norm) -> bool:
    """A name holding a value with no derivative (a loop index, a size)."""
    if not isinstance(node, ast.Name) or node.id not in norm.env:
        return False
    atom = norm.env[node.id]
    return isinstance(atom, ast.Name) and atom.id in norm.constants


def _same(a: ast.expr, b: ast.expr) -> bool:
    return ast.dump(a) == ast.dump(b)


def _is_call_of(node: ast.expr, builtin: str, norm) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return False
    if node.func.id in norm.locals:
        return False
    return norm.resolver.lookup(node.func.id) is getattr(builtins, builtin)


def rules_free_names() -> set[str]:
    """The names rule templates read besides their parameters: adcompile's own (known
    without reading their templates) and those of rules registered by users."""
    names: set[str] = set(BUILTIN_FREE)
    for rule in rules.RULES.values():
        if type(rule) is not Unread:  # (an own rule not read yet is in BUILTIN_FREE)
            names |= set(rule.free)
    return names


def _is_const(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _is_name(node: ast.expr, ident: str) -> bool:
    return isinstance(node, ast.Name) and node.id == ident


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return ast.unparse(node)


def _strip(node: ast.expr) -> ast.expr:
    """A fresh copy of a dotted name without source positions."""
    if isinstance(node, ast.Name):
        return ast.Name(id=node.id, ctx=ast.Load())
    if isinstance(node, ast.Attribute):
        return ast.Attribute(value=_strip(node.value), attr=node.attr, ctx=ast.Load())
    raise TypeError(node)


def _copy_atom(atom: ast.expr) -> ast.expr:
    if isinstance(atom, ast.Name):
        return ast.Name(id=atom.id, ctx=ast.Load())
    if isinstance(atom, ast.Constant):
        return ast.Constant(value=atom.value)
    return _strip(atom)
