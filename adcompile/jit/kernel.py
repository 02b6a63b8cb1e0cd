"""adcompile's own compiler for straight-line array code of known shapes: the numba
backend's quick path.

numba takes seconds to compile a gradient the first time (its start-up alone is a
third of a second), where the gradient of a network is often a few dozen lines of
array arithmetic, matrix products and reductions on arrays whose shapes the call
fixes. For such code (``translate.py``'s module, as ``adcompile show --backend
numba`` prints it), this module writes the LLVM IR itself with llvmlite (which numba
is built on) and compiles it in tens of milliseconds:

* every value has a shape known when the code is compiled: the arguments' shapes,
  and what numpy's rules make of them (broadcasting, ``.T``, constant indexing,
  reductions, matrix products);
* arithmetic, comparisons and the elementwise functions of a statement are fused
  into one loop nest (each element computed in numpy's order of operations);
  ``numpy_exp``... call numpy's own loops and ``matmul`` numpy's BLAS ``gemm``
  through ``jit/native.py``'s table, as numba-compiled code does;
* every intermediate array lives in an arena allocated once per compiled function
  and reused by the next call; the arrays returned are new on every call.

Code outside this subset (loops, lists, integer or float32 arrays, helpers other
than those above) raises :class:`Unsupported` here, and numba compiles it as
before: both compile the same module, to the same numbers (``tests/test_kernel.py``
runs both on the test suite's models). ``ADCOMPILE_KERNEL=0`` makes numba compile
everything."""

from __future__ import annotations

import ast
import ctypes
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import native
from .values import F8, Unsupported


def kernel_source(tree: ast.Module, main: str, args: tuple, arrays: dict):
    """(LLVM IR text, the layout of the returned values, the arena's size in bytes,
    the constant arrays the code reads) of the function ``main`` of the translated
    module ``tree``, for the flat arguments ``args`` (C-contiguous float64 arrays and
    Python floats); raises Unsupported for code outside the subset."""
    from .emitter import Emitter  # (not needed to load machine code compiled before)

    em = Emitter(tree, main, args, arrays)
    em.run()
    return em.finish()


# ------------------------------------------------------------------ compiling, calling

_C_ALIGNED = 0x1 | 0x100  # NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED
KEEP = 256 * 2**20  # bytes: an arena up to this size is kept for the next call
# the kernel reads a float's value and an array's data pointer at byte 16 and a
# tuple's items from byte 24 of the objects: a release build's layout on a 64-bit
# platform (a debug or free-threaded build's objects start with more)
_OBJECTS_AS_READ = (
    ctypes.sizeof(ctypes.c_void_p) == 8 and float.__basicsize__ == 24 and tuple.__basicsize__ == 24
)
_started = False


def _binding():
    """llvmlite's binding, started once (native targets, the table's symbol)."""
    global _started
    import llvmlite.binding as llvm

    if not _started:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        native.register()
        _started = True
    return llvm


def _optimise(llvm, module, tm) -> None:
    try:
        pto = llvm.create_pipeline_tuning_options(speed_level=2)
        pto.loop_vectorization = True
        # (the SLP vectoriser's time grows with the glue between statements, long
        # once loops are unrolled, and it gained nothing measurable there)
        pto.slp_vectorization = False
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(module, pb)
    except AttributeError:  # pragma: no cover - llvmlite before the new pass manager
        pmb = llvm.create_pass_manager_builder()
        pmb.opt_level = 2
        pmb.loop_vectorize = True
        pmb.slp_vectorize = False
        pm = llvm.create_module_pass_manager()
        pmb.populate(pm)
        pm.run(module)


def expected(args: tuple) -> tuple | None:
    """What a kernel compiled for ``args`` checks of each call's arguments (an
    array's shape, or None for a float); None if some argument is neither a
    C-contiguous aligned float64 array nor a float."""
    out = []
    for a in args:
        if type(a) is np.ndarray:
            if a.dtype is not F8 or a.flags.num & _C_ALIGNED != _C_ALIGNED:
                return None
            out.append(a.shape)
        elif type(a) in (float, np.float64):
            out.append(None)
        elif type(a) is int and abs(a) < 2**53:  # (passed as a float: exact)
            out.append(int)
        else:
            return None
    return tuple(out)


