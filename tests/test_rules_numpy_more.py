"""Adjoint rules of the wider numpy library (autograd's derivative table and more),
checked against central finite differences and against autograd.

Each case is an ordinary ``def`` (adcompile reads its source) of the form
``return np.sum(<primitive applied to the inputs> * c)`` with random weights ``c``
(see tests/test_rules.py), run on several argument sets: broadcast operands, 0-d
arrays and Python floats where numpy takes them. Every case is also run in float32
(the gradient and the reverse sweep stay float32) and, where autograd has the
function, against autograd's gradient of the same source with ``np`` bound to
``autograd.numpy``. tests/test_rules.py's ``test_every_rule_is_tested`` reads the
functions of this file too.
"""

from __future__ import annotations

import ast
import math
import types
from dataclasses import dataclass, field

import autograd
import autograd.numpy as anp
import fuzzcheck
import numpy as np
import pytest
from helpers import assert_grad_matches_fd
from test_rules import FLOAT, _any, _away0, _pos, _unit, value, weights

import adcompile as ad
from adcompile import runtime

# ------------------------------------------------------------------ the cases


@dataclass
class Case:
    f: object
    argsets: list  # each: a function rng -> the arguments (without the weights)
    wrt: tuple = (0,)
    # whether autograd has the function: True, False, or the argument sets (by index)
    # for which it does (autograd's rules of sort, flip, diag... cover fewer cases)
    autograd: bool | tuple = True
    float32: bool = True  # whether the case is run in float32 too
    tol: dict = field(default_factory=dict)

    @property
    def name(self):
        return self.f.__name__.rstrip("_")


CASES: list[Case] = []


def case(*argsets, wrt=(0,), autograd=True, float32=True, **tol):
    """Register the decorated function with argument sets: each a tuple of
    (shape, domain) pairs (or a function of rng giving the arguments)."""

    def make(spec):
        if callable(spec):
            return spec
        return lambda rng: tuple(
            a if not isinstance(a, tuple) or not callable(a[-1]) else value(rng, a[0], a[1])
            for a in spec
        )

    def register(f):
        CASES.append(Case(f, [make(s) for s in argsets], wrt, autograd, float32, tol))
        return f

    return register


def arg(shape, domain=_any):
    return (shape, domain)


# ------------------------------------------------------------ elementwise, unary

UNARY_SETS = lambda domain: [  # noqa: E731
    (arg(FLOAT, domain),),
    (arg((), domain),),
    (arg((5,), domain),),
    (arg((2, 3), domain),),
]


def _gt1(rng, shape):
    return rng.uniform(1.2, 3.0, shape)


@case(*UNARY_SETS(_any))
def arcsinh_(x, c):
    return np.sum(np.arcsinh(x) * c)


@case(*UNARY_SETS(_gt1))
def arccosh_(x, c):
    return np.sum(np.arccosh(x) * c)


@case(*UNARY_SETS(_unit))
def arctanh_(x, c):
    return np.sum(np.arctanh(x) * c)


@case(*UNARY_SETS(_any))
def exp2_(x, c):
    return np.sum(np.exp2(x) * c)


@case(*UNARY_SETS(_away0))
def fabs_(x, c):
    return np.sum(np.fabs(x) * c)


@case(*UNARY_SETS(_away0))
def sinc_(x, c):
    return np.sum(np.sinc(x) * c)


@case(*UNARY_SETS(_any))
def rad2deg_(x, c):
    return np.sum((np.rad2deg(x) + np.degrees(x)) * c)


@case(*UNARY_SETS(_any))
def deg2rad_(x, c):
    return np.sum((np.deg2rad(x) + np.radians(x)) * c)


@case(*UNARY_SETS(_any))
def nan_to_num_(x, c):
    return np.sum(np.nan_to_num(x) * c)


def _with_nonfinite(rng):
    x = rng.uniform(-1, 1, (2, 4))
    x[0, 1], x[1, 2], x[1, 3] = np.nan, np.inf, -np.inf
    return (x, 0.5, 2.0, -3.0)


@case(_with_nonfinite, wrt=(0, 1, 2, 3), autograd=False)
def nan_to_num_values_(x, fill, big, small, c):
    return np.sum(np.nan_to_num(x, nan=fill, posinf=big, neginf=small) * c)


