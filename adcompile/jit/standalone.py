"""Running the numba backend's machine code in a process that never imports numba.

numba's own cache (``cache=True``) makes a second process skip compiling, but not
numba's start-up: loading a cached function first builds numba's typing and target
registries and imports scipy for its BLAS bindings, about 0.35 s on an idle core
before the first call. Yet the machine code itself needs none of that: it calls
numba's small C runtime (``_helperlib``, ``_nrt_python``, ``_dynfunc``: allocation,
boxing, errors), the Python C API, the C library and numpy's own loops and BLAS
(``jit/native.py``).

So when numba compiles a gradient for a kind of arguments in this process,
:func:`export` writes beside the generated module what running it takes: the linked
object code of the function and everything it calls, the names of its CPython
entry point and of its environment, the constants that environment holds, the
external symbols the code refers to, and the machine it was compiled for. In a new
process, :func:`load` links that object code with llvmlite's MCJIT against numba's
C runtime, loaded from its extension files without importing the ``numba`` package,
and makes the entry point a Python function, as numba would: the first call costs
milliseconds. Anything unexpected (another CPU, a symbol nothing provides, other
versions, a file from another format) makes :func:`load` return None, and the
caller goes through numba as before. Nothing here is a second compiler: the code is
numba's, compiled by numba, and the artefact is only ever read on the machine and
versions that wrote it.
"""

from __future__ import annotations

import builtins
import ctypes
import hashlib
import importlib.util
import os
import pickle
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

