"""The CPU target: LLVM for the host CPU, with an explicit thread count."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from onnxjit.compiler import tvm_api
from onnxjit.compiler.settings import cpu_count, settings
from onnxjit.targets.base import MeasureResult, Target, fingerprint_versions, time_calls


@lru_cache(maxsize=1)
def cpu_features() -> tuple[str, ...]:
    """SIMD features that change code generation (from /proc/cpuinfo where present)."""
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16",
              "avx512_vnni", "neon", "asimd", "sve")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    return tuple(w for w in wanted if w in flags)
    except OSError:
        pass
    return ()


@lru_cache(maxsize=None)
def cache_bytes(level: int, default: int) -> int:
    """Per-core data cache size of one `level` from sysfs; `default` where unknown."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(base)):
            path = os.path.join(base, index)
            with open(os.path.join(path, "level"), encoding="utf-8") as f:
                found = f.read().strip()
            with open(os.path.join(path, "type"), encoding="utf-8") as f:
                kind = f.read().strip()
            if found == str(level) and kind in ("Data", "Unified"):
                with open(os.path.join(path, "size"), encoding="utf-8") as f:
                    size = f.read().strip().upper()
                scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
                return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return default


def l1d_bytes() -> int:
    """Per-core L1 data cache; 32 KiB (the common size) where unknown."""
    return cache_bytes(1, 32 << 10)


def l2_bytes() -> int:
    """Per-core L2 cache; 1 MiB where unknown."""
    return cache_bytes(2, 1 << 20)


def vector_lanes(dtype_bits: int = 32) -> int:
    """SIMD lanes of a `dtype_bits` element in one vector register of this CPU."""
    features = cpu_features()
    width = 512 if "avx512f" in features else 256 if "avx2" in features or "avx" in features else 128
    return max(1, width // dtype_bits)


class CpuTarget(Target):
    name = "cpu"
    simd_cpu = True
    winograd_convs = True   # schedules/conv_winograd.py (compiler/passes/winograd.py)
    expand_depthwise = True   # schedules/conv_expand_dw.py (compiler/passes/expand_depthwise.py)

    def __init__(self, threads: int | None = None) -> None:
        self.threads = max(1, threads or settings().threads or cpu_count())
        self.cpu = tvm_api.host_cpu_name()
        tvm_api.set_num_threads(self.threads)

    @property
    def vector_lanes(self) -> int:
        return vector_lanes(32)

    @property
    def l1d_bytes(self) -> int:
        return l1d_bytes()

    @property
    def l2_bytes(self) -> int:
        return l2_bytes()

    def tvm_target(self) -> Any:
        return tvm_api.llvm_target({"mcpu": self.cpu, "num-cores": self.threads})

    def fingerprint(self) -> dict[str, Any]:
        return {"target": self.name, "cpu": self.cpu, "features": list(cpu_features()),
                "threads": self.threads, **fingerprint_versions()}

    def build(self, mod: Any) -> Any:
        return tvm_api.compile_module(mod, self.tvm_target())

    def activate(self) -> None:
        """Sizes TVM's pool for this target; sessions call it before running kernels."""
        tvm_api.set_num_threads(self.threads)

    def measure(self, call: Callable[[], None], repeats: int = 7,
                min_seconds: float = 0.01) -> MeasureResult:
        self.activate()
        # One thread: CPU time, which time spent descheduled by other processes does not
        # inflate (the tuner ranks candidates on a possibly shared machine). Several threads:
        # wall time, since CPU time would add up the pool's threads (and their spinning).
        clock = time.process_time if self.threads == 1 else time.perf_counter
        return time_calls(call, repeats, min_seconds, clock)
