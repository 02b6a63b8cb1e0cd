"""Statements alike compiled once: the kernel's statements as LLVM functions of the
buffers they read and write.

An unrolled network repeats its layers' statements with other names and the same
shapes (``dh_4 = repeated_1(dh_1, h_5__10)`` nine times in a ten-layer MLP), and
LLVM's time grows with the code it optimises. So :func:`outline` writes each
top-level statement that computes something as a function ``statement_N(i8**
pointers, double* numbers)``: the statement with its names replaced by position,
and the arrays it reads described by their shapes, strides, offsets and which of
them share a buffer (the key), is compiled once; each statement alike is a call
that passes its own buffers' pointers and the numbers known only when the code
runs. The arrays a statement makes live in the caller's arena, so that the
kernel's returned arrays are still written where they are returned. A function
called once is inlined by LLVM; one called more often is not."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from llvmlite import ir

from .values import DOUBLE, DP, I8P, I32, I64, Arr, Buffer, Num, Unsupported, c_strides

COMPUTES = (ast.Call, ast.BinOp, ast.UnaryOp, ast.Compare)


@dataclass
class Outlined:
    """The function of a kind of statement: what it allocates, and what each name
    it assigns is (in terms of its parameters)."""

    fn: ir.Function
    allocs: list = field(default_factory=list)  # (shape, dtype) of each new array
    results: list = field(default_factory=list)  # of each name assigned, in order
    numbers_in: int = 0
    numbers_out: int = 0
    calls: int = 0


def outline(em, stmt: ast.stmt, env: dict) -> bool:
    """Compile ``stmt`` as a call of the function of the statements like it (made
    now if it is the first); False for a statement that is not one to outline."""
    if not isinstance(stmt, ast.Assign | ast.AugAssign):
        return False
    if not any(isinstance(n, COMPUTES) for n in ast.walk(stmt.value)):
        return False
    if any(_calls_pair(n, em) for n in ast.walk(stmt.value)):
        return False  # (a pullback pair's halves pass lists: their statements are)
    names = _reads(stmt, env)
    bufs: list = []
    nums: list = []
    described = tuple(_describe(env[n], bufs, nums) for n in names)
    if not bufs:
        return False  # (arithmetic of numbers: a few instructions, written in place)
    key = (_canonical(stmt, names), described)
    entry = em.outlines.get(key)
    if entry is None:
        entry = em.outlines[key] = _compile(em, stmt, names, described, len(bufs), len(nums))
    _call(em, entry, bufs, nums, env, _targets(stmt))
    return True


def _calls_pair(node: ast.AST, em) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in em.functions
        and not node.func.id.startswith("repeated_")
    )


def _reads(stmt: ast.stmt, env: dict) -> list:
    names = [stmt.target.id] if isinstance(stmt, ast.AugAssign) else []
    for node in ast.walk(stmt.value):
        if isinstance(node, ast.Name) and node.id in env and node.id not in names:
            names.append(node.id)
    return names


def _targets(stmt: ast.stmt) -> list:
    if isinstance(stmt, ast.AugAssign):
        return [stmt.target.id]
    (target,) = stmt.targets if len(stmt.targets) == 1 else (None,)
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
        return [t.id for t in target.elts]
    raise Unsupported("an assignment to a target other than names")


def _describe(v, bufs: list, nums: list):
    """``v`` with its buffers and runtime numbers replaced by their positions: an
    array by its buffer's position in ``bufs`` (a buffer and the offset of its
    first view, which the function is passed a pointer to) and its offset from
    there, so that views at other offsets (``xs[t]``) are alike."""
    if isinstance(v, Arr):
        k = next((i for i, (b, _) in enumerate(bufs) if b is v.buf), None)
        if k is None:
            bufs.append((v.buf, v.offset))
            k = len(bufs) - 1
        b, start = bufs[k]
        return ("A", k, b.kind, b.dtype, v.offset - start, v.shape, v.strides)
    if isinstance(v, Num):
        if v.const is not None:
            return ("C", type(v.const).__name__, v.const)
        nums.append(v)
        return ("N", len(nums) - 1, v.integer)
    if isinstance(v, tuple):
        return ("T", tuple(_describe(x, bufs, nums) for x in v))
    raise Unsupported("a value of another kind")


def _canonical(stmt: ast.stmt, names: list) -> str:
    """The statement's text with the names it reads and assigns replaced by position."""
    index = {n: f"_r{i}" for i, n in enumerate(names)}
    written: dict = {}

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id in index:
                return ast.Name(id=index[node.id], ctx=node.ctx)
            if isinstance(node.ctx, ast.Store):
                written.setdefault(node.id, f"_w{len(written)}")
                return ast.Name(id=written[node.id], ctx=node.ctx)
            return node

    return ast.dump(Rename().visit(ast.parse(ast.unparse(stmt)).body[0]))


