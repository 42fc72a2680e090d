"""Tests of kind.evaluation.score: pairing by stem, errors, the result dict and the text report."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kind.cli import main
from kind.evaluation.score import format_report, match_by_stem, score_folders
from kind.io.inputs import natural_key
from kind.metrics import MetricOptions, loe, niqe, psnr, ssim


def _save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def _img(seed: int, shape=(16, 20, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture
def folders(tmp_path):
    """pred/{1,2,10,extra}.png and gt/{1,2,10,3}.png (3 has no prediction, extra no ground truth)."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    for seed, stem in enumerate(["1", "2", "10"]):
        _save(gt / f"{stem}.png", _img(seed))
        _save(pred / f"{stem}.png", _img(seed + 100))
    _save(gt / "3.png", _img(7))
    _save(pred / "extra.png", _img(8))
    (pred / "notes.txt").write_text("not an image")
    (pred / "sub").mkdir()
    _save(pred / "sub" / "4.png", _img(9))  # not searched
    return pred, gt


class TestMatch:
    def test_pairs_missing_extra(self, folders):
        pred, gt = folders
        pairs, missing, extra = match_by_stem(pred, gt)
        assert [p.stem for p in pairs] == ["1", "2", "10"]  # natural order
        assert all(p.pred == pred / f"{p.stem}.png" and p.gt == gt / f"{p.stem}.png" for p in pairs)
        assert missing == ["3.png"]
        assert extra == ["extra.png"]

    def test_png_matches_jpg_and_case(self, tmp_path):
        _save(tmp_path / "gt" / "a1.png", _img(0))
        _save(tmp_path / "pred" / "a1.jpg", _img(0))
        _save(tmp_path / "gt" / "b.PNG", _img(1))
        _save(tmp_path / "pred" / "b.TIFF", _img(1))
        pairs, missing, extra = match_by_stem(tmp_path / "pred", tmp_path / "gt")
        got = [(p.stem, p.pred.name, p.gt.name) for p in pairs]
        assert got == [("a1", "a1.jpg", "a1.png"), ("b", "b.TIFF", "b.PNG")]
        assert missing == [] and extra == []

    def test_duplicate_stem_rejected(self, folders):
        pred, gt = folders
        _save(pred / "2.jpg", _img(3))
        with pytest.raises(ValueError, match=r"stem '2': 2\.jpg and 2\.png"):
            match_by_stem(pred, gt)

    def test_missing_folder(self, tmp_path):
        with pytest.raises(ValueError, match="no such folder"):
            match_by_stem(tmp_path / "nope", tmp_path)

    @pytest.mark.parametrize(
        "names, expected",
        [
            (["10", "2", "1"], ["1", "2", "10"]),
            (["img10", "img2", "Img3"], ["img2", "Img3", "img10"]),
            (["a", "1", "b2"], ["1", "a", "b2"]),
        ],
    )
    def test_natural_key(self, names, expected):
        assert sorted(names, key=natural_key) == expected


