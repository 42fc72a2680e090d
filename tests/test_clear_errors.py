"""Bad input that once gave a traceback (or silently wrong results) now gets a clear error naming
the file, field or option — or, for Ctrl-C, the summary of what was done.

``BAD_INPUTS`` is the table: one row per command and bad input, each a builder of the command line
(it writes what the input needs under ``tmp_path``), the exit status, and the words the one line on
stderr (or a notice) must hold. Cases that need more than a command line follow it.
"""

from __future__ import annotations

import json
import os
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



# --- the table: every command's bad inputs ------------------------------------------------------


def _result(tmp_path, name: str, content: object) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    return str(path)


GOOD_RESULT = {"protocol": "official", "ratio_rule": "the ground truth's", "data": "eval15",
               "mean": {"psnr": 20.5, "ssim": 0.8}, "weights_label": "good-weights"}
DIAGNOSE_RESULT = {"data": "eval15", "count": 1, "rows": {}, "stages": {}, "definitions": {}, "restoration_gamma": 1.0}


def _table(*files):
    """``kind table --runs`` of a good result and the given (name, content) files."""
    def build(tmp_path, weights_dir):
        return ["table", "--runs", _result(tmp_path, "good.json", GOOD_RESULT),
                *(_result(tmp_path, name, content) for name, content in files)]
    return build


def _eval(protocol, data="missing"):
    def build(tmp_path, weights_dir):
        target = tmp_path / data
        if data == "a-file":
            target.write_text("x")
        return ["eval", "--data", str(target), "--protocol", protocol, "--weights", str(weights_dir), "--device", "cpu"]
    return build


def _train(*settings, lock_folder=False):
    def build(tmp_path, weights_dir):
        data = write_pairs(tmp_path / "pairs", count=2, height=24, width=24)
        if lock_folder:
            (tmp_path / "run" / ".kind-run.lock").mkdir(parents=True)
        values = {"train_dir": str(data), "out_dir": str(tmp_path / "run"), "steps": "1", "patch_size": "16",
                  **dict(setting.format(tmp=tmp_path).split("=", 1) for setting in settings)}
        return ["train", "decom", "--quiet", *[arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]]
    return build


def _score_on_enhance_output(option):
    def build(tmp_path, weights_dir):
        photos = _photos(tmp_path / "in", 2)
        assert main(["enhance", str(photos), "-o", str(tmp_path / "out"), option, "--quiet",
                     "--weights", str(weights_dir), "--device", "cpu"]) == 0
        return ["score", "--pred", str(tmp_path / "out"), "--loe-inputs", str(photos), "--metrics", "loe"]
    return build


def _enhance_glob_with_fifo(tmp_path, weights_dir):
    photos = _photos(tmp_path / "in", 1)
    os.mkfifo(photos / "pipe.png")
    return ["enhance", str(photos / "*.png"), "-o", str(tmp_path / "out"), "--quiet", "--weights", str(weights_dir),
            "--device", "cpu"]


NO_READ_ONLY_PROC = not os.path.isdir("/proc") or os.access("/proc", os.W_OK) is False

