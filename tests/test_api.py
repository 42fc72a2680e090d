"""The Python API, kind.KinD: inputs and outputs of every kind, batching, tiling, the size limit,
and that ``kind enhance`` runs the same implementation. Random weights, tiny images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from kind import KinD
from kind.cli import main
from kind.imageops import minmax_stretch, to_uint8
from kind.inference.pipeline import enhance_general
from kind.io.read import ImageReadError

H, W = 20, 27  # odd on purpose


def _dark(height: int = H, width: int = W, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    return (30 + 15 * np.sin(xx / 4.0) * np.cos(yy / 5.0) + rng.integers(0, 10, (height, width)))[..., None].repeat(3, 2).astype(np.uint8) + np.arange(3, dtype=np.uint8)


@pytest.fixture(scope="module")
def model(weights_dir: Path) -> KinD:
    return KinD.from_pretrained(weights_dir, device="cpu")


def test_ndarray_in_ndarray_out_equals_the_pipeline(model):
    image = _dark()
    out = model(image)
    assert out.dtype == np.uint8 and out.shape == (H, W, 3)
    x = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None].contiguous()
    expected = to_uint8(enhance_general(model.runner, minmax_stretch(x), 5.0).output[0].permute(1, 2, 0).float().numpy())
    np.testing.assert_array_equal(out, expected)


def test_pil_in_pil_out_with_alpha_and_icc(model):
    alpha = np.random.default_rng(1).integers(0, 256, (H, W), dtype=np.uint8)
    image = Image.fromarray(np.dstack([_dark(), alpha]), "RGBA")
    image.info["icc_profile"] = b"profile"
    out = model(image)
    assert isinstance(out, Image.Image) and out.mode == "RGBA" and out.size == (W, H)
    np.testing.assert_array_equal(np.asarray(out)[..., 3], alpha)
    np.testing.assert_array_equal(np.asarray(out)[..., :3], model(_dark()))
    assert out.info["icc_profile"] == b"profile"
    assert model(Image.fromarray(_dark()[..., 0])).mode == "RGB"  # grey in, colour out


def test_tensor_in_float_tensor_out(model):
    image = _dark()
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    out = model(x, ratio="auto")
    assert out.dtype == torch.float32 and out.shape == (1, 3, H, W) and out.device == x.device
    assert 0 <= out.min() and out.max() <= 1
    assert len(torch.unique(out)) > 256  # not quantised
    as_uint8 = to_uint8(out[0].permute(1, 2, 0).numpy())
    assert np.abs(as_uint8.astype(int) - model(image, ratio="auto").astype(int)).max() <= 1


def test_lists_are_batched_by_size(model, monkeypatch):
    images = [_dark(seed=0), _dark(seed=1), _dark(11, 13, seed=2), _dark(seed=3)]
    batches = []
    decompose = model.runner.decompose

    def recording(x):
        batches.append(x.shape[0])
        return decompose(x)

    monkeypatch.setattr(model.runner, "decompose", recording)
    outputs = model(images)
    assert sorted(batches) == [1, 3]  # the three H×W images together, the odd one alone
    for image, output in zip(images, outputs):
        assert np.abs(output.astype(int) - model(image).astype(int)).max() <= 1


def test_decompose_shapes(model):
    reflectance, illumination = model.decompose(_dark())
    assert reflectance.shape == (H, W, 3) and illumination.shape == (H, W)
    assert reflectance.dtype == illumination.dtype == np.float32
    r, l = model.decompose(torch.rand(2, 3, H, W))
    assert r.shape == (2, 3, H, W) and l.shape == (2, 1, H, W)


def test_tiled_through_the_api_matches_untiled(model):
    image = _dark(96, 130, seed=5)
    whole = model(image)
    tiled = KinD(model.runner, tile=48)(image)
    mse = np.mean((whole.astype(float) - tiled.astype(float)) ** 2)
    assert 10 * np.log10(255**2 / mse) >= 40


@pytest.mark.parametrize("bad, error", [
    (np.zeros((4, 5, 3), np.float32), TypeError), (np.zeros((4, 5, 2), np.uint8), ValueError),
    (torch.zeros(3, 4, 5), ValueError), ("photo.jpg", TypeError),
])  # fmt: skip
def test_bad_inputs(model, bad, error):
    with pytest.raises(error, match="image"):
        model(bad)


def test_bad_ratio(model):
    with pytest.raises(ValueError, match="ratio"):
        model(_dark(), ratio="bright")


def test_max_pixels_refuses_before_any_work(model, monkeypatch):
    monkeypatch.setattr(model.runner, "decompose", lambda x: pytest.fail("the networks ran"))
    small = KinD(model.runner, max_pixels=H * W - 1)
    for image in (_dark(), torch.rand(1, 3, H, W)):
        with pytest.raises(ImageReadError, match="too large"):
            small(image)
        with pytest.raises(ImageReadError, match="too large"):
            small.decompose(image)


def test_kind_enhance_runs_the_api(tmp_path, model, weights_dir):
    """One implementation: the CLI's file is the API's array, byte for byte."""
    Image.fromarray(_dark()).save(tmp_path / "x.png")
    assert main(["enhance", str(tmp_path / "x.png"), "-o", str(tmp_path / "out"), "--weights", str(weights_dir),
                 "--quiet", "--ratio", "auto"]) == 0
    with Image.open(tmp_path / "out" / "x.png") as written:
        np.testing.assert_array_equal(np.asarray(written), model(_dark(), ratio="auto"))
