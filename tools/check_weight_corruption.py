"""Flip one byte of a weight file at many offsets and count what each reader makes of it.

For every chosen offset the byte is XOR-ed with 0xFF (in memory) and the file is read twice:
with plain ``torch.load`` (what a file without a checksum gets) and with
:func:`kind.weights.format.read_record` (which verifies the checksum first). Each outcome is one of
``error`` (the reader refused the file), ``same`` (loaded, every tensor and field as in the
intact file: the flipped byte was ignored) or ``CHANGED`` (loaded, different weights: silent
corruption). A checksummed file must give ``error`` at every offset.

    python tools/check_weight_corruption.py kind/weights/pretrained/v0.1/adjust.pt           # every byte
    python tools/check_weight_corruption.py kind/weights/pretrained/v0.1/restore.pt --step 997
"""

from __future__ import annotations

import argparse
import collections
import io
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from kind.weights.format import UncheckedWeightsWarning, WeightsError, add_checksum, read_record


def same_record(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_record(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_record(x, y) for x, y in zip(a, b))
    return a == b


def outcome(load, data: bytes, reference: object) -> str:
    try:
        loaded = load(data)
    except Exception:  # noqa: BLE001 — any refusal counts as detected
        return "error"
    return "same" if same_record(loaded, reference) else "CHANGED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="a kind weight file (with or without a checksum)")
    parser.add_argument("--step", type=int, default=1, help="test every STEP-th offset (default: every byte)")
    args = parser.parse_args(argv)

    data = Path(args.file).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncheckedWeightsWarning)
        record = read_record(args.file)
    plain_bytes = bytes(data) if record["checksum"] == "absent" else None
    reference = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    checked = data if record["checksum"] == "verified" else add_checksum(data)
    offsets = sorted(set(range(0, len(checked), args.step)) | set(range(max(len(checked) - 200, 0), len(checked))))

    def torch_load(blob: bytes) -> object:
        return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / Path(args.file).name

        def kind_load(blob: bytes) -> object:
            target.write_bytes(blob)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UncheckedWeightsWarning)
                loaded = read_record(target)
            return {k: v for k, v in loaded.items() if k not in ("sha256", "checksum")}

        results: dict[str, collections.Counter] = {"torch.load, no checksum": collections.Counter(),
                                                    "kind read_record, checksum": collections.Counter()}
        for offset in offsets:
            if plain_bytes is not None and offset < len(plain_bytes):
                flipped = bytearray(plain_bytes)
                flipped[offset] ^= 0xFF
                results["torch.load, no checksum"][outcome(torch_load, bytes(flipped), reference)] += 1
            flipped = bytearray(checked)
            flipped[offset] ^= 0xFF
            results["kind read_record, checksum"][outcome(kind_load, bytes(flipped), reference)] += 1
    print(f"{args.file}: {len(checked)} bytes, {len(offsets)} offsets flipped (XOR 0xFF)")
    for name, counts in results.items():
        if counts:
            print(f"  {name:28s} " + ", ".join(f"{key} {counts[key]}" for key in ("error", "same", "CHANGED")))
    return 1 if results["kind read_record, checksum"]["same"] + results["kind read_record, checksum"]["CHANGED"] else 0


if __name__ == "__main__":
    sys.exit(main())
