"""Reading a run folder's TensorBoard events back: scalars and the spans of its event files."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorboard")


def write_events(folder, walltimes: list[float], tag: str = "train/loss") -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder), filename_suffix=f".{walltimes[0]:.0f}")
    for step, walltime in enumerate(walltimes):
        writer.add_scalar(tag, float(step), step, walltime=walltime)
    writer.close()


def test_event_spans_give_each_file_its_first_and_last_wall_time(tmp_path):
    from kind.train.events import event_spans, read_scalars

    write_events(tmp_path, [1000.0, 1060.0, 4600.0])
    write_events(tmp_path, [9000.0, 9900.0])  # a resume, a pause of 4400 s before it
    spans = event_spans(tmp_path)
    assert len(spans) == 2
    lengths = sorted(round(last - first, 3) for _, first, last in spans)
    assert lengths[1] == pytest.approx(3600.0, abs=1.0) and lengths[0] == pytest.approx(900.0, abs=1.0)
    assert [step for step, _ in read_scalars(tmp_path)["train/loss"]] == [0, 1, 2]


def test_event_spans_of_a_missing_or_empty_folder_are_empty(tmp_path):
    from kind.train.events import event_spans

    assert event_spans(tmp_path / "absent") == []
    assert event_spans(tmp_path) == []


def test_the_training_clock_leaves_out_pauses_and_continues_in_the_next_folder(tmp_path):
    from kind.train.events import on_training_clock

    first, second = tmp_path / "first", tmp_path / "second"
    write_events(first, [1000.0, 1000.0 + 1800, 1000.0 + 3600], tag="val/psnr")  # steps 0-2: one hour
    write_events(second, [90000.0, 90000.0 + 7200], tag="val/psnr")  # steps 0-1 again after a day's pause
    points = on_training_clock([first, second], ("val/psnr",))["val/psnr"]
    assert [step for _, step, _ in points] == [0, 1, 2]
    hours = {step: h for h, step, _ in points}
    assert hours[2] == pytest.approx(1.0, abs=1e-3)  # the first folder's last validation
    assert hours[1] == pytest.approx(3.0, abs=1e-3)  # the resume's: 1 h before it, 2 h into it, the pause left out
    assert hours[0] == pytest.approx(1.0, abs=1e-3)  # a repeated step keeps its last write
    assert on_training_clock([first], ("absent/tag",)) == {"absent/tag": []}
