"""The pipeline: the passes of the compiler, in order, and the one place that runs them.

Each stage is a function from the previous stage's result to the next one's::

    frontend     a Python function             -> SourceFunction (AST, lines, lookup)
    desugar      SourceFunction                -> the same, shorthand written out
    fence        SourceFunction                -> the same, or a located refusal
    restructure  SourceFunction                -> Restructured (one way out of each block)
    ownership    SourceFunction                -> the arguments ``x op= ...`` writes into,
                                                  and the writes to check (may be read-only)
    normalize    Restructured, checks          -> ir.Function (one primitive a statement)
    activity     ir.Function, wrt              -> Activity (what gets an adjoint)
    shapes       ir.Function, argument shapes  -> shape facts per name
    reverse      ir.Function, Activity, facts  -> Generated (the gradient's FunctionDef)
      (tangent   ir.Function, wrt              -> GeneratedJvp: forward mode's FunctionDef)
    optimize     FunctionDef                   -> FunctionDef (exact clean-ups)
    emit         FunctionDef                   -> source text

``compile_source`` runs them all for the function being differentiated;
``compile_jvp`` runs forward mode, whose ``tangent`` stage takes reverse's place. A called
user function goes through the same stages, as a helper, when the session
(``link.py``) asks for its result's structure or its pullback pair: the session
gets ``front`` and ``pullback`` from here, so it runs no pass of its own.

No stage module imports a later one (``tests/test_stages.py`` checks it); this
module imports them all.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from . import (
    analysis,
    desugar,
    emit,
    fence,
    frontend,
    inplace,
    optimize,
    restructure,
    reverse,
    rules,
    shapes,
    tangent,
)
from . import normalize as normalizer
from .analysis import Activity
from .errors import AdCompileError
from .frontend import SourceFunction
from .ir import Function, NameAllocator
from .link import Pair, Session
from .names import Resolver
from .wrt import bases_and_elements

# ---------------------------------------------------------------- the stages


def read(fn: Callable) -> SourceFunction:
    """frontend: a live function -> its parsed source and a lookup of its free names
    (which records a guard for each name it resolves while ``frontend.recording``)."""
    return frontend.from_function(fn)


def desugared(src: SourceFunction) -> SourceFunction:
    """desugar: comprehensions as loops, nested functions and lambdas lifted to helpers,
    user calls in conditions computed first (the same object when there are none)."""
    return desugar.desugar(src)


def check_language(src: SourceFunction) -> SourceFunction:
    """fence: refuse the first construct outside the accepted language, at its place."""
    fence.check(src)
    return src


def restructured(src: SourceFunction, names: NameAllocator) -> restructure.Restructured:
    """restructure: the body with one way out of each statement list (no early
    return, ``continue`` or ``break``); ``names`` names its flags."""
    return restructure.restructure(src, names.fresh)


def normalized(
    src: SourceFunction,
    structured: restructure.Restructured,
    names: NameAllocator,
    resolver: Resolver,
    kinds: tuple | None,
    session: Session | None,
    checks: set[tuple[int, int]] | None = None,
) -> Function:
    """normalize: the IR, one primitive over atoms a statement, every name assigned once,
    each name with its kind (the structure of its value); ``checks`` are the places of
    the in-place updates to check the writability of (see ``ownership``)."""
    return normalizer.normalize(src, structured, names, resolver, kinds, session, checks)


def ownership(
    src: SourceFunction,
    resolver: Resolver,
    session: Session | None,
    *,
    helper: bool,
    kinds: tuple | None = None,
    arg_shapes: tuple | None = None,
) -> inplace.Ownership:
    """ownership (``inplace/``): refuse an ``x op= ...`` or ``xs.append`` that another
    name would see; returns the walk, with the parameters whose argument Python would
    write into (``updates``) and the updates whose writability the generated code
    checks (``checks``). ``kinds`` and ``arg_shapes`` are what the code is compiled
    for: which parameters hold a function, a Python number, a list of known length."""
    summaries = session.ownership if session is not None else None
    return inplace.check(
        src,
        helper=helper,
        summaries=summaries,
        resolver=resolver,
        kinds=kinds,
        arg_shapes=arg_shapes,
    )


def activity(fn: Function, wrt: list[str], elements: dict | None = None) -> Activity:
    """activity (``analysis.py``): the values both varied by ``wrt`` and useful to the
    result; only they get adjoints. ``elements`` narrows a ``wrt`` tuple to positions
    inside it (an entry inside ``*args``)."""
    act = analysis.activity(fn, wrt, elements)
    analysis.check_reverse(fn.body, act)
    return act


def shape_facts(
    fn: Function, arg_shapes: tuple | None, session: Session | None = None
) -> dict[str, object]:
    """shapes: what every name's shape is for arguments of ``arg_shapes`` (None: nothing);
    a call of another user function is followed into that function's IR."""
    helper = None if session is None else (lambda prim: session.ir(prim.source, prim.kinds))
    return shapes.infer(fn, arg_shapes, helper)


def finished(node):
    """optimize: the exact clean-ups that run on a finished generated function."""
    return optimize.finish(node)


