"""Repeated expressions of numba-flavoured code as shared functions.

numba compiles every arithmetic expression of arrays (``dh * (1 - h * h)``) into a
loop of its own, and that costs a large share of a gradient's compile time. Code
whose loops over list parameters were unrolled (``jit/unroll.py``) computes the same
expression once per layer, on other variables: this pass makes an expression that a
module computes more than once, as the value of an assignment, a function of the
module (``repeated_1(dh_1, h_5__10)``), which numba compiles once for each kind of
arguments it is called with, and calls it where the expression was.

Only expressions of arithmetic, comparisons, numpy functions and the helpers are
taken; never one that passes a variable where a helper needs a constant (an axis),
which a function's parameter would not be."""

from __future__ import annotations

import ast
import copy

# helpers whose arguments after the first must be constants (see jit/helpers.py)
CONSTANT_ARGS = frozenset(
    {"extremum_mask", "unreduce", "reduced_count", "untranspose"}
    | {f"reduce_{op}" for op in ("sum", "mean", "max", "min", "prod", "var", "std")}
)
ARITHMETIC = (ast.BinOp, ast.UnaryOp, ast.Compare)
ALLOWED = (
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Attribute,
    ast.keyword,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.expr_context,
)
PREFIX = "repeated_"


def _locals(fn: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in fn.args.args}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
    return names


def _eligible(value: ast.expr, local: set[str]) -> bool:
    """An expression of array arithmetic that reads at least one variable and passes
    none where a constant is needed."""
    if not any(isinstance(n, ARITHMETIC) for n in ast.walk(value)):
        if not any(_numpy_call(n) for n in ast.walk(value)):
            return False
    for node in ast.walk(value):
        if not isinstance(node, ALLOWED):
            return False
        if isinstance(node, ast.Attribute):
            plain = isinstance(node.value, ast.Name) and node.value.id not in local
            if node.attr != "T" and not plain:
                return False
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in CONSTANT_ARGS:
                rest = node.args[1:] + [k.value for k in node.keywords]
                if any(not isinstance(a, ast.Constant) for a in rest):
                    return False
    return any(isinstance(n, ast.Name) and n.id in local for n in ast.walk(value))


def _numpy_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)


class _Params(ast.NodeTransformer):
    """The expression with its variables named ``a``, ``b``... in order of first use."""

    def __init__(self, local: set[str]) -> None:
        self.local = local
        self.order: list[str] = []

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id not in self.local:
            return node
        if node.id not in self.order:
            self.order.append(node.id)
        return ast.Name(_param(self.order.index(node.id)), ast.Load())


def _param(i: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[i] if i < 26 else f"a{i}"


def outline(bodies: list[str], taken: set[str], decorator: str) -> tuple[list[str], list[str]]:
    """``bodies`` (texts of functions) with their repeated expressions made calls of
    new functions, and those functions' texts (each with ``decorator``); ``taken``
    are the names the module already uses."""
    found: list[tuple[int, ast.expr, str, list[str]]] = []
    count: dict[str, int] = {}
    shapes: dict[str, ast.expr] = {}
    for i, body in enumerate(bodies):
        tree = ast.parse(body)
        for fn in tree.body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            local = _locals(fn)
            for node in ast.walk(fn):
                if not isinstance(node, ast.Assign | ast.AugAssign):
                    continue
                if not _eligible(node.value, local):
                    continue
                params = _Params(local)
                shape = params.visit(copy.deepcopy(node.value))
                free = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)} - local
                if free & {_param(k) for k in range(len(params.order))}:
                    continue  # (a parameter would hide a name of the module)
                key = ast.dump(shape)
                count[key] = count.get(key, 0) + 1
                shapes.setdefault(key, shape)
                found.append((i, node.value, key, params.order))
    names: dict[str, str] = {}
    functions = []
    for key, shape in shapes.items():
        if count[key] < 2:
            continue
        n = len(names) + 1
        while f"{PREFIX}{n}" in taken:
            n += 1
        name = names[key] = f"{PREFIX}{n}"
        taken.add(name)
        arity = next(len(order) for _, _, k, order in found if k == key)
        args = ", ".join(_param(k) for k in range(arity))
        functions.append(
            f"# an expression the code computes {count[key]} times, compiled once\n"
            f"{decorator}\ndef {name}({args}):\n    return {ast.unparse(shape)}\n"
        )
    edits: dict[int, list] = {}
    for i, value, key, order in found:
        if key in names:
            call = f"{names[key]}({', '.join(order)})"
            edits.setdefault(i, []).append(
                (value.lineno, value.col_offset, value.end_lineno, value.end_col_offset, call)
            )
    out = [_apply(body, edits.get(i, [])) for i, body in enumerate(bodies)]
    return out, functions


def _apply(body: str, edits: list) -> str:
    """``body`` with each (line, column, end line, end column, text) edit made; the
    lines keep their numbers."""
    lines = body.splitlines()
    for l0, c0, l1, c1, text in sorted(edits, reverse=True):
        first, last = lines[l0 - 1], lines[l1 - 1]
        lines[l0 - 1 : l1] = [first[:c0] + text + last[c1:]] + [""] * (l1 - l0)
    return "\n".join(lines) + "\n"
