"""Containers of arrays: lists, tuples and dicts ("parameter trees").

A value's *kind* is its structure (a leaf, or a list, tuple or dict of kinds),
which normalization tracks for every name. A container's adjoint has the
container's structure, with ``None`` standing for a zero leaf; tuples' adjoints
are lists while they are being built. The primitives here (``c[k]``, list and
tuple displays, append, ``sum``) are structural: they have no template, and the
reverse stage writes their adjoints directly (``reverse/rules.py``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

# Kinds: what the compiler knows about a value's structure.
LEAF = "leaf"  # an array or a number
# The element kind of a list with no element yet (``xs = []``): what the first
# ``xs.append(v)`` puts in decides it. An element read from such a list (which
# fails in Python, unless a later iteration of a loop appends to it first) is
# of kind EMPTY too, which the normalizer reads as a leaf, and unpacks into more
# of the same.
EMPTY = "empty"


class Fields(tuple):
    """The kinds of a record's fields, with their names and the record's type: a
    namedtuple, or a dataclass instance, is a tuple of its fields whose elements are
    also read by name (``p.W`` is ``p[0]``). A dataclass reaches the generated code as
    the plain tuple of its fields (``records.plain``); its gradient is made a dataclass
    again (``records.restore``)."""

    names: tuple[str, ...]
    record: type

    def __new__(cls, kinds: tuple, names: tuple[str, ...], record: type) -> Fields:
        made = super().__new__(cls, kinds)
        made.names, made.record = names, record
        return made

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Fields)
            and tuple.__eq__(self, other)
            and self.names == other.names
            and self.record is other.record
        )

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((tuple(self), self.names, id(self.record)))

    def __repr__(self) -> str:
        return f"{self.record.__name__}{tuple(self)!r}"


def record_fields(value: object) -> tuple[str, ...] | None:
    """The field names of a namedtuple or a dataclass instance; None for other values."""
    t = type(value)
    if issubclass(t, tuple) and isinstance(getattr(t, "_fields", None), tuple):
        return t._fields
    params = getattr(t, "__dataclass_fields__", None)
    if isinstance(params, dict) and not isinstance(value, type):
        return tuple(f.name for f in dataclasses.fields(value) if f.init)
    return None


def kind_of(value: object) -> object:
    """The structure of a runtime value, without lengths of lists. A namedtuple or a
    dataclass instance is a tuple of its fields' kinds (``Fields``). A function (a numpy
    function, a user function, a ``functools.partial``) passed as a value is of the kind
    ``("function", f)``: code is compiled for the function it is, as for a structure."""
    t = type(value)
    if t is np.ndarray or t is float:
        return LEAF  # (the common case first)
    if t is tuple:  # (a plain tuple or list is no record: no need to look for fields)
        return ("tuple", tuple([LEAF if type(v) is np.ndarray else kind_of(v) for v in value]))
    if t is list:
        return _list_kind(value)
    if getattr(t, "function_value", False):  # (a dataclass, but not a record)
        return (FUNCTION, value)
    names = record_fields(value)
    if names is not None:
        kinds = tuple(kind_of(getattr(value, n)) for n in names)
        return ("tuple", Fields(kinds, names, type(value)))
    if isinstance(value, list):
        return _list_kind(value)
    if isinstance(value, tuple):
        return ("tuple", tuple([LEAF if type(v) is np.ndarray else kind_of(v) for v in value]))
    if isinstance(value, dict):
        return ("dict", tuple((k, kind_of(v)) for k, v in value.items()))
    if is_function_value(value):
        return (FUNCTION, value)
    return LEAF


def _list_kind(value: list) -> object:
    kinds = [LEAF if type(v) is np.ndarray else kind_of(v) for v in value]
    if kinds and kinds.count(kinds[0]) != len(kinds):
        return ("tuple", tuple(kinds))
    return ("list", kinds[0] if kinds else LEAF)


def kind_has_record(kind: object) -> bool:
    """Whether a value of ``kind`` (see :func:`kind_of`) is a record or holds one: what
    ``records.has_record`` says of the value, read off its kind without walking it."""
    try:
        return _RECORD_KINDS[kind]
    except (KeyError, TypeError):  # (TypeError: a kind holding an unhashable function)
        found = _has_fields(kind)
    if len(_RECORD_KINDS) < 256:
        try:
            _RECORD_KINDS[kind] = found
        except TypeError:
            pass
    return found


_RECORD_KINDS: dict[object, bool] = {}


def _has_fields(kind: object) -> bool:
    if isinstance(kind, Fields):
        return True
    if type(kind) is not tuple or (kind and kind[0] == FUNCTION):
        return False
    return any(_has_fields(k) for k in kind)


FUNCTION = "function"


def is_function_value(value: object) -> bool:
    """A function passed as a value (not an array, a number or a class); a function of a
    file read without running it (``frontend.StaticFunction``) too."""
    if getattr(type(value), "function_value", False):
        return True
    return callable(value) and not isinstance(value, type) and not hasattr(value, "__array__")


def function_of(kind: object) -> object | None:
    """The function a value of ``kind`` is, or None when it is not a function."""
    if isinstance(kind, tuple) and kind[0] == FUNCTION:
        return kind[1]
    return None


# A variable holding one of several functions, chosen by a condition the code computes
# (``act = np.tanh if flag else np.sin``): ``("choice", (test, yes, no))``, ``test`` the
# name of the condition's atom and ``yes``/``no`` the kinds (functions, or choices) of
# its two values. A call of it, or a call passing it, is an ``if`` on that condition
# with a call of each function (normalize/usercalls.py).
CHOICE = "choice"


def choice_of(kind: object) -> tuple | None:
    """(test, kind if true, kind if false) of a choice between functions, else None."""
    if isinstance(kind, tuple) and kind and kind[0] == CHOICE:
        return kind[1]
    return None


def is_function_kind(kind: object) -> bool:
    """Whether a value of ``kind`` is a function: one known, or one chosen by a condition."""
    return function_of(kind) is not None or choice_of(kind) is not None


def is_container(kind: object) -> bool:
    return kind != LEAF and not is_function_kind(kind)


def element_kind(kind: object, index: object, *, constant: bool) -> object:
    """The kind of ``c[index]`` for a container of ``kind``; None when it cannot be known."""
    tag, inner = kind
    if tag == "list":
        return inner
    if tag == "tuple":
        if constant and isinstance(index, int) and -len(inner) <= index < len(inner):
            return inner[index]
        if inner and all(k == inner[0] for k in inner):
            return inner[0]
        if not inner:  # an element of (): never read (a loop over it runs no step)
            return LEAF
        return None
    if tag == "dict":
        if not constant:
            kinds = [k for _, k in inner]
            return kinds[0] if kinds and all(k == kinds[0] for k in kinds) else None
        for key, k in inner:
            if key == index:
                return k
        return None
    return None


def join_kinds(kinds: list[object]) -> object:
    """The kind of a value that is any one of values of ``kinds`` (a variable after an
    ``if``, a list after appends); None when they differ in structure. A list with no
    element yet joins with a list of any elements."""
    if not kinds:
        return None
    out = kinds[0]
    for k in kinds[1:]:
        out = _join(out, k)
        if out is None:
            return None
    return out


def _join(a: object, b: object) -> object:
    if a == b:
        return a
    if a == EMPTY:
        return b
    if b == EMPTY:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "list":
        inner = _join(a[1], b[1])
        return None if inner is None else ("list", inner)
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "tuple":
        if len(a[1]) != len(b[1]):
            return None
        inner = [_join(x, y) for x, y in zip(a[1], b[1], strict=True)]
        return None if None in inner else ("tuple", tuple(inner))
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "dict":
        if [k for k, _ in a[1]] != [k for k, _ in b[1]]:
            return None
        inner = [_join(x, y) for (_, x), (_, y) in zip(a[1], b[1], strict=True)]
        return (
            None
            if None in inner
            else ("dict", tuple(zip([k for k, _ in a[1]], inner, strict=True)))
        )
    return None


@dataclass(frozen=True)
class ContainerPrim:
    """A structural primitive on containers."""

    name: str

    def differentiable(self, param: str) -> bool:
        return param != "index"

    def __repr__(self) -> str:
        return f"<container {self.name}>"


@dataclass(frozen=True)
class BuildDict(ContainerPrim):
    """A dict display ``{k0: e0, k1: e1, ...}`` with constant keys: operands e0, e1, ..."""

    keys: tuple = ()


def build_dict(keys: tuple) -> BuildDict:
    return BuildDict("dict", tuple(keys))


GET = ContainerPrim("getitem")  # operands: c, index
BUILD_LIST = ContainerPrim("list")  # operands: e0, e1, ...
BUILD_TUPLE = ContainerPrim("tuple")  # operands: e0, e1, ...
APPEND = ContainerPrim("append")  # operands: c, x
SUM = ContainerPrim("sum")  # operands: c
# x[index] = v on an array the function owns: operands x (the array before), index, v.
# Its result is the array after; the forward sweep writes into x's memory where the
# values it overwrites are not read again (reverse/forward.py), and the reverse
# sweep zeroes the written part of the adjoint in place (reverse/rules.py).
SETITEM = ContainerPrim("setitem")
