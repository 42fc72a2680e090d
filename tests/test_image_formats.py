"""Only the promised image formats are opened, by every reader (kind.io.formats)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from kind.io.formats import READ_FORMATS, UnsupportedFormatError, open_image
from kind.io.read import ImageReadError, header_pixels, read_image

POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto 8 8 lineto stroke\nshowpage\n%%EOF\n"


@pytest.fixture
def ghostscript_calls(monkeypatch):
    """Record (and refuse) every attempt to run Ghostscript, whether or not it is installed."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("Ghostscript was run")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", refuse)
    return calls


@pytest.fixture
def evil_png(tmp_path):
    path = tmp_path / "evil.png"
    path.write_bytes(POSTSCRIPT)
    return path


def test_postscript_named_png_is_refused_without_ghostscript(evil_png, ghostscript_calls):
    with pytest.raises(ImageReadError, match=r"evil\.png: not an image in a format kind reads \(PNG, JPEG, BMP, TIFF, WebP or GIF"):
        read_image(evil_png)
    assert header_pixels(evil_png) == 0
    with pytest.raises(UnsupportedFormatError, match="evil.png"):
        open_image(evil_png)
    assert ghostscript_calls == []


def test_every_promised_format_opens(tmp_path):
    pixels = np.zeros((4, 5, 3), np.uint8)
    for name in READ_FORMATS:
        path = tmp_path / f"x.{name.lower()}"
        Image.fromarray(pixels).save(path, format=name)
        with open_image(path) as img:
            assert img.format == name and img.size == (5, 4)


def test_other_pillow_formats_are_refused(tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(path, format="PPM")
    with pytest.raises(ImageReadError, match="format kind reads"):
        read_image(path)


def test_score_refuses_postscript(evil_png, ghostscript_calls):
    from kind.io.read import read_stored_rgb8

    with pytest.raises(ValueError, match="cannot read image .*evil.png"):
        read_stored_rgb8(evil_png)
    assert ghostscript_calls == []


def test_enhance_reports_postscript_as_a_failed_file(tmp_path, weights_dir, evil_png, ghostscript_calls):
    from kind.api import KinD
    from kind.enhance import enhance_files
    from kind.inference.runner import load_runner

    good = tmp_path / "good.png"
    Image.fromarray(np.full((8, 8, 3), 40, np.uint8)).save(good)
    summary = enhance_files([str(evil_png), str(good)], tmp_path / "out", KinD(load_runner(weights_dir, device="cpu")),
                            progress=False)
    assert summary.done == 1
    assert [(path.name, "format kind reads" in reason) for path, reason in summary.failed] == [("evil.png", True)]
    assert ghostscript_calls == []


def test_training_data_refuses_postscript(tmp_path, evil_png, ghostscript_calls):
    from kind.train.data import load_pairs

    for side in ("low", "high"):
        (tmp_path / "lol" / side).mkdir(parents=True)
        (tmp_path / "lol" / side / "evil.png").write_bytes(POSTSCRIPT)
    with pytest.raises(ValueError, match="format kind reads"):
        load_pairs(str(tmp_path / "lol"), stretch=False)
    assert ghostscript_calls == []
