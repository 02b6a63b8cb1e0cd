"""The public API: grad, value_and_grad, vjp, check_grad and the objects they return."""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import linecache
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import emit, fence, frontend, normalize, reverse
from .errors import AdCompileError, Loc
from .frontend import SourceFunction
from .link import Session
from .rules.containers import kind_of
from .rules.registry import GENERATION
from .runtime import NonScalarResult, grad_like
from .shapes import _shape_of_value

Wrt = int | str | Sequence[int | str]


def build(
    src: SourceFunction,
    wrt: list[str],
    mode: str,
    kinds: tuple | None = None,
    arg_shapes: tuple | None = None,
) -> tuple[str, dict[str, Any], Any]:
    """Run the pipeline on ``src``: returns (source text, namespace, Generated).

    ``kinds`` is the structure of each argument (see ``rules/containers.py``);
    None means every argument is an array or a number."""
    with _internal_errors(src.name, src.loc(src.node)):
        fence.check(src)
        session = Session()
        fn = normalize.normalize(src, kinds, session)
        gen = reverse.reverse(fn, wrt, mode, session, arg_shapes)
        gen.text = emit.to_source(gen.node)
        for pair in session.order:
            pair.text = "\n\n".join(emit.to_source(node) for node in pair.nodes)
        gen.session = session
        source = gen.text + "".join("\n\n" + pair.text for pair in session.order)
    return source, gen.namespace, gen


