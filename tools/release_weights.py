"""Assemble a release of the project's weights: a new folder with decom.pt, restore.pt and
adjust.pt, each labelled with the release version, any of them stored in float16.

The networks come from one weights spec, mixed per network where they come from different places
(``decom=v0.3,adjust=v0.3,restore=FILE``; a training checkpoint is slimmed as ``kind export``
does). The folder is written under a temporary name and renamed when all three files are in
place; an existing folder is refused.

    python tools/release_weights.py kind/weights/pretrained/v0.4 --version v0.4 \\
        --weights decom=v0.3,adjust=v0.3,restore=runs/study/pipeline@0.75.pt --half restore
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from kind.cli.arguments import WEIGHTS_HELP
from kind.constants import NETWORK_NAMES
from kind.io.atomic import name_max, temp_name
from kind.weights.format import content_sha256, export_weights, missing_weight_files, weight_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the release folder to create (must not exist)")
    parser.add_argument("--version", required=True, help="release label to record, e.g. v0.4")
    parser.add_argument("--weights", required=True, metavar="SPEC", help=WEIGHTS_HELP)
    parser.add_argument("--half", nargs="*", default=[], choices=NETWORK_NAMES, help="networks stored in float16")
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out}: already exists; a release folder is written once")
    try:
        sources = weight_files(args.weights)
        missing = missing_weight_files(args.weights)
    except ValueError as error:  # WeightsError included: an unknown version, a malformed mixed spec
        parser.error(str(error))
    if missing:
        parser.error(f"--weights {args.weights}: no such weight file: {', '.join(missing)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = args.out.parent / temp_name(args.out.name, name_max(args.out.parent))
    staging.mkdir(mode=0o755)  # readable by every user of an install
    try:
        for network, source in sources.items():
            export_weights(source, staging / f"{network}.pt", half=network in args.half, version=args.version)
        staging.rename(args.out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for network, source in sources.items():
        path = args.out / f"{network}.pt"
        precision = "float16" if network in args.half else "as stored"
        print(f"{path}: {args.version}, from {source} ({precision}), content sha256 {content_sha256(path)[:16]}…")
    return 0


if __name__ == "__main__":
    sys.exit(main())
