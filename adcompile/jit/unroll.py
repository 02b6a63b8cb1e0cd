"""List and tuple parameters for numba: the generated gradient partially evaluated
with the containers' lengths known.

numba types a list by one element type and a tuple element by a constant index, so
``params[2 * i]`` over ``[W0, b0, W1, b1, ...]`` (matrices and vectors) cannot be
compiled as it is. The code is specialised to the call's structure and shapes
anyway, so every container's length is known: this pass passes each container
parameter as its elements (``params_0, params_1, ...``), unrolls every loop with a
constant number of iterations, folds integer arithmetic, and so reads each element
by name. Lists the code builds (``saved.append((...))``) and the adjoints of
containers (``zeros_adjoint``, ``add_at``) are followed element by element: the
values saved for the reverse sweep get a new name when they are assigned again
(``h__2``), and an adjoint's elements are variables (``dparams_4``).

Whatever it cannot follow (a container indexed by a number known only when the code
runs, a loop that builds a list with a bound known only then) is refused with a
located error."""

from __future__ import annotations

import ast
import copy
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import AdCompileError, Loc

HINT = "use backend='numpy' (the default) for this function"

MARK = "__adcompile_comment__"
FOLD = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}  # fmt: skip


@dataclass
class Static:
    """A container whose elements are known: each an expression, or a Static."""

    items: list
    kind: str = "list"


@dataclass
class Adjoint:
    """The adjoint of a container: each slot None (zero), a variable's name, or an
    Adjoint; ``like`` is the container it is the adjoint of."""

    like: Static
    slots: list = field(default_factory=list)


def flat_names(name: str, shape: object, taken: set) -> object:
    """The Static of a container parameter named ``name`` of the shape signature
    ``shape`` (``(list, (elements...))``), its leaves named ``name_0``, ``name_1_0``..."""
    if isinstance(shape, tuple) and len(shape) == 2 and shape[0] in (list, tuple):
        kind = "list" if shape[0] is list else "tuple"
        return Static([flat_names(f"{name}_{i}", s, taken) for i, s in enumerate(shape[1])], kind)
    if isinstance(shape, tuple) and len(shape) == 2 and shape[0] is dict:
        raise AdCompileError(
            f"the numba backend takes arrays, numbers, lists and tuples; {name!r} is a dict",
            hint=HINT,
        )
    while name in taken:
        name += "_"
    taken.add(name)
    node = ast.Name(name, ast.Load())
    node.held = True
    return node


def leaves(value: object) -> list[str]:
    """The names of a Static's leaves, in order."""
    if isinstance(value, Static):
        return [n for item in value.items for n in leaves(item)]
    return [value.id]


def comments_as_statements(body: str) -> str:
    """``body`` with its comment lines made string statements, which a tree keeps."""
    out = []
    for line in body.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("#"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}{MARK}({stripped!r})")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def statements_as_comments(text: str) -> str:
    out = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(MARK + "("):
            indent = line[: len(line) - len(stripped)]
            out.append(indent + ast.literal_eval(stripped[len(MARK) + 1 : -1]))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


