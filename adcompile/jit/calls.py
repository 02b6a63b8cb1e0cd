"""The calls ``jit/emitter.py`` compiles: the numba helpers generated code calls
(``matmul``, ``matmul_add``, ``reduce_sum``..., ``numpy_exp``..., ``zero_like``),
numpy's array constructors and elementwise functions, ``math``'s functions of a
number, and the module's own ``repeated_N`` functions (inlined)."""

from __future__ import annotations

import ast
import math

from llvmlite import ir

from . import native
from .access import view_of
from .control import block
from .values import (
    DOUBLE,
    I8P,
    I32,
    I64,
    LIBM,
    NO_TRANS,
    REDUCERS,
    ROW_MAJOR,
    TRANS,
    Arr,
    Ew,
    Num,
    Unsupported,
    broadcast,
    c_strides,
)

# numpy's elementwise functions of one array compiled to an LLVM intrinsic
INTRINSICS = {"sqrt": "llvm.sqrt", "abs": "llvm.fabs", "fabs": "llvm.fabs", "absolute": "llvm.fabs"}
CONSTRUCTORS = {"zeros": 0.0, "ones": 1.0}
UFUNC_OPERATORS = {
    "add": "+", "subtract": "-", "multiply": "*", "divide": "/", "true_divide": "/",
    "power": "**", "mod": "%", "remainder": "%",
}  # fmt: skip


def call(em, node: ast.Call, env: dict):
    if any(k.arg is None for k in node.keywords) or any(
        isinstance(a, ast.Starred) for a in node.args
    ):
        raise Unsupported("a call with * or **")
    args = [em.expr(a, env) for a in node.args]
    kwargs = {k.arg: k.value for k in node.keywords}
    f = node.func
    if isinstance(f, ast.Name):
        name = f.id
        if name in em.functions and not kwargs:
            return inline(em, em.functions[name], args)
        if name == "matmul" and len(args) == 2 and not kwargs:
            return matmul(em, args[0], args[1], None)
        if name == "matmul_add" and len(args) == 3 and not kwargs:
            return matmul(em, args[0], args[1], args[2])
        if name.startswith("reduce_") and name[7:] in REDUCERS and len(args) == 3:
            return reduce(em, name[7:], args[0], _axes(args[1]), _const(args[2]))
        if name.startswith("numpy_") and len(args) == 1 and set(kwargs) <= {"overwrite"}:
            return vector_ufunc(em, name[6:], args[0])
        if name in BROADCASTING:
            return BROADCASTING[name](em, *_bind(name, args, kwargs, env, em))
        if name == "unit_cotangent" and len(args) == 1 and isinstance(args[0], Num):
            return Num(const=1.0)
        if name == "zero_like" and len(args) == 1:
            return _filled(em, args[0], 0.0)
        if name == "float" and len(args) == 1 and isinstance(args[0], Num):
            return Num(const=float(args[0].const)) if args[0].const is not None else args[0]
        if name == "slice" and not kwargs and 1 <= len(args) <= 3:
            return slice(*(None if a is None else _const(a) for a in args))
        if name == "len" and len(args) == 1 and not isinstance(args[0], Num):
            v = args[0]
            n = len(v) if isinstance(v, tuple | list) else shape_of(em, v)[:1]
            return Num(const=n if isinstance(n, int) else n[0] if n else _no_len())
        if name == "sum" and len(args) == 1 and isinstance(args[0], tuple | list):
            total = Num(const=0)
            for v in args[0]:
                total = em.binary("+", total, v)
            return total
        if name == "abs" and len(args) == 1:
            return elementwise(em, "abs", args)
        raise Unsupported(f"a call of {name}")
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        lib, name = f.value.id, f.attr
        if lib == "math" and not kwargs and all(isinstance(a, Num) for a in args):
            return elementwise(em, name, args)
        if lib == "np":
            return numpy_call(em, name, args, kwargs)
    if isinstance(f, ast.Attribute) and not kwargs:
        if not args:
            return method(em, f.attr, em.expr(f.value, env))
        if f.attr == "dot" and len(args) == 1:
            return matmul(em, em.expr(f.value, env), args[0], None)
        if f.attr == "reshape":
            shape = _shape_arg(args[0]) if len(args) == 1 else _shape_arg(tuple(args))
            return method(em, "reshape", em.expr(f.value, env), shape)
    raise Unsupported("a call of this kind")


FULL = {"sum": "sum", "mean": "mean", "max": "max", "min": "min", "amax": "max", "amin": "min"}


