"""The public API: grad, value_and_grad, vjp and the GradientFunction they return, the
cache of compiled code, and the entry that compiles a user function.

A call's fast path is ``dispatch.py``; finite-difference checks are ``checking.py``;
functions read from a file (the command line) are ``static.py``."""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import operator
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import emit, export, frontend, pipeline, records
from .dispatch import (
    MAX_DISPATCHERS,
    _bound_to,
    _check_apart,
    _check_differentiable,
    _check_real,
    _Dispatch,
    _finish,
    _nonscalar,
    _other_array,
    _packed,
    _spec,
    _wrong_shape,
)
from .emit import linecache_filename
from .errors import AdCompileError, Loc
from .export import export_module, generated_namespaces
from .frontend import SourceFunction, def_loc
from .jit import BACKEND_DOC, check_backend, numba_entry
from .memory import MemoryReport, memory_report_of
from .reverse.checkpoint import Checkpoint, check_schedule
from .rules.containers import is_function_value, kind_of
from .rules.registry import GENERATION
from .runtime import GradientShape, NonScalarResult
from .shapes import _shape_of_value, general_signature
from .wrt import Selection, Wrt, bases_and_elements, resolve_wrt, split_entry


def build(
    src: SourceFunction,
    wrt: list[str],
    mode: str,
    kinds: tuple | None = None,
    arg_shapes: tuple | None = None,
    checkpoint: Checkpoint = None,
) -> tuple[str, dict[str, Any], Any]:
    """Run the pipeline (``pipeline.py``) on ``src``: returns (source text, namespace,
    Generated). ``checkpoint`` is the loops' checkpointing schedule (see
    ``reverse/checkpoint.py``).

    ``kinds`` is the structure of each argument (see ``rules/containers.py``);
    None means every argument is an array or a number."""
    with _internal_errors(src.name, src.loc(src.node)), _deep_recursion():
        gen = pipeline.compile_source(src, wrt, mode, kinds, arg_shapes, checkpoint)
        source = gen.text + "".join("\n\n" + pair.text for pair in gen.session.order)
    return source, gen.namespace, gen


def build_jvp(
    src: SourceFunction,
    wrt: list[str],
    kinds: tuple | None = None,
    arg_shapes: tuple | None = None,
) -> tuple[str, dict[str, Any], Any]:
    """Run the forward-mode pipeline on ``src``: (source text, namespace, GeneratedJvp).
    The text holds the jvp and, after it, the jvps of the user functions it calls;
    ``arg_shapes``, the arguments' shape signature if the code is only ever called
    with arguments of it (the jvp of a gradient specialised to those shapes)."""
    with _internal_errors(src.name, src.loc(src.node)), _deep_recursion():
        gen = pipeline.compile_jvp(src, wrt, kinds, arg_shapes)
        source = gen.text + "".join("\n\n" + h.text for h in gen.helpers)
        # parameters the user's x op= ... writes into, and the arrays the code reads
        # besides its arguments: a call checks they are apart (as api.py does)
        gen.constant_arrays = [
            (k, v) for k, v in gen.namespace.items() if isinstance(v, np.ndarray)
        ]
    namespace = dict(gen.namespace)
    for helper in gen.helpers:
        for k, v in helper.namespace.items():
            namespace.setdefault(k, v)
    gen.namespace = namespace
    # comment lines saying what the code needs, as grad's .source opens with
    gen.header = export.source_header(src.name, export.free_objects(gen.tree, [namespace]))
    return gen.header + source, namespace, gen


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
    checkpoint: Checkpoint = None,
) -> tuple[Callable, str, Any]:
    """Read, transform and compile ``fn``: (the generated function, its source, Generated)."""
    inner: list = []
    if isinstance(fn, GradientFunction):  # grad(grad(f)): differentiate grad(f)'s code
        from .regenerate import differentiable_function, inner_guards

        fn = differentiable_function(fn, kinds)
        inner = inner_guards(fn)
    with frontend.recording() as guards:
        with _internal_errors(getattr(fn, "__name__", repr(fn)), def_loc(fn)):
            src = pipeline.read(fn)
        source, namespace, gen = build(src, wrt, mode, kinds, arg_shapes, checkpoint)
    filename = linecache_filename(mode, src.qualname, wrt)
    with _internal_errors(src.name, src.loc(src.node)):
        if debug_nans:  # a late pass: checks after each block of the reverse sweeps
            source = _check_nans(src, gen)
        gen.source_lines = src.lines
        gen.source_file = src.filename
        compiled = compile_linked(gen, filename, header_of=src.name)
        source = gen.header + source
    # what every free name of fn and of the helpers it calls meant when compiled (a
    # global, a closure variable, a module attribute, a builtin): a call checks that
    # each name still holds it, and compiles again when one was rebound
    gen.generation = GENERATION[0]
    gen.captured = list(guards.values()) + inner
    if gen.updates:
        gen.constant_arrays = [
            (k, v)
            for ns in (namespace, *(pair.namespace for pair in gen.session.order))
            for k, v in ns.items()
            if isinstance(v, np.ndarray)
        ]
    return compiled, source, gen


