"""The language reference, generated from the compiler's own tables.

``adcompile rules`` prints it; ``docs/language.md`` is its Markdown form (a test
checks that the file equals the command's output). Everything that can be read
from a table is: the adjoint rules and their formulas (``rules/``), the
functions without a derivative (``NONDIFF``), array methods and attributes, the
builtins with no derivative and the aliases (``normalize``), the operators, and
the refused constructs (``fence.REFUSED``). The prose around them is written
here, next to the tables it explains.

A document is a list of blocks, rendered as Markdown or as plain text::

    ("h1" | "h2" | "h3" | "p", text)   ("ul", [items])   ("code", text)
    ("table", [headers], [[cell, ...], ...])   # a cell's lines are separated by "\\n"
"""

from __future__ import annotations

import ast
import builtins
import copy
import math
import operator
import re
import textwrap
import warnings
from pathlib import Path

import numpy as np

from . import fence, normalize
from .reference_text import FUNCTIONS_TEXT, STATEMENTS_TEXT, VALUES_TEXT
from .rules import registry
from .rules.registry import NONDIFF, RULES, SPECIALIZED, Rule, primitive_name

Block = tuple

RULES_DIR = Path(registry.__file__).resolve().parent

# The families of built-in rules: module of rules/ -> heading, in this order.
FAMILIES = {
    "operators": "Operators",
    "elementwise": "Elementwise functions",
    "reductions": "Reductions",
    "linalg": "Products and linear algebra",
    "shapes": "Shapes and indexing",
    "scalar": "Python floats (`math`)",  # the rules of spellings on Python floats
    # (optional: listed when scipy is installed, see rules.load_optional)
    "scipy_special": "scipy.special (with scipy installed)",
    "scipy_stats": "scipy.stats distributions (with scipy installed)",
}

# numpy names that are the same object as another one, in every supported numpy;
# the first is how people usually write it.
NUMPY_SPELLINGS = [("abs", "absolute"), ("mod", "remainder"), ("divide", "true_divide")]

BINARY_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
UNARY_SYMBOLS = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not ", ast.Invert: "~"}

# One example of each refused construct, by the name of its ast class.
REFUSED_EXAMPLES = {
    "Try": "try: ... except ValueError: ...",
    "TryStar": "try: ... except* ValueError: ...",
    "AsyncWith": "async with lock: ...",
    "AsyncFor": "async for x in xs: ...",
    "Await": "y = await f(x)",
    "Yield": "yield x",
    "YieldFrom": "yield from xs",
    "Global": "global W",
    "Nonlocal": "nonlocal W",
    "ClassDef": "class Layer: ...",
    "AsyncFunctionDef": "async def f(x): ...",
    "NamedExpr": "if (n := len(xs)) > 0: ...",
    "SetComp": "s = {x for x in xs}",
    "JoinedStr": "name = f'layer{i}'",
    "Starred": "ys = [*xs, y]",
    "Delete": "del h",
    "Import": "import scipy",
    "ImportFrom": "from scipy import special",
    "Set": "s = {1, 2}",
    "AnnAssign": "h: np.ndarray = W @ x",
    "Match": "match mode: ...",
    "TypeAlias": "type Vec = np.ndarray",
}

# Constructs whose syntax only some Python versions have: refused where the syntax
# exists, a syntax error where it does not. Listed in every version, so that the
# reference is the same whichever Python generates it.
VERSION_SPECIFIC = {
    "TryStar": ("try/except", "handle errors outside the differentiated function"),
    "TypeAlias": ("a type alias", "define it at module level"),
}

BUILTIN_MEANINGS = {
    "len": "the length of a list, tuple or array",
    "int": "conversion to an integer",
    "bool": "the truth value",
    "round": "rounding",
    "isinstance": "a type test",
    "range": "a range of integers, as an index (`x[range(2)]`) or a loop's iterable",
}

# Refusals the fence makes by looking at more than a node's type (see fence.check).
OTHER_REFUSALS = [
    (
        "assigning into a part of an expression (not an array named by a variable)",
        "`x[i][j] = v`, `x.T[0] = v`",
        fence.SUBSCRIPT_TARGET_HINT,
    ),
    ("assigning to an attribute", "`self.h = h`", fence.ATTRIBUTE_TARGET_HINT),
    ("star-unpacking in an assignment", "`first, *rest = xs`", fence.STARRED_TARGET_HINT),
]

