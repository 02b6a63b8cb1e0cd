"""Methods and random draws in the differentiated function.

A bound method's ``self`` holds configuration (numbers, arrays, strings, lists) read
as captured values, and its other methods are helpers; a random draw is a constant of
the derivative, drawn once per call in the forward sweep. Values are checked against
the function run by Python, gradients against central finite differences and autograd
(with the draw fixed: the same seed).
"""

from __future__ import annotations

import collections
import dataclasses

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import adcompile as ad
from adcompile.checking import numeric_grad
from adcompile.errors import AdCompileError

W0 = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3]])
X0 = np.array([0.5, -1.2, 0.3])


class Model:
    """Configuration in self: a number, an array, a string, a list; methods that call
    each other."""

    def __init__(self, scale=2.0, kind="tanh"):
        self.scale = scale
        self.A = np.array([[1.0, 0.5, -0.5], [0.2, -1.0, 0.3]])
        self.kind = kind
        self.weights = [0.5, 1.5]

    def _act(self, z):
        if self.kind == "tanh":
            return np.tanh(z)
        return np.sin(z)

    def forward(self, W, x):
        return self._act(W @ x * self.scale + self.A @ x)

    def loss(self, W, x):
        out = self.forward(W, x)
        return self.weights[0] * np.sum(out**2) + self.weights[1] * np.sum(out)

    @ad.grad(wrt="W")
    def dloss(self, W, x):
        return np.sum(self.forward(W, x) ** 2)


def model_loss_autograd(m: Model, W, x):
    """The same loss in autograd's numpy, for the oracle."""
    z = anp.dot(W, x) * m.scale + anp.dot(m.A, x)
    out = anp.tanh(z) if m.kind == "tanh" else anp.sin(z)
    return m.weights[0] * anp.sum(out**2) + m.weights[1] * anp.sum(out)


def check_against_oracles(f, args, wrt, grads, ag=None):
    """``grads`` (a tuple, in ``wrt`` order) against central differences, and autograd's
    gradient of ``ag`` (the same function in autograd's numpy) when given."""
    for g, i in zip(grads, wrt, strict=True):
        np.testing.assert_allclose(g, numeric_grad(f, list(args), i, 1e-6), rtol=1e-6, atol=1e-8)
        if ag is not None:
            np.testing.assert_allclose(g, autograd.grad(ag, i)(*args), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["tanh", "sin"])
def test_bound_method_every_mode(kind):
    m = Model(kind=kind)
    args = (W0, X0)
    value, g = ad.value_and_grad(m.loss, wrt="W")(*args)
    assert value == m.loss(*args)
    np.testing.assert_array_equal(ad.grad(m.loss, wrt="W")(*args), g)
    np.testing.assert_array_equal(ad.vjp(m.loss, wrt="W")(*args, 1.0), g)
    check_against_oracles(m.loss, args, (0,), (g,))
    np.testing.assert_allclose(g, autograd.grad(model_loss_autograd, 1)(m, *args), rtol=1e-10)
    v = np.ones_like(W0) * 0.1
    _, t = ad.jvp(m.loss, wrt="W")(*args, v)
    np.testing.assert_allclose(t, np.sum(g * v), rtol=1e-10)


class Plain:
    """Configuration without a branch on a string (for second order)."""

    def __init__(self):
        self.scale = 0.7
        self.A = np.array([[1.0, 0.5, -0.5], [0.2, -1.0, 0.3]])

    def forward(self, W, x):
        return np.tanh(W @ x * self.scale + self.A @ x)

    def loss(self, W, x):
        return np.sum(self.forward(W, x) ** 2)


def test_bound_method_second_order():
    m = Plain()
    v = np.ones_like(W0) * 0.1

    def loss_autograd(W):
        return anp.sum(anp.tanh(anp.dot(W, X0) * m.scale + anp.dot(m.A, X0)) ** 2)

    hv = ad.hvp(m.loss, wrt="W")(W0, X0, v)
    expect = autograd.hessian_vector_product(loss_autograd)(W0, v)
    np.testing.assert_allclose(hv, expect, rtol=1e-8, atol=1e-12)


