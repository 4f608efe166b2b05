"""onnxjit: compile ONNX models to tuned TVM kernels and run them.

    import onnxjit
    sess = onnxjit.InferenceSession("model.onnx", target="cpu", threads=1)
    outputs = sess.run(None, {"x": x})
"""
from __future__ import annotations

__version__ = "0.1.0"

from onnxjit.compiler.errors import (  # noqa: E402
    BuildError, InputError, LoweringError, ModelLoadError, OnnxJitError, UnsupportedOpsError,
)
from onnxjit.runtime.session import InferenceSession, NodeArg  # noqa: E402
from onnxjit.runtime.artifact_session import load  # noqa: E402

__all__ = [
    "__version__", "InferenceSession", "NodeArg", "load", "OnnxJitError", "ModelLoadError",
    "UnsupportedOpsError", "LoweringError", "InputError", "BuildError",
]
