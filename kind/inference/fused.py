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

from kind.constants import PRECISIONS
from kind.models import LRELU_SLOPE, Concat, Conv

DTYPES = dict(zip(PRECISIONS, (torch.float32, torch.bfloat16)))  # precision name → dtype


def cpu_fusion_available() -> bool:
    """Whether this PyTorch has oneDNN's fused convolution op."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs oneDNN bf16 convolutions natively (AVX512-BF16 or AMX)."""
    return cpu_fusion_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


SPLIT_MIN_CHANNELS = 16  # concatenations of parts this wide are folded into the next convolution


class Parts(tuple):
    """Tensors whose channel concatenation is left to the :class:`FusedConv` that consumes them."""


class DeferredConcat(nn.Module):
    """:class:`kind.models.Concat` for the fused path: hands the parts on instead of copying them
    into one tensor (a full-resolution concatenation costs as much as a small convolution)."""

    def forward(self, *xs: Tensor) -> Tensor | Parts:
        if all(x.shape[1] >= SPLIT_MIN_CHANNELS for x in xs):
            return Parts(xs)
        return torch.cat(xs, dim=1)


def _pack(weight: Tensor, padding: list[int]) -> Tensor:
    return torch.ops.mkldnn._reorder_convolution_weight(weight.contiguous(), padding, [1, 1], [1, 1], 1)


class FusedConv(nn.Module):
    """A :class:`Conv` run by oneDNN in one call: conv + bias (+ lrelu) with a packed weight.

    N×in_ch×H×W → N×out_ch×H×W (channels_last in, channels_last out). Inference only. Given
    :class:`Parts`, it convolves each part with its slice of the weight and sums the results inside
    oneDNN (conv(cat(a, b)) = conv_a(a) + conv_b(b)), then applies lrelu in place.
    """

    def __init__(self, conv: Conv, dtype: torch.dtype) -> None:
        super().__init__()
        self.padding = list(conv.padding)
        self.act = conv.act
        self.attr, self.scalars = ("leaky_relu", [LRELU_SLOPE]) if conv.act else ("none", [])
        self.raw_weight = conv.weight.detach().to(dtype)
        self.bias = conv.bias.detach().to(dtype)
        self.weight = _pack(self.raw_weight, self.padding)
        self.split_weights: dict[tuple[int, ...], list[Tensor]] = {}

    def forward(self, x: Tensor | Parts) -> Tensor:
        if isinstance(x, Parts):
            return self._forward_parts(x)
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.weight, self.bias, self.padding, [1, 1], [1, 1], 1, self.attr, self.scalars, ""
        )

    def _forward_parts(self, parts: Parts) -> Tensor:
        channels = tuple(part.shape[1] for part in parts)
        if channels not in self.split_weights:
            slices = self.raw_weight.split(list(channels), dim=1)
            self.split_weights[channels] = [_pack(w, self.padding) for w in slices]
        weights = self.split_weights[channels]
        conv, args = torch.ops.mkldnn._convolution_pointwise, (self.padding, [1, 1], [1, 1], 1)
        out = conv(parts[-1], weights[-1], None, *args, "none", [], "")
        for index in range(len(parts) - 2, -1, -1):
            bias = self.bias if index == 0 else None
            out = conv.binary(parts[index], out, weights[index], bias, *args, "add", 1.0, None, [], "")
        return torch.nn.functional.leaky_relu_(out, LRELU_SLOPE) if self.act else out


def fuse_for_cpu(model: nn.Module, precision: str = "fp32") -> nn.Module:
    """A copy of ``model`` for fast CPU inference in ``precision`` (``fp32`` or ``bf16``).

    Feed it channels_last inputs of the same dtype (see :func:`prepare_input`).
    """
    if not cpu_fusion_available():
        raise RuntimeError("this PyTorch build has no oneDNN fused convolution; use the reference path")
    dtype = DTYPES[precision]
    fused = copy.deepcopy(model).eval().to(dtype=dtype, memory_format=torch.channels_last)
    for parent in list(fused.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv):
                setattr(parent, name, FusedConv(child, dtype))
            elif isinstance(child, Concat):
                setattr(parent, name, DeferredConcat())
    return fused


def prepare_input(x: Tensor, dtype: torch.dtype) -> Tensor:
    """``x`` in ``dtype`` and channels_last layout (a no-op when it already is)."""
    return x.to(dtype=dtype).contiguous(memory_format=torch.channels_last)
