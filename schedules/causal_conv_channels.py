"""The channels-last CausalConvWithState kernel (onnxjit::CausalConvWithStateNTC, float32).

Input and output are (B, L, C): channels are contiguous, so a vector holds `w` channels of one
time step and every load and store is a whole vector, with no shifted reads. Time runs outside,
channels inside, so the input and output rows stream in order (channel blocks outside would walk
the rows with a page-sized stride: 2.2 ms instead of ~0.5 for Gated DeltaNet's [1024, 1536]);
the taps are transposed once into a (k, C) scratch so each is a contiguous vector load. The
first k-1 steps read the carried state ((B, C, k-1): a strided gather) and are peeled off the
main loop, so it has no branch. Threads split time. Channels past the last whole vector take a
scalar loop.
"""
from __future__ import annotations

from typing import Any

from onnxjit.compiler.tvm_api import PrimFunc, T
from onnxjit.schedules._vecmath import vexp2

F32 = "float32"


def channels_last_kernel(spec: dict[str, Any], w: int, threads: int, silu_vec: Any,
                         exp2: Any = vexp2) -> PrimFunc:
    """`silu_vec(acc, w, exp2)`: the SiLU of a vector (schedules/causal_conv.py's)."""
    batch, chans, length, k = (int(spec[key]) for key in ("B", "C", "L", "k"))
    km1 = k - 1
    silu = bool(spec["silu"])
    nblocks = chans // w
    rest = chans - nblocks * w
    head = min(km1, length)           # steps whose taps reach into the carried state
    time_loop = T.parallel if threads > 1 else T.serial

    def act_vec(acc: Any) -> Any:
        return silu_vec(acc, w, exp2) if silu else acc

    def act(acc: Any) -> Any:
        return acc / (T.float32(1) + T.exp(-acc)) if silu else acc

    # flat views: only a buffer's last index may be a vector
    def tap(wk: Any, c0: Any, j: int) -> Any:
        return wk[T.ramp(j * chans + c0, 1, w)]

    def row(xf: Any, b: Any, t: Any, c0: Any) -> Any:
        return xf[T.ramp((b * length + t) * chans + c0, 1, w)]

    def head_vec(xf: Any, wk: Any, bias: Any, pf: Any, b: Any, c0: Any, t: Any) -> Any:
        """Output step t < k-1 of channels c0..c0+w: taps before time 0 read the state."""
        acc = bias[T.ramp(c0, 1, w)]
        for j in range(k):
            p = t + j
            src = T.if_then_else(p < km1,
                                 pf[T.ramp((b * chans + c0) * km1 + T.min(p, km1 - 1), km1, w)],
                                 row(xf, b, T.max(p - km1, 0), c0))
            acc = acc + tap(wk, c0, j) * src
        return act_vec(acc)

    def body_vec(xf: Any, wk: Any, bias: Any, b: Any, c0: Any, t: Any) -> Any:
        acc = bias[T.ramp(c0, 1, w)]
        for j in range(k):
            acc = acc + tap(wk, c0, j) * row(xf, b, t + j - km1, c0)
        return act_vec(acc)

    def padded(x: Any, past: Any, b: Any, c: Any, p: Any) -> Any:
        return T.if_then_else(p < km1, past[b, c, T.min(p, km1 - 1)], x[b, T.max(p - km1, 0), c])

    def scalar(x: Any, wt: Any, bias: Any, past: Any, b: Any, c: Any, t: Any) -> Any:
        acc = bias[c]
        for j in range(k):
            acc = acc + wt[c, 0, j] * padded(x, past, b, c, t + j)
        return act(acc)

    @T.prim_func
    def func(x: T.Buffer((batch, length, chans), F32), wt: T.Buffer((chans, 1, k), F32),
             bias: T.Buffer((chans,), F32), past: T.Buffer((batch, chans, km1), F32),
             y: T.Buffer((batch, length, chans), F32),
             state: T.Buffer((batch, chans, km1), F32)) -> None:
        T.func_attr({"tirx.noalias": True})
        xf = T.decl_buffer((batch * length * chans,), F32, data=x.data)
        yf = T.decl_buffer((batch * length * chans,), F32, data=y.data)
        wf = T.decl_buffer((chans * k,), F32, data=wt.data)
        pf = T.decl_buffer((batch * chans * km1,), F32, data=past.data)
        wk = T.alloc_buffer((k * chans,), F32)
        for j, c in T.grid(k, chans):
            wk[j * chans + c] = wf[c * k + j]
        for b in T.serial(batch):
            for t in T.serial(head):
                for cb in T.serial(nblocks):
                    yf[T.ramp((b * length + t) * chans + cb * w, 1, w)] = head_vec(
                        xf, wk, bias, pf, b, cb * w, t)
            for t in time_loop(length - head):
                for cb in T.serial(nblocks):
                    yf[T.ramp((b * length + t + head) * chans + cb * w, 1, w)] = body_vec(
                        xf, wk, bias, b, cb * w, t + head)
        for b, c, t in T.grid(batch, rest, length):
            y[b, t, nblocks * w + c] = scalar(x, wt, bias, past, b, nblocks * w + c, t)
        for b, c, s in T.grid(batch, chans, km1):
            state[b, c, s] = padded(x, past, b, c, length + s)

    return func

