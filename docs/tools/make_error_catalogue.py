"""Write docs/errors.md: every construct adcompile refuses, with the message it gives.

Each entry is a small file, ``example.py``, and the call that differentiates it;
the script runs the call and pastes the error exactly as adcompile prints it.
tests/test_error_catalogue.py checks that docs/errors.md is what this script
writes today, so the catalogue cannot drift from the messages.

    python docs/tools/make_error_catalogue.py           # rewrite docs/errors.md
    python docs/tools/make_error_catalogue.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "docs" / "errors.md"

HEADER = """\
# Error catalogue

adcompile refuses what it cannot differentiate, and says where: every refusal
is an `adcompile.AdCompileError` naming the file, line and column in your code,
showing the line, and ending with a hint of what to write instead. Nothing else
escapes from compiling a gradient: an exception of adcompile's own would be
reported as an "internal error" (a bug: please report it).

Each entry below is a file `example.py`, the call that differentiates it, and
the message that call raises, exactly as adcompile prints it today. The page is
written by `docs/tools/make_error_catalogue.py`, and `tests/test_error_catalogue.py`
fails when a message changes and the page does not; rerun the script then.
What is accepted is in the [language reference](language.md); what happens at
kinks, infinities and NaNs is in [numerics](numerics.md).

The attributes of the error carry the same facts: `filename`, `lineno`, `col`,
`line` (the source text), `reason` and `hint`.
"""

# (section, title, source of example.py after `import numpy as np`, the call)
ENTRIES: list[tuple[str, str, str, str]] = [
    # ------------------------------------------------------------------ statements
    (
        "Statements",
        "try/except",
        """
        def f(x):
            try:
                y = np.log(x)
            except ValueError:
                y = x
            return np.sum(y)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "a with block other than np.errstate",
        """
        import threading

        LOCK = threading.Lock()


        def f(x):
            with LOCK:
                y = np.log(x)
            return np.sum(y)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "yield (a generator)",
        """
        def f(x):
            yield np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "global",
        """
        TOTAL = 0.0


        def f(x):
            global TOTAL
            return np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "nonlocal",
        """
        def make():
            scale = 2.0

            def f(x):
                nonlocal scale
                return np.sum(x * scale)

            return f


        f = make()
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "a class definition",
        """
        def f(x):
            class Box:
                pass

            return np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "a function defined inside the function, used as a value",
        """
        def f(x):
            def square(t):
                return t * t

            return np.sum(np.apply_along_axis(square, 0, x))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "an async function",
        """
        async def f(x):
            return np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "del",
        """
        def f(x):
            y = x * 2.0
            del x
            return np.sum(y)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "return inside a with block",
        """
        def f(x):
            with np.errstate(all="ignore"):
                return np.sum(np.log(x))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "a bare raise",
        """
        def f(x):
            if np.sum(x) < 0.0:
                raise
            return np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "import",
        """
        def f(x):
            import math

            return np.sum(x) * math.pi
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "the value of print()",
        """
        def f(x):
            y = print(x)
            return np.sum(x) + y
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "match",
        """
        def f(x):
            match x.ndim:
                case 1:
                    y = x
                case _:
                    y = x * 2.0
            return np.sum(y)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "a loop with an else clause",
        """
        def f(x):
            s = 0.0
            for i in range(3):
                s = s + np.sum(x * i)
            else:
                s = s * 2.0
            return s
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "return inside a loop",
        """
        def f(x):
            for i in range(3):
                if np.sum(x) > i:
                    return np.sum(x * i)
            return np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "an annotated assignment",
        """
        def f(x):
            y: float = np.sum(x)
            return y
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "assigning into an element of an element",
        """
        def f(x):
            y = np.outer(x, x)
            y[0][1] = 0.0
            return np.sum(y)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "assigning into an element of an argument",
        """
        def f(x):
            x[0] = 0.0
            return np.sum(x * x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "assigning into an array a view of it still sees",
        """
        def f(x):
            y = x * 2.0
            head = y[:2]
            y[0] = 1.0
            return np.sum(y) + np.sum(head)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "assigning into an element of a global",
        """
        W = np.ones(3)


        def f(x):
            W[0] = 2.0
            return np.sum(W * x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "assigning into an element of a list",
        """
        def f(x):
            ys = [x, x * 2.0]
            ys[0] = x * 3.0
            return np.sum(ys[0])
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "an expression statement",
        """
        def f(x):
            x * 2.0
            return np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "no return on some path",
        """
        def f(x):
            if np.sum(x) > 0.0:
                return np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "return without a value",
        """
        def f(x):
            y = np.sum(x)
            return
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "an in-place update of shared memory",
        """
        def f(x):
            h = x
            h += 1.0
            return np.sum(h * x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "an in-place update of a read-only view",
        """
        def f(x):
            v = np.broadcast_to(x, (2, 3))
            v += 1.0
            return np.sum(v)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "an element assignment into a grid of np.meshgrid",
        """
        def f(x):
            X, Y = np.meshgrid(x, x)
            X[0, 0] = 1.0
            return np.sum(X * Y)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "an in-place update of a list's element",
        """
        def f(x, ws):
            acc = ws[0]
            for w in ws[1:]:
                acc += w * x
            return np.sum(acc) + np.sum(ws[0])
        """,
        "ad.grad(f)(x, [x, x])",
    ),
    (
        "Statements",
        "an in-place update of a helper's parameter",
        """
        def scale(v, s):
            v *= s
            return v


        def f(x):
            h = np.tanh(x)
            return np.sum(scale(h, 2.0) * h)
        """,
        "ad.grad(f)(x)",
    ),
    # ----------------------------------------------------------------- expressions
    (
        "Statements",
        "append to a list another name reads",
        """
        def f(x):
            xs = [x]
            ys = xs
            ys.append(x * 3.0)
            return np.sum(sum(xs))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "append to a list held in another",
        """
        def f(x):
            inner = [x]
            outer = [inner]
            inner.append(x * 2.0)
            return np.sum(sum(outer[0]))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "append to a list argument",
        """
        def f(xs, x):
            xs.append(x)
            return np.sum(sum(xs))
        """,
        "ad.grad(f, wrt=1)([x], x)",
    ),
    (
        "Statements",
        "append to a helper's parameter",
        """
        def record(out, v):
            out.append(v)
            return v * 2.0


        def f(x):
            xs = [x]
            t = record(xs, x * 3.0)
            return np.sum(sum(xs) + t)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "append to a mutable default",
        """
        def f(x, acc=[]):
            acc.append(x)
            return np.sum(sum(acc))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "append to a global list",
        """
        HISTORY = []


        def f(x):
            HISTORY.append(x)
            return np.sum(x * x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "append to the list a loop iterates over",
        """
        def f(x):
            xs = [x]
            for v in xs:
                if len(xs) > 3:
                    break
                xs.append(v * 2.0)
            return np.sum(sum(xs))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "append to an element of a container",
        """
        def f(x):
            rows = [[x]]
            rows[0].append(x * 2.0)
            return np.sum(sum(rows[0]))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "a method that changes a list in place",
        """
        def f(x):
            xs = [x]
            xs.extend([x * 2.0])
            return np.sum(sum(xs))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Statements",
        "a list of differently structured elements",
        """
        def f(x):
            xs = [x]
            xs.append((x, x))
            return np.sum(xs[0])
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a lambda used as a value",
        """
        def f(x):
            return np.sum(np.apply_along_axis(lambda t: t * 2.0, 0, x))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "an assignment expression (:=)",
        """
        def f(x):
            if (s := np.sum(x)) > 0.0:
                return s
            return -s
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a list comprehension Python evaluates only sometimes",
        """
        def f(x):
            y = x if np.sum(x) > 0.0 else np.array([t * 2.0 for t in x])
            return np.sum(y)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a generator expression numpy would consume",
        """
        def f(x):
            return np.sum(np.stack(t * t for t in x))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a dict comprehension over keys not known when compiling",
        """
        def f(x):
            parts = {i: t for i, t in enumerate(x)}
            return np.sum(x) * len(parts)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "an f-string",
        """
        def f(x):
            label = f"{np.sum(x):.3f}"
            return np.sum(x) * len(label)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a set literal",
        """
        def f(x):
            axes = {0}
            return np.sum(x) * len(axes)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a dict whose key is computed when the function runs",
        """
        def f(x, name):
            params = {name: x}
            return np.sum(params[name])
        """,
        'ad.grad(f)(x, "w")',
    ),
    (
        "Expressions",
        "star-unpacking in a call",
        """
        def f(x):
            pair = (x, x)
            return np.sum(np.multiply(*pair))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a module used as a value",
        """
        def f(x):
            lib = np
            return np.sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a function used as a number",
        """
        def f(x):
            activation = np.tanh
            return np.sum(x * activation)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "an unsupported attribute",
        """
        def f(x):
            return np.sum(x.flat)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "an unsupported method",
        """
        def f(x):
            return np.sum(x.round(2))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "an unsupported keyword",
        """
        def f(x):
            return np.std(x, where=x > 0.5)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a ufunc method without a rule",
        """
        def f(x):
            return np.subtract.reduce(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a ufunc's at other than np.add.at",
        """
        def f(x):
            y = x * 2.0
            np.multiply.at(y, [0, 0], 3.0)
            return np.sum(y)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "sum() of an array",
        """
        def f(x):
            return sum(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a name that is not defined",
        """
        def f(x):
            return np.sum(x * scale)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "sorted() of differentiable values",
        """
        def f(params):
            s = 0.0
            for i, v in enumerate(sorted(params.values(), key=lambda t: t[0])):
                s = s + i * np.sum(v)
            return s
        """,
        "ad.grad(f)({'W': x, 'b': x[::-1]})",
    ),
    (
        "Expressions",
        "d.get() with a key known only when the function runs",
        """
        def f(params, names):
            s = 0.0
            for k in names:
                s = s + np.sum(params.get(k, 0.0))
            return s
        """,
        "ad.grad(f)({'W': x}, [0, 1])",
    ),
    (
        "Expressions",
        "a slice object chosen when the code runs",
        """
        def f(x):
            s = slice(0, 2) if x[0] > 0 else slice(1, 3)
            return np.sum(x[s])
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Expressions",
        "a function chosen when the code runs, put into a list",
        """
        def f(x):
            kept = []
            for act in (np.tanh, np.sin):
                kept.append(act)
            first = kept[0]
            return np.sum(first(x))
        """,
        "ad.grad(f)(x)",
    ),
    # ------------------------------------------------------------------ parameters
    (
        "Parameters",
        "*xs of a list bound to parameters one by one",
        """
        def scaled(a, b):
            return a * b

        def f(x, xs):
            return np.sum(scaled(*xs))
        """,
        "ad.grad(f)(x, [x, x])",
    ),
    (
        "Parameters",
        "a call Python would refuse",
        """
        def scaled(a, *, b):
            return a * b

        def f(x):
            return np.sum(scaled(x, 2.0))
        """,
        "ad.grad(f)(x)",
    ),
    # ---------------------------------------------------------------------- calls
    (
        "Functions without an adjoint rule",
        "a numpy function with no rule",
        """
        def f(x):
            return np.sum(np.unwrap(x * x))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "a numpy submodule function",
        """
        def f(x):
            m = np.outer(x, x) + np.eye(3)
            return np.sum(np.linalg.vecdot(m, m))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "a transform of a Hermitian signal",
        """
        def f(x):
            return np.sum(np.fft.hfft(x))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "a library function written in Python",
        """
        import statistics


        def f(x):
            # a function of the standard library or of an installed package (scipy...)
            # is a primitive: adcompile does not read its source as if it were yours
            return statistics.fmean(x * x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "odeint with a Jacobian function (Dfun)",
        """
        from scipy.integrate import odeint


        def decay(y, t, k):
            return -k * y


        def jacobian(y, t, k):
            return -k * np.eye(len(y))


        def f(x):
            ys = odeint(decay, x, np.linspace(0.0, 1.0, 5), args=(0.5,), Dfun=jacobian)
            return np.sum(ys)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "a builtin",
        """
        def f(x):
            return np.sum(eval("x * x"))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "a wrapped function (functools.lru_cache)",
        """
        import functools


        @functools.lru_cache
        def double(t):
            return t * 2.0


        def f(x):
            return np.sum(double(x))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "a call that names no function",
        """
        def f(x):
            return getattr(np, "sum")(x * x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "calling a function chosen when the function runs",
        """
        def f(x, name):
            return np.sum(getattr(np, name)(x))
        """,
        "ad.grad(f)(x, 'tanh')",
    ),
    (
        "Functions without an adjoint rule",
        "zip() outside a for loop",
        """
        def f(x):
            return np.sum(np.stack(zip(x, x)))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "an array method numpy has no function for",
        """
        def f(x):
            return np.sum(np.asarray(x.tolist()) ** 2)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Functions without an adjoint rule",
        "a dict where an array is needed",
        """
        def f(params):
            return np.sum(np.tanh(params))
        """,
        "ad.grad(f)({'W': x, 'b': x})",
    ),
    # ------------------------------------------------------- arguments and results
    (
        "Arguments and results",
        "a list of lists where numpy takes a list of arrays",
        """
        def f(x):
            m = np.array([[x[0], x[1]], [x[1], x[2]]])
            return np.sum(m @ m)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Arguments and results",
        "a dtype that is not spelled out",
        """
        def f(x, kind):
            return np.sum(x.astype(kind))
        """,
        "ad.grad(f)(x, 1.0)",
    ),
    (
        "Arguments and results",
        "a gradient with respect to an integer",
        """
        def f(x, n):
            return np.sum(x ** n)
        """,
        "ad.grad(f, wrt=1)(x, 3)",
    ),
    (
        "Arguments and results",
        "a gradient with respect to a list of integers",
        """
        def f(x, ws):
            return np.sum(x * ws[0])
        """,
        "ad.grad(f, wrt=1)(x, [1, 2])",
    ),
    (
        "Arguments and results",
        "one array for two parameters, one updated in place",
        """
        def f(x, y):
            x += y
            return np.sum(x * y)
        """,
        "ad.grad(f)(x, x)",
    ),
    (
        "Arguments and results",
        "a gradient of a non-scalar result",
        """
        def f(x):
            return np.tanh(x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Arguments and results",
        "a gradient of a tuple",
        """
        def f(x):
            return np.sum(x), np.sum(x * x)
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Arguments and results",
        "a result that is not a number",
        """
        def f(x):
            return "done"
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Arguments and results",
        "wrt names no parameter",
        """
        def f(x, y):
            return np.sum(x * y)
        """,
        "ad.grad(f, wrt='z')(x, x)",
    ),
    (
        "Arguments and results",
        "wrt out of range",
        """
        def f(x, y):
            return np.sum(x * y)
        """,
        "ad.grad(f, wrt=2)(x, x)",
    ),
    (
        "Arguments and results",
        "wrt names a parameter twice",
        """
        def f(x, y):
            return np.sum(x * y)
        """,
        "ad.grad(f, wrt=(0, 'x'))(x, x)",
    ),
    (
        "Arguments and results",
        "wrt counts from the end of *args",
        """
        def f(w, *args):
            return np.sum(w * args[0]) + np.sum(args[-1] ** 2)
        """,
        "ad.grad(f, wrt='args[-1]')(x, x, x)",
    ),
    (
        "Arguments and results",
        "wrt names a position the call does not fill",
        """
        def f(w, *args):
            return np.sum(w * args[0])
        """,
        "ad.grad(f, wrt='args[1]')(x, x)",
    ),
    (
        "Arguments and results",
        "the Hessian with respect to an argument inside *args",
        """
        def f(w, *args):
            return np.sum(w * args[0] ** 2)
        """,
        "ad.hessian(f, wrt='args[0]')(x, x)",
    ),
    (
        "Arguments and results",
        "returning a function",
        """
        def f(x, flag):
            act = np.tanh if flag else np.sin
            return act
        """,
        "ad.grad(f)(x, True)",
    ),
    # -------------------------------------------------------- what is differentiated
    (
        "What can be differentiated",
        "not a Python function",
        """
        """,
        "ad.grad(np.tanh)(x)",
    ),
    (
        "What can be differentiated",
        "a method bound to a class (a classmethod)",
        """
        class Model:
            @classmethod
            def loss(cls, x):
                return np.sum(x * x)
        """,
        "ad.grad(Model.loss)(x)",
    ),
    (
        "What can be differentiated",
        "a property of self",
        """
        class Model:
            def __init__(self):
                self.w = 2.0

            @property
            def twice(self):
                return 2 * self.w

            def loss(self, x):
                return np.sum(x * self.twice)
        """,
        "ad.grad(Model().loss)(x)",
    ),
    (
        "What can be differentiated",
        "the gradient with respect to self",
        """
        class Model:
            def loss(self, x):
                return np.sum(x * x)
        """,
        "ad.grad(Model.loss)(Model(), x)",
    ),
    (
        "What can be differentiated",
        "unpacking a dataclass",
        """
        import dataclasses

        @dataclasses.dataclass
        class Params:
            W: np.ndarray
            b: np.ndarray

        def f(p, x):
            W, b = p
            return np.sum(W * x + b)
        """,
        "ad.grad(f)(Params(x, x), x)",
    ),
    (
        "What can be differentiated",
        "a random draw whose arguments are differentiated",
        """
        def f(mu, rng):
            return np.sum(rng.normal(mu, 1.0))
        """,
        "ad.grad(f)(x, np.random.default_rng(0))",
    ),
    (
        "What can be differentiated",
        "shuffling an array in place",
        """
        def f(x, rs):
            y = x * 2.0
            rs.shuffle(y)
            return np.sum(y * x)
        """,
        "ad.grad(f)(x, np.random.RandomState(0))",
    ),
    (
        "What can be differentiated",
        "random draws in a checkpointed loop",
        """
        def f(x, rs):
            for _ in range(4):
                x = np.tanh(x) + 0.1 * rs.randn(*x.shape)
            return np.sum(x)
        """,
        "ad.grad(f, checkpoint='sqrt')(x, np.random.RandomState(0))",
    ),
    (
        "What can be differentiated",
        "a lambda",
        """
        f = lambda x: np.sum(x * x)  # noqa: E731
        """,
        "ad.grad(f)(x)",
    ),
    (
        "What can be differentiated",
        "a function without source (exec, a REPL)",
        """
        namespace = {"np": np}
        exec("def f(x):\\n    return np.sum(x * x)\\n", namespace)
        f = namespace["f"]
        """,
        "ad.grad(f)(x)",
    ),
    (
        "What can be differentiated",
        "a derivative of a vjp",
        """
        def f(x):
            return np.sum(x * x)
        """,
        "ad.grad(ad.vjp(f))(x, 1.0)",
    ),
    (
        "What can be differentiated",
        "the gradient of the gradient of a function of an array",
        """
        def f(x):
            return np.sum(x * x)
        """,
        "ad.grad(ad.grad(f))(x)",
    ),
    # ---------------------------------------------------------------- adjoint rules
    (
        "Adjoint rules",
        "a rule with try/except",
        """
        def double(t):
            return 2.0 * t


        def double_adjoint(dy, y, t):
            try:
                return dy * 2.0
            except ValueError:
                return dy
        """,
        "ad.adjoint(double)(double_adjoint)",
    ),
    (
        "Adjoint rules",
        "a contribution on only some paths",
        """
        def scaled(t, s):
            return t * s


        def scaled_adjoint(dy, y, t, s):
            if np.ndim(t) == 0:
                return dy * s, None
            return dy * s, np.sum(dy * t)
        """,
        "ad.adjoint(scaled)(scaled_adjoint)",
    ),
    # ------------------------------------------------------------------ forward mode
    (
        "Forward mode",
        "a function with an adjoint but no tangent rule",
        """
        def softplus(t):
            return np.log1p(np.exp(t))


        @ad.adjoint(softplus, shape="unary elementwise")
        def softplus_adjoint(dy, y, t):
            return dy / (1 + np.exp(-t))


        def f(x):
            return np.sum(softplus(x))
        """,
        "ad.jvp(f)(x, x)",
    ),
    (
        "Forward mode",
        "odeint (differentiated in reverse mode only)",
        """
        from scipy.integrate import odeint


        def decay(y, t, k):
            return -k * y


        def f(x):
            return np.sum(odeint(decay, x, np.linspace(0.0, 1.0, 5), args=(0.5,)))
        """,
        "ad.jvp(f)(x, x)",
    ),
    (
        "Forward mode",
        "a tangent of another shape than its argument",
        """
        def f(x):
            return np.sum(np.tanh(x))
        """,
        "ad.jvp(f)(x, np.ones(2))",
    ),
    (
        "Complex values",
        "a complex value where no rule takes one",
        """
        def f(x):
            z = np.fft.fft(x)
            return np.sum(np.abs(np.maximum(z, 0.0)))
        """,
        "ad.grad(f)(x)",
    ),
    (
        "Complex values",
        "a complex argument",
        """
        def f(x, k):
            return np.sum(np.abs(x * k))
        """,
        "ad.grad(f)(x, np.exp(1j * x))",
    ),
]


def message(source: str, call: str, directory: Path, index: int) -> str:
    """What ``call`` raises for ``example.py`` holding ``source``."""
    import numpy as np

    import adcompile as ad

    folder = directory / f"entry{index}"
    folder.mkdir()
    path = folder / "example.py"
    path.write_text(module_text(source))
    spec = importlib.util.spec_from_file_location("example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    namespace = {**vars(module), "ad": ad, "np": np, "x": np.array([0.5, 1.0, 1.5])}
    here = os.getcwd()
    os.chdir(folder)  # messages name the file relative to the working directory
    try:
        eval(call, namespace)
    except ad.AdCompileError as err:
        text = str(err)
    else:
        raise AssertionError(f"{call} did not raise for\n{source}")
    finally:
        os.chdir(here)
    if "internal error" in text:
        raise AssertionError(f"an internal error for\n{source}\n{text}")
    return text


def module_text(source: str) -> str:
    body = textwrap.dedent(source).strip("\n")
    return "import numpy as np\n\nimport adcompile as ad\n\n\n" + body + "\n"


def render() -> str:
    parts = [HEADER]
    section = None
    with tempfile.TemporaryDirectory() as tmp:
        for i, (where, title, source, call) in enumerate(ENTRIES):
            if where != section:
                parts.append(f"\n## {where}\n")
                section = where
            text = message(source, call, Path(tmp), i)
            parts.append(
                f"\n### {title}\n\n"
                f"`example.py`:\n\n```python\n{module_text(source)}```\n\n"
                f"```text\n>>> {call}\n{text}\n```\n"
            )
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python {Path(__file__).relative_to(ROOT)}")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(ENTRIES)} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
