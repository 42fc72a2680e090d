"""The restoration study (docs/restoration-study.md): short fine-tunes of the restoration net at an
equal budget of CPU time, one lever changed at a time, compared on 60 held-out pairs.

``run`` trains the arms (``kind train restore --config configs/restore-study.yaml`` plus each arm's
overrides, in ``runs/study/ARM``, resumable), ``--parallel`` at a time, each on one thread;
``report`` reads their TensorBoard events and writes the table (JSON and Markdown) and the curves
against CPU minutes; ``hours`` prints the hours the long run (``--runs``, by default
``configs/restore-long-scratch-cpu.yaml``'s folder) has trained, from its TensorBoard event files;
``flat`` says whether its held-out curves have moved over its last ``--window`` hours (the issue's
condition for calling the work blocked):

    python scripts/split_pairs.py ...   # the held-out split (configs/restore-study.yaml says which)
    python experiments/restoration_study.py run --arms v0.3,base,ema --parallel 2
    python experiments/restoration_study.py report --out docs/figures/restoration-study.png \\
        --json docs/figures/restoration-study.json
    python experiments/restoration_study.py hours
    python experiments/restoration_study.py flat --window 5

Arm ``v0.3`` is the shipped net scored by the same validation: one step at lr 1e-30, which leaves
its weights as they were but for the 10 of its 7.8 M weights that are exactly zero, which move by
1e-30 (a change no validation metric can see).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kind.train.events import event_spans, on_training_clock, read_scalars

CONFIG = "configs/restore-study.yaml"
ROOT = Path("runs/study")
# the long run's folders, in training order: the second long run (configs/restore-long-scratch-cpu.yaml); the
# first (runs/restore-long, then runs/restore-long-pipeline) was lost with its machine at 13.50 h
LONG_RUNS = (Path("runs/restore-long-scratch"),)
EMA = "ema_decay=0.995"  # a ~200-step average: short runs; the long run uses 0.999
EMA_SUFFIX = ".ema"  # arm ARM.ema@ALPHA blends v0.3 with ARM's weight average, ARM@ALPHA with its trained weights
START_SEPARATOR = "+"  # arm VERSION+ARM@ALPHA blends the shipped VERSION (not v0.3) with ARM's weights
PIPELINE = "extra_losses=[{name: mse, weight: 1, on: pipeline}]"  # R̂·L̂ (official ratio) against the GT
ARMS: dict[str, list[str]] = {
    "v0.3": ["steps=1", "lr=1e-30", "max_cpu_seconds=0"],
    "base": [],  # configs/restore-finetune-cpu.yaml's recipe: 4 × 192², lr 5e-5 constant
    "ema": [EMA],
    "cosine": [EMA, "lr_schedule=cosine", "lr=2e-4", "warmup_steps=50", "cosine_steps=850", "min_lr=1e-6"],
    "product": [EMA, "extra_losses=[{name: mse, weight: 1, on: product}]"],
    "extra": [EMA, "train_dir=[../shared/data/lol/train80, runs/lol-split/extra-train, ../shared/data/lol/train160]"],
    "l1": [EMA, "square_weight=0", "extra_losses=[{name: l1, weight: 1, on: restored}]"],
    "p96": [EMA, "batch_size=8", "patch_size=96", "val_every=300"],
    "progressive": [EMA, "batch_size=8", "patch_size=96",
                    "patch_schedule=[{step: 300, patch_size: 192, batch_size: 4}, {step: 600, patch_size: 384, batch_size: 1}]"],
    "color": [EMA, "extra_losses=[{name: color_angle, weight: 1, on: restored}]"],
    "pipeline": [EMA, PIPELINE],
    "pipeline10": [EMA, "extra_losses=[{name: mse, weight: 10, on: pipeline}]"],
    "pipeline-lr": [EMA, PIPELINE, "lr=1.5e-5"],  # a slower drift?
    # the blend of finding 10 as a training-time pull towards v0.3 (time constants 1000 and 333 steps at lr 5e-5)
    "anchor20": [EMA, PIPELINE, "anchor_decay=20"],
    "anchor60": [EMA, PIPELINE, "anchor_decay=60"],
    # the pipeline arm on patches whose RGB channels take one of 6 orders: more palettes from the same pairs
    "shuffle": [EMA, PIPELINE, "channel_shuffle=true"],
    "gamma1": [EMA, "target_gamma=1.0"],  # the target R_high itself: R̂·L_high then aims at the normal-light image
    # a more saturated target ((r/g)^γ spreads the channels) beside the pipeline term, which keeps R̂·L̂ on the GT
    "gamma14": [EMA, PIPELINE, "target_gamma=1.4"],
    # the pipeline arm with a darker copy of each training pair (scripts/darken_pairs.py): more exposures
    # and noise levels of the same scenes and colours
    "darker": [EMA, PIPELINE, "train_dir=[../shared/data/lol/train80, runs/lol-split/darker, ../shared/data/lol/train160]"],
    # v0.4 trained on: the pipeline arm's recipe at 1 × 384² (the long run's 384² phase lifted its PSNR
    # by 0.3 dB within 2,500 steps) and a lower lr, from the shipped weights rather than v0.3
    "v0.4-384": [EMA, PIPELINE, "init_weights=v0.4", "batch_size=1", "patch_size=384", "lr=2e-5"],
    "scratch": [EMA, "init_weights=", "lr_schedule=cosine", "lr=2e-4", "warmup_steps=50", "cosine_steps=850", "min_lr=1e-6"],
}
METRICS = ("pipeline_psnr", "pipeline_ssim", "pipeline_saturation", "gt_saturation", "psnr", "ssim", "saturation",
           "target_saturation")


HELD_OUT_FOLDER = Path("../shared/data/lol/train160")  # holdout: 20 takes the last 20 pairs of the last train_dir folder


def check_held_out(arm: str) -> None:
    """Refuse an arm whose ``train_dir`` (the config's with the arm's overrides) would hold out other
    pairs than the study's: its last folder must be train160, whose last 20 pairs are 20 of the 60."""
    from kind.train.config import folder_list, load_config

    folders = folder_list(load_config("restore", CONFIG, ARMS[arm]).train_dir)
    if Path(folders[-1]) != HELD_OUT_FOLDER:
        sys.exit(f"arm {arm}: train_dir must end with {HELD_OUT_FOLDER}, whose last 20 pairs are held out (got {folders})")