def test_unbound_method_with_self_passed_and_decorated_method():
    m = Model()
    g = ad.grad(Model.loss, wrt=(1, 2))(m, W0, X0)
    expect = autograd.grad(model_loss_autograd, (1, 2))(m, W0, X0)
    for a, b in zip(g, expect, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    value, dW = ad.value_and_grad(Model.loss, wrt="W")(m, W0, X0)
    assert value == m.loss(W0, X0)
    # @ad.grad in the class body: read from an instance, it is bound to it
    dW = m.dloss(W0, X0)
    np.testing.assert_allclose(dW, numeric_grad(lambda W: np.sum(m.forward(W, X0) ** 2), [W0], 0))
    np.testing.assert_array_equal(Model.dloss(m, W0, X0), dW)


def test_self_is_not_differentiated():
    with pytest.raises(AdCompileError, match="cannot differentiate with respect to 'self'"):
        ad.grad(Model.loss)(Model(), W0, X0)


def test_rebinding_an_attribute_recompiles():
    m = Model()
    g = ad.value_and_grad(m.loss, wrt="W")
    for scale, kind in ((2.0, "tanh"), (-1.0, "tanh"), (-1.0, "sin")):
        m.scale, m.kind = scale, kind
        for _ in range(3):  # the dispatcher too
            value, dW = g(W0, X0)
            assert value == m.loss(W0, X0)
            np.testing.assert_allclose(
                dW, autograd.grad(model_loss_autograd, 1)(m, W0, X0), rtol=1e-10
            )
    m.A = m.A * 2  # a new array
    assert g(W0, X0)[0] == m.loss(W0, X0)
    Model._act, old = (lambda self, z: np.cos(z)), Model._act
    try:  # a method rebound on the class (a lambda: refused where it is read)
        with pytest.raises(AdCompileError, match="lambda"):
            g(W0, X0)
    finally:
        Model._act = old
    assert g(W0, X0)[0] == m.loss(W0, X0)


class Config:
    def __init__(self):
        self.scale = 3.0


def scaled(model, x):
    return x * model.config.scale


class Nested:
    """An object in self, a list of arrays in self, a staticmethod, and self passed to
    a module-level function."""

    def __init__(self):
        self.config = Config()
        self.Ws = [np.eye(3) * 0.5, np.full((3, 3), 0.2)]

    @staticmethod
    def square(h):
        return h**2

    def loss(self, x):
        h = x
        for W in self.Ws:
            h = np.tanh(W @ h) * self.config.scale
        return np.sum(self.square(h)) + np.sum(scaled(self, x) ** 2) + len(self.Ws)


def test_nested_objects_helpers_taking_self_and_rebinding_inside():
    m = Nested()
    g = ad.value_and_grad(m.loss)
    for scale in (3.0, 0.5):
        m.config.scale = scale
        for _ in range(2):
            value, dx = g(X0)
            assert value == m.loss(X0)
            np.testing.assert_allclose(dx, numeric_grad(m.loss, [X0], 0, 1e-6), rtol=1e-6)
    m.Ws = [np.eye(3)]  # a new list
    assert g(X0)[0] == m.loss(X0)


class Computed:
    def __init__(self):
        self.w = 2.0

    @property
    def twice(self):
        return 2 * self.w

    def loss(self, x):
        return np.sum(x * self.twice)


def test_property_is_refused_with_its_location():
    with pytest.raises(AdCompileError, match=r"self.twice is a property") as info:
        ad.grad(Computed().loss)(X0)
    assert info.value.lineno is not None and "self.twice" in info.value.line


# ------------------------------------------------------------------ random draws


def reparameterised(mu, log_sigma, rs):
    z = mu + np.exp(log_sigma) * rs.randn(*mu.shape)
    return np.sum(z**2) - np.sum(log_sigma)


def reparameterised_fixed(mu, log_sigma, eps):
    z = mu + anp.exp(log_sigma) * eps
    return anp.sum(z**2) - anp.sum(log_sigma)


def test_reparameterisation_trick_draws_once_in_every_mode():
    mu, log_sigma = X0, np.array([0.1, -0.3, 0.2])
    eps = np.random.RandomState(3).randn(3)
    expect = autograd.grad(reparameterised_fixed, (0, 1))(mu, log_sigma, eps)
    for mode in ("grad", "value_and_grad", "vjp"):
        g = getattr(ad, mode)(reparameterised, wrt=(0, 1))
        for _ in range(3):
            rs = np.random.RandomState(3)
            out = g(mu, log_sigma, rs, 1.0) if mode == "vjp" else g(mu, log_sigma, rs)
            assert rs.randn() == np.random.RandomState(3).randn(4)[3]  # one draw of 3
            if mode == "value_and_grad":
                value, out = out
                assert value == reparameterised(mu, log_sigma, np.random.RandomState(3))
            for a, b in zip(out, expect, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-12)
    tangent = (np.ones(3), np.full(3, 0.5))
    value, t = ad.jvp(reparameterised, wrt=(0, 1))(
        mu, log_sigma, np.random.RandomState(3), *tangent
    )
    assert value == reparameterised(mu, log_sigma, np.random.RandomState(3))
    np.testing.assert_allclose(t, sum(np.sum(a * b) for a, b in zip(expect, tangent)), rtol=1e-12)


RNG = np.random.default_rng(0)


def dropout_net(W, x):
    h = x
    for _ in range(3):
        mask = RNG.uniform(size=h.shape) > 0.3
        noise = RNG.normal(0.0, 0.1, size=h.shape)
        h = np.tanh(W @ h) * mask + noise
    a = np.random.randn()  # numpy's global RandomState
    b = np.random.randn()
    return np.sum(h**2) + b * np.sum(W) - a * np.sum(W**2)


def dropout_net_fixed(W, x, masks, noises, a, b):
    h = x
    for mask, noise in zip(masks, noises):
        h = anp.tanh(anp.dot(W, h)) * mask + noise
    return anp.sum(h**2) + b * anp.sum(W) - a * anp.sum(W**2)


def test_draws_in_a_loop_and_from_globals_follow_the_random_state():
    global RNG
    W = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3], [0.2, 0.1, 0.6]])
    g = ad.value_and_grad(dropout_net)
    for seed in (1, 2, 2):
        RNG = np.random.default_rng(seed)
        np.random.seed(seed)
        value, dW = g(W, X0)
        RNG = np.random.default_rng(seed)
        np.random.seed(seed)
        masks, noises = [], []
        for _ in range(3):
            masks.append(RNG.uniform(size=3) > 0.3)
            noises.append(RNG.normal(0.0, 0.1, size=3))
        a, b = np.random.randn(), np.random.randn()
        assert value == dropout_net_fixed(W, X0, masks, noises, a, b)
        expect = autograd.grad(dropout_net_fixed)(W, X0, masks, noises, a, b)
        np.testing.assert_allclose(dW, expect, rtol=1e-12)
        assert RNG.uniform() == np.random.default_rng(seed).uniform(size=19)[18]


