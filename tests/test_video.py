"""Dark clips (issue 30): kind enhance and KinD.enhance_video on small clips made with PyAV itself —
a static noisy scene, one with a cut, one with audio, one truncated — and the bad inputs. Tests that
need PyAV skip with the reason when the kind[video] extra is not installed."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kind.cli import main
from kind.enhance import shard_plan
from kind.inference.steady import SteadyLight
from kind.io.plan import plan_jobs

ASSETS = Path(__file__).resolve().parents[1] / "kind" / "assets"
SIZE = (64, 48)  # width, height of most test clips


def _photo(name: str = "chelsea-dark.png") -> np.ndarray:
    return np.asarray(Image.open(ASSETS / name).convert("RGB"))


@pytest.fixture(scope="module")
def av():
    return pytest.importorskip("av", reason="video clips need PyAV: pip install 'kind[video]'")


@pytest.fixture(scope="module")
def model():
    from kind import KinD

    return KinD.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def clips(av, tmp_path_factory) -> dict[str, Path]:
    """The test clips: static (noisy, with audio, turned 90°), cut, truncated, variable-rate."""
    from kind.video.synthetic import write_dark_clip

    folder = tmp_path_factory.mktemp("clips")
    made = {name: folder / f"{name}.mp4" for name in ("static", "cut", "whole", "vfr")}
    made["subtitled"] = folder / "subtitled.mkv"
    write_dark_clip(made["subtitled"], _photo(), frames=4, size=SIZE, audio=True, subtitle="in the dark")
    write_dark_clip(made["static"], _photo(), frames=10, size=SIZE, rate=12, audio=True, rotation=90)
    write_dark_clip(made["cut"], _photo(), frames=10, size=SIZE, cut=(5, _photo("coffee-dark.png")))
    write_dark_clip(made["whole"], _photo(), frames=30, size=SIZE, options={"movflags": "faststart"})
    write_dark_clip(made["vfr"], _photo(), frames=6, size=SIZE, times_ms=[0, 40, 80, 200, 240, 400])
    data = made["whole"].read_bytes()
    made["truncated"] = folder / "truncated.mp4"
    made["truncated"].write_bytes(data[: len(data) * 6 // 10])
    return made


def _identity(samples, ratio, bounds):
    return samples, 1.0


def _frames(av, path: Path) -> list:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def test_clip_keeps_frames_rate_size_rotation_and_sound(av, clips, model, tmp_path):
    out = tmp_path / "static.mp4"
    result = model.enhance_video(clips["static"], out, ratio=3.0)
    with av.open(str(clips["static"])) as src, av.open(str(out)) as dst:
        assert dst.streams.video[0].average_rate == src.streams.video[0].average_rate == 12
        assert dst.streams.video[0].codec_context.name == "h264"
        assert [s.type for s in dst.streams] == ["video", "audio"]
        audio_in = [bytes(p) for p in src.demux(audio=0) if p.size]
        audio_out = [bytes(p) for p in dst.demux(audio=0) if p.size]
    assert audio_out == audio_in  # copied untouched
    frames = _frames(av, out)
    assert len(frames) == result.frames == 10
    assert {(f.width, f.height, f.rotation) for f in frames} == {(64, 48, 90)}
    assert result.copied == 1 and result.ratio == 3.0


def test_subtitles_and_audio_copied_into_matroska(av, clips, tmp_path):
    from kind.video.stream import enhance_video

    out = tmp_path / "subtitled.mkv"
    enhance_video(clips["subtitled"], out, _identity, 5.0)
    with av.open(str(out)) as dst:
        assert [s.type for s in dst.streams] == ["video", "audio", "subtitle"]
        assert [bytes(p) for p in dst.demux(subtitles=0) if p.size] == [b"in the dark"]


def test_fixed_ratio_frames_equal_kind_enhance_of_each_frame(av, clips, model, tmp_path):
    photos = tmp_path / "frames"
    photos.mkdir()
    for index, frame in enumerate(_frames(av, clips["cut"])):
        Image.fromarray(frame.to_ndarray(format="rgb24")).save(photos / f"{index:03d}.png")
    assert main(["enhance", str(photos), "-o", str(tmp_path / "enhanced"), "--ratio", "4", "--quiet",
                 "--device", "cpu"]) == 0
    seen = {}
    model.enhance_video(clips["cut"], tmp_path / "cut.mp4", ratio=4.0,
                        observe=lambda index, frame, output: seen.setdefault(index, output.copy()))
    assert sorted(seen) == list(range(10))
    for index, output in seen.items():  # before encoding: exactly the photo pipeline's pixels
        expected = np.asarray(Image.open(tmp_path / "enhanced" / f"{index:03d}.png"))
        np.testing.assert_array_equal(output, expected)


def test_steady_light_does_not_flicker_more_than_the_input(av, model, tmp_path):
    from kind.video.flicker import flicker, mean_luminance
    from kind.video.synthetic import write_dark_clip

    clip = tmp_path / "still.mp4"
    write_dark_clip(clip, _photo(), frames=24, size=(96, 64), photons=300.0)
    means = {"input": [], "output": []}

    def observe(index, frame, output):
        means["input"].append(mean_luminance(frame))
        means["output"].append(mean_luminance(output))

    result = model.enhance_video(clip, tmp_path / "out.mp4", ratio="auto", observe=observe)
    relative = flicker(means["output"]) / flicker(means["input"])
    print(f"flicker, output over input, static noisy 96x64 clip of 24 frames, --ratio auto: {relative:.3f}")
    assert relative < 1.0
    assert result.ratio_range[1] - result.ratio_range[0] < 0.02 * result.ratio


def test_a_cut_starts_a_new_shot(av, clips, model, tmp_path):
    light = SteadyLight(rate=24)
    cuts_at = []
    for index, frame in enumerate(_frames(av, clips["cut"])):
        before = light.cuts
        light.bounds(frame.to_ndarray(format="rgb24"))
        if light.cuts > before:
            cuts_at.append(index)
    assert cuts_at == [5]
    result = model.enhance_video(clips["cut"], tmp_path / "cut.mp4", ratio="auto")
    assert result.cuts == 1 and result.ratio_range[1] > result.ratio_range[0]


def test_truncated_clip_keeps_the_frames_before_the_damage(av, clips, tmp_path):
    from kind.video.stream import TruncatedClip, enhance_video

    out = tmp_path / "truncated.mp4"
    with pytest.raises(TruncatedClip, match=r"truncated\.mp4: .*stopped after frame (\d+)") as caught:
        enhance_video(clips["truncated"], out, _identity, 5.0)
    kept = int(caught.value.args[0].split("stopped after frame ")[1].split()[0])
    assert 0 < kept < 30 and str(out) in str(caught.value)
    assert len(_frames(av, out)) == kept


def test_variable_frame_rate_keeps_timestamps(av, clips, tmp_path):
    from kind.video.stream import enhance_video

    out = tmp_path / "vfr.mp4"
    result = enhance_video(clips["vfr"], out, _identity, 5.0)
    assert result.variable_rate and "variable frame rate" in result.notices[0]
    times = [round(float(f.pts * f.time_base), 3) for f in _frames(av, out)]
    assert times == [0.0, 0.04, 0.08, 0.2, 0.24, 0.4]


def test_bad_inputs_name_the_file(av, tmp_path):
    from kind.io.video import VideoReadError, probe

    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    sound = tmp_path / "sound.mp4"
    with av.open(str(sound), "w") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    odd = tmp_path / "odd.avi"  # an MPEG-4 clip whose FourCC no decoder knows
    with av.open(str(odd), "w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode(None))
    odd.write_bytes(odd.read_bytes().replace(b"FMP4", b"QQQQ"))
    for path, message in [(text, "not a video file"), (sound, "no video stream"), (odd, "unsupported codec"),
                          (tmp_path / "gone.mp4", "no such file")]:
        with pytest.raises(VideoReadError, match=message) as caught:
            probe(path)
        assert str(caught.value).startswith(str(path))


def test_folder_mixing_photos_and_clips(av, clips, tmp_path, capsys):
    folder = tmp_path / "night"
    folder.mkdir()
    (folder / "static.mp4").write_bytes(clips["static"].read_bytes())
    (folder / "broken.mov").write_text("not a video")
    Image.fromarray(_photo()[:48, :64]).save(folder / "photo.png")
    out, report = tmp_path / "out", tmp_path / "summary.json"
    args = ["enhance", str(folder), "-o", str(out), "--quiet", "--device", "cpu", "--crf", "23", "--json", str(report)]
    assert main(args) == 1  # broken.mov failed, the others done
    summary = json.loads(report.read_text())
    assert summary["done"] == 2 and summary["failed"][0]["input"].endswith("broken.mov")
    assert "not a video file" in summary["failed"][0]["reason"]
    clip = next(item for item in summary["files"] if item["output"].endswith("static.mp4"))
    assert clip["frames"] == 10 and clip["fps"] == 12.0
    photo = next(item for item in summary["files"] if item["output"].endswith("photo.png"))
    assert clip["requested"] == "auto" and photo["requested"] == 5.0  # no --ratio: clips get the steady light
    assert sorted(p.name for p in out.iterdir()) == ["photo.png", "static.mp4"]
    stamp = (out / "static.mp4").stat().st_mtime_ns
    assert main(args + ["--skip-existing"]) == 1
    assert json.loads(report.read_text())["skipped"] == 2 and (out / "static.mp4").stat().st_mtime_ns == stamp


def test_bad_codec_refused_before_any_work(av, clips, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["enhance", str(clips["static"]), "-o", str(out), "--codec", "nope", "--quiet", "--device", "cpu"]) == 2
    assert "codec: 'nope' is not a video encoder" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_ctrl_c_leaves_no_file_and_no_thread(av, clips, tmp_path):
    from kind.video.stream import enhance_video

    threads = threading.active_count()

    def interrupt(index, frame, output):
        if index == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        enhance_video(clips["static"], tmp_path / "out.mp4", _identity, 5.0, observe=interrupt)
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary file
    assert threading.active_count() == threads


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident size from /proc (Linux)")
def test_memory_stays_bounded_whatever_the_length(av, tmp_path):
    from kind.video.stream import enhance_video
    from kind.video.synthetic import write_dark_clip

    clip = tmp_path / "long.mp4"
    write_dark_clip(clip, _photo(), frames=300, size=(256, 192), crf=30)
    resident = {}

    def observe(index, frame, output):
        if index in (50, 299):
            pages = int(Path("/proc/self/statm").read_text().split()[1])
            resident[index] = pages * 4096 / 2**20

    enhance_video(clip, tmp_path / "out.mp4", _identity, 5.0, observe=observe)
    frame_mb = 256 * 192 * 3 / 2**20
    # 250 more frames through the pipeline (37 MB of them); the process grows by less than 20 frames
    assert resident[299] - resident[50] < 20 * frame_mb, resident


def test_plan_names_clip_outputs_and_shares_them_among_ranks(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.mp4", "b.mov", "c.avi", "d.png"):
        (folder / name).write_bytes(b"")
    plan = plan_jobs([str(folder)], tmp_path / "out", save_maps=True)
    assert [job.output.name for job in plan.jobs] == ["a.mp4", "b.mov", "c.mkv", "d.png"]
    assert [bool(job.maps) for job in plan.jobs] == [False, False, False, True]
    shares = [shard_plan(plan, rank, 2).jobs for rank in range(2)]
    assert sorted(job.source.path.name for share in shares for job in share) == ["a.mp4", "b.mov", "c.avi", "d.png"]
    assert all(share for share in shares)


def test_without_pyav_the_error_says_how_to_install(monkeypatch, tmp_path):
    from kind.video.stream import enhance_video

    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ImportError, match=r"pip install 'kind\[video\]'"):
        enhance_video(tmp_path / "a.mp4", tmp_path / "b.mp4", _identity, 5.0)


def test_steady_light_unit():
    rng = np.random.default_rng(0)
    light = SteadyLight(rate=25)
    frames = [np.clip(rng.normal(20, 8, (40, 60, 3)), 0, 255).astype(np.uint8) for _ in range(20)]
    highs = [light.bounds(frame)[1] for frame in frames]
    raw = [frame.max() / 255 for frame in frames]
    assert np.std(np.diff(highs)) < 0.2 * np.std(np.diff(raw))
    assert light.cuts == 0
    light.bounds(np.full((40, 60, 3), 200, np.uint8))
    assert light.cuts == 1
    with pytest.raises(ValueError, match="rate"):
        SteadyLight(rate=0)
