"""Paired folders, the official patch sampling and the dihedral augmentations."""

import numpy as np
import pytest
import torch
from conftest import write_pairs
from PIL import Image

from kind.data import DataError, PatchSampler, dihedral, find_pairs, load_pairs, split_holdout


def official_augmentation(image: np.ndarray, mode: int) -> np.ndarray:
    """The official data_augmentation on H×W×C (numpy), for reference."""
    rotated = np.rot90(image, k=mode // 2)
    return np.flipud(rotated) if mode % 2 else rotated


@pytest.mark.parametrize("mode", range(8))
def test_dihedral_matches_the_official_augmentation(mode):
    image = np.random.default_rng(mode).random((5, 7, 3)).astype(np.float32)
    ours = dihedral(torch.from_numpy(image).permute(2, 0, 1), mode).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(ours, official_augmentation(image, mode))


def test_dihedral_modes_are_all_different():
    x = torch.arange(12.0).view(1, 3, 4)[:, :, :3].reshape(1, 3, 3)
    outs = {tuple(dihedral(x, m).flatten().tolist()) for m in range(8)}
    assert len(outs) == 8
    with pytest.raises(ValueError, match="0–7"):
        dihedral(x, 8)


def test_pairs_in_natural_order_and_stretched(tmp_path):
    write_pairs(tmp_path, count=11)
    pairs = find_pairs(tmp_path)
    assert [low.name for low, _ in pairs][:3] == ["1.png", "2.png", "3.png"]
    assert pairs[-1][0].name == "11.png"
    data = load_pairs(tmp_path)
    for image in data.low + data.high:
        assert image.shape == (3, 40, 56)
        assert image.min() == 0 and image.max() == 1
    raw = load_pairs(tmp_path, stretch=False)
    assert raw.low[0].max() < 0.5


def test_holdout_takes_the_last_pairs(tmp_path):
    data = load_pairs(write_pairs(tmp_path, count=5))
    train, val = split_holdout(data, 2)
    assert train.names == ["1.png", "2.png", "3.png"] and val.names == ["4.png", "5.png"]
    with pytest.raises(DataError, match="leaves no training pairs"):
        split_holdout(data, 5)


def test_unmatched_names_are_listed(tmp_path):
    write_pairs(tmp_path, count=3)
    (tmp_path / "high" / "2.png").rename(tmp_path / "high" / "20.png")
    with pytest.raises(DataError, match=r"only in low/: \['2.png'\]; only in high/: \['20.png'\]"):
        find_pairs(tmp_path)


def test_missing_subfolder_hints_at_the_lol_layout(tmp_path):
    (tmp_path / "our485").mkdir()
    with pytest.raises(DataError, match="point at .*our485"):
        find_pairs(tmp_path)


def test_unreadable_image_is_named(tmp_path):
    write_pairs(tmp_path, count=2)
    (tmp_path / "low" / "2.png").write_text("not an image")
    with pytest.raises(DataError, match=r"low/2.png"):
        load_pairs(tmp_path)


def test_pair_of_different_sizes_is_named(tmp_path):
    write_pairs(tmp_path, count=2)
    Image.new("RGB", (10, 10)).save(tmp_path / "high" / "2.png")
    with pytest.raises(DataError, match=r"low/2.png is 56×40 but .*high/2.png is 10×10"):
        load_pairs(tmp_path)


def test_image_smaller_than_the_patch_is_named(tmp_path):
    write_pairs(tmp_path, count=2, height=20, width=30)
    with pytest.raises(DataError, match="smaller than the 48-pixel patches"):
        load_pairs(tmp_path, min_size=48)


def test_sampler_visits_every_image_once_per_pass_and_resumes():
    sampler = PatchSampler(5, seed=3)
    first_pass = [sampler.next_image() for _ in range(5)]
    assert sorted(first_pass) == list(range(5))
    state = sampler.state_dict()
    ahead = [(sampler.next_image(), sampler.crop_box(40, 50, 8), sampler.mode()) for _ in range(7)]
    resumed = PatchSampler(5, seed=99)
    resumed.load_state_dict(state)
    assert [(resumed.next_image(), resumed.crop_box(40, 50, 8), resumed.mode()) for _ in range(7)] == ahead
