"""The adjoint rules of scipy.special and scipy.stats: each against central finite
differences in float64, on arrays (broadcast ones where the function takes two),
0-d arrays and Python floats, and against autograd's scipy wrappers where autograd
has the function; float32 in gives float32 gradients."""

from __future__ import annotations

import numpy as np
import pytest

scipy = pytest.importorskip("scipy")

import autograd  # noqa: E402
import autograd.numpy as anp  # noqa: E402
import autograd.scipy.special as asp  # noqa: E402
import fuzzcheck  # noqa: E402
import scipy.special as sp  # noqa: E402
from helpers import assert_grad_matches_fd  # noqa: E402
from scipy.special import log_softmax, logsumexp, softmax  # noqa: E402

import adcompile as ad  # noqa: E402
from adcompile import rules  # noqa: E402
from adcompile.rules import registry  # noqa: E402

rules.load_optional(import_libraries=True)

RNG = np.random.default_rng(0)

# The function under test, rebound by each case (a rebound global recompiles).
FN = sp.expit
ORDER = 2


def through_unary(x):
    return np.sum(np.sin(FN(x)))


def through_order(x):
    return np.sum(np.sin(FN(ORDER, x)))


def through_binary(a, b):
    return np.sum(np.sin(FN(a, b)))


# name -> (function, autograd's or None, sampler of valid inputs)
def _uniform(lo, hi):
    return lambda shape: RNG.uniform(lo, hi, shape)


UNARY = {
    "expit": (sp.expit, asp.expit, _uniform(-3, 3)),
    "logit": (sp.logit, asp.logit, _uniform(0.1, 0.9)),
    "gammaln": (sp.gammaln, asp.gammaln, _uniform(0.3, 4)),
    "digamma": (sp.digamma, asp.digamma, _uniform(0.3, 4)),
    "gamma": (sp.gamma, asp.gamma, _uniform(0.3, 3)),
    "rgamma": (sp.rgamma, asp.rgamma, _uniform(-3.5, 3)),
    "erf": (sp.erf, asp.erf, _uniform(-2, 2)),
    "erfc": (sp.erfc, asp.erfc, _uniform(-2, 2)),
    "erfinv": (sp.erfinv, asp.erfinv, _uniform(-0.9, 0.9)),
    "erfcinv": (sp.erfcinv, asp.erfcinv, _uniform(0.1, 1.9)),
    "ndtr": (sp.ndtr, None, _uniform(-3, 3)),
    "log_ndtr": (sp.log_ndtr, None, _uniform(-5, 3)),
    "ndtri": (sp.ndtri, None, _uniform(0.05, 0.95)),
    "entr": (sp.entr, None, _uniform(0.1, 2)),
    "i0": (sp.i0, asp.i0, _uniform(-2, 2)),
    "i1": (sp.i1, asp.i1, _uniform(-2, 2)),
    "i0e": (sp.i0e, None, _uniform(-2, 2)),
    "i1e": (sp.i1e, None, _uniform(-2, 2)),
    "j0": (sp.j0, asp.j0, _uniform(-4, 4)),
    "j1": (sp.j1, asp.j1, _uniform(-4, 4)),
    "y0": (sp.y0, asp.y0, _uniform(0.5, 4)),
    "y1": (sp.y1, asp.y1, _uniform(0.5, 4)),
    "log_expit": (sp.log_expit, None, _uniform(-4, 4)),
    "erfcx": (sp.erfcx, None, _uniform(-1.5, 3)),
    "expm1": (sp.expm1, None, _uniform(-2, 2)),
    "log1p": (sp.log1p, None, _uniform(-0.5, 2)),
    "cosm1": (sp.cosm1, None, _uniform(-3, 3)),
    "exprel": (sp.exprel, None, _uniform(-2, 2)),
}
if hasattr(sp, "softplus"):  # (scipy 1.15 and later)
    UNARY["softplus"] = (sp.softplus, None, _uniform(-4, 4))

ORDERED = {  # f(n, x): x differentiated, the order a constant
    "polygamma": (sp.polygamma, asp.polygamma, _uniform(0.5, 3), (0, 1, 2)),
    "jv": (sp.jv, None, _uniform(0.5, 4), (0, 1, 2.5)),
    "jn": (sp.jn, asp.jn, _uniform(0.5, 4), (0, 1, 3)),
    "yv": (sp.yv, None, _uniform(0.5, 4), (0, 1, 2.5)),
    "yn": (sp.yn, asp.yn, _uniform(0.5, 4), (0, 1, 3)),
    "iv": (sp.iv, asp.iv, _uniform(0.5, 3), (0, 1, 2.5)),
    "kv": (sp.kv, None, _uniform(0.5, 3), (0, 1, 2.5)),
    "ive": (sp.ive, asp.ive, _uniform(0.3, 3), (0, 1, 2.5)),
    "gammainc": (sp.gammainc, asp.gammainc, _uniform(0.2, 4), (0.5, 1, 3)),
    "gammaincc": (sp.gammaincc, asp.gammaincc, _uniform(0.2, 4), (0.5, 1, 3)),
}

