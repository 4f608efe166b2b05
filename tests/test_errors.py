"""Error paths: every user-facing failure is an OnnxJitError that names what went wrong."""
from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, external_data_helper, helper, numpy_helper
from onnx.external_data_helper import set_external_data

import onnxjit
from tests.helpers import make_model

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 8)).astype(np.float32)
W = RNG.standard_normal((8, 3)).astype(np.float32)


def matmul_model() -> onnx.ModelProto:
    return make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": X}, ["y"], {"w": W})


# -- unsupported ops ----------------------------------------------------------------------------
def test_all_unsupported_ops_are_reported_at_once() -> None:
    # Det (standard domain) and a custom-domain op, around a supported MatMul.
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["y"], name="proj"),
        helper.make_node("Det", ["sq"], ["d"], name="the_det"),
        helper.make_node("Fancy", ["y"], ["f"], name="the_fancy", domain="com.example"),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8]),
         helper.make_tensor_value_info("sq", TensorProto.FLOAT, [3, 3])],
        [helper.make_tensor_value_info("d", TensorProto.FLOAT, []),
         helper.make_tensor_value_info("f", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(W, "w")])
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 21), helper.make_opsetid("com.example", 3)])
    with pytest.raises(onnxjit.UnsupportedOpsError) as info:
        onnxjit.InferenceSession(model)
    err = info.value
    found = {(op.op_type, op.domain, op.opset, op.node_name) for op in err.ops}
    assert found == {("Det", "", 21, "the_det"), ("Fancy", "com.example", 3, "the_fancy")}
    message = str(err)
    for text in ("Det", "ai.onnx", "opset 21", "'the_det'",
                 "Fancy", "com.example", "opset 3", "'the_fancy'", "2 unsupported"):
        assert text in message
    assert "proj" not in message


# -- loading ------------------------------------------------------------------------------------
def test_truncated_model_file(tmp_path: Path) -> None:
    data = matmul_model().SerializeToString()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.onnx"
        path.write_bytes(data[:cut])
        with pytest.raises(onnxjit.ModelLoadError, match="cut"):
            onnxjit.InferenceSession(path)


