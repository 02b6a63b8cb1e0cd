"""``scipy.integrate.odeint`` of a user function: one statement whose primitive is an
``OdeintPrim`` (``ir.py``), differentiated by the adjoint method (``reverse/rules.py``
and the runtime's ``odeint_adjoint``) through the function's own pullback pair."""

from __future__ import annotations

import ast
import inspect

from ..ir import OdeintPrim
from ..names import is_helper
from ..rules import containers
from ..rules.containers import LEAF
from .common import _copy_atom, _strip

# options that only steer the solver: passed on to the solve backwards in time
SOLVER_OPTIONS = (
    "rtol",
    "atol",
    "h0",
    "hmax",
    "hmin",
    "ixpr",
    "mxstep",
    "mxhnil",
    "mxordn",
    "mxords",
    "printmessg",
)
# options the gradient does not follow, with what to do instead
REFUSED_OPTIONS = {
    "Dfun": "leave Dfun out: the gradient's solve backwards in time uses no Jacobian, and "
    "the solution is the same to the solver's tolerance",
    "col_deriv": "leave Dfun and col_deriv out: the gradient's solve uses no Jacobian",
    "ml": "leave ml and mu out: the gradient's solve uses no banded Jacobian",
    "mu": "leave ml and mu out: the gradient's solve uses no banded Jacobian",
    "full_output": "call odeint without full_output where it is differentiated",
    "tcrit": "integrate up to each critical time in its own odeint call instead",
}
_DEFAULTS = {"Dfun": None, "col_deriv": 0, "ml": None, "mu": None, "full_output": 0}


def is_odeint(obj: object) -> bool:
    """Whether ``obj`` is ``scipy.integrate.odeint`` (without importing scipy)."""
    module = getattr(obj, "__module__", None) or ""
    return getattr(obj, "__name__", None) == "odeint" and module.startswith("scipy.integrate")


class Integrate:
    """A part of ``Normalizer``: ``scipy.integrate.odeint`` of a user function."""

    def odeint_call(self, node: ast.Call, func: ast.expr, obj: object, hint: str):
        """``odeint(f, y0, t, args=(a, b), rtol=..., ...)`` as one statement; the user
        function ``f`` gets its own pullback pair when the gradient needs one."""
        label = self.src.text_of(func)
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise self.error(
                f"{label} takes its arguments written out here (no *xs or **d)",
                node,
                hint=f"{label}(f, y0, t, args=(a, b), rtol=1e-8, atol=1e-8)",
            )
        try:
            bound = inspect.signature(obj).bind(
                *node.args, **{k.arg: k.value for k in node.keywords}
            )
        except TypeError as exc:
            raise self.error(f"{label}(): {exc}", node) from None
        given = bound.arguments
        for option, instead in REFUSED_OPTIONS.items():
            value = given.get(option)
            if value is not None and not (
                isinstance(value, ast.Constant) and value.value == _DEFAULTS.get(option)
            ):
                raise self.error(
                    f"{label}'s {option}= is not supported where it is differentiated",
                    value,
                    hint=instead,
                )
        tfirst = given.get("tfirst", ast.Constant(value=False))
        if not (isinstance(tfirst, ast.Constant) and isinstance(tfirst.value, bool | int)):
            raise self.error(f"{label}'s tfirst= must be a constant here", tfirst)
        rhs, rhs_name = self.ode_function(given["func"], label)
        y0 = self.ode_array(given["y0"], hint)
        t = self.ode_array(given["t"], hint)
        for atom, what in ((y0, "y0"), (t, "t")):
            if self.kind(atom) != LEAF:
                raise self.error(
                    f"{label}'s {what} must be an array or a number here",
                    given[what],
                    hint=f"pass np.array(...) of the values as {what}",
                )
        args = self.ode_args(given.get("args"), label, hint)
        options = {k: self.atom(v, hint) for k, v in given.items() if k in SOLVER_OPTIONS}
        callee, defaults = self.callee(rhs)
        first = [t, y0] if tfirst.value else [y0, t]
        callee, values = self.bind_to(callee, defaults, [*first, *args], [], node, hint)
        params = [a.arg for a in callee.node.args.args]
        extras = [values[p] for p in params[2:]]
        kinds = (LEAF, LEAF, *(self.kind(a) for a in extras))
        self.record_globals(func)
        keywords = [
            ast.keyword(
                arg="args",
                value=ast.Tuple(elts=[_copy_atom(a) for a in args], ctx=ast.Load()),
            )
        ]
        if tfirst.value:
            keywords.append(ast.keyword(arg="tfirst", value=ast.Constant(value=True)))
        keywords += [ast.keyword(arg=k, value=_copy_atom(v)) for k, v in options.items()]
        value = ast.Call(
            func=_strip(func),
            args=[ast.Name(id=rhs_name, ctx=ast.Load()), _copy_atom(y0), _copy_atom(t)],
            keywords=keywords if args else keywords[1:],
        )
        prim = OdeintPrim(
            source=callee,
            kinds=kinds,
            params=tuple(params),
            extras=len(extras),
            tfirst=bool(tfirst.value),
            options=tuple(options),
        )
        operands = {"y0": y0, "t": t, **{f"arg{i}": a for i, a in enumerate(extras)}}
        return value, prim, {**operands, **options}, False

    def ode_function(self, node: ast.expr, label: str) -> tuple[object, str]:
        """The user function an ODE's right-hand side ``node`` means, and a name of the
        generated code that holds it."""
        obj = self.static_object(node)
        if obj is None and isinstance(node, ast.Name) and node.id in self.locals:
            obj = containers.function_of(self.kind(self.name(node)))
        if not is_helper(obj):
            raise self.error(
                f"the right-hand side {self.src.text_of(node)} passed to {label} must be a "
                "function defined with def in your own code",
                node,
                hint="write it as def f(y, t, *params): return dy/dt (adcompile "
                "differentiates it to solve the adjoint equations backwards in time)",
            )
        if isinstance(node, ast.Name) and node.id not in self.locals:
            self.record_globals(node)
            return obj, node.id
        held = self.names.fresh(getattr(obj, "__name__", None) or "rhs")
        self.globals[held] = obj
        self.resolver.found[held] = obj
        return obj, held

    def ode_array(self, node: ast.expr, hint: str) -> ast.expr:
        """The atom of ``y0`` or ``t``: a list or tuple written in the call is the array
        numpy makes of it (``np.array(...)``, differentiated like any)."""
        if isinstance(node, ast.List | ast.Tuple):
            node = ast.copy_location(
                ast.Call(func=self.numpy_attr("array"), args=[node], keywords=[]), node
            )
        return self.atom(node, hint)

    def ode_args(self, node: ast.expr | None, label: str, hint: str) -> list[ast.expr]:
        """The atoms of the elements of odeint's ``args`` tuple."""
        if node is None:
            return []
        if isinstance(node, ast.Tuple):
            return [self.atom(e, hint) for e in node.elts]
        base = self.atom(node, hint)
        kind = self.kind(base)
        if isinstance(base, ast.Name) and kind != LEAF and kind[0] == "tuple":
            return [self.element(base, i, node, hint) for i in range(len(kind[1]))]
        raise self.error(
            f"{label}'s args= must be a tuple (its elements are passed to the right-hand "
            "side after y and t)",
            node,
            hint="args=(a, b), or args=(a,) for one parameter",
        )
