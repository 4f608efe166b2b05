"""The wasm target in wasmtime: models vs onnxruntime, wasm-sized schedules, fast math, tuning."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import onnx
from onnx import helper

import onnxjit
from onnxjit.cli import main
from onnxjit.schedules import select_template
from tests.helpers import make_model, run_onnxruntime
from tests.targets.wasm_cases import (CASES, assert_close_to_onnxruntime, rel_err,
                                      require_wasm_toolchain)

pytestmark = pytest.mark.usefixtures("wasm_toolchain")


@pytest.fixture(scope="module")
def wasm_toolchain() -> None:
    require_wasm_toolchain()


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_matches_onnxruntime_in_wasmtime(case: str) -> None:
    model, feeds = CASES[case]()
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    assert session.get_providers() == ["onnxjit:wasm"]
    assert_close_to_onnxruntime(model, feeds, session.run(None, feeds), f"wasmtime {case}")
    # A second run reuses the arena: still right (no state left from the first).
    assert_close_to_onnxruntime(model, feeds, session.run(None, feeds), f"wasmtime {case} rerun")


def test_templates_get_wasm_sized_knobs() -> None:
    """The CPU templates read 4 lanes and 1 thread from the wasm target: SIMD128-sized points."""
    model, feeds = CASES["matmul_softmax"]()
    wasm = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    target = wasm.target
    assert target.vector_lanes == 4 and target.threads == 1
    kernels = wasm.compiled(feeds).kernels
    matmul = next(k for k in kernels if "MatMul" in k.op_types)
    template = select_template(matmul, target)
    assert template.name == "matmul"
    knobs = template.default(matmul, target)
    # A 16-column panel is 4 wasm vectors, so tiles may be half a panel (2 vectors) wide; mi rows
    # of accumulators + the B vectors + one broadcast fit the target's 14-register budget, with
    # one k step per loop body (unrolled steps' hoisted loads would spill in the engines).
    vectors = 2 if knobs.get("half") else 4 * int(knobs["nt"])
    assert vectors * (int(knobs["mi"]) + 1) + 1 <= target.vector_registers == 14
    assert int(knobs["mi"]) * vectors >= 8 and knobs["kt"] == 1
    cpu = onnxjit.targets.get_target("cpu")
    if cpu.vector_lanes >= 8:   # (AVX2/AVX-512: a panel is 1-2 vectors, tiles stay whole panels)
        assert "half" not in template.default(matmul, cpu)
    for kernel in kernels:
        for point in select_template(kernel, target).space(kernel, target):
            if "vec" in point:
                assert int(point["vec"]) % 4 == 0 and int(point["vec"]) <= 16


RELAXED_MADD = b"\xfd\x85\x02"   # f32x4.relaxed_madd: SIMD prefix, LEB128 opcode 0x105


@pytest.mark.parametrize("case", ["matmul_softmax", "attention_causal"])
def test_default_build_carries_relaxed_and_simd128_modules(case: str, tmp_path: Path) -> None:
    """target "wasm": a relaxed-SIMD module (products and sums fused into relaxed_madd) and a
    SIMD128 fallback; wasmtime runs the relaxed one (its config enables relaxed SIMD), and both
    match onnxruntime (relaxed_madd may round once or twice: rel_err <= 1e-4 either way)."""
    from onnxjit.runtime.wasm_host import WasmExecutor

    model, feeds = CASES[case]()
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    assert session.target.measured.name == "relaxed-simd"
    assert session.target.fingerprint()["variant"] == "relaxed-simd"
    assert_close_to_onnxruntime(model, feeds, session.run(None, feeds), f"wasm relaxed {case}")
    artifact = session.executor(feeds).model
    assert artifact.variants == ("relaxed-simd", "simd128")
    assert RELAXED_MADD in artifact.module("relaxed-simd")
    assert RELAXED_MADD not in artifact.module("simd128")
    baseline = WasmExecutor(artifact.module("simd128"), artifact.manifest)
    assert_close_to_onnxruntime(model, feeds, baseline.run(feeds), f"wasm simd128 {case}")
    manifest = json.loads(artifact.save(tmp_path).read_text())
    assert manifest["modules"] == [
        {"variant": "relaxed-simd", "wasm": "model.relaxed.wasm", "features": ["relaxed-simd"]},
        {"variant": "simd128", "wasm": "model.wasm", "features": []}]
    assert manifest["wasm"] == "model.wasm" and "features" not in manifest   # (older hosts)
    assert (tmp_path / "model.relaxed.wasm").read_bytes() == artifact.module("relaxed-simd")


@pytest.mark.parametrize("name,variant", [("wasm-simd128", "simd128"),
                                          ("wasm-relaxed", "relaxed-simd")])
def test_one_variant_targets(name: str, variant: str, tmp_path: Path) -> None:
    """wasm-simd128 / wasm-relaxed force one instruction set: one module, which wasmtime runs;
    records of each say which variant they timed, so they never mix with the default's."""
    from onnxjit.targets import get_target

    model, feeds = CASES["matmul_softmax"]()
    session = onnxjit.InferenceSession(model.SerializeToString(), target=name)
    assert session.target.measured.name == variant
    assert_close_to_onnxruntime(model, feeds, session.run(None, feeds), name)
    artifact = session.executor(feeds).model
    assert artifact.variants == (variant,)
    assert (RELAXED_MADD in artifact.module()) == (variant == "relaxed-simd")
    manifest = json.loads(artifact.save(tmp_path).read_text())
    assert [m["variant"] for m in manifest["modules"]] == [variant]
    assert manifest.get("features", []) == manifest["modules"][0]["features"]
    fingerprint = session.target.fingerprint()
    assert fingerprint["variant"] == variant and fingerprint["target"] == name
    assert session.target.fingerprint_key() != get_target("wasm").fingerprint_key()


