"""Image-quality metrics as the field computes them: PSNR, SSIM, LOE, NIQE and colour saturation.

``psnr`` / ``ssim`` (:mod:`~kind.metrics.fidelity`)
    BasicSR's ``calculate_psnr`` / ``calculate_ssim`` (which match the MATLAB reference of Wang et
    al.), on uint8 HxWxC RGB arrays with float64 maths, an optional border crop and an optional
    BT.601 Y channel.
``psnr_torch`` / ``ssim_torch`` (:mod:`~kind.metrics.fidelity_torch`)
    The same two metrics for batches of N x C x H x W float tensors in [0, data_range], one value
    per image, for validation during training. With ``quantize=True`` (the default) the tensors are
    first turned into the integers the official code would save, ``floor(clip(x * 255, 0, 255))``,
    so that the numbers equal what :func:`psnr` / :func:`ssim` give on the saved PNG files.
``loe`` (:mod:`~kind.metrics.lightness_order`)
    Lightness order error (Wang et al., NPE, TIP 2013), a naturalness measure that needs no ground truth,
    reported in the KinD paper (input against enhanced output); two variants in circulation, NPE's
    ``loe.m`` and BIMEF's ``loe100x100.m``.
``niqe`` (:mod:`~kind.metrics.naturalness`)
    Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013), no reference, as
    the MATLAB ``niqe_release`` computes it, with the LIVE pristine model or KinD++'s retrained one.
``saturation`` / ``saturation_torch`` (:mod:`~kind.metrics.colour`)
    The mean HSV saturation, to tell washed-out outputs.

All numpy functions return Python floats; the torch functions return a tensor of shape (N,).
"""

from kind.constants import LOE_VARIANTS, NIQE_CHANNELS
from kind.metrics.colour import saturation, saturation_torch
from kind.constants import SSIM_SIGMA, SSIM_WINDOW
from kind.metrics.fidelity import SSIM_C1, SSIM_C2, psnr, ssim
from kind.metrics.fidelity_torch import psnr_torch, ssim_torch
from kind.metrics.lightness_order import LOE_GRID, LOE_SAMPLES, loe
from kind.metrics.naturalness import (
    AGGD_GRID,
    AGGD_SHIFTS,
    MATLAB_GRAY,
    NIQE_BLOCK,
    NIQE_FEATURES,
    NIQE_PARAMS,
    NIQE_PARAMS_DIR,
    NIQE_SIGMA,
    NIQE_WINDOW,
    aggd_fit,
    load_niqe_params,
    matlab_rgb2gray,
    mscn,
    niqe,
    niqe_block_features,
    niqe_features,
    niqe_luminance,
)
from kind.metrics.options import MetricOptions, check_metric_options

__all__ = [
    "LOE_VARIANTS",
    "MetricOptions",
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
    "saturation",
    "saturation_torch",
    "ssim",
    "ssim_torch",
]
