"""Names: the small facts of the accepted language, and the one resolver of free names.

Both ``normalize`` (which lowers the function) and ``inplace`` (which decides who
owns an array) need to know what a name in the user's code means and what an
operator, a method or an attribute stands for. They read it here, so neither
imports the other.

:class:`Resolver` maps a free name, or a dotted name of module attributes, to the
object it means. It is made once per function in a compilation and shared by the
passes that read it: a name is looked up once (``SourceFunction.lookup``, which
records a guard, see ``frontend.py``), and a module attribute is read through
``frontend.module_attribute``, which records one too.
"""

from __future__ import annotations

import ast
import random
import types

import numpy as np

from . import rules
from .errors import AdCompileError
from .frontend import (
    Computed,
    SourceFunction,
    StaticFunction,
    Unresolved,
    is_library_function,
    is_user_object,
    module_attribute,
    object_attribute,
)
from .rules import registry

BINOPS: dict[type, object] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.MatMult: np.matmul,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.BitAnd: np.bitwise_and,
    ast.BitOr: np.bitwise_or,
    ast.BitXor: np.bitwise_xor,
    ast.LShift: np.left_shift,
    ast.RShift: np.right_shift,
}
UNARYOPS: dict[type, object] = {
    ast.USub: np.negative,
    ast.UAdd: np.positive,
    ast.Not: np.logical_not,
    ast.Invert: np.invert,
}

# Spellings of a primitive that share its rule (``abs``, ``operator.add``, ``np.amax``):
# alias id -> the canonical function, from the primitive records (rules/).
ALIASES: dict[int, object] = registry.ALIASES

# Builtins that compute something with no derivative.
CONSTANT_BUILTINS = {len, int, bool, round, isinstance, range}

# Array methods and the numpy function each one means. ``pack`` collects
# varargs (``x.reshape(2, 3)``) into the function's single parameter.
METHODS: dict[str, tuple[object, str | None]] = {
    "sum": (np.sum, None),
    "mean": (np.mean, None),
    "max": (np.max, None),
    "min": (np.min, None),
    "prod": (np.prod, None),
    "var": (np.var, None),
    "std": (np.std, None),
    "dot": (np.dot, None),
    "reshape": (np.reshape, "shape"),
    "transpose": (np.transpose, "axes"),
    "ravel": (np.ravel, None),
    "flatten": (np.ravel, None),
    "squeeze": (np.squeeze, None),
    "swapaxes": (np.swapaxes, None),
    "clip": (np.clip, None),
    "argmax": (np.argmax, None),
    "argmin": (np.argmin, None),
    "argsort": (np.argsort, None),
    "any": (np.any, None),
    "all": (np.all, None),
    "copy": (np.copy, None),
    "cumsum": (np.cumsum, None),
    "cumprod": (np.cumprod, None),
    "diagonal": (np.diagonal, None),
    "trace": (np.trace, None),
    "repeat": (np.repeat, None),
    "astype": (np.ndarray.astype, None),
}
CONSTANT_ATTRIBUTES = {"shape", "ndim", "size", "dtype"}

NUMERIC = (int, float, complex, np.ndarray, np.generic)

# Random number generators: a call of one of their methods (``rs.randn(3)``,
# ``rng.normal(size=n)``, ``np.random.uniform()``, which is a method of numpy's global
# RandomState) is a *draw*: a value with no derivative, computed once where the
# function computes it (see normalize/effects.py).
# Python's random module is alike: its functions are methods of a hidden random.Random,
# and random.Random(seed) makes another.
RANDOM_TYPES = (np.random.RandomState, np.random.Generator, random.Random)
# the methods that draw (those of ndarray: none), and those refused: ``shuffle``
# (and ``out=``) writes into an array; the others read or change the generator's state
RANDOM_METHODS = frozenset(
    n for t in RANDOM_TYPES for n in dir(t) if not n.startswith("_") and n != "bit_generator"
)
RANDOM_REFUSED = frozenset({"shuffle"})
# making a generator (np.random.default_rng(0)) is kept like a draw: once, in order
RANDOM_MAKERS = frozenset({"RandomState", "default_rng", "Generator", "Random"})


# numpy.random's functions (np.random.seed is one, np.random.randn a method of a global)
# and random's (random.gauss is a method of its hidden generator, random.Random a class)
_RANDOM_FUNCTIONS = {
    id(getattr(module, n))
    for module in (np.random, random)
    for n in RANDOM_METHODS | RANDOM_MAKERS
    if hasattr(module, n) and callable(getattr(module, n))
}


def is_random_draw(obj: object) -> bool:
    """Whether ``obj`` is a method of a random number generator (see RANDOM_TYPES) or
    one of numpy.random's functions."""
    if id(obj) in _RANDOM_FUNCTIONS:
        return True
    return isinstance(getattr(obj, "__self__", None), RANDOM_TYPES) and callable(obj)


