"""The per-call fast path of a GradientFunction: the dispatcher written for one kind
of arguments (:class:`_Dispatch`), and what every call does to the gradients the
generated code returns (:func:`_finish`).

``api.py`` runs the slow path of a call (bind, check, compile, run) and asks this
module for a dispatcher the second time arguments of one kind come."""

from __future__ import annotations

import functools
import linecache
from collections.abc import Callable
from typing import Any

import numpy as np

from . import fence, frontend
from .emit import linecache_filename
from .errors import AdCompileError
from .frontend import def_loc
from .rules.registry import GENERATION
from .runtime import GradientShape, NonScalarResult, grad_like


def _nonscalar(mode: str, fn: Callable, entry: tuple, exc: NonScalarResult) -> AdCompileError:
    if getattr(type(fn), "compiled_gradient", False):  # grad(grad(f)): f's gradient
        inner = getattr(fn, "fn", fn)
        return AdCompileError(
            f"{mode} of a gradient needs a scalar gradient, but the gradient of "
            f"{inner.__name__} is {exc.args[0]}: grad(grad(f)) is for a function of one number",
            frontend.def_loc(inner),
            hint="for the second derivatives of a function of an array, use adcompile.hvp "
            "(Hessian times a vector) or adcompile.hessian",
        )
    return AdCompileError(
        f"{mode} needs a real scalar result, but {fn.__name__} returned {exc.args[0]}",
        entry[2].result_loc,
        hint="use adcompile.vjp for a non-scalar result, or reduce it (np.sum, np.mean)",
    )


def _packed(grads: list, single: bool):
    return grads[0] if single else tuple(grads)


def _wrong_shape(fn: Callable, params: list[str], exc: GradientShape) -> AdCompileError:
    """The located error for a gradient that does not fit its parameter (see grad_like)."""
    param = params[exc.position]
    got, want = exc.args
    return AdCompileError(
        f"the gradient of {param!r} came out with shape {got}, but {param!r} has shape "
        f"{want}: an adjoint rule gave a contribution of its result's shape for an operand "
        "numpy broadcast to it",
        frontend.def_loc(fn, param),
        hint="register the rule of a function that broadcasts its operands with "
        "@adcompile.adjoint(..., broadcasts=True), or sum its contributions back to "
        "each operand's shape in the rule",
    )


def _finish(grads, args: tuple, fresh: list, index: list) -> list:
    """Each gradient with the type, shape and dtype of its input, owning its memory: a
    list, one per wrt parameter.

    Gradients the generated code built itself (``fresh``) are new arrays that
    nothing else refers to; they only need their shape and dtype checked."""
    if len(index) == 1:
        grads = (grads,)  # the generated code returns a lone gradient bare
    out = []
    for g, i, new in zip(grads, index, fresh, strict=True):
        x = args[i]
        if (
            new
            and type(g) is np.ndarray
            and type(x) is np.ndarray
            and g.shape == x.shape
            and g.dtype == x.dtype
        ):
            out.append(g)
            continue
        try:
            g = _like_input(g, x)
        except GradientShape as exc:
            exc.position = i  # (which parameter: api.py says it in the message)
            raise
        if isinstance(g, list | tuple | dict):
            g = _dealias(g, args, out)
        elif isinstance(g, np.ndarray) and _shares(g, args, out):
            g = g.copy()
        out.append(g)
    return out


def _shares(g: np.ndarray, args: tuple, others: list) -> bool:
    """Whether the array ``g`` is an argument, a leaf of one, or another gradient."""
    return any(g is a for a in _leaves(list(args) + others))


# ------------------------------------------------------------------ the fast path

MAX_DISPATCHERS = 32  # per gradient function: kinds of arguments with a fast path
MAX_LEAVES = 512  # arguments with more arrays and numbers than this get no fast path
MAX_INLINE_ALIAS_TESTS = 256  # identity tests written out; beyond, a set of ids


def _spec(params: tuple, index: list, extra: tuple) -> tuple:
    """What a dispatcher checks of the arguments: each one's type and structure, the shape
    of each array, and the dtype of each array that a gradient is taken of."""
    wrt = set(index)
    return tuple(_spec_of(a, i in wrt) for i, a in enumerate(params)) + tuple(
        _spec_of(a, False) for a in extra
    )