def draw_in_helper(x, rs):
    return x * rs.standard_normal(x.shape)


def noisy_hvp(x, rs):
    return np.sum(np.sin(draw_in_helper(x, rs)) * x)


def test_draw_in_a_helper_and_second_order():
    x = X0
    eps = np.random.RandomState(7).standard_normal(3)

    def fixed(x):
        return anp.sum(anp.sin(x * eps) * x)

    g = ad.grad(noisy_hvp)(x, np.random.RandomState(7))
    np.testing.assert_allclose(g, autograd.grad(fixed)(x), rtol=1e-12)
    v = np.array([1.0, -0.5, 2.0])
    hv = ad.hvp(noisy_hvp)(x, np.random.RandomState(7), v)
    np.testing.assert_allclose(hv, autograd.hessian_vector_product(fixed)(x, v), rtol=1e-10)


def seeded(x):
    np.random.seed(0)
    return np.sum(x * np.random.uniform(size=x.shape))


def test_seeding_inside_is_kept_in_order():
    g = ad.value_and_grad(seeded)
    value, dx = g(X0)
    assert value == seeded(X0)
    np.random.seed(0)
    np.testing.assert_array_equal(dx, np.random.uniform(size=3))


def draws_from_mu(mu, rs):
    return np.sum(rs.normal(mu, 1.0))


def shuffles(x, rs):
    y = x * 2
    rs.shuffle(y)
    return np.sum(y)


