"""docs/errors.md is what docs/tools/make_error_catalogue.py writes today: every
refusal in the catalogue still happens, with the message the page shows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "tools" / "make_error_catalogue.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_error_catalogue", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_error_catalogue_is_up_to_date():
    script = load_script()
    text = script.render()  # raises if an entry is accepted or is an internal error
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert page == text, (
        "docs/errors.md is out of date: run python docs/tools/make_error_catalogue.py"
    )


def test_every_entry_has_a_location_and_a_hint():
    text = load_script().render()
    blocks = text.split("```text\n")[1:]
    assert len(blocks) == len(load_script().ENTRIES)
    for block in blocks:
        lines = block.split("```")[0].splitlines()
        assert lines[0].startswith(">>> ")
        assert lines[-1].startswith("hint: "), block
        head = lines[1]
        # located (file:line:col) unless the object has no source at all
        assert (
            head.startswith("example.py:")
            or "Python function" in head
            or ("source" in head or "compiled derivative" in head)
        ), head
