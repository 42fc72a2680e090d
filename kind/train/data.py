"""Paired training data: folders of low/normal-light pairs, the official patch sampling and the
8 dihedral augmentations, cut on the training device by one gather.

Every image is read once, up front, so that unmatched names, unreadable files and pairs of
different sizes stop a run before its first step, with the files named.

Layouts (:func:`find_pairs`): LOL v1's ``low/`` + ``high/`` with equal file names, and LOL-v2's
``Low/`` + ``Normal/`` with ``lowNNNNN`` / ``normalNNNNN`` names. Several folders are read in the
order given and concatenated (:func:`load_pairs`); pairs are matched within each folder.

Sampling (:class:`PatchSampler`) follows the official scheme: each patch comes from the next image
of a shuffled list that is reshuffled when it wraps, with a uniform crop position and a uniform
dihedral mode. The draws of a step are a pure function of ``(seed, rank, step)``, so a resumed run
needs only its step to draw the same patches, and each rank of a distributed run draws its own.
:class:`PatchSource` holds the images on the device and cuts a whole batch (crops and modes) with
one gather.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from kind.imageops import minmax_stretch
from kind.io.pairs import DataError, find_pairs
from kind.io.read import read_image
from kind.train.config import folder_list


@dataclass
class PairedImages:
    """Low/normal-light pairs held in memory as 3×H×W float32 tensors in [0,1]; ``names`` are
    ``folder/low file name``, which identify the training set a checkpoint was made on."""

    names: list[str]
    low: list[Tensor]
    high: list[Tensor]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, part: slice) -> "PairedImages":
        return PairedImages(self.names[part], self.low[part], self.high[part])

    def __add__(self, other: "PairedImages") -> "PairedImages":
        return PairedImages(self.names + other.names, self.low + other.low, self.high + other.high)

    def stretched(self) -> "PairedImages":
        """The pairs min-max stretched like the official loader (new tensors; these are kept)."""
        return PairedImages(self.names, [_stretch(x) for x in self.low], [_stretch(x) for x in self.high])


def _stretch(image: Tensor) -> Tensor:
    """A 3×H×W image stretched by its own min and max (:func:`kind.imageops.minmax_stretch`)."""
    return minmax_stretch(image[None])[0]


def _load(path: Path, stretch: bool) -> Tensor:
    image = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()
    return _stretch(image) if stretch else image


Listed = list[tuple[str, tuple[Path, Path]]]  # (folder, (low path, high path)) of each pair


def list_pairs(folders: str | Path | list[str]) -> Listed:
    """The pairs of one folder or a list of folders, in order (see :func:`find_pairs`), not read."""
    return [(folder, pair) for folder in ([str(folders)] if isinstance(folders, (str, Path)) else folder_list(folders))
            for pair in find_pairs(folder)]


def load_pairs(folders: str | Path | list[str], stretch: bool = True, min_size: int = 1) -> PairedImages:
    """Read every pair of one folder or a list of folders, in order (see :func:`find_pairs`),
    stretched like the official loader (:func:`read_pairs`)."""
    listed = list_pairs(folders)
    if not listed:
        raise DataError("no training folders given")
    return read_pairs(listed, stretch, min_size)


def read_pairs(listed: Listed, stretch: bool = True, min_size: int = 1) -> PairedImages:
    """Read the pairs ``listed`` (:func:`list_pairs`), stretched like the official loader when ``stretch``.

    Raises :class:`DataError` naming the files for an unreadable image, a pair of different sizes,
    or an image smaller than ``min_size`` on a side.
    """
    names, lows, highs = [], [], []
    for folder, (low_path, high_path) in listed:
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
        names.append(f"{Path(folder).name}/{low_path.name}")
        lows.append(low)
        highs.append(high)
    return PairedImages(names, lows, highs)


Split = TypeVar("Split", PairedImages, Listed)


def split_holdout(data: Split, holdout: int) -> tuple[Split, Split]:
    """(train, validation): the last ``holdout`` pairs (in the order listed or loaded) are held out."""
    if holdout >= len(data):
        raise DataError(f"holdout {holdout} leaves no training pairs out of {len(data)}")
    cut = len(data) - holdout
    return data[:cut], data[cut:]


def dihedral(x: Tensor, mode: int) -> Tensor:
    """The official ``data_augmentation`` on …×H×W: 0 identity, 1 flip up-down, 2 rot90,
    3 rot90 then flip, 4 rot180, 5 rot180 then flip, 6 rot270, 7 rot270 then flip.

    Rotations are counter-clockwise (``np.rot90`` on H×W×C), flips reverse the rows.
    """
    if not 0 <= mode <= 7:
        raise ValueError(f"dihedral mode must be 0–7, got {mode}")
    x = torch.rot90(x, k=mode // 2, dims=(-2, -1))
    return torch.flip(x, dims=(-2,)) if mode % 2 else x


def crop(x: Tensor, top: int, left: int, patch: int) -> Tensor:
    """A ``patch``×``patch`` crop of …×H×W at (top, left)."""
    return x[..., top : top + patch, left : left + patch]


# --- sampling ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatchDraws:
    """What one step samples, for N patches: (N,) int64 ``image``, ``top``, ``left``, ``mode``
    and (N,) float64 ``coin`` uniform in [0, 1) (the adjustment stage's brighten/darken choice)."""

    image: Tensor
    top: Tensor
    left: Tensor
    mode: Tensor
    coin: Tensor

    def to(self, device: torch.device) -> "PatchDraws":
        return PatchDraws(*(t.to(device, non_blocking=True) for t in (self.image, self.top, self.left, self.mode, self.coin)))


class PatchSampler:
    """The official batch order, stateless: patch ``q = step·batch + i`` of a rank comes from
    position ``q mod K`` of epoch ``q div K``'s shuffled list of the K images; crop corner, mode and
    coin are uniform draws. Everything a step draws is a pure function of ``(seed, rank, step)``.

    Draws are made ``chunk`` steps at a time on the host (vectorised numpy) and sliced per step.

    Args:
        sizes: (height, width) of each training image.
        batch_size, patch: patches per step and their side.
        seed, rank: the run's seed and this process's rank (ranks draw different patches).
        modes: augmentation modes drawn from ``0 … modes-1`` (8; the adjustment stage uses 7).
        phase: the phase of a progressive-patch schedule (0: the first, whose draws are those of a
            run without a schedule); each phase draws its own sequence from its own step 0.
    """

    CHUNK = 256

    def __init__(self, sizes: list[tuple[int, int]], batch_size: int, patch: int, seed: int, rank: int = 0, modes: int = 8,
                 phase: int = 0):
        if not sizes:
            raise ValueError("PatchSampler: no images")
        small = [i for i, (h, w) in enumerate(sizes) if min(h, w) < patch]
        if small:
            raise ValueError(f"PatchSampler: images {small[:5]} are smaller than the {patch}-pixel patches")
        self.heights = np.array([h for h, _ in sizes], dtype=np.int64)
        self.widths = np.array([w for _, w in sizes], dtype=np.int64)
        self.batch_size, self.patch, self.seed, self.rank, self.modes = batch_size, patch, seed, rank, modes
        self._key = [seed, rank] + ([phase] if phase else [])  # phase 0 keeps the draws of a run without phases
        self._orders: dict[int, np.ndarray] = {}
        self._chunk: tuple[tuple[int, torch.device], PatchDraws] | None = None

    @property
    def num_images(self) -> int:
        return len(self.heights)

    def _order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            if len(self._orders) > 4:
                self._orders.clear()
            self._orders[epoch] = np.random.default_rng([*self._key, 0, epoch]).permutation(self.num_images)
        return self._orders[epoch]

    def _draw_chunk(self, chunk: int) -> PatchDraws:
        steps, n, k = self.CHUNK, self.batch_size, self.num_images
        q = (chunk * steps + np.arange(steps))[:, None] * n + np.arange(n)[None, :]  # patch numbers
        epochs, positions = np.divmod(q, k)
        image = np.empty_like(q)
        for epoch in np.unique(epochs):
            here = epochs == epoch
            image[here] = self._order(int(epoch))[positions[here]]
        rng = np.random.default_rng([*self._key, 1, chunk])
        top = np.floor(rng.random(q.shape) * (self.heights[image] - self.patch + 1)).astype(np.int64)
        left = np.floor(rng.random(q.shape) * (self.widths[image] - self.patch + 1)).astype(np.int64)
        mode = rng.integers(0, self.modes, q.shape)
        coin = rng.random(q.shape)
        return PatchDraws(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (image, top, left, mode, coin)))

    def draws(self, step: int, device: torch.device | str = "cpu") -> PatchDraws:
        """The draws of ``step`` (0-based): tensors of shape (batch_size,) on ``device``. A chunk
        of steps is copied to the device at once (asynchronously from pinned memory on CUDA), so
        a step costs no host-device transfer."""
        device = torch.device(device)
        chunk, row = divmod(step, self.CHUNK)
        if self._chunk is None or self._chunk[0] != (chunk, device):
            draws = self._draw_chunk(chunk)
            if device.type == "cuda":
                draws = PatchDraws(*(t.pin_memory() for t in vars(draws).values()))
            self._chunk = ((chunk, device), draws.to(device))
        d = self._chunk[1]
        return PatchDraws(d.image[row], d.top[row], d.left[row], d.mode[row], d.coin[row])