def test_float32_exp_is_a_polynomial_not_libm() -> None:
    """Exp, Sigmoid and Tanh (float32) compile to SIMD polynomials: no expf is linked in."""
    x = np.linspace(-30, 30, 4096, dtype=np.float32).reshape(64, 64)
    nodes = [helper.make_node("Exp", ["x"], ["e"]), helper.make_node("Sigmoid", ["x"], ["s"]),
             helper.make_node("Tanh", ["x"], ["t"]), helper.make_node("Erf", ["x"], ["f"])]
    model = make_model(nodes, {"x": x}, ["e", "s", "t", "f"])
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    outputs = session.run(None, {"x": x})
    # The kernels' object names every function it imports (the linked .wasm keeps no names).
    kernels = session.compiled({"x": x}).module.object_bytes
    assert b"onnxjit" not in kernels and b"k0_" in kernels   # (names are there to be found)
    for libm in (b"expf", b"tanhf", b"erff"):
        assert libm not in kernels, f"{libm.decode()} is called: float32 fell back to libm"
    expected = [np.exp(x.astype(np.float64)), 1 / (1 + np.exp(-x.astype(np.float64))),
                np.tanh(x.astype(np.float64))]
    for got, want in zip(outputs, expected):
        assert rel_err(got, want) < 1e-6
    assert np.abs(outputs[3] - np.vectorize(math.erf)(x)).max() < 1e-6


def test_float64_keeps_libm() -> None:
    x = np.linspace(-5, 5, 256, dtype=np.float64).reshape(16, 16)
    model = make_model([helper.make_node("Exp", ["x"], ["y"])], {"x": x}, ["y"])
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    (y,) = session.run(None, {"x": x})
    np.testing.assert_allclose(y, np.exp(x), rtol=1e-14)


