"""Evaluate weights folders under every protocol on LOL eval15 and the no-reference sets; build the tables.

    python scripts/reproduce_table.py --weights ours=shipped --weights authors=weights/official \
        --protocols official gt-ratio kindpp fixed auto --gt-mean official \
        --noref ../shared/data/noref/LIME ../shared/data/noref/DICM ../shared/data/noref/VV --out runs/table

Writes ``OUT/runs/<label>-<protocol>.json`` (one ``kind eval`` result each, outputs under
``OUT/images/<label>-<protocol>/``; ``-gtmean`` for the ``--gt-mean`` runs), ``OUT/runs/input.json``
(the low inputs scored as they are), for each no-reference set ``OUT/runs/<set>-<label>-<protocol>.json``
(the photo pipeline at ratio 5 and auto) and ``OUT/runs/<set>-input.json``, then ``OUT/results.md``
and ``OUT/results.json`` (:func:`kind.evaluation.tables.write_table`) of this invocation's runs — ``kind table
--runs OUT/runs/*.json`` rebuilds them from every run in OUT. Weights are named by a
weights spec (``shipped``, a version, or a folder); a folder that lacks decom.pt,
restore.pt or adjust.pt is skipped with a message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kind.constants import PRECISIONS, PROTOCOLS, SHIPPED
from kind.evaluation.evaluate import evaluate_folder
from kind.evaluation.protocols import PHOTO_PROTOCOLS
from kind.evaluation.tables import write_table
from kind.inference.runner import load_runner
from kind.io.atomic import atomic_write_json
from kind.metrics import LOE_VARIANTS, NIQE_CHANNELS, NIQE_PARAMS, MetricOptions
from kind.weights.format import missing_weight_files, resolve_weights_dir

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lol" / "eval15"
RUN_PROTOCOLS = [p for p in PROTOCOLS if p != "input"]
NOREF_PROTOCOLS = [p for p in PHOTO_PROTOCOLS if p != "input"]


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
    p.add_argument("--gt-mean", nargs="*", choices=PROTOCOLS, default=[], metavar="PROTOCOL",
                   help="protocols to run once more with --gt-mean (input included)")
    p.add_argument("--ratio", type=float, default=None, help="ratio of protocol fixed (default 5.0)")
    p.add_argument("--noref", nargs="*", type=Path, default=[], metavar="DIR",
                   help="folders of photos without ground truth (LIME, DICM, VV, MEF, NPE): fixed 5, auto, input")
    p.add_argument("--niqe-channel", choices=NIQE_CHANNELS, default="gray")
    p.add_argument("--niqe-params", choices=list(NIQE_PARAMS), default="live")
    p.add_argument("--loe-variant", choices=LOE_VARIANTS, default="npe")
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
    options = {"progress": not args.quiet, "options": MetricOptions(args.niqe_channel, args.niqe_params, args.loe_variant)}
    runs = []

    def run(name: str, data: Path, runner, protocol: str, **kwargs) -> None:
        result = evaluate_folder(data, runner, protocol, out_dir=args.out / "images" / name, **options, **kwargs)
        atomic_write_json(args.out / "runs" / f"{name}.json", result)
        runs.append(args.out / "runs" / f"{name}.json")

    run("input", args.data, None, "input")
    if "input" in args.gt_mean:
        run("input-gtmean", args.data, None, "input", gt_mean=True)
    for folder in args.noref:
        run(f"{folder.name}-input", folder, None, "input")
    for label, spec in weights:
        folder = resolve_weights_dir(spec)
        missing = missing_weight_files(folder)
        if missing:
            print(f"skipping {label}: {folder} lacks {', '.join(missing)}", file=sys.stderr)
            continue
        runner = load_runner(folder, args.device, args.precision)
        named = {"weights": folder, "label": label}
        for protocol in args.protocols:
            ratio = args.ratio if protocol == "fixed" else None
            run(f"{label}-{protocol}", args.data, runner, protocol, ratio=ratio, **named)
            if protocol in args.gt_mean:
                run(f"{label}-{protocol}-gtmean", args.data, runner, protocol, ratio=ratio, gt_mean=True, **named)
        for folder_noref in args.noref:
            for protocol in NOREF_PROTOCOLS:
                run(f"{folder_noref.name}-{label}-{protocol}", folder_noref, runner, protocol, **named)
    print(write_table(runs, args.out / "results.md", args.out / "results.json")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
