"""Bad input that once gave a traceback (or silently wrong results) now gets a clear error naming
the file, field or option — or, for Ctrl-C, the summary of what was done."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import write_pairs
from PIL import Image

from kind.api import KinD
from kind.cli import main
from kind.train.config import ConfigError, load_config
from kind.enhance import enhance_files
from kind.inference.runner import load_runner
from kind.weights.format import FORMAT, FORMAT_VERSION, WeightsError, read_record, save_record


@pytest.fixture(scope="module")
def model(weights_dir) -> KinD:
    return KinD(load_runner(weights_dir, device="cpu"))


def _photos(folder, count=3):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(np.full((8, 8, 3), 30 + index, np.uint8)).save(folder / f"{index}.png")
    return folder


@pytest.mark.parametrize("record,message", [
    ({"network": "decom", "state_dict": [1, 2]}, "its 'state_dict' is not a mapping of names to tensors"),
    ({"state_dict": {}}, "names no network"),
])
def test_malformed_weight_records_are_refused(tmp_path, capsys, weights_dir, record, message):
    path = tmp_path / "w" / "decom.pt"
    shutil.copytree(weights_dir, path.parent)
    save_record(path, {"format": FORMAT, "format_version": FORMAT_VERSION, "source": "test", **record})
    with pytest.raises(WeightsError, match=message):
        read_record(path)
    _photos(tmp_path / "in", 1)
    assert main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(path.parent)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.device_count() > 98, reason="a machine with 99 GPUs")
def test_train_on_an_absent_gpu_is_refused(tmp_path, capsys):
    data = write_pairs(tmp_path / "pairs", count=2, height=24, width=24)
    argv = ["train", "decom", "--quiet", "--set", f"train_dir={data}", "--set", f"out_dir={tmp_path / 'run'}",
            "--set", "device=cuda:99"]
    assert main(argv) == 2
    assert "device 'cuda:99':" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_table_with_wrong_typed_fields_names_the_field(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"protocol": "official", "ratio_rule": "x", "data": "d", "mean": [20.0]}))
    assert main(["table", "--runs", str(path)]) == 2
    assert "r.json: field 'mean' should be dict, got list" in capsys.readouterr().err
    path.write_text(json.dumps({"protocol": "official", "ratio_rule": "x", "data": "d", "mean": {"psnr": "20"}}))
    assert main(["table", "--runs", str(path)]) == 2
    assert "field 'mean.psnr' should be a number" in capsys.readouterr().err


def test_export_onnx_with_an_impossible_opset_is_refused(tmp_path, capsys):
    pytest.importorskip("onnx")
    assert main(["export-onnx", str(tmp_path / "onnx"), "--opset", "99999"]) == 2
    assert "opset: expected 11 to" in capsys.readouterr().err


@pytest.mark.parametrize("image", [np.zeros((0, 0, 3), np.uint8), np.zeros((0, 5, 3), np.uint8),
                                   torch.zeros(1, 3, 0, 4)])
def test_the_api_refuses_an_empty_image(model, image):
    with pytest.raises(ValueError, match="image: empty"):
        model.enhance(image)


def test_the_api_refuses_nan(model):
    image = torch.full((1, 3, 8, 8), 0.2)
    image[0, 1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.enhance(image)


def test_ctrl_c_during_enhance_gives_the_summary(tmp_path, model, monkeypatch, capsys, weights_dir):
    photos = _photos(tmp_path / "in", 4)
    original = KinD.enhance_samples
    calls = []

    def interrupted_on_the_third(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(KinD, "enhance_samples", interrupted_on_the_third)
    summary = enhance_files([str(photos)], tmp_path / "out", model, progress=False)
    assert (summary.done, summary.interrupted) == (2, 2)
    assert "interrupted: 2 input(s) not processed" in summary.report()
    calls.clear()
    assert main(["enhance", str(photos), "-o", str(tmp_path / "out2"), "--weights", str(weights_dir), "--quiet"]) == 130
    assert "2 done, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize("ratio", ["1e308", "1e39", "1001"])
def test_an_unusable_ratio_is_refused_up_front(ratio, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["enhance", "x.png", "-o", "out", "--ratio", ratio])
    assert exit_.value.code == 2 and "from 0 to 1000" in capsys.readouterr().err


def test_an_empty_weights_spec_is_refused(tmp_path, capsys):
    _photos(tmp_path / "in", 1)
    assert main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", ""]) == 2
    assert "weights '': empty" in capsys.readouterr().err


def test_a_negative_seed_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="seed must be a whole number from 0"):
        load_config("decom", None, [f"out_dir={tmp_path / 'run'}", "seed=-1"])
    assert not (tmp_path / "run").exists()


def test_the_pixel_limit_message_names_the_cli_option(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    from kind.io.read import ImageReadError, read_image

    path = tmp_path / "big.png"
    PILImage.fromarray(np.zeros((40, 40, 3), np.uint8)).save(path)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageReadError, match="--max-pixels"):
        read_image(path)


def test_temp_files_of_a_killed_enhance_are_removed(tmp_path, model):
    photos = _photos(tmp_path / "in", 1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".0.png.kind{dead.pid}.0123abcd.tmp"
    stale.write_bytes(b"half an image")
    summary = enhance_files([str(photos)], out, model, progress=False)
    assert not stale.exists() and summary.done == 1
    assert any("removed 1 temporary file(s) left by a killed run" in notice for notice in summary.notices)
