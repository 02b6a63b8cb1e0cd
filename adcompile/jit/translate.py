"""Generated numpy code rewritten into the subset of Python and numpy that numba
compiles in nopython mode: the text of one module holding the gradient and the
pullbacks of the functions it calls, each decorated with ``numba.njit``.

The rewriting edits the generated text in place, expression by expression, so that
its comments (the ``# line N:`` markers that say which line of the user's function
each block comes from) stay where they were, and a numba error on a line of the
module can be traced back to the user's line (``line_map``):

* reductions along an axis (``x.sum(axis=1, keepdims=True)``, ``np.max(x, 0)``)
  become calls of the helpers of ``jit/helpers.py`` (numba reduces along an axis
  only for some, and never keeps dimensions);
* the runtime helpers with a numba version are imported from there; the ``scalar_*``
  arithmetic of Python numbers becomes the plain operator (the module is compiled
  with numpy's error model: a zero divisor gives inf or nan, as numpy does);
* ``reversed(xs)`` becomes ``xs[::-1]``; ``np.broadcast_to(number, shape)`` becomes
  ``np.full(shape, number)``;
* numbers the code reads from the user's module become constants of the module, and
  arrays become module globals that numba freezes when it compiles.

Anything else the code names that numba cannot call (another runtime helper, an
object of another library) is refused with a located :class:`AdCompileError`."""

from __future__ import annotations

import ast
import builtins
import linecache
import math
import re
import types
from dataclasses import dataclass, field

import numpy as np

from ..errors import AdCompileError, Loc
from .outline import outline
from .unroll import HINT, unroll

# the numba versions of runtime helpers, and the functions numba-flavoured code calls
# in place of numpy's (all defined in jit/helpers.py); kept here as names so that
# translating needs no numba
JIT_HELPERS = (
    "zero_like",
    "extremum_mask",
    "unbroadcast",
    "unreduce",
    "matmul_adjoint_lhs",
    "matmul_adjoint_rhs",
    "unconcatenate",
    "unindex",
    "add_into",
    "dot_adjoint_lhs",
    "dot_adjoint_rhs",
    "reduced_count",
    "untranspose",
    "check_cotangent",
    "unit_cotangent",
    "abs_sign",
    "tie_share",
    "clip_low",
    "clip_high",
    "clip_passes",
)
# the reductions along axes (x.sum(axis=1), np.max(x, 0, keepdims=True)) and matrix
# products (x @ y, np.dot(x, y)), which the code calls as these helpers
REDUCTION_HELPERS = tuple(
    f"reduce_{op}" for op in ("sum", "mean", "max", "min", "prod", "var", "std")
)
# numpy's functions of one array that the code calls as helpers that call numpy's own
# for large arrays (numba's are several times slower there)
VECTOR_UFUNCS = (
    *("exp", "exp2", "expm1", "log", "log2", "log10", "log1p"),
    *("tanh", "sinh", "cosh", "tan", "arcsin", "arccos", "arctan"),
    *("arcsinh", "arccosh", "arctanh"),
)
HELPERS = (
    *JIT_HELPERS,
    *REDUCTION_HELPERS,
    *("matmul", "matmul_add"),
    *(f"numpy_{u}" for u in VECTOR_UFUNCS),
)
REDUCTIONS = {k: k for k in ("sum", "mean", "max", "min", "prod", "var", "std")}
REDUCTIONS.update({"amax": "max", "amin": "min"})
OPERATORS = {
    "scalar_divide": ast.Div,
    "scalar_power": ast.Pow,
    "scalar_mod": ast.Mod,
    "scalar_floordiv": ast.FloorDiv,
}
BUILTINS = frozenset(
    {"len", "range", "float", "int", "abs", "min", "max", "enumerate", "zip", "bool", "round"}
    | {"sum", "slice"}
)
LINE_MARK = re.compile(r"^\s*# line (\d+):")
NJIT = '@numba.njit(cache=True, error_model="numpy")'


@dataclass
class Text:
    """One generated function (or pair of them) to translate."""

    text: str
    namespace: dict
    filename: str  # of the user's source