FORMAT = 1
SUFFIX = ".native"
# numba settings that change the machine code it makes for the same CPU: with any of
# them set, everything goes through numba
_NUMBA_SETTINGS = {"NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "NUMBA_ENABLE_AVX", "NUMBA_OPT"}

# the kind of a scalar argument, as numba types it
_SCALARS = {float: "f8", np.float64: "f8", bool: "b1", np.bool_: "b1"}
_INT64 = (-(2**63), 2**63)


def kind(a: object) -> object:
    """What numba's type of argument ``a`` depends on, as a hashable value: for an
    array its dtype, number of dimensions, layout and writability; for a
    number its type; None for anything else (such calls always go through numba)."""
    t = type(a)
    if t is np.ndarray:
        f = a.flags
        layout = "C" if f.c_contiguous else "F" if f.f_contiguous else "A"
        return (a.dtype.str, a.ndim, layout, f.writeable)
    if t is int or t is np.int64:
        return "i8" if _INT64[0] <= a < _INT64[1] else None
    return _SCALARS.get(t)


def kinds(args: tuple) -> tuple:
    return tuple(map(kind, args))


_FLAGS = 0x1 | 0x2 | 0x400  # C_CONTIGUOUS, F_CONTIGUOUS, WRITEABLE


def _quick(a: object) -> object:
    t = type(a)
    if t is np.ndarray:
        return (a.dtype, a.ndim, a.flags.num & _FLAGS)
    return t if t is not int else kind(a)


def quick_kinds(args: tuple) -> tuple:
    """A key that decides kinds(args), quicker to compute (one flags read an array)."""
    return tuple(map(_quick, args))


def _kind_of_type(ty) -> object:
    """kind() of an argument of numba type ``ty``, or None if it has no such kind."""
    from numba.core import types
    from numba.np.numpy_support import as_dtype

    if isinstance(ty, types.Array) and ty.aligned:  # (numba types every array aligned)
        dtype = as_dtype(ty.dtype)
        return (dtype.str, ty.ndim, ty.layout, ty.mutable)
    if ty == types.float64:
        return "f8"
    if ty == types.int64:
        return "i8"
    if ty == types.boolean:
        return "b1"
    return None


def artefact(stem: Path, key: tuple) -> Path:
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    return stem.with_name(f"{stem.name}-{digest}{SUFFIX}")


def _versions() -> tuple:
    return (FORMAT, _version("numba"), _version("llvmlite"), np.__version__, sys.version)


_VERSIONS: dict = {}


def _version(dist: str) -> str:
    """The installed version of package ``dist``: its ``_version.py`` file (a quick
    read: importing importlib.metadata alone takes tens of milliseconds), else its
    metadata."""
    if dist not in _VERSIONS:
        spec = importlib.util.find_spec(dist)
        found = ""
        if spec is not None and spec.origin:
            path = Path(spec.origin).parent / "_version.py"
            if path.exists():
                found = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            else:
                from importlib import metadata

                try:
                    found = metadata.version(dist)
                except metadata.PackageNotFoundError:
                    pass
        _VERSIONS[dist] = found
    return _VERSIONS[dist]


# ------------------------------------------------------------------------ export


def export(dispatcher, stem: Path, done: set) -> None:
    """Write the artefact of every overload of ``dispatcher`` that numba compiled in
    this process and that is not in ``done`` (the signatures already looked at)."""
    for sig, cres in list(dispatcher.overloads.items()):
        if sig in done:
            continue
        done.add(sig)
        try:
            record = _record(cres)
        except Exception:  # (numba's internals differ from what this module reads)
            record = None
        if record is None:
            continue
        path = artefact(stem, record["kinds"])
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                pickle.dump(record, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:  # (a full or read-only disk: the next process goes through numba)
            pass


def _record(cres) -> dict | None:
    """What running ``cres`` (numba's compile result) without numba takes, or None
    when this module cannot run it: loaded from numba's cache (no IR to read the
    external symbols from), object mode, or an argument without a kind()."""
    if getattr(cres, "objectmode", False) or _NUMBA_SETTINGS & set(os.environ):
        return None
    key = tuple(_kind_of_type(t) for t in cres.signature.args)
    if None in key:
        return None
    library = cres.library
    module = getattr(library, "_final_module", None)
    if module is None:
        return None
    envs = [g.name for g in module.global_variables if g.name.startswith("_ZN08NumbaEnv")]
    unresolved = [g.name for g in module.global_variables if "numba_unresolved" in g.name]
    if unresolved:
        return None
    externals = [f.name for f in module.functions if f.is_declaration]
    externals += [g.name for g in module.global_variables if g.is_declaration]
    env = cres.environment
    return {
        "versions": _versions(),
        "machine": library.codegen.magic_tuple(),
        "kinds": key,
        "object": library._get_compiled_object(),
        "entry": cres.fndesc.llvm_cpython_wrapper_name,
        "name": cres.fndesc.qualname.split(".")[-1],
        "env": cres.fndesc.env_name,
        "envs": envs,
        "consts": pickle.dumps(list(env.consts)),
        "externals": [s for s in externals if not s.startswith("llvm.")],
    }


# -------------------------------------------------------------------------- load


class _Runtime:
    """numba's C runtime and an llvmlite JIT in this process, set up once."""

    def __init__(self) -> None:
        import llvmlite.binding as ll

        self.ll = ll
        ll.initialize_native_target()
        ll.initialize_native_asmprinter()
        numba = sys.modules.get("numba")
        if numba is not None:  # (numba's own modules, if numba is already here)
            from numba import _dynfunc, _helperlib
            from numba.core.runtime import _nrt_python

            self.helperlib, self.nrt, self.dynfunc = _helperlib, _nrt_python, _dynfunc
        else:
            self.helperlib = _extension("_helperlib", "")
            self.nrt = _extension("_nrt_python", os.path.join("core", "runtime"))
            self.dynfunc = _extension("_dynfunc", "")
        self.symbols: set[str] = set()
        self._add("_Py_NoneStruct", id(None))
        for helpers in (self.helperlib.c_helpers, self.dynfunc.c_helpers):
            for name, address in helpers.items():
                self._add("numba_" + name, address)
        for name, address in self.nrt.c_helpers.items():
            self._add(name if name.startswith("_") else "NRT_" + name, address)
        for name in dir(builtins):
            obj = getattr(builtins, name)
            if isinstance(obj, type) and issubclass(obj, BaseException):
                self._add(f"PyExc_{name}", id(obj))
        # numba's numba_unpickle imports numba (its pickler) on first use: without
        # numba, the objects it unpickles (classes, dtypes, exceptions) come from plain
        # pickle (numba, once imported and started, registers its own again)
        self._memo: dict = {}
        self._unpickle = ctypes.PYFUNCTYPE(
            ctypes.py_object, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
        )(self._load_pickled)
        if numba is None:
            self._add("numba_unpickle", ctypes.cast(self._unpickle, ctypes.c_void_p).value)
        for name, address in _native_symbols().items():
            self._add(name, address)
        self.process = ctypes.CDLL(None)
        self.machine = (
            ll.get_process_triple(),
            ll.get_host_cpu_name(),
            ll.get_host_cpu_features().flatten(),
        )

    def _add(self, name: str, address: int) -> None:
        self.ll.add_symbol(name, address)
        self.symbols.add(name)

    def _load_pickled(self, data: int, size: int, _hashed: int) -> object:
        obj = self._memo.get(data)
        if obj is None:
            obj = self._memo[data] = pickle.loads(ctypes.string_at(data, size))
        return obj

    def resolves(self, name: str) -> bool:
        if name in self.symbols:
            return True
        try:
            getattr(self.process, name)
        except AttributeError:
            return False
        return True

    def function(self, record: dict, module_name: str) -> Callable:
        ll = self.ll
        # (an engine owns its target machine: one each)
        target = ll.Target.from_triple(ll.get_process_triple()).create_target_machine(
            cpu=ll.get_host_cpu_name(), codemodel="jitdefault", jit=True
        )
        engine = ll.create_mcjit_compiler(ll.parse_assembly(""), target)
        engine.add_object_file(ll.ObjectFileRef.from_data(record["object"]))
        engine.finalize_object()
        consts = pickle.loads(record["consts"])
        envs = []
        main = None
        for name in record["envs"]:
            env = self.dynfunc.Environment({"__name__": module_name})
            if name == record["env"]:
                env.consts[:] = consts
                main = env
            envs.append(env)
            address = engine.get_global_value_address(name)
            ctypes.c_void_p.from_address(address).value = id(env)
        entry = engine.get_function_address(record["entry"])
        if main is None or not entry:
            raise LookupError("no entry point")
        holder = sys.modules.get(module_name) or sys.modules[__name__]
        doc = f"machine code of {record['name']}, compiled by numba, loaded without it"
        return self.dynfunc.make_function(
            holder, record["name"], doc, entry, main, (engine, envs, self)
        )


def _native_symbols() -> dict:
    """The symbols of numpy's loops and BLAS that the backend's helpers call."""
    try:
        from .native import SYMBOL, TABLE
    except ImportError:
        return {}
    return {SYMBOL: ctypes.addressof(TABLE)}


def _extension(name: str, folder: str):
    """numba's C extension ``name`` (in ``folder`` of the numba package), loaded from
    its file without running the package's ``__init__``."""
    from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader

    spec = importlib.util.find_spec("numba")
    base = Path(spec.origin).parent / folder
    for suffix in EXTENSION_SUFFIXES:
        path = base / (name + suffix)
        if path.exists():
            loader = ExtensionFileLoader(name, str(path))
            ext_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
            module = importlib.util.module_from_spec(ext_spec)
            loader.exec_module(module)
            return module
    raise ImportError(f"numba's {name} extension")


_RUNTIME: list = []
_LOCK = threading.Lock()


def _runtime() -> _Runtime | None:
    with _LOCK:
        if not _RUNTIME:
            try:
                _RUNTIME.append(_Runtime())
            except Exception:  # (no llvmlite, another numba layout: go through numba)
                _RUNTIME.append(None)
    return _RUNTIME[0]


def load(stem: Path, key: tuple, module_name: str) -> Callable | None:
    """The function exported for arguments of kinds ``key`` beside ``stem``, linked
    into this process without numba; None when there is none, or it was written for
    another machine or other versions, or it refers to a symbol nothing provides."""
    path = artefact(stem, key)
    if not path.exists() or _NUMBA_SETTINGS & set(os.environ):
        return None
    try:
        with open(path, "rb") as f:
            record = pickle.load(f)
        if record.get("versions") != _versions() or record.get("kinds") != key:
            return None
    except Exception:
        return None
    rt = _runtime()
    if rt is None or tuple(record["machine"]) != rt.machine:
        return None
    if not all(rt.resolves(s) for s in record["externals"]):
        return None
    try:
        return rt.function(record, module_name)
    except Exception:
        return None
