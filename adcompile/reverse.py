"""Reverse: the transformation itself.

Given a normalized function and the parameters to differentiate, build the
generated function: the forward (primal) sweep, which keeps every intermediate
the reverse sweep reads, then the adjoint sweep, which walks the statements
backwards and inlines each primitive's adjoint rule.

Adjoints are built correctly in one pass:

* only active values (see ``analysis.py``) get adjoints;
* an adjoint's first contribution is an assignment (or, when it is just another
  variable, an alias with no statement at all); later ones add to it, in place
  when the adjoint holds an array this function created;
* a contribution to an operand that numpy may have broadcast is summed back to
  the operand's shape with ``unbroadcast``.

Control flow: the reverse of ``if`` takes the branch the forward took (the
condition is an ordinary variable); adjoints that the two branches leave in
different variables are merged under one name at the end of each branch. The
reverse of a loop is a loop running the iterations backwards. A loop body is a
*saving region*: at the end of each iteration the forward pushes, as one tuple
of references, exactly the body's values that the reverse body reads, and the
reverse pops them back. Values carried from one iteration to the next have a
carried adjoint; values defined outside the loop and used inside accumulate
their adjoint in place across iterations.
"""

from __future__ import annotations

import ast
import inspect
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import rules, runtime
from .analysis import Activity, differentiable_operands
from .errors import AdCompileError
from .ir import (
    Assign,
    CallPrim,
    Comment,
    Function,
    If,
    Loop,
    Return,
    Stmt,
    contains,
    names_in,
    walk,
)
from .optimize import SIMPLIFY_HOOKS, is_fresh, simplify
from .rules import containers
from .rules.containers import LEAF, ContainerPrim
from .rules.registry import lookup_specialized, selection, substituted

MODES = ("grad", "value_and_grad", "vjp")


@dataclass
class Generated:
    """A generated function, before it becomes source text."""

    node: ast.FunctionDef  # body may contain Comment markers
    namespace: dict[str, object]
    wrt: list[str]
    mode: str
    result_loc: object
    cotangent: str | None = None  # the vjp's extra parameter
    notes: list[str] = field(default_factory=list)
    # per wrt: the gradient is a new array (a container: each of its arrays is new, and
    # distinct from the others)
    fresh: list = field(default_factory=list)
    captured: list = field(default_factory=list)  # guards of the names it resolved (api.py)
    generation: int = 0  # of the rule registry this code was compiled with
    text: str = ""  # the main function's source, once emitted
    session: object = None  # the link session holding the called functions' pairs
    # parameters whose argument the user's x op= ... writes into (Function.updates), and
    # the arrays the code reads besides its arguments: a call checks they are apart
    updates: dict = field(default_factory=dict)
    constant_arrays: list = field(default_factory=list)


def name(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Load())


def store(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Store())


def call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func=func, args=list(args), keywords=[])


def assign(target: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[store(target)], value=value)


def _block_defs(body: list[Stmt]) -> set[str]:
    """Names a block defines at its own level (what a saving region must push)."""
    defs: set[str] = set()
    for stmt in body:
        if isinstance(stmt, Assign):
            defs.add(stmt.target)
        elif isinstance(stmt, If):
            defs |= {j for j, _, _ in stmt.joins}
        elif isinstance(stmt, Loop):
            defs |= {c for c, _, _ in stmt.carried} | {stmt.count}
    return defs


def _all_defs(body: list[Stmt]) -> set[str]:
    defs: set[str] = set()
    for stmt in walk(body):
        if isinstance(stmt, Assign):
            defs.add(stmt.target)
        elif isinstance(stmt, If):
            defs |= {j for j, _, _ in stmt.joins}
        elif isinstance(stmt, Loop):
            defs |= {c for c, _, _ in stmt.carried} | {stmt.count}
            if stmt.target:
                defs.add(stmt.target)
    return defs


@dataclass
class _State:
    adj: dict[str, ast.expr]
    owned: set[str]
    pending: list[str] = field(default_factory=list)

    def copy(self) -> _State:
        return _State(dict(self.adj), set(self.owned), list(self.pending))