@dataclass
class Module:
    """The translated module: its text, the module globals to set before numba compiles
    (arrays), which user line each of its lines comes from, its functions' names."""

    text: str
    arrays: dict = field(default_factory=dict)
    line_map: dict = field(default_factory=dict)  # module line -> Loc
    functions: list = field(default_factory=list)


def user_loc(filename: str, lineno: int) -> Loc:
    """The Loc of the user's line ``lineno`` of ``filename``: column at its first word."""
    text = linecache.getline(filename, lineno)
    return Loc(filename, lineno, len(text) - len(text.lstrip()), text.rstrip("\n"))


def translate(texts: list[Text], title: str, containers: dict | None = None) -> Module:
    """The numba module of ``texts`` (the gradient first, then its pairs);
    ``containers`` maps the gradient's list and tuple parameters to their shape
    signatures (see ``jit/unroll.py``)."""

    imports = {"numba": "import numba", "np": "import numpy as np"}
    constants: dict[str, str] = {}
    arrays: dict[str, np.ndarray] = {}
    helpers: set[str] = set()
    bodies = []
    functions: list[str] = []
    pending = []
    checks = []
    for item in texts:
        body, tree = _body(item.text)
        marks = _marks(body, item.filename)
        edits = Rewriter(item, marks, helpers, bool(containers) and not bodies)
        edits.visit(tree)
        body = edits.apply(body)
        if containers and not bodies:
            body = unroll(body, containers, edits.loc)[0]
            if "zero_like(" in body:
                helpers.add("zero_like")
        tree = ast.parse(body)
        functions += [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        checks.append((tree, item.namespace, edits.loc))
        for name, (value, node) in _free_names(tree, item.namespace).items():
            if name not in helpers:
                pending.append((name, value, edits.loc(node)))
        bodies.append((body, item.filename))
    for tree, namespace, loc in checks:  # (once every helper the module imports is known)
        _check_helper_names(tree, namespace, helpers, loc)
    for name, value, loc in pending:
        if name not in functions:
            _resolve(name, value, loc, imports, constants, arrays)
    head = [
        f"# {title}",
        "# adcompile's numba backend: code in numba's nopython subset, compiled by",
        "# adcompile's own compiler (jit/kernel.py) where it takes it, else by numba",
    ]
    head += sorted(set(imports.values()), key=lambda s: (s.startswith("from"), s))
    if helpers:
        names = ", ".join(sorted(helpers))
        head.append(f"from adcompile.jit.helpers import {names}")
    head += [f"{k} = {v}" for k, v in sorted(constants.items())]
    head += [f"{k} = None  # an array, set before numba compiles" for k in sorted(arrays)]
    taken = {*imports, *constants, *arrays, *helpers, *functions}
    for body, _ in bodies:
        taken |= {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)}
    texts, shared = outline([body for body, _ in bodies], taken, NJIT)
    bodies = [(text, filename) for text, (_, filename) in zip(texts, bodies, strict=True)]
    for function in shared:
        head += ["", "", *function.rstrip("\n").splitlines()]
    lines = [*head]
    line_map: dict[int, Loc] = {}
    for body, filename in bodies:
        lines += ["", ""]
        current = None
        for line in body.splitlines():
            if line.startswith("def "):
                lines.append(NJIT)
            m = LINE_MARK.match(line)
            if m:
                current = user_loc(filename, int(m.group(1)))
            lines.append(line)
            if current is not None:
                line_map[len(lines)] = current
    return Module("\n".join(lines) + "\n", arrays, line_map, functions)


def _body(text: str) -> tuple[str, ast.Module]:
    """The text without its opening comment lines (the numpy header), and its tree."""
    lines = text.splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    body = "\n".join(lines) + "\n"
    return body, ast.parse(body)


