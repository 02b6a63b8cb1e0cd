"""Kind inference: the structure (array or number, or a list, tuple or dict of
kinds) of each value the normalizer names. ``Kinds`` is the part of the
normalizer that says what a primitive returns; ``infer_kinds`` guesses the
parameters' kinds from how the body uses them, for code generated before a call."""

from __future__ import annotations

import ast
import inspect

import numpy as np

from .. import rules
from ..ir import Assign, CallPrim
from ..rules import containers, registry
from ..rules.containers import EMPTY, LEAF, Fields, element_kind, join_kinds
from ..rules.registry import primitive_name
from .common import _copy_atom
from .unassigned import Unassigned


class Kinds:
    """A part of ``Normalizer``: the kind of an atom, and of what a primitive returns."""

    def kind(self, atom: ast.expr) -> object:
        if isinstance(atom, ast.Name):
            if atom.id in self.kinds:
                kind = self.kinds[atom.id]
                return LEAF if kind == EMPTY else kind
            if atom.id in self.globals:
                return containers.kind_of(self.globals[atom.id])
        return LEAF

    def joining_kind(self, atom: ast.expr) -> object:
        """The kind ``atom`` brings to a join (after an ``if``, around a loop): a ``None``
        joins with values of any structure (a placeholder for a value a path does not
        compute, as generated code sets before a branch; reading it as a container on
        that path fails at run time as in Python), the rest as :meth:`kind` says."""
        if isinstance(atom, ast.Constant) and atom.value is None:
            return EMPTY
        if isinstance(atom, ast.Name) and isinstance(self.globals.get(atom.id), Unassigned):
            return EMPTY  # (a variable assigned only in a loop: what the loop assigns)
        return self.kind(atom)

    def joined_kind(self, kinds: list[object], test: ast.expr | None = None) -> object:
        """The kind of a variable that holds values of ``kinds`` on different paths (see
        ``join_kinds``); None when they differ. For the two arms of a condition ``test``
        that are different functions (``act = np.tanh if flag else np.sin``), the choice
        between them, which a call turns into an if on the same condition (see
        ``usercalls.choice_call``). In generated code differentiated again, an adjoint of
        a container is an opaque value the runtime helpers read and fill (``zero_like``,
        ``add_at``, ``part``): of kind leaf, it joins with the list display of its
        elements that one path makes, as that opaque value."""
        kind = join_kinds(kinds)
        if (
            kind is None
            and test is not None
            and len(kinds) == 2
            and all(containers.is_function_kind(k) for k in kinds)
        ):
            yes, no = kinds
            if isinstance(test, ast.Constant):
                return yes if test.value else no
            return (containers.CHOICE, (test.id, yes, no))
        if (
            kind is None
            and self.src.filename.startswith("<adcompile")
            and LEAF in kinds
            and all(k == LEAF or k == EMPTY or (k[0] in ("list", "tuple", "dict")) for k in kinds)
        ):
            return LEAF
        return kind

    def result_kind(self, prim, operands: dict) -> object:
        if prim is containers.GET and isinstance(operands["index"], ast.Call):
            kind = self.kind(operands["c"])
            bounds = operands["index"].args
            if kind[0] == "tuple":
                if all(isinstance(b, ast.Constant) for b in bounds):
                    return ("tuple", kind[1][slice(*(b.value for b in bounds))])
                joined = join_kinds(list(kind[1]))
                if joined is None:
                    raise self.error("cannot tell the structure of this slice")
                return ("list", joined)
            return kind
        if prim is containers.GET:
            c = operands["c"]
            if isinstance(c, ast.Name) and self.kinds.get(c.id) == EMPTY:
                return EMPTY  # unpacking an element of a list with no element yet
            index = operands["index"]
            kind = element_kind(
                self.kind(operands["c"]),
                index.value if isinstance(index, ast.Constant) else None,
                constant=isinstance(index, ast.Constant),
            )
            if kind is None and not isinstance(index, ast.Constant):
                kind = self.indexed_choice(self.kind(operands["c"]), index)
            if kind is None:
                raise self.error(
                    "cannot tell the structure of this element",
                    hint="index tuples and dicts with constants",
                )
            return kind
        if prim in (containers.BUILD_LIST, containers.BUILD_TUPLE, containers.APPEND) or (
            isinstance(prim, containers.BuildDict)
        ):
            self.no_choice_stored(operands.values())
        if prim is containers.BUILD_LIST:
            kind = join_kinds([self.kind(e) for e in operands.values()])
            if kind is None and operands:
                return ("tuple", tuple(self.kind(e) for e in operands.values()))
            return ("list", kind or EMPTY)
        if prim is containers.BUILD_TUPLE:
            return ("tuple", tuple(self.kind(e) for e in operands.values()))
        if isinstance(prim, containers.BuildDict):
            kinds = (self.kind(e) for e in operands.values())
            return ("dict", tuple(zip(prim.keys, kinds, strict=True)))
        if prim is containers.APPEND:
            c = self.kind(operands["c"])
            return ("list", join_kinds([c[1] if c != LEAF else EMPTY, self.kind(operands["x"])]))
        if isinstance(prim, CallPrim):
            return prim.result_kind
        n = self.result_count(prim, operands)
        if n is None:  # a list of as many arrays as the call makes (np.split's pieces)
            return ("list", LEAF)
        return LEAF if n == 1 else ("tuple", (LEAF,) * n)

    def is_scalar(self, atom: ast.expr) -> bool:
        if isinstance(atom, ast.Constant):
            return isinstance(atom.value, int | float | complex | bool)
        if isinstance(atom, ast.Name):
            if atom.id in self.globals:
                return isinstance(self.globals[atom.id], int | float | complex)
            return atom.id in self.scalars
        return False

    def no_choice_stored(self, atoms) -> None:
        """Refuse putting a function chosen when the code runs (by a condition, or by an
        index) into a list, tuple or dict: the container could outlive the condition it
        is chosen by, which the next iteration of a loop computes again."""
        for atom in atoms:
            if _holds_choice(self.kind(atom)):
                raise self.error(
                    "a function chosen when the code runs (by a condition, or by a loop "
                    "over functions) cannot be put into a list, tuple or dict",
                    hint="call it where it is chosen, or keep the functions in a tuple made "
                    "before the loop and call its elements by index: act = acts[i]; act(x)",
                )

    def indexed_choice(self, kind: object, index: ast.expr) -> object | None:
        """The kind of ``c[index]``, ``index`` computed when the code runs, for a tuple
        whose elements differ only in the functions they hold (``for act in (np.tanh,
        np.sin):``, ``for W, act in [(W1, np.tanh), (W2, relu)]:``): where they differ,
        the choice between the elements' functions by the index, the conditions
        ``index % n == k`` computed here (a call of it is an if on them, as for a function
        chosen by a condition); None when they differ otherwise."""
        if kind == LEAF or kind[0] != "tuple" or isinstance(kind[1], Fields):
            return None
        n = len(kind[1])
        tests: dict[int, str] = {}

        def test(k: int) -> str:
            if k not in tests:
                position = ast.BinOp(left=_copy_atom(index), op=ast.Mod(), right=ast.Constant(n))
                same = ast.Compare(left=position, ops=[ast.Eq()], comparators=[ast.Constant(k)])
                target = self.names.fresh("is_element")
                self.temps.add(target)
                self.constants.add(target)  # (a test of an integer: no derivative)
                self.spelling[target] = self.stmt
                self.body.append(
                    Assign(
                        target=target,
                        value=same,
                        prim=None,
                        operands={},
                        loc=self.src.loc(self.stmt),
                    )
                )
                self.kinds[target] = LEAF
                tests[k] = target
            return tests[k]

        def merged(kinds: list) -> object | None:
            if all(k == kinds[0] for k in kinds):
                return kinds[0]
            if all(containers.is_function_kind(k) for k in kinds):
                out = kinds[-1]
                for k in range(len(kinds) - 2, -1, -1):
                    out = (containers.CHOICE, (test(k), kinds[k], out))
                return out
            if any(k == LEAF or k == EMPTY for k in kinds) or len({k[0] for k in kinds}) > 1:
                return None
            tag = kinds[0][0]
            inners = [k[1] for k in kinds]
            if tag == "list":
                inner = merged(inners)
                return None if inner is None else ("list", inner)
            if tag == "tuple" and not any(isinstance(i, Fields) for i in inners):
                if len({len(i) for i in inners}) != 1:
                    return None
                columns = [merged(list(c)) for c in zip(*inners, strict=True)]
                return None if None in columns else ("tuple", tuple(columns))
            return None

        return merged(list(kind[1])) if n > 1 else None

    def not_a_dataclass(self, atom: ast.expr, node: ast.AST) -> None:
        """Refuse indexing, unpacking or iterating over a dataclass, which the generated
        code holds as the tuple of its fields (Python would raise a TypeError)."""
        kind = self.kind(atom)
        if kind == LEAF or kind[0] != "tuple" or not isinstance(kind[1], Fields):
            return
        if self.src.filename.startswith("<adcompile"):
            return  # generated code, differentiated again: it indexes the tuple itself
        record = kind[1].record
        if not issubclass(record, tuple):
            raise self.error(
                f"{self.src.text_of(node)} is a {record.__name__}, a dataclass: it cannot be "
                "indexed, unpacked or iterated over",
                node,
                hint=f"read its fields by name ({kind[1].names[0]} = "
                f"{self.src.text_of(node)}.{kind[1].names[0]})"
                if kind[1].names
                else "read its fields by name",
            )

    def lists_as_arrays(self, prim, args: list, keywords: list, hint: str) -> tuple[list, list]:
        """A list or tuple passed to a numpy function where it takes an array
        (``np.sum([1, a * a, 2])``, ``np.mean(xs)``) is the array numpy makes of it
        (``np.asarray``): made first, as ``np.array(...)``, whose rule differentiates it."""
        rule = rules.lookup(prim)
        module = getattr(prim, "__module__", None) or ""
        if rule is None or not module.startswith("numpy") or prim is np.array:
            return args, keywords

        def convert(param: str | None, atom: ast.expr) -> ast.expr:
            listed = isinstance(atom, ast.Tuple) or (
                isinstance(atom, ast.Name) and self.kind(atom)[0] in ("list", "tuple")
                if self.kind(atom) != LEAF
                else False
            )
            if param is None or param == "arrays" or not listed:
                return atom
            if not rule.differentiable(param):
                return atom
            made = ast.Call(func=self.numpy_attr("array"), args=[atom], keywords=[])
            target = self.names.fresh(hint)
            self.temps.add(target)
            operand = (
                ast.Tuple(elts=[_copy_atom(e) for e in atom.elts], ctx=ast.Load())
                if isinstance(atom, ast.Tuple)
                else _copy_atom(atom)
            )
            self.add_assign(target, made, np.array, {"arrays": operand})
            return ast.Name(id=target, ctx=ast.Load())

        params = list(rule.params)
        args = [convert(params[i] if i < len(params) else None, a) for i, a in enumerate(args)]
        keywords = [(k, convert(k, v)) for k, v in keywords]
        return args, keywords

    def numpy_attr(self, attr: str) -> ast.expr:
        """``np.attr`` in the forward code, under the user's name for numpy if it is np."""
        name = "np"
        if name in self.locals or self.resolver.lookup(name) is not np:
            name = self.names.fresh("numpy")
        self.globals[name] = np
        return ast.Attribute(value=ast.Name(id=name, ctx=ast.Load()), attr=attr, ctx=ast.Load())

    def note_fields(self, target: str, prim) -> None:
        """Remember the field names of a primitive's named-tuple result."""
        record = registry.record_of(prim) if prim is not None else None
        kind = self.kinds[target]
        if record is not None and record.fields and kind[0] == "tuple":
            if len(kind[1]) == len(record.fields):
                self.fields[target] = record.fields

    def result_count(self, prim, operands: dict) -> int:
        """How many arrays a primitive's result holds (its record's ``results``): a
        tuple's length, or 1 for an array."""
        record = registry.record_of(prim)
        count = 1 if record is None else record.results
        if not callable(count):
            return count
        args = {}
        for param in inspect.signature(count).parameters:
            operand = operands.get(param)
            if operand is None:
                continue
            if isinstance(operand, ast.Tuple):
                # a tuple of arrays (unconcatenate's pieces): only its length is known
                args[param] = tuple(operand.elts)
                continue
            if param == "arrays" and isinstance(operand, ast.Name):
                # a list of arrays held in a variable, of a length its kind knows, or one
                # array (unarray's operand)
                kind = self.kind(operand)
                args[param] = tuple(kind[1]) if kind != LEAF else operand
                continue
            if isinstance(operand, ast.Name) and param == "indices_or_sections":
                known = self.split_points(operand)
                if known is not None:
                    args[param] = known
                    continue
            if isinstance(operand, ast.Name) and param == "indices_or_sections":
                return None  # split points known when the code runs: a list of pieces
            if not isinstance(operand, ast.Constant) and param == "indices_or_sections":
                raise self.error(
                    f"{primitive_name(prim)}'s indices_or_sections= must tell here how many "
                    "pieces it makes: it decides how many arrays the result holds",
                    hint="write the number of pieces, or the split points as a list or tuple "
                    "in the call (np.split(x, [i, j]), the points may be variables) or as a "
                    "variable holding them",
                )
            if not isinstance(operand, ast.Constant) and self.src.filename.startswith("<adcompile"):
                # generated code splits the cotangent of a stacked list into a number of
                # pieces known at run time (unstack(g, len(xs))), and reads them as a
                # whole (as_list(...)): one opaque value, as a container adjoint is
                return 1
            if not isinstance(operand, ast.Constant):
                raise self.error(
                    f"{primitive_name(prim)}'s {param}= must be a constant here: it decides "
                    "whether the result is a tuple",
                    hint=f"write {param}= as a constant (such as {param}={count.__defaults__[0]!r})"
                    if count.__defaults__
                    else f"write {param}= as a constant",
                )
            args[param] = operand.value
        try:
            return count(**args)
        except ValueError as exc:  # a result the record cannot describe
            raise self.error(f"{primitive_name(prim)}: {exc}", hint=str(exc.args[-1])) from None

    def split_points(self, operand: ast.Name) -> object:
        """What decides how many pieces ``np.split(a, operand)`` makes, when the name
        tells: a tuple (of a length its kind knows), or a module's int or 1-d integer
        array; else None."""
        kind = self.kind(operand)
        if kind != LEAF and kind[0] == "tuple":
            return tuple(kind[1])
        if operand.id in self.kinds:
            return None
        value = self.globals.get(operand.id)
        if type(value) is int:
            return value
        if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
            return tuple(value.tolist())
        return None


