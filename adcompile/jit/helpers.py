"""The runtime helpers of numba-flavoured generated code (see ``jit/translate.py``).

Each helper is a plain Python stub with a numba ``@overload``: when numba types a
call, the overload sees the arguments' types (an array's number of dimensions, a
constant ``axis`` or ``keepdims`` as a literal) and writes the implementation for
exactly them, as loops or as calls numba supports. Numba is imported here, so this
module is only imported by the numba backend. The helpers that call numpy's own
machine code (``matmul``, ``numpy_exp``...) are in ``jit/numpycode.py``.

The generated module's numba cache does not see changes to this file: the backend
hashes this file's text into the generated module's name, so a changed helper makes
new modules (and new cache entries)."""

from __future__ import annotations

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload
from numba.np.numpy_support import as_dtype

from .numpycode import (  # noqa: F401 - helpers of generated code (translate.HELPERS)
    matmul,
    matmul_add,
    numpy_arccos,
    numpy_arccosh,
    numpy_arcsin,
    numpy_arcsinh,
    numpy_arctan,
    numpy_arctanh,
    numpy_cosh,
    numpy_exp,
    numpy_exp2,
    numpy_expm1,
    numpy_log,
    numpy_log1p,
    numpy_log2,
    numpy_log10,
    numpy_sinh,
    numpy_tan,
    numpy_tanh,
)


def _literal(ty, what: str):
    """The constant value of a literal argument (an axis, keepdims), or None for None."""
    if not isinstance(ty, types.Type):  # the overload's own default
        return ty
    if isinstance(ty, types.Omitted):
        return ty.value
    if isinstance(ty, types.NoneType):
        return None
    if isinstance(ty, types.Literal):
        return ty.literal_value
    if isinstance(ty, types.BaseTuple) and all(isinstance(t, types.Literal) for t in ty):
        return tuple(t.literal_value for t in ty)
    raise TypingError(f"{what} must be a constant in numba code")


def _compiled(text: str, name: str, names: dict | None = None) -> object:
    scope: dict = {"np": np, "__name__": __name__, **(names or {})}
    exec(compile(text, f"<adcompile.jit helper {name}>", "exec"), scope)
    return scope[name]


def _result_dtype(op: str, dtype) -> np.dtype:
    """The dtype of numpy's ``op`` along an axis of an array of numba dtype ``dtype``."""
    return getattr(np, op)(np.ones((1, 1), dtype=as_dtype(dtype)), axis=0).dtype


