"""The bundled example: the committed .onnx is what the generator writes, and onnxjit runs it."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnxruntime as ort

import onnxjit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODEL = EXAMPLES / "tiny_transformer.onnx"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_committed_model_is_what_the_generator_writes() -> None:
    assert generator().tiny_transformer().SerializeToString() == MODEL.read_bytes(), (
        "examples/tiny_transformer.onnx is stale: run python examples/make_examples.py")
    assert MODEL.stat().st_size < 2 * 2**20


def test_tiny_transformer_matches_onnxruntime() -> None:
    x = np.random.default_rng(0).standard_normal((2, 64, 64)).astype(np.float32)
    (ours,) = onnxjit.InferenceSession(MODEL, threads=1).run(None, {"x": x})
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    ref = ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
    (theirs,) = ref.run(None, {"x": x})
    assert ours.shape == (2, 64, 64)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
