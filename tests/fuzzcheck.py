"""The oracles a generated program is checked against.

:func:`check_program` compiles a program's gradient with adcompile and checks:

* every public mode runs: ``grad``, ``value_and_grad`` and ``vjp`` (with a random
  cotangent, a Python float or a 0-d array); in each the gradient of every
  ``wrt`` argument has that argument's structure, shape and dtype, and the
  generated code neither mutates the arguments nor gives a different answer
  when called twice; ``value_and_grad``'s value is ``f``'s (to 1e-12), and its
  gradient and ``vjp``'s (divided by the cotangent) are ``grad``'s up to rounding;
* ``grad`` agrees with central finite differences in float64; where they
  disagree at a kink (the one-sided differences differ: ``abs`` at 0, a tie of
  ``max``), a value between the one-sided derivatives is accepted; where they
  disagree at the point only, exact ties of several calls composed by the chain
  rule (``np.maximum(np.minimum(x, 0), 0)`` at 0: docs/numerics.md), autograd,
  which splits ties the same way, is the judge;
* when autograd is installed (the ``test`` extra installs it), it agrees with
  autograd's gradient of the same source run with ``import autograd.numpy as np``.

Finite differences are only an oracle where the function is smooth around the
point. Where they disagree with the gradient, they are computed again with two
other steps: if the three agree with each other, the gradient is wrong; if they
do not, the point is too close to a kink or the function too steep there to
tell, and the program is rejected (with autograd as the judge, when it can run
the program). Programs whose value is not finite or is huge are rejected too.

Two kinds of program need more than one call: ``f(a, a)`` (one array in two
positions: its gradient is the sum of theirs), and programs whose module-level
names are rebound after the check (the same gradient functions are checked
again, and must see the new values).
"""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from fuzzgen import is_record, record_fields, remade

import adcompile as ad
import adcompile.api
import adcompile.emit

try:  # the independent oracle: in the test extra; optional
    import autograd
except ImportError:  # pragma: no cover - depends on the environment
    autograd = None

STATS: Counter = Counter()  # what the checks found, reported at the end of a long run


class Rejected(Exception):
    """The program is fine, but no oracle can judge it at its arguments."""


class GeneratorBug(Exception):
    """The generated program is not valid Python/numpy for its arguments."""


# ------------------------------------------------------------------ loading


def load(directory: Path, text: str, stem: str = "fuzz"):
    """Write ``text`` to a new module file in ``directory`` and import it."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:16]
    path = Path(directory) / f"{stem}_{digest}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def forget(module, path: Path) -> None:
    """Drop what compiling the module's functions left in caches, and its file."""
    functions = {id(v) for v in vars(module).values() if callable(v)}
    forget_rules(vars(module))
    with adcompile.api._CACHE_LOCK:
        for key in [k for k in adcompile.api._CACHE if id(k[0]) in functions]:
            del adcompile.api._CACHE[key]
    for name in [n for n in linecache.cache if n.startswith("<adcompile ")]:
        del linecache.cache[name]
    adcompile.emit.FILENAMES.clear()
    linecache.cache.pop(str(path), None)
    path.unlink(missing_ok=True)


def forget_rules(namespace: dict) -> None:
    """Drop the records of the rules registered for the functions of ``namespace``
    (every table of the registry: a stale record under the id of a function that is
    gone would be found for a later object that gets its id)."""
    from adcompile.rules import registry

    for v in namespace.values():
        record = registry.PRIMITIVES.get(id(v)) if callable(v) else None
        if record is not None and not record.builtin:
            registry._forget(record)
            for fn in record.all_spellings():
                registry._KEEP_ALIVE.pop(id(fn), None)
            registry.GENERATION[0] += 1


# ------------------------------------------------------------ arguments


def leaves(tree) -> list:
    if is_record(tree):
        return [leaf for v in record_fields(tree).values() for leaf in leaves(v)]
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in leaves(tree[k])]
    if isinstance(tree, list | tuple):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


