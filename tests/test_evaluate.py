"""Tests for kind.evaluation.evaluate and ``kind score`` / ``kind eval`` / ``kind table``.

The networks are random-initialised and saved as a weights folder; the pairs are tiny synthetic
images. The official protocol is checked byte for byte against an independent numpy recomputation
of ``evaluate_LOLdataset.py``; the reference eval15 numbers need ../shared (skipped without it).
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from conftest import shared_path, write_pairs

import kind.evaluation.evaluate
from kind.cli import main
from kind.evaluation.evaluate import PROTOCOLS, evaluate_folder, read_pair
from kind.evaluation.protocols import EvalError, check_protocol, enhance_kindpp, enhance_pair, gt_mean_rescale, ratio_rule
from kind.evaluation.score import score_folders
from kind.imageops import minmax_stretch, to_image, to_tensor
from kind.inference.pipeline import AUTO_RANGE, enhance_general
from kind.inference.runner import Runner, load_runner
from kind.metrics import MetricOptions, loe, niqe, psnr, saturation, ssim
from kind.weights.format import load_weights_dir

ROOT = Path(__file__).resolve().parents[1]
H, W = 24, 36


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs"), count=2, height=H, width=W)


@pytest.fixture(scope="module")
def runner(weights_dir: Path):
    return load_runner(weights_dir, device="cpu")


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).copy()


# --- official protocol, byte for byte -------------------------------------------------------------


def _lol_reference(nets, low_file: Path, high_file: Path, kindpp: bool = False) -> tuple[np.ndarray, float, float]:
    """evaluate_LOLdataset.py in numpy, with the nets called directly: (uint8 output, ratio used,
    the illumination ratio). ``kindpp``: KinD_plus's version, which adds
    ``ratio2 = mean(R_high / (R̂ + 1e-4))`` to the ratio when ``ratio2 >= 1.1``."""

    def load_images(file: Path) -> np.ndarray:  # utils.load_images
        img = np.array(Image.open(file), dtype="float32") / 255.0
        return np.float32((img - img.min()) / np.maximum(img.max() - img.min(), 0.001))

    def nchw(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).permute(2, 0, 1)[None].contiguous()

    def nhwc(x: torch.Tensor) -> np.ndarray:
        return x[0].permute(1, 2, 0).numpy()

    with torch.inference_mode():
        r_low, i_low = nets.decom(nchw(load_images(low_file)))
        r_high, i_high = nets.decom(nchw(load_images(high_file)))
        restored = nets.restore(r_low, i_low)
        ratio = np.mean(nhwc(i_high) / (nhwc(i_low) + 0.0001))
        used = ratio
        if kindpp:
            ratio2 = np.mean(nhwc(r_high) / (nhwc(restored) + 0.0001))
            used = ratio if ratio2 < 1.1 else ratio + ratio2
        plane = np.ones(i_low.shape[2:]) * used  # float64, fed to a float32 placeholder
        adjusted = nets.adjust(i_low, torch.from_numpy(plane.astype(np.float32))[None, None])
    fusion = nhwc(restored) * nhwc(adjusted)
    return np.clip(fusion * 255.0, 0, 255.0).astype("uint8"), float(np.float32(used)), float(ratio)


def test_cli_official_matches_independent_recomputation(tmp_path, weights_dir, data, monkeypatch, capsys):
    def reference_runner(weights, device, precision):  # the plain eager networks, as called below
        return Runner(load_weights_dir(weights), device, precision, fast=False)

    monkeypatch.setattr(kind.evaluation.evaluate, "load_runner", reference_runner)
    out, report = tmp_path / "out", tmp_path / "official.json"
    status = main(["eval", "--data", str(data), "--weights", str(weights_dir), "--protocol", "official",
                   "--out", str(out), "--json", str(report), "--device", "cpu", "--quiet"])
    assert status == 0
    assert "protocol official" in capsys.readouterr().out
    result = json.loads(report.read_text())
    assert result["protocol"] == "official" and result["weights"] == str(weights_dir)
    assert sorted(result["per_image"]) == ["1", "2"] and sorted(p.name for p in out.iterdir()) == ["1.png", "2.png"]

    nets = load_weights_dir(weights_dir)
    for stem, scores in result["per_image"].items():
        low_file, high_file = data / "low" / f"{stem}.png", data / "high" / f"{stem}.png"
        expected, ratio, _ = _lol_reference(nets, low_file, high_file)
        written, gt, low = _pixels(out / f"{stem}.png"), _pixels(high_file), _pixels(low_file)
        assert np.array_equal(written, expected)
        assert scores["ratio"] == ratio
        assert scores["psnr"] == psnr(written, gt) and scores["ssim"] == ssim(written, gt)
        assert scores["psnr_y"] == psnr(written, gt, y_channel=True)
        assert scores["ssim_y"] == ssim(written, gt, y_channel=True)
        assert scores["loe"] == loe(low, written)
        assert scores["seconds"] > 0
    for key in ("psnr", "ssim", "psnr_y", "ssim_y", "loe"):
        assert result["mean"][key] == pytest.approx(np.mean([s[key] for s in result["per_image"].values()]))
    assert result["mean"]["seconds"] == pytest.approx(np.median([s["seconds"] for s in result["per_image"].values()]))
    # the same files through `kind score`: the same numbers
    scored = score_folders(out, data / "high")
    assert {k: v["psnr"] for k, v in scored["per_image"].items()} == {
        k: v["psnr"] for k, v in result["per_image"].items()
    }


# --- every protocol -------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_each_protocol_runs(tmp_path, runner, data, protocol):
    use = None if protocol == "input" else runner
    result = evaluate_folder(data, use, protocol, out_dir=tmp_path / "out", progress=False)
    assert result["protocol"] == protocol and result["count"] == 2 and result["ratio_rule"] == ratio_rule(protocol)
    assert set(result["mean"]) == {"psnr", "ssim", "psnr_y", "ssim_y", "loe", "niqe", "saturation", "gt_saturation", "seconds"}
    assert result["mean"]["niqe"] is None  # 24x36 images: smaller than two 96x96 blocks
    for stem, scores in result["per_image"].items():
        written = _pixels(tmp_path / "out" / f"{stem}.png")
        assert scores["psnr"] == psnr(written, _pixels(data / "high" / f"{stem}.png"))
        ratio = scores["ratio"]
        if protocol == "input":
            assert ratio is None and scores["seconds"] is None and scores["loe"] == 0
            assert np.array_equal(written, _pixels(data / "low" / f"{stem}.png"))
        elif protocol == "fixed":
            assert ratio == 5.0
        elif protocol == "auto":
            assert AUTO_RANGE[0] <= ratio <= AUTO_RANGE[1]
        else:
            assert ratio > 0
    assert (result["mean"]["seconds"] is None) == (protocol == "input")


def test_gt_ratio_is_the_general_pipeline_at_the_official_ratio(tmp_path, runner, data):
    official = evaluate_folder(data, runner, "official", progress=False)
    gt_ratio = evaluate_folder(data, runner, "gt-ratio", out_dir=tmp_path, progress=False)
    for stem, scores in gt_ratio["per_image"].items():
        assert scores["ratio"] == official["per_image"][stem]["ratio"]
        low = np.asarray(Image.open(data / "low" / f"{stem}.png"), dtype=np.float32) / np.float32(255)
        ratio = torch.tensor([scores["ratio"]])
        expected = to_image(enhance_general(runner, minmax_stretch(to_tensor(low)), ratio).output)
        assert np.array_equal(_pixels(tmp_path / f"{stem}.png"), expected)


def test_fixed_ratio_is_used(runner, data):
    result = evaluate_folder(data, runner, "fixed", ratio=2.5, progress=False)
    assert all(s["ratio"] == 2.5 for s in result["per_image"].values())
    assert result["ratio"] == 2.5 and "fixed 2.5" in result["ratio_rule"]


@pytest.mark.parametrize(
    "protocol, ratio, message",
    [
        ("official", 3.0, "fixed' only"),
        ("auto", 1.0, "fixed' only"),
        ("fixed", -1.0, "from 0 to 1000"),
        ("best", None, "expected one of"),
    ],
)
def test_bad_protocol_or_ratio(protocol, ratio, message):
    with pytest.raises(EvalError, match=message):
        check_protocol(protocol, ratio)


def test_cli_eval_errors(tmp_path, weights_dir, data, capsys):
    base = ["eval", "--data", str(data), "--weights", str(weights_dir), "--device", "cpu", "--quiet"]
    assert main([*base, "--protocol", "official", "--ratio", "3"]) == 2
    assert "fixed' only" in capsys.readouterr().err
    before = _pixels(data / "high" / "1.png")
    assert main([*base, "--protocol", "fixed", "--out", str(data / "high")]) == 2
    assert "overwrite inputs" in capsys.readouterr().err
    assert np.array_equal(_pixels(data / "high" / "1.png"), before)
    assert main(["eval", "--data", str(tmp_path), "--protocol", "input"]) == 2
    assert "low/ and high/" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--protocol", "fixed", "--ratio", "auto"])
    assert "--protocol auto" in capsys.readouterr().err


def test_cli_input_needs_no_weights(tmp_path, data, capsys):
    report = tmp_path / "input.json"
    assert main(["eval", "--data", str(data), "--protocol", "input", "--json", str(report), "--quiet"]) == 0
    result = json.loads(report.read_text())
    assert result["weights"] is None and result["device"] == "none" and result["mean"]["loe"] == 0


def test_input_protocol_on_eval15():
    eval15 = shared_path("data", "lol", "eval15")
    result = evaluate_folder(eval15, None, "input", progress=False)
    assert result["count"] == 15
    assert result["mean"]["psnr"] == pytest.approx(7.773, abs=5e-4)
    assert result["mean"]["ssim"] == pytest.approx(0.1952, abs=5e-5)


# --- KinD++'s protocol and the GT-mean rescaling, on two pairs --------------------------------------


def test_kindpp_matches_independent_recomputation(tmp_path, weights_dir, data):
    runner = Runner(load_weights_dir(weights_dir), "cpu", "fp32", fast=False)
    result = evaluate_folder(data, runner, "kindpp", out_dir=tmp_path, progress=False)
    nets = load_weights_dir(weights_dir)
    for stem, scores in result["per_image"].items():
        low_file, high_file = data / "low" / f"{stem}.png", data / "high" / f"{stem}.png"
        expected, used, ratio = _lol_reference(nets, low_file, high_file, kindpp=True)
        assert np.array_equal(_pixels(tmp_path / f"{stem}.png"), expected)
        assert scores["ratio"] == pytest.approx(used, rel=1e-6) and used >= ratio
    assert "KinD++" in result["ratio_rule"]


class _StubRunner:
    """Constant maps: L_low 0.2, L_high 0.6, R_high 0.9, restored reflectance ``restored``."""

    def __init__(self, restored: float):
        self.restored, self.ratios = restored, []

    def decompose(self, x):
        high = bool(x.mean() > 0.5)
        shape = (x.shape[0], 1, *x.shape[2:])
        return torch.full_like(x, 0.9 if high else 0.3), torch.full(shape, 0.6 if high else 0.2)

    def restore_reflectance(self, reflectance, illumination):
        return torch.full_like(reflectance, self.restored)

    def adjust_illumination(self, illumination, ratio):
        self.ratios.append(ratio)
        return illumination * ratio.view(-1, 1, 1, 1)


@pytest.mark.parametrize("restored, adds", [(0.5, True), (0.85, False)])
def test_kindpp_second_ratio(restored, adds):
    low, high = torch.full((1, 3, 4, 4), 0.1), torch.full((1, 3, 4, 4), 0.8)
    stub = _StubRunner(restored)
    result = enhance_kindpp(stub, low, high)
    ratio = np.float32(0.6) / (np.float32(0.2) + np.float32(1e-4))  # 2.9985
    ratio2 = np.float32(0.9) / (np.float32(restored) + np.float32(1e-4))  # 1.7997 (>= 1.1) or 1.0587 (< 1.1)
    expected = np.float32(ratio + ratio2) if adds else np.float32(ratio)
    assert float(result.ratio[0]) == pytest.approx(float(expected), rel=1e-6)
    assert torch.allclose(result.output, torch.full((1, 3, 4, 4), restored * 0.2 * float(expected)))


def _gray(x: np.ndarray) -> np.ndarray:
    """Retinexformer's gray: cv2.COLOR_BGR2GRAY (0.114 B + 0.587 G + 0.299 R of a BGR array) on RGB arrays."""
    return 0.299 * x[..., 2] + 0.587 * x[..., 1] + 0.114 * x[..., 0]