BAD_INPUTS = [
    # kind table (issue 29, items 1, 2, 15): each bad file named, the others tabulated (exit 1), nothing dropped
    pytest.param(_table(("null.json", {**GOOD_RESULT, "protocol": None})), 1,
                 ["null.json: field 'protocol' is null", "good-weights"], id="table-null-protocol"),
    pytest.param(_table(("deep.json", "[" * 100_000 + "]" * 100_000)), 1,
                 ["deep.json: not a kind result (JSON nested too deeply", "good-weights"], id="table-deep-json"),
    pytest.param(_table(("binary.json", b"\xff\xfe\x00\x01binary")), 1,
                 ["binary.json: not a JSON result file (not UTF-8", "good-weights"], id="table-binary"),
    pytest.param(_table(("photo.json", {**GOOD_RESULT, "mode": "photo", "weights_label": "typo"})), 1,
                 ["photo.json: field 'mode' is 'photo', expected one of paired, photos"], id="table-unknown-mode"),
    pytest.param(_table(("photos.json", {**GOOD_RESULT, "mode": "photos"})), 1,
                 ["photos.json: its mode says photos (no ground truth) but it has paired fields (mean.psnr, mean.ssim)"],
                 id="table-photos-with-paired-fields"),
    pytest.param(_table(("diagnose.json", DIAGNOSE_RESULT)), 0,
                 ["notice: ", "diagnose.json: a kind diagnose result", "good-weights"], id="table-diagnose-among-runs"),
    pytest.param(_table(("score.json", {"pred": "p", "settings": [1], "mean": {}})), 1,
                 ["score.json: a kind score result whose settings"], id="table-malformed-score"),
    pytest.param(lambda tmp_path, weights_dir: ["table", "--runs", _result(tmp_path, "null.json", {**GOOD_RESULT, "data": None})],
                 2, ["no result file to tabulate: ", "null.json: field 'data' is null"], id="table-nothing-left"),
    pytest.param(lambda tmp_path, weights_dir: ["table", "--runs", _result(tmp_path, "r.json", {**GOOD_RESULT, "mean": [20.0]})],
                 2, ["r.json: field 'mean' should be dict, got list"], id="table-mean-not-a-mapping"),
    pytest.param(lambda tmp_path, weights_dir: ["table", "--runs", _result(tmp_path, "r.json", {**GOOD_RESULT, "mean": {"psnr": "20"}})],
                 2, ["field 'mean.psnr' should be a number"], id="table-mean-not-numbers"),
    pytest.param(lambda tmp_path, weights_dir: ["table", "--runs", str(tmp_path)], 2,
                 [f"{'{tmp}'}", "cannot be read"], id="table-a-folder"),
    # kind eval (item 9): the same words whatever the protocol
    *[pytest.param(_eval(protocol), 2, ["--data ", "missing: no such folder"], id=f"eval-missing-{protocol}")
      for protocol in ("official", "gt-ratio", "kindpp", "fixed", "auto", "input")],
    pytest.param(_eval("official", "a-file"), 2, ["a-file: not a folder"], id="eval-data-is-a-file"),
    # kind score (items 9, 14)
    pytest.param(lambda tmp_path, weights_dir: ["score", "--pred", str(tmp_path / "missing")], 2,
                 ["--pred ", "missing: no such folder"], id="score-missing-pred"),
    pytest.param(_score_on_enhance_output("--compare"), 0,
                 ["2 file(s) kind enhance writes beside its outputs", "0_compare.png, 1_compare.png"], id="score-compare-panels"),
    pytest.param(_score_on_enhance_output("--save-maps"), 0,
                 ["8 file(s) kind enhance writes beside its outputs", "0_L.png"], id="score-save-maps"),
    # kind train (item 8 and its siblings: every path setting named)
    pytest.param(_train("out_dir=/proc/kind-test/run"), 2, ["out_dir /proc/kind-test/run: nothing can be created in /proc"],
                 id="train-out-dir-in-proc", marks=pytest.mark.skipif(NO_READ_ONLY_PROC, reason="no read-only /proc here")),
    pytest.param(_train(lock_folder=True), 2, ["run/.kind-run.lock is a folder or special file", "choose another out_dir"],
                 id="train-lock-is-a-folder"),
    pytest.param(_train("train_dir={tmp}/missing"), 2, ["train_dir ", "missing: no such folder"], id="train-missing-train-dir"),
    pytest.param(_train("val_dir={tmp}/missing"), 2, ["val_dir ", "missing: no such folder"], id="train-missing-val-dir"),
    pytest.param(_train("init_weights={tmp}/none.pt"), 2, ["init_weights ", "none.pt: no such weight file"],
                 id="train-missing-init-weights"),
    # kind enhance (items 13, 12)
    pytest.param(_enhance_glob_with_fifo, 0, ["pipe.png: skipped, not a regular file (a FIFO"], id="enhance-glob-fifo"),
    pytest.param(lambda tmp_path, weights_dir: ["enhance", "x.png", "-o", "out", "--ratio", "automatic"], 2,
                 ["expected a number or 'auto', got 'automatic'"], id="enhance-unknown-ratio-word"),
    pytest.param(lambda tmp_path, weights_dir: ["enhance", str(tmp_path), "-o", "/proc/kind-test/out"], 2,
                 ["-o/--out /proc/kind-test/out: nothing can be created in /proc"], id="enhance-out-in-proc",
                 marks=pytest.mark.skipif(NO_READ_ONLY_PROC, reason="no read-only /proc here")),
]


