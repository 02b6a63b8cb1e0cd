"""The rule registry: one adjoint template per primitive.

An adjoint rule is an ordinary Python function written in the notation of the
chain rule. Its parameters are the output's cotangent, the output, and then the
primitive's own parameters (with the primitive's defaults)::

    @adjoint(np.tanh)
    def tanh(dy, y, x):
        return dy * (1 - y * y)

It returns the cotangent contribution of each leading parameter, in order (a
tuple when there are several; ``None`` where a parameter gets no gradient).
Parameters past the returned ones (``axis``, ``keepdims``...) are
non-differentiable. The compiler never calls the function: it reads its source
and inlines the body into the generated code with the parameters replaced by
the program's own variables, so the generated gradient reads like the rule.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import AdCompileError, Loc


@dataclass
class Rule:
    """A parsed adjoint template for one primitive."""

    primitive: object
    name: str
    cotangent: str  # name of the template's output-cotangent parameter
    output: str  # name of the template's output parameter
    params: list[str]  # the primitive's parameters, in order
    defaults: dict[str, object]  # defaults of the primitive's parameters
    prelude: list[ast.stmt]  # statements before the return
    contributions: list[ast.expr | None]  # one per leading parameter
    broadcasts: bool  # whether contributions must be summed back to their operand's shape
    free: dict[str, object] = field(default_factory=dict)  # globals the template names
    locals: set[str] = field(default_factory=set)  # names the prelude assigns
    loc: Loc | None = None
    # wanted parameters -> (prelude, contributions, cotangent reads): see selection()
    selections: dict = field(default_factory=dict, repr=False, compare=False)

    def differentiable(self, param: str) -> bool:
        i = self.params.index(param)
        return i < len(self.contributions) and self.contributions[i] is not None


RULES: dict[int, Rule] = {}
# Bumped by every registration, so that code compiled before a rule existed is
# compiled again (see api.GradientFunction).
GENERATION = [0]
# Rules for special cases, tried first when the operands' shapes are known:
# primitive id -> [(predicate on the operands' shapes, rule)].
SPECIALIZED: dict[int, list[tuple[Callable, Rule]]] = {}
_KEEP_ALIVE: dict[int, object] = {}  # ids stay valid because we hold the objects

# Functions whose result carries no derivative (piecewise constant, integer- or
# boolean-valued, or constructors of constants). Their results are inactive.
NONDIFF: dict[int, str] = {}


def lookup(fn: object) -> Rule | None:
    return RULES.get(id(fn))


def lookup_specialized(fn: object, shapes: list) -> Rule | None:
    """The special-case rule of ``fn`` for operands of these shapes, if one applies."""
    for when, rule in SPECIALIZED.get(id(fn), ()):
        if any(s is None for s in shapes[: when.__code__.co_argcount]):
            continue
        try:
            if when(*shapes[: when.__code__.co_argcount]):
                return rule
        except (TypeError, IndexError, ValueError):
            continue
    return None


def is_nondiff(fn: object) -> bool:
    return id(fn) in NONDIFF


def register_nondiff(*fns: object) -> None:
    for fn in fns:
        NONDIFF[id(fn)] = getattr(fn, "__name__", repr(fn))
        _KEEP_ALIVE[id(fn)] = fn


def primitive_name(fn: object) -> str:
    """How a user would spell ``fn``: ``np.tanh``, ``np.linalg.norm``, ``math.exp``."""
    name = getattr(fn, "__name__", None) or repr(fn)
    module = getattr(fn, "__module__", None)
    if module is None and isinstance(fn, __import__("numpy").ufunc):
        module = "numpy"
    if module and module.startswith("numpy"):
        import numpy

        # the public path: np.linalg.norm, np.fft.fft (not numpy.linalg._linalg)
        for sub in ("", "linalg.", "fft.", "random."):
            owner = numpy
            for part in sub.rstrip(".").split(".") if sub else []:
                owner = getattr(owner, part)
            if getattr(owner, name, None) is fn:
                return f"np.{sub}{name}"
        return f"np.{name}"
    if module and module != "builtins":
        return f"{module}.{name}"
    return name


def adjoint(
    primitive: object,
    *,
    broadcasts: bool = False,
    override: bool = False,
    when: Callable | None = None,
) -> Callable[[Callable], Callable]:
    """Register the decorated template as the adjoint rule of ``primitive``.

    ``broadcasts=True`` says the primitive broadcasts its operands numpy-style,
    so each contribution is summed back to its operand's shape. Registering a
    rule for a primitive that has one warns, and replaces it.

    ``when`` registers a rule for a special case instead: a predicate taking the
    shapes of the primitive's operands (tuples) that says when the rule applies.
    Generated code specialised to known shapes uses it in place of the general
    rule (e.g. ``dz @ y.T`` for a product of two matrices).
    """

    def register(template: Callable) -> Callable:
        rule = parse_template(primitive, template, broadcasts)
        GENERATION[0] += 1
        if when is not None:
            SPECIALIZED.setdefault(id(primitive), []).append((when, rule))
            _KEEP_ALIVE[id(primitive)] = primitive
            return template
        if id(primitive) in RULES and not override:
            warnings.warn(
                f"{primitive_name(primitive)} already has an adjoint rule; "
                f"the one from {template.__qualname__} replaces it",
                stacklevel=2,
            )
        RULES[id(primitive)] = rule
        _KEEP_ALIVE[id(primitive)] = primitive
        return template

    return register


def parse_template(primitive: object, template: Callable, broadcasts: bool) -> Rule:
    """Read a template function's source into a :class:`Rule`."""
    try:
        source = textwrap.dedent(inspect.getsource(template))
        filename = inspect.getsourcefile(template) or "<unknown>"
        first = template.__code__.co_firstlineno
    except (OSError, TypeError) as exc:
        raise AdCompileError(
            f"cannot read the source of the adjoint rule {template.__qualname__}",
            hint="define adjoint rules in a file, not in an interactive session",
        ) from exc
    fn = ast.parse(source).body[0]
    loc = Loc(filename, first, 0, source.splitlines()[0])
    if not isinstance(fn, ast.FunctionDef):
        raise AdCompileError("an adjoint rule must be a function", loc)
    args = fn.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        raise AdCompileError(
            "an adjoint rule takes plain parameters: (dy, y, *the primitive's parameters)",
            loc,
        )
    names = [a.arg for a in args.args]
    if len(names) < 3:
        raise AdCompileError(
            "an adjoint rule takes the output cotangent, the output, then the primitive's "
            "parameters",
            loc,
            hint="e.g. def tanh(dy, y, x): return dy * (1 - y * y)",
        )
    sig = inspect.signature(template)
    defaults = {
        n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty
    }
    body = [s for s in fn.body if not _is_docstring(s)]
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        raise AdCompileError("an adjoint rule must end with `return <contributions>`", loc)
    ret = body[-1].value
    elts = ret.elts if isinstance(ret, ast.Tuple) else [ret]
    contributions = [None if isinstance(e, ast.Constant) and e.value is None else e for e in elts]
    params = names[2:]
    if len(contributions) > len(params):
        raise AdCompileError("the rule returns more contributions than it has parameters", loc)
    prelude = body[:-1]
    assigned = {
        n.id
        for s in prelude
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    loads = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    free = {}
    for name in sorted(loads - set(names) - assigned):
        if name in template.__globals__:
            free[name] = template.__globals__[name]
        elif hasattr(builtins, name):
            continue
        else:
            raise AdCompileError(f"the adjoint rule uses an undefined name {name!r}", loc)
    return Rule(
        primitive=primitive,
        name=primitive_name(primitive),
        cotangent=names[0],
        output=names[1],
        params=params,
        defaults={k: v for k, v in defaults.items() if k in params},
        prelude=prelude,
        contributions=contributions,
        broadcasts=broadcasts,
        free=free,
        locals=assigned,
        loc=loc,
    )


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def copy_tree(node):
    """A copy of a syntax tree (``copy.deepcopy`` without its memo bookkeeping). Nodes
    without fields (``Load``, ``Add``...) are shared, as the parser shares them."""
    if type(node) is list:
        return [copy_tree(n) for n in node]
    if not isinstance(node, ast.AST):
        return node
    cls = node.__class__
    new = cls.__new__(cls)
    d = new.__dict__
    for key, value in node.__dict__.items():
        if type(value) is list:
            d[key] = [copy_tree(v) for v in value]
        elif isinstance(value, ast.AST) and value._fields:
            d[key] = copy_tree(value)
        else:
            d[key] = value
    return new


def substituted(node, mapping: dict[str, ast.expr], hooks: dict | None = None):
    """A copy of the template tree ``node`` with its names in ``mapping`` replaced by
    copies of their expressions (one pass: copying and substituting together).

    ``hooks`` (node type -> function) rewrite the copied template nodes bottom-up, as
    :func:`..ir.transform` would, but not inside the substituted expressions: those
    are the program's own, already rewritten when they were made."""
    if type(node) is ast.Name:
        new = mapping.get(node.id)
        if new is None:
            return ast.Name(id=node.id, ctx=node.ctx)
        if type(new) is ast.Name:
            return ast.Name(id=new.id, ctx=node.ctx)
        return copy_tree(new)
    if type(node) is list:
        return [substituted(n, mapping, hooks) for n in node]
    if not isinstance(node, ast.AST):
        return node
    cls = node.__class__
    new = cls.__new__(cls)
    d = new.__dict__
    for key, value in node.__dict__.items():
        if type(value) is list:
            d[key] = [substituted(v, mapping, hooks) for v in value]
        elif isinstance(value, ast.AST) and value._fields:
            d[key] = substituted(value, mapping, hooks)
        else:
            d[key] = value
    if hooks is not None:
        hook = hooks.get(cls)
        if hook is not None:
            return hook(new)
    return new


def selection(rule: Rule, wanted: tuple[str, ...]) -> tuple[list, dict, int]:
    """What inlining ``rule`` for ``wanted`` takes from the template: the prelude
    statements the wanted contributions depend on, the contributions, and how many
    times they read the cotangent. Computed once per rule and ``wanted``."""
    cached = rule.selections.get(wanted)
    if cached is not None:
        return cached
    picked = {p: rule.contributions[rule.params.index(p)] for p in wanted}
    needed: set[str] = set()
    for expr in picked.values():
        needed |= _loads(expr)
    prelude = []
    for stmt in reversed(rule.prelude):
        targets = {
            n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        if targets & needed:
            prelude.append(stmt)
            needed |= _loads(stmt)
    prelude.reverse()
    uses = sum(
        1
        for tree in [*picked.values(), *rule.prelude]
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id == rule.cotangent
    )
    rule.selections[wanted] = result = (prelude, picked, uses)
    return result


def instantiate(
    rule: Rule,
    bindings: dict[str, ast.expr],
    wanted: list[str],
    fresh: Callable[[str], str],
    hooks: dict | None = None,
) -> tuple[list[ast.stmt], dict[str, ast.expr]]:
    """Inline ``rule`` for the parameters in ``wanted``.

    ``bindings`` maps the template's parameter names (including the cotangent and
    output names) to expressions of the generated program. Returns the prelude
    statements the wanted contributions depend on, and each wanted parameter's
    contribution expression, rewritten by ``hooks`` (see :func:`substituted`).
    """
    prelude, picked, _ = selection(rule, tuple(wanted))
    mapping = dict(bindings)
    for name in sorted(rule.locals):
        mapping[name] = ast.Name(id=fresh(name), ctx=ast.Load())
    stmts = [substituted(s, mapping) for s in prelude]
    exprs = {p: substituted(e, mapping, hooks) for p, e in picked.items()}
    return stmts, exprs


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
