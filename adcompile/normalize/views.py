"""Loops over sequences whose elements are known when compiling: a dict (its
keys), its ``.keys()``, ``.values()`` and ``.items()`` (a dict's keys are part of the
structure the code is compiled for, in insertion order), ``sorted(...)`` of keys or
constants, and lists of strings or of ``slice`` objects.

A ``for`` over such a sequence (directly, or inside ``enumerate``, ``zip`` and
``reversed``) is unrolled: its body is lowered once per element, in order, with the
loop's targets bound to that element, so a key is a constant in the body
(``g[k]`` reads one element of ``g``) and elements of different structures are
allowed. Comprehensions are loops (``desugar/comprehensions.py``), so
``{k: v - lr * g[k] for k, v in params.items()}`` and
``sum(np.sum(w ** 2) for w in params.values())`` are unrolled the same way; a dict
comprehension builds its dict with ``|`` one key at a time, which is a dict display
here (``known.py``'s ``dict_union``)."""

from __future__ import annotations

import ast
import operator

from ..rules import containers
from ..rules.containers import LEAF
from .common import _copy_atom, _is_call_of
from .kinds import _described

VIEWS = ("items", "keys", "values")
SORTED_HINT = (
    "sort what is known when compiling: a dict's keys (for k in sorted(d)), its items by "
    "key (sorted(d.items())), or a list of constants; sort an array of numbers with np.sort"
)


class _Unknown:
    """A part of a sort key that is known only when the function runs."""


UNKNOWN = _Unknown()


