"""ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp.

Axes come from the `axes` attribute (ReduceSum before opset 13, the others before 18) or from a
constant second input afterwards; no axes means all of them, unless noop_with_empty_axes is set
(then the op is the identity). keepdims (default 1) keeps reduced axes as size 1.
float16/bfloat16 accumulate in float32, like onnxruntime.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onnxjit.compiler.lower_context import LowerContext, normalize_axes
from onnxjit.compiler.ops._helpers import const, is_float
from onnxjit.compiler.ops._math import fast_exp
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

Expr = Any
# Input-axes form starts at these opsets (attribute form before).
_AXES_INPUT_SINCE = {"ReduceSum": 13}
_AXES_INPUT_DEFAULT = 18
_HALF = ("float16", "bfloat16")

_prod = te.comm_reducer(lambda x, y: x * y, lambda t: tirx.const(1, t), name="prod")
# TVM's max/min start from the lowest/highest finite value; ONNX's from -inf/+inf, which shows
# when every element is infinite (a fully masked attention row's max must equal -inf).
_max_inf = te.comm_reducer(lambda x, y: tirx.Max(x, y), lambda t: tirx.const(float("-inf"), t),
                           name="max_inf")
_min_inf = te.comm_reducer(lambda x, y: tirx.Min(x, y), lambda t: tirx.const(float("inf"), t),
                           name="min_inf")


def reduce_axes(ctx: LowerContext) -> list[int] | None:
    """The normalised axes to reduce, or None for the identity (noop_with_empty_axes)."""
    rank = len(ctx.shape(0))
    since = _AXES_INPUT_SINCE.get(ctx.node.op_type, _AXES_INPUT_DEFAULT)
    if ctx.opset >= since:
        given = ctx.require_const(1, "axes") if ctx.optional(1) is not None else None
        axes = [int(a) for a in given.reshape(-1)] if given is not None else []
    else:
        axes = [int(a) for a in (ctx.attr("axes") or [])]
    if not axes:
        if int(ctx.attr("noop_with_empty_axes", 0)):
            return None
        return list(range(rank))
    return normalize_axes(axes, rank, ctx)


def reduce(ctx: LowerContext, x: te.Tensor, axes: list[int], keepdims: bool,
           reducer: Callable[..., Expr], value: Callable[[Expr], Expr], name: str) -> te.Tensor:
    """reducer(value(x[...]), over `axes`) as a TE tensor with numpy keepdims semantics."""
    shape = [int(d) for d in x.shape]
    red = {a: te.reduce_axis((0, shape[a]), name=f"r{a}") for a in axes}
    out_shape = [1 if a in red else d for a, d in enumerate(shape) if keepdims or a not in red]

    def body(*index: Expr) -> Expr:
        it = iter(index)
        at: list[Expr] = []
        for a in range(len(shape)):
            if a in red:
                if keepdims:
                    next(it)
                at.append(red[a])
            else:
                at.append(next(it))
        return reducer(value(x(*at)), axis=list(red.values()))

    return te.compute(tuple(out_shape), body, name=ctx.name(name))


def _lower(ctx: LowerContext) -> te.Tensor:
    x = ctx.input(0)
    op = ctx.node.op_type
    dtype = str(x.dtype)
    axes = reduce_axes(ctx)
    if axes is None:
        return te.compute(x.shape, lambda *i: x(*i), name=ctx.name("identity"))
    keep = bool(int(ctx.attr("keepdims", 1)))
    # Half types accumulate in float32; bool max/min is an int8 max/min (any / all).
    work = "float32" if dtype in _HALF else "int8" if dtype == "bool" else dtype

    def up(v: Expr) -> Expr:
        return v.astype(work) if work != dtype else v

    count = 1
    for a in axes:
        count *= int(x.shape[a])
    if count == 0:
        return _empty(ctx, x, axes, keep, op, dtype)
    if op == "ReduceLogSumExp":
        # max-shifted so large inputs do not overflow: log(sum(exp(x - m))) + m
        mx = reduce(ctx, x, axes, True, te.max, up, "max")

        def shifted(*i: Expr) -> Expr:
            return fast_exp(up(x(*i)) - mx(*[0 if a in axes else v for a, v in enumerate(i)]), work)

        ex = te.compute(x.shape, shifted, name=ctx.name("exp"))
        total = reduce(ctx, ex, axes, keep, te.sum, lambda v: v, "sum")
        flat = te.compute(total.shape, lambda *i: te.log(total(*i)) + mx(*_keep_index(
            i, axes, keep, len(x.shape))), name=ctx.name("logsumexp"))
        return _down(ctx, flat, dtype)
    table: dict[str, tuple[Callable[..., Expr], Callable[[Expr], Expr]]] = {
        "ReduceSum": (te.sum, up), "ReduceMean": (te.sum, up), "ReduceMax": (te.max, up),
        "ReduceMin": (te.min, up), "ReduceProd": (_prod, up),
        "ReduceL1": (te.sum, lambda v: te.abs(up(v))),
        "ReduceL2": (te.sum, lambda v: up(v) * up(v)),
        "ReduceSumSquare": (te.sum, lambda v: up(v) * up(v)),
        "ReduceLogSum": (te.sum, up),
    }
    reducer, value = table[op]
    if is_float(work) and op in ("ReduceMax", "ReduceMin"):
        reducer = _max_inf if op == "ReduceMax" else _min_inf
    out = reduce(ctx, x, axes, keep, reducer, value, op.lower())
    post: Callable[[Expr], Expr] | None = None
    if op == "ReduceMean":
        if is_float(work):
            post = lambda v: v / const(float(count), work)
        else:
            post = lambda v: tirx.truncdiv(v, const(count, work))
    elif op == "ReduceL2":
        post = te.sqrt
    elif op == "ReduceLogSum":
        post = te.log
    if post is not None:
        out = _apply(ctx, out, post)
    return _down(ctx, out, dtype)


def _empty(ctx: LowerContext, x: te.Tensor, axes: list[int], keep: bool, op: str,
           dtype: str) -> te.Tensor:
    """A reduction over no elements: the reducer's identity (TVM's max/min start from the
    lowest/highest finite value, ONNX wants -inf/+inf; a mean of nothing is NaN)."""
    shape = [1 if a in axes else int(d) for a, d in enumerate(x.shape) if keep or a not in axes]
    inf = float("inf")
    floats = {"ReduceMax": -inf, "ReduceMin": inf, "ReduceProd": 1.0, "ReduceMean": float("nan"),
              "ReduceLogSum": -inf, "ReduceLogSumExp": -inf}
    if dtype == "bool":
        value: Expr = tirx.const(op == "ReduceMin", "bool")
    elif is_float(dtype):
        value = const(floats.get(op, 0.0), dtype)
    elif op in ("ReduceMax", "ReduceMin"):
        limit = tirx.min_value(dtype) if op == "ReduceMax" else tirx.max_value(dtype)
        value = limit
    else:
        value = const(1 if op == "ReduceProd" else 0, dtype)
    return te.compute(tuple(shape), lambda *i: value, name=ctx.name("empty"))


def _apply(ctx: LowerContext, t: te.Tensor, fn: Callable[[Expr], Expr]) -> te.Tensor:
    return te.compute(t.shape, lambda *i: fn(t(*i)), name=ctx.name("post"))


def _keep_index(index: tuple[Expr, ...], axes: list[int], keep: bool, rank: int) -> list[Expr]:
    """Index into a keepdims result from an index of a result with `keep`."""
    if keep:
        return [0 if a in axes else v for a, v in enumerate(index)]
    it = iter(index)
    return [0 if a in axes else next(it) for a in range(rank)]


def _down(ctx: LowerContext, t: te.Tensor, dtype: str) -> te.Tensor:
    if str(t.dtype) == dtype:
        return t
    return te.compute(t.shape, lambda *i: t(*i).astype(dtype), name=ctx.name("cast"))


_OPS = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
        "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp")


@register(_OPS, kind=OpKind.REDUCTION, since=1)
def lower_reduce(ctx: LowerContext) -> list[te.Tensor]:
    return [_lower(ctx)]


@register("ReduceSum", kind=OpKind.REDUCTION, since=13)
def lower_reduce_sum_13(ctx: LowerContext) -> list[te.Tensor]:
    return [_lower(ctx)]


@register(tuple(o for o in _OPS if o != "ReduceSum"), kind=OpKind.REDUCTION, since=18)
def lower_reduce_18(ctx: LowerContext) -> list[te.Tensor]:
    return [_lower(ctx)]