def _spec_of(a: object, wrt: bool) -> object:
    t = type(a)
    if t is np.ndarray:
        return (t, a.shape, a.dtype if wrt else None)
    if t is list or t is tuple:
        return (t, tuple(_spec_of(v, wrt) for v in a))
    if t is dict:
        return (t, tuple((k, _spec_of(v, wrt)) for k, v in a.items()))
    return t


class _NoFastPath(Exception):
    """The arguments are too large or too odd for a dispatcher."""


class _Dispatch:
    """Writes the dispatcher of one kind of arguments: a Python function, compiled once,
    that checks with a few identity and shape tests per array that a call's arguments
    are of that kind (exact types, container lengths and dict keys, array shapes, dtypes
    of the arrays differentiated), that no rule was registered and no name the code resolved
    rebound since the code was compiled, calls the generated code, and checks that each
    gradient already has the type, shape and dtype of its input and shares no memory
    with an input or another gradient. Anything unexpected returns to the slow path
    (arguments of another kind) or to :func:`_finish` (gradients to convert or copy),
    which the dispatcher's checks never contradict: a call through it returns what
    the slow path would."""

    def __init__(self, gf: Any, entry: tuple, args: tuple) -> None:
        # gf: the GradientFunction (api.py) the dispatcher calls for
        self.gf = gf
        self.entry = entry
        self.args = args
        self.ns: dict[str, object] = {
            "ndarray": np.ndarray,
            "SLOW": gf._slow,
            "GEN": GENERATION,
            "NonScalarResult": NonScalarResult,
            "compiled": entry[0],
            "FINISH": functools.partial(_finish, fresh=entry[2].fresh, index=gf._index),
            "ALL_DISTINCT": _all_distinct,
        }
        self.names: dict[int, str] = {}  # id of a constant: its name in ns
        self.lines: list[str] = []
        self.inputs: list[tuple] = []  # (variable, shape, dtype or None) of input arrays
        self.owners: dict[str, int] = {}  # input array variable -> its argument's position
        self.owner = 0
        self.count = 0

    def const(self, value: object) -> str:
        """The name of ``value`` in the dispatcher's globals."""
        name = self.names.get(id(value))
        if name is None:
            name = self.names[id(value)] = f"K{len(self.names)}"
            self.ns[name] = value
        return name

    def build(self) -> Callable | None:
        try:
            return self._build()
        except _NoFastPath:
            return None

    def _build(self) -> Callable:
        gf, gen = self.gf, self.entry[2]
        n = len(self.args)
        names = [f"a{i}" for i in range(n)]
        head = ["kwargs", f"len(args) != {n}", f"GEN[0] != {gen.generation}"]
        lines = self.lines
        if gen.captured:
            # one test per free name the code resolved (frontend.guards_hold): a name
            # deleted since raises, and is stale too
            lines.append("try:")
            lines.append(f"    fresh = {' and '.join(self.holds(g) for g in gen.captured)}")
            lines.append("except (KeyError, ValueError):")
            lines.append("    fresh = False")
            head.append("not fresh")
        lines.append(f"if {' or '.join(head)}:")
        lines.append("    return SLOW(*args, **kwargs)")
        lines.append(f"{', '.join(names)}, = args")  # a function has a parameter
        wrt = set(gf._index)
        trees = []
        for i, a in enumerate(self.args):
            self.owner = i
            trees.append(self.guard(names[i], a, i in wrt))
        self.apart_tests(names)
        lines.append("try:")
        lines.append(f"    out = compiled({', '.join(names)})")
        lines.append("except NonScalarResult as exc:")
        lines.append("    raise NONSCALAR(exc) from None")
        self.ns["NONSCALAR"] = functools.partial(_nonscalar, gf.mode, gf.fn, self.entry)
        grads = "out"
        if gf.mode == "value_and_grad":
            lines.append("value, grads = out")
            grads = "grads"
        slow = f"FINISH({grads}, args)"
        self.slow = f"{slow}[0]" if gf.single else f"tuple({slow})"
        if gf.mode == "value_and_grad":
            self.slow = f"(value, {self.slow})"
        gvars = [f"g{j}" for j in range(len(gf._index))]
        mark = len(lines)
        lines.append(f"{', '.join(gvars)}, = {grads}" if len(gvars) > 1 else f"g0 = {grads}")
        self.outputs: list[tuple] = []  # (variable, shape, dtype, fresh) of gradient arrays
        try:
            exprs = [
                self.finish(g, trees[i], fresh)
                for g, i, fresh in zip(gvars, gf._index, gen.fresh, strict=True)
            ]
        except _SlowFinish:
            del lines[mark:]
            exprs = None
        if exprs is None:
            lines.append(f"return {self.slow}")
        else:
            self.alias_tests()
            result = exprs[0] if gf.single else f"({', '.join(exprs)},)"
            if gf.mode == "value_and_grad":
                result = f"(value, {result})"
            lines.append(f"return {result}")
        return self.compile()

    def holds(self, guard: tuple) -> str:
        """The test that a guard (see ``frontend.py``) holds."""
        scope, key, value = guard
        if key is None:
            return f"{self.const(scope)}.cell_contents is {self.const(value)}"
        if value is frontend.ABSENT:
            return f"{key!r} not in {self.const(scope)}"
        return f"{self.const(scope)}[{key!r}] is {self.const(value)}"

    def guard(self, var: str, value: object, wrt: bool) -> tuple:
        """Lines that take the slow path unless ``var`` is of ``value``'s kind; the tree of
        ``value``'s leaves and their variables, for :meth:`finish`."""
        self.count += 1
        if self.count > MAX_LEAVES:
            raise _NoFastPath
        t = type(value)
        if t is np.ndarray:
            test = f"type({var}) is not ndarray or {var}.shape != {value.shape!r}"
            dtype = None
            if wrt:
                dtype = value.dtype
                test += f" or {var}.dtype is not {self.const(dtype)}"
            else:  # (the slow path refuses a complex argument)
                test += f" or {var}.dtype.kind == 'c'"
            self.miss_unless(test)
            self.inputs.append((var, value.shape, dtype))
            self.owners[var] = self.owner
            return ("array", value.shape, value.dtype)
        if t is float:
            self.miss_unless(f"type({var}) is not float")
            return ("float",)
        if t is list or t is tuple:
            self.miss_unless(f"type({var}) is not {t.__name__} or len({var}) != {len(value)}")
            items = [f"{var}_{k}" for k in range(len(value))]
            if items:
                self.lines.append(f"{', '.join(items)}, = {var}")
            return (t, [self.guard(v, a, wrt) for v, a in zip(items, value, strict=True)])
        if t is dict:
            keys = tuple(value)
            self.miss_unless(f"type({var}) is not dict or tuple({var}) != {self.const(keys)}")
            children = []
            for k, (key, a) in enumerate(value.items()):
                item = f"{var}_{k}"
                key_name = self.const(key)
                self.lines.append(f"{item} = {var}[{key_name}]")
                children.append((key_name, self.guard(item, a, wrt)))
            return (dict, children)
        if hasattr(value, "__array_function__") and not isinstance(value, np.generic):
            # another library's array (dask, CuPy): the slow path, which runs the code on
            # it as it is and makes the numpy arrays differentiated with it of its kind
            raise _NoFastPath
        self.miss_unless(f"type({var}) is not {self.const(t)}")
        return ("other",)

    def apart_tests(self, names: list[str]) -> None:
        """Lines that take the slow path (which refuses the call, see ``_check_apart``)
        when an argument the function updates in place may share memory with another
        argument or an array the code reads; none for most functions, which update
        no parameter in place."""
        gen, gf = self.entry[2], self.gf
        for p in gen.updates:
            i = gf.params.index(p)
            if type(self.args[i]) is not np.ndarray:
                continue
            self.ns["MAY_SHARE"] = np.may_share_memory
            others = [
                v for v, *_ in self.inputs if self.owners[v] != i and self.owners[v] < gf._nparams
            ]
            others += [self.const(v) for _, v in gen.constant_arrays]
            for other in others:
                self.miss_unless(f"MAY_SHARE({names[i]}, {other})")

    def miss_unless(self, test: str) -> None:
        self.lines.append(f"if {test}:")
        self.lines.append("    return SLOW(*args)")

    def finish(self, var: str, tree: tuple, fresh: bool) -> str:
        """Lines that hand the gradients to :func:`_finish` unless the gradient ``var``
        is already what it would return; the expression of the result."""
        tag = tree[0]
        if tag == "array":
            shape, dtype = tree[1], tree[2]
            test = (
                f"type({var}) is not ndarray or {var}.dtype is not {self.const(dtype)} "
                f"or {var}.shape != {shape!r}"
            )
            if not fresh:
                # what grad_like keeps as it is; aliases are tested below
                test += f" or {var}.base is not None or not {var}.flags.writeable"
            self.slow_unless(test)
            self.outputs.append((var, shape, dtype, fresh))
            return var
        if tag == "float":
            self.slow_unless(f"type({var}) is not float")
            return var
        if tag is list or tag is tuple:
            children = tree[1]
            self.slow_unless(
                f"type({var}) is not list and type({var}) is not tuple "
                f"or len({var}) != {len(children)}"
            )
            items = [f"{var}_{k}" for k in range(len(children))]
            if items:
                self.lines.append(f"{', '.join(items)}, = {var}")
            # a fresh container holds new arrays, distinct from each other (reverse/saving.py)
            exprs = [self.finish(v, c, fresh) for v, c in zip(items, children, strict=True)]
            if tag is list:
                return f"[{', '.join(exprs)}]"
            return f"({', '.join(exprs)}{',' if len(exprs) == 1 else ''})"
        if tag is dict:
            self.slow_unless(f"type({var}) is not dict")
            exprs = []
            for k, (key_name, child) in enumerate(tree[1]):
                item = f"{var}_{k}"
                self.lines.append(f"{item} = {var}.get({key_name})")
                exprs.append(f"{key_name}: {self.finish(item, child, fresh)}")
            return f"{{{', '.join(exprs)}}}"
        raise _SlowFinish  # numpy scalars, complex numbers: _finish converts them

    def slow_unless(self, test: str) -> None:
        self.lines.append(f"if {test}:")
        self.lines.append(f"    return {self.slow}")

    def alias_tests(self) -> None:
        """Lines that hand the gradients to :func:`_finish` if an array not known to be
        new is an input array, or a leaf of one, or another gradient array. Only arrays
        of the same shape (and, where known, dtype) can be the same object."""
        tests: list[str] = []
        for k, (var, shape, dtype, fresh) in enumerate(self.outputs):
            if fresh:
                continue  # new arrays that nothing else refers to: as in _finish
            same = [v for v, s, d in self.inputs if s == shape and (d is None or d == dtype)]
            same += [v for v, s, d, _ in self.outputs[:k] if s == shape and d == dtype]
            tests += [f"{var} is {other}" for other in same]
        if not tests:
            return
        if len(tests) <= MAX_INLINE_ALIAS_TESTS:
            for k in range(0, len(tests), 16):
                self.slow_unless(" or ".join(tests[k : k + 16]))
            return
        outs = [v for v, *_ in self.outputs]
        ins = [v for v, *_ in self.inputs]
        self.slow_unless(f"not ALL_DISTINCT(({', '.join(outs)},), ({', '.join(ins)},))")

    def compile(self) -> Callable:
        gf = self.gf
        name = f"dispatch_{gf.__name__}"
        body = "".join(f"    {line}\n" for line in self.lines)
        source = f"def {name}(*args, **kwargs):\n{body}"
        # not "<adcompile ...>": that names generated gradient code (tracebacks, tools)
        qualname = getattr(gf.fn, "__qualname__", name)
        filename = linecache_filename("dispatch", qualname, gf.wrt).replace(
            "<adcompile", "<dispatcher", 1
        )
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self.ns)
        fast = self.ns[name]
        fast.source = source
        return fast


