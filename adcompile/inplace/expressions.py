"""What an expression evaluates to, for the ownership walk: its ``Value`` (whether it
is new, which variables' arrays it may refer to, what outside it may share memory
with) and the objects it may be, for the identity of lists."""

from __future__ import annotations

import ast
import functools
import math
import types
from collections.abc import Callable

import numpy as np

from ..names import CONSTANT_ATTRIBUTES, METHODS, is_helper
from ..rules import registry
from ..rules.containers import is_function_value
from .fresh import (
    FRESH_METHODS,
    always_read_only,
    converted,
    is_complex,
    makes_new,
    read_only,
    sealed,
)
from .values import (
    NEW,
    NUMBER,
    Returned,
    State,
    Value,
    computed_as_view,
    either,
    element,
    read_only_array,
)


class Expressions:
    """Evaluates the expressions of one function. ``names`` are its variables,
    ``resolve`` maps an expression to the object it names (None when it cannot tell),
    ``summaries`` is the cache of helper summaries that ``own_array`` fills: whether
    every return of a helper hands back an array of its own (see walk.Ownership)."""

    def __init__(
        self,
        names: set[str],
        resolve: Callable[[ast.expr], object],
        summaries: dict,
        own_array: Callable[[object], bool],
    ) -> None:
        self.names = names
        self.resolve = resolve
        self.summaries = summaries
        self.own_array = own_array

    # ----------------------------------------------------------------- values

    def value(self, node: ast.expr, state: State) -> Value:
        if isinstance(node, ast.Constant):
            return NUMBER  # (a number, or a string, None, ...: as immutable)
        if isinstance(node, ast.Name):
            if node.id in self.names:
                if node.id in state.numbers:
                    return NUMBER
                return Value(False, frozenset({node.id}))
            obj = self.resolve(node)
            if isinstance(obj, _NUMBERS):
                return NUMBER
            if isinstance(obj, np.generic):
                return NEW
            if obj is None:
                return NEW
            if is_function_value(obj) and not isinstance(obj, functools.partial):
                return NEW  # a function passed as a value holds no array
            return Value(False, outside=frozenset({f"the global {node.id!r}"}))
        if isinstance(node, ast.Attribute):
            if node.attr in ("ndim", "size"):
                return NUMBER
            if node.attr in CONSTANT_ATTRIBUTES:
                return NEW
            if isinstance(self.resolve(node.value), types.ModuleType):
                obj = self.resolve(node)
                if isinstance(obj, _NUMBERS):
                    return NUMBER  # np.pi
                if isinstance(obj, np.generic):
                    return NEW
                if obj is None:
                    return NEW  # np.newaxis
                if is_function_value(obj):
                    return NEW  # np.tanh passed as a value
                return Value(False, outside=frozenset({f"the global {ast.unparse(node)!r}"}))
            value = element(self.value(node.value, state))  # x.T, x.real: views
            if node.attr == "imag" and not is_complex(node.value, self.resolve):
                # x.imag is np.imag(x): zeros that cannot be written, for a real x
                return Value(False, value.refers, value.outside | {read_only_array("x.imag")})
            return value
        if isinstance(node, ast.Subscript):
            if _is_number_attribute(node.value):
                return NUMBER  # x.shape[0]
            return element(self.value(node.value, state))
        if isinstance(node, ast.BinOp):
            refers: frozenset[str] = frozenset()
            for side in (node.left, node.right):  # [a] * 2, xs + [a]: lists holding a
                if isinstance(side, ast.List | ast.Tuple):
                    refers |= self.value(side, state).refers
            if not refers and self.numbers([node.left, node.right], state):
                return NUMBER
            return Value(True, refers)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not) or self.numbers([node.operand], state):
                return NUMBER
            return NEW
        if isinstance(node, ast.Compare):
            return NUMBER if self.numbers([node.left, *node.comparators], state) else NEW
        if isinstance(node, ast.BoolOp):
            return either([self.value(v, state) for v in node.values])
        if isinstance(node, ast.IfExp):
            return either([self.value(node.body, state), self.value(node.orelse, state)])
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            elts = node.values if isinstance(node, ast.Dict) else node.elts
            values = [self.value(e, state) for e in elts]
            return Value(True, frozenset().union(*(v.refers for v in values)))
        if isinstance(node, ast.Call):
            return self.call(node, state)
        if isinstance(node, ast.Starred):
            return self.value(node.value, state)
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in self.names}
        return Value(False, frozenset(names), frozenset({"another array"}))

    def numbers(self, nodes: list[ast.expr], state: State) -> bool:
        """Whether every one of ``nodes`` is certainly an immutable scalar."""
        return all(self.value(n, state).number for n in nodes)

    def functions(self, node: ast.expr, state: State) -> tuple | None:
        """The functions ``node`` may be, when it is certainly one of them (a function
        named, or a variable or a conditional expression of such): None otherwise."""
        if isinstance(node, ast.Name) and node.id in self.names:
            return state.functions.get(node.id)
        if isinstance(node, ast.Name | ast.Attribute):
            obj = self.resolve(node)
            return (obj,) if obj is not None and is_function_value(obj) else None
        if isinstance(node, ast.IfExp):
            yes, no = self.functions(node.body, state), self.functions(node.orelse, state)
            if yes is None or no is None:
                return None
            return yes + tuple(f for f in no if not any(f is g for g in yes))
        return None

    def call(self, node: ast.Call, state: State) -> Value:
        args = [*node.args, *(k.value for k in node.keywords)]
        func = node.func
        if isinstance(func, ast.Attribute) and not isinstance(
            self.resolve(func.value), types.ModuleType
        ):
            if func.attr in FRESH_METHODS:
                return NEW
            method = self.resolve(func)  # self.forward(x): a method of a user object
            if isinstance(method, types.MethodType) and is_helper(method):
                if self.own_array(method):
                    return NEW
            value = either([element(self.value(a, state)) for a in (func.value, *args)])
            if func.attr in METHODS and sealed(METHODS[func.attr][0]):  # x.diagonal()
                what = f"{ast.unparse(func)}()"
                certain = what if always_read_only(METHODS[func.attr][0]) else None
                outside = value.outside | {read_only_array(what)}
                return Value(False, value.refers, outside, sealed=True, read_only=certain)
            return value
        chosen = self.functions(func, state) if isinstance(func, ast.Name) else None
        if chosen is not None and func.id in self.names:
            # act(x) with act = np.tanh if c else h: a call of one of them
            return either([self.call_of(f, node, state) for f in chosen])
        return self.call_of(self.resolve(func), node, state)

    def call_of(self, obj: object, node: ast.Call, state: State) -> Value:
        """The value of the call ``node`` of the function ``obj`` (None: unknown)."""
        args = [*node.args, *(k.value for k in node.keywords)]
        func = node.func
        if _one_of(obj, _TO_NUMBERS) or (
            isinstance(obj, types.BuiltinFunctionType) and _one_of(obj, vars(math).values())
        ):
            return NUMBER
        if _one_of(obj, _OF_NUMBERS) and self.numbers(args, state):
            return NUMBER
        partial = isinstance(obj, functools.partial) and is_helper(obj.func)
        if partial:
            obj = obj.func  # (its own arguments are constants: values, not the caller's)
        if is_helper(obj):
            if self.own_array(obj):
                return NEW
            returned = self.summaries.get(("returned", id(obj)))
            if returned is not None and not partial and _plain(node):
                return self.helper_result(node, returned, state)
        elif obj is np.meshgrid and _copies(node):
            # new arrays in Python (copy=True), which adcompile computes as broadcasts
            # of its inputs (normalize/displays.py): none shares memory with another
            return Value(False, outside=frozenset({computed_as_view("np.meshgrid()")}))
        elif makes_new(obj, node):
            return NEW
        elif (operand := converted(obj, node)) is not None:
            return self.value(operand, state)  # the operand, or a new array made from it
        values = [self.value(a, state) for a in args]
        refers = frozenset().union(*(v.refers for v in values))
        outside = frozenset().union(*(v.outside for v in values))
        if sealed(obj):
            what = f"{ast.unparse(func)}()"
            certain = what if always_read_only(obj) else None
            outside |= {read_only_array(what)}
            return Value(False, refers, outside, sealed=True, read_only=certain)
        if read_only(obj, node.args[0] if node.args else None, self.resolve):
            outside |= {read_only_array(f"{ast.unparse(func)}()")}
        elif obj is None or (registry.record_of(obj) is None and not refers and not outside):
            # a function adcompile knows nothing of may return an array it keeps (one
            # it cannot tell, such as a parameter's function, whatever its arguments);
            # a primitive returns a new array or a view of its operands
            outside |= {f"what {ast.unparse(func)}() returned"}
        return Value(False, refers, outside)

    def helper_result(self, node: ast.Call, returned: Returned, state: State) -> Value:
        """The value of the call ``node`` of a helper whose returns hand back what
        ``returned`` says: (views of) the arguments of the parameters it names."""
        handed = [a for i, a in enumerate(node.args) if i in returned.shared]
        handed += [k.value for k in node.keywords if k.arg in returned.shared]
        values = [self.value(a, state) for a in handed]
        refers = frozenset().union(*(v.refers for v in values))
        outside = frozenset().union(*(v.outside for v in values)) | returned.read_only
        if returned.more:
            outside |= {f"what {ast.unparse(node.func)}() returned"}
        return Value(False, refers, outside, sealed=returned.sealed)

    # --------------------------------------------------------------- identity

    def objects(self, node: ast.expr, state: State) -> frozenset[str]:
        """The objects ``node``'s value may be, for the identity of lists: an object
        the function makes is named after its place in the source (its *site*, see
        ``lists.renew``); one from outside by what it is ("the list passed as the
        argument 'xs'"); numbers and new arrays are no object that a list update can
        reach."""
        if isinstance(node, ast.Constant | ast.UnaryOp | ast.Compare):
            return frozenset()
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return state.points.get(node.id, frozenset())
            return _global_object(self.resolve(node), node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(self.resolve(node.value), types.ModuleType):
                return _global_object(self.resolve(node), ast.unparse(node))
            if node.attr in CONSTANT_ATTRIBUTES:
                return frozenset()
            return self.objects(node.value, state)  # x.T: a view of x
        if isinstance(node, ast.Subscript):
            elements = state.elements(self.objects(node.value, state))
            if isinstance(node.slice, ast.Slice):  # xs[1:]: a new list of its elements
                return state.made(node, elements)
            return elements
        if isinstance(node, ast.BinOp):
            # [a] * 2, [a] + [b]: a new list of their elements (`+` and `*` on list
            # variables are refused by the normalizer); on arrays, a new array
            if isinstance(node.left, ast.List | ast.Tuple) or isinstance(
                node.right, ast.List | ast.Tuple
            ):
                held = self.objects(node.left, state) | self.objects(node.right, state)
                return state.made(node, state.elements(held))
            return frozenset()
        if isinstance(node, ast.BoolOp):
            return frozenset().union(*(self.objects(v, state) for v in node.values))
        if isinstance(node, ast.IfExp):
            return self.objects(node.body, state) | self.objects(node.orelse, state)
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            elts = node.values if isinstance(node, ast.Dict) else node.elts
            held = frozenset().union(*(self.objects(e, state) for e in elts))
            return state.made(node, held)
        if isinstance(node, ast.Starred):
            return self.objects(node.value, state)
        if isinstance(node, ast.Call):
            return self.call_objects(node, state)
        return frozenset().union(
            *(self.objects(n, state) for n in ast.iter_child_nodes(node) if isinstance(n, ast.expr))
        )

    def call_objects(self, node: ast.Call, state: State) -> frozenset[str]:
        args = [*node.args, *(k.value for k in node.keywords)]
        given = frozenset().union(*(self.objects(a, state) for a in args))
        func = node.func
        if isinstance(func, ast.Attribute) and not isinstance(
            self.resolve(func.value), types.ModuleType
        ):
            if func.attr in FRESH_METHODS:  # array methods that make a new array
                return frozenset()
            return self.objects(func.value, state) | given
        chosen = self.functions(func, state) if isinstance(func, ast.Name) else None
        if chosen is not None and func.id in self.names:
            return frozenset().union(*(self.objects_of(f, node, state, given) for f in chosen))
        return self.objects_of(self.resolve(func), node, state, given)

    def objects_of(
        self, obj: object, node: ast.Call, state: State, given: frozenset[str]
    ) -> frozenset[str]:
        """The objects the call ``node`` of the function ``obj`` may return; ``given``:
        those of its arguments."""
        if is_helper(obj):
            if self.own_array(obj):
                return frozenset()
            # a new container holding any of what it was given, or what it was given
            # (for the parameters whose object a return of it may hand back)
            reached = state.reach_contents(given)
            passed = self.summaries.get(("passed", id(obj)))
            handed = [a for i, a in enumerate(node.args) if passed is None or i in passed]
            handed += [k.value for k in node.keywords if passed is None or k.arg in passed]
            back = frozenset().union(*(self.objects(a, state) for a in handed))
            # a mutable default of its own that it hands back: one object for every call
            name = getattr(obj, "__name__", "the helper")
            own = frozenset(
                f"the default value of {name}()'s parameter {p!r}, one list for every call"
                for p in self.summaries.get(("defaults", id(obj)), ())
            )
            return state.made(node, reached | own) | state.reach_contents(back) | own
        if makes_new(obj, node):
            return frozenset()
        return given


# the immutable scalars: Python's numbers and numpy's
_NUMBERS = (int, float, complex, bool, np.number, np.bool_)
# calls whose result is always a Python number, and those whose result is one when
# their operands are
_TO_NUMBERS = (int, float, bool, complex, len, isinstance)
_OF_NUMBERS = (abs, round, max, min)


def _copies(node: ast.Call) -> bool:
    """Whether the call ``node`` of ``np.meshgrid`` returns new arrays: ``copy=`` not
    given, or given as a true constant (the normalizer refuses other spellings)."""
    copy = next((k.value for k in node.keywords if k.arg == "copy"), None)
    return copy is None or (isinstance(copy, ast.Constant) and bool(copy.value))


def _plain(node: ast.Call) -> bool:
    """Whether every argument of ``node`` goes to one parameter that it names or its
    position does (no ``*xs`` or ``**kw``)."""
    return not any(isinstance(a, ast.Starred) for a in node.args) and all(
        k.arg is not None for k in node.keywords
    )


def _one_of(obj: object, functions) -> bool:
    return any(obj is f for f in functions)


def _global_object(obj: object, name: str) -> frozenset[str]:
    if isinstance(obj, list | tuple | dict | set | np.ndarray):
        return frozenset({f"the global {name!r}"})
    return frozenset()


def _is_number_attribute(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in CONSTANT_ATTRIBUTES
