"""Optimize: small, local clean-ups that keep the generated code tight.

* :func:`simplify` folds arithmetic between constants inside an inlined rule
  (``dy * 2 * x ** (2 - 1)`` becomes ``dy * 2 * x``), never changing a dtype.
* :func:`is_fresh` says whether an expression certainly evaluates to a new
  array (or an immutable scalar), so that an adjoint holding it may be
  accumulated in place with ``+=``.
"""

from __future__ import annotations

import ast
import operator

from .ir import transform
from .rules import registry

_FOLD = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}

# Functions a rule may call whose result is always a new array, by name: the runtime
# helpers below and every spelling of a primitive whose record says so (rules/).
FRESH_RUNTIME_HELPERS = {
    "unindex",
    "assigned_part",
    "copy_array",
    "writable_adjoint",
    "prod_adjoint",
    "matmul_adjoint_lhs",
    "matmul_adjoint_rhs",
    "dot_adjoint_lhs",
    "dot_adjoint_rhs",
    "solve_transposed",
    "solve_adjoint_lhs",
    "det_adjoint",
    "slogdet_adjoint",
    "cholesky_adjoint",
}


def is_fresh_helper(name: str | None) -> bool:
    return name in FRESH_RUNTIME_HELPERS or name in _fresh_primitive_names()


def _fresh_primitive_names() -> set[str]:
    key = registry.GENERATION[0]
    if _FRESH_NAMES[0] != key:
        fresh = registry.spellings_where(lambda p: p.fresh).objects()
        _FRESH_NAMES[:] = [key, {getattr(f, "__name__", None) for f in fresh}]
    return _FRESH_NAMES[1]


_FRESH_NAMES: list = [None, set()]


def _number(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def _number_or_bool(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float)


_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _simplify_compare(node: ast.Compare) -> ast.expr:
    """A comparison of two numbers is the bool it gives (``2 != 0`` is ``True``)."""
    if (
        len(node.ops) == 1
        and type(node.ops[0]) in _COMPARE
        and _number(node.left)
        and _number(node.comparators[0])
    ):
        return ast.Constant(
            value=_COMPARE[type(node.ops[0])](node.left.value, node.comparators[0].value)
        )
    return node


def _simplify_none_test(node: ast.Compare) -> ast.expr:
    """``None is None`` is True, ``0.5 is None`` False (a rule's optional operand,
    ``b=None``, given a constant): exact, whatever the constant."""
    if (
        len(node.ops) == 1
        and isinstance(node.ops[0], ast.Is | ast.IsNot)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.comparators[0], ast.Constant)
        and node.comparators[0].value is None
    ):
        same = node.left.value is None
        return ast.Constant(value=same if isinstance(node.ops[0], ast.Is) else not same)
    return _simplify_compare(node)


def _simplify_ifexp(node: ast.IfExp) -> ast.expr:
    """``a if True else b`` is ``a``."""
    if isinstance(node.test, ast.Constant) and isinstance(node.test.value, bool):
        return node.body if node.test.value else node.orelse
    return node


def _simplify_binop(node: ast.BinOp) -> ast.expr:
    if (
        isinstance(node.op, ast.Add | ast.Sub)
        and _number(node.left)
        and _number_or_bool(node.right)
        and isinstance(node.right.value, bool)
    ):
        # a number minus a bool is a number: 2 - True is 1, 2.0 - False is 2.0
        node.right = ast.Constant(value=int(node.right.value))
    if _number(node.left) and _number(node.right) and type(node.op) in _FOLD:
        try:
            value = _FOLD[type(node.op)](node.left.value, node.right.value)
        except (ArithmeticError, ValueError):
            return node
        if isinstance(value, int | float) and abs(value) < 1e15:
            return ast.Constant(value=value)
    if isinstance(node.op, ast.Pow) and _number(node.right) and node.right.value == 1:
        return node.left
    if isinstance(node.op, ast.Div):
        # (1.0 * a * b) / c == (a * b) / c exactly: x * 1.0 is x in floating point, and
        # the true division makes the result a new float array whatever a and b are
        node.left = drop_unit_factor(node.left)
    # signs: (-a) * b == -(a * b) exactly in floating point; pull minus signs out of
    # products and quotients so that they meet and cancel
    if isinstance(node.op, ast.Mult | ast.Div):
        left_neg, right_neg = _is_neg(node.left), _is_neg(node.right)
        if left_neg or right_neg:
            left = node.left.operand if left_neg else node.left
            right = node.right.operand if right_neg else node.right
            inner = ast.BinOp(left=left, op=node.op, right=right)
            return inner if left_neg and right_neg else _neg(inner)
    if isinstance(node.op, ast.Add) and _is_neg(node.left) and not _is_neg(node.right):
        # -a + b == b - a exactly (addition commutes, broadcasting too)
        return ast.BinOp(left=node.right, op=ast.Sub(), right=node.left.operand)
    if isinstance(node.op, ast.Add) and _is_neg(node.right):
        return ast.BinOp(left=node.left, op=ast.Sub(), right=node.right.operand)
    if isinstance(node.op, ast.Sub) and _is_neg(node.right):
        return ast.BinOp(left=node.left, op=ast.Add(), right=node.right.operand)
    return node


