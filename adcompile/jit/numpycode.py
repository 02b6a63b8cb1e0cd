"""The helpers of numba-flavoured code that call numpy's own machine code: ``matmul``
(numpy's BLAS ``gemm``) and ``numpy_exp``, ``numpy_tanh``... (numpy's vectorised
loops, several times faster than numba's, which go through the C library one
element at a time).

They call what ``jit/native.py`` finds, through its table: an intrinsic loads an
address from the table (an external symbol, resolved when the machine code is
loaded, so numba's cache of these functions serves every process) and calls it
like a C function. Nothing here calls back into Python or needs scipy (numba's
``np.dot`` calls scipy's BLAS). Where the table holds no loop (another numpy),
``numpy_exp``... compute with numba's ``np.exp``...; ``matmul`` is compiled to
numba's ``np.dot`` where numpy's BLAS has no ``gemm`` the table knows, and raises
an AdCompileError if code compiled with one runs where there is none.

``jit/helpers.py`` exports these functions to generated code; numba's cache of them
is keyed by this file, and the module names of generated code by its text (see
``jit/compiling.py``)."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

from ..errors import AdCompileError
from . import native

# native.LAYOUT when this file was last changed for it: the compiled code below
# indexes the table by position
LAYOUT = "ca5269303019"
if native.LAYOUT != LAYOUT:  # pragma: no cover - a check for who changes native.py
    raise ImportError("jit/native.py's table changed: update jit/numpycode.py's LAYOUT")
native.register()

_I8P = ir.IntType(8).as_pointer()
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_FLOATS = (types.float64, types.float32)


def _table_entry(builder: ir.IRBuilder, slot: int) -> ir.Value:
    """The address (``i8*``) at ``slot`` of native's table."""
    module = builder.module
    try:
        table = module.get_global(native.SYMBOL)
    except KeyError:  # (declared once in each module: an external global)
        table = ir.GlobalVariable(module, ir.ArrayType(_I8P, native.SIZE), native.SYMBOL)
    return builder.load(builder.gep(table, [_I32(0), _I32(slot)]))


def _data(context, builder, ty, value) -> ir.Value:
    return builder.bitcast(context.make_array(ty)(context, builder, value).data, _I8P)


# ------------------------------------------------------------------ numpy's loops

_LOOPS: dict = {}


def _loop_call(name: str, dtype) -> object:
    """An intrinsic ``(x, out) -> bool`` that runs numpy's loop of ``name`` for
    ``dtype`` over the ``out.size`` elements of the contiguous arrays ``x`` and
    ``out`` and returns True, or returns False when the table holds no such loop."""
    key = (name, str(dtype))
    if key in _LOOPS:
        return _LOOPS[key]
    slot = native.ufunc_slot(name, np.dtype(str(dtype)))

    def typer(typingctx, x, out):
        def codegen(context, builder, sig, args):
            loop = _table_entry(builder, slot)
            found = builder.icmp_unsigned("!=", loop, _I8P(None))
            with builder.if_then(found):
                data = _table_entry(builder, slot + 1)
                pointers = cgutils.alloca_once(builder, _I8P, 2)
                builder.store(_data(context, builder, x, args[0]), pointers)
                out_data = _data(context, builder, out, args[1])
                builder.store(out_data, builder.gep(pointers, [_I32(1)]))
                size = context.make_array(out)(context, builder, args[1]).nitems
                dims = cgutils.alloca_once(builder, _I64, 1)
                builder.store(size, dims)
                steps = cgutils.alloca_once(builder, _I64, 2)
                itemsize = _I64(np.dtype(str(dtype)).itemsize)
                builder.store(itemsize, steps)
                builder.store(itemsize, builder.gep(steps, [_I32(1)]))
                fnty = ir.FunctionType(
                    ir.VoidType(), [_I8P.as_pointer(), _I64.as_pointer(), _I64.as_pointer(), _I8P]
                )
                builder.call(
                    builder.bitcast(loop, fnty.as_pointer()), [pointers, dims, steps, data]
                )
            return found

        return types.boolean(x, out), codegen

    typer.__name__ = f"loop_{name}_{dtype}"
    _LOOPS[key] = intrinsic(typer)
    return _LOOPS[key]


