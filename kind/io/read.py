"""Reading images: anything common, 8 or 16 bits, EXIF-rotated, the first frame of an animation.

Reading (`read_image`) returns the RGB samples as stored (uint8 or uint16 H×W×3) plus any alpha
channel, kept apart and in the source's own bit depth so that it can be carried over to the output
unchanged, and the EXIF (orientation reset, as the pixels are turned upright) and ICC profile for
the output. Every failure is an `ImageReadError` naming the file and the reason; truncated files
fail (the image is fully decoded, and `ImageFile.LOAD_TRUNCATED_IMAGES` is never enabled). Images
over ``max_pixels`` are refused from their header, before anything is decoded. Animated GIF and
WebP files give their first frame, and say how many frames they hold (``frames``).

16-bit images. Pillow 13 reads 16-bit grayscale at full depth (mode "I;16"), but has no 16-bit
colour mode: it opens 48-bit RGB and 64-bit RGBA PNG/TIFF as 8-bit "RGB"/"RGBA" keeping only the
high byte of each sample, and 16-bit gray+alpha PNG as 8-bit "RGBA". It says nothing about the loss.
`read_image` recovers the low bytes with a second decode of the same file whose raw mode picks the
other byte of each sample (Pillow's own C decoder does the unfiltering and decompression), so these
files are read exactly at 16 bits (:mod:`kind.io.write` writes them).

Nothing here changes a process-wide setting: Pillow's own decompression-bomb limit
(``PIL.Image.MAX_IMAGE_PIXELS``, about 179 MP before it refuses) is left as it is, and an image
that exceeds it is reported as such; :func:`kind.tune_process` raises it for the ``kind`` commands.
Nor are warning filters touched (they are process-wide, and images are read on worker threads):
Pillow's ``DecompressionBombWarning`` for an image over its limit reaches the caller's filters.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kind.constants import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES
from kind.io.formats import UnsupportedFormatError, header_size, open_image

ORIENTATION = 0x0112  # the EXIF orientation tag

_NATIVE = "L" if sys.byteorder == "little" else "B"
# Raw modes with 16 bits a sample that Pillow narrows to 8 bits (keeping the high byte), mapped to
# the raw mode of the same width that keeps the low byte instead.
_LOW_BYTE_RAWMODE = {
    "RGB;16B": "RGB;16L",
    "RGB;16L": "RGB;16B",
    "RGB;16N": "RGB;16B" if _NATIVE == "L" else "RGB;16L",
    "RGBA;16B": "RGBA;16L",
    "RGBA;16L": "RGBA;16B",
    "RGBA;16N": "RGBA;16B" if _NATIVE == "L" else "RGBA;16L",
}
# 16-bit gray+alpha PNG: Pillow decodes "LA;16B" into RGBA. Re-read as plain 8-bit "RGBA" (also
# 32 bits a pixel), the four bytes come back untouched: L high, L low, A high, A low.
_LA16_RAWMODE = "LA;16B"
# What Pillow raises on truncated or corrupt data, depending on the format.
_PILLOW_ERRORS = (OSError, SyntaxError, EOFError, IndexError, struct.error, zlib.error)  # what a damaged file makes Pillow raise
_DECODE_ERRORS = (*_PILLOW_ERRORS, ValueError)


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file and the reason."""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image.

    samples: H×W×3 RGB as stored, uint8 (8-bit sources) or uint16 (16-bit sources).
    alpha: H×W array in the source's bit depth (uint8 or uint16), or None when there is none.
    bit_depth: 8 or 16, the source's bits per sample.
    path: the file it came from.
    exif: the EXIF block with its orientation reset to 1 (None without EXIF).
    icc_profile: the embedded ICC profile (None without one).
    frames: how many frames the file holds (animated GIF/WebP); ``samples`` is the first.
    """

    samples: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    path: Path
    exif: bytes | None = None
    icc_profile: bytes | None = None
    frames: int = 1

    @property
    def rgb(self) -> np.ndarray:
        """RGB float32 H×W×3 in [0, 1]: 8-bit samples divided by 255, 16-bit by 65535 (a new array)."""
        return self.samples.astype(np.float32) / np.float32(sample_scale(self.samples))


def as_uint8(samples: np.ndarray) -> np.ndarray:
    """uint8 samples as they are; uint16 samples as ``⌊s · 255 / 65535⌋`` (for previews and panels)."""
    if samples.dtype == np.uint8:
        return samples
    return (samples.astype(np.uint32) * 255 // 65535).astype(np.uint8)


def sample_scale(samples: np.ndarray) -> int:
    """The value of white for integer samples: 255 for uint8, 65535 for uint16."""
    if samples.dtype == np.uint8:
        return 255
    if samples.dtype == np.uint16:
        return 65535
    raise TypeError(f"expected uint8 or uint16 samples, got {samples.dtype}")


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read PNG, JPEG, BMP, TIFF, WebP or GIF (8 or 16 bits): RGB samples, alpha and metadata.

    The EXIF orientation is applied first. Grayscale is replicated to three channels; palette
    images with transparency, LA and RGBA give an alpha channel; CMYK and 1-bit become RGB. An
    animated file gives its first frame (``frames`` says how many it holds).

    >>> img = read_image("low/1.png")   # doctest: +SKIP
    >>> img.samples.shape, img.samples.dtype, img.rgb.dtype, img.bit_depth   # doctest: +SKIP
    ((400, 600, 3), dtype('uint8'), dtype('float32'), 8)

    Raises ImageReadError (a ValueError) for a missing, empty, unreadable, truncated or corrupt file,
    for a format Pillow cannot decode, and for images over ``max_pixels`` pixels (from the header,
    before decoding).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except OSError as err:
        raise ImageReadError(f"{path}: cannot access file ({err.strerror or err})") from None
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image file")
    if size == 0:
        raise ImageReadError(f"{path}: file is empty (0 bytes)")

    size = header_size(path)
    if size is not None:  # kind's limit first: Pillow's own may refuse larger images, quoting its number
        check_size(path, size, max_pixels)
    try:
        with open_image(path) as img:
            check_size(path, img.size, max_pixels)
            frames = getattr(img, "n_frames", 1)
            rawmode = _rawmode(img)
            if rawmode in _LOW_BYTE_RAWMODE or rawmode == _LA16_RAWMODE:
                rgb, alpha, depth = _read_wide(path, img, rawmode)
            else:
                img.load()  # full decode: truncated or corrupt data fails here
                ImageOps.exif_transpose(img, in_place=True)
                rgb, alpha, depth = image_samples(img, path)
            exif, icc = _metadata(img)
    except ImageReadError:
        raise
    except UnsupportedFormatError as err:
        raise ImageReadError(str(err)) from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file, or a format Pillow cannot read") from None
    except Image.DecompressionBombError:  # within max_pixels, but over twice Pillow's own limit
        width, height = size or (0, 0)
        raise ImageReadError(
            f"{path}: image too large for Pillow ({width} x {height} = {width * height:,} pixels, over twice "
            f"PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,}); the kind commands raise Pillow's limit to "
            "their --max-pixels; in Python, kind.tune_process(max_image_pixels=N) does"
        ) from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except MemoryError:
        raise ImageReadError(f"{path}: not enough memory to decode the image") from None
    except _DECODE_ERRORS as err:
        raise ImageReadError(f"{path}: truncated or corrupt image data ({err})") from None
    return LoadedImage(np.ascontiguousarray(rgb), alpha, depth, path, exif, icc, frames)


def header_pixels(path: str | os.PathLike) -> int:
    """Width × height from an image file's header, however large (0 when it cannot be read: the
    decoder will say why)."""
    size = header_size(path)
    return 0 if size is None else size[0] * size[1]


def check_size(name: object, size: tuple[int, int], max_pixels: int) -> None:
    """Raise ImageReadError when an image of ``size`` (width, height) has over ``max_pixels`` pixels."""
    width, height = size
    if width * height > max_pixels:
        raise ImageReadError(
            f"{name}: image too large ({width} x {height} = {width * height:,} pixels, limit "
            f"{max_pixels:,}); refused before any work (--max-pixels / max_pixels raises the limit)"
        )


def _metadata(img: Image.Image) -> tuple[bytes | None, bytes | None]:
    """(EXIF with the orientation reset to 1, ICC profile) of a loaded image, None where absent."""
    icc = img.info.get("icc_profile") or None
    exif = img.getexif()
    if not len(exif):
        return None, icc
    if ORIENTATION in exif:
        exif[ORIENTATION] = 1
    return exif.tobytes(), icc


def _rawmode(img: Image.Image) -> str | None:
    """The raw mode of the image's first tile, before decoding (None when there is no tile)."""
    if not img.tile:
        return None
    args = img.tile[0][3]  # (codec, extents, offset, args); args is the raw mode or starts with it
    return args[0] if isinstance(args, tuple) else args


