"""KinD's training losses (:mod:`kind.losses.official`) and the catalogue of extra terms.

``from kind import losses`` is the public namespace: ``losses.decomposition_loss``,
``losses.restoration_loss``, ... as before.
"""

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

__all__ = [
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
]
