"""Fit the automatic brightening ratio (kind.inference.pipeline.auto_ratio) on LOL training pairs.

For every pair, the LOL protocol's ground-truth ratio r = mean(L_high / (L_low + 1e-4)) and the low
image's mean illumination m are computed with the given DecomNet; then log r = a − b·log m is fitted
by least squares, giving r ≈ exp(a) · m^(−b). Use training pairs only (never the evaluation set);
``--holdout N`` leaves out the last N pairs of the folders, as ``kind train``'s ``holdout`` does.

    python scripts/fit_auto_ratio.py --data ../shared/data/lol/train80 ../shared/data/lol/train160 \
        --holdout 20 --decom shipped
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from kind.inference.pipeline import lol_ratio
from kind.train.data import load_pairs, split_holdout
from kind.weights.format import load_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, nargs="+", help="paired folders (low/, high/) of training images")
    parser.add_argument("--holdout", type=int, default=0, help="leave out the last N pairs (a training run's held-out pairs)")
    parser.add_argument("--decom", required=True, help="DecomNet weights: a weight file, or shipped / a version")
    args = parser.parse_args()
    decom = load_network(args.decom, "decom")
    pairs = load_pairs(args.data)
    if args.holdout:
        pairs, _ = split_holdout(pairs, args.holdout)
    ratios, means = [], []
    with torch.inference_mode():
        for low, high in zip(pairs.low, pairs.high):
            _, l_low = decom(low[None])
            _, l_high = decom(high[None])
            ratios.append(float(lol_ratio(l_low, l_high)[0]))
            means.append(float(l_low.mean()))
    log_r, log_m = np.log(ratios), np.log(means)
    slope, intercept = np.polyfit(log_m, log_r, 1)
    scale, exponent = float(np.exp(intercept)), float(-slope)
    predicted = scale * np.asarray(means) ** (-exponent)
    relative = np.abs(predicted - ratios) / np.asarray(ratios)
    print(f"{len(ratios)} pairs; ground-truth ratio median {np.median(ratios):.3f} (range {min(ratios):.2f}–{max(ratios):.2f})")
    print(f"fit: ratio = {scale:.4f} · mean(L_low)^-{exponent:.4f}; median relative error {np.median(relative):.3f}")
    fixed = np.full_like(predicted, np.exp(np.mean(log_r)))
    print(f"(a constant ratio {fixed[0]:.3f} has median relative error {np.median(np.abs(fixed - ratios) / ratios):.3f})")


if __name__ == "__main__":
    main()
