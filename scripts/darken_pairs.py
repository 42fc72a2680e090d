"""Make darker copies of low/normal-light pairs: each low image as a shorter exposure of the same
scene would record it (the normal-light image stays as it is), to train on more exposures and
noise levels of the same scenes without changing their colours (restoration study, arm ``darker``).

    python scripts/darken_pairs.py ../shared/data/lol/train80 runs/lol-split/extra-train \\
        ../shared/data/lol/train160:140 --out runs/lol-split/darker

The sensor model is fitted to the input low images themselves: in linear light (sRGB decoded), the
noise variance of a pixel of mean s is a·s + b (shot and read noise), a and b by a least-squares
line through the variance of 8×8 blocks' horizontal differences (their lowest fifth, which is
flat content) against the blocks' means. An exposure k times as long (k drawn per pair, uniform in
``--factors``) records k·s with variance a·k·s + b; scaling the low image by k leaves k²·(a·s + b),
so the copy adds Gaussian noise of the difference, a·s·k(1 − k) + b(1 − k²), then is encoded to
sRGB and rounded to 8 bits; the normal-light image is written beside it pixel for pixel (both
PNG, named after the low image). Pairs are read in :func:`kind.io.pairs.find_pairs`'
order; ``FOLDER:N`` takes the first N pairs of FOLDER (so a run's held-out last pairs stay out);
each pair's draws come from ``--seed`` and its index, so the copies are the same on every run.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from kind.imageops import linear_to_srgb, srgb_to_linear
from kind.io.pairs import find_pairs
from kind.io.read import read_stored_rgb8

BLOCK = 8
MIN_BLOCKS = 20  # in a bin of the fit


def to_linear(rgb8: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 sRGB → float64 linear light."""
    return srgb_to_linear(rgb8 / 255.0)


def block_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and noise variances (half the variance of horizontal neighbour differences) of the
    8×8 blocks of each channel of ``x`` (H×W×3)."""
    h, w = (x.shape[0] // BLOCK) * BLOCK, (x.shape[1] // BLOCK) * BLOCK
    blocks = x[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3).transpose(0, 2, 4, 1, 3)
    blocks = blocks.reshape(-1, BLOCK, BLOCK)
    diffs = (blocks[:, :, 1:] - blocks[:, :, :-1]).reshape(len(blocks), -1)
    return blocks.reshape(len(blocks), -1).mean(axis=1), diffs.var(axis=1) / 2


def fit_noise_model(lows: list[np.ndarray], bins: int = 14) -> tuple[float, float]:
    """(a, b) of the variance a·s + b in linear light, from the blocks of ``lows`` (H×W×3 uint8
    sRGB): the 20th
    percentile of the variance in each of ``bins`` bins of equal counts of the mean (up to its
    98th percentile), a least-squares line through them."""
    stats = [block_statistics(to_linear(low)) for low in lows]
    means = np.concatenate([m for m, _ in stats])
    variances = np.concatenate([v for _, v in stats])
    edges = np.quantile(means, np.linspace(0.0, 0.98, bins + 1))
    points = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (means >= lo) & (means < hi)
        if inside.sum() >= MIN_BLOCKS:
            points.append((means[inside].mean(), np.quantile(variances[inside], 0.2)))
    if len(points) < 3:
        raise SystemExit(f"{len(means)} blocks of {BLOCK}×{BLOCK} in {len(lows)} low images: too few to fit a noise model")
    xs, ys = np.array(points).T
    a, b = np.polyfit(xs, ys, 1)
    return max(float(a), 0.0), max(float(b), 0.0)


def darker_exposure(low: np.ndarray, k: float, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
    """``low`` (H×W×3, linear) as an exposure ``k`` times as long would record it; uint8 sRGB."""
    added = np.clip(a * low * k * (1 - k) + b * (1 - k * k), 0.0, None)
    darker = k * low + rng.normal(0.0, 1.0, low.shape) * np.sqrt(added)
    return (linear_to_srgb(darker) * 255 + 0.5).astype(np.uint8)


def selected_pairs(spec: str) -> list[tuple[Path, Path]]:
    """``FOLDER`` → its pairs; ``FOLDER:N`` → its first N."""
    folder, colon, count = spec.rpartition(":")
    if not colon or not count.isdigit():
        return find_pairs(spec)
    if int(count) < 1:
        raise SystemExit(f"{spec!r}: expected FOLDER or FOLDER:N (N ≥ 1)")
    return find_pairs(folder)[: int(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", metavar="FOLDER[:N]", help="folders of pairs (low/ + high/); :N takes the first N")
    parser.add_argument("--out", required=True, help="the new folder of pairs (PNG, named after the low image)")
    parser.add_argument("--factors", type=float, nargs=2, default=(0.5, 0.9), metavar=("MIN", "MAX"),
                        help="the exposure factor k of each copy, uniform in [MIN, MAX] (default 0.5 0.9)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    lo, hi = args.factors
    if not 0 < lo <= hi <= 1:
        raise SystemExit(f"--factors {lo} {hi}: expected 0 < MIN ≤ MAX ≤ 1")
    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out}: already there; remove it or choose another folder")
    pairs = [pair for spec in args.folders for pair in selected_pairs(spec)]
    stems = [low.stem for low, _ in pairs]
    if len(set(stems)) != len(stems):
        raise SystemExit("two pairs share a name; the copies would overwrite each other")
    lows = [read_stored_rgb8(low) for low, _ in pairs]  # read once: the fit, then the copies
    a, b = fit_noise_model(lows)
    print(f"noise model (linear light): variance = {a:.3e} * s + {b:.3e}, fitted on {len(pairs)} low images")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("low", "high"):
        (tmp / sub).mkdir(parents=True)
    for index, ((low, high), rgb8) in enumerate(zip(pairs, lows)):
        rng = np.random.default_rng([args.seed, index])
        k = float(rng.uniform(lo, hi))
        Image.fromarray(darker_exposure(to_linear(rgb8), k, a, b, rng)).save(tmp / "low" / f"{low.stem}.png")
        Image.fromarray(read_stored_rgb8(high)).save(tmp / "high" / f"{low.stem}.png")
    tmp.rename(out)
    print(f"{len(pairs)} darker pairs (k in [{lo}, {hi}]) in {out}")


if __name__ == "__main__":
    main()
