"""The numba backend: ``grad(f, backend="numba")`` gives the numpy backend's gradients
(rtol 1e-10) on the suite's models and on random programs, refuses what numba cannot
compile with a located error, and a second process loads the compiled code from
numba's cache. Skipped without numba (an optional extra); translating the code
(``adcompile show --backend numba``) needs no numba and is tested either way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fuzzcheck
import fuzzgen
import numpy as np
import pytest
from helpers import leaves, mlp_args, softmax_mlp
from hypothesis import HealthCheck, assume, given, reject, settings
from test_models import (
    _fixed_point_args,
    _mlp_layers,
    _rnn_args,
    attention_loss,
    fixed_point_loss,
    mlp_loss,
    renormalised_rnn_loss,
    resnet_loss,
    rnn_loss,
)

import adcompile as ad
from adcompile.errors import AdCompileError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "benchmarks"))
import heldout_bench  # noqa: E402

try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:
    HAVE_NUMBA = False
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


@pytest.fixture(autouse=True, scope="module")
def cache_dir(tmp_path_factory):
    """The compiled modules and numba's cache in a folder of this test run; every
    gradient compiled by numba (``ADCOMPILE_KERNEL=0``: tests/test_kernel.py tests
    adcompile's own compiler on the same models)."""
    folder = tmp_path_factory.mktemp("numba-cache")
    saved = {k: os.environ.get(k) for k in ("ADCOMPILE_CACHE_DIR", "ADCOMPILE_KERNEL")}
    os.environ["ADCOMPILE_CACHE_DIR"] = str(folder)
    os.environ["ADCOMPILE_KERNEL"] = "0"
    yield folder
    for k, old in saved.items():
        if old is None:
            del os.environ[k]
        else:
            os.environ[k] = old


def same_as_numpy(f, args, wrt=0, mode="grad"):
    """The numba backend's result equals the numpy backend's (rtol 1e-10)."""
    from adcompile import api

    make = getattr(ad, mode)
    want = make(f, wrt=wrt)(*args)
    with api._CACHE_LOCK:  # (a gradient another test module compiled, with its kernel)
        api._CACHE.clear()
    fast = make(f, wrt=wrt, backend="numba")
    got = fast(*args)
    got_again = fast(*args)  # (the second call goes through the dispatcher)
    results = [got, got_again]
    if mode != "vjp":  # the machine code numba exported, run as another process would
        results.append(_exported_result(make, f, wrt, args))
    for g in results:
        assert len(leaves(g)) == len(leaves(want))
        for a, b in zip(leaves(g), leaves(want), strict=True):
            # (a value numpy returns as np.float64, numba returns as a float)
            assert type(a) is type(b) or isinstance(a, float) and isinstance(b, float)
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-300)
    return fast


def _exported_result(make, f, wrt, args, required: bool = True):
    """What a new gradient of ``f`` gives when it runs the machine code numba exported
    for these arguments, loaded as a process without numba loads it (the compiled
    code cache of the API emptied, so the gradient is made again)."""
    from adcompile import api

    with api._CACHE_LOCK:
        api._CACHE.clear()
    again = make(f, wrt=wrt, backend="numba")
    out = again(*args)
    code = again._latest[0]
    exported = code.dispatcher is None and bool(code.loaded)
    assert exported or not required, "numba's compiled code was not exported"
    return out if exported else None


# ------------------------------------------------------------- the held-out workloads


@needs_numba
@pytest.mark.parametrize("key", ["seed-small", "rnn", "scalar"])
def test_held_out_workloads_match_the_numpy_backend(key):
    f, _hand, wrt, data = heldout_bench.WORKLOADS[key]
    same_as_numpy(f, data(), wrt)


@needs_numba
def test_deep_mlp_over_a_flat_list_of_matrices_and_vectors():
    # params[2 * i] is a matrix, params[2 * i + 1] a vector: the list is passed as its
    # elements and the loop unrolled
    args = heldout_bench.deep_mlp_data(depth=4, width=8, batch=5, n_classes=3)
    fast = same_as_numpy(heldout_bench.deep_mlp, args, 0)
    assert "params_7" in fast.source and "    for " not in fast.source
    # (the layers' repeated expressions are functions numba compiles once)
    assert "= repeated_1(" in fast.source


# ---------------------------------------------------------------- the suite's models