class Unroller:
    """Partially evaluates one function (see the module's docstring)."""

    def __init__(self, fn: ast.FunctionDef, params: dict, loc: Callable) -> None:
        self.fn = fn
        self.loc = loc  # node -> Loc of the user's line
        self.env: dict[str, object] = {}  # name -> int, Static, Adjoint or current name
        self.taken = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
        self.taken |= {a.arg for a in fn.args.args}
        self.captured: set[str] = set()  # names a Static holds
        self.versions: dict[str, int] = {}
        self.loops = 0  # depth of loops not unrolled
        args = []
        for a in fn.args.args:
            if a.arg in params:
                try:
                    static = flat_names(a.arg, params[a.arg], self.taken)
                except AdCompileError as exc:  # (at the function's first located line)
                    where = next(filter(None, map(loc, fn.body)), None)
                    raise AdCompileError(exc.reason, where, exc.hint) from None
                self.env[a.arg] = static
                args += [ast.arg(n) for n in leaves(static)]
            else:
                args.append(a)
        fn.args.args = args

    def refuse(self, what: str, node: ast.AST) -> AdCompileError:
        return AdCompileError(
            f"the numba backend cannot compile this line: {what}", self.loc(node), hint=HINT
        )

    # ---------------------------------------------------------------- values

    def const(self, node: ast.expr) -> object:
        """The int (or Static/Adjoint) ``node`` evaluates to, or None."""
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name):
            v = self.env.get(node.id)
            return v if isinstance(v, int | Static | Adjoint) else None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self.const(node.operand)
            return -v if isinstance(v, int) else None
        if isinstance(node, ast.BinOp) and type(node.op) in FOLD:
            a, b = self.const(node.left), self.const(node.right)
            if isinstance(a, int) and isinstance(b, int):
                if isinstance(node.op, ast.FloorDiv | ast.Mod) and b == 0:
                    return None
                return FOLD[type(node.op)](a, b)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE:
            a, b = self.const(node.left), self.const(node.comparators[0])
            if type(a) is int and type(b) is int:  # (i < n - 1: 1 or 0)
                return int(COMPARE[type(node.ops[0])](a, b))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [self.const(a) for a in node.args]
            if node.func.id == "len" and len(args) == 1 and isinstance(args[0], Static):
                return len(args[0].items)
            if node.func.id in ("min", "max") and args and all(type(a) is int for a in args):
                return min(args) if node.func.id == "min" else max(args)
        if isinstance(node, ast.Subscript):
            c = self.const(node.value)
            if isinstance(c, Static):
                return self.element(c, node)
        if isinstance(node, ast.List | ast.Tuple) and isinstance(node.ctx, ast.Load):
            items = [self.const(e) for e in node.elts]
            if any(isinstance(i, Static | Adjoint) for i in items):
                return Static(
                    [
                        i if isinstance(i, Static) else self.expr(e)
                        for i, e in zip(items, node.elts, strict=True)
                    ]
                )
        return None

    def element(self, c: Static, node: ast.Subscript) -> object:
        part = slice_of(node.slice, self.const)
        if part is not None:  # (params[:-1]: the elements, as a container)
            return Static([i if isinstance(i, Static) else copy.deepcopy(i) for i in c.items[part]])
        i = self.const(node.slice)
        if not isinstance(i, int):
            raise self.refuse(
                f"{ast.unparse(node)} reads a list element at a position known only when "
                "the code runs",
                node,
            )
        if not -len(c.items) <= i < len(c.items):
            raise self.refuse(f"{ast.unparse(node)} is out of range", node)
        item = c.items[i]
        return item if isinstance(item, Static) else copy.deepcopy(item)

    def expr(self, node: ast.expr) -> ast.expr:
        """``node`` with known ints folded, containers' elements read by name and names
        renamed to their current version."""
        c = self.const(node)
        if isinstance(c, int):
            return ast.Constant(c)
        if isinstance(c, Static | Adjoint):
            if isinstance(c, Static) and isinstance(node, ast.Subscript | ast.Name) is False:
                pass
            if isinstance(c, Adjoint):
                return self.adjoint_value(c)
            if isinstance(c, Static) and all(not isinstance(i, Static) for i in c.items):
                return ast.Tuple([copy.deepcopy(i) for i in c.items], ast.Load())
            return ast.Tuple([self.expr_static(i) for i in c.items], ast.Load())
        if isinstance(c, ast.expr):
            return c
        if isinstance(node, ast.Name):
            if getattr(node, "held", False):  # (a container's element: already renamed)
                return node
            v = self.env.get(node.id)
            return ast.Name(v, node.ctx) if isinstance(v, str) else node
        new = copy.copy(node)
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(new, name, self.expr(value))
            elif isinstance(value, list):
                setattr(
                    new,
                    name,
                    [self.expr(v) if isinstance(v, ast.expr) else self.keyword(v) for v in value],
                )
        return new

    def expr_static(self, item: object) -> ast.expr:
        if isinstance(item, Static):
            return ast.Tuple([self.expr_static(i) for i in item.items], ast.Load())
        return copy.deepcopy(item)

    def keyword(self, k: object) -> object:
        if isinstance(k, ast.keyword):
            return ast.keyword(k.arg, self.expr(k.value))
        return k

    def adjoint_value(self, adj: Adjoint) -> ast.expr:
        """The adjoint as a tuple of its slots, a zero slot as zero_like of its element."""
        out = []
        for slot, like in zip(adj.slots, adj.like.items, strict=True):
            if isinstance(slot, Adjoint):
                out.append(self.adjoint_value(slot))
            elif slot is None:
                if isinstance(like, Static):
                    out.append(self.adjoint_value(Adjoint(like, [None] * len(like.items))))
                else:
                    call = ast.Call(ast.Name("zero_like", ast.Load()), [copy.deepcopy(like)], [])
                    out.append(call)
            else:
                out.append(ast.Name(slot, ast.Load()))
        return ast.Tuple(out, ast.Load())

    # ------------------------------------------------------------ statements

    def block(self, body: list) -> list:
        out = []
        for stmt in body:
            out += self.stmt(stmt)
        return out

    def stmt(self, node: ast.stmt) -> list:
        if isinstance(node, ast.Expr) and _is_mark(node):
            return [node]
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            return self.assign(node.targets[0], node.value, node)
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            if isinstance(self.env.get(node.target.id), Static | Adjoint | int):
                raise self.refuse(f"{ast.unparse(node)} updates a container", node)
            target = self.store(node.target.id, node, fresh=False)
            return [ast.AugAssign(ast.Name(target, ast.Store()), node.op, self.expr(node.value))]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            done = self.effect(node.value, node)
            if done is not None:
                return done
        if isinstance(node, ast.For):
            return self.loop(node)
        if isinstance(node, ast.If):
            return self.branch(node)
        if isinstance(node, ast.Return):
            value = None if node.value is None else self.expr(node.value)
            return [ast.Return(value)]
        if isinstance(node, ast.While):
            self.loops += 1
            try:
                return [
                    ast.While(self.expr(node.test), self.block(node.body), self.block(node.orelse))
                ]
            finally:
                self.loops -= 1
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(self.env.get(sub.id), Static | Adjoint):
                raise self.refuse(f"{ast.unparse(node).splitlines()[0]} uses a container", node)
        return [self.expr_stmt(node)]

    def expr_stmt(self, node: ast.stmt) -> ast.stmt:
        new = copy.copy(node)
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(new, name, self.expr(value))
        return new

    def store(self, name: str, node: ast.AST, fresh: bool = True) -> str:
        """The name an assignment to ``name`` writes: a new version when the current
        one is held by a container (or, in an unrolled loop, may be)."""
        current = self.env.get(name)
        current = current if isinstance(current, str) else name
        if fresh and current in self.captured:
            if self.loops:
                raise self.refuse(
                    f"{name} is kept in a list and assigned again in a loop whose length "
                    "is known only when the code runs",
                    node,
                )
            n = self.versions.get(name, 1) + 1
            new = f"{name}__{n}"
            while new in self.taken:
                n += 1
                new = f"{name}__{n}"
            self.versions[name] = n
            self.taken.add(new)
            current = new
        self.env[name] = current
        return current

    def assign(self, target: ast.expr, value: ast.expr, node: ast.stmt) -> list:
        taken = popped(self, value, node)
        if taken is not None:  # (h_1 = stack.pop(): the element the forward pushed last)
            item = taken if isinstance(taken, ast.expr) else _hold(taken, self)
            return self.assign(target, item, node)
        c = self.const(value)
        if isinstance(target, ast.Name):
            if isinstance(c, int | Static | Adjoint):
                self.env[target.id] = c
                return []
            if isinstance(value, ast.List) and not value.elts:
                self.env[target.id] = Static([])
                return []
            if isinstance(value, ast.Call) and self.is_adjoint_call(value):
                adj = self.adjoint_call(value, node)
                self.env[target.id] = adj
                return self.pending
            new = self.expr(value)
            return [ast.Assign([ast.Name(self.store(target.id, node), ast.Store())], new)]
        if isinstance(target, ast.Tuple | ast.List):
            if isinstance(c, Static):
                if len(c.items) != len(target.elts):
                    raise self.refuse(
                        f"{ast.unparse(node)} unpacks the wrong number of values", node
                    )
                out = []
                for t, item in zip(target.elts, c.items, strict=True):
                    out += self.assign(
                        t, item if isinstance(item, ast.expr) else _hold(item, self), node
                    )
                return out
            if isinstance(value, ast.Tuple) and len(value.elts) == len(target.elts):
                out = []
                for t, v in zip(target.elts, value.elts, strict=True):
                    out += self.assign(t, v, node)
                return out
            new = self.expr(value)
            names = [
                self.store(t.id, node) if isinstance(t, ast.Name) else None for t in target.elts
            ]
            if None in names:
                raise self.refuse(
                    f"{ast.unparse(node)} unpacks into a target numba code cannot hold", node
                )
            return [
                ast.Assign([ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store())], new)
            ]
        if isinstance(target, ast.Subscript):
            dc, k = self.const(target.value), self.const(target.slice)
            if isinstance(dc, Adjoint) and isinstance(k, int):
                self.pending = []
                dc.slots[k] = None  # (set: the element's adjoint starts again from zero)
                self.add_into(dc, k, value, node)
                return self.pending
        raise self.refuse(f"{ast.unparse(node)} assigns into a container", node)

    # -------------------------------------------------------- containers

    def effect(self, call: ast.Call, node: ast.stmt) -> list | None:
        """A call statement on a container: ``saved.append(...)`` or ``add_at(...)``."""
        f = call.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            owner = self.env.get(f.value.id)
            if isinstance(owner, Static) and f.attr == "append" and len(call.args) == 1:
                if self.loops:
                    raise self.refuse(
                        "a list is built in a loop whose length is known only when the code runs",
                        node,
                    )
                owner.items.append(self.hold(call.args[0]))
                return []
        if _called(call) == "add_at":
            self.adjoint_call(call, node)
            return self.pending
        return None

    def is_adjoint_call(self, call: ast.Call) -> bool:
        name = _called(call)
        if name in ("zeros_adjoint", "add_at"):
            return True
        return name == "zero_like" and isinstance(self.const(call.args[0]), Static)

    def hold(self, value: ast.expr) -> object:
        """What a container keeps of ``value``: a Static, or the expression of it, whose
        names are marked as held (assigning them again makes new versions)."""
        c = self.const(value)
        if isinstance(c, Static):
            return c
        if isinstance(value, ast.Tuple):
            return Static([self.hold(e) for e in value.elts], "tuple")
        new = self.expr(value)
        for n in ast.walk(new):
            if isinstance(n, ast.Name):
                self.captured.add(n.id)
                n.held = True
        return new

    def adjoint_call(self, call: ast.Call, node: ast.stmt) -> Adjoint:
        """Run ``zeros_adjoint(c)`` or ``add_at(dc, key, g)``; the statements it needs
        are left in ``self.pending``."""
        self.pending = []
        name = _called(call)
        if name in ("zeros_adjoint", "zero_like"):
            like = self.const(call.args[0])
            if not isinstance(like, Static):
                raise self.refuse("the adjoint of a container numba code cannot follow", node)
            return Adjoint(like, [None] * len(like.items))
        if len(call.args) != 3:
            raise self.refuse("add_at with a slice", node)
        dc_node, key, g = call.args
        if isinstance(dc_node, ast.Call) and _called(dc_node) == "zeros_adjoint":
            dc = self.adjoint_call(dc_node, node)
        else:
            dc = self.const(dc_node)
        part = slice_call(key, self.const)
        if part is not None and isinstance(dc, Adjoint):  # (params[:-1]'s adjoint)
            src = self.const(g)
            positions = list(range(len(dc.like.items)))[part]
            if not isinstance(src, Adjoint) or len(src.slots) != len(positions):
                raise self.refuse("the adjoint of a slice of a container", node)
            for k, slot in zip(positions, src.slots, strict=True):
                merge(self, dc, k, slot, node)
            return dc
        k = self.const(key)
        if not isinstance(dc, Adjoint) or not isinstance(k, int):
            raise self.refuse(
                "the adjoint of a list element at a position known only when the code runs",
                node,
            )
        self.add_into(dc, k, g, node)
        return dc

    def add_into(self, dc: Adjoint, k: int, g: ast.expr, node: ast.stmt) -> None:
        like = dc.like.items[k]
        if isinstance(like, Static):
            if not isinstance(g, ast.List | ast.Tuple) or len(g.elts) != len(like.items):
                raise self.refuse(
                    "the adjoint of a nested container numba code cannot follow", node
                )
            if dc.slots[k] is None:
                dc.slots[k] = Adjoint(like, [None] * len(like.items))
            for j, e in enumerate(g.elts):
                self.add_into(dc.slots[k], j, e, node)
            return
        value = self.expr(g)
        slot = dc.slots[k]
        if slot is None:
            base = leaves(like)[0] if isinstance(like, ast.Name) else "element"
            name = "d" + base
            while name in self.taken:
                name += "_"
            self.taken.add(name)
            dc.slots[k] = name
            self.pending.append(ast.Assign([ast.Name(name, ast.Store())], value))
        else:
            total = ast.BinOp(ast.Name(slot, ast.Load()), ast.Add(), value)
            self.pending.append(ast.Assign([ast.Name(slot, ast.Store())], total))

    # ------------------------------------------------------------ control

    def loop(self, node: ast.For) -> list:
        bounds = None
        if isinstance(node.iter, ast.Call) and _called(node.iter) == "range" and not node.orelse:
            bounds = [self.const(a) for a in node.iter.args]
        over = self.iterated(node.iter)
        if over is not None and not node.orelse:
            out = []
            for item in over:
                value = item if isinstance(item, ast.expr) else _hold(item, self)
                out += self.assign(node.target, value, node)
                out += self.block(node.body)
            return out
        if bounds and all(isinstance(b, int) for b in bounds) and isinstance(node.target, ast.Name):
            out = []
            for i in range(*bounds):
                self.env[node.target.id] = i
                out += self.block(node.body)
            return out
        self.loops += 1
        try:
            target = node.target
            if isinstance(target, ast.Name):
                target = ast.Name(self.store(target.id, node), ast.Store())
            return [ast.For(target, self.expr(node.iter), self.block(node.body), [])]
        finally:
            self.loops -= 1

    def iterated(self, node: ast.expr) -> list | None:
        """The items of a loop over a container (or a slice of it, ``c[::-1]``,
        ``c[:-1]``)."""
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            part = slice_of(node.slice, self.const)
            items = self.iterated(node.value) if part is not None else None
            return None if items is None else items[part]
        c = self.const(node)
        return list(c.items) if isinstance(c, Static) else None

    def branch(self, node: ast.If) -> list:
        test = self.const(node.test)
        if isinstance(test, int):
            return self.block(node.body if test else node.orelse)
        before = dict(self.env)
        self.loops += 1  # (a branch assigns no held name a new version either)
        try:
            body = self.block(node.body)
            after_body = dict(self.env)
            self.env = dict(before)
            orelse = self.block(node.orelse)
        finally:
            self.loops -= 1
        for k in set(after_body) | set(self.env):
            a, b = after_body.get(k), self.env.get(k)
            if a is not b and (
                isinstance(a, Static | Adjoint | int) or isinstance(b, Static | Adjoint | int)
            ):
                raise self.refuse("a container or a number that differs between the branches", node)
        return [ast.If(self.expr(node.test), body or [ast.Pass()], orelse)]


