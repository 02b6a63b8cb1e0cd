"""Adjoint rules, one module per family. Importing this package fills the registry."""

from . import elementwise, linalg, operators, reductions, scalar, shapes  # noqa: F401
from .registry import NONDIFF, RULES, Rule, adjoint, instantiate, is_nondiff, lookup

__all__ = ["NONDIFF", "RULES", "Rule", "adjoint", "instantiate", "is_nondiff", "lookup"]
