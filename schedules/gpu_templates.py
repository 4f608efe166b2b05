"""The GPU schedule templates, most specific first; gpu_fallback takes any kernel on a GPU target.

Each applies only to GPU targets (schedules/gpu_common.is_gpu), so CPU selection is unchanged.
"""
from __future__ import annotations

from onnxjit.schedules.base import ScheduleTemplate
from onnxjit.schedules.gpu_attention import GpuAttentionTemplate
from onnxjit.schedules.gpu_conv import GpuConvTemplate
from onnxjit.schedules.gpu_generic import (
    GpuElementwiseTemplate, GpuFallbackTemplate, GpuMatmulTemplate, GpuReductionTemplate)
from onnxjit.schedules.gpu_scan import GPU_SCAN_TEMPLATES

GPU_TEMPLATES: tuple[ScheduleTemplate, ...] = (
    GpuAttentionTemplate(),
    GpuConvTemplate(),
    *GPU_SCAN_TEMPLATES,
    GpuMatmulTemplate(),
    GpuReductionTemplate(),
    GpuElementwiseTemplate(),
    GpuFallbackTemplate(),
)
