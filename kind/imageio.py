"""Image input and output for batch enhancement: read anything common, write PNG atomically.

Reading (`read_image`) returns RGB float32 in [0, 1] plus any alpha channel, kept apart and in the
source's own bit depth so that it can be carried over to the output unchanged. Every failure is an
`ImageReadError` naming the file and the reason; truncated files fail (the image is fully decoded,
and `ImageFile.LOAD_TRUNCATED_IMAGES` is never enabled).

16-bit images. Pillow 13 reads 16-bit grayscale at full depth (mode "I;16"), but has no 16-bit
colour mode: it opens 48-bit RGB and 64-bit RGBA PNG/TIFF as 8-bit "RGB"/"RGBA" keeping only the
high byte of each sample, and 16-bit gray+alpha PNG as 8-bit "RGBA". It says nothing about the loss.
`read_image` recovers the low bytes with a second decode of the same file whose raw mode picks the
other byte of each sample (Pillow's own C decoder does the unfiltering and decompression), so these
files are read exactly at 16 bits.

Writing: outputs are always 8-bit PNG (`save_png`), written through `kind.fileio.atomic_path` so that
no reader ever sees a half-written file. `to_uint8` is the official truncating conversion.
"""

from __future__ import annotations

import glob
import os
import re
import struct
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from kind.fileio import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")  # matched lower-cased
MAX_PIXELS = 200_000_000  # larger images are refused (decompression-bomb guard), ~ a 16k x 12k photo

# Pillow refuses images over 2 * MAX_IMAGE_PIXELS (~179 MP by default) before we could check
# ourselves; raise its limit so that `read_image`'s own `max_pixels` check is the one that applies.
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS

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

    rgb: float32 array H x W x 3 in [0, 1] (8-bit sources divided by 255, 16-bit by 65535).
    alpha: H x W array in the source's bit depth (uint8 or uint16), or None when there is none.
    bit_depth: 8 or 16, the source's bits per sample.
    path: the file it came from.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    path: Path


@dataclass(frozen=True)
class InputFile:
    """One input image: its path, and its path relative to the folder argument it came from (just
    the file name for file and glob arguments). ``root`` is the folder that was searched for it —
    the folder argument, or a glob match's folder — and None for a file named on its own."""

    path: Path
    relpath: Path
    root: Path | None = None


# ---------------------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Read PNG, JPEG, BMP, TIFF or WebP (8 or 16 bits) as RGB float32 in [0, 1] plus alpha.

    The EXIF orientation is applied first. Grayscale is replicated to three channels; palette
    images with transparency, LA and RGBA give an alpha channel; CMYK and 1-bit become RGB.

    >>> img = read_image("low/1.png")   # doctest: +SKIP
    >>> img.rgb.shape, img.rgb.dtype, img.bit_depth   # doctest: +SKIP
    ((400, 600, 3), dtype('float32'), 8)

    Raises ImageReadError (a ValueError) for a missing, empty, unreadable, truncated or corrupt file,
    for a format Pillow cannot decode, and for images over ``max_pixels`` pixels.
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
            with Image.open(path) as img:
                _check_size(path, img, max_pixels)
                rawmode = _rawmode(img)
                if rawmode in _LOW_BYTE_RAWMODE or rawmode == _LA16_RAWMODE:
                    rgb, alpha, depth = _read_wide(path, img, rawmode)
                else:
                    img.load()  # full decode: truncated or corrupt data fails here
                    rgb, alpha, depth = _to_arrays(path, ImageOps.exif_transpose(img))
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file, or a format Pillow cannot read") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(f"{path}: image too large ({err})") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except MemoryError:
        raise ImageReadError(f"{path}: not enough memory to decode the image") from None
    except _DECODE_ERRORS as err:
        raise ImageReadError(f"{path}: truncated or corrupt image data ({err})") from None

    scale = np.float32(255 if depth == 8 else 65535)
    rgb = rgb.astype(np.float32) / scale
    return LoadedImage(rgb=np.ascontiguousarray(rgb), alpha=alpha, bit_depth=depth, path=path)


def _check_size(path: Path, img: Image.Image, max_pixels: int) -> None:
    width, height = img.size
    if width * height > max_pixels:
        raise ImageReadError(
            f"{path}: image too large ({width} x {height} = {width * height} pixels, limit "
            f"{max_pixels}); refusing to decode it (decompression-bomb guard)"
        )


