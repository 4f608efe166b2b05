"""Resize (opset 11/13/18/19): nearest and (n-)linear interpolation.

Coordinate transformation modes: half_pixel, half_pixel_symmetric, pytorch_half_pixel,
align_corners, asymmetric, tf_half_pixel_for_nn; nearest modes: round_prefer_floor/ceil, floor,
ceil. Output sizes come from constant `sizes` (with keep_aspect_ratio_policy) or `scales`.
Source coordinates are computed per output index in float32, as onnxruntime does; the scaled
length (scale * input size) stays unrounded, as in the spec and onnx's reference (onnxruntime
rounds it down first: the two differ for align_corners at non-integral scaled lengths). Axes
whose scale is 1 index straight through, so only the resized axes pay for interpolation (linear mixes 2^n
neighbours for n resized axes). Not supported (a clear error): cubic, antialias,
tf_crop_and_resize.
"""
from __future__ import annotations

import functools
import math
import operator

import numpy as np

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                    "asymmetric", "tf_half_pixel_for_nn")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
F32 = "float32"


def _f(value: float) -> Expr:
    return tirx.const(value, F32)


def output_geometry(ctx: LowerContext, shape: tuple[int, ...]) -> tuple[list[int], list[float]]:
    """(output shape, scale per axis) from the constant scales or sizes input."""
    rank = len(shape)
    axes_attr = ctx.attr("axes") if ctx.opset >= 18 else None
    axes = list(range(rank)) if axes_attr is None else [
        normalize_axis(int(a), rank, ctx) for a in axes_attr]
    scales_in = ctx.const(2) if ctx.optional(2) is not None else None
    sizes_in = ctx.const(3) if ctx.optional(3) is not None else None
    if ctx.optional(2) is not None and scales_in is None or (
            ctx.optional(3) is not None and sizes_in is None):
        raise ctx.error("scales and sizes must be known at compile time")
    if sizes_in is not None and sizes_in.size:
        sizes = [int(s) for s in sizes_in.reshape(-1)]
        if len(sizes) != len(axes):
            raise ctx.error(f"sizes has {len(sizes)} values for {len(axes)} axes")
        out, scales = list(shape), [1.0] * rank
        for a, s in zip(axes, sizes):
            out[a], scales[a] = s, s / shape[a] if shape[a] else 1.0
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            if policy not in ("not_larger", "not_smaller"):
                raise ctx.error(f"keep_aspect_ratio_policy {policy!r} is not supported")
            pick = min if policy == "not_larger" else max
            scale = pick(scales[a] for a in axes)
            for a in axes:
                scales[a], out[a] = scale, int(scale * shape[a] + 0.5)
        return out, scales
    if scales_in is None or not scales_in.size:
        raise ctx.error("one of scales or sizes is required")
    given = [float(s) for s in scales_in.astype(np.float32).reshape(-1)]
    if len(given) != len(axes):
        raise ctx.error(f"scales has {len(given)} values for {len(axes)} axes")
    scales = [1.0] * rank
    for a, s in zip(axes, given):
        if s <= 0:
            raise ctx.error(f"scale {s} must be positive")
        scales[a] = s
    out = [int(np.float32(d) * np.float32(s)) for d, s in zip(shape, scales)]
    return out, scales


def source_coordinate(i: Expr, size_in: int, size_out: int, scale: float, mode: str) -> Expr:
    """The input coordinate (float32) of output index i along one axis."""
    x = i.astype(F32)
    s = _f(scale)
    if mode == "asymmetric":
        return x / s
    if mode == "align_corners":
        length = np.float32(scale) * np.float32(size_in)
        return _f(0.0) if length <= 1 else x * _f((size_in - 1) / float(length - 1))
    if mode == "pytorch_half_pixel":
        return (x + _f(0.5)) / s - _f(0.5) if size_out > 1 else _f(0.0)
    if mode == "tf_half_pixel_for_nn":
        return (x + _f(0.5)) / s
    if mode == "half_pixel_symmetric":
        adjustment = size_out / (scale * size_in)
        offset = size_in / 2 * (1 - adjustment)
        return _f(offset) + (x + _f(0.5)) / s - _f(0.5)
    return (x + _f(0.5)) / s - _f(0.5)  # half_pixel


def _nearest(x: Expr, mode: str, size_in: int) -> Expr:
    if mode == "round_prefer_floor":
        r = tirx.ceil(x - _f(0.5))
    elif mode == "round_prefer_ceil":
        r = tirx.floor(x + _f(0.5))
    elif mode == "floor":
        r = tirx.floor(x)
    else:
        r = tirx.ceil(x)
    return tirx.min(tirx.max(r.astype("int32"), 0), size_in - 1)


def lower_resize(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    dtype = str(x.dtype)
    mode = ctx.attr("mode", "nearest")
    coord = ctx.attr("coordinate_transformation_mode", "half_pixel")
    nearest_mode = ctx.attr("nearest_mode", "round_prefer_floor")
    if mode not in ("nearest", "linear"):
        raise ctx.error(f"mode {mode!r} is not supported (nearest, linear)")
    if coord not in COORDINATE_MODES:
        raise ctx.error(f"coordinate_transformation_mode {coord!r} is not supported")
    if nearest_mode not in NEAREST_MODES:
        raise ctx.error(f"nearest_mode {nearest_mode!r} is not supported")
    if int(ctx.attr("antialias", 0)):
        raise ctx.error("antialias=1 is not supported")
    if mode == "linear" and dtype not in ("float16", "float32", "float64"):
        raise ctx.error(f"linear mode needs a float input, got {dtype}")
    out_shape, scales = output_geometry(ctx, shape)
    if any(d == 0 for d in shape) and math.prod(out_shape):
        raise ctx.error(f"cannot resize an empty input {shape} to {out_shape}")
    resized = [a for a in range(len(shape)) if scales[a] != 1.0 or shape[a] != out_shape[a]]

    def coordinate(a: int, i: Expr) -> Expr:
        return source_coordinate(i, shape[a], out_shape[a], scales[a], coord)

    if mode == "nearest":
        def nearest_body(*index: Expr) -> Expr:
            src = [(_nearest(coordinate(a, i), nearest_mode, shape[a]) if a in resized else i)
                   for a, i in enumerate(index)]
            return x(*src)

        return [te.compute(out_shape, nearest_body, name=ctx.name())]

    acc = "float64" if dtype == "float64" else F32

    def linear_body(*index: Expr) -> Expr:
        lows, highs, weights = {}, {}, {}
        for a in resized:
            c = tirx.min(tirx.max(coordinate(a, index[a]), _f(0.0)), _f(shape[a] - 1))
            lo = tirx.floor(c)
            lows[a] = lo.astype("int32")
            highs[a] = tirx.min(lows[a] + 1, shape[a] - 1)
            weights[a] = (c - lo).astype(acc)
        terms = []
        for corner in range(1 << len(resized)):
            src, factors = list(index), []
            for bit, a in enumerate(resized):
                high = corner >> bit & 1
                src[a] = highs[a] if high else lows[a]
                w = weights[a]
                factors.append(w if high else tirx.const(1.0, acc) - w)
            terms.append(functools.reduce(operator.mul, factors) * x(*src).astype(acc))
        total = functools.reduce(operator.add, terms) if terms else x(*index).astype(acc)
        return total.astype(dtype)

    return [te.compute(out_shape, linear_body, name=ctx.name())]


register("Resize", kind=OpKind.INJECTIVE, since=11)(lower_resize)
