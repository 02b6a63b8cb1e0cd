"""The prose of the language reference (``reference.py`` builds the page): what
the accepted functions, statements and values are, in words, kept apart from the
tables the page reads off the compiler."""

from __future__ import annotations

FUNCTIONS_TEXT = [
    "The function is a plain `def` in a `.py` file (adcompile reads its source). "
    "Its parameters, and those of the functions it calls, may be of every kind: "
    "defaults, `*args` (a tuple), keyword-only parameters, `**kwargs` (a dict), "
    "positional-only markers; `wrt` names any of them (the gradient of `*args` is a "
    "tuple, of `**kwargs` a dict), and `wrt='args[1]'` names one argument inside "
    "`*args`: only it is differentiated, and its gradient comes back in its entry's "
    "place (in `grad`, `value_and_grad`, `vjp` and `jvp`; `hvp`, `hessian` and "
    "`.export()` take whole parameters). A call passes `*xs` of a tuple, `**d` of a dict "
    "whose keys are known (a dict display, `dict(a=...)`, an argument), and keywords "
    "to `**kwargs`; Python's binding errors (a missing or repeated argument) are "
    "refused at the call.",
    "Functions are values: a parameter may hold a function (`def mlp(params, x, "
    "nonlinearity=np.tanh)`, a helper passed as an argument or a default, a "
    "`functools.partial` of one), and calling it calls that function: code is "
    "compiled for each function passed, as for each structure of containers. A "
    "`functools.partial(helper, k=2.0)` made inside the function is the calls of "
    "`helper` it stands for, with the values its arguments had when it was made. A "
    "function chosen by a condition (`act = np.tanh if flag else np.sin`, or "
    "assigned in the branches of an `if`) is called as an `if` on that condition "
    "with each function called in its branch, also when it is passed to a helper. "
    "The command line compiles for a function-valued parameter's default "
    "(`adcompile show FILE.py:mlp`). A function returned as the result is refused, "
    "and so is `.export()` of code compiled for a function passed as an argument "
    "(the exported module could not check which function a call passes).",
    "`map(f, xs)` (several iterables: zipped) consumed whole by `sum`, `list` and "
    "the like is the generator expression `(f(x) for x in xs)`, with `f` a "
    "function, a `lambda`, or a `functools.partial` made in the call whose "
    "arguments are names or constants. `isinstance(x, list)` (or `tuple`, `dict`) "
    "of a variable whose structure the code is compiled for is known when "
    "compiling, and only the branch Python takes is compiled (`if isinstance(data, "
    "list): return sum(map(f, data))`). `np.meshgrid(x, y, ..., indexing=..., "
    "sparse=...)` is the broadcasts it makes, differentiated through them.",
    "Tuples concatenate (`shape + (1,)`, `(a, b) + rest`, `args + (x,)`), a list "
    "extended with a list display is a new list (`ys = xs + [a, b]`), dicts are "
    "built with constant keys (`{'W': W, 'b': b}`, `dict(W=W, b=b)`) and joined "
    "with `|` (`p | {'c': c}`, Python's order of keys), and `range(...)` values index "
    "arrays (`x[range(2)]`).",
    "`grad` and `value_and_grad` need a scalar result (a float or a 0-d array); "
    "`vjp` takes any result and the cotangent of it.",
    "Calls to your own functions (in the same module or imported), with positional, "
    "keyword and default arguments, returning one value or a tuple, are "
    "differentiated through the callee's own generated pair `fwd_f`/`bwd_f` (its "
    "pullback), compiled once; recursion works. See [control flow](control-flow.md). "
    "`scipy.integrate.odeint(f, y0, t, args=(...))` of your own `f(y, t, *args)` is "
    "differentiated in `y0`, `t` and `args` by the adjoint method: the adjoint "
    "equations are solved backwards in time with odeint and the same `rtol`, `atol` "
    "and options, their right-hand side calling `f`'s pair (reverse mode only; "
    "`Dfun`, `ml`, `mu`, `tcrit` and `full_output` are refused there, see "
    "[scipy](scipy.md#an-ode-solve-odeint)).",
    "Module-level numbers and arrays, and closures over them, are constants. "
    "Rebinding a name the function or a function it calls reads (a helper, a global "
    "holding a numpy function, a number, an array, a module, an attribute of your own "
    "module, a closure variable) recompiles on the next call.",
    "Methods: `grad(model.loss, wrt='W')` of a method bound to an instance of your "
    "own class, `grad(Model.loss, wrt='W')(model, ...)` with the instance passed "
    "first, and `@grad` on a method in the class body (read from an instance, it "
    "is bound to it). `self`'s attributes (numbers, arrays, strings, lists) are "
    "constants, read when the code is compiled; rebinding one the function read "
    "recompiles, as for globals; `self.forward(x)`, `self._act(z)` are helpers "
    "with `self` bound. A property, or any attribute computed when read, is "
    "refused; `self` itself is never differentiated.",
    "Random draws: the methods of `np.random.RandomState` and `np.random.Generator` "
    "(`rs.randn(*mu.shape)`, `rng.normal(size=n)`), numpy.random's functions "
    "(`np.random.uniform(...)`, `np.random.seed(0)`), generators made inside "
    "(`np.random.default_rng(0)`), and Python's `random` module alike "
    "(`random.gauss(0, 1)`, `random.random()`, `from random import gauss`, the "
    "methods of a `random.Random(seed)`) run where the function runs them, once per call, "
    "in order, in the forward sweep; the reverse sweep reads the same sample. A "
    "sample is a constant of the derivative, so `mu + np.exp(log_sigma) * eps` "
    "(the reparameterisation trick) differentiates through `mu` and `log_sigma`, "
    "and a dropout mask multiplies the gradient as it does the value. A draw "
    "whose own arguments depend on a differentiated input "
    "(`rng.normal(mu, 1.0)`), `shuffle` and `out=` (they write into an array or a "
    "list) and "
    "draws in a checkpointed loop (its reverse recomputes them) are refused.",
]