INTRO = """\
adcompile differentiates a Python function by reading its source, so it accepts
the part of Python that numeric training code is written in. This page lists all
of it: the statements and values, the operators, every function with an adjoint
rule (with the rule itself), the functions whose results carry no derivative,
array methods and attributes, builtins, and the constructs that are refused.
Anything not listed is refused too, with an error at the line that uses it (see
[the error catalogue](errors.md)); a function with no rule says so and tells you
how to [register one](custom-rules.md)."""

GENERATED_NOTE = (
    "This page is generated by `adcompile rules --format markdown` from the "
    "compiler's own tables, so it lists what the installed version does. Do not "
    "edit it by hand: the tests check that it equals the command's output."
)

KINKS_TEXT = [
    "`np.abs`: the derivative is `sign(x)`, so 0 at 0.",
    "`np.maximum`, `np.minimum`: where the operands tie, each gets half of the cotangent.",
    "`max(a, b)`, `min(a, b)` (the builtins): the operand Python returns gets the whole "
    "cotangent: `a` on a tie, and where `b` is NaN.",
    "`np.max`, `np.min` (and `.max()`, `.min()`): tied extreme elements share the "
    "cotangent equally.",
    "`np.maximum.accumulate`, `np.minimum.accumulate`: each result is the max (min) of "
    "its prefix, and its cotangent is shared equally among the elements of the prefix "
    "tied at it, as `np.max` of that prefix shares it.",
    "`np.maximum.accumulate`, `np.minimum.accumulate`: each result is the max (min) of "
    "its prefix, and its cotangent is shared equally among the elements of the prefix "
    "tied at it, as `np.max` of that prefix shares it.",
    "`np.clip`: the cotangent passes through where the value is at a bound.",
    "`np.std`: the gradient is 0 where the spread is 0 (all elements equal).",
    "`x ** p`: the derivative with respect to `p` is 0 where `x == 0`.",
    "`np.sqrt` at 0 and `np.log` at 0 give infinite derivatives, as the math does.",
    "`np.linalg.norm` (and `vector_norm`, `matrix_norm`): the gradient is 0 at zero; "
    "ties of the max/min norms share the cotangent equally; `ord=0` is piecewise constant.",
    "`np.linalg.eigh`, `eig`, `svd`: the vectors have no derivative at repeated eigenvalues "
    "or singular values, and their gradient there is inf or NaN "
    "(see docs/linear-algebra.md).",
    "`np.fabs`: like `np.abs`, 0 at 0; `np.hypot`: 0 at the origin; `np.sinc`: its limit 0 at 0.",
    "`np.fmax`, `np.fmin`: like `np.maximum` and `np.minimum`, except that a NaN "
    "operand gets nothing (the other operand is the result).",
    "`np.sort`, `np.partition`: tied elements are told apart in a stable order (the "
    "first occurrence takes the first place); each gets the cotangent of one place.",
    "`x.astype(int)` (any integer or boolean dtype): derivative 0, a step function; "
    "`np.angle` and `np.imag` of real values: derivative 0.",
    "Complex values (computed by `numpy.fft`) between real inputs and a real loss: "
    "the rules of holomorphic functions and linear maps take them as they are, in "
    "autograd's convention; `np.abs`, `np.real`, `np.imag`, `np.conj` and `np.angle` "
    "have rules of their own for them; any other rule given one is refused when the "
    "gradient is compiled, and `.astype(complex)` is refused (docs/numerics.md).",
    "A complex value whose imaginary parts are all zero (numpy 2.5 returns the real "
    "results of `np.linalg.eig` so) is taken as real; one with a nonzero imaginary part "
    "is refused when the gradient meets it in `np.real`, `np.abs`, the norms, `svd`, "
    "`eigh`, `slogdet` and `eig`'s own adjoint.",
    "`np.pad` is differentiated in `mode='constant'` only (other modes are refused "
    "when the gradient runs); `np.gradient` with `edge_order=1`, one scalar spacing "
    "and, for arrays of more than one axis, `axis=k`; `np.cross` for 3-vectors; "
    "`np.einsum` with subscripts as a string and up to six operands.",
]

