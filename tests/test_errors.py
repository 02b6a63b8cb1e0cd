"""Every construct outside the language is refused with a located AdCompileError.

Each case is a function in this file and a *needle*: the text, on the offending
line, where the error must point. The expected line and column are computed from
the needle, so the tests keep working when lines move.
"""

from __future__ import annotations

import functools
import inspect
import math
import operator
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import function_source_at, generated_names

import adcompile as ad
from adcompile import AdCompileError
from adcompile.checking import numeric_grad

X = np.linspace(0.1, 0.9, 6)
HERE = Path(__file__).resolve()


def helper(t):
    return t * 2.0


@pytest.fixture(autouse=True)
def no_generated_names_in_messages(monkeypatch):
    """Every AdCompileError made by a test of this file speaks of the user's code only:
    no name that the compiler made up (a temporary, a renamed version of a variable)
    appears in its reason or hint, unless the user's function itself has that name."""
    made: list[AdCompileError] = []
    init = AdCompileError.__init__

    def record(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(AdCompileError, "__init__", record)
    yield
    for err in made:
        said = f"{err.reason}\nhint: {err.hint}"
        source = function_source_at(err.filename, err.lineno)
        assert not generated_names(said, source), str(err)


@pytest.mark.parametrize(
    ("said", "source", "found"),
    [
        ("'f1_1' is a list, but np.tanh takes an array here", "def f1(xs): ...", ["f1_1"]),
        ("convert it first: np.asarray(new_shape_4)", "new_shape = (2, 3)", ["new_shape_4"]),
        ("'h_3' is a tuple", "h = (a, b)", ["h_3"]),
        ("_t12 is not defined", "y = x", ["_t12"]),
        ("'<result>' holds different values", "return x", ["<result>"]),
        ("'h_3' is a tuple", "h_3 = (a, b)", []),  # the user's own name
        ("'h' is a list; use np.float64 or np.atleast_2d", "h = [x]", []),
        ("a functools._lru_cache_wrapper around m.f", "f(x)", []),
        ("example.py:7:11: error: x", "x", []),
    ],
)
def test_the_generated_name_check_finds_generated_names(said, source, found):
    assert generated_names(said, source) == found


def where_is(f, needle):
    """(lineno, col, line) of the line of ``f``'s source that contains ``needle``.

    The body is searched first, then the ``def`` line (for parameter needles).
    """
    lines, start = inspect.getsourcelines(f)
    for i in [*range(1, len(lines)), 0]:
        if needle in lines[i]:
            return start + i, lines[i].index(needle), lines[i].rstrip("\n")
    raise AssertionError(f"{needle!r} not in the source of {f.__name__}")


def refused(f, *args, wrt=0) -> AdCompileError:
    """The AdCompileError that compiling and calling grad(f) raises (nothing else will do)."""
    with pytest.raises(AdCompileError) as info:
        ad.grad(f, wrt=wrt)(*args)
    return info.value


def assert_located(err: AdCompileError, f, needle: str, *words: str) -> None:
    """``err`` points at ``needle`` in ``f``'s source, in the compiler's format."""
    lineno, col, line = where_is(f, needle)
    assert Path(err.filename).resolve() == HERE, err.filename
    assert (err.lineno, err.col) == (lineno, col), str(err)
    assert err.line.strip() == line.strip()
    text = str(err)
    head = text.splitlines()[0]
    assert re.match(rf"^{re.escape(err.filename)}:{lineno}:{col}: error: \S", head), head
    assert line.strip() in text.splitlines()[1]
    caret = text.splitlines()[2]
    assert caret.strip() == "^"
    assert caret.index("^") - 4 == col - (len(line) - len(line.lstrip()))
    assert err.hint, "every refusal says what to do instead"
    assert f"hint: {err.hint}" in text
    for word in words:
        assert word.lower() in text.lower(), (word, text)


# --------------------------------------------------------------- the refused language


def f_try(x):
    try:
        y = x * 2.0
    except ValueError:
        y = x
    return np.sum(y)


def f_with(x):
    with open(__file__) as handle:
        y = x * len(handle.name)
    return np.sum(y)


def f_yield(x):
    y = yield x
    return np.sum(y)


def f_yield_from(x):
    y = yield from x
    return np.sum(y)


COUNTER = 0


def f_global(x):
    global COUNTER
    return np.sum(x)


def make_nonlocal():
    scale = 2.0

    def f_nonlocal(x):
        nonlocal scale
        return np.sum(x * scale)

    return f_nonlocal


f_nonlocal = make_nonlocal()


def f_class(x):
    class Box:
        pass

    return np.sum(x)


async def f_async(x):
    return np.sum(x)


def f_async_inner(x):
    async def inner():
        pass

    return np.sum(x)


def f_nested_def(x):
    def inner(t):
        return t

    fs = [inner]
    return np.sum(x) + len(fs)


def f_lambda(x):
    return np.sum(np.apply_along_axis(lambda t: t * 2.0, 0, x))


def f_walrus(x):
    y = (z := x * 2.0) + 1.0
    return np.sum(y + z)


def f_listcomp(x):
    y = x if np.sum(x) > 0 else np.array([t * 2.0 for t in x])
    return np.sum(y)


def f_setcomp(x):
    s = {t for t in x}
    return np.sum(x) + len(s)


def f_dictcomp(x):
    d = {i: t for i, t in enumerate(x)}
    return np.sum(x) + len(d)


def f_genexp(x):
    return np.sum(x) + np.sum(t for t in x)


def f_fstring(x):
    label = f"{x}"
    return np.sum(x) + len(label)


def f_star_call(x):
    parts = (x, x)
    return np.sum(np.add(*parts))


def f_del(x):
    y = x * 2.0
    del y
    return np.sum(x)


def f_assert(x):
    with np.errstate(all="ignore"):
        assert x.ndim == 1
        return np.sum(x)


def f_raise(x):
    if np.sum(x) > 100.0:
        raise ValueError("no") from None
    return np.sum(x)


def f_import(x):
    import math

    return np.sum(x) * math.pi


def f_import_from(x):
    from numpy import exp

    return np.sum(exp(x))


def f_print_value(x):
    y = print(x)
    return np.sum(x) + y


def f_unknown_library(x):
    y = np.linalg.vecdot(x, x)
    return np.sum(np.abs(y))


def f_no_rule(x):
    y = np.nancumsum(x)
    return np.sum(y)


def f_undefined(x):
    return np.sum(x * undefined_name_for_the_test)  # noqa: F821


def f_set_literal(x):
    s = {1, 2}
    return np.sum(x) * len(s)


def f_annotated(x):
    y: float = np.sum(x)
    return y


def f_subscript_store(x):
    y = x * 1.0
    y[0][1] = 0.0
    return np.sum(y)


def f_subscript_store_argument(x):
    y = x * 1.0
    x[0] = y[1]
    return np.sum(y * x)


def f_subscript_store_view(x):
    y = x * 1.0
    r = y[1:]
    y[1] = 0.0
    return np.sum(y * r)


def f_subscript_store_list(x):
    ys = [x, x * 2.0]
    ys[0] = x * 3.0
    return np.sum(ys[0])


def f_attribute_store(x):
    y = x * 1.0
    y.shape = (2, 3)
    return np.sum(y)


def f_no_return(x):
    y = np.sum(x)  # noqa: F841


def f_bare_return(x):
    y = np.sum(x)  # noqa: F841
    return


def f_expression_statement(x):
    x * 2.0
    return np.sum(x)


def f_unsupported_method(x):
    y = x.round(2)
    return np.sum(y)


def f_unsupported_attribute(x):
    y = x.flat
    return np.sum(y)


def f_bad_keyword(x):
    return np.std(x, where=x > 0.5)


def f_dtype_keyword(x):
    return np.sum(x, dtype=np.float32)


def f_return_none(x):
    y = x * 2.0  # noqa: F841
    return None


def f_mod(x):
    return np.sum(x % 2.0)


def f_module_as_value(x):
    m = np
    return np.sum(x) + m


def f_match(x):
    match x:
        case _:
            y = x
    return np.sum(y)


def f_list_slice_as_array(xs):
    return np.sum(xs[1:] * 2.0)


def f_rebound_tuple_as_array(x):
    shape = (x, x)
    shape = (x, x * 2.0)  # a second version: compiled under another name
    return np.sum(shape * 2.0)


def f_call_of_a_parameter(x, act=None):
    return np.sum(act(x))


def f_call_of_a_local(x):
    act = x
    return np.sum(act(x))


def f_call_through_getattr(x):
    return np.sum(getattr(np, "tanh")(x))  # noqa: B009 (the refused construct)


class Config:
    @staticmethod
    def act(t):
        return t * 2.0


CONFIG = Config()


def f_call_of_an_object_attribute(x):
    return np.sum(CONFIG.act(x))


def f_zip_as_value(x):
    return np.sum(np.stack(zip(x, x)))


def f_max_of_an_array(x):
    return max(x)


def f_builtin_without_numeric_meaning(x):
    return np.sum(x) * id(x)


def f_make_object(x):
    return np.sum(Config() * x)


def f_tolist(x):
    return np.sum(np.asarray(x.tolist()))


def f_star_target(x):
    first, *rest = x
    return first


WEIGHTS = np.ones(6)


def f_call_of_an_array(x):
    return np.sum(WEIGHTS(x))


def f_returns_two_structures(x):
    if x[0] > 0:
        return (x, x)
    return x


def f_attribute_store_hint(x):
    CONFIG.last = x
    return np.sum(x)


# (function, arguments, needle, words the message must contain)
CASES = [
    (f_try, (X,), "try:", ["try"]),
    (f_with, (X,), "with ", ["with"]),
    (f_yield, (X,), "yield x", ["yield"]),
    (f_yield_from, (X,), "yield from", ["yield"]),
    (f_global, (X,), "global ", ["global"]),
    (f_nonlocal, (X,), "nonlocal ", ["nonlocal"]),
    (f_class, (X,), "class Box", ["class"]),
    (f_async, (X,), "async def f_async", ["async"]),
    (f_async_inner, (X,), "async def inner", ["async"]),
    (f_nested_def, (X,), "inner]", ["inner", "value"]),
    (f_lambda, (X,), "lambda t", ["lambda", "called"]),
    (f_walrus, (X,), "z := ", [":="]),
    (f_listcomp, (X,), "[t * 2.0", ["comprehension", "conditional expression"]),
    (f_setcomp, (X,), "{t for", ["comprehension"]),
    (f_dictcomp, (X,), "{i: t", ["comprehension"]),
    (f_genexp, (X,), "(t for", ["generator"]),
    (f_fstring, (X,), 'f"', ["f-string"]),
    (f_star_call, (X,), "*parts", ["star"]),
    (f_del, (X,), "del y", ["del"]),
    (f_assert, (X,), "return np.sum", ["return", "with"]),
    (f_raise, (X,), "raise ", ["raise", "from"]),
    (f_import, (X,), "import math", ["import"]),
    (f_import_from, (X,), "from numpy", ["import"]),
    (f_print_value, (X,), "print(x)", ["print"]),
    (
        f_unknown_library,
        (X,),
        "np.linalg.vecdot(x, x)",
        ["np.linalg.vecdot", "no adjoint rule", "adjoint"],
    ),
    (f_no_rule, (X,), "np.nancumsum(x)", ["np.nancumsum", "no adjoint rule", "adcompile.adjoint"]),
    (f_undefined, (X,), "undefined_name_for_the_test", ["undefined_name_for_the_test"]),
    (f_set_literal, (X,), "{1, 2}", ["set"]),
    (f_annotated, (X,), "y: float", ["annotat"]),
    (f_subscript_store, (X,), "y[0]", ["assign"]),
    (f_subscript_store_argument, (X,), "x[0] = y[1]", ["argument 'x'", "x.copy()"]),
    (f_subscript_store_view, (X,), "y[1] = 0.0", ["'r'", "change 'r'"]),
    (f_subscript_store_list, (X,), "ys[0]", ["element of a list"]),
    (f_attribute_store, (X,), "y.shape", ["assign"]),
    (f_no_return, (X,), "y = np.sum(x)", ["return"]),
    (f_bare_return, (X,), "return\n", ["return"]),
    (f_expression_statement, (X,), "x * 2.0", ["expression"]),
    (f_unsupported_method, (X,), "x.round(2)", ["round"]),
    (f_unsupported_attribute, (X,), "x.flat", ["flat"]),
    (f_bad_keyword, (X,), "np.std(x, where", ["where="]),
    (f_dtype_keyword, (X,), "np.sum(x, dtype", ["dtype="]),
    (f_return_none, (X,), "return None", ["return"]),
    (f_module_as_value, (X,), "np\n", ["np"]),
    (f_match, (X,), "match x", ["match"]),
    (f_list_slice_as_array, ([X, X, X],), "xs[1:] * 2.0", ["'xs[1:]'", "np.stack(xs[1:])"]),
    (f_rebound_tuple_as_array, (X,), "shape * 2.0", ["'shape'", "np.stack(shape)"]),
    (f_call_of_a_parameter, (X,), "act(x)", ["act(...)", "parameter", "module level"]),
    (f_call_of_a_local, (X,), "act(x)", ["act(...)", "local variable", "module level"]),
    (f_call_through_getattr, (X,), "getattr(np", ["np.tanh(...)"]),
    (f_zip_as_value, (X,), "zip(x, x)", ["zip()", "for a, b in zip"]),
    (f_max_of_an_array, (X,), "max(x)", ["max()", "np.max(x)"]),
    (f_builtin_without_numeric_meaning, (X,), "id(x)", ["id()", "outside"]),
    (f_make_object, (X,), "Config()", ["Config object", "outside"]),
    (f_tolist, (X,), "x.tolist()", [".tolist()", "index it"]),
    (f_star_target, (X,), "*rest", ["star", "rest = xs[1:]"]),
    (f_attribute_store_hint, (X,), "CONFIG.last", ["attribute", "local variable"]),
    (f_call_of_an_array, (X,), "WEIGHTS(x)", ["is an array of shape (6,)", "not a function"]),
    (f_returns_two_structures, (X,), "if x[0]", ["f_returns_two_structures returns", "structure"]),
]


@pytest.mark.parametrize(
    ("f", "args", "needle", "words"),
    CASES,
    ids=[(c.values if hasattr(c, "values") else c)[0].__name__ for c in CASES],
)
def test_refused_construct_is_located(f, args, needle, words):
    err = refused(f, *args)
    assert_located(err, f, needle, *words)


def test_refused_construct_in_a_nested_function_has_the_file_column():
    def inner(x):
        y = np.nancumsum(x)
        return np.sum(y)

    err = refused(inner, X)
    assert_located(err, inner, "np.nancumsum(x)")
    assert err.col == 12


def test_refused_construct_in_a_decorated_function():
    @ad.grad
    def decorated(x):
        y = np.fft.hfft(x)
        return np.sum(np.abs(y))

    with pytest.raises(AdCompileError) as info:
        decorated(X)
    assert_located(info.value, decorated.fn, "np.fft.hfft(x)")


class Holder:
    @staticmethod
    def loss(x):
        y = np.nancumsum(x)
        return np.sum(y)


def test_refused_construct_in_a_static_method():
    assert_located(refused(Holder.loss, X), Holder.loss, "np.nancumsum(x)")


def f_unicode(x):
    σ = np.tanh(x)
    ŷ = np.nancumsum(σ)  # two bytes before the column of np.nancumsum, one character
    return np.sum(ŷ)


def test_columns_count_characters_not_bytes():
    err = refused(f_unicode, X)
    assert_located(err, f_unicode, "np.nancumsum(σ)")
    assert str(err).splitlines()[2].index("^") == str(err).splitlines()[1].index("np.nancumsum")


def test_unknown_numpy_function_message_names_it_and_says_how_to_register():
    err = refused(f_no_rule, X)
    assert "np.nancumsum" in err.reason
    assert "@adcompile.adjoint(np.nancumsum)" in err.hint


def test_unknown_submodule_function_is_spelled_correctly():
    def f(x):
        return np.linalg.vecdot(x, x)

    err = refused(f, X)
    assert "np.vecdot" not in str(err)
    assert "np.linalg)" not in str(refused(f_unknown_library, X))


# ------------------------------------------------------------------ functions without source


def test_function_created_with_exec_has_no_source():
    namespace = {"np": np}
    exec("def made(x):\n    return np.sum(x)\n", namespace)
    err = refused(namespace["made"], X)
    assert "source" in err.reason and "made" in err.reason
    assert err.hint and "exec" in err.hint


def test_lambda_is_refused_at_its_line():
    f = lambda x: np.sum(x * x)  # noqa: E731
    err = refused(f, X)
    assert "lambda" in err.reason
    assert_located(err, test_lambda_is_refused_at_its_line, "lambda x")


def test_lambda_passed_inline_is_refused():
    with pytest.raises(AdCompileError) as info:
        ad.grad(lambda x: np.sum(x))(X)
    assert "lambda" in info.value.reason
    assert info.value.lineno == inspect.currentframe().f_lineno - 2


@pytest.mark.parametrize(
    "thing", [np.sin, len, np.ones(3), functools.partial(np.sum), "f_try"], ids=repr
)
def test_not_a_python_function(thing):
    with pytest.raises(AdCompileError) as info:
        ad.grad(thing)(X)
    assert "not a Python function" in str(info.value)
    assert info.value.hint


def test_source_file_changed_since_import(tmp_path):
    import importlib.util

    path = tmp_path / "changing.py"
    path.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(x)\n")
    spec = importlib.util.spec_from_file_location("changing", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path.write_text("import numpy as np\n\n\ndef g(x):\n    return np.sum(x * 2.0)\n")
    err = refused(module.f, X)
    assert "changed" in err.reason and "'g'" in err.reason
    assert err.lineno == 4 and err.line == "def g(x):"
    assert err.hint


def test_a_method_bound_to_a_class_is_refused():
    class Model:
        @classmethod
        def loss(cls, x):
            return np.sum(x * x)

    err = refused(Model.loss, X)
    assert "method bound to the class Model" in err.reason
    assert err.hint and "staticmethod" in err.hint


def test_a_method_of_a_global_object_is_called_as_a_helper():
    g = ad.grad(f_call_of_an_object_attribute)(X)
    np.testing.assert_allclose(g, numeric_grad(f_call_of_an_object_attribute, [X], 0), rtol=1e-6)


def test_derivative_of_a_vjp_is_refused():
    err = refused(ad.vjp(f_no_rule), X)
    assert "grad(f) only" in err.reason


# ------------------------------------------------------------------------- the error itself


def test_error_attributes_and_format():
    err = refused(f_no_rule, X)
    assert err.filename == str(Path(err.filename))
    assert not Path(err.filename).is_absolute()  # relative to the working directory
    assert err.loc.lineno == err.lineno and err.loc.col == err.col
    assert err.reason in str(err) and err.hint in str(err)
    assert str(err).splitlines()[-1] == f"hint: {err.hint}"


def test_error_pickles():
    import pickle

    err = refused(f_no_rule, X)
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err)
    assert (back.filename, back.lineno, back.col, back.line, back.hint) == (
        err.filename,
        err.lineno,
        err.col,
        err.line,
        err.hint,
    )


def test_error_without_location_still_reads_well():
    err = AdCompileError("something", hint="do this")
    assert str(err) == "error: something\nhint: do this"
    assert err.filename is None and err.lineno is None


# ----------------------------------------------------------- internal exceptions never leak

# Odd but legal Python: compiling each must succeed or raise AdCompileError, nothing else.


def odd_1(x):
    a, (b, c) = x, (x, x)
    return np.sum(a * b * c)


def odd_2(x):
    return np.sum(x[1:6:2] + x[::-1][:3] + x[None, 0])


def odd_3(x):
    return np.sum(np.maximum.reduce(x))


def odd_4(x):
    return np.sum(x * b"a")


def odd_5(x):
    return np.sum(x * ...)


def odd_6(x):
    return np.sum(x[np.newaxis])


def odd_7(x):
    return np.sum(np.tanh(x, x))


def odd_8(x):
    return np.sum(np.clip(x, 0.1))


def odd_9(x):
    return np.sum(x.sum)


def odd_10(x):
    return np.sum(x[np])


def odd_11(x):
    y = x
    y //= 2.0
    y **= 2.0
    return np.sum(y)


def odd_12(x):
    "only a docstring"
    pass
    return 1.0


def odd_13(x):
    return np.sum(x) + x.ndim + x.size + x.shape[0]


def odd_14(x):
    return np.sum(x and x)


def odd_15(x):
    return np.sum(np.concatenate((x, [1.0])))


def odd_16(x):
    return np.sum(x[[0, 1]])


def odd_17(x):
    return np.sum(operator.add(x, x)) + np.sum(math.e * x)


def odd_18(x):
    return np.sum(x @ x.reshape(6, 1)) + x.dot(x)


def odd_19(x):
    z = x
    z = z * z
    z = z * z
    return np.sum(z)


def odd_20(x, unbroadcast=1.0, dx=2.0, grad_odd_20=3.0, np_1=4.0):
    return np.sum(x * unbroadcast * dx * grad_odd_20 * np_1)


ODD = [v for k, v in sorted(globals().items()) if k.startswith("odd_")]


@pytest.mark.parametrize("f", ODD, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["grad", "value_and_grad", "vjp"])
def test_compiling_raises_nothing_but_adcompile_error(f, mode):
    try:
        source = getattr(ad, mode)(f).source
    except AdCompileError as err:
        assert err.lineno is not None, str(err)
        assert "internal error" not in str(err)
    else:
        compile(source, "<generated>", "exec")


@pytest.mark.parametrize("f", ODD, ids=lambda f: f.__name__)
def test_every_refusal_has_a_hint(f):
    try:
        ad.grad(f).source  # noqa: B018
    except AdCompileError as err:
        assert err.hint, str(err)


@pytest.mark.parametrize("f", [odd_2, odd_11, odd_13, odd_17, odd_18, odd_19, odd_20])
def test_odd_but_supported_functions_have_right_gradients(f):
    assert ad.check_grad(f, X) < 1e-6


# ------------------------------------------------ known bugs outside this module's reach


def test_modulo_is_differentiated_or_refused():
    try:
        g = ad.grad(f_mod)(X)
    except AdCompileError:
        return
    np.testing.assert_allclose(g, np.ones_like(X))


def f_np_parameter(x, np=np):
    return np.sum(x * x)


def test_parameter_shadowing_a_module_is_differentiated_or_refused():
    try:
        g = ad.grad(f_np_parameter)(X)
    except AdCompileError:
        return
    np.testing.assert_allclose(g, 2 * X)


def f_transpose_int(x):
    return np.sum(x.transpose(0) * x)


def test_transpose_method_with_one_axis():
    np.testing.assert_allclose(ad.grad(f_transpose_int)(X), 2 * X)


def f_sum_of_list(x):
    return np.sum([x, x])


def test_reduction_of_a_list_literal_is_the_reduction_of_its_array():
    value, g = ad.value_and_grad(f_sum_of_list)(X)
    assert value == f_sum_of_list(X)
    np.testing.assert_allclose(g, numeric_grad(f_sum_of_list, [X], 0), rtol=1e-6)


def f_loop_rebinds_its_iterable(x):
    for v in x:
        x = x * v
    return np.sum(x)


def test_loop_over_a_name_the_body_rebinds():
    x = np.array([0.5, 0.7, 0.9])
    g = ad.grad(f_loop_rebinds_its_iterable)(x)
    np.testing.assert_allclose(g, numeric_grad(f_loop_rebinds_its_iterable, [x], 0), rtol=1e-6)


class _Scaled:
    def __init__(self) -> None:
        self.scale = 2.0

    def loss(self, x):
        return np.sum(self.scale * x * x)


def test_a_method_reading_self_reads_its_attributes_as_constants():
    m = _Scaled()
    g = ad.grad(_Scaled.loss, wrt=1)(m, X)
    np.testing.assert_allclose(g, numeric_grad(m.loss, [X], 0), rtol=1e-6)
