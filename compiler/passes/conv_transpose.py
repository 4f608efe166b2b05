"""ConvTranspose with constant weights -> a stride-1 Conv on the fast conv path + a phase interleave.

Sub-pixel decomposition (per spatial axis, stride s, kernel K padded with zero taps to T*s): the
full scatter position f = q*s + r gets sum_t x[q - t] * w[r + s*t], t < T. So every phase r is a
stride-1 correlation of x with a flipped T-tap slice of w; one Conv with s1*s2 times the output
channels computes them all (no zero-inserted input, no multiplications by inserted zeros), then
Reshape -> Transpose -> Reshape interleaves the phases into the image and a Slice crops the pads.
U-Net's 2x2 stride 2 becomes a 1x1 conv; DCGAN's 4x4 stride 2 pad 1 a 2x2 conv and a crop of 1.
Stride 1 is the special case with no interleave: the weights flipped and transposed (C <-> M).
A BatchNormalization after it folds into the weights; Relu / Clip after it move onto the conv
output (they commute with the interleave), where rewrite_convs fuses them into the conv's store.

Taken: 1-d and 2-d float32, constant W (and B), dilation 1, opset >= 10 (Slice/Reshape inputs);
3-d when every phase has one tap (kernel <= stride: 3-d U-Net's 2x2x2 stride 2).
Everything else keeps the general TE lowering (compiler/ops/conv_transpose.py).
"""
from __future__ import annotations

import numpy as np

from onnxjit.compiler.errors import OnnxJitError
from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node, TensorType, unique_name
from onnxjit.compiler.ops._window import Window
from onnxjit.compiler.ops.conv_transpose import transpose_window
from onnxjit.compiler.specialize import context


def rewrite_conv_transposes(graph: Graph) -> Graph:
    if graph.opset("") < 10:
        return graph
    for node in [n for n in graph.nodes if n.op_type == "ConvTranspose" and n.domain in ("", "ai.onnx")]:
        graph = _rewrite(graph, node) or graph
    return graph


def _rewrite(graph: Graph, node: Node) -> Graph | None:
    types, consts = graph.types, graph.constants
    x, w_name = node.inputs[0], node.inputs[1]
    b_name = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    xt = types.get(x)
    if w_name not in consts or (b_name and b_name not in consts) or xt is None or not xt.is_static:
        return None
    w = np.asarray(consts[w_name])
    xs = xt.static_shape()
    if xt.dtype != "float32" or w.dtype != np.float32 or w.ndim not in (3, 4, 5) or len(xs) != w.ndim:
        return None
    group = int(node.attr("group", 1))
    if group < 1 or xs[1] % group or w.shape[0] != xs[1]:
        return None
    try:
        win = transpose_window(context(node, graph.opset(""), types, consts), xs[2:], w.shape[2:])
    except OnnxJitError:
        return None   # the TE lowering reports the problem with full context
    if any(d != 1 for d in win.dilations):
        return None
    if w.ndim == 5 and any(k > st or pb + o > h * st for k, st, pb, o, h in zip(
            win.kernel, win.strides, win.pad_begin, win.out_size, win.in_size)):
        return None   # 3-d: only one tap per phase (a 1x1x1 conv, run as a 2-d 1x1 on a view)
    mg = int(w.shape[1])
    bias = np.asarray(consts[b_name], np.float32) if b_name else np.zeros(mg * group, np.float32)
    w, bias, matched, out = _fold_batch_norm(graph, w, bias, group, [node], node.outputs[0])
    acts: list[Node] = []
    while (reader := _sole_reader(graph, out)) is not None and _movable(graph, reader):
        acts.append(reader)   # commutes with the interleave: moved onto the conv, which fuses it
        matched.append(reader)
        out = reader.outputs[0]
    return _emit(graph, node, x, xs, _phase_weights(w, group, win.strides), np.tile(
        bias.reshape(group, 1, mg), (1, int(np.prod(win.strides)), 1)).reshape(-1), group, mg, win,
        acts, matched, out)


