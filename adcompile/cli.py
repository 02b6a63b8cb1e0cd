"""The command line: ``adcompile show FILE.py:FUNC`` prints a generated gradient."""

from __future__ import annotations

import argparse
import sys

from .errors import AdCompileError

DESCRIPTION = """\
adcompile turns a Python/numpy function into the Python code of its gradient
(reverse-mode automatic differentiation, done at the source level).
"""

SHOW_HELP = """\
Print the generated gradient of FUNC, defined at the top level of FILE.py.

The file is read, never run: numpy and math imports, literal constants and the
file's own functions are resolved statically. If FUNC needs anything that only
running the file would define, the command says so; in that case call
adcompile.grad(FUNC).show() from Python instead.

The output is highlighted in a terminal and plain when piped or when NO_COLOR
is set. Errors print one located message and exit with status 2.

examples:
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2
  adcompile show model.py:loss --wrt 0 --mode vjp
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adcompile",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
        raise AdCompileError(f"bad --wrt {text!r}: use comma-separated names or positions")
    return tuple(int(t) if t.lstrip("-").isdigit() else t for t in items)


def _split_target(target: str) -> tuple[str, str]:
    path, sep, func = target.rpartition(":")
    if not sep or not path or not func:
        raise AdCompileError(
            f"bad target {target!r}: expected FILE.py:FUNC",
            hint="for example: adcompile show examples/seed_network.py:loss",
        )
    if not func.isidentifier():
        raise AdCompileError(f"bad function name {func!r} in {target!r}")
    return path, func


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "show":
            from .api import compile_static
            from .show import show_source

            path, func = _split_target(args.target)
            source = compile_static(path, func, _parse_wrt(args.wrt), args.mode)
            show_source(source)
            return 0
    except AdCompileError as exc:
        print(f"adcompile: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    parser.print_help()
    return 2
