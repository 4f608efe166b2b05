"""Compiled artifacts: write with `onnxjit compile`, load with InferenceSession(OUT) without
compiling, refuse another target fingerprint, a modified file, or other input shapes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

import onnxjit
from onnxjit.cli import main
from onnxjit.runtime.artifact import ArtifactError
from onnxjit.runtime.artifact_session import compile_to_artifact
from tests.helpers import make_model

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 16)).astype(np.float32)
W = (RNG.standard_normal((16, 8)) * 0.2).astype(np.float32)


def _model() -> onnx.ModelProto:
    """MatMul -> Gelu (kernels), a bfloat16-free constant weight, and a folded Shape output."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Gelu", ["h"], ["y"]),
             helper.make_node("Shape", ["x"], ["s"])]
    return make_model(nodes, {"x": X}, ["y", "s"], initializers={"w": W})


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("artifact") / "mlp"
    compile_to_artifact(_model(), out, {"x": X}, threads=1)
    return out


def _copy(artifact: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(artifact, tmp_path / "copy"))


def test_files_and_manifest(artifact: Path) -> None:
    assert {p.name for p in artifact.iterdir()} == {"manifest.json", "kernels.so", "plan.json",
                                                   "weights.npz"}
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["signature"] == [["x", [4, 16], "float32"]]
    assert manifest["threads"] == 1 and manifest["fingerprint"]["threads"] == 1
    assert manifest["fingerprint"]["cpu"] and manifest["choices"]
    assert set(manifest["sha256"]) == {"kernels.so", "plan.json", "weights.npz"}


def test_loads_without_compiling_and_matches_onnxruntime(
        artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxjit.runtime.session as session_module

    def no_compiling(*_: object, **__: object) -> None:
        raise AssertionError("the artifact was recompiled")

    monkeypatch.setattr(session_module, "compile_graph", no_compiling)
    monkeypatch.setattr(session_module, "import_model", no_compiling)
    for session in (onnxjit.InferenceSession(artifact), onnxjit.load(str(artifact))):
        y, s = session.run(None, {"x": X})
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        ref = ort.InferenceSession(_model().SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
        want_y, want_s = ref.run(None, {"x": X})
        np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(s, want_s)
        assert [a.name for a in session.get_outputs()] == ["y", "s"]


def test_other_fingerprint_is_refused(artifact: Path, tmp_path: Path) -> None:
    copy = _copy(artifact, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["fingerprint"]["cpu"] = "some-other-cpu"
    manifest["fingerprint"]["features"] = ["sse4_2"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"compiled for another target \(cpu: artifact "
                                            r"'some-other-cpu'.*recompile"):
        onnxjit.InferenceSession(copy)


def test_other_thread_count_is_refused(artifact: Path) -> None:
    with pytest.raises(ArtifactError, match="threads: artifact 1, here 2"):
        onnxjit.load(artifact, threads=2)


def test_modified_kernels_are_refused(artifact: Path, tmp_path: Path) -> None:
    copy = _copy(artifact, tmp_path)
    with open(copy / "kernels.so", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ArtifactError, match="kernels.so was modified"):
        onnxjit.InferenceSession(copy)


def test_missing_weights_are_refused(artifact: Path, tmp_path: Path) -> None:
    copy = _copy(artifact, tmp_path)
    (copy / "weights.npz").unlink()
    with pytest.raises(ArtifactError, match="weights.npz is missing"):
        onnxjit.InferenceSession(copy)


def test_other_input_shapes_are_an_input_error(artifact: Path) -> None:
    session = onnxjit.InferenceSession(artifact)
    with pytest.raises(onnxjit.InputError, match="has shape 5x16, expected 4x16"):
        session.run(None, {"x": np.zeros((5, 16), np.float32)})


def test_cli_compile_then_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _model()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    out = tmp_path / "art"
    assert main(["compile", str(path), "-o", str(out), "--threads", "1", "--dim", "batch=4"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["run", str(out)]) == 0
    assert "[4, 8]" in capsys.readouterr().out
