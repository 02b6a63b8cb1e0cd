"""numpy.fft and complex intermediate values: a real loss of real inputs may go
through complex values (a Fourier transform's), and its gradient is the real one.

Each case is a plain ``def`` whose gradient is checked against central finite
differences and against autograd (the same code with ``np`` bound to
``autograd.numpy``; autograd's convention for complex values is the one
adcompile follows, docs/numerics.md). Then: what is refused, by name, because
no rule is right for complex values; and complex arguments."""

from __future__ import annotations

import types

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile.rules import registry

# a complex gradient reaching a real input would be cast with this warning: never
pytestmark = pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning")

RNG = np.random.default_rng(7)
X = RNG.normal(size=(3, 8))
W = RNG.normal(size=(3, 8))
V = RNG.normal(size=(3, 5))
CUBE = RNG.normal(size=(2, 4, 6))


def through_autograd(f):
    """``f`` with its globals' ``np`` bound to autograd's numpy."""
    return types.FunctionType(f.__code__, {**f.__globals__, "np": anp})


def check(f, *args, wrt=0, autograd_too=True, rtol=1e-6):
    g = assert_grad_matches_fd(f, *args, wrt=wrt, rtol=rtol, atol=1e-7)
    if autograd_too:
        expected = autograd.grad(through_autograd(f), wrt)(*args)
        np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-10)
    return g


# ------------------------------------------------------------ the transforms


def fft_abs(x, w):
    return np.sum(np.abs(np.fft.fft(x)) * w)


def fft_parts(x, w):
    z = np.fft.fft(x, axis=0, norm="ortho")
    return np.sum(np.real(z) * w) + np.sum(np.imag(z) ** 2)


def fft_padded(x, w):
    return np.sum(np.abs(np.fft.fft(x, 12)) * np.sum(w))


def fft_cut(x, w):
    return np.sum(np.real(np.fft.fft(x, 5, axis=-1)) * w[:, :5])


def ifft_abs(x, w):
    return np.sum(np.abs(np.fft.ifft(x, norm="forward")) * w)


def fft2_abs(x, w):
    return np.sum(np.abs(np.fft.fft2(x)) ** 2 * w)


def ifft2_parts(x, w):
    z = np.fft.ifft2(x, s=(4, 6))
    return np.sum(np.imag(z) * w[0, :6]) + np.sum(np.real(z))


def fftn_abs(x, w):
    return np.sum(np.abs(np.fft.fftn(x, axes=(0, 2))))


def ifftn_abs(x, w):
    return np.sum(np.abs(np.fft.ifftn(x, s=(3, 5), axes=(1, 2))) * w[:, :, :5])


def rfft_abs(x, w):
    return np.sum(np.abs(np.fft.rfft(x)) * w[:, :5])


def rfft_odd(x, w):
    return np.sum(np.abs(np.fft.rfft(x, 7, norm="ortho")) * w[:, :4])


def rfft2_parts(x, w):
    z = np.fft.rfft2(x)
    return np.sum(np.real(z) * w[:, :5]) - np.sum(np.imag(z) * np.imag(z))


def rfftn_abs(x, w):
    return np.sum(np.abs(np.fft.rfftn(x, axes=(0, 1))))


def irfft_real(x, w):
    return np.sum(np.fft.irfft(x) * w[:, :8])


def irfft_odd(x, w):
    return np.sum(np.fft.irfft(x, 9, norm="ortho") ** 2)


def irfft_of_spectrum(x, w):
    # a circular convolution, through the spectrum
    y = np.fft.irfft(np.fft.rfft(x) * np.conj(np.fft.rfft(w)), 8)
    return np.sum(y**2)


def irfft2_spectrum(x, w):
    y = np.fft.irfft2(np.fft.rfft2(x) * np.fft.rfft2(w), s=(3, 8), norm="forward")
    return np.sum(np.sin(y))


def irfftn_real(x, w):
    return np.sum(np.fft.irfftn(x) * w[:, :, :10])


def shifts(x, w):
    z = np.fft.fftshift(np.fft.fft(x), axes=1)
    return np.sum(np.abs(np.fft.ifftshift(z)) * w) + np.sum(np.fft.fftshift(x) * w)