def _reduce_text(op: str, ndim: int, axes: list[int], keepdims: bool) -> str:
    """An implementation of ``op`` of an ``ndim``-d array along ``axes`` as loops over
    the array in its order (loops compile several times faster in numba than its
    ``np.sum`` along an axis): the result starts as zeros (sum, mean), ones (prod)
    or the first element along ``axes`` (max, min, which raise on an empty axis, as
    numpy does); ``DTYPE`` is the result's scalar type."""
    kept = [k for k in range(ndim) if k not in axes]
    if keepdims:
        shape = ["1" if k in axes else f"a.shape[{k}]" for k in range(ndim)]
        out = ["0" if k in axes else f"i{k}" for k in range(ndim)]
    else:
        shape = [f"a.shape[{k}]" for k in kept]
        out = [f"i{k}" for k in kept]
    scalar = not shape  # (every axis reduced: a number)
    acc = "r" if scalar else f"r[{', '.join(out)}]"
    lines = ["def impl(a, axis, keepdims):"]
    if op in ("max", "min"):
        size = " * ".join(f"a.shape[{k}]" for k in axes)
        lines += [
            f"    if {size} == 0:",
            f'        raise ValueError("zero-size array to reduction operation {op}imum '
            'which has no identity")',
        ]
        first = ", ".join("0" if k in axes else f"i{k}" for k in range(ndim))
        if scalar:
            lines.append(f"    r = a[{first}]")
        else:
            lines.append(f"    r = np.empty(({', '.join(shape)},), dtype=DTYPE)")
            lines += _loops(kept, 1)
            lines.append("    " * (len(kept) + 1) + f"{acc} = a[{first}]")
        compare = ">" if op == "max" else "<"
        step = [
            f"v = a[{', '.join(f'i{k}' for k in range(ndim))}]",
            f"if v {compare} {acc} or v != v:",
            f"    {acc} = v",
        ]
    else:
        start = "1" if op == "prod" else "0"
        if scalar:
            lines.append(f"    r = DTYPE({start})")
        else:
            fill = "ones" if op == "prod" else "zeros"
            lines.append(f"    r = np.{fill}(({', '.join(shape)},), dtype=DTYPE)")
        sign = "*" if op == "prod" else "+"
        step = [f"{acc} {sign}= a[{', '.join(f'i{k}' for k in range(ndim))}]"]
    lines += _loops(list(range(ndim)), 1)
    lines += ["    " * (ndim + 1) + s for s in step]
    if op == "mean":
        count = " * ".join(f"a.shape[{k}]" for k in axes)
        if scalar:
            lines.append(f"    r = r / ({count})")
        else:
            lines.append(f"    n = {count}")
            lines += _loops(list(range(len(shape))), 1, "r")
            idx = ", ".join(f"i{k}" for k in range(len(shape)))
            lines.append("    " * (len(shape) + 1) + f"r[{idx}] = r[{idx}] / n")
    lines.append("    return r")
    return "\n".join(lines) + "\n"


def _loops(dims: list[int], depth: int, array: str = "a") -> list[str]:
    """Nested ``for`` lines over the axes ``dims`` of ``array`` (index ``i{k}``)."""
    return [
        "    " * (depth + n) + f"for i{k} in range({array}.shape[{k}]):" for n, k in enumerate(dims)
    ]


def _spread_text(op: str, ndim: int, axis: int, keepdims: bool) -> str:
    """``var`` and ``std`` along one axis: the other axes moved first and the array
    read as rows, one reduced value per row."""
    others = [i for i in range(ndim) if i != axis]
    kept = [f"a.shape[{i}]" for i in others]
    if keepdims:
        shape = ", ".join("1" if i == axis else f"a.shape[{i}]" for i in range(ndim))
    else:
        shape = ", ".join(kept)
    if ndim == 1:  # (a vector reduced to a number)
        value = f"a.{op}()"
        body = f"np.full((1,), {value})" if keepdims else value
        return f"def impl(a, axis, keepdims):\n    return {body}\n"
    order = ", ".join(str(i) for i in [*others, axis])
    rows = " * ".join(kept)
    return (
        "def impl(a, axis, keepdims):\n"
        f"    t = np.ascontiguousarray(np.transpose(a, ({order},)))\n"
        f"    rows = t.reshape(({rows}, a.shape[{axis}]))\n"
        "    r = np.empty(rows.shape[0], dtype=rows.dtype)\n"
        "    for i in range(rows.shape[0]):\n"
        f"        r[i] = rows[i].{op}()\n" + f"    return r.reshape(({shape},))\n"
    )


def _make_reduction(op: str):
    def stub(a, axis, keepdims):  # pragma: no cover - replaced by the overload in numba code
        raise NotImplementedError

    stub.__name__ = f"reduce_{op}"

    @overload(stub, prefer_literal=True)
    def typer(a, axis, keepdims):
        if not isinstance(a, types.Array):
            raise TypingError(f"{op} along an axis of a {a}")
        ax = _literal(axis, "axis")
        keep = bool(_literal(keepdims, "keepdims"))
        many = isinstance(ax, tuple)
        if not isinstance(ax, int | tuple) or isinstance(ax, bool):
            raise TypingError(f"{op} along the axes {ax!r}: numba code reduces along constant axes")
        axes = sorted({x % a.ndim for x in (ax if many else (ax,))})
        if any(not -a.ndim <= x < a.ndim for x in (ax if many else (ax,))):
            raise TypingError(f"{op} along the axis {ax!r} of a {a.ndim}-d array")
        if op in ("var", "std"):
            if many:
                raise TypingError(f"{op} along the axes {ax!r}")
            return _compiled(_spread_text(op, a.ndim, axes[0], keep), "impl")
        names = {"DTYPE": _result_dtype(op, a.dtype).type}
        return _compiled(_reduce_text(op, a.ndim, axes, keep), "impl", names)

    return stub