def rebuild(tree, values):
    """``tree`` with its leaves replaced, in order, by the next items of ``values``."""
    if is_record(tree):
        return remade(tree, [rebuild(v, values) for v in record_fields(tree).values()])
    if isinstance(tree, dict):
        return {k: rebuild(v, values) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(rebuild(v, values) for v in tree)
    new = next(values)
    if isinstance(tree, np.ndarray):
        return np.array(new, dtype=tree.dtype).reshape(tree.shape)
    return float(new[0])


def flat(trees: list) -> np.ndarray:
    parts = [np.ravel(np.asarray(leaf, dtype=float)) for t in trees for leaf in leaves(t)]
    return np.concatenate(parts) if parts else np.zeros(0)


def unflat(trees: list, vector: np.ndarray) -> list:
    """The trees with their leaves taken from ``vector``."""
    chunks = []
    offset = 0
    for t in trees:
        for leaf in leaves(t):
            n = np.size(leaf)
            chunks.append(vector[offset : offset + n])
            offset += n
    it = iter(chunks)
    return [rebuild(t, it) for t in trees]


def same_structure(g, x, where: str) -> None:
    if is_record(x):
        # a dataclass or namedtuple: its gradient is one of the same type, field by field
        assert type(g) is type(x), f"{where}: {type(g).__name__} for a {type(x).__name__}"
        for k, v in record_fields(x).items():
            same_structure(record_fields(g)[k], v, f"{where}.{k}")
    elif isinstance(x, dict):
        assert isinstance(g, dict) and list(g) == list(x), f"{where}: {type(g)} for a dict"
        for k in x:
            same_structure(g[k], x[k], f"{where}[{k!r}]")
    elif isinstance(x, list | tuple):
        assert type(g) is type(x), f"{where}: {type(g).__name__} for a {type(x).__name__}"
        assert len(g) == len(x), f"{where}: {len(g)} gradients for {len(x)} elements"
        for i, (gi, xi) in enumerate(zip(g, x)):
            same_structure(gi, xi, f"{where}[{i}]")
    elif isinstance(x, np.ndarray):
        assert isinstance(g, np.ndarray), f"{where}: {type(g).__name__} for an array"
        assert g.shape == x.shape and g.dtype == x.dtype, (where, g.shape, g.dtype, x.shape)
    else:
        assert type(g) is type(x), f"{where}: {type(g).__name__} for a {type(x).__name__}"


def unchanged(before, after, what: str) -> None:
    for i, (b, a) in enumerate(zip(leaves(before), leaves(after))):
        assert np.array_equal(np.asarray(b), np.asarray(a), equal_nan=True), (
            f"{what} changed leaf {i} of the arguments"
        )


# --------------------------------------------------------------- the check


def neighbours(args: list, wrt: tuple, eps: float):
    """(k, arguments with leaf k of the ``wrt`` arguments moved by +eps), then by -eps,
    for each leaf k; fresh copies each time (``f`` may write into them)."""
    trees = [args[i] for i in wrt]
    x0 = flat(trees)
    for k in range(x0.size):
        for step in (eps, -eps):
            x = x0.copy()
            x[k] += step
            new = [_copy(a) for a in args]
            for i, t in zip(wrt, unflat(trees, x)):
                new[i] = t
            yield k, new


def numeric(f, args: list, wrt: tuple, eps: float) -> np.ndarray:
    """Central differences of ``f`` over the leaves of the ``wrt`` arguments."""
    values = [float(f(*new)) for _, new in neighbours(args, wrt, eps)]
    return (np.array(values[0::2]) - np.array(values[1::2])) / (2 * eps)


def isolated(f, args: list, wrt: tuple, value: float, eps: float) -> bool:
    """Whether ``f`` at ``args`` differs from its values at every nearby point of the
    finite differences (a removable jump: the function is continuous around x, not
    at it)."""
    return all(
        abs(float(f(*new)) - value) > 1e-3 * max(1.0, abs(value))
        for _, new in neighbours(args, wrt, eps)
    )


def close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return float(np.max(np.abs(a - b), initial=0.0)) <= rtol * scale


def describe(g: np.ndarray, other: np.ndarray, name: str, who: str = "adcompile") -> str:
    worst = (
        int(np.nanargmax(np.abs(g - other))) if g.size and not np.all(np.isnan(g - other)) else 0
    )
    return (
        f"{who}'s gradient disagrees with {name}: element {worst} is {g[worst]!r} vs "
        f"{other[worst]!r}\n"
        f"  {who}: {np.array2string(g, precision=6)}\n"
        f"  {name}: {np.array2string(other, precision=6)}"
    )


MODES = ("grad", "value_and_grad", "vjp")
# the refusals of an update in place that writes through to another variable's
# array (or, in f(a, a), to another parameter's), which a program that ``mutates``
# may get
SHARED_ARRAYS = ("shares its memory", "are the same array")


def cotangent(text: str) -> float | np.ndarray:
    """The random cotangent ``vjp`` is called with, fixed by the program's text: a Python
    float or a 0-d array, away from 0, of either sign."""
    rng = np.random.default_rng(int(hashlib.sha1(text.encode()).hexdigest()[:12], 16))
    c = float(rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0]))
    return c if rng.uniform() < 0.5 else np.array(c)


