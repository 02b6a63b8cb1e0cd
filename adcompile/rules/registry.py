"""The registry of primitive records (see record.py) and their adjoint templates.

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
import functools
import inspect
import math
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import AdCompileError, Loc
from .record import (
    BROADCAST,
    DOT,
    MATMUL,
    PASSES,
    PIECEWISE_CONSTANT,
    REDUCTION,
    UNARY,
    UNKNOWN,
    Primitive,
)
from .template import (
    Unread,
    branched,
    check_statements,
    copy_tree,
    ends_in_return,
    is_docstring,
    is_plain,
    names_read,
    returned,
    substituted,
    times_output,
)


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
    # a user's rule that did not say it broadcasts: where numpy may have broadcast an
    # operand, its contribution (which may have the result's shape) is summed back to
    # the operand's shape at run time (``unbroadcast``, nothing when the shapes agree)
    unsure_shapes: bool = False
    free: dict[str, object] = field(default_factory=dict)  # globals the template names
    locals: set[str] = field(default_factory=set)  # names the prelude assigns
    loc: Loc | None = None
    # wanted parameters -> (prelude, contributions, cotangent reads): see selection()
    selections: dict = field(default_factory=dict, repr=False, compare=False)

    @functools.cached_property
    def operators(self) -> frozenset[type]:
        """The types of the binary operators the template uses (``ast.Div``...)."""
        trees = [*self.prelude, *(c for c in self.contributions if c is not None)]
        return frozenset(type(n.op) for t in trees for n in ast.walk(t) if type(n) is ast.BinOp)

    def differentiable(self, param: str) -> bool:
        i = self.params.index(param)
        return i < len(self.contributions) and self.contributions[i] is not None


# The records (see record.py), by the id of each of their spellings.
PRIMITIVES: dict[int, Primitive] = {}

# Indexes of the records, kept up to date by the registration functions below:
RULES: dict[int, Rule] = {}  # id of a spelling with its own rule -> its rule
# Bumped by every registration, so that code compiled before a rule existed is
# compiled again (see api.GradientFunction).
GENERATION = [0]
# Rules for special cases, tried first when the operands' shapes are known:
# primitive id -> [(predicate on the operands' shapes, rule)].
SPECIALIZED: dict[int, list[tuple[Callable, Rule]]] = {}
# Functions whose result carries no derivative (piecewise constant, integer- or
# boolean-valued, or constructors of constants). Their results are inactive.
NONDIFF: dict[int, str] = {}
# Aliases (``abs``, ``operator.add``, ``np.amax``) -> the canonical function they mean.
ALIASES: dict[int, object] = {}
_KEEP_ALIVE: dict[int, object] = {}  # ids stay valid because we hold the objects
# Functions refused by name (no record): id -> (why, what to do instead). A user's
# rule for one (@adcompile.adjoint) lifts the refusal.
REFUSED: dict[int, tuple[str, str]] = {}
# Spellings that are bound methods (``scipy.stats.norm.logpdf``), by the ids of their
# object and function: each ``norm.logpdf`` is a new bound-method object, so the
# frontend finds the one registered with :func:`bound_method`.
METHODS: dict[tuple[int, int], object] = {}

_TABLES = (PRIMITIVES, RULES, SPECIALIZED, NONDIFF, ALIASES, _KEEP_ALIVE, REFUSED, METHODS)


def snapshot() -> tuple:
    """The registry's state, for :func:`restore` (tests that register rules use them)."""
    return tuple({k: list(v) if isinstance(v, list) else v for k, v in t.items()} for t in _TABLES)


def restore(state: tuple) -> None:
    for table, saved in zip(_TABLES, state, strict=True):
        table.clear()
        table.update(saved)
    GENERATION[0] += 1


def primitives() -> list[Primitive]:
    """Every record, once each, in the order they were registered."""
    seen: dict[int, Primitive] = {}
    for record in PRIMITIVES.values():
        seen.setdefault(id(record), record)
    return list(seen.values())


def record_of(fn: object) -> Primitive | None:
    return PRIMITIVES.get(id(fn))


