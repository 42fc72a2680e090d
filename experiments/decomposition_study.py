"""Measurements of the decomposition study (docs/decomposition-study.md) on held-out paired data.

``terms``: for each DecomNet weight file (a weight file or a training checkpoint), the official
decomposition loss's terms averaged over random training-style batches (10 × 48², the official
patch sampler and augmentations, fixed seed) of the held-out pairs; the same for the *constant
split* (L ≡ c for both images, R = min(S / c, 1), the best c); and the totals under several
reflectance-similarity weights. Also full-image statistics: the mean and spatial std of L for low
and normal images, and the reconstruction ceiling ``R_high·L_high`` against the ground truth
(PSNR/SSIM as ``kind diagnose`` computes its ``recon`` row).

``trajectory``: the same full-image statistics and loss for every numbered checkpoint of a
``kind train decom`` run folder, in step order.

``bf16``: the cosine similarity and relative error of the official loss's parameter gradient under
bf16 autocast against fp32, on a few training batches, for each DecomNet file (``glorot``: a fresh
initialisation).

    python experiments/decomposition_study.py terms --data runs/data/holdout20 A.pt B.pt --constant
    python experiments/decomposition_study.py trajectory --data runs/data/holdout20 runs/e1
    python experiments/decomposition_study.py bf16 --data runs/data/lol220 glorot AUTHORS.pt --batches 5
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch

from kind import losses
from kind.evaluation.evaluate import read_pair
from kind.imageops import minmax_stretch, to_image
from kind.io.pairs import find_pairs
from kind.metrics import psnr, ssim
from kind.models import build_network
from kind.train.data import load_pairs, patch_batches
from kind.weights.format import load_network

SIMILARITY_WEIGHTS = (0.01, 0.03, 0.1, 0.3)
TERMS = tuple(losses.DECOMPOSITION_WEIGHTS)


def held_out_batches(data: Path, count: int, seed: int = 0, batch: int = 10, patch: int = 48) -> list[dict]:
    """``count`` batches of the official sampler over the pairs of ``data`` (stretched)."""
    pairs = load_pairs(data, stretch=True, min_size=patch)
    return patch_batches({"low": pairs.low, "high": pairs.high}, batch, patch, count, seed)


def loss_terms(split, batches: list[dict]) -> dict[str, float]:
    """Mean unweighted official terms over ``batches``; ``split(x)`` → (R, L)."""
    sums = dict.fromkeys(TERMS, 0.0)
    with torch.inference_mode():
        for b in batches:
            (r_low, l_low), (r_high, l_high) = split(b["low"]), split(b["high"])
            _, terms = losses.decomposition_loss(b["low"], b["high"], r_low, l_low, r_high, l_high)
            for key in TERMS:
                sums[key] += float(terms[key])
    return {key: value / len(batches) for key, value in sums.items()}


def totals(terms: dict[str, float]) -> dict[str, float]:
    """The official total with each reflectance-similarity weight of ``SIMILARITY_WEIGHTS``."""
    base = sum(losses.DECOMPOSITION_WEIGHTS[k] * terms[k] for k in TERMS if k != "equal_R")
    return {f"w={w:g}": base + w * terms["equal_R"] for w in SIMILARITY_WEIGHTS}


def constant_split(c: float):
    def split(x: torch.Tensor):
        return (x / c).clamp(max=1.0), torch.full_like(x[:, :1], c)

    return split


def network_split(model):
    def split(x: torch.Tensor):
        return model(x)

    return split


def full_image_stats(model, data: Path) -> dict[str, float]:
    """Over the pairs of ``data``: the loss terms on whole images, one pair at a time (as the
    trainer's validation computes them: ``full_*``), mean/std of L (low, normal), the recon
    ceiling and the R_low-vs-R_high gap."""
    rows = []
    with torch.inference_mode():
        for low_path, high_path in find_pairs(data):
            pair = read_pair(low_path, high_path)
            r_low, l_low = model(minmax_stretch(pair.low))
            r_high, l_high = model(minmax_stretch(pair.high))
            recon = to_image(r_high * l_high)
            _, terms = losses.decomposition_loss(minmax_stretch(pair.low), minmax_stretch(pair.high), r_low, l_low, r_high, l_high)
            rows.append({
                **{f"full_{key}": float(value) for key, value in terms.items()},
                "L_low_mean": float(l_low.mean()), "L_high_mean": float(l_high.mean()),
                "L_low_std": float(l_low.std()), "L_high_std": float(l_high.std()),
                "recon_psnr": psnr(recon, pair.high_u8), "recon_ssim": ssim(recon, pair.high_u8),
                "gap_psnr": psnr(to_image(r_low), to_image(r_high)),
            })
    stats = {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
    full = {key: stats[f"full_{key}"] for key in TERMS}
    return stats | {f"full_total_{name}": value for name, value in totals(full).items()}


def run_terms(args: argparse.Namespace) -> dict:
    batches = held_out_batches(args.data, args.batches, args.seed, batch=args.batch_size, patch=args.patch)
    out = {}
    for path in args.weights:
        model = load_network(path, "decom")
        terms = loss_terms(network_split(model), batches)
        whole = full_image_stats(model, args.data) if args.whole else {}
        out[str(path)] = {"terms": terms, "totals": totals(terms), **whole}
    if args.constant is not None:
        values = args.constant
        if not values:  # the best c on a grid, by the patch loss with the official weight
            grid = np.round(np.arange(0.30, 1.001, 0.02), 2)
            few = batches[: max(5, args.batches // 5)]
            values = [float(min((totals(loss_terms(constant_split(float(c)), few))["w=0.01"], c) for c in grid)[1])]
        for c in values:
            terms = loss_terms(constant_split(c), batches)
            whole = full_image_stats(constant_split(c), args.data) if args.whole else {}
            out[f"constant split L = {c:g}"] = {"terms": terms, "totals": totals(terms), **whole}
    return out


def checkpoint_step(path: Path) -> int:
    match = re.fullmatch(r"step_(\d+)\.pt", path.name)
    return int(match[1]) if match else -1


def run_trajectory(args: argparse.Namespace) -> dict:
    batches = held_out_batches(args.data, args.batches, args.seed)
    out = {}
    for run in args.runs:
        files = [run] if run.is_file() else sorted(run.glob("step_*.pt"), key=checkpoint_step)
        for path in files:
            model = load_network(path, "decom")
            terms = loss_terms(network_split(model), batches)
            out[str(path)] = {"step": checkpoint_step(path), "totals": totals(terms), "terms": terms,
                              **full_image_stats(model, args.data)}
            print(json.dumps({path.name: {k: round(v, 4) for k, v in out[str(path)].items() if isinstance(v, float)}}),
                  file=sys.stderr)
    return out


def run_bf16(args: argparse.Namespace) -> dict:
    batches = held_out_batches(args.data, args.batches, args.seed + 1)
    out = {}
    for name in args.weights:
        torch.manual_seed(0)
        model = build_network("decom") if str(name) == "glorot" else load_network(name, "decom")
        rows = []
        for b in batches:
            grads = []
            for amp in (False, True):
                model.zero_grad()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                    (r, l) = model(torch.cat([b["low"], b["high"]]))
                    n = b["low"].shape[0]
                    loss, _ = losses.decomposition_loss(b["low"], b["high"], r[:n], l[:n], r[n:], l[n:])
                loss.backward()
                grads.append((float(loss), torch.cat([p.grad.flatten() for p in model.parameters()])))
            (loss32, g32), (loss16, g16) = grads
            rows.append({"loss_fp32": loss32, "loss_bf16": loss16,
                         "cosine": float(torch.nn.functional.cosine_similarity(g32, g16, dim=0)),
                         "relative_error": float((g16 - g32).norm() / g32.norm())})
        out[str(name)] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("terms", help="loss terms and statistics of DecomNet files (and the constant split)")
    p.add_argument("weights", nargs="*", type=Path)
    p.add_argument("--constant", type=float, nargs="*", metavar="C",
                   help="also constant-illumination splits L = C (no value: the best C by the patch loss)")
    p.add_argument("--patch", type=int, default=48, help="patch size of the batches (default 48, official)")
    p.add_argument("--batch-size", type=int, default=10, help="patches per batch (default 10, official)")
    p.add_argument("--no-whole", dest="whole", action="store_false", help="skip the whole-image statistics")
    p = sub.add_parser("trajectory", help="statistics of every step_*.pt of kind train decom run folders")
    p.add_argument("runs", nargs="+", type=Path, help="run folders (their step_*.pt) or checkpoint files")
    p = sub.add_parser("bf16", help="bf16-autocast vs fp32 gradients of the loss, per DecomNet file")
    p.add_argument("weights", nargs="+", type=Path, help="weight files, or glorot")
    for p in sub.choices.values():
        p.add_argument("--data", type=Path, required=True, help="held-out pairs (low/, high/)")
        p.add_argument("--batches", type=int, default=50, help="random 10 × 48² batches (default 50)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    result = {"terms": run_terms, "trajectory": run_trajectory, "bf16": run_bf16}[args.command](args)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
