"""CPU template for onnxjit::Attention kernels: the flash kernel of schedules/attention_kernel.py.

Knobs: block_q (query rows per task), block_kv (keys per tile), tile (register tile "RxV": R rows
by V vectors, sized to the target's vector registers), split_kv (the parallel axis: 1 = tasks over
(batch, KV head, row block); n > 1 also splits each task's keys n ways and merges, for decode where
there are fewer tasks than threads). The space stays under 64 points.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from onnxjit.compiler.errors import KnobError
from onnxjit.compiler.ops.attention_core import ANNOTATION, AttentionSpec
from onnxjit.compiler.tvm_api import block_annotations, parse_tvmscript
from onnxjit.schedules.attention_kernel import (
    FlashConfig, effective_block_q, generate, rows_total)
from onnxjit.schedules.base import Knobs, ScheduleTemplate, inputs_by_param
from onnxjit.schedules.tvmscript_text import HELPERS

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.compiler.tvm_api import PrimFunc, Schedule
    from onnxjit.targets.base import Target


def kernel_attention(kernel: Kernel) -> tuple[AttentionSpec, dict[str, str]] | None:
    """The spec and buffer roles of a kernel that is exactly one onnxjit::Attention, else None."""
    if len(kernel.nodes) != 1 or len(kernel.outputs) != 1:
        return None
    found = block_annotations(kernel.func, ANNOTATION)
    if len(found) != 1:
        return None
    raw = json.loads(found[0])
    roles = dict(raw["roles"])
    params = {str(p.name) for p in kernel.func.params}
    if not set(roles.values()) <= params:
        return None   # e.g. a mask computed inside the kernel: the TE schedule serves it
    return AttentionSpec.from_json(raw["spec"]), roles


def _lanes(target: Target) -> int:
    return int(getattr(target, "vector_lanes", 8))


def _tiles(lanes: int, registers: int = 16) -> list[str]:
    # Accumulators rows*vecs plus loads/broadcasts must fit the register file:
    # 16 vector registers with 8 lanes (AVX2), 32 with 16 lanes (AVX-512).
    # Measured on znver3: 6x2 is best, 5x2 is the spill-safe neighbour; 4x3, 3x4, 8x1 lose 1.4x+.
    # Targets that keep fewer registers for tiles (wasm: 8; Node 20, S=512): 4x2 13.6 ms,
    # 3x2 15.2, 6x2 17.3.
    if registers < 16:
        return ["4x2", "3x2", "6x2"]
    return ["6x2", "5x2"] if lanes <= 8 else ["6x4", "5x4"]


def _target_tiles(target: Target) -> list[str]:
    return _tiles(_lanes(target), int(getattr(target, "vector_registers", 16)))


V_CACHED_BYTES = 1 << 20   # a head's V up to this size stays in L2 between query-row blocks


class AttentionTemplate(ScheduleTemplate):
    name = "attention"

    def applicable(self, kernel: Kernel, target: Target) -> bool:
        if not target.simd_cpu:
            return False
        found = kernel_attention(kernel)
        return found is not None and found[0].dtype == "float32"

    def space(self, kernel: Kernel, target: Target) -> list[Knobs]:
        spec, _ = self._spec(kernel)
        lanes = _lanes(target)
        splits = [1, 2, 4] if self._few_tasks(spec, target) else [1]
        seen: set[tuple[Any, ...]] = set()
        points: list[Knobs] = []
        for bq in (32, 64, 128):
            for bkv in (32, 64, 128, 256):
                for tile in _target_tiles(target):
                    for split in splits:
                        key = (effective_block_q(spec, bq, lanes), min(bkv, _pow2_at_least(spec.skv)),
                               tile, split)
                        if key not in seen:
                            seen.add(key)
                            points.append({"block_q": bq, "block_kv": bkv, "tile": tile,
                                           "split_kv": split})
        default = self.default(kernel, target)
        if default not in points:
            points.insert(0, default)
        return points[:64]

    def default(self, kernel: Kernel, target: Target) -> Knobs:
        spec, _ = self._spec(kernel)
        # Causal: small key tiles waste less on the diagonal; decode: split keys across threads.
        split = 1
        if self._few_tasks(spec, target):
            split = 4 if target.threads > 1 else 1
        return {"block_q": 64, "block_kv": 32 if spec.causal else 128,
                "tile": _target_tiles(target)[0], "split_kv": split}

    def rereads(self, kernel: Kernel, knobs: Knobs) -> frozenset[str]:
        """V, when several query-row blocks load a head's V rows as vectors from cache; K is read
        as broadcast scalars and Q and the mask once per task (S=512: V at 16 bytes 3.58-3.70
        ms, aligned 3.38-3.56). Not with one row block (decode reads V once: copying its 8 MB
        cost 0.4 ms), nor when a head's V outgrows L2 (re-read from memory anyway, and a copy
        would add V's size to peak memory: 32 MB at S=16384)."""
        spec, roles = self._spec(kernel)
        if rows_total(spec) <= int(knobs["block_q"]) or spec.skv * spec.dv * 4 > V_CACHED_BYTES:
            return frozenset()
        return frozenset(v for p, v in inputs_by_param(kernel).items() if p == roles.get("v"))

    def apply(self, sch: Schedule, kernel: Kernel, knobs: Knobs, target: Target) -> None:
        raise KnobError("the attention template generates its kernel (instantiate), not a schedule")

    def instantiate(self, kernel: Kernel, knobs: Knobs, target: Target) -> PrimFunc:
        spec, roles = self._spec(kernel)
        lanes = _lanes(target)
        try:
            rows, vecs = (int(x) for x in str(knobs["tile"]).split("x"))
            cfg = FlashConfig(int(knobs["block_q"]), int(knobs["block_kv"]), rows, vecs * lanes,
                              int(knobs["split_kv"]), lanes, target.threads > 1)
        except (KeyError, ValueError) as exc:
            raise KnobError(f"bad attention knobs {dict(knobs)}: {exc}") from exc
        if cfg.block_q % lanes or cfg.block_kv <= 0 or cfg.split_kv < 1:
            raise KnobError(f"attention knobs {dict(knobs)} do not fit {lanes} lanes")
        params = []
        names = {}
        for i, buf in enumerate(kernel.func.params):  # 0.27: params are the buffers
            pname = f"p{i}"
            names[str(buf.name)] = pname
            params.append((pname, tuple(int(x) for x in buf.shape), str(buf.dtype)))
        out_name = params[-1][0]
        mapped = {role: names[n] for role, n in roles.items() if n in names}
        mapped["out"] = out_name
        missing = {"q", "k", "v"} - set(mapped) | ({"mask"} - set(mapped) if spec.mask != "none"
                                                    else set())
        if missing:
            raise KnobError(f"attention kernel {kernel.name}: no parameter for {sorted(missing)}")
        source = generate(spec, cfg, params, mapped, "main")
        return parse_tvmscript(source, HELPERS).with_attr("global_symbol", kernel.name)

    def _spec(self, kernel: Kernel) -> tuple[AttentionSpec, dict[str, str]]:
        found = kernel_attention(kernel)
        if found is None:
            raise KnobError(f"kernel {kernel.name} is not one onnxjit::Attention")
        return found

    @staticmethod
    def _few_tasks(spec: AttentionSpec, target: Target) -> bool:
        """Fewer (batch, KV head, row block) tasks than 2 per thread: decode-like."""
        tasks = spec.batch * spec.kv_heads * -(-rows_total(spec) // 64)
        return tasks < 2 * max(target.threads, 2) and spec.skv >= 512


def _pow2_at_least(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p
