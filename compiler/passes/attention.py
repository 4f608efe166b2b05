"""Moves every attention spelling onto onnxjit::Attention (the flash kernel), by structure only.

- ONNX Attention (23-25) in fp32 without the qk output, nonpad_kv_seqlen or windows: one fused
  node, plus onnxjit::AttentionKVConcat nodes for present_key/present_value when a past is given.
- The exporter spelling: MatMul(Q, Transpose(K)) -> Div/Mul(scale) -> [Add(mask) | Where(mask)]
  -> Softmax(last axis) -> MatMul(., V), see attention_pattern.py.
A constant mask that is exactly causal becomes `causal=1` (then masked tiles are skipped).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from onnxjit.compiler.graph import ONNXJIT_DOMAIN, Graph, Node, TensorType, unique_name
from onnxjit.compiler.passes.attention_pattern import match_exporter_attention


def fuse_attention(graph: Graph) -> Graph:
    graph = _rewrite_onnx_attention(graph)
    return match_exporter_attention(graph)


def causal_offset_of(mask: np.ndarray, sq: int, skv: int) -> int | None:
    """The offset o if `mask` (additive or boolean keep-mask) is exactly `j <= i + o`, else None."""
    if mask.ndim < 2 or any(d != 1 for d in mask.shape[:-2]) or mask.shape[-2:] != (sq, skv):
        return None
    m = mask.reshape(sq, skv)
    allowed = m if m.dtype == np.bool_ else m == 0
    blocked = ~m if m.dtype == np.bool_ else m <= -1e9   # -inf, finfo.min and -1e9 spellings
    if not np.all(allowed | blocked):
        return None
    i, j = np.arange(sq)[:, None], np.arange(skv)[None, :]
    for offset in {0, skv - sq}:
        if np.array_equal(allowed, j <= i + offset):
            return offset
    return None


def _rewrite_onnx_attention(graph: Graph) -> Graph:
    nodes: list[Node] = []
    types = dict(graph.types)
    taken = set(types) | {n.name for n in graph.nodes}
    changed = False
    for node in graph.nodes:
        fused = None
        if node.op_type == "Attention" and node.domain in ("", "ai.onnx"):
            fused = _fast_onnx_attention(graph, node, types, taken)
        elif node.domain == "com.microsoft" and node.op_type in CONTRIB:
            fused = _fast_contrib(node, types, taken)
        if fused is None:
            nodes.append(node)
        else:
            nodes.extend(fused)
            changed = True
    return graph.replace(nodes=tuple(nodes), types=types) if changed else graph


def _input(node: Node, i: int) -> str:
    return node.inputs[i] if i < len(node.inputs) else ""


def _fast_onnx_attention(graph: Graph, node: Node, types: dict[str, TensorType],
                         taken: set[str]) -> list[Node] | None:
    q, k, v, mask = (_input(node, i) for i in range(4))
    past_k, past_v, nonpad = _input(node, 4), _input(node, 5), _input(node, 6)
    wants_qk = len(node.outputs) > 3 and node.outputs[3]
    windows = node.attr("left_window_size", -1) != -1 or node.attr("right_window_size", -1) != -1
    if wants_qk or nonpad or windows or types[q].dtype != "float32":
        return None
    if node.attr("softmax_precision") not in (None, 1):
        return None
    qs, ks = types[q].static_shape(), types[k].static_shape()
    rank = len(qs)
    if rank == 3:
        qh, kvh = int(node.attr("q_num_heads", 0)), int(node.attr("kv_num_heads", 0))
        layout, d = "bsh", qs[2] // max(qh, 1)
    else:
        qh, kvh, layout, d = qs[1], ks[1], "bhsd", qs[3]
    if qh <= 0 or kvh <= 0 or qh % kvh:
        return None
    out: list[Node] = []
    k_src, v_src, kv_layout, offset = k, v, layout, 0
    if past_k or past_v:
        if not (past_k and past_v):
            return None
        offset = types[past_k].static_shape()[2]
        present = []
        for i, (past, new) in enumerate(((past_k, k), (past_v, v))):
            name = node.outputs[i + 1] if len(node.outputs) > i + 1 and node.outputs[i + 1] else ""
            if not name:
                name = unique_name(f"{node.name or 'attention'}_present{i}", taken)
                pshape = types[past].static_shape()
                nshape = types[new].static_shape()
                seq = nshape[2] if layout == "bhsd" else nshape[1]
                types[name] = TensorType("float32", (pshape[0], pshape[1], pshape[2] + seq, pshape[3]))
            out.append(Node("AttentionKVConcat", (past, new), (name,),
                            name=unique_name(f"{node.name}_kvcat{i}", taken), domain=ONNXJIT_DOMAIN,
                            attrs={"layout": layout}))
            present.append(name)
        k_src, v_src, kv_layout = present[0], present[1], "bhsd"
    elif len(node.outputs) > 1 and any(node.outputs[1:3]):
        return None  # present outputs without a past: rare; the general lowering handles it
    skv = types[k_src].static_shape()[2] if kv_layout == "bhsd" else types[k_src].static_shape()[1]
    sq = qs[2] if layout == "bhsd" else qs[1]
    causal = bool(node.attr("is_causal", 0))
    if mask:
        mt = types[mask]
        mshape = mt.static_shape()
        if mt.dtype not in ("bool", "float32") or mshape[-1] != skv or len(mshape) > 4:
            return None
        const = graph.constants.get(mask)
        if const is not None and not causal:
            off = causal_offset_of(np.asarray(const), sq, skv)
            if off is not None:
                mask, causal, offset = "", True, off
    scale = node.attr("scale")
    attrs: dict[str, Any] = {
        "q_layout": layout, "k_layout": kv_layout, "v_layout": kv_layout, "o_layout": layout,
        "q_heads": qh, "kv_heads": kvh,
        "scale": float(scale) if scale is not None else 1.0 / math.sqrt(d),
        "softcap": float(node.attr("softcap", 0.0)), "causal": int(causal),
        "causal_offset": int(offset)}
    inputs = (q, k_src, v_src, mask) if mask else (q, k_src, v_src)
    out.append(Node("Attention", inputs, (node.outputs[0],), name=node.name or "attention",
                    domain=ONNXJIT_DOMAIN, attrs=attrs))
    return out


# op type -> (past_key input, past_value input, mask input, inputs that force the general path)
CONTRIB = {"MultiHeadAttention": (6, 7, 5, (3, 4, 8, 9)),
           "GroupQueryAttention": (3, 4, 10, (7, 8, 9, 11))}


def _fast_contrib(node: Node, types: dict[str, TensorType], taken: set[str]) -> list[Node] | None:
    """MultiHeadAttention / GroupQueryAttention -> [present concats] + onnxjit::Attention."""
    ipk, ipv, imask, blockers = CONTRIB[node.op_type]
    q, k, v = (_input(node, i) for i in range(3))
    if not (q and k and v) or types[q].dtype != "float32" or any(_input(node, i) for i in blockers):
        return None
    if len(node.outputs) > 3 and node.outputs[3]:
        return None
    gqa = node.op_type == "GroupQueryAttention"
    qh = int(node.attr("num_heads", 0))
    kvh = int(node.attr("kv_num_heads", 0)) if gqa else qh
    kv_layout = "bhsd" if len(types[k].static_shape()) == 4 else "bsh"
    past_k, past_v, mask = _input(node, ipk), _input(node, ipv), _input(node, imask)
    out: list[Node] = []
    present: list[str] = []
    for i, (past, new) in enumerate(((past_k, k), (past_v, v))):
        name = node.outputs[i + 1] if len(node.outputs) > i + 1 else ""
        if not name and not past:
            continue
        if not name:
            name = unique_name(f"{node.name or node.op_type}_present{i}", taken)
            ns = types[new].static_shape()
            seq = ns[2] if kv_layout == "bhsd" else ns[1]
            ps = types[past].static_shape()
            types[name] = TensorType("float32", (ps[0], ps[1], ps[2] + seq, ps[3]))
        out.append(Node("AttentionKVConcat", (past, new), (name,), domain=ONNXJIT_DOMAIN,
                        name=unique_name(f"{node.name}_kvcat{i}", taken),
                        attrs={"layout": kv_layout, "heads": kvh}))
        present.append(name)
    if past_k:
        k, v, kv_layout = present[0], present[1], "bhsd"
    qs = types[q].static_shape()
    skv = types[k].static_shape()[2 if kv_layout == "bhsd" else 1]
    if mask and types[mask].static_shape()[-1] != skv:
        return None
    causal = gqa or bool(node.attr("unidirectional", 0))
    attrs: dict[str, Any] = {
        "q_layout": "bsh", "k_layout": kv_layout, "v_layout": kv_layout, "o_layout": "bsh",
        "q_heads": qh, "kv_heads": kvh, "scale": float(node.attr("scale", 0.0) or 0.0),
        "softcap": float(node.attr("softcap", 0.0)), "causal": int(causal),
        "causal_offset": skv - qs[1]}
    inputs = (q, k, v, mask) if mask else (q, k, v)
    out.append(Node("Attention", inputs, (node.outputs[0],), name=node.name or node.op_type,
                    domain=ONNXJIT_DOMAIN, attrs=attrs))
    return out
