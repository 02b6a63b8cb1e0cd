"""Generated code, read back: the rewriting that makes a generated gradient a function
the front end can differentiate again (higher-order derivatives, see higher.py).

The reverse sweep is written in a few forms the accepted language does not have:
it iterates ``reversed(saved)``, pops what a helper's forward sweep pushed, fills a
container adjoint in place with ``add_at(...)`` as a statement, uses a value computed
in a branch of the forward sweep in the same branch of the reverse sweep, returns
a zero gradient as ``None``, checks a list's length with ``check_unpacking`` before
unpacking it, and deletes a temporary after its last use.
:func:`differentiable_text` rewrites these into equivalent forms the language has
(``saved[::-1]``; ``x = stack[-1]``, ``stack = stack[:-1]``; ``d = add_at(d, ...)``;
a ``None`` before the branch; ``return 0.0``; ``if len(xs) != n: raise ...``;
``pass``), line by line, so that the comments naming the user's source lines stay;
the rewritten code is compiled under its own pseudo-filename (``origin.py`` reads
those comments back). Generated code that indexes writes the index as a value,
``unindex(g, x, np.s_[1:])``: the front end reads ``np.s_[...]`` there as an index.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Callable
from typing import Any

from . import emit
from .emit import linecache_filename
from .errors import AdCompileError
from .frontend import def_loc


def differentiable_text(text: str, gradient: bool = False) -> str:
    """The generated module ``text`` rewritten into the accepted language (see the
    module's docstring); the same computation, line for line where possible.
    ``gradient``: ``text`` is a gradient's own code (not a helper's pullback, whose
    None the caller reads as a missing cotangent), whose ``return None`` is a zero."""
    text = _flat_stacks(_constant_lengths(text))
    tree = ast.parse(text)
    lines = text.splitlines()
    # line index -> replacement lines (an insertion keeps the original line last)
    edits: dict[int, list[str]] = {}

    def indent_of(i: int) -> str:
        return re.match(r"\s*", lines[i]).group(0)

    # where each name is first given a value (a parameter: at its def line)
    first: dict[tuple[int, str], int] = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef):
            for a in fn.args.args:
                first[(fn.lineno, a.arg)] = fn.lineno
            for n in ast.walk(fn):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    key = (fn.lineno, n.id)
                    first[key] = min(first.get(key, n.lineno), n.lineno)
    owner = {
        n.lineno: fn.lineno
        for fn in tree.body
        if isinstance(fn, ast.FunctionDef)
        for n in ast.walk(fn)
        if isinstance(n, ast.If)
    }

    for node in ast.walk(tree):
        if isinstance(node, ast.For):
            it = node.iter
            if (
                isinstance(it, ast.Call)
                and isinstance(it.func, ast.Name)
                and it.func.id == "reversed"
                and len(it.args) == 1
                and isinstance(it.args[0], ast.Name)
            ):
                i = node.lineno - 1
                name = it.args[0].id
                line = edits.get(i, [lines[i]])[-1]
                new = line.replace(f"reversed({name})", f"{name}[::-1]", 1)
                edits[i] = [*edits.get(i, [lines[i]])[:-1], new]
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Subscript)
            and isinstance(node.targets[0].value, ast.Name)
            and node.lineno == node.end_lineno
        ):
            # an element of a container adjoint set in place (set_at returns the container),
            # or of an array the gradient owns (written in place: see compile_again)
            i = node.lineno - 1
            line = lines[i]
            target = node.targets[0]
            key = line[target.slice.col_offset : target.slice.end_col_offset]
            value = line[node.value.col_offset : node.value.end_col_offset]
            c = target.value.id
            setter = "set_at"
            if any(isinstance(n, ast.Slice) for n in ast.walk(target.slice)) or isinstance(
                target.slice, ast.Tuple
            ):  # (an array's elements, by an index with slices or commas)
                setter, key = "set_elements", f"np.s_[{key}]"
            edits[i] = [f"{indent_of(i)}{c} = {setter}({c}, {key}, {value})"]
        elif isinstance(node, ast.Assign) and node.lineno == node.end_lineno:
            v = node.value
            if (
                isinstance(v, ast.Call)
                and isinstance(v.func, ast.Attribute)
                and v.func.attr == "pop"
                and isinstance(v.func.value, ast.Name)
                and not v.args
                and not v.keywords
            ):
                i = node.lineno - 1
                stack = v.func.value.id
                line = lines[i]
                popped = f"{line[: v.col_offset]}{stack}[-1]{line[v.end_col_offset :]}"
                edits[i] = [popped, f"{indent_of(i)}{stack} = {stack}[:-1]"]
        elif (
            isinstance(node, ast.Expr)
            and node.lineno == node.end_lineno
            and _in_place_call(node.value, lines[node.lineno - 1]) is not None
        ):
            i = node.lineno - 1
            edits[i] = [indent_of(i) + _in_place_call(node.value, lines[i])]
        elif (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.lineno == node.end_lineno
        ):
            # the generated code updates only arrays it owns: x op= e is x = x op e (which
            # the ownership pass, not knowing that, could refuse)
            i = node.lineno - 1
            line = lines[i]
            value = line[node.value.col_offset : node.value.end_col_offset]
            if not isinstance(
                node.value, ast.Call | ast.Name | ast.Attribute | ast.Subscript | ast.Constant
            ) and not (
                isinstance(node.value, ast.BinOp)
                and isinstance(node.value.op, ast.Mult | ast.Div | ast.MatMult | ast.Pow)
            ):
                value = f"({value})"
            op = _OPERATORS[type(node.op)]
            t = node.target.id
            edits[i] = [f"{indent_of(i)}{t} = {t} {op} {value}"]
        elif (
            gradient
            and isinstance(node, ast.Return)
            and isinstance(node.value, ast.Constant)
            and node.value.value is None
            and node.lineno == node.end_lineno
        ):
            # a gradient that is zero (of a parameter nothing differentiable depends on)
            # is returned as None: as a number, 0.0, it has a derivative, zero
            i = node.lineno - 1
            edits[i] = [f"{indent_of(i)}return 0.0"]
        elif (replaced := _check_or_delete(node, indent_of)) is not None:
            edits[node.lineno - 1] = replaced
        elif isinstance(node, ast.If):
            # a name given a value on one side only, and not before: None before the if
            # (the reverse sweep reads it under the same condition only)
            one_side = {
                n
                for n in _assigned(node.body) ^ _assigned(node.orelse)
                if first.get((owner[node.lineno], n), 0) >= node.lineno
            }
            if one_side:
                i = node.lineno - 1
                ind = indent_of(i)
                before = [f"{ind}{n} = None" for n in sorted(one_side)]
                edits[i] = [*before, *edits.get(i, [lines[i]])]
    out = []
    for i, line in enumerate(lines):
        out.extend(edits.get(i, [line]))
    return "\n".join(out) + "\n"


def _check_or_delete(node: ast.AST, indent_of: Callable[[int], str]) -> list[str] | None:
    """The lines that replace a one-line ``check_unpacking(xs, n)`` statement (the length
    check before unpacking a list: an ``if``/``raise``) or ``del`` of a temporary freed
    after its last use (``pass``: nothing reads it again, so to differentiate, it may
    stay); None for any other statement."""
    if not isinstance(node, ast.Delete | ast.Expr) or node.lineno != node.end_lineno:
        return None
    i = node.lineno - 1
    if isinstance(node, ast.Delete):
        return [f"{indent_of(i)}pass"]
    call = node.value if isinstance(node, ast.Expr) else None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id.startswith("check_unpacking")
        and len(call.args) == 2
    ):
        return None
    xs, n = (ast.unparse(a) for a in call.args)
    message = repr(f"the list does not unpack into {n} names")
    return [f"{indent_of(i)}if len({xs}) != {n}:", f"{indent_of(i)}    raise ValueError({message})"]


def _in_place_call(call: ast.expr, line: str) -> str | None:
    """The assignment that gives a value to a helper's in-place update (written on
    ``line``), or None: ``add_at(d, ...)`` fills a container adjoint and returns it
    (``d = add_at(d, ...)``); ``add_into(dx, index, g)`` adds ``g`` into ``dx`` at
    ``index`` (``dx = dx + unindex(g, dx, index)``)."""
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.args
        and isinstance(call.args[0], ast.Name)
    ):
        return None
    if call.func.id == "add_at":
        return f"{call.args[0].id} = {line.strip()}"
    if call.func.id == "add_into" and len(call.args) == 3:
        out, index, g = (line[a.col_offset : a.end_col_offset] for a in call.args)
        return f"{out} = {out} + unindex({g}, {out}, {index})"
    return None


def _flat_stacks(text: str) -> str:
    """Each tuple pushed on a stack (``stack.append((a, b))``) pushed element by element,
    and popped so (``b = stack.pop()``, ``a = stack.pop()``): the same values come off
    in the same order, and a stack that gets tuples of different lengths (or tuples and
    single values) on different paths becomes a list of alike elements when the values
    are arrays and numbers, which the front end can type. Only for such a stack, whose
    every tuple pushed is popped into the same names (in a helper's pullback too, which
    names them alike), and the other way round."""
    tree = ast.parse(text)
    lines = text.splitlines()
    pushes: dict[str, list[tuple[int, list[str]]]] = {}
    pops: dict[str, list[tuple[int, list[str]]]] = {}
    singles: set[str] = set()  # the stacks that get a value that is not a tuple display
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno == node.end_lineno:
            single = _single_push(node)
            if single is not None:
                singles.add(single)
            found = _stack_push(node) or _stack_pop(node)
            if found is not None:
                kind, stack, names = found
                table = pushes if kind == "push" else pops
                table.setdefault(stack, []).append((node.lineno - 1, names))
    edits: dict[int, list[str]] = {}
    for stack, popped in pops.items():
        pushed = pushes.get(stack, [])
        if not pushed or {tuple(n) for _, n in pushed} != {tuple(n) for _, n in popped}:
            continue
        if len({len(n) for _, n in pushed} | ({1} if stack in singles else set())) < 2:
            continue  # pushes of one shape: alike already
        for i, names in pushed:
            ind = re.match(r"\s*", lines[i]).group(0)
            edits[i] = [f"{ind}{stack}.append({n})" for n in names]
        for i, names in popped:
            ind = re.match(r"\s*", lines[i]).group(0)
            edits[i] = [f"{ind}{n} = {stack}.pop()" for n in reversed(names)]
    if not edits:
        return text
    out = []
    for i, line in enumerate(lines):
        out.extend(edits.get(i, [line]))
    return "\n".join(out) + "\n"


def _stack_push(node: ast.AST) -> tuple[str, str, list[str]] | None:
    """("push", stack, names) for ``stack.append((a, b, ...))`` of names."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return None
    call = node.value
    if (
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "append"
        and isinstance(call.func.value, ast.Name)
        and len(call.args) == 1
        and not call.keywords
        and isinstance(call.args[0], ast.Tuple)
        and call.args[0].elts
        and all(isinstance(e, ast.Name) for e in call.args[0].elts)
    ):
        return "push", call.func.value.id, [e.id for e in call.args[0].elts]
    return None


