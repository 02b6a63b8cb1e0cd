"""What the reverse sweep keeps: ``GradientFunction.memory_report(*args)``.

The generated code runs its forward sweep, then its reverse sweep; everything the
forward sweep assigned is alive at the boundary between the two (the values the
reverse sweep reads, and the lists that loops and called functions filled with
the values of each iteration). The report runs the generated function on the
arguments up to that boundary, stops it there, and measures each value: its
shape, dtype and the bytes it holds (an array's buffer and header; nothing for a
view of an argument, and a buffer shared by two values once), attributed to the
line of the user's function it comes from, per iteration and in total for loops.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_LINE = re.compile(r"^\s*# line (\d+): (.*)$")
_REVERSE = re.compile(r"^\s*# reverse sweep")


@dataclass
class Row:
    """One kept value (or one field of the tuples a loop keeps per iteration)."""

    lineno: int | None
    line: str
    name: str
    shape: str
    dtype: str
    bytes: int  # per iteration, for a loop's values
    iterations: int = 1

    @property
    def total(self) -> int:
        return self.bytes * self.iterations


@dataclass
class MemoryReport:
    """The values alive between the forward and the reverse sweep of one call."""

    function: str
    rows: list[Row] = field(default_factory=list)
    overhead: int = 0  # the lists and tuples holding loops' values
    # checkpointed loops (line, segment length): the reverse sweep recomputes one
    # segment of that many iterations at a time, and holds its values meanwhile
    segments: list[tuple[int | None, int]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(r.total for r in self.rows) + self.overhead

    def __str__(self) -> str:
        header = ("line", "name", "shape", "dtype", "bytes", "iterations", "total")
        body = [
            (
                "" if r.lineno is None else str(r.lineno),
                r.name,
                r.shape,
                r.dtype,
                _size(r.bytes),
                "" if r.iterations == 1 else f"x {r.iterations}",
                _size(r.total),
            )
            for r in self.rows
        ]
        widths = [max([len(h), *(len(b[i]) for b in body)]) for i, h in enumerate(header)]
        right = {0, 4, 5, 6}

        def fmt(cells):
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        out = [f"values the reverse sweep of {self.function} keeps", fmt(header)]
        out.append("  ".join("-" * w for w in widths))
        out += [fmt(b) for b in body]
        if self.overhead:
            out.append(f"(and {_size(self.overhead)} of lists and tuples holding loops' values)")
        out.append(f"total: {_size(self.total_bytes)} ({self.total_bytes:,} bytes)")
        out += [_segment_note(line, stride) for line, stride in self.segments]
        return "\n".join(out) + "\n"

    def show(self, *, console=None) -> None:
        """Print the report: a table in a terminal, :meth:`__str__`'s text elsewhere."""
        from .show import make_console

        console = console or make_console()
        if console.is_terminal and not console.no_color:
            console.print(self)
        else:
            console.file.write(str(self))
            console.file.flush()

    def __rich__(self):
        from rich.table import Table

        table = Table(
            title=f"values the reverse sweep of {self.function} keeps",
            caption=f"total {_size(self.total_bytes)} ({self.total_bytes:,} bytes)"
            + (f", of which {_size(self.overhead)} lists and tuples" if self.overhead else "")
            + "".join("\n" + _segment_note(line, n) for line, n in self.segments),
        )
        for name, justify in [
            ("line", "right"),
            ("name", "left"),
            ("shape", "left"),
            ("dtype", "left"),
            ("bytes", "right"),
            ("iterations", "right"),
            ("total", "right"),
        ]:
            table.add_column(name, justify=justify, no_wrap=True)
        for r in self.rows:
            table.add_row(
                "" if r.lineno is None else str(r.lineno),
                r.name,
                r.shape,
                r.dtype,
                _size(r.bytes),
                "" if r.iterations == 1 else str(r.iterations),
                _size(r.total),
            )
        return table


def _segment_note(line: int | None, stride: int) -> str:
    where = f"line {line}" if line is not None else "a loop"
    held = (
        f"one recomputed segment's values at a time ({stride} iterations at most)"
        if stride != 1
        else "one iteration's values at a time (binomial checkpointing)"
    )
    return (
        f"checkpointed loop at {where}: its snapshots are above; the reverse sweep also "
        f"holds {held}"
    )


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


class _Stop(Exception):
    def __init__(self, values: dict) -> None:
        self.values = values