# from this many elements numpy's loop is faster than numba's code (which costs
# about 20 ns less a call, and several times more an element)
LOOP_SIZE = 8


def _make_vector_ufunc(name: str):
    def stub(x, overwrite):  # pragma: no cover - replaced by the overload in numba code
        raise NotImplementedError

    stub.__name__ = f"numpy_{name}"
    ufunc = getattr(np, name)

    @overload(stub)
    def typer(x, overwrite):
        if not (isinstance(x, types.Array) and x.dtype in _FLOATS and x.ndim > 0):
            return lambda x, overwrite: ufunc(x)
        loop = _loop_call(name, x.dtype)
        if x.layout == "F":  # (its transpose is C-contiguous)
            return lambda x, overwrite: stub(x.T, overwrite).T

        def impl(x, overwrite):
            c = np.ascontiguousarray(x)  # (the same array when it is contiguous)
            if c.size >= LOOP_SIZE:
                # (numpy's loops allow the output to be the input: an array no one
                # reads again is overwritten rather than another one made)
                out = c if overwrite else np.empty(c.shape, dtype=c.dtype)
                if loop(c, out):
                    return out
            return ufunc(c)

        return impl

    return stub


# numpy's functions of one array that numpy computes with vector instructions and
# numba one element at a time through the C library, four to seven times slower
# (translate.VECTOR_UFUNCS): each a numba function with numba's cache, so that it is
# compiled once for each kind of argument, not in every gradient of every process
_vector = {name: _make_vector_ufunc(name) for name in native.UFUNCS}
_vector_exp = _vector["exp"]
_vector_exp2 = _vector["exp2"]
_vector_expm1 = _vector["expm1"]
_vector_log = _vector["log"]
_vector_log2 = _vector["log2"]
_vector_log10 = _vector["log10"]
_vector_log1p = _vector["log1p"]
_vector_tanh = _vector["tanh"]
_vector_sinh = _vector["sinh"]
_vector_cosh = _vector["cosh"]
_vector_tan = _vector["tan"]
_vector_arcsin = _vector["arcsin"]
_vector_arccos = _vector["arccos"]
_vector_arctan = _vector["arctan"]
_vector_arcsinh = _vector["arcsinh"]
_vector_arccosh = _vector["arccosh"]
_vector_arctanh = _vector["arctanh"]


@njit(cache=True)
def numpy_exp(x, overwrite=False):
    return _vector_exp(x, overwrite)


@njit(cache=True)
def numpy_exp2(x, overwrite=False):
    return _vector_exp2(x, overwrite)


@njit(cache=True)
def numpy_expm1(x, overwrite=False):
    return _vector_expm1(x, overwrite)


@njit(cache=True)
def numpy_log(x, overwrite=False):
    return _vector_log(x, overwrite)


@njit(cache=True)
def numpy_log2(x, overwrite=False):
    return _vector_log2(x, overwrite)


@njit(cache=True)
def numpy_log10(x, overwrite=False):
    return _vector_log10(x, overwrite)


@njit(cache=True)
def numpy_log1p(x, overwrite=False):
    return _vector_log1p(x, overwrite)


@njit(cache=True)
def numpy_tanh(x, overwrite=False):
    return _vector_tanh(x, overwrite)


@njit(cache=True)
def numpy_sinh(x, overwrite=False):
    return _vector_sinh(x, overwrite)


@njit(cache=True)
def numpy_cosh(x, overwrite=False):
    return _vector_cosh(x, overwrite)


@njit(cache=True)
def numpy_tan(x, overwrite=False):
    return _vector_tan(x, overwrite)


@njit(cache=True)
def numpy_arcsin(x, overwrite=False):
    return _vector_arcsin(x, overwrite)


@njit(cache=True)
def numpy_arccos(x, overwrite=False):
    return _vector_arccos(x, overwrite)


@njit(cache=True)
def numpy_arctan(x, overwrite=False):
    return _vector_arctan(x, overwrite)


