"""Register-tiled loop nests for onnxjit::Conv (dense and sparse), NCHW, vectorised over pixels.

Both read the row layout of compiler/conv_geometry.py (Xq; a zero-padded, stride-phase-split copy
built at the top of the kernel unless the conv is a plain 1x1) and compute a tile of output pixels
held in registers: `v` vectors of `lanes` pixels x `ct` output channels (dense: weights broadcast,
one input vector load shared by ct FMAs) or x `br` rows of a sparse block (the block's input-row
load shared by br FMAs). Pixel tiles run over the flat q grid ("flat": rows of wq, columns past
wo computed and dropped at the store) or along each output row ("rows": no waste, shorter tiles).
The store applies the epilogue: + bias, then each post op (residual add, relu, clip) in order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onnxjit.compiler.conv_geometry import ConvGeometry
from onnxjit.compiler.tvm_api import PrimFunc, T, tirx


@dataclass(frozen=True)
class Tiling:
    impl: str          # "dense" | "sparse"
    v: int             # vectors per tile
    ct: int            # dense: output channels per tile (sparse: ignored, br from the packing)
    cu: int            # dense: input-channel unroll
    mode: str          # "flat" | "rows"
    lanes: int
    cob: int = 0       # dense: channel tiles per cache block (0: all)


@dataclass(frozen=True)
class Epilogue:
    post: tuple[str, ...]     # "add", "relu", "clip"
    lo: float
    hi: float


def _apply(post: Epilogue, value: Any, co: Any, b: Any, r: Any, ridx: Any) -> Any:
    value = value + b[co]
    for op in post.post:
        if op == "add":
            value = value + r[ridx]
        elif op == "relu":
            value = tirx.max(value, tirx.const(0.0, "float32"))
        elif op == "clip":
            value = tirx.min(tirx.max(value, tirx.const(post.lo, "float32")),
                             tirx.const(post.hi, "float32"))
    return value


def conv_kernel(g: ConvGeometry, epi: Epilogue, tl: Tiling, shapes: list[tuple[int, ...]],
                block: int) -> PrimFunc:
    """The kernel; params (X, Wt, B, val, off, ptr, R, Y) with the kernel's own shapes."""
    xs, ws, bs, vs, os_, ps, rs, ys = shapes
    L, V = tl.lanes, tl.v
    sparse = tl.impl == "sparse"
    CT = block if sparse else tl.ct
    if g.mg % CT or (sparse and g.group != 1):
        raise ValueError(f"tile of {CT} channels does not divide {g.mg}")
    CU = tl.cu if (not sparse and g.cg % tl.cu == 0) else 1
    MR = V * L
    flat = tl.mode == "flat"
    length = g.nq if flat else g.wo
    NT, rem = divmod(length, MR)
    RV, RR = divmod(rem, L)
    crop = flat and g.wq != g.wo
    NB = g.mg // CT
    COB = tl.cob if (not sparse and tl.cob > 0 and NB % tl.cob == 0) else NB
    T_, KW, CG, MG = g.taps, g.kw, g.cg, g.mg
    HOWO, MHOWO = g.ho * g.wo, g.m * g.ho * g.wo
    XQ = max(g.xq_len, 1)
    CPL, PL, WQ, WO = g.cplane, g.plane, g.wq, g.wo
    XLEN = g.c * g.h * g.w
    has_r = "add" in epi.post
    post = lambda val, co, b, r, ridx: _apply(epi, val, co, b, r, ridx)  # noqa: E731

    def toff(t: Any) -> Any:
        ky, kx = t // KW, t % KW
        py, iy = (ky * g.dh) % g.sh, (ky * g.dh) // g.sh
        px, ix = (kx * g.dw) % g.sw, (kx * g.dw) // g.sw
        return 0 if g.direct else (py * g.sw + px) * PL + iy * WQ + ix

    @T.macro
    def store_seg(Yf, Bf, Rf, acc, n, co0, base, ybase, c, v, width):
        if crop:
            for l in T.unroll(width):
                if (base + v * L + l) % WQ < WO:
                    yi = T.meta_var(n * MHOWO + (co0 + c) * HOWO
                                    + (base + v * L + l) // WQ * WO + (base + v * L + l) % WQ)
                    Yf[yi] = post(acc[c, v, l], co0 + c, Bf, Rf, yi)
        else:
            for l in T.vectorized(width):
                yi = T.meta_var(n * MHOWO + (co0 + c) * HOWO + ybase + v * L + l)
                Yf[yi] = post(acc[c, v, l], co0 + c, Bf, Rf, yi)

    @T.macro
    def store(Yf, Bf, Rf, acc, n, co0, base, ybase, nv, nr):
        for c in T.unroll(CT):
            for v in T.unroll(nv):
                store_seg(Yf, Bf, Rf, acc, n, co0, base, ybase, c, v, L)
            if nr > 0:
                store_seg(Yf, Bf, Rf, acc, n, co0, base, ybase, c, nv, nr)

    @T.macro
    def zero(acc, nv, nr):
        for c in T.unroll(CT):
            for v in T.unroll(nv):
                for l in T.vectorized(L):
                    acc[c, v, l] = T.float32(0)
            if nr > 0:
                for l in T.vectorized(nr):
                    acc[c, nv, l] = T.float32(0)

    @T.macro
    def dense_tile(Xs, Wf, Yf, Bf, Rf, acc, n, gi, cb, base, ybase, nv, nr):
        zero(acc, nv, nr)
        for c1 in T.serial(CG // CU):
            for c2 in T.unroll(CU):
                for t in T.unroll(T_):
                    for c in T.unroll(CT):
                        wi = T.meta_var(((gi * CG + c1 * CU + c2) * T_ + t) * MG + cb * CT + c)
                        xi = T.meta_var((gi * CG + c1 * CU + c2) * CPL + toff(t) + base)
                        for v in T.unroll(nv):
                            for l in T.vectorized(L):
                                acc[c, v, l] = acc[c, v, l] + Wf[wi] * Xs[xi + v * L + l]
                        if nr > 0:
                            for l in T.vectorized(nr):
                                acc[c, nv, l] = acc[c, nv, l] + Wf[wi] * Xs[xi + nv * L + l]
        store(Yf, Bf, Rf, acc, n, gi * MG + cb * CT, base, ybase, nv, nr)

    @T.macro
    def sparse_tile(Xs, val, off, ptr, Yf, Bf, Rf, acc, n, ib, base, ybase, nv, nr):
        zero(acc, nv, nr)
        for jj in T.serial(ptr[ib], ptr[ib + 1]):
            for c in T.unroll(CT):
                for v in T.unroll(nv):
                    for l in T.vectorized(L):
                        acc[c, v, l] = acc[c, v, l] + val[jj * CT + c] * Xs[off[jj] + base + v * L + l]
                if nr > 0:
                    for l in T.vectorized(nr):
                        acc[c, nv, l] = acc[c, nv, l] + val[jj * CT + c] * Xs[off[jj] + base + nv * L + l]
        store(Yf, Bf, Rf, acc, n, ib * CT, base, ybase, nv, nr)

    @T.macro
    def tile(Xs, Wf, val, off, ptr, Yf, Bf, Rf, acc, n, gi, cbo, base, ybase, nv, nr):
        if sparse:
            for ib in T.serial(NB):
                sparse_tile(Xs, val, off, ptr, Yf, Bf, Rf, acc, n, ib, base, ybase, nv, nr)
        else:
            for cbi in T.serial(COB):
                dense_tile(Xs, Wf, Yf, Bf, Rf, acc, n, gi, cbo * COB + cbi, base, ybase, nv, nr)

    @T.macro
    def sweep(Xs, Wf, val, off, ptr, Yf, Bf, Rf, acc, n):
        # dense: blocks of COB channel tiles outermost, so their weights stay in cache
        for gi in T.serial(1 if sparse else g.group):
            for cbo in T.serial(1 if sparse else NB // COB):
                if flat:
                    for pt in T.serial(NT):
                        tile(Xs, Wf, val, off, ptr, Yf, Bf, Rf, acc, n, gi, cbo, pt * MR, pt * MR, V, 0)
                    if RV + RR > 0:
                        tile(Xs, Wf, val, off, ptr, Yf, Bf, Rf, acc, n, gi, cbo, NT * MR, NT * MR, RV, RR)
                else:
                    for y in T.serial(g.ho):
                        for pt in T.serial(NT):
                            tile(Xs, Wf, val, off, ptr, Yf, Bf, Rf, acc, n, gi, cbo, y * WQ + pt * MR, y * WO + pt * MR, V, 0)
                        if RV + RR > 0:
                            tile(Xs, Wf, val, off, ptr, Yf, Bf, Rf, acc, n, gi, cbo, y * WQ + NT * MR, y * WO + NT * MR, RV, RR)

    AV = max(V, RV + (1 if RR else 0), 1)

    @T.prim_func
    def func(X: T.Buffer(xs, "float32"), Wt: T.Buffer(ws, "float32"), B: T.Buffer(bs, "float32"),
             val: T.Buffer(vs, "float32"), off: T.Buffer(os_, "int32"), ptr: T.Buffer(ps, "int32"),
             R: T.Buffer(rs, "float32"), Y: T.Buffer(ys, "float32")) -> None:
        T.func_attr({"tir.noalias": True})
        Xf = T.decl_buffer((g.n * XLEN,), "float32", data=X.data)
        Wf = T.decl_buffer((max(1, int(ws[0])),), "float32", data=Wt.data)
        Yf = T.decl_buffer((g.n * MHOWO,), "float32", data=Y.data)
        Rf = T.decl_buffer(((g.n * MHOWO) if has_r else 1,), "float32", data=R.data)
        acc = T.alloc_buffer((CT, AV, L), "float32")
        if g.direct:
            for n in T.serial(g.n):
                Xn = T.decl_buffer((XLEN,), "float32", data=X.data, elem_offset=n * XLEN)
                sweep(Xn, Wf, val, off, ptr, Yf, B, Rf, acc, n)
        else:
            Xq = T.alloc_buffer((XQ,), "float32")
            for n in T.serial(g.n):
                # zero (padding and the spare row), then copy each phase's valid rows
                for e0 in T.serial(XQ // 64):
                    for e1 in T.vectorized(64):
                        Xq[e0 * 64 + e1] = T.float32(0)
                for e in T.serial(XQ % 64):
                    Xq[XQ - XQ % 64 + e] = T.float32(0)
                for ci in T.serial(g.c):
                    for ph in T.unroll(g.planes):
                        for i in T.serial(g.hq):
                            yy = T.meta_var(ph // g.sw + g.sh * i - g.pt)
                            if yy >= 0 and yy < g.h:
                                j0 = T.meta_var(T.max((g.pl - ph % g.sw + g.sw - 1) // g.sw, 0))
                                j1 = T.meta_var(T.min((g.w + g.pl - ph % g.sw + g.sw - 1) // g.sw, WQ))
                                for j in T.serial(j1 - j0):
                                    Xq[ci * CPL + ph * PL + i * WQ + j0 + j] = Xf[
                                        n * XLEN + ci * g.h * g.w + yy * g.w + ph % g.sw + g.sw * (j0 + j) - g.pl]
                sweep(Xq, Wf, val, off, ptr, Yf, B, Rf, acc, n)

    return func