RULES_TEXT = (
    "Each row is the rule that the compiler inlines into generated code, written "
    "as the chain rule: `y` is the result, `dy` its cotangent (the gradient of "
    "the final result with respect to `y`), and `dx += ...` the contribution to "
    "the adjoint of the operand `x`. Parameters with no line (axes, shapes, "
    "conditions) take no gradient. Where a function broadcasts its operands, "
    "each contribution is summed back to its operand's shape (`unbroadcast`). "
    "Names such as `unreduce` and `matmul_adjoint_lhs` are the small numpy helpers "
    "of `adcompile.runtime` that generated code calls. The tangent column is "
    "the forward-mode rule (`ad.jvp`, see [forward mode](higher-order.md)): `dx` is "
    "the tangent of the operand `x`, `dy` the tangent of the result; the terms of "
    "operands that do not depend on the `wrt` parameters are left out of the code."
)

SEE_ALSO = [
    "[Custom rules](custom-rules.md): register the adjoint of any function with "
    "`@adcompile.adjoint`.",
    "[Control flow](control-flow.md): how loops, branches, containers and calls are "
    "differentiated.",
    "[Errors](errors.md): every refusal and its message.",
    "[Numerics](numerics.md): what happens with infinities, NaNs and hostile input.",
    "[The CLI](cli.md): `adcompile show`, `rules` and `check`.",
]


# ------------------------------------------------------------------ document


def document() -> list[Block]:
    """The language reference as a list of blocks."""
    from . import rules

    rules.load_optional(import_libraries=True)  # the rules of scipy, when installed
    doc: list[Block] = [
        ("h1", "Language reference"),
        ("p", INTRO),
        ("p", GENERATED_NOTE),
        ("h2", "Python"),
        ("h3", "Functions"),
        ("ul", FUNCTIONS_TEXT),
        ("h3", "Statements"),
        ("ul", STATEMENTS_TEXT),
        ("h3", "Values"),
        ("ul", VALUES_TEXT),
        ("h2", "Operators"),
        (
            "p",
            "Each operator is differentiated as the numpy function that implements "
            "it for arrays, by that function's rule (see below).",
        ),
        ("table", ["operator", "means", "derivative"], operator_rows()),
        ("h2", "Functions with an adjoint rule"),
        ("p", RULES_TEXT),
    ]
    families: dict[str, list[Rule]] = {}
    for rule in RULES.values():
        families.setdefault(_family(rule), []).append(rule)
    # a module of rules/ that FAMILIES does not name yet is titled by its docstring
    others = sorted(k for k in families if k and k not in FAMILIES)
    sections = [*FAMILIES.items(), *((k, _module_title(k)) for k in others)]
    for key, title in [*sections, ("", "Other rules registered in this process")]:
        if families.get(key):
            doc.append(("h3", title))
            doc.append(
                (
                    "table",
                    ["function", "adjoint", "tangent (forward mode)", "broadcasts"],
                    [rule_row(r) for r in families[key]],
                )
            )
    special = special_rows()
    if special:
        doc += [
            ("h3", "Special cases for known shapes"),
            (
                "p",
                "When adcompile knows the operands' shapes (a call specialises the code to "
                "its arguments' shapes, and so does `adcompile show --shapes`), these rules "
                "replace the general one where their condition, a predicate on the "
                "operands' shapes, holds.",
            ),
            ("table", ["function", "when (operands' shapes)", "adjoint"], special),
        ]
    doc += [
        ("h3", "Where the derivative has a kink"),
        ("ul", KINKS_TEXT),
        ("h2", "Functions without a derivative"),
        (
            "p",
            "These functions are piecewise constant, integer- or boolean-valued, or "
            "make constants; their results are used as they are and take no adjoint "
            "(for example `np.argmax` as an index, `np.zeros_like(x)` as a start "
            "value, `np.sign(x)` as a factor):",
        ),
        ("p", ", ".join(f"`{n}`" for n in nondiff_names())),
        ("h2", "Array methods and attributes"),
        ("table", ["method or attribute", "means", "derivative"], method_rows()),
        ("h2", "Builtins"),
        ("table", ["builtin", "means", "derivative"], builtin_rows()),
        ("h2", "Refused constructs"),
        (
            "p",
            "These are refused before anything else happens, with the file, line and "
            "column, the line itself, and what to write instead:",
        ),
        ("table", ["construct", "example", "instead"], refused_rows()),
        ("h2", "See also"),
        ("ul", SEE_ALSO),
    ]
    return doc


