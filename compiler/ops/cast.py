"""Cast and CastLike between numeric and bool dtypes, with numpy's conversion semantics.

float -> int truncates toward zero (LLVM's fptosi, numpy's astype); int -> narrower int wraps;
anything -> bool is `x != 0` (a plain TVM cast to bool would keep only the low bit of an int
and truncate 0.5 to False). Out-of-range float -> int conversions are undefined in ONNX, C and
numpy alike; onnxjit gives whatever the hardware conversion gives.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, const, elementwise, is_float
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

# Element types with a numpy dtype (bfloat16: ml_dtypes') and a TVM dtype of the same name.
SUPPORTED = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "bfloat16",
})


def _cast(ctx: LowerContext, x: te.Tensor, to: str) -> te.Tensor:
    src = str(x.dtype)
    for dtype in (src, to):
        if dtype not in SUPPORTED:
            raise ctx.error(f"cast {src} -> {to}: dtype {dtype} is not supported")
    if src == to:
        return x   # the kernel builder adds a copy if this is a kernel output

    def convert(v: Expr) -> Expr:
        if to == "bool":
            # TVM's float != is an ordered compare (NaN != 0 is False) and the simplifier turns
            # Not(v == 0) back into it; numpy says bool(NaN) is True, so test NaN explicitly.
            nonzero = v != const(0, src)
            return tirx.Or(nonzero, tirx.isnan(v)) if is_float(src) else nonzero
        return v.astype(to)

    return elementwise(ctx, [x], convert)


def _target_dtype(ctx: LowerContext, to: int) -> str:
    if to == TensorProto.BFLOAT16:
        return "bfloat16"   # ml_dtypes' numpy type; TVM's bfloat16 converts with round-to-even
    if to == TensorProto.STRING or to >= TensorProto.FLOAT8E4M3FN:
        name = TensorProto.DataType.Name(to)
        raise ctx.error(f"cast to {name} is not supported (no native numpy/TVM dtype)")
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(to)).name
    except (KeyError, ValueError, TypeError):
        raise ctx.error(f"unknown target element type {to}") from None


def _check_saturate(ctx: LowerContext) -> None:
    # `saturate` (opset 19+) only changes float8 results; those targets are rejected above, so
    # for every cast onnxjit performs the attribute has no effect and is accepted either way.
    if int(ctx.attr("saturate", 1)) not in (0, 1):
        raise ctx.error(f"saturate must be 0 or 1, got {ctx.attr('saturate')}")


@register("Cast", kind=OpKind.ELEMENTWISE, since=6)
def lower_cast(ctx: LowerContext) -> list[te.Tensor]:
    # Opset 1 spelled `to` as a string; 6+ uses the TensorProto element type enum.
    to = ctx.attr("to")
    if to is None:
        raise ctx.error("attribute `to` is required")
    _check_saturate(ctx)
    return [_cast(ctx, ctx.input(0), _target_dtype(ctx, int(to)))]


@register("CastLike", kind=OpKind.ELEMENTWISE, since=15)
def lower_cast_like(ctx: LowerContext) -> list[te.Tensor]:
    _check_saturate(ctx)
    return [_cast(ctx, ctx.input(0), str(ctx.input(1).dtype))]
