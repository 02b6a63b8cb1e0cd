"""Exporting generated code: the header of ``.source``, and self-contained modules.

Generated code names a few objects it does not define: numpy, the helpers of
:mod:`adcompile.runtime` (``unbroadcast``...), the forward/backward pairs of the
user's own functions it calls, and the module-level constants it reads.
:func:`source_header` lists them in comments at the top of ``.source``;
:func:`module_text` writes a module that defines every one of them itself (the
runtime helpers it uses, transitively, copied from their source), so that the
module needs nothing but numpy; :func:`export_module` is that module with the
docstring ``.export()`` and ``adcompile export`` give it.
"""

from __future__ import annotations

import ast
import builtins
import dis
import functools
import inspect
import math
import re
import sys
import textwrap
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import runtime
from .desugar import LiftedFunction
from .desugar.signature import parameter_names
from .errors import AdCompileError
from .frontend import SourceFunction, StaticFunction, Unresolved, _short, def_loc
from .ir import nodes
from .normalize.unassigned import Unassigned
from .rules.containers import is_function_kind

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"math", "operator"}


def loaded_names(code: str | ast.AST) -> list[str]:
    """The names ``code`` (source text, or its syntax tree) reads, in order of first
    appearance in a breadth-first walk of its tree, minus those it binds. A name is
    bound by its place (an assignment's target, a loop's, a parameter), so a tree
    built rather than parsed, whose names may lack a ``ctx``, reads as its text does."""
    tree = ast.parse(code) if isinstance(code, str) else code
    bound: set[str] = set()
    targets: set[int] = set()  # the Name nodes in the place of a target
    seen: dict[str, None] = {}
    for node in nodes(tree, breadth_first=True):
        kind = type(node)
        if kind is ast.Name:
            if id(node) in targets:
                bound.add(node.id)
            else:
                seen.setdefault(node.id, None)
            continue
        if kind is ast.FunctionDef or kind is ast.ClassDef:
            bound.add(node.name)
            if kind is ast.FunctionDef:
                args = node.args
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    bound.add(a.arg)
                for a in (args.vararg, args.kwarg):
                    if a is not None:
                        bound.add(a.arg)
        else:
            place = _TARGETS.get(kind)
            if place is not None:
                for t in _as_list(getattr(node, place, None)):
                    targets.update(id(n) for n in _target_names(t))
    return [n for n in seen if n not in bound]


_LOAD_GLOBAL = dis.opmap["LOAD_GLOBAL"]
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_NAME_SHIFT = 1 if sys.version_info >= (3, 11) else 0  # LOAD_GLOBAL's argument is namei << 1


def global_reads(modules: Iterable[types.CodeType]) -> list[str]:
    """The names the functions compiled in ``modules`` (code of modules of function
    definitions) read as globals, in order of first read, minus the names the modules
    define: what the functions need from the namespace they run in. Read from the
    bytecode, which says exactly which reads are of globals, in a fraction of the time a
    walk of the syntax tree takes."""
    seen: dict[str, None] = {}
    defined: set[str] = set()
    for module in modules:
        defined.update(module.co_names)
        stack = [c for c in reversed(module.co_consts) if isinstance(c, types.CodeType)]
        while stack:
            code = stack.pop()
            for i in _global_loads(code.co_code):
                seen.setdefault(code.co_names[i], None)
            stack += [c for c in reversed(code.co_consts) if isinstance(c, types.CodeType)]
    return [n for n in seen if n not in defined]


def _global_loads(raw: bytes) -> Iterable[int]:
    """The name indices of the LOAD_GLOBAL instructions of the bytecode ``raw``."""
    op = bytes([_LOAD_GLOBAL])
    i = raw.find(op)
    while i >= 0:
        if i % 2 == 0:  # an opcode, not an argument byte
            arg, j = raw[i + 1], i - 2
            shift = 8
            while j >= 0 and raw[j] == _EXTENDED_ARG:
                arg |= raw[j + 1] << shift
                shift += 8
                j -= 2
            yield arg >> _NAME_SHIFT
        i = raw.find(op, i + 1)


