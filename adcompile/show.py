"""Rendering generated code for people: highlighted in a terminal, plain elsewhere."""

from __future__ import annotations

import os
import sys

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