reduce_sum = _make_reduction("sum")
reduce_mean = _make_reduction("mean")
reduce_max = _make_reduction("max")
reduce_min = _make_reduction("min")
reduce_prod = _make_reduction("prod")
reduce_var = _make_reduction("var")
reduce_std = _make_reduction("std")


def zero_like(x):  # pragma: no cover - replaced by the overload in numba code
    raise NotImplementedError


@overload(zero_like)
def _zero_like(x):
    if isinstance(x, types.Array):
        dtype = x.dtype if isinstance(x.dtype, types.Float | types.Complex) else types.float64
        return lambda x: np.zeros(x.shape, dtype=dtype)
    if isinstance(x, types.Float | types.Integer):
        return lambda x: 0.0
    raise TypingError(f"zero_like of a {x}")


def extremum_mask(x, y, axis=None, keepdims=False):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(extremum_mask, prefer_literal=True)
def _extremum_mask(x, y, axis=None, keepdims=False):
    ax = _literal(axis, "axis")
    keep = bool(_literal(keepdims, "keepdims"))
    if not isinstance(x, types.Array):
        raise TypingError(f"extremum_mask of a {x}")
    if ax is None:

        def whole(x, y, axis=None, keepdims=False):
            at = (x == y).astype(np.float64)
            return at / at.sum()

        return whole
    axes = sorted({a % x.ndim for a in (ax if isinstance(ax, tuple) else (ax,))})
    if not keep:
        shape = ", ".join("1" if i in axes else f"x.shape[{i}]" for i in range(x.ndim))
        expand = f"    y = np.reshape(y, ({shape},))\n"
    else:
        expand = ""
    text = (
        "def impl(x, y, axis=None, keepdims=False):\n"
        + expand
        + "    at = (x == y).astype(np.float64)\n"
        f"    return at / reduce_sum(at, ({', '.join(map(str, axes))},), True)\n"
    )
    scope = {"np": np, "reduce_sum": reduce_sum, "__name__": __name__}
    exec(compile(text, "<adcompile.jit helper extremum_mask>", "exec"), scope)
    return scope["impl"]


def _broadcast_loops(gnd: int, xnd: int, body: str) -> str:
    """Loops over every index of an array ``g`` of ``gnd`` dimensions; ``ix`` is the
    index of the array ``x`` of ``xnd`` dimensions that numpy broadcast to ``g``'s shape
    (its length-1 axes at 0)."""
    lead = gnd - xnd
    lines = []
    for k in range(gnd):
        lines.append("    " * (k + 1) + f"for i{k} in range(g.shape[{k}]):")
    ix = ", ".join(f"i{k + lead} if x.shape[{k}] != 1 else 0" for k in range(xnd))
    lines.append("    " * (gnd + 1) + body.format(gi=", ".join(f"i{k}" for k in range(gnd)), xi=ix))
    return "\n".join(lines) + "\n"


def unbroadcast(g, x):  # pragma: no cover - replaced by the overload in numba code
    raise NotImplementedError


