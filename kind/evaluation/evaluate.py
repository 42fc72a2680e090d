"""Evaluation: enhance a folder with a protocol, save the outputs, score them (``kind eval``).

The library behind ``kind eval`` (spec sections 4, 6, 7, 8); the tables built from its results are
:mod:`kind.evaluation.tables`.

Two kinds of data folder
------------------------
*Paired* — ``DATA/low`` and ``DATA/high`` of matching file names (:func:`kind.io.pairs.find_pairs`), LOL
and its layout: every protocol below, scored against the ground truth. *Photos* — any other folder
of images (searched recursively; LIME, DICM, VV, MEF, NPE): the photo pipeline (``fixed``,
``auto``) or ``input``, scored with the no-reference metrics (NIQE of the output, LOE of the input
against the output).

Protocols: :mod:`kind.evaluation.protocols`.

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

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kind import __version__
from kind.api import KinD
from kind.constants import DEFAULT_MAX_PIXELS, PROTOCOLS
from kind.evaluation.formatting import DIGITS, format_number
from kind.evaluation.protocols import (
    GT_MEAN_RULE,
    GT_RATIO_PROTOCOLS,
    PHOTO_PROTOCOLS,
    EvalError,
    check_protocol,
    enhance_kindpp,
    enhance_pair,
    gt_mean_rescale,
    ratio_rule,
)
from kind.imageops import to_image, to_tensor
from kind.inference.pipeline import Enhanced
from kind.inference.runner import Runner, load_runner
from kind.io.atomic import atomic_write_json, check_output_path
from kind.io.inputs import collect_inputs, natural_key, output_relpath
from kind.io.output_guard import check_output_files
from kind.io.pairs import find_pairs
from kind.io.read import header_pixels, read_image
from kind.io.write import save_png
from kind.metrics import MetricOptions, loe, niqe, psnr, saturation, ssim
from kind.progress import Progress
from kind.weights.format import resolve_weights_dir, weights_dir_info
from kind.weights.spec import is_mixed

METRICS = ("psnr", "ssim", "psnr_y", "ssim_y", "loe", "niqe", "saturation", "gt_saturation")
PHOTO_METRICS = ("niqe", "loe", "saturation")


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
    """Read a pair (:func:`kind.io.read.read_image`, RGB ``x / 255``); the two must be the same size."""
    low, high = read_image(low_path, max_pixels).rgb, read_image(high_path, max_pixels).rgb
    if low.shape != high.shape:
        raise EvalError(
            f"{low_path} is {low.shape[1]}x{low.shape[0]} but {high_path} is {high.shape[1]}x{high.shape[0]}"
        )
    return PairImages(Path(low_path).stem, to_tensor(low), to_tensor(high), _as_uint8(low), _as_uint8(high))


def _niqe_or_none(image: np.ndarray, channel: str, params: str) -> float | None:
    """NIQE, or None for an image smaller than two 96×96 blocks."""
    try:
        return niqe(image, channel=channel, params=params)
    except ValueError:
        return None


def score_output(
    output: np.ndarray, gt: np.ndarray | None, low: np.ndarray, options: MetricOptions = MetricOptions(),
) -> dict[str, float | None]:
    """The metrics of one output (uint8 H×W×3) against its ground truth (None: no-reference metrics
    only) and its low input."""
    scores: dict[str, float | None] = {}
    if gt is not None:
        scores.update(psnr=psnr(output, gt), ssim=ssim(output, gt),
                      psnr_y=psnr(output, gt, y_channel=True), ssim_y=ssim(output, gt, y_channel=True))
    scores["loe"] = loe(low, output, variant=options.loe_variant)
    scores["niqe"] = _niqe_or_none(output, options.niqe_channel, options.niqe_params)
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
    threads = torch.get_num_threads()
    return f"CPU, {threads} thread{'' if threads == 1 else 's'} ({runner.precision})"


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
    options: MetricOptions = MetricOptions(),
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict:
    """Enhance every image of ``data`` with ``protocol`` and score the outputs.

    Args:
        data: a paired folder (``low/``, ``high/`` of matching file names) or a folder of photos.
        runner: the networks (:func:`kind.inference.runner.load_runner`); None for protocol ``input``.
        protocol: one of :data:`PROTOCOLS` (module docstring); photos take :data:`PHOTO_PROTOCOLS`.
        ratio: the ratio of protocol ``fixed`` (default 5.0); must be None for the others.
        out_dir: where to write the outputs (the arrays that are scored); None writes nothing.
        progress: a progress line per image on stderr.
        weights, label: the weights folder and a short name for it, recorded in the result.
        gt_mean: rescale each output to the ground truth's mean gray (:func:`gt_mean_rescale`);
            paired data only.
        options: how NIQE and LOE are computed (:class:`kind.metrics.options.MetricOptions`).
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
    if protocol != "input" and runner is None:
        raise EvalError(f"protocol {protocol!r} needs the networks (a runner), got None")
    data = Path(data)
    paired, items = plan_items(data, protocol, gt_mean)
    check_image_sizes(items, max_pixels)
    out = check_outputs(data, out_dir)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

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
        scores = score_output(output_u8, gt_u8, low_u8, options)
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
        **options.as_dict(),
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
    if not data.is_dir():  # the same words whatever the protocol
        raise EvalError(f"--data {data}: {'not a folder' if data.exists() else 'no such folder'}")
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
    options: MetricOptions = MetricOptions(),
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict:
    """``kind eval``: check the options and output paths, load the weights (a weights spec;
    None: the shipped ones; none for ``input``), evaluate, write JSON.

    The result adds ``weight_files``: each network's file, ``version`` and ``sha256``
    (:func:`kind.weights.format.weights_dir_info`; None for ``input``)."""
    check_protocol(protocol, ratio)  # before loading anything
    check_outputs(data, out_dir, json_path)
    check_image_sizes(plan_items(data, protocol, gt_mean)[1], max_pixels)
    runner = None
    if protocol != "input":
        weights = resolve_weights_dir(weights)
        runner = load_runner(weights, device, precision)
    else:
        weights = None
    result = evaluate_folder(data, runner, protocol, ratio, out_dir=out_dir, progress=progress, weights=weights,
                             label=label, gt_mean=gt_mean, options=options, max_pixels=max_pixels)
    result["weight_files"] = None if weights is None else weights_dir_info(weights)
    if json_path is not None:
        atomic_write_json(json_path, result)
    return result


REPORT_DIGITS = {**DIGITS, "ratio": 3}


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
        lines.append(f"{name:<{name_w}}" + "".join(f"{format_number(scores.get(k), REPORT_DIGITS[k]):>{widths[k]}}" for k in keys))
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
