"""Random programs, second order: the hvp of each against differences of its gradient.

The programs are those of ``test_fuzz.py`` (``fuzzgen.programs``: helper calls, loops,
branches, lists, tuples and dicts). For each one whose gradient adcompile computes,
``fuzzcheck.check_hvp`` compares ``hvp(f)`` along a random vector with central
differences of the compiled gradient. adcompile may refuse a program's second
derivative (a runtime helper without rules of its own): refusals are counted, and
must stay rare (one in twenty at most); a wrong number fails. The counts are printed
at the end of the run. ``--fuzz-long`` (or
``ADCOMPILE_FUZZ_LONG=1``) checks 10,000 new programs (``ADCOMPILE_FUZZ_EXAMPLES``
sets how many).
"""

from __future__ import annotations

import os

import fuzzcheck
import fuzzgen
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, reject, settings

import adcompile as ad

VERDICTS: list[str] = []
LONG = os.environ.get("ADCOMPILE_FUZZ_LONG", "") not in ("", "0")
EXAMPLES = int(os.environ.get("ADCOMPILE_FUZZ_EXAMPLES", "10000")) if LONG else 80
FEATURES = tuple(f for f in fuzzgen.FEATURES if f != "inplace")


def hvp_settings(share: float):
    return settings(
        max_examples=max(1, int(EXAMPLES * share)),
        derandomize=not LONG,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate],  # (shrinking is slow here)
    )


def check(program, tmp_path_factory) -> None:
    directory = tmp_path_factory.mktemp("hvp_fuzz")
    module, path = fuzzcheck.load(directory, program.module())
    try:
        f = module.f
        wrt = tuple(program.wrt)
        with np.errstate(all="ignore"):
            try:
                value = float(f(*program.fresh_args()))
                grads = ad.grad(f, wrt=wrt)(*program.fresh_args())
            except Exception:
                reject()
            g = fuzzcheck.flat(list(grads))
            if not np.isfinite(value) or not np.all(np.isfinite(g)) or abs(value) > 1e4:
                reject()
        try:
            VERDICTS.append(fuzzcheck.check_hvp(f, program.fresh_args(), wrt))
        except fuzzcheck.Rejected:
            reject()
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{program.module()}") from None
    finally:
        fuzzcheck.forget(module, path)


@hvp_settings(0.8)
@given(program=fuzzgen.programs(FEATURES))
def test_hvp_is_the_derivative_of_the_gradient(program, tmp_path_factory):
    check(program, tmp_path_factory)


@hvp_settings(0.2)
@given(program=fuzzgen.programs((*FEATURES, "element-assign")))
def test_hvp_of_programs_assigning_into_array_elements(program, tmp_path_factory):
    """The gradient writes into the arrays it owns in place; forward mode over it
    writes the tangents the same way (x[i] = v, rows written by a loop, masks)."""
    check(program, tmp_path_factory)


def test_most_random_programs_have_a_checked_hvp():
    # (runs after the test above, in file order)
    if not VERDICTS:
        pytest.skip("counts the programs of the test above; run the whole file")
    checked = VERDICTS.count("hvp")
    assert checked >= 30, f"only {checked} hvps checked; refusals: {fuzzcheck.HVP_STATS}"
    # refusals are rare (about 1 in 200 on a 1,000-program run; most left are
    # operations without second-order rules, such as np.linalg.eig's adjoint)
    assert VERDICTS.count("refused") * 20 <= checked, fuzzcheck.HVP_STATS
