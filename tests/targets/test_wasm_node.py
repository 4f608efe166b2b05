"""The JavaScript host (runtime/wasm_host.mjs) in Node.js on the wasm target's artifacts."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import onnxjit
from benchmarks.wasm_vs_ortweb import WEB_NODE, prepare
from onnxjit.targets.wasm.model import NODE_RUNNER, read_outputs, write_inputs
from onnxjit.targets.wasm.variants import RELAXED, node_runs
from tests.targets.wasm_cases import (CASES, REL_TOL, assert_close_to_onnxruntime,
                                      require_program, require_wasm_toolchain)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_matches_onnxruntime_in_node(case: str, tmp_path: Path) -> None:
    require_wasm_toolchain()
    node = require_program("node")
    model, feeds = CASES[case]()
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm")
    artifact = session.executor(feeds).model
    manifest_path = artifact.save(tmp_path)
    write_inputs(tmp_path, artifact.manifest, feeds)
    done = subprocess.run([node, str(NODE_RUNNER), str(manifest_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    variant = json.loads(done.stdout.strip().splitlines()[-1])["variant"]
    assert variant == ("relaxed-simd" if node_runs(RELAXED, node) else "simd128")
    assert_close_to_onnxruntime(model, feeds, read_outputs(tmp_path, artifact.manifest),
                                f"node {case} ({variant})")


@pytest.mark.parametrize("case", ["matmul_softmax", "cumsum"])
def test_node_host_runs_in_place(case: str, tmp_path: Path) -> None:
    """Zero copy: inputs written into the model's input views, outputs read from its output
    views (tests/targets/wasm_in_place.mjs) match onnxruntime and the copying run."""
    require_wasm_toolchain()
    node = require_program("node")
    model, feeds = CASES[case]()
    artifact = onnxjit.InferenceSession(model.SerializeToString(),
                                        target="wasm").executor(feeds).model
    manifest_path = artifact.save(tmp_path)
    write_inputs(tmp_path, artifact.manifest, feeds)
    done = subprocess.run([node, str(Path(__file__).with_name("wasm_in_place.mjs")),
                           str(manifest_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert_close_to_onnxruntime(model, feeds, read_outputs(tmp_path, artifact.manifest),
                                f"node in place {case}")


def _nodes() -> list[tuple[list[str], bool]]:
    """Node.js command lines here, and whether each runs relaxed SIMD: the system node (Debian's
    is 20: without relaxed SIMD unless flagged, so both ways) and web/'s Node 24 (with it)."""
    node = require_program("node")
    nodes = [([node], node_runs(RELAXED, node))]
    if not nodes[0][1]:
        nodes.append(([node, "--experimental-wasm-relaxed-simd"], True))
    if WEB_NODE.is_file():
        nodes.append(([str(WEB_NODE)], node_runs(RELAXED, str(WEB_NODE))))
    return nodes


@pytest.mark.parametrize("case", ["matmul_softmax", "attention_causal"])
def test_node_host_picks_relaxed_simd_where_supported(case: str, tmp_path: Path) -> None:
    """target "wasm": the JS host loads model.relaxed.wasm iff the engine validates relaxed SIMD
    (Node 20 without its flag does not), else model.wasm; options.variant forces one; every
    way matches onnxruntime."""
    require_wasm_toolchain()
    nodes = _nodes()
    if not any(relaxed for _, relaxed in nodes) or all(relaxed for _, relaxed in nodes):
        pytest.skip("needs one Node.js with relaxed SIMD and one without (Debian's Node 20, "
                    "npm ci --prefix web for Node 24)")
    model, feeds = CASES[case]()
    artifact = onnxjit.InferenceSession(model.SerializeToString(),
                                        target="wasm").executor(feeds).model
    manifest_path = artifact.save(tmp_path)
    write_inputs(tmp_path, artifact.manifest, feeds)
    for command, relaxed in nodes:
        for forced in ([], ["--variant", "simd128"]):
            done = subprocess.run([*command, str(NODE_RUNNER), str(manifest_path), str(tmp_path),
                                   *forced], capture_output=True, text=True, timeout=120,
                                  check=False)
            assert done.returncode == 0, (command, done.stderr)
            variant = json.loads(done.stdout.strip().splitlines()[-1])["variant"]
            assert variant == ("relaxed-simd" if relaxed and not forced else "simd128"), command
            assert_close_to_onnxruntime(model, feeds, read_outputs(tmp_path, artifact.manifest),
                                        f"{' '.join(command)} {variant}")


