"""The evaluation protocols: how each one enhances a pair or a photo, and chooses its ratio.

Protocols
---------
Every protocol reads the images as the official loader does: RGB float32 ``x / 255``, then each
image stretched by its own global min and max (:func:`kind.imageops.minmax_stretch`). Outputs are
converted with the official truncating ``uint8(clip(x·255, 0, 255))`` (:func:`kind.imageops.to_uint8`).

``official``
    The authors' LOL evaluation (``evaluate_LOLdataset.py``), step for step: decompose the stretched
    low image **and the stretched ground truth**; ``ratio = mean(L_gt / (L_low + 1e-4))`` in float32
    (:func:`kind.inference.pipeline.lol_ratio`); output ``R̂(R_low, L_low) · L̂(L_low, ratio)``
    (:func:`kind.inference.pipeline.enhance_lol`) — no darkness weight, no blend. The ground truth sets the
    exposure. This is the protocol of the KinD paper's LOL numbers (20.87 / 0.8022).
``gt-ratio``
    The general pipeline (:func:`kind.inference.pipeline.enhance_general`: darkness weight on R̂, blend with
    the input) at the same ground-truth ratio as ``official``. ``official`` vs ``gt-ratio`` isolates
    the effect of the general pipeline's two extra steps at equal exposure.
``kindpp``
    KinD++'s LOL evaluation (``evaluate_LOLdataset.py`` of github.com/zhangyhuaee/KinD_plus) applied
    to these (KinD) networks: as ``official``, plus a second ratio from the reflectance,
    ``ratio2 = mean(R_gt / (R̂ + 1e-4))`` (R_gt the decomposed ground truth's reflectance, R̂ the
    restored one); the adjustment net gets ``ratio + ratio2`` when ``ratio2 ≥ 1.1``, else ``ratio``
    (:func:`enhance_kindpp`). KinD++'s own networks differ (a multi-scale illumination attention
    restoration net, other training), so this is KinD++'s *protocol*, not KinD++'s results: the
    KinD++ paper's 21.30 / 0.8226 come from its own networks.
``fixed``
    The general pipeline at a fixed ratio (default 5.0, the authors' default); no ground truth used.
``auto``
    The general pipeline with ``ratio='auto'`` (:func:`kind.inference.pipeline.auto_ratio`, one ratio per image
    from its own illumination); no ground truth used.
``input``
    No enhancement: the low input itself is scored (LOL eval15 against the ground truth: PSNR
    7.773 dB, SSIM 0.1952). Needs no weights.

``gt_mean`` (``--gt-mean``) modifies any protocol on paired data: each output is rescaled so that
its mean gray level equals the ground truth's (:func:`gt_mean_rescale`), the rule of Retinexformer's
``--GT_mean`` and LLFlow's evaluation. It removes the exposure error, so its numbers are higher and
compare only with other GT-mean numbers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from kind.constants import PROTOCOLS, ratio_problem
from kind.imageops import minmax_stretch
from kind.inference.pipeline import (
    AUTO_EXPONENT,
    AUTO_RANGE,
    AUTO_SCALE,
    DEFAULT_RATIO,
    Enhanced,
    enhance_general,
    enhance_lol,
    lol_ratio,
)
from kind.inference.runner import Runner


GT_RATIO_PROTOCOLS = ("official", "gt-ratio", "kindpp")  # the ground truth sets the ratio
PHOTO_PROTOCOLS = ("fixed", "auto", "input")  # need no ground truth
KINDPP_RATIO2_THRESHOLD = 1.1  # KinD++ adds its reflectance ratio only from this value on


# Retinexformer computes both means with cv2.COLOR_BGR2GRAY (0.299, 0.587, 0.114 for B, G, R) on its
# RGB arrays, so the weights fall on (R, G, B) in the reverse order: 0.114 R + 0.587 G + 0.299 B.
GT_MEAN_WEIGHTS = (0.114, 0.587, 0.299)


class EvalError(ValueError):
    """Evaluation that cannot run as asked (bad protocol or option, unsafe output folder)."""


def ratio_rule(protocol: str, ratio: float | None = None) -> str:
    """A one-line description of how ``protocol`` chooses its brightening ratio (and its output)."""
    if protocol == "official":
        return "ground truth: mean(L_gt / (L_low + 1e-4)); output R̂·L̂ (authors' LOL evaluation)"
    if protocol == "gt-ratio":
        return "ground truth: mean(L_gt / (L_low + 1e-4)); general pipeline (darkness weight + blend)"
    if protocol == "kindpp":
        return ("ground truth, KinD++'s rule: mean(L_gt / (L_low + 1e-4)) + mean(R_gt / (R̂ + 1e-4)) when the "
                "latter is ≥ 1.1; output R̂·L̂ (KinD++'s LOL evaluation on KinD's networks)")
    if protocol == "fixed":
        return f"fixed {DEFAULT_RATIO if ratio is None else ratio:g}; general pipeline"
    if protocol == "auto":
        return (f"auto: clamp({AUTO_SCALE:.4g} · mean(L_low)^-{AUTO_EXPONENT:.4g}, {AUTO_RANGE[0]:g}, "
                f"{AUTO_RANGE[1]:g}); general pipeline")
    if protocol == "input":
        return "none: the low input scored as it is"
    raise EvalError(f"protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")


GT_MEAN_RULE = ("output × mean(gray(GT)) / mean(gray(output)), clipped to [0, 1], gray = 0.114 R + 0.587 G + "
                "0.299 B (Retinexformer --GT_mean)")


def check_protocol(protocol: str, ratio: float | None) -> float | None:
    """Validate ``protocol`` and ``ratio``; returns the ratio to use (``fixed`` only: default 5.0)."""
    ratio_rule(protocol)  # raises for an unknown protocol
    if protocol != "fixed":
        if ratio is not None:
            raise EvalError(f"--ratio applies to protocol 'fixed' only, got --ratio {ratio:g} with {protocol!r}")
        return None
    ratio = DEFAULT_RATIO if ratio is None else float(ratio)
    problem = ratio_problem(ratio)
    if problem:
        raise EvalError(f"ratio: {problem}")
    return ratio


def enhance_kindpp(runner: Runner, low: Tensor, high: Tensor) -> Enhanced:
    """KinD++'s LOL evaluation on ``runner``'s networks: ``low``, ``high`` N×3×H×W, already stretched.

    ``ratio = mean(L_gt / (L_low + 1e-4))`` (:func:`kind.inference.pipeline.lol_ratio`) and
    ``ratio2 = mean(R_gt / (R̂ + 1e-4))``, both float32 means over the whole NHWC array as the
    numpy code takes them; the adjustment net gets ``ratio + ratio2`` (float32) when
    ``ratio2 ≥ 1.1``, else ``ratio``; output ``R̂ · L̂``. ``Enhanced.ratio`` holds the ratio used.
    """
    reflectance, illumination = runner.decompose(low)
    reflectance_high, illumination_high = runner.decompose(high)
    restored = runner.restore_reflectance(reflectance, illumination)
    ratio = lol_ratio(illumination, illumination_high)
    quotient = (reflectance_high / (restored + 1e-4)).permute(0, 2, 3, 1).float().cpu().numpy()
    ratio2 = torch.tensor([np.mean(q) for q in quotient], dtype=torch.float32)
    used = torch.where(ratio2 < KINDPP_RATIO2_THRESHOLD, ratio, ratio + ratio2)
    adjusted = runner.adjust_illumination(illumination, used)
    return Enhanced(restored * adjusted, reflectance, illumination, restored, adjusted, used)


def enhance_pair(
    runner: Runner, low: Tensor, high: Tensor | None, protocol: str, ratio: float | None = None
) -> Enhanced:
    """Run ``protocol``'s pipeline on one pair: ``low``, ``high`` 1×3×H×W float32 as read (not stretched).

    Both are min-max stretched here, as the official loader does. ``high`` is needed by the
    ground-truth-ratio protocols only; ``ratio`` by ``fixed`` only (see the module docstring).
    """
    stretched = minmax_stretch(low)
    if protocol in GT_RATIO_PROTOCOLS:
        if high is None:
            raise EvalError(f"protocol {protocol!r} takes its ratio from the ground truth, got none")
        if protocol == "kindpp":
            return enhance_kindpp(runner, stretched, minmax_stretch(high))
        pipeline = enhance_lol if protocol == "official" else enhance_general
        return pipeline(runner, stretched, ratio=None, high=minmax_stretch(high))
    if protocol == "fixed":
        return enhance_general(runner, stretched, DEFAULT_RATIO if ratio is None else ratio)
    if protocol == "auto":
        return enhance_general(runner, stretched, "auto")
    raise EvalError(f"protocol {protocol!r} runs no pipeline (expected {', '.join(PROTOCOLS[:-1])})")


def gt_mean_rescale(output: Tensor, gt: Tensor) -> tuple[Tensor, float]:
    """Rescale ``output`` so its mean gray level equals ``gt``'s: (rescaled output, factor).

    The rule of Retinexformer's ``--GT_mean`` (``Enhancement/test_from_dataset.py``, "the same as
    KinD, LLFlow, and recent diffusion models"): ``k = mean(gray(gt)) / mean(gray(output))``,
    ``output · k`` clipped to [0, 1], with gray the weights of :data:`GT_MEAN_WEIGHTS` (cv2's
    BGR2GRAY on RGB arrays). LLFlow's ``code/test.py`` divides by the output's plain mean over all
    channels instead; the two differ by a fraction of a percent in k. Both are 1×3×H×W in [0, 1];
    the means in float64.
    """
    weights = torch.tensor(GT_MEAN_WEIGHTS, dtype=torch.float64).view(1, 3, 1, 1)
    target = float((gt.double().cpu() * weights).sum(dim=1).mean())
    current = float((output.double().cpu() * weights).sum(dim=1).mean())
    factor = target / current if current > 0 else 1.0
    return torch.clamp(output * factor, 0.0, 1.0), factor