def method(em, name: str, x, shape: tuple | None = None):
    """``x.sum()``, ``x.mean()``, ``x.max()``, ``x.min()``, ``x.copy()``; a list's
    ``.pop()``."""
    if name == "pop" and isinstance(x, list) and x:
        return x.pop()
    if name in FULL and name[0] != "a" and not isinstance(x, tuple | Num):
        return reduce(em, FULL[name], x, None, False)
    if name == "reshape" and shape is not None:
        return _reshape(em, x, shape)
    if name == "copy" and not isinstance(x, tuple):
        return x if isinstance(x, Num) else em.materialise(em.ew(x))
    raise Unsupported(f"the method .{name}()")


# the runtime helpers of broadcasting and reductions: their parameters, defaults
SIGNATURES = {
    "unreduce": (("g", "x", "axis", "keepdims"), (None, False)),
    "unbroadcast": (("g", "x"), ()),
    "reduced_count": (("x", "axis"), (None,)),
    "extremum_mask": (("x", "y", "axis", "keepdims"), (None, False)),
    "abs_sign": (("x",), ()),
    "tie_share": (("x", "y"), ()),
    "clip_low": (("a", "a_min", "a_max"), ()),
    "clip_high": (("a", "a_min", "a_max"), ()),
    "clip_passes": (("a", "a_min", "a_max"), ()),
    "untranspose": (("g", "axes"), (None,)),
    "matmul_adjoint_lhs": (("g", "x", "y"), ()),
    "matmul_adjoint_rhs": (("g", "x", "y"), ()),
    "unconcatenate": (("g", "arrays", "axis", "rows"), (0, False)),
    "unindex": (("g", "x", "index"), ()),
    "add_into": (("out", "index", "g"), ()),
    "dot_adjoint_lhs": (("g", "x", "y"), ()),
    "dot_adjoint_rhs": (("g", "x", "y"), ()),
}


def _bind(name: str, args: list, kwargs: dict, env: dict, em) -> list:
    names, defaults = SIGNATURES[name]
    if len(args) > len(names) or set(kwargs) - set(names[len(args) :]):
        raise Unsupported(f"the arguments of {name}")
    out = list(args)
    for k, p in enumerate(names[len(args) :], start=len(args)):
        if p in kwargs:
            out.append(em.expr(kwargs[p], env))
        elif k >= len(names) - len(defaults):
            d = defaults[k - (len(names) - len(defaults))]
            out.append(Num(const=d) if d is not None else None)
        else:
            raise Unsupported(f"the arguments of {name}")
    return out


def _axes_of(v, ndim: int):
    """The axes (non-negative, sorted) an ``axis`` argument names, None for all."""
    if v is None or isinstance(v, Num) and v.const is None and v.value is None:
        return None
    axes = _axes(v)
    if axes is None:
        return None
    if any(not -ndim <= a < ndim for a in axes):
        raise Unsupported("an axis out of range")
    return tuple(sorted(a % ndim for a in axes))


def shape_of(em, v) -> tuple:
    """The shape of a value (a number's is ())."""
    return () if isinstance(v, Num) else em.ew(v).shape


def _expand(em, g, axes: tuple, ndim: int):
    """``g`` with length-1 dimensions inserted at ``axes`` (of the result's ``ndim``)."""
    if isinstance(g, Ew):
        g = em.materialise(g)
    if isinstance(g, Num):
        return g
    shape, strides, k = [], [], 0
    for d in range(ndim):
        if d in axes:
            shape.append(1)
            strides.append(0)
        else:
            shape.append(g.shape[k])
            strides.append(g.strides[k])
            k += 1
    return Arr(g.buf, g.offset, tuple(shape), tuple(strides))


def _spread(em, g, shape: tuple) -> Ew:
    """``g`` broadcast to ``shape``, as an elementwise expression."""
    e = em.ew(g)
    if broadcast(e.shape, shape) != shape:
        raise Unsupported("a cotangent that does not broadcast to its value")
    return Ew(shape, em.lift(e, shape), e.reads, e.boolean)


def _unreduce(em, g, x, axis, keepdims):
    shape = shape_of(em, x)
    axes = _axes_of(axis, len(shape))
    if axes is not None and not _const(keepdims):
        g = _expand(em, g, axes, len(shape))
    return _spread(em, g, shape) if shape else g


def _unbroadcast(em, g, x):
    gs, xs = shape_of(em, g), shape_of(em, x)
    if gs == xs:
        return g
    if not xs:
        return reduce(em, "sum", g, None, False)
    lead = len(gs) - len(xs)
    if lead < 0:
        return _spread(em, g, xs)
    axes = tuple(range(lead)) + tuple(
        lead + d for d, n in enumerate(xs) if n == 1 and gs[lead + d] != 1
    )
    summed = reduce(em, "sum", g, axes, True) if axes else em.settle(em.ew(g))
    if isinstance(summed, Num):
        return summed
    out = Arr(summed.buf, summed.offset, summed.shape[lead:], summed.strides[lead:])
    return out if out.shape == xs else _spread(em, out, xs)


