"""Where a line of generated code comes from, for code generated from generated code.

Higher-order derivatives differentiate generated code (see ``higher.py``), whose
lines carry comments naming the user's source line each was generated from. Code
generated from it names those lines too, rather than lines of the generated code.
"""

from __future__ import annotations

import inspect
import linecache
import re
from types import CodeType

DEF_LINE = re.compile(r"^(\s*def\s)|(\s*async\s+def\s)|(.*(?<!\w)lambda(:|\s))|^(\s*@)")


def source_comment(filename: str, lineno: int) -> str | None:
    """For a line of generated code: the comment naming the user's source line it was
    generated from (``line 28: yhat = ...``), marked ``(reverse)`` in a reverse sweep.
    None for a file that is not generated code."""
    if not filename.startswith("<adcompile differentiable"):
        return None
    lines = linecache.getlines(filename)
    reverse = False
    found = None
    for i in range(min(lineno, len(lines)) - 1, -1, -1):
        text = lines[i].strip()
        if found is None and text.startswith("# line "):
            found = text[2:]
        elif text.startswith("# reverse sweep"):
            reverse = True
            break
        elif text.startswith("def "):
            reverse = reverse or text.startswith("def bwd_")
            break
    if found is None:  # bookkeeping of a pullback, before its first source line
        return f"generated: {lines[lineno - 1].strip()}" if lineno <= len(lines) else None
    if reverse:
        number, _, rest = found.partition(":")
        return f"{number} (reverse):{rest}"
    return found


def describe(loc) -> str:
    """The comment that names the source line of ``loc`` in generated code: the user's
    line, also when ``loc`` is a line of generated code differentiated again."""
    return source_comment(loc.filename, loc.lineno) or f"line {loc.lineno}: {loc.text.strip()}"


def function_source(code: CodeType, module_globals: dict | None) -> str:
    """The source text of the function whose code object is ``code``: what
    ``inspect.getsource(code)`` returns, read without its ``inspect.getmodule``,
    which looks at the file of every imported module (tens of milliseconds in a
    process that has imported numba or scipy). OSError when there is no source."""
    filename = code.co_filename
    if not (filename.startswith("<") and filename.endswith(">")):
        linecache.checkcache(filename)
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        raise OSError("could not get source code")
    lnum = code.co_firstlineno - 1
    if lnum >= len(lines):
        raise OSError("lineno is out of bounds")
    while lnum > 0 and not DEF_LINE.match(lines[lnum]):  # (as inspect.findsource)
        lnum -= 1
    return "".join(inspect.getblock(lines[lnum:]))
