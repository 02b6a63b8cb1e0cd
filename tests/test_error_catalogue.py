"""docs/errors.md is what docs/tools/make_error_catalogue.py writes today: every
refusal in the catalogue still happens, with the message the page shows."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

from helpers import generated_names

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


def test_no_message_names_a_generated_variable():
    """The reason and hint of every refusal speak of the user's code: no temporary or
    renamed version of a variable that the compiler made up (tests/helpers.py)."""
    script = load_script()
    with tempfile.TemporaryDirectory() as tmp:
        for i, (_, title, source, call) in enumerate(script.ENTRIES):
            text = script.message(source, call, Path(tmp), i)
            said = [
                line
                for line in text.splitlines()
                if ": error: " in line or line.startswith(("error: ", "hint: "))
            ]
            found = generated_names("\n".join(said), script.module_text(source))
            assert not found, f"{title}: {found}\n{text}"
