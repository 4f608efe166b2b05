"""onnxjit::PhaseInterleave: ConvTranspose's stride phases, one tensor each, woven into the image.

Inputs: prod(strides) tensors (N, M, Q...), in row-major phase order; attribute `strides`.
Output: (N, M, Q1, s1, Q2, s2, ...), viewed as (N, M, Q1*s1, ...) by a Reshape after it
(compiler/passes/conv_transpose.py). One kernel reads each phase once, where Concat -> Transpose
copied everything twice (torch's 3x3 s2 decoder, 32x112x112: 0.23 ms for the two).
"""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.graph import ONNXJIT_DOMAIN
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


@register("PhaseInterleave", kind=OpKind.INJECTIVE, domain=ONNXJIT_DOMAIN)
def lower_phase_interleave(ctx: LowerContext) -> list[te.Tensor]:
    strides = [int(s) for s in ctx.attr("strides") or []]
    parts = [ctx.input(i) for i in range(len(ctx.node.inputs))]
    shape = ctx.shape(0)
    if len(strides) != len(shape) - 2 or len(parts) != int(np.prod(strides)) or any(
            ctx.shape(i) != shape for i in range(len(parts))):
        raise ctx.error(f"{len(parts)} phases of one shape expected for strides {strides}, got "
                        f"{[ctx.shape(i) for i in range(len(parts))]}")
    rank = len(strides)
    out_shape = (*shape[:2], *(d for q, s in zip(shape[2:], strides) for d in (q, s)))

    def body(n: object, m: object, *idx: object) -> object:
        qs, rs = idx[0::2], idx[1::2]
        phase = rs[0]
        for i in range(1, rank):
            phase = phase * strides[i] + rs[i]
        value = parts[-1][(n, m, *qs)]
        for p in range(len(parts) - 2, -1, -1):
            value = tirx.if_then_else(phase == p, parts[p][(n, m, *qs)], value)
        return value

    return [te.compute(out_shape, body, name=ctx.name("interleave"))]
