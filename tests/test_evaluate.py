"""Tests for kind.evaluate and ``kind score`` / ``kind eval`` / ``kind table``.

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

import kind.evaluate
from conftest import shared_path, write_pairs
from kind.cli import EVAL_PROTOCOLS, main
from kind.enhance import load_runner, to_image, to_tensor
from kind.evaluate import (
    PROTOCOLS,
    REPORTED,
    EvalError,
    check_protocol,
    evaluate_folder,
    ratio_rule,
    results_table,
    table_rows,
)
from kind.metrics import loe, psnr, ssim
from kind.pipeline import AUTO_RANGE, Runner, enhance_general, minmax_stretch
from kind.score import score_folders
from kind.weights import load_weights_dir

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


def _official_reference(nets, low_file: Path, high_file: Path) -> tuple[np.ndarray, float]:
    """evaluate_LOLdataset.py in numpy, with the nets called directly: (uint8 output, ratio)."""

    def load_images(file: Path) -> np.ndarray:  # utils.load_images
        img = np.array(Image.open(file), dtype="float32") / 255.0
        return np.float32((img - img.min()) / np.maximum(img.max() - img.min(), 0.001))

    def nchw(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).permute(2, 0, 1)[None].contiguous()

    def nhwc(x: torch.Tensor) -> np.ndarray:
        return x[0].permute(1, 2, 0).numpy()

    with torch.inference_mode():
        r_low, i_low = nets.decom(nchw(load_images(low_file)))
        _, i_high = nets.decom(nchw(load_images(high_file)))
        restored = nets.restore(r_low, i_low)
        ratio = np.mean(nhwc(i_high) / (nhwc(i_low) + 0.0001))
        plane = np.ones(i_low.shape[2:]) * ratio  # float64, fed to a float32 placeholder
        adjusted = nets.adjust(i_low, torch.from_numpy(plane.astype(np.float32))[None, None])
    fusion = nhwc(restored) * nhwc(adjusted)
    return np.clip(fusion * 255.0, 0, 255.0).astype("uint8"), float(ratio)


def test_cli_official_matches_independent_recomputation(tmp_path, weights_dir, data, monkeypatch, capsys):
    def reference_runner(weights, device, precision):  # the plain eager networks, as called below
        return Runner(load_weights_dir(weights), device, precision, fast=False)

    monkeypatch.setattr(kind.evaluate, "load_runner", reference_runner)
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
        expected, ratio = _official_reference(nets, low_file, high_file)
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


def test_protocol_lists_agree():
    assert EVAL_PROTOCOLS == list(PROTOCOLS)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_each_protocol_runs(tmp_path, runner, data, protocol):
    use = None if protocol == "input" else runner
    result = evaluate_folder(data, use, protocol, out_dir=tmp_path / "out", progress=False)
    assert result["protocol"] == protocol and result["count"] == 2 and result["ratio_rule"] == ratio_rule(protocol)
    assert set(result["mean"]) == {"psnr", "ssim", "psnr_y", "ssim_y", "loe", "saturation", "gt_saturation", "seconds"}
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
        ("fixed", -1.0, ">= 0"),
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
    assert result["settings"] == {"y_channel": True, "crop_border": 2, "loe_inputs": None}


def test_cli_score_loe_and_bad_folder(tmp_path, score_dirs, capsys):
    pred, gt = score_dirs
    assert main(["score", "--pred", str(pred), "--gt", str(gt), "--loe-inputs", str(gt)]) == 0
    assert "loe" in capsys.readouterr().out
    assert main(["score", "--pred", str(tmp_path / "none"), "--gt", str(gt)]) == 2


# --- the table ------------------------------------------------------------------------------------


def _result(protocol: str, label: str, psnr_value: float, ratio: float | None = None) -> dict:
    return {
        "protocol": protocol,
        "ratio_rule": f"rule of {protocol}",
        "ratio": ratio,
        "weights": f"/w/{label}",
        "weights_label": label,
        "data": "/data/lol/eval15",
        "device": "CPU, 2 threads (fp32)",
        "count": 15,
        "mean": {"psnr": psnr_value, "ssim": 0.81234, "psnr_y": 22.0, "ssim_y": 0.83, "loe": 250.04, "seconds": 0.0426},
        "per_image": {},
    }


def test_table_rows_and_labels():
    results = [_result("official", "ours", 20.5), _result("fixed", "authors", 18.25, ratio=5.0)]
    table = results_table(results, ["ours-official.json", "authors-fixed.json"])
    lines = table.splitlines()
    assert lines[0].startswith("| weights | protocol | data | PSNR | SSIM | PSNR-Y | SSIM-Y | LOE | s/img | device |")
    body = [line for line in lines[2:] if line.startswith("|")]
    assert len(body) == len(REPORTED) + 2
    assert body[0] == (
        "| KinD (authors) | GT ratio (paper) | LOL eval15 | 20.87 | 0.8022 | — | — | — | — | — "
        "| reported: KinD paper (ACM MM 2019) |"
    )
    assert "| 20.86 | 0.790 |" in body[1] and "| 21.30 | 0.8226 |" in body[2] and "| 7.773 | 0.1952 |" in body[3]
    assert all("reported:" in row for row in body[:4])
    assert body[4] == ("| ours | official | eval15 | 20.500 | 0.8123 | 22.000 | 0.8300 | 250.0 | 0.043 | "
                       "CPU, 2 threads (fp32) | measured: ours-official.json |")
    assert body[5].startswith("| authors | fixed 5 | eval15 | 18.250 |")
    assert "- **official**: rule of official" in table and "- **fixed 5**: rule of fixed" in table


def test_table_rows_json_ready_and_validated():
    rows = table_rows([_result("auto", "ours", 19.0)])
    assert [row["status"] for row in rows] == ["reported"] * len(REPORTED) + ["measured"]
    assert rows[0]["psnr"] == 20.87 and rows[-1]["psnr"] == 19.0 and rows[-1]["weights"] == "ours"
    json.dumps(rows)
    with pytest.raises(ValueError, match="bad.json: not a kind eval result"):
        table_rows([{"mean": {}}], ["bad.json"])
    with pytest.raises(ValueError, match="list.json: not a kind eval result"):
        table_rows([[1, 2]], ["list.json"])
    assert math.isinf(table_rows([_result("official", "x", float("inf"))])[-1]["psnr"])
    assert "| a\\|b | official |" in results_table([_result("official", "a|b", 20.0)])


def test_cli_table_writes_files(tmp_path, capsys):
    runs = []
    for index, result in enumerate([_result("official", "ours", 20.0), _result("input", "—", 7.77)]):
        runs.append(tmp_path / f"{index}.json")
        runs[-1].write_text(json.dumps(result))
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    assert main(["table", "--runs", *map(str, runs), "--out-md", str(md), "--out-json", str(js)]) == 0
    assert md.read_text() == capsys.readouterr().out
    assert len(json.loads(js.read_text())["rows"]) == len(REPORTED) + 2
    assert main(["table", "--runs", str(tmp_path / "missing.json")]) == 2


def test_reproduce_script(tmp_path, weights_dir, data, capsys):
    spec = importlib.util.spec_from_file_location("reproduce_table", ROOT / "scripts" / "reproduce_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "table"
    argv = ["--data", str(data), "--weights", f"rand={weights_dir}", "--weights", f"none={tmp_path}",
            "--protocols", "official", "fixed", "--out", str(out), "--device", "cpu", "--quiet"]
    assert script.main(argv) == 0
    written = sorted(p.name for p in out.glob("*.json"))
    assert written == ["input.json", "rand-fixed.json", "rand-official.json", "results.json"]
    table = (out / "results.md").read_text()
    assert "| rand | official |" in table and "| rand | fixed 5 |" in table and "| — (low input) | input |" in table
    assert "skipping none" in capsys.readouterr().err