def compile_modes(f, wrt: tuple) -> dict:
    """``f``'s gradient functions, one per public mode (called again after a rebinding)."""
    return {
        "grad": ad.grad(f, wrt=wrt),
        "value_and_grad": ad.value_and_grad(f, wrt=wrt),
        "vjp": ad.vjp(f, wrt=wrt),
    }


def run_mode(fn, mode: str, args: list, cot, specialise: bool = True):
    """The gradient (a tuple, one per ``wrt``) and the value (or None) of one mode; from
    code specialised to the arguments' shapes, or not."""
    if not specialise:
        limit = adcompile.api.MAX_SPECIALISATIONS
        adcompile.api.MAX_SPECIALISATIONS = 0  # as after many shapes: the general code
        try:
            return run_mode(fn, mode, args, cot)
        finally:
            adcompile.api.MAX_SPECIALISATIONS = limit
    value = None
    if mode == "grad":
        g = fn(*args)
    elif mode == "value_and_grad":
        value, g = fn(*args)
    else:
        g = fn(*args, cot)
    return (g if isinstance(g, tuple) else (g,)), value


def gradient(f, args: list, wrt: tuple, mode: str, specialise: bool = True):
    """adcompile's gradient of ``f`` in one mode as a tuple (one per ``wrt``), and
    ``f``'s value when the mode gives it (``vjp`` with the cotangent 1.0)."""
    return run_mode(compile_modes(f, wrt)[mode], mode, args, 1.0, specialise)


def check_program(
    directory: Path,
    module_text: str,
    args: list,
    wrt: tuple,
    autograd_text: str | None = None,
    mutates: bool = False,
    specialise: bool = True,
    same: tuple = (),
    rebind: str = "",
    names: tuple | None = None,
    keywords: tuple[str, ...] = (),
) -> str:
    """Check adcompile's gradient of ``f`` in ``module_text`` in every mode; raise
    AssertionError on a wrong answer, :class:`Rejected` when no oracle can judge.
    Returns which oracles agreed, or "refused" for a program that writes through shared
    memory (``mutates``) or appends to a list through one of its two names, and that
    adcompile refuses to differentiate, saying so.

    ``same`` lists arguments that are one array passed several times (``f(a, a)``): the
    first is the array, the others are replaced by it. ``rebind`` is module-level code
    (``c = 0.5``, ``h = h_alt``) run after the check, which is then made again with the
    same gradient functions.

    ``names`` is ``wrt`` as adcompile is told it, when the positions of ``wrt`` are not
    how it names them (an entry inside ``*args``, ``'args[1]'``, or a keyword-only
    parameter by name); ``keywords`` names the last arguments, which every call passes by
    keyword (keyword-only parameters)."""
    module, path = load(directory, module_text)
    positional = len(args) - len(keywords)
    try:
        fns = compile_modes(module.f, wrt if names is None else names)
        if module.f.__defaults__ or module.f.__kwdefaults__:
            # (after parameters with defaults, a positional cotangent would fill them)
            fns["vjp"] = by_cotangent(fns["vjp"])
        fns = {mode: by_keyword(fn, positional, keywords) for mode, fn in fns.items()}
        entry = by_keyword(module.f, positional, keywords)
        verdict = _check(
            entry, module_text, args, wrt, fns, autograd_text, mutates, specialise, same, keywords
        )
        if rebind and verdict != "refused":
            exec(compile(rebind, str(path), "exec"), vars(module))
            if autograd_text is not None:
                autograd_text = autograd_text + "\n\n" + rebind + "\n"
            verdict = _check(
                entry,
                module_text,
                args,
                wrt,
                fns,
                autograd_text,
                mutates,
                specialise,
                same,
                keywords,
            )
        return verdict
    finally:
        forget(module, path)


