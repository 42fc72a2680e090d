"""One clip in, one clip out, streamed: what :meth:`kind.KinD.enhance_video` and ``kind enhance``
run for each video file.

Three stages overlap, joined by queues of ``QUEUE_FRAMES`` items: a reader thread demuxes and
decodes (:func:`kind.io.video.demux`), the calling thread enhances each frame, and a writer thread
encodes the frames and copies the audio and subtitle packets (:class:`kind.io.video_write.VideoWriter`)
in the input's order. Memory holds a few frames whatever the clip's length. The output is written to
a temporary name beside ``dst`` and renamed at the end; Ctrl-C (or any error) stops the three stages,
removes the temporary file and leaves ``dst`` as it was. A clip damaged or cut short part-way is
the exception: the frames before the damage are encoded and renamed to ``dst``, then
:class:`TruncatedClip` says where the input stopped.

``ratio``: a number gives every frame exactly the pixels :meth:`kind.KinD.enhance_samples` gives it
as a photo (before encoding); ``'auto'`` gives a :class:`kind.inference.steady.SteadyLight`: the
stretch and the ratio steady from frame to frame.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from kind.constants import DEFAULT_CRF, DEFAULT_VIDEO_CODEC, VIDEO_CONTAINERS
from kind.inference.pipeline import RatioChoice
from kind.inference.steady import SteadyLight
from kind.io.atomic import atomic_path
from kind.io.video import DecodedFrame, FrameSteps, VideoInfo, VideoReadError, demux, open_video, probe, require_av
from kind.io.video_write import VideoWriter, check_codec
from kind.progress import Progress

QUEUE_FRAMES = 4  # items waiting between two stages
POLL_S = 0.1  # how often a waiting stage looks whether the others stopped

# (samples, ratio, stretch bounds or None for the frame's own) → (output, ratio used)
EnhanceFrame = Callable[[np.ndarray, RatioChoice, "tuple[float, float] | None"], tuple[np.ndarray, float]]
FrameObserver = Callable[[int, np.ndarray, np.ndarray], None]  # (index, input, output) of each frame, before encoding


class TruncatedClip(VideoReadError):
    """The input stopped early (damaged or cut short): the frames before are in the output."""


@dataclass
class ClipResult:
    """What one clip gave: frames written, the input's rate and length, the ratio (``ratio``: the
    fixed one, or the mean of the steady ones; ``ratio_range``: smallest and largest), ``cuts``
    (new shots the steady ratio found), ``variable_rate`` (timestamps kept as they were), streams
    copied and left out, and the wall seconds."""

    input: Path
    output: Path
    frames: int
    rate: float
    ratio: float
    ratio_range: tuple[float, float]
    cuts: int = 0
    variable_rate: bool = False
    copied: int = 0
    dropped: tuple[str, ...] = ()
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)

    def record(self, requested: RatioChoice) -> dict:
        """The summary's line for ``--json``."""
        return {"input": str(self.input), "output": str(self.output), "ratio": self.ratio,
                "requested": requested if isinstance(requested, str) else float(requested), "frames": self.frames,
                "fps": self.rate, "ratio_range": list(self.ratio_range), "cuts": self.cuts,
                "variable_rate": self.variable_rate}


class _Stop(Exception):
    """Another stage stopped; this one leaves quietly."""


class _Pipe:
    """A bounded queue whose ``put`` and ``get`` give up (``_Stop``) once ``stopped`` is set."""

    def __init__(self, stopped: threading.Event, size: int = QUEUE_FRAMES) -> None:
        self.items: queue.Queue = queue.Queue(size)
        self.stopped = stopped

    def put(self, item: object) -> None:
        while not self.stopped.is_set():
            try:
                self.items.put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue
        raise _Stop

    def get(self) -> object:
        while not self.stopped.is_set():
            try:
                return self.items.get(timeout=POLL_S)
            except queue.Empty:
                continue
        raise _Stop


_END = object()


def enhance_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    enhance: EnhanceFrame,
    ratio: RatioChoice,
    *,
    codec: str = DEFAULT_VIDEO_CODEC,
    crf: int = DEFAULT_CRF,
    progress: bool | TextIO = False,
    observe: FrameObserver | None = None,
) -> ClipResult:
    """Enhance the clip ``src`` into ``dst`` (see the module docstring); ``enhance`` runs the
    pipeline on one frame. ``dst``'s suffix picks the container (.mp4, .mov, .m4v, .mkv).
    ``progress``: True for a bar on stderr (frames, fps, time left), or a stream. ``observe`` is
    called with each frame's index, input and output before it is encoded.

    Raises VideoReadError naming ``src`` (not a video, no video stream, an unsupported codec),
    :class:`TruncatedClip` after writing the frames before damage, ValueError for a bad ``codec``,
    ``crf`` or ``dst`` suffix, ImportError without PyAV.
    """
    require_av()
    check_codec(codec, crf)
    src, dst = Path(src), Path(dst)
    suffix = dst.suffix.lower()
    if suffix not in VIDEO_CONTAINERS:
        raise ValueError(f"{dst}: the output's suffix picks its container: expected one of {', '.join(VIDEO_CONTAINERS)}")
    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: the output would overwrite the input")
    start = time.monotonic()
    info = probe(src)
    rule: RatioChoice = SteadyLight(float(info.rate) or 25.0) if isinstance(ratio, str) else ratio
    stream = None if isinstance(progress, bool) else progress
    total = info.frames or round(info.duration * float(info.rate))  # Matroska indexes no frame count
    bar = Progress(total, desc=src.name, unit="frame", stream=stream, enabled=progress is not False)
    run = _Run(info, enhance, rule, bar, observe)
    try:
        with atomic_path(dst) as tmp:
            run.go(tmp, VIDEO_CONTAINERS[suffix], codec, crf)
    finally:
        bar.close()
    result = run.result(dst, ratio, time.monotonic() - start)
    if run.read_error is not None:
        raise TruncatedClip(f"{run.read_error}; the {run.frames} frame(s) before are in {dst}")
    return result