def compile_linked(gen: Any, filename: str, header_of: str | None = None) -> Callable:
    """Compile the finished texts of ``gen`` and of the pairs of the functions it calls,
    link each pair's forward and backward functions into every scope that names them,
    and return the generated function; ``filename`` is its pseudo-filename.

    With ``header_of`` (the differentiated function's name), ``gen.text`` is opened by
    the comment lines that say what the code needs (``gen.header``, see
    ``export.source_header``), made from the globals the compiled code reads; the code
    is moved down past them rather than compiled again, so that the lines of
    tracebacks and of ``.source`` agree."""
    texts = [(gen.text, gen.namespace, filename)]
    for pair in gen.session.order:
        pair_file = linecache_filename("pullback", pair.source.qualname, pair.wrt)
        texts.append((pair.text, pair.namespace, pair_file))
    codes = [compile(text, file, "exec") for text, _, file in texts]
    if header_of is not None:
        objects = export.compiled_free_objects(codes, [ns for _, ns, _ in texts])
        gen.header = export.source_header(header_of, objects)
        gen.text = gen.header + gen.text
        codes[0] = emit.moved_down(codes[0], gen.header.count("\n"))
        texts[0] = (gen.text, *texts[0][1:])
    scopes = [
        emit.run_module(code, text, ns, file)
        for code, (text, ns, file) in zip(codes, texts, strict=True)
    ]
    links = {}
    for pair, scope in zip(gen.session.order, scopes[1:], strict=True):
        links[pair.fwd] = scope[pair.fwd]
        links[pair.bwd] = scope[pair.bwd]
    for scope in scopes:
        scope.update({k: v for k, v in links.items() if k in scope})
    return scopes[0][gen.node.name]


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


