"""Emit: AST to source text, source to a live function.

The only module that imports astor. Comments are carried through the AST as
:class:`Comment` markers and become ``#`` lines in the text. The source is
registered with :mod:`linecache` under a stable pseudo-filename, so tracebacks
and pdb show the generated lines; nothing is written to disk.
"""

from __future__ import annotations

import ast
import linecache
import re
import types

import astor
import astor.code_gen

from .ir import Comment

_MARK = "__adcompile_comment_{}__"
_MARK_RE = re.compile(r"^(\s*)__adcompile_comment_(\d+)__\n", re.M)


class _Generator(astor.code_gen.SourceGenerator):
    """astor's printer, writing a negative number as ``-(number)``: printed bare,
    ``-0.7 ** 2`` would read as ``-(0.7 ** 2)``; as a unary minus the printer
    parenthesizes it where needed. (Done while printing rather than as a pass over
    the tree, which cost as much as the printing.)"""

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if isinstance(v, int | float) and not isinstance(v, bool) and (v < 0 or str(v)[0] == "-"):
            neg = ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-v))
            neg._pp = self.get__pp(node)
            self.visit_UnaryOp(neg)
            return
        super().visit_Constant(node)


def to_source(node: ast.FunctionDef) -> str:
    """Source text of ``node``, whose bodies may hold :class:`Comment` markers."""
    comments: list[str] = []

    def lower(body: list) -> list[ast.stmt]:
        out = []
        for item in body:
            if isinstance(item, Comment):
                comments.append(item.text)
                out.append(ast.Expr(value=ast.Name(id=_MARK.format(len(comments) - 1))))
            else:
                for field in ("body", "orelse"):
                    inner = getattr(item, field, None)
                    if isinstance(inner, list):
                        setattr(item, field, lower(inner))
                out.append(item)
        return out

    node.body = lower(node.body)
    # astor needs no line numbers: the text is what gets compiled
    text = astor.to_source(node, pretty_source=_pretty, source_generator_class=_Generator)
    text = _MARK_RE.sub(lambda m: f"{m.group(1)}# {comments[int(m.group(2))]}\n", text)
    return text


def _pretty(source: list[str]) -> str:
    # astor's default splits long lines in odd places; keep one statement a line.
    return "".join(source)


def compile_module(source: str, namespace: dict[str, object], filename: str) -> dict:
    """Compile and run ``source`` (function definitions) in a copy of ``namespace``;
    returns that scope, which is the functions' globals."""
    return run_module(compile(source, filename, "exec"), source, namespace, filename)


def run_module(
    code: types.CodeType, source: str, namespace: dict[str, object], filename: str
) -> dict:
    """Run ``code``, compiled from ``source``, in a copy of ``namespace`` (registering
    ``source``'s lines under ``filename``); returns that scope."""
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    scope = dict(namespace)
    exec(code, scope)
    return scope


def moved_down(code: types.CodeType, lines: int) -> types.CodeType:
    """``code`` (and every code object inside it) as if its text began ``lines`` lines
    further down: what compiling the text with ``lines`` lines put before it gives,
    without compiling it again (positions are kept relative to the first line)."""
    if lines == 0:
        return code
    inner = tuple(
        moved_down(c, lines) if isinstance(c, types.CodeType) else c for c in code.co_consts
    )
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=inner)


FILENAMES: dict[str, int] = {}


def linecache_filename(mode: str, qualname: str, wrt: list[str]) -> str:
    """A pseudo-filename for linecache, distinct for every compiled function.

    Tracebacks and pdb find the generated lines under it, so two gradients must
    never share one (the second would replace the first one's lines).
    """
    base = f"<adcompile {mode} {qualname} wrt {','.join(wrt)}>"
    n = FILENAMES.get(base, 0) + 1
    FILENAMES[base] = n
    return base if n == 1 else f"{base[:-1]} #{n}>"
