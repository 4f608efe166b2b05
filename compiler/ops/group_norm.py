"""GroupNormalization: the C channels split into num_groups groups, each (n, group) normalised
over its channels and spatial positions, then scaled and shifted.

Opset 21: scale and bias per channel (shape (C)), stash_type. (Opset 18 scaled per group; onnx's
checker rejects that version as deprecated, so models cannot use it.) Statistics: LayerNormalization's
two passes (mean, then the mean of squared deviations) over each group's channels and spatial
axes (a flattened row view would cost a division per element).
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, const
from onnxjit.compiler.ops.layer_norm import STASH_TYPES, inverse_std
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


def _group_stats(ctx: LowerContext, x: te.Tensor, groups: int, per_group: int, count: int,
                 work: str) -> tuple[te.Tensor, te.Tensor]:
    """(mean, variance) per (n, group), shape (N, G), each a reduction over the group's channels
    and the spatial axes at once. (Per-channel partial sums first would be cheaper, but the
    reduction template then vectorises across the channels: a 320-lane gather that LLVM took
    minutes to compile.)"""
    spatial = [int(d) for d in x.shape[2:]]

    def moment(fn: Any, name: str) -> te.Tensor:
        rc = te.reduce_axis((0, per_group), name="rc")
        rs = [te.reduce_axis((0, d), name=f"r{a}") for a, d in enumerate(spatial)]
        return te.compute((int(x.shape[0]), groups),
                          lambda n, g: te.sum(fn(n, g, rc, rs), axis=[rc, *rs]), name=ctx.name(name))

    def at(n: Expr, g: Expr, rc: Any, rs: list[Any]) -> Expr:
        return x(n, g * per_group + rc, *rs).astype(work)

    inv_count = const(1.0 / count, work)
    total = moment(at, "sum")
    mean = te.compute(total.shape, lambda n, g: total(n, g) * inv_count, name=ctx.name("mean"))

    def dev2(n: Expr, g: Expr, rc: Any, rs: list[Any]) -> Expr:
        d = at(n, g, rc, rs) - mean(n, g)
        return d * d
    squares = moment(dev2, "sqdev")
    var = te.compute(total.shape, lambda n, g: squares(n, g) * inv_count, name=ctx.name("var"))
    return mean, var


@register("GroupNormalization", kind=OpKind.REDUCTION, since=21)
def lower_group_norm(ctx: LowerContext) -> list[te.Tensor]:
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    shape = ctx.shape(0)
    groups = int(ctx.attr("num_groups", 0))
    if len(shape) < 2:
        raise ctx.error(f"input of rank {len(shape)}: GroupNormalization needs (N, C, ...)")
    channels = shape[1]
    if groups < 1 or channels % groups:
        raise ctx.error(f"num_groups {groups} does not divide the {channels} channels")
    for i, name in ((1, "scale"), (2, "bias")):
        if ctx.shape(i) != (channels,):
            raise ctx.error(f"{name} has shape {ctx.shape(i)}, expected ({channels},)")
    stash = int(ctx.attr("stash_type", 1))
    if stash not in STASH_TYPES:
        raise ctx.error(f"stash_type {stash} is not supported (1 = float32, 11 = float64)")
    dtype = str(x.dtype)
    work = "float64" if dtype == "float64" else STASH_TYPES[stash]
    per_group = channels // groups
    count = per_group
    for d in shape[2:]:
        count *= d
    mean, var = _group_stats(ctx, x, groups, per_group, count, work)
    inv_std = inverse_std(ctx, var, float(ctx.attr("epsilon", 1e-5)), work)

    def body(*index: Expr) -> Expr:
        n, c = index[0], index[1]
        g = c // per_group
        v = (x(*index).astype(work) - mean(n, g)) * inv_std(n, g)
        v = v.astype(dtype) if work != dtype else v   # as the spec's function body
        return v * scale(c) + bias(c)

    return [te.compute(shape, body, name=ctx.name())]