BINARY = {
    "beta": (sp.beta, asp.beta, _uniform(0.5, 3), _uniform(0.5, 3)),
    "betaln": (sp.betaln, asp.betaln, _uniform(0.5, 3), _uniform(0.5, 3)),
    "xlogy": (sp.xlogy, None, _uniform(-2, 2), _uniform(0.2, 3)),
    "xlog1py": (sp.xlog1py, None, _uniform(-2, 2), _uniform(-0.5, 3)),
    "huber": (sp.huber, None, _uniform(0.5, 2), _uniform(-3, 3)),
    "pseudo_huber": (sp.pseudo_huber, None, _uniform(0.3, 2), _uniform(-3, 3)),
    "kl_div": (sp.kl_div, None, _uniform(0.2, 3), _uniform(0.2, 3)),
    "rel_entr": (sp.rel_entr, None, _uniform(0.2, 3), _uniform(0.2, 3)),
    "binom": (sp.binom, None, _uniform(3, 6), _uniform(0.5, 2.5)),
    "boxcox": (sp.boxcox, None, _uniform(0.5, 3), _uniform(-1, 1.5)),
    "boxcox1p": (sp.boxcox1p, None, _uniform(-0.5, 2), _uniform(-1, 1.5)),
    "inv_boxcox": (sp.inv_boxcox, None, _uniform(-0.5, 1), _uniform(-0.5, 1)),
    "inv_boxcox1p": (sp.inv_boxcox1p, None, _uniform(-0.5, 1), _uniform(-0.5, 1)),
    "powm1": (sp.powm1, None, _uniform(0.5, 3), _uniform(-2, 2)),
}


def _autograd_unary(fn):
    return lambda x: anp.sum(anp.sin(fn(x)))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_rules(name, monkeypatch):
    fn, oracle, sample = UNARY[name]
    monkeypatch.setitem(globals(), "FN", fn)
    for shape in [(3, 4), (5,)]:
        x = sample(shape)
        g = assert_grad_matches_fd(through_unary, x)
        if oracle is not None:
            np.testing.assert_allclose(g, autograd.grad(_autograd_unary(oracle))(x), rtol=1e-9)
    x0 = sample(())
    assert_grad_matches_fd(through_unary, np.asarray(x0))  # a 0-d array
    assert_grad_matches_fd(through_unary, float(x0))  # a Python float
    _float32_gives_float32(through_unary, sample((2, 3)))
    _forward_and_second_order(through_unary, [sample((2, 3))], (0,))


def _forward_and_second_order(f, args, wrt):
    """jvp agrees with the gradient (<grad, v>), and hvp with differences of the
    gradient."""
    g = ad.grad(f, wrt=wrt)(*args)
    g = g if isinstance(g, tuple) else (g,)
    v = [RNG.normal(size=np.shape(args[i])) for i in wrt]
    _, tangent = ad.jvp(f, wrt=wrt)(*args, tuple(v))
    assert tangent == pytest.approx(sum(np.sum(gi * vi) for gi, vi in zip(g, v)), rel=1e-9)
    assert fuzzcheck.check_hvp(f, args, wrt) == "hvp"


def _float32_gives_float32(f, x, *rest, wrt=0):
    g64 = ad.grad(f, wrt=wrt)(x, *rest)
    g32 = ad.grad(f, wrt=wrt)(x.astype(np.float32), *rest)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize("name", sorted(ORDERED))
def test_rules_of_an_order_and_x(name, monkeypatch):
    fn, oracle, sample, orders = ORDERED[name]
    monkeypatch.setitem(globals(), "FN", fn)
    for n in orders:
        monkeypatch.setitem(globals(), "ORDER", n)
        x = sample((3, 4))
        g = assert_grad_matches_fd(through_order, x, rtol=1e-5)
        if oracle is not None and float(n).is_integer():
            expected = autograd.grad(lambda x, n=n: anp.sum(anp.sin(oracle(n, x))))(x)
            np.testing.assert_allclose(g, expected, rtol=1e-8)
        assert_grad_matches_fd(through_order, float(sample(())), rtol=1e-5)
    # an array of orders, broadcast against x: the order gets no gradient
    orders_array = np.array([[0.0], [1.0], [2.0]])
    monkeypatch.setitem(globals(), "ORDER", orders_array)
    assert_grad_matches_fd(through_order, sample((1, 4)), rtol=1e-5)
    monkeypatch.setitem(globals(), "ORDER", orders[-1])
    _float32_gives_float32(through_order, sample((2, 3)))


