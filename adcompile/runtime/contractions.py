"""Adjoints of numpy's contractions: ``np.einsum``, ``np.tensordot``, ``np.inner``,
``np.kron`` and ``np.cross``."""

from __future__ import annotations

import functools
import math

import numpy as np

from .broadcasting import unbroadcast


def _einsum_labels(subscripts, shapes):
    """The operands' labels and the output's, as strings with the ellipsis spelled out
    as letters of its own (right-aligned, as numpy broadcasts it)."""
    if not isinstance(subscripts, str):
        raise TypeError(
            "np.einsum's interleaved form (operands and lists of axes) cannot be "
            "differentiated: write the subscripts as a string"
        )
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    used = set(spec)
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    width = 0
    for term, shape in zip(inputs, shapes, strict=True):
        if "..." in term:
            width = max(width, len(shape) - (len(term) - 3))
    dots = "".join(spare[:width])
    labels = []
    for term, shape in zip(inputs, shapes, strict=True):
        if "..." in term:
            k = len(shape) - (len(term) - 3)
            term = term.replace("...", dots[width - k :] if k else "")
        labels.append(term)
    if arrow:
        output = rhs.replace("...", dots)
    else:
        counts = {}
        for term in labels:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        output = dots + "".join(sorted(c for c in counts if counts[c] == 1 and c not in dots))
    return labels, output


def _einsum_adjoint_plan(subscripts, k, shapes):
    """The adjoint of ``np.einsum(subscripts, *operands)`` (of these ``shapes``) with
    respect to operand ``k`` as one einsum of the cotangent and the other operands,
    when it is one: the subscripts of that einsum and its work (the product of its
    labels' sizes), or None when the operand repeats a
    label (a diagonal), has a label that no other term has (a broadcast), or numpy
    broadcast a label of size 1 against a larger one (a sum)."""
    labels, output = _einsum_labels(subscripts, shapes)
    size: dict = {}
    for term, shape in zip(labels, shapes, strict=True):
        for c, n in zip(term, shape, strict=True):
            if size.setdefault(c, n) != n:
                return None
    mine = labels[k]
    others = [t for j, t in enumerate(labels) if j != k]
    if len(set(mine)) != len(mine) or not set(mine) <= set(output).union(*others):
        return None
    return ",".join([output, *others]) + "->" + mine, math.prod(size.values())


@functools.lru_cache(maxsize=512)
def _cached_plan(subscripts, k, shapes):
    return _einsum_adjoint_plan(subscripts, k, shapes)


def einsum_adjoint(g, k, subscripts, *operands):
    """Adjoint of ``np.einsum(subscripts, *operands)`` with respect to operand ``k``: an
    einsum of the cotangent with the other operands, summed over what numpy broadcast,
    spread over the labels only operand ``k`` has, and written on its diagonals where
    it repeats a label."""
    operands = [op for op in operands if op is not None]
    shapes = [np.shape(op) for op in operands]
    if isinstance(subscripts, str) and len(operands) > 1:
        # one einsum of the cotangent and the other operands (planned once per
        # subscripts and shapes): numpy's result is a new array
        plan = _cached_plan(subscripts, k, tuple(shapes))
        if plan is not None:
            spec, work = plan
            others = [op for j, op in enumerate(operands) if j != k]
            r = np.einsum(spec, g, *others, optimize=work >= 1 << 16)
            return r.astype(np.result_type(g, *operands, 0.0), copy=False)
    labels, output = _einsum_labels(subscripts, shapes)
    mine, shape = labels[k], shapes[k]
    size = {}
    for term, s in zip(labels, shapes, strict=True):
        for c, n in zip(term, s, strict=True):
            size[c] = max(size.get(c, 1), n)
    for c, n in zip(output, np.shape(g), strict=True):
        size[c] = max(size.get(c, 1), n)
    unique = "".join(dict.fromkeys(mine))
    elsewhere = set(output).union(*(set(t) for j, t in enumerate(labels) if j != k))
    kept = "".join(c for c in unique if c in elsewhere)
    others = [op for j, op in enumerate(operands) if j != k]
    terms = [output, *(t for j, t in enumerate(labels) if j != k)]
    # a large contraction goes through BLAS (numpy's tensordot) when optimize= plans it;
    # a small one is faster without the plan
    work = math.prod(size.values())
    r = np.einsum(",".join(terms) + "->" + kept, g, *others, optimize=work >= 1 << 16)
    # the labels only this operand has, and those of size 1 in every other term (numpy
    # broadcast them): the result does not depend on them
    r = np.reshape(r, [r.shape[kept.index(c)] if c in kept else 1 for c in unique])
    own = {c: n for c, n in zip(mine, shape, strict=True)}
    r = np.broadcast_to(r, np.broadcast_shapes(r.shape, tuple(own[c] for c in unique)))
    # sum over what numpy broadcast (a label of size 1 here, larger elsewhere)
    ones = tuple(i for i, c in enumerate(unique) if own[c] == 1 and r.shape[i] != 1)
    if ones:
        r = r.sum(axis=ones, keepdims=True)
    dtype = np.result_type(g, *operands, 0.0)
    if len(unique) == len(mine):
        order = [unique.index(c) for c in mine]
        return np.transpose(r, order).astype(dtype, copy=True)
    # a repeated label: the operand's diagonal, written into zeros
    out = np.zeros(shape, dtype=dtype)
    grids = np.indices(r.shape, sparse=True)
    out[tuple(grids[unique.index(c)] for c in mine)] = r
    return out