class _Run:
    """The three stages of one clip (see :func:`enhance_video`)."""

    def __init__(self, info: VideoInfo, enhance: EnhanceFrame, rule: RatioChoice, bar: Progress,
                 observe: FrameObserver | None) -> None:
        self.info, self.enhance, self.rule, self.bar, self.observe = info, enhance, rule, bar, observe
        self.stopped = threading.Event()
        self.decoded, self.encoded = _Pipe(self.stopped), _Pipe(self.stopped)
        self.read_error: VideoReadError | None = None
        self.failure: BaseException | None = None  # the first error of the reader or writer threads
        self.frames = 0
        self.steps = FrameSteps()
        self.last_ratio = float("nan")  # the ratio of the last frame (a fixed ratio: every frame's)

    def go(self, tmp: Path, format: str, codec: str, crf: int) -> None:
        with open_video(self.info) as source:  # open until the last copied packet is written
            self._stages(VideoWriter(tmp, format, self.info, source, codec, crf), source)
        if self.failure is not None:
            raise self.failure
        if self.frames == 0:
            raise self.read_error or VideoReadError(f"{self.info.path}: no frame decoded")

    def _stages(self, writer: VideoWriter, source: Any) -> None:
        threads = [threading.Thread(target=self._read, args=(source,), name="kind-video-read", daemon=True),
                   threading.Thread(target=self._write, args=(writer,), name="kind-video-write", daemon=True)]
        for thread in threads:
            thread.start()
        try:
            self._enhance_all()
        except _Stop:
            pass
        except BaseException:
            self.stopped.set()
            raise
        finally:
            for thread in threads:
                thread.join()
            if self.stopped.is_set() or self.failure is not None:
                writer.abort()

    def _read(self, source: Any) -> None:
        items = demux(self.info, source)
        try:
            for item in items:
                self.decoded.put(item)
            self.decoded.put(_END)
        except _Stop:
            pass
        except VideoReadError as error:
            self.read_error = error
            self._put_end(self.decoded)
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            self._fail(error)
        finally:
            items.close()

    def _enhance_all(self) -> None:
        while True:
            item = self.decoded.get()
            if item is _END:
                break
            if isinstance(item, DecodedFrame):
                bounds = self.rule.bounds(item.samples) if isinstance(self.rule, SteadyLight) else None
                output, ratio = self.enhance(item.samples, self.rule, bounds)
                if self.observe is not None:
                    self.observe(item.index, item.samples, output)
                self.last_ratio = ratio
                self.steps.add(item.pts)
                self.encoded.put((output, item.pts))
                self.frames += 1
                self.bar.update()
            else:
                self.encoded.put(item)
        self.encoded.put(_END)

    def _write(self, writer: VideoWriter) -> None:
        try:
            while True:
                item = self.encoded.get()
                if item is _END:
                    break
                if isinstance(item, tuple):
                    writer.frame(*item)
                else:
                    writer.packet(item)
            writer.close()
        except _Stop:
            pass
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        self.stopped.set()

    def _put_end(self, pipe: _Pipe) -> None:
        try:
            pipe.put(_END)
        except _Stop:
            pass

    def result(self, dst: Path, requested: RatioChoice, seconds: float) -> ClipResult:
        rule = self.rule
        if isinstance(rule, SteadyLight):
            ratio, low, high, cuts = rule.mean, rule.low, rule.high, rule.cuts
        else:
            ratio = low = high = self.last_ratio
            cuts = 0
        notices = []
        if self.steps.variable:
            notices.append(f"{self.info.path}: a variable frame rate; each frame keeps its timestamp")
        if self.info.dropped:
            notices.append(f"{self.info.path}: not copied: {', '.join(self.info.dropped)} (only audio and subtitles are)")
        return ClipResult(self.info.path, dst, self.frames, float(self.info.rate), ratio, (low, high), cuts,
                          self.steps.variable, len(self.info.copied), self.info.dropped, seconds, notices)


__all__ = ["ClipResult", "EnhanceFrame", "FrameObserver", "QUEUE_FRAMES", "TruncatedClip", "enhance_video"]
