"""The model the ownership walk tracks: what an expression evaluates to (``Value``),
and, before each statement, who may see each variable's array and which objects
each variable and each list may be (``State``), with the joins where paths meet.

Objects, for the identity of lists, are strings: one the function makes is named
after its place in the source (its *site*: ``List@3:8``), one from outside by what
it is ("the list passed as the argument 'xs'", "part of the global 'W'")."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class Value:
    """What an expression evaluates to, for ownership: whether it is a new object,
    the variables whose arrays it may refer to (be, be a view of, or contain), and
    what else outside the function's variables it may share memory with. ``number``:
    it is certainly an immutable scalar (a Python number, a numpy scalar), which no
    array shares memory with and which ``x op= ...`` rebinds. ``sealed``: it is either
    a new array or one that cannot be written (``np.diag``: a new array of a 1-d
    operand, a read-only view of a 2-d one), so a write into it that succeeds changes
    no other array, though it may see the arrays it ``refers`` to change.
    ``read_only`` says it is certainly an array that cannot be written, and what made
    it (``"np.broadcast_to()"``): Python's ``x op= ...`` on it always fails."""

    fresh: bool
    refers: frozenset[str] = frozenset()
    outside: frozenset[str] = frozenset()
    number: bool = False
    sealed: bool = False
    read_only: str | None = None  # certainly read-only: what returned it


NEW = Value(True)
NUMBER = Value(True, number=True)


def read_only_array(what: str) -> str:
    """What may see an array ``what`` returns that may be read-only: where a write
    into it is checked when the code runs (``may_be_read_only``)."""
    return f"the read-only array {what} may return"


def may_be_read_only(obj: str) -> bool:
    """Whether ``obj`` is a ``read_only_array``: an ``x op= ...`` on an array that only
    it (and names never read again) may see is accepted, and checked when it runs:
    Python's ValueError if the array cannot be written, a new array's update if it
    can."""
    return obj.startswith("the read-only array ")


def computed_as_view(what: str) -> str:
    """What may see an array that Python makes new (``np.meshgrid``'s grids, copied by
    default) and the generated code computes as a view (a broadcast, a reshape of the
    input): ``x op= ...`` on it is accepted (the generated code makes a new array),
    ``x[i] = ...`` refused (it would write into that view, see ``is_computed_view``)."""
    return f"the grid {what} returns, which adcompile computes as a view"


def is_computed_view(obj: str) -> bool:
    """Whether ``obj`` is a ``computed_as_view`` marker."""
    return obj.startswith("the grid ") and obj.endswith("computes as a view")


def element(value: Value) -> Value:
    """An element of a container (or of a sequence iterated over): never owned."""
    return Value(False, value.refers, value.outside)


def either(values: list[Value]) -> Value:
    """The value of an expression that evaluates to one of ``values``."""
    fresh = all(v.fresh for v in values)
    return Value(
        fresh,
        frozenset().union(*(v.refers for v in values)),
        frozenset().union(*(v.outside for v in values)),
        all(v.number for v in values),
        not fresh and all(v.sealed or (v.fresh and not v.refers) for v in values),
        values[0].read_only if all(v.read_only for v in values) else None,
    )


@dataclass(frozen=True)
class Returned:
    """What the returns of a helper hand back, for its callers: whether each is a new
    array or a ``sealed`` one, the parameters (by position and by name) whose arrays one
    may share or see, and what else from outside the helper one may share: arrays
    that may be read-only (``read_only_array``), and whether anything more."""

    sealed: bool
    shared: frozenset
    read_only: frozenset[str]
    more: bool