def _compile(em, stmt: ast.stmt, names: list, described: tuple, nbufs: int, nnums: int):
    fnty = ir.FunctionType(ir.VoidType(), [I8P.as_pointer(), DP])
    em.functions_made += 1  # (a statement outlined within another's comes first)
    fn = ir.Function(em.module, fnty, name=f"statement_{em.functions_made}")
    fn.linkage = "internal"
    entry = Outlined(fn, numbers_in=nnums)
    pointers, numbers = fn.args
    saved = (em.fn, em.b, em.eb, em.body, em.bases, em.slots, em.allocate)
    em.fn, em.bases, em.slots = fn, {}, {}
    em.eb = ir.IRBuilder(fn.append_basic_block("entry"))
    em.body = fn.append_basic_block("body")
    em.b = ir.IRBuilder(em.body)
    local: list = []

    def pointer(k: int, buf: Buffer) -> Buffer:
        p = em.eb.load(em.eb.gep(pointers, [I64(k)]))
        em.bases[buf] = em.eb.bitcast(p, DP if buf.dtype == "f8" else I8P)
        return buf

    def allocate(shape: tuple, dtype: str) -> Arr:
        size = 1
        for n in shape:
            size *= n
        buf = pointer(nbufs + len(entry.allocs), Buffer("arena", -1, size, dtype))
        entry.allocs.append((tuple(shape), dtype))
        local.append(buf)
        return Arr(buf, 0, tuple(shape), c_strides(shape))

    em.allocate = allocate
    try:
        params = [None] * nbufs
        env = {
            n: _rebuild(d, params, pointer, em, numbers)
            for n, d in zip(names, described, strict=True)
        }
        em.statement(stmt, env)
        for name in _targets(stmt):
            entry.results.append(_result(em, env[name], params, local, numbers, entry))
        em.b.ret_void()
        em.eb.branch(em.body)
    finally:
        em.fn, em.b, em.eb, em.body, em.bases, em.slots, em.allocate = saved
    return entry


def _rebuild(d, params: list, pointer, em, numbers):
    """The value inside the function of the description ``d`` of an argument."""
    kind = d[0]
    if kind == "A":
        _, k, bkind, dtype, offset, shape, strides = d
        if params[k] is None:
            params[k] = pointer(k, Buffer(bkind, k, -1, dtype))
        return Arr(params[k], offset, shape, strides)
    if kind == "C":
        return Num(const=d[2])
    if kind == "N":
        return Num(value=em.eb.load(em.eb.gep(numbers, [I64(d[1])])), integer=d[2])
    return tuple(_rebuild(x, params, pointer, em, numbers) for x in d[1])


def _result(em, v, params: list, local: list, numbers, entry: Outlined):
    """How the caller finds a name the statement assigns: a view of a buffer it
    passed or of one made for the statement, a constant, a number the function
    writes."""
    if isinstance(v, Arr):
        for where, bufs in (("R", params), ("L", local)):
            k = next((i for i, b in enumerate(bufs) if b is v.buf), None)
            if k is not None:
                return (where, k, v.offset, v.shape, v.strides)
        raise Unsupported("an array of no known buffer")
    if isinstance(v, Num):
        if v.const is not None:
            return ("C", v.const)
        k = entry.numbers_in + entry.numbers_out
        em.b.store(em.as_double(v), em.b.gep(numbers, [I64(k)]))
        entry.numbers_out += 1
        return ("N", k, v.integer)
    if isinstance(v, tuple):
        return ("T", tuple(_result(em, x, params, local, numbers, entry) for x in v))
    raise Unsupported("a value of another kind")


def _call(em, entry: Outlined, bufs: list, nums: list, env: dict, targets: list) -> None:
    made = [em.new_array(shape, dtype) for shape, dtype in entry.allocs]
    every = bufs + [(a.buf, 0) for a in made]
    b = em.b
    pointers = em.alloca(ir.ArrayType(I8P, max(1, len(every))))
    for i, (buf, start) in enumerate(every):
        at = em.base(buf) if start == 0 else b.gep(em.base(buf), [I64(start)])
        b.store(b.bitcast(at, I8P), b.gep(pointers, [I32(0), I32(i)]))
    count = max(1, entry.numbers_in + entry.numbers_out)
    numbers = em.alloca(ir.ArrayType(DOUBLE, count))
    for i, v in enumerate(nums):
        b.store(em.as_double(v), b.gep(numbers, [I32(0), I32(i)]))
    first = [b.gep(pointers, [I32(0), I32(0)]), b.gep(numbers, [I32(0), I32(0)])]
    b.call(entry.fn, first)
    entry.calls += 1

    def value(r):
        kind = r[0]
        if kind == "R":
            buf, start = bufs[r[1]]
            return Arr(buf, start + r[2], r[3], r[4])
        if kind == "L":
            return Arr(made[r[1]].buf, r[2], r[3], r[4])
        if kind == "C":
            return Num(const=r[1])
        if kind == "N":
            return Num(value=b.load(b.gep(numbers, [I32(0), I32(r[1])])), integer=r[2])
        return tuple(value(x) for x in r[1])

    for name, r in zip(targets, entry.results, strict=True):
        env[name] = value(r)


def finish(outlines: dict) -> None:
    """Functions called more than once stay functions (LLVM inlines the others)."""
    for entry in outlines.values():
        if entry.calls > 1:
            entry.fn.attributes.add("noinline")
