"""Random programs in forward mode: the jvp of each against its gradient.

The programs are those of ``test_fuzz.py`` (``fuzzgen.programs``: helper calls,
loops, branches, lists, tuples and dicts), whose gradients that file checks against
finite differences and autograd. Here the jvp along a random direction must give
``f``'s value and the gradient's inner product with the direction, for every
program whose gradient adcompile computes. ``--fuzz-long`` (or
``ADCOMPILE_FUZZ_LONG=1``) checks 10,000 new programs (``ADCOMPILE_FUZZ_EXAMPLES`` sets
how many), a fifth of them assigning into array elements.
"""

from __future__ import annotations

import os

import fuzzcheck
import fuzzgen
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, reject, settings

import adcompile as ad
from adcompile.rules.registry import primitive_name
from adcompile.rules.tangents import tangent_rule

CHECKED: list = []
LONG = os.environ.get("ADCOMPILE_FUZZ_LONG", "") not in ("", "0")
EXAMPLES = int(os.environ.get("ADCOMPILE_FUZZ_EXAMPLES", "10000")) if LONG else 0
FEATURES = tuple(f for f in fuzzgen.FEATURES if f != "inplace")


def _random_like(x, rng):
    if isinstance(x, dict):
        return {k: _random_like(v, rng) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_random_like(v, rng) for v in x)
    if isinstance(x, float):
        return float(rng.normal())
    return rng.normal(size=np.shape(x))


def _settings(default: int, share: float):
    """``default`` programs, always the same ones; in a long run, ``share`` of
    ``EXAMPLES`` new ones, unshrunk (shrinking is slow here)."""
    return settings(
        max_examples=max(1, int(EXAMPLES * share)) if LONG else default,
        derandomize=not LONG,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate] if LONG else list(Phase),
    )


@_settings(120, 0.8)
@given(program=fuzzgen.programs(FEATURES))
def test_jvp_is_the_gradient_along_a_direction(program, tmp_path_factory):
    check_jvp(program, tmp_path_factory)


@_settings(40, 0.2)
@given(program=fuzzgen.programs((*FEATURES, "element-assign")))
def test_jvp_of_programs_assigning_into_arrays(program, tmp_path_factory):
    # forward mode writes into the tangent of an array in place where it owns it
    check_jvp(program, tmp_path_factory)


@_settings(30, 0.1)
@given(program=fuzzgen.programs((*FEATURES, "signatures")))
def test_jvp_of_programs_with_other_signatures(program, tmp_path_factory):
    # wrt naming an entry inside *args or a keyword-only parameter, function parameters
    check_jvp(program, tmp_path_factory)


@_settings(30, 0.1)
@given(program=fuzzgen.programs((*FEATURES, "iteration")))
def test_jvp_of_programs_with_iteration_idioms(program, tmp_path_factory):
    check_jvp(program, tmp_path_factory)


def check_jvp(program, tmp_path_factory) -> None:
    """The jvp of ``program``'s f along a random direction is the gradient's inner
    product with it (programs whose gradient adcompile refuses are skipped)."""
    directory = tmp_path_factory.mktemp("forward_fuzz")
    module, path = fuzzcheck.load(directory, program.module())
    try:
        args = program.fresh_args()
        wrt = tuple(program.wrt)
        names = wrt if program.names is None else program.names

        def spread(fn):  # (keyword-only parameters passed by keyword)
            return fuzzcheck.by_keyword(fn, len(args) - len(program.keywords), program.keywords)

        f = spread(module.f)
        with np.errstate(all="ignore"):
            try:
                value = float(f(*program.fresh_args()))
                grads = spread(ad.grad(module.f, wrt=names))(*program.fresh_args())
            except (ad.AdCompileError, Exception):
                reject()
            g = fuzzcheck.flat(list(grads))
            if not np.isfinite(value) or not np.all(np.isfinite(g)) or abs(value) > 1e4:
                reject()
            rng = np.random.default_rng(0)
            tangents = tuple(_random_like(args[i], rng) for i in wrt)
            # every primitive the generator draws has a tangent rule: no refusal here
            got_value, tangent = spread(ad.jvp(module.f, wrt=names))(*args, tangent=tangents)
        CHECKED.append(1)
        t = fuzzcheck.flat(list(tangents))
        expected = float(np.dot(g, t))
        assert np.isclose(float(got_value), value, rtol=1e-12, atol=1e-300), (got_value, value)
        scale = float(np.dot(np.abs(g), np.abs(t))) + 1e-300
        assert abs(float(tangent) - expected) <= 1e-8 * scale + 1e-12, (
            f"jvp {float(tangent)!r} but grad . t = {expected!r}\n{program.module()}"
        )
    finally:
        fuzzcheck.forget(module, path)


def test_the_random_programs_were_checked():
    # (runs after the test above, in file order): most programs reach the comparison
    if not CHECKED:
        pytest.skip("counts the programs of the test above; run the whole file")
    assert len(CHECKED) >= 60, f"only {len(CHECKED)} random programs were compared"


def test_every_function_the_generator_draws_has_a_tangent_rule():
    # so the jvp of every random program is compared, none refused for want of a rule
    missing = sorted(primitive_name(fn) for fn in fuzzgen.COVERED if tangent_rule(fn) is None)
    assert not missing, f"the generator draws functions without a tangent rule: {missing}"
