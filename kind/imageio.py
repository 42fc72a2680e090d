"""Image input and output: read anything common, write PNG, JPEG, TIFF or WebP atomically.

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
files are read exactly at 16 bits. For the same reason `save_image` writes 16-bit PNG and TIFF
itself (PNG chunks with zlib; a baseline TIFF whose tags Pillow's ``ImageFileDirectory_v2`` packs).

Writing goes through `kind.fileio.atomic_path`, so that no reader ever sees a half-written file.
`to_uint8` / `to_uint16` are the official truncating conversion.

Nothing here changes a process-wide setting: Pillow's own decompression-bomb limit
(``PIL.Image.MAX_IMAGE_PIXELS``, about 179 MP before it refuses) is left as it is, and an image
that exceeds it is reported as such; :func:`kind.tune_process` raises it for the ``kind`` commands.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
import struct
import sys
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageFont, ImageOps, TiffImagePlugin, UnidentifiedImageError

from kind.constants import DEFAULT_MAX_PIXELS, DEFAULT_QUALITY, IMAGE_SUFFIXES, LOSSY_FORMATS, OUTPUT_FORMATS
from kind.fileio import atomic_path
from kind.image_open import UnsupportedFormatError, open_image

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
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


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


@dataclass(frozen=True)
class InputFile:
    """One input image: its path, and its path relative to the folder argument it came from (just
    the file name for file and glob arguments). ``root`` is the folder that was searched for it —
    the folder argument, or a glob match's folder — and None for a file named on its own."""

    path: Path
    relpath: Path
    root: Path | None = None


# ---------------------------------------------------------------------------------------- reading


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

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
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
    except Image.DecompressionBombError as err:
        raise ImageReadError(
            f"{path}: image too large ({err}); refused before decoding. The kind commands take a larger "
            "--max-pixels; in Python, kind.tune_process(max_image_pixels=N) raises Pillow's own limit"
        ) from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except MemoryError:
        raise ImageReadError(f"{path}: not enough memory to decode the image") from None
    except _DECODE_ERRORS as err:
        raise ImageReadError(f"{path}: truncated or corrupt image data ({err})") from None
    return LoadedImage(np.ascontiguousarray(rgb), alpha, depth, path, exif, icc, frames)


def header_pixels(path: str | os.PathLike) -> int:
    """Width × height from an image file's header (0 when it cannot be read: the decoder will say why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with open_image(path) as img:
                return img.width * img.height
    except Exception:  # noqa: BLE001 - any failure is the decoder's to report
        return 0


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


# ---------------------------------------------------------------------------------------- writing


def _truncate(x: np.ndarray, white: int, dtype: type) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected a float array, got dtype {x.dtype}")
    if np.isnan(x).any():
        raise ValueError("expected finite values, got NaN")
    x = x.astype(np.result_type(x.dtype, np.float32), copy=False)
    return np.clip(x * white, 0, white).astype(dtype)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """The official output conversion: ``uint8(clip(x * 255, 0, 255))``, truncating, not rounding.

    x: float array (any float dtype) nominally in [0, 1]; values outside are clipped.

    >>> to_uint8(np.array([0.999 / 255, 0.5, 1.0, 1.7, -0.2]))
    array([  0, 127, 255, 255,   0], dtype=uint8)
    """
    return _truncate(x, 255, np.uint8)


def to_uint16(x: np.ndarray) -> np.ndarray:
    """The same conversion to 16 bits: ``uint16(clip(x * 65535, 0, 65535))``, truncating."""
    return _truncate(x, 65535, np.uint16)


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


# ---------------------------------------------------------------------------------------- inputs


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


def collect_inputs(inputs: list[str]) -> tuple[list[InputFile], list[str]]:
    """Expand file, folder and glob arguments into the images to process, and notices of what was
    passed over.

    A folder is searched recursively (sorted; hidden files and folders skipped; only
    IMAGE_SUFFIXES), following links to folders: a link to a folder already searched (a loop, or a
    second way into the same folder) is skipped with a notice, as is a folder that cannot be read;
    files without an image suffix are counted in a notice. Folder files get relpaths relative to
    it. A file or glob match gets its name as relpath; glob matches that are folders or not images
    are skipped. The same file reached twice appears once.

    Raises FileNotFoundError for an argument that matches no image and ValueError for a file
    argument without an image suffix.
    """
    found: list[InputFile] = []
    notices: list[str] = []
    seen: set[Path] = set()
    for arg in inputs:
        candidates = _expand(arg, notices)
        if not candidates:
            raise FileNotFoundError(f"input {arg!r} matches no image files")
        for item in candidates:
            key = item.path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(item)
    return found, notices


def is_image_name(path: Path) -> bool:
    """Whether ``path`` has one of ``IMAGE_SUFFIXES`` (any case)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def _expand(arg: str, notices: list[str]) -> list[InputFile]:
    path = Path(arg)
    if path.is_file():
        if not is_image_name(path):
            suffixes = ", ".join(IMAGE_SUFFIXES)
            raise ValueError(f"input {arg!r} is not an image file (expected a suffix among {suffixes})")
        return [InputFile(path=path, relpath=Path(path.name))]
    if path.is_dir():
        return _walk_folder(path, notices)
    if path.exists() and glob.escape(arg) == arg:
        raise ValueError(f"input {arg!r} is not a regular file (a FIFO, socket or device); only regular files are read")
    matches = sorted(_glob(arg, notices))
    return [InputFile(m, Path(m.name), m.parent) for m in matches if _is_regular(m) and is_image_name(m)]


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


