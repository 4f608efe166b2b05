"""Pruned linear layers (MatMul / Gemm with a constant, mostly-zero weight) run as sparse 1x1 convs.

Y[M, N] = X[M, K] @ W[K, N] is, transposed, the 1x1 convolution Yᵀ[N, M] = Wᵀ[N, K] Xᵀ[K, M]
with the M rows as pixels: the sparse conv kernels (XNNPACK-style, vectorised over pixels, CSR or
BR x 1 blocks of output features) then run it. When the cost estimate of compiler/sparsity.py
prefers sparse, the node becomes standard ONNX ops (Reshape / Transpose / Conv, bias folded in) so
that compiler/passes/conv_rewrite.py, which runs next, packs the weights and picks the kernel
exactly as for a pruned conv. With M = 1 (a batch-1 linear layer) the transposes are reshapes.
"""
from __future__ import annotations

import math

import numpy as np

from onnxjit.compiler.graph import Graph, Node, TensorType, unique_name
from onnxjit.compiler.passes.conv_rewrite import MAX_SPARSE_DENSITY
from onnxjit.compiler.settings import settings
from onnxjit.compiler.sparsity import analyse

# With fewer rows than a vector has lanes the sparse kernel does a scalar FMA per nonzero while
# the dense GEMV streams whole weight vectors: sparse must then skip 4 of 5 weights to win.
NARROW_ROWS = 16
NARROW_MAX_DENSITY = 0.2


def sparse_linear(graph: Graph) -> Graph:
    mode = settings().sparse
    if mode == "off":
        return graph
    for node in list(graph.nodes):
        plan = _plan(graph, node, mode == "force")
        if plan is not None:
            graph = _emit(graph, node, *plan)
    return graph


def _plan(graph: Graph, node: Node, force: bool) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """(Wᵀ [N, K] scaled by alpha, bias [N], M, K) when `node` should run sparse, else None."""
    if node.domain not in ("", "ai.onnx") or node.op_type not in ("MatMul", "Gemm") or len(node.inputs) < 2:
        return None
    xt, w = graph.types.get(node.inputs[0]), graph.constants.get(node.inputs[1])
    yt = graph.types.get(node.outputs[0])
    if xt is None or yt is None or w is None or not xt.is_static or not yt.is_static:
        return None
    w = np.asarray(w)
    if xt.dtype != "float32" or w.dtype != np.float32 or w.ndim != 2 or len(xt.static_shape()) < 1:
        return None
    bias = np.zeros(w.shape[1], np.float32)
    if node.op_type == "Gemm":
        if int(node.attr("transA", 0)) or len(xt.static_shape()) != 2:
            return None
        if int(node.attr("transB", 0)):
            w = w.T
        w = w * np.float32(node.attr("alpha", 1.0))
        if len(node.inputs) > 2 and node.inputs[2]:
            c = graph.constants.get(node.inputs[2])
            if c is None or np.asarray(c).size not in (1, w.shape[1]):
                return None
            bias = (np.broadcast_to(np.asarray(c, np.float32).reshape(-1), (w.shape[1],))
                    * np.float32(node.attr("beta", 1.0))).astype(np.float32)
    k, n = (int(d) for d in w.shape)
    xs = xt.static_shape()
    if xs[-1] != k or k == 0 or n == 0:
        return None
    m = math.prod(xs[:-1]) if len(xs) > 1 else 1
    wt = np.ascontiguousarray(w.T, dtype=np.float32)
    info = analyse(wt)
    limit = NARROW_MAX_DENSITY if m < NARROW_ROWS else MAX_SPARSE_DENSITY
    if not force and (m == 0 or info.density > limit or not info.prefer_sparse):
        return None
    return wt, bias, m, k


def _emit(graph: Graph, node: Node, wt: np.ndarray, bias: np.ndarray, m: int, k: int) -> Graph:
    constants, types = dict(graph.constants), dict(graph.types)
    taken = set(types) | set(constants) | {o for nd in graph.nodes for o in nd.outputs}
    base = node.name or node.outputs[0]
    new_nodes: list[Node] = []
    n = wt.shape[0]

    def const(tag: str, value: np.ndarray) -> str:
        name = unique_name(f"{base}__{tag}", taken)
        constants[name] = value
        types[name] = TensorType(str(value.dtype), tuple(int(d) for d in value.shape))
        return name

    def value(tag: str, shape: tuple[int, ...]) -> str:
        name = unique_name(f"{base}__{tag}", taken)
        types[name] = TensorType("float32", shape)
        return name

    def reshape(src: str, shape: tuple[int, ...], tag: str, out: str = "") -> str:
        out = out or value(tag, shape)
        new_nodes.append(Node("Reshape", (src, const(f"{tag}_shape", np.array(shape, np.int64))), (out,),
                              unique_name(f"{base}__{tag}", taken)))
        return out

    def transpose(src: str, shape: tuple[int, ...], tag: str) -> str:
        if 1 in shape:   # moving a unit axis keeps the element order
            return reshape(src, shape, tag)
        out = value(tag, shape)
        new_nodes.append(Node("Transpose", (src,), (out,), unique_name(f"{base}__{tag}", taken),
                              attrs={"perm": [1, 0]}))
        return out

    x2 = reshape(node.inputs[0], (m, k), "rows")
    x4 = reshape(transpose(x2, (k, m), "xt"), (1, k, 1, m), "pixels")
    y4 = value("conv", (1, n, 1, m))
    new_nodes.append(Node("Conv", (x4, const("w", wt.reshape(n, k, 1, 1)), const("b", bias)), (y4,),
                          unique_name(f"{base}__conv", taken), attrs={"kernel_shape": [1, 1]}))
    yt = transpose(reshape(y4, (n, m), "yt"), (m, n), "y")
    reshape(yt, types[node.outputs[0]].static_shape(), "out", out=node.outputs[0])
    nodes: list[Node] = []
    for nd in graph.nodes:
        nodes.extend(new_nodes if nd is node else [nd])
    return graph.replace(nodes=tuple(nodes), constants=constants, types=types)