class Views:
    """A part of ``Normalizer``: the elements of sequences known when compiling,
    ``sorted`` of them, and the loops over them, unrolled."""

    # ------------------------------------------------------------ recognising

    def is_view_call(self, node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in VIEWS
            and not node.args
            and not node.keywords
            and not self.is_namespace(node.func.value)
        )

    def static_leaf(self, node: ast.expr) -> bool:
        """Whether iterating over ``node`` goes over elements known when compiling (said
        from the syntax and the kinds, without lowering anything)."""
        if self.is_view_call(node) or _is_call_of(node, "sorted", self):
            return True
        if isinstance(node, ast.List | ast.Tuple):
            return any(self.static_constant(e) for e in node.elts)
        if isinstance(node, ast.Name) and node.id in self.locals and node.id in self.env:
            atom = self.env[node.id]
            kind = self.kind(atom)
            if kind != LEAF and kind[0] == "dict":
                return True
            parts = self.sequence_of(atom)
            return parts is not None and any(self.static_atom(a) for a in parts)
        return False

    def static_constant(self, node: ast.expr) -> bool:
        """A string constant (a key) or a ``slice(...)`` call, in a list display."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        return _is_call_of(node, "slice", self)

    def static_atom(self, atom: ast.expr) -> bool:
        if isinstance(atom, ast.Constant):
            return isinstance(atom.value, str)
        return isinstance(atom, ast.Name) and atom.id in self.slices

    def has_static_leaf(self, node: ast.expr) -> bool:
        if _is_call_of(node, "enumerate", self) and node.args:
            return self.has_static_leaf(node.args[0])
        if _is_call_of(node, "zip", self) or _is_call_of(node, "reversed", self):
            return any(self.has_static_leaf(a) for a in node.args)
        return self.static_leaf(node)

    # ------------------------------------------------------------ elements

    def held(self, atom: ast.expr, spelled: ast.AST) -> ast.expr:
        """A name for ``atom`` that the loop body cannot rebind (the value as it is now)."""
        if isinstance(atom, ast.Constant):
            return atom
        key = f"<held {len(self.locals)}>"
        self.env[key] = atom
        self.locals.add(key)
        if isinstance(atom, ast.Name) and atom.id not in self.spelling:
            self.spelling[atom.id] = spelled
        return ast.Name(id=key, ctx=ast.Load())

    def iteration_elements(self, node: ast.expr) -> list[ast.expr]:
        """The elements iterating over ``node`` gives, as expressions to bind to the
        loop's targets (``has_static_leaf(node)`` holds)."""
        if _is_call_of(node, "enumerate", self):
            starts = node.args[1:] + [k.value for k in node.keywords if k.arg == "start"]
            if (
                not 1 <= len(node.args) <= 2
                or any(k.arg != "start" for k in node.keywords)
                or len(starts) > 1
            ):
                raise self.error("enumerate() takes one sequence and a start", node)
            start = 0
            for value in starts:
                if not (isinstance(value, ast.Constant) and type(value.value) is int):
                    raise self.error(
                        "enumerate()'s start must be an int constant here",
                        value,
                        hint="enumerate(xs, start=1)",
                    )
                start = value.value
            elements = self.iteration_elements(node.args[0])
            return [
                ast.Tuple(elts=[ast.Constant(start + i), e], ctx=ast.Load())
                for i, e in enumerate(elements)
            ]
        if _is_call_of(node, "zip", self):
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise self.error("zip() takes the sequences one by one here", node)
            parts = [self.zipped_elements(a) for a in node.args]
            n = min(len(p) for p in parts) if parts else 0
            return [ast.Tuple(elts=[p[i] for p in parts], ctx=ast.Load()) for i in range(n)]
        if _is_call_of(node, "reversed", self):
            if len(node.args) != 1 or node.keywords:
                raise self.error("reversed() takes one sequence", node)
            inner = node.args[0]
            if any(_is_call_of(inner, f, self) for f in ("zip", "enumerate", "reversed")):
                raise self.error(  # (Python cannot reverse their iterators either)
                    "reversed() of zip(), enumerate() or reversed() is not supported",
                    node,
                    hint="reverse each sequence instead: zip(reversed(xs), reversed(ys))",
                )
            return list(reversed(self.iteration_elements(inner)))
        return self.static_elements(node)

    def zipped_elements(self, node: ast.expr) -> list[ast.expr]:
        """The elements of a sequence zipped with one known when compiling: known too, or
        a tuple's (whose length the structure tells), read at constant positions."""
        if self.has_static_leaf(node):
            return self.iteration_elements(node)
        atom = self.atom(node, "zipped")
        parts = self.sequence_of(atom)
        if parts is not None:
            return [self.held(a, node) for a in parts]
        kind = self.kind(atom)
        if kind != LEAF and kind[0] == "tuple":
            holder = self.held(atom, node)
            return [
                ast.Subscript(value=_copy_atom(holder), slice=ast.Constant(i), ctx=ast.Load())
                for i in range(len(kind[1]))
            ]
        text = self.src.text_of(node)
        raise self.error(
            f"{text} is {_described(kind, one=True)}, whose length is known only when the "
            "function runs: it cannot be zipped with a dict's keys, values or items, which "
            "are known when compiling",
            node,
            hint="zip dict views with each other (zip(d.keys(), g.values())), or index by "
            "key: for k, v in d.items(): ... xs[k]",
        )

    def static_elements(self, node: ast.expr) -> list[ast.expr]:
        if self.is_view_call(node):
            base = self.atom(node.func.value, "view")
            return self.view_elements(base, node.func.attr, node)
        if _is_call_of(node, "sorted", self):
            return self.sorted_elements(node)
        if isinstance(node, ast.List | ast.Tuple):
            return [self.held(self.atom(e, "element"), e) for e in node.elts]
        atom = self.name(node)
        kind = self.kind(atom)
        if kind != LEAF and kind[0] == "dict":  # iterating over a dict: its keys
            return [ast.Constant(k) for k, _ in kind[1]]
        return [self.held(a, node) for a in self.sequence_of(atom)]

    def dict_kind(self, base: ast.expr, node: ast.AST, method: str) -> tuple:
        kind = self.kind(base)
        if kind == LEAF or kind[0] != "dict":
            text = self.src.text_of(node)
            raise self.error(
                f"the method .{method}() is a dict's, and {text} is not a dict here "
                f"(it is {_described(kind, one=True)})",
                node,
                hint=f"call .{method}() on a dict; adcompile compiles code for the keys of "
                "the dicts a call passes (so .source before any call cannot know them)",
            )
        return kind

    def view_elements(self, base: ast.expr, method: str, node: ast.Call) -> list[ast.expr]:
        """``d.keys()``, ``d.values()``, ``d.items()`` in the dict's (insertion) order."""
        kind = self.dict_kind(base, node.func.value, method)
        keys = [k for k, _ in kind[1]]
        if method == "keys":
            return [ast.Constant(k) for k in keys]
        holder = self.held(base, node.func.value)
        values = [
            ast.Subscript(value=_copy_atom(holder), slice=ast.Constant(k), ctx=ast.Load())
            for k in keys
        ]
        if method == "values":
            return values
        return [
            ast.Tuple(elts=[ast.Constant(k), v], ctx=ast.Load())
            for k, v in zip(keys, values, strict=True)
        ]

    # ------------------------------------------------------------ sorted

    def sorted_elements(self, node: ast.Call) -> list[ast.expr]:
        """``sorted(xs, key=..., reverse=...)`` of elements whose sort keys are known when
        compiling: the elements in Python's order (a stable sort). The key may be
        omitted, ``operator.itemgetter(i)`` or ``lambda t: t[i]``."""
        if len(node.args) != 1 or any(k.arg not in ("key", "reverse") for k in node.keywords):
            raise self.error("sorted() takes one sequence, key= and reverse= here", node)
        options = {k.arg: k.value for k in node.keywords}
        reverse = options.get("reverse", ast.Constant(False))
        if not (isinstance(reverse, ast.Constant) and isinstance(reverse.value, bool | int)):
            raise self.error(
                "sorted()'s reverse= must be a constant here", reverse, hint="reverse=True"
            )
        position = self.sort_position(options.get("key"))
        inner = node.args[0]
        if not (self.has_static_leaf(inner) or _constants(inner)):
            raise self.error(
                "sorted() of values known only when the function runs is not supported",
                node,
                hint=SORTED_HINT,
            )
        elements = self.iteration_elements(inner) if self.has_static_leaf(inner) else None
        if elements is None:
            elements = [ast.Constant(e.value) for e in inner.elts]
        keys = []
        for e in elements:
            key = _sort_key(e)
            if position is not None and key is not UNKNOWN:
                parts = key if isinstance(key, tuple) else None
                if parts is None or not -len(parts) <= position < len(parts):
                    raise self.error("sorted()'s key= reads a part these elements lack", node)
                key = parts[position]
            keys.append(key)
        _check_comparable(self, keys, node)
        order = sorted(
            range(len(elements)), key=lambda i: _Comparable(keys[i]), reverse=bool(reverse.value)
        )
        return [elements[i] for i in order]

    def sort_position(self, key: ast.expr | None) -> int | None:
        """The position ``key=`` sorts by (None: the whole element)."""
        if key is None or (isinstance(key, ast.Constant) and key.value is None):
            return None
        if (
            isinstance(key, ast.Call)
            and self.static_object(key.func) is operator.itemgetter
            and len(key.args) == 1
            and not key.keywords
            and isinstance(key.args[0], ast.Constant)
            and type(key.args[0].value) is int
        ):
            return key.args[0].value
        if (
            isinstance(key, ast.Lambda)
            and len(key.args.args) == 1
            and isinstance(key.body, ast.Subscript)
            and isinstance(key.body.value, ast.Name)
            and key.body.value.id == key.args.args[0].arg
            and isinstance(key.body.slice, ast.Constant)
            and type(key.body.slice.value) is int
        ):
            return key.body.slice.value
        raise self.error(
            "sorted()'s key= is supported as operator.itemgetter(i) or lambda t: t[i]",
            key,
            hint=SORTED_HINT,
        )

    def sorted_call(self, node: ast.Call, hint: str):
        """``sorted(...)`` as a value: the new list of the sorted elements."""
        atoms = [self.atom(e, hint) for e in self.sorted_elements(node)]
        value = ast.List(elts=[_copy_atom(a) for a in atoms], ctx=ast.Load())
        return value, containers.BUILD_LIST, {f"e{i}": a for i, a in enumerate(atoms)}, False

    # ------------------------------------------------------------ loops

    def unrolled_loop(self, stmt: ast.For) -> None:
        """A ``for`` over elements known when compiling: its body once per element,
        the targets bound to it first."""
        elements = self.iteration_elements(stmt.iter)
        for element in elements:
            bind = ast.Assign(targets=[stmt.target], value=element)
            ast.copy_location(bind, stmt.target)
            ast.fix_missing_locations(bind)
            self.stmt = bind
            self.bind_element(stmt.target, element)
            self.block(stmt.body)
        self.stmt = stmt

    def bind_element(self, target: ast.expr, element: ast.expr) -> None:
        """``target = element`` for a loop's (possibly nested) targets, element by
        element where both are tuples (``for i, (k, v) in enumerate(d.items())``)."""
        if (
            isinstance(target, ast.Tuple | ast.List)
            and isinstance(element, ast.Tuple)
            and len(target.elts) == len(element.elts)
        ):
            for t, e in zip(target.elts, element.elts, strict=True):
                self.bind_element(t, e)
            return
        if isinstance(target, ast.Tuple | ast.List) and isinstance(element, ast.Tuple):
            raise self.error(
                f"cannot unpack {len(element.elts)} values into {len(target.elts)} names",
                target,
            )
        self.assign(target, element)


