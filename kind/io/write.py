"""Writing images atomically: PNG, JPEG, TIFF or WebP, 8 or 16 bits, with alpha, EXIF and ICC carried over.

Pillow has no 16-bit colour mode, so 16-bit PNG and TIFF are written here (PNG chunks with zlib;
a baseline TIFF whose tags Pillow's ``ImageFileDirectory_v2`` packs). Every file goes through
:func:`kind.io.atomic.atomic_path`, so that no reader ever sees a half-written file.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, TiffImagePlugin

from kind.constants import DEFAULT_QUALITY, LOSSY_FORMATS, OUTPUT_FORMATS
from kind.io.atomic import atomic_path


def save_png(path: str | os.PathLike, rgb_uint8: np.ndarray, alpha: np.ndarray | None = None) -> None:
    """Write an 8-bit RGB (or RGBA) PNG atomically: :func:`save_image` with ``format="png"``."""
    if not isinstance(rgb_uint8, np.ndarray) or rgb_uint8.dtype != np.uint8:
        raise TypeError(f"expected a uint8 numpy array, got {getattr(rgb_uint8, 'dtype', type(rgb_uint8))}")
    save_image(path, rgb_uint8, alpha)


def save_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    format: str = "png",
    quality: int = DEFAULT_QUALITY,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
) -> None:
    """Write an image atomically (a temporary file, then rename), in ``format`` (``OUTPUT_FORMATS``).

    rgb: H×W×3 uint8, or uint16 for a 16-bit PNG or TIFF. alpha: H×W uint8 or uint16 (converted to
    the output's depth: ``round(a / 257)`` or ``a · 257``), or None; JPEG has no alpha channel.
    quality: 1-100, for JPEG and WebP. exif, icc_profile: metadata blocks to embed, or None. If
    encoding fails, ``path`` is left as it was and no temporary file remains.
    """
    if format not in OUTPUT_FORMATS:
        raise ValueError(f"format: expected one of {', '.join(OUTPUT_FORMATS)}, got {format!r}")
    if not isinstance(rgb, np.ndarray) or rgb.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"expected a uint8 or uint16 numpy array, got {getattr(rgb, 'dtype', type(rgb))}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected rgb of shape H x W x 3, got {rgb.shape}")
    if rgb.dtype == np.uint16 and format not in ("png", "tiff"):
        raise ValueError(f"16-bit output: PNG or TIFF only, not {format}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality: expected 1 to 100, got {quality}")
    if alpha is not None:
        if format == "jpg":
            raise ValueError("JPEG has no alpha channel; drop it, or write PNG, TIFF or WebP")
        if alpha.shape != rgb.shape[:2]:
            raise ValueError(f"expected alpha of shape {rgb.shape[:2]}, got {alpha.shape}")
        if alpha.dtype not in (np.uint8, np.uint16):
            raise TypeError(f"expected alpha of dtype uint8 or uint16, got {alpha.dtype}")
        alpha = convert_alpha(alpha, rgb.dtype)
    with atomic_path(path) as tmp:
        if rgb.dtype == np.uint16:
            with open(tmp, "wb") as file:
                (_write_png16 if format == "png" else _write_tiff16)(file, rgb, alpha, exif, icc_profile)
            return
        pixels = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=2)
        image = Image.fromarray(np.ascontiguousarray(pixels), mode="RGBA" if alpha is not None else "RGB")
        options: dict = {"quality": quality} if format in LOSSY_FORMATS else {}
        if exif:
            options["exif"] = exif
        if icc_profile:
            options["icc_profile"] = icc_profile
        image.save(tmp, format="JPEG" if format == "jpg" else format.upper(), **options)


def convert_alpha(alpha: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """An alpha channel in another depth: uint8 → uint16 as ``a · 257``, uint16 → uint8 as ``round(a / 257)``."""
    if alpha.dtype == dtype:
        return alpha
    if dtype == np.uint16:
        return alpha.astype(np.uint16) * 257
    return ((alpha.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)  # round(a / 257)


ROWS_A_CHUNK = 256  # 16-bit writers convert and compress this many rows at a time


def _samples(rgb: np.ndarray, alpha: np.ndarray | None, top: int, bottom: int, order: str) -> bytes:
    rows = rgb[top:bottom] if alpha is None else np.concatenate([rgb[top:bottom], alpha[top:bottom, :, None]], axis=2)
    return rows.astype(order + "u2").tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _write_png16(file: BinaryIO, rgb: np.ndarray, alpha: np.ndarray | None, exif: bytes | None, icc: bytes | None) -> None:
    """A 16-bit RGB (colour type 2) or RGBA (6) PNG, with iCCP and eXIf chunks when given."""
    height, width = rgb.shape[:2]
    file.write(b"\x89PNG\r\n\x1a\n")
    file.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2 if alpha is None else 6, 0, 0, 0)))
    if icc:
        file.write(_png_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc)))
    if exif:
        file.write(_png_chunk(b"eXIf", exif.removeprefix(b"Exif\0\0")))
    compressor = zlib.compressobj()
    for top in range(0, height, ROWS_A_CHUNK):
        bottom = min(top + ROWS_A_CHUNK, height)
        rows = np.frombuffer(_samples(rgb, alpha, top, bottom, ">"), np.uint8).reshape(bottom - top, -1)
        filtered = np.concatenate([np.zeros((bottom - top, 1), np.uint8), rows], axis=1)  # filter 0: none
        data = compressor.compress(filtered.tobytes())
        if data:
            file.write(_png_chunk(b"IDAT", data))
    file.write(_png_chunk(b"IDAT", compressor.flush()))
    file.write(_png_chunk(b"IEND", b""))


def _write_tiff16(file: BinaryIO, rgb: np.ndarray, alpha: np.ndarray | None, exif: bytes | None, icc: bytes | None) -> None:
    """A baseline little-endian TIFF, uncompressed, 16 bits a sample, one strip; the EXIF's tags
    (its Exif and GPS sub-IFDs included) and the ICC profile (tag 34675) in its IFD."""
    height, width = rgb.shape[:2]
    channels = 3 if alpha is None else 4
    size = height * width * channels * 2
    if size >= 2**32:
        raise ValueError(f"16-bit TIFF: {size:,} bytes of pixels do not fit a baseline TIFF (4 GB)")
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    if exif:
        source = Image.Exif()
        source.load(exif)
        for tag, value in source.items():
            is_sub_ifd = tag in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo)
            ifd[tag] = source.get_ifd(tag) if is_sub_ifd else value
    image_tags = {
        256: (width, 4), 257: (height, 4), 258: ((16,) * channels, 3), 259: (1, 3), 262: (2, 3),
        # StripOffsets 0: ImageFileDirectory_v2.tobytes adds the end of the IFD, where the pixels go
        273: (0, 4), 277: (channels, 3), 278: (height, 4), 279: (size, 4), 284: (1, 3),
    }  # fmt: skip
    if alpha is not None:
        image_tags[338] = (2, 3)  # ExtraSamples: unassociated alpha
    if icc:
        image_tags[34675] = (icc, 7)
    for tag, (value, kind) in image_tags.items():
        ifd[tag] = value
        ifd.tagtype[tag] = kind
    file.write(b"II*\0" + struct.pack("<I", 8))
    file.write(ifd.tobytes(8))
    for top in range(0, height, ROWS_A_CHUNK):
        file.write(_samples(rgb, alpha, top, min(top + ROWS_A_CHUNK, height), "<"))