def test_garbage_bytes(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(np.random.default_rng(1).bytes(512))
    with pytest.raises(onnxjit.ModelLoadError, match="garbage.onnx"):
        onnxjit.InferenceSession(str(path))
    with pytest.raises(onnxjit.ModelLoadError):
        onnxjit.InferenceSession(b"this is not an onnx model")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(onnxjit.ModelLoadError, match="nope.onnx"):
        onnxjit.InferenceSession(tmp_path / "nope.onnx")


def external_model(folder: Path, location: str) -> Path:
    """The MatMul model with `w` stored externally at `location` (relative to `folder`)."""
    model = matmul_model()
    weight = model.graph.initializer[0]
    raw = weight.raw_data or W.tobytes()
    set_external_data(weight, location=location, offset=0, length=len(raw))
    weight.ClearField("raw_data")
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path opened through open()/io.open()/os.open(), or by onnx's C++ external-data
    opener, while the test runs."""
    seen: list[str] = []
    real_fd = external_data_helper._open_external_data_fd

    def fd_spy(base_dir: str, location: str, *args: object) -> int:
        seen.append(os.path.realpath(os.path.join(base_dir, location)))
        return real_fd(base_dir, location, *args)

    monkeypatch.setattr(external_data_helper, "_open_external_data_fd", fd_spy)
    real_open, real_io_open, real_os_open = builtins.open, io.open, os.open

    def spy(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(file: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(file, (str, bytes, os.PathLike)):
                seen.append(os.path.realpath(os.fsdecode(file)))
            return real(file, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(builtins, "open", spy(real_open))
    monkeypatch.setattr(io, "open", spy(real_io_open))
    monkeypatch.setattr(os, "open", spy(real_os_open))
    yield seen


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink"])
def test_external_data_outside_the_model_folder_is_refused(
        tmp_path: Path, opened: list[str], kind: str) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(W.tobytes())  # a valid payload: only the location check can stop it
    folder = tmp_path / "model"
    if kind == "parent":
        location = "../secret.bin"
    elif kind == "absolute":
        location = str(secret)
    else:
        folder.mkdir()
        (folder / "link.bin").symlink_to(secret)
        location = "link.bin"
    path = external_model(folder, location)
    opened.clear()  # only what loading opens counts
    with pytest.raises(onnxjit.ModelLoadError, match="outside the model's folder"):
        onnxjit.InferenceSession(path)
    assert str(secret.resolve()) not in opened


def test_external_data_inside_the_folder_loads_and_runs(
        tmp_path: Path, opened: list[str]) -> None:
    folder = tmp_path / "m"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "w.bin").write_bytes(W.tobytes())
    path = external_model(folder, "data/w.bin")
    opened.clear()
    session = onnxjit.InferenceSession(path)
    # The spy sees a real load, so the refusal test's "not opened" means something.
    assert str((folder / "data" / "w.bin").resolve()) in opened
    (y,) = session.run(None, {"x": X})
    np.testing.assert_allclose(y, X @ W, rtol=1e-5, atol=1e-5)


def test_external_data_as_bytes_is_refused(tmp_path: Path) -> None:
    path = external_model(tmp_path, "w.bin")
    with pytest.raises(onnxjit.ModelLoadError, match="external data"):
        onnxjit.InferenceSession(path.read_bytes())


def test_missing_external_data_file(tmp_path: Path) -> None:
    path = external_model(tmp_path, "absent.bin")
    with pytest.raises(onnxjit.ModelLoadError, match="absent.bin"):
        onnxjit.InferenceSession(path)


# -- inputs -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def session() -> onnxjit.InferenceSession:
    return onnxjit.InferenceSession(matmul_model(), threads=1)


@pytest.mark.parametrize("feeds, pattern", [
    ({"nope": X}, r"missing input\(s\) \['x'\].*unknown input\(s\) \['nope'\]"),
    ({}, r"missing input\(s\) \['x'\]"),
    ({"x": X.astype(np.float64)}, r"input 'x' has dtype float64, expected float32"),
    ({"x": X.reshape(4, 8, 1)}, r"input 'x' has shape 4x8x1, expected 4x8"),
    ({"x": X[:, :5]}, r"input 'x' has shape 4x5, expected 4x8"),
], ids=["wrong-name", "missing", "dtype", "rank", "static-dim"])
def test_bad_feeds_raise_input_error_naming_the_input(
        session: onnxjit.InferenceSession, feeds: dict[str, np.ndarray], pattern: str) -> None:
    with pytest.raises(onnxjit.InputError, match=pattern):
        session.run(None, feeds)


def test_inputs_sharing_a_named_dimension_must_agree() -> None:
    """x and y both declare ("batch", 4): sizes may vary per run but must match each other; an
    extra feed and a non-array feed (a list: float64) take the full check too."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "y"], ["z"])], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 4]) for n in ("x", "y")],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    a, b = np.ones((2, 4), np.float32), np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(session.run(None, {"x": b, "y": b})[0], b + b)
    with pytest.raises(onnxjit.InputError, match=r"dimension 'batch' is 2 in input 'x' but 3"):
        session.run(None, {"x": a, "y": b})
    with pytest.raises(onnxjit.InputError, match=r"unknown input\(s\) \['w'\]"):
        session.run(None, {"x": a, "y": a, "w": a})
    with pytest.raises(onnxjit.InputError, match=r"input 'x' has dtype float64"):   # a list
        session.run(None, {"x": a.tolist(), "y": a})


def test_unknown_output_name(session: onnxjit.InferenceSession) -> None:
    with pytest.raises(onnxjit.InputError, match="no output"):
        session.run(["nope"], {"x": X})


def test_errors_share_one_base_class() -> None:
    for cls in (onnxjit.ModelLoadError, onnxjit.UnsupportedOpsError, onnxjit.LoweringError,
                onnxjit.InputError, onnxjit.BuildError):
        assert issubclass(cls, onnxjit.OnnxJitError)


def test_op_types_onnx_does_not_know_are_listed_with_their_nodes() -> None:
    """A typo'd standard op fails onnx's checker ("No Op registered for ...", no node named);
    onnxjit lists it, with every other unknown node, by node name instead."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok"),
             helper.make_node("Reluu", ["a"], ["b"], name="typo_node"),
             helper.make_node("Sigmoidd", ["b"], ["y"], name="second_typo")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(onnxjit.UnsupportedOpsError) as info:
        onnxjit.InferenceSession(model)
    assert {(op.op_type, op.node_name) for op in info.value.ops} == {
        ("Reluu", "typo_node"), ("Sigmoidd", "second_typo")}
