"""Pooling: MaxPool (with Indices), AveragePool, GlobalAveragePool, GlobalMaxPool; any spatial rank.

Padding never wins a max and is counted by an average only with count_include_pad=1, and then only
the explicit pads, not the ceil_mode overhang (onnx's reference semantics).
"""
from __future__ import annotations

import json
from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import is_float
from onnxjit.compiler.ops._tir import SPEC_KEY
from onnxjit.compiler.ops._window import Window, window
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx


def _checked(ctx: LowerContext) -> tuple[te.Tensor, tuple[int, ...]]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    if len(shape) < 3:
        raise ctx.error(f"input must be (N, C, spatial...), got {shape}")
    return x, shape


def _window(ctx: LowerContext, shape: tuple[int, ...]) -> Window:
    kernel = ctx.attr("kernel_shape")
    if not kernel:
        raise ctx.error("kernel_shape is required")
    return window(ctx, shape[2:], [int(k) for k in kernel], bool(ctx.attr("ceil_mode", 0)))


def _taps(win: Window, sp: tuple[Any, ...], rk: list[Any]) -> tuple[list[Any], Any]:
    """Input indices (clamped) of tap rk at output sp, and whether the tap is inside the input."""
    idx, inside = [], tirx.const(True, "bool")
    for i in range(win.rank):
        q = sp[i] * win.strides[i] + rk[i] * win.dilations[i] - win.pad_begin[i]
        inside = tirx.all(inside, q >= 0, q < win.in_size[i])
        idx.append(tirx.max(tirx.min(q, win.in_size[i] - 1), 0))
    return idx, inside


def _lowest(dtype: str) -> Any:
    return tirx.min_value(dtype)


@register("MaxPool", kind=OpKind.OPAQUE, since=1)
def lower_maxpool(ctx: LowerContext) -> list[te.Tensor]:
    x, shape = _checked(ctx)
    win = _window(ctx, shape)
    dtype = ctx.dtype(0)
    if int(ctx.attr("storage_order", 0)) not in (0, 1):
        raise ctx.error("storage_order must be 0 or 1")
    rk = [te.reduce_axis((0, k), name=f"rk{i}") for i, k in enumerate(win.kernel)]

    def body(b: Any, c: Any, *sp: Any) -> Any:
        idx, inside = _taps(win, sp, rk)
        return te.max(tirx.if_then_else(inside, x[(b, c, *idx)], _lowest(dtype)), axis=rk)

    indices = len(ctx.node.outputs) > 1 and bool(ctx.node.outputs[1])
    out = te.compute((shape[0], shape[1], *win.out_size), body, name=ctx.name("maxpool"),
                     attrs=_spec_2d(shape, win, dtype) if not indices else None)
    if not indices:
        return [out]
    return [out, _argmax(ctx, x, shape, win, out)]


def _spec_2d(shape: tuple[int, ...], win: Window, dtype: str, op: str = "MaxPool2d",
             include_pad: bool = False) -> dict[str, str] | None:
    """The spec schedules/pool.py generates a row-wise kernel from: 2-d float32, no dilation."""
    if win.rank != 2 or dtype != "float32" or win.dilations != (1, 1):
        return None
    spec = {"op": op, "n": shape[0] * shape[1], "h": shape[2], "w": shape[3],
            "kh": win.kernel[0], "kw": win.kernel[1], "sh": win.strides[0], "sw": win.strides[1],
            "pt": win.pad_begin[0], "pl": win.pad_begin[1], "oh": win.out_size[0],
            "ow": win.out_size[1]}
    if op == "AveragePool2d":   # the divisor counts explicit pads only with count_include_pad
        spec.update(pb=win.pad_end[0], pr=win.pad_end[1], include_pad=int(include_pad))
    return {SPEC_KEY: json.dumps(spec, sort_keys=True)}


