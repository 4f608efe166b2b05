"""Resize: nearest (four rounding modes) and linear, over the coordinate transformation modes,
from scales or sizes, with axes and keep_aspect_ratio_policy; unsupported modes are refused."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxjit
from tests.helpers import assert_matches, make_model

X = np.random.default_rng(0).standard_normal((1, 2, 5, 6)).astype(np.float32)
EMPTY = np.zeros(0, np.float32)
COORDS = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
          "asymmetric"]


def _model(mode: str, scales: list[float] | None = None, sizes: list[int] | None = None,
           x: np.ndarray = X, **attrs: object) -> object:
    inits: dict[str, np.ndarray] = {"roi": EMPTY}
    inputs = ["x", "roi"]
    if scales is not None:
        inits["scales"] = np.array(scales, np.float32)
        inputs.append("scales")
    else:
        inputs += ["", "sizes"]
        inits["sizes"] = np.array(sizes, np.int64)
    node = helper.make_node("Resize", inputs, ["y"], mode=mode, **attrs)
    return make_model([node], {"x": x}, ["y"], initializers=inits, opset=19)


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 0.6, 0.5], [1, 1, 1.5, 1.25]])
def test_linear_scales(coord: str, scales: list[float]) -> None:
    model = _model("linear", scales, coordinate_transformation_mode=coord)
    assert_matches(model, {"x": X}, rtol=1e-5, atol=1e-5,
                   onnxruntime=coord != "align_corners" or _integral(scales))


def _integral(scales: list[float]) -> bool:
    """Whether scale * size is whole on every axis. align_corners divides by the scaled length
    minus one: the spec (and the reference) take it unrounded, onnxruntime rounds it down."""
    return all(float(s * d).is_integer() for s, d in zip(scales, X.shape))


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("sizes", [[1, 2, 9, 4], [1, 2, 3, 13]])
def test_linear_sizes(coord: str, sizes: list[int]) -> None:
    model = _model("linear", sizes=sizes, coordinate_transformation_mode=coord)
    assert_matches(model, {"x": X}, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"])
@pytest.mark.parametrize("coord", ["half_pixel", "asymmetric", "align_corners"])
def test_nearest(nearest_mode: str, coord: str) -> None:
    for scales in ([1, 1, 2, 2], [1, 1, 0.5, 0.75]):
        model = _model("nearest", scales, coordinate_transformation_mode=coord,
                       nearest_mode=nearest_mode)
        assert_matches(model, {"x": X}, rtol=0, atol=0,
                       onnxruntime=coord != "align_corners" or _integral(scales))


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
def test_sizes_with_axes_and_aspect_policy(policy: str) -> None:
    inits = {"roi": EMPTY, "sizes": np.array([7, 8], np.int64)}
    node = helper.make_node("Resize", ["x", "roi", "", "sizes"], ["y"], mode="nearest",
                            axes=[3, 2], keep_aspect_ratio_policy=policy)
    model = make_model([node], {"x": X}, ["y"], initializers=inits, opset=19)
    assert_matches(model, {"x": X}, rtol=0, atol=0)


def test_integer_image_nearest_upsample() -> None:
    x = np.random.default_rng(1).integers(0, 255, (1, 3, 4, 4)).astype(np.uint8)
    model = _model("nearest", [1, 1, 2, 2], x=x)
    assert_matches(model, {"x": x}, rtol=0, atol=0)


def test_cubic_is_refused_with_the_node_named() -> None:
    model = _model("cubic", [1, 1, 2, 2])
    with pytest.raises(onnxjit.LoweringError, match="Resize.*cubic"):
        onnxjit.InferenceSession(model.SerializeToString(), threads=1)