def draws_in_checkpointed_loop(x, rs):
    for _ in range(4):
        x = np.tanh(x) + 0.1 * rs.randn(3)
    return np.sum(x)


def test_draws_refused_where_the_derivative_would_be_wrong():
    rs = np.random.RandomState(0)
    with pytest.raises(AdCompileError, match="arguments depend on a differentiated input"):
        ad.grad(draws_from_mu)(X0, rs)
    with pytest.raises(AdCompileError, match="writes into an array"):
        ad.grad(shuffles)(X0, rs)
    with pytest.raises(AdCompileError, match="checkpointed loop draws random numbers"):
        ad.grad(draws_in_checkpointed_loop, checkpoint="sqrt")(X0, rs)
    # without checkpointing: the same samples
    g = ad.grad(draws_in_checkpointed_loop)(X0, np.random.RandomState(4))

    def fixed(x):
        rs = np.random.RandomState(4)
        for _ in range(4):
            x = anp.tanh(x) + 0.1 * rs.randn(3)
        return anp.sum(x)

    np.testing.assert_allclose(g, autograd.grad(fixed)(X0), rtol=1e-12)


# ------------------------------------------------------------------ records


Layer = collections.namedtuple("Layer", "W b")


@dataclasses.dataclass
class Params:
    W: np.ndarray
    b: np.ndarray
    scale: float


def record_loss(p, x):
    return np.sum(np.tanh(p.W @ x + p.b) ** 2) * p.scale


def record_loss_autograd(W, b, scale, x):
    return anp.sum(anp.tanh(anp.dot(W, x) + b) ** 2) * scale


def layers_loss(layers, x):
    for layer in layers:
        x = np.tanh(layer.W @ x + layer.b)
    return np.sum(x**2)


def layers_loss_unpacked(layers, x):
    for W, b in layers:
        x = np.tanh(W @ x + b)
    return np.sum(x**2)


def make_layers():
    rs = np.random.RandomState(2)
    return [Layer(rs.randn(3, 3) * 0.5, rs.randn(3) * 0.1) for _ in range(2)]


