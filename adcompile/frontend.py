"""Frontend: find a function's source, parse it, and say what each free name means.

Two ways in, one result (:class:`SourceFunction`):

* :func:`from_function` reads a live function (the decorator's path): globals,
  closure cells and builtins resolve to the objects they hold.
* :func:`from_file` reads a file *without running it* (the CLI's path): numpy and
  ``math`` imports, literal constants and the file's own functions resolve
  statically; anything else is reported as needing an import.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import linecache
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AdCompileError, Loc

# Modules the CLI may import while resolving a file statically: they have no
# side effects a user could care about.
SAFE_MODULES = ("numpy", "math", "operator")


class Unresolved:
    """A name the frontend could not bind to an object, and why."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason


@dataclass
class StaticFunction:
    """A function found in a file read statically (not imported)."""

    name: str
    source: SourceFunction


@dataclass
class SourceFunction:
    """A parsed function and the means to resolve its free names."""

    name: str
    qualname: str
    node: ast.FunctionDef  # line numbers are the file's, columns the file's
    filename: str
    lines: list[str]
    lookup: Callable[[str], object]  # returns an Unresolved when it cannot
    function: Callable | None = None  # the live function, when there is one
    key: object = field(default=None)

    def loc(self, node: ast.AST) -> Loc:
        lineno = getattr(node, "lineno", self.node.lineno)
        col = getattr(node, "col_offset", 0)
        text = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        return Loc(_short(self.filename), lineno, col, text.rstrip("\n"))


def _short(filename: str) -> str:
    try:
        path = Path(filename)
        if path.is_absolute():
            rel = path.relative_to(Path.cwd())
            return str(rel)
    except ValueError:
        pass
    return filename


def from_function(fn: Callable) -> SourceFunction:
    """Parse a live function and bind its free names to the objects they hold."""
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__name__", repr(fn))
    if code is None:
        raise AdCompileError(
            f"{name!r} is not a Python function",
            hint="adcompile differentiates functions written in Python with `def`",
        )
    filename = code.co_filename
    if code.co_name == "<lambda>":
        text = linecache.getline(filename, code.co_firstlineno).rstrip("\n")
        raise AdCompileError(
            "cannot differentiate a lambda",
            Loc(_short(filename), code.co_firstlineno, max(0, text.find("lambda")), text)
            if text
            else None,
            hint="write the function with def",
        )
    try:
        raw = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise AdCompileError(
            f"cannot read the source of {name!r} (defined in {filename})",
            hint="adcompile reads source code: define the function in a .py file "
            "(functions typed into a REPL or created with exec have no source to read)",
        ) from exc
    lines = linecache.getlines(filename)
    if len(lines) < code.co_firstlineno:  # no file to read: place the source at its lines
        lines = [""] * (code.co_firstlineno - 1) + raw.splitlines(keepends=True)
    node = _parse_def(raw, code.co_firstlineno, filename, name)

    closure = {}
    if fn.__closure__:
        for var, cell in zip(code.co_freevars, fn.__closure__, strict=True):
            try:
                closure[var] = cell.cell_contents
            except ValueError:
                closure[var] = Unresolved(var, "the closure variable is not yet assigned")
    glob = fn.__globals__

    def lookup(ident: str) -> object:
        if ident in closure:
            return closure[ident]
        if ident in glob:
            return glob[ident]
        if hasattr(builtins, ident):
            return getattr(builtins, ident)
        return Unresolved(ident, "it is not defined")

    return SourceFunction(
        name=name,
        qualname=getattr(fn, "__qualname__", name),
        node=node,
        filename=filename,
        lines=lines,
        lookup=lookup,
        function=fn,
        key=fn,
    )


def _parse_def(raw: str, firstlineno: int, filename: str, name: str) -> ast.FunctionDef:
    """The def in ``raw`` (a function's source from ``firstlineno`` on), at its file positions."""
    raw_lines = raw.splitlines(keepends=True)
    first_line = raw_lines[0] if raw_lines else ""
    indent = first_line[: len(first_line) - len(first_line.lstrip())]
    # Remove exactly the first line's indentation from the lines that have it.
    # (textwrap.dedent gives up when a string literal has a less indented line.)
    stripped = [line.startswith(indent) for line in raw_lines]
    text = "".join(
        line[len(indent) :] if cut else line for line, cut in zip(raw_lines, stripped, strict=True)
    )
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        lineno = firstlineno + (exc.lineno or 1) - 1
        line = raw_lines[(exc.lineno or 1) - 1] if raw_lines else ""
        raise AdCompileError(
            f"cannot parse the source of {name!r}: {exc.msg}",
            Loc(_short(filename), lineno, len(line) - len(line.lstrip()), line.rstrip("\n")),
            hint="adcompile reads the function's source from its file: check that the file "
            "has not changed since it was imported",
        ) from exc
    if indent:
        for node in ast.walk(tree):
            lineno = getattr(node, "lineno", None)
            if lineno is not None and stripped[lineno - 1]:
                node.col_offset += len(indent)
            end = getattr(node, "end_lineno", None)
            if end is not None and node.end_col_offset is not None and stripped[end - 1]:
                node.end_col_offset += len(indent)
    ast.increment_lineno(tree, firstlineno - 1)
    for node in tree.body:
        if isinstance(node, ast.AsyncFunctionDef):
            raise AdCompileError(
                "cannot differentiate an async function",
                Loc(
                    _short(filename),
                    node.lineno,
                    node.col_offset,
                    _line(raw_lines, node, firstlineno),
                ),
                hint="write a plain def",
            )
        if isinstance(node, ast.FunctionDef):
            return node
    raise AdCompileError(
        f"cannot find a def for {name!r} in its source",
        Loc(_short(filename), firstlineno, len(indent), first_line.rstrip("\n")),
        hint="adcompile differentiates functions written with def",
    )


