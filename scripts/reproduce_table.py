"""Evaluate every weights folder under every protocol on LOL eval15 and build the results table.

    python scripts/reproduce_table.py --weights ours=shipped --weights authors=weights/official \
        --protocols official gt-ratio fixed auto --out runs/table

Writes ``OUT/<label>-<protocol>.json`` (one ``kind eval`` result each, outputs under
``OUT/<label>-<protocol>/``), ``OUT/input.json`` (the low inputs scored as they are), then
``OUT/results.md`` and ``OUT/results.json`` (:func:`kind.evaluate.write_table`). Weights are
named by a weights spec (``shipped``, a version, or a folder); a folder that lacks decom.pt,
restore.pt or adjust.pt is skipped with a message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kind.constants import PRECISIONS, PROTOCOLS, SHIPPED
from kind.evaluate import evaluate_folder, write_table
from kind.fileio import atomic_write_json
from kind.runner import load_runner
from kind.weights import missing_weight_files, resolve_weights_dir

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lol" / "eval15"
RUN_PROTOCOLS = [p for p in PROTOCOLS if p != "input"]


def _labelled(text: str) -> tuple[str, str]:
    label, sep, spec = text.partition("=")
    if not sep or not label or not spec:
        raise argparse.ArgumentTypeError(f"expected LABEL=SPEC, got {text!r}")
    return label, spec


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else None,
                   help=f"folder with low/ and high/ (default {DEFAULT_DATA} when present)")
    p.add_argument("--weights", type=_labelled, action="append", metavar="LABEL=SPEC",
                   help=f"a weights spec (shipped, a version, a folder) and its label (repeatable; default ours={SHIPPED})")
    p.add_argument("--protocols", nargs="+", choices=RUN_PROTOCOLS, default=RUN_PROTOCOLS)
    p.add_argument("--ratio", type=float, default=None, help="ratio of protocol fixed (default 5.0)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "table")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.data is None:
        p.error(f"--data is required ({DEFAULT_DATA} is not there)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    weights = args.weights or [("ours", SHIPPED)]
    runs = [args.out / "input.json"]
    atomic_write_json(runs[0], evaluate_folder(args.data, None, "input", progress=not args.quiet))
    for label, spec in weights:
        folder = resolve_weights_dir(spec)
        missing = missing_weight_files(folder)
        if missing:
            print(f"skipping {label}: {folder} lacks {', '.join(missing)}", file=sys.stderr)
            continue
        runner = load_runner(folder, args.device, args.precision)
        for protocol in args.protocols:
            name = f"{label}-{protocol}"
            ratio = args.ratio if protocol == "fixed" else None
            result = evaluate_folder(args.data, runner, protocol, ratio=ratio, out_dir=args.out / name,
                                     progress=not args.quiet, weights=folder, label=label)
            atomic_write_json(args.out / f"{name}.json", result)
            runs.append(args.out / f"{name}.json")
    print(write_table(runs, args.out / "results.md", args.out / "results.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