def test_dataclass_parameters_in_every_mode():
    p = Params(W0, np.array([0.1, -0.2]), 1.5)
    expect = autograd.grad(record_loss_autograd, (0, 1, 2))(p.W, p.b, p.scale, X0)
    value, g = ad.value_and_grad(record_loss)(p, X0)
    assert value == record_loss(p, X0)
    assert type(g) is Params and type(g.scale) is float
    for a, b in zip((g.W, g.b, g.scale), expect, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    for other in (ad.grad(record_loss)(p, X0), ad.vjp(record_loss)(p, X0, 1.0)):
        assert type(other) is Params
        np.testing.assert_array_equal(other.W, g.W)
    t = Params(np.ones_like(W0), np.full(2, 0.5), 2.0)
    value, tangent = ad.jvp(record_loss)(p, X0, t)
    assert value == record_loss(p, X0)
    np.testing.assert_allclose(tangent, np.sum(g.W) + 0.5 * np.sum(g.b) + 2 * g.scale)
    hv = ad.hvp(record_loss)(p, X0, t)
    assert type(hv) is Params
    expect_hv = autograd.hessian_vector_product(
        lambda W: record_loss_autograd(W, p.b, p.scale, X0)
    )(W0, np.ones_like(W0))
    hv_W = ad.hvp(record_loss)(p, X0, Params(np.ones_like(W0), np.zeros(2), 0.0)).W
    np.testing.assert_allclose(hv_W, expect_hv, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("loss", [layers_loss, layers_loss_unpacked])
def test_list_of_namedtuple_layers(loss):
    layers = make_layers()
    value, g = ad.value_and_grad(loss)(layers, X0)
    assert value == loss(layers, X0)
    assert type(g) is list and all(type(layer) is Layer for layer in g)

    def flat_loss(*arrays):
        return loss([Layer(*arrays[:2]), Layer(*arrays[2:])], X0)

    arrays = [a for layer in layers for a in layer]
    expect = autograd.grad(
        lambda *a: anp.sum(anp.tanh(anp.dot(a[2], anp.tanh(anp.dot(a[0], X0) + a[1])) + a[3]) ** 2),
        (0, 1, 2, 3),
    )(*arrays)
    got = [a for layer in g for a in layer]
    for i, (a, b) in enumerate(zip(got, expect, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-10)
        np.testing.assert_allclose(a, numeric_grad(flat_loss, arrays, i, 1e-6), rtol=1e-6)
    tangents = [Layer(np.ones((3, 3)), np.ones(3)) for _ in layers]
    _, t = ad.jvp(loss)(layers, X0, tangents)
    np.testing.assert_allclose(t, sum(np.sum(a) for a in got), rtol=1e-10)


def unpacks_a_dataclass(p, x):
    W, b, scale = p
    return np.sum(W @ x + b) * scale


def measures_a_dataclass(p, x):
    return np.sum(p.W @ x) * len(p)


def test_dataclass_is_not_a_tuple():
    p = Params(W0, np.array([0.1, -0.2]), 1.5)
    with pytest.raises(TypeError):
        unpacks_a_dataclass(p, X0)  # what Python does
    with pytest.raises(AdCompileError, match="is a Params, a dataclass") as info:
        ad.grad(unpacks_a_dataclass)(p, X0)
    assert "W, b, scale = p" in info.value.line
    with pytest.raises(AdCompileError, match="is a Params, a dataclass"):
        ad.grad(measures_a_dataclass)(p, X0)


class Sampler:
    """Generators held in self, drawn from in a method and in a helper method."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.rs = np.random.RandomState(seed)

    def sample(self, mu, log_std):
        return mu + np.exp(log_std) * self.rng.normal(size=mu.shape)

    def loss(self, mu, log_std):
        z = self.sample(mu, log_std)
        keep = self.rs.rand(*mu.shape) > 0.5
        return np.sum(z**2 * keep) - np.sum(log_std)


def test_generators_held_in_self():
    mu, log_std = X0, np.array([0.1, 0.2, -0.1])
    value, g = ad.value_and_grad(Sampler(0).loss, wrt=(0, 1))(mu, log_std)
    assert value == Sampler(0).loss(mu, log_std)
    fixed = Sampler(0)
    eps, keep = fixed.rng.normal(size=3), fixed.rs.rand(3) > 0.5

    def twin(mu, log_std):
        z = mu + anp.exp(log_std) * eps
        return anp.sum(z**2 * keep) - anp.sum(log_std)

    for a, b in zip(g, autograd.grad(twin, (0, 1))(mu, log_std), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def scaled_rest(m, z, *rest, power=2, **opts):
    total = np.sum(np.tanh(z * m.scale) ** power)
    for r in rest:
        total = total + np.sum(r * r) * opts["gain"]
    return total


class Varargs:
    """A method with *args, keyword-only parameters and a function as a value, calling
    a module-level helper with self first and the rest passed on by * and keyword."""

    def __init__(self):
        self.scale = 1.5

    def loss(self, x, *extra, power=2, act=np.tanh):
        return scaled_rest(self, act(x), *extra, power=power, gain=2.0) + np.sum(x)


def stacked_layers(*layers, x, act=np.tanh):
    h = x
    for layer in layers:
        h = act(layer.W @ h + layer.b)
    return np.sum(h**2)


def test_methods_and_records_with_every_kind_of_parameter():
    m = Varargs()
    y = np.array([0.2, 0.1, -0.4])
    for power, act in ((2, np.tanh), (3, np.sin)):

        def f(x, y, power=power, act=act):
            return m.loss(x, y, power=power, act=act)

        for g in (
            ad.grad(m.loss, wrt=("x", "extra"))(X0, y, power=power, act=act),
            ad.grad(Varargs.loss, wrt=("x", "extra"))(m, X0, y, power=power, act=act),
        ):
            check_against_oracles(f, (X0, y), (0, 1), (g[0], g[1][0]))
    layers = make_layers()
    for act in (np.tanh, np.sin):
        g = ad.grad(stacked_layers, wrt="layers")(*layers, x=X0, act=act)
        assert all(type(layer) is Layer for layer in g)

        def f(W, b, act=act):
            return stacked_layers(Layer(W, b), layers[1], x=X0, act=act)

        check_against_oracles(f, (layers[0].W, layers[0].b), (0, 1), (g[0].W, g[0].b))
