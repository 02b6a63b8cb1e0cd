"""The walk over one function's statements, in order: binds variables, follows
branches and loops (a fixpoint at each loop head), and refuses an ``x op= ...`` on
an array that ``x`` does not own. Expressions are evaluated by ``expressions``,
appends checked by ``lists``."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..desugar import desugar
from ..errors import AdCompileError
from ..frontend import SourceFunction, StaticFunction, from_function
from ..names import Resolver
from ..rules.containers import function_of
from .expressions import Expressions
from .lists import Lists
from .reads import Reads
from .updates import Updates
from .values import NUMBER, Returned, State, Value, element, may_be_read_only


class _Stop(Exception):
    """A block ended with return, break or continue."""


@dataclass
class _Loop:
    breaks: list[State] = field(default_factory=list)
    continues: list[State] = field(default_factory=list)


class Ownership(Updates):
    """The walk over one function. ``resolve`` maps a called expression to the object
    it names (None when it cannot tell); ``summaries`` caches, per helper, whether
    it returns arrays of its own (shared by the checks of one compilation)."""

    def __init__(
        self,
        src: SourceFunction,
        resolve: Callable[[ast.expr], object],
        *,
        helper: bool,
        summaries: dict | None = None,
        kinds: tuple | None = None,
        arg_shapes: tuple | None = None,
    ) -> None:
        self.src = src
        # what the code is compiled for (see api.py): the structure of each argument
        # (a function passed as one is known) and, for the function being
        # differentiated, its shape signature (a Python number, a list's length)
        self.kinds = kinds
        self.arg_shapes = None if helper else arg_shapes
        self.resolve = resolve
        self.helper = helper
        self.summaries = {} if summaries is None else summaries
        node = src.node
        self.params = [a.arg for a in node.args.args]
        self.locals = set(src.variables)
        self.reads = Reads(node)
        self.exprs = Expressions(self.locals, resolve, self.summaries, self.returns_own_array)
        self.lists = Lists(src, helper=helper)
        self.loops: list[_Loop] = []
        self.loop_nodes: list[ast.stmt] = []
        self.returns: list[bool] = []  # per return: whether it hands back an array of its own
        # what the returns hand back, for the callers (see values.Returned): whether
        # each is new or sealed, the parameters they may share, read-only arrays, more
        self.sealed_returns = True
        self.shared: set = set()
        self.read_only: set[str] = set()
        self.more = False
        # where an update writes into an array that may be read-only: the places
        # (line, column) of the statements whose write the generated code checks
        self.checks: set[tuple[int, int]] = set()
        # parameter -> (where, operator, variable) of the first x op= ... that Python
        # would do in the memory of that parameter's argument (not in a helper: there
        # it is refused)
        self.updates: dict[str, tuple] = {}
        self.passed: set[int] = set()  # parameters whose object (or part) a return hands back
        self.entry_objects: dict[str, frozenset[str]] = {}  # the parameters' objects (run)
        self.defaults: dict[str, str] = {}  # parameter -> its mutable default's object
        self.passed_defaults: set[str] = set()  # those a return may hand back, or hold
        self.arguments = {} if helper else {_argument(p): p for p in self.params}
        self.lengths = _lengths(node, self.params, kinds, self.arg_shapes)

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        state = self.entry()
        self.entry_objects = dict(state.points)
        try:
            self.block(self.src.node.body, state)
        except _Stop:
            pass

    def entry(self) -> State:
        """The state on entry: what may see each parameter's array and list."""
        state = State()
        if self.helper:
            for p in self.params:
                state.shares[p] = frozenset({self.passed_array(p)})
        else:
            # the caller's arrays: x += ... on one is differentiated as x = x + ...
            # (the generated code never writes into its arguments), which is what
            # Python computes unless the caller passes one array for two parameters
            # (see ``updates``, which the call checks)
            for p in self.params:
                state.shares[p] = frozenset({_argument(p)})
        for p in self.params:
            state.points[p] = frozenset(
                {
                    f"the list the caller passed to {self.src.name}() as {p!r}"
                    if self.helper
                    else f"the list passed as the argument {p!r}"
                }
            )
        defaults = getattr(self.src.function, "__defaults__", None) or ()
        for p, d in zip(self.params[len(self.params) - len(defaults) :], defaults, strict=True):
            if not isinstance(d, int | float | complex | str | bytes | tuple | np.generic):
                # a mutable default is one object for every call: Python's x += ...
                # would change what the next call starts from
                state.shares[p] = frozenset({f"the default value of {p!r}"})
                self.defaults[p] = f"the default value of {p!r}, one list for every call"
                state.points[p] = frozenset({self.defaults[p]})
        for p, kind in zip(self.params, self.kinds or (), strict=False):
            if function_of(kind) is not None:
                # the code is compiled for the function passed: a call of it is its call
                state.functions[p] = (function_of(kind),)
        for p, shape in zip(self.params, self.arg_shapes or (), strict=False):
            if shape in (float, int, bool, complex, np.number):
                # an immutable number, Python's or numpy's (code compiled for these
                # arguments only gets them): no array is its, and x op= ... on it binds
                # x to a new value
                state.numbers = state.numbers | {p}
                state.shares[p] = frozenset()
        return state

    def block(self, stmts: list[ast.stmt], state: State) -> State:
        """Run ``stmts`` from ``state`` (updated in place); raises _Stop when the block
        cannot fall through."""
        for stmt in stmts:
            self.statement(stmt, state)
        return state

    def branch(self, stmts: list[ast.stmt], state: State) -> State | None:
        try:
            return self.block(stmts, state.copy())
        except _Stop:
            return None

    @staticmethod
    def replace(state: State, new: State | None) -> None:
        if new is None:
            raise _Stop
        state.replace(new)

    # -------------------------------------------------------------- statements

    def statement(self, stmt: ast.stmt, state: State) -> None:
        self.lists.renew(stmt, state)
        if isinstance(stmt, ast.Assign):
            value = self.exprs.value(stmt.value, state)
            for target in stmt.targets:
                if isinstance(target, ast.Subscript):
                    self.element_update(stmt, target, state)
                    continue
                self.bind(target, stmt.value, value, state)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.bind(stmt.target, stmt.value, self.exprs.value(stmt.value, state), state)
        elif isinstance(stmt, ast.AugAssign):
            self.augmented(stmt, state)
        elif isinstance(stmt, ast.Expr):
            self.expression_statement(stmt, state)
        elif isinstance(stmt, ast.If):
            ends = [self.branch(stmt.body, state), self.branch(stmt.orelse, state)]
            self.replace(state, State.join(ends))
        elif isinstance(stmt, ast.For | ast.While):
            self.loop(stmt, state)
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self.returns.append(self.own_result(stmt.value, state))
                self.note_return(stmt.value, state, own=self.returns[-1])
                self.passed |= self.passed_back(stmt.value, state)
                reached = state.reach_contents(self.exprs.objects(stmt.value, state))
                self.passed_defaults |= {p for p, o in self.defaults.items() if o in reached}
            raise _Stop
        elif isinstance(stmt, ast.With):
            for inner in stmt.body:
                self.statement(inner, state)
        elif isinstance(stmt, ast.Raise):
            raise _Stop
        elif isinstance(stmt, ast.Break | ast.Continue):
            if self.loops:
                loop = self.loops[-1]
                (loop.breaks if isinstance(stmt, ast.Break) else loop.continues).append(
                    state.copy()
                )
            raise _Stop

    def expression_statement(self, stmt: ast.Expr, state: State) -> None:
        call = stmt.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("append", "extend", "insert")
            and isinstance(call.func.value, ast.Name)
        ):
            var = call.func.value.id
            if var in self.locals:
                later = self.reads.after(stmt, self.loop_nodes)
                self.lists.check_update(var, stmt, state, later)
            for arg in call.args:
                state.hold(var, self.exprs.value(arg, state), self.locals)
            added = frozenset().union(*(self.exprs.objects(a, state) for a in call.args))
            if call.func.attr == "extend":
                added = state.elements(added)
            for o in state.points.get(var, ()):
                state.contents[o] = state.contents.get(o, frozenset()) | added

    def loop(self, stmt: ast.For | ast.While, state: State) -> None:
        """The state at the head of a loop joins the state on entry with the state at
        the end of each iteration (a fixpoint: sharing only ever grows)."""
        head = state.copy()
        self.loop_nodes.append(stmt)
        if isinstance(stmt, ast.For):
            self.lists.iterating.append((stmt, set(self.iterated(stmt.iter, state))))
        try:
            while True:
                frame = _Loop()
                self.loops.append(frame)
                try:
                    body = head.copy()
                    if isinstance(stmt, ast.For):
                        self.bind_iteration(stmt, body)
                    end = self.branch(stmt.body, body)
                finally:
                    self.loops.pop()
                new_head = State.join([head, end, *frame.continues])
                if new_head == head:
                    break
                head = new_head
        finally:
            self.loop_nodes.pop()
            if isinstance(stmt, ast.For):
                self.lists.iterating.pop()
        if isinstance(stmt, ast.For) and _runs_once(stmt.iter, self.resolve, self.lengths):
            # the body runs at least once: the state on entry does not reach past it
            after = State.join([end, *frame.continues, *frame.breaks])
        else:
            after = State.join([head, *frame.breaks])
        if stmt.orelse and after is not None:
            after = self.branch(stmt.orelse, after) or after
        self.replace(state, after)

    def iterated(self, it: ast.expr, state: State) -> frozenset[str]:
        """The objects a for loop over ``it`` iterates over (holds on to while it runs)."""
        func = self.resolve(it.func) if isinstance(it, ast.Call) else None
        if func is range:
            return frozenset()
        if func in (enumerate, zip):
            return frozenset().union(*(self.exprs.objects(a, state) for a in it.args))
        return self.exprs.objects(it, state)

    def bind_iteration(self, stmt: ast.For, state: State) -> None:
        it, target = stmt.iter, stmt.target
        exprs = self.exprs
        func = self.resolve(it.func) if isinstance(it, ast.Call) else None
        if func is range:
            self.bind(target, it, NUMBER, state, frozenset())
            return
        if func is enumerate and isinstance(target, ast.Tuple) and len(target.elts) == 2:
            self.bind(target.elts[0], it, NUMBER, state, frozenset())
            inner = it.args[0] if it.args else it
            self.bind(
                target.elts[1],
                inner,
                element(exprs.value(inner, state)),
                state,
                state.elements(exprs.objects(inner, state)),
            )
            return
        if func is zip and isinstance(target, ast.Tuple) and len(target.elts) == len(it.args):
            for t, a in zip(target.elts, it.args, strict=True):
                elements = state.elements(exprs.objects(a, state))
                self.bind(t, a, element(exprs.value(a, state)), state, elements)
            return
        if func is zip:  # for pair in zip(xs, ys): a new tuple of their elements
            given = frozenset().union(*(exprs.objects(a, state) for a in it.args))
            objs = state.made(it, state.elements(given))
        else:
            objs = state.elements(exprs.objects(it, state))
        self.bind(target, it, element(exprs.value(it, state)), state, objs)

    # ------------------------------------------------------------------ binding

    def bind(
        self,
        target: ast.expr,
        node: ast.expr,
        value: Value,
        state: State,
        objs: frozenset[str] | None = None,
        functions: tuple | None = None,
    ) -> None:
        """Bind ``target`` to ``node``'s value (``value`` for ownership, ``objs`` the
        objects it may be, for identity: by default those of ``node``, and then it is
        ``node``'s value itself, which may be a function)."""
        if objs is None:
            objs = self.exprs.objects(node, state)
            functions = self.exprs.functions(node, state)
        if isinstance(target, ast.Name):
            state.points[target.id] = objs
            var = target.id
            state.bound(var, value, functions)
            reached = (state.reach(value.refers) | value.outside) - {var}
            state.forget(var)
            if value.fresh:
                if value.refers:
                    state.hold(var, value, self.locals)
            elif value.sealed:
                # new, or read-only: a write into it that succeeds changes nothing else,
                # but it may be a view of what it refers to, which may change (one way)
                unwritable = frozenset(m for m in value.outside if may_be_read_only(m))
                state.seal(var, unwritable, reached - unwritable)
            else:
                state.shares[var] = frozenset(reached)
                state.link(var, reached, self.locals)
        elif isinstance(target, ast.Tuple | ast.List):
            if isinstance(node, ast.Tuple | ast.List) and len(node.elts) == len(target.elts):
                # every value is taken before any target is bound (a, b = x, a: b gets
                # the old a's array): what each refers to is resolved now, leaving out
                # the targets, which are about to name other objects
                rebound = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
                values = []
                for e in node.elts:
                    v = self.exprs.value(e, state)
                    if v.refers:
                        v = Value(
                            v.fresh,
                            frozenset(state.reach(v.refers) - rebound),
                            v.outside,
                            v.number,
                        )
                    values.append((v, self.exprs.objects(e, state), self.exprs.functions(e, state)))
                for t, e, (v, o, fns) in zip(target.elts, node.elts, values, strict=True):
                    self.bind(t, e, v, state, o, fns)
            else:
                elements = state.elements(objs)
                for t in target.elts:
                    self.bind(t, node, element(value), state, elements)
                self.pieces(target, node, state)
        elif isinstance(target, ast.Starred):
            # a, *rest = xs: rest is a new list of elements of xs
            elements = state.elements(objs)
            self.bind(target.value, node, element(value), state, elements)

    def pieces(self, target: ast.Tuple | ast.List, node: ast.expr, state: State) -> None:
        """``a, b = np.split(z, 2)``: the pieces are views of ``z`` that do not overlap
        (split into sections, or at indices written in increasing order: at ``[3, 1]``
        the first and last overlap), so ``a += ...`` changes ``z`` (which it still
        shares) but not ``b``."""
        func = self.resolve(node.func) if isinstance(node, ast.Call) else None
        names = [t.id for t in target.elts if isinstance(t, ast.Name)]
        if (
            not any(func is f for f in _SPLITS)
            or not _apart(node)
            or len(names) != len(target.elts)
            or len(set(names)) != len(names)
        ):
            return
        for n in names:
            state.apart[n] = frozenset(names) - {n}

    # ----------------------------------------------------------------- returns

    def own_result(self, node: ast.expr, state: State) -> bool:
        """Whether ``return node`` hands back an array nothing else refers to."""
        if isinstance(node, ast.Name):
            return (
                node.id in self.locals
                and not state.sharers(node.id)
                and not state.holds.get(node.id)
            )
        value = self.exprs.value(node, state)  # (a view of a new array is its own too)
        return not value.refers and not value.outside

    def passed_array(self, param: str) -> str:
        """What the memory of a helper's parameter's argument is called."""
        return f"the array the caller passed to {self.src.name}() as {param!r}"

    def note_return(self, node: ast.expr, state: State, own: bool) -> None:
        """Note, for the callers of a helper, what ``return node`` hands back: the
        parameters whose arrays it may be, contain, be a view of or see through one
        (a view of an array that may be read-only), and what else."""
        value = self.exprs.value(node, state)
        names = frozenset({node.id}) if isinstance(node, ast.Name) else value.refers
        reached = state.reach(names) | value.outside
        if own:
            return
        self.sealed_returns &= value.sealed or (
            isinstance(node, ast.Name)
            and node.id in self.locals
            and not state.holds.get(node.id)
            and all(m in self.locals or may_be_read_only(m) for m in reached)
        )
        for i, p in enumerate(self.params):
            arrays = frozenset({p, self.passed_array(p)})
            if reached & arrays or names & state.reach(arrays):
                self.shared |= {i, p}
        self.read_only |= {m for m in reached if may_be_read_only(m)}
        passed = {self.passed_array(p) for p in self.params}
        self.more |= any(
            m not in self.locals and m not in passed and not may_be_read_only(m) for m in reached
        )

    def passed_back(self, node: ast.expr, state: State) -> set[int]:
        """The positions of the parameters whose object, or part of it, ``node`` may be."""
        objs = self.exprs.objects(node, state)  # (a new container holding them is not them)
        return {
            i
            for i, p in enumerate(self.params)
            if any(o in objs or f"part of {o}" in objs for o in self.entry_objects[p])
        }

    def returns_own_array(self, obj: object) -> bool:
        """Whether every return of the helper ``obj`` hands back an array of its own
        (its summary, walked once per compilation and cached in ``summaries``)."""
        key = id(obj)
        if key in self.summaries:
            return bool(self.summaries[key])
        self.summaries[key] = False  # while in progress (recursion): assume not
        try:
            src = obj.source if isinstance(obj, StaticFunction) else from_function(obj)
            src = desugar(src)
        except AdCompileError:
            return False
        walk = Ownership(src, Resolver(src).find, helper=True, summaries=self.summaries)
        try:
            walk.run()
        except AdCompileError:
            return False  # refused anyway when the helper itself is compiled
        self.summaries[key] = bool(walk.returns) and all(walk.returns)
        a = src.node.args
        if walk.returns and not (a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs):
            # (each argument of a call goes to the parameter its position or name says)
            self.summaries[("returned", key)] = Returned(
                walk.sealed_returns,
                frozenset(walk.shared),
                frozenset(walk.read_only),
                walk.more,
            )
        # by position and by name (keyword arguments)
        self.summaries[("defaults", key)] = frozenset(walk.passed_defaults)
        self.summaries[("passed", key)] = frozenset(walk.passed) | {
            walk.params[i] for i in walk.passed
        }
        return self.summaries[key]


