"""Normalize: one primitive operation per statement, every name assigned once.

Input: a fenced :class:`~adcompile.frontend.SourceFunction`.
Output: an :class:`~adcompile.ir.Function` (see ``ir.py`` for the contract).

Nested expressions are split into temporaries named after the variable they
help compute (``h = W @ x + b`` becomes ``h_1 = W @ x; h = h_1 + b``),
``x += y`` becomes ``x_1 = x + y``, tuple assignment is resolved by renaming,
and every free name is resolved to the object it means, so that ``np.exp``,
``numpy.exp`` and ``from numpy import exp`` all find the same rule.
"""

from __future__ import annotations

import ast
import builtins
import functools
import operator
import types

import numpy as np

from . import fence, frontend, rules
from .errors import AdCompileError
from .frontend import SourceFunction, StaticFunction
from .ir import Assign, CallPrim, Function, If, Loop, NameAllocator, Return, Stmt, names_in
from .names import (
    ALIASES,
    BINOPS,
    CONSTANT_ATTRIBUTES,
    CONSTANT_BUILTINS,
    METHODS,
    NUMERIC,
    UNARYOPS,
    Resolver,
    is_helper,
    is_user_function,
)
from .restructure import Restructured
from .rules import containers, record, registry
from .rules.containers import EMPTY, LEAF, element_kind, is_container, join_kinds
from .rules.registry import primitive_name

# Reductions whose result is a scalar when taken over all axes without keepdims,
# and elementwise primitives that keep a scalar a scalar (from the primitive records).
FULL_REDUCTIONS = registry.spellings_where(lambda p: p.shape == record.REDUCTION)
SCALAR_PRESERVING = registry.spellings_where(lambda p: p.scalar_preserving, on_floats=False)


def allocator(src: SourceFunction) -> NameAllocator:
    """The name allocator of one function's compilation: it never hands out a name
    that the user's code or a rule template uses."""
    fn = src.node
    params = [a.arg for a in fn.args.args]
    reserved = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} | set(params)
    return NameAllocator(reserved | set(rules_free_names()) | {src.name, "out"})


def normalize(
    src: SourceFunction,
    structured: Restructured,
    names: NameAllocator,
    resolver: Resolver,
    kinds: tuple | None = None,
    session=None,
) -> Function:
    """Normalize ``src`` whose body ``restructure`` made ``structured``; ``names``
    (from ``allocator``) names temporaries and ``resolver`` (``names.py``) says what
    free names mean; ``kinds`` gives the structure of each argument (leaf or
    container, see ``rules/containers.py``), when it is known; ``session`` (see
    ``link.py``) tells the structure of what called user functions return."""
    return _Normalizer(src, structured, names, resolver, kinds, session).run()


RESULT = "<result>"  # the env key of the function's result
SAME_STRUCTURE_HINT = (
    "give it values of one structure on both paths: arrays or numbers on both, or "
    "lists, tuples or dicts of the same length and keys"
)


def _canonical(obj: object) -> object:
    return ALIASES.get(id(obj), obj)


