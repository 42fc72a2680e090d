"""``kind enhance --ratio 1,3,auto`` (a sweep: one output per ratio, named by it), ``--json``'s
record of each output's ratio, and ``--pipeline lol``. Random weights, tiny images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kind.api import KinD
from kind.cli import main
from kind.enhance import plan_jobs, ratio_job, ratio_tag

H, W = 24, 32


def _photo(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(10, 70, (H, W, 3), dtype=np.uint8)


def _save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _enhance(*args: str) -> int:
    return main(["enhance", *args, "--quiet"])


def test_ratio_tags():
    assert [ratio_tag(r) for r in (2.5, 5.0, 1, "auto", 0.125)] == ["2.5", "5", "1", "auto", "0.125"]


def test_a_sweep_writes_one_output_per_ratio_each_as_a_single_run(tmp_path, weights_dir):
    image = _save(tmp_path / "in" / "x.png", _photo())
    weights = ["--weights", str(weights_dir), "--device", "cpu"]
    assert _enhance(str(image), "-o", str(tmp_path / "sweep"), "--ratio", "1,3,auto", "--save-maps",
                    "--json", str(tmp_path / "sweep.json"), *weights) == 0
    names = sorted(path.name for path in (tmp_path / "sweep").iterdir())
    assert names == sorted(f"x_r{tag}{suffix}.png" for tag in ("1", "3", "auto")
                           for suffix in ("", "_R", "_L", "_R_restored", "_L_adjusted"))
    for ratio, tag in (("1", "1"), ("3", "3"), ("auto", "auto")):
        single = tmp_path / f"single-{tag}"
        assert _enhance(str(image), "-o", str(single), "--ratio", ratio, *weights) == 0
        assert (tmp_path / "sweep" / f"x_r{tag}.png").read_bytes() == (single / "x.png").read_bytes()
    record = json.loads((tmp_path / "sweep.json").read_text())
    files = {Path(item["output"]).name: item for item in record["files"]}
    assert set(files) == {"x_r1.png", "x_r3.png", "x_rauto.png"}
    assert files["x_r3.png"]["ratio"] == 3.0 and files["x_r3.png"]["requested"] == 3.0
    auto = KinD.from_pretrained(weights_dir, device="cpu").enhance_samples(_photo(), "auto").ratio
    assert files["x_rauto.png"]["ratio"] == auto and files["x_rauto.png"]["requested"] == "auto"
    assert files["x_r1.png"]["input"] == str(image)


def test_json_records_the_ratio_of_a_single_run(tmp_path, weights_dir):
    images = [_save(tmp_path / "in" / f"{i}.png", _photo(i)) for i in range(2)]
    assert _enhance(str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--ratio", "auto", "--json",
                    str(tmp_path / "s.json"), "--weights", str(weights_dir), "--device", "cpu") == 0
    files = json.loads((tmp_path / "s.json").read_text())["files"]
    model = KinD.from_pretrained(weights_dir, device="cpu")
    expected = {str(path): model.enhance_samples(_photo(i), "auto").ratio for i, path in enumerate(images)}
    assert {item["input"]: item["ratio"] for item in files} == expected
    assert len(set(expected.values())) == 2  # each image its own


def test_a_sweep_is_checked_whole_before_any_write(tmp_path):
    """The renamed outputs are checked like any other: one would overwrite an input."""
    _save(tmp_path / "in" / "x.png", _photo())
    _save(tmp_path / "in" / "x_r2.png", _photo(1))
    with pytest.raises(ValueError, match="overwrite the input"):
        plan_jobs([str(tmp_path / "in" / "x.png"), str(tmp_path / "in" / "x_r2.png")], tmp_path / "in", ratios=[2.0])
    job = plan_jobs([str(tmp_path / "in" / "x.png")], tmp_path / "out", compare=True).jobs[0]
    assert ratio_job(job, 0.5).compare.name == "x_r0.5_compare.png"
    with pytest.raises(ValueError, match="ratio"):
        ratio_job(job, "bright")


def test_bad_sweep_values_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["enhance", str(tmp_path), "-o", str(tmp_path / "out"), "--ratio", "1,x"])
    assert exit_info.value.code == 2 and "argument --ratio" in capsys.readouterr().err


def test_the_lol_pipeline_option(tmp_path, weights_dir):
    image = _save(tmp_path / "in" / "x.png", _photo())
    assert _enhance(str(image), "-o", str(tmp_path / "out"), "--ratio", "2", "--pipeline", "lol",
                    "--weights", str(weights_dir), "--device", "cpu") == 0
    model = KinD.from_pretrained(weights_dir, device="cpu")
    with Image.open(tmp_path / "out" / "x.png") as written:
        np.testing.assert_array_equal(np.asarray(written), model(_photo(), 2.0, pipeline="lol"))