# the functions that split an array into views of parts of it that do not overlap
_SPLITS = (np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit)


def _runs_once(it: ast.expr, resolve: Callable, lengths: dict[str, int]) -> bool:
    """Whether a for loop over ``it`` certainly runs its body (``resolve`` maps a
    called expression to what it names, ``lengths`` is ``_lengths``): over a tuple or list
    written out with elements, ``range`` of constants that is not empty, or a
    parameter that the code is compiled for a non-empty tuple, list or dict of (its
    kind, or its shape signature, gives the length) and that the function never
    rebinds or shortens (and its ``.items()``, ``.keys()``, ``.values()``); or over
    ``enumerate``, ``zip`` or ``reversed`` of such."""
    if isinstance(it, ast.Tuple | ast.List):
        return bool(it.elts) and not any(isinstance(e, ast.Starred) for e in it.elts)
    if isinstance(it, ast.Name):
        return it.id in lengths and lengths[it.id] > 0
    if (
        isinstance(it, ast.Call)
        and isinstance(it.func, ast.Attribute)
        and isinstance(it.func.value, ast.Name)
        and it.func.attr in ("items", "keys", "values")
        and not it.args
    ):
        return _runs_once(it.func.value, resolve, lengths)  # (a dict's, by its kind)
    if not (isinstance(it, ast.Call) and not it.keywords and it.args):
        return False
    func = resolve(it.func)
    if func is range:
        bounds = [a.value if isinstance(a, ast.Constant) else None for a in it.args]
        if any(type(b) is not int for b in bounds) or len(bounds) > 3 or bounds[2:] == [0]:
            return False  # (a step of 0 fails in Python too)
        return len(range(*bounds)) > 0
    if (func is enumerate or func is reversed) and len(it.args) == 1 or func is zip:
        return all(_runs_once(a, resolve, lengths) for a in it.args)
    return False


