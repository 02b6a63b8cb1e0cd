"""The arithmetic of ``jit/emitter.py``'s values: numbers known when compiling are
folded in Python, numbers known only when the code runs are LLVM doubles, and an
operation with an array makes an elementwise expression (``Ew``) whose element
is computed as numpy computes it (a boolean's True is 1.0, ``%`` takes the sign of
the divisor, a comparison with NaN is false but ``!=``)."""

from __future__ import annotations

import operator

from llvmlite import ir

from .values import DOUBLE, FCMP, PYOPS, Ew, Num, Unsupported, broadcast

COMPARISONS = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip


class Arithmetic:
    """The operators of the values of an Emitter (which provides ``b``, ``ew``,
    ``lift`` and ``intrinsic``)."""

    def binary(self, op: str, x, y):
        if isinstance(x, Num) and isinstance(y, Num):
            return self.scalar(op, x, y)
        a, b = self.ew(x), self.ew(y)
        if a.boolean and b.boolean:
            raise Unsupported("arithmetic of two booleans")
        a, b = self._numeric(a), self._numeric(b)
        if op == "//":
            raise Unsupported(f"the array operator {op}")
        shape = broadcast(a.shape, b.shape)
        ga, gb = self.lift(a, shape), self.lift(b, shape)
        if op == "**" and isinstance(y, Num) and y.const == 2:

            def gen(idx):
                v = ga(idx)
                return self.b.fmul(v, v)
        else:

            def gen(idx):
                return self.arith(op, ga(idx), gb(idx))

        return Ew(shape, gen, a.reads + b.reads)

    def _numeric(self, e: Ew) -> Ew:
        """``e`` as doubles (a boolean's True is 1.0, as numpy casts it)."""
        if not e.boolean:
            return e
        return Ew(e.shape, lambda idx: self.b.uitofp(e.gen(idx), DOUBLE), e.reads)

    def arith(self, op: str, u: ir.Value, v: ir.Value) -> ir.Value:
        b = self.b
        if op == "+":
            return b.fadd(u, v)
        if op == "-":
            return b.fsub(u, v)
        if op == "*":
            return b.fmul(u, v)
        if op == "/":
            return b.fdiv(u, v)
        if op == "**":
            return b.call(self.intrinsic("llvm.pow", 2), [u, v])
        if op == "%":  # (numpy's: the sign of the divisor, -0.0 and 0.0 as numpy's)
            mod = b.frem(u, v)
            nonzero = b.fcmp_unordered("une", mod, DOUBLE(0.0))
            negative = [b.fcmp_ordered("olt", w, DOUBLE(0.0)) for w in (v, mod)]
            flip = b.xor(*negative)
            adjusted = b.select(b.and_(nonzero, flip), b.fadd(mod, v), mod)
            signed_zero = b.call(self.intrinsic("llvm.copysign", 2), [DOUBLE(0.0), v])
            return b.select(nonzero, adjusted, signed_zero)
        raise Unsupported(f"the operator {op}")

    def negate(self, v) -> Ew:
        e = self.ew(v)
        if e.boolean:
            raise Unsupported("negating booleans")
        return Ew(e.shape, lambda idx: self.b.fneg(e.gen(idx)), e.reads)

    def scalar(self, op: str, x: Num, y: Num) -> Num:
        if x.const is not None and y.const is not None:
            try:
                return Num(const=PYOPS[op](x.const, y.const))
            except (ZeroDivisionError, OverflowError, TypeError):
                raise Unsupported(f"{x.const!r} {op} {y.const!r}") from None
        if op == "//":
            raise Unsupported(f"the operator {op} on a number known only when called")
        integer = all(n.integer or isinstance(n.const, int) for n in (x, y))
        if op == "**" and y.const == 2:
            v = self.as_double(x)
            return Num(value=self.b.fmul(v, v), integer=integer)
        value = self.arith(op, self.as_double(x), self.as_double(y))
        return Num(value=value, integer=integer and op in ("+", "-", "*", "%"))

    def as_double(self, v: Num) -> ir.Value:
        if v.const is not None:
            if isinstance(v.const, bool | int | float):
                return DOUBLE(float(v.const))
            raise Unsupported(f"the number {v.const!r}")
        return v.value

    def compare(self, op: str, x, y):
        if isinstance(x, Num) and isinstance(y, Num):
            if x.const is not None and y.const is not None:
                return Num(const=COMPARISONS[op](x.const, y.const))
        return self._compare_ew(op, x, y)

    def logical(self, op: str, x, y) -> Ew:
        """``x & y``, ``x | y``, ``x ^ y`` of booleans."""
        a, b = self.ew(x), self.ew(y)
        if not (a.boolean and b.boolean):
            raise Unsupported(f"the operator {op} of numbers")
        shape = broadcast(a.shape, b.shape)
        ga, gb = self.lift(a, shape), self.lift(b, shape)
        how = {"&": self.b.and_, "|": self.b.or_, "^": self.b.xor}[op]
        return Ew(shape, lambda idx: how(ga(idx), gb(idx)), a.reads + b.reads, True)

    def _compare_ew(self, op: str, x, y) -> Ew:
        a, b = self.ew(x), self.ew(y)
        if a.boolean or b.boolean:
            raise Unsupported("a comparison of booleans")
        shape = broadcast(a.shape, b.shape)
        ga, gb = self.lift(a, shape), self.lift(b, shape)
        return Ew(shape, lambda idx: self.b.fcmp_unordered(FCMP[op], ga(idx), gb(idx))
                  if op == "!=" else self.b.fcmp_ordered(FCMP[op], ga(idx), gb(idx)),
                  a.reads + b.reads, True)  # fmt: skip