def joined(args: list, same: tuple) -> list:
    """The arguments with those in ``same`` made one object (the first of them)."""
    if same:
        args = list(args)
        for i in same[1:]:
            args[i] = args[same[0]]
    return args


def by_keyword(fn, positional: int, keywords: tuple[str, ...]):
    """``fn`` called with its arguments all by position: the first ``positional`` stay
    positional, the next ones go by keyword (named by ``keywords``), and any after them
    (vjp's cotangent) follow the positional ones."""
    if not keywords:
        return fn

    def call(*xs, **more):
        count = len(keywords)
        named = dict(zip(keywords, xs[positional : positional + count], strict=True))
        return fn(*xs[:positional], *xs[positional + count :], **named, **more)

    return call


def by_cotangent(vjp):
    """``vjp`` called with the cotangent last among its positional arguments, passing it
    by keyword."""

    def call(*xs, **named):
        return vjp(*xs[:-1], cotangent=xs[-1], **named)

    return call


def _check(
    f, module_text, args, wrt, fns, autograd_text, mutates, specialise, same, keywords=()
) -> str:
    if same:
        # f(a, a): a function of the one array, whose gradient is the sum of the gradients
        # of its positions (each position alone is not a function of it when f writes
        # into one of them); finite differences move it in all positions at once
        assert set(same) <= set(wrt), "f(a, a) is checked with respect to every position"
        inner = f

        def f(*xs):
            return inner(*joined(list(xs), same))

        args = joined([_copy(a) for a in args], same)
    fresh = (lambda: joined([_copy(a) for a in args], same)) if same else None

    def copies():
        return fresh() if fresh else [_copy(a) for a in args]

    before = copies()
    with np.errstate(all="ignore"):
        try:
            value = f(*copies())
        except Exception as exc:  # the generator wrote a program numpy cannot run
            raise GeneratorBug(f"{type(exc).__name__}: {exc}\n{module_text}") from exc
        if not mutates:
            try:
                probe = copies()
                f(*probe)
                unchanged(before, probe, "f itself")
            except AssertionError as exc:
                raise GeneratorBug(f"{exc}\n{module_text}") from exc
    if np.ndim(value) != 0:
        raise GeneratorBug(f"f returned shape {np.shape(value)}\n{module_text}")
    value = float(value)
    if not np.isfinite(value) or abs(value) > 1e4:
        STATS["rejected: value not finite or too large"] += 1
        raise Rejected(f"f = {value}")

    # adcompile, in every mode, twice each, on copies of the arguments
    cot = cotangent(module_text)
    results = {}
    with np.errstate(all="ignore"):
        for mode in MODES:
            call = copies()
            try:
                grads, got_value = run_mode(fns[mode], mode, call, cot, specialise)
            except ad.AdCompileError as exc:
                if mutates and any(r in exc.reason for r in SHARED_ARRAYS):
                    STATS["refused: writes through shared memory"] += 1
                    STATS[f"refused because: {exc.reason[:110]}"] += 1
                    return "refused"
                if "are the same list here" in exc.reason:
                    # appends through one of two names of a list are outside the language
                    STATS["refused: appends to a list another name sees"] += 1
                    return "refused"
                raise
            if not same:
                unchanged(before, call, f"the generated {mode}")
            again, _ = run_mode(fns[mode], mode, copies(), cot, specialise)
            for i, g in zip(wrt, grads):
                same_structure(g, before[i], f"{mode}: gradient of argument {i}")
            for g1, g2 in zip(flat(list(grads)), flat(list(again))):
                assert g1 == g2 or (np.isnan(g1) and np.isnan(g2)), (
                    f"{mode}: a second call gave another gradient"
                )
            if got_value is not None:
                assert np.ndim(got_value) == 0, f"{mode}: a value of shape {np.shape(got_value)}"
                assert np.isclose(float(got_value), value, rtol=1e-12, atol=1e-300), (
                    f"{mode}: the value is {float(got_value)!r}, f gives {value!r}"
                )
            results[mode] = _summed(grads, wrt, same)
    g = results["grad"]
    fwrt = tuple(i for i in wrt if i not in same[1:])
    with np.errstate(all="ignore"):
        fd = numeric(f, args, fwrt, 1e-6)
    # the other modes against grad: the same numbers, up to rounding (vjp: times cot)
    for mode in MODES[1:]:
        other = results[mode] / float(cot) if mode == "vjp" else results[mode]
        if not _agree(g, other):
            raise AssertionError(
                describe(other, g, "grad", who=mode)
                + f"\n  finite differences: {np.array2string(fd, precision=6)}"
            )

    # finite differences
    singular = ~np.isfinite(g) & np.isfinite(fd)
    if singular.any():
        # 0 * inf: a derivative that is infinite at the point (arctan2 at (0, 0), sqrt
        # at 0) times a zero cotangent. Reverse mode gives NaN there, as autograd does
        # and as docs/numerics.md says; finite differences see a constant.
        ag = _autograd(autograd_text, args, wrt, keywords) if autograd and autograd_text else None
        if ag is not None and not np.isfinite(ag[singular]).any():
            STATS["rejected: non-finite at a singular point, as autograd"] += 1
            raise Rejected("singular point")
        if ag is None:
            STATS["rejected: non-finite at a singular point (no autograd)"] += 1
            raise Rejected("singular point")
        raise AssertionError(describe(g, ag, "autograd") + "\n(NaN where autograd has none)")
    if close(g, fd, 1e-5):
        verdict = "fd"
    else:
        with np.errstate(all="ignore"):
            fd5 = numeric(f, args, fwrt, 1e-5)
            fd4 = numeric(f, args, fwrt, 1e-4)
        smooth = close(fd, fd5, 1e-6) and close(fd5, fd4, 1e-4)
        if smooth and isolated(f, args, fwrt, value, 1e-6):
            # f(x) is not the value all around it (var of equal values is 1e-32 at x
            # and 0 beside it, then a % b jumps): no derivative to compare with
            STATS["rejected: an isolated point of discontinuity"] += 1
            raise Rejected("isolated discontinuity")
        if smooth and _subgradient(f, args, fwrt, value, g, fd, 1e-6):
            # at a kink (abs at 0, a tie of max), any value between the one-sided
            # derivatives is a right answer; central differences give their mean
            STATS["accepted: a one-sided derivative at a kink"] += 1
            return "fd (kink)"
        if smooth and _exact_tie(fns["grad"], args, wrt, same, specialise, g, fd, 1e-6):
            # at an exact tie of several calls (np.maximum(np.minimum(x, 0), 0) at 0) the
            # conventions compose by the chain rule into a gradient no nearby point has
            # (docs/numerics.md); autograd, which splits ties the same way, is the judge
            ag = (
                _autograd(autograd_text, args, wrt, keywords)
                if autograd and autograd_text
                else None
            )
            if ag is None or same:
                STATS["rejected: an exact tie of several calls (no autograd)"] += 1
                raise Rejected("exact tie")
            if not close(g, ag, 1e-8):
                raise AssertionError(
                    describe(g, ag, "autograd") + "\n(at an exact tie: finite differences "
                    f"cannot judge; they give {np.array2string(fd, precision=6)})"
                )
            STATS["accepted: composed tie conventions at an exact tie, as autograd"] += 1
            return "autograd (exact tie)"
        if smooth:
            raise AssertionError(describe(g, fd, "finite differences"))
        verdict = None

    # autograd
    if autograd is not None and autograd_text is not None and not same:
        ag = _autograd(autograd_text, args, wrt, keywords)
        if ag is None:
            STATS["autograd could not run the program"] += 1
        elif close(g, ag, 1e-8):
            STATS["agreed with autograd"] += 1
            return "fd+autograd" if verdict else "autograd"
        elif verdict is None:
            raise AssertionError(describe(g, ag, "autograd") + "\n(finite differences unstable)")
        else:
            # adcompile matches finite differences and autograd does not: a convention
            # of autograd's at a kink, or a bug of autograd's; not ours
            STATS["autograd disagreed, finite differences sided with adcompile"] += 1
    if verdict is None:
        STATS["rejected: finite differences unstable"] += 1
        raise Rejected("finite differences unstable, no autograd")
    return verdict


