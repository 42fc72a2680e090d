"""Evaluation: enhance a folder with a protocol, save the outputs, score them (``kind eval``).

The library behind ``kind eval`` (spec sections 4, 6, 7, 8); the tables built from its results are
:mod:`kind.tables`.

Two kinds of data folder
------------------------
*Paired* — ``DATA/low`` and ``DATA/high`` of matching file names (:func:`kind.data.find_pairs`), LOL
and its layout: every protocol below, scored against the ground truth. *Photos* — any other folder
of images (searched recursively; LIME, DICM, VV, MEF, NPE): the photo pipeline (``fixed``,
``auto``) or ``input``, scored with the no-reference metrics (NIQE of the output, LOE of the input
against the output).

Protocols
---------
Every protocol reads the images as the official loader does: RGB float32 ``x / 255``, then each
image stretched by its own global min and max (:func:`kind.imageops.minmax_stretch`). Outputs are
converted with the official truncating ``uint8(clip(x·255, 0, 255))`` (:func:`kind.imageio.to_uint8`).

``official``
    The authors' LOL evaluation (``evaluate_LOLdataset.py``), step for step: decompose the stretched
    low image **and the stretched ground truth**; ``ratio = mean(L_gt / (L_low + 1e-4))`` in float32
    (:func:`kind.pipeline.lol_ratio`); output ``R̂(R_low, L_low) · L̂(L_low, ratio)``
    (:func:`kind.pipeline.enhance_lol`) — no darkness weight, no blend. The ground truth sets the
    exposure. This is the protocol of the KinD paper's LOL numbers (20.87 / 0.8022).
``gt-ratio``
    The general pipeline (:func:`kind.pipeline.enhance_general`: darkness weight on R̂, blend with
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
    The general pipeline with ``ratio='auto'`` (:func:`kind.pipeline.auto_ratio`, one ratio per image
    from its own illumination); no ground truth used.
``input``
    No enhancement: the low input itself is scored (LOL eval15 against the ground truth: PSNR
    7.773 dB, SSIM 0.1952). Needs no weights.

``gt_mean`` (``--gt-mean``) modifies any protocol on paired data: each output is rescaled so that
its mean gray level equals the ground truth's (:func:`gt_mean_rescale`), the rule of Retinexformer's
``--GT_mean`` and LLFlow's evaluation. It removes the exposure error, so its numbers are higher and
compare only with other GT-mean numbers.

Scoring
-------
The official code only *saves* its outputs; the numbers in the field are computed afterwards
between the saved output PNG and the **original ground-truth PNG** (not the stretched ground truth
the network saw). We do the same without the round trip: the uint8 array that is written to
``--out`` is the array that is scored, against the ground-truth file as read (uint8). Metrics
(:mod:`kind.metrics`, BasicSR = MATLAB definitions, no border crop): ``psnr``/``ssim`` on RGB,
``psnr_y``/``ssim_y`` on the BT.601 Y channel, ``loe`` between the input (uint8, as read) and the
output (variant ``npe`` or ``bimef``), ``niqe`` of the output (plane ``gray`` or ``y``, parameters
``live`` or ``kindpp``; None for an image smaller than two 96×96 blocks), ``saturation`` the mean
HSV S of the output (Pillow; ``gt_saturation`` of the ground truth: washed-out outputs score below
it). ``seconds`` is the time of
the pipeline alone for one image — from the float image in memory through stretch, networks and
ratio to the float output on the CPU (the device synchronised); file decoding, uint8 conversion,
PNG writing and metrics are excluded. The mean row holds the mean of each metric and the
**median** of ``seconds`` (the first image carries the warm-up).

Outputs are written as ``OUT/<stem>.png`` (the official code writes ``<stem>_kindle.png``; the plain
stem lets ``kind score --pred OUT --gt DATA/high`` pair them); photos as ``OUT/<relpath>.png``.

>>> runner = load_runner("shipped")                                     # doctest: +SKIP
>>> result = evaluate_folder("LOLdataset/eval15", runner, "official")   # doctest: +SKIP
>>> result["mean"]["psnr"], result["mean"]["ssim"]                      # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kind import __version__
from kind.api import KinD
from kind.constants import DEFAULT_MAX_PIXELS, MAX_RATIO, PROTOCOLS
from kind.data import find_pairs
from kind.fileio import atomic_write_json, check_output_path
from kind.output_guard import check_output_files
from kind.imageio import collect_inputs, header_pixels, natural_key, output_relpath, read_image, save_png
from kind.imageops import minmax_stretch, to_image, to_tensor
from kind.metrics import check_metric_options, loe, niqe, psnr, saturation, ssim
from kind.pipeline import (
    AUTO_EXPONENT,
    AUTO_RANGE,
    AUTO_SCALE,
    DEFAULT_RATIO,
    Enhanced,
    enhance_general,
    enhance_lol,
    lol_ratio,
)
from kind.progress import Progress
from kind.runner import Runner, load_runner
from kind.weight_spec import is_mixed
from kind.weights import resolve_weights_dir, weights_dir_info

GT_RATIO_PROTOCOLS = ("official", "gt-ratio", "kindpp")  # the ground truth sets the ratio
PHOTO_PROTOCOLS = ("fixed", "auto", "input")  # need no ground truth
METRICS = ("psnr", "ssim", "psnr_y", "ssim_y", "loe", "niqe", "saturation", "gt_saturation")
PHOTO_METRICS = ("niqe", "loe", "saturation")
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
    if not 0 <= ratio <= MAX_RATIO:
        raise EvalError(f"ratio: expected a number from 0 to {MAX_RATIO:g}, got {ratio}")
    return ratio


def is_paired(data: str | os.PathLike) -> bool:
    """Whether ``data`` is a paired folder (it has ``low/`` or ``high/``), else a folder of photos."""
    return (Path(data) / "low").is_dir() or (Path(data) / "high").is_dir()


# --- one image ----------------------------------------------------------------------------------


@dataclass
class PairImages:
    """One low/ground-truth pair as read: float32 1×3×H×W tensors in [0, 1] and uint8 H×W×3 arrays."""

    name: str  # the file stem, the key of per_image
    low: Tensor
    high: Tensor
    low_u8: np.ndarray
    high_u8: np.ndarray


def _as_uint8(rgb: np.ndarray) -> np.ndarray:
    """float32 ``x / 255`` (or ``x / 65535``) → uint8, exact for 8-bit files, rounded for 16-bit ones."""
    return np.rint(rgb * 255).astype(np.uint8)


def read_pair(low_path: str | os.PathLike, high_path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> PairImages:
    """Read a pair (:func:`kind.imageio.read_image`, RGB ``x / 255``); the two must be the same size."""
    low, high = read_image(low_path, max_pixels).rgb, read_image(high_path, max_pixels).rgb
    if low.shape != high.shape:
        raise EvalError(
            f"{low_path} is {low.shape[1]}x{low.shape[0]} but {high_path} is {high.shape[1]}x{high.shape[0]}"
        )
    return PairImages(Path(low_path).stem, to_tensor(low), to_tensor(high), _as_uint8(low), _as_uint8(high))


def enhance_kindpp(runner: Runner, low: Tensor, high: Tensor) -> Enhanced:
    """KinD++'s LOL evaluation on ``runner``'s networks: ``low``, ``high`` N×3×H×W, already stretched.

    ``ratio = mean(L_gt / (L_low + 1e-4))`` (:func:`kind.pipeline.lol_ratio`) and
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


