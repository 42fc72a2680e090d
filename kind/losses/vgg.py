r"""Perceptual loss: distances between VGG-16/19 features (Johnson et al., ECCV 2016).

:class:`VGGFeatures` is VGG's convolutional part, built here with torchvision's layout so that a
torchvision-format state dict (``features.N.weight`` / ``features.N.bias``) loads into it directly.
Nothing is downloaded: weights come from a file the user names (:func:`read_vgg_weights`), and
without one the features are randomly initialised (only for tests: random features are not a
perceptual loss). Layers are named ``conv{block}_{i}``, ``relu{block}_{i}``, ``pool{block}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from kind.losses._checks import check_choice, check_pair, check_tensor, no_autocast

__all__ = [
    "VGG_BLOCKS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "vgg_layer_names",
    "read_vgg_weights",
    "VGGFeatures",
    "perceptual",
    "PerceptualLoss",
]

VGG_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}  # convolutions per block
VGG_WIDTHS = (64, 128, 256, 512, 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the normalisation torchvision's VGG weights expect
IMAGENET_STD = (0.229, 0.224, 0.225)
CRITERIA = ("mse", "l1")


def vgg_layer_names(network: str) -> list[str]:
    """The names of ``features``' modules in order: ``features[i]`` is ``vgg_layer_names(net)[i]``."""
    check_choice("network", network, tuple(VGG_BLOCKS))
    names = []
    for block, convs in enumerate(VGG_BLOCKS[network], start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


def _conv_shapes(network: str) -> dict[int, tuple[int, int]]:
    """``features`` index of each convolution -> (in_channels, out_channels)."""
    shapes, index, channels = {}, 0, 3
    for convs, width in zip(VGG_BLOCKS[network], VGG_WIDTHS):
        for _ in range(convs):
            shapes[index] = (channels, width)
            channels, index = width, index + 2  # conv, relu
        index += 1  # pool
    return shapes


def read_vgg_weights(path: str | Path) -> tuple[str, dict[str, Tensor]]:
    """Read a torchvision-format VGG-16 or VGG-19 state dict; return ``(network, state_dict)``.

    The file is what ``torch.save(torchvision.models.vgg19(weights=...).state_dict(), path)`` writes
    (``classifier.*`` entries may be there or not; they are not used). The network is recognised by
    the indices of its ``features.N.weight`` entries; batch-normalised VGGs are rejected. The file is
    memory-mapped where its format allows, so reading it to check it is cheap.

    Raises:
        ValueError: no such file, not a state dict, or not a torchvision VGG-16/19.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such VGG weights file")
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # an old (non-zip) file cannot be memory-mapped
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported the same way
        raise ValueError(f"{path}: cannot read a torch state dict ({type(error).__name__}: {error})") from None
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: expected a state dict (a mapping of names to tensors), got {type(state).__name__}")
    found = sorted(int(m.group(1)) for key in state if (m := re.fullmatch(r"features\.(\d+)\.weight", key)))
    for network in VGG_BLOCKS:
        if found == sorted(_conv_shapes(network)):
            return network, dict(state)
    expected = {net: sorted(_conv_shapes(net)) for net in VGG_BLOCKS}
    raise ValueError(
        f"{path}: expected a torchvision VGG-16 or VGG-19 state dict (features.N.weight at N = {expected}), "
        f"got features.N.weight at N = {found}"
    )


class VGGFeatures(nn.Module):
    r"""VGG's convolutional part up to the deepest requested layer, frozen; ``forward`` returns the
    requested layers' activations of ImageNet-normalised inputs.

    Args:
        network: ``"vgg16"`` or ``"vgg19"``.
        layers: names from :func:`vgg_layer_names`, e.g. ``("relu2_2", "relu3_3")``.
        state_dict: a torchvision-format VGG state dict (:func:`read_vgg_weights`); every
            convolution up to the deepest layer must be there with its exact shape; deeper ones and
            ``classifier.*`` are ignored. ``None``: random initialisation (tests only).

    Shape:
        input N x 3 x H x W in [0, 1]; output ``{layer: N x C_l x H_l x W_l}``.

    Example:
        >>> features = VGGFeatures("vgg16", ["relu1_2", "relu2_2"])
        >>> {k: tuple(v.shape) for k, v in features(torch.rand(1, 3, 32, 32)).items()}
        {'relu1_2': (1, 64, 32, 32), 'relu2_2': (1, 128, 16, 16)}
    """

    def __init__(
        self, network: str = "vgg19", layers: Sequence[str] = ("relu3_3",), state_dict: Mapping[str, Tensor] | None = None
    ) -> None:
        super().__init__()
        names = vgg_layer_names(network)
        if isinstance(layers, str) or not layers:
            raise ValueError(f"layers: expected a non-empty list of layer names, got {layers!r}")
        unknown = [layer for layer in layers if layer not in names]
        if unknown:
            raise ValueError(f"layers: {unknown} are not {network} layers (known: {names})")
        self.network = network
        self.layers = tuple(dict.fromkeys(layers))  # in the order given, once each
        depth = max(names.index(layer) for layer in self.layers) + 1
        shapes = _conv_shapes(network)
        modules: list[nn.Module] = []
        for index, name in enumerate(names[:depth]):
            if name.startswith("conv"):
                modules.append(nn.Conv2d(*shapes[index], kernel_size=3, padding=1))
            elif name.startswith("relu"):
                modules.append(nn.ReLU())
            else:
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*modules)
        self._names = names[:depth]
        if state_dict is not None:
            self._load(state_dict)
        self.requires_grad_(False)
        self.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _load(self, state_dict: Mapping[str, Tensor]) -> None:
        """Copy every kept convolution's weight and bias, each checked for presence and shape."""
        own = self.state_dict()
        for key, param in own.items():
            if key not in state_dict:
                raise ValueError(f"VGG weights: {key} is missing (needed for layer {self._names[int(key.split('.')[1])]})")
            if tuple(state_dict[key].shape) != tuple(param.shape):
                raise ValueError(
                    f"VGG weights: {key}: expected shape {tuple(param.shape)}, got {tuple(state_dict[key].shape)}"
                )
        self.load_state_dict({key: state_dict[key] for key in own}, strict=True)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        check_tensor("x", x, channels=3)
        x = (x.to(self.mean.dtype) - self.mean) / self.std
        out = {}
        for name, module in zip(self._names, self.features):
            x = module(x)
            if name in self.layers:
                out[name] = x
        return out


def perceptual(pred: Tensor, target: Tensor, features: VGGFeatures, criterion: str = "mse") -> Tensor:
    r"""Feature reconstruction loss: ``(1 / |layers|) sum_l mean d(phi_l(pred), phi_l(target))``
    with ``phi_l`` the activations of :class:`VGGFeatures` and ``d`` squared (``"mse"``, Johnson et
    al.) or absolute (``"l1"``, as MBLLEN and ESRGAN use) differences.

    Both images go through the network in one batch. The network runs in its own dtype under the
    caller's autocast (so bf16 on a GPU when the loop asks for it); the distances are float32.

    Args:
        pred, target: N x 3 x H x W in [0, 1], same shape.
        features: the feature extractor (its weights decide whether this is a perceptual loss).
        criterion: ``"mse"`` or ``"l1"``.
    """
    check_pair(pred, target, channels=3)
    check_choice("criterion", criterion, CRITERIA)
    if not isinstance(features, VGGFeatures):
        raise TypeError(f"features: expected a VGGFeatures, got {type(features).__name__}")
    n = pred.shape[0]
    activations = features(torch.cat([pred, target]))
    total = 0.0
    with no_autocast(pred):
        for value in activations.values():
            value = value.float() if value.dtype in (torch.float16, torch.bfloat16) else value
            diff = value[:n] - value[n:]
            total = total + (diff.square() if criterion == "mse" else diff.abs()).mean()
    return total / len(activations)


class PerceptualLoss(nn.Module):
    r"""Module form of :func:`perceptual` holding its :class:`VGGFeatures`.

    Args:
        layers: layer names, e.g. ``("relu3_3",)``.
        weights: a torchvision-format VGG-16/19 state dict file; the network is read from it.
            ``None``: random features of ``network`` (tests only).
        network: ``"vgg16"`` or ``"vgg19"``; must agree with ``weights`` when both are given.
        criterion: ``"mse"`` or ``"l1"``.
    """

    def __init__(
        self,
        layers: Sequence[str] = ("relu3_3",),
        weights: str | Path | None = None,
        network: str | None = None,
        criterion: str = "mse",
    ) -> None:
        super().__init__()
        check_choice("criterion", criterion, CRITERIA)
        state_dict = None
        if weights is not None:
            found, state_dict = read_vgg_weights(weights)
            if network is not None and network != found:
                raise ValueError(f"network: {weights} holds {found} weights, got network={network!r}")
            network = found
        self.features = VGGFeatures(network or "vgg19", layers, state_dict)
        self.criterion = criterion

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return perceptual(pred, target, self.features, self.criterion)
