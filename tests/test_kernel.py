"""adcompile's own compiler of the numba backend (``jit/kernel.py``): straight-line
array code of known shapes compiled with llvmlite, without numba. Each model and
construct is compiled by it (``ADCOMPILE_KERNEL=strict``: a bug of the compiler
raises instead of leaving the code to numba) and gives the numpy backend's
gradients and values (rtol 1e-10), on the first call and on later ones (which
reuse its arena); code outside its subset goes to numba, to the same numbers."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import fuzzcheck
import fuzzgen
import numpy as np
import pytest
from helpers import leaves, mlp_args, softmax_mlp
from hypothesis import HealthCheck, assume, given, reject, settings
from test_models import _mlp_layers, attention_loss, mlp_loss
from test_numba_backend import (
    gated_rnn,
    gated_rnn_args,
    last_layer_linear,
    last_layer_linear_args,
    relu_mlp,
    relu_mlp_args,
    sliced,
)

import adcompile as ad
from adcompile.errors import AdCompileError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "benchmarks"))
import heldout_bench  # noqa: E402

pytest.importorskip("numba", reason="the numba backend is an optional extra")

KERNEL_FUZZ = {"kernel": 0, "numba": 0}
KERNEL_REFUSALS: Counter = Counter()  # why programs went to numba (shown with pytest -s)


@pytest.fixture(autouse=True, scope="module")
def strict_kernel(tmp_path_factory):
    saved = {k: os.environ.get(k) for k in ("ADCOMPILE_CACHE_DIR", "ADCOMPILE_KERNEL")}
    os.environ["ADCOMPILE_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernel-cache"))
    os.environ["ADCOMPILE_KERNEL"] = "strict"
    yield
    for k, old in saved.items():
        if old is None:
            del os.environ[k]
        else:
            os.environ[k] = old


def compiled_of(fast):
    return fast._latest[0]


def by_kernel(f, args, wrt=0, mode="grad", taken=True, rtol=1e-10):
    """The numba backend's results equal the numpy backend's, on a first and a second
    call (the second reusing the arena must not change what the first returned);
    ``taken``: whether adcompile's compiler (not numba) compiled the code."""
    make = getattr(ad, mode)
    want = make(f, wrt=wrt)(*args)
    fast = make(f, wrt=wrt, backend="numba")
    first = fast(*args)
    kept = [np.array(x, copy=True) for x in leaves(first)]
    second = fast(*args)
    code = compiled_of(fast)
    assert (code.kernel is not None) == taken, code.kernel_refusal
    for got in (first, second):
        assert len(leaves(got)) == len(leaves(want))
        for a, b in zip(leaves(got), leaves(want), strict=True):
            assert type(a) is type(b) or isinstance(a, float) and isinstance(b, float)
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-300)
    for a, b in zip(leaves(first), kept, strict=True):
        np.testing.assert_array_equal(a, b)  # (the first call's arrays are its own)
    if taken:
        firsts = [x for x in leaves(first) if isinstance(x, np.ndarray)]
        seconds = [x for x in leaves(second) if isinstance(x, np.ndarray)]
        for a, b in zip(firsts, seconds, strict=True):
            assert not np.shares_memory(a, b)
    return fast


# ------------------------------------------------------------------ models


@pytest.mark.parametrize("mode", ["grad", "value_and_grad"])
def test_the_seed_networks_and_a_deep_mlp(mode):
    f, _hand, wrt, _data = heldout_bench.WORKLOADS["seed-small"]
    by_kernel(f, heldout_bench.sigmoid_net_data(4, 8, 1, 16), wrt, mode)
    by_kernel(f, heldout_bench.sigmoid_net_data(30, 20, 5, 12), wrt, mode)
    args = heldout_bench.deep_mlp_data(depth=4, width=8, batch=5, n_classes=3)
    by_kernel(heldout_bench.deep_mlp, args, 0, mode)


