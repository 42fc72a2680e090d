"""Evaluation on paired data (LOL layout): enhance, save, score; and the results table.

The library behind ``kind eval`` and ``kind table`` (spec sections 4, 6, 7, 8).

Protocols
---------
Every protocol reads the pairs of ``DATA/low`` and ``DATA/high`` (:func:`kind.data.find_pairs`)
as the official loader does: RGB float32 ``x / 255``, then each image stretched by its own global
min and max (:func:`kind.pipeline.minmax_stretch`). Outputs are converted with the official
truncating ``uint8(clip(x·255, 0, 255))`` (:func:`kind.imageio.to_uint8`).

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
``fixed``
    The general pipeline at a fixed ratio (default 5.0, the authors' default); no ground truth used.
``auto``
    The general pipeline with ``ratio='auto'`` (:func:`kind.pipeline.auto_ratio`, one ratio per image
    from its own illumination); no ground truth used.
``input``
    No enhancement: the low input itself is scored against the ground truth (LOL eval15: PSNR
    7.773 dB, SSIM 0.1952). Needs no weights.

Scoring
-------
The official code only *saves* its outputs; the numbers in the field are computed afterwards
between the saved output PNG and the **original ground-truth PNG** (not the stretched ground truth
the network saw). We do the same without the round trip: the uint8 array that is written to
``--out`` is the array that is scored, against the ground-truth file as read (uint8). Metrics
(:mod:`kind.metrics`, BasicSR = MATLAB definitions, no border crop): ``psnr``/``ssim`` on RGB,
``psnr_y``/``ssim_y`` on the BT.601 Y channel, ``loe`` between the low input (uint8, as read) and the
output. ``seconds`` is the time of the pipeline alone for one image — from the float images in
memory through stretch, networks and ratio to the float output on the CPU (the device synchronised);
file decoding, uint8 conversion, PNG writing and metrics are excluded. The mean row holds the mean
of each metric and the **median** of ``seconds`` (the first image carries the warm-up).

Outputs are written as ``OUT/<stem>.png`` (the official code writes ``<stem>_kindle.png``; the plain
stem lets ``kind score --pred OUT --gt DATA/high`` pair them).

>>> runner = load_runner("checkpoints")                                 # doctest: +SKIP
>>> result = evaluate_folder("LOLdataset/eval15", runner, "official")   # doctest: +SKIP
>>> result["mean"]["psnr"], result["mean"]["ssim"]                      # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kind import __version__
from kind.data import find_pairs
from kind.enhance import load_runner, to_image, to_tensor
from kind.fileio import atomic_write_json, atomic_write_text
from kind.imageio import read_image, save_png
from kind.metrics import loe, psnr, saturation, ssim
from kind.pipeline import (
    AUTO_EXPONENT,
    AUTO_RANGE,
    AUTO_SCALE,
    DEFAULT_RATIO,
    Enhanced,
    Runner,
    enhance_general,
    enhance_lol,
    minmax_stretch,
)
from kind.progress import Progress
from kind.weights import DEFAULT_WEIGHTS_DIR, weights_dir_info

PROTOCOLS = ("official", "gt-ratio", "fixed", "auto", "input")
GT_RATIO_PROTOCOLS = ("official", "gt-ratio")  # the ground truth sets the ratio
METRICS = ("psnr", "ssim", "psnr_y", "ssim_y", "loe", "saturation", "gt_saturation")
METRICS_NOTE = (
    "PSNR/SSIM: BasicSR (= MATLAB) definitions on uint8, no border crop; *_y on the BT.601 Y channel; "
    "LOE: NPE loe.m, low input vs output; saturation: mean HSV S (Pillow) of the output, gt_saturation of the "
    "ground truth; scored against the ground-truth file as read (uint8)"
)


class EvalError(ValueError):
    """Evaluation that cannot run as asked (bad protocol or option, unsafe output folder)."""


def ratio_rule(protocol: str, ratio: float | None = None) -> str:
    """A one-line description of how ``protocol`` chooses its brightening ratio (and its output)."""
    if protocol == "official":
        return "ground truth: mean(L_gt / (L_low + 1e-4)); output R̂·L̂ (authors' LOL evaluation)"
    if protocol == "gt-ratio":
        return "ground truth: mean(L_gt / (L_low + 1e-4)); general pipeline (darkness weight + blend)"
    if protocol == "fixed":
        return f"fixed {DEFAULT_RATIO if ratio is None else ratio:g}; general pipeline"
    if protocol == "auto":
        return (f"auto: clamp({AUTO_SCALE:.4g} · mean(L_low)^-{AUTO_EXPONENT:.4g}, {AUTO_RANGE[0]:g}, "
                f"{AUTO_RANGE[1]:g}); general pipeline")
    if protocol == "input":
        return "none: the low input scored as it is"
    raise EvalError(f"protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")


def check_protocol(protocol: str, ratio: float | None) -> float | None:
    """Validate ``protocol`` and ``ratio``; returns the ratio to use (``fixed`` only: default 5.0)."""
    ratio_rule(protocol)  # raises for an unknown protocol
    if protocol != "fixed":
        if ratio is not None:
            raise EvalError(f"--ratio applies to protocol 'fixed' only, got --ratio {ratio:g} with {protocol!r}")
        return None
    ratio = DEFAULT_RATIO if ratio is None else float(ratio)
    if not 0 <= ratio < math.inf:
        raise EvalError(f"ratio: expected a finite number >= 0, got {ratio}")
    return ratio


# --- one pair -----------------------------------------------------------------------------------


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


def read_pair(low_path: str | os.PathLike, high_path: str | os.PathLike) -> PairImages:
    """Read a pair (:func:`kind.imageio.read_image`, RGB ``x / 255``); the two must be the same size."""
    low, high = read_image(low_path).rgb, read_image(high_path).rgb
    if low.shape != high.shape:
        raise EvalError(
            f"{low_path} is {low.shape[1]}x{low.shape[0]} but {high_path} is {high.shape[1]}x{high.shape[0]}"
        )
    return PairImages(Path(low_path).stem, to_tensor(low), to_tensor(high), _as_uint8(low), _as_uint8(high))


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
        pipeline = enhance_lol if protocol == "official" else enhance_general
        return pipeline(runner, stretched, ratio=None, high=minmax_stretch(high))
    if protocol == "fixed":
        return enhance_general(runner, stretched, DEFAULT_RATIO if ratio is None else ratio)
    if protocol == "auto":
        return enhance_general(runner, stretched, "auto")
    raise EvalError(f"protocol {protocol!r} runs no pipeline (expected official, gt-ratio, fixed or auto)")


def score_output(output: np.ndarray, gt: np.ndarray, low: np.ndarray) -> dict[str, float]:
    """The metrics of one output (uint8 H×W×3) against its ground truth and its low input."""
    return {
        "psnr": psnr(output, gt),
        "ssim": ssim(output, gt),
        "psnr_y": psnr(output, gt, y_channel=True),
        "ssim_y": ssim(output, gt, y_channel=True),
        "loe": loe(low, output),
        "saturation": saturation(output),
        "gt_saturation": saturation(gt),
    }


def _sync(runner: Runner) -> None:
    if runner.device.type == "cuda":
        torch.cuda.synchronize(runner.device)


# --- a folder -----------------------------------------------------------------------------------


def _output_folder(out_dir: str | os.PathLike | None, data: Path) -> Path | None:
    """``out_dir`` as a Path, refused when it is the data's ``low/`` or ``high/`` folder."""
    if out_dir is None:
        return None
    out = Path(out_dir)
    for sub in ("low", "high"):
        if out.resolve() == (data / sub).resolve():
            raise EvalError(f"--out {out}: is the data's {sub}/ folder; outputs would overwrite inputs")
    return out


