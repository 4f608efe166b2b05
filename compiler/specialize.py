"""Specialisation: bind the input shapes, fold everything known at compile time, and give every
remaining value a static type (from the lowerings themselves, where onnx shape inference stops).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from onnxjit.compiler.errors import LoweringError
from onnxjit.compiler.fold import SHAPE_OPS, evaluate, foldable
from onnxjit.compiler.graph import Graph, Node, TensorType
from onnxjit.compiler.lower_context import LayoutHints, LowerContext
from onnxjit.compiler.registry import lookup
from onnxjit.compiler.tvm_api import te

InputSignature = tuple[tuple[str, tuple[int, ...], str], ...]   # (name, shape, dtype) per input


_DTYPE_NAMES: dict[np.dtype, str] = {}


def dtype_name(dtype: np.dtype) -> str:
    """str(dtype), cached: numpy computes it anew each time (~20 us), once per input per run."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def signature(feeds: Mapping[str, np.ndarray], order: tuple[str, ...]) -> InputSignature:
    return tuple((n, feeds[n].shape, dtype_name(feeds[n].dtype)) for n in order)


def specialize(graph: Graph, sig: InputSignature) -> Graph:
    """The graph for these input shapes: only nodes with run-time inputs remain, all types static."""
    types: dict[str, TensorType] = dict(graph.types)
    for name, shape, dtype in sig:
        types[name] = TensorType(dtype, shape)
    constants: dict[str, np.ndarray] = dict(graph.constants)
    kept: list[Node] = []
    for node in graph.nodes:
        if foldable(node, set(constants)) and not node.subgraphs:
            _fold(node, graph, constants, types)
            continue
        opdef = lookup(node.op_type, node.domain, graph.opset(node.domain))
        if opdef is None:
            raise LoweringError(node.name, node.op_type, "no lowering (unsupported op)")
        outputs = opdef.lower(context(node, graph.opset(node.domain), types, constants))
        if len(outputs) < sum(1 for o in node.outputs if o):
            raise LoweringError(node.name, node.op_type, "lowering returned too few outputs")
        for name, tensor in zip(node.outputs, outputs):
            if name:
                types[name] = TensorType(str(tensor.dtype), tuple(int(d) for d in tensor.shape))
        kept.append(node)
    for name in graph.outputs:
        if name in constants:
            types[name] = TensorType(str(constants[name].dtype), constants[name].shape)
    return graph.replace(nodes=tuple(kept), types=types, constants=constants)


def _fold(node: Node, graph: Graph, constants: dict[str, np.ndarray],
          types: dict[str, TensorType]) -> None:
    values = [constants.get(i) if i else None for i in node.inputs]
    shapes = [types[i].static_shape() if i in types and types[i].is_static else None
              for i in node.inputs if i]
    if node.op_type in SHAPE_OPS and shapes and shapes[0] is None:
        raise LoweringError(node.name, node.op_type, f"shape of {node.inputs[0]!r} is unknown")
    results = evaluate(node, values, graph, shapes)
    for name, value in zip(node.outputs, results):
        if name:
            constants[name] = value
            types[name] = TensorType(str(value.dtype), tuple(int(d) for d in value.shape))


def placeholder(name: str, tt: TensorType) -> te.Tensor:
    return te.placeholder(tt.static_shape(), tt.dtype, name=_safe(name))


def context(node: Node, opset: int, types: Mapping[str, TensorType],
            constants: Mapping[str, np.ndarray],
            tensors: Mapping[str, te.Tensor] | None = None,
            hints: LayoutHints = LayoutHints()) -> LowerContext:
    """The LowerContext of a node: inputs are `tensors[name]` or fresh placeholders."""
    inputs: list[te.Tensor | None] = []
    for name in node.inputs:
        if not name:
            inputs.append(None)
        elif tensors is not None and name in tensors:
            inputs.append(tensors[name])
        elif name in types and types[name].is_static:
            inputs.append(placeholder(name, types[name]))
        else:
            raise LoweringError(node.name, node.op_type, f"input {name!r} has no static shape")
    consts = tuple(constants.get(n) if n else None for n in node.inputs)
    return LowerContext(node=node, opset=opset, inputs=tuple(inputs), constants=consts,
                        hints=hints)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name) or "v"
