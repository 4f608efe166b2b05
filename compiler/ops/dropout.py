"""Dropout at inference: the output is the input; the optional mask output is all true.

Training mode (a constant true `training_mode` input with a non-zero ratio) is refused: onnxjit
compiles inference graphs. passes/inference.py turns Dropout into an alias plus a constant mask, so
it costs nothing at run time; the lowering here only states the output types.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("Dropout", kind=OpKind.VIEW, since=7)
def lower_dropout(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    if ctx.opset >= 12 and ctx.optional(2) is not None:
        training = ctx.require_const(2, "training_mode")
        ratio = ctx.const(1)
        if bool(training.reshape(-1)[0]) and (ratio is None or float(ratio.reshape(-1)[0]) > 0):
            raise ctx.error("training mode (training_mode=true with a non-zero ratio) is not "
                            "supported: onnxjit compiles inference graphs")
    # Opset 7-9 type the mask like the data; 10+ make it bool.
    mask_dtype = "bool" if ctx.opset >= 10 else str(x.dtype)
    mask = te.compute(x.shape, lambda *_: tirx.const(1, mask_dtype), name=ctx.name("mask"))
    return [x, mask]
