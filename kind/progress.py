"""A small dependency-free progress bar for long work (training steps, images, tiles)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float) -> str:
    """``83`` → ``1:23``, ``5000`` → ``1:23:20``."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """``[####------] 40/100 2.5 it/s ETA 0:24 loss=0.12`` on stderr.

    On a terminal the line is redrawn in place (at most ``refresh`` times a second); otherwise a
    plain line is printed every ``log_interval`` seconds and at the end, so logs stay readable.
    """

    def __init__(
        self,
        total: int,
        desc: str = "",
        unit: str = "it",
        start: int = 0,
        stream: TextIO | None = None,
        enabled: bool = True,
        refresh: float = 4.0,
        log_interval: float = 30.0,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.count = self.first = start
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_gap = 1.0 / refresh if self.tty else log_interval
        self.started = time.perf_counter()
        self.last_draw = float("-inf")
        self.postfix = ""

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return (self.count - self.first) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        eta = (self.total - self.count) / rate if rate > 0 else 0.0
        filled = int(20 * self.count / self.total) if self.total else 20
        bar = "#" * filled + "-" * (20 - filled)
        speed = f"{rate:.2f} {self.unit}/s" if rate >= 1 or rate == 0 else f"{1 / rate:.2f} s/{self.unit}"
        head = f"{self.desc} " if self.desc else ""
        tail = f" {self.postfix}" if self.postfix else ""
        return f"{head}[{bar}] {self.count}/{self.total} {speed} ETA {format_seconds(eta)}{tail}"

    def update(self, n: int = 1, **postfix: object) -> None:
        """Advance by ``n``; ``postfix`` values (e.g. ``loss=0.1``) are shown after the bar."""
        self.count += n
        if postfix:
            self.postfix = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in postfix.items())
        now = time.perf_counter()
        if self.enabled and (now - self.last_draw >= self.min_gap or self.count >= self.total):
            self.last_draw = now
            end = "" if self.tty and self.count < self.total else "\n"
            prefix = "\r" if self.tty else ""
            self.stream.write(f"{prefix}{self.line()}{end}")
            self.stream.flush()

    def write(self, message: str) -> None:
        """Print a message on its own line without breaking the bar."""
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(message + "\n")
        self.stream.flush()
