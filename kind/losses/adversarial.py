r"""Adversarial loss: a PatchGAN discriminator (Isola et al., pix2pix, CVPR 2017) trained in the
same loop as the network it judges.

:class:`AdversarialLoss` holds the discriminator and its own Adam optimiser. Its ``forward`` is the
generator's term (the discriminator's weights are frozen there, so the generator's backward pass
leaves them no gradients); :meth:`AdversarialLoss.discriminator_step` trains the discriminator one
step on detached images. The discriminator is unconditional: it sees the target (real) or the
prediction (fake), not the input.

========  ====================================================  ==========================================
mode      discriminator                                          generator
========  ====================================================  ==========================================
lsgan     ``(mean (D(real) - 1)^2 + mean D(fake)^2) / 2``         ``mean (D(fake) - 1)^2`` (Mao et al. 2017)
bce       ``(BCE(D(real), 1) + BCE(D(fake), 0)) / 2``            ``BCE(D(fake), 1)`` (non-saturating GAN)
========  ====================================================  ==========================================

``D`` gives one logit per patch; ``BCE`` is the mean binary cross-entropy on logits.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kind.losses._checks import check_choice, check_int, check_number, check_pair

__all__ = [
    "ADVERSARIAL_MODES",
    "PatchDiscriminator",
    "generator_adversarial_loss",
    "discriminator_adversarial_loss",
    "AdversarialLoss",
]

ADVERSARIAL_MODES = ("lsgan", "bce")
D_BETAS = (0.5, 0.999)  # pix2pix's Adam betas for the discriminator


class PatchDiscriminator(nn.Module):
    r"""pix2pix's PatchGAN: ``depth`` stride-2 4x4 convolutions (``width``, 2 ``width``, ...
    channels, at most 8 ``width``), a stride-1 one, then a 4x4 convolution to one logit per patch.
    Instance normalisation after every convolution but the first and last; LeakyReLU 0.2. With the
    defaults (``width`` 64, ``depth`` 3) each logit sees a 70 x 70 patch.

    Shape:
        N x C x H x W -> N x 1 x H' x W' (H' = H/8 - 2 at the defaults; H, W >= 24).
    """

    def __init__(self, in_channels: int = 3, width: int = 64, depth: int = 3) -> None:
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("width", width, 1)
        check_int("depth", depth, 1)
        channels = [width * min(2**i, 8) for i in range(depth + 1)]
        self.conv_first = nn.Conv2d(in_channels, channels[0], 4, stride=2, padding=1)
        blocks = []
        for i in range(1, depth + 1):
            stride = 2 if i < depth else 1
            blocks += [
                nn.Conv2d(channels[i - 1], channels[i], 4, stride=stride, padding=1, bias=False),
                nn.InstanceNorm2d(channels[i]),
                nn.LeakyReLU(0.2),
            ]
        self.body = nn.Sequential(*blocks)
        self.conv_last = nn.Conv2d(channels[-1], 1, 4, stride=1, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.leaky_relu(self.conv_first(x), 0.2)
        x = self.body(x)
        return self.conv_last(x)


def generator_adversarial_loss(fake_logits: Tensor, mode: str = "lsgan") -> Tensor:
    """The generator's term from the discriminator's logits on its output (see the module table)."""
    check_choice("mode", mode, ADVERSARIAL_MODES)
    fake_logits = fake_logits.float() if fake_logits.dtype in (torch.float16, torch.bfloat16) else fake_logits
    if mode == "lsgan":
        return (fake_logits - 1).square().mean()
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_adversarial_loss(real_logits: Tensor, fake_logits: Tensor, mode: str = "lsgan") -> Tensor:
    """The discriminator's loss from its logits on real and fake images (see the module table)."""
    check_choice("mode", mode, ADVERSARIAL_MODES)
    real_logits, fake_logits = (t.float() if t.dtype in (torch.float16, torch.bfloat16) else t for t in (real_logits, fake_logits))
    if mode == "lsgan":
        return 0.5 * ((real_logits - 1).square().mean() + fake_logits.square().mean())
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return 0.5 * (real + fake)


class AdversarialLoss(nn.Module):
    r"""A :class:`PatchDiscriminator` with its own ``Adam(d_lr, betas=(0.5, 0.999))``.

    ``forward(pred, target)`` is the generator's term (``target`` unused: the discriminator already
    learned what real images look like); :meth:`discriminator_step` trains the discriminator.
    Images N x C x H x W with H, W >= 24 (for the default discriminator).

    Args:
        in_channels: channels of the judged images.
        mode: ``"lsgan"`` or ``"bce"``.
        d_lr: the discriminator's learning rate (> 0).
        width: the discriminator's first layer width (:class:`PatchDiscriminator`).
    """

    def __init__(self, in_channels: int = 3, mode: str = "lsgan", d_lr: float = 1e-4, width: int = 64) -> None:
        super().__init__()
        check_choice("mode", mode, ADVERSARIAL_MODES)
        check_number("d_lr", d_lr, 0.0, inclusive=False)
        self.mode = mode
        self.discriminator = PatchDiscriminator(in_channels, width)
        self.discriminator.requires_grad_(False)  # trainable only inside discriminator_step
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=float(d_lr), betas=D_BETAS)

    @contextlib.contextmanager
    def _trainable(self) -> Iterator[None]:
        self.discriminator.requires_grad_(True)
        try:
            yield
        finally:
            self.discriminator.requires_grad_(False)

    def _logits(self, x: Tensor) -> Tensor:
        param = next(self.discriminator.parameters())
        return self.discriminator(x.to(param.dtype))

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        return generator_adversarial_loss(self._logits(pred), self.mode)

    def discriminator_step(self, pred: Tensor, target: Tensor) -> Tensor:
        """One Adam step of the discriminator on ``pred.detach()`` (fake) and ``target.detach()``
        (real), both in one batch; returns its loss (detached)."""
        check_pair(pred, target)
        n = pred.shape[0]
        with torch.enable_grad(), self._trainable():
            logits = self._logits(torch.cat([target.detach(), pred.detach()]))
            loss = discriminator_adversarial_loss(logits[:n], logits[n:], self.mode)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return loss.detach()
