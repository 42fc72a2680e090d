"""The frozen decomposition of a run's pairs, kept in the run folder between starts and resumes.

Adjust and restore decompose every training and validation pair with the frozen DecomNet before
they train (about a minute for 240 LOL pairs on a 2-core CPU). The maps (R and L of the low and
the normal-light image: 8 float32 planes a pair, 7.7 MB for 600×400) are saved as
``out_dir/decomposition-<key>.pt``; the key is the SHA-256 of the DecomNet file's checksum and of
the exact input pairs (names and pixels), so a changed DecomNet or data set never reuses them, and
what is loaded is bit for bit what would be computed. A folder keeps one such file: writing a new
one removes the others. A cache that cannot be read is computed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch

from kind.io.atomic import atomic_path
from kind.train.data import PairedImages

CACHE_PREFIX = "decomposition-"
MAPS = ("R_low", "L_low", "R_high", "L_high")


def cache_key(decom_sha256: str, splits: Sequence[PairedImages]) -> str:
    """The SHA-256 (hex) of the DecomNet's checksum and of every pair of ``splits`` (names, sizes, pixels)."""
    digest = hashlib.sha256(decom_sha256.encode())
    for split in splits:
        digest.update(f"split {len(split.names)}".encode())
        for name, low, high in zip(split.names, split.low, split.high):
            digest.update(f"{name} {tuple(low.shape)}".encode())
            digest.update(low.contiguous().numpy().tobytes())
            digest.update(high.contiguous().numpy().tobytes())
    return digest.hexdigest()


def cache_path(folder: str | Path, key: str) -> Path:
    return Path(folder) / f"{CACHE_PREFIX}{key[:32]}.pt"


def load_cached(folder: str | Path, key: str) -> list[dict[str, list[torch.Tensor]]] | None:
    """The cached maps (one dict of ``MAPS`` per split) of ``key`` in ``folder``, or None."""
    path = cache_path(folder, key)
    if not path.is_file():
        return None
    try:
        maps = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a damaged cache is computed again
        return None
    ok = isinstance(maps, list) and all(isinstance(split, dict) and set(split) == set(MAPS) for split in maps)
    return maps if ok else None


def save_cache(folder: str | Path, key: str, maps: Sequence[dict[str, list[torch.Tensor]]]) -> Path:
    """Write the maps of ``key`` (CPU copies of ``MAPS``) atomically; remove the folder's other caches."""
    path = cache_path(folder, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = [{name: [x.cpu() for x in split[name]] for name in MAPS} for split in maps]
    with atomic_path(path) as tmp:
        torch.save(kept, tmp)
    for old in path.parent.glob(f"{CACHE_PREFIX}*.pt"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


__all__ = ["CACHE_PREFIX", "MAPS", "cache_key", "cache_path", "load_cached", "save_cache"]
