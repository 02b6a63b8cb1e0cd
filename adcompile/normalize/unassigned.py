"""The value of a variable that only a loop assigns, before the loop has run.

``for W, b in params: outputs = ...`` then ``return outputs``: Python's
``outputs`` is the last iteration's, and reading it after a loop that ran zero
times raises. The loop carries such a variable like any other, starting from an
``Unassigned`` object, which raises a located error as soon as anything uses it
(an operation, a conversion, numpy): the same program fails where Python's
does, saying which variable and which loop.
"""

from __future__ import annotations

import numpy as np

from ..errors import AdCompileError, Loc


class Unassigned:
    """Stands for a variable not yet assigned; every use raises a located error."""

    __slots__ = ("_loc", "_name")
    __array_priority__ = 1e9

    def __init__(self, name: str, loc: Loc | None) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_loc", loc)

    def _fail(self, *args, **kwargs):
        name = object.__getattribute__(self, "_name")
        raise AdCompileError(
            f"{name!r} is read, but the loop that assigns it ran zero times (Python raises "
            "UnboundLocalError here)",
            object.__getattribute__(self, "_loc"),
            hint=f"give {name} a value before the loop, or make sure the loop runs",
        )

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_name')}: not assigned>"

    def __array_function__(self, func, types, args, kwargs):
        # the reverse sweep's zero adjoint of the value a loop overwrites (nothing
        # reads an unassigned value, so nothing flows back to it)
        if func is np.zeros_like:
            return 0.0
        if func is np.result_type:
            return np.result_type(*(float if isinstance(a, Unassigned) else a for a in args))
        return self._fail()

    __array__ = __array_ufunc__ = _fail
    __bool__ = __float__ = __int__ = __index__ = __len__ = __iter__ = _fail
    __getitem__ = __call__ = __neg__ = __pos__ = __abs__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail
    __pow__ = __rpow__ = __matmul__ = __rmatmul__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = _fail
