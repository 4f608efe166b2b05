"""Transformer example models: a BERT-style encoder and a GPT-style decoder step with a KV cache.

bert(): word/position/type embeddings (Gather) + LayerNorm, then post-LN layers with attention
spelled as PyTorch's exporter emits it (MatMul+Add projections, Reshape/Transpose into heads,
MatMul -> Div by sqrt(d) -> Add of the extended mask (1 - mask) * -10000 -> Softmax -> MatMul,
heads merged back), residual Adds, LayerNormalization and a Gelu MLP.
gpt_step(): one decode step of a pre-LN decoder: opset-23 Attention with past_key/past_value
(present_* outputs), rotary-free learned positions, Gelu MLP and a tied-vocabulary head.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from graph_builder import F32, I64, Feeds, GraphBuilder


@dataclass(frozen=True)
class BertConfig:
    layers: int = 2
    seq: int = 128
    hidden: int = 256
    heads: int = 4
    ffn: int = 1024
    vocab: int = 1000
    batch: int = 1
    seed: int = 0

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def _bert_attention(b: GraphBuilder, x: str, mask: str, scope: str, cfg: BertConfig) -> str:
    heads = b.ints(f"{scope}.heads_shape", [0, 0, cfg.heads, cfg.head_dim])
    merged = b.ints(f"{scope}.merged_shape", [0, 0, cfg.hidden])
    q, k, v = (b.op("Reshape", [b.linear(x, f"{scope}/{p}", cfg.hidden, cfg.hidden), heads],
                    f"{scope}/{p}") for p in ("query", "key", "value"))
    q = b.op("Transpose", [q], f"{scope}/query", perm=[0, 2, 1, 3])
    k = b.op("Transpose", [k], f"{scope}/key", perm=[0, 2, 3, 1])
    v = b.op("Transpose", [v], f"{scope}/value", perm=[0, 2, 1, 3])
    scores = b.op("MatMul", [q, k], f"{scope}/scores")
    scores = b.op("Div", [scores, b.scalar(f"{scope}.sqrt_d", np.sqrt(cfg.head_dim))], scope)
    scores = b.op("Add", [scores, mask], f"{scope}/mask")
    probs = b.op("Softmax", [scores], f"{scope}/probs", axis=-1)
    ctx = b.op("MatMul", [probs, v], f"{scope}/context")
    ctx = b.op("Reshape", [b.op("Transpose", [ctx], f"{scope}/context", perm=[0, 2, 1, 3]),
                           merged], f"{scope}/context")
    return b.linear(ctx, f"{scope}/output", cfg.hidden, cfg.hidden)


def bert(cfg: BertConfig = BertConfig()) -> tuple[onnx.ModelProto, Feeds]:
    b = GraphBuilder(cfg.seed)
    words = b.weight("embeddings.word", (cfg.vocab, cfg.hidden), 1)
    positions = b.weight("embeddings.position", (cfg.seq, cfg.hidden), 1)
    types = b.weight("embeddings.token_type", (2, cfg.hidden), 1)
    h = b.op("Add", [b.op("Gather", [words, "input_ids"], "/embeddings/word"),
                     b.op("Gather", [types, "token_type_ids"], "/embeddings/type")], "/embeddings")
    h = b.op("Add", [h, positions], "/embeddings")
    h = b.layer_norm(h, "/embeddings/LayerNorm", cfg.hidden, 1e-12)
    # The extended attention mask: [B, 1, 1, S] of 0 (keep) or -10000 (padding).
    m = b.op("Unsqueeze", ["attention_mask", b.ints("mask_axes", [1, 2])], "/mask")
    m = b.op("Cast", [m], "/mask", to=F32)
    m = b.op("Sub", [b.scalar("one", 1.0), m], "/mask")
    mask = b.op("Mul", [m, b.scalar("neg_big", -10000.0)], "/mask")
    for i in range(cfg.layers):
        scope = f"/encoder/layer.{i}"
        attn = _bert_attention(b, h, mask, f"{scope}/attention", cfg)
        h = b.layer_norm(b.op("Add", [attn, h], f"{scope}/attention"),
                         f"{scope}/attention/LayerNorm", cfg.hidden, 1e-12)
        ff = b.op("Gelu", [b.linear(h, f"{scope}/intermediate", cfg.hidden, cfg.ffn)],
                  f"{scope}/intermediate")
        ff = b.linear(ff, f"{scope}/output", cfg.ffn, cfg.hidden)
        h = b.layer_norm(b.op("Add", [ff, h], f"{scope}/output"), f"{scope}/output/LayerNorm",
                         cfg.hidden, 1e-12)
    b.rename_output(h, "last_hidden_state")
    shape = [cfg.batch, cfg.seq]
    model = b.model("bert", {"input_ids": (I64, shape), "token_type_ids": (I64, shape),
                             "attention_mask": (I64, shape)}, ["last_hidden_state"], opset=20)
    rng = np.random.default_rng(cfg.seed + 1)
    mask = np.ones(shape, np.int64)
    mask[:, cfg.seq * 3 // 4:] = 0  # the last quarter is padding
    feeds = {"input_ids": rng.integers(0, cfg.vocab, shape).astype(np.int64),
             "token_type_ids": (np.arange(cfg.seq) >= cfg.seq // 2).astype(np.int64)[None]
             .repeat(cfg.batch, 0), "attention_mask": mask}
    return model, feeds


@dataclass(frozen=True)
class GptConfig:
    layers: int = 2
    hidden: int = 512
    heads: int = 8
    past: int = 255        # cached tokens; this step is token past + 1
    vocab: int = 2048
    seed: int = 0

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def gpt_step(cfg: GptConfig = GptConfig()) -> tuple[onnx.ModelProto, Feeds]:
    """One decode step: input_ids [1, 1], past_key/value per layer [1, H, P, d]."""
    b = GraphBuilder(cfg.seed)
    d = cfg.hidden
    words = b.weight("wte", (cfg.vocab, d), 1)
    positions = b.weight("wpe", (cfg.past + 1, d), 1)
    pos = b.op("Gather", [positions, b.ints("position", [cfg.past])], "/embed")  # [1, d]
    h = b.op("Add", [b.op("Gather", [words, "input_ids"], "/embed"), pos], "/embed")  # [1,1,d]
    outputs = ["logits"]
    for i in range(cfg.layers):
        scope = f"/h.{i}"
        a = b.layer_norm(h, f"{scope}/ln_1", d)
        qkv = b.linear(a, f"{scope}/attn/c_attn", d, 3 * d)
        q, k, v = b.op("Split", [qkv, b.ints(f"{scope}.split", [d, d, d])], f"{scope}/attn",
                       outputs=3, axis=-1)
        y, pk, pv = b.op("Attention", [q, k, v, "", f"past_key.{i}", f"past_value.{i}"],
                         f"{scope}/attn", outputs=3, q_num_heads=cfg.heads,
                         kv_num_heads=cfg.heads)
        outputs += [b.rename_output(pk, f"present_key.{i}"),
                    b.rename_output(pv, f"present_value.{i}")]
        h = b.op("Add", [h, b.linear(y, f"{scope}/attn/c_proj", d, d)], f"{scope}/attn")
        m = b.layer_norm(h, f"{scope}/ln_2", d)
        m = b.op("Gelu", [b.linear(m, f"{scope}/mlp/c_fc", d, 4 * d)], f"{scope}/mlp",
                 approximate="tanh")
        h = b.op("Add", [h, b.linear(m, f"{scope}/mlp/c_proj", 4 * d, d)], f"{scope}/mlp")
    h = b.layer_norm(h, "/ln_f", d)
    head = b.op("Transpose", [words], "/lm_head", perm=[1, 0])   # tied embeddings
    b.rename_output(b.op("MatMul", [h, head], "/lm_head"), "logits")
    kv = [1, cfg.heads, cfg.past, cfg.head_dim]
    inputs: dict[str, tuple[int, list[int | str]]] = {"input_ids": (I64, [1, 1])}
    for i in range(cfg.layers):
        inputs[f"past_key.{i}"] = (F32, kv)
        inputs[f"past_value.{i}"] = (F32, kv)
    model = b.model("gpt_step", inputs, outputs, opset=23)
    rng = np.random.default_rng(cfg.seed + 1)
    feeds: Feeds = {"input_ids": np.array([[7]], np.int64)}
    for i in range(cfg.layers):
        feeds[f"past_key.{i}"] = rng.standard_normal(kv).astype(np.float32)
        feeds[f"past_value.{i}"] = rng.standard_normal(kv).astype(np.float32)
    return model, feeds