def _summed(grads: tuple, wrt: tuple, same: tuple) -> np.ndarray:
    """The gradients flattened; those of the positions of one array (``same``) summed."""
    if not same:
        return flat(list(grads))
    by = dict(zip(wrt, grads))
    total = sum(np.asarray(by[i], dtype=float) for i in same)
    return flat([total if i == same[0] else by[i] for i in wrt if i not in same[1:]])


def _agree(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to rounding (NaN where the other has NaN)."""
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    ok = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(a[~ok & ~np.isnan(a)], b[~ok & ~np.isnan(b)]):
        return False
    scale = max(1.0, float(np.max(np.abs(a[ok]), initial=0.0)))
    return float(np.max(np.abs(a[ok] - b[ok]), initial=0.0)) <= 1e-10 * scale


def _subgradient(f, args, wrt, value, g, fd, eps) -> bool:
    """Whether every element where ``g`` and ``fd`` disagree is at a kink along its axis
    (the one-sided differences differ) and ``g`` lies between the one-sided ones."""
    values = [float(f(*new)) for _, new in neighbours(args, wrt, eps)]
    ahead = (np.array(values[0::2]) - value) / eps
    behind = (value - np.array(values[1::2])) / eps
    scale = max(1.0, float(np.max(np.abs(fd), initial=0.0)))
    off = np.abs(g - fd) > 1e-5 * scale
    lo, hi = np.minimum(ahead, behind), np.maximum(ahead, behind)
    kink = hi - lo > 1e-3 * scale
    inside = (g >= lo - 1e-5 * scale) & (g <= hi + 1e-5 * scale)
    return bool(np.all(kink[off] & inside[off]))


def _exact_tie(grad, args, wrt, same, specialise, g, fd, eps) -> bool:
    """Whether ``g`` disagrees with the (smooth) finite differences ``fd`` at the point
    only: adcompile's gradient at each nearby point of the differences along a leaf
    where they disagree is ``fd``. The point is then where the kinks of several calls
    meet, each at an exact tie, while the function is smooth through it."""
    scale = max(1.0, float(np.max(np.abs(fd), initial=0.0)))
    off = np.abs(g - fd) > 1e-5 * scale
    fwrt = tuple(i for i in wrt if i not in same[1:])
    for k, new in neighbours(args, fwrt, eps):
        if not off[k]:
            continue
        grads, _ = run_mode(grad, "grad", joined(new, same), 1.0, specialise)
        if not close(_summed(grads, wrt, same), fd, 1e-4):
            return False
    return True


def _autograd(text: str, args: list, wrt: tuple, keywords: tuple = ()) -> np.ndarray | None:
    namespace: dict = {}
    # in linecache, so that an @ad.adjoint rule of the program can read its source
    name = f"<fuzz program for autograd {hashlib.sha1(text.encode()).hexdigest()[:16]}>"
    linecache.cache[name] = (len(text), None, text.splitlines(keepends=True), name)
    try:
        exec(compile(text, name, "exec"), namespace)
        f = by_keyword(namespace["f"], len(args) - len(keywords), keywords)

        def undressed(*xs):  # autograd knows no records: they travel as tuples
            return f(*(dressed(x, a) for x, a in zip(xs, args)))

        parts = []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for i in wrt:
                g = autograd.grad(undressed, i)(*[plain(_copy(a)) for a in args])
                sizes = [np.size(leaf) for leaf in leaves(g)]
                assert sizes == [np.size(leaf) for leaf in leaves(args[i])]
                parts.append(g)
        return flat(parts)
    except AssertionError:  # a gradient of the wrong shape: e.g. autograd's np.where
        STATS["autograd gave a gradient of the wrong shape"] += 1  # does not unbroadcast
        return None
    except Exception:  # autograd lacks a rule or a feature the program uses
        return None
    finally:
        linecache.cache.pop(name, None)
        forget_rules(namespace)


def plain(a):
    """``a`` with its records (dataclasses, namedtuples) made tuples of their fields."""
    if is_record(a):
        return tuple(plain(v) for v in record_fields(a).values())
    if isinstance(a, list | tuple):
        return type(a)(plain(v) for v in a)
    if isinstance(a, dict):
        return {k: plain(v) for k, v in a.items()}
    return a


def dressed(x, like):
    """The inverse of :func:`plain`: ``x`` with the records of ``like`` made again."""
    if is_record(like):
        return remade(like, (dressed(v, w) for v, w in zip(x, record_fields(like).values())))
    if isinstance(like, list | tuple):
        return type(like)(dressed(v, w) for v, w in zip(x, like))
    if isinstance(like, dict):
        return {k: dressed(x[k], like[k]) for k in like}
    return x


def _copy(a):
    if is_record(a):
        return remade(a, (_copy(v) for v in record_fields(a).values()))
    if isinstance(a, np.ndarray):
        return a.copy()
    if isinstance(a, list):
        return [_copy(v) for v in a]
    if isinstance(a, tuple):
        return tuple(_copy(v) for v in a)
    if isinstance(a, dict):
        return {k: _copy(v) for k, v in a.items()}
    return a


# --------------------------------------------------------------- second order

HVP_STATS: Counter = Counter()  # checked / refused (by reason) / rejected


def check_hvp(f, args: list, wrt: tuple, seed: int = 0) -> str:
    """Check ``adcompile.hvp(f, wrt)`` along a random vector against central differences
    of the compiled gradient, ``(grad(x + e v) - grad(x - e v)) / 2e``. Returns "hvp"
    when they agree, "refused" when adcompile refuses the program's second derivative
    with an AdCompileError (allowed, and counted in HVP_STATS by its message); raises
    :class:`Rejected` where the differences of three steps disagree with each other (a
    kink or a jump of the gradient nearby), AssertionError on a wrong answer."""
    rng = np.random.default_rng(seed)
    trees = [args[i] for i in wrt]
    v = rng.normal(size=flat(trees).size)
    vectors = unflat(trees, v)
    try:
        with np.errstate(all="ignore"):
            got = ad.hvp(f, wrt=wrt)(*[_copy(a) for a in args], tuple(vectors))
    except ad.AdCompileError as exc:
        HVP_STATS["refused"] += 1
        HVP_STATS[f"refused: {exc.reason[:80]}"] += 1
        return "refused"
    got = flat(list(got))
    g = ad.grad(f, wrt=wrt)

    def differences(eps: float) -> np.ndarray:
        x0 = flat(trees)
        out = []
        for sign in (1.0, -1.0):
            new = [_copy(a) for a in args]
            for i, t in zip(wrt, unflat(trees, x0 + sign * eps * v)):
                new[i] = t
            with np.errstate(all="ignore"):
                out.append(flat(list(g(*new))))
        return (out[0] - out[1]) / (2 * eps)

    fd = differences(1e-5)
    if close(got, fd, 1e-4):
        HVP_STATS["checked"] += 1
        return "hvp"
    others = [differences(3e-5), differences(1e-4)]
    if not all(close(fd, o, 1e-3) for o in others):
        HVP_STATS["rejected"] += 1
        raise Rejected("the gradient is not smooth enough here for finite differences")
    raise AssertionError(describe(got, fd, "hvp", "adcompile hvp"))
