"""A training run's hold on its folder: one run at a time writes into an ``out_dir``.

The lock is a file, ``out_dir/.kind-run.lock``, created with ``O_EXCL`` (so two processes can never
both create it) and holding ``pid host start-time``; it is removed when the run ends, however it
ends. A lock whose process is gone (a killed run; same host, pid no longer running) is stale: it is
replaced, and the replacement is named in a notice. A live lock, or one from another host (whose
process cannot be checked), refuses the second run with :class:`RunLockedError` naming the holder.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from kind.io.atomic import pid_alive

LOCK_NAME = ".kind-run.lock"


class RunLockedError(ValueError):
    """The run folder is held by another run: the message names its process, host and lock file."""


class RunFolderError(ValueError):
    """The run folder cannot be created or locked: the message names ``out_dir`` and what to do."""


def _holder(path: Path) -> tuple[int | None, str, str]:
    """(pid, host, started) written in a lock file; pid None when unreadable."""
    try:
        words = path.read_text().split(maxsplit=2)
        return int(words[0]), words[1], words[2].strip() if len(words) > 2 else "?"
    except (OSError, ValueError, IndexError):
        return None, "?", "?"


def _create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as file:
        file.write(f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
    return True


def _remove_stale(path: Path, seen: str) -> bool:
    """Move a stale lock (whose text was ``seen``) aside and delete it; False when another process
    replaced it meanwhile (then it is put back, if still free)."""
    aside = path.with_name(f"{LOCK_NAME}.stale.{os.getpid()}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return True  # someone else removed it: try again
    if aside.read_text() == seen:
        aside.unlink()
        return True
    with contextlib.suppress(FileExistsError):
        os.link(aside, path)
    aside.unlink()
    return False


@contextlib.contextmanager
def run_lock(out_dir: str | os.PathLike) -> Iterator[str | None]:
    """Hold ``out_dir`` (created if absent) for the duration of the block; yields a notice naming a
    stale lock that was replaced, or None. Raises RunLockedError when another run holds it."""
    folder = Path(out_dir)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunFolderError(f"out_dir {folder}: the run folder cannot be created ({error.strerror or error}); "
                             "choose an out_dir in a writable folder") from None
    path = folder / LOCK_NAME
    if path.exists() and not path.is_file():
        raise RunFolderError(f"out_dir {folder}: {path} is a folder or special file, not a lock file kind wrote; "
                             "remove it, or choose another out_dir")
    notice = None
    for _ in range(3):
        if _create(path):
            break
        try:
            seen = path.read_text()
        except FileNotFoundError:
            continue
        except OSError as error:
            raise RunFolderError(f"out_dir {folder}: the lock file {path} cannot be read ({error.strerror or error}); "
                                 "remove it, or choose another out_dir") from None
        pid, host, started = _holder(path)
        if pid is not None and host == socket.gethostname() and not pid_alive(pid):
            if _remove_stale(path, seen):
                notice = f"{path}: a stale lock of process {pid} (started {started}, no longer running) was replaced"
            continue
        who = f"process {pid} on {host}, since {started}" if pid is not None else "an unreadable lock"
        raise RunLockedError(
            f"out_dir {folder} is in use by another training run ({who}; lock file {path}); wait for it to end or "
            f"choose another out_dir. If that run is gone (another host, or a reused pid), delete {path}"
        )
    else:
        raise RunLockedError(f"out_dir {folder}: cannot take the lock {path} (it keeps changing)")
    try:
        yield notice
    finally:
        if _holder(path)[0] == os.getpid():
            path.unlink(missing_ok=True)
        if created:  # a run refused before writing anything leaves no empty folder behind
            with contextlib.suppress(OSError):
                folder.rmdir()


__all__ = ["LOCK_NAME", "RunFolderError", "RunLockedError", "run_lock"]
