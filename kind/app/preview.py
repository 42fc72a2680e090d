"""The preview the page relights while the slider moves: one photo at preview size, decomposed and
restored once, then relit per ratio in a few tens of milliseconds on a CPU.

What a ratio changes is L̂, the adjustment net's output, and L̂ is smooth: the net runs on the
illumination reduced ``ADJUST_REDUCTION`` times on each side (1/16 of the pixels) and its L̂ is
brought back to preview size bilinearly. Everything that does not depend on the ratio is computed
once: the photo pipeline ``L·S + (1 − L)·(R̂_s · w · L̂)`` is kept as ``base + gain · L̂`` (``base =
L·S``, ``gain = (1 − L)·R̂_s·w``; the LOL protocol's ``R̂_s · L̂`` has ``base = 0``, ``gain =
R̂_s``), with ``R̂_s`` the reflectance at denoise strength ``s`` (:func:`kind.inference.pipeline.denoised`).
The preview is a picture of the result (35 to 61 dB PSNR from the exact pipeline at the same size
on the bundled samples, ratios 1 to 8; lowest where the light has sharp edges); the downloads are
``kind enhance``'s own, never this.

The networks are the ``runner`` given (``kind app`` passes a bf16 one where the CPU has native bf16
convolutions, :func:`preview_runner`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from kind.constants import DEFAULT_STRENGTH
from kind.imageops import darkness_weight, minmax_stretch, to_uint8
from kind.inference.fused import cpu_bf16_supported, cpu_fusion_available
from kind.inference.pipeline import auto_ratio, check_pipeline, check_strength, denoised
from kind.inference.runner import Runner, load_runner

ADJUST_REDUCTION = 4  # the adjustment net runs on the illumination reduced this many times a side


def preview_runner(runner: Runner, weights: str | None = None) -> Runner:
    """The networks for previews: bf16 on a CPU with native bf16 convolutions (AVX512-BF16/AMX,
    about twice as fast, checked against fp32 at load), else ``runner`` itself."""
    if runner.device.type != "cpu" or runner.precision == "bf16" or not (cpu_fusion_available() and cpu_bf16_supported()):
        return runner
    try:
        return load_runner(weights, "cpu", "bf16")
    except ValueError:  # the startup check refused bf16 here: previews in the runner's precision
        return runner


def _to_nchw(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(pixels)).permute(2, 0, 1)[None].float().div_(255)


def _to_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).contiguous()


class PreviewPhoto:
    """``pixels`` (uint8 h×w×3, the preview-sized photo) decomposed and restored once by
    ``runner``; :meth:`relight` gives it at any ratio, pipeline and denoise strength."""

    def __init__(self, runner: Runner, pixels: np.ndarray) -> None:
        self.runner = runner
        self.height, self.width = pixels.shape[:2]
        image = minmax_stretch(_to_nchw(pixels))
        reflectance, illumination = runner.decompose(image)
        restored = runner.restore_reflectance(reflectance, illumination)
        self.auto_ratio = float(auto_ratio(illumination)[0])
        small = (max(1, self.height // ADJUST_REDUCTION), max(1, self.width // ADJUST_REDUCTION))
        self._small_illumination = F.interpolate(illumination, size=small, mode="area")
        weight = darkness_weight(reflectance).float()
        # N×H×W×C, so that an output needs no transposition: R, R̂ and the ratio-free terms
        self._reflectance, self._restored = _to_nhwc(reflectance), _to_nhwc(restored)
        self._illumination = _to_nhwc(illumination)
        self._base = {"photo": _to_nhwc(illumination * image), "lol": None}
        self._gain_factor = {"photo": _to_nhwc((1 - illumination) * weight), "lol": None}
        self._gains: dict[tuple[str, float], torch.Tensor] = {}

    def reflectance(self, strength: float = DEFAULT_STRENGTH) -> torch.Tensor:
        """R̂ at denoise ``strength``, 1×h×w×3."""
        return denoised(self._reflectance, self._restored, strength)

    def adjusted(self, ratio: float) -> torch.Tensor:
        """L̂ at ``ratio``, 1×h×w×1: the adjustment net on the reduced L, brought back bilinearly."""
        small = self.runner.adjust_illumination(self._small_illumination, float(ratio))
        full = F.interpolate(small, size=(self.height, self.width), mode="bilinear", align_corners=False)
        return _to_nhwc(full)

    def relight(self, ratio: float, pipeline: str = "photo", strength: float = DEFAULT_STRENGTH) -> np.ndarray:
        """The preview at ``ratio`` (a number; ``'auto'`` is :attr:`auto_ratio`): uint8 h×w×3."""
        check_pipeline(pipeline)
        check_strength(strength)
        gain, base, adjusted = self._gain(pipeline, float(strength)), self._base[pipeline], self.adjusted(ratio)
        output = gain * adjusted if base is None else torch.addcmul(base, gain, adjusted)
        return to_uint8(output[0].numpy())

    def maps(self, ratio: float, strength: float = DEFAULT_STRENGTH) -> dict[str, np.ndarray]:
        """The maps by name (``R``, ``L``, ``R_restored`` at ``strength``, ``L_adjusted`` at
        ``ratio``), uint8 h×w×3 (L and L̂ grey)."""
        grey = lambda x: np.repeat(to_uint8(x[0].numpy()), 3, axis=2)  # noqa: E731
        return {"R": to_uint8(self._reflectance[0].numpy()), "L": grey(self._illumination),
                "R_restored": to_uint8(self.reflectance(strength)[0].numpy()), "L_adjusted": grey(self.adjusted(ratio))}

    def _gain(self, pipeline: str, strength: float) -> torch.Tensor:
        key = (pipeline, strength)
        if key not in self._gains:
            if len(self._gains) >= 4:  # a few strengths kept: the slider's last ones
                self._gains.pop(next(iter(self._gains)))
            factor = self._gain_factor[pipeline]
            reflectance = self.reflectance(strength)
            self._gains[key] = reflectance if factor is None else reflectance * factor
        return self._gains[key]