def _family(rule: Rule) -> str:
    record = registry.record_of(rule.primitive)
    if record is not None and rule.primitive in record.on_floats:
        return "scalar"  # the rule of a spelling on Python floats (math.tanh)
    loc = rule.loc
    if loc is None:
        return ""
    path = Path(loc.filename).resolve()
    if path.parent == RULES_DIR:
        return path.stem
    return ""


def _module_title(stem: str) -> str:
    """The first sentence of the docstring of ``rules/<stem>.py``, or its name."""
    import importlib

    doc = (importlib.import_module(f"{registry.__package__}.{stem}").__doc__ or "").strip()
    first = doc.split("\n\n")[0].split(". ")[0].rstrip(".:")
    return " ".join(first.replace("``", "`").split()) or stem


# -------------------------------------------------------------------- tables


def _alias_spellings() -> dict[int, list[str]]:
    """primitive id -> other ways to write it (``math.exp``, ``abs``, ``np.amax``)."""
    names: dict[int, str] = {}
    with warnings.catch_warnings():  # numpy warns on some deprecated names
        warnings.simplefilter("ignore")
        for module, prefix in (
            (builtins, ""),
            (math, "math."),
            (operator, "operator."),
            (np, "np."),
        ):
            for name in dir(module):
                if not name.startswith("_"):
                    obj = getattr(module, name, None)
                    if obj is not None:
                        names.setdefault(id(obj), prefix + name)
    out: dict[int, list[str]] = {}
    for record in registry.primitives():
        for fn in (*record.aliases, *record.on_floats):
            if id(fn) in names:
                out.setdefault(id(record.canonical), []).append(names[id(fn)])
    for group in NUMPY_SPELLINGS:
        present = [n for n in group if hasattr(np, n)]
        if len(present) > 1 and all(getattr(np, n) is getattr(np, present[0]) for n in present):
            out.setdefault(id(getattr(np, present[0])), []).extend(f"np.{n}" for n in present)
    return out


def spelled(fn: object) -> str:
    """How a user writes ``fn``: np.abs rather than np.absolute."""
    for group in NUMPY_SPELLINGS:
        for n in group:
            if getattr(np, n, None) is fn:
                return f"np.{group[0]}"
    if fn is operator.getitem:
        return "a[index]"
    return primitive_name(fn)


def _operator_spelling(fn: object) -> tuple[str, list[str]] | None:
    """``(z = x + y, [np.add])``-like spellings of an operator's primitive."""
    for op, prim in normalize.BINOPS.items():
        if prim is fn:
            return BINARY_SYMBOLS[op], []
    for op, prim in normalize.UNARYOPS.items():
        if prim is fn:
            return UNARY_SYMBOLS[op], []
    return None


def rule_call(rule: Rule) -> str:
    """``y = np.sum(a, axis=None, keepdims=False)``: the primitive applied to its parameters."""
    fn = rule.primitive
    out = rule.output
    symbol = _operator_spelling(fn)
    if fn is operator.getitem:
        return f"{out} = {rule.params[0]}[{rule.params[1]}]"
    if symbol is not None and len(rule.params) == 2:
        return f"{out} = {rule.params[0]} {symbol[0]} {rule.params[1]}"
    if symbol is not None and len(rule.params) == 1:
        return f"{out} = {symbol[0]}{rule.params[0]}"
    args = [p if p not in rule.defaults else f"{p}={rule.defaults[p]!r}" for p in rule.params]
    return f"{out} = {spelled(fn)}({', '.join(args)})"


