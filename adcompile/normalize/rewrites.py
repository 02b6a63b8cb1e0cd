"""Calls that mean a composition of primitives, written as that composition.

* the methods of numpy's ufuncs: ``np.add.reduce(x, axis)`` is ``np.sum``,
  ``np.multiply.accumulate`` is ``np.cumprod``, ``np.maximum.reduce`` is ``np.max``,
  ``np.logaddexp.reduce`` is the max-shifted log-sum-exp, ``np.maximum.accumulate`` is
  ``running_max`` (a runtime helper with its own rules) and ``f.outer(a, b)`` is ``f``
  of ``a`` reshaped (``outer_shape``) to broadcast against ``b``; (``np.add.at`` is a
  statement, written as ``a += ...`` by ``desugar/ufuncs.py``);
* one-argument ``np.where(c)`` is ``np.nonzero(c)``; ``x.item()`` is
  ``float(np.reshape(x, ()))``; ``np.float64(x)`` is ``np.asarray(x).astype("float64")``
  (an array, 0-d for a number);
* the builtins ``pow(a, b)`` (``a ** b``), and ``max``/``min`` of several numbers or of
  a list or tuple display (a chain of two-operand calls, whose rule follows Python's
  choice, ties to the first).

Each is a new call (or operation) lowered as if the user had written it: its
operands are held in names first, so each is evaluated once, in order.
"""

from __future__ import annotations

import ast
import builtins
import inspect

import numpy as np

from ..names import NUMERIC
from ..runtime import outer_shape, running_max, running_min

_REDUCE = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min}
_ACCUMULATE = {
    np.add: np.cumsum,
    np.multiply: np.cumprod,
    np.maximum: running_max,
    np.minimum: running_min,
}
_LOG_ADD = {np.logaddexp: ("exp", "log"), np.logaddexp2: ("exp2", "log2")}
# each method's parameters after the array(s), with the ones taken here
_PARAMS = {
    "reduce": ("array", "axis", "dtype", "out", "keepdims", "initial", "where"),
    "accumulate": ("array", "axis", "dtype", "out"),
    "outer": ("A", "B"),
}
_TAKEN = {"array", "axis", "keepdims", "A", "B", "where", "initial"}
_MASKED = {np.sum: "sum", np.mean: "mean", np.max: "extreme", np.min: "extreme"}
_MASKED |= {np.amax: "extreme", np.amin: "extreme"}
_VALUES = (*NUMERIC, type(None))  # (what find says of a value, or of a local)
_MASKABLE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


