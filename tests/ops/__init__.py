"""Per-op lowering tests."""
