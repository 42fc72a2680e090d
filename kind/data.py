"""Paired training data: folders of low/normal-light pairs, the official patch sampling and the
8 dihedral augmentations.

Every image is read once, up front, so that unmatched names, unreadable files and pairs of
different sizes stop a run before its first step, with the files named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kind.imageio import IMAGE_SUFFIXES, natural_key, read_image
from kind.imageops import minmax_stretch

LOL_SPLITS = ("our485", "eval15")


class DataError(ValueError):
    """A dataset folder that cannot be used: the message names the files."""


def find_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """(low, high) paths of a folder with ``low/`` and ``high/`` sub-folders, matched by file name.

    Natural name order (``2.png`` before ``10.png``). A name present on one side only is an error.
    """
    folder = Path(folder)
    low_dir, high_dir = folder / "low", folder / "high"
    for sub in (low_dir, high_dir):
        if not sub.is_dir():
            hint = ""
            if any((folder / split).is_dir() for split in LOL_SPLITS):
                hint = f" (for the LOL layout, point at {folder}/our485 or {folder}/eval15)"
            raise DataError(f"{folder}: expected sub-folders low/ and high/, {sub.name}/ is missing{hint}")

    def images(sub: Path) -> dict[str, Path]:
        return {p.name: p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}

    low, high = images(low_dir), images(high_dir)
    only_low, only_high = sorted(set(low) - set(high)), sorted(set(high) - set(low))
    if only_low or only_high:
        raise DataError(
            f"{folder}: low/ and high/ do not match: only in low/: {only_low or 'none'}; "
            f"only in high/: {only_high or 'none'}"
        )
    if not low:
        raise DataError(f"{folder}: no images in low/ and high/")
    return [(low[name], high[name]) for name in sorted(low, key=natural_key)]


@dataclass
class PairedImages:
    """Low/normal-light pairs held in memory as 3×H×W float32 tensors in [0,1]."""

    names: list[str]
    low: list[Tensor]
    high: list[Tensor]

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, indices: list[int] | range) -> "PairedImages":
        return PairedImages([self.names[i] for i in indices], [self.low[i] for i in indices], [self.high[i] for i in indices])

    def __add__(self, other: "PairedImages") -> "PairedImages":
        return PairedImages(self.names + other.names, self.low + other.low, self.high + other.high)


def _load(path: Path, stretch: bool) -> Tensor:
    image = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()
    return minmax_stretch(image[None])[0] if stretch else image


def load_pairs(folder: str | Path, stretch: bool = True, min_size: int = 1) -> PairedImages:
    """Read every pair of ``folder`` (see :func:`find_pairs`), stretched like the official loader.

    Raises :class:`DataError` naming the files for an unreadable image, a pair of different sizes,
    or an image smaller than ``min_size`` on a side.
    """
    names, lows, highs = [], [], []
    for low_path, high_path in find_pairs(folder):
        try:
            low, high = _load(low_path, stretch), _load(high_path, stretch)
        except ValueError as error:
            raise DataError(str(error)) from error
        if low.shape != high.shape:
            raise DataError(
                f"{low_path} is {low.shape[2]}×{low.shape[1]} but {high_path} is {high.shape[2]}×{high.shape[1]}"
            )
        if min(low.shape[1:]) < min_size:
            raise DataError(f"{low_path}: {low.shape[2]}×{low.shape[1]} is smaller than the {min_size}-pixel patches")
        names.append(low_path.name)
        lows.append(low)
        highs.append(high)
    return PairedImages(names, lows, highs)


def split_holdout(data: PairedImages, holdout: int) -> tuple[PairedImages, PairedImages]:
    """(train, validation): the last ``holdout`` pairs (natural name order) are held out."""
    if holdout >= len(data):
        raise DataError(f"holdout {holdout} leaves no training pairs out of {len(data)}")
    cut = len(data) - holdout
    return data.subset(range(cut)), data.subset(range(cut, len(data)))


def dihedral(x: Tensor, mode: int) -> Tensor:
    """The official ``data_augmentation`` on …×H×W: 0 identity, 1 flip up-down, 2 rot90,
    3 rot90 then flip, 4 rot180, 5 rot180 then flip, 6 rot270, 7 rot270 then flip.

    Rotations are counter-clockwise (``np.rot90`` on H×W×C), flips reverse the rows.
    """
    if not 0 <= mode <= 7:
        raise ValueError(f"dihedral mode must be 0–7, got {mode}")
    x = torch.rot90(x, k=mode // 2, dims=(-2, -1))
    return torch.flip(x, dims=(-2,)) if mode % 2 else x


class PatchSampler:
    """The official batch order: each patch comes from the next image of a shuffled list, which
    is reshuffled when it wraps; crop positions and augmentation modes are drawn per patch.

    All randomness comes from one numpy Generator whose state (with the list position) is part of
    :meth:`state_dict`, so a resumed run draws the same patches.
    """

    def __init__(self, num_images: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.num_images = num_images
        self.order = self.rng.permutation(num_images)
        self.position = 0

    def next_image(self) -> int:
        if self.position == self.num_images:
            self.order = self.rng.permutation(self.num_images)
            self.position = 0
        index = int(self.order[self.position])
        self.position += 1
        return index

    def crop_box(self, height: int, width: int, patch: int) -> tuple[int, int]:
        """Top-left corner of a random ``patch``×``patch`` crop."""
        return int(self.rng.integers(0, height - patch + 1)), int(self.rng.integers(0, width - patch + 1))

    def mode(self, modes: int = 8) -> int:
        return int(self.rng.integers(0, modes))

    def uniform(self) -> float:
        return float(self.rng.random())

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "order": self.order.tolist(), "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.order = np.asarray(state["order"])
        self.position = int(state["position"])


def crop(x: Tensor, top: int, left: int, patch: int) -> Tensor:
    """A ``patch``×``patch`` crop of …×H×W at (top, left)."""
    return x[..., top : top + patch, left : left + patch]
