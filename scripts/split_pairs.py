"""Copy paired folders (LOL layout) into a training part and a held-out part, so that a run can
train on the one and validate on the other (``train_dir`` / ``val_dir``) and ``kind eval`` can
score the held-out pairs as one folder.

The restoration study's split (docs/restoration-study.md) — ``train-extra``'s last 40 pairs held
out beside the 20 that every shipped network was validated on (``train160``'s last 20):

    python scripts/split_pairs.py ../shared/data/lol/train-extra --last 40 --train runs/lol-split/extra-train \\
        --heldout runs/lol-split/extra-heldout --also ../shared/data/lol/train160:20 --all-heldout runs/lol-split/heldout60

Pairs are taken in the natural name order of :func:`kind.io.pairs.find_pairs` (the order training
reads them); files are copied byte for byte (names kept); an existing destination is refused.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from kind.io.pairs import find_pairs


def copy_pairs(pairs: list[tuple[Path, Path]], out: Path) -> None:
    """Copy (low, high) files into ``out/low`` and ``out/high``."""
    for sub in ("low", "high"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for low, high in pairs:
        shutil.copyfile(low, out / "low" / low.name)
        shutil.copyfile(high, out / "high" / high.name)


def last_pairs(spec: str) -> list[tuple[Path, Path]]:
    """``FOLDER:N`` → the last N pairs of FOLDER."""
    folder, _, count = spec.rpartition(":")
    if not folder or not count.isdigit() or int(count) < 1:
        raise SystemExit(f"--also {spec!r}: expected FOLDER:N (N ≥ 1)")
    return find_pairs(folder)[-int(count):]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a folder of pairs (low/ + high/)")
    parser.add_argument("--last", type=int, required=True, help="how many pairs (the last ones) to hold out")
    parser.add_argument("--train", required=True, help="where the other pairs go")
    parser.add_argument("--heldout", required=True, help="where the held-out pairs go")
    parser.add_argument("--also", action="append", default=[], metavar="FOLDER:N",
                        help="the last N pairs of another folder, added to --all-heldout (repeatable)")
    parser.add_argument("--all-heldout", help="a folder with every held-out pair (--heldout's and --also's), for kind eval")
    args = parser.parse_args()
    pairs = find_pairs(args.folder)
    if not 0 < args.last < len(pairs):
        raise SystemExit(f"--last {args.last}: {args.folder} holds {len(pairs)} pairs; hold out 1 to {len(pairs) - 1}")
    outputs = [Path(p) for p in (args.train, args.heldout, args.all_heldout) if p]
    existing = [str(p) for p in outputs if p.exists()]
    if existing:
        raise SystemExit(f"{', '.join(existing)}: already there; remove it or choose another folder")
    others = [pair for spec in args.also for pair in last_pairs(spec)]
    copy_pairs(pairs[: -args.last], Path(args.train))
    copy_pairs(pairs[-args.last:], Path(args.heldout))
    if args.all_heldout:
        copy_pairs(others + pairs[-args.last:], Path(args.all_heldout))
    print(f"{len(pairs) - args.last} training pairs in {args.train}, {args.last} held out in {args.heldout}"
          + (f", {len(others) + args.last} in {args.all_heldout}" if args.all_heldout else ""))


if __name__ == "__main__":
    main()
