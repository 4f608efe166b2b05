"""Pad (opset 2: pads attribute; 11+: pads/constant_value inputs; 18: axes; 19: wrap mode).

Modes: constant, reflect (mirror without repeating the edge), edge (repeat the edge), wrap
(periodic). Negative pads crop. Each output index maps to one input index per axis, so the op is
one gather-like TE compute; the constant value may be a run-time scalar.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.ops._movement import int_list
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

MODES = ("constant", "reflect", "edge", "wrap")


def _pads(ctx: LowerContext, rank: int) -> list[int]:
    """Begin pads then end pads, one per axis (axes not listed in `axes` get zero)."""
    if ctx.opset < 11:
        raw = int_list(ctx, ctx.attr("pads", ctx.attr("paddings")), "pads")
        axes = list(range(rank))
    else:
        raw = int_list(ctx, ctx.require_const(1, "pads"), "pads")
        axes_value = ctx.const(3) if ctx.opset >= 18 and ctx.optional(3) is not None else None
        if ctx.opset >= 18 and ctx.optional(3) is not None and axes_value is None:
            raise ctx.error("axes (input 3) must be known at compile time")
        axes = (list(range(rank)) if axes_value is None
                else [normalize_axis(int(a), rank, ctx) for a in axes_value.reshape(-1)])
    if len(raw) != 2 * len(axes):
        raise ctx.error(f"pads has {len(raw)} values, expected {2 * len(axes)}")
    full = [0] * (2 * rank)
    for i, axis in enumerate(axes):
        full[axis], full[rank + axis] = raw[i], raw[len(axes) + i]
    return full


def _source(i: Expr, begin: int, dim: int, mode: str) -> tuple[Expr, Expr | None]:
    """(input index, in-range condition or None) of output index i along one axis."""
    j = i - begin
    if mode == "constant":
        return tirx.min(tirx.max(j, 0), dim - 1), tirx.all(j >= 0, j < dim)
    if mode == "edge":
        return tirx.min(tirx.max(j, 0), dim - 1), None
    if mode == "wrap":
        return tirx.floormod(j, dim), None
    if dim == 1:  # reflect of a single element repeats it
        return tirx.const(0, "int32"), None
    period = 2 * (dim - 1)
    m = tirx.floormod(j, period)
    return tirx.Select(m < dim, m, period - m), None


def lower_pad(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    rank = len(shape)
    mode = ctx.attr("mode", "constant")
    if mode not in MODES or (mode == "wrap" and ctx.opset < 19):
        raise ctx.error(f"mode {mode!r} is not supported (expected one of {MODES})")
    pads = _pads(ctx, rank)
    out_shape = [d + pads[a] + pads[rank + a] for a, d in enumerate(shape)]
    if any(d < 0 for d in out_shape):
        raise ctx.error(f"pads {pads} crop more than the input shape {shape}")
    if mode != "constant" and any(d == 0 and o > 0 for d, o in zip(shape, out_shape)):
        raise ctx.error(f"mode {mode!r} cannot pad an empty axis")
    dtype = str(x.dtype)
    value_t = ctx.optional(2) if ctx.opset >= 11 else None
    attr_value = float(ctx.attr("value", 0.0))

    def fill() -> Expr:
        if value_t is None:
            return tirx.const(attr_value if ctx.opset < 11 else 0, dtype)
        return value_t(*([0] * len(value_t.shape)))

    if any(d == 0 for d in shape):  # nothing to read: all fill (checked non-constant above)
        return [te.compute(out_shape, lambda *_: fill(), name=ctx.name())]

    def body(*index: Expr) -> Expr:
        src: list[Expr] = []
        inside: list[Expr] = []
        for a, i in enumerate(index):
            if pads[a] == 0 and pads[rank + a] <= 0:
                src.append(i)  # unpadded (or only end-cropped) axis: the same index
                continue
            j, ok = _source(i, pads[a], shape[a], mode)
            src.append(j)
            if ok is not None:
                inside.append(ok)
        if not inside:
            return x(*src)
        return tirx.Select(tirx.all(*inside), x(*src), fill())

    return [te.compute(out_shape, body, name=ctx.name())]


register("Pad", kind=OpKind.INJECTIVE, since=2)(lower_pad)
register("Pad", kind=OpKind.INJECTIVE, since=11)(lower_pad)
