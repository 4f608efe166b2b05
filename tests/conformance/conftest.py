"""Conformance tests of include.SLOW_OPS run only when asked for: `-m slow` (or any -m expression
naming `slow`), or ONNXJIT_SLOW=1. They take minutes; the default command stays short."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.option.markexpr or "") or os.environ.get("ONNXJIT_SLOW", "") not in ("", "0"):
        return
    keep, drop = [], []
    for item in items:
        here = Path(str(item.path)).resolve().is_relative_to(_HERE)
        (drop if here and item.get_closest_marker("slow") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