def _niqe_or_none(image: np.ndarray, channel: str, params: str) -> float | None:
    """NIQE, or None for an image smaller than two 96×96 blocks."""
    try:
        return niqe(image, channel=channel, params=params)
    except ValueError:
        return None


def score_output(
    output: np.ndarray, gt: np.ndarray | None, low: np.ndarray,
    niqe_channel: str = "gray", niqe_params: str = "live", loe_variant: str = "npe",
) -> dict[str, float | None]:
    """The metrics of one output (uint8 H×W×3) against its ground truth (None: no-reference metrics
    only) and its low input."""
    scores: dict[str, float | None] = {}
    if gt is not None:
        scores.update(psnr=psnr(output, gt), ssim=ssim(output, gt),
                      psnr_y=psnr(output, gt, y_channel=True), ssim_y=ssim(output, gt, y_channel=True))
    scores["loe"] = loe(low, output, variant=loe_variant)
    scores["niqe"] = _niqe_or_none(output, niqe_channel, niqe_params)
    scores["saturation"] = saturation(output)  # washed-out colours score low (mean HSV S)
    if gt is not None:
        scores["gt_saturation"] = saturation(gt)
    return scores


def _sync(runner: Runner) -> None:
    if runner.device.type == "cuda":
        torch.cuda.synchronize(runner.device)


