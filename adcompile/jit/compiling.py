"""Compiling a translated module (``jit/translate.py``) with numba.

numba caches compiled machine code next to a function's source file, keyed by that
file's path and modification time. The module is therefore written to a real file,
named by a hash of its text, of the helpers' text (helpers.py, numpycode.py and
native.py, whose code is linked into the module's), of the numba and numpy
versions and of the bytes of the arrays it reads, in adcompile's cache directory
(``$ADCOMPILE_CACHE_DIR``, else ``~/.cache/adcompile``): the same gradient in a
second process finds the same file, unchanged, and numba loads its machine code
instead of compiling it. A file is written once and never rewritten in place.

A numba compile error (typing, lowering, an unsupported construct) is turned into a
located :class:`AdCompileError` naming the construct and the user's line it comes
from."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import AdCompileError, Loc
from .translate import HINT, Module

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WHERE = re.compile(r'File "([^"]+)", line (\d+)')


def cache_dir() -> Path:
    base = os.environ.get("ADCOMPILE_CACHE_DIR")
    root = Path(base) if base else Path.home() / ".cache" / "adcompile"
    return root / "numba"


def numba_module():
    """numba, or a located refusal when it is not installed."""
    try:
        import numba
    except ImportError as exc:
        raise AdCompileError(
            "backend='numba' needs numba, which is not installed",
            hint="pip install 'adcompile[numba]' (or pip install numba scipy)",
        ) from exc
    return numba


def module_key(module: Module) -> str:
    numba = numba_module()
    from . import helpers, native, numpycode

    h = hashlib.sha256()
    h.update(module.text.encode())
    for source in (helpers, numpycode, native):  # (their code is linked into the module's)
        h.update(Path(source.__file__).read_bytes())
    h.update(f"{numba.__version__} {np.__version__} {sys.version}".encode())
    for name in sorted(module.arrays):
        a = np.ascontiguousarray(module.arrays[name])
        h.update(f"{name} {a.dtype} {a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


def load(module: Module, main: str) -> Callable:
    """The numba dispatcher of the function ``main`` of ``module``, written to and
    imported from its file in the cache directory."""
    numba_module()
    key = module_key(module)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{main}_{key}.py"
    if not path.exists() or path.read_text() != module.text:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(module.text)
        os.replace(tmp, path)
    name = f"adcompile_numba_{main}_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = sys.modules.get(name)
    if mod is None:
        # (in sys.modules: numba's cache finds a function's globals by its module name)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    for k, v in module.arrays.items():
        setattr(mod, k, v)
    return getattr(mod, main), str(path)


def wrap(dispatcher, module: Module, path: str, containers: list[int]) -> Callable:
    """A function calling ``dispatcher`` that turns numba's compile errors (raised
    on the first call with each kind of arguments) into located AdCompileErrors, and
    passes the arguments at the positions ``containers`` (lists and tuples) as their
    elements (see ``jit/unroll.py``)."""
    from numba.core.errors import NumbaError, NumbaPerformanceWarning

    # numba warns, when it compiles, that a matrix product of a transposed (not
    # contiguous) operand is slower: generated code has many (dz @ x.T), and the
    # warning says nothing the user can act on
    warnings.filterwarnings("ignore", category=NumbaPerformanceWarning)

    def call(*args):
        try:
            return dispatcher(*args)
        except NumbaError as exc:
            raise refusal(exc, module, path) from None

    if containers:
        plain = call

        def call(*args):
            flat = []
            for i, a in enumerate(args):
                if i in containers:
                    flat += _leaves(a)
                else:
                    flat.append(a)
            return plain(*flat)

    call.dispatcher = dispatcher
    return call


def _leaves(a) -> list:
    if isinstance(a, list | tuple):
        return [x for item in a for x in _leaves(item)]
    return [a]


def refusal(exc: Exception, module: Module, path: str) -> AdCompileError:
    """The located error for numba's ``exc``: at the user's line of the deepest line
    of the module that numba names, with numba's first sentence as the construct."""
    text = ANSI.sub("", str(exc))
    loc: Loc | None = None
    for file, line in WHERE.findall(text):
        if os.path.basename(file) == os.path.basename(path):
            loc = module.line_map.get(int(line), loc)
    summary = _summary(text)
    return AdCompileError(
        f"numba cannot compile the gradient of this line: {summary}",
        loc,
        hint=HINT,
    )


def _summary(text: str) -> str:
    """The first informative lines of a numba error message, on one line."""
    keep = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("Failed in", "During:", "File ", "raised from")):
            continue
        if line.startswith(("There are", "- Of which", "Overload", "With argument", "Rejected")):
            continue
        keep.append(line)
        if len(keep) == 2:
            break
    out = " ".join(keep) or "an unsupported construct"
    return out if len(out) <= 300 else out[:297] + "..."