def slice_of(node: ast.expr, const: Callable) -> slice | None:
    """The slice ``node`` is, when its bounds are ints known here."""
    if not isinstance(node, ast.Slice):
        return None
    bounds = [None if b is None else const(b) for b in (node.lower, node.upper, node.step)]
    if any(b is not None and type(b) is not int for b in bounds) or bounds[2] == 0:
        return None
    return slice(*bounds)


def slice_call(node: ast.expr, const: Callable) -> slice | None:
    """The slice of ``slice(a, b, c)`` with ints (or None) known here."""
    if not (isinstance(node, ast.Call) and _called(node) == "slice") or node.keywords:
        return None
    bounds = [
        None if isinstance(a, ast.Constant) and a.value is None else const(a) for a in node.args
    ]
    if any(b is not None and type(b) is not int for b in bounds) or len(bounds) > 3:
        return None
    return None if len(bounds) == 3 and bounds[2] == 0 else slice(*bounds)


def popped(unroller: Unroller, value: ast.expr, node: ast.stmt) -> object:
    """The element ``c.pop()`` takes from a container built here, or None."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
        return None
    f = value.func
    owner = unroller.env.get(f.value.id) if isinstance(f.value, ast.Name) else None
    if not isinstance(owner, Static) or f.attr != "pop" or value.args or value.keywords:
        return None
    if unroller.loops:
        raise unroller.refuse("a list is read in a loop whose length is known only then", node)
    if not owner.items:
        raise unroller.refuse(f"{ast.unparse(value)} pops from an empty list", node)
    return owner.items.pop()


def merge(unroller: Unroller, dc: Adjoint, k: int, src: object, node: ast.stmt) -> None:
    """Add the adjoint ``src`` (a slot of another Adjoint) into ``dc``'s slot ``k``."""
    if src is None:
        return
    if isinstance(src, Adjoint):
        like = dc.like.items[k]
        if not isinstance(like, Static) or len(like.items) != len(src.slots):
            raise unroller.refuse("the adjoint of a nested container numba cannot follow", node)
        if dc.slots[k] is None:
            dc.slots[k] = Adjoint(like, [None] * len(like.items))
        for j, slot in enumerate(src.slots):
            merge(unroller, dc.slots[k], j, slot, node)
        return
    unroller.add_into(dc, k, ast.Name(src, ast.Load()), node)


def _is_mark(node: ast.Expr) -> bool:
    v = node.value
    return isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == MARK


def _called(call: ast.Call) -> str | None:
    return call.func.id if isinstance(call.func, ast.Name) else None


def _hold(item: object, unroller: Unroller) -> ast.expr:
    """A Static element as an expression the unroller's env can bind a name to."""
    name = f"__static_{id(item)}"
    unroller.env[name] = item
    return ast.Name(name, ast.Load())


def unroll(body: str, params: dict, loc: Callable[[ast.AST], Loc | None]) -> tuple[str, list]:
    """The function of ``body`` (its first def) with the container parameters
    ``params`` (name -> shape signature) passed as their elements; returns the new
    text and the parameters' Statics (in order)."""
    tree = ast.parse(comments_as_statements(body))
    fn = tree.body[0]
    un = Unroller(fn, params, loc)
    statics = [un.env[p] for p in params]
    fn.body = un.block(fn.body)
    ast.fix_missing_locations(tree)
    text = statements_as_comments(ast.unparse(tree))
    return text, statics
