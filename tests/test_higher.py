"""Higher-order derivatives: hvp, hessian, grad(grad(f)), jvp(grad(f)) and gradient
penalties, against autograd and central differences of the compiled gradient."""

import inspect
import sys
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import mlp_args as _mlp_args
from helpers import rnn, rnn_args
from helpers import softmax_mlp as mlp

import adcompile as ad
from adcompile.regenerate import differentiable_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))


# --------------------------------------------------------------- oracles


def _map(tree, fn, *others):
    if isinstance(tree, dict):
        return {k: _map(tree[k], fn, *(o[k] for o in others)) for k in tree}
    if isinstance(tree, list | tuple):
        return type(tree)(_map(t, fn, *(o[i] for o in others)) for i, t in enumerate(tree))
    return fn(tree, *others)


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in _leaves(tree[k])]
    if isinstance(tree, list | tuple):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree]


def _random_like(tree, rng):
    return _map(tree, lambda x: rng.normal(size=np.shape(x)) if np.shape(x) else rng.normal())


def fd_hvp(f, args, wrt, vectors, eps=1e-5):
    """Central differences of the compiled gradient along ``vectors``: (H v) by
    (grad(x + eps v) - grad(x - eps v)) / (2 eps), with the gradient's structure."""
    params = list(inspect.signature(f).parameters)
    single = isinstance(wrt, int | str)
    items = [wrt] if single else list(wrt)
    idx = [w if isinstance(w, int) else params.index(w) for w in items]
    vs = [vectors] if single else list(vectors)

    def moved(sign):
        out = list(args)
        for i, v in zip(idx, vs, strict=True):
            out[i] = _map(args[i], lambda x, d: x + sign * eps * d, v)
        return out

    g = ad.grad(f, wrt=wrt)
    plus, minus = g(*moved(1.0)), g(*moved(-1.0))
    return _map(plus, lambda a, b: (np.asarray(a) - b) / (2 * eps), minus)


def assert_hvp_matches_fd(f, *args, wrt=0, seed=0, rtol=1e-5, atol=1e-7):
    rng = np.random.default_rng(seed)
    params = list(inspect.signature(f).parameters)
    single = isinstance(wrt, int | str)
    items = [wrt] if single else list(wrt)
    idx = [w if isinstance(w, int) else params.index(w) for w in items]
    vs = [_random_like(args[i], rng) for i in idx]
    vectors = vs[0] if single else tuple(vs)
    h = ad.hvp(f, wrt=wrt)
    got = h(*args, vectors)
    expected = fd_hvp(f, args, wrt, vectors)
    for a, b in zip(_leaves(got), _leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a, dtype=float), b, rtol=rtol, atol=atol)
    return h, vectors, got


# --------------------------------------------------------------- models


def seed_args(seed=3):
    from seed_network import init_params, make_data

    W1, b1, W2, b2 = init_params(seed=seed)
    x, y = make_data(16)
    return W1, b1 + 0.1, W2, b2, x, y


def test_seed_network_hvp_against_autograd_and_fd():
    from seed_network import loss

    args = seed_args()
    h, vectors, got = assert_hvp_matches_fd(loss, *args, wrt=(0, 1, 2, 3))
    x, y = args[4], args[5]

    def aloss(W1, b1, W2, b2):
        a = 1 / (1 + anp.exp(-(W1 @ x + b1)))
        yhat = 1 / (1 + anp.exp(-(W2 @ a + b2)))
        return 0.5 * anp.sum((yhat - y) ** 2)

    flat = lambda *ps: aloss(*ps)  # noqa: E731
    for i in range(4):
        # autograd's hvp of block row i: sum over j of d2L/dpi dpj vj
        expected = sum(
            autograd.make_jvp(autograd.grad(flat, i), j)(*args[:4])(vectors[j])[1] for j in range(4)
        )
        np.testing.assert_allclose(got[i], expected, rtol=1e-9, atol=1e-12)
    H = autograd.hessian(lambda W1: aloss(W1, *args[1:4]))(args[0])
    np.testing.assert_allclose(
        ad.hvp(loss)(*args, vectors[0]), np.tensordot(H, vectors[0], axes=2), rtol=1e-9
    )
    assert "def hvp_loss(" in h.source
    # the call's code is specialised to the arguments' shapes (as the gradient's is):
    # yhat - y has yhat's shape, so its tangent needs no broadcast_like
    assert "broadcast_like" not in h.source
    # the jvp of the user's function, for any shapes, keeps it
    assert "broadcast_like(dyhat" in ad.jvp(loss, wrt=(0, 1, 2, 3)).source


