"""Installing the package: what a user sees when they follow the README."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    not os.environ.get("ADCOMPILE_VENV_TESTS"),
    reason="creates a virtual environment and installs into it: set ADCOMPILE_VENV_TESTS=1",
)
def test_an_editable_install_prints_no_warning(tmp_path):
    """`pip install -e .` (the README's command) builds with setuptools' plain .pth
    strategy, which warns of nothing; the import-hook strategy printed a
    BuildBackendWarning on every install."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean)
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-e", str(ROOT)],
        capture_output=True,
        text=True,
        env=clean,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "BuildBackendWarning" not in output, output
    assert "Editable installation" not in output, output
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import adcompile, sys; print(adcompile.__file__)"],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    assert Path(check.stdout.strip()).resolve() == ROOT / "adcompile" / "__init__.py"