def spellings_where(test: Callable[[Primitive], bool], *, on_floats: bool = True) -> _Spellings:
    """The ids of every spelling of every record that passes ``test`` (without the
    spellings on Python floats if ``on_floats`` is false), as a live set: a record
    registered later is seen too."""
    return _Spellings(test, on_floats)


class _Spellings:
    def __init__(self, test: Callable[[Primitive], bool], on_floats: bool) -> None:
        self.test, self.on_floats = test, on_floats

    def __contains__(self, key: object) -> bool:
        record = PRIMITIVES.get(key)  # type: ignore[arg-type]
        return record is not None and self.test(record) and self.has(record, key)

    def has(self, record: Primitive, key: object) -> bool:
        return self.on_floats or all(id(f) != key for f in record.on_floats)

    def __iter__(self):
        return (k for k, record in PRIMITIVES.items() if self.test(record) and self.has(record, k))

    def objects(self) -> list[object]:
        return [_KEEP_ALIVE[k] for k in self]


def lookup(fn: object) -> Rule | None:
    return RULES.get(id(fn))


def lookup_specialized(fn: object, shapes: list) -> Rule | None:
    """The special-case rule of ``fn`` for operands of these shapes, if one applies.
    A predicate sees only known shapes (tuples of ints)."""
    for when, rule in SPECIALIZED.get(id(fn), ()):
        known = shapes[: when.__code__.co_argcount]
        if len(known) < when.__code__.co_argcount or not all(_is_shape(s) for s in known):
            continue
        try:
            applies = when(*known)
        except Exception as exc:  # the predicate is a user's: say which one failed
            raise AdCompileError(
                f"the when= condition of the special-case rule {rule.name} failed on the "
                f"shapes {', '.join(map(str, known))}: {exc!r}",
                rule.loc,
                hint="a condition takes the operands' shapes (tuples of ints)",
            ) from exc
        if applies:
            return rule
    return None


def _is_shape(s: object) -> bool:
    return type(s) is tuple and all(type(n) is int for n in s)


def bound_method(obj: object, attr: str) -> object | None:
    """The registered spelling that ``obj.attr`` means, when it is a bound method of
    a record (``norm.logpdf``), or None. Looked up without running ``obj``'s code."""
    import inspect
    import types

    try:
        fn = inspect.getattr_static(type(obj), attr)
    except AttributeError:
        return None
    if not isinstance(fn, types.FunctionType):
        return None
    return METHODS.get((id(obj), id(fn)))


def is_nondiff(fn: object) -> bool:
    return id(fn) in NONDIFF


def _owned(fn: object) -> bool:
    """Whether ``fn``'s registration is adcompile's own (made by a module of rules/)."""
    return _in_rules(inspect.getsourcefile(fn) or "")


@functools.lru_cache(maxsize=64)
def _in_rules(filename: str) -> bool:
    return Path(filename).resolve().parent == _RULES_DIR


_RULES_DIR = Path(__file__).resolve().parent


def _enter(record: Primitive) -> None:
    """Put ``record`` in the tables under each of its spellings, replacing what they held."""
    for fn in record.all_spellings():
        old = PRIMITIVES.get(id(fn))
        if old is not None and old is not record:
            _forget(old)
    for fn in record.all_spellings():
        PRIMITIVES[id(fn)] = record
        _KEEP_ALIVE[id(fn)] = fn
        if _is_bound_method(fn):
            METHODS[(id(fn.__self__), id(fn.__func__))] = fn
    for fn in record.aliases:
        ALIASES[id(fn)] = record.canonical
    for key, rule in record.rules.items():
        RULES[key] = rule
    if record.special:
        SPECIALIZED[id(record.canonical)] = list(record.special)
    if not record.differentiable:
        NONDIFF[id(record.canonical)] = getattr(record.canonical, "__name__", record.name)
    GENERATION[0] += 1