def compiled_free_objects(
    modules: Iterable[types.CodeType], namespaces: Iterable[dict]
) -> dict[str, object]:
    """:func:`free_objects` of compiled code: each name the functions of ``modules``
    read from the namespaces they run in, and its object."""
    merged: dict[str, object] = {}
    for namespace in namespaces:
        for k, v in namespace.items():
            merged.setdefault(k, v)
    return {n: merged[n] for n in global_reads(modules) if n in merged}


# the field of each node type whose names it binds (or deletes)
_TARGETS = {
    ast.Assign: "targets",
    ast.AugAssign: "target",
    ast.AnnAssign: "target",
    ast.For: "target",
    ast.AsyncFor: "target",
    ast.comprehension: "target",
    ast.NamedExpr: "target",
    ast.withitem: "optional_vars",
    ast.Delete: "targets",
}


def _as_list(value: object) -> list:
    return value if type(value) is list else [] if value is None else [value]


def _target_names(target: ast.AST) -> list[ast.Name]:
    """The names a target binds: itself, or those in its (starred) tuples and lists."""
    if type(target) is ast.Name:
        return [target]
    if type(target) is ast.Starred:
        return _target_names(target.value)
    if type(target) is ast.Tuple or type(target) is ast.List:
        return [n for e in target.elts for n in _target_names(e)]
    return []  # a subscript or attribute: its names are read


def free_objects(code: str | ast.AST, namespaces: Iterable[dict]) -> dict[str, object]:
    """Each name ``code`` (source text, or its syntax tree) reads from the namespaces
    it is compiled with, and its object."""
    merged: dict[str, object] = {}
    for namespace in namespaces:
        for k, v in namespace.items():
            merged.setdefault(k, v)
    tree = ast.parse(code) if isinstance(code, str) else code
    # each top-level definition on its own: a name one function binds (a pair's local
    # named after its function) may be a global that another reads
    parts = tree.body if isinstance(tree, ast.Module) else [tree]
    defined = {s.name for s in parts if isinstance(s, ast.FunctionDef | ast.ClassDef)}
    names = dict.fromkeys(n for part in parts for n in loaded_names(part))
    return {n: merged[n] for n in names if n in merged and n not in defined}


def _runtime_name(obj: object) -> str | None:
    for name, helper in runtime.HELPERS.items():
        if helper is obj:
            return name
    return None


def source_header(fn_name: str, objects: dict[str, object]) -> str:
    """The comment lines that open ``.source``: what the code is and what it imports."""
    from .rules.bodies import is_definition

    modules, helpers, others, defined = [], [], [], []
    for name, obj in objects.items():
        if isinstance(obj, types.ModuleType):
            modules.append(_import_line(name, obj))
        elif is_definition(obj):  # (a runtime helper's definition, see rules/bodies.py)
            defined.append(name)
        elif _runtime_name(obj) is not None:
            own = _runtime_name(obj)
            helpers.append(name if own == name else f"{own} as {name}")
        elif isinstance(obj, Unassigned):
            continue  # a loop-only variable before its loop: adcompile's own placeholder
        elif getattr(obj, "debug_nans", False):
            continue  # debug_nans's checks: part of adcompile
        elif obj is not None and getattr(builtins, name, None) is not obj:
            others.append(name)
    needs = "it needs:" if modules or helpers or others or defined else "it needs no imports"
    lines = [f"# generated by adcompile from {fn_name}; {needs}"]
    lines += [f"#     {m}" for m in modules]
    if helpers:
        names = textwrap.wrap(
            ", ".join(sorted(helpers)),
            width=72,
            initial_indent="#     from adcompile.runtime import (",
            subsequent_indent="#         ",
            break_on_hyphens=False,
        )
        if len(names) == 1:
            names = [f"#     from adcompile.runtime import {', '.join(sorted(helpers))}"]
        else:
            names[-1] += ")"
        lines += names
    if defined:
        lines.append(f"#     from adcompile.rules.bodies import {', '.join(sorted(defined))}")
    if others:
        lines.append(f"#     and, from {fn_name}'s module: {', '.join(others)}")
    lines.append(f"# .export() writes it as a module that needs {_needs(objects.values())}")
    return "\n".join(lines) + "\n"