def boundary_line(text: str) -> int | None:
    """The line (1-based) of the reverse sweep marker of the first function in ``text``."""
    for i, line in enumerate(text.split("\n"), start=1):
        if _REVERSE.match(line):
            return i
    return None


def locals_at_boundary(compiled, text: str, args: tuple) -> dict:
    """Run ``compiled`` (whose source is ``text``) on ``args`` until its reverse sweep
    starts: its local variables there."""
    marker = boundary_line(text)
    code = compiled.__code__
    if marker is None:
        return {}

    def local_trace(frame, event, arg):
        if event == "line" and frame.f_lineno > marker:
            raise _Stop(dict(frame.f_locals))
        return local_trace

    def global_trace(frame, event, arg):
        if frame.f_code is code:
            return local_trace
        return None

    old = sys.gettrace()
    sys.settrace(global_trace)
    try:
        compiled(*args)
    except _Stop as stop:
        return stop.values
    finally:
        sys.settrace(old)
    return {}


def report(
    function: str,
    text: str,
    pair_texts: list[tuple[str, list[str]]],
    values: dict,
    args: tuple,
    params: list[str],
    source_lines: list[str],
) -> MemoryReport:
    """The report of ``values`` (the locals at the boundary) of the code ``text``."""
    tree = ast.parse(text)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    marker = boundary_line(text) or 10**9
    lines = text.split("\n")
    comments = {i + 1: m for i, line in enumerate(lines) if (m := _LINE.match(line))}

    def line_of(lineno: int) -> int | None:
        found = [n for n in comments if n < lineno]
        return int(comments[max(found)].group(1)) if found else None

    # where each forward name is assigned, and the fields of the lists loops fill
    assigned: dict[str, int] = {}
    fields: dict[str, list[str]] = {}
    calls: dict[str, str] = {}  # local holding a called function's stack -> fwd name
    strides: set[str] = set()
    binomial: set[str] = set()
    for node in ast.walk(fn):
        if getattr(node, "lineno", marker) >= marker:
            continue
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for leaf in ast.walk(t):
                    if isinstance(leaf, ast.Name):
                        assigned.setdefault(leaf.id, node.lineno)
            value = node.value
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id.startswith("fwd_")
                and isinstance(targets[0], ast.Tuple)
                and isinstance(targets[0].elts[-1], ast.Name)
            ):
                calls[targets[0].elts[-1].id] = value.func.id
        if isinstance(node, ast.For):
            for leaf in ast.walk(node.target):
                if isinstance(leaf, ast.Name):
                    assigned.setdefault(leaf.id, node.lineno)
        appended = _appended(node)
        if appended is not None:
            fields[appended[0]] = appended[1]
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id in ("checkpoint_stride", "revolve_snapshots", "keep_spaced")
            and isinstance(node.targets[0], ast.Name)
        ):
            strides.add(node.targets[0].id)  # a checkpointed loop's segment length
            if node.value.func.id != "checkpoint_stride":
                binomial.add(node.targets[0].id)  # revolve's: one iteration at a time

    roots_of_args = {id(_root(a)) for a in _arrays(args)}
    seen: set[int] = set()
    result = MemoryReport(function)

    def measure(value: object) -> int:
        if isinstance(value, np.ndarray):
            root = _root(value)
            header = sys.getsizeof(value) if value.base is not None else 0
            if id(root) in roots_of_args or id(root) in seen:
                return header
            seen.add(id(root))
            return sys.getsizeof(root) + header
        if isinstance(value, list | tuple | dict):
            return sys.getsizeof(value)
        if isinstance(value, int) and -5 <= value <= 256:
            return 0  # Python's cached small integers
        if isinstance(value, np.generic | float | int | complex):
            return sys.getsizeof(value)
        return 0

    for name, value in values.items():
        if name in params or name not in assigned:
            continue
        if name in binomial:
            result.segments.append((line_of(assigned[name]), 1))
            continue
        if name in strides and isinstance(value, int):
            result.segments.append((line_of(assigned[name]), value))
            continue
        if isinstance(value, dict) and value and name in fields:  # revolve's snapshots
            value = list(value.values())
        lineno = line_of(assigned[name])
        src = source_lines[lineno - 1].strip() if lineno and lineno <= len(source_lines) else ""
        if isinstance(value, list) and value:  # a loop's (or a called function's) values
            names = fields.get(name)
            if names is None and name in calls:
                names = _pair_fields(pair_texts, calls[name])
            _loop_rows(result, name, value, names, lineno, src, measure, assigned, line_of)
            continue
        if isinstance(value, list) and not value:
            result.overhead += sys.getsizeof(value)
            continue
        size = measure(value)
        if size:  # else: the buffer of an argument, or of a value listed already
            result.rows.append(Row(lineno, src, name, _shape(value), _dtype(value), size, 1))
    result.rows.sort(key=lambda r: (r.lineno is None, r.lineno or 0))
    return result


