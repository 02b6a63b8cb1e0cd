"""Frontend: find a function's source, parse it, and say what each free name means.

Two ways in, one result (:class:`SourceFunction`):

* :func:`from_function` reads a live function (the decorator's path): globals,
  closure cells and builtins resolve to the objects they hold.
* :func:`from_file` reads a file *without running it* (the CLI's path): numpy and
  ``math`` imports, literal constants and the file's own functions resolve
  statically; anything else is reported as needing an import.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import contextlib
import contextvars
import copy
import dataclasses
import dis
import functools
import importlib
import inspect
import linecache
import os
import re
import site
import sys
import sysconfig
import tokenize
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AdCompileError, Loc
from .origin import function_source

# Modules the CLI may import while resolving a file statically: they have no
# side effects a user could care about (scipy: its special functions and distributions).
SAFE_MODULES = ("numpy", "math", "operator", "scipy")


# ------------------------------------------------------------------ guards
#
# Compiled code bakes in what each free name meant when it was compiled: the rule of
# the primitive a global named, a called helper's own pullback (which bakes in what
# *its* free names meant), a number or an array. Every name a live function's
# ``lookup`` resolves while a compilation runs is recorded as a *guard*: a scope (a
# function's globals dict, a module's ``__dict__`` for ``mod.attr``, or a closure
# cell), the key in it (None for a cell), and the object found there (ABSENT: the
# name was not in the globals and a builtin was used). The code stays valid while
# every guard still holds; a rebinding makes api.py compile again.

ABSENT = object()  # a guard's value when the name resolved to a builtin

Guard = tuple  # (scope: dict or cell, key: str or None, value)

_RECORDING: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "adcompile_guards", default=None
)


@contextlib.contextmanager
def recording() -> Iterator[dict[tuple, Guard]]:
    """Collect the guards of every name resolved inside the block (see above)."""
    guards: dict[tuple, Guard] = {}
    token = _RECORDING.set(guards)
    try:
        yield guards
    finally:
        _RECORDING.reset(token)


def _note(scope: object, key: str | None, value: object) -> None:
    guards = _RECORDING.get()
    if guards is not None:
        guards.setdefault((id(scope), key), (scope, key, value))


def guards_hold(guards: list[Guard]) -> bool:
    """Whether every guard still holds: each name still bound to the object it was."""
    try:
        for scope, key, value in guards:
            now = scope.cell_contents if key is None else scope.get(key, ABSENT)
            if now is not value:
                return False
    except ValueError:  # a closure variable deleted since
        return False
    return True


def module_attribute(module: types.ModuleType, attr: str) -> object:
    """``getattr(module, attr)``, guarded unless the module is one of the libraries
    whose functions are primitives (their attributes are taken as fixed)."""
    value = getattr(module, attr)
    if module.__name__.split(".")[0] not in SAFE_MODULES:
        scope = getattr(module, "__dict__", None)
        if isinstance(scope, dict) and scope.get(attr, ABSENT) is value:
            _note(scope, attr, value)
    return value


# ------------------------------------------------------------------ library code
#
# A function of an installed package or of the standard library is a primitive: it
# has an adjoint rule or it is refused by name. Only the user's own functions (in
# files outside the Python installation) are read and differentiated from their
# source: a library's implementation is its own business (it may change between
# versions, and use whatever Python it likes).


def is_library_function(fn: object) -> bool:
    """Whether ``fn`` is defined by the standard library or an installed package: its
    module is part of the standard library, or its code is in a file under the
    Python installation's library directories (site-packages included)."""
    module = getattr(fn, "__module__", None) or ""
    if not isinstance(module, str):
        return False
    if module.partition(".")[0] in sys.stdlib_module_names:
        return True
    code = getattr(fn, "__code__", None)
    filename = getattr(code, "co_filename", None)
    if filename is None:  # (a function written in C, or wrapped: its module's file)
        filename = getattr(sys.modules.get(module), "__file__", None)
    return isinstance(filename, str) and _in_library_dirs(filename)


