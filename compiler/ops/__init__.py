"""Every op lowering, one module per op (or op family); importing this package registers them."""
from __future__ import annotations

from onnxjit.compiler.ops import binary, matmul, reshape, softmax  # noqa: F401
from onnxjit.compiler.ops import cumsum  # noqa: F401
