"""Identity: its output is its input's buffer (a view; no kernel, no copy)."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


@register("Identity", kind=OpKind.VIEW, since=1)
def lower_identity(ctx: LowerContext) -> list[te.Tensor]:
    # Specialisation only reads the shape and dtype; the alias step does the rest.
    return [ctx.input(0)]