def test_the_order_of_a_bessel_function_is_not_differentiated(monkeypatch):
    monkeypatch.setitem(globals(), "FN", sp.jv)

    def by_order(n, x):
        return np.sum(FN(n, x))

    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(by_order, wrt=0)(1.5, np.ones(3))
    assert "not differentiated with respect to its argument v" in info.value.reason
    assert info.value.line.strip() == "return np.sum(FN(n, x))"
    # with respect to x alone, n is a constant: fine
    assert_grad_matches_fd(by_order, 1.5, np.ones(3) + 0.5, wrt=1)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_rules(name, monkeypatch):
    fn, oracle, sample_a, sample_b = BINARY[name]
    monkeypatch.setitem(globals(), "FN", fn)
    for sa, sb in [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), ()), ((), ())]:
        a, b = sample_a(sa), sample_b(sb)
        g = assert_grad_matches_fd(through_binary, a, b, wrt=(0, 1), rtol=1e-5)
        if oracle is not None:
            expected = autograd.grad(lambda a, b: anp.sum(anp.sin(oracle(a, b))), argnum=(0, 1))(
                a, b
            )
            for gi, ei in zip(g, expected):
                np.testing.assert_allclose(gi, ei, rtol=1e-8)
    assert_grad_matches_fd(
        through_binary, float(sample_a(())), float(sample_b(())), wrt=(0, 1), rtol=1e-5
    )
    _float32_gives_float32(through_binary, sample_a((2, 3)), sample_b((2, 3)))
    _forward_and_second_order(through_binary, [sample_a((2, 3)), sample_b((2, 3))], (0, 1))


def test_xlogy_at_x_zero_has_derivative_zero_in_y():
    """xlogy(0, y) is 0 for every y: its derivative in y is 0, not 0/0."""

    def f(x, y):
        return np.sum(sp.xlogy(x, y))

    _, dy = ad.grad(f, wrt=(0, 1))(np.array([0.0, 1.0]), np.array([0.0, 2.0]))
    np.testing.assert_array_equal(dy, [0.0, 0.5])


def test_huber_at_its_kink_and_the_entropies_at_zero():
    """huber's derivatives are continuous at |r| = delta (the inner formulas there);
    kl_div and rel_entr at x = 0 are y and 0, with derivative 1 and 0 in y."""

    def huber_loss(delta, r):
        return np.sum(sp.huber(delta, r))

    gd, gr = ad.grad(huber_loss, wrt=(0, 1))(1.0, np.array([-1.0, 1.0, 0.5, 2.0]))
    np.testing.assert_array_equal(gr, [-1.0, 1.0, 0.5, 1.0])
    assert gd == 1.0  # (|r| - delta of the last element only)

    def entropies(x, y):
        return np.sum(sp.kl_div(x, y) + 2 * sp.rel_entr(x, y))

    with np.errstate(divide="ignore", invalid="ignore"):  # (log(0 / 0) in x: undefined)
        _, gy = ad.grad(entropies, wrt=(0, 1))(np.array([0.0, 0.0]), np.array([0.0, 2.0]))
    np.testing.assert_array_equal(gy, [1.0, 1.0])


def test_exprel_near_zero_uses_its_series():
    def f(x):
        return np.sum(sp.exprel(x))

    x = np.array([0.0, 1e-9, -1e-7, 2e-3])
    # the derivative of (exp(x) - 1) / x is 1/2 + x/3 + ... near 0
    np.testing.assert_allclose(ad.grad(f)(x), 0.5 + x / 3 + x**2 / 8 + x**3 / 30, rtol=1e-12)


# ------------------------------------------------------------------ log-sum-exp family


def lse_all(x):
    return logsumexp(x)


def lse_rows(x):
    return np.sum(np.sin(logsumexp(x, axis=1)))


def lse_cols_keepdims(x):
    return np.sum(np.sin(logsumexp(x, axis=0, keepdims=True)))


def lse_weighted(x, b):
    return np.sum(np.sin(logsumexp(x, axis=1, b=b)))


def softmax_rows(x):
    return np.sum(np.sin(softmax(x, axis=1)))


def softmax_all(x):
    return np.sum(np.sin(softmax(x)))


def log_softmax_cols(x):
    return np.sum(np.sin(log_softmax(x, axis=0)))


def log_softmax_all(x):
    return np.sum(np.sin(log_softmax(x)))


def test_logsumexp_against_finite_differences_and_autograd():
    x = RNG.normal(size=(3, 4))
    for f, a in [
        (lse_all, lambda x: asp.logsumexp(x)),
        (lse_rows, lambda x: anp.sum(anp.sin(asp.logsumexp(x, axis=1)))),
        (lse_cols_keepdims, lambda x: anp.sum(anp.sin(asp.logsumexp(x, axis=0, keepdims=True)))),
    ]:
        g = assert_grad_matches_fd(f, x)
        np.testing.assert_allclose(g, autograd.grad(a)(x), rtol=1e-9)
    assert_grad_matches_fd(lse_all, np.asarray(0.3))
    assert_grad_matches_fd(lse_all, 0.3)
    _float32_gives_float32(lse_rows, x)


def test_logsumexp_with_weights_b_broadcast_against_x():
    x = RNG.normal(size=(3, 4))
    for b in [RNG.uniform(0.5, 2, (3, 4)), RNG.uniform(0.5, 2, (1, 4)), np.asarray(2.0)]:
        g = assert_grad_matches_fd(lse_weighted, x, b, wrt=(0, 1))
        # (autograd differentiates its logsumexp with respect to a only)
        expected = autograd.grad(lambda x, b=b: anp.sum(anp.sin(asp.logsumexp(x, axis=1, b=b))))(x)
        np.testing.assert_allclose(g[0], expected, rtol=1e-9)


