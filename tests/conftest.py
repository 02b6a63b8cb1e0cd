"""Test-suite options: ``--fuzz-long`` runs the random-program fuzzing at length."""

from __future__ import annotations

import os


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-long",
        action="store_true",
        default=False,
        help="check tens of thousands of random programs in tests/test_fuzz.py instead of a "
        "few hundred (also: ADCOMPILE_FUZZ_LONG=1; ADCOMPILE_FUZZ_EXAMPLES=N sets how many)",
    )


def pytest_configure(config):
    # The rules of optional libraries (scipy) load once the library is imported; load
    # those installed now, so that every test sees the same records whatever ran first.
    from adcompile import rules

    rules.load_optional(import_libraries=True)
    if config.getoption("--fuzz-long"):
        os.environ["ADCOMPILE_FUZZ_LONG"] = "1"  # read by tests/test_fuzz.py at import


def pytest_terminal_summary(terminalreporter):
    import sys

    fuzzcheck = sys.modules.get("fuzzcheck")
    for title, name in (("random programs", "STATS"), ("random programs, hvp", "HVP_STATS")):
        stats = getattr(fuzzcheck, name, None)
        if not stats:
            continue
        terminalreporter.section(title)
        for key, count in sorted(
            stats.items(), key=lambda kv: (not kv[0].startswith("checked"), kv[0])
        ):
            terminalreporter.write_line(f"{count:8d}  {key}")
