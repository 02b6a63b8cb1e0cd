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
    autograd: bool = True  # whether autograd has the function
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


AUTOGRAD = [(c, i) for c, i in ARGSETS if c.autograd]


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