@functools.lru_cache(maxsize=256)
def _in_library_dirs(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen ...>, <string>: not a file of the user's
        return filename.startswith("<frozen")
    path = os.path.realpath(filename)
    return any(path.startswith(d) for d in _library_dirs())


@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """The directories an installed package or the standard library lives in."""
    dirs = set()
    for scheme in (sysconfig.get_paths(), sysconfig.get_paths(vars={"base": sys.base_prefix})):
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            if scheme.get(key):
                dirs.add(scheme[key])
    with contextlib.suppress(AttributeError):  # (site may lack them in a virtualenv)
        dirs.update(site.getsitepackages())
    with contextlib.suppress(AttributeError):
        dirs.add(site.getusersitepackages())
    return tuple(sorted(os.path.join(os.path.realpath(d), "") for d in dirs if d))


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
    function_value = True  # (a value like a live function: containers.is_function_value)


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
    # a variable the desugar pass made -> the user's text it stands for (for messages)
    spelled: dict = field(default_factory=dict)

    @functools.cached_property
    def variables(self) -> frozenset[str]:
        """The function's own variables: its parameters and every name it assigns."""
        return self._names[0]

    @functools.cached_property
    def identifiers(self) -> frozenset[str]:
        """Every name the function's text uses (its parameters included)."""
        return self._names[1]

    @functools.cached_property
    def shorthand(self) -> bool:
        """Whether the function has a construct the desugar pass writes out: a
        comprehension, nested function, lambda or class, a call in the condition of an
        if/while/a if c else b, a call of ``_CALLS``, a = b = ..., non-plain parameters."""
        return self._names[2]

    @functools.cached_property
    def _names(self) -> tuple[frozenset[str], frozenset[str], bool]:
        # one walk for the passes that ask (the tree is not changed after parsing)
        given = self.node.args
        params = {a.arg for a in ast.iter_child_nodes(given) if type(a) is ast.arg}
        stored, every = set(params), set(params)
        # *args, **kwargs and keyword-only parameters are written as plain ones
        shorthand = bool(given.posonlyargs or given.vararg or given.kwonlyargs or given.kwarg)
        root = self.node
        for n in ast.walk(root):
            kind = type(n)
            if kind is ast.Name:
                every.add(n.id)
                if type(n.ctx) is ast.Store:
                    stored.add(n.id)
            elif kind is ast.Call and not shorthand:  # partial(...), map(...), np.add.at
                shorthand = getattr(n.func, "id", getattr(n.func, "attr", "")) in _CALLS
            elif kind in _SHORTHAND:
                shorthand = shorthand or n is not root
            elif kind is ast.Assign:  # a = b = ...
                shorthand = shorthand or len(n.targets) > 1
            elif (kind is ast.If or kind is ast.While or kind is ast.IfExp) and not shorthand:
                shorthand = any(type(m) is ast.Call for m in ast.walk(n.test))
        return frozenset(stored), frozenset(every), shorthand

    def loc(self, node: ast.AST) -> Loc:
        lineno = getattr(node, "lineno", self.node.lineno)
        text = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        col = _char_col(text, getattr(node, "col_offset", 0))
        return Loc(_short(self.filename), lineno, col, text.rstrip("\n"))

    def text_of(self, node: ast.AST) -> str:
        """``node`` as the user wrote it (its text in the file), for messages; its
        unparsed form when the file's text cannot give it."""
        first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        start, end = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
        if None not in (first, last, start, end) and 0 < first <= last <= len(self.lines):
            chunk = [line.encode("utf-8") for line in self.lines[first - 1 : last]]
            chunk[-1] = chunk[-1][:end]
            chunk[0] = chunk[0][start:]
            text = b"".join(chunk).decode("utf-8", errors="replace")
            try:
                if ast.dump(ast.parse(text.strip(), mode="eval").body) == ast.dump(node):
                    return " ".join(text.split())
            except SyntaxError:
                pass
        return ast.unparse(node)


# what the desugar pass rewrites (a call in a condition aside)
_SHORTHAND = frozenset(
    {ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda, ast.ClassDef}
    | {ast.FunctionDef, ast.AsyncFunctionDef}
)
# calls it writes out: partial(...), map(...), and reversed/zip/enumerate consumed whole
ITERATORS = ("partial", "map", "reversed", "zip", "enumerate")
_CALLS = (*ITERATORS, "at")  # (np.add.at(...): desugar/ufuncs.py)


def _char_col(text: str, byte_col: int) -> int:
    """The character column of ``byte_col``: ast counts columns in UTF-8 bytes."""
    if text.isascii():
        return byte_col
    return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _short(filename: str) -> str:
    """``filename`` relative to the working directory when it is under it."""
    return _relative(filename, os.getcwd())


@functools.lru_cache(maxsize=256)
def _relative(filename: str, cwd: str) -> str:
    try:
        path = Path(filename)
        if path.is_absolute():
            return str(path.relative_to(cwd))
    except ValueError:
        pass
    return filename


# ------------------------------------------------------------------ objects
#
# A method bound to an object of the user's own class (``model.loss``) is its
# function with ``self`` bound: ``self`` is a free name of the function, resolved to
# the object, and ``self.attr`` is read as a captured value (a number, an array, a
# string, a list; another method, which is a helper) with a guard on the dict it was
# found in, so rebinding the attribute recompiles, as rebinding a global does.


ARRAYS = (np.ndarray, np.generic)  # (an array of a subclass has a __dict__: not an object)


class Computed:
    """An attribute computed when it is read (a property): not a captured value."""

    def __init__(self, what: str) -> None:
        self.what = what


def is_user_object(obj: object) -> bool:
    """An instance of a class of the user's own files, whose attributes are read as
    captured values (not a module, a class, a function, or a library's object)."""
    if not isinstance(getattr(obj, "__dict__", None), dict) or isinstance(
        obj, (types.ModuleType, type, types.FunctionType, types.MethodType, *ARRAYS)
    ):
        return False
    return not is_library_function(type(obj))


def object_attribute(obj: object, attr: str) -> object:
    """``getattr(obj, attr)`` for a user object, guarded: by the instance's dict when
    the attribute is there, else by its absence there and the class dict it is found
    in; a ``Computed`` for a property or another descriptor (its value may change
    with no rebinding), an ``Unresolved`` when there is no such attribute."""
    own = obj.__dict__
    if attr in own:
        value = own[attr]
        _note(own, attr, value)
        return value
    for klass in type(obj).__mro__:
        raw = klass.__dict__.get(attr, ABSENT)
        if raw is ABSENT:
            continue
        _note(own, attr, ABSENT)
        _note(klass.__dict__, attr, raw)
        plain = not hasattr(type(raw), "__get__")
        if plain or isinstance(raw, types.FunctionType | staticmethod | classmethod):
            return getattr(obj, attr)
        return Computed(f"a {type(raw).__name__}")
    return Unresolved(attr, f"{type(obj).__name__} object has no attribute {attr!r}")


def from_function(fn: Callable) -> SourceFunction:
    """Parse a live function and bind its free names to the objects they hold; a
    method bound to a user object is its function with ``self`` bound (see above)."""
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return _bound_method(fn)
    # never inspect.unwrap: a wrapper made with functools.wraps computes what its
    # own code says (2 * fn(x), say), which is what is differentiated
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__name__", repr(fn))
    if code is None:
        hint = "adcompile differentiates functions written in Python with `def`"
        raise AdCompileError(f"{name!r} is not a Python function", hint=hint)
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
        raw = function_source(code, getattr(fn, "__globals__", None))  # (never unwrapped)
    except (OSError, TypeError) as exc:
        raise AdCompileError(
            f"cannot read the source of {name!r} (defined in {filename})",
            hint="adcompile reads source code: define the function in a .py file "
            "(functions typed into a REPL or created with exec have no source to read)",
        ) from exc
    lines = linecache.getlines(filename, getattr(fn, "__globals__", None))
    whole = len(lines) >= code.co_firstlineno
    if not whole:  # no file to read: place the source at its lines
        lines = [""] * (code.co_firstlineno - 1) + raw.splitlines(keepends=True)
    # pytest compiles test modules from a rewritten tree: their asserts are not the text
    rewritten = "@py_builtins" in getattr(fn, "__globals__", {}) and (
        re.search(r"\bassert\b", raw) is not None
    )
    stale = None if rewritten or not whole else _stale_reason(code, lines)
    if stale is None:
        node = _parse_def(raw, code.co_firstlineno, filename, name)
        if node.name != code.co_name:
            stale = f"line {node.lineno} now defines {node.name!r}"
    if stale is not None:
        text = lines[code.co_firstlineno - 1].rstrip("\n") if whole else ""
        raise AdCompileError(
            f"the source of {name!r} in {_short(filename)} has changed since it was defined: "
            + stale,
            Loc(_short(filename), code.co_firstlineno, len(text) - len(text.lstrip()), text),
            hint="reload the module (importlib.reload) or re-import it in a fresh interpreter, "
            "so that the code that runs and the file agree",
        )

    cells = dict(zip(code.co_freevars, fn.__closure__ or (), strict=True))
    glob = fn.__globals__

    def lookup(ident: str) -> object:
        # read now, not when fn was handed over: the guards record what was compiled
        cell = cells.get(ident)
        if cell is not None:
            try:
                value = cell.cell_contents
            except ValueError:
                return Unresolved(ident, "the closure variable is not yet assigned")
            _note(cell, None, value)
            return value
        if ident in glob:
            value = glob[ident]
            _note(glob, ident, value)
            return value
        if hasattr(builtins, ident):
            _note(glob, ident, ABSENT)
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


def _bound_method(method: types.MethodType) -> SourceFunction:
    """The function of ``method`` without its first parameter, which resolves to the
    object it is bound to."""
    src = from_function(method.__func__)
    params = src.node.args.args
    if not params or src.node.args.posonlyargs:
        raise AdCompileError(
            f"{method.__qualname__} is a bound method whose function takes no self",
            src.loc(src.node),
            hint="differentiate the function itself",
        )
    node = copy.copy(src.node)
    node.args = copy.copy(node.args)
    node.args.args = params[1:]
    node.args.defaults = node.args.defaults[-(len(params) - 1) :] if len(params) > 1 else []
    me, owner, lookup = params[0].arg, method.__self__, src.lookup

    def bound_lookup(ident: str) -> object:
        return owner if ident == me else lookup(ident)

    return dataclasses.replace(src, node=node, lookup=bound_lookup, function=method, key=method)


def _stale_reason(code: types.CodeType, lines: list[str]) -> str | None:
    """Why the file's text, ``lines``, is not what ``code`` was compiled from, or None
    when it is. The whole text is compiled again and the code object defined at
    ``code``'s line, under its name, compared with ``code``: an edit anywhere in the
    function (or a nested function, a method, a closure) changes its names, constants,
    bytecode or source positions. Works on every supported Python: 3.10 compares line
    tables, 3.11+ the finer column positions too."""
    text = "".join(lines)
    flags = code.co_flags & _FUTURE_FLAGS
    try:
        module = _compiled_text(text, code.co_filename, flags)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError, OverflowError):
        return "the file no longer compiles (edited after the import?)"
    want = None
    found = False
    for candidate in _code_objects(module):
        if candidate.co_name == code.co_name and candidate.co_firstlineno == code.co_firstlineno:
            found = True
            # equal code objects (bytecode, constants, names and positions) have equal
            # summaries: the instruction-by-instruction summary, whose cost grows with
            # the function, is only needed for code compiled apart from its file
            if candidate == code:
                return None
            want = _summary(code) if want is None else want
            if _summary(candidate) == want:
                return None
    if not found:
        line = lines[code.co_firstlineno - 1] if code.co_firstlineno <= len(lines) else ""
        other = re.match(r"\s*(?:async\s+)?def\s+(\w+)", line)
        if other:
            return f"line {code.co_firstlineno} now defines {other.group(1)!r}"
        return f"line {code.co_firstlineno} no longer defines {code.co_name!r}"
    return (
        "its code does not match the text (edited after the import?), and adcompile "
        "would differentiate the text"
    )