def _uses_scipy(obj: object) -> bool:
    """Whether ``obj`` is scipy, one of its modules, or an object of one."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__.split(".")[0] == "scipy"
    return _module_attribute(obj) is not None and _module_attribute(obj)[0].startswith("scipy")


def _needs(objects: Iterable[object]) -> str:
    """What a module of ``objects`` needs: "only numpy", or "numpy and scipy"."""
    return "numpy and scipy" if any(_uses_scipy(o) for o in objects) else "only numpy"


def _import_line(name: str, module: types.ModuleType) -> str:
    real = module.__name__
    return f"import {real}" if real == name else f"import {real} as {name}"


# ------------------------------------------------------------------ modules


class _Module:
    """The definitions an exported module needs, collected name by name."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.imports: dict[str, str] = {"np": "import numpy as np"}
        self.helpers: dict[str, str] = {}  # runtime name -> source
        self.aliases: list[str] = []
        self.constants: list[str] = []
        self.functions: list[str] = []
        self.defined: dict[str, object] = {"np": np}

    def need(self, name: str, obj: object) -> None:
        if name in self.defined:
            old = self.defined[name]
            if old is obj or (
                isinstance(old, StaticFunction)
                and isinstance(obj, StaticFunction)
                and old.source is obj.source
            ):
                return
            raise AdCompileError(
                f"cannot export {self.what}: the name {name!r} means two different things",
                hint="rename one of them in your module",
            )
        self.defined[name] = obj
        if isinstance(obj, Unassigned):
            # (the placeholder raises on use; the exported module has None instead, which
            # the reverse sweep's zero adjoint of it accepts as well)
            self.constants.append(f"{name} = None  # before its loop, {obj!r}")
            return
        if isinstance(obj, types.ModuleType):
            top = obj.__name__.split(".")[0]
            if top not in ("numpy", "scipy") and top not in _STDLIB:
                raise AdCompileError(
                    f"cannot export {self.what}: it uses the module {obj.__name__}, and the "
                    "exported code may need numpy and scipy only",
                    hint="differentiate code that uses numpy, scipy and math only",
                )
            self.imports[name] = _import_line(name, obj)
            return
        helper = _runtime_name(obj)
        if helper is not None:
            self._helper(helper)
            if helper != name:
                self.aliases.append(f"{name} = {helper}")
            return
        literal = _literal(obj)
        if literal is not None:
            self.constants.append(f"{name} = {literal}")
            return
        attr = _module_attribute(obj)
        if attr is not None:
            module, path = attr
            if module == "math":
                self.imports.setdefault("math", "import math")
            if module.startswith("scipy"):  # from scipy.special import expit
                attribute = path.rsplit(".", 1)[1]
                line = f"from {module} import {attribute}"
                self.imports[f"{module}.{attribute}"] = (
                    line if attribute == name else f"{line} as {name}"
                )
                return
            self.constants.append(f"{name} = {path}")
            return
        if isinstance(obj, types.FunctionType) and not obj.__closure__:
            self._function(name, obj)
            return
        if isinstance(obj, StaticFunction):  # read from a file without running it
            src = obj.source
            if isinstance(src, LiftedFunction):  # defined inside another: its text is new
                text = ast.unparse(src.node)
            else:
                text = ast.get_source_segment("".join(src.lines), src.node, padded=True) or ""
            self._function_text(name, textwrap.dedent(text), src.lookup)
            return
        if isinstance(obj, Unresolved):
            raise AdCompileError(
                f"cannot export {self.what}: it reads {name!r}, and {obj.reason}",
                hint="export it from Python instead, where the module has run: "
                "adcompile.grad(f).export()",
            )
        raise AdCompileError(
            f"cannot export {self.what}: it reads {name!r}, a {type(obj).__name__} that a "
            "module of plain Python and numpy cannot define",
            hint="make it a number, an array or a function of your module, or pass it as "
            "an argument",
        )

    def _helper(self, name: str) -> None:
        """The runtime helper ``name`` and, before it, what it uses from the runtime."""
        if name in self.helpers:
            return
        source = _runtime_source(name)
        self.helpers[name] = source
        definitions = _runtime_definitions()
        self.defined.setdefault(name, getattr(definitions[name][2], name))
        module = definitions[name][2]
        for dep in loaded_names(source):
            if dep != name and dep in definitions:
                self._helper(dep)
            elif isinstance(getattr(module, dep, None), types.ModuleType):
                self.need(dep, getattr(module, dep))  # a standard module it uses (math)

    def _function(self, name: str, fn: types.FunctionType) -> None:
        try:
            text = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError) as exc:
            raise AdCompileError(
                f"cannot export {self.what}: cannot read the source of {name!r}",
                hint="define it with def in a .py file",
            ) from exc
        glob = fn.__globals__
        self._function_text(name, text, lambda n: glob.get(n, Unresolved(n, "")))

    def _function_text(self, name: str, text: str, lookup) -> None:
        tree = ast.parse(text)
        definition = tree.body[0]
        if not isinstance(definition, ast.FunctionDef) or definition.decorator_list:
            raise AdCompileError(
                f"cannot export {self.what}: {name!r} is not a plain function",
                hint="define it with def, without decorators",
            )
        if definition.name != name:
            text += f"\n\n{name} = {definition.name}\n"
        self.functions.append(text.rstrip("\n"))
        for dep in loaded_names(text):
            if dep == name:
                continue
            obj = lookup(dep)
            if isinstance(obj, Unresolved) and (not obj.reason or hasattr(builtins, dep)):
                continue  # a builtin, or a name the function's own module lacks too
            if getattr(builtins, dep, None) is obj:
                continue
            self.need(dep, obj)

    @property
    def needs(self) -> str:
        """What this module needs: "only numpy", or "numpy and scipy"."""
        return _needs(self.defined.values())

    def _submodule_imports(self, text: str) -> list[str]:
        """``import scipy.special`` for each ``scipy.special.f`` that ``text`` reads
        through a name bound to scipy itself (numpy imports its own submodules)."""
        lines = []
        for name, obj in self.defined.items():
            if not isinstance(obj, types.ModuleType) or obj.__name__.split(".")[0] == "numpy":
                continue
            for attr in sorted(set(re.findall(rf"\b{re.escape(name)}\.(\w+)", text))):
                sub = getattr(obj, attr, None)
                if isinstance(sub, types.ModuleType) and sub.__name__.startswith(obj.__name__):
                    lines.append(f"import {sub.__name__}")
        return lines

    def text(self, header: str, body: str, exported: list[str]) -> str:
        everything = "\n".join([body, *self.helpers.values(), *self.functions])
        imports = {*self.imports.values(), *self._submodule_imports(everything)}
        top = [header.rstrip("\n"), "\n".join(sorted(imports))]
        top.append(f"__all__ = {exported!r}")
        parts = ["\n\n".join(top)]
        if self.helpers:
            ordered = sorted(self.helpers, key=_runtime_place)
            parts.append(
                "# helpers copied from adcompile.runtime\n"
                + "\n\n\n".join(self.helpers[n] for n in ordered)
            )
        if self.aliases:
            parts.append("\n".join(self.aliases))
        if self.constants:
            parts.append("\n".join(self.constants))
        if self.functions:
            parts.append("\n\n\n".join(self.functions))
        parts.append(body.strip("\n"))
        return "\n\n\n".join(parts) + "\n"


