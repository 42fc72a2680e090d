"""Finding the input images: files, folders (recursively, link loops guarded) and globs, in natural
name order, and the output path each one gets.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kind.constants import IMAGE_SUFFIXES, VIDEO_SUFFIXES


@dataclass(frozen=True)
class InputFile:
    """One input image: its path, and its path relative to the folder argument it came from (just
    the file name for file and glob arguments). ``root`` is the folder that was searched for it —
    the folder argument, or a glob match's folder — and None for a file named on its own."""

    path: Path
    relpath: Path
    root: Path | None = None


def natural_key(text: str) -> tuple[object, ...]:
    """Sort key that orders digit runs by value: ``"2" < "10"``, ``"img2" < "img10"``.

    ``re.split`` with a capturing group alternates text and digits, starting with text, so the
    tuples compare text with text and int with int.
    """
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))


def output_relpath(relpath: str | os.PathLike, suffix: str = ".png", keep_suffix: bool = False) -> Path:
    """The output path relative to the output folder: the input's relpath with ``suffix`` instead of
    its own (``a/b.jpg`` → ``a/b.png``), or after it with ``keep_suffix`` (``a/b.jpg.png``)."""
    relpath = Path(relpath)
    return relpath.with_name(relpath.name + suffix) if keep_suffix else relpath.with_suffix(suffix)


def collect_inputs(inputs: list[str], videos: bool = False) -> tuple[list[InputFile], list[str]]:
    """Expand file, folder and glob arguments into the images to process, and notices of what was
    passed over.

    A folder is searched recursively (sorted; hidden files and folders skipped; only
    IMAGE_SUFFIXES), following links to folders: a link to a folder already searched (a loop, or a
    second way into the same folder) is skipped with a notice, as is a folder that cannot be read;
    files without an image suffix are counted in a notice. Folder files get relpaths relative to
    it. A file or glob match gets its name as relpath; glob matches that are folders or not images
    are skipped, and those with a wanted suffix that are not regular files (a FIFO) with a notice.
    The same file reached twice appears once. ``videos``: clips (VIDEO_SUFFIXES) count as inputs too.

    Raises FileNotFoundError for an argument that matches no image and ValueError for a file
    argument without an image suffix.
    """
    found: list[InputFile] = []
    notices: list[str] = []
    seen: set[Path] = set()
    for arg in inputs:
        before = len(notices)
        candidates = _expand(arg, notices, videos)
        if not candidates:
            why = "; ".join(notices[before:])
            raise FileNotFoundError(f"input {arg!r} matches no image files" + (f" ({why})" if why else ""))
        for item in candidates:
            key = item.path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(item)
    return found, notices


def is_image_name(path: Path) -> bool:
    """Whether ``path`` has one of ``IMAGE_SUFFIXES`` (any case)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def is_video_name(path: Path) -> bool:
    """Whether ``path`` has one of ``VIDEO_SUFFIXES`` (any case): a clip."""
    return path.suffix.lower() in VIDEO_SUFFIXES


def _wanted(path: Path, videos: bool) -> bool:
    return is_image_name(path) or (videos and is_video_name(path))


def _expand(arg: str, notices: list[str], videos: bool = False) -> list[InputFile]:
    path = Path(arg)
    if path.is_file():
        if not _wanted(path, videos):
            suffixes = ", ".join(IMAGE_SUFFIXES + (VIDEO_SUFFIXES if videos else ()))
            raise ValueError(f"input {arg!r} is not an image file (expected a suffix among {suffixes})")
        return [InputFile(path=path, relpath=Path(path.name))]
    if path.is_dir():
        return _walk_folder(path, notices, videos)
    if path.exists() and glob.escape(arg) == arg:
        raise ValueError(f"input {arg!r} is not a regular file (a FIFO, socket or device); only regular files are read")
    found = []
    for match in sorted(_glob(arg, notices)):
        if not _wanted(match, videos) or match.is_dir():
            continue
        if _is_regular(match):
            found.append(InputFile(match, Path(match.name), match.parent))
        else:
            notices.append(f"{match}: skipped, not a regular file (a FIFO, socket, device or broken link)")
    return found


def _is_regular(path: Path) -> bool:
    """A regular file (following links): never a FIFO, socket or device, which could block a reader."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _glob(pattern: str, notices: list[str]) -> list[Path]:
    """The paths a glob pattern matches. A recursive pattern (``**``) is walked with the folder
    search's loop guard (:func:`_walk`), never ``glob``'s own recursion, which follows a folder-link
    loop forever; ``**`` matches zero or more folders, hidden ones excepted."""
    if "**" not in pattern:
        return [Path(match) for match in glob.glob(pattern)]
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    root, rest = Path(*parts[:fixed]) if fixed else Path("."), parts[fixed:]
    if not root.is_dir():
        return []
    found = []
    for path in _walk(root, notices):
        relative = path.relative_to(root).parts
        if _matches(relative, rest):
            found.append(path if fixed else Path(*relative))
    return found


def _matches(names: tuple[str, ...], patterns: tuple[str, ...]) -> bool:
    """Whether path components ``names`` match glob components ``patterns`` (``**``: any number of
    components); hidden names match only patterns that start with a dot, as in ``glob``."""
    if not patterns:
        return not names
    head, tail = patterns[0], patterns[1:]
    if head == "**":
        return any(_matches(names[k:], tail) for k in range(len(names) + 1)
                   if not any(name.startswith(".") for name in names[:k]))
    if not names or (names[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], head) and _matches(names[1:], tail)


def _folder_id(path: str | os.PathLike) -> tuple[int, int]:
    info = os.stat(path)  # follows links
    return info.st_dev, info.st_ino


def _walk(root: Path, notices: list[str]) -> Iterator[Path]:
    """Every file under ``root`` (hidden files and folders skipped), following links to folders: a
    link to a folder already searched (a loop, or a second way into it) is skipped with a notice, as
    is a folder that cannot be read."""
    searched = {_folder_id(root): root}

    def unreadable(error: OSError) -> None:
        notices.append(f"{error.filename}: folder skipped, cannot be read ({error.strerror or error})")

    for folder, subfolders, names in os.walk(root, onerror=unreadable, followlinks=True):
        kept = []
        for name in sorted(subfolders):
            if name.startswith("."):
                continue
            path = Path(folder, name)
            try:
                key = _folder_id(path)
            except OSError as error:
                notices.append(f"{path}: folder skipped, cannot be read ({error.strerror or error})")
                continue
            if key in searched:
                notices.append(f"{path}: skipped, a link to {path.resolve()}, which is searched already "
                               f"(as {searched[key]})")
                continue
            searched[key] = path
            kept.append(name)
        subfolders[:] = kept
        yield from (Path(folder, name) for name in names if not name.startswith("."))


def _walk_folder(root: Path, notices: list[str], videos: bool = False) -> list[InputFile]:
    files = []
    others: Counter[str] = Counter()
    for path in _walk(root, notices):
        if not _wanted(path, videos):
            others[path.suffix.lower() or "(no suffix)"] += 1
        elif not _is_regular(path):
            notices.append(f"{path}: skipped, not a regular file (a FIFO, socket, device or broken link)")
        else:
            files.append(InputFile(path, path.relative_to(root), root))
    if others:
        kinds = ", ".join(f"{count} {suffix}" for suffix, count in sorted(others.items()))
        count = sum(others.values())
        notices.append(f"{root}: {count} file{'s' if count > 1 else ''} without an image suffix skipped ({kinds})")
    return sorted(files, key=lambda item: item.relpath.parts)