class Rewrites:
    """A part of ``Normalizer``: calls lowered as the composition they mean."""

    def rewritten_call(self, node: ast.Call, hint: str):
        """The lowering of ``node`` when it is one of the calls above, else None."""
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _PARAMS:
            ufunc = self.resolver.find(func.value)
            if isinstance(ufunc, np.ufunc):
                return self.primitive(self.ufunc_method(node, ufunc, func.attr, hint), hint)
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "item"
            and not node.args
            and not node.keywords
            and isinstance(self.resolver.find(func.value), _VALUES)
        ):  # x.item(): the number a one-element array holds, as a Python float
            scalar = self.np_call("reshape", func.value, ast.Tuple(elts=[], ctx=ast.Load()))
            call = ast.Call(func=self.global_name("float", float), args=[scalar], keywords=[])
            return self.primitive(self.placed(call, node), hint)
        obj = self.resolver.find(func)  # (None for what it cannot tell: refused later)
        if not callable(obj):  # (an array called: refused later, as it is)
            obj = None
        masked = self.masked_reduction(node, obj, hint)
        if masked is not None:
            return masked
        if obj is np.float64 and len(node.args) == 1 and not node.keywords:
            # np.float64(x): x in float64, an array (0-d for a number)
            cast = ast.Attribute(value=self.np_call("asarray", node.args[0]), attr="astype")
            call = ast.Call(func=cast, args=[ast.Constant("float64")], keywords=[])
            return self.primitive(self.placed(call, node), hint)
        if obj is np.where and len(node.args) == 1 and not node.keywords:
            call = ast.Call(func=self.module_function("nonzero"), args=node.args, keywords=[])
            return self.primitive(ast.copy_location(call, node), hint)
        if obj is builtins.pow:
            if len(node.args) != 2 or node.keywords:
                raise self.error(
                    "pow() takes two arguments here",
                    node,
                    hint="write a ** b (pow(a, b, mod) is modular arithmetic on integers, "
                    "which has no derivative)",
                )
            power = ast.BinOp(left=node.args[0], op=ast.Pow(), right=node.args[1])
            return self.primitive(ast.copy_location(power, node), hint)
        if obj in (max, min) and not node.keywords:
            spelled = node.args
            if len(spelled) == 1 and isinstance(spelled[0], ast.List | ast.Tuple):
                spelled = spelled[0].elts
            elif len(spelled) <= 2:
                return None  # (two operands: their own rule)
            if spelled and not any(isinstance(a, ast.Starred) for a in spelled):
                held = [self.held_value(a, "choice", hint) for a in spelled]
                chain = held[0]
                for e in held[1:]:  # max(a, b, c) is max(max(a, b), c): the first maximal
                    chain = ast.copy_location(
                        ast.Call(func=node.func, args=[chain, e], keywords=[]), node
                    )
                return self.primitive(chain, hint)
        return None

    def masked_reduction(self, node: ast.Call, obj: object, hint: str):
        """``np.sum``, ``np.mean``, ``np.max``, ``np.min`` (or the methods) with ``where=``
        or ``initial=``: the reduction of ``np.where(where, a, neutral)``, with
        ``initial`` added (taken by ``np.maximum``, ``np.minimum``); the mean divides by
        the count of the elements ``where`` selects."""
        if not any(k.arg in ("where", "initial") for k in node.keywords):
            return None
        func, args = node.func, list(node.args)
        if obj is None and isinstance(func, ast.Attribute) and func.attr in _MASKABLE:
            if not isinstance(self.resolver.find(func.value), _VALUES):
                return None
            obj, args = _MASKABLE[func.attr], [func.value, *args]
        if obj not in _MASKED:
            return None
        label = f"np.{obj.__name__}"
        params = [p for p in inspect.signature(obj).parameters if p not in ("out", "dtype")]
        if len(args) > 2 or any(isinstance(a, ast.Starred) for a in args):
            raise self.error(f"{label} with where= takes a and axis by position here", node)
        given = dict(zip(params, args, strict=False))
        for k in node.keywords:
            if k.arg not in params or k.arg in given:
                raise self.error(
                    f"the argument {k.arg}= of {label} is not supported with where=", node
                )
            given[k.arg] = k.value
        a = self.held_value(given["a"], "masked", hint)
        initial = given.get("initial")
        if initial is not None:
            initial = self.held_value(initial, "initial", hint)
        kind = _MASKED[obj]
        if "where" in given:
            if kind == "extreme" and initial is None:
                raise self.error(
                    f"{label} with where= needs initial= (numpy asks for it: the value of "
                    "an empty selection)",
                    node,
                    hint=f"{label}(x, where=mask, initial=-np.inf)",
                )
            fill = initial if kind == "extreme" else ast.Constant(0.0)
            where = self.held_value(given["where"], "mask", hint)
            inner = self.np_call("where", where, a, fill)
        else:
            inner = a
        reducer = "sum" if kind == "mean" else obj.__name__
        reduced = self.np_call(reducer, inner)
        axis = given.get("axis", ast.Constant(None))
        keepdims = given.get("keepdims", ast.Constant(False))
        reduced.keywords = [
            ast.keyword(arg="axis", value=axis),
            ast.keyword(arg="keepdims", value=keepdims),
        ]
        if kind == "mean" and "where" in given:
            mask = self.np_call("broadcast_to", where, self.np_call("shape", a))
            count = self.np_call("sum", mask)
            count.keywords = reduced.keywords
            reduced = ast.BinOp(left=reduced, op=ast.Div(), right=count)
        elif kind == "mean":
            reduced = self.np_call("mean", a)
            reduced.keywords = [ast.keyword(arg="axis", value=axis)]
            reduced.keywords.append(ast.keyword(arg="keepdims", value=keepdims))
        if initial is not None and kind == "sum":
            reduced = ast.BinOp(left=reduced, op=ast.Add(), right=initial)
        elif initial is not None:
            bound = "maximum" if obj in (np.max, np.amax) else "minimum"
            reduced = self.np_call(bound, reduced, initial)
        return self.primitive(self.placed(reduced, node), hint)

    def held_value(self, node: ast.expr, base: str, hint: str) -> ast.Name:
        """A fresh local holding the value of ``node`` (evaluated now, once)."""
        name = self.names.fresh(base)
        self.locals.add(name)
        self.env[name] = self.atom(node, hint)
        self.spelling[name] = node
        return ast.Name(id=name, ctx=ast.Load())

    def global_name(self, base: str, obj: object) -> ast.Name:
        """A name that means ``obj`` in the generated code."""
        if self.resolver.find(ast.Name(id=base, ctx=ast.Load())) is not obj:
            base = self.names.fresh(base)
            self.resolver.found[base] = obj
        self.globals[base] = obj
        return ast.Name(id=base, ctx=ast.Load())

    def module_function(self, attr: str) -> ast.Attribute:
        """``np.<attr>``, with a name for numpy that means numpy here."""
        return ast.Attribute(value=self.global_name("np", np), attr=attr, ctx=ast.Load())

    def ufunc_method(self, node: ast.Call, ufunc: np.ufunc, method: str, hint: str) -> ast.expr:
        """``ufunc.method(...)`` as the calls it means (see the module's docstring)."""
        label = f"np.{ufunc.__name__}.{method}"
        given = self.method_arguments(node, method, label)
        if method == "outer":
            if "A" not in given or "B" not in given:
                raise self.error(f"{label} takes two arrays", node)
            if ufunc.nin != 2:
                raise self.error(f"{label} needs a ufunc of two operands", node)
            a = self.held_value(given["A"], "outer_a", hint)
            b = self.held_value(given["B"], "outer_b", hint)
            shape = ast.Call(func=self.global_name("outer_shape", outer_shape), args=[a, b])
            shape.keywords = []
            spread = self.np_call("reshape", a, shape)
            func = self.global_name(ufunc.__name__, ufunc)
            if getattr(np, ufunc.__name__, None) is ufunc:
                func = self.module_function(ufunc.__name__)
            call = ast.Call(func=func, args=[spread, b])
            call.keywords = []
            return self.placed(call, node)
        if "array" not in given:
            raise self.error(f"{label} takes an array", node)
        axis = given.get("axis", ast.Constant(0))
        if method == "accumulate" and isinstance(axis, ast.Constant) and axis.value is None:
            raise self.error(
                f"{label} takes one axis here (numpy refuses axis=None but for a vector)",
                node,
                hint=f"write the axis: {label}(x, axis=0)",
            )
        if method == "accumulate":
            target = _ACCUMULATE.get(ufunc)
            if target is None:
                raise self.ufunc_refusal(node, label, _ACCUMULATE)
            func = self.global_name(target.__name__, target)
            if target in (np.cumsum, np.cumprod):
                func = self.module_function(target.__name__)
            call = ast.Call(func=func, args=[given["array"]], keywords=[])
            call.keywords = [ast.keyword(arg="axis", value=axis)]
            return self.placed(call, node)
        keepdims = given.get("keepdims", ast.Constant(False))
        if ufunc in _LOG_ADD:
            if "where" in given or "initial" in given:
                raise self.error(
                    f"{label} with where= or initial= is not supported",
                    node,
                    hint="select first: the reduction of np.where(mask, x, -np.inf)",
                )
            return self.log_add_reduce(node, ufunc, given["array"], axis, keepdims, hint)
        target = _REDUCE.get(ufunc)
        if target is None:
            raise self.ufunc_refusal(node, label, {**_REDUCE, **_LOG_ADD})
        call = self.np_call(target.__name__, given["array"])
        call.keywords = [
            ast.keyword(arg="axis", value=axis),
            ast.keyword(arg="keepdims", value=keepdims),
            *(ast.keyword(arg=k, value=given[k]) for k in ("initial", "where") if k in given),
        ]
        return self.placed(call, node)

    def log_add_reduce(self, node, ufunc, array, axis, keepdims, hint) -> ast.expr:
        """``np.logaddexp.reduce(a, axis)`` as ``log(sum(exp(a - m))) + m`` with ``m`` the
        max along the axis (0 where it is not finite, so that all ``-inf`` gives
        ``-inf``): stable, and its gradient is the softmax (``m``'s own cancels)."""
        exp, log = _LOG_ADD[ufunc]
        a = self.held_value(array, "terms", hint)

        def shift(keep: ast.expr) -> ast.expr:
            top = self.np_call("max", a)
            top.keywords = [
                ast.keyword(arg="axis", value=axis),
                ast.keyword(arg="keepdims", value=keep),
            ]
            held = self.held_value(self.placed(top, node), "top", hint)
            finite = self.np_call("isfinite", held)
            return self.np_call("where", finite, held, ast.Constant(0.0))

        inner = shift(ast.Constant(True))
        total = self.np_call(exp, ast.BinOp(left=a, op=ast.Sub(), right=inner))
        total = self.np_call("sum", total)
        total.keywords = [
            ast.keyword(arg="axis", value=axis),
            ast.keyword(arg="keepdims", value=keepdims),
        ]
        result = ast.BinOp(left=self.np_call(log, total), op=ast.Add(), right=shift(keepdims))
        return self.placed(result, node)

    def np_call(self, attr: str, *args: ast.expr) -> ast.Call:
        return ast.Call(func=self.module_function(attr), args=list(args), keywords=[])

    def placed(self, new: ast.expr, node: ast.expr) -> ast.expr:
        for n in ast.walk(new):
            if "lineno" in n._attributes and getattr(n, "lineno", None) is None:
                ast.copy_location(n, node)
        return new

    def method_arguments(self, node: ast.Call, method: str, label: str) -> dict:
        """The arguments of a ufunc method's call, by parameter name; a refusal of one
        that changes what the method computes in a way not written out here."""
        params = _PARAMS[method]
        given: dict[str, ast.expr] = {}
        if len(node.args) > len(params) or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.error(f"{label} takes its arguments one by one here", node)
        given.update(zip(params, node.args, strict=False))
        for k in node.keywords:
            if k.arg not in params or k.arg in given:
                raise self.error(f"{label} has no argument {k.arg}= here", node)
            given[k.arg] = k.value
        for k, v in given.items():
            if k in _TAKEN:
                continue
            if k == "dtype" and isinstance(v, ast.Constant) and v.value is None:
                continue
            raise self.error(
                f"the argument {k}= of {label} is not supported",
                node,
                hint="compute the result with numpy functions (np.sum(x, axis, where=m), "
                "x.astype(...), an assignment instead of out=)",
            )
        return given

    def ufunc_refusal(self, node: ast.Call, label: str, known: dict):
        names = ", ".join(f"np.{u.__name__}" for u in known)
        return self.error(
            f"{label} has no rule",
            node,
            hint=f"this method is written out for {names}; for another ufunc write the "
            "computation with a loop or numpy functions",
        )