def drop_unit_factor(node: ast.expr) -> ast.expr:
    """``node``, a product, without a leading factor 1 or -1 (``1.0 * a * b`` -> ``a * b``,
    ``-1.0 * a * b`` -> ``-a * b``)."""
    if _is_neg(node):
        node.operand = drop_unit_factor(node.operand)
        return node
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div)):
        return node
    if isinstance(node.op, ast.Mult) and _number(node.left) and node.left.value in (1, -1):
        return node.right if node.left.value == 1 else _neg(node.right)
    node.left = drop_unit_factor(node.left)
    return node


def _simplify_unaryop(node: ast.UnaryOp) -> ast.expr:
    if isinstance(node.op, ast.USub):
        return _neg(node.operand)
    return node


SIMPLIFY_HOOKS = {
    ast.BinOp: _simplify_binop,
    ast.UnaryOp: _simplify_unaryop,
    ast.Compare: _simplify_none_test,
    ast.IfExp: _simplify_ifexp,
}


def _simplify_sum(node: ast.Call) -> ast.expr:
    # (-a).sum(...) == -(a.sum(...)) exactly (the same additions of negated terms);
    # the minus sign then meets another one or goes into a subtraction
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "sum" and _is_neg(func.value):
        func.value = func.value.operand
        return _neg(node)
    return node


# for the finished generated function (after the rules' specialisations, which
# match the shapes of expressions as the rules wrote them)
def _final_binop(node: ast.BinOp) -> ast.expr:
    if isinstance(node.op, ast.Pow):
        return node  # x ** 1 -> x would make a new array an alias this late
    return _simplify_binop(node)


FINAL_HOOKS = {ast.BinOp: _final_binop, ast.UnaryOp: _simplify_unaryop, ast.Call: _simplify_sum}


def finish(tree: ast.AST) -> ast.AST:
    """The generated function ``tree`` with the last exact rewrites (in place)."""
    return transform(tree, FINAL_HOOKS)


def _is_neg(node: ast.expr) -> bool:
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)


def _neg(node: ast.expr) -> ast.expr:
    if _is_neg(node):
        return node.operand
    if _number(node):
        return ast.Constant(value=-node.value)
    if _leading_number(node) is not None:
        # -(2.0 / n * y) == -2.0 / n * y exactly: the sign goes on the number, and
        # the product costs no negation of an array
        return _negate_leading_number(node)
    return ast.UnaryOp(op=ast.USub(), operand=node)


def _leading_number(node: ast.expr) -> ast.Constant | None:
    """The number a product or quotient starts with (``2.0`` in ``2.0 / n * y``)."""
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
        node = node.left
    return node if _number(node) and node.value != 0 else None


def _negate_leading_number(node: ast.expr) -> ast.expr:
    if _number(node):
        return ast.Constant(value=-node.value)
    return ast.BinOp(left=_negate_leading_number(node.left), op=node.op, right=node.right)


def simplify(expr: ast.expr) -> ast.expr:
    """``expr`` with constants folded and minus signs moved out (rewritten in place)."""
    return transform(expr, SIMPLIFY_HOOKS)


def is_fresh(expr: ast.expr) -> bool:
    """True when ``expr`` evaluates to a new array that nothing else refers to."""
    if isinstance(expr, ast.BinOp | ast.UnaryOp):
        return True
    if isinstance(expr, ast.Call):
        name = _callee(expr.func)
        if name == "unbroadcast":
            return is_fresh(expr.args[0])
        return is_fresh_helper(name)
    return False


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None
