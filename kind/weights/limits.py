"""How large a weight file may become when unpacked, checked before anything is unpacked.

A weight file is a zip archive (``torch.save``); its entries may be deflate-compressed, so a file
of one megabyte can declare hundreds of megabytes of tensor data (all zeros compress to nearly
nothing), which ``torch.load`` would allocate. The archive's central directory declares each
entry's unpacked size, and the reader refuses to unpack more than declared, so the declared total
is checked against what a kind file can hold: ``NETWORK_COPIES`` times the largest network's
float32 tensors (the weights and their two Adam moments, with room for an adversarial term's
discriminator and its optimiser), plus ``SLACK_BYTES`` for the pickle and RNG state.
"""

from __future__ import annotations

import functools
import io
import os
import zipfile

NETWORK_COPIES = 8
SLACK_BYTES = 64 * 2**20


class ArchiveTooLargeError(ValueError):
    """A weight file that declares more unpacked data than a kind weight file can hold."""


@functools.cache
def max_unpacked_bytes() -> int:
    """The most a kind weight file or training checkpoint can unpack to (module docstring)."""
    from kind.models import NETWORKS, build_network

    largest = max(sum(t.numel() * 4 for t in build_network(name).state_dict().values()) for name in NETWORKS)
    return NETWORK_COPIES * largest + SLACK_BYTES


def check_unpacked_size(data: bytes, path: str | os.PathLike) -> int:
    """The unpacked size the zip archive ``data`` declares; raises ArchiveTooLargeError, naming
    ``path``, above :func:`max_unpacked_bytes`. (A file that is no zip archive is left to the loader.)"""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return 0
    limit = max_unpacked_bytes()
    if total > limit:
        raise ArchiveTooLargeError(
            f"{os.fspath(path)}: unpacks to {total / 2**20:,.0f} MiB, more than any kind weight file or checkpoint "
            f"holds ({limit / 2**20:,.0f} MiB); refused before loading"
        )
    return total


__all__ = ["ArchiveTooLargeError", "NETWORK_COPIES", "SLACK_BYTES", "check_unpacked_size", "max_unpacked_bytes"]
