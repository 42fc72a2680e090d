"""PSNR and SSIM on uint8 H×W×C arrays, as BasicSR's ``calculate_psnr`` / ``calculate_ssim`` (which
match the MATLAB reference of Wang et al.): float64 maths, an optional border crop and an optional
BT.601 Y channel.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from kind.constants import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW
from kind.metrics.common import check_uint8_image, filter_valid, gaussian_1d, rgb_to_y


SSIM_C1 = (SSIM_K1 * 255) ** 2  # (K1 * L)^2 with L = 255
SSIM_C2 = (SSIM_K2 * 255) ** 2  # (K2 * L)^2 with L = 255


def _check_pair(img1: np.ndarray, img2: np.ndarray) -> None:
    check_uint8_image("img1", img1)
    check_uint8_image("img2", img2)
    if img1.shape != img2.shape:
        raise ValueError(f"img1 and img2: expected the same shape, got {img1.shape} and {img2.shape}")


def _check_crop(crop_border: object, shape: Tuple[int, ...]) -> None:
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)):
        raise TypeError(f"crop_border: expected an int, got {type(crop_border).__name__}")
    if crop_border < 0:
        raise ValueError(f"crop_border: expected >= 0, got {crop_border}")
    if 2 * crop_border >= min(shape[0], shape[1]):
        raise ValueError(
            f"crop_border: expected less than half the smaller side of the {shape[0]}x{shape[1]} "
            f"image, got {crop_border}"
        )


def _prepare(img: np.ndarray, crop_border: int, y_channel: bool) -> np.ndarray:
    """uint8 HxW(xC) -> float64 HxWxC' on the 0..255 scale, cropped, optionally Y (C' = 1)."""
    if img.ndim == 2:
        img = img[:, :, None]
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border, :]
    if y_channel:
        if img.shape[2] != 3:
            raise ValueError(f"y_channel=True: expected 3 (RGB) channels, got {img.shape[2]}")
        return rgb_to_y(img)[:, :, None]
    return img.astype(np.float64)


def psnr(img1: np.ndarray, img2: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    r"""Peak signal-to-noise ratio of two uint8 images, as BasicSR's ``calculate_psnr``.

    .. math:: \mathrm{PSNR} = 10 \log_{10} \frac{255^2}{\mathrm{MSE}}, \qquad
              \mathrm{MSE} = \operatorname{mean}\,(x_1 - x_2)^2 \ \text{(float64, all pixels and channels)}

    Args:
        img1, img2: uint8 arrays of the same shape, HxWxC (RGB order) or HxW.
        crop_border: pixels removed from each of the four sides before computing.
        y_channel: compute on the BT.601 Y channel (:func:`rgb_to_y`) instead of RGB; needs C = 3.

    Returns:
        PSNR in dB; ``inf`` when the (cropped) images are identical.

    >>> a = np.full((4, 4, 3), 100, np.uint8)
    >>> round(psnr(a, a + 5), 4)  # 20 log10(255 / 5)
    34.1514
    """
    _check_pair(img1, img2)
    _check_crop(crop_border, img1.shape)
    x1 = _prepare(img1, crop_border, y_channel)
    x2 = _prepare(img2, crop_border, y_channel)
    mse = float(np.mean((x1 - x2) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(255.0 * 255.0 / mse))


def _ssim_channels(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Mean SSIM of each channel of two HxWxC float64 arrays on the 0..255 scale, shape (C,)."""
    w = gaussian_1d(SSIM_WINDOW, SSIM_SIGMA)
    mu1 = filter_valid(x1, w)
    mu2 = filter_valid(x2, w)
    mu1_sq = mu1 * mu1
    mu2_sq = mu2 * mu2
    mu1_mu2 = mu1 * mu2
    sigma1_sq = filter_valid(x1 * x1, w) - mu1_sq
    sigma2_sq = filter_valid(x2 * x2, w) - mu2_sq
    sigma12 = filter_valid(x1 * x2, w) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + SSIM_C1) * (2 * sigma12 + SSIM_C2)) / (
        (mu1_sq + mu2_sq + SSIM_C1) * (sigma1_sq + sigma2_sq + SSIM_C2)
    )
    return ssim_map.mean(axis=(0, 1))


def ssim(img1: np.ndarray, img2: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    r"""Structural similarity of two uint8 images, as BasicSR's ``calculate_ssim`` (= MATLAB ssim.m).

    Per channel, with local statistics from an 11x11 Gaussian window (sigma 1.5; the outer product
    of the normalised 1-D kernel) evaluated only where the window fits inside the image
    ("valid": an (H-10)x(W-10) map), in float64 on the 0..255 scale:

    .. math:: \mathrm{SSIM} = \frac{(2\mu_1\mu_2 + C_1)(2\sigma_{12} + C_2)}
                                   {(\mu_1^2 + \mu_2^2 + C_1)(\sigma_1^2 + \sigma_2^2 + C_2)},
              \quad C_1 = (0.01 \cdot 255)^2,\ C_2 = (0.03 \cdot 255)^2

    with :math:`\sigma_1^2 = E[x_1^2] - \mu_1^2` and so on; the map is averaged, then the channels
    are averaged. No down-sampling (unlike Wang's original script for large images).

    Args:
        img1, img2: uint8 arrays of the same shape, HxWxC (RGB order) or HxW; after cropping both
            sides must be at least 11 pixels.
        crop_border: pixels removed from each of the four sides before computing.
        y_channel: compute on the BT.601 Y channel instead of RGB; needs C = 3.

    Returns:
        SSIM, at most 1 (exactly 1 up to rounding for identical images).

    >>> a = np.full((16, 16), 100, np.uint8)
    >>> round(ssim(a, a), 6)
    1.0
    """
    _check_pair(img1, img2)
    _check_crop(crop_border, img1.shape)
    x1 = _prepare(img1, crop_border, y_channel)
    x2 = _prepare(img2, crop_border, y_channel)
    if min(x1.shape[0], x1.shape[1]) < SSIM_WINDOW:
        raise ValueError(
            f"ssim: expected both sides >= {SSIM_WINDOW} after cropping, got {x1.shape[0]}x{x1.shape[1]}"
        )
    return float(_ssim_channels(x1, x2).mean())
