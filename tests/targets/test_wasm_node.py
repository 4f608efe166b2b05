"""The JavaScript host (runtime/wasm_host.mjs) in Node.js on the artifacts the wasm target writes."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import onnxjit
from onnxjit.targets.wasm.model import NODE_RUNNER, read_outputs, write_inputs
from tests.targets.wasm_cases import (CASES, assert_close_to_onnxruntime, require_program,
                                      require_wasm_toolchain)


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
    assert_close_to_onnxruntime(model, feeds, read_outputs(tmp_path, artifact.manifest),
                                f"node {case}")


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
