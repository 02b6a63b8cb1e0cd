"""Rendering generated code for people: highlighted in a terminal, plain elsewhere."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from rich.console import Console
from rich.syntax import Syntax


def make_console(file=None) -> Console:
    """A console that colours only a real terminal and honours NO_COLOR."""
    file = file or sys.stdout
    color = (
        file.isatty()
        and not os.environ.get("NO_COLOR")  # https://no-color.org: set and not empty
        and os.environ.get("TERM") != "dumb"
    )
    return Console(
        file=file,
        force_terminal=color,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=True,
    )


MARKERS = ("# forward sweep", "# reverse sweep")
MARKER_STYLE = "bold reverse"


def show_source(source: str, *, console: Console | None = None) -> None:
    """Print generated source; the forward and reverse sweep markers stand out.

    In a terminal the code is highlighted and the two marker comments are drawn
    in reverse video; anywhere else it is written exactly as ``source``.
    """
    console = console or make_console()
    if not console.is_terminal or console.no_color:
        console.file.write(source if source.endswith("\n") else source + "\n")
        console.file.flush()
        return
    syntax = Syntax(
        source,
        "python",
        theme="monokai",
        line_numbers=False,
        word_wrap=False,
    )
    for i, line in enumerate(source.splitlines(), start=1):
        if line.strip() in MARKERS:
            start = len(line) - len(line.lstrip())
            syntax.stylize_range(MARKER_STYLE, (i, start), (i, len(line)))
    console.print(syntax)


# ------------------------------------------------------------- side by side

_LINE_COMMENT = re.compile(r"^\s*# line (\d+): ")
_GENERATED_DEF = re.compile(r"^def (?:grad|value_and_grad|vjp|fwd|bwd)_(\w+)\(")


@dataclass
class Row:
    """One row of a side-by-side view: a source line and the code generated for it.

    ``lineno`` is None for rows with no source line (a sweep marker, the code
    before the first ``# line`` comment, the gap between two functions)."""

    lineno: int | None
    source: str
    generated: list[str] = field(default_factory=list)
    marker: bool = False


def side_by_side_rows(generated: str, source_lines: list[str]) -> list[Row]:
    """Split generated code into blocks, each labelled by the source line it came from.

    The generated code names its source line in ``# line N: ...`` comments; each
    starts a row whose left side is line N of ``source_lines`` (the user's file)
    and whose right side is the code up to the next such comment. A generated
    ``def`` is paired with the ``def`` of the user function it derives from."""
    rows: list[Row] = []
    for text in generated.rstrip("\n").split("\n"):
        found = _LINE_COMMENT.match(text)
        if found:
            n = int(found.group(1))
            if 0 < n <= len(source_lines):
                left = source_lines[n - 1].rstrip()
            else:
                left = text[found.end() :]
            rows.append(Row(n, left))
        elif text.startswith("def "):
            lineno, left = _source_def(text, source_lines)
            rows.append(Row(lineno, left, [text]))
        elif text.strip().startswith("# forward sweep") or text.strip().startswith(
            "# reverse sweep"
        ):
            rows.append(Row(None, "", [text], marker=True))
        elif not text.strip():
            if rows and rows[-1].generated:
                rows.append(Row(None, "", []))  # between two functions
        else:
            if not rows or rows[-1].marker or (not rows[-1].generated and rows[-1].lineno is None):
                rows.append(Row(None, ""))
            rows[-1].generated.append(text)
    return rows


def _source_def(text: str, source_lines: list[str]) -> tuple[int | None, str]:
    """The user's ``def`` line that the generated ``def`` ``text`` derives from."""
    found = _GENERATED_DEF.match(text)
    if not found:
        return None, ""
    name = found.group(1)
    candidates = [name, re.sub(r"_\d+$", "", name)]
    for candidate in candidates:
        pattern = re.compile(rf"^\s*def\s+{re.escape(candidate)}\s*\(")
        for i, line in enumerate(source_lines, start=1):
            if pattern.match(line):
                return i, line.rstrip()
    return None, ""


def side_by_side_text(rows: list[Row], titles: tuple[str, str] = ("source", "generated")) -> str:
    """Two columns of plain text: the source line (numbered) and its generated code."""
    lefts = [_left_text(r) for r in rows]
    width = max([len(titles[0]), *(len(t) for t in lefts)])
    out = [f"{titles[0].ljust(width)} | {titles[1]}", f"{'-' * width}-+-{'-' * 40}"]
    for row, left in zip(rows, lefts, strict=True):
        right = row.generated or [""]
        for k, code in enumerate(right):
            out.append(f"{(left if k == 0 else '').ljust(width)} | {code}".rstrip())
    return "\n".join(out) + "\n"


def _left_text(row: Row) -> str:
    if row.lineno is None:
        return ""
    return f"{row.lineno:>4}  {row.source}"


def show_side_by_side(
    generated: str,
    source_lines: list[str],
    *,
    titles: tuple[str, str] = ("source", "generated"),
    console: Console | None = None,
) -> None:
    """Print the user's lines next to the code generated for each of them.

    In a terminal: a highlighted table; anywhere else: two columns of plain text."""
    console = console or make_console()
    rows = side_by_side_rows(generated, source_lines)
    if not console.is_terminal or console.no_color:
        console.file.write(side_by_side_text(rows, titles))
        console.file.flush()
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # Code that does not fit wraps inside its cell (never cropped); the line
    # numbers always keep their column.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    width = max([4, *(len(str(r.lineno)) for r in rows if r.lineno is not None)])
    table.add_column("line", justify="right", style="dim", no_wrap=True, min_width=width)
    table.add_column(titles[0], overflow="fold")
    table.add_column(titles[1], overflow="fold")
    for row in rows:
        number = "" if row.lineno is None else str(row.lineno)
        left = _code(row.source.rstrip()) if row.source else Text("")
        if row.marker:
            right = Text("\n".join(row.generated), style=MARKER_STYLE)
        elif row.generated:
            right = _code("\n".join(row.generated))
        else:
            right = Text("")
        table.add_row(number, left, right)
    console.print(table)


def _code(text: str) -> Syntax:
    return Syntax(text, "python", theme="monokai", background_color="default", word_wrap=True)