@njit(cache=True)
def numpy_arcsinh(x, overwrite=False):
    return _vector_arcsinh(x, overwrite)


@njit(cache=True)
def numpy_arccosh(x, overwrite=False):
    return _vector_arccosh(x, overwrite)


@njit(cache=True)
def numpy_arctanh(x, overwrite=False):
    return _vector_arctanh(x, overwrite)


# ------------------------------------------------------------------ numpy's BLAS

# CBLAS's constants: row-major storage, an operand as it is or transposed
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def _gemm_codegen(dtype, beta: float):
    """The code of ``gemm(ta, tb, m, n, k, a, lda, b, ldb, out, ldc) -> bool``:
    ``out = op(a) @ op(b) + beta * out`` by the table's ``gemm`` for ``dtype`` (with
    64-bit integers if numpy's BLAS has them, else 32-bit ones if the sizes fit),
    False if there is none."""
    name = "dgemm" if dtype == types.float64 else "sgemm"
    real = ir.DoubleType() if dtype == types.float64 else ir.FloatType()

    def codegen(context, builder, sig, args):
        ints = [context.cast(builder, args[j], sig.args[j], types.int64) for j in (0, 1, 2, 3, 4)]
        ints += [context.cast(builder, args[j], sig.args[j], types.int64) for j in (6, 8, 10)]
        ta, tb, m, n, k, lda, ldb, ldc = ints
        a, b, out = (_data(context, builder, sig.args[j], args[j]) for j in (5, 7, 9))
        done = cgutils.alloca_once_value(builder, ir.IntType(1)(0))
        for bits in (64, 32):
            fn = _table_entry(builder, native.GEMM_SLOTS[(name, bits)])
            found = builder.icmp_unsigned("!=", fn, _I8P(None))
            usable = builder.and_(found, builder.not_(builder.load(done)))
            if bits == 32:  # (an LP64 BLAS: every size must fit its integers)
                for v in (m, n, k, lda, ldb, ldc):
                    fits = builder.icmp_unsigned("<=", v, _I64(2**31 - 1))
                    usable = builder.and_(usable, fits)
            with builder.if_then(usable):
                integer = ir.IntType(bits)
                m_, n_, k_, lda_, ldb_, ldc_ = (
                    v if bits == 64 else builder.trunc(v, integer) for v in (m, n, k, lda, ldb, ldc)
                )
                fnty = ir.FunctionType(
                    ir.VoidType(),
                    [_I32] * 3 + [integer] * 3 + [real, _I8P, integer, _I8P, integer]
                    + [real, _I8P, integer],
                )  # fmt: skip
                flags = [_I32(ROW_MAJOR), builder.trunc(ta, _I32), builder.trunc(tb, _I32)]
                call = [*flags, m_, n_, k_, real(1.0), a, lda_, b, ldb_, real(beta), out, ldc_]
                builder.call(builder.bitcast(fn, fnty.as_pointer()), call)
                builder.store(ir.IntType(1)(1), done)
        return builder.load(done)

    return codegen


def _gemm_intrinsic(beta: float):
    def typer(typingctx, ta, tb, m, n, k, a, lda, b, ldb, out, ldc):
        if not (a.dtype == b.dtype == out.dtype and out.dtype in _FLOATS):
            raise TypingError(f"gemm of {a} and {b}")
        sig = types.boolean(ta, tb, m, n, k, a, lda, b, ldb, out, ldc)
        return sig, _gemm_codegen(out.dtype, beta)

    typer.__name__ = "gemm" if beta == 0.0 else "gemm_add"
    return intrinsic(typer)


_gemm = _gemm_intrinsic(0.0)  # out = a @ b
_gemm_add = _gemm_intrinsic(1.0)  # out += a @ b


@njit(cache=True)
def _operand(x):
    """(CBLAS's transpose flag, leading dimension) of the 2-d array ``x`` read in
    place as a row-major matrix, or (0, 0) when its strides do not allow it."""
    rows, cols = x.shape
    s0, s1 = x.strides
    w = x.itemsize
    if (cols <= 1 or s1 == w) and (rows <= 1 or (s0 % w == 0 and s0 >= max(cols, 1) * w)):
        return NO_TRANS, s0 // w if rows > 1 else max(cols, 1)
    if (rows <= 1 or s0 == w) and (cols <= 1 or (s1 % w == 0 and s1 >= max(rows, 1) * w)):
        return TRANS, s1 // w if cols > 1 else max(rows, 1)
    return 0, 0