@case(*UNARY_SETS(_any))
def real_(x, c):
    return np.sum((np.real(x) + np.conj(x) + np.conjugate(x) + np.real_if_close(x)) * c)


@case(*UNARY_SETS(_away0))
def imag_angle_(x, c):
    return np.sum((np.imag(x) + np.angle(x) + x) * c)


def _scalar(domain):
    return lambda rng: (float(domain(rng, ())),)


@case(_scalar(_any), _scalar(_unit), autograd=False)
def math_inverse_hyperbolic_(x, c):
    return (math.asinh(x) + math.atanh(x) + math.acosh(x * x + 1.5)) * c


@case(_scalar(_any), autograd=False)
def math_degrees_(x, c):
    return (math.degrees(x) + math.radians(x)) * c


# ----------------------------------------------------------- elementwise, binary

BINARY_SETS = lambda dx, dy: [  # noqa: E731
    (arg((2, 3), dx), arg((2, 3), dy)),
    (arg((3, 1), dx), arg((4,), dy)),
    (arg((), dx), arg((2, 3), dy)),
    (arg((2, 3), dx), arg(FLOAT, dy)),
    (arg(FLOAT, dx), arg(FLOAT, dy)),
]


@case(*BINARY_SETS(_any, _any), wrt=(0, 1))
def fmax_(x, y, c):
    return np.sum(np.fmax(x, y) * c)


@case(*BINARY_SETS(_any, _any), wrt=(0, 1))
def fmin_(x, y, c):
    return np.sum(np.fmin(x, y) * c)


@case(*BINARY_SETS(_away0, _away0), wrt=(0, 1))
def hypot_(x, y, c):
    return np.sum(np.hypot(x, y) * c)


@case(*BINARY_SETS(_any, _any), wrt=(0, 1))
def logaddexp2_(x, y, c):
    return np.sum(np.logaddexp2(x, y) * c)


# ------------------------------------------------ accumulating, sorting, moving


def _zeros_inside(rng):
    x = rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    x[0, 1] = x[2, 0] = x[2, 3] = 0.0  # cumprod and its adjoint at zeros
    return (x,)


@case((arg((5,)),), (arg((2, 3, 4)),), (arg(()),))
def cumsum_(x, c):
    return np.sum(np.cumsum(x) * c) + np.sum(np.cumsum(x, axis=-1) ** 2)


@case((arg((2, 3, 4)),))
def cumsum_axis_(x, c):
    return np.sum(np.cumsum(x, 1) * c)


@case((arg((5,), _away0),), (arg((2, 3, 4), _away0),), _zeros_inside, autograd=False)
def cumprod_(x, c):
    return np.sum(np.cumprod(x) * c) + np.sum(np.cumprod(x, axis=-1) ** 2 + np.cumprod(x, 0))


@case((arg((6,)),), (arg((3, 5)),), (arg((2, 4, 3)),))
def diff_(x, c):
    return np.sum((np.diff(x) + np.diff(x, 2)[..., :1]) * c)


@case((arg((3, 5)),), (arg((2, 4, 3)),))
def diff_axis_(x, c):
    return np.sum(np.diff(x, n=2, axis=0) * c)


@case((arg((7,)),), (arg((3, 5)),), (arg((2, 4, 3)),), autograd=(0,))
def sort_(x, c):
    return np.sum(np.sort(x) * c) + np.sum(np.sort(x, axis=None) ** 3)


@case((arg((3, 5)),), (arg((2, 4, 3)),), autograd=False)
def sort_axis_(x, c):
    return np.sum(np.sort(x, axis=0) * c)


@case((arg((7,)),), (arg((3, 5)),), autograd=(0,))
def partition_(x, c):
    return np.sum(np.partition(x, 2) * c)


@case((arg((3, 4)),), (arg((2, 3, 4)),), autograd=False)
def flip_(x, c):
    return np.sum((np.flip(x) + np.flip(x, 0) + np.flipud(x) + np.fliplr(x)) * c)


@case((arg((5,)),), (arg((3, 4)),), (arg((2, 3, 4)),))
def roll_(x, c):
    return np.sum((np.roll(x, 2) + np.roll(x, -1, axis=0)) * c)


@case((arg((3, 4)),), (arg((2, 3, 4)),), autograd=False)
def roll_axes_(x, c):
    return np.sum(np.roll(x, (1, -2), axis=(0, 1)) * c)


