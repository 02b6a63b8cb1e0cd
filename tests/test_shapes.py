"""Shape inference (adcompile/shapes.py) against numpy: every shape it claims for an
intermediate is the shape that running the function gives it."""

from __future__ import annotations

import numpy as np
import pytest

from adcompile import frontend, pipeline, shapes
from adcompile.rules import containers


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
    (broadcasts, [(4, 3), (3,)], "ab"),  # x > 0 broadcasts its operands
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
            seen.update(
                {k: np.shape(v) for k, v in frame.f_locals.items() if not isinstance(v, list)}
            )
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


# ------------------------------------ ints of known values: sizes, lengths, loop indices


def flat_layers(params, x):
    n = len(params) // 2
    h = x
    for i in range(n):
        W = params[2 * i]
        b = params[2 * i + 1]
        h = np.tanh(h @ W + b)
    last = params[n + n - 1]
    return np.sum(h) + np.sum(last)


def mixed_elements(params, x):
    h = x
    for i in range(len(params)):
        p = params[i]  # a matrix, then a vector: no one shape
        h = h * np.sum(p)
    return np.sum(h)


def index_from_sizes(xs, W):
    h = np.zeros((W.shape[0], xs.shape[2]))
    for t in range(xs.shape[0] - 1):
        x = xs[t + 1]
        h = np.tanh(W @ h + x[: W.shape[1]])
    return np.sum(h)


def _facts_and_actual(f, args):
    kinds = tuple(containers.kind_of(a) for a in args)
    fn = pipeline.front(frontend.from_function(f), kinds)
    return shapes.infer(fn, shapes.signature_shapes(tuple(args), None)), _actual_shapes(f, args)


def test_a_list_read_at_loop_indices_of_known_values_has_known_element_shapes():
    rng = np.random.default_rng(1)
    params = [rng.normal(size=s) for s in [(4, 4), (4,), (4, 4), (4,), (4, 4), (4,)]]
    facts, actual = _facts_and_actual(flat_layers, [params, rng.normal(size=(5, 4))])
    for name in ("W", "b", "h", "last"):
        assert facts.get(name) == actual[name], name
    assert facts["n"] == facts["i"] == shapes.INT


def test_a_list_read_at_indices_with_elements_of_different_shapes_stays_unknown():
    rng = np.random.default_rng(1)
    params = [rng.normal(size=(2, 2)), rng.normal(size=2)]
    facts, actual = _facts_and_actual(mixed_elements, [params, rng.normal(size=2)])
    assert facts.get("p") is None
    for name, shape in facts.items():
        if isinstance(shape, tuple) and name in actual:
            assert shape == actual[name], name


def test_sizes_and_index_arithmetic_give_known_shapes():
    rng = np.random.default_rng(2)
    args = [rng.normal(size=(6, 5, 3)), rng.normal(size=(5, 5))]
    facts, actual = _facts_and_actual(index_from_sizes, args)
    for name in ("x", "h"):
        assert facts.get(name) == actual[name], name


def zero_step(params, x):
    s = 0.0
    for p in params[::0]:
        s = s + np.sum(p * x)
    return s


def test_a_list_slice_with_step_zero_raises_what_python_raises():
    import adcompile as ad

    params, x = [np.ones(2), np.ones(2)], np.ones(2)
    with pytest.raises(ValueError) as plain:
        zero_step(params, x)
    with pytest.raises(ValueError) as got:
        ad.grad(zero_step)(params, x)
    assert str(got.value) == str(plain.value)
