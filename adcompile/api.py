"""The public API: grad, value_and_grad, vjp, check_grad and the objects they return."""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import linecache
import operator
import re
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import emit, export, fence, frontend, pipeline
from .errors import AdCompileError, Loc
from .frontend import SourceFunction
from .memory import MemoryReport
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
    """Run the pipeline (``pipeline.py``) on ``src``: returns (source text, namespace,
    Generated).

    ``kinds`` is the structure of each argument (see ``rules/containers.py``);
    None means every argument is an array or a number."""
    with _internal_errors(src.name, src.loc(src.node)), _deep_recursion():
        gen = pipeline.compile_source(src, wrt, mode, kinds, arg_shapes)
        source = gen.text + "".join("\n\n" + pair.text for pair in gen.session.order)
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
    debug_nans: bool = False,
) -> tuple[Callable, str, Any]:
    """Read, transform and compile ``fn``: (the generated function, its source, Generated)."""
    with frontend.recording() as guards:
        with _internal_errors(getattr(fn, "__name__", repr(fn)), _def_loc(fn)):
            src = pipeline.read(fn)
        source, namespace, gen = build(src, wrt, mode, kinds, arg_shapes)
    filename = _filename(mode, src.qualname, wrt)
    with _internal_errors(src.name, src.loc(src.node)):
        if debug_nans:  # a late pass: checks after each block of the reverse sweeps
            source = _check_nans(src, gen)
        # comment lines saying what the code needs, compiled with it so that the
        # lines of tracebacks and of .source agree
        gen.header = export.source_header(src.name, export.free_objects(source, _namespaces(gen)))
        gen.text = gen.header + gen.text
        gen.source_lines = src.lines
        source = gen.header + source
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
    # what every free name of fn and of the helpers it calls meant when compiled (a
    # global, a closure variable, a module attribute, a builtin): a call checks that
    # each name still holds it, and compiles again when one was rebound
    gen.generation = GENERATION[0]
    gen.captured = list(guards.values())
    if gen.updates:
        gen.constant_arrays = [
            (k, v)
            for ns in (namespace, *(pair.namespace for pair in gen.session.order))
            for k, v in ns.items()
            if isinstance(v, np.ndarray)
        ]
    return compiled, source, gen


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


@contextlib.contextmanager
def _internal_errors(name: str, loc: Loc | None):
    """Turn any exception but AdCompileError into one: a bug of ours never reaches a user raw."""
    try:
        yield
    except AdCompileError:
        raise
    except RecursionError as exc:
        raise AdCompileError(
            f"{name} nests too deeply for adcompile (an expression of thousands of terms?)",
            loc,
            hint="split the longest expression into several statements",
        ) from exc
    except Exception as exc:
        raise AdCompileError(
            f"internal error while differentiating {name}: {type(exc).__name__}: {exc}",
            loc,
            hint="this is a bug in adcompile; please report it with this function",
        ) from exc


# The compiler's passes recurse over expressions: a sum of a few hundred terms is
# deeper than Python's default limit of 1,000 frames. While any thread compiles, the
# limit is at least DEEP_RECURSION (then restored).
DEEP_RECURSION = 20_000
_RECURSION_LOCK = threading.Lock()
_RECURSION_USERS = [0, 0]  # compilations running, the limit before the first


