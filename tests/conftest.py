"""Shared pytest configuration.

Tests marked `slow` (minutes each: the Attention/LinearAttention conformance sets, exhaustive
template sweeps) run only with `--run-slow` (CI passes it) or when a `-m` expression names `slow`.
"""
from __future__ import annotations

import os
import tempfile

import pytest

# Tests compare numbers, not speed: one thread keeps them deterministic and leaves cores free.
os.environ.setdefault("ONNXJIT_THREADS", "1")
# Tuning records and artifacts go to a throw-away folder, never the user's cache.
os.environ.setdefault("ONNXJIT_CACHE_DIR", tempfile.mkdtemp(prefix="onnxjit-test-cache-"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (CI does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or "slow" in (config.option.markexpr or ""):
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("slow") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