def command(arm: str, budget: float | None) -> list[str]:
    check_held_out(arm)
    overrides = [f"out_dir={ROOT / arm}", *ARMS[arm]] + ([f"max_cpu_seconds={budget}"] if budget and arm != "v0.3" else [])
    return [sys.executable, "-m", "kind", "train", "restore", "--config", CONFIG, "--resume", "auto",
            *[part for text in overrides for part in ("--set", text)]]


def share_decompositions(arm: str) -> None:
    """Link the frozen decompositions other arms cached into ``arm``'s folder (each is 1.8 GB; an
    arm reads the one whose key fits its DecomNet and pairs, and computes its own otherwise)."""
    folder = ROOT / arm
    folder.mkdir(parents=True, exist_ok=True)
    for cached in ROOT.glob("*/decomposition-*.pt"):
        link = folder / cached.name
        if not cached.is_symlink() and not link.exists():
            link.symlink_to(cached.resolve())


def blend_parts(name: str) -> tuple[str, str, bool, str]:
    """Blend arm ``[VERSION+]ARM[.ema]@ALPHA`` → (the shipped version it starts from, v0.3 unless
    named; ARM; whether ARM's weight average; ALPHA)."""
    source, alpha = name.split("@")
    start, _, source = source.rpartition(START_SEPARATOR)
    return start or "v0.3", source.removesuffix(EMA_SUFFIX), source.endswith(EMA_SUFFIX), alpha


def register_blend(name: str) -> Path:
    """Register arm ``ARM@ALPHA``: v0.3's restoration net validated as arm ``v0.3`` is, with its
    weights replaced by (1 − ALPHA) · v0.3 + ALPHA · the trained weights of ``runs/study/ARM``
    (its last.pt's ``train_state_dict``; any run folder linked there works, e.g. the long run's),
    or with ``ARM.ema@ALPHA`` their average (last.pt's ``state_dict``, what the run validated);
    ``VERSION+ARM…`` starts from that shipped version instead of v0.3. The weights are read from
    ``runs/study/NAME.pt`` (:func:`write_blend`); returns that path."""
    path = ROOT / f"{name}.pt"
    ARMS[name] = [*ARMS["v0.3"], f"init_weights={path}"]
    return path


