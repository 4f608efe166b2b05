"""GPU template for onnxjit::Conv (dense, or sparse BSR weights from compiler/sparsity.py).

Uses the row layout of compiler/conv_geometry.py like the CPU kernels: unless the conv is a plain
1x1, a first launch builds the zero-padded, stride-phase-split copy Xq (one thread per element);
then one thread per output element (adjacent threads on adjacent pixels, so the input reads of a
warp are contiguous) sums over the weights — dense: every (input channel, tap); sparse: the
nonzero blocks of its output channel's block row, val[b*BR + c] * Xq[off[b] + q] — and applies the
epilogue (bias, then residual add / relu / clip in order). Knobs: impl (dense, or sparse when the
weights carry a packing) x threads per block.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from
from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops._tir import read_spec
from onnxjit.compiler.tvm_api import PrimFunc, T, tirx
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.gpu_common import is_gpu, thread_choices

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import Schedule
    from onnxjit.targets.base import Target


def _spec(kernel: Kernel) -> dict[str, Any] | None:
    if len(kernel.op_types) != 1:
        return None
    spec = read_spec(kernel.func)
    return spec if spec is not None and spec.get("op") == "DirectConv" else None


class GpuConvTemplate(ScheduleTemplate):
    name = "gpu_conv"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        return is_gpu(target) and _spec(kernel) is not None

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        spec = _spec(kernel)
        impls = ["dense"]
        if spec is not None and int(spec["block"]) > 0 and int(spec["group"]) == 1:
            impls = ["sparse", "dense"] if spec["impl"] == "sparse" else ["dense", "sparse"]
        return [{"impl": i, "nt": t} for i in impls for t in thread_choices(target)]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        space = self.space(kernel, target)
        return next((k for k in space if k["nt"] == 128), space[0])

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("gpu_conv generates its loop nest (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec = _spec(kernel)
        if spec is None or dict(knobs) not in [dict(k) for k in self.space(kernel, target)]:
            raise KnobError(f"gpu_conv: knobs {dict(knobs)} do not fit {kernel.name}")
        shapes = [tuple(int(d) for d in p.shape) for p in kernel.func.params]
        func = conv_kernel(geometry_from(spec), spec, shapes, str(knobs["impl"]) == "sparse",
                           int(knobs["nt"]))
        return func.with_attr("global_symbol", kernel.name)


def _epilogue(spec: dict[str, Any], value: Any, co: Any, bias: Any, res: Any, ridx: Any) -> Any:
    value = value + bias[co]
    for op in spec["post"]:
        if op == "add":
            value = value + res[ridx]
        elif op == "relu":
            value = tirx.max(value, tirx.const(0.0, "float32"))
        elif op == "clip":
            value = tirx.min(tirx.max(value, tirx.const(float(spec["lo"]), "float32")),
                             tirx.const(float(spec["hi"]), "float32"))
    return value


def conv_kernel(g: ConvGeometry, spec: dict[str, Any], shapes: list[tuple[int, ...]],
                sparse: bool, nt: int) -> PrimFunc:
    xs, ws, bs, vs, os_, ps, rs, ys = shapes
    br = max(1, int(spec["block"]))
    has_r = "add" in spec["post"]
    taps, kw, cg, mg = g.taps, g.kw, g.cg, g.mg
    wct = int(spec.get("wct") or mg)   # Wt is [group, mg / wct, cg, taps, wct] (conv_rewrite.py)
    xq_len, cpl, pl, wq = g.xq_len, g.cplane, g.plane, g.wq
    xlen, howo, outs = g.c * g.h * g.w, g.ho * g.wo, g.n * g.m * g.ho * g.wo
    pads = g.n * xq_len
    direct = int(g.direct)

    def toff(t: Any) -> Any:
        ky, kx = t // kw, t % kw
        return ((ky * g.dh) % g.sh * g.sw + (kx * g.dw) % g.sw) * pl + (ky * g.dh) // g.sh * wq \
            + (kx * g.dw) // g.sw

    def blocks(total: int) -> int:
        return max(1, (total + nt - 1) // nt)

    @T.macro
    def outputs(Xs, Wf, val, off, ptr, B, Rf, Yf):
        for bx in T.thread_binding(blocks(outs), thread="blockIdx.x"):
            for tx in T.thread_binding(nt, thread="threadIdx.x"):
                acc = T.alloc_buffer((1,), "float32", scope="local")
                e = T.meta_var(bx * nt + tx)
                nn = T.meta_var(e // (g.m * howo))
                co = T.meta_var(e // howo % g.m)
                q = T.meta_var(e % howo // g.wo * wq + e % g.wo)
                if e < outs:
                    acc[0] = T.float32(0)
                    if sparse:
                        for jj in T.serial(ptr[co // br], ptr[co // br + 1]):
                            acc[0] = acc[0] + val[jj * br + co % br] * Xs[nn * xq_len + off[jj] + q]
                    else:
                        for ci in T.serial(cg):
                            for t in T.unroll(taps):
                                acc[0] = acc[0] + Wf[(((co // mg * (mg // wct) + co % mg // wct) * cg + ci)
                                                      * taps + t) * wct + co % mg % wct] \
                                    * Xs[nn * xq_len + (co // mg * cg + ci) * cpl + toff(t) + q]
                    Yf[e] = _epilogue(spec, acc[0], co, B, Rf, e)

    @T.prim_func
    def func(X: T.Buffer(xs, "float32"), Wt: T.Buffer(ws, "float32"), B: T.Buffer(bs, "float32"),
             val: T.Buffer(vs, "float32"), off: T.Buffer(os_, "int32"), ptr: T.Buffer(ps, "int32"),
             R: T.Buffer(rs, "float32"), Y: T.Buffer(ys, "float32")) -> None:
        T.func_attr({"tirx.noalias": True})
        Xf = T.decl_buffer((g.n * xlen,), "float32", data=X.data)
        Wf = T.decl_buffer((max(1, int(ws[0])),), "float32", data=Wt.data)
        Yf = T.decl_buffer((outs,), "float32", data=Y.data)
        Rf = T.decl_buffer((outs if has_r else 1,), "float32", data=R.data)
        if direct == 1:
            outputs(Xf, Wf, val, off, ptr, B, Rf, Yf)
        else:
            Xq = T.alloc_buffer((max(pads, 1),), "float32")
            for bx in T.thread_binding(blocks(pads), thread="blockIdx.x"):
                for tx in T.thread_binding(nt, thread="threadIdx.x"):
                    e = T.meta_var(bx * nt + tx)
                    ci = T.meta_var(e % xq_len // cpl)
                    ph = T.meta_var(e % cpl // pl)
                    yy = T.meta_var(ph // g.sw + g.sh * (e % pl // wq) - g.pt)
                    xx = T.meta_var(ph % g.sw + g.sw * (e % wq) - g.pl)
                    if e < pads:
                        Xq[e] = T.if_then_else(
                            yy >= 0 and yy < g.h and xx >= 0 and xx < g.w,
                            Xf[T.max(T.min(e // xq_len * xlen + ci * g.h * g.w + yy * g.w + xx,
                                           g.n * xlen - 1), 0)], T.float32(0))
            outputs(Xq, Wf, val, off, ptr, B, Rf, Yf)

    return func