def _literal(obj: object) -> str | None:
    """Python source that rebuilds ``obj`` exactly, for numbers and arrays."""
    if isinstance(obj, bool | int | float | complex) and type(obj) in (bool, int, float, complex):
        return repr(obj)
    if isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
        return f"np.{obj.dtype.name}({obj.item()!r})"
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biufc":
        return f"np.array({obj.tolist()!r}, dtype=np.{obj.dtype.name}).reshape({obj.shape!r})"
    return None


def _module_attribute(obj: object) -> tuple[str, str] | None:
    """``("numpy", "np.exp")`` for a function of numpy or math, ``("scipy.special",
    "scipy.special.expit")`` for one of scipy.special or scipy.stats (when imported)."""
    name = getattr(obj, "__name__", None)
    if not isinstance(name, str):
        name = getattr(type(obj), "__name__", "").removesuffix("_gen")  # scipy.stats.norm
    if getattr(np, name, None) is obj:
        return "numpy", f"np.{name}"
    if getattr(math, name, None) is obj:
        return "math", f"math.{name}"
    for module in ("scipy.special", "scipy.stats", "scipy.integrate"):
        if module in sys.modules and getattr(sys.modules[module], name, None) is obj:
            return module, f"{module}.{name}"
    return None


@functools.cache
def _runtime_definitions() -> dict[str, tuple[int, int, types.ModuleType, str]]:
    """Each top-level name defined in a runtime submodule: its place in the runtime (the
    submodule's rank, the line), the submodule, and the source of its definition (read
    on the first export, not when adcompile is imported)."""
    found: dict[str, tuple[int, int, types.ModuleType, str]] = {}
    for rank, module in enumerate(runtime.MODULES):
        text = inspect.getsource(module)
        lines = text.splitlines(keepends=True)
        for stmt in ast.parse(text).body:
            names = []
            if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
                names = [stmt.name]
            elif isinstance(stmt, ast.Assign):
                names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            # (ast.get_source_segment splits the whole text again for every statement)
            segment = "".join(lines[stmt.lineno - 1 : stmt.end_lineno])
            segment = segment[: len(segment) - len(lines[stmt.end_lineno - 1])]
            segment += lines[stmt.end_lineno - 1][: stmt.end_col_offset]
            for name in names:
                found[name] = (rank, stmt.lineno, module, segment)
    return found


