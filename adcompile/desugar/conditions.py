"""Calls of user functions in conditions, computed first.

``if ok(x): ...`` becomes ``cond = ok(x)`` then ``if cond: ...``, and
``while more(x): ...`` computes its condition before the loop and again at the
end of each iteration and before each ``continue`` (which a ``break`` skips, as
Python does), so the call is an ordinary statement, differentiated through the
function's pullback. The condition of a conditional expression (``a if ok(x) else
b``) that the statement always evaluates is computed in a statement before it.
"""

from __future__ import annotations

import ast
import copy
import inspect
import types
from collections.abc import Callable

from ..names import is_helper
from .common import COMPREHENSIONS, SCOPES, Fresh, located, name, own_nodes


class Conditions:
    def __init__(self, src, fresh: Fresh, lookup: Callable, local: set[str]) -> None:
        self.src = src
        self.fresh = fresh
        self.lookup = lookup
        self.local = local

    def calls_user_function(self, test: ast.expr) -> bool:
        for n in own_nodes(test):
            if isinstance(n, ast.Call) and self.user_function(n.func):
                return True
        return False

    def arm_calls_in_condition(self, node: ast.IfExp | ast.BoolOp) -> bool:
        """Whether a part of ``node`` evaluated only on some paths (an arm of a
        conditional expression, an operand of and/or after the first) holds a
        conditional expression whose condition calls a user function (outside lambdas
        and comprehensions)."""
        arms = [node.body, node.orelse] if isinstance(node, ast.IfExp) else node.values[1:]
        return any(
            isinstance(n, ast.IfExp) and self.calls_user_function(n.test)
            for arm in arms
            for n in own_nodes(arm, skip=SCOPES + COMPREHENSIONS)
        )

    def user_function(self, func: ast.expr) -> bool:
        """Whether ``func`` names a user function: ``h`` or a method ``self.forward``
        of an object the function reads."""
        if isinstance(func, ast.Name):
            return func.id not in self.local and is_helper(self.lookup(func.id))
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id in self.local:
                return False
            owner = self.lookup(func.value.id)
            if owner is None or isinstance(owner, types.ModuleType | type):
                return False
            method = inspect.getattr_static(owner, func.attr, None)
            return isinstance(method, types.FunctionType) and is_helper(method)
        return False

    def hoisted(self, stmt: ast.stmt) -> list[ast.stmt]:
        """Statements computing the conditions of the conditional expressions that
        ``stmt`` always evaluates and that call a user function, before ``stmt``
        (whose conditions become the names computed)."""
        if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Return | ast.Expr):
            field = "value"
        elif isinstance(stmt, ast.For):
            field = "iter"
        else:
            return []
        if getattr(stmt, field) is None or not any(
            isinstance(n, ast.IfExp)
            and (self.calls_user_function(n.test) or self.arm_calls_in_condition(n))
            or isinstance(n, ast.BoolOp)
            and self.arm_calls_in_condition(n)
            for n in _always_evaluated(getattr(stmt, field))
        ):
            return []
        # (``stmt`` is a copy of the user's statement; its expression is copied here)
        setattr(stmt, field, copy.deepcopy(getattr(stmt, field)))
        out: list[ast.stmt] = []
        # a conditional expression whose arm holds one with such a condition (evaluated
        # only on that path) becomes an if statement giving a new name the arm's value
        for ifexp in list(_always_evaluated(getattr(stmt, field))):
            if isinstance(ifexp, ast.IfExp) and self.arm_calls_in_condition(ifexp):
                value = self.fresh("branch", ifexp)
                arms = [
                    located(ast.Assign(targets=[name(value, store=True)], value=arm), arm)
                    for arm in (ifexp.body, ifexp.orelse)
                ]
                branch = located(ast.If(test=ifexp.test, body=[arms[0]], orelse=[arms[1]]), ifexp)
                out += self.block([branch])
                setattr(stmt, field, _replaced(getattr(stmt, field), ifexp, name(value)))
            elif isinstance(ifexp, ast.BoolOp) and self.arm_calls_in_condition(ifexp):
                # a or b: t = a, then if not t: t = b (and: if t), each evaluated once
                value = self.fresh("either", ifexp)
                rest = ifexp.values[1:]
                later = rest[0] if len(rest) == 1 else ast.BoolOp(op=ifexp.op, values=rest)
                test = name(value)
                if isinstance(ifexp.op, ast.Or):
                    test = ast.UnaryOp(op=ast.Not(), operand=test)
                first = ast.Assign(targets=[name(value, store=True)], value=ifexp.values[0])
                then = ast.Assign(targets=[name(value, store=True)], value=later)
                branch = ast.If(test=test, body=[located(then, later)], orelse=[])
                out += self.block([located(first, ifexp), located(branch, ifexp)])
                setattr(stmt, field, _replaced(getattr(stmt, field), ifexp, name(value)))
        for ifexp in list(_always_evaluated(getattr(stmt, field))):
            if isinstance(ifexp, ast.IfExp) and self.calls_user_function(ifexp.test):
                cond = self.fresh("cond", ifexp.test)
                compute = located(
                    ast.Assign(targets=[name(cond, store=True)], value=ifexp.test), ifexp.test
                )
                out += [*self.hoisted(compute), compute]
                ifexp.test = located(name(cond), ifexp.test)
        return out

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            if isinstance(stmt, SCOPES):
                out.append(stmt)
                continue
            stmt = copy.copy(stmt)
            for field in ("body", "orelse"):
                if isinstance(getattr(stmt, field, None), list):
                    setattr(stmt, field, self.block(getattr(stmt, field)))
            out += self.hoisted(stmt)
            if isinstance(stmt, ast.If | ast.While) and self.calls_user_function(stmt.test):
                cond = self.fresh("cond", stmt.test)
                compute = located(
                    ast.Assign(targets=[name(cond, store=True)], value=stmt.test), stmt.test
                )
                pre = [*self.hoisted(compute), compute]
                if isinstance(stmt, ast.While):
                    # again at the end of the body and before each continue of the loop
                    body = _before_continue(stmt.body, pre)
                    stmt.body = [*body, *copy.deepcopy(pre)]
                out += pre
                stmt.test = located(name(cond), stmt.test)
            out.append(stmt)
        return out


