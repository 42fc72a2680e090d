"""The Python API: :class:`KinD`, the photo pipeline on images, arrays and tensors.

>>> from kind import KinD
>>> model = KinD.from_pretrained()              # the shipped weights, on CUDA when present   # doctest: +SKIP
>>> out = model(image)                          # PIL → PIL, ndarray → ndarray, tensor → tensor  # doctest: +SKIP
>>> R, L = model.decompose(image)                                                              # doctest: +SKIP

Every call runs the pipeline of ``kind enhance`` (which calls this class): each image is stretched
by its own min and max, enhanced by :func:`kind.inference.pipeline.enhance_general`, tiled above
``auto_tile_pixels`` (:mod:`kind.inference.tiling`, streamed so that memory stays a few bytes a pixel), and
integer outputs get the official truncating conversion.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from kind.constants import AUTO_TILE_PIXELS, DEFAULT_MAX_PIXELS, DEFAULT_RATIO, DEFAULT_STRENGTH, MAP_SUFFIXES, MIN_TILE
from kind.imageops import darkness_weight, stretch, stretch_bounds, to_uint16, to_uint8
from kind.inference.pipeline import Enhanced, RatioChoice, check_pipeline, check_ratio, check_strength
from kind.inference.runner import Runner, load_runner
from kind.inference.tiling import MAP_FIELDS, Maps, TileProgress, decompose_photo, enhance_photo, needs_tiling, photo_auto_ratio
from kind.io.read import check_size, image_samples, sample_scale
from kind.io.write import convert_alpha

if TYPE_CHECKING:
    from kind.video.stream import ClipResult, FrameObserver

MAP_NAMES = dict(zip(MAP_FIELDS, MAP_SUFFIXES))  # Enhanced field → --save-maps file-name suffix
ImageLike = Image.Image | np.ndarray | Tensor


@dataclass
class Photo:
    """One enhanced image for saving: ``output`` H×W×3 uint8 (or uint16 with ``bits=16``), the maps
    by file-name suffix (``R``, ``L``, ``R_restored``, ``L_adjusted``; uint8 H×W×3, L grey) when
    asked, and the brightening ratio used."""

    output: np.ndarray
    maps: dict[str, np.ndarray]
    ratio: float


class _ArraySource:
    """N images of integer samples (N×H×W×3 uint8/uint16), read as stretched float32 N×3×h×w
    pieces: ``samples / white`` in numpy float32, then the whole image's stretch."""

    def __init__(self, samples: np.ndarray, bounds: tuple[float, float] | None = None) -> None:
        self.samples = samples
        self.count, self.height, self.width = samples.shape[:3]
        self.white = np.float32(sample_scale(samples))
        if bounds is None:
            flat = samples.reshape(self.count, -1)
            low, high = flat.min(axis=1).astype(np.float32) / self.white, flat.max(axis=1).astype(np.float32) / self.white
        else:  # given in [0, 1], the same for every image
            low, high = np.full(self.count, bounds[0], np.float32), np.full(self.count, bounds[1], np.float32)
        self.low = torch.from_numpy(low).view(-1, 1, 1, 1)
        self.high = torch.from_numpy(high).view(-1, 1, 1, 1)

    def read(self, top: int, bottom: int, left: int, right: int) -> Tensor:
        piece = self.samples[:, top:bottom, left:right].astype(np.float32) / self.white
        return stretch(torch.from_numpy(piece).permute(0, 3, 1, 2).contiguous(), self.low, self.high)