def _single_push(node: ast.AST) -> str | None:
    """The stack of ``stack.append(x)`` of anything but a tuple display, or None."""
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "append"
        and isinstance(node.value.func.value, ast.Name)
        and len(node.value.args) == 1
        and not isinstance(node.value.args[0], ast.Tuple)
    ):
        return node.value.func.value.id
    return None


def _stack_pop(node: ast.AST) -> tuple[str, str, list[str]] | None:
    """("pop", stack, names) for ``a, b, ... = stack.pop()`` into names."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return None
    target, value = node.targets[0], node.value
    if (
        isinstance(target, ast.Tuple)
        and target.elts
        and all(isinstance(e, ast.Name) for e in target.elts)
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "pop"
        and isinstance(value.func.value, ast.Name)
        and not value.args
        and not value.keywords
    ):
        return "pop", value.func.value.id, [e.id for e in target.elts]
    return None


def _constant_lengths(text: str) -> str:
    """``len((a, b))``, the count of a literal tuple (``unstack``'s), written as ``2``: a
    constant, which tells the front end how many results ``unstack`` has."""
    tree = ast.parse(text)
    lines = text.splitlines()
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "len"
            and len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.Tuple)
            and not any(isinstance(e, ast.Starred) for e in node.args[0].elts)
            and node.lineno == node.end_lineno
        ):
            count = str(len(node.args[0].elts))
            spans.setdefault(node.lineno - 1, []).append(
                (node.col_offset, node.end_col_offset, count)
            )
    for i, found in spans.items():
        line = lines[i].encode()  # (ast columns are byte offsets)
        outer = [
            (start, end, count)
            for start, end, count in found
            if not any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in found)
        ]
        for start, end, count in sorted(outer, reverse=True):
            line = line[:start] + count.encode() + line[end:]
        lines[i] = line.decode()
    return "\n".join(lines) + "\n"


_OPERATORS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.MatMult: "@",
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
}


def _assigned(body: list[ast.stmt]) -> set[str]:
    return {
        n.id
        for s in body
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


_LOCK = threading.Lock()
# (id(Generated), forward only) -> (Generated, the differentiable function): one per
# compiled gradient and use
_FUNCTIONS: dict[tuple[int, bool], tuple[Any, Callable]] = {}


def differentiable_function(
    gradient: Any, kinds: tuple | None, sig: tuple | None = None, forward: bool = False
) -> Callable:
    """The generated code of ``gradient`` for arguments of the structure ``kinds``, as a
    function the front end can read and differentiate (see :func:`differentiable_text`);
    ``forward``: in forward mode only (hvp, hessian, jvp of a gradient), which allows
    code that assigns into array elements."""
    entry = gradient._entry(kinds, sig)
    gen = entry[2]
    with _LOCK:
        found = _FUNCTIONS.get((id(gen), forward))
        if found is not None and found[0] is gen:
            return found[1]
        where = def_loc(gradient.fn)
        name = f"{gradient.mode} {gradient.fn.__qualname__}"
        try:
            fn = compile_again(gen, name, gradient.wrt, where, forward)
        except AdCompileError:
            raise
        except Exception as exc:  # our own generated code: any failure is a bug of ours
            raise AdCompileError(
                f"internal error: the generated gradient of {gradient.fn.__name__} could not "
                f"be read back for differentiation ({type(exc).__name__}: {exc})",
                def_loc(gradient.fn),
                hint="this is a bug in adcompile; please report it with the function",
            ) from exc
        _FUNCTIONS[(id(gen), forward)] = (gen, fn)
    return fn


def _with_set_at(gen: Any) -> dict:
    """The namespace of ``gen`` with the helpers the rewritten text calls, ``set_at``
    and ``unindex``."""
    from .rules.bodies import definition
    from .runtime import set_at, set_elements, unindex

    added = {"set_at": set_at, "set_elements": set_elements, "unindex": unindex}
    for ident, helper in added.items():
        if gen.namespace.get(ident, helper) is not helper:
            raise AdCompileError(
                f"the generated code names something else {ident}: it cannot be "
                "differentiated again",
                hint=f"rename the global {ident} of the differentiated function's module",
            )
    # a helper with a definition in the accepted language is read as that definition
    defined = {k: definition(v) for k, v in gen.namespace.items() if definition(v) is not None}
    return {**gen.namespace, **defined, **added}


def _check_helpers(text: str, namespace: dict, where: Any, fname: str) -> None:
    """Refuse, naming the user's line, generated code that calls a runtime helper which
    has no rules for differentiating it again (``rules/runtime_rules.py``)."""
    from .rules.registry import refusal
    from .rules.runtime_rules import NOT_IN_GRADIENTS, SECOND_ORDER_REFUSED

    tree = ast.parse(text)
    lines = text.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            helper = namespace.get(node.func.id)
            if helper is None or refusal(helper) is None:
                continue
            line = None
            for i in range(node.lineno - 1, -1, -1):
                if lines[i].strip().startswith("# line "):
                    line = lines[i].strip()[2:]
                    break
            what = f" (for {line})" if line else ""
            reason = SECOND_ORDER_REFUSED.get(node.func.id) or NOT_IN_GRADIENTS.get(
                node.func.id, "a helper"
            )
            raise AdCompileError(
                f"the gradient of {fname} calls adcompile.runtime.{node.func.id}{what}, "
                f"{reason}, which has no rules for differentiating generated code again: "
                "its higher-order derivatives are not supported",
                where,
                hint="hvp, hessian and grad(grad(f)) go through the gradient's code; write "
                "the function without this operation, or use finite differences of the "
                "gradient",
            )


def compile_again(
    gen: Any, name: str, wrt: list[str], where: Any = None, forward: bool = False
) -> Callable:
    """``api.compile_linked`` for the rewritten texts of ``gen`` (a Generated gradient)
    and of its pairs: the generated function, which the front end can read. ``where``
    locates a refusal (the differentiated function's definition).

    The gradient of a function that assigns into array elements writes into arrays it
    owns in place (``x[i] = v``, read back as ``x = set_at(x, i, v)``). Forward mode
    differentiates that as it runs, the tangent written in place beside the value
    (``set_at_tangent``); reverse mode would need the values each write overwrote, so
    ``grad(grad(f))`` of such a function is refused (``forward`` False)."""
    fname = name.split(" ")[-1]
    writers = [gen, *gen.session.order]
    if not forward and any(getattr(g, "writes_elements", False) for g in writers):
        raise AdCompileError(
            f"{fname} (or a function it calls) assigns into array elements (x[i] = v): "
            "the gradient of its gradient (reverse over reverse) is not supported yet",
            where,
            hint="hvp and hessian (forward over reverse) support it: for a gradient "
            "penalty, take jvp or hvp; or build the array without element assignment "
            "(np.stack of the rows, np.where, np.concatenate)",
        )
    text = differentiable_text(gen.text, gradient=True)
    pair_texts = [differentiable_text(pair.text) for pair in gen.session.order]
    _check_helpers(text, _with_set_at(gen), where, fname)
    for pair, pair_text in zip(gen.session.order, pair_texts, strict=True):
        _check_helpers(pair_text, _with_set_at(pair), where, fname)
    filename = linecache_filename("differentiable", name, wrt)
    scopes = [emit.compile_module(text, _with_set_at(gen), filename)]
    for pair, pair_text in zip(gen.session.order, pair_texts, strict=True):
        pair_file = linecache_filename("differentiable pullback", pair.source.qualname, pair.wrt)
        scopes.append(emit.compile_module(pair_text, _with_set_at(pair), pair_file))
    links = {}
    for pair, scope in zip(gen.session.order, scopes[1:], strict=True):
        links[pair.fwd] = scope[pair.fwd]
        links[pair.bwd] = scope[pair.bwd]
    for scope in scopes:
        scope.update({k: v for k, v in links.items() if k in scope})
    fn = scopes[0][gen.node.name]
    fn.__adcompile_guards__ = list(getattr(gen, "captured", None) or [])
    return fn


def inner_guards(fn: Callable) -> list:
    """The guards of the user's code behind a differentiable generated function (so
    that the derivative of a gradient is compiled again when the gradient would be)."""
    return list(getattr(fn, "__adcompile_guards__", ()))
