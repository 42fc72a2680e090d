r"""Colour losses: ``color_angle``, ``color_angle_pyramid`` (DSLR) and ``blur_color`` (DPED).

Every loss takes ``pred`` and ``target`` of one shape N x C x H x W (floats, images in [0, 1]) and
returns a 0-dim tensor, computed in float32 (float64 inputs stay float64) with autocast off.
"""

from __future__ import annotations

import math

import kornia
import torch
from torch import Tensor

from kind.losses._checks import check_min_size, check_number, no_autocast, prepared_pair
from kind.losses.structure import gaussian_pyramid

__all__ = ["ANGLE_EPS", "color_angle_map", "color_angle", "color_angle_pyramid", "blur_color"]

ANGLE_EPS = 1e-6  # added to every channel, so a black pixel has the grey direction, not none


def color_angle_map(pred: Tensor, target: Tensor) -> Tensor:
    r"""Per-pixel angle in radians between the RGB vectors of ``pred`` and ``target``: N x 1 x H x W.

    ``angle = atan2(|p x t|, p . t)`` with ``p = pred + 1e-6`` and ``t = target + 1e-6`` per channel.
    The usual ``acos(p . t / (|p| |t|))`` has an infinite derivative where the colours agree
    (cosine 1), and clamping the cosine below 1 zeroes the gradient of nearly equal colours;
    ``atan2`` is exact at every angle with bounded gradients, and is 0 for identical inputs. The
    1e-6 offset gives black pixels (where no direction exists) the grey direction.

    Args:
        pred, target: N x 3 x H x W.

    Example:
        >>> red, green = torch.zeros(1, 3, 1, 1), torch.zeros(1, 3, 1, 1)
        >>> red[:, 0], green[:, 1] = 1.0, 1.0
        >>> color_angle_map(red, green)  # pi / 2, less 2e-6 for the offset
        tensor([[[[1.5708]]]])
    """
    pred, target = prepared_pair(pred, target, channels=3)
    with no_autocast(pred):
        (p0, p1, p2), (t0, t1, t2) = (pred + ANGLE_EPS).unbind(1), (target + ANGLE_EPS).unbind(1)
        # written out: torch.linalg.cross may fuse multiply-adds, leaving p x p a rounding error
        # instead of exactly 0 (and a gradient of norm 1/|p| in a random direction)
        cross = torch.stack([p1 * t2 - p2 * t1, p2 * t0 - p0 * t2, p0 * t1 - p1 * t0], dim=1)
        dot = p0 * t0 + p1 * t1 + p2 * t2
        return torch.atan2(torch.linalg.vector_norm(cross, dim=1), dot).unsqueeze(1)


def color_angle(pred: Tensor, target: Tensor) -> Tensor:
    r"""Mean per-pixel colour angle in radians, ``mean_{N,H,W} angle(pred, target)``
    (:func:`color_angle_map`): the colour loss of Wang et al., "Underexposed photo enhancement using
    deep illumination estimation" (CVPR 2019), blind to brightness, sensitive to hue and saturation.

    Args:
        pred, target: N x 3 x H x W.
    """
    return color_angle_map(pred, target).mean()


def color_angle_pyramid(pred: Tensor, target: Tensor, levels: int = 3) -> Tensor:
    r"""Colour angle averaged over the levels of a Gaussian pyramid, after DSLR (Lim and Kim, "Deep
    stacked Laplacian restorer for low-light image enhancement", IEEE TMM 2020).

    ``(1 / levels) sum_i color_angle(G^i(pred), G^i(target))`` with ``G^1`` the image and each next
    level blurred and halved (:func:`kind.losses.gaussian_pyramid`, kornia's ``build_pyramid``).
    DSLR's colour term compares the image its Laplacian stack rebuilds at each scale (full, 1/2,
    1/4, by cosine similarity): the per-scale images, not the band-pass Laplacian levels, whose
    colour vectors are signed detail with no colour direction. Coarser levels weigh the colour of
    larger regions, so noise in the prediction matters less there.

    Args:
        pred, target: N x 3 x H x W, H and W >= 3 * 2^(levels-2).
        levels: number of pyramid levels (>= 1; 1 is :func:`color_angle`).
    """
    pred, target = prepared_pair(pred, target, channels=3)
    with no_autocast(pred):
        both = gaussian_pyramid(torch.cat([pred, target]), levels)
        n = pred.shape[0]
        return sum(color_angle(level[:n], level[n:]) for level in both) / levels


def blur_color(pred: Tensor, target: Tensor, sigma: float = 3.0) -> Tensor:
    r"""DPED's colour loss (Ignatov et al., "DSLR-quality photos on mobile devices with deep
    convolutional networks", ICCV 2017): the MSE of Gaussian-blurred images, so texture and noise
    are removed and brightness, contrast and colour remain.

    ``mean (g_sigma * pred - g_sigma * target)^2`` with ``g_sigma`` a Gaussian of width
    ``2 ceil(3 sigma) + 1`` (``kornia.filters.gaussian_blur2d``, reflected borders). DPED blurs with
    sigma 3 and sums instead of averaging.

    Args:
        pred, target: N x C x H x W, H and W > ceil(3 sigma).
        sigma: the Gaussian's standard deviation in pixels (> 0).

    Example:
        >>> blur_color(torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), 0.5), sigma=1.0)
        tensor(0.2500)
    """
    check_number("sigma", sigma, 0.0, inclusive=False)
    pred, target = prepared_pair(pred, target)
    radius = math.ceil(3 * sigma)
    check_min_size("pred", pred, radius + 1, f"blur_color's Gaussian (sigma {sigma:g}, reflected {radius} pixels)")
    with no_autocast(pred):
        size = 2 * radius + 1
        blurred = kornia.filters.gaussian_blur2d(torch.cat([pred, target]), size, (float(sigma), float(sigma)))
        n = pred.shape[0]
        return (blurred[:n] - blurred[n:]).square().mean()
