"""The command line.

* ``adcompile show FILE.py:FUNC``: print the generated gradient (``--side-by-side``
  next to the user's lines), reading the file without running it;
* ``adcompile rules``: print the language reference generated from the registries
  (``docs/language.md`` is its Markdown form);
* ``adcompile check FILE.py:FUNC --args SPEC``: import the file, and compare the
  compiled gradient with central finite differences on random inputs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tokenize
from pathlib import Path

from .errors import AdCompileError

DESCRIPTION = """\
adcompile turns a Python/numpy function into the Python code of its gradient
(reverse-mode automatic differentiation, done at the source level).
"""

EPILOG = """\
examples:
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2 --side-by-side
  adcompile check examples/seed_network.py:loss --wrt W1,b1,W2,b2 \\
      --args W1=8x4,b1=8x1,W2=1x8,b2=1x1,x=4x16,y=1x16
  adcompile export examples/seed_network.py:loss --wrt W1,b1,W2,b2 -o grad_loss.py
  adcompile rules
  python -m adcompile show model.py:loss --wrt 0,1

Run `adcompile COMMAND --help` for the details. From Python, use adcompile.grad(f),
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

--checkpoint sqrt|N checkpoints the loops: the forward sweep keeps a snapshot of
a loop's carried state every few iterations, and the reverse sweep runs the
iterations again from a snapshot before reversing them. With sqrt, about √T
snapshots of T iterations and one segment of √T recomputed at a time; with an
integer N, at most N snapshots placed by binomial checkpointing (revolve), which
recomputes the fewest iterations N snapshots allow, one iteration reversed at a
time. The printed code shows the schedule; with --memory, the report shows the
snapshots and the segment length.

--memory (with --shapes) runs the generated code's forward sweep on random
arguments of those shapes and prints, instead of the code, what the reverse sweep
keeps: each value's line, name, shape, dtype and bytes, per iteration and in
total for loops, and the total.

--side-by-side prints the function's lines and the generated code next to each
other: each block of generated code is on the row of the source line it comes
from (the line the generated `# line N:` comment names), so the forward sweep
walks down the function and the reverse sweep walks back up.

The output is highlighted in a terminal, and plain text when piped or
redirected or when the NO_COLOR environment variable is set. Errors print a
message that starts with FILE:LINE:COL (where there is a place to point at),
shows the offending line and a hint, and exit with status 2.

examples:
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2
  adcompile show model.py:loss --wrt 0 --mode vjp
  adcompile show model.py:loss --wrt 0 --mode jvp     (forward mode)
  adcompile show model.py:loss --wrt 0 --mode hvp     (Hessian-vector product)
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2 \
      --shapes W1=8x4,b1=8x1,W2=1x8,b2=1x1,x=4x16,y=1x16
  adcompile show examples/seed_network.py:loss --wrt W1,b1,W2,b2 --side-by-side
