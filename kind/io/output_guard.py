"""Outputs kept apart from inputs: every command checks, before any work, that none of its output
paths (``--json``, ``--out``, ``--out-md``, export targets, panel folders, ...) is one of the files
it reads, or writes images into a folder it reads images from.

Files are compared as files (``os.path.samefile``: links and hard links to an input count as the
input), folders by their resolved paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from kind.constants import IMAGE_SUFFIXES
from kind.io.atomic import OutputPathError, check_output_path

PathLike = str | os.PathLike


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def check_output_files(
    outputs: Mapping[str, PathLike | None],
    input_files: Iterable[PathLike] = (),
    input_folders: Iterable[PathLike] = (),
    planned: Iterable[PathLike] = (),
) -> None:
    """Raise :class:`kind.io.atomic.OutputPathError` when an output file (``option → path``; None:
    not given) cannot be written (:func:`kind.io.atomic.check_output_path`), is an input file, is
    an image file inside an input folder (where the command reads images), is written by another
    option too, or is a file the command will write anyway (``planned``, e.g. an enhanced image)."""
    given = {option: check_output_path(path, option) for option, path in outputs.items() if path is not None}
    files = [Path(path) for path in input_files]
    folders = [Path(path) for path in input_folders]
    planned_paths = {Path(path).resolve(): Path(path) for path in planned}
    seen: dict[Path, str] = {}
    for option, path in given.items():
        for source in files:
            if _same_file(path, source) or path.resolve() == source.resolve():
                raise OutputPathError(f"{option} {path}: is an input of this command ({source}); it would be overwritten")
        for folder in folders:
            if path.suffix.lower() in IMAGE_SUFFIXES and _inside(path, folder):
                raise OutputPathError(
                    f"{option} {path}: an image file inside the input folder {folder}; "
                    "it would overwrite or join the inputs — write it elsewhere"
                )
        resolved = path.resolve()
        if resolved in planned_paths:
            raise OutputPathError(f"{option} {path}: the command writes an image there ({planned_paths[resolved]})")
        if resolved in seen:
            raise OutputPathError(f"{option} {path}: also given as {seen[resolved]}; each output needs its own file")
        seen[resolved] = option


def check_output_folder(option: str, folder: PathLike | None, input_folders: Iterable[PathLike]) -> None:
    """Raise OutputPathError when an output folder (``option``; None: not given) is an input folder
    or lies inside one, unless it is absent or empty (so nothing it holds is read or replaced)."""
    if folder is None:
        return
    out = Path(folder)
    if out.is_dir() and next(out.iterdir(), None) is None:
        return
    if not out.exists():
        return
    for source in (Path(path) for path in input_folders):
        if _inside(out, source):
            where = "is the input folder" if out.resolve() == source.resolve() else "is inside the input folder"
            raise OutputPathError(f"{option} {out}: {where} {source} and is not empty; use a new or empty folder")


__all__ = ["check_output_files", "check_output_folder"]
