"""The three networks prepared for inference on one device in one precision (:class:`Runner`).

Constructing a Runner changes no process-wide setting: the heap tuning of the fast CPU path and
cuDNN's autotuner are :func:`kind.tune_process`'s, which the ``kind`` commands call.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator

import torch
from torch import Tensor

from kind.constants import PRECISIONS
from kind.distributed import check_device
from kind.imageops import minmax_stretch
from kind.inference.fused import DTYPES, cpu_bf16_supported, cpu_fusion_available, fuse_for_cpu, prepare_input
from kind.inference.pipeline import enhance_general
from kind.metrics import psnr_torch
from kind.models import Ratio
from kind.weights.format import KinDNets, load_weights_dir


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Runner:
    """The three networks ready for inference on one device in one precision.

    Inputs and outputs are float32 N×C×H×W tensors on ``self.device``. With ``fast`` (the default)
    the CPU path fuses the convolutions with oneDNN (:mod:`kind.inference.fused`) and the CUDA path runs
    channels_last; ``fast=False`` is the plain eager port, the reference; ``compile`` wraps the
    networks in ``torch.compile``. ``bf16`` uses bf16
    convolutions (CPU with AVX512-BF16/AMX, or CUDA autocast); ``fp32`` is exact to float rounding.
    """

    def __init__(
        self,
        nets: KinDNets,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        fast: bool = True,
        compile: bool = False,
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {sorted(PRECISIONS)}, got {precision!r}")
        self.device = resolve_device(device)
        self.precision = precision
        self.dtype = DTYPES[precision]
        models = (nets.decom, nets.restore, nets.adjust)
        self.fused = fast and self.device.type == "cpu" and cpu_fusion_available()
        if self.device.type == "cpu" and precision == "bf16":
            if not (self.fused and cpu_bf16_supported()):
                raise RuntimeError("--precision bf16 needs a CPU with native bf16 convolutions (AVX512-BF16/AMX) and oneDNN")
        if self.fused:
            models = tuple(fuse_for_cpu(m.cpu(), precision) for m in models)
        else:
            self.memory_format = torch.channels_last if fast else torch.contiguous_format
            models = tuple(copy.deepcopy(m).to(self.device, memory_format=self.memory_format).eval() for m in models)
        if compile:  # worth it on CUDA for many images of one size; the CPU fast path is already fused
            models = tuple(torch.compile(m) for m in models)
        self.decom, self.restore, self.adjust = models
        self.check_psnr: float | None = None  # set by checked_runner for a reduced precision

    @contextlib.contextmanager
    def _mode(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            if self.device.type == "cuda":
                if self.precision == "bf16":
                    stack.enter_context(torch.autocast("cuda", dtype=torch.bfloat16))
                else:
                    stack.enter_context(torch.backends.cudnn.flags(enabled=True, allow_tf32=False))
            yield

    def _in(self, x: Tensor) -> Tensor:
        if self.fused:
            return prepare_input(x, self.dtype)
        return x.to(self.device).contiguous(memory_format=self.memory_format)

    def decompose(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """S N×3×H×W → (R N×3×H×W, L N×1×H×W)."""
        with self._mode():
            reflectance, illumination = self.decom(self._in(x))
        return reflectance.float(), illumination.float()

    def restore_reflectance(self, reflectance: Tensor, illumination: Tensor) -> Tensor:
        """(R, L) → R̂ N×3×H×W."""
        with self._mode():
            return self.restore(self._in(reflectance), self._in(illumination)).float()

    def adjust_illumination(self, illumination: Tensor, ratio: Ratio) -> Tensor:
        """(L, ratio) → L̂ N×1×H×W; ratio a number, a (N,) tensor or a plane."""
        with self._mode():
            if isinstance(ratio, Tensor):
                ratio = ratio.to(self.device)
            return self.adjust(self._in(illumination), ratio).float()


REDUCED_PRECISION_MIN_PSNR = 40.0  # dB, of a reduced-precision output against fp32


def checked_runner(nets: KinDNets, device: str | torch.device = "auto", precision: str = "fp32", **options: bool) -> Runner:
    """A :class:`Runner` whose reduced precision (``bf16``) has passed the startup check
    (:func:`check_reduced_precision`; its PSNR is kept in ``check_psnr``). Whoever chooses a
    reduced precision builds its runner here. ``options``: :class:`Runner`'s ``fast`` and ``compile``."""
    runner = Runner(nets, device, precision, **options)
    if precision != "fp32":
        runner.check_psnr = check_reduced_precision(runner, nets)
    return runner


def check_reduced_precision(runner: Runner, nets: KinDNets) -> float:
    """The startup check of a reduced-precision runner: the PSNR (dB) of its photo-pipeline output
    against the plain fp32 port's on a small synthetic low-light image. Raises RuntimeError below
    ``REDUCED_PRECISION_MIN_PSNR``."""
    rows = torch.linspace(0, 1, 48).view(1, 1, -1, 1)
    cols = torch.linspace(0, 1, 64).view(1, 1, 1, -1)
    image = torch.cat([rows * cols, rows.expand(1, 1, 48, 64), cols.expand(1, 1, 48, 64)], dim=1) * 0.2
    image = minmax_stretch(image + 0.02 * torch.sin(40 * rows + 30 * cols))
    output = enhance_general(runner, image).output.cpu()
    reference = enhance_general(Runner(nets, runner.device, "fp32", fast=False), image).output.cpu()
    psnr = float(psnr_torch(output, reference, quantize=False)[0])
    if psnr < REDUCED_PRECISION_MIN_PSNR:
        raise RuntimeError(
            f"--precision {runner.precision}: the startup check gives {psnr:.1f} dB against fp32 "
            f"(at least {REDUCED_PRECISION_MIN_PSNR:g} dB needed); use --precision fp32"
        )
    return psnr


def load_runner(
    weights: str | os.PathLike | None = None, device: str = "auto", precision: str = "fp32", **options: bool
) -> Runner:
    """The three networks of a weights spec (None or ``shipped``: the package's own; a version
    name; a folder — see :func:`kind.weights.format.resolve_weights_dir`) on ``device``. ``options``:
    :class:`Runner`'s ``fast`` and ``compile``.

    Raises ValueError (WeightsError) for missing or bad weights, an unknown or absent device, or a
    precision the device cannot run.
    """
    try:
        resolved = resolve_device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r}: {error}") from None
    check_device(resolved, device)
    nets = load_weights_dir(weights)
    try:
        return checked_runner(nets, resolved, precision, **options)
    except RuntimeError as error:
        raise ValueError(str(error)) from error