def _line(raw_lines: list[str], node: ast.AST, firstlineno: int) -> str:
    i = node.lineno - firstlineno
    return raw_lines[i].rstrip("\n") if 0 <= i < len(raw_lines) else ""


def from_file(path: str, name: str) -> SourceFunction:
    """Read ``path`` without running it and return the top-level function ``name``."""
    file = Path(path)
    try:
        text = file.read_text()
    except FileNotFoundError as exc:
        raise AdCompileError(f"no such file: {path}") from exc
    except OSError as exc:
        raise AdCompileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        line = exc.text or ""
        raise AdCompileError(
            f"syntax error: {exc.msg}",
            Loc(path, exc.lineno or 1, max(0, (exc.offset or 1) - 1), line.rstrip("\n")),
        ) from exc
    lines = text.splitlines(keepends=True)
    return _static_module(path, tree, lines).function(name)


class _StaticModule:
    def __init__(self, path: str, tree: ast.Module, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.names: dict[str, object] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.cache: dict[str, SourceFunction] = {}
        for stmt in tree.body:
            self._bind(stmt)

    def _bind(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                top = alias.name.split(".")[0]
                if alias.asname:
                    self.names[alias.asname] = self._import(alias.name, stmt)
                else:
                    self.names[top] = self._import(top, stmt)
        elif isinstance(stmt, ast.ImportFrom):
            module = stmt.module or ""
            for alias in stmt.names:
                bound = alias.asname or alias.name
                mod = self._import(module, stmt) if stmt.level == 0 else None
                if isinstance(mod, Unresolved) or mod is None:
                    self.names[bound] = Unresolved(
                        bound, f"it is imported from {'.' * stmt.level}{module}"
                    )
                elif alias.name == "*":
                    continue
                else:
                    self.names[bound] = getattr(
                        mod, alias.name, Unresolved(bound, f"{module} has no {alias.name}")
                    )
        elif isinstance(stmt, ast.FunctionDef):
            self.functions[stmt.name] = stmt
            self.names.pop(stmt.name, None)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        self.names[node.id] = self._literal(node.id, stmt.value)
        elif isinstance(stmt, ast.ClassDef | ast.AsyncFunctionDef):
            self.names[stmt.name] = Unresolved(stmt.name, "it is defined by running the file")

    def _import(self, module: str, stmt: ast.stmt) -> object:
        if module.split(".")[0] not in SAFE_MODULES:
            return Unresolved(module, f"it needs `import {module}`")
        try:
            return importlib.import_module(module)
        except ImportError:
            return Unresolved(module, f"module {module} cannot be imported")

    def _literal(self, name: str, value: ast.expr | None) -> object:
        if value is None:
            return Unresolved(name, "it has no value")
        try:
            return ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return Unresolved(name, "its value is computed when the file runs")

    def lookup(self, ident: str) -> object:
        if ident in self.functions:
            return StaticFunction(ident, self.function(ident))
        if ident in self.names:
            return self.names[ident]
        if hasattr(builtins, ident):
            return getattr(builtins, ident)
        return Unresolved(ident, "it is not defined")

    def function(self, name: str) -> SourceFunction:
        if name in self.cache:
            return self.cache[name]
        node = self.functions.get(name)
        if node is None:
            if name in self.names:
                raise AdCompileError(f"{name!r} in {self.path} is not a function")
            raise AdCompileError(f"no function named {name!r} at the top level of {self.path}")
        src = SourceFunction(
            name=name,
            qualname=name,
            node=node,
            filename=self.path,
            lines=self.lines,
            lookup=self.lookup,
            key=(self.path, name),
        )
        self.cache[name] = src
        return src


def _static_module(path: str, tree: ast.Module, lines: list[str]) -> _StaticModule:
    return _StaticModule(path, tree, lines)
