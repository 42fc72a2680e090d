r"""Structure losses: ``ssim`` (KinD's official SSIM as ``1 - SSIM``), ``ms_ssim`` and ``laplacian``.

Every loss takes ``pred`` and ``target`` of one shape N x C x H x W (floats, images in [0, 1]) and
returns a 0-dim tensor, computed in float32 (float64 inputs stay float64) with autocast off.

MS-SSIM is written here: ``kornia.losses.MS_SSIMLoss`` is a different quantity (Zhao et al.'s
mix of a 5-sigma full-resolution "MS-SSIM" with a Gaussian-weighted L1 term, scaled by 200), not
Wang et al.'s dyadic MS-SSIM. Its single-scale SSIM map is checked against ``kornia.metrics.ssim``.
"""

from __future__ import annotations

import math
import warnings

import kornia
import torch
from torch import Tensor

from kind.constants import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW
from kind.losses._checks import check_int, check_min_size, check_tensor, no_autocast, prepared_pair
from kind.losses.official import ssim

__all__ = [
    "MS_SSIM_WEIGHTS",
    "ssim_loss",
    "ms_ssim_scales",
    "ms_ssim",
    "ms_ssim_loss",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "laplacian",
]

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang, Simoncelli, Bovik 2003, finest first
SSIM_C1, SSIM_C2 = SSIM_K1**2, SSIM_K2**2  # dynamic range 1
MS_SSIM_FLOOR = 1e-6  # per-scale means are clamped here before the fractional powers (TF clamps at 0)


def ssim_loss(pred: Tensor, target: Tensor) -> Tensor:
    r"""``1 - SSIM`` with KinD's official training SSIM (:func:`kind.losses.ssim`: 11x11 Gaussian,
    sigma 1.5, VALID, per channel and averaged); the ``ssim_loss`` term of the restoration loss.

    Args:
        pred, target: N x C x H x W, H and W >= 11.

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> ssim_loss(x, x).abs() < 1e-6
        tensor(True)
    """
    check_tensor("pred", pred)
    check_tensor("target", target)
    return 1.0 - ssim(pred, target)


def ms_ssim_scales(height: int, width: int, scales: int = 5) -> int:
    """How many of ``scales`` dyadic scales fit an H x W image: the coarsest must be >= 11 x 11.

    Each scale halves the previous one, rounding up (odd sides are padded by one replicated row or
    column, as MATLAB's ``msssim.m`` and ``tf.image.ssim_multiscale`` do).
    """
    fit = 0
    while fit < scales and min(height, width) >= SSIM_WINDOW:
        fit += 1
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return fit


def _ssim_cs_means(img1: Tensor, img2: Tensor, window: Tensor) -> tuple[Tensor, Tensor]:
    """Per image and channel (N x C): the mean SSIM map and the mean contrast-structure map."""
    blur = lambda x: kornia.filters.filter2d(x, window, padding="valid")  # noqa: E731
    mu1, mu2 = blur(img1), blur(img2)
    var1 = blur(img1 * img1) - mu1 * mu1
    var2 = blur(img2 * img2) - mu2 * mu2
    cov = blur(img1 * img2) - mu1 * mu2
    cs = (2 * cov + SSIM_C2) / (var1 + var2 + SSIM_C2)
    luminance = (2 * mu1 * mu2 + SSIM_C1) / (mu1 * mu1 + mu2 * mu2 + SSIM_C1)
    return (luminance * cs).mean(dim=(2, 3)), cs.mean(dim=(2, 3))


def _halve(x: Tensor) -> Tensor:
    """2x2 average pooling, an odd last row or column replicated first."""
    pad = (0, x.shape[-1] % 2, 0, x.shape[-2] % 2)
    if any(pad):
        x = torch.nn.functional.pad(x, pad, mode="replicate")
    return torch.nn.functional.avg_pool2d(x, 2)


def ms_ssim(img1: Tensor, img2: Tensor, scales: int = 5) -> Tensor:
    r"""Multi-scale SSIM (Wang, Simoncelli and Bovik 2003), as MATLAB's ``msssim.m`` and
    ``tf.image.ssim_multiscale`` compute it, averaged over the batch and channels.

    At scale j (j = 1 is the full image, each next one 2x2-average-pooled) SSIM's 11x11 Gaussian
    window (sigma 1.5, VALID, ``C1 = 0.01^2``, ``C2 = 0.03^2``) gives the mean contrast-structure
    ``cs_j``; at the coarsest scale M also the mean SSIM ``s_M``. Per image and channel::

        MS-SSIM = s_M^{w_M} * prod_{j < M} cs_j^{w_j},   w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

    with every base clamped at 1e-6 (a negative mean has no real fractional power). All 5 scales
    use the published weights as they are (they sum to 1.0001, as in ``msssim.m``, TF and
    pytorch-msssim); fewer scales use the first ones scaled to sum 1. When the image is too small
    for ``scales`` (the coarsest must be >= 11 pixels: 5 scales need >= 176), the scales that fit
    are used, and a warning says so. One scale is the plain SSIM of :func:`kind.losses.ssim`.

    Args:
        img1, img2: N x C x H x W, same shape, H and W >= 11.
        scales: 1 to 5.

    Returns:
        0-dim tensor in [0, 1].

    Example:
        >>> x = torch.rand(2, 3, 64, 64)
        >>> ms_ssim(x, x, scales=3)
        tensor(1.)
    """
    check_int("scales", scales, 1, len(MS_SSIM_WEIGHTS))
    img1, img2 = prepared_pair(img1, img2)
    check_min_size("img1", img1, SSIM_WINDOW, f"SSIM's {SSIM_WINDOW}x{SSIM_WINDOW} VALID window")
    fit = ms_ssim_scales(img1.shape[-2], img1.shape[-1], scales)
    if fit < scales:
        warnings.warn(
            f"ms_ssim: {img1.shape[-2]}x{img1.shape[-1]} images fit {fit} of {scales} scales (the coarsest "
            f"needs >= {SSIM_WINDOW} pixels); using {fit} with the weights renormalised",
            stacklevel=2,
        )
    weights = torch.tensor(MS_SSIM_WEIGHTS[:fit], dtype=img1.dtype, device=img1.device)
    if fit < len(MS_SSIM_WEIGHTS):
        weights = weights / weights.sum()
    with no_autocast(img1):
        window = kornia.filters.get_gaussian_kernel2d(
            (SSIM_WINDOW, SSIM_WINDOW), (SSIM_SIGMA, SSIM_SIGMA), device=img1.device, dtype=img1.dtype
        )
        factors = []
        for scale in range(fit):
            if scale > 0:
                img1, img2 = _halve(img1), _halve(img2)
            ssim_mean, cs_mean = _ssim_cs_means(img1, img2, window)
            factors.append(cs_mean if scale < fit - 1 else ssim_mean)
        bases = torch.stack(factors, dim=-1).clamp_min(MS_SSIM_FLOOR)  # N x C x scales
        return bases.pow(weights).prod(dim=-1).mean()


