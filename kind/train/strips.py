"""Validation image strips for TensorBoard, each picture labelled with what it shows."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from kind.imageops import to_uint8
from kind.io.panels import make_panel

STRIP_LABELS = {  # what stage.validate's strips hold, left to right
    "decom": ("low", "R_low", "L_low", "high", "R_high", "L_high"),
    "adjust": ("L_low", "L̂ (adjusted)", "L_high"),
    "restore": ("R_low", "R̂ (restored)", "R_high^γ (target)"),
    "restore+pipeline": ("R_low", "R̂ (restored)", "R_high^γ (target)", "R̂·L̂ (official protocol)", "ground truth"),
}


def labelled_strip(images: Tensor, labels: tuple[str, ...]) -> np.ndarray:
    """N×C×H×W images (C 1 or 3, values in [0, 1]) side by side with a label above each:
    uint8 (strip + H)×W_total×3 (:func:`kind.io.panels.make_panel`)."""
    if len(images) != len(labels):
        raise ValueError(f"expected {len(labels)} images for {labels}, got {len(images)}")
    pictures = [to_uint8(image.float().expand(3, -1, -1).permute(1, 2, 0).cpu().numpy()) for image in images]
    return make_panel(pictures, list(labels))


__all__ = ["STRIP_LABELS", "labelled_strip"]
