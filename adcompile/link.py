"""Link: the user functions a gradient calls, each compiled once as a pullback pair.

A call ``y = f(a, b)`` inside a differentiated function becomes, in the forward
sweep, ``y, y_saved = fwd_f(a, b)`` and, in the reverse sweep,
``da, db = bwd_f(y_saved, dy)``. ``fwd_f`` runs ``f`` and returns what its
reverse needs; ``bwd_f`` is ``f``'s reverse sweep. One pair is generated per
(function, argument structure, which arguments are active), so helpers compile
once, recursion works (a pair may call itself), and the generated code keeps the
user's own structure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .frontend import SourceFunction
from .rules.containers import LEAF
from .shapes import freeze

MAX_PAIR_SPECIALISATIONS = 8  # shape signatures per called function with their own pair


@dataclass
class Pair:
    fwd: str
    bwd: str
    source: SourceFunction
    wrt: list[str]
    nodes: list = field(default_factory=list)  # the two FunctionDefs, once generated
    namespace: dict = field(default_factory=dict)
    text: str = ""
    writes_elements: bool = False  # the function assigns into array elements (x[i] = v)


class Session:
    """Everything one compilation generates: the pairs of the functions it calls.

    The session runs no pass itself: ``front`` takes a called function through the
    front half of the pipeline (fence to ownership, as a helper) and ``pullback``
    generates a pair from that; ``pipeline.session`` passes its own stages in."""

    def __init__(self, front: Callable, pullback: Callable) -> None:
        self.front = front  # (src, kinds, session) -> normalized ir.Function
        self.pullback = pullback  # (fn, wrt, session, pair, shapes) -> GeneratedPair
        self.pairs: dict[tuple, Pair] = {}
        self.order: list[Pair] = []
        self.names: set[str] = set()
        self.kinds: dict[tuple, object] = {}
        self.normalizing: set[tuple] = set()
        self.ownership: dict = {}  # helper -> whether it returns arrays of its own (inplace/)
        self.checkpoint: str | int | None = None  # loops' checkpointing schedule (reverse/)
        self.read_only: dict[tuple, object] = {}  # (key, kinds) -> IR, for shape inference

    def ir(self, src: SourceFunction, kinds: tuple) -> object:
        """The IR of ``src`` for arguments of ``kinds``, to read and not to change (shape
        inference follows a call into it); made once per compilation."""
        key = (src.key, kinds)
        if key not in self.read_only:
            self.read_only[key] = self.front(src, kinds, self)
        return self.read_only[key]

    def _name(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def result_kind(self, src: SourceFunction, kinds: tuple) -> object:
        """The structure of what ``src`` returns for arguments of ``kinds``."""
        key = (src.key, kinds)
        if key in self.kinds:
            return self.kinds[key]
        if key in self.normalizing:  # recursion: assume a plain value
            return LEAF
        self.normalizing.add(key)
        try:
            fn = self.front(src, kinds, self)
        finally:
            self.normalizing.discard(key)
        result = fn.body[-1].value
        kind = fn.kinds.get(getattr(result, "id", None), LEAF)
        self.kinds[key] = kind
        return kind

    def pair(
        self, src: SourceFunction, kinds: tuple, wrt: list[str], shapes: tuple | None = None
    ) -> Pair:
        """The pullback pair of ``src`` for these arguments, generated on first request;
        ``shapes`` (facts, see ``shapes.py``) specialise it, for a few signatures."""
        if shapes is not None:
            variants = sum(1 for k in self.pairs if k[0] == src.key and k[3] is not None)
            if all(s is None for s in shapes) or variants >= MAX_PAIR_SPECIALISATIONS:
                shapes = None
        frozen = None if shapes is None else tuple(freeze(f) for f in shapes)
        key = (src.key, kinds, tuple(wrt), frozen)
        if key in self.pairs:
            return self.pairs[key]
        pair = Pair(
            fwd=self._name(f"fwd_{src.name}"),
            bwd=self._name(f"bwd_{src.name}"),
            source=src,
            wrt=wrt,
        )
        self.pairs[key] = pair
        fn = self.front(src, kinds, self)
        gen = self.pullback(fn, wrt, self, pair, shapes)
        pair.nodes = gen.nodes
        pair.namespace = gen.namespace
        self.order.append(pair)
        return pair
