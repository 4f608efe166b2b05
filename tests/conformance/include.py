"""THE one place that says which onnx backend node tests (onnx 1.23 wheel) run through onnxjit.

- OPS: per op, a regex over test names (without the `_cpu` suffix) selecting that op's tests,
  `_expanded` variants included (the op replaced by its function body: the decomposed spelling an
  exporter may emit). benchmarks/conformance_report.py checks each regex against the op the test's
  model actually contains, so a regex can neither miss a test nor catch another op's.
- EXCLUDED: tests of those ops that do not run, each with a one-line reason. Nothing else is skipped,
  except at run time a test whose model needs an op with no registered lowering yet (the skip names
  the op; the report counts these as "no lowering").
- KNOWN_FAILURES: tests that run and fail today, each with its cause and owner file; they are
  strict xfails, so a fix makes the test XPASS -> fail until the entry is removed here.
- COMPILE_TIME_INPUTS: operands onnxjit needs at compile time (shapes, axes, bounds). Exporters emit
  them as initializers; conformance models make them graph inputs, so the harness compiles the test's
  values in as constants (OnnxJitBackend's `bind_inputs`).
"""
from __future__ import annotations

import re

OPS: dict[str, str] = {
    "Add": r"^test_add(_bcast|_u?int(8|16|32|64))?$",
    "Sub": r"^test_sub(_bcast|_example|_u?int(8|16|32|64))?$",
    "Mul": r"^test_mul(_bcast|_example|_u?int(8|16|32|64))?$",
    "Div": r"^test_div(_bcast|_example|_u?int(8|16|32|64)|_int32_trunc)?$",
    "Pow": r"^test_pow(_bcast_array|_bcast_scalar|_example|_types_\w+)?$",
    "Neg": r"^test_neg(_example)?$",
    "Abs": r"^test_abs$",
    "Exp": r"^test_exp(_example)?$",
    "Log": r"^test_log(_example)?$",
    "Sqrt": r"^test_sqrt(_example)?$",
    "Reciprocal": r"^test_reciprocal(_example)?$",
    "Relu": r"^test_relu(_expanded_ver18)?$",
    "Sigmoid": r"^test_sigmoid(_example)?$",
    "Tanh": r"^test_tanh(_example)?$",
    "Erf": r"^test_erf$",
    "Gelu": r"^test_gelu_(default|tanh)_\d(_expanded)?$",
    "Softplus": r"^test_softplus(_example)?(_expanded_ver18)?$",
    "Clip": r"^test_clip(_\w+)?$",
    "Where": r"^test_where_(long_)?example$",
    "Cast": r"^test_cast_\w+$",
    "MatMul": r"^test_matmul_\w+$",
    "Gemm": r"^test_gemm_\w+$",
    "Softmax": r"^test_softmax_\w+$",
    "LogSoftmax": r"^test_logsoftmax_\w+$",
    "ReduceSum": r"^test_reduce_sum_(?!square_)\w+$",
    "ReduceMean": r"^test_reduce_mean_\w+$",
    "ReduceMax": r"^test_reduce_max_\w+$",
    "LayerNormalization": r"^test_layer_normalization_\w+$",
    "RMSNormalization": r"^test_rms_normalization_\w+$",
    "Reshape": r"^test_reshape_\w+$",
    "Transpose": r"^test_transpose_\w+$",
    "Concat": r"^test_concat_\w+$",
    "Split": r"^test_split_(?!to_sequence_)\w+$",
    "Slice": r"^test_slice(_\w+)?$",
    "Gather": r"^test_gather_(\d|2d_indices|negative_indices)\w*$",
    "Squeeze": r"^test_squeeze(_negative_axes)?$",
    "Unsqueeze": r"^test_unsqueeze_\w+$",
    "Expand": r"^test_expand_dim_\w+$",
    "Identity": r"^test_identity(_\w+)?$",
    "Constant": r"^test_constant$",
    "Shape": r"^test_shape(_\w+)?$",
    "ConstantOfShape": r"^test_constantofshape_\w+$",
    "Max": r"^test_max_\w+$",
    "Min": r"^test_min_\w+$",
    "Sum": r"^test_sum_\w+$",
    "Mean": r"^test_mean_\w+$",
    "Equal": r"^test_equal(_\w+)?$",
    "Less": r"^test_less(_bcast|_u?int(8|16|32|64))?$",
    "LessOrEqual": r"^test_less_equal\w*$",
    "Greater": r"^test_greater(_bcast|_u?int(8|16|32|64))?$",
    "GreaterOrEqual": r"^test_greater_equal\w*$",
    "Not": r"^test_not_\dd$",
    "And": r"^test_and(\dd|_bcast\w+)$",
    "Or": r"^test_or(\dd|_bcast\w+)$",
    "Xor": r"^test_xor(\dd|_bcast\w+)$",
    "Conv": r"^test_(basic_conv_with|basic_conv_without|conv_with)_\w+$",
    "ConvTranspose": r"^test_convtranspose(_\w+)?$",
    "MaxPool": r"^test_maxpool_\w+$",
    "AveragePool": r"^test_averagepool_\w+$",
    "GlobalAveragePool": r"^test_globalaveragepool(_precomputed)?$",
    "GlobalMaxPool": r"^test_globalmaxpool(_precomputed)?$",
    "BatchNormalization": r"^test_batchnorm_\w+$",
    "InstanceNormalization": r"^test_instancenorm_\w+$",
    "GroupNormalization": r"^test_group_normalization_\w+$",
    "DepthToSpace": r"^test_depthtospace_\w+$",
    "SpaceToDepth": r"^test_spacetodepth(_\w+)?$",
    "Attention": r"^test_attention_\w+$",
    "CumSum": r"^test_cumsum_\w+$",
    "Scan": r"^test_scan(9)?_\w+$",
    "Loop": r"^test_loop\d+\w*$",
    "LinearAttention": r"^test_linear_attention_\w+$",
    "CausalConvWithState": r"^test_causal_conv_with_state_\w+$",
    # whole-model op coverage (issue 9)
    "Range": r"^test_range_\w+$",
    "Tile": r"^test_tile(_precomputed)?$",
    "Pad": r"^test_(constant|edge|reflect|wrap)_pad(_\w+)?$",
    "Resize": r"^test_resize_\w+$",
    "Einsum": r"^test_einsum_\w+$",
    "ArgMax": r"^test_argmax_\w+$",
    "ArgMin": r"^test_argmin_\w+$",
    "TopK": r"^test_top_k(_\w+)?$",
    "HardSigmoid": r"^test_hardsigmoid(_\w+)?$",
    "HardSwish": r"^test_hardswish(_expanded)?$",
    "LeakyRelu": r"^test_leakyrelu(_\w+)?$",
    "Elu": r"^test_elu(_\w+)?$",
    "Selu": r"^test_selu(_\w+)?$",
    "PRelu": r"^test_prelu_\w+$",
    "Mish": r"^test_mish(_expanded)?$",
    "Dropout": r"^test_(training_)?dropout\w*$",
    "RotaryEmbedding": r"^test_rotary_embedding\w*$",
    "Trilu": r"^test_tri[lu](_\w+)?$",
    "ScatterND": r"^test_scatternd\w*$",
    "GatherElements": r"^test_gather_elements_\w+$",
    "Flatten": r"^test_flatten_\w+$",
    "Mod": r"^test_mod_\w+$",
    "Floor": r"^test_floor(_example)?$",
    "Ceil": r"^test_ceil(_example)?$",
    "Round": r"^test_round$",
    "Sin": r"^test_sin(_example)?$",
    "Cos": r"^test_cos(_example)?$",
}

