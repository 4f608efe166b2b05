"""The one place that reads onnxjit's settings from the environment.

Every other module asks `settings()`; nothing else calls `os.environ` for configuration.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    cache_dir: Path          # tuning records and compiled artifacts
    threads: int | None      # default thread count when a session does not give one
    debug: bool              # keep generated TIR/LLVM for inspection
    sparse: str              # sparse kernels for pruned weights: "auto", "off" or "force"
    winograd: str            # Winograd 3x3 convs where the target asks: "auto", "off" or "force"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "onnxjit"


@lru_cache(maxsize=1)
def settings() -> Settings:
    threads = os.environ.get("ONNXJIT_THREADS")
    return Settings(
        cache_dir=Path(os.environ.get("ONNXJIT_CACHE_DIR") or _default_cache_dir()),
        threads=int(threads) if threads else None,
        debug=os.environ.get("ONNXJIT_DEBUG", "") not in ("", "0"),
        sparse=os.environ.get("ONNXJIT_SPARSE", "auto"),
        winograd=os.environ.get("ONNXJIT_WINOGRAD", "auto"),
    )


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
