"""Real public numpy code, differentiated in every mode and checked against oracles.

The functions live in tests/corpus/, one module per origin (Tangent's test
corpus, autograd's examples), ported with as few changes as possible. Each row
of ``CASES`` says what adcompile does with one of them today:

* ``DIFF``: differentiated. At each set of arguments, ``grad`` must agree with
  central finite differences in float64 and with autograd's gradient of the
  same function (the same code run with autograd's numpy), ``value_and_grad``
  must give the function's own value and ``grad``'s gradient, ``vjp`` must be
  the cotangent-weighted gradient, from the code specialised to the arguments'
  shapes and from the general code, on a first call and on a repeated one. For
  a non-scalar result, ``vjp`` is checked with a fixed cotangent and ``grad``
  must refuse with a located error.
* ``refused(reason, hint)``: refused with a located AdCompileError whose
  reason contains ``reason`` and hint contains ``hint``, pointing at a line of
  the corpus, in the user's words (no generated names). When such a function
  starts to be differentiated, its test fails: move it to ``DIFF``, so that its
  numbers get checked.

A function that is differentiated with a wrong result is never recorded as
expected: it is a strict xfail (``wrong(...)``) until the compiler is fixed.
"""

from __future__ import annotations

import inspect
import linecache
import re
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import autograd  # the oracle: in the test extra, and required here
import autograd.numpy as anp
import autograd.scipy.special
import autograd.scipy.stats
import numpy as np
import pytest
from corpus import (
    autograd_black_box_svi,
    autograd_gaussian_process,
    autograd_generative_models,
    autograd_gmm,
    autograd_logistic_regression,
    autograd_lstm,
    autograd_neural_net,
    autograd_other_examples,
    autograd_rnn,
    autograd_small_examples,
    autograd_test_containers,
    autograd_test_numpy,
    tangent_functions,
)
from fuzzcheck import flat, same_structure, unchanged, unflat

import adcompile as ad
import adcompile.api
import adcompile.errors

CORPUS = Path(__file__).parent / "corpus"
DIFF = "differentiated"


@dataclass(frozen=True)
class Refused:
    reason: str
    hint: str = ""
    hint_not: str | None = None  # a hint that would not help here


def refused(reason: str, hint: str = "", hint_not: str | None = None) -> Refused:
    return Refused(reason, hint, hint_not)


def no_rule(name: str) -> Refused:
    """Refused for a numpy function without an adjoint rule, suggesting to register one."""
    return Refused(f"{name} has no adjoint rule", f"@adcompile.adjoint({name})")


# The hint for a function with no rule, which would not help for a Python builtin that
# makes a constant or a container (dict, slice, sorted).
REGISTER = "@adcompile.adjoint("


@dataclass(frozen=True)
class Case:
    module: types.ModuleType
    name: str
    args: Callable[[], list[tuple]]  # the argument sets to check at
    wrt: tuple = (0,)
    expect: str | Refused = DIFF
    marks: tuple = field(default=())
    # why autograd cannot run the function (then only finite differences check it)
    no_autograd: str = ""

    @property
    def fn(self) -> Callable:
        return getattr(self.module, self.name)

    @property
    def id(self) -> str:
        return f"{self.module.__name__.rsplit('.', 1)[-1]}.{self.name}"


def wrong(case: Case, reason: str) -> Case:
    """A function that adcompile gets wrong today: a wrong number, or a refusal
    that does not meet the standard (a strict xfail, so that a fix must update it)."""
    return Case(
        case.module,
        case.name,
        case.args,
        case.wrt,
        case.expect,
        (pytest.mark.xfail(strict=True, reason=reason),),
    )


# ------------------------------------------------------------------ arguments


def scalars(*points: float) -> Callable[[], list[tuple]]:
    """One-argument sets at each of ``points`` (Python floats)."""
    return lambda: [(float(p),) for p in points]


def fixed(*sets: tuple) -> Callable[[], list[tuple]]:
    return lambda: [tuple(s) for s in sets]


def normal(*shape: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape) * scale


def vector(n: int = 3, seed: int = 0) -> Callable[[], list[tuple]]:
    return lambda: [(normal(n, seed=seed),)]


def mlp_layers(sizes: list[int], seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(size=(m, n)) / np.sqrt(m), rng.normal(size=n) * 0.3)
        for m, n in zip(sizes[:-1], sizes[1:])
    ]


def one_hot(rows: int, classes: int, seed: int) -> np.ndarray:
    labels = np.random.default_rng(seed).integers(0, classes, size=rows)
    return np.eye(classes)[labels]


