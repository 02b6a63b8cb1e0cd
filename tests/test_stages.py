"""What each front pass produces, on small inputs, and the shape of the pipeline.

A change to one pass shows here, at that pass: the normalized IR (printed by
``ir.dump``), the activity analysis, and the ownership decisions of ``inplace``.
The import graph of the package is checked too: no cycle, and no pass imports a
later one (``pipeline.py`` lists them in order).
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import numpy as np
import pytest

import adcompile
from adcompile import frontend, ir, normalize, pipeline
from adcompile.errors import AdCompileError
from adcompile.normalize import infer_kinds
from adcompile.rules.containers import LEAF

PACKAGE = Path(adcompile.__file__).parent

# the passes, in pipeline order (each a module, or a package of modules)
STAGES = [
    "frontend",
    "desugar",
    "fence",
    "restructure",
    "inplace",
    "normalize",
    "analysis",
    "shapes",
    "reverse",
    "tangent",
    "optimize",
    "emit",
]
# a pass that uses a later one's helpers by design: reverse applies optimize's
# expression clean-ups (simplify, is_fresh) as it builds (docs/architecture.md)
# (and so does tangent, forward mode's counterpart of reverse)
LATER_ALLOWED = {("reverse", "optimize"), ("tangent", "optimize")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, at top level or inside functions."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            stem = None
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join(base + ([node.module] if node.module else []))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("adcompile"):
                stem = node.module.removeprefix("adcompile").lstrip(".")
            if stem is not None:  # from stem import a: the module stem.a, or stem itself
                for a in node.names:
                    sub = f"{stem}.{a.name}".lstrip(".")
                    targets.append(sub if sub in modules else stem)
            elif isinstance(node, ast.Import):
                targets = [
                    a.name.removeprefix("adcompile").lstrip(".")
                    for a in node.names
                    if a.name.startswith("adcompile")
                ]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def _stage(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in STAGES else None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "normalize" in graph and "inplace" in graph and "pipeline" in graph
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = path[path.index(node) :] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, path + [node])
        done.add(node)

    for module in sorted(graph):
        visit(module, [])


def test_no_pass_imports_a_later_one():
    wrong = []
    for module, edges in import_graph().items():
        mine = _stage(module)
        for other in edges:
            theirs = _stage(other)
            if mine and theirs and mine != theirs and (mine, theirs) not in LATER_ALLOWED:
                if STAGES.index(theirs) > STAGES.index(mine):
                    wrong.append(f"{module} imports {other}")
    assert wrong == []


def test_the_import_graph_sees_imports_inside_functions():
    """The check above would be empty if it missed a kind of import: it sees those of
    the command line, which imports the api inside a function."""
    assert "api" in import_graph()["cli"]


def test_the_passes_import_at_module_level():
    """An import inside a function hides a dependency (it was how a cycle was hidden):
    the passes and what sequences them import at module level."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        if not (_stage(module) or module in {"pipeline", "link", "names", "ir"}):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.level:
                        found.append(f"{module}:{inner.lineno}")
    assert found == []


# the size floors of the package's code (the design aims well below them)
MAX_MODULE_LINES = 900
MAX_CLASS_LINES = 450
MAX_FUNCTION_LINES = 150


def _definitions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every class and function, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node
            yield from _definitions(node, prefix + node.name + ".")
        else:
            yield from _definitions(node, prefix)


