"""State-space / linear-attention example blocks.

gated_deltanet(): a Gated DeltaNet layer (opset 27): fused q/k/v projection, a short causal conv
with SiLU (CausalConvWithState, state carried in and out), per-head L2-normalised q and k (Mul,
ReduceSum, Sqrt, Div), beta = Sigmoid(x Wb), log-decay g = -exp(A_log) * Softplus(x Wa + dt_bias),
LinearAttention(gated_delta), per-head RMSNormalization gated by SiLU(x Wg), output projection.
mamba1(): a Mamba-1 block (opset 21): in_proj split into x and z, a depthwise causal Conv over time
(pads [k-1, 0]) with SiLU, x_proj into (dt, B, C), delta = Softplus(dt Wdt + b), the selective scan
as an ONNX Scan over time (the S6 step: exp(delta A) h + delta B x, readout C h + D x) with A and D
read from the outer scope, y * SiLU(z), out_proj.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from graph_builder import F32, Feeds, GraphBuilder


def _silu(b: GraphBuilder, x: str, scope: str) -> str:
    return b.op("Mul", [x, b.op("Sigmoid", [x], scope)], scope)


@dataclass(frozen=True)
class DeltaNetConfig:
    seq: int = 1024
    hidden: int = 512
    heads: int = 8
    head_dim: int = 64
    conv: int = 4
    seed: int = 0


def gated_deltanet(cfg: DeltaNetConfig = DeltaNetConfig()) -> tuple[onnx.ModelProto, Feeds]:
    b = GraphBuilder(cfg.seed)
    d, h, k = cfg.hidden, cfg.heads, cfg.head_dim
    hk = h * k
    qkv = b.linear("x", "/qkv_proj", d, 3 * hk, bias=False)                       # [1, T, 3HK]
    channels = b.op("Transpose", [qkv], "/conv", perm=[0, 2, 1])                  # [1, 3HK, T]
    w = b.weight("conv.weight", (3 * hk, 1, cfg.conv), cfg.conv)
    y, state = b.op("CausalConvWithState", [channels, w, b.vector("conv.bias", 3 * hk),
                                           "conv_state"], "/conv", outputs=2, activation="silu")
    b.rename_output(state, "present_conv_state")
    qkv = b.op("Transpose", [y], "/conv", perm=[0, 2, 1])
    q, key, v = b.op("Split", [qkv, b.ints("qkv_split", [hk, hk, hk])], "/split", outputs=3,
                     axis=-1)
    heads = b.ints("heads_shape", [0, 0, h, k])
    flat = b.ints("flat_shape", [0, 0, hk])

    def l2norm(t: str, scope: str) -> str:
        t4 = b.op("Reshape", [t, heads], scope)
        ss = b.op("ReduceSum", [b.op("Mul", [t4, t4], scope), b.ints(f"{scope}.axis", [-1])],
                  scope, keepdims=1)
        norm = b.op("Sqrt", [b.op("Add", [ss, b.scalar(f"{scope}.eps", 1e-6)], scope)], scope)
        return b.op("Reshape", [b.op("Div", [t4, norm], scope), flat], scope)

    q, key = l2norm(q, "/q_norm"), l2norm(key, "/k_norm")
    beta = b.op("Sigmoid", [b.linear("x", "/b_proj", d, h, bias=False)], "/beta")
    a = b.op("Softplus", [b.op("Add", [b.linear("x", "/a_proj", d, h, bias=False),
                                       b.vector("dt_bias", h, scale=0.5)], "/decay")], "/decay")
    a_log = np.log(b.rng.uniform(1, 16, h)).astype(np.float32)
    decay = b.op("Mul", [a, b.const("neg_A", -np.exp(a_log))], "/decay")            # [1, T, H]
    o, s = b.op("LinearAttention", [q, key, v, "past_state", decay, beta], "/attn", outputs=2,
                q_num_heads=h, kv_num_heads=h, update_rule="gated_delta",
                scale=float(1 / np.sqrt(k)))
    b.rename_output(s, "present_state")
    gate = _silu(b, b.op("Reshape", [b.linear("x", "/g_proj", d, hk, bias=False), heads],
                         "/gate"), "/gate")
    normed = b.op("RMSNormalization", [b.op("Reshape", [o, heads], "/o_norm"),
                                       b.vector("o_norm.weight", k, mean=1.0)], "/o_norm",
                  axis=-1, epsilon=1e-6)
    o = b.op("Reshape", [b.op("Mul", [normed, gate], "/gate"), flat], "/gate")
    b.rename_output(b.linear(o, "/o_proj", hk, d, bias=False), "y")
    model = b.model("gated_deltanet", {"x": (F32, [1, cfg.seq, d]),
                                       "conv_state": (F32, [1, 3 * hk, cfg.conv - 1]),
                                       "past_state": (F32, [1, h, k, k])},
                    ["y", "present_conv_state", "present_state"], opset=27)
    rng = np.random.default_rng(cfg.seed + 1)
    feeds = {"x": rng.standard_normal((1, cfg.seq, d)).astype(np.float32),
             "conv_state": rng.standard_normal((1, 3 * hk, cfg.conv - 1)).astype(np.float32),
             "past_state": (0.1 * rng.standard_normal((1, h, k, k))).astype(np.float32)}
    return model, feeds


@dataclass(frozen=True)
class MambaConfig:
    seq: int = 1024
    hidden: int = 256
    expand: int = 2
    state: int = 16
    conv: int = 4
    dt_rank: int = 16
    seed: int = 0

    @property
    def inner(self) -> int:
        return self.expand * self.hidden


def _s6_body(di: int, n: int) -> onnx.GraphProto:
    """h' = exp(dt A) h + (dt x) B; y = h' C + D x (A, D from the outer scope)."""
    vi = helper.make_tensor_value_info
    nodes = [
        helper.make_node("Unsqueeze", ["dt", "ax1"], ["dtu"]),
        helper.make_node("Mul", ["dtu", "A"], ["dA_log"]),
        helper.make_node("Exp", ["dA_log"], ["dA"]),
        helper.make_node("Mul", ["dt", "xt"], ["dx"]),
        helper.make_node("Unsqueeze", ["dx", "ax1"], ["dxu"]),
        helper.make_node("Mul", ["dxu", "Bt"], ["bx"]),
        helper.make_node("Mul", ["dA", "h_in"], ["ah"]),
        helper.make_node("Add", ["ah", "bx"], ["h_out"]),
        helper.make_node("MatMul", ["h_out", "Ct"], ["yh"]),
        helper.make_node("Mul", ["Dskip", "xt"], ["skip"]),
        helper.make_node("Add", ["yh", "skip"], ["y_t"])]
    return helper.make_graph(
        nodes, "s6_step",
        [vi("h_in", F32, [di, n]), vi("dt", F32, [di]), vi("xt", F32, [di]),
         vi("Bt", F32, [n]), vi("Ct", F32, [n])],
        [vi("h_out", F32, [di, n]), vi("y_t", F32, [di])],
        [numpy_helper.from_array(np.array([1], np.int64), "ax1")])


def mamba1(cfg: MambaConfig = MambaConfig()) -> tuple[onnx.ModelProto, Feeds]:
    """x [L, D] -> y [L, D] and the final SSM state [Di, N] (batch 1, time-major)."""
    b = GraphBuilder(cfg.seed)
    d, di, n, r = cfg.hidden, cfg.inner, cfg.state, cfg.dt_rank
    xz = b.linear("x", "/in_proj", d, 2 * di, bias=False)
    xs, z = b.op("Split", [xz, b.ints("xz_split", [di, di])], "/in_proj", outputs=2, axis=-1)
    xc = b.op("Unsqueeze", [b.op("Transpose", [xs], "/conv1d", perm=[1, 0]),
                            b.ints("batch_axis", [0])], "/conv1d")                # [1, Di, L]
    w = b.weight("conv1d.weight", (di, 1, cfg.conv), cfg.conv)
    xc = b.op("Conv", [xc, w, b.vector("conv1d.bias", di)], "/conv1d", group=di,
              kernel_shape=[cfg.conv], pads=[cfg.conv - 1, 0])
    xc = b.op("Transpose", [b.op("Squeeze", [xc, b.ints("batch_axis2", [0])], "/conv1d")],
              "/conv1d", perm=[1, 0])                                              # [L, Di]
    xc = _silu(b, xc, "/act")
    dbc = b.linear(xc, "/x_proj", di, r + 2 * n, bias=False)
    dt, bb, cc = b.op("Split", [dbc, b.ints("dbc_split", [r, n, n])], "/x_proj", outputs=3,
                      axis=-1)
    delta = b.op("Softplus", [b.linear(dt, "/dt_proj", r, di)], "/dt_proj")
    a = -np.tile(np.arange(1, n + 1, dtype=np.float32), (di, 1))
    b.const("A", a)
    b.const("Dskip", np.ones(di, np.float32))
    b.const("h0", np.zeros((di, n), np.float32))
    h_t, y = b.op("Scan", ["h0", delta, xc, bb, cc], "/selective_scan", outputs=2,
                  num_scan_inputs=4, body=_s6_body(di, n))
    b.rename_output(h_t, "ssm_state")
    y = b.op("Mul", [y, _silu(b, z, "/gate")], "/gate")
    b.rename_output(b.linear(y, "/out_proj", di, d, bias=False), "y")
    model = b.model("mamba1", {"x": (F32, [cfg.seq, d])}, ["y", "ssm_state"], opset=21)
    feeds = {"x": np.random.default_rng(cfg.seed + 1).standard_normal((cfg.seq, d))
             .astype(np.float32)}
    return model, feeds
