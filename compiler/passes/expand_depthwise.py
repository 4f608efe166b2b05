"""A 1x1 conv read only by a depthwise conv -> one onnxjit::ExpandDepthwise node (CPU).

MobileNet's inverted residual blocks expand C channels to t*C with a 1x1 conv and filter each
with a depthwise 3x3. Run separately, the expanded tensor (at 112x112: 96 channels, 4.8 MB) is
written to memory and read back, and both layers are memory-bound: a pruned expand then gains
nothing (MobileNetV2 b1 at 90% zeros: 0.33 + 0.32 ms, onnxruntime's dense 0.40 + 0.26 ms). Fused
(compiler/ops/expand_dw.py, schedules/conv_expand_dw.py), each block of expanded channels is
computed into a scratch that stays in cache and filtered at once.

Runs after rewrite_convs on its onnxjit::Conv nodes (pointwise without residual; depthwise with
one channel per group, any epilogue) when the target's LayoutHints.expand_depthwise is set, and
only while the pointwise input (re-read once per block of expanded channels) fits in L2. A dense
pointwise conv fuses too where its output would spill from L2, its weights then packed as BSR
blocks of 8 rows with every block stored.
"""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from
from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node, TensorType, unique_name
from onnxjit.compiler.passes.rewrite import replace_nodes
from onnxjit.compiler.sparsity import pack

MAX_INPUT_BYTES = 1 << 20   # the pointwise input, re-read per channel block, stays in L2
# A dense pointwise conv fuses only when its output would spill from L2 (>= 1 MB): its blocks of
# 8 stored rows run slower than the dense kernel's tiles, which only the saved traffic repays.
# MobileNetV2 unpruned (ms, fused vs separate): 112x112 x96 0.56 vs 0.70, 56x56 x144 0.28 vs
# 0.32, 28x28 x192 0.112 vs 0.108, 7x7 x960 0.21 vs ~0.12.
DENSE_MIN_OUTPUT_BYTES = 1 << 20


def _sole_conv_reader(graph: Graph, value: str) -> Node | None:
    readers = graph.consumers().get(value, [])
    if len(readers) != 1 or value in graph.outputs:
        return None
    node = readers[0]
    ok = node.op_type == "Conv" and node.domain == ONNXJIT_DOMAIN and node.inputs[0] == value
    return node if ok else None


def fuses(gp: ConvGeometry, gd: ConvGeometry, p: Node, d: Node, graph_constants: dict) -> bool:
    return (gp.direct and gp.group == 1 and p.inputs[1] in graph_constants
            and "add" not in str(p.attrs.get("post", "")).split(",")
            and gd.group == gd.c == gd.m == gp.m and (gd.n, gd.h, gd.w) == (gp.n, gp.h, gp.w)
            and 4 * gp.c * gp.h * gp.w <= MAX_INPUT_BYTES)


def fuse_expand_depthwise(graph: Graph) -> Graph:
    for p in [n for n in graph.nodes if n.op_type == "Conv" and n.domain == ONNXJIT_DOMAIN]:
        d = _sole_conv_reader(graph, p.outputs[0])
        if d is None:
            continue
        gp, gd = geometry_from(p.attrs), geometry_from(d.attrs)
        if not fuses(gp, gd, p, d, graph.constants):
            continue
        matched = [p, d]
        if p.attrs.get("impl") != "sparse":
            if 4 * gp.n * gp.m * gp.h * gp.w < DENSE_MIN_OUTPUT_BYTES:
                continue
            p, graph = _dense_blocks(graph, p, gp)
        attrs = {**{f"p_{k}": v for k, v in p.attrs.items() if k != "impl"},
                 **{f"d_{k}": v for k, v in d.attrs.items() if k not in ("impl", "block", "wct")}}
        inputs = (*p.inputs[:6], d.inputs[1], d.inputs[2], d.inputs[6])
        fused = Node("ExpandDepthwise", inputs, d.outputs, f"{p.name}+{d.name}", ONNXJIT_DOMAIN, attrs)
        graph = replace_nodes(graph, matched, fused)
    return graph


def _dense_blocks(graph: Graph, p: Node, gp: ConvGeometry) -> tuple[Node, Graph]:
    """A dense pointwise conv's weights as BSR blocks of 8 rows (all stored): the fused kernel's
    block then shares each input vector load over 8 output channels, as the dense kernel does."""
    wct = int(p.attrs.get("wct") or gp.mg)
    wt = np.asarray(graph.constants[p.inputs[1]])
    w = wt.reshape(gp.m // wct, gp.c, wct).transpose(0, 2, 1).reshape(gp.m, gp.c)
    block = next(b for b in (8, 4, 2, 1) if gp.m % b == 0)
    packed = pack(w, block, lambda k: k * gp.cplane)
    constants, types = dict(graph.constants), dict(graph.types)
    taken = set(types) | set(constants) | {o for nd in graph.nodes for o in nd.outputs}
    names = []
    for base, value in (("val", packed.val), ("off", packed.off), ("ptr", packed.ptr)):
        name = unique_name(f"{p.name}__{base}", taken)
        taken.add(name)
        constants[name], types[name] = value, TensorType(str(value.dtype), tuple(value.shape))
        names.append(name)
    node = Node(p.op_type, (*p.inputs[:3], *names, *p.inputs[6:]), p.outputs, p.name, p.domain,
                {**p.attrs, "block": block, "impl": "sparse"})
    graph = graph.replace(constants=constants, types=types)
    return node, graph
