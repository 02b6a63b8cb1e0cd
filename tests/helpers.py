"""Shared test helpers: central finite differences in float64, and a gradient check."""

from __future__ import annotations

import ast
import re
import threading
from pathlib import Path

import numpy as np

import adcompile as ad
from adcompile.checking import numeric_grad


def assert_grad_matches_fd(f, *args, wrt=0, rtol=1e-6, atol=1e-8, eps=1e-6):
    """Compile ``grad(f, wrt)``, call it on ``args`` and compare with central differences.

    Also checks that each gradient has the type, shape and dtype of its input.
    Returns the gradients (a tuple when ``wrt`` is a tuple).
    """
    import inspect

    params = list(inspect.signature(f).parameters)
    single = isinstance(wrt, int | str)
    items = [wrt] if single else list(wrt)
    idx = [w if isinstance(w, int) else params.index(w) for w in items]
    before = [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]
    g = ad.grad(f, wrt=wrt)(*args)
    for a, b in zip(args, before, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg="the gradient mutated an input")
    grads = [g] if single else list(g)
    for gi, i in zip(grads, idx, strict=True):
        x = args[i]
        if isinstance(x, np.ndarray):
            assert isinstance(gi, np.ndarray), f"gradient of {params[i]} is {type(gi)}"
            assert gi.shape == x.shape, (gi.shape, x.shape)
            assert gi.dtype == x.dtype, (gi.dtype, x.dtype)
        elif isinstance(x, float):
            assert type(gi) is float, f"gradient of float {params[i]} is {type(gi)}"
        fd = numeric_grad(f, list(args), i, eps)
        np.testing.assert_allclose(
            np.asarray(gi, dtype=float),
            fd,
            rtol=rtol,
            atol=atol,
            err_msg=f"gradient of {params[i]} disagrees with finite differences",
        )
    return g


def leaves(tree):
    """The array/number leaves of a (nested) list/tuple/dict, in a fixed order."""
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in leaves(tree[k])]
    if isinstance(tree, list | tuple):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


def replace_leaf(tree, index, value):
    """A copy of ``tree`` with leaf number ``index`` replaced by ``value``."""
    counter = [0]

    def walk(t):
        if isinstance(t, dict):
            return {k: walk(v) for k, v in t.items()}
        if isinstance(t, list | tuple):
            return type(t)(walk(v) for v in t)
        i = counter[0]
        counter[0] += 1
        return value if i == index else t

    return walk(tree)


def assert_tree_grad_matches_fd(f, *args, wrt=0, rtol=1e-6, atol=1e-8, eps=1e-6):
    """Like :func:`assert_grad_matches_fd` for arguments that are containers of arrays:
    the gradient must have the argument's structure, leaf by leaf."""
    single = isinstance(wrt, int)
    items = [wrt] if single else list(wrt)
    g = ad.grad(f, wrt=wrt)(*args)
    grads = [g] if single else list(g)
    for gi, i in zip(grads, items, strict=True):
        tree = args[i]
        assert type(gi) is type(tree), (type(gi), type(tree))
        if isinstance(tree, dict):
            assert list(gi) == list(tree)
        for k, (gl, x) in enumerate(zip(leaves(gi), leaves(tree), strict=True)):

            def h(leaf, k=k, i=i, tree=tree):
                new = list(args)
                new[i] = replace_leaf(tree, k, leaf)
                return f(*new)

            fd = numeric_grad(h, [x], 0, eps)
            assert np.shape(gl) == np.shape(x)
            np.testing.assert_allclose(
                np.asarray(gl, dtype=float),
                fd,
                rtol=rtol,
                atol=atol,
                err_msg=f"leaf {k} of argument {i} disagrees with finite differences",
            )
    return g


def threaded(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads that start together; their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


# A name the compiler makes up: a user's name with a numeric suffix (h_3, new_shape_4,
# f1_1), an underscored temporary (_t12), or an internal key (<result>, <sequence 2>).
# Not part of a dotted name (np.float64, functools._lru_cache_wrapper).
GENERATED_NAME = re.compile(
    r"(?<![\w.])(?:[A-Za-z_]\w*_\d+|_[A-Za-z]+\d+)(?!\w)|<result>|<sequence \d+>"
)


def generated_names(text: str, source: str) -> list[str]:
    """The names in ``text`` (a message) that look generated and that ``source``, the
    user's code the message is about, does not contain as identifiers."""
    user = set(re.findall(r"[A-Za-z_]\w*", source))
    return [m for m in GENERATED_NAME.findall(text) if m not in user]


def function_source_at(filename: str | None, lineno: int | None) -> str:
    """The source of the innermost function around ``filename:lineno`` (the whole file
    when no function is around it; "" without a readable file)."""
    if not filename or not lineno:
        return ""
    try:
        text = Path(filename).read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ""
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.lineno <= lineno <= (node.end_lineno or node.lineno):
                if best is None or node.lineno >= best.lineno:
                    best = node
    return text if best is None else (ast.get_source_segment(text, best) or "")


def softmax_mlp(params, x, labels):
    """A softmax cross-entropy MLP with its layers in a list of (W, b) pairs."""
    h = x
    for i in range(len(params) - 1):
        W, b = params[i]
        h = np.tanh(h @ W + b)
    W, b = params[-1]
    logits = h @ W + b
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(labels * logp, axis=1))


