"""The adjoint accumulation state: which variable holds each value's adjoint.

The rule every piece of the reverse sweep relies on: an adjoint's first
contribution *assigns* it (or, when it is just another variable or a constant,
aliases it, with no statement at all); later contributions *add* to it, in
place only when the adjoint holds an array this gradient created and nothing
else refers to (``owned``). A first contribution that is an expression is kept
*pending* instead of assigned, so that a rule reading it once can inline it
(chains of elementwise adjoints become one expression); pending expressions are
assigned (``flush``) at every block boundary.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .. import runtime
from ..generated import Namespace, assign, call, current_is, name, store
from ..ir import Assign, Function, Loop, contains, walk
from ..optimize import is_fresh, simplify
from ..rules.containers import LEAF
from .output import Output
from .peephole import broadcast_of, drop_broadcasts, is_broadcast_to
from .program import Program


@dataclass
class AdjointState:
    """What a branch of the reverse sweep changes, so that ``if`` can copy and merge it.

    ``adj`` maps a value to the expression of its adjoint so far (a variable, a
    constant, or a pending expression); ``owned`` are the values whose adjoint
    variable holds an array this gradient made; ``pending`` the values whose adjoint
    is an expression not yet assigned."""

    adj: dict[str, ast.expr]
    owned: set[str]
    pending: list[str] = field(default_factory=list)

    def copy(self) -> AdjointState:
        return AdjointState(dict(self.adj), set(self.owned), list(self.pending))


class Adjoints:
    """Accumulates contributions into adjoints, emitting the statements that takes."""

    def __init__(self, program: Program, ns: Namespace, output: Output) -> None:
        self.program = program
        self.ns = ns
        self.output = output
        self.state = AdjointState({}, set())
        self.adj_names: dict[str, str] = {}
        self.primal_of: dict[str, str] = {}  # adjoint name -> the value it is the adjoint of
        self.current_loc = None  # the statement being differentiated
        self.inlined_locs: list = []  # lines of the pending cotangent it inlined
        self.pending_locs: dict[str, list] = {}  # lines a pending expression comes from
        fn: Function = program.fn
        # names whose adjoint a rule will consume (so worth keeping pending)
        self.consumable = {s.target for s in walk(fn.body) if isinstance(s, Assign)} | {
            c for s in walk(fn.body) if isinstance(s, Loop) for c, _, _ in s.carried
        }
        # containers whose adjoint only single-element assignments filled, each element a
        # new array (see Saving.single_slot_reads)
        self.fresh_containers: set[str] = set()

    @property
    def adj(self) -> dict[str, ast.expr]:
        return self.state.adj

    @property
    def owned(self) -> set[str]:
        return self.state.owned

    @property
    def pending(self) -> list[str]:
        return self.state.pending

    def put(self, node: ast.stmt) -> None:
        self.output.put(node)

    def adjoint_name(self, x: str) -> str:
        if x not in self.adj_names:
            self.adj_names[x] = self.ns.fresh("d" + x)
            self.primal_of[self.adj_names[x]] = x
        return self.adj_names[x]

    def zero(self, x: str) -> ast.expr:
        if x in self.program.python_floats:
            return ast.Constant(0.0)  # a Python float's adjoint stays a Python float
        return call(self.ns.helper("zero_like"), name(x))

    def accumulate(self, x: str, contribution: ast.expr, simplified: bool = False) -> None:
        """Add ``contribution`` to the adjoint of ``x``.

        A first contribution that is an expression is kept *pending* rather than
        assigned: if nothing else is added to it and the rule that consumes it reads
        it once, it is inlined there, so chains of elementwise adjoints become one
        expression (and their minus signs cancel). Pending expressions only read
        values that no longer change, and are flushed at every block boundary. A
        ``simplified`` contribution (an inlined rule's) is simplified again only where a
        broadcast is dropped."""
        if self.program.shapes and contains(contribution, is_broadcast_to):
            c = self.without_broadcasts(contribution)
        elif simplified:
            c = contribution
        else:
            c = simplify(contribution)
        container = self.program.kind(x) != LEAF
        self.fresh_containers.discard(x)
        if x in self.pending:
            if self.program.is_scalar(x):
                # one expression for both: on a scalar, a statement costs more than the
                # temporary that `dx = a; dx += b` would save on an array
                self.adj[x] = simplify(ast.BinOp(left=self.adj[x], op=ast.Add(), right=c))
                self.pending_locs[x] = [
                    loc for loc in [*self.pending_locs.get(x, []), self.current_loc] if loc
                ]
                return
            self.flush(x)
        if x not in self.adj:
            self.first(x, c, container)
            return
        dx = self.adjoint_name(x)
        current = self.adj[x]
        if container:
            value = call(self.ns.helper("add_adjoint"), current, c)
            self.put(assign(dx, value))
        elif x in self.owned and current_is(current, dx) and x not in self.program.act.complex:
            # (a complex value's adjoint is added to out of place: it may have begun
            # real, as np.real's cotangent)
            scattered = self.scattered(c)
            if scattered is not None:  # dx[index] += g, not dx += zeros with g at index
                g, index = scattered
                self.put(ast.Expr(value=call(self.ns.helper("add_into"), name(dx), index, g)))
                return
            self.put(ast.AugAssign(target=store(dx), op=ast.Add(), value=self.spread_by_add(x, c)))
            return
        else:
            if self.factor_shapes()(current) == self.program.shape(name(x)):
                c = self.spread_by_add(x, c)  # (current + g: g spreads over current)
            self.put(assign(dx, ast.BinOp(left=current, op=ast.Add(), right=c)))
        self.adj[x] = name(dx)
        self.owned.add(x)

    def spread_by_add(self, x: str, c: ast.expr) -> ast.expr:
        """``g`` for ``c = np.broadcast_to(g, S)`` added to an adjoint of ``x`` of its
        known shape ``S``: ``dx += g`` (or ``dx_1 + g``) spreads ``g`` over it as the
        broadcast would (the adjoint of ``np.sum(x, axis=1, keepdims=True)``)."""
        spread = broadcast_of(c)
        if spread is not None and spread[1] == self.program.shape(name(x)):
            return spread[0]
        return c

    def without_broadcasts(self, c: ast.expr) -> ast.expr:
        """``c`` without the ``np.broadcast_to`` calls that numpy's broadcasting does
        (``drop_broadcasts``), simplified."""
        return simplify(drop_broadcasts(c, self.factor_shapes()))

    def scattered(self, c: ast.expr) -> tuple[ast.expr, ast.expr] | None:
        """(g, index) when ``c`` is ``unindex(g, x, index)``, the adjoint of ``x[index]``:
        zeros shaped like ``x`` but at ``index``."""
        if (
            isinstance(c, ast.Call)
            and isinstance(c.func, ast.Name)
            and self.ns.namespace.get(c.func.id) is runtime.unindex
            and len(c.args) == 3
            and not c.keywords
        ):
            return c.args[0], c.args[2]
        return None

    def first(self, x: str, c: ast.expr, container: bool) -> None:
        """The first contribution ``c`` to the adjoint of ``x``: an alias, a pending
        expression, or an assignment."""
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

    def factor_shapes(self):
        """The known shape of a factor of an adjoint expression, for ``drop_broadcasts``:
        an adjoint has the shape of its value."""
        adjoint_of = {v: k for k, v in self.adj_names.items()}
        shape = self.program.shape

        def known(node: ast.expr) -> tuple | None:
            if isinstance(node, ast.Name):
                return shape(ast.Name(id=adjoint_of.get(node.id, node.id)))
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and self.ns.namespace.get(node.func.id) is runtime.extremum_mask
                and node.args
            ):
                return shape(node.args[0])  # shaped like the reduced array
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and self.ns.namespace.get(node.func.id) is runtime.exp_minus_logsumexp
                and 1 <= len(node.args) <= 2
                and not node.keywords
            ):
                return shape(node.args[0])  # (without b) shaped like its operand
            return None

        return known

    def flush(self, x: str | None = None) -> None:
        """Assign pending adjoint expressions (all of them, or the one of ``x``)."""
        for y in [x] if x is not None else list(self.pending):
            self.pending.remove(y)
            c = self.adj[y]
            dy = self.adjoint_name(y)
            want, self.output.want = self.output.want, self.pending_locs.pop(y, [])
            self.put(assign(dy, c))
            self.output.want = want
            self.adj[y] = name(dy)
            if is_fresh(c) or isinstance(c, ast.List):
                self.owned.add(y)
            else:
                self.owned.discard(y)

    def take_pending(self, x: str) -> None:
        """Stop ``x``'s adjoint being pending: its expression is about to be written
        out by the caller, after the comments naming its lines."""
        self.pending.remove(x)
        self.output.want = self.pending_locs.pop(x, [])

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
        ``Saving.single_slot_reads``) is assigned, not added to."""
        fresh = c in self.fresh_containers
        self.fresh_containers.discard(c)
        slot = self.slot(c, index)
        if slot is not None and self.fill_slot(c, slot, g):
            return
        if c in self.pending:
            self.flush(c)
        dc = self.adjoint_name(c)
        add_at = self.ns.helper("add_at")
        # a new element (or list of new arrays) added at an int: the container's
        # elements stay new arrays, distinct from each other (add_at adds a + b)
        new = not isinstance(index, ast.Slice) and (_new_elements(g) or is_fresh(g))
        element = ast.Subscript(value=name(dc), slice=index, ctx=ast.Store())
        if c not in self.adj:
            fresh_list = call(self.ns.helper("zeros_adjoint"), name(c))
            if single:  # dc = [None] * n; dc[index] = g
                self.put(assign(dc, fresh_list))
                self.put(ast.Assign(targets=[element], value=g))
            else:
                self.put(assign(dc, call(add_at, fresh_list, index, g)))
            if new:
                self.fresh_containers.add(c)
        elif c in self.owned and current_is(self.adj[c], dc):
            if single:
                self.put(ast.Assign(targets=[element], value=g))
                if fresh and new:
                    self.fresh_containers.add(c)
            else:
                self.put(ast.Expr(value=call(add_at, name(dc), index, g)))
                if fresh and new:
                    self.fresh_containers.add(c)
            return
        else:
            fresh_list = call(self.ns.helper("copy_adjoint"), self.adj[c])
            self.put(assign(dc, call(add_at, fresh_list, index, g)))
        self.adj[c] = name(dc)
        self.owned.add(c)

    def fill_slot(self, c: str, slot: tuple[int, int], g: ast.expr) -> bool:
        """Put ``g`` into an empty element of the pending list display of ``c``'s
        adjoint (starting one if there is none yet); False when that cannot be done."""
        current = self.adj.get(c)
        if current is None:
            elts: list[ast.expr] = [ast.Constant(None) for _ in range(slot[1])]
            elts[slot[0]] = g
            self.adj[c] = ast.List(elts=elts, ctx=ast.Load())
            self.pending.append(c)
            self.pending_locs[c] = [loc for loc in [self.current_loc] if loc is not None]
            return True
        if c in self.pending and isinstance(current, ast.List) and _is_none(current.elts[slot[0]]):
            current.elts[slot[0]] = g
            if self.current_loc is not None:
                self.pending_locs.setdefault(c, []).append(self.current_loc)
            return True
        return False

    def slot(self, c: str, index: ast.expr) -> tuple[int, int] | None:
        """(element, length) for a constant index into a tuple of known length."""
        kind = self.program.kind(c)
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
        fresh = x in self.fresh_containers
        self.fresh_containers.discard(x)
        if x in self.pending:
            self.flush(x)
        current = self.adj.get(x)
        if (
            owned
            and fresh
            and current is not None
            and current_is(current, target)
            and x in self.owned
        ):
            self.fresh_containers.add(x)  # already there, unchanged: still new arrays
            return
        if current is None:
            self.put(assign(target, self.zero(x)))
        elif (
            owned
            and x in self.owned
            and isinstance(current, ast.Name)
            and self.program.kind(x) == LEAF
        ):
            # the array is the gradient's own and only x's adjoint refers to it: it
            # moves into target, still owned (no copy)
            if not current_is(current, target):
                self.put(assign(target, current))
        elif owned and not (x in self.owned and current_is(current, target)):
            if self.program.kind(x) != LEAF:
                self.put(assign(target, call(self.ns.helper("copy_adjoint"), current)))
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


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _new_elements(g: ast.expr) -> bool:
    """Whether ``g`` is a list display of new arrays (or zeros, None)."""
    return isinstance(g, ast.List) and all(_is_none(e) or is_fresh(e) for e in g.elts)
