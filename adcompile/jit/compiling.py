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
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import AdCompileError, Loc
from . import native, standalone
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


def require_numba() -> None:
    """A located refusal when numba is not installed (without importing it)."""
    if importlib.util.find_spec("numba") is None:
        numba_module()


def helpers_files() -> list[Path]:
    """The files of the helpers generated modules import: their text is part of a
    module's name, as numba's cache does not see them change."""
    here = Path(__file__).parent
    return [here / name for name in ("helpers.py", "numpycode.py", "native.py")]


def module_key(module: Module) -> str:
    h = hashlib.sha256()
    h.update(module.text.encode())
    for path in helpers_files():  # (their code is linked into the module's)
        h.update(path.read_bytes())
    h.update(f"{standalone._version('numba')} {np.__version__} {sys.version}".encode())
    for name in sorted(module.arrays):
        a = np.ascontiguousarray(module.arrays[name])
        h.update(f"{name} {a.dtype} {a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


def write(module: Module, main: str) -> tuple[Path, str]:
    """The file of ``module`` in the cache directory (written if it is not there) and
    the name of its Python module. Needs no numba."""
    key = module_key(module)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{main}_{key}.py"
    if not path.exists() or path.read_text() != module.text:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(module.text)
        os.replace(tmp, path)
    return path, f"adcompile_numba_{main}_{key}"


def dispatcher(module: Module, path: Path, name: str, main: str):
    """The numba dispatcher of the function ``main`` of ``module``, imported from its
    file ``path`` as the module ``name``."""
    numba_module()
    spec = importlib.util.spec_from_file_location(name, path)
    mod = sys.modules.get(name)
    if mod is None:
        # (in sys.modules: numba's cache finds a function's globals by its module name)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    for k, v in module.arrays.items():
        setattr(mod, k, v)
    return getattr(mod, main)


class Compiled:
    """The numba backend's function for a generated module: it calls numba's machine
    code for the arguments' kinds, loaded without numba when this process has no
    numba dispatcher yet and an earlier one exported it (``jit/standalone.py``), else
    through numba's dispatcher, which compiles (or loads from numba's cache) and whose
    new compilations are exported. numba's compile errors become located
    AdCompileErrors; the arguments at the positions ``containers`` (lists and tuples)
    are passed as their elements (see ``jit/unroll.py``)."""

    def __init__(self, module: Module, path: Path, name: str, main: str, containers: list[int]):
        self.module, self.path, self.name, self.main = module, path, name, main
        self.containers = containers
        self.dispatcher = None
        self.loaded: dict = {}  # kinds -> function loaded without numba
        self._exported: set = set()
        self._compiled = 0
        self._lock = threading.Lock()
        self.kernel = None  # the latest kernel called (jit/kernel.py)
        self.kernels: dict = {}  # expected(args) -> Kernel, or None where refused
        self.kernel_refusal = ""  # why jit/kernel.py did not take the latest refused
        self._numba_error: type | tuple = ()  # (numba's NumbaError, once it is imported)

    def __call__(self, *args):
        if self.containers:
            args = tuple(self._flat(args))
        kernel = self.kernel
        if kernel is not None and kernel.matches(args):
            return kernel(args)
        kernel = self._kernel(args)
        if kernel is not None:
            return kernel(args)
        try:
            if self.dispatcher is None:
                fn = self.loaded.get(standalone.quick_kinds(args))
                if fn is not None:
                    return fn(*args)
                with self._lock:
                    fn = self._load(args) if self.dispatcher is None else None
                    if fn is None and self.dispatcher is None:
                        self._start_numba()
                if fn is not None:
                    return fn(*args)
            out = self.dispatcher(*args)
        except AdCompileError as exc:
            if exc.loc is None and exc.reason == native.NO_GEMM:
                raise no_gemm(self.module) from None
            raise
        except self._numba_error as exc:
            raise refusal(exc, self.module, str(self.path)) from None
        if len(self.dispatcher.overloads) != self._compiled:
            self._compiled = len(self.dispatcher.overloads)
            standalone.export(self.dispatcher, self.path.with_suffix(""), self._exported)
        return out

    def _kernel(self, args: tuple):
        """The kernel for ``args`` (compiled now if need be), or None where
        ``jit/kernel.py`` does not take the code or these arguments."""
        mode = os.environ.get("ADCOMPILE_KERNEL", "1")
        if mode == "0" or self.kernels.get(None, 0) is None:
            return None
        from . import kernel

        key = kernel.expected(args)
        if key is None:
            return None
        if key not in self.kernels:
            with self._lock:
                if key not in self.kernels:
                    self.kernels[key] = self._compile_kernel(kernel, args, mode == "strict")
        found = self.kernels[key]
        if found is not None:
            self.kernel = found
        return found

    def _compile_kernel(self, kernel, args: tuple, strict: bool):
        try:
            module, folder = self.module, self.path.parent
            return kernel.compile_kernel(module.text, self.main, args, module.arrays, folder)
        except kernel.Unsupported as exc:
            self.kernel_refusal = str(exc)
            if len(self.kernels) >= 8:
                self.kernels[None] = None  # (too many kinds of arguments: numba's)
            return None
        except Exception:
            if strict:  # (tests: a bug of the kernel compiler shows)
                raise
            return None  # (numba compiles it, to the same numbers)

    def _load(self, args) -> Callable | None:
        """The function exported for the kinds of ``args``, loaded without numba."""
        key = standalone.kinds(args)
        if None in key:
            return None
        fn = standalone.load(self.path.with_suffix(""), key, self.name)
        if fn is not None:
            self.loaded[standalone.quick_kinds(args)] = fn
        return fn

    def _start_numba(self) -> None:
        from numba.core.errors import NumbaError, NumbaPerformanceWarning

        # numba warns, when it compiles, that a matrix product of a transposed (not
        # contiguous) operand is slower: generated code has many (dz @ x.T), and the
        # warning says nothing the user can act on
        warnings.filterwarnings("ignore", category=NumbaPerformanceWarning)
        self._numba_error = NumbaError
        d = dispatcher(self.module, self.path, self.name, self.main)
        # (overloads numba loads from its own cache have no IR to export from)
        self._exported.update(d.overloads)
        self._compiled = len(d.overloads)
        self.dispatcher = d

    def _flat(self, args: tuple) -> list:
        flat = []
        for i, a in enumerate(args):
            if i in self.containers:
                flat += _leaves(a)
            else:
                flat.append(a)
        return flat


def _leaves(a) -> list:
    if isinstance(a, list | tuple):
        return [x for item in a for x in _leaves(item)]
    return [a]


# a call of a helper of jit/numpycode.py or jit/helpers.py that multiplies matrices
# with numpy's BLAS (matmul, matmul_add, matmul_adjoint_lhs...)
PRODUCT = re.compile(r"\bmatmul\w*\(")


def no_gemm(module: Module) -> AdCompileError:
    """The error of machine code compiled where numpy's BLAS had a matrix product, run
    where it has none: at the user's line of the module's first matrix product (numba
    names no line of the module, only its helper's; each product compiled to call the
    BLAS fails alike), with what to delete so that numba compiles the code again."""
    lines = module.text.splitlines()
    found = (loc for n, loc in sorted(module.line_map.items()) if PRODUCT.search(lines[n - 1]))
    return AdCompileError(
        native.NO_GEMM + " (the numpy running now is not the one it was compiled for)",
        next(found, None),
        hint="delete the machine code cached for it: numba's cache of adcompile/jit (its "
        f"__pycache__ folder, or $NUMBA_CACHE_DIR if set) and {cache_dir()}, or reinstall "
        "adcompile; then start Python again",
    )


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
