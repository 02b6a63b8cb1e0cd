"""Which element reads of a container are the only reads of their elements.

A read ``W = params[k]`` gives the container's adjoint a contribution at ``k``. In
general the reverse sweep adds it there (``add_at``), since another read may have
put something at ``k`` already. When every read of the container is of this form,
each at an int index whose values shape inference knows
(``shapes.Facts.int_values``), and no two reads, nor two executions of one read in
a loop, can reach the same element, each contribution is the first and only one at
its element: the reverse sweep assigns it (``dparams[k] = g``), as a hand-written
backward pass would. So ``params[2 * i]`` and ``params[2 * i + 1]`` in a loop over
``range(n)`` with ``params[-2]`` and ``params[-1]`` after it touch twenty distinct
elements.

An index in a loop is evaluated for each iteration of every loop around the read
(each over a ``range`` of known bounds), from the loop's own int arithmetic; an
index outside loops may have several values, but is read once.
"""

from __future__ import annotations

import ast
import itertools
import operator

from ..analysis import differentiable_operands
from ..ir import Assign, Function, If, Loop, Return, Stmt, names_in
from ..rules import containers
from ..rules.containers import LEAF

MAX_EXECUTIONS = 4096  # iterations of the loops around one read that are enumerated

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def first_slot_reads(fn: Function, facts: dict) -> set[int]:
    """The ids of the element reads ``c[k]`` whose adjoint contribution is always the
    first one at its element of ``c``'s adjoint (see the module's docstring)."""
    values = getattr(facts, "int_values", None)
    if not values:
        return set()
    # containers of known length defined outside every loop: parameters and top-level names
    candidates = {
        x
        for x in [*fn.params, *(s.target for s in fn.body if isinstance(s, Assign))]
        if isinstance(facts.get(x), list) and fn.kinds.get(x, LEAF) != LEAF
    }
    reads: dict[str, list[tuple[Assign, tuple[Loop, ...]]]] = {x: [] for x in candidates}
    spoiled: set[str] = set()

    def visit(block: list[Stmt], loops: tuple[Loop, ...]) -> None:
        for s in block:
            if isinstance(s, Assign):
                ops = differentiable_operands(s)
                used = set().union(*(names_in(e) for e in ops.values())) if ops else set()
                for x in used & candidates:
                    c = s.operands.get("c")
                    if s.prim is containers.GET and isinstance(c, ast.Name) and c.id == x:
                        reads[x].append((s, loops))
                    else:
                        spoiled.add(x)
            elif isinstance(s, If):
                for _, a, b in s.joins:
                    spoiled.update((names_in(a) | names_in(b)) & candidates)
                visit(s.body, loops)
                visit(s.orelse, loops)
            elif isinstance(s, Loop):
                for _, b, e in s.carried:
                    spoiled.update((names_in(b) | names_in(e)) & candidates)
                visit(s.body, (*loops, s))
            elif isinstance(s, Return):
                spoiled.update(names_in(s.value) & candidates)

    visit(fn.body, ())
    out: set[int] = set()
    for x, sites in reads.items():
        if x in spoiled or not sites:
            continue
        n = len(facts[x])
        taken: set[int] = set()
        for stmt, loops in sites:
            slots = _slots(stmt.operands["index"], loops, values, fn.globals, n)
            if slots is None or not taken.isdisjoint(slots):
                break
            taken |= slots
        else:
            out.update(id(stmt) for stmt, _ in sites)
    return out


def _slots(index: ast.expr, loops: tuple[Loop, ...], values: dict, globals_: dict, n: int):
    """The elements (in ``range(n)``) that the read at ``index`` can reach, when each
    execution of it reaches an element no other execution does; else None."""
    if not loops:
        found = _known(index, values, globals_)
        if found is None:
            return None
        return _in_range(found, n)
    ranges = []
    defs: dict[str, ast.expr] = {}
    for loop in loops:
        if loop.target is None or loop.target not in values:
            return None  # a while loop, or a loop over a range of unknown bounds
        ranges.append(sorted(values[loop.target]))
        defs.update(
            {s.target: s.value for s in loop.body if isinstance(s, Assign) and s.prim is None}
        )
    total = 1
    for r in ranges:
        total *= len(r)
    if total > MAX_EXECUTIONS:
        return None
    targets = [loop.target for loop in loops]
    seen: list[int] = []
    for point in itertools.product(*ranges):
        env = dict(zip(targets, point, strict=True))
        v = _evaluate(index, env, defs, values, globals_, 0)
        if v is None:
            return None
        seen.append(v)
    slots = _in_range(frozenset(seen), n)
    if slots is None or len(slots) != len(seen):
        return None  # two executions may read one element
    return slots


def _in_range(found: frozenset[int], n: int) -> set[int] | None:
    if any(not -n <= k < n for k in found):
        return None  # (an IndexError at run time)
    return {k % n for k in found}


def _known(e: ast.expr, values: dict, globals_: dict) -> frozenset[int] | None:
    if isinstance(e, ast.Constant):
        return frozenset((e.value,)) if type(e.value) is int else None
    if isinstance(e, ast.Name):
        if e.id in values:
            return values[e.id]
        value = globals_.get(e.id)
        return frozenset((value,)) if type(value) is int else None
    return None


def _evaluate(e: ast.expr, env: dict, defs: dict, values: dict, globals_: dict, depth: int):
    """The value of the int expression ``e`` in the iteration ``env`` (loop index ->
    value): loop indices, the int arithmetic the loops compute from them, and ints of
    one known value; None when not known."""
    if depth > 64:
        return None
    if isinstance(e, ast.Constant):
        return e.value if type(e.value) is int else None
    if isinstance(e, ast.Name):
        if e.id in env:
            return env[e.id]
        if e.id in defs:
            return _evaluate(defs[e.id], env, defs, values, globals_, depth + 1)
        known = values.get(e.id)
        if known is None and e.id in globals_ and type(globals_[e.id]) is int:
            known = frozenset((globals_[e.id],))
        return next(iter(known)) if known is not None and len(known) == 1 else None
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        v = _evaluate(e.operand, env, defs, values, globals_, depth + 1)
        return None if v is None else -v
    if isinstance(e, ast.BinOp) and type(e.op) in _OPS:
        a = _evaluate(e.left, env, defs, values, globals_, depth + 1)
        b = _evaluate(e.right, env, defs, values, globals_, depth + 1)
        if a is None or b is None:
            return None
        if type(e.op) in (ast.FloorDiv, ast.Mod) and b == 0:
            return None
        return _OPS[type(e.op)](a, b)
    return None