@overload(unbroadcast)
def _unbroadcast(g, x):
    if isinstance(x, types.Float | types.Integer):
        if isinstance(g, types.Array):
            return lambda g, x: g.sum()
        return lambda g, x: g
    if not isinstance(g, types.Array) or not isinstance(x, types.Array) or g.ndim < x.ndim:
        raise TypingError(f"unbroadcast of a {g} to a {x}")
    if x.ndim == 0:
        return lambda g, x: np.asarray(g.sum())
    same = "    if g.shape == x.shape:\n        return g\n" if g.ndim == x.ndim else ""
    text = (
        "def impl(g, x):\n"
        + same
        + "    out = np.zeros(x.shape, dtype=g.dtype)\n"
        + _broadcast_loops(g.ndim, x.ndim, "out[{xi}] += g[{gi}]")
        + "    return out\n"
    )
    return _compiled(text, "impl")


def unreduce(g, x, axis=None, keepdims=False):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(unreduce, prefer_literal=True)
def _unreduce(g, x, axis=None, keepdims=False):
    if not isinstance(x, types.Array):
        raise TypingError(f"unreduce to a {x}")
    ax = _literal(axis, "axis")
    keep = bool(_literal(keepdims, "keepdims"))
    reduced_all = isinstance(g, types.Array) and g.ndim == 0  # (every axis, not kept)
    if ax is None or reduced_all or isinstance(g, types.Float | types.Integer):
        if isinstance(g, types.Array):

            def whole_array(g, x, axis=None, keepdims=False):
                return np.full(x.shape, g.sum())  # (a 0-d or one-element array)

            return whole_array

        def whole(g, x, axis=None, keepdims=False):
            return np.full(x.shape, g)

        return whole
    axes = {a % x.ndim for a in (ax if isinstance(ax, tuple) else (ax,))}
    if keep:
        gi = ["0" if k in axes else f"i{k}" for k in range(x.ndim)]
    else:
        gi = [f"i{k}" for k in range(x.ndim) if k not in axes]
    lines = [
        "def impl(g, x, axis=None, keepdims=False):",
        "    out = np.empty(x.shape, dtype=g.dtype)",
    ]
    for k in range(x.ndim):
        lines.append("    " * (k + 1) + f"for i{k} in range(x.shape[{k}]):")
    xi = ", ".join(f"i{k}" for k in range(x.ndim))
    lines.append("    " * (x.ndim + 1) + f"out[{xi}] = g[{', '.join(gi)}]")
    lines.append("    return out")
    return _compiled("\n".join(lines) + "\n", "impl")


def matmul_adjoint_lhs(g, x, y):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(matmul_adjoint_lhs)
def _matmul_adjoint_lhs(g, x, y):
    if all(isinstance(t, types.Array) and t.ndim == 2 for t in (g, x, y)):
        return lambda g, x, y: matmul(g, y.T)
    if isinstance(x, types.Array) and isinstance(y, types.Array) and x.ndim == 1 and y.ndim == 1:
        return lambda g, x, y: g * y
    if isinstance(x, types.Array) and isinstance(y, types.Array) and x.ndim == 2 and y.ndim == 1:
        return lambda g, x, y: np.outer(g, y)
    if isinstance(x, types.Array) and isinstance(y, types.Array) and x.ndim == 1 and y.ndim == 2:
        return lambda g, x, y: matmul(y, g)
    raise TypingError(f"the adjoint of {x} @ {y}")


def matmul_adjoint_rhs(g, x, y):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(matmul_adjoint_rhs)
def _matmul_adjoint_rhs(g, x, y):
    if all(isinstance(t, types.Array) and t.ndim == 2 for t in (g, x, y)):
        return lambda g, x, y: matmul(x.T, g)
    if isinstance(x, types.Array) and isinstance(y, types.Array) and x.ndim == 1 and y.ndim == 1:
        return lambda g, x, y: g * x
    if isinstance(x, types.Array) and isinstance(y, types.Array) and x.ndim == 1 and y.ndim == 2:
        return lambda g, x, y: np.outer(x, g)
    if isinstance(x, types.Array) and isinstance(y, types.Array) and x.ndim == 2 and y.ndim == 1:
        return lambda g, x, y: matmul(x.T, g)
    raise TypingError(f"the adjoint of {x} @ {y}")


