"""The LLVM IR of a translated module's gradient, for ``jit/kernel.py``: the
statements walked in order, each value's shape worked out from the arguments', and
the code of each statement written with llvmlite's IR builder.

The kernel's signature is ``void kernel(i8* args, i8* outs, i8* arena, double*
numbers)``: ``args`` is the tuple of the call's arguments and ``outs`` the tuple of
new arrays it returns (their data pointers are read from the objects: a numpy
array's at byte 16, a float's value at byte 16, a tuple's items from byte 24);
``arena`` holds every intermediate array; the numbers the code returns are written
to ``numbers``."""

from __future__ import annotations

import ast
import math

import numpy as np
from llvmlite import ir

from . import native
from .access import attribute, subscript
from .arith import Arithmetic
from .calls import call, shape_of
from .control import bind, block, truth
from .statements import finish as finish_outlines
from .values import (
    ARITH,
    COMPARE,
    DOUBLE,
    DP,
    I8,
    I8P,
    I32,
    I64,
    Arr,
    Buffer,
    Ew,
    Num,
    Unsupported,
    c_strides,
)

LOGICAL = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^"}


class Emitter(Arithmetic):
    """Walks the function ``main`` of ``tree`` for the arguments ``args``."""

    def __init__(self, tree: ast.Module, main: str, args: tuple, arrays: dict):
        self.functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
        if main not in self.functions:
            raise Unsupported(f"no function {main}")
        self.main = self.functions[main]
        self.arrays = arrays
        self.module = ir.Module(name="adcompile_kernel")
        fnty = ir.FunctionType(ir.VoidType(), [I8P, I8P, I8P, DP])
        self.fn = ir.Function(self.module, fnty, name="kernel")
        self.entry = self.fn.append_basic_block("entry")
        body = self.fn.append_basic_block("body")
        self.eb = ir.IRBuilder(self.entry)
        self.b = ir.IRBuilder(body)
        self.body = body
        self.p_args, self.p_outs, self.p_arena, self.p_numbers = self.fn.args
        self.arena = 0  # bytes
        self.outputs: list = []  # shapes of the returned arrays
        self.bases: dict = {}  # Buffer -> its data pointer (double* or i8*)
        self.slots: dict = {}  # arena Buffer -> (the variable of its pointer, where it is)
        self.targets: dict = {}  # arena Buffer -> the returned array's Buffer it is
        self.layout = None
        self.outlines: dict = {}  # statements compiled as functions (statements.py)
        self.unrolled = 0  # statements written so far, loops unrolled (control.py)
        self.functions_made = 0
        self.allocate = None  # how new arrays are made, while a statement is outlined
        self.constants: dict = {}  # the module's numbers (ROUNDS = 50)
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for t in node.targets:
                    if isinstance(t, ast.Name) and type(node.value.value) in (int, float, bool):
                        self.constants[t.id] = Num(const=node.value.value)
        self.env = {**self.constants, **self._parameters(args)}
        self._declared: dict = {}

    # ------------------------------------------------------------ setting up

    def _item(self, tup: ir.Value, i: int) -> ir.Value:
        """The i-th item (PyObject*) of the tuple object ``tup``."""
        items = self.eb.bitcast(tup, I8P.as_pointer())
        return self.eb.load(self.eb.gep(items, [I64(3 + i)]))

    def _parameters(self, args: tuple) -> dict:
        params = self.main.args
        if params.vararg or params.kwarg or params.kwonlyargs or params.defaults:
            raise Unsupported("parameters other than positional ones")
        names = [a.arg for a in params.args]
        if len(names) != len(args):
            raise Unsupported("argument count")
        env = {}
        # (the module's constant arrays are passed after the arguments)
        consts = list(self.arrays.items())
        for i, (name, a) in enumerate([*zip(names, args, strict=True), *consts]):
            obj = self._item(self.p_args, i)
            if isinstance(a, np.ndarray):
                buf = Buffer("in", i, a.size)
                data = self.eb.load(self.eb.gep(self.eb.bitcast(obj, I8P.as_pointer()), [I64(2)]))
                self.bases[buf] = self.eb.bitcast(data, DP)
                env[name] = Arr(buf, 0, a.shape, c_strides(a.shape))
            else:  # a float (or np.float64; an int, as a float): its value at byte 16
                p = self.eb.bitcast(self.eb.gep(obj, [I64(16)]), DP)
                env[name] = Num(value=self.eb.load(p), integer=type(a) is int)
        return env

    def finish(self) -> tuple:
        for buf, (slot, pointer) in self.slots.items():
            if buf in self.targets:
                pointer = self.bases[self.targets[buf]]
            self.eb.store(pointer, slot)
        self.eb.branch(self.body)
        finish_outlines(self.outlines)
        return str(self.module), self.layout, self.arena, self.outputs

    def alloca(self, ty) -> ir.Value:
        return self.eb.alloca(ty)

    def new_array(self, shape: tuple, dtype: str = "f8") -> Arr:
        """A new array of ``shape`` in the arena."""
        if self.allocate is not None:
            return self.allocate(shape, dtype)
        size = math.prod(shape)
        buf = Buffer("arena", self.arena, size, dtype)
        pointer = self.eb.bitcast(self.eb.gep(self.p_arena, [I64(self.arena)]), _pointer(dtype))
        self.slots[buf] = (self.eb.alloca(_pointer(dtype)), pointer)
        self.arena += -(-size * (8 if dtype == "f8" else 1) // 64) * 64 or 64
        return Arr(buf, 0, tuple(shape), c_strides(shape))

    # ------------------------------------------------------------ statements

    def run(self) -> None:
        *body, last = self.main.body
        if not isinstance(last, ast.Return) or last.value is None:
            raise Unsupported("a function that does not end with its return")
        if any(isinstance(n, ast.Return) for stmt in body for n in ast.walk(stmt)):
            raise Unsupported("a return before the end")
        block(self, body, self.env)
        self._return(last.value)
        self.b.ret_void()

    def statement(self, stmt: ast.stmt, env: dict) -> None:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return
        if isinstance(stmt, ast.Expr) and _called(stmt.value) == "add_into":
            self.expr(stmt.value, env)  # (an update in place: its value is None)
            return
        if isinstance(stmt, ast.Expr) and _called(stmt.value) == "check_cotangent":
            y, dy = (self.expr(a, env) for a in stmt.value.args)
            if shape_of(self, y) != shape_of(self, dy):
                raise Unsupported("a cotangent of another shape (numba raises the error)")
            return
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                if len(target.elts) != len(value.elts):
                    raise Unsupported("unpacking")
                values = tuple(self.settle(self.expr(v, env)) for v in value.elts)
            else:
                values = self.settle(self.expr(value, env))
            bind(target, values, env)
            return
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            self._augment(stmt, env)
            return
        raise Unsupported(f"the statement {ast.unparse(stmt).splitlines()[0]!r}")

    def _augment(self, stmt: ast.AugAssign, env: dict) -> None:
        name = stmt.target.id
        old = env.get(name)
        if old is None:
            raise Unsupported(f"{name} before assignment")
        op = ARITH.get(type(stmt.op))
        if op is None:
            raise Unsupported("an in-place operator")
        value = self.expr(stmt.value, env)
        if not isinstance(old, Arr):  # (a number: rebound, as Python does)
            env[name] = self.settle(self.binary(op, old, value))
            return
        if old.buf.kind in ("in", "const"):
            raise Unsupported("an argument written in place")
        rhs = self.ew(value)
        if any(r.buf is old.buf and not _same_view(r, old) for r in rhs.reads):
            rhs = self.ew(self.materialise(rhs))  # (reads what it writes, elsewhere)
        result = self.binary(op, old, rhs)
        if tuple(result.shape) != tuple(old.shape):
            raise Unsupported("an in-place update that broadcasts its target")
        self.store(result, old)

    def _return(self, node: ast.expr) -> None:
        value = self.expr(node, self.env)
        numbers: list = []
        claimed: set = set()

        def place(v):
            if isinstance(v, tuple):
                return ("tuple", [place(x) for x in v])
            if v is None:  # (the gradient of a parameter the result does not use)
                return ("none", 0)
            v = self.settle(v)
            if isinstance(v, Num):
                if v.integer or isinstance(v.const, int):
                    raise Unsupported("an int or bool returned (the kernel returns floats)")
                self.b.store(self.as_double(v), self.b.gep(self.p_numbers, [I64(len(numbers))]))
                numbers.append(v)
                return ("number", len(numbers) - 1)
            if v.buf.dtype != "f8":
                raise Unsupported("a boolean array returned")
            k = len(self.outputs)
            self.outputs.append(tuple(v.shape))
            out = self._out_buffer(k, v)
            if v.buf.kind == "arena" and v.whole() and v.buf not in claimed:
                claimed.add(v.buf)
                self.targets[v.buf] = out  # (the code so far wrote the returned array)
            else:  # (a view, an argument, or returned twice: copied)
                dest = Arr(out, 0, v.shape, c_strides(v.shape))
                self.store(self.ew(v), dest)
            return ("array", k)

        self.layout = place(value)
        self.numbers = len(numbers)

    def _out_buffer(self, k: int, v: Arr) -> Buffer:
        buf = Buffer("out", k, v.size)
        obj = self._item(self.p_outs, k)
        data = self.eb.load(self.eb.gep(self.eb.bitcast(obj, I8P.as_pointer()), [I64(2)]))
        self.bases[buf] = self.eb.bitcast(data, DP)
        return buf

    # ------------------------------------------------------------ expressions

    def settle(self, v):
        """``v`` as a value a name can hold: elementwise expressions computed."""
        if isinstance(v, Ew):
            return self.materialise(v)
        if isinstance(v, tuple):
            return tuple(self.settle(x) for x in v)
        return v

    def expr(self, node: ast.expr, env: dict):
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise Unsupported(f"the name {node.id}")
            return env[node.id]
        if isinstance(node, ast.Constant):
            if node.value is None:
                return None
            if type(node.value) not in (int, float, bool):
                raise Unsupported(f"the constant {node.value!r}")
            return Num(const=node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in LOGICAL:
            x, y = self.expr(node.left, env), self.expr(node.right, env)
            return self.logical(LOGICAL[type(node.op)], x, y)
        if isinstance(node, ast.BinOp):
            op = ARITH.get(type(node.op)) or {ast.FloorDiv: "//", ast.Mod: "%"}.get(type(node.op))
            if op is None:
                raise Unsupported(f"the operator {type(node.op).__name__}")
            return self.binary(op, self.expr(node.left, env), self.expr(node.right, env))
        if isinstance(node, ast.UnaryOp):
            v = self.expr(node.operand, env)
            if isinstance(node.op, ast.USub):
                return self.binary("*", Num(const=-1), v) if isinstance(v, Num) else self.negate(v)
            if isinstance(node.op, ast.UAdd):
                return v
            if isinstance(node.op, ast.Invert) and not isinstance(v, Num):
                e = self.ew(v)
                if e.boolean:
                    return Ew(e.shape, lambda idx: self.b.not_(e.gen(idx)), e.reads, True)
            raise Unsupported(f"the operator {type(node.op).__name__}")
        if isinstance(node, ast.BoolOp):  # (of values known when compiling)
            value = None
            for operand in node.values:
                value = self.expr(operand, env)
                if truth(value) == isinstance(node.op, ast.Or):
                    return value
            return value
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            op = COMPARE.get(type(node.ops[0]))
            if op is None:
                raise Unsupported("a comparison")
            return self.compare(op, self.expr(node.left, env), self.expr(node.comparators[0], env))
        if isinstance(node, ast.Tuple):
            return tuple(self.expr(e, env) for e in node.elts)
        if isinstance(node, ast.List):
            return [self.settle(self.expr(e, env)) for e in node.elts]
        if isinstance(node, ast.Attribute):
            return attribute(self, node, env)
        if isinstance(node, ast.Subscript):
            return subscript(self, node, env)
        if isinstance(node, ast.Call):
            return call(self, node, env)
        raise Unsupported(f"the expression {type(node).__name__}")

    # ------------------------------------------------------------ elementwise

    def ew(self, v) -> Ew:
        """``v`` (an array, a number, an expression) as an elementwise expression."""
        if isinstance(v, Ew):
            return v
        if isinstance(v, Num) and isinstance(v.const, bool):
            return Ew((), lambda idx, v=v: ir.Constant(ir.IntType(1), int(v.const)), [], True)
        if isinstance(v, Num):
            return Ew((), lambda idx, v=v: self.as_double(v))
        if isinstance(v, Arr):
            return Ew(v.shape, lambda idx, v=v: self.load(v, idx), [v], v.buf.dtype == "b1")
        raise Unsupported("a tuple used as an array")

    def load(self, a: Arr, idx: list) -> ir.Value:
        value = self.b.load(self.address(a, idx))
        return self.b.icmp_unsigned("!=", value, I8(0)) if a.buf.dtype == "b1" else value

    def address(self, a: Arr, idx: list) -> ir.Value:
        terms = [] if a.offset == 0 else [I64(a.offset)]
        for i, n, s in zip(idx, a.shape, a.strides, strict=True):
            if s == 0 or n == 1 or isinstance(i, ir.Constant) and i.constant == 0:
                continue
            terms.append(i if s == 1 else self.b.mul(i, I64(s)))
        off = terms[0] if terms else I64(0)
        for t in terms[1:]:
            off = self.b.add(off, t)
        return self.b.gep(self.base(a.buf), [off])

    def base(self, buf: Buffer) -> ir.Value:
        """The data pointer of ``buf``, where the code is (an arena buffer's is read
        from its variable: set when the kernel starts, to the returned array's for
        the buffers returned)."""
        if buf in self.slots:
            return self.b.load(self.slots[buf][0])
        return self.bases[buf]

    def lift(self, e: Ew, shape: tuple) -> callable:
        """The element of ``e`` at an index of the (broadcast) ``shape``."""
        k = len(shape) - len(e.shape)

        def gen(idx):
            sub = [I64(0) if n == 1 else i for i, n in zip(idx[k:], e.shape, strict=True)]
            return e.gen(sub)

        return gen

    def intrinsic(self, name: str, nargs: int = 1):
        fnty = ir.FunctionType(DOUBLE, [DOUBLE] * nargs)
        return self._declare(name, lambda: self.module.declare_intrinsic(name, [DOUBLE], fnty))

    def libm(self, name: str, nargs: int = 1):
        fnty = ir.FunctionType(DOUBLE, [DOUBLE] * nargs)
        return self._declare(name, lambda: ir.Function(self.module, fnty, name=name))

    def _declare(self, name: str, make):
        if name not in self._declared:
            self._declared[name] = make()
        return self._declared[name]

    # ------------------------------------------------------------ storing

    def materialise(self, e: Ew) -> Arr:
        if not e.shape:  # (a 0-d result: a number, as numpy's scalars)
            return self._scalar_of(e)
        dest = self.new_array(e.shape, "b1" if e.boolean else "f8")
        self.store(e, dest)
        return dest

    def _scalar_of(self, e: Ew):
        if e.boolean:  # (a bool, as a number; never returned)
            return Num(value=self.b.uitofp(e.gen([]), DOUBLE), integer=True)
        return Num(value=e.gen([]))

    def store(self, e, dest: Arr) -> None:
        """Compute the elementwise ``e`` (broadcast to ``dest``'s shape) into ``dest``."""
        e = self.ew(e)
        gen = self.lift(e, dest.shape)

        def body(idx):
            v = gen(idx)
            if dest.buf.dtype == "b1":
                v = self.b.zext(v, I8)
            elif e.boolean:
                v = self.b.uitofp(v, DOUBLE)
            self.b.store(v, self.address(dest, idx))

        shape = dest.shape
        strides = [dest.strides] + [_lifted(r, shape) for r in e.reads]
        # dimensions that every array steps through as one (a C-contiguous array and
        # the arrays broadcast along whole trailing dimensions): one loop for them;
        # dimensions of length 1: none
        dims = [d for d, n in enumerate(shape) if n != 1]
        last, sizes = [], []
        for k, d in enumerate(dims):
            nxt = dims[k + 1] if k + 1 < len(dims) else None
            if nxt is not None and all(st[d] == st[nxt] * shape[nxt] for st in strides):
                continue  # (merged with the next)
            first = last[-1] + 1 if last else 0
            last.append(d)
            sizes.append(math.prod(shape[first : d + 1]))

        def merged(counters):
            idx = [I64(0)] * len(shape)
            for d, c in zip(last, counters, strict=True):
                idx[d] = c
            body(idx)

        self.loops(tuple(sizes), merged)

    def loops(self, shape: tuple, body) -> None:
        """Loops over every index of ``shape``, the last dimension innermost."""
        idx: list = []
        b = self.b

        def level(d):
            if d == len(shape):
                body(idx)
                return
            counter = self.alloca(I64)
            b.store(I64(0), counter)
            test = self.fn.append_basic_block()
            inner = self.fn.append_basic_block()
            done = self.fn.append_basic_block()
            b.branch(test)
            b.position_at_end(test)
            i = b.load(counter)
            b.cbranch(b.icmp_signed("<", i, I64(shape[d])), inner, done)
            b.position_at_end(inner)
            idx.append(i)
            level(d + 1)
            idx.pop()
            b.store(b.add(i, I64(1)), counter)
            b.branch(test)
            b.position_at_end(done)

        level(0)

    def table(self, slot: int) -> ir.Value:
        try:
            table = self.module.get_global(native.SYMBOL)
        except KeyError:
            table = ir.GlobalVariable(self.module, ir.ArrayType(I8P, native.SIZE), native.SYMBOL)
        return self.b.load(self.b.gep(table, [I32(0), I32(slot)]))


def _pointer(dtype: str):
    return DP if dtype == "f8" else I8P


def _called(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _lifted(a: Arr, shape: tuple) -> tuple:
    """The strides of ``a`` broadcast to ``shape`` (0 along the dimensions it
    does not step through)."""
    k = len(shape) - a.ndim
    return (0,) * k + tuple(0 if n == 1 else s for n, s in zip(a.shape, a.strides, strict=True))


def _same_view(a: Arr, b: Arr) -> bool:
    return a.offset == b.offset and a.shape == b.shape and a.strides == b.strides
