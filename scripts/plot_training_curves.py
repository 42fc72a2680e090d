"""The training-curves figure: each stage's held-out validation metrics against training steps, read
from the TensorBoard logs of one or more `kind train pipeline` runs, with shipped versions and the
paper marked.

    python scripts/plot_training_curves.py --run v0.2=runs/pipeline-v0.2 --run long=runs/pipeline-cpu-long \
        --offset long:decom=9000 --stage-run lowlr:restore=runs/restore-lowlr --offset lowlr:restore=1000 \
        --reference v0.1=runs/heldout/v0.1.json --reference v0.2=runs/heldout/v0.2.json \
        --out docs/figures/training-curves.png --json docs/figures/training-curves.json

Panels: DecomNet (held-out patch loss, which selects best.pt; reconstruction PSNR R_high·L_high
against the normal image), adjustment net (PSNR of L̂ against L_high), restoration (the official
protocol's pipeline R̂·L̂ on the held-out pairs: PSNR, SSIM, and saturation over the ground truth's).
A ``--stage-run LABEL:STAGE=DIR`` is one stage's run folder (`kind train STAGE`); an ``--offset
LABEL:STAGE=N`` draws that stage of that run N steps to the right (the steps its start had already
trained, e.g. a DecomNet continued from v0.2's 9,000). A ``--reference LABEL=JSON`` is a `kind eval
--protocol official` result on the same held-out pairs, drawn as a horizontal line in the restoration panels; the paper's 20.87 dB (LOL eval15, another set
of images) is drawn for scale. Needs matplotlib (not a dependency of kind).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from kind.io.atomic import atomic_path  # noqa: E402
from kind.train.config import STAGE_ORDER  # noqa: E402
from kind.train.events import read_scalars  # noqa: E402

PAPER_PSNR, PAPER_SSIM = 20.87, 0.8022  # KinD, ACM MM 2019, LOL eval15
PANELS = [  # (stage, title, tags: label -> TensorBoard tag or (numerator, denominator))
    ("decom", "DecomNet: held-out patch loss (selects)", {"patch loss": "val/patch_loss"}),
    ("decom", "DecomNet: reconstruction PSNR (R_high·L_high)", {"recon PSNR": "val/recon_high_psnr"}),
    ("adjust", "adjustment net: PSNR of L̂ vs L_high", {"PSNR": "val/psnr"}),
    ("restore", "pipeline R̂·L̂, official protocol: PSNR", {"PSNR": "val/pipeline_psnr"}),
    ("restore", "pipeline R̂·L̂, official protocol: SSIM", {"SSIM": "val/pipeline_ssim"}),
    ("restore", "pipeline saturation / ground truth's", {"sat./GT": ("val/pipeline_saturation", "val/gt_saturation")}),
]
REFERENCE_KEYS = {3: "psnr", 4: "ssim"}  # panel index -> key of a kind eval result's means


def curve(scalars: dict[str, list[tuple[int, float]]], tag: str | tuple[str, str]) -> list[tuple[int, float]]:
    if isinstance(tag, str):
        return scalars.get(tag, [])
    numerator, denominator = (dict(scalars.get(t, [])) for t in tag)
    return [(step, value / denominator[step]) for step, value in sorted(numerator.items()) if denominator.get(step)]


def reference_means(path: Path) -> dict[str, float]:
    """The mean PSNR, SSIM and saturation ratio of a `kind eval` result file."""
    result = json.loads(path.read_text())
    means = result.get("mean") or result.get("means") or {}
    out = {key: float(means[key]) for key in ("psnr", "ssim") if key in means}
    if means.get("saturation") and means.get("gt_saturation"):
        out["sat./GT"] = float(means["saturation"]) / float(means["gt_saturation"])
    return out


def labelled(values: list[str], what: str) -> list[tuple[str, Path]]:
    pairs = []
    for value in values:
        label, sep, path = value.partition("=")
        if not sep or not label or not path:
            raise SystemExit(f"{what} {value!r}: expected LABEL=PATH")
        pairs.append((label, Path(path)))
    return pairs


def label_and_stage(key: str, option: str) -> tuple[str, str]:
    """``LABEL:STAGE`` → (label, stage); SystemExit naming ``option`` otherwise."""
    label, _, stage = key.partition(":")
    if not label or stage not in STAGE_ORDER:
        raise SystemExit(f"{option} {key}: expected LABEL:STAGE with STAGE one of {', '.join(STAGE_ORDER)}")
    return label, stage


def stage_folders(runs: list[tuple[str, Path]], stage_runs: list[tuple[str, Path]]) -> list[tuple[str, dict[str, Path]]]:
    """[(label, {stage: folder})] for pipeline runs (stage subfolders) and single-stage runs (``LABEL:STAGE``)."""
    folders = [(label, {stage: run / stage for stage in STAGE_ORDER}) for label, run in runs]
    for key, run in stage_runs:
        label, stage = label_and_stage(key, "--stage-run")
        folders.append((label, {stage: run}))
    for label, stages in folders:
        if not any(folder.is_dir() for folder in stages.values()):
            raise SystemExit(f"run {label}: no such folder ({', '.join(map(str, stages.values()))})")
    return folders


def step_offsets(values: list[str]) -> dict[tuple[str, str], int]:
    """``LABEL:STAGE=N`` → {(label, stage): N}."""
    offsets = {}
    for value in values:
        key, _, steps = value.partition("=")
        if not steps.isdigit():
            raise SystemExit(f"--offset {value!r}: expected LABEL:STAGE=STEPS")
        offsets[label_and_stage(key, "--offset")] = int(steps)
    return offsets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", default=[], help="LABEL=PIPELINE_RUN_DIR (decom/, adjust/, restore/ inside)")
    parser.add_argument("--stage-run", action="append", default=[], help="LABEL:STAGE=RUN_DIR of one stage (kind train STAGE)")
    parser.add_argument("--offset", action="append", default=[], help="LABEL:STAGE=STEPS: steps trained before that run's step 0")
    parser.add_argument("--reference", action="append", default=[], help="LABEL=kind eval JSON on the same held-out pairs")
    parser.add_argument("--out", required=True, help="the figure (PNG)")
    parser.add_argument("--json", help="also write the plotted points here")
    args = parser.parse_args(argv)
    runs = stage_folders(labelled(args.run, "--run"), labelled(args.stage_run, "--stage-run"))
    if not runs:
        raise SystemExit("give at least one --run or --stage-run")
    offsets = step_offsets(args.offset)
    references = [(label, reference_means(path)) for label, path in labelled(args.reference, "--reference")]

    figure, axes = plt.subplots(2, 3, figsize=(15, 8))
    points: dict[str, dict] = {}
    for index, (ax, (stage, title, tags)) in enumerate(zip(axes.flat, PANELS)):
        for run_label, stages in runs:
            if stage not in stages:
                continue
            scalars = read_scalars(stages[stage])
            offset = offsets.get((run_label, stage), 0)
            for tag_label, tag in tags.items():
                xy = [(step + offset, value) for step, value in curve(scalars, tag)]
                if xy:
                    ax.plot(*zip(*xy), marker=".", label=f"{run_label}")
                    points.setdefault(run_label, {}).setdefault(stage, {})[tag_label] = xy
        key = REFERENCE_KEYS.get(index) or ("sat./GT" if stage == "restore" and "sat" in title else None)
        for ref_label, means in references:
            if key and key in means:
                ax.axhline(means[key], linestyle="--", linewidth=1, color="gray")
                ax.annotate(f"{ref_label} {means[key]:.3f}", (0, means[key]), xycoords=("axes fraction", "data"),
                            fontsize=8, color="gray", va="bottom")
        if index == 3:
            ax.axhline(PAPER_PSNR, linestyle=":", color="red", linewidth=1)
            ax.annotate(f"paper {PAPER_PSNR} (eval15)", (0, PAPER_PSNR), xycoords=("axes fraction", "data"), fontsize=8, color="red", va="bottom")
        if index == 4:
            ax.axhline(PAPER_SSIM, linestyle=":", color="red", linewidth=1)
        if "sat" in title:
            ax.axhline(0.85, linestyle=":", color="red", linewidth=1)
            ax.annotate("goal 0.85", (0, 0.85), xycoords=("axes fraction", "data"), fontsize=8, color="red", va="bottom")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        if any(not line.get_label().startswith("_") for line in ax.lines):
            ax.legend(fontsize=8)
    figure.suptitle("held-out validation (last 20 pairs of the training folders) against training steps", fontsize=11)
    figure.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=80)
    if args.json:
        with atomic_path(Path(args.json)) as tmp:
            Path(tmp).write_text(json.dumps({"runs": points, "references": dict(references)}, indent=1))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