"""

EXPORT_HELP = """\
Write the generated gradient of FUNC, defined with def at the top level of
FILE.py, as a Python module that needs only numpy (and scipy, when FUNC uses
it): the generated function
(named after FUNC: grad_loss for loss, with loss's parameters), the helpers of
adcompile.runtime it calls (copied from their source), the pullbacks of the
file's own functions that FUNC calls, the numbers and arrays it reads, an
__all__, and a docstring that says what it was generated from and how to
generate it again. Import it, or paste it into your code; adcompile is not
needed to run it. It checks its arguments: code generated without a call is
for arrays and numbers (export a gradient of list, tuple or dict arguments
from Python after a call with them), code for --shapes for those shapes.

The file is read, never run, as by show (--wrt, --shapes and --mode are show's);
when FUNC needs something only running the file defines, export it from Python
instead: adcompile.grad(loss, wrt=(0, 1)).export() returns the same text.

Without -o the module is printed.

examples:
  adcompile export examples/seed_network.py:loss --wrt W1,b1,W2,b2 -o grad_loss.py
  adcompile export model.py:loss --mode value_and_grad -o model_grad.py
"""

RULES_HELP = """\
Print the language reference: the Python statements and values adcompile
accepts, the operators, every function with an adjoint rule and the rule
itself, the functions without a derivative, array methods and attributes,
builtins, and the constructs that are refused, with what to write instead.

It is generated from the compiler's own tables, so it describes exactly the
installed version. docs/language.md is its Markdown form:

  adcompile rules --format markdown > docs/language.md
"""

CHECK_HELP = """\
Compare the compiled gradient of FUNC, defined at the top level of FILE.py,
with central finite differences, on random float64 inputs of the shapes given
by --args. Prints a table of relative errors, one row per differentiated
argument, and exits with status 0 when every error is at most --tol, 1 when one
is not, and 2 on an error (a file or a function that cannot be read or
differentiated, bad --args, or the function failing on the inputs).

Unlike show, this command IMPORTS FILE.py: its top-level code RUNS (as with
`import`; an `if __name__ == "__main__":` block does not), so that FUNC can use
anything the file defines or imports.

--args gives every parameter without a default, separated by commas:
  W=8x4        a float64 array of shape (8, 4), standard normal
  c=()         a 0-d float64 array
  s=float      a Python float, standard normal
  x=8x4:positive, s=float:positive
               uniform in [0.5, 2] instead (for np.log, np.sqrt, ...)
  n=int:3      the integer 3 (not differentiated)
Parameters with a default that --args does not name keep their default.

--wrt takes parameter names or positions, as for show; without it, every
float argument is differentiated. --seed picks the random inputs (default 0).

The relative error of an argument is max|g - fd| / max(max|g|, max|fd|, 1e-8),
where g is the compiled gradient and fd the finite differences with step --eps;
values around 1e-7 or less mean agreement. Finite differences call FUNC twice
per element of each differentiated argument, so keep the shapes small.

examples:
  adcompile check examples/seed_network.py:loss --wrt W1,b1,W2,b2 \\
      --args W1=8x4,b1=8x1,W2=1x8,b2=1x1,x=4x16,y=1x16
  adcompile check model.py:loss --args W=3x2,b=3x1,x=2x5,steps=int:4 --seed 1
"""


# what `show --mode` and `export --mode` can generate: reverse-mode gradients, then
# forward-mode products (each a mode that api.build_static dispatches on)
SHOW_MODES = ("grad", "value_and_grad", "vjp", "jvp", "hvp")
EXPORT_MODES = SHOW_MODES[:-1]  # (an hvp is printed, not exported)


def _command(sub, name: str, help: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _generating(
    command: argparse.ArgumentParser, verb: str, modes: tuple[str, ...], mode_help: str
) -> None:
    """The options of the commands that generate code (show, export): the function,
    what to differentiate with respect to, the shapes to specialise to, the mode."""
    command.add_argument("target", metavar="FILE.py:FUNC", help="the file and the function in it")
    command.add_argument(
        "--wrt",
        metavar="NAMES",
        help="comma-separated parameter names or positions to differentiate with respect to "
        "(default: all parameters)",
    )
    command.add_argument(
        "--shapes",
        metavar="SPEC",
        help=f"every parameter's shape, e.g. W=8x4,b=8x1,s=float: {verb} the code "
        "specialised to them",
    )
    command.add_argument("--mode", choices=modes, default="grad", help=mode_help)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adcompile",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    show = _command(
        sub, "show", "print the generated gradient code of a function in a file", SHOW_HELP
    )
    _generating(
        show,
        "print",
        SHOW_MODES,
        "which derivative to generate: reverse mode (grad, value_and_grad, vjp), "
        "forward mode (jvp) or the Hessian-vector product, forward over reverse (hvp); "
        "default: grad",
    )
    show.add_argument(
        "--backend",
        choices=("numpy", "numba"),
        default="numpy",
        help="numba: print the code the numba backend compiles (grad, value_and_grad, vjp); "
        "default: numpy",
    )
    show.add_argument(
        "--side-by-side",
        action="store_true",
        help="print the function's lines and the generated code next to each other",
    )
    show.add_argument(
        "--checkpoint",
        metavar="sqrt|N",
        type=_checkpoint,
        help="checkpoint loops: keep about √T snapshots of a loop's carried state (sqrt), "
        "or at most N placed by binomial checkpointing (revolve), and recompute from them "
        "in the reverse sweep",
    )
    show.add_argument(
        "--memory",
        action="store_true",
        help="with --shapes: print what the reverse sweep keeps (per line, name, shape, "
        "dtype, bytes; per iteration for loops) instead of the code",
    )
    export = _command(
        sub, "export", "write the generated gradient as a module that needs only numpy", EXPORT_HELP
    )
    _generating(
        export,
        "export",
        EXPORT_MODES,
        "which derivative to generate (default: grad; jvp for forward mode)",
    )
    export.add_argument(
        "-o", "--output", metavar="OUT.py", help="the file to write (default: print the module)"
    )
    rules = _command(
        sub, "rules", "print the language reference, generated from the rule registry", RULES_HELP
    )
    rules.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="plain text (default) or Markdown (the source of docs/language.md)",
    )
    check = _command(
        sub,
        "check",
        "compare a function's compiled gradient with finite differences "
        "(imports the file: its top-level code runs)",
        CHECK_HELP,
    )
    check.add_argument("target", metavar="FILE.py:FUNC", help="the file and the function in it")
    check.add_argument(
        "--args",
        metavar="SPEC",
        required=True,
        help="the inputs' shapes, e.g. W=8x4,b=8x1,s=float,n=int:3",
    )
    check.add_argument(
        "--wrt",
        metavar="NAMES",
        help="comma-separated parameter names or positions to check "
        "(default: every float argument)",
    )
    check.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    check.add_argument(
        "--tol",
        type=float,
        default=1e-6,
        help="largest relative error that passes (default: 1e-6)",
    )
    check.add_argument(
        "--eps",
        type=float,
        default=1e-6,
        help="step of the central finite differences (default: 1e-6)",
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


def _checkpoint(text: str) -> str | int:
    """--checkpoint's value: "sqrt" or a positive int."""
    if text == "sqrt":
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected sqrt or a positive integer, not {text!r}")


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
        if args.command == "rules":
            return _rules(args)
        if args.command == "check":
            return _check(args)
        if args.command == "export":
            return _export(args)
        _show(args)
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


# -------------------------------------------------------------------- show


def _show(args) -> None:
    from .show import show_side_by_side, show_source
    from .static import compile_static

    path, func = _split_target(args.target)
    shapes = parse_shapes(args.shapes) if args.shapes else None
    if args.memory:
        _memory(args, path, func, shapes)
        return
    if args.backend == "numba":
        source = _numba_source(args, path, func, shapes)
    else:
        source = compile_static(
            path, func, _parse_wrt(args.wrt), args.mode, shapes, checkpoint=args.checkpoint
        )
    if args.side_by_side:
        # compile_static has read the file: it exists and is Python source
        with tokenize.open(path) as file:
            lines = file.read().splitlines()
        show_side_by_side(source, lines, titles=(path, f"generated {args.mode}"))
    else:
        show_source(source)
    sys.stdout.flush()


def _numba_source(args, path: str, func: str, shapes: dict | None) -> str:
    """The module the numba backend compiles for FUNC (translating needs no numba)."""
    from .jit import module_of
    from .static import build_static

    if args.mode not in ("grad", "value_and_grad", "vjp") or args.checkpoint is not None:
        raise AdCompileError(
            f"--backend numba compiles grad, value_and_grad and vjp, without --checkpoint "
            f"(this is --mode {args.mode})",
            hint="leave out --backend numba, or use one of those modes",
        )
    src, _, gen, names = build_static(path, func, _parse_wrt(args.wrt), args.mode, shapes)
    gen.source_file = src.filename
    return module_of(gen, f"{args.mode} of {func} wrt {', '.join(names)}").text


def _memory(args, path: str, func: str, shapes: dict | None) -> None:
    from .show import make_console
    from .static import static_memory_report

    if shapes is None or args.mode not in ("grad", "value_and_grad") or args.side_by_side:
        raise AdCompileError(
            "--memory needs --shapes, and a grad or value_and_grad",
            hint="give every parameter's shape, e.g. --shapes W=8x4,b=8x1,x=4x16 "
            "(the values are random: what is kept depends on shapes only)",
        )
    report = static_memory_report(
        path, func, _parse_wrt(args.wrt), args.mode, shapes, checkpoint=args.checkpoint
    )
    report.show(console=make_console())


# ------------------------------------------------------------------ export


def _export(args) -> int:
    from .desugar.signature import parameter_names
    from .export import export_module, generated_namespaces
    from .static import build_static, default_kinds

    path, func = _split_target(args.target)
    shapes = parse_shapes(args.shapes) if args.shapes else None
    src, source, gen, names = build_static(path, func, _parse_wrt(args.wrt), args.mode, shapes)
    params = parameter_names(src.node.args)
    sig = tuple(shapes[p] for p in params) if shapes else None
    kinds = default_kinds(src, params)
    text = export_module(src, source, generated_namespaces(gen), names, args.mode, sig, kinds=kinds)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise AdCompileError(
                f"cannot write {args.output}: {exc.strerror or exc}",
                hint="give -o a path in a directory you can write to",
            ) from exc
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


# ------------------------------------------------------------------- rules


def _rules(args) -> int:
    from .reference import language_reference

    sys.stdout.write(language_reference(args.format))
    sys.stdout.flush()
    return 0


# ------------------------------------------------------------------- check


def parse_args_spec(text: str) -> dict[str, tuple]:
    """``W=8x4,s=float,x=3:positive,n=int:3`` as {name: (kind, shape or value, positive)}.

    kind is "array" (with a shape tuple), "float", or "int" (with its value)."""
    spec: dict[str, tuple] = {}
    for item in text.split(","):
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not name.isidentifier():
            raise AdCompileError(
                f"bad --args item {item.strip()!r}: expected NAME=SHAPE",
                hint="for example W=8x4,b=8x1,s=float,n=int:3",
            )
        if name in spec:
            raise AdCompileError(f"--args names {name!r} twice", hint="give each parameter once")
        kind, _, option = value.partition(":")
        if kind == "int":
            if not re.fullmatch(r"-?[0-9]+", option):
                raise AdCompileError(
                    f"bad integer {value!r} for {name}", hint="write an integer as n=int:3"
                )
            spec[name] = ("int", int(option), False)
            continue
        if option not in ("", "positive"):
            raise AdCompileError(
                f"bad option {option!r} for {name}",
                hint="the one option is :positive, e.g. x=8x4:positive",
            )
        shape = parse_shapes(f"{name}={kind}")[name]
        spec[name] = (
            ("float", None, option == "positive")
            if shape is float
            else (
                "array",
                shape,
                option == "positive",
            )
        )
    return spec


def _import_function(path: str, func: str):
    """Import ``path`` as a module (running its top level) and return ``func``."""
    import importlib.util

    from . import frontend

    frontend.from_file(path, func)  # the same located errors as show, before running anything
    module_name = re.sub(r"\W", "_", Path(path).stem) or "module"
    if not module_name.isidentifier():
        module_name = "_" + module_name
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    directory = str(Path(path).resolve().parent)
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)  # as running the file would: its neighbours import
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
        raise AdCompileError(
            f"importing {path} raised {_describe(exc)}\n{_user_traceback(exc)}",
            hint="check imports the file, which runs its top-level code; "
            "fix the error, or use show, which does not run it",
        ) from None
    finally:
        if added and directory in sys.path:
            sys.path.remove(directory)
    return getattr(module, func)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _user_traceback(exc: BaseException) -> str:
    """The frames of ``exc``'s traceback outside adcompile and importlib, as text."""
    import traceback

    here = str(Path(__file__).resolve().parent)
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(here) and "importlib" not in f.filename
    ]
    return "".join(traceback.format_list(frames)).rstrip("\n")


