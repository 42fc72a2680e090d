"""kind export-onnx: the three ONNX files run in onnxruntime and agree with PyTorch on an odd size,
for any batch, height and width."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from kind.cli import main
from kind.weights.format import load_weights_dir


@pytest.fixture(scope="module")
def exported(tmp_path_factory, weights_dir) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "models"
    assert main(["export-onnx", str(out), "--weights", str(weights_dir)]) == 0
    return out


def _session(folder: Path, name: str) -> onnxruntime.InferenceSession:
    onnx.checker.check_model(str(folder / f"{name}.onnx"))
    return onnxruntime.InferenceSession(str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("shape", [(1, 3, 45, 61), (2, 3, 17, 9)])
def test_onnxruntime_matches_pytorch(exported, weights_dir, shape):
    nets = load_weights_dir(weights_dir)
    image = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    ratio = torch.full((shape[0], 1, *shape[2:]), 3.5)
    with torch.inference_mode():
        reflectance, illumination = nets.decom(image)
        restored = nets.restore(reflectance, illumination)
        adjusted = nets.adjust(illumination, ratio)
    r, l = _session(exported, "decom").run(["reflectance", "illumination"], {"image": image.numpy()})
    (rr,) = _session(exported, "restore").run(None, {"reflectance": reflectance.numpy(), "illumination": illumination.numpy()})
    (la,) = _session(exported, "adjust").run(None, {"illumination": illumination.numpy(), "ratio": ratio.numpy()})
    for ours, theirs in [(r, reflectance), (l, illumination), (rr, restored), (la, adjusted)]:
        assert ours.shape == tuple(theirs.shape)
        assert np.abs(ours - theirs.numpy()).max() <= 1e-4


def test_graphs_are_named_and_dynamic(exported):
    model = onnx.load(str(exported / "adjust.onnx"))
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert inputs == {"illumination": ["batch", 1, "height", "width"], "ratio": ["batch", 1, "height", "width"]}
    assert [o.name for o in model.graph.output] == ["adjusted"]
