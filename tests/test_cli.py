"""The command line: built from the torch-free constants, and its shared argument types."""

import argparse
import subprocess
import sys

import pytest

from kind.cli import build_parser
from kind.cli.arguments import pixels_argument


def test_parser_is_built_without_torch():
    """`kind --help` needs only kind.constants: no torch, numpy or Pillow import."""
    code = "import sys, kind.cli; kind.cli.build_parser(); print(sorted({'torch', 'numpy', 'PIL'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


@pytest.mark.parametrize("text,minimum,ok", [("32", 32, True), ("31", 32, False), ("0", 0, True), ("1.5", 0, False)])
def test_pixels_argument(text, minimum, ok):
    parse = pixels_argument(minimum)
    if ok:
        assert parse(text) == int(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="pixels"):
            parse(text)


@pytest.mark.parametrize("command", [["enhance", "x", "-o", "y"], ["eval", "--data", "d", "--protocol", "official"], ["bench"]])
def test_runner_options_are_shared(command):
    args = build_parser().parse_args(command + ["--weights", "w", "--device", "cpu", "--precision", "bf16"])
    assert (args.weights, args.device, args.precision) == ("w", "cpu", "bf16")


# --- every subcommand, table-driven: what each accepts (and how it reads it), and what it refuses ---

PARSES = [
    (["convert-tf", "ckpt/model.ckpt", "decom.pt", "--net", "decom"],
     {"checkpoint": "ckpt/model.ckpt", "out": "decom.pt", "net": "decom"}),
    (["export", "runs/restore/best.pt", "restore.pt", "--half"], {"checkpoint": "runs/restore/best.pt", "half": True}),
    (["export-onnx", "onnx/"], {"out": "onnx/", "opset": 17, "weights": None}),
    (["export-onnx", "onnx/", "--opset", "13", "--weights", "v0.1"], {"opset": 13, "weights": "v0.1"}),
    (["train", "restore", "--config", "c.yaml", "--set", "steps=2", "--set", "lr=1e-3", "--resume", "auto"],
     {"stage": "restore", "config": "c.yaml", "overrides": ["steps=2", "lr=1e-3"], "resume": "auto", "overwrite": False}),
    (["train", "pipeline", "--overwrite", "--quiet"], {"stage": "pipeline", "overwrite": True, "quiet": True}),
    (["enhance", "a.jpg", "dir/", "-o", "out"],
     {"inputs": ["a.jpg", "dir/"], "out": "out", "ratio": None, "format": "png", "bits": 8, "quality": None,
      "max_pixels": 150_000_000, "tile": None, "save_maps": False, "compare": False, "skip_existing": False}),
    (["enhance", "a.jpg", "--out", "o", "--ratio", "auto", "--format", "jpg", "--quality", "90", "--tile", "64",
      "--max-pixels", "1000", "--save-maps", "--compare", "--skip-existing", "--json", "s.json", "--quiet"],
     {"ratio": "auto", "format": "jpg", "quality": 90, "tile": 64, "max_pixels": 1000, "save_maps": True,
      "compare": True, "skip_existing": True, "json": "s.json", "quiet": True}),
    (["enhance", "raw/", "-o", "o", "--ratio", "2.5", "--format", "tiff", "--bits", "16"], {"ratio": 2.5, "bits": 16}),
    (["enhance", "a.jpg", "-o", "o", "--ratio", "1, 3,auto", "--pipeline", "lol"],
     {"ratio": [1.0, 3.0, "auto"], "pipeline": "lol"}),
    (["enhance", "a.jpg", "-o", "o"], {"pipeline": "photo"}),
    (["demo"], {"out": "kind-demo", "device": "auto"}),
    (["app"], {"host": "127.0.0.1", "port": 7860, "max_pixels": 50_000_000, "weights": None, "device": "auto"}),
    (["app", "--host", "0.0.0.0", "--port", "8000", "--max-upload-mb", "20", "--preview-pixels", "500000"],
     {"host": "0.0.0.0", "port": 8000, "max_upload_mb": 20, "preview_pixels": 500_000}),
    (["bench"], {"repeat": 10, "batch": 0, "train": False, "stages": "decom,adjust,restore", "steps": 200, "huge": False}),
    (["bench", "--train", "--stages", "decom", "--steps", "20", "--no-large", "--no-memory", "--no-onnx",
      "--tf-python", "/usr/bin/python3", "--folder", "f", "--batch", "8", "--compile", "--json", "b.json"],
     {"train": True, "stages": "decom", "steps": 20, "no_large": True, "no_memory": True, "no_onnx": True,
      "tf_python": "/usr/bin/python3", "folder": "f", "batch": 8, "compile": True, "json": "b.json"}),
    (["score", "--pred", "p", "--gt", "g", "--y", "--crop", "4", "--metrics", "psnr,ssim"],
     {"pred": "p", "gt": "g", "y": True, "crop": 4, "metrics": ["psnr", "ssim"]}),
    (["score", "--pred", "p", "--loe-inputs", "low", "--niqe-channel", "y", "--niqe-params", "kindpp", "--loe-variant", "bimef"],
     {"loe_inputs": "low", "niqe_channel": "y", "niqe_params": "kindpp", "loe_variant": "bimef", "metrics": None}),
    (["eval", "--data", "d", "--protocol", "fixed", "--ratio", "2.5", "--gt-mean", "--label", "ours", "--out", "o"],
     {"data": "d", "protocol": "fixed", "ratio": 2.5, "gt_mean": True, "label": "ours", "out": "o"}),
    (["eval", "--data", "d", "--protocol", "official"], {"ratio": None, "gt_mean": False, "niqe_channel": "gray"}),
    (["diagnose", "--data", "d", "--panels", "p", "--json", "d.json"], {"data": "d", "panels": "p", "json": "d.json"}),
    (["table", "--runs", "a.json", "b.json", "--out-md", "t.md", "--out-json", "t.json"],
     {"runs": ["a.json", "b.json"], "out_md": "t.md", "out_json": "t.json"}),
]