def test_seed_network_hessian_against_autograd():
    from seed_network import loss

    args = seed_args()
    x, y = args[4], args[5]

    def aloss(b1, b2):
        a = 1 / (1 + anp.exp(-(args[0] @ x + b1)))
        yhat = 1 / (1 + anp.exp(-(args[2] @ a + b2)))
        return 0.5 * anp.sum((yhat - y) ** 2)

    H = ad.hessian(loss, wrt=1)(*args)
    assert H.shape == args[1].shape * 2
    np.testing.assert_allclose(H, autograd.hessian(aloss, 0)(args[1], args[3]), rtol=1e-9)
    blocks = ad.hessian(loss, wrt=(1, 3))(*args)
    b1, b2 = args[1], args[3]
    np.testing.assert_allclose(blocks[0][1], autograd.jacobian(autograd.grad(aloss, 0), 1)(b1, b2))
    np.testing.assert_allclose(blocks[1][1], autograd.hessian(aloss, 1)(b1, b2))
    assert blocks[1][0].shape == b2.shape + b1.shape


def amlp(params, x, labels):
    h = x
    for W, b in params[:-1]:
        h = anp.tanh(h @ W + b)
    W, b = params[-1]
    logits = h @ W + b
    shifted = logits - anp.max(logits, axis=1, keepdims=True)
    logp = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
    return -anp.mean(anp.sum(labels * logp, axis=1))


def test_mlp_with_list_parameters_hvp():
    params, x, labels = _mlp_args()
    h, v, got = assert_hvp_matches_fd(mlp, params, x, labels)
    from autograd.misc import flatten

    flat, unflatten = flatten(params)
    expected = autograd.hessian_vector_product(lambda p: amlp(unflatten(p), x, labels))(
        flat, flatten(v)[0]
    )
    np.testing.assert_allclose(flatten(got)[0], expected, rtol=1e-9, atol=1e-12)
    assert isinstance(got, list) and isinstance(got[0], tuple)
    # the loop's counter, saved with each iteration's values for the reverse sweep, is
    # an int: its tangent in the saved tuple is the number 0.0, not a call making one
    source = h.source
    assert "zeros_tangent(i" not in source and ", 0.0\n" in source


def test_rnn_loop_hvp_against_autograd():
    h0, W, U, xs = rnn_args(seed=4)
    for wrt in (1, (0, 1, 2)):
        assert_hvp_matches_fd(rnn, h0, W, U, xs, wrt=wrt)

    def arnn(W):
        h = h0
        total = 0.0
        for t in range(xs.shape[0]):
            h = anp.tanh(W @ h + U @ xs[t])
            total = total + anp.sum(h * h)
        return total

    v = np.random.default_rng(5).normal(size=W.shape)
    expected = autograd.hessian_vector_product(arnn)(W, v)
    np.testing.assert_allclose(ad.hvp(rnn, wrt=1)(h0, W, U, xs, v), expected, rtol=1e-9)


def layer(W, h):
    return np.tanh(W @ h)


def helper_rnn(W, h, steps):
    for _ in range(steps):
        h = layer(W, h)
    return np.sum(h**2)


def test_helper_calls():
    rng = np.random.default_rng(1)
    W, h = rng.normal(size=(3, 3)) * 0.6, rng.normal(size=3)
    hv, v, _ = assert_hvp_matches_fd(helper_rnn, W, h, 4, wrt=(0, 1))
    src = hv.source
    assert "def jvp_fwd_layer(" in src and "def jvp_bwd_layer(" in src
    assert "# line " in src and "(reverse)" in src


def branchy(x, y):
    s = 0.0
    if np.sum(x) > 1.0:
        z = x * y
        s = np.sum(z)
    else:
        z = np.sin(x)
    while s < 5.0:
        s = s + np.sum(z * z) + 1.0
    return s * np.max(z)


def test_branches():
    x = np.array([0.5, 0.9, -0.2])
    y = np.array([1.5, -0.4, 0.8])
    assert_hvp_matches_fd(branchy, x, y, wrt=(0, 1))
    assert_hvp_matches_fd(branchy, x * 0.1, y, wrt=0)


