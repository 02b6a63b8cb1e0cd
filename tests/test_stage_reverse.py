"""The reverse stage piece by piece (``adcompile/reverse/``): the adjoint state's
first-assign-then-add rule, what a loop saves and recomputes, which forward
statements stay, and the local rewrites known shapes allow. A change that breaks
generated code shows here which piece went wrong; every gradient is also checked
against finite differences."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest
from helpers import assert_grad_matches_fd

import adcompile as ad
from adcompile import emit, frontend, pipeline, reverse, runtime
from adcompile.generated import Namespace
from adcompile.ir import Loop, NameAllocator, walk
from adcompile.reverse.peephole import drop_broadcasts, share_calls, sum_call, tidy_call
from adcompile.reverse.saving import carry_forward


def transformation(f, wrt, arg_shapes=None, kinds=None) -> reverse.Transformation:
    session = pipeline.session()
    fn = pipeline.front(frontend.from_function(f), kinds, session)
    facts = pipeline.shape_facts(fn, arg_shapes)
    act = pipeline.activity(fn, wrt)
    return reverse.Transformation(fn, wrt, "grad", session, arg_shapes, facts, act)


def expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def unparse(node: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


def emitted(t: reverse.Transformation) -> list[str]:
    return [unparse(s) for s in t.output.out if isinstance(s, ast.AST)]


def product(x, w):
    y = x * w
    return np.sum(y)


# ---------------------------------------------------------------- the adjoint state


def test_a_first_contribution_that_is_a_variable_is_an_alias_without_a_statement():
    t = transformation(product, ["x"])
    t.adjoints.accumulate("x", expr("g"))
    assert emitted(t) == []
    assert ast.unparse(t.adjoints.adj["x"]) == "g"


def test_a_later_contribution_to_an_alias_adds_into_a_new_variable_then_in_place():
    t = transformation(product, ["x"])
    a = t.adjoints
    a.accumulate("x", expr("g"))
    a.accumulate("x", expr("h * w"))
    a.accumulate("x", expr("k"))
    # g may be somebody else's array: never added to in place; dx, once made here, is
    assert emitted(t) == ["dx = g + h * w", "dx += k"]
    assert "x" in a.owned


def test_a_first_expression_of_a_parameter_is_assigned_and_owned_when_new():
    t = transformation(product, ["x"])
    a = t.adjoints
    a.accumulate("x", expr("g * w"))
    a.accumulate("x", expr("h"))
    assert emitted(t) == ["dx = g * w", "dx += h"]


def test_a_first_expression_of_a_temporary_stays_pending_and_is_inlined_into_one_use():
    t = transformation(product, ["x"])
    a = t.adjoints
    y = next(s.target for s in t.fn.body if getattr(s, "target", None) == "y")
    a.accumulate(y, expr("g * 2.0"))
    assert emitted(t) == [] and a.pending == [y]
    assert ast.unparse(a.cotangent(y, uses=1)) == "g * 2.0"
    assert a.pending == [] and y not in a.adj


def test_a_pending_expression_read_twice_is_assigned_first():
    t = transformation(product, ["x"])
    a = t.adjoints
    a.accumulate("y", expr("g * 2.0"))
    assert ast.unparse(a.cotangent("y", uses=2)) == "dy"
    assert emitted(t) == ["dy = g * 2.0"]


def test_flush_assigns_every_pending_expression():
    t = transformation(product, ["x"])
    a = t.adjoints
    a.accumulate("y", expr("g * 2.0"))
    a.flush()
    assert emitted(t) == ["dy = g * 2.0"] and a.pending == []


def test_materialize_gives_an_absent_adjoint_a_zero_of_its_value():
    t = transformation(product, ["x"])
    t.adjoints.materialize("w", "dw", owned=True)
    assert emitted(t) == ["dw = zero_like(w)"] and "w" in t.adjoints.owned


def test_materialize_copies_an_alias_before_it_is_added_to_in_place():
    t = transformation(product, ["x"])
    a = t.adjoints
    a.accumulate("w", expr("g"))
    a.materialize("w", "dw", owned=True)
    assert emitted(t) == ["dw = zero_like(w) + g"]


def pair_loss(layer, x):
    W, b = layer
    return np.sum(np.tanh(x @ W + b))


def test_element_adjoints_of_a_tuple_read_at_constants_are_one_list_display():
    t = transformation(pair_loss, ["layer"], kinds=(("tuple", ("leaf", "leaf")), "leaf"))
    a = t.adjoints
    a.accumulate_at("layer", ast.Constant(1), expr("db"))
    a.accumulate_at("layer", ast.Constant(0), expr("dW"))
    assert emitted(t) == [] and ast.unparse(a.adj["layer"]) == "[dW, db]"
    a.flush()
    assert emitted(t) == ["dlayer = [dW, db]"]


def branch(x, flag):
    z = np.cos(x)
    if flag:
        y = z * 2.0
    else:
        y = np.sin(x)
    return np.sum(y * x)


def test_an_adjoint_one_branch_leaves_unset_is_a_zero_at_the_end_of_the_other():
    t = transformation(branch, ["x"])
    t.run()
    reversed_if = next(s for s in t.output.out if isinstance(s, ast.If))
    assert [unparse(s) for s in reversed_if.body if isinstance(s, ast.AST)] == ["dz = dy_2 * 2.0"]
    # x's adjoint, owned before the if, is added to in place in the branch that reaches it
    assert [unparse(s) for s in reversed_if.orelse if isinstance(s, ast.AST)] == [
        "dx += dy_2 * np.cos(x)",
        "dz = zero_like(z)",
    ]
    x = np.array([0.3, -1.2])
    for flag in (True, False):
        assert_grad_matches_fd(branch, x, flag)


# --------------------------------------------------------------- what a loop saves


def carried_product(x, y):
    for _ in range(3):
        y = y * x
        x = np.sin(x)
    return np.sum(y)


def chain_products(y, x, n):
    for _ in range(n):
        a = y * x
        b = a * y
        c = b - x
        y = math.sin(c) + math.cos(a)
    return y


def _loop(t: reverse.Transformation) -> Loop:
    return next(s for s in walk(t.fn.body) if isinstance(s, Loop))


def test_a_loop_saves_the_carried_values_its_reverse_reads_on_a_list_of_its_own():
    t = transformation(carried_product, ["x"])
    t.run()
    loop = _loop(t)
    assert t.saving.saved[id(loop.body)] == ["x_1", "y_1"]
    assert t.saving.loop_lists == {id(loop): "saved"}
    assert id(loop) in t.saving.has_reverse
    for x, y in ((0.3, 0.7), (np.array([0.2, -0.5]), np.array([1.1, 0.4]))):
        assert_grad_matches_fd(carried_product, x, y, wrt=0)
        assert_grad_matches_fd(carried_product, x, y, wrt=1)


def test_scalar_products_of_saved_values_are_recomputed_not_saved():
    t = transformation(chain_products, ["y", "x"], (float, float, int))
    t.run()
    loop = _loop(t)
    assert t.saving.saved[id(loop.body)] == ["y_1"]
    assert t.saving.recomputed == {"a", "b", "c"}
    for n in (0, 1, 4):
        assert_grad_matches_fd(chain_products, 0.3, 0.7, n, wrt=0)
        assert_grad_matches_fd(chain_products, 0.3, 0.7, n, wrt=1)


def test_arrays_are_never_recomputed():
    t = transformation(chain_products, ["y", "x"], ((3,), (3,), int))
    t.run()
    assert t.saving.recomputed == set()
    assert t.saving.saved[id(_loop(t).body)] == ["a", "b", "c", "y_1"]


def layers(params, x):
    h = x
    for i in range(len(params)):
        h = np.tanh(h @ params[i])
    return np.sum(h)


def test_a_loop_reading_its_own_element_of_an_outside_list_assigns_that_elements_adjoint():
    t = transformation(layers, ["params"], kinds=(("list", "leaf"), "leaf"))
    gen = t.run()
    assert len(t.saving.single_slots) == 1
    text = emit.to_source(gen.node)
    assert "dparams[i] = " in text and "add_at" not in text


def test_the_copies_ending_an_iteration_happen_at_once_when_they_read_each_other():
    swap = [("a", None, expr("b")), ("b", None, expr("np.cos(a)"))]
    # compared as syntax trees: Python 3.10 prints the target as (a, b)
    got = [ast.dump(ast.parse(unparse(s))) for s in carry_forward(swap)]
    assert got == [ast.dump(ast.parse("a, b = (b, np.cos(a))"))]
    apart = [("a", None, expr("a_2")), ("b", None, expr("b_2")), ("c", None, expr("c"))]
    assert [unparse(s) for s in carry_forward(apart)] == ["a = a_2", "b = b_2"]


# ------------------------------------------------------------------ forward sweep


def dead_value(x):
    unused = np.exp(x)  # noqa: F841 -- read by nothing
    y = np.sin(x) * 2.0
    return np.sum(y)


def test_the_forward_sweep_keeps_only_what_the_reverse_sweep_reads():
    t = transformation(dead_value, ["x"])
    gen = t.run()
    forward = emit.to_source(gen.node).split("# reverse sweep")[0]
    assert "exp" not in forward
    assert "unused" not in t.forward.needed
    x = np.array([0.3, -1.2])
    assert_grad_matches_fd(dead_value, x)


def raising(x):
    r = math.log(x)  # noqa: F841 -- read by nothing, but may raise
    return x * x


def test_a_forward_math_call_nothing_reads_stays_so_the_gradient_raises_where_f_does():
    t = transformation(raising, ["x"], (float,))
    gen = t.run()
    assert "math.log(x)" in emit.to_source(gen.node)
    with pytest.raises(ValueError):
        ad.grad(raising)(0.0)


# --------------------------------------------------------- rules and peepholes


def test_an_operand_broadcast_along_a_known_axis_is_summed_exactly():
    def add(x, b):
        return np.sum(x + b)

    t = transformation(add, ["b"], ((4, 3), (3,)))
    text = emit.to_source(t.run().node)
    assert "unbroadcast" not in text and ".sum(axis=0)" in text
    rng = np.random.default_rng(0)
    assert_grad_matches_fd(add, rng.normal(size=(4, 3)), rng.normal(size=3), wrt=1)


def test_a_broadcast_is_dropped_where_another_factor_has_its_shape():
    def product() -> ast.expr:
        e = expr("np.broadcast_to(g, S) * a")
        e.left.args[1] = ast.Constant((3,))  # as the rewrite of unreduce writes it
        return e

    def known(node: ast.expr) -> tuple | None:
        return (3,) if ast.unparse(node) == "a" else None

    assert ast.unparse(drop_broadcasts(product(), known)) == "g * a"
    assert "broadcast_to" in ast.unparse(drop_broadcasts(product(), lambda n: None))


def test_a_helper_call_loses_trailing_default_arguments_and_known_counts():
    from adcompile import runtime

    namespace = {"unreduce": runtime.unreduce, "reduced_count": runtime.reduced_count}
    shapes = {"a": (4, 3)}

    def shape(n):
        return shapes.get(getattr(n, "id", None))

    def np_attr(attr):
        return expr(f"np.{attr}")

    full = tidy_call(expr("unreduce(g, a)"), namespace, shape, np_attr)
    assert ast.unparse(full) == "np.broadcast_to(g, (4, 3))"
    count = tidy_call(expr("reduced_count(a, 0)"), namespace, shape, np_attr)
    assert ast.unparse(count) == "4"
    assert ast.unparse(sum_call(expr("c"), (0, 1), keepdims=True)) == (
        "c.sum(axis=(0, 1), keepdims=True)"
    )


def test_a_helper_name_a_local_variable_takes_is_renamed():
    ns = Namespace(NameAllocator({"np"}), {}, {"np"})
    assert ast.unparse(ns.np_attr("sum")) == "np_1.sum"
    assert ns.namespace["np_1"] is np


def test_the_runtime_helpers_are_known_not_to_return_python_numbers():
    """The reverse sweep routes arithmetic through scalar_* only where an operand may be
    a Python number: a call of a runtime helper (from whichever runtime submodule) gives
    an array or a numpy scalar, except the scalar_* helpers themselves."""
    import ast

    from adcompile import runtime
    from adcompile.reverse.program import python_valued_call

    for name in runtime.HELPERS:
        call = ast.Name(id=name, ctx=ast.Load())
        assert python_valued_call(call, runtime.HELPERS) == name.startswith("scalar_"), name


# ------------------------------------------------------------ shared pure calls


def _shared(lines: str) -> list[str]:
    namespace = {"math": math, "np": np, "add_into": runtime.add_into}
    names = iter(["t1", "t2", "t3"])
    code = ast.parse(lines).body
    return [unparse(s) for s in share_calls(code, namespace, lambda _: next(names))]


def test_a_pure_call_two_statements_compute_is_computed_once_before_the_first():
    got = _shared("db += ds * math.sin(s)\nds = ds * b * math.cos(s) - ds * math.sin(s)")
    assert got == ["t1 = math.sin(s)", "db += ds * t1", "ds = ds * b * math.cos(s) - ds * t1"]
    got = _shared("a = np.exp(x) * g\nb = h / np.exp(x)")
    assert got == ["t1 = np.exp(x)", "a = t1 * g", "b = h / t1"]


def test_a_pure_call_is_not_shared_across_a_change_of_its_argument():
    # x rebound, or changed in place by a helper (add_into), between the two calls
    for middle in ("x = x + 1.0", "x += g", "add_into(x, 0, g)"):
        text = f"a = np.exp(x) * g\n{middle}\nb = np.exp(x) * h"
        assert _shared(text) == [unparse(s) for s in ast.parse(text).body], middle


def test_a_pure_call_python_may_not_evaluate_or_that_is_bound_is_not_shared():
    for text in (
        "a = math.log(x) * g\nb = math.log(x) * h if x > 0 else 0.0",  # not always run
        "a = np.exp(x)\nb = np.exp(x) * h",  # a's array may be added to in place later
        "a = np.add(x, y, out=z) * g\nb = np.add(x, y, out=z) * g",  # keywords
    ):
        assert _shared(text) == [unparse(s) for s in ast.parse(text).body], text


# ------------------------------------------------- reads of distinct container elements


def pairs(params, x):
    h = x
    for i in range(len(params) // 2 - 1):
        h = np.tanh(h @ params[2 * i] + params[2 * i + 1])
    return np.sum(h @ params[-2] + params[-1])


def pairs_overlapping(params, x):
    h = x
    for i in range(len(params) // 2 - 1):
        h = np.tanh(h @ params[2 * i] + params[2 * i + 1])
    return np.sum(h @ params[-2] + params[1])  # params[1] is also read by i == 0


def _pairs_args(n):
    shapes = [(3, 3), (3,)] * n
    kinds = (("list", "leaf"), "leaf")
    return (list, tuple(shapes)), kinds


def test_reads_of_elements_no_other_read_reaches_are_found_with_the_int_values():
    from adcompile.reverse.slots import first_slot_reads

    sig, kinds = _pairs_args(4)
    t = transformation(pairs, ["params"], (sig, (5, 3)), kinds=kinds)
    assert t.program.shapes.int_values["i"] == frozenset({0, 1, 2})
    assert len(first_slot_reads(t.fn, t.program.shapes)) == 4
    text = emit.to_source(t.run().node)
    assert "add_at" not in text and "dparams[h_index] = " in text
    t = transformation(pairs_overlapping, ["params"], (sig, (5, 3)), kinds=kinds)
    assert first_slot_reads(t.fn, t.program.shapes) == set()
    # without shapes nothing is known of the indices
    t = transformation(pairs, ["params"], kinds=kinds)
    assert first_slot_reads(t.fn, t.program.shapes) == set()
