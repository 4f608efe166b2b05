"""Every op lowering, one module per op (or op family); importing this package registers them."""
from __future__ import annotations

from onnxjit.compiler.ops import (  # noqa: F401
    binary, gelu, gemm, layer_norm, matmul, reduce, reshape, rms_norm, softmax)
from onnxjit.compiler.ops import (  # noqa: F401
    cast, clip, concat, expand, flatten, gather, identity, slice, split, squeeze, transpose, unary,
    unsqueeze, where)
from onnxjit.compiler.ops import attention, attention_contrib, attention_core  # noqa: F401
from onnxjit.compiler.ops import cumsum  # noqa: F401
from onnxjit.compiler.ops import scan  # noqa: F401
from onnxjit.compiler.ops import batch_norm, conv, direct_conv, pool, winograd_conv  # noqa: F401
from onnxjit.compiler.ops import expand_dw  # noqa: F401
from onnxjit.compiler.ops import linear_scan  # noqa: F401
from onnxjit.compiler.ops import causal_conv  # noqa: F401
from onnxjit.compiler.ops import linear_attention  # noqa: F401
from onnxjit.compiler.ops import compare, variadic  # noqa: F401
from onnxjit.compiler.ops import (  # noqa: F401
    activation, arg_reduce, dropout, einsum, gather_elements, mod, pad, range, resize,
    rotary_embedding, scatter_nd, tile, topk, trilu)
from onnxjit.compiler.ops import depth_space, group_norm, instance_norm  # noqa: F401
from onnxjit.compiler.ops import fast_gelu, prelu  # noqa: F401
from onnxjit.compiler.ops import conv_transpose  # noqa: F401
from onnxjit.compiler.ops import phase_interleave  # noqa: F401
