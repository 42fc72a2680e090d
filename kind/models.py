"""The three KinD networks, ported layer for layer from the official TensorFlow code.

Shapes are NCHW. Every 3×3 convolution uses "SAME" zero padding (1 pixel each side), every
max-pool is 2×2/2 with TF "SAME" semantics (``ceil_mode=True``), and every up-sampling step is a
2×2/2 transposed convolution without bias whose output is cropped to the skip connection's size
(TF ``conv2d_transpose(..., output_shape=shape(skip))``), so any H×W ≥ 1 works, odd sizes included.

The layer table in :mod:`kind.weights.tf_import` maps each module below to its TF variable scope.
"""

from __future__ import annotations

from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kind.constants import NETWORK_NAMES

LRELU_SLOPE = 0.2

Ratio = Union[float, Tensor]


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU of the official code: ``max(0.2·x, x)``."""
    return F.leaky_relu(x, LRELU_SLOPE)


class Conv(nn.Conv2d):
    """The official ``slim.conv2d`` layer: k×k convolution, stride 1, TF "SAME" padding, with
    bias, followed by lrelu unless ``act=False`` (the output heads).

    N×in_ch×H×W → N×out_ch×H×W. :mod:`kind.inference.fused` swaps it for a fused conv+lrelu on CPU.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, act: bool = True) -> None:
        super().__init__(in_ch, out_ch, kernel_size=kernel_size, padding=kernel_size // 2)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        y = super().forward(x)
        return lrelu(y) if self.act else y


def max_pool(x: Tensor) -> Tensor:
    """2×2/2 max-pool with TF "SAME" semantics: N×C×H×W → N×C×⌈H/2⌉×⌈W/2⌉."""
    return F.max_pool2d(x, kernel_size=2, stride=2, ceil_mode=True)


class Concat(nn.Module):
    """Channel concatenation: (N×C1×H×W, N×C2×H×W, …) → N×(C1+C2+…)×H×W.

    A module (without parameters) so that :mod:`kind.inference.fused` can fold the concatenation into the
    convolution that consumes it.
    """

    def forward(self, *xs: Tensor) -> Tensor:
        return torch.cat(xs, dim=1)


class UpsampleConcat(nn.Module):
    """The official ``upsample_and_concat`` block.

    ``forward(x, skip)``: x N×in_ch×h×w, skip N×out_ch×H×W with ⌈H/2⌉ = h, ⌈W/2⌉ = w →
    N×(2·out_ch)×H×W, the up-sampled x first. The 2×2/2 transposed convolution (no bias) gives
    2h×2w; an odd skip size drops its last row/column, as TF does for ``output_shape=shape(skip)``.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_ch, out_ch, kernel_size=2, stride=2, bias=False)
        self.concat = Concat()

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        up = self.deconv(x)
        height, width = skip.shape[-2:]
        return self.concat(up[..., :height, :width], skip)


def _check_image(x: Tensor, channels: int, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name}: expected N×{channels}×H×W, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {x.dtype}")


class DecomNet(nn.Module):
    """Decomposition S → (R, L): x N×3×H×W in [0,1] → R N×3×H×W, L N×1×H×W (both sigmoid)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = Conv(3, 32)
        self.conv2 = Conv(32, 64)
        self.conv3 = Conv(64, 128)
        self.up8 = UpsampleConcat(128, 64)
        self.conv8 = Conv(128, 64)
        self.up9 = UpsampleConcat(64, 32)
        self.conv9 = Conv(64, 32)
        self.r_out = Conv(32, 3, kernel_size=1, act=False)
        self.l_conv = Conv(32, 32)
        self.l_concat = Concat()
        self.l_out = Conv(64, 1, kernel_size=1, act=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        _check_image(x, 3, "DecomNet input")
        conv1 = self.conv1(x)
        conv2 = self.conv2(max_pool(conv1))
        conv3 = self.conv3(max_pool(conv2))
        conv8 = self.conv8(self.up8(conv3, conv2))
        conv9 = self.conv9(self.up9(conv8, conv1))
        reflectance = torch.sigmoid(self.r_out(conv9))
        l_conv = self.l_conv(conv1)
        illumination = torch.sigmoid(self.l_out(self.l_concat(l_conv, conv9)))
        return reflectance, illumination


class DoubleConv(nn.Module):
    """Two 3×3 conv+lrelu layers: N×in_ch×H×W → N×out_ch×H×W."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = Conv(in_ch, out_ch)
        self.conv2 = Conv(out_ch, out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.conv1(x))


class RestorationNet(nn.Module):
    """Reflectance restoration (R, L) → R̂: a 5-level U-Net on concat [R, L].

    R N×3×H×W, L N×1×H×W → R̂ N×3×H×W in (0,1).
    """

    WIDTHS = (32, 64, 128, 256, 512)

    def __init__(self) -> None:
        super().__init__()
        w1, w2, w3, w4, w5 = self.WIDTHS
        self.enc1 = DoubleConv(4, w1)
        self.enc2 = DoubleConv(w1, w2)
        self.enc3 = DoubleConv(w2, w3)
        self.enc4 = DoubleConv(w3, w4)
        self.enc5 = DoubleConv(w4, w5)
        self.up6 = UpsampleConcat(w5, w4)
        self.dec6 = DoubleConv(2 * w4, w4)
        self.up7 = UpsampleConcat(w4, w3)
        self.dec7 = DoubleConv(2 * w3, w3)
        self.up8 = UpsampleConcat(w3, w2)
        self.dec8 = DoubleConv(2 * w2, w2)
        self.up9 = UpsampleConcat(w2, w1)
        self.dec9 = DoubleConv(2 * w1, w1)
        self.out = Conv(w1, 3, act=False)

    def forward(self, reflectance: Tensor, illumination: Tensor) -> Tensor:
        _check_image(reflectance, 3, "RestorationNet reflectance")
        _check_image(illumination, 1, "RestorationNet illumination")
        enc1 = self.enc1(torch.cat([reflectance, illumination], dim=1))
        enc2 = self.enc2(max_pool(enc1))
        enc3 = self.enc3(max_pool(enc2))
        enc4 = self.enc4(max_pool(enc3))
        enc5 = self.enc5(max_pool(enc4))
        dec6 = self.dec6(self.up6(enc5, enc4))
        dec7 = self.dec7(self.up7(dec6, enc3))
        dec8 = self.dec8(self.up8(dec7, enc2))
        dec9 = self.dec9(self.up9(dec8, enc1))
        return torch.sigmoid(self.out(dec9))


def ratio_plane(ratio: Ratio, like: Tensor) -> Tensor:
    """Broadcast a brightening ratio to a N×1×H×W plane shaped, typed and placed like ``like``.

    ``ratio``: a Python number, a 0-dim tensor, a tensor of shape (N,), or an N×1×H×W plane.
    """
    n, _, h, w = like.shape
    if not isinstance(ratio, Tensor):
        return like.new_full((n, 1, h, w), float(ratio))
    ratio = ratio.to(device=like.device, dtype=like.dtype)
    if ratio.dim() == 0:
        return ratio.expand(n, 1, h, w)
    if ratio.dim() == 1 and ratio.shape[0] == n:
        return ratio.view(n, 1, 1, 1).expand(n, 1, h, w)
    if ratio.shape == (n, 1, h, w):
        return ratio
    raise ValueError(
        f"ratio: expected a number, a tensor of shape ({n},) or {n}×1×{h}×{w}, "
        f"got shape {tuple(ratio.shape)}"
    )


class IllumAdjustNet(nn.Module):
    """Illumination adjustment (L, ratio) → L̂: L N×1×H×W, ratio see :func:`ratio_plane`.

    Four 3×3 convolutions on concat [L, ratio plane], each followed by lrelu — the last one too,
    as in the official code — then a sigmoid: L̂ N×1×H×W.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = Conv(2, 32)
        self.conv2 = Conv(32, 32)
        self.conv3 = Conv(32, 32)
        self.conv4 = Conv(32, 1)

    def forward(self, illumination: Tensor, ratio: Ratio) -> Tensor:
        _check_image(illumination, 1, "IllumAdjustNet illumination")
        x = torch.cat([illumination, ratio_plane(ratio, illumination)], dim=1)
        x = self.conv1(x)
        x = self.conv2(x)
        x = self.conv3(x)
        x = self.conv4(x)
        return torch.sigmoid(x)


NETWORKS: dict[str, type[nn.Module]] = dict(zip(NETWORK_NAMES, (DecomNet, RestorationNet, IllumAdjustNet)))


def build_network(name: str) -> nn.Module:
    """A fresh network by stage name (``decom``, ``restore``, ``adjust``), initialised like tf_slim."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}: expected one of {sorted(NETWORKS)}")
    return init_like_tf(NETWORKS[name]())


def init_like_tf(model: nn.Module) -> nn.Module:
    """Initialise like tf_slim: Glorot-uniform weights, zero biases (training from scratch)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model