def _before_continue(stmts: list[ast.stmt], compute: list[ast.stmt]) -> list[ast.stmt]:
    """``stmts`` with a copy of ``compute`` before each ``continue`` of their loop (not
    of the loops nested in them)."""
    out: list[ast.stmt] = []
    for stmt in stmts:
        if isinstance(stmt, ast.Continue):
            out += [*copy.deepcopy(compute), stmt]
            continue
        if isinstance(stmt, ast.If | ast.With | ast.Try):
            stmt = copy.copy(stmt)
            for field in ("body", "orelse", "finalbody"):
                if isinstance(getattr(stmt, field, None), list):
                    setattr(stmt, field, _before_continue(getattr(stmt, field), compute))
        elif isinstance(stmt, ast.For | ast.While) and stmt.orelse:
            stmt = copy.copy(stmt)  # (the else of an inner loop is in this one)
            stmt.orelse = _before_continue(stmt.orelse, compute)
        out.append(stmt)
    return out


def _replaced(tree: ast.expr, old: ast.expr, new: ast.expr) -> ast.expr:
    """``tree`` with the node ``old`` (itself, not an equal one) replaced by ``new``."""
    if tree is old:
        return located(new, old)

    class Replace(ast.NodeTransformer):
        def visit(self, n: ast.AST) -> ast.AST:
            return located(new, old) if n is old else self.generic_visit(n)

    return Replace().visit(tree)


def _always_evaluated(node: ast.expr):
    """The nodes of ``node`` that evaluating it always evaluates: not the arms of a
    conditional expression, the operands of and/or after the first, nor what is
    inside a comprehension or a lambda."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, ast.IfExp):
            stack.append(n.test)
        elif isinstance(n, ast.BoolOp):
            stack.append(n.values[0])
        elif not isinstance(
            n, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
        ):
            stack.extend(reversed(list(ast.iter_child_nodes(n))))  # (in source order)
