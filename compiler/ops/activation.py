"""Parameterised activations: HardSigmoid, HardSwish, LeakyRelu, Elu, Selu, Mish.

exp and Mish's tanh(softplus) are the vectorisable forms of ops/_math.py (libm's: a call per lane).
Clamps are written as selects, not max/min: TVM's float max/min drop NaN (LLVM maxnum), numpy and
onnxruntime propagate it. float16 inputs compute in float32 and round once (as unary.py does).
"""
from __future__ import annotations

from collections.abc import Callable

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, const, elementwise
from onnxjit.compiler.ops._math import fast_exp, tanh_softplus
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te, tirx

FLOATS = frozenset({"float16", "float32", "float64"})


def _clamp01(x: Expr, dtype: str) -> Expr:
    zero, one = const(0, dtype), const(1, dtype)
    return tirx.Select(x < zero, zero, tirx.Select(x > one, one, x))


def _builder(ctx: LowerContext, dtype: str) -> Callable[[Expr], Expr]:
    op = ctx.node.op_type
    if op == "HardSigmoid":
        alpha, beta = float(ctx.attr("alpha", 0.2)), float(ctx.attr("beta", 0.5))
        return lambda x: _clamp01(const(alpha, dtype) * x + const(beta, dtype), dtype)
    if op == "HardSwish":
        # x * HardSigmoid(x) with alpha = 1/6, beta = 0.5 (fixed by the spec).
        return lambda x: x * _clamp01(x * const(1 / 6, dtype) + const(0.5, dtype), dtype)
    if op == "LeakyRelu":
        alpha = float(ctx.attr("alpha", 0.01))
        return lambda x: tirx.Select(x < const(0, dtype), const(alpha, dtype) * x, x)
    if op == "Elu":
        alpha = float(ctx.attr("alpha", 1.0))
        return lambda x: tirx.Select(
            x < const(0, dtype), const(alpha, dtype) * (fast_exp(x, dtype) - const(1, dtype)), x)
    if op == "Selu":
        # the spec's defaults, as float32 (onnx writes them to float32 precision)
        alpha = float(ctx.attr("alpha", 1.67326319217681884765625))
        gamma = float(ctx.attr("gamma", 1.05070102214813232421875))
        return lambda x: const(gamma, dtype) * tirx.Select(
            x > const(0, dtype), x, const(alpha, dtype) * (fast_exp(x, dtype) - const(1, dtype)))
    if op == "Mish":
        return lambda x: x * tanh_softplus(x, dtype)
    raise ctx.error("internal: no activation of this type")


def lower_activation(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    dtype = str(x.dtype)
    if dtype not in FLOATS:
        raise ctx.error(f"dtype {dtype} is not supported (expected one of {sorted(FLOATS)})")
    if dtype == "float16":
        inner = _builder(ctx, "float32")
        return [elementwise(ctx, [x], lambda v: inner(v.astype("float32")).astype(dtype))]
    return [elementwise(ctx, [x], _builder(ctx, dtype))]


# Opset 6 dropped the legacy `consumed_inputs`; later versions only widen the type lists.
register(("HardSigmoid", "LeakyRelu", "Elu", "Selu"), kind=OpKind.ELEMENTWISE,
         since=6)(lower_activation)
register("HardSwish", kind=OpKind.ELEMENTWISE, since=14)(lower_activation)
register("Mish", kind=OpKind.ELEMENTWISE, since=18)(lower_activation)