def _reduced_count(em, x, axis):
    shape = shape_of(em, x)
    axes = _axes_of(axis, len(shape))
    return Num(const=math.prod(shape if axes is None else [shape[a] for a in axes]))


def _extremum_mask(em, x, y, axis, keepdims):
    shape = shape_of(em, x)
    axes = _axes_of(axis, len(shape))
    if axes is not None and not _const(keepdims):
        y = _expand(em, y, axes, len(shape))
    at = em.new_array(shape)
    em.store(em.compare("==", x, y), at)
    count = reduce(em, "sum", at, axes, True)
    return em.binary("/", at, count)


def _abs_sign(em, x):
    return _sign(em, x)


def _tie_share(em, x, y):
    return em.binary("-", Num(const=1.0), em.binary("*", Num(const=0.5), em.compare("==", x, y)))


def _clip_low(em, a, low, high):
    below = em.compare("<", a, low)
    return below if high is None else em.logical("&", below, em.compare("<=", low, high))


def _clip_high(em, a, low, high):
    above = em.compare(">", a, high)
    return above if low is None else em.logical("|", above, em.compare(">", low, high))


def _clip_passes(em, a, low, high):
    if low is None:
        return em.compare("<=", a, high)
    if high is None:
        return em.compare(">=", a, low)
    inside = em.logical("&", em.compare(">=", a, low), em.compare("<=", a, high))
    return em.logical("&", inside, em.compare("<=", low, high))


def _untranspose(em, g, axes):
    if isinstance(g, Ew):
        g = em.materialise(g)
    if isinstance(g, Num):
        return g
    if axes is None:
        return Arr(g.buf, g.offset, g.shape[::-1], g.strides[::-1])
    order = [a % g.ndim for a in (_const(a) for a in axes)]
    back = sorted(range(g.ndim), key=lambda d: order[d])
    return Arr(g.buf, g.offset, tuple(g.shape[d] for d in back), tuple(g.strides[d] for d in back))


def _matmul_lhs(em, g, x, y):
    xn, yn = len(shape_of(em, x)), len(shape_of(em, y))
    if xn == 2 and yn == 2:
        return matmul(em, g, _transpose(em, y), None)
    if yn == 1 and xn in (1, 2):
        return em.binary("*", g if xn == 1 else _expand(em, g, (1,), 2), y)
    if xn == 1 and yn == 2:
        return matmul(em, y, g, None)
    raise Unsupported("the cotangent of a product of arrays of more than 2 dimensions")


def _matmul_rhs(em, g, x, y):
    xn, yn = len(shape_of(em, x)), len(shape_of(em, y))
    if xn == 2 and yn == 2:
        return matmul(em, _transpose(em, x), g, None)
    if xn == 1 and yn in (1, 2):
        if yn == 1:
            return em.binary("*", g, x)
        return em.binary("*", _expand(em, x, (1,), 2), _expand(em, g, (0,), 2))
    if yn == 1 and xn == 2:
        return matmul(em, _transpose(em, x), g, None)
    raise Unsupported("the cotangent of a product of arrays of more than 2 dimensions")


def _shape_arg(v) -> tuple:
    return tuple(_const(n) for n in v) if isinstance(v, tuple) else (_const(v),)


def _reshape(em, x, shape: tuple):
    """``x`` reshaped (a view of it in C order; a copy first if it is not one)."""
    if isinstance(x, Num):
        raise Unsupported("a reshaped number")
    x = em.materialise(x) if isinstance(x, Ew) else x
    if isinstance(x, Num):
        raise Unsupported("a reshaped number")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        shape = tuple(x.size // known if n == -1 and known else n for n in shape)
    if math.prod(shape) != x.size:
        raise Unsupported("a reshape to another size")
    if x.strides != c_strides(x.shape):
        x = em.materialise(em.ew(x))
    return Arr(x.buf, x.offset, shape, c_strides(shape))


def _concatenate(em, pieces: list, axis):
    """np.concatenate of arrays of one number of dimensions along the constant ``axis``."""
    shapes = [shape_of(em, p) for p in pieces]
    ndim = len(shapes[0])
    if not isinstance(axis, int) or ndim == 0 or any(len(s) != ndim for s in shapes):
        raise Unsupported("np.concatenate of these")
    if not -ndim <= axis < ndim:
        raise Unsupported("an axis out of range")
    axis %= ndim
    rest = [s[:axis] + s[axis + 1 :] for s in shapes]
    if any(r != rest[0] for r in rest):
        raise Unsupported("np.concatenate of pieces of other shapes")
    shape = shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1 :]
    dest = em.new_array(shape)
    start = 0
    for piece, s in zip(pieces, shapes, strict=True):
        offset = dest.offset + start * dest.strides[axis]
        part = Arr(dest.buf, offset, s, dest.strides)
        em.store(em.ew(piece), part)
        start += s[axis]
    return dest