@pytest.mark.parametrize("build,status,words", BAD_INPUTS)
def test_bad_input_gets_one_clear_line(tmp_path, capsys, weights_dir, build, status, words):
    argv = build(tmp_path, weights_dir)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's refusals
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == status, (out, err)
    text = out + err
    for word in words:
        assert word.replace("{tmp}", str(tmp_path)) in text, (word, text)
    assert "Traceback" not in err


def test_kind_table_keeps_every_usable_file_and_names_each_left_out(tmp_path, capsys):
    runs = [_result(tmp_path, "good.json", GOOD_RESULT), _result(tmp_path, "diag.json", DIAGNOSE_RESULT),
            _result(tmp_path, "null.json", {**GOOD_RESULT, "protocol": None}),
            _result(tmp_path, "other.json", {**GOOD_RESULT, "weights_label": "other-weights"})]
    assert main(["table", "--runs", *runs, "--out-json", str(tmp_path / "t.json")]) == 1
    out, err = capsys.readouterr()
    assert "good-weights" in out and "other-weights" in out
    assert [line.split(":")[0] for line in err.splitlines()] == ["skipped", "notice"]
    record = json.loads((tmp_path / "t.json").read_text())
    assert len(record["skipped"]) == 2 and len([r for r in record["lol"] if r["status"] == "measured"]) == 2


def test_the_oversubscription_notice_asks_only_for_what_would_help():
    from kind.train.cpu_load import oversubscription_notice

    already = oversubscription_notice(1, load=2.0, cores=2)
    assert "set threads" not in already and "load average 2.0 on 2 cores" in already
    assert oversubscription_notice(2, load=1.0, cores=2).endswith("set threads=1 (--set threads=1)")


def test_the_pixel_limit_message_quotes_max_pixels_and_the_image_size(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    from kind.io.read import ImageReadError, read_image

    path = tmp_path / "big.png"
    PILImage.fromarray(np.zeros((20, 30, 3), np.uint8)).save(path)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # Pillow refuses over 200 pixels; its number is not ours
    with pytest.raises(ImageReadError) as refused:
        read_image(path, max_pixels=500)
    assert "30 x 20 = 600 pixels, limit 500" in str(refused.value) and "200" not in str(refused.value)
    from kind.io.read import header_pixels

    assert header_pixels(path) == 600


def test_temporary_names_never_make_an_output_unwritable(tmp_path, model):
    """Input names of up to 255 bytes: the temporary name is cut, the output written (issue 29, item 3)."""
    from kind.io.atomic import TEMP_PATTERN, atomic_write_bytes, name_max, temp_name

    limit = name_max(tmp_path)
    for length in (233, 250, limit):
        folder = tmp_path / f"in{length}"
        folder.mkdir()
        name = "n" * (length - 4) + ".png"
        Image.fromarray(np.full((8, 8, 3), 40, np.uint8)).save(folder / name)
        summary = enhance_files([str(folder)], tmp_path / f"out{length}", model, progress=False)
        assert summary.done == 1 and not summary.failed, summary.report()
        assert (tmp_path / f"out{length}" / name).is_file()
    atomic_write_bytes(tmp_path / ("é" * (limit // 2 - 1) + ".t"), b"x")  # two bytes a character
    for name in ("x.png", "a" * 300, "é" * 200):
        temp = temp_name(name, 255)
        assert len(os.fsencode(temp)) <= 255 and TEMP_PATTERN.match(temp)


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
