"""PyTorch (CUDA) equivalents of some gpu_bench rows: a second, independent GPU baseline for
machines whose onnxruntime has no CUDAExecutionProvider. Each row is an upload (host feeds to
device tensors) and a compute (device tensors to a device result), so it can be timed like the
onnxruntime contender (host arrays in and out: all pay the same copies) or on the device alone."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper


@dataclass(frozen=True)
class TorchRow:
    upload: Callable[[dict[str, np.ndarray]], tuple[Any, ...]]
    compute: Callable[..., Any]
    synchronize: Callable[[], None]

    def __call__(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [self.compute(*self.upload(feeds)).cpu().numpy()]


def _uploader(torch: Any, names: tuple[str, ...]) -> Callable:
    return lambda feeds: tuple(torch.from_numpy(feeds[n]).cuda() for n in names)


def _attention(model: onnx.ModelProto, torch: Any) -> tuple[Callable, Callable]:
    causal = bool(onnx.helper.get_attribute_value(model.graph.node[0].attribute[0]))
    sdpa = torch.nn.functional.scaled_dot_product_attention
    return (_uploader(torch, ("q", "k", "v")),
            lambda q, k, v: sdpa(q, k, v, is_causal=causal, enable_gqa=q.shape[1] != k.shape[1]))


def _matmul_softmax(model: onnx.ModelProto, torch: Any) -> tuple[Callable, Callable]:
    return _uploader(torch, ("a", "b")), lambda a, b: torch.softmax(a @ b, dim=-1)


def _cumsum(model: onnx.ModelProto, torch: Any) -> tuple[Callable, Callable]:
    return _uploader(torch, ("x",)), lambda x: torch.cumsum(x, dim=0)


def _conv(model: onnx.ModelProto, torch: Any) -> tuple[Callable, Callable]:
    w = torch.from_numpy(numpy_helper.to_array(model.graph.initializer[0]).copy()).cuda()
    conv2d = torch.nn.functional.conv2d
    return _uploader(torch, ("X",)), lambda x: conv2d(x, w, padding=w.shape[-1] // 2)


BUILDERS: dict[str, Callable[[onnx.ModelProto, Any], tuple[Callable, Callable]]] = {
    "attention_nc2048": _attention, "attention_c2048": _attention, "attention_decode": _attention,
    "matmul_softmax": _matmul_softmax, "cumsum": _cumsum,
    "sparse_conv_1x1": _conv, "sparse_conv_3x3": _conv, "dense_conv_3x3": _conv,
}


def torch_contender(row: str, model: onnx.ModelProto) -> TorchRow | None:
    """The row's PyTorch version on the GPU, or None (no such row, no torch, or no CUDA device)."""
    if row not in BUILDERS:
        return None
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    # fp32 means fp32 here, as in onnxjit and onnxruntime: no TF32 matrix units.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    upload, compute = BUILDERS[row](model, torch)
    return TorchRow(upload, compute, torch.cuda.synchronize)