def rnn_params(input_size: int, state: int, output: int, seed: int, lstm: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    names = ["change", "forget", "ingate", "outgate"] if lstm else ["change"]
    params = {"init hiddens": rng.normal(size=(1, state)) * 0.5}
    if lstm:
        params["init cells"] = rng.normal(size=(1, state)) * 0.5
    for name in names:
        params[name] = rng.normal(size=(input_size + state + 1, state)) * 0.5
    params["predict"] = rng.normal(size=(state + 1, output)) * 0.5
    return params


def sequences(steps: int, examples: int, chars: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(chars)[rng.integers(0, chars, size=(steps, examples))]


def rnn_args(lstm: bool = False) -> Callable[[], list[tuple]]:
    def make():
        inputs = sequences(3, 2, 4, seed=5)
        return [(rnn_params(4, 3, 4, seed=6, lstm=lstm), inputs, inputs)]

    return make


def gmm_args() -> list[tuple]:
    rng = np.random.default_rng(11)
    params = {
        "log proportions": rng.normal(size=3) * 0.3,
        "means": rng.normal(size=(3, 2)),
        "log stds": rng.normal(size=(3, 2)) * 0.2,
    }
    return [(params, rng.normal(size=(5, 2)))]


def gmm_full_args() -> list[tuple]:
    rng = np.random.default_rng(12)
    params = {
        "log proportions": rng.normal(size=3) * 0.3,
        "means": rng.normal(size=(3, 2)),
        "lower triangles": np.zeros((3, 2, 2)) + np.eye(2),
    }
    return [(params, rng.normal(size=(5, 2)))]


def vae_args() -> list[tuple]:
    gen = mlp_layers([2, 3, 4], seed=21)
    rec = mlp_layers([4, 3, 4], seed=22)
    data = np.where(normal(5, 4, seed=23) > 0, 1.0, -1.0)
    return [(gen, rec, data, normal(5, 2, seed=24))]


def gan_args() -> list[tuple]:
    gen = mlp_layers([2, 3, 3, 4], seed=31)
    dsc = mlp_layers([4, 3, 3, 1], seed=32)
    return [(gen, dsc, normal(6, 4, seed=33), normal(6, 2, seed=34))]


def hmm_args() -> list[tuple]:
    rng = np.random.default_rng(41)
    natural = (rng.normal(size=3), rng.normal(size=(3, 3)), rng.normal(size=(3, 4)))
    return [(natural, np.array([0, 3, 1, 1, 2]))]


def hmm_args_and_lists() -> list[tuple]:
    """One sequence, then a list of them (the function maps itself over a list)."""
    ((natural, data),) = hmm_args()
    return [(natural, data), (natural, [data, data[:3], data[1:]])]


def dict_of_arrays() -> dict:
    return {"item_1": normal(5, 6), "item_2": normal(4, 3, seed=1), "item_X": normal(2, 4, seed=2)}


def concat_args() -> list[tuple]:
    return [(normal(6, 2, seed=1), normal(3, 2, seed=2), normal(3, 3, seed=3))]


def fluid_args() -> list[tuple]:
    return [(normal(4, 4, seed=51), normal(4, 4, seed=52) * 0.3, normal(4, 4, seed=53) * 0.3)]


T = tangent_functions
AG = autograd_generative_models
AO = autograd_other_examples
N = autograd_test_numpy
C = autograd_test_containers
NO_ADJOINT = "has no adjoint rule"
NO_ASSIGNMENT = "autograd refuses assignment into an array element"
WRITES_ARGUMENT = refused("shares its memory with the argument 'x'", "x = x.copy()")

CASES: list[Case] = [
    # ---------------------------------------------------- Tangent's corpus
    Case(T, "id_", scalars(0.7)),
    Case(T, "unary_sub", scalars(0.7)),
    Case(T, "sum_", vector(4)),
    Case(T, "cast_sum_", vector(4)),
    Case(T, "overwrite_call", vector(4)),
    Case(T, "tanh", scalars(0.3)),
    Case(T, "identity_assign", scalars(0.7)),
    Case(T, "increment", scalars(0.7)),
    Case(T, "saxpy", fixed((0.7, 1.3, -0.4)), wrt=(0, 1, 2)),
    Case(T, "saxpy_call", fixed((0.7, 1.3, -0.4)), wrt=(0, 1, 2)),
    Case(T, "saxpy_anf", fixed((0.7, 1.3, -0.4)), wrt=(0, 1, 2)),
    Case(T, "saxpy_overwrite", fixed((0.7, 1.3, -0.4)), wrt=(0, 1, 2)),
    Case(T, "gradname_aliasing", scalars(0.7)),
    Case(T, "overwrite_if", scalars(0.7, -0.9)),
    *(
        Case(T, f"binop_{op}{k}", scalars(0.7, -1.3))
        for op in ("mul", "div", "sub", "add")
        for k in (1, 2, 3)
    ),
    Case(T, "nested_if", scalars(0.7, 12.0, -0.9)),
    Case(T, "multiarg_if", scalars(0.7, -0.9, -3.0, 0.0001)),
    Case(T, "fn_multiply", scalars(0.7)),
    Case(T, "fn_multiple_return", scalars(0.7)),
    Case(T, "anf_list", scalars(0.7)),
    Case(T, "deep_anf_list", vector(3)),
    Case(T, "subscript1", vector(3)),
    Case(T, "subscript2", vector(3), expect=WRITES_ARGUMENT),
    Case(T, "subscript3", vector(3), expect=WRITES_ARGUMENT),
    Case(T, "list_and_subscript", scalars(0.7)),
    Case(T, "implicit_indexing", vector(4)),
    Case(T, "serial_if", scalars(0.7, -0.9)),
    Case(T, "multivar_if", fixed((0.7, 0.2), (0.2, 0.7)), wrt=(0, 1)),
    Case(T, "serial_for", fixed((0.9, 2)), wrt=(0,)),
    Case(T, "serial_ifthenfor", fixed((0.9, 2), (-0.8, 2)), wrt=(0,)),
    Case(T, "serial_forthenif", fixed((0.9, 2), (-0.8, 0)), wrt=(0,)),
    Case(T, "devilish_nested_if", scalars(0.7, 4.0, -0.9)),
    Case(T, "overwrite_ifelse", scalars(0.7, -0.9)),
    Case(T, "overwrite_arg", scalars(0.7)),
    Case(T, "overwrite_non_arg", scalars(0.7)),
    Case(T, "third_pow", scalars(0.7)),
    Case(T, "direct_third_pow", scalars(0.7, -1.2)),
    Case(T, "iter_third_pow1", scalars(0.7)),
    Case(T, "iter_third_pow2", scalars(0.7)),
    Case(T, "iterpower_static", scalars(0.9)),
    Case(T, "iterpower", fixed((0.9, 3), (1.1, 0)), wrt=(0,)),
    Case(T, "cond_iterpower1", scalars(0.9, 3.0, 30.0)),
    Case(T, "cond_iterpower2", scalars(0.9, 30.0)),
    Case(T, "superfor_iterpower", scalars(0.99)),
    Case(T, "super_iterpower", scalars(0.95)),
    Case(T, "numpy_sum", vector(4)),
    Case(T, "numpy_mean", vector(4)),
    Case(T, "numpy_exp", scalars(0.7)),
    Case(T, "numpy_exp2", scalars(0.3)),
    Case(T, "numpy_sqrt", scalars(0.7, -0.6)),
    *(
        Case(T, f"numpy_{fn}", scalars(0.4, -0.6))
        for fn in ("cos", "sin", "tan", "cosh", "sinh", "tanh", "arccos", "arcsin", "arctan")
    ),
    Case(T, "numpy_atleast_1d", vector(3)),
    Case(T, "numpy_atleast_2d", vector(3)),
    Case(T, "numpy_atleast_3d", vector(3)),
    Case(
        T,
        "logistic_regression",
        lambda: [
            (normal(5, 3, seed=1), np.array([1.0, 0.0, 1.0, 1.0, 0.0]), normal(3, seed=2), 0.1)
        ],
        wrt=(0, 2, 3),
    ),
    Case(T, "det", lambda: [(normal(3, 3, seed=3),)]),
    Case(T, "mul_with_call", fixed((0.7, -1.3)), wrt=(0, 1)),
    Case(T, "if_mul_with_call", fixed((0.7, -1.3), (-0.7, 1.3)), wrt=(0, 1)),
    Case(T, "iterpower_with_call", fixed((0.9, 3)), wrt=(0,)),
    Case(T, "nested_call", fixed((0.7, -1.3)), wrt=(0, 1)),
    Case(T, "iterpower_with_nested_def", fixed((0.9, 3)), wrt=(0,)),
    Case(T, "unpacking_args_saxpy", fixed(((0.7, 1.3, -0.4),))),
    Case(T, "dict_saxpy", fixed(({"a": 0.7, "b": 1.3, "c": -0.4},))),
    Case(T, "dict_wrapper", fixed(((0.7, 1.3, -0.4),))),
    Case(T, "passthru_pack", fixed((0.7, 1.3, -0.4, 1)), wrt=(0, 1, 2)),
    Case(T, "passthru_unpack", fixed(((0.7, 1.3, -0.4),))),
    Case(T, "cart2polar", fixed((0.7, -1.3)), wrt=(0, 1)),
    Case(T, "listcomp", vector(3)),
    Case(T, "while_big", scalars(0.7, 3.0, -5.0)),
    Case(T, "active_subscript", vector(3), no_autograd=NO_ASSIGNMENT),
    Case(T, "init_array_grad_maybe_active", vector(3), no_autograd=NO_ASSIGNMENT),
    Case(T, "slicing", vector(4)),
    Case(
        T,
        "rnn",
        lambda: [(normal(3, 2, seed=4), normal(2, 3, seed=5))],
        wrt=(0, 1),
        no_autograd=NO_ASSIGNMENT,
    ),
    Case(T, "augassign", scalars(0.7)),
    Case(
        T,
        "bilinear",
        lambda: [
            (
                normal(2, 3, seed=6),
                normal(2, 4, seed=7),
                normal(4, 5, seed=8),
                normal(3, 5, seed=9),
                normal(5, seed=10),
            )
        ],
        wrt=(0, 1, 2, 3, 4),
    ),
    Case(T, "gradgrad_pow", fixed((0.7, 2.5), (-0.7, 3.0)), wrt=(0, 1)),
    Case(T, "gradgrad_pow_twice", scalars(0.7)),
    Case(T, "gradgrad_chain_of_mults", scalars(0.9)),
    Case(T, "gradgrad_chain_of_multcalls", scalars(0.9)),
    Case(T, "nested_dict", fixed(({"i": {"j": 0.7, "k": -1.3}},))),
    Case(T, "extended_slice", lambda: [(normal(5, 2, seed=11),)]),
    # ------------------------------------------------- autograd's examples
    Case(
        autograd_neural_net,
        "neural_net_predict",
        lambda: [(mlp_layers([3, 4, 3], seed=1), normal(5, 3, seed=2))],
        wrt=(0, 1),
    ),
    Case(
        autograd_neural_net,
        "log_posterior",
        lambda: [(mlp_layers([3, 4, 3], seed=4), normal(5, 3, seed=5), one_hot(5, 3, seed=6), 0.1)],
        wrt=(0, 1),
    ),
    Case(
        autograd_neural_net,
        "neural_net_predict_own_lse",
        lambda: [(mlp_layers([3, 4, 3], seed=1), normal(5, 3, seed=2))],
        wrt=(0, 1),
    ),
    Case(autograd_neural_net, "l2_norm", lambda: [(mlp_layers([3, 4, 2], seed=3),)]),
    Case(
        autograd_neural_net,
        "log_posterior_own_lse",
        lambda: [(mlp_layers([3, 4, 3], seed=4), normal(5, 3, seed=5), one_hot(5, 3, seed=6), 0.1)],
        wrt=(0, 1, 3),
    ),
    Case(
        autograd_neural_net,
        "convnet_logsumexp",
        lambda: [(normal(3, 4, seed=7), 1, True), (normal(3, 4, seed=8), 0, False)],
    ),
    Case(
        autograd_rnn,
        "concat_and_multiply",
        lambda: [(normal(6, 2, seed=1), normal(3, 2, seed=2), normal(3, 3, seed=3))],
    ),
    Case(autograd_rnn, "rnn_log_likelihood", rnn_args()),
    Case(autograd_rnn, "sigmoid", vector(4)),
    Case(autograd_rnn, "concat_and_multiply2", concat_args),
    Case(autograd_rnn, "rnn_log_likelihood_lifted", rnn_args()),
    Case(autograd_rnn, "rnn_predict_lifted", lambda: [rnn_args()()[0][:2]]),
    Case(autograd_lstm, "lstm_log_likelihood", rnn_args(lstm=True)),
    Case(autograd_lstm, "lstm_log_likelihood_lifted", rnn_args(lstm=True)),
    Case(
        autograd_logistic_regression,
        "training_loss",
        lambda: [(np.array([0.0, 0.0, 0.0]),), (normal(3, seed=9),)],
    ),
    Case(
        autograd_gaussian_process,
        "rbf_covariance",
        lambda: [(normal(2, seed=1) * 0.3, normal(4, 1, seed=2), normal(3, 1, seed=3))],
        wrt=(0, 1, 2),
    ),
    Case(
        autograd_gaussian_process,
        "log_marginal_likelihood",  # (scipy.stats.multivariate_normal.logpdf has a rule)
        lambda: [(normal(4, seed=4) * 0.3, normal(5, 1, seed=5), normal(5, seed=6))],
    ),
    Case(
        autograd_gaussian_process,
        "predict",
        lambda: [(normal(4, seed=4) * 0.3, normal(5, 1, seed=5), normal(5, seed=6), normal(3, 1))],
    ),
    Case(
        autograd_black_box_svi,
        "variational_objective",
        lambda: [(normal(4, seed=1) * 0.5, 0, normal(6, 2, seed=2))],
    ),
    Case(
        autograd_black_box_svi,
        "variational_objective_explicit",
        lambda: [(normal(4, seed=1) * 0.5, 0, normal(6, 2, seed=2))],
    ),
    Case(autograd_gmm, "gmm_log_likelihood", gmm_full_args),
    Case(autograd_gmm, "gmm_log_likelihood_diag", gmm_args),
    Case(autograd_small_examples, "rosenbrock", fixed((np.array([0.3, -0.4]),))),
    Case(autograd_small_examples, "tanh", vector(5)),
    Case(autograd_small_examples, "sin_taylor", scalars(1.2)),
    Case(autograd_small_examples, "sin_taylor_quiet", scalars(1.2, -3.0, 0.1)),
    Case(autograd_small_examples, "taylor_sine", scalars(np.pi, 0.3, -2.0)),
    Case(autograd_small_examples, "taylor_sine_unchained", scalars(np.pi, 0.3, -2.0)),
    Case(autograd_small_examples, "example_func", lambda: [(np.array([1.5, 0.7, 1e-10]),)]),
    Case(AG, "bernoulli_log_density", lambda: [(np.array([[1.0, -1.0, 1.0]]), normal(2, 3))], (1,)),
    Case(AG, "relu", lambda: [(normal(3, 4, seed=3),)]),
    Case(AG, "batch_normalize", lambda: [(normal(5, 3, seed=4),)]),
    Case(AG, "vae_neural_net_predict", lambda: [(mlp_layers([3, 4, 2], 5), normal(6, 3, seed=6))]),
    Case(AG, "unpack_gaussian_params", lambda: [(normal(3, 4, seed=7),)]),
    Case(AG, "vae_lower_bound", vae_args),
    Case(
        AG,
        "generate_from_prior",
        lambda: [(mlp_layers([2, 3, 2], 8), normal(4, 2, seed=9))],
    ),
    Case(AG, "logsigmoid", vector(4)),
    Case(AG, "gan_objective", gan_args, wrt=(0, 1, 2)),
    Case(AO, "log_partition_function", hmm_args_and_lists),
    Case(AO, "log_partition_function_own", hmm_args),
    Case(AO, "normalize", lambda: [(np.abs(normal(3, 4, seed=3)),)]),
    Case(
        AO,
        "project",
        lambda: [fluid_args()[0][1:]],
        wrt=(0, 1),
        no_autograd="vx -= ... writes into an argument, which autograd's boxes cannot take",
    ),
    Case(AO, "advect", fluid_args, wrt=(0, 1, 2)),
    Case(
        AO,
        "nn_predict",
        lambda: [(mlp_layers([1, 4, 1], seed=61), normal(5, 1, seed=62))],
        wrt=(0, 1),
    ),
    Case(AO, "nn_predict_tanh", lambda: [(mlp_layers([1, 4, 1], seed=61), normal(5, 1, seed=62))]),
    Case(
        AO,
        "logprob",
        lambda: [(mlp_layers([1, 4, 1], seed=61), normal(5, 1, seed=62), normal(5, 1, seed=63))],
        wrt=(0, 1),
    ),
    Case(
        AO,
        "negbin_loglike",
        fixed((2.5, 0.3, np.array([1.0, 4.0, 2.0]))),
        wrt=(0, 1),
    ),
    Case(AO, "ode_func", lambda: [(normal(4, 2, seed=81), 0.0, normal(2, 2, seed=82))], (0, 2)),
    Case(
        AO,
        "ode_nn_predict",
        lambda: [(normal(4, 2, seed=83), 0.0, mlp_layers([2, 3, 2], seed=84))],
        (0, 2),
    ),
    Case(AO, "L1_loss", lambda: [(normal(4, 2, seed=85), normal(4, 2, seed=86))], (0, 1)),
    Case(
        AO,
        "expected_new_max",
        lambda: [(normal(3, seed=87), np.abs(normal(3, seed=88)) + 0.5, 0.3)],
        (0, 1, 2),
    ),
    Case(AO, "defaultmax", lambda: [(normal(5, seed=89),), (normal(2, 3, seed=90),)]),
    Case(AO, "ica_predict", lambda: [(normal(3, 2, seed=71), normal(2, 5, seed=72))], wrt=(0, 1)),
    # ------------------------------------------------- autograd's tests/test_numpy.py
    Case(
        N,
        "dot",
        lambda: [
            (normal(4, 5, seed=1), normal(5, seed=2)),
            (normal(4), normal(4, 3)),
            (normal(4, 5, seed=1), 0.7),  # test_dot_with_floats
            (0.7, normal(3, seed=2)),
        ],
        (0, 1),
    ),
    Case(N, "outer", lambda: [(normal(4, seed=1), normal(3, seed=2))], (0, 1)),
    Case(N, "max_", lambda: [(normal(4, 5, seed=3),)]),
    Case(N, "max_axis", lambda: [(normal(3, 4, 5, seed=4),)]),
    Case(N, "max_axis_keepdims", lambda: [(normal(3, 4, 5, seed=5),)]),
    Case(N, "min_", lambda: [(normal(4, 5, seed=6),)]),
    Case(N, "min_axis", lambda: [(normal(3, 4, 5, seed=7),)]),
    Case(N, "min_axis_keepdims", lambda: [(normal(3, 4, 5, seed=8),)]),
    Case(N, "sum_1", lambda: [(normal(4, 5, seed=9),)]),
    Case(N, "sum_2", lambda: [(normal(4, 5, seed=10),)]),
    Case(N, "sum_3", lambda: [(normal(4, 5, seed=11),)]),
    Case(N, "sum_with_axis_tuple", lambda: [(normal(4, 5, 3, seed=12),)]),
    Case(N, "flipud", lambda: [(normal(4, 5, seed=13),)]),
    Case(N, "cumsum_axis0", lambda: [(normal(4, 5),)]),
    Case(N, "non_numpy_sum", lambda: [(normal(4, 5, seed=14), normal(4, 5, seed=15))], (0, 1)),
    Case(N, "mean_1", lambda: [(normal(4, 5, seed=16),)]),
    Case(N, "mean_2", lambda: [(normal(4, 5, seed=17),)]),
    Case(N, "mean_3", lambda: [(normal(4, 5, seed=18),)]),
    Case(N, "index_ints", lambda: [(normal(5, 6, 4, seed=19),)]),
    Case(N, "index_slice", lambda: [(normal(5, 6, 4, seed=20),)]),
    Case(N, "index_lists", lambda: [(normal(5, 6, 4, seed=21),)]),
    Case(N, "index_mixed", lambda: [(normal(5, 6, 4, seed=22),)]),
    Case(N, "vector_slice", lambda: [(normal(5, seed=23),)]),
    Case(N, "index_slice_fanout", lambda: [(normal(5, 6, 4, seed=24),)]),
    Case(N, "index_multiple_slices", lambda: [(normal(7, seed=25),)]),
    Case(N, "reshape_method", lambda: [(normal(5, 4, 6, seed=26),)]),
    Case(N, "reshape_call", lambda: [(normal(5, 4, 6, seed=27),)]),
    Case(N, "reshape_method_nolist", lambda: [(normal(5, 4, 6, seed=28),)]),
    Case(N, "ravel_method", lambda: [(normal(5, 4, 6, seed=29),)]),
    Case(N, "ravel_call", lambda: [(normal(5, 4, 6, seed=30),)]),
    Case(N, "flatten_method", lambda: [(normal(5, 4, 6, seed=31),)]),
    Case(N, "simple_concatenate", lambda: [(normal(4, 6, 4, seed=32),)]),
    Case(N, "concatenate_axis_1", lambda: [(normal(5, 2, 4, seed=33),)]),
    Case(N, "trace", lambda: [(normal(5, 6, seed=34),)]),
    Case(N, "diag", lambda: [(normal(5, 5, seed=35),)]),
    Case(N, "transpose", lambda: [(normal(5, 3, seed=36),)]),
    Case(N, "roll", lambda: [(normal(5, 3, seed=37),)]),
    Case(N, "triu", lambda: [(normal(5, 5, seed=38),)]),
    Case(N, "clip", lambda: [(normal(5, 5, seed=39),)]),
    Case(N, "prod_1", lambda: [(normal(2, 3, seed=40),)]),
    Case(N, "prod_2", lambda: [(normal(3, 4, seed=41),)]),
    Case(N, "prod_3", lambda: [(normal(3, 4, seed=42),)]),
    Case(N, "array_1d", scalars(0.7)),
    Case(N, "where", lambda: [(normal(2, 5, seed=43), normal(2, 5, seed=44))], (0, 1)),
    Case(N, "squeeze_func", lambda: [(normal(5, 1, 4, seed=45),)]),
    Case(N, "squeeze_method", lambda: [(normal(5, 1, 4, seed=46),)]),
    Case(N, "repeat", lambda: [(normal(3, 2, seed=47),)]),
    Case(N, "expand_dims", lambda: [(normal(5, 4, seed=48),)]),
    Case(
        N,
        "tensordot_kwargs_by_position",
        scalars(0.7),
    ),
    Case(N, "index_dot_slices", lambda: [(normal(4, seed=49),)]),
    Case(N, "maximum_equal_values", scalars(1.0)),
    Case(N, "max_equal_values", scalars(1.0)),
    # ------------------------------ autograd's tests of lists, tuples and dicts
    Case(C, "list_getter", lambda: [([normal(5, 6), normal(4, 3, seed=1), normal(2, 4, seed=2)],)]),
    Case(C, "list_grads", lambda: [([normal(5, 6), normal(4, 3, seed=1), normal(2, 4, seed=2)],)]),
    Case(C, "list_slices_object", fixed(([1.0, 2.0, 3.0],))),
    Case(C, "list_slices", fixed(([1.0, 2.0, 3.0],))),
    Case(C, "nested_list", fixed(([[1.0], 2.0, 1.5],))),
    Case(
        C, "tuple_getter", lambda: [((normal(5, 6), normal(4, 3, seed=1), normal(2, 4, seed=2)),)]
    ),
    Case(C, "dict_getter", lambda: [(dict_of_arrays(),)]),
    Case(C, "dict_grads", lambda: [(dict_of_arrays(),)]),
    Case(C, "dict_iter", lambda: [(dict_of_arrays(),)]),
    Case(C, "dict_items_values_keys", lambda: [(dict_of_arrays(),)]),
    Case(C, "dict_get", fixed(({"item_1": 3.0}, 2.0), ({"item_2": 3.0}, 2.0)), (0, 1)),
    Case(C, "direct_grad", scalars(1.3)),
    Case(C, "logic_assert", vector(3)),
]


# ------------------------------------------------------------------ oracles


def _twin_value(value: object, twins: dict) -> object:
    """What ``value`` (a global or default of a corpus function) is under autograd."""
    if value is np:
        return anp
    if isinstance(value, types.ModuleType):
        return value
    if isinstance(value, types.FunctionType) and value.__module__.startswith("corpus."):
        return _twin_function(value, twins)
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__name__", None)
    if name is None:
        # scipy.stats.norm and friends are instances
        name = type(value).__name__.removesuffix("_gen")
        if module.startswith("scipy.stats"):
            return getattr(autograd.scipy.stats, name, value)
        return value
    if module.startswith("scipy.special") or module == "scipy.special._logsumexp":
        return getattr(autograd.scipy.special, name, value)
    if module.startswith("numpy.linalg") and hasattr(anp.linalg, name):
        return getattr(anp.linalg, name)  # (from numpy.linalg import solve)
    if (module.startswith("numpy") or isinstance(value, np.ufunc)) and hasattr(anp, name):
        return getattr(anp, name)
    return value


def _twin_function(fn: types.FunctionType, twins: dict) -> types.FunctionType:
    """``fn`` with its numpy and scipy names bound to autograd's wrappers, and its
    calls to other corpus functions to their twins."""
    if fn in twins:
        return twins[fn]
    namespace: dict = {}
    twin = types.FunctionType(fn.__code__, namespace, fn.__name__, None, fn.__closure__)
    twins[fn] = twin
    namespace.update({k: _twin_value(v, twins) for k, v in fn.__globals__.items()})
    if fn.__defaults__:
        twin.__defaults__ = tuple(_twin_value(v, twins) for v in fn.__defaults__)
    return twin


def autograd_twin(fn: Callable) -> Callable:
    return _twin_function(fn, {})


def leaves(tree) -> list:
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in leaves(tree[k])]
    if isinstance(tree, list | tuple):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


def copy(tree):
    if isinstance(tree, dict):
        return {k: copy(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(copy(v) for v in tree)
    return tree.copy() if isinstance(tree, np.ndarray) else tree


def is_scalar(value: object) -> bool:
    return not isinstance(value, list | tuple | dict) and np.ndim(value) == 0


def cotangent_like(value: object, seed: int = 99):
    """A fixed cotangent with the structure of ``value``."""
    rng = np.random.default_rng(seed)

    def build(v):
        if isinstance(v, dict):
            return {k: build(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return type(v)(build(x) for x in v)
        if isinstance(v, np.ndarray):
            return rng.normal(size=v.shape)
        return float(rng.normal())

    return build(value)


def weighted(fn: Callable, cotangent) -> Callable:
    """The scalar <cotangent, fn(...)>, whose gradient is fn's vjp with ``cotangent``."""

    def h(*args):
        out = fn(*args)
        total = 0.0
        for c, o in zip(leaves(cotangent), leaves(out), strict=True):
            total = total + np.sum(c * o) if not isinstance(o, float) else total + c * o
        return total

    return h


def central_differences(f: Callable, args: tuple, wrt: tuple, eps: float = 1e-6) -> np.ndarray:
    trees = [args[i] for i in wrt]
    x0 = flat(trees)
    out = np.empty(x0.size)
    for k in range(x0.size):
        values = []
        for step in (eps, -eps):
            x = x0.copy()
            x[k] += step
            new = list(copy(args))
            for i, t in zip(wrt, unflat(trees, x)):
                new[i] = t
            values.append(float(f(*new)))
        out[k] = (values[0] - values[1]) / (2 * eps)
    return out


def autograd_gradient(f: Callable, args: tuple, wrt: tuple) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flat([autograd.grad(f, i)(*copy(args)) for i in wrt])


def as_tuple(g, wrt: tuple) -> tuple:
    return g if len(wrt) > 1 else (g,)


def spelled(wrt: tuple):
    """``wrt`` as a user writes it: a position alone, or a tuple of several."""
    return wrt[0] if len(wrt) == 1 else wrt


def check_gradient(g: tuple, args: tuple, wrt: tuple, fd: np.ndarray, ag: np.ndarray, what: str):
    for gi, i in zip(g, wrt):
        same_structure(gi, args[i], f"{what}: gradient of argument {i}")
    got = flat(list(g))
    scale = max(1.0, float(np.max(np.abs(fd if ag is None else ag), initial=0.0)))
    if ag is not None:
        np.testing.assert_allclose(
            got, ag, rtol=1e-9, atol=1e-11 * scale, err_msg=f"{what} vs autograd"
        )
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6 * scale, err_msg=f"{what} vs fd")


class Modes:
    """The gradient functions of ``f`` in every mode, made once and called again and
    again (a repeated call takes the dispatcher's fast path)."""

    def __init__(self, f: Callable, wrt: tuple) -> None:
        self.f = f
        self.grad = ad.grad(f, wrt=spelled(wrt))
        self.value_and_grad = ad.value_and_grad(f, wrt=spelled(wrt))
        self.vjp = ad.vjp(f, wrt=spelled(wrt))

    def call_vjp(self, args: tuple, cotangent):
        """The vjp at ``args``: the cotangent after the arguments, or by keyword when
        ``f`` has defaults (the API's rule)."""
        if self.f.__defaults__:
            return self.vjp(*args, cotangent=cotangent)
        return self.vjp(*args, cotangent)


def in_all_modes(
    modes: Modes, args: tuple, wrt: tuple, what: str, with_autograd: bool = True
) -> None:
    f = modes.f
    before = copy(args)
    value = f(*copy(args))
    if is_scalar(value):
        fd = central_differences(f, args, wrt)
        ag = autograd_gradient(autograd_twin(f), args, wrt) if with_autograd else None
        for call in ("first call", "repeated call"):
            g = as_tuple(modes.grad(*args), wrt)
            check_gradient(g, args, wrt, fd, ag, f"grad, {what}, {call}")
            v, g2 = modes.value_and_grad(*args)
            np.testing.assert_allclose(v, value, rtol=1e-12, err_msg="value_and_grad's value")
            check_gradient(as_tuple(g2, wrt), args, wrt, fd, ag, f"value_and_grad, {what}")
            g3 = as_tuple(modes.call_vjp(args, 0.5), wrt)
            check_gradient(
                g3, args, wrt, fd * 0.5, None if ag is None else ag * 0.5, f"vjp, {what}, {call}"
            )
            unchanged(before, args, "the generated code")
        return
    cotangent = cotangent_like(value)
    h = weighted(f, cotangent)
    fd = central_differences(h, args, wrt)
    ag = (
        autograd_gradient(weighted(autograd_twin(f), cotangent), args, wrt)
        if with_autograd
        else None
    )
    for call in ("first call", "repeated call"):
        g = as_tuple(modes.call_vjp(args, cotangent), wrt)
        check_gradient(g, args, wrt, fd, ag, f"vjp, {what}, {call}")
        unchanged(before, args, "the generated code")
    with pytest.raises(ad.AdCompileError):
        modes.grad(*args)


# ------------------------------------------------------------------ the tests


def _params():
    for case in CASES:
        yield pytest.param(case, id=case.id, marks=case.marks)


def _ids(cases):
    seen: dict[str, int] = {}
    for c in cases:
        seen[c.id] = seen.get(c.id, 0) + 1
    return seen


def test_the_corpus_is_broad_and_its_ids_are_distinct():
    functions = {(c.module.__name__, c.name) for c in CASES}
    assert len(functions) >= 60
    assert all(n == 1 for n in _ids(CASES).values()), _ids(CASES)
    assert sum(c.expect == DIFF for c in CASES) >= 60


@pytest.mark.parametrize("case", list(_params()))
def test_corpus_function(case: Case):
    if case.expect == DIFF:
        check_differentiated(case)
    else:
        check_refused(case)


def check_differentiated(case: Case) -> None:
    """Every mode at every argument set: first with code specialised to the
    arguments' shapes, then (new gradient functions) with the general code."""
    limit = adcompile.api.MAX_SPECIALISATIONS
    for code in ("specialised code", "general code"):
        if code == "general code":
            adcompile.api.MAX_SPECIALISATIONS = 0  # as after many shapes
        try:
            modes = Modes(case.fn, case.wrt)  # shared by the argument sets
            for n, args in enumerate(case.args()):
                with np.errstate(all="raise"):
                    in_all_modes(
                        modes, args, case.wrt, f"argument set {n}, {code}", not case.no_autograd
                    )
        finally:
            adcompile.api.MAX_SPECIALISATIONS = limit


def check_refused(case: Case) -> None:
    f = case.fn
    args = case.args()[0]
    value = f(*copy(args))
    try:
        if is_scalar(value):
            ad.grad(f, wrt=spelled(case.wrt))(*args)
        else:
            Modes(f, case.wrt).call_vjp(args, cotangent_like(value))
    except ad.AdCompileError as exc:
        assert_good_refusal(exc, case.expect)
    else:
        pytest.fail(
            f"{case.id} is differentiated now: move it to DIFF in tests/test_corpus.py "
            "so that its numbers are checked"
        )


GENERATED_NAME = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*_\d+\b")


def assert_good_refusal(exc: ad.AdCompileError, expect: Refused) -> None:
    message = str(exc)
    assert "internal error" not in exc.reason, message
    assert expect.reason in exc.reason, message
    assert exc.hint, f"no hint:\n{message}"
    assert expect.hint in exc.hint, message
    if expect.hint_not is not None:
        assert expect.hint_not not in exc.hint, message
    # located in the corpus, at the line as written
    assert exc.filename is not None and Path(exc.filename).resolve().parent == CORPUS.resolve(), (
        message
    )
    assert exc.line.rstrip("\n") == linecache.getline(exc.filename, exc.lineno).rstrip("\n")
    source = Path(exc.filename).read_text()
    # in the user's words: no name the compiler made up
    for name in GENERATED_NAME.findall(message):
        assert name in source, f"generated name {name!r} in the message:\n{message}"


def test_the_autograd_twin_runs_autograds_numpy():
    twin = autograd_twin(autograd_neural_net.log_posterior_own_lse)
    assert twin.__globals__["np"] is anp
    helper = twin.__globals__["neural_net_predict_own_lse"]
    assert helper.__globals__["np"] is anp
    assert inspect.getsource(twin)  # the same code


# ------------------------------------------------ the checks themselves can fail


def test_a_refused_function_that_starts_working_fails_its_test():
    case = Case(tangent_functions, "saxpy", fixed((0.7, 1.3, -0.4)), expect=refused("anything"))
    with pytest.raises(pytest.fail.Exception, match="differentiated now"):
        check_refused(case)


def test_a_wrong_gradient_fails_its_test(monkeypatch):
    real_grad = ad.grad

    def off_by_one_percent(f, wrt=0):
        g = real_grad(f, wrt=wrt)
        return lambda *args: g(*args) * 1.01

    monkeypatch.setattr(ad, "grad", off_by_one_percent)
    with pytest.raises(AssertionError, match="vs autograd"):
        check_differentiated(Case(tangent_functions, "numpy_sin", scalars(0.4)))


def test_a_refusal_naming_a_generated_variable_fails_its_test():
    where = inspect.getsourcefile(tangent_functions.subscript2)
    lines, first = inspect.getsourcelines(tangent_functions.subscript2)
    lineno = first + next(i for i, text in enumerate(lines) if "x[0] = a * b" in text)
    exc = ad.AdCompileError(
        "'x' shares its memory with the argument 'x' here: new_shape_4",
        adcompile.errors.Loc(where, lineno, 4, linecache.getline(where, lineno)),
        "make a copy the function owns first: x = x.copy()",
    )
    with pytest.raises(AssertionError, match="generated name 'new_shape_4'"):
        assert_good_refusal(exc, WRITES_ARGUMENT)
