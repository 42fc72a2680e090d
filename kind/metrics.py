"""Image-quality metrics as the field computes them: PSNR, SSIM, LOE and NIQE.

``psnr`` / ``ssim``
    BasicSR's ``calculate_psnr`` / ``calculate_ssim`` (which match the MATLAB reference of Wang et
    al.), on uint8 HxWxC RGB arrays with float64 maths, an optional border crop and an optional
    BT.601 Y channel.
``psnr_torch`` / ``ssim_torch``
    The same two metrics for batches of N x C x H x W float tensors in [0, data_range], one value
    per image, for validation during training. With ``quantize=True`` (the default) the tensors are
    first turned into the integers the official code would save, ``floor(clip(x * 255, 0, 255))``,
    so that the numbers equal what :func:`psnr` / :func:`ssim` give on the saved PNG files.
``loe``
    Lightness order error (Wang et al., NPE, TIP 2013), a naturalness measure that needs no ground truth,
    reported in the KinD paper (input against enhanced output); two variants in circulation, NPE's
    ``loe.m`` and BIMEF's ``loe100x100.m``.
``niqe``
    Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013), no reference, as
    the MATLAB ``niqe_release`` computes it, with the LIVE pristine model or KinD++'s retrained one.

All numpy functions return Python floats; the torch functions return a tensor of shape (N,).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "LOE_VARIANTS",
    "NIQE_CHANNELS",
    "NIQE_PARAMS",
    "aggd_fit",
    "check_metric_options",
    "load_niqe_params",
    "loe",
    "matlab_rgb2gray",
    "mscn",
    "niqe",
    "niqe_block_features",
    "niqe_features",
    "niqe_luminance",
    "psnr",
    "psnr_torch",
    "ssim",
    "ssim_torch",
]

SSIM_WINDOW = 11  # 11x11 Gaussian window, as MATLAB ssim.m and BasicSR
SSIM_SIGMA = 1.5  # its standard deviation
SSIM_C1 = (0.01 * 255) ** 2  # (K1 * L)^2 with K1 = 0.01, L = 255
SSIM_C2 = (0.03 * 255) ** 2  # (K2 * L)^2 with K2 = 0.03, L = 255
LOE_GRID = 50  # LOE down-samples so that the smaller side has this many pixels (NPE loe.m)
LOE_SAMPLES = 100  # BIMEF loe100x100.m samples a fixed 100 x 100 grid of pixels
LOE_VARIANTS = ("npe", "bimef")


# --------------------------------------------------------------------------------------------
# input checks


def _check_uint8_image(name: str, img: object) -> None:
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8 (values 0..255), got {img.dtype}")
    if img.ndim not in (2, 3):
        raise ValueError(f"{name}: expected an HxW or HxWxC array, got shape {img.shape}")


def _check_pair(img1: np.ndarray, img2: np.ndarray) -> None:
    _check_uint8_image("img1", img1)
    _check_uint8_image("img2", img2)
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
        return _rgb_to_y(img)[:, :, None]
    return img.astype(np.float64)


def _rgb_to_y(img: np.ndarray) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------
# PSNR and SSIM on uint8 arrays


def psnr(img1: np.ndarray, img2: np.ndarray, crop_border: int = 0, y_channel: bool = False) -> float:
    r"""Peak signal-to-noise ratio of two uint8 images, as BasicSR's ``calculate_psnr``.

    .. math:: \mathrm{PSNR} = 10 \log_{10} \frac{255^2}{\mathrm{MSE}}, \qquad
              \mathrm{MSE} = \operatorname{mean}\,(x_1 - x_2)^2 \ \text{(float64, all pixels and channels)}

    Args:
        img1, img2: uint8 arrays of the same shape, HxWxC (RGB order) or HxW.
        crop_border: pixels removed from each of the four sides before computing.
        y_channel: compute on the BT.601 Y channel (:func:`_rgb_to_y`) instead of RGB; needs C = 3.

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


def _gaussian_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian, float64, as ``cv2.getGaussianKernel(size, sigma)`` computes it.

    ``w_i = exp(-(i - (size-1)/2)^2 / (2 sigma^2))``, then multiplied by ``1 / sum(w)``. The 2-D SSIM
    window is the outer product ``w w^T``, so filtering with it is two 1-D passes.
    """
    t = np.arange(size, dtype=np.float64) - (size - 1) * 0.5
    w = np.exp((-0.5 / (sigma * sigma)) * t * t)
    return w * (1.0 / w.sum())


def _filter_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
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


def _ssim_channels(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Mean SSIM of each channel of two HxWxC float64 arrays on the 0..255 scale, shape (C,)."""
    w = _gaussian_1d()
    mu1 = _filter_valid(x1, w)
    mu2 = _filter_valid(x2, w)
    mu1_sq = mu1 * mu1
    mu2_sq = mu2 * mu2
    mu1_mu2 = mu1 * mu2
    sigma1_sq = _filter_valid(x1 * x1, w) - mu1_sq
    sigma2_sq = _filter_valid(x2 * x2, w) - mu2_sq
    sigma12 = _filter_valid(x1 * x2, w) - mu1_mu2
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