def _apart(call: ast.Call) -> bool:
    """Whether the split ``call`` makes pieces that do not overlap: its sections or
    indices are written as an int, or ints in increasing order."""
    where = call.args[1] if len(call.args) > 1 else None
    where = next((k.value for k in call.keywords if k.arg == "indices_or_sections"), where)
    if isinstance(where, ast.Constant):
        return type(where.value) is int
    if isinstance(where, ast.List | ast.Tuple):
        at = [e.value if isinstance(e, ast.Constant) else None for e in where.elts]
        return all(type(i) is int and i >= 0 for i in at) and at == sorted(at)
    return False


def _lengths(
    node: ast.FunctionDef, params: list[str], kinds: tuple | None, arg_shapes: tuple | None
) -> dict[str, int]:
    """The parameters that hold a tuple, list or dict whose length the code is compiled
    for: a tuple's and a dict's is in its kind, a list's in the shape signature; not
    one the function rebinds, writes into (``xs[:1] = []``), or shortens (``xs.pop()``,
    ``del xs[0]``)."""
    lengths: dict[str, int] = {}
    for i, p in enumerate(params):
        kind = kinds[i] if kinds is not None and i < len(kinds) else None
        shape = arg_shapes[i] if arg_shapes is not None and i < len(arg_shapes) else None
        if isinstance(shape, tuple) and len(shape) == 2 and shape[0] in (list, tuple):
            lengths[p] = len(shape[1])
        elif isinstance(kind, tuple) and len(kind) == 2 and kind[0] in ("tuple", "dict"):
            if isinstance(kind[1], tuple):
                lengths[p] = len(kind[1])
    for n in ast.walk(node):
        changed = None
        if isinstance(n, ast.Name | ast.Subscript | ast.Attribute) and not isinstance(
            n.ctx, ast.Load
        ):
            while isinstance(n, ast.Subscript | ast.Attribute):
                n = n.value  # (a store into a part of it)
            changed = n.id if isinstance(n, ast.Name) else None
        elif (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name)
            and n.func.attr in ("pop", "popitem", "remove", "clear")
        ):
            changed = n.func.value.id
        lengths.pop(changed, None)
    return lengths


def _argument(param: str) -> str:
    """What the memory of the argument of ``param`` is called (in ``State.shares``)."""
    return f"the argument {param!r}"
