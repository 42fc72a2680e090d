"""The KinD training losses, exactly as the official TensorFlow code computes them.

Three stage losses, one per network, each returning ``(total, terms)``: ``total`` a 0-dim tensor to
backpropagate and ``terms`` a dict of the named, *unweighted* components (0-dim tensors, still attached
to the graph; call ``.item()`` to log them).

========================  ==========================================================================
``decomposition_loss``    ``recon_high + recon_low + 0.01 equal_R + 0.2 mutual
                          + 0.15 smooth_high + 0.15 smooth_low``
``adjustment_loss``       ``square + grad``
``restoration_loss``      ``square + grad + ssim_loss`` where ``ssim_loss = 1 - SSIM``
========================  ==========================================================================

Shared pieces, read off the official ``utils.py`` and the three ``*_train.py`` scripts:

* :func:`gradient` is the official ``gradient(x, direction)``: the absolute 2x2 forward difference
  (TF kernel ``[[0, 0], [-1, 1]]`` for ``"x"``, its transpose for ``"y"``, cross-correlation, ``SAME``
  padding, i.e. one zero row at the bottom and one zero column at the right), then min-max normalised
  over the *whole tensor of that one call* (all of N, C, H, W): ``(g - min) / (max - min + 1e-4)``.
  Each call normalises on its own, so two images in one batch share one min and max.
* :func:`rgb_to_gray` is ``tf.image.rgb_to_grayscale``: ``0.2989 R + 0.587 G + 0.114 B``.
* :func:`ssim` is the official ``tf_ssim`` applied to each RGB channel and averaged: 11x11 Gaussian
  window (sigma 1.5), ``VALID`` convolution, ``C1 = 0.01**2``, ``C2 = 0.03**2`` (dynamic range 1),
  the mean of the map over the batch. It is computed by ``kornia.metrics.ssim(..., padding="valid",
  eps=0.0)``, whose kernel, constants and formula are the same (``tests/test_losses.py`` pins both
  against TensorFlow and against a direct 2-D convolution).

All inputs are NCHW floats in [0, 1]. The losses are computed in float32 (float64 inputs stay float64)
with autocast switched off, so they are safe to call inside ``torch.autocast`` with bf16/fp16 network
outputs; tensors created here follow the inputs' device.

Example:
    >>> pred, target = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    >>> total, terms = adjustment_loss(pred, target)
    >>> sorted(terms)
    ['grad', 'square']
"""

from __future__ import annotations

from typing import Dict, Mapping, Tuple

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kind.constants import SSIM_WINDOW
from kind.imageops import gray
from kind.losses._checks import check_same_nhw, check_same_shape, check_tensor, no_autocast, upcast

__all__ = [
    "GRAY_WEIGHTS",
    "SSIM_WINDOW",
    "gradient_raw",
    "gradient",
    "rgb_to_gray",
    "ssim",
    "decomposition_loss",
    "adjustment_loss",
    "restoration_loss",
    "DecompositionLoss",
    "AdjustmentLoss",
    "RestorationLoss",
]

Terms = Dict[str, Tensor]

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # tf.image.rgb_to_grayscale
GRAD_NORM_EPS = 1e-4  # official gradient(): (g - min) / (max - min + 1e-4)
SMOOTH_FLOOR = 0.01  # official mutual_i_input_loss: G(L) / max(G(gray S), 0.01)
MUTUAL_DECAY = 10.0  # official mutual_i_loss: G * exp(-10 G)

DECOMPOSITION_WEIGHTS = {  # official loss_Decom
    "recon_high": 1.0,
    "recon_low": 1.0,
    "equal_R": 0.01,
    "mutual": 0.2,
    "smooth_high": 0.15,
    "smooth_low": 0.15,
}


def _check_ssim_size(name: str, x: Tensor) -> None:
    if x.shape[-2] < SSIM_WINDOW or x.shape[-1] < SSIM_WINDOW:
        raise ValueError(
            f"{name}: SSIM uses an {SSIM_WINDOW}x{SSIM_WINDOW} window with VALID padding and needs "
            f"H and W >= {SSIM_WINDOW}, got shape {tuple(x.shape)}"
        )


