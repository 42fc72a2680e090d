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


def event_spans(run_dir: str | Path) -> list[tuple[str, float, float]]:
    """(file name, first, last wall time in seconds) of the summaries (scalars, images) in each
    TensorBoard event file in ``run_dir`` (each start or resume of a run writes one), by file name;
    a file without summaries is left out.
    Their summed lengths are the hours the run has trained, its pauses between sessions not counted."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    spans = []
    for path in sorted(Path(run_dir).glob("events.out.tfevents.*")):
        times = [event.wall_time for event in EventFileLoader(str(path)).Load() if event.HasField("summary")]
        if times:
            spans.append((path.name, min(times), max(times)))
    return spans
