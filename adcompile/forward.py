"""Forward mode's public objects: ``jvp``, ``jacobian`` and ``stop_gradient``.

``jvp(f, wrt)`` compiles ``f`` through the same front end as ``grad`` (frontend,
fence, normalize), then ``tangent.py`` writes each statement's tangent after it.
The object it returns is called with ``f``'s arguments and then the tangent of the
``wrt`` parameters, and returns ``(value, tangent of the value)``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from . import emit, frontend, pipeline, records
from .api import (
    GradientFunction,
    Wrt,
    _check_apart,
    _check_differentiable,
    _check_function,
    _internal_errors,
    build_jvp,
    resolve_wrt,
    vjp,
)
from .emit import linecache_filename
from .errors import AdCompileError
from .frontend import def_loc
from .rules.containers import LEAF, kind_has_record, kind_of
from .rules.registry import GENERATION
from .runtime import grad_like
from .shapes import general_signature, signature_shapes
from .wrt import bases_and_elements, split_entry


class JvpFunction:
    """A compiled Jacobian-vector product of a user function.

    Call it with the function's arguments and then the tangent of the ``wrt``
    parameter (a tuple of tangents when ``wrt`` is a tuple; a container parameter's
    tangent has the parameter's structure). It returns ``(value, tangent)``, the
    tangent with the value's structure. ``.source`` is the generated Python,
    ``.show()`` prints it.
    """

    def __init__(self, fn: Callable, wrt: Wrt = 0) -> None:
        _check_function(fn)
        self.fn = fn
        self.signature = inspect.signature(fn, follow_wrapped=False)
        self.params = list(self.signature.parameters)
        # every parameter positional-or-keyword: a call with all of them by position
        # binds without inspect (see _bind)
        self._plain = all(
            p.kind == p.POSITIONAL_OR_KEYWORD for p in self.signature.parameters.values()
        )
        star = next(
            (p.name for p in self.signature.parameters.values() if p.kind == p.VAR_POSITIONAL),
            None,
        )
        self.wrt, self.single = resolve_wrt(self.params, wrt, def_loc(fn), star)
        # the parameters the code differentiates (an entry inside *args: its tuple)
        self._bases = bases_and_elements(self.wrt)[0]
        self._cache: dict[tuple, tuple] = {}  # by (kinds, signature): see _entry
        self._refused: set = set()  # (kinds, general signature) whose code is refused
        self._latest: tuple | None = None
        self._lock = threading.Lock()
        # the shape signature of every call's arguments, when the caller guarantees one
        # (hvp: the jvp of a gradient specialised to it); None: any shapes
        self.arg_shapes: tuple | None = None
        self.__name__ = f"jvp_{getattr(fn, '__name__', 'f')}"
        self.__qualname__ = self.__name__
        self.__doc__ = fn.__doc__

    def _entry(self, kinds: tuple | None, values: list | None = None) -> tuple:
        """The code for arguments of the structure ``kinds``; given the call's
        ``values``, for which of them are Python numbers (``shapes.general_signature``,
        which the ownership pass reads), or, where that code is refused, for their
        shape signature (the ownership pass reads a list argument's length)."""
        sig = full = None
        if values is not None and self.arg_shapes is None:
            full = signature_shapes(tuple(values), kinds)
            sig = general_signature(full)
            if (kinds, sig) in self._refused:
                sig = full
        try:
            return self._entry_for(kinds, sig)
        except AdCompileError:
            if full is None or sig == full:
                raise
            self._refused.add((kinds, sig))
            return self._entry_for(kinds, full)

    def _entry_for(self, kinds: tuple | None, sig: tuple | None) -> tuple:
        entry = self._cache.get((kinds, sig))
        if entry is not None and not (entry[2] == GENERATION[0] and frontend.guards_hold(entry[3])):
            entry = None  # a rule registered, or a name the code resolved rebound, since
        if entry is None:
            with self._lock:
                try:
                    entry = self._compile(kinds, sig)
                except AdCompileError as exc:
                    cause = exc.__cause__ if "internal error" in exc.reason else None
                    raise exc.with_traceback(None) from cause
                self._cache[(kinds, sig)] = entry
        return entry

    def _compile(self, kinds: tuple | None, sig: tuple | None = None) -> tuple:
        """(generated function, source, rule generation, guards of the names resolved,
        GeneratedJvp), for the signature ``sig`` (None: ``arg_shapes``)."""
        fn, inner = self.fn, []
        if isinstance(fn, GradientFunction):  # jvp(grad(f)): differentiate grad(f)'s code
            from .regenerate import differentiable_function, inner_guards

            fn = differentiable_function(fn, kinds, forward=True)
            inner = inner_guards(fn)
        with frontend.recording() as guards:
            with _internal_errors(self.fn.__name__, def_loc(self.fn)):
                src = pipeline.read(fn)
            shapes = self.arg_shapes if sig is None else sig
            source, namespace, gen = build_jvp(src, self.wrt, kinds, shapes)
        with _internal_errors(src.name, src.loc(src.node)):
            filename = linecache_filename("jvp", src.qualname, self.wrt)
            scope = emit.compile_module(source, namespace, filename)
        return scope[gen.node.name], source, GENERATION[0], list(guards.values()) + inner, gen

    @property
    def source(self) -> str:
        """The generated source: for the latest call's argument structure, or for array
        arguments before any call."""
        return (self._latest or self._entry(None))[1]

    def show(self, *, console=None) -> None:
        """Print the generated code, highlighted."""
        from .show import show_source

        show_source(self.source, console=console)

    def export(self) -> str:
        """The text of a Python module that defines this jvp and needs only numpy (the
        helpers of ``adcompile.runtime`` it calls are copied into it)."""
        from .export import export_module

        if isinstance(self.fn, GradientFunction):
            raise AdCompileError(
                f"{self.__name__}.export(): the jvp of a compiled gradient is not exported "
                "as a module",
                def_loc(self.fn.fn),
                hint="read the generated code with .source (it imports adcompile.runtime), or "
                "export the first derivative: ad.grad(f).export() or ad.jvp(f).export()",
            )
        entry = self._latest or self._entry(None)
        gen = entry[4]
        body = entry[1][len(gen.header) :]
        kinds, sig = next((k for k, v in self._cache.items() if v is entry), (None, None))
        namespaces = [gen.namespace]
        return export_module(self.fn, body, namespaces, self.wrt, "jvp", sig, kinds=kinds)

    def _repr_html_(self) -> str:
        """In a notebook: the generated source, highlighted."""
        from .show import source_html

        return source_html(self.source)

    def _repr_markdown_(self) -> str:
        from .show import source_markdown

        return source_markdown(self.source)

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        n = len(self.wrt)
        if "tangent" in kwargs and "tangent" not in self.params:
            tangents = kwargs.pop("tangent")
        elif self.single or n == 1 or len(args) - len(self.params) != n:
            if not args:
                raise AdCompileError(
                    f"{self.__name__} takes {self.fn.__name__}'s arguments, then the tangent",
                    hint="call it as jvp_f(*args, tangent)",
                )
            tangents, args = args[-1], args[:-1]
        else:
            tangents, args = tuple(args[-n:]), args[:-n]
        if self.single:
            tangents = (tangents,)
        elif not isinstance(tangents, tuple | list) or len(tangents) != n:
            raise AdCompileError(
                f"{self.__name__} needs {n} tangents (one per wrt parameter: "
                f"{', '.join(self.wrt)}), as a tuple",
                hint="call it as jvp_f(*args, (dx, dy))",
            )
        arguments = self._bind(args, kwargs, "the tangent")
        values = [arguments[p] for p in self.params]
        kinds: tuple | None = tuple([kind_of(v) for v in values])
        plain = arguments
        has_record = kind_has_record(kinds)
        if has_record:
            # namedtuples and dataclasses reach the code as plain tuples (see records.py)
            values = [records.plain(v) for v in values]
            tangents = tuple(records.plain(t) for t in tangents)
            plain = dict(zip(self.params, values, strict=True))
        elif kinds.count(LEAF) == len(kinds):
            kinds = None
        for w, t in zip(self.wrt, tangents, strict=True):
            base, element = split_entry(w)
            x = plain[base] if element is None else _element(self.fn, plain[base], base, element)
            check_argument(self.fn, w, x, t)
        if self._bases != self.wrt:
            tangents = _base_tangents(self.wrt, self._bases, tangents, plain)
        value, tangent = self.run(values, tangents, kinds)
        if isinstance(self.fn, GradientFunction):
            # jvp(grad(f)): the gradient and its tangent shaped as grad(f) returns it
            value = gradient_like(value, self.fn, arguments, has_record)
            tangent = gradient_like(tangent, self.fn, arguments, has_record)
        return value, tangent

    def _bind(self, args: tuple, kwargs: dict, then: str) -> dict:
        """Each parameter's argument, by name (defaults filled in)."""
        if not kwargs and self._plain and len(args) == len(self.params):
            return dict(zip(self.params, args, strict=True))
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise AdCompileError(
                f"{self.__name__}: {exc}", hint=f"pass f's arguments, then {then}"
            ) from None
        bound.apply_defaults()
        return bound.arguments

    def run(
        self, values: list, tangents: tuple | list, kinds: tuple | None | str = "unknown"
    ) -> tuple[Any, Any]:
        """The generated jvp on the bound, checked arguments ``values`` (every parameter,
        in order) and ``tangents`` (one per ``wrt`` parameter); ``kinds``, their
        structure if the caller knows it (None: all arrays)."""
        if kinds == "unknown":
            kinds = tuple([kind_of(v) for v in values])
            kinds = None if kinds.count(LEAF) == len(kinds) else kinds
        entry = self._entry(kinds, values)
        self._latest = entry
        gen = entry[4]
        if gen.updates:
            _check_apart(self.fn, self.params, gen, tuple(values))
        return entry[0](*values, *tangents)

    def __repr__(self) -> str:
        return f"<jvp of {getattr(self.fn, '__qualname__', self.fn)} wrt {', '.join(self.wrt)}>"


def _element(fn: Callable, args: tuple, base: str, element: int) -> object:
    """The argument at position ``element`` of the *args tuple ``args``."""
    if element >= len(args):
        raise AdCompileError(
            f"wrt names '{base}[{element}]', but the call passes {len(args)} "
            f"argument{'' if len(args) == 1 else 's'} to *{base}",
            def_loc(fn, base),
            hint=f"pass at least {element + 1} arguments after the others, or name a "
            "position that the call fills",
        )
    return args[element]


def _base_tangents(wrt: list[str], bases: list[str], tangents: tuple, values: dict) -> tuple:
    """The tangent of each parameter the code differentiates, from the tangents of the wrt
    entries: a tuple of *args gets its entries' tangents at their positions and zeros
    at the others (which the code reads only when it uses the tuple whole)."""
    given = dict(zip(wrt, tangents, strict=True))
    out = []
    for base in bases:
        if base in given:
            out.append(given[base])
            continue
        parts = []
        for k, x in enumerate(values[base]):
            t = given.get(f"{base}[{k}]")
            parts.append(t if t is not None else _zero_tangent(x))
        out.append(tuple(parts))
    return tuple(out)


def _zero_tangent(x: object) -> object:
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        return np.zeros_like(x)
    if isinstance(x, float | np.floating):
        return 0.0
    if isinstance(x, list | tuple):
        return type(x)(_zero_tangent(v) for v in x)
    if isinstance(x, dict):
        return {k: _zero_tangent(v) for k, v in x.items()}
    return None


def check_argument(fn: Callable, param: str, x: object, t: object) -> None:
    """Refuse an argument ``x`` of the ``wrt`` parameter ``param`` that cannot be
    differentiated, or a tangent ``t`` whose structure or shapes are not its own."""
    if _plain_tangent(x, t):
        return
    _check_differentiable(x, param, fn)
    _check_tangent(fn, param, x, t, param)


_FLOAT64 = np.dtype(np.float64)


def _plain_tangent(x: object, t: object) -> bool:
    """Whether ``x`` is a float array (or float, or a list or tuple of them) and ``t`` a
    tangent of it, checked quickly: numeric arrays of ``x``'s shapes (floats for
    floats), in lists and tuples of ``x``'s lengths. False says nothing:
    :func:`check_argument` then looks closer."""
    tx, tt = type(x), type(t)
    if tx is np.ndarray:
        return (
            tt is np.ndarray
            and x.dtype.kind == "f"
            and t.shape == x.shape
            and t.dtype.kind in "iufc"
        )
    if tx is list or tx is tuple:
        if not (tt is list or tt is tuple) or len(x) != len(t):
            return False
        for a, b in zip(x, t, strict=True):
            if type(a) is np.ndarray:  # (the leaves inline: this runs on every call)
                if type(b) is not np.ndarray or b.shape != a.shape:
                    return False
                da, db = a.dtype, b.dtype
                if not (da is _FLOAT64 or da.kind == "f") or not (
                    db is _FLOAT64 or db.kind in "iufc"
                ):
                    return False
            elif not _plain_tangent(a, b):
                return False
        return True
    return tx is float and tt is float


def gradient_like(
    g: Any, gradient: GradientFunction, arguments: dict, has_record: bool = True
) -> Any:
    """What the generated code of ``gradient`` (or its tangent) returned, ``g``, as
    ``gradient`` itself returns it: each part with the type, structure, shape and dtype
    of its ``wrt`` parameter's argument (a part that is zero may be a ``0.0`` or a
    None in the generated code's result). ``has_record`` False: the caller knows no
    argument holds a namedtuple or a dataclass."""
    like = _like_record if has_record else _like
    if gradient._selection is not None:  # entries inside *args: picked from its tuple's
        values = tuple(arguments[p] for p in gradient.params)
        fresh = [False] * len(gradient._index)
        g, likes, _, _ = gradient._selection.pick(g, values, gradient._index, fresh)
        if gradient.single:
            return _like_record(g, likes[0])
        return tuple(_like_record(h, x) for h, x in zip(g, likes, strict=True))
    if gradient.single:
        return like(g, arguments[gradient.wrt[0]])
    g = (g,) if len(gradient.wrt) == 1 and not isinstance(g, tuple) else g
    return tuple(like(h, arguments[w]) for h, w in zip(g, gradient.wrt, strict=True))


def _like_record(h: Any, x: Any) -> Any:
    """``_like``, with the namedtuples and dataclasses of ``x`` (see records.py)."""
    if records.has_record(x):
        return records.restore(_like(h, records.plain(x)), x)
    return _like(h, x)


def _like(h: Any, x: Any) -> Any:
    tx = type(x)
    if tx is np.ndarray:
        if (
            type(h) is np.ndarray
            and h.shape == x.shape
            and h.dtype == x.dtype
            and h.base is None
            and h.flags.writeable
        ):
            return h  # (grad_like's fast path, without its call)
        return grad_like(0.0 if h is None else h, x)
    if tx is list or tx is tuple:
        if not isinstance(h, list | tuple):
            h = [None] * len(x)
        return tx([_like(a, b) for a, b in zip(h, x, strict=True)])
    if isinstance(x, dict):
        h = h if isinstance(h, dict) else {}
        return {k: _like(h.get(k), v) for k, v in x.items()}
    return grad_like(0.0 if h is None else h, x)


def _check_tangent(fn: Callable, param: str, x: object, t: object, where: str) -> None:
    """Refuse a tangent whose structure or shapes are not its parameter's."""
    if isinstance(x, dict):
        if not isinstance(t, dict) or list(t) != list(x):
            raise _bad_tangent(fn, param, where, f"a dict with the keys {list(x)}", t)
        for k in x:
            _check_tangent(fn, param, x[k], t[k], f"{where}[{k!r}]")
        return
    if isinstance(x, list | tuple):
        if not isinstance(t, list | tuple) or len(t) != len(x):
            what = f"a {type(x).__name__} of {len(x)}"
            raise _bad_tangent(fn, param, where, what, t)
        for i, (a, b) in enumerate(zip(x, t, strict=True)):
            _check_tangent(fn, param, a, b, f"{where}[{i}]")
        return
    try:
        shape = np.shape(t)
        numeric = np.issubdtype(np.result_type(t), np.number)
    except Exception:  # not an array-like
        numeric, shape = False, None
    if not numeric or shape != np.shape(x):
        raise _bad_tangent(fn, param, where, f"an array of shape {np.shape(x)}", t)


def _bad_tangent(fn: Callable, param: str, where: str, want: str, t: object) -> AdCompileError:
    got = f"shape {np.shape(t)}" if isinstance(t, np.ndarray) else f"a {type(t).__name__}"
    return AdCompileError(
        f"the tangent of {where} is {got}; it must be {want}, like the argument",
        def_loc(fn, param),
        hint="a tangent has the structure and shapes of its parameter's argument",
    )


def jvp(fn: Callable | None = None, wrt: Wrt = 0) -> JvpFunction | Callable:
    """The forward-mode derivative of ``fn``: ``jvp(f, wrt)(*args, tangent)`` returns
    ``(f(*args), the directional derivative of f along tangent)``. Also a decorator,
    ``@jvp(wrt=...)``."""
    if fn is None:
        return lambda f: JvpFunction(f, wrt)
    return JvpFunction(fn, wrt)


def stop_gradient(x: Any) -> Any:
    """The value of ``x``, with derivative zero in every mode: what depends on ``x``
    through it is a constant to grad, vjp, jvp and jacobian."""
    return x


MODES = ("auto", "forward", "reverse")


class Jacobian:
    """``jacobian(f, wrt, mode)``: called like ``f``, returns the Jacobian of its
    array result with respect to the ``wrt`` parameter(s), of shape
    ``result.shape + parameter.shape`` (a tuple of them for a tuple ``wrt``).

    ``mode="forward"`` builds it from jvps, one per parameter element; ``"reverse"``
    from vjps, one per result element; ``"auto"`` takes the one with fewer passes."""

    def __init__(self, fn: Callable, wrt: Wrt = 0, mode: str = "auto") -> None:
        if mode not in MODES:
            raise AdCompileError(
                f"jacobian mode={mode!r}: choose one of {', '.join(MODES)}", def_loc(fn)
            )
        self.fn = fn
        self.mode = mode
        self.forward = JvpFunction(fn, wrt)
        self.wrt, self.single = self.forward.wrt, self.forward.single
        self._reverse = None
        self.__name__ = f"jacobian_{getattr(fn, '__name__', 'f')}"
        self.last_mode: str | None = None  # the mode the latest call used

    @property
    def reverse(self):
        if self._reverse is None:
            self._reverse = vjp(self.fn, wrt=tuple(self.wrt))
        return self._reverse

    @property
    def source(self) -> str:
        """The generated code the latest call ran (the jvp before any call)."""
        if self.last_mode == "reverse":
            return self.reverse.source
        return self.forward.source

    def show(self, *, console=None) -> None:
        from .show import show_source

        show_source(self.source, console=console)

    def __call__(self, *args: Any, **kwargs: Any):
        bound = self.forward.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = [bound.arguments[p] for p in self.forward.params]
        index = [self.forward.params.index(w) for w in self.wrt]
        inputs = [values[i] for i in index]
        for w, x in zip(self.wrt, inputs, strict=True):
            if not (isinstance(x, float | int | np.ndarray | np.generic)) or isinstance(x, bool):
                raise AdCompileError(
                    f"jacobian: the parameter {w!r} is a {type(x).__name__}; a Jacobian is "
                    "taken with respect to arrays and numbers",
                    def_loc(self.fn, w),
                    hint="use jvp (forward) or vjp (reverse) for containers",
                )
        y = self.fn(*values)
        if not isinstance(y, float | int | np.ndarray | np.generic):
            raise AdCompileError(
                f"jacobian: {self.fn.__name__} returns a {type(y).__name__}; a Jacobian is "
                "taken of an array or a number",
                def_loc(self.fn),
                hint="use jvp (forward) or vjp (reverse) for containers",
            )
        y_shape = np.shape(y)
        mode = self.mode
        if mode == "auto":
            passes_forward = sum(int(np.size(x)) for x in inputs)
            mode = "forward" if passes_forward <= int(np.size(y)) else "reverse"
        self.last_mode = mode
        if mode == "forward":
            blocks = self._forward(values, index, inputs, y_shape)
        else:
            blocks = self._reverse_jacobian(values, inputs, y, y_shape)
        return blocks[0] if self.single else tuple(blocks)

    def _forward(self, values, index, inputs, y_shape) -> list:
        zeros = [np.zeros(np.shape(x)) for x in inputs]
        blocks = []
        entry: tuple = ()
        for k, x in enumerate(inputs):
            shape = np.shape(x)
            columns = []
            for j in range(int(np.size(x))):
                unit = np.zeros(int(np.size(x)))
                unit[j] = 1.0
                tangents = list(zeros)
                tangents[k] = unit.reshape(shape) if shape else 1.0
                if j == 0 or entry[4].updates:  # checks the arguments, compiles
                    _, t = self.forward(*values, tangents[0] if self.single else tuple(tangents))
                    entry = self.forward._latest
                else:  # the same arguments, another direction: the generated code directly
                    _, t = entry[0](*values, *tangents)
                columns.append(np.broadcast_to(np.asarray(t, dtype=float), y_shape))
            block = np.stack(columns, axis=-1) if columns else np.zeros((*y_shape, 0))
            blocks.append(block.reshape(y_shape + shape))
        return blocks

    def _reverse_jacobian(self, values, inputs, y, y_shape) -> list:
        rows: list[list] = [[] for _ in inputs]
        for i in range(int(np.size(y))):
            unit = np.zeros(int(np.size(y)))
            unit[i] = 1.0
            cot = unit.reshape(y_shape) if y_shape else 1.0
            grads = self.reverse(*values, cot)
            for k, g in enumerate(grads):
                rows[k].append(np.asarray(g, dtype=float).reshape(np.shape(inputs[k])))
        return [
            np.stack(r).reshape(y_shape + np.shape(x)) if r else np.zeros(y_shape + np.shape(x))
            for r, x in zip(rows, inputs, strict=True)
        ]


def jacobian(fn: Callable | None = None, wrt: Wrt = 0, mode: str = "auto") -> Jacobian | Callable:
    """The Jacobian of ``fn`` (see :class:`Jacobian`); also a decorator."""
    if fn is None:
        return lambda f: Jacobian(f, wrt, mode)
    return Jacobian(fn, wrt, mode)


def _register() -> None:
    from .rules.record import CONSTANT
    from .rules.registry import nondiff

    stop_gradient.__module__ = "adcompile"  # its public spelling, in messages and docs
    nondiff(stop_gradient, derivative=CONSTANT, fresh=False)


_register()
