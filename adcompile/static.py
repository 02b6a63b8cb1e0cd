"""Gradients of functions read from a file without running it (the command line:
``adcompile show``, ``export``, ``show --memory``): :func:`compile_static`,
:func:`build_static` and :func:`static_memory_report`."""

from __future__ import annotations

import ast
import types
from typing import Any

import numpy as np

from . import frontend
from .api import Wrt, _internal_errors, build, build_jvp, compile_linked, resolve_wrt
from .desugar.signature import parameter_names
from .emit import linecache_filename
from .errors import AdCompileError
from .frontend import SourceFunction
from .memory import MemoryReport, memory_report_of
from .names import Resolver
from .rules.containers import FUNCTION, LEAF, is_function_value


def compile_static(
    path: str,
    func: str,
    wrt: Wrt | None,
    mode: str = "grad",
    shapes: dict[str, object] | None = None,
    checkpoint: str | int | None = None,
) -> str:
    """Generated source for ``func`` in the file ``path``, read without running it;
    with ``shapes`` (every parameter's shape, or ``float``), specialised to them;
    ``checkpoint`` is the loops' checkpointing schedule (as ``grad``'s)."""
    return build_static(path, func, wrt, mode, shapes, checkpoint)[1]


def build_static(
    path: str,
    func: str,
    wrt: Wrt | None,
    mode: str = "grad",
    shapes: dict[str, object] | None = None,
    checkpoint: str | int | None = None,
) -> tuple[SourceFunction, str, Any, list[str]]:
    """:func:`compile_static`'s (function read, source, Generated, wrt names)."""
    src = frontend.from_file(path, func)
    params = parameter_names(src.node.args)
    if wrt is None:
        wrt = tuple(range(len(params))) if params else 0
    star = src.node.args.vararg.arg if src.node.args.vararg is not None else None
    names, _ = resolve_wrt(params, wrt, src.loc(src.node), star)
    arg_shapes = None
    if shapes is not None:
        unknown = sorted(set(shapes) - set(params))
        missing = [p for p in params if p not in shapes]
        if unknown or missing:
            what = (
                f"unknown parameter {unknown[0]!r}" if unknown else f"no shape for {missing[0]!r}"
            )
            raise AdCompileError(
                f"--shapes: {what}",
                src.loc(src.node),
                hint=f"give every parameter a shape: {', '.join(params)}",
            )
        arg_shapes = tuple(shapes[p] for p in params)
    kinds = default_kinds(src, params)
    if checkpoint is not None and mode in ("jvp", "hvp"):
        raise AdCompileError(
            f"--checkpoint applies to grad, value_and_grad and vjp, not to --mode {mode}",
            src.loc(src.node),
            hint=f"leave out --checkpoint with --mode {mode}",
        )
    if mode == "hvp":
        # forward over reverse: the jvp of the generated gradient (higher.py)
        from .higher import static_hvp

        if arg_shapes is not None:
            raise AdCompileError(
                "--shapes specialises reverse-mode code; hvp code is not specialised to shapes",
                src.loc(src.node),
                hint="leave out --shapes with --mode hvp",
            )
        _, _, grad_gen = build(src, names, "grad", kinds, None)
        source, gen = static_hvp(src, grad_gen, names)
    elif mode == "jvp":
        # forward mode: its own pass (tangent.py)
        if arg_shapes is not None:
            raise AdCompileError(
                "--shapes specialises reverse-mode code; forward-mode code is not "
                "specialised to shapes",
                src.loc(src.node),
                hint="leave out --shapes with --mode jvp",
            )
        source, _, gen = build_jvp(src, names, kinds)
    else:
        source, _, gen = build(src, names, mode, kinds, arg_shapes, checkpoint)
    with _internal_errors(src.name, src.loc(src.node)):
        compile(source, f"<adcompile {mode} {func}>", "exec")  # never print broken code
    return src, source, gen, names


def default_kinds(src: SourceFunction, params: list[str]) -> tuple | None:
    """The kinds of the parameters (see ``rules/containers.py``) when a default of one is a
    function (``def mlp(params, x, nonlinearity=np.tanh)``, a function of the file): the
    code is compiled for that function, as a call that leaves it out would run it;
    None when no default is a function."""
    args = src.node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = dict(
        zip(
            [a.arg for a in positional[len(positional) - len(args.defaults) :]],
            args.defaults,
            strict=True,
        )
    )
    defaults.update(
        (a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
    )
    resolver = Resolver(src)
    kinds = []
    for p in params:
        node = defaults.get(p)
        obj = None
        if isinstance(node, ast.Name | ast.Attribute):
            try:
                obj = resolver.static_object(node)
            except AdCompileError:
                obj = None  # (then the call that needs it says why)
        function = isinstance(obj, frontend.StaticFunction) or (
            is_function_value(obj) and not isinstance(obj, types.ModuleType)
        )
        kinds.append((FUNCTION, obj) if function else LEAF)
    return tuple(kinds) if any(k != LEAF for k in kinds) else None


def static_memory_report(
    path: str,
    func: str,
    wrt: Wrt | None,
    mode: str,
    shapes: dict,
    checkpoint: str | int | None = None,
) -> MemoryReport | None:
    """The memory report of ``func`` in the file ``path`` (read, not run) on random
    standard-normal arguments of the given shapes (``adcompile show --memory``); for
    grad and value_and_grad (a vjp's cotangent has the result's shape, unknown here)."""
    src, _, gen, names = build_static(path, func, wrt, mode, shapes, checkpoint)
    with _internal_errors(src.name, src.loc(src.node)):
        compiled = compile_linked(gen, linecache_filename(mode, func, names))
    params = parameter_names(src.node.args)
    rng = np.random.default_rng(0)
    args = [
        float(rng.normal()) if shapes[p] is float else rng.normal(size=shapes[p]) for p in params
    ]
    if mode == "vjp":
        return None  # the cotangent's shape is the result's: not known from the file
    gen.source_lines = src.lines
    return memory_report_of(compiled, gen, tuple(args), params, func)


__all__ = ["build_static", "compile_static", "static_memory_report"]
