"""Tests for kind.progress: the one progress line of enhancement, evaluation and training.

A fake clock drives the time; a StringIO stands in for a log file and a subclass that says it is a
terminal for stderr on a console.
"""

from __future__ import annotations

import io
import threading

import pytest

from kind.progress import Progress, format_seconds


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _enhance_bar(total: int, stream: io.StringIO, clock: _Clock) -> Progress:
    """The bar as kind.enhance sets it up."""
    return Progress(total, desc="enhance", unit="img", stream=stream, log_interval=10.0, clock=clock)


# --- enhancement: files, tiles, messages ----------------------------------------------------------


def test_progress_plain_lines_when_not_a_terminal():
    stream, clock = io.StringIO(), _Clock()
    bar = _enhance_bar(3, stream, clock)
    for step in range(3):
        bar.set_status(f"{step}.png")
        clock.now += 1
        bar.set_status(f"{step}.png tile 1/4")  # within log_interval of the last line: not printed
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines == ["enhance 0/3 0.00 img/s ETA --:-- 0.png", "enhance 3/3 1.00 img/s ETA 0:00"]


def test_progress_redraws_in_place_on_a_terminal():
    stream, clock = _Terminal(), _Clock()
    bar = _enhance_bar(2, stream, clock)
    bar.set_status("big.png")
    clock.now += 1
    bar.set_status("big.png tile 2/6")
    bar.write("failed: x.png: broken")
    bar.update()
    text = stream.getvalue()
    assert "\r" in text and "tile 2/6" in text and "failed: x.png: broken\n" in text
    assert "[############............] 1/2 1.00 img/s ETA 0:01" in text  # redrawn below the note
    clock.now += 1
    bar.update()
    bar.close()
    assert "[########################] 2/2 1.00 img/s ETA 0:00" in stream.getvalue()
    assert stream.getvalue().endswith("\n")


def test_disabled_draws_nothing_but_messages():
    stream = _Terminal()
    bar = Progress(2, stream=stream, enabled=False)
    bar.update()
    bar.write("resumed from last.pt at step 1")
    bar.update()
    bar.close()
    assert stream.getvalue() == "resumed from last.pt at step 1\n"


def test_updates_from_several_threads_are_all_counted():
    stream = io.StringIO()
    bar = Progress(4000, stream=stream, log_interval=0.0)
    threads = [threading.Thread(target=lambda: [bar.update() for _ in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert bar.count == 4000
    assert all(line.split()[0].endswith("/4000") for line in stream.getvalue().splitlines())


# --- training: resumed runs, loss values, ETA -----------------------------------------------------


def test_resumed_run_counts_speed_from_its_start():
    stream, clock = io.StringIO(), _Clock()
    bar = Progress(100, desc="train decom", unit="step", start=40, stream=stream, log_interval=0.0, clock=clock)
    clock.now += 4
    bar.update(10, loss=0.125, lr=1e-4)
    assert stream.getvalue() == "train decom 50/100 2.50 step/s ETA 0:20 loss=0.125 lr=0.0001\n"


def test_postfix_is_kept_until_new_values():
    stream, clock = io.StringIO(), _Clock()
    bar = Progress(10, unit="step", stream=stream, log_interval=0.0, clock=clock)
    clock.now += 2
    bar.update(loss=0.5)
    clock.now += 2
    bar.update()
    assert stream.getvalue().splitlines() == [
        "1/10 2.00 s/step ETA 0:18 loss=0.5",  # slower than one a second: seconds per step
        "2/10 2.00 s/step ETA 0:16 loss=0.5",
    ]


def test_plain_lines_wait_for_the_log_interval_but_not_for_the_last_step():
    stream, clock = io.StringIO(), _Clock()
    bar = Progress(3, stream=stream, log_interval=30.0, clock=clock)
    for _ in range(3):
        clock.now += 1
        bar.update()
    assert [line.split()[0] for line in stream.getvalue().splitlines()] == ["1/3", "3/3"]


def test_long_eta_shows_hours():
    stream, clock = io.StringIO(), _Clock()
    bar = Progress(5001, unit="step", stream=stream, log_interval=0.0, clock=clock)
    clock.now += 1
    bar.update()
    assert "ETA 1:23:20" in stream.getvalue()


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (83, "1:23"), (3599.9, "59:59"), (5000, "1:23:20"), (-5, "0:00")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
