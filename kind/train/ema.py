"""An exponential moving average (EMA) of a network's weights, the copy that a run with
``ema_decay > 0`` validates, selects ``best.pt`` by and exports (BasicSR's ``ema_decay``):
after each optimiser step ``ema ← decay · ema + (1 − decay) · weights``."""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """The averaged copy of ``model`` (a plain network, not DDP- or compile-wrapped), in eval mode
    and without gradients; it starts equal to ``model``."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (buffers are copied)."""
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), 1 - self.decay)
        for average, current in zip(self.model.buffers(), model.buffers()):
            average.copy_(current)
