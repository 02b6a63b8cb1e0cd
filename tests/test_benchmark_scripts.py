"""The benchmark scripts run, check their gradients, and write their JSON.

Timings are not asserted (a test machine's load makes them meaningless); the scripts
are run on their smallest settings, with only adcompile and the hand-written backward
(the other systems are optional). What is asserted is what a broken compiler would
break: every workload's compiled gradient agrees with its hand-written backward (the
script refuses to time a system whose gradient differs), and the results have the
shape ``docs/performance.md`` is written from.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(script, *args, timeout=600):
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bench_checks_and_times_adcompile_against_the_hand_written_backward(tmp_path):
    out = tmp_path / "bench.json"
    workloads = "seed-small,mlp,rnn,chain"
    stdout = run(
        EXAMPLES / "benchmarks" / "bench.py",
        "--quick",
        "--systems",
        "adcompile,hand",
        "--workloads",
        workloads,
        "--json",
        str(out),
    )
    assert "adcompile's performance goals" in stdout
    assert "issue" not in stdout.lower()
    res = json.loads(out.read_text())
    assert [w["workload"] for w in res["workloads"]] == workloads.split(",")
    for w in res["workloads"]:
        assert w["failed"] == {}, w["failed"]  # every gradient matched the reference
        ad, hand = w["systems"]["adcompile"], w["systems"]["hand"]
        assert ad["max_rel_error"] < 1e-7
        assert ad["ratio"] == ad["grad_s"] / hand["grad_s"]
        assert ad["over_forward"] == ad["grad_s"] / w["forward_s"]
        assert ad["first_call_s"] > 0 and ad["generated_s"] > 0
    assert {t["target"].split(" ")[0] for t in res["targets"]} >= {"adcompile", "first"}


def test_bench_workloads_hand_written_backwards_match_finite_differences():
    sys.path.insert(0, str(EXAMPLES / "benchmarks"))
    try:
        import numpy as np
        import workloads as W

        from adcompile.checking import numeric_grad

        cases = [
            (W.seed_loss, W.seed_hand, W.seed_data(3, 4, 2, 5), 4),
            (W.rnn_loss, W.rnn_hand, W.rnn_data(steps=3, hidden=4, n_in=3, batch=2), 5),
            (W.chain, W.chain_hand, W.chain_data(), 2),
        ]
        for f, hand, args, n in cases:
            got = hand(*args)
            for i in range(n):
                fd = numeric_grad(f, list(args), i)
                np.testing.assert_allclose(got[i], fd, rtol=1e-5, atol=1e-8)
        # the MLP's list of (W, b): perturb each array of the list in place
        layers, Wo, bo, X, Y = W.mlp_data(depth=3, width=4, n_in=3, n_classes=3, batch=2)
        dlayers, dWo, dbo = W.mlp_hand(layers, Wo, bo, X, Y)
        np.testing.assert_allclose(dWo, numeric_grad(W.mlp_loss, [layers, Wo, bo, X, Y], 1))
        for (dWl, dbl), (Wl, bl) in zip(dlayers, layers):
            for d, a in ((dWl, Wl), (dbl, bl)):
                fd = np.zeros_like(a)
                for k in range(a.size):
                    old = a.flat[k]
                    a.flat[k] = old + 1e-6
                    hi = W.mlp_loss(layers, Wo, bo, X, Y)
                    a.flat[k] = old - 1e-6
                    lo = W.mlp_loss(layers, Wo, bo, X, Y)
                    a.flat[k] = old
                    fd.flat[k] = (hi - lo) / 2e-6
                np.testing.assert_allclose(d, fd, rtol=1e-5, atol=1e-8)
    finally:
        sys.path.remove(str(EXAMPLES / "benchmarks"))


def test_compile_time_fits_a_line_through_small_sizes(tmp_path):
    out = tmp_path / "compile.json"
    stdout = run(
        EXAMPLES / "benchmarks" / "compile_time.py",
        "--quick",
        "--sizes",
        "5,10,20",
        "--json",
        str(out),
    )
    assert "per statement" in stdout
    res = json.loads(out.read_text())
    for shape in ("straight", "loop"):
        sizes = res["shapes"][shape]["sizes"]
        assert [s["statements"] for s in sizes] == [5, 10, 20]
        assert all(s["compile_s"] > 0 and s["generated_lines"] > 0 for s in sizes)
        assert res["shapes"][shape]["fit"]["b_s"] > 0


def test_backprop_vs_finite_differences_measures_and_estimates(tmp_path):
    out = tmp_path / "fd.json"
    run(
        EXAMPLES / "backprop_vs_finite_differences.py",
        "--widths",
        "2,8",
        "--full-fd",
        "100",
        "--json",
        str(out),
    )
    rows = json.loads(out.read_text())["rows"]
    assert [r["fd_estimated"] for r in rows] == [False, True]  # 58 and 250 parameters
    assert rows[0]["fd_vs_backprop_max_abs_diff"] < 1e-6
    for r in rows:
        assert r["fd_over_forward"] > r["params"]  # at least 2 passes per parameter, roughly
        assert r["backprop_over_forward"] < r["fd_over_forward"]


def test_checkpoint_bench_checks_every_schedule_against_no_checkpointing():
    stdout = run(
        EXAMPLES / "benchmarks" / "checkpoint_bench.py",
        "--steps",
        "20",
        "--hidden",
        "4",
        "--batch",
        "2",
        "--repeat",
        "1",
    )
    rows = [line.split()[0] for line in stdout.splitlines()[2:]]
    assert rows == ["None", "sqrt", "2", "4", "8", "16", "20"]


def test_rnn_assign_checks_its_gradient_and_times_both_lengths(tmp_path):
    out = tmp_path / "rnn_assign.json"
    stdout = run(EXAMPLES / "benchmarks" / "rnn_assign.py", "--quick", "--json", str(out))
    assert "gradients agree" in stdout
    res = json.loads(out.read_text())
    assert res["max_rel_error"] < 1e-8
    assert res["ratio"] == res["adcompile_s"] / res["hand_s"]
    assert res["growth_2T"] == res["adcompile_2T_s"] / res["adcompile_s"]


def test_library_bench_checks_and_times_the_library_workloads(tmp_path):
    out = tmp_path / "library.json"
    stdout = run(EXAMPLES / "benchmarks" / "library_bench.py", "--quick", "--json", str(out))
    assert "target: at most" in stdout
    res = json.loads(out.read_text())
    assert [w["workload"] for w in res["workloads"]] == ["gp", "attention", "xent"]
    for w in res["workloads"]:
        assert w["max_rel_error"] < 1e-7  # the script refuses to time a wrong gradient
        assert w["slope_rel_error"] < 1e-6  # (and one that finite differences contradict)
        low, high = w["ratio_quartiles"]  # the median over rounds of the paired ratios
        assert 0 < low <= w["ratio"] <= high


def test_library_bench_hand_written_backwards_match_finite_differences():
    sys.path.insert(0, str(EXAMPLES / "benchmarks"))
    try:
        import library_bench as L
        import numpy as np

        from adcompile.checking import numeric_grad

        cases = [
            (L.gp_nll, L.gp_hand, L.gp_data(n=6), 3),
            (L.attention, L.attention_hand, L.attention_data(tokens=4, width=3), 3),
            (L.xent, L.xent_hand, L.xent_data(batch=5, features=3, classes=4), 2),
        ]
        for f, hand, args, n in cases:
            got = hand(*args)
            for i in range(n):
                fd = numeric_grad(f, list(args), i)
                np.testing.assert_allclose(got[i], fd, rtol=1e-5, atol=1e-8)
    finally:
        sys.path.remove(str(EXAMPLES / "benchmarks"))


def test_bench_install_hints_name_no_pinned_or_local_version():
    """What bench.py tells a user to install for a system it skips: a plain package
    name (PyTorch's CPU index included), never a version pinned to one machine's
    wheel (``torch==2.x+cpu``)."""
    sys.path.insert(0, str(EXAMPLES / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(
            "bench_hints", EXAMPLES / "benchmarks" / "bench.py"
        )
        bench = importlib.util.module_from_spec(spec)
        sys.modules["bench_hints"] = bench  # its dataclasses look their module up
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(EXAMPLES / "benchmarks"))
        sys.modules.pop("bench_hints", None)
    hints = {s.key: s.install for s in bench.SYSTEMS if s.module is not None}
    assert {"autograd", "torch", "jax", "tangent"} <= set(hints), hints
    for key, hint in hints.items():
        assert hint.startswith("pip install "), (key, hint)
        assert not re.search(r"==|\+(cpu|cu)|\.whl|/home/|/root/", hint), (key, hint)
    text = (EXAMPLES / "benchmarks" / "bench.py").read_text(encoding="utf-8")
    assert not re.search(r"torch\s*==|torch-[0-9]", text)


def test_hvp_bench_checks_every_hvp_and_reports_the_ratios():
    # adcompile alone (autograd and torch are optional), the shortest timing: the
    # script refuses to time an hvp that differs from differences of the gradient
    stdout = run(
        EXAMPLES / "benchmarks" / "hvp_bench.py", "--quick", "--budget", "0", "--no-others"
    )
    assert stdout.count("hvp / grad <= 4:") == 2
    errors = [float(line.split()[-1]) for line in stdout.splitlines() if "error vs" in line]
    assert len(errors) == 2 and max(errors) < 1e-6
    assert "issue" not in stdout.lower()


def test_the_held_out_benchmark_checks_every_gradient_and_prints_time_and_memory():
    stdout = run(EXAMPLES / "benchmarks" / "heldout_bench.py", "--quick")
    rows = [line.split()[0] for line in stdout.splitlines()[1:-1]]
    assert rows == ["seed-small", "seed-large", "deep-mlp", "rnn", "scalar"], stdout
    assert "× time" in stdout and "× mem" in stdout


def test_backends_bench_checks_and_times_each_installed_backend(tmp_path):
    import os

    out = tmp_path / "backends.json"
    args = ["--quick", "--workloads", "scalar", "--no-first-call", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "benchmarks" / "backends_bench.py"), *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=dict(os.environ, ADCOMPILE_CACHE_DIR=str(tmp_path / "cache")),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    step = json.loads(out.read_text())["scalar"]["step"]
    assert {"hand", "numpy"} <= step.keys()
    if importlib.util.find_spec("numba") is not None:
        assert "numba" in step  # (a system whose gradient differs is left out)
