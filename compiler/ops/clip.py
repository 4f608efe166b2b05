"""Clip: min(max(x, lo), hi), with bounds from attributes (opset 6) or optional inputs (opset 11+).

The result is max-then-min, as numpy.clip and the ONNX spec define it: when lo > hi every element
becomes hi. Bounds known at compile time become immediates; run-time bounds are read from their
(scalar) tensors inside the same loop.
"""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, const, is_float
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


def _clip(ctx: LowerContext, x: te.Tensor, lo: float | te.Tensor | None,
          hi: float | te.Tensor | None) -> te.Tensor:
    dtype = str(x.dtype)
    tensors = [x] + [b for b in (lo, hi) if isinstance(b, te.Tensor)]
    for t in tensors[1:]:
        if str(t.dtype) != dtype:
            raise ctx.error(f"bound dtype {t.dtype} differs from input dtype {dtype}")
        if int(np.prod([int(d) for d in t.shape])) != 1:
            raise ctx.error(f"bounds must be scalars, got shape {tuple(int(d) for d in t.shape)}")

    def bound(b: float | te.Tensor | None) -> Expr | None:
        if b is None:
            return None
        if isinstance(b, te.Tensor):
            # A run-time bound holds one element whatever its rank ([] or [1]): read it at 0.
            return b(*[0] * len(b.shape))
        return const(b, dtype)

    def body(*index: Expr) -> Expr:
        v = x(*index)
        low, high = bound(lo), bound(hi)
        # Compare-and-select rather than max/min: TVM's float max/min drop a NaN input (LLVM
        # maxnum), numpy and onnxruntime propagate it. Low first, so lo > hi gives hi.
        if low is not None:
            v = tirx.Select(v < low, low, v)
        if high is not None:
            v = tirx.Select(v > high, high, v)
        return v

    return te.compute(x.shape, body, name=ctx.name())


@register("Clip", kind=OpKind.ELEMENTWISE, since=6)
def lower_clip_6(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    if not is_float(str(x.dtype)):
        raise ctx.error(f"opset {ctx.opset} Clip takes float tensors, got {x.dtype}")
    # Attribute bounds are float32 in the proto; defaults are the float range (i.e. no bound).
    lo, hi = ctx.attr("min"), ctx.attr("max")
    return [_clip(ctx, x, None if lo is None else float(lo), None if hi is None else float(hi))]


@register("Clip", kind=OpKind.ELEMENTWISE, since=11)
def lower_clip_11(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    bounds: list[float | int | te.Tensor | None] = []
    for i in (1, 2):
        tensor = ctx.optional(i)
        value = ctx.const(i)
        if value is not None:
            if value.size != 1:
                raise ctx.error(f"bound (input {i}) must be a scalar, got shape {value.shape}")
            scalar = value.reshape(-1)[0]
            # An integer bound stays an exact Python int (int64 bounds do not fit a double).
            bounds.append(int(scalar) if np.issubdtype(value.dtype, np.integer) else float(scalar))
        else:
            bounds.append(tensor)
    return [_clip(ctx, x, bounds[0], bounds[1])]