# ----------------------------------------------------------------------------------------------------
# building blocks


def gradient_raw(x: Tensor, direction: str) -> Tensor:
    r"""Absolute TF-``SAME`` forward difference, before normalisation.

    With ``x`` zero-extended by one row at the bottom and one column at the right (what TF ``SAME``
    padding does for a 2x2 kernel)::

        "x":  g[i, j] = |x[i+1, j+1] - x[i+1, j]|
        "y":  g[i, j] = |x[i+1, j+1] - x[i, j+1]|

    so the last row of the x-gradient is 0 and its last column is ``|x[i+1, W-1]|`` (and the
    transposed statements hold for y). Applied to each channel separately (the official code only
    calls it on 1-channel tensors).

    Args:
        x: N x C x H x W.
        direction: ``"x"`` (horizontal differences) or ``"y"`` (vertical).

    Returns:
        N x C x H x W, non-negative.
    """
    check_tensor("x", x)
    if direction not in ("x", "y"):
        raise ValueError(f"direction: expected 'x' or 'y', got {direction!r}")
    padded = F.pad(x, (0, 1, 0, 1))  # (left, right, top, bottom): one zero column right, one zero row below
    corner = padded[:, :, 1:, 1:]  # x[i+1, j+1]
    if direction == "x":
        return (corner - padded[:, :, 1:, :-1]).abs()  # - x[i+1, j]
    return (corner - padded[:, :, :-1, 1:]).abs()  # - x[i, j+1]


def gradient(x: Tensor, direction: str) -> Tensor:
    r"""The official KinD gradient operator G: :func:`gradient_raw`, min-max normalised.

    ``G(x) = (g - min g) / (max g - min g + 1e-4)`` with ``g = gradient_raw(x, direction)`` and the
    min and max taken over the whole tensor (all of N, C, H, W), as in one official
    ``gradient(x, direction)`` call.

    Example:
        >>> x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
        >>> gradient_raw(x, "x")
        tensor([[[[2., 4.],
                  [0., 0.]]]])
    """
    g = gradient_raw(x, direction)
    g_min = g.amin()
    g_max = g.amax()
    return (g - g_min) / (g_max - g_min + GRAD_NORM_EPS)


def rgb_to_gray(rgb: Tensor) -> Tensor:
    r"""``tf.image.rgb_to_grayscale``: N x 3 x H x W -> N x 1 x H x W, ``0.2989 R + 0.587 G + 0.114 B``.

    :func:`kind.imageops.gray` with ``GRAY_WEIGHTS``, in the input's dtype.
    """
    check_tensor("rgb", rgb, channels=3)
    return gray(rgb, GRAY_WEIGHTS)


def ssim(img1: Tensor, img2: Tensor) -> Tensor:
    r"""Mean SSIM as the official KinD training code computes it (``tf_ssim`` per channel, averaged).

    Per channel: 11x11 Gaussian window (sigma 1.5, normalised to sum 1), ``VALID`` convolution,
    ``C1 = 0.01**2``, ``C2 = 0.03**2``,
    ``map = (2 mu1 mu2 + C1)(2 sigma12 + C2) / ((mu1^2 + mu2^2 + C1)(sigma1^2 + sigma2^2 + C2))``,
    averaged over the batch and the valid positions; the channel means are then averaged. Every
    channel has the same number of valid positions, so this is the mean of the whole map.
    Computed by ``kornia.metrics.ssim(img1, img2, 11, max_val=1.0, eps=0.0, padding="valid")``.

    This is the training SSIM on floats with dynamic range 1; the evaluation metric on uint8 images
    lives with the metrics.

    Args:
        img1, img2: N x C x H x W, same shape, H and W >= 11.

    Returns:
        0-dim tensor.
    """
    check_tensor("img1", img1)
    check_tensor("img2", img2)
    check_same_shape("img1", img1, "img2", img2)
    _check_ssim_size("img1", img1)
    img1, img2 = upcast(img1, img2)
    with no_autocast(img1):
        ssim_map = kornia.metrics.ssim(img1, img2, SSIM_WINDOW, max_val=1.0, eps=0.0, padding="valid")
    return ssim_map.mean()