def describe_device(runner: Runner | None) -> str:
    """``NVIDIA H100 80GB HBM3 (fp32)``, ``CPU, 2 threads (fp32)``, or ``none`` without a runner."""
    if runner is None:
        return "none"
    if runner.device.type == "cuda":
        return f"{torch.cuda.get_device_name(runner.device)} ({runner.precision})"
    return f"CPU, {torch.get_num_threads()} threads ({runner.precision})"


def evaluate_folder(
    data: str | os.PathLike,
    runner: Runner | None,
    protocol: str,
    ratio: float | None = None,
    out_dir: str | os.PathLike | None = None,
    progress: bool = True,
    weights: str | os.PathLike | None = None,
    label: str | None = None,
) -> dict:
    """Enhance every pair of ``data`` (``low/``, ``high/``) with ``protocol`` and score the outputs.

    Args:
        data: folder with ``low/`` and ``high/`` of matching file names.
        runner: the networks (:func:`kind.enhance.load_runner`); None for protocol ``input``.
        protocol: one of :data:`PROTOCOLS` (module docstring).
        ratio: the ratio of protocol ``fixed`` (default 5.0); must be None for the others.
        out_dir: where to write ``<stem>.png`` (the arrays that are scored); None writes nothing.
        progress: a progress line per image on stderr.
        weights, label: the weights folder and a short name for it, recorded in the result.

    Returns:
        ``{"protocol", "ratio_rule", "ratio" (fixed only), "weights", "weights_label", "data", "device",
        "count", "metrics", "kind_version", "out", "mean": {METRICS..., seconds},
        "per_image": {stem: {METRICS..., seconds, ratio}}}`` of plain Python
        types; ``mean.seconds`` is the median; ``seconds`` and ``ratio`` are None for ``input``.
    """
    ratio = check_protocol(protocol, ratio)
    if protocol != "input" and runner is None:
        raise EvalError(f"protocol {protocol!r} needs the networks (a runner), got None")
    data = Path(data)
    pairs = find_pairs(data)
    stems = [low.stem for low, _ in pairs]
    if len(set(stems)) != len(stems):
        twice = sorted({s for s in stems if stems.count(s) > 1})
        raise EvalError(f"{data}/low: several files share the stem(s) {', '.join(twice)}; outputs would collide")
    out = _output_folder(out_dir, data)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    per_image: dict[str, dict] = {}
    bar = Progress(len(pairs), desc=f"eval {protocol}", unit="img", enabled=progress, log_interval=0.0)
    for low_path, high_path in pairs:
        pair = read_pair(low_path, high_path)
        seconds = image_ratio = None
        if protocol == "input":
            output = pair.low_u8
        else:
            _sync(runner)
            start = time.perf_counter()
            result = enhance_pair(runner, pair.low, pair.high, protocol, ratio)
            output_float = result.output.cpu()  # waits for the device
            seconds = time.perf_counter() - start
            output = to_image(output_float)
            image_ratio = float(result.ratio[0])
        if out is not None:
            save_png(out / f"{pair.name}.png", output)
        scores = score_output(output, pair.high_u8, pair.low_u8)
        per_image[pair.name] = {**scores, "seconds": seconds, "ratio": image_ratio}
        bar.update(image=pair.name, psnr=scores["psnr"], ssim=scores["ssim"])
    bar.close()

    mean = {key: float(np.mean([s[key] for s in per_image.values()])) for key in METRICS}
    times = [s["seconds"] for s in per_image.values() if s["seconds"] is not None]
    mean["seconds"] = float(np.median(times)) if times else None
    return {
        "protocol": protocol,
        "ratio_rule": ratio_rule(protocol, ratio),
        "ratio": ratio,
        "weights": None if weights is None else str(weights),
        "weights_label": label if label is not None else (None if weights is None else Path(weights).name),
        "data": str(data),
        "device": describe_device(runner),
        "count": len(per_image),
        "metrics": METRICS_NOTE,
        "kind_version": __version__,
        "out": None if out is None else str(out),
        "mean": mean,
        "per_image": per_image,
    }


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
) -> dict:
    """``kind eval``: load the weights (None: ``checkpoints/``; none for ``input``), evaluate, write JSON.

    The result adds ``weight_files``: each network's file, ``version`` and ``sha256``
    (:func:`kind.weights.weights_dir_info`; None for ``input``)."""
    check_protocol(protocol, ratio)  # before loading anything
    runner = None
    if protocol != "input":
        weights = DEFAULT_WEIGHTS_DIR if weights is None else weights
        runner = load_runner(weights, device, precision)
    else:
        weights = None
    result = evaluate_folder(data, runner, protocol, ratio, out_dir, progress, weights, label)
    result["weight_files"] = None if weights is None else weights_dir_info(weights)  # version, sha256 per network
    if json_path is not None:
        atomic_write_json(json_path, result)
    return result


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


