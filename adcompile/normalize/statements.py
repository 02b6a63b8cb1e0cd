"""Statement lowering: assignments (tuple targets resolved by renaming), ``x op= y``
as ``x = x op y``, ``xs.append(v)`` as ``xs = xs + [v]``, ``return`` and ``if``
(whose differing values become joins). Loops are in ``loops.py``."""

from __future__ import annotations

import ast
import copy
import operator
import types

from .. import runtime
from ..ir import Assign, If
from ..names import (
    BINOPS,
)
from ..rules import containers
from ..rules.containers import EMPTY, LEAF, join_kinds
from .common import (
    RESULT,
    SAME_STRUCTURE_HINT,
    _copy_atom,
    _is_name,
    _same,
)
from .effects import RAISED
from .kinds import (
    _described,
)


class Statements:
    """A part of ``Normalizer``: lowers statements into ``self.body``, reading and
    updating the environment of ``state.State``; expressions go to ``Expressions``."""

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
            if self.is_effect_call(call):
                self.effect(call, stmt)
                return
            if self.is_writable_check(call):  # generated code, differentiated again
                base, message, *item = call.args
                atoms = [self.atom(a, "item") for a in (base, *item)]
                self.check_writable(atoms[0], message.value, stmt, *atoms[1:])
                return
            if isinstance(call, ast.Call) and self.is_draw(call):  # rng.normal(), np.random.seed(0)
                self.emit(call, "draw")
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
        if isinstance(stmt, ast.Assert):
            self.assert_statement(stmt)
            return
        if isinstance(stmt, ast.Raise):
            self.raise_statement(stmt)
            return
        if isinstance(stmt, ast.With):
            self.with_statement(stmt)
            return
        if isinstance(stmt, ast.Assign):
            self.assign(stmt.targets[0], stmt.value)
            return
        if isinstance(stmt, ast.AugAssign):
            target = stmt.target
            if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                self.element_assign(target, stmt.value, stmt.op)
                return
            if not isinstance(target, ast.Name):
                raise self.error("augmented assignment must target a name", target)
            self.not_a_dict_update(target, stmt)
            binop = ast.BinOp(
                left=ast.Name(id=target.id, ctx=ast.Load()), op=stmt.op, right=stmt.value
            )
            ast.copy_location(binop, stmt)
            before = self.env.get(target.id)
            self.assign(target, binop)
            if (stmt.lineno, stmt.col_offset) in self.checks and before is not None:
                # after the operands, before the update: where Python's fails
                update = self.body.pop()
                self.check_writable(before, "output array is read-only", stmt)
                self.body.append(update)
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
            if _holds_function(self.kind(atom)):
                raise self.error(
                    f"{self.src.name} returns a function, which has no derivative",
                    stmt,
                    hint="return the value to differentiate: call the function (f(x)) and "
                    "return its result",
                )
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

    def if_statement(self, stmt: ast.If) -> None:
        known = self.known_isinstance(stmt.test)
        if known is None:
            known = self.known_truth(stmt.test)
        if known is not None:  # the code is compiled for this structure: one branch runs
            self.block(stmt.body if known else stmt.orelse)
            return
        test = self.condition(stmt.test)
        loc = self.src.loc(stmt)
        before = self.env
        body, env_a = self.sub_block(stmt.body, before)
        orelse, env_b = self.sub_block(stmt.orelse, before)
        # a branch that raises does not get past the if: the other one's values go on
        if RAISED in env_a and RAISED not in env_b:
            env_a = env_b
        elif RAISED in env_b and RAISED not in env_a:
            env_b = env_a
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
            self.one_slice([a, b], stmt, var if var != RESULT else None)
            hint = self.result_name() if var == RESULT else var
            join = self.names.claim(hint)
            joins.append((join, a, b))
            env[var] = ast.Name(id=join, ctx=ast.Load())
            kind = self.joined_kind([self.joining_kind(a), self.joining_kind(b)], test)
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
        self.no_choice_stored([item])
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

    def function_atom(self, value: ast.expr) -> ast.Name | None:
        """The atom of ``value`` when it names a function (``np.tanh``, a user function,
        a variable or parameter holding one), else None."""
        if isinstance(value, ast.Name) and value.id in self.locals:
            if value.id not in self.env:
                return None
            atom = self.name(value)
            return atom if containers.is_function_kind(self.kind(atom)) else None
        if isinstance(value, ast.Name | ast.Attribute) and not self.is_static(value):
            if isinstance(value, ast.Attribute) and not self.is_namespace(value.value):
                return None
            obj = self.static_object(value)
            if containers.is_function_value(obj) and not isinstance(obj, types.ModuleType):
                return self.atom(value, "function")
        return None

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            function = self.function_atom(value)
            if function is not None:  # act = np.tanh: act names that function
                self.env[target.id] = function
                return
            self.bind(target.id, value)
            return
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            self.element_assign(target, value)
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
            self.not_a_dataclass(source, value)
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
            if kind[0] == "list":
                # a list's length is known when the code runs: Python's own check then
                self.check_unpacking(source, len(names), target)
            for i, t in enumerate(names):
                index = ast.Constant(value=i)
                sub = ast.Subscript(value=_copy_atom(source), slice=index, ctx=ast.Load())
                ssa = self.names.claim(t.id)
                self.add_assign(ssa, sub, containers.GET, {"c": _copy_atom(source), "index": index})
                self.env[t.id] = ast.Name(id=ssa, ctx=ast.Load())
            return
        raise self.error("unsupported assignment target", target)

    def check_unpacking(self, source: ast.expr, n: int, node: ast.AST) -> None:
        """Before ``a, b = xs`` of a list: raise Python's ValueError unless it holds ``n``."""
        helper = self.names.fresh("check_unpacking")
        self.globals[helper] = runtime.check_unpacking
        check = ast.Call(
            func=ast.Name(id=helper, ctx=ast.Load()),
            args=[_copy_atom(source), ast.Constant(value=n)],
            keywords=[],
        )
        self.body.append(
            Assign(
                target=self.names.fresh("effect"),
                value=check,
                prim=None,
                operands={},
                loc=self.src.loc(node),
                effect="call",
            )
        )

    def is_writable_check(self, call: ast.expr) -> bool:
        """``check_writable(x, message)`` (or with ``x[i]``), as generated code calls it."""
        return (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and self.resolver.find(call.func) is runtime.check_writable
            and 2 <= len(call.args) <= 3
            and isinstance(call.args[1], ast.Constant)
            and not call.keywords
        )

    def check_writable(
        self, base: ast.expr, message: str, node: ast.AST, item: ast.expr | None = None
    ) -> None:
        """Before an in-place update of an array that may be read-only (inplace/ says
        where): raise Python's ValueError, ``message``, when ``base`` cannot be written
        (for ``x[i] op= v``, ``item`` is ``x[i]``, which Python writes into first)."""
        if self.writable_check is None:
            self.writable_check = self.names.fresh("check_writable")
            self.globals[self.writable_check] = runtime.check_writable
        args = [_copy_atom(base), ast.Constant(value=message)]
        if item is not None:
            args.append(_copy_atom(item))
        func = ast.Name(id=self.writable_check, ctx=ast.Load())
        check = ast.Call(func=func, args=args, keywords=[])
        self.body.append(
            Assign(
                target=self.names.fresh("effect"),
                value=check,
                prim=None,
                operands={},
                loc=self.src.loc(node),
                effect="call",
            )
        )

    def element_assign(
        self, target: ast.Subscript, value: ast.expr, op: ast.operator | None = None
    ) -> None:
        """``x[index] = v`` as ``x_2 = setitem(x, index, v)``: the array after the write
        under a new name. ``x[index] op= v`` is ``x[index] = x[index] op v``, which is
        what numpy computes (with an index array that repeats a position, the last
        write wins, as in numpy). Whether the array is the function's own to write
        into is the ownership pass's question (inplace/)."""
        var = target.value.id
        if var not in self.locals:
            raise self.error(
                f"`{ast.unparse(target)} = ...` would change the global {var!r}",
                target,
                hint=f"pass {var} in as an argument, and make a copy the function owns "
                f"first: {var} = {var}.copy()",
            )
        base = self.name(target.value)
        kind = self.kind(base)
        if kind != LEAF:
            raise self.error(
                f"assigning into an element of {_described(kind, one=True)} is not supported",
                target,
                hint=_element_hint(var, kind[0]),
            )
        if not isinstance(base, ast.Name):
            raise self.error(
                f"{var!r} holds a number here, not an array: it has no elements to assign",
                target,
                hint=f"make {var} an array first, e.g. {var} = np.zeros(n)",
            )
        # (the check, if any: after the operands, before the write, as Python fails)
        checked = (self.stmt.lineno, self.stmt.col_offset) in self.checks
        message = "assignment destination is read-only"
        if op is None:
            item = self.atom(value, var)
            index = self.index(target.slice, var)
            if checked:
                self.check_writable(base, message, target)
        else:
            index = self.index(target.slice, var)
            current = ast.Subscript(value=_copy_atom(base), slice=copy.deepcopy(index))
            ast.copy_location(current, target)
            read = self.emit_atoms(current, var, operator.getitem, [base, index], target)
            item = self.atom(value, var)
            if checked:
                self.check_writable(base, message, target, read)
            update = ast.BinOp(left=read, op=op, right=item)
            ast.copy_location(update, value)
            item = self.emit_atoms(update, var, BINOPS[type(op)], [read, item], self.stmt)
        new = self.names.claim(var)
        self.spelling[new] = var
        written = ast.Subscript(value=_copy_atom(base), slice=copy.deepcopy(index), ctx=ast.Load())
        self.add_assign(
            new,
            ast.Tuple(elts=[written, _copy_atom(item)], ctx=ast.Load()),
            containers.SETITEM,
            {"x": _copy_atom(base), "index": copy.deepcopy(index), "v": _copy_atom(item)},
        )
        self.env[var] = ast.Name(id=new, ctx=ast.Load())

    def emit_atoms(
        self, value: ast.expr, hint: str, prim, args: list[ast.expr], spell: ast.AST
    ) -> ast.Name:
        """A temporary ``t = value`` of the primitive ``prim`` over atoms ``args``, which
        messages spell as the user's ``spell``."""
        value, prim, operands, _ = self.bound(value, prim, args, [], spell, False)
        target = self.names.fresh(hint)
        self.spelling[target] = spell
        self.temps.add(target)
        self.add_assign(target, value, prim, operands)
        return ast.Name(id=target, ctx=ast.Load())

    def bind(self, name: str, value: ast.expr) -> None:
        if isinstance(value, ast.Name | ast.Constant | ast.IfExp | ast.BoolOp):
            self.env[name] = self.atom(value, name)
            return
        known = self.static_element(value)
        if known is not None:  # k = keys[0] of keys known when compiling
            self.env[name] = known
            return
        ssa = self.emit(value, name, claim=True)
        self.env[name] = ast.Name(id=ssa, ctx=ast.Load())

    # ----------------------------------------------------------- expressions


def _holds_function(kind: object) -> bool:
    """Whether a value of ``kind`` is, or holds, a function."""
    if containers.is_function_kind(kind):
        return True
    if isinstance(kind, tuple) and kind and kind[0] in ("list", "tuple", "dict"):
        inner = kind[1]
        if kind[0] == "list":
            return _holds_function(inner)
        if kind[0] == "dict":
            return any(_holds_function(k) for _, k in inner)
        return any(_holds_function(k) for k in inner)
    return False


def _element_hint(var: str, tag: str) -> str:
    """What to write instead of assigning into an element of a container."""
    if tag == "dict":
        return f"make a new dict instead: {var} = {var} | {{key: v}}"
    return (
        f"build a new list instead ({var} = {var}[:i] + [v] + {var}[i + 1:]), "
        "or append the elements in order"
    )
