"""A sparse 1x1 conv read only by a depthwise conv -> one onnxjit::ExpandDepthwise node (CPU).

MobileNet's inverted residual blocks expand C channels to t*C with a 1x1 conv and filter each
with a depthwise 3x3. Run separately, the expanded tensor (at 112x112: 96 channels, 4.8 MB) is
written to memory and read back, and both layers are memory-bound: a pruned expand then gains
nothing (MobileNetV2 b1 at 90% zeros: 0.33 + 0.32 ms, onnxruntime's dense 0.40 + 0.26 ms). Fused
(compiler/ops/expand_dw.py, schedules/conv_expand_dw.py), each block of expanded channels is
computed into a scratch that stays in cache and filtered at once.

Runs after rewrite_convs on its onnxjit::Conv nodes (sparse pointwise without residual; depthwise
with one channel per group, any epilogue) when the target's LayoutHints.expand_depthwise is set,
and only while the pointwise input (re-read once per block of expanded channels) fits in L2.
"""
from __future__ import annotations

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from
from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node
from onnxjit.compiler.passes.rewrite import replace_nodes

MAX_INPUT_BYTES = 1 << 20   # the pointwise input, re-read per channel block, stays in L2


def _sole_conv_reader(graph: Graph, value: str) -> Node | None:
    readers = graph.consumers().get(value, [])
    if len(readers) != 1 or value in graph.outputs:
        return None
    node = readers[0]
    ok = node.op_type == "Conv" and node.domain == ONNXJIT_DOMAIN and node.inputs[0] == value
    return node if ok else None


def fuses(gp: ConvGeometry, gd: ConvGeometry, p: Node, d: Node) -> bool:
    return (gp.direct and gp.group == 1 and p.attrs.get("impl") == "sparse"
            and "add" not in str(p.attrs.get("post", "")).split(",")
            and gd.group == gd.c == gd.m == gp.m and (gd.n, gd.h, gd.w) == (gp.n, gp.h, gp.w)
            and 4 * gp.c * gp.h * gp.w <= MAX_INPUT_BYTES)


def fuse_expand_depthwise(graph: Graph) -> Graph:
    for p in [n for n in graph.nodes if n.op_type == "Conv" and n.domain == ONNXJIT_DOMAIN]:
        d = _sole_conv_reader(graph, p.outputs[0])
        if d is None:
            continue
        gp, gd = geometry_from(p.attrs), geometry_from(d.attrs)
        if not fuses(gp, gd, p, d):
            continue
        attrs = {**{f"p_{k}": v for k, v in p.attrs.items() if k != "impl"},
                 **{f"d_{k}": v for k, v in d.attrs.items() if k not in ("impl", "block", "wct")}}
        inputs = (*p.inputs[:6], d.inputs[1], d.inputs[2], d.inputs[6])
        fused = Node("ExpandDepthwise", inputs, d.outputs, f"{p.name}+{d.name}", ONNXJIT_DOMAIN, attrs)
        graph = replace_nodes(graph, [p, d], fused)
    return graph
