"""The normalized program: the contract between ``normalize`` and the later stages.

After normalization a function body is a list of statements of these kinds:

* :class:`Assign` -- ``target = <one primitive over atoms>``. Every assignment
  defines a new name (straight-line code is in SSA form), so the reverse sweep
  can read any intermediate as an ordinary local variable.
* :class:`Return` -- ``return <atom>``, last.

An *atom* is an ``ast.Name`` (a local or a global), an ``ast.Constant``, or an
attribute of a module (``np.pi``). Operands of a primitive are atoms, an index
expression built from atoms (for subscripts), or a tuple of atoms (for
``np.concatenate``/``np.stack``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .errors import Loc
from .frontend import SourceFunction


@dataclass
class Assign:
    target: str
    value: ast.expr  # the forward expression, as emitted
    prim: object | None  # whose rule differentiates it; None: the result is constant
    operands: dict[str, ast.expr]  # rule parameter -> operand
    loc: Loc
    scalar: bool = False  # the result is provably a scalar

    def reads(self) -> set[str]:
        return names_in(self.value)


@dataclass
class Return:
    value: ast.expr
    loc: Loc


Stmt = Assign | Return


@dataclass
class Function:
    name: str
    params: list[str]
    body: list[Stmt]
    globals: dict[str, object]  # free names of the forward code -> objects
    source: SourceFunction
    names: NameAllocator
    defaults: dict[str, object] = field(default_factory=dict)
    scalars: set[str] = field(default_factory=set)  # names provably holding a scalar

    def is_scalar(self, expr: ast.expr) -> bool:
        if isinstance(expr, ast.Constant):
            return isinstance(expr.value, int | float | complex | bool)
        if isinstance(expr, ast.Name):
            if expr.id in self.globals:
                return isinstance(self.globals[expr.id], int | float | complex)
            return expr.id in self.scalars
        return False


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class NameAllocator:
    """Hands out readable, unique, deterministic names derived from the user's own."""

    def __init__(self, reserved: set[str]) -> None:
        self.reserved = set(reserved)
        self.claimed: set[str] = set()

    def claim(self, name: str) -> str:
        """The user's own ``name`` if it is still free, else a fresh variant of it."""
        if name not in self.claimed:
            self.claimed.add(name)
            return name
        return self.fresh(name)

    def fresh(self, base: str) -> str:
        base = base.rstrip("_") or "t"
        if base not in self.reserved and base not in self.claimed:
            self.claimed.add(base)
            return base
        i = 1
        while f"{base}_{i}" in self.reserved or f"{base}_{i}" in self.claimed:
            i += 1
        name = f"{base}_{i}"
        self.claimed.add(name)
        return name

    def is_free(self, name: str) -> bool:
        return name not in self.reserved and name not in self.claimed
