"""The app's temporary folder: every file the app writes (uploads, previews, downloads) lies in it,
one sub-folder a session or API request, removed when the session ends (or, for requests, once
they are ``max_age`` seconds old) and the whole folder when the app stops."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

REQUEST_MAX_AGE_S = 600.0  # an API request's files are kept this long for the client to fetch


class Workspace:
    """Sub-folders of ``root`` (which must exist): :meth:`session_folder` for a page session,
    :meth:`request_folder` for one API call (older ones are swept on each new call)."""

    def __init__(self, root: str | Path, request_max_age: float = REQUEST_MAX_AGE_S) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ValueError(f"workspace {self.root}: not a folder")
        self.request_max_age = request_max_age
        self._lock = threading.Lock()

    def session_folder(self) -> Path:
        """A new, empty folder for one session's files."""
        return self._new_folder("sessions")

    def request_folder(self) -> Path:
        """A new, empty folder for one API request's files; request folders older than
        ``request_max_age`` seconds go first."""
        self.sweep_requests()
        return self._new_folder("requests")

    def sweep_requests(self, now: float | None = None) -> list[Path]:
        """Remove request folders older than ``request_max_age``; returns them."""
        now = time.time() if now is None else now
        parent = self.root / "requests"
        removed = []
        with self._lock:
            for folder in sorted(parent.iterdir()) if parent.is_dir() else []:
                if now - folder.stat().st_mtime > self.request_max_age:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
        return removed

    def owns(self, path: str | Path) -> bool:
        """Whether ``path`` lies inside the workspace."""
        return Path(path).resolve().is_relative_to(self.root)

    def _new_folder(self, kind: str) -> Path:
        parent = self.root / kind
        parent.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(dir=parent))


def remove_folder(folder: str | Path) -> None:
    """Remove a session's or request's folder and everything in it (no error if already gone)."""
    shutil.rmtree(folder, ignore_errors=True)
