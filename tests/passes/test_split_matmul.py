"""A MatMul with a constant weight whose product a Split cuts along its last axis runs as one
MatMul per part (no Split kernel), and still equals onnx's reference and onnxruntime; splits it
must not touch (other axes, parts off the 16-column panels, a product read elsewhere) stay."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

RNG = np.random.default_rng(0)


def _kernel_ops(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[tuple[str, ...]]:
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    return [k.op_types for k in session.compiled(feeds).kernels]


def _model(widths: list[int], split: str, axis: int = -1, x_shape: tuple[int, ...] = (2, 40, 64),
           extra_output: bool = False) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    x = RNG.standard_normal(x_shape).astype(np.float32)
    w = RNG.standard_normal((x_shape[-1], sum(widths))).astype(np.float32)
    outs = [f"y{i}" for i in range(len(widths))]
    inits: dict[str, Any] = {"w": w}
    opset = 17
    if split == "input":
        inits["sizes"] = np.array(widths, np.int64)
        node = helper.make_node("Split", ["p", "sizes"], outs, axis=axis)
    elif split == "num_outputs":
        node = helper.make_node("Split", ["p"], outs, axis=axis, num_outputs=len(widths))
        opset = 18
    else:  # equal parts, no sizes given
        node = helper.make_node("Split", ["p"], outs, axis=axis)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["p"]), node]
    nodes += [helper.make_node("Relu", [o], [f"r{i}"]) for i, o in enumerate(outs)]
    results = [f"r{i}" for i in range(len(outs))] + (["p"] if extra_output else [])
    return make_model(nodes, {"x": x}, results, inits, opset=opset), {"x": x}


@pytest.mark.parametrize("widths,split", [([32, 32], "equal"), ([48, 16, 64], "input"),
                                          ([32, 32, 32], "num_outputs")])
def test_split_projection_becomes_one_matmul_per_part(widths: list[int], split: str) -> None:
    model, feeds = _model(widths, split)
    ops = _kernel_ops(model, feeds)
    assert not any("Split" in k for k in ops), ops
    assert sum("MatMul" in k for k in ops) == len(widths), ops
    assert_matches(model, feeds, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", ["off_panel", "other_axis", "product_read_elsewhere"])
def test_splits_it_must_not_rewrite_stay(case: str) -> None:
    if case == "off_panel":
        model, feeds = _model([24, 40], "input")
    elif case == "other_axis":
        model, feeds = _model([20, 20], "input", axis=1)
    else:
        model, feeds = _model([32, 32], "equal", extra_output=True)
    ops = _kernel_ops(model, feeds)
    assert any("Split" in k for k in ops) or case == "product_read_elsewhere", ops
    assert sum("MatMul" in k for k in ops) == 1, ops
    assert_matches(model, feeds, rtol=1e-4, atol=1e-4)
