"""The KinD inference pipelines (spec section 6), as functions on N×C×H×W float tensors.

* :func:`minmax_stretch` — the official loader's per-image stretch, applied to every input.
* :func:`enhance_general` — the authors' pipeline for photos without ground truth: fixed ratio
  (5.0) or an automatic one, darkness weighting of the restored reflectance, blend with the input.
* :func:`enhance_lol` — the authors' LOL evaluation: the ratio comes from the ground truth's
  decomposition and the output is ``R̂ · L̂``.
* :func:`enhance_tiled` — :func:`enhance_general` over overlapping tiles for large photos; the
  global pieces (stretch, ratio) stay global.

:class:`Runner` holds the three networks prepared for one device and precision.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from kind.fast import (
    PRECISIONS,
    cpu_bf16_supported,
    cpu_fusion_available,
    fuse_for_cpu,
    prepare_input,
    retain_freed_memory,
)
from kind.metrics import psnr_torch
from kind.models import Ratio
from kind.weights import KinDNets

DEFAULT_RATIO = 5.0
STRETCH_FLOOR = 0.001
SKIMAGE_GRAY = (0.2125, 0.7154, 0.0721)  # skimage.color.rgb2gray (BT.709 luma)
DARKNESS_SIGMA = 3.0
GAUSSIAN_TRUNCATE = 4.0


# --- pure pieces --------------------------------------------------------------------------


def minmax_stretch(x: Tensor) -> Tensor:
    """Per-image ``(x - min) / max(max - min, 0.001)`` over all channels and pixels: N×C×H×W."""
    flat = x.flatten(1)
    low = flat.min(dim=1).values.view(-1, 1, 1, 1)
    high = flat.max(dim=1).values.view(-1, 1, 1, 1)
    return (x - low) / torch.clamp(high - low, min=STRETCH_FLOOR)


def gray(x: Tensor, weights: tuple[float, float, float] = SKIMAGE_GRAY) -> Tensor:
    """Weighted sum of the RGB channels in x's dtype: N×3×H×W → N×1×H×W.

    skimage's weights by default; the training losses pass TensorFlow's (``kind.losses.rgb_to_gray``).
    """
    kernel = x.new_tensor(weights).view(1, 3, 1, 1)
    return (x * kernel).sum(dim=1, keepdim=True)


def gaussian_kernel1d(sigma: float, truncate: float = GAUSSIAN_TRUNCATE) -> np.ndarray:
    """scipy.ndimage's Gaussian taps: radius ``int(truncate·σ + 0.5)``, normalised (float64)."""
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * offsets**2 / sigma**2)
    return taps / taps.sum()


def gaussian_blur_nearest(x: Tensor, sigma: float, truncate: float = GAUSSIAN_TRUNCATE) -> Tensor:
    """Separable Gaussian blur with edge-replicating borders, per channel: N×C×H×W → N×C×H×W.

    Equals ``skimage.filters.gaussian(x, sigma, mode='nearest', truncate=truncate)``.
    """
    taps = torch.from_numpy(gaussian_kernel1d(sigma, truncate)).to(device=x.device, dtype=x.dtype)
    radius = taps.numel() // 2
    channels = x.shape[1]
    rows = taps.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    cols = taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), rows, groups=channels)
    return F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), cols, groups=channels)


def darkness_weight(reflectance: Tensor) -> Tensor:
    """``min(sqrt(2·G_σ3(gray(R))), 1)``: N×3×H×W → N×1×H×W float64 (scikit-image's precision).

    Keeps very dark regions from turning grey."""
    blurred = gaussian_blur_nearest(gray(reflectance.double()), DARKNESS_SIGMA)
    return torch.clamp(torch.sqrt(2 * blurred.clamp(min=0)), max=1)


def blend_with_input(image: Tensor, illumination: Tensor, enhanced: Tensor) -> Tensor:
    """``L·S + (1 − L)·enhanced``: bright input regions keep the input, avoiding over-exposure."""
    return illumination * image + (1 - illumination) * enhanced


def lol_ratio(illumination_low: Tensor, illumination_high: Tensor) -> Tensor:
    """The LOL protocol's ratio ``mean(L_high / (L_low + 1e-4))`` per image: → shape (N,).

    Computed like the official numpy code (float32 pairwise mean) so the ratio is the same number.
    """
    quotient = (illumination_high / (illumination_low + 1e-4)).float().cpu().numpy()
    return torch.tensor([np.mean(q) for q in quotient], dtype=torch.float32)