def _runtime_place(name: str) -> tuple[int, int]:
    """Where the runtime defines ``name``: the order its copies are written in."""
    rank, line, _, _ = _runtime_definitions()[name]
    return rank, line


def _runtime_source(name: str) -> str:
    """The source of the runtime's top-level definition of ``name``."""
    definitions = _runtime_definitions()
    if name not in definitions:
        raise AdCompileError(f"internal error: no runtime definition of {name!r}")
    return definitions[name][3]


def module_text(
    body: str,
    namespaces: list[dict],
    exported: list[str],
    what: str,
    header: str,
) -> str:
    """A module holding ``body`` (generated functions) and every object it reads."""
    module = _Module(what)
    if any(getattr(v, "debug_nans", False) for ns in namespaces for v in ns.values()):
        raise AdCompileError(
            f"cannot export {what}: it was made with debug_nans=True, whose checks need adcompile",
            hint="export a gradient made without debug_nans",
        )
    for name, obj in free_objects(body, namespaces).items():
        if obj is None or name in exported or getattr(builtins, name, None) is obj:
            continue
        module.need(name, obj)
    return module.text(header.replace(_NEEDS, module.needs), body, exported)


_NEEDS = "\x00needs\x00"  # in an export's header: what its module needs, once known


def generated_namespaces(gen: Any) -> list[dict]:
    """The namespaces generated code is compiled with: the function's, then its pairs'."""
    session = getattr(gen, "session", None)
    return [gen.namespace, *(pair.namespace for pair in getattr(session, "order", ()))]