def mlp_args(seed=0):
    """Parameters (sizes 4-5-3), inputs and one-hot labels for ``softmax_mlp``."""
    rng = np.random.default_rng(seed)
    sizes = [4, 5, 3]
    params = [
        (rng.normal(size=(a, b)) * 0.7, rng.normal(size=b) * 0.1)
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    x = rng.normal(size=(6, 4))
    labels = np.eye(3)[rng.integers(0, 3, size=6)]
    return params, x, labels


def normal(*shape: int, seed: int = 0) -> np.ndarray:
    """Standard normal values of ``shape`` from a seeded generator."""
    return np.random.default_rng(seed).normal(size=shape)


def load_with_autograd(tmp_path_factory, source: str, stem: str) -> tuple:
    """The module ``source`` defines, loaded twice: as written, and with ``np`` bound to
    ``autograd.numpy`` (the oracle)."""
    from fuzzcheck import load

    directory = tmp_path_factory.mktemp(stem)
    plain, _ = load(directory, source, stem)
    auto, _ = load(
        directory, source.replace("import numpy as np", "import autograd.numpy as np"), stem + "_ag"
    )
    return plain, auto


def central_in_argument(f, args: tuple, position: int, eps: float = 1e-6) -> np.ndarray:
    """Central differences of ``f(*args)`` in the argument at ``position`` (a float or a
    float array; a float is passed back as a float)."""
    x0 = np.array(args[position], dtype=float)
    out = np.zeros(x0.shape)
    for i in np.ndindex(*x0.shape):
        values = []
        for step in (eps, -eps):
            x = x0.copy()
            x[i] += step
            moved = list(args)
            moved[position] = x if x.shape else float(x)
            values.append(f(*moved))
        out[i] = (values[0] - values[1]) / (2 * eps)
    return out


def central_in_trees(f, args: tuple, wrt: tuple, eps: float = 1e-6) -> np.ndarray:
    """Central differences of ``f(*args)`` in every leaf of the arguments at the
    positions ``wrt`` (lists, tuples and dicts of floats and arrays), flattened."""
    from fuzzcheck import flat, unflat

    trees = [args[i] for i in wrt]
    x0 = flat(trees)
    out = np.zeros(x0.size)
    for k in range(x0.size):
        values = []
        for step in (eps, -eps):
            x = x0.copy()
            x[k] += step
            moved = list(args)
            for i, t in zip(wrt, unflat(trees, x), strict=True):
                moved[i] = t
            values.append(f(*moved))
        out[k] = (values[0] - values[1]) / (2 * eps)
    return out


def assert_gradient_penalty_matches_autograd(f, g, args: tuple, rtol: float, atol: float) -> None:
    """Reverse over reverse: the gradient of ``sum(sin(grad(f)(*args)))`` in the first
    argument equals autograd's of the same penalty of ``g`` (``f`` written with
    ``autograd.numpy``); ``f`` takes one or two arguments."""
    import autograd
    import autograd.numpy as anp

    df = ad.grad(f)
    if len(args) == 1:

        def penalty(x):
            return np.sum(np.sin(df(x)))

    else:

        def penalty(x, W):
            return np.sum(np.sin(df(x, W)))

    def apenalty(*a):
        return anp.sum(anp.sin(autograd.grad(g)(*a)))

    np.testing.assert_allclose(
        ad.grad(penalty)(*args), autograd.grad(apenalty)(*args), rtol=rtol, atol=atol
    )


def rnn(h0, W, U, xs):
    """A tanh RNN over the rows of ``xs`` whose loss sums the squared states."""
    h = h0
    total = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
        total = total + np.sum(h * h)
    return total


def rnn_args(seed: int = 4) -> tuple:
    """``rnn``'s arguments: state 3, input 2, five steps."""
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=3),
        rng.normal(size=(3, 3)) * 0.5,
        rng.normal(size=(3, 2)),
        rng.normal(size=(5, 2)),
    )


def assert_jvp_agrees_with_grad(tmp_path, body: str, args: list, wrt: tuple, seed: int = 0):
    """The module ``import numpy as np`` + ``body``: its ``f``'s jvp along random
    directions has f's value and the directional derivative its gradient gives."""
    import fuzzcheck
    import pytest

    module, path = fuzzcheck.load(tmp_path, "import numpy as np\n" + body)
    try:
        f = module.f
        rng = np.random.default_rng(seed)
        directions = tuple(rng.normal(size=np.shape(args[w])) for w in wrt)
        value, tangent = ad.jvp(f, wrt=wrt)(*args, directions)
        assert value == pytest.approx(f(*args), rel=1e-12)
        grads = ad.grad(f, wrt=wrt)(*args)
        expected = sum(np.sum(g * d) for g, d in zip(grads, directions, strict=True))
        assert tangent == pytest.approx(expected, rel=1e-9, abs=1e-12)
    finally:
        fuzzcheck.forget(module, path)


def assert_hvp_is_checked(tmp_path, body: str, args: list, wrt: tuple):
    """``f``'s hvp (module ``import numpy as np`` + ``body``) against differences of
    its gradient: checked, not refused."""
    import fuzzcheck

    module, path = fuzzcheck.load(tmp_path, "import numpy as np\n" + body)
    try:
        assert fuzzcheck.check_hvp(module.f, [np.copy(a) for a in args], wrt) == "hvp"
    finally:
        fuzzcheck.forget(module, path)
