"""The functions behind ``kind app``'s page, without a browser or Gradio: uploads and their checks,
the preview, the downloads (byte for byte what ``kind enhance`` writes), the endpoints, the
temporary folders, session isolation, and the command's guards. Random weights, tiny images."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kind.api import KinD
from kind.app.endpoints import decompose_endpoint, enhance_endpoint
from kind.app import preview as preview_module
from kind.app.serve import INSTALL_HINT, check_host, is_loopback
from kind.app.session import (Session, Sessions, UploadError, distinct_name, parse_ratio, reduce_for_preview,
                              take_upload)
from kind.app.workspace import Workspace
from kind.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _photo(height: int = 30, width: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(5, 70, (height, width, 3), dtype=np.uint8)


def _save(path: Path, pixels: np.ndarray, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **options)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _bomb(path: Path, side: int = 100_000) -> Path:
    """A PNG whose header claims side × side pixels (10 gigapixels) in a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def _kind_enhance(image: Path, out: Path, weights: Path, *options: str) -> Path:
    assert main(["enhance", str(image), "-o", str(out), "--weights", str(weights), "--device", "cpu", "--quiet",
                 *options]) == 0
    return out / (image.stem + ".png")


@pytest.fixture(scope="module")
def model(weights_dir: Path) -> KinD:
    return KinD.from_pretrained(weights_dir, device="cpu", max_pixels=1_000_000)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    (tmp_path / "app").mkdir()
    return Workspace(tmp_path / "app")


@pytest.fixture
def session(model, workspace) -> Session:
    return Session(model, workspace.session_folder(), preview_pixels=600)


# --- small functions -----------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("auto", "auto"), (" Auto ", "auto"), ("2.5", 2.5), (3, 3.0), (0.0, 0.0)])
def test_parse_ratio(value, expected):
    assert parse_ratio(value) == expected


@pytest.mark.parametrize("value", ["bright", "-1", "nan", "inf", None, True, [2.0]])
def test_parse_ratio_refuses(value):
    with pytest.raises(ValueError, match="ratio"):
        parse_ratio(value)


def test_reduce_for_preview_bounds_the_pixels():
    small = _photo(20, 30)
    assert reduce_for_preview(small, 1000) is small
    reduced = reduce_for_preview(_photo(300, 400), 10_000)
    assert reduced.dtype == np.uint8 and reduced.shape[0] * reduced.shape[1] <= 10_000
    assert abs(reduced.shape[1] / reduced.shape[0] - 4 / 3) < 0.05
    sixteen = reduce_for_preview((_photo(10, 10).astype(np.uint16) * 257), 1000)
    np.testing.assert_array_equal(sixteen, _photo(10, 10))


def test_loopback_hosts():
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "192.168.1.4", "::", "example.org"))