@case((arg((3, 4)),), (arg((2, 3, 4)),), autograd=False)
def rot90_(x, c):
    return (
        np.sum(np.rot90(x) * c) + np.sum(np.rot90(x, 2) ** 2) + np.sum(np.rot90(x, -1, (1, 0)) ** 3)
    )


@case((arg((2, 3, 4)),))
def moveaxis_(x, c):
    return np.sum(np.moveaxis(x, 0, -1) * c) + np.sum(np.rollaxis(x, 2) ** 2)


@case((arg((2, 3, 4)),))
def rollaxis_(x, c):
    return np.sum(np.rollaxis(x, 0, 3) * c)


@case((arg((4,)),), (arg((3, 3)),), (arg((3, 5)),), (arg((5, 3)),), autograd=(0, 1))
def diag_(x, c):
    return np.sum(np.diag(x) * c) + np.sum(np.diag(x, 1) ** 2) + np.sum(np.diag(x, -1) ** 3)


@case((arg((3, 3)),), (arg((2, 3, 4)),), autograd=False)
def diagonal_(x, c):
    return np.sum((np.diagonal(x) + np.diagonal(x, 1, 0, 1)[..., :1]) * c)


@case((arg((3, 3)),), (arg((3, 5)),), (arg((2, 3, 4)),), autograd=False)
def trace_(x, c):
    return np.sum((np.trace(x) + np.trace(x, 1) + np.trace(x, -1, 0, 1)) * c)


@case((arg((2, 3, 4)),), autograd=False)
def trace_axes_(x, c):
    return np.sum(np.trace(x, 0, 1, 2) * c)


@case((arg((4, 4)),), (arg((3, 5)),), (arg((2, 3, 4)),))
def triangles_(x, c):
    return np.sum((np.triu(x) + np.tril(x, -1) + np.triu(x, 1) + np.tril(x)) * c)


@case((arg((3,)),), (arg((2, 3)),), (arg(()),), autograd=(0, 1))
def repeat_(x, c):
    return np.sum(np.repeat(x, 3) * c)


@case((arg((2, 3)),), autograd=False)
def repeat_axis_(x, c):
    return np.sum((np.repeat(x, [1, 0, 2], axis=1) + 1.0) * c)


@case((arg((3,)),), (arg((2, 3)),), (arg(()),))
def tile_(x, c):
    return np.sum(np.tile(x, (2, 1, 3)) * c) + np.sum(np.tile(x, 2) * 1.5)


@case((arg((3,)),), (arg((2, 3)),), autograd=False)
def pad_(x, c):
    return np.sum(np.pad(x, 1) * c) + np.sum(np.pad(x, (1, 2)) ** 2)


@case((arg((4, 6)),), (arg((2, 4, 6)),))
def split_(x, c):
    # one piece unused: its part of the gradient is zero
    a, b, _ = np.split(x, 3, axis=-1)
    return np.sum(a * c) + np.sum(b**2)


SPLIT_POINTS = np.array([1, 3])  # a module's array of split points


@case((arg((5, 4)),), (arg((2, 3, 5)),), autograd=False)
def split_points_(x, c):
    # split points as a list of variables, a tuple variable and a module's array; the
    # pieces meet broadcast operands
    i, j = 1, 3
    a, b, d = np.split(x, [i, j], axis=-1)
    points = (1, j)
    e, f, g = np.array_split(x, points, axis=-1)
    h = np.split(x, SPLIT_POINTS, axis=-1)
    return np.sum(a * c) + np.sum(b * d) + np.sum(e**2 * g * f[..., :1]) + np.sum(h[1] * h[2])


@case((arg((5, 4)),), (arg((5,)),))
def array_split_(x, c):
    a, b = np.array_split(x, 2)
    return np.sum(a * c) + np.sum(np.sin(b))


@case((arg((2, 4)),), (arg((6,)),), autograd=(0,))  # (autograd fails on a vector)
def hsplit_(x, c):
    pieces = np.hsplit(x, 2)
    return np.sum(pieces[1] * c) + np.sum(pieces[0] ** 3)


@case((arg((4, 3)),), (arg((2, 3, 2)),))
def vsplit_(x, c):
    a, b = np.vsplit(x, 2)
    return np.sum(a * b * c)


@case((arg((2, 3, 4)),))
def dsplit_(x, c):
    a, b = np.dsplit(x, 2)
    return np.sum(np.exp(a) * c) + np.sum(b)