def _rawmode(img: Image.Image) -> str | None:
    """The raw mode of the image's first tile, before decoding (None when there is no tile)."""
    if not img.tile:
        return None
    args = img.tile[0][3]  # (codec, extents, offset, args); args is the raw mode or starts with it
    return args[0] if isinstance(args, tuple) else args


def _read_wide(path: Path, img: Image.Image, rawmode: str) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Read a 16-bit colour image that Pillow would narrow to 8 bits, at its full depth."""
    other = "RGBA" if rawmode == _LA16_RAWMODE else _LOW_BYTE_RAWMODE[rawmode]
    with Image.open(path) as second:
        if second.tile != img.tile:  # the file changed between the two opens
            raise ImageReadError(f"{path}: file changed while being read")
        second.tile = [_with_rawmode(tile, other) for tile in second.tile]
        second.load()
        second = ImageOps.exif_transpose(second)
        other_bytes = np.asarray(second, dtype=np.uint16)
    if rawmode == _LA16_RAWMODE:
        gray = other_bytes[..., 0] << 8 | other_bytes[..., 1]
        alpha = other_bytes[..., 2] << 8 | other_bytes[..., 3]
        return np.repeat(gray[..., None], 3, axis=2), alpha, 16
    img.load()
    high = np.asarray(ImageOps.exif_transpose(img), dtype=np.uint16)
    samples = high << 8 | other_bytes
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


def _to_arrays(path: Path, img: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(rgb H x W x 3 as uint8 or uint16, alpha H x W or None, bit depth) of a decoded image."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        gray = np.asarray(img)
        if mode == "I" and (gray.min(initial=0) < 0 or gray.max(initial=0) > 65535):
            raise ImageReadError(f"{path}: 32-bit integer image with values outside 0..65535 (not supported)")
        gray = gray.astype(np.uint16)
        return np.repeat(gray[..., None], 3, axis=2), _trns_alpha(img, gray, 16), 16
    if mode == "F":
        raise ImageReadError(f"{path}: 32-bit float images are not supported")
    if mode == "L" and "transparency" not in img.info:
        gray = np.asarray(img)
        return np.repeat(gray[..., None], 3, axis=2), None, 8
    if mode in ("LA", "La", "L"):  # L here has a tRNS colour key
        gray_alpha = np.asarray(img.convert("LA"))
        return np.repeat(gray_alpha[..., :1], 3, axis=2), gray_alpha[..., 1].copy(), 8
    if mode in ("RGBA", "RGBa", "PA") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"))
        return rgba[..., :3], rgba[..., 3].copy(), 8
    return np.asarray(img.convert("RGB")), None, 8


# ---------------------------------------------------------------------------------------- writing


def to_uint8(x: np.ndarray) -> np.ndarray:
    """The official output conversion: ``uint8(clip(x * 255, 0, 255))``, truncating, not rounding.

    x: float array (any float dtype) nominally in [0, 1]; values outside are clipped.

    >>> to_uint8(np.array([0.999 / 255, 0.5, 1.0, 1.7, -0.2]))
    array([  0, 127, 255, 255,   0], dtype=uint8)
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected a float array, got dtype {x.dtype}")
    if np.isnan(x).any():
        raise ValueError("expected finite values, got NaN")
    x = x.astype(np.result_type(x.dtype, np.float32), copy=False)
    return np.clip(x * 255, 0, 255).astype(np.uint8)