def test_logsumexp_is_stable_at_large_inputs():
    x = np.array([1000.0, 1000.5, -1000.0])
    g = ad.grad(lse_all)(x)
    e = np.exp(x - x.max())
    np.testing.assert_allclose(g, e / e.sum(), rtol=1e-12)
    assert_grad_matches_fd(lse_all, x)


def lse_with_sign(x):
    return logsumexp(x, return_sign=True)


def test_logsumexp_return_sign_is_refused_by_name():
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(lse_with_sign)(np.ones(3))
    assert "return_sign=" in info.value.reason
    assert "scipy.special.logsumexp" in info.value.reason


def test_softmax_and_log_softmax():
    x = RNG.normal(size=(3, 4))
    for f in (softmax_rows, softmax_all, log_softmax_cols, log_softmax_all):
        assert_grad_matches_fd(f, x)
        assert_grad_matches_fd(f, RNG.normal(size=(2, 5)))
        _float32_gives_float32(f, x)
    big = np.array([[800.0, 801.0, -5.0]])  # exp overflows; the rules read the results
    assert np.all(np.isfinite(ad.grad(softmax_rows)(big)))
    assert np.all(np.isfinite(ad.grad(log_softmax_all)(big)))
    assert_grad_matches_fd(softmax_rows, big)


def log_ndtr_sum(x):
    return np.sum(sp.log_ndtr(x))


def test_log_ndtr_is_stable_in_the_lower_tail():
    """At x = -40 the pdf and the cdf both underflow; their ratio is about 40."""
    x = np.array([-40.0, -10.0, 0.0, 5.0])
    g = assert_grad_matches_fd(log_ndtr_sum, x, rtol=1e-5)
    assert np.all(np.isfinite(g)) and g[0] > 39


# ------------------------------------------------------------------ coverage


def _optional_records(module):
    return [
        r
        for r in registry.primitives()
        if r.template is not None and r.template.__module__ == f"adcompile.rules.{module}"
    ]


def through_betainc(x):
    return np.sum(np.sin(sp.betainc(1.5, 2.5, x)))


def through_multigammaln(a):
    return np.sum(np.sin(sp.multigammaln(a, 3)))


def test_betainc_in_x():
    x = RNG.uniform(0.05, 0.95, (3, 4))
    g = assert_grad_matches_fd(through_betainc, x, rtol=1e-5)
    expected = autograd.grad(lambda x: anp.sum(anp.sin(asp.betainc(1.5, 2.5, x))))(x)
    np.testing.assert_allclose(g, expected, rtol=1e-8)
    assert_grad_matches_fd(through_betainc, 0.3, rtol=1e-5)


def test_multigammaln():
    a = RNG.uniform(1.5, 4, (3, 4))
    g = assert_grad_matches_fd(through_multigammaln, a, rtol=1e-5)
    expected = autograd.grad(lambda a: anp.sum(anp.sin(asp.multigammaln(a, 3))))(a)
    np.testing.assert_allclose(g, expected, rtol=1e-8)
    assert_grad_matches_fd(through_multigammaln, 2.5, rtol=1e-5)


def through_rgamma(x):
    return np.sum(sp.rgamma(x) * x)


def test_rgamma_at_the_poles_of_gamma():
    # 1 / gamma is 0 at 0, -1, -2, ..., and smooth there: its derivative is (-1)^n n!
    g = assert_grad_matches_fd(through_rgamma, np.array([0.0, -1.0, -2.0, -3.0]))
    assert np.all(np.isfinite(g))


def through_gammasgn(x):
    return np.sum(sp.gammasgn(x) * x)


def test_gammasgn_is_piecewise_constant():
    x = RNG.uniform(-3.7, 3, (3, 4))
    assert_grad_matches_fd(through_gammasgn, x)


def zeta_sum(s, q):
    return np.sum(np.sin(sp.zeta(s, q)))


def zeta_shift(q):
    return np.sum(np.sin(sp.zeta(2.5, q)))


def test_hurwitz_zeta_in_its_shift():
    # d/dq zeta(s, q) = -s zeta(s + 1, q); the exponent gets no gradient
    for s in (2.0, 3.5, np.array([[2.0], [3.0], [4.5]])):
        q = RNG.uniform(0.5, 3, (3, 4))
        assert_grad_matches_fd(zeta_sum, s, q, wrt=1, rtol=1e-5)
        assert_grad_matches_fd(zeta_sum, s, float(RNG.uniform(0.5, 3)), wrt=1, rtol=1e-5)
    # polygamma(n, q) is (-1)^(n+1) n! zeta(n + 1, q): autograd's polygamma is the oracle
    q = RNG.uniform(0.5, 3, (3, 4))
    expected = autograd.grad(lambda q: anp.sum(anp.sin(-0.5 * asp.polygamma(2, q))))(q)
    np.testing.assert_allclose(ad.grad(zeta_sum, wrt=1)(3.0, q), expected, rtol=1e-9)
    _float32_gives_float32(zeta_shift, q)
    with pytest.raises(ad.AdCompileError, match="zeta"):
        ad.grad(zeta_sum, wrt=0)(2.5, q)