STATEMENTS_TEXT = [
    "assignment to a name, tuple unpacking (`W, b = params[0]`; a list of a length "
    "known only when the code runs, such as `np.split(x, points)`'s pieces, is "
    "checked to hold as many values as names, as Python checks it), chained assignment "
    "(`a = b = value`: one object bound to each target, as in Python), augmented "
    "assignment (`h += x` means `h = h + x`: a new array, never an update in place; "
    "so it is accepted only where that is the same thing: `h` holds an array the "
    "function made (arithmetic, a numpy call that returns a new array, a helper "
    "that does, `np.asarray` of a list written in the call, `np.asarray` of such an "
    "array) or one of its own arguments, and no other name, container, view or "
    "caller can see that array; the gradient never writes into its arguments, so a "
    "call that passes one array for a parameter updated this way and for another "
    "parameter (or a view of it) is refused, since Python's function would change "
    "both). A name holding a number (`k = 0`, `len(xs)`, `x.shape[0]`, a `range` "
    "index) shares no memory: `k += 1` makes a new number. What a function chosen "
    "by a condition returns (`act = np.tanh if c else h; v = act(x)`) is new when "
    "each choice returns a new array, and what a helper returns shares memory only "
    "with the arguments it may return (or a view of). An update of a view that is "
    "always read-only (what `np.broadcast_to` and `np.diagonal` return) is refused, "
    "as Python's fails on every call; one of an array that may be read-only "
    "(`np.diag`'s view of a matrix, `np.imag` of a real array, what a helper "
    "returns) is not: the generated code checks it before the update and raises "
    'Python\'s ValueError ("output array is read-only", "assignment destination '
    "is read-only\") when it cannot be written, as Python's code fails; `np.diag` "
    "of a vector is a new array, updated as Python does;",
    "element and slice assignment, `x[index] = v` and `x[index] op= v`, with every "
    "index numpy takes (integers, slices, `None`, `...`, integer arrays, boolean "
    "masks, tuples of them), meaning what Python means: the array changes in place, "
    "and with an index array that names an element twice the last write wins, as in "
    "numpy (`x[idx] += v` adds once per element, it is `x[idx] = x[idx] + v`). It is "
    "accepted on an array the function owns (made by it: `np.zeros`, `x.copy()`, "
    "arithmetic, a numpy call that returns a new array), where no name read later, "
    "container, view or caller can see the change; writing into an argument, a "
    "global or memory shared with one is refused (copy it first: `x = x.copy()`), "
    "and a write into an array that may be read-only is checked when it runs, as "
    "for augmented assignment. "
    "The generated code writes in place too, and its reverse sweep zeroes the "
    "written part of the array's adjoint in place, so a loop writing one row per "
    "step (`H[t] = h`) costs one row per step; where the reverse sweep still reads "
    "values a write overwrites, the forward copies them first (a view: its size; "
    "the array itself: the whole array);",
    "`if` / `elif` / `else`, with conditions computed from array values, and "
    "conditional expressions `a if c else b`: the reverse sweep takes the branch "
    "the forward sweep took;",
    "`for` over `range(...)`, over a list, tuple or array, and over `zip`, "
    "`enumerate` (with a start) and `reversed` of them nested as Python allows "
    "(`for i, (W, b) in enumerate(zip(Ws, bs)):`), with tuple targets "
    "(`for W, b in params:`); nested loops; `while` loops; `break` and `continue`; "
    "a `for` over a dict, its `.keys()`, `.values()` or `.items()`, `sorted(...)` of "
    "them, or a list of strings or of `slice` objects (also zipped, enumerated or "
    "reversed) goes over elements known when compiling (a dict's keys are part of the "
    "structure code is compiled for) and is unrolled: its body once per element, in "
    "Python's order (a dict's insertion order), so a key is a constant in the body "
    "(`g[k]`, `if k == 'W':` decided when compiling) and values may differ in "
    "structure;",
    "list comprehensions with any number of `for` and `if` clauses, and generator "
    "expressions as the one argument of `sum`, `list` and the builtins that consume "
    "them whole (`sum(np.sum(W ** 2) for W in Ws)`): each is the loop with "
    "`.append` it stands for, differentiated like one; a comprehension Python would "
    "evaluate only sometimes (in a branch of `a if c else b`, after `and`/`or`, in a "
    "`while` condition) is refused; dict comprehensions over constant keys or over a "
    "dict's keys or items (`{k: v - lr * g[k] for k, v in params.items()}`, with `if` "
    "clauses on the key), whose keys must be known when compiling;",
    "functions defined inside the function (`def layer(h): ...`, "
    "`act = lambda z: ...`) and called there, closing over its variables, "
    "differentiated ones included: each is a helper whose free variables are extra "
    "arguments, passed with their values at the call (which is what a closure "
    "reads), differentiated through its own pullback; one used as a value (passed, "
    "stored, returned) is refused;",
    "calls of user functions and methods (`self.forward(x)`) in `if` and `while` "
    "conditions and in the conditions of `a if c else b` that the statement always "
    "evaluates (computed in a statement first; a `while` computes it again before each "
    "`continue` and at the end of its body);",
    "`assert`, `raise SomeError(...)` (in a branch that validates arguments: what "
    "follows the `if` sees the other branch only), `print(...)`, `logging` and "
    "`warnings.warn` calls as statements, and `with np.errstate(...):` (without "
    "`return`, `break` or `continue` inside): the forward sweep runs them where the "
    "function does, once, in order, and they take no part in the derivative;",
    "`return`, several of them, early ones included;",
    "`xs.append(v)` on a list built in the function (`xs = []`, `xs = [a, b]`), "
    "whose elements are alike (all arrays, or all tuples of one length...): it means "
    "`xs = xs + [v]`, a new list, so it is accepted only where that is the same "
    "thing: no other name read later, no container, loop, caller or later call can "
    "see the list (so not an argument, a default value or a global).",
]