def rule_formula(rule: Rule) -> list[str]:
    """The rule as lines of chain rule: its prelude, then ``dx += contribution`` each."""
    # a rule with branches assigns each contribution to a variable on every path
    # (rules/template.py's branched): show those assignments as the contributions they are
    pairs = zip(rule.params, rule.contributions, strict=False)
    assigned = {
        c.id: param
        for param, c in pairs
        if isinstance(c, ast.Name)
        and c.id not in rule.params
        and c.id not in rule.free
        and any(_assigns(s, c.id) for s in rule.prelude)
    }

    class Contribute(ast.NodeTransformer):
        def visit_Assign(self, node: ast.Assign) -> ast.stmt:
            target = node.targets[0]
            if len(node.targets) == 1 and isinstance(target, ast.Name) and target.id in assigned:
                name = ast.Name(id=f"d{assigned[target.id]}", ctx=ast.Store())
                return ast.AugAssign(target=name, op=ast.Add(), value=node.value)
            return node

    prelude = [Contribute().visit(copy.deepcopy(s)) for s in rule.prelude]
    lines = [ast.unparse(s) for s in prelude]
    for param, contribution in zip(rule.params, rule.contributions, strict=False):
        if contribution is not None and not (
            isinstance(contribution, ast.Name) and contribution.id in assigned
        ):
            lines.append(f"d{param} += {ast.unparse(contribution)}")
    return lines


def _assigns(stmt: ast.stmt, name: str) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
        for n in ast.walk(stmt)
    )


def differentiable_params(rule: Rule) -> list[str]:
    return [p for p, c in zip(rule.params, rule.contributions, strict=False) if c is not None]


def rule_row(rule: Rule) -> list[str]:
    fn = rule.primitive
    others = set(_alias_spellings().get(id(fn), []))
    if _operator_spelling(fn) is not None:
        others.add(spelled(fn))  # z = x + y is also np.add(x, y)
    else:
        others.discard(spelled(fn))  # the call shows it
    if fn is operator.getitem:
        others = set()
    others = sorted(others)
    first = [f"`{rule_call(rule)}`"]
    if others:
        first.append("also " + ", ".join(f"`{n}`" for n in others))
    wrt = differentiable_params(rule)
    if len(wrt) < len(rule.params):
        first.append("differentiable in " + ", ".join(f"`{p}`" for p in wrt))
    record = registry.record_of(fn)
    if record is not None and record.results != 1:
        first.append("a tuple result: its cotangent is a list, None where an element gets none")
    formula = [f"`{line}`" for line in rule_formula(rule)]
    tangent = [f"`{line}`" for line in tangent_formula(rule.primitive)]
    return [
        "\n".join(first),
        "\n".join(formula),
        "\n".join(tangent),
        "yes" if rule.broadcasts else "",
    ]


def tangent_formula(fn: object) -> list[str]:
    """The lines of ``fn``'s tangent rule as the generated code reads them (the
    output's tangent named ``d`` and the output), or none when it has none."""
    from .rules.tangents import tangent_rule

    rule = tangent_rule(fn)
    if rule is None:
        return ["(none: forward mode refuses it)"]
    lines = [line for stmt in rule.prelude for line in ast.unparse(stmt).splitlines()]
    result = ast.unparse(rule.result)
    if result == f"d{rule.output}":  # a rule with branches assigns it on each path
        return lines
    return [*lines, f"d{rule.output} = {result}"]


def _when_text(rule: Rule) -> str:
    """The ``when=`` predicate of a special-case rule, from its decorator's source."""
    text = (rule.loc.text if rule.loc else "").strip()
    try:
        call = ast.parse(text.lstrip("@")).body[0].value
        for kw in call.keywords:
            if kw.arg == "when" and isinstance(kw.value, ast.Lambda):
                return f"`{ast.unparse(kw.value.body)}`"
    except (SyntaxError, IndexError, AttributeError):
        pass
    return "a condition on the shapes"


def special_rows() -> list[list[str]]:
    rows = []
    for entries in SPECIALIZED.values():
        for _, rule in entries:
            rows.append(
                [
                    f"`{rule_call(rule)}`",
                    _when_text(rule),
                    "\n".join(f"`{line}`" for line in rule_formula(rule)),
                ]
            )
    return rows


def nondiff_names() -> list[str]:
    objects = registry._KEEP_ALIVE
    names = {spelled(objects[i]) if i in objects else n for i, n in NONDIFF.items()}
    return sorted(names)


