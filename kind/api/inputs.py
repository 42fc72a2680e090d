"""What :class:`kind.KinD`'s calls take: a PIL image, an integer array or a float tensor
(:class:`ImageInput`, which also gives a result back in the same kind), and the sources the tiled
pipeline reads them through as stretched pieces (:class:`ArraySource`, :class:`TensorSource`,
:class:`kind.inference.tiling.Source`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from kind.imageops import stretch, stretch_bounds
from kind.io.read import image_samples, sample_scale
from kind.io.write import convert_alpha

ImageLike = Image.Image | np.ndarray | Tensor


class ArraySource:
    """N images of integer samples (N×H×W×3 uint8/uint16), read as stretched float32 N×3×h×w
    pieces: ``samples / white`` in numpy float32, then the whole image's stretch."""

    def __init__(self, samples: np.ndarray, bounds: tuple[float, float] | None = None) -> None:
        self.samples = samples
        self.count, self.height, self.width = samples.shape[:3]
        self.white = np.float32(sample_scale(samples))
        if bounds is None:
            flat = samples.reshape(self.count, -1)
            low, high = flat.min(axis=1).astype(np.float32) / self.white, flat.max(axis=1).astype(np.float32) / self.white
        else:  # given in [0, 1], the same for every image
            low, high = np.full(self.count, bounds[0], np.float32), np.full(self.count, bounds[1], np.float32)
        self.low = torch.from_numpy(low).view(-1, 1, 1, 1)
        self.high = torch.from_numpy(high).view(-1, 1, 1, 1)

    def read(self, top: int, bottom: int, left: int, right: int) -> Tensor:
        piece = self.samples[:, top:bottom, left:right].astype(np.float32) / self.white
        return stretch(torch.from_numpy(piece).permute(0, 3, 1, 2).contiguous(), self.low, self.high)


class TensorSource:
    """N×3×H×W float images in [0, 1], read as stretched pieces (on their own device)."""

    def __init__(self, images: Tensor) -> None:
        self.images = images.float()
        self.count, _, self.height, self.width = images.shape
        self.low, self.high = stretch_bounds(self.images)

    def read(self, top: int, bottom: int, left: int, right: int) -> Tensor:
        return stretch(self.images[:, :, top:bottom, left:right], self.low, self.high)


@dataclass
class ImageInput:
    """One argument of :class:`kind.KinD`: integer ``samples`` H×W×3 (from PIL or numpy) or a float
    ``tensor`` N×3×H×W, and how to give a result back in the same kind."""

    height: int
    width: int
    samples: np.ndarray | None = None
    tensor: Tensor | None = None
    alpha: np.ndarray | None = None
    pil: Image.Image | None = None

    def __post_init__(self) -> None:
        if self.height == 0 or self.width == 0:
            raise ValueError(f"image: empty ({self.height}×{self.width} pixels); nothing to enhance")
        if self.tensor is not None and not bool(torch.isfinite(self.tensor).all()):
            raise ValueError("image: the tensor holds NaN or infinite values; expected finite values in [0, 1]")

    @classmethod
    def of(cls, image: object) -> ImageInput:
        if isinstance(image, Image.Image):
            samples, alpha, _ = image_samples(image)
            return cls(image.height, image.width, samples, alpha=alpha, pil=image)
        if isinstance(image, np.ndarray):
            samples, alpha = _split_array(image)
            return cls(image.shape[0], image.shape[1], samples, alpha=alpha)
        if isinstance(image, Tensor):
            if image.dim() != 4 or image.shape[1] != 3 or not image.is_floating_point():
                raise ValueError(f"image: expected a float tensor N×3×H×W in [0, 1], got {image.dtype} "
                                 f"of shape {tuple(image.shape)}")
            return cls(image.shape[2], image.shape[3], tensor=image)
        raise TypeError(f"image: expected a PIL image, a numpy array or a torch tensor, got {type(image).__name__}")

    def wrap(self, output: np.ndarray) -> Image.Image | np.ndarray:
        """A uint8 H×W×3 result in the input's kind, with its alpha."""
        alpha = None if self.alpha is None else convert_alpha(self.alpha, np.uint8)
        pixels = output if alpha is None else np.concatenate([output, alpha[..., None]], axis=2)
        if self.pil is None:
            return pixels
        result = Image.fromarray(pixels, "RGBA" if alpha is not None else "RGB")
        if self.pil.info.get("icc_profile"):
            result.info["icc_profile"] = self.pil.info["icc_profile"]
        return result


def _split_array(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A uint8/uint16 array H×W, H×W×1, H×W×3 or H×W×4 → (samples H×W×3, alpha H×W or None)."""
    if image.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"image: expected a uint8 or uint16 array (a float image goes in as a tensor "
                        f"N×3×H×W), got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image: expected an array H×W, H×W×3 or H×W×4, got shape {image.shape}")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2), None
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[..., :3]), image[..., 3]
    return image, None
