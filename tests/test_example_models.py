"""The example models (examples/models.py, CI sizes) through InferenceSession vs onnxruntime.

Each model is built with onnx.helper from a fixed seed; both runtimes get the same feeds and one
thread. Tolerance: the issue's rel_err <= 1e-4 (max |diff| / max |onnxruntime output|).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import onnxruntime as ort
import pytest

import onnxjit
from onnxjit.runtime.compare import output_error

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# CNN compiles take ~10-30 s each even at CI sizes (one kernel per conv layer).
SLOW = {"resnet", "mobilenet_v2", "mobilenet_v2_pruned"}


def _models() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_models", EXAMPLES / "models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


MODELS = _models()
PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in MODELS.EXAMPLES]


@pytest.mark.parametrize("name", PARAMS)
def test_matches_onnxruntime(name: str) -> None:
    model, feeds = MODELS.build(name, "ci")
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    ours = session.run(None, feeds)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    ref = ort.InferenceSession(model.SerializeToString(), options,
                               providers=["CPUExecutionProvider"])
    theirs = ref.run(None, feeds)
    _, rel = output_error(session.get_outputs(), ours, theirs)
    assert rel <= 1e-4, f"{name}: rel_err {rel:.3g}"


def test_builders_are_deterministic() -> None:
    a, fa = MODELS.build("bert", "ci")
    b, fb = MODELS.build("bert", "ci")
    assert a.SerializeToString() == b.SerializeToString()
    assert all((fa[k] == fb[k]).all() for k in fa)


def test_special_kernels_reach_the_models() -> None:
    """The fused kernels the models exist to exercise are in their compiled plans."""
    expected = {"bert": "Attention", "gpt_step": "Attention", "gated_deltanet": "LinearAttention",
                "mamba1": "SelectiveScan"}
    for name, op in expected.items():
        model, feeds = MODELS.build(name, "ci")
        session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
        ops = {o for k in session.compiled(feeds).kernels for o in k.op_types}
        assert op in ops, f"{name}: no {op} kernel in {sorted(ops)}"
