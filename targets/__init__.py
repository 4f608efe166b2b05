"""Targets by name: "cpu" now; the GPU and WebAssembly targets register here too."""
from __future__ import annotations

from collections.abc import Callable

from onnxjit.targets.base import MeasureResult, Target

__all__ = ["MeasureResult", "Target", "get_target", "target_names"]


def _cpu(threads: int | None) -> Target:
    from onnxjit.targets.cpu import CpuTarget

    return CpuTarget(threads)


_FACTORIES: dict[str, Callable[[int | None], Target]] = {"cpu": _cpu}


def target_names() -> list[str]:
    return sorted(_FACTORIES)


def get_target(name: str | Target, threads: int | None = None) -> Target:
    if isinstance(name, Target):
        return name
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}; available: {', '.join(target_names())}") from None
    return factory(threads)