@contextlib.contextmanager
def _deep_recursion():
    with _RECURSION_LOCK:
        if _RECURSION_USERS[0] == 0:
            _RECURSION_USERS[1] = sys.getrecursionlimit()
            sys.setrecursionlimit(max(DEEP_RECURSION, _RECURSION_USERS[1]))
        _RECURSION_USERS[0] += 1
    try:
        yield
    finally:
        with _RECURSION_LOCK:
            _RECURSION_USERS[0] -= 1
            if _RECURSION_USERS[0] == 0:
                sys.setrecursionlimit(_RECURSION_USERS[1])


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

    def __init__(self, fn: Callable, wrt: Wrt, mode: str, debug_nans: bool = False) -> None:
        _check_function(fn)
        self.fn = fn
        self.mode = mode
        self.debug_nans = bool(debug_nans)
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
        self._by_kinds: dict[tuple | None, tuple] = {}
        self._by_sig: dict[tuple, tuple] = {}
        self._latest: tuple | None = None  # the entry the latest call ran
        self._fast: Callable = self._slow  # what a call runs: see __call__
        self._fasts: dict[tuple, Callable] = {}  # dispatchers by kind of arguments
        self._seen: set[tuple] = set()  # (code, shape signature) of calls seen
        self._lock = threading.Lock()
        functools.update_wrapper(self, fn)
        self.__name__ = f"{mode}_{getattr(fn, '__name__', 'f')}"
        self.__qualname__ = self.__name__
        self.__signature__ = sig  # fn's parameters, and the cotangent for a vjp
        del self.__wrapped__  # this is a derivative of fn, not fn: keep unwrap() off it

    # ------------------------------------------------------------ compiling

    def _compile(self, kinds: tuple | None = None, sig: tuple | None = None) -> Callable:
        """The generated function for arguments of the given structure (None: all arrays)
        and, when ``sig`` is given, specialised to the arguments' shapes."""
        return self._entry(kinds, sig)[0]

    def _entry(self, kinds: tuple | None, sig: tuple | None) -> tuple:
        """(generated function, source, Generated) for arguments of the given structure
        (None: all arrays) and, when ``sig`` is given, specialised to their shapes;
        never code compiled before a rule was registered or a name it resolved rebound.

        Arguments that are lists, tuples or dicts get code specialised to their
        structure; the first few shape signatures of a function get code specialised
        to their shapes (see ``shapes.py``); later ones share the general code."""
        if sig is not None and sig not in self._by_sig and len(self._by_sig) >= MAX_SPECIALISATIONS:
            sig = None
        table, key = (self._by_sig, sig) if sig is not None else (self._by_kinds, kinds)
        entry = table.get(key)
        if entry is not None and self._stale(entry):
            entry = None
        if entry is None:
            with self._lock:
                cache_key = (self.fn, tuple(self.wrt), self.mode, kinds, sig, self.debug_nans)
                with _CACHE_LOCK:
                    entry = _CACHE.get(cache_key)
                    if entry is not None and not _current(entry):
                        entry = None  # compiled before a rule was registered or a name rebound
                    if entry is None:
                        try:
                            entry = _compile_entry(
                                self.fn, self.wrt, self.mode, kinds, sig, self.debug_nans
                            )
                        except AdCompileError as exc:
                            # the message locates the problem in the user's code; the
                            # compiler's own frames would only hide it
                            cause = exc.__cause__ if "internal error" in exc.reason else None
                            raise exc.with_traceback(None) from cause
                        _CACHE[cache_key] = entry
                table[key] = entry
        return entry

    @property
    def source(self) -> str:
        """The generated Python source of this gradient: for the arguments of the
        latest call (code is specialised to the structure of list, tuple and dict
        arguments), or for array arguments before any call."""
        entry = self._latest
        if entry is None or not _current(entry):
            entry = self._entry(None, None)
        return entry[1]

    @property
    def _gen(self):
        """The Generated record of :attr:`source`'s code."""
        entry = self._latest
        if entry is None or not _current(entry):
            entry = self._entry(None, None)
        return entry[2]

    def export(self) -> str:
        """The text of a Python module that defines this gradient and needs only numpy:
        the code of :attr:`source`, the helpers of ``adcompile.runtime`` it uses, the
        pullbacks of the functions it calls, and the module-level numbers and arrays
        it reads, with a docstring saying where it comes from and how to make it again."""
        entry = self._latest
        if entry is None or not _current(entry):
            entry = self._entry(None, None)
        gen = entry[2]
        body = entry[1][len(getattr(gen, "header", "")) :]
        sig = next((k for k, v in self._by_sig.items() if v is entry), None)
        return export_module(self.fn, body, _namespaces(gen), self.wrt, self.mode, sig)

    def memory_report(self, *args: Any, **kwargs: Any) -> MemoryReport:
        """What the reverse sweep keeps for a call with these arguments: the values alive
        between the two sweeps, per line of ``fn`` (per iteration and in total for
        loops), with ``.total_bytes``. ``print()`` it, or ``.show()`` it (a table in
        a terminal)."""
        self(*args, **kwargs)  # compiles (or finds) the code for these arguments
        entry = self._latest
        if kwargs or len(args) != self._arity:
            args = self._bind(args, kwargs)
        return memory_report_of(entry[0], entry[2], args, self.params, self.fn.__name__)

    def _repr_html_(self) -> str:
        """In a notebook: the generated source, highlighted."""
        from .show import source_html

        return source_html(self.source)

    def _repr_markdown_(self) -> str:
        """In a notebook that renders Markdown: the generated source as a code block."""
        from .show import source_markdown

        return source_markdown(self.source)

    def show(self, *, console=None) -> None:
        """Print the generated code, highlighted, with the two sweeps marked."""
        from .show import show_source

        show_source(self.source, console=console)

    # -------------------------------------------------------------- calling

    # A call runs self._fast: the dispatcher of the latest call's arguments (see
    # _Dispatch), which checks that these are alike and calls the generated code,
    # else self._slow. Reading it through a property of C functions, rather than
    # calling it from a __call__ method, saves a Python frame per call.
    __call__ = property(operator.attrgetter("_fast"), doc="Call the gradient like fn.")

    def _slow(self, *args, **kwargs):
        """A call without a dispatcher for its arguments: bind them, find (or compile) the
        code for their signature, check them, run it, and make the dispatcher of their
        kind the second time they come."""
        if kwargs or len(args) != self._arity:
            args = self._bind(args, kwargs)
        params = args[: self._nparams]
        sig = []
        for a in params:
            t = type(a)
            if t is np.ndarray:
                sig.append(a.shape)
            elif t is float:
                sig.append(float)
            else:
                sig.append(_shape_of_value(a))
        sig = tuple(sig)
        entry = self._by_sig.get(sig)
        if entry is None or not _current(entry):
            kinds = None
            if any(type(a) in (list, tuple, dict) for a in params):
                kinds = tuple(kind_of(a) for a in params)
            entry = self._entry(kinds, sig)
        for i in self._index:
            a = args[i]
            if not _floats_only(a):
                _check_differentiable(a, self.params[i], self.fn)
        if entry[2].updates:
            _check_apart(self.fn, self.params, entry[2], params)
        self._latest = entry
        self._fast = self._dispatcher(entry, args, sig)
        try:
            out = entry[0](*args)
        except NonScalarResult as exc:
            raise _nonscalar(self.mode, self.fn, entry, exc) from None
        finish = functools.partial(_finish, fresh=entry[2].fresh, index=self._index)
        if self.mode == "value_and_grad":
            value, grads = out
            return value, _packed(finish(grads, args), self.single)
        return _packed(finish(out, args), self.single)

    def _dispatcher(self, entry: tuple, args: tuple, sig: tuple) -> Callable:
        """The fast path for calls like ``args``: made the second time arguments of their
        shape signature come, so that a gradient called once does not pay for it; until
        then, and when none can be made, the slow path. A few dozen are kept per gradient
        function, by kind of arguments (types, shapes, dtypes of wrt arrays)."""
        if (entry[0], sig) not in self._seen:
            if len(self._seen) >= MAX_DISPATCHERS:
                self._seen.clear()
            self._seen.add((entry[0], sig))
            return self._slow
        key = (entry[0], _spec(args[: self._nparams], self._index, args[self._nparams :]))
        fast = self._fasts.get(key)
        if fast is None:
            if len(self._fasts) >= MAX_DISPATCHERS:
                self._fasts.clear()
            fast = _Dispatch(self, entry, args).build() or self._slow
            self._fasts[key] = fast
        return fast

    def _stale(self, entry: tuple) -> bool:
        """Whether a free name the code resolved has been rebound, or
        a rule registered since; if so, forget every compiled version of this function
        (and, for a new rule, of every function), so that the next one sees it."""
        if _current(entry):
            return False
        fresh = entry[2].generation == GENERATION[0]
        with self._lock, _CACHE_LOCK:
            for key in [k for k in _CACHE if k[0] is self.fn or not fresh]:
                del _CACHE[key]
            self._by_sig.clear()
            self._by_kinds.clear()
            self._fasts.clear()
            self._seen.clear()
            self._fast = self._slow
            self._latest = None
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

    def __repr__(self) -> str:
        wrt = ", ".join(self.wrt)
        return f"<adcompile {self.mode} of {getattr(self.fn, '__qualname__', self.fn)} wrt {wrt}>"


