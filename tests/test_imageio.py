"""Tests for kind.io.read. Every fixture is generated in tmp_path."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kind.imageops import to_uint16, to_uint8
from kind.io.inputs import collect_inputs, output_relpath
from kind.io.panels import make_panel
from kind.io.read import ImageReadError, read_image
from kind.io.write import save_image, save_png

RNG = np.random.default_rng(0)
RGB8 = RNG.integers(0, 256, (6, 7, 3), dtype=np.uint8)
GRAY8 = RNG.integers(0, 256, (6, 7), dtype=np.uint8)
ALPHA8 = RNG.integers(0, 256, (6, 7), dtype=np.uint8)
RGBA16 = RNG.integers(0, 65536, (6, 7, 4), dtype=np.uint16)
GRAY16, RGB16 = RGBA16[..., 0], RGBA16[..., :3]
BITS = GRAY8 > 127
PALETTE = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]])
SMOOTH = np.broadcast_to(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], (16, 16, 3)).copy()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png16(samples: np.ndarray, color_type: int, extra_chunks: bytes = b"") -> bytes:
    """A 16-bit PNG (Pillow cannot write 16-bit colour), rows cycling through filters None/Sub/Up."""
    height, width = samples.shape[:2]
    rows = samples.astype(">u2").reshape(height, -1).view(np.uint8).reshape(height, -1)
    bpp = rows.shape[1] // width
    raw = b""
    for y, row in enumerate(rows):
        kind = y % 3
        if kind == 1:  # Sub: minus the byte one pixel to the left
            row = row - np.concatenate([np.zeros(bpp, np.uint8), row[:-bpp]])
        elif kind == 2:  # Up: minus the byte above
            row = row - rows[y - 1]
        raw += bytes([kind]) + row.astype(np.uint8).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + extra_chunks
        + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    )


def _tiff16(samples: np.ndarray, endian: str, compression: int) -> bytes:
    """A single-strip 16-bit RGB(A) TIFF (1: uncompressed, 8: deflate), little or big endian."""
    height, width, channels = samples.shape
    data = samples.astype(endian + "u2").tobytes()
    data = zlib.compress(data) if compression == 8 else data
    bits_at = 8 + 2 + 12 * 10 + 4
    data_at = bits_at + 2 * channels
    tags = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, channels, bits_at), (259, 3, 1, compression),
            (262, 3, 1, 2), (273, 4, 1, data_at), (277, 3, 1, channels), (278, 3, 1, height),
            (279, 4, 1, len(data)), (284, 3, 1, 1)]  # fmt: skip
    out = (b"II*\0" if endian == "<" else b"MM\0*") + struct.pack(endian + "IH", 8, len(tags))
    for tag, kind, count, value in tags:
        short = kind == 3 and count == 1
        packed = struct.pack(endian + ("H2x" if short else "I"), value)
        out += struct.pack(endian + "HHI", tag, kind, count) + packed
    return out + b"\0\0\0\0" + struct.pack(endian + "H" * channels, *[16] * channels) + data


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


# ------------------------------------------------------------------------------------ read_image


def _save(name, array, mode=None, **kwargs):
    return _save_image(name, lambda: Image.fromarray(array, mode), **kwargs)


def _save_image(name, make, **kwargs):
    def write(folder):
        make().save(folder / name, **kwargs)
        return folder / name

    return write


def _write(name, data):
    def write(folder):
        (folder / name).write_bytes(data)
        return folder / name

    return write


def _palette_image(transparency=None):
    image = Image.fromarray(GRAY8 % 4).convert("P")
    image.putpalette(PALETTE.ravel().tolist())
    if transparency is not None:
        image.info["transparency"] = transparency
    return image


def _gray3(gray):
    return np.repeat(gray[..., None], 3, axis=2)


# name: (writer, expected rgb as float, expected alpha, bit depth, atol)
READ_CASES = {
    "png": (_save("a.png", RGB8), RGB8 / 255, None, 8, 0),
    "jpeg": (_save("a.jpg", SMOOTH, quality=95), SMOOTH / 255, None, 8, 3 / 255),
    "bmp": (_save("a.bmp", RGB8), RGB8 / 255, None, 8, 0),
    "tiff": (_save("a.tif", RGB8), RGB8 / 255, None, 8, 0),
    "webp-lossless": (_save("a.webp", RGB8, lossless=True), RGB8 / 255, None, 8, 0),
    "gray-L": (_save("a.png", GRAY8), _gray3(GRAY8) / 255, None, 8, 0),
    "gray-LA": (_save("a.png", np.dstack([GRAY8, ALPHA8]), "LA"), _gray3(GRAY8) / 255, ALPHA8, 8, 0),
    "rgba": (_save("a.png", np.dstack([RGB8, ALPHA8])), RGB8 / 255, ALPHA8, 8, 0),
    "gray16-png": (_save("a.png", GRAY16), _gray3(GRAY16) / 65535, None, 16, 0),
    "gray16-tiff": (_save("a.tif", GRAY16), _gray3(GRAY16) / 65535, None, 16, 0),
    # Pillow 13 would give only the high byte of these 16-bit colour files:
    "rgb16-png": (_write("a.png", _png16(RGB16, 2)), RGB16 / 65535, None, 16, 0),
    "rgba16-png": (_write("a.png", _png16(RGBA16, 6)), RGB16 / 65535, RGBA16[..., 3], 16, 0),
    "gray-alpha16-png": (_write("a.png", _png16(RGBA16[..., :2], 4)), _gray3(GRAY16) / 65535, RGBA16[..., 1], 16, 0),
    "gray16-trns-png": (
        _write("a.png", _png16(GRAY16, 0, _chunk(b"tRNS", struct.pack(">H", int(GRAY16[0, 0]))))),
        _gray3(GRAY16) / 65535, np.where(GRAY16 == GRAY16[0, 0], 0, 65535), 16, 0,
    ),
    "rgb16-tiff-le": (_write("a.tif", _tiff16(RGB16, "<", 1)), RGB16 / 65535, None, 16, 0),
    "rgb16-tiff-be": (_write("a.tif", _tiff16(RGB16, ">", 1)), RGB16 / 65535, None, 16, 0),
    "rgb16-tiff-deflate": (_write("a.tif", _tiff16(RGB16, "<", 8)), RGB16 / 65535, None, 16, 0),
    "rgba16-tiff-be-deflate": (_write("a.tif", _tiff16(RGBA16, ">", 8)), RGB16 / 65535, RGBA16[..., 3], 16, 0),
    "palette": (_save_image("a.png", _palette_image), PALETTE[GRAY8 % 4] / 255, None, 8, 0),
    "palette-transparent": (
        _save_image("a.png", lambda: _palette_image(transparency=2)),
        PALETTE[GRAY8 % 4] / 255, np.where(GRAY8 % 4 == 2, 0, 255), 8, 0,
    ),
    "1-bit": (_save_image("a.png", lambda: Image.fromarray(BITS)), _gray3(BITS) * 1.0, None, 8, 0),
    "cmyk-jpeg": (
        _save_image("a.jpg", lambda: Image.fromarray(SMOOTH).convert("CMYK"), quality=95),
        SMOOTH / 255, None, 8, 3 / 255,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", READ_CASES)
def test_read_image_kinds(tmp_path, case):
    writer, rgb, alpha, depth, atol = READ_CASES[case]
    image = read_image(writer(tmp_path))
    assert image.rgb.dtype == np.float32 and image.rgb.shape == rgb.shape
    np.testing.assert_allclose(image.rgb, rgb, rtol=0, atol=atol + 1e-6)
    assert image.bit_depth == depth
    if alpha is None:
        assert image.alpha is None
    else:
        assert image.alpha.dtype == (np.uint16 if depth == 16 else np.uint8)
        np.testing.assert_array_equal(image.alpha, alpha)


@pytest.mark.parametrize("depth", [8, 16])
def test_read_image_exif_orientation_6(tmp_path, depth):
    """Orientation 6 = rotate 90 degrees clockwise for display: the top-left pixel goes top-right."""
    path = tmp_path / "a.png"
    if depth == 8:
        Image.fromarray(RGB8).save(path, exif=_exif(6))
        expected = RGB8 / 255
    else:
        path.write_bytes(_png16(RGB16, 2, _chunk(b"eXIf", _exif(6).tobytes())))
        expected = RGB16 / 65535
    image = read_image(path)
    assert image.rgb.shape == (7, 6, 3)
    np.testing.assert_allclose(image.rgb, np.rot90(expected, k=-1), rtol=0, atol=1e-6)
    np.testing.assert_allclose(image.rgb[0, -1], expected[0, 0], rtol=0, atol=1e-6)


def _truncated(name, **kwargs):
    def write(path):
        noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(noise).save(path / name, **kwargs)
        data = (path / name).read_bytes()
        return _write(name, data[: len(data) // 2])(path)

    return write


READ_ERRORS = {
    "missing": (lambda path: path / "nope.png", "file not found"),
    "empty": (_write("a.png", b""), "empty"),
    "text": (_write("a.png", b"hello, this is not a picture\n"), "not an image"),
    "folder": (lambda path: path, "folder"),
    "truncated-png": (_truncated("a.png"), "truncated or corrupt"),
    "truncated-jpeg": (_truncated("a.jpg", quality=95), "truncated or corrupt"),
    "truncated-rgb16-png": (_write("a.png", _png16(RGBA16, 6)[:-40]), "truncated or corrupt"),
}


@pytest.mark.parametrize("case", READ_ERRORS)
def test_read_image_errors(tmp_path, case):
    make, reason = READ_ERRORS[case]
    path = make(tmp_path)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_read_image_pixel_limit(tmp_path):
    Image.fromarray(RGB8).save(tmp_path / "a.png")
    with pytest.raises(ImageReadError, match="too large"):
        read_image(tmp_path / "a.png", max_pixels=41)
    assert read_image(tmp_path / "a.png", max_pixels=42).rgb.shape == (6, 7, 3)


# ------------------------------------------------------------------------------------ writing


@pytest.mark.parametrize("existing", [False, True])
def test_save_png_is_atomic(tmp_path, monkeypatch, existing):
    target = tmp_path / "out.png"
    if existing:
        target.write_bytes(b"old")

    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\x89PNG half")
        raise OSError("encoder failed")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="encoder failed"):
        save_png(target, RGB8)
    assert os.listdir(tmp_path) == (["out.png"] if existing else [])
    if existing:
        assert target.read_bytes() == b"old"


@pytest.mark.parametrize(
    "alpha, expected",
    [
        (None, None),
        (ALPHA8, ALPHA8),
        (np.resize(np.array([0, 128, 129, 385, 257, 32896, 65535], np.uint16), (6, 7)),  # round(a / 257)
         np.resize(np.array([0, 0, 1, 1, 1, 128, 255], np.uint8), (6, 7))),
    ],
)  # fmt: skip
def test_save_png_round_trip(tmp_path, alpha, expected):
    save_png(tmp_path / "sub" / "out.png", RGB8, alpha)
    image = read_image(tmp_path / "sub" / "out.png")
    np.testing.assert_array_equal(to_uint8(image.rgb + 0.5 / 255), RGB8)
    assert image.bit_depth == 8
    if expected is None:
        assert image.alpha is None
    else:
        np.testing.assert_array_equal(image.alpha, expected)


@pytest.mark.parametrize(
    "rgb, alpha, kwargs, error, match",
    [
        (RGB8.astype(np.float32), None, {}, TypeError, "uint8"),
        (RGB8[..., :2].copy(), None, {}, ValueError, "H x W x 3"),
        (RGB8, ALPHA8[:5], {}, ValueError, "alpha of shape"),
        (RGB8, ALPHA8.astype(np.float32), {}, TypeError, "alpha of dtype"),
    ],
)
def test_save_png_rejects(tmp_path, rgb, alpha, kwargs, error, match):
    with pytest.raises(error, match=match):
        save_png(tmp_path / "out.png", rgb, alpha, **kwargs)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_to_uint8_truncates_and_clips(dtype):
    x = np.array([0.999 / 255, 0.5, 254.9 / 255, 1.0, 1.5, -0.3, 0.0], dtype=dtype)
    np.testing.assert_array_equal(to_uint8(x), np.array([0, 127, 254, 255, 255, 0, 0], np.uint8))


@pytest.mark.parametrize("x, error", [(np.array([1, 2]), TypeError), (np.array([np.nan]), ValueError)])
def test_to_uint8_rejects(x, error):
    with pytest.raises(error):
        to_uint8(x)


# ------------------------------------------------------------------------------------ inputs


@pytest.fixture
def tree(tmp_path):
    names = ["a.png", "sub/b.jpg", "sub/deep/C.TIFF", ".hidden.png", ".git/d.png", "notes.txt", "sub/e.webp.bak"]
    for name in names:
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).write_bytes(b"x")
    return tmp_path / "data"


def _relpaths(items):
    return [item.relpath.as_posix() for item in items]


def test_collect_inputs_folder_recursive_hidden_skipped(tree):
    items, notices = collect_inputs([str(tree)])
    assert _relpaths(items) == ["a.png", "sub/b.jpg", "sub/deep/C.TIFF"]
    assert items[1].path == tree / "sub" / "b.jpg"
    assert notices == [f"{tree}: 2 files without an image suffix skipped (1 .bak, 1 .txt)"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["{t}/sub/b.jpg"], ["b.jpg"]),
        (["{t}/**/*.jpg"], ["b.jpg"]),
        (["{t}/**/*"], ["a.png", "b.jpg", "C.TIFF"]),  # folders, non-images and hidden files skipped
        # the same file reached three times appears once
        (["{t}/a.png", "{t}", "{t}/sub/../a.png"], ["a.png", "sub/b.jpg", "sub/deep/C.TIFF"]),
    ],
)
def test_collect_inputs_files_and_globs(tree, args, expected):
    assert sorted(_relpaths(collect_inputs([arg.format(t=tree) for arg in args])[0])) == sorted(expected)


def test_collect_inputs_errors(tree):
    with pytest.raises(FileNotFoundError, match="missing"):
        collect_inputs([str(tree / "a.png"), str(tree / "missing*.png")])
    with pytest.raises(FileNotFoundError, match="nothing"):
        collect_inputs([str(tree / "nothing")])
    with pytest.raises(ValueError, match="notes.txt"):
        collect_inputs([str(tree / "notes.txt")])


def test_output_relpath():
    assert output_relpath(Path("sub/x.JPG")) == Path("sub/x.png")
    assert output_relpath("y.tiff") == Path("y.png")
    assert output_relpath("sub/y.tiff", ".jpg") == Path("sub/y.jpg")
    assert output_relpath("sub/y.tiff", ".png", keep_suffix=True) == Path("sub/y.tiff.png")


def test_collect_inputs_follows_folder_links_and_says_which_it_skips(tmp_path):
    """Issue 15: a folder reached through a link was skipped without a word; a loop must not hang."""
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    (tmp_path / "photos" / "a.png").write_bytes(b"x")
    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)
    (tmp_path / "elsewhere" / "deep" / "b.jpg").write_bytes(b"x")
    (tmp_path / "photos" / "linked").symlink_to(tmp_path / "elsewhere")  # followed
    (tmp_path / "photos" / "sub" / "loop").symlink_to(tmp_path / "photos")  # back up: a loop
    (tmp_path / "photos" / "zz-again").symlink_to(tmp_path / "elsewhere")  # the same folder again
    items, notices = collect_inputs([str(tmp_path / "photos")])
    assert _relpaths(items) == ["a.png", "linked/deep/b.jpg"]
    assert len(notices) == 2
    assert any(str(tmp_path / "photos" / "sub" / "loop") in notice and "skipped" in notice for notice in notices)
    assert any(str(tmp_path / "photos" / "zz-again") in notice and "skipped" in notice for notice in notices)


# ------------------------------------------------------------------------------------ panels


@pytest.mark.parametrize("labels", [None, ["low", "enhanced"]])
def test_make_panel_shapes(labels):
    first, second = np.zeros((4, 5, 3), np.uint8), np.full((6, 2, 3), 7, np.uint8)
    panel = make_panel([first, second], labels=labels, gap=3)
    strip = panel.shape[0] - 6
    assert panel.dtype == np.uint8 and panel.shape[1:] == (10, 3)
    assert strip == 0 if labels is None else strip > 0
    np.testing.assert_array_equal(panel[strip : strip + 4, :5], first)
    np.testing.assert_array_equal(panel[strip:, 8:], second)
    assert (panel[strip + 4 :, :5] == 255).all() and (panel[strip:, 5:8] == 255).all()
    if labels:
        assert (panel[:strip] < 128).any()  # some text was drawn


def test_make_panel_rejects():
    with pytest.raises(ValueError, match="at least one"):
        make_panel([])
    with pytest.raises(ValueError, match="labels"):
        make_panel([RGB8], labels=["a", "b"])
    with pytest.raises(TypeError, match="uint8"):
        make_panel([RGB8.astype(np.float32)])


# ------------------------------------------------------------------------------------ animated, metadata, formats


def _frames(count: int) -> list[Image.Image]:
    return [Image.fromarray(np.full((6, 7, 3), 40 * (index + 1), np.uint8)) for index in range(count)]


@pytest.mark.parametrize("name, options", [("a.gif", {}), ("a.webp", {"lossless": True})])
def test_read_image_animated_gives_the_first_frame_and_the_count(tmp_path, name, options):
    """Issue 15: GIFs were skipped and animated WebP truncated without a word; now the first frame
    is read and ``frames`` says how many there are (``kind enhance`` turns it into a notice)."""
    first, *rest = _frames(3)
    first.save(tmp_path / name, save_all=True, append_images=rest, duration=100, **options)
    image = read_image(tmp_path / name)
    assert image.frames == 3
    np.testing.assert_array_equal(image.samples, np.asarray(first))


def test_read_image_keeps_exif_with_the_orientation_reset_and_the_icc_profile(tmp_path):
    exif = _exif(6)
    exif[0x0110] = "Camera X"
    icc = b"\0\0\0\x10fake icc profile"
    Image.fromarray(RGB8).save(tmp_path / "a.jpg", exif=exif, icc_profile=icc, quality=95)
    image = read_image(tmp_path / "a.jpg")
    assert image.samples.shape == (7, 6, 3) and image.icc_profile == icc
    kept = Image.Exif()
    kept.load(image.exif)
    assert kept[0x0110] == "Camera X" and kept.get(0x0112, 1) == 1


@pytest.mark.parametrize("fmt", ["png", "jpg", "tiff", "webp"])
def test_save_image_formats_carry_exif_and_icc(tmp_path, fmt):
    exif = Image.Exif()
    exif[0x0110] = "Camera X"
    path = tmp_path / f"out.{fmt}"
    save_image(path, RGB8, format=fmt, exif=exif.tobytes(), icc_profile=b"icc bytes", quality=90)
    with Image.open(path) as written:
        assert written.format == {"jpg": "JPEG"}.get(fmt, fmt.upper())
        assert written.getexif()[0x0110] == "Camera X" and written.info["icc_profile"] == b"icc bytes"
    if fmt in ("png", "tiff"):
        np.testing.assert_array_equal(read_image(path).samples, RGB8)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize("alpha", [None, RGBA16[..., 3]])
def test_save_image_16_bit_round_trip(tmp_path, fmt, alpha):
    exif = Image.Exif()
    exif[0x0110] = "Camera X"
    exif.get_ifd(0x8769)[0x9003] = "2024:01:02 03:04:05"  # an Exif sub-IFD tag
    path = tmp_path / f"out.{fmt}"
    save_image(path, RGB16, alpha, format=fmt, exif=exif.tobytes(), icc_profile=b"icc bytes")
    image = read_image(path)
    assert image.bit_depth == 16 and image.icc_profile == b"icc bytes"
    np.testing.assert_array_equal(image.samples, RGB16)
    if alpha is None:
        assert image.alpha is None
    else:
        np.testing.assert_array_equal(image.alpha, alpha)
    with Image.open(path) as written:
        assert written.getexif()[0x0110] == "Camera X"
        assert written.getexif().get_ifd(0x8769)[0x9003] == "2024:01:02 03:04:05"


@pytest.mark.parametrize(
    "rgb, alpha, options, match",
    [
        (RGB16, None, {"format": "jpg"}, "PNG or TIFF"),
        (RGB8, ALPHA8, {"format": "jpg"}, "alpha"),
        (RGB8, None, {"format": "gif"}, "format"),
        (RGB8, None, {"format": "jpg", "quality": 0}, "quality"),
    ],
)
def test_save_image_rejects(tmp_path, rgb, alpha, options, match):
    with pytest.raises(ValueError, match=match):
        save_image(tmp_path / "out", rgb, alpha, **options)
    assert not list(tmp_path.iterdir())


def test_to_uint16_truncates_and_clips():
    x = np.array([0.999 / 65535, 0.5, 1.0, 1.5, -0.3])
    np.testing.assert_array_equal(to_uint16(x), np.array([0, 32767, 65535, 65535, 0], np.uint16))
