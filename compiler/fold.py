"""Compile-time evaluation of nodes whose inputs are all known (constant folding).

Evaluation goes through onnx's reference implementation, an independent definition of every
standard op, so folding needs no lowering and cannot disagree with the spec.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from onnxjit.compiler.errors import LoweringError
from onnxjit.compiler.graph import Graph, Node

# Ops whose outputs must not be computed once at compile time.
NEVER_FOLD = frozenset({
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
    "Bernoulli", "Scan", "Loop", "If", "SequenceConstruct", "SequenceEmpty",
})
# Ops that fold from their inputs' shapes alone, not their values.
SHAPE_OPS = frozenset({"Shape", "Size"})


def foldable(node: Node, known: set[str]) -> bool:
    """Whether the node's outputs are compile-time values once `known` values are."""
    if node.domain not in ("", "ai.onnx") or node.op_type in NEVER_FOLD:
        return False
    if node.op_type in SHAPE_OPS:
        return True
    return all(not i or i in known for i in node.inputs)


def evaluate(node: Node, values: Sequence[np.ndarray | None], graph: Graph,
             shapes: Sequence[tuple[int, ...] | None] = ()) -> list[np.ndarray]:
    """Runs one node at compile time. `shapes` serves Shape/Size when the input value is unknown."""
    if node.op_type in SHAPE_OPS and (not values or values[0] is None):
        shape = shapes[0]
        if shape is None:
            raise LoweringError(node.name, node.op_type, "input shape unknown at compile time")
        if node.op_type == "Size":
            return [np.array(int(np.prod(shape)), dtype=np.int64)]
        start, end = node.attr("start", 0), node.attr("end", None)
        return [np.array(shape[start:end], dtype=np.int64)]
    return _reference_run(node, values, graph)


def _reference_run(node: Node, values: Sequence[np.ndarray | None], graph: Graph) -> list[np.ndarray]:
    names = [f"in{i}" if v is not None else "" for i, v in enumerate(values)]
    outs = [f"out{i}" if o else "" for i, o in enumerate(node.outputs)]
    attrs = [helper.make_attribute(k, _attr_value(v)) for k, v in node.attrs.items()]
    proto = helper.make_node(node.op_type, names, outs, domain=node.domain)
    proto.attribute.extend(attrs)
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for n, v in zip(names, values) if v is not None and n]
    model_graph = helper.make_graph([proto], "fold", inputs,
                                    [helper.make_value_info(o, onnx.TypeProto()) for o in outs if o])
    opsets = [helper.make_opsetid(d, v) for d, v in graph.opsets.items()]
    model = helper.make_model(model_graph, opset_imports=opsets)
    try:
        results = ReferenceEvaluator(model).run(
            None, {n: v for n, v in zip(names, values) if v is not None and n})
    except Exception as exc:  # noqa: BLE001  (any evaluator failure is this node's error)
        raise LoweringError(node.name, node.op_type, f"constant folding failed: {exc}") from None
    return [np.asarray(r) for r in results]


def _attr_value(value: object) -> object:
    if isinstance(value, np.ndarray):
        return numpy_helper.from_array(value)
    if isinstance(value, Graph):
        raise NotImplementedError("folding nodes with subgraphs")
    return value
