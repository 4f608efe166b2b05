"""Transpose -> CausalConvWithState -> Transpose becomes one channels-last causal conv.

Models keep activations as (B, L, C); the opset-27 op takes (B, C, L), so exporters transpose
into it and back out. Both transposes read or write the whole activation with a stride (Gated
DeltaNet's [1024, 1536] pair: 2 ms against the conv's 1.3 ms); onnxjit::CausalConvWithStateNTC
computes the same in (B, L, C), with channels in the vector lanes. The state stays (B, C, k-1).
"""
from __future__ import annotations

from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node
from onnxjit.compiler.passes.rewrite import replace_nodes

SWAP = (0, 2, 1)


def causal_conv_channels_last(graph: Graph) -> Graph:
    for conv in [n for n in graph.nodes if n.op_type == "CausalConvWithState"
                 and n.domain in ("", "ai.onnx")]:
        producers, consumers = graph.producers(), graph.consumers()
        into = producers.get(conv.inputs[0])
        readers = consumers.get(conv.outputs[0], [])
        out_of = readers[0] if len(readers) == 1 and conv.outputs[0] not in graph.outputs else None
        if not (_swaps(into) and _swaps(out_of)) or consumers.get(into.outputs[0]) != [conv]:
            continue
        fused = Node("CausalConvWithStateNTC", (into.inputs[0], *conv.inputs[1:]),
                     (out_of.outputs[0], *conv.outputs[1:]), f"{conv.name}__ntc",
                     ONNXJIT_DOMAIN, dict(conv.attrs))
        try:
            graph = replace_nodes(graph, [into, conv, out_of], fused)
        except ValueError:
            continue
    return graph


def _swaps(node: Node | None) -> bool:
    return (node is not None and node.op_type == "Transpose" and node.domain in ("", "ai.onnx")
            and tuple(int(p) for p in node.attr("perm", ())) == SWAP)
