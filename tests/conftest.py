"""Shared pytest configuration."""
from __future__ import annotations

import os
import tempfile

# Tests compare numbers, not speed: one thread keeps them deterministic and leaves cores free.
os.environ.setdefault("ONNXJIT_THREADS", "1")
# Tuning records and artifacts go to a throw-away folder, never the user's cache.
os.environ.setdefault("ONNXJIT_CACHE_DIR", tempfile.mkdtemp(prefix="onnxjit-test-cache-"))
