"""com.microsoft FastGelu: Gelu's tanh approximation of X (+ bias, broadcast along the last axis),
as onnxruntime's transformer optimiser writes BERT/GPT-2 feed-forward activations.

Same vectorisable form as Gelu(approximate="tanh") (ops/gelu.py: x * sigmoid(2u)); float16 and
bfloat16 compute in float32.
"""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr, elementwise, is_float
from onnxjit.compiler.ops.gelu import gelu_tanh
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te

MS_DOMAIN = "com.microsoft"


@register("FastGelu", kind=OpKind.ELEMENTWISE, domain=MS_DOMAIN)
def lower_fast_gelu(ctx: LowerContext) -> list[te.Tensor]:
    x, bias = ctx.input(0), ctx.optional(1)
    dtype = str(x.dtype)
    if not is_float(dtype):
        raise ctx.error(f"FastGelu takes a float input, got {dtype}")
    inputs = [x]
    if bias is not None:
        if str(bias.dtype) != dtype:
            raise ctx.error(f"bias dtype {bias.dtype} differs from X's {dtype}")
        if len(bias.shape) != 1 or int(bias.shape[0]) != int(x.shape[-1]):
            raise ctx.error(f"bias of shape {tuple(int(d) for d in bias.shape)} is not 1-D of "
                            f"X's last dimension {int(x.shape[-1])}")
        inputs.append(bias)
    compute = "float32" if dtype in ("float16", "bfloat16") else dtype

    def body(*values: Expr) -> Expr:
        v = values[0].astype(compute)
        if len(values) > 1:
            v = v + values[1].astype(compute)
        return gelu_tanh(v, compute).astype(dtype)

    return [elementwise(ctx, inputs, body, "fast_gelu")]