class TestScore:
    def test_values_and_json(self, folders):
        pred, gt = folders
        result = score_folders(pred, gt)
        assert list(result["per_image"]) == ["1", "2", "10"]
        for seed, stem in enumerate(["1", "2", "10"]):
            got = result["per_image"][stem]
            assert got["psnr"] == psnr(_img(seed + 100), _img(seed))
            assert got["ssim"] == ssim(_img(seed + 100), _img(seed))
        per_image_psnr = [s["psnr"] for s in result["per_image"].values()]
        assert result["mean"]["psnr"] == pytest.approx(np.mean(per_image_psnr))
        assert result["missing"] == ["3.png"] and result["extra"] == ["extra.png"]
        assert result["settings"] == {"y_channel": False, "crop_border": 0, "loe_inputs": None,
                                      "loe_variant": "npe", "niqe_channel": "gray", "niqe_params": "live"}
        assert result["metrics"] == ["psnr", "ssim"] and result["failed"] == {}
        assert json.loads(json.dumps(result, allow_nan=False)) == result

    def test_y_channel_and_crop(self, folders):
        pred, gt = folders
        result = score_folders(pred, gt, y_channel=True, crop_border=2)
        assert set(result["mean"]) == {"psnr", "ssim"}
        expected = psnr(_img(100), _img(0), crop_border=2, y_channel=True)
        assert result["per_image"]["1"]["psnr"] == expected
        assert result["settings"]["y_channel"] is True and result["settings"]["crop_border"] == 2

    def test_identical_gives_inf(self, tmp_path):
        _save(tmp_path / "p" / "1.png", _img(0))
        _save(tmp_path / "g" / "1.png", _img(0))
        result = score_folders(tmp_path / "p", tmp_path / "g")
        assert math.isinf(result["mean"]["psnr"]) and result["mean"]["ssim"] == pytest.approx(1.0)
        assert "inf" in format_report(result)
        json.dumps(result)  # writes Infinity

    def test_loe_inputs(self, folders, tmp_path):
        pred, gt = folders
        low = tmp_path / "low"
        for seed, stem in enumerate(["1", "2", "10"]):
            _save(low / f"{stem}.png", _img(seed + 200))
        result = score_folders(pred, gt, with_loe_inputs=low)
        assert result["per_image"]["2"]["loe"] == loe(_img(201), _img(101))
        assert "loe" in result["mean"] and result["settings"]["loe_inputs"] == str(low)
        (low / "10.png").unlink()
        with pytest.raises(ValueError, match="no low-light input .* for: 10"):
            score_folders(pred, gt, with_loe_inputs=low)

    def test_size_mismatch_reported_and_skipped(self, folders):
        pred, gt = folders
        _save(pred / "2.png", _img(0, (16, 21, 3)))
        result = score_folders(pred, gt)
        assert list(result["per_image"]) == ["1", "10"] and list(result["failed"]) == ["2"]
        assert re.search(r"size mismatch: .*2\.png is 21x16, .*2\.png is 20x16", result["failed"]["2"])
        assert result["mean"]["psnr"] == pytest.approx(np.mean([result["per_image"][s]["psnr"] for s in ("1", "10")]))
        assert "skipped 2: size mismatch" in format_report(result)

    def test_no_pairs_rejected(self, tmp_path):
        _save(tmp_path / "p" / "a.png", _img(0))
        _save(tmp_path / "g" / "b.png", _img(0))
        with pytest.raises(ValueError, match="shares a file stem"):
            score_folders(tmp_path / "p", tmp_path / "g")

    def test_unreadable_file_reported_and_skipped(self, folders):
        pred, gt = folders
        (pred / "1.png").write_bytes(b"not a png")
        (gt / "10.png").write_bytes((gt / "10.png").read_bytes()[:60])  # truncated
        result = score_folders(pred, gt)
        assert list(result["per_image"]) == ["2"] and sorted(result["failed"]) == ["1", "10"]
        assert re.search(r"cannot read image .*1\.png", result["failed"]["1"])
        assert re.search(r"cannot read image .*10\.png", result["failed"]["10"])

    def test_gray_and_alpha_files_read_as_rgb(self, tmp_path):
        rgb = _img(0)
        gray = rgb[:, :, 0]
        _save(tmp_path / "p" / "1.png", gray)
        _save(tmp_path / "g" / "1.png", np.dstack([gray, gray, gray, np.full_like(gray, 255)]))
        result = score_folders(tmp_path / "p", tmp_path / "g")
        assert math.isinf(result["per_image"]["1"]["psnr"])


def test_format_report(folders):
    pred, gt = folders
    text = format_report(score_folders(pred, gt))
    lines = text.splitlines()
    assert lines[0] == "PSNR / SSIM on RGB, crop_border 0"
    assert lines[1].split() == ["image", "psnr", "ssim"]
    assert [line.split()[0] for line in lines[2:6]] == ["1", "2", "10", "mean"]
    assert "missing (ground truth without prediction): 3.png" in text
    assert "extra (prediction without ground truth): extra.png" in text