class _Reverse:
    def __init__(
        self,
        fn: Function,
        wrt: list[str],
        mode: str,
        session,
        arg_shapes,
        shapes: dict,
        act: Activity,
    ) -> None:
        self.fn = fn
        self.shapes = shapes
        self.session = session
        self.call_saved: dict[str, tuple[str, str]] = {}  # call target -> (saved name, fwd)
        self.recomputed: set[str] = set()  # values the reverse sweep computes again itself
        self.wrt = wrt
        self.mode = mode
        self.names = fn.names
        self.act: Activity = act
        self.namespace: dict[str, object] = dict(fn.globals)
        self.locals = set(fn.params) | _all_defs(fn.body)
        self.renames: dict[str, str] = {}  # template free name -> its name here
        self.state = _State({}, set())
        self.adj_names: dict[str, str] = {}
        self.primal_of: dict[str, str] = {}  # adjoint name -> the value it is the adjoint of
        self.out: list[ast.stmt | Comment] = []
        self.last_loc = None
        self.want: list = []  # source lines to name before the next reverse statement
        self.current_loc = None  # the statement being differentiated
        self.inlined_locs: list = []  # lines of the pending cotangent it inlined
        self.pending_locs: dict[str, list] = {}  # lines a pending expression comes from
        # names whose adjoint a rule will consume (so worth keeping pending)
        self.consumable = {s.target for s in walk(fn.body) if isinstance(s, Assign)} | {
            c for s in walk(fn.body) if isinstance(s, Loop) for c, _, _ in s.carried
        }
        # saving regions: id(block) -> names its reverse pops
        self.saved: dict[int, list[str]] = {}
        self.region_loads: dict[int, set[str]] = {}
        self.has_reverse: set[int] = set()  # ids of loops with a reverse loop
        self.stack: str | None = None
        # loops whose saved values go on a list of their own: id(loop) -> the list's name
        self.loop_lists: dict[int, str] = {}
        # reads c[i] of a loop over range(n) whose element i no other read touches, and
        # that no adjoint reached before the loop: the reverse assigns dc[i] = ...
        self.single_slots: set[int] = set()
        # containers whose adjoint only such assignments filled, each element a new array
        self.fresh_containers: set[str] = set()
        self.inline: set[str] = set()  # forward temporaries written into their consumer
        self._rule_hooks = {ast.Call: self._tidy_call, **SIMPLIFY_HOOKS}
        self.python_floats = {
            p for p, s in zip(fn.params, arg_shapes or (), strict=False) if s is float
        }
        self.forward_names, self.python_numbers = _python_numbers(fn, arg_shapes)

    # ------------------------------------------------------------ namespace

    def free_name(self, ident: str, obj: object) -> str:
        """The name under which generated code reaches a helper or module ``obj``."""
        if ident in self.renames:
            return self.renames[ident]
        taken = ident in self.locals or (
            ident in self.namespace and self.namespace[ident] is not obj
        )
        new = self.names.fresh(ident) if taken else ident
        self.namespace[new] = obj
        self.renames[ident] = new
        return new

    def helper(self, ident: str) -> ast.Name:
        return name(self.free_name(ident, runtime.HELPERS[ident]))

    def np_attr(self, attr: str) -> ast.expr:
        return ast.Attribute(value=name(self.free_name("np", np)), attr=attr, ctx=ast.Load())

    def kind(self, x: str) -> object:
        return self.fn.kinds.get(x, LEAF)

    # ------------------------------------------------------------- adjoints

    @property
    def adj(self) -> dict[str, ast.expr]:
        return self.state.adj

    @property
    def owned(self) -> set[str]:
        return self.state.owned

    @property
    def pending(self) -> list[str]:
        return self.state.pending

    @contextmanager
    def output(self, out: list):
        saved = self.out, self.last_loc, self.want
        self.out, self.last_loc, self.want = out, None, list(self.want)
        try:
            yield out
        finally:
            self.out, self.last_loc, self.want = saved

    def adjoint_name(self, x: str) -> str:
        if x not in self.adj_names:
            self.adj_names[x] = self.names.fresh("d" + x)
            self.primal_of[self.adj_names[x]] = x
        return self.adj_names[x]

    def zero(self, x: str) -> ast.expr:
        if x in self.python_floats:
            return ast.Constant(0.0)  # a Python float's adjoint stays a Python float
        return call(self.helper("zero_like"), name(x))

    def accumulate(self, x: str, contribution: ast.expr, simplified: bool = False) -> None:
        """Add ``contribution`` to the adjoint of ``x``.

        A first contribution that is an expression is kept *pending* rather than
        assigned: if nothing else is added to it and the rule that consumes it reads
        it once, it is inlined there, so chains of elementwise adjoints become one
        expression (and their minus signs cancel). Pending expressions only read
        values that no longer change, and are flushed at every block boundary. A
        ``simplified`` contribution (an inlined rule's) is simplified again only where a
        broadcast is dropped."""
        if self.shapes and contains(contribution, _is_broadcast_to):
            c = simplify(self.drop_broadcasts(contribution))
        elif simplified:
            c = contribution
        else:
            c = simplify(contribution)
        container = self.kind(x) != LEAF
        self.fresh_containers.discard(x)
        if x in self.pending:
            if self.is_scalar(x):
                # one expression for both: on a scalar, a statement costs more than the
                # temporary that `dx = a; dx += b` would save on an array
                self.adj[x] = simplify(ast.BinOp(left=self.adj[x], op=ast.Add(), right=c))
                self.pending_locs[x] = [
                    loc for loc in [*self.pending_locs.get(x, []), self.current_loc] if loc
                ]
                return
            self.flush(x)
        if x not in self.adj:
            if isinstance(c, ast.Name | ast.Constant):
                self.adj[x] = c
                return
            if not container and x in self.consumable:
                self.adj[x] = c
                self.pending.append(x)
                locs = [*self.inlined_locs, self.current_loc]
                self.pending_locs[x] = [loc for loc in locs if loc is not None]
                return
            dx = self.adjoint_name(x)
            self.put(assign(dx, c))
            self.adj[x] = name(dx)
            if is_fresh(c):
                self.owned.add(x)
            return
        dx = self.adjoint_name(x)
        current = self.adj[x]
        if container:
            value = call(self.helper("add_adjoint"), current, c)
            self.put(assign(dx, value))
        elif x in self.owned and current_is(current, dx):
            self.put(ast.AugAssign(target=store(dx), op=ast.Add(), value=c))
            return
        else:
            self.put(assign(dx, ast.BinOp(left=current, op=ast.Add(), right=c)))
        self.adj[x] = name(dx)
        self.owned.add(x)

    def is_scalar(self, x: str) -> bool:
        """Whether ``x`` provably holds a scalar (a number, not an array)."""
        return x in self.python_floats or x in self.fn.scalars or self.shapes.get(x) == ()

    def flush(self, x: str | None = None) -> None:
        """Assign pending adjoint expressions (all of them, or the one of ``x``)."""
        for y in [x] if x is not None else list(self.pending):
            self.pending.remove(y)
            c = self.adj[y]
            dy = self.adjoint_name(y)
            want, self.want = self.want, self.pending_locs.pop(y, [])
            self.put(assign(dy, c))
            self.want = want
            self.adj[y] = name(dy)
            if is_fresh(c) or isinstance(c, ast.List):
                self.owned.add(y)
            else:
                self.owned.discard(y)

    def cotangent(self, x: str, uses: int) -> ast.expr:
        """The adjoint of ``x`` for a rule that reads it ``uses`` times: a pending
        expression read once is inlined, otherwise it is assigned first."""
        if x in self.pending:
            if uses == 1:
                self.pending.remove(x)
                self.inlined_locs = self.pending_locs.pop(x, [])
                return self.adj.pop(x)
            self.flush(x)
        return self.adj[x]

    def accumulate_at(self, c: str, index: ast.expr, g: ast.expr, single: bool = False) -> None:
        """Add ``g`` to element ``index`` of the container adjoint of ``c``, in place.

        Element adjoints of a tuple read at constant indices (``W, b = layer``) are
        collected into a pending list display, ``[dW, db]``, built once where it is
        consumed (or at the end of the block). A ``single`` element (see
        ``single_slots``) is assigned, not added to."""
        fresh = c in self.fresh_containers
        self.fresh_containers.discard(c)
        slot = self.slot(c, index)
        if slot is not None:
            current = self.adj.get(c)
            if current is None:
                elts: list[ast.expr] = [ast.Constant(None) for _ in range(slot[1])]
                elts[slot[0]] = g
                self.adj[c] = ast.List(elts=elts, ctx=ast.Load())
                self.pending.append(c)
                self.pending_locs[c] = [loc for loc in [self.current_loc] if loc is not None]
                return
            if (
                c in self.pending
                and isinstance(current, ast.List)
                and _is_none(current.elts[slot[0]])
            ):
                current.elts[slot[0]] = g
                if self.current_loc is not None:
                    self.pending_locs.setdefault(c, []).append(self.current_loc)
                return
        if c in self.pending:
            self.flush(c)
        dc = self.adjoint_name(c)
        add_at = self.helper("add_at")
        if c not in self.adj:
            fresh_list = call(self.helper("zeros_adjoint"), name(c))
            self.put(assign(dc, call(add_at, fresh_list, index, g)))
        elif c in self.owned and current_is(self.adj[c], dc):
            if single:
                element = ast.Subscript(value=name(dc), slice=index, ctx=ast.Store())
                self.put(ast.Assign(targets=[element], value=g))
                if fresh and _new_elements(g):
                    self.fresh_containers.add(c)
            else:
                self.put(ast.Expr(value=call(add_at, name(dc), index, g)))
            return
        else:
            fresh_list = call(self.helper("copy_adjoint"), self.adj[c])
            self.put(assign(dc, call(add_at, fresh_list, index, g)))
        self.adj[c] = name(dc)
        self.owned.add(c)

    def slot(self, c: str, index: ast.expr) -> tuple[int, int] | None:
        """(element, length) for a constant index into a tuple of known length."""
        kind = self.kind(c)
        if not (isinstance(kind, tuple) and kind[0] == "tuple"):
            return None
        if not (isinstance(index, ast.Constant) and type(index.value) is int):
            return None
        n = len(kind[1])
        if not -n <= index.value < n:
            return None
        return index.value % n, n

    def materialize(self, x: str, target: str, owned: bool) -> None:
        """Make the adjoint of ``x`` live in the variable ``target`` (an owned one if asked)."""
        self.fresh_containers.discard(x)
        if x in self.pending:
            self.flush(x)
        current = self.adj.get(x)
        if current is None:
            self.put(assign(target, self.zero(x)))
        elif owned and not (x in self.owned and current_is(current, target)):
            if self.kind(x) != LEAF:
                self.put(assign(target, call(self.helper("copy_adjoint"), current)))
            else:
                value = ast.BinOp(left=self.zero(x), op=ast.Add(), right=current)
                self.put(assign(target, value))
        elif not current_is(current, target):
            self.put(assign(target, current))
        self.adj[x] = name(target)
        if owned or (current is None):
            self.owned.add(x)
        else:
            self.owned.discard(x)

    def drop_broadcasts(self, expr: ast.expr) -> ast.expr:
        """In a product or quotient, ``np.broadcast_to(g, S) * ... * a`` is ``g * ... * a``
        when another factor ``a`` already has the shape ``S``: numpy's broadcasting
        does the spreading, without the helper call."""
        if not self.shapes or not contains(expr, _is_broadcast_to):
            return expr
        adjoint_of = {v: k for k, v in self.adj_names.items()}

        def factors(node: ast.expr) -> list[ast.expr]:
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
                return factors(node.left) + factors(node.right)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                return [*factors(node.left), node.right]
            return [node]

        def known(node: ast.expr) -> tuple | None:
            if isinstance(node, ast.Name):
                return self.shape(ast.Name(id=adjoint_of.get(node.id, node.id)))
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and self.namespace.get(node.func.id) is runtime.extremum_mask
                and node.args
            ):
                return self.shape(node.args[0])  # shaped like the reduced array
            return None

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
                        and f.args[1].value in shapes
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

    def _tidy_call(self, node: ast.Call) -> ast.expr:
        """A helper call of an inlined rule, tidied: trailing arguments that equal the
        helper's defaults dropped, and the calls that known shapes make unnecessary
        rewritten: ``unreduce(g, a)`` of a full reduction is ``np.broadcast_to(g, <shape
        of a>)`` (so ``a`` itself need not be kept), and ``reduced_count(a, axis)`` is a
        number."""
        if type(node.func) is not ast.Name:
            return node
        helper = self.namespace.get(node.func.id)
        if helper is None or id(helper) not in _HELPER_IDS:
            return node
        _trim_defaults(node, helper)
        args = node.args
        if helper is runtime.unreduce and not node.keywords and len(args) in (2, 4):
            shape = self.shape(args[1])
            keep = len(args) == 2 or (isinstance(args[3], ast.Constant) and args[3].value is True)
            if shape is not None and keep:
                # a full reduction, or one that kept its axes: g broadcasts as it is
                return call(self.np_attr("broadcast_to"), args[0], ast.Constant(shape))
        if helper is runtime.reduced_count and not node.keywords and args:
            shape = self.shape(args[0])
            axis = args[1] if len(args) > 1 else ast.Constant(None)
            if shape is not None and isinstance(axis, ast.Constant):
                try:
                    return ast.Constant(runtime.reduced_count(np.empty(shape), axis.value))
                except (IndexError, TypeError, ValueError):
                    return node
        return node

    def comment(self, loc, out: list | None = None) -> None:
        """Name the source line of the code that follows: at once into ``out`` (the
        forward sweep), or, in the reverse sweep, before the next statement emitted."""
        if out is None:
            self.want = [loc]
            return
        self._announce(loc, out)

    def _announce(self, loc, out: list) -> None:
        if self.last_loc is None or (loc.filename, loc.lineno) != (
            self.last_loc.filename,
            self.last_loc.lineno,
        ):
            out.append(Comment(f"line {loc.lineno}: {loc.text.strip()}"))
            self.last_loc = loc

    def put(self, node: ast.stmt) -> None:
        """Emit a reverse-sweep statement, after comments naming the lines it comes from."""
        for loc in self.want:
            self._announce(loc, self.out)
        self.want = []
        self.out.append(node)

    # ------------------------------------------------------------ the sweep

    def run(self) -> Generated:
        fn = self.fn
        ret = fn.body[-1]
        if not isinstance(ret, Return):
            raise AdCompileError("internal: the normalized body does not end in a return")
        result = ret.value
        cotangent = None
        if self.mode == "vjp":
            cotangent = self.names.fresh("d" + _label(result, fn))
            seed: ast.expr = name(cotangent)
            if not isinstance(result, ast.Name) or self.kind(result.id) == LEAF:
                check = call(self.helper("check_cotangent"), result, name(cotangent))
                self.put(ast.Expr(value=check))
        else:
            scalar = fn.is_scalar(result) or (
                isinstance(result, ast.Name) and self.shapes.get(result.id) == ()
            )
            if scalar:
                seed = ast.Constant(value=1.0)
            else:
                seed_name = self.names.fresh("d" + _label(result, fn))
                self.put(assign(seed_name, call(self.helper("unit_cotangent"), result)))
                seed = name(seed_name)
        if isinstance(result, ast.Name) and self.act.active(result.id):
            self.adj[result.id] = seed
        self.reverse_block(fn.body[:-1], saving=False)
        reverse_code = self.out
        reverse_loads = _loads(reverse_code)
        self.region_loads[id(fn.body)] = reverse_loads
        grads = []
        for p in self.wrt:
            g = self.adj.get(p)
            if g is None:
                g = ast.Constant(value=None) if self.kind(p) != LEAF else self.zero_grad(p)
            grads.append(g)
        needed = reverse_loads | {n for g in grads for n in names_in(g)}
        if self.mode == "value_and_grad":
            needed |= names_in(result)
        self.needed = self.needed_names(fn.body[:-1], needed)
        self.inline = self.inlinable(fn.body, reverse_loads)
        forward = self.forward_block(fn.body[:-1], saving=False)
        code: list[ast.stmt | Comment] = [Comment("forward sweep")]
        if self.stack:
            code.append(assign(self.stack, ast.List(elts=[], ctx=ast.Load())))
        code.extend(forward)
        grad_value: ast.expr = (
            grads[0] if len(grads) == 1 else ast.Tuple(elts=grads, ctx=ast.Load())
        )
        if self.mode == "value_and_grad":
            ret_value: ast.expr = ast.Tuple(elts=[result, grad_value], ctx=ast.Load())
        else:
            ret_value = grad_value
        ret_value = self.keep_returned(ret_value, reverse_code, code)
        code.append(Comment("reverse sweep"))
        code.extend(reverse_code)
        code.append(ast.Return(value=ret_value))
        params = list(fn.params) + ([cotangent] if cotangent else [])
        node = _function_def(f"{self.mode}_{fn.name}", params, code)
        # a container's gradient is fresh when each of its arrays is (see single_slots)
        fresh = [
            (p in self.owned or p in self.fresh_containers)
            and current_is(self.adj.get(p), self.adj_names.get(p, ""))
            and (self.kind(p) == LEAF or p in self.fresh_containers)
            for p in self.wrt
        ]
        return Generated(
            fresh=fresh,
            node=node,
            namespace=self.namespace,
            wrt=self.wrt,
            mode=self.mode,
            result_loc=ret.loc,
            cotangent=cotangent,
        )

    def keep_returned(self, ret_value: ast.expr, reverse_code: list, forward: list) -> ast.expr:
        """``ret_value`` reading, in place of each forward value that the reverse sweep
        rebinds, a copy of the reference taken at the end of the forward sweep.

        The reverse of a loop takes the values each iteration saved back into the
        names they had (``for y in reversed(saved)``), so after it such a name holds
        its value of the first iteration, not the forward's result: the value
        returned by ``value_and_grad`` (``y`` carried by a loop) and the shape of a
        zero gradient are read from the copy instead."""
        stores = _stores(reverse_code)
        rebound = sorted(n for n in names_in(ret_value) if n in stores and n in self.locals)
        if not rebound:
            return ret_value
        what = "value" if len(rebound) == 1 else "values"
        forward.append(
            Comment(f"the {what} returned, before the reverse sweep rebinds {', '.join(rebound)}")
        )
        kept: dict[str, ast.expr] = {}
        for n in rebound:
            copy = self.names.fresh(n + "_value")
            self.locals.add(copy)
            forward.append(assign(copy, name(n)))
            kept[n] = name(copy)
        return substituted(ret_value, kept)

    def run_pullback(self, pair) -> GeneratedPair:
        """``fwd(params) -> (result, saved)`` and ``bwd(saved, dresult) -> adjoints``: the
        whole body is a saving region, so everything the reverse reads travels in
        ``saved`` (a stack of tuples of references)."""
        fn = self.fn
        ret = fn.body[-1]
        result = ret.value
        cotangent = self.names.fresh("d" + _label(result, fn))
        if isinstance(result, ast.Name) and self.act.active(result.id):
            self.adj[result.id] = name(cotangent)
        body = fn.body[:-1]
        self.stack = self.names.fresh("stack")

        def zero_grads() -> None:
            # inside the block, so that the parameters they are shaped like get saved
            for p in self.wrt:
                if p not in self.adj:
                    self.put(assign(self.adjoint_name(p), self.zero(p)))
                    self.adj[p] = name(self.adjoint_name(p))

        self.reverse_block(body, saving=True, inputs=set(fn.params), finish=zero_grads)
        reverse_code = self.out
        grads = [self.adj.get(p) or self.zero(p) for p in self.wrt]
        reverse_loads = _loads(reverse_code)
        needed = reverse_loads | names_in(result)
        needed |= {n for g in grads for n in names_in(g)}
        self.needed = self.needed_names(body, needed)
        self.inline = self.inlinable(fn.body, reverse_loads)
        forward = self.forward_block(body, saving=True)
        forward.extend(self.push(body))
        fwd_code: list = [Comment(f"forward sweep of {fn.name}, keeping what {pair.bwd} needs")]
        fwd_code.append(assign(self.stack, ast.List(elts=[], ctx=ast.Load())))
        fwd_code.extend(forward)
        fwd_code.append(
            ast.Return(value=ast.Tuple(elts=[result, name(self.stack)], ctx=ast.Load()))
        )
        bwd_code: list = [Comment(f"reverse sweep of {fn.name}")]
        bwd_code.extend(reverse_code)
        value = grads[0] if len(grads) == 1 else ast.Tuple(elts=grads, ctx=ast.Load())
        bwd_code.append(ast.Return(value=value))
        nodes = [
            _function_def(pair.fwd, list(fn.params), fwd_code),
            _function_def(pair.bwd, [self.stack, cotangent], bwd_code),
        ]
        return GeneratedPair(nodes=nodes, namespace=self.namespace)

    def zero_grad(self, p: str) -> ast.expr:
        return call(self.np_attr("zeros_like"), name(p))

    # --------------------------------------------------------- reverse code

    def reverse_block(
        self,
        body: list[Stmt],
        saving: bool,
        inputs: set[str] = frozenset(),
        finish=None,
        pop: bool = True,
    ) -> None:
        """Reverse code for ``body`` into ``self.out``. A saving block starts by
        popping the values its forward pushed (filled in once they are known; not with
        ``pop=False``: a loop body's reverse loop takes them from its own list), then
        recomputing the cheap scalar values it does not save; ``inputs`` are the names
        a loop body receives (target, carried values), and ``finish`` emits the code
        that ends the block."""
        pop_at = len(self.out)
        start = len(self.out)
        for stmt in reversed(body):
            if isinstance(stmt, Assign):
                if self.act.active(stmt.target) and stmt.target in self.adj:
                    self.statement(stmt)
            elif isinstance(stmt, If):
                self.flush()
                self.reverse_if(stmt, saving)
            elif isinstance(stmt, Loop):
                self.flush()
                self.reverse_loop(stmt)
        if finish is not None:
            finish()
        self.flush()
        if saving:
            loads = _loads(self.out[start:])
            defs = _block_defs(body) | set(inputs)
            defs |= {
                self.call_saved[s.target][0]
                for s in body
                if isinstance(s, Assign) and s.target in self.call_saved
            }
            defs |= {
                self.loop_lists[id(s)]
                for s in body
                if isinstance(s, Loop) and id(s) in self.loop_lists
            }
            saved = sorted(loads & defs, key=_order(body))
            saved, remat = self.rematerialise(body, saved, defs)
            self.saved[id(body)] = saved
            self.recomputed.update(stmt.target for stmt in remat)
            remat = self.inline_recomputed(remat, start)
            head = [self.pop(saved)] if saved and pop else []
            named = None  # the source line last named
            for stmt in remat:
                line = f"line {stmt.loc.lineno}: {stmt.loc.text.strip()}"
                if line != named:
                    head.append(Comment(line))
                    named = line
                head.append(assign(stmt.target, stmt.value))
            after = self.out[pop_at] if pop_at < len(self.out) else None
            if named is not None and isinstance(after, Comment) and after.text == named:
                del self.out[pop_at]  # the line the recomputation already names
            self.out[pop_at:pop_at] = head

    def inline_recomputed(self, remat: list[Assign], start: int) -> list[Assign]:
        """Write a recomputed value read once, by a statement of this block's reverse
        code (not in a loop inside it), into that statement (``math.cos(y_1 * x)``):
        on Python floats a statement costs more than the expression. Returns the
        recomputations still to assign."""
        code = self.out[start:]
        kept: list[Assign] = []
        for k, stmt in enumerate(remat):
            later = remat[k + 1 :]
            reads = [
                i
                for i, s in enumerate(code)
                if isinstance(s, ast.AST) and stmt.target in names_in(s, loads_only=True)
            ]
            in_later = [r for r in later if stmt.target in names_in(r.value, loads_only=True)]
            top = reads and isinstance(code[reads[0]], ast.Assign | ast.AugAssign)
            if len(reads) == 1 and not in_later and top and _loads_once(code[reads[0]], stmt):
                i = reads[0]
                code[i] = substituted(code[i], {stmt.target: stmt.value})
                self.out[start + i] = code[i]
            elif len(in_later) == 1 and not reads and _loads_once(in_later[0].value, stmt):
                j = remat.index(in_later[0])
                remat[j] = _with_value(
                    in_later[0], substituted(in_later[0].value, {stmt.target: stmt.value})
                )
            else:
                kept.append(stmt)
        return kept

    def rematerialise(
        self, body: list[Stmt], saved: list[str], defs: set[str]
    ) -> tuple[list[str], list[Assign]]:
        """Which of a saving block's ``saved`` values to recompute in the reverse sweep
        rather than save: a scalar sum, difference, product or negation whose operands
        are saved anyway (or recomputed, or do not change in the block), such as
        ``y_2 = y_1 * x`` when ``y_1`` is saved. On Python floats recomputing costs
        less than a longer tuple to build and unpack, and it is exact: the same
        operation on the same values. Returns the values still saved, and the
        statements to recompute, in the block's order."""
        targets = {s.target: s for s in body if isinstance(s, Assign)}
        keep = list(saved)
        redo: dict[str, Assign] = {}

        def recomputable(n: str, plan: dict[str, Assign]) -> bool:
            """Whether ``n`` can be recomputed from what is kept or planned (adding to
            ``plan`` the cheap values it needs recomputed on the way)."""
            stmt = targets.get(n)
            if stmt is None or n in plan or not self.cheap_scalar(stmt):
                return n in plan
            plan[n] = stmt
            for r in stmt.reads():
                if r in defs and r not in keep and r not in redo and not recomputable(r, plan):
                    return False
            return True

        # only cheap scalar values are ever recomputed: the others are not tried
        # (trying each of thousands of saved arrays made this quadratic)
        cheap = {n for n in keep if n in targets and self.cheap_scalar(targets[n])}
        changed = bool(cheap)
        while changed:
            changed = False
            for i in range(len(keep) - 1, -1, -1):
                n = keep[i]
                if n not in cheap:
                    continue
                plan: dict[str, Assign] = {}
                del keep[i]
                if recomputable(n, plan):
                    redo.update(plan)
                    cheap -= set(plan)
                    changed = True
                    break
                keep.insert(i, n)
        if not redo:
            return saved, []
        order = {s.target: i for i, s in enumerate(body) if isinstance(s, Assign)}
        return keep, sorted(redo.values(), key=lambda s: order[s.target])

    def cheap_scalar(self, stmt: Assign) -> bool:
        """Whether ``stmt`` is a sum, difference, product or negation of atoms that
        provably gives a scalar (an arithmetic operator on numbers)."""
        if not any(stmt.prim is f for f in _CHEAP):
            return False
        value = stmt.value
        if isinstance(value, ast.BinOp):
            parts = [value.left, value.right]
            if not isinstance(value.op, ast.Add | ast.Sub | ast.Mult):
                return False
        elif isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
            parts = [value.operand]
        else:
            return False
        if not all(isinstance(p, ast.Name | ast.Constant) for p in parts):
            return False
        return self.is_scalar(stmt.target) and all(
            isinstance(p, ast.Constant) or self.is_scalar(p.id) for p in parts
        )

    def pop(self, saved: list[str]) -> ast.stmt:
        self.stack = self.stack or self.names.fresh("stack")
        pop = call(ast.Attribute(value=name(self.stack), attr="pop", ctx=ast.Load()))
        if len(saved) == 1:
            return assign(saved[0], pop)
        target = ast.Tuple(elts=[store(s) for s in saved], ctx=ast.Store())
        return ast.Assign(targets=[target], value=pop)

    def statement(self, stmt: Assign) -> None:
        wanted = [p for p, e in differentiable_operands(stmt).items() if self.act.active_expr(e)]
        if not wanted:
            return
        self.current_loc, self.inlined_locs = stmt.loc, []
        self.comment(stmt.loc)
        try:
            self.differentiate(stmt, wanted)
        finally:
            self.current_loc, self.inlined_locs, self.want = None, [], []

    def differentiate(self, stmt: Assign, wanted: list[str]) -> None:
        if not isinstance(stmt.prim, ContainerPrim | CallPrim):
            return self.rule_statement(stmt, wanted)
        # c[k] passes its cotangent on once, so a pending one goes in as it is
        dy = self.cotangent(stmt.target, 1 if stmt.prim is containers.GET else 2)
        if isinstance(stmt.prim, ContainerPrim):
            self.container_statement(stmt, wanted, dy)
            return
        self.call_statement(stmt, wanted, dy)

    def rule_statement(self, stmt: Assign, wanted: list[str]) -> None:
        rule = rules.lookup(stmt.prim)
        if rule is None:
            raise AdCompileError("internal: active value without a rule", stmt.loc)
        shapes = [self.shape(stmt.operands[p]) for p in rule.params]
        rule = lookup_specialized(stmt.prim, shapes) or rule
        uses = selection(rule, tuple(wanted))[2]
        dy = self.cotangent(stmt.target, uses)
        bindings: dict[str, ast.expr] = {rule.cotangent: dy, rule.output: name(stmt.target)}
        for p in rule.params:
            bindings[p] = stmt.operands[p]
        for ident, obj in rule.free.items():
            new = self.free_name(ident, obj)
            if new != ident:
                bindings[ident] = name(new)
        # the helper calls tidied and the arithmetic simplified as the template is copied
        prelude, contributions = rules.instantiate(
            rule, bindings, wanted, self.names.fresh, self._rule_hooks
        )
        prelude = [self.numpy_arithmetic(s) for s in prelude]
        contributions = {p: self.numpy_arithmetic(c) for p, c in contributions.items()}
        for node in prelude:
            self.put(node)
        for p in wanted:
            operand = stmt.operands[p]
            c = contributions[p]
            if isinstance(operand, ast.Tuple):
                self.unpack(operand, c)
            elif isinstance(operand, ast.Name):
                if self.kind(operand.id) != LEAF:
                    self.accumulate(operand.id, call(self.helper("as_list"), c), True)
                    continue
                if rule.broadcasts and self.may_broadcast(stmt, p):
                    c = self.sum_to(c, stmt, operand)
                self.accumulate(operand.id, c, simplified=True)

    def numpy_arithmetic(self, node: ast.AST) -> ast.AST:
        """``node`` with each ``/``, ``**``, ``%`` and ``//`` between operands that may
        both be Python numbers made a call of the runtime helper that gives numpy's
        result where Python would raise (``0.0 ** -0.5`` is inf, not ZeroDivisionError).
        Operations with an array or numpy scalar on either side already follow numpy
        and are left as they are."""
        helpers = {
            ast.Div: "scalar_divide",
            ast.Pow: "scalar_power",
            ast.Mod: "scalar_mod",
            ast.FloorDiv: "scalar_floor_divide",
        }

        def rewrite(n: ast.AST) -> ast.AST:
            for fname, value in ast.iter_fields(n):
                if isinstance(value, list):
                    setattr(n, fname, [rewrite(v) if isinstance(v, ast.AST) else v for v in value])
                elif isinstance(value, ast.AST):
                    setattr(n, fname, rewrite(value))
            if (
                isinstance(n, ast.BinOp)
                and type(n.op) in helpers
                and self.may_be_python_number(n.left)
                and self.may_be_python_number(n.right)
            ):
                return call(self.helper(helpers[type(n.op)]), n.left, n.right)
            return n

        return rewrite(node)

    def may_be_python_number(self, e: ast.expr) -> bool:
        """Whether ``e`` may evaluate to a Python int or float (rather than an array or a
        numpy scalar), as far as the forward program's data flow tells."""
        if isinstance(e, ast.Constant):
            return isinstance(e.value, int | float)
        if isinstance(e, ast.Name):
            if e.id in self.forward_names:
                return e.id in self.python_numbers
            # an adjoint has the shape of its value: one of an array is an array
            shape = self.shapes.get(self.primal_of.get(e.id, ""))
            return not (isinstance(shape, tuple) and shape != ())
        if isinstance(e, ast.BinOp):
            return self.may_be_python_number(e.left) and self.may_be_python_number(e.right)
        if isinstance(e, ast.UnaryOp):
            return self.may_be_python_number(e.operand)
        if isinstance(e, ast.IfExp):
            return self.may_be_python_number(e.body) or self.may_be_python_number(e.orelse)
        if isinstance(e, ast.Call):
            return _python_valued_call(e.func, self.namespace)
        return not isinstance(e, ast.Attribute)

    def container_statement(self, stmt: Assign, wanted: list[str], dy: ast.expr) -> None:
        prim, ops = stmt.prim, stmt.operands
        if prim is containers.GET:
            self.accumulate_at(ops["c"].id, ops["index"], dy, id(stmt) in self.single_slots)
        elif prim in (containers.BUILD_LIST, containers.BUILD_TUPLE):
            for i, key in enumerate(ops):
                if key in wanted and isinstance(ops[key], ast.Name):
                    part = call(self.helper("part"), dy, ast.Constant(i), ops[key])
                    self.accumulate(ops[key].id, part)
        elif prim is containers.APPEND:
            if "x" in wanted:
                part = call(self.helper("part"), dy, ast.Constant(-1), ops["x"])
                self.accumulate(ops["x"].id, part)
            if "c" in wanted:
                length = call(name(self.free_name("len", len)), ops["c"])
                self.accumulate(ops["c"].id, call(self.helper("parts"), dy, length))
        elif prim is containers.SUM:
            self.accumulate(ops["c"].id, call(self.helper("spread"), dy, ops["c"]))

    def call_statement(self, stmt: Assign, wanted: list[str], dy: ast.expr) -> None:
        prim: CallPrim = stmt.prim
        if self.session is None:
            raise AdCompileError("internal: a call needs a link session", stmt.loc)
        active = [p for p in prim.params if p in wanted]
        shapes = tuple(self.fact(stmt.operands[p]) for p in prim.params)
        pair = self.session.pair(prim.source, prim.kinds, active, shapes)
        saved = self.names.fresh(stmt.target + "_saved")
        self.call_saved[stmt.target] = (saved, pair.fwd)
        self.namespace.setdefault(pair.fwd, None)
        self.namespace.setdefault(pair.bwd, None)
        self.locals |= {saved}
        targets, pending = [], []
        for p in active:
            operand = stmt.operands[p]
            if isinstance(operand, ast.Name) and self.act.active(operand.id):
                temp = self.names.fresh("d" + operand.id + "_part")
                targets.append(store(temp))
                pending.append((operand.id, temp))
            else:
                targets.append(store("_"))
        value = call(name(pair.bwd), name(saved), dy)
        if len(targets) == 1:
            self.put(ast.Assign(targets=targets, value=value))
        else:
            self.put(ast.Assign(targets=[ast.Tuple(elts=targets, ctx=ast.Store())], value=value))
        for x, temp in pending:
            self.accumulate(x, name(temp))

    def fact(self, expr: ast.expr) -> object:
        """What is known of an operand's shape (a shape, or a list/dict of facts), or None."""
        if isinstance(expr, ast.Constant):
            return () if isinstance(expr.value, int | float | complex) else None
        if isinstance(expr, ast.Name):
            return self.shapes.get(expr.id)
        return None

    def shape(self, expr: ast.expr) -> tuple | None:
        """The known shape of a leaf operand, or None."""
        if isinstance(expr, ast.Constant):
            return () if isinstance(expr.value, int | float | complex) else None
        if isinstance(expr, ast.Name):
            s = self.shapes.get(expr.id)
            return s if isinstance(s, tuple) else None
        return None

    def may_broadcast(self, stmt: Assign, param: str) -> bool:
        """Whether numpy may have broadcast operand ``param`` of ``stmt`` to a larger shape:
        not when the result is a scalar, nor when every other operand is one, nor when
        the known shapes of the operand and the result agree."""
        if stmt.scalar:
            return False
        mine, result = self.shape(stmt.operands[param]), self.shapes.get(stmt.target)
        if mine is not None and isinstance(result, tuple):
            return mine != result
        return any(not self.fn.is_scalar(e) for p, e in stmt.operands.items() if p != param)

    def sum_to(self, c: ast.expr, stmt: Assign, operand: ast.Name) -> ast.expr:
        """``c`` summed back to the shape of ``operand``: the exact sum when both shapes
        are known, ``unbroadcast`` otherwise."""
        mine, result = self.shape(operand), self.shapes.get(stmt.target)
        if mine is None or not isinstance(result, tuple):
            return call(self.helper("unbroadcast"), c, operand)
        if mine == ():
            return call(self.np_attr("sum"), c)
        # the result is a non-scalar array here, so its .sum method is at hand (and
        # cheaper than np.sum's Python-level dispatch)
        lead = len(result) - len(mine)
        kept = tuple(i for i, n in enumerate(mine) if n == 1 and result[lead + i] != 1)
        if lead:
            c = _sum_call(c, tuple(range(lead)), keepdims=False)
        if kept:
            c = _sum_call(c, kept, keepdims=True)
        return c

    def unpack(self, operand: ast.Tuple, contribution: ast.expr) -> None:
        targets = []
        pending = []
        for elt in operand.elts:
            if isinstance(elt, ast.Name) and self.act.active(elt.id):
                temp = self.names.fresh("d" + elt.id + "_part")
                targets.append(store(temp))
                pending.append((elt.id, temp))
            else:
                targets.append(store("_"))
        self.put(ast.Assign(targets=[ast.Tuple(elts=targets, ctx=ast.Store())], value=contribution))
        for x, temp in pending:
            self.accumulate(x, name(temp))

    def reverse_if(self, stmt: If, in_loop: bool) -> None:
        inner = _all_defs(stmt.body) | _all_defs(stmt.orelse)
        before = self.state.copy()
        branches = []
        for block, side in ((stmt.body, 1), (stmt.orelse, 2)):
            self.state = before.copy()
            out: list = []
            with self.output(out):
                for join in stmt.joins:
                    j, atom = join[0], join[side]
                    if j in self.adj and isinstance(atom, ast.Name) and self.act.active(atom.id):
                        self.accumulate(atom.id, self.adj[j])
                self.reverse_block(block, saving=in_loop)
            branches.append((out, self.state))
        joins = {j for j, _, _ in stmt.joins}
        keys = set()
        for _, st in branches:
            for x in set(st.adj) | set(before.adj):
                if x in inner or x in joins:
                    continue
                if st.adj.get(x) is None or before.adj.get(x) is None:
                    keys.add(x)
                elif ast.dump(st.adj[x]) != ast.dump(before.adj[x]):
                    keys.add(x)
                elif x in before.owned and x not in st.owned:
                    keys.add(x)
        merged = before.copy()
        for x in sorted(keys):
            target = self.adjoint_name(x)
            owned_all = True
            for out, st in branches:
                self.state = st
                with self.output(out):
                    self.materialize(x, target, owned=False)
                owned_all = owned_all and x in st.owned
            merged.adj[x] = name(target)
            if owned_all:
                merged.owned.add(x)
            else:
                merged.owned.discard(x)
        self.state = merged
        if not any(isinstance(s, ast.AST) for out, _ in branches for s in out):
            return
        self.comment(stmt.loc)
        body = branches[0][0] or [ast.Pass()]
        orelse = branches[1][0]
        self.put(ast.If(test=stmt.test, body=body, orelse=orelse))

    def reverse_loop(self, stmt: Loop) -> None:
        body_defs = _all_defs(stmt.body) | {c for c, _, _ in stmt.carried}
        if stmt.target:
            body_defs.add(stmt.target)
        carried = [(c, b, e) for c, b, e in stmt.carried if self.act.active(c)]
        # values from outside the loop that the body differentiates into
        invariant: list[str] = []

        def outer(names: set[str]) -> None:
            for n in sorted(names):
                if n not in body_defs and self.act.active(n) and n not in invariant:
                    invariant.append(n)

        for s in walk(stmt.body):
            if isinstance(s, Assign):
                for e in differentiable_operands(s).values():
                    outer(names_in(e))
            elif isinstance(s, If):
                for _, a, b in s.joins:
                    outer(names_in(a) | names_in(b))
            elif isinstance(s, Loop):
                for _, b, e in s.carried:
                    outer(names_in(b) | names_in(e))
        for _, _, end in carried:
            outer(names_in(end))
        if not carried and not invariant:
            return
        self.has_reverse.add(id(stmt))
        self.comment(stmt.loc)
        carry_names = {}
        for c, _, _ in carried:
            carry_names[c] = self.names.fresh("d" + c)
            self.materialize(c, carry_names[c], owned=False)
        single = self.single_slot_reads(stmt, invariant)
        for x in invariant:
            zero = x not in self.adj and x in single
            self.materialize(x, self.adjoint_name(x), owned=True)
            if zero:  # each iteration assigns its own element of [None] * n
                self.single_slots.add(single[x])
                self.fresh_containers.add(x)
        outside = self.state.copy()
        body_state = outside.copy()
        for c, _, _ in carried:
            body_state.adj.pop(c, None)
            body_state.owned.discard(c)
        saved_names = {c: self.adj_names.pop(c, None) for c, _, _ in carried}
        self.state = body_state
        out: list = []
        # a carried value whose starting value is not active (h = X, then h = f(h)) needs
        # no adjoint out of the last reverse iteration (the first forward one): that
        # carry is computed under `if k:`, k counting the forward iterations down
        skip_first = {
            c
            for c, before, _ in carried
            if not (isinstance(before, ast.Name) and self.act.active(before.id))
        }
        counter = None

        def finish() -> None:
            nonlocal counter
            # a pending expression reads the carried adjoints as they are now, so any
            # not going into the carry is assigned before the carry reassigns them.
            # (None is expected: the adjoint of a value the body defines was consumed
            # by its statement, and that of a value from outside the loop is a
            # variable, added to in place, never pending; dead if it were left.)
            for x in [x for x in self.pending if x not in carry_names]:
                self.flush(x)
            # the adjoints of this iteration's starting values are the next (earlier)
            # iteration's carried adjoints; assigned together, as they may read each other
            targets, values = [], []
            for c, _, _ in carried:
                if c in self.pending:  # its expression goes straight into the carry
                    self.pending.remove(c)
                    self.want = self.pending_locs.pop(c, [])
                value = self.adj.get(c) or self.zero(c)
                if not current_is(value, carry_names[c]):
                    targets.append(store(carry_names[c]))
                    values.append(value)
            if len(targets) == 1:
                carry: ast.stmt = ast.Assign(targets=targets, value=values[0])
            elif targets:
                carry = ast.Assign(
                    targets=[ast.Tuple(elts=targets, ctx=ast.Store())],
                    value=ast.Tuple(elts=values, ctx=ast.Load()),
                )
            else:
                return
            if {t.id for t in targets} <= {carry_names[c] for c in skip_first} and not all(
                isinstance(v, ast.Name | ast.Constant) for v in values
            ):
                counter = self.names.fresh("k")
                self.locals.add(counter)
                carry = ast.If(test=name(counter), body=[carry], orelse=[])
            self.put(carry)

        inputs = {c for c, _, _ in stmt.carried} | ({stmt.target} if stmt.target else set())
        with self.output(out):
            # the end of an iteration copies each carried value's new value into it
            for c, _, end in carried:
                if isinstance(end, ast.Name) and self.act.active(end.id):
                    self.accumulate(end.id, name(carry_names[c]))
            self.reverse_block(stmt.body, saving=True, inputs=inputs, finish=finish, pop=False)
        for c, old in saved_names.items():
            if old is not None:
                self.adj_names[c] = old
        after = self.state
        self.state = outside
        for x in invariant:
            self.adj[x] = after.adj[x]
            if x in after.owned:
                self.owned.add(x)
            else:
                self.owned.discard(x)
        saved = self.saved.get(id(stmt.body))
        if saved:
            # the values each iteration saved, on a list of the loop's own: the reverse
            # loop walks it backwards (its length is the number of iterations that ran)
            values = self.loop_lists[id(stmt)] = self.names.fresh("saved")
            self.locals.add(values)
            target: ast.expr = (
                store(saved[0])
                if len(saved) == 1
                else ast.Tuple(elts=[store(n) for n in saved], ctx=ast.Store())
            )
        if saved and counter is None:
            loop = ast.For(
                target=target,
                iter=call(name(self.free_name("reversed", reversed)), name(values)),
                body=out or [ast.Pass()],
                orelse=[],
            )
        else:
            count: ast.expr = name(stmt.count)
            if saved:
                count = call(name(self.free_name("len", len)), name(values))
            if counter is not None:  # the forward iteration's number, counting down
                last = ast.BinOp(left=count, op=ast.Sub(), right=ast.Constant(1))
                args = [last, ast.Constant(-1), ast.Constant(-1)]
            else:
                args = [count]
            if saved:
                element = ast.Subscript(value=name(values), slice=name(counter), ctx=ast.Load())
                out.insert(0, ast.Assign(targets=[target], value=element))
            loop = ast.For(
                target=store(counter or "_"),
                iter=call(name(self.free_name("range", range)), *args),
                body=out or [ast.Pass()],
                orelse=[],
            )
        self.put(loop)
        for c, before, _ in carried:
            self.adj.pop(c, None)
            if isinstance(before, ast.Name) and self.act.active(before.id):
                self.accumulate(before.id, name(carry_names[c]))

    def single_slot_reads(self, stmt: Loop, invariant: list[str]) -> dict[str, int]:
        """Containers from outside a loop over ``range(n)`` that its body reads only as
        ``c[i]``, ``i`` the loop's own index, once per iteration (not in a nested
        loop): each iteration touches its own element, so the reverse can assign that
        element's adjoint instead of adding to it. Container -> id of the read."""
        it = stmt.iter
        if not (
            stmt.target
            and isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and self.fn.globals.get(it.func.id) is range
            and len(it.args) == 1
            and not it.keywords
        ):
            return {}
        candidates = {x for x in invariant if self.kind(x) != LEAF}
        reads: dict[str, list[int]] = {x: [] for x in candidates}
        spoiled: set[str] = set()

        def visit(block: list[Stmt]) -> None:
            for s in block:
                if isinstance(s, Assign):
                    ops = differentiable_operands(s)
                    used = set().union(*(names_in(e) for e in ops.values())) if ops else set()
                    for x in used & candidates:
                        c, index = s.operands.get("c"), s.operands.get("index")
                        if (
                            s.prim is containers.GET
                            and isinstance(c, ast.Name)
                            and c.id == x
                            and isinstance(index, ast.Name)
                            and index.id == stmt.target
                        ):
                            reads[x].append(id(s))
                        else:
                            spoiled.add(x)
                elif isinstance(s, If):
                    for _, a, b in s.joins:
                        spoiled.update((names_in(a) | names_in(b)) & candidates)
                    visit(s.body)
                    visit(s.orelse)
                elif isinstance(s, Loop):
                    for inner in walk(s.body):
                        if isinstance(inner, Assign):
                            spoiled.update(inner.reads() & candidates)
                    for _, b, e in s.carried:
                        spoiled.update((names_in(b) | names_in(e)) & candidates)

        visit(stmt.body)
        for _, b, e in stmt.carried:
            spoiled.update((names_in(b) | names_in(e)) & candidates)
        return {x: ids[0] for x, ids in reads.items() if len(ids) == 1 and x not in spoiled}

    # --------------------------------------------------------- forward code

    def needed_names(self, body: list[Stmt], needed: set[str]) -> set[str]:
        """Close ``needed`` over the forward code: everything a needed value reads."""
        needed = set(needed)
        # arithmetic of Python numbers and math functions may raise: they stay, so that
        # the generated code raises where the function does (math.log(0.0)) instead of
        # returning a derivative at a point where the function has no value
        needed |= {
            s.target for s in walk(body) if isinstance(s, Assign) and self.may_raise(s.value)
        }
        # latest first: a value's readers come after it, so straight-line code closes
        # in one pass (loops and branches may take another)
        stmts = list(walk(body))
        stmts.reverse()
        while True:
            size = len(needed)
            for stmt in stmts:
                if isinstance(stmt, Assign) and self.is_needed(stmt, needed):
                    needed |= stmt.reads()
                elif isinstance(stmt, If) and self.kept(stmt, needed):
                    needed |= names_in(stmt.test)
                    for j, a, b in stmt.joins:
                        if j in needed:
                            needed |= names_in(a) | names_in(b)
                elif isinstance(stmt, Loop) and self.kept(stmt, needed):
                    if stmt.iter is not None:
                        needed |= names_in(stmt.iter)
                    if stmt.test is not None:
                        needed |= names_in(stmt.test) & self.locals
                    if stmt.exit is not None:
                        needed.add(stmt.exit)
                    for c, b, e in stmt.carried:
                        if c in needed:
                            needed |= names_in(b) | names_in(e)
            if len(needed) == size:
                return needed

    def may_raise(self, value: ast.expr) -> bool:
        """Whether forward code ``value`` may raise where numpy would not: a ``math``
        function, or ``/``, ``**``, ``%``, ``//`` between Python numbers."""
        if isinstance(value, ast.Call):
            return getattr(_resolve(value.func, self.fn.globals), "__module__", None) == "math"
        return (
            isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Div | ast.Pow | ast.Mod | ast.FloorDiv)
            and self.may_be_python_number(value.left)
            and self.may_be_python_number(value.right)
        )

    def is_needed(self, stmt: Assign, needed: set[str]) -> bool:
        if stmt.target in needed:
            return True
        saved = self.call_saved.get(stmt.target)
        return saved is not None and saved[0] in needed

    def kept(self, stmt: If | Loop, needed: set[str]) -> bool:
        if isinstance(stmt, If):
            if any(j in needed for j, _, _ in stmt.joins):
                return True
            inner = stmt.body + stmt.orelse
        else:
            if id(stmt) in self.has_reverse or any(c in needed for c, _, _ in stmt.carried):
                return True
            inner = stmt.body
        for s in walk(inner):
            if isinstance(s, Assign) and self.is_needed(s, needed):
                return True
            if isinstance(s, Loop) and id(s) in self.has_reverse:
                return True
            if isinstance(s, If | Loop) and any(
                (j in needed) for j in ([x[0] for x in s.joins] if isinstance(s, If) else [])
            ):
                return True
        return False

    def inlinable(self, body: list[Stmt], reverse_loads: set[str]) -> set[str]:
        """Forward temporaries to write into their one consumer instead of a variable:
        used exactly once, by a later statement of the same block, and never read by
        the reverse sweep. Their arrays are then freed as soon as they are used,
        as in the expression the user wrote (``a_2 = np.exp(-h)``)."""
        uses: dict[str, int] = {}
        site: dict[str, int] = {}

        def count(names: set[str], block: int | None) -> None:
            for n in names:
                uses[n] = uses.get(n, 0) + 1
                site[n] = block if uses[n] == 1 else -1

        def visit(block: list[Stmt]) -> None:
            for stmt in block:
                if isinstance(stmt, Assign):
                    if self.is_needed(stmt, self.needed):
                        count(names_in(stmt.value), id(block))
                elif isinstance(stmt, If):
                    count(names_in(stmt.test), None)
                    for _, a, b in stmt.joins:
                        count(names_in(a) | names_in(b), None)
                    visit(stmt.body)
                    visit(stmt.orelse)
                elif isinstance(stmt, Loop):
                    for e in (stmt.iter, stmt.test):
                        if e is not None:
                            count(names_in(e), None)
                    for _, b, e in stmt.carried:
                        count(names_in(b) | names_in(e), None)
                    visit(stmt.body)
                elif isinstance(stmt, Return):
                    count(names_in(stmt.value), None)

        visit(body)
        defined_in: dict[str, int] = {}

        def blocks(block: list[Stmt]) -> None:
            for stmt in block:
                if isinstance(stmt, Assign):
                    defined_in[stmt.target] = id(block)
                elif isinstance(stmt, If):
                    blocks(stmt.body)
                    blocks(stmt.orelse)
                elif isinstance(stmt, Loop):
                    blocks(stmt.body)

        blocks(body)
        return {
            n
            for n, k in uses.items()
            if k == 1
            and site.get(n) not in (None, -1)
            and defined_in.get(n) == site.get(n)
            and n in self.fn.temps
            and (n not in reverse_loads or n in self.recomputed)
            and n not in self.call_saved
        }

    def forward_block(self, body: list[Stmt], saving: bool) -> list:
        code: list = []
        self.last_loc = None
        inline: dict[str, ast.expr] = {}
        for stmt in body:
            if isinstance(stmt, Assign):
                if self.is_needed(stmt, self.needed):
                    self.comment(stmt.loc, code)
                    if inline:
                        stmt = _with_value(stmt, _substitute(stmt.value, inline))
                    if stmt.target in self.inline:
                        inline[stmt.target] = stmt.value
                        continue
                    code.append(self.forward_assign(stmt))
            elif isinstance(stmt, If):
                if self.kept(stmt, self.needed):
                    self.comment(stmt.loc, code)
                    code.append(self.forward_if(stmt, saving))
                    self.last_loc = None
            elif isinstance(stmt, Loop):
                if self.kept(stmt, self.needed):
                    self.comment(stmt.loc, code)
                    code.extend(self.forward_loop(stmt))
                    self.last_loc = None
        return code

    def forward_assign(self, stmt: Assign) -> ast.stmt:
        if stmt.target not in self.call_saved:
            return assign(stmt.target, stmt.value)
        saved, fwd = self.call_saved[stmt.target]
        value = ast.Call(func=name(fwd), args=stmt.value.args, keywords=[])
        target = ast.Tuple(elts=[store(stmt.target), store(saved)], ctx=ast.Store())
        return ast.Assign(targets=[target], value=value)

    def push(self, body: list[Stmt], values: str | None = None) -> list[ast.stmt]:
        """Save what the reverse of ``body`` reads: onto the list ``values`` (a loop's
        own), or onto the shared stack."""
        saved = self.saved.get(id(body))
        if not saved:
            return []
        if values is None:
            self.stack = values = self.stack or self.names.fresh("stack")
        value: ast.expr = (
            name(saved[0]) if len(saved) == 1 else ast.Tuple(elts=[name(s) for s in saved])
        )
        append = ast.Attribute(value=name(values), attr="append", ctx=ast.Load())
        return [ast.Expr(value=call(append, value))]

    def forward_if(self, stmt: If, saving: bool) -> ast.If:
        branches = []
        for block, side in ((stmt.body, 1), (stmt.orelse, 2)):
            code = self.forward_block(block, saving)
            code.extend(self.push(block) if saving else [])
            for join in stmt.joins:
                if join[0] in self.needed:
                    code.append(assign(join[0], join[side]))
            branches.append(code)
        return ast.If(test=stmt.test, body=branches[0] or [ast.Pass()], orelse=branches[1])

    def forward_loop(self, stmt: Loop) -> list:
        code: list = []
        reverse = id(stmt) in self.has_reverse
        values = self.loop_lists.get(id(stmt))
        if values is not None:
            code.append(assign(values, ast.List(elts=[], ctx=ast.Load())))
        elif reverse:
            code.append(assign(stmt.count, ast.Constant(0)))
        carried = [(c, b, e) for c, b, e in stmt.carried if c in self.needed]
        for c, before, _ in carried:
            code.append(assign(c, before))
        body = self.forward_block(stmt.body, saving=True)
        if stmt.exit is not None and stmt.exit in self.needed:
            # after a break the remaining iterations would do nothing: stop instead
            body.insert(0, ast.If(test=name(stmt.exit), body=[ast.Break()], orelse=[]))
        body.extend(self.push(stmt.body, values))
        body.extend(_carry_forward(carried))
        if reverse and values is None:
            body.append(
                ast.AugAssign(target=store(stmt.count), op=ast.Add(), value=ast.Constant(1))
            )
        body = body or [ast.Pass()]
        if stmt.test is not None:
            code.append(ast.While(test=stmt.test, body=body, orelse=[]))
        else:
            code.append(ast.For(target=store(stmt.target), iter=stmt.iter, body=body, orelse=[]))
        return code


