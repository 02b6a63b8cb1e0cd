"""Reverse: the transformation itself.

Given a normalized function and the parameters to differentiate, build the
generated function in two sweeps:

1. The **reverse sweep** first (``sweep.py``): seed the result's adjoint, then
   walk the statements backwards; for each active assignment inline its
   primitive's adjoint rule (``rules.py``), adding each contribution into the
   operand's adjoint (``state.py``: the first contribution assigns, later ones
   add). A branch is reversed branch by branch; a loop becomes a loop running
   the iterations backwards, from values each forward iteration saved
   (``saving.py``).
2. The **forward sweep** (``forward.py``), which keeps only the normalized
   statements that the reverse sweep, the result and the gradients read, with
   each loop and branch saving what its reverse reads.

The generated function is the forward sweep, then the reverse sweep, then the
gradients in ``wrt`` order. ``output.py`` holds the emission bookkeeping (free
names, ``# line N:`` comments) and ``program.py`` the facts computed once about
the input (shapes, activity, Python numbers); ``peephole.py`` the exact local
rewrites known shapes allow. Nothing here knows calculus: that is ``rules/``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..analysis import Activity
from ..errors import AdCompileError
from ..generated import Namespace, assign, call, current_is, name
from ..ir import Assign, Comment, Function, Return, all_defs, function_def, names_in, walk
from ..rules.containers import LEAF, SETITEM
from .forward import Forward
from .output import Output
from .peephole import recomputable_arrays, recompute, share_calls, share_inverses
from .program import Program, resolve
from .rules import Rules
from .saving import Saving, loads_and_stores
from .state import Adjoints
from .sweep import Sweep
from .updates import reads_and_writes

MODES = ("grad", "value_and_grad", "vjp")


@dataclass
class Generated:
    """A generated function, before it becomes source text."""

    node: ast.FunctionDef  # body may contain Comment markers
    namespace: dict[str, object]
    wrt: list[str]
    mode: str
    result_loc: object
    cotangent: str | None = None  # the vjp's extra parameter
    notes: list[str] = field(default_factory=list)
    # per wrt: the gradient is a new array (a container: each of its arrays is new, and
    # distinct from the others)
    fresh: list = field(default_factory=list)
    captured: list = field(default_factory=list)  # guards of the names it resolved (api.py)
    generation: int = 0  # of the rule registry this code was compiled with
    text: str = ""  # the main function's source, once emitted
    tree: ast.Module | None = None  # the finished trees of it and its pairs (pipeline.py)
    session: object = None  # the link session holding the called functions' pairs
    # parameters whose argument the user's x op= ... writes into (Function.updates), and
    # the arrays the code reads besides its arguments: a call checks they are apart
    updates: dict = field(default_factory=dict)
    constant_arrays: list = field(default_factory=list)
    writes_elements: bool = False  # the function assigns into array elements (x[i] = v)


@dataclass
class GeneratedPair:
    nodes: list[ast.FunctionDef]
    namespace: dict[str, object]


def reverse(
    fn: Function, wrt: list[str], mode: str, session, arg_shapes, shapes: dict, act: Activity
) -> Generated:
    """The generated function; ``arg_shapes`` (see ``shapes.py``) specialises it, and
    ``shapes`` (their facts, ``shapes.infer``) and ``act`` (``analysis.activity``) are
    what the pipeline computed for ``fn``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    gen = Transformation(fn, wrt, mode, session, arg_shapes, shapes, act).run()
    gen.writes_elements = writes_elements(fn)
    return gen


def reverse_pullback(
    fn: Function, wrt: list[str], session, pair, arg_shapes, shapes: dict, act: Activity
) -> GeneratedPair:
    """The forward/backward pair of a called function (see ``link.py``)."""
    pair.writes_elements = writes_elements(fn)
    return Transformation(fn, wrt, "pullback", session, arg_shapes, shapes, act).run_pullback(pair)


def writes_elements(fn: Function) -> bool:
    """Whether ``fn`` assigns into array elements (``x[index] = v``, ``x[index] += v``)."""
    return any(isinstance(s, Assign) and s.prim is SETITEM for s in walk(fn.body))


