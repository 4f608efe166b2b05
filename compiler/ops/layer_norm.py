"""LayerNormalization (opset 17): normalise over axes [axis, rank), then scale and shift.

Statistics use the stash type (float32 unless stash_type says double) and two passes over each
row (mean, then the mean of squared deviations): as cheap as one pass while the row is in cache,
and without the cancellation of E[x^2] - E[x]^2. Optional outputs Mean and InvStdDev have the
input's leading dims and 1 for each normalised axis.
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import broadcast_index, const
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te

Expr = Any
STASH_TYPES = {1: "float32", 11: "float64"}


def row_stats(ctx: LowerContext, x: te.Tensor, axis: int, work: str, *, centred: bool
              ) -> tuple[te.Tensor | None, te.Tensor]:
    """(mean, mean of squares) over axes [axis, rank) as [*lead, 1, ..., 1] tensors.

    centred: the second moment is taken about the mean (variance); else about 0 (RMS).
    """
    shape = [int(d) for d in x.shape]
    lead, tail = shape[:axis], shape[axis:]
    count = 1
    for d in tail:
        count *= d
    stat_shape = (*lead, *([1] * len(tail)))

    def at(index: tuple[Expr, ...], red: list[Any]) -> Expr:
        return x(*index[:axis], *red).astype(work)

    def moment(fn: Any, name: str) -> te.Tensor:
        red = [te.reduce_axis((0, d), name=f"r{a}") for a, d in enumerate(tail)]
        return te.compute(stat_shape, lambda *i: te.sum(fn(i, red), axis=red),
                          name=ctx.name(name))

    inv_count = const(1.0 / count, work)
    mean = None
    if centred:
        total = moment(lambda i, red: at(i, red), "sum")
        mean = te.compute(stat_shape, lambda *i: total(*i) * inv_count, name=ctx.name("mean"))

        def dev2(i: tuple[Expr, ...], red: list[Any]) -> Expr:
            d = at(i, red) - mean(*i)
            return d * d
        squares = moment(dev2, "sqdev")
    else:
        squares = moment(lambda i, red: at(i, red) * at(i, red), "sumsq")
    second = te.compute(stat_shape, lambda *i: squares(*i) * inv_count, name=ctx.name("var"))
    return mean, second


def normalize(ctx: LowerContext, x: te.Tensor, axis: int, scale: te.Tensor,
              bias: te.Tensor | None, mean: te.Tensor | None, inv_std: te.Tensor,
              work: str) -> te.Tensor:
    """Y = (x - mean) * inv_std * scale (+ bias), scale/bias broadcast over the normalised dims."""
    shape = [int(d) for d in x.shape]
    rank = len(shape)
    dtype = str(x.dtype)

    def stat_index(index: tuple[Expr, ...]) -> list[Expr]:
        return [*index[:axis], *([0] * (rank - axis))]

    def body(*index: Expr) -> Expr:
        v = x(*index).astype(work)
        if mean is not None:
            v = v - mean(*stat_index(index))
        v = v * inv_std(*stat_index(index))
        # As the spec's function body: normalise in the stash type, scale/shift in X's type.
        v = v.astype(dtype) if work != dtype else v
        v = v * scale(*broadcast_index(scale.shape, index))
        if bias is not None:
            v = v + bias(*broadcast_index(bias.shape, index))
        return v

    return te.compute(tuple(shape), body, name=ctx.name("norm"))


def inverse_std(ctx: LowerContext, second: te.Tensor, epsilon: float, work: str) -> te.Tensor:
    one, eps = const(1.0, work), const(epsilon, work)
    return te.compute(second.shape, lambda *i: one / te.sqrt(second(*i) + eps),
                      name=ctx.name("inv_std"))


@register("LayerNormalization", kind=OpKind.REDUCTION, since=17)
def lower_layer_norm(ctx: LowerContext) -> list[te.Tensor]:
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.optional(2)
    rank = len(ctx.shape(0))
    axis = normalize_axis(int(ctx.attr("axis", -1)), rank, ctx)
    stash = int(ctx.attr("stash_type", 1))
    if stash not in STASH_TYPES:
        raise ctx.error(f"stash_type {stash} is not supported (1 = float32, 11 = float64)")
    work = "float64" if str(x.dtype) == "float64" else STASH_TYPES[stash]
    mean, var = row_stats(ctx, x, axis, work, centred=True)
    assert mean is not None
    inv_std = inverse_std(ctx, var, float(ctx.attr("epsilon", 1e-5)), work)
    y = normalize(ctx, x, axis, scale, bias, mean, inv_std, work)
    outputs = [y]
    if len(ctx.node.outputs) > 1:
        # The statistics are outputs too: copies keep each output its own block.
        outputs.append(te.compute(mean.shape, lambda *i: mean(*i), name=ctx.name("mean_out")))
    if len(ctx.node.outputs) > 2:
        outputs.append(te.compute(inv_std.shape, lambda *i: inv_std(*i),
                                  name=ctx.name("inv_std_out")))
    return outputs