def _walk_folder(root: Path, notices: list[str]) -> list[InputFile]:
    files = []
    others: Counter[str] = Counter()
    for path in _walk(root, notices):
        if not is_image_name(path):
            others[path.suffix.lower() or "(no suffix)"] += 1
        elif not _is_regular(path):
            notices.append(f"{path}: skipped, not a regular file (a FIFO, socket or device)")
        else:
            files.append(InputFile(path, path.relative_to(root), root))
    if others:
        kinds = ", ".join(f"{count} {suffix}" for suffix, count in sorted(others.items()))
        count = sum(others.values())
        notices.append(f"{root}: {count} file{'s' if count > 1 else ''} without an image suffix skipped ({kinds})")
    return sorted(files, key=lambda item: item.relpath.parts)


# ---------------------------------------------------------------------------------------- panels


def make_panel(images: list[np.ndarray], labels: list[str] | None = None, gap: int = 8) -> np.ndarray:
    """Place uint8 H x W x 3 images side by side on white, ``gap`` pixels apart.

    Shorter images are padded at the bottom to the tallest height. With ``labels`` (one a image),
    a strip above holds each label in Pillow's default font. Returns uint8 (strip + H) x W_total x 3.

    >>> make_panel([np.zeros((4, 5, 3), np.uint8), np.zeros((6, 2, 3), np.uint8)], gap=1).shape
    (6, 8, 3)
    """
    if not images:
        raise ValueError("expected at least one image, got none")
    for index, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            raise TypeError(f"expected uint8 arrays, got {getattr(image, 'dtype', type(image))} at {index}")
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected H x W x 3 images, got {image.shape} at {index}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"expected {len(images)} labels, got {len(labels)}")
    if gap < 0:
        raise ValueError(f"expected gap >= 0, got {gap}")

    font = ImageFont.load_default()
    strip = 0
    if labels is not None:
        text_height = max(_text_size(font, label)[1] for label in labels)
        strip = text_height + 6 if any(labels) else 0
    height = max(image.shape[0] for image in images)
    width = sum(image.shape[1] for image in images) + gap * (len(images) - 1)
    panel = np.full((strip + height, width, 3), 255, dtype=np.uint8)
    x = 0
    for image in images:
        h, w = image.shape[:2]
        panel[strip : strip + h, x : x + w] = image
        x += w + gap
    if strip:
        canvas = Image.fromarray(panel)
        draw = ImageDraw.Draw(canvas)
        x = 0
        for image, label in zip(images, labels):
            draw.text((x + 2, 3), label, fill=(0, 0, 0), font=font)
            x += image.shape[1] + gap
        panel = np.asarray(canvas).copy()
    return panel


def _text_size(font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
    if not text:
        return 0, 0
    left, top, right, bottom = font.getbbox(text)
    return right - left, bottom


__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "InputFile",
    "LoadedImage",
    "as_uint8",
    "check_size",
    "convert_alpha",
    "collect_inputs",
    "header_pixels",
    "image_samples",
    "is_image_name",
    "make_panel",
    "natural_key",
    "output_relpath",
    "read_image",
    "sample_scale",
    "save_image",
    "save_png",
    "to_uint8",
    "to_uint16",
]
