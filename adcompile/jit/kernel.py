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

import numpy as np

from . import native
from .emitter import Emitter
from .values import F8, Unsupported


def kernel_source(tree: ast.Module, main: str, args: tuple, arrays: dict):
    """(LLVM IR text, the layout of the returned values, the arena's size in bytes,
    the constant arrays the code reads) of the function ``main`` of the translated
    module ``tree``, for the flat arguments ``args`` (C-contiguous float64 arrays and
    Python floats); raises Unsupported for code outside the subset."""
    em = Emitter(tree, main, args, arrays)
    em.run()
    return em.finish()


# ------------------------------------------------------------------ compiling, calling

_C_ALIGNED = 0x1 | 0x100  # NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED
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
        pto.slp_vectorization = True
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(module, pb)
    except AttributeError:  # pragma: no cover - llvmlite before the new pass manager
        pmb = llvm.create_pass_manager_builder()
        pmb.opt_level = 2
        pmb.loop_vectorize = True
        pmb.slp_vectorize = True
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
        else:
            return None
    return tuple(out)


class Kernel:
    """A compiled gradient: called with the tuple of a call's flat arguments, for
    which :meth:`matches` is true."""

    def __init__(self, engine, address: int, layout, arena: int, outputs: list, numbers: int,
                 expect: tuple, keep: dict):  # fmt: skip
        import ctypes

        self._engine, self._keep = engine, keep  # (alive as long as the code)
        obj, ptr = ctypes.py_object, ctypes.c_void_p
        proto = ctypes.CFUNCTYPE(None, obj, obj, ptr, ptr)
        self._fn = proto(address)
        self.layout, self.outputs, self.expect = layout, outputs, expect
        self._arena, self._numbers = arena, numbers
        self._pool: list = []  # frames no call is using: (arena, numbers, addresses)
        self._flat = layout[0] == "tuple" and [p for p in layout[1]] == [
            ("array", k) for k in range(len(outputs))
        ]

    def matches(self, args) -> bool:
        if len(args) != len(self.expect):
            return False
        for a, e in zip(args, self.expect, strict=True):
            if e is None:
                if type(a) is not float and type(a) is not np.float64:
                    return False
            elif (
                type(a) is not np.ndarray
                or a.shape != e
                or a.dtype is not F8
                or (a.flags.num & _C_ALIGNED != _C_ALIGNED)
            ):
                return False
        return True

    def _frame(self):
        arena = np.empty(self._arena // 8 + 8)
        start = -arena.ctypes.data % 64  # (64-byte aligned)
        numbers = np.empty(max(1, self._numbers))
        return arena, numbers, arena.ctypes.data + start, numbers.ctypes.data

    def __call__(self, args: tuple):
        pool = self._pool
        frame = pool.pop() if pool else self._frame()
        outs = tuple([np.empty(s) for s in self.outputs])
        self._fn(args, outs, frame[2], frame[3])
        numbers = frame[1]
        result = outs if self._flat else _build(self.layout, outs, numbers)
        pool.append(frame)
        return result


def _build(layout, outs: tuple, numbers: np.ndarray):
    kind, what = layout
    if kind == "tuple":
        return tuple(_build(x, outs, numbers) for x in what)
    if kind == "array":
        return outs[what]
    return float(numbers[what])


def compile_kernel(text: str, main: str, args: tuple, arrays: dict) -> Kernel:
    """The kernel of the function ``main`` of the translated module ``text`` for
    calls like ``args``; raises Unsupported for code outside the subset."""
    expect = expected(args)
    if expect is None:
        raise Unsupported("arguments other than float64 arrays and floats")
    consts = {}
    for k, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype != F8:
            raise Unsupported("a constant other than a float64 array")
        consts[k] = np.ascontiguousarray(a)
    ir_text, layout, arena, outputs = kernel_source(ast.parse(text), main, args, consts)
    llvm = _binding()
    module = llvm.parse_assembly(ir_text)
    module.verify()
    target = llvm.Target.from_default_triple()
    tm = target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=2
    )
    _optimise(llvm, module, tm)
    engine = llvm.create_mcjit_compiler(module, tm)
    engine.finalize_object()
    numbers = _count_numbers(layout)
    address = engine.get_function_address("kernel")
    return Kernel(engine, address, layout, arena, outputs, numbers, expect, consts)


def _count_numbers(layout) -> int:
    kind, what = layout
    if kind == "tuple":
        return sum(_count_numbers(x) for x in what)
    return 1 if kind == "number" else 0