REFUSED = [
    (["frobnicate"], "invalid choice"),
    (["convert-tf", "ckpt", "out.pt", "--net", "discriminator"], "invalid choice"),
    (["export-onnx", "onnx/", "--opset", "seventeen"], "invalid int"),
    (["train", "everything"], "invalid choice"),
    (["enhance", "a.jpg"], "-o/--out"),
    (["enhance", "a.jpg", "-o", "o", "--ratio", "-1"], "expected a number from 0 to 1000 or 'auto'"),
    (["enhance", "a.jpg", "-o", "o", "--ratio", "nan"], "expected a number from 0 to 1000 or 'auto'"),
    (["enhance", "a.jpg", "-o", "o", "--ratio", "bright"], "expected a number or 'auto'"),
    (["enhance", "a.jpg", "-o", "o", "--quality", "101"], "expected 1 to 100 quality levels"),
    (["enhance", "a.jpg", "-o", "o", "--tile", "16"], "at least 32 pixels"),
    (["enhance", "a.jpg", "-o", "o", "--bits", "12"], "invalid choice"),
    (["enhance", "a.jpg", "-o", "o", "--ratio", "1,2000"], "expected a number from 0 to 1000 or 'auto'"),
    (["enhance", "a.jpg", "-o", "o", "--pipeline", "raw"], "invalid choice"),
    (["app", "--port", "http"], "invalid int"),
    (["bench", "--precision", "fp16"], "invalid choice"),
    (["score", "--pred", "p", "--metrics", "psnr,lpips"], "expected some of psnr,ssim,loe,niqe"),
    (["score", "--pred", "p", "--niqe-channel", "rgb"], "invalid choice"),
    (["eval", "--data", "d", "--protocol", "paper"], "invalid choice"),
    (["eval", "--data", "d", "--protocol", "fixed", "--ratio", "auto"], "expected a number"),
    (["diagnose"], "--data"),
    (["table"], "--runs"),
]


@pytest.mark.parametrize("argv, expected", PARSES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_each_subcommand_parses(argv, expected):
    args = vars(build_parser().parse_args(argv))
    assert {key: args[key] for key in expected} == expected
    assert callable(args["handler"])


@pytest.mark.parametrize("argv, message", REFUSED, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_each_subcommand_refuses(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(argv)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_the_tables_cover_every_subcommand():
    commands = next(action for action in build_parser()._actions if action.dest == "command").choices
    assert {argv[0] for argv, _ in PARSES} == set(commands)
