"""Max, Min, Sum, Mean: elementwise over any number of broadcast inputs."""
from __future__ import annotations

from functools import reduce

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, elementwise, is_float
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


def _max(a: Expr, b: Expr) -> Expr:
    # Numpy's maximum propagates NaN, TVM's float max drops it, and the simplifier folds x != x
    # to false: when either is NaN both compares fail, and a + b is NaN.
    return tirx.Select(a >= b, a, tirx.Select(a < b, b, a + b))


def _min(a: Expr, b: Expr) -> Expr:
    return tirx.Select(a <= b, a, tirx.Select(a > b, b, a + b))


@register(("Max", "Min", "Sum", "Mean"), kind=OpKind.ELEMENTWISE, since=8)
def lower_variadic(ctx: LowerContext) -> list[te.Tensor]:
    inputs = [t for t in ctx.inputs if t is not None]
    if not inputs:
        raise ctx.error("needs at least one input")
    dtype = str(inputs[0].dtype)
    if any(str(t.dtype) != dtype for t in inputs):
        raise ctx.error(f"input dtypes differ: {[str(t.dtype) for t in inputs]}")
    op = ctx.node.op_type
    if op == "Mean" and not is_float(dtype):
        raise ctx.error(f"Mean needs a float dtype, got {dtype}")
    combine = {"Max": _max, "Min": _min, "Sum": lambda a, b: a + b, "Mean": lambda a, b: a + b}[op]

    def body(*values: Expr) -> Expr:
        total = reduce(combine, values)
        return total / tirx.const(len(values), dtype) if op == "Mean" else total

    return [elementwise(ctx, inputs, body)]
