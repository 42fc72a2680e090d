"""Images of integer samples through the photo pipeline, for saving: :func:`enhance_arrays` (what
:class:`kind.KinD` and :class:`kind.api.prepared.Prepared` run, checked by them) and its
:class:`Photo`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kind.api.inputs import ArraySource
from kind.constants import AUTO_TILE_PIXELS, DEFAULT_STRENGTH, MAP_SUFFIXES
from kind.imageops import to_uint16, to_uint8
from kind.inference.pipeline import Networks, RatioChoice
from kind.inference.tiling import MAP_FIELDS, Maps, TileProgress, enhance_photo

MAP_NAMES = dict(zip(MAP_FIELDS, MAP_SUFFIXES))  # Enhanced field → --save-maps file-name suffix


@dataclass
class Photo:
    """One enhanced image for saving: ``output`` H×W×3 uint8 (or uint16 with ``bits=16``), the maps
    by file-name suffix (``R``, ``L``, ``R_restored``, ``L_adjusted``; uint8 H×W×3, L grey) when
    asked, and the brightening ratio used."""

    output: np.ndarray
    maps: dict[str, np.ndarray]
    ratio: float


def enhance_arrays(
    networks: Networks, samples: np.ndarray, ratio: RatioChoice, *, maps: bool = False, bits: int = 8,
    progress: TileProgress | None = None, pipeline: str = "photo", strength: float = DEFAULT_STRENGTH,
    bounds: tuple[float, float] | None = None, tile: int | None = None, auto_tile_pixels: int = AUTO_TILE_PIXELS,
) -> list[Photo]:
    """N×H×W×3 integer samples of one size → N photos, written band by band into integer arrays
    (``bits`` 8 or 16; the four maps with ``maps``). ``ratio``, ``pipeline`` and ``strength`` are
    checked by the caller; ``bounds``: the stretch's black and white points (None: each image's
    own); ``tile`` and ``auto_tile_pixels`` as in :func:`kind.inference.tiling.enhance_photo`."""
    if bits not in (8, 16):
        raise ValueError(f"bits: expected 8 or 16, got {bits}")
    count, height, width = samples.shape[:3]
    quantize = to_uint8 if bits == 8 else to_uint16
    output = np.empty((count, height, width, 3), np.uint8 if bits == 8 else np.uint16)
    map_arrays = {name: np.empty((count, height, width, 3), np.uint8) for name in MAP_FIELDS} if maps else {}

    def sink(top: int, bottom: int, rows: Maps) -> None:
        for name, value in rows.items():
            pixels = value.permute(0, 2, 3, 1).float().cpu().numpy()  # N×rows×W×C
            if name == "output":
                output[:, top:bottom] = quantize(pixels)
            else:
                map_arrays[name][:, top:bottom] = to_uint8(pixels)  # one channel (L) fills all three

    ratios = enhance_photo(networks, ArraySource(samples, bounds), sink, ratio, maps, tile, auto_tile_pixels, progress,
                           pipeline, strength)
    return [
        Photo(output[i], {MAP_NAMES[name]: array[i] for name, array in map_arrays.items()}, float(ratios[i]))
        for i in range(count)
    ]