def _unconcatenate(em, g, arrays, axis, rows):
    """The cotangent of np.concatenate(arrays, axis): views of ``g``, one a piece."""
    axis, rows = (None if v is None else _const(v) for v in (axis, rows))
    if rows or axis is None or not isinstance(arrays, tuple | list):
        raise Unsupported("the adjoint of np.vstack/np.column_stack or of a flattened join")
    g = em.materialise(g) if isinstance(g, Ew) else g
    if not isinstance(g, Arr) or any(len(shape_of(em, a)) != g.ndim for a in arrays):
        raise Unsupported("the adjoint of np.concatenate of pieces of other dimensions")
    axis %= g.ndim
    parts, start = [], 0
    for a in arrays:
        n = shape_of(em, a)[axis]
        shape = g.shape[:axis] + (n,) + g.shape[axis + 1 :]
        parts.append(Arr(g.buf, g.offset + start * g.strides[axis], shape, g.strides))
        start += n
    return tuple(parts)


def _parts(index) -> list:
    """The parts of an index of constant ints and slices."""
    parts = list(index) if isinstance(index, tuple) else [index]
    out = []
    for p in parts:
        if isinstance(p, Num) and type(p.const) is int:
            out.append(p.const)
        elif isinstance(p, slice):
            out.append(p)
        else:
            raise Unsupported("the adjoint of an index of arrays or of values known when run")
    return out


def _unindex(em, g, x, index):
    """``g`` written into zeros shaped like ``x`` at ``x[index]`` (ints and slices:
    each element once)."""
    shape = shape_of(em, x)
    dest = em.new_array(shape)
    em.store(em.ew(Num(const=0.0)), dest)
    part = view_of(dest, _parts(index))
    em.store(_spread(em, g, part.shape), part)
    return dest


def _add_into(em, out, index, g):
    """``out[index] += g``, in place (``out`` a gradient the code owns)."""
    if not isinstance(out, Arr) or out.buf.kind == "in":
        raise Unsupported("an update of an argument")
    part = view_of(out, _parts(index))
    value = em.ew(g)
    if any(r.buf is out.buf for r in value.reads):
        value = em.ew(em.materialise(value))
    em.store(em.binary("+", part, _spread(em, value, part.shape)), part)


def _dot_adjoint(em, g, x, y, lhs: bool):
    """The cotangent of ``x`` (``lhs``) or ``y`` in ``np.dot(x, y)``."""
    if not shape_of(em, x) or not shape_of(em, y):  # (a product by a number)
        return _unbroadcast(em, em.binary("*", g, y if lhs else x), x if lhs else y)
    return (_matmul_lhs if lhs else _matmul_rhs)(em, g, x, y)


def _transpose(em, a):
    a = em.materialise(a) if isinstance(a, Ew) else a
    if isinstance(a, Num):
        return a
    return Arr(a.buf, a.offset, a.shape[::-1], a.strides[::-1])


BROADCASTING = {
    "unreduce": _unreduce,
    "unbroadcast": _unbroadcast,
    "reduced_count": _reduced_count,
    "extremum_mask": _extremum_mask,
    "abs_sign": _abs_sign,
    "tie_share": _tie_share,
    "clip_low": _clip_low,
    "clip_high": _clip_high,
    "clip_passes": _clip_passes,
    "untranspose": _untranspose,
    "matmul_adjoint_lhs": _matmul_lhs,
    "matmul_adjoint_rhs": _matmul_rhs,
    "unconcatenate": lambda em, g, arrays, axis, rows: _unconcatenate(em, g, arrays, axis, rows),
    "unindex": lambda em, g, x, index: _unindex(em, g, x, index),
    "add_into": lambda em, out, index, g: _add_into(em, out, index, g),
    "dot_adjoint_lhs": lambda em, g, x, y: _dot_adjoint(em, g, x, y, True),
    "dot_adjoint_rhs": lambda em, g, x, y: _dot_adjoint(em, g, x, y, False),
}


def _no_len():
    raise Unsupported("len() of a 0-d array")


def _const(v):
    if isinstance(v, Num) and v.const is not None:
        return v.const
    raise Unsupported("an argument not known when compiling")


def _axes(v):
    if isinstance(v, tuple):
        return tuple(_const(x) for x in v)
    c = v.const if isinstance(v, Num) else None
    return c if c is None else (c,)


