"""experiments/paired_gain.py: the gain of one kind eval report over another, pair by pair."""

import importlib.util
import json
import subprocess
import sys

import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("paired_gain", ROOT / "experiments" / "paired_gain.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def report(psnr: list[float], saturation: list[float], data: str = "pairs") -> dict:
    rows = {str(i): {"psnr": p, "saturation": s, "gt_saturation": 0.3, "loe": 100.0 - p} for i, (p, s) in enumerate(zip(psnr, saturation))}
    mean = {key: sum(row[key] for row in rows.values()) / len(rows) for key in ("psnr", "saturation", "loe")}
    return {"data": data, "protocol": "official", "weights_label": data, "mean": mean, "per_image": rows}


def test_the_gain_its_interval_and_the_pairs_better():
    reference = report([20.0, 21.0, 22.0, 23.0], [0.1, 0.2, 0.4, 0.3])["per_image"]
    candidate = report([20.5, 21.5, 21.9, 23.4], [0.2, 0.1, 0.3, 0.3])["per_image"]
    gain = script.paired_gain(reference, candidate, "psnr")
    assert gain["mean"] == pytest.approx((0.5 + 0.5 - 0.1 + 0.4) / 4)
    assert gain["low"] <= gain["mean"] <= gain["high"] and gain["low"] >= -0.1 and gain["high"] <= 0.5
    assert (gain["better"], gain["pairs"]) == (3, 4)
    assert script.paired_gain(reference, candidate, "loe")["better"] == 3  # lower is better
    assert script.paired_gain(reference, candidate, "saturation")["better"] == 2  # nearer the GT's 0.3: pairs 0 and 2


def test_reports_of_other_pairs_are_refused(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(report([20.0], [0.2], data="one")))
    (tmp_path / "b.json").write_text(json.dumps(report([21.0], [0.2], data="other")))
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "paired_gain.py"), str(tmp_path / "a.json"),
                           str(tmp_path / "b.json")], capture_output=True, text=True)
    assert done.returncode != 0 and "differ in data" in done.stderr