def test_loops_unrolled_the_rnn_and_the_scalar_workload():
    rng = np.random.default_rng(9)
    W, x = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    by_kernel(loop, (W, x), 0)
    for key in ("rnn", "scalar"):
        f, _hand, wrt, data = heldout_bench.WORKLOADS[key]
        by_kernel(f, data(), wrt)
        by_kernel(f, data(), wrt, "value_and_grad")


def test_suite_models():
    rng = np.random.default_rng(0)
    args = (_mlp_layers(rng, [3, 4, 2]), rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    by_kernel(mlp_loss, args, (0, 1))
    by_kernel(softmax_mlp, mlp_args(), 0)
    qkv = tuple(rng.normal(size=(3, 2)) for _ in range(3))
    by_kernel(attention_loss, (*qkv, rng.normal(size=(4, 3)), rng.normal(size=(4, 2))), 0)
    by_kernel(relu_mlp, relu_mlp_args(rng), 0)
    by_kernel(gated_rnn, gated_rnn_args(rng), (0, 1, 2))
    by_kernel(last_layer_linear, last_layer_linear_args(rng), 0)
    by_kernel(sliced, (rng.normal(size=(4, 6)), rng.normal(size=(3, 3))), (0, 1))
    by_kernel(softplus, (rng.normal(size=(4, 3)), rng.normal(size=(3, 5))), (0, 1))


def loop(W, x):
    for _ in range(3):
        x = np.tanh(W @ x)
    return np.sum(x)


def softplus(W, x):
    return np.sum(np.logaddexp(0.0, W @ x) * np.logaddexp(W @ x, -1.0))


def product(W, x):
    return np.sum(np.tanh(W @ x))


def test_vjp_takes_the_cotangent_as_an_argument():
    rng = np.random.default_rng(4)
    W, x = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    by_kernel(product, (W, x, 0.7), (0, 1), mode="vjp")


# ------------------------------------------------------------------ constructs


def broadcasting(a, b, c):
    return np.sum((a * b + c) ** 2 / (1.0 + b * b)) - np.mean(a - c)


def reductions(x, y):
    s = x.sum(axis=0) @ y.max(axis=1)
    t = np.mean(x, axis=1, keepdims=True) * y.min(axis=0, keepdims=True)
    return s + np.sum(t * x.max()) + np.max(x @ y, axis=(0, 1))


def views(x, y):
    # (views of y only: the gradient of an indexed x is not numba code)
    return np.sum(x * y[1:, ::2]) + np.sum(x * y[0, :4]) + np.sum(x @ y[:4, 1::2] ** 2)


def elementwise(x, y):
    r = np.maximum(x, 0.0) + np.minimum(y, 0.5) * np.where(x > y, x, y * 2.0)
    return np.sum(r * np.abs(x) + np.sqrt(y * y + 1.0) * np.sign(x) + np.exp(-x) * np.cos(y))


def products(W, V, v, u):
    return np.sum(W.T @ V) + v @ (W @ u) + np.sum((v @ W) * u) + np.sum(V.T @ W.T.T)


def in_place(x, y):
    a = x * 1.0
    a += y
    a *= x
    a -= 2.0 * y
    return np.sum(a * a)


def scalars(x, s, t):
    u = math.sin(s) * t + math.cos(s)
    return np.sum(x * u) + u**2 + math.exp(-t * s)


def returns_an_argument(x, y):
    return np.sum(x * y)


TABLE = np.linspace(-1.0, 1.0, 12).reshape(3, 4)


def reads_a_constant_array(x):
    return np.sum(np.log1p(x * x) * TABLE)


@pytest.mark.parametrize("mode", ["grad", "value_and_grad"])
def test_constructs(mode):
    rng = np.random.default_rng(5)
    n = rng.normal
    by_kernel(broadcasting, (n(size=(3, 1)), n(size=(1, 4)), n(size=4)), (0, 1, 2), mode)
    by_kernel(reductions, (n(size=(3, 4)), n(size=(4, 4))), (0, 1), mode)
    by_kernel(views, (n(size=(3, 4)), n(size=(4, 8))), 0, mode)
    x, y = n(size=(3, 4)), np.abs(n(size=(3, 4)))
    by_kernel(elementwise, (x, y), (0, 1), mode)
    args = (n(size=(5, 4)), n(size=(5, 3)), n(size=5), n(size=4))
    by_kernel(products, args, (0, 1, 2, 3), mode)
    by_kernel(in_place, (n(size=(3, 4)), n(size=(3, 4))), (0, 1), mode)
    by_kernel(scalars, (n(size=(2, 3)), 0.3, 1.7), (0, 1, 2), mode)
    by_kernel(returns_an_argument, (n(size=(3, 4)), n(size=(3, 4))), (0, 1), mode)
    by_kernel(reads_a_constant_array, (n(size=(3, 4)),), 0, mode)


def numbers_and_masks(x, y, n, s):
    r = np.clip(x, -0.5, 0.7) * np.where(y, x, 2.0) + np.add(x, y) % 0.3
    m = (x > 0.1) & ~(y < -0.2) | (x > y)
    return np.sum(r * m) * n + s % 0.7 + np.sum(np.multiply(x, n)) + s * s


def helper(h, W0, W1):
    for _ in range(2):
        h = np.tanh(h @ W0) * W1
    return h


def with_a_helper_and_lists(W0, W1, x):
    return np.sum(helper(x, W0, W1) ** 2) + np.sum(helper(x * 2.0, W0, W1 * W1))


def test_ints_masks_remainders_clips_and_helpers_with_lists():
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    for mode in ("grad", "value_and_grad"):
        by_kernel(numbers_and_masks, (x, y, 3, 1.3), (0, 1, 3), mode)
        args = (rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=(2, 4)))
        by_kernel(with_a_helper_and_lists, args, (0, 1, 2), mode)


