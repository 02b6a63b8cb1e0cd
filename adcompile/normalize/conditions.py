"""Conditions of ``if`` and ``while``: the atom holding a condition's truth value,
a condition's expression with its names resolved (it is not differentiated), and
``isinstance`` tests that the structure the code is compiled for decides."""

from __future__ import annotations

import ast
import copy

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
        it does not (a list of mixed elements and a tuple have one structure)."""
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
