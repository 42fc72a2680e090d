"""Atomic file output: write to a temporary file beside the target, then rename over it.

A reader never sees a half-written file, and an interrupted write leaves the old file (if any)
untouched. Temporary files are named ``.<target name>.kind<PID>.<random>.tmp`` (the target name
cut short when the whole would be too long for the file system): the writer's PID
in the name means no two processes (ranks of one job included) ever touch each other's, and
:func:`remove_stale_temp_files` can tell ours from anyone else's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Iterator

TEMP_PATTERN = re.compile(r"^\..+\.kind(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def name_max(folder: str | os.PathLike) -> int:
    """The longest file name, in bytes, the file system of ``folder`` allows (255 where unknown)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):
        return 255


def temp_name(name: str, limit: int = 255) -> str:
    """``.name.kind<PID>.<random>.tmp``, with ``name`` cut short (whole characters) when the whole
    would pass ``limit`` bytes: a temporary name is never why a file that fits cannot be written."""
    tail = f".kind{os.getpid()}.{secrets.token_hex(4)}.tmp"
    room = limit - len(tail.encode()) - 1  # the leading dot
    while len(os.fsencode(name)) > max(room, 1):
        name = name[:-1]
    return f".{name or 'x'}{tail}"


def _create_temp(folder: Path, name: str) -> Path:
    """A new empty file :func:`temp_name` in ``folder``, created with mode 0666 less the process
    umask (as any ordinary file)."""
    limit = name_max(folder)
    for _ in range(100):
        tmp = folder / temp_name(name, limit)
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{folder}: cannot create a temporary file for {name}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success rename it to ``path``.

    The caller writes the whole file to the yielded path. If the block raises, the temporary file
    is removed and ``path`` is left as it was.

    >>> with atomic_path("out.png") as tmp:   # doctest: +SKIP
    ...     image.save(tmp, format="PNG")
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(target.parent, target.name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: object) -> None:
    """``obj`` as indented UTF-8 JSON, written atomically (``inf`` is written as ``Infinity``)."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` is running on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of this module (see the module docstring) in ``folder`` whose
    writer is no longer running (a killed run's); returns the removed paths. Other files, and temp
    files of live writers, are left alone."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = TEMP_PATTERN.match(path.name)
        if match and path.is_file() and not pid_alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class OutputPathError(ValueError):
    """An output path that cannot be written: the message names the option and the problem."""


def check_output_path(path: str | os.PathLike, option: str, folder: bool = False) -> Path:
    """Check, before any work starts, that ``path`` (given as ``option``, e.g. ``--json``) can be
    written: not empty, not an existing folder (for a file) or file (for a folder), and its nearest
    existing parent is a folder in which files can be created (tried). Returns the path; raises
    :class:`OutputPathError`."""
    if not str(path).strip():
        raise OutputPathError(f"{option}: an empty path; give a {'folder' if folder else 'file'} name")
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path}: exists and is not a folder")
    if not folder and path.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder, expected a file name")
    parent = path.parent if not folder or not path.exists() else path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputPathError(f"{option} {path}: {parent} is a file, so {path} cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {path}: {parent} is not writable")
    problem = _creation_problem(parent)
    if problem:
        raise OutputPathError(f"{option} {path}: nothing can be created in {parent} ({problem}); choose another place")
    return path


def _creation_problem(folder: Path) -> str | None:
    """Why no file can be created in ``folder`` (a read-only or virtual file system such as /proc,
    which permission bits do not tell), or None: found by creating and removing a hidden file."""
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".kind-probe-", dir=folder)
    except OSError as error:
        return error.strerror or str(error)
    os.close(descriptor)
    os.unlink(probe)
    return None