@pytest.mark.parametrize(
    "f, args",
    [
        (fft_abs, (X, W)),
        (fft_parts, (X, W)),
        (fft_padded, (X, W)),
        (fft_cut, (X, W)),
        (ifft_abs, (X, W)),
        (fft2_abs, (X, W)),
        (ifft2_parts, (X, W)),
        (fftn_abs, (CUBE, None)),
        (ifftn_abs, (CUBE, RNG.normal(size=(2, 3, 5)))),
        (rfft_abs, (X, W)),
        (rfft_odd, (X, W)),
        (rfft2_parts, (X, W)),
        (rfftn_abs, (CUBE, None)),
        (irfft_real, (V, W)),
        (irfft_odd, (V, W)),
        (irfft_of_spectrum, (X, W)),
        (irfft2_spectrum, (X, W)),
        (irfftn_real, (CUBE, RNG.normal(size=(2, 4, 10)))),
        (shifts, (X, W)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_transform_gradients(f, args):
    # autograd's rfft/irfft rules take even lengths only, its fft no n/s, and its
    # irfft2 reads no norm (finite differences agree with adcompile there)
    autograd_too = f not in (
        rfft_odd,
        irfft_odd,
        fft_padded,
        fft_cut,
        ifft2_parts,
        ifftn_abs,
        irfft2_spectrum,
    )
    check(f, *args, autograd_too=autograd_too)


def test_transforms_of_both_operands(f=irfft_of_spectrum):
    check(f, X, W, wrt=(0, 1))


def test_float32_in_float32_out():
    g = ad.grad(rfft_abs)(X.astype(np.float32), W)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, ad.grad(rfft_abs)(X, W), rtol=1e-4, atol=1e-4)


# ------------------------------------------- complex values through other rules


def parts_of_products(x, w):
    z = np.fft.fft(x)
    u = z * np.conj(z) / (1.0 + z * z)
    return np.sum(np.real(u) * w) + np.sum(np.angle(z + 2.0) * w)


def holomorphic(x, w):
    z = np.fft.ifft(x) * 2.0 + 1.0
    y = np.exp(z) + np.sin(z) * np.cos(z) + np.sqrt(z) + np.log(z) - z**3 + np.tanh(z)
    return np.sum(np.abs(y) * w)


def linear_maps(x, w):
    z = np.fft.fft(x)
    m = z @ np.transpose(z)  # (3, 3)
    e = np.einsum("ij,ij->i", z, z)
    s = np.concatenate([z, np.real(z)], axis=1)
    return np.sum(np.abs(m)) + np.sum(np.imag(e)) + np.sum(np.abs(s[:, 2:9]) * w[:, :7])


def reductions_and_selections(x, w):
    z = np.fft.fft(x)
    r = np.reshape(z, (4, 6))[1:3]
    t = np.sum(r, axis=0) + np.mean(z) + np.cumsum(z, axis=1)[0, :6]
    return np.sum(np.abs(t)) + np.sum(np.real(np.where(x > 0, z, 0.0)) * w)


def in_a_loop(x, w):
    z = np.fft.fft(x)
    total = 0.0
    for _ in range(3):
        z = z * 0.5 + np.conj(z)
        total = total + np.sum(np.abs(z) * w)
    return total


def branch(x, w):
    z = np.fft.fft(x)
    if np.sum(x) > 0:
        z = z * z
    else:
        z = -z
    return np.sum(np.abs(z))


def real_operand_of_complex_result(x, w):
    # x real meets complex values: its contributions are real parts
    z = np.fft.fft(x) * x + x / (np.fft.fft(w) + 3.0)
    return np.sum(np.abs(z))


@pytest.mark.parametrize(
    "f",
    [
        parts_of_products,
        holomorphic,
        linear_maps,
        reductions_and_selections,
        in_a_loop,
        branch,
        real_operand_of_complex_result,
    ],
    ids=lambda f: f.__name__,
)
def test_complex_intermediates(f):
    x = X + 2.0 if f is holomorphic else X
    check(f, x, W, rtol=1e-5)
    check(f, -X, W, rtol=1e-5) if f is branch else None


PHASES = np.exp(1j * np.arange(8.0))


def times_a_complex_global(x, w):
    return np.sum(np.abs(x * PHASES) * w) + np.sum(np.angle(x * PHASES + 1.0))


def test_a_complex_global_is_a_complex_value():
    check(times_a_complex_global, X, W)


def test_abs_of_a_complex_zero_has_gradient_zero():
    def f(x, w):
        return np.sum(np.abs(np.fft.fft(x)) * w)

    x = np.zeros((2, 4))
    g = ad.grad(f)(x, np.ones((2, 4)))
    assert np.all(np.isfinite(g))


def test_the_generated_code_takes_real_parts_only_for_real_operands():
    text = ad.grad(real_operand_of_complex_result).source
    assert "np.real(" in text
    assert "dz = np.real(" not in text  # the complex value's own adjoint stays complex


# ---------------------------------------------------------------- refusals


def sign_of_complex(x):
    return np.sum(np.real(np.sign(np.fft.fft(x))) * x)


def maximum_of_complex(x):
    return np.sum(np.abs(np.maximum(np.fft.fft(x), 0.0)))


def norm_of_complex(x):
    return np.linalg.norm(np.fft.fft(x))


def helper(z):
    return np.abs(z)


def passed_to_a_function(x):
    return np.sum(helper(np.fft.fft(x)))


def in_a_list(x):
    parts = [np.fft.fft(x), x]
    return np.sum(np.abs(parts[0]))


def complex_result(x):
    return np.fft.fft(x)


def hermitian(x):
    return np.sum(np.fft.hfft(x))


@pytest.mark.parametrize(
    "f, message",
    [
        (sign_of_complex, "np.sign is given a value that may be complex"),
        (maximum_of_complex, "np.maximum is given a value that may be complex"),
        (norm_of_complex, "np.linalg.norm is given a value that may be complex"),
        (passed_to_a_function, "passed to the function helper"),
        (in_a_list, "passed to a list, tuple or dict"),
        (complex_result, "returns a value that may be complex"),
        (hermitian, "Hermitian"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_refused_by_name(f, message):
    with pytest.raises(ad.AdCompileError, match=message) as info:
        ad.grad(f)(X)
    assert info.value.lineno is not None


def multiply_by(x, k):
    return np.sum(np.abs(x * k))


def test_a_complex_argument_not_differentiated_is_refused():
    k = np.exp(1j * X)
    with pytest.raises(ad.AdCompileError, match="'k' is complex"):
        ad.grad(multiply_by)(X, k)
    # nor through the fast path, after a call with a real k
    g = ad.grad(multiply_by)
    g(X, W)
    g(X, W)
    with pytest.raises(ad.AdCompileError, match="'k' is complex"):
        g(X, k)


@pytest.mark.parametrize(
    "f", [fft_parts, irfft_of_spectrum, parts_of_products, shifts], ids=lambda f: f.__name__
)
def test_forward_mode_agrees_with_the_gradient(f):
    # tangents of complex values are plain complex derivatives: no convention needed
    t = np.random.default_rng(3).normal(size=X.shape)
    _, d = ad.jvp(f)(X, W, t)
    np.testing.assert_allclose(d, np.sum(ad.grad(f)(X, W) * t), rtol=1e-9)


def rfft_magnitude(x):
    return np.sum(np.abs(np.fft.rfft(x)))


def test_a_users_rule_replaces_the_transforms_and_is_taken_for_real_values_only():
    state = registry.snapshot()
    try:

        @ad.adjoint(np.fft.rfft)
        def rfft(dy, y, a):
            return np.fft.irfft(dy, np.shape(a)[-1])

        with pytest.raises(ad.AdCompileError, match="np.fft.rfft is given a value"):
            ad.grad(lambda_free_rfft_twice)(X)
    finally:
        registry.restore(state)
    check(rfft_magnitude, X, wrt=0, autograd_too=True)


def lambda_free_rfft_twice(x):
    return np.sum(np.abs(np.fft.rfft(np.fft.fft(x))))
