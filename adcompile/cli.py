"""The command line: ``adcompile show FILE.py:FUNC`` prints a generated gradient."""

from __future__ import annotations

import argparse
import os
import re
import sys

from .errors import AdCompileError

DESCRIPTION = """\
adcompile turns a Python/numpy function into the Python code of its gradient
(reverse-mode automatic differentiation, done at the source level).
"""

EPILOG = """\
examples:
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2
  python -m adcompile show model.py:loss --wrt 0,1

Run `adcompile show --help` for the details. From Python, use adcompile.grad(f),
adcompile.value_and_grad(f) and adcompile.vjp(f); their .source is the same code.
"""

SHOW_HELP = """\
Print the generated gradient of FUNC, defined with def at the top level of
FILE.py.

The file is read, never run: its top-level code is not executed. numpy, math
and operator imports, literal constants (SCALE = 0.5) and the file's own
functions are resolved statically. If FUNC needs anything that only running
the file would define (another library, a computed value), the command says
so; in that case call adcompile.grad(FUNC).show() from Python instead.

--wrt takes parameter names or positions (0 is the first, -1 the last),
separated by commas; without it, the gradient is taken with respect to every
parameter.

--shapes gives every parameter's shape (W=8x4, b=8x1, s=float for a Python
float, c=() for a 0-d array), and prints the code specialised to those shapes,
which is what a call with such arguments runs: exact sums where numpy
broadcast an operand, and dz @ y.T for matrix products. Without it, the code
is the general one, which works for any shapes.

The output is highlighted in a terminal, and plain text when piped or
redirected or when the NO_COLOR environment variable is set. Errors print a
message that starts with FILE:LINE:COL (where there is a place to point at),
shows the offending line and a hint, and exit with status 2.

examples:
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2
  adcompile show model.py:loss --wrt 0 --mode vjp
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2 \
      --shapes W1=8x4,b1=8x1,W2=1x8,b2=1x1,x=4x16,y=1x16
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adcompile",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    show = sub.add_parser(
        "show",
        help="print the generated gradient code of a function in a file",
        description=SHOW_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("target", metavar="FILE.py:FUNC", help="the file and the function in it")
    show.add_argument(
        "--wrt",
        metavar="NAMES",
        help="comma-separated parameter names or positions to differentiate with respect to "
        "(default: all parameters)",
    )
    show.add_argument(
        "--shapes",
        metavar="SPEC",
        help="every parameter's shape, e.g. W=8x4,b=8x1,s=float: print the code "
        "specialised to them",
    )
    show.add_argument(
        "--mode",
        choices=("grad", "value_and_grad", "vjp"),
        default="grad",
        help="which derivative to generate (default: grad)",
    )
    return parser


def _parse_wrt(text: str | None):
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise AdCompileError(
            f"bad --wrt {text!r}: use comma-separated names or positions",
            hint="for example --wrt W1,b1 or --wrt 0,1 (-1 is the last parameter)",
        )
    return tuple(int(t) if re.fullmatch(r"-?[0-9]+", t) else t for t in items)


def parse_shapes(text: str) -> dict[str, object]:
    """``W=8x4,b=8x1,s=float,c=()`` as {name: shape tuple, or float for a Python float}."""
    shapes: dict[str, object] = {}
    for item in text.split(","):
        name, sep, dims = (part.strip() for part in item.partition("="))
        if not sep or not name.isidentifier():
            raise AdCompileError(
                f"bad shape {item.strip()!r}: expected NAME=DIMS",
                hint="for example W=8x4,b=8x1,s=float (a Python float) or c=() (0-d)",
            )
        if dims == "float":
            shapes[name] = float
        elif dims == "()":
            shapes[name] = ()
        elif re.fullmatch(r"[0-9]+(x[0-9]+)*", dims):
            shapes[name] = tuple(int(d) for d in dims.split("x"))
        else:
            raise AdCompileError(
                f"bad dimensions {dims!r} for {name}",
                hint="write dimensions as 8x4 (or float, or () for a 0-d array)",
            )
    return shapes


def _split_target(target: str) -> tuple[str, str]:
    path, sep, func = target.rpartition(":")
    if not sep or not path or not func:
        raise AdCompileError(
            f"bad target {target!r}: expected FILE.py:FUNC",
            hint="for example: adcompile show examples/seed_network.py:loss",
        )
    if not func.isidentifier():
        raise AdCompileError(
            f"bad function name {func!r} in {target!r}",
            hint="FUNC is the name of a function defined with def at the top level of the file",
        )
    return path, func


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        from .api import compile_static
        from .show import show_source

        path, func = _split_target(args.target)
        shapes = parse_shapes(args.shapes) if args.shapes else None
        source = compile_static(path, func, _parse_wrt(args.wrt), args.mode, shapes)
        show_source(source)
        sys.stdout.flush()
    except AdCompileError as exc:
        # A located message starts with FILE:LINE:COL, as compilers' do, so that
        # editors and terminals can jump to it; one with no place names the tool.
        print(str(exc) if exc.loc is not None else f"adcompile: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python's exit-time
        # flush of stdout from complaining too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