class _SlowFinish(Exception):
    """A gradient that :func:`_finish` always converts (a numpy scalar, a complex)."""


def _all_distinct(outs: tuple, ins: tuple) -> bool:
    """Whether no array of ``outs`` is one of ``ins`` or another of ``outs``."""
    seen = set(map(id, ins))
    for g in outs:
        i = id(g)
        if i in seen:
            return False
        seen.add(i)
    return True


def _dealias(tree, args, others):
    """``tree`` (a container gradient) with every array leaf that is also another leaf,
    an argument (or part of one), or another gradient replaced by a copy."""
    out_ids = [id(leaf) for leaf in _leaves(tree)]
    seen: set[int] = set()
    for a in list(args) + list(others):
        seen.update(map(id, _leaves(a)))
    if len(set(out_ids)) == len(out_ids) and seen.isdisjoint(out_ids):
        return tree  # the common case: every leaf is an array of its own

    def walk(t):
        if isinstance(t, dict):
            return {k: walk(v) for k, v in t.items()}
        if isinstance(t, list | tuple):
            return type(t)(walk(v) for v in t)
        if isinstance(t, np.ndarray):
            if id(t) in seen:
                t = t.copy()
            seen.add(id(t))
        return t

    return walk(tree)


def _check_apart(fn: Callable, params: list[str], gen, args: tuple) -> None:
    """Refuse a call in which an argument that ``fn``'s ``x op= ...`` writes into (in
    Python) shares memory with another argument or an array the code reads: Python's
    ``fn`` would change that one too, and the generated code writes into no argument."""
    for p, (loc, op, var) in gen.updates.items():
        i = params.index(p)
        a = args[i]
        if not isinstance(a, np.ndarray):
            continue  # numbers are never changed in place
        others = [(q, b) for j, (q, b) in enumerate(zip(params, args, strict=False)) if j != i]
        others += [(f"global {k}", v) for k, v in gen.constant_arrays]
        for q, b in others:
            for leaf in _leaves(b):
                if not _overlap(a, leaf):
                    continue
                what = "the same array" if leaf is a else "arrays that share memory"
                if leaf is not b:
                    q = f"an array in {q!r}"
                elif not q.startswith("global "):
                    q = repr(q)
                raise AdCompileError(
                    f"in this call {p!r} and {q} are {what}, which `{var} {op}= ...` writes "
                    f"into: Python's {fn.__name__} would change {q} too, and the gradient "
                    "writes into no argument",
                    loc,
                    hint="pass separate arrays (np.copy(a) for one of them), or write "
                    f"{var} = {var} {op} ... to make a new array",
                )


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b))
    except np.exceptions.TooHardError:  # pragma: no cover - pathological strides
        return True