def test_nan_propagates_through_maxima_as_in_numpy():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, -1.0]])
    by_kernel(reductions, (x, np.ones((3, 3))), (0, 1), "value_and_grad")


# ------------------------------------------------------------------ what numba compiles


def until_small(W, x):
    while np.sum(x * x) > 1.0:
        x = x * 0.5
    return np.sum(W @ x)


def weighted(W, k):
    return np.sum(np.tanh(W) * k)


def test_what_the_compiler_does_not_take_numba_compiles():
    rng = np.random.default_rng(6)
    W, x = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    by_kernel(product, (W.astype(np.float32), x.astype(np.float32)), 0, taken=False, rtol=1e-5)
    by_kernel(product, (np.asfortranarray(W), x), 0, taken=False)
    by_kernel(weighted, (W, np.arange(9).reshape(3, 3)), 0, taken=False)
    by_kernel(until_small, (W, x), 0, taken=False)  # (a while loop: numba compiles it)


def test_arguments_of_another_kind_after_a_kernel_go_to_numba():
    rng = np.random.default_rng(7)
    W, x = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    fast = ad.grad(product, wrt=0, backend="numba")
    want = ad.grad(product, wrt=0)
    np.testing.assert_allclose(fast(W, x), want(W, x), rtol=1e-10)
    assert compiled_of(fast).kernel is not None
    np.testing.assert_allclose(fast(np.asfortranarray(W), x), want(W, x), rtol=1e-10)
    np.testing.assert_allclose(fast(W, x[:, ::1].copy()), want(W, x), rtol=1e-10)


