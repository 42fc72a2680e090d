"""One image decomposed and restored once, relit at any ratio (:meth:`kind.KinD.prepare`)."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
from PIL import Image
from torch import Tensor

from kind.api.inputs import ArraySource, ImageInput
from kind.api.photos import Photo, enhance_arrays
from kind.constants import AUTO_TILE_PIXELS, DEFAULT_MAX_PIXELS, DEFAULT_RATIO, DEFAULT_STRENGTH
from kind.imageops import darkness_weight
from kind.inference.pipeline import RatioChoice, check_pipeline, check_ratio, check_strength, chosen_strength
from kind.inference.runner import Runner
from kind.inference.tiling import TileProgress, photo_auto_ratio
from kind.io.read import check_size


class Prepared:
    """One image decomposed and restored once (made by :meth:`kind.KinD.prepare`, which passes its
    networks and settings: ``runner``, ``tile``, ``auto_tile_pixels``, the default ``strength``,
    ``max_pixels``): :meth:`relight` runs the adjustment net and the product alone, through the same
    code as :meth:`kind.KinD.__call__`, so its pixels are ``model(image, ratio, pipeline=...)``'s.

    Memory: the decomposition and restoration of every tile are kept (about 30 bytes a pixel).
    """

    def __init__(
        self, image: Image.Image | np.ndarray, runner: Runner, *, tile: int | None = None,
        auto_tile_pixels: int = AUTO_TILE_PIXELS, strength: float = DEFAULT_STRENGTH,
        max_pixels: int = DEFAULT_MAX_PIXELS, eager: bool = True,
    ) -> None:
        if not isinstance(image, (Image.Image, np.ndarray)):
            raise TypeError(f"image: expected a PIL image or a numpy array, got {type(image).__name__}")
        self._input = ImageInput.of(image)
        check_size("image", (self._input.width, self._input.height), max_pixels)
        check_strength(strength)
        self._networks = _CachedNetworks(runner)
        self._tile, self._auto_tile_pixels, self._strength = tile, auto_tile_pixels, float(strength)
        if eager:
            self.photo(DEFAULT_RATIO)  # runs the decomposition and the restoration of every tile now

    @functools.cached_property
    def auto_ratio(self) -> float:
        """The ratio ``'auto'`` gives, found at first use (a tiled image's from a thumbnail decomposed
        for it alone, which a sweep of numbers never needs)."""
        source = ArraySource(self._input.samples[None])
        return float(photo_auto_ratio(self._networks, source, self._tile, self._auto_tile_pixels)[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image."""
        return self._input.width, self._input.height

    def photo(self, ratio: RatioChoice = DEFAULT_RATIO, *, pipeline: str = "photo", maps: bool = False,
              bits: int = 8, progress: TileProgress | None = None, strength: float | None = None) -> Photo:
        """The image at ``ratio`` for saving, as :meth:`kind.KinD.enhance_samples` gives it."""
        check_ratio(ratio)
        check_pipeline(pipeline)
        return enhance_arrays(self._networks, self._input.samples[None], ratio, maps=maps, bits=bits,
                              progress=progress, pipeline=pipeline, strength=chosen_strength(strength, self._strength),
                              tile=self._tile, auto_tile_pixels=self._auto_tile_pixels)[0]

    def relight(self, ratio: RatioChoice = DEFAULT_RATIO, *, pipeline: str = "photo",
                strength: float | None = None) -> Image.Image | np.ndarray:
        """The image at ``ratio`` (and denoise ``strength``), in the kind :meth:`kind.KinD.__call__`
        gives (PIL or uint8 array)."""
        return self._input.wrap(self.photo(ratio, pipeline=pipeline, strength=strength).output)


class _CachedNetworks:
    """A :class:`kind.inference.runner.Runner` stand-in that decomposes each distinct input, and restores
    each decomposition, once (later calls give the kept tensors), and keeps each reflectance's darkness
    weight; the adjustment net runs each time."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._decomposed: dict[tuple, tuple[Tensor, Tensor]] = {}
        self._restored: dict[int, tuple[Tensor, Tensor]] = {}  # id(R) → (R, R̂): R kept, so ids stay unique
        self._weights: dict[int, tuple[Tensor, Tensor]] = {}  # id(R) → (R, darkness weight of R)

    def decompose(self, x: Tensor) -> tuple[Tensor, Tensor]:
        digest = hashlib.blake2b(x.detach().float().cpu().numpy().tobytes(), digest_size=16).digest()
        key = (tuple(x.shape), digest)
        if key not in self._decomposed:
            self._decomposed[key] = self.runner.decompose(x)
        return self._decomposed[key]

    def restore_reflectance(self, reflectance: Tensor, illumination: Tensor) -> Tensor:
        kept = self._restored.get(id(reflectance))
        if kept is None or kept[0] is not reflectance:
            kept = (reflectance, self.runner.restore_reflectance(reflectance, illumination))
            self._restored[id(reflectance)] = kept
        return kept[1]

    def adjust_illumination(self, illumination: Tensor, ratio: float | Tensor) -> Tensor:
        return self.runner.adjust_illumination(illumination, ratio)

    def darkness_weight(self, reflectance: Tensor) -> Tensor:
        """:func:`kind.imageops.darkness_weight` of a kept reflectance, computed once (it depends on R alone)."""
        kept = self._weights.get(id(reflectance))
        if kept is None or kept[0] is not reflectance:
            kept = (reflectance, darkness_weight(reflectance))
            self._weights[id(reflectance)] = kept
        return kept[1]