def _leaves(tree) -> list:
    out, stack = [], [tree]
    while stack:
        t = stack.pop()
        tt = type(t)
        if tt is np.ndarray:
            out.append(t)
        elif tt is list or tt is tuple:
            stack.extend(t)
        elif tt is dict:
            stack.extend(t.values())
        elif isinstance(t, np.ndarray):
            out.append(t)
    return out


def _like_input(g: object, x: object) -> object:
    if isinstance(x, np.generic) and np.size(g) == 1:  # before float: np.float64 is a float
        return x.dtype.type(g)
    return grad_like(g, x)


# ------------------------------------------------------------------ the arguments


def _bound_to(obj: object) -> str:
    return f"the class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__}"


def _check_real(value: object, param: str, fn: Callable) -> None:
    """An argument not differentiated may not be complex either: the compiled code
    assumes real arguments (analysis.py tracks complex values from where they are made)."""
    if isinstance(value, complex | np.complexfloating) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "c"
    ):
        raise AdCompileError(
            f"the argument {param!r} is complex: adcompile differentiates real functions of "
            "real arguments, which may compute complex values inside (np.fft)",
            def_loc(fn, param.split("[")[0]),
            hint="pass its real and imaginary parts as two float arrays and make the complex "
            "value inside the function, or make it there with np.fft",
        )
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_real(v, f"{param}[{i}]", fn)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_real(v, f"{param}[{k!r}]", fn)