# --------------------------------------------------------------------------------------------
# batched torch versions


def _check_batch(pred: Tensor, target: Tensor, data_range: float) -> None:
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name}: expected NxCxHxW, got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point tensor, got {t.dtype}")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target: expected the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if pred.device != target.device:
        raise ValueError(f"pred and target: expected the same device, got {pred.device} and {target.device}")
    if not (isinstance(data_range, (int, float)) and data_range > 0):
        raise ValueError(f"data_range: expected a positive number, got {data_range!r}")


def _compute_dtype(device: torch.device) -> torch.dtype:
    """float64 wherever the device has it (CPU, CUDA); float32 otherwise (e.g. MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _to_255(x: Tensor, data_range: float, quantize: bool) -> Tensor:
    """[0, data_range] tensor -> the 0..255 scale in the compute dtype.

    quantize=True reproduces the official save ``uint8(clip(x * 255, 0, 255))`` (truncation): the
    product is formed in the input's own dtype, as numpy does on the float32 network output, then
    clipped and floored.
    """
    dtype = _compute_dtype(x.device)
    if quantize:
        return torch.floor(torch.clamp(x * (255.0 / data_range), 0.0, 255.0)).to(dtype)
    return x.to(dtype) * (255.0 / data_range)


def psnr_torch(pred: Tensor, target: Tensor, data_range: float = 1.0, quantize: bool = True) -> Tensor:
    r"""PSNR of each image in a batch; equals :func:`psnr` on the saved uint8 images when quantize.

    .. math:: \mathrm{PSNR}_n = 10 \log_{10} \frac{255^2}{\operatorname{mean}_{c,h,w}(q(p_n) - q(t_n))^2},
              \quad q(x) = \lfloor \operatorname{clip}(255 x / R, 0, 255) \rfloor \ \text{(quantize)}
              \ \text{or}\ 255 x / R

    Args:
        pred, target: NxCxHxW floating tensors in [0, data_range], same shape and device.
        data_range: R, the value that maps to 255.
        quantize: truncate to the uint8 values the official code saves (default), else use the
            float values directly.

    Returns:
        Tensor of shape (N,), float64 (float32 on devices without float64), on the input's device;
        ``inf`` for identical images.

    >>> p = torch.full((2, 3, 4, 4), 0.5)
    >>> psnr_torch(p, p + 5 / 255).shape
    torch.Size([2])
    """
    _check_batch(pred, target, data_range)
    x1 = _to_255(pred, data_range, quantize)
    x2 = _to_255(target, data_range, quantize)
    mse = ((x1 - x2) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(255.0 * 255.0 / mse)  # mse == 0 gives inf


def ssim_torch(pred: Tensor, target: Tensor, data_range: float = 1.0, quantize: bool = True) -> Tensor:
    r"""SSIM of each image in a batch; equals :func:`ssim` on the saved uint8 images when quantize.

    The same definition as :func:`ssim` (11x11 Gaussian sigma 1.5, valid region, C1 = (0.01*255)^2,
    C2 = (0.03*255)^2, map mean per channel, then channel mean), applied to ``q(x)`` as in
    :func:`psnr_torch`, computed by ``kornia.metrics.ssim`` (kornia, a training dependency, is
    imported here only, so that inference never loads it). With ``quantize=False`` it is
    differentiable; because the constants scale with the range, it then equals SSIM on [0, 1] with
    C1 = 0.01^2, C2 = 0.03^2.

    Args:
        pred, target: NxCxHxW floating tensors in [0, data_range], H and W at least 11.
        data_range: the value that maps to 255.
        quantize: truncate to the uint8 values the official code saves (default).

    Returns:
        Tensor of shape (N,), float64 (float32 on devices without float64), on the input's device.

    >>> p = torch.rand(2, 3, 16, 16)
    >>> ssim_torch(p, p)
    tensor([1., 1.], dtype=torch.float64)
    """
    import kornia

    _check_batch(pred, target, data_range)
    h, w = pred.shape[-2:]
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"ssim_torch: expected H and W >= {SSIM_WINDOW}, got {h}x{w}")
    x1 = _to_255(pred, data_range, quantize)
    x2 = _to_255(target, data_range, quantize)
    ssim_map = kornia.metrics.ssim(x1, x2, SSIM_WINDOW, max_val=255.0, eps=0.0, padding="valid")
    return ssim_map.mean(dim=(1, 2, 3))


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


# --------------------------------------------------------------------------------------------
# LOE


def _matlab_round(x: np.ndarray | float) -> np.ndarray:
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


def _imresize_matlab(img: np.ndarray, out_hw: Tuple[int, int], to_uint8: bool = True) -> np.ndarray:
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
            x = np.clip(_matlab_round(x), 0.0, 255.0)
    return x.astype(np.uint8) if to_uint8 else x


def _loe_grid_size(h: int, w: int) -> Tuple[int, int]:
    """NPE loe.m: ``r = 50 / min(M, N); Nd = round(N r); Md = round(M r)`` (MATLAB round)."""
    r = LOE_GRID / min(h, w)
    return int(_matlab_round(h * r)), int(_matlab_round(w * r))


def _order_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For every pixel x: #{y : U(a_x >= a_y) XOR U(b_x >= b_y)}, for integer arrays in 0..255.

    The pairwise count is done with a 256x256 joint histogram instead of an n x n comparison:
    with ``C[i, j] = #{y : a_y <= i and b_y <= j}``, the count for x is
    ``C[a_x, 255] + C[255, b_x] - 2 C[a_x, b_x]`` (pixels below x in a but not in b, plus the
    reverse). Exact, O(n + 256^2). Returns an int64 array shaped like ``a``.
    """
    ai = a.astype(np.int64).ravel()
    bi = b.astype(np.int64).ravel()
    hist = np.zeros((256, 256), dtype=np.int64)
    np.add.at(hist, (ai, bi), 1)
    cum = hist.cumsum(axis=0).cumsum(axis=1)
    counts = cum[ai, 255] + cum[255, bi] - 2 * cum[ai, bi]
    return counts.reshape(a.shape)