def _compile_entry(*args, **kwargs) -> tuple[Callable, str, Any]:
    """:func:`_compile_one` with the garbage collector paused: compiling allocates many
    small syntax-tree objects and no cycles worth collecting, and collections during
    it made compile time grow faster than the function's size."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile_one(*args, **kwargs)
    finally:
        if enabled:
            gc.enable()


def _compile_one(
    fn: Callable,
    wrt: list[str],
    mode: str,
    kinds: tuple | None = None,
    arg_shapes: tuple | None = None,
) -> tuple[Callable, str, Any]:
    """Read, transform and compile ``fn``: (the generated function, its source, Generated)."""
    with _internal_errors(getattr(fn, "__name__", repr(fn)), _def_loc(fn)):
        src = frontend.from_function(fn)
    source, namespace, gen = build(src, wrt, mode, kinds, arg_shapes)
    filename = _filename(mode, src.qualname, wrt)
    with _internal_errors(src.name, src.loc(src.node)):
        scopes = [emit.compile_module(gen.text, namespace, filename)]
        for pair in gen.session.order:
            pair_file = _filename("pullback", pair.source.qualname, pair.wrt)
            scopes.append(emit.compile_module(pair.text, pair.namespace, pair_file))
        links = {}
        for pair, scope in zip(gen.session.order, scopes[1:], strict=True):
            links[pair.fwd] = scope[pair.fwd]
            links[pair.bwd] = scope[pair.bwd]
        for scope in scopes:
            scope.update({k: v for k, v in links.items() if k in scope})
        compiled = scopes[0][gen.node.name]
    # the module-level numbers and arrays the code was compiled with: a call
    # checks that the names still hold them (globals can be rebound)
    module = getattr(fn, "__globals__", {})
    gen.generation = GENERATION[0]
    gen.captured = [
        (k, v)
        for k, v in namespace.items()
        if isinstance(v, int | float | complex | np.ndarray | np.generic)
        and k in module
        and module[k] is v
    ]
    return compiled, source, gen


@contextlib.contextmanager
def _internal_errors(name: str, loc: Loc | None):
    """Turn any exception but AdCompileError into one: a bug of ours never reaches a user raw."""
    try:
        yield
    except AdCompileError:
        raise
    except Exception as exc:
        raise AdCompileError(
            f"internal error while differentiating {name}: {type(exc).__name__}: {exc}",
            loc,
            hint="this is a bug in adcompile; please report it with this function",
        ) from exc


WRT_HINT = (
    "name parameters by position (0, -1) or by name ('x'), several as a tuple (0, 'y'); "
    "on the command line: --wrt 0,y"
)


def resolve_wrt(params: list[str], wrt: Wrt, where: Loc | None = None) -> tuple[list[str], bool]:
    """Parameter names for ``wrt``, and whether a single (non-tuple) one was asked for."""
    single = _is_position(wrt) or isinstance(wrt, str)
    if not single and not isinstance(wrt, tuple | list):
        raise AdCompileError(
            f"wrt={wrt!r} is not a position, a name, or a tuple of them", where, hint=WRT_HINT
        )
    items = [wrt] if single else list(wrt)
    if not items:
        raise AdCompileError("wrt is empty: name at least one parameter", where, hint=WRT_HINT)
    names = []
    for item in items:
        if isinstance(item, str):
            if item not in params:
                raise AdCompileError(
                    f"wrt={item!r} is not a parameter; the parameters are "
                    f"{', '.join(params) or '(none)'}",
                    where,
                    hint=WRT_HINT,
                )
            names.append(item)
        elif _is_position(item):
            pos = int(item)
            if not -len(params) <= pos < len(params):
                raise AdCompileError(
                    f"wrt={pos} is out of range: the function has {len(params)} "
                    f"parameter{'' if len(params) == 1 else 's'} ({', '.join(params)})",
                    where,
                    hint=WRT_HINT,
                )
            names.append(params[pos])
        else:
            raise AdCompileError(
                f"wrt entries are positions or names, not {item!r}", where, hint=WRT_HINT
            )
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise AdCompileError(
            f"wrt names the parameter {twice!r} twice", where, hint="name each parameter once"
        )
    return names, single


def _is_position(item: object) -> bool:
    """An int (numpy integers included), but not a bool."""
    return isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_)


class GradientFunction:
    """A compiled derivative of a user function.

    Call it like the original function (plus the output cotangent, for a vjp).
    ``.source`` is the generated Python; ``.show()`` prints it highlighted.
    """

    def __init__(self, fn: Callable, wrt: Wrt, mode: str) -> None:
        _check_function(fn)
        self.fn = fn
        self.mode = mode
        sig = inspect.signature(fn)
        self.params = list(sig.parameters)
        plain = all(p.kind == p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values())
        if not plain:
            # the fence reports this with a location
            self.wrt, self.single = [], True
            self._index = []
        else:
            self.wrt, self.single = resolve_wrt(self.params, wrt, _def_loc(fn))
            self._index = [self.params.index(w) for w in self.wrt]
        self.signature = sig  # of fn: how the arguments bind
        self.cotangent = None
        self._arity = len(self.params)
        self._nparams = len(self.params)
        if mode == "vjp":
            # The output cotangent comes after every parameter of fn, or by keyword.
            self.cotangent = "cotangent"
            while self.cotangent in self.params:
                self.cotangent += "_"
            self._arity += 1
            has_defaults = any(p.default is not p.empty for p in sig.parameters.values())
            kind = (
                inspect.Parameter.KEYWORD_ONLY
                if has_defaults
                else inspect.Parameter.POSITIONAL_OR_KEYWORD
            )
            extra = inspect.Parameter(self.cotangent, kind)
            if plain:
                sig = sig.replace(parameters=[*sig.parameters.values(), extra])
        self._compiled: Callable | None = None
        self._by_kinds: dict[tuple | None, tuple] = {}
        self._by_sig: dict[tuple, tuple] = {}
        self._source: str | None = None
        self._gen = None
        self._lock = threading.Lock()
        functools.update_wrapper(self, fn)
        self.__name__ = f"{mode}_{getattr(fn, '__name__', 'f')}"
        self.__qualname__ = self.__name__
        self.__signature__ = sig  # fn's parameters, and the cotangent for a vjp
        del self.__wrapped__  # this is a derivative of fn, not fn: keep unwrap() off it

    # ------------------------------------------------------------ compiling

    def _compile(self, kinds: tuple | None = None, sig: tuple | None = None) -> Callable:
        """The generated function for arguments of the given structure (None: all arrays)
        and, when ``sig`` is given, specialised to the arguments' shapes.

        Arguments that are lists, tuples or dicts get code specialised to their
        structure; the first few shape signatures of a function get code specialised
        to their shapes (see ``shapes.py``); later ones share the general code."""
        if kinds is None and sig is None and self._compiled is not None:
            return self._compiled
        if sig is not None and len(self._by_sig) >= MAX_SPECIALISATIONS:
            sig = None
        entry = self._by_sig.get(sig) if sig is not None else self._by_kinds.get(kinds)
        if entry is None:
            with self._lock:
                key = (self.fn, tuple(self.wrt), self.mode, kinds, sig)
                with _CACHE_LOCK:
                    entry = _CACHE.get(key)
                    if entry is not None and entry[2].generation != GENERATION[0]:
                        entry = None  # compiled before a rule was registered
                    if entry is None:
                        try:
                            entry = _compile_entry(self.fn, self.wrt, self.mode, kinds, sig)
                        except AdCompileError as exc:
                            # the message locates the problem in the user's code; the
                            # compiler's own frames would only hide it
                            cause = exc.__cause__ if "internal error" in exc.reason else None
                            raise exc.with_traceback(None) from cause
                        _CACHE[key] = entry
                if sig is not None:
                    self._by_sig[sig] = entry
                else:
                    self._by_kinds[kinds] = entry
        self._source, self._gen = entry[1], entry[2]
        if kinds is None and sig is None:
            self._compiled = entry[0]
        return entry[0]

    @property
    def source(self) -> str:
        """The generated Python source of this gradient: for the arguments of the
        latest call (code is specialised to the structure of list, tuple and dict
        arguments), or for array arguments before any call."""
        if self._source is None:
            self._compile()
        return self._source

    def show(self, *, console=None) -> None:
        """Print the generated code, highlighted, with the two sweeps marked."""
        from .show import show_source

        show_source(self.source, console=console)

    # -------------------------------------------------------------- calling

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != self._arity:
            args = self._bind(args, kwargs)
        sig = []
        for a in args[: self._nparams]:
            t = type(a)
            if t is np.ndarray:
                sig.append(a.shape)
            elif t is float:
                sig.append(float)
            else:
                sig.append(_shape_of_value(a))
        sig = tuple(sig)
        entry = self._by_sig.get(sig)
        if (
            entry is not None
            and (entry[2].generation != GENERATION[0] or entry[2].captured)
            and self._stale(entry)
        ):
            entry = None
        if entry is None:
            kinds = None
            if any(type(a) in (list, tuple, dict) for a in args[: self._nparams]):
                kinds = tuple(kind_of(a) for a in args[: self._nparams])
            self._compile(kinds, sig)
            entry = self._by_sig.get(sig) or self._by_kinds[kinds]
        compiled = entry[0]
        for i in self._index:
            a = args[i]
            if not _floats_only(a):
                _check_differentiable(a, self.params[i], self.fn)
        try:
            out = compiled(*args)
        except NonScalarResult as exc:
            loc = self._gen.result_loc
            raise AdCompileError(
                f"{self.mode} needs a scalar result, but {self.fn.__name__} returned an array of "
                f"shape {exc.args[0]}",
                loc,
                hint="use adcompile.vjp for a non-scalar result, or reduce it (np.sum, np.mean)",
            ) from None
        if self.mode == "value_and_grad":
            value, grads = out
            return value, self._finish(grads, args, entry)
        return self._finish(out, args, entry)

    def _stale(self, entry) -> bool:
        """Whether a module-level value the code was compiled with has been rebound, or
        a rule registered since; if so, forget every compiled version of this function
        (and, for a new rule, of every function), so that the next one sees it."""
        module = self.fn.__globals__
        fresh = entry[2].generation == GENERATION[0]
        if fresh and all(module.get(k) is v for k, v in entry[2].captured):
            return False
        with self._lock, _CACHE_LOCK:
            for key in [k for k in _CACHE if k[0] is self.fn or not fresh]:
                del _CACHE[key]
            self._by_sig.clear()
            self._by_kinds.clear()
            self._compiled = None
        return True

    def _bind(self, args, kwargs):
        """All arguments, positionally, in the order of the generated function's parameters."""
        extra = ()
        if self.mode == "vjp":
            kwargs = dict(kwargs)
            if self.cotangent in kwargs:
                extra = (kwargs.pop(self.cotangent),)
            elif len(args) == self._arity:
                args, extra = args[:-1], args[-1:]
            else:
                raise TypeError(
                    f"{self.__name__}() needs the output cotangent: pass it after every "
                    f"parameter of {self.fn.__name__}, or as {self.cotangent}=..."
                )
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.__name__}() {exc}") from None
        bound.apply_defaults()
        return tuple(bound.arguments.values()) + extra

    def _finish(self, grads, args, entry):
        """Each gradient with the type, shape and dtype of its input, owning its memory.

        Gradients the generated code built itself (``fresh``) are new arrays that
        nothing else refers to; they only need their shape and dtype checked."""
        fresh = entry[2].fresh
        if len(self._index) == 1:
            grads = (grads,)  # the generated code returns a lone gradient bare
        out = []
        for g, i, new in zip(grads, self._index, fresh, strict=True):
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
            g = _like_input(g, x)
            if isinstance(g, list | tuple | dict):
                g = _dealias(g, args, out)
            elif isinstance(g, np.ndarray) and (
                any(g is a for a in args) or any(g is o for o in out)
            ):
                g = g.copy()
            out.append(g)
        return out[0] if self.single else tuple(out)

    def __repr__(self) -> str:
        wrt = ", ".join(self.wrt)
        return f"<adcompile {self.mode} of {getattr(self.fn, '__qualname__', self.fn)} wrt {wrt}>"


