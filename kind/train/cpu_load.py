"""Whether CPU training would share its cores with other busy processes (oversubscription).

torch's default thread count is one per core; when another process keeps a core busy, those
threads wait on each other at every operation, and a step can run several times slower than with
fewer threads (measured: 0.64 steps/s with the default 2 threads on a 2-core machine beside one
busy process, 2.5 with ``threads=1``). This is told from the load average before training starts.
"""

from __future__ import annotations

import os

BUSY_MARGIN = 0.5  # load above the cores left free, in cores, that counts as oversubscribed


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def oversubscription_notice(threads: int, load: float | None = None, cores: int | None = None) -> str | None:
    """A notice when ``threads`` compute threads plus the machine's load (1-minute load average,
    before this process starts computing) exceed its cores, naming a thread count that fits (or,
    when ``threads`` is already as few as fit, saying that the run will be slower); None when they
    fit or the load cannot be read."""
    cores = usable_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
    if threads + load <= cores + BUSY_MARGIN:
        return None
    busy = f"other processes keep the CPU busy (load average {load:.1f} on {cores} cores)"
    free = max(1, round(cores - load))
    if free >= threads:  # fewer threads would not help: there is nothing to set
        return (f"{busy}; training runs {threads} thread{'s' if threads > 1 else ''} beside them and will be slower "
                "than on an idle machine until they end")
    return (f"{busy} and training would run {threads} threads: they would wait on each other and run several times "
            f"slower; set threads={free} (--set threads={free})")


__all__ = ["BUSY_MARGIN", "oversubscription_notice", "usable_cores"]
