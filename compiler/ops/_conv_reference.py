"""The plain loop nest of onnxjit::Conv: what its lowering returns and its templates must equal.

One scalar dot product per output element over (input channel, tap), reading the input through
the zero-padded, stride-phase-split row layout of compiler/conv_geometry.py and the dense packed
weights (Wt [group, mg/wct, cg, taps, wct]); the epilogue (+ bias, post ops) at the store. The
buffers are declared with the TE tensors' own shape objects (te.extern requires them), which is why
this is a decorated TVMScript function and not generated text like the tiled kernels.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.conv_geometry import ConvGeometry
from onnxjit.compiler.tvm_api import PrimFunc, T, tirx


def epilogue(value: Any, co: Any, b: Any, r: Any, ridx: Any, post: Sequence[str],
             lo: float, hi: float) -> Any:
    value = value + b[co]
    for op in post:
        if op == "add":
            value = value + r[ridx]
        elif op == "relu":
            value = tirx.max(value, tirx.const(0.0, "float32"))
        elif op == "clip":
            value = tirx.min(tirx.max(value, tirx.const(lo, "float32")), tirx.const(hi, "float32"))
    return value


def reference_conv(g: ConvGeometry, post: Sequence[str], lo: float, hi: float, wct: int,
                   shapes: Sequence[tuple[Any, ...]]) -> PrimFunc:
    """Params (X, Wt, B, val, off, ptr, R, Y); val/off/ptr are not read (dense weights suffice)."""
    xs, ws, bs, vs, os_, ps, rs, ys = shapes
    wct = wct or g.mg
    KW, CG, MG, TAPS = g.kw, g.cg, g.mg, g.taps
    HOWO, MHOWO, XLEN = g.ho * g.wo, g.m * g.ho * g.wo, g.c * g.h * g.w
    XQ, CPL, PL, WQ = max(1, g.xq_len), g.cplane, g.plane, g.wq
    has_r = "add" in post

    def toff(t: Any) -> Any:
        ky, kx = t // KW, t % KW
        return (((ky * g.dh) % g.sh * g.sw + (kx * g.dw) % g.sw) * PL
                + (ky * g.dh) // g.sh * WQ + (kx * g.dw) // g.sw)

    tap_offset = (lambda t: 0) if g.direct else toff

    def widx(gi: Any, co: Any, ci: Any, t: Any) -> Any:
        return (((gi * (MG // wct) + co // wct) * CG + ci) * TAPS + t) * wct + co % wct

    @T.macro
    def sweep(Xs, Wf, B, Rf, Yf, acc, n):
        for gi, co, y, x in T.grid(g.group, MG, g.ho, g.wo):
            acc[0] = T.float32(0)
            for ci, t in T.grid(CG, TAPS):
                acc[0] = acc[0] + Wf[widx(gi, co, ci, t)] * Xs[
                    (gi * CG + ci) * CPL + tap_offset(t) + y * WQ + x]
            yi = T.meta_var(n * MHOWO + (gi * MG + co) * HOWO + y * g.wo + x)
            Yf[yi] = epilogue(acc[0], gi * MG + co, B, Rf, yi, post, lo, hi)

    @T.prim_func
    def func(X: T.Buffer(xs, "float32"), Wt: T.Buffer(ws, "float32"), B: T.Buffer(bs, "float32"),
             val: T.Buffer(vs, "float32"), off: T.Buffer(os_, "int32"), ptr: T.Buffer(ps, "int32"),
             R: T.Buffer(rs, "float32"), Y: T.Buffer(ys, "float32")) -> None:
        T.func_attr({"tirx.noalias": True})
        Xf = T.decl_buffer((g.n * XLEN,), "float32", data=X.data)
        Wf = T.decl_buffer((max(1, int(ws[0])),), "float32", data=Wt.data)
        Yf = T.decl_buffer((g.n * MHOWO,), "float32", data=Y.data)
        Rf = T.decl_buffer(((g.n * MHOWO) if has_r else 1,), "float32", data=R.data)
        acc = T.alloc_buffer((1,), "float32")
        if g.direct:
            for n in T.serial(g.n):
                Xn = T.decl_buffer((XLEN,), "float32", data=X.data, elem_offset=n * XLEN)
                sweep(Xn, Wf, B, Rf, Yf, acc, n)
        else:
            Xq = T.alloc_buffer((XQ,), "float32")
            for n in T.serial(g.n):
                for e in T.serial(XQ):
                    ci = T.meta_var(e // CPL)
                    ph = T.meta_var(e % CPL // PL)
                    yy = T.meta_var(ph // g.sw + g.sh * (e % PL // WQ) - g.pt)
                    xx = T.meta_var(ph % g.sw + g.sw * (e % WQ) - g.pl)
                    Xq[e] = T.if_then_else(yy >= 0 and yy < g.h and xx >= 0 and xx < g.w,
                                           Xf[n * XLEN + ci * g.h * g.w + yy * g.w + xx], T.float32(0))
                sweep(Xq, Wf, B, Rf, Yf, acc, n)

    return func
