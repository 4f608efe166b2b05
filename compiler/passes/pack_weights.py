"""Compile-time packing of constant matmul weights into the panel layout the kernels read.

MatMul (and Gemm) with a constant float B become onnxjit::MatMul (onnxjit::Gemm), the same op
reading B packed as [..., N/16, K, 16] (attribute n: B's logical width; transB is applied) (see compiler/ops/matmul.py): each k step of a register tile then
loads one contiguous 64-byte line instead of striding through B's rows, and no packing runs at
inference time. Packing only permutes and zero-pads, so results are bit-identical.
Run this pass after passes that match patterns containing MatMul/Gemm.
"""
from __future__ import annotations

import numpy as np
from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node, TensorType, unique_name
from onnxjit.compiler.ops.matmul import pack_panels, use_panels

PACKABLE = ("float32", "float64", "float16")


def pack_matmul_weights(graph: Graph) -> Graph:
    constants = dict(graph.constants)
    types = dict(graph.types)
    taken = set(types) | set(constants) | {o for n in graph.nodes for o in n.outputs}
    packed: dict[tuple[str, bool], str] = {}   # (constant, transposed) -> packed value name
    nodes: list[Node] = []
    changed = False
    for node in graph.nodes:
        new = _rewrite(node, constants, types, taken, packed)
        changed |= new is not node
        nodes.append(new)
    if not changed:
        return graph
    opsets = dict(graph.opsets)
    opsets[ONNXJIT_DOMAIN] = max(1, opsets.get(ONNXJIT_DOMAIN, 1))
    return graph.replace(nodes=tuple(nodes), constants=constants, types=types, opsets=opsets)


def _rewrite(node: Node, constants: dict[str, np.ndarray], types: dict[str, TensorType],
             taken: set[str], packed: dict[tuple[str, bool], str]) -> Node:
    if node.domain not in ("", "ai.onnx") or node.op_type not in ("MatMul", "Gemm"):
        return node
    if len(node.inputs) < 2 or node.inputs[1] not in constants:
        return node
    weight = constants[node.inputs[1]]
    if str(weight.dtype) not in PACKABLE or weight.ndim < 2:
        return node
    if node.op_type == "Gemm" and weight.ndim != 2:
        return node
    trans = node.op_type == "Gemm" and bool(node.attr("transB", 0))
    n = int(weight.shape[-2] if trans else weight.shape[-1])
    if not use_panels(n):
        return node
    key = (node.inputs[1], trans)
    name = packed.get(key)
    if name is None:
        name = unique_name(f"{node.inputs[1]}__panels", taken)
        value = pack_panels(weight, trans)
        constants[name] = value
        types[name] = TensorType(str(value.dtype), tuple(int(d) for d in value.shape))
        packed[key] = name
    inputs = (node.inputs[0], name, *node.inputs[2:])
    attrs = {k: v for k, v in node.attrs.items() if k != "transB"}
    attrs["n"] = n
    # Same op type (profiles and kernel labels keep the model's names), packed-B domain.
    return Node(node.op_type, inputs, node.outputs, node.name, ONNXJIT_DOMAIN, attrs)
