"""Issue 9 benchmark: fp32 MatMul with a constant weight, onnxjit vs onnxruntime (MLAS) at 1 thread.

Shapes from transformer / SSM blocks: a Gated DeltaNet q/k/v projection (1024x512 x 512x1536), an
output projection (1024x512 x 512x512), the Mamba-1 in/out projections (1024x256 x 256x1024,
1024x512 x 512x256), a 256x1024 x 1024x512 projection, a decode GEMV
(1x4096 x 4096x4096) and a BERT-base FFN up-projection (128x768 x 768x3072). Both runtimes run on
the calling thread and are timed by its CPU time (time.thread_time) in interleaved rounds; the
ratio is the median of per-round ratios (> 1: onnxjit is faster), which survives a shared machine.

    python -m benchmarks.matmul [--shapes MxKxN,...] [--repeats N] [--batched]
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnxjit.runtime.compare import compare_with_onnxruntime

SHAPES = ((1024, 512, 1536), (1024, 512, 512), (1024, 256, 1024), (1024, 512, 256),
          (256, 1024, 512), (1, 4096, 4096), (128, 768, 3072))


def matmul_model(m: int, k: int, n: int, batched: bool = False, seed: int = 0) -> bytes:
    """Y = X @ W with W a constant initializer (what compile-time panel packing sees); `batched`:
    X is [1, M, K] as in a model's [batch, tokens, features] activations."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    node = helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm")
    lead = (1,) if batched else ()
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, (*lead, m, k))
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, (*lead, m, n))
    g = helper.make_graph([node], "matmul", [x], [y], [numpy_helper.from_array(w, "W")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _shape(text: str) -> tuple[int, int, int]:
    m, k, n = (int(v) for v in text.lower().split("x"))
    return m, k, n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default=",".join("x".join(map(str, s)) for s in SHAPES),
                    help="comma-separated MxKxN")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--batched", action="store_true", help="X as [1, M, K] (a model's activations)")
    args = ap.parse_args(argv)
    print(f"MatMul fp32, 1 thread, thread clock, load {os.getloadavg()[0]:.2f}"
          f"{', X [1, M, K]' if args.batched else ''}")
    print(f"{'shape MxKxN':>18} {'onnxjit ms':>11} {'ort ms':>9} {'GF/s jit':>9} {'GF/s ort':>9} "
          f"{'ratio':>6}")
    for text in args.shapes.split(","):
        m, k, n = _shape(text)
        rng = np.random.default_rng(1)
        x = rng.standard_normal(((1,) if args.batched else ()) + (m, k)).astype(np.float32)
        r = compare_with_onnxruntime(matmul_model(m, k, n, args.batched), threads=1, repeats=args.repeats,
                                     feeds={"X": x}, clock="thread").as_dict()
        flop = 2e-6 * m * k * n
        print(f"{text:>18} {r['onnxjit_ms']:11.3f} {r['onnxruntime_ms']:9.3f} "
              f"{flop / r['onnxjit_ms']:9.1f} {flop / r['onnxruntime_ms']:9.1f} "
              f"{r['speedup']:5.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
