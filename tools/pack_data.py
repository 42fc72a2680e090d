#!/usr/bin/env python3
"""Carry paired training folders to a lent GPU machine in parts that fit its uploads.

The device tool takes at most 64 MiB up per command, the working tree included, and keeps
git-ignored files on the machine between commands while it stays warm. So a dataset goes up in
parts, one command each, unpacked into an ignored folder there, before the training command:

    python tools/pack_data.py pack ../shared/data/lol/train80 ../shared/data/lol/train160 \
        --out .gpu_parts --carry .whl          # prints the commands to run, one per part
    # on the device, one command per part (carry=[".gpu_parts/part-00.tar"], and so on):
    python3 tools/pack_data.py unpack .gpu_parts/part-00.tar --into .gpu_data
    python3 tools/pack_data.py verify .gpu_data   # every file of the dataset there and intact

Images are re-encoded as lossless WebP (about 78% of LOL's PNG bytes; every image is decoded again
and compared pixel for pixel before it is packed) unless ``--keep-format``. Each part holds a
manifest of the whole dataset (file, part, SHA-256), so ``unpack`` checks what it extracts and
``verify`` finds what is missing. Folder ``A/low/x.png`` becomes ``A/low/x.webp`` under ``--into``.
Needs only numpy and Pillow.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

MIB = 1024 * 1024
MANIFEST = "manifest.json"
SIDES = ("low", "high", "Low", "Normal")
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def travelling_bytes(carry: list[str]) -> int:
    """Bytes that travel with every device command: the working tree (tracked and untracked
    files git does not ignore) plus the carried paths."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    total = sum(Path(f).stat().st_size for f in files if f and Path(f).is_file())
    for path in map(Path, carry):
        total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    return total


def webp_bytes(path: Path) -> bytes:
    """``path`` as lossless WebP, checked to decode to the same pixels."""
    image = Image.open(path)
    image.load()
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", lossless=True, quality=100, method=4, exact=True)
    data = buffer.getvalue()
    if not np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert(image.mode)), np.asarray(image)):
        raise ValueError(f"{path}: lossless WebP does not give the same pixels back; use --keep-format")
    return data


def dataset_files(folders: list[str]) -> list[tuple[str, Path]]:
    """(name in the archive, source path) of every image of the paired folders."""
    out = []
    for folder in map(Path, folders):
        sides = [s for s in SIDES if (folder / s).is_dir()]
        if len(sides) != 2:
            raise SystemExit(f"{folder}: expected low/ + high/ (or Low/ + Normal/)")
        for side in sides:
            for path in sorted((folder / side).iterdir()):
                if path.suffix.lower() in SUFFIXES:
                    out.append((f"{folder.name}/{side}/{path.name}", path))
    return out


def pack(args: argparse.Namespace) -> int:
    if args.part_mib:
        budget = int(args.part_mib * MIB)
    else:
        budget = int(args.budget_mib * MIB) - travelling_bytes(args.carry) - int(args.margin_mib * MIB)
        if budget < 4 * MIB:
            raise SystemExit(f"only {budget / MIB:.1f} MiB left per part beside the working tree and --carry")
    entries = []
    for name, path in dataset_files(args.folders):
        data = path.read_bytes() if args.keep_format else webp_bytes(path)
        if not args.keep_format:
            name = str(Path(name).with_suffix(".webp"))
        entries.append((name, data))
        print(f"\rencoded {len(entries)} files", end="", file=sys.stderr)
    print(file=sys.stderr)
    parts: list[list[tuple[str, bytes]]] = [[]]
    size = 0
    for name, data in entries:
        if size + len(data) + 1024 > budget - len(entries) * 200 and parts[-1]:  # room for headers and the manifest
            parts.append([])
            size = 0
        parts[-1].append((name, data))
        size += len(data) + 1024
    manifest = {name: {"part": i, "sha256": sha256(data), "bytes": len(data)}
                for i, part in enumerate(parts) for name, data in part}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_bytes = json.dumps(manifest, indent=0).encode()
    for i, part in enumerate(parts):
        path = out / f"part-{i:02d}.tar"
        with tarfile.open(path, "w") as tar:
            for name, data in [(MANIFEST, manifest_bytes)] + part:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        print(f"{path}: {len(part)} files, {path.stat().st_size / MIB:.1f} MiB")
    print(f"{len(parts)} parts of at most {budget / MIB:.1f} MiB" + ("" if args.part_mib else
          f" ({args.budget_mib:g} MiB less the working tree, --carry and a {args.margin_mib:g} MiB margin)") + ".")
    print("On the device, one command per part, quickly one after the other (the machine stays warm 30 s):")
    for i in range(len(parts)):
        print(f"  carry=['{out}/part-{i:02d}.tar']  python3 tools/pack_data.py unpack {out}/part-{i:02d}.tar --into .gpu_data")
    return 0


def unpack(args: argparse.Namespace) -> int:
    into = Path(args.into)
    with tarfile.open(args.part) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())
        count = 0
        for member in tar.getmembers():
            if member.name == MANIFEST:
                continue
            expected = manifest.get(member.name)
            data = tar.extractfile(member).read()
            if expected is None or sha256(data) != expected["sha256"] or ".." in Path(member.name).parts:
                raise SystemExit(f"{args.part}: {member.name} is not the file the manifest lists")
            target = into / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(target)
            count += 1
    (into / MANIFEST).write_bytes(json.dumps(manifest).encode())
    print(f"{args.part}: {count} files into {into}")
    return 0


def verify(args: argparse.Namespace) -> int:
    into = Path(args.into)
    manifest = json.loads((into / MANIFEST).read_text())
    bad = [name for name, entry in manifest.items()
           if not (into / name).is_file() or sha256((into / name).read_bytes()) != entry["sha256"]]
    parts = sorted({manifest[name]["part"] for name in bad})
    if bad:
        print(f"{len(bad)} of {len(manifest)} files missing or damaged (parts {parts} to send again): {bad[:5]}")
        return 1
    print(f"all {len(manifest)} files present and intact in {into}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="split paired folders into parts that fit one device command each")
    p.add_argument("folders", nargs="+")
    p.add_argument("--out", required=True, help="a git-ignored folder for the parts (e.g. .gpu_parts)")
    p.add_argument("--budget-mib", type=float, default=64, help="what one command may carry up (default 64)")
    p.add_argument("--carry", action="append", default=[], help="other paths the commands carry (e.g. .whl)")
    p.add_argument("--margin-mib", type=float, default=1.0)
    p.add_argument("--part-mib", type=float, help="the size of a part, instead of the budget less what travels")
    p.add_argument("--keep-format", action="store_true", help="pack the files as they are (no lossless WebP)")
    p.set_defaults(run=pack)
    p = sub.add_parser("unpack", help="extract one part, checking every file against the manifest")
    p.add_argument("part")
    p.add_argument("--into", required=True)
    p.set_defaults(run=unpack)
    p = sub.add_parser("verify", help="check that every file of the dataset arrived intact")
    p.add_argument("into")
    p.set_defaults(run=verify)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