def _bimef_samples(length: int) -> np.ndarray:
    """0-based indices of BIMEF loe100x100.m's ``round(linspace(1, n, 100))`` (MATLAB round).

    MATLAB's linspace gives ``1 + k (n - 1) / 99``; that is never exactly a half for integer n, so
    the rounding direction is never in question.
    """
    k = np.arange(LOE_SAMPLES, dtype=np.float64)
    return (_matlab_round(1.0 + k * (length - 1) / (LOE_SAMPLES - 1)) - 1).astype(np.int64)


def loe(input_img: np.ndarray, output_img: np.ndarray, variant: str = "npe") -> float:
    r"""Lightness order error between an input image and its enhanced version (lower is better).

    Both variants take the lightness ``L = max(R, G, B)`` (uint8) of each image, reduce it to a grid
    and count, for every grid pixel x, the grid pixels y whose order against x differs between the
    two images:

    .. math:: RD(x) = \sum_y U(L(x), L(y)) \oplus U(L_e(x), L_e(y)), \quad
              U(p, q) = 1 \text{ if } p \ge q \text{ else } 0, \qquad
              \mathrm{LOE} = \operatorname{mean}_x RD(x).

    ``variant="npe"`` (default): the ``loe.m`` of Wang et al., "Naturalness Preserved Enhancement
    Algorithm for Non-Uniform Illumination Images" (NPE, IEEE TIP 2013): both L resized to
    ``Nd x Md`` with ``r = 50 / min(H, W)``, ``Nd = round(H r)``, ``Md = round(W r)`` (the smaller
    side 50 pixels, MATLAB rounding) by MATLAB ``imresize(L, [Nd Md])`` with its defaults,
    re-implemented in numpy (:func:`_imresize_matlab`): bicubic (Keys, a = -0.5) with antialiasing
    when shrinking, symmetric padding, rows and columns one after the other, each pass rounded to
    uint8 as MATLAB does for a uint8 image. No pillow or torch resize reproduces that, and ties and
    order flips on the 50-pixel grid are sensitive to it.

    ``variant="bimef"``: ``quality/loe100x100.m`` of Ying et al.'s BIMEF benchmark (the code that
    produced the baseline numbers KinD compares against): no resize, a fixed 100 x 100 grid of
    pixels picked at rows ``round(linspace(1, H, 100))`` and columns ``round(linspace(1, W, 100))``.
    It counts ``U(L(y), L(x))`` instead of ``U(L(x), L(y))``; summed over all pairs that is the same
    total, so the mean is the same formula.

    (A third LOE.m in circulation, e.g. in the STAR (TIP 2020) code, takes the 15x15 local maximum
    of the lightness and subsamples every ``floor(min(H, W) / 50)`` pixels. Numbers from different
    variants do not compare.)

    Args:
        input_img: uint8 HxWx3 (RGB) or HxW array, the image before enhancement.
        output_img: uint8 array of the same shape, the enhanced image.
        variant: ``"npe"`` or ``"bimef"`` (:data:`LOE_VARIANTS`).

    Returns:
        LOE, the mean number of order flips per grid pixel (0 when the order is kept).

    >>> a = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    >>> loe(a, a), loe(a, a, variant="bimef")
    (0.0, 0.0)
    """
    if variant not in LOE_VARIANTS:
        raise ValueError(f"LOE variant: expected one of {', '.join(LOE_VARIANTS)}, got {variant!r}")
    for name, img in (("input_img", input_img), ("output_img", output_img)):
        _check_uint8_image(name, img)
        if img.ndim == 3 and img.shape[2] != 3:
            raise ValueError(f"{name}: expected 3 (RGB) channels, got {img.shape[2]}")
    if input_img.shape != output_img.shape:
        raise ValueError(
            f"input_img and output_img: expected the same shape, got {input_img.shape} and {output_img.shape}"
        )
    light_in = input_img.max(axis=2) if input_img.ndim == 3 else input_img
    light_out = output_img.max(axis=2) if output_img.ndim == 3 else output_img
    if variant == "bimef":
        rows, cols = _bimef_samples(light_in.shape[0]), _bimef_samples(light_in.shape[1])
        small_in = light_in[np.ix_(rows, cols)]
        small_out = light_out[np.ix_(rows, cols)]
    else:
        grid = _loe_grid_size(*light_in.shape)
        small_in = _imresize_matlab(light_in, grid)
        small_out = _imresize_matlab(light_out, grid)
    return float(_order_errors(small_in, small_out).mean())