def inline(em, fn: ast.FunctionDef, args: list):
    """The value of the module's function ``fn`` (``return expr``, possibly after
    assignments) for ``args``."""
    params = [a.arg for a in fn.args.args]
    if len(params) != len(args) or fn.args.vararg or fn.args.kwarg or fn.args.defaults:
        raise Unsupported(f"the call of {fn.name}")
    *body, last = fn.body
    if body:  # (its statements take values, not expressions still to compute)
        args = [em.settle(a) for a in args]
    local = {**em.constants, **dict(zip(params, args, strict=True))}
    if not isinstance(last, ast.Return) or last.value is None:
        raise Unsupported(f"the body of {fn.name}")
    if any(isinstance(n, ast.Return) for stmt in body for n in ast.walk(stmt)):
        raise Unsupported(f"a return before the end of {fn.name}")
    block(em, body, local)
    return em.expr(last.value, local)


def numpy_call(em, name: str, args: list, kwargs: dict):
    if name in CONSTRUCTORS or name == "full":
        if set(kwargs) - {"dtype"} or ("dtype" in kwargs and not _is_float64(kwargs["dtype"])):
            raise Unsupported(f"np.{name} with these arguments")
        shape = args[0] if isinstance(args[0], tuple) else (args[0],)
        shape = tuple(_const(n) for n in shape)
        value = args[1] if name == "full" else Num(const=CONSTRUCTORS[name])
        dest = em.new_array(shape)
        em.store(em.ew(value), dest)
        return dest
    if name in ("zeros_like", "ones_like") and len(args) == 1 and not kwargs:
        return _filled(em, args[0], 0.0 if name == "zeros_like" else 1.0)
    if kwargs:
        raise Unsupported(f"np.{name} with keywords")
    if name in FULL and len(args) == 1 and not isinstance(args[0], tuple):
        if isinstance(args[0], Num):
            return args[0]
        return reduce(em, FULL[name], args[0], None, False)
    if name in ("dot", "matmul") and len(args) == 2:
        return matmul(em, args[0], args[1], None)
    if name == "transpose" and len(args) == 1 and isinstance(args[0], Arr):
        a = args[0]
        return Arr(a.buf, a.offset, a.shape[::-1], a.strides[::-1])
    if name == "broadcast_to" and len(args) == 2:
        return _spread(em, args[0], _shape_arg(args[1]))
    if name == "reshape" and len(args) == 2:
        return _reshape(em, args[0], _shape_arg(args[1]))
    if name == "expand_dims" and len(args) == 2 and not isinstance(args[0], Num):
        shape = shape_of(em, args[0])
        axes = _axes_of(args[1], len(shape) + 1)
        return _expand(em, args[0], axes, len(shape) + len(axes))
    if name == "outer" and len(args) == 2 and all(len(shape_of(em, a)) == 1 for a in args):
        return em.binary("*", _expand(em, args[0], (1,), 2), _expand(em, args[1], (0,), 2))
    if name in ("deg2rad", "radians", "rad2deg", "degrees") and len(args) == 1:
        factor = math.pi / 180 if name in ("deg2rad", "radians") else 180 / math.pi
        return em.binary("*", args[0], Num(const=factor))
    if name == "clip" and len(args) == 3:
        x, low, high = args
        if low is not None:
            x = _extremum(em, "maximum", [x, low])
        return x if high is None else _extremum(em, "minimum", [x, high])
    if name == "square" and len(args) == 1:
        return em.binary("**", args[0], Num(const=2))
    if name in UFUNC_OPERATORS and len(args) == 2:
        return em.binary(UFUNC_OPERATORS[name], args[0], args[1])
    if name in ("concatenate", "hstack") and len(args) in (1, 2):
        pieces = args[0]
        if not isinstance(pieces, tuple | list) or not pieces:
            raise Unsupported(f"np.{name} of this")
        ndim = len(shape_of(em, pieces[0]))
        axis = _const(args[1]) if len(args) == 2 else 0 if name == "concatenate" or ndim == 1 else 1
        return _concatenate(em, list(pieces), axis)
    if name == "logaddexp" and len(args) == 2:
        return _logaddexp(em, args)
    if name in ("hypot", "arctan2") and len(args) == 2:
        return _libm2(em, {"hypot": "hypot", "arctan2": "atan2"}[name], args)
    if name == "shape" and len(args) == 1:
        return tuple(Num(const=n) for n in shape_of(em, args[0]))
    if name == "negative" and len(args) == 1:
        return em.binary("*", Num(const=-1.0), args[0])
    if name == "where" and len(args) == 3:
        c, x, y = (em.ew(a) for a in args)
        if not c.boolean:  # (a number is true where it is not zero)
            c = em.compare("!=", c, Num(const=0.0))
        x, y = em._numeric(x), em._numeric(y)
        shape = broadcast(c.shape, x.shape, y.shape)
        gc, gx, gy = (em.lift(e, shape) for e in (c, x, y))
        reads = c.reads + x.reads + y.reads
        return Ew(shape, lambda idx: em.b.select(gc(idx), gx(idx), gy(idx)), reads)
    if name in ("maximum", "minimum") and len(args) == 2:
        return _extremum(em, name, args)
    return elementwise(em, name, args)


