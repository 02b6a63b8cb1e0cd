"""Normalize: one primitive operation per statement, every name assigned once.

Input: a fenced :class:`~adcompile.frontend.SourceFunction` whose body
``restructure`` has given one way out of each block.
Output: an :class:`~adcompile.ir.Function` (see ``ir.py`` for the contract).

Nested expressions are split into temporaries named after the variable they
help compute (``h = W @ x + b`` becomes ``h_1 = W @ x; h = h_1 + b``),
``x += y`` becomes ``x_1 = x + y``, tuple assignment is resolved by renaming,
and every free name is resolved to the object it means (``names.Resolver``), so
that ``np.exp``, ``numpy.exp`` and ``from numpy import exp`` all find the same rule.

The normalizer is one object made of parts, each a module of this package:

* ``state.py``: its state (the environment, the block being built) and driver;
* ``statements.py`` and ``loops.py``: statement lowering; ``conditions.py``: the
  conditions of ``if`` and ``while``;
* ``expressions.py``, ``displays.py`` (tuple concatenation, dict displays),
  ``calls.py``, ``rewrites.py`` (calls that mean a composition of primitives: ufunc
  methods, ``pow``, ``max`` of several) and ``usercalls.py`` (calls of user functions,
  and of functions held by variables), ``integrate.py`` (``scipy.integrate.odeint`` of a
  user function): expression lowering;
* ``views.py``: iteration over sequences known when compiling (a dict's keys, values
  and items, ``sorted``), unrolled; ``known.py``: what displays hold, ``slice``
  objects, dict methods and ``sum``;
* ``kinds.py``: kind inference (the structure of each value);
* ``hints.py``: the hints of its refusals; ``common.py``: what the parts share.
"""

from __future__ import annotations

from .. import rules
from ..frontend import SourceFunction
from ..ir import Function, NameAllocator
from ..names import (
    ALIASES,
    BINOPS,
    CONSTANT_ATTRIBUTES,
    CONSTANT_BUILTINS,
    METHODS,
    UNARYOPS,
    Resolver,
)
from ..restructure import Restructured
from .calls import Calls
from .common import FULL_REDUCTIONS, SCALAR_PRESERVING, rules_free_names
from .conditions import Conditions
from .displays import Displays
from .effects import Effects
from .expressions import Expressions
from .hints import BUILTIN_HINTS, METHOD_HINTS
from .integrate import Integrate
from .kinds import Kinds, infer_kinds
from .known import Known
from .loops import Loops
from .rewrites import Rewrites
from .state import State
from .statements import Statements
from .usercalls import UserCalls
from .views import Views


class Normalizer(
    Statements,
    Conditions,
    Effects,
    Loops,
    Views,
    Known,
    Expressions,
    Displays,
    Calls,
    Rewrites,
    UserCalls,
    Integrate,
    Kinds,
    State,
):
    """Lowers one function to the IR: statements, expressions and kinds, each part
    in its own module (see above)."""


def allocator(src: SourceFunction) -> NameAllocator:
    """The name allocator of one function's compilation: it never hands out a name
    that the user's code or a rule template uses."""
    return NameAllocator(src.identifiers | set(rules_free_names()) | {src.name, "out"})


def normalize(
    src: SourceFunction,
    structured: Restructured,
    names: NameAllocator,
    resolver: Resolver,
    kinds: tuple | None = None,
    session=None,
    checks: set[tuple[int, int]] | None = None,
) -> Function:
    """Normalize ``src`` whose body ``restructure`` made ``structured``; ``names``
    (from ``allocator``) names temporaries and ``resolver`` (``names.py``) says what
    free names mean; ``kinds`` gives the structure of each argument (leaf or
    container, see ``rules/containers.py``), when it is known; ``session`` (see
    ``link.py``) tells the structure of what called user functions return; ``checks``
    are the places (line, column) of the in-place updates of arrays that may be
    read-only (see ``inplace``), before which the code checks that they can be
    written."""
    rules.load_optional()  # the rules of optional libraries the program has imported
    normalizer = Normalizer(src, structured, names, resolver, kinds, session)
    normalizer.checks = checks or set()
    return normalizer.run()


__all__ = [
    "ALIASES",
    "BINOPS",
    "BUILTIN_HINTS",
    "CONSTANT_ATTRIBUTES",
    "CONSTANT_BUILTINS",
    "FULL_REDUCTIONS",
    "METHODS",
    "METHOD_HINTS",
    "SCALAR_PRESERVING",
    "UNARYOPS",
    "allocator",
    "infer_kinds",
    "normalize",
]