def test_a_host_the_app_cannot_listen_on_is_named_before_starting():
    check_host("127.0.0.1")
    with pytest.raises(ValueError, match="^--host 256.1.1.1: not a valid IP address"):
        check_host("256.1.1.1")
    with pytest.raises(ValueError, match="^--host 192.0.2.1: cannot listen on this address"):
        check_host("192.0.2.1")  # TEST-NET-1: never an address of this machine
    run = subprocess.run([sys.executable, "-m", "kind", "app", "--host", "256.1.1.1"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert run.returncode == 2 and run.stderr.strip().splitlines() == [
        "kind app: error: --host 256.1.1.1: not a valid IP address or known host name (e.g. 127.0.0.1, 0.0.0.0 "
        "for every interface)"], run.stderr


def test_distinct_names():
    taken: set[str] = set()
    assert [distinct_name(name, taken) for name in ("a.png", "a.png", "b.png", "a.png", "a-2.png")] == [
        "a.png", "a-2.png", "b.png", "a-3.png", "a-2-2.png"]


# --- uploads --------------------------------------------------------------------------------------


def test_an_upload_is_copied_checked_and_previewed(session, tmp_path):
    upload = _save(tmp_path / "up" / "dark photo.png", _photo())
    assert session.add([upload]) == []
    photo = session.photo
    assert photo.name == "dark photo.png" and photo.size == (40, 30)
    assert session.folder in photo.path.parents and photo.path.read_bytes() == upload.read_bytes()
    assert photo.before.shape[0] * photo.before.shape[1] <= 600
    with Image.open(photo.before_file) as shown:
        assert shown.size == (photo.before.shape[1], photo.before.shape[0]) and photo.before_file.parent == photo.path.parent


@pytest.mark.parametrize("case", ["bomb", "corrupt", "empty", "not-an-image-name", "too-many-bytes", "too-many-pixels"])
def test_bad_uploads_get_a_message_naming_them(model, workspace, tmp_path, case):
    session = Session(model, workspace.session_folder(), max_upload_bytes=50_000)
    up = tmp_path / "up"
    up.mkdir()
    path, reason = {
        "bomb": (lambda: _bomb(up / "bomb.png"), "too large"),
        "corrupt": (lambda: _write(up / "broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"), "not an image|corrupt"),
        "empty": (lambda: _write(up / "empty.png", b""), "empty"),
        "not-an-image-name": (lambda: _save(up / "photo.dat", _photo(), format="png"), "not an image file name"),
        "too-many-bytes": (lambda: _write(up / "huge.png", b"\0" * 60_000), "file too large"),
        "too-many-pixels": (lambda: _save(up / "wide.png", _photo(1001, 1000)), "too large"),
    }[case]
    path = path()
    started = time.monotonic()
    problems = session.add([path, _save(up / "fine.png", _photo())])
    assert time.monotonic() - started < 30  # refused from the header: no decoding of 10 gigapixels
    assert len(problems) == 1 and problems[0].startswith(f"{path.name}: ")
    assert re.search(reason, problems[0]), problems[0]
    assert str(up) not in problems[0] and str(session.folder) not in problems[0]  # named as uploaded
    assert [photo.name for photo in session.photos] == ["fine.png"]  # the others still come in
    assert sorted(p.name for p in session.folder.rglob("*") if p.is_file()) == ["before.jpg", "fine.png"]  # nothing left behind


def test_take_upload_raises_upload_error(tmp_path):
    with pytest.raises(UploadError, match="^bomb.png: "):
        take_upload(_bomb(tmp_path / "bomb.png"), tmp_path / "in", 10**6, 10**6)
    assert not (tmp_path / "in").exists()


# --- what the page shows ------------------------------------------------------------------------


def test_the_preview_is_the_pipeline_with_a_reduced_adjustment(session, model, tmp_path, monkeypatch):
    """Without the reduction the preview is the pipeline's output (to float32 rounding, the
    truncating conversion: off by one at most); with it, a close picture of it."""
    session.add([_save(tmp_path / "a.png", _photo(64, 96))])
    before = session.photo.before
    reduced = {(ratio, pipeline): session.preview(ratio, pipeline) for ratio in (0.5, 2.0, "auto") for pipeline in ("photo", "lol")}
    monkeypatch.setattr(preview_module, "ADJUST_REDUCTION", 1)
    exact = Session(model, session.folder.parent / "exact", preview_pixels=600)
    exact.add([session.photo.path])
    for (ratio, pipeline), picture in reduced.items():
        expected = model(before, ratio, pipeline=pipeline).astype(int)
        assert np.abs(exact.preview(ratio, pipeline).astype(int) - expected).max() <= 1
        assert np.abs(picture.astype(int) - expected).mean() < 12
    for strength in (0.0, 0.4):
        expected = model(before, 2.0, strength=strength).astype(int)
        assert np.abs(exact.preview(2.0, "photo", strength).astype(int) - expected).max() <= 1
    assert session.auto_ratio == pytest.approx(model.prepare(before).auto_ratio, abs=1e-6)
    assert not np.array_equal(session.preview(1.0), session.preview(8.0))
    maps = session.maps(3.0)
    assert list(maps) == ["reflectance R", "illumination L", "restored R̂", "adjusted L̂"]
    assert all(array.shape == before.shape for array in maps.values())
    files = session.map_files(3.0, 0.5)
    assert [label for _, label in files] == list(maps) and all(path.is_file() for path, _ in files)
    again = session.map_files(4.0, 0.5)
    assert [a == b for (a, _), (b, _) in zip(files, again)] == [True, True, True, False]  # only L̂ follows the ratio


def test_preview_files_are_named_bounded_and_not_made_twice(session, tmp_path):
    session.add([_save(tmp_path / "a.png", _photo())])
    made = [session.preview_file(ratio) for ratio in np.linspace(1, 9, 12)]
    paths = [path for path, new in made]
    assert all(new for _, new in made) and len(set(paths)) == 12 and all(session.folder in path.parents for path in paths)
    assert paths[0].name == "preview-r1.00-s1.00-photo.jpg"
    assert [path.exists() for path in paths] == [False] * 4 + [True] * 8
    assert session.preview_file(9.0) == (paths[-1], False)  # the release after the last move: nothing to make
    path, new = session.preview_file(9.0, "photo", 0.5)
    assert new and path.name == "preview-r9.00-s0.50-photo.jpg"


def test_removing_photos(session, tmp_path):
    session.add([_save(tmp_path / name, _photo(seed=i)) for i, name in enumerate(("a.png", "b.png", "c.png"))])
    session.select(1)
    gone = session.photos[0].path.parent
    session.remove(0)
    assert [p.name for p in session.photos] == ["b.png", "c.png"] and session.photo.name == "b.png" and not gone.exists()
    session.remove(0)
    assert session.photo.name == "c.png"
    session.remove(0)
    assert session.photos == [] and session.current is None
    with pytest.raises(ValueError, match="photo 0"):
        session.remove(0)


def test_selecting_a_photo(session, tmp_path):
    session.add([_save(tmp_path / "a.png", _photo()), _save(tmp_path / "b.png", _photo(seed=1))])
    assert session.photo.name == "a.png"
    first = session.preview(3.0)
    session.select(1)
    assert session.photo.name == "b.png" and not np.array_equal(first, session.preview(3.0))
    with pytest.raises(ValueError, match="photo 2"):
        session.select(2)
    session.add([_save(tmp_path / "c.png", _photo(seed=2))])
    assert session.photo.name == "c.png"  # a new upload is shown


def test_an_empty_session_says_upload_first(session):
    for action in (lambda: session.preview(2.0), lambda: session.full_resolution(2.0), lambda: session.all_photos(2.0)):
        with pytest.raises(ValueError, match="upload"):
            action()


# --- downloads: kind enhance's bytes --------------------------------------------------------------


@pytest.mark.parametrize("ratio, option", [(2.5, "2.5"), ("auto", "auto")])
def test_the_download_is_kind_enhances_file(session, weights_dir, tmp_path, ratio, option):
    """EXIF and ICC profile carried over the same way, at full resolution (not the preview's size)."""
    exif = Image.Exif()
    exif[0x010F] = "kind test camera"
    upload = _save(tmp_path / "up" / "cam.jpg", _photo(50, 64), exif=exif.tobytes(), icc_profile=b"an icc profile")
    session.add([upload])
    download = session.full_resolution(ratio)
    assert download.name == "cam.png" and session.folder in download.parents
    assert download.read_bytes() == _kind_enhance(upload, tmp_path / f"cli-{option}", weights_dir, "--ratio", option).read_bytes()
    with Image.open(download) as written:
        assert written.size == (64, 50) and written.info.get("icc_profile") == b"an icc profile"


def test_the_lol_download_is_kind_enhance_pipeline_lol(session, weights_dir, tmp_path):
    upload = _save(tmp_path / "up" / "x.png", _photo())
    session.add([upload])
    expected = _kind_enhance(upload, tmp_path / "cli", weights_dir, "--ratio", "4", "--pipeline", "lol")
    assert session.full_resolution(4.0, "lol").read_bytes() == expected.read_bytes()


def test_the_download_at_a_strength_is_kind_enhance_strength(session, weights_dir, tmp_path):
    upload = _save(tmp_path / "up" / "x.png", _photo())
    session.add([upload])
    expected = _kind_enhance(upload, tmp_path / "cli", weights_dir, "--ratio", "3", "--strength", "0.3")
    heard = []
    assert session.full_resolution(3.0, "photo", 0.3, lambda *step: heard.append(step)).read_bytes() == expected.read_bytes()


def test_the_zip_keeps_photos_of_one_name_apart(session, weights_dir, tmp_path):
    uploads = [_save(tmp_path / f"up{i}" / "IMG_0001.JPG", _photo(seed=i), quality=95) for i in range(2)]
    session.add(uploads)
    heard = []
    archive = session.all_photos(2.0, progress=lambda *step: heard.append(step))
    assert heard == [(0, 2), (1, 2)]
    with zipfile.ZipFile(archive) as bundle:
        assert bundle.namelist() == ["IMG_0001.png", "IMG_0001-2.png"]
        for upload, name in zip(uploads, bundle.namelist()):
            expected = _kind_enhance(upload, tmp_path / f"cli-{upload.parent.name}", weights_dir, "--ratio", "2")
            assert bundle.read(name) == (expected.parent / "IMG_0001.png").read_bytes()


def test_apply_to_all_zips_kind_enhances_files(session, weights_dir, tmp_path):
    uploads = [_save(tmp_path / "up" / f"{name}.png", _photo(seed=i)) for i, name in enumerate(("one", "two"))]
    session.add(uploads)
    archive = session.all_photos(3.0)
    assert archive.name == "kind-ratio-3.zip"
    with zipfile.ZipFile(archive) as bundle:
        assert sorted(bundle.namelist()) == ["one.png", "two.png"]
        for upload in uploads:
            expected = _kind_enhance(upload, tmp_path / f"cli-{upload.stem}", weights_dir, "--ratio", "3")
            assert bundle.read(upload.name) == expected.read_bytes()


# --- endpoints ------------------------------------------------------------------------------------


def test_enhance_endpoint(model, workspace, weights_dir, tmp_path):
    upload = _save(tmp_path / "up" / "x.png", _photo())
    for ratio, option in ((1.5, "1.5"), ("1.5", "1.5"), ("auto", "auto")):
        result = enhance_endpoint(model, workspace, upload, ratio)
        assert workspace.owns(result)
        assert result.read_bytes() == _kind_enhance(upload, tmp_path / f"cli-{ratio}", weights_dir, "--ratio", option).read_bytes()
    with pytest.raises(ValueError, match="ratio"):
        enhance_endpoint(model, workspace, upload, "bright")
    with pytest.raises(UploadError, match="^bomb.png: .*too large"):
        enhance_endpoint(model, workspace, _bomb(tmp_path / "bomb.png"), 2.0)
    with pytest.raises(UploadError, match="^image: an image file is required"):
        enhance_endpoint(model, workspace, None, 2.0)
    with pytest.raises(UploadError, match="^image: an image file is required"):
        decompose_endpoint(model, workspace, None)


def test_decompose_endpoint_is_kind_enhances_maps(model, workspace, weights_dir, tmp_path):
    upload = _save(tmp_path / "up" / "x.png", _photo())
    reflectance, illumination = decompose_endpoint(model, workspace, upload)
    _kind_enhance(upload, tmp_path / "cli", weights_dir, "--save-maps")
    assert reflectance.read_bytes() == (tmp_path / "cli" / "x_R.png").read_bytes()
    assert illumination.read_bytes() == (tmp_path / "cli" / "x_L.png").read_bytes()


# --- folders and sessions -------------------------------------------------------------------------


def test_request_folders_are_swept_when_old(workspace):
    old, new = workspace.request_folder(), workspace.request_folder()
    (old / "file.png").write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert workspace.sweep_requests() == [old]
    assert not old.exists() and new.exists()


def test_sessions_are_isolated_and_cleaned(model, workspace, tmp_path):
    sessions = Sessions(model, workspace, preview_pixels=600)
    alice, bob = sessions.get("alice"), sessions.get("bob")
    assert sessions.get("alice") is alice and alice.folder != bob.folder
    alice.add([_save(tmp_path / "a.png", _photo())])
    assert bob.photos == [] and bob.current is None
    bob.add([_save(tmp_path / "b.png", _photo(seed=1))])
    assert [p.name for p in alice.photos] == ["a.png"] and [p.name for p in bob.photos] == ["b.png"]
    alice.full_resolution(2.0)
    folder = alice.folder
    sessions.close("alice")
    assert not folder.exists() and bob.folder.exists() and len(sessions) == 1
    sessions.close("alice")  # twice: nothing happens
    sessions.close_all()
    assert len(sessions) == 0 and not bob.folder.exists()
    assert not any(path.is_file() for path in workspace.root.rglob("*"))


def test_sessions_uploading_one_file_do_not_touch_it(model, workspace, tmp_path):
    """Gradio keeps uploads by content: two sessions (and API calls) may get the very same path."""
    received = _save(workspace.root / "gradio" / "abc123" / "photo.png", _photo())
    sessions = Sessions(model, workspace, preview_pixels=600)
    alice, bob = sessions.get("alice"), sessions.get("bob")
    assert alice.add([received]) == [] and received.exists()
    assert bob.add([received]) == [] and received.exists()
    assert enhance_endpoint(model, workspace, received, 2.0).is_file()
    assert alice.photo.path != bob.photo.path and received.exists()


def test_workspace_must_exist(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        Workspace(tmp_path / "absent")


# --- the command ----------------------------------------------------------------------------------


def test_kind_app_without_gradio_says_how_to_install(tmp_path):
    """Gradio hidden from the import system: `kind app` fails with the install hint, `kind --help` works."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['gradio'] = None  # import gradio fails\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hide), str(ROOT)])}
    run = subprocess.run([sys.executable, "-m", "kind", "app"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2 and INSTALL_HINT in run.stderr, run.stderr
    assert subprocess.run([sys.executable, "-m", "kind", "--help"], capture_output=True, text=True, env=env,
                          timeout=120).returncode == 0