@case((arg(()),), (arg((3,)),), (arg((2, 3)),), (arg((2, 3, 4)),))
def atleast_(x, c):
    return np.sum(np.atleast_3d(x) * c) + np.sum(np.atleast_1d(x) + np.atleast_2d(x) * 2.0)


# ------------------------------------------------------------------ products


@case((arg((2, 3)), arg((3, 4))), wrt=(0, 1))
def einsum_matmul_(x, y, c):
    return np.sum(np.einsum("ij,jk->ik", x, y, optimize=True) * c) + np.einsum("i,i", x[0], x[1])


@case((arg((3,)), arg((3,))), (arg(()), arg(())), wrt=(0, 1))
def einsum_vectors_(x, y, c):
    return np.sum(np.einsum("...,...", x, y) * c) + np.sum(np.einsum("...->...", x) ** 2)


@case((arg((3, 3)),), (arg((2, 2)),), autograd=False)
def einsum_diagonal_(x, c):
    return np.sum(np.einsum("ii->i", x) * c) + np.einsum("ii", x) * 2.0


@case((arg((2, 3, 3)), arg((3,))), wrt=(0, 1), autograd=False)
def einsum_repeated_(x, y, c):
    return np.sum(np.einsum("bii,i->bi", x, y) * c)


@case((arg((2, 3)), arg((3, 4)), arg((4, 2))), wrt=(0, 1, 2))
def einsum_three_(x, y, z, c):
    return np.sum(np.einsum("ij,jk,kl->il", x, y, z) * c)


@case((arg((2, 3)), arg((4,))), wrt=(0, 1))
def einsum_summed_alone_(x, y, c):
    return np.sum(np.einsum("ij,k->i", x, y) * c)


@case((arg((2, 3, 4)), arg((4, 5))), (arg((4,)), arg((4, 5))), wrt=(0, 1))
def einsum_ellipsis_(x, y, c):
    return np.sum(np.einsum("...j,jk->...k", x, y) * c)


@case((arg((2, 1, 4)), arg((3, 4))), wrt=(0, 1))
def einsum_broadcast_(x, y, c):
    return np.sum(np.einsum("...j,...j->...", x, y) * c)


@case((arg((2, 3)), arg((3, 2))), wrt=(0, 1))
def einsum_implicit_(x, y, c):
    return np.sum(np.einsum("ij,jk", x, y) * c) + np.sum(np.einsum("ba", x) * 1.5)


# with known shapes, each adjoint is written as the matrix product or einsum it is
# (tests below check the generated code); these check the numbers of each layout
@case((arg((3, 4)), arg((4, 2))), (arg((4, 4)), arg((4, 4))), wrt=(0, 1))
def einsum_matrix_layouts_(x, y, c):
    z = (
        np.einsum("ij,jk->ik", x, y)
        + np.einsum("ij,jk->ki", x, y).T
        + np.einsum("ji,kj->ik", x.T, y.T) * 2.0
        + np.einsum("ij,kj->ki", x, y.T).T * 3.0
    )
    return np.sum(z * c)


@case((arg((2, 3, 4)), arg((2, 4, 5))), (arg((1, 3, 4)), arg((2, 4, 5))), wrt=(0, 1))
def einsum_batched_(x, y, c):
    return np.sum(np.einsum("bij,bjk->bik", x, y) * c)


@case((arg((2, 1)), arg((3, 4))), (arg((1, 1)), arg((1, 4))), wrt=(0, 1), autograd=False)
def einsum_size_one_label_(x, y, c):
    # numpy broadcasts the label j of size 1 against 3: x's gradient sums over it, and
    # y's is the same for each j (autograd refuses this broadcast)
    return np.sum(np.einsum("ij,jk->ik", x, y) * c)


@case(
    (arg((2, 3, 4)), arg((3, 4, 5))),
    (arg((3, 4)), arg((3, 4))),
    wrt=(0, 1),
)
def tensordot_(x, y, c):
    return np.sum(np.tensordot(x, y) * c)


@case((arg((2, 3, 4)), arg((4, 3, 5))), wrt=(0, 1))
def tensordot_pairs_(x, y, c):
    return np.sum(np.tensordot(x, y, axes=([1, 2], [1, 0])) * c) + np.sum(np.tensordot(x, y, 1))


