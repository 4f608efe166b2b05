"""RMSNormalization (opset 23): Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * scale.

Shares LayerNormalization's row statistics (uncentred) and normalisation; the statistics use the
stash type (float32 by default).
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops.layer_norm import STASH_TYPES, inverse_std, normalize, row_stats
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


@register("RMSNormalization", kind=OpKind.REDUCTION, since=23)
def lower_rms_norm(ctx: LowerContext) -> list[te.Tensor]:
    x, scale = ctx.input(0), ctx.input(1)
    axis = normalize_axis(int(ctx.attr("axis", -1)), len(ctx.shape(0)), ctx)
    stash = int(ctx.attr("stash_type", 1))
    if stash not in STASH_TYPES:
        raise ctx.error(f"stash_type {stash} is not supported (1 = float32, 11 = float64)")
    work = "float64" if str(x.dtype) == "float64" else STASH_TYPES[stash]
    _, mean_square = row_stats(ctx, x, axis, work, centred=False)
    inv_rms = inverse_std(ctx, mean_square, float(ctx.attr("epsilon", 1e-5)), work)
    return [normalize(ctx, x, axis, scale, None, None, inv_rms, work)]
