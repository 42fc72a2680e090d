"""``kind diagnose``: every row is the product it claims, scored as ``kind eval`` scores.

Random-weight networks on tiny synthetic pairs; each row is recomputed here by hand with the plain
networks (no Runner) and the official protocol's ratio.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import write_pairs

from kind.cli import main
from kind.evaluation.diagnose import ROWS, STAGES, diagnose_folder
from kind.evaluation.evaluate import evaluate_folder, read_pair
from kind.imageops import minmax_stretch, to_image
from kind.inference.pipeline import lol_ratio
from kind.inference.runner import Runner
from kind.io.pairs import find_pairs
from kind.metrics import psnr, saturation, ssim
from kind.weights.format import content_sha256, load_weights_dir


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("diag") / "data", count=3, height=28, width=36)


@pytest.fixture(scope="module")
def runner(weights_dir):
    return Runner(load_weights_dir(weights_dir), "cpu", fast=False)


@pytest.fixture(scope="module")
def result(pairs_dir, runner):
    return diagnose_folder(pairs_dir, runner, progress=False)


def test_rows_are_the_products_they_claim(pairs_dir, weights_dir, result):
    nets = load_weights_dir(weights_dir)
    with torch.inference_mode():
        for low_path, high_path in find_pairs(pairs_dir):
            pair = read_pair(low_path, high_path)
            r_low, l_low = nets.decom(minmax_stretch(pair.low))
            r_high, l_high = nets.decom(minmax_stretch(pair.high))
            ratio = lol_ratio(l_low, l_high)
            restored = nets.restore(r_low, l_low)
            adjusted = nets.adjust(l_low, ratio)
            target = r_high ** 1.2
            expected = {
                "official": restored * adjusted,
                "recon": r_high * l_high,
                "ideal_reflectance": target * adjusted,
                "ideal_illumination": restored * l_high,
                "ideal_both": target * l_high,
                "unrestored": r_low * adjusted,
            }
            got = result["per_image"][pair.name]
            assert got["ratio"] == pytest.approx(float(ratio[0]), rel=1e-6)
            for name, image in expected.items():
                array = to_image(image)
                row = got["rows"][name]
                assert row["psnr"] == pytest.approx(psnr(array, pair.high_u8), abs=0.02), name
                assert row["ssim"] == pytest.approx(ssim(array, pair.high_u8), abs=1e-3), name
                assert row["saturation"] == pytest.approx(saturation(array), abs=1e-3), name
            gap = got["stages"]["reflectance_gap"]
            assert gap["psnr"] == pytest.approx(psnr(to_image(r_low), to_image(r_high)), abs=0.02)
            restoration = got["stages"]["restoration"]
            assert restoration["psnr"] == pytest.approx(psnr(to_image(restored), to_image(target)), abs=0.02)
            adjust_u8 = np.clip(adjusted[0, 0].numpy() * 255, 0, 255).astype(np.uint8)
            high_u8 = np.clip(l_high[0, 0].numpy() * 255, 0, 255).astype(np.uint8)
            assert got["stages"]["adjustment"]["psnr"] == pytest.approx(psnr(adjust_u8, high_u8), abs=0.02)
            assert got["gt_saturation"] == saturation(pair.high_u8)


def test_official_row_is_kind_eval_official(pairs_dir, runner, result):
    evaluated = evaluate_folder(pairs_dir, runner, "official", progress=False)
    for name, scores in evaluated["per_image"].items():
        assert result["per_image"][name]["rows"]["official"]["psnr"] == scores["psnr"]
        assert result["per_image"][name]["rows"]["official"]["ssim"] == scores["ssim"]
    assert result["rows"]["official"]["psnr"] == pytest.approx(evaluated["mean"]["psnr"])
    assert result["saturation"]["output"] == pytest.approx(evaluated["mean"]["saturation"])
    assert result["saturation"]["gt"] == pytest.approx(evaluated["mean"]["gt_saturation"])


def test_means_are_over_pairs(result):
    for name in ROWS:
        values = [item["rows"][name]["psnr"] for item in result["per_image"].values()]
        assert result["rows"][name]["psnr"] == pytest.approx(np.mean(values))
    assert set(result["stages"]) == set(STAGES)
    assert result["saturation"]["ratio"] == pytest.approx(result["saturation"]["output"] / result["saturation"]["gt"])


def test_cli_json_panels_and_weight_hashes(pairs_dir, weights_dir, tmp_path, capsys):
    out = tmp_path / "d.json"
    assert main(["diagnose", "--data", str(pairs_dir), "--weights", str(weights_dir), "--device", "cpu",
                 "--json", str(out), "--panels", str(tmp_path / "panels"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "ideal_reflectance" in printed and "saturation" in printed
    result = json.loads(out.read_text())
    assert result["weights"] == str(weights_dir)
    for name in ("official", "recon", "ideal_reflectance", "ideal_illumination"):
        assert set(result["rows"][name]) >= {"psnr", "ssim"}
    for network in ("decom", "restore", "adjust"):
        info = result["weight_files"][network]
        assert info["sha256"] == content_sha256(weights_dir / f"{network}.pt") and "version" in info
    assert sorted(p.name for p in (tmp_path / "panels").iterdir()) == ["1.png", "2.png", "3.png"]


def test_bad_output_paths_are_refused_before_any_work(pairs_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # the weights folder does not exist: the output check must come first
    assert main(["diagnose", "--data", str(pairs_dir), "--weights", str(tmp_path / "none"),
                 "--json", str(blocker / "d.json")]) == 2
    assert "--json" in capsys.readouterr().err
    assert main(["diagnose", "--data", str(pairs_dir), "--panels", str(pairs_dir / "low")]) == 2
    assert "overwrite inputs" in capsys.readouterr().err
    assert main(["diagnose", "--data", str(tmp_path), "--weights", str(tmp_path / "none")]) == 2
    assert "low/" in capsys.readouterr().err
