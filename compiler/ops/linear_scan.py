"""onnxjit's fused recurrences (made by passes/scan_recurrence.py from Scan bodies).

LinearScan(h0 (D,N), a (L,D,N), b (L,D,N), x (L,D), c (L,N)) -> (h_L, y (L,D)), decay_act:
    h_t = act(a_t) ⊙ h_{t-1} + b_t ⊙ x_t[:, None];   y_t = h_t @ c_t
SelectiveScan(h0, Δ (L,D), x (L,D), B (L,N), C (L,N), A (D,N), [Dskip (D,)]) -> (h_L, y):
    h_t = exp(Δ_t[:, None] A) ⊙ h_{t-1} + (Δ_t x_t)[:, None] B_t;   y_t = h_t @ C_t + Dskip ⊙ x_t

These are plain reference loop nests; schedules/scan.py generates the vectorised kernels.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.graph import ONNXJIT_DOMAIN
from onnxjit.compiler.lower_context import LowerContext
from onnxjit.compiler.ops._tir import tir_extern
from onnxjit.compiler.registry import OpKind, register
from onnxjit.compiler.tvm_api import PrimFunc, T, te

F32 = "float32"


def _act(kind: str, v: Any) -> Any:
    if kind == "sigmoid":
        return T.float32(1) / (T.float32(1) + T.exp(-v))
    if kind == "exp":
        return T.exp(v)
    return v


def linear_reference(shapes: Sequence[tuple[Any, ...]], act: str) -> PrimFunc:
    hs, as_, bs, xs, cs = shapes
    length, d, n = (int(v) for v in as_)

    @T.prim_func
    def func(h0: T.Buffer(hs, F32), a: T.Buffer(as_, F32), b: T.Buffer(bs, F32),
             x: T.Buffer(xs, F32), c: T.Buffer(cs, F32), h: T.Buffer((d, n), F32),
             y: T.Buffer((length, d), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        for i, j in T.grid(d, n):
            h[i, j] = h0[i, j]
        for t in range(length):
            for i in range(d):
                y[t, i] = T.float32(0)
                for j in range(n):
                    h[i, j] = _act(act, a[t, i, j]) * h[i, j] + b[t, i, j] * x[t, i]
                    y[t, i] = y[t, i] + h[i, j] * c[t, j]

    return func


def selective_reference(shapes: Sequence[tuple[Any, ...]], has_skip: bool) -> PrimFunc:
    hs, dts, xs, bs, cs, a_s = shapes[:6]
    ds = shapes[6]  # (the stand-in (1,) vector when there is no skip)
    length, d = (int(v) for v in dts)
    n = int(a_s[1])
    skip_on = int(has_skip)

    @T.prim_func
    def func(h0: T.Buffer(hs, F32), dt: T.Buffer(dts, F32), x: T.Buffer(xs, F32),
             bm: T.Buffer(bs, F32), cm: T.Buffer(cs, F32), am: T.Buffer(a_s, F32),
             dskip: T.Buffer(ds, F32), h: T.Buffer((d, n), F32),
             y: T.Buffer((length, d), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        for i, j in T.grid(d, n):
            h[i, j] = h0[i, j]
        for t in range(length):
            for i in range(d):
                y[t, i] = T.float32(0)
                for j in range(n):
                    h[i, j] = (T.exp(dt[t, i] * am[i, j]) * h[i, j]
                               + dt[t, i] * x[t, i] * bm[t, j])
                    y[t, i] = y[t, i] + h[i, j] * cm[t, j]
                if skip_on == 1:
                    y[t, i] = y[t, i] + dskip[i] * x[t, i]

    return func


def _check(ctx: LowerContext, want: Sequence[tuple[int, ...]]) -> None:
    for i, shape in enumerate(want):
        if i < len(ctx.inputs) and ctx.optional(i) is not None and ctx.shape(i) != shape:
            raise ctx.error(f"input {i} has shape {ctx.shape(i)}, expected {shape}")
        if ctx.optional(i) is not None and ctx.dtype(i) != F32:
            raise ctx.error(f"input {i} has dtype {ctx.dtype(i)}; only float32 is fused")


@register("LinearScan", kind=OpKind.OPAQUE, domain=ONNXJIT_DOMAIN)
def lower_linear_scan(ctx: LowerContext) -> list[te.Tensor]:
    length, d, n = ctx.shape(1)
    _check(ctx, [(d, n), (length, d, n), (length, d, n), (length, d), (length, n)])
    act = str(ctx.attr("decay_act", "none"))
    if act not in ("none", "sigmoid", "exp"):
        raise ctx.error(f"unknown decay_act {act!r}")
    spec = {"op": "LinearScan", "L": length, "D": d, "N": n, "act": act}
    inputs = [ctx.input(i) for i in range(5)]
    return tir_extern(ctx, inputs, lambda s: linear_reference(s, act), spec, 2)


@register("SelectiveScan", kind=OpKind.OPAQUE, domain=ONNXJIT_DOMAIN)
def lower_selective_scan(ctx: LowerContext) -> list[te.Tensor]:
    length, d = ctx.shape(1)
    n = ctx.shape(5)[1]
    _check(ctx, [(d, n), (length, d), (length, d), (length, n), (length, n), (d, n), (d,)])
    has_skip = ctx.optional(6) is not None
    spec = {"op": "SelectiveScan", "L": length, "D": d, "N": n, "skip": has_skip}
    inputs = [ctx.input(i) for i in range(6)]
    if has_skip:
        inputs.append(ctx.input(6))
    else:  # the kernel keeps one signature: a dummy (never read) skip vector
        inputs.append(te.compute((1,), lambda _: T.float32(0), name=ctx.name("noskip")))
    return tir_extern(ctx, inputs, lambda s: selective_reference(s, has_skip), spec, 2)
