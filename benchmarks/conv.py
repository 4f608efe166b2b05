"""Issue 4 benchmark: dense and sparse convolution, onnxjit vs onnxruntime side by side.

Builds the issue's models (seeded): single Convs (1x1 C256 at 56x56 / 14x14, 3x3 C128 at 28x28;
pruned unstructured or in 4x1 output-channel blocks), pruned linear layers (Gemm / MatMul; goal
1.0: "never slower than dense") and a MobileNetV2-style network (17 inverted
residual blocks, 224x224, BatchNormalization after every conv, ReLU6 as Clip) with its pointwise
weights pruned. Each row is one runtime/compare.py run: same feeds, fp32, N=1, 1 thread, interleaved
rounds; NCHW in and out, so any layout change onnxjit makes is inside the timed call.

    python -m benchmarks.conv [--rows NAME,...] [--repeats N] [--clock wall|thread]
                              [--json out.json]

--clock thread times both runtimes by the calling thread's CPU time (time.thread_time; both run
on that thread at 1 thread) in interleaved rounds: on a machine shared with other jobs it leaves out
the time the thread waits descheduled, which wall-clock medians cannot (cache interference stays).
Either clock, the speedup is the median of per-round ratios (runtime/compare.py).

Feeds are plain numpy arrays (16-byte aligned), which onnxjit's kernels read in place.
"""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxjit.runtime.compare import compare_with_onnxruntime

COMMAND = "python -m benchmarks.conv"
MBV2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1))


