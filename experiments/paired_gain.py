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

from kind.evaluation.paired import bootstrap_interval, differences, pairs_better

METRICS = ("psnr", "ssim", "saturation", "loe", "niqe")


def per_image(path: Path) -> tuple[dict, dict[str, dict[str, float]]]:
    report = json.loads(path.read_text())
    if "per_image" not in report:
        raise SystemExit(f"{path}: not a paired `kind eval --json` report (no per_image)")
    return report, report["per_image"]


def paired_gain(reference: dict[str, dict[str, float]], candidate: dict[str, dict[str, float]], metric: str) -> dict[str, float]:
    """Mean of candidate − reference over ``reference``'s pairs, its paired bootstrap 95 % interval,
    and on how many pairs the candidate is better (:func:`kind.evaluation.paired.pairs_better`)."""
    diffs = differences(reference, candidate, metric)
    low, high = bootstrap_interval(diffs)
    return {"mean": float(diffs.mean()), "low": low, "high": high, "better": pairs_better(reference, candidate, metric),
            "pairs": len(diffs)}


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
