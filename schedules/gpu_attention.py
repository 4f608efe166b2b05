"""GPU template for onnxjit::Attention (float32): a flash kernel (gpu_attention_kernel.py).

Knobs: bq (query rows per block; a K/V head's GQA query heads share tiles), bkv (keys per tile),
tv (threads per row, each owning dv / tv output columns), ns (KV splits merged by a second kernel).
The space keeps the points whose threads and shared memory fit the target (WebGPU: 256 threads,
16 KB) and at most 32 output columns per thread (registers). Few query rows (decode, short
queries: at most 64 per K/V head) get row tiles no taller than the rows and KV splits, so the
blocks fill the GPU; more rows keep one block per row tile walking every key.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops.attention_core import AttentionSpec
from onnxjit.compiler.tvm_api import parse_tvmscript
from onnxjit.schedules.attention import kernel_attention
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.gpu_attention_kernel import cdiv, generate, shared_bytes
from onnxjit.schedules.gpu_common import is_gpu, max_shared, max_threads

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import PrimFunc, Schedule
    from onnxjit.targets.base import Target

SHORT_ROWS = 64        # rows per K/V head up to which the kernel splits the keys instead
SPLIT_BLOCKS = 256     # blocks a KV split aims for (two waves of a 132-SM GPU at 1 block/SM)


def _pow2_at_least(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def _rows(spec: AttentionSpec) -> int:
    return spec.group * spec.sq


def _splits(spec: AttentionSpec, bkv: int) -> list[int]:
    """KV split counts: each split keeps at least two key tiles."""
    nkt = cdiv(spec.skv, bkv)
    return [n for n in (1, 2, 4, 8, 16, 32, 64) if n == 1 or n <= nkt // 2]


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
        short = _rows(spec) <= SHORT_ROWS
        tallest = max(4, _pow2_at_least(_rows(spec))) if short else 64
        heights = [h for h in (64, 32, 16, 8, 4) if h <= tallest and (short or h >= 8)]
        points: list[Knobs] = []
        for bq in heights:
            for bkv in (64, 32, 16):
                for tv in (32, 16, 8, 4, 2, 1):
                    nt = bq * tv
                    if (nt > max_threads(target) or nt < 32 or cdiv(spec.dv, tv) > 32
                            or (tv > 8 and bq > 8)
                            or shared_bytes(spec, bq, bkv) > max_shared(target)):
                        continue
                    for ns in _splits(spec, bkv) if short else (1,):
                        points.append({"bq": bq, "bkv": bkv, "tv": tv, "ns": ns})
        return points[:64]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        space = self.space(kernel, target)
        if not space:
            raise KnobError(f"no attention tile fits {target.describe()}")
        spec = self._spec(kernel)
        if _rows(spec) <= SHORT_ROWS:
            # Few rows: at most 8 output columns and 32 staged K/V values per thread (the
            # unrolled staging loads are what fills the registers), the tallest row tile, about
            # 128 threads, the longest key tiles, then the fewest KV splits giving SPLIT_BLOCKS
            # blocks.
            def key(k: Knobs) -> tuple[int, ...]:
                bq, bkv, tv, ns = (int(k[n]) for n in ("bq", "bkv", "tv", "ns"))
                staged = bkv * (spec.d + spec.dv) // (bq * tv)
                blocks = spec.batch * spec.kv_heads * cdiv(_rows(spec), bq) * ns
                return (cdiv(spec.dv, tv) <= 8, staged <= 32, bq, -abs(bq * tv - 128), bkv,
                        -abs(min(blocks, SPLIT_BLOCKS) - SPLIT_BLOCKS), -ns)

            return max(space, key=key)
        # Most threads per block, the tallest query tile, at most 16 columns per thread.
        return max(space, key=lambda k: (int(k["bq"]) * int(k["tv"]),
                                         cdiv(64, int(k["tv"])) <= 16, int(k["bq"]),
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
        source = generate(spec, int(knobs["bq"]), int(knobs["bkv"]), int(knobs["tv"]),
                          int(knobs.get("ns", 1)), params, mapped)
        return parse_tvmscript(source).with_attr("global_symbol", kernel.name)