def prune(w: np.ndarray, zeros: float, pattern: str, rng: np.random.Generator) -> np.ndarray:
    """An exact fraction of zeros; "4x1": whole blocks of 4 consecutive output channels."""
    if zeros <= 0:
        return w
    co = w.shape[0]
    shape = (co // 4, *w.shape[1:]) if pattern == "4x1" else w.shape
    n = int(np.prod(shape))
    keep = np.zeros(n, bool)
    keep[rng.choice(n, int(round(n * (1 - zeros))), replace=False)] = True
    keep = keep.reshape(shape)
    if pattern == "4x1":
        keep = np.repeat(keep, 4, axis=0)
    return (w * keep).astype(np.float32)


def _model(nodes: list, inits: list, x_shape: tuple[int, ...], out: str) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "bench", [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def single_conv(c: int, m: int, hw: int, k: int, zeros: float, pattern: str, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    w = prune(w, zeros, pattern, rng)
    node = helper.make_node("Conv", ["X", "W"], ["Y"], pads=[k // 2] * 4, name="conv")
    return _model([node], [numpy_helper.from_array(w, "W")], (1, c, hw, hw), "Y")


def linear(m: int, k: int, n: int, zeros: float, seed: int = 5) -> onnx.ModelProto:
    """A pruned linear layer: Gemm (bias, transB) at M = 1, MatMul otherwise."""
    rng = np.random.default_rng(seed)
    w = prune((rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32), zeros, "u", rng)
    if m == 1:
        node = helper.make_node("Gemm", ["X", "W", "B"], ["Y"], transB=1, name="fc")
        inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.zeros(n, np.float32), "B")]
    else:
        node = helper.make_node("MatMul", ["X", "W"], ["Y"], name="fc")
        inits = [numpy_helper.from_array(np.ascontiguousarray(w.T), "W")]
    return _model([node], inits, (m, k), "Y")


def mobilenet_v2(zeros: float, pattern: str, seed: int = 3) -> onnx.ModelProto:
    """MobileNetV2-1.0 at 224x224 with BN after each conv; pointwise convs pruned."""
    rng = np.random.default_rng(seed)
    nodes: list = []
    inits = [numpy_helper.from_array(np.array(0, np.float32), "c0"),
             numpy_helper.from_array(np.array(6, np.float32), "c6")]

    def conv(x: str, cin: int, cout: int, k: int, s: int, g: int, act: bool, name: str, pw: bool) -> str:
        w = (rng.standard_normal((cout, cin // g, k, k)) / np.sqrt(cin // g * k * k)).astype(np.float32)
        if pw:
            w = prune(w, zeros, pattern, rng)
        inits.append(numpy_helper.from_array(w, name + "_w"))
        nodes.append(helper.make_node("Conv", [x, name + "_w"], [name + "_c"], name=name,
                                      kernel_shape=[k, k], strides=[s, s], pads=[k // 2] * 4, group=g))
        bn = [(rng.random(cout) + 0.5), 0.1 * rng.standard_normal(cout), 0.1 * rng.standard_normal(cout),
              rng.random(cout) + 0.5]
        names = [f"{name}_{p}" for p in ("s", "b", "m", "v")]
        inits.extend(numpy_helper.from_array(a.astype(np.float32), n) for a, n in zip(bn, names))
        nodes.append(helper.make_node("BatchNormalization", [name + "_c", *names], [name + "_y"], name=name + "_bn"))
        y = name + "_y"
        if act:
            nodes.append(helper.make_node("Clip", [y, "c0", "c6"], [name + "_r"], name=name + "_relu6"))
            y = name + "_r"
        return y

    x = conv("X", 3, 32, 3, 2, 1, True, "conv0", False)
    cin, bi = 32, 0
    for t, c, n, s in MBV2_BLOCKS:
        for i in range(n):
            stride = s if i == 0 else 1
            inp, hid = x, cin * t
            if t != 1:
                x = conv(x, cin, hid, 1, 1, 1, True, f"b{bi}_expand", True)
            x = conv(x, hid, hid, 3, stride, hid, True, f"b{bi}_dw", False)
            x = conv(x, hid, c, 1, 1, 1, False, f"b{bi}_project", True)
            if stride == 1 and cin == c:
                nodes.append(helper.make_node("Add", [inp, x], [f"b{bi}_add"], name=f"b{bi}_add"))
                x = f"b{bi}_add"
            cin, bi = c, bi + 1
    x = conv(x, 320, 1280, 1, 1, 1, True, "conv_last", True)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"))
    inits.append(numpy_helper.from_array((rng.standard_normal((1000, 1280)) / 36).astype(np.float32), "fc_w"))
    inits.append(numpy_helper.from_array(np.zeros(1000, np.float32), "fc_b"))
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["Y"], name="fc", transB=1))
    return _model(nodes, inits, (1, 3, 224, 224), "Y")


ROWS: dict[str, tuple[Callable[[], onnx.ModelProto], float]] = {   # name -> (model, goal)
    "1x1 C256 56² dense": (lambda: single_conv(256, 256, 56, 1, 0.0, "u"), 0.95),
    "1x1 C256 56² 70%": (lambda: single_conv(256, 256, 56, 1, 0.7, "u"), 1.2),
    "1x1 C256 56² 90%": (lambda: single_conv(256, 256, 56, 1, 0.9, "u"), 4.0),
    "1x1 C256 56² 95%": (lambda: single_conv(256, 256, 56, 1, 0.95, "u"), 8.0),
    "1x1 C256 56² 90% 4x1": (lambda: single_conv(256, 256, 56, 1, 0.9, "4x1"), 8.0),
    "1x1 C256 14² 90%": (lambda: single_conv(256, 256, 14, 1, 0.9, "u"), 3.0),
    "3x3 C128 28² dense": (lambda: single_conv(128, 128, 28, 3, 0.0, "u"), 0.95),
    "3x3 C128 28² 90%": (lambda: single_conv(128, 128, 28, 3, 0.9, "u"), 2.5),
    "Gemm 1x1280→1000 90%": (lambda: linear(1, 1280, 1000, 0.9), 1.0),
    "MatMul 128x768→768 90%": (lambda: linear(128, 768, 768, 0.9), 1.0),
    "MatMul 128x768→768 70%": (lambda: linear(128, 768, 768, 0.7), 1.0),
    "MobileNetV2 dense": (lambda: mobilenet_v2(0.0, "u"), 1.0),
    "MobileNetV2 pw 90%": (lambda: mobilenet_v2(0.9, "u"), 2.0),
    "MobileNetV2 pw 90% 4x1": (lambda: mobilenet_v2(0.9, "4x1"), 2.5),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="", help="comma-separated row names (default: all)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--clock", choices=("wall", "thread"), default="wall")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    names = [r.strip() for r in args.rows.split(",") if r.strip()] or list(ROWS)
    load = os.getloadavg()[0]
    print(f"| case | onnxjit ms | onnxruntime ms | speedup | goal | rel_err |  "
          f"(load {load:.2f}, 1 thread, numpy feeds, {args.clock} clock)")
    print("|---|---|---|---|---|---|")
    results = []
    for name in names:
        build, goal = ROWS[name]
        model = build()
        r = compare_with_onnxruntime(model.SerializeToString(), threads=1, repeats=args.repeats,
                                     clock=args.clock).as_dict()
        results.append({"case": name, "goal": goal, **r, "load": os.getloadavg()[0]})
        print(f"| {name} | {r['onnxjit_ms']:.3f} | {r['onnxruntime_ms']:.3f} | {r['speedup']:.2f}x | "
              f"≥{goal} | {r['rel_err']:.1e} |", flush=True)
    print(f"command: {COMMAND}" + (f" --rows '{args.rows}'" if args.rows else "")
          + (" --clock thread" if args.clock == "thread" else ""))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
