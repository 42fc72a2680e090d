"""experiments/colour_budget.py: how much of the unrestored saturation the net and the ground truth keep."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("colour_budget", ROOT / "experiments" / "colour_budget.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def report(pairs: list[tuple[float, float, float]]) -> dict:
    """A kind diagnose --json report's fields the script reads: per pair (unrestored, output, GT) saturations."""
    per_image = {str(i): {"gt_saturation": gt, "rows": {"unrestored": {"saturation": u}, "official": {"saturation": o}}}
                 for i, (u, o, gt) in enumerate(pairs)}
    return {"data": "pairs", "rows": {"unrestored": {}, "official": {}}, "per_image": per_image}


def test_the_shares_kept_by_the_net_and_by_the_ground_truth(tmp_path):
    pairs = [(0.4, 0.2, 0.2), (0.4, 0.1, 0.2), (0.2, 0.1, 0.16), (0.2, 0.05, 0.1)]
    path = tmp_path / "d.json"
    path.write_text(json.dumps(report(pairs)))
    data, values = script.saturations(path)
    b = script.budget(values)
    assert data == "pairs" and b["pairs"] == 4
    assert b["output_over_gt"] == pytest.approx(0.45 / 0.66)
    assert (b["net_keeps"], b["gt_keeps"]) == (pytest.approx(0.45 / 1.2), pytest.approx(0.66 / 1.2))
    assert b["colourful_pairs"] == 1 and b["colourful_output_over_gt"] == pytest.approx(0.1 / 0.16)  # GT keeps 0.8
    assert b["share_correlation"] == pytest.approx(float(np.corrcoef([0.5, 0.25, 0.5, 0.25], [0.5, 0.5, 0.8, 0.5])[0, 1]))


def test_a_report_without_the_unrestored_row_is_refused(tmp_path):
    (tmp_path / "eval.json").write_text(json.dumps({"data": "pairs", "per_image": {}, "mean": {}}))
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "colour_budget.py"), str(tmp_path / "eval.json")],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "not a `kind diagnose --json` report" in done.stderr