def digamma_sum(x):
    return np.sum(np.sin(sp.digamma(x)))


def test_second_derivative_of_digamma_through_zeta():
    # digamma's derivative is written zeta(2, x) (float32 stays float32): its own
    # derivative is zeta's rule; autograd's hessian-vector product is the oracle
    x, v = RNG.uniform(0.5, 3, (2, 3)), RNG.normal(size=(2, 3))
    expected = autograd.grad(
        lambda x: anp.sum(autograd.grad(lambda y: anp.sum(anp.sin(asp.digamma(y))))(x) * v)
    )(x)
    np.testing.assert_allclose(ad.hvp(digamma_sum)(x, v), expected, rtol=1e-8)


def test_every_scipy_special_rule_is_tested():
    tested = {id(f) for f, *_ in [*UNARY.values(), *ORDERED.values(), *BINARY.values()]}
    tested |= {id(logsumexp), id(softmax), id(log_softmax), id(sp.betainc), id(sp.multigammaln)}
    tested.add(id(sp.zeta))
    missing = sorted(
        r.name for r in _optional_records("scipy_special") if id(r.canonical) not in tested
    )
    assert not missing, f"scipy.special rules without a test here: {missing}"


# ------------------------------------------------------------------ scipy.stats

import autograd.scipy.stats as ast_  # noqa: E402
import scipy.stats as st  # noqa: E402
from scipy.stats import norm  # noqa: E402

DIST = st.norm.logpdf  # rebound by each case, like FN


def dist3(x, p, q):
    return np.sum(np.sin(DIST(x, p, q)))


def dist4(x, p, q, r):
    return np.sum(np.sin(DIST(x, p, q, r)))


def dist5(x, p, q, r, s):
    return np.sum(np.sin(DIST(x, p, q, r, s)))


# method -> (autograd's, samplers of each operand); x first, then the shape
# parameters, loc, scale
_x = _uniform(-2, 2)
_pos = _uniform(0.6, 2.5)
STATS = {
    "norm.logpdf": (st.norm.logpdf, ast_.norm.logpdf, [_x, _uniform(-1, 1), _pos]),
    "norm.pdf": (st.norm.pdf, ast_.norm.pdf, [_x, _uniform(-1, 1), _pos]),
    "norm.cdf": (st.norm.cdf, ast_.norm.cdf, [_x, _uniform(-1, 1), _pos]),
    "norm.logcdf": (st.norm.logcdf, ast_.norm.logcdf, [_x, _uniform(-1, 1), _pos]),
    "t.logpdf": (st.t.logpdf, ast_.t.logpdf, [_x, _uniform(1.5, 6), _uniform(-1, 1), _pos]),
    "t.pdf": (st.t.pdf, ast_.t.pdf, [_x, _uniform(1.5, 6), _uniform(-1, 1), _pos]),
    "gamma.logpdf": (
        st.gamma.logpdf,
        lambda x, a, loc, scale: ast_.gamma.logpdf((x - loc) / scale, a) - anp.log(scale),
        [_uniform(2, 4), _pos, _uniform(-1, 0.5), _pos],
    ),
    "gamma.pdf": (
        st.gamma.pdf,
        lambda x, a, loc, scale: ast_.gamma.pdf((x - loc) / scale, a) / scale,
        [_uniform(2, 4), _pos, _uniform(-1, 0.5), _pos],
    ),
    "beta.logpdf": (
        st.beta.logpdf,
        # (autograd's gamma and beta take no loc and scale)
        lambda x, a, b, loc, scale: ast_.beta.logpdf((x - loc) / scale, a, b) - anp.log(scale),
        [_uniform(0.3, 0.7), _pos, _pos, _uniform(-0.2, 0.2), _uniform(1.0, 1.2)],
    ),
    "beta.pdf": (
        st.beta.pdf,
        lambda x, a, b, loc, scale: ast_.beta.pdf((x - loc) / scale, a, b) / scale,
        [_uniform(0.3, 0.7), _pos, _pos, _uniform(-0.2, 0.2), _uniform(1.0, 1.2)],
    ),
}
ENTRY = {3: dist3, 4: dist4, 5: dist5}


@pytest.mark.parametrize("name", sorted(STATS))
def test_distribution_methods(name, monkeypatch):
    method, oracle, samplers = STATS[name]
    monkeypatch.setitem(globals(), "DIST", method)
    f = ENTRY[len(samplers)]
    wrt = tuple(range(len(samplers)))
    for shapes in [[(3, 4)] * len(samplers), [(3, 1), (1, 4), *[()] * (len(samplers) - 2)]]:
        args = [s(shape) for s, shape in zip(samplers, shapes)]
        g = assert_grad_matches_fd(f, *args, wrt=wrt, rtol=1e-5)
        expected = autograd.grad(lambda *a: anp.sum(anp.sin(oracle(*a))), argnum=wrt)(*args)
        for gi, ei in zip(g, expected):
            np.testing.assert_allclose(gi, ei, rtol=1e-7, atol=1e-12)
    floats = [float(s(())) for s in samplers]
    assert_grad_matches_fd(f, *floats, wrt=wrt, rtol=1e-5)
    _float32_gives_float32(f, samplers[0]((2, 3)), *[float(s(())) for s in samplers[1:]])