MAX_SPECIALISATIONS = 8  # shape signatures per gradient function with their own code
_CACHE: dict[tuple, tuple] = {}
_CACHE_LOCK = threading.RLock()
_FILENAMES: dict[str, int] = {}


def _filename(mode: str, qualname: str, wrt: list[str]) -> str:
    """A pseudo-filename for linecache, distinct for every compiled function.

    Tracebacks and pdb find the generated lines under it, so two gradients must
    never share one (the second would replace the first one's lines).
    """
    base = f"<adcompile {mode} {qualname} wrt {','.join(wrt)}>"
    n = _FILENAMES.get(base, 0) + 1
    _FILENAMES[base] = n
    return base if n == 1 else f"{base[:-1]} #{n}>"


def _floats_only(a) -> bool:
    """Whether ``a`` is a float array or a Python float, or a container of only those
    (the fast check of every call; the slow one says what is wrong)."""
    t = type(a)
    if t is np.ndarray:
        return a.dtype.kind in "fc"
    if t is float:
        return True
    if t is list or t is tuple:
        return all(map(_floats_only, a))
    if t is dict:
        return all(map(_floats_only, a.values()))
    return False


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


def _check_function(fn: object) -> None:
    """Refuse, with a reason, anything that is not a plain Python function."""
    if isinstance(fn, GradientFunction):
        raise AdCompileError(
            f"{fn!r} is itself a compiled derivative; higher-order derivatives are not "
            "supported yet",
            hint="differentiate the original function",
        )
    if inspect.ismethod(fn):
        raise AdCompileError(
            f"{fn.__qualname__} is a bound method: adcompile differentiates plain functions",
            _def_loc(fn),
            hint="define the function at module level (or as a @staticmethod) and pass "
            "what it needs from the object as arguments",
        )
    if not callable(fn) or not inspect.isfunction(inspect.unwrap(fn)):
        raise AdCompileError(
            f"{fn!r} is not a Python function",
            hint="pass a function defined with def",
        )


