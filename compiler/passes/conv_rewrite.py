"""Conv with constant weights -> onnxjit::Conv, with BatchNormalization folded into the weights,
the activation / residual add that follow fused into the store, and sparse or dense chosen.

Runs on the specialised graph (all shapes static, constants known). Per Conv (1-d or 2-d,
float32, constant weights): take in a zero Pad in front (conv_pad.py); fold a sole-consumer
inference BatchNormalization into W and B; absorb the chain of sole consumers Relu, Clip
(constant bounds) and one Add of a same-shape tensor; analyse the weights (compiler/sparsity.py)
and, when sparse is plausible (ONNXJIT_SPARSE=auto), attach the BSR packing so the cost estimate
or tuning can choose it. A 1-d conv (Whisper / wav2vec front-ends) runs as a 2-d conv over one
row, its input, residual and output reshaped around it (views: they cost nothing). The activation
layout stays NCHW throughout, so no layout transform is ever inserted between layers.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from onnxjit.compiler.conv_geometry import ConvGeometry, weight_block
from onnxjit.compiler.errors import OnnxJitError
from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node, TensorType, unique_name
from onnxjit.compiler.ops._window import window
from onnxjit.compiler.passes.conv_pad import absorbable_pad
from onnxjit.compiler.passes.rewrite import replace_nodes
from onnxjit.compiler.settings import settings
from onnxjit.compiler.sparsity import analyse, pack
from onnxjit.compiler.specialize import context

MAX_SPARSE_DENSITY = 0.7       # above this the packing is not even built
LINE_FLOATS = 16               # fp32 elements per 64-byte cache line



def row_alignment(g: ConvGeometry) -> int:
    """Row stride alignment of a sparse conv's padded copy: whole cache lines when that widens a
    row by at most 1/8. Each nonzero loads its shifted input row as whole vectors, which straddle
    two lines unless the shift is aligned: with line-aligned rows the kx = 0 taps' loads are
    (3x3 C128 28x28 90% zeros: 0.546 -> 0.462 ms). Narrow rows (7x7) stay unpadded."""
    if g.direct:
        return 1
    width = replace(g, wa=1).wq
    aligned = -(-width // LINE_FLOATS) * LINE_FLOATS
    return LINE_FLOATS if 8 * (aligned - width) <= width else 1


def rewrite_convs(graph: Graph) -> Graph:
    done: set[str] = set()
    while True:
        node = next((n for n in graph.nodes if n.op_type == "Conv" and n.domain == ""
                     and n.name not in done), None)
        if node is None:
            return graph
        done.add(node.name)
        new = _rewrite(graph, node)
        if new is not None:
            graph = new


def _rewrite(graph: Graph, conv: Node) -> Graph | None:
    types, consts = graph.types, graph.constants
    x, w_name = conv.inputs[0], conv.inputs[1]
    b_name = conv.inputs[2] if len(conv.inputs) > 2 and conv.inputs[2] else ""
    if w_name not in consts or (b_name and b_name not in consts):
        return None
    xt = types.get(x)
    w = np.asarray(consts[w_name])
    if (xt is None or not xt.is_static or xt.dtype != "float32" or w.dtype != np.float32
            or w.ndim not in (3, 4) or len(xt.static_shape()) != w.ndim):
        return None
    try:
        ctx = context(conv, graph.opset(""), types, consts)
        win = window(ctx, xt.static_shape()[2:], w.shape[2:])
    except OnnxJitError:
        return None  # the TE lowering reports the problem with full context
    group = int(conv.attr("group", 1))
    if xt.static_shape()[1] != w.shape[1] * group or w.shape[0] % group:
        return None
    if w.ndim == 3:   # 1-d: one row of height 1, the window along it
        n, c, wd = xt.static_shape()
        w = w[:, :, None, :]
        g = ConvGeometry(n, c, 1, wd, int(w.shape[0]), group, 1, int(w.shape[3]), 1, win.strides[0],
                         1, win.dilations[0], 0, win.pad_begin[0], 0, win.pad_end[0])
    else:
        n, c, h, wd = xt.static_shape()
        g = ConvGeometry(n, c, h, wd, int(w.shape[0]), group, int(w.shape[2]), int(w.shape[3]),
                         *win.strides, *win.dilations, win.pad_begin[0], win.pad_begin[1],
                         win.pad_end[0], win.pad_end[1])
    bias = np.asarray(consts[b_name], np.float32) if b_name else np.zeros(g.m, np.float32)
    matched, out = [conv], conv.outputs[0]
    fold = absorbable_pad(graph, conv)
    if fold is not None:   # the padding moves into the conv's; the kernel reads the Pad's input
        src = types.get(fold.source)
        if src is not None and src.is_static and src.dtype == "float32":
            if len(xt.static_shape()) == 3:
                g = replace(g, w=src.static_shape()[2], pl=g.pl + fold.begin[0], pr=g.pr + fold.end[0])
            else:
                g = replace(g, h=src.static_shape()[2], w=src.static_shape()[3],
                            pt=g.pt + fold.begin[0], pl=g.pl + fold.begin[1],
                            pb=g.pb + fold.end[0], pr=g.pr + fold.end[1])
            matched, x = [fold.node, conv], fold.source
    w, bias, out, matched = _fold_batch_norm(graph, w, bias, out, matched)
    shape = (g.n, g.m, g.wo) if len(xt.static_shape()) == 3 else (g.n, g.m, g.ho, g.wo)
    post, lo, hi, residual, out, matched = _epilogue(graph, out, matched, shape)
    return _emit(graph, conv, x, g, w, bias, post, lo, hi, residual, out, matched)


def _sole_reader(graph: Graph, value: str) -> Node | None:
    readers = graph.consumers().get(value, [])
    if len(readers) != 1 or value in graph.outputs:
        return None
    return readers[0] if readers[0].domain == "" else None


def _fold_batch_norm(graph: Graph, w: np.ndarray, bias: np.ndarray, out: str,
                     matched: list[Node]) -> tuple[np.ndarray, np.ndarray, str, list[Node]]:
    bn = _sole_reader(graph, out)
    if (bn is None or bn.op_type != "BatchNormalization" or bn.inputs[0] != out
            or int(bn.attr("training_mode", 0)) or sum(1 for o in bn.outputs if o) != 1
            or any(i not in graph.constants for i in bn.inputs[1:5])):
        return w, bias, out, matched
    scale, beta, mean, var = (np.asarray(graph.constants[i], np.float64) for i in bn.inputs[1:5])
    k = scale / np.sqrt(var + float(bn.attr("epsilon", 1e-5)))
    w = (w.astype(np.float64) * k[:, None, None, None]).astype(np.float32)
    bias = ((bias.astype(np.float64) - mean) * k + beta).astype(np.float32)
    return w, bias, bn.outputs[0], [*matched, bn]


def _const_scalar(graph: Graph, node: Node, i: int) -> float | None:
    name = node.inputs[i] if i < len(node.inputs) else ""
    if not name:
        return None
    value = graph.constants.get(name)
    return None if value is None or np.asarray(value).size != 1 else float(np.asarray(value).reshape(-1)[0])


def _epilogue(graph: Graph, out: str, matched: list[Node], shape: tuple[int, ...]
              ) -> tuple[list[str], float, float, str, str, list[Node]]:
    post: list[str] = []
    lo, hi, residual = 0.0, 0.0, ""
    while (node := _sole_reader(graph, out)) is not None and len(node.outputs) == 1:
        if node.op_type == "Relu":
            post.append("relu")
        elif node.op_type == "Clip" and "clip" not in post:
            if graph.opset("") < 11:
                bounds = (node.attr("min", -3.4028234663852886e38), node.attr("max", 3.4028234663852886e38))
            else:
                bounds = (_const_scalar(graph, node, 1), _const_scalar(graph, node, 2))
                missing = [i for i in (1, 2) if i < len(node.inputs) and node.inputs[i]
                           and node.inputs[i] not in graph.constants]
                if missing:
                    break
                bounds = (-np.inf if bounds[0] is None else bounds[0],
                          np.inf if bounds[1] is None else bounds[1])
            lo, hi = float(np.float32(bounds[0])), float(np.float32(bounds[1]))
            post.append("clip")
        elif node.op_type == "Add" and "add" not in post:
            other = node.inputs[1] if node.inputs[0] == out else node.inputs[0]
            ot = graph.types.get(other)
            # a residual that is also the conv's input would be one kernel argument, not two
            if other in (out, matched[0].inputs[0]) or ot is None or not ot.is_static or ot.static_shape() != shape \
                    or ot.dtype != "float32":
                break
            residual = other
            post.append("add")
        else:
            break
        out = node.outputs[0]
        matched = [*matched, node]
    return post, lo, hi, residual, out, matched


def _emit(graph: Graph, conv: Node, x: str, g: ConvGeometry, w: np.ndarray, bias: np.ndarray,
          post: list[str], lo: float, hi: float, residual: str, out: str,
          matched: list[Node]) -> Graph:
    constants, types = dict(graph.constants), dict(graph.types)
    taken = set(types) | set(constants) | {o for nd in graph.nodes for o in nd.outputs}

    def add(base: str, value: np.ndarray) -> str:
        name = unique_name(f"{conv.name}__{base}", taken)
        constants[name] = value
        types[name] = TensorType(str(value.dtype), tuple(int(d) for d in value.shape))
        return name

    wct = weight_block(g.mg)
    wt = w.reshape(g.group, g.mg // wct, wct, g.cg, g.taps).transpose(0, 1, 3, 4, 2).reshape(-1)
    mode = settings().sparse
    block, impl = 0, "dense"
    val, off, ptr = np.zeros(1, np.float32), np.zeros(1, np.int32), np.zeros(2, np.int32)
    if g.group == 1 and mode != "off":
        info = analyse(w.reshape(g.m, -1))
        if info.density <= MAX_SPARSE_DENSITY or mode == "force":
            g = replace(g, wa=row_alignment(g))   # the packing's offsets follow the row stride
            taps = np.array([g.tap_offset(ky, kx) for ky in range(g.kh) for kx in range(g.kw)], np.int64)
            packed = pack(w.reshape(g.m, -1), info.block,
                          lambda k: (k // g.taps) * g.cplane + taps[k % g.taps])
            val, off, ptr, block = packed.val, packed.off, packed.ptr, packed.block
            impl = "sparse" if info.prefer_sparse or mode == "force" else "dense"
    y = out
    before: list[Node] = []   # 1-d: views of the input and residual as one-row images
    after: list[Node] = []    # ... and of the one-row result as the 1-d output

    def view(src: str, shape: tuple[int, ...], tag: str, dst: str = "") -> tuple[str, Node]:
        if not dst:
            dst = unique_name(f"{conv.name}__{tag}", taken)
            types[dst] = TensorType("float32", shape)
        node = Node("Reshape", (src, add(f"{tag}_shape", np.array(shape, np.int64))), (dst,),
                    unique_name(f"{conv.name}__{tag}", taken))
        return dst, node

    if len(types[x].static_shape()) == 3:
        x, node = view(x, (g.n, g.c, 1, g.w), "rows")
        before.append(node)
        if residual:
            residual, node = view(residual, (g.n, g.m, 1, g.wo), "residual_rows")
            before.append(node)
        y = unique_name(f"{conv.name}__out_rows", taken)
        types[y] = TensorType("float32", (g.n, g.m, 1, g.wo))
        after.append(view(y, types[out].static_shape(), "out", dst=out)[1])
    inputs = (x, add("wt", np.ascontiguousarray(wt)), add("bias", bias),
              add("val", val), add("off", off), add("ptr", ptr),
              residual or add("nores", np.zeros(1, np.float32)))
    attrs = {**g.as_dict(), "post": ",".join(post), "lo": lo, "hi": hi, "block": block, "impl": impl,
             "wct": wct}
    fused = Node("Conv", inputs, (out,), conv.name, ONNXJIT_DOMAIN, attrs)
    opsets = dict(graph.opsets)
    opsets[ONNXJIT_DOMAIN] = max(1, opsets.get(ONNXJIT_DOMAIN, 1))
    graph = replace_nodes(graph.replace(constants=constants, types=types, opsets=opsets), matched, fused)
    if y == out:
        return graph
    nodes: list[Node] = []
    for node in graph.nodes:
        nodes.extend([*before, replace(fused, outputs=(y,)), *after] if node is fused else [node])
    return graph.replace(nodes=tuple(nodes))
