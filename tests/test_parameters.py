"""*args, **kwargs, keyword-only parameters, call-site * and ** unpacking, tuple
concatenation and dict displays: in the differentiated function and in the helpers it
calls, in every mode.

Each function below is checked against the function run by plain Python (its value),
central finite differences in float64 and autograd (the same text run with autograd's
numpy) for ``grad``, ``value_and_grad`` and ``vjp``; ``jvp`` and ``hvp`` along a random
direction against the gradient and against finite differences of the gradient.
"""

from __future__ import annotations

import functools
import inspect
import textwrap

import autograd
import numpy as np
import pytest
from fuzzcheck import flat, load, unflat
from helpers import central_in_trees, load_with_autograd, normal

import adcompile as ad

SOURCE = textwrap.dedent(
    """
    import functools

    import numpy as np


    def scaled(x, *, scale=2.0):
        return np.sum(np.tanh(x) ** 2) * scale


    def summed(*xs):
        total = 0.0
        for x in xs:
            total = total + np.sum(x * x)
        return total


    def weighted(w, *xs, power=2.0, **options):
        out = w * (1.0 + xs[0] ** 2) ** (power / 2)
        for x in xs[1:]:
            out = out + options["gain"] * np.sin(x)
        return np.sum(out) * options["bias"]


    def concat_and_multiply(weights, *args):
        cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
        return np.dot(cat_state, weights)


    def star_args_function(weights, a, b):
        return np.sum(np.tanh(concat_and_multiply(weights, a, b)))


    def keyword_only_helper(x, *, scale, shift=0.5):
        return scale * np.exp(-x) + shift


    def calls_keyword_only(x, s):
        return np.sum(keyword_only_helper(x, scale=s)) + np.sum(
            keyword_only_helper(x, shift=s, scale=2.0)
        )


    def star_call(x, y):
        pair = (x, y)
        return summed(*pair) + summed(*(x, y * 2.0)) + summed()


    def positional_only(x, y=2.0, /, *, z=0.5):
        return np.sum(np.sin(x) * y + z * x)


    def calls_positional_only(x, y):
        return positional_only(x, y, z=y) + positional_only(x)


    def star_of_a_list(x, xs):
        ys = [np.sin(xs[0]), x]
        return summed(*ys) + summed(*[x, x]) + summed(*xs)


    def double_star_call(x, y):
        cfg = {"gain": y, "bias": 3.0}
        return weighted(x, x, y, **cfg) + weighted(x, y, **{"gain": y, "bias": 1.5})


    def keywords_to_kwargs(x, y):
        return weighted(x, y, x, power=3.0, gain=y, bias=0.5)


    def tuple_concatenation(x, y):
        parts = (x,) + (y, x * y)
        more = parts + (np.sin(x),)
        a, b, c, d = (np.cos(y),) + more[1:]
        return np.sum(a * b + c * d) + np.sum(more[0])


    def list_extension(x, xs):
        ys = xs + [x, np.sin(x)]
        total = 0.0
        for y in ys:
            total = total + np.sum(y * y)
        return total + np.sum(xs[0])


    def shape_concatenation(x):
        column = np.reshape(x, x.shape + (1,))
        return np.sum(column * np.tanh(column.T))


    def dict_display(x, y):
        p = {"W": x, "b": y, "W": x * 2.0}
        q = dict(W=p["W"], b=np.tanh(p["b"]))
        return np.sum(q["W"] ** 2) + np.sum(q["b"] * p["b"])


    def dict_to_helper(x, y):
        return helper_of_dict({"W": x, "b": y}, 0.5)


    def helper_of_dict(params, c):
        return np.sum(np.tanh(params["W"] * c + params["b"]))


    def returns_dict_helper(x):
        d = make_dict(x)
        return np.sum(d["a"] * d["b"])


    def make_dict(x):
        return {"a": np.sin(x), "b": x ** 2}


    def softplus(z, k=1.0):
        return np.log(1.0 + np.exp(k * z)) / k


    def mlp(W, x, nonlinearity=np.tanh):
        return np.sum(nonlinearity(W @ x) ** 2)


    def layer(W, x, act):
        return act(W @ x)


    def helpers_as_values(W, x):
        return np.sum(layer(W, x, softplus) * layer(W, x, np.sin))


    def passes_its_parameter(W, x, act=softplus):
        return np.sum(layer(W, x, act))


    def partial_inside(W, x, s):
        sharp = functools.partial(softplus, k=s)
        first = functools.partial(layer, W)
        return np.sum(sharp(W @ x)) + np.sum(first(x, np.tanh))


    def dict_comprehension(x, y):
        p = {k: x ** (k + 1) * y for k in range(3)}
        q = {name + "_W": np.sin(x) * y for name in ("first", "second")}
        return np.sum(p[0] + p[1] * p[2]) + np.sum(q["first_W"] * q["second_W"])


    def function_variables(x):
        activation = np.tanh
        other = softplus
        again = activation
        abs = np.sin  # (a local named like a builtin: the local's function)
        return np.sum(activation(x) * other(x) + again(x) + abs(x))


    doubled = functools.partial(np.multiply, 2.0)


    def module_level_partial(x):
        return np.sum(doubled(x) * x) + np.sum(range(3)) * np.sum(x)


    def range_index(x):
        r = range(1, 3)
        return np.sum(x[r] ** 2) + np.sum(x[range(2)] * x[r])


    def varargs_and_keywords(x, *rest, k=1.0, **extra):
        total = np.sum(x ** 2) * k
        for r in rest:
            total = total + np.sum(np.sin(r) * x)
        return total + extra["c"] * np.sum(x)
    """
)


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    return load_with_autograd(tmp_path_factory, SOURCE, "parameters")


