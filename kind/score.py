"""Score a folder of enhanced images against a folder of ground truths (library side of ``kind score``).

Files are paired by stem (``1.png`` pairs with ``1.jpg``), PSNR and SSIM are computed with the
BasicSR definitions of :mod:`kind.metrics` on the uint8 RGB pixels, and the result is a plain,
JSON-ready dict. Optionally the LOE of each prediction against its low-light input is added.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from kind.imageio import IMAGE_SUFFIXES, natural_key
from kind.metrics import loe, psnr, ssim

__all__ = ["Pair", "match_by_stem", "score_folders", "format_report"]


class Pair(NamedTuple):
    """One matched prediction / ground-truth pair."""

    stem: str
    pred: Path
    gt: Path


def _images_by_stem(folder: Path, role: str) -> Dict[str, Path]:
    """{stem: path} of the image files directly in ``folder``; two files of one stem is an error."""
    if not folder.is_dir():
        raise ValueError(f"{role} folder: expected a directory, got {str(folder)!r}")
    by_stem: Dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in by_stem:
            raise ValueError(
                f"{role} folder has two images with the stem {path.stem!r}: "
                f"{by_stem[path.stem].name} and {path.name}"
            )
        by_stem[path.stem] = path
    return by_stem


def match_by_stem(
    pred_dir: str | os.PathLike, gt_dir: str | os.PathLike
) -> Tuple[List[Pair], List[str], List[str]]:
    """Pair the images of two folders by file stem.

    Image files are those whose suffix is in :data:`kind.imageio.IMAGE_SUFFIXES` (png, jpg, jpeg,
    bmp, tif, tiff or webp; any case); sub-folders are not searched.

    Returns:
        ``(pairs, missing_pred, extra_pred)``: pairs as :class:`Pair` ``(stem, pred, gt)`` in natural
        order of the stems; ``missing_pred``, the ground-truth file names without a prediction;
        ``extra_pred``, the prediction file names without a ground truth (both naturally sorted).

    Raises:
        ValueError: a folder is missing, or holds two images of one stem (``1.png`` and ``1.jpg``).
    """
    preds = _images_by_stem(Path(pred_dir), "prediction")
    gts = _images_by_stem(Path(gt_dir), "ground-truth")
    stems = sorted(preds.keys() & gts.keys(), key=natural_key)
    pairs = [Pair(s, preds[s], gts[s]) for s in stems]
    missing = sorted((gts[s].name for s in gts.keys() - preds.keys()), key=natural_key)
    extra = sorted((preds[s].name for s in preds.keys() - gts.keys()), key=natural_key)
    return pairs, missing, extra


def _read_rgb_uint8(path: Path) -> np.ndarray:
    """Read an 8-bit image file as an HxWx3 uint8 RGB array (grey, palette and alpha converted).

    Not :func:`kind.imageio.read_image`: scoring takes the pixels as stored (no EXIF rotation) and
    refuses 16-bit grey instead of reading it at 16 bits.
    """
    try:
        with Image.open(path) as img:
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                raise ValueError(f"cannot score {path}: expected an 8-bit image, got mode {img.mode}")
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from err


def score_folders(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    y_channel: bool = False,
    crop_border: int = 0,
    with_loe_inputs: Optional[str | os.PathLike] = None,
) -> dict:
    """PSNR and SSIM of every prediction against its ground truth (matched by stem), and the means.

    Args:
        pred_dir: folder of enhanced images.
        gt_dir: folder of ground-truth images.
        y_channel: compute both metrics on the BT.601 Y channel (still reported as psnr / ssim).
        crop_border: pixels removed from each side before computing.
        with_loe_inputs: optional folder of the low-light inputs; when given, ``loe`` (input vs
            prediction, :func:`kind.metrics.loe`) is added per image and to the mean. Every
            paired stem must have an input of the same size.

    Returns:
        ``{"mean": {"psnr", "ssim"[, "loe"]}, "per_image": {stem: {...}}, "missing": [...],
        "extra": [...], "settings": {"y_channel", "crop_border", "loe_inputs"}}`` of plain Python
        types. A PSNR of identical images is ``inf`` (``json.dumps`` writes ``Infinity``).

    Raises:
        ValueError: no pairs, a pair (or input and prediction) of different sizes, an unreadable
            file, or a stem without an input when ``with_loe_inputs`` is given.
    """
    pairs, missing, extra = match_by_stem(pred_dir, gt_dir)
    if not pairs:
        raise ValueError(
            f"no prediction in {str(pred_dir)!r} shares a file stem with a ground truth in {str(gt_dir)!r}"
        )
    inputs: Dict[str, Path] = {}
    if with_loe_inputs is not None:
        inputs = _images_by_stem(Path(with_loe_inputs), "input")
        lacking = [p.stem for p in pairs if p.stem not in inputs]
        if lacking:
            raise ValueError(f"no low-light input in {str(with_loe_inputs)!r} for: {', '.join(lacking)}")

    per_image: Dict[str, Dict[str, float]] = {}
    for pair in pairs:
        pred = _read_rgb_uint8(pair.pred)
        gt = _read_rgb_uint8(pair.gt)
        if pred.shape != gt.shape:
            raise ValueError(
                f"size mismatch: {pair.pred} is {pred.shape[1]}x{pred.shape[0]}, "
                f"{pair.gt} is {gt.shape[1]}x{gt.shape[0]}"
            )
        scores = {
            "psnr": psnr(pred, gt, crop_border=crop_border, y_channel=y_channel),
            "ssim": ssim(pred, gt, crop_border=crop_border, y_channel=y_channel),
        }
        if inputs:
            low = _read_rgb_uint8(inputs[pair.stem])
            if low.shape != pred.shape:
                raise ValueError(
                    f"size mismatch: {inputs[pair.stem]} is {low.shape[1]}x{low.shape[0]}, "
                    f"{pair.pred} is {pred.shape[1]}x{pred.shape[0]}"
                )
            scores["loe"] = loe(low, pred)
        per_image[pair.stem] = scores

    keys = list(next(iter(per_image.values())))
    mean = {k: float(np.mean([s[k] for s in per_image.values()])) for k in keys}
    return {
        "mean": mean,
        "per_image": per_image,
        "missing": missing,
        "extra": extra,
        "settings": {
            "y_channel": bool(y_channel),
            "crop_border": int(crop_border),
            "loe_inputs": None if with_loe_inputs is None else str(with_loe_inputs),
        },
    }


def _fmt(value: float, digits: int) -> str:
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def format_report(result: dict) -> str:
    """A short plain-text table of a :func:`score_folders` result: one row per image, then the mean.

    >>> r = {"mean": {"psnr": 30.0, "ssim": 0.9}, "per_image": {"1": {"psnr": 30.0, "ssim": 0.9}},
    ...      "missing": [], "extra": [], "settings": {"y_channel": False, "crop_border": 0}}
    >>> print(format_report(r))
    PSNR / SSIM on RGB, crop_border 0
    image         psnr      ssim
    1          30.0000    0.9000
    mean       30.0000    0.9000
    """
    settings = result["settings"]
    keys = list(result["mean"])
    digits = {"psnr": 4, "ssim": 4, "loe": 2}
    names = list(result["per_image"]) + ["mean"]
    name_w = max(8, *(len(n) for n in names))
    col_w = 10
    lines = [
        f"PSNR / SSIM on {'Y (BT.601)' if settings['y_channel'] else 'RGB'}, "
        f"crop_border {settings['crop_border']}",
        f"{'image':<{name_w}}" + "".join(f"{k:>{col_w}}" for k in keys),
    ]
    rows = list(result["per_image"].items()) + [("mean", result["mean"])]
    for name, scores in rows:
        lines.append(
            f"{name:<{name_w}}" + "".join(f"{_fmt(scores[k], digits.get(k, 4)):>{col_w}}" for k in keys)
        )
    if result["missing"]:
        lines.append(f"missing (ground truth without prediction): {', '.join(result['missing'])}")
    if result["extra"]:
        lines.append(f"extra (prediction without ground truth): {', '.join(result['extra'])}")
    return "\n".join(lines)
