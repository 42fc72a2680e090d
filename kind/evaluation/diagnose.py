"""Stage attribution: which KinD stage limits the pipeline on paired data (``kind diagnose``).

For each low/ground-truth pair the official LOL protocol is run as ``kind eval --protocol
official`` runs it (:func:`kind.evaluation.protocols.enhance_pair`: both images min-max stretched, the ratio
``mean(L_high / (L_low + 1e-4))`` from the ground truth's decomposition). Then one stage's output
at a time is swapped for its ideal, and each product is scored against the ground-truth file:

================== ============================ ===================================================
row                image                        what it tells
================== ============================ ===================================================
official           ``R̂ · L̂``                    the pipeline as evaluated (the paper's protocol)
recon              ``R_high · L_high``          the decomposition's ceiling: the ground truth split
                                                and put back together
ideal_reflectance  ``R_high^1.2 · L̂``           a perfect restoration (the restoration net's
                                                training target) with the real adjustment
ideal_illumination ``R̂ · L_high``               the real restoration with the ground truth's
                                                illumination
ideal_both         ``R_high^1.2 · L_high``      both ideals: the ceiling of the restoration
                                                target's gamma alone
unrestored         ``R_low · L̂``                no restoration net at all: what it adds
================== ============================ ===================================================

``R̂`` is the restoration net's output on the low image's ``(R_low, L_low)``, ``L̂`` the adjustment
net's on ``L_low`` at the ground-truth ratio, ``R_high, L_high`` the DecomNet's split of the
(stretched) ground truth. Every image is converted to uint8 with the official truncation and scored
with the BasicSR (= MATLAB) PSNR and SSIM against the ground-truth file as read, like ``kind eval``;
the tables hold the mean over pairs. Three stage rows score a stage against its own target instead:
``reflectance_gap`` (``R_low`` vs ``R_high``: what the restoration starts from; the decomposition's
reflectance-similarity term makes it small), ``restoration`` (``R̂`` vs ``R_high^1.2``) and
``adjustment`` (``L̂`` vs ``L_high``, one channel).
Colour: the mean HSV saturation (:func:`kind.metrics.saturation`) of each image row, and of the
ground truth.

>>> result = run_diagnose("LOLdataset/eval15", weights="checkpoints")   # doctest: +SKIP
>>> result["rows"]["ideal_reflectance"]["psnr"]                         # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch import Tensor

from kind import __version__
from kind.evaluation.evaluate import describe_device, read_pair
from kind.evaluation.protocols import enhance_pair
from kind.imageops import minmax_stretch, to_image, to_uint8
from kind.inference.runner import Runner, load_runner
from kind.io.atomic import atomic_write_json, check_output_path
from kind.io.output_guard import check_output_files, check_output_folder
from kind.io.pairs import find_pairs
from kind.io.panels import make_panel
from kind.io.write import save_png
from kind.metrics import psnr, saturation, ssim
from kind.progress import Progress
from kind.weights.format import resolve_weights_dir, weights_dir_info

RESTORATION_GAMMA = 1.2  # the restoration net's target is R_high ** 1.2 (spec section 5, stage 3)

ROWS: dict[str, str] = {
    "official": "R̂·L̂: the official protocol's output",
    "recon": "R_high·L_high: the ground truth decomposed and reconstructed",
    "ideal_reflectance": "R_high^1.2·L̂: ideal restoration, real adjustment",
    "ideal_illumination": "R̂·L_high: real restoration, ideal illumination",
    "ideal_both": "R_high^1.2·L_high: ideal restoration and illumination",
    "unrestored": "R_low·L̂: no restoration, real adjustment",
}
STAGES: dict[str, str] = {
    "reflectance_gap": "R_low vs R_high: how far the restoration must move the low image's reflectance",
    "restoration": "R̂ vs R_high^1.2: the restoration net against its target",
    "adjustment": "L̂ vs L_high: the adjustment net against the ground truth's illumination",
}
PANEL = (  # (row or image, label) of the --panels pictures
    ("input", "low input"),
    ("official", "official R^*L^"),
    ("ideal_reflectance", "ideal R: R_h^1.2*L^"),
    ("ideal_illumination", "ideal L: R^*L_h"),
    ("recon", "recon R_h*L_h"),
    ("gt", "ground truth"),
)
METRICS_NOTE = (
    "PSNR/SSIM: BasicSR (= MATLAB) definitions on uint8 (official truncation), RGB, no border crop, "
    "against the ground-truth file as read; stage rows against the network's own target; saturation: "
    "mean HSV S (Pillow) in [0, 1]; means over pairs"
)


class DiagnoseError(ValueError):
    """A diagnosis that cannot run as asked (bad data folder or output path)."""


def _scores(image: np.ndarray, target: np.ndarray) -> dict[str, float]:
    return {"psnr": psnr(image, target), "ssim": ssim(image, target)}


def pair_images(runner: Runner, low: Tensor, high: Tensor, gamma: float = RESTORATION_GAMMA) -> dict[str, Tensor]:
    """The products of :data:`ROWS` and the stage outputs for one pair (1×3×H×W float32 as read).

    Returns float tensors on the CPU: every row of :data:`ROWS`, and ``reflectance_low``,
    ``reflectance_high``, ``restored``, ``restoration_target``, ``adjusted``, ``illumination_high``
    (1×1×H×W) and ``ratio`` (shape (1,)).
    """
    result = enhance_pair(runner, low, high, "official")
    reflectance_high, illumination_high = runner.decompose(minmax_stretch(high))
    cpu = {
        "restored": result.restored, "adjusted": result.adjusted, "reflectance_low": result.reflectance,
        "reflectance_high": reflectance_high, "illumination_high": illumination_high,
    }
    cpu = {key: value.float().cpu() for key, value in cpu.items()}
    target = cpu["reflectance_high"].clamp(min=0) ** gamma
    return {
        "official": result.output.float().cpu(),
        "recon": cpu["reflectance_high"] * cpu["illumination_high"],
        "ideal_reflectance": target * cpu["adjusted"],
        "ideal_illumination": cpu["restored"] * cpu["illumination_high"],
        "ideal_both": target * cpu["illumination_high"],
        "unrestored": cpu["reflectance_low"] * cpu["adjusted"],
        "reflectance_low": cpu["reflectance_low"],
        "reflectance_high": cpu["reflectance_high"],
        "restored": cpu["restored"],
        "restoration_target": target,
        "adjusted": cpu["adjusted"],
        "illumination_high": cpu["illumination_high"],
        "ratio": result.ratio,
    }


def _gray_u8(x: Tensor) -> np.ndarray:
    """1×1×H×W float → uint8 H×W×1 (official truncation)."""
    return to_uint8(x[0].permute(1, 2, 0).numpy())


def diagnose_folder(
    data: str | os.PathLike,
    runner: Runner,
    progress: bool = True,
    panels_dir: str | os.PathLike | None = None,
    gamma: float = RESTORATION_GAMMA,
) -> dict:
    """Stage attribution over every pair of ``data`` (``low/``, ``high/``); see the module docstring.

    Returns ``{"data", "count", "device", "kind_version", "metrics", "definitions", "rows": {row:
    {psnr, ssim, saturation}}, "stages": {stage: {psnr, ssim}}, "saturation": {output, gt, ratio},
    "per_image": {stem: {"ratio", "gt_saturation", "rows", "stages"}}}``, plain Python types; each
    mean is over the pairs. With ``panels_dir``, ``<stem>.png`` there shows input, official output,
    the ideal rows and the ground truth side by side.
    """
    data = Path(data)
    pairs = find_pairs(data)
    panels = None if panels_dir is None else Path(panels_dir)
    if panels is not None:
        panels.mkdir(parents=True, exist_ok=True)
    per_image: dict[str, dict] = {}
    bar = Progress(len(pairs), desc="diagnose", unit="pair", enabled=progress, log_interval=0.0)
    for low_path, high_path in pairs:
        pair = read_pair(low_path, high_path)
        images = pair_images(runner, pair.low, pair.high, gamma)
        arrays = {name: to_image(images[name]) for name in ROWS}
        rows = {name: {**_scores(arrays[name], pair.high_u8), "saturation": saturation(arrays[name])} for name in ROWS}
        stages = {
            "reflectance_gap": _scores(to_image(images["reflectance_low"]), to_image(images["reflectance_high"])),
            "restoration": _scores(to_image(images["restored"]), to_image(images["restoration_target"])),
            "adjustment": _scores(_gray_u8(images["adjusted"]), _gray_u8(images["illumination_high"])),
        }
        per_image[pair.name] = {
            "ratio": float(images["ratio"][0]),
            "gt_saturation": saturation(pair.high_u8),
            "rows": rows,
            "stages": stages,
        }
        if panels is not None:
            shown = {**arrays, "input": pair.low_u8, "gt": pair.high_u8}
            save_png(panels / f"{pair.name}.png", make_panel([shown[key] for key, _ in PANEL], [label for _, label in PANEL]))
        bar.update(image=pair.name, official=rows["official"]["psnr"], ideal_R=rows["ideal_reflectance"]["psnr"])
    bar.close()

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    results = list(per_image.values())
    rows_mean = {name: {key: mean([r["rows"][name][key] for r in results]) for key in ("psnr", "ssim", "saturation")}
                 for name in ROWS}
    stages_mean = {name: {key: mean([r["stages"][name][key] for r in results]) for key in ("psnr", "ssim")}
                   for name in STAGES}
    gt_saturation = mean([r["gt_saturation"] for r in results])
    output_saturation = rows_mean["official"]["saturation"]
    return {
        "data": str(data),
        "count": len(per_image),
        "device": describe_device(runner),
        "kind_version": __version__,
        "metrics": METRICS_NOTE,
        "definitions": {**ROWS, **STAGES},
        "restoration_gamma": gamma,
        "rows": rows_mean,
        "stages": stages_mean,
        "saturation": {"output": output_saturation, "gt": gt_saturation, "ratio": output_saturation / gt_saturation},
        "per_image": per_image,
    }


def run_diagnose(
    data: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    json_path: str | os.PathLike | None = None,
    panels_dir: str | os.PathLike | None = None,
    device: str = "auto",
    precision: str = "fp32",
    progress: bool = True,
) -> dict:
    """``kind diagnose``: check the outputs and the data, load the weights (None: the default
    ones), diagnose, write JSON. The result adds ``weights`` (the folder) and ``weight_files``
    (each network's ``file``, ``version``, ``sha256``, ``checksum``: :func:`kind.weights.format.weights_dir_info`)."""
    inputs = [Path(data) / "low", Path(data) / "high"]
    if json_path is not None:
        check_output_files({"--json": json_path}, input_folders=inputs)
    if panels_dir is not None:
        check_output_path(panels_dir, "--panels", folder=True)
        for sub in ("low", "high"):
            if Path(panels_dir).resolve() == (Path(data) / sub).resolve():
                raise DiagnoseError(f"--panels {panels_dir}: is the data's {sub}/ folder; panels would overwrite inputs")
        check_output_folder("--panels", panels_dir, inputs)
    find_pairs(data)  # a bad folder is reported before the weights are loaded
    weights = resolve_weights_dir(weights)
    runner = load_runner(weights, device, precision)
    result = {
        "weights": str(weights),
        "weight_files": weights_dir_info(weights),
        **diagnose_folder(data, runner, progress, panels_dir),
    }
    if json_path is not None:
        atomic_write_json(json_path, result)
    return result


def format_diagnose_report(result: dict) -> str:
    """The attribution table of a :func:`run_diagnose` result, as plain text."""
    name_w = max(len(name) for name in (*ROWS, *STAGES))
    lines = [
        f"stage attribution on {result['data']} ({result['count']} pairs), weights {result.get('weights', '—')}, "
        f"device {result['device']}; ratio from the ground truth (official protocol)",
        f"{'row':<{name_w}}  {'PSNR':>7}  {'SSIM':>6}  {'sat.':>5}  image",
    ]
    for name, scores in result["rows"].items():
        lines.append(f"{name:<{name_w}}  {scores['psnr']:7.3f}  {scores['ssim']:6.4f}  {scores['saturation']:5.3f}  "
                     f"{result['definitions'][name]}")
    lines.append(f"{'stage':<{name_w}}  {'PSNR':>7}  {'SSIM':>6}  {'':>5}  against")
    for name, scores in result["stages"].items():
        lines.append(f"{name:<{name_w}}  {scores['psnr']:7.3f}  {scores['ssim']:6.4f}  {'':>5}  {result['definitions'][name]}")
    sat = result["saturation"]
    lines.append(f"saturation: official output {sat['output']:.3f}, ground truth {sat['gt']:.3f} ({sat['ratio']:.2f}×)")
    for name, info in result.get("weight_files", {}).items():
        lines.append(f"{name}: {info['file']} version {info['version'] or '—'} sha256 {info['sha256'][:16]}… "
                     f"(checksum {info['checksum']})")
    lines.append(f"metrics: {result['metrics']}")
    return "\n".join(lines)


__all__ = [
    "RESTORATION_GAMMA",
    "ROWS",
    "STAGES",
    "DiagnoseError",
    "diagnose_folder",
    "format_diagnose_report",
    "pair_images",
    "run_diagnose",
]
