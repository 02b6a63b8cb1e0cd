"""The seed benchmark script runs, checks the two gradients agree, and writes its JSON.

Timings are not asserted here (a test machine's load makes them meaningless); run
``python examples/benchmarks/seed_bench.py`` for the numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_seed_bench_quick_run_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "benchmarks" / "seed_bench.py"),
            "--quick",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "compiled / hand" in done.stdout
    res = json.loads(out.read_text())
    assert [r["size"] for r in res["sizes"]] == ["small", "large"]
    for r in res["sizes"]:
        assert r["compiled_s"] > 0 and r["hand_s"] > 0 and r["forward_s"] > 0
        assert r["ratio"] == r["compiled_s"] / r["hand_s"]
    assert 0 < res["compile_s"] < 5
