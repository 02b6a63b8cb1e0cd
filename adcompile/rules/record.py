"""One record per primitive: everything the compiler knows about a function it differentiates.

A :class:`Primitive` says how a function is spelled (``np.tanh``, and ``math.tanh``
on Python floats), how its result's shape follows from its operands', whether it
keeps a scalar a scalar, whether it returns a new array, whether it has a
derivative, and its adjoint and tangent templates. The rule files (``rules/*.py``) create the
records with ``@adjoint`` and ``nondiff``; every other table of the compiler
(``shapes``, ``normalize``, ``inplace``, ``optimize``, the language reference, the
tests' coverage check) is read from them, so that adding a primitive is one entry
in one file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Shape kinds: how the result's shape follows from the operands' (see shapes.py).
UNARY = "unary elementwise"  # the operand's shape
BROADCAST = "broadcasting"  # the operands' shapes broadcast together, numpy-style
REDUCTION = "reduction"  # (a, axis, keepdims): a's shape without (or with 1 for) axis
MATMUL = "matmul"  # np.matmul's shape rule
DOT = "dot"  # np.dot's, for operands of at most 2 dimensions
UNKNOWN = "unknown"  # nothing is known: the result's shape stays unknown
SHAPE_KINDS = (UNARY, BROADCAST, REDUCTION, MATMUL, DOT, UNKNOWN)

# What kind of derivative a primitive has.
DIFFERENTIABLE = "differentiable"
PIECEWISE_CONSTANT = "piecewise constant"  # sign, floor, comparisons, argmax: derivative 0
CONSTANT = "constant"  # its result does not depend on the operands' values (zeros_like, shape)
DERIVATIVES = (DIFFERENTIABLE, PIECEWISE_CONSTANT, CONSTANT)

# What a primitive gives for complex operands (docs/numerics.md, "Complex values").
PASSES = "complex if an operand is"  # the default: what numpy's arithmetic does
MAKES = "complex"  # whatever the operands (np.fft.fft)
DROPS = "real"  # whatever the operands (np.abs, np.real, np.fft.irfft)
ON_COMPLEX = (PASSES, MAKES, DROPS)


@dataclass(eq=False)
class Primitive:
    """Everything about one primitive.

    ``spellings`` are the function objects that mean it: the canonical one first
    (what normalized code names), then aliases that share its rule (``abs`` for
    ``np.abs``, ``operator.add`` for ``np.add``). ``on_floats`` are spellings that
    work on Python floats (``math.tanh``): each gets its own rule, derived from the
    template, so that a scalar computation stays in Python floats.

    ``shape`` is a shape kind (above) or a function ``shape(query)`` returning the
    result's shape (see ``shapes.ShapeQuery``); ``scalar_preserving`` says that
    scalar operands give a scalar result; ``fresh`` that the result is always a new
    array (or an immutable scalar) that nothing else refers to; ``converts`` that the
    result is the first operand itself (or a view of it) when that is an array, and
    a new array made from it otherwise (``np.asarray``, ``np.atleast_2d``): a new
    array when the operand is a list, tuple or number written in the call.
    """

    name: str
    spellings: tuple[object, ...]
    on_floats: tuple[object, ...] = ()
    derivative: str = DIFFERENTIABLE
    template: Callable | None = None  # the adjoint, in the chain rule's notation
    shape: str | Callable | None = None  # None: not declared (a user's rule), as UNKNOWN
    scalar_preserving: bool = False
    fresh: bool = False
    # converts its first operand to an array: returns the operand itself (or a view of
    # it) when it is one already, and otherwise a new array made from it, so that the
    # result of ``np.asarray([a, b])`` (a list written in the call) is a new array
    converts: bool = False
    # forward mode: the parsed tangent templates (rules/tangents.py), by the id of the
    # canonical spelling and of each on_floats spelling
    tangent: dict | None = None
    # how many arrays the result holds: 1 (an array), n (a tuple of n arrays, such as
    # np.linalg.slogdet's), or a function of the constant arguments that says which
    # (``lambda compute_uv=True: 3 if compute_uv else 1`` for np.linalg.svd)
    results: int | Callable = 1
    fields: tuple[str, ...] = ()  # the names of a tuple result's elements (a named tuple)
    builtin: bool = False  # defined by adcompile's own rules/ (not by a user)
    # operands with a derivative the rule does not give (the real order of a Bessel
    # function): a gradient that would flow through one is refused (analysis.py)
    constant: tuple[str, ...] = ()
    # complex values: whether the result is complex (a kind above), and whether the
    # adjoint is right for complex operands in autograd's convention (the cotangent of
    # z = x + iy is dL/dx - i dL/dy): a holomorphic function's real rule is, without a
    # conjugate; ``complex_rule`` is the one used instead where an operand may be
    # complex. A differentiated value reaching a rule that is not is refused.
    on_complex: str = PASSES
    complex_ok: bool = False
    complex_rule: object = None
    complex_tangent: object = None  # forward mode's, where an operand may be complex
    # parsed adjoints: id of the canonical spelling and of each on_floats spelling -> Rule
    rules: dict = field(default_factory=dict, repr=False)
    # special cases for known shapes: [(predicate on the operands' shapes, Rule)]
    special: list = field(default_factory=list, repr=False)

    @property
    def canonical(self) -> object:
        return self.spellings[0]

    @property
    def aliases(self) -> tuple[object, ...]:
        return self.spellings[1:]

    @property
    def broadcasts(self) -> bool:
        return self.shape == BROADCAST

    @property
    def differentiable(self) -> bool:
        return self.derivative == DIFFERENTIABLE

    def all_spellings(self) -> tuple[object, ...]:
        return (*self.spellings, *self.on_floats)

    @property
    def missing_tangent(self) -> bool:
        """Differentiable, and without a tangent rule: forward mode refuses it (see
        tests/test_forward.py, which lists the built-in records still without one)."""
        return self.differentiable and not self.tangent

    def problems(self) -> list[str]:
        """What is missing or contradictory in this record (empty when it is complete)."""
        out = []
        if self.derivative not in DERIVATIVES:
            out.append(f"unknown derivative kind {self.derivative!r}")
        if self.differentiable and self.template is None:
            out.append("differentiable but has no adjoint")
        if not self.differentiable and self.template is not None:
            out.append(f"{self.derivative} but has an adjoint")
        if self.on_complex not in ON_COMPLEX:
            out.append(f"unknown complex kind {self.on_complex!r}")
        if self.complex_rule is not None and not self.complex_ok:
            out.append("a rule for complex operands, but not complex_ok")
        if not (self.shape is None or self.shape in SHAPE_KINDS or callable(self.shape)):
            out.append(f"unknown shape kind {self.shape!r}")
        if self.differentiable and self.builtin and self.shape is None:
            out.append("no shape kind")
        if self.scalar_preserving and self.shape not in (UNARY, BROADCAST):
            out.append("scalar-preserving but not elementwise")
        if self.results != 1 and not (self.shape == UNKNOWN or callable(self.shape)):
            out.append("a tuple result, but a shape kind other than UNKNOWN or a function")
        if self.fresh and self.converts:
            out.append("both fresh and converts (a conversion may return its operand)")
        if self.on_floats and self.shape != UNARY:
            out.append("a Python-float spelling of a primitive that is not unary elementwise")
        return out
