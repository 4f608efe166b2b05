"""float32 exp/erf/tanh as straight-line SIMD code in wasm builds, instead of libm calls; and
portable forms of the x86 intrinsics CPU templates pick by vector width (an 8-lane reciprocal
estimate on wasm32 aborts LLVM).

On wasm32, LLVM scalarises `llvm.exp.v4f32` into four wasi-libc `expf` calls (softmax 3.7x slower,
shared/notes/wasm-target.md). Ops lowered with te.exp/T.exp (Exp, Sigmoid, SiLU, Mamba's scans,
...) reach codegen as `tirx.exp` calls, so a lowering rule rewrites them into the polynomial of
compiler/ops/_math.py, for scalar and vector dtypes alike. The rules are registered for every LLVM
target but act only inside `wasm_fast_math()` (the wasm target's build): CPU builds are untouched.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from onnxjit.compiler import tvm_api
from onnxjit.compiler.ops import _math
from onnxjit.compiler.tvm_api import T, tirx

Expr = Any
_ACTIVE: ContextVar[bool] = ContextVar("onnxjit_wasm_fast_math", default=False)
_registered = False


def _exp(x: Expr, dtype: str) -> Expr:
    """_math.fast_exp at x's dtype (scalar or vector)."""
    c = _math._c
    lo = c(_math._EXP_LO, dtype)
    xc = _math._clamp(x, lo, c(_math._EXP_HI, dtype))
    n = tirx.round(xc * c(_math._LOG2E, dtype))
    r = xc - n * c(_math._LN2_HI, dtype) - n * c(_math._LN2_LO, dtype)
    p = _math._horner(r, _math._EXP_P, dtype) * r * r + r + c(1.0, dtype)
    return tirx.Select(x < lo, c(0.0, dtype), p * _math.pow2_of_integral(n, dtype))


def _erf(x: Expr, dtype: str) -> Expr:
    c = _math._c
    xc = _math._clamp(x, c(-4.0, dtype), c(4.0, dtype))
    x2 = xc * xc
    return xc * _math._horner(x2, _math._ERF_A, dtype) / _math._horner(x2, _math._ERF_B, dtype)


def _tanh(x: Expr, dtype: str) -> Expr:
    c = _math._c
    one = c(1.0, dtype)
    return c(2.0, dtype) * (one / (one + _exp(c(-2.0, dtype) * x, dtype))) - one


_RULES = {"tirx.exp": _exp, "tirx.erf": _erf, "tirx.tanh": _tanh}
# x86 reciprocal estimates (schedules/_vecmath.vrecip at 8/16 lanes; a Newton step follows, which
# keeps an exact quotient exact) -> a division. Keyed by LLVM intrinsic name, argument 1 = d.
_X86_RECIPROCALS = ("llvm.x86.avx.rcp.ps.256", "llvm.x86.avx512.rcp14.ps.512")


def _rule(build: Any) -> Any:
    def lower(call: Any, default: Any) -> Any:
        dtype = tvm_api.call_dtype(call)
        if not _ACTIVE.get() or not dtype.startswith("float32"):
            return default(call)   # TVM's own lowering (libm) for CPU builds and float64
        return build(call.args[0], dtype)
    return lower


def _portable_intrinsics() -> Any:
    lanes = {"llvm.x86.avx.rcp.ps.256": 8, "llvm.x86.avx512.rcp14.ps.512": 16}
    ids = {int(T.call_llvm_pure_intrin(f"float32x{lanes[n]}", n, T.float32(0)).args[0])
           for n in _X86_RECIPROCALS}

    def lower(call: Any, default: Any) -> Any:
        if not _ACTIVE.get() or int(call.args[0]) not in ids:
            return default(call)
        dtype = tvm_api.call_dtype(call)
        return _math._c(1.0, dtype) / call.args[1]
    return lower


def _register() -> None:
    global _registered
    if not _registered:
        for op, build in _RULES.items():
            tvm_api.register_llvm_intrinsic_rule(op, _rule(build))
        tvm_api.register_llvm_intrinsic_rule("tirx.call_llvm_pure_intrin", _portable_intrinsics())
        _registered = True


@contextlib.contextmanager
def wasm_fast_math() -> Iterator[None]:
    """Within this block, LLVM builds lower float32 exp/erf/tanh to polynomials."""
    _register()
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
