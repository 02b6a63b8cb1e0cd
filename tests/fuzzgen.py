"""Random programs in the language adcompile differentiates, written as source text.

:func:`programs` is a hypothesis strategy for a whole module: a few helper
functions and an entry function ``f`` over float64 arrays of random shapes,
with the arguments to call it with. The module text names numpy only as
``np``, so the same program runs under ``import numpy as np`` (for adcompile and
finite differences) and ``import autograd.numpy as np`` (the oracle).

Every program is valid for the inputs it comes with: the generator knows every
value's shape, and keeps each primitive inside its domain by construction
(``np.log`` and ``np.sqrt`` of positive expressions, ``np.arcsin`` of values in
(-0.9, 0.9), exponents of bounded values, denominators away from zero).

An augmented assignment (``v += ...``) writes into the array in Python. By
default the generator only writes one into an array that nothing else refers
to, so the program means the same with or without aliasing, and autograd (which
never writes in place) can run it too. With the feature "inplace" it also
writes into arrays that share memory with other variables (aliases, views,
parameters, container elements); Python then writes through to them, and
adcompile must either get that right or refuse. Each variable carries how it
shares memory (``SHARING``), so that the generator can steer clear of the
known compiler bugs listed in ``AVOID``.

Shrinking works on the draws, so every choice lists its simplest option first.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from adcompile.runtime import running_max, running_min

# ------------------------------------------------------------------ coverage

# The adjoint rules of adcompile.rules, by primitive, that the generator writes
# calls of. tests/test_fuzz.py checks this against the registry.
COVERED = {
    np.hstack,
    np.vstack,
    np.split,
    np.array_split,
    np.hsplit,
    np.vsplit,
    np.dsplit,
    np.fft.fft,
    np.fft.ifft,
    np.fft.fft2,
    np.fft.ifft2,
    np.fft.fftn,
    np.fft.ifftn,
    np.fft.rfft,
    np.fft.irfft,
    np.fft.rfft2,
    np.fft.irfft2,
    np.fft.rfftn,
    np.fft.irfftn,
    np.fft.fftshift,
    np.fft.ifftshift,
    np.exp,
    np.expm1,
    np.log,
    np.log1p,
    np.log2,
    np.log10,
    np.sqrt,
    np.square,
    np.reciprocal,
    np.sin,
    np.cos,
    np.tan,
    np.arcsin,
    np.arccos,
    np.arctan,
    np.sinh,
    np.cosh,
    np.tanh,
    np.abs,
    np.arctan2,
    np.maximum,
    np.minimum,
    max,
    min,
    np.logaddexp,
    np.where,
    np.clip,
    np.add,
    np.subtract,
    np.multiply,
    np.true_divide,
    np.power,
    np.negative,
    np.positive,
    np.matmul,
    np.sum,
    np.mean,
    np.max,
    np.min,
    np.prod,
    np.var,
    np.std,
    np.reshape,
    np.ravel,
    np.transpose,
    np.swapaxes,
    np.expand_dims,
    np.squeeze,
    np.broadcast_to,
    __import__("operator").getitem,
    np.concatenate,
    np.stack,
    np.dot,
    np.outer,
    np.mod,
    np.full,  # these four in the "builders" extension
    np.full_like,
    np.linspace,
    np.arange,
    np.linalg.norm,
    np.linalg.inv,
    np.linalg.pinv,
    np.linalg.solve,
    np.linalg.det,
    np.linalg.slogdet,
    np.linalg.cholesky,
    np.linalg.eigh,
    np.linalg.eig,
    np.linalg.svd,
    np.linalg.qr,
    np.linalg.matrix_power,
    np.linalg.lstsq,
    np.linalg.multi_dot,
    np.linalg.vector_norm,
    np.linalg.matrix_norm,
    np.linalg.eigvalsh,
    np.linalg.eigvals,
    np.linalg.svdvals,
    np.exp2,
    np.arcsinh,
    np.arccosh,
    np.arctanh,
    np.fabs,
    np.sinc,
    np.rad2deg,
    np.deg2rad,
    np.nan_to_num,
    np.real,
    np.real_if_close,
    np.conj,
    np.imag,
    np.angle,
    np.fmax,
    np.fmin,
    np.hypot,
    np.logaddexp2,
    np.cumsum,
    np.cumprod,
    np.bincount,
    running_max,  # (np.maximum.accumulate)
    running_min,
    np.diff,
    np.sort,
    np.partition,
    np.flip,
    np.fliplr,
    np.flipud,
    np.roll,
    np.rot90,
    np.moveaxis,
    np.rollaxis,
    np.diag,
    np.diagonal,
    np.trace,
    np.triu,
    np.tril,
    np.repeat,
    np.tile,
    np.pad,
    np.atleast_1d,
    np.atleast_2d,
    np.atleast_3d,
    np.einsum,
    np.tensordot,
    np.inner,
    np.kron,
    np.cross,
    np.array,
    np.asarray,
    np.copy,
    np.ndarray.astype,
    np.gradient,
    # (Builder.library, the extension "library")
    np.take,
    np.take_along_axis,
    np.append,
    np.insert,
    np.column_stack,
    np.dstack,
    np.ptp,
    np.nansum,
    np.nanmean,
    np.nanmax,
    np.nanmin,
    np.average,
    np.quantile,
    np.percentile,
    np.median,
    np.interp,
    np.polyval,
    np.convolve,
    np.correlate,
    *([np.trapezoid] if hasattr(np, "trapezoid") else []),
    np.vdot,
    np.cbrt,
    np.copysign,
    np.float_power,
    np.linalg.tensorinv,
    np.linalg.tensorsolve,
    np.linalg.cond,
    *([np.cumulative_sum, np.cumulative_prod] if hasattr(np, "cumulative_sum") else []),
    math.asinh,
    math.acosh,
    math.atanh,
    math.degrees,
    math.radians,
    math.exp,
    math.expm1,
    math.log,
    math.log1p,
    math.sqrt,
    math.sin,
    math.cos,
    math.tan,
    math.tanh,
    math.atan,
    math.sinh,
    math.cosh,
}

FEATURES = ("straight", "control", "containers", "calls")
# "inplace" also lets v += ... update arrays that share memory with other variables
# (aliases, views, container elements): Python then writes through to them.

# Extensions, each a feature of its own, for the kinds of program that checking
# expressions' gradients alone never exercised. Each program lists the tags of the
# constructs it used (Program.tags, the "programs with: ..." statistics).
EXTENSIONS = {
    # f's result returned by name: a plain name, a value carried through a loop, a
    # name assigned in the arms of an if, and a helper's named result
    "results": ("result-name", "result-loop", "result-loop-self", "result-branch", "result-helper"),
    # a helper with a correct rule registered by @ad.adjoint, with and without an if
    # and returns in the rule (on np.ndim of an operand)
    "rules": ("rule-plain", "rule-control-flow"),
    # functions at the edges of their domains: inputs exactly 0, ties of max/min,
    # clip with crossed bounds, zero exponents, Python floats next to 0-d arrays
    "edges": (
        "edge-tie-zero",
        "edge-zero-input",
        "edge-tie",
        "edge-clip-crossed",
        "edge-zero-power",
        "edge-float-0d",
        "edge-minmax-param",
    ),
    # arrays made from differentiated values by np.full, np.full_like, np.linspace and
    # np.arange
    "builders": ("builder-full", "builder-full_like", "builder-linspace", "builder-arange"),
    # a list of tuples built by .append, read by index and by unpacking
    "tuple-lists": ("tuple-list-append",),
    # one list under two names, appended to through either (adcompile refuses them)
    "list-aliases": ("list-alias-append",),
    # `a and b`, `a or b` on floats (their value is one operand)
    "boolops": ("boolop-value",),
    # f(a, a): one array passed as two arguments, with and without `x0 += x1` inside
    "same-arg": ("same-arg", "same-arg-inplace"),
    # module-level numbers, arrays and functions, rebound between two checks
    "globals": ("global-number", "global-array", "global-function"),
    # list comprehensions and sum() of generators over lists, lambdas closing over
    # local arrays, loops over reversed() and enumerate(zip(...))
    # a variable assigned only inside a loop and read after it; assert, print and
    # with np.errstate next to the arithmetic
    "sugar": (
        "sugar-listcomp",
        "sugar-genexp",
        "sugar-lambda",
        "sugar-iter",
        "sugar-loop-var",
        "sugar-effect",
    ),
    # x[index] = v and x[index] op= v into an array the function made: rows, slices,
    # elements, rows written by a loop (reading the previous one), index arrays with
    # repeats, boolean masks
    "element-assign": (
        "assign-row",
        "assign-slice",
        "assign-element",
        "assign-loop",
        "assign-repeats",
        "assign-mask",
        "assign-augmented",
    ),
    # real values computed through numpy.fft's complex ones
    "fourier": ("fourier",),
    # functions that pick elements, order statistics, nan reductions, signals,
    # polynomials (Builder.library)
    "library": ("library",),
    # a piece of an array split by np.split, array_split, hsplit, vsplit or dsplit
    "splits": ("split",),
    # helpers with *args, keyword-only parameters and **kwargs (called with * of a
    # tuple and ** of a dict display), helpers called through a function passed as a
    # value (and through a module-level functools.partial), tuple concatenation and
    # dict displays
    "parameters": (
        "param-varargs",
        "param-keyword-only",
        "param-kwargs",
        "param-apply",
        "param-partial",
        "param-tuple-concat",
        "param-dict",
    ),
    # random draws from a generator seeded inside f (a RandomState's randn, a
    # Generator's normal and uniform), so every call draws the same numbers: the
    # reparameterised sample a + b * eps, and a dropout mask
    "random": ("random-draw", "random-mask"),
    # a function defined inside f (or a helper) that closes over its arrays, the
    # differentiated ones among them: called at once, from a loop, or after a name it
    # reads was rebound (Python reads the new value)
    "closures": ("closure-call", "closure-loop", "closure-late"),
    # list comprehensions with an if filter (on the data, or on the position), dict
    # comprehensions over constant keys or range(n), nested comprehensions
    "comprehensions": ("comp-filter", "comp-dict", "comp-nested"),
    # f is a bound method, model.loss, of an object whose attributes are numbers, arrays
    # and a string that selects a branch; it reads them as self.attr and calls
    # self.forward(...) (in conditions too); between two checks an attribute is rebound
    "methods": ("method-attr", "method-string", "method-call", "method-rebind", "method-condition"),
    # parameters that are a dataclass, a namedtuple, or a list of dataclasses read as
    # p.W, p.b: the gradient comes back as the same type
    "records": ("record-dataclass", "record-namedtuple", "record-list"),
    # raise in a branch that validates the arguments (never taken), logging calls
    "validation": ("validate-raise", "validate-logging"),
    # calls of user functions in the conditions of if, while and conditional expressions
    "conditions": ("cond-call",),
    # Python idioms: a numpy function chosen by a condition (act = np.tanh if c else
    # np.sin) then called; sum(map(h, xs)) and list(map(lambda a: ..., xs)) over a list;
    # chained assignment a = b = e with both names read; a float drawn by Python's
    # random module from a random.Random(seed) made inside the function
    # (idiom-select-update: the chosen function's result updated in place, v += ...)
    "idioms": (
        "idiom-select",
        "idiom-select-update",
        "idiom-map-sum",
        "idiom-map-list",
        "idiom-chain",
        "idiom-pyrandom",
    ),
    # how model code takes and passes its arguments: f(x0, *args) differentiated with
    # respect to an entry inside *args ('args[1]'), and f's keyword-only parameters by
    # name; if isinstance(p, T) on a parameter (the other arm written for another
    # type); a function parameter with a default (def h(a, act=np.tanh), f's own act
    # forwarded to helpers); functools.partial binding a helper's arguments in f; a
    # loop over a tuple of functions, or of (array, function) pairs, and a list of
    # functions indexed by a loop's index;
    # (sig-function-local: a lambda passed as such a function)
    "signatures": (
        "sig-varargs-wrt",
        "sig-keyword-wrt",
        "sig-isinstance",
        "sig-function-arg",
        "sig-partial",
        "sig-function-tuple",
        "sig-function-local",
    ),
    # iteration idioms: np.meshgrid of 1-d values; dict comprehensions over a dict's
    # keys; nested comprehensions with an if filter on each level; enumerate(..., start)
    # over zip(...); reversed(list) in comprehensions, in zip(...) and made a list; a
    # loop over map(f, xs) (in enumerate(...) too)
    "iteration": (
        "iter-meshgrid",
        "iter-dict-comp",
        "iter-nested-filter",
        "iter-enumerate-start",
        "iter-reversed",
        "iter-map-loop",
    ),
}

# What the generator steers clear of. Known compiler bugs go here, so that the
# fuzzing keeps finding new ones; each has a strict xfail in
# tests/test_fuzz_regressions.py, and when it is fixed (XPASS) its entry goes.
KNOWN_BUGS = {
    # a helper's v += ... on its own parameter: adcompile refuses every one
    # (tests/test_in_place.py), and the generator cannot tell whether the caller
    # passed a writable array (it may pass np.broadcast_to(...)), so Python fails
    "inplace-argument",
    # h(x, act=lambda z: ...): a function made inside f (a lambda, a nested def) passed
    # as a value to another function is refused ("supported only where it is called")
    "sig-function-local",
    # (the bugs the extensions found are fixed; their regressions pass in
    # tests/test_fuzz_regressions.py)
}
# ADCOMPILE_FUZZ_TRY=tag,tag (or "all") generates what AVOID lists anyway: to see
# whether a fix works, or to find reproducers for the known bugs.
_TRY = {t for t in __import__("os").environ.get("ADCOMPILE_FUZZ_TRY", "").split(",") if t}
AVOID = set() if "all" in _TRY else KNOWN_BUGS - _TRY

# ------------------------------------------------------------------- shapes

Shape = tuple[int, ...]


def fits(s: Shape, target: Shape) -> bool:
    """Whether an operand of shape ``s`` broadcasts into ``target`` (without growing it)."""
    if len(s) > len(target):
        return False
    return all(a == 1 or a == b for a, b in zip(reversed(s), reversed(target)))


def shapes_of_size(n: int) -> list[Shape]:
    """Every shape of up to three axes (sizes 1..6) with ``n`` elements."""
    out: list[Shape] = [()] if n == 1 else []
    for ndim in (1, 2, 3):
        for dims in itertools.product(range(1, 7), repeat=ndim):
            if math.prod(dims) == n:
                out.append(dims)
    return out


# ------------------------------------------------------------------ records


@dataclass
class Layer:
    """A parameter record of the "records" extension, read as ``p.W`` and ``p.b``."""

    W: object
    b: object


Pair = __import__("collections").namedtuple("Pair", ["W", "b"])


def is_record(a) -> bool:
    """Whether ``a`` is a dataclass instance or a namedtuple."""
    if isinstance(a, tuple):
        return hasattr(a, "_fields")
    return dataclasses.is_dataclass(a) and not isinstance(a, type)


def record_fields(a) -> dict:
    """The fields of a record, in order."""
    if isinstance(a, tuple):
        return dict(zip(a._fields, a))
    return {f.name: getattr(a, f.name) for f in dataclasses.fields(a)}


def remade(a, values) -> object:
    """The record ``a`` with its fields, in order, from ``values``."""
    values = list(values)
    if isinstance(a, tuple):
        return type(a)(*values)
    return dataclasses.replace(a, **dict(zip(record_fields(a), values)))


# -------------------------------------------------------------- the program


@dataclass
class Program:
    """A generated module and the call to differentiate."""

    body: str  # the module after its numpy import
    params: list[str]
    args: list  # the arguments (arrays, floats, ints, lists, tuples, dicts)
    wrt: tuple[int, ...]
    autograd_ok: bool = True  # whether autograd can run the program as written
    mutates: bool = False  # an in-place update writes through to shared memory
    specialise: bool = True  # compile code specialised to the shapes (False: general code)
    features: frozenset = frozenset()
    same: tuple[int, ...] = ()  # arguments that are one array passed several times
    rebind: str = ""  # module-level code run between two checks (c = ..., h = h_alt)
    tags: frozenset = frozenset()  # what of the generator's extensions it uses
    # wrt as adcompile is told it, when not by position: 'args[1]' (an entry inside
    # *args), a keyword-only parameter's name
    names: tuple | None = None
    keywords: tuple[str, ...] = ()  # the last parameters, passed by keyword

    def module(self, numpy: str = "numpy") -> str:
        return module_text(self.body, numpy)

    def fresh_args(self) -> list:
        args = [_copy(a) for a in self.args]
        for i in self.same[1:]:
            args[i] = args[self.same[0]]
        return args

    def args_code(self) -> str:
        return "[" + ", ".join(_literal(a) for a in self.args) + "]"

    def regression_test(self, name: str = "test_fuzz_regression") -> str:
        """A pytest function for tests/test_fuzz_regressions.py that checks this program."""
        body = self.body.rstrip("\n").replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        args = self.args_code()
        # (the records of the "records" extension are fuzzgen's classes)
        records = "Layer(" in args or "Pair(" in args
        imports = "    from fuzzgen import Layer, Pair\n\n" if records else ""
        return (
            f"def {name}(tmp_path):\n" + imports + f'    source = """\\\n{body}\n"""\n'
            f"    args = {args}\n"
            f"    check(tmp_path, source, args, wrt={self.wrt!r}"
            + (", mutates=True" if self.mutates else "")
            + ("" if self.specialise else ", specialise=False")
            + (f", same={self.same!r}" if self.same else "")
            + (f", rebind={self.rebind!r}" if self.rebind else "")
            + (f", names={self.names!r}" if self.names is not None else "")
            + (f", keywords={self.keywords!r}" if self.keywords else "")
            + ")\n"
        )

    def __repr__(self) -> str:
        return (
            f"Program(wrt={self.wrt}, autograd_ok={self.autograd_ok}, same={self.same}, "
            f"tags={sorted(self.tags)})\n"
            f"{self.module()}\nargs = {self.args_code()}\n"
            + (f"rebind = {self.rebind!r}\n" if self.rebind else "")
            + "\n"
            f"--- as a regression test ---\n{self.regression_test()}"
        )


# np.meshgrid for autograd, which has no derivative of it: each input along its axis of
# the grid, times ones of the grid's shape
MESHGRID = """\
def meshgrid(*xs, indexing="xy", sparse=False):
    xs = [np.ravel(x) for x in xs]
    axes = list(range(len(xs)))
    if indexing == "xy" and len(xs) > 1:
        axes[0], axes[1] = 1, 0
    grid = [0] * len(xs)
    for i, x in enumerate(xs):
        grid[axes[i]] = x.shape[0]
    out = []
    for i, x in enumerate(xs):
        along = [1] * len(xs)
        along[axes[i]] = -1
        g = np.reshape(x, along)
        out.append(g if sparse else g * np.ones(grid))
    return out