def _like_input(g: object, x: object) -> object:
    if isinstance(x, np.generic):  # before float: np.float64 is a float too
        return x.dtype.type(g)
    return grad_like(g, x)


def _def_loc(fn: Callable, param: str | None = None) -> Loc | None:
    """Where ``fn`` is defined: its ``def`` line (past any decorators), at ``param`` if given."""
    try:
        code = inspect.unwrap(fn).__code__
    except AttributeError:
        return None
    filename = frontend._short(code.co_filename)
    lineno = code.co_firstlineno
    for n in range(lineno, lineno + 50):  # decorators may come first
        text = linecache.getline(code.co_filename, n).rstrip("\n")
        if re.match(r"\s*(async\s+)?def\b", text):
            lineno = n
            break
    else:
        text = linecache.getline(code.co_filename, lineno).rstrip("\n")
    col = len(text) - len(text.lstrip())
    if param is not None:
        found = re.search(rf"[(,\s]({re.escape(param)})\b", text)
        if found:
            col = found.start(1)
    return Loc(filename, lineno, col, text)


def _check_differentiable(value: object, param: str, fn: Callable) -> None:
    if isinstance(value, float | np.floating | complex | np.complexfloating):
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_differentiable(v, f"{param}[{i}]", fn)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_differentiable(v, f"{param}[{k!r}]", fn)
        return
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
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
        _def_loc(fn, param.split("[")[0]),
        hint="gradients are defined for floating-point inputs: pass a float or a float array "
        "(e.g. np.asarray(x, dtype=float)), or leave this parameter out of wrt",
    )


def _decorator(mode: str):
    def make(fn: Callable | None = None, wrt: Wrt = 0):
        if fn is None:
            return lambda f: GradientFunction(f, wrt, mode)
        if isinstance(fn, int | str | tuple | list) and not callable(fn):
            w = fn
            return lambda f: GradientFunction(f, w, mode)
        return GradientFunction(fn, wrt, mode)

    return make


