"""Every rule's function (test_forward.py's CASES, one function per tangent rule and
adjoint) on inputs of unusual kinds: float32 arrays, 0-d arrays and Python ints in place
of Python floats, integer arrays for a parameter not differentiated, arrays with no
elements. Where the function itself runs, grad (through vjp) and jvp either give the
derivative (the two agree, and agree with central differences in float64) or refuse
with an AdCompileError: never an exception of adcompile's own code."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import leaves
from test_forward import CASES, _copy, _map, _random_like

import adcompile as ad


def _variants(args: tuple) -> dict[str, tuple]:
    out = {
        "float32": tuple(
            a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a
            for a in args
        ),
        "0d": tuple(np.array(a) if isinstance(a, float) else a for a in args),
        "empty": tuple(
            np.zeros((0, *a.shape[1:])) if isinstance(a, np.ndarray) and a.ndim else a for a in args
        ),
    }
    for i, a in enumerate(args):
        if isinstance(a, float):
            out[f"int{i}"] = tuple(int(round(b)) if j == i else b for j, b in enumerate(args))
        elif isinstance(a, np.ndarray) and a.dtype == np.float64 and len(args) > 1:
            out[f"int_array{i}"] = tuple(
                np.round(b * 3).astype(np.int64) if j == i else b for j, b in enumerate(args)
            )
    return {k: v for k, v in out.items() if any(x is not a for x, a in zip(v, args, strict=True))}


def _inner(a, b) -> float:
    return sum(
        float(np.sum(np.asarray(x, float) * np.asarray(y, float)))
        for x, y in zip(leaves(a), leaves(b), strict=True)
    )


def _floating(a) -> bool:
    return isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")


CALLS = [
    (f, kind, args) for f, original in CASES for kind, args in sorted(_variants(original).items())
]


@pytest.mark.parametrize(
    ("f", "kind", "args"),
    CALLS,
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_odd_inputs_give_the_derivative_or_a_located_refusal(f, kind, args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = f(*_copy(args))
        except Exception:
            pytest.skip("the function itself does not run on these inputs")
        wrt = tuple(i for i, a in enumerate(args) if _floating(a))
        if not wrt:
            pytest.skip("nothing to differentiate")
        rng = np.random.default_rng(0)
        tangents = tuple(_random_like(args[i], rng) for i in wrt)
        cotangent = _random_like(value, rng)
        jvp, vjp = ad.jvp(f, wrt=wrt), ad.vjp(f, wrt=wrt)
        try:
            for _ in range(2):  # the slow path, then the dispatcher's
                _, tangent = jvp(*_copy(args), tangents)
                grads = vjp(*_copy(args), **{vjp.cotangent: cotangent})
        except ad.AdCompileError:
            return
        for g, i in zip(grads, wrt, strict=True):
            assert np.shape(g) == np.shape(args[i])
        forward, reverse = _inner(cotangent, tangent), _inner(grads, tangents)
        if not np.isfinite(forward):
            return
        tol = 1e-3 if kind == "float32" else 1e-8
        assert abs(forward - reverse) <= tol * (abs(forward) + abs(reverse) + 1e-9)
        if kind in ("float32", "empty"):
            return
        eps = 1e-6
        plus, minus = list(_copy(args)), list(_copy(args))
        for t, i in zip(tangents, wrt, strict=True):
            plus[i], minus[i] = plus[i] + eps * t, minus[i] - eps * t
        up, down = f(*plus), f(*minus)
        if any(np.shape(u) != np.shape(d) for u, d in zip(leaves(up), leaves(down), strict=True)):
            return  # (np.arange of a moved bound: another length)
        slope = _map(
            lambda u, d: (np.asarray(u, float) - np.asarray(d, float)) / (2 * eps), up, down
        )
        fd = _inner(cotangent, slope)
        assert abs(fd - forward) <= 1e-4 * (abs(fd) + abs(forward) + 1e-6)
