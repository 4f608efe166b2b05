"""The exporter spellings of attention become one onnxjit::Attention kernel (flash template) and
still equal onnx's reference and onnxruntime: torch-style heads (Reshape/Transpose), Div or Mul by
the scale, Add(mask) and Where(mask), 3-D scores, and a constant causal mask."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

B, S, H, D = 1, 24, 2, 8
RNG = np.random.default_rng(0)
i64 = np.int64


def _heads(x: str, name: str, perm: list[int]) -> list[onnx.NodeProto]:
    return [helper.make_node("Reshape", [x, "shape4"], [f"{name}_r"]),
            helper.make_node("Transpose", [f"{name}_r"], [name], perm=perm)]


def torch_style(scale_op: str = "Div", mask: str = "") -> tuple[onnx.ModelProto, dict]:
    feeds = {n: RNG.standard_normal((B, S, H * D)).astype(np.float32) for n in ("x_q", "x_k", "x_v")}
    inits = {"shape4": np.array([B, S, H, D], i64), "shape3": np.array([B, S, H * D], i64),
             "c": np.array(np.sqrt(D) if scale_op == "Div" else 1 / np.sqrt(D), np.float32)}
    nodes = [*_heads("x_q", "q", [0, 2, 1, 3]), *_heads("x_k", "kt", [0, 2, 3, 1]),
             *_heads("x_v", "v", [0, 2, 1, 3]),
             helper.make_node("MatMul", ["q", "kt"], ["s"]),
             helper.make_node(scale_op, ["s", "c"], ["ss"])]
    last = "ss"
    if mask == "add":
        feeds["m"] = RNG.standard_normal((B, 1, S, S)).astype(np.float32)
        nodes.append(helper.make_node("Add", ["ss", "m"], ["sm"]))
        last = "sm"
    elif mask == "where":
        feeds["keep"] = RNG.random((B, 1, 1, S)) > 0.3
        inits["fill"] = np.array(-np.inf, np.float32)
        nodes.append(helper.make_node("Where", ["keep", "ss", "fill"], ["sm"]))
        last = "sm"
    elif mask == "causal":
        inits["cm"] = np.triu(np.full((S, S), -np.inf, np.float32), 1)
        nodes.append(helper.make_node("Add", ["ss", "cm"], ["sm"]))
        last = "sm"
    nodes += [helper.make_node("Softmax", [last], ["p"], axis=-1),
              helper.make_node("MatMul", ["p", "v"], ["o4"]),
              helper.make_node("Transpose", ["o4"], ["o4t"], perm=[0, 2, 1, 3]),
              helper.make_node("Reshape", ["o4t", "shape3"], ["y"])]
    return make_model(nodes, feeds, ["y"], inits, opset=17), feeds


def _assert_fused(model: onnx.ModelProto, feeds: dict, **kw: object) -> None:
    assert_matches(model, feeds, rtol=1e-4, atol=1e-5, **kw)
    compiled = onnxjit.InferenceSession(model.SerializeToString(), threads=1).compiled(feeds)
    assert [t for t, _ in compiled.choices.values()] == ["attention"], compiled.choices
    (node,) = compiled.graph.nodes
    assert node.domain == "onnxjit" and node.op_type == "Attention"
    return node


@pytest.mark.parametrize("scale_op,mask", [("Div", ""), ("Mul", ""), ("Div", "add"),
                                           ("Mul", "where")])
def test_torch_style_heads_absorbed(scale_op: str, mask: str) -> None:
    model, feeds = torch_style(scale_op, mask)
    node = _assert_fused(model, feeds)
    assert (node.attr("q_layout"), node.attr("o_layout")) == ("bsh", "bsh")


def test_constant_causal_mask_becomes_causal() -> None:
    model, feeds = torch_style("Div", "causal")
    node = _assert_fused(model, feeds)
    assert node.attr("causal") == 1 and len(node.inputs) == 3


def test_3d_scores_one_head() -> None:
    feeds = {n: RNG.standard_normal((2, 17, 8)).astype(np.float32) for n in ("q", "k", "v")}
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "kt"], ["s"]),
             helper.make_node("Mul", ["s", "c"], ["ss"]),
             helper.make_node("Softmax", ["ss"], ["p"], axis=2),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    model = make_model(nodes, feeds, ["y"], {"c": np.array(0.25, np.float32)}, opset=17)
    _assert_fused(model, feeds)


def test_score_read_elsewhere_is_not_fused() -> None:
    feeds = {n: RNG.standard_normal((1, 2, 9, 8)).astype(np.float32) for n in ("q", "k", "v")}
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["q", "kt"], ["s"]),
             helper.make_node("Softmax", ["s"], ["p"]),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    model = make_model(nodes, feeds, ["y", "p"], opset=17)
    compiled = onnxjit.InferenceSession(model.SerializeToString(), threads=1).compiled(feeds)
    assert "attention" not in [t for t, _ in compiled.choices.values()]
