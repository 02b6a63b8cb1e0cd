"""Shape inference (adcompile/shapes.py) against numpy: every shape it claims for an
intermediate is the shape that running the function gives it."""

from __future__ import annotations

import numpy as np
import pytest

from adcompile import frontend, pipeline, shapes


def slices(x):
    a = x[1:3]
    b = x[::-1, :2]
    c = x[None, 0]
    d = x[..., 1]
    e = x[1:6:2, None]
    return np.sum(a) + np.sum(b) + np.sum(c) + np.sum(d) + np.sum(e)


def reductions(x):
    a = np.sum(x, axis=0)
    b = np.mean(x, axis=(0, 1), keepdims=True)
    c = np.max(x, axis=-1)
    return np.sum(a) + np.sum(b) + np.sum(c)


def reshapes(x):
    a = np.reshape(x, (3, 4))
    b = np.transpose(a)
    c = np.expand_dims(b, 1)
    d = np.squeeze(c, 1)
    return np.sum(d @ a)


def broadcasts(x, v):
    a = np.tanh(x) * v
    b = np.where(x > 0, a, 0.0)
    return np.sum(np.clip(b, -1.0, v))


def out_of_range(x):
    a = x[7:9]  # empty, not an error
    return np.sum(a)


def made_arrays(x, v):
    a = np.zeros((x.shape[0], 3))
    b = np.zeros_like(v)
    c = np.ones((3, x.shape[-1]))
    a[0] = b
    return np.sum(a @ c) + np.sum(b * v)


def linear_algebra(x, y, s):
    n = x.shape[0]
    a = x @ x.T + np.eye(n)
    b = np.linalg.solve(a, y)
    c = np.linalg.solve(a, x)
    d = np.linalg.slogdet(a)[1]
    e = 0.5 * n * np.log(2 * np.pi)
    f = np.einsum("ij,kj->ik", x, x) + np.einsum("ii", a)
    g = np.einsum("...j,jk", s, c.T)
    h = np.linalg.solve(s[:, :, :3] + np.eye(3), y[:3])  # a stack of matrices, one vector
    return np.sum(b) + np.sum(c) + d + e + np.sum(f) + np.sum(g) + np.sum(h)


# each function, its arguments' shapes, and the locals whose shape must be known
CASES = [
    (slices, [(4, 3)], "abcde"),
    (reductions, [(2, 3, 4)], "abc"),
    (reshapes, [(2, 6)], "abcd"),
    (broadcasts, [(4, 3), (3,)], "a"),  # (x > 0 has no shape rule: b stays unknown)
    (out_of_range, [(4, 3)], "a"),
    (made_arrays, [(4, 2), (3,)], "abc"),
    (linear_algebra, [(4, 3), (4,), (2, 3, 3)], "abcdefgh"),
]


def _actual_shapes(f, args):
    """The shape of every local of ``f`` after running it, by tracing its frame."""
    import sys

    seen = {}

    def tracer(frame, event, arg):
        if frame.f_code is f.__code__ and event == "return":
            seen.update({k: np.shape(v) for k, v in frame.f_locals.items()})
        return tracer

    sys.settrace(tracer)
    try:
        f(*args)
    finally:
        sys.settrace(None)
    return seen


@pytest.mark.parametrize("f, arg_shapes, known", CASES, ids=[c[0].__name__ for c in CASES])
def test_known_shapes_are_numpys(f, arg_shapes, known):
    rng = np.random.default_rng(0)
    args = [rng.normal(size=s) for s in arg_shapes]
    fn = pipeline.front(frontend.from_function(f))
    facts = shapes.infer(fn, shapes.signature_shapes(tuple(args), None))
    actual = _actual_shapes(f, args)
    for name in known:
        assert facts.get(name) is not None, f"the shape of {name} is not known"
    for name, shape in facts.items():
        if shape is not None and name in actual:
            assert (() if shape == shapes.INT else shape) == actual[name], name