def test_gt_mean_rule(tmp_path, runner, data):
    rescaled = evaluate_folder(data, runner, "official", out_dir=tmp_path, progress=False, gt_mean=True)
    assert rescaled["gt_mean"] and "Retinexformer" in rescaled["gt_mean_rule"] and "GT" not in rescaled["ratio_rule"]
    for stem, scores in rescaled["per_image"].items():
        pair = read_pair(data / "low" / f"{stem}.png", data / "high" / f"{stem}.png")
        out = enhance_pair(runner, pair.low, pair.high, "official").output[0].permute(1, 2, 0).double().numpy()
        gt = pair.high[0].permute(1, 2, 0).double().numpy()
        factor = _gray(gt).mean() / _gray(out).mean()
        assert scores["gt_mean_factor"] == pytest.approx(factor, rel=1e-9)
        expected = to_image(torch.from_numpy(np.clip(out * factor, 0, 1)).permute(2, 0, 1)[None])
        assert np.array_equal(_pixels(tmp_path / f"{stem}.png"), expected)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_takes_gt_mean(tmp_path, runner, data, protocol):
    result = evaluate_folder(data, None if protocol == "input" else runner, protocol, out_dir=tmp_path,
                             progress=False, gt_mean=True)
    assert result["gt_mean"] and len(result["per_image"]) == 2
    for stem, scores in result["per_image"].items():
        written = _pixels(tmp_path / f"{stem}.png") / 255.0
        gt = _pixels(data / "high" / f"{stem}.png") / 255.0
        # the output now has the ground truth's mean gray, up to the 8-bit truncation and clipping
        assert _gray(written).mean() == pytest.approx(_gray(gt).mean(), abs=1.5 / 255)
        assert scores["gt_mean_factor"] > 0


