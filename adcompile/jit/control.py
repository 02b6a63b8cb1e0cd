"""Loops, branches and lists in ``jit/emitter.py``'s code, unrolled while the IR is
written: the shapes are known, so is every loop's length (``range`` of numbers
known when compiling, a list's length, an array's first dimension) and every
branch's condition that depends on them (``if k:`` in a reversed loop). A loop
runs its body once per iteration with its variable a constant; a list (``saved =
[]``, ``saved.append(...)``) is a Python list of the values it holds. The
statements an unrolled loop repeats are compiled once (``statements.py``).

A condition or a loop length known only when the code runs, ``while``, ``break``
and ``continue``, or more than :data:`BUDGET` statements unrolled are outside the
kernel's subset (numba compiles the code)."""

from __future__ import annotations

import ast

from .statements import outline
from .values import Arr, Num, Unsupported

BUDGET = 1500  # statements run while unrolling, at most


def block(em, stmts: list, env: dict) -> None:
    """Write the code of the statements ``stmts``."""
    for stmt in stmts:
        em.unrolled += 1
        if em.unrolled > BUDGET:
            raise Unsupported(f"more than {BUDGET} statements once loops are unrolled")
        if isinstance(stmt, ast.For):
            loop(em, stmt, env)
        elif isinstance(stmt, ast.If):
            test = em.expr(stmt.test, env)
            block(em, stmt.body if truth(test) else stmt.orelse, env)
        elif isinstance(stmt, ast.Pass):
            continue
        elif _appends(stmt, env):
            target = env[stmt.value.func.value.id]
            target.append(em.settle(em.expr(stmt.value.args[0], env)))
        elif _reads_lists(stmt, env) or not outline(em, stmt, env):
            em.statement(stmt, env)


def truth(v) -> bool:
    if isinstance(v, Num) and v.const is not None:
        return bool(v.const)
    if isinstance(v, tuple | list):
        return bool(v)
    raise Unsupported("a condition known only when the code runs")


def loop(em, stmt: ast.For, env: dict) -> None:
    if stmt.orelse:
        raise Unsupported("a for loop with an else")
    if any(isinstance(n, ast.Break | ast.Continue) for n in ast.walk(stmt)):
        raise Unsupported("break or continue")
    for item in items(em, stmt.iter, env):
        bind(stmt.target, item, env)
        block(em, stmt.body, env)


def items(em, node: ast.expr, env: dict) -> list:
    """The values a loop over ``node`` takes, in order."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name == "range":
            bounds = [_integer(em.expr(a, env)) for a in node.args]
            return [Num(const=i) for i in range(*bounds)]
        if name in ("enumerate", "zip", "reversed") and name not in env:
            seqs = [items(em, a, env) for a in node.args]
            if name == "enumerate" and len(seqs) == 1:
                return [(Num(const=i), v) for i, v in enumerate(seqs[0])]
            if name == "zip":
                return [tuple(t) for t in zip(*seqs, strict=False)]
            if name == "reversed" and len(seqs) == 1:
                return seqs[0][::-1]
    v = em.expr(node, env)
    if isinstance(v, tuple | list):
        return list(v)
    if isinstance(v, Arr) and v.ndim >= 1:
        step, shape, strides = v.strides[0], v.shape[1:], v.strides[1:]
        return [Arr(v.buf, v.offset + i * step, shape, strides) for i in range(v.shape[0])]
    raise Unsupported("a loop over a value known only when the code runs")


def bind(target: ast.expr, value, env: dict) -> None:
    """Assign ``value`` to ``target`` (a name, or a tuple of targets unpacked)."""
    if isinstance(target, ast.Name):
        env[target.id] = value
        return
    if isinstance(target, ast.Tuple | ast.List) and isinstance(value, tuple | list):
        if len(target.elts) != len(value):
            raise Unsupported("unpacking another number of values")
        for t, v in zip(target.elts, value, strict=True):
            bind(t, v, env)
        return
    raise Unsupported("an assignment to a target of this kind")


def _integer(v) -> int:
    if isinstance(v, Num) and type(v.const) is int:
        return v.const
    raise Unsupported("a loop whose length is known only when the code runs")


def _appends(stmt: ast.stmt, env: dict) -> bool:
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "append"
        and isinstance(call.func.value, ast.Name)
        and isinstance(env.get(call.func.value.id), list)
        and len(call.args) == 1
        and not call.keywords
    )


def _reads_lists(stmt: ast.stmt, env: dict) -> bool:
    """Whether ``stmt`` reads a list (statements.py describes arrays and numbers)."""
    return any(isinstance(n, ast.Name) and isinstance(env.get(n.id), list) for n in ast.walk(stmt))
