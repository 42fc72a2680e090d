"""Rewrite kind weight files in place with a checksum (and a release version), same tensors.

Files written before kind weight files carried a checksum load with a notice; this adds the
checksum (kind/weights/format.py: the SHA-256 in the zip comment) so that corruption is detected, and
optionally a ``version`` label. Each file is rewritten atomically, read back and compared tensor
for tensor (``torch.equal``).

    python tools/upgrade_weights.py kind/weights/pretrained/v0.1/*.pt --version v0.1
"""

from __future__ import annotations

import argparse
import sys

from kind.weights.format import WeightsError, upgrade_weight_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="kind weight files (.pt)")
    parser.add_argument("--version", help="release label to record, e.g. v0.1 (default: keep the file's)")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.files:
        try:
            info = upgrade_weight_file(path, args.version)
        except WeightsError as error:
            print(f"upgrade_weights: error: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: version {info['version'] or '—'}, sha256 {info['sha256']} (same tensors)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