# The automatic ratio, r = AUTO_SCALE · mean(L_low)^(−AUTO_EXPONENT) clamped to AUTO_RANGE: a
# least-squares fit in log space of the ground-truth ratios of LOL training pairs (never eval15)
# against the mean illumination of the low image, for the shipped DecomNet
# (scripts/fit_auto_ratio.py prints the fit; README, "Choosing the ratio").
AUTO_SCALE = 0.6629
AUTO_EXPONENT = 0.9917
AUTO_RANGE = (1.0, 10.0)


def auto_ratio(illumination_low: Tensor) -> Tensor:
    """A ratio for each image without ground truth, from its own illumination: N×1×H×W → (N,)."""
    mean = illumination_low.float().flatten(1).mean(dim=1).clamp(min=1e-4)
    return (AUTO_SCALE * mean ** (-AUTO_EXPONENT)).clamp(*AUTO_RANGE).cpu()


# --- networks on a device ------------------------------------------------------------------


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Runner:
    """The three networks ready for inference on one device in one precision.

    Inputs and outputs are float32 N×C×H×W tensors on ``self.device``. With ``fast`` (the default)
    the CPU path fuses the convolutions with oneDNN (:mod:`kind.fast`) and the CUDA path runs
    channels_last; ``fast=False`` is the plain eager port, the reference; ``compile`` wraps the
    networks in ``torch.compile``. ``bf16`` uses bf16
    convolutions (CPU with AVX512-BF16/AMX, or CUDA autocast); ``fp32`` is exact to float rounding.
    """

    def __init__(
        self,
        nets: KinDNets,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        fast: bool = True,
        compile: bool = False,
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {sorted(PRECISIONS)}, got {precision!r}")
        self.device = resolve_device(device)
        self.precision = precision
        self.dtype = PRECISIONS[precision]
        models = (nets.decom, nets.restore, nets.adjust)
        self.fused = fast and self.device.type == "cpu" and cpu_fusion_available()
        if self.device.type == "cpu" and precision == "bf16":
            if not (self.fused and cpu_bf16_supported()):
                raise RuntimeError("--precision bf16 needs a CPU with native bf16 convolutions (AVX512-BF16/AMX) and oneDNN")
        if self.fused:
            retain_freed_memory()
            models = tuple(fuse_for_cpu(m.cpu(), precision) for m in models)
        else:
            self.memory_format = torch.channels_last if fast else torch.contiguous_format
            models = tuple(copy.deepcopy(m).to(self.device, memory_format=self.memory_format).eval() for m in models)
            if self.device.type == "cuda":
                torch.backends.cudnn.benchmark = True  # fastest kernels per input size
        if compile:  # worth it on CUDA for many images of one size; the CPU fast path is already fused
            models = tuple(torch.compile(m) for m in models)
        self.decom, self.restore, self.adjust = models
        self.check_psnr = None if precision == "fp32" else check_reduced_precision(self, nets)

    @contextlib.contextmanager
    def _mode(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            if self.device.type == "cuda":
                if self.precision == "bf16":
                    stack.enter_context(torch.autocast("cuda", dtype=torch.bfloat16))
                else:
                    stack.enter_context(torch.backends.cudnn.flags(enabled=True, allow_tf32=False))
            yield

    def _in(self, x: Tensor) -> Tensor:
        if self.fused:
            return prepare_input(x, self.dtype)
        return x.to(self.device).contiguous(memory_format=self.memory_format)

    def decompose(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """S N×3×H×W → (R N×3×H×W, L N×1×H×W)."""
        with self._mode():
            reflectance, illumination = self.decom(self._in(x))
        return reflectance.float(), illumination.float()

    def restore_reflectance(self, reflectance: Tensor, illumination: Tensor) -> Tensor:
        """(R, L) → R̂ N×3×H×W."""
        with self._mode():
            return self.restore(self._in(reflectance), self._in(illumination)).float()

    def adjust_illumination(self, illumination: Tensor, ratio: Ratio) -> Tensor:
        """(L, ratio) → L̂ N×1×H×W; ratio a number, a (N,) tensor or a plane."""
        with self._mode():
            if isinstance(ratio, Tensor):
                ratio = ratio.to(self.device)
            return self.adjust(self._in(illumination), ratio).float()


REDUCED_PRECISION_MIN_PSNR = 40.0  # dB, of a reduced-precision output against fp32


def check_reduced_precision(runner: Runner, nets: KinDNets) -> float:
    """The startup check of a reduced-precision runner: the PSNR (dB) of its photo-pipeline output
    against the plain fp32 port's on a small synthetic low-light image. Raises RuntimeError below
    ``REDUCED_PRECISION_MIN_PSNR``."""
    rows = torch.linspace(0, 1, 48).view(1, 1, -1, 1)
    cols = torch.linspace(0, 1, 64).view(1, 1, 1, -1)
    image = torch.cat([rows * cols, rows.expand(1, 1, 48, 64), cols.expand(1, 1, 48, 64)], dim=1) * 0.2
    image = minmax_stretch(image + 0.02 * torch.sin(40 * rows + 30 * cols))
    output = enhance_general(runner, image, DEFAULT_RATIO).output.cpu()
    reference = enhance_general(Runner(nets, runner.device, "fp32", fast=False), image, DEFAULT_RATIO).output.cpu()
    psnr = float(psnr_torch(output, reference, quantize=False)[0])
    if psnr < REDUCED_PRECISION_MIN_PSNR:
        raise RuntimeError(
            f"--precision {runner.precision}: the startup check gives {psnr:.1f} dB against fp32 "
            f"(at least {REDUCED_PRECISION_MIN_PSNR:g} dB needed); use --precision fp32"
        )
    return psnr


# --- pipelines ----------------------------------------------------------------------------


@dataclass
class Enhanced:
    """A pipeline's result: N×C×H×W images in [0,1], float32 (``output`` float64 in the photo pipeline)."""

    output: Tensor
    reflectance: Tensor
    illumination: Tensor
    restored: Tensor
    adjusted: Tensor
    ratio: Tensor  # (N,)

    def maps(self) -> dict[str, Tensor]:
        """The intermediate maps by file-name suffix."""
        return {"R": self.reflectance, "L": self.illumination, "R_restored": self.restored, "L_adjusted": self.adjusted}


RatioChoice = float | str | Tensor


def check_ratio(choice: RatioChoice) -> None:
    """Raise ValueError unless ``choice`` is ``'auto'``, a tensor, or a finite number ≥ 0."""
    if isinstance(choice, str):
        if choice != "auto":
            raise ValueError(f"ratio: expected a number or 'auto', got {choice!r}")
    elif not isinstance(choice, Tensor) and not 0 <= float(choice) < math.inf:
        raise ValueError(f"ratio: expected a finite number >= 0 or 'auto', got {choice!r}")


def _ratio_for(choice: RatioChoice, illumination: Tensor) -> Tensor:
    check_ratio(choice)
    if isinstance(choice, str):
        return auto_ratio(illumination)
    if isinstance(choice, Tensor):
        return choice.float().cpu().expand(illumination.shape[0])
    return torch.full((illumination.shape[0],), float(choice))


def _networks(runner: Runner, image: Tensor, ratio: RatioChoice | None, high: Tensor | None) -> Enhanced:
    """Decompose, restore and re-light ``image``; ``output`` left empty for the caller.

    ``ratio=None`` takes the ground truth's, :func:`lol_ratio` of the decomposed ``high``.
    """
    reflectance, illumination = runner.decompose(image)
    if ratio is None:
        if high is None:
            raise ValueError("the ground-truth ratio needs the ground-truth image")
        ratios = lol_ratio(illumination, runner.decompose(high)[1])
    else:
        ratios = _ratio_for(ratio, illumination)
    restored = runner.restore_reflectance(reflectance, illumination)
    adjusted = runner.adjust_illumination(illumination, ratios)
    return Enhanced(torch.empty(0), reflectance, illumination, restored, adjusted, ratios)


def enhance_general(
    runner: Runner, image: Tensor, ratio: RatioChoice | None = DEFAULT_RATIO, high: Tensor | None = None
) -> Enhanced:
    """The official pipeline for photos: ``image`` N×3×H×W already min-max stretched.

    ``out = L·S + (1 − L)·(R̂ · w · L̂)`` with ``w`` the darkness weight of R; ``ratio`` a number,
    ``'auto'``, a (N,) tensor, or None for the ground truth's (from ``high``, stretched).
    """
    result = _networks(runner, image, ratio, high)
    image = image.to(result.restored.device)
    # float64 like the official numpy code, whose scikit-image weight promotes the arithmetic
    enhanced = result.restored.double() * darkness_weight(result.reflectance) * result.adjusted.double()
    result.output = blend_with_input(image.double(), result.illumination.double(), enhanced)
    return result


def enhance_lol(runner: Runner, low: Tensor, high: Tensor | None, ratio: RatioChoice | None = None) -> Enhanced:
    """The authors' LOL evaluation: ``out = R̂(R_low, L_low) · L̂(L_low, ratio)``.

    With ``ratio=None`` the ratio is the ground truth's, :func:`lol_ratio` of the decomposed
    ``high`` (``low``/``high`` N×3×H×W, both already min-max stretched); else a number or ``'auto'``.
    """
    result = _networks(runner, low, ratio, high)
    result.output = result.restored * result.adjusted
    return result


# --- tiling ---------------------------------------------------------------------------------

TILE_ALIGN = 16  # the restoration net pools 4 times: tiles on a 16-pixel grid see the same pooling cells
DEFAULT_TILE = 512  # tile side in pixels
MAX_DEFAULT_OVERLAP = 128  # the default overlap is a quarter of the tile, at most this


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


def _ramp(length: int, start: int, size: int, overlap: int) -> Tensor:
    """1-D blending weights of a tile at ``start``: a linear ramp over ``overlap`` at inner edges."""
    position = torch.arange(length, dtype=torch.float32)
    weight = torch.ones(length)
    if start > 0:
        weight = torch.minimum(weight, (position + 1) / (overlap + 1))
    if start + length < size:
        weight = torch.minimum(weight, (length - position) / (overlap + 1))
    return weight


def enhance_tiled(
    runner: Runner,
    image: Tensor,
    ratio: RatioChoice = DEFAULT_RATIO,
    tile: int = DEFAULT_TILE,
    overlap: int | None = None,
    keep_maps: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Enhanced:
    """:func:`enhance_general` over overlapping ``tile``×``tile`` tiles, blended linearly.

    ``image`` 1×3×H×W, already stretched over the whole image. ``overlap`` defaults to a quarter
    of the tile, at most ``MAX_DEFAULT_OVERLAP``. The ratio is decided once for the whole image (``'auto'`` from a decomposition of the image down-sampled to one tile). Memory is
    bounded by one tile's activations plus the full-size accumulators.
    """
    if image.shape[0] != 1:
        raise ValueError(f"enhance_tiled: expected one image 1×3×H×W, got {tuple(image.shape)}")
    _, _, height, width = image.shape
    if isinstance(ratio, str) and ratio == "auto":
        scale = tile / max(height, width)
        small = F.interpolate(image, scale_factor=scale, mode="area") if scale < 1 else image
        ratio = auto_ratio(runner.decompose(small)[1])
    ratios = _ratio_for(ratio, image[:, :1])
    channels = {"output": 3} | ({"reflectance": 3, "illumination": 1, "restored": 3, "adjusted": 1} if keep_maps else {})
    sums = {name: torch.zeros(1, c, height, width) for name, c in channels.items()}
    total = torch.zeros(1, 1, height, width)
    overlap = min(MAX_DEFAULT_OVERLAP, tile // 4) if overlap is None else min(overlap, tile // 2)
    rows, cols = tile_spans(height, tile, overlap), tile_spans(width, tile, overlap)
    done = 0
    for top, bottom in rows:
        for left, right in cols:
            result = enhance_general(runner, image[:, :, top:bottom, left:right], ratios)
            weight = _ramp(bottom - top, top, height, overlap).view(1, 1, -1, 1) * _ramp(
                right - left, left, width, overlap
            ).view(1, 1, 1, -1)
            for name in sums:
                sums[name][:, :, top:bottom, left:right] += getattr(result, name).cpu() * weight
            total[:, :, top:bottom, left:right] += weight
            done += 1
            if progress is not None:
                progress(done, len(rows) * len(cols))
    out = {name: value / total for name, value in sums.items()}
    empty = torch.empty(0)
    return Enhanced(
        out["output"],
        out.get("reflectance", empty),
        out.get("illumination", empty),
        out.get("restored", empty),
        out.get("adjusted", empty),
        ratios,
    )


def needs_tiling(height: int, width: int, tile: int | None, auto_pixels: int) -> bool:
    """Tile when asked (``tile``) or when the image exceeds ``auto_pixels``."""
    return tile is not None or height * width > auto_pixels