@dataclass
class State:
    """Before a statement: for each variable, what else may see its array (other
    variables, or phrases such as "the global 'W'"); empty when it owns it. Sharing
    between variables is kept symmetric. ``holds`` maps a container variable to the
    variables whose arrays went into it. ``numbers`` are the variables that certainly
    hold an immutable scalar (``Value.number``); ``functions`` maps a variable that
    certainly holds a function to the functions it may be (``act = np.tanh if c else
    np.sin``), so that a call of it is known as a call of one of them."""

    shares: dict[str, frozenset[str]] = field(default_factory=dict)
    holds: dict[str, frozenset[str]] = field(default_factory=dict)
    # Identity, for lists (see expressions.Expressions.objects): the objects each
    # variable may be bound to, and the objects each object may hold as elements.
    points: dict[str, frozenset[str]] = field(default_factory=dict)
    contents: dict[str, frozenset[str]] = field(default_factory=dict)
    numbers: frozenset[str] = frozenset()
    functions: dict[str, tuple] = field(default_factory=dict)
    # a variable bound to a new or read-only array (``Value.sealed``) -> what sees it
    # one way: what it may be a view of, whose updates it may see (``seal``)
    sources: dict[str, frozenset[str]] = field(default_factory=dict)
    # a variable that certainly holds a read-only array -> what returned it
    read_only: dict[str, str] = field(default_factory=dict)
    # a variable -> the variables whose arrays certainly do not overlap its own, though
    # they may be views of one array (the pieces ``np.split`` returns)
    apart: dict[str, frozenset[str]] = field(default_factory=dict)

    def copy(self) -> State:
        return State(
            dict(self.shares),
            dict(self.holds),
            dict(self.points),
            dict(self.contents),
            self.numbers,
            dict(self.functions),
            dict(self.sources),
            dict(self.read_only),
            dict(self.apart),
        )

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
        for m in self.sources.pop(var, frozenset()):
            if var in self.shares.get(m, ()):
                self.shares[m] = self.shares[m] - {var}
        for m in self.apart.pop(var, frozenset()):
            if var in self.apart.get(m, ()):
                self.apart[m] = self.apart[m] - {var}

    def seal(self, var: str, unwritable: frozenset[str], sources: set[str]) -> None:
        """``var`` holds a new array or a read-only one (a view of ``sources``): a write
        into it that succeeds changes nothing else, so it shares only ``unwritable``
        (what checks the write, see ``read_only_array``); an update of ``sources``
        may change it (a link one way)."""
        self.shares[var] = unwritable
        self.sources[var] = frozenset(sources)
        for m in sources:
            self.shares[m] = self.sharers(m) | {var}

    def link(self, var: str, others: set[str], names: set[str]) -> None:
        """``var`` may see the arrays of ``others`` (those in ``names`` are variables)."""
        for m in others & names:
            self.shares[m] = self.sharers(m) | {var}

    def hold(self, container: str, value: Value, names: set[str]) -> None:
        """The arrays ``value`` refers to go into ``container`` (``names``: the
        function's variables)."""
        reached = self.reach(value.refers) - {container}
        self.holds[container] = self.holds.get(container, frozenset()) | reached
        self.link(container, reached, names)

    def replace(self, new: State) -> None:
        """Take on ``new``'s tables (where the paths of a statement meet)."""
        self.shares, self.holds = new.shares, new.holds
        self.points, self.contents = new.points, new.contents
        self.numbers, self.functions = new.numbers, new.functions
        self.sources, self.read_only = new.sources, new.read_only
        self.apart = new.apart

    def bound(self, var: str, value: Value, functions: tuple | None) -> None:
        """Note what ``var`` now certainly is: a number, a function of ``functions``."""
        if value.number:
            self.numbers = self.numbers | {var}
        else:
            self.numbers = self.numbers - {var}
        if functions:
            self.functions[var] = functions
        else:
            self.functions.pop(var, None)
        if value.read_only:
            self.read_only[var] = value.read_only
        else:
            self.read_only.pop(var, None)

    # -------------------------------------------------------------- identity

    def made(self, node: ast.expr, held: frozenset[str]) -> frozenset[str]:
        """The new object ``node`` makes, holding ``held``."""
        s = site(node)
        self.contents[s] = held
        return frozenset({s})

    def elements(self, objs: frozenset[str]) -> frozenset[str]:
        """The objects that elements of ``objs`` may be."""
        out: set[str] = set()
        for o in objs:
            if is_site(o):
                out |= self.contents.get(o, frozenset())
            else:  # what is outside holds what is outside
                out.add(o if o.startswith("part of ") else f"part of {o}")
        return frozenset(out)

    def reach_contents(self, objs: frozenset[str]) -> frozenset[str]:
        """``objs`` and every object they hold, however deep."""
        seen: set[str] = set()
        todo = list(objs)
        while todo:
            o = todo.pop()
            if o not in seen:
                seen.add(o)
                todo.extend(self.elements(frozenset({o})))
        return frozenset(seen)

    @staticmethod
    def join(states: list[State | None]) -> State | None:
        """The state where paths that ended in ``states`` meet (None: a path that
        stopped): a variable shares whatever it shares on any path, is a number if it
        is one on every path, and a function if it is one on every path (any of
        theirs), and certainly read-only if it is on every path (apart from another
        variable's array if it is on every path)."""
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
                (out.sources, other.sources),
            ):
                for n, v in theirs.items():
                    table[n] = table[n] | v if n in table else v
            out.numbers = out.numbers & other.numbers
            out.read_only = {n: w for n, w in out.read_only.items() if n in other.read_only}
            out.apart = {
                n: apart & other.apart[n] for n, apart in out.apart.items() if n in other.apart
            }
            out.functions = {
                n: fns + tuple(f for f in other.functions[n] if not any(f is g for g in fns))
                for n, fns in out.functions.items()
                if n in other.functions
            }
        return out


def site(node: ast.AST) -> str | None:
    """The name of the object an expression may make, after its place in the source."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.BinOp | ast.Call) or (
        isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)
    ):
        return f"{type(node).__name__}@{node.lineno}:{node.col_offset}"
    return None


def is_site(obj: str) -> bool:
    """Whether ``obj`` names an object the function makes (see ``site``); the others
    are described in words, and no name of Python has an @."""
    return "@" in obj