@case((arg((2, 3)), arg((4, 3))), (arg((3,)), arg((2, 3))), wrt=(0, 1))
def tensordot_int_(x, y, c):
    return np.sum(np.tensordot(x, y, axes=(-1, 1)) * c) + np.sum(np.tensordot(x, y, 0) ** 2)


@case(
    (arg((3,)), arg((3,))),
    (arg((2, 3)), arg((4, 3))),
    (arg(()), arg((2, 3))),
    (arg(FLOAT), arg((3,))),
    wrt=(0, 1),
)
def inner_(x, y, c):
    return np.sum(np.inner(x, y) * c)


@case(
    (arg((2, 3)), arg((3, 2))),
    (arg((3,)), arg((2,))),
    (arg((2,)), arg((2, 3))),
    wrt=(0, 1),
)
def kron_(x, y, c):
    return np.sum(np.kron(x, y) * c)


@case((arg((3,)), arg((3,))), (arg((4, 3)), arg((3,))), wrt=(0, 1), autograd=(0,))
def cross_(x, y, c):
    return np.sum(np.cross(x, y) * c)


@case((arg((3, 4)), arg((3, 4))), wrt=(0, 1), autograd=False)
def cross_axes_(x, y, c):
    return np.sum(np.cross(x, y, axisa=0, axisb=0, axisc=0) * c)


# (autograd's np.gradient takes no spacing, and needs three elements)
@case((arg((5,)),), (arg((2,)),), autograd=(0,))
def gradient_(x, c):
    return np.sum(np.gradient(x) * c)


@case((arg((5,)), arg(FLOAT, _pos)), (arg((3,)), arg((), _pos)), wrt=(0, 1), autograd=False)
def gradient_spacing_(x, h, c):
    return np.sum(np.gradient(x, h) * c)


@case((arg((3, 4)),), (arg((2, 3, 2)),), autograd=False)
def gradient_axis_(x, c):
    return np.sum(np.gradient(x, axis=1) * c) + np.sum(np.gradient(x, 0.5, axis=0) ** 2)


# -------------------------------------------------- arrays of values, copies, casts


@case((arg(FLOAT), arg(FLOAT)), (arg((3,)), arg((3,))), (arg(()), arg(())), wrt=(0, 1))
def array_of_values_(x, y, c):
    return np.sum(np.array([x * y, y, np.sin(x)]) * c) + np.sum(np.array([x, y]) ** 2)


@case((arg(FLOAT), arg(FLOAT)), (arg((3,)), arg((3,))), wrt=(0, 1), autograd=False)
def asarray_of_values_(x, y, c):
    return np.sum(np.asarray((x, y * y)) * c) + np.sum(np.asarray(x) * 2.0)


@case((arg((3,)),), (arg((2, 3)),))
def array_of_array_(x, c):
    return np.sum(np.array(x) * c)


def array_of_list_variable_(x, y, c):
    pieces = [x, y * 2.0]
    return np.sum(np.array(pieces) * c)


CASES.append(
    Case(array_of_list_variable_, [lambda rng: (value(rng, (3,)), value(rng, (3,)))], (0, 1))
)


@case((arg((3,)),), (arg((2, 3)),), (arg(()),), autograd=False)
def copy_(x, c):
    return np.sum((x.copy() + np.copy(x) ** 2) * c)


@case((arg((3,)),), (arg((2, 3)),), autograd=False)
def astype_(x, c):
    a = x.astype(float) + x.astype(np.float64) ** 2 + x.astype(dtype="float64")
    return np.sum((a + x.astype(np.float32).astype(float) * 0.0) * c)


# (not in float32: numpy makes int64 * float32 a float64)
@case((arg((3,)),), (arg((2, 3)),), autograd=False, float32=False)
def astype_int_(x, c):
    # a cast to integers is a step function: derivative 0 (away from the steps)
    return np.sum((x * 10.0 + 0.5).astype(int) * c + x * c)


# ------------------------------------------------------------------ the checks


def _argsets():
    return [(c, i) for c in CASES for i in range(len(c.argsets))]


def _ids(items):
    return [f"{c.name}-{i}" for c, i in items]


ARGSETS = _argsets()


def _distinct(args):
    """Elementwise max/min-like cases need operands without ties."""
    return args