_FLOAT8 = "float8 (e4m3/e5m2 and FNUZ/E8M0 variants): not in onnxjit's dtype set; TVM has no float8 CPU arithmetic"
_SUB_BYTE = "packed sub-byte dtype (int4/uint4/int2/uint2/float4e2m1): not in onnxjit's dtype set"

EXCLUDED: dict[str, str] = {
    r"^test_cast_(no_saturate_|e8m0_)?\w*FLOAT8": _FLOAT8,
    r"^test_cast_\w*(U?INT[24]|FLOAT4E2M1)(_|$)": _SUB_BYTE,
    r"^test_equal_string(_broadcast)?$": "string tensors: onnxjit compiles numeric and bool tensors only",
    r"^test_identity_opt$": "optional type input (optional(tensor)): onnxjit compiles tensors only",
    r"^test_identity_sequence$": "sequence type input (seq(tensor)): onnxjit compiles tensors only",
    r"^test_batchnorm_\w+_training_mode$": "BatchNormalization training mode (batch statistics, running-stat outputs): onnxjit compiles inference graphs",
    r"^test_training_dropout(_default)?(_mask)?$": "Dropout training mode (random mask): onnxjit compiles inference graphs",
    r"^test_resize_\w*cubic\w*$": "Resize mode=cubic: not implemented (compiler/ops/resize.py does nearest and linear)",
    r"^test_resize_\w*antialias$": "Resize antialias=1: not implemented (compiler/ops/resize.py)",
    r"^test_resize_tf_crop_and_resize\w*$": "Resize tf_crop_and_resize (roi, extrapolation): not implemented (compiler/ops/resize.py)",
}

