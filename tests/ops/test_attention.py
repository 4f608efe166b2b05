"""ONNX Attention (23-25) through onnxjit equals onnx's reference evaluator and onnxruntime:
the flash path (fp32: 3-D/4-D, GQA, causal, masks, softcap, past/present) and the general one."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

RNG = np.random.default_rng(0)


def _arr(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _run(inputs: dict[str, np.ndarray], opset: int = 23, outputs: tuple[str, ...] = ("y",),
         onnxruntime: bool = True, **attrs: object) -> list[str]:
    names = ["q", "k", "v", "mask", "past_key", "past_value"]
    node_inputs = [n if n in inputs else "" for n in names]
    while node_inputs and not node_inputs[-1]:
        node_inputs.pop()
    node = helper.make_node("Attention", node_inputs, list(outputs), **attrs)
    model = make_model([node], inputs, [o for o in outputs if o], opset=opset)
    assert_matches(model, inputs, rtol=1e-4, atol=1e-5, onnxruntime=onnxruntime)
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    return [t for t, _ in session.compiled(inputs).choices.values()]


@pytest.mark.parametrize("sq,skv,hq,hkv,causal", [
    (70, 70, 4, 4, 0), (70, 70, 4, 4, 1), (33, 90, 6, 2, 0), (65, 65, 4, 1, 1), (1, 129, 8, 2, 0)])
def test_4d_flash(sq: int, skv: int, hq: int, hkv: int, causal: int) -> None:
    inputs = {"q": _arr(2, hq, sq, 16), "k": _arr(2, hkv, skv, 16), "v": _arr(2, hkv, skv, 16)}
    assert _run(inputs, is_causal=causal) == ["attention"]


def test_3d_gqa_causal_scaled_softcap() -> None:
    inputs = {"q": _arr(1, 40, 4 * 8), "k": _arr(1, 40, 2 * 8), "v": _arr(1, 40, 2 * 8)}
    assert _run(inputs, is_causal=1, q_num_heads=4, kv_num_heads=2, scale=0.3,
                softcap=2.0) == ["attention"]


@pytest.mark.parametrize("mask_shape,kind", [((20, 30), "add"), ((1, 3, 20, 30), "add"),
                                             ((2, 1, 20, 30), "bool"), ((30,), "bool")])
def test_masks(mask_shape: tuple[int, ...], kind: str) -> None:
    inputs = {"q": _arr(2, 3, 20, 8), "k": _arr(2, 3, 30, 8), "v": _arr(2, 3, 30, 8)}
    inputs["mask"] = (RNG.random(mask_shape) > 0.3) if kind == "bool" else _arr(*mask_shape)
    ort = len(mask_shape) > 1   # onnxruntime 1.32 rejects a rank-1 mask
    assert _run(inputs, onnxruntime=ort) == ["attention"]
    if len(mask_shape) > 1:     # onnx 1.23's reference fails on a causal rank-1 mask
        assert _run(inputs, is_causal=1) == ["attention"]


def test_fully_masked_row_is_zero() -> None:
    inputs = {"q": _arr(1, 2, 5, 8), "k": _arr(1, 2, 7, 8), "v": _arr(1, 2, 7, 8)}
    mask = RNG.random((5, 7)) > 0.5
    mask[2] = False
    inputs["mask"] = mask
    _run(inputs, onnxruntime=False)


def test_past_and_present() -> None:
    inputs = {"q": _arr(1, 4, 3, 8), "k": _arr(1, 2, 3, 8), "v": _arr(1, 2, 3, 8),
              "past_key": _arr(1, 2, 37, 8), "past_value": _arr(1, 2, 37, 8)}
    kinds = _run(inputs, outputs=("y", "pk", "pv"), is_causal=1)
    assert "attention" in kinds


def test_general_path_qk_output_and_window() -> None:
    inputs = {"q": _arr(1, 2, 6, 8), "k": _arr(1, 2, 9, 8), "v": _arr(1, 2, 9, 8)}
    assert "attention" not in _run(inputs, outputs=("y", "", "", "qk"), qk_matmul_output_mode=2,
                                   onnxruntime=False, is_causal=1)
    assert "attention" not in _run(inputs, opset=25, left_window_size=2, onnxruntime=False)


def test_3d_inputs_need_heads() -> None:
    inputs = {"q": _arr(1, 4, 8), "k": _arr(1, 4, 8), "v": _arr(1, 4, 8)}
    with pytest.raises(Exception, match="q_num_heads"):
        _run(inputs)
