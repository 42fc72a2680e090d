r"""Pixel losses: ``l1``, ``mse``, ``smooth_l1``, ``huber``, ``log_mse`` and MBLLEN's ``region``.

Every function takes ``pred`` and ``target`` of one shape N x C x H x W (floats, images in [0, 1])
and returns a 0-dim tensor, computed in float32 (float64 inputs stay float64) with autocast off.
``smooth_l1`` and ``huber`` are ``torch.nn.functional.smooth_l1_loss`` / ``huber_loss``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from kind.losses._checks import check_choice, check_number, no_autocast, prepared_pair

__all__ = ["REGION_GRAY", "l1", "mse", "smooth_l1", "huber", "log_mse", "region"]

REGION_GRAY = (0.39, 0.5, 0.11)  # MBLLEN's training code: the grey image that picks the dark region
REGION_MASK_FROM = ("pred", "target")


def l1(pred: Tensor, target: Tensor) -> Tensor:
    r"""Mean absolute error, ``mean |pred - target|`` over all N x C x H x W elements.

    Example:
        >>> l1(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.25))
        tensor(0.2500)
    """
    pred, target = prepared_pair(pred, target)
    with no_autocast(pred):
        return (pred - target).abs().mean()


def mse(pred: Tensor, target: Tensor) -> Tensor:
    r"""Mean squared error, ``mean (pred - target)^2`` over all elements.

    Example:
        >>> mse(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5))
        tensor(0.2500)
    """
    pred, target = prepared_pair(pred, target)
    with no_autocast(pred):
        return (pred - target).square().mean()


def smooth_l1(pred: Tensor, target: Tensor, beta: float = 1.0) -> Tensor:
    r"""Smooth L1 (``torch.nn.SmoothL1Loss``): mean of ``0.5 d^2 / beta`` where ``|d| < beta``, else
    ``|d| - 0.5 beta``, with ``d = pred - target``; ``beta = 0`` is L1.

    Example:
        >>> smooth_l1(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5), beta=1.0)
        tensor(0.1250)
    """
    check_number("beta", beta, 0.0)
    pred, target = prepared_pair(pred, target)
    with no_autocast(pred):
        return F.smooth_l1_loss(pred, target, beta=float(beta))


def huber(pred: Tensor, target: Tensor, delta: float = 1.0) -> Tensor:
    r"""Huber loss (``torch.nn.HuberLoss``): mean of ``0.5 d^2`` where ``|d| <= delta``, else
    ``delta (|d| - 0.5 delta)``; equal to ``delta * smooth_l1(beta=delta)``.

    Example:
        >>> huber(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5), delta=0.1)
        tensor(0.0450)
    """
    check_number("delta", delta, 0.0, inclusive=False)
    pred, target = prepared_pair(pred, target)
    with no_autocast(pred):
        return F.huber_loss(pred, target, delta=float(delta))


def log_mse(pred: Tensor, target: Tensor, eps: float = 1e-8) -> Tensor:
    r"""``10 log10(MSE + eps)`` per image, averaged over the batch: minus the PSNR of images with
    peak 1 (BasicSR's ``PSNRLoss`` without its scale), so each image counts in decibels.

    ``MSE_n = mean_{C,H,W} (pred_n - target_n)^2``; identical images give ``10 log10(eps)``
    (-80 at the default).

    Example:
        >>> log_mse(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1), eps=0.0)
        tensor(-20.)
    """
    check_number("eps", eps, 0.0)
    pred, target = prepared_pair(pred, target)
    with no_autocast(pred):
        per_image = (pred - target).square().flatten(1).mean(dim=1)
        return (10.0 * torch.log10(per_image + eps)).mean()


def region(
    pred: Tensor,
    target: Tensor,
    fraction: float = 0.4,
    w_dark: float = 4.0,
    w_rest: float = 1.0,
    mask_from: str = "pred",
) -> Tensor:
    r"""MBLLEN's region loss (Lv et al., BMVC 2018): L1 with the darkest pixels weighted up.

    ``mean(m w_dark |pred - target| + (1 - m) w_rest |pred - target|)`` over all N x C x H x W
    elements, where per image the mask ``m`` marks its ``k = int(H W fraction - 1) + 1`` darkest
    pixels (and any tied with the k-th), darkness read on ``0.39 R + 0.5 G + 0.11 B`` (the channel
    itself for 1-channel inputs) of ``pred`` (``mask_from="pred"``, as MBLLEN's training code does)
    or of ``target``. The mask carries no gradient. The defaults are MBLLEN's (40 %, weights 4 and 1).

    Args:
        pred, target: N x C x H x W with C = 1 or 3.
        fraction: the share of pixels in the dark region, in (0, 1].
        w_dark, w_rest: the weights of the dark region and of the rest (>= 0).
        mask_from: ``"pred"`` or ``"target"``: whose darkest pixels form the region.

    Example:
        >>> target = torch.tensor([[[[0.0, 0.2], [0.6, 0.8]]]])
        >>> region(target + 0.1, target, fraction=0.5, mask_from="target")  # (2*4*0.1 + 2*0.1) / 4
        tensor(0.2500)
    """
    check_number("fraction", fraction, 0.0, inclusive=False)
    if fraction > 1:
        raise ValueError(f"fraction: expected a number in (0, 1], got {fraction!r}")
    check_number("w_dark", w_dark, 0.0)
    check_number("w_rest", w_rest, 0.0)
    check_choice("mask_from", mask_from, REGION_MASK_FROM)
    pred, target = prepared_pair(pred, target)
    if pred.shape[1] not in (1, 3):
        raise ValueError(f"pred: expected 1 or 3 channels, got shape {tuple(pred.shape)}")
    with no_autocast(pred):
        with torch.no_grad():
            source = pred if mask_from == "pred" else target
            if source.shape[1] == 3:
                source = (source * source.new_tensor(REGION_GRAY).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
            flat = source.flatten(1)
            k = int(flat.shape[1] * fraction - 1) + 1  # MBLLEN: the value at sorted index int(n p - 1)
            threshold = flat.kthvalue(k, dim=1).values.view(-1, 1, 1, 1)
            dark = source <= threshold
        weight = torch.where(dark, float(w_dark), float(w_rest)).to(pred.dtype)
        return (weight * (pred - target).abs()).mean()
