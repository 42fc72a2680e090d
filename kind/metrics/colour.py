"""Colour saturation: the mean HSV saturation of uint8 images (Pillow's conversion) and of float
tensors quantized the same way.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from kind.metrics.common import check_uint8_image
from kind.metrics.fidelity_torch import _to_255


def saturation_torch(x: Tensor) -> Tensor:
    r"""Mean HSV saturation of each image in a batch, as :func:`saturation` of the saved uint8 image.

    .. math:: S_n = \operatorname{mean}_{h,w} \lfloor 255 (\max_c q - \min_c q) / \max_c q \rfloor / 255

    with ``q`` the official truncation to uint8 (as :func:`psnr_torch`) and S = 0 where max = 0:
    Pillow's RGB→HSV on 8 bits, so it equals :func:`saturation` of the same uint8 image.

    Args:
        x: N×3×H×W floating tensor in [0, 1].

    Returns:
        Tensor of shape (N,), float64 (float32 on devices without float64), in [0, 1].
    """
    if x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
        raise ValueError(f"saturation_torch: expected a floating N×3×H×W tensor, got {tuple(x.shape)} {x.dtype}")
    q = _to_255(x, 1.0, quantize=True)
    high, low = q.amax(dim=1), q.amin(dim=1)
    s = torch.floor(255.0 * (high - low) / high.clamp(min=1.0))
    return s.mean(dim=(1, 2)) / 255.0


def saturation(img: np.ndarray) -> float:
    """Mean HSV saturation of a uint8 RGB image, in [0, 1], with Pillow's RGB→HSV conversion.

    ``S = (max − min) / max`` per pixel (0 where max = 0), as Pillow computes it on 8 bits; the mean
    over pixels, divided by 255. Washed-out (grey) outputs score low; a dataset's score is the
    mean of its images' scores, compared with the ground truth's.

    >>> saturation(np.array([[[255, 0, 0], [128, 128, 128]]], np.uint8))  # pure red, grey
    0.5
    """
    from PIL import Image  # only this metric needs Pillow

    check_uint8_image("img", img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"img: expected an HxWx3 RGB array, got shape {img.shape}")
    hsv = np.asarray(Image.fromarray(np.ascontiguousarray(img)).convert("HSV"))
    return float(hsv[..., 1].mean(dtype=np.float64) / 255.0)