def _inputs(fn, spec: dict[str, tuple], seed: int) -> tuple[list[str], list, list[str]]:
    """(parameter names, argument values, the float parameters) for ``fn`` from ``spec``."""
    import inspect

    import numpy as np

    from .frontend import def_loc

    params = inspect.signature(fn).parameters
    unknown = [name for name in spec if name not in params]
    if unknown:
        raise AdCompileError(
            f"--args: {fn.__name__} has no parameter {unknown[0]!r}",
            def_loc(fn),
            hint=f"its parameters are {', '.join(params)}",
        )
    rng = np.random.default_rng(seed)
    values, floats = [], []
    for name, p in params.items():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY):
            break  # the fence reports this, with its location, when grad compiles
        if name not in spec:
            if p.default is p.empty:
                missing = [n for n, q in params.items() if n not in spec and q.default is q.empty]
                raise AdCompileError(
                    f"--args: no input for {', '.join(repr(m) for m in missing)}",
                    def_loc(fn, name),
                    hint="give every parameter without a default a value: a shape (x=3x2), "
                    "float (s=float) or an integer (n=int:3)",
                )
            values.append(p.default)
            continue
        kind, shape, positive = spec[name]
        if kind == "int":
            values.append(shape)
            continue
        size = () if kind == "float" else shape
        x = rng.uniform(0.5, 2.0, size=size) if positive else rng.standard_normal(size=size)
        values.append(float(x) if kind == "float" else np.asarray(x, dtype=np.float64))
        floats.append(name)
    return list(params)[: len(values)], values, floats