def unindex(g, x, index):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


def add_into(out, index, g):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


def _index_kind(index) -> str:
    """ "basic" (ints, slices, None, ...), "rows" (one 1-d array of ints: rows that may
    repeat), or TypingError for anything else (several arrays, masks)."""
    parts = index.types if isinstance(index, types.BaseTuple) else (index,)
    arrays = [p for p in parts if isinstance(p, types.Array)]
    if not arrays:
        return "basic"
    if len(parts) == 1 and arrays[0].ndim == 1 and isinstance(arrays[0].dtype, types.Integer):
        return "rows"
    raise TypingError(f"the adjoint of an index {index}")


@overload(unindex)
def _unindex(g, x, index):
    # (g scattered into zeros shaped like x: assigned for an index of ints and slices,
    # which names each element once; added row by row for an array of row numbers)
    dtype = (
        x.dtype
        if isinstance(x, types.Array) and isinstance(x.dtype, types.Float)
        else types.float64
    )
    if _index_kind(index) == "basic":

        def basic(g, x, index):
            out = np.zeros(x.shape, dtype=dtype)
            out[index] = g
            return out

        return basic

    def rows(g, x, index):
        out = np.zeros(x.shape, dtype=dtype)
        for k in range(index.shape[0]):
            out[index[k]] += g[k]
        return out

    return rows


@overload(add_into)
def _add_into(out, index, g):
    if _index_kind(index) == "basic":

        def basic(out, index, g):
            out[index] = out[index] + g

        return basic

    def rows(out, index, g):
        for k in range(index.shape[0]):
            out[index[k]] += g[k]

    return rows


def unconcatenate(g, arrays, axis=0, rows=False):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(unconcatenate, prefer_literal=True)
def _unconcatenate(g, arrays, axis=0, rows=False):
    # (the cotangent of np.concatenate of a tuple of arrays of g's dimensions along a
    # constant axis: g's slices along it, each piece's length in turn)
    ax = _literal(axis, "axis")
    if _literal(rows, "rows") or ax is None:
        raise TypingError("the adjoint of np.vstack/np.column_stack or of a flattened join")
    if not isinstance(g, types.Array) or not isinstance(arrays, types.BaseTuple):
        raise TypingError(f"the adjoint of np.concatenate of {arrays}")
    if any(not isinstance(a, types.Array) or a.ndim != g.ndim for a in arrays):
        raise TypingError("the adjoint of np.concatenate of pieces of other dimensions")
    ax %= g.ndim
    lead = ":, " * ax
    lines = ["def impl(g, arrays, axis=0, rows=False):", "    e0 = 0"]
    parts = []
    for k in range(len(arrays)):
        lines.append(f"    e{k + 1} = e{k} + arrays[{k}].shape[{ax}]")
        parts.append(f"g[{lead}e{k}:e{k + 1}]")
    lines.append(f"    return ({', '.join(parts)},)")
    return _compiled("\n".join(lines) + "\n", "impl")


def dot_adjoint_lhs(g, x, y):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


def dot_adjoint_rhs(g, x, y):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


def _ndim(t) -> int:
    return t.ndim if isinstance(t, types.Array) else 0


@overload(dot_adjoint_lhs)
def _dot_adjoint_lhs(g, x, y):
    # (np.dot of operands of at most 2 dimensions is their matrix product, or a
    # product by a number)
    if _ndim(x) == 0 or _ndim(y) == 0:
        return lambda g, x, y: unbroadcast(g * y, x)
    if _ndim(x) <= 2 and _ndim(y) <= 2:
        return lambda g, x, y: matmul_adjoint_lhs(g, x, y)
    raise TypingError(f"the adjoint of np.dot({x}, {y})")


