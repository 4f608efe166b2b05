"""Transpose: output axis i is input axis perm[i]; perm defaults to reversing the axes."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import Expr
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


@register("Transpose", kind=OpKind.INJECTIVE, since=1)
def lower_transpose(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    shape = ctx.shape(0)
    rank = len(shape)
    given = ctx.attr("perm")
    perm = [int(p) for p in given] if given is not None else list(range(rank))[::-1]
    # ONNX perm entries are non-negative; accepting -1 etc. would hide a malformed model.
    if sorted(perm) != list(range(rank)):
        raise ctx.error(f"perm {perm} is not a permutation of the {rank} axes")
    if perm == list(range(rank)):
        return [x]    # identity permutation: the kernel builder copies if it is an output

    def body(*index: Expr) -> Expr:
        source = [index[0]] * rank
        for out_axis, in_axis in enumerate(perm):
            source[in_axis] = index[out_axis]
        return x(*source)

    return [te.compute([shape[p] for p in perm], body, name=ctx.name())]
