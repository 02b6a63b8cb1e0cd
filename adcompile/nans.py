"""NaN hunting: ``grad(f, debug_nans=True)``.

A late pass over the finished generated text. In the reverse sweep, each block
of statements that the comment ``# line N: ...`` heads (the adjoint of line N of
the user's function) is followed by a call that checks the values the block
assigned. When one is not finite although every value the block read was, the
call raises FloatingPointError naming the user's file and line, the variable,
and the values the block read. Code compiled without ``debug_nans`` is not
touched: the check costs nothing unless asked for.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

import numpy as np

from .frontend import _short

_LINE = re.compile(r"^\s*# line (\d+): (.*)$")
_REVERSE = re.compile(r"^\s*# reverse sweep")


@dataclass
class Block:
    """One checked block: where it comes from, what it assigns and what it reads."""

    filename: str
    lineno: int
    line: str
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]  # read, and not assigned, by the block
    updated: tuple[str, ...] = ()  # read, then assigned
    before: str | None = None  # the local that says whether ``updated`` were finite


def instrument(text: str, filename: str, checker: str) -> tuple[str, list[Block]]:
    """``text`` with a call ``checker(i, locals())`` after each block of the reverse
    sweeps of its functions, and the blocks, by ``i``."""
    lines = text.split("\n")
    comments = {i + 1: m for i, line in enumerate(lines) if (m := _LINE.match(line))}
    reverse_marks = [i + 1 for i, line in enumerate(lines) if _REVERSE.match(line)]
    tree = ast.parse(text)
    blocks: list[Block] = []
    inserts: list[tuple[int, str]] = []  # (insert before this 0-based line index, text)

    def block_of(stmt: ast.stmt, start: int) -> int | None:
        found = [n for n in comments if start < n < stmt.lineno]
        return max(found) if found else None

    def visit(body: list[ast.stmt], start: int) -> None:
        run: list[ast.stmt] = []
        run_block = None
        for stmt in [*body, None]:
            if stmt is not None and stmt.lineno <= start:
                continue
            simple = stmt is not None and not isinstance(
                stmt, ast.For | ast.While | ast.If | ast.With | ast.Try | ast.Return
            )
            here = block_of(stmt, start) if stmt is not None else None
            if run and (not simple or here != run_block):
                emit(run, run_block)
                run = []
            if stmt is None:
                break
            if simple and here is not None:
                if not run:
                    run_block = here
                run.append(stmt)
            for field in ("body", "orelse", "handlers", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner, start)

    def emit(run: list[ast.stmt], lineno_comment: int | None) -> None:
        if lineno_comment is None:
            return
        assigned: list[str] = []
        read: list[str] = []
        for stmt in run:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    if node.id not in assigned and node.id not in read:
                        read.append(node.id)
            if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                if stmt.target.id not in read and stmt.target.id not in assigned:
                    read.append(stmt.target.id)
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    if node.id not in assigned:
                        assigned.append(node.id)
        if not assigned:
            return
        found = comments[lineno_comment]
        index = len(blocks)
        # names the block reads, then assigns (dh += ...): their values before the block
        # are gone after it, so a line before the block records whether they were finite
        updated = tuple(n for n in read if n in assigned)
        before = f"{checker}_{index}" if updated else None
        blocks.append(
            Block(
                filename,
                int(found.group(1)),
                found.group(2),
                tuple(assigned),
                tuple(n for n in read if n not in assigned),
                updated,
                before,
            )
        )
        indent = " " * run[0].col_offset
        if before:
            names = ", ".join(updated)
            inserts.append((run[0].lineno - 1, f"{indent}{before} = {checker}.finite({names},)"))
        inserts.append((run[-1].end_lineno, f"{indent}{checker}({index}, locals())"))

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            marks = [m for m in reverse_marks if node.lineno < m <= node.end_lineno]
            if marks:
                visit(node.body, marks[0])
    for at, line in sorted(inserts, reverse=True):
        lines.insert(at, line)
    return "\n".join(lines), blocks


def make_checker(blocks: list[Block]):
    """The function the instrumented code calls after each block."""

    def check_adjoints(index: int, values: dict) -> None:
        block = blocks[index]
        bad = [n for n in block.outputs if n in values and not _finite(values[n])]
        if not bad:
            return
        if block.before is not None and not values.get(block.before, True):
            return  # a value the block updated was not finite before it
        inputs = [(n, values[n]) for n in block.inputs if n in values]
        if not all(_finite(v) for _, v in inputs):
            return  # not where the non-finite value first appeared
        raise FloatingPointError(_message(block, bad[0], values[bad[0]], inputs))

    check_adjoints.finite = lambda *values: all(_finite(v) for v in values)
    check_adjoints.debug_nans = True  # not the user's: export and .source's header skip it
    return check_adjoints


def _finite(value: object) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.isfinite(value).all())
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, np.floating | np.complexfloating | complex):
        return bool(np.isfinite(value))
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _variable(name: str) -> str:
    """``dh_5 (the adjoint of h)`` for a generated adjoint's name."""
    if name.startswith("d") and len(name) > 1:
        base = re.sub(r"(_part)?(_\d+)*$", "", name[1:])
        if base.isidentifier():
            return f"{name} (an adjoint of {base})"
    return name


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray) and value.size > 6:
        finite = value[np.isfinite(value)] if value.dtype.kind in "fc" else value
        bad = value.size - finite.size
        text = f"array of shape {value.shape}, {value.dtype}"
        if finite.size and value.dtype.kind in "biuf":
            text += f", from {finite.min():.6g} to {finite.max():.6g}"
        if bad:
            text += f", {bad} not finite"
        return text
    if isinstance(value, list | tuple):
        return f"{type(value).__name__} of {len(value)}"
    return (
        np.array2string(np.asarray(value), precision=6, threshold=6)
        if isinstance(value, np.ndarray)
        else repr(value)
    )


def _message(block: Block, name: str, value: object, inputs: list) -> str:
    kind = "nan"
    if isinstance(value, np.ndarray | np.generic | float | complex):
        arr = np.asarray(value)
        if arr.dtype.kind in "fc" and not np.isnan(arr).any():
            kind = "inf"
    where = f"{_short(block.filename)}:{block.lineno}"
    lines = [
        f"{where}: the reverse sweep made {_variable(name)} {kind}, from values that are all "
        f"finite, in the adjoint of line {block.lineno}:",
        f"    {block.line}",
        f"  {name} = {_describe(value)}",
        "  computed from:",
    ]
    lines += [f"    {n} = {_describe(v)}" for n, v in inputs] or ["    (no values)"]
    lines.append(
        "  (the derivative of this line is not finite here: a division by zero, a log or "
        "sqrt at 0, an overflow; see docs/numerics.md)"
    )
    return "\n".join(lines)
