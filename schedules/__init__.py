"""Schedule templates, most specific first; the fallback always applies."""
from __future__ import annotations

from typing import TYPE_CHECKING

from onnxjit.compiler.tvm_api import PrimFunc
from onnxjit.schedules.attention import AttentionTemplate
from onnxjit.schedules.base import Knobs, ScheduleTemplate
from onnxjit.schedules.causal_conv import CausalConvTemplate
from onnxjit.schedules.conv import ConvTemplate
from onnxjit.schedules.cumsum import CumSumTemplate
from onnxjit.schedules.elementwise import ElementwiseTemplate
from onnxjit.schedules.linear_attention import LinearAttentionTemplate
from onnxjit.schedules.fallback import FallbackTemplate
from onnxjit.schedules.conv_winograd import WinogradConvTemplate
from onnxjit.schedules.conv_expand_dw import ExpandDepthwiseTemplate
from onnxjit.schedules.gpu_templates import GPU_TEMPLATES
from onnxjit.schedules.matmul import MatmulTemplate
from onnxjit.schedules.pool import AveragePoolTemplate, MaxPoolTemplate
from onnxjit.schedules.reduction import ReductionTemplate
from onnxjit.schedules.scan import LinearScanTemplate, SelectiveScanTemplate
from onnxjit.schedules.tir_extern import TirExternTemplate
from onnxjit.schedules.transpose import TransposeTemplate
from onnxjit.schedules.interleave import InterleaveTemplate

if TYPE_CHECKING:
    from onnxjit.compiler.kernel import Kernel
    from onnxjit.targets.base import Target

TEMPLATES: tuple[ScheduleTemplate, ...] = (
    *GPU_TEMPLATES,  # GPU targets only (schedules/gpu_templates.py)
    AttentionTemplate(),
    MatmulTemplate(),
    ReductionTemplate(),
    TransposeTemplate(),
    InterleaveTemplate(),
    ElementwiseTemplate(),
    ConvTemplate(),
    WinogradConvTemplate(),
    MaxPoolTemplate(),
    AveragePoolTemplate(),
    ExpandDepthwiseTemplate(),
    CumSumTemplate(),
    LinearScanTemplate(),
    SelectiveScanTemplate(),
    CausalConvTemplate(),
    LinearAttentionTemplate(),
    TirExternTemplate(),
    FallbackTemplate(),
)


def select_template(kernel: Kernel, target: Target) -> ScheduleTemplate:
    return next(t for t in TEMPLATES if t.applicable(kernel, target))


def template_by_name(name: str) -> ScheduleTemplate | None:
    return next((t for t in TEMPLATES if t.name == name), None)


def schedule_kernel(kernel: Kernel, target: Target, template: ScheduleTemplate | None = None,
                    knobs: Knobs | None = None) -> PrimFunc:
    """The kernel's function scheduled with `knobs` (the template's default if None)."""
    template = template or select_template(kernel, target)
    return template.instantiate(
        kernel, knobs if knobs is not None else template.default(kernel, target), target)
