"""numpy's own machine code, for numba-compiled gradients to call: the inner loops of
numpy's functions of one array (``np.exp``, ``np.tanh``...) and the matrix product
(``gemm``) of the BLAS numpy links.

On import this module finds them in the running numpy and writes their addresses to
:data:`TABLE`, a table in the process's memory, and registers the table's address
with LLVM as the symbol :data:`SYMBOL`. Code compiled by ``jit/helpers.py`` reads an
address from the table at the position :func:`ufunc_slot` or :data:`GEMM_SLOTS`
gives and calls it; since the table is a symbol resolved when machine code is
loaded, the same machine code (from numba's cache) runs in another process, where
numpy's functions are at other addresses. An address that cannot be found (another
layout of numpy's ufunc objects, a numpy without a CBLAS) stays 0 and the compiled
code then does the work itself (see ``jit/helpers.py``).

This module needs ctypes and numpy only (llvmlite to register the symbol, when it
is installed): a process that runs machine code compiled earlier needs the table,
not numba.

The compiled code indexes the table by position: a change of its layout
(:data:`UFUNCS`, the order of the slots) changes :data:`LAYOUT`, which
``jit/helpers.py`` checks against its own copy, so that the change is also one of
helpers.py, whose text keys numba's cache of its functions."""

from __future__ import annotations

import ctypes
import hashlib

import numpy as np

SYMBOL = "adcompile_native_table"

# numpy's functions of one array whose loops the table holds, for float64 and float32
UFUNCS = (
    *("exp", "exp2", "expm1", "log", "log2", "log10", "log1p"),
    *("tanh", "sinh", "cosh", "tan", "arcsin", "arccos", "arctan"),
    *("arcsinh", "arccosh", "arctanh"),
)
# the matrix products: (CBLAS function, its integer type, float type), in table order
GEMMS = (
    ("dgemm", 64),
    ("sgemm", 64),
    ("dgemm", 32),
    ("sgemm", 32),
)
# the names under which numpy's BLAS may export each CBLAS function, by integer size
# (64: ILP64, as numpy's wheels; 32: LP64)
GEMM_NAMES = {
    64: ("scipy_cblas_{}64_", "cblas_{}64_", "cblas_{}_64"),
    32: ("scipy_cblas_{}", "cblas_{}"),
}
GEMM_SLOTS = {key: 4 * len(UFUNCS) + k for k, key in enumerate(GEMMS)}
SIZE = 4 * len(UFUNCS) + len(GEMMS)
LAYOUT = hashlib.sha256(repr((UFUNCS, GEMMS)).encode()).hexdigest()[:12]

TABLE = (ctypes.c_void_p * SIZE)()

# what code compiled where the table had a gemm raises where it has none (numpy changed
# under numba's cache of jit/numpycode.py, or under machine code adcompile exported);
# jit/compiling.py locates it at a line of the user's
NO_GEMM = "numpy's BLAS has no matrix product this compiled code can call"
NO_GEMM_HINT = "delete numba's cache of adcompile/jit (its __pycache__ folder) and call again"

# the fields of numpy's PyUFuncObject (numpy/ufuncobject.h) that the table reads,
# as byte offsets from the object's address
_NARGS, _FUNCTIONS, _DATA, _NTYPES, _NAME, _TYPES = 24, 32, 40, 48, 56, 64

LOOP = ctypes.CFUNCTYPE(
    None,
    ctypes.POINTER(ctypes.c_void_p),
    ctypes.POINTER(ctypes.c_ssize_t),
    ctypes.POINTER(ctypes.c_ssize_t),
    ctypes.c_void_p,
)


def ufunc_slot(name: str, dtype: np.dtype) -> int:
    """The position in the table of the loop of numpy's ``name`` for ``dtype``
    (float64 or float32); the loop's data pointer is at the next one."""
    return 4 * UFUNCS.index(name) + (0 if np.dtype(dtype) == np.float64 else 2)


def _read(address: int, ctype):
    return ctype.from_address(address).value