# cdfs (and chi2's density in df): x, loc and scale differentiated, the shape parameters
# at the positions given constants; autograd's rules differentiate x (poisson's: mu)
_t_args = [_x, _uniform(1.5, 6), _uniform(-1, 1), _pos]
_gamma_args = [_uniform(2, 4), _pos, _uniform(-1, 0.5), _pos]
_beta_args = [_uniform(0.3, 0.7), _pos, _pos, _uniform(-0.2, 0.2), _uniform(1.0, 1.2)]
# (autograd's chi2 rule holds for whole degrees of freedom only: its gradient is 0 else)
_chi2_args = [_uniform(2, 4), lambda shape: RNG.integers(1, 6, shape) * 1.0, *_gamma_args[2:]]
CDFS = {
    "t.cdf": (st.t.cdf, ast_.t.cdf, _t_args, (1,)),
    "t.logcdf": (st.t.logcdf, ast_.t.logcdf, _t_args, (1,)),
    "gamma.cdf": (
        st.gamma.cdf,
        lambda x, a, loc, scale: ast_.gamma.cdf((x - loc) / scale, a),
        _gamma_args,
        (1,),
    ),
    "beta.cdf": (
        st.beta.cdf,
        lambda x, a, b, loc, scale: ast_.beta.cdf((x - loc) / scale, a, b),
        _beta_args,
        (1, 2),
    ),
    "chi2.cdf": (
        st.chi2.cdf,
        lambda x, df, loc, scale: ast_.chi2.cdf((x - loc) / scale, df),
        _chi2_args,
        (1,),
    ),
    "chi2.logpdf": (
        st.chi2.logpdf,
        lambda x, df, loc, scale: ast_.chi2.logpdf((x - loc) / scale, df) - anp.log(scale),
        _chi2_args,
        (),
    ),
    "chi2.pdf": (
        st.chi2.pdf,
        lambda x, df, loc, scale: ast_.chi2.pdf((x - loc) / scale, df) / scale,
        _chi2_args,
        (),
    ),
}


@pytest.mark.parametrize("name", sorted(CDFS))
def test_distribution_functions(name, monkeypatch):
    method, oracle, samplers, constant = CDFS[name]
    monkeypatch.setitem(globals(), "DIST", method)
    f = ENTRY[len(samplers)]
    wrt = tuple(i for i in range(len(samplers)) if i not in constant)
    for shapes in [[(3, 4)] * len(samplers), [(3, 1), (1, 4), *[()] * (len(samplers) - 2)]]:
        args = [s(shape) for s, shape in zip(samplers, shapes)]
        g = assert_grad_matches_fd(f, *args, wrt=wrt, rtol=1e-5)
        expected = autograd.grad(lambda *a: anp.sum(anp.sin(oracle(*a))))(*args)
        np.testing.assert_allclose(g[0], expected, rtol=1e-7, atol=1e-12)
        v = [RNG.normal(size=np.shape(args[i])) for i in wrt]
        value, tangent = ad.jvp(f, wrt=wrt)(*args, *v)
        assert tangent == pytest.approx(sum(np.sum(gi * vi) for gi, vi in zip(g, v)), rel=1e-9)
    floats = [float(s(())) for s in samplers]
    assert_grad_matches_fd(f, *floats, wrt=wrt, rtol=1e-5)
    _float32_gives_float32(f, samplers[0]((2, 3)), *[float(s(())) for s in samplers[1:]])
    assert fuzzcheck.check_hvp(f, [s((2, 3)) for s in samplers], wrt) == "hvp"
    for i in constant:  # a shape parameter of a cdf: refused by name
        with pytest.raises(ad.AdCompileError, match=name.split(".")[0]):
            ad.grad(f, wrt=i)(*[s((2, 3)) for s in samplers])


def poisson_cdf_loss(k, mu, loc):
    return np.sum(np.sin(st.poisson.cdf(k, mu, loc)))


def test_poisson_cdf_in_its_mean():
    k = np.array([[0.0, 1.0, 2.0, 5.0], [3.0, 2.5, 7.0, -1.0]])
    mu = RNG.uniform(0.5, 4, (2, 4))
    for loc in (0.0, 1.0):
        g = assert_grad_matches_fd(poisson_cdf_loss, k, mu, loc, wrt=1, rtol=1e-5)
        if loc == 0.0:
            expected = autograd.grad(lambda m: anp.sum(anp.sin(ast_.poisson.cdf(k, m))))(mu)
            np.testing.assert_allclose(g, expected, rtol=1e-8)
    assert fuzzcheck.check_hvp(poisson_cdf_loss, [k, mu, 0.5], (1,)) == "hvp"


def norm_defaults(x):
    return np.sum(norm.logpdf(x) + norm.cdf(x, 0.5) + norm.pdf(x, scale=2.0))


def t_by_module(x):
    return np.sum(st.t.logpdf(x, 3.0))


