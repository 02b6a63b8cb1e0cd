"""Second derivatives of functions that call numpy's norms, einsum, linear algebra,
fft and split: the gradient's code calls runtime helpers (norm_adjoint,
einsum_adjoint, solve_transposed, cholesky_adjoint, fit_axes, unsplit, ...) that are
differentiated again through their definitions in the accepted language
(rules/bodies.py) or their own rules. hvp is checked against autograd's
hessian_vector_product and against central differences of the compiled gradient;
grad(grad(f)) through a gradient penalty against autograd; jvp of the same functions
against autograd's forward derivative."""

import sys
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import assert_gradient_penalty_matches_autograd

import adcompile as ad
from adcompile import runtime
from adcompile.rules import registry
from adcompile.rules.bodies import definition
from adcompile.rules.runtime_rules import NOT_IN_GRADIENTS, SECOND_ORDER_REFUSED
from adcompile.rules.tangents import tangent_rule

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzzcheck  # noqa: E402
from helpers import assert_grad_matches_fd  # noqa: E402

SCALES = np.array([1.0, 2.0, 3.0, 4.0])
SPD = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.8]])
B = np.random.default_rng(7).normal(size=(3, 2))


def programs(np):
    """The same functions over numpy, or over autograd's numpy (the oracle)."""

    def norm_all(x):
        return np.linalg.norm(x) * np.sum(x**2) + np.linalg.norm(x * x[0])

    def norm_rows(x):  # (3, 4): one norm per row, broadcast against a column
        n = np.linalg.norm(x, axis=1)[:, None]
        return np.sum(np.tanh(x / n) * x) + np.sum(np.linalg.norm(x, axis=0) ** 3)

    def norm_keepdims(x):  # (3, 4) (autograd's rule fails on keepdims in second order)
        m = np.linalg.norm(x, axis=0, keepdims=True)
        return np.sum(np.sin(x / m) * x) + np.sum(
            np.linalg.norm(x, ord=np.inf, axis=1, keepdims=True) * x
        )

    def norm_orders(x):
        return (
            np.linalg.norm(x, ord=3) * x[0]
            + np.linalg.norm(x, ord=2) ** 2
            + np.linalg.norm(np.tanh(x), ord=1.5)
        )

    def norm_matrix(x):  # (3, 4)
        return np.linalg.norm(x, "fro") * np.sum(x) + np.linalg.norm(x * x, ord="fro")

    def norm_kinds(x):  # (3, 4): vector_norm over axes, matrix norms through the SVD
        return (
            np.sum(np.linalg.vector_norm(x, axis=(0, 1)) ** 2) * np.sum(x)
            + np.sum(np.linalg.vector_norm(x, ord=3, axis=1, keepdims=True) * x)
            + np.linalg.matrix_norm(x, ord="nuc") ** 2
            + np.linalg.norm(x, ord=2) * x[0, 0]
            + np.linalg.norm(x, ord=1) * np.linalg.norm(x, ord=np.inf)
        )

    def einsum_matmul(x, W):  # (3, 4), (4, 2)
        return np.sum(np.tanh(np.einsum("ij,jk->ik", x, W)) ** 2)

    def einsum_broadcast(x, W):  # (3, 4), (4, 2): an ellipsis, a summed label
        y = np.einsum("...j,jk->...k", x, W)
        t = np.einsum("ij,ij->i", x, x)
        return np.sum(np.sin(y)) + np.sum(t * np.einsum("ij->j", x)[0])

    def einsum_three(x, W):
        return np.einsum("ij,jk,ik->", x, W, np.tanh(x @ W)) + np.sum(
            np.einsum("ij,kj->ik", x, x) ** 2
        )

    def einsum_diagonal(x):  # (3, 3): a repeated label (autograd's own rule fails on it)
        return np.einsum("ii->", np.tanh(x) * x) + np.sum(
            np.einsum("iij->ij", x[None] * x[:, None]) ** 2
        )

    def solve_vector(a, x):  # (3, 3), (3,)
        return np.sum(np.linalg.solve(a + 3 * np.eye(3), np.tanh(x)) ** 2)

    def solve_matrix(a, b):  # (3, 3), (3, 2)
        return np.sum(np.sin(np.linalg.solve(a + 3 * np.eye(3), b)))

    def inverse(a):
        return np.sum(np.linalg.inv(a + 3 * np.eye(3)) ** 2) + np.trace(
            np.linalg.inv(SPD @ a + 4 * np.eye(3))
        )

    def determinant(a):
        return np.linalg.det(a + 2 * np.eye(3)) ** 2 + np.linalg.det(a * a + np.eye(3))

    def log_determinant(a):
        sign, logdet = np.linalg.slogdet(a + 3 * np.eye(3))
        return logdet * sign + np.sum(a**2)

    def cholesky_factor(a):
        s = a @ a.T + SPD
        return np.sum(np.tanh(np.linalg.cholesky(s))) + np.sum(np.linalg.cholesky(s) ** 2)

    def symmetric_eigen(a):
        w, v = np.linalg.eigh(a + a.T + np.diag(np.arange(3.0) * 3))
        return np.sum(w**3) + np.sum(v[:, 0] * v[:, 1] * v[:, 2])

    def fourier(x):  # (8,)
        f = np.fft.fft(x * x[0])
        return np.sum(np.abs(f) ** 2) * 0.1 + np.sum(np.real(np.fft.ifft(f * f)))

    def real_fourier(x):  # (8,)
        h = np.fft.rfft(np.tanh(x))
        return np.sum(np.abs(h) ** 3) * 0.1 + np.sum(np.fft.irfft(h * h, 8) * x)

    def fourier_2d(x):  # (4, 4)
        f = np.fft.fft2(np.sin(x))
        return np.sum(np.real(f * np.conj(f))) * 0.01 + np.sum(np.real(np.fft.rfft2(x)) ** 2) * 0.01

    def split(x):  # (6,)
        a, b, c = np.split(x, 3)
        return np.sum(a * b**2) + np.sum(np.tanh(c) * a)

    def split_rows(x):  # (4, 3)
        top, bottom = np.split(x, [1], axis=0)
        return np.sum(np.tanh(top) * bottom) + np.sum(top**3)

    def contractions(x, W):  # (3, 4), (4, 2)
        t = np.tensordot(x, W, axes=1) + np.tensordot(x, x, axes=([1], [1]))[:, :2]
        return np.sum(np.tanh(t)) + np.sum(np.inner(x, x) ** 2) + np.sum(np.kron(W, x[:2, :2]) ** 2)

    def cross(x, W):  # (3, 4), (4, 2): rows of 3-vectors, broadcast against one
        c = np.cross(x[:, :3], np.tanh(W[:3, 0]))
        return np.sum(c**2) + np.sum(np.cross(x[0, :3], x[1, 1:]) * x[2, :3])

    def products(x):  # (3, 4)
        return (
            np.prod(np.tanh(x))
            + np.sum(np.prod(x, axis=1) ** 2)
            + np.sum(np.prod(x[:, :2], axis=0, keepdims=True) * x[:, 1:3])
        )

    def singular_values(a):  # (3, 4)
        s = np.linalg.svd(a, compute_uv=False)
        u, t, vh = np.linalg.svd(a @ a.T + np.diag(np.arange(3.0)), full_matrices=False)
        return np.sum(s**3) + np.sum(t * np.sin(t)) + np.sum(u[:, 0] * vh[0] * u[:, 1])

    def matrix_powers(a):  # (3, 3)
        return np.sum(np.linalg.matrix_power(a, 3) ** 2) + np.sum(
            np.linalg.matrix_power(a + 3 * np.eye(3), -2)
        )

    def differences(x):  # (6,)
        return np.sum(np.gradient(np.tanh(x) * x[0], 0.5) ** 2)

    def qr_factors(a):  # (4, 3), and a wide block (3, 4)
        q, r = np.linalg.qr(a)
        q2, r2 = np.linalg.qr(a.T * SCALES)
        return np.sum(np.tanh(r)) + np.sum(q[:, 0] ** 3) + np.sum(r2**2) + np.sum(q2 * q2[0])

    def cumulative_products(x):  # (3, 4)
        return np.sum(np.cumprod(x, axis=1) ** 2) + np.sum(np.tanh(np.cumprod(x[0])))

    def batched_linear_algebra(a, b):  # (2, 3, 3) a batch, (3,) one vector for both
        m = a + 3 * np.eye(3)
        s = m @ np.swapaxes(m, -1, -2)
        return (
            np.sum(np.linalg.solve(m, b) ** 2)
            + np.sum(np.linalg.det(m) ** 2)
            + np.sum(np.linalg.inv(m)[:, 0] * b)
            + np.sum(np.linalg.slogdet(s)[1])
            + np.sum(np.tanh(np.linalg.cholesky(s)))
        )

    def einsum_size_one(x, w):  # (3, 1), (1, 4): labels of size 1 broadcast
        return np.sum(np.tanh(np.einsum("ij,ij->ij", x, w)) ** 2) + np.sum(
            np.einsum("...i,...i->...", x * w, np.ones((2, 3, 4)))
        )

    def least_squares(a, b):  # (4, 3), (4,)
        x, res, rank, s = np.linalg.lstsq(a, b, rcond=None)
        y = np.linalg.lstsq(a, np.stack([b, np.tanh(b)], axis=1), rcond=None)[0]
        return np.sum(x**3) + np.sum(res) + np.sum(s**2) * 0.1 + np.sum(np.sin(y))

    def built_from_numbers(x):  # (3,)
        a = np.full((2, 3), x[0] ** 2) * x
        b = np.linspace(x[1], np.tanh(x[2]), 5)
        c = np.arange(x[0], 4.0, np.exp(x[1]) + 1.0)
        return np.sum(a**2) + np.sum(np.sin(b) * b) + np.sum(np.cos(c))

    return {
        "built_from_numbers": (built_from_numbers, [(3,)]),
        "least_squares": (least_squares, [(4, 3), (4,)]),
        "batched_linear_algebra": (batched_linear_algebra, [(2, 3, 3), (3,)]),
        "einsum_size_one": (einsum_size_one, [(3, 1), (1, 4)]),
        "qr_factors": (qr_factors, [(4, 3)]),
        "cumulative_products": (cumulative_products, [(3, 4)]),
        "contractions": (contractions, [(3, 4), (4, 2)]),
        "cross": (cross, [(3, 4), (4, 2)]),
        "products": (products, [(3, 4)]),
        "singular_values": (singular_values, [(3, 4)]),
        "matrix_powers": (matrix_powers, [(3, 3)]),
        "differences": (differences, [(6,)]),
        "norm_all": (norm_all, [(4,)]),
        "norm_rows": (norm_rows, [(3, 4)]),
        "norm_keepdims": (norm_keepdims, [(3, 4)]),
        "norm_kinds": (norm_kinds, [(3, 4)]),
        "norm_orders": (norm_orders, [(4,)]),
        "norm_matrix": (norm_matrix, [(3, 4)]),
        "einsum_matmul": (einsum_matmul, [(3, 4), (4, 2)]),
        "einsum_broadcast": (einsum_broadcast, [(3, 4), (4, 2)]),
        "einsum_three": (einsum_three, [(3, 4), (4, 2)]),
        "einsum_diagonal": (einsum_diagonal, [(3, 3)]),
        "solve_vector": (solve_vector, [(3, 3), (3,)]),
        "solve_matrix": (solve_matrix, [(3, 3), (3, 2)]),
        "inverse": (inverse, [(3, 3)]),
        "determinant": (determinant, [(3, 3)]),
        "log_determinant": (log_determinant, [(3, 3)]),
        "cholesky_factor": (cholesky_factor, [(3, 3)]),
        "symmetric_eigen": (symmetric_eigen, [(3, 3)]),
        "fourier": (fourier, [(8,)]),
        "real_fourier": (real_fourier, [(8,)]),
        "fourier_2d": (fourier_2d, [(4, 4)]),
        "split": (split, [(6,)]),
        "split_rows": (split_rows, [(4, 3)]),
    }


