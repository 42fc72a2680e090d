"""What the numpy metrics share: input checks, BT.601 Y, separable Gaussian filtering (valid region),
and MATLAB's ``round`` and ``imresize`` (bicubic, antialiased).
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np


def check_uint8_image(name: str, img: object) -> None:
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8 (values 0..255), got {img.dtype}")
    if img.ndim not in (2, 3):
        raise ValueError(f"{name}: expected an HxW or HxWxC array, got shape {img.shape}")


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of a uint8 RGB HxWx3 array exactly as BasicSR's ``to_y_channel``, HxW float64.

    ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1], so Y is in [16, 235];
    returned on the 0..255 scale, not rounded. BasicSR takes ``img.astype(float32) / 255``, forms the
    weighted sum in float64 (weights applied in B, G, R order, as ``bgr2ycbcr`` does), divides by
    255 and stores float32, then multiplies by 255 in float32; we repeat those steps so the values
    are bit-identical (they differ from a pure float64 evaluation by < 1e-5).
    """
    x = img.astype(np.float32) / np.float32(255.0)
    r = x[..., 0].astype(np.float64)
    g = x[..., 1].astype(np.float64)
    b = x[..., 2].astype(np.float64)
    y = b * 24.966 + g * 128.553 + r * 65.481 + 16.0
    y = (y / 255.0).astype(np.float32) * np.float32(255.0)
    return y.astype(np.float64)


def gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian, float64, as ``cv2.getGaussianKernel(size, sigma)`` computes it.

    ``w_i = exp(-(i - (size-1)/2)^2 / (2 sigma^2))``, then multiplied by ``1 / sum(w)``. The 2-D SSIM
    window is the outer product ``w w^T``, so filtering with it is two 1-D passes.
    """
    t = np.arange(size, dtype=np.float64) - (size - 1) * 0.5
    w = np.exp((-0.5 / (sigma * sigma)) * t * t)
    return w * (1.0 / w.sum())


def filter_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of HxWxC float64 ``x`` with ``outer(w, w)`` over axes 0 and 1.

    Output (H-k+1)x(W-k+1)xC with k = len(w): the same numbers as ``cv2.filter2D(x, -1, outer(w, w))
    [r:-r, r:-r]`` (r = k // 2), whose border handling never reaches the kept region.
    """
    k = len(w)
    h_out = x.shape[0] - k + 1
    w_out = x.shape[1] - k + 1
    rows = w[0] * x[0:h_out]
    for i in range(1, k):
        rows = rows + w[i] * x[i : i + h_out]
    out = w[0] * rows[:, 0:w_out]
    for j in range(1, k):
        out = out + w[j] * rows[:, j : j + w_out]
    return out


def matlab_round(x: np.ndarray | float) -> np.ndarray:
    """MATLAB ``round`` for non-negative values (half away from zero), not Python's half-to-even."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5)


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB imresize ``cubic``)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def _resize_contributions(in_length: int, out_length: int) -> Tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based input indices, each (out_length, P), of MATLAB imresize's bicubic.

    As MATLAB ``contributions``: scale s = out/in; when shrinking the kernel is widened to
    ``s * cubic(s * d)`` over 4/s input pixels (antialiasing); the output pixel k (1-based) sits at
    ``u = k/s + 0.5 (1 - 1/s)``; weights are normalised per output pixel; indices past the ends are
    mirrored (symmetric padding).
    """
    scale = out_length / in_length
    if scale < 1:
        kernel_width = 4.0 / scale

        def h(d: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * d)

    else:
        kernel_width = 4.0
        h = _cubic
    u = np.arange(1, out_length + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(p)[None, :]
    weights = h(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    return weights, indices


def imresize_matlab(img: np.ndarray, out_hw: Tuple[int, int], to_uint8: bool = True) -> np.ndarray:
    """MATLAB ``imresize(img, [out_h out_w])`` (bicubic, antialiasing on) of a 2-D array.

    One dimension at a time, the one with the smaller scale first (rows on a tie), as MATLAB does.
    With ``to_uint8`` (MATLAB's behaviour for a uint8 image) each pass is rounded half away from
    zero and saturated to 0..255, the intermediate included; otherwise float64 throughout.
    """
    x = img.astype(np.float64)
    scales = (out_hw[0] / img.shape[0], out_hw[1] / img.shape[1])
    order = (0, 1) if scales[0] <= scales[1] else (1, 0)
    for axis in order:
        weights, indices = _resize_contributions(x.shape[axis], out_hw[axis])
        xa = np.moveaxis(x, axis, 0)
        out = weights[:, 0, None] * xa[indices[:, 0]]
        for k in range(1, weights.shape[1]):
            out = out + weights[:, k, None] * xa[indices[:, k]]
        x = np.moveaxis(out, 0, axis)
        if to_uint8:
            x = np.clip(matlab_round(x), 0.0, 255.0)
    return x.astype(np.uint8) if to_uint8 else x
