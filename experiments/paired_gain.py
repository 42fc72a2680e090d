"""Pair by pair, how much one set of weights beats another on the same pairs: two ``kind eval --json``
files (same data, same protocol), the mean difference of each metric, its paired bootstrap 95 %
interval and on how many pairs the candidate is better — the rule a new version ships by
(docs/restoration-study.md, "What is next"):

    python experiments/paired_gain.py runs/fitcheck/v0.4-heldout60.json runs/candidate-heldout60.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

LOWER_IS_BETTER = {"loe", "niqe"}
METRICS = ("psnr", "ssim", "saturation", "loe", "niqe")


def per_image(path: Path) -> tuple[dict, dict[str, dict[str, float]]]:
    report = json.loads(path.read_text())
    if "per_image" not in report:
        raise SystemExit(f"{path}: not a paired `kind eval --json` report (no per_image)")
    return report, report["per_image"]


def paired_gain(reference: dict[str, dict[str, float]], candidate: dict[str, dict[str, float]], metric: str,
                samples: int = 10000, seed: int = 0) -> dict[str, float]:
    """Mean of candidate − reference over the shared pairs, its 2.5 and 97.5 % bootstrap
    percentiles, and on how many pairs the candidate is better (higher PSNR and SSIM, lower LOE and
    NIQE, a saturation nearer the ground truth's)."""
    names = sorted(set(reference) & set(candidate))
    diffs = np.array([candidate[n][metric] - reference[n][metric] for n in names])
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), (samples, len(diffs)))].mean(axis=1)
    if metric == "saturation":  # better: nearer the ground truth's
        better = np.array([abs(candidate[n][metric] - candidate[n]["gt_saturation"])
                           < abs(reference[n][metric] - reference[n]["gt_saturation"]) for n in names])
    else:
        better = (diffs < 0) if metric in LOWER_IS_BETTER else (diffs > 0)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(diffs.mean()), "low": float(low), "high": float(high), "better": int(better.sum()),
            "pairs": len(names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="kind eval --json of the weights to beat")
    parser.add_argument("candidate", type=Path, help="kind eval --json of the candidate, on the same pairs")
    args = parser.parse_args()
    (ref_report, reference), (cand_report, candidate) = per_image(args.reference), per_image(args.candidate)
    for key in ("data", "protocol"):
        if ref_report.get(key) != cand_report.get(key):
            raise SystemExit(f"the reports differ in {key}: {ref_report.get(key)!r} and {cand_report.get(key)!r}")
    if set(reference) != set(candidate):
        raise SystemExit(f"the reports score different pairs ({len(reference)} and {len(candidate)})")
    print(f"{cand_report.get('weights_label')} against {ref_report.get('weights_label')} on {ref_report['data']} "
          f"({len(reference)} pairs, protocol {ref_report['protocol']})")
    print("| metric | reference | candidate | mean gain | 95 % interval | better on |")
    print("|---|---|---|---|---|---|")
    for metric in METRICS:
        if metric not in ref_report["mean"] or metric not in cand_report["mean"]:
            continue
        gain = paired_gain(reference, candidate, metric)
        print(f"| {metric} | {ref_report['mean'][metric]:.4f} | {cand_report['mean'][metric]:.4f} | {gain['mean']:+.4f} | "
              f"{gain['low']:+.4f} … {gain['high']:+.4f} | {gain['better']} of {gain['pairs']} |")


if __name__ == "__main__":
    main()