def dict_params(p, x):
    h = np.tanh(p["W"] @ x + p["b"])
    return np.sum(h**2) * p["scale"]


def test_container_parameters():
    rng = np.random.default_rng(7)
    p = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3), "scale": 0.7}
    assert_hvp_matches_fd(dict_params, p, rng.normal(size=2))


def mean_and_square(a):
    # the first result broadcasts a (1, 1) total to the row's shape
    return np.reshape(np.sum(a), (1, 1)) + np.zeros((1, 3)), a * a


def one_result_of_a_helper(x):
    unused, b = mean_and_square(x)
    return np.sum(b**2)


def test_helper_result_the_caller_ignores():
    # the ignored result's adjoint is None (zero): its tangent must be zero of the
    # result's shape too, not a 0-d zero that the helper's unbroadcast cannot read
    assert_hvp_matches_fd(one_result_of_a_helper, np.array([[0.3, 0.1, 0.2]]))


def zipped_twice(x0, x1, x2, p1, ws2):
    # (a random program, as generated) the loop over zip(ws2, ws2) leaves ws2's adjoint
    # a number zero, which the tangent code added to the list adjoint of sum(ws2)
    if 2.0 > 0.0:
        x1 = np.var(sum(ws2) + np.zeros((3, 1)), 0)
    for w14, w15 in zip(ws2, ws2):  # noqa: B007 (as generated)
        k16 = 0
        while k16 < 2:
            k16 += 1
            v17 = p1["w"]  # noqa: F841
            w15 = ((x0 - x2) + np.zeros((1,))).dot(np.cumsum(x2 + np.zeros((1, 1)), axis=1))  # noqa: F841
    return np.sum(ws2[-1]) + np.mean(np.sin(x1)) + np.sum(np.tanh(x2) * x2)


def test_hvp_where_a_list_parameter_meets_a_zero_adjoint():
    p1 = {"w": np.array([1.16902932]), "b": np.array([0.15678212])}
    args = (np.array(0.15268823), np.array([0.70861574]), np.array(0.95460976), p1)
    assert_hvp_matches_fd(zipped_twice, *args, [np.array([0.9915553])], wrt=4)


# --------------------------------------------------------------- composition


def cubic(x):
    return np.sin(x) * x**3


def test_grad_of_grad_scalar():
    d2 = ad.grad(ad.grad(cubic))
    expected = autograd.grad(autograd.grad(lambda x: anp.sin(x) * x**3))
    for x in (0.7, -1.3, 2.0):
        assert d2(x) == pytest.approx(expected(x), rel=1e-12)
    d3 = ad.grad(ad.grad(ad.grad(cubic)))
    assert d3(0.7) == pytest.approx(
        autograd.grad(autograd.grad(autograd.grad(lambda x: anp.sin(x) * x**3)))(0.7), rel=1e-10
    )


def loss_tanh(W, x):
    return np.sum(np.tanh(W @ x) ** 2)


dloss_tanh = ad.grad(loss_tanh)


def penalty(W, x):
    return np.sum(dloss_tanh(W, x) ** 2)


def test_gradient_penalty_against_autograd():
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(3, 4)), rng.normal(size=4)

    def aloss(W):
        return anp.sum(anp.tanh(W @ x) ** 2)

    expected = autograd.grad(lambda W: anp.sum(autograd.grad(aloss)(W) ** 2))(W)
    np.testing.assert_allclose(ad.grad(penalty)(W, x), expected, rtol=1e-10)
    assert "fwd_grad_loss_tanh" in ad.grad(penalty).source


def test_jvp_of_grad_is_the_hvp():
    rng = np.random.default_rng(2)
    W, x, v = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 4))
    g, hv = ad.jvp(ad.grad(loss_tanh))(W, x, v)
    np.testing.assert_allclose(g, dloss_tanh(W, x))
    expected = autograd.hessian_vector_product(lambda W: anp.sum(anp.tanh(W @ x) ** 2))(W, v)
    np.testing.assert_allclose(hv, expected, rtol=1e-10)
    np.testing.assert_allclose(ad.hvp(loss_tanh)(W, x, v), expected, rtol=1e-10)


def linear_in_first(p, x):
    """A list parameter whose first element's gradient is constant (its second
    derivatives are identically zero) and whose second's is not."""
    return np.sum(3.0 * p[0] + x) + np.sum(p[1] ** 2 * x)