class _TensorSource:
    """N×3×H×W float images in [0, 1], read as stretched pieces (on their own device)."""

    def __init__(self, images: Tensor) -> None:
        self.images = images.float()
        self.count, _, self.height, self.width = images.shape
        self.low, self.high = stretch_bounds(self.images)

    def read(self, top: int, bottom: int, left: int, right: int) -> Tensor:
        return stretch(self.images[:, :, top:bottom, left:right], self.low, self.high)


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
        strength = self._strength(strength)
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
        strength = self._strength(strength)
        self._check_size(samples.shape[1], samples.shape[0])
        return self._enhance_arrays(samples[None], ratio, maps, bits, progress, pipeline, strength=strength,
                                    bounds=bounds)[0]

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
        strength = self._strength(strength)

        def frame(samples: np.ndarray, rule: RatioChoice, bounds: tuple[float, float] | None) -> tuple[np.ndarray, float]:
            photo = self.enhance_samples(samples, rule, pipeline=pipeline, strength=strength, bounds=bounds)
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
        return Prepared(self, image, eager=eager)

    def _strength(self, strength: float | None) -> float:
        """A call's denoise strength, checked (None: the model's)."""
        if strength is None:
            return self.strength
        check_strength(strength)
        return float(strength)

    def _enhance_list(
        self, images: list[ImageLike], ratio: RatioChoice, progress: TileProgress | None, pipeline: str,
        strength: float,
    ) -> list[ImageLike]:
        inputs = [_Input.of(image) for image in images]
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
                photos = self._enhance_arrays(stacked, ratio, False, 8, progress, pipeline, strength=strength)
                for index, photo in zip(chosen, photos):
                    results[index] = inputs[index].wrap(photo.output)
        return results

    def _batches(self, count: int, height: int, width: int) -> list[range]:
        """Consecutive batches of ``count`` images of one size: one image each when tiled, else as
        many as fit ``auto_tile_pixels``."""
        tiled = needs_tiling(height, width, self.tile, self.auto_tile_pixels)
        size = 1 if tiled else max(1, self.auto_tile_pixels // (height * width))
        return [range(start, min(start + size, count)) for start in range(0, count, size)]

    def _enhance_arrays(
        self, samples: np.ndarray, ratio: RatioChoice, maps: bool, bits: int, progress: TileProgress | None,
        pipeline: str = "photo", runner: Runner | None = None, strength: float = DEFAULT_STRENGTH,
        bounds: tuple[float, float] | None = None,
    ) -> list[Photo]:
        """N×H×W×3 integer samples of one size → N photos, written band by band into integer arrays
        (``runner``: the networks, by default ``self.runner``; ``strength`` checked by the caller)."""
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

        ratios = enhance_photo(runner or self.runner, _ArraySource(samples, bounds), sink, ratio, maps, self.tile,
                               self.auto_tile_pixels, progress, pipeline, strength)
        return [
            Photo(output[i], {MAP_NAMES[name]: array[i] for name, array in map_arrays.items()}, float(ratios[i]))
            for i in range(count)
        ]

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
        strength = self._strength(strength)
        _Input.of(images)
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

            ratios.append(enhance_photo(self.runner, _TensorSource(images[part]), sink, ratio, maps, self.tile,
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
        item = _Input.of(image)
        self._check_size(item.width, item.height)
        if item.tensor is not None:
            return self._decompose_tensor(item.tensor)
        reflectance = np.empty((item.height, item.width, 3), np.float32)
        illumination = np.empty((item.height, item.width), np.float32)

        def sink(top: int, bottom: int, rows: Maps) -> None:
            reflectance[top:bottom] = rows["reflectance"][0].permute(1, 2, 0).cpu().numpy()
            illumination[top:bottom] = rows["illumination"][0, 0].cpu().numpy()

        decompose_photo(self.runner, _ArraySource(item.samples[None]), sink, self.tile, self.auto_tile_pixels)
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

            decompose_photo(self.runner, _TensorSource(images[part]), sink, self.tile, self.auto_tile_pixels)
        return reflectance.to(images.device), illumination.to(images.device)

    def _check_size(self, width: int, height: int) -> None:
        check_size("image", (width, height), self.max_pixels)


class Prepared:
    """One image decomposed and restored once (:meth:`KinD.prepare`): :meth:`relight` runs the
    adjustment net and the product alone, through the same code as :meth:`KinD.__call__`, so its
    pixels are ``model(image, ratio, pipeline=...)``'s. ``auto_ratio``: the ratio ``'auto'`` gives.

    Memory: the decomposition and restoration of every tile are kept (about 30 bytes a pixel).
    """

    def __init__(self, model: KinD, image: Image.Image | np.ndarray, *, eager: bool = True) -> None:
        if not isinstance(image, (Image.Image, np.ndarray)):
            raise TypeError(f"image: expected a PIL image or a numpy array, got {type(image).__name__}")
        self._model = model
        self._input = _Input.of(image)
        model._check_size(self._input.width, self._input.height)
        self._networks = _CachedNetworks(model.runner)
        self.auto_ratio = float(photo_auto_ratio(self._networks, _ArraySource(self._input.samples[None]),
                                                 model.tile, model.auto_tile_pixels)[0])
        if eager:
            self.photo(DEFAULT_RATIO)  # runs the decomposition and the restoration of every tile now

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image."""
        return self._input.width, self._input.height

    def photo(self, ratio: RatioChoice = DEFAULT_RATIO, *, pipeline: str = "photo", maps: bool = False,
              bits: int = 8, progress: TileProgress | None = None, strength: float | None = None) -> Photo:
        """The image at ``ratio`` for saving, as :meth:`KinD.enhance_samples` gives it."""
        check_ratio(ratio)
        check_pipeline(pipeline)
        samples = self._input.samples[None]
        return self._model._enhance_arrays(samples, ratio, maps, bits, progress, pipeline, self._networks,
                                           self._model._strength(strength))[0]

    def relight(self, ratio: RatioChoice = DEFAULT_RATIO, *, pipeline: str = "photo",
                strength: float | None = None) -> Image.Image | np.ndarray:
        """The image at ``ratio`` (and denoise ``strength``), in the kind :meth:`KinD.__call__` gives
        (PIL or uint8 array)."""
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


@dataclass
class _Input:
    """One argument of :class:`KinD`: integer ``samples`` H×W×3 (from PIL or numpy) or a float
    ``tensor`` N×3×H×W, and how to give a result back in the same kind."""

    height: int
    width: int
    samples: np.ndarray | None = None
    tensor: Tensor | None = None
    alpha: np.ndarray | None = None
    pil: Image.Image | None = None

    def __post_init__(self) -> None:
        if self.height == 0 or self.width == 0:
            raise ValueError(f"image: empty ({self.height}×{self.width} pixels); nothing to enhance")
        if self.tensor is not None and not bool(torch.isfinite(self.tensor).all()):
            raise ValueError("image: the tensor holds NaN or infinite values; expected finite values in [0, 1]")

    @classmethod
    def of(cls, image: object) -> _Input:
        if isinstance(image, Image.Image):
            samples, alpha, _ = image_samples(image)
            return cls(image.height, image.width, samples, alpha=alpha, pil=image)
        if isinstance(image, np.ndarray):
            samples, alpha = _split_array(image)
            return cls(image.shape[0], image.shape[1], samples, alpha=alpha)
        if isinstance(image, Tensor):
            if image.dim() != 4 or image.shape[1] != 3 or not image.is_floating_point():
                raise ValueError(f"image: expected a float tensor N×3×H×W in [0, 1], got {image.dtype} "
                                 f"of shape {tuple(image.shape)}")
            return cls(image.shape[2], image.shape[3], tensor=image)
        raise TypeError(f"image: expected a PIL image, a numpy array or a torch tensor, got {type(image).__name__}")

    def wrap(self, output: np.ndarray) -> Image.Image | np.ndarray:
        """A uint8 H×W×3 result in the input's kind, with its alpha."""
        alpha = None if self.alpha is None else convert_alpha(self.alpha, np.uint8)
        pixels = output if alpha is None else np.concatenate([output, alpha[..., None]], axis=2)
        if self.pil is None:
            return pixels
        result = Image.fromarray(pixels, "RGBA" if alpha is not None else "RGB")
        if self.pil.info.get("icc_profile"):
            result.info["icc_profile"] = self.pil.info["icc_profile"]
        return result


def _split_array(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A uint8/uint16 array H×W, H×W×1, H×W×3 or H×W×4 → (samples H×W×3, alpha H×W or None)."""
    if image.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"image: expected a uint8 or uint16 array (a float image goes in as a tensor "
                        f"N×3×H×W), got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image: expected an array H×W, H×W×3 or H×W×4, got shape {image.shape}")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2), None
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[..., :3]), image[..., 3]
    return image, None


__all__ = ["KinD", "Photo", "Prepared", "MAP_NAMES"]