class _Normalizer:
    def __init__(
        self,
        src: SourceFunction,
        structured: Restructured,
        names: NameAllocator,
        resolver: Resolver,
        kinds: tuple | None,
        session,
    ) -> None:
        self.src = src
        self.structured = structured
        self.arg_kinds = kinds
        self.session = session
        self.resolver = resolver
        fn = src.node
        self.params = [a.arg for a in fn.args.args]
        self.locals = resolver.local
        self.names = names
        self.env: dict[str, ast.expr] = {}
        self.body: list[Stmt] = []
        self.globals: dict[str, object] = {}
        self.scalars: set[str] = set()
        self.kinds: dict[str, object] = {}
        self.partial: set[str] = set()  # assigned in only one branch of an if
        self.constants: set[str] = set()  # names computed with no derivative (shapes...)
        self.temps: set[str] = set()  # temporaries (not the user's own variables)
        # generated name -> the user's text it holds the value of, for messages
        # (a user variable's name, or the expression: its text is read only for a message)
        self.spelling: dict[str, str | ast.expr] = {}
        self.stmt: ast.stmt = fn

    # ---------------------------------------------------------------- driver

    def run(self) -> Function:
        guessed = infer_kinds(self.src.node) if self.arg_kinds is None else {}
        for i, p in enumerate(self.params):
            self.env[p] = ast.Name(id=self.names.claim(p), ctx=ast.Load())
            if self.arg_kinds is not None:
                self.kinds[p] = self.arg_kinds[i]
            elif p in guessed:
                self.kinds[p] = guessed[p]
        body = self.structured.body
        module = ast.Module(body=body, type_ignores=[])
        self.locals |= {
            n.id
            for n in ast.walk(module)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        self.block(body)
        if RESULT not in self.env:
            raise self.error(
                f"{self.src.name} does not return a value on every path",
                hint="end every path through the function with `return <value>`",
            )
        ret = self.src.node.body[-1]
        self.body.append(Return(value=self.env[RESULT], loc=self.src.loc(ret)))
        for name, kind in self.kinds.items():
            if kind == EMPTY:  # read from a list that stays empty: never a container
                self.kinds[name] = LEAF
        defaults = {}
        args = self.src.node.args
        for a, d in zip(
            args.args[len(args.args) - len(args.defaults) :], args.defaults, strict=True
        ):
            defaults[a.arg] = d
        return Function(
            name=self.src.name,
            params=self.params,
            body=self.body,
            globals=self.globals,
            source=self.src,
            names=self.names,
            defaults=defaults,
            scalars=self.scalars,
            kinds=self.kinds,
            temps=self.temps,
        )

    def block(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.stmt = stmt
            self.statement(stmt)

    def sub_block(self, stmts: list[ast.stmt], env: dict) -> tuple[list[Stmt], dict]:
        """Normalize ``stmts`` as a nested block starting from ``env``."""
        outer_body, outer_env = self.body, self.env
        self.body, self.env = [], dict(env)
        try:
            self.block(stmts)
            return self.body, self.env
        finally:
            self.body, self.env = outer_body, outer_env

    def spell(self, atom: ast.expr) -> str | None:
        """What the user wrote for the value ``atom`` holds (None if that is unknown):
        never a generated name."""
        if isinstance(atom, ast.Constant):
            return repr(atom.value)
        name = getattr(atom, "id", None)
        if name is None:
            return ast.unparse(atom)
        if name in self.spelling:
            spelled = self.spelling[name]
            return spelled if isinstance(spelled, str) else self.src.text_of(spelled)
        for var, value in self.env.items():  # a version of a user variable
            if var.isidentifier() and var in self.locals and getattr(value, "id", None) == name:
                return var
        if name in self.locals or name in self.globals:
            return name  # a parameter or a module-level name: the user's own
        return None

    def error(self, reason: str, node: ast.AST | None = None, hint: str | None = None):
        hint = hint or "see docs/language.md for the Python and numpy adcompile differentiates"
        return AdCompileError(reason, self.src.loc(node or self.stmt), hint=hint)

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                return  # docstring
            call = stmt.value
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "append"
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id in self.locals
            ):
                self.append(call)
                return
            if isinstance(stmt.value, ast.Call) and _is_name(stmt.value.func, "print"):
                raise self.error(
                    "print() is not supported in a differentiated function",
                    stmt,
                    hint="print the value outside, or step through the generated code with pdb",
                )
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and not isinstance(self.static_object(call.func.value), types.ModuleType)
            ):
                self.method_statement(call)
            raise self.error(
                "an expression statement has no effect on the result",
                stmt,
                hint="assign its value to a name, or remove it",
            )
        if isinstance(stmt, ast.Pass):
            return
        if isinstance(stmt, ast.Assign):
            self.assign(stmt.targets[0], stmt.value)
            return
        if isinstance(stmt, ast.AugAssign):
            target = stmt.target
            if not isinstance(target, ast.Name):
                raise self.error("augmented assignment must target a name", target)
            binop = ast.BinOp(
                left=ast.Name(id=target.id, ctx=ast.Load()), op=stmt.op, right=stmt.value
            )
            ast.copy_location(binop, stmt)
            self.assign(target, binop)
            return
        if isinstance(stmt, ast.Return):
            name = self.result_name()
            if stmt.value is None:
                raise self.error(
                    "return needs a value to differentiate",
                    stmt,
                    hint="return the scalar (or, for vjp, the array) to differentiate",
                )
            if isinstance(stmt.value, ast.Constant) and not isinstance(
                stmt.value.value, int | float | complex
            ):
                raise self.error(
                    f"{self.src.name} returns {stmt.value.value!r}, which has no derivative",
                    stmt,
                    hint="return the value to differentiate",
                )
            if isinstance(stmt.value, ast.Name | ast.Constant):
                atom = self.atom(stmt.value, name)
            else:
                atom = ast.Name(id=self.emit(stmt.value, name, claim=True), ctx=ast.Load())
            self.env[RESULT] = atom
            return
        if isinstance(stmt, ast.If):
            self.if_statement(stmt)
            return
        if isinstance(stmt, ast.For):
            self.for_statement(stmt)
            return
        if isinstance(stmt, ast.While):
            self.while_statement(stmt)
            return
        raise self.error(f"{type(stmt).__name__} statements are not supported", stmt)

    # ---------------------------------------------------------- control flow

    def condition(self, test: ast.expr) -> ast.expr:
        """An atom holding the truth value of ``test`` (not differentiated)."""
        if isinstance(test, ast.Constant):
            return ast.Constant(value=bool(test.value))
        if isinstance(test, ast.Name) and test.id in self.locals:
            return self.name(test)
        value = self.constant_expr(test)
        target = self.names.fresh("cond")
        self.body.append(
            Assign(target=target, value=value, prim=None, operands={}, loc=self.src.loc(test))
        )
        return ast.Name(id=target, ctx=ast.Load())

    def constant_expr(self, node: ast.expr) -> ast.expr:
        """``node`` with its names resolved, for a value that is not differentiated
        (conditions): locals become their current atoms, globals are recorded."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                func = sub.func
                if isinstance(func, ast.Name | ast.Attribute):
                    obj = self.static_object(func)
                    if isinstance(obj, StaticFunction) or is_user_function(obj):
                        raise self.error(
                            "a call of a user function in a condition is not supported",
                            sub,
                            hint="compute the value in a statement before the if/while",
                        )

        outer = self

        class Rename(ast.NodeTransformer):
            def visit_Name(self, n: ast.Name) -> ast.expr:
                if n.id in outer.locals:
                    return outer.name(n)
                outer.static_object(n)
                outer.globals[n.id] = outer.resolver.lookup(n.id)
                return ast.Name(id=n.id, ctx=ast.Load())

            def visit_Attribute(self, n: ast.Attribute) -> ast.expr:
                if outer.static_object(n) is not None:
                    outer.record_globals(n)
                    return _strip(n)
                self.generic_visit(n)
                return n

        import copy as _copy

        return Rename().visit(_copy.deepcopy(node))

    def if_statement(self, stmt: ast.If) -> None:
        test = self.condition(stmt.test)
        loc = self.src.loc(stmt)
        before = self.env
        body, env_a = self.sub_block(stmt.body, before)
        orelse, env_b = self.sub_block(stmt.orelse, before)
        self.stmt = stmt
        joins = []
        env = {}
        for var in list(env_a) + [v for v in env_b if v not in env_a]:
            a, b = env_a.get(var), env_b.get(var)
            if a is None or b is None:
                self.partial.add(var)
                continue
            if _same(a, b):
                env[var] = a
                continue
            hint = self.result_name() if var == RESULT else var
            join = self.names.claim(hint)
            joins.append((join, a, b))
            env[var] = ast.Name(id=join, ctx=ast.Load())
            kind = join_kinds([self.kind(a), self.kind(b)])
            if kind is None:
                if var == RESULT:
                    raise self.error(
                        f"{self.src.name} returns differently structured values on the two "
                        "paths of this if",
                        hint=SAME_STRUCTURE_HINT,
                    )
                raise self.error(
                    f"{var!r} holds differently structured values after the if",
                    hint=SAME_STRUCTURE_HINT,
                )
            self.kinds[join] = kind
        self.env = env
        self.body.append(If(test=test, body=body, orelse=orelse, joins=joins, loc=loc))

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
        carried = []
        for var in assigned:
            if var in self.env:  # (a for loop's own target too: after the loop it holds the last)
                carried.append((var, self.names.claim(var)))
        return carried

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
        kinds = {name: self.kind(before[var]) for var, name in carried}
        saved = self.save_state()
        while True:
            self.kinds.update(kinds)
            body, env_end = self.sub_block(stmts, env)
            grown = {}
            for var, name in carried:
                end = env_end.get(var)
                if end is None:
                    continue  # reported by finish_loop
                joined = join_kinds([kinds[name], self.kind(end)])
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
        )

    def restore_state(self, saved: tuple) -> None:
        claimed, nxt, kinds, scalars, constants, temps, globals_, partial, locals_ = saved
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
        """``for x in xs`` (also over ``zip`` and ``enumerate``) as a loop over indices:
        returns (index variable, ``range(...)`` expression, prelude assigning the targets)."""
        iterable, target = stmt.iter, stmt.target
        index_var = None
        if _is_call_of(iterable, "enumerate", self):
            if len(iterable.args) != 1 or iterable.keywords:
                raise self.error("enumerate() takes one argument here", iterable)
            if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                raise self.error("unpack enumerate() into two names: for i, x in ...", target)
            if not isinstance(target.elts[0], ast.Name):
                raise self.error("the index of enumerate() must be a name", target)
            index_var = target.elts[0].id
            sources, targets = [iterable.args[0]], [target.elts[1]]
        elif _is_call_of(iterable, "zip", self):
            if iterable.keywords:
                raise self.error("zip() keywords are not supported", iterable)
            if not (isinstance(target, ast.Tuple) and len(target.elts) == len(iterable.args)):
                raise self.error("unpack zip() into one target per sequence", target)
            sources, targets = list(iterable.args), list(target.elts)
        else:
            sources, targets = [iterable], [target]
        atoms = []
        for src_node in sources:
            atom = self.atom(src_node, "seq")
            kind = self.kind(atom)
            if kind != LEAF and kind[0] == "dict":
                raise self.error(
                    "iterating over a dict is not supported",
                    src_node,
                    hint="iterate over a list of its keys: for k in ['W', 'b']: ... p[k]",
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
        for atom, tgt in zip(atoms, targets, strict=True):
            value = ast.Subscript(
                value=_copy_atom(atom), slice=ast.Name(id=index_var, ctx=ast.Load()), ctx=ast.Load()
            )
            assign = ast.Assign(targets=[tgt], value=value)
            ast.copy_location(assign, stmt)
            ast.fix_missing_locations(assign)
            prelude.append(assign)
        return index_var, iter_expr, prelude

    def append(self, call: ast.Call) -> None:
        """``xs.append(v)`` as ``xs = xs + [v]``: a new list, so earlier versions stay intact."""
        var = call.func.value.id
        if len(call.args) != 1 or call.keywords:
            raise self.error("append() takes one argument", call)
        current = self.name(call.func.value)
        kind = self.kind(current)
        if kind != LEAF and kind[0] != "list":
            raise self.error(f"{var!r} is not a list", call)
        if kind == LEAF and not isinstance(current, ast.Name):
            raise self.error(f"{var!r} is not a list", call)
        item = self.atom(call.args[0], var)
        value = ast.BinOp(left=current, op=ast.Add(), right=ast.List(elts=[item], ctx=ast.Load()))
        target = self.names.claim(var)
        item_kind = join_kinds([kind[1] if kind != LEAF else EMPTY, self.kind(item)])
        if item_kind is None:
            raise self.error(
                f"{var!r} holds {_described(kind[1])}, and this appends "
                f"{_described(self.kind(item), one=True)}: the elements of a list must be alike",
                call,
                hint="keep the elements of a list alike (all arrays, or all tuples of "
                "the same length)",
            )
        self.body.append(
            Assign(
                target=target,
                value=value,
                prim=containers.APPEND,
                operands={"c": _copy_atom(current), "x": _copy_atom(item)},
                loc=self.src.loc(self.stmt),
            )
        )
        self.kinds[target] = ("list", item_kind)
        self.env[var] = ast.Name(id=target, ctx=ast.Load())

    def method_statement(self, call: ast.Call) -> None:
        """Refuse a method call used as a statement (it could only matter by changing
        its object in place), saying what is supported instead."""
        base, method = call.func.value, call.func.attr
        what = f"`{ast.unparse(call.func)}(...)`"
        if method == "append" and isinstance(base, ast.Name):
            raise self.error(
                f"{what} would change the global {base.id!r}; adcompile appends only to "
                "lists that the function makes itself",
                call,
                hint="append to a list the function makes itself (ys = [] or ys = [a, b]), "
                "copying into it the elements you need",
            )
        if method == "append":
            raise self.error(
                f"{what} appends to an element of a container, which is not supported",
                call,
                hint="give the list a name of its own (row = []), append to it, and put it "
                "into the container when it is complete",
            )
        raise self.error(
            f"{what} as a statement would change {ast.unparse(base)} in place, which is "
            "not supported",
            call,
            hint="grow a list one element at a time with xs.append(v); for arrays, "
            "compute a new one (ys = np.sort(xs))",
        )

    def kind(self, atom: ast.expr) -> object:
        if isinstance(atom, ast.Name):
            if atom.id in self.kinds:
                kind = self.kinds[atom.id]
                return LEAF if kind == EMPTY else kind
            if atom.id in self.globals:
                return containers.kind_of(self.globals[atom.id])
        return LEAF

    def result_name(self) -> str:
        base = self.src.name if self.src.name.isidentifier() else "out"
        if base in self.locals or base in self.globals:
            base = "out"
        return base

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
            return
        if isinstance(target, ast.Tuple | ast.List):
            names = target.elts
            if not all(isinstance(t, ast.Name) for t in names):
                raise self.error("only names can be unpacked into", target)
            if isinstance(value, ast.Tuple | ast.List):
                if len(value.elts) != len(names):
                    raise self.error(
                        f"cannot unpack {len(value.elts)} values into {len(names)} names", target
                    )
                atoms = [self.atom(v, t.id) for v, t in zip(value.elts, names, strict=True)]
                for t, a in zip(names, atoms, strict=True):
                    self.env[t.id] = a
                return
            source = self.atom(value, "_".join(t.id for t in names))
            kind = self.kind(source)
            if isinstance(source, ast.Name) and self.kinds.get(source.id) == EMPTY:
                # an element of a list with no element yet: its structure is not
                # known until an append says it (see loop_body)
                kind = ("tuple", (EMPTY,) * len(names))
            if kind == LEAF and isinstance(source, ast.Name) and source.id in self.constants:
                for i, t in enumerate(names):
                    sub = ast.Subscript(
                        value=_copy_atom(source), slice=ast.Constant(i), ctx=ast.Load()
                    )
                    ssa = self.names.claim(t.id)
                    self.add_assign(ssa, sub, None, {})
                    self.constants.add(ssa)
                    self.env[t.id] = ast.Name(id=ssa, ctx=ast.Load())
                return
            if kind == LEAF:
                raise self.error(
                    f"{ast.unparse(value)} is an array here: unpacking is supported for "
                    "tuples, lists and results of calls",
                    value,
                    hint="index the array instead: a = x[0]; b = x[1]",
                )
            for i, t in enumerate(names):
                index = ast.Constant(value=i)
                sub = ast.Subscript(value=_copy_atom(source), slice=index, ctx=ast.Load())
                ssa = self.names.claim(t.id)
                self.add_assign(ssa, sub, containers.GET, {"c": _copy_atom(source), "index": index})
                self.env[t.id] = ast.Name(id=ssa, ctx=ast.Load())
            return
        raise self.error("unsupported assignment target", target)

    def bind(self, name: str, value: ast.expr) -> None:
        if isinstance(value, ast.Name | ast.Constant | ast.IfExp | ast.BoolOp):
            self.env[name] = self.atom(value, name)
            return
        ssa = self.emit(value, name, claim=True)
        self.env[name] = ast.Name(id=ssa, ctx=ast.Load())

    # ----------------------------------------------------------- expressions

    def add_assign(self, target: str, value: ast.expr, prim, operands: dict) -> None:
        self.body.append(
            Assign(
                target=target,
                value=value,
                prim=prim,
                operands=operands,
                loc=self.src.loc(self.stmt),
            )
        )
        self.kinds[target] = self.result_kind(prim, operands)

    def result_kind(self, prim, operands: dict) -> object:
        if prim is containers.GET and isinstance(operands["index"], ast.Call):
            kind = self.kind(operands["c"])
            bounds = operands["index"].args
            if kind[0] == "tuple":
                if all(isinstance(b, ast.Constant) for b in bounds):
                    return ("tuple", kind[1][slice(*(b.value for b in bounds))])
                joined = join_kinds(list(kind[1]))
                if joined is None:
                    raise self.error("cannot tell the structure of this slice")
                return ("list", joined)
            return kind
        if prim is containers.GET:
            c = operands["c"]
            if isinstance(c, ast.Name) and self.kinds.get(c.id) == EMPTY:
                return EMPTY  # unpacking an element of a list with no element yet
            index = operands["index"]
            kind = element_kind(
                self.kind(operands["c"]),
                index.value if isinstance(index, ast.Constant) else None,
                constant=isinstance(index, ast.Constant),
            )
            if kind is None:
                raise self.error(
                    "cannot tell the structure of this element",
                    hint="index tuples and dicts with constants",
                )
            return kind
        if prim is containers.BUILD_LIST:
            kind = join_kinds([self.kind(e) for e in operands.values()])
            if kind is None and operands:
                return ("tuple", tuple(self.kind(e) for e in operands.values()))
            return ("list", kind or EMPTY)
        if prim is containers.BUILD_TUPLE:
            return ("tuple", tuple(self.kind(e) for e in operands.values()))
        if prim is containers.APPEND:
            c = self.kind(operands["c"])
            return ("list", join_kinds([c[1] if c != LEAF else EMPTY, self.kind(operands["x"])]))
        if isinstance(prim, CallPrim):
            return prim.result_kind
        return LEAF

    def atom(self, node: ast.expr, hint: str) -> ast.expr:
        """An atom holding the value of ``node``; emits temporaries named after ``hint``."""
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | complex | bool | str | type(None)):
                raise self.error(f"the constant {node.value!r} is not supported", node)
            return ast.Constant(value=node.value)
        if isinstance(node, ast.Name):
            return self.name(node)
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float | complex)
            and not isinstance(node.operand.value, bool)
        ):  # a negative literal is a constant, not an operation
            v = node.operand.value
            return ast.Constant(value=-v if isinstance(node.op, ast.USub) else v)
        const = self.module_constant(node)
        if const is not None:
            return const
        if isinstance(node, ast.IfExp):
            return self.if_expression(node, hint)[0]
        if isinstance(node, ast.BoolOp):
            return self.bool_operation(node, hint)[0]
        return ast.Name(id=self.emit(node, hint), ctx=ast.Load())

    def name(self, node: ast.Name) -> ast.expr:
        if node.id in self.locals:
            if node.id not in self.env:
                if node.id in self.partial:
                    raise self.error(
                        f"{node.id!r} is assigned only on some paths (one branch of an if, "
                        "or inside a loop) and used after them",
                        node,
                        hint=f"give {node.id} a value before the if or loop",
                    )
                raise self.error(
                    f"{node.id!r} is used before it is assigned",
                    node,
                    hint=f"assign {node.id} before this line",
                )
            return _copy_atom(self.env[node.id])
        obj = self.resolve(node.id, node)
        if isinstance(obj, NUMERIC):
            self.globals[node.id] = obj
            return ast.Name(id=node.id, ctx=ast.Load())
        hint = "only numbers and numpy arrays can be used as values"
        if callable(obj) and not isinstance(obj, type):
            hint = f"call it where it is needed ({node.id}(...)); a function is not a value here"
        raise self.error(
            f"{node.id!r} is a {type(obj).__name__}, not a number or an array", node, hint=hint
        )

    def resolve(self, ident: str, node: ast.AST) -> object:
        return self.resolver.resolve(ident, node)

    def module_constant(self, node: ast.expr) -> ast.expr | None:
        """``np.pi``-like attributes of modules: kept as they are, as constant atoms."""
        if not isinstance(node, ast.Attribute):
            return None
        if not isinstance(self.static_object(node.value), types.ModuleType):
            return None
        obj = self.static_object(node)
        if obj is not None and not isinstance(obj, NUMERIC):
            return None  # np.newaxis is None: a constant too
        self.record_globals(node)
        return _strip(node)

    def static_object(self, node: ast.expr) -> object | None:
        """The object a dotted name of module attributes means, or None."""
        return self.resolver.static_object(node)

    def is_namespace(self, node: ast.expr) -> bool:
        """Whether ``node`` names a module or another non-value (not an array or number)."""
        obj = self.static_object(node)
        return obj is not None and not isinstance(obj, NUMERIC)

    def record_globals(self, node: ast.expr) -> None:
        while isinstance(node, ast.Attribute):
            node = node.value
        if isinstance(node, ast.Name):
            self.globals[node.id] = self.resolver.lookup(node.id)

    def is_static(self, node: ast.expr) -> bool:
        """Whether ``node`` has no derivative whatever its inputs: shapes and sizes of
        arrays and arithmetic on them (``x.shape[0] - 1``, ``len(xs)``). Such
        expressions stay whole, as one statement."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, int | bool)
        if isinstance(node, ast.Attribute):
            return node.attr in CONSTANT_ATTRIBUTES and node.attr != "dtype"
        if isinstance(node, ast.Subscript):
            return self.is_static(node.value) and (
                self.is_static(node.slice) or _is_int_name(node.slice, self)
            )
        if isinstance(node, ast.BinOp):  # one frame per operator: long sums are deep
            if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv):
                return False
            left = self.is_static(node.left)
            if not left and not _is_int_name(node.left, self):
                return False
            right = self.is_static(node.right)
            return (right or _is_int_name(node.right, self)) and (left or right)
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, ast.USub) and self.is_static(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id not in self.locals and self.resolver.lookup(node.func.id) is len
        return False

    def emit(self, node: ast.expr, hint: str, claim: bool = False) -> str:
        """Emit ``<name> = node`` as one primitive and return the name.

        The operands become atoms first, so temporaries are numbered in the order
        they are computed. With ``claim`` the name is the user's own ``hint``
        (or a fresh version of it, when it was assigned before); otherwise it is a
        temporary named after it.
        """
        if self.is_static(node):
            # a number, unless it is a shape (a tuple) or a slice of one
            scalar = not any(
                (isinstance(n, ast.Attribute) and n.attr == "shape")
                and not isinstance(node, ast.Subscript | ast.BinOp | ast.Call)
                or (isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Slice))
                for n in ast.walk(node)
            )
            value, prim, operands = self.constant_expr(node), None, {}
        else:
            value, prim, operands, scalar = self.primitive(node, hint)
        target = self.names.claim(hint) if claim else self.names.fresh(hint)
        self.spelling[target] = hint if claim and hint in self.locals else node
        if not claim:
            self.temps.add(target)
        if prim is None:
            self.constants.add(target)
        ast.copy_location(value, node)
        self.body.append(
            Assign(
                target=target,
                value=value,
                prim=prim,
                operands=operands,
                loc=self.src.loc(self.stmt),
                scalar=scalar,
            )
        )
        if scalar:
            self.scalars.add(target)
        self.kinds[target] = self.result_kind(prim, operands)
        return target

    def primitive(self, node: ast.expr, hint: str):
        """Split ``node`` into (forward expression over atoms, primitive, operands, is_scalar)."""
        if isinstance(node, ast.BinOp):
            prim = BINOPS[type(node.op)]
            left = self.atom(node.left, hint)
            right = self.atom(node.right, hint)
            value = ast.BinOp(left=left, op=node.op, right=right)
            scalar = self.is_scalar(left) and self.is_scalar(right)
            return self.bound(value, prim, [left, right], [], node, scalar)
        if isinstance(node, ast.UnaryOp):
            prim = UNARYOPS[type(node.op)]
            operand = self.atom(node.operand, hint)
            value = ast.UnaryOp(op=node.op, operand=operand)
            return self.bound(value, prim, [operand], [], node, self.is_scalar(operand))
        if isinstance(node, ast.Compare):
            left = self.atom(node.left, hint)
            comps = [self.atom(c, hint) for c in node.comparators]
            return ast.Compare(left=left, ops=node.ops, comparators=comps), None, {}, False
        if isinstance(node, ast.BoolOp):
            return self.bool_operation(node, hint)
        if isinstance(node, ast.Call):
            return self.call(node, hint)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, hint)
        if isinstance(node, ast.Subscript):
            base = self.atom(node.value, hint)
            index = self.index(node.slice, hint)
            if is_container(self.kind(base)):
                if isinstance(index, ast.Tuple):
                    raise self.error(
                        "a list or tuple takes one index or one slice",
                        node,
                        hint="index elements one at a time, or np.stack the list first",
                    )
                value = ast.Subscript(value=base, slice=index, ctx=ast.Load())
                if isinstance(index, ast.Slice):
                    # the slice as a value, for the adjoint: add_at(dc, slice(a, b), g)
                    self.globals["slice"] = slice
                    parts = [index.lower, index.upper, index.step]
                    index = ast.Call(
                        func=ast.Name(id="slice", ctx=ast.Load()),
                        args=[p if p is not None else ast.Constant(None) for p in parts],
                        keywords=[],
                    )
                return value, containers.GET, {"c": base, "index": index}, False
            value = ast.Subscript(value=base, slice=index, ctx=ast.Load())
            return self.bound(value, operator.getitem, [base, index], [], node, False)
        if isinstance(node, ast.Name | ast.Constant):
            atom = self.atom(node, hint)
            return atom, np.positive, {"x": atom}, self.is_scalar(atom)
        if isinstance(node, ast.Tuple | ast.List):
            elts = [self.atom(e, hint) for e in node.elts]
            prim = containers.BUILD_TUPLE if isinstance(node, ast.Tuple) else containers.BUILD_LIST
            value = type(node)(elts=elts, ctx=ast.Load())
            return value, prim, {f"e{i}": e for i, e in enumerate(elts)}, False
        if isinstance(node, ast.IfExp):
            return self.if_expression(node, hint)
        raise self.error(f"{type(node).__name__} expressions are not supported", node)

    def if_expression(self, node: ast.IfExp, hint: str):
        """``a if c else b`` as an if statement whose branches compute the two atoms."""
        test = self.condition(node.test)
        before = self.env
        results = []
        blocks = []
        for branch in (node.body, node.orelse):
            outer_body, outer_env = self.body, self.env
            self.body, self.env = [], dict(before)
            try:
                results.append(self.atom(branch, hint))
                blocks.append(self.body)
            finally:
                self.body, self.env = outer_body, outer_env
        join = self.names.fresh(hint)
        self.spelling[join] = node
        self.body.append(
            If(
                test=test,
                body=blocks[0],
                orelse=blocks[1],
                joins=[(join, results[0], results[1])],
                loc=self.src.loc(self.stmt),
            )
        )
        kind = join_kinds([self.kind(r) for r in results])
        if kind is None:
            raise self.error(
                "the two values of this conditional differ in structure",
                node,
                hint=SAME_STRUCTURE_HINT,
            )
        self.kinds[join] = kind
        atom = ast.Name(id=join, ctx=ast.Load())
        return atom, np.positive, {"x": atom}, False

    def bool_operation(self, node: ast.BoolOp, hint: str):
        """``a and b`` as ``b if a else a``, ``a or b`` as ``a if a else b``: Python
        returns one of the operands (not a bool), each evaluated once, left to right,
        and ``b`` only when ``a`` does not decide. ``a and b and c`` is
        ``a and (b and c)``."""
        first = self.atom(node.values[0], hint)
        rest = node.values[1:]
        if len(rest) == 1:
            second_node = rest[0]
        else:
            second_node = ast.copy_location(ast.BoolOp(op=node.op, values=rest), rest[0])
        outer_body, outer_env = self.body, self.env
        self.body, self.env = [], dict(outer_env)
        try:
            second = self.atom(second_node, hint)
            block = self.body
        finally:
            self.body, self.env = outer_body, outer_env
        if isinstance(node.op, ast.And):
            body, orelse, joined = block, [], (second, _copy_atom(first))
        else:
            body, orelse, joined = [], block, (_copy_atom(first), second)
        join = self.names.fresh(hint)
        self.body.append(
            If(
                test=_copy_atom(first),
                body=body,
                orelse=orelse,
                joins=[(join, *joined)],
                loc=self.src.loc(self.stmt),
            )
        )
        kind = join_kinds([self.kind(first), self.kind(second)])
        if kind is None:
            raise self.error("the operands of this `and`/`or` differ in structure", node)
        self.kinds[join] = kind
        atom = ast.Name(id=join, ctx=ast.Load())
        return atom, np.positive, {"x": atom}, False

    def index(self, node: ast.expr, hint: str) -> ast.expr:
        if isinstance(node, ast.Slice):
            parts = {
                k: (None if getattr(node, k) is None else self.atom(getattr(node, k), hint))
                for k in ("lower", "upper", "step")
            }
            return ast.Slice(**parts)
        if isinstance(node, ast.Tuple):
            return ast.Tuple(elts=[self.index(e, hint) for e in node.elts], ctx=ast.Load())
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return ast.Constant(value=Ellipsis)
        return self.atom(node, hint + "_index")

    def attribute(self, node: ast.Attribute, hint: str):
        const = self.module_constant(node)
        if const is not None:
            return const, None, {}, True
        if self.is_namespace(node.value):
            text = self.src.text_of(node)
            obj = self.static_object(node)
            if callable(obj) and not isinstance(obj, type):
                hint = f"call it where it is needed ({text}(...)); a function is not a value here"
            elif isinstance(obj, type):
                hint = (
                    "types and dtypes are not values here: make arrays of the dtype you need "
                    "outside the differentiated function and pass them in"
                )
            else:
                base = self.src.text_of(node.value)
                hint = (
                    f"bind it to a module-level name ({node.attr} = {text}) or pass it in as an "
                    f"argument: adcompile reads values only from modules, not from {base}"
                )
            raise self.error(f"{text} cannot be used as a value", node, hint=hint)
        base = self.atom(node.value, hint)
        value = ast.Attribute(value=base, attr=node.attr, ctx=ast.Load())
        if node.attr == "T":
            return self.bound(value, np.transpose, [base], [], node, self.is_scalar(base))
        if node.attr in CONSTANT_ATTRIBUTES:
            return value, None, {}, node.attr in ("ndim", "size")
        raise self.error(
            f"the attribute .{node.attr} is not supported",
            node,
            hint="supported array attributes: .T, " + ", ".join(sorted(CONSTANT_ATTRIBUTES)),
        )

    def call(self, node: ast.Call, hint: str):
        func = node.func
        if isinstance(func, ast.Attribute) and not self.is_namespace(func.value):
            return self.method_call(node, func, hint)
        obj = self.static_object(func)
        if obj is None:
            raise self.unresolved_call(func)
        if not callable(obj) and not isinstance(obj, StaticFunction):
            text = self.src.text_of(func)
            if isinstance(obj, types.ModuleType):
                what = f"the module {obj.__name__}"
            elif isinstance(obj, np.ndarray):
                what = f"an array of shape {obj.shape}"
            else:
                name = type(obj).__name__
                what = f"{_article(name)} {name} ({_short_repr(obj)})"
            raise self.error(
                f"{text} is {what}, not a function, so it cannot be called",
                func,
                hint="call a function here: a numpy function, or one defined with def",
            )
        label = _dotted(func)
        if is_helper(obj):
            return self.user_call(node, func, obj, hint)
        if obj is print:
            raise self.error("print() is not supported in a differentiated function", node)
        self.record_globals(func)
        self.check_keywords(rules.lookup(_canonical(obj)), node)
        args = [self.argument(a, hint) for a in node.args]
        keywords = [(k.arg, self.argument(k.value, hint)) for k in node.keywords]
        value = ast.Call(
            func=_strip(func),
            args=args,
            keywords=[ast.keyword(arg=k, value=v) for k, v in keywords],
        )
        if obj is float:
            if len(args) != 1 or keywords:
                raise self.error("float() takes one argument here", node)
            return value, np.positive, {"x": args[0]}, True
        if obj in CONSTANT_BUILTINS or rules.is_nondiff(_canonical(obj)):
            return value, None, {}, obj in (len, int, bool, round)
        if obj is sum:
            if len(args) != 1 or keywords:
                raise self.error("sum() takes one list here", node)
            if not is_container(self.kind(args[0])) and not isinstance(args[0], ast.Tuple):
                raise self.error(
                    "sum() of an array is not supported", node, hint="use np.sum(x) for arrays"
                )
            if isinstance(args[0], ast.Tuple):
                raise self.error("sum() over a literal: write a + b + ... instead", node)
            return value, containers.SUM, {"c": args[0]}, False
        if obj in (max, min) and len(args) == 2 and not keywords:
            # its own rule: Python's max(a, b) returns a unless b > a (NaN and ties
            # included), which np.maximum does not
            scalar = all(self.is_scalar(a) for a in args)
            return self.bound(value, obj, args, [], node, scalar)
        prim = _canonical(obj)
        if rules.lookup(prim) is None or obj in (max, min):
            # (max and min of other than two operands, or with key=, have no rule)
            reason, instead = _no_rule(obj, label)
            raise self.error(reason, node, hint=instead)
        scalar = id(prim) in SCALAR_PRESERVING and all(self.is_scalar(a) for a in args)
        return self.bound(value, prim, args, keywords, node, scalar)

    def unresolved_call(self, func: ast.expr) -> AdCompileError:
        """The refusal of a call whose function cannot be known when compiling."""
        text = self.src.text_of(func)
        if isinstance(func, ast.Constant):
            return self.error(
                f"the call {text}(...) calls {text}, which is not a function",
                func,
                hint="call a function here: a numpy function, or one defined with def",
            )
        if not isinstance(func, ast.Name | ast.Attribute | ast.Call | ast.Subscript):
            text = f"({text})"
        why = "adcompile must know which function a call calls when it compiles"
        module_level = (
            "define the function at module level (or bind it to a module-level name, "
            "e.g. ACT = np.tanh) and call it by that name; rebinding the name recompiles"
        )
        if isinstance(func, ast.Name):  # a local variable or a parameter
            what = "a parameter" if func.id in self.params else "a local variable"
            return self.error(
                f"the call {text}(...) cannot be resolved: {text} is {what} of "
                f"{self.src.name}, and {why}",
                func,
                hint=module_level,
            )
        if isinstance(func, ast.Attribute):
            base = self.static_object(func.value)
            if base is not None and not isinstance(base, types.ModuleType):
                return self.error(
                    f"the call {text}(...) cannot be resolved: {self.src.text_of(func.value)} "
                    f"is {_kind_of_object(base)}, and adcompile looks up functions only "
                    "in modules",
                    func,
                    hint=f"bind the function to a module-level name ({func.attr} = {text}) "
                    f"and call {func.attr}(...); rebinding the name recompiles",
                )
        if (
            isinstance(func, ast.Call)
            and isinstance(func.func, ast.Name)
            and func.func.id == "getattr"
            and len(func.args) == 2
            and isinstance(func.args[1], ast.Constant)
            and isinstance(func.args[1].value, str)
        ):
            spelled = f"{self.src.text_of(func.args[0])}.{func.args[1].value}"
            return self.error(
                f"the call {text}(...) cannot be resolved: {why}",
                func,
                hint=f"write {spelled}(...) instead of getattr",
            )
        return self.error(
            f"the call {text}(...) cannot be resolved: {text} is computed when the function "
            f"runs, and {why}",
            func,
            hint=module_level,
        )

    def user_call(self, node: ast.Call, func: ast.expr, obj: object, hint: str):
        """A call of another user function: differentiated through its own pullback."""
        if isinstance(obj, StaticFunction):
            callee = obj.source
            defaults = [_literal(d) for d in callee.node.args.defaults]
        else:
            callee = frontend.from_function(obj)
            defaults = list(getattr(obj, "__defaults__", None) or ())
        fence.check(callee)
        params = [a.arg for a in callee.node.args.args]
        if len(node.args) > len(params):
            raise self.error(f"too many arguments for {callee.name}()", node)
        bound: dict[str, ast.expr] = {}
        for p, a in zip(params, node.args, strict=False):
            bound[p] = self.atom(a, hint)
        for k in node.keywords:
            if k.arg is None:
                raise self.error("**-arguments are not supported", k)
            if k.arg not in params:
                raise self.error(f"{callee.name}() has no parameter {k.arg!r}", node)
            if k.arg in bound:
                raise self.error(f"{k.arg!r} given twice", node)
            bound[k.arg] = self.atom(k.value, hint)
        first_default = len(params) - len(defaults)
        for i, p in enumerate(params):
            if p in bound:
                continue
            if i < first_default:
                raise self.error(f"{callee.name}() needs its argument {p!r}", node)
            bound[p] = self.default_atom(callee.name, p, defaults[i - first_default], node)
        self.record_globals(func)
        args = [bound[p] for p in params]
        kinds = tuple(self.kind(a) for a in args)
        result_kind = self.session.result_kind(callee, kinds) if self.session else LEAF
        prim = CallPrim(source=callee, kinds=kinds, params=tuple(params), result_kind=result_kind)
        value = ast.Call(func=_strip(func), args=[_copy_atom(a) for a in args], keywords=[])
        return value, prim, dict(zip(params, args, strict=True)), False

    def default_atom(self, fname: str, param: str, value: object, node: ast.AST) -> ast.expr:
        if isinstance(value, _NoLiteral):
            raise self.error(
                f"the default of {fname}()'s parameter {param!r} cannot be read without "
                "running the file",
                node,
                hint=f"pass {param} explicitly",
            )
        if value is None or isinstance(value, bool | int | float | complex | str):
            return ast.Constant(value=value)
        name = self.names.fresh(f"{fname}_{param}_default")
        self.globals[name] = value
        return ast.Name(id=name, ctx=ast.Load())

    def method_call(self, node: ast.Call, func: ast.Attribute, hint: str):
        entry = METHODS.get(func.attr)
        if entry is None:
            raise self.error(
                f"the method .{func.attr}() is not supported", node, hint=_method_hint(func.attr)
            )
        prim, pack = entry
        base = self.atom(func.value, hint)
        args = [self.argument(a, hint) for a in node.args]
        keywords = [(k.arg, self.argument(k.value, hint)) for k in node.keywords]
        value = ast.Call(
            func=ast.Attribute(value=base, attr=func.attr, ctx=ast.Load()),
            args=args,
            keywords=[ast.keyword(arg=k, value=v) for k, v in keywords],
        )
        if pack is not None and (len(args) > 1):
            args = [ast.Tuple(elts=args, ctx=ast.Load())]
        elif pack == "axes" and len(args) == 1 and isinstance(args[0], ast.Constant):
            args = [ast.Tuple(elts=args, ctx=ast.Load())]
        if pack == "axes" and not args and not keywords:
            args = []
        if rules.is_nondiff(prim):
            return value, None, {}, False
        return self.bound(value, prim, [base, *args], keywords, node, False)

    def argument(self, node: ast.expr, hint: str) -> ast.expr:
        if isinstance(node, ast.Tuple | ast.List):
            return ast.Tuple(elts=[self.argument(e, hint) for e in node.elts], ctx=ast.Load())
        if isinstance(node, ast.Starred):
            raise self.error("star-arguments are not supported", node)
        return self.atom(node, hint)

    def check_keywords(self, rule, node: ast.Call) -> None:
        """Name a keyword the rule does not take before its value is looked at
        (``dtype=np.float32`` is not a value adcompile can hold)."""
        for k in node.keywords if rule is not None else ():
            if k.arg is not None and k.arg not in rule.params:
                raise self.error(
                    f"the argument {k.arg}= of {rule.name} is not supported by its adjoint rule",
                    node,
                    hint=_keyword_hint(k.arg, rule),
                )

    def bound(self, value, prim, args, keywords, node, scalar):
        rule = rules.lookup(prim)
        if rule is None:
            if not rules.is_nondiff(prim):
                label = primitive_name(prim)
                raise self.error(
                    f"{label} has no adjoint rule",
                    node,
                    hint=f"register one with @adcompile.adjoint({label}), see docs/custom-rules.md",
                )
            return value, None, {}, scalar
        operands: dict[str, ast.expr] = {}
        if len(args) > len(rule.params):
            raise self.error(
                f"too many arguments for {rule.name} (its rule takes {', '.join(rule.params)})",
                node,
            )
        for p, a in zip(rule.params, args, strict=False):
            operands[p] = a
        for k, v in keywords:
            if k not in rule.params:
                raise self.error(
                    f"the argument {k}= of {rule.name} is not supported by its adjoint rule",
                    node,
                    hint=_keyword_hint(k, rule),
                )  # for method calls, which do not go through check_keywords
            if k in operands:
                raise self.error(f"{k} given twice", node)
            operands[k] = v
        for p, e in operands.items():
            if isinstance(e, ast.Tuple) and p != "arrays" and rule.differentiable(p):
                raise self.error(
                    f"{rule.name} takes an array here, not a list or tuple",
                    node,
                    hint="make an array of the pieces first: np.stack([...])",
                )
            kind = self.kind(e) if isinstance(e, ast.Name) else LEAF
            if kind != LEAF and p != "arrays" and rule.differentiable(p):
                what = {"list": "a list", "tuple": "a tuple", "dict": "a dict"}[kind[0]]
                text = self.spell(e)
                raise self.error(
                    f"{text!r} is {what}, but {rule.name} takes an array here"
                    if text
                    else f"this argument is {what}, but {rule.name} takes an array here",
                    node,
                    hint=_container_hint(text or "it", kind[0], text in self.params),
                )
        for p in rule.params:
            if p not in operands:
                if p not in rule.defaults:
                    raise self.error(f"{rule.name} needs its argument {p!r}", node)
                operands[p] = ast.Constant(value=rule.defaults[p])
        if id(prim) in FULL_REDUCTIONS:
            axis, keep = operands.get("axis"), operands.get("keepdims")
            scalar = _is_const(axis, None) and _is_const(keep, False)
        return value, prim, operands, scalar

    def is_scalar(self, atom: ast.expr) -> bool:
        if isinstance(atom, ast.Constant):
            return isinstance(atom.value, int | float | complex | bool)
        if isinstance(atom, ast.Name):
            if atom.id in self.globals:
                return isinstance(self.globals[atom.id], int | float | complex)
            return atom.id in self.scalars
        return False


