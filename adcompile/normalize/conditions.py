"""Conditions of ``if`` and ``while``: the atom holding a condition's truth value,
a condition's expression with its names resolved (it is not differentiated), and
``isinstance`` tests that the structure the code is compiled for decides."""

from __future__ import annotations

import ast
import copy
import operator

from ..frontend import StaticFunction
from ..ir import Assign
from ..names import is_user_function
from ..rules import containers
from ..rules.containers import LEAF
from .common import _strip


class Conditions:
    def condition(self, test: ast.expr) -> ast.expr:
        """An atom holding the truth value of ``test`` (not differentiated)."""
        if isinstance(test, ast.Constant):
            return ast.Constant(value=bool(test.value))
        if isinstance(test, ast.Name) and test.id in self.locals:
            return self.name(test)
        value = self.constant_expr(test)
        target = self.names.fresh("cond")
        self.body.append(
            Assign(target=target, value=value, prim=None, operands={}, loc=self.src.loc(test))
        )
        return ast.Name(id=target, ctx=ast.Load())

    def constant_expr(self, node: ast.expr) -> ast.expr:
        """``node`` with its names resolved, for a value that is not differentiated
        (conditions): locals become their current atoms, globals are recorded."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                func = sub.func
                if isinstance(func, ast.Name | ast.Attribute):
                    obj = self.static_object(func)
                    if isinstance(obj, StaticFunction) or is_user_function(obj):
                        raise self.error(
                            "a call of a user function in a condition is not supported",
                            sub,
                            hint="compute the value in a statement before the if/while "
                            "(or before the statement, when Python evaluates it on every path)",
                        )

        outer = self

        class Rename(ast.NodeTransformer):
            def visit_Name(self, n: ast.Name) -> ast.expr:
                if n.id in outer.locals:
                    return outer.name(n)
                outer.static_object(n)
                outer.globals[n.id] = outer.resolver.lookup(n.id)
                return ast.Name(id=n.id, ctx=ast.Load())

            def visit_Attribute(self, n: ast.Attribute) -> ast.expr:
                if outer.static_object(n) is not None:
                    outer.record_globals(n)
                    return _strip(n)
                self.generic_visit(n)
                return n

        return Rename().visit(copy.deepcopy(node))

    def known_isinstance(self, test: ast.expr) -> bool | None:
        """The value of ``isinstance(x, list)`` (or ``tuple``, ``dict``, a tuple of them)
        for a variable ``x`` whose structure the code is compiled for, when that structure
        decides it (``if isinstance(data, list): return sum(map(f, data))``); None when
        it does not (a list of mixed elements and a tuple have one structure);
        ``not isinstance(...)`` is its negation."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = self.known_isinstance(test.operand)
            return None if inner is None else not inner
        if not (
            isinstance(test, ast.Call)
            and isinstance(test.func, ast.Name)
            and test.func.id == "isinstance"
            and len(test.args) == 2
            and not test.keywords
            and isinstance(test.args[0], ast.Name)
            and test.args[0].id in self.locals
            and test.args[0].id in self.env
            and test.args[0].id not in self.guessed
            and self.resolver.find(test.func) is isinstance
        ):
            return None
        spec = test.args[1]
        classes = spec.elts if isinstance(spec, ast.Tuple) else [spec]
        types_ = [self.resolver.find(c) if isinstance(c, ast.Name) else None for c in classes]
        if not types_ or not all(t in (list, tuple, dict) for t in types_):
            return None
        kind = self.kind(self.name(test.args[0]))
        if kind == LEAF or containers.is_function_kind(kind):
            return False  # an array, a number or a function
        tag = kind[0]
        if tag == "list" or tag == "dict":
            return tag == "list" and list in types_ or tag == "dict" and dict in types_
        if tag == "tuple" and isinstance(kind[1], containers.Fields):
            return tuple in types_ and issubclass(kind[1].record, tuple)  # a namedtuple
        if list in types_ and tuple in types_:
            return True
        if all(k == kind[1][0] for k in kind[1]):
            # (a list of elements of one structure is a "list": this is a tuple)
            return tuple in types_
        return None if list in types_ or tuple in types_ else False

    def known_truth(self, test: ast.expr) -> bool | None:
        """The value of a condition on constants only (``k == "W"``, ``k in ("W", "b")``,
        for a key ``k`` of an unrolled loop over a dict, see views.py), which the code
        compiled for this structure decides; None for any other condition."""
        value = self.known_value(test)
        return None if value is _NOT_KNOWN else bool(value)

    def known_value(self, node: ast.expr) -> object:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str | int | bool | type(None)):
                return node.value
            return _NOT_KNOWN
        if isinstance(node, ast.Name):
            atom = self.env.get(node.id) if node.id in self.locals else None
            if isinstance(atom, ast.Constant) and isinstance(atom.value, str):
                return atom.value
            return _NOT_KNOWN
        if isinstance(node, ast.Tuple | ast.List):
            parts = [self.known_value(e) for e in node.elts]
            return _NOT_KNOWN if _NOT_KNOWN in parts else tuple(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.known_value(node.operand)
            return _NOT_KNOWN if inner is _NOT_KNOWN else not inner
        if isinstance(node, ast.BoolOp):
            parts = [self.known_value(v) for v in node.values]
            if _NOT_KNOWN in parts:
                return _NOT_KNOWN
            return all(parts) if isinstance(node.op, ast.And) else any(parts)
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            values = [self.known_value(v) for v in (node.left, *node.comparators)]
            if _NOT_KNOWN in values or not any(
                isinstance(v, str) or isinstance(v, tuple) and any(isinstance(p, str) for p in v)
                for v in values
            ):
                return _NOT_KNOWN  # (conditions on numbers only stay as they are)
            try:
                return all(
                    _COMPARE[type(op)](a, b)
                    for op, a, b in zip(node.ops, values, values[1:], strict=False)
                )
            except TypeError:
                return _NOT_KNOWN
        return _NOT_KNOWN


_NOT_KNOWN = object()
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.In: lambda a, b: operator.contains(b, a),
    ast.NotIn: lambda a, b: not operator.contains(b, a),
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