class Transformation:
    """One function's transformation: the pieces, wired together."""

    def __init__(
        self,
        fn: Function,
        wrt: list[str],
        mode: str,
        session,
        arg_shapes,
        shapes: dict,
        act: Activity,
    ) -> None:
        self.fn = fn
        self.wrt = wrt
        self.mode = mode
        self.program = program = Program(fn, wrt, arg_shapes, shapes, act)
        self.ns = ns = Namespace(fn.names, fn.globals, set(fn.params) | all_defs(fn.body))
        self.output = output = Output()
        self.adjoints = adjoints = Adjoints(program, ns, output)
        self.saving = saving = Saving(program, ns, output)
        rules = Rules(program, ns, output, adjoints, saving, session)
        self.sweep = Sweep(program, ns, output, adjoints, rules, saving)
        self.sweep.checkpoint = getattr(session, "checkpoint", None)
        self.forward = Forward(program, ns, output, saving, rules)

    def seed(self, result: ast.expr) -> tuple[ast.expr, str | None]:
        """The result's adjoint to start from, and the vjp's cotangent parameter."""
        fn, ns, put = self.fn, self.ns, self.output.put
        label = _label(result, fn)
        if self.mode == "vjp":
            cotangent = ns.fresh("d" + label)
            if not isinstance(result, ast.Name) or self.program.kind(result.id) == LEAF:
                put(ast.Expr(value=call(ns.helper("check_cotangent"), result, name(cotangent))))
            return name(cotangent), cotangent
        scalar = fn.is_scalar(result) or (
            isinstance(result, ast.Name) and self.program.shapes.get(result.id) == ()
        )
        if scalar:
            return ast.Constant(value=1.0), None
        seed_name = ns.fresh("d" + label)
        put(assign(seed_name, call(ns.helper("unit_cotangent"), result)))
        return name(seed_name), None

    def run(self) -> Generated:
        fn, adjoints = self.fn, self.adjoints
        ret = fn.body[-1]
        if not isinstance(ret, Return):
            raise AdCompileError("internal: the normalized body does not end in a return")
        result = ret.value
        seed, cotangent = self.seed(result)
        if isinstance(result, ast.Name) and self.program.act.active(result.id):
            adjoints.adj[result.id] = seed
        self.sweep.block(fn.body[:-1], saving=False)
        reverse_code = self.output.out
        reverse_code[:] = share_inverses(
            reverse_code, self.ns.namespace, self.ns.fresh, self.ns.helper
        )
        if not fn.updates and not writes_elements(fn):  # (else a parameter may change)
            program = self.program
            values = recomputable_arrays(
                fn.body[:-1],
                fn.params,
                lambda n: program.shape(ast.Name(id=n)),
                lambda f: resolve(f, fn.globals),
            )
            reverse_code[:] = recompute(reverse_code, values)
        reverse_loads, reverse_stores, value_reads = reads_and_writes(
            reverse_code, self.ns.namespace
        )
        grads = []
        for p in self.wrt:
            g = adjoints.adj.get(p)
            if g is None:
                g = ast.Constant(value=None) if self.program.kind(p) != LEAF else self.zero_grad(p)
            grads.append(g)
        needed = reverse_loads | {n for g in grads for n in names_in(g)}
        if self.mode == "value_and_grad":
            needed |= names_in(result)
        self.forward.plan(fn.body[:-1], needed, reverse_loads, value_reads)
        forward = self.forward.block(fn.body[:-1], saving=False)
        self.forward.fill_recomputations()
        reverse_code[:] = share_calls(reverse_code, self.ns.namespace, self.ns.fresh)
        if self.saving.checkpoints:  # the recomputed segments rebind the loops' state
            reverse_stores = loads_and_stores(reverse_code)[1]
        code: list[ast.stmt | Comment] = [Comment("forward sweep")]
        if self.saving.stack:
            code.append(assign(self.saving.stack, ast.List(elts=[], ctx=ast.Load())))
        code.extend(forward)
        grad_value: ast.expr = (
            grads[0] if len(grads) == 1 else ast.Tuple(elts=grads, ctx=ast.Load())
        )
        if self.mode == "value_and_grad":
            ret_value: ast.expr = ast.Tuple(elts=[result, grad_value], ctx=ast.Load())
        else:
            ret_value = grad_value
        ret_value = self.forward.keep_returned(ret_value, reverse_stores, code)
        code.append(Comment("reverse sweep"))
        code.extend(reverse_code)
        code.append(ast.Return(value=ret_value))
        params = list(fn.params) + ([cotangent] if cotangent else [])
        node = function_def(f"{self.mode}_{fn.name}", params, code)
        return Generated(
            fresh=self.fresh_gradients(),
            node=node,
            namespace=self.ns.namespace,
            wrt=self.wrt,
            mode=self.mode,
            result_loc=ret.loc,
            cotangent=cotangent,
        )

    def fresh_gradients(self) -> list[bool]:
        """Per ``wrt``: whether its gradient is a new array nothing else refers to (a
        container's is when each of its arrays is, see ``Saving.single_slot_reads``)."""
        a, kind = self.adjoints, self.program.kind
        return [
            (p in a.owned or p in a.fresh_containers)
            and current_is(a.adj.get(p), a.adj_names.get(p, ""))
            and (kind(p) == LEAF or p in a.fresh_containers)
            for p in self.wrt
        ]

    def run_pullback(self, pair) -> GeneratedPair:
        """``fwd(params) -> (result, saved)`` and ``bwd(saved, dresult) -> adjoints``: the
        whole body is a saving region, so everything the reverse reads travels in
        ``saved`` (a stack of tuples of references)."""
        fn, adjoints, ns = self.fn, self.adjoints, self.ns
        ret = fn.body[-1]
        result = ret.value
        cotangent = ns.fresh("d" + _label(result, fn))
        if isinstance(result, ast.Name) and self.program.act.active(result.id):
            adjoints.adj[result.id] = name(cotangent)
        body = fn.body[:-1]
        stack = self.saving.stack = ns.fresh("stack")

        def zero_grads() -> None:
            # inside the block, so that the parameters they are shaped like get saved
            for p in self.wrt:
                if p not in adjoints.adj:
                    self.output.put(assign(adjoints.adjoint_name(p), adjoints.zero(p)))
                    adjoints.adj[p] = name(adjoints.adjoint_name(p))

        self.sweep.block(body, saving=True, inputs=set(fn.params), finish=zero_grads)
        reverse_code = self.output.out
        grads = [adjoints.adj.get(p) or adjoints.zero(p) for p in self.wrt]
        reverse_loads, _, value_reads = reads_and_writes(reverse_code, ns.namespace)
        needed = reverse_loads | names_in(result)
        needed |= {n for g in grads for n in names_in(g)}
        self.forward.plan(body, needed, reverse_loads, value_reads)
        forward = self.forward.block(body, saving=True)
        self.forward.fill_recomputations()
        reverse_code[:] = share_calls(reverse_code, ns.namespace, ns.fresh)
        forward.extend(self.saving.push(body))
        fwd_code: list = [Comment(f"forward sweep of {fn.name}, keeping what {pair.bwd} needs")]
        fwd_code.append(assign(stack, ast.List(elts=[], ctx=ast.Load())))
        fwd_code.extend(forward)
        fwd_code.append(ast.Return(value=ast.Tuple(elts=[result, name(stack)], ctx=ast.Load())))
        bwd_code: list = [Comment(f"reverse sweep of {fn.name}")]
        bwd_code.extend(reverse_code)
        value = grads[0] if len(grads) == 1 else ast.Tuple(elts=grads, ctx=ast.Load())
        bwd_code.append(ast.Return(value=value))
        nodes = [
            function_def(pair.fwd, list(fn.params), fwd_code),
            function_def(pair.bwd, [stack, cotangent], bwd_code),
        ]
        return GeneratedPair(nodes=nodes, namespace=ns.namespace)

    def zero_grad(self, p: str) -> ast.expr:
        return call(self.ns.np_attr("zeros_like"), name(p))


def _label(result: ast.expr, fn: Function) -> str:
    return result.id if isinstance(result, ast.Name) else fn.name
