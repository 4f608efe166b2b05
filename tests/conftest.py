"""Shared pytest configuration."""
from __future__ import annotations

import os

# Tests compare numbers, not speed: one thread keeps them deterministic and leaves cores free.
os.environ.setdefault("ONNXJIT_THREADS", "1")