def relu_mlp(params, X, y):
    h = X
    for W, b in params[:-1]:  # (a slice of the list: every layer but the last)
        h = np.maximum(h @ W + b, 0.0)
    W, b = params[-1]
    logits = h @ W + b
    m = np.max(logits, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean(np.sum(y * (logits - lse), axis=1))


def relu_mlp_args(rng):
    sizes = [6, 8, 8, 4]
    params = [(rng.normal(size=(a, b)), rng.normal(size=b)) for a, b in zip(sizes, sizes[1:])]
    return params, rng.normal(size=(5, 6)), np.eye(4)[rng.integers(0, 4, 5)]


def gated_rnn(Wz, Wh, w, xs):
    h = np.zeros(Wz.shape[0])
    for t in range(xs.shape[0]):
        hx = np.concatenate([h, xs[t]])
        z = 1 / (1 + np.exp(-(Wz @ hx)))
        h = (1 - z) * h + z * np.tanh(Wh @ np.concatenate((z * h, xs[t])))
    return np.log1p(np.exp(-np.dot(w, h))) + 0.5 * w.dot(w)


def gated_rnn_args(rng):
    return (rng.normal(size=(4, 7)) * 0.3, rng.normal(size=(4, 7)) * 0.3, rng.normal(size=4),
            rng.normal(size=(5, 3)))  # fmt: skip


@needs_numba
def test_concatenation_and_dot_products_of_vectors():
    same_as_numpy(gated_rnn, gated_rnn_args(np.random.default_rng(12)), (0, 1, 2))


def last_layer_linear(params, X, Y):
    h = X
    n = len(params) // 2
    for i in range(n):
        z = h @ params[2 * i] + params[2 * i + 1]
        h = np.tanh(z) if i < n - 1 else z  # (a branch on the layer's position)
    z = h - np.max(h, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * (z - lse)) / X.shape[0]


def last_layer_linear_args(rng):
    params = []
    for _ in range(3):
        params += [rng.normal(size=(4, 4)), rng.normal(size=4)]
    return params, rng.normal(size=(5, 4)), np.eye(4)[rng.integers(0, 4, 5)]


@needs_numba
def test_a_branch_on_the_loop_index_in_a_loop_over_a_list():
    same_as_numpy(last_layer_linear, last_layer_linear_args(np.random.default_rng(13)), 0)


def sliced_and_picked(x, y, rows):
    return (
        np.sum(x[1:, ::2] * y)
        + np.sum(x[0] ** 2)
        + np.sum(x[:, -1])
        + np.sum(np.tanh(x[rows]) ** 2)  # (rows that repeat: their adjoints add up)
    )


@needs_numba
def test_indexing_by_ints_slices_and_an_array_of_rows():
    rng = np.random.default_rng(14)
    args = (rng.normal(size=(4, 6)), rng.normal(size=(3, 3)), np.array([0, 2, 2, -1]))
    same_as_numpy(sliced_and_picked, args, (0, 1))


def sliced(x, y):
    return np.sum(x[1:, ::2] * y) + np.sum(x[0] ** 2) + np.sum(x[:, -1] * x[-1, :4])


@needs_numba
def test_a_loop_over_a_slice_of_a_list_of_layers():
    same_as_numpy(relu_mlp, relu_mlp_args(np.random.default_rng(11)), 0)


@needs_numba
def test_mlp_over_a_list_of_layer_tuples():
    rng = np.random.default_rng(0)
    args = (_mlp_layers(rng, [3, 4, 2]), rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    same_as_numpy(mlp_loss, args, (0, 1))
    same_as_numpy(softmax_mlp, mlp_args(), 0)


@needs_numba
def test_rnn_loop_and_residual_blocks():
    rng = np.random.default_rng(1)
    same_as_numpy(rnn_loss, _rnn_args(rng, 4, 3, 6), (0, 1, 2, 4))
    blocks = [
        (rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=(4, 4))) for _ in range(2)
    ]
    args = (blocks, rng.normal(size=(3, 4)), rng.normal(size=(4, 2)))
    args += (rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    same_as_numpy(resnet_loss, args, (0, 1, 2))


@needs_numba
def test_attention_and_a_while_loop():
    rng = np.random.default_rng(2)
    qkv = tuple(rng.normal(size=(3, 2)) for _ in range(3))
    same_as_numpy(attention_loss, (*qkv, rng.normal(size=(4, 3)), rng.normal(size=(4, 2))), 0)
    same_as_numpy(fixed_point_loss, (*_fixed_point_args(rng), 1e-8), (0, 1))


def activation(z):
    return np.tanh(z) * 2.0


def branchy(W, x, c):
    z = W @ x
    if c > 0:
        z = activation(z)
    else:
        z = z * z
    return np.sum(z**2) + np.mean(z, axis=0).sum()


@needs_numba
@pytest.mark.parametrize("c", [1.0, -1.0])
def test_branches_and_a_helper_call(c):
    rng = np.random.default_rng(3)
    same_as_numpy(branchy, (rng.normal(size=(3, 2)), rng.normal(size=(2, 4)), c), (0, 1))


def scaled_in_place(x, s):
    v = s
    w = v
    v *= 2.0  # (a number, numpy's or Python's: v is bound to a new one)
    v += np.sum(x)
    return np.sum(x * v * w)


@needs_numba
@pytest.mark.parametrize("s", [0.7, np.float64(0.7)])
def test_an_update_of_a_number_parameter_whatever_its_type(s):
    rng = np.random.default_rng(6)
    same_as_numpy(scaled_in_place, (rng.normal(size=3), s), (0, 1))


@needs_numba
def test_value_and_grad_and_vjp():
    f, _hand, wrt, data = heldout_bench.WORKLOADS["seed-small"]
    same_as_numpy(f, data(), wrt, mode="value_and_grad")
    rng = np.random.default_rng(4)
    W, x = rng.normal(size=(3, 2)), rng.normal(size=(2, 4))
    same_as_numpy(lambda_free_product, (W, x, rng.normal(size=(3, 4))), (0, 1), mode="vjp")


def lambda_free_product(W, x):
    return np.tanh(W @ x)


# ------------------------------------------------------------------------- refusals


@needs_numba
def test_a_list_holding_numbers_and_arrays_is_refused_at_its_line():
    # the saved stack holds a number on one branch and an array on the other: numba
    # types a list by one element type
    rng = np.random.default_rng(5)
    g = ad.grad(renormalised_rnn_loss, wrt=(0, 1), backend="numba")
    args = (rng.normal(size=(4, 4)), rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), 1.5)
    with pytest.raises(AdCompileError) as info:
        g(*args)
    err = info.value
    assert err.filename.endswith("test_models.py")
    lines = Path(err.filename).read_text().splitlines()
    assert "renormalised_rnn_loss" in "\n".join(lines[err.lineno - 12 : err.lineno])
    assert "numba" in err.reason and "backend='numpy'" in err.hint


def cumulative(x):
    return np.sum(np.cumsum(x) ** 2)


def test_a_helper_without_a_numba_version_is_refused_at_its_line():
    # (translating needs no numba: the refusal comes before numba is imported)
    g = ad.grad(cumulative, backend="numba")
    with pytest.raises(AdCompileError) as info:
        g(np.arange(3.0))
    err = info.value
    assert err.filename == __file__
    assert err.line.strip() == "return np.sum(np.cumsum(x) ** 2)"
    assert "no version of adcompile.runtime" in err.reason


def test_an_unknown_backend_is_refused():
    with pytest.raises(AdCompileError, match="backend='jax' is not one of"):
        ad.grad(cumulative, backend="jax")


def test_numba_missing_is_a_located_error_that_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    with pytest.raises(AdCompileError, match=r"pip install 'adcompile\[numba\]'"):
        ad.grad(cumulative_free, backend="numba")(np.ones(3))


def cumulative_free(x):
    return np.sum(x**2)


# ---------------------------------------------------------------------- the cache

CACHED = """
import sys
import numpy as np
sys.path.insert(0, {bench!r})
import adcompile as ad
import heldout_bench as hb
f, _, wrt, data = hb.WORKLOADS[{key!r}]
args = data()
g = ad.grad(f, wrt=wrt, backend="numba")
got = g(*args)
want = ad.grad(f, wrt=wrt)(*args)
assert all(np.allclose(a, b, rtol=1e-10, atol=0) for a, b in zip(got, want))
code = g._latest[0]
hits = sum(code.dispatcher.stats.cache_hits.values()) if code.dispatcher else "-"
print("numba" in sys.modules, "scipy" in sys.modules, hits)
"""


def _run_cached(folder, key: str, extra_env: dict | None = None) -> list[str]:
    script = CACHED.format(bench=str(ROOT / "examples" / "benchmarks"), key=key)
    env = dict(
        os.environ, ADCOMPILE_CACHE_DIR=str(folder), PYTHONPATH=str(ROOT), **(extra_env or {})
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()[-3:]


@needs_numba
@pytest.mark.parametrize("key", ["rnn", "scalar"])
def test_a_second_process_runs_the_compiled_code_without_importing_numba(cache_dir, key):
    folder = cache_dir / f"fresh-{key}"
    first = _run_cached(folder, key)
    assert first[0] == "True" and first[2] == "0"  # compiled by numba
    assert list((folder / "numba").glob("*.native"))  # and exported
    again = _run_cached(folder, key)
    assert again == ["False", "False", "-"]  # loaded without numba (nor scipy)


MIXED = """
import sys
import numpy as np
import adcompile as ad


def layer(W, x):
    return np.sum(np.tanh(W @ x) ** 2)


rng = np.random.default_rng(7)
W, x = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))
g = ad.grad(layer, wrt=(0, 1), backend="numba")
want = ad.grad(layer, wrt=(0, 1))
kinds = [(W, x), (W, x), (np.asfortranarray(W), x), (W, x[:, ::2])]
for args in kinds[: int(sys.argv[1])]:
    got = g(*args)
    assert all(np.allclose(a, b, rtol=1e-10, atol=0) for a, b in zip(got, want(*args)))
    print("numba" in sys.modules, end=" ")
"""


@needs_numba
def test_arguments_of_a_kind_not_exported_go_through_numba(cache_dir):
    # a process that runs the exported code for C-ordered arrays starts numba for a
    # Fortran-ordered or strided argument, with the same numbers as the numpy backend
    script = cache_dir / "mixed.py"
    script.write_text(MIXED)
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=str(cache_dir / "mixed"), PYTHONPATH=str(ROOT))
    runs = [
        subprocess.run(
            [sys.executable, str(script), n], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for n in ("2", "4", "4")
    ]
    assert runs[0] == ["True", "True"]  # compiled (C-ordered arrays), exported
    assert runs[1] == ["False", "False", "True", "True"]  # exported; then through numba
    assert runs[2] == ["False"] * 4  # all four kinds exported by now


@needs_numba
def test_without_the_exported_code_numba_loads_its_own_cache(cache_dir):
    folder = cache_dir / "fresh-numba"
    assert _run_cached(folder, "rnn")[2] == "0"
    for path in (folder / "numba").glob("*.native"):
        path.unlink()
    assert _run_cached(folder, "rnn") == ["True", "True", "1"]
    # numba's own settings of the machine code: through numba, whatever is exported
    assert _run_cached(folder, "rnn", {"NUMBA_OPT": "3"})[0] == "True"


def _argument_zoo() -> list:
    a = np.arange(12.0).reshape(3, 4)
    ro = a.copy()
    ro.flags.writeable = False
    unaligned = np.frombuffer(b"\0" + a.tobytes(), dtype=np.float64, count=12, offset=1)
    return [
        a,
        a.T,
        a[:, ::2],
        a[0],
        a[:, 0],
        ro,
        unaligned,
        np.ones((1, 5)),
        np.float64(2.0),
        np.zeros(()),
        a.astype(np.float32),
        np.arange(3),
        np.array([True]),
        1.5,
        3,
        True,
        np.int64(4),
        2**70,
        np.float32(1.0),
        "text",
        None,
    ]


@needs_numba
def test_the_kind_of_an_argument_is_what_numba_types_it_by():
    from numba import typeof

    from adcompile.jit import standalone

    for a in _argument_zoo():
        k = standalone.kind(a)
        if k is not None:
            assert k == standalone._kind_of_type(typeof(a)), a
        for b in _argument_zoo():  # the quick key tells apart what kind() tells apart
            if standalone.kind(b) != k:
                assert standalone.quick_kinds((a,)) != standalone.quick_kinds((b,)), (a, b)


RAISER = """
import numba
import numpy as np


@numba.njit(cache=True)
def f(x, k):
    if k > 3:
        raise ValueError("k is too large", k)
    return np.exp(x) * k
"""

LOAD_RAISER = """
import sys
from pathlib import Path
import numpy as np
from adcompile.jit import standalone
x = np.arange(3.0)
fn = standalone.load(Path({stem!r}), standalone.kinds((x, 2)), "raiser")
np.testing.assert_allclose(fn(x, 2), np.exp(x) * 2, rtol=1e-14)
assert "numba" not in sys.modules
try:
    fn(x, 5)
except ValueError as exc:
    assert exc.args == ("k is too large", 5)
print("ok")
"""


@needs_numba
def test_exported_machine_code_runs_and_raises_as_numba_does(tmp_path, monkeypatch):
    from adcompile.jit import standalone

    (tmp_path / "raiser.py").write_text(RAISER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "nc"))
    import raiser

    x = np.arange(3.0)
    raiser.f(x, 2)
    stem = tmp_path / "f"
    standalone.export(raiser.f, stem, set())
    [path] = tmp_path.glob("*.native")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", LOAD_RAISER.format(stem=str(stem))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[-1] == "ok"
    # written for another machine, or by other versions: not loaded
    import pickle

    record = pickle.loads(path.read_bytes())
    for field, value in [("machine", ("x", "y", "z")), ("versions", (0,))]:
        path.write_bytes(pickle.dumps(dict(record, **{field: value})))
        assert standalone.load(stem, standalone.kinds((x, 2)), "raiser") is None
    # refers to a symbol nothing provides: not loaded
    path.write_bytes(pickle.dumps(dict(record, externals=["no_such_symbol_anywhere"])))
    assert standalone.load(stem, standalone.kinds((x, 2)), "raiser") is None
    path.write_bytes(b"not a pickle")
    assert standalone.load(stem, standalone.kinds((x, 2)), "raiser") is None


@needs_numba
def test_without_numpys_functions_in_the_table_the_helpers_compute_or_refuse():
    from adcompile.jit import native
    from adcompile.jit.helpers import matmul, numpy_exp

    x = np.linspace(0.1, 2.0, 50).reshape(5, 10)
    np.testing.assert_allclose(matmul(x, x.T), x @ x.T, rtol=1e-12)  # (compiled with it)
    saved = list(native.TABLE)
    try:
        for i in range(native.SIZE):  # (as another numpy might leave it)
            native.TABLE[i] = None
        np.testing.assert_allclose(numpy_exp(x), np.exp(x), rtol=1e-14)
        with pytest.raises(AdCompileError, match="BLAS has no matrix product"):
            matmul(x, x.T)
    finally:
        for i, address in enumerate(saved):
            native.TABLE[i] = address
    np.testing.assert_allclose(matmul(x, x.T), x @ x.T, rtol=1e-12)


def two_layers(W, x, V):
    h = np.tanh(W @ x)
    o = V @ h
    return np.sum(o * o)


@needs_numba
def test_compiled_code_run_without_numpys_gemm_is_refused_at_a_product_line(cache_dir, monkeypatch):
    """Machine code compiled where numpy's BLAS had a gemm, run where the table has none
    (numpy changed under numba's cache, simulated by emptying the table's gemm slots):
    an error at the user's line of the gradient's first matrix product, saying which
    caches to delete."""
    from adcompile.jit import native

    # (numba's machine code: jit/kernel.py's cache is keyed by the table's slots, and
    # its code, compiled with a gemm, would call the emptied slot)
    monkeypatch.setenv("ADCOMPILE_KERNEL", "0")

    rng = np.random.default_rng(7)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(2, 3)))
    g = ad.grad(two_layers, wrt=(0, 2), backend="numba")
    want = g(*args)  # (compiled here, with the table's gemm)
    saved = {slot: native.TABLE[slot] for slot in native.GEMM_SLOTS.values()}
    errors = []
    try:
        for slot in saved:
            native.TABLE[slot] = None
        with pytest.raises(AdCompileError) as info:
            g(*args)
        errors.append(info.value)
        with pytest.raises(AdCompileError) as info:  # (the machine code numba exported)
            _exported_result(ad.grad, two_layers, (0, 2), args)
        errors.append(info.value)
    finally:
        for slot, address in saved.items():
            native.TABLE[slot] = address
    for err in errors:
        assert err.filename == __file__
        assert err.line.strip() == "h = np.tanh(W @ x)"
        assert "BLAS has no matrix product" in err.reason
        assert "__pycache__" in err.hint and str(cache_dir) in err.hint
    for a, b in zip(g(*args), want, strict=True):  # (the table restored: runs again)
        np.testing.assert_array_equal(a, b)
    exported = _exported_result(ad.grad, two_layers, (0, 2), args)
    for a, b in zip(exported, want, strict=True):
        np.testing.assert_array_equal(a, b)