class GradientFunction:
    """A compiled derivative of a user function.

    Call it like the original function (plus the output cotangent, for a vjp).
    ``.source`` is the generated Python; ``.show()`` prints it highlighted.
    """

    compiled_gradient = True  # (names.is_compiled_gradient)

    def __init__(
        self,
        fn: Callable,
        wrt: Wrt,
        mode: str,
        debug_nans: bool = False,
        checkpoint: Checkpoint = None,
        backend: str = "numpy",
    ) -> None:
        _check_function(fn)
        self.fn = fn
        self.mode = mode
        self.backend = check_backend(backend, fn, debug_nans or checkpoint, def_loc(fn))
        self.debug_nans = bool(debug_nans)
        self.checkpoint = check_schedule(checkpoint)
        sig = inspect.signature(fn, follow_wrapped=False)  # (the code compiled)
        self.params = list(sig.parameters)
        # *args, **kwargs and keyword-only parameters are compiled as plain ones (see
        # desugar/signature.py): every call's arguments are then bound by the signature
        plain = all(p.kind == p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values())
        self._plain = plain
        star = next((p.name for p in sig.parameters.values() if p.kind == p.VAR_POSITIONAL), None)
        self.wrt, self.single = resolve_wrt(self.params, wrt, def_loc(fn), star)
        # the parameters the code differentiates, and how their gradients become the
        # wrt entries' (a position inside *args: see wrt.py)
        self._index = [self.params.index(w) for w in bases_and_elements(self.wrt)[0]]
        self._selection = Selection.of(self.wrt)
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
            else:  # after *args or **kwargs: by keyword only
                extra = extra.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                params = [*sig.parameters.values()]
                at = next((i for i, p in enumerate(params) if p.kind == p.VAR_KEYWORD), len(params))
                sig = sig.replace(parameters=[*params[:at], extra, *params[at:]])
        self._by_kinds: dict[tuple | None, tuple] = {}
        self._by_sig: dict[tuple, tuple] = {}
        # code for any shapes that knows which arguments are Python numbers, by
        # (kinds, general signature): see shapes.general_signature
        self._by_general: dict[tuple, tuple] = {}
        self._refused_generally: set = set()  # (kinds, general signature): see _entry
        self._latest: tuple | None = None  # the entry the latest call ran
        self._fast: Callable = self._slow  # what a call runs: see __call__
        self._fasts: dict[tuple, Callable] = {}  # dispatchers by kind of arguments
        self._seen: set[tuple] = set()  # (code, shape signature) of calls seen
        self._lock = threading.Lock()
        self._methods: dict[int, tuple] = {}  # id(obj) -> (obj, this bound to it)
        # (the attributes of a GradientFunction differentiated again are its own)
        updated = () if isinstance(fn, GradientFunction) else functools.WRAPPER_UPDATES
        functools.update_wrapper(self, fn, updated=updated)
        self.__name__ = f"{mode}_{getattr(fn, '__name__', 'f')}"
        self.__qualname__ = self.__name__
        self.__signature__ = sig  # fn's parameters, and the cotangent for a vjp
        del self.__wrapped__  # this is a derivative of fn, not fn: keep unwrap() off it

    # ------------------------------------------------------------ methods

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        """``@grad`` on a method in a class body: read from an instance, it is the
        derivative of the method bound to that instance (self's attributes captured)."""
        if obj is None:
            return self
        return self.bound_to(obj)

    def bound_to(self, obj: object) -> GradientFunction:
        """This derivative of ``fn`` with its first parameter bound to ``obj``: of the
        method ``fn`` bound to it, whose attributes are read as captured values."""
        held = self._methods.get(id(obj))
        if held is not None and held[0] is obj:
            return held[1]
        if self.params and self.params[0] in self.wrt:
            raise AdCompileError(
                f"cannot differentiate with respect to {self.params[0]!r}: it is "
                f"{_bound_to(obj)}, whose attributes are read as constants",
                def_loc(self.fn, self.params[0]),
                hint="name the parameters to differentiate in wrt (wrt='W'): an object's "
                "attributes are not differentiated",
            )
        wrt = self.wrt[0] if self.single else tuple(self.wrt)
        options = (self.debug_nans, self.checkpoint, self.backend)
        method = GradientFunction(types.MethodType(self.fn, obj), wrt, self.mode, *options)
        if len(self._methods) >= MAX_DISPATCHERS:
            self._methods.clear()
        self._methods[id(obj)] = (obj, method)
        return method

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
        to their shapes (see ``shapes.py``); later ones share the general code, which
        knows which arguments are Python numbers (``shapes.general_signature``). Where
        the general code is refused and code for the shapes may not be (the ownership
        pass reads the length of a list argument), each signature gets its own code."""
        if sig is not None and sig not in self._by_sig and len(self._by_sig) >= MAX_SPECIALISATIONS:
            # code for any shapes, which still knows which arguments are Python numbers
            # (what the ownership pass accepts may depend on it: min(v, x1), x1 a float)
            general = general_signature(sig)
            if (kinds, general) not in self._refused_generally:
                try:
                    if general is not None:
                        return _entry_in(self, self._by_general, (kinds, general), kinds, general)
                    return _entry_in(self, self._by_kinds, kinds, kinds, None)
                except AdCompileError:
                    if self.backend == "numba":
                        raise  # (its code for container arguments needs their shapes)
                    # refused for any shapes, where code for these shapes may not be:
                    # the ownership pass reads a list's length (a loop that runs)
                    self._refused_generally.add((kinds, general))
        table, key = (self._by_sig, sig) if sig is not None else (self._by_kinds, kinds)
        return _entry_in(self, table, key, kinds, sig)

    def differentiable(self, kinds: tuple | None = None) -> Callable:
        """The generated code for arguments of the structure ``kinds``, as a function
        adcompile can differentiate again (see higher.py)."""
        from .regenerate import differentiable_function

        return differentiable_function(self, kinds)

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
        """The text of a Python module that defines this gradient and needs only numpy
        (and scipy, if the function uses it): the code of :attr:`source`, the helpers of
        ``adcompile.runtime`` it uses, the pullbacks of the functions it calls, and the
        module-level numbers and arrays it reads, with a docstring saying where it comes
        from and how to make it again. Its function checks that its arguments have the
        structure (and, for code specialised to shapes, the shapes) the code was
        generated for: export after a call with list, tuple or dict arguments to get
        code for them."""
        entry = self._latest
        if entry is None or not _current(entry):
            entry = self._entry(None, None)
        gen = entry[2]
        body = getattr(gen, "numpy_source", entry[1])[len(getattr(gen, "header", "")) :]
        sig = next((k for k, v in self._by_sig.items() if v is entry), None)
        kinds = next((k for k, v in self._by_kinds.items() if v is entry), None)
        general = next((k for k, v in self._by_general.items() if v is entry), None)
        if general is not None:  # (code for any shapes of arrays, for these numbers)
            kinds, sig = general
        namespaces = generated_namespaces(gen)
        return export_module(self.fn, body, namespaces, self.wrt, self.mode, sig, kinds=kinds)

    def memory_report(self, *args: Any, **kwargs: Any) -> MemoryReport:
        """What the reverse sweep keeps for a call with these arguments: the values alive
        between the two sweeps, per line of ``fn`` (per iteration and in total for
        loops), with ``.total_bytes``. ``print()`` it, or ``.show()`` it (a table in
        a terminal)."""
        self(*args, **kwargs)  # compiles (or finds) the code for these arguments
        entry = self._latest
        if kwargs or len(args) != self._arity or not self._plain:
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
        if (
            args
            and frontend.is_user_object(args[0])
            and isinstance(self.fn, types.FunctionType)
            and not (0 in self._index and records.record_fields(args[0]) is not None)
        ):  # Model.loss(model, ...): the method bound to model
            return self.bound_to(args[0])(*args[1:], **kwargs)
        if kwargs or len(args) != self._arity or not self._plain:
            args = self._bind(args, kwargs)
        if any(map(records.has_record, args)):
            return self._with_records(args)
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
            if any(type(a) in (list, tuple, dict) or is_function_value(a) for a in params):
                kinds = tuple(kind_of(a) for a in params)
            entry = self._entry(kinds, sig)
        self._check_arguments(params)
        if entry[2].updates:
            _check_apart(self.fn, self.params, entry[2], params)
        self._latest = entry
        self._fast = self._dispatcher(entry, args, sig)
        like = next((a for a in params if _other_array(a)), None)
        if like is not None:
            args = _arrays_like(args, self._index, like)
        try:
            out = entry[0](*args)
        except NonScalarResult as exc:
            raise _nonscalar(self.mode, self.fn, entry, exc) from None
        finish = functools.partial(self._finished, fresh=entry[2].fresh)
        try:
            if self.mode == "value_and_grad":
                value, grads = out
                return value, _packed(finish(grads, args), self.single)
            return _packed(finish(out, args), self.single)
        except GradientShape as exc:
            raise _wrong_shape(self.fn, self.params, exc) from None

    def _with_records(self, args: tuple):
        """A call with namedtuple or dataclass arguments: the generated code, compiled for
        their kinds (which name the fields), runs on their plain tuples, and each
        gradient of a record is made that record again (see records.py). Always the slow
        path, with code for any shapes: a dispatcher and the shape signatures are for
        exact types, which plain tuples are not."""
        params = args[: self._nparams]
        kinds = tuple(kind_of(a) for a in params)
        flat = tuple(records.plain(a) for a in args)
        entry = self._entry(kinds, None)  # (by kinds, which tell records from tuples)
        self._check_arguments(flat[: self._nparams])
        if entry[2].updates:
            _check_apart(self.fn, self.params, entry[2], flat[: self._nparams])
        self._latest = entry
        try:
            out = entry[0](*flat)
        except NonScalarResult as exc:
            raise _nonscalar(self.mode, self.fn, entry, exc) from None
        value = None
        if self.mode == "value_and_grad":
            value, out = out
        grads = self._finished(out, flat, fresh=entry[2].fresh)
        if self._selection is None:
            originals = [args[i] for i in self._index]
        else:  # (the arguments inside *args the gradients are of)
            none = [None] * len(self._index)
            originals = self._selection.pick(none, args, self._index, entry[2].fresh)[1]
        grads = [records.restore(g, x) for g, x in zip(grads, originals, strict=True)]
        grads = _packed(grads, self.single)
        return (value, grads) if self.mode == "value_and_grad" else grads

    def _check_arguments(self, params: tuple) -> None:
        """Refuse a wrt argument that is not floating point (a position inside *args: that
        argument), and a complex argument anywhere else."""
        chosen = dict.fromkeys(self._index, ())
        for w in self.wrt:
            base, element = split_entry(w)
            if element is not None:
                chosen[self.params.index(base)] += (element,)
        for i, a in enumerate(params):
            name = self.params[i]
            if i not in chosen:
                if type(a) is not float:
                    _check_real(a, name, self.fn)
            elif not chosen[i]:
                if not _floats_only(a):
                    _check_differentiable(a, name, self.fn)
            else:
                for k, v in enumerate(a):
                    where = f"{name}[{k}]"
                    if k in chosen[i]:
                        _check_differentiable(v, where, self.fn)
                    else:
                        _check_real(v, where, self.fn)
                missing = [k for k in chosen[i] if k >= len(a)]
                if missing:
                    raise AdCompileError(
                        f"wrt names '{name}[{missing[0]}]', but the call passes "
                        f"{len(a)} argument{'' if len(a) == 1 else 's'} to *{name}",
                        def_loc(self.fn, name),
                        hint=f"pass at least {missing[0] + 1} arguments after the others, or "
                        "name a position that the call fills",
                    )

    def _finished(self, grads, args: tuple, fresh: list) -> list:
        """The gradients of the compiled code as the wrt entries' gradients, each with the
        type, shape and dtype of its input (see ``dispatch._finish``)."""
        if self._selection is None:
            return _finish(grads, args, fresh=fresh, index=self._index)
        grads, likes, index, fresh = self._selection.pick(grads, args, self._index, fresh)
        return _finish(grads, likes, fresh=fresh, index=index)

    def _dispatcher(self, entry: tuple, args: tuple, sig: tuple) -> Callable:
        """The fast path for calls like ``args``: made the second time arguments of their
        shape signature come, so that a gradient called once does not pay for it; until
        then, and when none can be made, the slow path. A few dozen are kept per gradient
        function, by kind of arguments (types, shapes, dtypes of wrt arrays). A function
        with ``*args``, ``**kwargs`` or keyword-only parameters has its arguments bound on
        every call, and one passed a function has its code found by which function it is:
        their calls take the slow path."""
        if not self._plain or any(is_function_value(a) for a in args[: self._nparams]):
            return self._slow
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
            self._by_general.clear()
            self._refused_generally.clear()
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
            positional = [
                p.kind
                for p in self.signature.parameters.values()
                if p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD)
            ]
            star = inspect.Parameter.VAR_POSITIONAL in positional
            if self.cotangent in kwargs:
                extra = (kwargs.pop(self.cotangent),)
            elif args and (
                len(args) == self._arity
                if self._plain
                else star or len(args) == len(positional) + 1
            ):
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


def _entry_in(
    self: GradientFunction, table: dict, key: object, kinds: tuple | None, sig: tuple | None
) -> tuple:
    """The entry of ``self``'s ``table`` at ``key``: code for ``kinds`` and the signature
    ``sig``, compiled (or found in the cache shared by every gradient function) if needed."""
    entry = table.get(key)
    if entry is not None and self._stale(entry):
        entry = None
    if entry is None:
        with self._lock:
            cache_key = (
                self.fn,
                tuple(self.wrt),
                self.mode,
                kinds,
                sig,
                self.debug_nans,
                self.checkpoint,
                self.backend,
            )
            with _CACHE_LOCK:
                entry = _CACHE.get(cache_key)
                if entry is not None and not _current(entry):
                    entry = None  # compiled before a rule was registered or a name rebound
                if entry is None:
                    try:
                        entry = _compile_entry(
                            self.fn,
                            self.wrt,
                            self.mode,
                            kinds,
                            sig,
                            self.debug_nans,
                            self.checkpoint,
                        )
                        if self.backend == "numba":  # (see jit/)
                            shapes = None if table is self._by_general else sig
                            entry = numba_entry(entry, self, shapes, kinds)
                    except AdCompileError as exc:
                        # the message locates the problem in the user's code; the
                        # compiler's own frames would only hide it
                        cause = exc.__cause__ if "internal error" in exc.reason else None
                        raise exc.with_traceback(None) from cause
                    _CACHE[cache_key] = entry
            table[key] = entry
    return entry


def _current(entry: tuple) -> bool:
    """Whether compiled code is up to date: no rule registered since it was compiled, and
    every free name it resolved (in fn and in the helpers it calls) still bound to the
    object it was compiled with."""
    gen = entry[2]
    return gen.generation == GENERATION[0] and frontend.guards_hold(gen.captured)


MAX_SPECIALISATIONS = 8  # shape signatures per gradient function with their own code
_CACHE: dict[tuple, tuple] = {}
_CACHE_LOCK = threading.RLock()


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


def _check_function(fn: object) -> None:
    """Refuse, with a reason, anything that is not a plain Python function."""
    if isinstance(fn, GradientFunction):
        if fn.mode == "grad":
            return  # its generated code is differentiated (see higher.py)
        raise AdCompileError(
            f"{fn!r} is a compiled {fn.mode}; higher-order derivatives are taken of grad(f) only",
            def_loc(fn.fn),
            hint="differentiate ad.grad(f), or write the function that calls it",
        )
    if inspect.ismethod(fn):
        if isinstance(fn.__func__, types.FunctionType) and frontend.is_user_object(fn.__self__):
            return  # self is bound: its attributes are read as captured values
        raise AdCompileError(
            f"{fn.__qualname__} is a method bound to {_bound_to(fn.__self__)}: adcompile "
            "differentiates functions, and methods bound to instances of the user's classes",
            def_loc(fn),
            hint="define the function at module level (or as a @staticmethod) and pass "
            "what it needs from the object as arguments",
        )
    if not callable(fn) or not inspect.isfunction(inspect.unwrap(fn)):
        raise AdCompileError(
            f"{fn!r} is not a Python function",
            hint="pass a function defined with def",
        )


def _arrays_like(args: tuple, index: list[int], like: object) -> tuple:
    """``args`` with each numpy array differentiated made an array of ``like``'s library
    (``np.asarray(a, like=...)``, numpy's dispatch to it), when another argument is
    one: every value varied by them is then of that kind, and so is every adjoint,
    which the generated code may add to in place (``dW += ...``), which a numpy array
    cannot do with a contribution of another library's kind."""
    out = list(args)
    for i in index:
        if type(out[i]) is np.ndarray:
            out[i] = np.asarray(out[i], like=like)
    return tuple(out)


def _decorator(mode: str):
    def make(fn=None, wrt: Wrt = 0, *options):  # options: debug_nans, checkpoint, backend
        if fn is None:
            return lambda f: GradientFunction(f, wrt, mode, *options)
        if isinstance(fn, int | str | tuple | list) and not callable(fn):
            return lambda f, w=fn: GradientFunction(f, w, mode, *options)
        return GradientFunction(fn, wrt, mode, *options)

    return make


_CHECKPOINT_DOC = """
    ``checkpoint`` trades time for memory in loops: None keeps what the reverse sweep
    reads from every iteration; ``"sqrt"`` keeps the loop's carried state at about
    √T of its T iterations and, in the reverse sweep, recomputes each segment between
    two of them before reversing it; an int N keeps at most N such snapshots per loop,
    placed by binomial checkpointing (Griewank's revolve), which recomputes the fewest
    iterations any schedule with N snapshots can (see docs/scaling.md); a while loop's
    snapshots thin out as it runs. The generated code shows the schedule."""


def grad(
    fn: Callable | None = None,
    wrt: Wrt = 0,
    *,
    debug_nans: bool = False,
    checkpoint: Checkpoint = None,
    backend: str = "numpy",
) -> GradientFunction:
    """The gradient of ``fn``'s scalar result with respect to the parameters in ``wrt``.

    ``wrt`` is a position, a parameter name, or a tuple of them (a tuple gives a
    tuple of gradients). Works as ``grad(f)``, ``@grad`` and ``@grad(wrt=(0, 1))``.

    ``debug_nans=True`` checks the reverse sweep block by block: the first adjoint
    that is not finite although every value it was computed from is raises
    FloatingPointError naming the line of ``fn`` it is the adjoint of.
    """
    return _decorator("grad")(fn, wrt, debug_nans, checkpoint, backend)


def value_and_grad(
    fn: Callable | None = None,
    wrt: Wrt = 0,
    *,
    debug_nans: bool = False,
    checkpoint: Checkpoint = None,
    backend: str = "numpy",
) -> GradientFunction:
    """Like :func:`grad`, returning ``(value, gradient)`` from one forward pass."""
    return _decorator("value_and_grad")(fn, wrt, debug_nans, checkpoint, backend)


def vjp(
    fn: Callable | None = None,
    wrt: Wrt = 0,
    *,
    debug_nans: bool = False,
    checkpoint: Checkpoint = None,
    backend: str = "numpy",
) -> GradientFunction:
    """The vector-Jacobian product of ``fn``: call it with ``fn``'s arguments and then
    the cotangent of its result; it returns the cotangent of each ``wrt`` parameter."""
    return _decorator("vjp")(fn, wrt, debug_nans, checkpoint, backend)


grad.__doc__ += _CHECKPOINT_DOC + BACKEND_DOC
value_and_grad.__doc__ += _CHECKPOINT_DOC + BACKEND_DOC
vjp.__doc__ += _CHECKPOINT_DOC + BACKEND_DOC


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


__all__ = [
    "GradientFunction",
    "build",
    "grad",
    "resolve_wrt",
    "value_and_grad",
    "vjp",
]
