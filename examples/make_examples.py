"""Builds the bundled example models (seeded, so every run writes the same bytes).

    python examples/make_examples.py            # writes examples/tiny_transformer.onnx

tiny_transformer.onnx: a 2-layer post-LN transformer encoder spelled the way PyTorch's exporter
emits one: MatMul+Add projections, Reshape/Transpose into heads (K transposed straight to
[b, h, d, s]), MatMul -> Div by sqrt(d) -> Add mask -> Softmax -> MatMul attention, residual Adds,
LayerNormalization, and a Gelu MLP. Input x: float32 [batch, 64, 64] ("batch" is symbolic).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 20        # Gelu is an ai.onnx op since opset 20
IR_VERSION = 10   # the newest IR version onnxruntime >= 1.20 loads
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Config:
    layers: int = 2
    seq: int = 64
    hidden: int = 64
    heads: int = 4
    ffn: int = 256
    seed: int = 0

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


class _Builder:
    """Collects nodes and initializers; names follow the exporter's '/scope/Op' style."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def weight(self, name: str, fan_in: int, fan_out: int) -> str:
        w = self.rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        return self.const(name, w.astype(np.float32))

    def vector(self, name: str, size: int, mean: float = 0.0, scale: float = 0.02) -> str:
        return self.const(name, (mean + scale * self.rng.standard_normal(size)).astype(np.float32))

    def op(self, op_type: str, inputs: list[str], scope: str, **attrs: object) -> str:
        name = f"{scope}/{op_type}"
        taken = sum(1 for n in self.nodes if n.name == name or n.name.startswith(name + "_"))
        if taken:
            name = f"{name}_{taken}"
        out = f"{name}_output_0"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out

    def linear(self, x: str, scope: str, fan_in: int, fan_out: int) -> str:
        w = self.weight(f"{scope}.weight", fan_in, fan_out)
        b = self.vector(f"{scope}.bias", fan_out)
        return self.op("Add", [self.op("MatMul", [x, w], scope), b], scope)

    def layer_norm(self, x: str, scope: str, size: int) -> str:
        scale = self.vector(f"{scope}.weight", size, mean=1.0, scale=0.05)
        bias = self.vector(f"{scope}.bias", size)
        return self.op("LayerNormalization", [x, scale, bias], scope, axis=-1, epsilon=1e-5)


def _attention(b: _Builder, x: str, mask: str, scope: str, cfg: Config) -> str:
    heads_shape = b.const(f"{scope}.heads_shape", np.array([0, 0, cfg.heads, cfg.head_dim], np.int64))
    merged_shape = b.const(f"{scope}.merged_shape", np.array([0, 0, cfg.hidden], np.int64))
    q, k, v = (b.op("Reshape", [b.linear(x, f"{scope}/{p}_proj", cfg.hidden, cfg.hidden),
                                heads_shape], f"{scope}/{p}_proj") for p in "qkv")
    q = b.op("Transpose", [q], f"{scope}/q_proj", perm=[0, 2, 1, 3])   # [b, h, s, d]
    k = b.op("Transpose", [k], f"{scope}/k_proj", perm=[0, 2, 3, 1])   # [b, h, d, s]
    v = b.op("Transpose", [v], f"{scope}/v_proj", perm=[0, 2, 1, 3])   # [b, h, s, d]
    scores = b.op("MatMul", [q, k], f"{scope}/scores")
    sqrt_d = b.const(f"{scope}.sqrt_head_dim", np.array(np.sqrt(cfg.head_dim), np.float32))
    scores = b.op("Div", [scores, sqrt_d], f"{scope}/scores")
    scores = b.op("Add", [scores, mask], f"{scope}/scores")
    probs = b.op("Softmax", [scores], f"{scope}/probs", axis=-1)
    context = b.op("MatMul", [probs, v], f"{scope}/context")
    context = b.op("Transpose", [context], f"{scope}/context", perm=[0, 2, 1, 3])
    context = b.op("Reshape", [context, merged_shape], f"{scope}/context")
    return b.linear(context, f"{scope}/out_proj", cfg.hidden, cfg.hidden)


def tiny_transformer(cfg: Config = Config()) -> onnx.ModelProto:
    b = _Builder(cfg.seed)
    # A causal mask as an additive bias, broadcast over batch and heads.
    causal = np.triu(np.full((cfg.seq, cfg.seq), -1e4, np.float32), k=1)
    mask = b.const("causal_mask", causal)
    h = "x"
    for i in range(cfg.layers):
        scope = f"/layers.{i}"
        attn = _attention(b, h, mask, f"{scope}/attn", cfg)
        h = b.layer_norm(b.op("Add", [h, attn], f"{scope}/attn_residual"), f"{scope}/norm1",
                         cfg.hidden)
        ff = b.linear(h, f"{scope}/mlp/fc1", cfg.hidden, cfg.ffn)
        ff = b.op("Gelu", [ff], f"{scope}/mlp")
        ff = b.linear(ff, f"{scope}/mlp/fc2", cfg.ffn, cfg.hidden)
        h = b.layer_norm(b.op("Add", [h, ff], f"{scope}/mlp_residual"), f"{scope}/norm2",
                         cfg.hidden)
    b.nodes[-1].output[0] = "y"  # the last LayerNormalization writes the graph output
    graph = helper.make_graph(
        b.nodes, "tiny_transformer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", cfg.seq, cfg.hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", cfg.seq, cfg.hidden])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="onnxjit/examples/make_examples.py")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE)
    args = parser.parse_args()
    path = args.out_dir / "tiny_transformer.onnx"
    onnx.save(tiny_transformer(), path)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
