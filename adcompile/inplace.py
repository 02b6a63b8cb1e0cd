"""Which ``x += ...`` adcompile may differentiate: who owns each array.

adcompile never writes into an array: ``x += y`` becomes ``x = x + y``. Python
writes into ``x``'s memory instead. The two are the same computation only when
nothing else can see that memory: no other name, no container, no view taken of
``x`` (or that ``x`` is of something), no caller. This pass walks the function's
source in order and knows, before each statement, which variables *own* their
array: made by this function with arithmetic or a numpy call that returns a new
array, and not handed to anything since. ``x op= ...`` on any other variable is
refused with a located error, whatever happens afterwards: a gradient is either
right or an error.

A parameter of the function being differentiated counts as owned (adcompile
never writes into its arguments: ``x += 1`` on one makes a new array, where
Python would change the caller's array too); a parameter of a helper it calls
does not (the caller may read that array again). After an ``if`` or a loop a
variable is owned only if it is on every path (for a loop: on entry and after
every iteration).
"""

from __future__ import annotations

import ast
import math
import types
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import AdCompileError
from .frontend import SourceFunction, StaticFunction, from_function
from .names import CONSTANT_ATTRIBUTES, METHODS, Resolver, is_helper
from .rules import registry


class _FreshFunctions:
    """The ids of the functions that always return a new array: those whose primitive
    record says so, and ``others`` (functions with no record)."""

    def __init__(self, others: set) -> None:
        self.records = registry.spellings_where(lambda p: p.fresh)
        self.others = {id(f) for f in others}

    def __contains__(self, key: int) -> bool:
        return key in self.others or key in self.records


class _FreshMethods:
    """The names of the array methods that always return a new array."""

    def __init__(self, others: set[str]) -> None:
        self.others = others

    def __contains__(self, name: str) -> bool:
        entry = METHODS.get(name)
        return name in self.others or (entry is not None and id(entry[0]) in FRESH_FUNCTIONS)


# Functions whose result is always a new array (or an immutable scalar): the
# primitives whose record says so (rules/), the functions below that have no record,
# and every ufunc. Any other call may return (a view of) one of its arguments.
FRESH_OTHERS = {
    np.inner,
    np.tensordot,
    np.einsum,
    np.vstack,
    np.hstack,
    np.array,
    np.copy,
    np.sort,
    np.cumsum,
    np.cumprod,
    np.diff,
    np.trace,
    np.tile,
    np.repeat,
    float,
    int,
    bool,
    len,
    round,
    sum,
    range,
    isinstance,
}
FRESH_FUNCTIONS = _FreshFunctions(FRESH_OTHERS)
# methods of arrays whose result is a new array: those that mean a primitive whose
# record says so (METHODS), and these (x.reshape(...) and the like are views)
FRESH_METHODS = _FreshMethods({"copy", "astype", "flatten"})


@dataclass
class Value:
    """What an expression evaluates to, for ownership: whether it is a new object,
    the variables whose arrays it may refer to (be, be a view of, or contain), and
    what else outside the function's variables it may share memory with."""

    fresh: bool
    refers: frozenset[str] = frozenset()
    outside: frozenset[str] = frozenset()


NEW = Value(True)


@dataclass
class State:
    """Before a statement: for each variable, what else may see its array (other
    variables, or phrases such as "the global 'W'"); empty when it owns it. Sharing
    between variables is kept symmetric. ``holds`` maps a container variable to the
    variables whose arrays went into it."""

    shares: dict[str, frozenset[str]] = field(default_factory=dict)
    holds: dict[str, frozenset[str]] = field(default_factory=dict)
    # Identity, for lists (see Ownership.objects): the objects each variable may be
    # bound to, and the objects each object may hold as elements.
    points: dict[str, frozenset[str]] = field(default_factory=dict)
    contents: dict[str, frozenset[str]] = field(default_factory=dict)

    def copy(self) -> State:
        return State(dict(self.shares), dict(self.holds), dict(self.points), dict(self.contents))

    def sharers(self, var: str) -> frozenset[str]:
        return self.shares.get(var, frozenset())

    def reach(self, names: frozenset[str]) -> set[str]:
        """``names`` and everything whose memory they may share or contain."""
        seen, todo = set(), list(names)
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            todo.extend(self.shares.get(n, ()))
            todo.extend(self.holds.get(n, ()))
        return seen

    def forget(self, var: str) -> None:
        """``var`` is bound to another object: nothing shares with it any more."""
        for m in self.shares.pop(var, frozenset()) | self.holds.pop(var, frozenset()):
            if var in self.shares.get(m, ()):
                self.shares[m] = self.shares[m] - {var}

    def link(self, var: str, others: set[str], names: set[str]) -> None:
        """``var`` may see the arrays of ``others`` (those in ``names`` are variables)."""
        for m in others & names:
            self.shares[m] = self.sharers(m) | {var}

    @staticmethod
    def join(states: list[State | None]) -> State | None:
        """The state where paths that ended in ``states`` meet (None: a path that
        stopped): a variable shares whatever it shares on any path."""
        reached = [s for s in states if s is not None]
        if not reached:
            return None
        out = reached[0].copy()
        for other in reached[1:]:
            for table, theirs in (
                (out.shares, other.shares),
                (out.holds, other.holds),
                (out.points, other.points),
                (out.contents, other.contents),
            ):
                for n, v in theirs.items():
                    table[n] = table[n] | v if n in table else v
        return out