def _current(entry: tuple) -> bool:
    """Whether compiled code is up to date: no rule registered since it was compiled, and
    every free name it resolved (in fn and in the helpers it calls) still bound to the
    object it was compiled with."""
    gen = entry[2]
    return gen.generation == GENERATION[0] and frontend.guards_hold(gen.captured)


def _nonscalar(mode: str, fn: Callable, entry: tuple, exc: NonScalarResult) -> AdCompileError:
    return AdCompileError(
        f"{mode} needs a real scalar result, but {fn.__name__} returned {exc.args[0]}",
        entry[2].result_loc,
        hint="use adcompile.vjp for a non-scalar result, or reduce it (np.sum, np.mean)",
    )


def _packed(grads: list, single: bool):
    return grads[0] if single else tuple(grads)


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
        g = _like_input(g, x)
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

    def __init__(self, gf: GradientFunction, entry: tuple, args: tuple) -> None:
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
        self.miss_unless(f"type({var}) is not {self.const(t)}")
        return ("other",)

    def apart_tests(self, names: list[str]) -> None:
        """Lines that take the slow path (which refuses the call, see :func:`_check_apart`)
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
        filename = _filename("dispatch", qualname, gf.wrt).replace("<adcompile", "<dispatcher", 1)
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
        return a.dtype.kind == "f"
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
    if isinstance(value, float | np.floating):
        return
    if isinstance(value, complex | np.complexfloating) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "c"
    ):
        raise AdCompileError(
            f"cannot differentiate with respect to {param!r}: it is complex",
            _def_loc(fn, param.split("[")[0]),
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
    if isinstance(value, np.ndarray):
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
        _def_loc(fn, param.split("[")[0]),
        hint="gradients are defined for floating-point inputs: pass a float or a float array "
        "(e.g. np.asarray(x, dtype=float)), or leave this parameter out of wrt",
    )


def _decorator(mode: str):
    def make(fn: Callable | None = None, wrt: Wrt = 0, debug_nans: bool = False):
        if fn is None:
            return lambda f: GradientFunction(f, wrt, mode, debug_nans)
        if isinstance(fn, int | str | tuple | list) and not callable(fn):
            w = fn
            return lambda f: GradientFunction(f, w, mode, debug_nans)
        return GradientFunction(fn, wrt, mode, debug_nans)

    return make


def grad(fn: Callable | None = None, wrt: Wrt = 0, *, debug_nans: bool = False) -> GradientFunction:
    """The gradient of ``fn``'s scalar result with respect to the parameters in ``wrt``.

    ``wrt`` is a position, a parameter name, or a tuple of them (a tuple gives a
    tuple of gradients). Works as ``grad(f)``, ``@grad`` and ``@grad(wrt=(0, 1))``.

    ``debug_nans=True`` checks the reverse sweep block by block: the first adjoint
    that is not finite although every value it was computed from is raises
    FloatingPointError naming the line of ``fn`` it is the adjoint of.
    """
    return _decorator("grad")(fn, wrt, debug_nans)


def value_and_grad(
    fn: Callable | None = None, wrt: Wrt = 0, *, debug_nans: bool = False
) -> GradientFunction:
    """Like :func:`grad`, returning ``(value, gradient)`` from one forward pass."""
    return _decorator("value_and_grad")(fn, wrt, debug_nans)


def vjp(fn: Callable | None = None, wrt: Wrt = 0, *, debug_nans: bool = False) -> GradientFunction:
    """The vector-Jacobian product of ``fn``: call it with ``fn``'s arguments and then
    the cotangent of its result; it returns the cotangent of each ``wrt`` parameter."""
    return _decorator("vjp")(fn, wrt, debug_nans)


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
    x = np.array(x0, dtype=float, order="C")  # so that x.reshape(-1) is a view of x
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
    return build_static(path, func, wrt, mode, shapes)[1]


def build_static(
    path: str,
    func: str,
    wrt: Wrt | None,
    mode: str = "grad",
    shapes: dict[str, object] | None = None,
) -> tuple[SourceFunction, str, Any, list[str]]:
    """:func:`compile_static`'s (function read, source, Generated, wrt names)."""
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
    source, _, gen = build(src, names, mode, None, arg_shapes)
    with _internal_errors(src.name, src.loc(src.node)):
        compile(source, f"<adcompile {mode} {func}>", "exec")  # never print broken code
    return src, source, gen, names


