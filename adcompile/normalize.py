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
import math
import operator
import types

import numpy as np

from . import rules
from .errors import AdCompileError
from .frontend import SourceFunction, StaticFunction, Unresolved
from .ir import Assign, Function, NameAllocator, Return, Stmt, names_in
from .rules.registry import primitive_name

BINOPS: dict[type, object] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.MatMult: np.matmul,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.BitAnd: np.bitwise_and,
    ast.BitOr: np.bitwise_or,
    ast.BitXor: np.bitwise_xor,
    ast.LShift: np.left_shift,
    ast.RShift: np.right_shift,
}
UNARYOPS: dict[type, object] = {
    ast.USub: np.negative,
    ast.UAdd: np.positive,
    ast.Not: np.logical_not,
    ast.Invert: np.invert,
}

# Spellings of a primitive outside numpy's namespace that share its rule.
ALIASES: dict[int, object] = {
    id(abs): np.abs,
    id(math.exp): np.exp,
    id(math.log): np.log,
    id(math.log1p): np.log1p,
    id(math.expm1): np.expm1,
    id(math.sqrt): np.sqrt,
    id(math.sin): np.sin,
    id(math.cos): np.cos,
    id(math.tan): np.tan,
    id(math.tanh): np.tanh,
    id(math.atan): np.arctan,
    id(math.sinh): np.sinh,
    id(math.cosh): np.cosh,
    id(math.pow): np.power,
    id(np.amax): np.max,
    id(np.amin): np.min,
    id(np.around): np.round,
    id(np.divide): np.true_divide,
    id(operator.add): np.add,
    id(operator.sub): np.subtract,
    id(operator.mul): np.multiply,
    id(operator.truediv): np.true_divide,
    id(operator.neg): np.negative,
    id(operator.matmul): np.matmul,
}
_ALIAS_KEEP = [abs, math, np, operator]

# Builtins that compute something with no derivative.
CONSTANT_BUILTINS = {len, int, bool, round, isinstance}

# Array methods and the numpy function each one means. ``pack`` collects
# varargs (``x.reshape(2, 3)``) into the function's single parameter.
METHODS: dict[str, tuple[object, str | None]] = {
    "sum": (np.sum, None),
    "mean": (np.mean, None),
    "max": (np.max, None),
    "min": (np.min, None),
    "prod": (np.prod, None),
    "var": (np.var, None),
    "std": (np.std, None),
    "dot": (np.dot, None),
    "reshape": (np.reshape, "shape"),
    "transpose": (np.transpose, "axes"),
    "ravel": (np.ravel, None),
    "flatten": (np.ravel, None),
    "squeeze": (np.squeeze, None),
    "swapaxes": (np.swapaxes, None),
    "clip": (np.clip, None),
    "argmax": (np.argmax, None),
    "argmin": (np.argmin, None),
    "argsort": (np.argsort, None),
    "any": (np.any, None),
    "all": (np.all, None),
}
CONSTANT_ATTRIBUTES = {"shape", "ndim", "size", "dtype"}

# Reductions whose result is a scalar when taken over all axes without keepdims,
# and elementwise primitives that keep a scalar a scalar.
FULL_REDUCTIONS = {id(f) for f in (np.sum, np.mean, np.max, np.min, np.prod, np.var, np.std)}
SCALAR_PRESERVING = {
    id(f)
    for f in (
        np.add,
        np.subtract,
        np.multiply,
        np.true_divide,
        np.power,
        np.negative,
        np.positive,
        np.exp,
        np.log,
        np.log1p,
        np.expm1,
        np.sqrt,
        np.square,
        np.sin,
        np.cos,
        np.tan,
        np.tanh,
        np.arctan,
        np.abs,
        np.maximum,
        np.minimum,
        np.logaddexp,
    )
}

NUMERIC = (int, float, complex, np.ndarray, np.generic)


def normalize(src: SourceFunction) -> Function:
    return _Normalizer(src).run()


def _canonical(obj: object) -> object:
    return ALIASES.get(id(obj), obj)


