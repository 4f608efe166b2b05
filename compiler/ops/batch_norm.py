"""BatchNormalization in inference mode: y = (x - mean) / sqrt(var + eps) * scale + bias.

Elementwise per channel (axis 1), so it fuses as an epilogue; compiler/passes/fold_batch_norm.py
folds it into a preceding Conv's constant weights instead, when it can. training_mode=1 (batch
statistics, running-stat outputs) is not supported.
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import is_float
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("BatchNormalization", kind=OpKind.ELEMENTWISE, since=1)
def lower_batch_norm(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    if int(ctx.attr("training_mode", 0)) or int(ctx.attr("is_test", 1)) == 0 and ctx.opset < 7:
        raise ctx.error("training mode is not supported (inference only)")
    if sum(1 for o in ctx.node.outputs if o) > 1:
        raise ctx.error("running mean/var outputs (training mode) are not supported")
    if len(shape) < 2 or not is_float(ctx.dtype(0)):
        raise ctx.error(f"float input of rank >= 2 expected, got {ctx.dtype(0)}{list(shape)}")
    params = [ctx.input(i) for i in range(1, 5)]
    for i, p in enumerate(params, start=1):
        if ctx.shape(i) != (shape[1],):
            raise ctx.error(f"input {i} must have shape ({shape[1]},), got {ctx.shape(i)}")
    scale, bias, mean, var = params
    dtype = ctx.dtype(0)
    eps = tirx.const(float(ctx.attr("epsilon", 1e-5)), dtype)

    def body(*i: Any) -> Any:
        c = i[1]
        inv = scale[c].astype(dtype) / tirx.sqrt(var[c].astype(dtype) + eps)
        return (x[i] - mean[c].astype(dtype)) * inv + bias[c].astype(dtype)

    return [te.compute(shape, body, name=ctx.name("bn"))]
