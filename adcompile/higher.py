"""Higher-order derivatives: differentiating generated code.

A generated gradient is plain Python over numpy and the helpers of
``adcompile.runtime``, each of which has rules of its own
(``rules/runtime_rules.py``). So it can be read back by the front end and
differentiated like a user's function:

- ``hvp(f)`` is the jvp of ``f``'s generated gradient (forward over reverse): one
  pass computes ``H @ v`` without forming ``H``; ``hessian(f)`` stacks one hvp per
  parameter element;
- ``grad(grad(f))`` and ``jvp(grad(f))`` differentiate the inner gradient's code;
- a call of a compiled gradient inside a differentiated function (a gradient
  penalty) is a call of its generated code, read as a helper of the user's.

The generated gradient is first rewritten into the accepted language
(``regenerate.py``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from . import records
from .api import Wrt, _check_function, _internal_errors, grad
from .errors import AdCompileError
from .forward import check_argument, gradient_like
from .frontend import def_loc
from .regenerate import compile_again, differentiable_function
from .rules.containers import LEAF, kind_has_record, kind_of
from .shapes import _shape_of_value

# ------------------------------------------------------------ hvp and hessian


class Hvp:
    """``hvp(f, wrt)``: called with ``f``'s arguments and then a vector shaped like the
    ``wrt`` parameter (a tuple of them for a tuple ``wrt``; a container parameter's has
    its structure), returns the Hessian of ``f`` times that vector, ``H @ v``, with the
    structure of the gradient. One generated forward-over-reverse pass: the jvp of
    ``f``'s generated gradient along ``v``; ``H`` is never formed. ``.source`` and
    ``.show()`` give that code."""

    def __init__(self, fn: Callable, wrt: Wrt = 0) -> None:
        _check_function(fn)
        self.fn = fn
        self.gradient = grad(fn, wrt)
        self.wrt, self.single = self.gradient.wrt, self.gradient.single
        inside = next((w for w in self.wrt if "[" in w), None)
        if inside is not None:
            star = inside.split("[")[0]
            raise AdCompileError(
                f"hvp and hessian take whole parameters, and wrt names {inside!r}, an "
                f"argument inside *{star}",
                def_loc(fn, star),
                hint=f"name the whole tuple (wrt={star!r}: the vector has its structure, "
                "zero where it should not move), or make the argument a parameter of its own",
            )
        self.params = self.gradient.params
        self.signature = inspect.signature(fn, follow_wrapped=False)
        self._plain = all(
            p.kind == p.POSITIONAL_OR_KEYWORD for p in self.signature.parameters.values()
        )
        self._jvps: dict[tuple | None, tuple[Callable, Any]] = {}
        self._latest: Any = None
        self.__name__ = f"hvp_{getattr(fn, '__name__', 'f')}"
        self.__qualname__ = self.__name__
        self.__doc__ = fn.__doc__

    def jvp_of_gradient(self, kinds: tuple | None = None, sig: tuple | None = None):
        """The jvp of the generated gradient for arguments of the structure ``kinds`` (and,
        for the first few shape signatures ``sig``, of those shapes: the gradient's code
        specialised to them, as ``grad`` runs it)."""
        from .forward import JvpFunction

        gfn = differentiable_function(self.gradient, kinds, sig, forward=True)
        found = self._jvps.get((kinds, sig))
        if found is None or found[0] is not gfn:
            wrt = self.wrt[0] if self.single else tuple(self.wrt)
            jvp = JvpFunction(gfn, wrt=wrt)
            jvp.arg_shapes = sig  # (the gradient's code is specialised to them too)
            found = (gfn, jvp)
            self._jvps[(kinds, sig)] = found
        return found[1]

    @property
    def source(self) -> str:
        """The generated hvp code: for the latest call's argument structure, or for
        array arguments before any call."""
        return self._text(self._latest or self.jvp_of_gradient(None))

    def _text(self, jvp) -> str:
        return hvp_text(jvp.source, self.fn.__name__, self.wrt)

    def show(self, *, console=None) -> None:
        """Print the generated code, highlighted."""
        from .show import show_source

        show_source(self.source, console=console)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args:
            raise AdCompileError(
                f"{self.__name__} takes {self.fn.__name__}'s arguments, then the vector",
                hint="call it as hvp_f(*args, v)",
            )
        n = len(self.wrt)
        if self.single or n == 1 or len(args) - len(self.params) != n:
            vector, rest = args[-1], args[:-1]
        else:
            vector, rest = tuple(args[-n:]), args[:-n]
        vectors = (vector,) if self.single else vector
        if not self.single and (not isinstance(vectors, tuple | list) or len(vectors) != n):
            raise AdCompileError(
                f"{self.__name__} needs {n} vectors (one per wrt parameter: "
                f"{', '.join(self.wrt)}), as a tuple",
                hint="call it as hvp_f(*args, (vx, vy))",
            )
        if not kwargs and self._plain and len(rest) == len(self.params):
            arguments = dict(zip(self.params, rest, strict=True))  # (binds as below)
        else:
            try:
                bound = self.signature.bind(*rest, **kwargs)
            except TypeError as exc:
                raise AdCompileError(
                    f"{self.__name__}: {exc}", hint="pass f's arguments, then the vector"
                ) from None
            bound.apply_defaults()
            arguments = bound.arguments
        values = [arguments[p] for p in self.params]
        kinds = tuple([kind_of(v) for v in values])
        has_record = kind_has_record(kinds)
        kinds = None if kinds.count(LEAF) == len(kinds) else kinds
        sig = tuple([_shape_signature(v) for v in values])
        if has_record:
            # namedtuples and dataclasses reach the code as plain tuples (see records.py)
            values = [records.plain(v) for v in values]
            vectors = tuple(records.plain(v) for v in vectors)
            plain = dict(zip(self.params, values, strict=True))
        else:
            plain = arguments
        for w, v in zip(self.wrt, vectors, strict=True):
            check_argument(self.fn, w, plain[w], v)
        jvp = self.jvp_of_gradient(kinds, sig)
        self._latest = jvp
        _, hv = jvp.run(values, vectors, kinds)
        return gradient_like(hv, self.gradient, arguments, has_record)

    def __repr__(self) -> str:
        return f"<hvp of {getattr(self.fn, '__qualname__', self.fn)} wrt {', '.join(self.wrt)}>"


def _shape_signature(a: Any) -> object:
    """What a gradient's code is specialised to for the argument ``a`` (as api's calls)."""
    if type(a) is np.ndarray:
        return a.shape
    if type(a) is float:
        return float
    return _shape_of_value(a)


def hvp_text(text: str, name: str, wrt: list[str]) -> str:
    """The jvp of the generated gradient of ``name``, named as its hvp: ``hvp_f``, whose
    vector parameters are ``v`` and the parameter's name (``vW`` for ``W``)."""
    text = text.replace(f"def jvp_grad_{name}(", f"def hvp_{name}(", 1)
    text = text.replace(f"from grad_{name};", f"from {name} (the tangent of its gradient);", 1)
    # (second-order code is not exported: it is read, or run through ad.hvp)
    text = re.sub(r"^# \.export\(\) writes it as a module.*\n", "", text, count=1, flags=re.M)
    start = text.find(f"def hvp_{name}(")
    end = text.find("\ndef ", start + 1)
    end = len(text) if end < 0 else end
    body = text[start:end]
    header = body[: body.index(")")]
    params = [p.strip() for p in header[header.index("(") + 1 :].split(",")]
    for old, param in zip(params[len(params) - len(wrt) :], wrt, strict=True):
        new = f"v{param}"
        if re.search(rf"\b{re.escape(new)}\b", text) is None:
            body = re.sub(rf"\b{re.escape(old)}\b", new, body)
    return text[:start] + body + text[end:]