def test_threads_calling_one_kernel_get_their_own_arenas():
    rng = np.random.default_rng(8)
    f, _hand, wrt, _data = heldout_bench.WORKLOADS["seed-small"]
    fast = ad.grad(f, wrt=wrt, backend="numba")
    want = ad.grad(f, wrt=wrt)
    inputs = [heldout_bench.sigmoid_net_data(6, 5, 2, 7) for _ in range(4)]
    for args in inputs:
        args[0][...] = rng.normal(size=args[0].shape)
    fast(*inputs[0])
    errors = []

    def run(args):
        for _ in range(200):
            for a, b in zip(fast(*args), want(*args), strict=True):
                if not np.allclose(a, b, rtol=1e-10, atol=0):
                    errors.append(1)

    threads = [threading.Thread(target=run, args=(a,)) for a in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_a_fresh_process_compiles_without_importing_numba(tmp_path):
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'examples' / 'benchmarks')!r})\n"
        "import heldout_bench as hb, adcompile as ad, numpy as np\n"
        "f, _, wrt, data = hb.WORKLOADS['seed-small']\n"
        "args = data()\n"
        "got = ad.grad(f, wrt=wrt, backend='numba')(*args)\n"
        "want = ad.grad(f, wrt=wrt)(*args)\n"
        "assert all(np.allclose(a, b, rtol=1e-10, atol=0) for a, b in zip(got, want))\n"
        "print('numba' in sys.modules, 'scipy' in sys.modules)\n"
    )
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    env.pop("ADCOMPILE_KERNEL", None)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_a_second_process_loads_the_machine_code_and_a_damaged_file_is_compiled_again(
    tmp_path,
):
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'examples' / 'benchmarks')!r})\n"
        "import heldout_bench as hb, adcompile as ad, numpy as np\n"
        "from adcompile.jit import kernel\n"
        "if sys.argv[1] == 'cached':  # (compiling would raise)\n"
        "    def refuse(*a):\n"
        "        raise AssertionError('compiled again')\n"
        "    kernel.kernel_source = refuse\n"
        "f, _, wrt, data = hb.WORKLOADS['deep-mlp']\n"
        "args = data()\n"
        "fast = ad.grad(f, wrt=wrt, backend='numba')\n"
        "got = fast(*args)\n"
        "want = ad.grad(f, wrt=wrt)(*args)\n"
        "assert fast._latest[0].kernel is not None\n"
        "assert all(np.allclose(a, b, rtol=1e-10, atol=0) for a, b in zip(got, want))\n"
    )
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    env["ADCOMPILE_KERNEL"] = "strict"

    def run(how: str) -> None:
        subprocess.run([sys.executable, "-c", script, how], env=env, check=True)

    run("compile")
    (written,) = tmp_path.rglob("*.kernel")
    run("cached")
    written.write_bytes(b"not a kernel")
    run("compile")
    assert written.read_bytes() != b"not a kernel"


# ------------------------------------------------------------------ random programs


def teardown_module() -> None:
    print(f"\nkernel random programs: {KERNEL_FUZZ}")  # (shown with pytest -s)
    for reason, n in KERNEL_REFUSALS.most_common(15):
        print(f"  {n:4d}  {reason}")


@settings(
    max_examples=int(os.environ.get("ADCOMPILE_KERNEL_FUZZ_EXAMPLES", "30")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(program=fuzzgen.programs(("straight", "control", "containers", "calls")))
def test_random_programs_match_the_numpy_backend(program, tmp_path):
    assume(program.specialise and not program.mutates and not program.rebind and not program.same)
    module, _path = fuzzcheck.load(tmp_path, program.module())
    wrt = program.wrt if len(program.wrt) > 1 else program.wrt[0]
    for mode in ("grad", "value_and_grad"):
        try:
            want = getattr(ad, mode)(module.f, wrt=wrt)(*program.fresh_args())
        except (AdCompileError, ArithmeticError, ValueError):
            reject()
        fast = getattr(ad, mode)(module.f, wrt=wrt, backend="numba")
        try:
            got = fast(*program.fresh_args())
            again = fast(*program.fresh_args())
        except AdCompileError:
            KERNEL_FUZZ["numba"] += 1  # (refused by numba: test_numba_backend's business)
            return
        for g in (got, again):
            for a, b in zip(leaves(g), leaves(want), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        code = compiled_of(fast)
        KERNEL_FUZZ["kernel" if code.kernel is not None else "numba"] += 1
        if code.kernel is None:
            KERNEL_REFUSALS[code.kernel_refusal[:70]] += 1
