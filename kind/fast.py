"""Fast CPU inference: fused conv+lrelu with pre-packed oneDNN weights, fp32 or bf16.

Eager PyTorch runs each official ``slim.conv2d`` layer as a convolution (re-laying out its weights
on every call) and then a separate leaky-ReLU pass over the whole activation. ``fuse_for_cpu``
swaps every :class:`kind.models.Conv` for a :class:`FusedConv` that calls oneDNN once, with the
weights packed ahead of time and the lrelu applied as a post-op. In fp32 the outputs equal the
reference path's to float rounding; bf16 (AVX512-BF16 or AMX CPUs) halves the work again.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from kind.models import LRELU_SLOPE, Conv

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def cpu_fusion_available() -> bool:
    """Whether this PyTorch has oneDNN's fused convolution op."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs oneDNN bf16 convolutions natively (AVX512-BF16 or AMX)."""
    return cpu_fusion_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class FusedConv(nn.Module):
    """A :class:`Conv` run by oneDNN in one call: conv + bias (+ lrelu) with a packed weight.

    N×in_ch×H×W → N×out_ch×H×W (channels_last in, channels_last out). Inference only.
    """

    def __init__(self, conv: Conv, dtype: torch.dtype) -> None:
        super().__init__()
        self.padding = list(conv.padding)
        self.attr, self.scalars = ("leaky_relu", [LRELU_SLOPE]) if conv.act else ("none", [])
        weight = conv.weight.detach().to(dtype)
        self.bias = conv.bias.detach().to(dtype)
        self.weight = torch.ops.mkldnn._reorder_convolution_weight(weight, self.padding, [1, 1], [1, 1], 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.weight, self.bias, self.padding, [1, 1], [1, 1], 1, self.attr, self.scalars, ""
        )


def fuse_for_cpu(model: nn.Module, precision: str = "fp32") -> nn.Module:
    """A copy of ``model`` for fast CPU inference in ``precision`` (``fp32`` or ``bf16``).

    Feed it channels_last inputs of the same dtype (see :func:`prepare_input`).
    """
    if not cpu_fusion_available():
        raise RuntimeError("this PyTorch build has no oneDNN fused convolution; use the reference path")
    dtype = PRECISIONS[precision]
    fused = copy.deepcopy(model).eval().to(dtype=dtype, memory_format=torch.channels_last)
    for parent in list(fused.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv):
                setattr(parent, name, FusedConv(child, dtype))
    return fused


def prepare_input(x: Tensor, dtype: torch.dtype) -> Tensor:
    """``x`` in ``dtype`` and channels_last layout (a no-op when it already is)."""
    return x.to(dtype=dtype).contiguous(memory_format=torch.channels_last)