def _check_differentiable(value: object, param: str, fn: Callable) -> None:
    if isinstance(value, float | np.floating):
        return
    if isinstance(value, complex | np.complexfloating) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "c"
    ):
        raise AdCompileError(
            f"cannot differentiate with respect to {param!r}: it is complex",
            def_loc(fn, param.split("[")[0]),
            hint=fence.COMPLEX_HINT,
        )
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_differentiable(v, f"{param}[{i}]", fn)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_differentiable(v, f"{param}[{k!r}]", fn)
        return
    if isinstance(value, np.ndarray) or _other_array(value):
        if value.dtype.kind == "f":
            return
        what = f"an array of dtype {value.dtype}"
    elif isinstance(value, bool | np.bool_):
        what = "a bool"
    elif isinstance(value, int | np.integer):
        what = "an integer"
    else:
        what = f"a {type(value).__name__}"
    raise AdCompileError(
        f"cannot differentiate with respect to {param!r}: it is {what}",
        def_loc(fn, param.split("[")[0]),
        hint="gradients are defined for floating-point inputs: pass a float or a float array "
        "(e.g. np.asarray(x, dtype=float)), or leave this parameter out of wrt",
    )


def _other_array(value: object) -> bool:
    """An array of another library that numpy's functions dispatch to (a dask or CuPy
    array: ``__array_function__``), which the generated code runs on as it is."""
    return (
        not isinstance(value, np.ndarray | np.generic)
        and hasattr(value, "__array_function__")
        and isinstance(getattr(value, "dtype", None), np.dtype)
    )