def _is_np_s(node: ast.expr, namespace: dict) -> bool:
    """Whether ``node`` is ``np.s_`` (numba has no index expressions: the index is
    written as the tuple it makes, slices as ``slice(...)``)."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "s_"
        and isinstance(node.value, ast.Name)
        and namespace.get(node.value.id) is np
    )


def _index_value(node: ast.expr) -> ast.expr:
    """The value of the index ``node`` (``np.s_[1:, ::2]``: ``(slice(1, None, None),
    slice(None, None, 2))``)."""
    if isinstance(node, ast.Tuple):
        return ast.Tuple([_index_value(e) for e in node.elts], ast.Load())
    if isinstance(node, ast.Slice):
        bounds = [
            b if b is not None else ast.Constant(None) for b in (node.lower, node.upper, node.step)
        ]
        return ast.Call(ast.Name("slice", ast.Load()), bounds, [])
    return node


def _marks(body: str, filename: str) -> list[tuple[int, int]]:
    """(line of the body, user line) of every ``# line N:`` marker, in order."""
    out = []
    for i, line in enumerate(body.splitlines(), 1):
        m = LINE_MARK.match(line)
        if m:
            out.append((i, int(m.group(1))))
    return out


class Rewriter(ast.NodeVisitor):
    """Finds the expressions to rewrite and records each edit of the text."""

    def __init__(self, item: Text, marks: list, helpers: set, containers: bool) -> None:
        self.containers = containers  # container helpers are left to jit/unroll.py
        self.item = item
        self.marks = marks
        self.helpers = helpers
        self.edits: list[tuple[int, int, int, int, str]] = []

    def loc(self, node: ast.AST) -> Loc | None:
        line = getattr(node, "lineno", 0)
        user = [u for at, u in self.marks if at <= line]
        return user_loc(self.item.filename, user[-1]) if user else None

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr):
            new = self.rewrite(node)
            if new is not node:
                text = ast.unparse(new)
                self.edits.append(
                    (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text)
                )
                return
        super().generic_visit(node)

    def rewrite(self, node: ast.expr) -> ast.expr:
        """``node`` rewritten (a new node), or ``node`` itself when nothing changes."""
        changed = False
        fields = {}
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                new = self.rewrite(value)
                changed |= new is not value
                fields[name] = new
            elif isinstance(value, list):
                items = [self.rewrite(v) if isinstance(v, ast.expr) else v for v in value]
                changed |= any(a is not b for a, b in zip(items, value, strict=True))
                fields[name] = items
            elif isinstance(value, ast.keyword):  # pragma: no cover - keywords are in lists
                fields[name] = value
            else:
                fields[name] = value
        if isinstance(node, ast.Call):
            fields["keywords"] = [ast.keyword(k.arg, self.rewrite(k.value)) for k in node.keywords]
            changed |= any(
                a.value is not b.value
                for a, b in zip(fields["keywords"], node.keywords, strict=True)
            )
        new = type(node)(**fields) if changed else node
        if changed:
            ast.copy_location(new, node)
        if isinstance(new, ast.Call):
            return self.call(new, node)
        if isinstance(new, ast.BinOp) and isinstance(new.op, ast.MatMult):
            return self.matmul([new.left, new.right])
        if isinstance(new, ast.Subscript) and _is_np_s(new.value, self.item.namespace):
            return _index_value(new.slice)
        if isinstance(new, ast.BinOp) and isinstance(new.op, ast.Add):
            return self.matmul_add(new)
        return new

    def matmul_add(self, node: ast.BinOp) -> ast.expr:
        """``matmul(a, b) + c`` (or ``c + matmul(a, b)``) as ``matmul_add(a, b, c)``,
        which fills one array with ``c`` and has gemm add the product to it, instead of
        making the product and then the sum."""
        for product, other in ((node.left, node.right), (node.right, node.left)):
            if _is_helper_call(product, "matmul") and len(product.args) == 2:
                self.helpers.add("matmul_add")
                return ast.Call(ast.Name("matmul_add", ast.Load()), [*product.args, other], [])
        return node

    def matmul(self, args: list) -> ast.expr:
        """A matrix product as a call of the helper ``matmul``: its numba code, compiled
        for each kind of operands once and kept in numba's cache, is shared by every
        gradient (numba's own takes a second or more to compile in each process)."""
        self.helpers.add("matmul")
        return ast.Call(ast.Name("matmul", ast.Load()), args, [])

    def call(self, node: ast.Call, original: ast.Call) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Name):
            value = self.item.namespace.get(func.id)
            if func.id == "reversed" and value in (None, reversed) and len(node.args) == 1:
                return ast.Subscript(
                    node.args[0], ast.Slice(None, None, ast.Constant(-1)), ast.Load()
                )
            module = getattr(value, "__module__", "") or ""
            if module.startswith("adcompile.runtime"):
                return self.helper(func.id, node, original)
            return node
        if isinstance(func, ast.Attribute):
            owner = func.value
            is_np = isinstance(owner, ast.Name) and self.item.namespace.get(owner.id) is np
            if func.attr in REDUCTIONS:
                args = node.args if is_np else [owner, *node.args]
                return self.reduction(REDUCTIONS[func.attr], args, node, original)
            if is_np and func.attr in VECTOR_UFUNCS and len(node.args) == 1 and not node.keywords:
                # (an argument no one else reads, an expression's fresh array, is
                # overwritten by the result rather than another array made)
                self.helpers.add(f"numpy_{func.attr}")
                keywords = [ast.keyword("overwrite", ast.Constant(True))]
                fresh = _is_fresh(node.args[0])
                return ast.Call(
                    ast.Name(f"numpy_{func.attr}", ast.Load()), node.args, keywords * fresh
                )
            if is_np and func.attr == "dot" and len(node.args) == 2 and not node.keywords:
                return self.matmul(node.args)
            if is_np and func.attr == "broadcast_to" and len(node.args) == 2:
                value, shape = node.args
                if isinstance(value, ast.Constant) or _is_number(value):
                    return _np_call("full", [shape, value])
        return node

    def reduction(self, op: str, args: list, node: ast.Call, original: ast.Call) -> ast.expr:
        kw = {k.arg: k.value for k in node.keywords}
        if len(args) < 1 or set(kw) - {"axis", "keepdims"}:
            return node
        axis = args[1] if len(args) > 1 else kw.get("axis")
        keepdims = args[2] if len(args) > 2 else kw.get("keepdims")
        if len(args) > 3:
            return node
        if _is_none(axis) and (keepdims is None or _is_false(keepdims)):
            if node.keywords or len(args) > 1:  # np.sum(x, axis=None): np.sum(x)
                return _np_call(op, [args[0]])
            return node
        if _is_none(axis):
            raise AdCompileError(
                f"the numba backend reduces along one axis; this line keeps the "
                f"dimensions of a {op} over every axis",
                self.loc(original),
                hint=HINT,
            )
        name = f"reduce_{op}"
        self.helpers.add(name)
        keep = keepdims if keepdims is not None else ast.Constant(False)
        if op in ("var", "std") and isinstance(axis, ast.Tuple):
            raise AdCompileError(
                f"the numba backend takes the {op} along one axis, not {ast.unparse(axis)}",
                self.loc(original),
                hint=HINT + ", or reduce one axis at a time",
            )
        return ast.Call(ast.Name(name, ast.Load()), [args[0], axis, keep], [])

    def helper(self, name: str, node: ast.Call, original: ast.Call) -> ast.expr:
        if name in OPERATORS and len(node.args) == 2 and not node.keywords:
            return ast.BinOp(node.args[0], OPERATORS[name](), node.args[1])
        if name in JIT_HELPERS:
            self.helpers.add(name)
            return node
        if name in ("zeros_adjoint", "add_at") and self.containers:
            return node
        raise AdCompileError(
            f"the numba backend has no version of adcompile.runtime.{name}, which the "
            "gradient of this line calls",
            self.loc(original),
            hint=HINT,
        )

    def apply(self, body: str) -> str:
        lines = body.splitlines()
        for l0, c0, l1, c1, text in sorted(self.edits, reverse=True):
            if l0 != l1:
                first, last = lines[l0 - 1], lines[l1 - 1]
                lines[l0 - 1 : l1] = [first[:c0] + text + last[c1:]]
                lines[l0:l0] = [""] * (l1 - l0)  # (the module's lines keep their numbers)
            else:
                line = lines[l0 - 1]
                lines[l0 - 1] = line[:c0] + text + line[c1:]
        return "\n".join(lines) + "\n"