def is_helper(obj: object) -> bool:
    """Whether a call of ``obj`` is a call of another user function, differentiated
    through its own generated pullback (no adjoint rule is registered for it)."""
    return (
        (isinstance(obj, StaticFunction) or is_user_function(obj))
        and rules.lookup(obj) is None
        and not rules.is_nondiff(obj)  # (stop_gradient: a record without derivative)
        and rules.registry.refusal(obj) is None  # (a runtime helper without rules)
    )


def is_compiled_gradient(obj: object) -> bool:
    """A ``grad(f)`` object: a call of it is a call of its generated code, which is
    differentiated like a user function (higher-order derivatives, see higher.py)."""
    return getattr(type(obj), "compiled_gradient", False) and getattr(obj, "mode", None) == "grad"


def is_user_function(obj: object) -> bool:
    """A function of the user's own files (not of numpy, scipy, the standard library or
    another installed package: those are primitives, see frontend.is_library_function)."""
    if isinstance(obj, types.MethodType) and is_user_object(obj.__self__):
        obj = obj.__func__  # a method of a user object (self.forward): self is bound
    return isinstance(obj, types.FunctionType) and (
        not is_library_function(obj) or rules.bodies.is_definition(obj)
    )


class Resolver:
    """What the free names of one function mean.

    ``local`` is the set of the function's own variables (shared with the caller,
    which may add names); a local never resolves. ``static_object`` is strict (a
    name the frontend could not bind, or a missing module attribute, is a located
    error); ``find`` is lenient (None for anything it cannot tell)."""

    def __init__(self, src: SourceFunction, local: set[str] | None = None) -> None:
        self.src = src
        self.local = set(src.variables) if local is None else local
        self.found: dict[str, object] = {}  # free name -> what the frontend bound it to

    def lookup(self, ident: str) -> object:
        """The object (or ``Unresolved``) the free name ``ident`` means; looked up once.
        In a runtime function that is its own definition (``rules/bodies.py``), a helper
        with a definition means that definition."""
        if ident not in self.found:
            obj = self.src.lookup(ident)
            if rules.bodies.reads_definitions(self.src.function):
                obj = rules.bodies.definition(obj) or obj
            self.found[ident] = obj
        return self.found[ident]

    def resolve(self, ident: str, node: ast.AST) -> object:
        """The object ``ident`` means; a located error if the frontend could not bind it."""
        obj = self.lookup(ident)
        if isinstance(obj, Unresolved):
            if "import" in obj.reason or "running" in obj.reason or "computed" in obj.reason:
                raise AdCompileError(
                    f"cannot resolve {ident!r} without running the file: {obj.reason}",
                    self.src.loc(node),
                    hint="differentiate the function from Python (adcompile.grad) instead, "
                    "or use numpy names only",
                )
            raise AdCompileError(
                f"name {ident!r} is not defined",
                self.src.loc(node),
                hint="define it at module level, import it, or pass it in as a parameter",
            )
        return obj

    def static_object(self, node: ast.expr) -> object | None:
        """The object a dotted name of module attributes means, or None (a local, or
        not a dotted name); a located error for a name or attribute that is not there."""
        if isinstance(node, ast.Name):
            if node.id in self.local:
                return None
            return self.resolve(node.id, node)
        if isinstance(node, ast.Attribute):
            base = self.static_object(node.value)
            if isinstance(base, types.ModuleType):
                if not hasattr(base, node.attr):
                    raise AdCompileError(
                        f"module {base.__name__} has no attribute {node.attr!r}",
                        self.src.loc(node),
                        hint="see docs/language.md for the Python and numpy adcompile "
                        "differentiates",
                    )
                return module_attribute(base, node.attr)
            if isinstance(base, RANDOM_TYPES) and node.attr in RANDOM_METHODS:
                return getattr(base, node.attr)  # (a draw: see RANDOM_TYPES)
            if is_user_object(base):  # self.scale, self.forward: see frontend.py
                return object_attribute(base, node.attr)
            if base is not None and not isinstance(base, (*NUMERIC, Unresolved, StaticFunction)):
                # a method of an object with a rule (scipy.stats.norm.logpdf)
                method = registry.bound_method(base, node.attr)
                if method is None:
                    rules.load_optional()  # (its library's rules, if imported since)
                    method = registry.bound_method(base, node.attr)
                return method
        return None

    def find(self, node: ast.expr) -> object:
        """Like ``static_object``, but None for anything it cannot tell."""
        if isinstance(node, ast.Name):
            if node.id in self.local:
                return None
            obj = self.lookup(node.id)
            return None if isinstance(obj, Unresolved) else obj
        if isinstance(node, ast.Attribute):
            base = self.find(node.value)
            if isinstance(base, types.ModuleType) and hasattr(base, node.attr):
                return module_attribute(base, node.attr)
            if is_user_object(base):
                value = object_attribute(base, node.attr)
                return None if isinstance(value, Unresolved | Computed) else value
        return None
