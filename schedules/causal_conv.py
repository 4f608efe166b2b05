"""CPU template for CausalConvWithState (float32): one pass over each channel's time row.

A channel's k taps are broadcast once; its row is produced `vec` time steps at a time from k
shifted unaligned loads of the input (the first k-1 steps, which read the carried state, take a
scalar path), with bias and the SiLU (polynomial exp + rcp) fused before the single store. The
op is memory-bound (input read once, output written once), so nothing else is staged.
Threads split the (batch, channel) rows. The (B, L, C) form, onnxjit::CausalConvWithStateNTC,
runs schedules/causal_conv_channels.py's kernel.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import read_spec
from onnxjit.compiler.tvm_api import PrimFunc, T
from onnxjit.schedules._vecmath import bcast, exp2_builder, splat, vexp, vexp2, vsigmoid
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.causal_conv_channels import channels_last_kernel

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

F32 = "float32"


class CausalConvTemplate(ScheduleTemplate):
    name = "causal_conv"
    streams_inputs = True

    def _spec(self, kernel: Kernel) -> dict[str, Any] | None:
        if kernel.op_types not in (("CausalConvWithState",), ("CausalConvWithStateNTC",)):
            return None
        spec = read_spec(kernel.func)
        if spec is None or spec.get("op") != "CausalConvWithState" or spec["dtype"] != F32:
            return None
        # The fast kernel takes x, w, bias, past -> y, state; without bias or past_state the
        # reference loop nest (tir_extern) runs instead.
        full = spec["bias"] and spec["past"] and len(kernel.func.params) == 6
        return spec if full else None

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return target.simd_cpu and self._spec(kernel) is not None

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        lanes = getattr(target, "vector_lanes", 8)
        unrolls = (1,) if self._channels_last(kernel) else (1, 2)  # (channel blocks: no unroll)
        return [{"vec": v, "unroll": u} for v in (lanes, 2 * lanes) for u in unrolls]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        unroll = 1 if self._channels_last(kernel) else 2
        return {"vec": getattr(target, "vector_lanes", 8), "unroll": unroll}

    def _channels_last(self, kernel: Kernel) -> bool:
        spec = self._spec(kernel)
        return bool(spec and spec.get("channels_last"))

    def apply(self, sch: Any, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("causal_conv template generates its loop nest (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec = self._spec(kernel)
        if spec is None or dict(knobs) not in [dict(k) for k in self.space(kernel, target)]:
            raise KnobError(f"causal_conv: knobs {dict(knobs)} do not fit this kernel")
        # vrecip's rcp estimate is an x86 intrinsic at 8/16 lanes; other ISAs (wasm) divide.
        vec = int(knobs["vec"])
        x86, exp2 = target.name == "cpu", exp2_builder(target, vec)
        if spec.get("channels_last"):
            func = channels_last_kernel(spec, vec, target.threads,
                                        lambda v, w, e: _silu(v, w, x86, e), exp2)
            return func.with_attr("global_symbol", kernel.name)
        func = conv_kernel(spec, vec, int(knobs["unroll"]), target.threads,
                           x86=target.name == "cpu", exp2=exp2_builder(target, vec))
        return func.with_attr("global_symbol", kernel.name)


def _silu(v: Any, w: int, x86: bool = True, exp2: Any = vexp2) -> Any:
    if x86:
        return v * vsigmoid(v, w, exp2)
    return v * (splat(1.0, w) / (splat(1.0, w) + vexp(-v, w)))


def conv_kernel(spec: dict[str, Any], w: int, unroll: int, threads: int,
                x86: bool = True, exp2: Any = vexp2) -> PrimFunc:
    batch, chans, length, k = (int(spec[key]) for key in ("B", "C", "L", "k"))
    km1 = k - 1
    has_bias, has_past, silu = bool(spec["bias"]), bool(spec["past"]), bool(spec["silu"])
    step = w * unroll
    # Outputs do not depend on each other, so rows of at least one vector are all vector
    # steps: the first vector (its taps gather from the carried state), full steps, single
    # vectors, and a last vector overlapping the previous one (scalar libm exp at ~30 tail
    # steps a row had cost as much as the whole vector part).
    vec_row = length >= w
    head = w if vec_row else min(km1, length)     # steps before the main loop
    nvec = (length - head) // step if vec_row else 0
    tail0 = head + nvec * step                    # first step after the main loop
    nsingle = (length - tail0) // w if vec_row else 0
    overlap = int(vec_row and (length - tail0) % w != 0)
    rows = batch * chans
    row_loop = T.parallel if threads > 1 else T.serial
    bias_s = (chans,) if has_bias else (1,)
    past_s = (batch, chans, km1) if has_past else (1, 1, 1)

    def tap_sum(x: Any, wt: Any, bias: Any, b: Any, c: Any, t0: Any) -> Any:
        acc = bcast(bias[c], w) if has_bias else splat(0.0, w)
        for j in range(k):
            acc = acc + bcast(wt[c, 0, j], w) * x[b, c, T.ramp(t0 + j - km1, 1, w)]
        return _silu(acc, w, x86, exp2) if silu else acc

    def first_vec(x: Any, wt: Any, bias: Any, past: Any, b: Any, c: Any) -> Any:
        acc = bcast(bias[c], w) if has_bias else splat(0.0, w)
        for j in range(k):
            p = T.ramp(j, 1, w)                    # source positions t + j of lanes t = 0..w-1
            before = (past[b, c, T.min(p, T.Broadcast(km1 - 1, w))] if has_past and km1 > 0
                      else splat(0.0, w))
            src = T.Select(p < T.Broadcast(km1, w), before,   # (both sides are in-bounds loads)
                           x[b, c, T.max(p - km1, T.Broadcast(0, w))])
            acc = acc + bcast(wt[c, 0, j], w) * src
        return _silu(acc, w, x86, exp2) if silu else acc

    def scalar_at(x: Any, wt: Any, bias: Any, past: Any, b: Any, c: Any, t: Any) -> Any:
        acc = bias[c] if has_bias else T.float32(0)
        for j in range(k):
            p = t + j
            from_past = past[b, c, T.min(p, km1 - 1)] if has_past else T.float32(0)
            acc = acc + wt[c, 0, j] * T.if_then_else(p < km1, from_past, x[b, c, T.max(p - km1, 0)])
        return acc / (T.float32(1) + T.exp(-acc)) if silu else acc

    def state_at(x: Any, past: Any, b: Any, c: Any, s: Any) -> Any:
        p = length + s
        from_past = past[b, c, T.min(p, km1 - 1)] if has_past else T.float32(0)
        return T.if_then_else(p < km1, from_past, x[b, c, T.max(p - km1, 0)])

    @T.prim_func
    def func(x: T.Buffer((batch, chans, length), F32), wt: T.Buffer((chans, 1, k), F32),
             bias: T.Buffer(bias_s, F32), past: T.Buffer(past_s, F32),
             y: T.Buffer((batch, chans, length), F32),
             state: T.Buffer((batch, chans, km1), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        for r in row_loop(rows):
            b = T.meta_var(r // chans)
            c = T.meta_var(r % chans)
            if vec_row:
                y[b, c, T.ramp(0, 1, w)] = first_vec(x, wt, bias, past, b, c)
            else:
                for t in T.serial(length):
                    y[b, c, t] = scalar_at(x, wt, bias, past, b, c, t)
            for i in T.serial(nvec):
                for u in T.unroll(unroll):
                    t0 = T.meta_var(head + i * step + u * w)
                    y[b, c, T.ramp(t0, 1, w)] = tap_sum(x, wt, bias, b, c, t0)
            for i in T.serial(nsingle):
                y[b, c, T.ramp(tail0 + i * w, 1, w)] = tap_sum(x, wt, bias, b, c, tail0 + i * w)
            for _ in T.serial(overlap):
                y[b, c, T.ramp(length - w, 1, w)] = tap_sum(x, wt, bias, b, c, length - w)
            for s in T.serial(km1):
                state[b, c, s] = state_at(x, past, b, c, s)

    return func