def _check_nans(src: SourceFunction, gen) -> str:
    """Instrument the finished texts of ``gen`` and its pairs (see ``nans.py``); the
    new source."""
    from . import nans

    texts = [(gen, src)] + [(pair, pair.source) for pair in gen.session.order]
    for holder, where in texts:
        name = "check_adjoints"
        while name in holder.namespace:
            name += "_"
        holder.text, blocks = nans.instrument(holder.text, where.filename, name)
        holder.namespace[name] = nans.make_checker(blocks)
    return gen.text + "".join("\n\n" + pair.text for pair in gen.session.order)


def memory_report_of(
    compiled: Callable, gen, args: tuple, params: list[str], name: str
) -> MemoryReport:
    """The memory report of the generated function ``compiled`` (of ``gen``) on ``args``."""
    from . import memory

    values = memory.locals_at_boundary(compiled, gen.text, tuple(args))
    session = getattr(gen, "session", None)
    pairs = [(pair.text, []) for pair in getattr(session, "order", ())]
    lines = getattr(gen, "source_lines", None) or []
    return memory.report(name, gen.text, pairs, values, tuple(args), params, lines)


def static_memory_report(
    path: str, func: str, wrt: Wrt | None, mode: str, shapes: dict
) -> MemoryReport:
    """The memory report of ``func`` in the file ``path`` (read, not run) on random
    standard-normal arguments of the given shapes (``adcompile show --memory``); for
    grad and value_and_grad (a vjp's cotangent has the result's shape, unknown here)."""
    src, _, gen, names = build_static(path, func, wrt, mode, shapes)
    with _internal_errors(src.name, src.loc(src.node)):
        scopes = [emit.compile_module(gen.text, gen.namespace, _filename(mode, func, names))]
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
    params = [a.arg for a in src.node.args.args]
    rng = np.random.default_rng(0)
    args = [
        float(rng.normal()) if shapes[p] is float else rng.normal(size=shapes[p]) for p in params
    ]
    if mode == "vjp":
        return None  # the cotangent's shape is the result's: not known from the file
    gen.source_lines = src.lines
    return memory_report_of(compiled, gen, tuple(args), params, func)


