"""Add, Sub, Mul, Div, Pow: numpy-broadcast binary arithmetic."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import elementwise, is_float
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register(("Add", "Sub", "Mul", "Div"), kind=OpKind.ELEMENTWISE, since=7)
def lower_arithmetic(ctx: LowerContext) -> list[te.Tensor]:
    a, b = ctx.input(0), ctx.input(1)
    if a.dtype != b.dtype:
        raise ctx.error(f"input dtypes differ ({a.dtype} vs {b.dtype})")
    op = ctx.node.op_type
    if op == "Div" and not is_float(str(a.dtype)):
        # ONNX integer Div truncates toward zero (C semantics), unlike floor division.
        return [elementwise(ctx, [a, b], tirx.truncdiv)]
    fn = {"Add": lambda x, y: x + y, "Sub": lambda x, y: x - y,
          "Mul": lambda x, y: x * y, "Div": lambda x, y: x / y}[op]
    return [elementwise(ctx, [a, b], fn)]


@register("Pow", kind=OpKind.ELEMENTWISE, since=7)
def lower_pow(ctx: LowerContext) -> list[te.Tensor]:
    base, exponent = ctx.input(0), ctx.input(1)
    dtype = str(base.dtype)
    known = ctx.const(1)
    if known is not None and known.size == 1 and float(known.reshape(-1)[0]) in (1.0, 2.0, 3.0, 0.5):
        # Common exporter spellings (x**2 in variance, sqrt) become multiplies: exact and fast.
        p = float(known.reshape(-1)[0])
        fns = {1.0: lambda x, _: x, 2.0: lambda x, _: x * x, 3.0: lambda x, _: x * x * x,
               0.5: lambda x, _: te.sqrt(x)}
        return [elementwise(ctx, [base, exponent], fns[p])]

    exp_dtype = str(exponent.dtype)

    def power(x: te.Tensor, y: te.Tensor) -> te.Tensor:
        # Element loads are untyped Calls in TVM 0.27 (no .dtype): use the tensors' dtypes.
        if is_float(dtype):
            return te.power(x, y.astype(dtype) if exp_dtype != dtype else y)
        # Integer base: the exponent keeps its fraction (4 ** 0.5 == 2), the result is the base type.
        return te.power(x.astype("float64"), y.astype("float64")).astype(dtype)

    return [elementwise(ctx, [base, exponent], power)]
