"""Importing kind and using it changes no process-wide setting; kind.tune_process() is the one
opt-in; inference never loads the training or ONNX dependencies. Each check runs in a fresh
Python, where the settings are still the interpreter's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SETTINGS = """
import json, os
import torch
from PIL import Image

def settings():
    umask = os.umask(0o022)
    os.umask(umask)
    import kind.tuning
    return {"pillow_max_image_pixels": Image.MAX_IMAGE_PIXELS, "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "threads": torch.get_num_threads(), "umask": umask,
            "heap_tuned": kind.tuning.retain_freed_memory.cache_info().currsize}
"""


def _run(code: str, tmp_path: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", SETTINGS + code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_and_use_change_no_setting(tmp_path, weights_dir):
    """Issue 13: import-time mallopt, Pillow's MAX_IMAGE_PIXELS and a Runner's cudnn.benchmark were
    process-wide side effects of library code."""
    code = f"""
before = settings()
import numpy as np
import kind, kind.io.read, kind.io.atomic, kind.enhance, kind.evaluation.evaluate, kind.bench.inference
from kind import KinD
from kind.inference.runner import Runner
from kind.weights.format import load_weights_dir
model = KinD.from_pretrained({str(weights_dir)!r}, device="cpu")
Runner(load_weights_dir({str(weights_dir)!r}), "cpu", fast=False)
model(np.zeros((9, 11, 3), np.uint8))
from PIL import Image
Image.new("RGB", (11, 9)).save("photo.png")
assert kind.io.read.read_image("photo.png").samples.shape == (9, 11, 3)
print(json.dumps({{"before": before, "after": settings()}}))
"""
    result = _run(code, tmp_path)
    assert result["after"] == result["before"]
    assert result["before"]["heap_tuned"] == 0


def test_tune_process_applies_them(tmp_path):
    code = """
import kind
applied = kind.tune_process(threads=1, max_image_pixels=10**9)
after = settings()
print(json.dumps({"applied": applied, "after": after}))
"""
    result = _run(code, tmp_path)
    after = result["after"]
    assert after["threads"] == 1 and after["cudnn_benchmark"] is True
    assert after["pillow_max_image_pixels"] == 10**9 and after["heap_tuned"] == 1
    assert set(result["applied"]) == {"threads", "heap", "cudnn_benchmark", "max_image_pixels"}


def test_inference_loads_no_training_or_onnx_package(tmp_path, weights_dir):
    """kind enhance and the API need torch, numpy, Pillow and PyYAML only (the core dependencies)."""
    from PIL import Image

    Image.new("RGB", (9, 7), (20, 30, 40)).save(tmp_path / "x.png")
    code = f"""
import sys
from kind.cli import main
assert main(["enhance", "x.png", "-o", "out", "--weights", {str(weights_dir)!r}, "--quiet"]) == 0
from kind import KinD
KinD.from_pretrained({str(weights_dir)!r}, device="cpu").decompose(__import__("numpy").zeros((5, 5, 3), "uint8"))
heavy = ("kornia", "tensorboard", "torchvision", "onnx", "onnxruntime", "skimage", "scipy")
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in heavy)))
"""
    assert _run(code, tmp_path) == []


def test_reading_images_filters_no_warnings(tmp_path, monkeypatch):
    """Warning filters are process-wide and images are read on worker threads: the reader leaves them alone."""
    import warnings

    from PIL import Image

    from kind.io.read import header_pixels, read_image

    Image.new("RGB", (11, 9)).save(tmp_path / "photo.png")

    def refuse(*args, **kwargs):
        raise AssertionError("warnings.catch_warnings is not thread-safe")

    monkeypatch.setattr(warnings, "catch_warnings", refuse)
    assert read_image(tmp_path / "photo.png").samples.shape == (9, 11, 3)
    assert header_pixels(tmp_path / "photo.png") == 99


def test_benchmark_networks_leave_the_random_state_as_it_was(tmp_path):
    import torch

    from kind.bench.inference import bench_nets

    torch.manual_seed(123)
    before = torch.get_rng_state()
    nets, label = bench_nets(str(tmp_path))  # an empty folder: random networks
    assert label.startswith("random") and torch.equal(torch.get_rng_state(), before)
