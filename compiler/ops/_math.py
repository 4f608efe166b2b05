"""Vectorisable float32 transcendental functions as TIR expressions (exp, erf, sigmoid, tanh,
log1p).

`T.exp`/`te.exp` and `te.erf` lower to one scalar libm call per lane, so a loop using them never
vectorises; these are polynomial/rational forms built from +, *, floor, select and bit operations,
which LLVM turns into straight-line SIMD code (no isnan(): TVM will not vectorise it). Accuracy:
fast_exp ~1 ulp on its normal range, erf < 5e-7 absolute (and relative). float64 uses libm.
TE expressions carry no dtype before te.compute normalises them, so callers pass it.
They are trees that read their argument many times (fast_exp ~40): nested in one kernel they
multiply (a Let would not help: TVM's simplifier inlines pure Lets), so the partitioner keeps
two such ops apart (compiler/partition.py TRANSCENDENTAL).
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.tvm_api import te, tirx

Expr = Any

_LOG2E = 1.4426950408889634
# ln 2 split in a short high part (exact in float32 when multiplied by n <= 2^8) and the rest.
_LN2_HI = 0.693359375
_LN2_LO = -2.12194440e-4
# Cephes expf minimax polynomial for exp(r) on |r| <= ln2/2: 1 + r + r^2 * P(r).
_EXP_P = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
          1.6666665459e-1, 5.0000001201e-1)
_EXP_HI = 88.72283935546875     # ln(FLT_MAX): the clamp; n = 128 from 88.38 on gives inf
_EXP_LO = -87.33654022216797    # ln(FLT_MIN): below it the result would be subnormal: 0
# n + 1.5*2^23 + 127 (n integral, |n| <= 128) holds n + 127 in its low mantissa bits, so its
# bits << 23 are 2^n: no float -> int conversion (wasm's saturating one is ~7 instructions in V8).
_POW2_MAGIC = 12582912.0 + 127.0

# Rational minimax approximation of erf on [-4, 4] (the one Eigen and TVM's fast_erf use):
# erf(x) = x * A(x^2) / B(x^2); |x| > 4 gives +-1 in float32.
_ERF_A = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
          -1.60960333262415e-02)
_ERF_B = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
          -7.37332916720468e-03, -1.42647390514189e-02)
# Cephes tanhf: tanh(x) = x + x^3 P(x^2) on |x| < 0.625.
_TANH_P = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
           -3.33332819422e-1)


def _c(value: float, dtype: str) -> Expr:
    return tirx.const(value, dtype)


def _horner(x: Expr, coeffs: tuple[float, ...], dtype: str) -> Expr:
    acc = _c(coeffs[0], dtype)
    for c in coeffs[1:]:
        acc = acc * x + _c(c, dtype)
    return acc


def _pow2(n: Expr) -> Expr:
    """2^n for an int32 n in [-126, 128] (128 gives inf), built from the exponent bits."""
    return tirx.reinterpret("float32", tirx.shift_left(n + 127, 23))


def pow2_of_integral(n: Expr, dtype: str) -> Expr:
    """2^n for an integral float32 (or float32xL) n in [-126, 128]: bits of n + _POW2_MAGIC."""
    itype = dtype.replace("float32", "int32")
    bits = tirx.reinterpret(itype, n + _c(_POW2_MAGIC, dtype))
    return tirx.reinterpret(dtype, tirx.shift_left(bits, tirx.const(23, itype)))


def _clamp(x: Expr, lo: Expr, hi: Expr) -> Expr:
    """min(max(x, lo), hi) that lets NaN through (both comparisons are false for NaN).

    tirx.max/min would turn NaN into a bound, and an isnan() test would stop TVM vectorising.
    """
    return tirx.Select(x < lo, lo, tirx.Select(x > hi, hi, x))


def fast_exp(x: Expr, dtype: str) -> Expr:
    """exp(x) of a `dtype` expression, vectorisable: ~1 ulp for -87.3 < x < 88.37; 0 below
    (results that would be subnormal flush to 0, exp(-inf) = 0); inf above; NaN -> NaN."""
    if dtype != "float32":
        return te.exp(x)
    lo = _c(_EXP_LO, dtype)
    xc = _clamp(x, lo, _c(_EXP_HI, dtype))
    # floor + float->int here (every target); the wasm build swaps in the conversion-free
    # pow2_of_integral (targets/wasm/fastmath.py): on WGSL (lavapipe) that form went wrong.
    n = tirx.floor(xc * _c(_LOG2E, dtype) + _c(0.5, dtype))
    r = xc - n * _c(_LN2_HI, dtype) - n * _c(_LN2_LO, dtype)
    p = _horner(r, _EXP_P, dtype) * r * r + r + _c(1.0, dtype)
    return tirx.Select(x < lo, _c(0.0, dtype), p * _pow2(n.astype("int32")))


def erf(x: Expr, dtype: str) -> Expr:
    """erf(x) of a `dtype` expression, vectorisable (rational approximation, |error| < 5e-7)."""
    if dtype != "float32":
        return te.erf(x)
    xc = _clamp(x, _c(-4.0, dtype), _c(4.0, dtype))
    x2 = xc * xc
    return xc * _horner(x2, _ERF_A, dtype) / _horner(x2, _ERF_B, dtype)


def sigmoid(x: Expr, dtype: str) -> Expr:
    """1 / (1 + exp(-x)): exact limits at both ends (exp overflow gives 0, not NaN)."""
    one = _c(1.0, dtype)
    return one / (one + fast_exp(_c(0.0, dtype) - x, dtype))


def tanh(x: Expr, dtype: str) -> Expr:
    """tanh(x), vectorisable (Cephes tanhf): an odd polynomial for |x| < 0.625, where 1 - 2/(e+1)
    would cancel, else sign(x) (1 - 2 / (exp(2|x|) + 1)) (exp overflow gives exactly +-1); ~2 ulp
    relative. NaN takes the polynomial branch and stays NaN."""
    if dtype != "float32":
        return te.tanh(x)
    one, two = _c(1.0, dtype), _c(2.0, dtype)
    big = one - two / (fast_exp(two * tirx.abs(x), dtype) + one)
    x2 = x * x
    small = _horner(x2, _TANH_P, dtype) * x2 * x + x
    return tirx.Select(tirx.abs(x) > _c(0.625, dtype),
                       tirx.Select(x < _c(0.0, dtype), _c(0.0, dtype) - big, big), small)


def tanh_softplus(x: Expr, dtype: str) -> Expr:
    """tanh(log(1 + e^x)) = n / (n + 2) with n = e^x (e^x + 2): Mish's factor from one exp. Above
    x = 20 it is 1 in float32 (the clamp keeps n finite); n -> 0 keeps its relative accuracy."""
    if dtype != "float32":
        return te.tanh(tirx.log1p(te.exp(x)))
    lim = _c(20.0, dtype)
    e = fast_exp(tirx.Select(x > lim, lim, x), dtype)
    n = e * (e + _c(2.0, dtype))
    return n / (n + _c(2.0, dtype))


def log1p_unit(u: Expr, dtype: str) -> Expr:
    """log(1 + u) for u in [0, 1] (softplus' tail), vectorisable: 2 atanh(u / (2 + u)) as an odd
    series in t = u / (2 + u) <= 1/3 (8 terms: < 1 ulp in float32; no cancellation near 0)."""
    if dtype != "float32":
        return tirx.log1p(u)
    t = u / (_c(2.0, dtype) + u)
    t2 = t * t
    series = _horner(t2, tuple(1.0 / (2 * k + 1) for k in range(8, -1, -1)), dtype)
    return _c(2.0, dtype) * t * series
