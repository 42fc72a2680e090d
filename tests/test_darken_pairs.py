"""scripts/darken_pairs.py: its noise model is recovered from images made with a known one, a
darker copy has the statistics of the shorter exposure, and the folder it writes."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, write_pairs
from PIL import Image

from kind.imageops import linear_to_srgb

spec = importlib.util.spec_from_file_location("darken_pairs", ROOT / "scripts" / "darken_pairs.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)

A, B = 4e-4, 2e-6  # variance a·s + b in linear light


def noisy_blocks(rng: np.random.Generator, levels: np.ndarray, size: int = 64) -> np.ndarray:
    """A linear-light image of flat 8×8 blocks at ``levels`` (one row of blocks a level), with noise A·s + B."""
    clean = np.repeat(np.repeat(rng.choice(levels, (size // 8, size // 8, 1)), 8, 0), 8, 1) * np.ones(3)
    return clean + rng.normal(size=clean.shape) * np.sqrt(A * clean + B)


def test_the_noise_model_is_recovered_from_images_made_with_it():
    rng = np.random.default_rng(0)
    images = [(linear_to_srgb(noisy_blocks(rng, np.linspace(0.02, 0.4, 20), size=128)) * 255 + 0.5).astype(np.uint8)
              for _ in range(12)]
    a, b = script.fit_noise_model(images)
    assert a == pytest.approx(A, rel=0.25)
    assert 0 <= b < 10 * B  # the intercept is small and (with 8-bit rounding) less exact


def test_a_darker_copy_has_the_mean_and_noise_of_the_shorter_exposure():
    rng = np.random.default_rng(1)
    s, k = 0.2, 0.5
    low = s + rng.normal(size=(256, 256, 3)) * np.sqrt(A * s + B)
    darker = script.to_linear(script.darker_exposure(low, k, A, B, rng))
    assert darker.mean() == pytest.approx(k * s, rel=0.01)
    assert darker.var() == pytest.approx(A * k * s + B, rel=0.1)  # not k²·(A·s + B): the noise is that of k·s


def test_the_folder_holds_darker_copies_of_the_first_pairs_and_is_the_same_on_every_run(tmp_path):
    source = write_pairs(tmp_path / "pairs", count=4)
    run = lambda out: subprocess.run([sys.executable, str(ROOT / "scripts" / "darken_pairs.py"), f"{source}:3",  # noqa: E731
                                      "--out", str(out), "--factors", "0.6", "0.8"], capture_output=True, text=True)
    assert run(tmp_path / "a").returncode == 0 and run(tmp_path / "b").returncode == 0
    names = sorted(p.name for p in (tmp_path / "a" / "low").iterdir())
    assert names == ["1.png", "2.png", "3.png"] == sorted(p.name for p in (tmp_path / "a" / "high").iterdir())
    for name in names:
        low = np.asarray(Image.open(source / "low" / name), np.float64)
        darker = np.asarray(Image.open(tmp_path / "a" / "low" / name), np.float64)
        assert darker.mean() < low.mean()
        np.testing.assert_array_equal(Image.open(tmp_path / "a" / "high" / name), Image.open(source / "high" / name))
        np.testing.assert_array_equal(darker, np.asarray(Image.open(tmp_path / "b" / "low" / name), np.float64))
    again = run(tmp_path / "a")
    assert again.returncode != 0 and "already there" in again.stderr