def test_gt_mean_rescale_by_hand():
    out = torch.full((1, 3, 2, 2), 0.25)
    gt = torch.zeros(1, 3, 2, 2)
    gt[:, 2] = 1.0  # gray = 0.299 (blue carries 0.299 under the rule's channel order)
    rescaled, factor = gt_mean_rescale(out, gt)
    assert factor == pytest.approx(0.299 / 0.25) and torch.allclose(rescaled, torch.full_like(out, 0.299))
    brighter, _ = gt_mean_rescale(out, torch.ones(1, 3, 2, 2))
    assert torch.all(brighter == 1.0)  # x4, clipped


# --- folders of photos (no ground truth) ---------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SET/a.png and SET/sub/b.png: 96x192 dark photos (two NIQE blocks each)."""
    folder = tmp_path_factory.mktemp("photos") / "SET"
    yy, xx = np.mgrid[0:96, 0:192]
    for i, name in enumerate(["a.png", "sub/b.png"]):
        img = np.stack([40 + 30 * np.sin(xx / (5 + i) + c) * np.cos(yy / 7) for c in range(3)], axis=-1)
        img = img + np.random.default_rng(i).integers(0, 12, img.shape)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / name)
    return folder


@pytest.mark.parametrize("protocol", ["fixed", "auto", "input"])
def test_photo_folder(tmp_path, runner, photos, protocol):
    result = evaluate_folder(photos, None if protocol == "input" else runner, protocol, out_dir=tmp_path,
                             progress=False, options=MetricOptions(loe_variant="bimef", niqe_channel="y"))
    assert result["mode"] == "photos" and result["metrics"] == ["niqe", "loe", "saturation"] and result["count"] == 2
    assert list(result["per_image"]) == ["a", "sub/b"] and set(result["mean"]) == {"niqe", "loe", "saturation", "seconds"}
    assert (result["loe_variant"], result["niqe_channel"], result["niqe_params"]) == ("bimef", "y", "live")
    for key, scores in result["per_image"].items():
        written, low = _pixels(tmp_path / f"{key}.png"), _pixels(photos / f"{key}.png")
        assert scores["niqe"] == niqe(written, channel="y") and scores["loe"] == loe(low, written, variant="bimef")
        assert scores["saturation"] == saturation(written)
        if protocol == "input":
            assert np.array_equal(written, low) and scores["loe"] == 0 and scores["ratio"] is None
        elif protocol == "fixed":
            assert scores["ratio"] == 5.0 and scores["seconds"] > 0