def _status(fn: object) -> str:
    if registry.lookup(fn) is not None:
        rule = registry.lookup(fn)
        return "yes, broadcasts" if rule.broadcasts else "yes"
    if registry.is_nondiff(fn):
        return "none"
    return "refused: no adjoint rule"


def operator_rows() -> list[list[str]]:
    rows = []
    for op, prim in normalize.BINOPS.items():
        rows.append([f"`x {BINARY_SYMBOLS[op]} y`", f"`{spelled(prim)}`", _status(prim)])
    for op, prim in normalize.UNARYOPS.items():
        rows.append([f"`{UNARY_SYMBOLS[op]}x`", f"`{spelled(prim)}`", _status(prim)])
    rows += [
        [
            "`x < y`, `x <= y`, `x > y`, `x >= y`, `x == y`, `x != y`",
            "comparison",
            "none (a boolean)",
        ],
        [
            "`a and b`, `a or b`",
            "one of the operands, as Python: `b if a else a`, `a if a else b`",
            "yes, through the operand it returns",
        ],
        ["`a if c else b`", "conditional expression", "yes, through `a` or `b`"],
        ["`x[index]`", "indexing and slicing", "yes (see `a[index]` below)"],
    ]
    return rows


def method_rows() -> list[list[str]]:
    rows = [
        ["`.T`", "`np.transpose(x)`", _status(np.transpose)],
        ["`.real`", "`np.real(x)`", _status(np.real)],
        ["`.imag`", "`np.imag(x)`", _status(np.imag)],
    ]
    for name, (prim, pack) in normalize.METHODS.items():
        call = f"`x.{name}(...)`"
        if pack is not None:
            example = "2, 3" if pack == "shape" else "1, 0"
            call += f"\n(`x.{name}({example})` or `x.{name}(({example}))`)"
        rows.append([call, f"`{spelled(prim)}(x, ...)`", _status(prim)])
    rows.append(["`x.item()`", "the number a one-element array holds, a Python float", "yes"])
    for name in sorted(normalize.CONSTANT_ATTRIBUTES):
        rows.append([f"`.{name}`", "the array's attribute", "none"])
    rows.append(["`xs.append(v)`", "on a list: a new list with `v` at the end", "yes"])
    return rows


def builtin_rows() -> list[list[str]]:
    rows = []
    for alias_id, canonical in normalize.ALIASES.items():
        for name in dir(builtins):
            if id(getattr(builtins, name)) == alias_id:
                rows.append([f"`{name}(x)`", f"`{spelled(canonical)}(x)`", _status(canonical)])
    rows += [
        ["`float(x)`", "the number itself", "yes"],
        [
            "`max(a, b)`, `min(a, b)`",
            "the operand Python returns: `b` where `b > a` (`b < a`), else `a` (two arguments)",
            "yes",
        ],
        ["`max(a, b, c)`, `max([a, b])`, `min`", "`max(max(a, b), c)`: Python's choice", "yes"],
        ["`pow(a, b)`", "`a ** b` (`pow(a, b, mod)` is refused)", "yes"],
        ["`sum(xs)`, `sum(xs, start)`", "`start + xs[0] + ...` of a list or a dict view", "yes"],
        ["`sorted(...)`", "of a dict's keys or items, or constants", "none"],
        ["`slice(a, b, c)`", "an index (`s = slice(1, 3); x[s]`), int bounds", "none"],
    ]
    for fn in sorted(normalize.CONSTANT_BUILTINS, key=lambda f: f.__name__):
        meaning = BUILTIN_MEANINGS.get(fn.__name__, "the builtin")
        rows.append([f"`{fn.__name__}(...)`", meaning, "none"])
    rows += [
        [
            "`range`, `zip`, `enumerate`, `reversed`",
            "in the iterable of a `for` loop",
            "none",
        ],
        ["`print(...)`, `logging` calls", "as a statement: run once, in order", "none"],
    ]
    return rows