"""


def module_text(body: str, numpy: str = "numpy") -> str:
    """The module of a program: its functions after the imports they use."""
    rules = "\nimport adcompile as ad\n" if "@ad.adjoint(" in body else ""
    if "apply_fn(" in body:  # (the "parameters" extension: a function passed as a value)
        body = f"def apply_fn(fn, *xs, **kw):\n    return fn(*xs, **kw)\n\n\n{body}"
    imports = "import functools\nimport math\n" if "functools." in body else "import math\n"
    if "random.Random(" in body:  # (the "idioms" extension)
        imports += "import random\n"
    if "logging." in body or "LOG." in body:  # (the "validation" extension)
        imports = "import logging\n" + imports
    if "LOG." in body:
        rules += '\nLOG = logging.getLogger("fuzz")\n'
    if numpy != "numpy" and "np.meshgrid(" in body:  # (the "iteration" extension)
        body = MESHGRID + "\n\n" + body.replace("np.meshgrid(", "meshgrid(")
    return f"{imports}\nimport {numpy} as np\n{rules}\n\n{body}"


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


def _literal(a) -> str:
    if is_record(a):
        fields = ", ".join(f"{k}={_literal(v)}" for k, v in record_fields(a).items())
        return f"{type(a).__name__}({fields})"
    if isinstance(a, np.ndarray):
        if a.ndim == 0:
            return f"np.array({float(a)!r})"
        return f"np.array({a.tolist()!r})"
    if isinstance(a, list):
        return "[" + ", ".join(_literal(v) for v in a) + "]"
    if isinstance(a, tuple):
        return "(" + "".join(_literal(v) + ", " for v in a) + ")"
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in a.items()) + "}"
    return repr(a)


# ----------------------------------------------------------------- builder


@dataclass
class Var:
    """A name in scope and what the generator knows about it."""

    name: str
    # "array" (arrays and float scalars), "int", "list", "tuple", "dict", "record" (a
    # dataclass or namedtuple with the fields of ``items``), "records" (a list of them)
    kind: str
    shape: Shape = ()  # arrays; the element shape of a list
    owned: bool = False  # an array nothing else refers to: safe to update in place
    via: str = "alias"  # when not owned: how it shares memory (one of SHARING)
    readonly: bool = False
    items: tuple = ()  # tuple: element shapes; dict: (key, shape) pairs
    length: int | None = None  # lists: the length, when the program fixes it
    bound: int | None = None  # ints: an upper bound (exclusive) of the value
    param: bool = False
    glob: bool = False  # a module-level name: never assigned in a function


# How a value can share its memory with another variable's, from the mildest
# (what adcompile's in-place check handles) to the most hidden.
SHARING = (
    "param",  # a parameter of f (the caller's array)
    "alias",  # another name for the same array (u = v)
    "view",  # a view of another variable's array (u = v[1:], v.T, np.reshape(v, ...))
    "viewed",  # an array that a view of it was taken from
    "joined",  # shares memory on some paths through an if or a loop, not on others
    "ifexp",  # the value of a conditional expression (u = v if c else w)
    "container",  # an element of a list, tuple or dict, or an array put into one
    "call",  # what a helper returned (possibly its argument)
    "max",  # builtin max/min of 0-d arrays (one of them)
    "argument",  # a helper's parameter (the caller's array)
)


@dataclass
class E:
    """A generated expression."""

    code: str
    shape: Shape
    atomic: bool = True  # usable as an operand without parentheses
    owned: bool = True  # evaluates to a new array (not a view or an alias)
    via: str = "alias"  # when not owned: how it shares memory (one of SHARING)
    readonly: bool = False  # a view of np.broadcast_to's result: cannot be written

    def op(self) -> str:
        return self.code if self.atomic else f"({self.code})"


def _call(
    fn: str,
    *args: str,
    owned: bool = True,
    shape: Shape = (),
    via: str = "view",
    readonly: bool = False,
) -> E:
    return E(f"{fn}({', '.join(args)})", shape, True, owned, via, readonly)


@dataclass
class Helper:
    name: str
    params: list[tuple[str, Shape]]
    defaults: dict[str, str]
    returns: list[Shape]  # one shape, or two for a tuple
    aliases: bool = False  # may return (a view of) an argument
    readonly: bool = False
    # how it takes its parameters after the first: "plain", "varargs" (*rest, unpacked
    # in the body), "keyword-only" (after *) or "kwargs" (**kw, read by key)
    style: str = "plain"
    fn_param: str | None = None  # a function parameter with a default (act=np.tanh)


class Unfit(Exception):
    """The drawn option does not apply here; the caller draws another."""


class Builder:
    def __init__(self, draw, features: frozenset) -> None:
        self.draw = draw
        self.features = features
        self.scope: dict[str, Var] = {}
        self.lines: list[str] = []
        self.indent = 1
        self.counter = itertools.count(1)
        self.helpers: list[Helper] = []
        self.autograd_ok = True
        self.loop_depth = 0
        self.locked: set[str] = set()  # updated in place inside the current loop
        # arrays that came to share memory somewhere in the current loop: an update in
        # place later in the body (another branch) may run after it, next iteration
        self.escaped: set[str] = set()
        self.returned = False  # the current block has returned
        self.shape_pool: list[Shape] = []
        self.history: list[str] = []  # names in the order of their assignment
        self.no_calls = False  # in conditions: adcompile refuses calls of user functions
        self.frozen: set[str] = set()  # lists a for loop iterates over: no appends
        self.mutates = False  # an in-place update writes through to shared memory
        self.tags: set[str] = set()  # the extensions' constructs used (EXTENSIONS)
        self.customs: list[str] = []  # helpers with a registered rule (elementwise)
        self.pyfloats: set[str] = set()  # parameters that are Python floats
        self.globals: dict[str, list[str]] = {}  # module-level names, by tag
        self.required: list[str] = []  # terms every result of f includes
        self.modes: list[tuple[str, str]] = []  # string attributes of self, their values
        self.logs = False  # a logging call was written
        self.fn_params: list[str] = []  # function parameters in scope (act=np.tanh)
        self.star = "args"  # the name of f's *args (the "signatures" extension)

    def allowed(self, tag: str) -> bool:
        """Whether the construct ``tag`` of an extension may be generated here."""
        feature = next(k for k, v in EXTENSIONS.items() if tag in v)
        return feature in self.features and tag not in AVOID

    def use(self, tag: str) -> None:
        self.tags.add(tag)

    # ------------------------------------------------------------ drawing

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def pick(self, options):
        options = list(options)
        return options[self.draw(st.integers(0, len(options) - 1))]

    def chance(self, percent: int) -> bool:
        """True with about ``percent`` % probability; shrinks to False."""
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def fresh(self, base: str) -> str:
        return f"{base}{next(self.counter)}"

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    # ------------------------------------------------------------- shapes

    def any_shape(self) -> Shape:
        if self.shape_pool and self.chance(70):
            return self.pick(self.shape_pool)
        ndim = self.int(0, 3)
        return tuple(self.int(1, 3) for _ in range(ndim))

    def sub_shape(self, target: Shape) -> Shape:
        """A shape that broadcasts into ``target``."""
        drop = self.int(0, len(target)) if self.chance(40) else 0
        dims = target[drop:]
        return tuple(1 if (d > 1 and self.chance(25)) else d for d in dims)

    # --------------------------------------------------------- the values

    def arrays(self) -> list[Var]:
        return [v for v in self.scope.values() if v.kind == "array"]

    def ints(self) -> list[Var]:
        return [v for v in self.scope.values() if v.kind == "int"]

    def containers(self, kind: str) -> list[Var]:
        return [v for v in self.scope.values() if v.kind == kind]

    # ------------------------------------------------------- expressions

    def gen(self, target: Shape, depth: int) -> E:
        """An expression whose shape broadcasts into ``target``."""
        if depth <= 0:
            return self.leaf(target)
        ops = [
            self.leaf,
            self.binary,
            self.unary,
            self.leaf,
            self.binary,
            self.unary,
            self.leaf,
            self.binary,
            self.reduce,
            self.index,
            self.matmul,
            self.reshape_like,
            self.where,
            self.clip,
            self.binary_fn,
            self.join,
            self.outer,
            self.element,
            self.call_expr,
            self.if_expr,
            self.math_fn,
            self.linalg,
            self.rearrange,
            self.contract,
        ]
        if self.customs:
            ops += [self.custom_call] * 2
        if "edges" in self.features:
            ops += [self.edge] * 3
        if "builders" in self.features:
            ops += [self.builder] * 2
        if "boolops" in self.features:
            ops += [self.boolop] * 2
        if self.allowed("fourier"):
            ops += [self.fourier] * 2
        if self.allowed("library"):
            ops += [self.library] * 2
        if self.allowed("split"):
            ops += [self.split] * 2
        if self.allowed("random-draw") or self.allowed("random-mask"):
            ops += [self.random] * 2
        for _ in range(4):
            op = self.pick(ops)
            try:
                e = op(target) if op == self.leaf else op(target, depth - 1)
            except Unfit:
                continue
            assert fits(e.shape, target), (e.code, e.shape, target)
            return e
        return self.leaf(target)

    def exact(self, target: Shape, depth: int) -> E:
        """An expression of exactly the shape ``target``."""
        e = self.gen(target, depth)
        if e.shape == target:
            return e
        same = [v for v in self.arrays() if v.shape == target]
        if same and self.chance(50):
            v = self.pick(same)
            op = self.pick(["+", "*", "-"])
            return E(f"{v.name} {op} {e.op()}", target, False, True)
        if self.chance(50):
            return E(f"{e.op()} + np.zeros({target!r})", target, False, True)
        return self.broadcast_to(e, target)

    def broadcast_to(self, e: E, target: Shape) -> E:
        if len(e.shape) < len(target):
            self.autograd_ok = False  # autograd's broadcast_to cannot add leading axes
        return _call(
            "np.broadcast_to", e.code, repr(target), owned=False, shape=target, readonly=True
        )

    def leaf(self, target: Shape) -> E:
        candidates = [v for v in self.arrays() if fits(v.shape, target)]
        roll = self.int(0, 19)
        if candidates and roll < 10:
            v = self.pick(candidates)
            return E(v.name, v.shape, True, False, "alias", v.readonly)
        if self.arrays() and roll < 16:
            return self.adapt(self.pick(self.arrays()), target)
        ints = self.ints()
        if ints and roll == 16:
            # never an int by itself: int arithmetic in a loop (i ** 3 ** ...) can
            # grow without bound where floats would overflow to inf
            i = self.pick(ints).name
            return self.pick([E(f"{i} * 0.5", (), False), E(f"float({i})", ())])
        if self.arrays() and roll < 19:
            fn = self.pick(["np.mean", "np.sum", "np.max"])
            return _call(fn, self.pick(self.arrays()).name)
        c = self.pick(["0.5", "1.5", "2.0", "-0.7", "0.3", "3.0", "np.pi"])
        return E(c, (), not c.startswith("-"), True)

    def adapt(self, v: Var, target: Shape) -> E:
        """``v`` itself, or ``v`` reduced, indexed or reshaped into ``target``."""
        s = v.shape
        if fits(s, target):
            return E(v.name, s, True, False, "alias", v.readonly)
        options: list[E] = []
        for k in range(1, len(s) + 1):
            if fits(s[k:], target):
                axes = tuple(range(k))
                axis = str(axes[0]) if len(axes) == 1 else repr(axes)
                options.append(_call("np.sum", v.name, f"axis={axis}", shape=s[k:]))
                break
        for ax in range(len(s)):
            rest = s[:ax] + s[ax + 1 :]
            if fits(rest, target):
                fn = self.pick(["np.mean", "np.max", "np.sum"])
                options.append(_call(fn, v.name, f"axis={ax}", shape=rest))
        if s and fits(s[1:], target):
            index = f"{v.name}[{self.int(0, s[0] - 1)}]"
            options.append(E(index, s[1:], True, False, "view", v.readonly))
        sized = [t for t in shapes_of_size(math.prod(s)) if t and fits(t, target)]
        if sized:
            t = self.pick(sized)
            options.append(
                _call("np.reshape", v.name, repr(t), owned=False, shape=t, readonly=v.readonly)
            )
        if not options:
            options.append(_call(self.pick(["np.mean", "np.sum"]), v.name))
        return self.pick(options)

    def bounded(self, target: Shape, depth: int) -> E:
        """A value in [-pi/2, pi/2]."""
        a = self.gen(target, depth)
        fn = self.pick(["np.tanh", "np.sin", "np.cos", "np.arctan"])
        return _call(fn, a.code, shape=a.shape)

    def positive(self, target: Shape, depth: int) -> E:
        """A value of at least 0.1 (and at most about 5)."""
        way = self.int(0, 5)
        if way == 0:
            b = self.bounded(target, depth)
            return E(f"{b.op()} * {b.op()} + 0.5", b.shape, False)
        if way == 1:
            b = self.bounded(target, depth)
            return _call("np.exp", b.code, shape=b.shape)
        if way == 2:
            b = self.bounded(target, depth)
            return _call("np.cosh", b.code, shape=b.shape)
        if way == 3:
            a = self.gen(target, depth)
            return E(f"np.abs({a.code}) + 0.5", a.shape, False)
        if way == 4:
            b = self.bounded(target, depth)
            return E(f"np.square({b.code}) + 0.1", b.shape, False)
        b = self.bounded(target, depth)
        return _call("np.logaddexp", b.code, "0.5", shape=b.shape)

    def unit(self, target: Shape, depth: int) -> E:
        """A value in (-0.9, 0.9)."""
        a = self.gen(target, depth)
        way = self.int(0, 2)
        if way == 0:
            return E(f"0.9 * np.tanh({a.code})", a.shape, False)
        if way == 1:
            return E(f"0.5 * np.sin({a.code})", a.shape, False)
        return _call("np.clip", a.code, "-0.9", "0.9", shape=a.shape)

    def unary(self, target: Shape, depth: int) -> E:
        name = self.pick(
            [
                "np.tanh",
                "np.sin",
                "-",
                "np.exp",
                "np.log",
                "np.sqrt",
                "np.square",
                "np.cos",
                "np.arctan",
                "np.abs",
                "abs",
                "np.expm1",
                "np.log1p",
                "np.log2",
                "np.log10",
                "np.reciprocal",
                "np.tan",
                "np.arcsin",
                "np.arccos",
                "np.sinh",
                "np.cosh",
                "np.negative",
                "np.positive",
                "+",
                "np.exp2",
                "np.arcsinh",
                "np.arccosh",
                "np.arctanh",
                "np.fabs",
                "np.sinc",
                "np.rad2deg",
                "np.degrees",
                "np.deg2rad",
                "np.radians",
                "np.nan_to_num",
                "np.real",
                "np.real_if_close",
                "np.conj",
                "np.conjugate",
                "np.imag",
                "np.angle",
            ]
        )
        if name in ("np.exp", "np.expm1", "np.sinh", "np.cosh", "np.exp2"):
            a = self.bounded(target, depth)
        elif name == "np.arccosh":
            p = self.positive(target, depth)
            a = E(f"{p.op()} + 1.0", p.shape, False)
        elif name == "np.arctanh":
            a = self.unit(target, depth)
        elif name == "np.angle":
            # 0 or pi: away from 0, where it jumps
            p = self.positive(target, depth)
            a = E(f"-{p.op()}", p.shape, False) if self.chance(50) else p
        elif name in ("np.log", "np.sqrt", "np.log1p", "np.log2", "np.log10", "np.reciprocal"):
            a = self.positive(target, depth)
        elif name == "np.tan":
            inner = self.gen(target, depth)
            a = _call("np.tanh", inner.code, shape=inner.shape)
        elif name in ("np.arcsin", "np.arccos"):
            a = self.unit(target, depth)
        else:
            a = self.gen(target, depth)
        if name in ("-", "+"):
            if name == "+":
                self.autograd_ok = False  # autograd's arrays have no unary plus
            return E(f"{name}{a.op()}", a.shape, False)
        if name in ("np.nan_to_num", "np.real", "np.real_if_close"):
            # may return its operand itself (a real array's real part is the array)
            return _call(name, a.code, owned=False, shape=a.shape, readonly=a.readonly)
        if name == "np.imag":
            # a real array's imaginary part is a new array of zeros that cannot be written
            # (a complex one's is a view of it)
            return _call(name, a.code, owned=False, shape=a.shape, readonly=True)
        return _call(name, a.code, shape=a.shape)

    def binary(self, target: Shape, depth: int) -> E:
        op = self.pick(["+", "*", "-", "/", "**", "%"])
        a = self.gen(target, depth)
        if op in ("/", "%"):
            b = self.positive(target, depth)
        elif op == "**":
            way = self.int(0, 3)
            if way == 0:
                return E(f"{a.op()} ** 2", a.shape, False)
            if way == 1:
                return E(f"{a.op()} ** 3", a.shape, False)
            base = self.positive(target, depth)
            if way == 2:
                return E(f"{base.op()} ** 0.5", base.shape, False)
            b = self.bounded(target, depth)
            shape = np.broadcast_shapes(base.shape, b.shape)
            return E(f"{base.op()} ** {b.op()}", shape, False)
        else:
            b = self.gen(target, depth)
        shape = np.broadcast_shapes(a.shape, b.shape)
        return E(f"{a.op()} {op} {b.op()}", shape, False)

    def binary_fn(self, target: Shape, depth: int) -> E:
        name = self.pick(
            [
                "np.maximum",
                "np.minimum",
                "np.add",
                "np.multiply",
                "np.subtract",
                "np.divide",
                "np.arctan2",
                "np.logaddexp",
                "np.power",
                "max",
                "min",
                "np.mod",
                "np.remainder",
                "np.fmax",
                "np.fmin",
                "np.hypot",
                "np.logaddexp2",
            ]
        )
        a = self.gen(target, depth)
        if name in ("np.divide", "np.mod", "np.remainder"):
            b = self.positive(target, depth)
        elif name == "np.power":
            a = self.positive(target, depth)
            b = self.bounded(target, depth)
        elif name == "np.hypot":
            # away from the origin, where hypot has a kink
            a = self.positive(target, depth)
            b = self.gen(target, depth)
        else:
            b = self.gen(target, depth)
        if name in ("max", "min"):
            if a.shape != () or b.shape != ():
                raise Unfit
            # builtin max returns one of its arguments itself (a 0-d array stays one)
            return _call(name, a.code, b.code, owned=False, via="max")
        shape = np.broadcast_shapes(a.shape, b.shape)
        return _call(name, a.code, b.code, shape=shape)

    def math_fn(self, target: Shape, depth: int) -> E:
        """math-module spellings of elementwise functions, on scalars."""
        name = self.pick(
            [
                "math.exp",
                "math.sin",
                "math.tanh",
                "math.log",
                "math.sqrt",
                "math.cos",
                "math.atan",
                "math.expm1",
                "math.log1p",
                "math.tan",
                "math.sinh",
                "math.cosh",
                "math.asinh",
                "math.acosh",
                "math.atanh",
                "math.degrees",
                "math.radians",
            ]
        )
        if name in ("math.log", "math.sqrt", "math.log1p"):
            a = self.positive((), depth)
        elif name in ("math.exp", "math.expm1", "math.sinh", "math.cosh"):
            a = self.bounded((), depth)
        elif name == "math.acosh":
            a = E(f"{self.positive((), depth).op()} + 1.0", (), False)
        elif name == "math.atanh":
            a = E(f"0.9 * math.tanh({self.gen((), depth).code})", (), False)
        elif name == "math.tan":
            a = _call("math.tanh", self.gen((), depth).code)
        else:
            a = self.gen((), depth)
        self.autograd_ok = False
        return _call(name, a.code)

    def reduce(self, target: Shape, depth: int) -> E:
        name = self.pick(["sum", "mean", "max", "min", "prod", "var", "std"])
        method = self.chance(30)
        way = self.pick(["all", "axis", "axis", "keepdims", "tuple"])
        extra = []
        if way == "all":
            operand_shape = self.any_shape()
            result: Shape = ()
            axes: tuple = ()
            count = math.prod(operand_shape)
        else:
            result = self.sub_shape(target)
            if way == "keepdims":
                ones = [i for i, d in enumerate(result) if d == 1]
                if not ones:
                    raise Unfit
                k = self.pick(ones)
                n = self.int(1, 3)
                operand_shape = result[:k] + (n,) + result[k + 1 :]
                axes = (k,)
                count = n
            else:
                nax = 2 if way == "tuple" else 1
                if len(result) + nax > 3:
                    raise Unfit
                operand_shape = result
                axes = ()
                count = 1
                for _ in range(nax):
                    k = self.int(0, len(operand_shape))
                    n = self.int(1, 3)
                    operand_shape = operand_shape[:k] + (n,) + operand_shape[k:]
                    axes = tuple(a + (a >= k) for a in axes) + (k,)
                    count *= n
                axes = tuple(sorted(axes))
            ndim = len(operand_shape)
            spelled = [a - ndim if self.chance(30) else a for a in axes]
            axis = str(spelled[0]) if len(spelled) == 1 else f"({spelled[0]}, {spelled[1]})"
            extra.append(axis if (not method and self.chance(40)) else f"axis={axis}")
            if way == "keepdims":
                extra.append("keepdims=True")
        if name in ("var", "std") and count >= 2 and self.chance(30):
            extra.append("ddof=1")
        if name == "prod" and count > 8:
            raise Unfit
        a = self.exact(operand_shape, depth)
        if name == "std" and count > 1:
            # Copies of one value (broadcasting makes them) have a spread that is 0 up
            # to rounding, where std has a kink: its gradient is then +-1/n, not 0, and
            # finite differences cannot tell (docs/numerics.md). Distinct offsets keep
            # the spread away from 0.
            size = math.prod(operand_shape)
            offsets = f"np.reshape(np.arange({size}.0), {operand_shape!r}) * 0.37"
            a = E(f"{a.op()} + {offsets}", operand_shape, False)
        if method and operand_shape:  # Python floats have no methods
            return E(f"{a.op()}.{name}({', '.join(extra)})", result, True, True)
        return _call(f"np.{name}", a.code, *extra, shape=result)

    def index(self, target: Shape, depth: int) -> E:
        result = self.sub_shape(target)
        comps: list[str] = []
        operand: list[int] = []
        for d in result:
            c = self.pick([":", "::-1", "1:", "head", "-tail", "step", "None"])
            if c == "None" and d != 1 or c == "step" and d > 2:
                c = ":"
            if c in (":", "::-1"):
                comps.append(c)
                operand.append(d)
            elif c == "1:":
                comps.append("1:")
                operand.append(d + 1)
            elif c == "head":
                comps.append(f":{d}")
                operand.append(d + self.int(0, 1))
            elif c == "-tail":
                comps.append(f"-{d}:")
                operand.append(d + self.int(0, 1))
            elif c == "step":
                comps.append("::2")
                operand.append(2 * d - self.int(0, 1) if d > 1 else self.int(1, 2))
            else:
                comps.append("None")
        fancy = False
        if not comps and self.chance(20):
            # a list of positions (numpy's advanced indexing, repeats included)
            n = self.int(1, 3)
            comps = [repr([self.int(0, n - 1) for _ in range(2)])]
            operand = [n]
            result = (2,)
            fancy = True
            if not fits(result, target):
                raise Unfit
        # integer indices take away axes of the operand that the result does not have
        lo = 0 if comps else 1
        hi = max(lo, min(2, 3 - len(operand)))
        for _ in range(self.int(lo, hi) if not fancy else 0):
            pos = self.int(0, len(comps))
            n = self.int(1, 3)
            ints = [v for v in self.ints() if v.bound is not None and v.bound <= n]
            if ints and self.chance(25):
                idx = self.pick(ints).name
            else:
                idx = str(self.int(-n, n - 1))
            # the operand axis this index takes goes before the axis of comps[pos]
            before = sum(1 for c in comps[:pos] if c != "None")
            comps.insert(pos, idx)
            operand.insert(before, n)
        if not operand:
            raise Unfit  # only arrays can be indexed (not Python floats)
        if len(comps) >= 2 and comps[0] == ":" and comps[1] != ":" and self.chance(30):
            comps[0] = "..."  # the leading full slice, as an ellipsis
        else:
            while len(comps) > 1 and comps[-1] == ":" and self.chance(50):
                comps.pop()  # trailing full slices can go
        a = self.exact(tuple(operand), depth)
        return E(f"{a.op()}[{', '.join(comps)}]", result, True, fancy, "view", a.readonly)

    def matmul(self, target: Shape, depth: int) -> E:
        k = self.int(1, 3)
        last = target[-1] if target else 1
        last2 = target[-2] if len(target) >= 2 else 1
        cases = ["vv"]
        if len(target) >= 1:
            cases += ["mv", "vm"]
        if len(target) >= 2:
            cases += ["mm", "mm"]
        if len(target) >= 3:
            cases += ["bmm", "dot3"]
        case = self.pick(cases)
        spelling = self.pick(["@", "np.matmul", "np.dot", ".dot"])
        if case == "vv":
            a, b, result = (k,), (k,), ()
        elif case == "mv":
            a, b, result = (last, k), (k,), (last,)
        elif case == "vm":
            a, b, result = (k,), (k, last), (last,)
        elif case == "mm":
            a, b, result = (last2, k), (k, last), (last2, last)
        elif case == "bmm":
            bt = target[-3]
            a, b, result = (bt, last2, k), (k, last), (bt, last2, last)
        else:  # np.dot of n-d operands: dot(a, b)[i, j, m] = sum_k a[i, k] * b[j, k, m]
            a, b, result = (target[-3], k), (last2, k, last), (target[-3], last2, last)
            spelling = "np.dot"
        ea, eb = self.exact(a, depth), self.exact(b, depth)
        if spelling == "@":
            return E(f"{ea.op()} @ {eb.op()}", result, False)
        if spelling == ".dot":
            self.autograd_ok = False
            return E(f"{ea.op()}.dot({eb.code})", result)
        return _call(spelling, ea.code, eb.code, shape=result)

    def outer(self, target: Shape, depth: int) -> E:
        if len(target) < 2:
            raise Unfit
        result = (target[-2], target[-1])
        a = self.exact(self.pick(shapes_of_size(result[0])), depth)
        b = self.exact(self.pick(shapes_of_size(result[1])), depth)
        return _call("np.outer", a.code, b.code, shape=result)

    def linalg(self, target: Shape, depth: int) -> E:
        """A numpy.linalg call on a well-conditioned matrix: ``0.2 * tanh(e)`` (entries
        below 0.2) plus ``diag(3, 4, 5)``, so its Gershgorin discs are disjoint: it is
        invertible, its eigenvalues and singular values real and apart, and (made
        symmetric) it is positive definite. Results whose sign numpy does not fix
        (eigenvectors) are squared."""
        n = target[-1] if target else self.int(1, 3)
        e = self.exact((n, n), depth)
        diag = f"np.eye({n}) * np.arange(3.0, {n + 3}.0)"
        m = f"(0.2 * np.tanh({e.code}) + {diag})"
        s = f"(0.1 * np.tanh({e.code}) + 0.1 * np.tanh({e.code}).T + {diag})"
        vector: list[tuple[str, Shape, bool]] = [
            (f"np.linalg.det({m})", (), True),
            (f"np.linalg.slogdet({m})[1]", (), True),
            (f"np.linalg.norm({m})", (), True),
            (f"np.linalg.matrix_norm({m}, ord='nuc')", (), False),
        ]
        if target:
            b = self.exact((n,), depth).code
            vector += [
                (f"np.linalg.eigh({s})[0]", (n,), True),
                # numpy 2.5 returns eig's real results as complex arrays: np.real
                # makes the program the same on every numpy
                (f"np.real(np.linalg.eig({m})[0])", (n,), False),
                (f"np.linalg.svd({m}, compute_uv=False)", (n,), True),
                (f"np.linalg.solve({m}, {b})", (n,), True),
                (f"np.linalg.lstsq({m}, {b})[0]", (n,), False),
                (f"np.linalg.norm({m}, axis=0)", (n,), True),
                (f"np.linalg.vector_norm({m}, axis=1)", (n,), False),
                (f"np.linalg.eigvalsh({s})", (n,), True),
                (f"np.real(np.linalg.eigvals({m}))", (n,), False),
                (f"np.linalg.svdvals({m})", (n,), False),
            ]
        if len(target) >= 2 and target[-2] == n:
            k = self.int(1, 3)
            left, right = self.exact((n, k), depth).code, self.exact((k, n), depth).code
            vector += [
                (f"np.linalg.inv({m})", (n, n), True),
                (f"np.linalg.pinv({m})", (n, n), True),
                (f"np.linalg.cholesky({s})", (n, n), True),
                (f"np.linalg.eigh({s})[1] ** 2", (n, n), True),
                (f"np.linalg.qr({m})[1]", (n, n), False),
                (f"np.linalg.matrix_power({m}, 2)", (n, n), False),
                (f"np.linalg.multi_dot([{left}, {right}, {m}])", (n, n), False),
            ]
        code, shape, autograd_has = self.pick(vector)
        if not autograd_has:
            self.autograd_ok = False
        return E(code, shape, False)

    def split(self, target: Shape, depth: int) -> E:
        """One piece of an array split in two or three along an axis."""
        if not target:
            raise Unfit
        k = self.int(0, len(target) - 1)
        count = self.int(2, 3)
        whole = list(target)
        whole[k] *= count
        a = self.exact(tuple(whole), depth).code
        piece = self.int(0, count - 1)
        fns = [f"np.split({a}, {count}, axis={k})", f"np.array_split({a}, {count}, axis={k})"]
        if k == 0 and len(target) >= 2:
            fns.append(f"np.vsplit({a}, {count})")
        if (k == 1 and len(target) >= 2) or (k == 0 and len(target) == 1):
            fns.append(f"np.hsplit({a}, {count})")
        if k == 2 and len(target) >= 3:
            fns.append(f"np.dsplit({a}, {count})")
        self.use("split")
        self.autograd_ok = False  # autograd's hsplit fails on vectors
        return E(f"{self.pick(fns)}[{piece}]", target, False, owned=False, via="view")

    def fourier(self, target: Shape, depth: int) -> E:
        """A real value computed through numpy.fft's complex ones: the magnitude, parts or
        phase of a transform, or a transform undone by its inverse."""
        if not target:
            raise Unfit
        e = self.exact(target, depth).code
        n, axes = target[-1], tuple(range(len(target)))
        vector: list[tuple[str, bool]] = [
            (f"np.abs(np.fft.fft({e}))", True),
            (f"np.real(np.fft.ifft({e}) * np.fft.fft({e}))", True),
            (f"np.imag(np.fft.fftn({e}))", True),
            (f"np.abs(np.fft.ifftn({e}))", True),
            (f"np.angle(np.fft.fft({e}) + 3.0)", True),
            (f"np.real(np.fft.fftshift(np.fft.fft({e})))", True),
            (f"np.imag(np.conj(np.fft.ifftshift(np.fft.ifft({e}))))", True),
            (f"np.fft.irfft(np.fft.rfft({e}), {n})", n % 2 == 0),
            (f"np.fft.irfftn(np.fft.rfftn({e}), {target!r}, {axes!r})", n % 2 == 0),
        ]
        if len(target) >= 2:
            s = target[-2:]
            vector += [
                (f"np.abs(np.fft.fft2({e}))", True),
                (f"np.real(np.fft.ifft2({e}))", True),
                (f"np.fft.irfft2(np.fft.rfft2({e}), {s!r})", n % 2 == 0),
            ]
        code, autograd_has = self.pick(vector)
        if not autograd_has:
            self.autograd_ok = False
        self.use("fourier")
        return E(code, target, False)

    def reshape_like(self, target: Shape, depth: int) -> E:
        way = self.pick(
            ["reshape", "transpose", "ravel", "expand_dims", "squeeze", "broadcast_to", "swapaxes"]
        )
        result = self.sub_shape(target)
        if way == "reshape":
            operand = self.pick(shapes_of_size(math.prod(result)))
            a = self.exact(operand, depth)
            dims = list(result)
            if dims and self.chance(30):
                dims[self.int(0, len(dims) - 1)] = -1
            spelled = "(" + "".join(f"{d}, " for d in dims) + ")"
            style = self.int(0, 2)
            if style == 0:
                return _call(
                    "np.reshape", a.code, spelled, owned=False, shape=result, readonly=a.readonly
                )
            if not operand:
                return _call(
                    "np.reshape", a.code, spelled, owned=False, shape=result, readonly=a.readonly
                )
            if style == 1 or not dims:
                return E(f"{a.op()}.reshape({spelled})", result, True, False, "view", a.readonly)
            return E(
                f"{a.op()}.reshape({', '.join(map(str, dims))})",
                result,
                True,
                False,
                "view",
                a.readonly,
            )
        if way == "transpose":
            perm = list(range(len(result)))
            style = self.int(0, 2)
            if style == 2:
                perm = self.draw(st.permutations(perm))
            else:
                perm = perm[::-1]
            operand = [0] * len(result)
            for i, p in enumerate(perm):
                operand[p] = result[i]
            a = self.exact(tuple(operand), depth)
            if style == 0 and result:
                return E(f"{a.op()}.T", result, True, False, "view", a.readonly)
            if style == 1:
                return _call("np.transpose", a.code, owned=False, shape=result, readonly=a.readonly)
            if len(perm) >= 1 and self.chance(50):
                spelled = [p - len(perm) if self.chance(40) else p for p in perm]
                return _call(
                    "np.transpose",
                    a.code,
                    repr(tuple(spelled)),
                    owned=False,
                    shape=result,
                    readonly=a.readonly,
                )
            if len(perm) >= 2:
                return E(
                    f"{a.op()}.transpose({', '.join(map(str, perm))})",
                    result,
                    True,
                    False,
                    "view",
                    a.readonly,
                )
            return _call(
                "np.transpose",
                a.code,
                repr(tuple(perm)),
                owned=False,
                shape=result,
                readonly=a.readonly,
            )
        if way == "swapaxes":
            if len(result) < 2:
                raise Unfit
            i, j = self.int(0, len(result) - 1), self.int(0, len(result) - 1)
            operand = list(result)
            operand[i], operand[j] = operand[j], operand[i]
            a = self.exact(tuple(operand), depth)
            if self.chance(50):
                return E(f"{a.op()}.swapaxes({i}, {j})", result, True, False, "view", a.readonly)
            return _call(
                "np.swapaxes", a.code, str(i), str(-len(result) + j), owned=False, shape=result
            )
        if way == "ravel":
            if len(result) != 1:
                raise Unfit
            a = self.exact(self.pick(shapes_of_size(result[0])), depth)
            style = self.int(0, 2)
            if style == 0 or not a.shape:
                return _call("np.ravel", a.code, owned=False, shape=result, readonly=a.readonly)
            if style == 1:
                return E(f"{a.op()}.ravel()", result, True, False, "view", a.readonly)
            return E(f"{a.op()}.flatten()", result, True, False, "view", a.readonly)
        if way == "expand_dims":
            ones = [i for i, d in enumerate(result) if d == 1]
            if not ones:
                raise Unfit
            k = self.pick(ones)
            a = self.exact(result[:k] + result[k + 1 :], depth)
            axis = k - len(result) if self.chance(30) else k
            return _call(
                "np.expand_dims", a.code, str(axis), owned=False, shape=result, readonly=a.readonly
            )
        if way == "squeeze":
            if len(result) >= 3:
                raise Unfit
            k = self.int(0, len(result))
            operand = result[:k] + (1,) + result[k:]
            a = self.exact(operand, depth)
            if 1 not in result and self.chance(50):
                return _call("np.squeeze", a.code, owned=False, shape=result, readonly=a.readonly)
            if self.chance(50):
                return E(f"{a.op()}.squeeze({k})", result, True, False, "view", a.readonly)
            return _call(
                "np.squeeze", a.code, f"axis={k}", owned=False, shape=result, readonly=a.readonly
            )
        # broadcast_to
        operand = self.sub_shape(result)
        return self.broadcast_to(self.exact(operand, depth), result)

    def distinct(self, shape: Shape, depth: int) -> E:
        """A value of ``shape`` without ties (sort and partition have kinks at ties):
        distinct offsets added to whatever was generated, which may be copies."""
        a = self.exact(shape, depth)
        if math.prod(shape) <= 1:
            return a
        offsets = f"np.reshape(np.arange({math.prod(shape)}.0), {shape!r}) * 0.37"
        return E(f"{a.op()} + {offsets}", shape, False)

    def rearrange(self, target: Shape, depth: int) -> E:
        """Functions that accumulate, sort, move or repeat elements (rules/arrays.py)."""
        result = self.sub_shape(target)
        nd = len(result)
        self.autograd_ok = False  # autograd has no rules for several of these
        way = self.pick(
            ["cumsum", "flip", "roll", "diff", "sort", "triangle", "move", "diag", "repeat"]
            + ["cumprod", "partition", "rot90", "trace", "tile", "pad", "atleast"]
            + ["array", "copy", "gradient", "accumulate", "bincount"]
        )
        if way == "accumulate":  # a running max or min (normalize/rewrites.py)
            if nd == 0:
                raise Unfit
            a = self.distinct(result, depth)
            fn = self.pick(["np.maximum.accumulate", "np.minimum.accumulate"])
            return _call(fn, a.code, f"axis={self.int(0, nd - 1)}", shape=result)
        if way == "bincount":  # sums of weights by bin, an index named twice included
            if nd != 1:
                raise Unfit
            a = self.exact((result[0] + 1,), depth)
            bins = [self.int(0, result[0] - 1) for _ in range(result[0] + 1)] if result[0] else []
            if not bins or a.shape != (result[0] + 1,):
                raise Unfit
            return _call(
                "np.bincount",
                f"np.array({bins!r})",
                f"weights={a.code}",
                f"minlength={result[0]}",
                shape=result,
            )
        if way == "gradient":
            axes = [k for k, d in enumerate(result) if d >= 2]
            if not axes:
                raise Unfit
            k = self.pick(axes)
            a = self.exact(result, depth)
            if nd == 1 and self.chance(50):
                return _call("np.gradient", a.code, shape=result)
            return _call("np.gradient", a.code, "0.5", f"axis={k}", shape=result)
        if way == "array":
            if nd == 0 or result[0] > 3:
                raise Unfit
            pieces = [self.exact(result[1:], depth).code for _ in range(result[0])]
            fn = self.pick(["np.array", "np.asarray"])
            return _call(fn, f"[{', '.join(pieces)}]", shape=result)
        if way == "copy":
            a = self.exact(result, depth)
            style = self.int(0, 3)
            if style == 0:
                return _call("np.copy", a.code, shape=result)
            if style == 1 and nd:
                return E(f"{a.op()}.copy()", result, True, True)
            if style == 2 and nd:
                return E(f"{a.op()}.astype({self.pick(['float', 'np.float64'])})", result)
            # the operand itself (a new array: the function's own)
            return _call("np.asarray", a.code, owned=a.owned, shape=result, readonly=a.readonly)
        if way in ("cumsum", "cumprod"):
            if nd == 0:
                raise Unfit
            a = self.exact(result, depth) if way == "cumsum" else self.bounded(result, depth)
            if a.shape != result:
                raise Unfit
            if nd == 1 and self.chance(50):
                return _call(f"np.{way}", a.code, shape=result)
            return _call(f"np.{way}", a.code, f"axis={self.int(0, nd - 1)}", shape=result)
        if way in ("sort", "partition"):
            if nd == 0:
                raise Unfit
            a = self.distinct(result, depth)
            axis = self.int(0, nd - 1)
            if way == "sort":
                return _call("np.sort", a.code, f"axis={axis}", shape=result)
            return _call("np.partition", a.code, "0", str(axis), shape=result)
        if way == "flip":
            if nd == 0:
                raise Unfit
            a = self.exact(result, depth)
            fn = self.pick(["np.flip", "np.flipud"] + (["np.fliplr"] if nd >= 2 else []))
            args = [a.code, f"axis={self.int(0, nd - 1)}"] if self.chance(50) else [a.code]
            if fn != "np.flip":
                args = [a.code]
            return _call(fn, *args, owned=False, shape=result, readonly=a.readonly)
        if way == "roll":
            a = self.exact(result, depth)
            if nd == 0 or self.chance(30):
                return _call("np.roll", a.code, str(self.int(-2, 2)), shape=result)
            axis = self.int(0, nd - 1)
            return _call("np.roll", a.code, str(self.int(-2, 2)), f"axis={axis}", shape=result)
        if way == "rot90":
            if nd < 2:
                raise Unfit
            a = self.exact((result[1], result[0], *result[2:]), depth)
            return _call("np.rot90", a.code, owned=False, shape=result, readonly=a.readonly)
        if way == "diff":
            if nd == 0:
                raise Unfit
            k = self.int(0, nd - 1)
            operand = result[:k] + (result[k] + 1,) + result[k + 1 :]
            a = self.exact(operand, depth)
            return _call("np.diff", a.code, f"axis={k}", shape=result)
        if way == "triangle":
            if nd < 2:
                raise Unfit
            a = self.exact(result, depth)
            fn = self.pick(["np.triu", "np.tril"])
            return _call(fn, a.code, str(self.int(-1, 1)), shape=result)
        if way == "move":
            if nd < 2:
                raise Unfit
            if self.chance(50):
                a = self.exact(result[-1:] + result[:-1], depth)
                code = ["np.moveaxis", a.code, "0", "-1"]
            else:
                a = self.exact(result[1:] + result[:1], depth)
                code = ["np.rollaxis", a.code, str(nd - 1)]
            return _call(*code, owned=False, shape=result, readonly=a.readonly)
        if way == "diag":
            if nd == 1:
                a = self.exact((result[0], result[0]), depth)
                fn = self.pick(["np.diag", "np.diagonal"])
                return _call(fn, a.code, owned=False, shape=result, readonly=True)
            if nd == 2 and result[0] == result[1]:
                a = self.exact(result[:1], depth)
                return _call("np.diag", a.code, shape=result)
            raise Unfit
        if way == "trace":
            if nd != 0:
                raise Unfit
            n = self.int(1, 3)
            return _call("np.trace", self.exact((n, n), depth).code, shape=result)
        if way in ("repeat", "tile"):
            evens = [k for k, d in enumerate(result) if d % 2 == 0]
            if not evens:
                raise Unfit
            k = self.pick(evens)
            operand = result[:k] + (result[k] // 2,) + result[k + 1 :]
            a = self.exact(operand, depth)
            if way == "repeat":
                return _call("np.repeat", a.code, "2", f"axis={k}", shape=result)
            reps = tuple(2 if i == k else 1 for i in range(nd))
            return _call("np.tile", a.code, repr(reps), shape=result)
        if way == "pad":
            if nd == 0 or min(result) < 3:
                raise Unfit
            a = self.exact(tuple(d - 2 for d in result), depth)
            return _call("np.pad", a.code, "1", shape=result)
        # atleast_1d, _2d, _3d: a view of the operand (of a new array: the function's own)
        if nd == 1 and result[0] == 1:
            a = self.exact((), depth)
            return _call("np.atleast_1d", a.code, owned=a.owned, shape=result, readonly=a.readonly)
        if nd == 2 and result[0] == 1:
            a = self.exact(result[1:], depth)
            return _call("np.atleast_2d", a.code, owned=a.owned, shape=result, readonly=a.readonly)
        if nd == 3 and result[2] == 1:
            a = self.exact(result[:2], depth)
            return _call("np.atleast_3d", a.code, owned=a.owned, shape=result, readonly=a.readonly)
        raise Unfit

    def library(self, target: Shape, depth: int) -> E:
        """Functions that pick elements, order statistics, nan-ignoring reductions,
        signals and polynomials, and a few elementwise and linalg functions
        (rules/selections.py, rules/signal_like.py). Order statistics and extrema take
        values without ties; kinked functions take operands away from their kinks."""
        result = self.sub_shape(target)
        nd = len(result)
        ways = ["reduce", "elementwise", "vdot", "take", "append", "polyval", "linalg"]
        way = self.pick(ways + ["picked", "signal", "stacked", "trapezoid"])
        self.autograd_ok = False  # autograd has rules for few of these
        self.use("library")
        if way == "reduce":
            m = self.int(2, 4)
            a = self.distinct(result + (m,), depth)
            fn = self.pick(["np.ptp", "np.nansum", "np.nanmean", "np.nanmax", "np.nanmin"])
            if self.chance(30):
                fn = self.pick(["np.median", "np.quantile", "np.percentile", "np.average"])
            extra = {"np.quantile": ["0.3"], "np.percentile": ["40.0"]}.get(fn, [])
            if fn == "np.average" and self.chance(60):
                extra = [f"weights=np.abs({self.exact((m,), depth).code}) + 0.5"]
            return _call(fn, a.code, *extra[:1], "axis=-1", shape=result)
        if way == "elementwise":
            p = self.positive(result, depth)
            if self.chance(30):
                return _call("np.cbrt", p.code, shape=p.shape)
            b = self.bounded(result, depth)
            shape = tuple(np.broadcast_shapes(p.shape, b.shape))
            if self.chance(50):
                return _call("np.copysign", p.code, f"-{b.op()} - 2.0", shape=shape)
            return _call("np.float_power", p.code, b.code, shape=shape)
        if way == "vdot":
            if nd:
                raise Unfit
            shape = self.any_shape()
            a, b = self.exact(shape, depth), self.exact(shape, depth)
            return _call("np.vdot", a.code, b.code, shape=())
        if way == "take":
            if not nd:
                raise Unfit
            k = self.int(0, nd - 1)
            a = self.exact(result, depth)
            if self.chance(50):
                picks = [(i * 2 + 1) % result[k] for i in range(result[k])]
                return _call("np.take", a.code, repr(picks), f"axis={k}", shape=result)
            size = math.prod(result)
            index = f"np.reshape(np.arange({size})[::-1] % {result[k]}, {result!r})"
            return _call("np.take_along_axis", a.code, index, str(k), shape=result)
        if way == "append":
            if nd != 1 or result[0] < 2:
                raise Unfit
            j = self.int(1, result[0] - 1)
            if self.chance(50):
                a, b = self.exact((j,), depth), self.exact((result[0] - j,), depth)
                return _call("np.append", a.code, b.code, shape=result)
            a, v = self.exact((result[0] - 1,), depth), self.exact((), depth)
            return _call("np.insert", a.code, str(j), v.code, shape=result)
        if way == "polyval":
            p = self.exact((self.int(1, 4),), depth)
            x = self.bounded(result, depth)
            return _call("np.polyval", p.code, x.code, shape=x.shape)
        if way == "linalg":
            n = result[-1] if nd else self.int(1, 3)
            e = self.exact((n, n), depth)
            m = f"(0.2 * np.tanh({e.code}) + np.eye({n}) * np.arange(3.0, {n + 3}.0))"
            if nd == 0:
                return _call("np.linalg.cond", m, shape=())
            if nd >= 2 and result[-2] == n:
                return _call("np.linalg.tensorinv", m, "ind=1", shape=(n, n))
            b = self.exact((n,), depth)
            return _call("np.linalg.tensorsolve", m, b.code, shape=(n,))
        if way == "picked":  # interp, and the cumulative functions of numpy 2.1
            x = self.bounded(result, depth)
            if nd == 1 and hasattr(np, "cumulative_sum") and self.chance(50):
                fn = self.pick(["np.cumulative_sum", "np.cumulative_prod"])
                return _call(fn, x.code, shape=x.shape)
            fp = self.exact((5,), depth)
            return _call(
                "np.interp", f"{x.op()} * 1.9 + 2.0", "np.arange(5.0)", fp.code, shape=x.shape
            )
        if way == "signal":
            if nd != 1:
                raise Unfit
            n = result[0]
            mode = self.pick(["full", "same", "valid"])
            k = self.int(1, n)
            sizes = {"full": (n - k + 1, k), "same": (n, k), "valid": (n + k - 1, k)}[mode]
            a, v = self.exact(sizes[:1], depth), self.exact(sizes[1:], depth)
            fn = self.pick(["np.convolve", "np.correlate"])
            return _call(fn, a.code, v.code, repr(mode), shape=result)
        if way == "stacked":
            if nd == 2 and result[1] >= 2:
                a, b = self.exact(result[:1], depth), self.exact((result[0], result[1] - 1), depth)
                return _call("np.column_stack", f"[{a.code}, {b.code}]", shape=result)
            if nd == 3 and result[2] >= 2:
                a, b = (
                    self.exact(result[:2], depth),
                    self.exact(result[:2] + (result[2] - 1,), depth),
                )
                return _call("np.dstack", f"[{a.code}, {b.code}]", shape=result)
            raise Unfit
        # trapezoid
        a = self.exact(result + (self.int(2, 4),), depth)
        return _call("np.trapezoid", a.code, "dx=0.5", shape=result)

    def contract(self, target: Shape, depth: int) -> E:
        """einsum, tensordot, inner, kron, cross (rules/contractions.py)."""
        result = self.sub_shape(target)
        nd = len(result)
        way = self.pick(["einsum", "tensordot", "inner", "kron", "cross", "einsum"])
        k = self.int(1, 3)
        if way == "einsum":
            if nd == 2:
                a, b = self.exact((result[0], k), depth), self.exact((k, result[1]), depth)
                spec = self.pick(['"ij,jk->ik"', '"ij,jk"'])
                return _call("np.einsum", spec, a.code, b.code, shape=result)
            if nd == 1:
                a = self.exact((result[0], result[0]), depth)
                b = self.exact((result[0], k), depth)
                return _call("np.einsum", '"ii,ij->i"', a.code, b.code, shape=result)
            if nd == 0:
                a, b = self.exact((k,), depth), self.exact((k,), depth)
                return _call("np.einsum", '"...i,...i"', a.code, b.code, shape=result)
            raise Unfit
        if way == "tensordot":
            if nd != 2:
                raise Unfit
            a, b = self.exact((result[0], k), depth), self.exact((k, result[1]), depth)
            return _call("np.tensordot", a.code, b.code, "1", shape=result)
        if way == "inner":
            if nd != 2:
                raise Unfit
            a, b = self.exact((result[0], k), depth), self.exact((result[1], k), depth)
            return _call("np.inner", a.code, b.code, shape=result)
        if way == "kron":
            if nd != 1 or result[0] % 2:
                raise Unfit
            a, b = self.exact((2,), depth), self.exact((result[0] // 2,), depth)
            return _call("np.kron", a.code, b.code, shape=result)
        if result[-1:] != (3,) or nd > 2:
            raise Unfit
        a, b = self.exact(result, depth), self.exact((3,), depth)
        return _call("np.cross", a.code, b.code, shape=result)

    def join(self, target: Shape, depth: int) -> E:
        result = self.sub_shape(target)
        if not result:
            raise Unfit
        if self.chance(50):  # np.stack: the result has one axis per piece
            axes = [i for i, d in enumerate(result) if d in (2, 3)]
            if not axes:
                raise Unfit
            k = self.pick(axes)
            piece = result[:k] + result[k + 1 :]
            parts = [self.exact(piece, depth).code for _ in range(result[k])]
            axis = k - len(result) if self.chance(30) else k
            seq = "[" + ", ".join(parts) + "]" if self.chance(50) else "(" + ", ".join(parts) + ")"
            return _call("np.stack", seq, f"axis={axis}", shape=result)
        axes = [i for i, d in enumerate(result) if d >= 2]
        if not axes:
            raise Unfit
        k = self.pick(axes)
        first = self.int(1, result[k] - 1)
        sizes = [first, result[k] - first]
        parts = [self.exact(result[:k] + (n,) + result[k + 1 :], depth).code for n in sizes]
        seq = "[" + ", ".join(parts) + "]"
        if k == min(1, len(result) - 1) and self.chance(30):
            # np.hstack joins along axis 1 (axis 0 for 1-d pieces)
            return _call("np.hstack", "(" + ", ".join(parts) + ",)", shape=result)
        if k == 0 and len(result) >= 2 and self.chance(30):
            # np.vstack joins 2-d and higher pieces along axis 0
            return _call("np.vstack", seq, shape=result)
        if self.chance(40):
            return _call("np.concatenate", seq, str(k), shape=result)
        return _call("np.concatenate", seq, f"axis={k}", shape=result)

    def where(self, target: Shape, depth: int) -> E:
        a, b = self.gen(target, depth), self.gen(target, depth)
        op = self.pick([">", "<", ">="])
        x, y = self.gen(target, depth), self.gen(target, depth)
        shape = np.broadcast_shapes(a.shape, b.shape, x.shape, y.shape)
        return _call("np.where", f"{a.op()} {op} {b.op()}", x.code, y.code, shape=shape)

    def clip(self, target: Shape, depth: int) -> E:
        a = self.gen(target, depth)
        lo, hi = self.pick([("-0.5", "0.5"), ("0.0", "1.0"), ("None", "0.5"), ("-0.3", "None")])
        if self.chance(20):
            # bounds that are themselves differentiated (autograd has no rule for them)
            b = self.gen(target, depth)
            lo, hi = b.code, f"{b.op()} + 1.0"
            self.autograd_ok = False
            shape = np.broadcast_shapes(a.shape, b.shape)
            return _call("np.clip", a.code, lo, hi, shape=shape)
        if self.chance(30) and lo != "None" and a.shape:
            return E(f"{a.op()}.clip({lo}, {hi})", a.shape, True, True)
        return _call("np.clip", a.code, lo, hi, shape=a.shape)

    def element(self, target: Shape, depth: int) -> E:
        """An element of a list, tuple or dict, or the sum of a list."""
        options: list[E] = []
        for v in self.scope.values():
            if v.kind == "list" and fits(v.shape, target):
                options += [E(f"{v.name}[0]", v.shape, True, False, "container", v.readonly)]
                options += [E(f"{v.name}[-1]", v.shape, True, False, "container", v.readonly)]
                options += [E(f"sum({v.name})", v.shape)]
                if v.length is not None and v.length >= 2:
                    options.append(E(f"{v.name}[1]", v.shape, True, False, "container", v.readonly))
            elif v.kind == "tuple":
                for i, s in enumerate(v.items):
                    if fits(s, target):
                        options.append(E(f"{v.name}[{i}]", s, True, False, "container", v.readonly))
            elif v.kind == "dict":
                for k, s in v.items:
                    if fits(s, target):
                        options.append(E(f"{v.name}[{k!r}]", s, True, False, "container"))
            elif v.kind == "record":  # (the "records" extension: p.W, p.b)
                for k, s in v.items:
                    if fits(s, target):
                        options.append(E(f"{v.name}.{k}", s, True, False, "container"))
        if not options:
            raise Unfit
        return self.pick(options)

    def call_expr(self, target: Shape, depth: int) -> E:
        if self.no_calls:
            raise Unfit
        helpers = [h for h in self.helpers if len(h.returns) == 1 and fits(h.returns[0], target)]
        if not helpers:
            raise Unfit
        h = self.pick(helpers)
        code = self.call_code(h, depth)
        return E(code, h.returns[0], True, _owned(h, code), "call", h.readonly)

    def call_code(self, h: Helper, depth: int) -> str:
        """A call of ``h``: some arguments by position, the rest by keyword or left out."""
        if h.style != "plain":
            return self.styled_call(h, depth)
        split = self.int(0, len(h.params))
        split = max(split, 1 if len(h.params) > 0 and self.chance(70) else split)
        args = []
        for i, (p, shape) in enumerate(h.params):
            if i >= split and p in h.defaults and self.chance(50):
                continue  # the default
            code = self.exact(shape, depth).code
            args.append(code if i < split else f"{p}={code}")
        if h.fn_param is not None and self.chance(50):  # a function passed as a value
            fn = self.pick(self.fn_values())
            if fn.startswith("lambda"):
                fn = f"({fn})"
                self.use("sig-function-local")
            if split == len(h.params) and self.chance(50):
                args.append(fn)
            else:
                args.append(f"{h.fn_param}={fn}")
        text = f"{h.name}({', '.join(args)})"
        if h.aliases:
            self.forget_owner(text, "call")
        return text

    def styled_call(self, h: Helper, depth: int) -> str:
        """A call of a helper with *rest, keyword-only parameters or **kw: the rest
        spelled out, or passed as ``*(tuple)`` / ``**{dict}`` / ``**dict(...)``; now and
        then through ``apply_fn(h, ...)`` (a function passed as a value) or ``h_half``
        (a module-level functools.partial binding h's last parameter)."""
        first = self.exact(h.params[0][1], depth).code
        rest = [(p, self.exact(shape, depth).code) for p, shape in h.params[1:]]
        if h.style == "varargs":
            parts = [code for _, code in rest]
            if parts and self.chance(40):
                tail = f"*({', '.join(parts)},)"
            else:
                tail = ", ".join(parts)
            args = [first, tail] if tail else [first]
        else:
            way = self.int(0, 2) if h.style == "kwargs" else 0
            if way == 1 and rest:
                items = ", ".join(f"{p!r}: {code}" for p, code in rest)
                args = [first, f"**{{{items}}}"]
            elif way == 2 and rest:
                args = [first, f"**dict({', '.join(f'{p}={code}' for p, code in rest)})"]
            else:
                args = [first, *(f"{p}={code}" for p, code in rest)]
        partial = h.style != "varargs" and len(h.params) >= 2 and h.params[-1][1] == ()
        if partial and self.allowed("param-partial") and self.chance(25):
            self.use("param-partial")
            # h_half binds the last parameter to 0.5; the others are passed as for h
            named = ", ".join(f"{p}={code}" for p, code in rest[:-1])
            return f"{h.name}_half({first}{', ' if named else ''}{named})"
        if self.allowed("param-apply") and self.chance(30):
            self.use("param-apply")
            return f"apply_fn({h.name}, {', '.join(args)})"
        return f"{h.name}({', '.join(args)})"

    def stmt_pack(self, depth: int) -> None:
        """``t = (a,) + (b, c)`` unpacked, or ``d = {"p": a, "q": b}`` read by key."""
        a = self.gen(self.any_shape(), self.expr_depth())
        b = self.gen(self.any_shape(), self.expr_depth())
        n1, n2 = self.fresh("v"), self.fresh("v")
        ways = [w for w in ("param-tuple-concat", "param-dict") if self.allowed(w)]
        way = self.pick(ways)
        self.use(way)
        if way == "param-tuple-concat":
            t = self.fresh("t")
            self.emit(f"{t} = ({a.code},) + ({b.code},)")
            self.emit(f"{n1}, {n2} = {t}[1:] + {t}[:1]")
            shapes = (b.shape, a.shape)
        else:
            d = self.fresh("d")
            self.emit(f'{d} = {{"p": {a.code}, "q": {b.code}}}')
            self.emit(f'{n1}, {n2} = {d}["q"], {d}["p"]')
            shapes = (b.shape, a.shape)
        for n, shape in zip((n1, n2), shapes):
            # (elements of a container: they share the arrays, as an alias does)
            self.scope[n] = Var(n, "array", shape, False, "alias", a.readonly or b.readonly)
        self.history += [n1, n2]

    def if_expr(self, target: Shape, depth: int) -> E:
        a, b = self.exact(target, depth), self.exact(target, depth)
        cond = self.condition(depth)
        return E(
            f"{a.op()} if {cond} else {b.op()}",
            target,
            False,
            False,
            "ifexp",
            a.readonly or b.readonly,
        )

    def condition(self, depth: int) -> str:
        # (the "methods" extension calls self.forward in conditions too)
        method = any(h.name == "self.forward" for h in self.helpers)
        calls = (self.allowed("cond-call") or method) and self.chance(50)
        outer, self.no_calls = self.no_calls, not calls
        try:
            if calls and self.helpers and self.chance(60):
                test = self.call_condition(depth)
            else:
                test = self._condition(depth)
        finally:
            self.no_calls = outer
        if calls and any(_mentions(test, h.name) for h in self.helpers):
            self.use("method-condition" if method else "cond-call")
        return test

    def call_condition(self, depth: int) -> str:
        """A test on what a user function returns (the "conditions" extension)."""
        h = self.pick([h for h in self.helpers])
        code = self.call_code(h, max(depth - 1, 0))
        if len(h.returns) > 1:
            code = f"{code}[{self.int(0, len(h.returns) - 1)}]"
        c = self.pick(["0.0", "0.5", "-0.5", "1.0"])
        fn = self.pick(["np.sum", "np.mean", "np.max"])
        return f"{fn}({code}) {self.pick(['>', '<'])} {c}"

    def _condition(self, depth: int) -> str:
        a = self.gen(self.any_shape(), max(depth - 1, 0))
        way = self.int(0, 4)
        c = self.pick(["0.0", "0.5", "-0.5", "1.0"])
        if way == 0 or a.shape != () and way != 4:
            fn = self.pick(["np.sum", "np.mean", "np.max", "np.min"])
            test = f"{fn}({a.code}) > {c}"
        elif way == 4:
            test = f"np.mean({a.code}) < {c}"
        else:
            test = f"{a.op()} > {c}"
        if self.chance(15):
            b = self.gen((), 0)
            test = f"{test} {self.pick(['and', 'or'])} {b.op()} < 1.0"
        if self.chance(10):
            test = f"not {test}" if " and " not in test and " or " not in test else test
        return test

    # ---------------------------------------------------------- statements

    def can_update_in_place(self, v: Var) -> bool:
        """Whether ``v += ...`` may be written: always for an array nothing else refers
        to; with the "inplace" feature also for shared ones (where Python writes through
        to the other variables, and adcompile must refuse or get that right)."""
        if v.kind != "array" or v.readonly or v.glob:
            return False
        if v.owned and not v.param and v.name not in self.escaped:
            return True
        return "inplace" in self.features and f"inplace-{v.via}" not in AVOID

    def may_share(self, via: str) -> bool:
        """Whether a variable updated in place in the current loop may come to share
        memory by ``via``: the next iteration updates it in place again."""
        return "inplace" in self.features and f"inplace-{via}" not in AVOID

    def forget_owner(self, code: str, via: str) -> None:
        """``code`` lets the arrays it names escape (alias, view, list element...)."""
        for v in self.scope.values():
            if v.kind == "array" and _mentions(code, v.name):
                if v.name in self.locked and not self.may_share(via):
                    raise Unfit
                if self.loop_depth > 0:
                    self.escaped.add(v.name)
                if v.owned or SHARING.index(via) > SHARING.index(v.via):
                    v.via = via
                v.owned = False

    def share(self, e: E, via: str | None = None) -> str:
        """The value of ``e`` is now held by a variable (or a container, with ``via``):
        mark what it shares memory with; returns how the holder shares it."""
        if e.owned:
            return e.via
        vias = [via or e.via] + [
            v.via for v in self.arrays() if not v.owned and _mentions(e.code, v.name)
        ]
        worst = max(vias, key=SHARING.index)
        # the holder of a view is a view; what it was taken from is "viewed"
        self.forget_owner(e.code, "viewed" if worst == "view" else worst)
        return worst

    def block(self, count: int, depth: int) -> None:
        for _ in range(count):
            if self.returned:
                return
            self.statement(depth)

    def statement(self, depth: int) -> None:
        kinds = ["assign", "assign", "reassign", "augmented", "unpack", "alias"]
        if "control" in self.features and depth > 0:
            kinds += ["if", "for", "while", "if"]
            if self.loop_depth == 0 and self.indent > 1 and not self.in_helper:
                kinds.append("return")
            if self.loop_depth > 0:
                kinds += ["break", "continue"] + ["reassign_pair"] * 4
        if "containers" in self.features:
            kinds += ["list", "append", "append"]
            if depth > 0 and "control" in self.features:
                kinds.append("for_list")
        if "calls" in self.features and self.helpers:
            kinds += ["call", "call"]
        if self.allowed("tuple-list-append"):
            kinds += ["tuple_list"] * 2
        if self.allowed("list-alias-append"):
            kinds += ["list_alias"] * 2
        if self.allowed("sugar-listcomp") and "containers" in self.features:
            kinds += ["comprehension"] * 2
        if self.allowed("sugar-lambda"):
            kinds += ["lambda"] * 2
        if self.allowed("sugar-loop-var"):
            kinds += ["loop_only"]
        if self.allowed("sugar-effect"):
            kinds += ["effect"]
        if any(self.allowed(t) for t in EXTENSIONS["element-assign"]):
            kinds += ["element_assign"] * 2
        if self.allowed("param-tuple-concat") or self.allowed("param-dict"):
            kinds += ["pack"] * 2
        if any(self.allowed(t) for t in EXTENSIONS["closures"]):
            kinds += ["closure"] * 2
        if any(self.allowed(t) for t in EXTENSIONS["comprehensions"]):
            kinds += ["filtered"] * 2
        if any(self.allowed(t) for t in EXTENSIONS["validation"]):
            kinds += ["validate"]
        if self.containers("records"):
            kinds += ["record_loop"] * 2
        if self.allowed("idiom-select"):
            kinds += ["select"] * 2
        if self.allowed("idiom-map-sum") or self.allowed("idiom-map-list"):
            kinds += ["map"] * 2
        if self.allowed("idiom-chain"):
            kinds += ["chain"] * 2
        if self.allowed("idiom-pyrandom"):
            kinds += ["pyrandom"] * 2
        if self.modes:
            kinds += ["mode"] * 3
        if self.fn_params:
            kinds += ["act"] * 2
        if self.allowed("sig-isinstance") and not self.in_helper:
            kinds += ["isinstance"] * 2
        if self.allowed("sig-partial") and self.helpers:
            kinds += ["partial"] * 2
        if self.allowed("sig-function-tuple"):
            kinds += ["function_tuple"] * 2
        if any(self.allowed(t) for t in EXTENSIONS["iteration"]):
            kinds += ["iteration"] * 3
        for _ in range(5):
            kind = self.pick(kinds)
            mark = len(self.lines)
            saved = {k: _clone(v) for k, v in self.scope.items()}
            state = (
                self.indent,
                self.loop_depth,
                set(self.locked),
                set(self.frozen),
                set(self.escaped),
                set(self.tags),
            )
            try:
                getattr(self, "stmt_" + kind)(depth)
                return
            except Unfit:
                del self.lines[mark:]
                self.scope = saved
                (
                    self.indent,
                    self.loop_depth,
                    self.locked,
                    self.frozen,
                    self.escaped,
                    self.tags,
                ) = state
        self.emit("pass")

    in_helper = False

    def expr_depth(self) -> int:
        return self.int(0, 2)

    def stmt_assign(self, depth: int) -> None:
        e = self.gen(self.any_shape(), self.expr_depth() + 1)
        name = self.fresh("v")
        self.emit(f"{name} = {e.code}")
        via = self.share(e)
        self.scope[name] = Var(name, "array", e.shape, e.owned, via, e.readonly)
        self.history.append(name)
        if e.shape not in self.shape_pool:
            self.shape_pool.append(e.shape)

    def stmt_reassign(self, depth: int) -> None:
        targets = [v for v in self.arrays() if not v.glob]
        if not targets:
            raise Unfit
        v = self.pick(targets)
        e = self.exact(v.shape, self.expr_depth() + 1)
        if v.name in self.locked and (e.readonly or not (e.owned or self.may_share(e.via))):
            raise Unfit
        self.emit(f"{v.name} = {e.code}")
        v.owned, v.via, v.readonly = e.owned, self.share(e), e.readonly
        self.history.append(v.name)

    def stmt_reassign_pair(self, depth: int) -> None:
        """``u, v = e1, e2``: two variables reassigned at once, each expression reading
        the old values (in a loop: values carried into the next iteration, whose copies
        at the iteration's end must not overwrite one another)."""
        targets = [v for v in self.arrays() if not v.glob]
        if len(targets) < 2:
            raise Unfit
        u = self.pick(targets)
        alike = [w for w in targets if w.shape == u.shape and w.name != u.name]
        v = self.pick(alike) if alike and self.chance(70) else self.pick(targets)
        if u.name == v.name:
            raise Unfit
        # the old value of one of them, often: `u, v = v, f(u)`
        e1 = E(v.name, v.shape) if v.shape == u.shape and self.chance(40) else None
        e1 = e1 or self.exact(u.shape, self.expr_depth() + 1)
        e2 = self.exact(v.shape, self.expr_depth() + 1)
        if self.chance(40) and u.shape == v.shape:
            e2 = E(u.name, u.shape, True, False, "alias", u.readonly)
        if e1.code == v.name:
            e1 = E(v.name, v.shape, True, False, "alias", v.readonly)
        for w, e in ((u, e1), (v, e2)):
            if w.name in self.locked and (e.readonly or not (e.owned or self.may_share(e.via))):
                raise Unfit
        misjudged = "inplace-tuple-assignment" in AVOID and _mentions(e2.code, u.name)
        if misjudged and self.locked:
            raise Unfit  # an in-place update earlier in the loop runs on these next time
        self.emit(f"{u.name}, {v.name} = {e1.code}, {e2.code}")
        via1, via2 = self.share(e1), self.share(e2)
        u.owned, u.via, u.readonly = e1.owned, via1, e1.readonly
        v.owned, v.via, v.readonly = e2.owned, via2, e2.readonly
        if misjudged:
            # no in-place update of what the known bug may misjudge (see AVOID)
            for w in self.arrays():
                if w is u or w is v or not w.owned:
                    w.readonly = True
        self.history += [u.name, v.name]

    def stmt_augmented(self, depth: int) -> None:
        targets = [v for v in self.arrays() if self.can_update_in_place(v)]
        if not targets:
            raise Unfit
        v = self.pick(targets)
        op = self.pick(["+=", "*=", "-=", "/="])
        if op == "/=":
            e = self.positive(v.shape, self.expr_depth())
        else:
            e = self.gen(v.shape, self.expr_depth())
        self.emit(f"{v.name} {op} {e.code}")
        self.history.append(v.name)
        if not v.owned or v.param or v.name in self.escaped:
            self.mutates = True  # Python writes through to what shares v's memory
            self.autograd_ok = False  # autograd's arrays are never written in place
        if self.loop_depth > 0:
            self.locked.add(v.name)  # the next iteration updates it in place again

    def stmt_unpack(self, depth: int) -> None:
        a = self.gen(self.any_shape(), self.expr_depth())
        b = self.gen(self.any_shape(), self.expr_depth())
        n1, n2 = self.fresh("v"), self.fresh("v")
        self.emit(f"{n1}, {n2} = {a.code}, {b.code}")
        via_a, via_b = self.share(a), self.share(b)
        self.scope[n1] = Var(n1, "array", a.shape, a.owned, via_a, a.readonly)
        self.scope[n2] = Var(n2, "array", b.shape, b.owned, via_b, b.readonly)
        self.history += [n1, n2]

    def stmt_alias(self, depth: int) -> None:
        if not self.arrays():
            raise Unfit
        v = self.pick(self.arrays())
        if v.name in self.locked and not self.may_share("alias"):
            raise Unfit
        name = self.fresh("v")
        self.emit(f"{name} = {v.name}")
        via = self.share(E(v.name, v.shape, True, False, "alias", v.readonly))
        self.scope[name] = Var(name, "array", v.shape, False, via, v.readonly)

    def stmt_return(self, depth: int) -> None:
        self.emit(f"return {self.result()}")
        self.returned = True

    def stmt_break(self, depth: int) -> None:
        self.emit(f"if {self.condition(0)}:")
        self.indent += 1
        self.emit(self.pick(["break", "continue"]))
        self.indent -= 1

    stmt_continue = stmt_break

    def arm(self, count: int, depth: int, tail=None) -> tuple[dict[str, Var], bool]:
        """Generate one indented block; returns the scope at its end and whether it returned."""
        before = {k: _clone(v) for k, v in self.scope.items()}
        self.indent += 1
        self.returned = False
        self.block(count, depth - 1)
        if tail is not None and not self.returned:
            tail()  # the block's last lines, written by the caller
        self.indent -= 1
        end, returned = self.scope, self.returned
        self.scope = before
        self.returned = False
        return end, returned

    def merge(self, ends: list[dict[str, Var]]) -> None:
        """The scope after branches that ended with the scopes ``ends``."""
        if not ends:
            self.returned = True
            return
        merged = {}
        for name, v in ends[0].items():
            others = [e.get(name) for e in ends[1:]]
            if any(o is None or o.kind != v.kind or o.shape != v.shape for o in others):
                continue
            if name not in self.scope and v.kind != "array":
                continue  # a container made in one branch only
            v = _clone(v)
            v.owned = all(e[name].owned for e in ends) and (
                self.scope[name].owned if name in self.scope else True
            )
            unowned = [e[name] for e in ends if not e[name].owned]
            if name in self.scope and not self.scope[name].owned:
                unowned.append(self.scope[name])
            if unowned:
                v.via = max((u.via for u in unowned), key=SHARING.index)
                states = {(e[name].owned, e[name].via) for e in ends}
                if len(states) > 1 and SHARING.index(v.via) < SHARING.index("joined"):
                    v.via = "joined"  # what it shares depends on the path taken
            v.readonly = any(e[name].readonly for e in ends)
            if v.kind == "list":
                lengths = {e[name].length for e in ends}
                v.length = lengths.pop() if len(lengths) == 1 else None
            merged[name] = v
        for name, v in self.scope.items():
            if name not in merged and v.kind != "array":
                merged[name] = v  # a container is never dropped (but may have grown)
        self.scope = merged

    def stmt_if(self, depth: int) -> None:
        self.emit(f"if {self.condition(1)}:")
        ends = []
        end, returned = self.arm(self.int(1, 3), depth)
        if not returned:
            ends.append(end)
        arms = self.int(0, 2)
        for i in range(arms):
            if i < arms - 1:
                self.emit(f"elif {self.condition(1)}:")
            else:
                self.emit("else:")
            end, ret = self.arm(self.int(1, 2), depth)
            if not ret:
                ends.append(end)
        if arms == 0:
            ends.append({k: _clone(v) for k, v in self.scope.items()})
        self.merge(ends)

    def loop_body(self, depth: int, tail=None) -> None:
        before = {k: _clone(v) for k, v in self.scope.items()}
        locked = set(self.locked)
        self.loop_depth += 1
        end, _ = self.arm(self.int(1 if tail is None else 0, 3), depth, tail)
        self.loop_depth -= 1
        # after the loop: what existed before, with the shapes it keeps; owned only
        # if owned both before the loop and at the end of the body
        after = {}
        for name, v in before.items():
            w = end.get(name, v)
            w = _clone(w)
            if w.kind == "array":
                if not v.owned and (w.owned or SHARING.index(v.via) > SHARING.index(w.via)):
                    w.via = v.via
                changed = (v.owned, v.via) != (w.owned, w.via)
                if changed and not (v.owned and w.owned):
                    if SHARING.index(w.via) < SHARING.index("joined"):
                        w.via = "joined"  # the loop may or may not have run
                w.owned = v.owned and w.owned
                w.readonly = v.readonly or w.readonly
            if w.kind == "list":
                w.length = None if w.length != v.length else v.length
            after[name] = w
        self.scope = after
        if self.loop_depth == 0:
            self.locked = set()
            self.escaped = set()
        else:
            self.locked = locked | self.locked

    def stmt_for(self, depth: int, tail=None) -> None:
        i = self.fresh("i")
        way = self.int(0, 2)
        ints = [v for v in self.ints() if v.param]
        if way == 2 and ints:
            n = self.pick(ints)
            header, bound = f"range({n.name})", n.bound
        elif way == 1:
            start = self.int(0, 2)
            stop = self.int(start + 1, 4)
            header, bound = f"range({start}, {stop})", stop
        else:
            n = self.int(1, 3)
            header, bound = f"range({n})", n
        self.emit(f"for {i} in {header}:")
        self.scope[i] = Var(i, "int", bound=bound)
        self.loop_body(depth, tail)
        self.scope.pop(i, None)

    def stmt_for_list(self, depth: int, tail=None) -> None:
        lists = self.containers("list")
        if not lists:
            raise Unfit
        xs = self.pick(lists)
        w = self.fresh("w")
        way = self.int(0, 4 if self.allowed("sugar-iter") else 2)
        ys = xs
        if way == 0:
            self.emit(f"for {w} in {xs.name}:")
            names = [w]
        elif way == 3:
            self.use("sugar-iter")
            self.emit(f"for {w} in reversed({xs.name}):")
            names = [w]
        elif way == 4:
            self.use("sugar-iter")
            i, ys, u = self.fresh("i"), self.pick(lists), self.fresh("w")
            self.emit(f"for {i}, ({w}, {u}) in enumerate(zip(reversed({xs.name}), {ys.name})):")
            self.scope[i] = Var(i, "int", bound=xs.length)
            self.scope[u] = Var(u, "array", ys.shape, False, "container", ys.readonly)
            names = [w, u, i]
        elif way == 1:
            i = self.fresh("i")
            self.emit(f"for {i}, {w} in enumerate({xs.name}):")
            self.scope[i] = Var(i, "int", bound=xs.length)
            names = [w, i]
        else:
            ys = self.pick(lists)
            u = self.fresh("w")
            self.emit(f"for {w}, {u} in zip({xs.name}, {ys.name}):")
            self.scope[u] = Var(u, "array", ys.shape, False, "container", ys.readonly)
            names = [w, u]
        self.scope[w] = Var(w, "array", xs.shape, False, "container", xs.readonly)
        frozen = set(self.frozen)
        self.frozen |= {xs.name, ys.name}
        self.loop_body(depth, tail)
        self.frozen = frozen
        for name in names:
            self.scope.pop(name, None)

    def stmt_while(self, depth: int, tail=None) -> None:
        k = self.fresh("k")
        limit = self.int(1, 4)
        self.emit(f"{k} = 0")
        if self.chance(50):
            self.emit(f"while {k} < {limit}:")
        else:
            test = self.condition(1)
            if " or " in test:
                test = f"({test})"
            self.emit(f"while {test} and {k} < {limit}:")
        self.scope[k] = Var(k, "int", bound=limit + 1)
        self.indent += 1
        self.emit(f"{k} = {k} + 1" if self.chance(50) else f"{k} += 1")
        self.indent -= 1
        self.loop_body(depth, tail)
        self.scope.pop(k, None)

    def stmt_comprehension(self, depth: int) -> None:
        """``c = [e(w) for w in xs if ...]`` or ``c = sum(e(w) for w in xs)``."""
        lists = [v for v in self.containers("list") if v.length]
        if not lists:
            raise Unfit
        xs = self.pick(lists)
        w = self.fresh("w")
        saved = dict(self.scope)
        self.scope[w] = Var(w, "array", xs.shape, False, "container", xs.readonly)
        e = self.exact(self.any_shape(), self.expr_depth() + 1)
        self.scope = saved
        name = self.fresh("c")
        if self.chance(50):
            self.use("sugar-listcomp")
            self.emit(f"{name} = [{e.code} for {w} in {xs.name}]")
            self.scope[name] = Var(name, "list", e.shape, readonly=e.readonly, length=xs.length)
        else:
            self.use("sugar-genexp")
            self.emit(f"{name} = sum({e.code} for {w} in {xs.name})")
            self.scope[name] = Var(name, "array", e.shape, False, "call")
        self.history.append(name)

    def stmt_lambda(self, depth: int) -> None:
        """``g = lambda t: e(t, closed-over arrays)``, called at once on an array."""
        shape = self.any_shape()
        arrays = [v for v in self.arrays() if v.shape == shape]
        if not arrays:
            raise Unfit
        arg = self.pick(arrays)
        t = self.fresh("t")
        saved = dict(self.scope)
        self.scope[t] = Var(t, "array", shape, False, "argument")
        e = self.exact(self.any_shape(), self.expr_depth() + 1)
        self.scope = saved
        g, name = self.fresh("g"), self.fresh("v")
        self.use("sugar-lambda")
        self.emit(f"{g} = lambda {t}: {e.code}")
        self.emit(f"{name} = {g}({arg.name})")
        self.scope[name] = Var(name, "array", e.shape, False, "call")
        self.history.append(name)

    def stmt_loop_only(self, depth: int) -> None:
        """``for i in range(n): v = e(i)``, then ``v`` read after the loop."""
        i, v, n = self.fresh("i"), self.fresh("v"), self.int(1, 3)
        self.use("sugar-loop-var")
        self.emit(f"for {i} in range({n}):")
        self.indent += 1
        self.scope[i] = Var(i, "int", bound=n)
        e = self.gen(self.any_shape(), self.expr_depth() + 1)
        self.emit(f"{v} = {e.code}")
        self.indent -= 1
        self.scope.pop(i, None)
        via = self.share(e)
        self.scope[v] = Var(v, "array", e.shape, e.owned, via, e.readonly)
        self.history.append(v)

    def stmt_effect(self, depth: int) -> None:
        """An assert on a shape, a print, or an assignment inside ``with np.errstate``."""
        arrays = self.arrays()
        if not arrays:
            raise Unfit
        v = self.pick(arrays)
        self.use("sugar-effect")
        way = self.int(0, 2)
        if way == 0:
            self.emit(f"assert np.shape({v.name}) == {v.shape!r}, 'shape'")
        elif way == 1:
            self.emit(f"print('{v.name}', np.shape({v.name}))")
        else:
            self.emit('with np.errstate(all="ignore"):')
            self.indent += 1
            self.stmt_assign(depth)
            self.indent -= 1

    def stmt_closure(self, depth: int) -> None:
        """``def g(t): ...`` in the function, reading its arrays, then called: at once, in
        a loop, or after a name the closure reads is rebound (the "closures" extension)."""
        ways = [w for w in EXTENSIONS["closures"] if self.allowed(w)]
        way = self.pick(ways)
        shape = self.any_shape()
        g, t = self.fresh("g"), self.fresh("t")
        mark = len(self.lines)
        self.emit(f"def {g}({t}):")
        saved = {k: _clone(v) for k, v in self.scope.items()}
        history = list(self.history)
        self.indent += 1
        self.scope[t] = Var(t, "array", shape, False, "argument", param=True)
        for _ in range(self.int(0, 2)):
            self.stmt_assign(depth)  # (fresh names only: a closure's own locals)
        out = self.exact(self.any_shape(), self.expr_depth() + 1)
        self.emit(f"return {out.code}")
        self.indent -= 1
        body = "\n".join(self.lines[mark:])
        # the values the closure read now share memory with what it returns
        self.scope = {k: v for k, v in self.scope.items() if k in saved}
        self.history = history
        closed = [v for v in self.arrays() if not v.glob and _mentions(body, v.name)]
        arg = self.exact(shape, self.expr_depth())
        name = self.fresh("v")
        if way == "closure-late" and closed:
            v = self.pick(closed)
            e = self.exact(v.shape, self.expr_depth())
            if v.name in self.locked and (e.readonly or not (e.owned or self.may_share(e.via))):
                raise Unfit
            self.emit(f"{v.name} = {e.code}")  # the closure reads the new value
            v.owned, v.via, v.readonly = e.owned, self.share(e), e.readonly
            self.emit(f"{name} = {g}({arg.code})")
        elif way == "closure-loop":
            i, n = self.fresh("i"), self.int(1, 3)
            init = self.exact(out.shape, 0)
            self.emit(f"{name} = {init.code}")
            self.share(init)
            self.emit(f"for {i} in range({n}):")
            step = self.pick(["+", "-"])
            if out.shape == shape and self.chance(40):
                self.emit(f"    {name} = {name} * 0.5 {step} {g}(np.tanh({name}))")
            else:
                self.emit(f"    {name} = {name} * 0.5 {step} {g}({arg.code})")
        else:
            way = "closure-call"
            self.emit(f"{name} = {g}({arg.code})")
        self.use(way)
        self.share(arg, "argument")
        # what it returns may be (a view of) its argument or of what it closes over
        self.forget_owner(body, "call")
        self.scope[name] = Var(name, "array", out.shape, False, "call", out.readonly)
        self.history.append(name)

    def stmt_filtered(self, depth: int) -> None:
        """A list comprehension with an if filter, a dict comprehension, or a nested
        comprehension (the "comprehensions" extension)."""
        ways = [w for w in EXTENSIONS["comprehensions"] if self.allowed(w)]
        way = self.pick(ways)
        lists = [v for v in self.containers("list") if v.length]
        name = self.fresh("c")
        if way == "comp-dict":
            n, i = self.int(1, 3), self.fresh("i")
            shape = self.any_shape()
            saved = dict(self.scope)
            if self.chance(50):
                keys: tuple = tuple("pqr"[:n])
                source = repr(keys)
            else:
                keys = tuple(range(n))
                source = f"range({n})"
                self.scope[i] = Var(i, "int", bound=n)
            e = self.exact(shape, self.expr_depth() + 1)
            self.scope = saved
            self.emit(f"{name} = {{{i}: {e.code} for {i} in {source}}}")
            self.share(e, "container")
            self.scope[name] = Var(name, "dict", items=tuple((k, shape) for k in keys))
        elif way == "comp-filter":
            i, w = self.fresh("i"), self.fresh("w")
            saved = dict(self.scope)
            if lists and self.chance(70):
                xs = self.pick(lists)
                self.scope[w] = Var(w, "array", xs.shape, False, "container", xs.readonly)
                e = self.exact(self.any_shape(), self.expr_depth() + 1)
                fn = self.pick(["np.sum", "np.mean", "np.max"])
                test = f"{fn}({w}) > {self.pick(['0.0', '0.5', '-0.5'])}"
                helpers = [h for h in self.helpers if len(h.returns) == 1]
                if helpers and self.chance(30):  # a user function in the filter
                    test = f"{fn}({self.call_code(self.pick(helpers), 0)}) > 0.0"
                # (the first element always passes: the list is never empty)
                header = f"for {i}, {w} in enumerate({xs.name}) if {i} == 0 or {test}"
            else:
                n = self.int(2, 4)
                self.scope[i] = Var(i, "int", bound=n)
                e = self.exact(self.any_shape(), self.expr_depth() + 1)
                header = f"for {i} in range({n}) if {i} != {self.int(0, n - 1)}"
            self.scope = saved
            if self.chance(50):
                self.emit(f"{name} = [{e.code} {header}]")
                self.scope[name] = Var(name, "list", e.shape, readonly=e.readonly)
            else:
                self.emit(f"{name} = sum([{e.code} {header}]) + np.zeros({e.shape!r})")
                self.scope[name] = Var(name, "array", e.shape, True)
            self.share(e, "container")
        else:
            w, u = self.fresh("w"), self.fresh("w")
            saved = dict(self.scope)
            if lists and self.chance(70):
                xs, ys = self.pick(lists), self.pick(lists)
                self.scope[w] = Var(w, "array", xs.shape, False, "container", xs.readonly)
                self.scope[u] = Var(u, "array", ys.shape, False, "container", ys.readonly)
                outer, inner, n, m = xs.name, ys.name, xs.length, ys.length
            else:  # over ranges, the inner one's bound the outer variable
                n = self.int(1, 3)
                m = n + 1
                self.scope[w] = Var(w, "int", bound=n)
                self.scope[u] = Var(u, "int", bound=m)
                outer, inner = f"range({n})", f"range({w} + 1)" if self.chance(50) else "range(2)"
                m = None if inner != "range(2)" else 2
            e = self.exact(self.any_shape(), self.expr_depth() + 1)
            self.scope = saved
            form = self.int(0, 2 if m else 1)
            if form == 0:
                self.emit(f"{name} = [sum({e.code} for {u} in {inner}) for {w} in {outer}]")
                self.scope[name] = Var(name, "list", e.shape, length=n)
            elif form == 1:
                self.emit(f"{name} = [{e.code} for {w} in {outer} for {u} in {inner}]")
                self.scope[name] = Var(
                    name, "list", e.shape, readonly=e.readonly, length=n * m if m else None
                )
            else:
                rows = f"[np.stack([{e.code} for {u} in {inner}]) for {w} in {outer}]"
                self.emit(f"{name} = np.sum(np.stack({rows}), axis=(0, 1))")
                self.scope[name] = Var(name, "array", e.shape, True)
            self.share(e, "container")
        self.use(way)
        self.history.append(name)

    def stmt_validate(self, depth: int) -> None:
        """A branch that validates an argument and raises (never taken), or a logging
        call (the "validation" extension)."""
        ways = [w for w in EXTENSIONS["validation"] if self.allowed(w)]
        way = self.pick(ways)
        arrays = [v for v in self.arrays() if not v.glob]
        if not arrays:
            raise Unfit
        v = self.pick(arrays)
        if way == "validate-raise":
            form = self.int(0, 3)
            if form == 0:
                test = f"np.shape({v.name}) != {v.shape!r}"
            elif form == 1:
                test = f"np.ndim({v.name}) != {len(v.shape)}"
            elif form == 2:
                test = f"np.sum({v.name} * {v.name}) < 0.0"
            else:
                test = f"np.size({v.name}) == 0"
            error = self.pick(["ValueError", "TypeError", "RuntimeError"])
            message = self.pick(['"bad argument"', f'f"{v.name} has shape {{np.shape({v.name})}}"'])
            self.emit(f"if {test}:")
            self.emit(f"    raise {error}({message})")
        else:
            self.logs = True
            call = self.pick(["logging.debug", "logging.info", "LOG.debug", "LOG.info"])
            what = self.pick([f"np.shape({v.name})", f"np.sum({v.name})", f"{v.name}"])
            self.emit(f'{call}("{v.name}: %s", {what})')
        self.use(way)

    def stmt_record_loop(self, depth: int) -> None:
        """``for L in layers: v = np.tanh(L.W * v + L.b)`` over a list of records."""
        layers = self.pick(self.containers("records"))
        shapes = dict(layers.items)
        target = shapes["W"]
        carried = [v for v in self.arrays() if v.shape == target and not v.glob]
        if carried and self.chance(60):
            v = self.pick(carried)
            if v.name in self.locked:
                raise Unfit
        else:
            v = Var(self.fresh("v"), "array", target, True)
            self.emit(f"{v.name} = {self.exact(target, self.expr_depth()).code}")
            self.scope[v.name] = v
        L = self.fresh("L")
        self.emit(f"for {L} in {layers.name}:")
        self.scope[L] = Var(L, "record", items=layers.items)
        step = self.pick(
            [
                f"np.tanh({L}.W * {v.name} + {L}.b)",
                f"{v.name} * 0.5 + np.sin({L}.W) * {L}.b",
                f"{L}.W * np.tanh({v.name}) - {L}.b",
            ]
        )
        self.emit(f"    {v.name} = {step}")
        self.scope.pop(L, None)
        v.owned, v.via = True, "alias"
        self.use("record-list")
        self.history.append(v.name)

    def stmt_mode(self, depth: int) -> None:
        """``if self.mode == "tanh": ... else: ...`` on a string attribute."""
        attr, value = self.pick(self.modes)
        e = self.gen(self.any_shape(), self.expr_depth())
        name = self.fresh("v")
        other = "tanh" if value == "sin" else "sin"
        self.emit(f'if {attr} == "{value}":')
        self.emit(f"    {name} = np.{value}({e.code})")
        self.emit("else:")
        self.emit(f"    {name} = np.{other}({e.code}) * 0.5")
        self.scope[name] = Var(name, "array", e.shape, True)
        self.use("method-string")
        self.history.append(name)

    # ------------------------------------------------------- the "idioms" extension

    def stmt_select(self, depth: int) -> None:
        """``act = np.tanh if c else np.sin`` (``c`` on a Python float parameter or on
        ``np.sum`` of an array), then ``v = act(e)``, now and then called twice."""
        floats = [v for v in self.arrays() if v.name in self.pyfloats and v.shape == ()]
        if floats and self.chance(50):
            cond = f"{self.pick(floats).name} > {self.pick(['0.0', '0.2', '-0.3'])}"
        elif self.arrays():
            v = self.pick(self.arrays())
            cond = f"np.sum({v.name}) {self.pick(['>', '<'])} {self.pick(['0.0', '0.5', '-1.0'])}"
        else:
            raise Unfit
        fns = ["np.tanh", "np.sin", "np.cos", "np.arctan"]
        first = self.pick(fns)
        second = self.pick([f for f in fns if f != first])
        act, name = self.fresh("act"), self.fresh("v")
        e = self.gen(self.any_shape(), self.expr_depth() + 1)
        self.use("idiom-select")
        self.emit(f"{act} = {first} if {cond} else {second}")
        code = f"{act}({e.code})"
        if self.chance(30):
            code = f"{act}({code}) + {code}"
        self.emit(f"{name} = {code}")
        if self.allowed("idiom-select-update"):
            self.use("idiom-select-update")
            self.scope[name] = Var(name, "array", e.shape, True)
        else:  # (not updated in place: see KNOWN_BUGS)
            self.share(E(code, e.shape, True, False, "call"))
            self.scope[name] = Var(name, "array", e.shape, False, "call")
        self.history.append(name)

    def stmt_map(self, depth: int) -> None:
        """``s = sum(map(h, xs))`` with a helper or a lambda, or
        ``ys = list(map(lambda a: e(a), xs))``, over a list parameter or one built in f."""
        lists = [v for v in self.containers("list") if v.length]
        if "containers" in self.features and (not lists or self.chance(30)):
            self.stmt_list(depth)  # a list built in f
            lists = [v for v in self.containers("list") if v.length][-1:]
        if not lists:
            raise Unfit
        xs = self.pick(lists)
        ways = [w for w in ("idiom-map-sum", "idiom-map-list") if self.allowed(w)]
        way = self.pick(ways)
        name = self.fresh("c")
        helpers = [
            h
            for h in self.helpers
            if h.name.isidentifier()
            and h.style == "plain"
            and len(h.returns) == 1
            and h.params[0][1] == xs.shape
            and all(p in h.defaults for p, _ in h.params[1:])
        ]
        if way == "idiom-map-sum" and helpers and self.chance(60):
            h = self.pick(helpers)
            self.use(way)
            self.emit(f"{name} = sum(map({h.name}, {xs.name}))")
            self.scope[name] = Var(name, "array", h.returns[0], False, "call")
            self.history.append(name)
            return
        a = self.fresh("a")
        saved = dict(self.scope)
        self.scope[a] = Var(a, "array", xs.shape, False, "container", xs.readonly)
        e = self.exact(self.any_shape(), self.expr_depth() + 1)
        self.scope = saved
        self.use(way)
        if way == "idiom-map-sum":
            self.emit(f"{name} = sum(map(lambda {a}: {e.code}, {xs.name}))")
            self.scope[name] = Var(name, "array", e.shape, False, "call")
        else:
            self.emit(f"{name} = list(map(lambda {a}: {e.code}, {xs.name}))")
            self.share(e, "container")  # (the elements may be arrays of f: lambda a: v)
            self.scope[name] = Var(name, "list", e.shape, readonly=e.readonly, length=xs.length)
        self.history.append(name)

    def stmt_chain(self, depth: int) -> None:
        """``a = b = e`` (``b`` a new name or, now and then, one rebound), then a value
        that reads both names; later statements may read or update either."""
        shape = self.any_shape()
        old = [
            v
            for v in self.arrays()
            if not v.glob and v.shape == shape and v.name not in self.locked
        ]
        e = self.exact(shape, self.expr_depth() + 1)
        a = self.fresh("v")
        self.scope[a] = Var(a, "array", shape)
        b = self.pick(old).name if old and self.chance(40) else self.fresh("v")
        self.scope.setdefault(b, Var(b, "array", shape))
        self.use("idiom-chain")
        self.emit(f"{a} = {b} = {e.code}")
        # one array under two names: both share it, as after u = v
        via = max(self.share(e), "alias", key=SHARING.index)
        for n in (a, b):
            v = self.scope[n]
            v.owned, v.via, v.readonly = False, via, e.readonly
            self.history.append(n)
        name = self.fresh("v")
        op = self.pick(["+", "-", "*"])
        self.emit(f"{name} = {a} {op} {self.pick(['np.tanh', 'np.sin', ''])}({b})")
        self.scope[name] = Var(name, "array", shape, True)
        self.history.append(name)

    def stmt_pyrandom(self, depth: int) -> None:
        """``rng = random.Random(seed)`` made in the function, ``z = rng.gauss(0.0, 1.0)``
        (one or two draws), and ``v = z * e``: every call draws the same numbers."""
        rng, z, name = self.fresh("rng"), self.fresh("z"), self.fresh("v")
        e = self.gen(self.any_shape(), self.expr_depth() + 1)
        self.use("idiom-pyrandom")
        self.emit(f"{rng} = random.Random({self.int(0, 99)})")
        self.emit(f"{z} = {rng}.gauss(0.0, 1.0)")
        if self.chance(40):
            self.emit(f"{name} = {z} * {e.op()} + {rng}.gauss(0.0, 1.0)")
        else:
            self.emit(f"{name} = {e.op()} * {z}")
        self.scope[name] = Var(name, "array", e.shape, True)
        self.history.append(name)

    def stmt_list(self, depth: int) -> None:
        shape = self.any_shape()
        n = self.int(1, 2)
        parts = [self.exact(shape, self.expr_depth()) for _ in range(n)]
        name = self.fresh("acc")
        self.emit(f"{name} = [{', '.join(p.code for p in parts)}]")
        for p in parts:
            self.share(p, "container")
        readonly = any(p.readonly for p in parts)
        self.scope[name] = Var(name, "list", shape, readonly=readonly, length=n)

    def stmt_append(self, depth: int) -> None:
        lists = [v for v in self.containers("list") if not v.param and v.name not in self.frozen]
        if not lists:
            raise Unfit
        xs = self.pick(lists)
        e = self.exact(xs.shape, self.expr_depth())
        self.emit(f"{xs.name}.append({e.code})")
        self.share(e, "container")
        xs.readonly = xs.readonly or e.readonly
        if xs.length is not None:
            xs.length = xs.length + 1 if self.loop_depth == 0 else None

    def stmt_call(self, depth: int) -> None:
        h = self.pick(self.helpers)
        code = self.call_code(h, self.expr_depth())
        owned = _owned(h, code)
        if len(h.returns) == 1:
            name = self.fresh("v")
            self.emit(f"{name} = {code}")
            self.scope[name] = Var(name, "array", h.returns[0], owned, "call", h.readonly)
            self.history.append(name)
        else:
            names = [self.fresh("v") for _ in h.returns]
            if self.chance(70):
                self.emit(f"{', '.join(names)} = {code}")
                for n, s in zip(names, h.returns):
                    self.scope[n] = Var(n, "array", s, owned, "call", h.readonly)
                self.history += names
            else:
                name = self.fresh("pair")
                self.emit(f"{name} = {code}")
                self.scope[name] = Var(name, "tuple", readonly=h.readonly, items=tuple(h.returns))

    # -------------------------------------------------------- extensions

    # ------------------------------------------- signatures and iteration

    def fn_values(self) -> list[str]:
        """Functions an ``act=`` parameter may be given: numpy's, a lambda, and the
        function parameters in scope (f's own ``act``, forwarded)."""
        local = ["lambda z: z * 0.5"] if self.allowed("sig-function-local") else []
        return ["np.sin", "np.tanh", "np.cos", *local, *self.fn_params]

    def stmt_act(self, depth: int) -> None:
        """``v = act(e)`` with ``act`` a function parameter."""
        if not self.fn_params:
            raise Unfit
        act = self.pick(self.fn_params)
        e = self.gen(self.any_shape(), self.expr_depth())
        name = self.fresh("v")
        self.use("sig-function-arg")
        self.emit(f"{name} = {act}({e.code})")
        # (adcompile's in-place check takes a function called through a parameter to
        # return what it was given, as for idiom-select-update)
        self.forget_owner(e.code, "call")
        self.scope[name] = Var(name, "array", e.shape, False, "call")
        self.history.append(name)

    def stmt_isinstance(self, depth: int) -> None:
        """``if isinstance(p, T): ... else: ...`` on a parameter of f: the arm Python
        takes for the argument's type, and an arm written for another one (which reads a
        container as a list, a dict or a tuple)."""
        if self.in_helper:
            raise Unfit
        params = [v for v in self.scope.values() if v.param and not v.glob]
        params = [v for v in params if v.kind in ("array", "list", "tuple", "dict")]
        if not params:
            raise Unfit
        p = self.pick(params)
        if p.kind == "array":
            actual = "float" if p.name in self.pyfloats else "np.ndarray"
            other = "np.ndarray" if actual == "float" else "float"
        else:
            actual = {"list": "list", "tuple": "tuple", "dict": "dict"}[p.kind]
            other = self.pick([k for k in ("list", "tuple", "dict") if k != actual])
        if p.kind in ("list", "tuple") and self.chance(30):
            actual = "(list, tuple)"
        taken_first = self.chance(50)
        if self.chance(20):  # not isinstance(p, other): the first arm is taken
            test, taken_first = f"not isinstance({p.name}, {other})", True
        else:
            test = f"isinstance({p.name}, {actual if taken_first else other})"
        self.use("sig-isinstance")
        self.emit(f"if {test}:")
        ends = []

        def foreign() -> None:
            # what only makes sense for the other type; never run
            v = self.fresh("v")
            if p.kind == "array":
                self.emit(f"{v} = {p.name} * 2.0")
            elif other == "dict":
                self.emit(f"{v} = sum(np.sum(a) for a in {p.name}.values())")
            elif other == "list":
                self.emit(f"{v} = np.sum(np.stack({p.name}[1:] + {p.name}[:1]))")
            else:
                self.emit(f"{v} = np.sum({p.name}[0]) * len({p.name})")
            if self.loop_depth == 0:  # (adcompile refuses a return inside a loop)
                self.emit(f"return {v}")

        def taken() -> None:
            end, returned = self.arm(self.int(1, 2), max(depth, 1))
            if not returned:
                ends.append(end)

        def untaken() -> None:
            if p.kind == "array" or self.chance(50):
                taken()  # (an array's type may have changed: either arm may run)
            else:
                self.indent += 1
                foreign()
                self.indent -= 1

        if taken_first:
            taken()
            self.emit("else:")
            untaken()
        else:
            untaken()
            self.emit("else:")
            taken()
        self.merge(ends)

    def stmt_partial(self, depth: int) -> None:
        """``g = functools.partial(h, a, a1=b)`` of a helper in f, then ``g(...)``."""
        helpers = [
            h
            for h in self.helpers
            if h.style == "plain" and h.name.isidentifier() and len(h.returns) == 1
        ]
        if not helpers or self.no_calls:
            raise Unfit
        h = self.pick(helpers)
        k = self.int(0, len(h.params) - 1 if h.fn_param is None else len(h.params))
        bound = [self.exact(shape, self.expr_depth()).code for _, shape in h.params[:k]]
        rest = h.params[k:]
        named = []
        if rest and self.chance(40):
            p, shape = rest[-1]
            named.append(f"{p}={self.exact(shape, self.expr_depth()).code}")
            rest = rest[:-1]
        if h.fn_param is not None and self.chance(60):
            fn = self.pick(self.fn_values())
            if fn.startswith("lambda"):
                self.use("sig-function-local")
            named.append(f"{h.fn_param}={fn}")
        if not bound and not named:
            raise Unfit
        g = self.fresh("g")
        self.emit(f"{g} = functools.partial({', '.join([h.name, *bound, *named])})")
        self.use("sig-partial")
        name = self.fresh("v")
        calls = []
        for _ in range(self.int(1, 2)):
            args = [self.exact(shape, self.expr_depth()).code for _, shape in rest]
            calls.append(f"{g}({', '.join(args)})")
        self.emit(f"{name} = {' + '.join(calls)}")
        if h.aliases:
            self.forget_owner("\n".join(calls + bound), "call")
        self.scope[name] = Var(name, "array", h.returns[0], False, "call", h.readonly)
        self.history.append(name)

    def stmt_function_tuple(self, depth: int) -> None:
        """``for act in (np.tanh, np.sin): v = act(v)``, a loop over (array, function)
        pairs (``for M, act in layers:``), or ``acts[i](v)`` indexed by a loop."""
        shape = self.any_shape()
        fns = [self.pick(["np.tanh", "np.sin", "np.cos", *self.fn_params]) for _ in range(2)]
        helpers = [
            h.name
            for h in self.helpers
            if h.style == "plain"
            and h.name.isidentifier()
            and len(h.returns) == 1
            and len(h.params) == 1
            and h.params[0][1] == shape
            and h.returns[0] == shape
        ]
        if helpers and self.chance(40):
            fns[self.int(0, 1)] = self.pick(helpers)
        if self.chance(30):
            fns.append(self.pick(["np.tanh", "np.sin"]))
        v = self.fresh("v")
        init = self.exact(shape, self.expr_depth())
        self.emit(f"{v} = {init.code}")
        # (adcompile's in-place check takes the loop's result to be the first value too,
        # as if the loop may not run)
        held = Var(v, "array", shape, init.owned, self.share(init), init.readonly)
        way = self.int(0, 2)
        act = self.fresh("act")
        if way == 0:
            self.emit(f"for {act} in ({', '.join(fns)}):")
            self.emit(f"    {v} = {act}({v}) * 0.9")
        elif way == 1:
            layers, m = self.fresh("layers"), self.fresh("M")
            pairs = [f"({self.exact(shape, self.expr_depth()).code}, {fn})" for fn in fns]
            self.emit(f"{layers} = [{', '.join(pairs)}]")
            source = self.pick([layers, f"reversed({layers})"])
            self.emit(f"for {m}, {act} in {source}:")
            self.emit(f"    {v} = {act}({m} * {v}) + {v} * 0.5")
        else:
            acts, i = self.fresh("acts"), self.fresh("i")
            self.emit(f"{acts} = [{', '.join(fns)}]")
            self.emit(f"for {i} in range({self.int(1, 4)}):")
            self.emit(f"    {v} = {acts}[{i} % {len(fns)}]({v}) + {acts}[-1]({v}) * 0.5")
        self.use("sig-function-tuple")
        self.scope[v] = held
        self.history.append(v)

    def iter_map_loop(self, depth: int) -> None:
        """``for y in map(h, xs): acc = acc + e(y)`` (a helper, numpy's function, a
        lambda), also inside ``enumerate(...)``."""
        lists = self.sized_lists()
        xs = self.pick(lists)
        y, acc = self.fresh("y"), self.fresh("v")
        helpers = [
            h
            for h in self.helpers
            if h.name.isidentifier()
            and h.style == "plain"
            and len(h.returns) == 1
            and h.params[0][1] == xs.shape
            and all(p in h.defaults for p, _ in h.params[1:])
        ]
        if helpers and self.chance(50):
            h = self.pick(helpers)
            fn, shape = h.name, h.returns[0]
        elif self.chance(50):
            fn, shape = self.pick(["np.sin", "np.tanh", "np.exp"]), xs.shape
        else:
            a = self.fresh("a")
            saved = dict(self.scope)
            self.scope[a] = Var(a, "array", xs.shape, False, "container", xs.readonly)
            e = self.exact(self.any_shape(), self.expr_depth())
            self.scope = saved
            fn, shape = f"lambda {a}: {e.code}", e.shape
        init = self.exact(shape, 0)
        self.emit(f"{acc} = {init.code}")
        via = self.share(init)
        if self.chance(40):
            i = self.fresh("i")
            self.emit(f"for {i}, {y} in enumerate(map({fn}, {xs.name})):")
            self.emit(f"    {acc} = {acc} * 0.5 + {y} * ({i} + 1.0)")
        else:
            self.emit(f"for {y} in map({fn}, {xs.name}):")
            self.emit(f"    {acc} = {acc} * 0.5 + np.tanh({y})")
        shape = tuple(np.broadcast_shapes(shape, init.shape))
        self.scope[acc] = Var(acc, "array", shape, init.owned, via, init.readonly)
        self.history.append(acc)

    def stmt_iteration(self, depth: int) -> None:
        """One of the "iteration" extension's constructs."""
        ways = [w for w in EXTENSIONS["iteration"] if self.allowed(w)]
        way = self.pick(ways)
        getattr(self, "iter_" + way[len("iter-") :].replace("-", "_"))(depth)
        self.use(way)

    def sized_lists(self) -> list[Var]:
        """The lists of known length in scope; one is made here if there are none (or,
        now and then, anyway)."""
        lists = [v for v in self.containers("list") if v.length]
        if not lists or self.chance(30):
            self.stmt_list(0)
            lists = [v for v in self.containers("list") if v.length]
        return lists

    def iter_meshgrid(self, depth: int) -> None:
        """``X, Y = np.meshgrid(u, v)`` of 1-d values (``indexing="ij"``, ``sparse=True``,
        three of them), the grids read by an expression."""
        count = 3 if self.chance(20) else 2
        sizes = [self.int(1, 3) for _ in range(count)]
        inputs = [self.exact((n,), self.expr_depth()) for n in sizes]
        ij = self.chance(40)
        sparse = self.chance(25)
        options = (', indexing="ij"' if ij else "") + (", sparse=True" if sparse else "")
        grid = list(sizes)
        if not ij:
            grid[0], grid[1] = grid[1], grid[0]
        names = [self.fresh("G") for _ in range(count)]
        shapes = []
        for i in range(count):
            axis = i if ij or i > 1 else 1 - i
            shapes.append(
                tuple(grid[a] if a == axis else 1 for a in range(count)) if sparse else tuple(grid)
            )
        codes = ", ".join(e.code for e in inputs)
        # (adcompile's in-place check takes the grids, a tuple of broadcasts of the
        # inputs, to share memory with them and with each other)
        self.forget_owner(codes, "container")
        if self.chance(30):
            m = self.fresh("m")
            self.emit(f"{m} = np.meshgrid({codes}{options})")
            for i, n in enumerate(names):
                self.emit(f"{n} = {m}[{i}]")
        else:
            self.emit(f"{', '.join(names)}, = np.meshgrid({codes}{options})")
        for n, shape in zip(names, shapes):
            self.scope[n] = Var(n, "array", shape, False, "call")
        total = self.fresh("v")
        prod = " * ".join(names[:2])
        rest = f" + np.sum(np.sin({names[2]}))" if count == 3 else ""
        self.emit(f"{total} = np.sum(np.tanh({prod}) + {names[0]}){rest}")
        self.scope[total] = Var(total, "array", (), True)
        self.history += names + [total]

    def iter_dict_comp(self, depth: int) -> None:
        """``d = {k: e(p[k]) for k in ("w", "b")}`` over a dict parameter's keys (or a
        module-level tuple of them), read back by key."""
        dicts = [v for v in self.containers("dict") if v.param]
        name = self.fresh("d")
        k = self.fresh("k")
        if dicts and self.chance(70):
            p = self.pick(dicts)
            keys = [key for key, _ in p.items]
            shapes = {s for _, s in p.items}
        else:  # over the keys of a dict made here
            p = Var(self.fresh("d"), "dict")
            keys = ["p", "q", "r"][: self.int(1, 3)]
            shape = self.any_shape()
            parts = [self.exact(shape, self.expr_depth()) for _ in keys]
            items = ", ".join(f"{key!r}: {e.code}" for key, e in zip(keys, parts))
            self.emit(f"{p.name} = {{{items}}}")
            for e in parts:
                self.share(e, "container")
            shapes = {shape}
        shape = self.any_shape()
        w = self.fresh("w")
        saved = dict(self.scope)
        if len(shapes) == 1:  # an expression of p[k]
            self.scope[w] = Var(w, "array", shapes.pop(), False, "container")
        e = self.exact(shape, self.expr_depth() + 1)
        self.scope = saved
        if _mentions(e.code, w):
            value = __import__("re").sub(rf"(?<![\w.]){w}(?!\w)", f"{p.name}[{k}]", e.code)
        else:
            value = f"np.mean(np.sin({p.name}[{k}])) * {e.op()}"
        source = self.pick([repr(tuple(keys)), repr(list(keys))])
        self.emit(f"{name} = {{{k}: {value} for {k} in {source}}}")
        self.share(e, "container")
        out = self.fresh("v")
        count = self.int(1, len(keys))
        reads = " + ".join(f"{name}[{key!r}]" for key in keys[:count])
        self.emit(f"{out} = {reads}")
        if count == 1:  # the dict's element itself
            self.forget_owner(e.code, "container")
            self.scope[out] = Var(out, "array", shape, False, "container", e.readonly)
        else:
            self.scope[out] = Var(out, "array", shape, True)
        self.history.append(out)

    def iter_nested_filter(self, depth: int) -> None:
        """``[e(w, u) for i, w in enumerate(xs) if ... for u in ys if ...]``: a nested
        comprehension with a filter on each level (the first elements always pass)."""
        lists = self.sized_lists()
        xs, ys = self.pick(lists), self.pick(lists)
        i, j, w, u = self.fresh("i"), self.fresh("j"), self.fresh("w"), self.fresh("w")
        saved = dict(self.scope)
        self.scope[w] = Var(w, "array", xs.shape, False, "container", xs.readonly)
        self.scope[u] = Var(u, "array", ys.shape, False, "container", ys.readonly)
        e = self.exact(self.any_shape(), self.expr_depth() + 1)
        self.scope = saved
        t1 = f"np.sum({w}) > {self.pick(['0.0', '-0.5'])}"
        t2 = f"np.max({u}) > {self.pick(['0.0', '0.5'])}"
        inner = self.pick([ys.name, f"reversed({ys.name})"])
        header = (
            f"for {i}, {w} in enumerate({xs.name}) if {i} == 0 or {t1} "
            f"for {j}, {u} in enumerate({inner}) if {j} == 0 or {t2}"
        )
        name = self.fresh("c")
        if self.chance(50):
            self.emit(f"{name} = sum([{e.code} {header}]) + np.zeros({e.shape!r})")
            self.scope[name] = Var(name, "array", e.shape, True)
        else:
            self.emit(f"{name} = [{e.code} {header}]")
            self.scope[name] = Var(name, "list", e.shape, readonly=e.readonly)
        self.share(e, "container")
        self.history.append(name)

    def iter_enumerate_start(self, depth: int) -> None:
        """``for i, (w, u) in enumerate(zip(xs, ys), start=1):`` (or ``enumerate(xs, 2)``,
        in a comprehension too), with ``i`` in the arithmetic."""
        lists = self.sized_lists()
        xs, ys = self.pick(lists), self.pick(lists)
        start = self.int(1, 2)
        i, w, u = self.fresh("i"), self.fresh("w"), self.fresh("w")
        pair = self.chance(60)
        spelled = f"start={start}" if self.chance(50) else str(start)
        source = f"zip({xs.name}, {ys.name})" if pair else xs.name
        target = f"{i}, ({w}, {u})" if pair else f"{i}, {w}"
        saved = dict(self.scope)
        self.scope[w] = Var(w, "array", xs.shape, False, "container", xs.readonly)
        if pair:
            self.scope[u] = Var(u, "array", ys.shape, False, "container", ys.readonly)
        e = self.exact(self.any_shape(), self.expr_depth() + 1)
        self.scope = saved
        name = self.fresh("v")
        if self.chance(50):
            self.emit(
                f"{name} = sum({e.op()} * {i} for {target} in enumerate({source}, {spelled}))"
            )
        else:
            self.emit(f"{name} = np.zeros({e.shape!r})")
            self.emit(f"for {target} in enumerate({source}, {spelled}):")
            self.emit(f"    {name} = {name} + {e.op()} / {i}")
        self.scope[name] = Var(name, "array", e.shape, True)
        self.history.append(name)

    def iter_reversed(self, depth: int) -> None:
        """``reversed(xs)`` in a comprehension, in zip(...), or made a list."""
        lists = self.sized_lists()
        xs = self.pick(lists)
        way = self.int(0, 2)
        name = self.fresh("c")
        if way == 0:
            self.emit(f"{name} = list(reversed({xs.name}))")
            self.scope[name] = Var(
                name, "list", xs.shape, False, "container", xs.readonly, length=xs.length
            )
            self.history.append(name)
            return
        w, u = self.fresh("w"), self.fresh("w")
        saved = dict(self.scope)
        self.scope[w] = Var(w, "array", xs.shape, False, "container", xs.readonly)
        if way == 2:
            ys = self.pick(lists)
            self.scope[u] = Var(u, "array", ys.shape, False, "container", ys.readonly)
        e = self.exact(self.any_shape(), self.expr_depth() + 1)
        self.scope = saved
        if way == 1:
            self.emit(f"{name} = [{e.code} for {w} in reversed({xs.name})]")
            n = xs.length
        else:
            self.emit(f"{name} = [{e.code} for {w}, {u} in zip(reversed({xs.name}), {ys.name})]")
            n = min(xs.length, ys.length)
        self.share(e, "container")
        self.scope[name] = Var(name, "list", e.shape, readonly=e.readonly, length=n)
        self.history.append(name)

    def custom_call(self, target: Shape, depth: int) -> E:
        """A call of a helper whose adjoint rule the module registers (elementwise).
        adcompile cannot see that it returns a new array (and its rule may read the
        result), so it is not updated in place; like any call, none in a condition."""
        if self.no_calls:
            raise Unfit
        a = self.gen(target, depth)
        return _call(self.pick(self.customs), a.code, shape=a.shape, owned=False, via="call")

    def edge(self, target: Shape, depth: int) -> E:
        """A function at the edge of its domain: a zero exponent, crossed clip bounds,
        a tie of maximum/minimum, a Python float next to a 0-d array."""
        ways = [
            w
            for w in ("edge-zero-power", "edge-clip-crossed", "edge-tie", "edge-float-0d")
            if self.allowed(w)
        ]
        if not ways:
            raise Unfit
        way = self.pick(ways)
        variables = [v for v in self.arrays() if fits(v.shape, target)]
        if variables and self.chance(50):  # often a parameter, which may be exactly 0
            v = self.pick(variables)
            a = E(v.name, v.shape, True, False, "alias", v.readonly)
        else:
            a = self.gen(target, depth)
        if way == "edge-zero-power":
            code = self.pick(
                [
                    f"{a.op()} ** 0",
                    f"{a.op()} ** 0.0",
                    f"np.power({a.code}, 0.0)",
                    f"{a.op()} ** 1",
                    f"np.abs({a.code}) ** 1.5",
                    f"{a.op()} ** 2.0",
                ]
            )
            self.use(way)
            return E(code, a.shape, False)
        if way == "edge-clip-crossed":
            if self.chance(50):
                b = self.gen(target, depth)
                self.autograd_ok = False  # autograd has no rule for differentiated bounds
                shape = np.broadcast_shapes(a.shape, b.shape)
                self.use(way)
                return _call("np.clip", a.code, f"{b.op()} + 0.5", b.code, shape=shape)
            lo, hi = self.pick([("0.5", "-0.5"), ("1.0", "0.0"), ("0.2", "0.2"), ("0.0", "-1.0")])
            self.use(way)
            return _call("np.clip", a.code, lo, hi, shape=a.shape)
        if way == "edge-tie":
            candidates = [v for v in self.arrays() if fits(v.shape, target)]
            if not candidates:
                raise Unfit
            v = self.pick(candidates).name
            forms = [
                f"np.maximum({v}, {v})",
                f"np.minimum({v}, {v})",
                f"np.abs({v})",
            ]
            shape = self.scope[v].shape
            if shape == ():
                forms += [f"max({v}, {v})"]
            else:
                forms += [f"np.max(np.stack([{v}, {v}]), axis=0)"]
            # a tie with 0 where the argument may be exactly 0
            zero = [f"np.maximum({v}, 0.0)", f"np.minimum(0.0, {v})"]
            zero += [f"min({v}, 0.0)"] if shape == () else []
            if self.allowed("edge-tie-zero") and self.chance(40):
                self.use("edge-tie-zero")
                forms = zero
            self.use(way)
            return E(self.pick(forms), shape, False, True)
        floats = [v for v in self.arrays() if v.shape == () and v.name in self.pyfloats]
        zero_d = [v for v in self.arrays() if v.shape == () and v.name not in self.pyfloats]
        if not floats or not zero_d:
            raise Unfit
        u, w = self.pick(floats).name, self.pick(zero_d).name
        forms = [
            f"{u} * {w}",
            f"{u} ** 2 * {w}",
            f"np.where({w} > {u}, {w}, {u})",
            f"{w} - {u}",
            f"np.maximum({u}, {w})",
        ]
        if self.allowed("edge-minmax-param"):
            forms += [f"max({u}, {w})", f"min({w}, {u})"]
        code = self.pick(forms)
        self.use(way)
        self.autograd_ok = self.autograd_ok and "max(" not in code and "min(" not in code
        return E(code, (), False, True)

    def random(self, target: Shape, depth: int) -> E:
        """``a + b * eps`` or ``a * mask`` with ``eps`` and ``mask`` drawn from a generator
        made with a fixed seed inside f, so that each call draws the same sample."""
        ways = [w for w in ("random-draw", "random-mask") if self.allowed(w)]
        way = self.pick(ways)
        shape = self.sub_shape(target) if target and self.chance(70) else ()
        seed = self.int(0, 9)
        size = f"size={shape!r}" if shape else ""
        source = self.pick(
            [
                f"np.random.RandomState({seed}).randn(*{shape!r})",
                f"np.random.default_rng({seed}).normal({size})",
                f"np.random.default_rng({seed}).standard_normal({size})",
                f"np.random.RandomState({seed}).uniform(-1.0, 1.0{', ' + size if size else ''})",
            ]
        )
        a = self.gen(target, depth)
        if way == "random-draw":
            b = self.gen((), depth)
            code = f"{a.op()} + {b.op()} * {source}"
            result = np.broadcast_shapes(a.shape, b.shape, shape)
        else:
            code = f"{a.op()} * ({source} > 0.0)"
            result = np.broadcast_shapes(a.shape, shape)
        self.use(way)
        return E(code, tuple(result), False, True)

    def builder(self, target: Shape, depth: int) -> E:
        """An array made from a differentiated scalar by np.full, np.full_like,
        np.linspace or np.arange."""
        ways = [
            w
            for w in ("builder-full", "builder-full_like", "builder-linspace", "builder-arange")
            if self.allowed(w)
        ]
        if not ways:
            raise Unfit
        way = self.pick(ways)
        a = self.gen((), depth)
        n = target[-1] if target else 1
        if way == "builder-full":
            shape = self.sub_shape(target)
            spelled = repr(shape) if len(shape) != 1 or self.chance(50) else str(shape[0])
            code = f"np.full({spelled}, {a.code})"
        elif way == "builder-full_like":
            like = [v for v in self.arrays() if v.shape and fits(v.shape, target)]
            if not like:
                raise Unfit
            v = self.pick(like)
            shape = v.shape
            code = f"np.full_like({v.name}, {a.code})"
        elif way == "builder-linspace":
            if not target:
                raise Unfit
            b = self.gen((), depth) if self.chance(50) else E(self.pick(["1.0", "-0.5"]), ())
            shape = (n,)
            code = f"np.linspace({a.code}, {b.code}, {n})"
        else:
            if not target:
                raise Unfit
            shape = (n,)
            if self.chance(50):  # n values: ceil((n - 0.5) / 1.0) whatever a is
                code = f"np.arange({a.op()}, {a.op()} + {n - 0.5})"
            else:
                code = f"np.arange({n}) * {a.op()}"
        self.use(way)
        self.autograd_ok = False  # autograd's np.full and np.arange are not differentiable
        return E(code, shape, True, True)

    def boolop(self, target: Shape, depth: int) -> E:
        """``a and b`` / ``a or b`` on floats: the value of one operand, chosen by the
        other's truth (np.maximum(.., 0.0) is often exactly 0, so false)."""
        if not self.allowed("boolop-value"):
            raise Unfit
        parts = []
        for _ in range(self.int(2, 3)):
            e = self.gen((), depth)
            parts.append(f"np.maximum({e.code}, 0.0)" if self.chance(40) else e.op())
        code = parts[0]
        for p in parts[1:]:
            code = f"{code} {self.pick(['and', 'or'])} {p}"
        self.use("boolop-value")
        return E(code, (), False, False, "ifexp")

    def stmt_element_assign(self, depth: int) -> None:
        """An array the function makes, written into by element and slice assignment
        (``out[i] = v``, ``out[a:b] += v``, ``out[idx] = v`` with a repeated index,
        ``out[mask] = v``, a loop writing row i from row i - 1), then read."""
        shape = self.any_shape()
        if not shape:
            shape = (self.int(1, 3),)
        n, rest = shape[0], shape[1:]
        out = self.fresh("out")
        if self.chance(50):
            self.emit(f"{out} = np.zeros({shape!r})")
        else:
            self.emit(f"{out} = {self.exact(shape, self.expr_depth()).op()} * 1.0")
        ways = [t for t in EXTENSIONS["element-assign"] if self.allowed(t)]
        ways = [w for w in ways if w != "assign-augmented"]
        if len(shape) < 2:
            ways = [w for w in ways if w != "assign-element"]
        if not ways:
            raise Unfit
        for _ in range(self.int(1, 3)):
            way = self.pick(ways)
            op = "="
            if "assign-augmented" in EXTENSIONS["element-assign"] and self.allowed(
                "assign-augmented"
            ):
                if way != "assign-loop" and self.chance(40):
                    op = self.pick(["+=", "-=", "*="])
                    self.use("assign-augmented")
            if way == "assign-row":
                k = self.int(-n, n - 1)
                self.emit(f"{out}[{k}] {op} {self.gen(rest, self.expr_depth()).code}")
            elif way == "assign-slice":
                a = self.int(0, n - 1)
                b = self.int(a + 1, n)
                value = self.gen((b - a, *rest), self.expr_depth())
                self.emit(f"{out}[{a}:{b}] {op} {value.code}")
            elif way == "assign-element":
                i, j = self.int(0, n - 1), self.int(0, shape[1] - 1)
                value = self.gen(shape[2:], self.expr_depth())
                self.emit(f"{out}[{i}, {j}] {op} {value.code}")
            elif way == "assign-loop":
                i = self.fresh("i")
                value = self.gen(rest, self.expr_depth())
                if self.chance(50) and n > 1:
                    self.emit(f"for {i} in range(1, {n}):")
                    self.emit(f"    {out}[{i}] = np.tanh({out}[{i} - 1]) * {value.op()}")
                else:
                    self.emit(f"for {i} in range({n}):")
                    self.emit(f"    {out}[{i}] = {out}[{i}] * 0.5 + {value.op()}")
            elif way == "assign-repeats":
                idx = [self.int(0, n - 1) for _ in range(self.int(1, 4))]
                if len(idx) > 1 and self.chance(70):
                    idx[-1] = idx[0]  # a repeated position: numpy keeps one write
                value = self.gen((len(idx), *rest), self.expr_depth())
                self.emit(f"{out}[np.array({idx!r})] {op} {value.code}")
            else:  # assign-mask
                mask = self.exact(shape, self.expr_depth())
                value = self.gen((), self.expr_depth())
                self.emit(f"{out}[{mask.op()} > 0.25] {op} {value.code}")
            self.use(way)
        self.autograd_ok = False  # autograd refuses assignment into an array
        self.scope[out] = Var(out, "array", shape, True)
        self.history.append(out)
        total = self.fresh("v")
        self.emit(f"{total} = np.sum({out} * {out})")
        self.scope[total] = Var(total, "array", (), True)
        self.history.append(total)

    def stmt_tuple_list(self, depth: int) -> None:
        """A list of pairs built by .append (in a loop or not), read by index, by
        unpacking and by a loop over its pairs."""
        s1, s2 = self.any_shape(), self.any_shape()
        ps = self.fresh("ps")
        self.emit(f"{ps} = []")
        loop = self.chance(60)
        if loop:
            i, n = self.fresh("i"), self.int(1, 3)
            self.emit(f"for {i} in range({n}):")
            self.indent += 1
            self.loop_depth += 1
            self.scope[i] = Var(i, "int", bound=n)
            count = n
        else:
            count = self.int(1, 2)
        for _ in range(1 if loop else count):
            e1, e2 = self.exact(s1, self.expr_depth()), self.exact(s2, self.expr_depth())
            pair = f"({e1.code}, {e2.code})"
            self.emit(f"{ps}.append({pair})")
            self.share(e1, "container")
            self.share(e2, "container")
        if loop:
            self.scope.pop(i)
            self.indent -= 1
            self.loop_depth -= 1
            if self.loop_depth == 0:
                self.escaped = set()
        reads = self.int(1, 3)
        for _ in range(reads):
            way = self.int(0, 2)
            k = self.int(-count, count - 1)
            if way == 0:
                j = self.int(0, 1)
                v = self.fresh("v")
                self.emit(f"{v} = {ps}[{k}][{j}]")
                self.scope[v] = Var(v, "array", (s1, s2)[j], False, "container")
                self.history.append(v)
            elif way == 1:
                u, w = self.fresh("v"), self.fresh("v")
                self.emit(f"{u}, {w} = {ps}[{k}]")
                self.scope[u] = Var(u, "array", s1, False, "container")
                self.scope[w] = Var(w, "array", s2, False, "container")
                self.history += [u, w]
            else:
                t, a, b = self.fresh("v"), self.fresh("w"), self.fresh("w")
                self.emit(f"{t} = np.zeros({s2!r})")
                self.emit(f"for {a}, {b} in {ps}:")
                self.emit(f"    {t} = {t} + np.mean({a}) * np.tanh({b})")
                self.scope[t] = Var(t, "array", s2, True)
                self.history.append(t)
        self.use("tuple-list-append")

    def stmt_list_alias(self, depth: int) -> None:
        """One list under two names (ys = xs), appended to through either."""
        shape = self.any_shape()
        xs, ys = self.fresh("xs"), self.fresh("ys")
        first = self.exact(shape, self.expr_depth())
        self.emit(f"{xs} = [{first.code}]")
        self.share(first, "container")
        count = 1
        early = self.chance(70)
        if early:
            self.emit(f"{ys} = {xs}")
        names = [xs, ys] if early else [xs]
        loop = self.chance(40)
        if loop:
            i, n = self.fresh("i"), self.int(1, 3)
            self.emit(f"for {i} in range({n}):")
            self.indent += 1
            self.loop_depth += 1
            self.scope[i] = Var(i, "int", bound=n)
        appends = self.int(1, 2)
        for _ in range(appends):
            e = self.exact(shape, self.expr_depth())
            self.emit(f"{self.pick(names)}.append({e.code})")
            self.share(e, "container")
        if loop:
            self.scope.pop(i)
            self.indent -= 1
            self.loop_depth -= 1
            if self.loop_depth == 0:
                self.escaped = set()
            count += appends * n
        else:
            count += appends
        if not early:
            self.emit(f"{ys} = {xs}")
            e = self.exact(shape, self.expr_depth())
            self.emit(f"{ys}.append({e.code})")
            self.share(e, "container")
            count += 1
        for _ in range(self.int(1, 2)):
            name = self.pick([xs, ys])
            v = self.fresh("v")
            way = self.int(0, 3)
            if way == 0:
                self.emit(f"{v} = {name}[{self.int(-count, count - 1)}]")
                self.scope[v] = Var(v, "array", shape, False, "container")
            elif way == 1:
                self.emit(f"{v} = sum({name})")
                self.scope[v] = Var(v, "array", shape, True)
            elif way == 2:
                self.emit(f"{v} = np.stack({name})")
                self.scope[v] = Var(v, "array", (count, *shape), True)
            else:
                self.emit(f"{v} = np.zeros({shape!r})")
                w = self.fresh("w")
                self.emit(f"for {w} in {name}:")
                self.emit(f"    {v} = {v} * 0.5 + {w}")
                self.scope[v] = Var(v, "array", shape, True)
            self.history.append(v)
        # the list stays usable under its first name (the other is not read again)
        self.scope[xs] = Var(xs, "list", shape, length=count)
        self.use("list-alias-append")

    def ending(self) -> None:
        """The function's return: an expression, or a name assigned by a plain
        assignment, in a loop (a carried value) or in the arms of an if."""
        ways = [w for w in ("result-name", "result-loop", "result-branch") if self.allowed(w)]
        if not ways or not self.chance(80):
            self.emit(f"return {self.result()}")
            return
        way = self.pick(ways)
        r = self.fresh("r")
        self.use(way)
        if way == "result-name":
            self.emit(f"{r} = {self.result()}")
        elif way == "result-branch":
            form = self.int(0, 2)
            if form == 1:
                self.emit(f"{r} = {self.result()}")
            self.emit(f"if {self.condition(1)}:")
            self.named_arm(r, early=form == 2)
            if form != 1:
                if self.chance(40):
                    self.emit(f"elif {self.condition(1)}:")
                    self.named_arm(r)
                if form == 0:
                    self.emit("else:")
                    self.named_arm(r)
                else:
                    self.emit(f"{r} = {self.result()}")
        else:
            init = self.pick(["0.0", "np.zeros(())", self.result(), "1.0"])
            self.emit(f"{r} = {init}")
            other = self.fresh("q") if self.chance(25) else None
            if other:
                self.emit(f"{other} = {self.result()}")

            def tail() -> None:
                term = self.result()
                if other:
                    self.emit(f"{r}, {other} = {other} + {term}, {r} * 0.5")
                    return
                self.emit(
                    self.pick(
                        [
                            f"{r} = {r} + {term}",
                            f"{r} += {term}",
                            f"{r} = {r} * 0.5 + {term}",
                            f"{r} = np.tanh({r}) + {term}",
                            f"{r} = {term} - {r}",
                        ]
                    )
                    if not self.allowed("result-loop-self") or self.chance(50)
                    # a carried value that only its own old value updates
                    else self.pick([f"{r} = np.sin({r})", f"{r} = {r} * 0.5"])
                )
                if self.lines[-1].strip() in (f"{r} = np.sin({r})", f"{r} = {r} * 0.5"):
                    self.use("result-loop-self")

            loops = [self.stmt_for, self.stmt_while]
            if [v for v in self.containers("list") if v.name not in self.frozen]:
                loops.append(self.stmt_for_list)
            self.pick(loops)(1, tail)
        self.emit(f"return {r}")

    def named_arm(self, r: str, early: bool = False) -> None:
        """An arm of the if of a result by name: a statement or none, then ``r = ...``
        (``early``: then ``return r`` already)."""
        before = {k: _clone(v) for k, v in self.scope.items()}
        self.indent += 1
        self.block(self.int(0, 1), 0)
        self.emit(f"{r} = {self.result()}")
        if early:
            self.emit(f"return {r}")
        self.indent -= 1
        self.scope = before

    # ------------------------------------------------------------ results

    def result(self) -> str:
        """A scalar built from the values in scope, the latest ones first."""
        arrays = self.arrays()
        latest = [
            self.scope[n] for n in reversed(self.history) if self.scope.get(n) in arrays
        ] or arrays[-1:]
        chosen = latest[:1] + [self.pick(arrays) for _ in range(self.int(0, 2))]
        terms = []
        for v in self.containers("list"):
            if self.chance(60):
                way = self.int(0, 2)
                if way == 0:
                    terms.append(f"np.sum(sum({v.name}) ** 2)")
                elif way == 1:
                    terms.append(f"np.mean(np.sin(np.stack({v.name})))")
                else:
                    terms.append(f"np.sum({v.name}[-1])")
        for v in chosen:
            form = self.int(0, 4)
            if form == 0:
                terms.append(f"np.sum({v.name} * {v.name})")
            elif form == 1:
                terms.append(f"np.sum({v.name})")
            elif form == 2:
                terms.append(f"np.mean(np.sin({v.name}))")
            elif form == 3:
                terms.append(f"np.sum(np.tanh({v.name}) * {v.name})")
            else:
                terms.append(f"np.mean({v.name} ** 2)")
        return " + ".join(terms + self.required)


def _clone(v: Var) -> Var:
    return Var(**{k: getattr(v, k) for k in Var.__dataclass_fields__})


def _mentions(code: str, name: str) -> bool:
    import re

    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", code) is not None


# ---------------------------------------------------------------- the module


def _array(rng: np.random.Generator, shape: Shape):
    return rng.uniform(-1.2, 1.2, shape)


@st.composite
def programs(draw, features: tuple[str, ...] = FEATURES) -> Program:
    """A random module in the language, the arguments of its ``f`` and which to differentiate."""
    features = frozenset(features)
    b = Builder(draw, features)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)

    # the parameters of f
    params: list[str] = []
    args: list = []
    differentiable: list[int] = []
    base_shapes = [b.any_shape() for _ in range(b.int(1, 2))]
    b.shape_pool = list(dict.fromkeys(base_shapes))
    same: tuple[int, ...] = ()
    if b.allowed("same-arg") and b.chance(60):
        # f(a, a): x0 and x1 are one array
        shape = b.pick(b.shape_pool)
        a = _array(rng, shape) if shape or b.chance(50) else np.asarray(rng.uniform(-1.2, 1.2))
        for i in range(2):
            args.append(a)
            b.scope[f"x{i}"] = Var(f"x{i}", "array", shape, via="param", param=True)
            differentiable.append(i)
            params.append(f"x{i}")
        same = (0, 1)
        b.use("same-arg")
    forced = []
    if b.allowed("edge-float-0d") and b.chance(50):
        forced = [5, 4]  # a Python float and a 0-d array
    for i in range(len(params), len(params) + b.int(1, 3 - len(params) // 2) + len(forced)):
        name = f"x{i}"
        kind = forced.pop() if forced else b.int(0, 5)
        if kind == 4 and b.allowed("edge-float-0d"):
            args.append(np.asarray(rng.uniform(-1.2, 1.2)))  # a 0-d array
            shape = ()
        elif kind == 5:
            b.pyfloats.add(name)
            args.append(float(rng.uniform(-1.2, 1.2)))  # a Python float
            shape: Shape = ()
        elif kind == 4 and b.chance(50):
            args.append(np.asarray(rng.uniform(-1.2, 1.2)))  # a 0-d array
            shape = ()
        else:
            shape = b.pick(b.shape_pool) if b.chance(70) else b.any_shape()
            args.append(_array(rng, shape))
        b.scope[name] = Var(name, "array", shape, via="param", param=True)
        differentiable.append(len(params))
        params.append(name)
    if "containers" in features:
        for _ in range(b.int(0, 2)):
            kind = b.pick(["list", "tuple", "dict"])
            shape = b.pick(b.shape_pool)
            if kind == "list":
                n = b.int(1, 3)
                name = b.fresh("ws")
                args.append([_array(rng, shape) for _ in range(n)])
                b.scope[name] = Var(name, "list", shape, length=n, param=True)
            elif kind == "tuple":
                shapes = (shape, b.any_shape())
                name = b.fresh("t")
                args.append(tuple(_array(rng, s) for s in shapes))
                b.scope[name] = Var(name, "tuple", items=shapes, param=True)
            else:
                items = (("w", shape), ("b", b.any_shape()))
                name = b.fresh("p")
                args.append({k: _array(rng, s) for k, s in items})
                b.scope[name] = Var(name, "dict", items=items, param=True)
            differentiable.append(len(params))
            params.append(name)
    records = [w for w in EXTENSIONS["records"] if b.allowed(w)]
    if records and b.chance(80):
        for _ in range(b.int(1, 2)):
            name = _record(b, rng, args, b.pick(records))
            differentiable.append(len(params))
            params.append(name)
    if "control" in features and b.chance(20):
        name = "n"
        value = b.int(1, 3)
        args.append(value)
        b.scope[name] = Var(name, "int", bound=value + 1, param=True)
        params.append(name)

    _edges(b, rng, params, args)

    chunks = []
    rebind = _globals(b, rng, chunks) if "globals" in features else ""
    # functions with a registered adjoint rule
    if "rules" in features:
        for k in range(b.int(1, 2)):
            chunks.append(_custom(b, f"c{k}"))

    # helper functions, each over arrays of the shapes f has
    if "calls" in features:
        for k in range(b.int(1, 2)):
            chunks.append(_helper(b, f"h{k}", depth=1 + ("control" in features)))
    named = None
    if b.allowed("result-helper") and b.chance(40):
        chunks.append(_helper(b, "hr", depth=1 + ("control" in features), named=True))
        named = b.helpers.pop()  # called once, at f's end
    method = None
    if any(b.allowed(t) for t in EXTENSIONS["methods"]) and b.chance(85):
        method = _method(b, rng)

    # what the module defines reaches f's result
    b.required = []
    xs = [v for v in b.arrays() if v.param and not v.glob]
    for n in b.globals.get("global-number", []) + b.globals.get("global-array", []):
        b.required.append(f"np.sum({n}) * np.sum({b.pick(xs).name})")
    for n in ("self.scale", "self.bias"):
        if n in b.scope and b.chance(70):
            b.required.append(f"np.sum({n}) * np.sum({b.pick(xs).name})")
    for v in b.scope.values():
        if v.kind == "record" and v.param and b.chance(50):
            b.required.append(f"np.sum(np.tanh({v.name}.W) * {v.name}.b)")
    forward = [h for h in b.helpers if h.name == "self.forward"]
    if forward and b.chance(60):
        call = b.call_code(forward[0], 1)
        call = f"{call}[0]" if len(forward[0].returns) > 1 else call
        b.required.append(f"np.sum({call})")
    for h in b.helpers:
        if h.name == "g0" or h.name.startswith("h") and "globals" in features and b.chance(50):
            # every parameter of the call an argument of f's, broadcast to its shape
            parts = []
            for _, shape in h.params:
                x = b.pick(xs)
                x = x.name if fits(x.shape, shape) else f"np.sum({x.name})"
                parts.append(f"{x} + np.zeros({shape!r})")
            call = f"{h.name}({', '.join(parts)})"
            b.required.append(f"np.sum({call}[0])" if len(h.returns) > 1 else f"np.sum({call})")
    for c in b.customs:
        b.required.append(f"np.sum({c}({b.pick(xs).name}))")
    if "edges" in features:  # an edge case on a parameter, which may be exactly 0
        try:
            b.required.append(f"np.sum({b.edge(b.pick(xs).shape, 0).code})")
        except Unfit:
            pass

    # the entry function
    b.lines = []
    b.indent = 1
    act = ""
    if b.allowed("sig-function-arg") and b.chance(40):
        act = f"act={b.pick(['np.tanh', 'np.sin'])}"  # (forwarded to helpers as act=act)
        b.fn_params = ["act"]
    if b.allowed("same-arg-inplace") and same and b.chance(50):
        # x0 += ... where x1 is x0: Python writes through to both
        target, other = b.pick([("x0", "x1"), ("x1", "x0")])
        op = b.pick(["+=", "*=", "-="])
        e = b.pick([other, f"np.sin({other})", "0.5", f"{other} * {target}"])
        b.emit(f"{target} {op} {e}")
        b.mutates = True
        b.autograd_ok = False
        b.use("same-arg-inplace")
    b.block(b.int(1, 5), depth=2)
    if not b.returned:
        if named is not None:
            b.use("result-helper")
            call = b.call_code(named, b.expr_depth())
            b.emit(
                b.pick(
                    [f"return {call}", f"return {call} + {b.result()}", f"r = {call}\n    return r"]
                )
            )
        else:
            b.ending()
    star, kw_from, prologue = _signature(b, params, same)
    b.lines = [f"    {line}" for line in prologue] + b.lines
    b.lines_text = "\n".join(b.lines)
    signature = list(params[: kw_from if star is None else star])
    if star is not None:
        signature.append(f"*{b.star}")
    elif kw_from < len(params):
        signature.append("*")
    signature += params[kw_from:] + ([act] if act else [])
    chunks.append(f"def f({', '.join(signature)}):\n" + b.lines_text + "\n")
    if method is not None:
        rebind = "\n".join(r for r in (rebind, _methods_class(b, chunks, *method)) if r)

    text = "\n\n".join(chunks)
    used = [i for i in differentiable if _mentions(text, params[i])]
    choices = used or differentiable
    count = draw(st.integers(1, len(choices)))
    wrt = tuple(sorted(set(draw(st.permutations(choices))[:count]) | set(same)))
    spelled = None
    if star is not None or kw_from < len(params):
        spelled = []
        for i in wrt:
            if star is not None and star <= i < kw_from:
                spelled.append(f"{b.star}[{i - star}]")
                b.use("sig-varargs-wrt")
            elif i >= kw_from:
                spelled.append(params[i])
                b.use("sig-keyword-wrt")
            else:
                spelled.append(params[i] if b.chance(50) else i)
        spelled = tuple(spelled)
    specialise = not b.chance(30)
    if b.customs or rebind:
        b.autograd_ok = False  # the oracle runs the module once, without adcompile
    # tags of what the functions that f runs do not use
    users = "\n".join(c for c in chunks if c.startswith(("def f(", "def h", "class Model")))
    for g, names in b.globals.items():
        if not any(_mentions(users, n) for n in names):
            b.tags.discard(g)
    if not any(_mentions(users, c) for c in b.customs):
        b.tags -= {"rule-plain", "rule-control-flow"}
    for i, arg in enumerate(args):  # records f never reads
        if is_record(arg) or isinstance(arg, list) and arg and is_record(arg[0]):
            if not _mentions(users, params[i]):
                b.tags -= {"record-dataclass", "record-namedtuple", "record-list"}
    return Program(
        body="\n\n".join(chunks),
        params=params,
        args=args,
        wrt=wrt,
        autograd_ok=b.autograd_ok,
        mutates=b.mutates,
        specialise=specialise,
        features=features,
        same=same,
        rebind=rebind,
        tags=frozenset(b.tags),
        names=spelled,
        keywords=tuple(params[kw_from:]),
    )


def _signature(b: Builder, params: list[str], same: tuple) -> tuple[int | None, int, list[str]]:
    """How f takes its parameters (the "signatures" extension): the position where
    ``*args`` starts collecting them (or None), where the keyword-only ones start, and
    the lines that give the collected ones their names in the body."""
    n = len(params)
    kw_from = n
    if b.allowed("sig-keyword-wrt") and not same and n >= 2 and b.chance(40):
        kw_from = n - b.int(1, min(2, n - 1))
    star = None
    if b.allowed("sig-varargs-wrt") and not same and kw_from >= 1 and b.chance(50):
        star = b.int(0, kw_from - 1)
    if star is None:
        return None, kw_from, []
    b.star = b.pick(["args", "rest"])
    collected = params[star:kw_from]
    way = b.int(0, 2)
    if way == 0:
        return star, kw_from, [f"{', '.join(collected)}, = {b.star}"]
    if way == 1:
        return star, kw_from, [f"{p} = {b.star}[{i}]" for i, p in enumerate(collected)]
    return star, kw_from, [f"{p} = {b.star}[{i - len(collected)}]" for i, p in enumerate(collected)]


def _record(b: Builder, rng: np.random.Generator, args: list, way: str) -> str:
    """A parameter of the "records" extension (a Layer, a Pair or a list of Layers), with
    its argument; returns its name."""
    W = b.pick(b.shape_pool)
    bias = b.sub_shape(W)
    items = (("W", W), ("b", bias))
    if way == "record-list":
        n = b.int(1, 3)
        name = b.fresh("layers")
        args.append([Layer(_array(rng, W), _array(rng, bias)) for _ in range(n)])
        b.scope[name] = Var(name, "records", items=items, length=n, param=True)
    else:
        cls = Layer if way == "record-dataclass" else Pair
        name = b.fresh("p")
        args.append(cls(_array(rng, W), _array(rng, bias)))
        b.scope[name] = Var(name, "record", items=items, param=True)
    b.use(way)
    return name


def _method(b: Builder, rng: np.random.Generator) -> tuple[list[str], str, list[str]]:
    """The attributes of the object whose bound method ``loss`` is f (the "methods"
    extension), put in scope as ``self.attr``, and its ``forward`` method: returns the
    lines of ``__init__``, forward's text and the code that rebinds attributes."""
    init, rebind = [], []
    if b.allowed("method-attr"):
        if b.chance(70):
            init.append(f"self.scale = {float(rng.uniform(-1.2, 1.2))!r}")
            rebind.append(f"model.scale = {float(rng.uniform(-1.2, 1.2))!r}")
            b.scope["self.scale"] = Var("self.scale", "array", (), False, "alias", True, glob=True)
        if b.chance(70):
            shape = b.pick(b.shape_pool)
            init.append(f"self.bias = {_literal(_array(rng, shape))}")
            rebind.append(f"model.bias = {_literal(_array(rng, shape))}")
            b.scope["self.bias"] = Var("self.bias", "array", shape, False, "alias", True, glob=True)
    if b.allowed("method-string") and b.chance(70):
        value = b.pick(["tanh", "sin"])
        init.append(f'self.mode = "{value}"')
        rebind.append(f'model.mode = "{"sin" if value == "tanh" else "tanh"}"')
        b.modes.append(("self.mode", value))
    forward = ""
    if b.allowed("method-call") and b.chance(80):
        forward = _helper(b, "forward", depth=1 + ("control" in b.features), method=True)
        b.helpers[-1].name = "self.forward"
    if not b.allowed("method-rebind") or not b.chance(60):
        rebind = []
    elif rebind:
        rebind = [b.pick(rebind)]
    return init or ["pass"], forward, rebind


def _methods_class(b: Builder, chunks: list[str], init, forward, rebind) -> str:
    """Make f, the last chunk, the method ``loss`` of class Model, with ``forward``;
    returns the code that rebinds an attribute between the two checks."""
    loss = chunks.pop().replace("def f(", "def loss(self, ", 1)
    methods = "\n".join(["def __init__(self):", *(f"    {line}" for line in init)])
    for text in (forward, loss):
        if text:
            methods += "\n\n" + text.rstrip("\n")
    body = "\n".join(f"    {line}" if line else "" for line in methods.split("\n"))
    chunks.append(f"class Model:\n{body}\n\n\nmodel = Model()\nf = model.loss\n")
    used = chunks[-1]
    if _mentions(used, "self.scale") or _mentions(used, "self.bias"):
        b.use("method-attr")
    if "self.forward(" in loss:
        b.use("method-call")
    if not _mentions(used, "self.mode"):
        b.tags.discard("method-string")
    if rebind:
        b.use("method-rebind")
    return "\n".join(rebind)


def _edges(b: Builder, rng: np.random.Generator, params: list[str], args: list) -> None:
    """Exact zeros and ties in the arguments (of the "edges" feature)."""
    zeros, ties = b.allowed("edge-zero-input"), b.allowed("edge-tie")
    for i, a in enumerate(args):
        if i >= len(params) or params[i] not in b.scope or b.scope[params[i]].kind != "array":
            continue
        if isinstance(a, float):
            if zeros and b.chance(40):
                args[i] = 0.0
                b.use("edge-zero-input")
            continue
        if zeros and b.chance(50):
            flat = a.reshape(-1)
            for _ in range(b.int(1, max(1, flat.size // 2))):
                flat[b.int(0, flat.size - 1)] = 0.0
            b.use("edge-zero-input")
        if ties and a.size >= 2 and b.chance(50):
            flat = a.reshape(-1)
            flat[b.int(0, flat.size - 1)] = flat[b.int(0, flat.size - 1)]
            b.use("edge-tie")


def _globals(b: Builder, rng: np.random.Generator, chunks: list[str]) -> str:
    """Module-level numbers, arrays and functions that f reads; returns the code that
    rebinds them between the two checks."""
    lines, rebind = [], []
    b.globals = {"global-number": [], "global-array": [], "global-function": []}
    if b.allowed("global-number") and b.chance(70):
        c = "C0"
        lines.append(f"{c} = {float(rng.uniform(-1.2, 1.2))!r}")
        rebind.append(f"{c} = {float(rng.uniform(-1.2, 1.2))!r}")
        b.scope[c] = Var(c, "array", (), False, "alias", True, glob=True)
        b.globals["global-number"].append(c)
        b.use("global-number")
    if b.allowed("global-array") and b.chance(70):
        shape = b.pick(b.shape_pool)
        lines.append(f"A0 = {_literal(_array(rng, shape))}")
        rebind.append(f"A0 = {_literal(_array(rng, shape))}")
        b.scope["A0"] = Var("A0", "array", shape, False, "alias", True, glob=True)
        b.globals["global-array"].append("A0")
        b.use("global-array")
    if b.allowed("global-function") and b.chance(70):
        shape = b.pick(b.shape_pool)
        scale = "C0" if b.globals["global-number"] else "2.0"
        chunks.append(f"def g0(a):\n    return np.sin(a) * {scale}\n")
        chunks.append("def g0_other(a):\n    return np.tanh(a) * 2.0 - a * a\n")
        rebind.append("g0 = g0_other")
        b.helpers.append(Helper("g0", [("a", shape)], {}, [shape]))
        b.globals["global-function"].append("g0")
        b.use("global-function")
    if lines:
        chunks.insert(0, "\n".join(lines) + "\n")
    return "\n".join(rebind)


# Elementwise functions and their derivatives (of a, and of the result y)
CUSTOM_FORMS = (
    ("np.sin(a) * 2.0", "2.0 * np.cos(a)"),
    ("a * a * a", "3.0 * a * a"),
    ("np.tanh(a) + a", "2.0 - np.tanh(a) ** 2"),
    ("np.exp(-a * a)", "-2.0 * a * y"),
    ("a / (1.0 + a * a)", "(1.0 - a * a) / (1.0 + a * a) ** 2"),
)


def _custom(b: Builder, name: str) -> str:
    """A function with an adjoint rule registered by @ad.adjoint: a correct one, with
    an if on np.ndim and a return in each arm, or without control flow."""
    forward, derivative = b.pick(CUSTOM_FORMS)
    ways = [w for w in ("rule-plain", "rule-control-flow") if b.allowed(w)]
    if not ways:
        return ""
    way = b.pick(ways)
    if way == "rule-plain":
        body = b.pick(
            [
                f"    return dy * ({derivative})",
                f"    t = {derivative}\n    return dy * t",
            ]
        )
    else:
        body = b.pick(
            [
                # each arm is right only for its operands: np.sum for a 0-d operand,
                # [..., :] (an error on a 0-d one) for arrays, so a rule applied with
                # the wrong arm, or always the first or last return, is found
                f"    if np.ndim(a) == 0:\n        return np.sum(dy * ({derivative}))\n"
                f"    return (dy * ({derivative}))[..., :]",
                f"    if np.ndim(a) > 0:\n        g = (dy * ({derivative}))[..., :]\n"
                f"        return g\n    return np.sum(dy) * ({derivative})",
                f"    if np.ndim(dy) == 0:\n        return dy * ({derivative})\n"
                f"    t = {derivative}\n    return np.reshape(dy * t, np.shape(a))",
            ]
        )
    b.customs.append(name)
    b.use(way)
    return (
        f"def {name}(a):\n    return {forward}\n\n\n"
        f"@ad.adjoint({name})\ndef {name}_rule(dy, y, a):\n{body}\n"
    )


def _helper(b: Builder, name: str, depth: int, named: bool = False, method: bool = False) -> str:
    """A helper function over arrays of shapes from f's pool; registers it with ``b``.
    ``named``: it returns a scalar by name (see Builder.ending); ``method``: it is a
    method of f's object (it takes self first, and plain parameters)."""
    outer_scope, outer_helpers = b.scope, list(b.helpers)
    params = []
    b.scope = {k: v for k, v in outer_scope.items() if v.glob}
    for i in range(b.int(1, 3)):
        p = f"a{i}"
        shape = b.pick(b.shape_pool)
        params.append((p, shape))
        b.scope[p] = Var(p, "array", shape, via="argument", param=True)
    defaults = {}
    if len(params) >= 2 and b.chance(30):
        p, shape = params[-1]
        if shape == ():
            defaults[p] = b.pick(["0.5", "2.0"])
    b.lines = []
    b.indent = 1
    b.in_helper = True
    outer_fns = b.fn_params
    # a function parameter with a default, applied to what it returns (and in its body)
    fn_param = None
    if not method and not named and b.allowed("sig-function-arg") and b.chance(35):
        fn_param = "act"
    b.fn_params = [fn_param] if fn_param else []
    features = b.features
    b.features = frozenset(features - {"containers"})
    b.block(b.int(1, 3), depth=depth - 1 if depth > 1 else 0)
    if named:
        b.fn_params = outer_fns
        b.ending()
        b.features = features
        b.in_helper = False
        sig = ", ".join(p for p, _ in params)
        text = f"def {name}({sig}):\n" + "\n".join(b.lines) + "\n"
        b.scope = outer_scope
        b.helpers = outer_helpers + [Helper(name, params, {}, [()])]
        return text
    b.features = features
    b.in_helper = False
    if b.chance(30):
        shapes = [b.any_shape(), b.any_shape()]
        exprs = [b.exact(s, 1) for s in shapes]
    else:
        shapes = [b.any_shape()]
        exprs = [b.exact(shapes[0], 1)]
    b.fn_params = outer_fns
    if fn_param is not None:  # (taken to return what it was given: see stmt_act)
        exprs[0] = E(f"{fn_param}({exprs[0].code})", exprs[0].shape, owned=False, via="call")
        b.use("sig-function-arg")
    ret = ", ".join(e.code for e in exprs)
    # a helper that returns (a view of) a parameter shares the caller's array
    aliases = not all(e.owned for e in exprs)
    readonly = any(e.readonly for e in exprs)
    b.emit(f"return {ret}")
    sig = ", ".join(p + (f"={defaults[p]}" if p in defaults else "") for p, _ in params)
    style = "plain" if method or fn_param else _style(b, params)
    if fn_param is not None:
        sig = f"{sig}, {fn_param}={b.pick(['np.tanh', 'np.sin'])}"
    if method:
        sig = f"self, {sig}"
    if style != "plain":
        defaults = {}
        sig, prologue = _styled_signature(style, params)
        b.lines = [f"    {line}" for line in prologue] + b.lines
    text = f"def {name}({sig}):\n" + "\n".join(b.lines) + "\n"
    partial = style in ("keyword-only", "kwargs") and params[-1][1] == ()
    if partial and b.allowed("param-partial"):
        text += f"\n\n{name}_half = functools.partial({name}, {params[-1][0]}=0.5)\n"
    b.scope = outer_scope
    helper = Helper(name, params, defaults, shapes, aliases, readonly, style, fn_param)
    b.helpers = outer_helpers + [helper]
    return text


def _owned(h: Helper, code: str) -> bool:
    """Whether a call's result is a new array adcompile knows the caller owns: not when
    the helper may return (a view of) an argument, nor through apply_fn, whose call of
    a function passed as a value adcompile's ownership check takes as one that may."""
    return not h.aliases and not code.startswith("apply_fn(")


def _style(b: Builder, params: list) -> str:
    """How a helper takes its parameters (the "parameters" extension), or "plain"."""
    styles = [
        s
        for s, tag in (
            ("varargs", "param-varargs"),
            ("keyword-only", "param-keyword-only"),
            ("kwargs", "param-kwargs"),
        )
        if b.allowed(tag)
    ]
    if not styles or len(params) < 2 or not b.chance(60):
        return "plain"
    style = b.pick(styles)
    b.use(
        {"varargs": "param-varargs", "keyword-only": "param-keyword-only"}.get(
            style, "param-kwargs"
        )
    )
    return style


def _styled_signature(style: str, params: list) -> tuple[str, list[str]]:
    """The signature of a helper of ``style`` and the lines that give its parameters
    their names in the body."""
    first, rest = params[0][0], [p for p, _ in params[1:]]
    if style == "varargs":
        return f"{first}, *rest", [f"{', '.join(rest)}, = rest"]
    if style == "keyword-only":
        return f"{first}, *, {', '.join(rest)}", []
    return f"{first}, **kw", [f"{p} = kw[{p!r}]" for p in rest]