def linear_in_first_autograd(p, x):
    return anp.sum(3.0 * p[0] + x) + anp.sum(p[1] ** 2 * x)


def test_jvp_of_grad_with_an_identically_zero_part_has_the_parameters_structure():
    rng = np.random.default_rng(4)
    p = [rng.normal(size=2), rng.normal(size=2)]
    x = rng.normal(size=2)
    dp = [rng.normal(size=2), rng.normal(size=2)]
    g = ad.grad(linear_in_first, wrt=(0, 1))
    (gp, gx), (tp, tx) = ad.jvp(g, wrt=(0, 1))(p, x, (dp, np.zeros(2)))
    # the tangent of each part is an array shaped like its parameter, zeros included
    for t, like in ((tp[0], p[0]), (tp[1], p[1]), (tx, x)):
        assert type(t) is np.ndarray and t.shape == like.shape and t.dtype == like.dtype
    np.testing.assert_array_equal(tp[0], np.zeros(2))
    grad_p = autograd.grad(linear_in_first_autograd, 0)
    expected = autograd.make_jvp(lambda q: grad_p(q, x))(p)(dp)[1]
    np.testing.assert_allclose(tp[1], expected[1], rtol=1e-10)
    expected_g = autograd.grad(linear_in_first_autograd, 0)(p, x)
    for a, b in zip(gp, expected_g, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # with respect to the list alone (its tangent, a container of adjoints built with
    # add_at, was once broadcast like an array), and through hvp, against differences
    gp_alone, tp_alone = ad.jvp(ad.grad(linear_in_first))(p, x, dp)
    for a, b in zip(tp_alone, tp, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert type(tp_alone[0]) is np.ndarray and tp_alone[0].shape == (2,)
    assert_hvp_matches_fd(linear_in_first, p, x, wrt=0)


def test_jvp_of_grad_of_a_float_parameter_with_a_zero_gradient_is_a_float():
    def f(a, b):
        return a * 2.0

    (ga, gb), (ta, tb) = ad.jvp(ad.grad(f, wrt=(0, 1)), wrt=(0, 1))(1.5, 2.0, (1.0, 1.0))
    assert (ga, gb, ta, tb) == (2.0, 0.0, 0.0, 0.0)
    assert all(type(v) is float for v in (ga, gb, ta, tb))


def test_derivatives_of_a_vjp_are_refused():
    with pytest.raises(ad.AdCompileError, match="grad\\(f\\) only"):
        ad.grad(ad.vjp(cubic))


def test_second_order_code_is_not_offered_for_export():
    x = np.array([0.3, -0.7, 1.1])
    jg = ad.jvp(ad.grad(loss_tanh))
    jg(np.eye(3), x, np.ones((3, 3)))
    with pytest.raises(ad.AdCompileError, match="not exported") as info:
        jg.export()
    assert info.value.loc is not None and "def loss_tanh" in str(info.value)
    hv = ad.hvp(loss_tanh)
    hv(np.eye(3), x, np.ones((3, 3)))
    assert "export()" not in hv.source and not hasattr(hv, "export")


def test_hvp_checks_the_vector():
    with pytest.raises(ad.AdCompileError, match="shape"):
        ad.hvp(loss_tanh)(np.ones((3, 4)), np.ones(4), np.ones(3))


def test_rewritten_generated_code_is_the_same_computation():
    text = (
        "def f(stack, saved, c):\n"
        "    a, b = stack.pop()\n"
        "    if c:\n"
        "        z = a\n"
        "    for s in reversed(saved):\n"
        "        pass\n"
    )
    out = differentiable_text(text)
    assert "a, b = stack[-1]\n    stack = stack[:-1]" in out
    assert "    z = None\n    if c:" in out
    assert "for s in saved[::-1]:" in out


def unused_branches(x0):
    if np.mean(x0) < 0.5:
        v7 = np.cos(x0)  # noqa: F841 (unused: the point of the test)
    else:
        for i in range(2, 4):
            v11 = x0 * i  # noqa: F841
    v12 = np.sum(x0)
    return np.sum(np.tanh(v12) * v12) + np.sum(v12)


def test_a_gradient_updated_in_one_branch_keeps_its_value():
    # the gradient's code adds to dx0 in one branch of its reverse sweep: rewriting the
    # code for differentiation must not reset dx0 before that branch
    for x in (0.3, 0.7, np.array([0.2, 0.9])):
        v = np.ones_like(x) if isinstance(x, np.ndarray) else 1.0
        got = ad.hvp(unused_branches)(x, v)
        np.testing.assert_allclose(got, fd_hvp(unused_branches, (x,), 0, v), rtol=1e-6)
    text = "def f(z, c):\n    z = 1\n    if c:\n        z = 2\n"
    assert "None" not in differentiable_text(text)


def test_newton_example_converges_in_few_iterations(tmp_path):
    import newton

    result = newton.main(["--max-gd", "500", "--plot", str(tmp_path / "newton.png")])
    assert result["newton_iterations"] <= 20
    assert result["gd_iterations"] == 500  # not converged, where Newton-CG has


def test_cli_shows_the_hvp(tmp_path, capsys):
    from adcompile.cli import main

    path = tmp_path / "model.py"
    path.write_text(
        "import numpy as np\n\n\ndef loss(W, x):\n    return np.sum(np.tanh(W @ x) ** 2)\n"
    )
    main(["show", f"{path}:loss", "--wrt", "W", "--mode", "hvp"])
    out = capsys.readouterr().out
    assert "def hvp_loss(W, x, vW):" in out
    assert "# line 5 (reverse): return np.sum(np.tanh(W @ x) ** 2)" in out
    namespace: dict = {}
    import adcompile.runtime as rt

    body = out[out.index("def hvp_loss") :]
    exec(body, {"np": np, **rt.HELPERS}, namespace)
    W, x, v = np.eye(2) * 0.3, np.array([1.0, 2.0]), np.array([[0.5, -1.0], [2.0, 0.1]])
    _, hv = namespace["hvp_loss"](W, x, v)
    np.testing.assert_allclose(hv, fd_hvp(loss_tanh, (W, x), 0, v), rtol=1e-6)


def test_grad_of_grad_of_a_function_of_an_array_says_to_use_hvp():
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(ad.grad(loss_tanh))(np.ones((2, 2)), np.ones(2))
    assert "adcompile.hvp" in info.value.hint
    assert info.value.loc is not None and "def loss_tanh" in info.value.loc.text


def multiplied(x):
    return np.tanh(np.sum(np.linalg.multi_dot([np.outer(x, x), np.diag(x), x]))) * x[0]


def test_a_helper_without_rules_is_refused_at_the_users_line():
    # the gradient calls multi_dot_adjoint, which has no rules of its own
    with pytest.raises(ad.AdCompileError) as info:
        ad.hvp(multiplied)(np.array([0.3, 0.5, -0.2]), np.ones(3))
    err = info.value
    assert "multi_dot_adjoint" in err.reason and "line " in err.reason
    assert "return np.tanh(np.sum(np.linalg.multi_dot([np.outer(x, x)" in err.reason
    assert err.loc is not None and "def multiplied" in err.loc.text


def rows_written_in_a_loop(x):
    H = np.zeros((3, x.shape[0]))
    h = x
    for t in range(3):
        h = np.tanh(h * 1.5 + 0.1)
        H[t] = h
    return np.sum(H**2)


def slice_updated(x):
    y = x * 1.0
    y[1:] += x[:-1] ** 2
    return np.sum(y**3)


d_rows = ad.grad(rows_written_in_a_loop)


def penalty_of_rows(x):
    return np.sum(d_rows(x) ** 2)


@pytest.mark.parametrize("f", [rows_written_in_a_loop, slice_updated])
def test_element_assignment_has_hvp_and_hessian_and_refuses_reverse_over_reverse(f):
    """hvp and hessian (forward over the gradient's code) of a function that writes
    x[i] = v are the derivatives of its gradient; grad(grad) is refused at its
    definition, never a raw exception from code read back wrongly."""
    x = np.array([0.3, -0.5, 0.8])
    v = np.array([1.0, 2.0, -1.0])
    g = ad.grad(f)
    eps = 1e-5
    fd = (g(x + eps * v) - g(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(ad.hvp(f)(x, v), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ad.hessian(f)(x) @ v, fd, rtol=1e-6, atol=1e-8)
    with pytest.raises(ad.AdCompileError, match="assigns into array elements"):
        ad.grad(penalty_of_rows)(x)
    # first order stays exact
    np.testing.assert_allclose(
        ad.grad(f)(x),
        [(f(x + e) - f(x - e)) / 2e-6 for e in np.eye(3) * 1e-6],
        rtol=1e-6,
    )
