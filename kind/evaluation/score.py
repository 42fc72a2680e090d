"""Score a folder of enhanced images (library side of ``kind score``).

With ground truths (``gt_dir``), files are paired by stem (``1.png`` pairs with ``1.jpg``) and PSNR
and SSIM are computed with the BasicSR definitions of :mod:`kind.metrics` on the uint8 RGB pixels;
without, only the no-reference metrics apply: NIQE of each image, and LOE against its low-light
input when a folder of inputs is given. The result is a plain, JSON-ready dict. A pair that cannot
be scored (different sizes, an unreadable file, an image too small for NIQE) is reported under
``failed`` and skipped; the others are scored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from kind.constants import IMAGE_SUFFIXES, MAP_SUFFIXES, SCORE_METRICS
from kind.evaluation.formatting import format_number
from kind.io.inputs import natural_key
from kind.io.read import read_stored_rgb8
from kind.metrics import MetricOptions, loe, niqe, psnr, ssim
from kind.progress import Progress

__all__ = [
    "SCORE_METRICS",
    "Pair",
    "check_metrics",
    "format_report",
    "match_by_stem",
    "score_folders",
    "without_own_files",
]

FULL_REFERENCE = ("psnr", "ssim")  # need --gt
OWN_SUFFIXES = ("compare", *MAP_SUFFIXES)  # what kind enhance writes beside an output: <stem>_compare, <stem>_R, …


class Pair(NamedTuple):
    """One matched prediction / ground-truth pair (``gt`` None when scoring without ground truth)."""

    stem: str
    pred: Path
    gt: Optional[Path]


SCORE_DIGITS = {"psnr": 4, "ssim": 4, "loe": 2, "niqe": 4}  # kind score shows more decimals than the tables

def _images_by_stem(folder: Path, role: str) -> Dict[str, Path]:
    """{stem: path} of the image files directly in ``folder``; two files of one stem is an error."""
    if not folder.is_dir():
        option = {"prediction": "--pred", "ground-truth": "--gt"}.get(role, role)
        raise ValueError(f"{option} {folder}: {'not a folder' if folder.exists() else 'no such folder'} "
                         f"(the {role} folder)")
    by_stem: Dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or path.is_dir():  # a FIFO is listed: it fails, named
            continue
        if path.stem in by_stem:
            raise ValueError(
                f"{role} folder has two images with the stem {path.stem!r}: "
                f"{by_stem[path.stem].name} and {path.name}"
            )
        by_stem[path.stem] = path
    return by_stem


def match_by_stem(
    pred_dir: str | os.PathLike, gt_dir: str | os.PathLike | None
) -> Tuple[List[Pair], List[str], List[str]]:
    """Pair the images of two folders by file stem (``gt_dir`` None: every prediction, ``gt`` None).

    Image files are those whose suffix is in :data:`kind.io.read.IMAGE_SUFFIXES` (png, jpg, jpeg,
    bmp, tif, tiff or webp; any case); sub-folders are not searched.

    Returns:
        ``(pairs, missing_pred, extra_pred)``: pairs as :class:`Pair` ``(stem, pred, gt)`` in natural
        order of the stems; ``missing_pred``, the ground-truth file names without a prediction;
        ``extra_pred``, the prediction file names without a ground truth (both naturally sorted).

    Raises:
        ValueError: a folder is missing, or holds two images of one stem (``1.png`` and ``1.jpg``).
    """
    return _match(_images_by_stem(Path(pred_dir), "prediction"), gt_dir)


def without_own_files(preds: Dict[str, Path]) -> Tuple[Dict[str, Path], List[str]]:
    """``preds`` ({stem: path}) without the files ``kind enhance`` writes beside an output that is
    among them (``a_compare.png``, ``--save-maps``' ``a_R.png`` … beside ``a.png``), and those
    files' names, naturally sorted: panels and maps are not outputs to score."""
    own = {f"{stem}_{suffix}" for stem in preds for suffix in OWN_SUFFIXES}
    kept = {stem: path for stem, path in preds.items() if stem not in own}
    return kept, sorted((path.name for stem, path in preds.items() if stem in own), key=natural_key)


def _match(preds: Dict[str, Path], gt_dir: str | os.PathLike | None) -> Tuple[List[Pair], List[str], List[str]]:
    """:func:`match_by_stem` of predictions already listed."""
    if gt_dir is None:
        return [Pair(stem, preds[stem], None) for stem in sorted(preds, key=natural_key)], [], []
    gts = _images_by_stem(Path(gt_dir), "ground-truth")
    stems = sorted(preds.keys() & gts.keys(), key=natural_key)
    pairs = [Pair(s, preds[s], gts[s]) for s in stems]
    missing = sorted((gts[s].name for s in gts.keys() - preds.keys()), key=natural_key)
    extra = sorted((preds[s].name for s in preds.keys() - gts.keys()), key=natural_key)
    return pairs, missing, extra


def check_metrics(
    metrics: Sequence[str] | None, with_gt: bool, with_inputs: bool
) -> Tuple[str, ...]:
    """The metrics to compute: ``metrics`` checked against what the folders allow, or by default
    PSNR and SSIM with ground truths, NIQE without, and LOE with low-light inputs."""
    if metrics is None:
        chosen = [*(FULL_REFERENCE if with_gt else ["niqe"]), *(["loe"] if with_inputs else [])]
    else:
        chosen = list(dict.fromkeys(metrics))
    unknown = [m for m in chosen if m not in SCORE_METRICS]
    if unknown or not chosen:  # (only an explicit list can be wrong)
        raise ValueError(f"metrics: expected some of {', '.join(SCORE_METRICS)}, got {', '.join(chosen) or 'none'}")
    if not with_gt and any(m in FULL_REFERENCE for m in chosen):
        raise ValueError("metrics psnr and ssim need ground truths (--gt)")
    if not with_inputs and "loe" in chosen:
        raise ValueError("metric loe needs the low-light inputs (--loe-inputs)")
    return tuple(m for m in SCORE_METRICS if m in chosen)


def _same_size(first: Path, a: np.ndarray, second: Path, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"size mismatch: {first} is {a.shape[1]}x{a.shape[0]}, {second} is {b.shape[1]}x{b.shape[0]}")


def score_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike | None = None,
    y_channel: bool = False,
    crop_border: int = 0,
    with_loe_inputs: Optional[str | os.PathLike] = None,
    metrics: Sequence[str] | None = None,
    options: MetricOptions = MetricOptions(),
    progress: bool = False,
) -> dict:
    """Score every prediction (against its ground truth when ``gt_dir`` is given), and the means.

    Args:
        pred_dir: folder of enhanced images.
        gt_dir: folder of ground-truth images (paired by stem), or None for no-reference scoring.
        y_channel: PSNR and SSIM on the BT.601 Y channel (still reported as psnr / ssim).
        crop_border: pixels removed from each side before PSNR and SSIM.
        with_loe_inputs: folder of the low-light inputs; LOE (input vs prediction,
            :func:`kind.metrics.loe`) needs it. Every scored stem must have an input.
        metrics: some of :data:`SCORE_METRICS`; None: :func:`check_metrics`'s default.
        options: NIQE's plane (``gray`` MATLAB rgb2gray, ``y`` BasicSR) and pristine model
            (``live``, ``kindpp``), LOE's variant (``npe``, ``bimef``).
        progress: a progress line on stderr.

    Returns:
        ``{"mean": {metric: ...}, "per_image": {stem: {metric: ...}}, "failed": {stem: reason},
        "missing": [...], "extra": [...], "metrics": [...], "settings": {...}}`` of plain Python
        types; ``mean`` over the scored images only. A PSNR of identical images is ``inf``
        (``json.dumps`` writes ``Infinity``); a NIQE without finite block features is NaN.

    Raises:
        ValueError: a missing folder, two images of one stem, no image to score, metrics the
            folders do not allow, or a scored stem without an input when LOE is asked for —
            all before any image is scored. Per-image problems go to ``failed`` instead.
    """
    chosen = check_metrics(metrics, gt_dir is not None, with_loe_inputs is not None)
    preds, own = without_own_files(_images_by_stem(Path(pred_dir), "prediction"))
    pairs, missing, extra = _match(preds, gt_dir)
    if not pairs:
        where = f"shares a file stem with a ground truth in {str(gt_dir)!r}" if gt_dir is not None else "is an image"
        raise ValueError(f"no file in {str(pred_dir)!r} {where}")
    inputs: Dict[str, Path] = {}
    if with_loe_inputs is not None:
        inputs = _images_by_stem(Path(with_loe_inputs), "input")
        lacking = [p.stem for p in pairs if p.stem not in inputs]
        if lacking and "loe" in chosen:
            raise ValueError(f"no low-light input in {str(with_loe_inputs)!r} for: {', '.join(lacking)}")

    per_image: Dict[str, Dict[str, float]] = {}
    failed: Dict[str, str] = {}
    bar = Progress(len(pairs), desc="score", unit="img", enabled=progress)
    for pair in pairs:
        try:
            per_image[pair.stem] = _score_pair(pair, inputs.get(pair.stem), chosen, y_channel, crop_border, options)
        except ValueError as error:
            failed[pair.stem] = str(error)
        bar.update(image=pair.stem)
    bar.close()

    mean = {k: float(np.mean([s[k] for s in per_image.values()])) for k in chosen} if per_image else {}
    return {
        "mean": mean,
        "per_image": per_image,
        "failed": failed,
        "missing": missing,
        "extra": extra,
        "own_files": own,
        "metrics": list(chosen),
        "settings": {
            "y_channel": bool(y_channel),
            "crop_border": int(crop_border),
            "loe_inputs": None if with_loe_inputs is None else str(with_loe_inputs),
            "loe_variant": options.loe_variant,
            "niqe_channel": options.niqe_channel,
            "niqe_params": options.niqe_params,
        },
    }