def _forget(record: Primitive) -> None:
    for fn in record.all_spellings():
        if PRIMITIVES.get(id(fn)) is record:
            del PRIMITIVES[id(fn)]
        ALIASES.pop(id(fn), None)
        RULES.pop(id(fn), None)
        NONDIFF.pop(id(fn), None)
    SPECIALIZED.pop(id(record.canonical), None)
    for fn in record.all_spellings():
        if _is_bound_method(fn):
            METHODS.pop((id(fn.__self__), id(fn.__func__)), None)


def _is_bound_method(fn: object) -> bool:
    import types

    return isinstance(fn, types.MethodType) and not isinstance(fn.__self__, type)


def nondiff(
    *fns: object | tuple[object, ...],
    derivative: str = PIECEWISE_CONSTANT,
    fresh: bool = True,
) -> None:
    """Record functions whose result carries no derivative, one record each; a tuple
    is one function with its aliases (``(np.round, np.around)``)."""
    for entry in fns:
        spellings = entry if isinstance(entry, tuple) else (entry,)
        canonical = spellings[0]
        _enter(
            Primitive(
                name=getattr(canonical, "__name__", repr(canonical)),
                spellings=spellings,
                derivative=derivative,
                shape=UNKNOWN,
                fresh=fresh,
                builtin=True,
            )
        )


def _ufunc_module(fn: object, name: str) -> str | None:
    """The module a ufunc (which has no ``__module__``) is found in: numpy, or another
    loaded module that holds it under its name (scipy.special.expit)."""
    import sys

    import numpy

    if getattr(numpy, name, None) is fn:
        return "numpy"
    found = []
    for module_name in sorted(sys.modules):
        if module_name.startswith("_") or "._" in module_name:
            continue
        # the module's own dict: no module __getattr__ (lazy imports, warnings) runs
        namespace = getattr(sys.modules[module_name], "__dict__", {})
        if namespace.get(name) is fn:
            # the library that exports it (its __all__) before a module that imported it
            found.append((name not in (namespace.get("__all__") or ()), module_name))
    return min(found)[1] if found else None


def refuse(*fns: object, reason: str, hint: str) -> None:
    """Refuse calls of ``fns`` with ``reason`` (why there is no rule) and ``hint`` (what to
    write instead), rather than the generic "has no adjoint rule"."""
    for fn in fns:
        REFUSED[id(fn)] = (reason, hint)
        _KEEP_ALIVE[id(fn)] = fn


def refusal(fn: object) -> tuple[str, str] | None:
    """(reason, hint) when ``fn`` is refused by name."""
    return REFUSED.get(id(fn))


def primitive_name(fn: object) -> str:
    """How a user would spell ``fn``: ``np.tanh``, ``np.linalg.norm``, ``math.exp``."""
    name = getattr(fn, "__name__", None) or repr(fn)
    if _is_bound_method(fn):  # scipy.stats.norm.logpdf
        owner = _public_path(fn.__self__)
        return f"{owner}.{name}" if owner else name
    module = getattr(fn, "__module__", None)
    if module is None and isinstance(fn, __import__("numpy").ufunc):
        module = _ufunc_module(fn, name)
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
        return f"{_public_module(fn, module, name)}.{name}"
    return name


def _public_path(obj: object) -> str | None:
    """Where a user finds the object ``obj`` (an instance, like scipy.stats.norm): the
    deepest public module of its class's module path that holds it, and its name."""
    import sys

    parts = type(obj).__module__.split(".")
    public = next((i for i, p in enumerate(parts) if p.startswith("_")), len(parts))
    for end in range(public, 0, -1):
        candidate = ".".join(parts[:end])
        namespace = getattr(sys.modules.get(candidate), "__dict__", {})
        for key, value in namespace.items():
            if value is obj and not key.startswith("_"):
                return f"{candidate}.{key}"
    return None


def _public_module(fn: object, module: str, name: str) -> str:
    """The module a user imports ``fn`` from: the deepest public module (no part of its
    path private) of ``module``'s path that holds ``fn`` under ``name``
    (scipy.special for scipy.special._logsumexp.logsumexp), else ``module``."""
    import sys

    parts = module.split(".")
    public = next((i for i, p in enumerate(parts) if p.startswith("_")), len(parts))
    for end in range(public, 0, -1):
        candidate = ".".join(parts[:end])
        namespace = getattr(sys.modules.get(candidate), "__dict__", {})
        if namespace.get(name) is fn:
            return candidate
    return module