def _check(args) -> int:
    import numpy as np

    from .api import grad, resolve_wrt
    from .checking import numeric_grad

    path, func = _split_target(args.target)
    spec = parse_args_spec(args.args)
    fn = _import_function(path, func)
    params, values, floats = _inputs(fn, spec, args.seed)
    wrt = _parse_wrt(args.wrt)
    if wrt is None:
        if not floats:
            raise AdCompileError(
                f"--args gives {func} no float inputs to differentiate",
                hint="give at least one parameter a shape or float, e.g. x=3x2",
            )
        wrt = tuple(floats)
    names, single = resolve_wrt(params, wrt)
    gradient = grad(fn, wrt=tuple(names))
    with np.errstate(all="ignore"):  # a NaN or an infinity is reported below
        value = _call(fn, func, lambda: fn(*values))
    if not np.all(np.isfinite(value)):
        raise AdCompileError(
            f"{func} returned {value} at the random inputs: there is no gradient to check",
            hint="choose other inputs: another --seed, or :positive for functions such as "
            "np.log and np.sqrt (x=8x4:positive)",
        )
    grads = _call(fn, func, lambda: gradient(*values))
    rows = []
    with np.errstate(all="ignore"):
        for name, g in zip(names, grads, strict=True):
            i = params.index(name)
            fd = _call(fn, func, lambda i=i: numeric_grad(fn, values, i, args.eps))
            g = np.asarray(g, dtype=float)
            scale = max(_amax(g), _amax(fd))
            error = _amax(g - fd)
            rel = error / max(scale, 1e-8)
            shape = "float" if isinstance(values[i], float) else _shape_text(np.shape(values[i]))
            rows.append((name, shape, _amax(g), error, rel))
    failed = [r for r in rows if not r[4] <= args.tol]  # NaN fails
    header = (
        f"{path}:{func}: compiled gradient against central differences "
        f"(eps {args.eps:g}), random inputs with seed {args.seed}"
    )
    if failed:
        verdict = (
            f"FAILED: {len(failed)} of {len(rows)} gradient{'s' if len(rows) > 1 else ''} "
            f"differ{'s' if len(failed) == 1 else ''} from finite differences by more than "
            f"--tol {args.tol:g}"
        )
    else:
        worst = max(r[4] for r in rows)
        verdict = (
            f"ok: {'every gradient agrees' if len(rows) > 1 else 'the gradient agrees'} "
            f"with finite differences (largest relative error {worst:.1e} <= {args.tol:g})"
        )
    _print_check(header, rows, args.tol, verdict)
    return 1 if failed else 0


