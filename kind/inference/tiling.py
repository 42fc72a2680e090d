"""Large photos in overlapping tiles, streamed band by band (spec section 6, our addition).

:func:`blend_tiles` runs a function on overlapping tiles of an image and blends the results with
linear ramps; it works down the image one band of tiles at a time and hands each band's finished
rows to a sink, so the only full-size arrays are the caller's input and outputs (in whatever
representation the caller keeps them: uint8 for files). :func:`enhance_photo` and
:func:`decompose_photo` are the photo pipeline and the decomposition on a :class:`Source`, untiled
when the image is small and tiled otherwise; the global pieces stay global (the min-max stretch
uses the whole image's bounds, and an automatic ratio comes from a decomposition of the whole image
reduced to about one tile).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from kind.constants import AUTO_TILE_PIXELS, DEFAULT_STRENGTH, DEFAULT_TILE
from kind.inference.pipeline import PIPELINES, Networks, RatioChoice, RatioRule, auto_ratio, ratios_for

TILE_ALIGN = 16  # the restoration net pools 4 times: tiles on a 16-pixel grid see the same pooling cells
MAX_DEFAULT_OVERLAP = 128  # the default overlap is a quarter of the tile, at most this
MAP_FIELDS = ("reflectance", "illumination", "restored", "adjusted")  # Enhanced's maps

Maps = dict[str, Tensor]
RowSink = Callable[[int, int, Maps], None]  # (top, bottom, maps N×C×(bottom-top)×W): finished rows, in order
TileProgress = Callable[[int, int], None]  # (tiles done, tiles in all)


class Source(Protocol):
    """``count`` images of one size, read as stretched float32 N×3×h×w pieces on demand."""

    count: int
    height: int
    width: int

    def read(self, top: int, bottom: int, left: int, right: int) -> Tensor: ...


def tile_spans(size: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) spans of tiles covering ``size``: each ``tile`` long and starting on the
    16-pixel grid, the last one reaching the end (up to ``tile + 15`` long); neighbours share at
    least ``overlap`` pixels (capped at ``tile // 2``)."""
    if size <= tile:
        return [(0, size)]
    overlap = min(overlap, tile // 2)
    step = max((tile - overlap) // TILE_ALIGN * TILE_ALIGN, TILE_ALIGN)
    last = (size - tile) // TILE_ALIGN * TILE_ALIGN
    starts = list(range(0, last, step))
    return [(start, start + tile) for start in starts] + [(last, size)]


def tile_shape(height: int, width: int, tile: int) -> tuple[int, int]:
    """(tile height, tile width): ``tile`` × ``tile``, except along a side shorter than ``tile``,
    where the tile spans the whole side and grows along the other to about ``tile²`` pixels (on the
    16-pixel grid) — a 1 × 3,000,000 strip takes 12 tiles of 1 × 262,144, not 7,800 of 1 × 512."""
    if height < tile <= width:
        return height, max(tile, tile * tile // height // TILE_ALIGN * TILE_ALIGN)
    if width < tile <= height:
        return max(tile, tile * tile // width // TILE_ALIGN * TILE_ALIGN), width
    return tile, tile


def _ramp(length: int, start: int, size: int, overlap: int) -> Tensor:
    """1-D blending weights of a tile at ``start``: a linear ramp over ``overlap`` at inner edges."""
    position = torch.arange(length, dtype=torch.float32)
    weight = torch.ones(length)
    if start > 0:
        weight = torch.minimum(weight, (position + 1) / (overlap + 1))
    if start + length < size:
        weight = torch.minimum(weight, (length - position) / (overlap + 1))
    return weight


def default_overlap(tile: int) -> int:
    """A quarter of the tile, at most ``MAX_DEFAULT_OVERLAP``."""
    return min(MAX_DEFAULT_OVERLAP, tile // 4)


def blend_tiles(
    source: Source,
    process: Callable[[Tensor], Maps],
    sink: RowSink,
    tile: int = DEFAULT_TILE,
    overlap: int | None = None,
    progress: TileProgress | None = None,
) -> None:
    """``process`` (a N×3×h×w tile → maps N×C×h×w) over overlapping ``tile``×``tile`` tiles of
    ``source`` (:func:`tile_shape`: longer tiles on a thin image), blended linearly; each finished
    band of rows goes to ``sink`` (float32), top to bottom.

    Memory: one band of float32 accumulators (``tile`` to ``tile + 15`` rows of every map, allocated
    once) and one tile's work.
    """
    overlap = default_overlap(tile) if overlap is None else min(overlap, tile // 2)
    height, width = source.height, source.width
    tile_height, tile_width = tile_shape(height, width, tile)
    rows, cols = tile_spans(height, tile_height, overlap), tile_spans(width, tile_width, overlap)
    depth = max(bottom - top for top, bottom in rows)  # the accumulators' rows: the tallest band
    sums: Maps = {}
    total = torch.zeros(1, 1, depth, width)
    band_top = 0  # the accumulators hold rows [band_top, band_top + depth)
    done = 0
    for top, bottom in rows:
        finished = top - band_top
        if finished > 0:  # no later tile reaches above ``top``
            sink(band_top, top, {name: value[:, :, :finished] / total[:, :, :finished] for name, value in sums.items()})
            for accumulator in (*sums.values(), total):
                _shift_up(accumulator, finished)
            band_top = top
        for left, right in cols:
            maps = process(source.read(top, bottom, left, right))
            weight = _ramp(bottom - top, top, height, overlap).view(1, 1, -1, 1) * _ramp(
                right - left, left, width, overlap
            ).view(1, 1, 1, -1)
            for name, value in maps.items():
                if name not in sums:
                    sums[name] = torch.zeros(value.shape[0], value.shape[1], depth, width)
                sums[name][:, :, top - band_top : bottom - band_top, left:right] += value.cpu() * weight
            total[:, :, top - band_top : bottom - band_top, left:right] += weight
            done += 1
            if progress is not None:
                progress(done, len(rows) * len(cols))
    last = height - band_top
    sink(band_top, height, {name: value[:, :, :last] / total[:, :, :last] for name, value in sums.items()})


def _shift_up(x: Tensor, rows: int) -> None:
    """Move the rows of ``x`` (N×C×h×W) up by ``rows``, in place, and zero the rows freed below."""
    kept = x.shape[2] - rows
    if kept > 0:
        x[:, :, :kept] = x[:, :, rows:].clone()
    x[:, :, max(kept, 0) :] = 0


def needs_tiling(height: int, width: int, tile: int | None, auto_pixels: int = AUTO_TILE_PIXELS) -> bool:
    """Tile when asked (``tile``) or when the image exceeds ``auto_pixels``."""
    return tile is not None or height * width > auto_pixels


def thumbnail(source: Source, side: int) -> Tensor:
    """The stretched images reduced by block means to about ``side`` pixels on their longer side:
    N×3×⌈H/k⌉×⌈W/k⌉ with ``k = ⌈max(H, W) / side⌉``, read one band of ``k`` rows at a time."""
    k = max(1, math.ceil(max(source.height, source.width) / side))
    bands = [_block_means(source.read(top, min(top + k, source.height), 0, source.width), k)
             for top in range(0, source.height, k)]
    return torch.cat(bands, dim=2)


def _block_means(band: Tensor, k: int) -> Tensor:
    """N×C×h×W (h ≤ k) → N×C×1×⌈W/k⌉: the means of its blocks of ``k`` columns (the last one narrower)."""
    rows = band.mean(dim=2, keepdim=True)
    width = rows.shape[3]
    blocks = math.ceil(width / k)
    sums = F.pad(rows, (0, blocks * k - width)).unflatten(3, (blocks, k)).sum(dim=4)
    counts = torch.full((blocks,), float(k))
    counts[-1] = width - k * (blocks - 1)
    return sums / counts


def enhance_photo(
    runner: Networks,
    source: Source,
    sink: RowSink,
    ratio: RatioChoice,
    keep_maps: bool = False,
    tile: int | None = None,
    auto_tile_pixels: int = AUTO_TILE_PIXELS,
    progress: TileProgress | None = None,
    pipeline: str = "photo",
    strength: float = DEFAULT_STRENGTH,
) -> Tensor:
    """The photo pipeline (:func:`kind.inference.pipeline.enhance_general`; ``pipeline="lol"``: the
    LOL protocol's ``R̂ · L̂``, :func:`kind.inference.pipeline.enhance_plain`) on ``source``: the maps
    ``output`` (and with ``keep_maps`` the four of ``MAP_FIELDS``) go to ``sink``. Tiled in
    ``tile``-pixel tiles when ``tile`` is given or the image has over ``auto_tile_pixels``
    pixels (then in ``DEFAULT_TILE`` tiles). Returns the ratio of each image, (N,). ``strength``: the
    denoise strength (:func:`kind.inference.pipeline.denoised`). ``ratio``, ``pipeline`` and
    ``strength`` are checked by the caller (:class:`kind.KinD`)."""
    run = PIPELINES[pipeline]
    fields = ("output", *MAP_FIELDS) if keep_maps else ("output",)
    if not needs_tiling(source.height, source.width, tile, auto_tile_pixels):
        result = run(runner, source.read(0, source.height, 0, source.width), ratio, strength=strength)
        sink(0, source.height, {name: getattr(result, name) for name in fields})
        return result.ratio
    if isinstance(ratio, str) or callable(ratio):  # 'auto' or a rule: decided once, from the whole image
        ratio = photo_auto_ratio(runner, source, tile, auto_tile_pixels, None if isinstance(ratio, str) else ratio)
    ratios = ratios_for(ratio, source.count)

    def process(x: Tensor) -> Maps:
        result = run(runner, x, ratios, strength=strength)
        return {name: getattr(result, name) for name in fields}

    blend_tiles(source, process, sink, tile or DEFAULT_TILE, progress=progress)
    return ratios


def photo_auto_ratio(
    runner: Networks, source: Source, tile: int | None = None, auto_tile_pixels: int = AUTO_TILE_PIXELS,
    rule: RatioRule | None = None,
) -> Tensor:
    """The ratio ``'auto'`` (or ``rule``, a :data:`kind.inference.pipeline.RatioRule`) gives each
    image of ``source`` in :func:`enhance_photo`, (N,): from the whole image's illumination, or
    when tiled from a thumbnail of about one tile."""
    rule = rule or auto_ratio
    if needs_tiling(source.height, source.width, tile, auto_tile_pixels):
        return rule(runner.decompose(thumbnail(source, tile or DEFAULT_TILE))[1])
    return rule(runner.decompose(source.read(0, source.height, 0, source.width))[1])


def decompose_photo(
    runner: Networks,
    source: Source,
    sink: RowSink,
    tile: int | None = None,
    auto_tile_pixels: int = AUTO_TILE_PIXELS,
    progress: TileProgress | None = None,
) -> None:
    """The DecomNet on ``source``: maps ``reflectance`` and ``illumination`` to ``sink``, tiled
    like :func:`enhance_photo`."""

    def process(x: Tensor) -> Maps:
        reflectance, illumination = runner.decompose(x)
        return {"reflectance": reflectance, "illumination": illumination}

    if not needs_tiling(source.height, source.width, tile, auto_tile_pixels):
        sink(0, source.height, process(source.read(0, source.height, 0, source.width)))
    else:
        blend_tiles(source, process, sink, tile or DEFAULT_TILE, progress=progress)
