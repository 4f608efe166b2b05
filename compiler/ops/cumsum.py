"""CumSum (opset 11/14): running sum along an axis; `exclusive` and `reverse` attributes.

The axis is an input. A constant axis is baked in; a run-time axis is read by the kernel, which
derives the (outer, n, inner) view of the data from it. Accumulates in the data's own type, as
onnxruntime does. The fast loop nest is schedules/cumsum.py.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.lower_context import LowerContext, normalize_axis
from onnxjit.compiler.ops._tir import prod, tir_extern
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import PrimFunc, T, te


def _views(ax: Any, dims: Sequence[int]) -> tuple[Any, Any, Any]:
    """(outer, n, inner) for axis `ax` (a Python int, or a run-time TIR value in [0, rank))."""
    if isinstance(ax, int):
        return prod(dims[:ax]), dims[ax], prod(dims[ax + 1:])
    outer, n, inner = 1, 1, 1
    for a in range(len(dims) - 1, -1, -1):  # nested selects over every possible axis
        outer = T.Select(ax == a, prod(dims[:a]), outer)
        n = T.Select(ax == a, dims[a], n)
        inner = T.Select(ax == a, prod(dims[a + 1:]), inner)
    return outer, n, inner


def reference_func(shapes: Sequence[tuple[Any, ...]], dtype: str, axis_dtype: str,
                   axis: int | None, exclusive: bool, reverse: bool) -> PrimFunc:
    """Plain kernel: one running sum per (outer, inner) line, in index order."""
    xshape, ashape = shapes
    dims = [int(d) for d in xshape]
    rank, total = len(dims), prod(dims)
    excl, rev = int(exclusive), int(reverse)
    zero = T.Cast(dtype, 0)

    @T.prim_func
    def func(x: T.Buffer(xshape, dtype), axis_in: T.Buffer(ashape, axis_dtype),
             y: T.Buffer(xshape, dtype)) -> None:
        T.func_attr({"tirx.noalias": True})
        xf = T.decl_buffer((total,), dtype, data=x.data)
        yf = T.decl_buffer((total,), dtype, data=y.data)
        af = T.decl_buffer((1,), axis_dtype, data=axis_in.data)
        ax = T.int32(0)
        if axis is None:
            ax = T.Cast("int32", af[0]) % T.int32(max(rank, 1))
        else:
            ax = T.int32(axis)
        outer, n, inner = T.meta_var(_views(axis if axis is not None else ax, dims))
        acc = T.alloc_buffer((1,), dtype, scope="local")
        for o, i in T.grid(outer, inner):
            acc[0] = zero
            for j in range(n):
                jj = T.meta_var(j if rev == 0 else n - 1 - j)
                idx = T.meta_var((o * n + jj) * inner + i)
                if excl == 1:
                    yf[idx] = acc[0]
                    acc[0] = acc[0] + xf[idx]
                else:
                    acc[0] = acc[0] + xf[idx]
                    yf[idx] = acc[0]

    return func


@register("CumSum", kind=OpKind.OPAQUE, since=11)
def lower_cumsum(ctx: LowerContext) -> list[te.Tensor]:
    x, axis_t = ctx.input(0), ctx.input(1)
    dims = ctx.shape(0)
    if int(prod(ctx.shape(1))) != 1:
        raise ctx.error(f"axis must hold one value, got shape {ctx.shape(1)}")
    value = ctx.const(1)
    axis = None if value is None else normalize_axis(int(value.reshape(-1)[0]), len(dims), ctx)
    exclusive, reverse = bool(ctx.attr("exclusive", 0)), bool(ctx.attr("reverse", 0))
    spec = {"op": "CumSum", "axis": axis, "exclusive": exclusive, "reverse": reverse,
            "shape": list(dims), "dtype": ctx.dtype(0)}
    return tir_extern(ctx, [x, axis_t], lambda shapes: reference_func(
        shapes, ctx.dtype(0), ctx.dtype(1), axis, exclusive, reverse), spec, 1)
