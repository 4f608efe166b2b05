"""The foundation acceptance model: MatMul (constant weight) -> Add bias -> Gelu ->
LayerNormalization -> Softmax, fp32, built with onnx.helper from a fixed seed.

    python benchmarks/foundation_model.py foundation.onnx [--m 1024 --k 1024 --n 1024 --seed 0]
"""
from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 21  # Gelu needs 20, LayerNormalization 17; onnxruntime supports 21


def build(m: int = 1024, k: int = 1024, n: int = 1024, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    weights = {
        "W": (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32),
        "bias": (0.1 * rng.standard_normal(n)).astype(np.float32),
        "gamma": (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32),
        "beta": (0.1 * rng.standard_normal(n)).astype(np.float32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "bias"], ["biased"], name="add_bias"),
        helper.make_node("Gelu", ["biased"], ["act"], name="gelu"),
        helper.make_node("LayerNormalization", ["act", "gamma", "beta"], ["norm"], name="ln",
                         axis=-1, epsilon=1e-5),
        helper.make_node("Softmax", ["norm"], ["y"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "foundation",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        [numpy_helper.from_array(v, name) for name, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="onnxjit-benchmarks")
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="where to save the .onnx file")
    parser.add_argument("--m", type=int, default=1024)
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    onnx.save(build(args.m, args.k, args.n, args.seed), args.path)
    print(f"saved {args.path} (x: float32[{args.m}, {args.k}] -> y: float32[{args.m}, {args.n}])")


if __name__ == "__main__":
    main()
