"""ConvTranspose, onnxjit vs onnxruntime side by side (runtime/compare.py: same feeds, fp32, N=1,
1 thread, interleaved rounds, median of per-round ratios).

Rows (all with bias): U-Net's up-convolution (2x2 stride 2, C128 -> 64 at 28x28), DCGAN's
generator layer (4x4 stride 2 pad 1, C256 -> 128 at 16x16), torch's ConvTranspose2d(3, stride 2,
pad 1, output_padding 1), a stride-1 3x3, a HiFi-GAN 1-d upsampler (k16 s8 p4) and a 3-d
U-Net up-convolution (2x2x2 stride 2, C32 -> 16 at 12^3).

    python -m benchmarks.conv_transpose [--rows NAME,...] [--repeats N] [--clock wall|thread]
"""
from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxjit.runtime.compare import compare_with_onnxruntime

ROWS = {  # name: (C, M, H, k, stride, pad, output_padding, rank)
    "unet_up_2x2s2_c128_28": (128, 64, 28, 2, 2, 0, 0, 2),
    "dcgan_4x4s2p1_c256_16": (256, 128, 16, 4, 2, 1, 0, 2),
    "torch_3x3s2p1op1_c64_56": (64, 32, 56, 3, 2, 1, 1, 2),     # ConvTranspose2d(3, 2, 1, 1)
    "stride1_3x3p1_c64_56": (64, 64, 56, 3, 1, 1, 0, 2),
    "hifigan_1d_16s8p4_c512_64": (512, 256, 64, 16, 8, 4, 0, 1),  # vocoder upsampler
    "unet3d_up_2x2x2s2_c32_12": (32, 16, 12, 2, 2, 0, 0, 3),     # 3-d U-Net up-conv
}


def model(c: int, m: int, h: int, k: int, stride: int, pad: int, output_padding: int = 0, rank: int = 2,
          seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((c, m, *[k] * rank)) / np.sqrt(c * k ** rank)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["X", "W", "B"], ["Y"], strides=[stride] * rank,
                            pads=[pad] * (2 * rank), output_padding=[output_padding] * rank)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, (1, c, *[h] * rank))
    g = helper.make_graph([node], "convt", [x],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    out = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    out.ir_version = 8
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", default="thread", choices=("wall", "thread"))
    args = parser.parse_args()
    for name in args.rows.split(","):
        r = compare_with_onnxruntime(model(*ROWS[name]).SerializeToString(), threads=1,
                                     repeats=args.repeats, clock=args.clock)
        print(f"{name:26s} onnxjit {r.onnxjit_ms:8.3f} ms  onnxruntime {r.onnxruntime_ms:8.3f} ms  "
              f"speedup {r.speedup:5.2f}x  rel_err {r.rel_err:.1e}", flush=True)


if __name__ == "__main__":
    main()
