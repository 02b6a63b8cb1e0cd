"""The language we accept, and the message for what we do not.

The fence walks the function once before anything else looks at it. Every
construct outside the language is refused here with a located error saying
what to write instead, so later stages may assume a small, known language.
"""

from __future__ import annotations

import ast
import types

from .errors import AdCompileError
from .frontend import SourceFunction
from .names import RANDOM_METHODS

# construct -> (what it is, what to do instead)
REFUSED: dict[type, tuple[str, str]] = {
    ast.Try: ("try/except", "handle errors outside the differentiated function"),
    ast.AsyncWith: ("async with", "differentiate a plain, synchronous function"),
    ast.AsyncFor: ("async for", "differentiate a plain, synchronous function"),
    ast.Await: ("await", "differentiate a plain, synchronous function"),
    ast.Yield: ("yield", "return a value instead of yielding it"),
    ast.YieldFrom: ("yield from", "return a value instead of yielding it"),
    ast.Global: ("a global statement", "pass the value in as a parameter and return results"),
    ast.Nonlocal: ("a nonlocal statement", "pass the value in as a parameter and return results"),
    ast.ClassDef: ("a class definition", "define classes outside the differentiated function"),
    ast.AsyncFunctionDef: ("an async function", "write a plain def"),
    ast.NamedExpr: ("an assignment expression (:=)", "assign in a separate statement"),
    ast.SetComp: ("a set comprehension", "use a list or a numpy array"),
    ast.JoinedStr: ("an f-string", "format strings outside the differentiated function"),
    ast.Starred: ("star-unpacking (*x)", "pass the arguments (or list the elements) one by one"),
    ast.Delete: ("del", "let the variable go out of use instead of deleting it"),
    ast.Import: ("an import", "import at module level"),
    ast.ImportFrom: ("an import", "import at module level"),
    ast.Set: ("a set literal", "use a list or a numpy array"),
    ast.AnnAssign: ("an annotated assignment", "drop the annotation: `x = ...`"),
    ast.Match: ("a match statement", "use if/elif/else"),
}
COMPLEX_HINT = (
    "adcompile differentiates real-valued functions of real (floating-point) arrays; "
    "split complex values into real and imaginary parts"
)
STARRED_TARGET_HINT = "unpack into one name per element (a, b, c = xs), or index: rest = xs[1:]"
SUBSCRIPT_TARGET_HINT = (
    "index the array itself with one subscript (x[i, j] = v rather than x[i][j] = v), "
    "or give the part a name of its own"
)
ATTRIBUTE_TARGET_HINT = (
    "keep the value in a local variable, and return what the caller needs from the function"
)
if hasattr(ast, "TryStar"):
    REFUSED[ast.TryStar] = REFUSED[ast.Try]
if hasattr(ast, "TypeAlias"):
    REFUSED[ast.TypeAlias] = ("a type alias", "define it at module level")


def check(src: SourceFunction) -> None:
    """Raise a located :class:`AdCompileError` for the first construct outside the language."""
    fn = src.node
    # *xs as an argument of a call: the normalizer binds it (user functions) or refuses it
    passed = {id(a) for n in ast.walk(fn) if isinstance(n, ast.Call) for a in n.args}
    # rs.randn(*x.shape): a random draw's arguments, which are not differentiated
    drawn = {
        id(a)
        for node in ast.walk(fn)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in RANDOM_METHODS
        for a in node.args
    }
    for stmt in ast.walk(fn):
        if not isinstance(stmt, ast.stmt) or stmt is fn:
            continue
        for node in ast.walk(stmt):
            refused = REFUSED.get(type(node))
            if refused is not None and id(node) not in passed and id(node) not in drawn:
                what, instead = refused
                if isinstance(node, ast.Starred) and isinstance(node.ctx, ast.Store):
                    instead = STARRED_TARGET_HINT
                raise AdCompileError(f"{what} is not supported here", src.loc(node), hint=instead)
            if isinstance(node, ast.Constant) and isinstance(node.value, complex):
                raise AdCompileError(
                    "complex numbers are not supported here",
                    src.loc(node),
                    hint=COMPLEX_HINT,
                )
        if isinstance(stmt, ast.Assign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    continue  # x[index] = v: into an array the function owns (see inplace/)
                for node in ast.walk(target):
                    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                        raise AdCompileError(
                            "assigning to an attribute is not supported",
                            src.loc(node),
                            hint=ATTRIBUTE_TARGET_HINT,
                        )
                    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                        raise AdCompileError(
                            "assigning into a part of an expression is not supported: "
                            "only into an array named by a variable (x[index] = v)",
                            src.loc(node),
                            hint=SUBSCRIPT_TARGET_HINT,
                        )
    _check_defaults(src)


def _check_defaults(src: SourceFunction) -> None:
    """A parameter whose default is a module (``np=np``) would make ``np.sum(x)`` a
    method call on a parameter: refuse it. (A function is a value: ``act=np.tanh``.)"""
    fn = src.function
    defaults = dict(getattr(fn, "__kwdefaults__", None) or {})
    code = getattr(fn, "__code__", None)
    positional = getattr(fn, "__defaults__", None) or ()
    if code is not None and positional:
        names = code.co_varnames[: code.co_argcount]
        defaults.update(zip(names[len(names) - len(positional) :], positional, strict=True))
    for a in src.node.args.args:
        value = defaults.get(a.arg)
        if isinstance(value, types.ModuleType):
            raise AdCompileError(
                f"the parameter {a.arg!r} defaults to {type(value).__name__} "
                f"{getattr(value, '__name__', '')}; parameters are arrays and numbers",
                src.loc(a),
                hint=f"use the module-level name instead of a parameter {a.arg}",
            )