class PatchSource:
    """Per-image maps (e.g. ``low``, ``high``; or ``R_low``, ``L_low``, ``target``) stacked on one
    device tensor K×C×H×W (zero-padded to the largest image), cut into augmented patches by one
    gather.

    Args:
        maps: name → list of K tensors c×h×w; the maps of one image share h×w.
        device: where the stack lives (the training device).
    """

    def __init__(self, maps: dict[str, list[Tensor]], device: torch.device):
        names = list(maps)
        counts = {len(maps[name]) for name in names}
        if len(counts) != 1 or 0 in counts:
            raise ValueError(f"PatchSource: every map needs the same number (> 0) of images, got { {n: len(maps[n]) for n in names} }")
        first = maps[names[0]]
        self.sizes = [tuple(x.shape[-2:]) for x in first]
        for name in names:
            for i, x in enumerate(maps[name]):
                if tuple(x.shape[-2:]) != self.sizes[i]:
                    raise ValueError(f"PatchSource: {name}[{i}] is {tuple(x.shape[-2:])}, {names[0]}[{i}] is {self.sizes[i]}")
        self.channels = {name: maps[name][0].shape[0] for name in names}
        height = max(h for h, _ in self.sizes)
        width = max(w for _, w in self.sizes)
        total = sum(self.channels.values())
        self.stack = torch.zeros(len(first), total, height, width, device=device)
        for i in range(len(first)):
            h, w = self.sizes[i]
            self.stack[i, :, :h, :w] = torch.cat([maps[name][i].to(device) for name in names])
        self._tables: dict[int, Tensor] = {}

    @property
    def device(self) -> torch.device:
        return self.stack.device

    def _table(self, patch: int) -> Tensor:
        """8×patch×patch: for each dihedral mode, the source offset (row·W + column within the
        crop) of every output pixel — :func:`dihedral` applied to the offsets themselves."""
        if patch not in self._tables:
            width = self.stack.shape[-1]
            grid = torch.arange(patch)[:, None] * width + torch.arange(patch)[None, :]
            self._tables[patch] = torch.stack([dihedral(grid, m) for m in range(8)]).to(self.device)
        return self._tables[patch]

    def cut(self, draws: PatchDraws, patch: int) -> dict[str, Tensor]:
        """name → N×c×patch×patch: ``dihedral(crop(map[image], top, left), mode)`` per patch,
        ``draws`` on this source's device."""
        _, channels, height, width = self.stack.shape
        base = draws.image * (channels * height * width) + draws.top * width + draws.left  # (N,)
        channel = torch.arange(channels, device=self.device) * (height * width)
        index = base.view(-1, 1, 1, 1) + channel.view(1, -1, 1, 1) + self._table(patch)[draws.mode].unsqueeze(1)
        patches = torch.take(self.stack, index)
        return dict(zip(self.channels, patches.split(list(self.channels.values()), dim=1)))