def _loop_rows(result, name, items, names, lineno, src, measure, assigned, line_of) -> None:
    """Rows for a list of tuples, one per field: bytes per iteration, iterations."""
    result.overhead += sys.getsizeof(items) + sum(
        sys.getsizeof(t) for t in items if isinstance(t, tuple)
    )
    items = [t if isinstance(t, tuple) else (t,) for t in items]
    width = len(items[0])
    names = names if names and len(names) == width else [f"{name}[i][{k}]" for k in range(width)]
    for k in range(width):
        column = [t[k] if len(t) > k else None for t in items]
        total = sum(measure(v) for v in column)
        per = total // len(items) if items else 0
        first = column[0]
        where = line_of(assigned[names[k]]) if names[k] in assigned else lineno
        row = Row(where, src, f"{names[k]} (in {name})", _shape(first), _dtype(first), per)
        row.iterations = len(items)
        result.overhead += total - per * len(items)  # rounding of the mean
        result.rows.append(row)


def _pair_fields(pair_texts: list[tuple[str, list[str]]], fwd: str) -> list[str] | None:
    for text, _ in pair_texts:
        tree = ast.parse(text)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == fwd:
                for inner in ast.walk(node):
                    appended = _appended(inner)
                    if appended is not None:
                        return appended[1]
    return None


def _appended(node: ast.AST) -> tuple[str, list[str]] | None:
    """(list, field names) of a statement ``lst.append((a, b, c))``, or (table, field
    names) of ``table[i] = (a, b, c)``."""
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "append"
        and isinstance(node.value.func.value, ast.Name)
        and len(node.value.args) == 1
    ):
        arg = node.value.args[0]
        elts = arg.elts if isinstance(arg, ast.Tuple) else [arg]
        names = [e.id if isinstance(e, ast.Name) else ast.unparse(e) for e in elts]
        return node.value.func.value.id, names
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Subscript)
        and isinstance(node.targets[0].value, ast.Name)
        and isinstance(node.targets[0].slice, ast.Name)
    ):  # snapshots[i] = (a, b): a table of snapshots, by iteration
        elts = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        names = [e.id if isinstance(e, ast.Name) else ast.unparse(e) for e in elts]
        return node.targets[0].value.id, names
    call = node.value if isinstance(node, ast.Assign) else None
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "keep_spaced"
        and isinstance(call.args[0], ast.Name)
    ):  # stride = keep_spaced(snapshots, i, (a, b), stride, n)
        state = call.args[2]
        elts = state.elts if isinstance(state, ast.Tuple) else [state]
        names = [e.id if isinstance(e, ast.Name) else ast.unparse(e) for e in elts]
        return call.args[0].id, names
    return None


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _arrays(values) -> list[np.ndarray]:
    out = []
    for v in values:
        if isinstance(v, np.ndarray):
            out.append(v)
        elif isinstance(v, list | tuple):
            out += _arrays(v)
        elif isinstance(v, dict):
            out += _arrays(list(v.values()))
    return out


def _shape(value: object) -> str:
    if isinstance(value, np.ndarray | np.generic):
        return "x".join(map(str, value.shape)) if value.shape else "()"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


def _dtype(value: object) -> str:
    if isinstance(value, np.ndarray | np.generic):
        return str(value.dtype)
    return type(value).__name__


def memory_report_of(
    compiled: Callable, gen: Any, args: tuple, params: list[str], name: str
) -> MemoryReport:
    """The memory report of the generated function ``compiled`` (of ``gen``) on ``args``."""
    values = locals_at_boundary(compiled, gen.text, tuple(args))
    session = getattr(gen, "session", None)
    pairs = [(pair.text, []) for pair in getattr(session, "order", ())]
    lines = getattr(gen, "source_lines", None) or []
    return report(name, gen.text, pairs, values, tuple(args), params, lines)
