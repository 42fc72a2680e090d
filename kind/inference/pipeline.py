"""The KinD inference pipelines (spec section 6), as functions on N×C×H×W float tensors.

* :func:`enhance_general` — the authors' pipeline for photos without ground truth: fixed ratio
  (5.0) or an automatic one, darkness weighting of the restored reflectance, blend with the input.
* :func:`enhance_lol` — the authors' LOL evaluation: the ratio comes from the ground truth's
  decomposition and the output is ``R̂ · L̂``.

Inputs are already min-max stretched (:func:`kind.imageops.minmax_stretch`). The networks come as a
:class:`Networks` (in practice a :class:`kind.inference.runner.Runner`); large photos go through :mod:`kind.inference.tiling`, and :class:`kind.KinD`
puts the pieces together for files, arrays and tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from kind.constants import DEFAULT_RATIO, DEFAULT_STRENGTH, MAP_SUFFIXES, ratio_problem, strength_problem
from kind.imageops import blend_with_input, darkness_weight
from kind.models import Ratio


class Networks(Protocol):
    """What the pipelines need of the three networks (:class:`kind.inference.runner.Runner` is one):
    float32 N×C×H×W tensors in and out."""

    def decompose(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """S N×3×H×W → (R N×3×H×W, L N×1×H×W)."""

    def restore_reflectance(self, reflectance: Tensor, illumination: Tensor) -> Tensor:
        """(R, L) → R̂ N×3×H×W."""

    def adjust_illumination(self, illumination: Tensor, ratio: Ratio) -> Tensor:
        """(L, ratio) → L̂ N×1×H×W."""

    # Optional: ``darkness_weight(R)``, :func:`kind.imageops.darkness_weight` of R (the photo
    # pipeline takes it from the networks when they offer it, so that a cache can keep it).


# --- the brightening ratio ------------------------------------------------------------------


def lol_ratio(illumination_low: Tensor, illumination_high: Tensor) -> Tensor:
    """The LOL protocol's ratio ``mean(L_high / (L_low + 1e-4))`` per image: → shape (N,).

    Computed like the official numpy code (float32 pairwise mean) so the ratio is the same number.
    """
    quotient = (illumination_high / (illumination_low + 1e-4)).float().cpu().numpy()
    return torch.tensor([np.mean(q) for q in quotient], dtype=torch.float32)


# The automatic ratio, r = AUTO_SCALE · mean(L_low)^(−AUTO_EXPONENT) clamped to AUTO_RANGE: a
# least-squares fit in log space of the ground-truth ratios of LOL training pairs (never eval15)
# against the mean illumination of the low image, for the shipped DecomNet
# (scripts/fit_auto_ratio.py prints the fit; docs/evaluation.md, "Choosing the ratio").
AUTO_SCALE = 0.7631
AUTO_EXPONENT = 0.8744
AUTO_RANGE = (1.0, 10.0)


def exposure(illumination_low: Tensor) -> Tensor:
    """The statistic the automatic ratio follows: the mean illumination of each image, N×1×H×W → (N,)."""
    return illumination_low.float().flatten(1).mean(dim=1).cpu()


def ratio_of_exposure(mean: Tensor) -> Tensor:
    """The automatic ratio for a mean illumination (:func:`exposure`), elementwise."""
    return (AUTO_SCALE * mean.clamp(min=1e-4) ** (-AUTO_EXPONENT)).clamp(*AUTO_RANGE)


def auto_ratio(illumination_low: Tensor) -> Tensor:
    """A ratio for each image without ground truth, from its own illumination: N×1×H×W → (N,)."""
    return ratio_of_exposure(exposure(illumination_low))


RatioRule = Callable[[Tensor], Tensor]  # illumination N×1×H×W → (N,) ratios (e.g. kind.inference.steady)
RatioChoice = float | str | Tensor | RatioRule


def check_ratio(choice: RatioChoice) -> None:
    """Raise ValueError unless ``choice`` is ``'auto'``, a tensor of ratios, a :data:`RatioRule`, or a
    finite number ≥ 0 (:func:`kind.constants.ratio_problem`). The public entry points check once;
    what they call trusts them."""
    problem = None if isinstance(choice, Tensor) or callable(choice) else ratio_problem(choice)
    if problem:
        raise ValueError(f"ratio: {problem}")


def ratios_for(choice: float | Tensor, count: int) -> Tensor:
    """A checked number, a 0-dim or a (count,) tensor as the (count,) ratios of ``count`` images."""
    if isinstance(choice, Tensor):
        return choice.float().cpu().expand(count)
    return torch.full((count,), float(choice))


def check_strength(strength: float) -> None:
    """Raise ValueError unless ``strength`` is a number from 0 to 1 (:func:`kind.constants.strength_problem`)."""
    problem = strength_problem(strength)
    if problem:
        raise ValueError(f"strength: {problem}")


def chosen_strength(strength: float | None, default: float) -> float:
    """A call's denoise strength, checked (None: ``default``, its owner's, checked when it was set)."""
    if strength is None:
        return default
    check_strength(strength)
    return float(strength)


def denoised(reflectance: Tensor, restored: Tensor, strength: float = DEFAULT_STRENGTH) -> Tensor:
    """The reflectance the output uses at denoise ``strength``: ``R + strength · (R̂ − R)``, a
    linear blend of the unrestored R (0: its texture and noise kept) and KinD's restored R̂
    (1, the default: R̂ itself, untouched)."""
    if strength == 1:
        return restored
    return torch.lerp(reflectance, restored.to(reflectance.dtype), float(strength))


# --- pipelines ----------------------------------------------------------------------------


@dataclass
class Enhanced:
    """A pipeline's result: N×C×H×W images in [0,1], float32 (``output`` float64 in the photo pipeline)."""

    output: Tensor
    reflectance: Tensor
    illumination: Tensor
    restored: Tensor
    adjusted: Tensor
    ratio: Tensor  # (N,)

    def maps(self) -> dict[str, Tensor]:
        """The intermediate maps by file-name suffix."""
        return dict(zip(MAP_SUFFIXES, (self.reflectance, self.illumination, self.restored, self.adjusted)))