VALUES_TEXT = [
    "Python floats and float arrays are differentiable. `wrt` must name "
    "floating-point arguments: asking for the gradient with respect to an integer "
    "or a bool is an error, not a silent zero.",
    "Integers, booleans, integer and boolean arrays, shapes and indices flow "
    "through without adjoints (see the functions without a derivative below).",
    "Arguments may be lists, tuples and dicts, nested, of arrays and floats "
    '("parameter trees"): the gradient has the same structure (a list of '
    "`(dW, db)` tuples for `[(W, b), ...]`, a dict for a dict). Index them with "
    "constants, loop variables and slices (`params[-1]`, `params['W']`, "
    "`params[:-1]`), take `len(...)`, build lists with `[a, b]` or `.append`, and "
    "combine them with `np.stack`, `np.concatenate` or `sum(...)`. A dict's "
    "`.keys()`, `.values()` and `.items()` are in its insertion order (`list(d.values())`, "
    "`sum(d.values())`, loops over them), `d.get(key)` and `d.get(key, default)` "
    "take a constant key (the default, differentiated, where the dict has no such "
    "key), and `sorted(d)`, `sorted(d.items())` (with `key=operator.itemgetter(0)` or "
    "`lambda kv: kv[0]`, `reverse=`) sort keys known when compiling; `sorted` of "
    "differentiable numbers is refused (use `np.sort`).",
    "Namedtuples and dataclass instances are parameter trees too, whose fields are "
    "read by name (`p.W`, `layer.b` in `for layer in layers:`): the gradient is of "
    "the same type (`Layer(W=dW, b=db)`; a dataclass made with "
    "`dataclasses.replace`), and a jvp's tangent has the same structure. A "
    "namedtuple is also a tuple (`W, b = layer`); a dataclass is not, so indexing, "
    "unpacking or iterating over one is refused, as Python refuses it.",
    "A list or tuple passed to a numpy function where it takes an array "
    "(`np.sum([1.0, a * a])`, `np.mean(xs)`) is the array numpy makes of it.",
    "Arrays are indexed and sliced as in numpy (`x[i]`, `x[:, 1:]`, `x[..., None]`, "
    "integer and boolean index arrays), and the adjoint scatters back into the "
    "indexed places. Assigning into an array is refused (see below).",
    "Indices computed from values (`np.nonzero`, `np.where(c)`, `np.argwhere`, "
    "`np.flatnonzero`, `np.triu_indices`, `np.tril_indices`, `np.diag_indices`, `np.ix_`, "
    "`np.unravel_index`, `np.ravel_multi_index`, `np.indices`, `np.searchsorted`, "
    "`np.digitize`) have no derivative and index differentiable arrays "
    "(`A[np.triu_indices(n, 1)]`; an element named twice gets the sum).",
    "Ufunc methods are the functions they mean: `.reduce` of `np.add`, `np.multiply`, "
    "`np.maximum`, `np.minimum` is `np.sum`, `np.prod`, `np.max`, `np.min` (`axis=0` "
    "unless told), of `np.logaddexp(2)` a stable log-sum-exp; `.accumulate` of the same "
    "four is `np.cumsum`, `np.cumprod`, a running max, min; `f.outer(a, b)` is `f` of `a` "
    "reshaped against `b`; `np.add.at(a, i, v)` (`np.subtract.at`) is `a += ...` of `v` "
    "scattered into `a`'s shape, under the rules of `a += ...`. `np.sum`, `np.mean`, "
    "`np.max`, `np.min` take `where=` (and `initial=`); `np.bincount` has the "
    "derivative in its `weights`.",
]