@overload(dot_adjoint_rhs)
def _dot_adjoint_rhs(g, x, y):
    if _ndim(x) == 0 or _ndim(y) == 0:
        return lambda g, x, y: unbroadcast(g * x, y)
    if _ndim(x) <= 2 and _ndim(y) <= 2:
        return lambda g, x, y: matmul_adjoint_rhs(g, x, y)
    raise TypingError(f"the adjoint of np.dot({x}, {y})")


def reduced_count(x, axis=None):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(reduced_count, prefer_literal=True)
def _reduced_count(x, axis=None):
    ax = _literal(axis, "axis")
    if isinstance(x, types.Float | types.Integer):
        return lambda x, axis=None: 1
    if ax is None:
        return lambda x, axis=None: x.size
    axes = tuple(a % x.ndim for a in (ax if isinstance(ax, tuple) else (ax,)))
    text = "def impl(x, axis=None):\n    return " + " * ".join(f"x.shape[{a}]" for a in axes) + "\n"
    return _compiled(text, "impl")


def untranspose(g, axes=None):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(untranspose, prefer_literal=True)
def _untranspose(g, axes=None):
    ax = _literal(axes, "axes")
    if ax is None:
        return lambda g, axes=None: np.transpose(g)
    if not isinstance(g, types.Array):
        raise TypingError(f"untranspose of a {g}")
    order = tuple(int(i) for i in np.argsort([a % g.ndim for a in ax]))
    return lambda g, axes=None: np.transpose(g, order)


def check_cotangent(y, dy):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(check_cotangent)
def _check_cotangent(y, dy):
    message = "the cotangent's shape is not the shape of the function's result"
    ny = y.ndim if isinstance(y, types.Array) else 0
    nd = dy.ndim if isinstance(dy, types.Array) else 0
    if ny != nd:

        def wrong(y, dy):
            raise ValueError(message)

        return wrong
    if ny == 0:
        return lambda y, dy: None

    def check(y, dy):
        if y.shape != dy.shape:
            raise ValueError(message)

    return check


def unit_cotangent(y):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(unit_cotangent)
def _unit_cotangent(y):
    from ..runtime import NonScalarResult

    if isinstance(y, types.Array) and y.ndim > 0:

        def not_scalar(y):
            raise NonScalarResult("an array")

        return not_scalar
    if isinstance(y, types.Float | types.Integer | types.Array):
        return lambda y: 1.0
    raise TypingError(f"the gradient of a {y}: grad needs a function that returns a number")


def tie_share(x, y):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(tie_share)
def _tie_share(x, y):
    # (the share of maximum(x, y)'s cotangent that goes to x: half where they tie)
    return lambda x, y: 1.0 - 0.5 * (x == y)


def abs_sign(x):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(abs_sign)
def _abs_sign(x):
    if isinstance(x, types.Array) and isinstance(x.dtype, types.Complex):
        raise TypingError("np.abs of a complex value")
    return lambda x: np.sign(x)


def clip_low(a, a_min, a_max):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(clip_low)
def _clip_low(a, a_min, a_max):
    if isinstance(a_max, types.NoneType):
        return lambda a, a_min, a_max: a < a_min
    return lambda a, a_min, a_max: (a < a_min) & (a_min <= a_max)


def clip_high(a, a_min, a_max):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(clip_high)
def _clip_high(a, a_min, a_max):
    if isinstance(a_min, types.NoneType):
        return lambda a, a_min, a_max: a > a_max
    return lambda a, a_min, a_max: (a > a_max) | (a_min > a_max)


def clip_passes(a, a_min, a_max):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(clip_passes)
def _clip_passes(a, a_min, a_max):
    if isinstance(a_min, types.NoneType):
        return lambda a, a_min, a_max: a <= a_max
    if isinstance(a_max, types.NoneType):
        return lambda a, a_min, a_max: a >= a_min
    return lambda a, a_min, a_max: (a >= a_min) & (a <= a_max) & (a_min <= a_max)
