"""experiments/loss_comparison.py: its colour measures, its held-out split, its paired statistics, and a
tiny end-to-end run (random weights, synthetic pairs)."""

import importlib.util
import json
import math

import numpy as np
import pytest
import torch
from conftest import ROOT, write_pairs

from kind import losses
from kind.train.data import load_pairs, split_holdout

spec = importlib.util.spec_from_file_location("loss_comparison", ROOT / "experiments" / "loss_comparison.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def test_saturation_of_grey_red_and_a_half_saturated_colour():
    image = np.zeros((2, 3, 3), np.uint8)
    image[0] = 128  # grey: S = 0
    image[1] = (200, 0, 0)  # pure red: S = 1
    assert script.saturation(image[:1]) == 0.0
    assert script.saturation(image[1:]) == 1.0
    assert script.saturation(np.full((1, 1, 3), (200, 100, 100), np.uint8)) == pytest.approx(0.5, abs=1 / 255)


def test_color_angle_degrees_is_the_catalogue_term_in_degrees():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (8, 9, 3), dtype=np.uint8) for _ in range(2))
    expected = losses.color_angle(*(torch.from_numpy(x.astype(np.float64) / 255).permute(2, 0, 1)[None] for x in (a, b)))
    assert script.color_angle_degrees(a, b) == pytest.approx(math.degrees(float(expected)), rel=1e-9)
    assert script.color_angle_degrees(a, a) == 0.0
    grey, red = np.full((1, 1, 3), 100, np.uint8), np.array([[[100, 0, 0]]], np.uint8)
    assert script.color_angle_degrees(grey, red) == pytest.approx(math.degrees(math.acos(1 / math.sqrt(3))), abs=1e-3)


def test_heldout_pairs_are_the_pairs_training_holds_out(tmp_path):
    folders = [str(write_pairs(tmp_path / "a", count=3)), str(write_pairs(tmp_path / "b", count=4, seed=1))]
    _, held = split_holdout(load_pairs(folders), 5)
    pairs = script.heldout_pairs(folders, 5)
    assert [f"{low.parent.parent.name}/{low.name}" for low, _ in pairs] == held.names
    with pytest.raises(SystemExit, match="--holdout 7"):
        script.heldout_pairs(folders, 7)


def row(psnr, saturation, gt_saturation=0.5):
    return {"per_image": {str(i): {"psnr": p, "ssim": 0.5, "saturation": s, "gt_saturation": gt_saturation,
                                   "color_angle_deg": 1.0} for i, (p, s) in enumerate(zip(psnr, saturation))}}


def test_paired_differences_mean_standard_error_and_images_better():
    results = {"official": row([20, 21, 22], [0.3, 0.6, 0.4]), "term": row([21, 21, 24], [0.4, 0.7, 0.5])}
    found = script.paired_differences(results)["term"]
    assert found["psnr"] == pytest.approx((1.0, 1.0 / math.sqrt(3), 2))  # differences 1, 0, 2
    assert found["saturation"][2] == 2  # 0.4 and 0.5 are closer to 0.5 than 0.3 and 0.4; 0.7 is farther than 0.6
    assert found["color_angle_deg"] == (0.0, 0.0, 0)


@pytest.mark.slow  # the study end to end
def test_end_to_end_on_random_weights_and_the_report_rebuilds_the_table(tmp_path, weights_dir, capsys):
    data = write_pairs(tmp_path / "pairs", count=3, height=32, width=32)
    out = tmp_path / "out"
    argv = ["--out", str(out), "--train-dir", str(data), "--holdout", "1", "--weights", str(weights_dir),
            "--arms", "official", "region", "--steps", "1", "--batch-size", "2", "--patch-size", "32", "--quiet"]
    assert script.main(argv) == 0
    results = json.loads((out / "results.json").read_text())["results"]
    assert list(results) == ["start (shipped)", "official", "region"]
    assert results["official"]["steps"] == results["region"]["steps"] == 1
    assert list(results["official"]["per_image"]) == ["3"]
    table = (out / "table.md").read_text()
    assert "| region | region 0.5 on product |" in table and "Paired differences" in table
    (out / "table.md").unlink()
    capsys.readouterr()
    assert script.main([*argv, "--calibrate", "--calibrate-batches", "1"]) == 0
    scales = json.loads(capsys.readouterr().out)
    assert set(scales) == {"official", "square", "ssim_loss", "grad", "region@product"}
    assert script.main(["--out", str(out), "--report"]) == 0
    assert (out / "table.md").read_text() == table
