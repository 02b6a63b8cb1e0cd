"""Statements run for what they do, not for a value: ``print(...)``, ``logging``
calls, ``assert``, ``raise`` (validating arguments in a branch) and
``with np.errstate(...)``. Each becomes an ``Assign`` with ``effect`` set: the
forward sweep runs it once, where the function does, in order, and nothing of it
is differentiated (its operands are read as they are at that point).

A random draw (``eps = rs.randn(*mu.shape)``, ``rng.normal(size=3)``,
``np.random.uniform()``, Python's ``random.gauss(0, 1)`` and the methods of a
``random.Random``) is such a statement too, whose value is kept (effect
``"draw"``): the forward sweep draws once, where the function does, and the
reverse sweep reads that same sample, never a second one; it is never recomputed,
moved or written into its reader. The sample is a constant of the derivative, so
``mu + np.exp(log_sigma) * eps`` differentiates through ``mu`` and ``log_sigma``
(the reparameterisation trick); a draw whose own arguments depend on a
differentiated input is refused (``analysis.py``): its derivative is not zero.

A branch that raises does not reach the statements after its ``if``: what
follows sees the other branch's variables only (``RAISED`` marks such a path).
"""

from __future__ import annotations

import ast
import logging
import sys
import warnings

import numpy as np

from ..ir import Assign
from ..names import RANDOM_MAKERS, RANDOM_METHODS, RANDOM_REFUSED, is_random_draw
from .common import _strip

DRAW = object()  # what ``draw`` returns as its primitive: ``emit`` makes the Assign a draw

RAISED = "<raised>"  # the env key of a path that ends in a raise

LOGGING_METHODS = {"debug", "info", "warning", "error", "critical", "exception", "log"}


class Effects:
    """A part of ``Normalizer``: lowers the statements kept for their effect."""

    def is_effect_call(self, call: ast.expr) -> bool:
        """``print(...)``, ``logging.info(...)``, ``logger.warning(...)``, ``warnings.warn``."""
        if not isinstance(call, ast.Call):
            return False
        func = call.func
        obj = self.resolver.find(func) if isinstance(func, ast.Name | ast.Attribute) else None
        if obj is print or obj is warnings.warn:
            return True
        if getattr(obj, "__module__", None) == "logging":
            return True
        if isinstance(func, ast.Attribute) and func.attr in LOGGING_METHODS:
            owner = self.resolver.find(func.value)
            return isinstance(owner, logging.Logger)
        return False

    def is_draw(self, call: ast.Call) -> bool:
        """A call of a random generator's method: of a global or numpy's (``rng.normal``,
        ``np.random.randn``), or a method only generators have, of a local (``rs.randn``
        on a RandomState argument: were it not one, Python's call would fail alike)."""
        func = call.func
        if isinstance(func, ast.Name):  # from random import gauss
            return func.id not in self.locals and is_random_draw(self.resolver.find(func))
        if isinstance(func, ast.Attribute) and func.attr in RANDOM_MAKERS:
            return is_random_draw(self.static_object(func))
        if not isinstance(func, ast.Attribute) or func.attr not in RANDOM_METHODS:
            return False
        if isinstance(func.value, ast.Name) and func.value.id in self.locals:
            return True
        if isinstance(func.value, ast.Call) and self.is_draw(func.value):
            return True  # np.random.default_rng(0).normal(...)
        return is_random_draw(self.resolver.find(func) or self.static_object(func))

    def draw(self, node: ast.Call, hint: str):
        """``(value, DRAW, {}, False)``: the call with its arguments as atoms."""
        func = node.func
        method = func.id if isinstance(func, ast.Name) else func.attr
        if method in RANDOM_REFUSED or any(k.arg == "out" for k in node.keywords):
            raise self.error(
                f"{self.src.text_of(func)}(...) writes into an array or list it is given",
                node,
                hint="draw a new array or list instead: rng.permutation(x), rng.permuted(x), "
                "random.sample(xs, len(xs))",
            )
        if isinstance(func, ast.Name):  # from random import gauss: a global's method
            self.record_globals(func)
            callee = _strip(func)
        elif not self.is_namespace(func.value):  # rs.randn (a local), rng(0).normal
            callee = ast.Attribute(value=self.atom(func.value, hint), attr=func.attr)
        else:
            self.record_globals(func)
            callee = _strip(func)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):  # rs.randn(*x.shape)
                args.append(ast.Starred(value=self.atom(a.value, hint), ctx=ast.Load()))
            else:
                args.append(self.argument(a, hint))
        keywords = []
        for k in node.keywords:
            if k.arg is None:
                raise self.error("**-arguments are not supported", k)
            keywords.append(ast.keyword(arg=k.arg, value=self.argument(k.value, hint)))
        return ast.Call(func=callee, args=args, keywords=keywords), DRAW, {}, False

    def effect(self, value: ast.expr, node: ast.AST, kind: str = "call") -> None:
        self.body.append(
            Assign(
                target=self.names.fresh("effect"),
                value=self.constant_expr(value),
                prim=None,
                operands={},
                loc=self.src.loc(node),
                effect=kind,
            )
        )

    def assert_statement(self, stmt: ast.Assert) -> None:
        if sys.flags.optimize:
            return  # python -O: Python runs no assert either
        exc = ast.Call(
            func=ast.Name(id="AssertionError", ctx=ast.Load()),
            args=[stmt.msg] if stmt.msg is not None else [],
            keywords=[],
        )
        test = ast.UnaryOp(op=ast.Not(), operand=stmt.test)
        check = ast.If(test=test, body=[ast.Raise(exc=exc, cause=None)], orelse=[])
        for n in ast.walk(check):
            if "lineno" in n._attributes and not hasattr(n, "lineno"):
                ast.copy_location(n, stmt)
        self.if_statement(check)

    def raise_statement(self, stmt: ast.Raise) -> None:
        if stmt.exc is None or stmt.cause is not None:
            raise self.error(
                "only `raise Exception(...)` is supported here",
                stmt,
                hint="raise a new exception, without `from`",
            )
        self.effect(stmt.exc, stmt, kind="raise")
        self.env[RAISED] = ast.Constant(value=True)

    def with_statement(self, stmt: ast.With) -> None:
        item = stmt.items[0] if len(stmt.items) == 1 else None
        call = item.context_expr if item is not None else None
        if (
            item is None
            or item.optional_vars is not None
            or not isinstance(call, ast.Call)
            or self.resolver.find(call.func) is not np.errstate
        ):
            raise self.error(
                "a with block is supported only for `with np.errstate(...):`",
                stmt,
                hint="move the context manager outside the differentiated function",
            )
        state = self.names.fresh("errstate")
        self.body.append(
            Assign(
                target=state,
                value=self.constant_expr(call),
                prim=None,
                operands={},
                loc=self.src.loc(stmt),
            )
        )
        enter = ast.parse(f"{state}.__enter__()", mode="eval").body
        leave = ast.parse(f"{state}.__exit__(None, None, None)", mode="eval").body
        self.body.append(self._raw_effect(enter, stmt))
        self.block(stmt.body)
        self.body.append(self._raw_effect(leave, stmt))

    def _raw_effect(self, value: ast.expr, node: ast.AST) -> Assign:
        return Assign(
            target=self.names.fresh("effect"),
            value=value,
            prim=None,
            operands={},
            loc=self.src.loc(node),
            effect="call",
        )
