"""SelectiveScan (Mamba-1) vectorised over channels: one lane per channel, no horizontal sums.

    h_t[d, n] = 2^(Δ_t[d] A2[n, d]) h_{t-1}[d, n] + (Δ_t x_t)[d] B_t[n]
    y_t[d] = Σ_n h_t[d, n] C_t[n]

A block of `w` channels (one vector) keeps `g` of its N states in registers while time runs
inside; Δ_t and x_t are vector loads, B_t[n] and C_t[n] scalar broadcasts (folded into the FMAs),
the readout is a chain of FMAs into the block's y vector (no transpose-reduce). A2 = log2(e) Aᵀ is
packed once per call into a kernel-owned block-major [D/w, N, w] buffer, so the exponent is one
multiply and exp2 needs no range reduction by ln 2. Per state update ~11 vector ops on AVX-512
(a degree-5 exp2 with vreduceps/vscalefps), against ~20 for the state-vectorised kernel with its
transpose-reduce.
State groups (N > g) run one after another over time, adding into y. Time runs in chunks of `tc`
steps with the channel blocks inside, so a chunk's Δ/x rows stay in L2 while the blocks stream
across them (a block walks its column at a D·4-byte stride, which hardware prefetchers miss).
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.ops._tir import internalise_params
from onnxjit.compiler.tvm_api import PrimFunc, T
from onnxjit.schedules._vecmath import LOG2E, bcast, chain_sum

F32 = "float32"


def selective_channel_kernel(length: int, d: int, n: int, skip: bool, w: int, g: int, tc: int,
                             threads: int, exp2: Any) -> PrimFunc:
    """`exp2(x2, lanes)`: the vector 2^x builder for this target (_vecmath.exp2_builder)."""
    nb, ng = d // w, n // g
    tc = tc if 0 < tc < length else length
    nchunks = (length + tc - 1) // tc
    parts = min(threads, nb) if threads > 1 else 1
    bpp = (nb + parts - 1) // parts                  # channel blocks per thread
    part_loop = T.parallel if parts > 1 else T.serial
    skip_on = int(skip)
    lane = T.ramp(0, 1, w)

    @T.prim_func
    def func(h0: T.Buffer((d, n), F32), dt: T.Buffer((length, d), F32),
             x: T.Buffer((length, d), F32), bm: T.Buffer((length, n), F32),
             cm: T.Buffer((length, n), F32), am: T.Buffer((d, n), F32),
             dskip: T.Buffer((d,), F32), h: T.Buffer((d, n), F32),
             y: T.Buffer((length, d), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        a2 = T.alloc_buffer((nb, n, w), F32)         # log2(e) Aᵀ, block-major (1 KiB a block)
        st = T.alloc_buffer((nb, n, w), F32)         # state between time chunks, lane = channel
        for i, j in T.grid(d, n):
            a2[i // w, j, i % w] = am[i, j] * T.float32(LOG2E)
            st[i // w, j, i % w] = h0[i, j]
        for p in part_loop(parts):
            for c in T.serial(nchunks):
                for blk in T.serial(p * bpp, T.min(p * bpp + bpp, nb)):
                    for gi in T.serial(ng):
                        # < 1 KiB, default scope: LLVM keeps it in registers (proto-scan lesson 1)
                        hl = T.alloc_buffer((g, w), F32, scope="global")
                        for k in T.unroll(g):
                            hl[k, lane] = st[blk, gi * g + k, lane]
                        for t in T.serial(c * tc, T.min(c * tc + tc, length)):
                            cols = T.meta_var(T.ramp(blk * w, 1, w))
                            for k in T.unroll(g):
                                hl[k, lane] = (
                                    exp2(dt[t, cols] * a2[blk, gi * g + k, lane], w) * hl[k, lane]
                                    + (dt[t, cols] * x[t, cols]) * bcast(bm[t, gi * g + k], w))
                            acc = T.meta_var(chain_sum(
                                [hl[k, lane] * bcast(cm[t, gi * g + k], w) for k in range(g)]))
                            if gi == 0:
                                if skip_on == 1:
                                    y[t, cols] = acc + dskip[cols] * x[t, cols]
                                else:
                                    y[t, cols] = acc
                            else:
                                y[t, cols] = y[t, cols] + acc
                        for k in T.unroll(g):
                            st[blk, gi * g + k, lane] = hl[k, lane]
        for i, j in T.grid(d, n):
            h[i, j] = st[i // w, j, i % w]

    # Without Dskip the node's kernel has no skip parameter (the loop nest never reads it).
    return func if skip else internalise_params(func, [True] * 6 + [False, True, True])


def group_sizes(n: int, w: int) -> list[int]:
    """State-group sizes for N states: divisors of N whose register tile stays under 1 KiB
    (larger buffers go to heap workspace), at most 8 so that the group, Δ, x, Δx, the readout
    and the exp temporaries fit AVX2's 16 registers too (16 states would spill there)."""
    cap = min(8, (1024 // 4 - 1) // w)
    sizes = [s for s in range(cap, 0, -1) if n % s == 0]
    return sizes[:2]