def adjoint(
    primitive: object,
    *aliases: object,
    on_floats: object | tuple[object, ...] = (),
    shape: str | Callable | None = None,
    broadcasts: bool = False,
    scalar_preserving: bool | None = None,
    fresh: bool | None = None,
    converts: bool = False,
    override: bool = False,
    when: Callable | None = None,
    results: int | Callable = 1,
    fields: tuple[str, ...] = (),
    constant: tuple[str, ...] = (),
    exponential: bool = False,
) -> Callable[[Callable], Callable]:
    """Register the decorated template as the adjoint rule of ``primitive``.

    ``exponential=True`` says that ``primitive`` is the exponential of the function
    whose rule the template is (a density, of the template's log density): its rule
    is the template with the cotangent multiplied by the output, ``d exp(f) = exp(f)
    df`` (``-dy * z`` reads ``-dy * y * z``).

    ``broadcasts=True`` says the primitive broadcasts its operands numpy-style,
    so each contribution is summed back to its operand's shape. Registering a
    rule for a primitive that has one warns, and replaces it.

    ``when`` registers a rule for a special case instead: a predicate taking the
    shapes of the primitive's operands (tuples) that says when the rule applies.
    Generated code specialised to known shapes uses it in place of the general
    rule (e.g. ``dz @ y.T`` for a product of two matrices).

    The rest describe the primitive (see ``record.Primitive``): ``aliases`` are
    other spellings that share the rule, ``on_floats`` the spellings that work on
    Python floats (``math.tanh``: their rule is the template with ``math`` in
    place of ``np`` and float constants), ``shape`` its shape kind (``BROADCAST``
    is ``broadcasts=True``). A unary elementwise primitive keeps a scalar a scalar
    and returns a new array unless told otherwise; so do broadcasting ones, for
    ``fresh``; ``converts`` says that it converts its first operand to an array
    (see ``record.Primitive``). ``results`` says how many arrays the result holds (see
    ``record.Primitive``): the cotangent of a tuple result is a list with one
    cotangent per element, ``None`` for an element that gets none; ``fields`` names
    the elements of a named-tuple result (``np.linalg.eigh(a).eigenvalues``).
    ``constant`` names operands that have a derivative the rule does not
    give (it returns None for them): differentiating through one is refused, where
    a None alone means the operand has no derivative (an axis, a condition).
    """
    floats = on_floats if isinstance(on_floats, tuple) else (on_floats,)
    if broadcasts and shape is None:
        shape = BROADCAST
    if shape == BROADCAST:
        broadcasts = True

    def register(template: Callable) -> Callable:
        REFUSED.pop(id(primitive), None)
        old = PRIMITIVES.get(id(primitive))
        owned = _owned(template)
        rule = read(owned, parse_template, primitive, template, broadcasts, exponential=exponential)
        rule.unsure_shapes = not owned and not broadcasts
        if when is not None:
            record = old or Primitive(name=template.__name__, spellings=(primitive,))
            record = replace(record, special=[*record.special, (when, rule)])
            _enter(record)
            return template
        if old is not None and old.differentiable and id(primitive) in old.rules and not override:
            warnings.warn(
                f"{primitive_name(primitive)} already has an adjoint rule; "
                f"the one from {template.__qualname__} replaces it",
                stacklevel=2,
            )
        if old is not None and owned:
            raise AdCompileError(
                f"{primitive_name(primitive)} is recorded twice in adcompile/rules "
                f"({old.name} and {template.__name__})"
            )
        if old is not None and old.differentiable and not (aliases or floats):
            # a user's rule for a known primitive (or one of its spellings): only that
            # spelling's rule changes; what else the record knows stays, but its tangent
            # rule (forward mode) no longer goes with the derivative the user gave:
            # forward mode refuses it until a tangent rule is registered too
            tangent = dict(old.tangent) if old.tangent else None
            if tangent is not None:
                tangent[id(primitive)] = None
            # (likewise, complex operands: the user's rule is taken for real ones only)
            record = replace(
                old,
                rules={**old.rules, id(primitive): rule},
                tangent=tangent,
                complex_ok=False,
                complex_rule=None,
            )
            _enter(record)
            return template
        new_arrays = shape in (UNARY, BROADCAST, REDUCTION, MATMUL, DOT)
        record = Primitive(
            name=f"exp of {template.__name__}" if exponential else template.__name__,
            spellings=(primitive, *aliases),
            on_floats=floats,
            template=template,
            shape=shape,
            scalar_preserving=shape == UNARY if scalar_preserving is None else scalar_preserving,
            # (a function recorded without derivative keeps what it was known to return)
            fresh=(old.fresh if old else owned and new_arrays) if fresh is None else fresh,
            converts=converts,
            builtin=owned,
            results=results,
            fields=fields,
            constant=tuple(constant),
            rules={id(primitive): rule},
        )
        for fn in floats:
            record.rules[id(fn)] = read(
                owned, parse_template, fn, template, broadcasts, floats_of=record
            )
            record.rules[id(fn)].unsure_shapes = rule.unsure_shapes
        _enter(record)
        return template

    return register