# --------------------------------------------------------------------------------------------
# NIQE
#
# Two references, one per luminance plane:
#   gray -- the MATLAB niqe_release (computequality.m, computefeature.m, estimateaggdparam.m) on
#           MATLAB rgb2gray of the uint8 image, in float64 as MATLAB computes;
#   y    -- BasicSR's calculate_niqe (basicsr/metrics/niqe.py, v1.4) on its rounded BT.601 Y channel,
#           in BasicSR's own arithmetic: float32 images (the MSCN's variance, the AGGD moments), its
#           float32 torch imresize. NIQE moves by ~1e-3 under float32-level changes of its input (a
#           near-zero coefficient changing sign changes the AGGD's left/right counts), so agreeing
#           with BasicSR to 1e-3 takes its arithmetic, not only its formulas.

NIQE_BLOCK = 96  # block side (pixels at the first scale), the release's recommended 96 x 96, no overlap
NIQE_WINDOW = 7  # the MSCN's Gaussian window: fspecial('gaussian', 7, 7/6), normalised
NIQE_SIGMA = 7 / 6
NIQE_CHANNELS = ("gray", "y")
# The pristine multivariate Gaussians, embedded as published (mu (36,), cov (36, 36), float64):
#   live   -- the LIVE NIQE release's modelparameters.mat (Mittal et al. 2013,
#             http://live.ece.utexas.edu/research/quality/niqe_release.zip); the same values as
#             BasicSR's niqe_pris_params.npz. The standard.
#   kindpp -- KinD++'s retrained modelparameters_new.mat (github.com/zhangyhuaee/KinD_plus,
#             Bovik_NIQE_SPL2013/), which every KinD++ NIQE number uses.
NIQE_PARAMS = {"live": "niqe_live_pristine.npz", "kindpp": "niqe_kindpp_retrained.npz"}
NIQE_PARAMS_DIR = Path(__file__).resolve().parent / "niqe"
NIQE_FEATURES = 36  # 18 per block and scale, two scales
# MATLAB rgb2gray: the first row of inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703]), the
# luminance row of the NTSC (YIQ) transform, as rgb2gray.m writes it
MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
AGGD_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # computefeature.m: the four neighbour products (circshift)
AGGD_GRID = (0.2, 0.001, 9801)  # estimateaggdparam.m's shapes 0.2:0.001:10 (start, step, count)


