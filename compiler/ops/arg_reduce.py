"""ArgMax / ArgMin (opset 1/11/12/13): the index of the extreme value along one axis (int64).

One TE reduction over (index, value) pairs. Ties go to the first index, or to the last with
select_last_index=1 (opset 12); the tie rule is part of the combiner, so the result does not
depend on the order a schedule visits the axis in.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import Expr, is_float
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

INT64_MAX = 2**63 - 1


def _lowest(dtype: str, argmax: bool) -> Expr:
    """The identity value: below (argmax) or above (argmin) every element."""
    if is_float(dtype):
        return tirx.const(float("-inf") if argmax else float("inf"), dtype)
    return tirx.min_value(dtype) if argmax else tirx.max_value(dtype)


def lower_arg_reduce(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    rank = max(len(shape), 1)
    axis = normalize_axis(int(ctx.attr("axis", 0)), rank, ctx)
    if not shape or shape[axis] == 0:
        raise ctx.error(f"cannot reduce an empty or scalar input (shape {shape})")
    keepdims = bool(ctx.attr("keepdims", 1))
    last = bool(ctx.attr("select_last_index", 0))
    argmax = ctx.node.op_type == "ArgMax"
    start_index = -1 if last else INT64_MAX

    def combine(a: tuple[Expr, Expr], b: tuple[Expr, Expr]) -> tuple[Expr, Expr]:
        beats = (b[1] > a[1]) if argmax else (b[1] < a[1])
        tie_wins = (b[0] > a[0]) if last else (b[0] < a[0])
        take = tirx.Or(beats, tirx.And(b[1] == a[1], tie_wins))
        return tirx.Select(take, b[0], a[0]), tirx.Select(take, b[1], a[1])

    def identity(t0: str, t1: str) -> tuple[Expr, Expr]:
        return tirx.const(start_index, t0), _lowest(t1, argmax)

    reducer = te.comm_reducer(combine, identity, name=ctx.name("reducer"))
    k = te.reduce_axis((0, shape[axis]), name="k")
    out_shape = [1 if a == axis else d for a, d in enumerate(shape)] if keepdims else [
        d for a, d in enumerate(shape) if a != axis]

    def body(*index: Expr) -> Expr:
        outer = list(index[:axis])
        inner = list(index[axis + 1:] if keepdims else index[axis:])
        return reducer((k.var.astype("int64"), x(*outer, k, *inner)), axis=k)

    idx, _ = te.compute(out_shape, body, name=ctx.name())
    return [idx]


register(("ArgMax", "ArgMin"), kind=OpKind.OPAQUE, since=1)(lower_arg_reduce)
