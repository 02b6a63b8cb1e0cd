"""The numba backend: ``grad(f, backend="numba")``.

The gradient is generated as for the numpy backend (specialised to the call's
argument shapes, see ``shapes.py``), then ``translate.py`` rewrites it into code
numba compiles in nopython mode, ``compiling.py`` writes it to a file in the cache
directory and compiles it with ``numba.njit(cache=True)``, and ``helpers.py`` holds
the numba versions of the runtime helpers it calls. Numba is imported only when a
numba gradient is compiled; translating (``adcompile show --backend numba``) needs
none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import AdCompileError, Loc
from .translate import HINT, Module, Text, translate

BACKENDS = ("numpy", "numba")
BACKEND_DOC = """
    ``backend="numba"`` compiles the generated gradient with numba (an optional
    extra: ``pip install 'adcompile[numba]'``) into machine code, cached on disk so
    that another process loads it; a function numba cannot compile is refused with a
    located error. ``"numpy"`` (the default) runs it with numpy (see
    docs/performance.md for which to use when)."""


def check_backend(backend: object, fn: object, options: object, where: Loc | None) -> str:
    """``backend``, checked: a known one, and numba only for a first derivative
    without ``debug_nans`` or ``checkpoint`` (``options``)."""
    if backend not in BACKENDS:
        raise AdCompileError(
            f"backend={backend!r} is not one of {', '.join(map(repr, BACKENDS))}",
            where,
            hint="backend='numpy' (the default) runs the gradient with numpy; "
            "backend='numba' compiles it with numba",
        )
    if backend == "numba" and (getattr(fn, "compiled_gradient", False) or options):
        raise AdCompileError(
            "backend='numba' compiles first derivatives without debug_nans or checkpoint",
            where,
            hint=HINT,
        )
    return backend


def containers_of(params: list[str], sig: tuple | None, where: Loc | None) -> dict:
    """The list and tuple parameters of a call of shape signature ``sig`` (name ->
    their shape signature)."""
    out = {}
    for name, shape in zip(params, sig or (), strict=False):
        if isinstance(shape, tuple) and len(shape) == 2 and shape[0] in (list, tuple, dict):
            out[name] = shape
    if sig is None:
        return out
    return out


def module_of(gen: Any, title: str, containers: dict | None = None) -> Module:
    """The numba module of the numpy backend's code (its Generated ``gen``)."""
    filename = getattr(gen, "source_file", "")
    texts = [Text(gen.text, gen.namespace, filename)]
    for pair in gen.session.order:
        texts.append(Text(pair.text, pair.namespace, pair.source.filename))
    return translate(texts, title, containers)


def numba_entry(
    entry: tuple, grad: Any, sig: tuple | None, kinds: tuple | None
) -> tuple[Callable, str, Any]:
    """(compiled function, source, Generated) of the numba flavour of the numpy
    backend's ``entry`` of the GradientFunction ``grad``, for calls of shape
    signature ``sig`` and structure ``kinds``."""
    from ..frontend import def_loc
    from .compiling import Compiled, require_numba, write

    name = getattr(grad.fn, "__qualname__", grad.fn)
    title = f"{grad.mode} of {name} wrt {', '.join(grad.wrt)}"
    params = grad.params
    _compiled, source, gen = entry
    gen.numpy_source = source  # (what .export() writes: the numpy code)
    if kinds is not None and sig is None:
        raise AdCompileError(
            "the numba backend compiles code specialised to the shapes of list and tuple "
            "arguments, and this function has had more than eight shape signatures",
            hint=HINT,
        )
    containers = containers_of(params, sig, None)
    for p, shape in containers.items():
        if shape[0] is dict:  # (refused here, at the function's definition)
            raise AdCompileError(
                f"the numba backend takes arrays, numbers, lists and tuples; {p!r} is a dict",
                def_loc(grad.fn),
                hint=HINT,
            )
    module = module_of(gen, title, containers)  # (what numba would refuse, first)
    require_numba()
    path, name = write(module, gen.node.name)
    positions = [params.index(p) for p in containers]
    return Compiled(module, path, name, gen.node.name, positions), module.text, gen


__all__ = ["BACKENDS", "BACKEND_DOC", "HINT", "check_backend", "module_of", "numba_entry"]
