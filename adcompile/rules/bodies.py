"""Runtime helpers differentiated through their definitions, written in the accepted
language.

A second derivative differentiates generated code again (``regenerate.py``); a runtime
helper that code calls needs rules of its own (``runtime_rules.py``), or is read like
a function of the user's: this module defines such helpers again, each in the part of
Python adcompile differentiates and over numpy functions that have rules, so their
derivatives (forward mode for hvp, reverse mode for ``grad(grad(f))``) follow from
those rules. :func:`defines` registers a definition for a helper; generated code that
is read back for differentiation calls the definition instead of the helper (same
values), and the helper's own, faster body keeps running in first-order code.

What a definition cannot compute from arrays (subscripts, axes, shapes, masks) comes
from a ``*_plan`` helper of ``adcompile.runtime``, which has no derivative.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import runtime
from ..runtime import sum_to

# id(helper) -> its definition here
DEFINITIONS: dict[int, Callable] = {}
_KEEP: list = []


def defines(helper: Callable) -> Callable[[Callable], Callable]:
    """Register the decorated function as the definition of ``helper`` for
    differentiating generated code again."""

    def register(fn: Callable) -> Callable:
        DEFINITIONS[id(helper)] = fn
        _KEEP.append(helper)
        return fn

    return register


def definition(helper: object) -> Callable | None:
    """The definition of the runtime helper ``helper`` (None: it has none)."""
    return DEFINITIONS.get(id(helper))


def is_definition(fn: object) -> bool:
    """Whether ``fn`` is defined here: read like a function of the user's."""
    return getattr(fn, "__module__", None) == __name__


# ------------------------------------------------------------ linear algebra


@defines(runtime.mT)
def mT(x):  # noqa: N802 (numpy's name)
    return np.swapaxes(x, -1, -2)


@defines(runtime.solve_transposed)
def solve_transposed(a, dx, b):
    if np.ndim(b) == 1:
        return np.linalg.solve(mT(a), dx[..., None])[..., 0]
    return np.linalg.solve(mT(a), dx)


@defines(runtime.solve_adjoint_lhs)
def solve_adjoint_lhs(g, x, a, b):
    if np.ndim(b) == 1:
        return sum_to(-(g[..., :, None] * x[..., None, :]), a)
    return sum_to(-(g @ mT(x)), a)
