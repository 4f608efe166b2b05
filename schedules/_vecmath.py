"""Explicit-vector TIR expression builders for hand-written kernels (any lane count).

`T.exp` lowers to scalar libm calls and `T.vectorized` cannot express horizontal reductions, so
the recurrence kernels build their vector arithmetic from these (shared/notes/proto-scan.md).
exp is 2^(x log2 e), Cephes-style: 2^n by exponent bits (any SIMD ISA) and a degree-6
polynomial for the fraction, ~2e-7 relative error; on AVX-512 hosts `exp2_builder` gives an 8-op
2^x through vreduceps/vscalefps. Reciprocals use the hardware estimate plus one Newton step on x86.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.tvm_api import T

Expr = Any
LOG2E = 1.44269504088896341
EXP2_POLY = (1.535336188319500e-4, 1.339887440266574e-3, 9.618437357674640e-3,
             5.550332471162809e-2, 2.402264791363012e-1, 6.931472028550421e-1)


def splat(value: float, lanes: int) -> Expr:
    return T.Broadcast(T.float32(value), lanes)


def bcast(x: Expr, lanes: int) -> Expr:
    return T.Broadcast(x, lanes)


def vexp2(x2: Expr, lanes: int) -> Expr:
    """2^x2 on a float32 vector: 2^n by exponent bits, 2^f (|f| <= 1/2) by Cephes' exp2f
    polynomial (rel. err ~2e-7). x2 is clamped to [-126, 127.4] (exp underflows to 2^-126)."""
    x2 = T.max(T.min(x2, splat(127.4, lanes)), splat(-126.0, lanes))
    n = T.round(x2)
    f = x2 - n
    p = splat(EXP2_POLY[0], lanes)
    for c in EXP2_POLY[1:]:
        p = p * f + splat(c, lanes)
    p = p * f + splat(1.0, lanes)
    bits = T.shift_left(T.Cast(f"int32x{lanes}", n) + T.Broadcast(T.int32(127), lanes),
                        T.Broadcast(T.int32(23), lanes))
    return p * T.reinterpret(f"float32x{lanes}", bits)


# 2^f on [0, 1) (minimax on relative error; fp32 Horner rel. err 1.6e-7), highest degree first
EXP2_FLOOR_POLY = (1.877562957815826e-3, 8.989336900413036e-3, 5.582635849714279e-2,
                   2.4015358090400696e-1, 6.931530833244324e-1, 9.999999403953552e-1)
_AVX512 = {16: ("512", "int16"), 8: ("256", "int8")}


def x86_avx512(target: Any, lanes: int) -> bool:
    """vreduceps/vscalefps usable at this width: the host CPU target with AVX-512 F/BW/VL (every
    such x86 also has DQ, which vreduceps needs)."""
    if getattr(target, "name", "") != "cpu" or lanes not in _AVX512:
        return False
    from onnxjit.targets.cpu import cpu_features

    return {"avx512f", "avx512bw", "avx512vl"} <= set(cpu_features())


def vexp2_avx512(x2: Expr, lanes: int, poly: Sequence[float] = EXP2_FLOOR_POLY) -> Expr:
    """2^x2 in 8 ops: f = x2 - floor(x2) by vreduceps, a degree-5 polynomial, and vscalefps
    (p * 2^floor(x2): it saturates to 0 / inf itself, so no clamps). Rel. err ~2e-7."""
    bits, mask = _AVX512[lanes]
    f = T.call_llvm_pure_intrin(f"float32x{lanes}", f"llvm.x86.avx512.mask.reduce.ps.{bits}", x2,
                                T.int32(9), x2, T.Cast(mask, -1), *_rounding(bits))
    p = splat(poly[0], lanes)
    for c in poly[1:]:
        p = p * f + splat(c, lanes)
    return T.call_llvm_pure_intrin(f"float32x{lanes}", f"llvm.x86.avx512.mask.scalef.ps.{bits}",
                                   p, x2, p, T.Cast(mask, -1), *_rounding(bits))


def _rounding(bits: str) -> tuple[Expr, ...]:
    # the 512-bit forms take an explicit rounding operand (4: the current mode)
    return (T.int32(4),) if bits == "512" else ()


# 2^f on [-1/2, 1/2] (minimax on relative error, ~1e-7 with FMAs), highest degree first
EXP2_HALF_POLY = (1.3276374666020274e-3, 9.67551488429308e-3, 5.550713464617729e-2,
                  2.4022120237350464e-1, 6.931469440460205e-1, 1.0000001192092896)
_ROUND_MAGIC = 12582912.0 + 127.0     # 1.5 * 2^23, plus the exponent bias
# Degree-4 fits (rel. err 2.7e-6) for exp2 inside a sigmoid: sigma's relative error is (1 - sigma)
# times exp's, and a decay a = sigma amplifies its error by 1 / (1 - a) in a recurrence's state,
# so the state sees at most exp's 2.7e-6 (an exp used as the decay itself keeps degree 5).
EXP2_FLOOR_POLY4 = (1.3534008525311947e-2, 5.201138183474541e-2, 2.4144311249256134e-1,
                    6.930036544799805e-1, 1.0000026226043701)
EXP2_HALF_POLY4 = (9.569989517331123e-3, 5.591757968068123e-2, 2.40247443318367e-1,
                   6.931218504905701e-1, 9.999992847442627e-1)


def vexp2_magic(x2: Expr, lanes: int, poly: Sequence[float] = EXP2_HALF_POLY) -> Expr:
    """2^x2 in 12 ops on any SIMD ISA: n = round(x2), and n + 1.5*2^23 + 127 holds n + 127 in
    its low mantissa bits, so its bits << 23 are 2^n (one add instead of a float-int conversion
    and an integer add); a degree-5 polynomial for the fraction. Clamped to [-126, 127] like
    vexp2. (Not z = x2 + magic, n = z - magic: TVM's simplifier folds that to n = x2.)"""
    x2 = T.max(T.min(x2, splat(127.0, lanes)), splat(-126.0, lanes))
    n = T.round(x2)
    z = n + splat(_ROUND_MAGIC, lanes)
    f = x2 - n
    p = splat(poly[0], lanes)
    for c in poly[1:]:
        p = p * f + splat(c, lanes)
    bits = T.shift_left(T.reinterpret(f"int32x{lanes}", z), T.Broadcast(T.int32(23), lanes))
    return p * T.reinterpret(f"float32x{lanes}", bits)


def exp2_builder(target: Any, lanes: int) -> Any:
    """The fastest 2^x vector builder for `target` at `lanes` lanes."""
    return vexp2_avx512 if x86_avx512(target, lanes) else vexp2_magic


def vexp(x: Expr, lanes: int) -> Expr:
    """exp(x) on a float32 vector of `lanes` lanes (as 2^(x log2 e))."""
    return vexp2(x * splat(LOG2E, lanes), lanes)


def vrecip(d: Expr, lanes: int) -> Expr:
    """1/d: rcp estimate + one Newton step (rel. err ~5e-8 .. 2e-7) on x86, else a division."""
    if lanes == 8:
        r = T.call_llvm_pure_intrin(f"float32x{lanes}", "llvm.x86.avx.rcp.ps.256", d)
    elif lanes == 16:  # (16 fp32 lanes: AVX-512; vdivps zmm would cost ~16 cycles a vector)
        r = T.call_llvm_pure_intrin(f"float32x{lanes}", "llvm.x86.avx512.rcp14.ps.512", d, d,
                                    T.int16(-1))
    else:
        return splat(1.0, lanes) / d
    return r * (splat(2.0, lanes) - d * r)


def vsigmoid(x: Expr, lanes: int, exp2: Any = vexp2) -> Expr:
    """1 / (1 + 2^(-x log2 e)); the exponent is capped at 126 so that 1 + 2^.. stays finite
    (the reciprocal estimate of inf is 0, and its Newton step would make 0 * inf = NaN); the
    clamping exp2 builders cap it themselves."""
    x2 = x * splat(-LOG2E, lanes)
    if exp2 is vexp2_avx512:
        e = vexp2_avx512(T.min(x2, splat(126.0, lanes)), lanes, EXP2_FLOOR_POLY4)
    elif exp2 is vexp2_magic:
        e = vexp2_magic(x2, lanes, EXP2_HALF_POLY4)
    else:
        e = exp2(x2, lanes)
    return vrecip(splat(1.0, lanes) + e, lanes)


def tree_sum(terms: Sequence[Expr]) -> Expr:
    terms = list(terms)
    while len(terms) > 1:
        nxt = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]


