"""The loss comparison of issue 16 (docs/losses.md, "Comparison"): fine-tune the restoration stage
with the official loss alone and with each added term, same data, same steps, same seed, and score
every arm on held-out pairs with the official LOL protocol (PSNR, SSIM) and by colour (HSV
saturation, colour angle to the ground truth).

    python experiments/loss_comparison.py --out runs/losscmp            # all arms, the documented budget
    python experiments/loss_comparison.py --calibrate                   # term scales at the start only
    python experiments/loss_comparison.py --report                      # OUT/table.md from OUT/results.json

What it does, in one process:

1. Prepares the restoration stage's data once (the frozen DecomNet over every pair of
   ``--train-dir``); the last ``--holdout`` pairs of the concatenated folders are never trained on.
2. ``--calibrate``: the unweighted value of the official loss and of every arm's extra term on
   ``--calibrate-batches`` training batches with the starting weights (what the term weights in
   :data:`ARMS` were chosen from), then stops.
3. Trains each arm from ``--weights``/restore.pt for exactly ``--steps`` steps (same seed, so the
   same patches in the same order; no in-training validation, no checkpoint selection: the last
   weights are scored) and exports them next to the unchanged decom.pt and adjust.pt.
4. Scores the starting weights and each arm on the held-out pairs: the official protocol
   (:func:`kind.evaluation.protocols.enhance_pair`, ratio from the ground truth, output R̂·L̂, uint8 as saved),
   PSNR / SSIM as ``kind eval`` computes them, mean HSV saturation (Pillow's S channel / 255) of
   the outputs and ground truths, and the mean per-pixel angle (degrees) between output and
   ground-truth RGB vectors. Writes ``OUT/results.json`` (means and per image) and ``OUT/table.md``
   (the means, and each arm's paired per-image difference to the official arm).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from kind.evaluation.protocols import enhance_pair
from kind.evaluation.evaluate import read_pair
from kind.evaluation.paired import differences, pairs_better
from kind.imageops import to_image
from kind.inference.runner import load_runner, resolve_device
from kind.io.atomic import atomic_write_json, atomic_write_text
from kind.io.pairs import find_pairs
from kind.losses import ExtraLosses, color_angle_map
from kind.metrics import psnr, saturation, ssim
from kind.train.config import load_config
from kind.train.data import PatchSampler, PatchSource
from kind.train.loop import train
from kind.train.stages import STAGES, StageData
from kind.weights.format import export_weights, load_network, resolve_weights_dir

# The arms: extra terms on top of the official restoration loss. Each weight makes the weighted term
# about 1/5 to 1/4 of the official loss at the start (see --calibrate and docs/losses.md), one weight
# per term, not tuned on the held-out pairs.
ARMS: dict[str, list[dict]] = {
    "official": [],
    "color_angle": [{"name": "color_angle", "weight": 0.5, "on": "restored"}],
    "region": [{"name": "region", "weight": 0.5, "on": "product"}],
}
DEFAULT_TRAIN_DIRS = ["../shared/data/lol/train80", "../shared/data/lol/train160"]
NETWORK_FILES = ("decom.pt", "adjust.pt", "restore.pt")


def color_angle_degrees(output: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-pixel angle (degrees) between the RGB vectors of two H×W×3 uint8 images:
    :func:`kind.losses.color_angle_map` on their [0, 1] values, in float64."""
    def as_tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(image).double().permute(2, 0, 1).unsqueeze(0) / 255.0

    return math.degrees(float(color_angle_map(as_tensor(output), as_tensor(gt)).mean()))


def heldout_pairs(train_dirs: list[str], holdout: int) -> list[tuple[Path, Path]]:
    """The (low, high) paths of the last ``holdout`` pairs of the folders in order, as
    :func:`kind.train.stages.load_splits` holds them out."""
    pairs = [pair for folder in train_dirs for pair in find_pairs(folder)]
    if not 0 < holdout < len(pairs):
        raise SystemExit(f"--holdout {holdout}: needs 1 to {len(pairs) - 1} of the {len(pairs)} pairs")
    return pairs[-holdout:]