@functools.lru_cache(maxsize=16)
def _compiled_text(text: str, filename: str, flags: int) -> types.CodeType:
    return compile(text, filename, "exec", flags=flags, dont_inherit=True)


def _code_objects(code: types.CodeType):
    """Every code object nested in ``code`` (functions, methods, nested functions)."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _code_objects(const)


_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _summary(code: types.CodeType) -> tuple:
    """What an edit of the source changes in its code: its names, constants, and each
    instruction with its argument and source position (line, and on 3.11+ columns).

    Instructions are compared by name and argument value, not as raw bytecode: how
    CPython 3.11+ compiles ``np.sum(x)`` depends on whether the same compilation unit
    imports ``np`` (method call or attribute load), so a function compiled in a
    fragment of its file (a notebook cell, a pasted block) and the same text compiled
    whole differ in those bytes but not in what they compute."""
    return (
        code.co_name,
        code.co_firstlineno,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        _instructions(code),
        tuple(
            _summary(c) if isinstance(c, types.CodeType) else (type(c), repr(c))
            for c in code.co_consts
        ),
    )


_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs) | frozenset(getattr(dis, "hasjump", ()))
_SAME_OP = {"LOAD_METHOD": "LOAD_ATTR", "CALL_METHOD": "CALL_FUNCTION"}
_IGNORED_OPS = frozenset({"PUSH_NULL", "EXTENDED_ARG", "NOP", "CACHE", "PRECALL"})


def _instructions(code: types.CodeType) -> tuple:
    kept = [i for i in dis.get_instructions(code) if i.opname not in _IGNORED_OPS]
    index = {i.offset: k for k, i in enumerate(kept)}
    out = []
    line = code.co_firstlineno
    for i in kept:
        if getattr(i, "positions", None) is not None:
            where = tuple(i.positions)
        else:  # 3.10: the line that starts here, if any
            line = i.starts_line or line
            where = (line,)
        if i.opcode in _JUMPS:
            value = ("jump", index.get(i.argval, i.argval))
        elif isinstance(i.argval, types.CodeType):
            value = ("code", i.argval.co_name)
        else:
            value = (type(i.argval).__name__, repr(i.argval))
        out.append((_SAME_OP.get(i.opname, i.opname), value, where))
    return tuple(out)


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
    try:
        with tokenize.open(path) as file:  # honours the file's encoding declaration
            text = file.read()
    except FileNotFoundError as exc:
        raise AdCompileError(
            f"no such file: {path}", hint="give the path of a Python file, then :FUNC"
        ) from exc
    except IsADirectoryError as exc:
        raise AdCompileError(
            f"{path} is a directory", hint="give the path of a Python file, then :FUNC"
        ) from exc
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AdCompileError(
            f"cannot read {path}: {reason}", hint="give the path of a Python source file"
        ) from exc
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        lineno = exc.lineno or 1
        lines = text.splitlines()
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else (exc.text or "")
        raise AdCompileError(
            f"syntax error: {exc.msg}",
            Loc(path, lineno, max(0, (exc.offset or 1) - 1), line.rstrip("\n")),
            hint="adcompile reads the file as Python source: fix the syntax first",
        ) from exc
    lines = text.splitlines(keepends=True)
    return _static_module(path, tree, lines).function(name)


class _StaticModule:
    """A file's top level, bound without running it.

    Bindings are taken in order, so the last one wins as it would at run time.
    Imports of :data:`SAFE_MODULES` and literal constants resolve to their values,
    ``def`` to the file's own functions; anything else becomes an
    :class:`Unresolved` saying why it needs the file to run.
    """

    def __init__(self, path: str, tree: ast.Module, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.names: dict[str, object] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.where: dict[str, ast.AST] = {}  # the node of each name's last binding
        self.stars: list[object] = []  # modules imported with *
        self.cache: dict[str, SourceFunction] = {}
        for stmt in tree.body:
            self._bind(stmt)

    def _set(self, name: str, value: object, node: ast.AST) -> None:
        self.names[name] = value
        self.functions.pop(name, None)
        self.where[name] = node

    def _bind(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self._set(alias.asname, self._import(alias.name), stmt)
                else:
                    top = alias.name.split(".")[0]
                    self._set(top, self._import(top), stmt)
        elif isinstance(stmt, ast.ImportFrom):
            self._bind_from(stmt)
        elif isinstance(stmt, ast.FunctionDef):
            self.names.pop(stmt.name, None)
            self.functions[stmt.name] = stmt
            self.where[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                self._assign(target, stmt.value)
        elif isinstance(stmt, ast.AnnAssign):
            self._assign(stmt.target, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            self._assign(stmt.target, None, "its value is computed when the file runs")
        elif isinstance(stmt, ast.ClassDef):
            self._set(
                stmt.name, Unresolved(stmt.name, "it is a class defined by running the file"), stmt
            )
        elif isinstance(stmt, ast.AsyncFunctionDef):
            self._set(stmt.name, Unresolved(stmt.name, "it is an async function"), stmt)
        elif _is_main_guard(stmt):
            pass  # runs only as a script: its names are not the module's
        elif isinstance(stmt, ast.If | ast.Try | ast.With | ast.For | ast.While | ast.Match):
            reason = (
                f"it is bound inside a top-level `{type(stmt).__name__.lower()}` block, "
                "so only running the file decides its value"
            )
            for node in _walk_scope(stmt):
                for name in _bound_names(node):
                    self._set(name, Unresolved(name, reason), node)
        else:
            for node in _walk_scope(stmt):  # e.g. a walrus inside an expression statement
                for name in _bound_names(node):
                    self._set(name, Unresolved(name, "it is assigned when the file runs"), node)

    def _bind_from(self, stmt: ast.ImportFrom) -> None:
        module = "." * stmt.level + (stmt.module or "")
        mod = self._import(module) if stmt.level == 0 else None
        for alias in stmt.names:
            if alias.name == "*":
                if isinstance(mod, types.ModuleType):
                    self.stars.append(mod)
                continue
            bound = alias.asname or alias.name
            if not isinstance(mod, types.ModuleType):
                value = Unresolved(
                    bound, f"it is imported from {module}: it needs `import {module}`"
                )
            else:
                value = getattr(mod, alias.name, None)
                if value is None:
                    value = Unresolved(bound, f"{module} has no {alias.name} to import")
            self._set(bound, value, stmt)

    def _assign(self, target: ast.expr, value: ast.expr | None, reason: str | None = None) -> None:
        if isinstance(target, ast.Name):
            self._set(target.id, self._literal(target.id, value, reason), target)
        elif isinstance(target, ast.Tuple | ast.List):
            values = value.elts if isinstance(value, ast.Tuple | ast.List) else None
            if values is not None and len(values) == len(target.elts):
                for t, v in zip(target.elts, values, strict=True):
                    self._assign(t, v, reason)
            else:
                for t in target.elts:
                    self._assign(t, None, reason or "its value is computed when the file runs")
        elif isinstance(target, ast.Starred):
            self._assign(target.value, None, "its value is computed when the file runs")

    def _import(self, module: str) -> object:
        if module.split(".")[0] not in SAFE_MODULES:
            return Unresolved(module, f"it needs `import {module}`")
        try:
            return importlib.import_module(module)
        except ImportError:
            return Unresolved(module, f"module {module} cannot be imported")

    def _literal(self, name: str, value: ast.expr | None, reason: str | None = None) -> object:
        if value is None:
            return Unresolved(name, reason or "it has no value")
        try:
            return ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return Unresolved(name, "its value is computed when the file runs")

    def lookup(self, ident: str) -> object:
        if ident in self.functions:
            return StaticFunction(ident, self.function(ident))
        if ident in self.names:
            return self.names[ident]
        for mod in reversed(self.stars):
            if hasattr(mod, ident) and not ident.startswith("_"):
                return getattr(mod, ident)
        if hasattr(builtins, ident):
            return getattr(builtins, ident)
        return Unresolved(ident, "it is not defined")

    def loc(self, node: ast.AST) -> Loc:
        lineno = getattr(node, "lineno", 1)
        text = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        col = _char_col(text, getattr(node, "col_offset", 0))
        return Loc(_short(self.path), lineno, col, text.rstrip("\n"))

    def function(self, name: str) -> SourceFunction:
        if name in self.cache:
            return self.cache[name]
        node = self.functions.get(name)
        if node is None:
            if name in self.where:
                what = self.names.get(name)
                if isinstance(what, Unresolved):
                    reason = f"{name!r} is not a function defined with def at the top level"
                    reason += f" of {self.path}: {what.reason}"
                else:
                    reason = f"{name!r} in {self.path} is {_describe(what)}, not a function"
                    reason += " defined there with def"
                hint = "adcompile show differentiates the functions a file defines with def"
                raise AdCompileError(reason, self.loc(self.where[name]), hint=hint)
            defined = ", ".join(sorted(self.functions)) or "none"
            raise AdCompileError(
                f"no function named {name!r} at the top level of {self.path}",
                hint=f"the functions defined there are: {defined}",
            )
        if node.decorator_list:
            decorator = node.decorator_list[0]
            raise AdCompileError(
                f"{name!r} is decorated with @{ast.unparse(decorator)}, and a decorator can "
                "change what the function computes: reading the file without running it, "
                "adcompile cannot know how",
                self.loc(decorator),
                hint="differentiate it from Python with adcompile.grad (which differentiates "
                "the decorated function), or show the function without the decorator",
            )
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


def _describe(value: object) -> str:
    if isinstance(value, types.ModuleType):
        return f"the module {value.__name__}"
    if callable(value):
        module = getattr(value, "__module__", None) or "another module"
        return f"{getattr(value, '__name__', 'a function')}, imported from {module}"
    return f"the constant {value!r}"


def _is_main_guard(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":``"""
    test = stmt.test if isinstance(stmt, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _walk_scope(node: ast.AST):
    """Like ast.walk, but not into nested scopes (their bindings are their own)."""
    yield node
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    comprehensions = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    for child in ast.iter_child_nodes(node):
        if isinstance(child, scopes + comprehensions):
            yield child  # its own name is bound here; its body is not
        else:
            yield from _walk_scope(child)


def _bound_names(node: ast.AST) -> list[str]:
    """The names one node binds in the scope it is in (not those of nested scopes)."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        return [node.id]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [a.asname or a.name.split(".")[0] for a in node.names if a.name != "*"]
    if isinstance(node, ast.ExceptHandler) and node.name:
        return [node.name]
    return []


def _static_module(path: str, tree: ast.Module, lines: list[str]) -> _StaticModule:
    return _StaticModule(path, tree, lines)


def def_loc(fn: Callable, param: str | None = None) -> Loc | None:
    """Where ``fn`` is defined: its ``def`` line (past any decorators), at ``param`` if given."""
    try:
        code = inspect.unwrap(fn).__code__
    except AttributeError:
        return None
    filename = _short(code.co_filename)
    lineno = code.co_firstlineno
    for n in range(lineno, lineno + 50):  # decorators may come first
        text = linecache.getline(code.co_filename, n).rstrip("\n")
        if re.match(r"\s*(async\s+)?def\b", text):
            lineno = n
            break
    else:
        text = linecache.getline(code.co_filename, lineno).rstrip("\n")
    col = len(text) - len(text.lstrip())
    if param is not None:
        found = re.search(rf"[(,\s]({re.escape(param)})\b", text)
        if found:
            col = found.start(1)
    return Loc(filename, lineno, col, text)
