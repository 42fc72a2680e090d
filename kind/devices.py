"""Whether a torch device exists on this machine, checked before any work with a clear error."""

from __future__ import annotations

import torch


def check_device(device: torch.device, given: str | torch.device | None = None) -> torch.device:
    """``device`` unchanged when this machine has it; ValueError naming ``given`` (as the user wrote
    it) otherwise: CUDA without a GPU, a GPU index beyond the count, MPS without Apple's backend."""
    name = repr(str(given if given is not None else device))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name}: no CUDA GPU is available (use cpu or auto)")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f"device {name}: this machine has {count} CUDA GPU{'s' if count != 1 else ''} "
                             f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name}: Apple's MPS backend is not available here")
    return device


__all__ = ["check_device"]
