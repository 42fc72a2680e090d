"""Input checks and precision rules shared by every loss in :mod:`kind.losses`.

Checks raise ``TypeError`` (wrong kind of object) or ``ValueError`` (wrong shape or value) with a
message that names the argument and says what was expected and what came. Losses compute in float32
(float64 inputs stay float64) with autocast switched off, so they are safe under ``torch.autocast``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Sequence, Tuple

import torch
from torch import Tensor


def check_tensor(name: str, x: object, channels: int | None = None) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if x.dim() != 4:
        raise ValueError(f"{name}: expected a 4-D NxCxHxW tensor, got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name}: expected {channels} channel(s) (Nx{channels}xHxW), got shape {tuple(x.shape)}"
        )


def check_same_shape(a_name: str, a: Tensor, b_name: str, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name}: expected the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_same_nhw(a_name: str, a: Tensor, b_name: str, b: Tensor) -> None:
    if (a.shape[0], a.shape[2], a.shape[3]) != (b.shape[0], b.shape[2], b.shape[3]):
        raise ValueError(
            f"{a_name} and {b_name}: expected the same batch and spatial size (N, H, W), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_pair(pred: object, target: object, channels: int | None = None) -> None:
    """``pred`` and ``target``: floating N x C x H x W tensors of one shape (``channels`` if given)."""
    check_tensor("pred", pred, channels)
    check_tensor("target", target, channels)
    check_same_shape("pred", pred, "target", target)


def check_number(name: str, value: object, minimum: float, inclusive: bool = True) -> None:
    """A finite real number (not a bool) ``>= minimum`` (``> minimum`` when not ``inclusive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    low_ok = value >= minimum if inclusive else value > minimum
    if not math.isfinite(value) or not low_ok:
        bound = ">=" if inclusive else ">"
        raise ValueError(f"{name}: expected a finite number {bound} {minimum:g}, got {value!r}")


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> None:
    """An int (not a bool) in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ValueError(f"{name}: expected an int >= {minimum}{upper}, got {value}")


def check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


def compute_dtype(tensors: Sequence[Tensor]) -> torch.dtype:
    """float64 if any input is float64, otherwise float32 (half and bfloat16 are cast up)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def upcast(*tensors: Tensor) -> Tuple[Tensor, ...]:
    dtype = compute_dtype(tensors)
    return tuple(t.to(dtype) for t in tensors)


def no_autocast(x: Tensor):
    """Switch autocast off on x's device, so convolutions and reductions run in the compute dtype."""
    if x.device.type in ("cuda", "cpu", "xpu", "mps"):
        return torch.autocast(device_type=x.device.type, enabled=False)
    return contextlib.nullcontext()


def prepared_pair(pred: object, target: object, channels: int | None = None) -> Tuple[Tensor, Tensor]:
    """:func:`check_pair`, then both cast to the compute dtype (:func:`upcast`)."""
    check_pair(pred, target, channels)
    return upcast(pred, target)


def check_min_size(name: str, x: Tensor, size: int, why: str) -> None:
    """H and W of ``x`` at least ``size``; ``why`` says what needs it."""
    if x.shape[-2] < size or x.shape[-1] < size:
        raise ValueError(f"{name}: {why} needs H and W >= {size}, got shape {tuple(x.shape)}")
