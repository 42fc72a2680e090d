"""Paired folders, the official patch sampling and the dihedral augmentations."""

import numpy as np
import pytest
import torch
from PIL import Image
from conftest import write_pairs

from kind.io.pairs import DataError, find_pairs
from kind.train.data import PatchSampler, PatchSource, crop, dihedral, load_pairs, split_holdout


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
    folder = tmp_path.name
    assert train.names == [f"{folder}/{i}.png" for i in (1, 2, 3)] and val.names == [f"{folder}/4.png", f"{folder}/5.png"]
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


def test_sampler_visits_every_image_once_per_pass():
    sampler = PatchSampler([(40, 50)] * 5, batch_size=2, patch=8, seed=3)
    images = torch.cat([sampler.draws(step).image for step in range(10)]).tolist()  # 4 passes of 5
    for start in range(0, 20, 5):
        assert sorted(images[start : start + 5]) == list(range(5))
    assert images[:5] != images[5:10]  # reshuffled when the list wraps


def test_sampler_draws_are_a_function_of_seed_rank_and_step():
    sizes = [(40, 50), (30, 60), (48, 48)]
    one = PatchSampler(sizes, batch_size=3, patch=8, seed=3)
    steps = [0, 1, PatchSampler.CHUNK - 1, PatchSampler.CHUNK, 3 * PatchSampler.CHUNK + 7]
    ahead = [one.draws(step) for step in steps]
    for step, expected in reversed(list(zip(steps, ahead))):  # another order, a fresh sampler: the same draws
        got = PatchSampler(sizes, batch_size=3, patch=8, seed=3).draws(step)
        assert all(torch.equal(a, b) for a, b in zip(vars(got).values(), vars(expected).values()))
    other_rank = PatchSampler(sizes, batch_size=3, patch=8, seed=3, rank=1).draws(0)
    other_seed = PatchSampler(sizes, batch_size=3, patch=8, seed=4).draws(0)
    assert not torch.equal(other_rank.top, ahead[0].top) and not torch.equal(other_seed.top, ahead[0].top)


def test_sampler_draws_stay_inside_each_image():
    sizes = [(20, 70), (64, 24)]
    sampler = PatchSampler(sizes, batch_size=4, patch=16, seed=0, modes=7)
    draws = [sampler.draws(step) for step in range(300)]
    image = torch.cat([d.image for d in draws])
    top, left, mode = (torch.cat([getattr(d, k) for d in draws]) for k in ("top", "left", "mode"))
    heights, widths = torch.tensor([20, 64])[image], torch.tensor([70, 24])[image]
    assert bool((top >= 0).all() and (top <= heights - 16).all() and (left <= widths - 16).all())
    assert set(top[image == 0].tolist()) == set(range(5)) and set(left[image == 1].tolist()) == set(range(9))
    assert set(mode.tolist()) == set(range(7))
    with pytest.raises(ValueError, match="smaller than the 32-pixel patches"):
        PatchSampler(sizes, batch_size=1, patch=32, seed=0)


def test_patch_source_cuts_like_crop_and_dihedral():
    generator = torch.Generator().manual_seed(0)
    maps = {
        "a": [torch.rand(3, 20, 31, generator=generator), torch.rand(3, 26, 18, generator=generator)],
        "b": [torch.rand(1, 20, 31, generator=generator), torch.rand(1, 26, 18, generator=generator)],
    }
    source = PatchSource(maps, torch.device("cpu"))
    sampler = PatchSampler(source.sizes, batch_size=8, patch=9, seed=1)
    for step in range(6):
        draws = sampler.draws(step)
        patches = source.cut(draws, 9)
        assert patches["a"].shape == (8, 3, 9, 9) and patches["b"].shape == (8, 1, 9, 9)
        for name in maps:
            expected = torch.stack([
                dihedral(crop(maps[name][int(i)], int(t), int(l), 9), int(m))
                for i, t, l, m in zip(draws.image, draws.top, draws.left, draws.mode)
            ])
            assert torch.equal(patches[name], expected)


def test_several_folders_concatenate_in_order_and_holdout_counts_over_them(tmp_path):
    first = write_pairs(tmp_path / "a", count=3)
    second = write_pairs(tmp_path / "b", count=2, seed=1)
    data = load_pairs([str(first), str(second)])
    assert data.names == ["a/1.png", "a/2.png", "a/3.png", "b/1.png", "b/2.png"]
    train, val = split_holdout(data, 3)
    assert train.names == ["a/1.png", "a/2.png"] and val.names == ["a/3.png", "b/1.png", "b/2.png"]
    assert load_pairs(str(first)).names == load_pairs([str(first)]).names


def test_lol_v2_layout(tmp_path):
    write_pairs(tmp_path, count=3)
    (tmp_path / "low").rename(tmp_path / "Low")
    (tmp_path / "high").rename(tmp_path / "Normal")
    for i in range(1, 4):
        (tmp_path / "Low" / f"{i}.png").rename(tmp_path / "Low" / f"low{i:05d}.png")
        (tmp_path / "Normal" / f"{i}.png").rename(tmp_path / "Normal" / f"normal{i:05d}.png")
    pairs = find_pairs(tmp_path)
    assert [(low.name, high.name) for low, high in pairs][0] == ("low00001.png", "normal00001.png")
    assert len(load_pairs(tmp_path)) == 3
    (tmp_path / "Normal" / "normal00003.png").rename(tmp_path / "Normal" / "normal00004.png")
    with pytest.raises(DataError, match=r"only in Low/: \['low00003.png'\]; only in Normal/: \['normal00004.png'\]"):
        find_pairs(tmp_path)
    (tmp_path / "Normal" / "normal00004.png").rename(tmp_path / "Normal" / "img4.png")
    with pytest.raises(DataError, match="lowNNNNN / normalNNNNN"):
        find_pairs(tmp_path)