def central(f, trees: list, eps: float = 1e-6) -> np.ndarray:
    return central_in_trees(f, tuple(trees), tuple(range(len(trees))), eps)


def caller(f, args: tuple, kwargs: dict, wrt: tuple):
    """``f`` as a function of the ``wrt`` parameters' values (the others fixed)."""
    sig = inspect.signature(f)

    def call(*values):
        bound = sig.bind(*args, **kwargs)
        for name, v in zip(wrt, values, strict=True):
            bound.arguments[name] = v
        return f(*bound.args, **bound.kwargs)

    return call


CASES = [
    ("scaled", lambda: ((normal(4),), {"scale": 3.0}), ("x", "scale")),
    ("scaled", lambda: ((normal(3, 2),), {}), ("x",)),
    ("summed", lambda: ((normal(3), normal(2, seed=1), 0.7), {}), ("xs",)),
    (
        "weighted",
        lambda: ((0.3, normal(3), normal(3, seed=2)), {"gain": 1.5, "bias": 0.5}),
        ("w", "xs", "power", "options"),
    ),
    (
        "star_args_function",
        lambda: ((normal(6, 2), normal(3, 2, seed=1), normal(3, 3, seed=2)), {}),
        ("weights", "a", "b"),
    ),
    ("calls_keyword_only", lambda: ((normal(4), 0.8), {}), ("x", "s")),
    ("star_call", lambda: ((normal(4), normal(4, seed=3)), {}), ("x", "y")),
    (
        "star_of_a_list",
        lambda: ((normal(3), [normal(3, seed=1), normal(2, seed=2)]), {}),
        ("x", "xs"),
    ),
    ("positional_only", lambda: ((normal(3), 1.5), {"z": 0.3}), ("x", "y", "z")),
    ("calls_positional_only", lambda: ((normal(3), 1.5), {}), ("x", "y")),
    ("double_star_call", lambda: ((normal(3), normal(3, seed=4)), {}), ("x", "y")),
    ("keywords_to_kwargs", lambda: ((normal(3), normal(3, seed=5)), {}), ("x", "y")),
    ("tuple_concatenation", lambda: ((normal(3), normal(3, seed=6)), {}), ("x", "y")),
    (
        "list_extension",
        lambda: ((normal(3), [normal(3, seed=20), normal(3, seed=21)]), {}),
        ("x", "xs"),
    ),
    ("shape_concatenation", lambda: ((normal(4),), {}), ("x",)),
    ("dict_display", lambda: ((normal(3), normal(3, seed=7)), {}), ("x", "y")),
    ("dict_to_helper", lambda: ((normal(3), normal(3, seed=8)), {}), ("x", "y")),
    ("returns_dict_helper", lambda: ((normal(3),), {}), ("x",)),
    ("mlp", lambda: ((normal(3, 4), normal(4, seed=11)), {}), ("W", "x")),
    ("mlp", lambda: ((normal(3, 4), normal(4, seed=11), np.sin), {}), ("W",)),
    ("helpers_as_values", lambda: ((normal(3, 4), normal(4, seed=12)), {}), ("W", "x")),
    ("passes_its_parameter", lambda: ((normal(3, 4), normal(4, seed=13)), {}), ("W", "x")),
    ("partial_inside", lambda: ((normal(3, 4), normal(4, seed=14), 1.5), {}), ("W", "x", "s")),
    ("dict_comprehension", lambda: ((normal(3), normal(3, seed=15)), {}), ("x", "y")),
    ("function_variables", lambda: ((normal(4, seed=17),), {}), ("x",)),
    ("module_level_partial", lambda: ((normal(4, seed=18),), {}), ("x",)),
    ("range_index", lambda: ((normal(4),), {}), ("x",)),
    (
        "varargs_and_keywords",
        lambda: ((normal(3), normal(3, seed=9), normal(3, seed=10)), {"k": 2.0, "c": 0.3}),
        ("x", "rest", "k", "extra"),
    ),
]


