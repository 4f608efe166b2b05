"""The example models by name, each at two sizes: `ci` (small: seconds to compile and run, for
tests) and `bench` (the benchmark's size, benchmarks/models.py). Built in memory with onnx.helper
from fixed seeds; nothing needs torch.

    python examples/models.py OUT_DIR [--size ci|bench] [--models bert,resnet,...]

writes OUT_DIR/<name>.onnx and OUT_DIR/<name>.npz (the feeds) for `onnxjit bench/compile`.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling builder modules

from cnn_models import MobileNetConfig, ResNetConfig, mobilenet_v2, resnet  # noqa: E402
from graph_builder import Feeds  # noqa: E402
from ssm_models import DeltaNetConfig, MambaConfig, gated_deltanet, mamba1  # noqa: E402
from transformer_models import BertConfig, GptConfig, bert, gpt_step  # noqa: E402

Builder = Callable[[], "tuple[onnx.ModelProto, Feeds]"]


@dataclass(frozen=True)
class Example:
    title: str
    ci: Builder
    bench: Builder
    goal: float          # issue 9's speedup goal over onnxruntime (1 thread, after tuning)


EXAMPLES: dict[str, Example] = {
    "bert": Example(
        "BERT-style encoder, 2 layers, H256, S128",
        lambda: bert(BertConfig(layers=1, seq=16, hidden=32, heads=2, ffn=64, vocab=64)),
        lambda: bert(BertConfig()), 1.1),
    "gpt_step": Example(
        "GPT-style decoder step, 2 layers, H512, KV cache 255",
        lambda: gpt_step(GptConfig(layers=1, hidden=32, heads=2, past=7, vocab=64)),
        lambda: gpt_step(GptConfig()), 1.0),
    "gated_deltanet": Example(
        "Gated DeltaNet block, D512, H8x64, T1024",
        lambda: gated_deltanet(DeltaNetConfig(seq=16, hidden=32, heads=2, head_dim=8)),
        lambda: gated_deltanet(DeltaNetConfig()), 2.5),
    "mamba1": Example(
        "Mamba-1 block, D256, Di512, N16, L1024",
        lambda: mamba1(MambaConfig(seq=16, hidden=16, state=4, dt_rank=4)),
        lambda: mamba1(MambaConfig()), 5.0),
    "resnet": Example(
        "ResNet-18-style CNN, width 32, 112x112",
        lambda: resnet(ResNetConfig(image=32, width=8, blocks=(1, 1), classes=10)),
        lambda: resnet(ResNetConfig()), 1.0),
    "mobilenet_v2": Example(
        "MobileNetV2-1.0, 224x224, dense",
        lambda: mobilenet_v2(MobileNetConfig(image=32, width=0.25, classes=10)),
        lambda: mobilenet_v2(MobileNetConfig()), 1.0),
    "mobilenet_v2_pruned": Example(
        "MobileNetV2-1.0, 224x224, 90% of pointwise weights pruned",
        lambda: mobilenet_v2(MobileNetConfig(image=32, width=0.25, classes=10, zeros=0.9)),
        lambda: mobilenet_v2(MobileNetConfig(zeros=0.9)), 2.0),
}


def build(name: str, size: str = "ci") -> tuple[onnx.ModelProto, Feeds]:
    example = EXAMPLES[name]
    return (example.ci if size == "ci" else example.bench)()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write the example models and their feeds")
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", choices=("ci", "bench"), default="bench")
    parser.add_argument("--models", default=",".join(EXAMPLES))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        model, feeds = build(name, args.size)
        onnx.save(model, args.out / f"{name}.onnx")
        np.savez(args.out / f"{name}.npz", **feeds)
        print(f"wrote {args.out / name}.onnx ({model.ByteSize() / 2**20:.1f} MiB) and .npz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