def _span(node: ast.AST) -> int:
    """Lines of a definition, its decorators included."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return node.end_lineno - first + 1


def package_sizes() -> list[tuple[str, str, int, int]]:
    """(kind, where, lines, floor) for every module, class and function of the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = str(path.relative_to(PACKAGE.parent))
        text = path.read_text()
        out.append(("module", where, len(text.splitlines()), MAX_MODULE_LINES))
        for qualname, node in _definitions(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                out.append(("class", f"{where}:{qualname}", _span(node), MAX_CLASS_LINES))
            else:
                out.append(("function", f"{where}:{qualname}", _span(node), MAX_FUNCTION_LINES))
    return out


def test_no_module_class_or_function_is_over_its_size_floor():
    over = [
        f"{kind} {where}: {n} lines (at most {floor})"
        for kind, where, n, floor in package_sizes()
        if n > floor
    ]
    assert over == []


def test_the_size_check_sees_every_kind_of_definition():
    """The check above would pass on nothing: it measures the modules, the classes,
    their methods and nested functions of the package."""
    sizes = {(kind, where) for kind, where, _, _ in package_sizes()}
    assert ("module", "adcompile/api.py") in sizes
    assert ("module", "adcompile/runtime/__init__.py") in sizes
    assert ("class", "adcompile/api.py:GradientFunction") in sizes
    assert ("function", "adcompile/api.py:GradientFunction.source") in sizes
    assert ("function", "adcompile/emit.py:to_source.lower") in sizes
    assert _span(ast.parse("@a\n@b\ndef f():\n    pass\n").body[0]) == 4


# ------------------------------------------------------------------ front passes


def mlp(W, x, b):
    h = np.tanh(W @ x + b)
    return np.sum(h * h)


def branchy(x, c):
    if c > 0:
        y = x * 2.0
    else:
        y = -x
    return y.sum()


def stops_early(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i
        if s > 10:
            break
    return s


def updates_its_argument(x, y):
    x += y
    return np.sum(x)


def updates_its_own(x, y):
    z = x * y
    z += y
    return np.sum(z)


def updates_a_shared(x, y):
    z = x * y
    w = z
    z += y
    return np.sum(w) + np.sum(z)


def appends(x):
    xs = []
    xs.append(x)
    xs.append(2.0 * x)
    return xs[0] + xs[1]


def early(x):
    if np.sum(x) > 0:
        return x * 2.0
    y = x * 3.0
    return y


def layers(params, x):
    for W, b in params:
        x = np.tanh(W @ x + b)
    return np.sum(x)


def by_key(p, x):
    return np.sum(p["W"] @ x)


def sugared(Ws, x):
    scale = np.sum(x)
    act = lambda z: np.tanh(z) * scale  # noqa: E731
    hs = [act(W @ x) for W in Ws if np.sum(W) > 0]
    return sum(np.sum(h) for h in hs)


def test_desugar_writes_comprehensions_as_loops_and_lifts_lambdas():
    src = pipeline.desugared(frontend.from_function(sugared))
    assert ast.unparse(src.node.body) == textwrap.dedent("""\
        scale = np.sum(x)
        items = []
        for W in Ws:
            if np.sum(W) > 0:
                items.append(act(W @ x, scale=scale))
        hs = items
        items_2 = []
        for h in hs:
            items_2.append(np.sum(h))
        return sum(items_2)""")
    act = src.lookup("act")
    assert ast.unparse(act.source.node) == textwrap.dedent("""\
        def act(z, scale):
            return np.tanh(z) * scale""")
    assert src.spelled["items"].lineno == sugared.__code__.co_firstlineno + 3
    plain = frontend.from_function(early)
    assert pipeline.desugared(plain) is plain


def test_restructure_moves_the_statements_after_an_early_return_into_the_other_branch():
    src = frontend.from_function(early)
    structured = pipeline.restructured(src, normalize.allocator(src))
    assert ast.unparse(structured.body) == textwrap.dedent("""\
        if np.sum(x) > 0:
            return x * 2.0
        else:
            y = x * 3.0
            return y""")
    assert structured.break_flags == {}


def test_kinds_of_parameters_are_guessed_from_their_use_before_any_call():
    leaf = LEAF
    assert infer_kinds(frontend.from_function(layers).node) == {
        "params": ("list", ("tuple", (leaf, leaf)))
    }
    assert infer_kinds(frontend.from_function(by_key).node) == {"p": ("dict", (("W", leaf),))}


def test_kinds_given_for_the_arguments_reach_the_ir():
    kinds = (("list", ("tuple", (LEAF, LEAF))), LEAF)
    fn = pipeline.front(frontend.from_function(layers), kinds)
    assert fn.kinds["params"] == kinds[0] and fn.kinds["x"] == LEAF


def _normalized(f) -> str:
    return ir.dump(pipeline.front(frontend.from_function(f)).body)


def test_normalize_splits_nested_expressions_into_temporaries_named_after_the_variable():
    assert _normalized(mlp) == textwrap.dedent("""\
        h_1 = W @ x
        h_2 = h_1 + b
        h = np.tanh(h_2)
        mlp_1 = h * h
        mlp = np.sum(mlp_1)
        return mlp""")


def test_normalize_joins_the_values_an_if_assigns_differently():
    assert _normalized(branchy) == textwrap.dedent("""\
        cond = c > 0  # constant
        if cond:
            y = x * 2.0
        else:
            y_1 = -x
        y_2 = join(y, y_1)
        branchy = y_2.sum()
        return branchy""")


def test_a_break_becomes_a_flag_carried_around_the_loop():
    assert _normalized(stops_early) == textwrap.dedent("""\
        for i in range(n):  # carried s: 0.0 -> s_3, broke_1: False -> broke_3
            cond = not broke_1  # constant
            if cond:
                s_1 = x * i
                s_2 = s + s_1
                cond_1 = s_2 > 10  # constant
                if cond_1:
                    pass
                else:
                    pass
                broke_2 = join(True, broke_1)
            else:
                pass
            s_3 = join(s_2, s)
            broke_3 = join(broke_2, broke_1)
        return s""")


def test_an_append_to_a_list_of_the_functions_own_is_a_new_list_under_the_name():
    text = _normalized(appends)
    assert "xs.append" not in text
    assert text.endswith("return appends")


def test_activity_is_what_wrt_varies_and_the_result_uses():
    fn = pipeline.front(frontend.from_function(mlp))
    act = pipeline.activity(fn, ["x"])
    assert sorted(n for n in act.varied if act.active(n)) == [
        "h",
        "h_1",
        "h_2",
        "mlp",
        "mlp_1",
        "x",
    ]
    assert not act.active("W") and not act.active("b")  # useful, not varied by x
    assert act.active_expr(ast.Name(id="h_2")) and not act.active_expr(ast.Name(id="W"))


def test_activity_of_a_branch_leaves_the_condition_constant():
    fn = pipeline.front(frontend.from_function(branchy))
    act = pipeline.activity(fn, ["x"])
    assert {"y", "y_1", "y_2", "branchy"} <= act.varied
    assert not act.active("cond") and not act.active("c")


def log_softmax(x):
    m = np.max(x, axis=1, keepdims=True)
    z = x - m
    return np.sum(z - np.log(np.sum(np.exp(z), axis=1, keepdims=True)))


def log_softmax_and_shift(x):
    m = np.max(x, axis=1, keepdims=True)
    z = x - m
    return np.sum(z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))) + np.sum(m)


