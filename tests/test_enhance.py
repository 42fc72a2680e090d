"""Tests for kind.enhance and ``kind enhance``.

The networks are random-initialised (tf_slim init, fixed seed) and saved as a weights folder, so no
trained weights are needed; these tests check the mechanics (files, formats, safety, threads,
tiling), not the enhancement quality. Images are tiny and generated in tmp_path.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import kind.enhance as enhance
from kind.api import KinD, Photo
from kind.cli import main
from kind.enhance import PREFETCH, SaveOptions, Summary, enhance_files, merge_summaries, shard_plan
from kind.io.plan import plan_jobs
from kind.imageops import minmax_stretch, to_uint8
from kind.inference.pipeline import enhance_general
from kind.inference.runner import load_runner
from kind.io.read import read_image

H, W = 24, 32


def _photo(height: int = H, width: int = W, seed: int = 0) -> np.ndarray:
    """A dark uint8 H×W×3 test image with some structure and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    wave = 20 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    image = 35 + wave[..., None] + rng.integers(0, 12, (height, width, 3))
    return image.clip(0, 255).astype(np.uint8)


def _save(path: Path, image: Image.Image | np.ndarray, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(path, **options)
    return path


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).copy()


def _hashes(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def runner(weights_dir: Path):
    return load_runner(weights_dir, device="cpu")


@pytest.fixture(scope="module")
def model(runner) -> KinD:
    return KinD(runner)


def _enhance(inputs, out, model, **options) -> Summary:
    return enhance_files([str(item) for item in inputs], out, model, progress=False, **options)


# --- command line --------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", ["3", "auto"])
def test_cli_enhances_with_ratio(tmp_path, weights_dir, capsys, ratio):
    image = _save(tmp_path / "in" / "x.png", _photo())
    out = tmp_path / "out"
    status = main(["enhance", str(image), "-o", str(out), "--weights", str(weights_dir), "--ratio", ratio, "--quiet"])
    assert status == 0
    assert _pixels(out / "x.png").shape == (H, W, 3)
    assert "1 done, 0 failed, 0 skipped" in capsys.readouterr().out


@pytest.mark.parametrize("option, value", [("--ratio", "x"), ("--ratio", "-1"), ("--ratio", "nan"), ("--tile", "8")])
def test_cli_rejects_bad_values(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as exit_info:
        main(["enhance", str(tmp_path), "-o", str(tmp_path / "out"), option, value])
    assert exit_info.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_cli_missing_weights_is_status_2(tmp_path, capsys):
    image = _save(tmp_path / "x.png", _photo())
    status = main(["enhance", str(image), "-o", str(tmp_path / "out"), "--weights", str(tmp_path / "none")])
    assert status == 2
    assert "missing decom.pt" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_failures_are_reported_and_inputs_untouched(tmp_path, weights_dir, capsys):
    photos = tmp_path / "photos"
    _save(photos / "good.png", _photo())
    _save(photos / "sub" / "good.jpg", _photo(seed=1), quality=90)
    _save(photos / "truncated.png", _photo(seed=2))
    (photos / "truncated.png").write_bytes((photos / "truncated.png").read_bytes()[:200])
    (photos / "notes.png").write_text("this is not an image\n")
    (photos / "empty.png").write_bytes(b"")
    before = _hashes(photos)
    out = tmp_path / "out"

    status = main(["enhance", str(photos), "-o", str(out), "--weights", str(weights_dir)])

    assert status == 1
    report = capsys.readouterr().out
    assert "2 done, 3 failed, 0 skipped" in report
    for name, reason in [("truncated.png", "truncated or corrupt"), ("notes.png", "not an image"), ("empty.png", "empty")]:
        line = next(line for line in report.splitlines() if name in line)
        assert reason in line
    assert sorted(_hashes(out)) == ["good.png", "sub/good.png"]
    assert _hashes(photos) == before


# --- files, formats, layout ------------------------------------------------------------------------


def test_output_layout_follows_input_folders(tmp_path, model):
    _save(tmp_path / "photos" / "a" / "b.jpg", _photo())
    _save(tmp_path / "photos" / "c.png", _photo(seed=1))
    summary = _enhance([tmp_path / "photos"], tmp_path / "OUT", model)
    assert (summary.done, summary.failed, summary.skipped) == (2, [], 0)
    assert sorted(_hashes(tmp_path / "OUT")) == ["a/b.png", "c.png"]


ALPHA = np.random.default_rng(5).integers(0, 256, (H, W), dtype=np.uint8)
GRAY16 = np.random.default_rng(6).integers(0, 65536, (H, W), dtype=np.uint16)
INPUT_KINDS = {  # file name → (writer, expected output channels)
    "rgb.png": (lambda p: _save(p, _photo()), 3),
    "jpeg.jpg": (lambda p: _save(p, _photo(), quality=90), 3),
    "bmp.bmp": (lambda p: _save(p, _photo()), 3),
    "tiff.tif": (lambda p: _save(p, _photo()), 3),
    "webp.webp": (lambda p: _save(p, _photo(), lossless=True), 3),
    "gray16.png": (lambda p: _save(p, Image.fromarray(GRAY16)), 3),
    "gray.png": (lambda p: _save(p, _photo()[..., 0]), 3),
    "rgba.png": (lambda p: _save(p, np.dstack([_photo(), ALPHA])), 4),
    "palette.png": (lambda p: _save(p, Image.fromarray(_photo()).convert("P")), 3),
}


@pytest.fixture(scope="module")
def kinds_out(tmp_path_factory, model) -> Path:
    folder = tmp_path_factory.mktemp("kinds")
    for name, (write, _) in INPUT_KINDS.items():
        write(folder / "in" / name)
    summary = _enhance([folder / "in"], folder / "out", model)
    assert summary.failed == [] and summary.done == len(INPUT_KINDS)
    return folder / "out"


@pytest.mark.parametrize("name", sorted(INPUT_KINDS))
def test_each_input_kind(kinds_out, name):
    pixels = _pixels(kinds_out / Path(name).with_suffix(".png"))
    assert pixels.shape == (H, W, INPUT_KINDS[name][1])
    assert pixels.dtype == np.uint8
    if name == "rgba.png":
        assert np.array_equal(pixels[..., 3], ALPHA)  # alpha carried over exactly


def test_exif_rotation_rotates_the_output(tmp_path, model):
    image = Image.fromarray(_photo())
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    _save(tmp_path / "rotated.jpg", image, exif=exif, quality=90)
    summary = _enhance([tmp_path / "rotated.jpg"], tmp_path / "out", model)
    assert summary.done == 1
    assert _pixels(tmp_path / "out" / "rotated.png").shape == (W, H, 3)


def test_one_pixel_image(tmp_path, model):
    _save(tmp_path / "dot.png", np.array([[[10, 20, 30]]], dtype=np.uint8))
    summary = _enhance([tmp_path / "dot.png"], tmp_path / "out", model)
    assert (summary.done, summary.failed) == (1, [])
    assert _pixels(tmp_path / "out" / "dot.png").shape == (1, 1, 3)


def test_output_equals_the_official_pipeline(tmp_path, model):
    """Stretch, enhance_general at ratio 5, to_uint8 (truncation): the same bytes as a direct call."""
    photo = _photo(seed=3)
    _save(tmp_path / "x.png", photo)
    _enhance([tmp_path / "x.png"], tmp_path / "out", model)
    image = torch.from_numpy(photo.astype(np.float32) / 255).permute(2, 0, 1)[None].contiguous()
    direct = enhance_general(model.runner, minmax_stretch(image), 5.0).output
    expected = to_uint8(direct[0].permute(1, 2, 0).numpy())
    assert np.array_equal(_pixels(tmp_path / "out" / "x.png"), expected)


def test_tiled_matches_untiled(tmp_path, model):
    """--tile 128 on a 200×300 image ≥ 45 dB against the whole-image result.

    With random weights this checks the tiling mechanics (placement, blending, global stretch),
    not how well trained networks hide tile seams.
    """
    _save(tmp_path / "big.png", _photo(200, 300, seed=4))
    _enhance([tmp_path / "big.png"], tmp_path / "whole", model)
    _enhance([tmp_path / "big.png"], tmp_path / "tiled", KinD(model.runner, tile=128))
    whole, tiled = _pixels(tmp_path / "whole" / "big.png"), _pixels(tmp_path / "tiled" / "big.png")
    assert whole.shape == tiled.shape == (200, 300, 3)
    assert _psnr(whole, tiled) >= 45


def test_save_maps_and_compare(tmp_path, model):
    _save(tmp_path / "x.png", _photo())
    summary = _enhance([tmp_path / "x.png"], tmp_path / "out", model, save_maps=True, compare=True, ratio="auto")
    assert summary.done == 1
    for suffix in ["", "_R", "_L", "_R_restored", "_L_adjusted"]:
        assert _pixels(tmp_path / "out" / f"x{suffix}.png").shape == (H, W, 3)
    panel = _pixels(tmp_path / "out" / "x_compare.png")
    assert panel.shape[1] == 2 * W + 8 and panel.shape[0] > H


# --- safety -------------------------------------------------------------------------------------------


def test_outdir_inside_input_folder_only_when_empty(tmp_path, model, capsys):
    photos = tmp_path / "photos"
    _save(photos / "x.png", _photo())
    _save(photos / "sub" / "y.png", _photo(seed=1))
    summary = _enhance([photos], photos / "out", model)
    assert summary.done == 2
    assert sorted(_hashes(photos / "out")) == ["sub/y.png", "x.png"]  # outputs were not taken as inputs

    before = _hashes(photos)
    with pytest.raises(ValueError, match="inside the input folder .* not empty"):
        plan_jobs([str(photos)], photos / "out")
    assert main(["enhance", str(photos), "-o", str(photos / "out")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert _hashes(photos) == before


@pytest.mark.parametrize("options, message", [
    ({"ratio": "bright"}, "ratio"), ({"ratio": -2.0}, "ratio"),  # "Auto" is auto: any case (issue 29)
    ({"save": SaveOptions("jpg", bits=16)}, "16"), ({"save": SaveOptions("webp", quality=101)}, "quality"),
])  # fmt: skip
def test_bad_options_refused_before_any_work(tmp_path, options, message):
    _save(tmp_path / "x.png", _photo())
    with pytest.raises(ValueError, match=message):
        enhance_files([str(tmp_path / "x.png")], tmp_path / "out", model=None, progress=False, **options)
    assert not (tmp_path / "out").exists()


def test_bad_model_options_refused(runner):
    with pytest.raises(ValueError, match="tile"):
        KinD(runner, tile=8)
    with pytest.raises(ValueError, match="max_pixels"):
        KinD(runner, max_pixels=0)


def test_refuses_output_over_input(tmp_path):
    _save(tmp_path / "x.png", _photo())
    with pytest.raises(ValueError, match="the output would overwrite the input"):
        plan_jobs([str(tmp_path / "x.png")], tmp_path)
    with pytest.raises(ValueError, match="is the input folder .* not empty"):
        plan_jobs([str(tmp_path)], tmp_path)


def test_a_file_argument_makes_no_input_folder(tmp_path):
    """`kind enhance dark.jpg -o out/` may run again into a non-empty out/ beside the photo."""
    _save(tmp_path / "x.png", _photo())
    _save(tmp_path / "out" / "old.png", _photo())
    jobs = plan_jobs([str(tmp_path / "x.png")], tmp_path / "out").jobs
    assert [job.output for job in jobs] == [tmp_path / "out" / "x.png"]
    with pytest.raises(ValueError, match="is inside the input folder .* not empty"):
        plan_jobs([str(tmp_path / "*.png")], tmp_path / "out")  # a glob searches its folder


def test_refuses_output_into_an_input_folder(tmp_path):
    _save(tmp_path / "photos" / "a" / "a" / "x.png", _photo())  # photos/a → OUT=photos writes photos/a/x.png
    with pytest.raises(ValueError, match="into the input folder"):
        plan_jobs([str(tmp_path / "photos" / "a")], tmp_path / "photos")


def test_clashing_map_names_keep_their_suffix(tmp_path):
    """x.png's --save-maps file x_R.png would be the output of x_R.png: both keep their suffix."""
    _save(tmp_path / "in" / "x.png", _photo())
    _save(tmp_path / "in" / "x_R.png", _photo())
    _save(tmp_path / "in" / "y.png", _photo())
    plan = plan_jobs([str(tmp_path / "in")], tmp_path / "out", save_maps=True)
    assert [job.output.name for job in plan.jobs] == ["x.png.png", "x_R.png.png", "y.png"]
    assert plan.jobs[0].maps["R"].name == "x.png_R.png"
    assert all(job.error is None for job in plan.jobs) and len(plan.notices) == 1


def test_skip_existing(tmp_path, model):
    _save(tmp_path / "in" / "x.png", _photo())
    _save(tmp_path / "in" / "y.png", _photo(seed=1))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.png").write_bytes(b"earlier output")
    summary = _enhance([tmp_path / "in"], tmp_path / "out", model, skip_existing=True)
    assert (summary.done, summary.skipped, summary.failed) == (1, 1, [])
    assert (tmp_path / "out" / "x.png").read_bytes() == b"earlier output"
    assert _pixels(tmp_path / "out" / "y.png").shape == (H, W, 3)


# --- threads -----------------------------------------------------------------------------------------


def test_write_errors_are_reported_per_file(tmp_path, model):
    _save(tmp_path / "in" / "x.png", _photo())
    _save(tmp_path / "in" / "y.png", _photo(seed=1))
    (tmp_path / "out" / "x.png").mkdir(parents=True)  # the output path is a folder: the rename fails
    summary = _enhance([tmp_path / "in"], tmp_path / "out", model)
    assert summary.done == 1
    assert [path.name for path, _ in summary.failed] == ["x.png"]
    assert (tmp_path / "out" / "y.png").is_file()


def test_prefetch_is_bounded_and_writes_are_joined(tmp_path, monkeypatch):
    """Fake networks and a slow writer: reads stay ≤ PREFETCH + 1 ahead; every write ends before return."""
    for index in range(10):
        _save(tmp_path / "in" / f"{index}.png", _photo(4, 5, seed=index))
    started, enhanced, ahead = [], [], []
    read, save = enhance.read_image, enhance.save_image

    def counting_read(path, max_pixels):
        started.append(path)
        return read(path, max_pixels)

    class FakeModel:
        max_pixels = 1000

        def enhance_samples(self, samples, *args, **kwargs):
            ahead.append(len(started) - len(enhanced))
            enhanced.append(samples)
            return Photo(samples, {}, 5.0)

    def slow_save(*args, **kwargs):
        time.sleep(0.02)
        save(*args, **kwargs)

    monkeypatch.setattr(enhance, "read_image", counting_read)
    monkeypatch.setattr(enhance, "save_image", slow_save)
    summary = _enhance([tmp_path / "in"], tmp_path / "out", FakeModel())
    assert summary.done == 10
    assert len(list((tmp_path / "out").glob("*.png"))) == 10
    assert max(ahead) <= PREFETCH + 1
    assert not [t for t in threading.enumerate() if t.name.startswith(("kind-read", "kind-write"))]


def test_demo_enhances_the_bundled_samples_with_the_shipped_weights(tmp_path, capsys):
    """The README's first command: no download, no dataset."""
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 done, 0 failed" in printed and str(out.resolve()) in printed
    for name in ("coffee-dark", "chelsea-dark", "astronaut-dark"):
        assert (out / f"{name}.png").is_file() and (out / f"{name}_compare.png").is_file()
        assert (out / f"{name}_L.png").is_file()


# --- one clash never stops a batch (issue 13) -----------------------------------------------------------


def test_same_stem_inputs_keep_their_suffix_and_the_batch_runs(tmp_path, weights_dir, capsys):
    photos = tmp_path / "photos"
    _save(photos / "photo.tif", _photo())
    _save(photos / "photo.webp", _photo(seed=1), lossless=True)
    _save(photos / "other.png", _photo(seed=2))
    _save(photos / "sub" / "photo.jpg", _photo(seed=3), quality=90)  # another folder: no clash
    status = main(["enhance", str(photos), "-o", str(tmp_path / "out"), "--weights", str(weights_dir)])
    assert status == 0
    assert sorted(_hashes(tmp_path / "out")) == ["other.png", "photo.tif.png", "photo.webp.png", "sub/photo.png"]
    assert "4 done, 0 failed" in (printed := capsys.readouterr().out)
    assert "keep their suffix" in printed and "photo.tif.png" in printed


def test_a_clash_left_after_renaming_fails_that_file_only(tmp_path, model):
    _save(tmp_path / "a" / "x.png", _photo())
    _save(tmp_path / "b" / "x.png", _photo(seed=1))  # same name, two folders, named as files
    _save(tmp_path / "c" / "y.png", _photo(seed=2))
    summary = _enhance([tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", tmp_path / "c" / "y.png"],
                       tmp_path / "out", model)
    assert summary.done == 2 and sorted(_hashes(tmp_path / "out")) == ["x.png.png", "y.png"]
    assert [(path, "a/x.png" in reason) for path, reason in summary.failed] == [(tmp_path / "b" / "x.png", True)]


# --- outputs a photographer keeps (issue 13) ---------------------------------------------------------


def test_format_quality_exif_and_icc(tmp_path, weights_dir):
    image = Image.fromarray(_photo())
    exif = image.getexif()
    exif[0x0112] = 6  # shown rotated
    exif[0x0110] = "Camera X"
    _save(tmp_path / "in.jpg", image, exif=exif, icc_profile=b"the profile", quality=95)
    out = tmp_path / "out"
    assert main(["enhance", str(tmp_path / "in.jpg"), "-o", str(out), "--weights", str(weights_dir),
                 "--format", "jpg", "--quality", "80", "--quiet"]) == 0
    with Image.open(out / "in.jpg") as written:
        assert written.format == "JPEG" and written.size == (H, W)  # upright pixels
        assert written.getexif().get(0x0112, 1) == 1 and written.getexif()[0x0110] == "Camera X"
        assert written.info["icc_profile"] == b"the profile"


@pytest.mark.parametrize("fmt, suffix", [("png", ".png"), ("tiff", ".tif")])
def test_16_bit_outputs(tmp_path, weights_dir, fmt, suffix):
    gray16 = (np.random.default_rng(2).integers(0, 6000, (H, W))).astype(np.uint16)
    _save(tmp_path / "in16.png", Image.fromarray(gray16))
    _save(tmp_path / "in8.png", _photo())
    out = tmp_path / "out"
    assert main(["enhance", str(tmp_path / "in16.png"), str(tmp_path / "in8.png"), "-o", str(out), "--weights",
                 str(weights_dir), "--format", fmt, "--bits", "16", "--quiet"]) == 0
    for name in ("in16", "in8"):
        written = read_image(out / f"{name}{suffix}")
        assert written.bit_depth == 16 and written.samples.shape == (H, W, 3)
        assert len(np.unique(written.samples)) > 256  # more levels than 8 bits hold


@pytest.mark.parametrize("options, message", [
    (["--format", "jpg", "--bits", "16"], "16"), (["--format", "png", "--quality", "90"], "quality"),
])  # fmt: skip
def test_impossible_format_options_refused(tmp_path, capsys, options, message):
    _save(tmp_path / "x.png", _photo())
    assert main(["enhance", str(tmp_path / "x.png"), "-o", str(tmp_path / "out"), *options]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_alpha_into_jpeg_is_dropped_with_a_notice(tmp_path, model):
    _save(tmp_path / "x.png", np.dstack([_photo(), ALPHA]))
    summary = _enhance([tmp_path / "x.png"], tmp_path / "out", model, save=SaveOptions("jpg"))
    assert summary.done == 1 and any("alpha" in notice for notice in summary.notices)
    assert _pixels(tmp_path / "out" / "x.jpg").shape == (H, W, 3)


# --- nothing a user does by mistake loses work (issue 15) -------------------------------------------


@pytest.mark.parametrize("command", [["enhance", "x.png"], ["demo"], ["export-onnx"]])
@pytest.mark.parametrize("where", ["empty", "a file", "under a file"])
def test_bad_output_paths_refused_up_front(tmp_path, monkeypatch, capsys, command, where):
    """`-o ""` wrote into the current folder; a file as the output folder failed late."""
    monkeypatch.chdir(tmp_path)
    _save(tmp_path / "x.png", _photo())
    (tmp_path / "taken").write_text("a file")
    out = {"empty": "", "a file": "taken", "under a file": "taken/out"}[where]
    argv = command + [out] if command[0] == "export-onnx" else command + ["-o", out]
    before = sorted(tmp_path.iterdir())
    assert main(argv) == 2
    assert ("empty path" if where == "empty" else "taken") in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == before


def test_max_pixels_refuses_large_images_from_their_header(tmp_path, weights_dir, capsys, monkeypatch):
    """A 12000×12000 PNG took 8 GB and 11 minutes; --max-pixels refuses such a file before decoding."""
    _save(tmp_path / "in" / "big.png", _photo(40, 60))
    _save(tmp_path / "in" / "small.png", _photo())
    decoded = []
    load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or load(self))
    status = main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(weights_dir),
                   "--max-pixels", "1000", "--quiet"])
    assert status == 1
    report = capsys.readouterr().out
    assert "1 done, 1 failed" in report and "big.png: image too large (60 x 40 = 2,400 pixels, limit 1,000)" in report
    assert (60, 40) not in decoded and (W, H) in decoded
    assert sorted(_hashes(tmp_path / "out")) == ["small.png"]


def test_folders_through_links_are_enhanced_and_loops_reported(tmp_path, model):
    _save(tmp_path / "elsewhere" / "b.png", _photo())
    _save(tmp_path / "photos" / "a.png", _photo(seed=1))
    (tmp_path / "photos" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "photos" / "loop").symlink_to(tmp_path / "photos")
    summary = _enhance([tmp_path / "photos"], tmp_path / "out", model)
    assert summary.done == 2 and sorted(_hashes(tmp_path / "out")) == ["a.png", "linked/b.png"]
    assert any("loop" in notice and "skipped" in notice for notice in summary.notices)


def test_animated_gif_gives_its_first_frame_with_a_notice(tmp_path, model, capsys):
    frames = [Image.fromarray(_photo(seed=index)).quantize(64) for index in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    summary = _enhance([tmp_path / "anim.gif"], tmp_path / "out", model)
    assert summary.done == 1
    assert any("3 frames (animated); the first is enhanced" in notice for notice in summary.notices)
    first = np.asarray(frames[0].convert("RGB"))
    np.testing.assert_array_equal(_pixels(tmp_path / "out" / "anim.png"), model(first))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_shards_hold_every_job_exactly_once(tmp_path, size):
    for i in range(7):
        Image.new("RGB", (4, 4)).save(tmp_path / f"in{i}.png")
    plan = plan_jobs([tmp_path], tmp_path / "out")
    plan.notices.append("a plan notice")
    shares = [shard_plan(plan, rank, size) for rank in range(size)]
    assert sorted(job.output for share in shares for job in share.jobs) == sorted(job.output for job in plan.jobs)
    assert [share.notices for share in shares] == [["a plan notice"]] + [[]] * (size - 1)
    with pytest.raises(ValueError, match="rank 2 of 2"):
        shard_plan(plan, 2, 2)


def test_merged_summary_adds_counts_and_keeps_every_failure():
    a = Summary(done=3, failed=[(Path("x.png"), "bad")], skipped=1, seconds=2.0, notices=["n"])
    b = Summary(done=2, failed=[(Path("y.png"), "worse")], skipped=0, seconds=3.5)
    merged = merge_summaries([a, b])
    assert (merged.done, merged.skipped, merged.seconds, merged.notices) == (5, 1, 3.5, ["n"])
    assert merged.as_dict()["failed"] == [{"input": "x.png", "reason": "bad"}, {"input": "y.png", "reason": "worse"}]
