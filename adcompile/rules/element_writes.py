"""Records of the runtime helpers of a gradient's own element writes (``x[i] = v``),
read back for forward mode: hvp, hessian and jvp of a gradient (regenerate.py writes
them as ``x = set_at(x, i, v)`` and ``x = set_elements(x, np.s_[...], v)``).
Reverse over reverse of such code is refused before (``regenerate.compile_again``):
it would need the values each write overwrote. ``assigned_part`` is linear in the
adjoint ``g`` (the part the write kept), ``copy_array`` is a copy, ``writable_adjoint``
a broadcast copy."""

from __future__ import annotations

import numpy as np

from ..runtime import (
    assigned_part,
    copy_array,
    set_elements,
    set_elements_tangent,
    unbroadcast,
    writable_adjoint,
)
from .record import UNKNOWN
from .registry import adjoint
from .tangents import tangent


@adjoint(assigned_part, shape=UNKNOWN, fresh=True)
def assigned_part_rule(dz, z, g, index, v):
    return set_elements(np.zeros(np.shape(g), dtype=np.result_type(g, 0.0)), np.s_[index], dz)


@tangent(assigned_part)
def assigned_part_tangent(dg, z, g, index, v):
    return assigned_part(dg, np.s_[index], v)


@adjoint(set_elements, shape=UNKNOWN, fresh=False)
def set_elements_rule(dz, z, x, index, v):
    return (
        set_elements(writable_adjoint(dz, x), np.s_[index], 0.0),
        None,
        assigned_part(dz, np.s_[index], v),
    )


@tangent(set_elements)
def set_elements_tangent_rule(dx, dv, z, x, index, v):
    return set_elements_tangent(dx, x, np.s_[index], dv)


@adjoint(writable_adjoint, shape=UNKNOWN, fresh=True)
def writable_adjoint_rule(dz, z, g, x):
    return unbroadcast(dz, g)


@tangent(writable_adjoint)
def writable_adjoint_tangent(dg, z, g, x):
    return writable_adjoint(dg, x)


@adjoint(copy_array, shape=UNKNOWN, fresh=True)
def copy_array_rule(dz, z, x):
    return dz


@tangent(copy_array)
def copy_array_tangent(dx, z, x):
    return copy_array(dx)