def write_blend(name: str) -> None:
    """Write the weights of blend arm ``ARM@ALPHA`` (:func:`register_blend`), recording α, the step and
    the config of the trained weights."""
    import torch

    from kind.weights.format import read_record, resolve_weight_file, save_record, weight_record

    start_version, arm, average, alpha = blend_parts(name)
    if (ROOT / name / "last.pt").is_file():  # --resume auto would report the old score of other weights
        sys.exit(f"runs/study/{name} holds an earlier score of this blend; move it away to score the blend of "
                 f"{arm}'s current weights")
    start = read_record(resolve_weight_file(start_version, "restore"), "restore")["state_dict"]
    checkpoint = read_record(ROOT / arm / "last.pt", "restore")
    trained = checkpoint["state_dict" if average else "train_state_dict"]
    blend = {key: torch.lerp(start[key].float(), trained[key].float(), float(alpha)) for key in start}
    facts = {key: checkpoint[key] for key in ("step", "config", "cpu_seconds") if key in checkpoint}
    which = "weight average (EMA)" if average else "trained weights"
    record = weight_record("restore", blend, source=f"(1 - {alpha}) * {start_version} + {alpha} * {arm}'s {which}",
                           training={"blend": {"alpha": float(alpha), "start": start_version, "ema": average, **facts}})
    save_record(register_blend(name), record)


def study_processes() -> int:
    """Arms training now on this machine (this command's and any other's)."""
    found = subprocess.run(["pgrep", "-f", "--", f"--config {CONFIG}"], capture_output=True, text=True).stdout.split()
    return len(found)


def run(arms: list[str], parallel: int, budget: float | None) -> None:
    """Train ``arms``, at most ``parallel`` arms training on the machine at a time (counting those
    another ``run`` started); each logs to ``runs/study/ARM.log``."""
    ROOT.mkdir(parents=True, exist_ok=True)
    waiting, running = list(arms), []
    while waiting or running:
        while waiting and study_processes() < parallel:
            arm = waiting.pop(0)
            share_decompositions(arm)
            log = open(ROOT / f"{arm}.log", "a")
            print(f"start {arm}: {' '.join(command(arm, budget))}", flush=True)
            running.append((arm, subprocess.Popen(command(arm, budget), stdout=log, stderr=subprocess.STDOUT), log))
        time.sleep(5)
        for item in list(running):
            arm, process, log = item
            if process.poll() is not None:
                log.close()
                running.remove(item)
                print(f"done {arm}: exit {process.returncode}", flush=True)


def summarise(arm: str) -> dict:
    """The arm's validations (step, CPU minutes, metrics), its final, best and last-3 mean, and
    the noise: the std of the differences between consecutive validations over the last four, / √2."""
    tags = read_scalars(ROOT / arm)
    cpu = dict(tags.get("train/cpu_seconds", []))
    rows = []
    for step, psnr in tags.get("val/pipeline_psnr", []):
        row = {"step": step, "cpu_minutes": round(cpu.get(step, float("nan")) / 60, 2)}
        row |= {key: dict(tags.get(f"val/{key}", [])).get(step) for key in METRICS}
        rows.append(row)
    summary: dict = {"arm": arm, "overrides": ARMS[arm], "validations": rows}
    if rows:
        last = rows[-3:]
        summary["final"] = rows[-1]
        summary["best"] = max(rows, key=lambda r: r["pipeline_psnr"])
        summary["last3"] = {key: statistics.fmean(r[key] for r in last) for key in METRICS if last[0][key] is not None}
        diffs = [b["pipeline_psnr"] - a["pipeline_psnr"] for a, b in zip(rows[-4:], rows[-3:])]
        summary["noise_psnr"] = statistics.pstdev(diffs) / 2**0.5 if len(diffs) > 1 else None
    return summary