def _sole_reader(graph: Graph, value: str) -> Node | None:
    readers = graph.consumers().get(value, [])
    if len(readers) != 1 or value in graph.outputs or readers[0].domain not in ("", "ai.onnx"):
        return None
    return readers[0] if readers[0].inputs and readers[0].inputs[0] == value else None


def _movable(graph: Graph, node: Node) -> bool:
    """Relu, and Clip with constant (or no) bounds: rewrite_convs fuses them into the conv."""
    if len(node.outputs) != 1 or node.op_type not in ("Relu", "Clip"):
        return False
    return all(not name or name in graph.constants for name in node.inputs[1:])


def _fold_batch_norm(graph: Graph, w: np.ndarray, bias: np.ndarray, group: int, matched: list[Node],
                     out: str) -> tuple[np.ndarray, np.ndarray, list[Node], str]:
    """An inference BatchNormalization reading the output scales W's output channels (axis 1)."""
    bn = _sole_reader(graph, out)
    if (bn is None or bn.op_type != "BatchNormalization" or int(bn.attr("training_mode", 0))
            or sum(1 for o in bn.outputs if o) != 1 or len(bn.inputs) < 5
            or any(i not in graph.constants for i in bn.inputs[1:5])):
        return w, bias, matched, out
    scale, beta, mean, var = (np.asarray(graph.constants[i], np.float64) for i in bn.inputs[1:5])
    k = scale / np.sqrt(var + float(bn.attr("epsilon", 1e-5)))
    c, mg = w.shape[:2]
    scaled = w.reshape(group, c // group, mg, -1).astype(np.float64) * k.reshape(group, 1, mg, 1)
    bias = ((bias.astype(np.float64) - mean) * k + beta).astype(np.float32)
    return scaled.astype(np.float32).reshape(w.shape), bias, [*matched, bn], bn.outputs[0]


def _phase_weights(w: np.ndarray, group: int, strides: tuple[int, ...]) -> np.ndarray:
    """(C, Mg, K...) -> (G * prod(s) * Mg, C/G, T...): output channel (g, r..., m), taps flipped."""
    c, mg, kernel = w.shape[0], w.shape[1], w.shape[2:]
    taps = [-(-k // s) for k, s in zip(kernel, strides)]
    padded = np.zeros((c, mg, *(t * s for t, s in zip(taps, strides))), np.float32)
    padded[(slice(None), slice(None), *(slice(0, k) for k in kernel))] = w
    split = padded.reshape(group, c // group, mg, *(d for t, s in zip(taps, strides) for d in (t, s)))
    rank = len(kernel)
    t_axes = [3 + 2 * i for i in range(rank)]
    r_axes = [4 + 2 * i for i in range(rank)]
    split = np.flip(split, axis=t_axes)
    out = split.transpose(0, *r_axes, 2, 1, *t_axes)
    return np.ascontiguousarray(out.reshape(-1, c // group, *taps))


def _emit(graph: Graph, node: Node, x: str, xs: tuple[int, ...], wp: np.ndarray, bias: np.ndarray,
          group: int, mg: int, win: Window, acts: list[Node], matched: list[Node],
          out_name: str) -> Graph:
    constants, types = dict(graph.constants), dict(graph.types)
    taken = set(types) | set(constants) | {o for nd in graph.nodes for o in nd.outputs}
    rank, n, m = win.rank, xs[0], group * mg

    def const(tag: str, value: np.ndarray) -> str:
        name = unique_name(f"{node.name}__{tag}", taken)
        constants[name] = value
        types[name] = TensorType(str(value.dtype), tuple(int(d) for d in value.shape))
        return name

    def value(tag: str, shape: tuple[int, ...]) -> str:
        name = unique_name(f"{node.name}__{tag}", taken)
        types[name] = TensorType("float32", shape)
        return name

    def conv(w: np.ndarray, b: np.ndarray, begin: list[int], end: list[int], qs: tuple[int, ...]) -> str:
        """One stride-1 Conv, then the moved activations on its output. 3-d (1x1x1 here): a 2-d
        1x1 conv over the input viewed as (N, C, D, H*W), which the conv templates take."""
        src, shape = x, (n, w.shape[0], *qs)
        if rank == 3:
            src, w = reshape(x, (n, xs[1], xs[2], xs[3] * xs[4]), "rows"), w.reshape(*w.shape[:2], 1, 1)
            begin, end, shape = [0, 0], [0, 0], (n, w.shape[0], qs[0], qs[1] * qs[2])
        y = value("phases", shape)
        nodes.append(Node("Conv", (src, const("w", w), const("b", b)), (y,),
                          unique_name(f"{node.name}__conv", taken), "",
                          {"group": group, "kernel_shape": list(w.shape[2:]), "pads": begin + end,
                           "strides": [1] * len(begin), "dilations": [1] * len(begin)}))
        for act in acts:
            z = value(act.op_type.lower(), shape)
            nodes.append(Node(act.op_type, (y, *act.inputs[1:]), (z,),
                              unique_name(f"{node.name}__{act.name}", taken), act.domain, dict(act.attrs)))
            y = z
        return reshape(y, (n, w.shape[0], *qs), "volume") if rank == 3 else y

    def reshape(src: str, shape: tuple[int, ...], tag: str) -> str:
        y = value(tag, shape)
        nodes.append(Node("Reshape", (src, const(f"{tag}_shape", np.array(shape, np.int64))), (y,),
                          unique_name(f"{node.name}__{tag}", taken)))
        return y

    nodes: list[Node] = []
    taps = wp.shape[2:]
    phases = _exact_phases(win, taps) if group == 1 and rank < 3 else None
    if phases is not None:   # one conv per phase, concatenated in phase order
        qs = tuple(o // s for o, s in zip(win.out_size, win.strides))
        crop = [0] * rank
        parts = [conv(np.ascontiguousarray(wp[(slice(r * m, (r + 1) * m), slice(None),
                                                *(slice(lo, None) for lo in first))]),
                      bias[r * m:(r + 1) * m], begin, end, qs)
                 for r, begin, end, first in phases]
        woven = value("woven", (n, m, *(d for q, s in zip(qs, win.strides) for d in (q, s))))
        nodes.append(Node("PhaseInterleave", tuple(parts), (woven,),
                          unique_name(f"{node.name}__interleave", taken), ONNXJIT_DOMAIN,
                          {"strides": list(win.strides)}))
        reshape(woven, (n, m, *win.out_size), "full")
        return _finish(graph, node, nodes, matched, out_name, constants, types)
    else:
        begin, end, q_list, crop = [], [], [], []
        for i in range(rank):
            s, h, t, pb = win.strides[i], win.in_size[i], taps[i], win.pad_begin[i]
            qb, qe = pb // s, -(-(pb + win.out_size[i]) // s)    # phase rows covering the output
            p_begin = max(t - 1 - qb, 0)                          # conv output j is q = j + q0
            p_end = max(qe - h, 0)
            begin.append(p_begin)
            end.append(p_end)
            q_list.append(h + p_begin + p_end - t + 1)
            crop.append(pb - (t - 1 - p_begin) * s)
        qs = tuple(q_list)
        y = conv(wp, bias, begin, end, qs)
    full = tuple(q * s for q, s in zip(qs, win.strides))
    if any(s > 1 for s in win.strides):
        split = (n, group, *win.strides, mg, *qs)
        perm = [0, 1, 2 + rank] + [d for i in range(rank) for d in (3 + rank + i, 2 + i)]
        a = value("split", split)
        nodes.append(Node("Reshape", (y, const("split_shape", np.array(split, np.int64))), (a,),
                          unique_name(f"{node.name}__split", taken)))
        b = value("interleaved", tuple(split[p] for p in perm))
        nodes.append(Node("Transpose", (a,), (b,), unique_name(f"{node.name}__interleave", taken),
                          "", {"perm": perm}))
        y = value("full", (n, m, *full))
        nodes.append(Node("Reshape", (b, const("full_shape", np.array((n, m, *full), np.int64))), (y,),
                          unique_name(f"{node.name}__merge", taken)))
    if tuple(full) != tuple(win.out_size):
        y2 = value("crop", (n, m, *win.out_size))
        nodes.append(Node("Slice", (y, const("starts", np.array(crop, np.int64)),
                                    const("ends", np.array([c + o for c, o in zip(crop, win.out_size)],
                                                           np.int64)),
                                    const("axes", np.arange(2, 2 + rank, dtype=np.int64))), (y2,),
                          unique_name(f"{node.name}__crop", taken)))
        y = y2
    return _finish(graph, node, nodes, matched, out_name, constants, types)


def _finish(graph: Graph, node: Node, nodes: list[Node], matched: list[Node], out_name: str,
            constants: dict[str, np.ndarray], types: dict[str, TensorType]) -> Graph:
    """The last new node writes the matched chain's output, at the last matched node's place."""
    y = nodes[-1].outputs[0]
    last = nodes[-1]
    nodes[-1] = Node(last.op_type, last.inputs, (out_name,), last.name, last.domain, dict(last.attrs))
    types.pop(y, None)
    ids = {id(nd) for nd in matched}
    out: list[Node] = []
    for nd in graph.nodes:
        if nd is matched[-1]:
            out.extend(nodes)
        elif id(nd) not in ids:
            out.append(nd)
    opsets = dict(graph.opsets)
    opsets[ONNXJIT_DOMAIN] = max(1, opsets.get(ONNXJIT_DOMAIN, 1))
    return graph.replace(nodes=tuple(out), constants=constants, types=types, opsets=opsets)


Phase = tuple[int, list[int], list[int], list[int]]


def _exact_phases(win: Window, taps: tuple[int, ...]) -> list[Phase] | None:
    """When the pads are not a multiple of the stride (DCGAN's 4x4 s2 p1), the one-conv form computes
    a row and column per phase that the crop drops (17x17 for 16x16: 13% of the work); when the
    kernel is not (torch's 3x3 s2), its zero-padded taps (16 for 9). Each phase then gets its own
    conv over exactly its rows and taps, when every phase has as many rows (output size a multiple
    of the stride) and no conv needs negative pads; onnxjit::PhaseInterleave weaves them.
    Per phase: (weight row block, pads begin, pads end, first flipped tap kept per axis)."""
    if all(p % s == 0 and k % s == 0 for p, s, k in zip(win.pad_begin, win.strides, win.kernel)) or any(
            o % s for o, s in zip(win.out_size, win.strides)):
        return None
    out = []
    for rr in np.ndindex(*win.strides):   # output phase, row-major: the interleave's channel order
        block, begin, end, first = 0, [], [], []
        for i in range(win.rank):
            s, pb, k = win.strides[i], win.pad_begin[i], win.kernel[i]
            r = (rr[i] + pb) % s
            block = block * s + r
            q0 = (rr[i] + pb) // s            # phase row of output row rr[i]
            used = max(-(-(k - r) // s), 1)   # taps r, r + s, ... inside the kernel
            if used - 1 - q0 < 0:
                used = taps[i]                # keep the zero taps rather than pad negatively
            first.append(taps[i] - used)      # flipped: the kernel's own taps are the last ones
            begin.append(used - 1 - q0)
            end.append(win.out_size[i] // s - win.in_size[i] + q0)
        if min(begin + end) < 0:
            return None
        out.append((block, begin, end, first))
    return out
