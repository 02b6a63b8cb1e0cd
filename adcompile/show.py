"""Rendering generated code for people: highlighted in a terminal, plain elsewhere."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.syntax import Syntax


def make_console(file=None) -> Console:
    """A console that colours only a real terminal and honours NO_COLOR."""
    file = file or sys.stdout
    color = file.isatty() and "NO_COLOR" not in os.environ
    return Console(
        file=file,
        force_terminal=color,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=True,
    )


def show_source(source: str, *, console: Console | None = None) -> None:
    """Print generated source; the forward and reverse sweep markers stand out."""
    console = console or make_console()
    if not console.is_terminal or console.no_color:
        console.file.write(source if source.endswith("\n") else source + "\n")
        return
    lines = source.splitlines()
    marks = {
        i + 1 for i, line in enumerate(lines) if line.strip() in ("# forward sweep", "# reverse sweep")
    }
    syntax = Syntax(
        source,
        "python",
        theme="monokai",
        line_numbers=False,
        highlight_lines=marks,
        word_wrap=False,
    )
    console.print(syntax)