@functools.lru_cache(maxsize=None)
def load_niqe_params(name: str = "live") -> Tuple[np.ndarray, np.ndarray]:
    """The pristine model ``(mu (36,), cov (36, 36))`` float64 of parameter set ``name`` (:data:`NIQE_PARAMS`)."""
    if name not in NIQE_PARAMS:
        raise ValueError(f"NIQE parameters: expected one of {', '.join(NIQE_PARAMS)}, got {name!r}")
    with np.load(NIQE_PARAMS_DIR / NIQE_PARAMS[name], allow_pickle=False) as data:
        mu, cov = data["mu"].astype(np.float64), data["cov"].astype(np.float64)
    if mu.shape != (NIQE_FEATURES,) or cov.shape != (NIQE_FEATURES, NIQE_FEATURES):
        raise ValueError(f"NIQE parameters {name!r}: expected mu (36,) and cov (36, 36), "
                         f"got {mu.shape} and {cov.shape}")
    mu.setflags(write=False)
    cov.setflags(write=False)
    return mu, cov


def matlab_rgb2gray(img: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of a uint8 HxWx3 RGB array: uint8 HxW.

    ``0.2989 R + 0.5870 G + 0.1140 B`` (:data:`MATLAB_GRAY`) in float64, then, because the input is
    uint8, converted back to uint8 as MATLAB does (``imlincomb``): rounded half away from zero.
    """
    _check_uint8_image("img", img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"img: expected an HxWx3 RGB array, got shape {img.shape}")
    x = img.astype(np.float64)
    gray = MATLAB_GRAY[0] * x[..., 0] + MATLAB_GRAY[1] * x[..., 1] + MATLAB_GRAY[2] * x[..., 2]
    return np.clip(_matlab_round(gray), 0, 255).astype(np.uint8)


def niqe_luminance(img: np.ndarray, channel: str = "gray") -> np.ndarray:
    """The HxW float64 plane NIQE measures, from a uint8 HxWx3 RGB array (an HxW array is used as is).

    ``gray``: MATLAB ``rgb2gray`` (rounded to uint8, :func:`matlab_rgb2gray`), what
    ``niqe_release``'s ``computequality.m`` does with an RGB image. ``y``: BasicSR's
    ``calculate_niqe`` default, the BT.601 Y channel of :func:`_rgb_to_y` rounded with numpy's
    ``round`` (half to even), as BasicSR does "for being consistent with MATLAB's result".
    Integer values 0..255 either way.
    """
    if channel not in NIQE_CHANNELS:
        raise ValueError(f"NIQE channel: expected one of {', '.join(NIQE_CHANNELS)}, got {channel!r}")
    _check_uint8_image("img", img)
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.shape[2] != 3:
        raise ValueError(f"img: expected 3 (RGB) channels, got {img.shape[2]}")
    if channel == "gray":
        return matlab_rgb2gray(img).astype(np.float64)
    return np.round(_rgb_to_y(img))


def mscn(image: np.ndarray) -> np.ndarray:
    r"""Mean-subtracted contrast-normalised coefficients of an HxW float64 image, as computequality.m.

    .. math:: \hat I = \frac{I - \mu}{\sigma + 1}, \quad \mu = w * I, \quad
              \sigma = \sqrt{|w * I^2 - \mu^2|}

    with ``w`` the normalised 7x7 Gaussian of standard deviation 7/6 (``fspecial('gaussian', 7, 7/6)``)
    and replicated borders (``imfilter(·, w, 'replicate')``). Evaluated in float64 from the
    differences to the centre pixel, ``I − μ = −Σ w_o (I_o − I)`` and
    ``σ² = Σ w_o (I_o − I)² − (Σ w_o (I_o − I))²`` (opposite offsets paired), which is the same
    quantity without the cancellation of ``w * I² − μ²``: a flat neighbourhood gives exactly 0, as
    exact arithmetic does (MATLAB's own rounding there is ±1e-16 either way). Returns HxW float64.
    """
    radius = NIQE_WINDOW // 2
    taps = _gaussian_1d(NIQE_WINDOW, NIQE_SIGMA)  # fspecial's 2-D window is outer(taps, taps)
    padded = np.pad(image, radius, mode="edge")
    h, w = image.shape
    offset_sum = np.zeros_like(image)
    square_sum = np.zeros_like(image)
    for di in range(0, radius + 1):
        for dj in range(-radius, radius + 1):
            if di == 0 and dj <= 0:
                continue  # each pair (o, -o) once; the centre contributes 0
            ahead = padded[radius + di : radius + di + h, radius + dj : radius + dj + w] - image
            behind = padded[radius - di : radius - di + h, radius - dj : radius - dj + w] - image
            weight = taps[radius + di] * taps[radius + dj]
            offset_sum += weight * (ahead + behind)
            square_sum += weight * (ahead * ahead + behind * behind)
    sigma = np.sqrt(np.abs(square_sum - offset_sum * offset_sum))
    return -offset_sum / (sigma + 1.0)


def _mscn_basicsr(image: np.ndarray) -> np.ndarray:
    """BasicSR's MSCN of a float32 HxW image: ``scipy.ndimage.convolve(·, w, mode='nearest')``
    accumulates in float64 and stores float32; the rest is float32 (its variance's cancellation
    included). Returns HxW float32."""
    radius = NIQE_WINDOW // 2
    taps = _gaussian_1d(NIQE_WINDOW, NIQE_SIGMA)

    def smooth(x: np.ndarray) -> np.ndarray:
        padded = np.pad(x, radius, mode="edge").astype(np.float64)[:, :, None]
        return _filter_valid(padded, taps)[:, :, 0].astype(np.float32)

    mu = smooth(image)
    sigma = np.sqrt(np.abs(smooth(np.square(image)) - np.square(mu)))
    return (image - mu) / (sigma + np.float32(1.0))


@functools.lru_cache(maxsize=None)
def _aggd_tables() -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fit's shapes ``0.2:0.001:10``, ``r(γ) = Γ(2/γ)² / (Γ(1/γ) Γ(3/γ))`` on them, and
    ``Γ(1/γ)``, ``Γ(2/γ)``, ``Γ(3/γ)`` (all float64, 9801 values)."""
    start, step, count = AGGD_GRID
    grid = start + step * np.arange(count)
    g1, g2, g3 = (np.array([math.gamma(k / a) for a in grid]) for k in (1.0, 2.0, 3.0))
    return grid, g2 * g2 / (g1 * g3), g1, g2, g3


def _nearest_shape(ratio: float) -> int:
    """``argmin((r_gam − ratio)²)`` over the grid: the first index on a tie, index 0 for NaN (as
    MATLAB's ``min`` and numpy's ``argmin`` do). ``r(γ)`` increases strictly, so the minimum is one
    of the two grid values around ``ratio``."""
    _, r_gam, _, _, _ = _aggd_tables()
    if not math.isfinite(ratio):
        return 0
    upper = min(max(int(np.searchsorted(r_gam, ratio)), 1), len(r_gam) - 1)
    lower = upper - 1
    return upper if (r_gam[upper] - ratio) ** 2 < (r_gam[lower] - ratio) ** 2 else lower


def aggd_fit(values: np.ndarray) -> Tuple[float, float, float]:
    r"""Fit an asymmetric generalised Gaussian to a 1-D sample, as estimateaggdparam.m.

    With :math:`σ_l = \sqrt{\operatorname{mean}(x^2 \mid x < 0)}`,
    :math:`σ_r = \sqrt{\operatorname{mean}(x^2 \mid x > 0)}`, :math:`\hat γ = σ_l / σ_r`,
    :math:`\hat r = \operatorname{mean}(|x|)^2 / \operatorname{mean}(x^2)` and
    :math:`\hat R = \hat r (\hat γ^3 + 1)(\hat γ + 1) / (\hat γ^2 + 1)^2`, the shape α is the grid
    value (0.2:0.001:10) whose :math:`r(α) = Γ(2/α)^2 / (Γ(1/α) Γ(3/α))` is nearest :math:`\hat R`,
    and :math:`β_{l,r} = σ_{l,r} \sqrt{Γ(1/α) / Γ(3/α)}`. For a symmetric sample (:math:`\hat γ = 1`)
    this is the moment-matching GGD fit: α its shape, β its scale.

    The moments are numpy means in ``values``' own dtype (float64 as MATLAB; float32 reproduces
    BasicSR). A sample without negative (or positive) values has σ_l (σ_r) NaN, as MATLAB's mean of
    an empty set; α is then the grid's first value, 0.2, as MATLAB's ``min`` of an all-NaN vector
    gives.

    Returns:
        ``(alpha, beta_left, beta_right)`` as floats.
    """
    grid, _, g1, _, g3 = _aggd_tables()
    x = np.asarray(values).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt(np.mean(x[x < 0] ** 2)) if np.any(x < 0) else np.nan
        right = np.sqrt(np.mean(x[x > 0] ** 2)) if np.any(x > 0) else np.nan
        gamma_hat = left / right
        r_hat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
        r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / ((gamma_hat**2 + 1) ** 2)
    index = _nearest_shape(float(r_hat_norm))
    scale = math.sqrt(g1[index] / g3[index])
    return float(grid[index]), float(left) * scale, float(right) * scale


def niqe_block_features(block: np.ndarray) -> np.ndarray:
    """computefeature.m on one MSCN block (h, w): the 18 features, (18,) float64.

    An AGGD fit of the coefficients (shape α, mean scale (β_l + β_r) / 2), then for each of the
    four neighbour products ``I · circshift(I, s)``, s = (0,1), (1,0), (1,1), (1,-1) (within the
    block, wrapping around), an AGGD fit: shape α, mean ``(β_r − β_l) Γ(2/α) / Γ(1/α)``, β_l, β_r.
    """
    _, _, g1, g2, _ = _aggd_tables()
    start, step, _ = AGGD_GRID
    alpha, left, right = aggd_fit(block)
    features = [alpha, (left + right) / 2]
    for shift in AGGD_SHIFTS:
        alpha, left, right = aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
        index = round((alpha - start) / step)
        features += [alpha, (right - left) * g2[index] / g1[index], left, right]
    return np.array(features)


def _blocks(image: np.ndarray, size: int) -> np.ndarray:
    """The non-overlapping size x size blocks of an image whose sides are multiples of size,
    (N, size, size), in MATLAB's order (blkproc, then reshape: down the columns of blocks first)."""
    rows, cols = image.shape[0] // size, image.shape[1] // size
    return image.reshape(rows, size, cols, size).transpose(2, 0, 1, 3).reshape(rows * cols, size, size)


def _half_basicsr(image: np.ndarray) -> np.ndarray:
    """BasicSR's ``imresize(image / 255, 0.5) * 255`` of an even-sided float32 HxW image, float32.

    MATLAB's bicubic with antialiasing (the 8 taps ``0.5·cubic(0.5·d)``, d = ±3.5, ±2.5, ±1.5, ±0.5,
    normalised; symmetric padding), computed as BasicSR's torch code does, in float32 with one
    matrix-vector product per output row, then per output column — the same operations, so the
    same rounding, as the reference.
    """
    absolute = torch.tensor([1.75, 1.25, 0.75, 0.25, 0.25, 0.75, 1.25, 1.75])  # |d| · scale
    cubic = (1.5 * absolute**3 - 2.5 * absolute**2 + 1) * (absolute <= 1).float() + (
        -0.5 * absolute**3 + 2.5 * absolute**2 - 4 * absolute + 2
    ) * ((absolute > 1) & (absolute <= 2)).float()
    taps = 0.5 * cubic
    taps = taps / taps.sum()
    pad = 3  # output pixel k reads input pixels 2k - 3 .. 2k + 4 (0-based)

    def rows_pass(x: Tensor) -> Tensor:  # x (H, W) -> (H/2, W), x padded symmetrically along H
        padded = torch.cat([x[:pad].flip(0), x, x[-pad:].flip(0)], dim=0).contiguous()
        out = torch.empty(x.shape[0] // 2, x.shape[1])
        for k in range(out.shape[0]):
            out[k] = padded[2 * k : 2 * k + 8].transpose(0, 1).mv(taps)
        return out

    def cols_pass(x: Tensor) -> Tensor:  # x (H, W) -> (H, W/2), padded along W
        padded = torch.cat([x[:, :pad].flip(1), x, x[:, -pad:].flip(1)], dim=1).contiguous()
        out = torch.empty(x.shape[0], x.shape[1] // 2)
        for k in range(out.shape[1]):
            out[:, k] = padded[:, 2 * k : 2 * k + 8].mv(taps)
        return out

    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(image / np.float32(255.0), dtype=np.float32))
        return cols_pass(rows_pass(x)).numpy() * np.float32(255.0)


def niqe_features(plane: np.ndarray, channel: str = "gray") -> np.ndarray:
    """The (N, 36) features of the N 96x96 blocks of an HxW plane (0..255), computequality.m.

    The plane is cropped to whole blocks (top-left kept); the 18 block features of
    :func:`niqe_block_features` are computed on its MSCN coefficients, then on those of the plane
    halved by MATLAB ``imresize(·, 0.5)`` (bicubic with antialiasing) in 48x48 blocks. ``channel``
    picks the arithmetic of its reference (module comment above): ``gray`` MATLAB's float64
    (:func:`mscn`, :func:`_imresize_matlab`), ``y`` BasicSR's float32 (:func:`_mscn_basicsr`,
    :func:`_half_basicsr`).
    """
    rows, cols = plane.shape[0] // NIQE_BLOCK, plane.shape[1] // NIQE_BLOCK
    image = plane[: rows * NIQE_BLOCK, : cols * NIQE_BLOCK]
    basicsr = channel == "y"
    if basicsr:
        image = image.astype(np.float32)
    per_scale = []
    for scale in (1, 2):
        coefficients = _mscn_basicsr(image) if basicsr else mscn(image)
        per_scale.append(np.stack([niqe_block_features(b) for b in _blocks(coefficients, NIQE_BLOCK // scale)]))
        if scale == 1:
            half = (image.shape[0] // 2, image.shape[1] // 2)
            image = _half_basicsr(image) if basicsr else _imresize_matlab(image, half, to_uint8=False)
    return np.concatenate(per_scale, axis=1)


def niqe(img: np.ndarray, channel: str = "gray", params: str = "live") -> float:
    r"""NIQE of a uint8 image (lower is better), as the MATLAB ``niqe_release`` computes it.

    1. the plane measured (:func:`niqe_luminance`): ``gray``, MATLAB ``rgb2gray`` rounded to uint8
       (the release's own conversion; default), or ``y``, BasicSR's rounded BT.601 Y channel
       (``calculate_niqe``'s default), each in its reference's arithmetic;
    2. the (N, 36) features of its 96x96 blocks at two scales (:func:`niqe_features`);
    3. their Gaussian: ``μ`` the mean over blocks ignoring NaN features (``nanmean``), ``Σ`` the
       covariance (N − 1 normalisation) of the blocks without NaN (``nancov``);
    4. against the pristine model (μ_p, Σ_p) of ``params`` (:func:`load_niqe_params`):

    .. math:: \mathrm{NIQE} = \sqrt{(μ_p - μ)^\top \left(\frac{Σ_p + Σ}{2}\right)^{+} (μ_p - μ)}

    with ``+`` the pseudo-inverse.

    Args:
        img: uint8 HxWx3 RGB array, or HxW (the plane itself); at least two whole 96x96 blocks.
        channel: ``"gray"`` or ``"y"`` (:data:`NIQE_CHANNELS`).
        params: ``"live"`` or ``"kindpp"`` (:data:`NIQE_PARAMS`).

    Returns:
        NIQE; NaN when fewer than two blocks have finite features (a constant image: MATLAB gives
        NaN too).

    Raises:
        ValueError: fewer than two whole 96x96 blocks, or a bad channel or params name.
    """
    mu_p, cov_p = load_niqe_params(params)
    plane = niqe_luminance(img, channel)
    if (plane.shape[0] // NIQE_BLOCK) * (plane.shape[1] // NIQE_BLOCK) < 2:
        raise ValueError(
            f"NIQE needs at least two whole {NIQE_BLOCK}x{NIQE_BLOCK} blocks (e.g. {2 * NIQE_BLOCK}x{NIQE_BLOCK}), "
            f"got a {plane.shape[1]}x{plane.shape[0]} image"
        )
    features = niqe_features(plane, channel)
    finite = ~np.isnan(features)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(finite, features, 0.0).sum(axis=0) / finite.sum(axis=0)
    complete = features[finite.all(axis=1)]
    if len(complete) < 2 or np.isnan(mu).any():
        return float("nan")
    diff = mu_p - mu
    pooled = (cov_p + np.cov(complete, rowvar=False)) / 2
    return float(np.sqrt(diff @ np.linalg.pinv(pooled) @ diff))


def check_metric_options(niqe_channel: str = "gray", niqe_params: str = "live", loe_variant: str = "npe") -> None:
    """Raise ValueError naming the option for an unknown NIQE plane, NIQE parameter set or LOE variant."""
    for name, value, choices in (("NIQE channel", niqe_channel, NIQE_CHANNELS),
                                 ("NIQE parameters", niqe_params, tuple(NIQE_PARAMS)),
                                 ("LOE variant", loe_variant, LOE_VARIANTS)):
        if value not in choices:
            raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")


# --------------------------------------------------------------------------------------------
# colour saturation


def saturation(img: np.ndarray) -> float:
    """Mean HSV saturation of a uint8 RGB image, in [0, 1], with Pillow's RGB→HSV conversion.

    ``S = (max − min) / max`` per pixel (0 where max = 0), as Pillow computes it on 8 bits; the mean
    over pixels, divided by 255. Washed-out (grey) outputs score low; a dataset's score is the
    mean of its images' scores, compared with the ground truth's.

    >>> saturation(np.array([[[255, 0, 0], [128, 128, 128]]], np.uint8))  # pure red, grey
    0.5
    """
    from PIL import Image  # only this metric needs Pillow

    _check_uint8_image("img", img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"img: expected an HxWx3 RGB array, got shape {img.shape}")
    hsv = np.asarray(Image.fromarray(np.ascontiguousarray(img)).convert("HSV"))
    return float(hsv[..., 1].mean(dtype=np.float64) / 255.0)