def test_distribution_methods_with_their_defaults_and_spellings():
    x = RNG.normal(size=(4,))
    assert_grad_matches_fd(norm_defaults, x)
    assert_grad_matches_fd(t_by_module, x)


COUNTS = np.array([0.0, 1.0, 4.0, 7.0])


def poisson_loss(mu):
    return np.sum(np.sin(st.poisson.logpmf(COUNTS, mu) + st.poisson.pmf(COUNTS, mu)))


def test_poisson_with_respect_to_its_mean():
    for mu in (RNG.uniform(1, 5, (4,)), 2.5, np.asarray(3.0)):
        g = assert_grad_matches_fd(poisson_loss, mu)
        expected = autograd.grad(
            lambda m: anp.sum(anp.sin(ast_.poisson.logpmf(COUNTS, m) + ast_.poisson.pmf(COUNTS, m)))
        )(mu)
        np.testing.assert_allclose(g, expected, rtol=1e-8)


def norm_logcdf_sum(x):
    return np.sum(norm.logcdf(x))


def test_norm_logcdf_is_stable_in_the_lower_tail():
    g = assert_grad_matches_fd(norm_logcdf_sum, np.array([-40.0, -3.0, 2.0]), rtol=1e-5)
    assert g[0] > 39


def norm_sf(x):
    return np.sum(norm.sf(x))


def test_a_distribution_method_without_a_rule_is_refused_by_name():
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(norm_sf)(np.ones(2))
    assert info.value.reason == "scipy.stats.norm.sf has no adjoint rule"
    assert "@adcompile.adjoint(norm.sf)" in info.value.hint


def zscore_sum(x):
    return np.sum(st.zscore(x) ** 2)


def test_a_pure_python_scipy_function_is_refused_by_its_public_name():
    """scipy.stats.zscore is written in Python: it is a library function, refused at
    the user's line, not read from scipy's source."""
    with pytest.raises(ad.AdCompileError) as info:
        ad.grad(zscore_sum)(np.arange(4.0))
    assert info.value.reason == "st.zscore (scipy.stats.zscore) has no adjoint rule"
    assert info.value.filename.endswith("test_rules_scipy.py")


def mvn_loss(x, mean, cov):
    return np.sum(np.sin(st.multivariate_normal.logpdf(x, mean, cov)))


def mvn_pdf_loss(x, mean, cov):
    return np.sum(st.multivariate_normal.pdf(x, mean, cov) * 10.0)