NUMPY, AUTOGRAD = programs(np), programs(anp)
# (autograd's rules fail on these, or has none: checked against finite differences)
WITHOUT_AUTOGRAD = {
    "einsum_diagonal",
    "norm_keepdims",
    "differences",
    "matrix_powers",
    "cumulative_products",
    "qr_factors",
    "batched_linear_algebra",
    "least_squares",
    "norm_kinds",
    "built_from_numbers",
}
WITH_AUTOGRAD = sorted(set(NUMPY) - WITHOUT_AUTOGRAD)
# (autograd's own second derivative of np.cross of operands that broadcast fails)
AUTOGRAD_HVP = [name for name in WITH_AUTOGRAD if name != "cross"]


def arguments(name, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) * 0.5 for shape in NUMPY[name][1]]


def vectors(args, seed=1):
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=np.shape(a)) for a in args)


@pytest.mark.parametrize("name", AUTOGRAD_HVP)
def test_hvp_against_autograd(name):
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name)
    wrt = tuple(range(len(args)))
    vs = vectors(args)
    got = ad.hvp(f, wrt=wrt)(*args, vs)
    got = got if isinstance(got, tuple) else (got,)
    sizes = np.cumsum([np.size(a) for a in args])[:-1]

    def packed(flat):  # g of all the parameters as one vector
        parts = anp.split(flat, sizes)
        return g(*[anp.reshape(p, np.shape(a)) for p, a in zip(parts, args)])

    flat = np.concatenate([np.ravel(a) for a in args])
    expected = autograd.hessian_vector_product(packed)(
        flat, np.concatenate([np.ravel(v) for v in vs])
    )
    np.testing.assert_allclose(
        np.concatenate([np.ravel(h) for h in got]), expected, rtol=1e-8, atol=1e-10
    )


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_definitions_compute_what_the_helpers_do(name):
    # jvp(grad(f)) runs the gradient's code with the definitions in place of the helpers
    f = NUMPY[name][0]
    args = arguments(name, seed=9)
    gradient, _ = ad.jvp(ad.grad(f))(*args, vectors(args[:1])[0])
    np.testing.assert_allclose(gradient, ad.grad(f)(*args), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_hvp_against_differences_of_the_gradient(name):
    f = NUMPY[name][0]
    args = arguments(name, seed=3)
    assert fuzzcheck.check_hvp(f, args, tuple(range(len(args)))) == "hvp"


@pytest.mark.parametrize("name", WITH_AUTOGRAD)
def test_hessian_against_autograd(name):
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name, seed=4)
    np.testing.assert_allclose(
        ad.hessian(f)(*args), autograd.hessian(g)(*args), rtol=1e-8, atol=1e-10
    )


