"""Reading a run folder's TensorBoard scalars back (training curves, the restoration study)."""

from __future__ import annotations

from pathlib import Path


def read_scalars(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of the TensorBoard logs in ``run_dir``: tag -> [(step, value)], by step
    (a resumed run's repeated steps: the last value); {} when the folder does not exist."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not Path(run_dir).is_dir():
        return {}
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    series: dict[str, dict[int, float]] = {}
    for tag in events.Tags()["scalars"]:
        for event in events.Scalars(tag):
            series.setdefault(tag, {})[event.step] = event.value
    return {tag: sorted(points.items()) for tag, points in series.items()}
