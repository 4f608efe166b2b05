"""Floor, Ceil, Round (halves to even), Sin, Cos."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model


@pytest.mark.parametrize("op", ["Floor", "Ceil", "Round", "Sin", "Cos"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_values(op: str, dtype: str) -> None:
    x = np.concatenate([np.random.default_rng(1).standard_normal(20) * 5,
                        [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.0, np.inf, -np.inf, np.nan]])
    x = x.astype(dtype)
    if op in ("Sin", "Cos"):
        x = x[np.isfinite(x)]
    tol = 2e-3 if dtype == "float16" else 1e-6
    assert_matches(make_model([helper.make_node(op, ["x"], ["y"])], {"x": x}, ["y"]), {"x": x},
                   rtol=tol, atol=tol)


def test_round_halves_to_even() -> None:
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], np.float32)
    model = make_model([helper.make_node("Round", ["x"], ["y"])], {"x": x}, ["y"])
    assert_matches(model, {"x": x}, rtol=0, atol=0)