@njit(cache=True)
def _stride(x):
    """The stride of the 1-d array ``x`` in elements, or 0 when not a positive whole."""
    w = x.itemsize
    s = x.strides[0]
    if x.shape[0] <= 1:
        return 1
    if s > 0 and s % w == 0:
        return s // w
    return 0


def _product(a, b):  # pragma: no cover - replaced by the overload in numba code
    raise NotImplementedError


def _operand_lines(v: str, ty: types.Array) -> list[str]:
    """Lines that set ``t{v}, ld{v}`` (CBLAS's transpose flag and leading dimension)
    for the operand ``v`` of type ``ty``, read as a row-major matrix: a vector ``b``
    as a (k, 1) matrix whose rows are ``ldb`` apart, a vector ``a`` as the transpose
    of one. A contiguous array's are known from its type; an array of any layout
    ('A') is read in place when its strides allow it, else copied."""
    if ty.ndim == 1:
        flag = "NO_TRANS" if v == "b" else "TRANS"
        if ty.layout in "CF":
            return [f"t{v}, ld{v} = {flag}, 1"]
        return [
            f"t{v}, ld{v} = {flag}, _stride({v})",
            f"if ld{v} == 0:",
            f"    {v} = np.ascontiguousarray({v})",
            f"    ld{v} = 1",
        ]
    if ty.layout == "C":
        return [f"t{v}, ld{v} = NO_TRANS, max({v}.shape[1], 1)"]
    if ty.layout == "F":  # (the common x.T of a C-contiguous x)
        return [f"t{v}, ld{v} = TRANS, max({v}.shape[0], 1)"]
    return [
        f"t{v}, ld{v} = _operand({v})",
        f"if t{v} == 0:",
        f"    {v} = np.ascontiguousarray({v})",
        f"    t{v}, ld{v} = NO_TRANS, max({v}.shape[1], 1)",
    ]


# (m, n, k, the result's shape, ldc) of a product of arrays of these dimensions
SHAPES = {
    (2, 2): ("a.shape[0]", "b.shape[1]", "a.shape[1]", "(m, n)", "max(n, 1)"),
    (2, 1): ("a.shape[0]", "1", "a.shape[1]", "m", "1"),
    (1, 2): ("1", "b.shape[1]", "a.shape[0]", "n", "max(n, 1)"),
    (1, 1): ("1", "1", "a.shape[0]", "1", "1"),
}
# code compiled where numpy's BLAS had a gemm, run where it has none (numpy changed
# under numba's cache of this file)
NO_BLAS, NO_BLAS_HINT = native.NO_GEMM, native.NO_GEMM_HINT


def _product_text(a: types.Array, b: types.Array, c=None) -> str:
    """``a @ b`` by numpy's gemm; with ``c`` (an array of no more dimensions than the
    product, or a number), ``a @ b + c``: the output filled with ``c`` and gemm adding
    the product to it, one array made instead of two. A ``c`` that would broadcast
    the product to a larger shape (an error or a larger array, as numpy's ``+``)
    takes the plain sum."""
    m, n, k, shape, ldc = SHAPES[(a.ndim, b.ndim)]
    lines = ["def impl(a, b):" if c is None else "def impl(a, b, c):"]
    lines += [
        f"    m, n, k = {m}, {n}, {k}",
        f"    if {'b.shape[0]' if b.ndim == 2 else 'b.size'} != k:",
        '        raise ValueError("matmul: the operands\' shapes do not match")',
    ]
    if isinstance(c, types.Array) and c.ndim:
        dims = ["m", "n"] if (a.ndim, b.ndim) == (2, 2) else [shape]
        wrong = [
            f"(c.shape[{i}] != {d} and c.shape[{i}] != 1)"
            for i, d in enumerate(dims[len(dims) - c.ndim :])
        ]
        lines += [f"    if {' or '.join(wrong)}:", "        return _product(a, b) + c"]
    lines += ["    " + line for line in _operand_lines("a", a) + _operand_lines("b", b)]
    lines.append(f"    out = np.empty({shape}, dtype=DTYPE)")
    if c is None:
        lines += ["    if k == 0:", "        out[:] = 0"]
        lines.append(f"    elif not _gemm(ta, tb, m, n, k, a, lda, b, ldb, out, {ldc}):")
    else:
        lines.append("    out[...] = c")
        lines.append(f"    if k and not _gemm_add(ta, tb, m, n, k, a, lda, b, ldb, out, {ldc}):")
    lines += [
        "        raise AdCompileError(NO_BLAS, None, NO_BLAS_HINT)",
        f"    return {'out' if (a.ndim, b.ndim) != (1, 1) else 'out[0]'}",
    ]
    return "\n".join(lines) + "\n"


