"""Open image files in the formats kind promises, and in no other.

Pillow identifies a file by its content, whatever its name, and knows formats whose decoders run
other programs (PostScript and EPS hand the file to Ghostscript) or are rarely exercised. Every
reader in kind opens files through :func:`open_image`, which lets Pillow try only
``READ_FORMATS`` (PNG, JPEG, BMP, TIFF, WebP, GIF): a file whose content is anything else — a
PostScript file named ``evil.png`` included — is refused with :class:`UnsupportedFormatError`,
naming the file, before any decoder of another format is run. Only regular files are opened.
"""

from __future__ import annotations

import os
import stat

from PIL import Image, UnidentifiedImageError

READ_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF")  # Pillow's format names, as the README promises
FORMAT_NAMES = "PNG, JPEG, BMP, TIFF, WebP or GIF"


class UnsupportedFormatError(ValueError):
    """A file whose content is not one of ``READ_FORMATS``; the message names the file."""


def open_image(path: str | os.PathLike) -> Image.Image:
    """``PIL.Image.open(path)`` restricted to ``READ_FORMATS`` (lazy, as Pillow's: nothing decoded yet).

    Raises UnsupportedFormatError when the content is another format or no image at all (whatever
    the file's suffix), or the path is not a regular file (a FIFO would block the reader forever);
    OSError for a file that cannot be opened.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        raise UnsupportedFormatError(f"{os.fspath(path)}: {what}; only regular files are read")
    try:
        return Image.open(path, formats=READ_FORMATS)
    except UnidentifiedImageError:
        raise UnsupportedFormatError(
            f"{os.fspath(path)}: not an image in a format kind reads ({FORMAT_NAMES}, identified by the "
            "content, not the name)"
        ) from None


def header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the header of an image in ``READ_FORMATS``, read the way
    :func:`open_image` identifies it but without Pillow's decompression-bomb check (so that kind's
    own ``--max-pixels`` is the limit a refusal names, not Pillow's); None for anything else (not a
    regular file, another format, unreadable: :func:`open_image` then says why)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as fp:
            prefix = fp.read(16)
            Image.init()
            for name in READ_FORMATS:
                factory, accept = Image.OPEN[name]
                accepted = accept(prefix) if accept else True
                if isinstance(accepted, str) or not accepted:  # a string: Pillow's reason to refuse
                    continue
                fp.seek(0)
                try:
                    return factory(fp, os.fspath(path)).size
                except Exception:  # noqa: BLE001 - not this format, or unreadable: open_image says which
                    continue
    except OSError:
        return None
    return None


__all__ = ["FORMAT_NAMES", "READ_FORMATS", "UnsupportedFormatError", "header_size", "open_image"]