def chain_sum(terms: Sequence[Expr], chains: int = 2) -> Expr:
    """Sum in `chains` running accumulators (a*b + acc contracts to FMAs), then added up."""
    terms = list(terms)
    accs = terms[:chains]
    for i, term in enumerate(terms[chains:]):
        accs[i % chains] = accs[i % chains] + term
    return tree_sum(accs)


def _shuffle(vs: Sequence[Expr], idx: Sequence[int]) -> Expr:
    return T.Shuffle(list(vs), [T.int32(i) for i in idx])


def transpose_reduce(vecs: Sequence[Expr], lanes: int) -> Expr:
    """K vectors (K a power of two <= lanes) -> a K-lane vector of their horizontal sums.

    A shuffle/add tree: K-1 + log2(lanes/K) vector adds, no scalar code.
    """
    vs = list(vecs)
    k = len(vs)
    per = 1  # channels per vector
    while len(vs) > 1:
        width = lanes // per
        nxt = []
        for i in range(0, len(vs), 2):
            ia = [j * width + q for j in range(per) for q in range(width // 2)]
            ia = ia + [lanes + v for v in ia]
            ib = [v + width // 2 for v in ia]
            nxt.append(_shuffle([vs[i], vs[i + 1]], ia) + _shuffle([vs[i], vs[i + 1]], ib))
        vs = nxt
        per *= 2
    v = vs[0]
    width = lanes
    while width > k:
        part = width // k
        ia = [j * part + q for j in range(k) for q in range(part // 2)]
        ib = [v_ + part // 2 for v_ in ia]
        v = _shuffle([v], ia) + _shuffle([v], ib)
        width //= 2
    return v
