"""A small onnx.helper graph builder shared by the example models (examples/models.py).

Names follow the exporters' '/scope/Op' style; weights come from one seeded generator, so a
builder called twice with the same seed writes the same bytes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10   # the newest IR version onnxruntime >= 1.20 loads

Feeds = dict[str, np.ndarray]


class GraphBuilder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    # -- values ----------------------------------------------------------------------------
    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def ints(self, name: str, values: Sequence[int]) -> str:
        return self.const(name, np.array(values, np.int64))

    def scalar(self, name: str, value: float) -> str:
        return self.const(name, np.array(value, np.float32))

    def weight(self, name: str, shape: Sequence[int], fan_in: int | None = None,
               zeros: float = 0.0) -> str:
        """N(0, 1/fan_in) weights; `zeros` of them (unstructured, by magnitude) set to 0."""
        fan = fan_in or int(np.prod(shape[1:])) or 1
        w = self.rng.standard_normal(tuple(shape)) / np.sqrt(fan)
        if zeros > 0:
            cut = np.quantile(np.abs(w), zeros)
            w = np.where(np.abs(w) <= cut, 0.0, w)
        return self.const(name, w.astype(np.float32))

    def vector(self, name: str, size: int, mean: float = 0.0, scale: float = 0.02) -> str:
        return self.const(name, (mean + scale * self.rng.standard_normal(size)).astype(np.float32))

    # -- nodes -----------------------------------------------------------------------------
    def op(self, op_type: str, inputs: Sequence[str], scope: str, outputs: int = 1,
           domain: str = "", **attrs: object) -> str | list[str]:
        name = f"{scope}/{op_type}"
        base, i = name, 0
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        outs = [f"{name}_output_{j}" for j in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name, domain=domain,
                                           **attrs))
        return outs[0] if outputs == 1 else outs

    def linear(self, x: str, scope: str, fan_in: int, fan_out: int, bias: bool = True) -> str:
        w = self.weight(f"{scope}.weight", (fan_in, fan_out), fan_in)
        y = self.op("MatMul", [x, w], scope)
        return self.op("Add", [y, self.vector(f"{scope}.bias", fan_out)], scope) if bias else y

    def layer_norm(self, x: str, scope: str, size: int, eps: float = 1e-5) -> str:
        scale = self.vector(f"{scope}.weight", size, mean=1.0, scale=0.05)
        bias = self.vector(f"{scope}.bias", size)
        return self.op("LayerNormalization", [x, scale, bias], scope, axis=-1, epsilon=eps)

    def rename_output(self, value: str, name: str) -> str:
        """Makes the node producing `value` write `name` (a graph output) instead."""
        for node in self.nodes:
            for j, out in enumerate(node.output):
                if out == value:
                    node.output[j] = name
            for j, inp in enumerate(node.input):
                if inp == value:
                    node.input[j] = name
        return name

    def model(self, graph_name: str, inputs: Mapping[str, tuple[int, Sequence[int | str]]],
              outputs: Sequence[str], opset: int) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, graph_name,
            [helper.make_tensor_value_info(n, t, list(s)) for n, (t, s) in inputs.items()],
            [helper.make_value_info(o, onnx.TypeProto()) for o in outputs], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="onnxjit/examples")
        model.ir_version = IR_VERSION
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        del model.graph.output[:]
        model.graph.output.extend(inferred.graph.output)
        onnx.checker.check_model(model, full_check=True)
        return model


F32, I64 = TensorProto.FLOAT, TensorProto.INT64
