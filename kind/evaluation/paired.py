"""Two score reports of the same pairs compared pair by pair (the ``per_image`` rows of ``kind eval
--json``: name → metric → value): the differences, on how many pairs one is better, and a paired
bootstrap interval of the mean difference."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Rows = dict[str, dict[str, float]]
LOWER_IS_BETTER = frozenset({"loe", "niqe", "color_angle_deg"})


def differences(reference: Rows, candidate: Rows, metric: str) -> np.ndarray:
    """candidate − reference of ``metric`` on each of ``reference``'s pairs, in its order."""
    return np.array([candidate[name][metric] - reference[name][metric] for name in reference])


def saturation_gaps(rows: Rows, names: Iterable[str]) -> np.ndarray:
    """|output saturation − ground-truth saturation| of each pair of ``names``."""
    return np.array([abs(rows[name]["saturation"] - rows[name]["gt_saturation"]) for name in names])


def pairs_better(reference: Rows, candidate: Rows, metric: str) -> int:
    """On how many pairs the candidate is better: a higher PSNR or SSIM, a lower LOE, NIQE or colour
    angle, a saturation nearer the ground truth's."""
    if metric == "saturation":
        return int((saturation_gaps(candidate, reference) < saturation_gaps(reference, reference)).sum())
    diff = differences(reference, candidate, metric)
    return int((diff < 0).sum() if metric in LOWER_IS_BETTER else (diff > 0).sum())


def bootstrap_interval(diffs: np.ndarray, samples: int = 10000, seed: int = 0) -> tuple[float, float]:
    """The 2.5 and 97.5 % percentiles of the mean of ``diffs`` resampled with replacement."""
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), (samples, len(diffs)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


__all__ = ["LOWER_IS_BETTER", "bootstrap_interval", "differences", "pairs_better", "saturation_gaps"]
