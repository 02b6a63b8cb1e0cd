"""Primitive records and their adjoint rules, one module per family. Importing this
package fills the registry (see record.py for what a record holds)."""

from . import elementwise, fft, linalg, operators, reductions, shapes  # noqa: F401
from .record import Primitive
from .registry import (
    NONDIFF,
    RULES,
    Rule,
    adjoint,
    instantiate,
    is_nondiff,
    lookup,
    primitives,
    record_of,
)

__all__ = [
    "NONDIFF",
    "RULES",
    "Primitive",
    "Rule",
    "adjoint",
    "instantiate",
    "is_nondiff",
    "lookup",
    "primitives",
    "record_of",
]
