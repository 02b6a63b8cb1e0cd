"""Records as parameters: namedtuples and dataclass instances.

A record is a tuple of its fields whose elements are read by name (``p.W``); its
kind (``rules.containers.Fields``) holds the field names, so ``normalize`` reads
``p.W`` as ``p[i]``. The generated code receives a dataclass as the plain tuple of
its fields (``plain``, applied by ``api.py`` to the arguments of a call), and the
gradient of a record is a record of the same type (``restore``): a namedtuple
made with ``_make``, a dataclass with ``dataclasses.replace``, which keeps the
fields the gradient does not hold (none here: every field is a leaf or a tree).
"""

from __future__ import annotations

import dataclasses

from .rules.containers import record_fields

__all__ = ["has_record", "plain", "record_fields", "restore"]


def has_record(value: object) -> bool:
    """Whether ``value`` is a record or a list, tuple or dict that holds one."""
    if record_fields(value) is not None:
        return True
    if isinstance(value, list | tuple):
        return any(has_record(v) for v in value)
    if isinstance(value, dict):
        return any(has_record(v) for v in value.values())
    return False


def plain(value: object) -> object:
    """``value`` with every record a plain tuple of its fields (what generated code reads)."""
    names = record_fields(value)
    if names is not None:
        return tuple(plain(getattr(value, n)) for n in names)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def restore(grad: object, like: object) -> object:
    """The gradient ``grad`` of ``like`` (computed on ``plain(like)``) with the records
    of ``like`` again: a namedtuple's gradient is that namedtuple, a dataclass's that
    dataclass (``dataclasses.replace``), the rest as it is."""
    names = record_fields(like)
    if names is not None:
        parts = [restore(g, getattr(like, n)) for g, n in zip(grad, names, strict=True)]
        if isinstance(like, tuple):
            return type(like)._make(parts)
        return dataclasses.replace(like, **dict(zip(names, parts, strict=True)))
    if isinstance(like, list | tuple):
        return type(grad)(restore(g, x) for g, x in zip(grad, like, strict=True))
    if isinstance(like, dict):
        return {k: restore(grad[k], x) for k, x in like.items()}
    return grad
