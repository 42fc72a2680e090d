"""Assemble a release of the project's weights: a new folder with decom.pt, restore.pt and
adjust.pt, each labelled with the release version, any of them stored in float16.

Each network comes from a weights spec (a shipped version such as ``v0.3``, a weight file, or a
training checkpoint, which is slimmed as ``kind export`` does). The folder is written under a
temporary name and renamed when all three files are in place; an existing folder is refused.

    python tools/release_weights.py kind/weights/pretrained/v0.4 --version v0.4 \\
        --decom v0.3 --adjust v0.3 --restore runs/study/pipeline@0.75.pt --half restore
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from kind.constants import NETWORK_NAMES
from kind.weights.format import WeightsError, content_sha256, export_weights, resolve_weight_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the release folder to create (must not exist)")
    parser.add_argument("--version", required=True, help="release label to record, e.g. v0.4")
    for network in NETWORK_NAMES:
        parser.add_argument(f"--{network}", required=True, metavar="SPEC", help=f"where the {network} weights come from")
    parser.add_argument("--half", nargs="*", default=[], choices=NETWORK_NAMES, help="networks stored in float16")
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out}: already exists; a release folder is written once")
    try:
        sources = {network: resolve_weight_file(getattr(args, network), network) for network in NETWORK_NAMES}
    except WeightsError as error:
        parser.error(str(error))
    for network, source in sources.items():
        if not source.is_file():
            parser.error(f"--{network} {getattr(args, network)}: no such weight file ({source})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{args.out.name}-", dir=args.out.parent))
    staging.chmod(0o755)  # mkdtemp's 0o700 would hide the folder from other users of an install
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