def grad(fn: Callable | None = None, wrt: Wrt = 0) -> GradientFunction:
    """The gradient of ``fn``'s scalar result with respect to the parameters in ``wrt``.

    ``wrt`` is a position, a parameter name, or a tuple of them (a tuple gives a
    tuple of gradients). Works as ``grad(f)``, ``@grad`` and ``@grad(wrt=(0, 1))``.
    """
    return _decorator("grad")(fn, wrt)


def value_and_grad(fn: Callable | None = None, wrt: Wrt = 0) -> GradientFunction:
    """Like :func:`grad`, returning ``(value, gradient)`` from one forward pass."""
    return _decorator("value_and_grad")(fn, wrt)


def vjp(fn: Callable | None = None, wrt: Wrt = 0) -> GradientFunction:
    """The vector-Jacobian product of ``fn``: call it with ``fn``'s arguments and then
    the cotangent of its result; it returns the cotangent of each ``wrt`` parameter."""
    return _decorator("vjp")(fn, wrt)


def check_grad(fn: Callable, *args: Any, wrt: Wrt = 0, eps: float = 1e-6) -> float:
    """Largest relative error between the compiled gradient and central differences.

    Each ``wrt`` argument is perturbed element by element in float64. The error
    of one argument is ``max|g - fd| / max(max|g|, max|fd|, 1e-8)``; the result is
    the largest over the arguments. Values around 1e-7 or less mean agreement.
    """
    params = list(inspect.signature(fn).parameters)
    names, single = resolve_wrt(params, wrt)
    g = grad(fn, wrt=wrt)(*args)
    grads = [g] if single else list(g)
    worst = 0.0
    base = list(args)
    for name, gi in zip(names, grads, strict=True):
        i = params.index(name)
        fd = numeric_grad(fn, base, i, eps)
        gi = np.asarray(gi, dtype=float)
        scale = max(float(np.max(np.abs(gi), initial=0.0)), float(np.max(np.abs(fd), initial=0.0)))
        err = float(np.max(np.abs(gi - fd), initial=0.0)) / max(scale, 1e-8)
        worst = max(worst, err)
    return worst


def numeric_grad(fn: Callable, args: list, i: int, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of scalar ``fn`` with respect to ``args[i]``, in float64."""
    x0 = args[i]
    x = np.array(x0, dtype=float)
    fd = np.zeros_like(x)
    flat = x.reshape(-1)
    out = fd.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        hi = fn(*_with(args, i, _like(x, x0)))
        flat[k] = old - eps
        lo = fn(*_with(args, i, _like(x, x0)))
        flat[k] = old
        out[k] = (float(hi) - float(lo)) / (2 * eps)
    return fd


def _like(x: np.ndarray, x0: object) -> object:
    if isinstance(x0, float):
        return float(x)
    return x.copy()


def _with(args: list, i: int, value: object) -> list:
    new = list(args)
    new[i] = value
    return new


def compile_static(
    path: str,
    func: str,
    wrt: Wrt | None,
    mode: str = "grad",
    shapes: dict[str, object] | None = None,
) -> str:
    """Generated source for ``func`` in the file ``path``, read without running it;
    with ``shapes`` (every parameter's shape, or ``float``), specialised to them."""
    src = frontend.from_file(path, func)
    params = [a.arg for a in src.node.args.args]
    if wrt is None:
        wrt = tuple(range(len(params))) if params else 0
    names, _ = resolve_wrt(params, wrt, src.loc(src.node))
    arg_shapes = None
    if shapes is not None:
        unknown = sorted(set(shapes) - set(params))
        missing = [p for p in params if p not in shapes]
        if unknown or missing:
            what = (
                f"unknown parameter {unknown[0]!r}" if unknown else f"no shape for {missing[0]!r}"
            )
            raise AdCompileError(
                f"--shapes: {what}",
                src.loc(src.node),
                hint=f"give every parameter a shape: {', '.join(params)}",
            )
        arg_shapes = tuple(shapes[p] for p in params)
    source, _, _ = build(src, names, mode, None, arg_shapes)
    with _internal_errors(src.name, src.loc(src.node)):
        compile(source, f"<adcompile {mode} {func}>", "exec")  # never print broken code
    return source


__all__ = [
    "GradientFunction",
    "build",
    "check_grad",
    "compile_static",
    "grad",
    "numeric_grad",
    "value_and_grad",
    "vjp",
]