def _product_impl(a, b, c=None) -> object:
    scope = {
        "np": np,
        "_operand": _operand,
        "_stride": _stride,
        "_gemm": _gemm,
        "_gemm_add": _gemm_add,
        "_product": _product,
        "DTYPE": a.dtype,
        "NO_TRANS": NO_TRANS,
        "TRANS": TRANS,
        "AdCompileError": AdCompileError,
        "NO_BLAS": NO_BLAS,
        "NO_BLAS_HINT": NO_BLAS_HINT,
        "__name__": __name__,
    }
    text = _product_text(a, b, c)
    what = "matmul" if c is None else "matmul_add"
    exec(compile(text, f"<adcompile.jit {what} {a.ndim}-d @ {b.ndim}-d>", "exec"), scope)
    return scope["impl"]


def _gemm_able(a, b) -> bool:
    """Whether numpy's gemm computes ``a @ b`` of these types as they are."""
    arrays = isinstance(a, types.Array) and isinstance(b, types.Array)
    if not arrays or (a.ndim, b.ndim) not in SHAPES or not native.has_gemm():
        return False
    return a.dtype == b.dtype and a.dtype in _FLOATS


@overload(_product)
def _product_typer(a, b):
    arrays = isinstance(a, types.Array) and isinstance(b, types.Array)
    if not arrays or (a.ndim, b.ndim) not in SHAPES or not native.has_gemm():
        return lambda a, b: np.dot(a, b)
    if a.dtype not in _FLOATS or b.dtype not in _FLOATS:
        return lambda a, b: np.dot(a, b)
    if a.dtype != b.dtype:  # (float32 and float64: numpy's product is float64's)
        if a.dtype == types.float32:
            return lambda a, b: _product(a.astype(np.float64), b)
        return lambda a, b: _product(a, b.astype(np.float64))
    return _product_impl(a, b)


def _product_plus(a, b, c):  # pragma: no cover - replaced by the overload in numba code
    raise NotImplementedError


@overload(_product_plus)
def _product_plus_typer(a, b, c):
    if _gemm_able(a, b) and (a.ndim, b.ndim) != (1, 1):
        rank = a.ndim + b.ndim - 2
        if isinstance(c, types.Array) and c.dtype == a.dtype and c.ndim <= rank:
            return _product_impl(a, b, c)
        if a.dtype == types.float64 and isinstance(c, types.Float | types.Integer):
            return _product_impl(a, b, c)
    return lambda a, b, c: _product(a, b) + c


@njit(cache=True)
def matmul(a, b):
    """``a @ b`` (and ``np.dot(a, b)``) of numba-flavoured code: one numba function,
    compiled for each kind of operands once and kept in numba's cache, that every
    gradient calls. Two float64 or two float32 arrays of one or two dimensions go to
    numpy's BLAS; any others to numba's ``np.dot``."""
    return _product(a, b)


@njit(cache=True)
def matmul_add(a, b, c):
    """``matmul(a, b) + c`` (a dense layer's ``W @ x + b``) in one array: the output
    filled with ``c`` broadcast, then numpy's gemm adds the product to it."""
    return _product_plus(a, b, c)
