"""The normalized program: the contract between ``normalize`` and the later stages.

After normalization a function body is a list of statements of these kinds:

* :class:`Assign` -- ``target = <one primitive over atoms>``. Within one block
  (a function body, a branch, a loop body) every assignment defines a new name,
  so the reverse sweep can read any intermediate as an ordinary local variable.
* :class:`If` -- a branch on an atom; both branches are blocks, and the values
  that differ after the branch are merged by *joins* (one name, assigned at the
  end of each branch).
* :class:`Loop` -- ``for target in iterable`` over a ``range`` or ``while test``;
  the body is a block; variables the body reassigns are *carried*: one name,
  assigned before the loop and at the end of each iteration.
* :class:`Return` -- ``return <atom>``, last in the function body.

An *atom* is an ``ast.Name`` (a local or a global), an ``ast.Constant``, or an
attribute of a module (``np.pi``). Operands of a primitive are atoms, an index
expression built from atoms (for subscripts), or a tuple of atoms (for
``np.concatenate``/``np.stack``).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import Loc
from .frontend import SourceFunction


@dataclass(frozen=True)
class Comment:
    """A ``#`` line in generated code (a marker statement that ``emit`` prints)."""

    text: str


@dataclass
class Assign:
    target: str
    value: ast.expr  # the forward expression, as emitted
    prim: object | None  # whose rule differentiates it; None: the result is constant
    operands: dict[str, ast.expr]  # rule parameter -> operand
    loc: Loc
    scalar: bool = False  # the result is provably a scalar
    # run for what it does, not for a value ("call": print(...); "raise": raise exc):
    # kept once in the forward sweep, emitted as that statement, never differentiated
    effect: str | None = None

    def reads(self) -> set[str]:
        return names_in(self.value)


@dataclass
class Return:
    value: ast.expr
    loc: Loc


@dataclass
class If:
    test: ast.expr  # an atom
    body: list[Stmt]
    orelse: list[Stmt]
    joins: list[tuple[str, ast.expr, ast.expr]]  # (name, atom from body, atom from orelse)
    loc: Loc


@dataclass
class Loop:
    target: str | None  # the loop variable of a for loop (an int: loops run over ranges)
    iter: ast.expr | None  # atom holding the range, for a for loop
    test: ast.expr | None  # a non-differentiable expression over names, for a while loop
    body: list[Stmt]
    carried: list[tuple[str, ast.expr, ast.expr]]  # (name, atom before, atom at body end)
    count: str  # the name counting iterations, for the reverse loop
    loc: Loc
    exit: str | None = None  # a flag that, once true, makes every further iteration idle


Stmt = Assign | Return | If | Loop


def write_statements(stmt: Assign, copy: bool) -> list[ast.stmt]:
    """The code of an element assignment ``x_2 = setitem(x_1, index, v)`` (whose value
    is the display ``(x_1[index], v)``): ``x_1[index] = v`` into ``x_1``'s memory, then
    ``x_2 = x_1``; or, with ``copy``, ``x_2 = x_1.copy()`` and the write into that."""
    written, v = stmt.value.elts
    x = written.value
    target = ast.Name(id=stmt.target, ctx=ast.Store())
    if copy:
        method = ast.Attribute(value=x, attr="copy", ctx=ast.Load())
        first = ast.Assign(targets=[target], value=ast.Call(func=method, args=[], keywords=[]))
        into = ast.Name(id=stmt.target, ctx=ast.Load())
        element = ast.Subscript(value=into, slice=written.slice, ctx=ast.Store())
        return [first, ast.Assign(targets=[element], value=v)]
    element = ast.Subscript(value=x, slice=written.slice, ctx=ast.Store())
    return [ast.Assign(targets=[element], value=v), ast.Assign(targets=[target], value=x)]


