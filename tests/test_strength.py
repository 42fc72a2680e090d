"""The denoise strength (``--strength``, ``strength=``): the output uses ``R + s·(R̂ − R)``; 1 (the
default) leaves every output as it was, 0 keeps the unrestored reflectance. Random weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kind.api import KinD
from kind.cli import main
from kind.imageops import minmax_stretch
from kind.inference.pipeline import denoised, enhance_general
from kind.io.read import read_image


def _photo(height: int = 40, width: int = 56, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(3, 80, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def model(weights_dir) -> KinD:
    return KinD.from_pretrained(weights_dir, device="cpu")


class _NoRestoration:
    """The runner with the restoration net left out: R̂ = R."""

    def __init__(self, runner):
        self.runner = runner

    def decompose(self, x):
        return self.runner.decompose(x)

    def restore_reflectance(self, reflectance, illumination):
        return reflectance

    def adjust_illumination(self, illumination, ratio):
        return self.runner.adjust_illumination(illumination, ratio)


def test_the_default_is_kinds_restoration_byte_for_byte(model):
    image = _photo()
    default = model(image)
    assert np.array_equal(default, model(image, strength=1.0))
    x = minmax_stretch(torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None])
    assert torch.equal(enhance_general(model.runner, x, 5.0).output, enhance_general(model.runner, x, 5.0, strength=1).output)


def test_zero_keeps_the_unrestored_reflectance(model):
    image = _photo()
    x = minmax_stretch(torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None])
    plain = enhance_general(_NoRestoration(model.runner), x, 3.0).output
    assert torch.equal(enhance_general(model.runner, x, 3.0, strength=0).output, plain)
    assert not np.array_equal(model(image, 3.0, strength=0), model(image, 3.0))


def test_between_is_the_linear_blend(model):
    image = _photo()
    x = minmax_stretch(torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None])
    half = enhance_general(model.runner, x, 2.0, strength=0.25)
    reflectance, illumination = model.runner.decompose(x)
    restored = model.runner.restore_reflectance(reflectance, illumination)
    assert torch.allclose(half.restored, reflectance + 0.25 * (restored - reflectance), atol=1e-6)
    assert denoised(reflectance, restored, 1.0) is restored


def test_every_entry_point_takes_it(model, weights_dir):
    image = _photo(70, 90)
    expected = model(image, 2.0, strength=0.5)
    assert np.array_equal(KinD.from_pretrained(weights_dir, device="cpu", strength=0.5)(image, 2.0), expected)
    assert np.array_equal(model.enhance_samples(image, 2.0, strength=0.5).output, expected)
    assert np.array_equal(model.prepare(image).relight(2.0, strength=0.5), expected)
    tiled = KinD.from_pretrained(weights_dir, device="cpu", tile=32)
    assert not np.array_equal(tiled(image, 2.0, strength=0.0), tiled(image, 2.0))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5"])
def test_bad_strengths_are_refused(model, bad):
    with pytest.raises(ValueError, match="strength: expected a number from 0 to 1"):
        model(_photo(), strength=bad)


def test_kind_enhance_strength(model, weights_dir, tmp_path, capsys):
    from PIL import Image

    image = _photo()
    Image.fromarray(image).save(tmp_path / "dark.png")
    common = [str(tmp_path / "dark.png"), "--weights", str(weights_dir), "--device", "cpu", "--quiet", "--ratio", "3"]
    assert main(["enhance", *common, "-o", str(tmp_path / "default")]) == 0
    assert main(["enhance", *common, "-o", str(tmp_path / "one"), "--strength", "1"]) == 0
    assert main(["enhance", *common, "-o", str(tmp_path / "half"), "--strength", "0.5"]) == 0
    assert (tmp_path / "default" / "dark.png").read_bytes() == (tmp_path / "one" / "dark.png").read_bytes()
    assert np.array_equal(read_image(tmp_path / "half" / "dark.png").samples, model(image, 3.0, strength=0.5))
    with pytest.raises(SystemExit):
        main(["enhance", *common, "-o", str(tmp_path / "bad"), "--strength", "2"])
    assert "--strength: expected a number from 0 to 1, got '2'" in capsys.readouterr().err
