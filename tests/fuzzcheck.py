"""The oracles a generated program is checked against.

:func:`check_program` compiles a program's gradient with adcompile and checks:

* the gradient of every ``wrt`` argument has that argument's structure, shape
  and dtype, and the generated code neither mutates the arguments nor gives a
  different answer when called twice; ``value_and_grad``'s value is ``f``'s;
* the gradient agrees with central finite differences in float64;
* when autograd is installed (the ``test`` extra installs it), it agrees with
  autograd's gradient of the same source run with ``import autograd.numpy as np``.

Finite differences are only an oracle where the function is smooth around the
point. Where they disagree with the gradient, they are computed again with two
other steps: if the three agree with each other, the gradient is wrong; if they
do not, the point is too close to a kink or the function too steep there to
tell, and the program is rejected (with autograd as the judge, when it can run
the program). Programs whose value is not finite or is huge are rejected too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

import adcompile as ad
import adcompile.api

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
    with adcompile.api._CACHE_LOCK:
        for key in [k for k in adcompile.api._CACHE if id(k[0]) in functions]:
            del adcompile.api._CACHE[key]
    for name in [n for n in linecache.cache if n.startswith("<adcompile ")]:
        del linecache.cache[name]
    adcompile.api._FILENAMES.clear()
    linecache.cache.pop(str(path), None)
    path.unlink(missing_ok=True)


# ------------------------------------------------------------ arguments


def leaves(tree) -> list:
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in leaves(tree[k])]
    if isinstance(tree, list | tuple):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


def rebuild(tree, values):
    """``tree`` with its leaves replaced, in order, by the next items of ``values``."""
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
    if isinstance(x, dict):
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


def describe(g: np.ndarray, other: np.ndarray, name: str) -> str:
    worst = int(np.argmax(np.abs(g - other))) if g.size else 0
    return (
        f"gradient disagrees with {name}: element {worst} is {g[worst]!r} vs {other[worst]!r}\n"
        f"  adcompile: {np.array2string(g, precision=6)}\n"
        f"  {name}: {np.array2string(other, precision=6)}"
    )


def gradient(f, args: list, wrt: tuple, mode: str, specialise: bool = True):
    """adcompile's gradient of ``f`` as a tuple (one per ``wrt``), and ``f``'s value when
    the mode gives it; from code specialised to the arguments' shapes, or not."""
    if not specialise:
        limit = adcompile.api.MAX_SPECIALISATIONS
        adcompile.api.MAX_SPECIALISATIONS = 0  # as after many shapes: the general code
        try:
            return gradient(f, args, wrt, mode)
        finally:
            adcompile.api.MAX_SPECIALISATIONS = limit
    if mode == "grad":
        g = ad.grad(f, wrt=wrt)(*args)
        value = None
    elif mode == "value_and_grad":
        value, g = ad.value_and_grad(f, wrt=wrt)(*args)
    else:
        g = ad.vjp(f, wrt=wrt)(*args, 1.0)
        value = None
    return (g if isinstance(g, tuple) else (g,)), value


def check_program(
    directory: Path,
    module_text: str,
    args: list,
    wrt: tuple,
    mode: str,
    autograd_text: str | None = None,
    mutates: bool = False,
    specialise: bool = True,
) -> str:
    """Check adcompile's gradient of ``f`` in ``module_text``; raise AssertionError on a
    wrong answer, :class:`Rejected` when no oracle can judge. Returns which oracles
    agreed, or "refused" for a program that writes through shared memory (``mutates``)
    and that adcompile refuses to differentiate, saying so."""
    module, path = load(directory, module_text)
    try:
        return _check(module, module_text, args, wrt, mode, autograd_text, mutates, specialise)
    finally:
        forget(module, path)