def test_multivariate_normal_in_x_mean_and_cov():
    """scipy reads only cov's lower triangle: the gradient in cov is there (finite
    differences agree); its symmetric part is autograd's gradient."""
    a = RNG.normal(size=(3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    for x in (RNG.normal(size=(5, 3)), RNG.normal(size=3)):
        mean = RNG.normal(size=3)
        g = assert_grad_matches_fd(mvn_loss, x, mean, cov, wrt=(0, 1, 2), rtol=1e-5)
        expected = autograd.grad(
            lambda x, m, c: anp.sum(anp.sin(ast_.multivariate_normal.logpdf(x, m, c))),
            argnum=(0, 1, 2),
        )(x, mean, cov)
        np.testing.assert_allclose(g[0], expected[0], rtol=1e-8)
        np.testing.assert_allclose(g[1], expected[1], rtol=1e-8)
        np.testing.assert_allclose((g[2] + g[2].T) / 2, expected[2], rtol=1e-8, atol=1e-12)
        assert_grad_matches_fd(mvn_pdf_loss, x, mean, cov, wrt=(0, 1, 2), rtol=1e-5)
    _float32_gives_float32(mvn_loss, RNG.normal(size=(4, 3)), np.zeros(3), cov)


def mvn_covariance_forms(x, mean, scale, diagonal):
    return (
        np.sum(st.multivariate_normal.logpdf(x, mean))
        + np.sum(st.multivariate_normal.logpdf(x, mean, scale))
        + np.sum(st.multivariate_normal.pdf(x, mean, diagonal))
    )


def test_multivariate_normal_with_a_number_or_a_diagonal_as_cov():
    """scipy reads a number as that times the identity and a vector as the diagonal
    (and cov=1 by default): the gradient has cov's own shape."""
    x, mean = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    g = assert_grad_matches_fd(
        mvn_covariance_forms, x, mean, 1.7, np.array([0.5, 1.2, 2.0]), wrt=(0, 1, 2, 3)
    )
    assert np.shape(g[2]) == () and np.shape(g[3]) == (3,)


POINTS = np.array([[0.2, 0.1, 0.6], [0.3, 0.4, 0.1], [0.5, 0.5, 0.3]])  # (k, n)


def dirichlet_loss(alpha):
    return np.sum(np.sin(st.dirichlet.logpdf(POINTS, alpha) + st.dirichlet.pdf(POINTS, alpha)))


def dirichlet_one_point(alpha):
    return st.dirichlet.logpdf(POINTS[:, 0], alpha) * 2.0


def dirichlet_in_x(x, alpha):
    return st.dirichlet.logpdf(x, alpha)


def test_dirichlet_in_alpha():
    alpha = RNG.uniform(0.5, 3, 3)
    assert_grad_matches_fd(dirichlet_loss, alpha, rtol=1e-5)
    g = assert_grad_matches_fd(dirichlet_one_point, alpha)
    # (autograd's gradient in alpha is for one point only)
    expected = autograd.grad(lambda a: ast_.dirichlet.logpdf(POINTS[:, 0], a) * 2.0)(alpha)
    np.testing.assert_allclose(g, expected, rtol=1e-8)
    _float32_gives_float32(dirichlet_loss, alpha)


def dirichlet_points_loss(x, alpha):
    w = np.array([0.3, -1.2, 0.7])
    return np.sum(w * (st.dirichlet.logpdf(x, alpha) + 0.1 * st.dirichlet.pdf(x, alpha)))


def test_dirichlet_in_x_with_one_component_fewer():
    """x of k - 1 components is free (scipy adds 1 minus their sum as the last):
    finite differences see its whole gradient, for one point and for several."""
    alpha = np.array([1.5, 2.0, 3.0])
    assert_grad_matches_fd(dirichlet_in_x, POINTS[:2, 0], alpha, wrt=(0, 1))
    assert_grad_matches_fd(dirichlet_points_loss, POINTS[:2], alpha, wrt=(0, 1), rtol=1e-5)
    _float32_gives_float32(dirichlet_points_loss, POINTS[:2], alpha)


def dirichlet_weighted(x, alpha):
    return np.sum(np.array([0.3, -1.2, 0.7]) * st.dirichlet.logpdf(x, alpha))


def test_dirichlet_in_x_on_the_simplex():
    """With all k components x must stay on the simplex (scipy refuses any other
    point): the gradient is that of the formula in free x, as autograd's, and along
    each direction on the simplex it is the derivative finite differences measure."""
    alpha = np.array([1.5, 1.0, 3.0])  # (alpha 1: that component's term is 0)
    w = np.array([0.3, -1.2, 0.7])
    # (autograd's rule is for one point at a time)
    columns = [w[j] * autograd.grad(ast_.dirichlet.logpdf)(POINTS[:, j], alpha) for j in range(3)]
    expected = np.stack(columns, axis=1)
    np.testing.assert_allclose(ad.grad(dirichlet_weighted)(POINTS, alpha), expected, rtol=1e-12)
    g = ad.grad(dirichlet_points_loss)(POINTS, alpha)
    for _ in range(3):
        direction = RNG.normal(size=POINTS.shape)
        direction -= direction.mean(axis=0)  # each point's components sum to 0
        h = 1e-6
        fd = (
            dirichlet_points_loss(POINTS + h * direction, alpha)
            - dirichlet_points_loss(POINTS - h * direction, alpha)
        ) / (2 * h)
        np.testing.assert_allclose(np.sum(g * direction), fd, rtol=1e-6)


def test_dirichlet_through_a_softmax():
    """x = softmax(z) stays on the simplex: the gradient in z is the whole derivative."""

    def through(z, alpha):
        return st.dirichlet.logpdf(softmax(z), alpha)

    assert_grad_matches_fd(through, RNG.normal(size=3), np.array([1.5, 2.0, 3.0]), wrt=(0, 1))


def test_every_scipy_stats_rule_is_tested():
    methods = [*(v[0] for v in STATS.values()), st.poisson.logpmf, st.poisson.pmf]
    methods += [*(v[0] for v in CDFS.values()), st.poisson.cdf]
    methods += [st.multivariate_normal.logpdf, st.multivariate_normal.pdf]
    methods += [st.dirichlet.logpdf, st.dirichlet.pdf]
    # (each access makes a new bound method: compare by object and function)
    tested = {(id(m.__self__), id(m.__func__)) for m in methods}
    missing = sorted(
        r.name
        for r in _optional_records("scipy_stats")
        if (id(r.canonical.__self__), id(r.canonical.__func__)) not in tested
    )
    assert not missing, f"scipy.stats rules without a test here: {missing}"


def test_the_cli_reads_scipy_imports_without_running_the_file(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "model.py").write_text(
        "import numpy as np\n"
        "from scipy.special import logsumexp\n"
        "from scipy.stats import norm\n\n\n"
        "def f(x):\n"
        "    return logsumexp(x) + np.sum(norm.logpdf(x))\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "adcompile", "show", f"{tmp_path / 'model.py'}:f"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    # (logsumexp's value is not needed: its adjoint is computed from x)
    assert "exp_minus_logsumexp(x)" in proc.stdout and "norm.logpdf(x)" in proc.stdout


def test_a_rule_registered_for_a_distribution_method_is_used():
    """The refusal's advice works for a bound method too (each access of norm.sf is
    a new object: the rule is found by the object and the function)."""
    state = registry.snapshot()
    try:

        @ad.adjoint(norm.sf, broadcasts=True)
        def sf(dy, y, x, loc=0, scale=1):
            z = (x - loc) / scale
            density = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) / scale
            return -dy * density, dy * density, dy * density * z

        assert_grad_matches_fd(norm_sf, RNG.normal(size=(3,)))
    finally:
        registry.restore(state)
