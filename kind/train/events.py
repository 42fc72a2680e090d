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
    spans = []
    for path in sorted(Path(run_dir).glob("events.out.tfevents.*")):
        times, _ = summaries(path, ())
        if times:
            spans.append((path.name, min(times), max(times)))
    return spans


def summaries(path: Path, tags: tuple[str, ...]) -> tuple[list[float], list[tuple[str, float, int, float]]]:
    """The wall times of every summary in one event file, and [(tag, wall time, step, value)] of its
    scalars named in ``tags``."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util.tensor_util import make_ndarray

    times, points = [], []
    for event in EventFileLoader(str(path)).Load():
        if not event.HasField("summary"):
            continue
        times.append(event.wall_time)
        for value in event.summary.value:
            if value.tag in tags:
                number = (value.simple_value if value.WhichOneof("value") == "simple_value"
                          else float(make_ndarray(value.tensor)))
                points.append((value.tag, event.wall_time, event.step, number))
    return times, points


def on_training_clock(run_dirs: list[str | Path], tags: tuple[str, ...]) -> dict[str, list[tuple[float, int, float]]]:
    """tag -> [(training hours, step, value)] of the scalar ``tags`` in run folders trained one after
    another (a long run continued in a new folder), by step. The clock counts only the event files'
    spans (``event_spans``): an event's hours are the spans of the files started before its own plus
    its time into its file. A step written again after a resume keeps its last value."""
    files = []  # (first wall time, last wall time, [(tag, wall time, step, value)])
    for run_dir in run_dirs:
        for path in sorted(Path(run_dir).glob("events.out.tfevents.*")):
            times, points = summaries(path, tags)
            if times:
                files.append((min(times), max(times), points))
    by_step: dict[str, dict[int, tuple[float, float]]] = {tag: {} for tag in tags}
    elapsed = 0.0
    for first, last, points in sorted(files, key=lambda file: file[0]):
        for tag, wall_time, step, number in points:
            by_step[tag][step] = ((elapsed + wall_time - first) / 3600, number)
        elapsed += last - first
    return {tag: [(hours, step, number) for step, (hours, number) in sorted(steps.items())]
            for tag, steps in by_step.items()}