def refused_rows() -> list[list[str]]:
    refused = {t.__name__: v for t, v in fence.REFUSED.items()}
    for name, entry in VERSION_SPECIFIC.items():
        refused.setdefault(name, entry)
    rows: list[list[str]] = []
    seen: set[tuple[str, str]] = set()
    for what, instead in refused.values():
        if (what, instead) in seen:
            continue
        seen.add((what, instead))
        same = [n for n, v in refused.items() if v == (what, instead)]
        examples = [REFUSED_EXAMPLES[n] for n in same if n in REFUSED_EXAMPLES]
        example = "\n".join(f"`{e}`" for e in examples)
        rows.append([what, example, instead])
    for what, example, instead in OTHER_REFUSALS:
        rows.append([what, example, instead])
    by_reason: dict[tuple[str, str], list[str]] = {}
    for key, entry in registry.REFUSED.items():
        by_reason.setdefault(entry, []).append(primitive_name(registry._KEEP_ALIVE[key]))
    for (reason, hint), names in by_reason.items():
        calls = ", ".join(f"`{n}`" for n in sorted(names))
        rows.append([f"{calls}: {reason}", f"`{sorted(names)[0]}(x)`", hint])
    return rows


# ----------------------------------------------------------------- rendering


def render(doc: list[Block], fmt: str = "markdown") -> str:
    if fmt == "markdown":
        return _markdown(doc)
    if fmt == "text":
        return _text(doc)
    raise ValueError(f"unknown format {fmt!r}")


def _markdown(doc: list[Block]) -> str:
    parts = []
    for block in doc:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            parts.append("#" * int(kind[1]) + " " + block[1])
        elif kind == "p":
            parts.append(_fill(block[1]))
        elif kind == "ul":
            parts.append("\n".join(_fill(item, "- ", "  ") for item in block[1]))
        elif kind == "code":
            parts.append("```text\n" + block[1].rstrip("\n") + "\n```")
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
            for row in rows:
                cells = [_md_cell(c) for c in row]
                lines.append("| " + " | ".join(cells) + " |")
            parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _md_cell(text: str) -> str:
    return "<br>".join(line.replace("|", "\\|") for line in text.split("\n"))


def _fill(text: str, first: str = "", rest: str = "", width: int = 80) -> str:
    text = " ".join(text.split())
    return textwrap.fill(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def _plain(text: str) -> str:
    """Markdown inline syntax as plain text: no backticks, links as 'text (target)'."""
    return _LINK.sub(r"\1 (\2)", text).replace("`", "")


def _text(doc: list[Block]) -> str:
    parts = []
    for block in doc:
        kind = block[0]
        title = _plain(block[1]) if kind in ("h1", "h2", "h3") else ""
        if kind == "h1":
            parts.append(title.upper() + "\n" + "=" * len(title))
        elif kind == "h2":
            parts.append(title + "\n" + "-" * len(title))
        elif kind == "h3":
            parts.append(title + ":")
        elif kind == "p":
            parts.append(_fill(_plain(block[1])))
        elif kind == "ul":
            parts.append("\n".join(_fill(_plain(item), "  - ", "    ") for item in block[1]))
        elif kind == "code":
            parts.append(textwrap.indent(block[1].rstrip("\n"), "    "))
        elif kind == "table":
            parts.append(_text_table(block[1], block[2]))
    return "\n\n".join(parts) + "\n"


def _text_table(headers: list[str], rows: list[list[str]]) -> str:
    cells = [[_plain(c).split("\n") for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, lines in enumerate(row):
            widths[i] = max(widths[i], *(len(line) for line in lines))
    out = [_text_row([[h] for h in headers], widths), "  ".join("-" * w for w in widths)]
    tall = any(len(lines) > 1 for row in cells for lines in row)
    for i, row in enumerate(cells):
        if tall and i:
            out.append("")  # rows of several lines: a blank line between them
        out.append(_text_row(row, widths))
    return "\n".join(out)


def _text_row(row: list[list[str]], widths: list[int]) -> str:
    height = max(len(lines) for lines in row)
    lines = []
    for k in range(height):
        parts = [
            (cell[k] if k < len(cell) else "").ljust(w)
            for cell, w in zip(row, widths, strict=False)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def language_reference(fmt: str = "markdown") -> str:
    """The language reference, as Markdown or plain text."""
    return render(document(), fmt)
