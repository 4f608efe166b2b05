"""Gather: any axis, negative indices at run time, constant or run-time indices of any rank."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

X = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
INDICES = [np.array([0, -1, 2], np.int64), np.array([[1, 0], [-2, 2]], np.int32),
           np.array(-1, np.int64), np.array(2, np.int32), np.array([-3], np.int64)]


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("index_case", range(len(INDICES)))
@pytest.mark.parametrize("runtime", [False, True])
def test_indices(axis: int, index_case: int, runtime: bool) -> None:
    idx = INDICES[index_case]
    feeds = {"x": X, "i": idx} if runtime else {"x": X}
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=axis)], feeds, ["y"],
                       None if runtime else {"i": idx})
    assert_matches(model, feeds, rtol=0, atol=0)


def test_embedding_lookup_int64_table() -> None:
    table = np.arange(10 * 4, dtype=np.int64).reshape(10, 4) * 3 - 50
    ids = np.array([[9, 0, -10, 3]], np.int64)
    model = make_model([helper.make_node("Gather", ["t", "ids"], ["y"])], {"ids": ids}, ["y"],
                       {"t": table})
    assert_matches(model, {"ids": ids}, rtol=0, atol=0)


def test_bool_data_rank1_scalar_index() -> None:
    x = np.array([True, False, True])
    feeds = {"x": x, "i": np.array(-2, np.int64)}
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"])], feeds, ["y"])
    assert_matches(model, feeds)


def test_out_of_range_runtime_index_stays_in_bounds() -> None:
    # ONNX leaves this undefined (onnxruntime raises); onnxjit clamps rather than read out of
    # bounds.
    x = np.arange(4, dtype=np.float32)
    feeds = {"x": x, "i": np.array([7, -9, 1], np.int64)}
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"])], feeds, ["y"])
    got = onnxjit.InferenceSession(model.SerializeToString(), threads=1).run(None, feeds)[0]
    np.testing.assert_array_equal(got, np.array([3, 0, 1], np.float32))


def test_out_of_range_constant_index_is_refused() -> None:
    model = make_model([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)], {"x": X}, ["y"],
                       {"i": np.array([0, 4], np.int64)})
    with pytest.raises(onnxjit.LoweringError, match="out of range"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
