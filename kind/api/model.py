"""The :class:`KinD` class: the three networks and the authors' photo pipeline on images, arrays and tensors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from kind.api.inputs import ArraySource, ImageInput, ImageLike, TensorSource
from kind.api.photos import Photo, enhance_arrays
from kind.api.prepared import Prepared
from kind.constants import AUTO_TILE_PIXELS, DEFAULT_MAX_PIXELS, DEFAULT_RATIO, DEFAULT_STRENGTH, MIN_TILE
from kind.inference.pipeline import Enhanced, RatioChoice, check_pipeline, check_ratio, check_strength, chosen_strength
from kind.inference.runner import Runner, load_runner
from kind.inference.tiling import MAP_FIELDS, Maps, TileProgress, decompose_photo, enhance_photo, needs_tiling
from kind.io.read import check_size

if TYPE_CHECKING:
    from kind.video.stream import ClipResult, FrameObserver


class KinD:
    """KinD low-light enhancement: the three networks and the authors' photo pipeline.

    ``runner``: the networks on a device (:class:`kind.inference.runner.Runner`; usually built by
    :meth:`from_pretrained`). ``max_pixels``: larger images are refused before any work (default
    ``DEFAULT_MAX_PIXELS``, 150 MP). ``tile``: always work in tiles of this side; by default only
    images over ``auto_tile_pixels`` (2.5 MP) are tiled, in 512-pixel tiles. ``strength``: the
    denoise strength of every call that gives none, from 0 (the unrestored reflectance R: texture
    and noise kept) to 1 (KinD's restored R̂, the default): the output uses ``R + strength · (R̂ − R)``.

    Constructing it changes no process-wide setting (see :func:`kind.tune_process`).
    """

    def __init__(
        self,
        runner: Runner,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        tile: int | None = None,
        auto_tile_pixels: int = AUTO_TILE_PIXELS,
        strength: float = DEFAULT_STRENGTH,
    ) -> None:
        if max_pixels < 1:
            raise ValueError(f"max_pixels: expected at least 1, got {max_pixels}")
        if tile is not None and tile < MIN_TILE:
            raise ValueError(f"tile: expected at least {MIN_TILE} pixels, got {tile}")
        check_strength(strength)
        self.strength = float(strength)
        self.runner = runner
        self.max_pixels = max_pixels
        self.tile = tile
        self.auto_tile_pixels = auto_tile_pixels

    @classmethod
    def from_pretrained(
        cls,
        weights: str | os.PathLike | None = None,
        device: str = "auto",
        precision: str = "fp32",
        *,
        fast: bool = True,
        compile: bool = False,
        **options: float | None,
    ) -> KinD:
        """Load a weights spec (None or ``"shipped"``: the weights inside the package; a version
        such as ``"v0.1"``; a folder with decom.pt, restore.pt, adjust.pt) onto ``device``
        (``auto``: CUDA when present) in ``precision`` (``fp32``, or ``bf16``, checked against fp32
        at load). ``options``: ``max_pixels``, ``tile``, ``auto_tile_pixels``, ``strength`` (see the class)."""
        return cls(load_runner(weights, device, precision, fast=fast, compile=compile), **options)

    def __repr__(self) -> str:
        return f"KinD(device={str(self.runner.device)!r}, precision={self.runner.precision!r}, max_pixels={self.max_pixels})"

    # --- enhancement -----------------------------------------------------------------------

    def __call__(
        self, image: ImageLike | Sequence[ImageLike], ratio: RatioChoice = DEFAULT_RATIO, *,
        progress: TileProgress | None = None, pipeline: str = "photo", strength: float | None = None,
    ) -> ImageLike | list[ImageLike]:
        """Enhance ``image`` at brightening ``ratio`` (a number ≥ 0, default 5.0, or ``"auto"``).

        A PIL image gives a PIL image (RGB, or RGBA with the input's alpha; the ICC profile kept);
        a uint8/uint16 ndarray H×W, H×W×3 or H×W×4 gives a uint8 ndarray H×W×3 (×4 with the alpha),
        both with the official truncating conversion; a float tensor N×3×H×W in [0, 1] gives a
        float32 tensor N×3×H×W in [0, 1] on the same device. A list gives a list; its images of
        one size are enhanced in batches (up to ``auto_tile_pixels`` pixels a batch). ``progress``
        is called with (tiles done, tiles in all) for tiled images. ``pipeline``: ``photo`` (the
        authors' photo pipeline) or ``lol`` (the LOL protocol's plain ``R̂ · L̂``). ``strength``: the
        denoise strength from 0 to 1 (None: the model's, see the class).
        """
        check_ratio(ratio)
        check_pipeline(pipeline)
        strength = chosen_strength(strength, self.strength)
        if isinstance(image, (list, tuple)):
            return self._enhance_list(list(image), ratio, progress, pipeline, strength)
        return self._enhance_list([image], ratio, progress, pipeline, strength)[0]

    def enhance_samples(
        self, samples: np.ndarray, ratio: RatioChoice = DEFAULT_RATIO, *, maps: bool = False, bits: int = 8,
        progress: TileProgress | None = None, pipeline: str = "photo", strength: float | None = None,
        bounds: tuple[float, float] | None = None,
    ) -> Photo:
        """Enhance one image of integer samples (H×W×3 uint8 or uint16, e.g.
        :attr:`kind.io.read.LoadedImage.samples`) for saving: the output in ``bits`` (8 or 16), and
        the four maps with ``maps`` (what ``kind enhance`` runs for each file). ``bounds``: the
        stretch's black and white points (fractions of full scale) instead of the image's own min
        and max (a clip's steady ones, :class:`kind.inference.steady.SteadyLight`)."""
        check_ratio(ratio)
        check_pipeline(pipeline)
        strength = chosen_strength(strength, self.strength)
        self._check_size(samples.shape[1], samples.shape[0])
        return self._photos(samples[None], ratio, maps=maps, bits=bits, progress=progress, pipeline=pipeline,
                            strength=strength, bounds=bounds)[0]

    def enhance_video(
        self, src: str | os.PathLike, dst: str | os.PathLike, ratio: RatioChoice = DEFAULT_RATIO, *,
        codec: str | None = None, crf: int | None = None, progress: bool | TextIO = False,
        pipeline: str = "photo", observe: FrameObserver | None = None, strength: float | None = None,
    ) -> ClipResult:
        """Enhance the clip ``src`` into ``dst`` (needs PyAV, ``pip install 'kind[video]'``): the same
        frames, rate, size and rotation, audio and subtitles copied, H.264 (``codec``, ``crf``) by
        default, streamed frame by frame and renamed into place at the end. A number ``ratio`` gives
        each frame exactly what :meth:`enhance_samples` gives it; ``'auto'`` a ratio smoothed over
        time (:class:`kind.inference.steady.SteadyLight`). ``observe`` sees each frame's (index,
        input, output) before encoding. See :func:`kind.video.stream.enhance_video` for the errors."""
        from kind.video.stream import enhance_video

        check_ratio(ratio)
        check_pipeline(pipeline)
        strength = chosen_strength(strength, self.strength)

        def frame(samples: np.ndarray, rule: RatioChoice, bounds: tuple[float, float] | None) -> tuple[np.ndarray, float]:
            """What :meth:`enhance_samples` does for one H×W×3 frame, its checks made once above (``rule``
            is ``ratio`` or the clip's :class:`kind.inference.steady.SteadyLight`) except the size:
            each frame is decoded at its own, which may change within a clip."""
            self._check_size(samples.shape[1], samples.shape[0])
            photo = self._photos(samples[None], rule, pipeline=pipeline, strength=strength, bounds=bounds)[0]
            return photo.output, photo.ratio

        options = {"codec": codec} if codec is not None else {}
        if crf is not None:
            options["crf"] = crf
        return enhance_video(src, dst, frame, ratio, progress=progress, observe=observe, **options)

    def prepare(self, image: Image.Image | np.ndarray, *, eager: bool = True) -> Prepared:
        """Decompose and restore ``image`` (a PIL image or a uint8/uint16 array, as for
        :meth:`__call__`) once; :meth:`Prepared.relight` then runs only the adjustment net and the
        product, giving the same pixels as ``self(image, ratio)``. ``eager``: decompose and restore
        now (else at the first :meth:`Prepared.photo` or :meth:`Prepared.relight`)."""
        return Prepared(image, self.runner, tile=self.tile, auto_tile_pixels=self.auto_tile_pixels,
                        strength=self.strength, max_pixels=self.max_pixels, eager=eager)

    def _enhance_list(
        self, images: list[ImageLike], ratio: RatioChoice, progress: TileProgress | None, pipeline: str,
        strength: float,
    ) -> list[ImageLike]:
        inputs = [ImageInput.of(image) for image in images]
        for item in inputs:
            self._check_size(item.width, item.height)
        results: list[ImageLike | None] = [None] * len(inputs)
        groups: dict[tuple, list[int]] = {}
        for index, item in enumerate(inputs):
            if item.tensor is not None:
                output = self.enhance(item.tensor, ratio, progress=progress, pipeline=pipeline,
                                      strength=strength).output.clamp(0, 1)
                results[index] = output.to(item.tensor.device)
            else:
                groups.setdefault((item.samples.shape, item.samples.dtype.str), []).append(index)
        for members in groups.values():
            height, width = inputs[members[0]].height, inputs[members[0]].width
            for batch in self._batches(len(members), height, width):
                chosen = [members[i] for i in batch]
                stacked = np.stack([inputs[i].samples for i in chosen])
                photos = self._photos(stacked, ratio, progress=progress, pipeline=pipeline, strength=strength)
                for index, photo in zip(chosen, photos):
                    results[index] = inputs[index].wrap(photo.output)
        return results

    def _batches(self, count: int, height: int, width: int) -> list[range]:
        """Consecutive batches of ``count`` images of one size: one image each when tiled, else as
        many as fit ``auto_tile_pixels``."""
        tiled = needs_tiling(height, width, self.tile, self.auto_tile_pixels)
        size = 1 if tiled else max(1, self.auto_tile_pixels // (height * width))
        return [range(start, min(start + size, count)) for start in range(0, count, size)]

    def _photos(self, samples: np.ndarray, ratio: RatioChoice, **options: object) -> list[Photo]:
        """:func:`kind.api.photos.enhance_arrays` on this model's networks and tiling (N×H×W×3 integer
        samples of one size → N photos; ``ratio``, ``pipeline`` and ``strength`` checked by the caller)."""
        return enhance_arrays(self.runner, samples, ratio, tile=self.tile, auto_tile_pixels=self.auto_tile_pixels,
                              **options)

    def enhance(
        self, images: Tensor, ratio: RatioChoice = DEFAULT_RATIO, *, maps: bool = False,
        progress: TileProgress | None = None, pipeline: str = "photo", strength: float | None = None,
    ) -> Enhanced:
        """The pipeline's whole result for float images N×3×H×W in [0, 1]: ``output`` float32
        N×3×H×W as the pipeline computes it (not clipped: the official conversion clips), the
        ratio of each image, and with ``maps`` the four maps; all on the CPU. ``pipeline`` and
        ``strength`` as for :meth:`__call__`."""
        check_ratio(ratio)
        check_pipeline(pipeline)
        strength = chosen_strength(strength, self.strength)
        ImageInput.of(images)
        self._check_size(images.shape[3], images.shape[2])
        count, _, height, width = images.shape
        fields = ("output", *MAP_FIELDS) if maps else ("output",)
        channels = {"output": 3, "reflectance": 3, "illumination": 1, "restored": 3, "adjusted": 1}
        result = {name: torch.empty(count, channels[name], height, width) for name in fields}
        ratios = []
        for batch in self._batches(count, height, width):
            part = slice(batch.start, batch.stop)

            def sink(top: int, bottom: int, rows: Maps) -> None:
                for name, value in rows.items():
                    result[name][part, :, top:bottom] = value.float().cpu()

            ratios.append(enhance_photo(self.runner, TensorSource(images[part]), sink, ratio, maps, self.tile,
                                        self.auto_tile_pixels, progress, pipeline, strength))
        empty = torch.empty(0)
        return Enhanced(*(result.get(name, empty) for name in ("output", *MAP_FIELDS)), torch.cat(ratios))

    # --- decomposition ---------------------------------------------------------------------

    def decompose(self, image: ImageLike | Sequence[ImageLike]) -> tuple | list[tuple]:
        """The DecomNet's reflectance and illumination of the stretched image (what the pipeline
        decomposes): for a PIL image or ndarray, float32 arrays R H×W×3 and L H×W; for a tensor
        N×3×H×W, float32 tensors R N×3×H×W and L N×1×H×W. A list gives a list of pairs."""
        if isinstance(image, (list, tuple)):
            return [self.decompose(item) for item in image]
        item = ImageInput.of(image)
        self._check_size(item.width, item.height)
        if item.tensor is not None:
            return self._decompose_tensor(item.tensor)
        reflectance = np.empty((item.height, item.width, 3), np.float32)
        illumination = np.empty((item.height, item.width), np.float32)

        def sink(top: int, bottom: int, rows: Maps) -> None:
            reflectance[top:bottom] = rows["reflectance"][0].permute(1, 2, 0).cpu().numpy()
            illumination[top:bottom] = rows["illumination"][0, 0].cpu().numpy()

        decompose_photo(self.runner, ArraySource(item.samples[None]), sink, self.tile, self.auto_tile_pixels)
        return reflectance, illumination

    def _decompose_tensor(self, images: Tensor) -> tuple[Tensor, Tensor]:
        count, _, height, width = images.shape
        reflectance = torch.empty(count, 3, height, width)
        illumination = torch.empty(count, 1, height, width)
        for batch in self._batches(count, height, width):
            part = slice(batch.start, batch.stop)

            def sink(top: int, bottom: int, rows: Maps) -> None:
                reflectance[part, :, top:bottom] = rows["reflectance"].cpu()
                illumination[part, :, top:bottom] = rows["illumination"].cpu()

            decompose_photo(self.runner, TensorSource(images[part]), sink, self.tile, self.auto_tile_pixels)
        return reflectance.to(images.device), illumination.to(images.device)

    def _check_size(self, width: int, height: int) -> None:
        check_size("image", (width, height), self.max_pixels)
