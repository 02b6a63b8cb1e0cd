"""The hints of refusals: what to write instead of a builtin, an array method, a
keyword a rule does not take, a container used as an array, or a call of a
function with no rule (``BUILTIN_HINTS``, ``METHOD_HINTS``, ``_no_rule``)."""

from __future__ import annotations

import builtins
import functools
import types

import numpy as np

from .. import fence, rules
from ..names import (
    METHODS,
    is_user_function,
)
from ..rules import registry
from ..rules.registry import primitive_name
from .common import (
    _canonical,
)


def _keyword_hint(keyword: str, rule) -> str:
    """What to do about a keyword argument that ``rule`` does not take."""
    supported = f"its rule takes {', '.join(rule.params)}"
    if keyword == "out":
        return f"assign the result instead of passing out= (y = {rule.name}(...)); {supported}"
    if keyword == "where":
        return (
            f"select first instead: {rule.name}(np.where(mask, x, neutral)), with a value "
            f"that does not change the result (0.0 for a sum); {supported}"
        )
    if keyword == "dtype":
        return f"convert the input before calling the gradient instead; {supported}"
    return f"leave {keyword}= out; {supported}"


def _container_hint(text: str, kind: str, parameter: bool) -> str:
    """What to do with a list, tuple or dict (written ``text``) where an array is needed."""
    if kind == "dict":
        return f"index its elements ({text}[...])"
    hint = f"make one array of it first: np.stack({text}), or index its elements"
    if parameter:
        hint += f"; or pass it in as an array (np.asarray({text}) before the call)"
    return hint


# What to write instead of a builtin that has no rule. Each hint is about what that
# builtin does; a builtin with no numeric meaning is told to stay outside.
BUILTIN_HINTS: dict[str, str] = {
    "range": "range() is supported as the iterable of a for loop (for i in range(n)); "
    "for an array of numbers use np.arange(n)",
    "zip": "zip() is supported as the iterable of a for loop: for a, b in zip(xs, ys): ...",
    "enumerate": "enumerate() is supported as the iterable of a for loop: "
    "for i, x in enumerate(xs): ...",
    "max": "max(a, b, ...) of numbers written out is supported (or of a list display: "
    "max([a, b, c])); for the largest element of an array use np.max(x)",
    "min": "min(a, b, ...) of numbers written out is supported (or of a list display: "
    "min([a, b, c])); for the smallest element of an array use np.min(x)",
    "pow": "write a ** b",
    "divmod": "write a // b and a % b",
    "reversed": "index backwards instead: xs[::-1]",
    "map": "consume it whole where it is made (sum(map(f, xs)), list(map(f, xs))), write "
    "a for loop, or call the function on the whole array",
    "filter": "write a for loop with an if, or select with np.where",
    "list": "write the list out ([a, b, c]), or keep the array as it is",
    "tuple": "write the tuple out: (a, b, c)",
    "dict": "build dicts outside the differentiated function and pass them in as arguments",
    "complex": fence.COMPLEX_HINT,
    "any": "for an array, np.any(x)",
    "all": "for an array, np.all(x)",
    "iter": "write a for loop over the sequence",
    "next": "write a for loop over the sequence, or index it",
}


OUTSIDE_HINT = (
    "compute it outside the differentiated function and pass the result in as an argument"
)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _short_repr(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind_of_object(obj: object) -> str:
    if isinstance(obj, type):
        return "a class"
    if isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
        return f"the function {obj.__name__}"
    return f"{_article(type(obj).__name__)} {type(obj).__name__} object"


def _no_rule(obj: object, label: str) -> tuple[str, str]:
    """(reason, hint) for a call of ``obj`` (written ``label``), which has no rule."""
    name = getattr(obj, "__name__", "")
    if getattr(builtins, name, None) is obj:
        return f"the builtin {label}() is not supported here", BUILTIN_HINTS.get(name, OUTSIDE_HINT)
    if isinstance(obj, functools.partial):
        inner = getattr(obj.func, "__name__", "the function")
        given = [repr(a) for a in obj.args] + [f"{k}={v!r}" for k, v in obj.keywords.items()]
        return (
            f"{label} is a functools.partial of {inner}, not a function defined with def",
            f"write it with def: def {label}(x): return {inner}(x, {', '.join(given)}) "
            "(with the parameters it needs)",
        )
    wrapped = getattr(obj, "__wrapped__", None)
    if is_user_function(wrapped):
        wrapper = f"{type(obj).__module__}.{type(obj).__qualname__}"
        return (
            f"{label} is a decorated function (a {wrapper} around "
            f"{wrapped.__module__}.{wrapped.__qualname__}), not a plain def",
            f"call the undecorated function (keep it as a plain def under its own name), "
            f"or register an adjoint rule for {label}: see docs/custom-rules.md",
        )
    if isinstance(obj, type) and issubclass(obj, np.generic):
        return (
            f"{label}(...) makes a numpy scalar, which is not supported here",
            "write the number as a Python float (2.0 or float(x)), or make arrays of that "
            "dtype outside and pass them in",
        )
    if isinstance(obj, type):
        return (
            f"creating a {label} object is not supported in a differentiated function",
            "create it outside and pass the arrays it holds in as arguments",
        )
    refused = registry.refusal(_canonical(obj))
    if refused is not None:  # refused by name, with the reason (numpy.fft)
        return f"{label}: {refused[0]}", refused[1]
    what = primitive_name(obj)
    named = label if label == what else f"{label} ({what})"
    reason = f"{named} has no adjoint rule"
    return reason, f"register one with @adcompile.adjoint({label}), see docs/custom-rules.md"


# Methods that mean something other than a numpy function: what to write instead
METHOD_HINTS: dict[str, str] = {
    "item": "x.item() without arguments is supported (the number a one-element array "
    "holds); index first for another element: x[i, j]",
    "tolist": "keep the array, and index it (x[i]) for its elements",
    "pop": "index and slice the list instead: last = xs[-1]; xs = xs[:-1]",
    "extend": "concatenate the lists instead: xs = xs + ys",
}


def _method_hint(name: str) -> str:
    """What to write instead of the array method ``.name()``, which is not supported."""
    if name in METHOD_HINTS:
        return METHOD_HINTS[name]
    fn = getattr(np, name, None)
    if callable(fn) and not isinstance(fn, type):
        if rules.lookup(_canonical(fn)) is not None or rules.is_nondiff(fn):
            return f"write the numpy function: np.{name}(x, ...)"
        return (
            f"np.{name} has no adjoint rule either: register one with "
            f"@adcompile.adjoint(np.{name}) (see docs/custom-rules.md), then write "
            f"np.{name}(x, ...)"
        )
    methods = ", ".join(f".{m}()" for m in METHODS)
    return f"the supported array methods are {methods}; see docs/language.md"