# --- a folder -----------------------------------------------------------------------------------


def check_outputs(
    data: str | os.PathLike, out_dir: str | os.PathLike | None, json_path: str | os.PathLike | None = None
) -> Path | None:
    """Check the output paths before any work: ``--json`` writable, ``--out`` a usable folder that
    is neither an input folder nor inside a photo folder. Returns ``out_dir`` as a Path."""
    data = Path(data)
    if json_path is not None:
        check_output_path(json_path, "--json")
        check_output_files({"--json": json_path}, input_folders=[data / "low", data / "high"] if is_paired(data) else [data])
    if out_dir is None:
        return None
    out = check_output_path(out_dir, "--out", folder=True)
    if is_paired(data):
        for sub in ("low", "high"):
            if out.resolve() == (data / sub).resolve():
                raise EvalError(f"--out {out}: is the data's {sub}/ folder; outputs would overwrite inputs")
    elif out.resolve() == data.resolve() or data.resolve() in out.resolve().parents:
        raise EvalError(f"--out {out}: is inside the photo folder {data}; outputs would mix with the inputs")
    return out


def weights_label(folder: str | os.PathLike) -> str:
    """The default label of a weights folder: its name, or ``run/weights`` for a folder named
    ``weights`` (what every ``kind train pipeline`` run exports into), so that runs differ."""
    if is_mixed(folder):
        return os.fspath(folder)
    path = Path(folder).resolve()
    return f"{path.parent.name}/{path.name}" if path.name == "weights" else path.name


def describe_device(runner: Runner | None) -> str:
    """``NVIDIA H100 80GB HBM3 (fp32)``, ``CPU, 2 threads (fp32)``, or ``none`` without a runner."""
    if runner is None:
        return "none"
    if runner.device.type == "cuda":
        return f"{torch.cuda.get_device_name(runner.device)} ({runner.precision})"
    return f"CPU, {torch.get_num_threads()} threads ({runner.precision})"


def _means(per_image: dict[str, dict], keys: tuple[str, ...]) -> dict[str, float | None]:
    """Mean of each metric over the images that have it (None where none has), median of seconds."""
    mean: dict[str, float | None] = {}
    for key in keys:
        values = [s[key] for s in per_image.values() if s.get(key) is not None]
        mean[key] = float(np.mean(values)) if values else None
    times = [s["seconds"] for s in per_image.values() if s["seconds"] is not None]
    mean["seconds"] = float(np.median(times)) if times else None
    return mean


def _timed(runner: Runner, run) -> tuple[Enhanced, Tensor, float]:
    """(result, float output on the CPU, seconds) of ``run()``, the device synchronised."""
    _sync(runner)
    start = time.perf_counter()
    result = run()
    output = result.output.cpu()  # waits for the device
    return result, output, time.perf_counter() - start