def _constants(node: ast.expr) -> bool:
    return isinstance(node, ast.List | ast.Tuple) and all(
        isinstance(e, ast.Constant) for e in node.elts
    )


def _sort_key(e: ast.expr) -> object:
    if isinstance(e, ast.Constant):
        return e.value
    if isinstance(e, ast.Tuple):
        return tuple(_sort_key(p) for p in e.elts)
    return UNKNOWN


class _Comparable:
    """A sort key compared as Python compares it (checked beforehand to never reach a
    part known only at run time)."""

    def __init__(self, key: object) -> None:
        self.key = key

    def __lt__(self, other: _Comparable) -> bool:
        return _less(self.key, other.key)


def _less(a: object, b: object) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        for x, y in zip(a, b, strict=False):
            if _equal(x, y):
                continue
            return _less(x, y)
        return len(a) < len(b)
    return a < b


def _equal(a: object, b: object) -> bool:
    if a is UNKNOWN or b is UNKNOWN:
        raise _Undecided
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


class _Undecided(Exception):
    """Comparing two sort keys reaches a value known only when the function runs."""


def _check_comparable(norm, keys: list, node: ast.Call) -> None:
    """Refuse a sort whose comparisons would read a value known only at run time (a
    differentiable number), or that Python itself refuses (a str with an int)."""
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            try:
                if a is UNKNOWN or b is UNKNOWN:
                    raise _Undecided
                _less(a, b)
                _less(b, a)
            except _Undecided:
                raise norm.error(
                    "sorted() would compare values known only when the function runs "
                    "(differentiable numbers); adcompile sorts only what it knows when "
                    "compiling",
                    node,
                    hint=SORTED_HINT,
                ) from None
            except TypeError as exc:
                raise norm.error(
                    f"sorted() cannot compare these elements: {exc}",
                    node,
                    hint="sort keys of one type (all strings, or all numbers)",
                ) from None
