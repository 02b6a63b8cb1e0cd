"""Random programs: adcompile's gradient against finite differences and autograd.

Each example is a whole module drawn by ``fuzzgen.programs`` (helper functions
and an entry ``f`` over arrays of random shapes, in the language adcompile
accepts), written to a file, imported, differentiated in every public mode
(grad, value_and_grad, vjp), and checked by ``fuzzcheck.check_program``. A
failure prints the program and a ready-made regression test for
``tests/test_fuzz_regressions.py``. Besides the suites of the base features,
each extension of the generator (``fuzzgen.EXTENSIONS``) has a suite of its
own; ``ADCOMPILE_FUZZ_TRY=tag,...`` (or ``all``) lets it write what
``fuzzgen.AVOID`` steers clear of (the known bugs).

The default run checks a few hundred programs, derandomized so that CI sees the
same ones every time. ``pytest tests/test_fuzz.py --fuzz-long`` (or
``ADCOMPILE_FUZZ_LONG=1``) checks tens of thousands of new ones
(``ADCOMPILE_FUZZ_EXAMPLES`` sets the total; ``--hypothesis-seed`` fixes them;
``ADCOMPILE_FUZZ_SHRINK=0`` reports a failing program as drawn, without shrinking it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import fuzzcheck
import fuzzgen
import pytest
from hypothesis import HealthCheck, Phase, given, note, reject, settings

from adcompile.rules import RULES

LONG = os.environ.get("ADCOMPILE_FUZZ_LONG", "") not in ("", "0")
TOTAL = int(os.environ.get("ADCOMPILE_FUZZ_EXAMPLES", "25000"))
SHRINK = os.environ.get("ADCOMPILE_FUZZ_SHRINK", "1") not in ("", "0")

# (features, programs in the default run, fraction of a long run); each program is
# compiled and checked in three modes, so the default run stays at a few hundred
SUITES = {
    "straight_line": (("straight",), 140, 0.2),
    "control_flow": (("straight", "control"), 100, 0.2),
    "containers": (("straight", "control", "containers"), 70, 0.2),
    "helper_calls": (("straight", "control", "calls"), 70, 0.2),
    "everything": (fuzzgen.FEATURES, 70, 0.1),
    "in_place": ((*fuzzgen.FEATURES, "inplace"), 50, 0.1),
}
# one suite per extension of the generator (fuzzgen.EXTENSIONS), over everything else
for _name in fuzzgen.EXTENSIONS:
    SUITES[_name] = ((*fuzzgen.FEATURES, _name), 20, 0.05)


def fuzz_settings(suite: str):
    _, default, share = SUITES[suite]
    common = dict(
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )
    if not SHRINK:
        common["phases"] = [p for p in Phase if p is not Phase.shrink]
    if LONG:
        return settings(max_examples=max(1, int(TOTAL * share)), derandomize=False, **common)
    return settings(max_examples=default, derandomize=True, **common)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


CONSTRUCTS = {
    "if": r"^\s*if ",
    "elif/else": r"^\s*(elif .*|else):$",
    "for range": r"^\s*for .* in range\(",
    "for over a list": r"^\s*for .* in (enumerate|zip)?\(?\w+\)?:$",
    "while": r"^\s*while ",
    "break/continue": r"^\s*(break|continue)$",
    "early return": r"^\s{8,}return ",
    "augmented assignment": r"^\s*\w+ [-+*/]= ",
    "tuple assignment": r"^\s*\w+, \w+ = ",
    "append": r"\.append\(",
    "helper call": r"\bh\d\(",
    "slice": r"\[[^\]]*:",
    "conditional expression": r" if .* else ",
}


def run(program: fuzzgen.Program, workdir: Path, suite: str) -> None:
    note(f"as a regression test for tests/test_fuzz_regressions.py:\n\n{program.regression_test()}")
    try:
        verdict = fuzzcheck.check_program(
            workdir,
            program.module(),
            program.fresh_args(),
            program.wrt,
            program.module("autograd.numpy") if program.autograd_ok else None,
            program.mutates,
            program.specialise,
            same=program.same,
            rebind=program.rebind,
            names=program.names,
            keywords=program.keywords,
        )
    except fuzzcheck.Rejected:
        reject()
    stats = fuzzcheck.STATS
    stats["checked: programs"] += 1
    stats[f"checked: {suite}"] += 1
    stats[f"oracle: {verdict}"] += 1
    for name, pattern in CONSTRUCTS.items():
        if re.search(pattern, program.body, re.M):
            stats[f"programs with: {name}"] += 1
    for tag in program.tags:
        stats[f"programs with: {tag}"] += 1


@fuzz_settings("straight_line")
@given(program=fuzzgen.programs(SUITES["straight_line"][0]))
def test_straight_line_programs(program, workdir):
    run(program, workdir, "straight_line")


@fuzz_settings("control_flow")
@given(program=fuzzgen.programs(SUITES["control_flow"][0]))
def test_control_flow_programs(program, workdir):
    run(program, workdir, "control_flow")


@fuzz_settings("containers")
@given(program=fuzzgen.programs(SUITES["containers"][0]))
def test_programs_over_lists_tuples_and_dicts(program, workdir):
    run(program, workdir, "containers")


@fuzz_settings("helper_calls")
@given(program=fuzzgen.programs(SUITES["helper_calls"][0]))
def test_programs_calling_helper_functions(program, workdir):
    run(program, workdir, "helper_calls")


@fuzz_settings("everything")
@given(program=fuzzgen.programs(SUITES["everything"][0]))
def test_programs_with_everything(program, workdir):
    run(program, workdir, "everything")


@fuzz_settings("in_place")
@given(program=fuzzgen.programs(SUITES["in_place"][0]))
def test_programs_updating_shared_arrays_in_place(program, workdir):
    """``v += ...`` where v shares memory with other variables: Python writes through
    to them; adcompile must get that right or refuse with a located error."""
    run(program, workdir, "in_place")


@pytest.mark.parametrize("extension", list(fuzzgen.EXTENSIONS))
def test_programs_with_each_extension(extension, workdir):
    """Results by name, custom rules, domain edges, array builders, lists of tuples,
    lists under two names, and/or values, f(a, a), rebound globals, comprehensions,
    lambdas, loop-only variables and statements kept for their effect, element
    assignment, fft, splits, parameter styles, random draws, closures, filtered, dict
    and nested comprehensions, bound methods, dataclass and namedtuple parameters,
    argument validation and logging, user calls in conditions, Python idioms, wrt
    inside *args and on keyword-only parameters, isinstance branches, function
    parameters and tuples of functions, meshgrid, enumerate with a start, reversed and
    loops over map: each with everything else."""
    features = SUITES[extension][0]

    @fuzz_settings(extension)
    @given(program=fuzzgen.programs(features))
    def check(program):
        run(program, workdir, extension)

    check()


def test_the_generator_writes_every_rule_of_the_registry():
    """Every adjoint rule that adcompile ships is one the generator writes calls of."""
    shipped = {
        key: rule
        for key, rule in RULES.items()
        if rule.loc is not None
        and Path(rule.loc.filename).parent.name == "rules"
        # (the random programs name numpy only: the rules of optional libraries, scipy,
        # are checked by tests/test_rules_scipy.py)
        and not Path(rule.loc.filename).stem.startswith("scipy_")
        # (nor does a user call the runtime helpers: their rules differentiate generated
        # code, checked by tests/test_rules_runtime.py and tests/test_hvp_fuzz.py)
        and Path(rule.loc.filename).stem not in ("runtime_rules", "element_writes")
    }
    covered = {id(p) for p in fuzzgen.COVERED}
    missing = sorted(rule.name for key, rule in shipped.items() if key not in covered)
    assert not missing, (
        f"no generator for the rules of {', '.join(missing)}: add them to tests/fuzzgen.py "
        "(and to COVERED)"
    )