def _is_float64(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("float64", "double")
        or (isinstance(node, ast.Name) and node.id == "float")
    )


def _filled(em, like, value: float):
    if isinstance(like, Num):
        return Num(const=value)
    shape = em.ew(like).shape
    dest = em.new_array(shape)
    em.store(em.ew(Num(const=value)), dest)
    return dest


def elementwise(em, name: str, args: list):
    """numpy's (or math's) elementwise function ``name`` of one value."""
    if len(args) != 1:
        raise Unsupported(f"{name} of {len(args)} arguments")
    if name in INTRINSICS:
        fn = em.intrinsic(INTRINSICS[name])
    elif name in LIBM:
        fn = em.libm(LIBM[name])
    elif name == "sign":
        return _sign(em, args[0])
    else:
        raise Unsupported(f"the function {name}")
    (x,) = args
    if isinstance(x, Num):
        if x.const is not None:
            return Num(value=em.b.call(fn, [em.as_double(x)]))
        return Num(value=em.b.call(fn, [x.value]))
    e = em.ew(x)
    if e.boolean:
        raise Unsupported(f"{name} of booleans")
    return Ew(e.shape, lambda idx: em.b.call(fn, [e.gen(idx)]), e.reads)


def _libm2(em, name: str, args: list):
    """The C library's ``name`` of two values, elementwise."""
    fn = em.libm(name, 2)
    if all(isinstance(a, Num) for a in args):
        return Num(value=em.b.call(fn, [em.as_double(a) for a in args]))
    a, c = (em._numeric(em.ew(x)) for x in args)
    shape = broadcast(a.shape, c.shape)
    ga, gc = em.lift(a, shape), em.lift(c, shape)
    return Ew(shape, lambda idx: em.b.call(fn, [ga(idx), gc(idx)]), a.reads + c.reads)


def _logaddexp(em, args: list):
    """numpy's ``logaddexp``: ``x + log(2)`` where the two are equal (infinities
    too), else the larger plus ``log1p(exp(-|x - y|))``, NaN where either is."""
    a, c = (em._numeric(em.ew(x)) for x in args)
    shape = broadcast(a.shape, c.shape)
    ga, gc = em.lift(a, shape), em.lift(c, shape)
    exp, log1p = em.libm("exp"), em.libm("log1p")

    def gen(idx):
        b = em.b
        x, y = ga(idx), gc(idx)
        d = b.fsub(x, y)
        larger = b.select(b.fcmp_ordered(">", d, DOUBLE(0.0)), x, y)
        tail = b.call(log1p, [b.call(exp, [b.fneg(b.call(em.intrinsic("llvm.fabs"), [d]))])])
        value = b.select(b.fcmp_unordered("uno", d, d), d, b.fadd(larger, tail))
        return b.select(b.fcmp_ordered("==", x, y), b.fadd(x, DOUBLE(math.log(2.0))), value)

    out = Ew(shape, gen, a.reads + c.reads)
    return out if shape else em.materialise(out)


def _sign(em, x):
    e = em.ew(x)

    def gen(idx):
        b = em.b
        v = e.gen(idx)
        pos = b.uitofp(b.fcmp_ordered(">", v, DOUBLE(0.0)), DOUBLE)
        neg = b.uitofp(b.fcmp_ordered("<", v, DOUBLE(0.0)), DOUBLE)
        s = b.fsub(pos, neg)
        return b.select(b.fcmp_unordered("uno", v, v), v, s)  # (nan stays nan)

    out = Ew(e.shape, gen, e.reads)
    return em.materialise(out) if isinstance(x, Num) else out


def _extremum(em, name: str, args: list):
    a, c = (em.ew(x) for x in args)
    if a.boolean or c.boolean:
        raise Unsupported(f"np.{name} of booleans")
    shape = broadcast(a.shape, c.shape)
    ga, gc = em.lift(a, shape), em.lift(c, shape)
    keep = "oge" if name == "maximum" else "ole"

    def gen(idx):
        b = em.b
        u, v = ga(idx), gc(idx)
        first = b.or_(b.fcmp_ordered(keep, u, v), b.fcmp_unordered("uno", u, u))
        return b.select(first, u, v)  # (nan propagates, from either side)

    out = Ew(shape, gen, a.reads + c.reads)
    return out if shape else em.materialise(out)


# ------------------------------------------------------------------ numpy's loops