@pytest.mark.parametrize("c, i", ARGSETS, ids=_ids(ARGSETS))
def test_against_finite_differences(c, i):
    rng = np.random.default_rng(i)
    args = c.argsets[i](rng)
    weights_ = weights(c.f, *args)
    assert_grad_matches_fd(c.f, *args, weights_, wrt=c.wrt, **{"rtol": 1e-5, **c.tol})


def _autograd_version(f):
    return types.FunctionType(f.__code__, {**f.__globals__, "np": anp}, f.__name__)


AUTOGRAD = [
    (c, i)
    for c, i in ARGSETS
    if c.autograd is True or isinstance(c.autograd, tuple) and i in c.autograd
]


@pytest.mark.parametrize("c, i", AUTOGRAD, ids=_ids(AUTOGRAD))
def test_against_autograd(c, i):
    rng = np.random.default_rng(i)
    args = c.argsets[i](rng)
    w = weights(c.f, *args)
    ours = ad.grad(c.f, wrt=c.wrt)(*args, w)
    ours = list(ours)
    fa = _autograd_version(c.f)
    for k, g in zip(c.wrt, ours, strict=True):
        expected = autograd.grad(fa, k)(*args, w)
        np.testing.assert_allclose(
            np.asarray(g, float), np.asarray(expected, float), rtol=1e-7, atol=1e-10
        )


def _float32(args):
    return tuple(
        a.astype(np.float32)
        if isinstance(a, np.ndarray) and a.dtype == np.float64
        else np.float32(a)
        if isinstance(a, float)
        else a
        for a in args
    )


def raw_gradient(f, wrt):
    """The generated gradient run as plain Python, without the API's final cast of
    each gradient to its input's dtype: shows the dtype the reverse sweep computes in."""
    source = ad.grad(f, wrt=wrt).source
    namespace = {**f.__globals__, **runtime.HELPERS}
    exec(source, namespace)
    return namespace[ast.parse(source).body[0].name]


FLOAT32 = [(c, i) for c, i in ARGSETS if c.float32]


@pytest.mark.parametrize("c, i", FLOAT32, ids=_ids(FLOAT32))
def test_float32_in_float32_out(c, i):
    rng = np.random.default_rng(i)
    args = _float32(c.argsets[i](rng))
    if not any(isinstance(a, np.ndarray) and a.ndim for a in args):
        return  # (float32 scalars only: numpy's own rules decide)
    w = np.float32(1.0) * weights(c.f, *args, dtype=np.float32)
    for k in c.wrt:
        if not isinstance(args[k], np.ndarray):
            continue
        g = ad.grad(c.f, wrt=k)(*args, w)
        assert g.dtype == np.float32
        raw = raw_gradient(c.f, k)(*args, w)
        assert np.result_type(raw) == np.float32, ad.grad(c.f, wrt=k).source


# ------------------------------------------------------- conventions and refusals


def sinc_at_zero(x):
    return np.sum(np.sinc(x) * 3.0)


def hypot_at_origin(x, y):
    return np.sum(np.hypot(x, y))


def test_sinc_at_zero_has_derivative_zero():
    g = assert_grad_matches_fd(sinc_at_zero, np.array([0.0, 0.5]))
    assert g[0] == 0.0


def test_hypot_at_the_origin_has_zero_derivative():
    dx, dy = ad.grad(hypot_at_origin, wrt=(0, 1))(np.zeros(2), np.array([0.0, 1.0]))
    np.testing.assert_array_equal(dx, [0.0, 0.0])
    np.testing.assert_array_equal(dy, [0.0, 1.0])


def cast_complex(x):
    return np.sum(np.real(x.astype(complex)))


def cast_complex_imaginary(x):
    return np.sum(np.real(x.astype(complex) * x.astype(complex)[::-1]) + x)


def test_a_complex_value_is_refused():
    # (complex constants are refused when the function is compiled; a cast makes one)
    with pytest.raises(TypeError, match="a cast to a complex dtype"):
        ad.grad(cast_complex)(np.ones(3))
    with pytest.raises(TypeError, match="a cast to a complex dtype"):
        ad.grad(cast_complex_imaginary)(np.ones(3))


@case(*UNARY_SETS(_any))
def real_imag_attributes_(x, c):
    return np.sum((x.real + x.imag + x) * c)


def pad_reflect(x):
    return np.sum(np.pad(x, 1, "reflect") * np.arange(5.0))


