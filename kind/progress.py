"""One dependency-free progress line for long work: training steps, evaluated images, enhanced files.

>>> bar = Progress(100, desc="train decom", unit="step", start=40)   # doctest: +SKIP
>>> bar.update(1, loss=0.125)                                         # doctest: +SKIP
>>> bar.write("step 41: val_psnr=20.1")                               # doctest: +SKIP
>>> bar.close()                                                       # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24  # characters between the brackets


def format_seconds(seconds: float) -> str:
    """``83`` → ``1:23``, ``5000`` → ``1:23:20``."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """``train decom [######..] 40/100 2.50 step/s ETA 0:24 <status> loss=0.125`` on ``stream``.

    On a terminal the line, with its bar, is redrawn in place at most every ``redraw_interval``
    seconds. Elsewhere (a log file, a pipe) a plain line without the bar is printed at most every
    ``log_interval`` seconds, so logs stay readable. The last step is always shown. Thread-safe: any
    thread may call any method.

    Args:
        total: steps of the whole run.
        desc: a label in front of the line (``"train decom"``, ``"enhance"``).
        unit: what a step is; the speed reads ``2.50 step/s``, or ``4.00 s/step`` under one a second.
        start: steps already done (a resumed run); speed and ETA count only the steps since.
        stream: where the line goes (default stderr).
        enabled: False draws nothing; messages from :meth:`write` are still printed.
        redraw_interval: seconds between redraws on a terminal.
        log_interval: seconds between plain lines elsewhere (0: a line every update).
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        total: int,
        desc: str = "",
        unit: str = "it",
        start: int = 0,
        stream: TextIO | None = None,
        enabled: bool = True,
        redraw_interval: float = 0.1,
        log_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.count = self.first = start
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_gap = redraw_interval if self.tty else log_interval
        self.clock = clock
        self.started = clock()
        self.status = ""  # what is being worked on now (a file, "tile 3/8"); cleared by update()
        self.postfix = ""  # "loss=0.125 lr=0.0001", kept until the next update that gives values
        self._last_draw = -math.inf
        self._drawn = False
        self._lock = threading.Lock()

    def update(self, n: int = 1, **postfix: object) -> None:
        """Advance by ``n`` and clear the status; ``postfix`` values (``loss=0.1``) follow the numbers."""
        with self._lock:
            self.count += n
            self.status = ""
            if postfix:
                self.postfix = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in postfix.items())
            self._draw(force=self.count >= self.total)

    def set_status(self, text: str) -> None:
        """Show ``text`` (e.g. the current file and its tile) after the numbers until the next update."""
        with self._lock:
            self.status = text
            self._draw()

    def write(self, message: str) -> None:
        """Print ``message`` on its own line above the bar; the bar comes back at the next update."""
        with self._lock:
            self._clear()
            self.stream.write(message + "\n")
            self.stream.flush()
            self._last_draw = -math.inf

    def close(self) -> None:
        """Show the final line and end it on a terminal (elsewhere every line already ends)."""
        with self._lock:
            if self.tty and self._drawn:
                self._draw(force=True)
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = False

    def rate(self) -> float:
        """Steps a second since the start (0 before any)."""
        elapsed = self.clock() - self.started
        return (self.count - self.first) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The progress text; the bar only on a terminal."""
        rate = self.rate()
        eta = format_seconds((self.total - self.count) / rate) if rate > 0 else "--:--"
        speed = f"{rate:.2f} {self.unit}/s" if rate >= 1 or rate == 0 else f"{1 / rate:.2f} s/{self.unit}"
        parts = [self.desc] if self.desc else []
        if self.tty:
            filled = BAR_WIDTH * min(self.count, self.total) // max(self.total, 1)
            parts.append("[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]")
        parts += [f"{self.count}/{self.total}", speed, f"ETA {eta}"]
        parts += [text for text in (self.status, self.postfix) if text]
        return " ".join(parts)

    def _draw(self, force: bool = False) -> None:
        """Draw the line unless drawn less than ``min_gap`` ago (``force``: draw anyway). Lock held."""
        if not self.enabled or self.total <= 0:
            return
        now = self.clock()
        if not force and now - self._last_draw < self.min_gap:
            return
        self._last_draw = now
        if self.tty:
            width = _terminal_columns(self.stream) - 1
            self.stream.write("\r" + self.line()[:width].ljust(width))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        """Blank the bar's line on a terminal so that a message can take its place. Lock held."""
        if self.tty and self._drawn:
            self.stream.write("\r" + " " * (_terminal_columns(self.stream) - 1) + "\r")


def _terminal_columns(stream: TextIO) -> int:
    try:
        return max(os.get_terminal_size(stream.fileno()).columns, 20)
    except (AttributeError, OSError, ValueError):
        return 80