def test_wasm_target_threads() -> None:
    """One thread unless asked (a threaded module needs shared memory and a worker pool)."""
    from onnxjit.targets import get_target

    assert get_target("wasm").threads == 1
    assert get_target("wasm", 3).threads == 3
    assert "+atomics" in str(get_target("wasm", 2).tvm_target())
    with pytest.raises(onnxjit.OnnxJitError, match="threads must be >= 1"):
        get_target("wasm", 0)


def test_cli_bench_on_wasm_checks_against_onnxruntime(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    model, _ = CASES["matmul_softmax"]()
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    assert main(["bench", str(path), "--target", "wasm", "--repeats", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["target"] == "wasm" and result["threads"] == 1
    assert result["rel_err"] <= 1e-4


@pytest.mark.slow
def test_tuner_measures_wasm_candidates_in_wasmtime(tmp_path: Path) -> None:
    """Candidates are linked into .wasm modules, checked and timed in wasmtime; the records
    carry the wasm fingerprint and the session applies them."""
    from onnxjit.runtime.jit_tuning import tune_compiled
    from onnxjit.schedules.records import RecordStore
    from onnxjit.schedules.tuner import TuneOptions

    model, feeds = CASES["matmul_softmax"]()
    store = RecordStore(tmp_path / "records.jsonl")
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm",
                                       records=store.path)
    options = TuneOptions(budget_s=20, build_workers=1, retune=True)
    results = tune_compiled(session.compiled(feeds), session.target, store, options)
    trials = [t for r in results for t in r.trials]
    assert len(trials) >= 3 and all(not t.error for t in trials), [t.error for t in trials]
    assert all(r.target == session.target.fingerprint_key() for r in store.load())
    assert session.target.fingerprint_key().startswith("wasm-")
    tuned = onnxjit.InferenceSession(model.SerializeToString(), target="wasm", records=store.path)
    assert_close_to_onnxruntime(model, feeds, tuned.run(None, feeds), "wasm tuned")


def test_every_causal_conv_point_builds_for_wasm() -> None:
    """Points wider than one wasm vector (8 lanes) must not reach for x86-only intrinsics (an
    LLVM abort on wasm32, which would kill the process)."""
    from onnxjit.compiler.tvm_api import IRModule

    model, feeds = CASES["causal_conv_silu"]()
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    (kernel,) = session.compiled(feeds).kernels
    template = select_template(kernel, session.target)
    assert template.name == "causal_conv"
    for knobs in template.space(kernel, session.target):
        func = template.instantiate(kernel, knobs, session.target)
        session.target.build(IRModule({kernel.name: func}))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_space_point_builds_for_wasm(case: str) -> None:
    """The tuner may try any point: each must compile for wasm32 (in a child process, since an
    LLVM abort would kill this one)."""
    done = subprocess.run([sys.executable, "-m", "tests.targets.wasm_space_check", case],
                          capture_output=True, text=True, timeout=600, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    last = done.stderr.strip().splitlines()[-1:]
    assert done.returncode == 0, f"{done.stdout[-3000:]}\nlast point: {last}\n{done.stderr[-1500:]}"


def test_views_bools_ints_and_constant_outputs() -> None:
    """Plan aliases (Reshape), bool and int64 outputs, a 0-d input and an output folded to a
    constant all cross the wasm arena, weights segment and manifest correctly."""
    model, feeds = CASES["mixed_dtypes"]()
    x, s = feeds["x"], feeds["s"]
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    got = session.run(None, {"x": x, "s": s})
    want = run_onnxruntime(model, {"x": x, "s": s})
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_profile_times_each_kernel_inside_wasm() -> None:
    model, feeds = CASES["matmul_softmax"]()
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    executor = session.executor(feeds)
    profile: dict[str, list[float]] = {}
    outputs = executor.run(feeds, None, profile)
    assert sorted(profile) == sorted(k.name for k in session.compiled(feeds).kernels)
    assert all(len(v) == 1 and v[0] > 0 for v in profile.values())
    assert_close_to_onnxruntime(model, feeds, outputs, "wasm profiled run")
