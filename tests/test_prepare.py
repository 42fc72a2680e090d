"""KinD.prepare / Prepared.relight: the decomposition and restoration once, then any ratio with the
pixels of ``model(image, ratio)``, for both pipelines, untiled and tiled. Random weights, tiny images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from kind import KinD
from kind.imageops import minmax_stretch, to_uint8
from kind.inference.pipeline import enhance_lol

H, W = 36, 45


def _dark(height: int = H, width: int = W, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(5, 60, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def model(weights_dir: Path) -> KinD:
    return KinD.from_pretrained(weights_dir, device="cpu")


class _Counting:
    """A runner wrapper counting the calls of each network."""

    def __init__(self, runner):
        self.runner, self.calls = runner, {"decompose": 0, "restore_reflectance": 0, "adjust_illumination": 0}

    def __getattr__(self, name):
        method = getattr(self.runner, name)

        def counted(*args):
            self.calls[name] += 1
            return method(*args)

        return counted


@pytest.mark.parametrize("pipeline", ["photo", "lol"])
@pytest.mark.parametrize("ratio", [0.5, 1.0, 3.25, 5.0, 9.0, "auto"])
def test_relight_equals_the_model(model, pipeline, ratio):
    image = _dark()
    prepared = model.prepare(image)
    out = prepared.relight(ratio, pipeline=pipeline)
    assert torch.equal(torch.from_numpy(out), torch.from_numpy(model(image, ratio, pipeline=pipeline)))


def test_relight_of_a_pil_image_is_pil_with_its_alpha(model):
    alpha = np.random.default_rng(1).integers(0, 256, (H, W), dtype=np.uint8)
    image = Image.fromarray(np.dstack([_dark(), alpha]), "RGBA")
    out = model.prepare(image).relight(2.0)
    assert isinstance(out, Image.Image) and out.mode == "RGBA"
    assert torch.equal(torch.from_numpy(np.array(out)), torch.from_numpy(np.array(model(image, 2.0))))


def test_the_lol_pipeline_is_the_protocols_product(model):
    """pipeline='lol' is the LOL protocol's R̂·L̂ of the stretched image (kind eval's official path)."""
    image = _dark()
    x = minmax_stretch(torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None].contiguous())
    expected = to_uint8(enhance_lol(model.runner, x, None, 3.0).output[0].permute(1, 2, 0).float().numpy())
    assert torch.equal(torch.from_numpy(model.prepare(image).relight(3.0, pipeline="lol")), torch.from_numpy(expected))
    assert not np.array_equal(expected, model(image, 3.0))  # the photo pipeline differs


@pytest.mark.parametrize("pipeline", ["photo", "lol"])
def test_tiled_relight_equals_the_tiled_model(weights_dir, pipeline):
    tiled = KinD.from_pretrained(weights_dir, device="cpu", tile=32)
    image = _dark(70, 90, seed=3)
    prepared = tiled.prepare(image)
    for ratio in (2.0, "auto"):
        assert torch.equal(torch.from_numpy(prepared.relight(ratio, pipeline=pipeline)),
                           torch.from_numpy(tiled(image, ratio, pipeline=pipeline)))


def test_auto_ratio_is_the_one_auto_uses(model, weights_dir):
    image = _dark()
    prepared = model.prepare(image)
    assert prepared.photo("auto").ratio == pytest.approx(prepared.auto_ratio, abs=0)
    assert model.enhance_samples(image, "auto").ratio == prepared.auto_ratio
    tiled = KinD.from_pretrained(weights_dir, device="cpu", tile=32)
    big = _dark(70, 90, seed=3)
    assert tiled.prepare(big).auto_ratio == tiled.enhance_samples(big, "auto").ratio


def test_relight_runs_only_the_adjustment(model):
    image = _dark()
    counting = _Counting(model.runner)
    probe = KinD(counting)
    prepared = probe.prepare(image)
    before = dict(counting.calls)
    assert before["decompose"] == 1 and before["restore_reflectance"] == 1
    for ratio in (1.0, 2.0, 7.5, "auto"):
        prepared.relight(ratio)
    assert counting.calls["decompose"] == before["decompose"]
    assert counting.calls["restore_reflectance"] == before["restore_reflectance"]
    assert counting.calls["adjust_illumination"] == before["adjust_illumination"] + 4


def test_prepare_refuses_bad_input(model):
    with pytest.raises(TypeError, match="PIL image or a numpy array"):
        model.prepare(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="pipeline"):
        model.prepare(_dark()).relight(2.0, pipeline="gamma")
    with pytest.raises(ValueError, match="ratio"):
        model.prepare(_dark()).relight(-1.0)
    small = KinD(model.runner, max_pixels=100)
    with pytest.raises(ValueError, match="pixels"):
        small.prepare(_dark())