@pytest.mark.parametrize("name", WITH_AUTOGRAD)
def test_jvp_against_autograd(name):
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name, seed=6)
    v = vectors(args[:1], seed=2)[0]
    value, slope = ad.jvp(f)(*args, v)
    expected = autograd.grad(g)(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    np.testing.assert_allclose(slope, np.sum(expected * v), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", WITH_AUTOGRAD)
def test_gradient_penalty_against_autograd(name):
    # reverse over reverse: the adjoints of the definitions
    f, g = NUMPY[name][0], AUTOGRAD[name][0]
    args = arguments(name, seed=5)
    assert_gradient_penalty_matches_autograd(f, g, args, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(WITHOUT_AUTOGRAD))
def test_without_autograd_against_finite_differences(name):
    f = NUMPY[name][0]
    args = arguments(name, seed=8)
    assert fuzzcheck.check_hvp(f, args, (0,), seed=4) == "hvp"
    v = vectors(args[:1], seed=2)[0]
    value, slope = ad.jvp(f)(*args, v)
    eps = 1e-6
    shifted = [(f(*[args[0] + s * eps * v, *args[1:]])) for s in (1.0, -1.0)]
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    np.testing.assert_allclose(slope, (shifted[0] - shifted[1]) / (2 * eps), rtol=1e-6)
    df = ad.grad(f)
    if len(args) == 1:

        def penalty(x):
            return np.sum(np.sin(df(x)))

    else:

        def penalty(x, W):
            return np.sum(np.sin(df(x, W)))

    assert_grad_matches_fd(penalty, *args, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------ every helper is decided


def test_every_runtime_helper_is_decided_for_second_order():
    """Each helper generated code may call has records (an adjoint and a tangent rule,
    or none for a result without derivative), or a definition in the accepted language,
    or is refused with a reason, or is listed as never called by a user's gradient; in
    exactly one of those. A new helper fails here until one is chosen."""
    for name, fn in sorted(runtime.HELPERS.items()):
        if isinstance(fn, type):
            continue
        record = registry.PRIMITIVES.get(id(fn))
        places = [
            record is not None,
            definition(fn) is not None,
            name in SECOND_ORDER_REFUSED,
            name in NOT_IN_GRADIENTS,
        ]
        assert sum(places) == 1, f"{name}: records, definition, refused, not in gradients: {places}"
        if record is not None and record.differentiable:
            assert tangent_rule(fn) is not None, f"{name} has an adjoint and no tangent rule"
        if name in SECOND_ORDER_REFUSED or name in NOT_IN_GRADIENTS:
            assert registry.refusal(fn) is not None, name
            reason = SECOND_ORDER_REFUSED.get(name) or NOT_IN_GRADIENTS[name]
            assert reason in registry.refusal(fn)[0]
    for table in (SECOND_ORDER_REFUSED, NOT_IN_GRADIENTS):
        assert set(table) <= set(runtime.HELPERS), set(table) - set(runtime.HELPERS)


def _helpers_in_adjoint_rules() -> set[str]:
    """The runtime helpers the adjoint rules of numpy's (and scipy's) functions name:
    what a user's gradient may call."""
    import ast
    import inspect

    from adcompile import rules
    from adcompile.rules import runtime_rules

    rules.load_optional(import_libraries=True)
    found = set()
    modules = [m for m in vars(rules).values() if inspect.ismodule(m)]
    for module in modules:
        if module is runtime_rules or not module.__name__.startswith("adcompile.rules."):
            continue
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if not isinstance(node, ast.FunctionDef):
                continue
            decorators = {
                d.func.id
                for d in node.decorator_list
                if isinstance(d, ast.Call) and isinstance(d.func, ast.Name)
            }
            if decorators & {"adjoint", "complex_adjoint"}:
                found |= {
                    n.id for s in node.body for n in ast.walk(s) if isinstance(n, ast.Name)
                } & set(runtime.HELPERS)
    return found


def _helpers_of_the_reverse_sweep() -> set[str]:
    import re

    package = Path(ad.__file__).parent
    found = set()
    for path in (package / "reverse").glob("*.py"):
        found |= set(re.findall(r'helper\("(\w+)"\)', path.read_text()))
    return found


def test_the_helpers_a_gradient_calls_are_not_set_aside():
    """What the reverse sweep and the adjoint rules emit is differentiable again or
    refused with its reason, never in the list of helpers no gradient calls."""
    emitted = _helpers_in_adjoint_rules() | _helpers_of_the_reverse_sweep()
    assert {"norm_adjoint", "einsum_adjoint", "unsplit", "unit_cotangent"} <= emitted
    assert not emitted & set(NOT_IN_GRADIENTS) - {"einsum_sublists"}, emitted & set(
        NOT_IN_GRADIENTS
    )


def eig_loss(a):
    w, v = np.linalg.eig(a)
    return np.sum(np.tanh(np.real(w)))


def test_a_refused_helper_is_named_at_the_users_line():
    a = np.array([[2.0, 0.3, 0.0], [0.1, 1.0, 0.2], [0.0, 0.4, 3.0]])
    with pytest.raises(ad.AdCompileError) as info:
        ad.hvp(eig_loss)(a, np.ones((3, 3)))
    err = info.value
    assert "eig_adjoint" in err.reason and "the adjoint of np.linalg.eig " in err.reason
    assert "line " in err.reason and "w, v = np.linalg.eig(a)" in err.reason
    assert err.loc is not None and "def eig_loss" in err.loc.text
    # jvp of the same function is first order: it works
    value, slope = ad.jvp(eig_loss)(a, np.ones((3, 3)))
    assert np.isfinite(slope)


def singular_det(a):
    return np.linalg.det(a) * np.sum(a)


def test_the_second_derivative_of_det_at_a_singular_matrix_is_refused():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(
        ad.grad(singular_det)(a), np.sum(a) * np.array([[4.0, -2.0], [-2.0, 1.0]])
    )
    with pytest.raises(ValueError, match="singular matrix is not supported"):
        ad.hvp(singular_det)(a, np.ones((2, 2)))


def qr_r_only(a):
    return np.sum(np.tanh(np.linalg.qr(a, mode="r")))


def test_the_second_derivative_of_qr_mode_r_is_refused():
    a = np.array([[2.0, 0.3, 0.0], [0.1, 1.0, 0.2], [0.0, 0.4, 3.0], [1.0, 0.0, 0.5]])
    assert np.all(np.isfinite(ad.grad(qr_r_only)(a)))
    with pytest.raises(ValueError, match="mode='r'"):
        ad.hvp(qr_r_only)(a, np.ones_like(a))