def evaluate_folder(
    data: str | os.PathLike,
    runner: Runner | None,
    protocol: str,
    ratio: float | None = None,
    out_dir: str | os.PathLike | None = None,
    progress: bool = True,
    weights: str | os.PathLike | None = None,
    label: str | None = None,
    gt_mean: bool = False,
    niqe_channel: str = "gray",
    niqe_params: str = "live",
    loe_variant: str = "npe",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict:
    """Enhance every image of ``data`` with ``protocol`` and score the outputs.

    Args:
        data: a paired folder (``low/``, ``high/`` of matching file names) or a folder of photos.
        runner: the networks (:func:`kind.runner.load_runner`); None for protocol ``input``.
        protocol: one of :data:`PROTOCOLS` (module docstring); photos take :data:`PHOTO_PROTOCOLS`.
        ratio: the ratio of protocol ``fixed`` (default 5.0); must be None for the others.
        out_dir: where to write the outputs (the arrays that are scored); None writes nothing.
        progress: a progress line per image on stderr.
        weights, label: the weights folder and a short name for it, recorded in the result.
        gt_mean: rescale each output to the ground truth's mean gray (:func:`gt_mean_rescale`);
            paired data only.
        niqe_channel, niqe_params, loe_variant: how NIQE and LOE are computed (:mod:`kind.metrics`).
        max_pixels: an image over this many pixels (from its header) is refused before any work
            (:func:`check_image_sizes`); photos over 2.5 MP are enhanced in tiles, pairs whole.

    Returns:
        ``{"mode" ("paired" or "photos"), "protocol", "gt_mean", "ratio_rule", "gt_mean_rule", "ratio" (fixed only),
        "weights", "weights_label", "data", "device", "count", "metrics", "loe_variant",
        "niqe_channel", "niqe_params", "kind_version", "out", "mean": {metric: ..., "seconds"},
        "per_image": {key: {metric: ..., "seconds", "ratio"[, "gt_mean_factor"]}}}`` of plain
        Python types; paired data have :data:`METRICS`, photos :data:`PHOTO_METRICS`;
        ``mean.seconds`` is the median; ``seconds`` and ``ratio`` are None for ``input``.
    """
    ratio = check_protocol(protocol, ratio)
    check_metric_options(niqe_channel, niqe_params, loe_variant)
    if protocol != "input" and runner is None:
        raise EvalError(f"protocol {protocol!r} needs the networks (a runner), got None")
    data = Path(data)
    paired, items = plan_items(data, protocol, gt_mean)
    check_image_sizes(items, max_pixels)
    out = check_outputs(data, out_dir)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    metric_options = {"niqe_channel": niqe_channel, "niqe_params": niqe_params, "loe_variant": loe_variant}

    per_image: dict[str, dict] = {}
    bar = Progress(len(items), desc=f"eval {protocol}", unit="img", enabled=progress, log_interval=0.0)
    for key, low_path, high_path in items:
        seconds = image_ratio = None
        record: dict[str, float | None] = {}
        if paired:
            pair = read_pair(low_path, high_path, max_pixels)
            low, low_u8, gt_u8 = pair.low, pair.low_u8, pair.high_u8
        else:
            rgb = read_image(low_path, max_pixels).rgb
            low, low_u8, gt_u8 = to_tensor(rgb), _as_uint8(rgb), None
        if protocol == "input":
            output = low
        elif paired:
            result, output, seconds = _timed(runner, lambda: enhance_pair(runner, pair.low, pair.high, protocol, ratio))
            image_ratio = float(result.ratio[0])
        else:
            choice = "auto" if protocol == "auto" else ratio
            result, output, seconds = _timed(runner, lambda: KinD(runner, max_pixels=max_pixels).enhance(low, choice))
            image_ratio = float(result.ratio[0])
        if gt_mean:
            output, record["gt_mean_factor"] = gt_mean_rescale(output, pair.high)
        output_u8 = low_u8 if protocol == "input" and not gt_mean else to_image(output)
        if out is not None:
            save_png(out / (f"{key}.png" if paired else output_relpath(key)), output_u8)
        scores = score_output(output_u8, gt_u8, low_u8, **metric_options)
        per_image[key] = {**scores, "seconds": seconds, "ratio": image_ratio, **record}
        bar.update(image=key, **({"psnr": scores["psnr"]} if paired else {"niqe": scores["niqe"]}))
    bar.close()

    return {
        "mode": "paired" if paired else "photos",
        "protocol": protocol,
        "gt_mean": bool(gt_mean),
        "ratio_rule": ratio_rule(protocol, ratio),
        "gt_mean_rule": GT_MEAN_RULE if gt_mean else None,
        "ratio": ratio,
        "weights": None if weights is None else str(weights),
        "weights_label": label if label is not None else (None if weights is None else weights_label(weights)),
        "data": str(data),
        "device": describe_device(runner),
        "count": len(per_image),
        "metrics": list(METRICS if paired else PHOTO_METRICS),
        **metric_options,
        "kind_version": __version__,
        "out": None if out is None else str(out),
        "mean": _means(per_image, METRICS if paired else PHOTO_METRICS),
        "per_image": per_image,
    }


def plan_items(data: str | os.PathLike, protocol: str, gt_mean: bool = False) -> tuple[bool, list[tuple]]:
    """``(paired, items)``: whether ``data`` is paired, and its images as ``(key, low or photo path,
    high path or None)``; EvalError for an empty or unusable folder, or a protocol (or ``gt_mean``)
    that needs ground truths on a folder of photos."""
    data = Path(data)
    if is_paired(data):
        return True, _paired_items(data)
    if protocol not in PHOTO_PROTOCOLS:
        raise EvalError(f"{data}: a folder of photos without low/ and high/; protocol {protocol!r} needs "
                        f"ground truths (photos take {', '.join(PHOTO_PROTOCOLS)})")
    if gt_mean:
        raise EvalError(f"{data}: --gt-mean needs ground truths (a folder with low/ and high/)")
    return False, _photo_items(data)


def check_image_sizes(items: list[tuple], max_pixels: int) -> None:
    """EvalError naming the first image of ``items`` (from :func:`plan_items`) over ``max_pixels``
    pixels, read from the headers alone, so that nothing runs on a folder that would be refused
    half-way."""
    if max_pixels < 1:
        raise EvalError(f"max_pixels: expected at least 1, got {max_pixels}")
    for _, *paths in items:
        for path in filter(None, paths):
            pixels = header_pixels(path)
            if pixels > max_pixels:
                raise EvalError(f"{path}: {pixels:,} pixels, over the limit of {max_pixels:,} (--max-pixels); "
                                "refused before any work")


def _paired_items(data: Path) -> list[tuple[str, Path, Path]]:
    """(stem, low, high) of a paired folder; stems must be unique (they name the outputs)."""
    pairs = find_pairs(data)
    stems = [low.stem for low, _ in pairs]
    if len(set(stems)) != len(stems):
        twice = sorted({s for s in stems if stems.count(s) > 1})
        raise EvalError(f"{data}/low: several files share the stem(s) {', '.join(twice)}; outputs would collide")
    return [(low.stem, low, high) for low, high in pairs]


def _photo_items(data: Path) -> list[tuple[str, Path, None]]:
    """(relative path without suffix, path, None) of every image under ``data``, in natural order."""
    if not data.is_dir():
        raise EvalError(f"--data {data}: not a folder")
    try:
        found, _ = collect_inputs([str(data)])
    except FileNotFoundError:
        raise EvalError(f"{data}: no images, and no low/ and high/ sub-folders") from None
    items = [(item.relpath.with_suffix("").as_posix(), item.path, None) for item in found]
    keys = [key for key, _, _ in items]
    if len(set(keys)) != len(keys):
        twice = sorted({key for key in keys if keys.count(key) > 1})
        raise EvalError(f"{data}: several files share the name(s) {', '.join(twice)} but for their suffix; "
                        "outputs would collide")
    return sorted(items, key=lambda item: natural_key(item[0]))


def run_eval(
    data: str | os.PathLike,
    protocol: str,
    weights: str | os.PathLike | None = None,
    ratio: float | None = None,
    out_dir: str | os.PathLike | None = None,
    json_path: str | os.PathLike | None = None,
    device: str = "auto",
    precision: str = "fp32",
    progress: bool = True,
    label: str | None = None,
    gt_mean: bool = False,
    niqe_channel: str = "gray",
    niqe_params: str = "live",
    loe_variant: str = "npe",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict:
    """``kind eval``: check the options and output paths, load the weights (a weights spec;
    None: the shipped ones; none for ``input``), evaluate, write JSON.

    The result adds ``weight_files``: each network's file, ``version`` and ``sha256``
    (:func:`kind.weights.weights_dir_info`; None for ``input``)."""
    check_protocol(protocol, ratio)  # before loading anything
    check_metric_options(niqe_channel, niqe_params, loe_variant)
    check_outputs(data, out_dir, json_path)
    check_image_sizes(plan_items(data, protocol, gt_mean)[1], max_pixels)
    runner = None
    if protocol != "input":
        weights = resolve_weights_dir(weights)
        runner = load_runner(weights, device, precision)
    else:
        weights = None
    result = evaluate_folder(data, runner, protocol, ratio, out_dir, progress, weights, label, gt_mean,
                             niqe_channel, niqe_params, loe_variant, max_pixels)
    result["weight_files"] = None if weights is None else weights_dir_info(weights)
    if json_path is not None:
        atomic_write_json(json_path, result)
    return result


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


DIGITS = {"psnr": 3, "ssim": 4, "psnr_y": 3, "ssim_y": 4, "loe": 1, "niqe": 3, "saturation": 3, "gt_saturation": 3,
          "seconds": 3, "ratio": 3}


def format_eval_report(result: dict) -> str:
    """A plain-text table of an :func:`evaluate_folder` result: one row per image, then the mean."""
    keys = [*result["metrics"], "seconds", "ratio"]
    widths = {key: max(10, len(key) + 2) for key in keys}  # at least two spaces between headers
    names = [*result["per_image"], "mean"]
    name_w = max(8, *(len(n) for n in names))
    gt_mean = " + GT mean" if result.get("gt_mean") else ""
    lines = [
        f"protocol {result['protocol']}{gt_mean} ({result['ratio_rule']})",
        *([f"GT mean: {result['gt_mean_rule']}"] if result.get("gt_mean_rule") else []),
        f"weights {result['weights_label'] or '—'}, data {result['data']}, device {result['device']}",
        f"LOE {result['loe_variant']}, NIQE {result['niqe_channel']} / {result['niqe_params']}",
        f"{'image':<{name_w}}" + "".join(f"{k:>{widths[k]}}" for k in keys),
    ]
    mean = {**result["mean"], "ratio": None}
    for name, scores in [*result["per_image"].items(), ("mean", mean)]:
        lines.append(f"{name:<{name_w}}" + "".join(f"{_fmt(scores.get(k), DIGITS[k]):>{widths[k]}}" for k in keys))
    lines.append("mean row: mean of each metric, median of seconds (pipeline only, no file I/O)")
    return "\n".join(lines)


__all__ = [
    "GT_MEAN_RULE",
    "GT_RATIO_PROTOCOLS",
    "METRICS",
    "PHOTO_METRICS",
    "PHOTO_PROTOCOLS",
    "PROTOCOLS",
    "EvalError",
    "PairImages",
    "check_outputs",
    "check_image_sizes",
    "check_protocol",
    "describe_device",
    "enhance_kindpp",
    "enhance_pair",
    "evaluate_folder",
    "format_eval_report",
    "gt_mean_rescale",
    "is_paired",
    "plan_items",
    "ratio_rule",
    "read_pair",
    "run_eval",
    "score_output",
]
