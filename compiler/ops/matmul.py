"""MatMul: numpy matmul semantics (1-D promotion, batched, broadcast batch dims)."""
from __future__ import annotations

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._helpers import broadcast_index, broadcast_shape
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import te


def matmul(ctx: LowerContext, a: te.Tensor, b: te.Tensor, name: str = "") -> te.Tensor:
    a_shape, b_shape = [int(d) for d in a.shape], [int(d) for d in b.shape]
    if not a_shape or not b_shape:
        raise ctx.error("MatMul inputs must have rank >= 1")
    a_vec, b_vec = len(a_shape) == 1, len(b_shape) == 1
    m, k = (1, a_shape[0]) if a_vec else (a_shape[-2], a_shape[-1])
    k2, n = (b_shape[0], 1) if b_vec else (b_shape[-2], b_shape[-1])
    if k != k2:
        raise ctx.error(f"inner dimensions differ: {a_shape} x {b_shape}")
    batch = broadcast_shape(ctx, [a_shape[:-2], b_shape[:-2]])
    red = te.reduce_axis((0, k), name="k")
    nb = len(batch)

    def body(*index: te.Var) -> te.Tensor:
        bidx, i, j = index[:nb], index[nb], index[nb + 1]
        ai = [red] if a_vec else [*broadcast_index(a.shape[:-2], bidx), i, red]
        bi = [red] if b_vec else [*broadcast_index(b.shape[:-2], bidx), red, j]
        return te.sum(a(*ai) * b(*bi), axis=red)

    out = te.compute((*batch, m, n), body, name=ctx.name(name or "matmul"))
    if a_vec or b_vec:
        final = [*batch] + ([] if a_vec else [m]) + ([] if b_vec else [n])
        return te.compute(tuple(final), lambda *idx: out(*_unsqueeze(idx, nb, a_vec, b_vec)),
                          name=ctx.name("squeeze"))
    return out


def _unsqueeze(idx: tuple[te.Var, ...], nb: int, a_vec: bool, b_vec: bool) -> list[te.Var]:
    rest = list(idx[nb:])
    i = 0 if a_vec else rest.pop(0)
    j = 0 if b_vec else rest.pop(0)
    return [*idx[:nb], i, j]


@register("MatMul", kind=OpKind.MATMUL, since=1)
def lower_matmul(ctx: LowerContext) -> list[te.Tensor]:
    return [matmul(ctx, ctx.input(0), ctx.input(1))]
