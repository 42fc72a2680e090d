"""No output option of any command overwrites one of its inputs (kind.io.output_guard), and enhancing
into an input's own folder keeps the files already there."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tf_writer import write_checkpoint

from kind.cli import main
from kind.weights.tf_import import state_dict_to_tf
from kind.models import build_network
from kind.weights.format import save_record, weight_record


def _image(path: Path, value: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(path)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def lol(tmp_path) -> Path:
    data = tmp_path / "lol"
    for index in (1, 2):
        _image(data / "low" / f"{index}.png", 10 * index)
        _image(data / "high" / f"{index}.png", 100 + index)
    return data


def _refused(argv: list[str], protected: Path, capsys, words: str = "input") -> None:
    before = _digest(protected)
    assert main(argv) == 2
    assert words in capsys.readouterr().err
    assert _digest(protected) == before


def test_enhance_json_over_an_input_is_refused(tmp_path, lol, capsys):
    target = lol / "low" / "1.png"
    _refused(["enhance", str(lol / "low"), "-o", str(tmp_path / "out"), "--json", str(target)], target, capsys)
    assert not (tmp_path / "out").exists()


def test_enhance_json_over_an_output_is_refused(tmp_path, lol, capsys):
    assert main(["enhance", str(lol / "low"), "-o", str(tmp_path / "out"), "--json", str(tmp_path / "out" / "1.png")]) == 2
    assert "writes an image there" in capsys.readouterr().err


def test_eval_json_over_a_ground_truth_is_refused(lol, capsys):
    target = lol / "high" / "1.png"
    _refused(["eval", "--data", str(lol), "--protocol", "input", "--json", str(target)], target, capsys)


def test_diagnose_json_over_an_input_is_refused(lol, capsys):
    target = lol / "low" / "1.png"
    _refused(["diagnose", "--data", str(lol), "--json", str(target)], target, capsys)


def test_score_json_over_a_prediction_is_refused(lol, capsys):
    target = lol / "high" / "2.png"
    _refused(["score", "--pred", str(lol / "high"), "--json", str(target), "--quiet"], target, capsys)


def test_table_output_over_its_run_file_is_refused(tmp_path, capsys):
    runs = tmp_path / "r.json"
    runs.write_text(json.dumps({"protocol": "input", "mean": {"psnr": 1.0}}))
    _refused(["table", "--runs", str(runs), "--out-md", str(runs)], runs, capsys)


def test_table_outputs_must_differ(tmp_path, capsys):
    runs = tmp_path / "r.json"
    runs.write_text("{}")
    out = tmp_path / "t.md"
    assert main(["table", "--runs", str(runs), "--out-md", str(out), "--out-json", str(out)]) == 2
    assert "also given as --out-md" in capsys.readouterr().err


def test_export_over_its_checkpoint_is_refused(tmp_path, capsys):
    checkpoint = tmp_path / "last.pt"
    save_record(checkpoint, weight_record("adjust", build_network("adjust").state_dict(), source="test",
                                          optimizer={}, step=1))
    _refused(["export", str(checkpoint), str(checkpoint)], checkpoint, capsys)
    link = tmp_path / "link.pt"
    link.hardlink_to(checkpoint)
    _refused(["export", str(checkpoint), str(link)], checkpoint, capsys)


def test_convert_tf_over_its_index_is_refused(tmp_path, capsys):
    torch.manual_seed(0)
    prefix = tmp_path / "model.ckpt"
    write_checkpoint(prefix, state_dict_to_tf(build_network("adjust").state_dict(), "adjust"))
    index = tmp_path / "model.ckpt.index"
    _refused(["convert-tf", str(prefix), str(index), "--net", "adjust"], index, capsys)


def test_enhance_into_its_own_folder_keeps_an_unrelated_file(tmp_path, weights_dir, capsys):
    own = tmp_path / "own"
    _image(own / "a.png", 200)  # not an output of this run
    source = own / "a.jpg"
    Image.fromarray(np.full((16, 16, 3), 30, np.uint8)).save(source)
    before = _digest(own / "a.png")
    assert main(["enhance", str(source), "-o", str(own), "--weights", str(weights_dir), "--quiet"]) == 0
    assert _digest(own / "a.png") == before
    assert (own / "a.jpg.png").is_file()
    assert "exists beside the inputs and is kept" in capsys.readouterr().out


def test_an_output_folder_named_like_an_image_is_said(tmp_path, weights_dir, capsys):
    source = _image(tmp_path / "x.png")
    assert main(["enhance", str(source), "-o", str(tmp_path / "out.png"), "--weights", str(weights_dir), "--quiet"]) == 0
    assert "out.png: named like an image, but it is the output folder" in capsys.readouterr().out
    assert (tmp_path / "out.png" / "x.png").is_file()


@pytest.mark.parametrize("command", [
    lambda data, out: ["enhance", str(data / "low"), "-o", str(out.parent / "enhanced"), "--json", str(out)],
    lambda data, out: ["score", "--pred", str(data / "low"), "--gt", str(data / "high"), "--json", str(out)],
    lambda data, out: ["eval", "--data", str(data), "--protocol", "input", "--json", str(out)],
])
def test_a_json_output_that_is_a_folder_is_refused_before_any_work(tmp_path, lol, command, capsys):
    folder = tmp_path / "taken"
    folder.mkdir()
    assert main(command(lol, folder)) == 2
    assert f"--json {folder}: is a folder, expected a file name" in capsys.readouterr().err
    assert not (tmp_path / "enhanced").exists()