def test_pad_modes_other_than_constant_are_refused():
    with pytest.raises(ValueError, match="mode='reflect'"):
        ad.grad(pad_reflect)(np.ones(3))


def stack_nested(x, y):
    return np.sum(np.stack([[x, y], [y, x]]) * np.arange(8.0).reshape(2, 2, 2))


def array_nested(x, y):
    return np.sum(np.array([[x, y], [y, x]]) * np.arange(4.0).reshape(2, 2))


@pytest.mark.parametrize("f", [stack_nested, array_nested])
def test_a_list_of_lists_is_refused_not_given_zero_gradient(f):
    with pytest.raises(ad.AdCompileError, match="list that holds lists"):
        ad.grad(f, wrt=(0, 1))(np.ones(2), np.ones(2))


def einsum_interleaved(x):
    return np.sum(np.einsum(x, [0, 1], [1]))


def _einsum_layouts_source():
    x, y = np.ones((3, 4)), np.ones((4, 2))
    g = ad.grad(einsum_matrix_layouts_, wrt=(0, 1))
    g(x, y, np.ones((3, 2)))
    return g.source


def test_einsum_adjoints_of_known_shapes_are_written_as_products():
    # constant subscripts, known shapes: the adjoint is the matrix product, planned
    # when compiled; nothing is parsed when the gradient runs
    text = _einsum_layouts_source()
    assert "einsum_adjoint" not in text
    assert " @ " in text


def test_einsum_adjoint_of_a_broadcast_label_sums_it():
    g = ad.grad(einsum_size_one_label_, wrt=(0, 1))
    args = (np.ones((2, 1)), np.arange(12.0).reshape(3, 4), np.ones((2, 4)))
    g(*args)
    assert "einsum_adjoint(" in g.source  # a sum over the broadcast label: the helper's
    assert_grad_matches_fd(einsum_size_one_label_, *args, wrt=(0, 1))


@pytest.mark.parametrize(
    "f, shapes",
    [
        (einsum_three_, [(2, 3), (3, 4), (4, 2), (2, 2)]),
        (einsum_batched_, [(2, 3, 4), (2, 4, 5), (2, 3, 5)]),
        (einsum_size_one_label_, [(2, 1), (3, 4), (2, 4)]),
        (einsum_ellipsis_, [(2, 3, 4), (4, 5), (2, 3, 5)]),
    ],
)
def test_einsum_adjoints_of_unknown_shapes_match_finite_differences(f, shapes):
    # the code compiled without shapes (after many signatures): einsum_adjoint plans
    # each contraction once per subscripts and shapes
    rng = np.random.default_rng(5)
    args = [rng.normal(size=s) for s in shapes]
    wrt = tuple(range(len(args) - 1))
    general = ad.grad(f, wrt=wrt)._compile()
    for _ in range(2):  # (the second call reads the plan kept by the first)
        got = general(*args)
    assert_grad_matches_fd(f, *args, wrt=wrt)  # the code specialised to these shapes
    for g, expected in zip(got, ad.grad(f, wrt=wrt)(*args), strict=True):
        np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-12)


def test_einsum_that_returns_a_view_is_not_updated_in_place():
    # np.einsum("ij->ji", x) is a view of x: y += 1 changes x too, as Python does
    def f(x):
        y = np.einsum("ij->ji", x)
        y += 1.0
        return np.sum(y * x)

    with pytest.raises(ad.AdCompileError, match="shares its memory"):
        ad.grad(f)(np.arange(4.0).reshape(2, 2))


def _split_sections(x):
    a, b = np.split(x, 2, axis=-1)
    return np.sum(a * b) + np.sum(np.sin(a) ** 2)


def _split_points(x):
    a, b, c = np.array_split(x, [1, 3], axis=-1)
    return np.sum(a * b[..., :1] * c) + np.sum(np.exp(b))


def _split_unused_piece(x):
    top, _ = np.vsplit(x, 2)
    left, right = np.hsplit(x, 2)
    return np.sum(top**3) + np.sum(left * right)


@pytest.mark.parametrize("f", [_split_sections, _split_points, _split_unused_piece])
def test_hvp_through_splits_matches_finite_differences_of_the_gradient(f):
    rng = np.random.default_rng(7)
    x, v = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    grad, h = ad.grad(f), 1e-5
    expected = (grad(x + h * v) - grad(x - h * v)) / (2 * h)
    np.testing.assert_allclose(ad.hvp(f)(x, v), expected, rtol=1e-6, atol=1e-7)