def export_module(
    fn: Callable | SourceFunction,
    body: str,
    namespaces: list[dict],
    wrt: list[str],
    mode: str,
    sig: tuple | None = None,
    path: str | None = None,
    kinds: tuple | None = None,
) -> str:
    """The module :meth:`GradientFunction.export` and ``adcompile export`` write.

    ``sig`` is the shape signature the code was specialised to (None: general code),
    ``kinds`` the structure of its list, tuple and dict arguments (None: arrays and
    numbers only); the exported function checks its arguments against them, since it
    cannot generate code for others as adcompile does."""
    inside = next((w for w in wrt if "[" in w), None)
    if inside is not None:
        star = inside.split("[")[0]
        raise AdCompileError(
            f"cannot export a derivative with respect to {inside!r}, an argument inside "
            f"*{star}: the exported function takes whole parameters",
            fn.loc(fn.node) if isinstance(fn, SourceFunction) else def_loc(fn),
            hint=f"export it with respect to the whole tuple (wrt={star!r}) and take "
            "the element you need from its gradient, or run the derivative through adcompile",
        )
    if isinstance(fn, SourceFunction):
        name, qualname, filename, lineno = fn.name, fn.qualname, fn.filename, fn.node.lineno
        params = parameter_names(fn.node.args)
    else:
        code = fn.__code__
        name, qualname = fn.__name__, fn.__qualname__
        filename, lineno = code.co_filename, def_loc(fn).lineno if def_loc(fn) else 0
        params = list(inspect.signature(fn, follow_wrapped=False).parameters)
    passed = next(
        (p for p, k in zip(params, kinds or (), strict=False) if is_function_kind(k)), None
    ) or next((p for p, k in zip(params, sig or (), strict=False) if _function_shape(k)), None)
    if passed is not None:
        raise AdCompileError(
            f"cannot export a derivative compiled for the function {passed!r} holds: the "
            "exported module could not tell when a call passes another function",
            fn.loc(fn.node) if isinstance(fn, SourceFunction) else def_loc(fn, passed),
            hint="export a function that calls its function by name (np.tanh(...)), or run "
            "the derivative through adcompile, which compiles it for each function passed",
        )
    where = _short(filename)
    generated = re.match(r"def (\w+)\(([^)]*)\)", body)
    exported = [generated.group(1)] if generated else []
    if generated:
        body = _wrapped(body, generated, params, wrt, mode, sig, kinds)
        namespaces = [*namespaces, {"grad_like": runtime.grad_like}]
    call = f"{generated.group(1)}({generated.group(2)})" if generated else name
    what = {"grad": "the gradient", "value_and_grad": "the value and gradient", "vjp": "the vjp"}
    fill = functools.partial(textwrap.fill, width=88, break_on_hyphens=False)
    about = (
        f"Generated by adcompile {_version()} from the function {qualname} in {where} "
        f"(line {lineno}): the code adcompile itself runs for it."
    )
    shape_spec = _shape_spec(params, sig)
    if sig is not None:
        about += " It is specialised to arguments of these shapes: " + (
            (shape_spec or "those of the call it was made for") + "."
        )
    lines = [f'r"""{call}: {what.get(mode, mode)} of {name} with respect to {", ".join(wrt)}.']
    lines += ["", fill(about), "", "Regenerate it with:", ""]
    options = [f"--wrt {','.join(wrt)}"]
    if mode != "grad":
        options.append(f"--mode {mode}")
    if shape_spec:
        options.append(f"--shapes {shape_spec}")
    if "." not in qualname and "<" not in where:
        command = f"    adcompile export {where}:{name} " + " ".join(options) + " -o OUT.py"
        if len(command) > 88:
            command = f"    adcompile export {where}:{name} \\\n        " + " \\\n        ".join(
                [*options, "-o OUT.py"]
            )
        lines += [command, "", "or, from Python (this imports the file):", ""]
    wrt_text = "(" + ", ".join(repr(w) for w in wrt) + ("," if len(wrt) == 1 else "") + ")"
    lines.append(f"    adcompile.{mode}({name}, wrt={wrt_text}).export()")
    lines += [
        "",
        fill(
            f"It needs {_NEEDS}: the helpers it calls are copied from adcompile.runtime, "
            f"and {__name__.split('.')[0]} is not needed to run it. "
            + _ACCEPTS[(sig is not None, kinds is not None)]
        ),
        '"""',
    ]
    return module_text(body, namespaces, exported, f"{mode} of {name}", "\n".join(lines) + "\n")