def patch_batches(maps: dict[str, list[Tensor]], batch_size: int, patch: int, count: int, seed: int,
                  device: torch.device | str = "cpu") -> list[dict[str, Tensor]]:
    """``count`` batches (name → batch_size×c×patch×patch) of ``maps``' images, drawn as training
    draws them (:class:`PatchSampler` with ``seed``, rank 0, the 8 dihedral modes): a fixed set of
    training-style batches, e.g. to score a loss on held-out pairs."""
    device = torch.device(device)
    source = PatchSource(maps, device)
    sampler = PatchSampler(source.sizes, batch_size, patch, seed)
    return [source.cut(sampler.draws(step, device), patch) for step in range(count)]


class ScheduledSampler:
    """The draws of a run whose batch and patch sizes change at given steps (``patch_schedule``):
    phase ``i`` (from step ``start_i``) draws as a :class:`PatchSampler` of its own sizes at step
    ``step − start_i``, so draws remain a pure function of ``(seed, rank, step)``; a run of one
    phase draws exactly what :class:`PatchSampler` draws.

    Args:
        sizes: (height, width) of each training image.
        phases: (first step, batch size, patch size) per phase, the first from step 0.
        seed, rank, modes: as :class:`PatchSampler`.
    """

    def __init__(self, sizes: list[tuple[int, int]], phases: list[tuple[int, int, int]], seed: int, rank: int = 0,
                 modes: int = 8):
        if not phases or phases[0][0] != 0:
            raise ValueError(f"ScheduledSampler: the first phase must start at step 0, got {phases}")
        self.starts = [start for start, _, _ in phases]
        self.patches = [patch for _, _, patch in phases]
        self.samplers = [PatchSampler(sizes, batch, patch, seed, rank, modes, phase=index)
                         for index, (_, batch, patch) in enumerate(phases)]

    def draws(self, step: int, device: torch.device | str = "cpu") -> tuple[PatchDraws, int]:
        """(the draws of ``step``, the patch size to cut them at)."""
        index = max(i for i, start in enumerate(self.starts) if start <= step)
        return self.samplers[index].draws(step - self.starts[index], device), self.patches[index]
