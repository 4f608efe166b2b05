"""Gelu (opset 20; approximate "none" or "tanh") and Erf, with vectorisable math (ops/_math.py).

Exact:  0.5 x (1 + erf(x / sqrt 2)).
Tanh:   0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as x * sigmoid(2u), the
        same value without tanh's cancellation near 0 and with exact limits for large |x|.
float16/bfloat16 compute in float32.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import const, elementwise, is_float
from onnxjit.compiler.ops._math import erf, sigmoid
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te

Expr = Any
_HALF = ("float16", "bfloat16")


def _in_float32(fn: Callable[[Expr, str], Expr], dtype: str) -> Callable[[Expr], Expr]:
    """fn applied in float32 for half types, in the input's type otherwise."""
    def wrapped(x: Expr) -> Expr:
        if dtype in _HALF:
            return fn(x.astype("float32"), "float32").astype(dtype)
        return fn(x, dtype)
    return wrapped


def gelu_exact(x: Expr, dtype: str) -> Expr:
    half, one = const(0.5, dtype), const(1.0, dtype)
    return half * x * (one + erf(x * const(math.sqrt(0.5), dtype), dtype))


def gelu_tanh(x: Expr, dtype: str) -> Expr:
    u = const(math.sqrt(2.0 / math.pi), dtype) * (x + const(0.044715, dtype) * x * x * x)
    return x * sigmoid(const(2.0, dtype) * u, dtype)


@register("Gelu", kind=OpKind.ELEMENTWISE, since=20)
def lower_gelu(ctx: LowerContext) -> list[te.Tensor]:
    if not is_float(ctx.dtype(0)):
        raise ctx.error(f"Gelu takes a float input, got {ctx.dtype(0)}")
    mode = str(ctx.attr("approximate", "none"))
    fns = {"none": gelu_exact, "tanh": gelu_tanh}
    if mode not in fns:
        raise ctx.error(f"approximate={mode!r} is not 'none' or 'tanh'")
    return [elementwise(ctx, [ctx.input(0)], _in_float32(fns[mode], ctx.dtype(0)), "gelu")]


@register("Erf", kind=OpKind.ELEMENTWISE, since=9)
def lower_erf(ctx: LowerContext) -> list[te.Tensor]:
    if not is_float(ctx.dtype(0)):
        raise ctx.error(f"Erf takes a float input here, got {ctx.dtype(0)}")
    return [elementwise(ctx, [ctx.input(0)], _in_float32(erf, ctx.dtype(0)), "erf")]
