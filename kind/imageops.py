"""The pipelines' image operations on N×C×H×W float tensors (spec section 6): the official
min-max stretch, grey levels, scikit-image's Gaussian blur, the darkness weight and the blend; and
the conversions between H×W×3 arrays and 1×3×H×W tensors, and sRGB's transfer curve on arrays."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


STRETCH_FLOOR = 0.001
SKIMAGE_GRAY = (0.2125, 0.7154, 0.0721)  # skimage.color.rgb2gray (BT.709 luma)
DARKNESS_SIGMA = 3.0
GAUSSIAN_TRUNCATE = 4.0


def stretch_bounds(x: Tensor) -> tuple[Tensor, Tensor]:
    """Each image's (min, max) over all channels and pixels: N×C×H×W → two N×1×1×1 tensors."""
    flat = x.flatten(1)
    return flat.min(dim=1).values.view(-1, 1, 1, 1), flat.max(dim=1).values.view(-1, 1, 1, 1)


def stretch(x: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """``(x - low) / max(high - low, 0.001)`` with bounds N×1×1×1 (a tile uses its whole image's)."""
    return (x - low) / torch.clamp(high - low, min=STRETCH_FLOOR)


def minmax_stretch(x: Tensor) -> Tensor:
    """The official loader's per-image ``(x - min) / max(max - min, 0.001)``: N×C×H×W → N×C×H×W."""
    return stretch(x, *stretch_bounds(x))


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


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] to linear light (IEC 61966-2-1)."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light, clipped to [0, 1], to sRGB-encoded values (IEC 61966-2-1)."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def to_tensor(rgb: np.ndarray) -> Tensor:
    """H×W×3 float32 array → a contiguous 1×3×H×W tensor (a copy, in NCHW layout)."""
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_image(x: Tensor) -> np.ndarray:
    """1×C×H×W float tensor in [0, 1] → uint8 H×W×3 (truncating, ``to_uint8``); one channel is replicated."""
    pixels = to_uint8(x[0].permute(1, 2, 0).float().cpu().numpy())
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def _truncate(x: np.ndarray, white: int, dtype: type) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected a float array, got dtype {x.dtype}")
    if np.isnan(x).any():
        raise ValueError("expected finite values, got NaN")
    x = x.astype(np.result_type(x.dtype, np.float32), copy=False)
    return np.clip(x * white, 0, white).astype(dtype)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """The official output conversion: ``uint8(clip(x * 255, 0, 255))``, truncating, not rounding.

    x: float array (any float dtype) nominally in [0, 1]; values outside are clipped.

    >>> to_uint8(np.array([0.999 / 255, 0.5, 1.0, 1.7, -0.2]))
    array([  0, 127, 255, 255,   0], dtype=uint8)
    """
    return _truncate(x, 255, np.uint8)


def to_uint16(x: np.ndarray) -> np.ndarray:
    """The same conversion to 16 bits: ``uint16(clip(x * 65535, 0, 65535))``, truncating."""
    return _truncate(x, 65535, np.uint16)
