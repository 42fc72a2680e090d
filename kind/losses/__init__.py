"""KinD's training losses and the catalogue of extra terms a stage config can add.

``from kind import losses`` is the public namespace:

* the official stage losses, exactly as the TensorFlow code computes them
  (:mod:`kind.losses.official`): ``decomposition_loss``, ``adjustment_loss``, ``restoration_loss``,
  their modules, ``gradient``, ``rgb_to_gray``, ``ssim``;
* the catalogue, each a function of ``(pred, target)`` N x C x H x W in [0, 1] returning a 0-dim
  tensor: pixel (:mod:`~kind.losses.pixel`: ``l1``, ``mse``, ``smooth_l1``, ``huber``, ``log_mse``,
  ``region``), structure (:mod:`~kind.losses.structure`: ``ssim_loss``, ``ms_ssim_loss``,
  ``laplacian``), colour (:mod:`~kind.losses.color`: ``color_angle``, ``color_angle_pyramid``,
  ``blur_color``), ``perceptual`` (:mod:`~kind.losses.vgg`) and the adversarial
  ``AdversarialLoss`` (:mod:`~kind.losses.adversarial`);
* the config side (:mod:`~kind.losses.extra`): ``EXTRA_TARGETS``, ``EXTRA_TERMS``,
  ``check_extra_losses``, ``ExtraLosses``.

docs/losses.md gives every term's formula, source and config parameters.
"""

from kind.losses.adversarial import (
    AdversarialLoss,
    PatchDiscriminator,
    discriminator_adversarial_loss,
    generator_adversarial_loss,
)
from kind.losses.color import blur_color, color_angle, color_angle_map, color_angle_pyramid
from kind.losses.extra import EXTRA_TARGETS, EXTRA_TERMS, ExtraLosses, check_extra_losses
from kind.losses.official import (
    DECOMPOSITION_WEIGHTS,
    GRAY_WEIGHTS,
    SSIM_WINDOW,
    AdjustmentLoss,
    DecompositionLoss,
    RestorationLoss,
    adjustment_loss,
    decomposition_loss,
    gradient,
    gradient_raw,
    restoration_loss,
    rgb_to_gray,
    ssim,
)
from kind.losses.pixel import huber, l1, log_mse, mse, region, smooth_l1
from kind.losses.structure import (
    MS_SSIM_WEIGHTS,
    gaussian_pyramid,
    laplacian,
    laplacian_pyramid,
    ms_ssim,
    ms_ssim_loss,
    ms_ssim_scales,
    ssim_loss,
)
from kind.losses.vgg import PerceptualLoss, VGGFeatures, perceptual, read_vgg_weights, vgg_layer_names

__all__ = [
    # official
    "DECOMPOSITION_WEIGHTS",
    "GRAY_WEIGHTS",
    "SSIM_WINDOW",
    "AdjustmentLoss",
    "DecompositionLoss",
    "RestorationLoss",
    "adjustment_loss",
    "decomposition_loss",
    "gradient",
    "gradient_raw",
    "restoration_loss",
    "rgb_to_gray",
    "ssim",
    # pixel
    "l1",
    "mse",
    "smooth_l1",
    "huber",
    "log_mse",
    "region",
    # structure
    "MS_SSIM_WEIGHTS",
    "ssim_loss",
    "ms_ssim",
    "ms_ssim_loss",
    "ms_ssim_scales",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "laplacian",
    # colour
    "color_angle_map",
    "color_angle",
    "color_angle_pyramid",
    "blur_color",
    # perceptual
    "vgg_layer_names",
    "read_vgg_weights",
    "VGGFeatures",
    "perceptual",
    "PerceptualLoss",
    # adversarial
    "PatchDiscriminator",
    "generator_adversarial_loss",
    "discriminator_adversarial_loss",
    "AdversarialLoss",
    # config
    "EXTRA_TARGETS",
    "EXTRA_TERMS",
    "check_extra_losses",
    "ExtraLosses",
]