def _is_helper_call(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


# the helpers whose result is a new array (or a number), never one of their arguments
FRESH_HELPERS = frozenset({"matmul", "matmul_add", *(f"numpy_{u}" for u in VECTOR_UFUNCS)})


def _is_fresh(node: ast.expr) -> bool:
    """Whether ``node``, in numba code, makes a new array that nothing else can read
    (or a number): arithmetic and a negation of arrays, the helpers of FRESH_HELPERS.
    A name, a view (``x.T``, ``x[i]``) or another call may be an array read later."""
    if isinstance(node, ast.BinOp) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    ):
        return True
    return any(_is_helper_call(node, name) for name in FRESH_HELPERS)


def _np_call(attr: str, args: list) -> ast.Call:
    return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), attr, ast.Load()), args, [])


def _is_none(node) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def _is_false(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _is_number(node) -> bool:
    return (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
    )


def _check_helper_names(tree: ast.Module, namespace: dict, helpers: set, loc) -> None:
    """Refuse code in which a name of a helper the module imports means something else:
    a variable of the function, or an object of the user's module of that name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.arg in helpers:
            uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == node.arg]
            where = next(filter(None, map(loc, uses)), None)  # (the def line has no mark)
            raise AdCompileError(
                f"the numba backend's code calls its helper {node.arg}, and this function "
                f"has a parameter {node.arg!r}",
                where,
                hint=f"rename {node.arg!r}, or " + HINT,
            )
        if isinstance(node, ast.Name) and node.id in helpers:
            value = namespace.get(node.id)
            ours = value is None or (getattr(value, "__module__", "") or "").startswith(
                "adcompile.runtime"
            )
            if node.id == "matmul" and (value is np.dot or value is np.matmul):
                ours = True  # (the same function of one- and two-dimensional arrays)
            if isinstance(node.ctx, ast.Load) and ours:
                continue
            raise AdCompileError(
                f"the numba backend's code calls its helper {node.id}, and this function "
                f"names something else {node.id!r}",
                loc(node),
                hint=f"rename {node.id!r}, or " + HINT,
            )


def _free_names(tree: ast.Module, namespace: dict) -> dict[str, tuple[object, ast.AST]]:
    """The names the functions read but do not bind, with their value in ``namespace``
    (None when absent) and the first node that reads them."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            bound.add(node.name)
            bound.update(a.arg for a in node.args.args + node.args.kwonlyargs)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
    free: dict[str, tuple[object, ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in bound and node.id not in free:
                free[node.id] = (namespace.get(node.id), node)
    return free


def _resolve(
    name: str, value: object, loc: Loc | None, imports: dict, constants: dict, arrays: dict
) -> None:
    """Make ``name`` mean ``value`` in the module, or refuse it."""
    if name in BUILTINS and (value is None or value is getattr(builtins, name, None)):
        return
    if value is np:
        imports[name] = "import numpy as np" if name == "np" else f"import numpy as {name}"
    elif value is math:
        imports[name] = "import math" if name == "math" else f"import math as {name}"
    elif isinstance(value, bool | int | float) and not isinstance(value, np.generic):
        if isinstance(value, float) and not math.isfinite(value):
            text = f"float({str(value)!r})"
        else:
            text = repr(value)
        if constants.get(name, text) != text:
            raise AdCompileError(
                f"the numba backend puts the gradient and the functions it calls in one "
                f"module, and {name!r} means two different numbers in them",
                loc,
                hint=HINT + ", or give one of them another name",
            )
        constants[name] = text
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        if name in arrays and arrays[name] is not value:
            raise AdCompileError(
                f"{name!r} means two different arrays in the gradient and a function it calls",
                loc,
                hint=HINT + ", or give one of them another name",
            )
        arrays[name] = value
    elif isinstance(value, types.ModuleType | types.FunctionType | types.BuiltinFunctionType):
        what = getattr(value, "__qualname__", getattr(value, "__name__", repr(value)))
        module = getattr(value, "__module__", "") or ""
        if module in ("math", "numpy") or module.startswith("numpy."):
            imports[name] = f"from {module} import {value.__name__} as {name}"
            return
        raise AdCompileError(
            f"the numba backend cannot call {what} (named {name!r} in the generated code)",
            loc,
            hint=HINT,
        )
    elif isinstance(value, np.ufunc):
        imports[name] = f"from numpy import {value.__name__} as {name}"
    else:
        what = "an unknown name" if value is None else f"a {type(value).__name__}"
        raise AdCompileError(
            f"the numba backend cannot compile code that reads {name!r} ({what})",
            loc,
            hint=HINT,
        )