def _check(module, module_text, args, wrt, mode, autograd_text, mutates, specialise) -> str:
    f = module.f
    before = [_copy(a) for a in args]
    with np.errstate(all="ignore"):
        try:
            value = f(*[_copy(a) for a in args])
        except Exception as exc:  # the generator wrote a program numpy cannot run
            raise GeneratorBug(f"{type(exc).__name__}: {exc}\n{module_text}") from exc
        if not mutates:
            try:
                f(*args)
                unchanged(before, args, "f itself")
            except AssertionError as exc:
                raise GeneratorBug(f"{exc}\n{module_text}") from exc
    if np.ndim(value) != 0:
        raise GeneratorBug(f"f returned shape {np.shape(value)}\n{module_text}")
    value = float(value)
    if not np.isfinite(value) or abs(value) > 1e4:
        STATS["rejected: value not finite or too large"] += 1
        raise Rejected(f"f = {value}")

    # adcompile
    with np.errstate(all="ignore"):
        try:
            grads, got_value = gradient(f, args, wrt, mode, specialise)
        except ad.AdCompileError as exc:
            if mutates and "shares its memory" in exc.reason:
                STATS["refused: writes through shared memory"] += 1
                return "refused"
            raise
        unchanged(before, args, "the generated gradient")
        again, _ = gradient(f, args, wrt, mode, specialise)
    for i, g in zip(wrt, grads):
        same_structure(g, args[i], f"gradient of argument {i}")
    for g1, g2 in zip(flat(list(grads)), flat(list(again))):
        assert g1 == g2 or (np.isnan(g1) and np.isnan(g2)), "a second call gave another gradient"
    if got_value is not None:
        assert np.isclose(float(got_value), value, rtol=1e-12, atol=1e-300), (got_value, value)
    g = flat(list(grads))

    # finite differences
    with np.errstate(all="ignore"):
        fd = numeric(f, args, wrt, 1e-6)
    singular = ~np.isfinite(g) & np.isfinite(fd)
    if singular.any():
        # 0 * inf: a derivative that is infinite at the point (arctan2 at (0, 0), sqrt
        # at 0) times a zero cotangent. Reverse mode gives NaN there, as autograd does
        # and as docs/numerics.md says; finite differences see a constant.
        ag = _autograd(autograd_text, args, wrt) if autograd and autograd_text else None
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
            fd5 = numeric(f, args, wrt, 1e-5)
            fd4 = numeric(f, args, wrt, 1e-4)
        smooth = close(fd, fd5, 1e-6) and close(fd5, fd4, 1e-4)
        if smooth and isolated(f, args, wrt, value, 1e-6):
            # f(x) is not the value all around it (var of equal values is 1e-32 at x
            # and 0 beside it, then a % b jumps): no derivative to compare with
            STATS["rejected: an isolated point of discontinuity"] += 1
            raise Rejected("isolated discontinuity")
        if smooth:
            raise AssertionError(describe(g, fd, "finite differences"))
        verdict = None

    # autograd
    if autograd is not None and autograd_text is not None:
        ag = _autograd(autograd_text, args, wrt)
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


def _autograd(text: str, args: list, wrt: tuple) -> np.ndarray | None:
    namespace: dict = {}
    try:
        exec(compile(text, "<fuzz program for autograd>", "exec"), namespace)
        f = namespace["f"]
        parts = []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for i in wrt:
                g = autograd.grad(f, i)(*[_copy(a) for a in args])
                sizes = [np.size(leaf) for leaf in leaves(g)]
                assert sizes == [np.size(leaf) for leaf in leaves(args[i])]
                parts.append(g)
        return flat(parts)
    except AssertionError:  # a gradient of the wrong shape: e.g. autograd's np.where
        STATS["autograd gave a gradient of the wrong shape"] += 1  # does not unbroadcast
        return None
    except Exception:  # autograd lacks a rule or a feature the program uses
        return None


def _copy(a):
    if isinstance(a, np.ndarray):
        return a.copy()
    if isinstance(a, list):
        return [_copy(v) for v in a]
    if isinstance(a, tuple):
        return tuple(_copy(v) for v in a)
    if isinstance(a, dict):
        return {k: _copy(v) for k, v in a.items()}
    return a
