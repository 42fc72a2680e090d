"""Paired folders (low/normal light): LOL v1's ``low/`` + ``high/`` with equal file names, and LOL-v2's
``Low/`` + ``Normal/`` with ``lowNNNNN`` / ``normalNNNNN`` names, matched in natural name order.
"""

from __future__ import annotations

import re
from pathlib import Path

from kind.constants import IMAGE_SUFFIXES
from kind.io.inputs import natural_key
from kind.io.path_origin import with_origin


LOL_SPLITS = ("our485", "eval15")
LAYOUTS = (("low", "high"), ("Low", "Normal"))  # LOL v1; LOL-v2 (Real_captured, Synthetic)
LOLV2_NAME = re.compile(r"^(low|normal)(\d+)$", re.IGNORECASE)


class DataError(ValueError):
    """A dataset folder that cannot be used: the message names the files."""


def _images(sub: Path) -> dict[str, Path]:
    return {p.name: p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}


def _lolv2_key(path: Path) -> str | None:
    """``low00012.png`` and ``normal00012.png`` → ``"12"`` (None for another name)."""
    match = LOLV2_NAME.match(path.stem)
    return str(int(match[2])) if match else None


def _matched(folder: Path, low: dict[str, Path], high: dict[str, Path], low_name: str, high_name: str) -> list[tuple[Path, Path]]:
    only_low, only_high = sorted(set(low) - set(high)), sorted(set(high) - set(low))
    if only_low or only_high:
        shown = lambda keys, side: [side[k].name for k in keys]  # noqa: E731
        raise DataError(
            f"{folder}: {low_name}/ and {high_name}/ do not match: only in {low_name}/: {shown(only_low, low) or 'none'}; "
            f"only in {high_name}/: {shown(only_high, high) or 'none'}"
        )
    if not low:
        raise DataError(f"{folder}: no images in {low_name}/ and {high_name}/")
    return [(low[key], high[key]) for key in sorted(low, key=lambda k: natural_key(low[k].name))]


def find_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """(low, high) paths of one folder in either layout (module docstring), natural name order
    (``2.png`` before ``10.png``). A name present on one side only is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{with_origin(folder)}: no such folder")
    if (folder / "Low").is_dir() and (folder / "Normal").is_dir() and not (folder / "low").is_dir():
        def keyed(sub: Path) -> dict[str, Path]:
            files = _images(sub)
            bad = sorted(name for name, path in files.items() if _lolv2_key(path) is None)
            if bad:
                raise DataError(f"{sub}: names must be lowNNNNN / normalNNNNN (LOL-v2 layout), got {bad[:5]}")
            return {_lolv2_key(path): path for path in files.values()}

        return _matched(folder, keyed(folder / "Low"), keyed(folder / "Normal"), "Low", "Normal")
    for sub in (folder / "low", folder / "high"):
        if not sub.is_dir():
            hint = ""
            if any((folder / split).is_dir() for split in LOL_SPLITS):
                hint = f" (for the LOL layout, point at {folder}/our485 or {folder}/eval15)"
            raise DataError(
                f"{folder}: expected sub-folders low/ and high/ (or LOL-v2's Low/ and Normal/), {sub.name}/ is missing{hint}"
            )
    return _matched(folder, _images(folder / "low"), _images(folder / "high"), "low", "high")