NATIVE = """
import re
import numpy as np
import adcompile as ad


def model(W, x):
    h = np.tanh(W @ x.T)
    return np.sum(np.exp(-h) * np.log1p(h * h)) + np.sum(np.tanh(x @ W.T) @ W)


rng = np.random.default_rng(5)
W, x = rng.normal(size=(6, 5)) * 0.3, rng.normal(size=(300, 5))
g = ad.grad(model, wrt=(0, 1), backend="numba")
got = g(W, x)
want = ad.grad(model, wrt=(0, 1))(W, x)
same = all(np.allclose(a, b, rtol=1e-10, atol=0) for a, b in zip(got, want))
d = g._latest[0].dispatcher
hits = sum(d.stats.cache_hits.values()) if d else "exported"
calls = []
if not hits:  # (compiled here: the machine code's LLVM module, with the helpers')
    text = d.overloads[d.signatures[0]].library.get_llvm_str()
    calls = sorted(set(re.findall(r"declare [^@]*@([A-Za-z_][A-Za-z0-9_.]*)", text)))
    calls += ["the table"] * ("@adcompile_native_table" in text)
print(hits, same, *calls)
"""


@needs_numba
def test_numpys_loops_and_blas_are_called_directly_and_cached(tmp_path):
    # numpy's exp, tanh... and its BLAS are called through jit/native.py's table, not
    # in object mode nor through numba's np.dot (scipy's BLAS), and the machine code
    # run in another process, where numpy's functions are at other addresses, gives
    # the same numbers: exported (jit/standalone.py) or loaded from numba's cache
    script = tmp_path / "native_model.py"
    script.write_text(NATIVE)
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")  # (the helpers' too)
    runs = [
        subprocess.run(
            [sys.executable, str(script)],
            env=env | extra,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for extra in ({}, {}, {"NUMBA_OPT": "3"})  # (with a numba setting: through numba)
    ]
    compiled, exported, loaded = runs
    assert compiled[:2] == ["0", "True"] and loaded == ["1", "True"]
    assert exported == ["exported", "True"]
    assert "table" in compiled
    # (numba_xxgemm... are numba's calls of scipy's BLAS; PyObject_Call* object mode's)
    assert [c for c in compiled if c.startswith(("numba_xx", "PyObject_Call"))] == []


# ---------------------------------------------------------------------- the CLI


def test_show_prints_the_numba_code(tmp_path):
    bench = ROOT / "examples" / "benchmarks" / "heldout_bench.py"
    shapes = "Wx=32x10,Wh=32x32,bh=32x1,Wo=3x32,xs=50x10x8,target=3x8"
    out = subprocess.run(
        [sys.executable, "-m", "adcompile", "show", f"{bench}:tanh_rnn", "--wrt", "0,1,2,3"]
        + ["--shapes", shapes, "--backend", "numba"],
        env=dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", TERM="dumb"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '@numba.njit(cache=True, error_model="numpy")' in out
    assert "reduce_sum(dh_8, 1, True)" in out


# ------------------------------------------------------------------ random programs

FUZZ = {"compared": 0, "refused": 0, "exported": 0}


def teardown_module() -> None:
    if FUZZ["compared"] or FUZZ["refused"]:  # (shown with pytest -s)
        print(f"\nnumba random programs: {FUZZ}")


@needs_numba
@settings(
    max_examples=int(os.environ.get("ADCOMPILE_NUMBA_FUZZ_EXAMPLES", "8")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(program=fuzzgen.programs(("straight", "control", "containers", "calls")))
def test_random_programs_match_the_numpy_backend_or_are_refused_at_a_line(program, tmp_path):
    assume(program.specialise and not program.mutates and not program.rebind and not program.same)
    module, path = fuzzcheck.load(tmp_path, program.module())
    wrt = program.wrt if len(program.wrt) > 1 else program.wrt[0]
    try:
        want = ad.grad(module.f, wrt=wrt)(*program.fresh_args())
    except (AdCompileError, ArithmeticError, ValueError):
        reject()  # (the numpy backend's verdict is the fuzz suite's business)
    fast = ad.grad(module.f, wrt=wrt, backend="numba")
    try:
        got = fast(*program.fresh_args())
    except AdCompileError as exc:
        # refused: at a line of the program, saying what numba could not compile
        assert exc.filename == str(path), exc
        assert exc.lineno is not None and "numba" in exc.reason, exc
        FUZZ["refused"] += 1
        return
    for a, b in zip(leaves(got), leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # and the machine code numba exported, run as a process without numba runs it
    exported = _exported_result(ad.grad, module.f, wrt, program.fresh_args(), required=False)
    if exported is not None:
        for a, b in zip(leaves(exported), leaves(want), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        FUZZ["exported"] += 1
    FUZZ["compared"] += 1


@needs_numba
def test_export_writes_the_numpy_code():
    f, _hand, wrt, data = heldout_bench.WORKLOADS["seed-small"]
    g = ad.grad(f, wrt=wrt, backend="numba")
    g(*data())
    text = g.export()
    assert "numba" not in text and "def grad_sigmoid_net(" in text


def several_axes(x, y):
    clipped = np.clip(x, -0.5, 0.5) * np.abs(y)
    return np.sum(clipped) + np.mean(x * y, axis=(0, 1)).sum() + np.sum(x, axis=(0, 2)).sum()


@needs_numba
def test_reductions_over_several_axes_clip_and_abs():
    rng = np.random.default_rng(6)
    same_as_numpy(several_axes, (rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))), (0, 1))


def negative_axes(x):
    total = np.sum(x, axis=(-1, -2), keepdims=True)
    peak = np.max(x, axis=-1)
    low = np.min(x * x, axis=0, keepdims=True)
    return (
        np.sum(np.sin(x) * total) + np.sum(peak**2) + np.sum(low) + np.mean(x, axis=(0, -1)).sum()
    )


@needs_numba
def test_reductions_along_negative_axes_and_tuples_of_them():
    x = np.random.default_rng(7).normal(size=(3, 4, 5))
    fast = same_as_numpy(negative_axes, (x,), 0, mode="value_and_grad")
    value, _ = fast(x)
    np.testing.assert_allclose(value, negative_axes(x), rtol=1e-12)


REDUCED = """
import numba
@numba.njit
def along(x):
    return (
        reduce(x, 1, False), reduce(x, -1, True), reduce(x, (0, 2), False),
        reduce(x, (-1, -2), True), reduce(x, (0, 1, 2), False),
    )
"""


@needs_numba
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod"])
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_the_reduction_helpers_are_numpys_reductions(op, dtype):
    from adcompile.jit import helpers

    scope = {"reduce": getattr(helpers, f"reduce_{op}")}
    exec(REDUCED, scope)
    x = np.random.default_rng(8).normal(size=(3, 4, 5)) * 3
    x = x.astype(dtype)
    if dtype is np.float64:
        x[1, 2, 3] = np.nan  # (max and min propagate it, as numpy's do)
    fn = getattr(np, op)
    want = [
        fn(x, axis=1),
        fn(x, axis=-1, keepdims=True),
        fn(x, axis=(0, 2)),
        fn(x, axis=(-1, -2), keepdims=True),
        fn(x, axis=(0, 1, 2)),
    ]
    for got, expected in zip(scope["along"](x), want, strict=True):
        got = np.asarray(got)
        assert got.shape == np.shape(expected) and got.dtype == np.asarray(expected).dtype
        np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


@needs_numba
def test_the_largest_element_of_an_empty_axis_is_an_error_as_in_numpy():
    from adcompile.jit import helpers

    scope = {"reduce": helpers.reduce_max}
    exec(REDUCED, scope)
    with pytest.raises(ValueError, match="zero-size array"):
        scope["along"](np.zeros((3, 0, 2)))
    with pytest.raises(ValueError):
        np.max(np.zeros((3, 0, 2)), axis=1)


def names_a_helper(W, x):
    matmul = W @ x
    return np.sum(matmul * matmul)


def test_a_variable_named_like_a_helper_is_refused_at_its_line():
    g = ad.grad(names_a_helper, backend="numba")
    with pytest.raises(AdCompileError) as info:
        g(np.ones((2, 3)), np.ones((3, 2)))
    err = info.value
    assert err.filename == __file__ and err.line.strip() == "matmul = W @ x"
    assert "helper matmul" in err.reason and "rename 'matmul'" in err.hint


REPEATS = """
def grad_f(W0, b0, W1, b1, x, axis):
    # line 3: h = np.tanh(x @ W + b)
    h = np.tanh(matmul(x, W0) + b0)
    h_2 = np.tanh(matmul(h, W1) + b1)
    s = reduce_sum(h, axis, False) + reduce_sum(h_2, axis, False)
    t = reduce_sum(h, 0, False) * 2.0
    u = reduce_sum(h_2, 0, False) * 2.0
    return h_2 * h_2, s, t + u
"""


def test_an_expression_computed_twice_is_one_shared_function():
    from adcompile.jit.outline import outline

    (body,), shared = outline([REPEATS], {"np", "matmul", "reduce_sum"}, "@jit")
    assert shared[0].endswith(
        "@jit\ndef repeated_1(a, b, c):\n    return np.tanh(matmul(a, b) + c)\n"
    )
    assert "h = repeated_1(x, W0, b0)" in body and "h_2 = repeated_1(h, W1, b1)" in body
    # (an axis passed as a variable stays where it is: a parameter would not be a constant)
    assert "reduce_sum(h, axis, False) + reduce_sum(h_2, axis, False)" in body
    assert shared[1].endswith("def repeated_2(a):\n    return reduce_sum(a, 0, False) * 2.0\n")
    assert len(shared) == 2 and body.count("\n") == REPEATS.count("\n")


@needs_numba
def test_every_helper_the_translation_names_is_defined():
    from adcompile.jit import helpers
    from adcompile.jit.translate import HELPERS

    assert [n for n in HELPERS if not hasattr(helpers, n)] == []


def tanh_layers(W, x):
    h = np.tanh(W @ x)
    return np.sum(np.exp(-h) * np.log1p(h * h)) + np.sum(np.arctan(x))


@needs_numba
@pytest.mark.parametrize("batch", [1, 3, 300])
def test_numpys_own_functions_on_large_arrays(batch):
    # (from LOOP_SIZE elements numba's code calls numpy's loops of exp, tanh...; 8x1
    # and 5x1 arrays are under it)
    rng = np.random.default_rng(9)
    args = (rng.normal(size=(8, 5)) * 0.3, rng.normal(size=(5, batch)))
    fast = same_as_numpy(tanh_layers, args, (0, 1), mode="value_and_grad")
    np.testing.assert_allclose(fast(*args)[0], tanh_layers(*args), rtol=1e-12)
    assert "numpy_tanh(matmul(W, x), overwrite=True)" in fast.source


def transposed_operands(W, x, V):
    h = np.tanh(W @ x.T)  # (x.T: F-contiguous)
    z = V.T @ np.exp(h)  # (V.T too)
    s = (x @ W.T).T @ x  # (a transposed result; non-contiguous operands, which the
    # backend's code makes none of, in test_the_matrix_product_helper_is_numpys)
    return np.sum(np.log1p(z * z)) + np.sum(s * s)


@needs_numba
def test_matrix_products_of_transposed_and_strided_operands():
    rng = np.random.default_rng(11)
    args = (rng.normal(size=(6, 5)) * 0.3, rng.normal(size=(40, 5)), rng.normal(size=(6, 3)))
    same_as_numpy(transposed_operands, args, (0, 1, 2))


def vector_products(W, v, u):
    return np.sum(np.tanh(W @ v) @ W) + (v @ u) * np.exp(u @ v)


@needs_numba
def test_products_of_vectors_and_matrices():
    rng = np.random.default_rng(12)
    args = (rng.normal(size=(4, 7)), rng.normal(size=7), rng.normal(size=7))
    same_as_numpy(vector_products, args, (0, 1, 2))


def layers32(W, x):
    h = np.tanh(W @ x.T)
    return np.sum(np.exp(-h) * h)


@needs_numba
@pytest.mark.parametrize("batch", [1, 200])
def test_float32_gradients_are_numpys(batch):
    rng = np.random.default_rng(13)
    W, x = (rng.normal(size=(8, 5)) * 0.3, rng.normal(size=(batch, 5)))
    W32, x32 = W.astype(np.float32), x.astype(np.float32)
    fast = ad.grad(layers32, wrt=(0, 1), backend="numba")(W32, x32)
    want = ad.grad(layers32, wrt=(0, 1))(W32, x32)
    exact = ad.grad(layers32, wrt=(0, 1))(W, x)
    for a, b, c in zip(fast, want, exact, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-5)


def _operands(rng, shape, dtype):
    """An array of ``shape`` as numpy may hand it over: C- and F-contiguous, a strided
    view, a reversed one."""
    big = rng.normal(size=tuple(2 * n + 1 for n in shape)).astype(dtype)
    c = np.ascontiguousarray(big[tuple(slice(0, n) for n in shape)])
    out = [c, np.asfortranarray(c), big[tuple(slice(1, 2 * n + 1, 2) for n in shape)]]
    out.append(c[::-1] if len(shape) == 1 else c[:, ::-1])
    return out


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "shapes", [((3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 5)), ((4,), (4,)), ((3, 0), (0, 2))]
)
def test_the_matrix_product_helper_is_numpys(shapes, dtype):
    from adcompile.jit.helpers import matmul

    rng = np.random.default_rng(14)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for a in _operands(rng, shapes[0], dtype):
        for b in _operands(rng, shapes[1], dtype):
            got = matmul(a, b)
            assert np.shape(got) == np.shape(a @ b)
            assert np.ndim(got) == 0 or got.dtype == dtype  # (a number: a Python float)
            np.testing.assert_allclose(got, a @ b, rtol=rtol, atol=1e-6)
    with pytest.raises(ValueError):
        matmul(np.ones((3, 4), dtype), np.ones((5, 2), dtype))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_vector_function_helpers_are_numpys(dtype):
    from adcompile.jit import helpers
    from adcompile.jit.native import UFUNCS

    rng = np.random.default_rng(15)
    x = rng.uniform(0.1, 0.9, size=(7, 30)).astype(dtype)
    for name in UFUNCS:
        want = getattr(np, name)(x + (name == "arccosh"))  # (arccosh: from 1)
        for a in (x, x.T, x[:, ::3], x[:2, :3]):  # (C, F, strided, under LOOP_SIZE)
            a = a + (name == "arccosh")
            got = getattr(helpers, f"numpy_{name}")(a)
            assert got.dtype == dtype
            np.testing.assert_allclose(
                got, getattr(np, name)(a), rtol=1e-6 if dtype == np.float32 else 1e-14
            )
        np.testing.assert_array_equal(
            getattr(helpers, f"numpy_{name}")(x + (name == "arccosh")), want
        )


def helper_parameter(matmul, x):
    return np.sum(np.tanh(matmul @ x))


def test_a_parameter_named_like_a_helper_is_refused():
    g = ad.grad(helper_parameter, backend="numba")
    with pytest.raises(AdCompileError) as info:
        g(np.ones((2, 3)), np.ones((3, 2)))
    assert "parameter 'matmul'" in info.value.reason and info.value.filename == __file__


matmul = np.ones(2)  # (a module global named like a helper, read below)


def reads_a_global_named_like_a_helper(W, x):
    return np.sum((W @ x) * matmul)


def test_a_global_array_named_like_a_helper_is_refused_at_its_line():
    g = ad.grad(reads_a_global_named_like_a_helper, backend="numba")
    with pytest.raises(AdCompileError) as info:
        g(np.ones((2, 3)), np.ones((3, 2)))
    err = info.value
    assert err.filename == __file__ and err.line.strip() == "return np.sum((W @ x) * matmul)"
    assert "helper matmul" in err.reason


def sum_over_the_only_axis(x0):
    v = np.sum(x0, axis=0)
    return np.sum(v)


@needs_numba
@pytest.mark.parametrize("n", [1, 3])
def test_a_sum_over_every_axis_by_name_spreads_back(n):
    # (the cotangent of np.sum(x, axis=0) of a 1-d x is 0-d: the helper that spreads it
    # back once wrote an index of no positions)
    same_as_numpy(sum_over_the_only_axis, (np.arange(1.0, n + 1),))
