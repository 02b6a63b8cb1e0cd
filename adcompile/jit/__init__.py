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


def check_backend(backend: object, where: Loc | None = None) -> str:
    if backend not in BACKENDS:
        raise AdCompileError(
            f"backend={backend!r} is not one of {', '.join(map(repr, BACKENDS))}",
            where,
            hint="backend='numpy' (the default) runs the gradient with numpy; "
            "backend='numba' compiles it with numba",
        )
    return backend


def module_of(source: str, gen: Any, title: str) -> Module:
    """The numba module of the numpy code ``source`` (with its Generated ``gen``)."""
    filename = getattr(gen, "source_file", "")
    texts = [Text(gen.text, gen.namespace, filename)]
    for pair in gen.session.order:
        texts.append(Text(pair.text, pair.namespace, pair.source.filename))
    return translate(texts, title)


def numba_entry(entry: tuple, title: str, where: Loc | None) -> tuple[Callable, str, Any]:
    """(compiled function, source, Generated) of the numba flavour of the numpy
    backend's ``entry``."""
    from .compiling import load, wrap

    _compiled, source, gen = entry
    module = module_of(source, gen, title)
    dispatcher, path = load(module, gen.node.name)
    return wrap(dispatcher, module, path), module.text, gen


__all__ = ["BACKENDS", "HINT", "check_backend", "module_of", "numba_entry"]