def einsum_sublists(*args):
    """An array where np.einsum expects its subscripts: the interleaved form."""
    raise TypeError(
        "np.einsum's interleaved form (operands and lists of axes) cannot be "
        "differentiated: write the subscripts as a string"
    )


def _tensordot_subscripts(a, b, axes):
    na, nb = np.ndim(a), np.ndim(b)
    if np.ndim(axes) == 0:
        axes = (list(range(na - axes, na)), list(range(axes)))
    ax_a, ax_b = axes
    ax_a = [ax_a] if np.ndim(ax_a) == 0 else list(ax_a)
    ax_b = [ax_b] if np.ndim(ax_b) == 0 else list(ax_b)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    la = list(letters[:na])
    lb = list(letters[na : na + nb])
    for i, j in zip(ax_a, ax_b, strict=True):
        lb[j % nb] = la[i % na]
    contracted = {la[i % na] for i in ax_a}
    out = [c for c in la if c not in contracted] + [c for c in lb if c not in contracted]
    return "".join(la) + "," + "".join(lb) + "->" + "".join(out)


def tensordot_adjoint(g, k, a, b, axes=2):
    """Adjoint of ``np.tensordot(a, b, axes)`` with respect to operand ``k`` (0 or 1)."""
    return einsum_adjoint(g, k, _tensordot_subscripts(a, b, axes), a, b)


def tensordot_subscripts(a, b, axes=2) -> str:
    """``np.tensordot(a, b, axes)`` as the subscripts of an einsum."""
    return _tensordot_subscripts(a, b, axes)


def inner_subscripts(a, b) -> str:
    """``np.inner(a, b)`` of arrays (not numbers) as the subscripts of an einsum."""
    return _tensordot_subscripts(a, b, ([-1], [-1]))


def kron_plan(k, a, b) -> tuple:
    """What the definition of :func:`kron_adjoint` (rules/bodies.py) needs: the shape
    that shows the cotangent as blocks, the shape that spreads the other operand over
    them, the axes to sum, and operand ``k``'s shape."""
    d = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (d - np.ndim(a)) + np.shape(a)
    sb = (1,) * (d - np.ndim(b)) + np.shape(b)
    blocks = tuple(n for pair in zip(sa, sb, strict=True) for n in pair)
    spread = tuple(n for i in range(d) for n in ((1, sb[i]) if k == 0 else (sa[i], 1)))
    axes = tuple(range(1 if k == 0 else 0, 2 * d, 2))
    return blocks, spread, axes, np.shape(a if k == 0 else b)


def inner_adjoint(g, k, a, b):
    """Adjoint of ``np.inner(a, b)``: a product over the last axes (scalars multiply)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * (b if k == 0 else a), a if k == 0 else b)
    return tensordot_adjoint(g, k, a, b, ([-1], [-1]))


def kron_adjoint(g, k, a, b):
    """Adjoint of ``np.kron(a, b)``: ``g`` seen as the outer product's blocks."""
    d = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (d - np.ndim(a)) + np.shape(a)
    sb = (1,) * (d - np.ndim(b)) + np.shape(b)
    blocks = np.reshape(g, [n for pair in zip(sa, sb, strict=True) for n in pair])
    other = np.reshape(b if k == 0 else a, sb if k == 0 else sa)
    axes = tuple(range(1 if k == 0 else 0, 2 * d, 2))
    spread = [n for i in range(d) for n in ((1, sb[i]) if k == 0 else (sa[i], 1))]
    r = np.sum(blocks * np.reshape(other, spread), axis=axes)
    return np.reshape(r, np.shape(a if k == 0 else b))


def three_vectors(am, bm, k: int = 0) -> int:
    """Refuse np.cross of vectors (the last axes of ``am``, ``bm``) other than 3-vectors;
    ``k`` is passed through (the definition of uncross reads it after the check)."""
    if np.shape(am)[-1] != 3 or np.shape(bm)[-1] != 3:
        raise ValueError("np.cross is differentiated for 3-vectors only")
    return k