DIGITS = {"psnr": 3, "ssim": 4, "psnr_y": 3, "ssim_y": 4, "loe": 1, "saturation": 3, "gt_saturation": 3, "seconds": 3, "ratio": 3}


def format_eval_report(result: dict) -> str:
    """A plain-text table of an :func:`evaluate_folder` result: one row per image, then the mean."""
    keys = [*METRICS, "seconds", "ratio"]
    names = [*result["per_image"], "mean"]
    name_w = max(8, *(len(n) for n in names))
    lines = [
        f"protocol {result['protocol']} ({result['ratio_rule']})",
        f"weights {result['weights_label'] or '—'}, data {result['data']}, device {result['device']}",
        f"{'image':<{name_w}}" + "".join(f"{k:>10}" for k in keys),
    ]
    mean = {**result["mean"], "ratio": None}
    for name, scores in [*result["per_image"].items(), ("mean", mean)]:
        lines.append(f"{name:<{name_w}}" + "".join(f"{_fmt(scores.get(k), DIGITS[k]):>10}" for k in keys))
    lines.append("mean row: mean of each metric, median of seconds (pipeline only, no file I/O)")
    return "\n".join(lines)


# --- the results table --------------------------------------------------------------------------

# Published numbers (spec section 8); metric values kept as printed in their source.
REPORTED: tuple[dict, ...] = (
    {"weights": "KinD (authors)", "protocol": "GT ratio (paper)", "data": "LOL eval15",
     "psnr": "20.87", "ssim": "0.8022", "source": "KinD paper (ACM MM 2019)"},
    {"weights": "KinD (authors)", "protocol": "as re-run in Retinexformer", "data": "LOL-v1 (eval15)",
     "psnr": "20.86", "ssim": "0.790", "source": "Retinexformer paper (ICCV 2023), figure"},
    {"weights": "KinD++ (authors)", "protocol": "KinD++ paper", "data": "LOL eval15",
     "psnr": "21.30", "ssim": "0.8226", "source": "KinD++ paper (IJCV 2021)"},
    {"weights": "— (low input)", "protocol": "input vs GT", "data": "LOL eval15",
     "psnr": "7.773", "ssim": "0.1952", "source": "BasicSR definitions (spec §8)"},
)
COLUMNS = ("weights", "protocol", "data", "PSNR", "SSIM", "PSNR-Y", "SSIM-Y", "LOE", "s/img", "device", "source")
ROW_KEYS = ("weights", "protocol", "data", "psnr", "ssim", "psnr_y", "ssim_y", "loe", "seconds", "device", "source")
REQUIRED_KEYS = ("protocol", "ratio_rule", "data", "mean")