def base_config(args: argparse.Namespace, extra_losses: list[dict], out_dir: Path):
    """The restoration config of every arm; only ``extra_losses`` and ``out_dir`` differ."""
    settings = {
        "train_dir": args.train_dir, "holdout": args.holdout, "out_dir": str(out_dir),
        "decom_weights": str(args.weights / "decom.pt"), "init_weights": str(args.weights / "restore.pt"),
        "steps": args.steps, "batch_size": args.batch_size, "patch_size": args.patch_size, "lr": args.lr,
        "lr_decay_step": args.steps, "seed": args.seed, "device": args.device, "amp": "none",
        "threads": args.threads, "log_every": 25, "check_every": 25, "val_every": 0, "save_every": 0,
        "extra_losses": extra_losses,
    }
    return load_config("restore", overrides=[f"{key}={json.dumps(value)}" for key, value in settings.items()])


def term_scales(data: StageData, config, batches: int, device: torch.device) -> dict[str, float]:
    """Mean unweighted official loss and extra terms of ``config`` on the first ``batches`` training
    batches, with the starting weights (no training)."""
    stage = STAGES["restore"]
    source = PatchSource(data.train, device)
    sampler = PatchSampler(source.sizes, config.batch_size, config.patch_size, config.seed, 0, stage.modes)
    model = load_network(config.init_weights, "restore", device)
    specs = [spec | {"weight": 0.0} for spec in config.extra_losses]
    extra = ExtraLosses(specs, "restore", seed=config.seed).to(device)
    sums: dict[str, float] = {}
    with torch.no_grad():
        for step in range(batches):
            draws = sampler.draws(step, device)
            batch = stage.batch(source.cut(draws, config.patch_size), draws, config)
            total, terms, outputs = stage.loss(model, batch, config, extra.targets)
            _, extra_terms = extra(outputs)
            for name, value in {"official": total, **terms, **extra_terms}.items():
                sums[name] = sums.get(name, 0.0) + float(value) / batches
    return sums


def weights_folder(run_dir: Path, starting: Path) -> Path:
    """``run_dir/weights``: the arm's last restoration weights (float32) beside the starting
    decom.pt and adjust.pt (unchanged: the stage trains the restoration net only)."""
    folder = run_dir / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    export_weights(run_dir / "last.pt", folder / "restore.pt")
    for name in ("decom.pt", "adjust.pt"):
        shutil.copyfile(starting / name, folder / name)
    return folder


def score(weights: Path, pairs: list[tuple[Path, Path]], threads: int, device: str) -> dict:
    """Official-protocol PSNR / SSIM, saturation and colour angle of ``weights`` on ``pairs``;
    means and per image."""
    if threads:
        torch.set_num_threads(threads)
    runner = load_runner(weights, device)
    per_image = {}
    for low_path, high_path in pairs:
        pair = read_pair(low_path, high_path)
        with torch.inference_mode():
            output = to_image(enhance_pair(runner, pair.low, pair.high, "official").output.cpu())
        per_image[pair.name] = {
            "psnr": psnr(output, pair.high_u8), "ssim": ssim(output, pair.high_u8),
            "saturation": saturation(output), "gt_saturation": saturation(pair.high_u8),
            "color_angle_deg": color_angle_degrees(output, pair.high_u8),
        }
    mean = {key: float(np.mean([row[key] for row in per_image.values()])) for key in next(iter(per_image.values()))}
    mean["saturation_ratio"] = mean["saturation"] / mean["gt_saturation"]
    return {"weights": str(weights), "mean": mean, "per_image": per_image}


def paired_differences(results: dict, reference: str = "official") -> dict[str, dict[str, tuple[float, float, int]]]:
    """Per row other than ``reference``: metric → (mean, standard error (NaN for one image), images better) of the
    per-image difference row − reference on the same held-out images; better as
    :func:`kind.evaluation.paired.pairs_better` counts."""
    base = results[reference]["per_image"]
    by_row = {}
    for name, row in results.items():
        if name == reference:
            continue
        per_metric = {}
        for metric in ("psnr", "ssim", "saturation", "color_angle_deg"):
            d = differences(base, row["per_image"], metric)
            error = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
            per_metric[metric] = (float(d.mean()), error, pairs_better(base, row["per_image"], metric))
        by_row[name] = per_metric
    return by_row


