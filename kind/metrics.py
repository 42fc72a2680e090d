"""Image-quality metrics as the field computes them: PSNR, SSIM and LOE.

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
    reported in the KinD paper (input against enhanced output).

All numpy functions return Python floats; the torch functions return a tensor of shape (N,).
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "ssim", "psnr_torch", "ssim_torch", "loe"]

SSIM_WINDOW = 11  # 11x11 Gaussian window, as MATLAB ssim.m and BasicSR
SSIM_SIGMA = 1.5  # its standard deviation
SSIM_C1 = (0.01 * 255) ** 2  # (K1 * L)^2 with K1 = 0.01, L = 255
SSIM_C2 = (0.03 * 255) ** 2  # (K2 * L)^2 with K2 = 0.03, L = 255
LOE_GRID = 50  # LOE down-samples so that the smaller side has this many pixels (NPE loe.m)


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
    :func:`psnr_torch`. With ``quantize=False`` it is differentiable; because the constants scale
    with the range, it then equals SSIM on [0, 1] with C1 = 0.01^2, C2 = 0.03^2.

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
    _check_batch(pred, target, data_range)
    n, c, h, w = pred.shape
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"ssim_torch: expected H and W >= {SSIM_WINDOW}, got {h}x{w}")
    x1 = _to_255(pred, data_range, quantize).reshape(n * c, 1, h, w)
    x2 = _to_255(target, data_range, quantize).reshape(n * c, 1, h, w)
    g = torch.from_numpy(_gaussian_1d()).to(device=x1.device, dtype=x1.dtype)
    g_col = g.view(1, 1, SSIM_WINDOW, 1)
    g_row = g.view(1, 1, 1, SSIM_WINDOW)

    def filt(x: Tensor) -> Tensor:  # valid separable Gaussian filter
        return F.conv2d(F.conv2d(x, g_col), g_row)

    mu1 = filt(x1)
    mu2 = filt(x2)
    mu1_sq = mu1 * mu1
    mu2_sq = mu2 * mu2
    mu1_mu2 = mu1 * mu2
    sigma1_sq = filt(x1 * x1) - mu1_sq
    sigma2_sq = filt(x2 * x2) - mu2_sq
    sigma12 = filt(x1 * x2) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + SSIM_C1) * (2 * sigma12 + SSIM_C2)) / (
        (mu1_sq + mu2_sq + SSIM_C1) * (sigma1_sq + sigma2_sq + SSIM_C2)
    )
    return ssim_map.mean(dim=(1, 2, 3)).view(n, c).mean(dim=1)


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


def loe(input_img: np.ndarray, output_img: np.ndarray) -> float:
    r"""Lightness order error between an input image and its enhanced version (lower is better).

    Definition followed: the ``loe.m`` of Wang et al., "Naturalness Preserved Enhancement
    Algorithm for Non-Uniform Illumination Images" (NPE, IEEE TIP 2013):

    1. lightness ``L = max(R, G, B)`` of each image (uint8);
    2. both L down-sampled to ``Nd x Md`` with ``r = 50 / min(H, W)``, ``Nd = round(H r)``,
       ``Md = round(W r)`` (so the smaller side has 50 pixels; MATLAB rounding);
    3. :math:`RD(x) = \sum_y U(L(x), L(y)) \oplus U(L_e(x), L_e(y))` with
       :math:`U(p, q) = 1` if :math:`p \ge q` else 0, over all pixels x, y of the grid;
    4. :math:`\mathrm{LOE} = \frac{1}{N_d M_d} \sum_x RD(x)`.

    The resize is MATLAB ``imresize(L, [Nd Md])`` with its defaults, re-implemented in numpy
    (:func:`_imresize_matlab`): bicubic (Keys, a = -0.5) with antialiasing when shrinking,
    symmetric padding, rows and columns one after the other, and each pass rounded to uint8 as
    MATLAB does for a uint8 image. No pillow or torch resize reproduces that, and ties and order
    flips on the 50-pixel grid are sensitive to it. (Another LOE.m in circulation, e.g. in the
    STAR (TIP 2020) code, differs: lightness replaced by its 15x15 local maximum, grid taken by
    plain subsampling every ``floor(min(H, W) / 50)`` pixels; numbers from the two do not compare.)

    Args:
        input_img: uint8 HxWx3 (RGB) or HxW array, the image before enhancement.
        output_img: uint8 array of the same shape, the enhanced image.

    Returns:
        LOE, the mean number of order flips per grid pixel (0 when the order is kept).

    >>> a = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    >>> loe(a, a)
    0.0
    """
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
    grid = _loe_grid_size(*light_in.shape)
    small_in = _imresize_matlab(light_in, grid)
    small_out = _imresize_matlab(light_out, grid)
    return float(_order_errors(small_in, small_out).mean())


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
