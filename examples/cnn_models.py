"""CNN example models, NCHW fp32, spelled as exporters emit them (Conv -> BatchNormalization ->
activation; inference-mode BN is left for the compiler to fold).

resnet(): a ResNet-18-style network (BasicBlocks, 3x3 stem with max pooling, GlobalAveragePool,
Flatten, Gemm head); `width` scales every stage.
mobilenet_v2(): MobileNetV2 (inverted residuals: 1x1 expand + ReLU6 (Clip), 3x3 depthwise + ReLU6,
1x1 project, residual Add) with a width multiplier; `zeros` prunes the pointwise (1x1) convs and
the classifier by magnitude (0.9: the 90%-pruned network), depthwise and the stem stay dense.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from graph_builder import F32, Feeds, GraphBuilder

MBV2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1))   # (expansion t, channels c, repeats n, stride s)


def _conv_bn(b: GraphBuilder, x: str, cin: int, cout: int, k: int, stride: int, scope: str,
             group: int = 1, act: str = "relu", zeros: float = 0.0) -> str:
    w = b.weight(f"{scope}.weight", (cout, cin // group, k, k), zeros=zeros)
    y = b.op("Conv", [x, w], scope, kernel_shape=[k, k], strides=[stride, stride],
             pads=[k // 2] * 4, group=group)
    stats = [b.const(f"{scope}.bn.{p}", v.astype(np.float32)) for p, v in (
        ("scale", b.rng.uniform(0.5, 1.5, cout)), ("bias", 0.1 * b.rng.standard_normal(cout)),
        ("mean", 0.1 * b.rng.standard_normal(cout)), ("var", b.rng.uniform(0.5, 1.5, cout)))]
    y = b.op("BatchNormalization", [y, *stats], f"{scope}/bn", epsilon=1e-5)
    if act == "relu":
        return b.op("Relu", [y], scope)
    if act == "relu6":
        return b.op("Clip", [y, b.scalar(f"{scope}.lo", 0.0), b.scalar(f"{scope}.hi", 6.0)], scope)
    return y


def _head(b: GraphBuilder, x: str, channels: int, classes: int, zeros: float = 0.0) -> str:
    pooled = b.op("Flatten", [b.op("GlobalAveragePool", [x], "/pool")], "/flatten", axis=1)
    w = b.weight("fc.weight", (classes, channels), channels, zeros=zeros)
    return b.op("Gemm", [pooled, w, b.vector("fc.bias", classes)], "/fc", transB=1)


@dataclass(frozen=True)
class ResNetConfig:
    image: int = 112
    width: int = 32          # stage channels: width, 2w, 4w, 8w
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    classes: int = 1000
    seed: int = 0


def resnet(cfg: ResNetConfig = ResNetConfig()) -> tuple[onnx.ModelProto, Feeds]:
    b = GraphBuilder(cfg.seed)
    x = _conv_bn(b, "input", 3, cfg.width, 3, 2, "/stem")
    x = b.op("MaxPool", [x], "/stem/pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    cin = cfg.width
    for stage, count in enumerate(cfg.blocks):
        cout = cfg.width * 2 ** stage
        for i in range(count):
            scope = f"/layer{stage + 1}.{i}"
            stride = 2 if i == 0 and stage > 0 else 1
            y = _conv_bn(b, x, cin, cout, 3, stride, f"{scope}/conv1")
            y = _conv_bn(b, y, cout, cout, 3, 1, f"{scope}/conv2", act="none")
            skip = x if stride == 1 and cin == cout else _conv_bn(
                b, x, cin, cout, 1, stride, f"{scope}/downsample", act="none")
            x = b.op("Relu", [b.op("Add", [y, skip], scope)], scope)
            cin = cout
    b.rename_output(_head(b, x, cin, cfg.classes), "logits")
    model = b.model("resnet", {"input": (F32, [1, 3, cfg.image, cfg.image])}, ["logits"], 17)
    feeds = {"input": np.random.default_rng(cfg.seed + 1)
             .standard_normal((1, 3, cfg.image, cfg.image)).astype(np.float32)}
    return model, feeds


@dataclass(frozen=True)
class MobileNetConfig:
    image: int = 224
    width: float = 1.0
    zeros: float = 0.0       # fraction of pointwise/classifier weights pruned
    classes: int = 1000
    seed: int = 0


def _channels(c: int, width: float) -> int:
    return max(8, int(c * width + 4) // 8 * 8)   # torchvision's _make_divisible by 8


def mobilenet_v2(cfg: MobileNetConfig = MobileNetConfig()) -> tuple[onnx.ModelProto, Feeds]:
    b = GraphBuilder(cfg.seed)
    cin = _channels(32, cfg.width)
    x = _conv_bn(b, "input", 3, cin, 3, 2, "/features.0", act="relu6")
    index = 1
    for t, c, n, s in MBV2_BLOCKS:
        cout = _channels(c, cfg.width)
        for i in range(n):
            scope, stride, hidden = f"/features.{index}", s if i == 0 else 1, cin * t
            y = x
            if t != 1:
                y = _conv_bn(b, y, cin, hidden, 1, 1, f"{scope}/expand", act="relu6",
                             zeros=cfg.zeros)
            y = _conv_bn(b, y, hidden, hidden, 3, stride, f"{scope}/dw", group=hidden,
                         act="relu6")
            y = _conv_bn(b, y, hidden, cout, 1, 1, f"{scope}/project", act="none",
                         zeros=cfg.zeros)
            x = b.op("Add", [x, y], scope) if stride == 1 and cin == cout else y
            cin, index = cout, index + 1
    last = _channels(1280, max(1.0, cfg.width))
    x = _conv_bn(b, x, cin, last, 1, 1, f"/features.{index}", act="relu6", zeros=cfg.zeros)
    b.rename_output(_head(b, x, last, cfg.classes, cfg.zeros), "logits")
    model = b.model("mobilenet_v2", {"input": (F32, [1, 3, cfg.image, cfg.image])}, ["logits"], 17)
    feeds = {"input": np.random.default_rng(cfg.seed + 1)
             .standard_normal((1, 3, cfg.image, cfg.image)).astype(np.float32)}
    return model, feeds
