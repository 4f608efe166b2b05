"""The cuda target without a GPU: every family compiles to CUDA C++, PTX (sm_80 and sm_90) and a
cubin whose `ptxas -v` figures fit (no spills, <= 255 registers, static shared memory within the
48 KB per-block limit). With a GPU and driver, the same models also run and match onnxruntime."""
from __future__ import annotations

import shutil

import pytest

from onnxjit.compiler import tvm_gpu
from onnxjit.compiler.importer import import_model
from onnxjit.compiler.pipeline import compile_graph
from onnxjit.compiler.specialize import signature
from onnxjit.runtime.session import InferenceSession
from onnxjit.targets.gpu import CUDA_STATIC_SHARED, CudaTarget
from tests.targets.gpu_cases import CASES, assert_close_to_onnxruntime, expected_template

PTXAS_SAMPLE = """ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k0_kernel' for 'sm_80'
ptxas info    : Function properties for k0_kernel
    8 bytes stack frame, 4 bytes spill stores, 8 bytes spill loads
ptxas info    : Used 40 registers, 40960 bytes smem, 380 bytes cmem[0]
ptxas info    : Compiling entry function 'k1_kernel' for 'sm_80'
ptxas info    : Function properties for k1_kernel
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 16 registers, 380 bytes cmem[0]
"""


def test_parse_ptxas() -> None:
    k0, k1 = tvm_gpu.parse_ptxas(PTXAS_SAMPLE)
    assert (k0.kernel, k0.registers, k0.shared_bytes, k0.spill_stores, k0.spill_loads,
            k0.stack_bytes) == ("k0_kernel", 40, 40960, 4, 8, 8)
    assert (k1.kernel, k1.registers, k1.shared_bytes, k1.spill_stores) == ("k1_kernel", 16, 0, 0)


def test_cuda_target_arch() -> None:
    assert CudaTarget().arch == "sm_80"
    assert CudaTarget(arch="sm_90").fingerprint()["arch"] == "sm_90"
    with pytest.raises(ValueError, match="unknown CUDA arch"):
        CudaTarget(arch="sm_42")


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cuda_ptx_and_ptxas_budget(case: str, arch: str) -> None:
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not found (CI installs it from PyPI: nvidia-cuda-nvcc)")
    model, feeds = CASES[case]()
    graph, _ = import_model(model)
    target = CudaTarget(arch=arch)
    compiled = compile_graph(graph, signature(feeds, graph.inputs), target)
    want = expected_template(case)
    if want is not None:
        assert want in {t for t, _ in compiled.choices.values()}, compiled.choices
    source = compiled.module.source
    assert "__global__" in source
    ptx = tvm_gpu.compile_cuda(source, arch).decode()
    assert f".target {arch}" in ptx
    usage = tvm_gpu.ptxas_usage(source, arch)
    assert {u.kernel for u in usage} == {
        launch.kernel for host in compiled.module.build.functions.values()
        for launch in host.launches}
    for u in usage:
        assert u.spill_stores == 0 and u.spill_loads == 0, u
        assert u.registers <= 255, u
        assert u.shared_bytes <= CUDA_STATIC_SHARED, u
    if case.startswith("attention"):
        assert any(u.shared_bytes > 0 for u in usage), "flash kernel stages tiles in shared memory"


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_cuda_runs_and_matches_onnxruntime(case: str) -> None:
    if not tvm_gpu.cuda_device_exists():
        pytest.skip("no CUDA GPU and driver here (benchmarks/gpu_check.sh runs this on one)")
    model, feeds = CASES[case]()
    session = InferenceSession(model, target="cuda")
    assert_close_to_onnxruntime(model, feeds, session.run(None, feeds), f"cuda {case}")


@pytest.mark.slow
def test_cuda_decode_attention_splits_keys_with_few_registers() -> None:
    """The decode benchmark's attention (1 query, KV 4096, GQA 32/8): KV splits give >= 128
    blocks, the flash kernel stays at <= 96 registers (it used 254 without them) on sm_80."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not found (CI installs it from PyPI: nvidia-cuda-nvcc)")
    from benchmarks.attention import attention_model

    model, feeds = attention_model(1, 4096, False, 32, 8)
    graph, _ = import_model(model)
    compiled = compile_graph(graph, signature(feeds, graph.inputs), CudaTarget(arch="sm_80"))
    (template, knobs), = compiled.choices.values()
    assert template == "gpu_attention" and int(knobs["ns"]) > 1, knobs
    launches = [la for host in compiled.module.build.functions.values() for la in host.launches]
    assert len(launches) == 2 and launches[0].grid[0] >= 128, launches
    for u in tvm_gpu.ptxas_usage(compiled.module.source, "sm_80"):
        assert u.registers <= 96 and u.spill_stores == 0, u


def test_cuda_device_timing_needs_a_run_first() -> None:
    """`CudaExecutor.time_on_device` (gpu_bench's kernels-alone figure) reuses the last run's
    feeds, so before any run it refuses with a clear error, on any machine."""
    from onnxjit.compiler.errors import OnnxJitError
    from onnxjit.runtime.gpu_executor import CudaExecutor

    model, feeds = CASES["matmul_softmax"]()
    graph, _ = import_model(model)
    compiled = compile_graph(graph, signature(feeds, graph.inputs), CudaTarget())
    with pytest.raises(OnnxJitError, match="needs one run first"):
        CudaExecutor(compiled).time_on_device(1)
