"""Call lowering: a call of a primitive (its arguments bound to the rule's
parameters), of an array method (as its numpy function), of another user
function (through its pullback, see ``link.py``), or a refusal naming the
function as the user wrote it, with a hint about it (``hints.py``)."""

from __future__ import annotations

import ast
import copy
import functools
import types

import numpy as np

from .. import frontend, rules
from ..errors import AdCompileError
from ..frontend import StaticFunction
from ..names import (
    CONSTANT_BUILTINS,
    METHODS,
    is_compiled_gradient,
    is_helper,
)
from ..rules import containers, registry
from ..rules.containers import LEAF
from ..rules.registry import primitive_name
from ..rules.runtime_rules import TAKES_CONTAINERS
from .common import (
    FULL_REDUCTIONS,
    SCALAR_PRESERVING,
    _canonical,
    _dotted,
    _is_const,
    _strip,
)
from .hints import (
    _article,
    _container_hint,
    _keyword_hint,
    _kind_of_object,
    _method_hint,
    _no_rule,
    _short_repr,
)
from .integrate import is_odeint
from .views import VIEWS


class Calls:
    """A part of ``Normalizer``: lowers calls of primitives, array methods and user
    functions, or refuses them with a hint (``hints.py``)."""

    def call(self, node: ast.Call, hint: str):
        func = node.func
        if self.is_draw(node):
            return self.draw(node, hint)
        rewritten = self.rewritten_call(node, hint)
        if rewritten is not None:  # a call that means a composition (rewrites.py)
            return rewritten
        if isinstance(func, ast.Attribute) and not self.is_namespace(func.value):
            return self.method_call(node, func, hint)
        chosen = self.chosen_argument(node)
        if chosen is None and self.choice_kind(func) is not None:
            chosen = (
                self.choice_kind(func),
                lambda f: ast.Call(func=f, args=node.args, keywords=node.keywords),
            )
        if chosen is not None:  # a function chosen by a condition: an if of two calls
            atom = self.choice_call(node, chosen[0], chosen[1], hint)
            return atom, np.positive, {"x": atom}, False
        obj = self.static_object(func)
        if obj is None and isinstance(func, ast.Subscript):
            # acts[i](x), layers[1][1](x): a call of the function the element holds, or
            # of the choice between the elements' functions by the index
            held = self.atom(func, hint)
            if containers.choice_of(self.kind(held)) is not None:

                def rebuild(f: ast.Name) -> ast.Call:
                    return ast.Call(func=f, args=node.args, keywords=node.keywords)

                atom = self.choice_call(node, self.kind(held), rebuild, hint)
                return atom, np.positive, {"x": atom}, False
            obj = containers.function_of(self.kind(held))
            if obj is not None:
                return self.call_of_value(node, held, obj, hint)
        if obj is None and isinstance(func, ast.Name) and func.id in self.locals:
            # a parameter or variable holding a function (def mlp(x, act=np.tanh))
            obj = containers.function_of(self.kind(self.name(func)))
            if obj is not None:
                return self.call_of_value(node, self.name(func), obj, hint)
        if obj is None:
            raise self.unresolved_call(func)
        if isinstance(obj, functools.partial):
            return self.partial_call(node, func, obj, hint)
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
        if rules.lookup(_canonical(obj)) is None:
            rules.load_optional()  # (a library module imported since, e.g. lazily)
        if is_helper(obj) or is_compiled_gradient(obj):
            return self.user_call(node, func, obj, hint)
        if obj is print:
            raise self.error("print() is not supported in a differentiated function", node)
        if obj is np.meshgrid and rules.lookup(obj) is None:  # (a user's rule would win)
            return self.meshgrid(node, hint)
        if is_odeint(obj) and rules.lookup(obj) is None:
            return self.odeint_call(node, func, obj, hint)
        prim = _canonical(obj)
        if (
            rules.lookup(prim) is None
            and not rules.is_nondiff(prim)
            and getattr(obj, "__module__", None) != "builtins"
            and not isinstance(obj, type)
            and frontend.is_library_function(obj)
        ):
            # a library function without a rule: say so before looking at its arguments
            # (odeint(func, ...) is refused for odeint, not for passing a function)
            reason, instead = _no_rule(obj, label)
            raise self.error(reason, node, hint=instead)
        self.record_globals(func)
        for k in node.keywords:
            if k.arg is None:
                raise self.error(
                    "**-arguments are supported only in calls of user functions",
                    k.value,
                    hint="pass the keywords one by one",
                )
        if obj is sorted:
            return self.sorted_call(node, hint)
        if obj is slice:
            return self.slice_call(node, hint)
        if (
            obj in (list, tuple)
            and len(node.args) == 1
            and not node.keywords
            and (self.has_static_leaf(node.args[0]) or self.displayed(node.args[0]))
        ):  # list(d.values()), tuple(sorted(d)): the elements, known when compiling
            return self.listed(node, obj, hint)
        if obj is dict and not node.args and all(k.arg is not None for k in node.keywords):
            # dict(W=W, b=b): a dict display
            keys = [ast.Constant(k.arg) for k in node.keywords]
            return self.dict_display(keys, [k.value for k in node.keywords], node, hint)
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
        if obj is len and len(args) == 1:
            self.not_a_dataclass(args[0], node.args[0])  # (a dataclass has no len)
        if obj in CONSTANT_BUILTINS or rules.is_nondiff(_canonical(obj)):
            return value, None, {}, obj in (len, int, bool, round)
        if obj is sum:
            return self.sum_call(node, args, keywords, hint)
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
        args, keywords = self.lists_as_arrays(prim, args, keywords, hint)
        value = ast.Call(
            func=value.func,
            args=args,
            keywords=[ast.keyword(arg=k, value=v) for k, v in keywords],
        )
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
            method = getattr(type(base), func.attr, None)
            if isinstance(method, types.FunctionType) and frontend.is_library_function(method):
                # a method of a library's object (scipy.stats.norm.sf) with no rule
                label = primitive_name(getattr(base, func.attr))
                return self.error(
                    f"{label} has no adjoint rule",
                    func,
                    hint=f"register one with @adcompile.adjoint({text}), see docs/custom-rules.md",
                )
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

    def method_call(self, node: ast.Call, func: ast.Attribute, hint: str):
        if func.attr in (*VIEWS, "get"):
            return self.dict_method(node, func, hint)
        entry = METHODS.get(func.attr)
        if entry is None:
            raise self.error(
                f"the method .{func.attr}() is not supported", node, hint=_method_hint(func.attr)
            )
        prim, pack = entry
        if func.attr == "astype":
            node = self.static_dtype(node)
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

    def static_dtype(self, node: ast.Call) -> ast.Call:
        """``x.astype(float)``, ``x.astype(np.float32)``: the dtype, a type rather than a
        value, becomes its name (``x.astype("float32")`` means the same)."""
        node = copy.copy(node)
        spelled = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "dtype")]
        for e in spelled:
            obj = e.value if isinstance(e, ast.Constant) else self.static_object(e)
            try:
                if obj is None:
                    raise TypeError  # (np.dtype(None) is float64)
                name = np.dtype(obj).name
            except TypeError:
                raise self.error(
                    ".astype() takes a dtype spelled out here",
                    e,
                    hint="write the dtype itself: x.astype(float), x.astype(np.float32) or "
                    "x.astype('float64')",
                ) from None
            new = ast.copy_location(ast.Constant(value=name), e)
            if node.args and e is node.args[0]:
                node.args = [new, *node.args[1:]]
            else:
                node.keywords = [
                    ast.keyword(arg="dtype", value=new) if k.value is e else k
                    for k in node.keywords
                ]
        return node

    def argument(self, node: ast.expr, hint: str) -> ast.expr:
        if isinstance(node, ast.Tuple | ast.List):
            return ast.Tuple(elts=[self.argument(e, hint) for e in node.elts], ctx=ast.Load())
        if isinstance(node, ast.Starred):
            raise self.error(
                "star-arguments (*xs) are supported only in calls of user functions",
                node,
                hint="pass the elements one by one, or the list itself where the function "
                "takes a sequence (np.stack(xs))",
            )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and self.static_object(node.func) is slice
            and not node.keywords
            and all(
                isinstance(a, ast.Constant) and type(a.value) in (int, type(None))
                for a in node.args
            )
        ):  # slice(1, None, None): a constant (generated code's slices of lists)
            self.globals["slice"] = slice
            return node
        inner = self.index_expression(node)
        if inner is not None:
            # an index as a value (np.s_[1:, i]): its parts are atoms, it stays whole
            return ast.Subscript(value=_strip(node.value), slice=self.index(inner, hint))
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
                refused = registry.refusal(prim)
                if refused is not None:
                    raise self.error(f"{label}: {refused[0]}", node, hint=refused[1])
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
            if isinstance(e, ast.Subscript) and self.static_object(e.value) is np.s_:
                if p != "index" or rule.differentiable(p):
                    raise self.error(
                        f"{rule.name} takes no index (np.s_[...]) as its argument {p!r}",
                        node,
                        hint="index the array itself: x[1:, 0]",
                    )
                # bound as the subscript, as getitem's index: its rules write x[index]
                operands[p] = e.slice
        containers_taken = id(prim) in TAKES_CONTAINERS  # (runtime helpers of adjoints)
        for p, e in operands.items():
            if containers_taken:
                break
            if isinstance(e, ast.Tuple) and p == "arrays":
                self.check_flat(e, rule, node)
            if isinstance(e, ast.Tuple) and p != "arrays" and rule.differentiable(p):
                raise self.error(
                    f"{rule.name} takes an array here, not a list or tuple",
                    node,
                    hint="make an array of the pieces first: np.stack([...])",
                )
            kind = self.kind(e) if isinstance(e, ast.Name) else LEAF
            if containers.is_function_kind(kind):
                raise self.error(
                    f"{self.spell(e) or 'this argument'!r} is a function, but {rule.name} takes "
                    "an array or a number here",
                    node,
                    hint="call the function (f(x)) and pass its result",
                )
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

    def check_flat(self, e: ast.Tuple, rule, node: ast.Call) -> None:
        """A list of arrays passed to a function (``np.stack([a, b])``) holds arrays or
        numbers: its adjoint is one cotangent per element, so a nested list or a list
        variable in it would not get its share."""
        for elt in e.elts:
            nested = isinstance(elt, ast.Tuple) or (
                isinstance(elt, ast.Name) and self.kind(elt) != LEAF
            )
            if nested:
                raise self.error(
                    f"{rule.name} of a list that holds lists is not supported",
                    node,
                    hint="make each inner list an array first: "
                    f"{rule.name}([np.stack([a, b]), np.stack([c, d])])",
                )