def _amax(a) -> float:
    import numpy as np

    return float(np.max(np.abs(a), initial=0.0))


def _call(fn, func: str, thunk):
    """Run ``thunk``; an exception from the user's code becomes one located message."""

    try:
        return thunk()
    except AdCompileError:
        raise
    except Exception as exc:
        where = _user_traceback(exc)
        raise AdCompileError(
            f"calling {func} with the --args inputs raised {_describe(exc)}"
            + (f"\n{where}" if where else ""),
            hint="check the shapes in --args against what the function expects",
        ) from None


def _print_check(header: str, rows: list[tuple], tol: float, verdict: str) -> None:
    from .show import make_console

    console = make_console()
    titles = ["argument", "shape", "max |gradient|", "max |error|", "relative error", ""]
    cells = [
        [
            name,
            shape,
            f"{big:.3e}",
            f"{err:.3e}",
            f"{rel:.1e}",
            "ok" if rel <= tol else "FAIL",
        ]
        for name, shape, big, err, rel in rows
    ]
    if console.is_terminal and not console.no_color:
        from rich import box
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, title=header, title_justify="left")
        for i, title in enumerate(titles):
            table.add_column(title, justify="right" if 2 <= i < len(titles) - 1 else "left")
        for row in cells:
            style = "green" if row[-1] == "ok" else "bold red"
            table.add_row(*row[:-1], f"[{style}]{row[-1]}[/]")
        console.print(table)
        console.print(verdict, style="green" if verdict.startswith("ok") else "bold red")
        return
    widths = [max(len(t), *(len(r[i]) for r in cells)) for i, t in enumerate(titles)]

    def line(values):
        parts = [
            v.rjust(w) if 2 <= i < len(titles) - 1 else v.ljust(w)  # numbers to the right
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [header, "", line(titles), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    out += ["", verdict]
    sys.stdout.write("\n".join(out) + "\n")


def _shape_text(shape: tuple) -> str:
    return "x".join(str(d) for d in shape) if shape else "()"