def test_activity_leaves_out_a_shift_the_result_does_not_depend_on():
    fn = pipeline.front(frontend.from_function(log_softmax))
    act = pipeline.activity(fn, ["x"])
    # z - log(sum(exp(z))) with z = x - m is the same for every m: m is a constant
    assert not act.active("m") and act.active("z")
    fn = pipeline.front(frontend.from_function(log_softmax_and_shift))
    assert pipeline.activity(fn, ["x"]).active("m")


def test_ownership_reports_an_update_of_an_argument():
    fn = pipeline.front(frontend.from_function(updates_its_argument))
    assert list(fn.updates) == ["x"]
    loc, op, var = fn.updates["x"]
    assert loc.lineno == updates_its_argument.__code__.co_firstlineno + 1 and var == "x"
    # a called function's parameters are its caller's arrays: refused there
    with pytest.raises(AdCompileError, match="the array the caller passed"):
        pipeline.front(frontend.from_function(updates_its_argument), helper=True)


def test_ownership_accepts_an_update_of_an_array_the_function_made():
    fn = pipeline.front(frontend.from_function(updates_its_own))
    assert fn.updates == {}
    assert "z_1 = z + y" in ir.dump(fn.body)


def test_ownership_refuses_an_update_of_an_array_a_name_shares():
    with pytest.raises(AdCompileError) as err:
        pipeline.front(frontend.from_function(updates_a_shared))
    assert err.value.line.strip() == "z += y" and "'w'" in str(err.value)


def scaled_helper(x):
    return SCALE * np.tanh(x)


SCALE = 0.5


def calls_a_helper(x):
    y = scaled_helper(x)
    y += x
    return np.sum(y)


def test_free_names_are_resolved_once_for_every_pass_and_guarded():
    src = frontend.from_function(calls_a_helper)
    looked_up = []
    lookup = src.lookup
    src.lookup = lambda ident: looked_up.append(ident) or lookup(ident)
    with frontend.recording() as guards:
        pipeline.front(src, session=pipeline.session())
    assert sorted(looked_up) == sorted(set(looked_up)) == ["np", "scaled_helper"]
    guarded = {key for _, key, _ in guards.values()}
    assert {"np", "scaled_helper", "SCALE"} <= guarded  # SCALE: read by the helper
