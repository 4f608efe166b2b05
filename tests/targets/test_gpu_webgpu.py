"""The webgpu target: every family's WGSL runs through wgpu (Mesa lavapipe in CI) and matches
onnxruntime's CPU results within rel_err 1e-4; kernels stay within the browser's limits."""
from __future__ import annotations

import re

import numpy as np
import pytest

from onnxjit.runtime.session import InferenceSession
from onnxjit.schedules import TEMPLATES
from onnxjit.targets import get_target
from tests.targets.gpu_cases import CASES, assert_close_to_onnxruntime, expected_template

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _adapter() -> None:
    pytest.importorskip("wgpu", reason="the webgpu tests need wgpu (pip install wgpu)")
    from onnxjit.runtime.wgsl import device

    try:
        device()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no wgpu adapter (CI installs mesa-vulkan-drivers): {exc}")


def _workgroup_bytes(wgsl: str) -> int:
    sizes = {"f32": 4, "i32": 4, "u32": 4, "f16": 2}
    return sum(sizes.get(t, 4) * int(n) for t, n in
               re.findall(r"var<workgroup>\s+\w+\s*:\s*array<(\w+),\s*(\d+)>", wgsl))


@pytest.mark.parametrize("case", sorted(CASES))
def test_webgpu_matches_onnxruntime(case: str) -> None:
    model, feeds = CASES[case]()
    session = InferenceSession(model, target="webgpu")
    outputs = session.run(None, feeds)
    assert_close_to_onnxruntime(model, feeds, outputs, f"webgpu {case}")
    compiled = session.compiled(feeds)
    want = expected_template(case)
    if want is not None:
        assert want in {t for t, _ in compiled.choices.values()}, compiled.choices
    build = compiled.module.build
    for host in build.functions.values():
        for launch in host.launches:
            assert int(np.prod(launch.block)) <= 256, launch
    for name, wgsl in build.kernels.items():
        assert _workgroup_bytes(wgsl) <= 16 * 1024, name


@pytest.mark.parametrize(("case", "stride"), [("sparse_conv_3x3_4x1", 1),
                                              ("cumsum_last_axis", 1),
                                              ("attention_causal_short", 3)])
def test_webgpu_every_knob_point_matches(case: str, stride: int) -> None:
    """Every point (attention: every third, about 14 of 40, for CI time) of the conv (dense and
    sparse), CumSum (chunked) and attention (row tiles across query heads, KV splits) spaces
    computes the same."""
    model, feeds = CASES[case]()
    target = get_target("webgpu")
    probe = InferenceSession(model, target=target).compiled(feeds)
    name, (template_name, _) = next(iter(probe.choices.items()))
    template = next(t for t in TEMPLATES if t.name == template_name)
    kernel = next(k for k in probe.kernels if k.name == name)
    points = template.space(kernel, target)
    assert 1 < len(points) <= 64
    for knobs in points[::stride]:
        session = InferenceSession(model, target=target,
                                   chooser=lambda k, t, kn=knobs: (template, kn))
        assert_close_to_onnxruntime(model, feeds, session.run(None, feeds), f"{case} {knobs}")


def test_webgpu_refuses_int64_feeds_beyond_int32() -> None:
    """int64 values cross as int32 (WGSL has no 64-bit integers): larger ones are refused."""
    from onnxjit.compiler.errors import OnnxJitError

    model, feeds = CASES["int64_bool"]()
    feeds["idx"] = feeds["idx"].copy()
    feeds["idx"][0, 0] = 2**40
    with pytest.raises(OnnxJitError, match="outside int32"):
        InferenceSession(model, target="webgpu").run(None, feeds)


def test_cpu_selection_never_picks_gpu_templates() -> None:
    model, feeds = CASES["matmul_softmax"]()
    compiled = InferenceSession(model, target="cpu", threads=1).compiled(feeds)
    assert not any(t.startswith("gpu_") for t, _ in compiled.choices.values())