class Kernel:
    """A compiled gradient: called with the tuple of a call's flat arguments, for
    which :meth:`matches` is true."""

    def __init__(self, engine, address: int, record: dict, expect: tuple, consts: tuple):
        self._engine = engine  # (alive as long as the code)
        obj, ptr = ctypes.py_object, ctypes.c_void_p
        self._fn = ctypes.CFUNCTYPE(None, obj, obj, ptr, ptr)(address)
        self.layout, self.outputs = record["layout"], record["outputs"]
        self.expect, self._consts = expect, consts
        self._arena, self._numbers = record["arena"], _count_numbers(self.layout)
        self._pool: list = []  # frames no call is using: (arena, numbers, addresses)
        # the result from the new arrays o and the numbers n, as one expression
        self._build = eval(f"lambda o, n: {_expression(self.layout)}")  # noqa: S307
        self._ints = [i for i, e in enumerate(expect) if e is int]

    def matches(self, args) -> bool:
        return expected(args) == self.expect

    def _frame(self):
        arena = np.empty(self._arena // 8 + 8)
        start = -arena.ctypes.data % 64  # (64-byte aligned)
        numbers = (ctypes.c_double * max(1, self._numbers))()
        return arena, numbers, arena.ctypes.data + start, ctypes.addressof(numbers)

    def __call__(self, args: tuple):
        pool = self._pool
        try:
            frame = pool.pop()  # (one per concurrent call: list.pop is atomic)
        except IndexError:
            frame = self._frame()
        outs = tuple([np.empty(s) for s in self.outputs])
        if self._ints:  # (an int is read as a float)
            args = tuple(float(a) if i in self._ints else a for i, a in enumerate(args))
        self._fn(args + self._consts if self._consts else args, outs, frame[2], frame[3])
        result = self._build(outs, frame[1])
        if self._arena <= KEEP:  # (a larger arena is freed, as numpy's arrays would be)
            pool.append(frame)
        return result


def _expression(layout) -> str:
    """The text of an expression of the result of ``layout`` (a returned array is
    ``o[k]``, a number ``n[k]``, a ctypes double read as a float)."""
    kind, what = layout
    if kind == "tuple":
        items = [_expression(x) for x in what]
        return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    if kind == "array":
        return f"o[{int(what)}]"
    return "None" if kind == "none" else f"n[{int(what)}]"


def _count_numbers(layout) -> int:
    kind, what = layout
    if kind == "tuple":
        return sum(_count_numbers(x) for x in what)
    return 1 if kind == "number" else 0


# ------------------------------------------------------------------ the object cache

FORMAT = 1
_SOURCES = ("kernel.py", "emitter.py", "calls.py", "access.py", "values.py", "native.py")
_KEYS: dict = {}


def _compiler_key(llvm) -> str:
    """What the machine code depends on besides the module and the arguments: this
    compiler's source, the table's layout and which of its slots hold a function, the
    CPU and the versions."""
    if "key" not in _KEYS:
        h = hashlib.sha256()
        here = Path(__file__).parent
        for name in _SOURCES:
            h.update((here / name).read_bytes())
        filled = [bool(native.TABLE[i]) for i in range(native.SIZE)]
        h.update(repr((FORMAT, native.LAYOUT, filled, llvm.llvm_version_info)).encode())
        h.update(repr((llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten())).encode())
        h.update(f"{np.__version__} {sys.version}".encode())
        _KEYS["key"] = h.hexdigest()
    return _KEYS["key"]


def _cached(folder: Path, text: str, main: str, expect: tuple, consts: dict, llvm) -> Path:
    h = hashlib.sha256(_compiler_key(llvm).encode())
    h.update(text.encode())
    shapes = [(k, a.shape) for k, a in consts.items()]
    h.update(repr((main, expect, shapes)).encode())
    return folder / f"{main}-{h.hexdigest()[:24]}.kernel"


def _target(llvm):
    """A target machine for this CPU (an engine owns its own: one each)."""
    return llvm.Target.from_triple(llvm.get_process_triple()).create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=2,
        codemodel="jitdefault",
        jit=True,
    )


def _load(llvm, record: dict):
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target(llvm))
    engine.add_object_file(llvm.ObjectFileRef.from_data(record["object"]))
    engine.finalize_object()
    address = engine.get_function_address("kernel")
    if not address:
        raise LookupError("no kernel in the object code")
    return engine, address


def compile_kernel(text: str, main: str, args: tuple, arrays: dict, folder: Path) -> Kernel:
    """The kernel of the function ``main`` of the translated module ``text`` for
    calls like ``args``: its machine code from ``folder`` if an earlier process
    compiled it, else compiled now and written there; raises Unsupported for code
    outside the subset."""
    if not _OBJECTS_AS_READ:
        raise Unsupported("a Python build whose objects are laid out otherwise")
    expect = expected(args)
    if expect is None:
        raise Unsupported("arguments other than float64 arrays and floats")
    consts = {}
    for k, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype != F8:
            raise Unsupported("a constant other than a float64 array")
        consts[k] = np.ascontiguousarray(a)
    llvm = _binding()
    path = _cached(folder, text, main, expect, consts, llvm)
    record = None
    if path.exists():
        try:
            record = pickle.loads(path.read_bytes())
            engine, address = _load(llvm, record)
        except Exception:  # (a damaged file: compiled again)
            record = None
    if record is None:
        ir_text, layout, arena, outputs = kernel_source(ast.parse(text), main, args, consts)
        module = llvm.parse_assembly(ir_text)
        module.verify()
        tm = _target(llvm)
        # (the target known, LLVM knows the C library: sin and cos of one value
        # become one sincos, and so on)
        module.triple = llvm.get_process_triple()
        module.data_layout = str(tm.target_data)
        _optimise(llvm, module, tm)
        record = {"layout": layout, "arena": arena, "outputs": outputs}
        record["object"] = tm.emit_object(module)
        engine, address = _load(llvm, record)
        _write(path, record)
    return Kernel(engine, address, record, expect, tuple(consts.values()))


def _write(path: Path, record: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(record, f)
        os.replace(tmp, path)
    except OSError:  # (a read-only cache: compiled in each process)
        pass
