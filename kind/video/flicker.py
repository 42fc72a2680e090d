"""Flicker, the measure of steady light: how much a clip's mean luminance changes from frame to
frame, relative to its level. ``flicker(output) / flicker(input)`` at most 1 means the enhancement
adds no flicker of its own.

>>> import numpy as np
>>> frames = [np.full((2, 2, 3), v, np.uint8) for v in (100, 102, 100, 102)]
>>> round(flicker([mean_luminance(f) for f in frames]), 4)
0.0198
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709 weights of R, G, B


def mean_luminance(samples: np.ndarray) -> float:
    """The mean Rec. 709 luminance of an RGB frame H×W×3 (its samples' units)."""
    return float(np.tensordot(samples.reshape(-1, 3).mean(axis=0, dtype=np.float64), LUMA, axes=1))


def flicker(means: Sequence[float]) -> float:
    """The mean absolute change of the mean luminance between consecutive frames, over its mean:
    0 for a steady clip (needs two frames or more)."""
    values = np.asarray(means, dtype=np.float64)
    if values.size < 2:
        raise ValueError(f"flicker: needs two frames or more, got {values.size}")
    return float(np.abs(np.diff(values)).mean() / max(values.mean(), 1e-12))


__all__ = ["LUMA", "flicker", "mean_luminance"]