class _Normalizer:
    def __init__(self, src: SourceFunction) -> None:
        self.src = src
        fn = src.node
        self.params = [a.arg for a in fn.args.args]
        assigned = {
            n.id
            for n in ast.walk(fn)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)
        }
        self.locals = set(self.params) | assigned
        reserved = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} | set(self.params)
        self.names = NameAllocator(reserved | set(rules_free_names()) | {src.name, "out"})
        self.env: dict[str, ast.expr] = {}
        self.body: list[Stmt] = []
        self.globals: dict[str, object] = {}
        self.scalars: set[str] = set()
        self.stmt: ast.stmt = fn

    # ---------------------------------------------------------------- driver

    def run(self) -> Function:
        for p in self.params:
            self.env[p] = ast.Name(id=self.names.claim(p), ctx=ast.Load())
        for stmt in self.src.node.body:
            self.stmt = stmt
            self.statement(stmt)
        defaults = {}
        args = self.src.node.args
        for a, d in zip(args.args[len(args.args) - len(args.defaults) :], args.defaults, strict=True):
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
        )

    def error(self, reason: str, node: ast.AST | None = None, hint: str | None = None):
        return AdCompileError(reason, self.src.loc(node or self.stmt), hint=hint)

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                return  # docstring
            if isinstance(stmt.value, ast.Call) and _is_name(stmt.value.func, "print"):
                raise self.error(
                    "print() is not supported in a differentiated function",
                    stmt,
                    hint="print the value outside, or step through the generated code with pdb",
                )
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
            binop = ast.BinOp(left=ast.Name(id=target.id, ctx=ast.Load()), op=stmt.op, right=stmt.value)
            ast.copy_location(binop, stmt)
            self.assign(target, binop)
            return
        if isinstance(stmt, ast.Return):
            name = self.result_name()
            if isinstance(stmt.value, ast.Name | ast.Constant):
                atom = self.atom(stmt.value, name)
            else:
                atom = ast.Name(id=self.emit(stmt.value, name, claim=True), ctx=ast.Load())
            self.body.append(Return(value=atom, loc=self.src.loc(stmt)))
            return
        raise self.error(f"{type(stmt).__name__} statements are not supported", stmt)

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
            raise self.error(
                "unpacking a value that is not a tuple literal is not supported yet",
                value,
                hint="assign the parts one by one",
            )
        raise self.error("unsupported assignment target", target)

    def bind(self, name: str, value: ast.expr) -> None:
        if isinstance(value, ast.Name | ast.Constant):
            self.env[name] = self.atom(value, name)
            return
        ssa = self.emit(value, name, claim=True)
        self.env[name] = ast.Name(id=ssa, ctx=ast.Load())

    # ----------------------------------------------------------- expressions

    def atom(self, node: ast.expr, hint: str) -> ast.expr:
        """An atom holding the value of ``node``; emits temporaries named after ``hint``."""
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | complex | bool | str | type(None)):
                raise self.error(f"the constant {node.value!r} is not supported", node)
            return ast.Constant(value=node.value)
        if isinstance(node, ast.Name):
            return self.name(node)
        const = self.module_constant(node)
        if const is not None:
            return const
        return ast.Name(id=self.emit(node, hint), ctx=ast.Load())

    def name(self, node: ast.Name) -> ast.expr:
        if node.id in self.locals:
            if node.id not in self.env:
                raise self.error(f"{node.id!r} is used before it is assigned", node)
            return _copy_atom(self.env[node.id])
        obj = self.resolve(node.id, node)
        if isinstance(obj, NUMERIC):
            self.globals[node.id] = obj
            return ast.Name(id=node.id, ctx=ast.Load())
        raise self.error(
            f"{node.id!r} is a {type(obj).__name__}, not a number or an array",
            node,
            hint="only numbers and numpy arrays can be used as values",
        )

    def resolve(self, ident: str, node: ast.AST) -> object:
        obj = self.src.lookup(ident)
        if isinstance(obj, Unresolved):
            if "import" in obj.reason or "running" in obj.reason or "computed" in obj.reason:
                raise self.error(
                    f"cannot resolve {ident!r} without running the file: {obj.reason}",
                    node,
                    hint="differentiate the function from Python (adcompile.grad) instead, "
                    "or use numpy names only",
                )
            raise self.error(f"name {ident!r} is not defined", node)
        return obj

    def module_constant(self, node: ast.expr) -> ast.expr | None:
        """``np.pi``-like attributes of modules: kept as they are, as constant atoms."""
        if not isinstance(node, ast.Attribute):
            return None
        obj = self.static_object(node)
        if obj is None or not isinstance(obj, NUMERIC):
            return None
        self.record_globals(node)
        return _strip(node)

    def static_object(self, node: ast.expr) -> object | None:
        """The object a dotted name of module attributes means, or None."""
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return None
            obj = self.resolve(node.id, node)
            return obj
        if isinstance(node, ast.Attribute):
            base = self.static_object(node.value)
            if isinstance(base, types.ModuleType):
                if not hasattr(base, node.attr):
                    raise self.error(f"module {base.__name__} has no attribute {node.attr!r}", node)
                return getattr(base, node.attr)
        return None

    def record_globals(self, node: ast.expr) -> None:
        while isinstance(node, ast.Attribute):
            node = node.value
        if isinstance(node, ast.Name):
            self.globals[node.id] = self.src.lookup(node.id)

    def emit(self, node: ast.expr, hint: str, claim: bool = False) -> str:
        """Emit ``<name> = node`` as one primitive and return the name.

        The operands become atoms first, so temporaries are numbered in the order
        they are computed. With ``claim`` the name is the user's own ``hint``
        (or a fresh version of it, when it was assigned before); otherwise it is a
        temporary named after it.
        """
        value, prim, operands, scalar = self.primitive(node, hint)
        target = self.names.claim(hint) if claim else self.names.fresh(hint)
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
            vals = [self.atom(v, hint) for v in node.values]
            return ast.BoolOp(op=node.op, values=vals), None, {}, False
        if isinstance(node, ast.Call):
            return self.call(node, hint)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, hint)
        if isinstance(node, ast.Subscript):
            base = self.atom(node.value, hint)
            index = self.index(node.slice, hint)
            value = ast.Subscript(value=base, slice=index, ctx=ast.Load())
            return self.bound(value, operator.getitem, [base, index], [], node, False)
        if isinstance(node, ast.Name | ast.Constant):
            atom = self.atom(node, hint)
            return atom, np.positive, {"x": atom}, self.is_scalar(atom)
        if isinstance(node, ast.Tuple | ast.List):
            raise self.error(
                "tuples and lists are only supported as arguments to np.concatenate and np.stack",
                node,
                hint="containers of arrays are not supported yet",
            )
        raise self.error(f"{type(node).__name__} expressions are not supported", node)

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
        if self.static_object(node.value) is not None:
            raise self.error(f"{_dotted(node)} cannot be used as a value", node)
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
        if isinstance(func, ast.Attribute) and self.static_object(func.value) is None:
            return self.method_call(node, func, hint)
        obj = self.static_object(func)
        if obj is None:
            raise self.error("this call cannot be resolved to a function", func)
        label = _dotted(func)
        if isinstance(obj, StaticFunction) or _is_user_function(obj):
            raise self.error(
                f"calling the user function {label}() is not supported yet",
                node,
                hint="inline its body into the differentiated function",
            )
        if obj is print:
            raise self.error("print() is not supported in a differentiated function", node)
        self.record_globals(func)
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
        prim = _canonical(obj)
        if rules.lookup(prim) is None:
            if obj in (max, min, sum, range, zip, enumerate):
                raise self.error(
                    f"the builtin {label}() is not supported yet",
                    node,
                    hint="use the numpy function (np.maximum, np.sum, ...)",
                )
            raise self.error(
                f"{label} ({primitive_name(obj)}) has no adjoint rule",
                node,
                hint=f"register one with @adcompile.adjoint({label}), "
                "see docs/custom-rules.md",
            )
        scalar = id(prim) in SCALAR_PRESERVING and all(self.is_scalar(a) for a in args)
        return self.bound(value, prim, args, keywords, node, scalar)

    def method_call(self, node: ast.Call, func: ast.Attribute, hint: str):
        entry = METHODS.get(func.attr)
        if entry is None:
            raise self.error(
                f"the method .{func.attr}() is not supported",
                node,
                hint="call the numpy function instead, or register a rule for it",
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

    def bound(self, value, prim, args, keywords, node, scalar):
        rule = rules.lookup(prim)
        if rule is None:
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
                    hint=f"supported: {', '.join(rule.params)}",
                )
            if k in operands:
                raise self.error(f"{k} given twice", node)
            operands[k] = v
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


def rules_free_names() -> set[str]:
    names: set[str] = set()
    for rule in rules.RULES.values():
        names |= set(rule.free)
    return names


def _is_const(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _is_name(node: ast.expr, ident: str) -> bool:
    return isinstance(node, ast.Name) and node.id == ident


def _is_user_function(obj: object) -> bool:
    return isinstance(obj, types.FunctionType) and not (
        getattr(obj, "__module__", "") or ""
    ).startswith(("numpy", "math"))


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