class _NoLiteral:
    """A default value that is not a literal (static reading cannot know it)."""


def _described(kind: object, *, one: bool = False) -> str:
    """Values of ``kind`` (or one, with ``one``), in words (for messages)."""
    if kind == LEAF:
        return "an array or a number" if one else "arrays or numbers"
    tag, inner = kind
    if tag == "tuple":
        return f"a tuple of {len(inner)}" if one else f"tuples of {len(inner)}"
    return (
        ("a " if one else "")
        + {"list": "list", "dict": "dict"}.get(tag, "container")
        + ("" if one else "s")
    )


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return _NoLiteral()


def infer_kinds(fn: ast.FunctionDef) -> dict[str, object]:
    """Guess which parameters are containers from how the body uses them, for code
    generated before any call (``.source``, the CLI): ``for W, b in p`` makes ``p`` a
    list of pairs, ``p["W"]`` a dict, ``a, b = p`` a tuple. Arguments seen at a
    call always win over these guesses."""
    params = {a.arg for a in fn.args.args}
    kinds: dict[str, object] = {}
    keys: dict[str, list] = {}

    def shape_of(target: ast.expr) -> object:
        if isinstance(target, ast.Tuple | ast.List):
            return ("tuple", tuple(shape_of(t) for t in target.elts))
        return LEAF

    for node in ast.walk(fn):
        if isinstance(node, ast.For):
            it, target = node.iter, node.target
            pairs = []
            if isinstance(it, ast.Name):
                pairs = [(it, target)]
            elif isinstance(it, ast.Call) and isinstance(it.func, ast.Name):
                if it.func.id == "enumerate" and it.args and isinstance(target, ast.Tuple):
                    pairs = [(it.args[0], target.elts[-1])]
                elif it.func.id == "zip" and isinstance(target, ast.Tuple):
                    pairs = list(zip(it.args, target.elts, strict=False))
            for seq, tgt in pairs:
                if isinstance(seq, ast.Name) and seq.id in params and isinstance(tgt, ast.Tuple):
                    kinds[seq.id] = ("list", shape_of(tgt))
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            value = node.value
            if isinstance(value, ast.Name) and value.id in params:
                kinds[value.id] = shape_of(node.targets[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            key = node.slice
            if (
                node.value.id in params
                and isinstance(key, ast.Constant)
                and isinstance(key.value, str)
            ):
                keys.setdefault(node.value.id, [])
                if key.value not in keys[node.value.id]:
                    keys[node.value.id].append(key.value)
    for p, ks in keys.items():
        kinds[p] = ("dict", tuple((k, LEAF) for k in ks))
    return kinds


def _keyword_hint(keyword: str, rule) -> str:
    """What to do about a keyword argument that ``rule`` does not take."""
    supported = f"its rule takes {', '.join(rule.params)}"
    if keyword == "out":
        return f"assign the result instead of passing out= (y = {rule.name}(...)); {supported}"
    if keyword == "where":
        return (
            f"select first instead: {rule.name}(np.where(mask, x, neutral)), with a value "
            f"that does not change the result (0.0 for a sum); {supported}"
        )
    if keyword == "dtype":
        return f"convert the input before calling the gradient instead; {supported}"
    return f"leave {keyword}= out; {supported}"


def _container_hint(text: str, kind: str, parameter: bool) -> str:
    """What to do with a list, tuple or dict (written ``text``) where an array is needed."""
    if kind == "dict":
        return f"index its elements ({text}[...])"
    hint = f"make one array of it first: np.stack({text}), or index its elements"
    if parameter:
        hint += f"; or pass it in as an array (np.asarray({text}) before the call)"
    return hint


# What to write instead of a builtin that has no rule. Each hint is about what that
# builtin does; a builtin with no numeric meaning is told to stay outside.
BUILTIN_HINTS: dict[str, str] = {
    "range": "range() is supported as the iterable of a for loop (for i in range(n)); "
    "for an array of numbers use np.arange(n)",
    "zip": "zip() is supported as the iterable of a for loop: for a, b in zip(xs, ys): ...",
    "enumerate": "enumerate() is supported as the iterable of a for loop: "
    "for i, x in enumerate(xs): ...",
    "max": "max(a, b) of two values is supported (nest it for more: max(a, max(b, c))); "
    "for the largest element of an array use np.max(x)",
    "min": "min(a, b) of two values is supported (nest it for more: min(a, min(b, c))); "
    "for the smallest element of an array use np.min(x)",
    "pow": "write a ** b",
    "divmod": "write a // b and a % b",
    "reversed": "index backwards instead: xs[::-1]",
    "map": "write a for loop, or call the function on the whole array",
    "filter": "write a for loop with an if, or select with np.where",
    "list": "write the list out ([a, b, c]), or keep the array as it is",
    "tuple": "write the tuple out: (a, b, c)",
    "dict": "build dicts outside the differentiated function and pass them in as arguments",
    "complex": fence.COMPLEX_HINT,
    "any": "for an array, np.any(x)",
    "all": "for an array, np.all(x)",
    "iter": "write a for loop over the sequence",
    "next": "write a for loop over the sequence, or index it",
    "slice": "write the slice in the index itself: x[a:b]",
}
OUTSIDE_HINT = (
    "compute it outside the differentiated function and pass the result in as an argument"
)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _short_repr(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind_of_object(obj: object) -> str:
    if isinstance(obj, type):
        return "a class"
    if isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
        return f"the function {obj.__name__}"
    return f"{_article(type(obj).__name__)} {type(obj).__name__} object"


def _no_rule(obj: object, label: str) -> tuple[str, str]:
    """(reason, hint) for a call of ``obj`` (written ``label``), which has no rule."""
    name = getattr(obj, "__name__", "")
    if getattr(builtins, name, None) is obj:
        return f"the builtin {label}() is not supported here", BUILTIN_HINTS.get(name, OUTSIDE_HINT)
    if isinstance(obj, functools.partial):
        inner = getattr(obj.func, "__name__", "the function")
        given = [repr(a) for a in obj.args] + [f"{k}={v!r}" for k, v in obj.keywords.items()]
        return (
            f"{label} is a functools.partial of {inner}, not a function defined with def",
            f"write it with def: def {label}(x): return {inner}(x, {', '.join(given)}) "
            "(with the parameters it needs)",
        )
    wrapped = getattr(obj, "__wrapped__", None)
    if is_user_function(wrapped):
        wrapper = f"{type(obj).__module__}.{type(obj).__qualname__}"
        return (
            f"{label} is a decorated function (a {wrapper} around "
            f"{wrapped.__module__}.{wrapped.__qualname__}), not a plain def",
            f"call the undecorated function (keep it as a plain def under its own name), "
            f"or register an adjoint rule for {label}: see docs/custom-rules.md",
        )
    if isinstance(obj, type) and issubclass(obj, np.generic):
        return (
            f"{label}(...) makes a numpy scalar, which is not supported here",
            "write the number as a Python float (2.0 or float(x)), or make arrays of that "
            "dtype outside and pass them in",
        )
    if isinstance(obj, type):
        return (
            f"creating a {label} object is not supported in a differentiated function",
            "create it outside and pass the arrays it holds in as arguments",
        )
    what = primitive_name(obj)
    named = label if label == what else f"{label} ({what})"
    reason = f"{named} has no adjoint rule"
    return reason, f"register one with @adcompile.adjoint({label}), see docs/custom-rules.md"


# Methods that mean something other than a numpy function: what to write instead
METHOD_HINTS: dict[str, str] = {
    "copy": "leave out .copy(): adcompile never writes into an array, so the array itself will do",
    "astype": "convert the input before calling the gradient (np.asarray(x, dtype=float))",
    "item": "use float(x) for the number a one-element array holds",
    "tolist": "keep the array, and index it (x[i]) for its elements",
    "pop": "index and slice the list instead: last = xs[-1]; xs = xs[:-1]",
    "extend": "concatenate the lists instead: xs = xs + ys",
    "keys": "index the dict by its keys (p['W']), written out",
    "values": "index the dict by its keys (p['W']), written out",
    "items": "index the dict by its keys (p['W']), written out",
    "get": "index the dict by its keys (p['W']); every key must be there",
}


def _method_hint(name: str) -> str:
    """What to write instead of the array method ``.name()``, which is not supported."""
    if name in METHOD_HINTS:
        return METHOD_HINTS[name]
    fn = getattr(np, name, None)
    if callable(fn) and not isinstance(fn, type):
        if rules.lookup(_canonical(fn)) is not None or rules.is_nondiff(fn):
            return f"write the numpy function: np.{name}(x, ...)"
        return (
            f"np.{name} has no adjoint rule either: register one with "
            f"@adcompile.adjoint(np.{name}) (see docs/custom-rules.md), then write "
            f"np.{name}(x, ...)"
        )
    methods = ", ".join(f".{m}()" for m in METHODS)
    return f"the supported array methods are {methods}; see docs/language.md"


def _is_int_name(node: ast.expr, norm: _Normalizer) -> bool:
    """A name holding a value with no derivative (a loop index, a size)."""
    if not isinstance(node, ast.Name) or node.id not in norm.env:
        return False
    atom = norm.env[node.id]
    return isinstance(atom, ast.Name) and atom.id in norm.constants


def _same(a: ast.expr, b: ast.expr) -> bool:
    return ast.dump(a) == ast.dump(b)


def _is_call_of(node: ast.expr, builtin: str, norm: _Normalizer) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return False
    if node.func.id in norm.locals:
        return False
    return norm.resolver.lookup(node.func.id) is getattr(builtins, builtin)


def rules_free_names() -> set[str]:
    names: set[str] = set()
    for rule in rules.RULES.values():
        names |= set(rule.free)
    return names


def _is_const(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _is_name(node: ast.expr, ident: str) -> bool:
    return isinstance(node, ast.Name) and node.id == ident


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return ast.unparse(node)


def _strip(node: ast.expr) -> ast.expr:
    """A fresh copy of a dotted name without source positions."""
    if isinstance(node, ast.Name):
        return ast.Name(id=node.id, ctx=ast.Load())
    if isinstance(node, ast.Attribute):
        return ast.Attribute(value=_strip(node.value), attr=node.attr, ctx=ast.Load())
    raise TypeError(node)


def _copy_atom(atom: ast.expr) -> ast.expr:
    if isinstance(atom, ast.Name):
        return ast.Name(id=atom.id, ctx=ast.Load())
    if isinstance(atom, ast.Constant):
        return ast.Constant(value=atom.value)
    return _strip(atom)


__all__ = ["normalize", "names_in", "builtins"]
