"""GPU template for onnxjit::Attention (float32): a flash kernel, one thread block per query tile.

Block (b, h, query tile of `bq` rows) of bq * tv threads: the Q tile is staged in shared memory
once; per key tile of `bkv` keys, K and V tiles are staged in shared memory, the bq x bkv scores
(scale, softcap, mask, causal) are computed cooperatively into shared memory, then each row's tv
threads run the online softmax (running max and sum, in registers) and update their dv / tv output
columns. Causal kernels stop at the diagonal's last key tile. A fully masked row gives zeros.
Masked scores are -3e38, not -inf: WGSL lets compilers assume finite floats.
Knobs: bq, bkv, tv; the space keeps the points whose threads and shared memory fit the target
(WebGPU: 256 threads, 16 KB) and at most 32 output columns per thread (registers).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops.attention_core import AttentionSpec
from onnxjit.compiler.tvm_api import parse_tvmscript
from onnxjit.schedules.attention import kernel_attention
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.gpu_common import is_gpu, max_shared, max_threads

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import PrimFunc, Schedule
    from onnxjit.targets.base import Target


def _cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


def _pow2_at_least(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def shared_bytes(spec: AttentionSpec, bq: int, bkv: int) -> int:
    return 4 * (bq * spec.d + bkv * spec.d + bkv * spec.dv + bq * bkv)


def _at(layout: str, hd: int, b: str, h: str, s: str, d: str) -> str:
    if layout == "bhsd":
        return f"{b}, {h}, {s}, {d}"
    return f"{b}, {s}, ({h}) * {hd} + {d}"


class GpuAttentionTemplate(ScheduleTemplate):
    name = "gpu_attention"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        if not is_gpu(target):
            return False
        found = kernel_attention(kernel)
        return found is not None and found[0].dtype == "float32" and bool(
            self.space(kernel, target))

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        found = kernel_attention(kernel)
        if found is None:
            return []
        spec = found[0]
        points: list[Knobs] = []
        for bq in (64, 32, 16, 8):
            for bkv in (64, 32, 16):
                for tv in (8, 4, 2, 1):
                    nt = bq * tv
                    if (nt > max_threads(target) or nt < 32 or _cdiv(spec.dv, tv) > 32
                            or shared_bytes(spec, bq, bkv) > max_shared(target)):
                        continue
                    points.append({"bq": bq, "bkv": bkv, "tv": tv})
        return points[:64]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        space = self.space(kernel, target)
        if not space:
            raise KnobError(f"no attention tile fits {target.describe()}")
        # No taller query tile than the queries (decode: one row); then most threads per block,
        # the tallest query tile, at most 16 columns per thread.
        spec = self._spec(kernel)
        short = [k for k in space if int(k["bq"]) <= max(8, _pow2_at_least(spec.sq))]
        return max(short or space, key=lambda k: (int(k["bq"]) * int(k["tv"]),
                                         _cdiv(64, int(k["tv"])) <= 16, int(k["bq"]),
                                         int(k["bkv"])))

    @staticmethod
    def _spec(kernel: Kernel) -> AttentionSpec:
        found = kernel_attention(kernel)
        if found is None:
            raise KnobError(f"kernel {kernel.name} is not one onnxjit::Attention")
        return found[0]

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("gpu_attention generates its kernel (instantiate)")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        found = kernel_attention(kernel)
        if found is None or dict(knobs) not in [dict(k) for k in self.space(kernel, target)]:
            raise KnobError(f"gpu_attention: knobs {dict(knobs)} do not fit {kernel.name}")
        spec, roles = found
        params, names = [], {}
        for i, buf in enumerate(kernel.func.params):
            names[str(buf.name)] = f"p{i}"
            params.append((f"p{i}", tuple(int(x) for x in buf.shape), str(buf.dtype)))
        mapped = {role: names[n] for role, n in roles.items()}
        mapped["out"] = params[-1][0]
        source = generate(spec, int(knobs["bq"]), int(knobs["bkv"]), int(knobs["tv"]), params,
                          mapped)
        return parse_tvmscript(source).with_attr("global_symbol", kernel.name)


def generate(spec: AttentionSpec, bq: int, bkv: int, tv: int,
             params: list[tuple[str, tuple[int, ...], str]], roles: dict[str, str]) -> str:
    s = spec
    nt, ov = bq * tv, _cdiv(s.dv, tv)
    nqt, nkt = _cdiv(s.sq, bq), _cdiv(s.skv, bkv)
    blocks = s.batch * s.q_heads * nqt
    q, k, v, out = roles["q"], roles["k"], roles["v"], roles["out"]
    hkv = f"h // {s.group}"
    sig = ", ".join(f"{n}: T.Buffer({shape}, '{dt}')" for n, shape, dt in params)
    # Causal: the last key tile any row of this query tile sees.
    kt_end = (f"T.min({nkt}, (qt * {bq} + {bq - 1 + s.causal_offset}) // {bkv} + 1)"
              if s.causal else str(nkt))
    score = "acc[0] * T.float32(%r)" % s.scale
    lines_bias = []
    if s.softcap > 0:
        lines_bias.append(f"sc[0] = T.float32({s.softcap!r}) * T.tanh(sc[0] / "
                          f"T.float32({s.softcap!r}))")
    if s.mask != "none":
        canon = ("b", "h", "qi", "kj")
        idx = ", ".join("0" if dim == 1 else canon[ax] for dim, ax in zip(s.mask_shape,
                                                                         s.mask_axes))
        mval = f"{roles['mask']}[{idx}]"
        if s.mask == "bool":
            lines_bias.append(f"sc[0] = T.Select({mval} != T.bool(False), sc[0], T.float32(-3.0e38))")
        else:
            lines_bias.append(f"sc[0] = sc[0] + T.Cast('float32', {mval})")
    if s.causal:
        lines_bias.append(f"sc[0] = T.Select(kj > qi + {s.causal_offset}, T.float32(-3.0e38), sc[0])")
    bias = "".join(" " * 24 + line + "\n" for line in lines_bias)
    return f'''
@T.prim_func
def main({sig}):
    T.func_attr({{"tir.noalias": True}})
    for bx in T.thread_binding({blocks}, thread="blockIdx.x"):
        for tx in T.thread_binding({nt}, thread="threadIdx.x"):
            Qs = T.alloc_buffer(({bq}, {s.d}), "float32", scope="shared")
            Ks = T.alloc_buffer(({bkv}, {s.d}), "float32", scope="shared")
            Vs = T.alloc_buffer(({bkv}, {s.dv}), "float32", scope="shared")
            S = T.alloc_buffer(({bq}, {bkv}), "float32", scope="shared")
            o = T.alloc_buffer(({ov},), "float32", scope="local")
            st = T.alloc_buffer((5,), "float32", scope="local")
            acc = T.alloc_buffer((1,), "float32", scope="local")
            sc = T.alloc_buffer((1,), "float32", scope="local")
            b = T.meta_var(bx // {s.q_heads * nqt})
            h = T.meta_var(bx // {nqt} % {s.q_heads})
            qt = T.meta_var(bx % {nqt})
            r = T.meta_var(tx // {tv})
            c0 = T.meta_var(tx % {tv})
            for e in range({_cdiv(bq * s.d, nt)}):
                if e * {nt} + tx < {bq * s.d}:
                    Qs[(e * {nt} + tx) // {s.d}, (e * {nt} + tx) % {s.d}] = T.if_then_else(
                        qt * {bq} + (e * {nt} + tx) // {s.d} < {s.sq},
                        {q}[{_at(s.q_layout, s.d, "b", "h",
                                 f"T.min(qt * {bq} + (e * {nt} + tx) // {s.d}, {s.sq - 1})",
                                 f"(e * {nt} + tx) % {s.d}")}], T.float32(0))
            for u in T.unroll({ov}):
                o[u] = T.float32(0)
            st[0] = T.float32(-3.0e38)
            st[1] = T.float32(0)
            for kt in range({kt_end}):
                T.tvm_storage_sync("shared")
                for e in range({_cdiv(bkv * s.d, nt)}):
                    if e * {nt} + tx < {bkv * s.d}:
                        Ks[(e * {nt} + tx) // {s.d}, (e * {nt} + tx) % {s.d}] = T.if_then_else(
                            kt * {bkv} + (e * {nt} + tx) // {s.d} < {s.skv},
                            {k}[{_at(s.k_layout, s.d, "b", hkv,
                                     f"T.min(kt * {bkv} + (e * {nt} + tx) // {s.d}, {s.skv - 1})",
                                     f"(e * {nt} + tx) % {s.d}")}], T.float32(0))
                for e in range({_cdiv(bkv * s.dv, nt)}):
                    if e * {nt} + tx < {bkv * s.dv}:
                        Vs[(e * {nt} + tx) // {s.dv}, (e * {nt} + tx) % {s.dv}] = T.if_then_else(
                            kt * {bkv} + (e * {nt} + tx) // {s.dv} < {s.skv},
                            {v}[{_at(s.v_layout, s.dv, "b", hkv,
                                     f"T.min(kt * {bkv} + (e * {nt} + tx) // {s.dv}, {s.skv - 1})",
                                     f"(e * {nt} + tx) % {s.dv}")}], T.float32(0))
                T.tvm_storage_sync("shared")
                for e in range({_cdiv(bq * bkv, nt)}):
                    if e * {nt} + tx < {bq * bkv}:
                        qi = T.meta_var(qt * {bq} + (e * {nt} + tx) // {bkv})
                        kj = T.meta_var(kt * {bkv} + (e * {nt} + tx) % {bkv})
                        acc[0] = T.float32(0)
                        for d in range({s.d}):
                            acc[0] = acc[0] + Qs[(e * {nt} + tx) // {bkv}, d] * Ks[(e * {nt} + tx) % {bkv}, d]
                        sc[0] = {score}
{bias}
                        S[(e * {nt} + tx) // {bkv}, (e * {nt} + tx) % {bkv}] = T.Select(
                            kj < {s.skv}, T.max(sc[0], T.float32(-3.0e38)), T.float32(-3.0e38))
                T.tvm_storage_sync("shared")
                st[2] = T.float32(-3.0e38)
                for j in range({bkv}):
                    st[2] = T.max(st[2], S[r, j])
                st[3] = T.max(st[0], st[2])
                if st[3] > T.float32(-1.0e38):
                    st[4] = T.exp(st[0] - st[3])
                    st[1] = st[1] * st[4]
                    for u in T.unroll({ov}):
                        o[u] = o[u] * st[4]
                    for j in range({bkv}):
                        st[4] = T.Select(S[r, j] > T.float32(-1.0e38), T.exp(S[r, j] - st[3]), T.float32(0))
                        st[1] = st[1] + st[4]
                        for u in T.unroll({ov}):
                            if c0 + u * {tv} < {s.dv}:
                                o[u] = o[u] + st[4] * Vs[j, T.min(c0 + u * {tv}, {s.dv - 1})]
                    st[0] = st[3]
            if qt * {bq} + r < {s.sq}:
                for u in T.unroll({ov}):
                    if c0 + u * {tv} < {s.dv}:
                        {out}[{_at(s.o_layout, s.dv, "b", "h", f"qt * {bq} + r",
                                   f"c0 + u * {tv}")}] = T.Select(
                            st[1] > T.float32(0), o[u] / st[1], T.float32(0))
'''