def ids(case):
    return f"{case[0]}-{'-'.join(case[2])}"


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_gradient_in_every_mode(modules, case):
    plain, auto = modules
    name, make, wrt = case
    args, kwargs = make()
    f, fa = getattr(plain, name), getattr(auto, name)
    bound = inspect.signature(f).bind(*args, **kwargs)
    bound.apply_defaults()
    trees = [bound.arguments[w] for w in wrt]
    fd = central(caller(f, args, kwargs, wrt), trees)
    ag = flat(
        list(
            autograd.grad(lambda *v: caller(fa, args, kwargs, wrt)(*v), tuple(range(len(wrt))))(
                *trees
            )
        )
    )
    np.testing.assert_allclose(ag, fd, rtol=1e-5, atol=1e-7, err_msg="autograd vs differences")
    value = f(*args, **kwargs)

    g = ad.grad(f, wrt=wrt)(*args, **kwargs)
    np.testing.assert_allclose(flat(list(g)), ag, rtol=1e-7, atol=1e-9, err_msg="grad")
    for gi, x in zip(g, trees, strict=True):
        assert type(gi) is type(x) or isinstance(x, tuple) and isinstance(gi, tuple), (gi, x)
    g2 = ad.grad(f, wrt=wrt)(*args, **kwargs)  # a second call: the same code, again
    np.testing.assert_allclose(flat(list(g2)), ag, rtol=1e-7, atol=1e-9)

    v, g = ad.value_and_grad(f, wrt=wrt)(*args, **kwargs)
    assert v == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(flat(list(g)), ag, rtol=1e-7, atol=1e-9, err_msg="value_and_grad")

    g = ad.vjp(f, wrt=wrt)(*args, **kwargs, cotangent=2.0)
    np.testing.assert_allclose(flat(list(g)), 2.0 * ag, rtol=1e-7, atol=1e-9, err_msg="vjp")

    rng = np.random.default_rng(1)
    direction = rng.normal(size=ag.size)
    tangents = tuple(unflat(trees, direction))
    out, dout = ad.jvp(f, wrt=wrt)(*args, **kwargs, tangent=tangents)
    assert out == pytest.approx(value, rel=1e-12)
    assert dout == pytest.approx(ag @ direction, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_hvp(modules, case):
    plain, _ = modules
    name, make, wrt = case
    args, kwargs = make()
    f = getattr(plain, name)
    bound = inspect.signature(f).bind(*args, **kwargs)
    bound.apply_defaults()
    trees = [bound.arguments[w] for w in wrt]
    x0 = flat(trees)
    v = np.random.default_rng(2).normal(size=x0.size)
    grad = ad.grad(f, wrt=wrt)

    def gradient_at(x):
        call_args = dict(bound.arguments)
        for w, t in zip(wrt, unflat(trees, x), strict=True):
            call_args[w] = t
        b = inspect.signature(f).bind_partial()
        b.arguments.update(call_args)
        return flat(list(grad(*b.args, **b.kwargs)))

    eps = 1e-5
    fd = (gradient_at(x0 + eps * v) - gradient_at(x0 - eps * v)) / (2 * eps)
    hv = ad.hvp(f, wrt=wrt)(*args, tuple(unflat(trees, v)), **kwargs)
    np.testing.assert_allclose(flat(list(hv)), fd, rtol=1e-5, atol=1e-7)


def test_a_partial_passed_in_is_called_with_its_arguments(modules):
    plain, auto = modules
    W, x = normal(3, 4), normal(4, seed=16)
    act = functools.partial(plain.softplus, k=3.0)
    twin = functools.partial(auto.softplus, k=3.0)
    expected = autograd.grad(auto.passes_its_parameter, (0, 1))(W, x, twin)
    fd = central(lambda a, b: plain.passes_its_parameter(a, b, act), [W, x])
    np.testing.assert_allclose(flat(list(expected)), fd, rtol=1e-5, atol=1e-7)
    for mode in (ad.grad, ad.value_and_grad):
        got = mode(plain.passes_its_parameter, wrt=(0, 1))(W, x, act)
        got = got[1] if mode is ad.value_and_grad else got
        np.testing.assert_allclose(flat(list(got)), flat(list(expected)), rtol=1e-9)
    # another function (or partial) passed: code compiled for it, not the first one's
    other = functools.partial(plain.softplus, k=0.5)
    got = ad.grad(plain.passes_its_parameter, wrt=(0, 1))(W, x, other)
    want = autograd.grad(auto.passes_its_parameter, (0, 1))(
        W, x, functools.partial(auto.softplus, k=0.5)
    )
    np.testing.assert_allclose(flat(list(got)), flat(list(want)), rtol=1e-9)


REFUSED = textwrap.dedent(
    """
    import functools

    import numpy as np


    def helper(a, b, *, k):
        return a * b * k


    def too_many(x):
        return np.sum(helper(x, x, x, k=1.0))


    def missing_keyword(x):
        return np.sum(helper(x, x))


    def unknown_keyword(x):
        return np.sum(helper(x, x, k=1.0, j=2.0))


    def positional_only(x, y=2.0, /, *, z=0.5):
        return np.sum(np.sin(x) * y + z * x)


    def calls_positional_only(x, y):
        return positional_only(x, y, z=y) + positional_only(x)


    def star_of_a_list(x, xs):
        return np.sum(helper(*xs, k=1.0))


    def partial_as_value(x):
        h = functools.partial(helper, k=2.0)
        return np.sum(apply(h, x))


    def apply(f, x):
        return f(x, x)


    def function_to_numpy(x):
        return np.sum(np.tanh) * np.sum(x)


    def dict_comprehension_over_values(x, names):
        d = {n: x for n in names}
        return np.sum(d["a"])
    """
)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("too_many", "helper() takes 2 positional arguments but 3 were given"),
        ("missing_keyword", "helper() missing required argument 'k'"),
        ("unknown_keyword", "helper() got an unexpected keyword argument 'j'"),
        ("star_of_a_list", "the number of elements of the list xs is not known"),
        ("partial_as_value", "is used as a value here"),
        ("function_to_numpy", "is a function, but np.sum takes"),
        ("dict_comprehension_over_values", "the keys of this dict comprehension are known only"),
    ],
)
def test_refused_at_the_call_with_pythons_reason(tmp_path, name, reason):
    module, path = load(tmp_path, REFUSED, "refused_parameters")
    f = getattr(module, name)
    args = (normal(3),)
    if name == "star_of_a_list":
        args = (normal(3), [normal(3), normal(3)])
    elif name == "dict_comprehension_over_values":
        args = (normal(3), ("a", "b"))
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(f)(*args)
    err = info.value
    assert reason in err.reason
    assert err.loc is not None and err.loc.filename.endswith(path.name)