def complex_values(*fns: object, kind: str | None = None) -> None:
    """Record that the adjoint rules of ``fns`` are right for complex operands too, and
    with ``kind`` (see ``record.ON_COMPLEX``) what their result is for complex
    operands (docs/numerics.md, "Complex values")."""
    for fn in fns:
        record = PRIMITIVES[id(fn)]  # (changed in place: the tables keep their order)
        record.on_complex = kind or record.on_complex
        record.complex_ok = True
    GENERATION[0] += 1


def complex_adjoint(primitive: object, kind: str = PASSES) -> Callable[[Callable], Callable]:
    """Register the decorated template as the adjoint of the recorded ``primitive`` where
    an operand may be complex; the real rule stays for real operands."""

    def register(template: Callable) -> Callable:
        record = PRIMITIVES[id(primitive)]
        parse = (parse_template, primitive, template, record.broadcasts)
        record.complex_rule = read(_owned(template), *parse)
        record.on_complex, record.complex_ok = kind, True
        GENERATION[0] += 1
        return template

    return register


def read(owned: bool, parse: Callable, primitive: object, *args: object, **kwargs: object):
    """``parse(primitive, *args, **kwargs)``, the rule a template says: read now for a
    user's template (a mistake in it is an error where it is registered), on first use
    for one of adcompile's own (``template.Unread``: ``import adcompile`` reads none)."""
    if not owned:
        return parse(primitive, *args, **kwargs)
    later = functools.partial(parse, primitive, *args, **kwargs)
    return Unread(later, primitive=primitive, name=primitive_name(primitive))