def static_hvp(src: Any, gen: Any, names: list[str]) -> tuple[str, Any]:
    """The hvp code of a function read from a file (``adcompile show --mode hvp``), from
    its generated gradient ``gen``: (source, GeneratedJvp)."""
    from . import pipeline
    from .api import build_jvp

    with _internal_errors(src.name, src.loc(src.node)):
        fn = compile_again(gen, f"grad {src.qualname}", names, src.loc(src.node), forward=True)
        inner = pipeline.read(fn)
    source, _, jvp_gen = build_jvp(inner, names)
    return hvp_text(source, src.name, names), jvp_gen


def hvp(fn: Callable | None = None, wrt: Wrt = 0) -> Hvp | Callable:
    """The Hessian-vector product of the scalar function ``fn``: ``hvp(f, wrt)(*args, v)``
    is ``H @ v`` (see :class:`Hvp`). Also a decorator."""
    if fn is None:
        return lambda f: Hvp(f, wrt)
    return Hvp(fn, wrt)


class Hessian:
    """``hessian(f, wrt)``: called like ``f`` (a scalar function), returns its Hessian
    with respect to the ``wrt`` parameter, of shape ``param.shape + param.shape``; for a
    tuple ``wrt``, the blocks ``H[i][j]`` of shape ``shape_i + shape_j``, as a tuple of
    tuples. Built from one hvp per parameter element (forward over reverse)."""

    def __init__(self, fn: Callable, wrt: Wrt = 0) -> None:
        self.fn = fn
        self.hvp = Hvp(fn, wrt)
        self.wrt, self.single = self.hvp.wrt, self.hvp.single
        self.__name__ = f"hessian_{getattr(fn, '__name__', 'f')}"

    @property
    def source(self) -> str:
        """The generated hvp code each column comes from."""
        return self.hvp.source

    def show(self, *, console=None) -> None:
        self.hvp.show(console=console)

    def __call__(self, *args: Any, **kwargs: Any):
        bound = self.hvp.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        inputs = [bound.arguments[w] for w in self.wrt]
        for w, x in zip(self.wrt, inputs, strict=True):
            if not isinstance(x, float | np.ndarray | np.floating) or isinstance(x, bool):
                raise AdCompileError(
                    f"hessian: the parameter {w!r} is a {type(x).__name__}; a Hessian is "
                    "taken with respect to float arrays and numbers",
                    def_loc(self.fn, w),
                    hint="use hvp for containers: it takes a vector of the parameter's structure",
                )
        zeros = [np.zeros(np.shape(x)) for x in inputs]
        rows: list[list[list]] = [[[] for _ in inputs] for _ in inputs]
        for k, x in enumerate(inputs):
            shape = np.shape(x)
            for j in range(int(np.size(x))):
                unit = np.zeros(int(np.size(x)))
                unit[j] = 1.0
                vectors = list(zeros)
                vectors[k] = unit.reshape(shape) if shape else 1.0
                v = vectors[0] if self.single else tuple(vectors)
                hv = self.hvp(*args, v, **kwargs)
                hv = (hv,) if self.single else hv
                for i, block in enumerate(hv):
                    rows[i][k].append(np.asarray(block, dtype=float))
        blocks = []
        for i, xi in enumerate(inputs):
            row = []
            for k, xk in enumerate(inputs):
                si, sk = np.shape(xi), np.shape(xk)
                cols = rows[i][k]
                block = np.stack(cols, axis=-1) if cols else np.zeros((*si, 0))
                row.append(block.reshape(si + sk))
            blocks.append(tuple(row))
        return blocks[0][0] if self.single else tuple(blocks)


def hessian(fn: Callable | None = None, wrt: Wrt = 0) -> Hessian | Callable:
    """The Hessian of the scalar function ``fn`` (see :class:`Hessian`); also a decorator."""
    if fn is None:
        return lambda f: Hessian(f, wrt)
    return Hessian(fn, wrt)


__all__ = ["Hessian", "Hvp", "differentiable_function", "hessian", "hvp"]
