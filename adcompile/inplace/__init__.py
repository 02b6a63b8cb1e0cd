"""Which ``x += ...`` adcompile may differentiate: who owns each array.

adcompile never writes into an array: ``x += y`` becomes ``x = x + y``. Python
writes into ``x``'s memory instead. The two are the same computation only when
nothing else can see that memory: no other name, no container, no view taken of
``x`` (or that ``x`` is of something), no caller. This pass walks the function's
source in order and knows, before each statement, which variables *own* their
array: made by this function with arithmetic or a numpy call that returns a new
array, and not handed to anything since. ``x op= ...`` on any other variable is
refused with a located error, whatever happens afterwards: a gradient is either
right or an error.

A parameter of the function being differentiated counts as owned (adcompile
never writes into its arguments: ``x += 1`` on one makes a new array, where
Python would change the caller's array too); a parameter of a helper it calls
does not (the caller may read that array again). After an ``if`` or a loop a
variable is owned only if it is on every path (for a loop: on entry and after
every iteration).

Element and slice assignment (``x[i] = v``, ``x[i] += v``) writes into ``x``'s
memory, in Python and in the generated code: it is accepted only on an array the
function owns and nothing read later shares, and refused on an argument (whose
caller would see the change), a global or a helper's parameter.

A variable that certainly holds a number never shares memory (``k += 1`` rebinds
it). An update of a variable that certainly holds a read-only view
(``np.broadcast_to``, ``np.diagonal``) is refused: Python's fails on every call. An
array that may be read-only (``np.diag`` of a 2-d operand, ``np.imag`` of a real
one, a view of either, what a helper returns) does not make an update refused: Python
fails on it when it cannot be written, so the generated code checks, before the
update, that the array can be written, and raises Python's ValueError when it
cannot (``check_writable``); when it can, the update is of an array nothing else
sees. The functions whose result is a new array or a read-only one
(``fresh.SEALED``) make no variable share the written memory with their operand.

The same walk tracks the identity of lists, for ``xs.append(v)``: which objects
each variable may be bound to and which objects each object may hold.

The modules, each with one job:

- ``fresh``: which calls always return a new array (``FRESH_OTHERS``,
  ``FRESH_FUNCTIONS``, ``FRESH_METHODS``);
- ``values``: the model (``Value``, ``State``: sharing, holding, identity, joins);
- ``expressions``: what an expression evaluates to, and the objects it may be;
- ``reads``: which names are read after a statement;
- ``updates``: the checks of ``x op= ...`` and ``x[i] = ...`` (a part of the walk);
- ``lists``: the checks of list updates, and the renewal of objects in loops;
- ``walk``: the walk over statements, branches and loops (``Ownership``), and the
  summary of a helper's returns for its callers (``values.Returned``).
"""

from __future__ import annotations

from ..frontend import SourceFunction
from ..names import Resolver
from .fresh import FRESH_FUNCTIONS, FRESH_METHODS, FRESH_OTHERS
from .walk import Ownership


def check(
    src: SourceFunction,
    *,
    helper: bool,
    summaries: dict | None = None,
    resolver: Resolver | None = None,
    kinds: tuple | None = None,
    arg_shapes: tuple | None = None,
) -> Ownership:
    """Raise a located AdCompileError at the first ``x op= ...`` in ``src`` whose
    array ``x`` does not own, or the first ``xs.append(...)`` that something else
    would see. Returns the walk, whose ``updates`` are, for the function being
    differentiated, the parameters whose argument Python's ``x op= ...`` would write
    into: parameter -> (location, operator) of the first such update (the generated
    code writes into no argument, which is what Python computes as long as no other
    argument shares that memory: the call checks it); and whose ``checks`` are the
    places (line, column) of the updates of arrays that may be read-only, whose
    writability the generated code checks before it (Python's ValueError)."""
    resolver = resolver or Resolver(src)
    walk = Ownership(
        src,
        resolver.find,
        helper=helper,
        summaries=summaries,
        kinds=kinds,
        arg_shapes=arg_shapes,
    )
    walk.run()
    return walk


__all__ = ["check", "FRESH_FUNCTIONS", "FRESH_METHODS", "FRESH_OTHERS", "Ownership"]
