"""Loop lowering: ``for`` over a range or a sequence and ``while``, each with the
variables its body reassigns carried around it; a loop whose carried list is
still empty on entry is lowered again once the body has shown its elements."""

from __future__ import annotations

import ast

from ..ir import Loop, Stmt
from ..rules.containers import LEAF
from .common import (
    RESULT,
    _copy_atom,
    _is_call_of,
)
from .unassigned import Unassigned


class Loops:
    """A part of ``Normalizer``: lowers ``for`` and ``while`` loops (each body a nested
    block, see ``State.sub_block``), with their carried variables."""

    def loop_header(self, loop: ast.For | ast.While) -> list[tuple[str, str]]:
        """The variables the loop reassigns that exist before it: (user name, carried name)."""
        assigned = []
        for node in ast.walk(loop):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                if node.id not in assigned:
                    assigned.append(node.id)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id not in assigned
            ):
                assigned.append(node.func.value.id)
            if isinstance(node, ast.Assign | ast.AugAssign):  # x[i] = v makes a new x
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id not in assigned
                    ):
                        assigned.append(target.value.id)
        carried = []
        read_outside = self.read_outside(loop)
        for var in assigned:
            if var not in self.env and var in read_outside and var.isidentifier():
                # assigned only in the loop and read elsewhere: carried from a value that
                # raises when used (the loop may run zero times)
                holder = self.names.fresh(f"{var}_unassigned")
                self.globals[holder] = Unassigned(var, self.src.loc(loop))
                self.env[var] = ast.Name(id=holder, ctx=ast.Load())
            if var in self.env:  # (a for loop's own target too: after the loop it holds the last)
                carried.append((var, self.names.claim(var)))
        return carried

    def read_outside(self, loop: ast.For | ast.While) -> set[str]:
        """The names ``loop`` assigns that may be read after it before being assigned
        again: by the statements after it (at its level, then its enclosing blocks'),
        or by the next iteration of a loop around it."""
        names = {
            n.id for n in ast.walk(loop) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        path = _path_to(self.structured.body, loop) or []
        live: set[str] = set()
        for var in names:
            for block, index, owner in reversed(path):
                use = _first_use(block[index + 1 :], var)
                if use is None and isinstance(owner, ast.For | ast.While):
                    use = _first_use([owner], var)  # its next iteration
                if use is not None:
                    if use == "read":
                        live.add(var)
                    break
        return live

    def for_statement(self, stmt: ast.For) -> None:
        loc = self.src.loc(stmt)
        iterable = stmt.iter
        prelude: list[ast.stmt] = []
        target = stmt.target
        if _is_call_of(iterable, "range", self):
            if not isinstance(target, ast.Name):
                raise self.error("a range loop needs a single loop variable", target)
            args = [self.atom(a, "n") for a in iterable.args]
            iter_expr = ast.Call(func=ast.Name(id="range", ctx=ast.Load()), args=args, keywords=[])
            index_var = target.id
            self.globals["range"] = range
        elif self.has_static_leaf(iterable):
            self.unrolled_loop(stmt)  # over elements known when compiling (views.py)
            return
        else:
            index_var, iter_expr, prelude = self.desugar_iteration(stmt)
        carried = self.loop_header(stmt)
        index = self.names.claim(index_var)
        self.locals.add(index_var)
        self.constants.add(index)
        before = {var: self.env[var] for var, _ in carried}
        env = dict(self.env)
        for var, name in carried:
            env[var] = ast.Name(id=name, ctx=ast.Load())
        env[index_var] = ast.Name(id=index, ctx=ast.Load())
        body, env_end = self.loop_body(prelude + list(stmt.body), env, carried, before)
        flag = self.structured.break_flags.get(id(stmt))
        exit_flag = dict(carried).get(flag) if flag else None
        self.finish_loop(stmt, loc, index, iter_expr, None, body, carried, before, env_end)
        self.body[-1].exit = exit_flag

    def while_statement(self, stmt: ast.While) -> None:
        loc = self.src.loc(stmt)
        carried = self.loop_header(stmt)
        before = {var: self.env[var] for var, _ in carried}
        env = dict(self.env)
        for var, name in carried:
            env[var] = ast.Name(id=name, ctx=ast.Load())
            self.kinds[name] = self.kind(before[var])
        outer_env = self.env
        self.env = env
        test = self.constant_expr(stmt.test)
        self.env = outer_env
        body, env_end = self.loop_body(list(stmt.body), env, carried, before)
        self.finish_loop(stmt, loc, None, None, test, body, carried, before, env_end)

    def loop_body(
        self, stmts: list[ast.stmt], env: dict, carried: list, before: dict
    ) -> tuple[list[Stmt], dict]:
        """Normalize a loop's body. A carried variable's structure is its structure on
        entry joined with its structure at the end of every iteration: a list made
        empty (``xs = []``) gets its elements' structure from the ``xs.append(v)`` in
        the body. When an iteration changes what is known, the body is normalized
        again from the same state (names included, so the code is the same as if it
        had been known from the start)."""
        kinds = {name: self.joining_kind(before[var]) for var, name in carried}
        saved = self.save_state()
        while True:
            self.kinds.update(kinds)
            body, env_end = self.sub_block(stmts, env)
            grown = {}
            for var, name in carried:
                end = env_end.get(var)
                if end is None:
                    continue  # reported by finish_loop
                joined = self.joined_kind([kinds[name], self.kind(end)])
                if joined is None:
                    raise self.error(
                        f"{var!r} holds differently structured values before and after "
                        "an iteration of the loop",
                        hint=f"give {var} the same structure (array, list, tuple) throughout",
                    )
                if joined != kinds[name]:
                    grown[name] = joined
            if not grown:
                return body, env_end
            kinds.update(grown)
            self.restore_state(saved)

    def save_state(self) -> tuple:
        """What normalizing a block changes, to normalize it again (see loop_body)."""
        names = self.names
        return (
            set(names.claimed),
            dict(names.next),
            dict(self.kinds),
            set(self.scalars),
            set(self.constants),
            set(self.temps),
            dict(self.globals),
            set(self.partial),
            set(self.locals),
            dict(self.sequences),
            dict(self.dict_parts),
            dict(self.slices),
            set(self.views),
        )

    def restore_state(self, saved: tuple) -> None:
        claimed, nxt, kinds, scalars, constants, temps, globals_, partial, locals_ = saved[:9]
        self.sequences, self.dict_parts, self.slices = (dict(d) for d in saved[9:12])
        self.views = set(saved[12])
        self.names.claimed, self.names.next = set(claimed), dict(nxt)
        self.kinds, self.scalars, self.constants = dict(kinds), set(scalars), set(constants)
        self.temps, self.globals = set(temps), dict(globals_)
        self.partial, self.locals = set(partial), set(locals_)

    def finish_loop(self, stmt, loc, index, iter_expr, test, body, carried, before, env_end):
        self.stmt = stmt
        spec = []
        for var, name in carried:
            end = env_end.get(var)
            if end is None:
                raise self.error(f"{var!r} is not assigned on every path through the loop", stmt)
            self.one_slice([before[var], end], stmt, var)
            spec.append((name, before[var], end))
            self.env[var] = ast.Name(id=name, ctx=ast.Load())
        for var in env_end:
            if var not in self.env and var != RESULT:
                self.partial.add(var)
        count = self.names.fresh("iterations")
        self.body.append(
            Loop(
                target=index,
                iter=iter_expr,
                test=test,
                body=body,
                carried=spec,
                count=count,
                loc=loc,
            )
        )

    def desugar_iteration(self, stmt: ast.For):
        """``for x in xs`` (also over ``zip``, ``enumerate`` and ``reversed``, nested in
        any way Python allows) as a loop over indices: returns (index variable,
        ``range(...)`` expression, prelude assigning the targets)."""
        counters: list[tuple[ast.expr, ast.expr | None]] = []  # (target, start)
        leaves: list[tuple[ast.expr, ast.expr, bool]] = []  # (sequence, target, reversed)
        self.iteration_leaves(stmt.iter, stmt.target, counters, leaves)
        sources = [leaf[0] for leaf in leaves]
        targets = [leaf[1] for leaf in leaves]
        backwards = [leaf[2] for leaf in leaves]
        index_var = None
        if counters and isinstance(counters[0][0], ast.Name) and counters[0][1] is None:
            index_var = counters[0][0].id
            counters = counters[1:]
        atoms = []
        for src_node in sources:
            atom = self.atom(src_node, "seq")
            self.not_a_dataclass(atom, src_node)
            kind = self.kind(atom)
            if kind != LEAF and kind[0] == "dict":
                raise self.error(
                    "iterating over a dict computed in the loop's header is not supported",
                    src_node,
                    hint="assign the dict to a name first (d = ...; for k, v in d.items():)",
                )
            # the sequence as it is now, under a name the loop body cannot rebind
            key = f"<sequence {len(self.locals)}>"
            self.env[key] = atom
            self.locals.add(key)
            atoms.append(ast.Name(id=key, ctx=ast.Load()))
        if index_var is None:
            index_var = self.names.fresh("i")
        lens = [
            ast.Call(func=ast.Name(id="len", ctx=ast.Load()), args=[self.env[a.id]], keywords=[])
            for a in atoms
        ]
        self.globals["len"] = len
        self.globals["range"] = range
        bound = lens[0]
        if len(lens) > 1:
            self.globals["min"] = min
            bound = ast.Call(func=ast.Name(id="min", ctx=ast.Load()), args=lens, keywords=[])
        iter_expr = ast.Call(func=ast.Name(id="range", ctx=ast.Load()), args=[bound], keywords=[])
        prelude = []
        values: list[ast.expr] = []
        for _target, first in counters:
            i = ast.Name(id=index_var, ctx=ast.Load())
            values.append(i if first is None else ast.BinOp(left=i, op=ast.Add(), right=first))
        for atom, back in zip(atoms, backwards, strict=True):
            position: ast.expr = ast.Name(id=index_var, ctx=ast.Load())
            if back:  # reversed(xs): xs[len(xs) - 1 - i]
                length = ast.Call(
                    func=ast.Name(id="len", ctx=ast.Load()), args=[_copy_atom(atom)], keywords=[]
                )
                last = ast.BinOp(left=length, op=ast.Sub(), right=ast.Constant(1))
                position = ast.BinOp(left=last, op=ast.Sub(), right=position)
            values.append(ast.Subscript(value=_copy_atom(atom), slice=position, ctx=ast.Load()))
        for tgt, value in zip([c[0] for c in counters] + targets, values, strict=True):
            assign = ast.Assign(targets=[tgt], value=value)
            ast.copy_location(assign, stmt)
            ast.fix_missing_locations(assign)
            prelude.append(assign)
        return index_var, iter_expr, prelude

    def iteration_leaves(self, iterable, target, counters: list, leaves: list) -> None:
        """The sequences a ``for`` iterates over in step, each with its target and
        direction, and the counters of its ``enumerate`` calls (see desugar_iteration)."""
        if _is_call_of(iterable, "enumerate", self):
            start = None
            args = list(iterable.args)
            for k in iterable.keywords:
                if k.arg != "start":
                    raise self.error("enumerate() takes one sequence and a start", iterable)
                args.append(k.value)
            if len(args) not in (1, 2):
                raise self.error("enumerate() takes one sequence and a start", iterable)
            if len(args) == 2:
                start = self.atom(args[1], "start")
            if not (isinstance(target, ast.Tuple | ast.List) and len(target.elts) == 2):
                raise self.error("unpack enumerate() into two targets: for i, x in ...", target)
            counters.append((target.elts[0], start))
            self.iteration_leaves(args[0], target.elts[1], counters, leaves)
        elif _is_call_of(iterable, "zip", self):
            if iterable.keywords:
                raise self.error("zip() keywords are not supported", iterable)
            args = self.zipped_arguments(iterable)
            if not (isinstance(target, ast.Tuple | ast.List) and len(target.elts) == len(args)):
                raise self.error("unpack zip() into one target per sequence", target)
            for arg, tgt in zip(args, target.elts, strict=True):
                self.iteration_leaves(arg, tgt, counters, leaves)
        elif _is_call_of(iterable, "reversed", self):
            if len(iterable.args) != 1 or iterable.keywords:
                raise self.error("reversed() takes one sequence", iterable)
            inner = iterable.args[0]
            if any(_is_call_of(inner, f, self) for f in ("zip", "enumerate", "reversed")):
                raise self.error(
                    "reversed() of zip(), enumerate() or reversed() is not supported",
                    iterable,
                    hint="reverse each sequence instead: zip(reversed(xs), reversed(ys))",
                )
            leaves.append((inner, target, True))
        elif _is_call_of(iterable, "range", self):
            raise self.error(
                "range() inside zip() or enumerate() is not supported",
                iterable,
                hint="use enumerate() for the index: for i, x in enumerate(xs)",
            )
        else:
            leaves.append((iterable, target, False))

    def zipped_arguments(self, call: ast.Call) -> list[ast.expr]:
        """The sequences ``zip`` is given, with ``*t`` of a tuple (its length known when
        compiling) as its elements: ``t`` computed once, before the loop, as Python does."""
        out: list[ast.expr] = []
        for a in call.args:
            if not isinstance(a, ast.Starred):
                out.append(a)
                continue
            atom = self.atom(a.value, "zipped")
            kind = self.kind(atom)
            if not (isinstance(kind, tuple) and kind[0] == "tuple"):
                raise self.error(
                    f"zip(*{self.src.text_of(a.value)}) needs a tuple whose length is known "
                    "when compiling",
                    a,
                    hint="zip the sequences by name: zip(xs, ys)",
                )
            alias = self.names.fresh("zipped")  # (a name the loop's sequences read)
            self.locals.add(alias)
            self.env[alias] = atom
            self.spelling[alias] = a.value
            for i in range(len(kind[1])):
                element = ast.Subscript(
                    value=ast.Name(id=alias, ctx=ast.Load()), slice=ast.Constant(i), ctx=ast.Load()
                )
                out.append(ast.fix_missing_locations(ast.copy_location(element, a)))
        return out


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _first_use(stmts: list[ast.stmt], var: str) -> str | None:
    """Whether running ``stmts`` surely "write"s ``var`` before any read, may "read" it
    first, or neither (None)."""
    for stmt in stmts:
        if isinstance(stmt, ast.Assign):
            if var in _loads(stmt.value) or any(var in _loads(t) for t in stmt.targets):
                return "read"
            if any(
                isinstance(n, ast.Name) and n.id == var for t in stmt.targets for n in ast.walk(t)
            ):
                return "write"
        elif isinstance(stmt, ast.If):
            if var in _loads(stmt.test):
                return "read"
            a, b = _first_use(stmt.body, var), _first_use(stmt.orelse, var)
            if "read" in (a, b):
                return "read"
            if a == b == "write":
                return "write"
        elif isinstance(stmt, ast.For | ast.While):
            head = stmt.iter if isinstance(stmt, ast.For) else stmt.test
            if var in _loads(head):
                return "read"
            if isinstance(stmt, ast.For) and any(
                isinstance(n, ast.Name) and n.id == var for n in ast.walk(stmt.target)
            ):
                continue  # the loop's own target: assigned before its body reads it
            if _first_use(stmt.body, var) == "read":
                return "read"
        elif var in _loads(stmt):
            return "read"
    return None


def _path_to(block: list[ast.stmt], target: ast.stmt, owner: ast.AST | None = None):
    """The (statement list, index, statement owning the list) from the outermost block
    down to ``target``, or None when it is not there."""
    for i, stmt in enumerate(block):
        if stmt is target:
            return [(block, i, owner)]
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                found = _path_to(inner, target, stmt)
                if found is not None:
                    return [(block, i, owner), *found]
    return None
