"""Dense 3x3 stride-1 convs -> onnxjit::WinogradConv (Winograd F(2x2, 3x3)), on targets that ask.

F(2x2, 3x3) computes each 2x2 output tile from a 4x4 input tile with 16 multiplies per input
channel instead of 36: the weights are transformed once here (U = G g G^T, in float64), the
input and output transforms are additions only, and what remains is 16 independent products
U_e[K, C] x V_e[C, tiles], the shape of a 1x1 conv. ResNet-style 3x3 layers run at the FMA roof
as direct convs (MLAS is there too), so cutting the multiplies is what makes them faster.

Runs after rewrite_convs on its onnxjit::Conv nodes (BatchNormalization already folded, the
epilogue already fused) when the target's LayoutHints.winograd is set (the CPU), for dense
kernels with padding 1 and enough channels and tiles to pay for the transforms (see `pays`).
Error: the transforms add a few float32 roundings per output; F(2x2, 3x3)'s coefficients are
0, +-1 and 1/2, so the difference from direct is ~1e-6 relative (tests check <= 1e-4).
"""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.conv_geometry import ConvGeometry, geometry_from, is_same_3x3, weight_block
from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node, TensorType, unique_name
from onnxjit.compiler.passes.rewrite import replace_nodes
from onnxjit.compiler.settings import settings

# G of F(2x2, 3x3) (Lavin & Gray 2016): U = G g G^T maps a 3x3 kernel to its 4x4 transform.
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
MIN_CHANNELS = 16   # below this the 16 products are too thin to use the vector registers
# 2x2 output tiles from which it pays, measured on the AVX-512 Xeon (relu + residual epilogue,
# 1 thread, against the direct kernel in one process): C=K=32 at 28x28 (196 tiles) 0.081 vs 0.095
# ms, C=K=64 at 56x56 1.02 vs 1.27, C=K=64 at 14x14 (49 tiles, channel-vectorised products)
# 0.083-0.091 vs 0.096-0.107; C=K=128 at 7x7 (16 tiles) 0.097-0.101 vs 0.099: no gain there.
MIN_TILES = 36


def fits(g: ConvGeometry) -> bool:
    """F(2x2, 3x3)'s kind of conv: 3x3, stride 1, no dilation or groups, padding 1 ("same")."""
    return is_same_3x3(g)


def pays(g: ConvGeometry) -> bool:
    """Whether it gains: >= MIN_CHANNELS in and out and >= MIN_TILES output tiles."""
    tiles = -(-g.ho // 2) * -(-g.wo // 2)
    return fits(g) and min(g.c, g.m) >= MIN_CHANNELS and tiles >= MIN_TILES


def transform_weights(w: np.ndarray) -> np.ndarray:
    """[K, C, 3, 3] -> U [16, K/ub, C, ub] (e = 4a + b; ub = weight_block(K) output channels
    contiguous, so a register tile's broadcast weights walk U[e] line by line), in float64."""
    k, c = w.shape[:2]
    ub = weight_block(k)
    u = np.einsum("ai,kcij,bj->abkc", G, w.astype(np.float64), G).reshape(16, k // ub, ub, c)
    return np.ascontiguousarray(u.transpose(0, 1, 3, 2).astype(np.float32))


def dense_weights(wt: np.ndarray, g: ConvGeometry, wct: int) -> np.ndarray:
    """onnxjit::Conv's packed Wt [group, mg/wct, cg, taps, wct] back to [M, C, kh, kw]."""
    w = wt.reshape(g.group, g.mg // wct, g.cg, g.taps, wct).transpose(0, 1, 4, 2, 3)
    return w.reshape(g.m, g.cg, g.kh, g.kw)


def winograd_convs(graph: Graph) -> Graph:
    mode = settings().winograd
    if mode == "off":
        return graph
    for node in [n for n in graph.nodes if n.op_type == "Conv" and n.domain == ONNXJIT_DOMAIN]:
        g = geometry_from(node.attrs)
        if node.attrs.get("impl") != "dense" or node.inputs[1] not in graph.constants:
            continue
        if pays(g) or (mode == "force" and fits(g)):
            graph = _rewrite(graph, node, g)
    return graph


def _rewrite(graph: Graph, conv: Node, g: ConvGeometry) -> Graph:
    constants, types = dict(graph.constants), dict(graph.types)
    wct = int(conv.attrs.get("wct") or g.mg)
    u = transform_weights(dense_weights(np.asarray(constants[conv.inputs[1]]), g, wct))
    taken = set(types) | set(constants) | {o for nd in graph.nodes for o in nd.outputs}
    name = unique_name(f"{conv.name}__winograd_u", taken)
    constants[name] = u
    types[name] = TensorType("float32", tuple(int(d) for d in u.shape))
    x, _, bias, _, _, _, residual = conv.inputs
    keys = (*ConvGeometry.__dataclass_fields__, "post", "lo", "hi")
    node = Node("WinogradConv", (x, name, bias, residual), conv.outputs, conv.name, ONNXJIT_DOMAIN,
                {k: conv.attrs[k] for k in keys})
    return replace_nodes(graph.replace(constants=constants, types=types), [conv], node)