# ----------------------------------------------------------------------------------------------------
# the three stage losses


def decomposition_loss(
    low: Tensor,
    high: Tensor,
    R_low: Tensor,
    L_low: Tensor,
    R_high: Tensor,
    L_high: Tensor,
    weights: Mapping[str, float] = DECOMPOSITION_WEIGHTS,
) -> Tuple[Tensor, Terms]:
    r"""Stage 1 (DecomNet) loss, the official ``loss_Decom``.

    With ``G`` = :func:`gradient` and every mean over all elements::

        recon_low   = mean|R_low * L_low - low|          (L broadcast to 3 channels)
        recon_high  = mean|R_high * L_high - high|
        equal_R     = mean|R_low - R_high|
        mutual      = mean(s_x exp(-10 s_x) + s_y exp(-10 s_y)),  s_d = G_d(L_low) + G_d(L_high)
        smooth_low  = mean(|G_x(L_low)  / max(G_x(gray low), 0.01)| + |G_y(L_low) / max(G_y(gray low), 0.01)|)
        smooth_high = the same with L_high and high
        total = recon_high + recon_low + 0.01 equal_R + 0.2 mutual + 0.15 smooth_high + 0.15 smooth_low

    Args:
        low, high: the low- and normal-light images, N x 3 x H x W.
        R_low, R_high: reflectances, N x 3 x H x W.
        L_low, L_high: illuminations, N x 1 x H x W.
        weights: the weight of each term (default: the official ones above).

    Returns:
        ``(total, terms)``; terms (unweighted): ``recon_low``, ``recon_high``, ``equal_R``, ``mutual``,
        ``smooth_low``, ``smooth_high``.
    """
    for name, x, c in (
        ("low", low, 3),
        ("high", high, 3),
        ("R_low", R_low, 3),
        ("L_low", L_low, 1),
        ("R_high", R_high, 3),
        ("L_high", L_high, 1),
    ):
        check_tensor(name, x, channels=c)
    check_same_shape("low", low, "high", high)
    check_same_shape("low", low, "R_low", R_low)
    check_same_shape("low", low, "R_high", R_high)
    check_same_nhw("low", low, "L_low", L_low)
    check_same_nhw("low", low, "L_high", L_high)

    low, high, R_low, L_low, R_high, L_high = upcast(low, high, R_low, L_low, R_high, L_high)
    with no_autocast(low):
        gx_low, gy_low = gradient(L_low, "x"), gradient(L_low, "y")
        gx_high, gy_high = gradient(L_high, "x"), gradient(L_high, "y")
        sum_x, sum_y = gx_low + gx_high, gy_low + gy_high
        terms = {
            "recon_low": (R_low * L_low - low).abs().mean(),  # L_low broadcasts over the 3 channels
            "recon_high": (R_high * L_high - high).abs().mean(),
            "equal_R": (R_low - R_high).abs().mean(),
            "mutual": (
                sum_x * torch.exp(-MUTUAL_DECAY * sum_x) + sum_y * torch.exp(-MUTUAL_DECAY * sum_y)
            ).mean(),
            "smooth_low": _smooth_term(gx_low, gy_low, low),
            "smooth_high": _smooth_term(gx_high, gy_high, high),
        }
        total = sum(weights[key] * terms[key] for key in DECOMPOSITION_WEIGHTS)  # the official order
    return total, terms


def _smooth_term(gx_L: Tensor, gy_L: Tensor, image: Tensor) -> Tensor:
    """Official mutual_i_input_loss: mean(|G_x(L) / max(G_x(gray S), 0.01)| + the same in y)."""
    image_gray = rgb_to_gray(image)
    x_term = (gx_L / gradient(image_gray, "x").clamp_min(SMOOTH_FLOOR)).abs()
    y_term = (gy_L / gradient(image_gray, "y").clamp_min(SMOOTH_FLOOR)).abs()
    return (x_term + y_term).mean()