def plot(summaries: list[dict], out: Path) -> None:
    """The arms' validations against training CPU minutes: the top row at full range, the bottom row
    zoomed to the fine-tunes from v0.3 (an arm from Glorot, ``scratch``, falls below it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("pipeline_psnr", "pipeline PSNR (dB)"), ("pipeline_ssim", "pipeline SSIM"),
              ("pipeline_saturation", "pipeline saturation / GT's"), ("psnr", "R̂ PSNR vs R_high^1.2 (dB)"))
    figure, axes = plt.subplots(2, len(panels), figsize=(5 * len(panels), 8))
    reference = next((s for s in summaries if s["arm"] == "v0.3" and s["validations"]), None)
    colours = plt.get_cmap("tab20").colors

    def value(row: dict, key: str) -> float:
        return row[key] / row["gt_saturation"] if key == "pipeline_saturation" else row[key]

    for column, (key, title) in enumerate(panels):
        fine_tunes = []
        for index, summary in enumerate(summaries):
            rows = summary["validations"]
            if summary["arm"] == "v0.3" or not rows:
                continue
            values = [value(r, key) for r in rows]
            fine_tunes += values if summary["arm"] != "scratch" else []
            for axis in axes[:, column]:
                axis.plot([r["cpu_minutes"] for r in rows], values, marker=".", label=summary["arm"],
                          color=colours[index % len(colours)], linestyle="-" if index < 10 else "--")
        for row, axis in enumerate(axes[:, column]):
            if reference is not None:
                axis.axhline(value(reference["validations"][-1], key), color="k", linestyle=":", label="v0.3")
            if row == 1 and fine_tunes:
                margin = 0.05 * (max(fine_tunes) - min(fine_tunes))
                axis.set_ylim(min(fine_tunes) - margin, max(fine_tunes) + margin)
            axis.set_title(title + (" (zoomed: the fine-tunes)" if row else ""))
            axis.set_xlabel("training CPU minutes (1 thread)")
            axis.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(out, dpi=80)


def report(arms: list[str], out: Path | None, json_out: Path | None) -> None:
    summaries = [summarise(arm) for arm in arms if (ROOT / arm).is_dir()]
    header = "| arm | steps | CPU min | final PSNR | final SSIM | final sat./GT | last-3 PSNR | best PSNR (step) | R̂ PSNR | R̂ sat./target | noise |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for s in summaries:
        if "final" not in s:
            continue
        f, best = s["final"], s["best"]
        noise = f"{s['noise_psnr']:.3f}" if s.get("noise_psnr") is not None else "—"
        print(f"| {s['arm']} | {f['step']} | {f['cpu_minutes']:.1f} | {f['pipeline_psnr']:.3f} | {f['pipeline_ssim']:.4f} | "
              f"{f['pipeline_saturation'] / f['gt_saturation']:.3f} | {s['last3']['pipeline_psnr']:.3f} | "
              f"{best['pipeline_psnr']:.3f} ({best['step']}) | {f['psnr']:.3f} | {f['saturation'] / f['target_saturation']:.3f} | {noise} |")
    if json_out:
        json_out.write_text(json.dumps(summaries, indent=1))
    if out:
        plot(summaries, out)


def hours(runs: tuple[Path, ...] = LONG_RUNS) -> None:
    """Print the hours the long run has trained: the span of each event file (one a start or resume)
    and their sum, the pauses between sessions not counted."""
    total = 0.0
    for run_dir in runs:
        for name, first, last in event_spans(run_dir):
            total += last - first
            print(f"{run_dir / name}: {time.strftime('%Y-%m-%d %H:%M', time.gmtime(first))} UTC, {(last - first) / 3600:.2f} h")
    print(f"{total / 3600:.2f} h in all")


def trend(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Least-squares slope of [(hours, value)] per hour, its standard error, and the validation noise:
    the sd of consecutive differences over √2 (one validation's scatter, a slow trend barely in it)."""
    hours, values = [h for h, _ in points], [v for _, v in points]
    slope, intercept = statistics.linear_regression(hours, values)
    mean_h = statistics.fmean(hours)
    residuals = [v - intercept - slope * h for h, v in points]
    stderr = (sum(r * r for r in residuals) / (len(points) - 2) / sum((h - mean_h) ** 2 for h in hours)) ** 0.5
    noise = statistics.stdev(b - a for a, b in zip(values, values[1:])) / 2 ** 0.5
    return slope, stderr, noise


