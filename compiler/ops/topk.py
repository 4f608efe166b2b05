"""TopK (opset 1: k attribute; 10: k input; 11: largest/sorted): the k extreme values along an
axis and their int64 indices, best first.

k must be known at compile time (it is the output's shape). The kernel keeps, per line, a sorted
list of the best k so far and inserts each element in turn (O(n k)): exporters use TopK with
small k (beam search, top-p sampling, detection heads). Ties keep the lower index first, as the
spec requires; `sorted=0` output is sorted too (any order is allowed).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._tir import prod, tir_extern
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import PrimFunc, T, te, tirx


def reference_func(shapes: Sequence[tuple[Any, ...]], dims: Sequence[int], axis: int, k: int,
                   dtype: str, largest: bool) -> PrimFunc:
    (xshape,) = shapes
    outer, n, inner = prod(dims[:axis]), dims[axis], prod(dims[axis + 1:])
    out_shape = (*dims[:axis], k, *dims[axis + 1:])
    big = int(largest)

    @T.prim_func
    def func(x: T.Buffer(xshape, dtype), values: T.Buffer(out_shape, dtype),
             indices: T.Buffer(out_shape, "int64")) -> None:
        T.func_attr({"tirx.noalias": True})
        xf = T.decl_buffer((outer * n * inner,), dtype, data=x.data)
        vf = T.decl_buffer((outer * k * inner,), dtype, data=values.data)
        jf = T.decl_buffer((outer * k * inner,), "int64", data=indices.data)
        pos = T.alloc_buffer((1,), "int32", scope="local")
        for o, i in T.grid(outer, inner):
            for j in range(n):
                v = T.meta_var(xf[(o * n + j) * inner + i])
                filled = T.meta_var(T.min(j, k))
                # First slot whose value v beats (strictly: earlier indices win ties).
                pos[0] = filled
                for t in range(k):
                    slot = T.meta_var(k - 1 - t)
                    cur = T.meta_var(vf[(o * k + slot) * inner + i])
                    if slot < filled:
                        if (big == 1 and v > cur) or (big == 0 and v < cur):
                            pos[0] = slot
                if pos[0] < k:
                    for t in range(k - 1):
                        slot = T.meta_var(k - 1 - t)
                        if slot > pos[0] and slot <= filled:
                            vf[(o * k + slot) * inner + i] = vf[(o * k + slot - 1) * inner + i]
                            jf[(o * k + slot) * inner + i] = jf[(o * k + slot - 1) * inner + i]
                    vf[(o * k + pos[0]) * inner + i] = v
                    jf[(o * k + pos[0]) * inner + i] = T.Cast("int64", j)

    return func


def lower_topk(ctx: LowerContext) -> list[te.Tensor]:
    x = ctx.input(0)
    dims = ctx.shape(0)
    if not dims:
        raise ctx.error("input must have rank >= 1")
    axis = normalize_axis(int(ctx.attr("axis", -1)), len(dims), ctx)
    if ctx.opset < 10:
        k = int(ctx.attr("k"))
    else:
        k_value = ctx.require_const(1, "K")
        if k_value.size != 1:
            raise ctx.error(f"K must hold one value, got shape {k_value.shape}")
        k = int(k_value.reshape(-1)[0])
    if not 0 <= k <= dims[axis]:
        raise ctx.error(f"k={k} out of range for axis of size {dims[axis]}")
    largest = bool(ctx.attr("largest", 1))
    dtype = ctx.dtype(0)
    if k == 0:  # empty outputs: nothing to compute
        shape = (*dims[:axis], 0, *dims[axis + 1:])
        return [te.compute(shape, lambda *_: tirx.const(0, dtype), name=ctx.name("v")),
                te.compute(shape, lambda *_: tirx.const(0, "int64"), name=ctx.name("i"))]
    spec = {"op": "TopK", "axis": axis, "k": k, "largest": largest, "shape": list(dims),
            "dtype": dtype}
    return tir_extern(ctx, [x], lambda shapes: reference_func(
        shapes, dims, axis, k, dtype, largest), spec, 2)


register("TopK", kind=OpKind.OPAQUE, since=1)(lower_topk)
register("TopK", kind=OpKind.OPAQUE, since=10)(lower_topk)