def _protocol_label(result: dict) -> str:
    """``fixed 5`` for the fixed protocol (its ratio shown), else the protocol's name."""
    if result["protocol"] == "fixed" and result.get("ratio") is not None:
        return f"fixed {result['ratio']:g}"
    return result["protocol"]


def table_rows(
    results: Sequence[dict], sources: Sequence[str] | None = None, reported: Sequence[dict] = REPORTED
) -> list[dict]:
    """The table's rows: the ``reported`` ones (``status`` ``reported``), then one per result.

    ``results`` are :func:`evaluate_folder` dicts; ``sources`` names where each came from (e.g.
    its JSON file). Measured rows keep the full numbers; reported ones the printed values (floats).
    """
    if sources is not None and len(sources) != len(results):
        raise ValueError(f"expected {len(results)} sources, got {len(sources)}")
    rows = []
    for item in reported:
        row = {key: None for key in ROW_KEYS}
        row.update({key: item[key] for key in ("weights", "protocol", "data", "source")})
        row.update({key: float(item[key]) for key in ("psnr", "ssim") if key in item})
        row.update(status="reported", device=None, printed={key: item[key] for key in ("psnr", "ssim")})
        rows.append(row)
    for index, result in enumerate(results):
        where = sources[index] if sources is not None else f"result {index}"
        if not isinstance(result, dict):
            raise ValueError(f"{where}: not a kind eval result (expected a JSON object, got {type(result).__name__})")
        lacking = [key for key in REQUIRED_KEYS if key not in result]
        if lacking:
            raise ValueError(f"{where}: not a kind eval result (no {', '.join(lacking)})")
        mean = result["mean"]
        rows.append({
            "weights": "— (low input)" if result["protocol"] == "input"
            else result.get("weights_label") or result.get("weights") or "—",
            "protocol": _protocol_label(result),
            "ratio_rule": result["ratio_rule"],
            "data": Path(result["data"]).name,
            **{key: mean.get(key) for key in (*METRICS, "seconds")},
            "device": result.get("device"),
            "source": f"measured: {sources[index]}" if sources is not None else "measured",
            "status": "measured",
            "count": result.get("count"),
        })
    return rows


