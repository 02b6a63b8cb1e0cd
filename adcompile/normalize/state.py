"""The normalizer's state and driver: the environment (user name -> the atom
holding its value), the block being built, the kinds, scalars and spellings of
names, and ``run``, which lowers the restructured body and returns the IR."""

from __future__ import annotations

import ast

from ..errors import AdCompileError
from ..frontend import SourceFunction
from ..ir import Function, NameAllocator, Return, Stmt
from ..names import (
    Resolver,
)
from ..restructure import Restructured
from ..rules.containers import EMPTY, LEAF
from .common import (
    RESULT,
)
from .kinds import (
    infer_kinds,
)


class State:
    """A part of ``Normalizer``: the state of one function's normalization, and its
    driver (``run``). The other parts read and update these attributes."""

    def __init__(
        self,
        src: SourceFunction,
        structured: Restructured,
        names: NameAllocator,
        resolver: Resolver,
        kinds: tuple | None,
        session,
    ) -> None:
        self.src = src
        self.structured = structured
        self.arg_kinds = kinds
        self.session = session
        self.resolver = resolver
        fn = src.node
        self.params = [a.arg for a in fn.args.args]
        self.locals = resolver.local
        self.names = names
        self.env: dict[str, ast.expr] = {}
        self.body: list[Stmt] = []
        self.globals: dict[str, object] = {}
        self.scalars: set[str] = set()
        self.kinds: dict[str, object] = {}
        # names holding a primitive's named tuple (eigh's eigenvalues, eigenvectors)
        self.fields: dict[str, tuple[str, ...]] = {}
        self.partial: set[str] = set()  # assigned in only one branch of an if
        self.guessed: set[str] = set()  # parameters whose structure is a guess (run)
        self.constants: set[str] = set()  # names computed with no derivative (shapes...)
        self.temps: set[str] = set()  # temporaries (not the user's own variables)
        # generated name -> the user's text it holds the value of, for messages
        # (a user variable's name, or the expression: its text is read only for a message)
        self.spelling: dict[str, str | ast.expr] = {}
        # (id of a user object, attribute) -> the name its value has (self.scale)
        self.attributes: dict[tuple[int, str], str] = {}
        # the element atoms of lists and tuples made by displays, the value atoms of
        # dicts made by displays, and the names holding a slice(...) (views.py)
        self.sequences: dict[str, list[ast.expr]] = {}
        self.dict_parts: dict[str, dict[object, ast.expr]] = {}
        self.slices: dict[str, ast.Slice] = {}
        self.views: set[str] = set()  # names holding a dict's view
        # the variables desugar made (a comprehension's list, a condition), likewise
        self.desugared: dict[str, str | ast.expr] = dict(src.spelled)
        self.stmt: ast.stmt = fn
        # the places (line, column) of the in-place updates whose writability the code
        # checks (see inplace/), and the name the check's helper has here
        self.checks: set[tuple[int, int]] = set()
        self.writable_check: str | None = None

    # ---------------------------------------------------------------- driver

    def run(self) -> Function:
        guessed = infer_kinds(self.src.node) if self.arg_kinds is None else {}
        self.guessed = set(guessed)  # parameters whose structure is a guess
        for i, p in enumerate(self.params):
            self.env[p] = ast.Name(id=self.names.claim(p), ctx=ast.Load())
            if self.arg_kinds is not None:
                self.kinds[p] = self.arg_kinds[i]
            elif p in guessed:
                self.kinds[p] = guessed[p]
        body = self.structured.body
        # the function's variables (the resolver's) and the flags restructure added
        self.locals |= self.structured.variables
        self.block(body)
        if RESULT not in self.env:
            raise self.error(
                f"{self.src.name} does not return a value on every path",
                hint="end every path through the function with `return <value>`",
            )
        ret = self.src.node.body[-1]
        self.body.append(Return(value=self.env[RESULT], loc=self.src.loc(ret)))
        for name, kind in self.kinds.items():
            if kind == EMPTY:  # read from a list that stays empty: never a container
                self.kinds[name] = LEAF
        defaults = {}
        args = self.src.node.args
        for a, d in zip(
            args.args[len(args.args) - len(args.defaults) :], args.defaults, strict=True
        ):
            defaults[a.arg] = d
        return Function(
            name=self.src.name,
            params=self.params,
            body=self.body,
            globals=self.globals,
            source=self.src,
            names=self.names,
            defaults=defaults,
            scalars=self.scalars,
            kinds=self.kinds,
            temps=self.temps,
        )

    def block(self, stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            self.stmt = stmt
            self.statement(stmt)

    def sub_block(self, stmts: list[ast.stmt], env: dict) -> tuple[list[Stmt], dict]:
        """Normalize ``stmts`` as a nested block starting from ``env``."""
        outer_body, outer_env = self.body, self.env
        self.body, self.env = [], dict(env)
        try:
            self.block(stmts)
            return self.body, self.env
        finally:
            self.body, self.env = outer_body, outer_env

    def spell(self, atom: ast.expr) -> str | None:
        """What the user wrote for the value ``atom`` holds (None if that is unknown):
        never a generated name."""
        if isinstance(atom, ast.Constant):
            return repr(atom.value)
        name = getattr(atom, "id", None)
        if name is None:
            return ast.unparse(atom)
        if name in self.spelling:
            spelled = self.spelling[name]
            return spelled if isinstance(spelled, str) else self.src.text_of(spelled)
        for var, value in self.env.items():  # a version of a user variable
            if var.isidentifier() and var in self.locals and getattr(value, "id", None) == name:
                spelled = self.desugared.get(var, var)
                return spelled if isinstance(spelled, str) else self.src.text_of(spelled)
        if name in self.locals or name in self.globals:
            return name  # a parameter or a module-level name: the user's own
        return None

    def error(self, reason: str, node: ast.AST | None = None, hint: str | None = None):
        hint = hint or "see docs/language.md for the Python and numpy adcompile differentiates"
        return AdCompileError(reason, self.src.loc(node or self.stmt), hint=hint)

    def result_name(self) -> str:
        base = self.src.name if self.src.name.isidentifier() else "out"
        if base in self.locals or base in self.globals:
            base = "out"
        return base