def _shape_spec(params: list[str], sig: tuple | None) -> str | None:
    """``W=8x4,b=8x1,s=float`` for a shape signature, or None when there is none."""
    if sig is None or len(sig) != len(params):
        return None
    items = []
    for p, s in zip(params, sig, strict=True):
        if s is float:
            items.append(f"{p}=float")
        elif isinstance(s, tuple) and all(isinstance(n, int) for n in s):
            items.append(f"{p}=" + ("x".join(map(str, s)) if s else "()"))
        else:
            return None
    return ",".join(items)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adcompile")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


# ------------------------------------------------------------ argument checks

_ACCEPTS = {
    (False, False): "It accepts arrays and numbers only: export it after calling the "
    "gradient with the list, tuple or dict arguments you need, and it is generated for them.",
    (False, True): "It accepts arguments of the structure (lists, tuples, dicts) of the "
    "call it was made for only.",
    (True, False): "It accepts arguments of those shapes only, and refuses others.",
    (True, True): "It accepts arguments of those shapes only, and refuses others.",
}

# Copied into every exported module: adcompile generates code for the structure (and,
# when specialised, the shapes) of the arguments of a call, and makes new code for
# others; an exported function cannot, so it refuses them. Then, as adcompile does,
# it gives each gradient the type, shape and dtype of its input (grad_like), and
# copies an array that is an argument or another gradient.
ARGUMENT_CHECK = """\
def _structure(value, shapes):
    \"\"\"What generated code assumes of an argument: lists, tuples and dicts by their
    elements (a list of elements alike by one element, whatever its length), and with
    ``shapes`` an array by its shape and a Python number by its type.\"\"\"
    t = type(value)
    if t is list or t is tuple:
        inner = tuple(_structure(v, shapes) for v in value)
        if shapes:
            return (t.__name__, inner)
        if t is list and all(k == inner[0] for k in inner):
            return ("list", inner[0] if inner else "leaf")
        return ("tuple", inner)
    if t is dict:
        return ("dict", tuple((k, _structure(v, shapes)) for k, v in value.items()))
    if not shapes:
        return "leaf"
    if t is float or t is int or t is bool or t is complex:
        return t.__name__
    return np.shape(value)


def _matches(got, expected):
    \"\"\"Whether a structure is the one expected ("any": an object of any kind).\"\"\"
    if expected == "any":
        return True
    if type(got) is tuple and type(expected) is tuple and len(got) == len(expected):
        return all(_matches(g, e) for g, e in zip(got, expected))
    return got == expected


def _check_arguments(function, expected, shapes, **arguments):
    \"\"\"Refuse arguments the exported ``function`` was not generated for.\"\"\"
    for name, value in arguments.items():
        got = _structure(value, shapes)
        if _matches(got, expected[name]):
            continue
        if expected[name] == "leaf":
            raise TypeError(
                f"{function} was exported for arguments that are arrays or numbers, and "
                f"{name} is a {type(value).__name__}: export the gradient again after "
                "calling it with arguments like these (g = adcompile.grad(f); g(...); "
                "g.export()), which makes code for their structure"
            )
        what = "shape and structure" if shapes else "structure"
        raise TypeError(
            f"{function} was exported for {name} of {what} {expected[name]!r}, not "
            f"{got!r}: export the gradient again after calling it with arguments like "
            "these (g = adcompile.grad(f); g(...); g.export())"
            + (", or with adcompile export --shapes" if shapes else "")
        )
"""

FINISH = """\
def _owned(g, seen):
    \"\"\"``g`` with each array that is an argument or part of another gradient copied.\"\"\"
    if type(g) is list or type(g) is tuple:
        return type(g)(_owned(v, seen) for v in g)
    if type(g) is dict:
        return {k: _owned(v, seen) for k, v in g.items()}
    if isinstance(g, np.ndarray):
        if id(g) in seen or not g.flags.writeable:
            g = g.copy()
        seen.add(id(g))
    return g


def _leaf_ids(values):
    if type(values) is list or type(values) is tuple:
        return {i for v in values for i in _leaf_ids(v)}
    if type(values) is dict:
        return {i for v in values.values() for i in _leaf_ids(v)}
    return {id(values)}


def _finished(grads, args, index):
    \"\"\"The generated code's gradients (one bare, several in a sequence) as adcompile
    returns them: each with the type, shape and dtype of its input, owning its memory.\"\"\"
    several = len(index) > 1
    seen = _leaf_ids(args)
    grads = grads if several else (grads,)
    out = [_owned(grad_like(g, args[i]), seen) for g, i in zip(grads, index)]
    return tuple(out) if several else out[0]
"""