def _argmax(ctx: LowerContext, x: te.Tensor, shape: tuple[int, ...], win: Window,
            best: te.Tensor) -> te.Tensor:
    """Indices: the flat input index of the first tap equal to the max (row-major, or
    column-major over the spatial dims with storage_order=1)."""
    rk = [te.reduce_axis((0, k), name=f"ak{i}") for i, k in enumerate(win.kernel)]
    spatial = shape[2:]
    column_major = int(ctx.attr("storage_order", 0)) == 1
    big = tirx.const(2**62, "int64")

    def body(b: Any, c: Any, *sp: Any) -> Any:
        idx, inside = _taps(win, sp, rk)
        flat = tirx.const(0, "int64")
        order = range(win.rank - 1, -1, -1) if column_major else range(win.rank)
        for i in order:
            flat = flat * spatial[i] + idx[i].astype("int64")
        plane = 1
        for d in spatial:
            plane *= d
        flat = (b.astype("int64") * shape[1] + c.astype("int64")) * plane + flat
        hit = tirx.all(inside, x[(b, c, *idx)] == best[(b, c, *sp)])
        return te.min(tirx.if_then_else(hit, flat, big), axis=rk)

    return te.compute(best.shape, body, name=ctx.name("argmax"))


@register("AveragePool", kind=OpKind.OPAQUE, since=1)
def lower_averagepool(ctx: LowerContext) -> list[te.Tensor]:
    x, shape = _checked(ctx)
    if not is_float(ctx.dtype(0)):
        raise ctx.error(f"float input expected, got {ctx.dtype(0)}")
    win = _window(ctx, shape)
    dtype = ctx.dtype(0)
    include_pad = bool(ctx.attr("count_include_pad", 0))
    rk = [te.reduce_axis((0, k), name=f"rk{i}") for i, k in enumerate(win.kernel)]

    def total(b: Any, c: Any, *sp: Any) -> Any:
        idx, inside = _taps(win, sp, rk)
        return te.sum(tirx.if_then_else(inside, x[(b, c, *idx)], tirx.const(0, dtype)), axis=rk)

    sums = te.compute((shape[0], shape[1], *win.out_size), total, name=ctx.name("sum"))

    def count(sp: tuple[Any, ...]) -> Any:
        n = tirx.const(1, "int32")
        for i in range(win.rank):
            lo, hi = (-win.pad_begin[i], win.in_size[i] + win.pad_end[i]) if include_pad else (
                0, win.in_size[i])
            start = sp[i] * win.strides[i] - win.pad_begin[i]
            # taps start + k*d for k < kernel that fall in [lo, hi)
            first = tirx.max(0, (lo - start + win.dilations[i] - 1) // win.dilations[i])
            last = tirx.min(win.kernel[i], (hi - start + win.dilations[i] - 1) // win.dilations[i])
            n = n * tirx.max(last - first, 1)
        return n

    return [te.compute(sums.shape, lambda b, c, *sp: sums[(b, c, *sp)] / count(sp).astype(dtype),
                       name=ctx.name("avgpool"),
                       attrs=_spec_2d(shape, win, dtype, "AveragePool2d", include_pad))]


def _global(ctx: LowerContext, reducer: str) -> list[te.Tensor]:
    x, shape = _checked(ctx)
    spatial = shape[2:]
    rk = [te.reduce_axis((0, d), name=f"rk{i}") for i, d in enumerate(spatial)]
    keep = (shape[0], shape[1], *([1] * len(spatial)))
    if reducer == "max":
        return [te.compute(keep, lambda b, c, *_: te.max(x[(b, c, *rk)], axis=rk),
                           name=ctx.name("gmax"))]
    if not is_float(ctx.dtype(0)):
        raise ctx.error(f"float input expected, got {ctx.dtype(0)}")
    size = 1
    for d in spatial:
        size *= d
    sums = te.compute(keep, lambda b, c, *_: te.sum(x[(b, c, *rk)], axis=rk), name=ctx.name("gsum"))
    scale = tirx.const(1.0 / size, ctx.dtype(0))
    return [te.compute(keep, lambda *i: sums[i] * scale, name=ctx.name("gavg"))]


@register("GlobalAveragePool", kind=OpKind.REDUCTION, since=1)
def lower_global_average_pool(ctx: LowerContext) -> list[te.Tensor]:
    return _global(ctx, "avg")


@register("GlobalMaxPool", kind=OpKind.REDUCTION, since=1)
def lower_global_max_pool(ctx: LowerContext) -> list[te.Tensor]:
    return _global(ctx, "max")
