"""ONNX export of the three networks (``kind export-onnx``), for onnxruntime and other runtimes.

Writes three models with dynamic batch, height and width (any size ≥ 1, odd sizes included):

* ``decom.onnx``: ``image`` N×3×H×W (min-max stretched, in [0, 1]) → ``reflectance`` N×3×H×W,
  ``illumination`` N×1×H×W;
* ``restore.onnx``: ``reflectance``, ``illumination`` → ``restored`` N×3×H×W;
* ``adjust.onnx``: ``illumination`` N×1×H×W, ``ratio`` N×1×H×W (the brightening ratio as a plane)
  → ``adjusted`` N×1×H×W.

All float32. The photo pipeline's own steps (stretch, darkness weight, blend) stay outside, as
numpy code around the three sessions (docs/python-api.md shows it). Uses PyTorch's TorchScript-based
exporter, which needs no package beyond torch (onnx and onnxruntime are the ``[onnx]`` extra, for
checking and running the files).
"""

from __future__ import annotations

import inspect
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from kind.constants import DEFAULT_OPSET
from kind.io.atomic import atomic_path
from kind.weights.format import KinDNets, load_weights_dir

MIN_OPSET = 11  # the oldest opset tested to hold every layer (nearest upsampling with dynamic sizes)
EXAMPLE_SIZE = (37, 53)  # an odd size for tracing; every axis is exported as dynamic anyway
GRAPHS = {  # file stem → (input names, output names)
    "decom": (("image",), ("reflectance", "illumination")),
    "restore": (("reflectance", "illumination"), ("restored",)),
    "adjust": (("illumination", "ratio"), ("adjusted",)),
}


class _RatioPlane(nn.Module):
    """The adjustment net with its ratio given as an N×1×H×W plane (what the ONNX graph takes)."""

    def __init__(self, adjust: nn.Module) -> None:
        super().__init__()
        self.adjust = adjust

    def forward(self, illumination: Tensor, ratio: Tensor) -> Tensor:
        return self.adjust(illumination, ratio)


def export_onnx(out_dir: str | os.PathLike, weights: str | os.PathLike | None = None, opset: int = DEFAULT_OPSET) -> dict[str, Path]:
    """Export the networks of a weights spec (None: the shipped weights) to ``out_dir``; returns
    the written files by network. Each file is written atomically. An opset outside
    :func:`opset_range` is refused before the weights are loaded."""
    check_opset(opset)
    return export_nets(load_weights_dir(weights), out_dir, opset)


def opset_range() -> tuple[int, int]:
    """The ONNX opsets the exporter writes: (``MIN_OPSET``, the TorchScript exporter's newest)."""
    from torch.onnx import _constants

    return MIN_OPSET, getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", _constants.ONNX_MAX_OPSET)


def check_opset(opset: int) -> None:
    """Raise ValueError for an opset the exporter cannot write."""
    low, high = opset_range()
    if not isinstance(opset, int) or not low <= opset <= high:
        raise ValueError(f"opset: expected {low} to {high} (this torch's ONNX exporter), got {opset!r}")


def export_nets(nets: KinDNets, out_dir: str | os.PathLike, opset: int = DEFAULT_OPSET) -> dict[str, Path]:
    """Export loaded networks to ``out_dir`` (see :func:`export_onnx`)."""
    check_opset(opset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {name: _export(module, name, out_dir / f"{name}.onnx", opset) for name, module in _modules(nets).items()}


def _modules(nets: KinDNets) -> dict[str, nn.Module]:
    return {"decom": nets.decom.eval(), "restore": nets.restore.eval(), "adjust": _RatioPlane(nets.adjust).eval()}


def _example(name: str) -> tuple[Tensor, ...]:
    height, width = EXAMPLE_SIZE
    channels = {"image": 3, "reflectance": 3, "illumination": 1, "ratio": 1}
    return tuple(torch.rand(1, channels[arg], height, width) for arg in GRAPHS[name][0])


def _export(module: nn.Module, name: str, path: Path, opset: int) -> Path:
    inputs, outputs = GRAPHS[name]
    dynamic = {arg: {0: "batch", 2: "height", 3: "width"} for arg in inputs + outputs}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # the trace evaluates the networks' shape checks once (constant: they pass) and the
        # TorchScript exporter announces its deprecation; neither concerns the exported graph
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torchscript = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        torch.onnx.export(module, _example(name), str(tmp), input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes=dynamic, opset_version=opset, **torchscript)
    return path