def _namespaces(gen) -> list[dict]:
    """The namespaces generated code is compiled with: the function's, then its pairs'."""
    session = getattr(gen, "session", None)
    return [gen.namespace, *(pair.namespace for pair in getattr(session, "order", ()))]


def export_module(
    fn: Callable | SourceFunction,
    body: str,
    namespaces: list[dict],
    wrt: list[str],
    mode: str,
    sig: tuple | None = None,
    path: str | None = None,
) -> str:
    """The module :meth:`GradientFunction.export` and ``adcompile export`` write."""
    if isinstance(fn, SourceFunction):
        name, qualname, filename, lineno = fn.name, fn.qualname, fn.filename, fn.node.lineno
        params = [a.arg for a in fn.node.args.args]
    else:
        code = fn.__code__
        name, qualname = fn.__name__, fn.__qualname__
        filename, lineno = code.co_filename, _def_loc(fn).lineno if _def_loc(fn) else 0
        params = list(inspect.signature(fn).parameters)
    where = frontend._short(filename)
    generated = re.match(r"def (\w+)\(([^)]*)\)", body)
    exported = [generated.group(1)] if generated else []
    call = f"{generated.group(1)}({generated.group(2)})" if generated else name
    what = {"grad": "the gradient", "value_and_grad": "the value and gradient", "vjp": "the vjp"}
    fill = functools.partial(textwrap.fill, width=88, break_on_hyphens=False)
    about = (
        f"Generated by adcompile {_version()} from the function {qualname} in {where} "
        f"(line {lineno}): the code adcompile itself runs for it."
    )
    shape_spec = _shape_spec(params, sig)
    if sig is not None:
        about += " It is specialised to arguments of these shapes: " + (
            (shape_spec or "those of the call it was made for") + "."
        )
    lines = [f'r"""{call}: {what.get(mode, mode)} of {name} with respect to {", ".join(wrt)}.']
    lines += ["", fill(about), "", "Regenerate it with:", ""]
    options = [f"--wrt {','.join(wrt)}"]
    if mode != "grad":
        options.append(f"--mode {mode}")
    if shape_spec:
        options.append(f"--shapes {shape_spec}")
    if "." not in qualname and "<" not in where:
        command = f"    adcompile export {where}:{name} " + " ".join(options) + " -o OUT.py"
        if len(command) > 88:
            command = f"    adcompile export {where}:{name} \\\n        " + " \\\n        ".join(
                [*options, "-o OUT.py"]
            )
        lines += [command, "", "or, from Python (this imports the file):", ""]
    wrt_text = "(" + ", ".join(repr(w) for w in wrt) + ("," if len(wrt) == 1 else "") + ")"
    lines.append(f"    adcompile.{mode}({name}, wrt={wrt_text}).export()")
    lines += [
        "",
        fill(
            "It needs only numpy: the helpers it calls are copied from adcompile.runtime, "
            f"and {__name__.split('.')[0]} is not needed to run it."
        ),
        '"""',
    ]
    return export.module_text(
        body, namespaces, exported, f"{mode} of {name}", "\n".join(lines) + "\n"
    )


def _shape_spec(params: list[str], sig: tuple | None) -> str | None:
    """``W=8x4,b=8x1,s=float`` for a shape signature, or None when there is none."""
    if sig is None or len(sig) != len(params):
        return None
    items = []
    for p, s in zip(params, sig, strict=True):
        if s is float:
            items.append(f"{p}=float")
        elif isinstance(s, tuple) and all(isinstance(n, int) for n in s):
            items.append(f"{p}=" + ("x".join(map(str, s)) if s else "()"))
        else:
            return None
    return ",".join(items)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adcompile")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


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
