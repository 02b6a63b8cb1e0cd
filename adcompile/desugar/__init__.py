"""Desugar: the constructs that are shorthand for others, written out.

A source-to-source pass on the user's AST, run by ``pipeline.py`` before the
fence, so that every later stage sees only the smaller language:

* ``np.add.at(a, index, v)`` becomes ``a += unindex(v, a, index)``, the addition
  in place it is (``ufuncs.py``);
* ``a = b = value`` becomes ``a = value; b = a`` (``chains.py``);
* ``map(f, xs)`` becomes the generator expression ``(f(x) for x in xs)``
  (``maps.py``);
* comprehensions and the generator expressions ``sum`` and ``list`` consume
  become the loops with ``.append`` they are (``comprehensions.py``);
* a ``functools.partial`` made in the function becomes the calls it stands for
  (``partials.py``);
* nested functions and lambdas assigned to a name become helpers whose free
  variables are extra parameters (lambda lifting, ``closures.py``);
* a call of a user function in an ``if`` or ``while`` condition is computed in
  a statement first (``conditions.py``);
* ``*args``, ``**kwargs``, keyword-only and positional-only parameters become
  plain ones, holding the tuple, the dict and the values Python binds to them
  (``signature.py``; calls bind their arguments to them).

A function with none of these comes back unchanged (the same object).
"""

from __future__ import annotations

import ast
import copy
import dataclasses

from ..frontend import SourceFunction
from .chains import unchained
from .closures import LiftedFunction, Lifting
from .common import Fresh, stored_names
from .comprehensions import Comprehensions
from .conditions import Conditions
from .maps import Maps
from .partials import Partials
from .signature import BindError, bind, is_plain, plain
from .ufuncs import UfuncAt

__all__ = ["BindError", "LiftedFunction", "bind", "desugar", "is_plain"]


def desugar(src: SourceFunction) -> SourceFunction:
    """``src`` with its shorthand constructs written out (see the module's docstring)."""
    if not src.shorthand:
        return src  # (one walk of the function, shared with the later passes' names)
    fn = src.node
    fresh = Fresh(fn)
    at = UfuncAt(src, fresh, src.lookup)
    body = at.run(copy.deepcopy(fn.body))
    lookup = src.lookup
    if at.made:
        made, outer = at.made, src.lookup

        def lookup(ident: str) -> object:
            found = made.get(ident)
            return found if found is not None else outer(ident)

    body = unchained(body, fresh)
    body = Maps(fresh, lookup).run(body)
    body = Comprehensions(src, fresh, lookup).block(body)
    body = Partials(src, fresh, lookup).run(body)
    lifting = Lifting(src, fresh, lookup)
    body = lifting.run(body)
    if lifting.lifted:
        lifted, base = lifting.lifted, lookup

        def lookup(ident: str) -> object:
            found = lifted.get(ident)
            return found if found is not None else base(ident)

        for f in lifted.values():
            f.source.lookup = lookup
    params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    body = Conditions(src, fresh, lookup, params | stored_names(body)).block(body)
    flat = plain(fn)
    if flat is fn and ast.dump(ast.Module(body=body, type_ignores=[])) == ast.dump(
        ast.Module(body=fn.body, type_ignores=[])
    ):
        return src
    node = copy.copy(flat)
    node.body = body
    ast.fix_missing_locations(node)
    spelled = {**src.spelled, **fresh.spelled}
    return dataclasses.replace(src, node=node, lookup=lookup, spelled=spelled)