def _function_shape(shape: object) -> bool:
    """Whether a shape signature entry is that of a function passed as a value."""
    return isinstance(shape, tuple) and len(shape) == 2 and shape[0] == "function"


def _expected_structure(kind: object, shape: object, shapes: bool) -> object:
    """The value ``_structure`` gives an argument of ``kind`` (without shapes) or of the
    shape signature entry ``shape`` (with them)."""
    if not shapes:
        if kind is None or kind == "leaf":
            return "leaf"
        tag, inner = kind
        if tag == "list":
            return ("list", _expected_structure(inner, None, False))
        if tag == "tuple":
            return ("tuple", tuple(_expected_structure(k, None, False) for k in inner))
        return ("dict", tuple((k, _expected_structure(v, None, False)) for k, v in inner))
    if shape is None:  # not an array or a number: the code does not depend on it
        return "any"
    if isinstance(shape, type):
        return shape.__name__
    if isinstance(shape, tuple) and len(shape) == 2 and shape[0] in (list, tuple, dict):
        t, inner = shape
        if t is dict:
            return ("dict", tuple((k, _expected_structure(None, v, True)) for k, v in inner))
        return (t.__name__, tuple(_expected_structure(None, v, True) for v in inner))
    return tuple(shape)


def _wrapped(
    body: str,
    generated: re.Match,
    params: list[str],
    wrt: list[str],
    mode: str,
    sig: tuple | None,
    kinds: tuple | None,
) -> str:
    """``body`` with its generated function renamed ``_generated_NAME``, and a function
    ``NAME`` that checks the arguments are of the structure (and shapes) the code was
    generated for, calls it, and finishes its gradients as adcompile does."""
    shapes = sig is not None and len(sig) == len(params)
    expected = {
        p: _expected_structure(
            kinds[i] if kinds is not None and i < len(kinds) else None,
            sig[i] if shapes else None,
            shapes,
        )
        for i, p in enumerate(params)
    }
    try:
        literal = ast.literal_eval(repr(expected)) == expected
    except (ValueError, SyntaxError):
        literal = False
    if not literal:
        raise AdCompileError(
            "cannot export a gradient whose dict arguments have keys other than strings "
            "and numbers",
            hint="use string keys",
        )
    name, signature = generated.group(1), generated.group(2)
    inner = f"_generated_{name}"
    body = body[: generated.start(1)] + inner + body[generated.end(1) :]
    passed = ", ".join(f"{p}={p}" for p in params)
    call = f"{inner}({signature})"
    args = "(" + ", ".join(params) + ("," if len(params) == 1 else "") + ")"
    index = [params.index(w) for w in wrt if w in params]
    if mode == "jvp":
        result = f"return {call}"
    elif mode == "value_and_grad":
        result = f"value, grads = {call}\n    return value, _finished(grads, {args}, {index!r})"
    else:
        result = f"return _finished({call}, {args}, {index!r})"
    check = f"_check_arguments({name!r}, _ARGUMENTS, {shapes!r}, {passed})"
    wrapper = "\n".join(
        [
            f"def {name}({signature}):",
            f'    """{name}({signature}): checks its arguments, then runs {inner}."""',
            *textwrap.wrap(
                check,
                width=84,
                initial_indent="    ",
                subsequent_indent="        ",
                break_long_words=False,
            ),
            f"    {result}",
        ]
    )
    parts = [
        ARGUMENT_CHECK.rstrip("\n").replace("adcompile.grad(f)", f"adcompile.{mode}(f)"),
        *([FINISH.rstrip("\n")] if mode != "jvp" else []),
        f"# the arguments {name} was generated for\n_ARGUMENTS = {expected!r}",
        body.strip("\n"),
        wrapper,
    ]
    return "\n\n\n".join(parts) + "\n"
