"""A zero constant Pad in front of a constant-weight Conv (tf2onnx's 'SAME' spelling) is folded
into the conv's padding (compiler/passes/conv_pad.py): one conv kernel, no Pad kernel writing a
padded copy; pads that are not zeros of spatial axes stay a Pad. All against onnx's reference
evaluator and onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model


def _model(x_shape: tuple[int, ...], pads: list[int], conv_attrs: dict, mode: str = "constant",
           fill: float = 0.0, opset: int = 18):
    rng = np.random.default_rng(9)
    x = rng.standard_normal(x_shape).astype(np.float32)
    k = [3] * (len(x_shape) - 2)
    cin = x_shape[1] + pads[1] + pads[len(pads) // 2 + 1]
    w = (rng.standard_normal((8, cin, *k)) / 6).astype(np.float32)
    inits = {"w": w, "b": rng.standard_normal(8).astype(np.float32)}
    if opset < 11:
        pad = helper.make_node("Pad", ["x"], ["p"], pads=pads, mode=mode, value=fill)
    else:
        inits.update(pads=np.array(pads, np.int64), fill=np.array(fill, np.float32))
        pad = helper.make_node("Pad", ["x", "pads", "fill"], ["p"], mode=mode)
    nodes = [pad, helper.make_node("Conv", ["p", "w", "b"], ["c"], **conv_attrs),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], inits, opset=opset), {"x": x}


def _kernel_ops(model, feeds) -> list[tuple[str, ...]]:
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    return [k.op_types for k in session.compiled(feeds).kernels]


@pytest.mark.parametrize("x_shape,pads,conv_attrs,opset", [
    ((1, 6, 12, 12), [0, 0, 1, 1, 0, 0, 1, 1], {}, 18),
    ((1, 6, 13, 12), [0, 0, 0, 0, 0, 0, 1, 1], {"strides": [2, 2]}, 18),     # TF SAME, stride 2
    ((1, 6, 11, 11), [0, 0, 2, 0, 0, 0, 1, 3], {"pads": [1, 1, 0, 0]}, 18),  # adds to the conv's
    ((1, 6, 40), [0, 0, 2, 0, 0, 1], {"strides": [2]}, 18),                  # 1-d
    ((1, 6, 10, 10), [0, 0, 1, 1, 0, 0, 1, 1], {}, 10),                      # attribute form
])
def test_zero_pad_folds_into_the_conv(x_shape, pads, conv_attrs, opset) -> None:
    model, feeds = _model(x_shape, pads, conv_attrs, opset=opset)
    assert_matches(model, feeds, rtol=1e-4, atol=1e-5)
    ops = _kernel_ops(model, feeds)
    assert len(ops) == 1 and "Pad" not in ops[0], ops


@pytest.mark.parametrize("mode,fill,pads", [
    ("reflect", 0.0, [0, 0, 1, 1, 0, 0, 1, 1]),
    ("constant", 1.5, [0, 0, 1, 1, 0, 0, 1, 1]),
    ("constant", 0.0, [0, 1, 1, 1, 0, 0, 1, 1]),      # pads channels
])
def test_other_pads_stay_and_match(mode: str, fill: float, pads: list[int]) -> None:
    model, feeds = _model((1, 6, 9, 9), pads, {}, mode=mode, fill=fill)
    assert_matches(model, feeds, rtol=1e-4, atol=1e-5)
    assert any("Pad" in ops for ops in _kernel_ops(model, feeds))
