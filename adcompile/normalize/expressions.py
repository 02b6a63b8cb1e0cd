"""Expression lowering: a nested expression becomes a sequence of ``Assign``
statements, one primitive over atoms each, its temporaries named after the
variable they help compute; operators map to numpy functions, ``a and b`` and
``a or b`` to conditionals, free names to the objects they mean. Calls are in
``calls.py``."""

from __future__ import annotations

import ast
import copy
import operator
import types

import numpy as np

from ..frontend import Computed, Unresolved, is_user_object
from ..ir import Assign, If
from ..names import (
    BINOPS,
    CONSTANT_ATTRIBUTES,
    NUMERIC,
    UNARYOPS,
)
from ..rules import containers
from ..rules.containers import LEAF, Fields, is_container, join_kinds
from .common import (
    SAME_STRUCTURE_HINT,
    _copy_atom,
    _dotted,
    _strip,
)
from .effects import DRAW
from .unassigned import Unassigned


class Expressions:
    """A part of ``Normalizer``: lowers an expression to ``Assign`` statements of one
    primitive over atoms each and returns the atom holding its value; free names
    go through the shared ``names.Resolver``."""

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
        self.note_fields(target, prim)
        self.note_built(target, value, prim, operands)

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
        if isinstance(node, ast.Attribute) and self.is_namespace(node.value):
            obj = self.static_object(node)
            if containers.is_function_value(obj) and not isinstance(obj, types.ModuleType):
                # np.sin as a value (passed to a user function): compiled for what it is
                name = self.names.fresh(node.attr)
                self.globals[name] = obj
                self.resolver.found[name] = obj
                return ast.Name(id=name, ctx=ast.Load())
        if isinstance(node, ast.IfExp):
            return self.if_expression(node, hint)[0]
        if isinstance(node, ast.BoolOp):
            return self.bool_operation(node, hint)[0]
        known = self.static_element(node)
        if known is not None:
            return known
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
        if isinstance(obj, (*NUMERIC, Unassigned)):  # (Unassigned: in generated code, hvp)
            self.globals[node.id] = obj
            return ast.Name(id=node.id, ctx=ast.Load())
        if containers.is_function_value(obj) and not isinstance(obj, types.ModuleType):
            # a function as a value (passed to a user function): compiled for what it is
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
        base = self.static_object(node.value)
        if is_user_object(base):
            return self.object_attribute(node, base)
        if not isinstance(base, types.ModuleType):
            return None
        obj = self.static_object(node)
        if obj is not None and not isinstance(obj, NUMERIC):
            return None  # np.newaxis is None: a constant too
        self.record_globals(node)
        return _strip(node)

    def object_attribute(self, node: ast.Attribute, base: object) -> ast.expr:
        """``self.scale`` (an attribute of a user object, a method's ``self``): a captured
        value, which the generated code reads under a name of its own (``self_scale``);
        rebinding the attribute recompiles (see frontend.object_attribute)."""
        value = self.static_object(node)
        text = self.src.text_of(node)
        if isinstance(value, Computed | Unresolved):
            what = value.what if isinstance(value, Computed) else "not there"
            raise self.error(
                f"{text} is {what}: adcompile reads an object's attributes as values when "
                "it compiles, and this one "
                + ("is computed each time it is read" if isinstance(value, Computed) else "")
                + ("cannot be read" if isinstance(value, Unresolved) else ""),
                node,
                hint=f"set it as a plain attribute (in __init__), or pass {text} in as an argument",
            )
        if callable(value) and not isinstance(value, NUMERIC):
            raise self.error(
                f"{text} cannot be used as a value",
                node,
                hint=f"call it where it is needed ({text}(...)); a function is not a value here",
            )
        key = (id(base), node.attr)
        if key not in self.attributes:
            label = "_".join(_dotted(node).split("."))
            self.attributes[key] = self.names.fresh(label)
            self.spelling[self.attributes[key]] = node
        held = self.attributes[key]
        self.globals[held] = value
        return ast.Name(id=held, ctx=ast.Load())

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
                or isinstance(n, ast.Tuple)
                for n in ast.walk(node)
            )
            value, prim, operands = self.constant_expr(node), None, {}
        else:
            value, prim, operands, scalar = self.primitive(node, hint)
        effect = None
        if prim is DRAW:  # a random draw: kept once, where it is, never inlined
            prim, effect = None, "draw"
        target = self.names.claim(hint) if claim else self.names.fresh(hint)
        self.spelling[target] = hint if claim and hint in self.locals else node
        if not claim and effect is None:
            self.temps.add(target)
        if prim is None and effect is None:
            self.constants.add(target)
        ast.copy_location(value, node)
        self.body.append(
            Assign(
                target=target,
                value=value,
                prim=prim,
                operands=operands,
                loc=self.src.loc(node if effect else self.stmt),  # (a draw: at the call)
                scalar=scalar,
                effect=effect,
            )
        )
        if scalar:
            self.scalars.add(target)
        self.kinds[target] = self.result_kind(prim, operands)
        self.note_fields(target, prim)
        self.note_built(target, value, prim, operands)
        return target

    def primitive(self, node: ast.expr, hint: str):
        """Split ``node`` into (forward expression over atoms, primitive, operands, is_scalar)."""
        if isinstance(node, ast.BinOp):
            prim = BINOPS[type(node.op)]
            if isinstance(node.op, ast.Add) and self.tuple_operand(node.left):
                # (a, b) + rest: the elements, in Python's order, without a tuple between
                left = [self.atom(e, hint) for e in node.left.elts]
            else:
                left = self.atom(node.left, hint)
            appended = self.list_extension(node, left, hint)
            if appended is not None:
                return appended
            right = self.atom(node.right, hint)
            if isinstance(node.op, ast.BitOr) and not isinstance(left, list):
                if self.kind(left) != LEAF and self.kind(left)[0] == "dict":
                    return self.dict_union(left, right, node)
            if isinstance(node.op, ast.Add):
                joined = self.tuple_concatenation(node, left, right, hint)
                if joined is not None:
                    return joined
            if isinstance(left, list):
                left = self.computed(
                    ast.Tuple(elts=[_copy_atom(e) for e in left], ctx=ast.Load()),
                    containers.BUILD_TUPLE,
                    {f"e{i}": e for i, e in enumerate(left)},
                    node.left,
                    hint,
                )
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
                self.not_a_dataclass(base, node.value)
                self.not_a_view(base, node)
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
        if isinstance(node, ast.Dict):
            return self.dict_display(node.keys, node.values, node, hint)
        if isinstance(node, ast.IfExp):
            return self.if_expression(node, hint)
        raise self.error(f"{type(node).__name__} expressions are not supported", node)

    def if_expression(self, node: ast.IfExp, hint: str):
        """``a if c else b`` as an if statement whose branches compute the two atoms (only
        the one a condition known when compiling chooses, for one such)."""
        known = self.known_truth(node.test)
        if known is not None:
            atom = self.atom(node.body if known else node.orelse, hint)
            return atom, np.positive, {"x": atom}, self.is_scalar(atom)
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
        self.one_slice(results, node)
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
        kind = self.joined_kind([self.kind(results[0]), self.kind(results[1])], test)
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
        self.one_slice([first, second], node)
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
        inner = self.index_expression(node)
        if inner is not None:  # x[np.s_[i]] is x[i]
            return self.index(inner, hint)
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
        atom = self.atom(node, hint + "_index")
        if isinstance(atom, ast.Name) and atom.id in self.slices:  # s = slice(1, 3); x[s]
            return copy.deepcopy(self.slices[atom.id])
        return atom

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
        if node.attr in ("real", "imag"):  # x.real is np.real(x), x.imag np.imag(x)
            part = np.real if node.attr == "real" else np.imag
            return self.bound(value, part, [base], [], node, self.is_scalar(base))
        if node.attr in CONSTANT_ATTRIBUTES:
            return value, None, {}, node.attr in ("ndim", "size")
        fields = self.fields.get(base.id, ()) if isinstance(base, ast.Name) else ()
        kind = self.kind(base)
        if kind != LEAF and kind[0] == "tuple" and isinstance(kind[1], Fields):
            fields = kind[1].names  # a namedtuple's or a dataclass's field: p.W is p[0]
        if node.attr in fields:  # np.linalg.eigh(a).eigenvalues is np.linalg.eigh(a)[0]
            index = ast.Constant(value=fields.index(node.attr))
            value = ast.Subscript(value=base, slice=index, ctx=ast.Load())
            return value, containers.GET, {"c": _copy_atom(base), "index": index}, False
        supported = ".T, .real, .imag, " + ", ".join(sorted(CONSTANT_ATTRIBUTES))
        if not hasattr(np.ndarray, node.attr):  # not an array's: the base is some object
            owner = node.value.id if isinstance(node.value, ast.Name) else "the value"
            method = owner in ("self", "cls") and self.params[:1] == [owner]
            raise self.error(
                f"{owner}.{node.attr} reads an attribute of "
                + (f"the object {owner} (the method's {owner}), " if method else f"{owner}, ")
                + "not of an array: adcompile differentiates functions of arrays and numbers",
                node,
                hint=f"pass {owner}.{node.attr} to the function as an argument instead "
                f"(def f(x, {node.attr}) ... adcompile.grad(f)(x, {owner}.{node.attr})); "
                f"arrays' attributes can be read: {supported}",
            )
        raise self.error(
            f"the array attribute .{node.attr} is not supported",
            node,
            hint=f"supported array attributes: {supported}",
        )
