"""A wide projection split into parts becomes one MatMul per part.

Exporters emit fused projections as one MatMul whose product a Split cuts along its last axis
(Mamba's in_proj -> x, z; a fused qkv projection -> q, k, v). With a constant 2-D weight, the
MatMul becomes one MatMul per part over the weight's column slices: each part is then computed
straight into its own buffer, and no kernel copies the parts out of one wide product (the Split
was 0.4-0.5 ms, ~2.5% of those blocks). Parts must be whole 16-column panels, the matmul
template's tile width, so no part runs on thin tiles.
"""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.graph import Graph, Node, TensorType, unique_name

PANEL = 16


def split_matmuls(graph: Graph) -> Graph:
    for split in [n for n in graph.nodes if n.op_type == "Split" and n.domain in ("", "ai.onnx")]:
        rewritten = _rewrite(graph, split)
        if rewritten is not None:
            graph = rewritten
    return graph


def _rewrite(graph: Graph, split: Node) -> Graph | None:
    matmul = graph.producers().get(split.inputs[0])
    if matmul is None or matmul.op_type != "MatMul" or matmul.domain not in ("", "ai.onnx"):
        return None
    product = matmul.outputs[0]
    readers = graph.consumers().get(product, [])
    weight = graph.constants.get(matmul.inputs[1])
    ptype = graph.types.get(product)
    if (len(readers) != 1 or product in graph.outputs or weight is None
            or np.asarray(weight).ndim != 2 or ptype is None or not ptype.is_static):
        return None
    rank = len(ptype.static_shape())
    width = ptype.static_shape()[-1]
    if int(split.attr("axis", 0)) % max(rank, 1) != rank - 1:
        return None
    sizes = _sizes(graph, split, width)
    if sizes is None or any(s <= 0 or s % PANEL for s in sizes):
        return None
    weight = np.asarray(weight)
    constants, types = dict(graph.constants), dict(graph.types)
    taken = set(types) | set(constants) | {o for n in graph.nodes for o in n.outputs}
    taken |= {n.name for n in graph.nodes}
    parts: list[Node] = []
    start = 0
    for size, out in zip(sizes, split.outputs):
        name = unique_name(f"{matmul.inputs[1]}__cols{start}", taken)
        constants[name] = np.ascontiguousarray(weight[:, start:start + size])
        types[name] = TensorType(str(weight.dtype), (int(weight.shape[0]), size))
        parts.append(Node("MatMul", (matmul.inputs[0], name), (out,),
                          unique_name(f"{matmul.name or product}__part{start}", taken)))
        start += size
    nodes: list[Node] = []
    for node in graph.nodes:
        if node is matmul:
            continue
        nodes.extend(parts if node is split else [node])
    return graph.replace(nodes=tuple(nodes), constants=constants, types=types)


def _sizes(graph: Graph, split: Node, width: int) -> list[int] | None:
    """The parts' widths: the `split` input (opset 13+) or attribute, else equal parts."""
    count = len(split.outputs)
    if len(split.inputs) > 1 and split.inputs[1]:
        given = graph.constants.get(split.inputs[1])
        sizes = None if given is None else [int(s) for s in np.asarray(given).reshape(-1)]
    elif split.attr("split") is not None:
        sizes = [int(s) for s in split.attr("split")]
    else:  # equal parts; opset 18's num_outputs makes the last one smaller when they do not fit
        step = -(-width // count)
        sizes = [min(step, width - i * step) for i in range(count)]
    if sizes is None or len(sizes) != count or sum(sizes) != width:
        return None
    return sizes