def flat(window: float, runs: tuple[Path, ...] = LONG_RUNS) -> None:
    """Print, for each of the long run's held-out curves over its last ``window`` training hours, its
    range, the fitted change over the window against one validation's noise, and the window's best
    against the best before it. A curve is flat when the fitted change is within ±2 noise (rising or
    falling beyond that)."""
    tags = ("val/pipeline_psnr", "val/pipeline_ssim", "val/pipeline_saturation", "val/gt_saturation")
    curves = {tag.removeprefix("val/"): curve for tag, curve in on_training_clock(list(runs), tags).items()}
    gt = {step: value for _, step, value in curves.pop("gt_saturation")}
    curves["saturation/GT"] = [(h, s, v / gt[s]) for h, s, v in curves.pop("pipeline_saturation") if s in gt]
    end = max(h for h, _, _ in curves["pipeline_psnr"])
    start = end - window
    print(f"the last {window:g} of {end:.2f} training hours (from hour {start:.2f}), {len(runs)} run folders")
    for tag, curve in curves.items():
        inside = [(h, s, v) for h, s, v in curve if h >= start]
        before = [v for h, _, v in curve if h < start]
        if len(inside) < 3:
            print(f"{tag}: {len(inside)} validations in the window, too few for a trend")
            continue
        slope, stderr, noise = trend([(h, v) for h, _, v in inside])
        change = slope * window
        verdict = "flat" if abs(change) <= 2 * noise else ("rising" if change > 0 else "falling")
        low, high = min(v for _, _, v in inside), max(v for _, _, v in inside)
        best_before = f"{max(before):.4f} before it" if before else "none before it"
        print(f"{tag}: {len(inside)} validations, steps {inside[0][1]}-{inside[-1][1]}, {low:.4f}-{high:.4f}; "
              f"fitted change {change:+.4f} (± {2 * stderr * window:.4f}, 95 %) against a noise of {noise:.4f} a "
              f"validation: {verdict}; best {high:.4f} in the window, {best_before}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("run", "report", "hours", "flat"),
                        help="run: train the arms; report: their table and curves; hours: the long run's training "
                             "hours; flat: its held-out curves over the last --window hours")
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"comma-separated, of {', '.join(ARMS)}; ARM@ALPHA: (1 - ALPHA) · v0.3 + ALPHA · the trained "
                             "weights of runs/study/ARM/last.pt; ARM.ema@ALPHA: the same with its weight average (EMA); "
                             "VERSION+ARM…: from the shipped VERSION instead of v0.3")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--budget", type=float, help="max_cpu_seconds for every arm (default: the config's)")
    parser.add_argument("--out", type=Path, help="report: the curves (PNG)")
    parser.add_argument("--json", type=Path, help="report: the table and every validation (JSON)")
    parser.add_argument("--window", type=float, default=5.0, help="flat: the last hours of the long run (default 5)")
    parser.add_argument("--runs", type=lambda text: tuple(Path(p) for p in text.split(",") if p), default=LONG_RUNS,
                        help="hours, flat: the long run's folders in training order, comma-separated "
                             f"(default {','.join(map(str, LONG_RUNS))})")
    args = parser.parse_args()
    if args.action == "hours":
        return hours(args.runs)
    if args.action == "flat":
        return flat(args.window, args.runs)
    arms = [a for a in args.arms.split(",") if a]
    for arm in arms:
        if "@" in arm and (ROOT / blend_parts(arm)[1] / "last.pt").is_file():  # a shipped version blended with a run's weights
            write_blend(arm) if args.action == "run" else register_blend(arm)
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        parser.error(f"unknown arms {unknown}; known: {', '.join(ARMS)}")
    if args.action == "run":
        run(arms, args.parallel, args.budget)
    else:
        report(arms, args.out, args.json)


if __name__ == "__main__":
    main()