# --- no-reference scoring --------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path):
    """pred/{a,b}.png of 96x192 (two NIQE blocks) and low/{a,b}.png, their darker inputs."""
    pred, low = tmp_path / "pred", tmp_path / "low"
    for seed, stem in enumerate(["a", "b"]):
        img = _img(seed, (96, 192, 3))
        _save(pred / f"{stem}.png", img)
        _save(low / f"{stem}.png", img // 4)
    return pred, low


class TestNoReference:
    def test_niqe_by_default(self, photos):
        pred, _ = photos
        result = score_folders(pred)
        assert result["metrics"] == ["niqe"] and result["missing"] == result["extra"] == []
        for seed, stem in enumerate(["a", "b"]):
            assert result["per_image"][stem] == {"niqe": niqe(_img(seed, (96, 192, 3)))}
        assert result["mean"]["niqe"] == pytest.approx(np.mean([niqe(_img(s, (96, 192, 3))) for s in (0, 1)]))

    def test_loe_and_options(self, photos):
        pred, low = photos
        result = score_folders(pred, with_loe_inputs=low, options=MetricOptions("y", "kindpp", "bimef"))
        assert result["metrics"] == ["loe", "niqe"]
        img = _img(1, (96, 192, 3))
        assert result["per_image"]["b"] == {"loe": loe(img // 4, img, variant="bimef"),
                                            "niqe": niqe(img, channel="y", params="kindpp")}
        assert result["settings"]["niqe_channel"] == "y" and result["settings"]["loe_variant"] == "bimef"
        assert "LOE (bimef)" in format_report(result) and "NIQE on Y (BasicSR), kindpp" in format_report(result)

    def test_niqe_beside_psnr(self, photos, tmp_path):
        pred, low = photos
        result = score_folders(pred, low, metrics=["niqe", "psnr"])
        assert result["metrics"] == ["psnr", "niqe"] and set(result["per_image"]["a"]) == {"psnr", "niqe"}

    def test_too_small_for_niqe_is_skipped(self, photos):
        pred, _ = photos
        _save(pred / "small.png", _img(5, (95, 300, 3)))
        result = score_folders(pred)
        assert list(result["per_image"]) == ["a", "b"]
        assert "small.png: NIQE needs at least two whole 96x96 blocks" in result["failed"]["small"]

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"metrics": ["psnr"]}, "need ground truths"),
            ({"metrics": ["loe"]}, "needs the low-light inputs"),
            ({"metrics": ["lpips"]}, "expected some of psnr, ssim, loe, niqe"),
            ({"options": {"niqe_channel": "rgb"}}, "NIQE channel: expected one of gray, y"),
            ({"options": {"loe_variant": "star"}}, "LOE variant: expected one of npe, bimef"),
        ],
    )
    def test_bad_requests(self, photos, kwargs, match):
        with pytest.raises(ValueError, match=match):
            if "options" in kwargs:
                kwargs = {"options": MetricOptions(**kwargs["options"])}
            score_folders(photos[0], **kwargs)


def test_cli_no_reference(photos, tmp_path, capsys):
    pred, low = photos
    report = tmp_path / "s.json"
    assert main(["score", "--pred", str(pred), "--loe-inputs", str(low), "--json", str(report), "--quiet"]) == 0
    result = json.loads(report.read_text())
    assert result["gt"] is None and result["metrics"] == ["loe", "niqe"]
    assert set(result["per_image"]) == {"a", "b"} and set(result["mean"]) == {"loe", "niqe"}
    assert "NIQE on MATLAB rgb2gray, live parameters" in capsys.readouterr().out
    assert main(["score", "--pred", str(pred), "--metrics", "psnr"]) == 2
    assert "need ground truths (--gt)" in capsys.readouterr().err


def test_cli_bad_pair_is_skipped_with_status_1(folders, tmp_path, capsys):
    pred, gt = folders
    (gt / "3.png").unlink()
    (pred / "extra.png").unlink()
    _save(pred / "2.png", _img(0, (16, 21, 3)))
    report = tmp_path / "s.json"
    assert main(["score", "--pred", str(pred), "--gt", str(gt), "--json", str(report), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "1 image(s) skipped: 2" in captured.err and "skipped 2: size mismatch" in captured.out
    result = json.loads(report.read_text())
    assert list(result["per_image"]) == ["1", "10"] and list(result["failed"]) == ["2"]


def test_cli_json_path_checked_before_scoring(folders, tmp_path, capsys, monkeypatch):
    pred, gt = folders
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr("kind.evaluation.score.score_folders", lambda *a, **k: pytest.fail("scored before the check"))
    assert main(["score", "--pred", str(pred), "--gt", str(gt), "--json", str(blocker / "s.json")]) == 2
    assert "--json" in capsys.readouterr().err


def test_cli_choices_are_the_librarys():
    from kind import metrics
    from kind.cli import build_parser
    from kind.evaluation import score

    choices = {action.dest: action.choices for action in build_parser()._subparsers._group_actions[0].choices["score"]._actions}
    assert tuple(choices["niqe_channel"]) == metrics.NIQE_CHANNELS and tuple(choices["loe_variant"]) == metrics.LOE_VARIANTS
    assert tuple(choices["niqe_params"]) == tuple(metrics.NIQE_PARAMS) and score.SCORE_METRICS == ("psnr", "ssim", "loe", "niqe")