_CHEAP = (np.add, np.subtract, np.multiply, np.negative)


def _carry_forward(carried: list) -> list[ast.stmt]:
    """The copies that end a forward iteration, ``c = end`` for each carried value.
    They happen at once: an end may be another carried value's current one (``b, a =
    np.cos(a), b`` ends ``a`` with ``b``), which a copy before it would already have
    overwritten, so such copies are one tuple assignment."""
    copies = [(c, end) for c, _, end in carried if not (isinstance(end, ast.Name) and end.id == c)]
    written: set[str] = set()
    for c, end in copies:
        if names_in(end) & written:
            targets = ast.Tuple(elts=[store(c) for c, _ in copies], ctx=ast.Store())
            values = ast.Tuple(elts=[end for _, end in copies], ctx=ast.Load())
            return [ast.Assign(targets=[targets], value=values)]
        written.add(c)
    return [assign(c, end) for c, end in copies]


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _new_elements(g: ast.expr) -> bool:
    """Whether ``g`` is a list display of new arrays (or zeros, None)."""
    return isinstance(g, ast.List) and all(_is_none(e) or is_fresh(e) for e in g.elts)


def _substitute(expr: ast.expr, values: dict[str, ast.expr]) -> ast.expr:
    """``expr`` with the names in ``values`` replaced by (copies of) their expressions.
    Each inlined temporary has one consumer, so the ones used here leave ``values``
    (which would otherwise grow with the block, and be searched at every statement)."""
    used = [n for n in names_in(expr, loads_only=True) if n in values]
    if not used:
        return expr
    return substituted(expr, {n: values.pop(n) for n in used})