def _score_pair(
    pair: Pair, low_path: Optional[Path], chosen: Sequence[str], y_channel: bool, crop_border: int,
    options: MetricOptions,
) -> Dict[str, float]:
    """The ``chosen`` metrics of one prediction; ValueError names the file and the problem."""
    pred = read_stored_rgb8(pair.pred)
    scores: Dict[str, float] = {}
    if "psnr" in chosen or "ssim" in chosen:
        gt = read_stored_rgb8(pair.gt)
        _same_size(pair.pred, pred, pair.gt, gt)
        scores["psnr"] = psnr(pred, gt, crop_border=crop_border, y_channel=y_channel)
        scores["ssim"] = ssim(pred, gt, crop_border=crop_border, y_channel=y_channel)
    if "loe" in chosen:
        low = read_stored_rgb8(low_path)
        _same_size(low_path, low, pair.pred, pred)
        scores["loe"] = loe(low, pred, variant=options.loe_variant)
    if "niqe" in chosen:
        try:
            scores["niqe"] = niqe(pred, channel=options.niqe_channel, params=options.niqe_params)
        except ValueError as error:
            raise ValueError(f"{pair.pred}: {error}") from None
    return {k: scores[k] for k in chosen}


def describe_settings(result: dict) -> List[str]:
    """One line per metric family of a :func:`score_folders` result: how it was computed."""
    settings, chosen = result["settings"], result["metrics"]
    lines = []
    if "psnr" in chosen or "ssim" in chosen:
        lines.append(f"PSNR / SSIM on {'Y (BT.601)' if settings['y_channel'] else 'RGB'}, "
                     f"crop_border {settings['crop_border']}")
    if "loe" in chosen:
        lines.append(f"LOE ({settings['loe_variant']}): low input vs prediction")
    if "niqe" in chosen:
        plane = "MATLAB rgb2gray" if settings["niqe_channel"] == "gray" else "Y (BasicSR)"
        lines.append(f"NIQE on {plane}, {settings['niqe_params']} parameters")
    return lines


