"""PSNR and SSIM for batches of N×C×H×W float tensors in [0, data_range], one value per image (shape
(N,)), for validation during training; with ``quantize`` they equal :mod:`kind.metrics.fidelity` on
the saved PNG files.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kind.constants import SSIM_WINDOW


def _check_batch(pred: Tensor, target: Tensor, data_range: float) -> None:
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name}: expected NxCxHxW, got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point tensor, got {t.dtype}")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target: expected the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if pred.device != target.device:
        raise ValueError(f"pred and target: expected the same device, got {pred.device} and {target.device}")
    if not (isinstance(data_range, (int, float)) and data_range > 0):
        raise ValueError(f"data_range: expected a positive number, got {data_range!r}")


def _compute_dtype(device: torch.device) -> torch.dtype:
    """float64 wherever the device has it (CPU, CUDA); float32 otherwise (e.g. MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _to_255(x: Tensor, data_range: float, quantize: bool) -> Tensor:
    """[0, data_range] tensor -> the 0..255 scale in the compute dtype.

    quantize=True reproduces the official save ``uint8(clip(x * 255, 0, 255))`` (truncation): the
    product is formed in the input's own dtype, as numpy does on the float32 network output, then
    clipped and floored.
    """
    dtype = _compute_dtype(x.device)
    if quantize:
        return torch.floor(torch.clamp(x * (255.0 / data_range), 0.0, 255.0)).to(dtype)
    return x.to(dtype) * (255.0 / data_range)


def psnr_torch(pred: Tensor, target: Tensor, data_range: float = 1.0, quantize: bool = True) -> Tensor:
    r"""PSNR of each image in a batch; equals :func:`psnr` on the saved uint8 images when quantize.

    .. math:: \mathrm{PSNR}_n = 10 \log_{10} \frac{255^2}{\operatorname{mean}_{c,h,w}(q(p_n) - q(t_n))^2},
              \quad q(x) = \lfloor \operatorname{clip}(255 x / R, 0, 255) \rfloor \ \text{(quantize)}
              \ \text{or}\ 255 x / R

    Args:
        pred, target: NxCxHxW floating tensors in [0, data_range], same shape and device.
        data_range: R, the value that maps to 255.
        quantize: truncate to the uint8 values the official code saves (default), else use the
            float values directly.

    Returns:
        Tensor of shape (N,), float64 (float32 on devices without float64), on the input's device;
        ``inf`` for identical images.

    >>> p = torch.full((2, 3, 4, 4), 0.5)
    >>> psnr_torch(p, p + 5 / 255).shape
    torch.Size([2])
    """
    _check_batch(pred, target, data_range)
    x1 = _to_255(pred, data_range, quantize)
    x2 = _to_255(target, data_range, quantize)
    mse = ((x1 - x2) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(255.0 * 255.0 / mse)  # mse == 0 gives inf


def ssim_torch(pred: Tensor, target: Tensor, data_range: float = 1.0, quantize: bool = True) -> Tensor:
    r"""SSIM of each image in a batch; equals :func:`ssim` on the saved uint8 images when quantize.

    The same definition as :func:`ssim` (11x11 Gaussian sigma 1.5, valid region, C1 = (0.01*255)^2,
    C2 = (0.03*255)^2, map mean per channel, then channel mean), applied to ``q(x)`` as in
    :func:`psnr_torch`, computed by ``kornia.metrics.ssim`` (kornia, a training dependency, is
    imported here only, so that inference never loads it). With ``quantize=False`` it is
    differentiable; because the constants scale with the range, it then equals SSIM on [0, 1] with
    C1 = 0.01^2, C2 = 0.03^2.

    Args:
        pred, target: NxCxHxW floating tensors in [0, data_range], H and W at least 11.
        data_range: the value that maps to 255.
        quantize: truncate to the uint8 values the official code saves (default).

    Returns:
        Tensor of shape (N,), float64 (float32 on devices without float64), on the input's device.

    >>> p = torch.rand(2, 3, 16, 16)
    >>> ssim_torch(p, p)
    tensor([1., 1.], dtype=torch.float64)
    """
    import kornia

    _check_batch(pred, target, data_range)
    h, w = pred.shape[-2:]
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"ssim_torch: expected H and W >= {SSIM_WINDOW}, got {h}x{w}")
    x1 = _to_255(pred, data_range, quantize)
    x2 = _to_255(target, data_range, quantize)
    ssim_map = kornia.metrics.ssim(x1, x2, SSIM_WINDOW, max_val=255.0, eps=0.0, padding="valid")
    return ssim_map.mean(dim=(1, 2, 3))
