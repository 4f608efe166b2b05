"""Inference-only simplifications: Dropout becomes a view of its input and a constant mask."""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.graph import Graph, Node


def drop_dropout(graph: Graph) -> Graph:
    """Each Dropout -> Identity (an alias, no kernel); its mask output, if used, a constant."""
    if not any(n.op_type == "Dropout" and n.domain == "" for n in graph.nodes):
        return graph
    nodes: list[Node] = []
    constants = dict(graph.constants)
    for node in graph.nodes:
        if node.op_type != "Dropout" or node.domain != "":
            nodes.append(node)
            continue
        if node.outputs and node.outputs[0]:
            nodes.append(Node("Identity", (node.inputs[0],), (node.outputs[0],), name=node.name))
        if len(node.outputs) > 1 and node.outputs[1]:
            mask = graph.types[node.outputs[1]]
            constants[node.outputs[1]] = np.ones(mask.static_shape(), dtype=mask.dtype)
    return graph.replace(nodes=tuple(nodes), constants=constants)
