"""Steady light for clips (``--ratio auto`` on a video): the photo pipeline's two per-image choices,
smoothed over time, so that they follow the scene, not the noise of each frame.

A photo is stretched by its own darkest and brightest sample, and ``--ratio auto`` maps the mean
of its decomposed illumination ``L`` (the exposure, :func:`kind.inference.pipeline.exposure`) to a
ratio (:func:`kind.inference.pipeline.ratio_of_exposure`). In a dark noisy clip both jump from frame
to frame: the brightest sample is a noise extreme (±4 % from frame to frame at ISO-like noise),
and the whole frame brightens and darkens with it. :class:`SteadyLight` gives each frame of a clip,
in order:

* **the stretch's bounds** (:meth:`SteadyLight.bounds`): exponential moving averages of the
  frames' min and max, with time constant ``BOUNDS_SECONDS`` (at ``rate`` fps an average moves
  ``1 − exp(−1 / (rate · seconds))`` of the way to each new frame's value);
* **the ratio** (calling it, a :data:`kind.inference.pipeline.RatioRule`): the rule fed the moving
  average of log(exposure), time constant ``EXPOSURE_SECONDS``.

Both start afresh at a **cut**: a frame whose coarse layout (the mean grey of ``GRID`` × ``GRID``
blocks, from the input samples) differs from the previous frame's by more than ``CUT_CHANGE`` (mean
absolute difference over the mean level). A static shot keeps its light however noisy its frames;
a slow change of light is followed within a few seconds; a new shot gets its own from its first frame.

>>> import numpy as np, torch
>>> light = SteadyLight(rate=25)
>>> rng = np.random.default_rng(0)
>>> frames = [rng.integers(0, 60 + i % 3, (32, 32, 3)).astype(np.uint8) for i in range(6)]
>>> highs = [light.bounds(frame)[1] for frame in frames]
>>> round(max(highs) - min(highs), 3) < 0.01
True
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from kind.inference.pipeline import exposure, ratio_of_exposure

BOUNDS_SECONDS = 4.0  # the stretch bounds' moving average
EXPOSURE_SECONDS = 1.0  # the exposure's moving average
CUT_CHANGE = 0.25  # relative change of the frame's block means that starts a new shot
GRID = 8  # blocks a side for the cut test


def _weight(rate: float, seconds: float) -> float:
    return 1.0 if seconds == 0 else 1.0 - math.exp(-1.0 / (rate * seconds))


def layout(samples: np.ndarray, grid: int = GRID) -> np.ndarray:
    """The mean grey of ``grid`` × ``grid`` blocks of an H×W×3 frame (float64; blocks of whole rows
    and columns, the last ones larger)."""
    grey = samples.mean(axis=2, dtype=np.float64)
    rows = np.array_split(np.arange(grey.shape[0]), min(grid, grey.shape[0]))
    cols = np.array_split(np.arange(grey.shape[1]), min(grid, grey.shape[1]))
    return np.array([[grey[r[0]:r[-1] + 1, c[0]:c[-1] + 1].mean() for c in cols] for r in rows])


class SteadyLight:
    """The steady stretch and ratio of one clip's frames, called in frame order (see the module
    docstring): :meth:`bounds` with each frame's samples, then the instance itself as the ratio
    rule with its illumination. Keeps a few numbers: ``frames``, ``cuts`` (shots after the first),
    and the smallest, largest and mean ratio given."""

    def __init__(self, rate: float, bounds_seconds: float = BOUNDS_SECONDS,
                 exposure_seconds: float = EXPOSURE_SECONDS, cut_change: float = CUT_CHANGE) -> None:
        if not rate > 0:
            raise ValueError(f"rate: expected frames a second above 0, got {rate}")
        if not (bounds_seconds >= 0 and exposure_seconds >= 0):
            raise ValueError(f"seconds: expected 0 or more, got {bounds_seconds} and {exposure_seconds}")
        self.bounds_weight = _weight(rate, bounds_seconds)
        self.exposure_weight = _weight(rate, exposure_seconds)
        self.cut_change = cut_change
        self._bounds: tuple[float, float] | None = None
        self._level: float | None = None  # the moving average of log(exposure)
        self._layout: np.ndarray | None = None
        self.frames = 0
        self.cuts = 0
        self.low = math.inf
        self.high = -math.inf
        self.total = 0.0

    def bounds(self, samples: np.ndarray) -> tuple[float, float]:
        """The next frame's stretch bounds (fractions of full scale) from its samples H×W×3
        (uint8 or uint16); a cut here also restarts the exposure's average."""
        white = 65535.0 if samples.dtype == np.uint16 else 255.0
        now = layout(samples)
        if self._layout is not None and now.shape == self._layout.shape and self._is_cut(self._layout, now):
            self._bounds = self._level = None
            self.cuts += 1
        self._layout = now
        low, high = float(samples.min()) / white, float(samples.max()) / white
        if self._bounds is not None:
            w = self.bounds_weight
            low, high = self._bounds[0] + w * (low - self._bounds[0]), self._bounds[1] + w * (high - self._bounds[1])
        self._bounds = (low, high)
        return self._bounds

    def __call__(self, illumination: Tensor) -> Tensor:
        """Ratios (N,) for N consecutive frames' illumination N×1×H×W."""
        logs = exposure(illumination).clamp(min=1e-4).log()
        ratios = torch.empty(len(logs))
        for n, value in enumerate(logs.tolist()):
            w = self.exposure_weight
            self._level = value if self._level is None else self._level + w * (value - self._level)
            ratio = float(ratio_of_exposure(torch.tensor(math.exp(self._level))))
            ratios[n] = ratio
            self.frames += 1
            self.low, self.high, self.total = min(self.low, ratio), max(self.high, ratio), self.total + ratio
        return ratios

    def _is_cut(self, before: np.ndarray, after: np.ndarray) -> bool:
        level = (before.mean() + after.mean()) / 2
        return float(np.abs(before - after).mean()) > self.cut_change * max(level, 1e-6)

    @property
    def mean(self) -> float:
        """The mean ratio given (nan before any frame)."""
        return self.total / self.frames if self.frames else math.nan


__all__ = ["BOUNDS_SECONDS", "CUT_CHANGE", "EXPOSURE_SECONDS", "GRID", "SteadyLight", "layout"]