def _networks(runner: Networks, image: Tensor, ratio: RatioChoice | None, high: Tensor | None,
              strength: float = DEFAULT_STRENGTH) -> Enhanced:
    """Decompose, restore and re-light ``image``; ``output`` left empty for the caller.

    ``ratio=None`` takes the ground truth's, :func:`lol_ratio` of the decomposed ``high``.
    ``restored`` is R̂ blended with R at denoise ``strength`` (:func:`denoised`; 0 skips the
    restoration net).
    """
    if ratio is not None:
        check_ratio(ratio)
    reflectance, illumination = runner.decompose(image)
    if ratio is None:
        if high is None:
            raise ValueError("the ground-truth ratio needs the ground-truth image")
        ratios = lol_ratio(illumination, runner.decompose(high)[1])
    elif isinstance(ratio, str):
        ratios = auto_ratio(illumination)
    elif callable(ratio):
        ratios = ratio(illumination).float().cpu()
    else:
        ratios = ratios_for(ratio, illumination.shape[0])
    if strength == 0:
        restored = reflectance
    else:
        restored = denoised(reflectance, runner.restore_reflectance(reflectance, illumination), strength)
    adjusted = runner.adjust_illumination(illumination, ratios)
    return Enhanced(torch.empty(0), reflectance, illumination, restored, adjusted, ratios)


def enhance_general(
    runner: Networks, image: Tensor, ratio: RatioChoice | None = DEFAULT_RATIO, high: Tensor | None = None,
    strength: float = DEFAULT_STRENGTH,
) -> Enhanced:
    """The official pipeline for photos: ``image`` N×3×H×W already min-max stretched.

    ``out = L·S + (1 − L)·(R̂ · w · L̂)`` with ``w`` the darkness weight of R; ``ratio`` a number,
    ``'auto'``, a (N,) tensor, or None for the ground truth's (from ``high``, stretched);
    ``strength`` the denoise strength (:func:`denoised`: R̂ at 1, the default).
    """
    result = _networks(runner, image, ratio, high, strength)
    image = image.to(result.restored.device)
    weigh = getattr(runner, "darkness_weight", darkness_weight)  # a prepared photo's networks keep it (kind.api.prepared)
    # float64 like the official numpy code, whose scikit-image weight promotes the arithmetic
    enhanced = result.restored.double() * weigh(result.reflectance) * result.adjusted.double()
    result.output = blend_with_input(image.double(), result.illumination.double(), enhanced)
    return result


def enhance_lol(runner: Networks, low: Tensor, high: Tensor | None, ratio: RatioChoice | None = None,
                strength: float = DEFAULT_STRENGTH) -> Enhanced:
    """The authors' LOL evaluation: ``out = R̂(R_low, L_low) · L̂(L_low, ratio)``.

    With ``ratio=None`` the ratio is the ground truth's, :func:`lol_ratio` of the decomposed
    ``high`` (``low``/``high`` N×3×H×W, both already min-max stretched); else a number or ``'auto'``.
    ``strength``: the denoise strength (:func:`denoised`).
    """
    result = _networks(runner, low, ratio, high, strength)
    result.output = result.restored * result.adjusted
    return result


def enhance_plain(runner: Networks, image: Tensor, ratio: RatioChoice = DEFAULT_RATIO,
                  strength: float = DEFAULT_STRENGTH) -> Enhanced:
    """The LOL protocol's product ``R̂ · L̂`` at a chosen ratio (a number, ``'auto'`` or a (N,)
    tensor), for photos without ground truth: :func:`enhance_lol` without ``high``."""
    return enhance_lol(runner, image, None, ratio, strength)


PIPELINES = {"photo": enhance_general, "lol": enhance_plain}  # KinD(..., pipeline=NAME)


def check_pipeline(name: str) -> None:
    """Raise ValueError unless ``name`` is one of ``PIPELINES``."""
    if name not in PIPELINES:
        raise ValueError(f"pipeline: expected one of {', '.join(PIPELINES)}, got {name!r}")