def table(results: dict) -> str:
    """The Markdown tables of ``results`` (``{row: {"mean", "per_image", "train_seconds"?,
    "extra_losses"?}}``): the means, then each row's paired difference to the official arm."""
    lines = [
        "| arm | extra terms | PSNR | SSIM | saturation (GT) | sat. / GT | colour angle ° | train wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        mean = row["mean"]
        extra = ", ".join(f"{s['name']} {s['weight']:g} on {s['on']}" for s in row.get("extra_losses", [])) or "—"
        wall = f"{row['train_seconds'] / 60:.1f} min" if "train_seconds" in row else "—"
        lines.append(
            f"| {name} | {extra} | {mean['psnr']:.3f} | {mean['ssim']:.4f} | {mean['saturation']:.4f} "
            f"({mean['gt_saturation']:.4f}) | {mean['saturation_ratio']:.3f} | {mean['color_angle_deg']:.2f} | {wall} |"
        )
    if "official" in results:
        count = len(results["official"]["per_image"])
        lines += ["", f"Paired differences to `official`, mean ± standard error over the {count} held-out images "
                  "(images better / all; better saturation: closer to the ground truth's):", "",
                  "| arm | Δ PSNR | Δ SSIM | Δ saturation | Δ colour angle ° |", "|---|---|---|---|---|"]
        for name, per_metric in paired_differences(results).items():
            cells = [f"{m:+.3f} ± {se:.3f} ({better}/{count})" if key != "ssim" else f"{m:+.4f} ± {se:.4f} ({better}/{count})"
                     for key, (m, se, better) in per_metric.items()]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/losscmp"), help="output folder (default runs/losscmp)")
    parser.add_argument("--train-dir", nargs="+", default=DEFAULT_TRAIN_DIRS, help="paired folders, in order")
    parser.add_argument("--holdout", type=int, default=20, help="last N pairs held out and scored (default 20)")
    parser.add_argument("--weights", default="shipped",
                        help="starting weights: a folder with decom.pt, adjust.pt, restore.pt, or a shipped version "
                             "(default: shipped, the package's own)")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="arms to train (default all)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, auto; fp32 either way")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    parser.add_argument("--calibrate", action="store_true", help="only print the terms' scales at the start")
    parser.add_argument("--calibrate-batches", type=int, default=20)
    parser.add_argument("--report", action="store_true", help="only rebuild OUT/table.md from OUT/results.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        text = table(json.loads((args.out / "results.json").read_text())["results"])
        atomic_write_text(args.out / "table.md", text)
        print(text)
        return 0
    args.weights = resolve_weights_dir(args.weights)
    missing = [name for name in NETWORK_FILES if not (args.weights / name).is_file()]
    if missing:
        raise SystemExit(f"--weights {args.weights}: missing {', '.join(missing)}")
    pairs = heldout_pairs(args.train_dir, args.holdout)
    every_term = [spec for arm in args.arms for spec in ARMS[arm]]
    prepare_config = base_config(args, every_term, args.out / "prepare")
    started = time.perf_counter()
    device = resolve_device(args.device)
    data = STAGES["restore"].prepare(prepare_config, device)  # the union's maps serve every arm
    data = replace(data, val={}, nets={})  # scored below with the official protocol instead
    heldout_names = {f"{Path(low).parent.parent.name}/{Path(low).name}" for low, _ in pairs}
    if heldout_names & set(data.names):
        raise SystemExit(f"held-out pairs in the training set: {sorted(heldout_names & set(data.names))}")
    print(f"prepared {len(data.names)} training pairs in {time.perf_counter() - started:.0f} s; "
          f"{len(pairs)} held out: {', '.join(sorted(heldout_names))}", file=sys.stderr)

    if args.calibrate:
        scales = term_scales(data, prepare_config, args.calibrate_batches, device)
        print(json.dumps(scales, indent=2))
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    results = {"start (shipped)": score(args.weights, pairs, args.threads, args.device)}
    for arm in args.arms:
        config = base_config(args, ARMS[arm], args.out / arm)
        started = time.perf_counter()
        state = train("restore", config, overwrite=True, progress=not args.quiet,
                      data=replace(data, train=dict(data.train)))
        seconds = time.perf_counter() - started
        if state.stopped:
            raise SystemExit(f"{arm}: training stopped early ({state.stopped})")
        results[arm] = score(weights_folder(args.out / arm, args.weights), pairs, args.threads, args.device) | {
            "train_seconds": seconds, "extra_losses": ARMS[arm], "steps": state.step}
        print(f"{arm}: {results[arm]['mean']} ({seconds:.0f} s)", file=sys.stderr)
        atomic_write_json(args.out / "results.json", {"settings": {k: str(v) for k, v in vars(args).items()}, "results": results})
    text = table(results)
    atomic_write_text(args.out / "table.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
