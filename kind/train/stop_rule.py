"""The stop rule of the training loop (:mod:`kind.train.loop`): every way a run ends is decided at
a *check*, so that all ranks end at the same step and no checkpoint ever holds weights updated
after a non-finite loss.

Stop requests are SIGINT/SIGTERM, ``max_seconds`` (wall-clock training time of this start) and
``max_cpu_seconds`` (process CPU time spent in training steps over all of a run's starts:
validation and checkpoints are not counted, so runs that share a loaded machine get equal budgets).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

import torch
from torch import Tensor

from kind.distributed import World, sum_across
from kind.train.config import TrainConfig


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf."""


class StopRule:
    """Stop requests (SIGINT/SIGTERM, ``max_seconds``, ``max_cpu_seconds``) and the checks at which
    they, and non-finite losses, are acted upon (module docstring).

    Args:
        config: the run's config (``check_every``, ``max_seconds``, ``max_cpu_seconds``).
        world: this process's place in a distributed run.
        cpu_seconds: training CPU seconds of the run's earlier starts (from its checkpoint).
    """

    SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}

    def __init__(self, config: TrainConfig, world: World, cpu_seconds: float = 0.0):
        self.config, self.world = config, world
        self.requested: str | None = None
        self.started = time.perf_counter()
        self._cpu_base = cpu_seconds - time.process_time()  # + process_time() = this run's training CPU seconds

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM request a stop for the duration of the block (the previous handlers come
        back after it); a second signal interrupts at once, with a KeyboardInterrupt whose message
        says so (``kind``'s error line shows it). Only in the main thread."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: object) -> None:
            name = self.SIGNALS[signum]
            if self.requested in self.SIGNALS.values():
                what = f"a second {name}" if name == self.requested else f"{name} after {self.requested}"
                raise KeyboardInterrupt(f"{what}: stopped at once, this start's steps since the last checkpoint are lost")
            self.requested = name

        previous = {signum: signal.signal(signum, handler) for signum in self.SIGNALS}
        try:
            yield
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)

    def start_clocks(self, cpu_seconds: float) -> None:
        """Training starts now, with ``cpu_seconds`` already spent by earlier starts of the run."""
        self.started = time.perf_counter()
        self._cpu_base = cpu_seconds - time.process_time()

    def cpu_seconds(self) -> float:
        """Process CPU seconds the run's training steps have used, over all its starts."""
        return self._cpu_base + time.process_time()

    @contextlib.contextmanager
    def not_counted(self) -> Iterator[None]:
        """Work inside the block (validation, checkpoints) does not count towards ``max_cpu_seconds``."""
        before = time.process_time()
        try:
            yield
        finally:
            self._cpu_base -= time.process_time() - before

    def out_of_time(self) -> str | None:
        """``max_seconds`` or ``max_cpu_seconds`` when that budget is spent, else None."""
        if self.config.max_seconds > 0 and time.perf_counter() - self.started > self.config.max_seconds:
            return "max_seconds"
        if self.config.max_cpu_seconds > 0 and self.cpu_seconds() > self.config.max_cpu_seconds:
            return "max_cpu_seconds"
        return None

    def check_due(self, step: int) -> bool:
        """A check after ``step``: at the rule's interval, or at once when a single process has a
        stop request (ranks only check at steps they all know of)."""
        if step % self.config.check_every == 0:
            return True
        return not self.world.distributed and (self.requested is not None or self.out_of_time() is not None)

    def decide(self, window: Tensor, first_step: int) -> tuple[list[float], float, str | None]:
        """Read ``window`` (the losses of steps ``first_step`` …), agree with the other ranks, and
        return (this rank's losses, the mean loss over all ranks, a stop reason or None); raises
        :class:`TrainingDiverged` when any rank saw a non-finite loss."""
        finite = torch.isfinite(window)
        first_bad = int(torch.argmin(finite.int())) if not bool(finite.all()) else -1
        reason = self.requested or self.out_of_time()
        flags = torch.tensor([float(first_bad >= 0), float(reason is not None),
                              float(window.nan_to_num(0, 0, 0).sum()), float(len(window))], dtype=torch.float64)
        flags = sum_across(flags.to(window.device), self.world).cpu()
        span = f"steps {first_step + 1}–{first_step + len(window)}"
        if flags[0] > 0:
            where = f"at step {first_step + first_bad + 1}" if first_bad >= 0 else f"on another rank ({span})"
            value = float(window[first_bad]) if first_bad >= 0 else "non-finite"
            raise TrainingDiverged(f"the loss is {value} {where} (the check of {span})")
        if flags[1] > 0 and reason is None:
            reason = "stop requested on another rank"
        return window.tolist(), float(flags[2] / flags[3]), reason