def parse_template(
    primitive: object,
    template: Callable,
    broadcasts: bool,
    *,
    floats_of: Primitive | None = None,
    exponential: bool = False,
) -> Rule:
    """Read a template function's source into a :class:`Rule`; with ``floats_of``, the
    rule of ``primitive``, a spelling of that record on Python floats (see
    :func:`on_floats`); with ``exponential``, the rule of its exponential (see
    :func:`times_output`)."""
    from ..frontend import _char_col, _short

    try:
        raw = inspect.getsource(template)
        source = textwrap.dedent(raw)
        filename = inspect.getsourcefile(template) or "<unknown>"
        first = template.__code__.co_firstlineno
    except (OSError, TypeError) as exc:
        raise AdCompileError(
            f"cannot read the source of the adjoint rule {template.__qualname__}",
            hint="define adjoint rules in a file, not in an interactive session",
        ) from exc
    fn = ast.parse(source).body[0]
    raw_lines = raw.splitlines()
    indent = len(raw_lines[0]) - len(raw_lines[0].lstrip())  # what dedent took away
    loc = Loc(_short(filename), first, indent, raw_lines[0])
    if not isinstance(fn, ast.FunctionDef):
        raise AdCompileError("an adjoint rule must be a function", loc)
    if floats_of is not None:
        fn = on_floats(fn, template.__globals__, loc)
    if exponential:
        fn = times_output(fn)
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
    body = [s for s in fn.body if not is_docstring(s)]
    params = names[2:]

    def located(node: ast.AST) -> Loc:
        """Where ``node`` of the template is in its file."""
        text = raw_lines[node.lineno - 1] if node.lineno <= len(raw_lines) else ""
        col = _char_col(text, node.col_offset + indent)
        return Loc(_short(filename), first + node.lineno - 1, col, text)

    check_statements(body, located, in_loop=False)
    if not body or not ends_in_return(body):
        raise AdCompileError(
            "an adjoint rule must end with `return <contributions>` on every path", loc
        )
    if is_plain(body):
        ret = body[-1].value
        contributions = returned(ret)
        if len(contributions) > len(params):
            raise AdCompileError(
                "the rule returns more contributions than it has parameters", located(ret)
            )
        prelude = body[:-1]
    else:
        prelude, contributions = branched(body, params, names, located)
    assigned = {
        n.id
        for s in prelude
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    for s in prelude:
        for n in ast.walk(s):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in names:
                raise AdCompileError(
                    f"an adjoint rule cannot assign to its parameter {n.id!r}",
                    located(n),
                    hint="the parameters stand for the program's own values: "
                    "assign to a new name instead",
                )
    loads = set().union(*(names_read(stmt) for stmt in fn.body))  # (not the decorators)
    free = {}
    for name in sorted(loads - set(names) - assigned):
        if name == "math" and floats_of is not None:
            free[name] = math
        elif name in template.__globals__:
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
        loc=Loc(filename, first, indent, raw_lines[0]),
    )


def on_floats(fn: ast.FunctionDef, names: dict, loc: Loc) -> ast.FunctionDef:
    """The template ``fn`` for Python floats: each numpy function it calls becomes the
    ``math`` function of the same primitive (``np.cos`` -> ``math.cos``, ``np.arctan``
    -> ``math.atan``) and each integer constant a float, so that the generated code
    computes on Python floats (a ``math`` call costs a fraction of a numpy call on a
    float, and its result keeps later arithmetic on plain floats)."""
    numpy = __import__("numpy")

    class Translate(ast.NodeTransformer):
        def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
            base = node.value
            if not (isinstance(base, ast.Name) and names.get(base.id) is numpy):
                return self.generic_visit(node)
            target = _math_spelling(getattr(numpy, node.attr, None), node.attr)
            if target is None:
                raise AdCompileError(
                    f"np.{node.attr} in this rule has no Python-float spelling in math",
                    loc,
                    hint="write the rule of the math spelling separately",
                )
            return ast.Attribute(
                value=ast.Name(id="math", ctx=ast.Load()), attr=target.__name__, ctx=node.ctx
            )

        def visit_Constant(self, node: ast.Constant) -> ast.expr:
            if type(node.value) is int:
                return ast.Constant(value=float(node.value))
            return node

    fn = copy_tree(fn)
    fn.body = [Translate().visit(stmt) for stmt in fn.body]  # (not the decorators)
    return fn


def _math_spelling(fn: object, name: str) -> object | None:
    """The ``math`` function that is ``fn`` on Python floats: its record's, or (for a
    record not registered yet) math's function of the same name."""
    record = PRIMITIVES.get(id(fn))
    if record is not None:
        return next((f for f in record.on_floats if getattr(f, "__module__", "") == "math"), None)
    return getattr(math, name, None) if fn is not None else None


# Statements a rule may use. Anything else (try, with, nested functions, global...)
# is refused at registration: the inliner pastes the rule's statements into the
# generated code, and only these keep their meaning there.
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
        needed |= names_read(expr)
    prelude = []
    for stmt in reversed(rule.prelude):
        targets = {
            n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        if targets & needed:
            prelude.append(stmt)
            needed |= names_read(stmt)
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
    stmts = [substituted(s, mapping, hooks) for s in prelude]
    exprs = {p: substituted(e, mapping, hooks) for p, e in picked.items()}
    return stmts, exprs