def test_relaxed_simd_model_in_node(tmp_path: Path) -> None:
    """A wasm-relaxed artifact (relaxed SIMD only) runs where the engine has relaxed SIMD and
    matches onnxruntime; an engine refusing it gets an error naming relaxed SIMD."""
    require_wasm_toolchain()
    model, feeds = CASES["matmul_softmax"]()
    artifact = onnxjit.InferenceSession(model.SerializeToString(),
                                        target="wasm-relaxed").executor(feeds).model
    manifest_path = artifact.save(tmp_path)
    write_inputs(tmp_path, artifact.manifest, feeds)
    for command, relaxed in _nodes():
        done = subprocess.run([*command, str(NODE_RUNNER), str(manifest_path), str(tmp_path)],
                              capture_output=True, text=True, timeout=120, check=False)
        if not relaxed:
            assert done.returncode != 0 and "built with relaxed SIMD" in done.stderr, done.stderr
            continue
        assert done.returncode == 0, done.stderr
        assert_close_to_onnxruntime(model, feeds, read_outputs(tmp_path, artifact.manifest),
                                    f"{' '.join(command)} relaxed SIMD")


def test_node_host_reports_a_wrong_input_size(tmp_path: Path) -> None:
    require_wasm_toolchain()
    node = require_program("node")
    model, feeds = CASES["matmul_softmax"]()
    artifact = onnxjit.InferenceSession(model.SerializeToString(),
                                        target="wasm").executor(feeds).model
    manifest_path = artifact.save(tmp_path)
    write_inputs(tmp_path, artifact.manifest, feeds)
    (tmp_path / "input0.bin").write_bytes(b"\0" * 12)
    done = subprocess.run([node, str(NODE_RUNNER), str(manifest_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0 and "input a has 3 elements" in done.stderr


def test_benchmark_script_agrees_with_onnxruntime_web(tmp_path: Path) -> None:
    """benchmarks/wasm_vs_ortweb.mjs on a small model: both wasm runtimes give onnxruntime's
    outputs (the speed comparison itself is the benchmark's, never asserted)."""
    require_wasm_toolchain()
    node = require_program("node")
    if not (REPO / "web" / "node_modules" / "onnxruntime-web").is_dir():
        pytest.skip("onnxruntime-web is not installed (npm ci --prefix web; .ci/run does)")
    model, feeds = CASES["matmul_softmax"]()
    prepare(model, feeds, tmp_path, tune=0.0)
    done = subprocess.run([node, str(REPO / "benchmarks" / "wasm_vs_ortweb.mjs"), str(tmp_path),
                           "1", "2"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (errors,) = result["errors"]
    assert errors["onnxjit"] <= REL_TOL and errors["ortweb"] <= REL_TOL, errors
    assert result["ortweb_threads"] == 1 and result["onnxjit_ms"] > 0 and result["ortweb_ms"] > 0
    assert result["inplace_ms"] > 0


@pytest.mark.slow
def test_wasm_node_target_tunes_inside_v8(tmp_path: Path) -> None:
    """target="wasm-node": the tuner's candidates run and are timed in Node.js (V8); the
    records carry that engine in their fingerprint."""
    require_wasm_toolchain()
    require_program("node")
    from onnxjit.runtime.jit_tuning import tune_compiled
    from onnxjit.schedules.records import RecordStore
    from onnxjit.schedules.tuner import TuneOptions

    model, feeds = CASES["matmul_softmax"]()
    store = RecordStore(tmp_path / "records.jsonl")
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm-node",
                                       records=store.path)
    assert session.target.fingerprint()["engine"].startswith("node-v")
    options = TuneOptions(budget_s=20, build_workers=1, retune=True)
    results = tune_compiled(session.compiled(feeds), session.target, store, options)
    trials = [t for r in results for t in r.trials]
    assert len(trials) >= 3 and all(not t.error for t in trials), [t.error for t in trials]
    assert all(0 < t.seconds < 1 for t in trials)
    assert {r.target for r in store.load()} == {session.target.fingerprint_key()}
    assert_close_to_onnxruntime(model, feeds, session.run(None, feeds), "wasm-node session")


@pytest.mark.parametrize("case", ["matmul_softmax", "attention_causal", "scan_mamba"])
def test_threads_variant_in_node(case: str, tmp_path: Path) -> None:
    """threads=2: shared memory and parallel kernels; Node runs them on a worker pool that
    runtime/wasm_host.mjs starts (and the process still exits)."""
    require_wasm_toolchain()
    node = require_program("node")
    model, feeds = CASES[case]()
    session = onnxjit.InferenceSession(model.SerializeToString(), target="wasm", threads=2)
    artifact = session.executor(feeds).model
    assert artifact.manifest["threads"] == 2 and artifact.manifest["memory"]["shared"]
    manifest_path = artifact.save(tmp_path)
    write_inputs(tmp_path, artifact.manifest, feeds)
    done = subprocess.run([node, str(NODE_RUNNER), str(manifest_path), str(tmp_path),
                           "--repeats", "3"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert_close_to_onnxruntime(model, feeds, read_outputs(tmp_path, artifact.manifest),
                                f"node threads {case}")
    # wasmtime runs the same module serially (no worker pool on the Python side).
    assert_close_to_onnxruntime(model, feeds, session.run(None, feeds), f"wasmtime threads {case}")
