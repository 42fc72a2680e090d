"""Weights mixed per network: --weights decom=PATH,adjust=PATH,restore=shipped (kind.weights.spec)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kind.cli import main
from kind.evaluation.evaluate import run_eval
from kind.weights.spec import parse_mixed
from kind.weights.format import WeightsError, load_weights_dir, resolve_weight_file


def test_a_mixed_spec_names_each_network(weights_dir):
    spec = f"decom={weights_dir / 'decom.pt'},adjust={weights_dir},restore=shipped"
    assert parse_mixed(spec) == {"decom": str(weights_dir / "decom.pt"), "adjust": str(weights_dir), "restore": "shipped"}
    nets = load_weights_dir(spec)
    assert type(nets.restore).__name__ == "RestorationNet"


@pytest.mark.parametrize("spec,message", [
    ("decom=a.pt,adjust=b.pt", "no restore; name every network"),
    ("decom=a.pt,decom=b.pt,adjust=c,restore=shipped", "decom is named twice"),
    ("decom=a.pt,colour=b.pt,adjust=c,restore=shipped", "'colour=b.pt' is not NETWORK=SPEC"),
])
def test_bad_mixed_specs_are_refused(spec, message):
    with pytest.raises(WeightsError, match=message):
        load_weights_dir(spec)


def test_eval_and_enhance_take_a_mixed_spec(tmp_path, weights_dir, capsys):
    data = tmp_path / "photos"
    data.mkdir()
    Image.fromarray(np.full((8, 8, 3), 30, np.uint8)).save(data / "a.png")
    spec = f"decom={weights_dir / 'decom.pt'},adjust={weights_dir / 'adjust.pt'},restore=shipped"
    result = run_eval(data, "fixed", weights=spec, device="cpu", progress=False)
    files = {name: info["file"] for name, info in result["weight_files"].items()}
    assert files == {"decom": str(weights_dir / "decom.pt"), "adjust": str(weights_dir / "adjust.pt"),
                     "restore": str(resolve_weight_file("shipped", "restore"))}
    assert result["weights_label"] == spec
    assert main(["enhance", str(data), "-o", str(tmp_path / "out"), "--weights", spec, "--quiet"]) == 0
    assert (tmp_path / "out" / "a.png").is_file()