def save_png(
    path: str | os.PathLike, rgb_uint8: np.ndarray, alpha: np.ndarray | None = None, bit_depth: int = 8
) -> None:
    """Write an 8-bit RGB (or RGBA, with ``alpha``) PNG atomically: a temporary file, then rename.

    rgb_uint8: uint8 H x W x 3. alpha: H x W, uint8, or uint16 (scaled to 8 bits as
    ``round(a / 257)``). bit_depth: the output's bits per sample; outputs are always 8-bit PNG, so
    only 8 is accepted. If encoding fails, ``path`` is left as it was and no temporary file remains.
    """
    if bit_depth != 8:
        raise ValueError(f"expected bit_depth 8 (outputs are 8-bit PNG), got {bit_depth}")
    if not isinstance(rgb_uint8, np.ndarray) or rgb_uint8.dtype != np.uint8:
        raise TypeError(f"expected a uint8 numpy array, got {getattr(rgb_uint8, 'dtype', type(rgb_uint8))}")
    if rgb_uint8.ndim != 3 or rgb_uint8.shape[2] != 3:
        raise ValueError(f"expected rgb of shape H x W x 3, got {rgb_uint8.shape}")
    pixels = rgb_uint8
    if alpha is not None:
        if alpha.shape != rgb_uint8.shape[:2]:
            raise ValueError(f"expected alpha of shape {rgb_uint8.shape[:2]}, got {alpha.shape}")
        if alpha.dtype == np.uint16:
            alpha = ((alpha.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)  # round(a / 257)
        elif alpha.dtype != np.uint8:
            raise TypeError(f"expected alpha of dtype uint8 or uint16, got {alpha.dtype}")
        pixels = np.concatenate([rgb_uint8, alpha[..., None]], axis=2)
    image = Image.fromarray(np.ascontiguousarray(pixels), mode="RGBA" if alpha is not None else "RGB")
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


# ---------------------------------------------------------------------------------------- inputs


def natural_key(text: str) -> tuple[object, ...]:
    """Sort key that orders digit runs by value: ``"2" < "10"``, ``"img2" < "img10"``.

    ``re.split`` with a capturing group alternates text and digits, starting with text, so the
    tuples compare text with text and int with int.
    """
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))


def output_relpath(relpath: str | os.PathLike) -> Path:
    """The output path relative to the output folder: the input's relpath with suffix ``.png``."""
    return Path(relpath).with_suffix(".png")


def collect_inputs(inputs: list[str]) -> list[InputFile]:
    """Expand file, folder and glob arguments into the list of images to process.

    A folder is searched recursively (sorted; hidden files and folders skipped; only
    IMAGE_SUFFIXES); its files get relpaths relative to it. A file or glob match gets its name as
    relpath; glob matches that are folders or not images are skipped. The same file reached twice
    appears once.

    Raises FileNotFoundError for an argument that matches no image, ValueError for a file argument
    without an image suffix, and ValueError when two inputs would write the same output file.
    """
    found: list[InputFile] = []
    seen: set[Path] = set()
    for arg in inputs:
        candidates = _expand(arg)
        if not candidates:
            raise FileNotFoundError(f"input {arg!r} matches no image files")
        for item in candidates:
            key = item.path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(item)

    by_output: dict[str, list[InputFile]] = {}
    for item in found:  # compared case-folded: X.png and x.png are one file on macOS and Windows
        by_output.setdefault(output_relpath(item.relpath).as_posix().casefold(), []).append(item)
    clashes = [group for group in by_output.values() if len(group) > 1]
    if clashes:
        lines = [
            f"{output_relpath(group[0].relpath)} <- " + ", ".join(str(item.path) for item in group)
            for group in clashes
        ]
        raise ValueError("inputs that would write the same output file:\n  " + "\n  ".join(lines))
    return found


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _expand(arg: str) -> list[InputFile]:
    path = Path(arg)
    if path.is_file():
        if not _is_image_name(path):
            suffixes = ", ".join(IMAGE_SUFFIXES)
            raise ValueError(f"input {arg!r} is not an image file (expected a suffix among {suffixes})")
        return [InputFile(path=path, relpath=Path(path.name))]
    if path.is_dir():
        return _walk_folder(path)
    matches = sorted(Path(match) for match in glob.glob(arg, recursive=True))
    return [InputFile(m, Path(m.name), m.parent) for m in matches if m.is_file() and _is_image_name(m)]


def _walk_folder(root: Path) -> list[InputFile]:
    files = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            if not name.startswith(".") and _is_image_name(Path(name)):
                path = Path(folder, name)
                files.append(InputFile(path, path.relative_to(root), root))
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
    "MAX_PIXELS",
    "ImageReadError",
    "InputFile",
    "LoadedImage",
    "collect_inputs",
    "make_panel",
    "natural_key",
    "output_relpath",
    "read_image",
    "save_png",
    "to_uint8",
]
