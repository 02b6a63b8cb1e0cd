"""Reverse: the transformation itself.

Given a normalized function and the parameters to differentiate, build the
generated function: the forward (primal) sweep, which keeps every intermediate
the reverse sweep reads as a local variable, then the adjoint sweep, which
walks the statements backwards and inlines each primitive's adjoint rule.

Adjoints are built correctly in one pass:

* only active values (see ``analysis.py``) get adjoints;
* an adjoint's first contribution is an assignment (or, when it is just another
  variable, an alias with no statement at all); later ones add to it, in place
  when the adjoint holds an array this function created;
* a contribution to an operand that numpy may have broadcast is summed back to
  the operand's shape with ``unbroadcast``.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field

from . import rules, runtime
from .analysis import Activity, activity, differentiable_operands
from .emit import Comment
from .errors import AdCompileError
from .ir import Assign, Function, Return, names_in
from .optimize import is_fresh, prune_forward, simplify

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


def name(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Load())


def store(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Store())


class _Reverse:
    def __init__(self, fn: Function, wrt: list[str], mode: str) -> None:
        self.fn = fn
        self.wrt = wrt
        self.mode = mode
        self.names = fn.names
        self.act: Activity = activity(fn, wrt)
        self.namespace: dict[str, object] = dict(fn.globals)
        self.locals = set(fn.params) | {s.target for s in fn.body if isinstance(s, Assign)}
        self.renames: dict[str, str] = {}  # template free name -> its name here
        self.adj: dict[str, ast.expr] = {}
        self.adj_names: dict[str, str] = {}
        self.owned: set[str] = set()
        self.out: list[ast.stmt | Comment] = []
        self.last_loc = None

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

    # ------------------------------------------------------------- adjoints

    def adjoint_name(self, x: str) -> str:
        if x not in self.adj_names:
            self.adj_names[x] = self.names.fresh("d" + x)
        return self.adj_names[x]

    def accumulate(self, x: str, contribution: ast.expr) -> None:
        c = simplify(contribution)
        if x not in self.adj:
            if isinstance(c, ast.Name | ast.Constant):
                self.adj[x] = c
                return
            dx = self.adjoint_name(x)
            self.out.append(ast.Assign(targets=[store(dx)], value=c))
            self.adj[x] = name(dx)
            if is_fresh(c):
                self.owned.add(x)
            return
        dx = self.adjoint_name(x)
        if x in self.owned:
            self.out.append(ast.AugAssign(target=store(dx), op=ast.Add(), value=c))
            return
        current = self.adj[x]
        self.out.append(
            ast.Assign(targets=[store(dx)], value=ast.BinOp(left=current, op=ast.Add(), right=c))
        )
        self.adj[x] = name(dx)
        self.owned.add(x)

    def trim_defaults(self, expr: ast.expr) -> ast.expr:
        """Drop trailing arguments of helper calls that equal the helper's defaults."""
        for node in ast.walk(expr):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            helper = self.namespace.get(node.func.id)
            if helper is None or helper not in runtime.HELPERS.values():
                continue
            params = list(inspect.signature(helper).parameters.values())
            while node.args and len(node.args) <= len(params):
                param = params[len(node.args) - 1]
                last = node.args[-1]
                if param.default is inspect.Parameter.empty or not (
                    isinstance(last, ast.Constant) and last.value is param.default
                ):
                    break
                node.args.pop()
        return expr

    def comment(self, loc, out: list | None = None) -> None:
        if loc != self.last_loc:
            (self.out if out is None else out).append(
                Comment(f"line {loc.lineno}: {loc.text.strip()}")
            )
            self.last_loc = loc

    # ------------------------------------------------------------ the sweep

    def run(self) -> Generated:
        fn = self.fn
        body = [s for s in fn.body if isinstance(s, Assign)]
        ret = next(s for s in fn.body if isinstance(s, Return))
        result = ret.value
        cotangent = None
        if self.mode == "vjp":
            cotangent = self.names.fresh("d" + _label(result, fn))
            seed: ast.expr = name(cotangent)
        else:
            scalar = isinstance(result, ast.Constant) or any(
                s.target == getattr(result, "id", None) and s.scalar for s in body
            )
            if scalar:
                seed = ast.Constant(value=1.0)
            else:
                seed_name = self.names.fresh("d" + _label(result, fn))
                self.out.append(
                    ast.Assign(
                        targets=[store(seed_name)],
                        value=ast.Call(func=self.helper("unit_cotangent"), args=[result], keywords=[]),
                    )
                )
                seed = name(seed_name)
        if isinstance(result, ast.Name) and self.act.active(result.id):
            self.adj[result.id] = seed
        for stmt in reversed(body):
            if self.act.active(stmt.target) and stmt.target in self.adj:
                self.statement(stmt)
        grads = []
        for p in self.wrt:
            g = self.adj.get(p)
            if g is None:
                np_name = self.free_name("np", __import__("numpy"))
                g = ast.Call(
                    func=ast.Attribute(value=name(np_name), attr="zeros_like", ctx=ast.Load()),
                    args=[name(p)],
                    keywords=[],
                )
            grads.append(g)
        reverse_code = self.out
        needed = set()
        for s in reverse_code:
            if isinstance(s, ast.AST):
                needed |= names_in(s)
        needed |= {g.id for g in grads if isinstance(g, ast.Name)}
        if self.mode == "value_and_grad" and isinstance(result, ast.Name):
            needed.add(result.id)
        forward = prune_forward(body, needed)
        code: list[ast.stmt | Comment] = [Comment("forward sweep")]
        self.last_loc = None
        for stmt in forward:
            self.comment(stmt.loc, code)
            code.append(ast.Assign(targets=[store(stmt.target)], value=stmt.value))
        code.append(Comment("reverse sweep"))
        code.extend(reverse_code)
        grad_value: ast.expr = grads[0] if len(grads) == 1 else ast.Tuple(elts=grads, ctx=ast.Load())
        if self.mode == "value_and_grad":
            ret_value: ast.expr = ast.Tuple(elts=[result, grad_value], ctx=ast.Load())
        else:
            ret_value = grad_value
        code.append(ast.Return(value=ret_value))
        params = list(fn.params) + ([cotangent] if cotangent else [])
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
            name=f"{self.mode}_{fn.name}",
            args=args,
            body=code,
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        if hasattr(ast.FunctionDef, "type_params"):
            node.type_params = []
        return Generated(
            node=node,
            namespace=self.namespace,
            wrt=self.wrt,
            mode=self.mode,
            result_loc=ret.loc,
            cotangent=cotangent,
        )

    def statement(self, stmt: Assign) -> None:
        rule = rules.lookup(stmt.prim)
        if rule is None:  # only differentiable primitives can be active
            raise AdCompileError("internal: active value without a rule", stmt.loc)
        wanted = [
            p for p, e in differentiable_operands(stmt).items() if self.act.active_expr(e)
        ]
        if not wanted:
            return
        bindings: dict[str, ast.expr] = {
            rule.cotangent: self.adj[stmt.target],
            rule.output: name(stmt.target),
        }
        for p in rule.params:
            bindings[p] = stmt.operands[p]
        for ident, obj in rule.free.items():
            new = self.free_name(ident, obj)
            if new != ident:
                bindings[ident] = name(new)
        self.comment(stmt.loc)
        prelude, contributions = rules.instantiate(rule, bindings, wanted, self.names.fresh)
        contributions = {p: self.trim_defaults(c) for p, c in contributions.items()}
        self.out.extend(prelude)
        for p in wanted:
            operand = stmt.operands[p]
            c = contributions[p]
            if isinstance(operand, ast.Tuple):
                self.unpack(operand, c)
            elif isinstance(operand, ast.Name):
                if rule.broadcasts and self.may_broadcast(stmt, p):
                    c = ast.Call(func=self.helper("unbroadcast"), args=[c, operand], keywords=[])
                self.accumulate(operand.id, c)

    def may_broadcast(self, stmt: Assign, param: str) -> bool:
        """Whether numpy may have broadcast operand ``param`` of ``stmt`` to a larger shape:
        not when the result is a scalar, nor when every other operand is one."""
        if stmt.scalar:
            return False
        return any(
            not self.fn.is_scalar(e) for p, e in stmt.operands.items() if p != param
        )

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
        self.out.append(
            ast.Assign(targets=[ast.Tuple(elts=targets, ctx=ast.Store())], value=contribution)
        )
        for x, temp in pending:
            self.accumulate(x, name(temp))


def _label(result: ast.expr, fn: Function) -> str:
    return result.id if isinstance(result, ast.Name) else fn.name


def reverse(fn: Function, wrt: list[str], mode: str) -> Generated:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    return _Reverse(fn, wrt, mode).run()
