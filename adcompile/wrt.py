"""What ``wrt`` names: parameters by position or name, and positions inside ``*args``.

``resolve_wrt`` reads the user's ``wrt`` (a position, a name, or a tuple of them)
into the list of entries the gradient is taken of, each a parameter's name or, for
the parameter that collects extra positional arguments, ``'args[i]'``: the i-th
argument it holds. The compiled code differentiates with respect to whole parameters
(``bases``); an entry inside ``*args`` narrows what is differentiated to that element
(``elements``, which ``analysis.activity`` reads), and ``Selection`` picks its
gradient out of the gradient of the tuple after the call, so that each gradient comes
back in the place of its entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import AdCompileError, Loc

Wrt = int | str | Sequence[int | str]

WRT_HINT = (
    "name parameters by position (0, -1) or by name ('x'), several as a tuple (0, 'y'), "
    "an argument inside *args as 'args[0]'; on the command line: --wrt 0,y"
)

_ELEMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z_0-9]*)\s*\[\s*(-?\d+)\s*\]\s*$")


def split_entry(entry: str) -> tuple[str, int | None]:
    """(parameter, index inside it or None) of a resolved wrt entry."""
    m = _ELEMENT.match(entry)
    if m is None:
        return entry, None
    return m.group(1), int(m.group(2))


def bases_and_elements(wrt: Sequence[str]) -> tuple[list[str], dict[str, set[int]]]:
    """The parameters the compiled code differentiates, in order of first mention, and
    for a parameter named only through positions inside it, those positions."""
    bases: list[str] = []
    elements: dict[str, set[int]] = {}
    whole: set[str] = set()
    for entry in wrt:
        base, index = split_entry(entry)
        if base not in bases:
            bases.append(base)
        if index is None:
            whole.add(base)
        else:
            elements.setdefault(base, set()).add(index)
    return bases, {b: e for b, e in elements.items() if b not in whole}


def resolve_wrt(
    params: list[str], wrt: Wrt, where: Loc | None = None, star: str | None = None
) -> tuple[list[str], bool]:
    """The entries of ``wrt`` (parameter names, and ``'args[i]'`` for a position inside
    the ``*args`` parameter ``star``), and whether a single (non-tuple) one was asked for."""
    single = is_position(wrt) or isinstance(wrt, str)
    if not single and not isinstance(wrt, tuple | list):
        raise AdCompileError(
            f"wrt={wrt!r} is not a position, a name, or a tuple of them", where, hint=WRT_HINT
        )
    items = [wrt] if single else list(wrt)
    if not items:
        raise AdCompileError("wrt is empty: name at least one parameter", where, hint=WRT_HINT)
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(_named(params, item, where, star))
        elif is_position(item):
            pos = int(item)
            if not -len(params) <= pos < len(params):
                raise AdCompileError(
                    f"wrt={pos} is out of range: the function has {len(params)} "
                    f"parameter{'' if len(params) == 1 else 's'} ({', '.join(params)})",
                    where,
                    hint=WRT_HINT,
                )
            names.append(params[pos])
        else:
            raise AdCompileError(
                f"wrt entries are positions or names, not {item!r}", where, hint=WRT_HINT
            )
    _check_once(names, where)
    return names, single


def _named(params: list[str], item: str, where: Loc | None, star: str | None) -> str:
    if item in params:
        return item
    base, index = split_entry(item)
    if index is not None and base in params:
        if base != star:
            raise AdCompileError(
                f"wrt={item!r} names a position inside {base!r}, which is not the function's *args",
                where,
                hint=f"name the whole parameter (wrt={base!r}): its gradient has its "
                "structure; a position is named only inside *args",
            )
        if index < 0:
            raise AdCompileError(
                f"wrt={item!r} counts from the end of *args, whose length is known only "
                "at the call",
                where,
                hint=f"count from the first extra argument: wrt='{base}[0]' is the first",
            )
        return f"{base}[{index}]"
    raise AdCompileError(
        f"wrt={item!r} is not a parameter; the parameters are {', '.join(params) or '(none)'}",
        where,
        hint=WRT_HINT,
    )


def _check_once(names: list[str], where: Loc | None) -> None:
    for k, entry in enumerate(names):
        if entry in names[:k]:
            what = f"the parameter {entry!r}" if split_entry(entry)[1] is None else repr(entry)
            raise AdCompileError(f"wrt names {what} twice", where, hint="name each parameter once")
    for entry in names:
        base, index = split_entry(entry)
        if index is not None and base in names:
            raise AdCompileError(
                f"wrt names {entry!r} and the whole parameter {base!r}",
                where,
                hint=f"name either {base!r} (the gradient of every argument in it) or "
                "positions inside it, not both",
            )


def is_position(item: object) -> bool:
    """An int (numpy integers included), but not a bool."""
    return isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_)


@dataclass(frozen=True)
class Selection:
    """How the gradients of the compiled code (one per base parameter) become the
    gradients of the wrt entries: for each entry, (its base's place, the position
    inside it or None)."""

    picks: tuple[tuple[int, int | None], ...]

    @staticmethod
    def of(wrt: Sequence[str]) -> Selection | None:
        """None when every entry is a whole parameter (nothing to pick)."""
        bases, _ = bases_and_elements(wrt)
        picks = []
        for entry in wrt:
            base, index = split_entry(entry)
            picks.append((bases.index(base), index))
        if all(i is None for _, i in picks):
            return None
        return Selection(tuple(picks))

    def pick(self, grads: object, args: tuple, index: list[int], fresh: list[bool]):
        """(gradients, inputs they are gradients of, their places in those, fresh flags):
        ``grads`` as the compiled code returns them, for arguments ``args``."""
        if len(index) == 1:
            grads = (grads,)
        out, likes, news = [], [], []
        for base, element in self.picks:
            g, x, new = grads[base], args[index[base]], fresh[base]
            if element is not None:
                g = None if g is None else g[element]
                x = x[element]
            out.append(g)
            likes.append(x)
            news.append(new)
        if len(out) == 1:
            out = out[0]
        return out, tuple(likes), list(range(len(likes))), news