def results_table(
    results: Sequence[dict], sources: Sequence[str] | None = None, reported: Sequence[dict] = REPORTED
) -> str:
    """A markdown table of the reported numbers and of ``results`` (pure: no files, no clock).

    Columns: weights, protocol, data, PSNR, SSIM, PSNR-Y, SSIM-Y, LOE, seconds per image (median),
    device, source. Reported rows say so in ``source``; a dash means not reported / not measured.
    The protocols used are defined below the table.
    """
    rows = table_rows(results, sources, reported)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for row in rows:
        cells = []
        for key in ROW_KEYS:
            value = row.get(key)
            if key == "source" and row["status"] == "reported":
                cells.append(f"reported: {value}")
            elif key in DIGITS:
                printed = row.get("printed", {}).get(key)
                cells.append(printed if printed is not None else _fmt(value, DIGITS[key]))
            else:
                cells.append("—" if value is None else str(value))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    used = list(dict.fromkeys(row["protocol"] for row in rows if row["status"] == "measured"))
    if used:
        lines.append("")
        rules = {row["protocol"]: row["ratio_rule"] for row in rows if row["status"] == "measured"}
        lines += [f"- **{name}**: {rules[name]}" for name in used]
        lines.append(f"- metrics: {METRICS_NOTE}; s/img: median seconds per image, pipeline only")
    return "\n".join(lines)


def load_results(paths: Sequence[str | os.PathLike]) -> list[dict]:
    """Read result JSON files (``kind eval --json``); a bad file raises ValueError naming it."""
    results = []
    for path in paths:
        try:
            results.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not JSON ({error})") from None
    return results


def write_table(
    paths: Sequence[str | os.PathLike],
    out_md: str | os.PathLike | None = None,
    out_json: str | os.PathLike | None = None,
) -> str:
    """``kind table``: the markdown table of the result files ``paths``; optionally written to files."""
    results = load_results(paths)
    sources = [Path(p).name for p in paths]
    table = results_table(results, sources)
    if out_md is not None:
        atomic_write_text(out_md, table + "\n")
    if out_json is not None:
        atomic_write_json(out_json, {"rows": table_rows(results, sources), "metrics": METRICS_NOTE})
    return table


__all__ = [
    "GT_RATIO_PROTOCOLS",
    "METRICS",
    "PROTOCOLS",
    "REPORTED",
    "EvalError",
    "PairImages",
    "check_protocol",
    "describe_device",
    "enhance_pair",
    "evaluate_folder",
    "format_eval_report",
    "load_results",
    "ratio_rule",
    "read_pair",
    "results_table",
    "run_eval",
    "score_output",
    "table_rows",
    "write_table",
]
