"""Local rewrites of an inlined rule's code that known shapes make possible.

Each is exact: it only removes work whose result is already known (a helper
argument equal to its default, a broadcast that numpy's own broadcasting does,
an ``unreduce`` whose shape is known, a count of reduced elements).
"""

from __future__ import annotations

import ast
import copy
import inspect
from collections.abc import Callable

import numpy as np

from .. import runtime
from ..generated import assign, call
from ..ir import Comment
from ..runtime.contractions import _einsum_adjoint_plan
from .program import resolve

ShapeOf = Callable[[ast.expr], "tuple | None"]


def is_broadcast_to(node: ast.AST) -> bool:
    return type(node) is ast.Attribute and node.attr == "broadcast_to"


def broadcast_of(node: ast.AST) -> tuple[ast.expr, object] | None:
    """``(g, S)`` for ``np.broadcast_to(g, S)`` with a constant ``S``, else None."""
    if (
        isinstance(node, ast.Call)
        and is_broadcast_to(node.func)
        and len(node.args) == 2
        and not node.keywords
        and isinstance(node.args[1], ast.Constant)
    ):
        return node.args[0], node.args[1].value
    return None


def drop_broadcasts(expr: ast.expr, known: ShapeOf) -> ast.expr:
    """In a product or quotient, ``np.broadcast_to(g, S) * ... * a`` is ``g * ... * a``
    when another factor ``a`` has a known shape (``known(a)``) that ``S`` broadcasts to
    (``S`` itself, or ``(n, 1)`` against ``(n, m)``): numpy's broadcasting does the
    spreading, without the helper call."""

    def factors(node: ast.expr) -> list[ast.expr]:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            return factors(node.left) + factors(node.right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return [*factors(node.left), node.right]
        return [node]

    class Drop(ast.NodeTransformer):
        def visit_BinOp(inner, node: ast.BinOp) -> ast.expr:  # noqa: N805
            if not isinstance(node.op, ast.Mult | ast.Div):
                return inner.generic_visit(node)
            parts = factors(node)
            shapes = [known(f) for f in parts]
            for f in parts:
                if (
                    isinstance(f, ast.Call)
                    and isinstance(f.func, ast.Attribute)
                    and f.func.attr == "broadcast_to"
                    and len(f.args) == 2
                    and isinstance(f.args[1], ast.Constant)
                    and any(_spreads_to(f.args[1].value, s) for s in shapes)
                ):
                    f.func, f.args = ast.Name(id="__drop__"), f.args[:1]
            return node

    class Unwrap(ast.NodeTransformer):
        def visit_Call(inner, node: ast.Call) -> ast.expr:  # noqa: N805
            inner.generic_visit(node)
            if isinstance(node.func, ast.Name) and node.func.id == "__drop__":
                return node.args[0]
            return node

    return Unwrap().visit(Drop().visit(expr))


def _spreads_to(shape: object, target: object) -> bool:
    """Whether numpy broadcasts an array of ``shape`` to ``target`` (both known)."""
    if not (isinstance(shape, tuple) and isinstance(target, tuple)) or len(shape) > len(target):
        return False
    return all(n in (1, m) for n, m in zip(reversed(shape), reversed(target), strict=False))


# runtime helpers (by id) and the parameters of each, for dropping default arguments
_HELPER_IDS = {id(h) for h in runtime.HELPERS.values()}
_HELPER_PARAMS: dict[int, list[inspect.Parameter]] = {}


def trim_defaults(node: ast.Call, helper) -> None:
    """Drop trailing arguments of a helper call that equal the helper's defaults."""
    params = _HELPER_PARAMS.get(id(helper))
    if params is None:
        params = _HELPER_PARAMS[id(helper)] = list(inspect.signature(helper).parameters.values())
    while node.args and len(node.args) <= len(params):
        param = params[len(node.args) - 1]
        last = node.args[-1]
        if param.default is inspect.Parameter.empty or not (
            isinstance(last, ast.Constant) and last.value is param.default
        ):
            break
        node.args.pop()


def tidy_call(
    node: ast.Call, namespace: dict, shape: ShapeOf, np_attr: Callable[[str], ast.expr]
) -> ast.expr:
    """A helper call of an inlined rule, tidied: trailing arguments that equal the
    helper's defaults dropped, and the calls that known shapes make unnecessary
    rewritten: ``unreduce(g, a)`` of a full reduction is ``np.broadcast_to(g, <shape
    of a>)`` (so ``a`` itself need not be kept), and ``reduced_count(a, axis)`` is a
    number."""
    if type(node.func) is not ast.Name:
        return node
    helper = namespace.get(node.func.id)
    if helper is None or id(helper) not in _HELPER_IDS:
        return node
    trim_defaults(node, helper)
    args = node.args
    if helper is runtime.unreduce and not node.keywords and len(args) in (2, 4):
        known = shape(args[1])
        keep = len(args) == 2 or (isinstance(args[3], ast.Constant) and args[3].value is True)
        if known is not None and keep:
            # a full reduction, or one that kept its axes: g broadcasts as it is
            return call(np_attr("broadcast_to"), args[0], ast.Constant(known))
    if helper is runtime.expand_reduced and not node.keywords:
        return expanded(node, np_attr)
    if helper is runtime.einsum_adjoint and not node.keywords:
        return einsum_contraction(node, shape, np_attr)
    if helper is runtime.reduced_count and not node.keywords and args:
        known = shape(args[0])
        axis = args[1] if len(args) > 1 else ast.Constant(None)
        if known is not None and isinstance(axis, ast.Constant):
            try:
                return ast.Constant(runtime.reduced_count(np.empty(known), axis.value))
            except (IndexError, TypeError, ValueError):
                return node
    return node


def expanded(node: ast.Call, np_attr: Callable[[str], ast.expr]) -> ast.expr:
    """``expand_reduced(g, axis, keepdims)`` with constant ``axis`` and ``keepdims``: ``g``
    itself when nothing was reduced away, else ``np.expand_dims(g, axis)``, and for a
    ``g`` that is ``np.broadcast_to(c, shape)``, ``c`` broadcast to the expanded shape."""
    args = node.args
    if not 1 <= len(args) <= 3 or not all(isinstance(a, ast.Constant) for a in args[1:]):
        return node
    axis = args[1].value if len(args) > 1 else None
    keepdims = args[2].value if len(args) > 2 else False
    if axis is None or keepdims is True:
        return args[0]
    if keepdims is not False:
        return node
    g = args[0]
    spread = broadcast_of(g)
    if spread is not None:
        try:
            shape = np.expand_dims(np.empty(spread[1]), axis).shape
        except (TypeError, ValueError, np.exceptions.AxisError):
            return node
        return call(np_attr("broadcast_to"), spread[0], ast.Constant(shape))
    return call(np_attr("expand_dims"), g, ast.Constant(axis))


def sum_call(c: ast.expr, axes: tuple, keepdims: bool) -> ast.Call:
    """``c.sum(axis=axes)``, keeping the summed axes if asked."""
    axis = ast.Constant(axes[0]) if len(axes) == 1 else ast.Constant(axes)
    keywords = [ast.keyword(arg="axis", value=axis)]
    if keepdims:
        keywords.append(ast.keyword(arg="keepdims", value=ast.Constant(True)))
    method = ast.Attribute(value=c, attr="sum", ctx=ast.Load())
    return ast.Call(func=method, args=[], keywords=keywords)


# an einsum at least this large (the product of its labels' sizes) is planned through
# BLAS (optimize=True); a smaller one is faster without the plan (as in einsum_adjoint)
_PLANNED_WORK = 1 << 16


def einsum_contraction(
    node: ast.Call, shape: ShapeOf, np_attr: Callable[[str], ast.expr]
) -> ast.expr:
    """``einsum_adjoint(g, k, subscripts, *operands)`` with constant subscripts and
    operands of known shapes, written as the contraction it is: a matrix product
    (``g @ b.T``) when it is one of two matrices, else ``np.einsum`` with its own
    subscripts, so that nothing is planned when the gradient runs. Left as it is for
    the adjoints that are not one einsum (a diagonal, a broadcast label)."""
    args = node.args
    if len(args) < 4 or not all(isinstance(a, ast.Constant) for a in args[1:3]):
        return node
    k, subscripts = args[1].value, args[2].value
    operands = [a for a in args[3:] if not (isinstance(a, ast.Constant) and a.value is None)]
    shapes = [shape(a) for a in operands]
    if type(k) is not int or not isinstance(subscripts, str) or None in shapes:
        return node
    if not 0 <= k < len(operands):
        return node
    try:
        spec = _einsum_adjoint_plan(subscripts, k, shapes)
    except (TypeError, ValueError):  # numpy says what is wrong when the gradient runs
        return node
    if spec is None:
        return node
    spec, work = spec
    terms = [args[0], *(a for j, a in enumerate(operands) if j != k)]
    if len(terms) == 1:  # (np.einsum of one operand may return a view of the cotangent)
        return node
    product = matrix_product(spec, terms)
    if product is not None:
        return product
    keywords = []
    if work >= _PLANNED_WORK and len(terms) > 1:
        keywords.append(ast.keyword(arg="optimize", value=ast.Constant(True)))
    return ast.Call(func=np_attr("einsum"), args=[ast.Constant(spec), *terms], keywords=keywords)


def _transposed(x: ast.expr) -> ast.expr:
    return ast.Attribute(value=x, attr="T", ctx=ast.Load())


def matrix_product(spec: str, terms: list[ast.expr]) -> ast.expr | None:
    """The einsum ``spec`` of two matrices that is a matrix product (``"te,se->ts"``)
    as one (``g @ b.T``), or None."""
    inputs, result = spec.split("->")
    pair = inputs.split(",")
    if len(pair) != 2 or len(result) != 2 or any(len(set(t)) != 2 for t in pair):
        return None
    shared = set(pair[0]) & set(pair[1])
    if len(shared) != 1 or shared & set(result):
        return None
    (c,) = shared
    left = 0 if result[0] in pair[0] else 1
    right = 1 - left
    if result[0] not in pair[left] or result[1] not in pair[right]:
        return None
    a = terms[left] if pair[left] == result[0] + c else _transposed(terms[left])
    b = terms[right] if pair[right] == c + result[1] else _transposed(terms[right])
    return ast.BinOp(left=a, op=ast.MatMult(), right=b)


# the helpers of linear-algebra adjoints that take inv(a) computed once for several
# (runtime.shared_inverse): the position of the matrix among their arguments, and
# whether they factorise it anyway (a solve can do without the inverse)
_INVERSE_USERS = {
    id(runtime.slogdet_adjoint): (1, True),
    id(runtime.det_adjoint): (2, True),
    id(runtime.solve_transposed): (0, False),
}


def share_inverses(code: list, namespace: dict, fresh: Callable, helper: Callable) -> list:
    """``code`` (a reverse sweep's statements) with one ``inv(a)`` for the adjoints of
    several linear-algebra functions of the same matrix ``a`` when one of them inverts
    it anyway (``slogdet``'s, ``det``'s): ``solve``'s adjoint then multiplies by the
    inverse's transpose instead of factorising ``a`` again. Only for calls in the
    statement list itself (not in a nested loop or branch) of a matrix that the list
    does not assign; the inverse is computed before the first of them and deleted after
    the last, as a hand-written backward's temporary inverse would be freed (holding it
    to the end raises the call's peak memory by a matrix: see ``RECOMPUTE_MIN_SIZE``)."""
    assigned = {
        n.id
        for s in code
        if isinstance(s, ast.AST)
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    uses: dict[str, list] = {}  # matrix name -> [(statement index, call, argument position)]
    for i, stmt in enumerate(code):
        if not isinstance(stmt, ast.Assign | ast.AugAssign | ast.Expr):
            continue
        for node in ast.walk(stmt):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            entry = _INVERSE_USERS.get(id(namespace.get(node.func.id)))
            if entry is None or node.keywords or len(node.args) <= entry[0]:
                continue
            matrix = node.args[entry[0]]
            if isinstance(matrix, ast.Name) and matrix.id not in assigned:
                uses.setdefault(matrix.id, []).append((i, node, entry[1]))
    inserts: dict[int, list] = {}
    deletes: dict[int, list] = {}
    for matrix, calls in uses.items():
        if len(calls) < 2 or not any(inverts for _, _, inverts in calls):
            continue
        inverse = fresh(matrix + "_inv")
        for _, node, _ in calls:
            helper_fn = namespace[node.func.id]
            params = _HELPER_PARAMS.get(id(helper_fn))
            if params is None:
                params = list(inspect.signature(helper_fn).parameters.values())
                _HELPER_PARAMS[id(helper_fn)] = params
            while len(node.args) < len(params) - 1:  # defaults given, up to `inverse`
                node.args.append(ast.Constant(params[len(node.args)].default))
            node.args.append(ast.Name(id=inverse, ctx=ast.Load()))
        value = call(helper("shared_inverse"), ast.Name(id=matrix, ctx=ast.Load()))
        first = min(i for i, _, _ in calls)
        inserts.setdefault(first, []).append(assign(inverse, value))
        last = max(i for i, _, _ in calls)
        deletes.setdefault(last, []).append(ast.Name(id=inverse, ctx=ast.Del()))
    if not inserts:
        return code
    out = []
    for i, stmt in enumerate(code):
        out.extend(inserts.get(i, ()))
        out.append(stmt)
        if i in deletes:
            out.append(ast.Delete(targets=deletes[i]))
    return out


# An array of at least this many elements (128 KiB of float64, glibc malloc's default
# threshold for serving an allocation from fresh pages) costs more to hold through the
# reverse sweep than to compute again there, when computing it is one cheap operation
# on values the sweep holds anyway: holding it raises the call's peak memory, which the
# allocator hands back to the system when the call returns, so that every call pays a
# page fault per 4 KiB of fresh memory (about 2 µs, against well under 1 µs to multiply
# the same 4 KiB again).
RECOMPUTE_MIN_SIZE = 1 << 14

_CHEAP_UFUNCS = (np.add, np.subtract, np.multiply, np.negative)
_CONSTRUCTORS = (np.eye, np.identity, np.zeros, np.ones, np.full)


def recomputable_arrays(
    body: list, params: list[str], shape: Callable, resolve_func: Callable
) -> dict[str, ast.expr]:
    """The forward values of the top level of ``body`` (a normalized function's
    statements) that the reverse sweep computes again where it reads them rather than
    holding them (see ``RECOMPUTE_MIN_SIZE``): large arrays made by one cheap
    elementwise operation (``0.5 * D2``) or a constructor (``np.eye(n)``) whose operands
    are parameters, constants or scalars, which hold the same value for the whole
    call. ``shape(name)`` is a name's known shape (None: unknown), ``resolve_func`` the
    object a call's function names. The caller rules out functions that write into
    arrays (a parameter would then change)."""
    out: dict[str, ast.expr] = {}
    for stmt in body:
        if not hasattr(stmt, "target") or not hasattr(stmt, "prim") or stmt.effect is not None:
            continue
        s = shape(stmt.target)
        if s is None or int(np.prod(s)) < RECOMPUTE_MIN_SIZE:
            continue
        value = stmt.value
        if isinstance(value, ast.BinOp | ast.UnaryOp):
            cheap = any(stmt.prim is u for u in _CHEAP_UFUNCS)
        elif isinstance(value, ast.Call) and stmt.prim is None and not value.keywords:
            cheap = any(resolve_func(value.func) is f for f in _CONSTRUCTORS)
        else:
            cheap = False
        operands = value.args if isinstance(value, ast.Call) else ast.iter_child_nodes(value)
        if cheap and all(
            isinstance(a, ast.operator | ast.unaryop | ast.Constant)
            or (isinstance(a, ast.Name) and (a.id in params or shape(a.id) == ()))
            for a in operands
        ):
            out[stmt.target] = value
    return out


def recompute(code: list, values: dict[str, ast.expr]) -> list:
    """``code`` (a reverse sweep's statements) reading each of ``values``' names as its
    expression, computed again, where every read of it is in a statement of the list
    itself (not in a loop or branch, which would compute it again each time)."""
    nested = {
        n.id
        for s in code
        if isinstance(s, ast.For | ast.While | ast.If | ast.With | ast.Try)
        for n in ast.walk(s)
        if isinstance(n, ast.Name)
    }
    written = {
        n.id
        for s in code
        if isinstance(s, ast.AST)
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    chosen = {
        k: v
        for k, v in values.items()
        if k not in nested and k not in written and not (names_of(v) & written)
    }
    if not chosen:
        return code

    class Substitute(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            if isinstance(node.ctx, ast.Load) and node.id in chosen:
                return copy.deepcopy(chosen[node.id])
            return node

    return [Substitute().visit(s) if isinstance(s, ast.AST) else s for s in code]


def names_of(expr: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}


# ------------------------------------------------------------- shared pure calls


def share_calls(code: list, namespace: dict, fresh: Callable) -> list:
    """``code`` (a reverse sweep's statements, nested blocks rewritten in place) with a
    call of a pure function (a ``math`` function or a numpy ufunc, of variables and
    constants) that two expressions of a run of simple statements compute with the
    same arguments computed once, into a new variable, before the first of them:
    ``math.sin(s)`` recomputed for one adjoint and written by another's rule.

    Only occurrences that an arithmetic operation or another pure call consumes are
    shared, so the shared value is never bound to an adjoint that is later added to
    in place; none inside a conditional expression or ``and``/``or``, which Python may
    not evaluate; and an occurrence after a statement that assigns (or may change in
    place) one of the arguments starts afresh."""
    out: list = []
    run: list = []
    for stmt in code:
        if isinstance(stmt, ast.Assign | ast.AugAssign | ast.Expr | Comment):
            run.append(stmt)
            continue
        out.extend(_share_in_run(run, namespace, fresh))
        run = []
        for field in ("body", "orelse"):
            block = getattr(stmt, field, None)
            if isinstance(block, list):
                block[:] = share_calls(block, namespace, fresh)
        out.append(stmt)
    out.extend(_share_in_run(run, namespace, fresh))
    return out


_CONSUMERS = (ast.BinOp, ast.UnaryOp, ast.Compare)


def _pure_call(node: ast.AST, namespace: dict) -> bool:
    if not (isinstance(node, ast.Call) and node.args and not node.keywords):
        return False
    if not all(isinstance(a, ast.Name | ast.Constant) for a in node.args):
        return False
    obj = resolve(node.func, namespace)
    return isinstance(obj, np.ufunc) or getattr(obj, "__module__", None) == "math"


def _shareable(stmt: ast.stmt, namespace: dict) -> list[ast.Call]:
    """The pure calls of ``stmt`` that an operation or a pure call consumes, and that
    Python always evaluates when it runs ``stmt``."""
    found: list[ast.Call] = []

    def visit(node: ast.AST, consumed: bool) -> None:
        if isinstance(node, ast.IfExp):
            visit(node.test, False)
            return
        if isinstance(node, ast.BoolOp):
            visit(node.values[0], False)
            return
        if isinstance(node, ast.Lambda | ast.ListComp | ast.GeneratorExp | ast.DictComp):
            return
        pure = _pure_call(node, namespace)
        if pure and consumed:
            found.append(node)
        consumer = pure or isinstance(node, _CONSUMERS)
        for child in ast.iter_child_nodes(node):
            visit(child, consumer)

    visit(stmt.value, False)
    return found


def _changed(stmt: ast.stmt) -> set[str]:
    """The names ``stmt`` may bind or change in place: its targets, and for a bare
    call (``add_into(dx, index, g)``) every name it reads."""
    if isinstance(stmt, ast.Expr):
        return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _share_in_run(run: list, namespace: dict, fresh: Callable) -> list:
    live: dict[str, list[tuple[int, int, ast.Call]]] = {}  # call -> (statement, nth, node)
    by_name: dict[str, set[str]] = {}  # argument name -> the live calls that read it
    groups: list[list[tuple[int, int, ast.Call]]] = []
    for i, stmt in enumerate(run):
        if isinstance(stmt, Comment):
            continue
        for j, node in enumerate(_shareable(stmt, namespace)):
            key = ast.dump(node)
            live.setdefault(key, []).append((i, j, node))
            for a in node.args:
                if isinstance(a, ast.Name):
                    by_name.setdefault(a.id, set()).add(key)
        for changed in _changed(stmt):
            for key in by_name.pop(changed, ()):
                if key in live:
                    groups.append(live.pop(key))
    groups.extend(live.values())
    groups.sort(key=lambda group: group[0][:2])  # by the first call: deterministic names
    inserts: dict[int, list] = {}
    replace: dict[int, str] = {}
    for group in groups:
        if len(group) < 2:
            continue
        first, _, node = group[0]
        func = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        arg = node.args[0]
        var = fresh(f"{func}_{arg.id}" if isinstance(arg, ast.Name) else func)
        inserts.setdefault(first, []).append(assign(var, copy.deepcopy(node)))
        replace.update((id(n), var) for _, _, n in group)
    if not replace:
        return run

    class Replace(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.expr:
            var = replace.get(id(node))
            if var is not None:
                return ast.Name(id=var, ctx=ast.Load())
            self.generic_visit(node)
            return node

    out: list = []
    for i, stmt in enumerate(run):
        out.extend(inserts.get(i, ()))
        out.append(stmt if isinstance(stmt, Comment) else Replace().visit(stmt))
    return out