def walk(body: list[Stmt]):
    """Every statement of ``body`` and of the blocks nested in it, in order."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, If):
            yield from walk(stmt.body)
            yield from walk(stmt.orelse)
        elif isinstance(stmt, Loop):
            yield from walk(stmt.body)


def all_defs(body: list[Stmt]) -> set[str]:
    """Names a block defines, nested blocks (and their loops' targets) included."""
    return _defs(walk(body), nested=True)


def block_defs(body: list[Stmt]) -> set[str]:
    """Names a block defines at its own level (what a saving region must push)."""
    return _defs(body, nested=False)


def _defs(stmts, nested: bool) -> set[str]:
    defs: set[str] = set()
    for stmt in stmts:
        if isinstance(stmt, Assign):
            defs.add(stmt.target)
        elif isinstance(stmt, If):
            defs |= {j for j, _, _ in stmt.joins}
        elif isinstance(stmt, Loop):
            defs |= {c for c, _, _ in stmt.carried} | {stmt.count}
            if nested and stmt.target:
                defs.add(stmt.target)
    return defs


@dataclass
class Function:
    name: str
    params: list[str]
    body: list[Stmt]
    globals: dict[str, object]  # free names of the forward code -> objects
    source: SourceFunction
    names: NameAllocator
    defaults: dict[str, object] = field(default_factory=dict)
    scalars: set[str] = field(default_factory=set)  # names provably holding a scalar
    kinds: dict[str, object] = field(default_factory=dict)  # name -> structure (containers)
    temps: set[str] = field(default_factory=set)  # temporaries normalize introduced
    # parameters whose argument Python's x op= ... writes into:
    # param -> (Loc, operator, the variable updated), see inplace.check
    updates: dict[str, tuple] = field(default_factory=dict)

    def is_scalar(self, expr: ast.expr) -> bool:
        if isinstance(expr, ast.Constant):
            return isinstance(expr.value, int | float | complex | bool)
        if isinstance(expr, ast.Name):
            if expr.id in self.globals:
                return isinstance(self.globals[expr.id], int | float | complex)
            return expr.id in self.scalars
        return False


_LEAVES = {ast.Name, ast.Constant}  # nodes whose children all lack fields


def nodes(*roots: ast.AST, breadth_first: bool = False) -> Iterator[ast.AST]:
    """Every node of the trees ``roots`` but those without fields (``Load``, ``Add``...):
    in ``ast.walk``'s order with ``breadth_first``, else depth first. (The traversal
    the hot paths share: a few times faster than ``ast.walk``.)"""
    todo = deque(roots) if breadth_first else list(roots)
    pop = todo.popleft if breadth_first else todo.pop
    while todo:
        n = pop()
        yield n
        if type(n) in _LEAVES:
            continue
        for key in n._fields:
            v = getattr(n, key, None)
            if type(v) is list:
                todo.extend([x for x in v if isinstance(x, ast.AST) and x._fields])
            elif isinstance(v, ast.AST) and v._fields:
                todo.append(v)


def names_in(node: ast.AST, loads_only: bool = False) -> set[str]:
    """Every name in ``node`` (only those read, with ``loads_only``). The hottest walk
    of all, called on every small expression: written out, without ``nodes``'s generator."""
    if type(node) is ast.Name:  # most operands are names: no stack for them
        return {node.id} if not loads_only or type(node.ctx) is ast.Load else set()
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is ast.Name:
            if not loads_only or type(n.ctx) is ast.Load:
                out.add(n.id)
            continue
        for name in n._fields:
            v = getattr(n, name, None)
            if type(v) is list:
                stack.extend(x for x in v if isinstance(x, ast.AST))
            elif isinstance(v, ast.AST):
                stack.append(v)
    return out


def transform(node: ast.AST, hooks: dict) -> ast.AST:
    """Rewrite ``node`` bottom-up, in place: each child first, then ``hooks[type(n)](n)``
    for the nodes whose type has a hook, whose result replaces ``n``. (What an
    ``ast.NodeTransformer`` with those ``visit_`` methods does, a few times faster.)"""
    for key in node._fields:
        value = getattr(node, key, None)
        if type(value) is list:
            for i, item in enumerate(value):
                if isinstance(item, ast.AST) and item._fields:
                    value[i] = transform(item, hooks)
        elif isinstance(value, ast.AST) and value._fields:
            setattr(node, key, transform(value, hooks))
    hook = hooks.get(type(node))
    return node if hook is None else hook(node)


def contains(node: ast.AST, match) -> bool:
    """Whether any node of the tree ``node`` satisfies ``match``."""
    stack = [node]
    while stack:
        n = stack.pop()
        if match(n):
            return True
        for key in n._fields:
            v = getattr(n, key, None)
            if type(v) is list:
                stack.extend(x for x in v if isinstance(x, ast.AST))
            elif isinstance(v, ast.AST):
                stack.append(v)
    return False


def dump(body: list[Stmt], indent: str = "") -> str:
    """The statements as text, one a line, for reading and for tests: an assignment
    as ``target = value``, marked ``# constant`` when it has no primitive (``x.shape``),
    an ``if`` with its joins, a loop with its carried names (``name: before -> end``)."""
    lines = []
    for stmt in body:
        if isinstance(stmt, Assign):
            note = "  # constant" if stmt.prim is None else ""
            value = ast.unparse(stmt.value)
            if getattr(stmt.prim, "name", None) == "setitem":  # x_2 = x_1 with x_1[i] = v
                written, v = stmt.value.elts
                value = f"{ast.unparse(written.value)} with [{ast.unparse(written.slice)}] = "
                value += ast.unparse(v)
            lines.append(f"{indent}{stmt.target} = {value}{note}")
        elif isinstance(stmt, Return):
            lines.append(f"{indent}return {ast.unparse(stmt.value)}")
        elif isinstance(stmt, If):
            lines.append(f"{indent}if {ast.unparse(stmt.test)}:")
            lines.append(dump(stmt.body, indent + "    ") or f"{indent}    pass")
            lines.append(f"{indent}else:")
            lines.append(dump(stmt.orelse, indent + "    ") or f"{indent}    pass")
            for join, a, b in stmt.joins:
                lines.append(f"{indent}{join} = join({ast.unparse(a)}, {ast.unparse(b)})")
        elif isinstance(stmt, Loop):
            if stmt.iter is not None:
                head = f"for {stmt.target} in {ast.unparse(stmt.iter)}"
            else:
                head = f"while {ast.unparse(stmt.test)}"
            carried = ", ".join(
                f"{c}: {ast.unparse(a)} -> {ast.unparse(b)}" for c, a, b in stmt.carried
            )
            lines.append(f"{indent}{head}:  # carried {carried or 'nothing'}")
            lines.append(dump(stmt.body, indent + "    ") or f"{indent}    pass")
    return "\n".join(lines)


class NameAllocator:
    """Hands out readable, unique, deterministic names derived from the user's own."""

    def __init__(self, reserved: set[str]) -> None:
        self.reserved = set(reserved)
        self.claimed: set[str] = set()
        self.next: dict[str, int] = {}  # base -> the suffix to try first

    def claim(self, name: str) -> str:
        """The user's own ``name`` if it is still free, else a fresh variant of it."""
        if name not in self.claimed:
            self.claimed.add(name)
            return name
        return self.fresh(name)

    def fresh(self, base: str) -> str:
        base = base.rstrip("_") or "t"
        if base not in self.reserved and base not in self.claimed:
            self.claimed.add(base)
            return base
        i = self.next.get(base, 1)
        while f"{base}_{i}" in self.reserved or f"{base}_{i}" in self.claimed:
            i += 1
        name = f"{base}_{i}"
        self.claimed.add(name)
        self.next[base] = i + 1
        return name


@dataclass(frozen=True, eq=False)
class CallPrim:
    """A call of another user function, differentiated through that function's own
    generated forward/backward pair (its pullback)."""

    source: SourceFunction
    kinds: tuple  # the structure of each argument
    params: tuple[str, ...]
    result_kind: object
    # the callee's own parameters, when they are not all plain (``*args``, keyword-only,
    # ...): the call then passes its values as Python binds them (see ``python_call``)
    signature: ast.arguments | None = None

    def differentiable(self, param: str) -> bool:
        return True

    def plain_arguments(self, value: ast.Call) -> list[ast.expr]:
        """The arguments of ``value`` (this call as the user function takes them) in the
        order of ``params``, for the function's generated pair, which takes them all
        positionally: ``*args`` as the tuple, ``**kwargs`` as the dict."""
        sig = self.signature
        if sig is None:
            return list(value.args)
        positional = [a.arg for a in [*sig.posonlyargs, *sig.args]]
        bound: dict[str, ast.expr] = {}
        for a in value.args:
            if isinstance(a, ast.Starred):
                bound[sig.vararg.arg] = a.value
            else:
                bound[positional[len(bound)]] = a
        for k in value.keywords:
            bound[k.arg if k.arg is not None else sig.kwarg.arg] = k.value
        return [bound[p] for p in self.params]


@dataclass(frozen=True, eq=False)
class OdeintPrim:
    """A call ``ys = scipy.integrate.odeint(func, y0, t, args=(...), ...)`` of a user
    function ``func``: differentiated by the adjoint method, a solve backwards in time
    whose right-hand side calls ``func``'s own generated pullback pair.

    Operands: ``y0``, ``t``, ``arg0``, ``arg1``, ... (the values of ``func``'s
    parameters after ``y`` and ``t``, in order: the elements of ``args``, then the
    defaults of the parameters they leave unfilled, constants that are never active),
    and the solver's options by their keywords (``rtol``, ``atol``, ...), which have no
    derivative."""

    source: SourceFunction  # func
    kinds: tuple  # the structure of each of func's parameters
    params: tuple[str, ...]  # func's parameters
    extras: int  # how many parameters follow y and t (operands arg0, arg1, ...)
    tfirst: bool  # func(t, y, ...) rather than func(y, t, ...)
    options: tuple[str, ...]  # the solver's keyword operands

    def differentiable(self, param: str) -> bool:
        return param in ("y0", "t") or param.startswith("arg")

    def __repr__(self) -> str:
        return f"<odeint of {self.source.name}>"


def python_call(func: ast.expr, signature: ast.arguments | None, values: dict) -> ast.Call:
    """The call of a user function with the values of its parameters (by name), passed as
    its signature takes them: ``*args`` and ``**kwargs`` unpacked, keyword-only
    parameters by keyword, the extra parameters of a lifted nested function by keyword."""
    if signature is None:
        return ast.Call(func=func, args=list(values.values()), keywords=[])
    positional = [a.arg for a in [*signature.posonlyargs, *signature.args]]
    args: list[ast.expr] = [values[p] for p in positional]
    keywords: list[ast.keyword] = []
    if signature.vararg is not None:
        args.append(ast.Starred(value=values[signature.vararg.arg], ctx=ast.Load()))
    own = set(positional) | {a.arg for a in (signature.vararg, signature.kwarg) if a is not None}
    for p, v in values.items():
        if p not in own:
            keywords.append(ast.keyword(arg=p, value=v))
    if signature.kwarg is not None:
        keywords.append(ast.keyword(arg=None, value=values[signature.kwarg.arg]))
    return ast.Call(func=func, args=args, keywords=keywords)

    def __repr__(self) -> str:
        return f"<call {self.source.name}>"


def function_def(fname: str, params: list[str], code: list) -> ast.FunctionDef:
    """A plain ``def fname(params): code`` node, on every supported Python."""
    args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg=p) for p in params],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    node = ast.FunctionDef(
        name=fname, args=args, body=code, decorator_list=[], returns=None, type_comment=None
    )
    if hasattr(ast.FunctionDef, "type_params"):
        node.type_params = []
    return node
