"""Where: three-way numpy broadcasting, bool condition, any branch dtype."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model


@pytest.mark.parametrize("cshape,xshape,yshape", [
    ((2, 3), (2, 3), (2, 3)),
    ((3,), (2, 3), ()),
    ((2, 1), (1, 3), (2, 3)),
    ((4, 1, 1), (3, 1), (1, 5)),    # result rank above every input's trailing dims
    ((), (2, 2), (2, 2)),
])
def test_broadcasting(cshape: tuple[int, ...], xshape: tuple[int, ...],
                      yshape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(cshape) * 10 + len(xshape))
    feeds = {"c": np.asarray(rng.random(cshape) > 0.5),
             "x": np.asarray(rng.standard_normal(xshape), np.float32),
             "y": np.asarray(rng.standard_normal(yshape), np.float32)}
    model = make_model([helper.make_node("Where", ["c", "x", "y"], ["z"])], feeds, ["z"])
    assert_matches(model, feeds)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float64", "uint8"])
def test_dtypes(dtype: str) -> None:
    c = np.array([[True, False, True], [False, False, True]])
    x = np.array([1, 0, 3], dtype)
    y = np.array([[7], [0]], dtype)
    model = make_model([helper.make_node("Where", ["c", "x", "y"], ["z"])],
                       {"c": c, "x": x, "y": y}, ["z"])
    # onnxruntime's CPU Where has no bool kernel.
    assert_matches(model, {"c": c, "x": x, "y": y}, onnxruntime=dtype != "bool")


def test_constant_branch_and_runtime_condition_from_compare() -> None:
    # The usual exporter pattern: mask = Cast(x > 0); Where(mask, x, 0)
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    nodes = [helper.make_node("Cast", ["x"], ["m"], to=9),
             helper.make_node("Where", ["m", "x", "zero"], ["z"])]
    model = make_model(nodes, {"x": x}, ["z"], {"zero": np.array(-1.0, np.float32)})
    assert_matches(model, {"x": x})