def ms_ssim_loss(pred: Tensor, target: Tensor, scales: int = 5) -> Tensor:
    r"""``1 - ms_ssim(pred, target, scales)``; see :func:`ms_ssim`."""
    check_tensor("pred", pred)
    check_tensor("target", target)
    return 1.0 - ms_ssim(pred, target, scales)


def _check_pyramid(name: str, x: Tensor, levels: int, divisible: bool) -> None:
    """Every level but the last must be >= 3 pixels (kornia's 5x5 blur reflects 2); a Laplacian
    pyramid also needs H and W divisible by 2^(levels-1) so each expanded level matches its parent."""
    check_int("levels", levels, 1)
    stride = 2 ** (levels - 1)
    height, width = x.shape[-2:]
    small = levels > 1 and min(height, width) // (stride // 2) < 3
    if small or (divisible and (height % stride or width % stride)):
        rule = f"divisible by 2^(levels-1) = {stride} and " if divisible else ""
        raise ValueError(
            f"{name}: a {levels}-level pyramid needs H and W {rule}>= {3 * stride // 2 if levels > 1 else 1}, "
            f"got shape {tuple(x.shape)}"
        )


def gaussian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    r"""``kornia.geometry.transform.build_pyramid``: ``[x, down(x), down(down(x)), ...]``, ``levels``
    images, each blurred with the 5x5 binomial kernel (reflect borders) and halved (sides floored).

    Args:
        x: N x C x H x W with H, W >= 3 * 2^(levels-2) (every level but the last >= 3).
    """
    check_tensor("x", x)
    _check_pyramid("x", x, levels, divisible=False)
    return kornia.geometry.transform.build_pyramid(x, levels)


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    r"""Laplacian pyramid (Burt and Adelson 1983) from kornia's operators, without padding.

    ``L^i = G^i - up(G^{i+1})`` for i < levels and ``L^levels = G^levels`` (the low-pass rest), with
    ``G`` = :func:`gaussian_pyramid` and ``up`` = ``kornia.geometry.transform.pyrup``. This equals
    ``kornia.geometry.transform.build_laplacian_pyramid`` wherever that one does not pad (it
    reflect-pads to a power of two whenever neither side is one, e.g. 48 x 48, which would count
    mirrored pixels in a loss), so here H and W must instead be divisible by 2^(levels-1).

    Args:
        x: N x C x H x W, H and W divisible by 2^(levels-1) and >= 3 * 2^(levels-2).

    Returns:
        ``levels`` tensors, N x C x H/2^i x W/2^i, finest first.
    """
    check_tensor("x", x)
    _check_pyramid("x", x, levels, divisible=True)
    gauss = kornia.geometry.transform.build_pyramid(x, levels)
    bands = [fine - kornia.geometry.transform.pyrup(coarse) for fine, coarse in zip(gauss[:-1], gauss[1:])]
    return bands + [gauss[-1]]


def laplacian(pred: Tensor, target: Tensor, levels: int = 3) -> Tensor:
    r"""Laplacian-pyramid L1: ``sum_{i=1..levels} 2^(i-1) mean|L^i(pred) - L^i(target)|``.

    ``L^1`` is the finest band and ``L^levels`` the low-pass rest (:func:`laplacian_pyramid`);
    ``mean`` is over each level's elements, so the weight ``2^(i-1)`` lifts the coarser levels.
    After Bojanowski et al., "Optimizing the latent space of generative networks" (ICML 2018).

    Args:
        pred, target: N x C x H x W, H and W divisible by 2^(levels-1) and >= 3 * 2^(levels-2).
        levels: the number of pyramid levels (>= 1; 1 is plain L1).

    Example:
        >>> x = torch.rand(1, 3, 16, 16)
        >>> laplacian(x + 0.1, x, levels=3)  # a shift lives in the low-pass level only: 4 * 0.1
        tensor(0.4000)
    """
    check_int("levels", levels, 1)
    pred, target = prepared_pair(pred, target)
    _check_pyramid("pred", pred, levels, divisible=True)
    with no_autocast(pred):
        both = laplacian_pyramid(torch.cat([pred, target]), levels)
        n = pred.shape[0]
        return sum(2.0**i * (level[:n] - level[n:]).abs().mean() for i, level in enumerate(both))