def vector_ufunc(em, name: str, x):
    """``numpy_<name>(x)``: ``x`` computed into a new array (or ``x`` itself, a
    number), then numpy's loop for ``name`` run over it in place."""
    if isinstance(x, Num):
        return elementwise(em, name, [x])
    slot = native.ufunc_slot(name, np_f8())
    if not native.TABLE[slot]:
        return elementwise(em, name, [x])  # (no loop of numpy's: the C library's)
    e = em.ew(x)
    if e.boolean:
        raise Unsupported(f"{name} of booleans")
    if not e.shape:
        return elementwise(em, name, [x])
    dest = em.new_array(e.shape)
    em.store(e, dest)
    b = em.b
    loop, data = em.table(slot), em.table(slot + 1)
    pointers = em.alloca(ir.ArrayType(I8P, 2))
    dims = em.alloca(I64)
    steps = em.alloca(ir.ArrayType(I64, 2))
    p = b.bitcast(em.base(dest.buf), I8P)
    b.store(p, b.gep(pointers, [I32(0), I32(0)]))
    b.store(p, b.gep(pointers, [I32(0), I32(1)]))
    b.store(I64(dest.size), dims)
    b.store(I64(8), b.gep(steps, [I32(0), I32(0)]))
    b.store(I64(8), b.gep(steps, [I32(0), I32(1)]))
    i64p = I64.as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [I8P.as_pointer(), i64p, i64p, I8P])
    b.call(
        b.bitcast(loop, fnty.as_pointer()),
        [b.gep(pointers, [I32(0), I32(0)]), dims, b.gep(steps, [I32(0), I32(0)]), data],
    )
    return dest


def np_f8():
    import numpy as np

    return np.dtype(np.float64)


# ------------------------------------------------------------------ reductions


def reduce(em, op: str, x, axes, keepdims):
    """``reduce_<op>(x, axis, keepdims)`` by loops over ``x`` in its order."""
    if not shape_of(em, x):  # (of a number or a 0-d array: the number)
        if axes not in (None, ()):
            raise Unsupported("a reduction of a number along an axis")
        return x if isinstance(x, Num) else em.materialise(em.ew(x))
    if isinstance(x, Ew):
        x = em.materialise(x)
    if not isinstance(x, Arr) or x.buf.dtype != "f8":
        raise Unsupported(f"reduce_{op} of this")
    nd = x.ndim
    if axes is None:
        axes = tuple(range(nd))
    if any(not -nd <= a < nd for a in axes) or len({a % nd for a in axes}) != len(axes):
        raise Unsupported("a reduction's axis")
    axes = tuple(a % nd for a in axes)
    count = math.prod(x.shape[a] for a in axes)
    if op in ("max", "min") and count == 0:
        raise Unsupported(f"the {op} of no elements")
    out_shape = (
        tuple(1 if k in axes else n for k, n in enumerate(x.shape))
        if keepdims
        else (tuple(n for k, n in enumerate(x.shape) if k not in axes))
    )
    b = em.b
    start = {"sum": 0.0, "mean": 0.0, "max": -math.inf, "min": math.inf}[op]

    def combine(acc, v):
        if op in ("sum", "mean"):
            return b.fadd(acc, v)
        keep = "ogt" if op == "max" else "olt"
        take = b.or_(b.fcmp_ordered(keep, v, acc), b.fcmp_unordered("uno", v, v))
        return b.select(take, v, acc)

    if op in ("sum", "mean") and axes == tuple(range(nd - len(axes), nd)):
        return _sum_trailing(em, op, x, len(axes), out_shape, count)
    if not out_shape or all(k in axes for k in range(nd)) and not keepdims:
        acc = em.alloca(DOUBLE)
        b.store(DOUBLE(start), acc)
        em.loops(x.shape, lambda idx: b.store(combine(b.load(acc), em.load(x, idx)), acc))
        value = b.load(acc)
        if op == "mean":
            value = b.fdiv(value, DOUBLE(float(count)))
        return Num(value=value)
    dest = em.new_array(out_shape)
    em.store(em.ew(Num(const=start)), dest)
    kept = tuple(1 if k in axes else n for k, n in enumerate(x.shape))
    full = dest if keepdims else Arr(dest.buf, 0, kept, c_strides(kept))

    def body(idx):
        at = em.address(full, [I64(0) if k in axes else i for k, i in enumerate(idx)])
        b.store(combine(b.load(at), em.load(x, idx)), at)

    em.loops(x.shape, body)
    if op == "mean":
        em.store(em.binary("/", dest, Num(const=float(count))), dest)
    return dest