def uncross(g, k, a, b, axisa=-1, axisb=-1, axisc=-1):
    """Adjoint of ``np.cross(a, b, ...)`` (3-vectors) with respect to operand ``k``: the
    cross product is linear in each, c = a x b gives da = b x g and db = g x a."""
    gm = np.moveaxis(g, axisc, -1)
    am = np.moveaxis(a, axisa, -1)
    bm = np.moveaxis(b, axisb, -1)
    three_vectors(am, bm)
    d = np.cross(bm, gm) if k == 0 else np.cross(gm, am)
    x = a if k == 0 else b
    d = unbroadcast(d, np.moveaxis(x, axisa if k == 0 else axisb, -1))
    return np.moveaxis(d, -1, axisa if k == 0 else axisb)


# Every helper above, by name (defined last, so that it sees them all).
HELPERS = {
    name: obj
    for name, obj in globals().items()
    if callable(obj) and not name.startswith("_") and getattr(obj, "__module__", None) == __name__
}


def einsum_adjoint_plan(g, k, subscripts, *operands):
    """What the definition of :func:`einsum_adjoint` (rules/bodies.py) needs: the
    subscripts of the einsum of ``g``, a block of ones in place of operand ``k`` (its
    labels, each once) and the other operands, giving operand ``k``'s labels; the
    shape of the block of ones; the axes to sum (where numpy broadcast the operand);
    the operand's shape with a 1 for each repeated label; and for a repeated label the
    mask of the operand's diagonal (None without)."""
    operands = [op for op in operands if op is not None]
    shapes = [np.shape(op) for op in operands]
    labels, output = _einsum_labels(subscripts, shapes)
    mine, shape = labels[k], shapes[k]
    size = {}
    for term, s in zip(labels, shapes, strict=True):
        for c, n in zip(term, s, strict=True):
            size[c] = max(size.get(c, 1), n)
    unique = "".join(dict.fromkeys(mine))
    own = {c: n for c, n in zip(mine, shape, strict=True)}
    terms = [output, *(unique if j == k else t for j, t in enumerate(labels))]
    spec = ",".join(terms) + "->" + unique
    ones = tuple(own[c] for c in unique)
    summed = tuple(i for i, c in enumerate(unique) if own[c] == 1 and size[c] != 1)
    first = [mine.index(c) == i for i, c in enumerate(mine)]
    kept = tuple(n if keep else 1 for n, keep in zip(shape, first, strict=True))
    mask = None
    if not all(first):
        grids = np.indices(shape, sparse=True)
        mask = np.ones(shape, dtype=bool)
        for i, c in enumerate(mine):
            mask = mask & (grids[i] == grids[mine.index(c)])
    return spec, ones, summed, kept, mask


def convolution_padding(
    in1, in2, mode="full", axes=None, same_rounds_up=False, boundary="fill", fillvalue=0
) -> list[tuple[int, int]]:
    """The widths for ``np.pad`` that put the cotangent of a convolution's (or
    correlation's) result in ``mode`` where that result lies in the full one, along the
    convolved ``axes`` (every axis for None): the adjoint of the convolution is then a
    ``"valid"`` correlation of the padded cotangent. ``"same"`` is centred as scipy
    centres it (``same_rounds_up`` for correlate2d, which rounds the other way for an
    even kernel). Refused for a boundary other than zeros (``boundary="fill"``,
    ``fillvalue=0``)."""
    if boundary != "fill" or fillvalue != 0:
        raise ValueError(
            "the gradient of a 2-d convolution is supported for boundary='fill' with "
            "fillvalue=0 (zero padding) only: pad the input yourself (np.pad) and use "
            "mode='valid'"
        )
    if mode not in ("full", "valid", "same"):
        raise ValueError(f"the gradient of a convolution with mode={mode!r} is not supported")
    s1, s2 = np.shape(in1), np.shape(in2)
    ndim = len(s1)
    convolved = range(ndim) if axes is None else {a % ndim for a in np.atleast_1d(axes)}
    widths = []
    for ax in range(ndim):
        if ax not in convolved:
            widths.append((0, 0))
            continue
        n1, n2 = s1[ax], s2[ax]
        full = n1 + n2 - 1
        if mode == "full":
            start, size = 0, full
        elif mode == "valid":
            start, size = min(n1, n2) - 1, abs(n1 - n2) + 1
        else:
            start, size = (n2 // 2 if same_rounds_up else (n2 - 1) // 2), n1
        widths.append((start, full - start - size))
    return widths
