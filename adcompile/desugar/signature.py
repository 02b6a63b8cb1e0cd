"""Parameters of every kind as plain ones.

``def f(w, *args, scale=1.0, **options)`` is compiled as ``def f(w, args, scale,
options)``: the ``*args`` parameter holds the tuple of the extra positional
arguments, the ``**options`` parameter the dict of the extra keyword ones, and a
keyword-only parameter is one more parameter. That is what the names mean inside
the function in Python, so its body needs no change; what changes is the binding
of a call's arguments to the parameters, which is done where the call is known:
``api.py`` binds the arguments of the differentiated function with
``inspect.Signature.bind``, and the normalizer binds those of a call of a user
function (``normalize/calls.py``, with :func:`bind`).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from dataclasses import dataclass


def parameter_names(args: ast.arguments) -> list[str]:
    """Every parameter's name, in the order of the plain signature."""
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    if args.vararg is not None:
        names.append(args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg is not None:
        names.append(args.kwarg.arg)
    return names


def is_plain(args: ast.arguments) -> bool:
    return not (args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg)


def plain(node: ast.FunctionDef) -> ast.FunctionDef:
    """``node`` with the plain signature (the same node when it has one already): the
    defaults kept are the longest run of them that ends the new parameter list."""
    args = node.args
    if is_plain(args):
        return node
    pairs: list[tuple[ast.arg, ast.expr | None]] = []
    positional = [*args.posonlyargs, *args.args]
    first = len(positional) - len(args.defaults)
    for i, a in enumerate(positional):
        pairs.append((a, args.defaults[i - first] if i >= first else None))
    if args.vararg is not None:
        pairs.append((args.vararg, None))
    pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    if args.kwarg is not None:
        pairs.append((args.kwarg, None))
    defaults: list[ast.expr] = []
    for _, d in reversed(pairs):
        if d is None:
            break
        defaults.insert(0, d)
    new = copy.copy(node)
    new.args = ast.arguments(
        posonlyargs=[],
        args=[
            ast.arg(arg=a.arg, annotation=None, lineno=a.lineno, col_offset=a.col_offset)
            for a, _ in pairs
        ],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=defaults,
    )
    return new


@dataclass
class Bound:
    """A call's arguments bound to a callee's parameters: ``values`` by parameter name
    (for ``*args`` the list of the extra positional arguments, for ``**kwargs`` the
    list of (keyword, argument) pairs), and ``missing``, the parameters to take their
    defaults."""

    values: dict[str, object]
    missing: list[str]


class BindError(Exception):
    """What Python's TypeError would say for this call."""


def bind(
    args: ast.arguments,
    name: str,
    positional: list,
    keywords: list[tuple[str, object]],
    has_default: Callable[[str], bool],
) -> Bound:
    """Bind ``positional`` and ``keywords`` (already expanded from ``*`` and ``**``) to
    the parameters of ``args`` as Python does; a :class:`BindError` for a call Python
    would refuse with a TypeError."""
    values: dict[str, object] = {}
    pos = [a.arg for a in [*args.posonlyargs, *args.args]]
    posonly = {a.arg for a in args.posonlyargs}
    kwonly = [a.arg for a in args.kwonlyargs]
    if len(positional) > len(pos) and args.vararg is None:
        raise BindError(
            f"{name}() takes {len(pos)} positional argument{'s' * (len(pos) != 1)} "
            f"but {len(positional)} were given"
        )
    for p, v in zip(pos, positional, strict=False):
        values[p] = v
    if args.vararg is not None:
        values[args.vararg.arg] = list(positional[len(pos) :])
    extra: list[tuple[str, object]] = []
    for k, v in keywords:
        if (k in pos and k not in posonly) or k in kwonly:
            if k in values:
                raise BindError(f"{name}() got multiple values for argument {k!r}")
            values[k] = v
        elif args.kwarg is not None:
            if any(k == e for e, _ in extra):
                raise BindError(f"{name}() got multiple values for keyword argument {k!r}")
            extra.append((k, v))
        else:
            raise BindError(f"{name}() got an unexpected keyword argument {k!r}")
    if args.kwarg is not None:
        values[args.kwarg.arg] = extra
    missing = []
    for p in [*pos, *kwonly]:
        if p in values:
            continue
        if not has_default(p):
            raise BindError(f"{name}() missing required argument {p!r}")
        missing.append(p)
    return Bound(values, missing)
