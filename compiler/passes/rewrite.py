"""Replacing a matched subgraph with one fused node, keeping the graph valid."""
from __future__ import annotations

from collections.abc import Sequence

from onnxjit.compiler.graph import Graph, Node


def replace_nodes(graph: Graph, matched: Sequence[Node], fused: Node) -> Graph:
    """`fused` takes the place of `matched` (at the last matched node's position).

    Refuses (ValueError) when a matched node's output other than the fused outputs is read
    elsewhere: that value would vanish with the match.
    """
    ids = {id(n) for n in matched}
    produced = {o for n in matched for o in n.outputs if o}
    kept_outputs = set(fused.outputs)
    readers = [n for n in graph.nodes if id(n) not in ids]
    escaping = {v for n in readers for v in n.inputs if v in produced and v not in kept_outputs}
    escaping |= {v for v in graph.outputs if v in produced and v not in kept_outputs}
    if escaping:
        raise ValueError(f"cannot fuse: intermediate values {sorted(escaping)} are used elsewhere")
    last = max(i for i, n in enumerate(graph.nodes) if id(n) in ids)
    nodes: list[Node] = []
    for i, node in enumerate(graph.nodes):
        if i == last:
            nodes.append(fused)
        elif id(node) not in ids:
            nodes.append(node)
    return graph.replace(nodes=tuple(nodes))