def test_code_is_found_by_which_function_is_passed(modules):
    """One gradient function called with np.tanh, then np.sin, then np.tanh again (same
    shapes, so the same shape signature and the same types of arguments): each call runs
    the code compiled for its function, on the slow path and on any fast one."""
    plain, _ = modules
    W, x = normal(3, 4), normal(4, seed=19)
    for mode in (ad.grad, ad.value_and_grad, ad.vjp):
        gradient = mode(plain.mlp, wrt=(0, 1))
        for act in (np.tanh, np.sin, np.tanh, np.sin, plain.softplus, np.sin):
            extra = (1.0,) if mode is ad.vjp else ()
            got = gradient(W, x, act, *extra)
            got = got[1] if mode is ad.value_and_grad else got
            want = central(lambda a, b, act=act: plain.mlp(a, b, act), [W, x])
            np.testing.assert_allclose(flat(list(got)), want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("lstm", [False, True], ids=["rnn", "lstm"])
def test_autograds_rnn_and_lstm_in_forward_mode_and_hvp(lstm):
    """The corpus's ports of autograd's RNN and LSTM as written (closures, *args,
    np.hstack of a concatenated tuple, a list of outputs appended to): jvp against the
    gradient, hvp against differences of the gradient (tests/test_corpus.py checks
    grad, value_and_grad and vjp against differences and autograd)."""
    from corpus import autograd_lstm, autograd_rnn
    from test_corpus import rnn_args

    f = autograd_lstm.lstm_log_likelihood if lstm else autograd_rnn.rnn_log_likelihood
    params, inputs, targets = rnn_args(lstm=lstm)()[0]
    g = flat([ad.grad(f)(params, inputs, targets)])
    v = np.random.default_rng(3).normal(size=g.size)
    (direction,) = unflat([params], v)
    value, slope = ad.jvp(f)(params, inputs, targets, direction)
    assert value == pytest.approx(f(params, inputs, targets), rel=1e-12)
    assert slope == pytest.approx(g @ v, rel=1e-9)
    hv = flat([ad.hvp(f)(params, inputs, targets, direction)])
    eps = 1e-5
    x0 = flat([params])
    ends = [
        flat([ad.grad(f)(unflat([params], x0 + s * eps * v)[0], inputs, targets)])
        for s in (1.0, -1.0)
    ]
    np.testing.assert_allclose(hv, (ends[0] - ends[1]) / (2 * eps), rtol=1e-5, atol=1e-8)