def text(node) -> str:
    """emit: the generated function as source text."""
    return emit.to_source(node)


# ---------------------------------------------------------------- the halves


def front(
    src: SourceFunction,
    kinds: tuple | None = None,
    session: Session | None = None,
    *,
    helper: bool = False,
    arg_shapes: tuple | None = None,
) -> Function:
    """fence, restructure, normalize and ownership: ``src`` as IR, with
    ``updates`` (what ownership found) filled in. ``helper`` says that ``src`` is
    called by another differentiated function (its parameters are then the
    caller's arrays, see ``inplace/``); ``arg_shapes``, the shape signature the code
    is compiled for (ownership reads which parameters are Python numbers)."""
    src = desugared(src)
    check_language(src)
    names = normalizer.allocator(src)
    resolver = Resolver(src)  # one per function: both passes read the same names
    structured = restructured(src, names)
    # ownership runs first, for the normalizer to write the checks it asks for; a
    # refusal of its waits for the normalizer's own (which come first)
    rules.load_optional()  # (as the normalizer does: the records of what is called)
    try:
        owner = ownership(src, resolver, session, helper=helper, kinds=kinds, arg_shapes=arg_shapes)
        refusal = None
    except AdCompileError as e:
        owner, refusal = None, e
    checks = owner.checks if owner is not None else set()
    fn = normalized(src, structured, names, resolver, kinds, session, checks)
    if refusal is not None:
        raise refusal
    fn.updates = owner.updates
    return fn


def back(
    fn: Function, wrt: list[str], mode: str, session: Session, arg_shapes: tuple | None
) -> reverse.Generated:
    """activity, shapes and reverse: the generated gradient of ``fn`` with respect to the
    parameters of ``wrt``, one gradient each (an entry inside ``*args``, ``'args[1]'``,
    differentiates only that element of ``args``: see ``wrt.py``)."""
    bases, elements = bases_and_elements(wrt)
    act = activity(fn, bases, elements)
    facts = shape_facts(fn, arg_shapes, session)
    return reverse.reverse(fn, bases, mode, session, arg_shapes, facts, act)


def _helper_front(src: SourceFunction, kinds: tuple, session: Session) -> Function:
    return front(src, kinds, session, helper=True)


def _pullback(
    fn: Function, wrt: list[str], session: Session, pair: Pair, arg_shapes: tuple | None
) -> reverse.GeneratedPair:
    act = activity(fn, wrt)
    facts = shape_facts(fn, arg_shapes, session)
    return reverse.reverse_pullback(fn, wrt, session, pair, arg_shapes, facts, act)


def session() -> Session:
    """A new compilation's session, running called functions through these stages."""
    return Session(front=_helper_front, pullback=_pullback)


def compile_source(
    src: SourceFunction,
    wrt: list[str],
    mode: str,
    kinds: tuple | None = None,
    arg_shapes: tuple | None = None,
    checkpoint: str | int | None = None,
) -> reverse.Generated:
    """Every stage from fence to emit: ``gen.text`` is the gradient's source, each
    pair of ``gen.session.order`` has its own ``text``; ``gen.tree`` holds the
    finished syntax trees of all of them, in the order of their texts. ``checkpoint``
    is the loops' checkpointing schedule, for this function and the functions it calls."""
    link = session()
    link.checkpoint = checkpoint
    fn = front(src, kinds, link, arg_shapes=arg_shapes)
    gen = back(fn, wrt, mode, link, arg_shapes)
    gen.updates = fn.updates
    trees = [finished(gen.node)]
    gen.text = text(trees[0])
    for pair in link.order:
        nodes = [finished(n) for n in pair.nodes]
        pair.text = "\n\n".join(text(n) for n in nodes)
        trees += nodes
    gen.session = link
    gen.tree = ast.Module(body=trees, type_ignores=[])
    return gen


def compile_jvp(
    src: SourceFunction,
    wrt: list[str],
    kinds: tuple | None = None,
    arg_shapes: tuple | None = None,
) -> tangent.GeneratedJvp:
    """Forward mode, every stage from fence to emit: the front half, then ``tangent``
    (each statement followed by its tangent; called user functions get jvps of their
    own, through the same front half), optimize and emit. ``gen.text`` is the jvp's
    source, each of ``gen.helpers`` has its own ``text``; ``gen.tree`` holds the
    finished syntax trees of all of them, in the order of their texts. With
    ``arg_shapes``, the shapes known for them leave out broadcasts that cannot fire."""
    link = session()
    fn = front(src, kinds, link, arg_shapes=arg_shapes)
    bases, elements = bases_and_elements(wrt)
    facts = shape_facts(fn, arg_shapes)
    gen = tangent.tangent(fn, bases, link, _helper_front, facts, elements)
    gen.updates = fn.updates
    trees = [finished(gen.node)]
    gen.text = text(trees[0])
    for helper in gen.helpers:
        trees.append(finished(helper.node))
        helper.text = text(trees[-1])
    gen.tree = ast.Module(body=trees, type_ignores=[])
    return gen