def _split_at_list(x, points):
    # a list of split points (an argument): the pieces are a list of as many arrays
    # as the call makes, unpacked (Python's length check), indexed and looped over
    a, b, c = np.split(x, points, axis=-1)
    pieces = np.array_split(x, points, axis=-1)
    total = np.sum(a * b[..., :1]) + np.sum(np.sin(pieces[-1]) * c[..., :1])
    for p in pieces:
        total = total + np.sum(p**2) * p.shape[-1]
    return total


def _split_at_computed(x, k):
    # split points computed in the function: an array of them, and a count variable
    points = np.cumsum(np.array([k, 1]))
    pieces = np.hsplit(x, points)
    halves = np.vsplit(x, k)
    thirds = np.dsplit(x[:, :, None] * np.ones(3), 3)
    out = np.sum(halves[0] * halves[-1]) + np.sum(thirds[1] ** 3)
    for i, p in enumerate(pieces):
        out = out + np.sum(np.exp(p)) * (i + 1)
    return out


@pytest.mark.parametrize(
    "f, args",
    [
        (_split_at_list, (np.arange(10.0).reshape(2, 5) / 7, [1, 3])),
        (_split_at_list, (np.arange(10.0).reshape(2, 5) / 7, np.array([2, 4]))),
        (_split_at_computed, (np.arange(16.0).reshape(4, 4) / 9, 2)),
    ],
)
def test_split_points_known_when_the_code_runs(f, args):
    assert_grad_matches_fd(f, *args)
    # against autograd's own rules for the splits
    got = ad.grad(f)(*args)
    with_autograd = autograd.grad(_autograd_version(f))(*args)
    np.testing.assert_allclose(got, with_autograd, rtol=1e-10, atol=1e-12)
    v = np.random.default_rng(2).normal(size=args[0].shape)
    value, tangent = ad.jvp(f)(*args, v)
    assert value == pytest.approx(f(*args), rel=1e-12)
    assert tangent == pytest.approx(np.sum(got * v), rel=1e-9)
    assert fuzzcheck.check_hvp(f, list(args), (0,)) == "hvp"


def test_a_list_of_pieces_unpacks_into_as_many_names_as_it_holds():
    # Python's own error when the count differs: not a gradient of the first pieces
    x = np.arange(10.0).reshape(2, 5)
    for points, words in (([1, 2, 3], "too many values"), ([1], "not enough values")):
        with pytest.raises(ValueError, match=words):
            _split_at_list(x, points)
        with pytest.raises(ValueError, match=words):
            ad.grad(_split_at_list)(x, points)
        with pytest.raises(ValueError):
            ad.hvp(_split_at_list)(x, points, x)


def test_einsum_of_two_operands_is_a_new_array_updated_in_place():
    # (of two operands numpy makes a new array: v += a is what Python does to v alone)
    def f(x, y):
        v = np.einsum("ij,jk->ik", x, y)
        v += x
        w = np.einsum("...i,...i", np.broadcast_to(x[0, 0], (1,)), y[0, :1])
        w += x[0, 0]
        return np.sum(v * v) + w

    x, y = np.arange(4.0).reshape(2, 2), np.ones((2, 2)) * 0.5
    assert_grad_matches_fd(f, x, y, wrt=(0, 1))


def test_einsum_interleaved_form_is_refused():
    with pytest.raises((ad.AdCompileError, TypeError), match="interleaved|list or tuple"):
        ad.grad(einsum_interleaved)(np.ones((2, 3)))


def astype_of_a_variable_dtype(x, t):
    return np.sum(x.astype(t))


def test_astype_takes_a_dtype_spelled_out():
    with pytest.raises(ad.AdCompileError, match="dtype spelled out"):
        ad.grad(astype_of_a_variable_dtype)(np.ones(3), 2.0)


def cumprod_zeros(x):
    return np.sum(np.cumprod(x) * np.array([1.0, 2.0, 3.0, 4.0]))


def test_cumprod_at_zeros_matches_finite_differences():
    for x in ([0.0, 2.0, 3.0, 4.0], [2.0, 0.0, 0.0, 3.0], [1.5, 2.0, 0.0, 0.5]):
        g = assert_grad_matches_fd(cumprod_zeros, np.array(x))
        assert np.all(np.isfinite(g))
