"""ScatterND (opset 11/13/16/18): a copy of data with slices replaced (or combined, opset 16's
`reduction`: add/mul, 18: max/min) by updates at the positions `indices` name.

A hand-written loop nest (scatters are not a TE compute): copy, then one pass over the updates in
order, so repeated indices behave as onnxruntime's sequential loop. Negative indices count from
the end; out-of-range ones are clamped (never a write outside the buffer).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._tir import prod, tir_extern
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import PrimFunc, T, te

REDUCTIONS = ("none", "add", "mul", "max", "min")


def reference_func(shapes: Sequence[tuple[Any, ...]], dims: Sequence[int], q: int,
                   dtype: str, idtype: str, reduction: str) -> PrimFunc:
    dshape, ishape, ushape = shapes
    total, slice_size = prod(dims), prod(dims[q:])
    count = prod([int(d) for d in ishape][:-1])
    strides = [prod(dims[a + 1:]) for a in range(q)]
    mode = REDUCTIONS.index(reduction)

    def combine(old: Any, new: Any) -> Any:
        if mode == 1:
            return old + new
        if mode == 2:
            return old * new
        if mode == 3:
            return T.max(old, new)
        if mode == 4:
            return T.min(old, new)
        return new

    @T.prim_func
    def func(data: T.Buffer(dshape, dtype), indices: T.Buffer(ishape, idtype),
             updates: T.Buffer(ushape, dtype), out: T.Buffer(dshape, dtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        df = T.decl_buffer((total,), dtype, data=data.data)
        jf = T.decl_buffer((max(count * q, 1),), idtype, data=indices.data)
        uf = T.decl_buffer((max(count * slice_size, 1),), dtype, data=updates.data)
        of = T.decl_buffer((total,), dtype, data=out.data)
        base = T.alloc_buffer((1,), "int64", scope="local")
        for e in range(total):
            of[e] = df[e]
        for u in range(count):
            base[0] = T.int64(0)
            for a in range(q):
                raw = T.meta_var(T.Cast("int64", jf[u * q + a]))
                wrapped = T.meta_var(T.Select(raw < 0, raw + _dim(dims, a), raw))
                clamped = T.meta_var(T.max(T.min(wrapped, _dim(dims, a) - 1), T.int64(0)))
                base[0] = base[0] + clamped * _stride(strides, a)
            for s in range(slice_size):
                of[base[0] + s] = combine(of[base[0] + s], uf[u * slice_size + s])

    return func


def _dim(dims: Sequence[int], a: Any) -> Any:
    """dims[a] for a loop variable a (a select chain over the q leading axes)."""
    value = T.int64(dims[0])
    for i in range(1, len(dims)):
        value = T.Select(a == i, T.int64(dims[i]), value)
    return value


def _stride(strides: Sequence[int], a: Any) -> Any:
    value = T.int64(strides[0])
    for i in range(1, len(strides)):
        value = T.Select(a == i, T.int64(strides[i]), value)
    return value


def lower_scatter_nd(ctx: LowerContext) -> list[te.Tensor]:
    data, indices, updates = ctx.input(0), ctx.input(1), ctx.input(2)
    dims, ishape, ushape = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if not ishape or not 1 <= ishape[-1] <= len(dims):
        raise ctx.error(f"indices shape {ishape} must end in 1..{len(dims)} (data rank)")
    q = ishape[-1]
    if tuple(ushape) != (*ishape[:-1], *dims[q:]):
        raise ctx.error(f"updates shape {ushape} must be {(*ishape[:-1], *dims[q:])}")
    reduction = str(ctx.attr("reduction", "none"))
    if reduction not in REDUCTIONS:
        raise ctx.error(f"reduction {reduction!r} not supported (expected one of {REDUCTIONS})")
    dtype, idtype = ctx.dtype(0), ctx.dtype(1)
    spec = {"op": "ScatterND", "reduction": reduction, "shape": list(dims), "q": q}
    return tir_extern(ctx, [data, indices, updates], lambda shapes: reference_func(
        shapes, dims, q, dtype, idtype, reduction), spec, 1)


register("ScatterND", kind=OpKind.OPAQUE, since=11)(lower_scatter_nd)
