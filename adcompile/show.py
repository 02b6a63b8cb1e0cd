"""Rendering generated code for people: highlighted in a terminal, plain elsewhere."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text


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
    in reverse video; anywhere else it is written exactly as ``source``. Either way
    every character of ``source`` is printed: a line longer than the terminal is
    left to the terminal to wrap (never cut), and no line is padded with spaces.
    """
    console = console or make_console()
    if not console.is_terminal or console.no_color:
        console.file.write(source if source.endswith("\n") else source + "\n")
        console.file.flush()
        return
    console.print(highlighted(source), soft_wrap=True, crop=False)


def highlighted(source: str) -> Text:
    """``source`` as highlighted text, the sweep markers in reverse video: exactly its
    characters (no trailing newline), so that printing it adds and removes nothing."""
    code = source.rstrip("\n")
    text = _SYNTAX.highlight(code)
    text.rstrip()
    text.end = ""
    offset = 0
    for line in code.split("\n"):
        if line.strip() in MARKERS:
            start = len(line) - len(line.lstrip())
            text.stylize(MARKER_STYLE, offset + start, offset + len(line))
        offset += len(line) + 1
    return text


def source_html(source: str) -> str:
    """``source`` highlighted as HTML (inline styles, one ``<pre>`` on the theme's dark
    background, whatever the notebook's): for notebooks."""
    import io

    from rich.terminal_theme import MONOKAI

    console = Console(
        file=io.StringIO(), record=True, force_terminal=True, color_system="truecolor", width=200
    )
    console.print(highlighted(source), soft_wrap=True, crop=False)
    return console.export_html(
        theme=MONOKAI,
        inline_styles=True,
        code_format=(
            '<pre style="font-family: monospace; line-height: 1.3; color: {foreground}; '
            'background: {background}; padding: 0.6em; overflow-x: auto; white-space: pre">'
            "<code>{code}</code></pre>"
        ),
    )


def source_markdown(source: str) -> str:
    """``source`` as a fenced Markdown code block (the fence outgrows any in the code)."""
    longest = max((len(m) for m in re.findall(r"`{3,}", source)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}python\n{source.rstrip()}\n{fence}\n"


# the token colours of a dark theme, on the terminal's own background: nothing is
# painted beyond the text, so lines need no padding
_SYNTAX = Syntax("", "python", theme="monokai", background_color="default")


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

    Anywhere but a terminal: two columns of plain text (:func:`side_by_side_text`).
    In a terminal: the same text, highlighted; lines wider than the terminal are left
    to it to wrap, so nothing is cut and no line is padded."""
    console = console or make_console()
    rows = side_by_side_rows(generated, source_lines)
    if not console.is_terminal or console.no_color:
        console.file.write(side_by_side_text(rows, titles))
        console.file.flush()
        return
    lefts = [_left_text(r) for r in rows]
    width = max([len(titles[0]), *(len(t) for t in lefts)])
    out = Text()
    out.append(f"{titles[0].ljust(width)} | {titles[1]}\n", style="bold")
    out.append(f"{'-' * width}-+-{'-' * 40}\n", style="dim")
    for row in rows:
        for k, code in enumerate(row.generated or [""]):
            cell = Text()
            if k == 0 and row.lineno is not None:
                cell.append(f"{row.lineno:>4}  ", style="dim")
                cell.append_text(_line(row.source))
            cell.pad_right(width - len(cell))
            cell.append(" | ", style="dim")
            if row.marker:
                indent = len(code) - len(code.lstrip())
                cell.append(code[:indent])
                cell.append(code[indent:], style=MARKER_STYLE)
            else:
                cell.append_text(_line(code))
            cell.rstrip()
            out.append_text(cell)
            out.append("\n")
    out.rstrip()
    console.print(out, soft_wrap=True, crop=False)


def _line(code: str) -> Text:
    """One line of Python, highlighted."""
    text = _SYNTAX.highlight(code)
    text.rstrip()
    text.end = ""
    return text
