"""How kind reads a relative path, said in its errors.

One convention everywhere: a relative path — on the command line or in a config file
(``train_dir``, ``val_dir``, ``out_dir``, ``init_weights``, ``decom_weights``,
``adjust_weights``) — is relative to the current folder, the folder the command runs in; never to
the config file's folder. (The configs in ``configs/`` are written for the repository root.) An
error about a path that is not there names the path and, for a relative one, the folder it was
taken relative to.
"""

from __future__ import annotations

import os
from pathlib import Path


def with_origin(path: str | os.PathLike) -> str:
    """``path`` as given, followed for a relative path by ``(relative to the current folder /x/y)``."""
    text = os.fspath(path)
    return text if Path(text).is_absolute() else f"{text} (relative to the current folder {Path.cwd()})"


__all__ = ["with_origin"]
