"""Explicit-vector TIR expression builders for hand-written kernels (any lane count).

`T.exp` lowers to scalar libm calls and `T.vectorized` cannot express horizontal reductions, so
the recurrence kernels build their vector arithmetic from these (shared/notes/proto-scan.md).
exp is Cephes-style: 2^n by exponent bits (no AVX-512 vscalef needed), degree-6 polynomial,
~1e-7 relative error. Reciprocals use the hardware estimate plus one Newton step on x86.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxjit.compiler.tvm_api import T

Expr = Any
LOG2E = 1.44269504088896341
EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
            1.6666665459e-1, 5.0000001201e-1)


def splat(value: float, lanes: int) -> Expr:
    return T.Broadcast(T.float32(value), lanes)


def bcast(x: Expr, lanes: int) -> Expr:
    return T.Broadcast(x, lanes)


def vexp(x: Expr, lanes: int) -> Expr:
    """exp(x) on a float32 vector of `lanes` lanes (clamped to the finite range)."""
    x = T.max(T.min(x, splat(88.3762626647950, lanes)), splat(-87.3365447505531, lanes))
    n = T.floor(x * splat(LOG2E, lanes) + splat(0.5, lanes))
    r = x - n * splat(0.693359375, lanes) + n * splat(2.12194440e-4, lanes)
    p = splat(EXP_POLY[0], lanes)
    for c in EXP_POLY[1:]:
        p = p * r + splat(c, lanes)
    p = p * r * r + r + splat(1.0, lanes)
    bits = T.shift_left(T.Cast(f"int32x{lanes}", n) + T.Broadcast(T.int32(127), lanes),
                        T.Broadcast(T.int32(23), lanes))
    return p * T.reinterpret(f"float32x{lanes}", bits)


def vrecip(d: Expr, lanes: int) -> Expr:
    """1/d: rcp estimate + one Newton step (rel. err ~5e-8 .. 2e-7) on x86, else a division."""
    intrin = {8: "llvm.x86.avx.rcp.ps.256"}.get(lanes)
    if intrin is None:
        return splat(1.0, lanes) / d
    r = T.call_llvm_pure_intrin(f"float32x{lanes}", intrin, d)
    return r * (splat(2.0, lanes) - d * r)


def vsigmoid(x: Expr, lanes: int) -> Expr:
    return vrecip(splat(1.0, lanes) + vexp(-x, lanes), lanes)


def tree_sum(terms: Sequence[Expr]) -> Expr:
    terms = list(terms)
    while len(terms) > 1:
        nxt = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]


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
