"""Pruned MatMul / Gemm weights run as sparse 1x1 convs; dense ones keep the dense MatMul kernel."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model


def _weight(k: int, n: int, zeros: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((k, n)) * (rng.random((k, n)) >= zeros)
    return w.astype(np.float32)


def _impls(model, feeds) -> list[tuple[tuple[str, ...], object]]:
    session = onnxjit.InferenceSession(model.SerializeToString(), threads=1)
    compiled = session.compiled(feeds)
    return [(k.op_types, compiled.choices[k.name][1].get("impl")) for k in compiled.kernels]


@pytest.mark.parametrize("x_shape", [(1, 96), (2, 20, 96), (96,)])
def test_pruned_matmul_runs_sparse(x_shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).standard_normal(x_shape).astype(np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": x}, ["y"],
                       {"w": _weight(96, 40, 0.92)})
    assert ((("Conv",), "sparse") in _impls(model, {"x": x}))
    assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-4)


def test_pruned_gemm_folds_alpha_beta_bias() -> None:
    x = np.random.default_rng(2).standard_normal((24, 64)).astype(np.float32)
    w = np.ascontiguousarray(_weight(64, 48, 0.9, seed=3).T)
    c = np.random.default_rng(4).standard_normal(48).astype(np.float32)
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1, alpha=0.5, beta=2.0)
    model = make_model([node], {"x": x}, ["y"], {"w": w, "c": c})
    assert ((("Conv",), "sparse") in _impls(model, {"x": x}))
    assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rows,zeros", [(1, 0.7), (32, 0.3)])
def test_dense_enough_weights_stay_matmul(rows: int, zeros: float) -> None:
    """A batch-1 layer needs 80% zeros (its dense form is a GEMV); wider ones the conv's 30%."""
    x = np.random.default_rng(5).standard_normal((rows, 64)).astype(np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": x}, ["y"],
                       {"w": _weight(64, 64, zeros)})
    assert all(ops != ("Conv",) for ops, _ in _impls(model, {"x": x}))
    assert_matches(model, {"x": x}, rtol=1e-4, atol=1e-4)