def _ufunc_loop(ufunc: np.ufunc, dtype: np.dtype) -> tuple[int, int] | None:
    """The (loop, data) addresses of ``ufunc``'s legacy inner loop for ``dtype`` ->
    ``dtype``, read from its PyUFuncObject; None unless every field read agrees with
    what Python says of the ufunc and the loop computes what the ufunc does."""
    if ctypes.sizeof(ctypes.c_void_p) != 8:  # (the offsets are a 64-bit platform's)
        return None
    base = id(ufunc)
    nargs = _read(base + _NARGS, ctypes.c_int)
    ntypes = _read(base + _NTYPES, ctypes.c_int)
    if (nargs, ntypes) != (ufunc.nargs, ufunc.ntypes):  # (before following a pointer)
        return None
    if _read(base + _NAME, ctypes.c_char_p) != ufunc.__name__.encode():
        return None
    types = ctypes.string_at(_read(base + _TYPES, ctypes.c_void_p), ntypes * nargs)
    want = [np.dtype(c).num for t in ufunc.types for c in t.replace("->", "")]
    if list(types) != want:
        return None
    signature = bytes([dtype.num] * nargs)
    # (numpy picks the first loop whose types fit: a ufunc may list a type twice, its
    # vectorised loop first)
    found = [i for i in range(ntypes) if types[i * nargs : (i + 1) * nargs] == signature]
    if not found:
        return None
    i = found[0]
    size = ctypes.sizeof(ctypes.c_void_p)
    loop = _read(_read(base + _FUNCTIONS, ctypes.c_void_p) + i * size, ctypes.c_void_p)
    data = _read(_read(base + _DATA, ctypes.c_void_p) + i * size, ctypes.c_void_p) or 0
    if not loop or not _loop_agrees(ufunc, dtype, loop, data):
        return None
    return loop, data


def _loop_agrees(ufunc: np.ufunc, dtype: np.dtype, loop: int, data: int) -> bool:
    """Whether the loop at ``loop`` gives numpy's results on a few numbers."""
    # (numbers in the domain of each function, and some outside it for some)
    x = np.concatenate([np.linspace(0.05, 0.95, 19), np.linspace(1.05, 3.0, 18)]).astype(dtype)
    out = np.empty_like(x)
    args = (ctypes.c_void_p * 2)(x.ctypes.data, out.ctypes.data)
    dims = (ctypes.c_ssize_t * 1)(x.size)
    steps = (ctypes.c_ssize_t * 2)(x.itemsize, x.itemsize)
    with np.errstate(all="ignore"):
        LOOP(loop)(args, dims, steps, data)
        return bool(np.array_equal(out, ufunc(x), equal_nan=True))


def _blas() -> ctypes.CDLL | None:
    """numpy's core extension, through which the BLAS it links is reachable."""
    from numpy._core import _multiarray_umath as core

    try:
        return ctypes.CDLL(core.__file__)
    except OSError:
        return None


def _gemm(lib: ctypes.CDLL, name: str, bits: int) -> int:
    """The address of CBLAS's ``name`` with ``bits``-bit integers, checked on a small
    product; 0 if numpy's BLAS does not export it under a known name."""
    for pattern in GEMM_NAMES[bits]:
        try:
            fn = getattr(lib, pattern.format(name))
        except AttributeError:
            continue
        address = ctypes.cast(fn, ctypes.c_void_p).value
        if address and _gemm_agrees(address, name, bits):
            return address
    return 0


def _gemm_agrees(address: int, name: str, bits: int) -> bool:
    """Whether CBLAS's ``name`` at ``address`` computes a small product right."""
    dtype = np.float64 if name == "dgemm" else np.float32
    real = ctypes.c_double if name == "dgemm" else ctypes.c_float
    integer = ctypes.c_int64 if bits == 64 else ctypes.c_int32
    enum, ptr = ctypes.c_int, ctypes.c_void_p
    # (order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    fn = ctypes.CFUNCTYPE(
        None, enum, enum, enum, integer, integer, integer,
        real, ptr, integer, ptr, integer, real, ptr, integer,
    )(address)  # fmt: skip
    a = np.arange(6, dtype=dtype).reshape(2, 3)
    b = np.arange(12, dtype=dtype).reshape(3, 4) - 5
    c = np.full((2, 4), np.nan, dtype=dtype)
    # row-major, no transposes: c = 1 * a @ b + 0 * c
    fn(101, 111, 111, 2, 4, 3, 1.0, a.ctypes.data, 3, b.ctypes.data, 4, 0.0, c.ctypes.data, 4)
    return bool(np.array_equal(c, a @ b))


def fill() -> None:
    """Write the addresses of numpy's loops and BLAS to the table."""
    for name in UFUNCS:
        ufunc = getattr(np, name)
        for dtype in (np.dtype(np.float64), np.dtype(np.float32)):
            found = _ufunc_loop(ufunc, dtype)
            if found is not None:
                slot = ufunc_slot(name, dtype)
                TABLE[slot], TABLE[slot + 1] = found
    lib = _blas()
    if lib is not None:
        for (name, bits), slot in GEMM_SLOTS.items():
            TABLE[slot] = _gemm(lib, name, bits) or None


def register() -> None:
    """Make the table's address the LLVM symbol :data:`SYMBOL`."""
    from llvmlite import binding

    binding.add_symbol(SYMBOL, ctypes.addressof(TABLE))


def has_gemm() -> bool:
    """Whether the table holds a matrix product of numpy's BLAS."""
    return any(TABLE[slot] for slot in GEMM_SLOTS.values())


fill()
