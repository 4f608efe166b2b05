"""Einsum: matmul-like, diagonal, reduction, transpose, ellipsis and implicit-output equations."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.helpers import assert_matches, make_model

CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ii->i", [(4, 4)]),
    ("ij->", [(3, 4)]),
    ("ij", [(3, 4)]),
    ("ji", [(3, 4)]),
    ("...ij,...jk", [(2, 3, 4), (2, 4, 5)]),
    ("i,i", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("b i d, b j d -> b i j", [(1, 2, 3), (1, 4, 3)]),
]


@pytest.mark.parametrize("equation,shapes", CASES)
def test_equations(equation: str, shapes: list[tuple[int, ...]]) -> None:
    rng = np.random.default_rng(0)
    feeds = {f"x{i}": rng.standard_normal(s).astype(np.float32) for i, s in enumerate(shapes)}
    model = make_model([helper.make_node("Einsum", list(feeds), ["y"], equation=equation)],
                       feeds, ["y"])
    assert_matches(model, feeds, rtol=1e-5, atol=1e-5)


def test_integer_operands() -> None:
    a, b = np.arange(6, dtype=np.int64).reshape(2, 3), np.arange(12, dtype=np.int64).reshape(3, 4)
    model = make_model([helper.make_node("Einsum", ["a", "b"], ["y"], equation="ij,jk->ik")],
                       {"a": a, "b": b}, ["y"])
    assert_matches(model, {"a": a, "b": b}, rtol=0, atol=0)

