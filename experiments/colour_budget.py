"""Where the colour goes: from ``kind diagnose --json`` reports, how much of the unrestored image's
saturation (``R_low·L̂``, noise included) the restoration net keeps, against how much the ground
truth keeps, per pair and on average (docs/restoration-study.md, finding 17):

    kind diagnose --data runs/lol-split/heldout60 --weights v0.4 --json heldout.json
    kind diagnose --data LOLdataset/eval15 --weights v0.4 --json eval15.json
    python experiments/colour_budget.py heldout.json eval15.json

Saturation is ``kind diagnose``'s (mean HSV S of the uint8 image). "kept" is a saturation over the
unrestored image's; a net that keeps what the ground truth keeps has output/GT 1.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

COLOURFUL = 0.7  # a pair whose ground truth keeps at least this much of the unrestored saturation


def saturations(path: Path) -> tuple[str, np.ndarray]:
    """The report's data folder and its per-pair (unrestored, output, ground truth) saturations, P×3."""
    report = json.loads(path.read_text())
    if "per_image" not in report or "unrestored" not in report.get("rows", {}):
        raise SystemExit(f"{path}: not a `kind diagnose --json` report (no per_image or no unrestored row)")
    rows = [(pair["rows"]["unrestored"]["saturation"], pair["rows"]["official"]["saturation"], pair["gt_saturation"])
            for pair in report["per_image"].values()]
    return str(report["data"]), np.asarray(rows, dtype=np.float64)


def budget(values: np.ndarray) -> dict[str, float]:
    """Means of the saturations, the shares kept (of the means, and per pair), how well the net's
    share follows the ground truth's from pair to pair, and the pairs whose ground truth keeps ≥
    :data:`COLOURFUL` of it."""
    unrestored, output, gt = values.T
    net_share, gt_share = output / unrestored, gt / unrestored
    colourful = gt_share >= COLOURFUL
    return {
        "pairs": len(values), "unrestored": unrestored.mean(), "output": output.mean(), "gt": gt.mean(),
        "output_over_gt": output.mean() / gt.mean(), "net_keeps": output.mean() / unrestored.mean(),
        "gt_keeps": gt.mean() / unrestored.mean(), "gt_share_sd": gt_share.std(),
        "share_correlation": float(np.corrcoef(net_share, gt_share)[0, 1]) if len(values) > 2 else float("nan"),
        "colourful_pairs": int(colourful.sum()),
        "colourful_output_over_gt": output[colourful].mean() / gt[colourful].mean() if colourful.any() else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", type=Path, nargs="+", help="kind diagnose --json reports")
    args = parser.parse_args()
    print("| data | pairs | sat. unrestored / output / GT | output/GT | net keeps | GT keeps (sd per pair) "
          f"| corr. of the shares | pairs GT keeps ≥ {COLOURFUL} : their output/GT |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.reports:
        data, values = saturations(path)
        b = budget(values)
        print(f"| {data} | {b['pairs']} | {b['unrestored']:.3f} / {b['output']:.3f} / {b['gt']:.3f} | "
              f"{b['output_over_gt']:.3f} | {b['net_keeps']:.3f} | {b['gt_keeps']:.3f} ({b['gt_share_sd']:.3f}) | "
              f"{b['share_correlation']:.2f} | {b['colourful_pairs']} : {b['colourful_output_over_gt']:.3f} |")


if __name__ == "__main__":
    main()
