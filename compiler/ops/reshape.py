"""Reshape: a view of its input (no kernel at run time)."""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, topi


def reshape_target(ctx: LowerContext, in_shape: tuple[int, ...], spec: np.ndarray) -> tuple[int, ...]:
    allowzero = int(ctx.attr("allowzero", 0))
    dims = [int(d) for d in spec.reshape(-1)]
    out = [in_shape[i] if d == 0 and not allowzero and i < len(in_shape) else d
           for i, d in enumerate(dims)]
    total = int(np.prod(in_shape, dtype=np.int64))
    if out.count(-1) > 1:
        raise ctx.error(f"shape {dims} has more than one -1")
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1], dtype=np.int64))
        if known == 0 or total % known:
            raise ctx.error(f"cannot reshape {in_shape} to {dims}")
        out[out.index(-1)] = total // known
    if int(np.prod(out, dtype=np.int64)) != total:
        raise ctx.error(f"cannot reshape {in_shape} ({total} elements) to {dims}")
    return tuple(out)


@register("Reshape", kind=OpKind.VIEW, since=5)
def lower_reshape(ctx: LowerContext) -> list[te.Tensor]:
    spec = ctx.require_const(1, "the target shape")
    return [topi.reshape(ctx.input(0), reshape_target(ctx, ctx.shape(0), spec))]