class _Stop(Exception):
    """A block ended with return, break or continue."""


@dataclass
class _Loop:
    breaks: list[State] = field(default_factory=list)
    continues: list[State] = field(default_factory=list)


class Ownership:
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
    ) -> None:
        self.src = src
        self.resolve = resolve
        self.helper = helper
        self.summaries = {} if summaries is None else summaries
        node = src.node
        self.params = [a.arg for a in node.args.args]
        self.locals = set(self.params)
        self.last_read: dict[str, tuple[int, int]] = {}
        updated = {
            id(n.target) for n in ast.walk(node) if isinstance(n, ast.AugAssign)
        }  # x += ... reads x
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                if isinstance(n.ctx, ast.Store):
                    self.locals.add(n.id)
                pos = (n.lineno, n.col_offset)
                reads = isinstance(n.ctx, ast.Load) or id(n) in updated
                if reads and pos > self.last_read.get(n.id, (0, 0)):
                    self.last_read[n.id] = pos
        self.loops: list[_Loop] = []
        self.loop_nodes: list[ast.stmt] = []
        # per enclosing for loop: the loop and the objects it iterates over
        self.iterating: list[tuple[ast.For, set[str]]] = []
        self.loop_reads: dict[int, set[str]] = {}
        self.returns: list[bool] = []  # per return: whether it hands back an array of its own
        # parameter -> (where, operator, variable) of the first x op= ... that Python
        # would do in the memory of that parameter's argument (not in a helper: there
        # it is refused)
        self.updates: dict[str, tuple] = {}
        self.passed: set[int] = set()  # parameters whose object (or part) a return hands back
        self.entry_objects: dict[str, frozenset[str]] = {}  # the parameters' objects (run)
        self.defaults: dict[str, str] = {}  # parameter -> its mutable default's object
        self.passed_defaults: set[str] = set()  # those a return may hand back, or hold
        self.arguments = {} if helper else {_argument(p): p for p in self.params}

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        state = State()
        if self.helper:
            outside = frozenset({f"the array the caller passed to {self.src.name}()"})
            state.shares = dict.fromkeys(self.params, outside)
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
        self.entry_objects = dict(state.points)
        try:
            self.block(self.src.node.body, state)
        except _Stop:
            pass

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
        state.shares, state.holds = new.shares, new.holds
        state.points, state.contents = new.points, new.contents

    # -------------------------------------------------------------- statements

    def statement(self, stmt: ast.stmt, state: State) -> None:
        self.renew(stmt, state)
        if isinstance(stmt, ast.Assign):
            value = self.value(stmt.value, state)
            for target in stmt.targets:
                self.bind(target, stmt.value, value, state)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.bind(stmt.target, stmt.value, self.value(stmt.value, state), state)
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
                self.passed |= self.passed_back(stmt.value, state)
                reached = self.reach_contents(self.objects(stmt.value, state), state)
                self.passed_defaults |= {p for p, o in self.defaults.items() if o in reached}
            raise _Stop
        elif isinstance(stmt, ast.Break | ast.Continue):
            if self.loops:
                loop = self.loops[-1]
                (loop.breaks if isinstance(stmt, ast.Break) else loop.continues).append(
                    state.copy()
                )
            raise _Stop

    def augmented(self, stmt: ast.AugAssign, state: State) -> None:
        target = stmt.target
        if not isinstance(target, ast.Name):
            return  # refused by the normalizer
        var = target.id
        later = self.read_later(stmt)
        seen = state.reach(frozenset({var})) - {var}
        for m in seen:
            if m in self.arguments:
                update = (self.src.loc(stmt), _symbol(stmt.op), var)
                self.updates.setdefault(self.arguments[m], update)
        seen = {m for m in seen if m not in self.arguments}
        direct = state.sharers(var)
        blocking = sorted(
            (m for m in seen if m not in self.locals or m in later),
            key=lambda m: (m in self.locals, m not in direct, m),
        )
        if blocking:
            op = _symbol(stmt.op)
            other = blocking[0] if blocking[0] not in self.locals else repr(blocking[0])
            raise AdCompileError(
                f"{var!r} shares its memory with {other} here, so "
                f"`{var} {op}= ...` would change {other} too",
                self.src.loc(stmt),
                hint=f"write {var} = {var} {op} ... to make a new array",
            )
        # what shares it is never read again: from here on it is as good as new
        holds = state.holds.get(var, frozenset())
        state.forget(var)
        if holds:
            state.holds[var] = holds
        value = self.value(stmt.value, state)
        if value.refers and isinstance(stmt.value, ast.List | ast.Tuple):
            self.hold(var, value, state)  # xs += [a]: xs now holds a

    def read_later(self, stmt: ast.stmt) -> set[str]:
        """Names the function may read after ``stmt``: below it, or anywhere in a loop
        around it (which runs it again)."""
        end = (stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
        names = {n for n, pos in self.last_read.items() if pos > end}
        for loop in self.loop_nodes:
            if id(loop) not in self.loop_reads:
                self.loop_reads[id(loop)] = {
                    n.id
                    for n in ast.walk(loop)
                    if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)
                } | {
                    n.target.id
                    for n in ast.walk(loop)
                    if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)
                }
            names |= self.loop_reads[id(loop)]
        return names

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
                self.check_list_update(var, stmt, state)
            for arg in call.args:
                self.hold(var, self.value(arg, state), state)
            added = frozenset().union(*(self.objects(a, state) for a in call.args))
            if call.func.attr == "extend":
                added = self.elements(added, state)
            for o in state.points.get(var, ()):
                state.contents[o] = state.contents.get(o, frozenset()) | added

    def check_list_update(self, var: str, stmt: ast.stmt, state: State) -> None:
        """Refuse ``var.append(...)`` unless nothing but ``var`` can see the list.

        adcompile differentiates ``xs.append(v)`` as ``xs = xs + [v]``, a new list
        under the one name: the same as Python's update in place only when the list
        is the function's own (not an argument, a default, a global or part of one),
        no other name that is read again is bound to it, no container read again
        holds it, and no loop is iterating over it."""
        objs = state.points.get(var, frozenset())
        method = f"`{var}.{stmt.value.func.attr}(...)`"
        loc = self.src.loc(stmt)
        later = self.read_later(stmt)
        others = sorted(w for w, o in state.points.items() if w != var and w in later and o & objs)
        if others:
            raise AdCompileError(
                f"{var!r} and {others[0]!r} are the same list here, so {method} would "
                f"change {others[0]!r} too",
                loc,
                hint=f"give the list one name, or build {var} and {others[0]} as two lists",
            )
        holders, todo = set(), list(objs)
        while todo:
            o = todo.pop()
            for p, held in state.contents.items():
                if o in held and p not in holders:
                    holders.add(p)
                    todo.append(p)
        seen_by = sorted(
            w for w, o in state.points.items() if w != var and w in later and o & holders
        )
        if seen_by:
            raise AdCompileError(
                f"the list {var!r} is held in {seen_by[0]!r} here, so {method} would change "
                f"what {seen_by[0]!r} holds too",
                loc,
                hint=f"finish {var} before putting it into {seen_by[0]}, or append to a new list",
            )
        for loop, iterated in self.iterating:
            if iterated & (objs | holders):
                what = repr(var) if iterated & objs else f"a list holding {var!r}"
                raise AdCompileError(
                    f"the loop at line {self.src.loc(loop).lineno} iterates over {what}, "
                    f"so {method} would change what it iterates over",
                    loc,
                    hint="append to another list in the loop, and combine the two after it",
                )
        outside = sorted(o for o in objs if not _is_site(o))
        if outside:
            raise AdCompileError(
                f"{method} would change {outside[0]}; adcompile appends only to lists "
                "that the function makes itself",
                loc,
                hint="append to a list the function makes itself (ys = [] or ys = [a, b]), "
                "copying into it the elements you need"
                + (
                    "; or return the new elements and append them in the caller"
                    if self.helper and "caller passed" in outside[0]
                    else ""
                ),
            )

    def renew(self, stmt: ast.stmt, state: State) -> None:
        """The objects that ``stmt`` makes are new each time it runs: those it made on
        an earlier run (in a loop) become the 'old' objects of their place in the
        source, so that what holds or names them does not see the new ones."""
        if isinstance(stmt, ast.If | ast.While):
            roots = [stmt.test]
        elif isinstance(stmt, ast.For):
            roots = [stmt.iter]
        else:
            roots = [stmt]
        # every object made so far has its contents recorded (see made)
        sites = {_site(n) for r in roots for n in ast.walk(r)} & state.contents.keys()
        if not sites:
            return

        def old(objs: frozenset[str]) -> frozenset[str]:
            if objs.isdisjoint(sites):
                return objs
            return frozenset(f"old {o}" if o in sites else o for o in objs)

        state.points = {v: old(o) for v, o in state.points.items()}
        contents: dict[str, frozenset[str]] = {}
        for o, held in state.contents.items():
            key = f"old {o}" if o in sites else o
            contents[key] = contents.get(key, frozenset()) | old(held)
        state.contents = contents
        for _, iterated in self.iterating:
            for o in sites & iterated:
                iterated.discard(o)
                iterated.add(f"old {o}")

    def hold(self, container: str, value: Value, state: State) -> None:
        """The arrays ``value`` refers to go into ``container``."""
        reached = state.reach(value.refers) - {container}
        state.holds[container] = state.holds.get(container, frozenset()) | reached
        state.link(container, reached, self.locals)

    def loop(self, stmt: ast.For | ast.While, state: State) -> None:
        """The state at the head of a loop joins the state on entry with the state at
        the end of each iteration (a fixpoint: sharing only ever grows)."""
        head = state.copy()
        self.loop_nodes.append(stmt)
        if isinstance(stmt, ast.For):
            self.iterating.append((stmt, set(self.iterated(stmt.iter, state))))
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
                self.iterating.pop()
        after = State.join([head, *frame.breaks])
        if stmt.orelse:
            after = self.branch(stmt.orelse, after) or after
        self.replace(state, after)

    def iterated(self, it: ast.expr, state: State) -> frozenset[str]:
        """The objects a for loop over ``it`` iterates over (holds on to while it runs)."""
        func = self.resolve(it.func) if isinstance(it, ast.Call) else None
        if func is range:
            return frozenset()
        if func in (enumerate, zip):
            return frozenset().union(*(self.objects(a, state) for a in it.args))
        return self.objects(it, state)

    def bind_iteration(self, stmt: ast.For, state: State) -> None:
        it, target = stmt.iter, stmt.target
        func = self.resolve(it.func) if isinstance(it, ast.Call) else None
        if func is range:
            self.bind(target, it, NEW, state, frozenset())
            return
        if func is enumerate and isinstance(target, ast.Tuple) and len(target.elts) == 2:
            self.bind(target.elts[0], it, NEW, state, frozenset())
            inner = it.args[0] if it.args else it
            self.bind(
                target.elts[1],
                inner,
                self.element(self.value(inner, state)),
                state,
                self.elements(self.objects(inner, state), state),
            )
            return
        if func is zip and isinstance(target, ast.Tuple) and len(target.elts) == len(it.args):
            for t, a in zip(target.elts, it.args, strict=True):
                elements = self.elements(self.objects(a, state), state)
                self.bind(t, a, self.element(self.value(a, state)), state, elements)
            return
        if func is zip:  # for pair in zip(xs, ys): a new tuple of their elements
            given = frozenset().union(*(self.objects(a, state) for a in it.args))
            objs = self.made(it, self.elements(given, state), state)
        else:
            objs = self.elements(self.objects(it, state), state)
        self.bind(target, it, self.element(self.value(it, state)), state, objs)

    # ------------------------------------------------------------------ binding

    def bind(
        self,
        target: ast.expr,
        node: ast.expr,
        value: Value,
        state: State,
        objs: frozenset[str] | None = None,
    ) -> None:
        """Bind ``target`` to ``node``'s value (``value`` for ownership, ``objs`` the
        objects it may be, for identity: by default those of ``node``)."""
        if objs is None:
            objs = self.objects(node, state)
        if isinstance(target, ast.Name):
            state.points[target.id] = objs
            var = target.id
            reached = (state.reach(value.refers) | value.outside) - {var}
            state.forget(var)
            if value.fresh:
                if value.refers:
                    self.hold(var, value, state)
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
                    v = self.value(e, state)
                    if v.refers:
                        v = Value(v.fresh, frozenset(state.reach(v.refers) - rebound), v.outside)
                    values.append((v, self.objects(e, state)))
                for t, e, (v, o) in zip(target.elts, node.elts, values, strict=True):
                    self.bind(t, e, v, state, o)
            else:
                elements = self.elements(objs, state)
                for t in target.elts:
                    self.bind(t, node, self.element(value), state, elements)
        elif isinstance(target, ast.Starred):
            # a, *rest = xs: rest is a new list of elements of xs
            self.bind(target.value, node, self.element(value), state, self.elements(objs, state))

    @staticmethod
    def element(value: Value) -> Value:
        """An element of a container (or of a sequence iterated over): never owned."""
        return Value(False, value.refers, value.outside)

    def own_result(self, node: ast.expr, state: State) -> bool:
        """Whether ``return node`` hands back an array nothing else refers to."""
        if isinstance(node, ast.Name):
            return (
                node.id in self.locals
                and not state.sharers(node.id)
                and not state.holds.get(node.id)
            )
        value = self.value(node, state)
        return value.fresh and not value.refers

    # -------------------------------------------------------------- expressions

    def value(self, node: ast.expr, state: State) -> Value:
        if isinstance(node, ast.Constant):
            return NEW
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return Value(False, frozenset({node.id}))
            obj = self.resolve(node)
            if isinstance(obj, int | float | complex | bool | np.generic) or obj is None:
                return NEW
            return Value(False, outside=frozenset({f"the global {node.id!r}"}))
        if isinstance(node, ast.Attribute):
            if node.attr in CONSTANT_ATTRIBUTES:
                return NEW
            if isinstance(self.resolve(node.value), types.ModuleType):
                obj = self.resolve(node)
                if isinstance(obj, int | float | complex | np.generic) or obj is None:
                    return NEW  # np.pi, np.newaxis
                return Value(False, outside=frozenset({f"the global {ast.unparse(node)!r}"}))
            return self.element(self.value(node.value, state))  # x.T, x.real: views
        if isinstance(node, ast.Subscript):
            if _is_number_attribute(node.value):
                return NEW  # x.shape[0]
            return self.element(self.value(node.value, state))
        if isinstance(node, ast.BinOp):
            refers: frozenset[str] = frozenset()
            for side in (node.left, node.right):  # [a] * 2, xs + [a]: lists holding a
                if isinstance(side, ast.List | ast.Tuple):
                    refers |= self.value(side, state).refers
            return Value(True, refers)
        if isinstance(node, ast.UnaryOp | ast.Compare):
            return NEW
        if isinstance(node, ast.BoolOp):
            return self.either([self.value(v, state) for v in node.values])
        if isinstance(node, ast.IfExp):
            return self.either([self.value(node.body, state), self.value(node.orelse, state)])
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            elts = node.values if isinstance(node, ast.Dict) else node.elts
            values = [self.value(e, state) for e in elts]
            return Value(True, frozenset().union(*(v.refers for v in values)))
        if isinstance(node, ast.Call):
            return self.call(node, state)
        if isinstance(node, ast.Starred):
            return self.value(node.value, state)
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in self.locals}
        return Value(False, frozenset(names), frozenset({"another array"}))

    # ---------------------------------------------------------------- identity

    def objects(self, node: ast.expr, state: State) -> frozenset[str]:
        """The objects ``node``'s value may be, for the identity of lists: an object
        the function makes is named after its place in the source (its *site*, see
        ``renew``); one from outside by what it is ("the list passed as the argument
        'xs'"); numbers and new arrays are no object that a list update can reach."""
        if isinstance(node, ast.Constant | ast.UnaryOp | ast.Compare):
            return frozenset()
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return state.points.get(node.id, frozenset())
            return self.global_object(self.resolve(node), node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(self.resolve(node.value), types.ModuleType):
                return self.global_object(self.resolve(node), ast.unparse(node))
            if node.attr in CONSTANT_ATTRIBUTES:
                return frozenset()
            return self.objects(node.value, state)  # x.T: a view of x
        if isinstance(node, ast.Subscript):
            elements = self.elements(self.objects(node.value, state), state)
            if isinstance(node.slice, ast.Slice):  # xs[1:]: a new list of its elements
                return self.made(node, elements, state)
            return elements
        if isinstance(node, ast.BinOp):
            # [a] * 2, [a] + [b]: a new list of their elements (`+` and `*` on list
            # variables are refused by the normalizer); on arrays, a new array
            if isinstance(node.left, ast.List | ast.Tuple) or isinstance(
                node.right, ast.List | ast.Tuple
            ):
                held = self.objects(node.left, state) | self.objects(node.right, state)
                return self.made(node, self.elements(held, state), state)
            return frozenset()
        if isinstance(node, ast.BoolOp):
            return frozenset().union(*(self.objects(v, state) for v in node.values))
        if isinstance(node, ast.IfExp):
            return self.objects(node.body, state) | self.objects(node.orelse, state)
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            elts = node.values if isinstance(node, ast.Dict) else node.elts
            held = frozenset().union(*(self.objects(e, state) for e in elts))
            return self.made(node, held, state)
        if isinstance(node, ast.Starred):
            return self.objects(node.value, state)
        if isinstance(node, ast.Call):
            return self.call_objects(node, state)
        return frozenset().union(
            *(self.objects(n, state) for n in ast.iter_child_nodes(node) if isinstance(n, ast.expr))
        )

    def call_objects(self, node: ast.Call, state: State) -> frozenset[str]:
        args = [*node.args, *(k.value for k in node.keywords)]
        given = frozenset().union(*(self.objects(a, state) for a in args))
        func = node.func
        if isinstance(func, ast.Attribute) and not isinstance(
            self.resolve(func.value), types.ModuleType
        ):
            if func.attr in FRESH_METHODS:  # array methods that make a new array
                return frozenset()
            return self.objects(func.value, state) | given
        obj = self.resolve(func)
        if is_helper(obj):
            if self.returns_own_array(obj):
                return frozenset()
            # a new container holding any of what it was given, or what it was given
            # (for the parameters whose object a return of it may hand back)
            reached = self.reach_contents(given, state)
            passed = self.summaries.get(("passed", id(obj)))
            handed = [a for i, a in enumerate(node.args) if passed is None or i in passed]
            handed += [k.value for k in node.keywords if passed is None or k.arg in passed]
            back = frozenset().union(*(self.objects(a, state) for a in handed))
            # a mutable default of its own that it hands back: one object for every call
            name = getattr(obj, "__name__", "the helper")
            own = frozenset(
                f"the default value of {name}()'s parameter {p!r}, one list for every call"
                for p in self.summaries.get(("defaults", id(obj)), ())
            )
            return self.made(node, reached | own, state) | self.reach_contents(back, state) | own
        if (
            id(obj) in FRESH_FUNCTIONS
            or isinstance(obj, np.ufunc)
            or (isinstance(obj, types.BuiltinFunctionType) and obj in vars(math).values())
        ) and not any(k.arg == "out" for k in node.keywords):
            return frozenset()
        return given

    @staticmethod
    def made(node: ast.expr, held: frozenset[str], state: State) -> frozenset[str]:
        """The new object ``node`` makes, holding ``held``."""
        site = _site(node)
        state.contents[site] = held
        return frozenset({site})

    @staticmethod
    def global_object(obj: object, name: str) -> frozenset[str]:
        if isinstance(obj, list | tuple | dict | set | np.ndarray):
            return frozenset({f"the global {name!r}"})
        return frozenset()

    @staticmethod
    def elements(objs: frozenset[str], state: State) -> frozenset[str]:
        """The objects that elements of ``objs`` may be."""
        out: set[str] = set()
        for o in objs:
            if _is_site(o):
                out |= state.contents.get(o, frozenset())
            else:  # what is outside holds what is outside
                out.add(o if o.startswith("part of ") else f"part of {o}")
        return frozenset(out)

    def reach_contents(self, objs: frozenset[str], state: State) -> frozenset[str]:
        """``objs`` and every object they hold, however deep."""
        seen: set[str] = set()
        todo = list(objs)
        while todo:
            o = todo.pop()
            if o not in seen:
                seen.add(o)
                todo.extend(self.elements(frozenset({o}), state))
        return frozenset(seen)

    @staticmethod
    def either(values: list[Value]) -> Value:
        return Value(
            all(v.fresh for v in values),
            frozenset().union(*(v.refers for v in values)),
            frozenset().union(*(v.outside for v in values)),
        )

    def call(self, node: ast.Call, state: State) -> Value:
        args = [*node.args, *(k.value for k in node.keywords)]
        func = node.func
        if isinstance(func, ast.Attribute) and not isinstance(
            self.resolve(func.value), types.ModuleType
        ):
            if func.attr in FRESH_METHODS:
                return NEW
            return self.either([self.element(self.value(a, state)) for a in (func.value, *args)])
        obj = self.resolve(func)
        if is_helper(obj):
            if self.returns_own_array(obj):
                return NEW
        elif (
            id(obj) in FRESH_FUNCTIONS
            or isinstance(obj, np.ufunc)
            or (isinstance(obj, types.BuiltinFunctionType) and obj in vars(math).values())
        ) and not any(k.arg == "out" for k in node.keywords):
            return NEW
        values = [self.value(a, state) for a in args]
        refers = frozenset().union(*(v.refers for v in values))
        outside = frozenset().union(*(v.outside for v in values))
        if not refers and not outside:
            outside = frozenset({f"what {ast.unparse(func)}() returned"})
        return Value(False, refers, outside)

    def returns_own_array(self, obj: object) -> bool:
        """Whether every return of the helper ``obj`` hands back an array of its own."""
        key = id(obj)
        if key in self.summaries:
            return bool(self.summaries[key])
        self.summaries[key] = False  # while in progress (recursion): assume not
        try:
            src = obj.source if isinstance(obj, StaticFunction) else _from_function(obj)
        except AdCompileError:
            return False
        walk = Ownership(src, Resolver(src).find, helper=True, summaries=self.summaries)
        try:
            walk.run()
        except AdCompileError:
            return False  # refused anyway when the helper itself is compiled
        self.summaries[key] = bool(walk.returns) and all(walk.returns)
        # by position and by name (keyword arguments)
        self.summaries[("defaults", key)] = frozenset(walk.passed_defaults)
        self.summaries[("passed", key)] = frozenset(walk.passed) | {
            walk.params[i] for i in walk.passed
        }
        return self.summaries[key]

    def passed_back(self, node: ast.expr, state: State) -> set[int]:
        """The positions of the parameters whose object, or part of it, ``node`` may be."""
        objs = self.objects(node, state)  # (a new container holding them is not them)
        return {
            i
            for i, p in enumerate(self.params)
            if any(o in objs or f"part of {o}" in objs for o in self.entry_objects[p])
        }


def _symbol(op: ast.operator) -> str:
    """``+`` for ast.Add(), and so on."""
    return ast.unparse(ast.BinOp(ast.Name("a"), op, ast.Name("b"))).split()[1]


def _site(node: ast.AST) -> str | None:
    """The name of the object an expression may make, after its place in the source."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.BinOp | ast.Call) or (
        isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)
    ):
        return f"{type(node).__name__}@{node.lineno}:{node.col_offset}"
    return None


def _is_site(obj: str) -> bool:
    """Whether ``obj`` names an object the function makes (see Ownership.objects);
    the others are described in words, and no name of Python has an @."""
    return "@" in obj


def _is_number_attribute(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in CONSTANT_ATTRIBUTES


def _from_function(obj: object) -> SourceFunction:
    return from_function(obj)


def _argument(param: str) -> str:
    """What the memory of the argument of ``param`` is called (in ``State.shares``)."""
    return f"the argument {param!r}"


def check(
    src: SourceFunction,
    *,
    helper: bool,
    summaries: dict | None = None,
    resolver: Resolver | None = None,
) -> dict[str, tuple]:
    """Raise a located AdCompileError at the first ``x op= ...`` in ``src`` whose
    array ``x`` does not own, or the first ``xs.append(...)`` that something else
    would see. Returns, for the function being differentiated, the parameters whose
    argument Python's ``x op= ...`` would write into: parameter -> (location,
    operator) of the first such update. The generated code writes into no argument,
    which is what Python computes as long as no other argument shares that memory
    (the call checks it)."""
    resolver = resolver or Resolver(src)
    walk = Ownership(src, resolver.find, helper=helper, summaries=summaries)
    walk.run()
    return walk.updates


__all__ = ["check", "FRESH_FUNCTIONS", "FRESH_METHODS"]