def _sum_trailing(em, op: str, x: Arr, nred: int, out_shape: tuple, count: int):
    """A sum (mean) over the last ``nred`` axes of ``x``: each result accumulated in
    a register, its additions free to be reordered (so that LLVM adds several
    lanes at once, as numpy's pairwise sum also reorders them)."""
    b = em.b
    kept, reduced = x.shape[: x.ndim - nred], x.shape[x.ndim - nred :]
    acc = em.alloca(DOUBLE)
    dest = em.new_array(out_shape) if out_shape else None
    flat = Arr(dest.buf, 0, kept, c_strides(kept)) if dest is not None else None

    def one(outer):
        b.store(DOUBLE(0.0), acc)

        def add(inner):
            v = em.load(x, list(outer) + list(inner))
            b.store(b.fadd(b.load(acc), v, flags=("reassoc",)), acc)

        em.loops(reduced, add)
        value = b.load(acc)
        if op == "mean":
            value = b.fdiv(value, DOUBLE(float(count)))
        if flat is not None:
            b.store(value, em.address(flat, list(outer)))
        return value

    if dest is None:
        return Num(value=one([]))
    em.loops(kept, one)
    return dest


# ------------------------------------------------------------------ matrix products


def matmul(em, x, y, c):
    """``x @ y`` (plus ``c``, broadcast to the product's shape, when given) by the
    BLAS ``gemm`` of numpy that the table holds."""
    x, y = (em.materialise(v) if isinstance(v, Ew) else v for v in (x, y))
    arrays = isinstance(x, Arr) and isinstance(y, Arr)
    if not arrays or not (1 <= x.ndim <= 2 and 1 <= y.ndim <= 2):
        raise Unsupported("a matrix product of these")
    m, k = (1, x.shape[0]) if x.ndim == 1 else x.shape
    k2, n = (y.shape[0], 1) if y.ndim == 1 else y.shape
    if k != k2:
        raise Unsupported("a matrix product of shapes that do not match")
    shape = tuple(([m] if x.ndim == 2 else []) + ([n] if y.ndim == 2 else []))
    if c is not None:
        ce = em.ew(c)
        if broadcast(shape, ce.shape) != shape or ce.boolean:
            return em.binary("+", matmul(em, x, y, None), c)
    dest = em.new_array(shape)
    em.store(em.ew(Num(const=0.0)) if c is None else ce, dest)
    if m * n == 0 or k == 0:
        return dest if shape else Num(value=em.load(dest, []))
    gemm = _gemm_slot()
    if gemm is None:
        raise Unsupported("numpy's BLAS has no gemm adcompile can call")
    slot, bits = gemm
    x2 = x if x.ndim == 2 else Arr(x.buf, x.offset, (1, k), (0, x.strides[0]))
    y2 = y if y.ndim == 2 else Arr(y.buf, y.offset, (k, 1), (y.strides[0], 0))
    ta, lda, x2 = _operand(em, x2)
    tb, ldb, y2 = _operand(em, y2)
    b = em.b
    integer = ir.IntType(bits)
    fnty = ir.FunctionType(
        ir.VoidType(),
        [I32, I32, I32, integer, integer, integer, DOUBLE, I8P, integer, I8P, integer,
         DOUBLE, I8P, integer],
    )  # fmt: skip
    fn = b.bitcast(em.table(slot), fnty.as_pointer())
    args = [
        I32(ROW_MAJOR), I32(ta), I32(tb), integer(m), integer(n), integer(k), DOUBLE(1.0),
        _data(em, x2), integer(lda), _data(em, y2), integer(ldb),
        DOUBLE(0.0 if c is None else 1.0), _data(em, dest), integer(max(1, n)),
    ]  # fmt: skip
    b.call(fn, args)
    if not shape:  # (a vector by a vector: a number, as numpy's np.float64)
        return Num(value=em.load(dest, []))
    return dest


def _gemm_slot():
    for bits in (64, 32):
        slot = native.GEMM_SLOTS[("dgemm", bits)]
        if native.TABLE[slot]:
            return slot, bits
    return None


def _operand(em, a: Arr):
    """(transpose flag, leading dimension, the array) of ``a`` as a gemm operand: a
    view whose rows or columns are contiguous, else a copy."""
    r, c = a.shape
    sr, sc = a.strides
    if (sc == 1 or c == 1) and (r == 1 or sr >= max(1, c)):
        return NO_TRANS, (sr if r > 1 else max(1, c)), a
    if (sr == 1 or r == 1) and (c == 1 or sc >= max(1, r)):
        return TRANS, (sc if c > 1 else max(1, r)), a
    copy = em.materialise(em.ew(a))
    return NO_TRANS, max(1, c), copy


def _data(em, a: Arr) -> ir.Value:
    return em.b.bitcast(em.b.gep(em.base(a.buf), [I64(a.offset)]), I8P)