def format_report(result: dict) -> str:
    """A short plain-text table of a :func:`score_folders` result: one row per image, then the mean.

    >>> r = {"mean": {"psnr": 30.0, "ssim": 0.9}, "per_image": {"1": {"psnr": 30.0, "ssim": 0.9}},
    ...      "failed": {}, "missing": [], "extra": [], "metrics": ["psnr", "ssim"],
    ...      "settings": {"y_channel": False, "crop_border": 0}}
    >>> print(format_report(r))
    PSNR / SSIM on RGB, crop_border 0
    image         psnr      ssim
    1          30.0000    0.9000
    mean       30.0000    0.9000
    """
    keys = result["metrics"]
    names = list(result["per_image"]) + ["mean"]
    name_w = max(8, *(len(n) for n in names))
    col_w = 10
    lines = describe_settings(result)
    lines.append(f"{'image':<{name_w}}" + "".join(f"{k:>{col_w}}" for k in keys))
    rows = list(result["per_image"].items()) + ([("mean", result["mean"])] if result["mean"] else [])
    for name, scores in rows:
        lines.append(
            f"{name:<{name_w}}" + "".join(f"{format_number(scores[k], SCORE_DIGITS[k]):>{col_w}}" for k in keys)
        )
    for stem, reason in result["failed"].items():
        lines.append(f"skipped {stem}: {reason}")
    if result["missing"]:
        lines.append(f"missing (ground truth without prediction): {', '.join(result['missing'])}")
    if result["extra"]:
        lines.append(f"extra (prediction without ground truth): {', '.join(result['extra'])}")
    return "\n".join(lines)