class _NoLiteral:
    """A default value that is not a literal (static reading cannot know it)."""


def _described(kind: object, *, one: bool = False) -> str:
    """Values of ``kind`` (or one, with ``one``), in words (for messages)."""
    if kind == LEAF:
        return "an array or a number" if one else "arrays or numbers"
    tag, inner = kind
    if tag == "tuple":
        return f"a tuple of {len(inner)}" if one else f"tuples of {len(inner)}"
    return (
        ("a " if one else "")
        + {"list": "list", "dict": "dict"}.get(tag, "container")
        + ("" if one else "s")
    )


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return _NoLiteral()


def infer_kinds(fn: ast.FunctionDef) -> dict[str, object]:
    """Guess which parameters are containers from how the body uses them, for code
    generated before any call (``.source``, the CLI): ``for W, b in p`` makes ``p`` a
    list of pairs, ``p["W"]`` a dict, ``a, b = p`` a tuple. Arguments seen at a
    call always win over these guesses."""
    params = {a.arg for a in fn.args.args}
    kinds: dict[str, object] = {}
    keys: dict[str, list] = {}

    def shape_of(target: ast.expr) -> object:
        if isinstance(target, ast.Tuple | ast.List):
            return ("tuple", tuple(shape_of(t) for t in target.elts))
        return LEAF

    for node in ast.walk(fn):
        if isinstance(node, ast.For):
            it, target = node.iter, node.target
            pairs = []
            if isinstance(it, ast.Name):
                pairs = [(it, target)]
            elif isinstance(it, ast.Call) and isinstance(it.func, ast.Name):
                if it.func.id == "enumerate" and it.args and isinstance(target, ast.Tuple):
                    pairs = [(it.args[0], target.elts[-1])]
                elif it.func.id == "zip" and isinstance(target, ast.Tuple):
                    pairs = list(zip(it.args, target.elts, strict=False))
            for seq, tgt in pairs:
                if isinstance(seq, ast.Name) and seq.id in params and isinstance(tgt, ast.Tuple):
                    kinds[seq.id] = ("list", shape_of(tgt))
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            value = node.value
            if isinstance(value, ast.Name) and value.id in params:
                kinds[value.id] = shape_of(node.targets[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            key = node.slice
            if (
                node.value.id in params
                and isinstance(key, ast.Constant)
                and isinstance(key.value, str)
            ):
                keys.setdefault(node.value.id, [])
                if key.value not in keys[node.value.id]:
                    keys[node.value.id].append(key.value)
    for p, ks in keys.items():
        kinds[p] = ("dict", tuple((k, LEAF) for k in ks))
    return kinds


def _holds_choice(kind: object) -> bool:
    """Whether a value of ``kind`` is, or holds, a function chosen by a condition."""
    if containers.choice_of(kind) is not None:
        return True
    if kind == LEAF or kind == EMPTY or not isinstance(kind, tuple) or len(kind) != 2:
        return False
    tag, inner = kind
    if tag == "list":
        return _holds_choice(inner)
    if tag == "tuple":
        return any(_holds_choice(k) for k in inner)
    if tag == "dict":
        return any(_holds_choice(k) for _, k in inner)
    return False
