"""The one exception users see: a located, explained refusal."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """A place in the user's source: file, 1-based line, 0-based column, the line's text."""

    filename: str
    lineno: int
    col: int
    text: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col}"


class AdCompileError(Exception):
    """Raised for anything adcompile cannot differentiate.

    The message reads like a compiler diagnostic::

        model.py:12:8: error: np.fft.fft has no adjoint rule
            y = np.fft.fft(x)
                ^
        hint: register one with @adcompile.adjoint(np.fft.fft)

    The same facts are available as attributes: ``filename``, ``lineno``, ``col``,
    ``line`` (the source text), ``reason`` and ``hint``.
    """

    def __init__(
        self,
        reason: str,
        loc: Loc | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = reason
        self.hint = hint
        self.loc = loc
        self.filename = loc.filename if loc else None
        self.lineno = loc.lineno if loc else None
        self.col = loc.col if loc else None
        self.line = loc.text if loc else None
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.loc is not None:
            parts.append(f"{self.loc}: error: {self.reason}")
            text = self.loc.text.rstrip("\n")
            if text.strip():
                stripped = text.lstrip()
                indent = len(text) - len(stripped)
                parts.append("    " + stripped)
                caret = max(0, self.loc.col - indent)
                parts.append("    " + " " * caret + "^")
        else:
            parts.append(f"error: {self.reason}")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)

    def __reduce__(self):  # keep the exception picklable (multiprocessing, pytest-xdist)
        return (AdCompileError, (self.reason, self.loc, self.hint))