def _grad_term(pred: Tensor, target: Tensor) -> Tensor:
    """Official grad_loss: mean((G_x(pred) - G_x(target))^2 + (G_y(pred) - G_y(target))^2)."""
    x_term = (gradient(pred, "x") - gradient(target, "x")).square()
    y_term = (gradient(pred, "y") - gradient(target, "y")).square()
    return (x_term + y_term).mean()


def adjustment_loss(L_pred: Tensor, L_target: Tensor) -> Tuple[Tensor, Terms]:
    r"""Stage 2 (Illumination_adjust_net) loss, the official ``loss_adjust``::

        square = mean((L_pred - L_target)^2)
        grad   = mean((G_x(L_pred) - G_x(L_target))^2 + (G_y(L_pred) - G_y(L_target))^2)
        total  = square + grad

    Args:
        L_pred, L_target: N x 1 x H x W.

    Returns:
        ``(total, terms)``; terms: ``square``, ``grad``.
    """
    check_tensor("L_pred", L_pred, channels=1)
    check_tensor("L_target", L_target, channels=1)
    check_same_shape("L_pred", L_pred, "L_target", L_target)
    L_pred, L_target = upcast(L_pred, L_target)
    with no_autocast(L_pred):
        terms = {
            "square": (L_pred - L_target).square().mean(),
            "grad": _grad_term(L_pred, L_target),
        }
        total = terms["square"] + terms["grad"]
    return total, terms


def restoration_loss(R_pred: Tensor, R_target: Tensor) -> Tuple[Tensor, Terms]:
    r"""Stage 3 (Restoration_net) loss, the official ``loss_restoration``::

        square    = mean((R_pred - R_target)^2)
        ssim_loss = 1 - ssim(R_pred, R_target)          (see :func:`ssim`)
        grad      = mean((G_x(gray R_pred) - G_x(gray R_target))^2 + (the same in y))
        total     = square + grad + ssim_loss

    The target is the normal-light reflectance raised to the power 1.2 (done by the caller).

    Args:
        R_pred, R_target: N x 3 x H x W, H and W >= 11.

    Returns:
        ``(total, terms)``; terms: ``square``, ``ssim_loss`` (that is ``1 - SSIM``, not SSIM),
        ``grad``.
    """
    check_tensor("R_pred", R_pred, channels=3)
    check_tensor("R_target", R_target, channels=3)
    check_same_shape("R_pred", R_pred, "R_target", R_target)
    _check_ssim_size("R_pred", R_pred)
    R_pred, R_target = upcast(R_pred, R_target)
    with no_autocast(R_pred):
        terms = {
            "square": (R_pred - R_target).square().mean(),
            "ssim_loss": 1.0 - ssim(R_pred, R_target),
            "grad": _grad_term(rgb_to_gray(R_pred), rgb_to_gray(R_target)),
        }
        total = terms["square"] + terms["grad"] + terms["ssim_loss"]
    return total, terms


# ----------------------------------------------------------------------------------------------------
# thin module wrappers


class DecompositionLoss(nn.Module):
    """Module form of :func:`decomposition_loss`; ``forward`` returns ``(total, terms)``."""

    def forward(
        self, low: Tensor, high: Tensor, R_low: Tensor, L_low: Tensor, R_high: Tensor, L_high: Tensor
    ) -> Tuple[Tensor, Terms]:
        return decomposition_loss(low, high, R_low, L_low, R_high, L_high)


class AdjustmentLoss(nn.Module):
    """Module form of :func:`adjustment_loss`; ``forward`` returns ``(total, terms)``."""

    def forward(self, L_pred: Tensor, L_target: Tensor) -> Tuple[Tensor, Terms]:
        return adjustment_loss(L_pred, L_target)


class RestorationLoss(nn.Module):
    """Module form of :func:`restoration_loss`; ``forward`` returns ``(total, terms)``."""

    def forward(self, R_pred: Tensor, R_target: Tensor) -> Tuple[Tensor, Terms]:
        return restoration_loss(R_pred, R_target)