def _with_value(stmt: Assign, value: ast.expr) -> Assign:
    return Assign(
        target=stmt.target,
        value=value,
        prim=stmt.prim,
        operands=stmt.operands,
        loc=stmt.loc,
        scalar=stmt.scalar,
    )


def _is_broadcast_to(node: ast.AST) -> bool:
    return type(node) is ast.Attribute and node.attr == "broadcast_to"


# runtime helpers (by id) and the parameters of each, for dropping default arguments
_HELPER_IDS = {id(h) for h in runtime.HELPERS.values()}
_HELPER_PARAMS: dict[int, list[inspect.Parameter]] = {}


def _trim_defaults(node: ast.Call, helper) -> None:
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


def _sum_call(c: ast.expr, axes: tuple, keepdims: bool) -> ast.Call:
    axis = ast.Constant(axes[0]) if len(axes) == 1 else ast.Constant(axes)
    keywords = [ast.keyword(arg="axis", value=axis)]
    if keepdims:
        keywords.append(ast.keyword(arg="keepdims", value=ast.Constant(True)))
    method = ast.Attribute(value=c, attr="sum", ctx=ast.Load())
    return ast.Call(func=method, args=[], keywords=keywords)


def current_is(expr: ast.expr, ident: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == ident


def _loads_once(node: ast.AST, stmt: Assign) -> bool:
    """Whether ``node`` reads ``stmt.target`` once and does not assign it."""
    loads = stores = 0
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id == stmt.target:
            if isinstance(n.ctx, ast.Load):
                loads += 1
            else:
                stores += 1
    return loads == 1 and stores == 0


def _stores(code: list) -> set[str]:
    """The names that ``code`` assigns (loop targets and unpacked tuples included)."""
    out: set[str] = set()
    for s in code:
        if isinstance(s, ast.AST):
            for n in ast.walk(s):
                if type(n) is ast.Name and type(n.ctx) is ast.Store:
                    out.add(n.id)
    return out


def _loads(code: list) -> set[str]:
    out: set[str] = set()
    for s in code:
        if isinstance(s, ast.AST):
            out |= names_in(s, loads_only=True)
    return out


def _order(body: list[Stmt]):
    order: dict[str, int] = {}
    for stmt in body:
        if isinstance(stmt, Assign):
            order.setdefault(stmt.target, len(order))
        elif isinstance(stmt, If):
            for j, _, _ in stmt.joins:
                order.setdefault(j, len(order))
        elif isinstance(stmt, Loop):
            for c, _, _ in stmt.carried:
                order.setdefault(c, len(order))
            order.setdefault(stmt.count, len(order))
    return lambda n: (order.get(n, len(order)), n)


def _label(result: ast.expr, fn: Function) -> str:
    return result.id if isinstance(result, ast.Name) else fn.name


def _function_def(fname: str, params: list[str], code: list) -> ast.FunctionDef:
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


def reverse(
    fn: Function, wrt: list[str], mode: str, session, arg_shapes, shapes: dict, act: Activity
) -> Generated:
    """The generated function; ``arg_shapes`` (see ``shapes.py``) specialises it, and
    ``shapes`` (their facts, ``shapes.infer``) and ``act`` (``analysis.activity``) are
    what the pipeline computed for ``fn``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    return _Reverse(fn, wrt, mode, session, arg_shapes, shapes, act).run()


@dataclass
class GeneratedPair:
    nodes: list[ast.FunctionDef]
    namespace: dict[str, object]


def reverse_pullback(
    fn: Function, wrt: list[str], session, pair, arg_shapes, shapes: dict, act: Activity
) -> GeneratedPair:
    """The forward/backward pair of a called function (see ``link.py``)."""
    return _Reverse(fn, wrt, "pullback", session, arg_shapes, shapes, act).run_pullback(pair)


_PYTHON_VALUED = {float, int, len, abs, round, max, min, sum}


def _python_valued_call(func: ast.expr, namespace: dict) -> bool:
    """Whether a call of ``func`` may return a Python number: anything but numpy's
    functions and adcompile's own helpers (which return arrays or numpy scalars),
    except the scalar-arithmetic helpers."""
    if isinstance(func, ast.Name) and func.id.startswith("scalar_"):
        return True
    obj = _resolve(func, namespace)
    if obj is None:
        return True
    module = getattr(obj, "__module__", None) or ""
    if any(obj is f for f in _PYTHON_VALUED) or module == "math":
        return True
    if isinstance(obj, np.ufunc) or module.startswith("numpy"):
        return False
    return module != runtime.__name__


def _resolve(func: ast.expr, namespace: dict) -> object | None:
    if isinstance(func, ast.Name):
        return namespace.get(func.id)
    if isinstance(func, ast.Attribute):
        owner = _resolve(func.value, namespace)
        return getattr(owner, func.attr, None) if owner is not None else None
    return None


def _python_numbers(fn: Function, arg_shapes) -> tuple[set[str], set[str]]:
    """The names the forward program assigns, and those of them that may hold a
    Python number (not an array or numpy scalar): parameters passed as Python numbers
    or scalars, and what arithmetic, ``math`` functions and builtins make of them."""
    known = set(fn.params)
    python = {
        p
        for p, s in zip(fn.params, arg_shapes or [None] * len(fn.params), strict=False)
        if s is None or s is float or s == ()
    }
    python |= {n for n, v in fn.globals.items() if isinstance(v, int | float)}
    known |= set(fn.globals)
    for stmt in walk(fn.body):
        if isinstance(stmt, Assign):
            known.add(stmt.target)
        elif isinstance(stmt, If):
            known |= {target for target, _, _ in stmt.joins}
        elif isinstance(stmt, Loop):
            known |= {target for target, _, _ in stmt.carried}
            known |= {t for t in (stmt.target, stmt.count) if t}

    def number(e: ast.expr) -> bool:
        if isinstance(e, ast.Constant):
            return isinstance(e.value, int | float)
        if isinstance(e, ast.Name):
            return e.id in python or e.id not in known
        if isinstance(e, ast.BinOp):
            return number(e.left) and number(e.right)
        if isinstance(e, ast.UnaryOp):
            return number(e.operand)
        if isinstance(e, ast.Call):
            return _python_valued_call(e.func, fn.globals)
        if isinstance(e, ast.Attribute):
            return False
        return True

    def block(body: list) -> None:
        for stmt in body:
            if isinstance(stmt, Assign):
                if number(stmt.value):
                    python.add(stmt.target)
            elif isinstance(stmt, If):
                block(stmt.body)
                block(stmt.orelse)
                for target, a, b in stmt.joins:
                    if number(a) or number(b):
                        python.add(target)
            elif isinstance(stmt, Loop):
                python.update(t for t in (stmt.target, stmt.count) if t)
                for target, before, end in stmt.carried:
                    if number(before) or number(end):
                        python.add(target)
                block(stmt.body)

    # values carried round loops and joined after branches: to a fixed point
    size = -1
    while len(python) != size:
        size = len(python)
        block(fn.body)
    return known, python
