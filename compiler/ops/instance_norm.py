"""InstanceNormalization (opset 6): normalise each (n, c) plane over its spatial axes, then scale
and shift per channel: Y = (X - mean) / sqrt(var + epsilon) * scale[c] + B[c].

Shares LayerNormalization's two-pass row statistics (over axes [2, rank)), computed in float32
for float16 inputs as onnxruntime does.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.ops.layer_norm import inverse_std, row_stats
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


@register("InstanceNormalization", kind=OpKind.REDUCTION, since=6)
def lower_instance_norm(ctx: LowerContext) -> list[te.Tensor]:
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    shape = ctx.shape(0)
    if len(shape) < 3:
        raise ctx.error(f"input of rank {len(shape)}: InstanceNormalization needs (N, C, D1, ...)")
    for i, name in ((1, "scale"), (2, "B")):
        if ctx.shape(i) != (shape[1],):
            raise ctx.error(f"{name} has shape {ctx.shape(i)}, expected ({shape[1]},)")
    dtype = str(x.dtype)
    work = "float64" if dtype == "float64" else "float32"
    mean, var = row_stats(ctx, x, 2, work, centred=True)
    assert mean is not None
    inv_std = inverse_std(ctx, var, float(ctx.attr("epsilon", 1e-5)), work)
    spatial = [0] * (len(shape) - 2)

    def body(*index: Expr) -> Expr:
        n, c = index[0], index[1]
        v = (x(*index).astype(work) - mean(n, c, *spatial)) * inv_std(n, c, *spatial)
        v = v * scale(c).astype(work) + bias(c).astype(work)
        return v.astype(dtype) if work != dtype else v

    return [te.compute(shape, body, name=ctx.name())]