def _read_wide(path: Path, img: Image.Image, rawmode: str) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Read a 16-bit colour image that Pillow would narrow to 8 bits, at its full depth."""
    other = "RGBA" if rawmode == _LA16_RAWMODE else _LOW_BYTE_RAWMODE[rawmode]
    with open_image(path) as second:
        if second.tile != img.tile:  # the file changed between the two opens
            raise ImageReadError(f"{path}: file changed while being read")
        second.tile = [_with_rawmode(tile, other) for tile in second.tile]
        second.load()
        ImageOps.exif_transpose(second, in_place=True)
        other_bytes = np.asarray(second, dtype=np.uint16)
    if rawmode == _LA16_RAWMODE:
        gray = other_bytes[..., 0] << 8 | other_bytes[..., 1]
        alpha = other_bytes[..., 2] << 8 | other_bytes[..., 3]
        return np.repeat(gray[..., None], 3, axis=2), alpha, 16
    img.load()
    ImageOps.exif_transpose(img, in_place=True)
    samples = np.asarray(img, dtype=np.uint16) << 8 | other_bytes
    rgb = samples[..., :3]
    alpha = samples[..., 3] if samples.shape[2] == 4 else _trns_alpha(img, rgb, 16)
    return rgb, alpha, 16


def _with_rawmode(tile: tuple, rawmode: str) -> tuple:
    """A copy of a tile (a plain tuple before Pillow 11, a named tuple since) with another raw mode."""
    codec, extents, offset, args = tile
    args = (rawmode, *args[1:]) if isinstance(args, tuple) else rawmode
    return tile._replace(args=args) if hasattr(tile, "_replace") else (codec, extents, offset, args)


def _trns_alpha(img: Image.Image, samples: np.ndarray, depth: int) -> np.ndarray | None:
    """Alpha from a PNG tRNS colour key on a 16-bit gray or RGB image (None without one)."""
    key = img.info.get("transparency")
    if not isinstance(key, (int, tuple)):
        return None
    dtype = np.uint16 if depth == 16 else np.uint8
    match = samples == np.asarray(key) if samples.ndim == 2 else np.all(samples == np.asarray(key), axis=2)
    return np.where(match, 0, np.iinfo(dtype).max).astype(dtype)


def image_samples(img: Image.Image, name: object = "image") -> tuple[np.ndarray, np.ndarray | None, int]:
    """(RGB samples H×W×3 uint8 or uint16, alpha H×W or None, bit depth) of a decoded Pillow image
    (its current frame, as it stands: no EXIF rotation here). ``name`` is used in error messages."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        gray = np.asarray(img)
        if mode == "I" and (gray.min(initial=0) < 0 or gray.max(initial=0) > 65535):
            raise ImageReadError(f"{name}: 32-bit integer image with values outside 0..65535 (not supported)")
        gray = gray.astype(np.uint16)
        return np.repeat(gray[..., None], 3, axis=2), _trns_alpha(img, gray, 16), 16
    if mode == "F":
        raise ImageReadError(f"{name}: 32-bit float images are not supported")
    if mode == "L" and "transparency" not in img.info:
        gray = np.asarray(img)
        return np.repeat(gray[..., None], 3, axis=2), None, 8
    if mode in ("LA", "La", "L"):  # L here has a tRNS colour key
        gray_alpha = np.asarray(img.convert("LA"))
        return np.repeat(gray_alpha[..., :1], 3, axis=2), gray_alpha[..., 1].copy(), 8
    if mode in ("RGBA", "RGBa", "PA") or "transparency" in img.info:
        rgba = np.asarray(img if mode == "RGBA" else img.convert("RGBA"))
        return rgba[..., :3], rgba[..., 3].copy(), 8
    return np.asarray(img if mode == "RGB" else img.convert("RGB")), None, 8



def read_stored_rgb8(path: Path) -> np.ndarray:
    """An image file's 8-bit RGB view as stored, H×W×3 uint8 (grey, palette and alpha converted; no
    EXIF rotation; a 48-bit file gives its high bytes), for scoring files as the field's metric code
    reads them. 16-bit grey is refused (ValueError) rather than cut to 8 bits; :func:`read_image`
    reads it at 16 bits."""
    try:
        with open_image(path) as img:
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                raise ValueError(f"cannot score {path}: expected an 8-bit image, got mode {img.mode}")
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except UnsupportedFormatError as err:  # its message starts with the path
        raise ValueError(f"cannot read image {err}") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, *_PILLOW_ERRORS) as err:
        raise ValueError(f"cannot read image {path}: {err}") from err


__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "LoadedImage",
    "as_uint8",
    "check_size",
    "header_pixels",
    "image_samples",
    "read_image",
    "read_stored_rgb8",
    "sample_scale",
]
