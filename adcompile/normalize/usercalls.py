"""Calls of user functions: a call's arguments bound to the callee's parameters as
Python binds them (``desugar/signature.py``; ``*xs`` of a tuple and ``**d`` of a dict
of known keys written out, ``*args`` packed in a tuple and ``**kwargs`` in a dict),
then differentiated through the callee's own pullback (see ``link.py``); calls of a
variable holding a function (``act(x)``, a ``functools.partial``) and of a compiled
gradient."""

from __future__ import annotations

import ast
import functools
import inspect
import types
from dataclasses import dataclass

from .. import desugar, fence, frontend
from ..frontend import SourceFunction, StaticFunction
from ..ir import CallPrim, If, python_call
from ..names import is_compiled_gradient
from ..rules import containers
from ..rules.containers import LEAF
from .common import _copy_atom, _dotted, _strip
from .kinds import _literal, _NoLiteral


@dataclass
class Rest:
    """``*xs`` of a list (whose length is not known when compiling) at the end of a call."""

    atom: ast.Name
    node: ast.Starred


class UserCalls:
    """A part of ``Normalizer``: lowers calls of user functions and of functions held
    by variables."""

    def call_of_value(self, node: ast.Call, atom: ast.Name, obj: object, hint: str):
        """A call of a variable holding the function ``obj``: the call of ``obj``, through
        a name of this function's own that holds it."""
        if isinstance(obj, functools.partial):
            return self.partial_call(node, atom, obj, hint)
        name = self.names.fresh(getattr(obj, "__name__", "function"))
        self.globals[name] = obj
        self.resolver.found[name] = obj
        call = ast.copy_location(
            ast.Call(
                func=ast.Name(id=name, ctx=ast.Load()), args=node.args, keywords=node.keywords
            ),
            node,
        )
        return self.call(call, hint)

    def chosen_argument(self, node: ast.Call) -> tuple | None:
        """(kind, rebuild) when an argument of ``node`` holds a function chosen by a
        condition (``layer(x, act)`` after ``act = np.tanh if flag else np.sin``):
        ``rebuild(name)`` is the call with that argument replaced by ``name``."""
        for i, a in enumerate(node.args):
            kind = self.choice_kind(a)
            if kind is not None:

                def positional(f: ast.Name, i: int = i) -> ast.Call:
                    args = [*node.args[:i], f, *node.args[i + 1 :]]
                    return ast.Call(func=node.func, args=args, keywords=node.keywords)

                return kind, positional
        for i, k in enumerate(node.keywords):
            kind = self.choice_kind(k.value)
            if kind is not None:

                def keyword(f: ast.Name, i: int = i, k: ast.keyword = k) -> ast.Call:
                    kw = [
                        *node.keywords[:i],
                        ast.keyword(arg=k.arg, value=f),
                        *node.keywords[i + 1 :],
                    ]
                    return ast.Call(func=node.func, args=node.args, keywords=kw)

                return kind, keyword
        return None

    def choice_kind(self, node: ast.expr) -> object | None:
        """The kind of ``node`` when it is a variable holding one of several functions."""
        if isinstance(node, ast.Name) and node.id in self.locals and node.id in self.env:
            kind = self.kind(self.name(node))
            if containers.choice_of(kind) is not None:
                return kind
        return None

    def choice_call(self, node: ast.Call, kind: object, rebuild, hint: str) -> ast.Name:
        """A call with a function chosen by a condition (as callee, or as an argument):
        an ``if`` on that condition whose branches call each function, ``rebuild(name)``
        being the call with ``name`` (a global holding the function) in its place. The
        arguments are evaluated in the branch that runs, once, as Python does."""
        test, *alternatives = containers.choice_of(kind)
        before = self.env
        results, blocks = [], []
        for k in alternatives:
            outer_body, outer_env = self.body, self.env
            self.body, self.env = [], dict(before)
            try:
                if containers.choice_of(k) is not None:
                    atom = self.choice_call(node, k, rebuild, hint)
                else:
                    obj = containers.function_of(k)
                    name = self.names.fresh(getattr(obj, "__name__", None) or "function")
                    self.globals[name] = obj
                    self.resolver.found[name] = obj
                    call = rebuild(ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node))
                    atom = self.atom(ast.copy_location(call, node), hint)
                results.append(atom)
                blocks.append(self.body)
            finally:
                self.body, self.env = outer_body, outer_env
        join = self.names.fresh(hint)
        self.spelling[join] = node
        self.body.append(
            If(
                test=ast.Name(id=test, ctx=ast.Load()),
                body=blocks[0],
                orelse=blocks[1],
                joins=[(join, results[0], results[1])],
                loc=self.src.loc(self.stmt),
            )
        )
        joined = containers.join_kinds([self.kind(r) for r in results])
        if joined is None:
            raise self.error(
                "the functions this call chooses between return values of different structure",
                node,
                hint="choose between functions that return arrays or numbers alike, or call "
                "each in its own branch of an if",
            )
        self.kinds[join] = joined
        return ast.Name(id=join, ctx=ast.Load())

    def partial_call(self, node: ast.Call, func: ast.expr, obj: functools.partial, hint: str):
        """A call of ``functools.partial(f, *args, **keywords)``: the call of ``f`` with
        the partial's arguments first (its values, as module-level constants)."""
        fname = getattr(obj.func, "__name__", "function")
        spelled = [
            (fname, obj.func),
            *((f"{fname}_arg{i}", v) for i, v in enumerate(obj.args)),
            *((f"{fname}_{k}", v) for k, v in obj.keywords.items()),
        ]
        values = []
        for base, v in spelled:
            name = self.names.fresh(base)
            self.globals[name] = v
            self.resolver.found[name] = v
            values.append(ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node))
        n = len(obj.args)
        target, given, named = values[0], values[1 : 1 + n], values[1 + n :]
        given_here = {k.arg for k in node.keywords}  # (a keyword at the call wins)
        keywords = [
            ast.keyword(arg=k, value=v)
            for k, v in zip(obj.keywords, named, strict=True)
            if k not in given_here
        ]
        call = ast.Call(
            func=target, args=[*given, *node.args], keywords=[*keywords, *node.keywords]
        )
        return self.call(ast.copy_location(call, node), hint)

    def user_call(self, node: ast.Call, func: ast.expr, obj: object, hint: str):
        """A call of another user function: differentiated through its own pullback."""
        if is_compiled_gradient(obj):
            # a call of a compiled gradient (a gradient penalty): a call of its generated
            # code, for the structure of the arguments passed (see higher.py)
            return self.gradient_call(node, func, obj, hint)
        if not isinstance(obj, StaticFunction):
            method = self.object_first(node, func, obj)
            if method is not None:  # helper(self, x): the helper bound to the object
                node, func, obj = method
        callee, defaults = self.callee(obj)
        signature = callee.node.args
        positional, keywords = self.call_arguments(node, hint)
        callee, values = self.bind_to(callee, defaults, positional, keywords, node, hint)
        params = [a.arg for a in callee.node.args.args]
        if not (isinstance(func, ast.Name) and func.id in self.globals):
            self.record_globals(func)  # (a helper bound to an object is there already)
        args = [values[p] for p in params]
        self.one_slice(args, node, callee=self.src.text_of(func))
        kinds = tuple(self.kind(a) for a in args)
        result_kind = self.session.result_kind(callee, kinds) if self.session else LEAF
        plain = None if desugar.is_plain(signature) else signature
        prim = CallPrim(callee, kinds, tuple(params), result_kind, plain)
        value = python_call(
            _strip(func), plain, {p: _copy_atom(a) for p, a in zip(params, args, strict=True)}
        )
        return value, prim, dict(zip(params, args, strict=True)), False

    def callee(self, obj: object) -> tuple[SourceFunction, dict]:
        """The source of the user function ``obj`` and the defaults of its parameters."""
        if isinstance(obj, StaticFunction):
            callee = obj.source
            given = callee.node.args
            names = [a.arg for a in [*given.posonlyargs, *given.args]]
            tail = names[len(names) - len(given.defaults) :]
            defaults = dict(zip(tail, given.defaults, strict=True))
            defaults.update(
                (a.arg, d)
                for a, d in zip(given.kwonlyargs, given.kw_defaults, strict=True)
                if d is not None
            )
            return callee, {k: _literal(d) for k, d in defaults.items()}
        defaults = {
            p.name: p.default
            for p in inspect.signature(obj).parameters.values()
            if p.default is not p.empty
        }
        return frontend.from_function(obj), defaults

    def bind_to(
        self,
        callee: SourceFunction,
        defaults: dict,
        positional: list,
        keywords: list,
        node: ast.Call,
        hint: str,
    ) -> tuple[SourceFunction, dict]:
        """The callee desugared and fenced, and the atom of each of its (plain)
        parameters for these arguments, bound as Python binds them: ``*args`` packed in
        a tuple, ``**kwargs`` in a dict, defaults where nothing is passed."""
        signature = callee.node.args
        rest = positional.pop() if positional and isinstance(positional[-1], Rest) else None
        if rest is not None and (
            signature.vararg is None
            or len(positional) != len(signature.posonlyargs) + len(signature.args)
        ):
            text = self.src.text_of(rest.node.value)
            raise self.error(
                f"the number of elements of the list {text} is not known when compiling, so "
                f"the arguments *{text} pass cannot be bound to parameters",
                rest.node,
                hint="pass a tuple (whose length is fixed), or the elements one by one; a list "
                "is passed whole only to the *args of a function with no other parameter "
                "left to fill",
            )
        try:
            bound = desugar.bind(
                signature, callee.name, positional, keywords, defaults.__contains__
            )
        except desugar.BindError as exc:
            raise self.error(str(exc), node) from None
        callee = desugar.desugar(callee)
        fence.check(callee)
        values = bound.values
        if rest is not None:  # def f(*xs), f(*xs_list): xs holds the list's elements
            values[signature.vararg.arg] = rest.atom
        elif signature.vararg is not None:
            elts = values[signature.vararg.arg]
            values[signature.vararg.arg] = self.computed(
                ast.Tuple(elts=[_copy_atom(e) for e in elts], ctx=ast.Load()),
                containers.BUILD_TUPLE,
                {f"e{i}": e for i, e in enumerate(elts)},
                node,
                hint,
            )
        if signature.kwarg is not None:
            pairs = values[signature.kwarg.arg]
            values[signature.kwarg.arg] = self.computed(
                ast.Dict(
                    keys=[ast.Constant(k) for k, _ in pairs],
                    values=[_copy_atom(v) for _, v in pairs],
                ),
                containers.build_dict(tuple(k for k, _ in pairs)),
                {f"e{i}": v for i, (_, v) in enumerate(pairs)},
                node,
                hint,
            )
        for p in bound.missing:
            values[p] = self.default_atom(callee.name, p, defaults[p], node)
        return callee, values

    def object_first(self, node: ast.Call, func: ast.expr, obj: object):
        """A user function called with an instance of a user class first (``helper(self,
        x)`` in a method): ``(call, name, method)``, the call of the function bound to
        that object, whose attributes it reads as captured values (as a method's ``self``),
        under a name of its own; None for any other call."""
        first = node.args[0] if node.args else None
        if not isinstance(obj, types.FunctionType) or not isinstance(first, ast.Name):
            return None
        held = self.static_object(first)
        if not frontend.is_user_object(held):
            return None
        method = types.MethodType(obj, held)
        name = self.names.fresh(f"{_dotted(func).replace('.', '_')}_of_{first.id}")
        self.globals[name] = method
        self.spelling[name] = func
        call = ast.copy_location(
            ast.Call(
                func=ast.Name(id=name, ctx=ast.Load()), args=node.args[1:], keywords=node.keywords
            ),
            node,
        )
        return call, ast.Name(id=name, ctx=ast.Load()), method

    def call_arguments(self, node: ast.Call, hint: str) -> tuple[list, list]:
        """The atoms a call passes, positionally and by keyword, with ``*xs`` of a tuple
        and ``**d`` of a dict whose structure is known written out element by element."""
        positional: list[ast.expr] = []
        for a in node.args:
            if not isinstance(a, ast.Starred):
                positional.append(self.atom(a, hint))
                continue
            if isinstance(a.value, ast.Tuple | ast.List):
                positional += [self.atom(e, hint) for e in a.value.elts]
                continue
            base = self.atom(a.value, hint)
            kind = self.kind(base)
            if isinstance(kind, tuple) and kind[0] == "list" and a is node.args[-1]:
                positional.append(Rest(base, a))  # (binds *args as a whole, or is refused)
                continue
            if not (isinstance(kind, tuple) and kind[0] == "tuple"):
                raise self.error(
                    f"the number of elements of {self.src.text_of(a.value)} is not known when "
                    "compiling, so the arguments *"
                    f"{self.src.text_of(a.value)} pass cannot be bound to parameters",
                    a,
                    hint="pass a tuple (whose length is fixed), or the elements one by one",
                )
            for i in range(len(kind[1])):
                positional.append(self.element(base, i, a, hint))
        keywords: list[tuple[str, ast.expr]] = []
        for k in node.keywords:
            if k.arg is not None:
                keywords.append((k.arg, self.atom(k.value, hint)))
                continue
            if isinstance(k.value, ast.Dict) and all(
                isinstance(key, ast.Constant) and isinstance(key.value, str) for key in k.value.keys
            ):
                keywords += [
                    (key.value, self.atom(v, hint))
                    for key, v in zip(k.value.keys, k.value.values, strict=True)
                ]
                continue
            base = self.atom(k.value, hint)
            kind = self.kind(base)
            if not (isinstance(kind, tuple) and kind[0] == "dict"):
                raise self.error(
                    f"**{self.src.text_of(k.value)} passes keyword arguments only from a dict "
                    "whose keys are known when compiling",
                    k.value,
                    hint="build the dict in the function ({'a': x, ...}) or pass it in as an "
                    "argument, or pass the keywords one by one",
                )
            for key, _ in kind[1]:
                keywords.append((key, self.element(base, key, k.value, hint)))
        return positional, keywords

    def element(self, base: ast.Name, key: object, node: ast.AST, hint: str) -> ast.Name:
        """A temporary holding ``base[key]`` (a container's element, ``key`` a constant)."""
        value = ast.Subscript(value=_copy_atom(base), slice=ast.Constant(key), ctx=ast.Load())
        operands = {"c": _copy_atom(base), "index": ast.Constant(key)}
        return self.computed(value, containers.GET, operands, node, hint)

    def computed(self, value: ast.expr, prim, operands: dict, node: ast.AST, hint: str) -> ast.Name:
        """A temporary holding ``value``, the result of ``prim`` on ``operands`` (atoms)."""
        target = self.names.fresh(hint)
        self.temps.add(target)
        self.spelling[target] = node
        self.add_assign(target, value, prim, operands)
        return ast.Name(id=target, ctx=ast.Load())

    def gradient_call(self, node: ast.Call, func: ast.expr, obj, hint: str):
        params = list(obj.params)
        if len(node.args) > len(params) or any(
            k.arg is None or k.arg not in params for k in node.keywords
        ):
            raise self.error(
                f"the arguments of {self.src.text_of(func)}() are not its function's", node
            )
        bound: dict[str, ast.expr] = dict(zip(params, node.args, strict=False))
        bound.update({k.arg: k.value for k in node.keywords})
        if len(bound) != len(params):
            raise self.error(
                f"pass every argument of {self.src.text_of(func)}() explicitly here",
                node,
                hint="a compiled gradient called in a differentiated function is called "
                "with all its arguments",
            )
        atoms = {p: self.atom(bound[p], hint) for p in params}
        kinds = tuple(self.kind(atoms[p]) for p in params)
        kinds = None if all(k == LEAF for k in kinds) else kinds
        generated = obj.differentiable(kinds)
        call = ast.Call(func=func, args=[atoms[p] for p in params], keywords=[])
        return self.user_call(call, func, generated, hint)

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