@pytest.mark.parametrize(
    "protocol, kwargs, message",
    [
        ("official", {}, "needs ground truths"),
        ("fixed", {"gt_mean": True}, "--gt-mean needs ground truths"),
        ("fixed", {"out_dir": "INSIDE"}, "inside the photo folder"),
    ],
)
def test_photo_folder_refusals(runner, photos, protocol, kwargs, message):
    if kwargs.get("out_dir") == "INSIDE":
        kwargs = {"out_dir": photos / "enhanced"}
    with pytest.raises(EvalError, match=message):
        evaluate_folder(photos, runner, protocol, progress=False, **kwargs)


# --- output paths are checked before any work (issue 15) -----------------------------------------


@pytest.fixture
def no_work(monkeypatch):
    """Make loading weights or evaluating fail the test: the command must stop before."""
    monkeypatch.setattr(kind.evaluation.evaluate, "load_runner", lambda *a, **k: pytest.fail("weights loaded"))
    monkeypatch.setattr(kind.evaluation.evaluate, "evaluate_folder", lambda *a, **k: pytest.fail("evaluation started"))


@pytest.mark.parametrize("option", ["--json", "--out"])
@pytest.mark.parametrize("protocol", ["official", "input"])
def test_cli_eval_output_under_a_file_is_refused_first(tmp_path, weights_dir, data, no_work, capsys, option, protocol):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    argv = ["eval", "--data", str(data), "--weights", str(weights_dir), "--protocol", protocol, "--quiet",
            option, str(blocker / "x.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert option in err and "a-file is a file" in err


def test_cli_eval_out_is_a_file(tmp_path, weights_dir, data, no_work, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["eval", "--data", str(data), "--protocol", "input", "--out", str(blocker)]) == 2
    assert "--out" in capsys.readouterr().err and blocker.read_text() == ""


@pytest.mark.parametrize("protocol", ["official", "fixed"])
def test_cli_eval_refuses_an_image_over_max_pixels_before_any_work(data, photos, weights_dir, no_work, capsys, protocol):
    folder = data if protocol == "official" else photos  # pairs of 24x36 = 864 pixels; photos of 96x192
    limit = 800 if protocol == "official" else 96 * 192 - 1
    argv = ["eval", "--data", str(folder), "--weights", str(weights_dir), "--protocol", protocol, "--quiet",
            "--max-pixels", str(limit)]
    assert main(argv) == 2
    assert f"over the limit of {limit:,} (--max-pixels); refused before any work" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--out-md", "--out-json"])
def test_cli_table_output_under_a_file_is_refused_first(tmp_path, capsys, monkeypatch, option):
    monkeypatch.setattr("kind.evaluation.tables.write_table", lambda *a, **k: pytest.fail("table built"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["table", "--runs", str(tmp_path / "r.json"), option, str(blocker / "t")]) == 2
    assert option in capsys.readouterr().err


# --- kind score -----------------------------------------------------------------------------------


def _save(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (16, 20, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def score_dirs(tmp_path):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    for seed, stem in enumerate(["1", "2", "10"]):
        _save(gt / f"{stem}.png", seed)
        _save(pred / f"{stem}.png", seed + 100)
    return pred, gt


def test_cli_score_complete_is_status_0(tmp_path, score_dirs, capsys):
    pred, gt = score_dirs
    report = tmp_path / "s.json"
    assert main(["score", "--pred", str(pred), "--gt", str(gt), "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    expected = score_folders(pred, gt)
    assert result["mean"] == expected["mean"] and result["per_image"] == expected["per_image"]
    assert list(result["per_image"]) == ["1", "2", "10"] and result["missing"] == result["extra"] == []
    assert "mean" in capsys.readouterr().out


def test_cli_score_reports_missing_and_extra(tmp_path, score_dirs, capsys):
    pred, gt = score_dirs
    _save(gt / "3.png", 7)
    _save(pred / "extra.png", 8)
    report = tmp_path / "s.json"
    status = main(["score", "--pred", str(pred), "--gt", str(gt), "--json", str(report), "--y", "--crop", "2"])
    assert status == 1
    captured = capsys.readouterr()
    assert "3.png" in captured.out and "extra.png" in captured.out
    assert "1 ground truth(s) without a prediction, 1 prediction(s) without a ground truth" in captured.err
    result = json.loads(report.read_text())
    assert result["missing"] == ["3.png"] and result["extra"] == ["extra.png"]
    assert result["per_image"] == score_folders(pred, gt, y_channel=True, crop_border=2)["per_image"]
    assert result["settings"] == {"y_channel": True, "crop_border": 2, "loe_inputs": None,
                                  "loe_variant": "npe", "niqe_channel": "gray", "niqe_params": "live"}


def test_cli_score_loe_and_bad_folder(tmp_path, score_dirs, capsys):
    pred, gt = score_dirs
    assert main(["score", "--pred", str(pred), "--gt", str(gt), "--loe-inputs", str(gt)]) == 0
    assert "loe" in capsys.readouterr().out
    assert main(["score", "--pred", str(tmp_path / "none"), "--gt", str(gt)]) == 2


@pytest.mark.slow  # runs the script
def test_reproduce_script(tmp_path, weights_dir, data, photos, capsys):
    spec = importlib.util.spec_from_file_location("reproduce_table", ROOT / "scripts" / "reproduce_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "table"
    argv = ["--data", str(data), "--weights", f"rand={weights_dir}", "--weights", f"none={tmp_path}",
            "--protocols", "official", "fixed", "--gt-mean", "official", "--noref", str(photos),
            "--out", str(out), "--device", "cpu", "--quiet"]
    assert script.main(argv) == 0
    written = sorted(p.name for p in (out / "runs").glob("*.json"))
    assert written == ["SET-input.json", "SET-rand-auto.json", "SET-rand-fixed.json", "input.json",
                       "rand-fixed.json", "rand-official-gtmean.json", "rand-official.json"]
    assert (out / "images" / "SET-rand-auto" / "sub" / "b.png").is_file() and (out / "results.json").is_file()
    table = (out / "results.md").read_text()
    assert "| rand | official |" in table and "| rand | fixed 5 |" in table and "| — (low input) | input |" in table
    assert "| rand | official + GT mean |" in table
    assert "| weights | protocol | SET (2) |" in table and "| rand | auto |" in table and "| — (input) | input |" in table
    assert "skipping none" in capsys.readouterr().err


def test_the_eval_report_keeps_every_header_apart():
    from kind.evaluation.evaluate import format_eval_report

    metrics = ["psnr", "ssim", "loe", "niqe", "saturation", "gt_saturation"]
    result = {"protocol": "input", "ratio_rule": "r", "weights_label": None, "data": "d", "device": "none",
              "loe_variant": "npe", "niqe_channel": "gray", "niqe_params": "live", "metrics": metrics,
              "per_image": {"1": {key: 1.0 for key in [*metrics, "seconds", "ratio"]}},
              "mean": {key: 1.0 for key in [*metrics, "seconds"]}}
    header = next(line for line in format_eval_report(result).splitlines() if line.startswith("image"))
    assert header.split() == ["image", *metrics, "seconds", "ratio"]
