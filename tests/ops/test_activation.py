"""HardSigmoid, HardSwish, LeakyRelu, Elu, Selu, Mish against the reference evaluator and onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

OPS = {"HardSigmoid": {"alpha": 0.3, "beta": 0.4}, "HardSwish": {}, "LeakyRelu": {"alpha": 0.2},
       "Elu": {"alpha": 0.7}, "Selu": {"alpha": 1.5, "gamma": 1.1}, "Mish": {}}


def _x(dtype: str) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((3, 17)) * 4
    return np.concatenate([x.reshape(-1), [-3.0, 3.0, 0.0, -30.0, 30.0]]).astype(dtype)


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("attrs", [False, True])
def test_float32(op: str, attrs: bool) -> None:
    x = _x("float32")
    node = helper.make_node(op, ["x"], ["y"], **(OPS[op] if attrs else {}))
    assert_matches(make_model([node], {"x": x}, ["y"]), {"x": x}, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", sorted(OPS))
def test_float16_and_nan(op: str) -> None:
    x = _x("float16")
    assert_matches(make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"]), {"x": x},
                   rtol=2e-3, atol=1e-3)
    nan = np.array([np.nan, 1.0], np.float32)
    assert_matches(make_model([helper.make_node(op, ["x"], ["y"])], {"x": nan}, ["y"]), {"x": nan})