# test-name regex -> "cause (owner file)". Filled from conformance runs; see module docstring.
KNOWN_FAILURES: dict[str, str] = {
    # foundation set
    r"^test_causal_conv_with_state_kernel_size_one$": "k=1 makes present_state zero-size: CausalConvWithState's kernel cannot return an empty state (compiler/ops/causal_conv.py)",
    r"^test_causal_conv_with_state_silu_fp16_expanded$": "the float16 SiLU decomposition (Sigmoid, Mul in fp16) misses the reference's tolerance; the fused op passes (fp16 element-wise ops)",
    r"^test_range_\w+_expanded$": "the expanded Range is a Loop whose trip count is computed from the (bound) inputs by ops the harness does not bind: Loop needs a compile-time trip count (compiler/ops/scan.py)",
    r"^test_loop11$": "body Slice with iteration-dependent starts: Slice needs constant starts (compiler/ops/slice.py)",
    r"^test_attention_4d_((causal_)?fp16|gqa_causal_nonpad_decode_fp16|gqa_with_past_and_present_fp16)_expanded$": "decomposed fp16 graph: generic Softmax/MatMul keep fp32 intermediates, 1.2-1.4e-3 from the reference's fp16 steps (> rtol 1e-3) (compiler/ops/softmax.py)",
}

# Ops whose conformance tests are also marked `slow` (CI runs them with -m slow): long to compile
# and run, kept out of the default command. Times: benchmarks/conformance_report.py's "run s".
SLOW_OPS: frozenset[str] = frozenset({"Attention", "LinearAttention", "CausalConvWithState"})

# op type -> input positions that must be compile-time constants in onnxjit.
COMPILE_TIME_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,),
    "Expand": (1,),
    "Slice": (1, 2, 3, 4),
    "Split": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "ConstantOfShape": (0,),
    "ReduceSum": (1,),
    "ReduceMean": (1,),
    "ReduceMax": (1,),
    "Loop": (0, 1),
    "Range": (0, 1, 2),
    "Tile": (1,),
    "Pad": (1, 3),
    "Resize": (1, 2, 3),
    "TopK": (1,),
    "Dropout": (1, 2),
}

_OP_RES = {op: re.compile(rx) for op, rx in OPS.items()}


def op_of(test_name: str) -> str | None:
    """The op whose regex selects this test (None: not a foundation-set test)."""
    name = test_name.removesuffix("_cpu")
    for op, rx in _OP_RES.items():
        if rx.search(name):
            return op
    return None


def _first_reason(table: dict[str, str], test_name: str) -> str | None:
    name = test_name.removesuffix("_cpu")
    return next((why for rx, why in table.items() if re.search(rx, name)), None)


def exclusion_reason(test_name: str) -> str | None:
    return _first_reason(EXCLUDED, test_name)


def known_failure(test_name: str) -> str | None:
    return _first_reason(KNOWN_FAILURES, test_name)
